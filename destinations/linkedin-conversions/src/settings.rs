//! The destination's settings.
//!
//! The reference has no settings at all: the OAuth tokens arrive in `settings.oauth` (the runtime
//! takes them out before validation) and the OAuth application's client id and secret come from
//! the environment (`ACTIONS_LINKEDIN_CONVERSIONS_CLIENT_ID` / `_SECRET`). This port adds two
//! optional password-type settings that, when filled in, take precedence over the environment —
//! for deployments that run more than one LinkedIn app. Both are [`Secret`]s: they never appear in
//! `Debug` output, errors or logs.

use actions_core::prelude::*;
use serde::Deserialize;

/// The environment variable holding the OAuth client id.
pub const CLIENT_ID_ENV: &str = "ACTIONS_LINKEDIN_CONVERSIONS_CLIENT_ID";
/// The environment variable holding the OAuth client secret.
pub const CLIENT_SECRET_ENV: &str = "ACTIONS_LINKEDIN_CONVERSIONS_CLIENT_SECRET";

/// Settings of the LinkedIn Conversions API destination.
///
/// ```
/// use linkedin_conversions::Settings;
///
/// let settings: Settings = serde_json::from_value(serde_json::json!({
///     "client_id": "my-app", "client_secret": "s3cr3t"
/// })).unwrap();
/// assert!(settings.client_secret.is_some());
/// assert!(!format!("{settings:?}").contains("s3cr3t"));
/// let empty: Settings = serde_json::from_value(serde_json::json!({"client_id": ""})).unwrap();
/// assert!(empty.client_id.is_none());
/// ```
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
pub struct Settings {
    /// The client ID of your LinkedIn OAuth application, used to refresh access tokens. Leave it empty to use the one the platform is configured with.
    #[serde(default, deserialize_with = "Secret::deserialize_non_empty")]
    #[schemars(
        title = "OAuth Client ID (optional)",
        with = "Option<String>",
        extend("x-field" = {"type": "password"})
    )]
    pub client_id: Option<Secret>,
    /// The client secret of your LinkedIn OAuth application, used to refresh access tokens. Leave it empty to use the one the platform is configured with.
    #[serde(default, deserialize_with = "Secret::deserialize_non_empty")]
    #[schemars(
        title = "OAuth Client Secret (optional)",
        with = "Option<String>",
        extend("x-field" = {"type": "password"})
    )]
    pub client_secret: Option<Secret>,
}
