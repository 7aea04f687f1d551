//! The backoff schedule: backon's exponential sequence (initial × 2ⁿ, capped at the maximum)
//! with **full jitter** (a uniform draw in `[0, ceiling]`) from a seeded ChaCha RNG, so tests
//! can fix the seed. backon's own jitter only adds a random part on top of the delay (and takes
//! no injected RNG beyond a seed of its own generator), so the jitter is drawn here over backon's
//! sequence.
//!
//! ```
//! use std::time::Duration;
//! use relay::schedule::Backoff;
//!
//! let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), 7);
//! assert_eq!(b.ceiling(1), Duration::from_secs(1));
//! assert_eq!(b.ceiling(3), Duration::from_secs(4));
//! assert_eq!(b.ceiling(20), Duration::from_secs(60));
//! assert!(b.delay(3) <= Duration::from_secs(4));
//! ```

use std::sync::Mutex;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Exponential backoff with full jitter.
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    rng: Mutex<ChaCha8Rng>,
}

impl Backoff {
    /// `initial` × 2ⁿ⁻¹ for attempt n, capped at `max`, jittered from `seed`.
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Self {
        Backoff {
            initial,
            max,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// The delay before jitter after the `attempt`-th failure (1-based; 0 counts as 1).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let n = attempt.max(1) as usize;
        // backon's sequence is unbounded without max_times; past the cap it stays at `max`.
        let steps = n.min(64);
        ExponentialBuilder::default()
            .with_min_delay(self.initial)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .without_max_times()
            .build()
            .nth(steps - 1)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The jittered delay after the `attempt`-th failure: uniform in `[0, ceiling(attempt)]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Duration::from_millis(rng.random_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_cap() {
        let b = Backoff::new(Duration::from_millis(500), Duration::from_secs(10), 1);
        let ceilings: Vec<u64> = (1..=8).map(|n| b.ceiling(n).as_millis() as u64).collect();
        assert_eq!(
            ceilings,
            [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]
        );
        assert_eq!(b.ceiling(1000), Duration::from_secs(10));
    }

    #[test]
    fn full_jitter_is_spread_over_the_whole_range_and_seeded() {
        let a = Backoff::new(Duration::from_secs(1), Duration::from_secs(64), 42);
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(64), 42);
        let c = Backoff::new(Duration::from_secs(1), Duration::from_secs(64), 43);
        let da: Vec<Duration> = (0..200).map(|_| a.delay(7)).collect();
        let db: Vec<Duration> = (0..200).map(|_| b.delay(7)).collect();
        let dc: Vec<Duration> = (0..200).map(|_| c.delay(7)).collect();
        assert_eq!(da, db, "same seed, same delays");
        assert_ne!(da, dc, "another seed, other delays");
        let cap = Duration::from_secs(64);
        assert!(da.iter().all(|d| *d <= cap));
        // Full jitter: draws land in every quarter of [0, cap].
        for q in 0..4u32 {
            let (lo, hi) = (cap * q / 4, cap * (q + 1) / 4);
            assert!(
                da.iter().any(|d| *d >= lo && *d < hi),
                "no draw in quarter {q}"
            );
        }
    }
}
