//! The fault soak: the `relay` binary (`relay serve`, embedded store) against testkit's LinkedIn
//! simulator with every fault at once, SIGKILLed and restarted at random points, checked by an
//! oracle. `cargo xtask soak --minutes N` and `relay/tests/fault_soak.rs` run it.
//!
//! * **Traffic:** a Segment-style client posts `POST /v1/batch` calls (basic-auth write key) of
//!   conversions, audience events and deliberately invalid conversions (older than 90 days, or
//!   without any user identifier); a batch is *accepted* when relay answers 200, and a batch that
//!   got no answer (relay was killed) is sent again, as a Segment client does.
//! * **Faults** (the simulator, seeded): 429 bursts with `Retry-After` (time windows) and without
//!   (request-count bursts), an `X-RateLimit` budget (`Remaining: 0` + `Reset`), token-propagation
//!   windows (an access token expires every few seconds; the refreshed one answers 65601 for a
//!   second), one destination's refresh token revoked (its instance halts; later the "operator"
//!   authorises again: a new refresh token in the configuration and a restart), 5xx, latency
//!   spikes, connection resets, and hangs past relay's 10 s request timeout.
//! * **Kills:** relay is SIGKILLed at random times (seeded) and started again.
//! * **Oracle:** after a drain, every accepted event is delivered (the simulator's own counters)
//!   or dead-lettered with a reason; no event is delivered twice by one relay process; an event
//!   delivered again after a kill was *in flight* at that kill — the simulator had taken it but
//!   relay's ledger did not hold it when the process died (read from the store before the
//!   restart) — and every copy carries the same idempotency key (conversions: the same `eventId`
//!   and the same element; audiences: the same member); nothing that was not accepted arrives;
//!   the invalid events are dead-lettered, never delivered; relay never panicked and the queue is
//!   empty at the end.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actions_core::request::{HttpClient, OriginOverrides, RequestClient, RequestOptions};
use actions_testkit::linkedin_sim::{
    CannedResponse, ErrorRate, Fault, FaultRule, Lag, LinkedInSim, RateLimit, RetryAfter,
    RouteKind, RouteSelector, SimConfig, Sometimes, Step,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sha2::Digest;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::demo;
use crate::queue::{EmbeddedQueue, LedgerKey, Queue};

/// The conversions instance (its tokens: the simulator's `sim-access-token` /
/// `sim-refresh-token`).
pub const CONV: &str = "li-conv";
/// The audiences instance, whose refresh token is revoked mid-soak.
pub const AUD: &str = "li-aud";
const CONV_ACTION: &str = "streamConversion";
const AUD_ACTION: &str = "updateAudience";
const CONV_REFRESH: &str = "sim-refresh-token";
const CONV_ACCESS: &str = "sim-access-token";
const AUD_ACCESS: &str = "soak-aud-access-token";
const AUD_REFRESH: &str = "soak-aud-refresh-token";
const AUD_REFRESH_AGAIN: &str = "soak-aud-refresh-token-2";
/// The USER segment of `li_test_audience` in the simulator's default world.
const AUD_SEGMENT: u64 = 546_109_929;
const WRITE_KEY: &str = "soak-write-key";

/// What the soak does.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// The `relay` binary.
    pub relay: PathBuf,
    /// How long events are sent and relay is killed (the drain comes after).
    pub duration: Duration,
    /// Seed of every random choice (kill times, traffic, the simulator's faults).
    pub seed: u64,
    /// Events the client sends per second, on average.
    pub events_per_second: u32,
    /// Time between kills: uniform in this range.
    pub kill_every: (Duration, Duration),
    /// How long the drain after the last kill may take.
    pub drain_timeout: Duration,
    /// Working directory (store, configuration, relay's logs); a new temporary one when `None`.
    pub dir: Option<PathBuf>,
}

impl SoakOptions {
    /// A soak of `duration` with `seed`: 60 events/s, a kill every 2–12 s (2–6 s under three
    /// minutes), three minutes to drain.
    pub fn new(relay: PathBuf, duration: Duration, seed: u64) -> Self {
        let short = duration < Duration::from_secs(180);
        Self {
            relay,
            duration,
            seed,
            events_per_second: 60,
            kill_every: (
                Duration::from_secs(2),
                Duration::from_secs(if short { 6 } else { 12 }),
            ),
            drain_timeout: Duration::from_secs(180),
            dir: None,
        }
    }
}

/// Why the soak could not run (a failed oracle is not an error: see [`SoakReport::problems`]).
#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    /// The simulator did not start.
    #[error("the LinkedIn simulator did not start: {0}")]
    Sim(String),
    /// relay could not be started or stopped.
    #[error("relay: {0}")]
    Relay(String),
    /// The working directory or a file in it.
    #[error("{0}")]
    Io(String),
}

/// The soak's counts and the oracle's findings.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// The seed.
    pub seed: u64,
    /// Events relay acknowledged (200 to their `/v1/batch` call).
    pub accepted: u64,
    /// Accepted events the simulator took at least once.
    pub delivered: u64,
    /// Extra deliveries, each of an event in flight at a kill.
    pub duplicates_in_flight: u64,
    /// Dead-lettered accepted events by reason category.
    pub dead_lettered: BTreeMap<String, u64>,
    /// SIGKILLs.
    pub kills: u32,
    /// Whether the instance with the revoked refresh token was halted when the operator fixed it.
    pub halted: bool,
    /// Access tokens the soak expired (each starts a refresh and a token-propagation window).
    pub token_expiries: u32,
    /// How the simulator's requests ended: by status, `reset`, `hung`.
    pub outcomes: BTreeMap<String, u64>,
    /// Oracle failures; empty when the soak passed.
    pub problems: Vec<String>,
    /// The working directory (relay's logs are `relay-N.log` there).
    pub dir: PathBuf,
}

impl SoakReport {
    /// Whether the oracle held.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The fault statistics line: what the simulator answered.
    pub fn faults_line(&self) -> String {
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "faults seen by relay: {}; {} access tokens expired; revoked destination halted: {}",
            outcomes.join(", "),
            self.token_expiries,
            if self.halted { "yes" } else { "no" }
        )
    }

    /// The counts line (the soak's last line).
    pub fn counts_line(&self) -> String {
        let dead: u64 = self.dead_lettered.values().sum();
        let reasons: Vec<String> = self
            .dead_lettered
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "soak {}: seed {}, accepted {}, delivered {}, duplicates in flight {}, dead-lettered {} ({}), kills {}",
            if self.passed() { "OK" } else { "FAILED" },
            self.seed,
            self.accepted,
            self.delivered,
            self.duplicates_in_flight,
            dead,
            if reasons.is_empty() {
                "none".to_string()
            } else {
                reasons.join(", ")
            },
            self.kills
        )
    }
}

/// What kind of event a `messageId` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Conversion,
    Audience,
    /// A conversion that can never be delivered.
    Invalid,
}

/// The client's side: what was sent, how often, and what relay acknowledged.
#[derive(Debug, Default)]
struct Sent {
    kind: HashMap<String, Kind>,
    sends: HashMap<String, u32>,
    accepted: BTreeSet<String>,
}

/// The simulator's delivery counters, keyed by `messageId`.
fn deliveries(sim: &LinkedInSim, members: &HashMap<String, String>) -> HashMap<String, u32> {
    let dedup = sim.dedup_counts();
    let mut out: HashMap<String, u32> = dedup.conversion_events.into_iter().collect();
    if let Some(segment) = dedup.members.get(&AUD_SEGMENT) {
        for (member, d) in segment {
            let id = members
                .get(member)
                .cloned()
                .unwrap_or_else(|| format!("unknown member {member}"));
            out.insert(id, d.total());
        }
    }
    out
}

/// The simulator's member key of audience event `i` (`SHA256_EMAIL:` + the hashed email).
fn member_key(i: u64) -> String {
    let email = format!("member{i}@example.com");
    format!(
        "SHA256_EMAIL:{}",
        hex::encode(sha2::Sha256::digest(email.as_bytes()))
    )
}

fn audience_event(i: u64) -> Value {
    let mut e = demo::audience(usize::try_from(i).unwrap_or(usize::MAX));
    e["messageId"] = json!(format!("soak-a-{i}"));
    e
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The simulator's faults over `duration`, drawn from `rng`.
pub fn faults(duration: Duration, rng: &mut ChaCha8Rng) -> Vec<FaultRule> {
    let api = || RouteSelector::parse("POST /rest/**").unwrap_or(RouteSelector::Any);
    let mut rules = vec![
        // Hangs past relay's request timeout: one early for sure, then one request in 800.
        FaultRule::new(api(), Fault::Hang)
            .after_requests(20)
            .max_requests(1),
        // One reset and one 503 early for sure (short soaks see every fault), then at random.
        FaultRule::new(api(), Fault::Reset)
            .after_requests(10)
            .max_requests(1),
        FaultRule::new(api(), Fault::Respond(CannedResponse::status(503)))
            .after_requests(15)
            .max_requests(1),
        FaultRule::new(api(), Fault::Sometimes(Sometimes::new(0.00125, Step::Hang))),
        // Connection resets and 5xx on the API, not on the token endpoint: relay now pauses and
        // retries a refresh that fails that way, but under this fault rate it still reaches
        // REFRESH_FAILURES_BEFORE_HALT in a row within minutes and halts the instance (open: see
        // relay/README.md), which this oracle would report as lost events.
        FaultRule::new(api(), Fault::Sometimes(Sometimes::new(0.01, Step::Reset))),
        FaultRule::new(
            api(),
            Fault::ErrorRate(ErrorRate {
                rate: 0.03,
                statuses: vec![500, 502, 503, 504],
            }),
        ),
        // An X-RateLimit budget on conversion uploads: Remaining 0 and Reset, no Retry-After.
        FaultRule::new(
            RouteKind::ConversionEventsBatchCreate,
            Fault::RateLimit(
                RateLimit::new(12, Duration::from_secs(1))
                    .retry_after(RetryAfter::None)
                    .with_rate_limit_headers(),
            ),
        ),
        // Base latency, and latency spikes for a few requests at a time.
        FaultRule::new(api(), Fault::Latency(Duration::from_millis(5))),
        FaultRule::new(
            api(),
            Fault::Sometimes(Sometimes::new(
                0.02,
                Step::Latency(Duration::from_millis(1500)),
            )),
        ),
    ];
    // Timed windows: 429 bursts with Retry-After, latency spikes for everyone.
    let mut at = Duration::from_secs(2);
    while at < duration {
        let len = Duration::from_millis(rng.random_range(300..1500));
        let fault = if rng.random_bool(0.5) {
            Fault::Respond(CannedResponse::status(429).with_header("retry-after", "1"))
        } else {
            Fault::Latency(Duration::from_millis(rng.random_range(200..900)))
        };
        rules.push(
            FaultRule::new(api(), fault)
                .from_time(at)
                .until_time(at + len),
        );
        at += Duration::from_millis(rng.random_range(3000..9000));
    }
    // 429 bursts without Retry-After (two or three requests in a row), every few hundred
    // requests; short enough not to look like a daily quota.
    let mut after = 50u64;
    let expected = duration.as_secs().saturating_mul(30);
    while after < expected {
        let burst = rng.random_range(2..4);
        let text = rng.random_bool(0.5);
        let response = if text {
            CannedResponse::text(429, "Too Many Requests")
        } else {
            CannedResponse::status(429)
        };
        rules.push(
            FaultRule::new(api(), Fault::Respond(response))
                .after_requests(after)
                .max_requests(burst),
        );
        after += rng.random_range(150..400);
    }
    rules
}

/// relay's configuration: the store, short retries, the ingest on `port`, both LinkedIn
/// destinations on the simulator at `base` (the audiences instance with `aud_refresh`).
fn config_text(store: &Path, port: u16, base: &str, aud_refresh: &str) -> String {
    let batch = "batch = { size = 50, linger = \"100ms\" }\n";
    let conv = demo::conversions_destination(base, 8).replacen(
        "slug = \"linkedin-conversions\"\n",
        &format!("slug = \"linkedin-conversions\"\n{batch}"),
        1,
    );
    let aud = demo::audiences_destination(base, "")
        .replacen(
            "slug = \"linkedin-audiences\"\n",
            &format!("slug = \"linkedin-audiences\"\nmax_in_flight = 4\n{batch}"),
            1,
        )
        .replace("sim-access-token", AUD_ACCESS)
        .replace("sim-refresh-token", aud_refresh);
    format!(
        r#"[store]
path = "{}"

[retry]
max_attempts = 12
max_age = "1h"
initial_backoff = "100ms"
max_backoff = "2s"
propagation_delay = "500ms"
propagation_delay_max = "4s"

[ingest]
listen = "127.0.0.1:{port}"
write_keys = ["{WRITE_KEY}"]
{conv}{aud}"#,
        store.display()
    )
}

/// The origin the soak's client addresses relay by; [`at_port`] points it at the running relay
/// (plain http only to loopback, and only through an origin override: core's transport rule).
const LOCAL: &str = "https://relay.soak";

/// `http` with [`LOCAL`] pointed at relay's ingest on `port`.
fn at_port(http: &RequestClient, port: u16) -> RequestClient {
    http.clone().with_origins(Arc::new(
        OriginOverrides::new().with(LOCAL, &format!("http://127.0.0.1:{port}")),
    ))
}

fn free_port() -> Result<u16, SoakError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| SoakError::Io(format!("no free port: {e}")))
}

/// A running `relay serve`.
struct Running {
    child: Child,
    port: u16,
}

/// Starts relay and waits until `/health` answers.
async fn start(
    opts: &SoakOptions,
    dir: &Path,
    base: &str,
    aud_refresh: &str,
    n: u32,
    http: &RequestClient,
) -> Result<Running, SoakError> {
    let port = free_port()?;
    let config = dir.join("relay.toml");
    std::fs::write(
        &config,
        config_text(&dir.join("store"), port, base, aud_refresh),
    )
    .map_err(|e| SoakError::Io(format!("cannot write {}: {e}", config.display())))?;
    let log_path = dir.join(format!("relay-{n}.log"));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| SoakError::Io(format!("cannot create {}: {e}", log_path.display())))?;
    let err = log
        .try_clone()
        .map_err(|e| SoakError::Io(format!("{}: {e}", log_path.display())))?;
    let mut child = Command::new(&opts.relay)
        .args(["serve", "--config"])
        .arg(&config)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| SoakError::Relay(format!("cannot start {}: {e}", opts.relay.display())))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("{LOCAL}/health");
    let http = &at_port(http, port);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(SoakError::Relay(format!(
                "relay serve exited at start ({status}): {log}"
            )));
        }
        if let Ok(r) = http.get(url.clone()).throw_http_errors(false).send().await
            && r.status() == 200
        {
            return Ok(Running { child, port });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(SoakError::Relay(
                "relay serve did not answer /health in 60 s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for a child process without blocking the runtime.
async fn wait(mut child: Child) -> Result<std::process::ExitStatus, SoakError> {
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .map_err(|e| SoakError::Relay(e.to_string()))?
        .map_err(|e| SoakError::Relay(e.to_string()))
}

/// The Segment-style client: batches of 5–30 events at `events_per_second` on average to the
/// relay on the port in `port` (`None` while it is down), each batch sent until relay answers
/// 200; stops after the batch in progress once `stop` is set.
async fn client(
    sent: Arc<Mutex<Sent>>,
    mut port: watch::Receiver<Option<u16>>,
    stop: watch::Receiver<bool>,
    seed: u64,
    events_per_second: u32,
    http: RequestClient,
) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(7);
    let mut problems = Vec::new();
    let (mut conv, mut aud, mut invalid) = (0u64, 0u64, 0u64);
    let per_event = Duration::from_secs(1) / events_per_second.max(1);
    while !*stop.borrow() {
        let now = chrono::Utc::now().timestamp_millis();
        let n = rng.random_range(5..=30u32);
        let mut batch = Vec::new();
        {
            let mut s = sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for _ in 0..n {
                let roll = rng.random_range(0..100);
                let (id, event, kind) = if roll < 75 {
                    conv += 1;
                    let id = format!("soak-c-{conv}");
                    let e = demo::conversion_event(&id, now);
                    (id, e, Kind::Conversion)
                } else if roll < 97 {
                    aud += 1;
                    (format!("soak-a-{aud}"), audience_event(aud), Kind::Audience)
                } else {
                    invalid += 1;
                    let id = format!("soak-x-{invalid}");
                    let mut e = demo::conversion_event(&id, now);
                    if invalid % 2 == 0 {
                        // Older than LinkedIn's 90 days.
                        e["timestamp"] = json!(rfc3339(now - 200 * 86_400_000));
                    } else {
                        // No user identifier at all.
                        e["traits"] = json!({});
                    }
                    (id, e, Kind::Invalid)
                };
                s.kind.insert(id, kind);
                batch.push(event);
            }
        }
        let ids: Vec<String> = batch
            .iter()
            .filter_map(|e| e["messageId"].as_str().map(str::to_owned))
            .collect();
        let body = json!({"batch": batch, "sentAt": rfc3339(now)});
        // Send until acknowledged, as a Segment client does.
        loop {
            let current = *port.borrow_and_update();
            let Some(p) = current else {
                let _ = port.changed().await;
                continue;
            };
            {
                let mut s = sent
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for id in &ids {
                    *s.sends.entry(id.clone()).or_default() += 1;
                }
            }
            let answer = at_port(&http, p)
                .post(format!("{LOCAL}/v1/batch"))
                .basic_auth(WRITE_KEY, "")
                .json(body.clone())
                .throw_http_errors(false)
                .send()
                .await;
            match answer {
                Ok(r) if r.status() == 200 => {
                    let rejected = r
                        .json()
                        .ok()
                        .and_then(|v| v.get("rejected").cloned())
                        .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()));
                    if let Some(rejected) = rejected {
                        problems.push(format!("relay's ingest rejected valid input: {rejected}"));
                    }
                    let mut s = sent
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    s.accepted.extend(ids.iter().cloned());
                    break;
                }
                Ok(r) if r.status() == 429 => {
                    let wait = r
                        .header("retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(1);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                Ok(r) if r.status() < 500 => {
                    problems.push(format!(
                        "relay's ingest answered {}: {}",
                        r.status(),
                        r.content()
                    ));
                    break;
                }
                // 5xx, or no answer (relay killed): again.
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        tokio::time::sleep(per_event * n).await;
    }
    problems
}

/// Expires the access tokens of both destinations at random times (each expiry starts a
/// refresh and a token-propagation window), and revokes the audiences' refresh token at
/// `revoke_at`.
async fn token_faults(
    sim: Arc<LinkedInSim>,
    aud_refresh: Arc<Mutex<String>>,
    revoke_at: Duration,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) -> u32 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(9);
    let started = Instant::now();
    let mut revoked = false;
    let mut expiries = 0;
    let current = |refresh: &str, initial: &str| {
        sim.tokens_issued_for(refresh)
            .pop()
            .unwrap_or_else(|| initial.to_string())
    };
    loop {
        let wait = Duration::from_millis(rng.random_range(4000..12000));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return expiries,
        }
        if !revoked && started.elapsed() >= revoke_at {
            revoked = true;
            sim.revoke_refresh_token(AUD_REFRESH);
            sim.expire_access_token(&current(AUD_REFRESH, AUD_ACCESS));
            expiries += 1;
            continue;
        }
        let aud = aud_refresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let token = if rng.random_bool(0.5) {
            current(CONV_REFRESH, CONV_ACCESS)
        } else {
            current(&aud, AUD_ACCESS)
        };
        sim.expire_access_token(&token);
        expiries += 1;
    }
}

/// One relay process's deliveries, from the simulator's counters when it ended.
struct Boundary {
    before: HashMap<String, u32>,
}

impl Boundary {
    /// Events the simulator took since the last boundary, with how many times; updates it.
    fn advance(&mut self, now: HashMap<String, u32>) -> BTreeMap<String, u32> {
        let mut delta = BTreeMap::new();
        for (id, n) in &now {
            let was = self.before.get(id).copied().unwrap_or(0);
            if *n > was {
                delta.insert(id.clone(), n - was);
            }
        }
        self.before = now;
        delta
    }
}

/// Waits until the simulator has finished every request it received (a killed relay's last
/// requests included); at most 30 s.
async fn settle(sim: &LinkedInSim) {
    let deadline = Instant::now() + Duration::from_secs(30);
    tokio::time::sleep(Duration::from_millis(100)).await;
    while sim.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ledger_key(id: &str, kind: Kind) -> LedgerKey {
    let (instance, action) = match kind {
        Kind::Audience => (AUD, AUD_ACTION),
        Kind::Conversion | Kind::Invalid => (CONV, CONV_ACTION),
    };
    LedgerKey {
        instance: instance.into(),
        action: action.into(),
        message_id: id.into(),
    }
}

/// Opens the store of a stopped relay (read-only; writable when a crash left it needing repair).
fn open_store(dir: &Path) -> Result<EmbeddedQueue, SoakError> {
    let store = dir.join("store");
    EmbeddedQueue::open_read_only(&store).or_else(|_| {
        EmbeddedQueue::open(
            &store,
            Duration::from_secs(7 * 86_400),
            Arc::new(|| chrono::Utc::now().timestamp_millis()),
        )
        .map_err(|e| SoakError::Io(format!("cannot open the store after a kill: {e}")))
    })
}

/// Per event: the relay processes (by number) that delivered it, and those of them that were
/// in flight at the kill that ended them.
#[derive(Default)]
struct History {
    delivered_in: HashMap<String, Vec<u32>>,
    in_flight: HashSet<(String, u32)>,
    problems: Vec<String>,
}

impl History {
    /// Records process `n`'s deliveries; when it was killed, asks the store which of them its
    /// ledger did not hold.
    async fn record(
        &mut self,
        n: u32,
        delta: BTreeMap<String, u32>,
        killed: Option<&EmbeddedQueue>,
        kinds: &HashMap<String, Kind>,
    ) {
        for (id, times) in delta {
            if times > 1 {
                self.problems.push(format!(
                    "{id} was delivered {times} times by relay process {n} (duplicates without a kill)"
                ));
            }
            if let (Some(q), Some(kind)) = (killed, kinds.get(&id)) {
                match q.ledger(&ledger_key(&id, *kind)).await {
                    Ok(None) => {
                        self.in_flight.insert((id.clone(), n));
                    }
                    Ok(Some(_)) => {}
                    Err(e) => self
                        .problems
                        .push(format!("the store could not be read after kill {n}: {e}")),
                }
            }
            self.delivered_in.entry(id).or_default().push(n);
        }
    }
}

/// Runs the soak and checks the oracle.
///
/// # Errors
/// The simulator, the working directory or relay cannot be set up (a failed oracle is reported
/// in [`SoakReport::problems`] instead).
pub async fn run(opts: &SoakOptions) -> Result<SoakReport, SoakError> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let sim = Arc::new(
        LinkedInSim::start(SimConfig {
            seed: opts.seed,
            access_tokens: vec![CONV_ACCESS.into(), AUD_ACCESS.into()],
            refresh_tokens: vec![CONV_REFRESH.into(), AUD_REFRESH.into()],
            token_propagation: Lag::duration(Duration::from_secs(1)),
            faults: faults(opts.duration, &mut rng),
            max_recorded_requests: 500,
            ..SimConfig::default()
        })
        .await
        .map_err(|e| SoakError::Sim(e.to_string()))?,
    );
    let base = sim.base_url();
    let dir = match &opts.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("relay-soak-{}", uuid::Uuid::new_v4())),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| SoakError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let http = RequestClient::new(
        HttpClient::new().map_err(|e| SoakError::Relay(e.to_string()))?,
        RequestOptions::new(),
    );
    let sent = Arc::new(Mutex::new(Sent::default()));
    let aud_refresh = Arc::new(Mutex::new(AUD_REFRESH.to_string()));
    let (port_tx, port_rx) = watch::channel(None);
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut n = 1u32;
    let mut relay = start(opts, &dir, &base, AUD_REFRESH, n, &http).await?;
    port_tx.send_replace(Some(relay.port));
    let client_task = tokio::spawn(client(
        sent.clone(),
        port_rx,
        stop_rx.clone(),
        opts.seed,
        opts.events_per_second,
        http.clone(),
    ));
    let tokens_task = tokio::spawn(token_faults(
        sim.clone(),
        aud_refresh.clone(),
        opts.duration.mul_f64(0.3),
        opts.seed,
        stop_rx,
    ));

    let mut members: HashMap<String, String> = HashMap::new();
    let mut boundary = Boundary {
        before: HashMap::new(),
    };
    let mut history = History::default();
    let mut report = SoakReport {
        seed: opts.seed,
        dir: dir.clone(),
        ..SoakReport::default()
    };
    let started = Instant::now();
    let fix_at = opts.duration.mul_f64(0.6);
    let mut fixed = false;
    let (lo, hi) = opts.kill_every;
    loop {
        let pause = Duration::from_millis(
            rng.random_range(lo.as_millis().max(1) as u64..=hi.as_millis().max(2) as u64),
        );
        if started.elapsed() + pause >= opts.duration {
            break;
        }
        tokio::time::sleep(pause).await;
        // SIGKILL.
        port_tx.send_replace(None);
        let Running { mut child, .. } = relay;
        child
            .kill()
            .map_err(|e| SoakError::Relay(format!("cannot kill relay: {e}")))?;
        let status = wait(child).await?;
        if status.code().is_none() {
            report.kills += 1;
        } else {
            history.problems.push(format!(
                "relay process {n} had exited by itself before its kill ({status}); see {}",
                dir.join(format!("relay-{n}.log")).display()
            ));
        }
        settle(&sim).await;
        extend_members(&mut members, &sent);
        let delta = boundary.advance(deliveries(&sim, &members));
        {
            let store = open_store(&dir)?;
            let kinds = sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .kind
                .clone();
            history.record(n, delta, Some(&store), &kinds).await;
            if !fixed && started.elapsed() >= fix_at {
                report.halted |= halted(&store).await;
            }
        }
        // The operator authorises the audiences app again: a new refresh token.
        let mut refresh = aud_refresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if !fixed && started.elapsed() >= fix_at {
            fixed = true;
            sim.add_refresh_token(AUD_REFRESH_AGAIN);
            refresh = AUD_REFRESH_AGAIN.to_string();
            *aud_refresh
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = refresh.clone();
        }
        n += 1;
        relay = start(opts, &dir, &base, &refresh, n, &http).await?;
        port_tx.send_replace(Some(relay.port));
    }

    // Stop sending (the batch in progress is sent until acknowledged) and expiring tokens.
    let _ = stop_tx.send(true);
    match client_task.await {
        Ok(problems) => report.problems.extend(problems),
        Err(e) => report.problems.push(format!("the client failed: {e}")),
    }
    report.token_expiries = tokens_task.await.unwrap_or(0);
    if !fixed {
        // Too short a soak for a kill after the fix time: fix with a graceful restart.
        terminate(relay).await?;
        settle(&sim).await;
        extend_members(&mut members, &sent);
        let delta = boundary.advance(deliveries(&sim, &members));
        let kinds = sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .kind
            .clone();
        history.record(n, delta, None, &kinds).await;
        report.halted |= halted(&open_store(&dir)?).await;
        sim.add_refresh_token(AUD_REFRESH_AGAIN);
        n += 1;
        relay = start(opts, &dir, &base, AUD_REFRESH_AGAIN, n, &http).await?;
    }

    // Drain: until relay's queue is empty.
    let drained = drain(&http, relay.port, opts.drain_timeout).await;
    terminate(relay).await?;
    settle(&sim).await;
    extend_members(&mut members, &sent);
    let delta = boundary.advance(deliveries(&sim, &members));
    let sent = std::mem::take(
        &mut *sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    history.record(n, delta, None, &sent.kind).await;
    if let Err(left) = drained {
        report.problems.push(left);
    }
    report.outcomes = sim.outcome_counts();
    let store = open_store(&dir)?;
    check(&mut report, &sent, history, &store, &sim).await;
    for i in 1..=n {
        let log = std::fs::read_to_string(dir.join(format!("relay-{i}.log"))).unwrap_or_default();
        if log.contains("panicked") {
            report.problems.push(format!(
                "relay process {i} panicked; see {}",
                dir.join(format!("relay-{i}.log")).display()
            ));
        }
    }
    if report.passed() && opts.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(report)
}

/// Adds the member keys of the audience events sent so far.
fn extend_members(members: &mut HashMap<String, String>, sent: &Mutex<Sent>) {
    let s = sent
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let count = s.kind.values().filter(|k| **k == Kind::Audience).count() as u64;
    let have = members.len() as u64;
    for i in have + 1..=count {
        members.insert(member_key(i), format!("soak-a-{i}"));
    }
}

/// Whether the audiences instance is halted in the store.
async fn halted(store: &EmbeddedQueue) -> bool {
    store
        .instance_state(AUD)
        .await
        .ok()
        .flatten()
        .is_some_and(|s| s.halted.is_some())
}

/// SIGTERM, and waits for relay to stop (SIGKILL after 60 s).
async fn terminate(relay: Running) -> Result<(), SoakError> {
    let Running { mut child, .. } = relay;
    let pid = child.id().to_string();
    let _ = Command::new("kill")
        .args(["-TERM", &pid])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Ok(()),
            Ok(None) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            _ => {
                let _ = child.kill();
                wait(child).await?;
                return Err(SoakError::Relay(
                    "relay did not stop within 60 s of SIGTERM".into(),
                ));
            }
        }
    }
}

/// Polls `/health` until the queue is empty; an error names what is left.
async fn drain(http: &RequestClient, port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let url = format!("{LOCAL}/health");
    let http = &at_port(http, port);
    let mut depth = None;
    while Instant::now() < deadline {
        if let Ok(r) = http.get(url.clone()).throw_http_errors(false).send().await
            && let Ok(v) = r.json()
        {
            depth = v.get("queue_depth").and_then(Value::as_u64);
            if depth == Some(0) {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "relay did not drain within {} s: queue depth {}",
        timeout.as_secs(),
        depth.map_or("unknown".into(), |d| d.to_string())
    ))
}

/// The oracle for one accepted event: `kind`, the relay processes that delivered it, its dead
/// letters, how often the client sent it, and the (event, process) pairs that were in flight at
/// that process's kill.
fn verdict(
    id: &str,
    kind: Kind,
    procs: &[u32],
    letters: usize,
    sends: u32,
    in_flight: &HashSet<(String, u32)>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if kind == Kind::Invalid {
        if !procs.is_empty() {
            problems.push(format!("invalid event {id} arrived at LinkedIn"));
        }
        if letters == 0 {
            problems.push(format!("invalid event {id} was not dead-lettered"));
        }
    } else if procs.is_empty() && letters == 0 {
        problems.push(format!(
            "{id} was accepted but neither delivered nor dead-lettered"
        ));
    }
    // A dead letter per acceptance at most (a batch sent again after a kill is accepted again).
    if letters > 1 && letters > sends as usize {
        problems.push(format!(
            "{id} was dead-lettered {letters} times but sent {sends} times"
        ));
    }
    // Every delivery but the last was in flight at a kill; all of them when the event was
    // also dead-lettered (it was never recorded as delivered).
    let must_be_in_flight = if letters == 0 {
        procs.len().saturating_sub(1)
    } else {
        procs.len()
    };
    for p in procs.iter().take(must_be_in_flight) {
        if !in_flight.contains(&(id.to_string(), *p)) {
            problems.push(format!(
                "{id} was delivered by relay process {p} (recorded in its ledger) and again \
                 later (deliveries by processes {procs:?})"
            ));
        }
    }
    problems
}

/// The oracle.
async fn check(
    report: &mut SoakReport,
    sent: &Sent,
    history: History,
    store: &EmbeddedQueue,
    sim: &LinkedInSim,
) {
    let History {
        delivered_in,
        in_flight,
        mut problems,
    } = history;
    report.accepted = sent.accepted.len() as u64;
    // Dead letters by messageId.
    let mut dead: HashMap<String, Vec<(String, String)>> = HashMap::new();
    match store.dead_letters().await {
        Ok(letters) => {
            for d in letters {
                let id = d
                    .key
                    .as_ref()
                    .map(|k| k.message_id.clone())
                    .unwrap_or_else(|| {
                        serde_json::from_str::<Value>(&d.event)
                            .ok()
                            .and_then(|e| e["messageId"].as_str().map(str::to_owned))
                            .unwrap_or_default()
                    });
                if d.reason.trim().is_empty() || d.category.trim().is_empty() {
                    problems.push(format!("dead letter {} of {id} has no reason", d.id));
                }
                dead.entry(id).or_default().push((d.category, d.reason));
            }
        }
        Err(e) => problems.push(format!("cannot read the dead letters: {e}")),
    }
    // Nothing that was not accepted arrives or is dead-lettered.
    for id in delivered_in.keys() {
        if !sent.accepted.contains(id) {
            problems.push(format!("{id} arrived at LinkedIn but was never accepted"));
        }
    }
    for id in dead.keys() {
        if !sent.accepted.contains(id) {
            problems.push(format!("{id} was dead-lettered but was never accepted"));
        }
    }
    // The same idempotency key and element on every copy of a conversion.
    let mut copies: HashMap<String, Vec<Value>> = HashMap::new();
    for c in sim.state().conversion_events {
        if let Some(id) = &c.event_id
            && delivered_in.get(id).is_some_and(|v| v.len() > 1)
        {
            copies.entry(id.clone()).or_default().push(c.element);
        }
    }
    for id in &sent.accepted {
        let kind = sent.kind.get(id).copied().unwrap_or(Kind::Conversion);
        let procs = delivered_in.get(id).cloned().unwrap_or_default();
        let letters = dead.get(id).cloned().unwrap_or_default();
        let sends = sent.sends.get(id).copied().unwrap_or(1);
        problems.extend(verdict(id, kind, &procs, letters.len(), sends, &in_flight));
        if !procs.is_empty() {
            report.delivered += 1;
        }
        report.duplicates_in_flight += procs.len().saturating_sub(1) as u64;
        if let Some(c) = copies.get(id)
            && c.windows(2).any(|w| w[0] != w[1])
        {
            problems.push(format!("the copies of {id} differ: {c:?}"));
        }
        if let Some((category, _)) = letters.first() {
            *report.dead_lettered.entry(category.clone()).or_default() += 1;
        }
    }
    if !report.halted {
        problems.push(format!(
            "{AUD} did not halt after its refresh token was revoked"
        ));
    }
    match store.depth().await {
        Ok(0) => {}
        Ok(d) => problems.push(format!("{d} jobs are left in the queue")),
        Err(e) => problems.push(format!("cannot read the queue depth: {e}")),
    }
    problems.sort();
    problems.dedup();
    let total = problems.len();
    if total > 50 {
        problems.truncate(50);
        let mut more = String::new();
        let _ = write!(more, "… and {} more problems", total - 50);
        problems.push(more);
    }
    report.problems.extend(problems);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, u32)]) -> HashSet<(String, u32)> {
        p.iter().map(|(id, n)| ((*id).to_string(), *n)).collect()
    }

    #[test]
    fn the_oracle_accepts_one_delivery_or_a_dead_letter() {
        let none = HashSet::new();
        assert!(verdict("c", Kind::Conversion, &[3], 0, 1, &none).is_empty());
        assert!(verdict("c", Kind::Conversion, &[], 1, 1, &none).is_empty());
        assert!(verdict("x", Kind::Invalid, &[], 1, 1, &none).is_empty());
        // Sent twice (no answer the first time): dead-lettered twice is fine.
        assert!(verdict("x", Kind::Invalid, &[], 2, 2, &none).is_empty());
    }

    #[test]
    fn the_oracle_rejects_lost_invalid_and_extra_dead_letters() {
        let none = HashSet::new();
        let lost = verdict("c", Kind::Audience, &[], 0, 1, &none);
        assert!(
            lost[0].contains("neither delivered nor dead-lettered"),
            "{lost:?}"
        );
        let arrived = verdict("x", Kind::Invalid, &[2], 0, 1, &none);
        assert_eq!(arrived.len(), 2, "{arrived:?}");
        let twice = verdict("x", Kind::Invalid, &[], 2, 1, &none);
        assert!(twice[0].contains("dead-lettered 2 times"), "{twice:?}");
    }

    #[test]
    fn duplicates_are_allowed_only_when_in_flight_at_a_kill() {
        // Delivered by process 1 (not in its ledger when it was killed) and by process 2.
        let in_flight = pairs(&[("c", 1)]);
        assert!(verdict("c", Kind::Conversion, &[1, 2], 0, 1, &in_flight).is_empty());
        // Process 1 had it in its ledger: sending it again is a duplicate without excuse.
        let recorded = verdict("c", Kind::Conversion, &[1, 2], 0, 1, &HashSet::new());
        assert!(
            recorded[0].contains("recorded in its ledger"),
            "{recorded:?}"
        );
        // Three processes, only the first delivery in flight.
        let third = verdict("c", Kind::Conversion, &[1, 2, 3], 0, 1, &in_flight);
        assert_eq!(third.len(), 1, "{third:?}");
        // Delivered, then dead-lettered after the kill: the delivery must have been in flight.
        assert!(verdict("c", Kind::Conversion, &[1], 1, 1, &in_flight).is_empty());
        assert_eq!(
            verdict("c", Kind::Conversion, &[1], 1, 1, &HashSet::new()).len(),
            1
        );
    }

    #[test]
    fn boundaries_count_each_process_deliveries() {
        let mut b = Boundary {
            before: HashMap::new(),
        };
        let first = b.advance(HashMap::from([("a".to_string(), 1), ("b".to_string(), 1)]));
        assert_eq!(first.len(), 2);
        let second = b.advance(HashMap::from([("a".to_string(), 3), ("b".to_string(), 1)]));
        assert_eq!(second, BTreeMap::from([("a".to_string(), 2)]));
    }

    #[test]
    fn member_keys_are_the_simulators_hashed_email() {
        let key = member_key(1);
        assert!(key.starts_with("SHA256_EMAIL:"), "{key}");
        assert_eq!(key.len(), "SHA256_EMAIL:".len() + 64);
        assert_ne!(key, member_key(2));
    }

    #[test]
    fn the_counts_line_names_every_count() {
        let report = SoakReport {
            seed: 5,
            accepted: 10,
            delivered: 8,
            duplicates_in_flight: 1,
            dead_lettered: BTreeMap::from([("permanent 400".to_string(), 2)]),
            kills: 4,
            ..SoakReport::default()
        };
        assert_eq!(
            report.counts_line(),
            "soak OK: seed 5, accepted 10, delivered 8, duplicates in flight 1, dead-lettered 2 \
             (permanent 400 2), kills 4"
        );
        let failed = SoakReport {
            problems: vec!["lost".into()],
            ..report
        };
        assert!(failed.counts_line().starts_with("soak FAILED"));
    }
}
