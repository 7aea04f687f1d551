//! What every LinkedIn request carries: the bearer token (only when there is one), the
//! `LinkedIn-Version` chosen by feature flag, and the token-propagation hook.

use actions_core::Error;
use actions_core::context::Features;
use actions_core::oauth::AuthTokens;
use actions_core::request::RequestOptions;

use crate::propagation::SHARED_HOOK;

/// The `X-Restli-Protocol-Version` LinkedIn's Rest.li 2.0 endpoints need.
pub const RESTLI_PROTOCOL_VERSION: &str = "2.0.0";

/// A destination's `LinkedIn-Version`s: the stable one and the one its canary feature flag
/// selects.
///
/// ```
/// use actions_core::context::Features;
/// use linkedin_common::ApiVersions;
///
/// const VERSIONS: ApiVersions = ApiVersions { stable: "202604", canary: "202605", canary_feature: "canary" };
/// let mut features = Features::new();
/// assert_eq!(VERSIONS.select(&features), "202604");
/// features.set("canary", true);
/// assert_eq!(VERSIONS.select(&features), "202605");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiVersions {
    /// Sent by default.
    pub stable: &'static str,
    /// Sent when [`ApiVersions::canary_feature`] is on.
    pub canary: &'static str,
    /// The feature flag that selects [`ApiVersions::canary`].
    pub canary_feature: &'static str,
}

impl ApiVersions {
    /// The version for these feature flags.
    pub fn select(&self, features: &Features) -> &'static str {
        if features.enabled(self.canary_feature) {
            self.canary
        } else {
            self.stable
        }
    }
}

/// The request options both destinations return from `extend_request`: `authorization: Bearer
/// <token>` only when there is a token (never `Bearer undefined`), the `LinkedIn-Version` these
/// feature flags select, and the shared token-propagation hook. A destination adds its own
/// headers on top.
///
/// ```
/// use actions_core::context::Features;
/// use actions_core::oauth::{AuthTokens, Secret};
/// use linkedin_common::ApiVersions;
///
/// const VERSIONS: ApiVersions = ApiVersions { stable: "202604", canary: "202605", canary_feature: "canary" };
/// let auth = AuthTokens { access_token: Some(Secret::new("token")), ..AuthTokens::default() };
/// let options = linkedin_common::request_options(&auth, &Features::new(), &VERSIONS);
/// assert_eq!(options.headers().get("authorization"), Some("Bearer token"));
/// assert_eq!(options.headers().get("linkedin-version"), Some("202604"));
/// let anonymous = linkedin_common::request_options(&AuthTokens::default(), &Features::new(), &VERSIONS);
/// assert_eq!(anonymous.headers().get("authorization"), None);
/// ```
pub fn request_options(
    auth: &AuthTokens,
    features: &Features,
    versions: &ApiVersions,
) -> RequestOptions {
    let mut options = RequestOptions::new();
    if let Some(token) = auth.access_token() {
        options = options.header("authorization", format!("Bearer {token}"));
    }
    options
        .header("LinkedIn-Version", versions.select(features))
        .after_response(SHARED_HOOK.clone())
}

/// The access token, or an `InvalidAuthentication` error (401) with `message` when there is
/// none: nothing is sent without a token (the reference would send `Bearer undefined`).
///
/// ```
/// use actions_core::oauth::AuthTokens;
/// let err = linkedin_common::require_access_token(&AuthTokens::default(), "Please authenticate.")
///     .unwrap_err();
/// assert_eq!(err.class(), actions_core::ErrorClass::InvalidAuthentication);
/// ```
pub fn require_access_token<'a>(auth: &'a AuthTokens, message: &str) -> Result<&'a str, Error> {
    auth.access_token()
        .ok_or_else(|| Error::invalid_authentication(message))
}
