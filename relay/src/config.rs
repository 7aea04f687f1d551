//! The configuration file (TOML). It is a contract: tools outside the project write it, so key
//! names never change; new keys are optional.
//!
//! * Unknown keys are an error naming the key and its line.
//! * `${NAME}` in any string is replaced by the environment variable `NAME` (a missing variable is
//!   an error naming it, the key and the line); `$${` writes a literal `${`.
//! * Durations are humantime (`"500ms"`, `"4h"`, `"7days"`).
//!
//! ```
//! use relay::config::Config;
//!
//! let text = r#"
//! [store]
//! path = "relay-data"
//!
//! [[destinations]]
//! id = "li-conv"
//! slug = "linkedin-conversions"
//! [destinations.settings]
//! oauth = { access_token = "${TOKEN}" }
//! [[destinations.subscriptions]]
//! partnerAction = "streamConversion"
//! subscribe = 'type = "track"'
//! "#;
//! let env = |name: &str| (name == "TOKEN").then(|| "t-1".to_string());
//! let config = Config::parse_with_env(text, "relay.toml", &env)?;
//! assert_eq!(config.retry.max_attempts, 8);
//! assert_eq!(config.destinations[0].settings["oauth"]["access_token"], "t-1");
//!
//! let err = Config::parse_with_env("[store]\npath = \"x\"\ncolour = 1\n", "relay.toml", &env)
//!     .unwrap_err();
//! assert_eq!(err.line, Some(3));
//! assert!(err.to_string().contains("colour"));
//! # Ok::<(), relay::config::ConfigError>(())
//! ```

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

pub use actions_core::oauth::Secret;

/// A configuration error: where (file, line, key) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (or another name of the source).
    pub source_name: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The key (`destinations[0].settings.oauth.access_token`), when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source_name)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// `[store]` (optional with `[queue] kind = "jetstream"`: then only `ledger_window` is read).
    pub store: StoreConfig,
    /// `[queue]`: which backend holds the queue (default: the embedded store).
    pub queue: QueueConfig,
    /// `[retry]` (every key optional).
    pub retry: RetryConfig,
    /// `[ingest]`: the HTTP tracking API of `relay serve` (absent: no HTTP ingest).
    pub ingest: Option<IngestConfig>,
    /// `[[destinations]]`.
    pub destinations: Vec<DestinationConfig>,
    /// The text and name the configuration was read from (for error lines).
    pub origin: Option<Source>,
}

/// Where a configuration came from: its name and text.
#[derive(Clone)]
pub struct Source {
    /// The file name.
    pub name: String,
    /// The text.
    pub text: Arc<str>,
}

/// `[store]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The store directory (created if missing); relative paths are relative to the working
    /// directory.
    #[serde(deserialize_with = "path_buf")]
    pub path: PathBuf,
    /// How long the idempotency ledger remembers a delivered event (default 7 days).
    #[serde(default = "default_ledger_window", deserialize_with = "duration")]
    pub ledger_window: Duration,
}

/// `[queue]`: which backend holds the events, the ledger, the dead letters and the instance
/// state. `kind = "embedded"` (the default) is the redb store at `[store] path`;
/// `kind = "jetstream"` is a NATS JetStream server shared by many relay workers.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// `"embedded"` (default) or `"jetstream"`.
    #[serde(default)]
    pub kind: QueueKind,
    /// The NATS server(s): `nats://127.0.0.1:4222`, or several comma-separated (default
    /// `nats://127.0.0.1:4222`).
    #[serde(default = "default_nats_url")]
    pub url: String,
    /// The work stream's name (default `RELAY`); created if missing (work-queue retention, file
    /// storage). The dead letters live in `<stream>_DLQ`, the key-value buckets are
    /// `<stream>_ledger`, `<stream>_state` and `<stream>_attempts`.
    #[serde(default = "default_stream")]
    pub stream: String,
    /// Replicas of the stream, the dead-letter stream and the buckets (default 1).
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// How long the stream remembers a `Nats-Msg-Id` to drop a re-published duplicate
    /// (default `"2m"`; the ledger catches repeats of delivered events beyond it).
    #[serde(default = "default_duplicate_window", deserialize_with = "duration")]
    pub duplicate_window: Duration,
    /// How long a delivered job may go unacknowledged before JetStream gives it to another
    /// worker (default `"30s"`): how soon the jobs of a worker that died are delivered again.
    /// A live worker keeps its jobs with in-progress acks every third of it.
    #[serde(default = "default_ack_wait", deserialize_with = "duration")]
    pub ack_wait: Duration,
    /// How many workers share the stream (default 1): each applies `1/workers` of every
    /// destination's `rate_limit` (per second and burst), so together they hold the limit.
    #[serde(default = "default_workers")]
    pub workers: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            kind: QueueKind::Embedded,
            url: default_nats_url(),
            stream: default_stream(),
            replicas: default_replicas(),
            duplicate_window: default_duplicate_window(),
            ack_wait: default_ack_wait(),
            workers: default_workers(),
        }
    }
}

/// The queue backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// The embedded redb store (one machine).
    #[default]
    Embedded,
    /// NATS JetStream (many workers).
    Jetstream,
}

fn default_nats_url() -> String {
    "nats://127.0.0.1:4222".into()
}
fn default_stream() -> String {
    "RELAY".into()
}
fn default_replicas() -> usize {
    1
}
fn default_workers() -> u32 {
    1
}
fn default_ack_wait() -> Duration {
    Duration::from_secs(30)
}
fn default_duplicate_window() -> Duration {
    Duration::from_secs(120)
}

/// `[retry]`: the delivery budget and the backoff schedule.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts that count (a 429 does not count). Default 8.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The longest an event is retried, counted from its acceptance. Default 4h.
    #[serde(default = "default_max_age", deserialize_with = "duration")]
    pub max_age: Duration,
    /// The first backoff (before jitter). Default 1s.
    #[serde(default = "default_initial_backoff", deserialize_with = "duration")]
    pub initial_backoff: Duration,
    /// The largest backoff (before jitter). Default 10m.
    #[serde(default = "default_max_backoff", deserialize_with = "duration")]
    pub max_backoff: Duration,
    /// The pause of a destination instance after a token-propagation answer (LinkedIn 65601).
    /// Default 5s; doubles on repeats up to `propagation_delay_max`.
    #[serde(default = "default_propagation_delay", deserialize_with = "duration")]
    pub propagation_delay: Duration,
    /// The cap of the growing propagation pause. Default 1m.
    #[serde(
        default = "default_propagation_delay_max",
        deserialize_with = "duration"
    )]
    pub propagation_delay_max: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: default_max_attempts(),
            max_age: default_max_age(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            propagation_delay: default_propagation_delay(),
            propagation_delay_max: default_propagation_delay_max(),
        }
    }
}

fn default_ledger_window() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_max_attempts() -> u32 {
    8
}
fn default_max_age() -> Duration {
    Duration::from_secs(4 * 3600)
}
fn default_initial_backoff() -> Duration {
    Duration::from_secs(1)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(600)
}
fn default_propagation_delay() -> Duration {
    Duration::from_secs(5)
}
fn default_propagation_delay_max() -> Duration {
    Duration::from_secs(60)
}
fn default_max_in_flight() -> usize {
    32
}
fn default_listen() -> Str {
    Str::new("127.0.0.1:8088")
}
fn default_max_body() -> usize {
    500 * 1024
}
fn default_max_event() -> usize {
    32 * 1024
}
fn default_max_queue_depth() -> u64 {
    1_000_000
}
fn default_backpressure_retry_after() -> Duration {
    Duration::from_secs(5)
}

/// `[ingest]`: the Segment-compatible HTTP tracking API (`relay serve`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// The address to listen on (default `127.0.0.1:8088`).
    #[serde(default = "default_listen")]
    pub listen: Str,
    /// The accepted write keys (HTTP basic-auth user, or `writeKey` in the body). At least one.
    #[serde(deserialize_with = "secrets")]
    pub write_keys: Vec<Secret>,
    /// The largest request body, compressed or not (default `"500KB"`; KB = 1024 bytes).
    #[serde(default = "default_max_body", deserialize_with = "byte_size")]
    pub max_body: usize,
    /// The largest event, as JSON (default `"32KB"`).
    #[serde(default = "default_max_event", deserialize_with = "byte_size")]
    pub max_event: usize,
    /// Above this many queued jobs the ingest answers 429 with `Retry-After` (default 1,000,000).
    #[serde(default = "default_max_queue_depth")]
    pub max_queue_depth: u64,
    /// The `Retry-After` of that 429 (default `"5s"`).
    #[serde(
        default = "default_backpressure_retry_after",
        deserialize_with = "duration"
    )]
    pub backpressure_retry_after: Duration,
}

/// `rate_limit = { per_second = 50, burst = 100 }` of a destination instance.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per second (a batch is one request); may be fractional (`0.5`).
    pub per_second: f64,
    /// Requests allowed at once after a quiet time (default: `per_second`, at least 1).
    #[serde(default)]
    pub burst: Option<u32>,
}

impl RateLimitConfig {
    /// The burst, defaulted.
    pub fn burst(&self) -> u32 {
        self.burst
            .unwrap_or_else(|| self.per_second.ceil().clamp(1.0, f64::from(u32::MAX)) as u32)
            .max(1)
    }
}

/// `batch = { size = 1000, bytes = "2MB", linger = "1s" }` (or `batch = false`) of a
/// destination instance: how events of batch-capable actions are grouped.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchConfig {
    /// Whether batch-capable actions get batches (`batch = false` turns it off).
    pub enabled: bool,
    /// Most events in one batch (default 1,000; never above the action's own maximum).
    pub size: usize,
    /// Most bytes of events (as JSON) in one batch (default `"2MB"`).
    pub bytes: usize,
    /// How long the first event of a batch waits for more (default `"1s"`).
    pub linger: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            enabled: true,
            size: 1000,
            bytes: 2 * 1024 * 1024,
            linger: Duration::from_secs(1),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchTable {
    #[serde(default)]
    size: Option<usize>,
    #[serde(default, deserialize_with = "opt_byte_size")]
    bytes: Option<usize>,
    #[serde(default, deserialize_with = "opt_duration")]
    linger: Option<Duration>,
}

impl<'de> Deserialize<'de> for BatchConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BatchConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`false`, `true` or a table { size, bytes, linger }")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<BatchConfig, E> {
                Ok(BatchConfig {
                    enabled: v,
                    ..BatchConfig::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BatchConfig, A::Error> {
                let t = BatchTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let d = BatchConfig::default();
                Ok(BatchConfig {
                    enabled: true,
                    size: t.size.unwrap_or(d.size),
                    bytes: t.bytes.unwrap_or(d.bytes),
                    linger: t.linger.unwrap_or(d.linger),
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a byte size: a number of bytes, or a number with `B`, `KB`, `MB`, `GB` (powers of
/// 1024; `KiB`, `MiB`, `GiB` too), case-insensitive.
///
/// ```
/// assert_eq!(relay::config::parse_byte_size("500KB"), Ok(512_000));
/// assert_eq!(relay::config::parse_byte_size("2 MB"), Ok(2 * 1024 * 1024));
/// assert_eq!(relay::config::parse_byte_size("1.5kb"), Ok(1536));
/// assert!(relay::config::parse_byte_size("5 parsecs").is_err());
/// ```
///
/// # Errors
/// Not a number with a known unit.
pub fn parse_byte_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| {
        format!("invalid size {text:?}: expected a number of bytes or e.g. \"500KB\", \"2MB\"")
    })?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "kib" | "k" => 1024.0,
        "mb" | "mib" | "m" => 1024.0 * 1024.0,
        "gb" | "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "invalid size {text:?}: unknown unit {other:?} (B, KB, MB, GB)"
            ));
        }
    };
    let bytes = (n * factor).round();
    if !bytes.is_finite() || bytes < 0.0 || bytes > usize::MAX as f64 {
        return Err(format!("invalid size {text:?}: out of range"));
    }
    Ok(bytes as usize)
}

fn byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a size: bytes or a string such as \"500KB\"")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<usize, E> {
            usize::try_from(v).map_err(|_| E::custom(format!("size {v} is too large")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<usize, E> {
            usize::try_from(v).map_err(|_| E::custom(format!("size {v} must not be negative")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
            let v = interpolate(v).map_err(E::custom)?;
            parse_byte_size(&v).map_err(E::custom)
        }
    }
    d.deserialize_any(V)
}

fn opt_byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    byte_size(d).map(Some)
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn secrets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Secret>, D::Error> {
    let keys = Vec::<Str>::deserialize(d)?;
    Ok(keys.into_iter().map(|k| Secret::new(k.value)).collect())
}

/// `[[destinations]]`: one destination instance. Its `Debug` shows only the names of the
/// settings (their values are secrets as often as not).
#[derive(Clone)]
pub struct DestinationConfig {
    /// The instance id: unique; used by the ledger, dead letters and status.
    pub id: Str,
    /// A registry slug (crate slug or definition slug).
    pub slug: Str,
    /// Origin overrides (`"https://api.linkedin.com" = "http://127.0.0.1:9100"`); loopback
    /// targets only.
    pub origins: Vec<Origin>,
    /// Exactly the settings object `on_event` takes, `oauth` included.
    pub settings: Value,
    /// The subscriptions, as Segment stores them.
    pub subscriptions: Vec<SubscriptionConfig>,
    /// Most attempts of this instance running at once (`max_in_flight`, default 32).
    pub max_in_flight: usize,
    /// The configured request rate (`rate_limit`), if any: relay sends at most this fast,
    /// times an adaptive factor that drops on 429s and recovers on success.
    pub rate_limit: Option<RateLimitConfig>,
    /// How batch-capable actions are batched (`batch`).
    pub batch: BatchConfig,
}

/// One origin override, from `origins = { ORIGIN = TARGET }`.
#[derive(Clone, Debug)]
pub struct Origin {
    /// The partner origin (`https://api.linkedin.com`).
    pub origin: String,
    /// The loopback target.
    pub target: Str,
}

/// `[[destinations.subscriptions]]`. Its `Debug` redacts sensitive keys of the mapping
/// (`Authorization`, `access_token`, …).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// The action key.
    #[serde(rename = "partnerAction")]
    pub partner_action: Str,
    /// The subscription query (FQL); the action's default subscription when absent.
    #[serde(default)]
    pub subscribe: Option<Str>,
    /// The mapping, merged over the action's default mapping.
    #[serde(default = "empty_object", deserialize_with = "json")]
    pub mapping: Value,
    /// Whether events of one user go out in acceptance order (default: for audience actions —
    /// an audience destination, or an action subscribed to `Audience Entered`/`Exited`).
    #[serde(default)]
    pub ordered: Option<bool>,
}

// Debug without secrets: the configuration's text, the settings' values and sensitive mapping
// members never show (relay/tests/secrets.rs).
impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .finish()
    }
}

impl std::fmt::Debug for DestinationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let setting_names: Vec<&String> = self
            .settings
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        f.debug_struct("DestinationConfig")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .field("origins", &self.origins)
            .field("settings", &setting_names)
            .field("subscriptions", &self.subscriptions)
            .field("max_in_flight", &self.max_in_flight)
            .field("rate_limit", &self.rate_limit)
            .field("batch", &self.batch)
            .finish()
    }
}

/// Replaces the values of sensitive keys and header names (`Authorization`, `access_token`,
/// `x-api-key`, …) anywhere in `value` by `<redacted>` (iteratively).
fn redact_members(value: &mut Value) {
    use actions_core::request::{is_sensitive_header, is_sensitive_key};
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(o) => {
                for (k, member) in o.iter_mut() {
                    if is_sensitive_key(k) || is_sensitive_header(k) {
                        *member = Value::String("<redacted>".into());
                    } else {
                        stack.push(member);
                    }
                }
            }
            Value::Array(a) => stack.extend(a.iter_mut()),
            _ => {}
        }
    }
}

impl std::fmt::Debug for SubscriptionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut mapping = self.mapping.clone();
        redact_members(&mut mapping);
        f.debug_struct("SubscriptionConfig")
            .field("partner_action", &self.partner_action)
            .field("subscribe", &self.subscribe)
            .field("mapping", &mapping)
            .field("ordered", &self.ordered)
            .finish()
    }
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// A string value with its place in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Str {
    /// The value (`${VAR}` replaced).
    pub value: String,
    /// Byte range in the file.
    pub span: Range<usize>,
}

impl Str {
    /// A value without a place (configurations built in code).
    pub fn new(value: impl Into<String>) -> Self {
        Str {
            value: value.into(),
            span: 0..0,
        }
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = toml::Spanned::<String>::deserialize(d)?;
        let span = s.span();
        let value = interpolate(s.get_ref()).map_err(de::Error::custom)?;
        Ok(Str { value, span })
    }
}

/// Reads `origins = { ORIGIN = TARGET }` into a list (keys interpolated too).
fn origins<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Origin>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<Origin>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table of origin = loopback URL")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(origin) = map.next_key::<String>()? {
                let target: Str = map.next_value()?;
                let origin = interpolate(&origin).map_err(de::Error::custom)?;
                out.push(Origin { origin, target });
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

type EnvFn<'a> = &'a dyn Fn(&str) -> Option<String>;
type EnvLookup = Box<dyn Fn(&str) -> Option<String>>;

thread_local! {
    static ENV: RefCell<Option<EnvLookup>> = const { RefCell::new(None) };
}

/// Replaces `${NAME}` by the environment variable (see the module docs).
fn interpolate(s: &str) -> Result<String, String> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err(format!("unterminated `${{` in {s:?}"));
            };
            let name = &after[..end];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("invalid variable name {name:?} in `${{…}}`"));
            }
            let value = ENV
                .with(|env| env.borrow().as_ref().map(|f| f(name)))
                .unwrap_or_else(|| std::env::var(name).ok());
            match value {
                Some(v) => out.push_str(&v),
                None => return Err(format!("environment variable {name} is not set")),
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn path_buf<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let s = String::deserialize(d)?;
    interpolate(&s)
        .map(PathBuf::from)
        .map_err(de::Error::custom)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    let s = interpolate(&s).map_err(de::Error::custom)?;
    humantime::parse_duration(&s).map_err(|e| {
        de::Error::custom(format!(
            "invalid duration {s:?}: {e} (e.g. \"500ms\", \"4h\")"
        ))
    })
}

fn json<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    JsonSeed.deserialize(d)
}

/// Deserializes any TOML value into JSON, interpolating every string.
struct JsonSeed;

impl<'de> DeserializeSeed<'de> for JsonSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} cannot be represented in JSON")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        interpolate(v).map(Value::String).map_err(E::custom)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(JsonSeed)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(JsonSeed)?;
            // A TOML date-time arrives as a one-member table; keep it as its text.
            if k == "$__toml_private_datetime" {
                return Ok(v);
            }
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl Config {
    /// Reads and parses a configuration file (`${VAR}` from the process environment).
    ///
    /// # Errors
    /// The file cannot be read, or [`Config::parse_with_env`] fails.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: name.clone(),
            line: None,
            key: None,
            message: format!("cannot read the configuration: {e}"),
        })?;
        Config::parse_with_env(&text, &name, &|n| std::env::var(n).ok())
    }

    /// Parses a configuration, reading `${VAR}` through `env`.
    ///
    /// # Errors
    /// Invalid TOML, an unknown key, a wrong type, a missing variable, an invalid duration, a
    /// non-loopback origin target, a duplicate instance id: the error names the key and line.
    pub fn parse_with_env(
        text: &str,
        source_name: &str,
        env: EnvFn<'_>,
    ) -> Result<Config, ConfigError> {
        let located =
            |span: Option<Range<usize>>, key: Option<String>, message: String| ConfigError {
                source_name: source_name.to_string(),
                line: span.map(|s| line_of(text, s.start)),
                key,
                message,
            };
        let de = toml::Deserializer::parse(text)
            .map_err(|e| located(e.span(), None, e.message().to_string()))?;
        // The environment is read through a thread-local while this thread deserializes.
        let owned: Vec<(String, String)> = collect_env(text, env);
        ENV.with(|cell| {
            *cell.borrow_mut() = Some(Box::new(move |name: &str| {
                owned
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            }))
        });
        let parsed: Result<RawConfig, _> = serde_path_to_error::deserialize(de);
        ENV.with(|cell| *cell.borrow_mut() = None);
        let raw = parsed.map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let key = (path != "." && !path.is_empty()).then_some(path);
            located(inner.span(), key, inner.message().to_string())
        })?;
        let mut config = raw.into_config().map_err(|m| located(None, None, m))?;
        config.origin = Some(Source {
            name: source_name.to_string(),
            text: Arc::from(text),
        });
        config.validate()?;
        Ok(config)
    }

    /// An error about `key` at `span` of this configuration's file.
    pub fn error_at(&self, span: &Range<usize>, key: String, message: String) -> ConfigError {
        let (name, line) = match &self.origin {
            Some(src) if span.end > 0 => (src.name.clone(), Some(line_of(&src.text, span.start))),
            Some(src) => (src.name.clone(), None),
            None => ("configuration".to_string(), None),
        };
        ConfigError {
            source_name: name,
            line,
            key: Some(key),
            message,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.retry.max_attempts == 0 {
            return Err(self.error_at(
                &(0..0),
                "retry.max_attempts".into(),
                "must be at least 1".into(),
            ));
        }
        if self.retry.initial_backoff > self.retry.max_backoff {
            return Err(self.error_at(
                &(0..0),
                "retry.initial_backoff".into(),
                format!(
                    "{} is larger than retry.max_backoff ({})",
                    humantime::format_duration(self.retry.initial_backoff),
                    humantime::format_duration(self.retry.max_backoff)
                ),
            ));
        }
        if self.queue.kind == QueueKind::Jetstream {
            let q = &self.queue;
            if q.stream.is_empty()
                || !q
                    .stream
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(self.error_at(
                    &(0..0),
                    "queue.stream".into(),
                    format!(
                        "{:?} is not a stream name (letters, digits, `_` and `-`)",
                        q.stream
                    ),
                ));
            }
            if q.replicas == 0 || q.replicas > 5 {
                return Err(self.error_at(
                    &(0..0),
                    "queue.replicas".into(),
                    format!("must be 1 to 5, got {}", q.replicas),
                ));
            }
            if q.url.split(',').all(|u| u.trim().is_empty()) {
                return Err(self.error_at(
                    &(0..0),
                    "queue.url".into(),
                    "give at least one NATS server URL (nats://host:4222)".into(),
                ));
            }
            if q.workers == 0 {
                return Err(self.error_at(
                    &(0..0),
                    "queue.workers".into(),
                    "must be at least 1".into(),
                ));
            }
            if q.ack_wait < Duration::from_secs(1) {
                return Err(self.error_at(
                    &(0..0),
                    "queue.ack_wait".into(),
                    "must be at least 1s".into(),
                ));
            }
            if q.duplicate_window.is_zero() {
                return Err(self.error_at(
                    &(0..0),
                    "queue.duplicate_window".into(),
                    "must be longer than 0".into(),
                ));
            }
        }
        if let Some(ingest) = &self.ingest {
            if ingest.listen.value.parse::<std::net::SocketAddr>().is_err() {
                return Err(self.error_at(
                    &ingest.listen.span,
                    "ingest.listen".into(),
                    format!(
                        "{:?} is not an address to listen on (e.g. \"127.0.0.1:8088\")",
                        ingest.listen.value
                    ),
                ));
            }
            if ingest.write_keys.is_empty()
                || ingest.write_keys.iter().any(|k| k.expose().is_empty())
            {
                return Err(self.error_at(
                    &(0..0),
                    "ingest.write_keys".into(),
                    "give at least one write key, none of them empty".into(),
                ));
            }
            if ingest.max_event == 0 || ingest.max_body < ingest.max_event {
                return Err(self.error_at(
                    &(0..0),
                    "ingest.max_event".into(),
                    format!(
                        "must be at least 1 byte and at most max_body ({} bytes), got {}",
                        ingest.max_body, ingest.max_event
                    ),
                ));
            }
        }
        for (i, d) in self.destinations.iter().enumerate() {
            if d.id.value.is_empty() {
                return Err(self.error_at(
                    &d.id.span,
                    format!("destinations[{i}].id"),
                    "must not be empty".into(),
                ));
            }
            if let Some(j) = self.destinations[..i]
                .iter()
                .position(|o| o.id.value == d.id.value)
            {
                return Err(self.error_at(
                    &d.id.span,
                    format!("destinations[{i}].id"),
                    format!(
                        "{:?} is already the id of destinations[{j}]; instance ids must be unique",
                        d.id.value
                    ),
                ));
            }
            if d.max_in_flight == 0 {
                return Err(self.error_at(
                    &d.id.span,
                    format!("destinations[{i}].max_in_flight"),
                    "must be at least 1".into(),
                ));
            }
            if !d.settings.is_object() {
                return Err(self.error_at(
                    &d.id.span,
                    format!("destinations[{i}].settings"),
                    "must be a table".into(),
                ));
            }
            if let Some(r) = &d.rate_limit
                && !(r.per_second.is_finite() && r.per_second > 0.0)
            {
                return Err(self.error_at(
                    &d.id.span,
                    format!("destinations[{i}].rate_limit.per_second"),
                    format!(
                        "{} is not a positive number of requests per second",
                        r.per_second
                    ),
                ));
            }
            if d.batch.enabled && (d.batch.size == 0 || d.batch.bytes == 0) {
                return Err(self.error_at(
                    &d.id.span,
                    format!("destinations[{i}].batch"),
                    "size and bytes must be at least 1 (`batch = false` turns batching off)".into(),
                ));
            }
            for o in &d.origins {
                let key = format!("destinations[{i}].origins.{:?}", o.origin);
                check_loopback(&o.target.value)
                    .map_err(|m| self.error_at(&o.target.span, key, m))?;
            }
        }
        Ok(())
    }
}

/// The variables the text names (`${NAME}`), read once through `env`.
fn collect_env(text: &str, env: EnvFn<'_>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !out.iter().any(|(k, _)| k == name)
            && let Some(v) = env(name)
        {
            out.push((name.to_string(), v));
        }
        rest = &after[end..];
    }
    out
}

/// Accepts `http(s)://` URLs whose host is a loopback address (127.0.0.0/8, ::1, localhost).
fn check_loopback(target: &str) -> Result<(), String> {
    let url =
        url::Url::parse(target).map_err(|e| format!("target {target:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("target {target:?} must be an http or https URL"));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if loopback {
        Ok(())
    } else {
        Err(format!(
            "target {target:?} is not a loopback address (only 127.0.0.0/8, [::1] and localhost \
             are allowed: origin overrides exist for simulators and tests)"
        ))
    }
}

/// The file's shape; `origins` is read through its table form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    store: Option<StoreConfig>,
    #[serde(default)]
    queue: QueueConfig,
    #[serde(default)]
    retry: RetryConfig,
    #[serde(default)]
    ingest: Option<IngestConfig>,
    #[serde(default)]
    destinations: Vec<RawDestination>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    id: Str,
    slug: Str,
    #[serde(default, deserialize_with = "origins")]
    origins: Vec<Origin>,
    #[serde(default = "empty_object", deserialize_with = "json")]
    settings: Value,
    #[serde(default)]
    subscriptions: Vec<SubscriptionConfig>,
    #[serde(default = "default_max_in_flight")]
    max_in_flight: usize,
    #[serde(default)]
    rate_limit: Option<RateLimitConfig>,
    #[serde(default)]
    batch: BatchConfig,
}

impl RawConfig {
    fn into_config(self) -> Result<Config, String> {
        let store = match (self.store, self.queue.kind) {
            (Some(s), _) => s,
            (None, QueueKind::Jetstream) => StoreConfig {
                path: PathBuf::from("relay-data"),
                ledger_window: default_ledger_window(),
            },
            (None, QueueKind::Embedded) => {
                return Err(
                    "missing field `store` (the embedded queue needs `[store] path`)".into(),
                );
            }
        };
        Ok(Config {
            store,
            queue: self.queue,
            retry: self.retry,
            ingest: self.ingest,
            destinations: self
                .destinations
                .into_iter()
                .map(|d| DestinationConfig {
                    id: d.id,
                    slug: d.slug,
                    origins: d.origins,
                    settings: d.settings,
                    subscriptions: d.subscriptions,
                    max_in_flight: d.max_in_flight,
                    rate_limit: d.rate_limit,
                    batch: d.batch,
                })
                .collect(),
            origin: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "LI_TOKEN" => Some("tok-1".into()),
            "DIR" => Some("/tmp/r".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_with_env(text, "relay.toml", &env)
    }

    const GOOD: &str = r#"
[store]
path = "${DIR}/data"

[retry]
max_attempts = 5
max_age = "2h"

[[destinations]]
id = "li-conv"
slug = "linkedin-conversions"
origins = { "https://api.linkedin.com" = "http://127.0.0.1:9100" }

[destinations.settings]
oauth = { access_token = "${LI_TOKEN}", refresh_token = "plain", note = "cost: $5, literal $${X}" }

[[destinations.subscriptions]]
partnerAction = "streamConversion"
subscribe = 'type = "track"'
mapping = { onMappingSave = { outputs = { id = "123456" } }, n = [1, 2.5, true] }
"#;

    #[test]
    fn reads_every_key_and_interpolates() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.store.path, PathBuf::from("/tmp/r/data"));
        assert_eq!(c.store.ledger_window, Duration::from_secs(7 * 86400));
        assert_eq!(c.retry.max_attempts, 5);
        assert_eq!(c.retry.max_age, Duration::from_secs(7200));
        assert_eq!(c.retry.initial_backoff, Duration::from_secs(1));
        assert_eq!(c.retry.max_backoff, Duration::from_secs(600));
        let d = &c.destinations[0];
        assert_eq!(d.id.value, "li-conv");
        assert_eq!(d.origins[0].origin, "https://api.linkedin.com");
        assert_eq!(d.origins[0].target.value, "http://127.0.0.1:9100");
        assert_eq!(d.settings["oauth"]["access_token"], "tok-1");
        assert_eq!(d.settings["oauth"]["note"], "cost: $5, literal ${X}");
        let s = &d.subscriptions[0];
        assert_eq!(s.partner_action.value, "streamConversion");
        assert_eq!(
            s.mapping,
            serde_json::json!({"onMappingSave": {"outputs": {"id": "123456"}}, "n": [1, 2.5, true]})
        );
        assert_eq!(line_of(GOOD, d.id.span.start), 10);
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let text = GOOD.replace("max_age = \"2h\"", "max_age = \"2h\"\nmax_tries = 3");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(8), "{e}");
        assert_eq!(e.key.as_deref(), Some("retry.max_tries"), "{e}");
        assert!(e.message.contains("unknown field `max_tries`"), "{e}");
        assert!(e.to_string().starts_with("relay.toml:8: "), "{e}");

        let text = GOOD.replace("partnerAction", "partner_action");
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("partner_action"), "{e}");
        assert_eq!(e.line, Some(18), "{e}");
    }

    #[test]
    fn missing_variables_name_the_variable_key_and_line() {
        let text = GOOD.replace("${LI_TOKEN}", "${LI_SECRET}");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(15), "{e}");
        assert!(e.message.contains("LI_SECRET"), "{e}");
        assert_eq!(
            e.key.as_deref(),
            Some("destinations[0].settings.oauth.access_token"),
            "{e}"
        );
        let e = parse(&GOOD.replace("${DIR}", "${NOPE}")).unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(3), Some("store.path")),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_and_durations_name_the_key() {
        let e = parse(&GOOD.replace("max_attempts = 5", "max_attempts = \"five\"")).unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(6), Some("retry.max_attempts")),
            "{e}"
        );
        let e = parse(&GOOD.replace("\"2h\"", "\"2 fortnights\"")).unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(7), Some("retry.max_age")),
            "{e}"
        );
        assert!(e.message.contains("2 fortnights"), "{e}");
        let e = parse("[retry]\nmax_attempts = 1\n").unwrap_err();
        assert!(e.message.contains("store"), "{e}");
    }

    #[test]
    fn origins_must_be_loopback() {
        let e =
            parse(&GOOD.replace("http://127.0.0.1:9100", "https://evil.example.com")).unwrap_err();
        assert_eq!(e.line, Some(12), "{e}");
        assert_eq!(
            e.key.as_deref(),
            Some("destinations[0].origins.\"https://api.linkedin.com\"")
        );
        assert!(e.message.contains("loopback"), "{e}");
        for ok in ["http://localhost:1", "http://127.9.9.9", "http://[::1]:80"] {
            parse(&GOOD.replace("http://127.0.0.1:9100", ok)).unwrap();
        }
    }

    #[test]
    fn duplicate_ids_are_refused_with_the_line() {
        let second = GOOD
            .split("[[destinations]]")
            .nth(1)
            .map(|s| format!("[[destinations]]{s}"))
            .unwrap();
        let text = format!("{GOOD}\n{second}");
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("already the id"), "{e}");
        assert_eq!(e.key.as_deref(), Some("destinations[1].id"));
        assert_eq!(
            e.line,
            Some(line_of(&text, text.rfind("id = \"li-conv\"").unwrap()))
        );
    }

    #[test]
    fn toml_syntax_errors_have_a_line() {
        let e = parse("[store]\npath = \n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn queue_table_defaults_and_checks() {
        let c = parse("[queue]\nkind = \"jetstream\"\nurl = \"nats://a:4222, nats://b:4222\"\n")
            .unwrap();
        assert_eq!(c.queue.kind, QueueKind::Jetstream);
        assert_eq!(c.queue.stream, "RELAY");
        assert_eq!(c.queue.replicas, 1);
        assert_eq!(c.queue.duplicate_window, Duration::from_secs(120));
        assert_eq!(c.queue.ack_wait, Duration::from_secs(30));
        assert_eq!(c.store.ledger_window, Duration::from_secs(7 * 86400));
        // The embedded default still needs its store.
        let e = parse("[queue]\nurl = \"nats://a:4222\"\n").unwrap_err();
        assert!(e.message.contains("store"), "{e}");
        let e = parse("[queue]\nkind = \"jetstream\"\nstream = \"a.b\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("queue.stream"), "{e}");
        let e = parse("[queue]\nkind = \"jetstream\"\nreplicas = 0\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("queue.replicas"), "{e}");
        let e = parse("[queue]\nkind = \"kafka\"\n").unwrap_err();
        assert!(e.to_string().contains("kafka"), "{e}");
    }
}
