//! Embedding relay in an event pipeline: events arrive on a channel, `accept` returns once each
//! is durable, delivery runs in the background, `run_until_idle` waits for the last one.
//!
//! Runs offline against testkit's LinkedIn simulator:
//! `cargo run -p relay --example embed`

use std::time::Duration;

use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
use relay::Relay;
use relay::config::Config;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = LinkedInSim::start(SimConfig::default()).await?;
    let store = tempfile::tempdir()?;
    let base = sim.base_url();
    let config = Config::parse_with_env(
        &format!(
            r#"
[store]
path = "{}"

[[destinations]]
id = "li-conv"
slug = "linkedin-conversions"
origins = {{ "https://api.linkedin.com" = "{base}", "https://www.linkedin.com" = "{base}" }}
[destinations.settings]
oauth = {{ access_token = "sim-access-token", refresh_token = "sim-refresh-token" }}
[[destinations.subscriptions]]
partnerAction = "streamConversion"
mapping = {{ onMappingSave = {{ outputs = {{ id = "9001" }} }} }}
"#,
            store.path().display()
        ),
        "embed.toml",
        &|name| std::env::var(name).ok(),
    )?;
    let relay = Relay::from_config(config).await?;

    // The pipeline: a producer sends events; relay takes each one durably.
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        for i in 0..100 {
            let at = chrono::Utc::now() - chrono::Duration::minutes(5);
            let event = json!({
                "type": "track", "event": "Order Completed", "messageId": format!("embed-{i}"),
                "timestamp": at.to_rfc3339(), "traits": {"email": format!("e{i}@example.com")},
                "properties": {"revenue": 5, "currency": "USD"}
            });
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
