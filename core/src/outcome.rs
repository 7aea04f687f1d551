//! Outcome classification: what the delivery runtime should do after one attempt.
//!
//! The core never sleeps or loops on retries (beyond the single refresh-then-retry of the OAuth
//! pipeline); it **classifies** each attempt and the delivery runtime schedules.
//!
//! ```
//! use actions_core::{Error, Outcome};
//! let err = Error::retryable("busy", 503);
//! assert!(matches!(Outcome::of_error(&err), Outcome::Retry { status: Some(503), .. }));
//! ```

use std::time::Duration;

use crate::action::{MultiStatusNode, ResultEntry};
use crate::error::{Error, ErrorClass, is_retryable_status};

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
            _ if err.is_retryable() => Outcome::Retry {
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
    use crate::request::Response;

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
}
