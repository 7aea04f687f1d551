//! The one error type of the framework, with the reference's taxonomy.
//!
//! Every failure — a destination's own `IntegrationError`, an HTTP error response, a timeout, an
//! invalid payload, an invalid mapping — is an [`Error`] with a [`ErrorClass`] (the reference's
//! class name), a message a person can act on, an optional HTTP `status`, an optional `code` (the
//! reference's `ErrorCodes` strings) and, for HTTP errors, the [`Response`] itself.
//!
//! Whether an error is retried, and how long the server asked to wait, is decided in one place,
//! [`crate::retry`]; [`Error::is_retryable`] and [`Error::retry_after`] report its answers.
//!
//! ```
//! use actions_core::{Error, ErrorClass};
//!
//! let err = Error::retryable("Upstream is busy", 503);
//! assert_eq!(err.class(), ErrorClass::Retryable);
//! assert_eq!(err.status(), Some(503));
//! assert_eq!(err.code(), Some("RETRYABLE_ERROR"));
//! assert!(err.is_retryable());
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::request::Response;

/// The reference's error classes (the JavaScript class names, see [`ErrorClass::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// `IntegrationError(message, code, status)`: a user-facing error with a reason code.
    Integration,
    /// `RetryableError(message, status = 500)`: transient; code `RETRYABLE_ERROR`.
    Retryable,
    /// `InvalidAuthenticationError(message, code)`: status 401; the user must fix credentials.
    InvalidAuthentication,
    /// `PayloadValidationError(message)`: 400, `PAYLOAD_VALIDATION_FAILED`.
    PayloadValidation,
    /// `InvalidAudienceMembershipError(message)`: 400, `INVALID_AUDIENCE_MEMBERSHIP`.
    InvalidAudienceMembership,
    /// `APIError(message, status)`: code = the status as a string.
    Api,
    /// `SelfTimeoutError(message)`: 408, `SELF_TIMEOUT`.
    SelfTimeout,
    /// `HTTPError`: a non-2xx response surfaced as is; message = the status text.
    Http,
    /// `TimeoutError`: the client's own timeout fired (`Request timed out after <n>ms`).
    Timeout,
    /// `RequestTimeoutError`: 408, `REQUESTTIMEOUTERROR`.
    RequestTimeout,
    /// `RequestClientError`: 408, `REQUESTCLIENTERROR` (aborted request, connection failure).
    RequestClient,
    /// `TokenPropagationRetryError` (new): a freshly refreshed OAuth token is not valid
    /// everywhere yet; the pipeline refreshes and retries later.
    TokenPropagationRetry,
    /// `AggregateAjvError`: the payload or settings failed schema validation (status 400).
    SchemaValidation,
    /// A mapping `ValidationError` / `AggregateError`: the mapping itself is invalid (status 400).
    MappingValidation,
    /// A run-time failure of a mapping directive or a Liquid template (class `Error`).
    Mapping,
    /// A plain `Error` (e.g. the `Credentials are invalid: …` wrapper of test authentication).
    Plain,
}

impl ErrorClass {
    /// The reference's class name (`"IntegrationError"`, `"HTTPError"`, …).
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Integration => "IntegrationError",
            ErrorClass::Retryable => "RetryableError",
            ErrorClass::InvalidAuthentication => "InvalidAuthenticationError",
            ErrorClass::PayloadValidation => "PayloadValidationError",
            ErrorClass::InvalidAudienceMembership => "InvalidAudienceMembershipError",
            ErrorClass::Api => "APIError",
            ErrorClass::SelfTimeout => "SelfTimeoutError",
            ErrorClass::Http => "HTTPError",
            ErrorClass::Timeout => "TimeoutError",
            ErrorClass::RequestTimeout => "RequestTimeoutError",
            ErrorClass::RequestClient => "RequestClientError",
            ErrorClass::TokenPropagationRetry => "TokenPropagationRetryError",
            ErrorClass::SchemaValidation => "AggregateAjvError",
            ErrorClass::MappingValidation => "ValidationError",
            ErrorClass::Mapping => "Error",
            ErrorClass::Plain => "Error",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The reference's custom error codes (`CustomErrorCodes`).
pub mod codes {
    /// Credentials are invalid.
    pub const INVALID_AUTHENTICATION: &str = "INVALID_AUTHENTICATION";
    /// The payload failed validation.
    pub const PAYLOAD_VALIDATION_FAILED: &str = "PAYLOAD_VALIDATION_FAILED";
    /// An invalid currency code.
    pub const INVALID_CURRENCY_CODE: &str = "INVALID_CURRENCY_CODE";
    /// A transient error: retry later.
    pub const RETRYABLE_ERROR: &str = "RETRYABLE_ERROR";
    /// The refresh token is invalid or expired.
    pub const REFRESH_TOKEN_EXPIRED: &str = "REFRESH_TOKEN_EXPIRED";
    /// The OAuth refresh failed.
    pub const OAUTH_REFRESH_FAILED: &str = "OAUTH_REFRESH_FAILED";
    /// The destination gave up waiting.
    pub const SELF_TIMEOUT: &str = "SELF_TIMEOUT";
    /// Creating an audience failed.
    pub const CREATE_AUDIENCE_FAILED: &str = "CREATE_AUDIENCE_FAILED";
    /// Reading an audience failed.
    pub const GET_AUDIENCE_FAILED: &str = "GET_AUDIENCE_FAILED";
    /// A RETL on-mapping-save hook failed.
    pub const RETL_ON_MAPPING_SAVE_FAILED: &str = "RETL_ON_MAPPING_SAVE_FAILED";
    /// The audience membership could not be resolved.
    pub const INVALID_AUDIENCE_MEMBERSHIP: &str = "INVALID_AUDIENCE_MEMBERSHIP";
    /// No better code is known.
    pub const UNKNOWN_ERROR: &str = "UNKNOWN_ERROR";
    /// The new token-propagation error (see [`super::ErrorClass::TokenPropagationRetry`]).
    pub const TOKEN_PROPAGATION_RETRY: &str = "TOKEN_PROPAGATION_RETRY";
    /// The client's own timeout (`TimeoutError`).
    pub const ETIMEDOUT: &str = "ETIMEDOUT";
    /// `RequestTimeoutError`.
    pub const REQUEST_TIMEOUT_ERROR: &str = "REQUESTTIMEOUTERROR";
    /// `RequestClientError`.
    pub const REQUEST_CLIENT_ERROR: &str = "REQUESTCLIENTERROR";
    /// Not implemented (used with status 501).
    pub const NOT_IMPLEMENTED: &str = "NotImplemented";
}

/// The reference's `getErrorCodeFromHttpStatus`: the upper-snake name of an HTTP status
/// (`400` → `BAD_REQUEST`), or `UNKNOWN_ERROR`. Names follow the reference, misspellings
/// included (`301` → `MOVED_PERMENANTLY`).
pub fn error_code_from_http_status(status: u16) -> &'static str {
    match status {
        100 => "CONTINUE",
        101 => "SWITCHING_PROTOCOLS",
        102 => "PROCESSING",
        103 => "EARLY_HINTS",
        200 => "OK",
        201 => "CREATED",
        202 => "ACCEPTED",
        203 => "NON_AUTHORITATIVE_INFORMATION",
        204 => "NO_CONTENT",
        205 => "RESET_CONTENT",
        206 => "PARTIAL_CONTENT",
        207 => "MULTI_STATUS",
        208 => "ALREADY_REPORTED",
        226 => "IM_USED",
        300 => "MULTIPLE_CHOICES",
        301 => "MOVED_PERMENANTLY",
        302 => "FOUND",
        303 => "SEE_OTHER",
        304 => "NOT_MODIFIED",
        305 => "USE_PROXY",
        306 => "SWITCH_PROXY",
        307 => "TEMPORARY_REDIRECT",
        308 => "PERMANENT_REDIRECT",
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        402 => "PAYMENT_REQUIRED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        406 => "NOT_ACCEPTABLE",
        407 => "PROXY_AUTHENTICATION_REQUIRED",
        408 => "REQUEST_TIMEOUT",
        409 => "CONFLICT",
        410 => "GONE",
        411 => "LENGTH_REQUIRED",
        412 => "PRECONDITION_FAILED",
        413 => "PAYLOAD_TOO_LARGE",
        414 => "URI_TOO_LONG",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        416 => "RANGE_NOT_SATISFIABLE",
        417 => "EXPECTATION_FAILED",
        418 => "IM_A_TEAPOT",
        421 => "MISDIRECTED_REQUEST",
        422 => "UNPROCESSABLE_ENTITY",
        423 => "LOCKED",
        424 => "FAILED_DEPENDENCY",
        425 => "TOO_EARLY",
        426 => "UPGRADE_REQUIRED",
        428 => "PRECONDITION_REQUIRED",
        429 => "TOO_MANY_REQUESTS",
        431 => "REQUEST_HEADER_FIELDS_TOO_LARGE",
        451 => "UNAVAILABLE_FOR_LEGAL_REASONS",
        499 => "CANCELLED",
        500 => "INTERNAL_SERVER_ERROR",
        501 => "NOT_IMPLEMENTED",
        502 => "BAD_GATEWAY",
        503 => "SERVICE_UNAVAILABLE",
        504 => "GATEWAY_TIMEOUT",
        505 => "HTTP_VERSION_NOT_SUPPORTED",
        506 => "VARIANT_ALSO_NEGOTIATES",
        507 => "INSUFFICIENT_STORAGE",
        508 => "LOOP_DETECTED",
        509 => "BANDWIDTH_LIMIT_EXCEEDED",
        510 => "NOT_EXTENDED",
        511 => "NETWORK_AUTHENTICATION_REQUIRED",
        529 => "SITE_IS_OVERLOADED",
        _ => codes::UNKNOWN_ERROR,
    }
}

/// One problem found by validation (of a payload, settings or a mapping).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationIssue {
    /// JSON pointer of the offending value (`/conversionValue/amount`), or of the mapping node.
    pub pointer: String,
    /// The message, as the reference words it.
    pub message: String,
}

/// The framework's one error type. Cheap to clone (the response is shared).
///
/// `Debug` and `Display` never contain secrets: messages are written by destinations and the
/// framework, and the captured [`Response`] redacts credentials in its `Debug`.
#[derive(Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    class: ErrorClass,
    message: String,
    code: Option<String>,
    status: Option<u16>,
    response: Option<Arc<Response>>,
    retry_after: Option<Duration>,
    issues: Vec<ValidationIssue>,
    cause: Option<ErrorClass>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(self.class.name());
        d.field("message", &self.message);
        if let Some(code) = &self.code {
            d.field("code", code);
        }
        if let Some(status) = self.status() {
            d.field("status", &status);
        }
        if let Some(after) = self.retry_after {
            d.field("retry_after", &after);
        }
        if !self.issues.is_empty() {
            d.field("issues", &self.issues);
        }
        if let Some(cause) = self.cause {
            d.field("caused_by", &cause);
        }
        d.finish()
    }
}

impl Error {
    fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Error {
            class,
            message: message.into(),
            code: None,
            status: None,
            response: None,
            retry_after: None,
            issues: Vec::new(),
            cause: None,
        }
    }

    /// `IntegrationError(message, code, status)`.
    pub fn integration(message: impl Into<String>, code: impl Into<String>, status: u16) -> Self {
        let mut e = Error::new(ErrorClass::Integration, message);
        e.code = Some(code.into());
        e.status = Some(status);
        e
    }

    /// `IntegrationError(message)` without code or status.
    pub fn integration_message(message: impl Into<String>) -> Self {
        Error::new(ErrorClass::Integration, message)
    }

    /// `RetryableError(message, status)`; code `RETRYABLE_ERROR`.
    pub fn retryable(message: impl Into<String>, status: u16) -> Self {
        let mut e = Error::new(ErrorClass::Retryable, message);
        e.code = Some(codes::RETRYABLE_ERROR.to_string());
        e.status = Some(status);
        e
    }

    /// `InvalidAuthenticationError(message)`; status 401, code `INVALID_AUTHENTICATION`.
    pub fn invalid_authentication(message: impl Into<String>) -> Self {
        Error::invalid_authentication_with_code(message, codes::INVALID_AUTHENTICATION)
    }

    /// `InvalidAuthenticationError(message, code)`; status 401.
    pub fn invalid_authentication_with_code(
        message: impl Into<String>,
        code: impl Into<String>,
    ) -> Self {
        let mut e = Error::new(ErrorClass::InvalidAuthentication, message);
        e.code = Some(code.into());
        e.status = Some(401);
        e
    }

    /// `PayloadValidationError(message)`; status 400, code `PAYLOAD_VALIDATION_FAILED`.
    pub fn payload_validation(message: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorClass::PayloadValidation, message);
        e.code = Some(codes::PAYLOAD_VALIDATION_FAILED.to_string());
        e.status = Some(400);
        e
    }

    /// `InvalidAudienceMembershipError(message)`; status 400.
    pub fn invalid_audience_membership(message: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorClass::InvalidAudienceMembership, message);
        e.code = Some(codes::INVALID_AUDIENCE_MEMBERSHIP.to_string());
        e.status = Some(400);
        e
    }

    /// `APIError(message, status)`; code = the status as a string.
    pub fn api(message: impl Into<String>, status: u16) -> Self {
        let mut e = Error::new(ErrorClass::Api, message);
        e.code = Some(status.to_string());
        e.status = Some(status);
        e
    }

    /// `SelfTimeoutError(message)`; status 408, code `SELF_TIMEOUT`.
    pub fn self_timeout(message: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorClass::SelfTimeout, message);
        e.code = Some(codes::SELF_TIMEOUT.to_string());
        e.status = Some(408);
        e
    }

    /// `HTTPError` for a non-2xx response: message = the status text (reason phrase), status =
    /// the response status, the response attached. `Retry-After` / `X-RateLimit-Reset` are read.
    pub fn http(response: Response) -> Self {
        let message = if response.status_text().is_empty() {
            response.status().to_string()
        } else {
            response.status_text().to_string()
        };
        let mut e = Error::new(ErrorClass::Http, message);
        e.retry_after = crate::retry::wait_hint(&response, SystemTime::now());
        e.response = Some(Arc::new(response));
        e
    }

    /// `TimeoutError`: the client's timeout of `ms` milliseconds fired. Code `ETIMEDOUT`; the
    /// delivery runtime treats it as retryable (408).
    pub fn timeout(ms: u128) -> Self {
        let mut e = Error::new(
            ErrorClass::Timeout,
            format!("Request timed out after {ms}ms"),
        );
        e.code = Some(codes::ETIMEDOUT.to_string());
        e
    }

    /// `RequestTimeoutError(message)`; status 408.
    pub fn request_timeout(message: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorClass::RequestTimeout, message);
        e.code = Some(codes::REQUEST_TIMEOUT_ERROR.to_string());
        e.status = Some(408);
        e
    }

    /// `RequestClientError(message)`; status 408 (aborted request, connection failure).
    pub fn request_client(message: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorClass::RequestClient, message);
        e.code = Some(codes::REQUEST_CLIENT_ERROR.to_string());
        e.status = Some(408);
        e
    }

    /// `TokenPropagationRetryError(message)`: status 401 is *not* set on purpose (the normal
    /// 401 refresh-and-retry path must not treat it as a plain 401); code
    /// `TOKEN_PROPAGATION_RETRY`.
    pub fn token_propagation(message: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorClass::TokenPropagationRetry, message);
        e.code = Some(codes::TOKEN_PROPAGATION_RETRY.to_string());
        e
    }

    /// `AggregateAjvError`: schema validation failed (status 400), with every issue.
    pub fn schema_validation(message: impl Into<String>, issues: Vec<ValidationIssue>) -> Self {
        let mut e = Error::new(ErrorClass::SchemaValidation, message);
        e.status = Some(400);
        e.issues = issues;
        e
    }

    /// A mapping `ValidationError` (status 400), with every problem found.
    pub fn mapping_validation(message: impl Into<String>, issues: Vec<ValidationIssue>) -> Self {
        let mut e = Error::new(ErrorClass::MappingValidation, message);
        e.status = Some(400);
        e.issues = issues;
        e
    }

    /// A run-time mapping failure (class `Error`).
    pub fn mapping(message: impl Into<String>) -> Self {
        Error::new(ErrorClass::Mapping, message)
    }

    /// A plain `Error(message)`.
    pub fn plain(message: impl Into<String>) -> Self {
        Error::new(ErrorClass::Plain, message)
    }

    /// Sets the code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets how long to wait before retrying.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Records the class of the error this one replaces (e.g. the `RetryableError` 503 the
    /// pipeline raises for a `TokenPropagationRetryError`).
    pub fn with_cause(mut self, cause: ErrorClass) -> Self {
        self.cause = Some(cause);
        self
    }

    /// The class of the error this one replaced, if any.
    pub fn caused_by(&self) -> Option<ErrorClass> {
        self.cause
    }

    /// The reference class.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The reference's code (`ErrorCodes` string), if any.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The HTTP status: the error's own, else its response's (the reference's
    /// `error.status ?? error.response?.status`).
    pub fn status(&self) -> Option<u16> {
        self.status
            .or_else(|| self.response.as_ref().map(|r| r.status()))
    }

    /// The response of an HTTP error.
    pub fn response(&self) -> Option<&Response> {
        self.response.as_deref()
    }

    /// How long the server asked to wait, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Every validation problem (schema or mapping validation errors).
    pub fn issues(&self) -> &[ValidationIssue] {
        &self.issues
    }

    /// Whether the retry policy retries this error (see [`crate::retry::is_retryable`]: by
    /// status, 4xx no except 408, 423, 429 and 5xx yes except 501; `RetryableError`, timeouts
    /// and token propagation always).
    pub fn is_retryable(&self) -> bool {
        crate::retry::is_retryable(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let e = Error::api("Failed", 400);
        assert_eq!(e.code(), Some("400"));
        assert!(!e.is_retryable());
        let e = Error::payload_validation("bad");
        assert_eq!(
            (e.status(), e.code()),
            (Some(400), Some("PAYLOAD_VALIDATION_FAILED"))
        );
        let e = Error::invalid_authentication("nope");
        assert_eq!(
            (e.status(), e.code()),
            (Some(401), Some("INVALID_AUTHENTICATION"))
        );
        assert_eq!(error_code_from_http_status(429), "TOO_MANY_REQUESTS");
        assert_eq!(error_code_from_http_status(299), "UNKNOWN_ERROR");
        let e = Error::token_propagation("65601");
        assert_eq!(e.status(), None);
        assert!(e.is_retryable());
    }
}
