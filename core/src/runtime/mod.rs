//! The runtime: runs a destination's actions on events, exactly as the reference's `onEvent` /
//! `onBatch` (sections C.2–C.4 and B.10), with the OAuth error pipeline (C.7 with the
//! token-propagation fix) and outcome classification.
//!
//! One attempt: subscription match → mapping → remove empty values → validate → `perform` /
//! `perform_batch`. Around it: a 401 (thrown, or an entry of a multistatus) from an OAuth
//! destination refreshes the token once (single-flight) and re-runs once; a
//! `TokenPropagationRetryError` refreshes the token and ends with `RetryableError` 503 so the
//! delivery pipeline retries later; a failed refresh surfaces as the refresh error.
//!
//! Compiled state is cached: settings are validated, subscriptions parsed and mappings compiled
//! once per distinct settings object, not per event.
//!
//! | room | what it holds |
//! |---|---|
//! | `mod.rs` | [`DestinationRuntime`]: construction, accessors, the request client of a call |
//! | `config.rs` | [`RuntimeConfig`] (clock, env, state, HTTP, origins, refresh cooldown), [`EventOptions`] |
//! | `delivery.rs` | the delivery entry points (`on_event`, `on_batch`, `deliver_*` → [`Delivery`]) and the test entry points (`execute_action`, `execute_batch_action`) |
//! | `settings.rs` | settings validation and the compiled-settings cache |
//! | `auth_retry.rs` | the one OAuth retry policy and the token refresh |
//! | `pipeline.rs` | one attempt: trigger → payload (map, remove empty, validate) → perform; batch realignment |
//! | `direct.rs` | hooks, dynamic fields, test authentication, audiences, deletion, explicit refresh |
//! | `any.rs` | [`AnyRuntime`], the type-erased runtime |
//!
//! ```no_run
//! use actions_core::prelude::*;
//! # async fn demo<D: Destination>(destination: D) -> Result<(), Error> {
//! let runtime = DestinationRuntime::new(destination)?;
//! let settings = json!({
//!     "subscription": {"partnerAction": "sendEvent", "subscribe": "type = \"track\"",
//!                      "mapping": {"name": {"@path": "$.event"}}}
//! });
//! let event = json!({"type": "track", "event": "Order Completed"});
//! let results = runtime.on_event(&event, &settings, &EventOptions::default()).await?;
//! # Ok(()) }
//! ```

mod any;
mod auth_retry;
mod config;
mod delivery;
mod direct;
mod pipeline;
mod settings;

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

pub use any::AnyRuntime;
pub use config::{EventOptions, RuntimeConfig, TokenRefreshCallback};
pub use delivery::Delivery;
pub use pipeline::mapping_error;

use crate::action::{ActionDefinition, ActionHookDefinition, Services};
use crate::context::Features;
use crate::destination::{Destination, DestinationDefinition, DynAction, RequestContext};
use crate::error::Error;
use crate::fields::{CompiledSchema, Fields};
use crate::oauth::{AuthTokens, TokenRefresher};
use crate::request::{Capture, HttpClient, OriginOverrides, RequestClient};
use crate::subscriptions::Subscription;
use settings::{SettingsCache, compile_fields};

/// An action with what the runtime compiled for it once.
struct ActionEntry<S: Send + Sync + 'static> {
    action: Arc<dyn DynAction<S>>,
    definition: ActionDefinition,
    fields: Fields,
    /// The compiled schema (validation and removeEmptyValues); `None` when the action has no
    /// fields.
    schema: Option<CompiledSchema>,
    hooks: Vec<ActionHookDefinition>,
    /// The action's default subscription, parsed once (a destination whose default
    /// subscription does not parse cannot be built).
    default_subscription: Option<Subscription>,
}

/// Runs a destination. Build one per destination instance and share it (it holds the pooled
/// HTTP client, the compiled schemas and the caches).
pub struct DestinationRuntime<D: Destination> {
    destination: Arc<D>,
    definition: DestinationDefinition,
    actions: IndexMap<String, ActionEntry<D::Settings>>,
    settings_fields: Fields,
    settings_schema: Option<CompiledSchema>,
    http: HttpClient,
    config: RuntimeConfig,
    origins: Arc<OriginOverrides>,
    refresher: TokenRefresher,
    settings_cache: SettingsCache<D::Settings>,
}

impl<D: Destination> fmt::Debug for DestinationRuntime<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestinationRuntime")
            .field("destination", &self.definition.slug)
            .field("actions", &self.actions.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<D: Destination> DestinationRuntime<D> {
    /// A runtime with the default configuration (system clock, process environment,
    /// in-memory state, a new pooled HTTP client).
    pub fn new(destination: D) -> Result<Self, Error> {
        DestinationRuntime::with_config(destination, RuntimeConfig::default())
    }

    /// A runtime with an explicit configuration.
    pub fn with_config(destination: D, config: RuntimeConfig) -> Result<Self, Error> {
        let definition = destination.definition();
        let settings_fields = destination.settings_fields()?;
        let settings_schema = compile_fields(&settings_fields, "the settings")?;
        let mut actions = IndexMap::new();
        for action in destination.actions() {
            let def = action.definition();
            let fields = action.fields()?;
            let schema = compile_fields(&fields, &format!("action {:?}", def.key))?;
            let hooks = action.hooks();
            let default_subscription = match &def.default_subscription {
                Some(fql) => Some(Subscription::parse(fql).map_err(|e| {
                    Error::plain(format!(
                        "the default subscription of action {:?} ({fql:?}) is invalid: {}",
                        def.key,
                        e.message()
                    ))
                })?),
                None => None,
            };
            actions.insert(
                def.key.clone(),
                ActionEntry {
                    action,
                    definition: def,
                    fields,
                    schema,
                    hooks,
                    default_subscription,
                },
            );
        }
        let http = match &config.http {
            Some(h) => h.clone(),
            None => HttpClient::new()?,
        };
        let origins = Arc::new(config.origins.clone());
        Ok(DestinationRuntime {
            destination: Arc::new(destination),
            definition,
            actions,
            settings_fields,
            settings_schema,
            http,
            config,
            origins,
            refresher: TokenRefresher::default(),
            settings_cache: SettingsCache::default(),
        })
    }

    /// The destination's definition.
    pub fn definition(&self) -> &DestinationDefinition {
        &self.definition
    }

    /// The destination itself.
    pub fn destination(&self) -> &D {
        &self.destination
    }

    /// The settings fields.
    pub fn settings_fields(&self) -> &Fields {
        &self.settings_fields
    }

    /// Every action: definition and fields, in declaration order.
    pub fn actions(&self) -> impl Iterator<Item = (&ActionDefinition, &Fields)> {
        self.actions.values().map(|a| (&a.definition, &a.fields))
    }

    /// An action's default subscription, parsed (`None` when it has none or the action does
    /// not exist).
    pub fn default_subscription(&self, key: &str) -> Option<&Subscription> {
        self.actions.get(key)?.default_subscription.as_ref()
    }

    /// A `subscription` settings member for an action with its default subscription and its
    /// fields' default mappings — what a user gets when adding the action.
    pub fn default_subscription_settings(&self, key: &str) -> Option<Value> {
        let entry = self.actions.get(key)?;
        let mut mapping = Map::new();
        for (k, f) in &entry.fields {
            if let Some(d) = &f.default {
                mapping.insert(k.clone(), d.clone());
            }
        }
        Some(json!({
            "partnerAction": key,
            "subscribe": entry.definition.default_subscription,
            "mapping": mapping,
        }))
    }

    /// An action's hooks.
    pub fn action_hooks(&self, key: &str) -> &[ActionHookDefinition] {
        self.actions
            .get(key)
            .map(|a| a.hooks.as_slice())
            .unwrap_or(&[])
    }

    /// The configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// The services a call's actions see.
    fn services(&self, opts: &EventOptions) -> Services {
        Services {
            features: opts.features.clone(),
            state: opts
                .state
                .clone()
                .unwrap_or_else(|| self.config.state.clone()),
            clock: self.config.clock.clone(),
            env: self.config.env.clone(),
        }
    }

    /// The request client of a call: the pooled HTTP client with the destination's request
    /// options for these settings and tokens, the origin overrides and the call's capture.
    fn client(
        &self,
        settings: Option<&D::Settings>,
        auth: &AuthTokens,
        features: &Features,
        capture: Option<&Capture>,
    ) -> RequestClient {
        let layer = self.destination.extend_request(&RequestContext {
            settings,
            auth,
            features,
        });
        let client =
            RequestClient::new(self.http.clone(), layer).with_origins(self.origins.clone());
        match capture {
            Some(c) => client.with_capture(c.clone()),
            None => client,
        }
    }
}
