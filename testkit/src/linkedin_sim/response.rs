//! Responses the simulator sends, and LinkedIn's error bodies.

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

/// A response before it is turned into a hyper response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

impl SimResponse {
    /// `status` with a JSON body and `Content-Type: application/json`.
    pub(crate) fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(body.to_string()),
        }
    }

    /// `status` with no body and no content type.
    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// `status` with a `text/plain` body.
    pub(crate) fn text(status: u16, text: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain;charset=UTF-8".into())],
            body: Bytes::from(text.to_owned()),
        }
    }

    /// Adds (or replaces) a header.
    pub(crate) fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }
}

/// The standard reason phrase of a status (`Not Found`), or `Unknown` for odd codes.
pub(crate) fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}

/// The body LinkedIn sends for an error status when nothing more specific applies.
pub(crate) fn default_error_body(status: u16) -> Value {
    match status {
        401 => {
            json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"})
        }
        403 => {
            json!({"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED", "message": "Not enough permissions to access this resource"})
        }
        404 => json!({"status": 404, "serviceErrorCode": 0, "message": "Not Found"}),
        429 => {
            json!({"status": 429, "serviceErrorCode": 101, "code": "QUOTA_EXCEEDED", "message": "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."})
        }
        _ => json!({"status": status, "message": reason(status)}),
    }
}

/// `{"status", "code", "message"}` — LinkedIn's simple error form.
pub(crate) fn error(status: u16, code: &str, message: &str) -> SimResponse {
    SimResponse::json(
        status,
        &json!({"status": status, "code": code, "message": message}),
    )
}

/// The generic 404.
pub(crate) fn not_found() -> SimResponse {
    SimResponse::json(404, &default_error_body(404))
}

/// 404 for a DMP segment that does not exist or is not ready yet.
pub(crate) fn segment_not_found(id: &str) -> SimResponse {
    SimResponse::json(
        404,
        &json!({"status": 404, "message": format!("Could not find DMP segment with ID {id}")}),
    )
}

/// One entry of a Rest.li 2.0 `VALIDATION_FAILED` error.
pub(crate) fn input_error(field_path: &str, code: &str, description: &str) -> Value {
    json!({"code": code, "description": description, "input": {"inputPath": {"fieldPath": field_path}}})
}

/// The Rest.li 2.0 validation error body (`VALIDATION_FAILED` with `errorDetails.inputErrors`).
pub(crate) fn validation_failed_body(status: u16, errors: Vec<Value>) -> Value {
    json!({
        "status": status,
        "code": "VALIDATION_FAILED",
        "message": "Multiple errors occurred during the input validation. Please see errorDetails for more information.",
        "errorDetails": {"inputErrors": errors}
    })
}

/// The 401 bodies of the token checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    Missing,
    Invalid,
    Revoked,
    Expired,
}

impl TokenError {
    pub(crate) fn response(self) -> SimResponse {
        SimResponse::json(401, &self.response_body())
    }

    pub(crate) fn response_body(self) -> Value {
        match self {
            TokenError::Missing => {
                json!({"status": 401, "serviceErrorCode": 401, "message": "Empty oauth2_access_token"})
            }
            TokenError::Invalid => default_error_body(401),
            TokenError::Revoked => {
                json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "The token used in the request has been revoked by the user"})
            }
            TokenError::Expired => {
                json!({"status": 401, "serviceErrorCode": 65602, "code": "EXPIRED_ACCESS_TOKEN", "message": "The token used in the request has expired"})
            }
        }
    }
}

/// An OAuth token-endpoint error (`{"error", "error_description"}`).
pub(crate) fn oauth_error(status: u16, error: &str, description: &str) -> SimResponse {
    SimResponse::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}
