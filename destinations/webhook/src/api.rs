//! Everything the Webhook destination puts on the wire, as plain functions: the body
//! (`JSON.stringify`), the `X-Signature` HMAC, the `Idempotency-Key`, the user's headers, and the
//! error a rejected request becomes.
//!
//! ```
//! use webhook::api;
//! use serde_json::json;
//!
//! // The body is what JavaScript's JSON.stringify prints (5.0 is "5", 1e21 is "1e+21").
//! let body = api::stringify(&json!({"cool": true, "n": 5.0, "big": 1e21})).unwrap();
//! assert_eq!(body, r#"{"cool":true,"n":5,"big":1e+21}"#);
//!
//! // The signature is the hex HMAC-SHA1 of exactly those bytes.
//! assert_eq!(api::signature("abc123", &body).unwrap().len(), 40);
//!
//! // The idempotency key: the first 32 hex digits of SHA-256(business key).
//! let key = api::idempotency_key("message-1");
//! assert_eq!(key.len(), 32);
//! assert_eq!(key, api::idempotency_key("message-1"));
//! ```

use actions_core::error::error_code_from_http_status;
use actions_core::js;
use actions_core::prelude::*;
use actions_core::retry::is_retryable_status;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Map;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The header carrying the HMAC of the body.
pub const SIGNATURE_HEADER: &str = "X-Signature";

/// The header carrying the idempotency key (the destination declares it in its definition).
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// How many hex digits of the SHA-256 make an idempotency key.
pub const IDEMPOTENCY_KEY_LEN: usize = 32;

/// At most this many characters of a response body go into an error message.
pub const MAX_BODY_EXCERPT: usize = 500;

/// `JSON.stringify` nests at most this deep here (the mapping kit bounds event data anyway).
const MAX_DEPTH: usize = 256;

/// Separates the batch key's preimage from any single business key.
const BATCH_KEY_DOMAIN: &[u8] = b"actions-webhook/batch/v1\0";

/// `JSON.stringify(value)`: key order kept, numbers as JavaScript prints them, strings escaped
/// as JavaScript escapes them (core's [`actions_core::js::stringify`]). The request body and the
/// signature are made from this text.
///
/// # Errors
/// The value nests deeper than 256 levels (a `PayloadValidationError`).
pub fn stringify(value: &Value) -> Result<String, Error> {
    let mut out = String::new();
    write_json(&mut out, value, 0)?;
    Ok(out)
}

/// Appends `JSON.stringify(value)` to `out`, where `value` sits `depth` levels below the top of
/// the body.
///
/// # Errors
/// As [`stringify()`].
pub fn write_json(out: &mut String, value: &Value, depth: usize) -> Result<(), Error> {
    let max = MAX_DEPTH.saturating_sub(depth);
    js::write_json(value, out, max).map_err(|_| {
        Error::payload_validation(format!(
            "data: nests deeper than {MAX_DEPTH} levels and cannot be JSON-encoded"
        ))
    })
}

/// The `X-Signature` value: the hex-encoded HMAC-SHA1 of `body` keyed with the shared secret
/// (the reference's `createHmac('sha1', secret).update(body, 'utf8').digest('hex')`).
///
/// # Errors
/// Never for HMAC (it takes keys of any length); the error exists because the MAC interface
/// is shared with fixed-key MACs. It never contains the secret.
pub fn signature(secret: &str, body: &str) -> Result<String, Error> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes())
        .map_err(|_| Error::plain("sharedSecret: the secret cannot key an HMAC-SHA1"))?;
    mac.update(body.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// The `Idempotency-Key` of one event: the first 32 hex digits of the SHA-256 of its business
/// key (by default its `messageId`). The same key always gives the same value — on every
/// attempt, in every process.
pub fn idempotency_key(business_key: &str) -> String {
    truncated_hex(Sha256::digest(business_key.as_bytes()).as_slice())
}

/// The `Idempotency-Key` of a batch: the first 32 hex digits of the SHA-256 over its elements'
/// business keys **in order**, each prefixed with its length (so no two different lists of keys
/// share a preimage), under a batch-only prefix (so a batch of one never reuses the key of the
/// single request, whose body differs). A batch with other elements, or in another order, is
/// another logical request with another key.
///
/// ```
/// use webhook::api::{batch_idempotency_key, idempotency_key};
/// let ab = batch_idempotency_key(["a", "b"]);
/// assert_eq!(ab, batch_idempotency_key(["a", "b"]));
/// assert_ne!(ab, batch_idempotency_key(["b", "a"]));
/// assert_ne!(ab, batch_idempotency_key(["ab"]));
/// assert_ne!(batch_idempotency_key(["a"]), idempotency_key("a"));
/// ```
pub fn batch_idempotency_key<'a>(business_keys: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(BATCH_KEY_DOMAIN);
    for key in business_keys {
        hasher.update((key.len() as u64).to_be_bytes());
        hasher.update(key.as_bytes());
    }
    truncated_hex(hasher.finalize().as_slice())
}

fn truncated_hex(digest: &[u8]) -> String {
    let mut hex = hex::encode(digest);
    hex.truncate(IDEMPOTENCY_KEY_LEN);
    hex
}

/// Whether `name` is a legal HTTP header name (an RFC 9110 token).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The user's `headers` object as header pairs, checked the way the reference's `fetch` checks
/// them (it throws a `TypeError`, which the action turns into a `PayloadValidationError`):
/// names must be tokens; values are `String(value)` for strings, numbers, booleans and `null`,
/// trimmed of surrounding whitespace, and must be printable ASCII (or tab). The error names the
/// header and the offending character, never the whole value (it may be a credential).
///
/// ```
/// use webhook::api::headers_of;
/// let h = serde_json::json!({"Custom-Header": "Custom-Value", "X-Count": 3});
/// let pairs = headers_of(h.as_object().unwrap()).unwrap();
/// assert_eq!(pairs, [("Custom-Header".to_string(), "Custom-Value".to_string()),
///                    ("X-Count".to_string(), "3".to_string())]);
/// let bad = serde_json::json!({"Custom-Header": "هيثم"});
/// let err = headers_of(bad.as_object().unwrap()).unwrap_err();
/// assert_eq!(err.class(), actions_core::ErrorClass::PayloadValidation);
/// ```
///
/// # Errors
/// A `PayloadValidationError` for an illegal name, an object or array value, or a value with a
/// character outside printable ASCII.
pub fn headers_of(headers: &Map<String, Value>) -> Result<Vec<(String, String)>, Error> {
    let mut pairs = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        if !is_token(name) {
            return Err(Error::payload_validation(format!(
                "headers: {name:?} is not a legal HTTP header name"
            )));
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => js::json_number_to_string(n),
            Value::Bool(b) => b.to_string(),
            Value::Null => "null".to_string(),
            Value::Array(_) | Value::Object(_) => {
                return Err(Error::payload_validation(format!(
                    "headers.{name}: the value is {} but a header value must be a string, number or boolean",
                    if value.is_array() {
                        "an array"
                    } else {
                        "an object"
                    }
                )));
            }
        };
        let trimmed = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if let Some((at, bad)) = trimmed
            .chars()
            .enumerate()
            .find(|(_, c)| *c != '\t' && !(' '..='~').contains(c))
        {
            return Err(Error::payload_validation(format!(
                "headers.{name}: the value is not a legal HTTP header value: only ASCII characters are supported (found {bad:?} at character {})",
                at + 1
            )));
        }
        pairs.push((name.clone(), trimmed.to_string()));
    }
    Ok(pairs)
}

/// Checks that the webhook URL is an absolute `http` or `https` URL (a `uri` such as
/// `mailto:` passes the field's format check but can never be delivered to).
///
/// # Errors
/// A `PayloadValidationError` naming the URL and the reason.
pub fn check_url(url: &str) -> Result<(), Error> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        Ok(u) => Err(Error::payload_validation(format!(
            "url: {url:?} has the scheme {:?}; only http and https URLs can receive requests",
            u.scheme()
        ))),
        Err(e) => Err(Error::payload_validation(format!(
            "url: {url:?} is not a valid URL: {e}"
        ))),
    }
}

/// The error a failed request becomes. A response the retry policy does not retry (4xx other
/// than 408, 423 and 429; 501; an unfollowed 3xx) becomes a permanent `IntegrationError` whose
/// message names the status and quotes the response body — whitespace collapsed, at most
/// [`MAX_BODY_EXCERPT`] characters — with the code of the status (`BAD_REQUEST`, …). Anything
/// else (5xx, 408, 429 with its `Retry-After`, timeouts, connection failures) is returned
/// unchanged: the runtime's [`Outcome`] classification retries it.
///
/// ```
/// use actions_core::prelude::*;
/// use actions_core::request::Response;
/// use webhook::api::rejection;
///
/// let r = Response::new(422, "https://example.com/", vec![], "  {\"error\":\n \"unknown field\"} ");
/// let err = rejection(Error::http(r));
/// assert_eq!(err.status(), Some(422));
/// assert_eq!(err.code(), Some("UNPROCESSABLE_ENTITY"));
/// assert!(err.message().ends_with(r#"{"error": "unknown field"}"#), "{}", err.message());
/// assert!(matches!(Outcome::of_error(&err), Outcome::Permanent { status: Some(422), .. }));
///
/// let busy = rejection(Error::http(Response::new(503, "https://example.com/", vec![], "busy")));
/// assert!(matches!(Outcome::of_error(&busy), Outcome::Retry { status: Some(503), .. }));
/// ```
pub fn rejection(err: Error) -> Error {
    let Some(response) = err.response() else {
        return err;
    };
    let status = response.status();
    if is_retryable_status(status) {
        return err;
    }
    let reason = if response.status_text().is_empty() {
        error_code_from_http_status(status).replace('_', " ")
    } else {
        response.status_text().to_string()
    };
    let body = excerpt(response.content(), MAX_BODY_EXCERPT);
    let message = if body.is_empty() {
        format!("The webhook answered {status} {reason} with an empty body")
    } else {
        format!("The webhook answered {status} {reason}: {body}")
    };
    Error::integration(message, error_code_from_http_status(status), status)
}

/// `text` with runs of whitespace collapsed to one space, trimmed, and cut after `max`
/// characters (marked with `…`).
pub fn excerpt(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        if count > 0 {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count >= max {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stringify_escapes_like_json_stringify() {
        let v = json!({"s": "a\"b\\c\u{1}\u{1f}\n\t\u{7f}é/", "neg0": -0.0, "f": 0.1, "i": -3, "e": 1e-7});
        assert_eq!(
            stringify(&v).unwrap(),
            "{\"s\":\"a\\\"b\\\\c\\u0001\\u001f\\n\\t\u{7f}é/\",\"neg0\":0,\"f\":0.1,\"i\":-3,\"e\":1e-7}"
        );
    }

    #[test]
    fn stringify_agrees_with_serde_json_where_javascript_does() {
        // No floats: serde_json and JSON.stringify print the same text.
        let v = json!({"a": [1, "x", null, {"b": false}], "c": "\u{2028}\u{0}"});
        assert_eq!(stringify(&v).unwrap(), serde_json::to_string(&v).unwrap());
    }

    #[test]
    fn excerpt_collapses_and_bounds() {
        assert_eq!(excerpt("  a \n\n b  ", 10), "a b");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("ééé ééé", 5), "ééé é…");
        assert_eq!(excerpt("", 5), "");
    }

    #[test]
    fn header_names_must_be_tokens() {
        for bad in ["", "Bad Header", "a:b", "ü"] {
            let h = json!({ bad: "v" });
            assert!(headers_of(h.as_object().unwrap()).is_err(), "{bad:?}");
        }
        let h = json!({"X-Ok_1.~": " padded\t", "n": null, "b": false});
        assert_eq!(
            headers_of(h.as_object().unwrap()).unwrap(),
            [
                ("X-Ok_1.~".to_string(), "padded".to_string()),
                ("n".to_string(), "null".to_string()),
                ("b".to_string(), "false".to_string())
            ]
        );
    }

    #[test]
    fn header_errors_do_not_quote_the_value() {
        let h = json!({"Authorization": "Bearer s3cr3t\u{e9}", "X": {"a": 1}});
        let err = headers_of(h.as_object().unwrap()).unwrap_err();
        assert!(!err.message().contains("s3cr3t"), "{}", err.message());
        assert!(
            err.message().contains("headers.Authorization"),
            "{}",
            err.message()
        );
        assert!(err.message().contains("character 14"), "{}", err.message());
    }

    #[test]
    fn urls_must_be_http() {
        assert!(check_url("https://example.com/hook?x=1").is_ok());
        assert!(check_url("http://127.0.0.1:9000").is_ok());
        let err = check_url("mailto:a@example.com").unwrap_err();
        assert!(err.message().contains("\"mailto\""), "{}", err.message());
        assert!(check_url("/relative").is_err());
    }
}
