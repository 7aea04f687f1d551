//! The request client: one pooled [`HttpClient`] per destination instance, layered
//! [`RequestOptions`] (framework defaults → the destination's `extend_request` → per call), hooks,
//! an origin override for tests and simulators, and capture of every exchange.
//!
//! Behaviour follows the reference's request client (section D): methods are upper-cased,
//! headers merge case-insensitively (a later layer can remove one), `json` serialises the body and
//! forces `content-type: application/json`, `search_params` **replaces** the URL's query (WHATWG
//! form encoding), `username`/`password` become `Authorization: Basic …`, the default timeout is
//! 10 s, after-response hooks run before non-2xx responses become [`Error::http`], and responses
//! expose the text `content` and, when the content type says JSON, the parsed `data`.
//!
//! ```no_run
//! use actions_core::request::{HttpClient, RequestClient, RequestOptions};
//! # async fn demo() -> Result<(), actions_core::Error> {
//! let http = HttpClient::new()?;
//! let client = RequestClient::new(http, RequestOptions::new().header("x-api-key", "k"));
//! let response = client
//!     .post("https://api.example.com/v1/events")
//!     .json(serde_json::json!({"event": "Order Completed"}))
//!     .send()
//!     .await?;
//! assert!(response.ok());
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

/// The reference's default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The reference's default `user-agent`.
pub const DEFAULT_USER_AGENT: &str = "Segment (Actions)";

/// Header names whose values are secrets: redacted in `Debug`, captures shown to people,
/// snapshots and logs.
pub const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

/// Body keys (JSON members or form fields) whose values are secrets.
pub const SENSITIVE_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "clientsecret",
    "password",
    "api_key",
    "apikey",
    "secret",
    "token",
    "code",
];

fn is_sensitive_key(key: &str) -> bool {
    SENSITIVE_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

fn redact_json(v: &mut Value, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if is_sensitive_key(k) && !x.is_object() && !x.is_array() {
                    *x = Value::String("<redacted>".to_string());
                } else {
                    redact_json(x, depth + 1);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact_json(x, depth + 1)),
        _ => {}
    }
}

/// A body text with the values of secret-looking JSON members or form fields
/// (`access_token`, `refresh_token`, `client_secret`, `password`, …) replaced by `<redacted>`.
pub fn redact_body(text: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(mut v) = serde_json::from_str::<Value>(text) {
            redact_json(&mut v, 0);
            return std::borrow::Cow::Owned(v.to_string());
        }
        return std::borrow::Cow::Borrowed(text);
    }
    if text.contains('=') && !text.contains(' ') {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.iter().any(|(k, _)| is_sensitive_key(k)) {
            let redacted = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter().map(|(k, v)| {
                    if is_sensitive_key(k) {
                        (k.as_str(), "<redacted>")
                    } else {
                        (k.as_str(), v.as_str())
                    }
                }))
                .finish();
            return std::borrow::Cow::Owned(redacted);
        }
    }
    std::borrow::Cow::Borrowed(text)
}

/// Whether a header name (any case) carries a secret.
pub fn is_sensitive_header(name: &str) -> bool {
    SENSITIVE_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

/// One shared, pooled HTTP client (rustls). Clone it freely: clones share the pool.
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpClient")
    }
}

impl HttpClient {
    /// A client with a connection pool and rustls (ring). No default timeout here: every request
    /// carries its own (10 s unless set).
    pub fn new() -> Result<Self, Error> {
        // reqwest is built without a crypto provider feature; install ring once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::plain(format!("could not build the HTTP client: {e}")))?;
        Ok(HttpClient { inner })
    }

    /// Wraps an existing reqwest client (for embedders with their own settings).
    pub fn from_reqwest(inner: reqwest::Client) -> Self {
        HttpClient { inner }
    }
}

/// A request body.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// JSON, serialised with key order kept; sets `content-type: application/json`.
    Json(Value),
    /// A form (`application/x-www-form-urlencoded;charset=UTF-8` unless set), fields in order.
    Form(Vec<(String, String)>),
    /// Text (`text/plain;charset=UTF-8` unless set).
    Text(String),
}

/// Case-insensitive, ordered headers where a layer can also *remove* a header (`None`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, Option<String>)>,
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.entries {
            if is_sensitive_header(k) {
                m.entry(k, &"<redacted>");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers::default()
    }

    /// Sets a header (replacing any value of the same name, any case).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.put(name, Some(value.into()));
    }

    /// Removes a header, also from lower layers when merged.
    pub fn remove(&mut self, name: &str) {
        self.put(name, None);
    }

    fn put(&mut self, name: &str, value: Option<String>) {
        let name = name.to_ascii_lowercase();
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == name) {
            slot.1 = value;
        } else {
            self.entries.push((name, value));
        }
    }

    /// The value of a header (any case), if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_deref())
    }

    /// Merges `other` on top (later wins; removals apply).
    pub fn merge(&mut self, other: &Headers) {
        for (k, v) in &other.entries {
            self.put(k, v.clone());
        }
    }

    /// The headers that are set, lower-case names, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (k.as_str(), v)))
    }
}

/// The request as it is about to be sent (after merging the layers); what before-request hooks
/// may change and what capture records.
#[derive(Clone, PartialEq, Serialize)]
pub struct PreparedRequest {
    /// Upper-case method.
    pub method: String,
    /// The logical URL (before any origin override).
    pub url: String,
    /// Headers with lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// The body text, if any.
    pub body: Option<String>,
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &self.body.as_deref().map(redact_body))
            .finish()
    }
}

struct RedactedHeaders<'a>(&'a [(String, String)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.0 {
            if is_sensitive_header(k) {
                m.entry(k, &"<redacted>");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl PreparedRequest {
    /// A header's value (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets (replaces) a header.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        let name = name.to_ascii_lowercase();
        let value = value.into();
        if let Some(slot) = self.headers.iter_mut().find(|(k, _)| *k == name) {
            slot.1 = value;
        } else {
            self.headers.push((name, value));
        }
    }

    /// A copy whose sensitive header values and body secrets are replaced by `<redacted>`.
    pub fn redacted(&self) -> PreparedRequest {
        let mut r = self.clone();
        r.body = r.body.as_deref().map(|b| redact_body(b).into_owned());
        for (k, v) in &mut r.headers {
            if is_sensitive_header(k) {
                *v = "<redacted>".to_string();
            }
        }
        r
    }
}

/// A response: status, status text, headers (lower-case names), the body text (`content`) and,
/// when the `content-type` contains `application/json`, the parsed body (`data`; a body that does
/// not parse leaves `data` empty). For other content types the reference's `data` is the text
/// itself: here `data()` is empty and [`Response::result_data`] gives the text, so bodies are not
/// copied twice.
#[derive(Clone, PartialEq)]
pub struct Response {
    status: u16,
    status_text: String,
    url: String,
    headers: Vec<(String, String)>,
    content: String,
    data: Option<Value>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("content", &redact_body(&self.content))
            .finish()
    }
}

impl Response {
    /// Builds a response (used by the client, hooks that replace responses, and tests).
    pub fn new(
        status: u16,
        url: impl Into<String>,
        headers: Vec<(String, String)>,
        content: impl Into<String>,
    ) -> Self {
        let content = content.into();
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let is_json = headers.iter().any(|(k, v)| {
            k == "content-type" && v.to_ascii_lowercase().contains("application/json")
        });
        let data = if is_json {
            serde_json::from_str(&content).ok()
        } else {
            None
        };
        let status_text = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_string();
        Response {
            status,
            status_text,
            url: url.into(),
            headers,
            content,
            data,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase (`Unauthorized`, `Not Found`, …).
    pub fn status_text(&self) -> &str {
        &self.status_text
    }

    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The URL requested (logical, before any origin override).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every header, lower-case names.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// A header's value (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn content(&self) -> &str {
        &self.content
    }

    /// The parsed body (see the type's docs).
    pub fn data(&self) -> Option<&Value> {
        self.data.as_ref()
    }

    /// Parses the body as JSON whatever the content type (the reference's `response.json()`).
    pub fn json(&self) -> Result<Value, Error> {
        serde_json::from_str(&self.content).map_err(|e| {
            Error::plain(format!(
                "invalid JSON in the response from {}: {e}",
                self.url
            ))
        })
    }

    /// What an action's result shows for this response: `data ?? content`.
    pub fn result_data(&self) -> Value {
        match &self.data {
            Some(v) => v.clone(),
            None => Value::String(self.content.clone()),
        }
    }
}

/// A hook run before a request is sent; it may change the prepared request or refuse it.
pub type BeforeRequestHook =
    Arc<dyn Fn(&mut PreparedRequest) -> Result<(), Error> + Send + Sync + 'static>;

/// A hook run after a response arrived (before non-2xx responses become errors). It may return
/// a replacement response, or an error that ends the request (e.g. the LinkedIn
/// token-propagation hook).
pub type AfterResponseHook = Arc<
    dyn Fn(&PreparedRequest, &Response) -> Result<Option<Response>, Error> + Send + Sync + 'static,
>;

/// Options of one request layer. Layers merge: later values win, headers merge
/// case-insensitively, hooks accumulate.
#[derive(Clone, Default)]
pub struct RequestOptions {
    method: Option<String>,
    headers: Headers,
    body: Option<Body>,
    search_params: Option<Vec<(String, String)>>,
    username: Option<String>,
    password: Option<String>,
    throw_http_errors: Option<bool>,
    timeout: Option<Option<Duration>>,
    before_request: Vec<BeforeRequestHook>,
    after_response: Vec<AfterResponseHook>,
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOptions")
            .field("method", &self.method)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("search_params", &self.search_params)
            .field("username", &self.username.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("throw_http_errors", &self.throw_http_errors)
            .field("timeout", &self.timeout)
            .field("before_request", &self.before_request.len())
            .field("after_response", &self.after_response.len())
            .finish()
    }
}

impl RequestOptions {
    /// Empty options.
    pub fn new() -> Self {
        RequestOptions::default()
    }

    /// Sets the method (any case).
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Sets a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.set(name, value);
        self
    }

    /// Removes a header set by a lower layer.
    pub fn remove_header(mut self, name: &str) -> Self {
        self.headers.remove(name);
        self
    }

    /// A JSON body.
    pub fn json(mut self, value: Value) -> Self {
        self.body = Some(Body::Json(value));
        self
    }

    /// A form body.
    pub fn form<K: Into<String>, V: Into<String>>(
        mut self,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.body = Some(Body::Form(
            fields
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ));
        self
    }

    /// A text body.
    pub fn text(mut self, body: impl Into<String>) -> Self {
        self.body = Some(Body::Text(body.into()));
        self
    }

    /// Query parameters; they **replace** the URL's query string.
    pub fn search_params<K: Into<String>, V: Into<String>>(
        mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.search_params = Some(
            params
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Basic authentication (`Authorization: Basic base64(username:password)`).
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// Whether a non-2xx response becomes an [`Error::http`] (default true).
    pub fn throw_http_errors(mut self, throw: bool) -> Self {
        self.throw_http_errors = Some(throw);
        self
    }

    /// The timeout; `None` disables it (default 10 s).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a before-request hook.
    pub fn before_request(mut self, hook: BeforeRequestHook) -> Self {
        self.before_request.push(hook);
        self
    }

    /// Adds an after-response hook.
    pub fn after_response(mut self, hook: AfterResponseHook) -> Self {
        self.after_response.push(hook);
        self
    }

    /// The headers of this layer.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Merges `other` on top of `self`.
    pub fn merge(&mut self, other: &RequestOptions) {
        if other.method.is_some() {
            self.method.clone_from(&other.method);
        }
        self.headers.merge(&other.headers);
        if other.body.is_some() {
            self.body.clone_from(&other.body);
        }
        if other.search_params.is_some() {
            self.search_params.clone_from(&other.search_params);
        }
        if other.username.is_some() {
            self.username.clone_from(&other.username);
        }
        if other.password.is_some() {
            self.password.clone_from(&other.password);
        }
        if other.throw_http_errors.is_some() {
            self.throw_http_errors = other.throw_http_errors;
        }
        if other.timeout.is_some() {
            self.timeout = other.timeout;
        }
        self.before_request
            .extend(other.before_request.iter().cloned());
        self.after_response
            .extend(other.after_response.iter().cloned());
    }
}

/// Maps origins (`https://api.linkedin.com`) to other base URLs (`http://127.0.0.1:9000`) for
/// tests, simulators and local runs. Empty (off) unless set explicitly. Path and query are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginOverrides {
    map: Vec<(String, String)>,
}

impl OriginOverrides {
    /// No overrides.
    pub fn new() -> Self {
        OriginOverrides::default()
    }

    /// Adds `origin → target` (trailing slashes ignored).
    pub fn with(mut self, origin: &str, target: &str) -> Self {
        self.add(origin, target);
        self
    }

    /// Adds `origin → target`.
    pub fn add(&mut self, origin: &str, target: &str) {
        self.map.push((
            origin.trim_end_matches('/').to_string(),
            target.trim_end_matches('/').to_string(),
        ));
    }

    /// Parses `ORIGIN=URL`.
    pub fn parse_pair(pair: &str) -> Result<(String, String), Error> {
        match pair.split_once('=') {
            Some((o, t)) if !o.is_empty() && !t.is_empty() => Ok((o.to_string(), t.to_string())),
            _ => Err(Error::plain(format!(
                "invalid origin override {pair:?}: expected ORIGIN=URL"
            ))),
        }
    }

    /// Whether no override is set.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The URL to actually contact for `url`.
    pub fn apply<'a>(&self, url: &'a str) -> std::borrow::Cow<'a, str> {
        for (from, to) in &self.map {
            if let Some(rest) = url.strip_prefix(from.as_str())
                && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
            {
                return std::borrow::Cow::Owned(format!("{to}{rest}"));
            }
        }
        std::borrow::Cow::Borrowed(url)
    }
}

/// One recorded request/response exchange.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// What was sent (logical URL).
    pub request: PreparedRequest,
    /// What came back, if anything.
    pub response: Option<Response>,
    /// The error, when the exchange failed before a response (timeout, connection error) or a
    /// hook refused the response.
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

/// Collects exchanges (for tests, `serve`, `execute`). Clones share the same list.
#[derive(Clone, Debug, Default)]
pub struct Capture {
    inner: Arc<Mutex<Vec<Exchange>>>,
}

impl Capture {
    /// An empty capture.
    pub fn new() -> Self {
        Capture::default()
    }

    fn push(&self, exchange: Exchange) {
        if let Ok(mut v) = self.inner.lock() {
            v.push(exchange);
        }
    }

    /// Takes every exchange recorded so far.
    pub fn take(&self) -> Vec<Exchange> {
        self.inner
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// A copy of every exchange recorded so far.
    pub fn snapshot(&self) -> Vec<Exchange> {
        self.inner.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// How many exchanges were recorded.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The client destinations use: a shared [`HttpClient`] plus default options (framework base
/// and the destination's `extend_request`), origin overrides and an optional capture.
#[derive(Clone)]
pub struct RequestClient {
    http: HttpClient,
    defaults: Arc<RequestOptions>,
    origins: Arc<OriginOverrides>,
    capture: Option<Capture>,
}

impl fmt::Debug for RequestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestClient")
            .field("defaults", &self.defaults)
            .field("origins", &self.origins)
            .finish()
    }
}

impl RequestClient {
    /// A client with the framework base options (`user-agent: Segment (Actions)`) under
    /// `defaults`.
    pub fn new(http: HttpClient, defaults: RequestOptions) -> Self {
        let mut base = RequestOptions::new().header("user-agent", DEFAULT_USER_AGENT);
        base.merge(&defaults);
        RequestClient {
            http,
            defaults: Arc::new(base),
            origins: Arc::new(OriginOverrides::default()),
            capture: None,
        }
    }

    /// Sets the origin overrides.
    pub fn with_origins(mut self, origins: Arc<OriginOverrides>) -> Self {
        self.origins = origins;
        self
    }

    /// Records every exchange into `capture`.
    pub fn with_capture(mut self, capture: Capture) -> Self {
        self.capture = Some(capture);
        self
    }

    /// A client with another layer of defaults on top (the reference's `extend`).
    pub fn extend(&self, layer: &RequestOptions) -> RequestClient {
        let mut defaults = (*self.defaults).clone();
        defaults.merge(layer);
        RequestClient {
            http: self.http.clone(),
            defaults: Arc::new(defaults),
            origins: self.origins.clone(),
            capture: self.capture.clone(),
        }
    }

    /// The shared HTTP client.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Starts a request.
    pub fn request(&self, method: &str, url: impl Into<String>) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            url: url.into(),
            options: RequestOptions::new().method(method),
        }
    }

    /// Starts a GET.
    pub fn get(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request("GET", url)
    }

    /// Starts a POST.
    pub fn post(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request("POST", url)
    }

    /// Starts a PUT.
    pub fn put(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request("PUT", url)
    }

    /// Starts a PATCH.
    pub fn patch(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request("PATCH", url)
    }

    /// Starts a DELETE.
    pub fn delete(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request("DELETE", url)
    }

    /// Sends `url` with per-call `options` merged over the defaults.
    pub async fn send(&self, url: &str, options: &RequestOptions) -> Result<Response, Error> {
        let mut opts = (*self.defaults).clone();
        opts.merge(options);
        let prepared = prepare(url, &opts)?;
        self.execute(prepared, &opts).await
    }

    async fn execute(
        &self,
        mut prepared: PreparedRequest,
        opts: &RequestOptions,
    ) -> Result<Response, Error> {
        for hook in &opts.before_request {
            hook(&mut prepared)?;
        }
        let started = Instant::now();
        let timeout = opts.timeout.unwrap_or(Some(DEFAULT_TIMEOUT));
        let target = self.origins.apply(&prepared.url).into_owned();
        let method = reqwest::Method::from_bytes(prepared.method.as_bytes())
            .map_err(|_| Error::plain(format!("invalid HTTP method {:?}", prepared.method)))?;
        let mut rb = self.http.inner.request(method, &target);
        for (k, v) in &prepared.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(body) = &prepared.body {
            rb = rb.body(body.clone());
        }
        if let Some(t) = timeout {
            rb = rb.timeout(t);
        }
        let result = async {
            let resp = rb.send().await?;
            let status = resp.status().as_u16();
            let headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let bytes = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, bytes))
        }
        .await;
        let (status, headers, bytes) = match result {
            Ok(parts) => parts,
            Err(e) => {
                let err = if e.is_timeout() {
                    let ms = timeout.unwrap_or(DEFAULT_TIMEOUT).as_millis();
                    Error::timeout(ms)
                } else {
                    Error::request_client(format!(
                        "Request to {} failed: {}",
                        prepared.url,
                        describe_transport_error(&e)
                    ))
                };
                self.record(prepared, None, Some(err.message().to_string()), started);
                return Err(err);
            }
        };
        let content = String::from_utf8_lossy(&bytes).into_owned();
        let mut response = Response::new(status, prepared.url.clone(), headers, content);
        for hook in &opts.after_response {
            match hook(&prepared, &response) {
                Ok(Some(replacement)) => response = replacement,
                Ok(None) => {}
                Err(err) => {
                    self.record(
                        prepared,
                        Some(response),
                        Some(err.message().to_string()),
                        started,
                    );
                    return Err(err);
                }
            }
        }
        self.record(prepared, Some(response.clone()), None, started);
        if opts.throw_http_errors.unwrap_or(true) && !response.ok() {
            return Err(Error::http(response));
        }
        Ok(response)
    }

    fn record(
        &self,
        request: PreparedRequest,
        response: Option<Response>,
        error: Option<String>,
        started: Instant,
    ) {
        if let Some(c) = &self.capture {
            c.push(Exchange {
                request,
                response,
                error,
                duration: started.elapsed(),
            });
        }
    }
}

fn describe_transport_error(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read".to_string()
    } else {
        "transport error".to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Builds the request a layered set of options describes (URL, method, headers, body).
pub fn prepare(url: &str, opts: &RequestOptions) -> Result<PreparedRequest, Error> {
    let mut parsed =
        url::Url::parse(url).map_err(|e| Error::plain(format!("invalid URL {url:?}: {e}")))?;
    if let Some(params) = &opts.search_params {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        parsed.set_query(if query.is_empty() { None } else { Some(&query) });
    }
    let mut headers = opts.headers.clone();
    let body =
        match &opts.body {
            None => None,
            Some(Body::Json(v)) => {
                headers.set("content-type", "application/json");
                Some(serde_json::to_string(v).map_err(|e| {
                    Error::plain(format!("the JSON body could not be serialised: {e}"))
                })?)
            }
            Some(Body::Form(fields)) => {
                if headers.get("content-type").is_none() {
                    headers.set(
                        "content-type",
                        "application/x-www-form-urlencoded;charset=UTF-8",
                    );
                }
                Some(
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                        .finish(),
                )
            }
            Some(Body::Text(t)) => {
                if headers.get("content-type").is_none() {
                    headers.set("content-type", "text/plain;charset=UTF-8");
                }
                Some(t.clone())
            }
        };
    if opts.username.is_some() || opts.password.is_some() {
        let user = opts.username.as_deref().unwrap_or("");
        let pass = opts.password.as_deref().unwrap_or("");
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        headers.set("authorization", format!("Basic {token}"));
    }
    Ok(PreparedRequest {
        method: opts.method.clone().unwrap_or_else(|| "GET".to_string()),
        url: parsed.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body,
    })
}

/// A request being built from a [`RequestClient`].
pub struct RequestBuilder<'a> {
    client: &'a RequestClient,
    url: String,
    options: RequestOptions,
}

impl RequestBuilder<'_> {
    /// Sets a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.options = self.options.header(name, value);
        self
    }

    /// Removes a default header.
    pub fn remove_header(mut self, name: &str) -> Self {
        self.options = self.options.remove_header(name);
        self
    }

    /// A JSON body.
    pub fn json(mut self, value: Value) -> Self {
        self.options = self.options.json(value);
        self
    }

    /// A form body.
    pub fn form<K: Into<String>, V: Into<String>>(
        mut self,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.options = self.options.form(fields);
        self
    }

    /// A text body.
    pub fn text(mut self, body: impl Into<String>) -> Self {
        self.options = self.options.text(body);
        self
    }

    /// Query parameters (replacing the URL's query).
    pub fn search_params<K: Into<String>, V: Into<String>>(
        mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.options = self.options.search_params(params);
        self
    }

    /// Basic authentication.
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.options = self.options.basic_auth(username, password);
        self
    }

    /// Whether non-2xx responses become errors (default true).
    pub fn throw_http_errors(mut self, throw: bool) -> Self {
        self.options = self.options.throw_http_errors(throw);
        self
    }

    /// The timeout (`None` = none).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.options = self.options.timeout(timeout);
        self
    }

    /// Adds an after-response hook for this request.
    pub fn after_response(mut self, hook: AfterResponseHook) -> Self {
        self.options = self.options.after_response(hook);
        self
    }

    /// Merges a whole layer of options.
    pub fn options(mut self, layer: &RequestOptions) -> Self {
        self.options.merge(layer);
        self
    }

    /// Sends the request.
    pub async fn send(self) -> Result<Response, Error> {
        self.client.send(&self.url, &self.options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_merge_case_insensitively_and_remove() {
        let mut a = RequestOptions::new()
            .header("Authorization", "Bearer a")
            .header("X-One", "1");
        let b = RequestOptions::new()
            .header("authorization", "Bearer b")
            .remove_header("x-one");
        a.merge(&b);
        let p = prepare("https://example.com/x", &a).unwrap();
        assert_eq!(p.header("AUTHORIZATION"), Some("Bearer b"));
        assert_eq!(p.header("x-one"), None);
        assert_eq!(p.method, "GET");
    }

    #[test]
    fn search_params_replace_the_query_with_form_encoding() {
        let o = RequestOptions::new()
            .search_params([("account", "urn:li:sponsoredAccount:1"), ("q", "a b&c~")]);
        let p = prepare("https://example.com/x?old=1", &o).unwrap();
        assert_eq!(
            p.url,
            "https://example.com/x?account=urn%3Ali%3AsponsoredAccount%3A1&q=a+b%26c%7E"
        );
    }

    #[test]
    fn literal_urls_keep_restli_characters() {
        let u = "https://api.linkedin.com/rest/campaignConversions/(campaign:urn%3Ali%3AsponsoredCampaign%3A5,conversion:urn%3Alla%3AllaPartnerConversion%3A9)";
        assert_eq!(prepare(u, &RequestOptions::new()).unwrap().url, u);
        let u = "https://api.linkedin.com/rest/adAccountUsers/account=urn:li:sponsoredAccount:1&user=urn:li:person:2";
        assert_eq!(prepare(u, &RequestOptions::new()).unwrap().url, u);
        let u = "https://api.linkedin.com/rest/adAccounts/1/adCampaigns?q=search&search=(status:(values:List(ACTIVE,DRAFT)))";
        assert_eq!(prepare(u, &RequestOptions::new()).unwrap().url, u);
    }

    #[test]
    fn bodies_set_content_types() {
        let p = prepare(
            "https://e.com",
            &RequestOptions::new()
                .method("post")
                .json(serde_json::json!({"b": 1, "a": 2})),
        )
        .unwrap();
        assert_eq!(p.method, "POST");
        assert_eq!(p.header("content-type"), Some("application/json"));
        assert_eq!(p.body.as_deref(), Some(r#"{"b":1,"a":2}"#));
        let p = prepare(
            "https://e.com",
            &RequestOptions::new().form([("grant_type", "refresh_token"), ("x", "a b")]),
        )
        .unwrap();
        assert_eq!(
            p.header("content-type"),
            Some("application/x-www-form-urlencoded;charset=UTF-8")
        );
        assert_eq!(p.body.as_deref(), Some("grant_type=refresh_token&x=a+b"));
        let p = prepare("https://e.com", &RequestOptions::new().text("{}")).unwrap();
        assert_eq!(p.header("content-type"), Some("text/plain;charset=UTF-8"));
    }

    #[test]
    fn bodies_with_secrets_are_redacted() {
        assert_eq!(
            redact_body("grant_type=refresh_token&refresh_token=RT1&client_secret=CS"),
            "grant_type=refresh_token&refresh_token=%3Credacted%3E&client_secret=%3Credacted%3E"
        );
        let r = redact_body(r#"{"access_token":"AT","expires_in":5,"nested":{"password":"p"}}"#);
        assert!(!r.contains("AT\"") && !r.contains("\"p\""), "{r}");
        assert!(r.contains("expires_in"));
        assert_eq!(redact_body(r#"{"event":"x"}"#), r#"{"event":"x"}"#);
        assert_eq!(redact_body("plain text"), "plain text");
    }

    #[test]
    fn basic_auth_header() {
        let p = prepare(
            "https://e.com",
            &RequestOptions::new().basic_auth("user", "pass"),
        )
        .unwrap();
        assert_eq!(p.header("authorization"), Some("Basic dXNlcjpwYXNz"));
        assert!(!format!("{p:?}").contains("dXNlcjpwYXNz"));
    }

    #[test]
    fn origin_overrides_keep_path_and_query() {
        let o = OriginOverrides::new().with("https://api.linkedin.com", "http://127.0.0.1:9/");
        assert_eq!(
            o.apply("https://api.linkedin.com/rest/me?x=1"),
            "http://127.0.0.1:9/rest/me?x=1"
        );
        assert_eq!(
            o.apply("https://api.linkedin.com.evil.com/rest"),
            "https://api.linkedin.com.evil.com/rest"
        );
    }

    #[test]
    fn response_data_follows_content_type() {
        let r = Response::new(
            200,
            "u",
            vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            r#"{"id":"1"}"#,
        );
        assert_eq!(r.data(), Some(&serde_json::json!({"id": "1"})));
        let r = Response::new(200, "u", vec![], r#"{"id":"1"}"#);
        assert_eq!(r.data(), None);
        assert_eq!(r.result_data(), Value::String(r#"{"id":"1"}"#.into()));
        let r = Response::new(
            401,
            "u",
            vec![("content-type".into(), "application/json".into())],
            "not json",
        );
        assert_eq!(r.data(), None);
        assert_eq!(r.status_text(), "Unauthorized");
        assert_eq!(r.result_data(), Value::String("not json".into()));
    }
}
