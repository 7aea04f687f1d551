//! Test and simulator plumbing: [`OriginOverrides`] (send a partner's origin elsewhere) and
//! [`Capture`] (record every [`Exchange`]).

use super::message::{PreparedRequest, Response};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::Error;

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

    pub(super) fn push(&self, exchange: Exchange) {
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
