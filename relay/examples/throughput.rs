//! Throughput figures (not a timed test): events/s accepted into the embedded store (grouped
//! commits: many concurrent accepts share one fsync), and events/s delivered end to end to the
//! LinkedIn simulator without faults.
//!
//! `cargo run --release -p relay --example throughput [EVENTS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
use relay::Relay;
use relay::config::Config;
use relay::queue::{EmbeddedQueue, LedgerKey, NewJob, Queue};
use serde_json::Value;

fn conversion(i: usize) -> Value {
    relay::demo::conversion_event(&format!("tp-{i}"), chrono::Utc::now().timestamp_millis())
}

fn job(i: usize) -> NewJob {
    NewJob {
        key: LedgerKey {
            instance: "bench".into(),
            action: "streamConversion".into(),
            message_id: format!("tp-{i}"),
        },
        sub: 0,
        event: conversion(i).to_string(),
        accepted_ms: 0,
        due_ms: 0,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);

    // 1. Accepts into the store: one event per call, 256 callers at once (group commits).
    let dir = tempfile::tempdir()?;
    let q = Arc::new(EmbeddedQueue::open(
        dir.path(),
        Duration::from_secs(86_400),
        Arc::new(|| 0),
    )?);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..256 {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                q.enqueue(vec![job(i)]).await?;
                i += 256;
            }
            Ok::<_, relay::queue::StoreError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "accept, one event per call, 256 concurrent callers: {n} events in {secs:.2} s = {:.0} events/s (each durable on return), {} commits",
        n as f64 / secs,
        q.commits()
    );
    // The same, in chunks of 500 per call (NDJSON input does this).
    let dir2 = tempfile::tempdir()?;
    let q2 = EmbeddedQueue::open(dir2.path(), Duration::from_secs(86_400), Arc::new(|| 0))?;
    let start = Instant::now();
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(500) {
        q2.enqueue(chunk.iter().map(|i| job(*i)).collect()).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "accept, chunks of 500: {n} events in {secs:.2} s = {:.0} events/s",
        n as f64 / secs
    );
    drop(q2);

    // 2. End to end: accept and deliver to the simulator (no faults), batches of 200.
    let sim = LinkedInSim::start(SimConfig::default()).await?;
    let dir3 = tempfile::tempdir()?;
    let text = relay::demo::conversions_config(
        &dir3.path().display().to_string(),
        "",
        &sim.base_url(),
        32,
    );
    let config = Config::parse_with_env(&text, "throughput.toml", &|_| None)?;
    let relay = Relay::from_config(config).await?;
    let start = Instant::now();
    let events: Vec<_> = (0..n).map(|i| Ok(conversion(i))).collect();
    for chunk in events.chunks(1000) {
        relay.accept_all(chunk.to_vec()).await?;
    }
    let summary = relay.run_until_idle().await?;
    let secs = start.elapsed().as_secs_f64();
    let delivered = summary.instances[0].counters.delivered;
    println!(
        "end to end (accept + deliver, batches of 200): {delivered} events in {secs:.2} s = {:.0} events/s; the simulator counted {}",
        delivered as f64 / secs,
        sim.dedup_counts().conversion_events.len()
    );
    relay.shutdown().await;
    sim.shutdown().await;
    Ok(())
}
