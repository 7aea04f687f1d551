//! The destination test harness: [`TestIntegration`] runs a destination's actions, hooks,
//! dynamic fields and authentication against a local mock server (mockito) that stands in for
//! the partner's origins, and returns what was sent.
//!
//! Mocking is **strict by default**: a request that no mock expected gets an error response and
//! fails the test (a panic, like an assertion) with a readable diff between the request and the
//! closest declared mock — method, path, query parameters, headers and body.
//!
//! Declare mocks with [`TestIntegration::expect_request`] (the harness sees every matcher and
//! can explain a mismatch) or, for mockito features beyond it, [`TestIntegration::mock`].
//!
//! ```no_run
//! # async fn demo<D: actions_core::Destination>(destination: D) {
//! use actions_testkit::{TestIntegration, TestOptions};
//! use serde_json::json;
//!
//! let mut t = TestIntegration::new(destination, &["https://api.example.com"]).await.unwrap();
//! let mock = t
//!     .expect_request("POST", "/v1/track")
//!     .match_json(json!({"event": "Signed Up"}))
//!     .respond_json(200, json!({"ok": true}))
//!     .create()
//!     .await;
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
use actions_core::context::{Clock, Features, MemoryState};
use actions_core::oauth::{AuthTokens, RefreshedTokens};
use actions_core::request::{
    Capture, Exchange, OriginOverrides, PreparedRequest, is_sensitive_header, is_sensitive_key,
    redact_body, redact_value,
};
use actions_core::runtime::TokenRefreshCallback;
use actions_core::{Destination, DestinationRuntime, Error, EventOptions, RuntimeConfig};
use mockito::{Matcher, ServerGuard};
use serde_json::{Map, Value};

use crate::event::{Stamp, create_test_event};

/// The marker header of the response to an unexpected request.
const UNMATCHED_HEADER: &str = "x-testkit-unmatched";
/// The status of the response to an unexpected request.
const UNMATCHED_STATUS: usize = 599;
/// The methods every catch-all mock covers.
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
/// At most this many body differences are listed per request.
const MAX_DIFF_LINES: usize = 40;
/// JSON deeper than this is compared as a whole, not member by member.
const MAX_DIFF_DEPTH: usize = 64;
/// Values shown in a report are cut after this many characters.
const MAX_SHOWN: usize = 200;

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
    /// How ids and timestamps of test events are made. Default: message ids derived from the
    /// event's index and timestamps from the runtime's clock — deterministic whenever the
    /// runtime has a fixed clock ([`TestIntegration::with_config`]).
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

    /// Sets how ids and timestamps of the test events are made.
    pub fn stamp(mut self, stamp: Stamp) -> Self {
        self.stamp = Some(stamp);
        self
    }
}

/// Conveniences on a captured [`Exchange`].
pub trait ExchangeExt {
    /// The request body parsed as JSON (`None` without a body or when it is not JSON).
    fn request_json(&self) -> Option<Value>;
    /// The response status (`None` when no response arrived).
    fn status(&self) -> Option<u16>;
    /// The request's path and query (`/v1/track?x=1`), without scheme and host.
    fn path_and_query(&self) -> &str;
}

impl ExchangeExt for Exchange {
    fn request_json(&self) -> Option<Value> {
        self.request
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
    }

    fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status())
    }

    fn path_and_query(&self) -> &str {
        path_and_query_of_url(&self.request.url)
    }
}

/// Runs a destination against a strict local mock server.
pub struct TestIntegration<D: Destination> {
    runtime: DestinationRuntime<D>,
    server: ServerGuard,
    capture: Capture,
    state: MemoryState,
    strict: bool,
    declared: Vec<Arc<DeclaredMock>>,
    unmatched: Vec<String>,
    last: Vec<Exchange>,
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
        for method in METHODS {
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
            unmatched: Vec::new(),
            last: Vec::new(),
            results: Vec::new(),
            multistatus: Vec::new(),
            refreshes: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Turns strict mocking on (default) or off. Off, an unexpected request still gets the
    /// error response (status 599) and its report is kept in
    /// [`TestIntegration::unmatched_requests`] instead of failing the test.
    pub fn strict(mut self, on: bool) -> Self {
        self.strict = on;
        self
    }

    /// The mock server (for mockito features beyond [`TestIntegration::mock`]). Mocks created
    /// directly on it are not known to the harness's diff.
    pub fn server(&mut self) -> &mut ServerGuard {
        &mut self.server
    }

    /// The mock server's base URL.
    pub fn server_url(&self) -> String {
        self.server.url()
    }

    /// Declares a mock for `method` and the exact `path_and_query` (e.g.
    /// `/rest/dmpSegments?q=account&...`; mockito compares the query string as written, in
    /// order). Finish it with mockito's builder (`.with_status(..)`, `.match_body(..)`,
    /// `.create_async().await`). The diff of an unexpected request can show this mock's method,
    /// path and query, but not matchers added on the builder; prefer
    /// [`TestIntegration::expect_request`] for those.
    pub fn mock(&mut self, method: &str, path_and_query: &str) -> mockito::Mock {
        self.declared
            .push(Arc::new(DeclaredMock::legacy(method, path_and_query)));
        self.server.mock(method, path_and_query)
    }

    /// Starts declaring a mock the harness fully understands: `method` and `path_and_query`
    /// (query parameters are compared as a set, in any order), plus optional body and header
    /// matchers and the response. See [`MockBuilder`].
    pub fn expect_request(&mut self, method: &str, path_and_query: &str) -> MockBuilder<'_, D> {
        MockBuilder {
            spec: DeclaredMock::new(method, path_and_query),
            harness: self,
            status: 200,
            response_headers: Vec::new(),
            response_body: None,
            hits: None,
        }
    }

    /// Answers `method path` with each of `responses` in turn (status, body), e.g. 429 then 500
    /// then 200; returns the mocks to assert. Once the sequence is used up, its last response
    /// repeats (and the last mock's assertion fails).
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

    /// Answers every request the declared mocks do not take: `GET` (and `HEAD`) with 200 and
    /// the JSON body `{}`, `POST`, `PUT`, `PATCH` and `DELETE` with 200 and no body — the
    /// reference's snapshot tests' `nock(/.*/).persist()`. With it no request is unexpected.
    pub async fn accept_all(&mut self) {
        for method in METHODS {
            let m = self
                .server
                .mock(method, Matcher::Any)
                .with_status(200)
                .expect_at_least(0);
            let m = if matches!(method, "GET" | "HEAD") {
                m.with_header("content-type", "application/json")
                    .with_body("{}")
            } else {
                m
            };
            m.create_async().await;
        }
    }

    /// The runtime under test.
    pub fn runtime(&self) -> &DestinationRuntime<D> {
        &self.runtime
    }

    /// The state cache the destination reads and writes.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// The result log of the last `test_action` (`Mappings resolved`, …); empty when it failed.
    pub fn results(&self) -> &[ResultEntry] {
        &self.results
    }

    /// The per-event results of the last `test_batch_action`; empty when it failed.
    pub fn multistatus(&self) -> &[MultiStatusNode] {
        &self.multistatus
    }

    /// The reports (diff against the closest declared mock) of the requests of the last call
    /// that no mock matched. With strict mocking these fail the test instead.
    pub fn unmatched_requests(&self) -> &[String] {
        &self.unmatched
    }

    /// The exchanges of the last call — also when it failed (what was sent before the error).
    pub fn last_exchanges(&self) -> &[Exchange] {
        &self.last
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

    fn stamp(&self, opts: &TestOptions, i: u64) -> Stamp {
        match &opts.stamp {
            Some(Stamp::Fixed { seed, now_ms }) => Stamp::Fixed {
                seed: seed.wrapping_add(i),
                now_ms: *now_ms,
            },
            Some(Stamp::Now) => Stamp::Now,
            None => Stamp::Fixed {
                seed: i,
                now_ms: self.runtime.config().clock.now_ms(),
            },
        }
    }

    /// Collects the exchanges of the call; reports the requests no mock matched and, when
    /// strict, fails (panics, like an assertion) with the reports.
    fn finish(&mut self) -> Vec<Exchange> {
        let exchanges = self.capture.take();
        self.unmatched = exchanges
            .iter()
            .filter(|e| {
                e.response
                    .as_ref()
                    .is_some_and(|r| r.header(UNMATCHED_HEADER).is_some())
            })
            .map(|e| unmatched_report(&e.request, &self.declared))
            .collect();
        self.last.clone_from(&exchanges);
        if self.strict && !self.unmatched.is_empty() {
            panic!("{}", self.unmatched.join("\n"));
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
            self.stamp(&opts, 0),
        );
        let mapping = self.mapping_of(action, &opts);
        let settings = opts
            .settings
            .clone()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let eo = self.options(&opts.features);
        self.results.clear();
        let r = self
            .runtime
            .execute_action(action, &event, &mapping, &settings, opts.auth.clone(), &eo)
            .await;
        let exchanges = self.finish();
        self.results = r?;
        Ok(exchanges)
    }

    /// Runs one action on a batch (the reference's `testBatchAction`; default events
    /// `[{"type": "track"}]`); the per-event results are in [`TestIntegration::multistatus`].
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
            .map(|(i, e)| create_test_event(e, self.stamp(&opts, i as u64)))
            .collect();
        let mapping = self.mapping_of(action, &opts);
        let settings = opts
            .settings
            .clone()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let eo = self.options(&opts.features);
        self.multistatus.clear();
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

    /// "Test connection" with `settings`; failures read `Credentials are invalid: …`.
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

    /// Fetches a dynamic field (`field`, `obj.key`, `obj.__keys__`, `arr.[N].sub`).
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

    /// Runs a hook (`onMappingSave`, …) with its inputs (validated against the hook's input
    /// fields) and previously saved outputs.
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

/// Declares one mock (from [`TestIntegration::expect_request`]): what the request must look
/// like and what to answer. Nothing is registered until [`MockBuilder::create`].
///
/// Matching: the method and path exactly; the query parameters as a set (any order; none when
/// the path declares none, unless [`MockBuilder::any_query`]); each declared header exactly
/// (name in any case); the body by the declared body matcher. The response defaults to 200
/// with no body.
pub struct MockBuilder<'a, D: Destination> {
    harness: &'a mut TestIntegration<D>,
    spec: DeclaredMock,
    status: u16,
    response_headers: Vec<(String, String)>,
    response_body: Option<String>,
    hits: Option<usize>,
}

impl<D: Destination> MockBuilder<'_, D> {
    /// The body must be exactly this JSON (member order does not matter).
    pub fn match_json(mut self, body: Value) -> Self {
        self.spec.body = Some(ExpectedBody::Json(body));
        self
    }

    /// The body must be JSON containing these members (objects may have more members, arrays
    /// more trailing items).
    pub fn match_partial_json(mut self, body: Value) -> Self {
        self.spec.body = Some(ExpectedBody::PartialJson(body));
        self
    }

    /// The body must be exactly this text.
    pub fn match_text(mut self, body: impl Into<String>) -> Self {
        self.spec.body = Some(ExpectedBody::Text(body.into()));
        self
    }

    /// The body must be a form (`application/x-www-form-urlencoded`) holding these fields
    /// (among others).
    pub fn match_form<K: Into<String>, V: Into<String>>(
        mut self,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.spec.body = Some(ExpectedBody::Form(
            fields
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ));
        self
    }

    /// The request must carry this header with exactly this value.
    pub fn match_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.spec
            .headers
            .push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Any query string is accepted.
    pub fn any_query(mut self) -> Self {
        self.spec.query = QueryRule::Any;
        self
    }

    /// Answers with `status` and no body.
    pub fn respond(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Answers with `status` and a JSON body (`content-type: application/json`).
    pub fn respond_json(mut self, status: u16, body: Value) -> Self {
        self.status = status;
        self.response_headers
            .push(("content-type".to_string(), "application/json".to_string()));
        self.response_body = Some(body.to_string());
        self
    }

    /// Answers with `status` and a text body.
    pub fn respond_text(mut self, status: u16, body: impl Into<String>) -> Self {
        self.status = status;
        self.response_body = Some(body.into());
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.response_headers
            .push((name.to_string(), value.to_string()));
        self
    }

    /// Expects exactly `hits` matching requests (checked by the returned mock's
    /// `assert_async`). By default a mock expects one request but answers any number.
    pub fn times(mut self, hits: usize) -> Self {
        self.hits = Some(hits);
        self
    }

    /// Registers the mock; returns mockito's handle (`assert_async`, `matched_async`,
    /// `remove_async`).
    ///
    /// # Panics
    /// Like mockito, when the status is outside 100..=999 or a header name is invalid — a
    /// mistake in the test's declaration.
    pub async fn create(self) -> mockito::Mock {
        let spec = Arc::new(self.spec);
        let matcher = spec.clone();
        let mut m = self
            .harness
            .server
            .mock(&spec.method, Matcher::Any)
            .match_request(move |req| matcher.compare(&SeenRequest::from_mockito(req)).is_empty())
            .with_status(usize::from(self.status));
        for (k, v) in &self.response_headers {
            m = m.with_header(k.as_str(), v);
        }
        if let Some(body) = self.response_body {
            m = m.with_body(body);
        }
        if let Some(n) = self.hits {
            m = m.expect(n);
        }
        let m = m.create_async().await;
        self.harness.declared.push(spec);
        m
    }
}

/// A body a declared mock expects.
#[derive(Clone, Debug, PartialEq)]
enum ExpectedBody {
    Json(Value),
    PartialJson(Value),
    Text(String),
    Form(Vec<(String, String)>),
}

impl ExpectedBody {
    fn describe(&self) -> &'static str {
        match self {
            ExpectedBody::Json(_) => "exact JSON",
            ExpectedBody::PartialJson(_) => "partial JSON",
            ExpectedBody::Text(_) => "exact text",
            ExpectedBody::Form(_) => "form fields",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum QueryRule {
    /// These parameters, in any order, and no others.
    Exact(Vec<(String, String)>),
    /// Any query.
    Any,
    /// The raw query string exactly (mocks declared with `mock()`).
    Raw(String),
}

/// A declared mock as the harness sees it.
#[derive(Clone, Debug)]
struct DeclaredMock {
    method: String,
    path: String,
    raw_query: String,
    query: QueryRule,
    headers: Vec<(String, String)>,
    body: Option<ExpectedBody>,
    /// Declared with `mock()`: mockito matchers added on the builder are invisible.
    legacy: bool,
}

impl DeclaredMock {
    fn new(method: &str, path_and_query: &str) -> Self {
        let (path, raw_query) = split_path_and_query(path_and_query);
        DeclaredMock {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            query: QueryRule::Exact(parse_query(raw_query)),
            raw_query: raw_query.to_string(),
            headers: Vec::new(),
            body: None,
            legacy: false,
        }
    }

    fn legacy(method: &str, path_and_query: &str) -> Self {
        let (path, raw_query) = split_path_and_query(path_and_query);
        DeclaredMock {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            query: QueryRule::Raw(raw_query.to_string()),
            raw_query: raw_query.to_string(),
            headers: Vec::new(),
            body: None,
            legacy: true,
        }
    }

    fn describe(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        if !self.raw_query.is_empty() {
            s.push('?');
            s.push_str(&self.raw_query);
        }
        if self.query == QueryRule::Any {
            s.push_str(" (any query)");
        }
        for (k, _) in &self.headers {
            let _ = write!(s, " [header {k}]");
        }
        if let Some(b) = &self.body {
            let _ = write!(s, " [{} body]", b.describe());
        }
        if self.legacy {
            s.push_str(" [mock(): builder matchers not shown]");
        }
        s
    }

    /// Every difference between this mock and a request (empty: it matches).
    fn compare(&self, seen: &SeenRequest) -> Vec<Mismatch> {
        let mut out = Vec::new();
        if self.method != seen.method {
            out.push(Mismatch::Method {
                expected: self.method.clone(),
                sent: seen.method.clone(),
            });
        }
        if self.path != seen.path {
            out.push(Mismatch::Path {
                expected: self.path.clone(),
                sent: seen.path.clone(),
            });
        }
        match &self.query {
            QueryRule::Any => {}
            QueryRule::Exact(expected) => {
                let sent = parse_query(&seen.raw_query);
                let (missing, unexpected) = multiset_difference(expected, &sent);
                out.extend(missing.into_iter().map(Mismatch::QueryMissing));
                out.extend(unexpected.into_iter().map(Mismatch::QueryUnexpected));
            }
            QueryRule::Raw(expected) => {
                if *expected != seen.raw_query {
                    let same_set = {
                        let (m, u) = multiset_difference(
                            &parse_query(expected),
                            &parse_query(&seen.raw_query),
                        );
                        m.is_empty() && u.is_empty()
                    };
                    out.push(Mismatch::RawQuery {
                        expected: expected.clone(),
                        sent: seen.raw_query.clone(),
                        same_set,
                    });
                }
            }
        }
        for (name, value) in &self.headers {
            let sent = seen
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone());
            if sent.as_deref() != Some(value.as_str()) {
                out.push(Mismatch::Header {
                    name: name.clone(),
                    expected: value.clone(),
                    sent,
                });
            }
        }
        if let Some(body) = &self.body {
            let mut lines = Vec::new();
            compare_body(body, seen.body.as_deref(), &mut lines);
            if !lines.is_empty() {
                out.push(Mismatch::Body {
                    kind: body.describe(),
                    lines,
                });
            }
        }
        out
    }
}

/// One difference between a declared mock and a request.
#[derive(Debug)]
enum Mismatch {
    Method {
        expected: String,
        sent: String,
    },
    Path {
        expected: String,
        sent: String,
    },
    QueryMissing((String, String)),
    QueryUnexpected((String, String)),
    RawQuery {
        expected: String,
        sent: String,
        same_set: bool,
    },
    Header {
        name: String,
        expected: String,
        sent: Option<String>,
    },
    Body {
        kind: &'static str,
        lines: Vec<String>,
    },
}

impl Mismatch {
    /// How far this difference puts a mock from the request (lower: closer).
    fn weight(&self) -> usize {
        match self {
            Mismatch::Method { .. } => 8,
            Mismatch::Path { expected, sent } => 4 + segment_distance(expected, sent),
            Mismatch::Body { .. } => 2,
            _ => 1,
        }
    }
}

fn segment_distance(a: &str, b: &str) -> usize {
    let a: Vec<&str> = a.split('/').collect();
    let b: Vec<&str> = b.split('/').collect();
    let common = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    a.len().max(b.len()) - common
}

/// A request reduced to what mocks compare.
struct SeenRequest {
    method: String,
    path: String,
    raw_query: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl SeenRequest {
    fn from_prepared(r: &PreparedRequest) -> Self {
        let (path, raw_query) = split_path_and_query(path_and_query_of_url(&r.url));
        SeenRequest {
            method: r.method.clone(),
            path: path.to_string(),
            raw_query: raw_query.to_string(),
            headers: r.headers.clone(),
            body: r.body.clone().filter(|b| !b.is_empty()),
        }
    }

    fn from_mockito(r: &mockito::Request) -> Self {
        let (path, raw_query) = split_path_and_query(r.path_and_query());
        SeenRequest {
            method: r.method().to_string(),
            path: path.to_string(),
            raw_query: raw_query.to_string(),
            headers: r
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: r
                .utf8_lossy_body()
                .ok()
                .map(|b| b.into_owned())
                .filter(|b| !b.is_empty()),
        }
    }
}

/// `/path?query` of an absolute URL (the whole string when it has no scheme), without any
/// fragment.
fn path_and_query_of_url(url: &str) -> &str {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            match after.find(['/', '?']) {
                Some(j) => &after[j..],
                None => "",
            }
        }
        None => url,
    };
    match rest.find('#') {
        Some(i) => &rest[..i],
        None => rest,
    }
}

fn split_path_and_query(s: &str) -> (&str, &str) {
    match s.split_once('?') {
        Some((p, q)) => (p, q),
        None => (s, ""),
    }
}

fn parse_query(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Name/value pairs (query parameters, form fields).
type Pairs = Vec<(String, String)>;

/// (in `expected` but not `sent`, in `sent` but not `expected`), counting repeats.
fn multiset_difference(expected: &[(String, String)], sent: &[(String, String)]) -> (Pairs, Pairs) {
    let mut remaining: Vec<Option<&(String, String)>> = sent.iter().map(Some).collect();
    let mut missing = Vec::new();
    for pair in expected {
        match remaining.iter_mut().find(|s| s.is_some_and(|s| s == pair)) {
            Some(slot) => *slot = None,
            None => missing.push(pair.clone()),
        }
    }
    let unexpected = remaining.into_iter().flatten().cloned().collect();
    (missing, unexpected)
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_SHOWN {
        return s.to_string();
    }
    let mut t: String = s.chars().take(MAX_SHOWN).collect();
    t.push('…');
    t
}

/// Whether `v` nests deeper than `limit` (looks no deeper than that).
fn deeper_than(v: &Value, limit: usize) -> bool {
    match v {
        Value::Object(_) | Value::Array(_) if limit == 0 => true,
        Value::Object(o) => o.values().any(|x| deeper_than(x, limit - 1)),
        Value::Array(a) => a.iter().any(|x| deeper_than(x, limit - 1)),
        _ => false,
    }
}

/// `a == b`, looking at most `limit` levels deep (deeper values count as different).
fn bounded_eq(a: &Value, b: &Value, limit: usize) -> bool {
    match (a, b) {
        (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_)) if limit == 0 => {
            false
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| bounded_eq(v, w, limit - 1)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| bounded_eq(v, w, limit - 1))
        }
        _ => a == b,
    }
}

fn shown(v: &Value, sensitive: bool) -> String {
    if sensitive && !v.is_object() && !v.is_array() {
        return "\"<redacted>\"".to_string();
    }
    if deeper_than(v, MAX_DIFF_DEPTH) {
        return "(a value nested too deeply to show)".to_string();
    }
    let mut v = v.clone();
    redact_value(&mut v);
    cut(&v.to_string())
}

fn member_path(base: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!("{base}.{key}")
    } else {
        format!("{base}[{}]", Value::String(key.to_string()))
    }
}

fn compare_body(expected: &ExpectedBody, sent: Option<&str>, out: &mut Vec<String>) {
    match expected {
        ExpectedBody::Json(e) | ExpectedBody::PartialJson(e) => {
            let partial = matches!(expected, ExpectedBody::PartialJson(_));
            let Some(text) = sent else {
                out.push(format!("- {}", shown(e, false)));
                out.push("+ (no body)".to_string());
                return;
            };
            match serde_json::from_str::<Value>(text) {
                Ok(s) => {
                    let mut diff = DiffLines::default();
                    json_diff("$", e, &s, partial, false, 0, &mut diff);
                    out.append(&mut diff.lines);
                    if diff.truncated > 0 {
                        out.push(format!("… and {} more differences", diff.truncated));
                    }
                }
                Err(_) => {
                    out.push(format!("- {}", shown(e, false)));
                    out.push(format!("+ (not JSON) {}", cut(&redact_body(text))));
                }
            }
        }
        ExpectedBody::Text(e) => {
            let s = sent.unwrap_or("");
            if e != s {
                out.push(format!("- {}", cut(&redact_body(e))));
                out.push(format!("+ {}", cut(&redact_body(s))));
                let at = e
                    .char_indices()
                    .zip(s.chars())
                    .find(|((_, a), b)| a != b)
                    .map(|((i, _), _)| i)
                    .unwrap_or_else(|| e.len().min(s.len()));
                out.push(format!("  (first difference at byte {at})"));
            }
        }
        ExpectedBody::Form(fields) => {
            let sent_fields = sent.map(parse_query).unwrap_or_default();
            for (k, v) in fields {
                if !sent_fields.iter().any(|(sk, sv)| sk == k && sv == v) {
                    let shown_v = if is_sensitive_key(k) { "<redacted>" } else { v };
                    let sent_v = sent_fields.iter().find(|(sk, _)| sk == k).map(|(_, sv)| {
                        if is_sensitive_key(k) {
                            "<redacted>"
                        } else {
                            sv
                        }
                    });
                    out.push(format!("- {k}={shown_v}"));
                    match sent_v {
                        Some(sv) => out.push(format!("+ {k}={sv}")),
                        None => out.push(format!("+ ({k} not sent)")),
                    }
                }
            }
        }
    }
}

/// Difference lines, at most [`MAX_DIFF_LINES`]; the rest are counted.
#[derive(Default)]
struct DiffLines {
    lines: Vec<String>,
    truncated: usize,
}

impl DiffLines {
    fn push(&mut self, line: String) {
        if self.lines.len() < MAX_DIFF_LINES {
            self.lines.push(line);
        } else {
            self.truncated += 1;
        }
    }
}

/// Lists the differences between `expected` and `sent` as `path: - expected + sent` lines.
fn json_diff(
    path: &str,
    expected: &Value,
    sent: &Value,
    partial: bool,
    sensitive: bool,
    depth: usize,
    out: &mut DiffLines,
) {
    if depth > MAX_DIFF_DEPTH {
        if !bounded_eq(expected, sent, 4 * MAX_DIFF_DEPTH) {
            out.push(format!(
                "{path}: differs (nested too deeply to compare further)"
            ));
        }
        return;
    }
    match (expected, sent) {
        (Value::Object(e), Value::Object(s)) => {
            for (k, ev) in e {
                let p = member_path(path, k);
                let sens = is_sensitive_key(k);
                match s.get(k) {
                    Some(sv) => json_diff(&p, ev, sv, partial, sens, depth + 1, out),
                    None => out.push(format!("{p}: - {} + (missing)", shown(ev, sens))),
                }
            }
            if !partial {
                for (k, sv) in s {
                    if !e.contains_key(k) {
                        let p = member_path(path, k);
                        out.push(format!(
                            "{p}: - (not expected) + {}",
                            shown(sv, is_sensitive_key(k))
                        ));
                    }
                }
            }
        }
        (Value::Array(e), Value::Array(s)) => {
            for (i, ev) in e.iter().enumerate() {
                let p = format!("{path}[{i}]");
                match s.get(i) {
                    Some(sv) => json_diff(&p, ev, sv, partial, false, depth + 1, out),
                    None => out.push(format!("{p}: - {} + (missing)", shown(ev, false))),
                }
            }
            if !partial {
                for (i, sv) in s.iter().enumerate().skip(e.len()) {
                    out.push(format!(
                        "{path}[{i}]: - (not expected) + {}",
                        shown(sv, false)
                    ));
                }
            }
        }
        (e, s) => {
            if !bounded_eq(e, s, 1) {
                out.push(format!(
                    "{path}: - {} + {}",
                    shown(e, sensitive),
                    shown(s, sensitive)
                ));
            }
        }
    }
}

/// The report of a request no mock matched: the request (secrets redacted), the differences
/// with the closest declared mock, and every declared mock.
fn unmatched_report(request: &PreparedRequest, declared: &[Arc<DeclaredMock>]) -> String {
    let seen = SeenRequest::from_prepared(request);
    let shown_request = request.redacted();
    let mut msg = String::from("unexpected request — no mock matched it:\n");
    let _ = writeln!(msg, "  {} {}", shown_request.method, shown_request.url);
    for (k, v) in &shown_request.headers {
        let _ = writeln!(msg, "    {k}: {v}");
    }
    if let Some(b) = &shown_request.body {
        let _ = writeln!(msg, "    body: {}", cut(b));
    }
    if declared.is_empty() {
        msg.push_str(
            "no mocks were declared (declare one with `expect_request` or `mock`, or call \
             `accept_all`)\n",
        );
        return msg;
    }
    let scored: Vec<(usize, Vec<Mismatch>)> = declared
        .iter()
        .map(|d| {
            let m = d.compare(&seen);
            (m.iter().map(Mismatch::weight).sum(), m)
        })
        .collect();
    let closest = scored
        .iter()
        .enumerate()
        .min_by_key(|(i, (score, _))| (*score, *i))
        .map(|(i, _)| i)
        .unwrap_or(0);
    if let (Some(mock), Some((_, mismatches))) = (declared.get(closest), scored.get(closest)) {
        let _ = writeln!(
            msg,
            "closest declared mock (#{} of {}): {}",
            closest + 1,
            declared.len(),
            mock.describe()
        );
        if mismatches.is_empty() {
            msg.push_str(
                "  every part the harness can see matches: a matcher added on the mockito \
                 builder (or an exhausted `times`) rejected the request\n",
            );
        } else {
            msg.push_str("  differences (- expected, + sent):\n");
            render_mismatches(mismatches, &mut msg);
        }
    }
    msg.push_str("declared mocks:\n");
    for (i, d) in declared.iter().enumerate() {
        let _ = writeln!(msg, "  #{} {}", i + 1, d.describe());
    }
    msg
}

fn render_mismatches(mismatches: &[Mismatch], msg: &mut String) {
    let mut query_header = false;
    for m in mismatches {
        match m {
            Mismatch::Method { expected, sent } => {
                let _ = writeln!(msg, "  method: - {expected} + {sent}");
            }
            Mismatch::Path { expected, sent } => {
                let _ = writeln!(msg, "  path:\n    - {expected}\n    + {sent}");
            }
            Mismatch::QueryMissing((k, v)) | Mismatch::QueryUnexpected((k, v)) => {
                if !query_header {
                    msg.push_str("  query parameters:\n");
                    query_header = true;
                }
                let v = if is_sensitive_key(k) { "<redacted>" } else { v };
                if matches!(m, Mismatch::QueryMissing(_)) {
                    let _ = writeln!(msg, "    - {k}={v}  (missing)");
                } else {
                    let _ = writeln!(msg, "    + {k}={v}  (not expected)");
                }
            }
            Mismatch::RawQuery {
                expected,
                sent,
                same_set,
            } => {
                let _ = writeln!(
                    msg,
                    "  query string (mock() compares it exactly, as written):\n    - {}\n    + {}",
                    redact_body(expected),
                    redact_body(sent)
                );
                if *same_set {
                    msg.push_str(
                        "    (same parameters in another order or encoding: `expect_request` \
                         compares them as a set)\n",
                    );
                }
            }
            Mismatch::Header {
                name,
                expected,
                sent,
            } => {
                let secret = is_sensitive_header(name);
                let e = if secret { "<redacted>" } else { expected };
                let s = match sent {
                    None => "(absent)".to_string(),
                    Some(_) if secret => "<redacted, differs>".to_string(),
                    Some(s) => s.clone(),
                };
                let _ = writeln!(msg, "  header {name}: - {e} + {s}");
            }
            Mismatch::Body { kind, lines } => {
                let _ = writeln!(msg, "  body ({kind}):");
                for l in lines {
                    let _ = writeln!(msg, "    {l}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seen(method: &str, url: &str, body: Option<&str>) -> SeenRequest {
        SeenRequest::from_prepared(&PreparedRequest {
            method: method.to_string(),
            url: url.to_string(),
            headers: vec![("authorization".into(), "Bearer SECRET-TOKEN".into())],
            body: body.map(str::to_string),
        })
    }

    #[test]
    fn paths_of_urls() {
        assert_eq!(path_and_query_of_url("https://a.b/x/y?q=1#f"), "/x/y?q=1");
        assert_eq!(path_and_query_of_url("https://a.b?q=1"), "?q=1");
        assert_eq!(path_and_query_of_url("https://a.b"), "");
        assert_eq!(path_and_query_of_url("/x?y"), "/x?y");
    }

    #[test]
    fn query_parameters_compare_as_a_multiset() {
        let m = DeclaredMock::new("get", "/x?a=1&b=2&a=1");
        assert!(
            m.compare(&seen("GET", "https://h/x?b=2&a=1&a=1", None))
                .is_empty()
        );
        let diff = m.compare(&seen("GET", "https://h/x?b=2&a=1&c=%20", None));
        assert!(
            matches!(&diff[..], [Mismatch::QueryMissing((k, v)), Mismatch::QueryUnexpected((k2, v2))]
            if k == "a" && v == "1" && k2 == "c" && v2 == " ")
        );
    }

    #[test]
    fn json_diff_lists_each_difference_with_its_path() {
        let mut out = DiffLines::default();
        json_diff(
            "$",
            &json!({"a": 1, "b": {"c": [1, 2]}, "password": "p1", "odd key": true}),
            &json!({"a": 2, "b": {"c": [1]}, "password": "p2", "x": null, "odd key": true}),
            false,
            false,
            0,
            &mut out,
        );
        assert_eq!(
            out.lines,
            vec![
                "$.a: - 1 + 2",
                "$.b.c[1]: - 2 + (missing)",
                "$.password: - \"<redacted>\" + \"<redacted>\"",
                "$.x: - (not expected) + null",
            ]
        );
        let mut out = DiffLines::default();
        json_diff(
            "$",
            &json!({"a": [1]}),
            &json!({"a": [1, 2], "z": 0}),
            true,
            false,
            0,
            &mut out,
        );
        assert!(out.lines.is_empty(), "{:?}", out.lines);
    }

    #[test]
    fn deep_json_diff_is_bounded() {
        let mut e = json!(1);
        let mut s = json!(2);
        for _ in 0..300 {
            e = json!([e]);
            s = json!([s]);
        }
        let mut out = DiffLines::default();
        json_diff("$", &e, &s, false, false, 0, &mut out);
        assert_eq!(out.lines.len(), 1);
        assert!(
            out.lines[0].contains("nested too deeply"),
            "{:?}",
            out.lines
        );
        let mut same = DiffLines::default();
        json_diff("$", &e, &e.clone(), false, false, 0, &mut same);
        assert!(same.lines.is_empty(), "equal deep values match");
        assert_eq!(shown(&e, false), "(a value nested too deeply to show)");
    }

    #[test]
    fn a_long_diff_is_cut() {
        let e: Map<String, Value> = (0..100).map(|i| (format!("k{i}"), json!(i))).collect();
        let mut out = Vec::new();
        compare_body(&ExpectedBody::Json(Value::Object(e)), Some("{}"), &mut out);
        assert_eq!(out.len(), MAX_DIFF_LINES + 1);
        assert_eq!(
            out.last().map(String::as_str),
            Some("… and 60 more differences")
        );
    }

    #[test]
    fn form_and_text_bodies() {
        let mut out = Vec::new();
        compare_body(
            &ExpectedBody::Form(vec![
                ("grant_type".into(), "refresh_token".into()),
                ("client_secret".into(), "CS".into()),
            ]),
            Some("grant_type=refresh_token&client_secret=OTHER"),
            &mut out,
        );
        assert_eq!(
            out,
            vec!["- client_secret=<redacted>", "+ client_secret=<redacted>"]
        );
        out.clear();
        compare_body(&ExpectedBody::Text("hello".into()), Some("help"), &mut out);
        assert_eq!(
            out,
            vec!["- hello", "+ help", "  (first difference at byte 3)"]
        );
    }
}
