//! Injectable services handed to destinations: the clock, the request/state cache (get/set with
//! TTL), environment variables and feature flags.
//!
//! Everything time-dependent reads a [`Clock`], so timestamp rules and cache expiry are tested
//! deterministically with a [`FixedClock`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use actions_core::context::{FixedClock, MemoryState, StateContext, Ttl};
//!
//! let clock = Arc::new(FixedClock::new(1_700_000_000_000));
//! let state = MemoryState::with_clock(clock.clone());
//! state.set("dmpsegment_id_aud", "42".into(), Ttl::hours(24));
//! assert_eq!(state.get("dmpsegment_id_aud").as_deref(), Some("42"));
//! clock.advance(Duration::from_secs(25 * 3600));
//! assert_eq!(state.get("dmpsegment_id_aud"), None);
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// The source of "now".
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that stands still unless advanced (for tests and conformance cases).
#[derive(Debug, Default)]
pub struct FixedClock {
    now: AtomicI64,
}

impl FixedClock {
    /// A clock at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        FixedClock {
            now: AtomicI64::new(now_ms),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the time.
    pub fn set(&self, now_ms: i64) {
        self.now.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// A time-to-live as the reference expresses it (`{hour, minute, second}`); all zero (`{}`)
/// means "no expiry".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ttl {
    /// Hours.
    pub hours: u64,
    /// Minutes.
    pub minutes: u64,
    /// Seconds.
    pub seconds: u64,
}

impl Ttl {
    /// No expiry (the reference's `{}`).
    pub const NONE: Ttl = Ttl {
        hours: 0,
        minutes: 0,
        seconds: 0,
    };

    /// `{hour: n}`.
    pub fn hours(n: u64) -> Ttl {
        Ttl {
            hours: n,
            ..Ttl::NONE
        }
    }

    /// The duration, or `None` for no expiry.
    pub fn duration(&self) -> Option<Duration> {
        let secs = self
            .hours
            .saturating_mul(3600)
            .saturating_add(self.minutes.saturating_mul(60))
            .saturating_add(self.seconds);
        (secs > 0).then(|| Duration::from_secs(secs))
    }
}

/// The per-destination request/state cache (the reference's `stateContext`): destinations cache
/// lookups in it (e.g. the LinkedIn DMP segment id). An embedding pipeline can back it with its
/// own store by implementing this trait.
pub trait StateContext: Send + Sync {
    /// The cached value of `key`, if present and not expired.
    fn get(&self, key: &str) -> Option<String>;
    /// Caches `value` under `key` for `ttl`.
    fn set(&self, key: &str, value: String, ttl: Ttl);
}

/// A stored value: the value, its expiry (ms since the epoch, `None` = never) and its TTL.
type Entry = (String, Option<i64>, Ttl);

/// In-memory [`StateContext`] with expiry on an injectable clock. Clones share the store.
#[derive(Clone)]
pub struct MemoryState {
    clock: Arc<dyn Clock>,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl fmt::Debug for MemoryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryState")
            .field("entries", &self.len())
            .finish()
    }
}

impl Default for MemoryState {
    fn default() -> Self {
        MemoryState::with_clock(Arc::new(SystemClock))
    }
}

impl MemoryState {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        MemoryState::default()
    }

    /// An empty store on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryState {
            clock,
            entries: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// How many entries are stored (expired ones included until read).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every live entry with the TTL it was set with (for tests).
    pub fn entries(&self) -> Vec<(String, String, Ttl)> {
        let now = self.clock.now_ms();
        let mut v: Vec<_> = self
            .entries
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, (_, exp, _))| exp.is_none_or(|e| e > now))
                    .map(|(k, (v, _, ttl))| (k.clone(), v.clone(), *ttl))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl StateContext for MemoryState {
    fn get(&self, key: &str) -> Option<String> {
        let now = self.clock.now_ms();
        let mut map = self.entries.lock().ok()?;
        match map.get(key) {
            Some((_, Some(exp), _)) if *exp <= now => {
                map.remove(key);
                None
            }
            Some((v, _, _)) => Some(v.clone()),
            None => None,
        }
    }

    fn set(&self, key: &str, value: String, ttl: Ttl) {
        let expires = ttl.duration().map(|d| {
            self.clock
                .now_ms()
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        });
        if let Ok(mut map) = self.entries.lock() {
            map.insert(key.to_string(), (value, expires, ttl));
        }
    }
}

/// Environment variables as destinations read them (injectable: a case or a test supplies its
/// own; the default reads the process environment).
pub trait Env: Send + Sync {
    /// The value of `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed set of variables (nothing else is visible).
#[derive(Clone, Default)]
pub struct MapEnv(pub HashMap<String, String>);

impl fmt::Debug for MapEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets (client secrets): show names only.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Feature flags (`features` of the reference): name → on/off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Features(HashMap<String, bool>);

impl Features {
    /// No flags.
    pub fn new() -> Self {
        Features::default()
    }

    /// Flags from a JSON object (truthy values are on).
    pub fn from_json(v: &Value) -> Self {
        let mut m = HashMap::new();
        if let Value::Object(o) = v {
            for (k, v) in o {
                let on = match v {
                    Value::Bool(b) => *b,
                    Value::Null => false,
                    Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                    Value::String(s) => !s.is_empty(),
                    _ => true,
                };
                m.insert(k.clone(), on);
            }
        }
        Features(m)
    }

    /// Turns a flag on or off.
    pub fn set(&mut self, name: &str, on: bool) {
        self.0.insert(name.to_string(), on);
    }

    /// Whether a flag is on.
    pub fn enabled(&self, name: &str) -> bool {
        self.0.get(name).copied().unwrap_or(false)
    }
}
