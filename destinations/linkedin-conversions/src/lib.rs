//! The **LinkedIn Conversions API** destination (`actions-linkedin-conversions`), a port of
//! Segment's destination of the same name: it streams conversion events to a LinkedIn
//! conversion rule (one at a time or in `BATCH_CREATE` batches with a result per event), creates
//! and updates the rule when a mapping is saved, and lists ad accounts, rules and campaigns for
//! the UI.
//!
//! * [`LinkedInConversions`] — the destination: OAuth 2 (token refresh with the client id and
//!   secret from the settings or the environment), test authentication, and the headers every
//!   request carries (`LinkedIn-Version`, `X-Restli-Protocol-Version: 2.0.0`, the bearer token)
//!   plus LinkedIn's token-propagation hook (`serviceErrorCode` 65601/65602 → refresh, retry
//!   later).
//! * [`actions::stream_conversion`] — the `streamConversion` action, its `onMappingSave` hook and
//!   dynamic fields.
//! * [`api`] — every request on the wire and nothing else; [`timestamp`] — the conversion-time
//!   rules; [`settings`] — the settings.
//!
//! ```
//! use actions_core::prelude::*;
//! use linkedin_conversions::LinkedInConversions;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let runtime = DestinationRuntime::new(LinkedInConversions::new())?;
//! assert_eq!(runtime.definition().slug, "actions-linkedin-conversions");
//! let keys: Vec<_> = runtime.actions().map(|(d, _)| d.key.clone()).collect();
//! assert_eq!(keys, ["streamConversion"]);
//!
//! // An event the subscription does not match never reaches LinkedIn.
//! let settings = json!({
//!     "oauth": {"access_token": "token", "refresh_token": "refresh"},
//!     "subscription": {"partnerAction": "streamConversion", "subscribe": "type = \"track\"",
//!                      "mapping": {"conversionHappenedAt": {"@path": "$.timestamp"}}}
//! });
//! let event = json!({"type": "identify", "userId": "u1"});
//! let results = runtime.on_event(&event, &settings, &EventOptions::default()).await?;
//! assert_eq!(results[0].output.as_deref(), Some("not subscribed"));
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod actions;
pub mod api;
pub mod settings;
pub mod timestamp;

use std::sync::Arc;

use actions_core::prelude::*;
use linkedin_common::{ApiVersions, FORM_CONTENT_TYPE, RESTLI_PROTOCOL_VERSION, RefreshRequest};

pub use actions::stream_conversion::{StreamConversion, StreamConversionPayload};
pub use settings::Settings;

use crate::api::ConversionsApi;
use crate::settings::{CLIENT_ID_ENV, CLIENT_SECRET_ENV};

/// The destination's name.
pub const NAME: &str = "LinkedIn Conversions API";
/// The destination's slug.
pub const SLUG: &str = "actions-linkedin-conversions";
/// The LinkedIn API versions: `202603` by default and when the feature flag
/// `linkedin-conversions-canary-version` is on (the same version today).
///
/// ```
/// use actions_core::context::Features;
/// assert_eq!(linkedin_conversions::API_VERSIONS.select(&Features::new()), "202603");
/// ```
pub const API_VERSIONS: ApiVersions = ApiVersions {
    stable: "202603",
    canary: "202603",
    canary_feature: "linkedin-conversions-canary-version",
};

/// The LinkedIn Conversions API destination. See the crate docs.
///
/// Every request made through its client carries the LinkedIn headers, and the bearer token only
/// when there is one:
///
/// ```
/// use actions_core::prelude::*;
/// use actions_core::oauth::AuthTokens;
/// use linkedin_conversions::LinkedInConversions;
///
/// let destination = LinkedInConversions::new();
/// let features = Features::new();
/// let auth = AuthTokens { access_token: Some("token".into()), ..AuthTokens::default() };
/// let layer = destination.extend_request(&RequestContext { settings: None, auth: &auth, features: &features });
/// assert_eq!(layer.headers().get("authorization"), Some("Bearer token"));
/// assert_eq!(layer.headers().get("linkedin-version"), Some("202603"));
/// assert_eq!(layer.headers().get("x-restli-protocol-version"), Some("2.0.0"));
///
/// let none = AuthTokens::default();
/// let layer = destination.extend_request(&RequestContext { settings: None, auth: &none, features: &features });
/// assert_eq!(layer.headers().get("authorization"), None);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkedInConversions;

impl LinkedInConversions {
    /// The destination.
    pub fn new() -> Self {
        LinkedInConversions
    }
}

/// A credential from the settings when set there, else from the environment; empty counts as
/// unset.
fn credential(
    setting: Option<&Secret>,
    env: &dyn actions_core::context::Env,
    name: &str,
) -> Option<Secret> {
    setting
        .cloned()
        .or_else(|| env.var(name).filter(|v| !v.is_empty()).map(Secret::new))
}

#[async_trait]
impl Destination for LinkedInConversions {
    type Settings = Settings;

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new(NAME, SLUG, AuthScheme::OAuth2).description(
            "Send conversion events to LinkedIn's Conversions API to measure and optimise the \
             campaigns they are attributed to.",
        )
    }

    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![Arc::new(StreamConversion)]
    }

    /// `authorization: Bearer <token>` (only when there is a token: never `Bearer undefined`),
    /// `LinkedIn-Version`, `X-Restli-Protocol-Version: 2.0.0`, and the token-propagation hook, on
    /// every request (actions, hooks, dynamic fields, test authentication, token refresh).
    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        linkedin_common::request_options(ctx.auth, ctx.features, &API_VERSIONS)
            .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL_VERSION)
    }

    async fn test_authentication(
        &self,
        client: &RequestClient,
        ctx: AuthContext<'_, Settings>,
    ) -> Result<(), Error> {
        linkedin_common::require_access_token(
            ctx.auth,
            "Please authenticate via Oauth before enabling the destination.",
        )?;
        match ConversionsApi::new(client).get_profile().await {
            Ok(_) => Ok(()),
            Err(e) if e.message() == "Unauthorized" => Err(Error::plain(
                "Invalid LinkedIn Oauth access token. Please reauthenticate to retrieve a valid access token before enabling the destination.",
            )),
            Err(e) => Err(e),
        }
    }

    async fn refresh_access_token(
        &self,
        client: &RequestClient,
        ctx: AuthContext<'_, Settings>,
    ) -> Result<Option<RefreshedTokens>, Error> {
        // The reference checks the app's credentials first, then the refresh token.
        let env = ctx.services.env.as_ref();
        let client_id = credential(ctx.settings.client_id.as_ref(), env, CLIENT_ID_ENV);
        let client_secret = credential(ctx.settings.client_secret.as_ref(), env, CLIENT_SECRET_ENV);
        let (client_id, client_secret) = linkedin_common::require_client_credentials(
            client_id.as_ref().map(Secret::expose),
            client_secret.as_ref(),
        )?;
        let request = RefreshRequest {
            refresh_token: linkedin_common::require_refresh_token(ctx.auth)?,
            client_id,
            client_secret,
            content_type: Some(FORM_CONTENT_TYPE),
        };
        linkedin_common::refresh_access_token(client, request)
            .await
            .map(Some)
    }
}
