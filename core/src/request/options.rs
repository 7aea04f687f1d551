//! [`RequestOptions`]: the layered options of a request (framework defaults → the
//! destination's `extend_request` → per call), its hooks, and [`prepare`] (options → request).

use super::message::{Body, Headers, PreparedRequest, Response};

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::error::Error;

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
    pub(super) throw_http_errors: Option<bool>,
    pub(super) timeout: Option<Option<Duration>>,
    pub(super) before_request: Vec<BeforeRequestHook>,
    pub(super) after_response: Vec<AfterResponseHook>,
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
