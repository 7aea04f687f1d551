//! Everything relay takes from core's retry rules, in one place: the attempt's [`Outcome`]
//! (core classifies: status rules, `Retry-After` / `X-RateLimit-Reset` hints, token
//! propagation), the error codes that mean "the credentials are gone", and the redaction of
//! response bodies. When core moves these (e.g. into `core::retry`), only this module changes.

use actions_core::action::{MultiStatusNode, ResultEntry};
use actions_core::error::codes;
use actions_core::request::{Exchange, redact_body};
use actions_core::retry::RateLimitHeaders;
use actions_core::{Error, Outcome};
use serde_json::Value;

/// Longest response body kept in a dead letter or the ledger.
pub const MAX_BODY: usize = 2000;

/// Classifies one attempt (see [`Outcome::of_result`]).
pub fn outcome(result: &Result<Vec<ResultEntry>, Error>) -> Outcome {
    Outcome::of_result(result)
}

/// The partner's quota after an attempt: the `X-RateLimit-*` headers of the failed response,
/// else of the last recorded response that has them (`now` resolves an absolute reset time).
pub fn quota(
    result: &Result<Vec<ResultEntry>, Error>,
    exchanges: &[Exchange],
    now: std::time::SystemTime,
) -> RateLimitHeaders {
    if let Err(e) = result {
        let q = RateLimitHeaders::of_error(e, now);
        if q.is_present() {
            return q;
        }
    }
    exchanges
        .iter()
        .rev()
        .filter_map(|x| x.response.as_ref())
        .map(|r| RateLimitHeaders::of(r, now))
        .find(RateLimitHeaders::is_present)
        .unwrap_or_default()
}

/// Whether a permanent failure means the destination's credentials are unusable (a refresh
/// token rejected for good, a refresh that cannot be made): the instance halts instead of
/// dead-lettering every event.
pub fn is_credential_failure(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(codes::REFRESH_TOKEN_EXPIRED) | Some(codes::OAUTH_REFRESH_FAILED)
    )
}

/// Consecutive refresh failures of the [`is_transient_refresh_failure`] kind after which an
/// instance halts as for a rejected refresh token.
pub const REFRESH_FAILURES_BEFORE_HALT: u32 = 5;

/// Whether a credential failure may pass on its own: `OAUTH_REFRESH_FAILED` (the token endpoint
/// failed — a 5xx, a reset, a timeout — or named an error other than `invalid_grant`), unlike
/// `REFRESH_TOKEN_EXPIRED` (the refresh token was rejected for good). Relay pauses the instance
/// and tries again, [`REFRESH_FAILURES_BEFORE_HALT`] times in a row at most, before it halts.
pub fn is_transient_refresh_failure(code: Option<&str>) -> bool {
    code == Some(codes::OAUTH_REFRESH_FAILED)
}

/// A body with secrets redacted, shortened to [`MAX_BODY`] characters.
pub fn redacted(text: &str) -> String {
    let red = redact_body(text);
    shorten(&red)
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_BODY {
        return text.to_string();
    }
    let mut s: String = text.chars().take(MAX_BODY).collect();
    s.push('…');
    s
}

/// The status and (redacted) body of a failed attempt, when there was a response.
pub fn error_details(err: &Error) -> (Option<u16>, Option<String>) {
    let body = err
        .response()
        .map(|r| r.content())
        .filter(|c| !c.is_empty())
        .map(redacted);
    (err.status(), body)
}

/// The status and (redacted) body of one batch item.
pub fn node_details(node: &MultiStatusNode) -> (Option<u16>, Option<String>) {
    match node {
        MultiStatusNode::Success { status, body, .. } => (
            Some(*status),
            body.as_ref().map(|b| redacted(&b.to_string())),
        ),
        MultiStatusNode::Error {
            status,
            errormessage,
            body,
            ..
        } => (
            Some(*status),
            Some(redacted(
                &body
                    .as_ref()
                    .map_or_else(|| errormessage.clone(), Value::to_string),
            )),
        ),
    }
}

/// What a delivered single event answered: the action's data (shortened) and the id the partner
/// created, when the answer names one (`id`).
pub fn delivered_answer(entries: &[ResultEntry]) -> (Option<Value>, Option<String>) {
    let data = entries
        .iter()
        .find(|e| e.output.as_deref() == Some("Action Executed"))
        .and_then(|e| e.data.clone());
    let data = data.map(|d| {
        let text = d.to_string();
        if text.len() > MAX_BODY {
            Value::String(redacted(&text))
        } else {
            serde_json::from_str(&redact_body(&text)).unwrap_or(d)
        }
    });
    let id = data.as_ref().and_then(created_id);
    (data, id)
}

/// The `id` member of an answer, as text.
pub fn created_id(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The short name of a retry reason, for the summary's "retried by reason".
pub fn retry_category(o: &Outcome) -> String {
    match o {
        Outcome::Retry {
            status: Some(s), ..
        } => format!("status {s}"),
        Outcome::Retry { reason, .. } => reason
            .split(':')
            .next()
            .unwrap_or("retryable")
            .trim()
            .to_string(),
        Outcome::RateLimited { .. } => "429 rate limited".into(),
        Outcome::RefreshThenRetry { .. } => "token propagation".into(),
        _ => "other".into(),
    }
}

/// The short name of a permanent failure, for grouping dead letters.
pub fn permanent_category(status: Option<u16>, code: Option<&str>) -> String {
    match (status, code) {
        (Some(s), Some(c)) if c != s.to_string() => format!("permanent {s} {c}"),
        (Some(s), _) => format!("permanent {s}"),
        (None, Some(c)) => format!("permanent {c}"),
        (None, None) => "permanent".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actions_core::request::Response;

    #[test]
    fn bodies_are_redacted_and_shortened() {
        let e = Error::http(Response::new(
            400,
            "u",
            vec![],
            r#"{"message":"bad","access_token":"AT-SECRET"}"#,
        ));
        let (status, body) = error_details(&e);
        assert_eq!(status, Some(400));
        let body = body.unwrap();
        assert!(
            !body.contains("AT-SECRET") && body.contains("bad"),
            "{body}"
        );
        let long = "x".repeat(5000);
        assert_eq!(redacted(&long).chars().count(), MAX_BODY + 1);
    }

    #[test]
    fn categories() {
        assert_eq!(
            permanent_category(Some(400), Some("PAYLOAD_VALIDATION_FAILED")),
            "permanent 400 PAYLOAD_VALIDATION_FAILED"
        );
        assert_eq!(permanent_category(Some(404), Some("404")), "permanent 404");
        assert_eq!(
            retry_category(&Outcome::of_error(&Error::timeout(10))),
            "TimeoutError"
        );
        assert!(is_credential_failure(Some(codes::REFRESH_TOKEN_EXPIRED)));
        assert!(!is_credential_failure(Some("INVALID_AUTHENTICATION")));
        assert!(is_transient_refresh_failure(Some(
            codes::OAUTH_REFRESH_FAILED
        )));
        assert!(!is_transient_refresh_failure(Some(
            codes::REFRESH_TOKEN_EXPIRED
        )));
    }
}
