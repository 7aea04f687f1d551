//! The named benchmark scenarios (`xtask bench-scenario NAME --url URL`), each run in its own
//! process so its peak RSS is its own; the HTTP server ([`super::server`]) is another process.
//!
//! The workload is the reference's (`shared/reference/performance.md`): `track` "Order
//! Completed" events with a distinct email and messageId each, timestamps within the last hour,
//! revenue and currency; "Audience Entered" events with `properties.audience_key` and the email
//! in `context.traits.email`; default mappings; OAuth tokens in the settings.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actions_core::context::MemoryState;
use actions_core::mapping::Mapping;
use actions_core::prelude::*;
use actions_core::request::OriginOverrides;
use linkedin_audiences::LinkedInAudiences;
use linkedin_conversions::LinkedInConversions;
use serde::Serialize;
use serde_json::Map;

use crate::util::Failure;

/// Every scenario, in the order of the table.
pub const NAMES: [&str; 9] = [
    "floor-c1",
    "floor-c64",
    "conv-event-c1",
    "conv-event-c64",
    "aud-batch-1000",
    "mapping-transform",
    "mapping-transform-validate",
    "relay-event",
    "relay-batch",
];

/// What one scenario measured (one JSON line on the scenario process's stdout).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Measured {
    /// The scenario.
    pub name: String,
    /// Units done (events, requests or mapping operations).
    pub events: u64,
    /// Wall-clock seconds they took.
    pub seconds: f64,
    /// The 99th percentile latency (ms) of one unit, where the scenario measures it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    /// The process's peak resident set (MB).
    pub peak_rss_mb: f64,
}

/// How long and how much.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Measuring time of a timed scenario.
    pub seconds: f64,
    /// `true`: one tiny round (CI's smoke form).
    pub smoke: bool,
}

impl Budget {
    fn duration(self) -> Duration {
        if self.smoke {
            Duration::from_millis(50)
        } else {
            Duration::from_secs_f64(self.seconds)
        }
    }

    fn warm_up(self) -> Duration {
        if self.smoke {
            Duration::ZERO
        } else {
            Duration::from_millis(500)
        }
    }
}

/// The process's peak resident set in MB (`VmHWM`), 0 where `/proc` is not there.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The `i`-th "Order Completed" event: distinct email and messageId, a timestamp within the
/// hour before `now_ms`, revenue and currency.
pub fn conversion_event(i: usize, now_ms: i64) -> Value {
    json!({
        "type": "track",
        "event": "Order Completed",
        "messageId": format!("bench-{i}"),
        "userId": format!("user-{i}"),
        "anonymousId": format!("anon-{i}"),
        "timestamp": iso(now_ms - (i as i64 % 3_000) * 1_000 - 60_000),
        "receivedAt": iso(now_ms),
        "traits": {"email": format!("user{i}@example.com")},
        "properties": {"revenue": 49.99 + (i % 50) as f64, "currency": "USD", "order_id": format!("o-{i}")},
        "context": {
            "ip": "8.8.8.8",
            "library": {"name": "analytics.js", "version": "2.11.1"},
            "traits": {"email": format!("user{i}@example.com")}
        }
    })
}

/// The `i`-th "Audience Entered" event.
pub fn audience_event(i: usize) -> Value {
    json!({
        "type": "track",
        "event": "Audience Entered",
        "messageId": format!("bench-aud-{i}"),
        "userId": format!("user-{i}"),
        "timestamp": iso(chrono::Utc::now().timestamp_millis()),
        "properties": {"audience_key": "li_test_audience", "li_test_audience": true},
        "context": {
            "personas": {"computation_key": "li_test_audience", "computation_class": "audience"},
            "traits": {"email": format!("member.{i}@example.com")}
        },
        "traits": {"firstName": "Member", "lastName": "One"}
    })
}

/// The default mapping of `action`: its fields' defaults.
fn default_mapping<D: Destination>(
    runtime: &DestinationRuntime<D>,
    action: &str,
) -> Map<String, Value> {
    let mut mapping = Map::new();
    if let Some((_, fields)) = runtime.actions().find(|(d, _)| d.key == action) {
        for (key, field) in fields {
            if let Some(d) = &field.default {
                mapping.insert(key.clone(), d.clone());
            }
        }
    }
    mapping
}

fn origins(url: &str) -> OriginOverrides {
    OriginOverrides::new()
        .with("https://api.linkedin.com", url)
        .with("https://www.linkedin.com", url)
}

fn conversions(url: &str) -> Result<(DestinationRuntime<LinkedInConversions>, Value), Failure> {
    let runtime = DestinationRuntime::with_config(
        LinkedInConversions::new(),
        RuntimeConfig {
            origins: origins(url),
            ..RuntimeConfig::default()
        },
    )
    .map_err(|e| Failure::new(format!("linkedin-conversions runtime: {e}")))?;
    let mut mapping = default_mapping(&runtime, "streamConversion");
    mapping.insert(
        "onMappingSave".into(),
        json!({"inputs": {}, "outputs": {"id": "9001"}}),
    );
    let settings = json!({
        "oauth": {"access_token": "bench-access-token", "refresh_token": "bench-refresh-token"},
        "subscription": {
            "partnerAction": "streamConversion",
            "subscribe": "type = \"track\" and event = \"Order Completed\"",
            "mapping": Value::Object(mapping)
        }
    });
    Ok((runtime, settings))
}

fn client_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start tokio: {e}")))
}

/// Runs `concurrency` loops of `one(i)` (i counting up across all loops) for the warm-up, then
/// for the budget; returns how many calls finished in the measured window and its length.
async fn timed_loops<F, Fut>(
    concurrency: usize,
    budget: Budget,
    one: F,
) -> Result<(u64, f64), Failure>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let one = Arc::new(one);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let warm_until = started + budget.warm_up();
    let until = warm_until + budget.duration();
    let mut loops = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (one, next, done) = (one.clone(), next.clone(), done.clone());
        loops.push(tokio::spawn(async move {
            loop {
                let now = Instant::now();
                if now >= until {
                    return Ok::<(), String>(());
                }
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                one(i).await?;
                if now >= warm_until {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for l in loops {
        l.await
            .map_err(|e| Failure::new(format!("a benchmark task failed: {e}")))?
            .map_err(Failure::new)?;
    }
    let measured = Instant::now().saturating_duration_since(warm_until);
    Ok((done.load(Ordering::Relaxed), measured.as_secs_f64()))
}

fn floor(url: &str, concurrency: usize, budget: Budget) -> Result<Measured, Failure> {
    let rt = client_runtime()?;
    // reqwest is built without a default TLS provider in this workspace (plain HTTP here).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| Failure::new(format!("reqwest client: {e}")))?;
    let now = chrono::Utc::now().timestamp_millis();
    // Pre-serialized ~300-byte conversion bodies, distinct per event.
    let bodies: Arc<Vec<bytes::Bytes>> = Arc::new(
        (0..4096)
            .map(|i| {
                let e = conversion_event(i, now);
                bytes::Bytes::from(
                    json!({
                        "conversion": "urn:lla:llaPartnerConversion:9001",
                        "conversionHappenedAt": now - 60_000,
                        "conversionValue": {"currencyCode": "USD", "amount": "49.99"},
                        "eventId": e["messageId"],
                        "user": {"userIds": [{"idType": "SHA256_EMAIL",
                            "idValue": "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514"}]}
                    })
                    .to_string(),
                )
            })
            .collect(),
    );
    let target = format!("{url}/rest/conversionEvents");
    let (n, secs) = rt.block_on(timed_loops(concurrency, budget, move |i| {
        let client = client.clone();
        let body = bodies[i % bodies.len()].clone();
        let target = target.clone();
        async move {
            let r = client
                .post(&target)
                .header("content-type", "application/json")
                .header("authorization", "Bearer bench-access-token")
                .body(body)
                .send()
                .await
                .map_err(|e| format!("floor request: {e}"))?;
            if r.status().as_u16() != 201 {
                return Err(format!("floor request: status {}", r.status()));
            }
            r.bytes().await.map_err(|e| e.to_string())?;
            Ok(())
        }
    }))?;
    Ok(measured(&format!("floor-c{concurrency}"), n, secs, None))
}

fn conv_event(url: &str, concurrency: usize, budget: Budget) -> Result<Measured, Failure> {
    let rt = client_runtime()?;
    let (runtime, settings) = conversions(url)?;
    let runtime = Arc::new(runtime);
    let settings = Arc::new(settings);
    let now = chrono::Utc::now().timestamp_millis();
    let events: Arc<Vec<Value>> = Arc::new((0..4096).map(|i| conversion_event(i, now)).collect());
    let opts = Arc::new(EventOptions::default());
    let (n, secs) = rt.block_on(timed_loops(concurrency, budget, move |i| {
        let (runtime, settings, events, opts) = (
            runtime.clone(),
            settings.clone(),
            events.clone(),
            opts.clone(),
        );
        async move {
            let delivery = runtime
                .deliver_event(&events[i % events.len()], &settings, &opts)
                .await;
            match delivery.outcome {
                Outcome::Delivered => Ok(()),
                other => Err(format!(
                    "streamConversion was not delivered: {other:?} {:?}",
                    delivery.result
                )),
            }
        }
    }))?;
    Ok(measured(
        &format!("conv-event-c{concurrency}"),
        n,
        secs,
        None,
    ))
}

fn aud_batch(url: &str, budget: Budget) -> Result<Measured, Failure> {
    const BATCH: usize = 1_000;
    let rt = client_runtime()?;
    let runtime = DestinationRuntime::with_config(
        LinkedInAudiences::new(),
        RuntimeConfig {
            origins: origins(url),
            ..RuntimeConfig::default()
        },
    )
    .map_err(|e| Failure::new(format!("linkedin-audiences runtime: {e}")))?;
    let mapping = default_mapping(&runtime, "updateAudience");
    let settings = json!({
        "ad_account_id": "512345678",
        "send_email": true,
        "send_google_advertising_id": true,
        "oauth": {"access_token": "bench-access-token", "refresh_token": "bench-refresh-token",
                  "clientId": "bench-client-id", "clientSecret": "bench-client-secret"},
        "subscription": {
            "partnerAction": "updateAudience",
            "subscribe": "event = \"Audience Entered\" or event = \"Audience Exited\"",
            "mapping": Value::Object(mapping)
        }
    });
    let batches: Vec<Vec<Value>> = (0..4)
        .map(|b| (0..BATCH).map(|i| audience_event(b * BATCH + i)).collect())
        .collect();
    let started = Instant::now();
    let warm_until = started + budget.warm_up();
    let until = warm_until + budget.duration();
    let mut done = 0u64;
    let mut k = 0usize;
    rt.block_on(async {
        loop {
            let now = Instant::now();
            if now >= until {
                return Ok::<(), Failure>(());
            }
            // A fresh state cache: no cached segment id, as in the reference's workload.
            let opts = EventOptions {
                state: Some(Arc::new(MemoryState::new())),
                ..EventOptions::default()
            };
            let batch = &batches[k % batches.len()];
            k += 1;
            let delivery = runtime.deliver_batch(batch, &settings, &opts).await;
            let ok = match &delivery.outcome {
                Outcome::Partial(each) => {
                    each.len() == BATCH && each.iter().all(|o| matches!(o, Outcome::Delivered))
                }
                Outcome::Delivered => true,
                _ => false,
            };
            if !ok {
                return Err(Failure::new(format!(
                    "updateAudience batch was not delivered: {:?}",
                    delivery.outcome
                )));
            }
            if now >= warm_until {
                done += BATCH as u64;
            }
        }
    })?;
    let secs = Instant::now()
        .saturating_duration_since(warm_until)
        .as_secs_f64();
    Ok(measured("aud-batch-1000", done, secs, None))
}

fn mapping_transform(validate: bool, budget: Budget) -> Result<Measured, Failure> {
    let (runtime, _) = conversions("http://127.0.0.1:9")?;
    let raw = Value::Object(default_mapping(&runtime, "streamConversion"));
    let mapping = Mapping::compile(&raw).map_err(|e| Failure::new(format!("mapping: {e}")))?;
    let now = chrono::Utc::now().timestamp_millis();
    // A few distinct events evaluated in turn: an event the runtime maps was just parsed and
    // sits in the cache.
    let events: Vec<Value> = (0..16).map(|i| conversion_event(i, now)).collect();
    let check = runtime
        .map_payload("streamConversion", &mapping, &events[0], validate)
        .map_err(|e| {
            Failure::new(format!(
                "the default mapping does not map the workload: {e}"
            ))
        })?;
    if check.get("eventId").is_none() {
        return Err(Failure::new(format!("unexpected mapped payload {check}")));
    }
    let name = if validate {
        "mapping-transform-validate"
    } else {
        "mapping-transform"
    };
    let started = Instant::now();
    let warm_until = started + budget.warm_up();
    let until = warm_until + budget.duration();
    let mut done = 0u64;
    let mut i = 0usize;
    loop {
        // Check the clock every 1,024 operations.
        for _ in 0..1024 {
            let out = runtime
                .map_payload(
                    "streamConversion",
                    &mapping,
                    &events[i % events.len()],
                    validate,
                )
                .map_err(|e| Failure::new(format!("mapping: {e}")))?;
            std::hint::black_box(out);
            i += 1;
        }
        let now = Instant::now();
        if now >= warm_until {
            done += 1024;
        }
        if now >= until {
            break;
        }
    }
    let secs = Instant::now()
        .saturating_duration_since(warm_until)
        .as_secs_f64();
    Ok(measured(name, done, secs, None))
}

fn measured(name: &str, events: u64, seconds: f64, p99_ms: Option<f64>) -> Measured {
    Measured {
        name: name.to_string(),
        events,
        seconds,
        p99_ms,
        peak_rss_mb: peak_rss_mb(),
    }
}

/// Runs the scenario `name` against the bench server at `url`.
pub fn run(name: &str, url: &str, budget: Budget) -> Result<Measured, Failure> {
    match name {
        "floor-c1" => floor(url, 1, budget),
        "floor-c64" => floor(url, 64, budget),
        "conv-event-c1" => conv_event(url, 1, budget),
        "conv-event-c64" => conv_event(url, 64, budget),
        "aud-batch-1000" => aud_batch(url, budget),
        "mapping-transform" => mapping_transform(false, budget),
        "mapping-transform-validate" => mapping_transform(true, budget),
        "relay-event" => super::relay_scenarios::relay(url, false, budget),
        "relay-batch" => super::relay_scenarios::relay(url, true, budget),
        other => Err(Failure::new(format!(
            "no scenario {other:?} (scenarios: {})",
            NAMES.join(", ")
        ))),
    }
}
