//! The destination's settings (the settings schema is derived from [`Settings`]).

use schemars::JsonSchema;
use serde::Deserialize;

/// The settings of a LinkedIn Audiences destination instance. The OAuth tokens live next to
/// them under `oauth` and reach the destination as [`AuthTokens`](actions_core::oauth::AuthTokens).
///
/// ```
/// use actions_core::fields::fields_of;
/// use linkedin_audiences::Settings;
///
/// let fields = fields_of::<Settings>().unwrap();
/// let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
/// assert_eq!(keys, ["ad_account_id", "send_email", "send_google_advertising_id"]);
/// assert!(fields.values().all(|f| f.is_required()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
pub struct Settings {
    /// The id of the LinkedIn Ad Account the DMP segments belong to (the number in
    /// `urn:li:sponsoredAccount:<id>`). The authenticated member needs a role other than Viewer
    /// on it.
    #[schemars(title = "LinkedIn Ad Account Id")]
    pub ad_account_id: String,
    /// Whether users' email addresses are sent to LinkedIn, as SHA-256 hashes, to match them.
    #[schemars(title = "Send Email", extend("x-field" = {"default": true}))]
    pub send_email: bool,
    /// Whether users' Google advertising ids (Android device ids) are sent to LinkedIn to match
    /// them.
    #[schemars(
        title = "Send Google Advertising ID",
        extend("x-field" = {"default": true})
    )]
    pub send_google_advertising_id: bool,
}
