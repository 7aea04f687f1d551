//! The destination test harness: [`TestIntegration`] runs a destination's actions, hooks,
//! dynamic fields and authentication against a local mock server (mockito) that stands in for
//! the partner's origins, and returns what was sent.
//!
//! Mocking is **strict by default**: a request that no mock expected gets an error response and
//! fails the test with a description of the request next to the mocks that were declared.
//!
//! ```no_run
//! # async fn demo<D: actions_core::Destination>(destination: D) {
//! use actions_testkit::{TestIntegration, TestOptions};
//! use serde_json::json;
//!
//! let mut t = TestIntegration::new(destination, &["https://api.example.com"]).await.unwrap();
//! let mock = t.mock("POST", "/v1/track").with_status(200).create_async().await;
//! let exchanges = t
//!     .test_action("track", TestOptions::event(json!({"event": "Signed Up"})).default_mappings())
//!     .await
//!     .unwrap();
//! assert_eq!(exchanges.len(), 1);
//! mock.assert_async().await;
//! # }
//! ```

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use actions_core::action::{DynamicFieldResponse, HookResult, MultiStatusNode, ResultEntry};
use actions_core::context::{Clock, Features, MemoryState, SystemClock};
use actions_core::oauth::{AuthTokens, RefreshedTokens};
use actions_core::request::{Capture, Exchange, OriginOverrides};
use actions_core::runtime::TokenRefreshCallback;
use actions_core::{Destination, DestinationRuntime, Error, EventOptions, RuntimeConfig};
use mockito::{Matcher, ServerGuard};
use serde_json::{Map, Value};

use crate::event::{Stamp, create_test_event};

/// The marker header of the response to an unexpected request.
const UNMATCHED_HEADER: &str = "x-testkit-unmatched";
/// The status of the response to an unexpected request.
const UNMATCHED_STATUS: usize = 599;

/// What to run an action with (the reference's `testAction` options).
#[derive(Clone, Debug, Default)]
pub struct TestOptions {
    /// The event (merged over [`create_test_event`]'s defaults).
    pub event: Option<Value>,
    /// The events of a batch (each merged over the defaults).
    pub events: Vec<Value>,
    /// The mapping (`{}` by default).
    pub mapping: Option<Value>,
    /// Merge the fields' defaults under the mapping.
    pub use_default_mappings: bool,
    /// Destination settings (may include `oauth`).
    pub settings: Option<Value>,
    /// Auth tokens (default: from `settings.oauth`).
    pub auth: Option<AuthTokens>,
    /// Feature flags.
    pub features: Features,
    /// How ids and timestamps of test events are made (default: deterministic).
    pub stamp: Option<Stamp>,
}

impl TestOptions {
    /// Options with one event.
    pub fn event(event: Value) -> Self {
        TestOptions {
            event: Some(event),
            ..TestOptions::default()
        }
    }

    /// Options with a batch of events.
    pub fn events(events: Vec<Value>) -> Self {
        TestOptions {
            events,
            ..TestOptions::default()
        }
    }

    /// Sets the mapping.
    pub fn mapping(mut self, mapping: Value) -> Self {
        self.mapping = Some(mapping);
        self
    }

    /// Uses the fields' default mappings under the given mapping.
    pub fn default_mappings(mut self) -> Self {
        self.use_default_mappings = true;
        self
    }

    /// Sets the settings.
    pub fn settings(mut self, settings: Value) -> Self {
        self.settings = Some(settings);
        self
    }

    /// Sets the auth tokens.
    pub fn auth(mut self, auth: AuthTokens) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Turns a feature flag on.
    pub fn feature(mut self, name: &str) -> Self {
        self.features.set(name, true);
        self
    }
}

/// Runs a destination against a strict local mock server.
pub struct TestIntegration<D: Destination> {
    runtime: DestinationRuntime<D>,
    server: ServerGuard,
    capture: Capture,
    state: MemoryState,
    strict: bool,
    declared: Vec<String>,
    results: Vec<ResultEntry>,
    multistatus: Vec<MultiStatusNode>,
    refreshes: Arc<Mutex<Vec<RefreshedTokens>>>,
}

impl<D: Destination> TestIntegration<D> {
    /// A harness whose `origins` (e.g. `https://api.linkedin.com`) all lead to one mock server.
    pub async fn new(destination: D, origins: &[&str]) -> Result<Self, Error> {
        TestIntegration::with_config(destination, origins, RuntimeConfig::default()).await
    }

    /// Like [`TestIntegration::new`] with a runtime configuration (clock, env, state); its
    /// origin overrides are replaced by the mock server's.
    pub async fn with_config(
        destination: D,
        origins: &[&str],
        mut config: RuntimeConfig,
    ) -> Result<Self, Error> {
        let mut server = mockito::Server::new_async().await;
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] {
            server
                .mock(method, Matcher::Any)
                .with_status(UNMATCHED_STATUS)
                .with_header(UNMATCHED_HEADER, "1")
                .with_body("no mock matched this request")
                .expect(0)
                .create_async()
                .await;
        }
        let mut overrides = OriginOverrides::new();
        for origin in origins {
            overrides.add(origin, &server.url());
        }
        config.origins = overrides;
        let clock: Arc<dyn Clock> = config.clock.clone();
        let state = MemoryState::with_clock(clock);
        config.state = Arc::new(state.clone());
        let runtime = DestinationRuntime::with_config(destination, config)?;
        Ok(TestIntegration {
            runtime,
            server,
            capture: Capture::new(),
            state,
            strict: true,
            declared: Vec::new(),
            results: Vec::new(),
            multistatus: Vec::new(),
            refreshes: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Turns strict mocking on (default) or off.
    pub fn strict(mut self, on: bool) -> Self {
        self.strict = on;
        self
    }

    /// The mock server (for mockito features beyond [`TestIntegration::mock`]).
    pub fn server(&mut self) -> &mut ServerGuard {
        &mut self.server
    }

    /// The mock server's base URL.
    pub fn server_url(&self) -> String {
        self.server.url()
    }

    /// Declares a mock for `method` and the exact `path_and_query` (e.g.
    /// `/rest/dmpSegments?q=account&...`). Finish it with mockito's builder
    /// (`.with_status(..)`, `.match_body(..)`, `.create_async().await`).
    pub fn mock(&mut self, method: &str, path_and_query: &str) -> mockito::Mock {
        self.declared.push(format!("{method} {path_and_query}"));
        self.server.mock(method, path_and_query)
    }

    /// Answers `method path` with each of `responses` in turn (status, body), e.g. 429 then 500
    /// then 200; returns the mocks to assert.
    pub async fn mock_sequence(
        &mut self,
        method: &str,
        path_and_query: &str,
        responses: &[(usize, &str)],
    ) -> Vec<mockito::Mock> {
        let mut mocks = Vec::new();
        for (status, body) in responses {
            let m = self
                .mock(method, path_and_query)
                .with_status(*status)
                .with_header("content-type", "application/json")
                .with_body(*body)
                .expect(1)
                .create_async()
                .await;
            mocks.push(m);
        }
        mocks
    }

    /// The runtime under test.
    pub fn runtime(&self) -> &DestinationRuntime<D> {
        &self.runtime
    }

    /// The state cache the destination reads and writes.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// The result log of the last `test_action` (`Mappings resolved`, …).
    pub fn results(&self) -> &[ResultEntry] {
        &self.results
    }

    /// The per-event results of the last `test_batch_action`.
    pub fn multistatus(&self) -> &[MultiStatusNode] {
        &self.multistatus
    }

    /// The tokens handed to the token-refresh callback so far.
    pub fn token_refreshes(&self) -> Vec<RefreshedTokens> {
        self.refreshes.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The default mapping of an action: each field's `default`.
    pub fn default_mapping(&self, action: &str) -> Value {
        let mut m = Map::new();
        if let Some((_, fields)) = self.runtime.actions().find(|(d, _)| d.key == action) {
            for (key, field) in fields {
                if let Some(d) = &field.default {
                    m.insert(key.clone(), d.clone());
                }
            }
        }
        Value::Object(m)
    }

    fn options(&self, features: &Features) -> EventOptions {
        let seen = self.refreshes.clone();
        let cb: TokenRefreshCallback = Arc::new(move |t: &RefreshedTokens| {
            if let Ok(mut v) = seen.lock() {
                v.push(t.clone());
            }
        });
        EventOptions {
            features: features.clone(),
            on_token_refresh: Some(cb),
            capture: Some(self.capture.clone()),
            state: None,
        }
    }

    fn mapping_of(&self, action: &str, opts: &TestOptions) -> Value {
        let given = opts
            .mapping
            .clone()
            .unwrap_or_else(|| Value::Object(Map::new()));
        if !opts.use_default_mappings {
            return given;
        }
        let mut merged = match self.default_mapping(action) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Value::Object(g) = given {
            for (k, v) in g {
                merged.insert(k, v);
            }
        }
        Value::Object(merged)
    }

    fn stamp(opts: &TestOptions, i: u64) -> Stamp {
        match &opts.stamp {
            Some(Stamp::Fixed { seed, now_ms }) => Stamp::Fixed {
                seed: seed.wrapping_add(i),
                now_ms: *now_ms,
            },
            Some(Stamp::Now) => Stamp::Now,
            None => Stamp::Fixed {
                seed: i,
                now_ms: SystemClock.now_ms(),
            },
        }
    }

    /// Fails (panics, like an assertion) when strict and a request matched no mock; returns the
    /// exchanges of the call otherwise.
    fn finish(&mut self) -> Vec<Exchange> {
        let exchanges = self.capture.take();
        if self.strict {
            let unexpected: Vec<&Exchange> = exchanges
                .iter()
                .filter(|e| {
                    e.response
                        .as_ref()
                        .is_some_and(|r| r.header(UNMATCHED_HEADER).is_some())
                })
                .collect();
            if !unexpected.is_empty() {
                let mut msg = String::from("unexpected request(s) — no mock matched:\n");
                for e in &unexpected {
                    let r = e.request.redacted();
                    let _ = writeln!(msg, "  {} {}", r.method, r.url);
                    for (k, v) in &r.headers {
                        let _ = writeln!(msg, "    {k}: {v}");
                    }
                    if let Some(b) = &r.body {
                        let _ = writeln!(msg, "    body: {b}");
                    }
                }
                msg.push_str("declared mocks:\n");
                for d in &self.declared {
                    let _ = writeln!(msg, "  {d}");
                }
                if self.declared.is_empty() {
                    msg.push_str("  (none)\n");
                }
                panic!("{msg}");
            }
        }
        exchanges
    }

    /// Runs one action on one event — mapping, empty-value removal, validation, `perform` — with
    /// no subscription check and no OAuth retry (the reference's `testAction`). Returns every
    /// exchange; [`TestIntegration::results`] holds the result log.
    pub async fn test_action(
        &mut self,
        action: &str,
        opts: TestOptions,
    ) -> Result<Vec<Exchange>, Error> {
        let event = create_test_event(
            opts.event
                .clone()
                .unwrap_or_else(|| Value::Object(Map::new())),
            TestIntegration::<D>::stamp(&opts, 0),
        );
        let mapping = self.mapping_of(action, &opts);
        let settings = opts
            .settings
            .clone()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let eo = self.options(&opts.features);
        let r = self
            .runtime
            .execute_action(action, &event, &mapping, &settings, opts.auth.clone(), &eo)
            .await;
        let exchanges = self.finish();
        self.results = r?;
        Ok(exchanges)
    }

    /// Runs one action on a batch (the reference's `testBatchAction`); the per-event results
    /// are in [`TestIntegration::multistatus`].
    pub async fn test_batch_action(
        &mut self,
        action: &str,
        opts: TestOptions,
    ) -> Result<Vec<Exchange>, Error> {
        let sources = if opts.events.is_empty() {
            vec![serde_json::json!({"type": "track"})]
        } else {
            opts.events.clone()
        };
        let events: Vec<Value> = sources
            .into_iter()
            .enumerate()
            .map(|(i, e)| create_test_event(e, TestIntegration::<D>::stamp(&opts, i as u64)))
            .collect();
        let mapping = self.mapping_of(action, &opts);
        let settings = opts
            .settings
            .clone()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let eo = self.options(&opts.features);
        let r = self
            .runtime
            .execute_batch_action(action, &events, &mapping, &settings, opts.auth.clone(), &eo)
            .await;
        let exchanges = self.finish();
        self.multistatus = r?;
        Ok(exchanges)
    }

    /// Runs events through the full runtime (`on_event`: subscriptions, settings validation,
    /// the OAuth pipeline) with `settings` (which carry `subscription(s)`).
    pub async fn on_event(
        &mut self,
        event: &Value,
        settings: &Value,
        features: &Features,
    ) -> (Result<Vec<ResultEntry>, Error>, Vec<Exchange>) {
        let eo = self.options(features);
        let r = self.runtime.on_event(event, settings, &eo).await;
        (r, self.finish())
    }

    /// Runs a batch through the full runtime (`on_batch`).
    pub async fn on_batch(
        &mut self,
        events: &[Value],
        settings: &Value,
        features: &Features,
    ) -> (Result<Vec<ResultEntry>, Error>, Vec<Exchange>) {
        let eo = self.options(features);
        let r = self.runtime.on_batch(events, settings, &eo).await;
        (r, self.finish())
    }

    /// "Test connection" with `settings`.
    pub async fn test_authentication(&mut self, settings: &Value) -> Result<(), Error> {
        let eo = self.options(&Features::new());
        let r = self.runtime.test_authentication(settings, &eo).await;
        self.finish();
        r
    }

    /// Refreshes the token of `settings.oauth`.
    pub async fn refresh_access_token(
        &mut self,
        settings: &Value,
    ) -> Result<RefreshedTokens, Error> {
        let eo = self.options(&Features::new());
        let r = self.runtime.refresh_access_token(settings, &eo).await;
        self.finish();
        r
    }

    /// Fetches a dynamic field.
    pub async fn test_dynamic_field(
        &mut self,
        action: &str,
        field: &str,
        settings: &Value,
        payload: &Value,
    ) -> Result<DynamicFieldResponse, Error> {
        let eo = self.options(&Features::new());
        let r = self
            .runtime
            .execute_dynamic_field(action, field, settings, payload, &eo)
            .await;
        self.finish();
        r
    }

    /// Fetches the dynamic field of a hook input, with the hook inputs chosen so far.
    pub async fn test_hook_dynamic_field(
        &mut self,
        action: &str,
        field: &str,
        settings: &Value,
        hook_inputs: &Value,
    ) -> Result<DynamicFieldResponse, Error> {
        let eo = self.options(&Features::new());
        let empty = Value::Object(Map::new());
        let r = self
            .runtime
            .execute_hook_dynamic_field(action, field, settings, &empty, hook_inputs, &eo)
            .await;
        self.finish();
        r
    }

    /// Runs a hook.
    pub async fn test_hook(
        &mut self,
        action: &str,
        hook: &str,
        settings: &Value,
        inputs: &Value,
        outputs: Option<&Value>,
    ) -> Result<HookResult, Error> {
        let eo = self.options(&Features::new());
        let r = self
            .runtime
            .execute_hook(action, hook, settings, inputs, outputs, &eo)
            .await;
        self.finish();
        r
    }
}
