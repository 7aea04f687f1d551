//! The request rate of one destination instance: the configured limit (`rate_limit`, a governor
//! GCRA limiter) times an **adaptive factor** that halves when a new 429 pause begins and grows
//! back by [`RECOVERY_STEP`] with every delivered attempt, never below [`MIN_FACTOR`]. Plus
//! what the partner's `X-RateLimit-*` headers said last, for the 10% warning and the gauges.
//!
//! The limiter runs on tokio's clock ([`TokioTime`]), so paused-time tests move it.
//!
//! ```
//! use std::time::Duration;
//! use relay::config::RateLimitConfig;
//! use relay::ratelimit::Rate;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let rate = Rate::new(Some(RateLimitConfig { per_second: 10.0, burst: Some(2) }));
//! assert_eq!(rate.check(), None); // the burst
//! assert_eq!(rate.check(), None);
//! assert_eq!(rate.check(), Some(Duration::from_millis(100))); // then one per 100 ms
//! rate.slow_down(); // a 429: half the rate
//! assert_eq!(rate.factor(), 0.5);
//! assert_eq!(rate.check(), Some(Duration::from_millis(200)));
//! # }
//! ```

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::config::RateLimitConfig;

/// The lowest adaptive factor.
pub const MIN_FACTOR: f64 = 1.0 / 32.0;
/// What each delivered attempt adds back to the factor (up to 1).
pub const RECOVERY_STEP: f64 = 0.05;
/// Below this share of `X-RateLimit-Limit` left, relay warns and raises the gauge.
pub const LOW_QUOTA: f64 = 0.1;

/// governor's clock on tokio time (follows paused time in tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTime;

impl governor::clock::Clock for TokioTime {
    type Instant = std::time::Instant;
    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioTime, NoOpMiddleware<std::time::Instant>>;

struct Inner {
    limiter: Option<Limiter>,
    factor: f64,
    /// The factor the limiter was built with.
    built: f64,
    remaining: Option<u64>,
    limit: Option<u64>,
    low: bool,
}

/// The rate state of one destination instance.
pub struct Rate {
    config: Option<RateLimitConfig>,
    inner: Mutex<Inner>,
}

/// What the metrics show of a [`Rate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateView {
    /// The adaptive factor (1 = the configured rate).
    pub factor: f64,
    /// The partner's last `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// The partner's last `X-RateLimit-Limit`.
    pub limit: Option<u64>,
    /// Whether the remaining quota is below [`LOW_QUOTA`] of the limit.
    pub low: bool,
}

fn build(config: &RateLimitConfig, factor: f64) -> Option<Limiter> {
    let per_second = config.per_second * factor;
    let period = Duration::from_secs_f64(1.0 / per_second);
    let burst = ((f64::from(config.burst()) * factor).round() as u32).max(1);
    let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::new(burst)?);
    Some(RateLimiter::direct_with_clock(quota, TokioTime))
}

impl Rate {
    /// The state for a configured limit (`None`: no limit; the factor is still tracked).
    pub fn new(config: Option<RateLimitConfig>) -> Self {
        let limiter = config.as_ref().and_then(|c| build(c, 1.0));
        Rate {
            config,
            inner: Mutex::new(Inner {
                limiter,
                factor: 1.0,
                built: 1.0,
                remaining: None,
                limit: None,
                low: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes one request from the limiter: `None` when it may go now, else how long to wait
    /// before asking again.
    pub fn check(&self) -> Option<Duration> {
        let inner = self.lock();
        let limiter = inner.limiter.as_ref()?;
        match limiter.check() {
            Ok(()) => None,
            Err(not_until) => Some(not_until.wait_time_from(TokioTime.now())),
        }
    }

    /// The adaptive factor.
    pub fn factor(&self) -> f64 {
        self.lock().factor
    }

    fn set_factor(&self, inner: &mut Inner, factor: f64) {
        inner.factor = factor.clamp(MIN_FACTOR, 1.0);
        // Rebuild only on a real change (a fresh limiter starts with a full burst).
        if (inner.factor - inner.built).abs() >= 0.1 || (inner.factor == 1.0 && inner.built != 1.0)
        {
            if let Some(c) = &self.config {
                // A new limiter starts empty, not with a fresh burst: the rate change never
                // lets extra requests through.
                let limiter = build(c, inner.factor);
                if let Some(l) = &limiter {
                    for _ in 0..c.burst() {
                        if l.check().is_err() {
                            break;
                        }
                    }
                }
                inner.limiter = limiter;
            }
            inner.built = inner.factor;
        }
    }

    /// A new 429 pause began: halve the rate.
    pub fn slow_down(&self) {
        let mut inner = self.lock();
        let f = inner.factor / 2.0;
        self.set_factor(&mut inner, f);
    }

    /// An attempt was delivered: recover a step.
    pub fn recover(&self) {
        let mut inner = self.lock();
        if inner.factor < 1.0 {
            let f = inner.factor + RECOVERY_STEP;
            self.set_factor(&mut inner, f);
        }
    }

    /// Records the partner's quota headers; returns whether the remaining quota just fell
    /// below [`LOW_QUOTA`] of the limit (the moment to warn).
    pub fn observe(&self, limit: Option<u64>, remaining: Option<u64>) -> bool {
        let mut inner = self.lock();
        if remaining.is_some() {
            inner.remaining = remaining;
        }
        if limit.is_some() {
            inner.limit = limit;
        }
        let low = match (inner.limit, inner.remaining) {
            (Some(l), Some(r)) if l > 0 => (r as f64) < (l as f64) * LOW_QUOTA,
            _ => false,
        };
        let crossed = low && !inner.low;
        inner.low = low;
        crossed
    }

    /// What the metrics show.
    pub fn view(&self) -> RateView {
        let inner = self.lock();
        RateView {
            factor: inner.factor,
            remaining: inner.remaining,
            limit: inner.limit,
            low: inner.low,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_second: f64, burst: u32) -> Rate {
        Rate::new(Some(RateLimitConfig {
            per_second,
            burst: Some(burst),
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn the_factor_halves_and_recovers_and_the_limiter_follows() {
        let r = rate(100.0, 1);
        assert_eq!(r.check(), None);
        assert_eq!(r.check(), Some(Duration::from_millis(10)));
        r.slow_down();
        r.slow_down();
        assert_eq!(r.factor(), 0.25);
        // A quarter of the rate: one request per 40 ms (the new limiter starts empty).
        assert_eq!(r.check(), Some(Duration::from_millis(40)));
        tokio::time::advance(Duration::from_millis(40)).await;
        assert_eq!(r.check(), None);
        assert_eq!(r.check(), Some(Duration::from_millis(40)));
        for _ in 0..100 {
            r.slow_down();
        }
        assert_eq!(r.factor(), MIN_FACTOR);
        for _ in 0..40 {
            r.recover();
        }
        assert_eq!(r.factor(), 1.0);
        tokio::time::advance(Duration::from_millis(10)).await;
        assert_eq!(r.check(), None);
        assert_eq!(r.check(), Some(Duration::from_millis(10)));
    }

    #[test]
    fn low_quota_is_reported_once_when_crossed() {
        let r = Rate::new(None);
        assert_eq!(r.check(), None, "no configured limit: never waits");
        assert!(!r.observe(Some(100), Some(50)));
        assert!(r.observe(Some(100), Some(9)));
        assert!(!r.observe(None, Some(5)), "already low");
        assert!(r.view().low);
        assert!(!r.observe(Some(100), Some(100)));
        assert!(!r.view().low);
        assert_eq!(r.view().remaining, Some(100));
    }
}
