//! LinkedIn golden cases (`conformance/linkedin/*.json`): load a case, run it against any
//! destination with the case's settings, clock, environment, feature flags and state, replay the
//! recorded responses from a local server, and compare what was sent and what came out.
//!
//! The answer format is `conformance/CLI.md`'s `execute --case`: `{"ok": true, "result": R,
//! "token_refreshes": [...]}` or `{"ok": false, "error": {"class", "message", "status"?,
//! "code"?}, "token_refreshes": [...]}`.
//!
//! ```no_run
//! # async fn demo<D: actions_core::Destination>(make: impl Fn() -> D) {
//! use actions_testkit::golden::{GoldenCase, replay_case};
//! let case = GoldenCase::load("conformance/linkedin/001.json".as_ref()).unwrap();
//! let problems = replay_case(make(), &case).await;
//! assert!(problems.is_empty(), "{problems:?}");
//! # }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use actions_core::context::Features;
use actions_core::context::{FixedClock, MapEnv, MemoryState, StateContext, Ttl};
use actions_core::oauth::RefreshedTokens;
use actions_core::request::OriginOverrides;
use actions_core::runtime::TokenRefreshCallback;
use actions_core::{
    AnyRuntime, Destination, DestinationRuntime, Error, EventOptions, RuntimeConfig,
};
use serde_json::{Map, Value, json};

/// The origins a LinkedIn case talks to.
pub const LINKEDIN_ORIGINS: [&str; 2] = ["https://api.linkedin.com", "https://www.linkedin.com"];

/// One golden case.
#[derive(Clone, Debug)]
pub struct GoldenCase {
    /// The whole case as JSON.
    pub raw: Value,
}

impl GoldenCase {
    /// Reads a case file.
    pub fn load(path: &Path) -> Result<GoldenCase, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let raw: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        GoldenCase::from_json(raw)
    }

    /// Wraps a parsed case (it must be an object with `destination`, `action`, `mode`).
    pub fn from_json(raw: Value) -> Result<GoldenCase, String> {
        for key in ["destination", "action", "mode"] {
            if raw.get(key).and_then(Value::as_str).is_none() {
                return Err(format!("the case has no string member {key:?}"));
            }
        }
        Ok(GoldenCase { raw })
    }

    /// Every case file (`NNN.json`) of a folder, sorted.
    pub fn load_dir(dir: &Path) -> Result<Vec<(String, GoldenCase)>, String> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let name = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .to_string();
                GoldenCase::load(&p).map(|c| (name, c))
            })
            .collect()
    }

    fn str(&self, key: &str) -> &str {
        self.raw.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// The case name.
    pub fn name(&self) -> &str {
        self.str("name")
    }

    /// The destination crate slug (`linkedin-conversions`, `linkedin-audiences`).
    pub fn destination(&self) -> &str {
        self.str("destination")
    }

    /// The action key.
    pub fn action(&self) -> &str {
        self.str("action")
    }

    /// `event`, `batch`, `hook`, `dynamic` or `auth`.
    pub fn mode(&self) -> &str {
        self.str("mode")
    }

    /// The expected requests (each with its recorded `response`).
    pub fn expected_requests(&self) -> &[Value] {
        self.raw
            .pointer("/expected/requests")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

fn error_json(e: &Error) -> Value {
    let mut m = Map::new();
    m.insert("class".into(), json!(e.class().name()));
    m.insert("message".into(), json!(e.message()));
    if let Some(s) = e.status() {
        m.insert("status".into(), json!(s));
    }
    if let Some(c) = e.code() {
        m.insert("code".into(), json!(c));
    }
    Value::Object(m)
}

/// Builds a runtime for a configuration (what a destination registry provides).
pub type RuntimeFactory<'a> =
    Box<dyn FnOnce(RuntimeConfig) -> Result<Box<dyn AnyRuntime>, Error> + Send + 'a>;

/// Runs a case with `destination`, sending to the origins `redirects` maps (e.g. a replay
/// server), and returns the `execute --case` answer.
pub async fn run_case<D: Destination>(
    destination: D,
    case: &GoldenCase,
    redirects: OriginOverrides,
) -> Value {
    let make: RuntimeFactory<'_> = Box::new(move |config| {
        DestinationRuntime::with_config(destination, config)
            .map(|r| Box::new(r) as Box<dyn AnyRuntime>)
    });
    run_case_with(make, case, redirects).await
}

/// [`run_case`] for a type-erased destination: `make` builds the runtime from the case's
/// configuration (clock, environment, state, origins).
pub async fn run_case_with(
    make: RuntimeFactory<'_>,
    case: &GoldenCase,
    redirects: OriginOverrides,
) -> Value {
    let raw = &case.raw;
    let clock = Arc::new(FixedClock::new(
        raw.get("clock_now_ms").and_then(Value::as_i64).unwrap_or(0),
    ));
    let state = MemoryState::with_clock(clock.clone());
    if let Some(Value::Object(entries)) = raw.get("state_context") {
        for (k, v) in entries {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            state.set(k, value, Ttl::NONE);
        }
    }
    let env: HashMap<String, String> = raw
        .get("env")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let config = RuntimeConfig {
        clock: clock.clone(),
        env: Arc::new(MapEnv(env)),
        state: Arc::new(state),
        origins: redirects,
        http: None,
        propagation_refresh_cooldown: std::time::Duration::ZERO,
        refresh_coordinator: None,
    };
    let refreshes: Arc<Mutex<Vec<Value>>> = Arc::new(Mutex::new(Vec::new()));
    let seen = refreshes.clone();
    let callback: TokenRefreshCallback = Arc::new(move |t: &RefreshedTokens| {
        if let Ok(mut v) = seen.lock() {
            v.push(json!({"accessToken": t.access_token.expose()}));
        }
    });
    let opts = EventOptions {
        features: Features::from_json(raw.get("features").unwrap_or(&Value::Null)),
        on_token_refresh: Some(callback),
        capture: None,
        state: None,
    };
    let result: Result<Value, Error> = async {
        let runtime = make(config)?;
        let mut settings = raw.get("settings").cloned().unwrap_or_else(|| json!({}));
        let empty = json!({});
        match case.mode() {
            "event" | "batch" => {
                if let Value::Object(s) = &mut settings {
                    s.insert(
                        "subscription".into(),
                        json!({
                            "partnerAction": case.action(),
                            "subscribe": raw.get("subscribe").cloned().unwrap_or(Value::Null),
                            "mapping": raw.get("mapping").cloned().unwrap_or_else(|| json!({})),
                        }),
                    );
                }
                let input = raw.get("input").unwrap_or(&Value::Null);
                let results = if case.mode() == "event" {
                    runtime.on_event(input, &settings, &opts).await?
                } else {
                    let events = input.as_array().map(Vec::as_slice).unwrap_or(&[]);
                    runtime.on_batch(events, &settings, &opts).await?
                };
                serde_json::to_value(results).map_err(|e| Error::plain(e.to_string()))
            }
            "hook" => {
                let r = runtime
                    .execute_hook(
                        case.action(),
                        raw.get("hook")
                            .and_then(Value::as_str)
                            .unwrap_or("onMappingSave"),
                        &settings,
                        raw.get("hook_inputs").unwrap_or(&empty),
                        raw.get("hook_outputs")
                            .filter(|v| v.as_object().is_some_and(|o| !o.is_empty())),
                        &opts,
                    )
                    .await?;
                serde_json::to_value(r).map_err(|e| Error::plain(e.to_string()))
            }
            "dynamic" => {
                let r = runtime
                    .execute_hook_dynamic_field(
                        case.action(),
                        raw.get("field").and_then(Value::as_str).unwrap_or(""),
                        &settings,
                        raw.get("mapping")
                            .filter(|v| v.is_object())
                            .unwrap_or(&empty),
                        raw.get("hook_inputs")
                            .filter(|v| v.is_object())
                            .unwrap_or(&empty),
                        &opts,
                    )
                    .await?;
                serde_json::to_value(r).map_err(|e| Error::plain(e.to_string()))
            }
            "auth" => {
                runtime.test_authentication(&settings, &opts).await?;
                Ok(Value::Bool(true))
            }
            other => Err(Error::plain(format!("unknown mode {other:?}"))),
        }
    }
    .await;
    let token_refreshes = refreshes.lock().map(|v| v.clone()).unwrap_or_default();
    match result {
        Ok(r) => json!({"ok": true, "result": r, "token_refreshes": token_refreshes}),
        Err(e) => json!({"ok": false, "error": error_json(&e), "token_refreshes": token_refreshes}),
    }
}

/// One request a [`ReplayServer`] received.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    /// Method.
    pub method: String,
    /// The origin it was addressed to plus the raw path and query.
    pub url: String,
    /// Headers, lower-case names.
    pub headers: HashMap<String, String>,
    /// The body text.
    pub body: String,
}

struct ReplayState {
    responses: Vec<Value>,
    received: Vec<ReceivedRequest>,
}

/// A local server standing in for several origins: it answers the i-th request (whatever the
/// origin) with the i-th recorded response and records what it received.
pub struct ReplayServer {
    state: Arc<Mutex<ReplayState>>,
    urls: Vec<(String, String)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ReplayServer {
    /// Starts one listener per origin, answering with `responses` in order (599 once they run
    /// out).
    pub async fn start(origins: &[&str], responses: Vec<Value>) -> std::io::Result<ReplayServer> {
        let state = Arc::new(Mutex::new(ReplayState {
            responses,
            received: Vec::new(),
        }));
        let mut urls = Vec::new();
        let mut tasks = Vec::new();
        for origin in origins {
            let listener =
                tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            let addr = listener.local_addr()?;
            let st = state.clone();
            let origin_s = origin.to_string();
            let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
                let st = st.clone();
                let origin = origin_s.clone();
                async move { replay(st, origin, req).await }
            });
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
            urls.push((origin.to_string(), format!("http://{addr}")));
        }
        Ok(ReplayServer { state, urls, tasks })
    }

    /// Origin overrides pointing every origin at this server.
    pub fn overrides(&self) -> OriginOverrides {
        let mut o = OriginOverrides::new();
        for (origin, url) in &self.urls {
            o.add(origin, url);
        }
        o
    }

    /// `(origin, local URL)` pairs.
    pub fn urls(&self) -> &[(String, String)] {
        &self.urls
    }

    /// What was received so far.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.state
            .lock()
            .map(|s| s.received.clone())
            .unwrap_or_default()
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn replay(
    state: Arc<Mutex<ReplayState>>,
    origin: String,
    req: axum::extract::Request,
) -> axum::response::Response {
    use axum::http::{HeaderName, HeaderValue, StatusCode};
    let method = req.method().as_str().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let response = {
        let Ok(mut st) = state.lock() else {
            return (StatusCode::INTERNAL_SERVER_ERROR, "replay state poisoned").into_response_();
        };
        let i = st.received.len();
        st.received.push(ReceivedRequest {
            method,
            url: format!("{origin}{path}"),
            headers,
            body,
        });
        st.responses.get(i).cloned()
    };
    let Some(resp) = response else {
        return (
            StatusCode::from_u16(599).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "unexpected request",
        )
            .into_response_();
    };
    let status = resp
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = resp
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut out = axum::response::Response::new(axum::body::Body::from(body));
    *out.status_mut() = status;
    if let Some(Value::Object(h)) = resp.get("headers") {
        for (k, v) in h {
            if matches!(
                k.to_ascii_lowercase().as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                continue;
            }
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(k.as_bytes()),
                v.as_str().map(HeaderValue::from_str),
            ) {
                out.headers_mut().append(name, value);
            }
        }
    }
    out
}

trait IntoResponseExt {
    fn into_response_(self) -> axum::response::Response;
}

impl<T: axum::response::IntoResponse> IntoResponseExt for T {
    fn into_response_(self) -> axum::response::Response {
        self.into_response()
    }
}

/// The headers a golden case compares.
pub const COMPARED_HEADERS: [&str; 5] = [
    "authorization",
    "linkedin-version",
    "x-restli-protocol-version",
    "x-restli-method",
    "content-type",
];

fn media(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Compares received requests with a case's expected ones (method, URL, the compared headers,
/// JSON / form / text body); returns every difference.
pub fn compare_requests(expected: &[Value], got: &[ReceivedRequest]) -> Vec<String> {
    let mut errs = Vec::new();
    if expected.len() != got.len() {
        errs.push(format!(
            "{} requests, want {}: {:?}",
            got.len(),
            expected.len(),
            got.iter()
                .map(|g| format!("{} {}", g.method, g.url))
                .collect::<Vec<_>>()
        ));
    }
    for (i, (e, g)) in expected.iter().zip(got).enumerate() {
        let want_method = e.get("method").and_then(Value::as_str).unwrap_or("");
        if want_method != g.method {
            errs.push(format!("req{i}: method {} != {want_method}", g.method));
        }
        let want_url = e.get("url").and_then(Value::as_str).unwrap_or("");
        if want_url != g.url {
            errs.push(format!("req{i}: url {} != {want_url}", g.url));
        }
        if let Some(Value::Object(hs)) = e.get("headers") {
            for h in COMPARED_HEADERS {
                let Some(want) = hs.get(h) else { continue };
                let have = g.headers.get(h);
                match want {
                    Value::Null if have.is_some() && h == "authorization" => {
                        errs.push(format!("req{i}: header {h} should be absent"));
                    }
                    Value::String(w) => {
                        let ok = match have {
                            Some(hv) if h == "content-type" => media(hv) == media(w),
                            Some(hv) => hv == w,
                            None => false,
                        };
                        if !ok {
                            errs.push(format!("req{i}: header {h} {have:?} != {w:?}"));
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(want) = e.get("json") {
            match serde_json::from_str::<Value>(&g.body) {
                Ok(have) if &have == want => {}
                Ok(have) => errs.push(format!("req{i}: json body {have} != {want}")),
                Err(_) => errs.push(format!("req{i}: body is not JSON: {:?}", g.body)),
            }
        } else if let Some(Value::Object(want)) = e.get("form") {
            let have: HashMap<String, String> = form_urlencoded::parse(g.body.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let want: HashMap<String, String> = want
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            if have != want {
                errs.push(format!("req{i}: form {have:?} != {want:?}"));
            }
        } else if let Some(Value::String(want)) = e.get("body")
            && want != &g.body
        {
            errs.push(format!("req{i}: text body {:?} != {want:?}", g.body));
        }
    }
    errs
}

/// Compares an `execute --case` answer with the case's expected outcome and token refreshes.
pub fn compare_outcome(case: &GoldenCase, out: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let exp = case
        .raw
        .pointer("/expected/outcome")
        .cloned()
        .unwrap_or(Value::Null);
    let want_ok = exp.get("ok").and_then(Value::as_bool).unwrap_or(false);
    let have_ok = out.get("ok").and_then(Value::as_bool).unwrap_or(false);
    if want_ok != have_ok {
        errs.push(format!(
            "ok={have_ok}, want {want_ok}: {}",
            out.get("error").unwrap_or(&Value::Null)
        ));
        return errs;
    }
    if !want_ok {
        let e = exp.get("error").cloned().unwrap_or(Value::Null);
        let g = out.get("error").cloned().unwrap_or(Value::Null);
        if g.get("class") != e.get("class") {
            errs.push(format!(
                "error class {:?} != {:?}",
                g.get("class"),
                e.get("class")
            ));
        }
        if let Some(m) = e.get("message")
            && g.get("message") != Some(m)
        {
            errs.push(format!("message {:?} != {m}", g.get("message")));
        }
        if let Some(Value::String(part)) = e.get("message_contains") {
            let have = g.get("message").and_then(Value::as_str).unwrap_or("");
            if !have.contains(part.as_str()) {
                errs.push(format!("message {have:?} lacks {part:?}"));
            }
        }
        for k in ["status", "code"] {
            if let Some(w) = e.get(k).filter(|w| !w.is_null())
                && g.get(k) != Some(w)
            {
                errs.push(format!("{k} {:?} != {w}", g.get(k)));
            }
        }
        if let Some(rs) = e.get("responseStatus").filter(|v| !v.is_null())
            && g.get("status") != Some(rs)
        {
            errs.push(format!("response status {:?} != {rs}", g.get("status")));
        }
    } else {
        match case.mode() {
            "hook" | "dynamic" => {
                if out.get("result") != exp.get("result") {
                    errs.push(format!(
                        "result {:?} != {:?}",
                        out.get("result"),
                        exp.get("result")
                    ));
                }
            }
            "batch" => {
                let flat = |v: Option<&Value>| -> Vec<Value> {
                    v.and_then(Value::as_array)
                        .map(|rs| {
                            rs.iter()
                                .filter_map(|r| r.get("multistatus").and_then(Value::as_array))
                                .flatten()
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let want = flat(exp.get("result"));
                let have = flat(out.get("result"));
                if want.len() != have.len() {
                    errs.push(format!(
                        "multistatus length {} != {}",
                        have.len(),
                        want.len()
                    ));
                }
                for (i, (w, h)) in want.iter().zip(&have).enumerate() {
                    for k in ["status", "errortype", "errormessage", "sent", "body"] {
                        if let Some(wv) = w.get(k)
                            && h.get(k) != Some(wv)
                        {
                            errs.push(format!("multistatus[{i}].{k} {:?} != {wv}", h.get(k)));
                        }
                    }
                }
            }
            _ => {
                if out.get("result") != exp.get("result") {
                    errs.push(format!(
                        "result {:?} != {:?}",
                        out.get("result"),
                        exp.get("result")
                    ));
                }
            }
        }
    }
    let tokens = |v: Option<&Value>| -> Vec<Value> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|t| t.get("accessToken").cloned().unwrap_or(Value::Null))
                    .collect()
            })
            .unwrap_or_default()
    };
    let want_t = tokens(case.raw.pointer("/expected/token_refreshes"));
    let have_t = tokens(out.get("token_refreshes"));
    if want_t != have_t {
        errs.push(format!("token refreshes {have_t:?} != {want_t:?}"));
    }
    errs
}

/// Replays a case end to end: starts a [`ReplayServer`] for the LinkedIn origins, runs the case
/// with `destination`, and returns every difference (empty = pass).
pub async fn replay_case<D: Destination>(destination: D, case: &GoldenCase) -> Vec<String> {
    let server = match ReplayServer::start(
        &LINKEDIN_ORIGINS,
        case.expected_requests()
            .iter()
            .map(|r| r.get("response").cloned().unwrap_or(Value::Null))
            .collect(),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return vec![format!("the replay server did not start: {e}")],
    };
    let out = run_case(destination, case, server.overrides()).await;
    let mut errs = compare_requests(case.expected_requests(), &server.received());
    errs.extend(compare_outcome(case, &out));
    errs
}

/// Replays every case of `dir` recorded for `destination` (the crate slug, e.g.
/// `linkedin-conversions`) with destinations made by `make`. Returns how many cases ran, or a
/// report naming every failing case with its differences.
pub async fn replay_all<D: Destination>(
    dir: &Path,
    destination: &str,
    make: impl Fn() -> D,
) -> Result<usize, String> {
    let cases = GoldenCase::load_dir(dir)?;
    let ours: Vec<_> = cases
        .into_iter()
        .filter(|(_, c)| c.destination() == destination)
        .collect();
    let mut failures = Vec::new();
    for (file, case) in &ours {
        let problems = replay_case(make(), case).await;
        if !problems.is_empty() {
            failures.push(format!(
                "{file} ({}):\n    {}",
                case.name(),
                problems.join("\n    ")
            ));
        }
    }
    if failures.is_empty() {
        Ok(ours.len())
    } else {
        Err(format!(
            "{} of {} golden cases of {destination} failed:\n{}",
            failures.len(),
            ours.len(),
            failures.join("\n")
        ))
    }
}
