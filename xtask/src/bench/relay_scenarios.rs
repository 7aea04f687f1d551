//! `relay-event` and `relay-batch`: relay end to end with the embedded store (durable
//! commits) — events accepted by 8 concurrent producers (`Relay::accept_all`, 100 events a
//! call, as the HTTP ingest does for a Segment client's batch), delivered to the bench server as
//! LinkedIn conversions, acknowledged (ledger written, job removed). Events/s from the first
//! accept to the last acknowledgement; p99 of one event's accept-to-acknowledgement time.

use std::sync::Arc;
use std::time::Instant;

use relay::Relay;
use relay::config::Config;
use relay::queue::LedgerKey;

use super::scenarios::{Budget, Measured, conversion_event, peak_rss_mb};
use crate::util::Failure;

const PRODUCERS: usize = 8;
const CHUNK: usize = 100;

fn fail(what: &str) -> impl Fn(String) -> Failure + '_ {
    move |e| Failure::new(format!("{what}: {e}"))
}

/// Runs relay end to end against the bench server at `url`, with batching on or off.
pub fn relay(url: &str, batch: bool, budget: Budget) -> Result<Measured, Failure> {
    let events = match (budget.smoke, batch) {
        (true, _) => 200,
        (false, true) => (budget.seconds * 12_000.0) as usize,
        (false, false) => (budget.seconds * 4_000.0) as usize,
    }
    .max(CHUNK);
    let name = if batch { "relay-batch" } else { "relay-event" };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail("tokio")(e.to_string()))?;
    let dir = tempfile::tempdir().map_err(|e| fail("temporary store directory")(e.to_string()))?;
    let store = dir.path().join("store").display().to_string();
    let batching = if batch {
        "batch = { linger = \"20ms\" }"
    } else {
        "batch = false"
    };
    let destination = relay::demo::conversions_destination(url, 64).replacen(
        "max_in_flight = 64",
        &format!("max_in_flight = 64\n{batching}"),
        1,
    );
    let text = format!("[store]\npath = \"{store}\"\n{destination}");
    let config = Config::parse_with_env(&text, "bench-relay.toml", &|_| None)
        .map_err(|e| fail("relay configuration")(e.to_string()))?;
    rt.block_on(async move {
        let relay = Arc::new(
            Relay::builder(config)
                .jitter_seed(1)
                .build()
                .await
                .map_err(|e| fail("relay")(e.to_string()))?,
        );
        let now = chrono::Utc::now().timestamp_millis();
        let started = Instant::now();
        let mut producers = Vec::with_capacity(PRODUCERS);
        for p in 0..PRODUCERS {
            let relay = relay.clone();
            producers.push(tokio::spawn(async move {
                let mine: Vec<usize> = (p..events).step_by(PRODUCERS).collect();
                let mut accepted = Vec::with_capacity(mine.len());
                for chunk in mine.chunks(CHUNK) {
                    let items = chunk
                        .iter()
                        .map(|&i| Ok(conversion_event(i, now)))
                        .collect::<Vec<_>>();
                    let out = relay
                        .accept_all(items)
                        .await
                        .map_err(|e| format!("accept: {e}"))?;
                    let at = relay.now_ms();
                    for a in out.into_iter().flatten() {
                        accepted.push((a.message_id, at));
                    }
                }
                Ok::<_, String>(accepted)
            }));
        }
        let mut accepted = Vec::with_capacity(events);
        for p in producers {
            accepted.extend(
                p.await
                    .map_err(|e| fail("producer")(e.to_string()))?
                    .map_err(fail("producer"))?,
            );
        }
        relay
            .run_until_idle()
            .await
            .map_err(|e| fail("relay")(e.to_string()))?;
        let seconds = started.elapsed().as_secs_f64();
        let peak = peak_rss_mb();
        if accepted.len() != events {
            return Err(Failure::new(format!(
                "{name}: {} of {events} events accepted",
                accepted.len()
            )));
        }
        let mut latencies = Vec::with_capacity(events);
        for (message_id, at) in accepted {
            let key = LedgerKey {
                instance: "li-conv".into(),
                action: "streamConversion".into(),
                message_id,
            };
            let entry = relay
                .queue()
                .ledger(&key)
                .await
                .map_err(|e| fail("ledger")(e.to_string()))?
                .ok_or_else(|| {
                    Failure::new(format!("{name}: {} was not delivered", key.message_id))
                })?;
            if entry.outcome != "delivered" {
                return Err(Failure::new(format!(
                    "{name}: {} ended {:?}",
                    key.message_id, entry.outcome
                )));
            }
            latencies.push((entry.at_ms - at).max(0));
        }
        relay.shutdown().await;
        latencies.sort_unstable();
        let p99 = latencies
            .get((latencies.len() * 99).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or(0);
        Ok(Measured {
            name: name.to_string(),
            events: events as u64,
            seconds,
            p99_ms: Some(p99 as f64),
            peak_rss_mb: peak,
        })
    })
}
