//! LinkedIn's "token not valid (yet)" answers: a 401 with `serviceErrorCode` 65601 or 65602
//! becomes [`Error::token_propagation`], so the framework refreshes the token and retries later
//! instead of burning a second attempt on a token that has not propagated.

use std::sync::{Arc, LazyLock};

use actions_core::Error;
use actions_core::request::AfterResponseHook;
use serde_json::Value;

/// LinkedIn's "revoked (or not yet propagated) access token" service error code.
pub const REVOKED_ACCESS_TOKEN: i64 = 65601;
/// LinkedIn's "expired access token" service error code.
pub const EXPIRED_ACCESS_TOKEN: i64 = 65602;

/// The hook [`crate::request_options`] installs, built once for every client of both
/// destinations.
pub(crate) static SHARED_HOOK: LazyLock<AfterResponseHook> = LazyLock::new(token_propagation_hook);

/// The `serviceErrorCode` that marks a response as a token-propagation failure: a 401 whose body
/// parses as a JSON object with `serviceErrorCode` 65601 or 65602 (whatever the content type).
/// Anything else — other codes, non-JSON or empty bodies, other statuses — is `None`.
///
/// ```
/// use linkedin_common::token_propagation_code;
/// assert_eq!(token_propagation_code(401, r#"{"serviceErrorCode":65602}"#), Some(65602));
/// assert_eq!(token_propagation_code(403, r#"{"serviceErrorCode":65602}"#), None);
/// ```
pub fn token_propagation_code(status: u16, body: &str) -> Option<i64> {
    if status != 401 {
        return None;
    }
    let v: Value = serde_json::from_str(body).ok()?;
    let code = v.as_object()?.get("serviceErrorCode")?.as_i64()?;
    matches!(code, REVOKED_ACCESS_TOKEN | EXPIRED_ACCESS_TOKEN).then_some(code)
}

/// The after-response hook both LinkedIn destinations register in `extend_request` (through
/// [`crate::request_options`]), so it applies to every request made through their client
/// (actions, batches, hooks, dynamic fields, test authentication, token refresh). It runs before
/// non-2xx responses become errors and before destination code sees the response. The error
/// names the code, never the token.
///
/// ```
/// use actions_core::request::{PreparedRequest, Response};
/// let hook = linkedin_common::token_propagation_hook();
/// let req = PreparedRequest { method: "GET".into(), url: "https://api.linkedin.com/rest/me".into(), headers: vec![], body: None };
/// let resp = Response::new(401, "https://api.linkedin.com/rest/me", vec![],
///     r#"{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN"}"#);
/// let err = hook(&req, &resp).unwrap_err();
/// assert_eq!(err.class(), actions_core::ErrorClass::TokenPropagationRetry);
/// assert!(err.message().contains("65601"));
/// ```
pub fn token_propagation_hook() -> AfterResponseHook {
    Arc::new(|_request, response| {
        match token_propagation_code(response.status(), response.content()) {
            Some(code) => Err(Error::token_propagation(format!(
                "LinkedIn rejected the access token (serviceErrorCode {code}); it may not have propagated yet."
            ))),
            None => Ok(None),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actions_core::ErrorClass;
    use actions_core::request::{PreparedRequest, Response};

    fn run(status: u16, body: &str) -> Result<(), Error> {
        let req = PreparedRequest {
            method: "POST".into(),
            url: "https://api.linkedin.com/rest/x".into(),
            headers: vec![("authorization".into(), "Bearer TOKEN-XYZ".into())],
            body: None,
        };
        let resp = Response::new(status, "u", vec![], body);
        token_propagation_hook()(&req, &resp).map(|_| ())
    }

    #[test]
    fn matches_only_401_with_65601_or_65602() {
        for code in [65601, 65602] {
            let e = run(
                401,
                &format!(r#"{{"serviceErrorCode":{code},"status":401}}"#),
            )
            .unwrap_err();
            assert_eq!(e.class(), ErrorClass::TokenPropagationRetry);
            assert!(e.message().contains(&code.to_string()));
            assert!(!e.message().contains("TOKEN-XYZ"));
        }
        assert!(run(401, r#"{"serviceErrorCode":65600}"#).is_ok());
        assert!(
            run(
                401,
                r#"{"serviceErrorCode":401,"message":"Empty oauth2_access_token"}"#
            )
            .is_ok()
        );
        assert!(run(401, "").is_ok());
        assert!(run(401, "Unauthorized").is_ok());
        assert!(run(401, r#"{"message":"Unauthorized","status":401}"#).is_ok());
        assert!(run(401, r#"[65601]"#).is_ok());
        assert!(run(403, r#"{"serviceErrorCode":65601}"#).is_ok());
        assert!(run(200, r#"{"serviceErrorCode":65601}"#).is_ok());
    }
}
