//! Redaction: which headers and body keys hold secrets, and how bodies and headers are shown
//! without them (`Debug`, captures, snapshots, logs).

use std::fmt;

use serde_json::Value;

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

/// Whether a body key (JSON member or form field) holds a secret ([`SENSITIVE_KEYS`], any case).
///
/// ```
/// assert!(actions_core::request::is_sensitive_key("Client_Secret"));
/// assert!(!actions_core::request::is_sensitive_key("email"));
/// ```
pub fn is_sensitive_key(key: &str) -> bool {
    SENSITIVE_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// Replaces, in place, the scalar values of secret members ([`is_sensitive_key`]) anywhere in
/// `value` (down to 64 levels) with `"<redacted>"`.
///
/// ```
/// use serde_json::json;
/// let mut v = json!({"auth": {"access_token": "t0k3n"}, "list": [{"password": "p"}], "email": "a@b.c"});
/// actions_core::request::redact_value(&mut v);
/// assert_eq!(v, json!({"auth": {"access_token": "<redacted>"}, "list": [{"password": "<redacted>"}], "email": "a@b.c"}));
/// ```
pub fn redact_value(value: &mut Value) {
    redact_json(value, 0);
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

pub(super) struct RedactedHeaders<'a>(pub(super) &'a [(String, String)]);

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
