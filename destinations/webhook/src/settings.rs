//! The destination's settings: the reference's one setting, the shared secret that signs
//! request bodies.

use actions_core::prelude::*;
use serde::Deserialize;

/// Settings of the Webhook destination.
///
/// The shared secret is a [`Secret`]: it never appears in `Debug` output, errors or logs. An
/// empty string counts as not set (the reference signs only when the secret is truthy).
///
/// ```
/// use webhook::Settings;
///
/// let settings: Settings = serde_json::from_value(serde_json::json!({"sharedSecret": "s3cr3t"})).unwrap();
/// assert_eq!(settings.shared_secret.as_ref().map(|s| s.expose()), Some("s3cr3t"));
/// assert!(!format!("{settings:?}").contains("s3cr3t"));
/// let empty: Settings = serde_json::from_value(serde_json::json!({"sharedSecret": ""})).unwrap();
/// assert!(empty.shared_secret.is_none());
/// ```
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
pub struct Settings {
    /// If set, Segment will sign requests with an HMAC in the "X-Signature" request header. The HMAC is a hex-encoded SHA1 hash generated using this shared secret and the request body.
    #[serde(
        rename = "sharedSecret",
        default,
        deserialize_with = "Secret::deserialize_non_empty"
    )]
    #[schemars(
        title = "Shared Secret",
        with = "Option<String>",
        extend("x-field" = {"type": "password"})
    )]
    pub shared_secret: Option<Secret>,
}
