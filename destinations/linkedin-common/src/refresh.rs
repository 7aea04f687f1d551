//! The OAuth 2 token refresh both destinations make: `POST
//! https://www.linkedin.com/oauth/v2/accessToken` with the refresh token and the OAuth app's
//! credentials, and the reference's reading of the answer. Where the credentials come from is
//! the destination's business (Audiences: `settings.oauth`; Conversions: its settings, else the
//! environment): it checks them with [`require_client_credentials`] and
//! [`require_refresh_token`], in its own order, and passes them in a [`RefreshRequest`].

use actions_core::Error;
use actions_core::error::codes;
use actions_core::oauth::{AuthTokens, RefreshedTokens, Secret};
use actions_core::request::{RequestClient, Response};

use crate::json::{answer_field, scalar_text};

/// The OAuth token endpoint.
pub const TOKEN_URL: &str = "https://www.linkedin.com/oauth/v2/accessToken";
/// The form content type without a charset (what the Conversions reference sets explicitly).
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// The refresh's error when LinkedIn answers `invalid_grant`.
pub const REFRESH_TOKEN_EXPIRED_MESSAGE: &str = "Invalid Authentication: Your refresh token is invalid or expired. Please re-authenticate to fetch a new refresh token.";

/// One token refresh: what the form carries, and its content type.
#[derive(Clone, Copy, Debug)]
pub struct RefreshRequest<'a> {
    /// The refresh token.
    pub refresh_token: &'a Secret,
    /// The OAuth app's client id.
    pub client_id: &'a str,
    /// The OAuth app's client secret.
    pub client_secret: &'a Secret,
    /// `Some` sends this `Content-Type` (Conversions: [`FORM_CONTENT_TYPE`]); `None` keeps the
    /// client's form default `application/x-www-form-urlencoded;charset=UTF-8` (Audiences).
    pub content_type: Option<&'a str>,
}

fn refresh_failed(message: impl Into<String>, status: u16) -> Error {
    Error::integration(message, codes::OAUTH_REFRESH_FAILED, status)
}

/// The refresh token, or the reference's error without one (`OAUTH_REFRESH_FAILED`, 401).
///
/// ```
/// use actions_core::oauth::AuthTokens;
/// let err = linkedin_common::require_refresh_token(&AuthTokens::default()).unwrap_err();
/// assert_eq!(err.status(), Some(401));
/// ```
pub fn require_refresh_token(auth: &AuthTokens) -> Result<&Secret, Error> {
    auth.refresh_token.as_ref().ok_or_else(|| {
        refresh_failed(
            "Missing refresh token. Please re-authenticate to fetch a new refresh token.",
            401,
        )
    })
}

/// The OAuth app's client id and secret, or the reference's error for the first one missing
/// (`Missing client ID` / `Missing client secret`, `OAUTH_REFRESH_FAILED`, 500).
///
/// ```
/// use actions_core::oauth::Secret;
/// let secret = Secret::new("s");
/// let err = linkedin_common::require_client_credentials(None, Some(&secret)).unwrap_err();
/// assert_eq!(err.message(), "Missing client ID");
/// assert_eq!(err.status(), Some(500));
/// ```
pub fn require_client_credentials<'a>(
    client_id: Option<&'a str>,
    client_secret: Option<&'a Secret>,
) -> Result<(&'a str, &'a Secret), Error> {
    let client_id = client_id.ok_or_else(|| refresh_failed("Missing client ID", 500))?;
    let client_secret =
        client_secret.ok_or_else(|| refresh_failed("Missing client secret", 500))?;
    Ok((client_id, client_secret))
}

/// Exchanges the refresh token for a new access token. The form's fields are in the reference's
/// order (`refresh_token`, `client_id`, `client_secret`, `grant_type`). LinkedIn's
/// `invalid_grant` becomes `REFRESH_TOKEN_EXPIRED` (401); any other failure is
/// `OAUTH_REFRESH_FAILED` (401) naming LinkedIn's `error`, else the HTTP failure. Only the new
/// access token is returned (a rotated refresh token is not), as in the reference. No error
/// carries a token or the client secret.
///
/// ```no_run
/// use actions_core::oauth::Secret;
/// use actions_core::request::{HttpClient, RequestClient, RequestOptions};
/// use linkedin_common::{RefreshRequest, refresh_access_token};
/// # async fn demo() -> Result<(), actions_core::Error> {
/// let client = RequestClient::new(HttpClient::new()?, RequestOptions::new());
/// let (refresh_token, secret) = (Secret::new("refresh"), Secret::new("app-secret"));
/// let tokens = refresh_access_token(&client, RefreshRequest {
///     refresh_token: &refresh_token,
///     client_id: "app-id",
///     client_secret: &secret,
///     content_type: None,
/// }).await?;
/// println!("new token of {} characters", tokens.access_token.expose().len());
/// # Ok(()) }
/// ```
pub async fn refresh_access_token(
    client: &RequestClient,
    request: RefreshRequest<'_>,
) -> Result<RefreshedTokens, Error> {
    let mut builder = client.post(TOKEN_URL);
    if let Some(content_type) = request.content_type {
        builder = builder.header("Content-Type", content_type);
    }
    let response = builder
        .form([
            ("refresh_token", request.refresh_token.expose()),
            ("client_id", request.client_id),
            ("client_secret", request.client_secret.expose()),
            ("grant_type", "refresh_token"),
        ])
        .send()
        .await
        .map_err(|e| {
            let reason = e
                .response()
                .and_then(Response::data)
                .and_then(|d| d.get("error"))
                .and_then(scalar_text);
            match reason.as_deref() {
                Some("invalid_grant") => Error::integration(
                    REFRESH_TOKEN_EXPIRED_MESSAGE,
                    codes::REFRESH_TOKEN_EXPIRED,
                    401,
                ),
                Some(reason) => failed_with(reason),
                None => failed_with(e.message()),
            }
        })?;
    let token = answer_field(&response, "access_token")
        .and_then(|t| t.as_str().filter(|t| !t.is_empty()).map(str::to_string))
        .ok_or_else(|| failed_with("the answer did not contain an access token"))?;
    Ok(RefreshedTokens::access(token))
}

fn failed_with(reason: &str) -> Error {
    refresh_failed(
        format!("Failed to fetch a new access token. Reason: {reason}"),
        401,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_missing_credential_is_named() {
        let secret = Secret::new("SECRET-1");
        let err = require_client_credentials(None, None).unwrap_err();
        assert_eq!(err.message(), "Missing client ID");
        assert_eq!(err.code(), Some("OAUTH_REFRESH_FAILED"));
        let err = require_client_credentials(Some("id"), None).unwrap_err();
        assert_eq!(err.message(), "Missing client secret");
        let (id, s) = require_client_credentials(Some("id"), Some(&secret)).unwrap();
        assert_eq!((id, s.expose()), ("id", "SECRET-1"));
    }
}
