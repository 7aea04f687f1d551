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
//! Requests go over https only; plain http is allowed only to a loopback address put in place of
//! the partner's origin by an explicit [`OriginOverrides`] ([`transport`]).
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

mod capture;
mod message;
mod options;
mod redact;
pub mod transport;

pub use capture::{Capture, Exchange, OriginOverrides};
pub use message::{Body, Headers, PreparedRequest, Response};
pub use options::{AfterResponseHook, BeforeRequestHook, RequestOptions, prepare};
pub use redact::{
    SENSITIVE_HEADERS, SENSITIVE_KEYS, is_sensitive_header, is_sensitive_key, redact_body,
    redact_value,
};

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::Error;

/// The reference's default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The reference's default `user-agent`.
pub const DEFAULT_USER_AGENT: &str = "Segment (Actions)";

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
        let target = self.origins.apply(&prepared.url);
        let overridden = matches!(target, std::borrow::Cow::Owned(_));
        let target = target.into_owned();
        if let Err(err) = transport::check(&target, overridden) {
            self.record(prepared, None, Some(err.message().to_string()), started);
            return Err(err);
        }
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
