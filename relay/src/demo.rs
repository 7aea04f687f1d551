//! `relay demo`: offline, no arguments. Starts testkit's LinkedIn simulator in-process with
//! faults on (429 bursts with and without `Retry-After`, an `X-RateLimit` exhaustion, an expired
//! token followed by a token-propagation window, seeded 5xx, latency), a temporary store, both
//! LinkedIn destinations subscribed, a few thousand generated events with re-sent duplicates
//! and some invalid ones; prints the summary table and checks against the simulator's own
//! counters that every delivered event arrived exactly once.

use std::sync::Arc;
use std::time::Duration;

use actions_testkit::linkedin_sim::{
    CannedResponse, ErrorRate, Fault, FaultRule, Lag, LinkedInSim, RateLimit, RetryAfter,
    RouteKind, RouteSelector, SimConfig, Step,
};
use serde_json::{Value, json};

use crate::config::Config;
use crate::{Relay, RelayError};

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The HTTP ingest failed.
    #[error("the HTTP ingest failed: {0}")]
    Ingest(String),
    /// The simulator did not start.
    #[error("the LinkedIn simulator did not start: {0}")]
    Sim(String),
    /// Relay failed.
    #[error(transparent)]
    Relay(#[from] RelayError),
}

/// The `[[destinations]]` table of a LinkedIn Conversions instance `li-conv` whose LinkedIn is
/// the simulator at `base` (rule 9001, the simulator's tokens), subscribed to `Order Completed`.
pub fn conversions_destination(base: &str, max_in_flight: usize) -> String {
    format!(
        r#"
[[destinations]]
id = "li-conv"
slug = "linkedin-conversions"
max_in_flight = {max_in_flight}
origins = {{ "https://api.linkedin.com" = "{base}", "https://www.linkedin.com" = "{base}" }}
[destinations.settings]
client_id = "sim-conv-client-id"
client_secret = "sim-conv-client-secret"
oauth = {{ access_token = "sim-access-token", refresh_token = "sim-refresh-token" }}
[[destinations.subscriptions]]
partnerAction = "streamConversion"
subscribe = 'type = "track" and event = "Order Completed"'
mapping = {{ onMappingSave = {{ outputs = {{ id = "9001" }} }} }}
"#
    )
}

/// A configuration with the store at `store`, `retry` lines and the conversions instance of
/// [`conversions_destination`].
pub fn conversions_config(store: &str, retry: &str, base: &str, max_in_flight: usize) -> String {
    format!(
        "[store]\npath = \"{store}\"\n\n[retry]\n{retry}\n{}",
        conversions_destination(base, max_in_flight)
    )
}

/// The `[[destinations]]` table of a LinkedIn Audiences instance `li-aud` whose LinkedIn is the
/// simulator at `base`, subscribed with `updateAudience` (plus the `subscription` lines, e.g. a
/// `subscribe`; the action's default subscription without).
pub fn audiences_destination(base: &str, subscription: &str) -> String {
    format!(
        r#"
[[destinations]]
id = "li-aud"
slug = "linkedin-audiences"
origins = {{ "https://api.linkedin.com" = "{base}", "https://www.linkedin.com" = "{base}" }}
[destinations.settings]
ad_account_id = "512345678"
send_email = true
send_google_advertising_id = false
oauth = {{ access_token = "sim-access-token", refresh_token = "sim-refresh-token", clientId = "sim-client-id", clientSecret = "sim-client-secret" }}
[[destinations.subscriptions]]
partnerAction = "updateAudience"
{subscription}
"#
    )
}

/// The demo's configuration for a simulator at `base`, with its store in `store`.
pub fn config_text(base: &str, store: &str) -> String {
    let retry = "initial_backoff = \"200ms\"\nmax_backoff = \"5s\"\npropagation_delay = \"2s\"\npropagation_delay_max = \"8s\"";
    format!(
        "{}{}",
        conversions_config(store, retry, base, 32),
        audiences_destination(base, "")
    )
}

/// The simulator's faults.
pub fn faults() -> Vec<FaultRule> {
    vec![
        // A 429 burst with Retry-After, then one without.
        FaultRule::new(
            RouteKind::ConversionEventsBatchCreate,
            Fault::Sequence(vec![
                Step::Respond(CannedResponse::status(429).with_header("retry-after", "1")),
                Step::Respond(CannedResponse::status(429).with_header("retry-after", "1")),
                Step::Pass,
                Step::Respond(CannedResponse::status(429)),
            ]),
        )
        .after_requests(2),
        // An X-RateLimit budget on the conversion uploads (X-RateLimit-Reset, no Retry-After).
        FaultRule::new(
            RouteKind::ConversionEventsBatchCreate,
            Fault::RateLimit(
                RateLimit::new(15, Duration::from_secs(1))
                    .retry_after(RetryAfter::None)
                    .with_rate_limit_headers(),
            ),
        ),
        // Seeded 5xx on the API (not on the token endpoint).
        FaultRule::new(
            selector("POST /rest/**"),
            Fault::ErrorRate(ErrorRate {
                rate: 0.05,
                statuses: vec![500, 502, 503],
            }),
        ),
        // Latency.
        FaultRule::new(
            selector("/rest/**"),
            Fault::Latency(Duration::from_millis(15)),
        ),
    ]
}

fn selector(s: &str) -> RouteSelector {
    RouteSelector::parse(s).unwrap_or(RouteSelector::Any)
}

/// A conversion event (`Order Completed` an hour before `now_ms`, with an email) with this
/// `messageId`.
pub fn conversion_event(message_id: &str, now_ms: i64) -> Value {
    json!({
        "type": "track",
        "event": "Order Completed",
        "messageId": message_id,
        "timestamp": rfc3339(now_ms - 3_600_000),
        "userId": format!("user-{message_id}"),
        "traits": {"email": format!("{message_id}@example.com")},
        "properties": {"revenue": 10 + (message_id.len() % 90), "currency": "USD"}
    })
}

/// The demo's `i`-th conversion (`conv-{i}`).
pub fn conversion(i: usize, now_ms: i64) -> Value {
    conversion_event(&format!("conv-{i}"), now_ms)
}

/// An "Audience Entered" event.
pub fn audience(i: usize) -> Value {
    json!({
        "type": "track",
        "event": "Audience Entered",
        "messageId": format!("aud-{i}"),
        "userId": format!("member-{i}"),
        "properties": {"audience_key": "li_test_audience", "li_test_audience": true},
        "context": {
            "traits": {"email": format!("member{i}@example.com")},
            "personas": {"computation_key": "li_test_audience", "computation_class": "audience"}
        }
    })
}

/// The demo's write key.
pub const DEMO_WRITE_KEY: &str = "demo-write-key";

/// Sends events as a Segment client does: `POST {host}/v1/batch` with `{batch, sentAt}` and
/// the write key as the basic-auth user, 100 events a call, retrying a 429 after its
/// `Retry-After`. Returns how many were sent.
///
/// # Errors
/// A call is refused (other than 429) or cannot be made.
pub async fn send_like_a_segment_client(
    host: &str,
    events: impl Iterator<Item = Value>,
) -> Result<usize, DemoError> {
    use actions_core::request::{HttpClient, OriginOverrides, RequestClient, RequestOptions};
    // Plain http only to loopback through an origin override (core's transport rule).
    const RELAY: &str = "https://relay.demo";
    let http = HttpClient::new().map_err(|e| DemoError::Sim(e.to_string()))?;
    let client = RequestClient::new(http, RequestOptions::new())
        .with_origins(Arc::new(OriginOverrides::new().with(RELAY, host)));
    let events: Vec<Value> = events.collect();
    let url = format!("{RELAY}/v1/batch");
    for chunk in events.chunks(100) {
        let body =
            json!({"batch": chunk, "sentAt": rfc3339(chrono::Utc::now().timestamp_millis())});
        loop {
            let response = client
                .post(url.clone())
                .basic_auth(DEMO_WRITE_KEY, "")
                .json(body.clone())
                .throw_http_errors(false)
                .send()
                .await
                .map_err(|e| DemoError::Sim(format!("POST {url}: {e}")))?;
            match response.status() {
                200 => break,
                429 => {
                    let wait = response
                        .header("retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(1);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                s => {
                    return Err(DemoError::Sim(format!(
                        "POST {url} answered {s}: {}",
                        response.content()
                    )));
                }
            }
        }
    }
    Ok(events.len())
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Where the demo's queue lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A temporary embedded store.
    Embedded,
    /// A NATS JetStream server at this URL (comma-separated URLs for several); the demo uses a
    /// stream of its own (`RELAY_DEMO_…`) and deletes it, its dead letters and buckets after.
    JetStream(String),
}

/// Runs the demo on a temporary embedded store; returns the exit code (0 only when "exactly
/// once" holds).
///
/// # Errors
/// The simulator or relay cannot start.
pub async fn run(conversions: usize, seed: u64) -> Result<u8, DemoError> {
    run_on(conversions, seed, Backend::Embedded).await
}

/// Runs the demo on `backend`; see [`run`].
///
/// # Errors
/// The simulator or relay cannot start (or the NATS server cannot be reached).
pub async fn run_on(conversions: usize, seed: u64, backend: Backend) -> Result<u8, DemoError> {
    let sim = Arc::new(
        LinkedInSim::start(SimConfig {
            seed,
            token_propagation: Lag::duration(Duration::from_millis(1500)),
            faults: faults(),
            ..SimConfig::default()
        })
        .await
        .map_err(|e| DemoError::Sim(e.to_string()))?,
    );
    let store = std::env::temp_dir().join(format!("relay-demo-{}", uuid::Uuid::new_v4()));
    let queue = match &backend {
        Backend::Embedded => String::new(),
        Backend::JetStream(url) => {
            let stream = format!(
                "RELAY_DEMO_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            );
            format!("[queue]\nkind = \"jetstream\"\nurl = \"{url}\"\nstream = \"{stream}\"\n")
        }
    };
    let text = format!(
        "{queue}{}\n[ingest]\nlisten = \"127.0.0.1:0\"\nwrite_keys = [\"{DEMO_WRITE_KEY}\"]\n",
        config_text(&sim.base_url(), &store.display().to_string())
    );
    let config = Config::parse_with_env(&text, "demo.toml", &|_| None).map_err(RelayError::from)?;
    let queue_config = config.queue.clone();
    let relay = Arc::new(
        Relay::builder(config)
            .jitter_seed(seed)
            .batch_size(50)
            .build()
            .await?,
    );
    let audiences = conversions / 5;
    let now = chrono::Utc::now().timestamp_millis();
    // The HTTP ingest, as `relay serve` runs it: the audience events arrive through it.
    let ingest = relay
        .config_ingest()
        .ok_or_else(|| DemoError::Ingest("the demo configuration has no [ingest]".into()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::Ingest(format!("cannot listen: {e}")))?;
    let host = listener
        .local_addr()
        .map(|a| format!("http://{a}"))
        .map_err(|e| DemoError::Ingest(format!("cannot listen: {e}")))?;
    let (stop_ingest, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = {
        let relay = relay.clone();
        tokio::spawn(async move {
            crate::ingest::serve(relay, &ingest, listener, async move {
                let _ = stopped.await;
            })
            .await
        })
    };
    println!(
        "relay demo: LinkedIn simulator at {}, {conversions} conversions + {audiences} audience \
         events, re-sent duplicates and invalid input; faults: 429 bursts (with and without \
         Retry-After), X-RateLimit exhaustion, an expired token then a 1.5 s token-propagation \
         window, 5% 5xx, 15 ms latency",
        sim.base_url()
    );
    // An expired token a moment in: both destinations refresh, and the new tokens answer 65601
    // until they have propagated.
    let expiring = sim.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        expiring.expire_access_token("sim-access-token");
    });
    let progress = crate::progress::spawn(relay.clone(), "relay demo");
    let mut items: Vec<Result<Value, (String, String)>> = Vec::new();
    for i in 0..conversions {
        items.push(Ok(conversion(i, now)));
    }
    // Invalid: malformed lines, a conversion older than 90 days, one without any user id.
    items.push(Err((
        "{\"type\": \"track\",".into(),
        "line 1: not valid JSON: EOF".into(),
    )));
    items.push(Err((
        "not json at all".into(),
        "line 2: not valid JSON".into(),
    )));
    let mut old = conversion(conversions, now);
    old["timestamp"] = json!(rfc3339(now - 200 * 86_400_000));
    items.push(Ok(old));
    let mut anonymous = conversion(conversions + 1, now);
    anonymous["traits"] = json!({});
    items.push(Ok(anonymous));
    // Interleave so both destinations work at once.
    let half = items.len() / 2;
    let second = items.split_off(half);
    relay.accept_all(items).await?;
    let through_http = send_like_a_segment_client(&host, (0..audiences).map(audience)).await?;
    relay.accept_all(second).await?;
    // Re-send some at once (still queued: the pending index catches them) …
    let early: Vec<_> = (5..conversions)
        .step_by(50)
        .map(|i| Ok(conversion(i, now)))
        .collect();
    let mut resent_n = early.len();
    relay.accept_all(early).await?;
    // … and every tenth event later (most already delivered: the ledger catches them).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resent: Vec<_> = (0..conversions)
        .step_by(10)
        .map(|i| Ok(conversion(i, now)))
        .chain((0..audiences).step_by(10).map(|i| Ok(audience(i))))
        .collect();
    resent_n += resent.len();
    relay.accept_all(resent).await?;
    let summary = relay.run_until_idle().await?;
    progress.abort();
    let _ = stop_ingest.send(());
    let _ = server.await;
    relay.shutdown().await;
    if let Backend::JetStream(url) = &backend {
        println!("queue: JetStream at {url}, stream {}", queue_config.stream);
        if let Err(e) = crate::queue::jetstream::delete_streams(&queue_config).await {
            tracing::warn!(error = %e, "removing the demo's stream failed");
        }
    }
    println!();
    print!("{}", summary.table());
    println!(
        "through the HTTP ingest: {through_http} audience events in Segment-style POST /v1/batch \
         calls (basic-auth write key), the rest accepted in-process"
    );
    println!("re-sent duplicates: {resent_n}");

    // Exactly once, by the simulator's own counters.
    let dedup = sim.dedup_counts();
    let mut problems = Vec::new();
    for i in 0..conversions {
        let n = dedup.event(&format!("conv-{i}"));
        if n != 1 {
            problems.push(format!("conv-{i} arrived {n} times"));
        }
    }
    for i in [conversions, conversions + 1] {
        let n = dedup.event(&format!("conv-{i}"));
        if n != 0 {
            problems.push(format!("invalid conv-{i} arrived {n} times"));
        }
    }
    let members: Vec<u32> = dedup
        .members
        .values()
        .flat_map(|m| m.values().map(|d| d.total()))
        .collect();
    if members.len() != audiences {
        problems.push(format!(
            "{} audience members arrived, expected {audiences}",
            members.len()
        ));
    }
    if let Some(n) = members.iter().find(|n| **n != 1) {
        problems.push(format!("an audience member arrived {n} times"));
    }
    let _ = std::fs::remove_dir_all(&store);
    if problems.is_empty() {
        println!(
            "exactly once: OK — {conversions} conversions and {audiences} audience members each \
             arrived exactly once at the simulator; the {} invalid events did not arrive",
            2
        );
        Ok(0)
    } else {
        println!(
            "exactly once: FAILED — {} problems, first: {}",
            problems.len(),
            problems.join("; ").chars().take(500).collect::<String>()
        );
        Ok(2)
    }
}
