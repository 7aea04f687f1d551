//! The retry policy, in one place: which failures are retried, how long the partner asked us to
//! wait, and what the delivery runtime should do after an attempt ([`Outcome`]).
//!
//! The core never sleeps and never loops on retries (beyond the OAuth pipeline's single
//! refresh-then-retry); it **classifies** each attempt, and the delivery runtime (relay)
//! schedules from the classification. Everything that decides "retry or not" lives here:
//!
//! | question | answer |
//! |---|---|
//! | is this HTTP status retried? | [`is_retryable_status`]: 4xx no except 408, 423, 429; 5xx yes except 501 |
//! | is this error retried? | [`is_retryable`] (what [`Error::is_retryable`] answers) |
//! | how long did the server ask us to wait? | [`wait_hint`]: `Retry-After` (seconds or HTTP date), else `X-RateLimit-Reset` |
//! | how much quota is left? | [`RateLimitHeaders`]: `X-RateLimit-Limit`, `-Remaining`, `-Reset` |
//! | does an error fail every item of a batch? | [`fails_whole_batch`] (credential errors do) |
//! | what now? | [`Outcome::of_result`], [`Outcome::of_error`], [`Outcome::of_node`] |
//!
//! **A destination with a special rule** does not copy this policy: it turns the partner's answer
//! into the right [`Error`] class in an after-response hook
//! ([`RequestOptions::after_response`](crate::request::RequestOptions::after_response)), which
//! runs before a non-2xx response becomes an error. LinkedIn's "token not propagated yet" 401
//! (`serviceErrorCode` 65601) becomes [`Error::token_propagation`] that way, and classifies as
//! [`Outcome::RefreshThenRetry`] here.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use actions_core::request::Response;
//! use actions_core::retry::{Outcome, RateLimitHeaders, wait_hint};
//! use actions_core::Error;
//!
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let response = Response::new(429, "https://api.example.com", vec![
//!     ("Retry-After".into(), "7".into()),
//!     ("X-RateLimit-Limit".into(), "100".into()),
//!     ("X-RateLimit-Remaining".into(), "0".into()),
//! ], "");
//! assert_eq!(wait_hint(&response, now), Some(Duration::from_secs(7)));
//! let quota = RateLimitHeaders::of(&response, now);
//! assert!(quota.is_exhausted());
//! assert!(matches!(
//!     Outcome::of_error(&Error::http(response)),
//!     Outcome::RateLimited { after: Some(d), .. } if d == Duration::from_secs(7)
//! ));
//! ```

use std::time::{Duration, SystemTime};

use crate::action::{MultiStatusNode, ResultEntry};
use crate::error::{Error, ErrorClass};
use crate::request::Response;

/// The reference's retry policy for a status: 4xx are not retried except 408, 423 and 429;
/// 5xx are retried except 501. Anything else (1xx–3xx) is not retried.
pub fn is_retryable_status(status: u16) -> bool {
    match status {
        408 | 423 | 429 => true,
        501 => false,
        500..=599 => true,
        _ => false,
    }
}

/// Whether the reference's policy retries an error: `RetryableError`, timeouts, connection
/// failures and token propagation always; validation and mapping errors never; anything else by
/// its status ([`is_retryable_status`]).
pub fn is_retryable(error: &Error) -> bool {
    match error.class() {
        ErrorClass::Retryable
        | ErrorClass::TokenPropagationRetry
        | ErrorClass::Timeout
        | ErrorClass::RequestTimeout
        | ErrorClass::RequestClient
        | ErrorClass::SelfTimeout => true,
        ErrorClass::SchemaValidation
        | ErrorClass::MappingValidation
        | ErrorClass::Mapping
        | ErrorClass::PayloadValidation
        | ErrorClass::InvalidAudienceMembership => false,
        _ => error.status().is_some_and(is_retryable_status),
    }
}

/// Whether an error concerns what every request of a batch shares (the credentials: an invalid
/// or not yet propagated token). Such an error fails the whole batch rather than the items of
/// one request, so the OAuth pipeline refreshes once for all of them.
///
/// ```
/// use actions_core::{Error, retry::fails_whole_batch};
/// assert!(fails_whole_batch(&Error::invalid_authentication("expired")));
/// assert!(fails_whole_batch(&Error::token_propagation("65601")));
/// assert!(!fails_whole_batch(&Error::retryable("busy", 503)));
/// ```
pub fn fails_whole_batch(error: &Error) -> bool {
    matches!(
        error.class(),
        ErrorClass::InvalidAuthentication | ErrorClass::TokenPropagationRetry
    )
}

/// Below this, `X-RateLimit-Reset` is a delay in seconds; from it on, a Unix time in seconds.
const EPOCH_THRESHOLD: u64 = 1_000_000_000;

/// Reads `X-RateLimit-Reset`: a delay in seconds when small, else a Unix time in seconds
/// (relative to `now`; a time in the past is zero).
fn rate_limit_reset(response: &Response, now: SystemTime) -> Option<Duration> {
    let n = response
        .header("x-ratelimit-reset")?
        .trim()
        .parse::<u64>()
        .ok()?;
    if n < EPOCH_THRESHOLD {
        return Some(Duration::from_secs(n));
    }
    // A time beyond what `SystemTime` holds is unreadable, not a panic.
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(n))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Reads the server's wait hint from a response: `Retry-After` (delta seconds, fractional
/// seconds, or an HTTP date relative to `now`), else `X-RateLimit-Reset` (delta seconds when
/// small, else a Unix time in seconds). A date in the past is a zero wait.
pub fn wait_hint(response: &Response, now: SystemTime) -> Option<Duration> {
    if let Some(v) = response.header("retry-after") {
        let v = v.trim();
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(secs) = v.parse::<f64>()
            && secs.is_finite()
            && secs >= 0.0
            && secs < u64::MAX as f64
        {
            return Some(Duration::from_secs_f64(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    rate_limit_reset(response, now)
}

/// The partner's quota as its `X-RateLimit-*` headers state it (each `None` when absent or
/// unreadable): what a scheduler needs to pause before the wall instead of hitting it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `X-RateLimit-Limit`: requests allowed in the window.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`: requests left in the window.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`, as the time left until the window resets.
    pub reset: Option<Duration>,
}

impl RateLimitHeaders {
    /// Reads the headers of a response (relative to `now` for an absolute reset time).
    pub fn of(response: &Response, now: SystemTime) -> Self {
        let number = |name: &str| {
            response
                .header(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        RateLimitHeaders {
            limit: number("x-ratelimit-limit"),
            remaining: number("x-ratelimit-remaining"),
            reset: rate_limit_reset(response, now),
        }
    }

    /// The headers of an error's response (all `None` without one).
    pub fn of_error(error: &Error, now: SystemTime) -> Self {
        error
            .response()
            .map(|r| RateLimitHeaders::of(r, now))
            .unwrap_or_default()
    }

    /// Whether any of the headers was present.
    pub fn is_present(&self) -> bool {
        self.limit.is_some() || self.remaining.is_some() || self.reset.is_some()
    }

    /// Whether the quota is used up (`X-RateLimit-Remaining: 0`).
    pub fn is_exhausted(&self) -> bool {
        self.remaining == Some(0)
    }

    /// The share of the quota left, `remaining / limit` (`None` unless both are known and the
    /// limit is not zero).
    ///
    /// ```
    /// use actions_core::retry::RateLimitHeaders;
    /// let q = RateLimitHeaders { limit: Some(200), remaining: Some(10), reset: None };
    /// assert_eq!(q.fraction_remaining(), Some(0.05));
    /// ```
    pub fn fraction_remaining(&self) -> Option<f64> {
        match (self.limit, self.remaining) {
            (Some(limit), Some(remaining)) if limit > 0 => Some(remaining as f64 / limit as f64),
            _ => None,
        }
    }
}

/// What to do with an event (or each event of a batch) after an attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Delivered: acknowledge.
    Delivered,
    /// Nothing to deliver (not subscribed, no action): acknowledge without sending.
    Skipped {
        /// Why.
        reason: String,
    },
    /// A transient failure: retry later (after the server's hint when given).
    Retry {
        /// The server's wait hint.
        after: Option<Duration>,
        /// The status, when known.
        status: Option<u16>,
        /// Why.
        reason: String,
    },
    /// The partner rate-limited us: pause this destination (after the hint when given).
    RateLimited {
        /// The server's wait hint.
        after: Option<Duration>,
        /// Why.
        reason: String,
    },
    /// The credentials were refreshed (or must be) and the token needs time to be accepted:
    /// retry after a short delay with the new token.
    RefreshThenRetry {
        /// Why.
        reason: String,
    },
    /// A permanent failure: dead-letter with the reason.
    Permanent {
        /// The status, when known.
        status: Option<u16>,
        /// The error code, when known.
        code: Option<String>,
        /// Why.
        reason: String,
    },
    /// A batch: one outcome per event, in input order.
    Partial(Vec<Outcome>),
}

impl Outcome {
    /// Classifies a failed attempt.
    pub fn of_error(err: &Error) -> Outcome {
        let reason = format!("{}: {}", err.class(), err.message());
        if err.class() == ErrorClass::TokenPropagationRetry
            || err.caused_by() == Some(ErrorClass::TokenPropagationRetry)
        {
            return Outcome::RefreshThenRetry { reason };
        }
        match err.status() {
            Some(429) => Outcome::RateLimited {
                after: err.retry_after(),
                reason,
            },
            _ if is_retryable(err) => Outcome::Retry {
                after: err.retry_after(),
                status: err.status(),
                reason,
            },
            status => Outcome::Permanent {
                status,
                code: err.code().map(str::to_string),
                reason,
            },
        }
    }

    /// Classifies one event of a batch from its multistatus node.
    pub fn of_node(node: &MultiStatusNode) -> Outcome {
        match node {
            MultiStatusNode::Success { status, .. } if (200..300).contains(status) => {
                Outcome::Delivered
            }
            MultiStatusNode::Success { status, .. } => Outcome::of_status(*status, None, ""),
            MultiStatusNode::Error {
                status,
                errortype,
                errormessage,
                ..
            } => Outcome::of_status(*status, Some(errortype.as_str()), errormessage),
        }
    }

    fn of_status(status: u16, code: Option<&str>, message: &str) -> Outcome {
        let reason = if message.is_empty() {
            format!("status {status}")
        } else {
            format!("status {status}: {message}")
        };
        if status == 429 {
            Outcome::RateLimited {
                after: None,
                reason,
            }
        } else if is_retryable_status(status) {
            Outcome::Retry {
                after: None,
                status: Some(status),
                reason,
            }
        } else if (200..300).contains(&status) {
            Outcome::Delivered
        } else {
            Outcome::Permanent {
                status: Some(status),
                code: code.map(str::to_string),
                reason,
            }
        }
    }

    /// Classifies a run's result: a batch result (`multistatus`) becomes [`Outcome::Partial`];
    /// `not subscribed` / invalid subscriptions become [`Outcome::Skipped`].
    pub fn of_result(result: &Result<Vec<ResultEntry>, Error>) -> Outcome {
        let entries = match result {
            Err(e) => return Outcome::of_error(e),
            Ok(entries) => entries,
        };
        if let Some(nodes) = entries.iter().find_map(|e| e.multistatus.as_ref()) {
            return Outcome::Partial(nodes.iter().map(Outcome::of_node).collect());
        }
        if entries
            .iter()
            .any(|e| e.output.as_deref() == Some("Action Executed"))
        {
            return Outcome::Delivered;
        }
        let reason = entries
            .iter()
            .filter_map(|e| e.output.clone())
            .collect::<Vec<_>>()
            .join("; ");
        Outcome::Skipped {
            reason: if reason.is_empty() {
                "no action ran".to_string()
            } else {
                reason
            },
        }
    }

    /// Whether everything was delivered or skipped.
    pub fn is_done(&self) -> bool {
        match self {
            Outcome::Delivered | Outcome::Skipped { .. } => true,
            Outcome::Partial(v) => v.iter().all(Outcome::is_done),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_errors() {
        let r = Response::new(429, "u", vec![("retry-after".into(), "7".into())], "");
        match Outcome::of_error(&Error::http(r)) {
            Outcome::RateLimited { after, .. } => assert_eq!(after, Some(Duration::from_secs(7))),
            o => panic!("{o:?}"),
        }
        let r = Response::new(400, "u", vec![], "");
        assert!(matches!(
            Outcome::of_error(&Error::http(r)),
            Outcome::Permanent {
                status: Some(400),
                ..
            }
        ));
        assert!(matches!(
            Outcome::of_error(&Error::token_propagation("65601")),
            Outcome::RefreshThenRetry { .. }
        ));
        assert!(matches!(
            Outcome::of_error(&Error::timeout(10_000)),
            Outcome::Retry { .. }
        ));
    }

    #[test]
    fn classifies_batches_per_item() {
        let result = Ok(vec![ResultEntry::multistatus(vec![
            MultiStatusNode::Success {
                status: 200,
                sent: None,
                body: None,
            },
            MultiStatusNode::rejected("bad"),
            MultiStatusNode::Success {
                status: 503,
                sent: None,
                body: None,
            },
        ])]);
        match Outcome::of_result(&result) {
            Outcome::Partial(v) => {
                assert_eq!(v[0], Outcome::Delivered);
                assert!(matches!(
                    v[1],
                    Outcome::Permanent {
                        status: Some(400),
                        ..
                    }
                ));
                assert!(matches!(
                    v[2],
                    Outcome::Retry {
                        status: Some(503),
                        ..
                    }
                ));
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(
            Outcome::of_result(&Ok(vec![ResultEntry::output("not subscribed")])),
            Outcome::Skipped { .. }
        ));
    }

    #[test]
    fn retry_policy_matches_reference() {
        for s in [408, 423, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422, 501, 200, 302] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn with_headers(headers: &[(&str, &str)]) -> Response {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Response::new(429, "u", headers, "")
    }

    /// Response headers, and the wait they ask for.
    type HintCase<'a> = (&'a [(&'a str, &'a str)], Option<Duration>);

    #[test]
    fn wait_hints() {
        let now = at(1_700_000_000);
        let cases: &[HintCase] = &[
            (&[("Retry-After", "7")], Some(Duration::from_secs(7))),
            (
                &[("Retry-After", " 1.5 ")],
                Some(Duration::from_millis(1500)),
            ),
            (
                &[("Retry-After", &httpdate::fmt_http_date(at(1_700_000_030)))],
                Some(Duration::from_secs(30)),
            ),
            (
                &[("Retry-After", &httpdate::fmt_http_date(at(1_600_000_000)))],
                Some(Duration::ZERO),
            ),
            (
                &[("X-RateLimit-Reset", "12")],
                Some(Duration::from_secs(12)),
            ),
            (
                &[("X-RateLimit-Reset", "1700000045")],
                Some(Duration::from_secs(45)),
            ),
            (
                &[("Retry-After", "3"), ("X-RateLimit-Reset", "12")],
                Some(Duration::from_secs(3)),
            ),
            (&[("Retry-After", "soon")], None),
            (&[("Retry-After", "-1")], None),
            (&[("Retry-After", "1e400")], None),
            (&[], None),
        ];
        for (headers, want) in cases {
            assert_eq!(wait_hint(&with_headers(headers), now), *want, "{headers:?}");
        }
    }

    #[test]
    fn rate_limit_headers() {
        let now = at(1_700_000_000);
        let q = RateLimitHeaders::of(
            &with_headers(&[
                ("x-ratelimit-limit", "100"),
                ("X-RateLimit-Remaining", "9"),
                ("X-RateLimit-Reset", "1700000060"),
            ]),
            now,
        );
        assert_eq!(q.limit, Some(100));
        assert_eq!(q.remaining, Some(9));
        assert_eq!(q.reset, Some(Duration::from_secs(60)));
        assert_eq!(q.fraction_remaining(), Some(0.09));
        assert!(q.is_present() && !q.is_exhausted());
        let none = RateLimitHeaders::of(&with_headers(&[("x-ratelimit-limit", "lots")]), now);
        assert!(!none.is_present());
        assert_eq!(none.fraction_remaining(), None);
        let err = Error::http(with_headers(&[("X-RateLimit-Remaining", "0")]));
        assert!(RateLimitHeaders::of_error(&err, now).is_exhausted());
        assert!(!RateLimitHeaders::of_error(&Error::plain("x"), now).is_present());
    }
}
