//! Throughput from the HTTP ingest to the simulator's acknowledgement (not a timed test): N
//! conversions sent Segment-style (`POST /v1/batch`, 100 events a call, 8 clients at once) to
//! `relay`'s ingest, delivered to the LinkedIn simulator without faults; the clock stops when
//! every event is acknowledged by the simulator. Once with batching on (the default) and once
//! with `batch = false`.
//!
//! `/usr/bin/time -v cargo run --release -p relay --example ingest_throughput [EVENTS] [batch|single]`

use std::sync::Arc;
use std::time::Instant;

use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
use relay::Relay;
use relay::config::Config;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let mode = args.next().unwrap_or_else(|| "batch".into());
    let batch = match mode.as_str() {
        "batch" => "batch = { linger = \"20ms\" }",
        "single" => "batch = false",
        other => return Err(format!("mode {other:?}: batch or single").into()),
    };
    let sim = LinkedInSim::start(SimConfig::default()).await?;
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store").display().to_string();
    let destination = relay::demo::conversions_destination(&sim.base_url(), 32).replacen(
        "max_in_flight = 32",
        &format!("max_in_flight = 32\n{batch}"),
        1,
    );
    let text = format!(
        "[store]\npath = \"{store}\"\n[ingest]\nlisten = \"127.0.0.1:0\"\nwrite_keys = [\"{}\"]\n{destination}",
        relay::demo::DEMO_WRITE_KEY
    );
    let config = Config::parse_with_env(&text, "ingest-throughput.toml", &|_| None)?;
    let ingest = config.ingest.clone().ok_or("no [ingest]")?;
    let relay = Arc::new(Relay::builder(config).jitter_seed(1).build().await?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let host = format!("http://{}", listener.local_addr()?);
    let server = {
        let relay = relay.clone();
        tokio::spawn(async move {
            relay::ingest::serve(relay, &ingest, listener, std::future::pending()).await
        })
    };
    let now = chrono::Utc::now().timestamp_millis();
    let clients = 8;
    let started = Instant::now();
    let mut sends = Vec::new();
    for c in 0..clients {
        let host = host.clone();
        sends.push(tokio::spawn(async move {
            let events = (c..n)
                .step_by(clients)
                .map(move |i| relay::demo::conversion_event(&format!("it-{i}"), now));
            relay::demo::send_like_a_segment_client(&host, events).await
        }));
    }
    for s in sends {
        s.await??;
    }
    let accepted = started.elapsed();
    let summary = relay.run_until_idle().await?;
    let delivered = started.elapsed();
    relay.shutdown().await;
    server.abort();
    let arrived = sim.dedup_counts().conversion_events.len();
    println!(
        "{mode}: {n} events through POST /v1/batch ({clients} clients): all acknowledged by relay \
         (durable) after {:.2} s ({:.0} events/s); all acknowledged by the simulator after {:.2} s \
         ({:.0} events/s); the simulator holds {arrived}",
        accepted.as_secs_f64(),
        n as f64 / accepted.as_secs_f64(),
        delivered.as_secs_f64(),
        n as f64 / delivered.as_secs_f64(),
    );
    if summary.instances[0].counters.delivered != n as u64 || arrived != n {
        return Err(format!("not every event arrived:\n{}", summary.table()).into());
    }
    Ok(())
}
