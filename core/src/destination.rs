//! Destinations: the [`Destination`] trait (name, slug, authentication scheme and settings,
//! `extend_request`, `test_authentication`, `refresh_access_token`, presets, actions, audience
//! support) and the type-erased [`DynAction`] the runtime drives.
//!
//! ```
//! use std::sync::Arc;
//! use actions_core::prelude::*;
//! use serde::Deserialize;
//!
//! /// Settings of the example destination.
//! #[derive(Deserialize, JsonSchema)]
//! struct Settings {
//!     /// The API key.
//!     #[schemars(title = "API Key", extend("x-field" = {"type": "password"}))]
//!     api_key: String,
//! }
//!
//! struct Example;
//!
//! #[async_trait]
//! impl Destination for Example {
//!     type Settings = Settings;
//!     fn definition(&self) -> DestinationDefinition {
//!         DestinationDefinition::new("Example", "actions-example", AuthScheme::Custom)
//!     }
//!     fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
//!         Vec::new()
//!     }
//!     fn extend_request(&self, ctx: &RequestContext<'_, Settings>) -> RequestOptions {
//!         match ctx.settings {
//!             Some(s) => RequestOptions::new().header("x-api-key", s.api_key.clone()),
//!             None => RequestOptions::new(),
//!         }
//!     }
//! }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::action::{
    Action, ActionDefinition, ActionHookDefinition, BatchResponse, DynamicFieldInput,
    DynamicFieldResponse, ExecuteInput, HookInput, HookResult,
};
use crate::context::Features;
use crate::error::Error;
use crate::fields::{Fields, fields_of};
use crate::oauth::{AuthTokens, RefreshedTokens};
use crate::request::{RequestClient, RequestOptions};

/// The authentication scheme of a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthScheme {
    /// API-key style; the destination adds headers in `extend_request`.
    Custom,
    /// Username/password via `extend_request`'s basic auth.
    Basic,
    /// OAuth 2 with `refresh_access_token`.
    OAuth2,
    /// Partner-managed OAuth; treated as [`AuthScheme::OAuth2`] at run time.
    OAuthManaged,
}

impl AuthScheme {
    /// The reference's name (`custom`, `basic`, `oauth2`, `oauth-managed`).
    pub fn name(self) -> &'static str {
        match self {
            AuthScheme::Custom => "custom",
            AuthScheme::Basic => "basic",
            AuthScheme::OAuth2 => "oauth2",
            AuthScheme::OAuthManaged => "oauth-managed",
        }
    }

    /// Whether 401s trigger a token refresh.
    pub fn is_oauth(self) -> bool {
        matches!(self, AuthScheme::OAuth2 | AuthScheme::OAuthManaged)
    }
}

/// A quick-setup subscription.
#[derive(Clone, Debug, PartialEq)]
pub enum Preset {
    /// Created automatically for non-Engage sources.
    Automatic {
        /// Name.
        name: String,
        /// The action key.
        partner_action: String,
        /// FQL.
        subscribe: String,
        /// The mapping (defaults of the fields when `None`).
        mapping: Option<Value>,
    },
    /// Triggered by a specific Engage event.
    SpecificEvent {
        /// Name.
        name: String,
        /// The action key.
        partner_action: String,
        /// The mapping.
        mapping: Option<Value>,
        /// The event slug (`warehouse_audience_entered_track`, …).
        event_slug: String,
    },
}

impl Preset {
    /// The action key the preset uses.
    pub fn partner_action(&self) -> &str {
        match self {
            Preset::Automatic { partner_action, .. }
            | Preset::SpecificEvent { partner_action, .. } => partner_action,
        }
    }
}

/// Audience sync style of an audience destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AudienceMode {
    /// Real-time membership changes.
    Realtime,
    /// Synced; `full_audience_sync` sends the whole audience instead of deltas.
    Synced {
        /// Whether the whole audience is sent.
        full_audience_sync: bool,
    },
}

/// A destination's metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationDefinition {
    /// Display name (also used in schema error messages and manifests).
    pub name: String,
    /// Unique slug (`actions-<name>`).
    pub slug: String,
    /// Markdown description.
    pub description: String,
    /// `cloud`.
    pub mode: String,
    /// The authentication scheme.
    pub scheme: AuthScheme,
    /// Quick-setup subscriptions.
    pub presets: Vec<Preset>,
    /// Audience support.
    pub audience_mode: Option<AudienceMode>,
    /// The request header through which the destination's API recognises a repeated request
    /// (for example `Idempotency-Key`): the destination sends it on every request, with the
    /// same value on every attempt of the same logical request, so a delivery runtime may retry
    /// after a timeout or a 5xx without risking a duplicate at the partner. `None` (the
    /// default): the API makes no such promise. Set it with
    /// [`DestinationDefinition::idempotency_key_header`].
    pub idempotency_key_header: Option<String>,
}

impl DestinationDefinition {
    /// A cloud destination.
    pub fn new(name: &str, slug: &str, scheme: AuthScheme) -> Self {
        DestinationDefinition {
            name: name.to_string(),
            slug: slug.to_string(),
            description: String::new(),
            mode: "cloud".to_string(),
            scheme,
            presets: Vec::new(),
            audience_mode: None,
            idempotency_key_header: None,
        }
    }

    /// Sets the description.
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_string();
        self
    }

    /// Adds a preset.
    pub fn preset(mut self, preset: Preset) -> Self {
        self.presets.push(preset);
        self
    }

    /// Declares that the destination's API honours an idempotency-key header named `header`
    /// (see [`DestinationDefinition::idempotency_key_header`](Self#structfield.idempotency_key_header)):
    /// every request carries it, identical on every attempt of the same logical request.
    ///
    /// ```
    /// use actions_core::{AuthScheme, DestinationDefinition};
    ///
    /// let webhook = DestinationDefinition::new("Webhook", "actions-webhook", AuthScheme::Custom)
    ///     .idempotency_key_header("Idempotency-Key");
    /// assert_eq!(webhook.idempotency_key_header.as_deref(), Some("Idempotency-Key"));
    ///
    /// let other = DestinationDefinition::new("Other", "actions-other", AuthScheme::Custom);
    /// assert_eq!(other.idempotency_key_header, None);
    /// ```
    pub fn idempotency_key_header(mut self, header: &str) -> Self {
        self.idempotency_key_header = Some(header.to_string());
        self
    }
}

/// What `extend_request` sees: settings (absent when they could not be validated, e.g. for a
/// token refresh before settings exist), the auth tokens of the attempt and the feature flags.
pub struct RequestContext<'a, S> {
    /// Validated settings.
    pub settings: Option<&'a S>,
    /// The tokens of this attempt (empty for the token refresh request itself).
    pub auth: &'a AuthTokens,
    /// Feature flags.
    pub features: &'a Features,
}

/// What `test_authentication` and `refresh_access_token` see.
pub struct AuthContext<'a, S> {
    /// Validated settings.
    pub settings: &'a S,
    /// Tokens and OAuth client credentials.
    pub auth: &'a AuthTokens,
    /// Services (env for client credentials, clock, …).
    pub services: &'a crate::action::Services,
}

/// What `create_audience` receives.
pub struct CreateAudienceInput<'a, S> {
    /// Validated settings.
    pub settings: &'a S,
    /// Validated per-audience settings.
    pub audience_settings: &'a Value,
    /// The audience's name.
    pub audience_name: &'a str,
    /// The Engage context (`personas`), if any.
    pub personas: Option<&'a Value>,
    /// Tokens.
    pub auth: &'a AuthTokens,
    /// Services.
    pub services: &'a crate::action::Services,
}

/// What `get_audience` receives.
pub struct GetAudienceInput<'a, S> {
    /// Validated settings.
    pub settings: &'a S,
    /// Validated per-audience settings.
    pub audience_settings: &'a Value,
    /// The partner's id of the audience.
    pub external_id: &'a str,
    /// Tokens.
    pub auth: &'a AuthTokens,
    /// Services.
    pub services: &'a crate::action::Services,
}

/// What `on_delete` (GDPR deletion) receives.
pub struct DeleteInput<'a, S> {
    /// Validated settings.
    pub settings: &'a S,
    /// The user id of the event.
    pub user_id: Option<&'a str>,
    /// The anonymous id of the event.
    pub anonymous_id: Option<&'a str>,
    /// Tokens.
    pub auth: &'a AuthTokens,
    /// Services.
    pub services: &'a crate::action::Services,
}

/// Settings for a destination that declares none.
#[derive(Clone, Copy, Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct NoSettings {}

/// A destination. See the module docs for an example.
#[async_trait]
pub trait Destination: Send + Sync + 'static {
    /// The typed settings; their fields (the settings schema) are derived from the type.
    type Settings: DeserializeOwned + schemars::JsonSchema + Send + Sync + 'static;

    /// Name, slug, scheme, presets.
    fn definition(&self) -> DestinationDefinition;

    /// The actions.
    fn actions(&self) -> Vec<Arc<dyn DynAction<Self::Settings>>>;

    /// The settings fields (derived from [`Destination::Settings`]).
    fn settings_fields(&self) -> Result<Fields, Error> {
        fields_of::<Self::Settings>()
            .map_err(|e| Error::plain(format!("the settings fields could not be derived: {e}")))
    }

    /// Default request options for every request made for this destination (actions, hooks,
    /// dynamic fields, test authentication, token refresh).
    fn extend_request(&self, _ctx: &RequestContext<'_, Self::Settings>) -> RequestOptions {
        RequestOptions::new()
    }

    /// "Test connection".
    async fn test_authentication(
        &self,
        _client: &RequestClient,
        _ctx: AuthContext<'_, Self::Settings>,
    ) -> Result<(), Error> {
        Ok(())
    }

    /// Refreshes an OAuth access token; `Ok(None)` when the destination cannot.
    async fn refresh_access_token(
        &self,
        _client: &RequestClient,
        _ctx: AuthContext<'_, Self::Settings>,
    ) -> Result<Option<RefreshedTokens>, Error> {
        Ok(None)
    }

    /// Per-audience settings fields of an audience destination (validated when non-empty).
    fn audience_fields(&self) -> Fields {
        Fields::new()
    }

    /// Creates an audience at the partner and returns its id (`externalId`); `Ok(None)` when
    /// the destination does not manage audiences.
    async fn create_audience(
        &self,
        _client: &RequestClient,
        _input: CreateAudienceInput<'_, Self::Settings>,
    ) -> Result<Option<String>, Error> {
        Ok(None)
    }

    /// Reads an audience at the partner and returns its id; `Ok(None)` when the destination
    /// does not manage audiences.
    async fn get_audience(
        &self,
        _client: &RequestClient,
        _input: GetAudienceInput<'_, Self::Settings>,
    ) -> Result<Option<String>, Error> {
        Ok(None)
    }

    /// Deletes a user's data at the partner (GDPR); `Ok(None)` when the destination has no
    /// deletion support.
    async fn on_delete(
        &self,
        _client: &RequestClient,
        _input: DeleteInput<'_, Self::Settings>,
    ) -> Result<Option<Value>, Error> {
        Ok(None)
    }
}

/// An action with its payload type erased: the runtime hands it validated JSON payloads, which
/// it deserialises into the action's typed payload. Implemented for every [`Action`].
#[async_trait]
pub trait DynAction<S: Send + Sync + 'static>: Send + Sync + 'static {
    /// Metadata.
    fn definition(&self) -> ActionDefinition;
    /// Fields.
    fn fields(&self) -> Result<Fields, Error>;
    /// Whether batches are supported.
    fn supports_batch(&self) -> bool;
    /// Hooks.
    fn hooks(&self) -> Vec<ActionHookDefinition>;
    /// Dynamic field keys.
    fn dynamic_fields(&self) -> Vec<String>;
    /// `perform` on the JSON payload `input.payload_json[0]`.
    async fn perform_json(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, S, ()>,
    ) -> Result<Option<Value>, Error>;
    /// `perform_batch` on the JSON payloads `input.payload_json`.
    async fn perform_batch_json(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, S, ()>,
    ) -> Result<BatchResponse, Error>;
    /// Runs a hook.
    async fn perform_hook(
        &self,
        client: &RequestClient,
        hook: &str,
        input: HookInput<'_, S>,
    ) -> Result<HookResult, Error>;
    /// Fetches a dynamic field.
    async fn dynamic_field(
        &self,
        client: &RequestClient,
        key: &str,
        input: DynamicFieldInput<'_, S>,
    ) -> Result<DynamicFieldResponse, Error>;
}

fn typed<P: DeserializeOwned>(json: &Value) -> Result<P, Error> {
    P::deserialize(json).map_err(|e| {
        Error::payload_validation(format!(
            "The payload does not fit the action's payload type: {e}"
        ))
    })
}

fn with_payload<'a, S, P>(input: ExecuteInput<'a, S, ()>, payload: P) -> ExecuteInput<'a, S, P> {
    ExecuteInput {
        settings: input.settings,
        payload,
        payload_json: input.payload_json,
        auth: input.auth,
        services: input.services,
        raw_mapping: input.raw_mapping,
        audience_membership: input.audience_membership,
        sync_mode: input.sync_mode,
        matching_key: input.matching_key,
    }
}

#[async_trait]
impl<S, A> DynAction<S> for A
where
    S: Send + Sync + 'static,
    A: Action<S>,
{
    fn definition(&self) -> ActionDefinition {
        Action::definition(self)
    }

    fn fields(&self) -> Result<Fields, Error> {
        Action::fields(self)
    }

    fn supports_batch(&self) -> bool {
        Action::supports_batch(self)
    }

    fn hooks(&self) -> Vec<ActionHookDefinition> {
        Action::hooks(self)
    }

    fn dynamic_fields(&self) -> Vec<String> {
        Action::dynamic_fields(self)
    }

    async fn perform_json(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, S, ()>,
    ) -> Result<Option<Value>, Error> {
        let json = input
            .payload_json
            .first()
            .ok_or_else(|| Error::payload_validation("No payload to perform."))?;
        let payload: A::Payload = typed(json)?;
        self.perform(client, with_payload(input, payload)).await
    }

    async fn perform_batch_json(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, S, ()>,
    ) -> Result<BatchResponse, Error> {
        let payloads = input
            .payload_json
            .iter()
            .map(typed::<A::Payload>)
            .collect::<Result<Vec<_>, _>>()?;
        self.perform_batch(client, with_payload(input, payloads))
            .await
    }

    async fn perform_hook(
        &self,
        client: &RequestClient,
        hook: &str,
        input: HookInput<'_, S>,
    ) -> Result<HookResult, Error> {
        Action::perform_hook(self, client, hook, input).await
    }

    async fn dynamic_field(
        &self,
        client: &RequestClient,
        key: &str,
        input: DynamicFieldInput<'_, S>,
    ) -> Result<DynamicFieldResponse, Error> {
        Action::dynamic_field(self, client, key, input).await
    }
}
