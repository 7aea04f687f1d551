//! The runtime: `on_event` / `on_batch` over raw JSON settings and events, exactly as the
//! reference's `onEvent` / `onBatch` (sections C.2–C.4 and B.10), plus the OAuth error pipeline
//! (C.7 with the token-propagation fix) and outcome classification.
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

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use futures::future::join_all;
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::action::{
    ActionDefinition, ActionHookDefinition, BatchResponse, DynamicFieldInput, DynamicFieldResponse,
    ExecuteInput, HookInput, HookResult, MultiStatusNode, ResultEntry, Services, SyncMode,
    missing_dynamic_field, not_batchable,
};
use crate::audience::resolve_audience_membership;
use crate::context::{Clock, Env, Features, MemoryState, ProcessEnv, StateContext, SystemClock};
use crate::destination::{
    AuthContext, Destination, DestinationDefinition, DynAction, RequestContext,
};
use crate::error::{Error, ErrorClass, ValidationIssue, codes};
use crate::fields::{CompiledSchema, Fields, fields_to_json_schema};
use crate::mapping::{Mapping, MappingError};
use crate::oauth::{AuthTokens, RefreshedTokens, TokenRefresher};
use crate::outcome::Outcome;
use crate::request::{Capture, HttpClient, OriginOverrides, RequestClient};
use crate::subscriptions::Subscription;

/// Keys the exempt list of validation keeps.
const EXEMPT: &[&str] = &["dynamicAuthSettings"];
/// At most this many distinct settings objects stay compiled.
const CONFIG_CACHE_LIMIT: usize = 1024;
/// The total number of attempts of the OAuth pipeline.
const MAX_ATTEMPTS: usize = 2;

/// Converts a mapping error into the framework error (validation → `ValidationError` 400).
pub fn mapping_error(e: MappingError) -> Error {
    match e.class() {
        "ValidationError" => {
            let issues = e
                .issues()
                .iter()
                .map(|i| ValidationIssue {
                    pointer: i.pointer(),
                    message: i.message().to_string(),
                })
                .collect();
            Error::mapping_validation(e.message(), issues)
        }
        _ => Error::mapping(e.message()),
    }
}

/// Called with new tokens after a refresh so the host can persist them.
pub type TokenRefreshCallback = Arc<dyn Fn(&RefreshedTokens) + Send + Sync>;

/// Per-call options (the reference's `OnEventOptions`).
#[derive(Clone, Default)]
pub struct EventOptions {
    /// Feature flags.
    pub features: Features,
    /// Called after a token refresh.
    pub on_token_refresh: Option<TokenRefreshCallback>,
    /// Records every HTTP exchange of the call.
    pub capture: Option<Capture>,
    /// Replaces the runtime's state cache for this call.
    pub state: Option<Arc<dyn StateContext>>,
}

impl fmt::Debug for EventOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventOptions")
            .field("features", &self.features)
            .field("on_token_refresh", &self.on_token_refresh.is_some())
            .field("capture", &self.capture.is_some())
            .finish()
    }
}

/// Runtime configuration: injectable clock, environment, state store, HTTP client, origin
/// overrides.
#[derive(Clone)]
pub struct RuntimeConfig {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Environment variables.
    pub env: Arc<dyn Env>,
    /// The request/state cache shared by all calls.
    pub state: Arc<dyn StateContext>,
    /// Origin overrides (off unless set).
    pub origins: OriginOverrides,
    /// The HTTP client (a new pooled one when `None`).
    pub http: Option<HttpClient>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        RuntimeConfig {
            state: Arc::new(MemoryState::with_clock(clock.clone())),
            clock,
            env: Arc::new(ProcessEnv),
            origins: OriginOverrides::default(),
            http: None,
        }
    }
}

impl fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

/// An action with its compiled schema.
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

/// A subscription compiled once.
struct CompiledSubscription {
    partner_action: String,
    raw_mapping: Value,
    check: SubscriptionCheck,
}

enum SubscriptionCheck {
    /// The `subscribe` member is empty or not a string, or does not parse: the reference's
    /// result message.
    Invalid(String),
    Valid(Box<(Subscription, Mapping)>),
}

/// Settings validated and subscriptions compiled for one raw settings object.
struct Configured<S> {
    /// The raw settings this was built from (cache hits are confirmed against it).
    raw: Value,
    settings: Arc<S>,
    auth: AuthTokens,
    subscriptions: Vec<Arc<CompiledSubscription>>,
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
    configured: Mutex<HashMap<u64, Arc<Configured<D::Settings>>>>,
}

impl<D: Destination> fmt::Debug for DestinationRuntime<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestinationRuntime")
            .field("destination", &self.definition.slug)
            .field("actions", &self.actions.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// FNV-1a: a fast hasher for the settings cache key (hits are confirmed by equality, so the
/// hash needs speed, not collision resistance).
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn hash_json<H: Hasher>(v: &Value, h: &mut H) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => {
            1u8.hash(h);
            b.hash(h);
        }
        Value::Number(n) => {
            2u8.hash(h);
            n.as_f64().unwrap_or(f64::NAN).to_bits().hash(h);
        }
        Value::String(s) => {
            3u8.hash(h);
            s.hash(h);
        }
        Value::Array(a) => {
            4u8.hash(h);
            a.len().hash(h);
            for x in a {
                hash_json(x, h);
            }
        }
        Value::Object(o) => {
            5u8.hash(h);
            o.len().hash(h);
            for (k, x) in o {
                k.hash(h);
                hash_json(x, h);
            }
        }
    }
}

fn compile_fields(fields: &Fields, what: &str) -> Result<Option<CompiledSchema>, Error> {
    if fields.is_empty() {
        return Ok(None);
    }
    let schema = fields_to_json_schema(fields)
        .map_err(|e| Error::plain(format!("the fields of {what} are invalid: {e}")))?;
    let compiled = CompiledSchema::compile(&schema)
        .map_err(|e| Error::plain(format!("the schema of {what} does not compile: {e}")))?;
    Ok(Some(compiled))
}

fn schema_error(e: crate::fields::SchemaValidationError) -> Error {
    let issues = e
        .errors()
        .iter()
        .map(|i| ValidationIssue {
            pointer: i.pointer.clone(),
            message: i.message.clone(),
        })
        .collect();
    Error::schema_validation(e.message(), issues)
}

fn has_401_entry(results: &[ResultEntry]) -> bool {
    results
        .iter()
        .filter_map(|r| r.multistatus.as_ref())
        .flatten()
        .any(|n| n.status() == 401)
}

/// The state a single attempt needs.
struct Attempt<'a, S> {
    settings: &'a S,
    auth: AuthTokens,
    services: Services,
    client: RequestClient,
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
            configured: Mutex::new(HashMap::new()),
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

    /// Destination settings without the runtime's own keys (`subscription`, `subscriptions`,
    /// `oauth`), validated (coerced, undeclared keys removed) and typed.
    pub fn validate_settings(&self, settings: &Value) -> Result<D::Settings, Error> {
        let mut dest = match settings {
            Value::Object(o) => {
                let mut m = Map::with_capacity(o.len());
                for (k, v) in o {
                    if !matches!(k.as_str(), "subscription" | "subscriptions" | "oauth") {
                        m.insert(k.clone(), v.clone());
                    }
                }
                Value::Object(m)
            }
            Value::Null => Value::Object(Map::new()),
            other => {
                return Err(Error::schema_validation(
                    format!("Settings must be an object, got {}.", json_type(other)),
                    Vec::new(),
                ));
            }
        };
        if let Some(schema) = &self.settings_schema {
            schema.validate(&mut dest, EXEMPT).map_err(schema_error)?;
        }
        serde_json::from_value(dest).map_err(|e| {
            Error::schema_validation(
                format!("The settings do not fit the destination's settings type: {e}"),
                Vec::new(),
            )
        })
    }

    fn compile_subscription(&self, raw: &Value) -> Result<CompiledSubscription, Error> {
        let partner_action = raw
            .get("partnerAction")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let raw_mapping = raw.get("mapping").cloned().unwrap_or_else(|| json!({}));
        let check = match raw.get("subscribe") {
            Some(Value::String(s)) if !s.is_empty() => match Subscription::parse(s) {
                Err(e) => {
                    SubscriptionCheck::Invalid(format!("Invalid subscription : {}", e.message()))
                }
                Ok(sub) => {
                    let mapping = Mapping::compile(&raw_mapping).map_err(mapping_error)?;
                    SubscriptionCheck::Valid(Box::new((sub, mapping)))
                }
            },
            _ => SubscriptionCheck::Invalid("Failed to validate subscription".to_string()),
        };
        Ok(CompiledSubscription {
            partner_action,
            raw_mapping,
            check,
        })
    }

    fn configure(&self, settings: &Value) -> Result<Arc<Configured<D::Settings>>, Error> {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        hash_json(settings, &mut h);
        let key = h.finish();
        if let Ok(cache) = self.configured.lock()
            && let Some(c) = cache.get(&key)
            && c.raw == *settings
        {
            return Ok(c.clone());
        }
        let typed = self.validate_settings(settings)?;
        let raw_subs: Vec<&Value> =
            match (settings.get("subscription"), settings.get("subscriptions")) {
                (Some(s @ Value::Object(_)), _) => vec![s],
                (_, Some(Value::Array(list))) => list.iter().collect(),
                _ => Vec::new(),
            };
        let subscriptions = raw_subs
            .into_iter()
            .map(|s| self.compile_subscription(s).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let configured = Arc::new(Configured {
            raw: settings.clone(),
            settings: Arc::new(typed),
            auth: AuthTokens::from_settings(settings),
            subscriptions,
        });
        if let Ok(mut cache) = self.configured.lock() {
            if cache.len() >= CONFIG_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key, configured.clone());
        }
        Ok(configured)
    }

    /// Runs one event through every subscription in `settings` (the reference's `onEvent`).
    pub async fn on_event(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        let configured = self.configure(settings)?;
        self.with_auth_pipeline(&configured, Work::Event(event), opts)
            .await
    }

    /// Runs a batch of events through every subscription in `settings` (the reference's
    /// `onBatch`).
    pub async fn on_batch(
        &self,
        events: &[Value],
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        let configured = self.configure(settings)?;
        self.with_auth_pipeline(&configured, Work::Batch(events), opts)
            .await
    }

    /// [`on_event`](Self::on_event) with the attempt's [`Outcome`].
    pub async fn deliver_event(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> (Result<Vec<ResultEntry>, Error>, Outcome) {
        let r = self.on_event(event, settings, opts).await;
        let o = Outcome::of_result(&r);
        (r, o)
    }

    /// [`on_batch`](Self::on_batch) with the attempt's [`Outcome`] (per event when the batch
    /// ran).
    pub async fn deliver_batch(
        &self,
        events: &[Value],
        settings: &Value,
        opts: &EventOptions,
    ) -> (Result<Vec<ResultEntry>, Error>, Outcome) {
        let r = self.on_batch(events, settings, opts).await;
        let o = Outcome::of_result(&r);
        (r, o)
    }

    /// The OAuth pipeline around attempts (reference C.7 plus the token-propagation fix).
    async fn with_auth_pipeline(
        &self,
        configured: &Configured<D::Settings>,
        work: Work<'_>,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        let oauth = self.definition.scheme.is_oauth();
        let services = self.services(opts);
        let mut auth = configured.auth.clone();
        let mut attempt_no = 1;
        loop {
            let attempt = Attempt {
                settings: configured.settings.as_ref(),
                client: self.client(
                    Some(configured.settings.as_ref()),
                    &auth,
                    &opts.features,
                    opts.capture.as_ref(),
                ),
                auth: auth.clone(),
                services: services.clone(),
            };
            let result = self.run_attempt(configured, work, &attempt).await;
            match result {
                Ok(results) => {
                    if oauth && attempt_no < MAX_ATTEMPTS && has_401_entry(&results) {
                        auth = self
                            .refresh_tokens(&configured.settings, &auth, &services, opts)
                            .await?;
                        attempt_no += 1;
                        continue;
                    }
                    return Ok(results);
                }
                Err(e) if e.class() == ErrorClass::TokenPropagationRetry => {
                    if oauth {
                        self.refresh_tokens(&configured.settings, &auth, &services, opts)
                            .await?;
                    }
                    return Err(Error::retryable(e.message(), 503)
                        .with_cause(ErrorClass::TokenPropagationRetry));
                }
                Err(e) if oauth && e.status() == Some(401) && attempt_no < MAX_ATTEMPTS => {
                    auth = self
                        .refresh_tokens(&configured.settings, &auth, &services, opts)
                        .await?;
                    attempt_no += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn run_attempt(
        &self,
        configured: &Configured<D::Settings>,
        work: Work<'_>,
        attempt: &Attempt<'_, D::Settings>,
    ) -> Result<Vec<ResultEntry>, Error> {
        let mut out = Vec::new();
        match work {
            Work::Event(event) => {
                let runs = configured
                    .subscriptions
                    .iter()
                    .map(|sub| self.run_single(sub, event, attempt));
                for r in join_all(runs).await {
                    out.extend(r?);
                }
            }
            Work::Batch(events) => {
                let runs = configured
                    .subscriptions
                    .iter()
                    .map(|sub| self.run_batch(sub, events, attempt));
                for r in join_all(runs).await {
                    out.extend(r?);
                }
            }
        }
        Ok(out)
    }

    /// Refreshes the tokens (single-flight), calls `on_token_refresh` and returns the new
    /// tokens. A failed refresh is the error that surfaces.
    async fn refresh_tokens(
        &self,
        settings: &D::Settings,
        stale: &AuthTokens,
        services: &Services,
        opts: &EventOptions,
    ) -> Result<AuthTokens, Error> {
        let (result, performed) = self
            .refresher
            .refresh(stale, || self.refresh_once(settings, stale, services, opts))
            .await;
        let tokens = result?;
        if performed && let Some(cb) = &opts.on_token_refresh {
            cb(&tokens);
        }
        let mut auth = stale.clone();
        auth.apply(&tokens);
        Ok(auth)
    }

    async fn refresh_once(
        &self,
        settings: &D::Settings,
        stale: &AuthTokens,
        services: &Services,
        opts: &EventOptions,
    ) -> Result<RefreshedTokens, Error> {
        if !self.definition.scheme.is_oauth() {
            return Err(Error::integration(
                "refreshAccessToken is only valid with oauth2 authentication scheme",
                codes::NOT_IMPLEMENTED,
                501,
            ));
        }
        // The refresh request carries the destination's headers but no access token.
        let no_token = AuthTokens::default();
        let client = self.client(
            Some(settings),
            &no_token,
            &opts.features,
            opts.capture.as_ref(),
        );
        let refreshed = self
            .destination
            .refresh_access_token(
                &client,
                AuthContext {
                    settings,
                    auth: stale,
                    services,
                },
            )
            .await?;
        refreshed.ok_or_else(|| {
            Error::invalid_authentication_with_code(
                "Failed to refresh access token",
                codes::OAUTH_REFRESH_FAILED,
            )
        })
    }

    async fn run_single(
        &self,
        sub: &CompiledSubscription,
        event: &Value,
        attempt: &Attempt<'_, D::Settings>,
    ) -> Result<Vec<ResultEntry>, Error> {
        let (fql, mapping) = match &sub.check {
            SubscriptionCheck::Invalid(msg) => return Ok(vec![ResultEntry::output(msg)]),
            SubscriptionCheck::Valid(b) => (&b.0, &b.1),
        };
        if !fql.matches(event) {
            return Ok(vec![ResultEntry::output("not subscribed")]);
        }
        let Some(entry) = self.actions.get(&sub.partner_action) else {
            return Ok(Vec::new());
        };
        self.execute_single(entry, mapping, &sub.raw_mapping, event, attempt)
            .await
    }

    async fn execute_single(
        &self,
        entry: &ActionEntry<D::Settings>,
        mapping: &Mapping,
        raw_mapping: &Value,
        event: &Value,
        attempt: &Attempt<'_, D::Settings>,
    ) -> Result<Vec<ResultEntry>, Error> {
        let mut results = Vec::with_capacity(3);
        let mapped = mapping
            .evaluate(event)
            .map_err(mapping_error)?
            .unwrap_or_else(|| Value::Object(Map::new()));
        results.push(ResultEntry::output("Mappings resolved"));
        let payload = match &entry.schema {
            Some(compiled) => {
                let mut payload = compiled
                    .remove_empty_values(mapped, true)
                    .unwrap_or_else(|| Value::Object(Map::new()));
                compiled
                    .validate(&mut payload, EXEMPT)
                    .map_err(schema_error)?;
                results.push(ResultEntry::output("Payload validated"));
                payload
            }
            None => mapped,
        };
        let sync_mode = self.sync_mode(entry, raw_mapping);
        let membership = resolve_audience_membership(event, sync_mode, &attempt.services.features);
        let payloads = [payload];
        let input = ExecuteInput {
            settings: attempt.settings,
            payload: (),
            payload_json: &payloads,
            auth: &attempt.auth,
            services: &attempt.services,
            raw_mapping,
            audience_membership: vec![membership],
            sync_mode,
            matching_key: matching_key(raw_mapping),
        };
        let data = entry.action.perform_json(&attempt.client, input).await?;
        results.push(ResultEntry {
            output: Some("Action Executed".to_string()),
            data,
            multistatus: None,
        });
        Ok(results)
    }

    fn sync_mode(&self, entry: &ActionEntry<D::Settings>, raw_mapping: &Value) -> Option<SyncMode> {
        entry.definition.sync_mode.as_ref()?;
        raw_mapping
            .get("__segment_internal_sync_mode")
            .and_then(Value::as_str)
            .and_then(SyncMode::parse)
    }

    async fn run_batch(
        &self,
        sub: &CompiledSubscription,
        events: &[Value],
        attempt: &Attempt<'_, D::Settings>,
    ) -> Result<Vec<ResultEntry>, Error> {
        let (fql, mapping) = match &sub.check {
            SubscriptionCheck::Invalid(msg) => {
                let nodes = events
                    .iter()
                    .map(|_| MultiStatusNode::rejected(msg.clone()))
                    .collect();
                return Ok(vec![ResultEntry::multistatus(nodes)]);
            }
            SubscriptionCheck::Valid(b) => (&b.0, &b.1),
        };
        let mut nodes: Vec<Option<MultiStatusNode>> = vec![None; events.len()];
        let mut matched: Vec<usize> = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            if fql.matches(event) {
                matched.push(i);
            } else {
                nodes[i] = Some(MultiStatusNode::rejected(
                    "Payload is either invalid or does not match the subscription",
                ));
            }
        }
        if matched.is_empty() {
            return Ok(vec![ResultEntry::output("not subscribed")]);
        }
        let Some(entry) = self.actions.get(&sub.partner_action) else {
            return Ok(Vec::new());
        };
        let matched_events: Vec<&Value> = matched.iter().filter_map(|i| events.get(*i)).collect();
        let batch_nodes = self
            .execute_batch(entry, mapping, &sub.raw_mapping, &matched_events, attempt)
            .await?;
        for (k, i) in matched.iter().enumerate() {
            if let (Some(slot), Some(node)) = (nodes.get_mut(*i), batch_nodes.get(k)) {
                *slot = Some(node.clone());
            }
        }
        Ok(vec![ResultEntry::multistatus(
            nodes.into_iter().flatten().collect(),
        )])
    }

    async fn execute_batch(
        &self,
        entry: &ActionEntry<D::Settings>,
        mapping: &Mapping,
        raw_mapping: &Value,
        events: &[&Value],
        attempt: &Attempt<'_, D::Settings>,
    ) -> Result<Vec<MultiStatusNode>, Error> {
        if !entry.action.supports_batch() {
            return Err(not_batchable());
        }
        let sync_mode = self.sync_mode(entry, raw_mapping);
        let mut nodes: Vec<Option<MultiStatusNode>> = vec![None; events.len()];
        let mut valid: Vec<Value> = Vec::with_capacity(events.len());
        let mut valid_idx: Vec<usize> = Vec::with_capacity(events.len());
        let mut memberships = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            let mapped = mapping
                .evaluate(event)
                .map_err(mapping_error)?
                .unwrap_or_else(|| Value::Object(Map::new()));
            let payload = match &entry.schema {
                Some(compiled) => {
                    let mut payload = compiled
                        .remove_empty_values(mapped, false)
                        .unwrap_or_else(|| Value::Object(Map::new()));
                    if let Err(e) = compiled.validate(&mut payload, EXEMPT) {
                        nodes[i] = Some(MultiStatusNode::rejected(e.message()));
                        continue;
                    }
                    payload
                }
                None => mapped,
            };
            memberships.push(resolve_audience_membership(
                event,
                sync_mode,
                &attempt.services.features,
            ));
            valid.push(payload);
            valid_idx.push(i);
        }
        if !valid.is_empty() {
            let input = ExecuteInput {
                settings: attempt.settings,
                payload: (),
                payload_json: &valid,
                auth: &attempt.auth,
                services: &attempt.services,
                raw_mapping,
                audience_membership: memberships,
                sync_mode,
                matching_key: matching_key(raw_mapping),
            };
            let response = entry
                .action
                .perform_batch_json(&attempt.client, input)
                .await?;
            for (k, i) in valid_idx.iter().enumerate() {
                let sent = valid.get(k).cloned();
                let node = match &response {
                    BatchResponse::MultiStatus(ms) => match ms.get(k) {
                        Some(e) => MultiStatusNode::from_entry(e.clone()),
                        None => MultiStatusNode::Error {
                            status: 500,
                            errortype: codes::PAYLOAD_VALIDATION_FAILED.to_string(),
                            errormessage:
                                "MultiStatusResponse is missing a response at the specified index"
                                    .to_string(),
                            sent: None,
                            body: None,
                            errorreporter: crate::action::ErrorReporter::Integrations,
                        },
                    },
                    BatchResponse::Response(r) => MultiStatusNode::Success {
                        status: r.status(),
                        sent,
                        body: Some(r.result_data()),
                    },
                    BatchResponse::HttpError(e) => MultiStatusNode::Success {
                        status: e.status().unwrap_or(500),
                        sent,
                        body: Some(Value::String(e.message().to_string())),
                    },
                    BatchResponse::Nothing => MultiStatusNode::Success {
                        status: 200,
                        sent,
                        body: Some(Value::Object(Map::new())),
                    },
                };
                if let Some(slot) = nodes.get_mut(*i) {
                    *slot = Some(node);
                }
            }
        }
        Ok(nodes.into_iter().flatten().collect())
    }

    fn entry(&self, action: &str) -> Result<&ActionEntry<D::Settings>, Error> {
        self.actions.get(action).ok_or_else(|| {
            Error::integration(
                format!("Action {action} not found."),
                codes::NOT_IMPLEMENTED,
                501,
            )
        })
    }

    /// An attempt outside the OAuth pipeline (test harness, hooks, dynamic fields).
    fn direct_attempt<'a>(
        &self,
        settings: &'a D::Settings,
        auth: AuthTokens,
        opts: &EventOptions,
    ) -> Attempt<'a, D::Settings> {
        Attempt {
            settings,
            client: self.client(Some(settings), &auth, &opts.features, opts.capture.as_ref()),
            auth,
            services: self.services(opts),
        }
    }

    /// Runs one action on one event directly — no subscription check, no OAuth retry — as
    /// the reference's test harness (`testAction`). `settings` are the destination settings
    /// (validated and typed; an `oauth` member supplies tokens unless `auth` is given).
    pub async fn execute_action(
        &self,
        action: &str,
        event: &Value,
        mapping: &Value,
        settings: &Value,
        auth: Option<AuthTokens>,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        let entry = self.entry(action)?;
        let compiled = Mapping::compile(mapping).map_err(mapping_error)?;
        let typed = self.validate_settings(settings)?;
        let auth = auth.unwrap_or_else(|| AuthTokens::from_settings(settings));
        let attempt = self.direct_attempt(&typed, auth, opts);
        self.execute_single(entry, &compiled, mapping, event, &attempt)
            .await
    }

    /// Runs one action on a batch directly (the reference's `testBatchAction`): returns the
    /// per-event results.
    pub async fn execute_batch_action(
        &self,
        action: &str,
        events: &[Value],
        mapping: &Value,
        settings: &Value,
        auth: Option<AuthTokens>,
        opts: &EventOptions,
    ) -> Result<Vec<MultiStatusNode>, Error> {
        let entry = self.entry(action)?;
        let compiled = Mapping::compile(mapping).map_err(mapping_error)?;
        let typed = self.validate_settings(settings)?;
        let auth = auth.unwrap_or_else(|| AuthTokens::from_settings(settings));
        let attempt = self.direct_attempt(&typed, auth, opts);
        let refs: Vec<&Value> = events.iter().collect();
        self.execute_batch(entry, &compiled, mapping, &refs, &attempt)
            .await
    }

    /// Runs an action hook (`onMappingSave`): validates the hook inputs against the hook's
    /// input fields, then calls the hook with the destination's request client.
    pub async fn execute_hook(
        &self,
        action: &str,
        hook: &str,
        settings: &Value,
        hook_inputs: &Value,
        hook_outputs: Option<&Value>,
        opts: &EventOptions,
    ) -> Result<HookResult, Error> {
        let entry = self.entry(action)?;
        if entry.hooks.is_empty() {
            return Err(Error::integration(
                "This action does not support any hooks.",
                codes::NOT_IMPLEMENTED,
                501,
            ));
        }
        let Some(def) = entry.hooks.iter().find(|h| h.key == hook) else {
            return Err(Error::integration(
                format!("Missing implementation for hook: {hook}."),
                codes::NOT_IMPLEMENTED,
                501,
            ));
        };
        let mut inputs = if hook_inputs.is_null() {
            Value::Object(Map::new())
        } else {
            hook_inputs.clone()
        };
        if let Some(compiled) = compile_fields(&def.input_fields, &format!("hook {hook}"))? {
            compiled
                .validate(&mut inputs, EXEMPT)
                .map_err(schema_error)?;
        }
        let typed = self.validate_settings(settings)?;
        let Attempt {
            client,
            auth,
            services,
            ..
        } = self.direct_attempt(&typed, AuthTokens::from_settings(settings), opts);
        entry
            .action
            .perform_hook(
                &client,
                hook,
                HookInput {
                    settings: &typed,
                    hook_inputs: &inputs,
                    hook_outputs,
                    auth: &auth,
                    services: &services,
                },
            )
            .await
    }

    /// Fetches a dynamic field's choices. `field` follows the reference's grammar: `key`,
    /// `obj.key` (falls back to `obj.__values__` with the selected key), `obj.__keys__`,
    /// `arr.[N].sub`.
    pub async fn execute_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error> {
        let empty = Value::Object(Map::new());
        self.execute_hook_dynamic_field(action, field, settings, payload, &empty, opts)
            .await
    }

    /// [`execute_dynamic_field`](Self::execute_dynamic_field) for a hook's input field: the
    /// hook inputs chosen so far (`hookInputs` of the reference, e.g. the selected ad account)
    /// reach the dynamic field as [`DynamicFieldInput::hook_inputs`].
    pub async fn execute_hook_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        hook_inputs: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error> {
        let Some(entry) = self.actions.get(action) else {
            return Ok(DynamicFieldResponse::default());
        };
        let keys = entry.action.dynamic_fields();
        let mut selected_key = None;
        let mut selected_index = None;
        let lookup = if keys.iter().any(|k| k == field) {
            field.to_string()
        } else if let Some((parent, rest)) = field.split_once(".[") {
            match rest.split_once("].") {
                Some((n, sub)) => {
                    selected_index = n.parse::<usize>().ok();
                    format!("{parent}.{sub}")
                }
                None => field.to_string(),
            }
        } else if let Some((parent, key)) = field.split_once('.') {
            if key == "__keys__" {
                field.to_string()
            } else {
                selected_key = Some(key);
                format!("{parent}.__values__")
            }
        } else {
            field.to_string()
        };
        if !keys.contains(&lookup) {
            return Ok(missing_dynamic_field(field));
        }
        let typed = self.validate_settings(settings)?;
        let Attempt {
            client,
            auth,
            services,
            ..
        } = self.direct_attempt(&typed, AuthTokens::from_settings(settings), opts);
        entry
            .action
            .dynamic_field(
                &client,
                &lookup,
                DynamicFieldInput {
                    settings: &typed,
                    payload,
                    page: None,
                    hook_inputs,
                    selected_array_index: selected_index,
                    selected_key,
                    query: None,
                    auth: &auth,
                    services: &services,
                },
            )
            .await
    }

    /// "Test connection": validates settings (errors surface unwrapped), then runs the
    /// destination's `test_authentication`; any error it raises becomes the reference's
    /// `Error("Credentials are invalid: <response status or ''> <message>")`.
    pub async fn test_authentication(
        &self,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<(), Error> {
        let typed = self.validate_settings(settings)?;
        let Attempt {
            client,
            auth,
            services,
            ..
        } = self.direct_attempt(&typed, AuthTokens::from_settings(settings), opts);
        self.destination
            .test_authentication(
                &client,
                AuthContext {
                    settings: &typed,
                    auth: &auth,
                    services: &services,
                },
            )
            .await
            .map_err(|e| {
                let status = e
                    .response()
                    .map(|r| r.status().to_string())
                    .unwrap_or_default();
                Error::plain(format!("Credentials are invalid: {status} {}", e.message()))
            })
    }

    /// Runs an operation outside actions (audiences, deletion) with the reference's OAuth
    /// retry: a 401 from an OAuth destination refreshes the token and runs it once more.
    async fn with_refresh_retry(
        &self,
        settings: &Value,
        op: Op<'_>,
        opts: &EventOptions,
    ) -> Result<Value, Error> {
        let typed = self.validate_settings(settings)?;
        let mut auth = AuthTokens::from_settings(settings);
        let oauth = self.definition.scheme.is_oauth();
        let mut attempt_no = 1;
        loop {
            let attempt = self.direct_attempt(&typed, auth.clone(), opts);
            match self.run_op(&op, &attempt).await {
                Err(e) if oauth && e.status() == Some(401) && attempt_no < MAX_ATTEMPTS => {
                    auth = self
                        .refresh_tokens(&typed, &auth, &attempt.services, opts)
                        .await?;
                    attempt_no += 1;
                }
                other => return other,
            }
        }
    }

    async fn run_op(&self, op: &Op<'_>, a: &Attempt<'_, D::Settings>) -> Result<Value, Error> {
        match op {
            Op::CreateAudience {
                audience_settings,
                audience_name,
                personas,
            } => self
                .destination
                .create_audience(
                    &a.client,
                    crate::destination::CreateAudienceInput {
                        settings: a.settings,
                        audience_settings,
                        audience_name,
                        personas: *personas,
                        auth: &a.auth,
                        services: &a.services,
                    },
                )
                .await?
                .map(|id| json!({ "externalId": id }))
                .ok_or_else(|| Error::plain("Unexpected call to createAudience")),
            Op::GetAudience {
                audience_settings,
                external_id,
            } => self
                .destination
                .get_audience(
                    &a.client,
                    crate::destination::GetAudienceInput {
                        settings: a.settings,
                        audience_settings,
                        external_id,
                        auth: &a.auth,
                        services: &a.services,
                    },
                )
                .await?
                .map(|id| json!({ "externalId": id }))
                .ok_or_else(|| Error::plain("Unexpected call to getAudience")),
            Op::Delete { event } => {
                let out = self
                    .destination
                    .on_delete(
                        &a.client,
                        crate::destination::DeleteInput {
                            settings: a.settings,
                            user_id: event.get("userId").and_then(Value::as_str),
                            anonymous_id: event.get("anonymousId").and_then(Value::as_str),
                            auth: &a.auth,
                            services: &a.services,
                        },
                    )
                    .await?;
                Ok(out.unwrap_or_else(|| json!({"output": "no onDelete defined"})))
            }
        }
    }

    fn validated_audience_settings(&self, audience_settings: &Value) -> Result<Value, Error> {
        let fields = self.destination.audience_fields();
        let mut value = if audience_settings.is_null() {
            Value::Object(Map::new())
        } else {
            audience_settings.clone()
        };
        if let Some(compiled) = compile_fields(&fields, "the audience settings")? {
            compiled
                .validate(&mut value, EXEMPT)
                .map_err(schema_error)?;
        }
        Ok(value)
    }

    /// Creates an audience at the partner (`createAudience`): validates the per-audience
    /// settings (when the destination declares audience fields), runs with the OAuth retry, and
    /// returns `{"externalId": …}`.
    pub async fn create_audience(
        &self,
        settings: &Value,
        audience_settings: &Value,
        audience_name: &str,
        personas: Option<&Value>,
        opts: &EventOptions,
    ) -> Result<Value, Error> {
        let audience_settings = self.validated_audience_settings(audience_settings)?;
        self.with_refresh_retry(
            settings,
            Op::CreateAudience {
                audience_settings: &audience_settings,
                audience_name,
                personas,
            },
            opts,
        )
        .await
    }

    /// Reads an audience at the partner (`getAudience`); returns `{"externalId": …}`.
    pub async fn get_audience(
        &self,
        settings: &Value,
        audience_settings: &Value,
        external_id: &str,
        opts: &EventOptions,
    ) -> Result<Value, Error> {
        let audience_settings = self.validated_audience_settings(audience_settings)?;
        self.with_refresh_retry(
            settings,
            Op::GetAudience {
                audience_settings: &audience_settings,
                external_id,
            },
            opts,
        )
        .await
    }

    /// GDPR deletion of the user of `event` (`onDelete`), with the OAuth retry. Without
    /// deletion support the result is `{"output": "no onDelete defined"}`.
    pub async fn on_delete(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Value, Error> {
        self.with_refresh_retry(settings, Op::Delete { event }, opts)
            .await
    }

    /// Refreshes the access token of `settings.oauth` (the reference's
    /// `refreshAccessToken`), single-flight, calling `on_token_refresh`.
    pub async fn refresh_access_token(
        &self,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<RefreshedTokens, Error> {
        let typed = self.validate_settings(settings)?;
        let auth = AuthTokens::from_settings(settings);
        let services = self.services(opts);
        let (result, performed) = self
            .refresher
            .refresh(&auth, || self.refresh_once(&typed, &auth, &services, opts))
            .await;
        let tokens = result?;
        if performed && let Some(cb) = &opts.on_token_refresh {
            cb(&tokens);
        }
        Ok(tokens)
    }
}

/// An operation outside actions.
enum Op<'a> {
    CreateAudience {
        audience_settings: &'a Value,
        audience_name: &'a str,
        personas: Option<&'a Value>,
    },
    GetAudience {
        audience_settings: &'a Value,
        external_id: &'a str,
    },
    Delete {
        event: &'a Value,
    },
}

/// What an attempt works on.
#[derive(Clone, Copy)]
enum Work<'a> {
    Event(&'a Value),
    Batch(&'a [Value]),
}

fn matching_key(raw_mapping: &Value) -> Option<String> {
    match raw_mapping.get("__segment_internal_matching_key")? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A runtime with its destination type erased (JSON in, JSON out), for registries, the
/// command line and the delivery runtime. Implemented by every [`DestinationRuntime`].
#[async_trait::async_trait]
pub trait AnyRuntime: Send + Sync {
    /// The destination's definition.
    fn definition(&self) -> &DestinationDefinition;
    /// The settings fields.
    fn settings_fields(&self) -> &Fields;
    /// Every action's definition and fields.
    fn action_list(&self) -> Vec<(ActionDefinition, Fields)>;
    /// An action's hooks.
    fn hooks_of(&self, action: &str) -> Vec<ActionHookDefinition>;
    /// See [`DestinationRuntime::default_subscription_settings`].
    fn default_subscription_settings(&self, action: &str) -> Option<Value>;
    /// See [`DestinationRuntime::on_event`].
    async fn on_event(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error>;
    /// See [`DestinationRuntime::on_batch`].
    async fn on_batch(
        &self,
        events: &[Value],
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error>;
    /// See [`DestinationRuntime::execute_action`].
    async fn execute_action(
        &self,
        action: &str,
        event: &Value,
        mapping: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error>;
    /// See [`DestinationRuntime::execute_batch_action`].
    async fn execute_batch_action(
        &self,
        action: &str,
        events: &[Value],
        mapping: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<MultiStatusNode>, Error>;
    /// See [`DestinationRuntime::execute_hook`].
    async fn execute_hook(
        &self,
        action: &str,
        hook: &str,
        settings: &Value,
        inputs: &Value,
        outputs: Option<&Value>,
        opts: &EventOptions,
    ) -> Result<HookResult, Error>;
    /// See [`DestinationRuntime::execute_dynamic_field`].
    async fn execute_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error>;
    /// See [`DestinationRuntime::execute_hook_dynamic_field`].
    async fn execute_hook_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        hook_inputs: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error>;
    /// See [`DestinationRuntime::test_authentication`].
    async fn test_authentication(&self, settings: &Value, opts: &EventOptions)
    -> Result<(), Error>;
    /// See [`DestinationRuntime::refresh_access_token`].
    async fn refresh_access_token(
        &self,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<RefreshedTokens, Error>;
}

#[async_trait::async_trait]
impl<D: Destination> AnyRuntime for DestinationRuntime<D> {
    fn definition(&self) -> &DestinationDefinition {
        DestinationRuntime::definition(self)
    }
    fn settings_fields(&self) -> &Fields {
        DestinationRuntime::settings_fields(self)
    }
    fn action_list(&self) -> Vec<(ActionDefinition, Fields)> {
        self.actions()
            .map(|(d, f)| (d.clone(), f.clone()))
            .collect()
    }
    fn hooks_of(&self, action: &str) -> Vec<ActionHookDefinition> {
        self.action_hooks(action).to_vec()
    }
    fn default_subscription_settings(&self, action: &str) -> Option<Value> {
        DestinationRuntime::default_subscription_settings(self, action)
    }
    async fn on_event(
        &self,
        event: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        DestinationRuntime::on_event(self, event, settings, opts).await
    }
    async fn on_batch(
        &self,
        events: &[Value],
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        DestinationRuntime::on_batch(self, events, settings, opts).await
    }
    async fn execute_action(
        &self,
        action: &str,
        event: &Value,
        mapping: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<ResultEntry>, Error> {
        DestinationRuntime::execute_action(self, action, event, mapping, settings, None, opts).await
    }
    async fn execute_batch_action(
        &self,
        action: &str,
        events: &[Value],
        mapping: &Value,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<Vec<MultiStatusNode>, Error> {
        DestinationRuntime::execute_batch_action(
            self, action, events, mapping, settings, None, opts,
        )
        .await
    }
    async fn execute_hook(
        &self,
        action: &str,
        hook: &str,
        settings: &Value,
        inputs: &Value,
        outputs: Option<&Value>,
        opts: &EventOptions,
    ) -> Result<HookResult, Error> {
        DestinationRuntime::execute_hook(self, action, hook, settings, inputs, outputs, opts).await
    }
    async fn execute_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error> {
        DestinationRuntime::execute_dynamic_field(self, action, field, settings, payload, opts)
            .await
    }
    async fn execute_hook_dynamic_field(
        &self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
        hook_inputs: &Value,
        opts: &EventOptions,
    ) -> Result<DynamicFieldResponse, Error> {
        DestinationRuntime::execute_hook_dynamic_field(
            self,
            action,
            field,
            settings,
            payload,
            hook_inputs,
            opts,
        )
        .await
    }
    async fn test_authentication(
        &self,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<(), Error> {
        DestinationRuntime::test_authentication(self, settings, opts).await
    }
    async fn refresh_access_token(
        &self,
        settings: &Value,
        opts: &EventOptions,
    ) -> Result<RefreshedTokens, Error> {
        DestinationRuntime::refresh_access_token(self, settings, opts).await
    }
}
