//! What goes on the wire: the request [`Body`], [`Headers`], the [`PreparedRequest`] and the
//! [`Response`].

use super::redact::{RedactedHeaders, is_sensitive_header, redact_body};

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

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
