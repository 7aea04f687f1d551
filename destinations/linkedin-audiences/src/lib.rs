//! The **LinkedIn Audiences** destination (`actions-linkedin-audiences`): syncs Engage
//! audiences of people ([`UpdateAudience`]) and companies ([`UpdateCompanyAudience`]) to
//! LinkedIn DMP segments, wire-compatible with Segment's "Linkedin Audiences" destination.
//!
//! Authentication is OAuth 2 (`oauth` in the settings: access and refresh token, and the OAuth
//! app's client id and secret used for the refresh). Every request carries the access token and
//! `LinkedIn-Version`, and goes through the shared LinkedIn token-propagation hook
//! ([`linkedin_common::token_propagation_hook`]). See the crate README for every deviation from
//! the reference.
//!
//! ```no_run
//! use actions_core::prelude::*;
//! use linkedin_audiences::LinkedInAudiences;
//!
//! # async fn demo() -> Result<(), Error> {
//! let runtime = DestinationRuntime::new(LinkedInAudiences::new())?;
//! let settings = json!({
//!     "ad_account_id": "512345678",
//!     "send_email": true,
//!     "send_google_advertising_id": true,
//!     "oauth": {"access_token": "…", "refresh_token": "…", "clientId": "…", "clientSecret": "…"},
//!     "subscription": {
//!         "partnerAction": "updateAudience",
//!         "subscribe": "event = \"Audience Entered\" or event = \"Audience Exited\"",
//!         "mapping": {"personas_audience_key": {"@path": "$.properties.audience_key"},
//!                     "source_segment_id": {"@path": "$.properties.audience_key"},
//!                     "email": {"@path": "$.context.traits.email"},
//!                     "event_name": {"@path": "$.event"}}
//!     }
//! });
//! let event = json!({"type": "track", "event": "Audience Entered",
//!     "properties": {"audience_key": "vip_users"},
//!     "context": {"traits": {"email": "jane@example.com"}}});
//! runtime.on_event(&event, &settings, &EventOptions::default()).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

use std::sync::Arc;

use actions_core::prelude::*;
use linkedin_common::{RefreshRequest, answer_field, id_text};

pub mod actions;
pub mod api;
pub mod settings;

pub use actions::update_audience::UpdateAudience;
pub use actions::update_company_audience::UpdateCompanyAudience;
pub use linkedin_common::REFRESH_TOKEN_EXPIRED_MESSAGE;
pub use settings::Settings;

/// The destination's name (it must equal the name the destination was created with).
pub const NAME: &str = "Linkedin Audiences";
/// The destination's slug.
pub const SLUG: &str = "actions-linkedin-audiences";

/// `testAuthentication` without an access token.
pub const NO_TOKEN_MESSAGE: &str =
    "Please authenticate via Oauth before updating other settings and/or enabling the destination.";
/// `testAuthentication` when `/rest/me` answers 401.
pub const INVALID_TOKEN_MESSAGE: &str = "Invalid LinkedIn Oauth access token. Please reauthenticate to retrieve a valid access token before updating other settings and/or enabling the destination.";
/// `testAuthentication` when the ad account is unknown.
pub const INVALID_AD_ACCOUNT_MESSAGE: &str = "Invalid LinkedIn Ad Account id. Please verify that the LinkedIn Ad Account exists and that you have access to it.";
/// `testAuthentication` when the member is only a Viewer of the ad account.
pub const VIEWER_ROLE_MESSAGE: &str = "Access to the provided Ad Account with a role other than Viewer is required. Please reach out to a LinkedIn Ad Account Admin on your team to grant proper access.";

/// The LinkedIn Audiences destination.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkedInAudiences;

impl LinkedInAudiences {
    /// The destination.
    pub fn new() -> Self {
        LinkedInAudiences
    }
}

/// Whether `e` is the reference's `HTTPError` with this status text (`Unauthorized`, …).
fn is_http_error(e: &Error, status_text: &str) -> bool {
    e.class() == ErrorClass::Http && e.message() == status_text
}

#[async_trait]
impl Destination for LinkedInAudiences {
    type Settings = Settings;

    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new(NAME, SLUG, AuthScheme::OAuth2).description(
            "Sync Segment Engage audiences of people and companies to LinkedIn DMP segments.",
        )
    }

    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![Arc::new(UpdateAudience), Arc::new(UpdateCompanyAudience)]
    }

    /// `authorization: Bearer <token>` (only when there is a token: never `Bearer undefined`),
    /// `linkedin-version`, and the token-propagation hook
    /// ([`linkedin_common::request_options`]).
    fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
        linkedin_common::request_options(ctx.auth, ctx.features, &api::API_VERSIONS)
    }

    async fn test_authentication(
        &self,
        client: &RequestClient,
        ctx: AuthContext<'_, Settings>,
    ) -> Result<(), Error> {
        linkedin_common::require_access_token(ctx.auth, NO_TOKEN_MESSAGE)?;
        if !ctx.settings.send_email && !ctx.settings.send_google_advertising_id {
            return Err(Error::plain(actions::update_audience::SEND_FLAGS_MESSAGE));
        }
        let me = client.get(api::me_url()).send().await.map_err(|e| {
            if is_http_error(&e, "Unauthorized") {
                Error::plain(INVALID_TOKEN_MESSAGE)
            } else {
                e
            }
        })?;
        // The reference would ask for `user=urn:li:person:undefined` without an id.
        let person_id = answer_field(&me, "id")
            .as_ref()
            .and_then(id_text)
            .ok_or_else(|| {
                Error::plain("LinkedIn's profile answer (/rest/me) did not contain the member id.")
            })?;
        let user = client
            .get(api::ad_account_user_url(
                &ctx.settings.ad_account_id,
                &person_id,
            ))
            .send()
            .await
            .map_err(|e| {
                if is_http_error(&e, "Not Found") {
                    Error::plain(INVALID_AD_ACCOUNT_MESSAGE)
                } else {
                    e
                }
            })?;
        if answer_field(&user, "role").as_ref().and_then(Value::as_str) == Some("VIEWER") {
            return Err(Error::plain(VIEWER_ROLE_MESSAGE));
        }
        Ok(())
    }

    /// `POST https://www.linkedin.com/oauth/v2/accessToken` with the refresh token and the OAuth
    /// app's credentials (`oauth.clientId` / `oauth.clientSecret`); returns only the new access
    /// token, as the reference does ([`linkedin_common::refresh_access_token`]).
    async fn refresh_access_token(
        &self,
        client: &RequestClient,
        ctx: AuthContext<'_, Settings>,
    ) -> Result<Option<RefreshedTokens>, Error> {
        // The reference would send the text `undefined` for each missing value.
        let refresh_token = linkedin_common::require_refresh_token(ctx.auth)?;
        let (client_id, client_secret) = linkedin_common::require_client_credentials(
            ctx.auth.client_id.as_deref(),
            ctx.auth.client_secret.as_ref(),
        )?;
        let request = RefreshRequest {
            refresh_token,
            client_id,
            client_secret,
            content_type: None,
        };
        linkedin_common::refresh_access_token(client, request)
            .await
            .map(Some)
    }
}
