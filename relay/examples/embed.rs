//! Embedding relay in an event pipeline: events arrive on a channel, `accept` returns once each
//! is durable, delivery runs in the background, `run_until_idle` waits for the last one.
//!
//! Runs offline against testkit's LinkedIn simulator:
//! `cargo run -p relay --example embed`

use std::time::Duration;

use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
use relay::Relay;
use relay::config::Config;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = LinkedInSim::start(SimConfig::default()).await?;
    let store = tempfile::tempdir()?;
    // The conversions instance of the demo, pointed at the simulator.
    let text = relay::demo::conversions_config(
        &store.path().display().to_string(),
        "",
        &sim.base_url(),
        16,
    );
    let config = Config::parse_with_env(&text, "embed.toml", &|name| std::env::var(name).ok())?;
    let relay = Relay::from_config(config).await?;

    // The pipeline: a producer sends events; relay takes each one durably.
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        for i in 0..100 {
            let now = chrono::Utc::now().timestamp_millis();
            let event = relay::demo::conversion_event(&format!("embed-{i}"), now);
            if tx.send(event).await.is_err() {
                break;
            }
        }
    });
    while let Some(event) = rx.recv().await {
        let accepted = relay.accept(event).await?;
        if accepted.not_subscribed() {
            eprintln!("{} matched no subscription", accepted.message_id);
        }
    }
    let summary = tokio::time::timeout(Duration::from_secs(60), relay.run_until_idle()).await??;
    print!("{}", summary.table());
    relay.shutdown().await;
    println!(
        "the simulator received {} conversions",
        sim.dedup_counts().conversion_events.len()
    );
    sim.shutdown().await;
    Ok(())
}
