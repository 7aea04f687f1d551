//! A real Segment client (`@segment/analytics-node`, installed from the npm registry into a
//! temporary folder) pointed at relay's HTTP ingest with `host`: its track and identify calls
//! reach the LinkedIn simulator through relay.
//!
//! Needs node and npm. With `CI` set their absence is a failure; otherwise the test prints why
//! it skips.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
use relay::Relay;
use relay::config::Config;

/// `@segment/analytics-node`'s major version the test installs.
const PACKAGE: &str = "@segment/analytics-node@3";
const TRACKS: usize = 25;
const IDENTIFIES: usize = 5;

fn tool_or_skip(tool: &str) -> bool {
    match Command::new(tool).arg("--version").output() {
        Ok(o) if o.status.success() => true,
        other => {
            let why = match other {
                Ok(o) => format!("`{tool} --version` exited with {}", o.status),
                Err(e) => format!("`{tool}` cannot be run: {e}"),
            };
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but {why}: .ci/run installs node and npm"
            );
            eprintln!("SKIPPED a_real_segment_client_delivers_through_relay: {why}");
            false
        }
    }
}

fn config(store: &Path, base: &str) -> Config {
    let text = format!(
        r#"
[store]
path = "{store}"

[ingest]
listen = "127.0.0.1:0"
write_keys = ["wk-node"]

[[destinations]]
id = "li-conv"
slug = "linkedin-conversions"
origins = {{ "https://api.linkedin.com" = "{base}", "https://www.linkedin.com" = "{base}" }}
batch = {{ linger = "50ms" }}
[destinations.settings]
oauth = {{ access_token = "sim-access-token", refresh_token = "sim-refresh-token" }}
[[destinations.subscriptions]]
partnerAction = "streamConversion"
subscribe = 'type = "track" and event = "Order Completed"'
mapping = {{ onMappingSave = {{ outputs = {{ id = "9001" }} }}, email = {{ "@path" = "$.context.traits.email" }} }}

{audiences}"#,
        store = store.display(),
        audiences = relay::demo::audiences_destination(base, "subscribe = 'type = \"identify\"'"),
    );
    Config::parse_with_env(&text, "segment-client.toml", &|_| None).unwrap()
}

const SCRIPT: &str = r#"
const { Analytics } = require('@segment/analytics-node');
const analytics = new Analytics({
  writeKey: process.env.WRITE_KEY,
  host: process.env.RELAY_HOST,
  flushAt: 10,
  flushInterval: 100,
});
const failures = [];
analytics.on('error', (e) => failures.push(String(e && (e.reason || e.message || e))));
const tracks = Number(process.env.TRACKS), identifies = Number(process.env.IDENTIFIES);
for (let i = 0; i < tracks; i++) {
  analytics.track({
    userId: `node-user-${i}`,
    messageId: `node-track-${i}`,
    event: 'Order Completed',
    properties: { revenue: 10 + i, currency: 'USD' },
    context: { traits: { email: `node${i}@example.com` } },
  });
}
for (let i = 0; i < identifies; i++) {
  analytics.identify({
    userId: `node-member-${i}`,
    messageId: `node-identify-${i}`,
    traits: { email: `member${i}@example.com`, li_node_audience: true },
    context: { personas: { computation_key: 'li_node_audience', computation_class: 'audience' } },
  });
}
analytics.closeAndFlush({ timeout: 20000 }).then(() => {
  if (failures.length) { console.error('failures: ' + failures.join('; ')); process.exit(2); }
  console.log('flushed');
});
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_segment_client_delivers_through_relay() {
    if !tool_or_skip("node") || !tool_or_skip("npm") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let client = dir.path().join("client");
    std::fs::create_dir_all(&client).unwrap();
    let install = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            PACKAGE,
        ])
        .current_dir(&client)
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "npm install {PACKAGE} failed: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    std::fs::write(client.join("send.js"), SCRIPT).unwrap();

    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    let config = config(&dir.path().join("store"), &sim.base_url());
    let ingest = config.ingest.clone().unwrap();
    let relay = Arc::new(Relay::builder(config).jitter_seed(3).build().await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let r = relay.clone();
    let server = tokio::spawn(async move {
        relay::ingest::serve(r, &ingest, listener, async move {
            let _ = stopped.await;
        })
        .await
    });

    let out = tokio::process::Command::new("node")
        .arg("send.js")
        .current_dir(&client)
        .env("WRITE_KEY", "wk-node")
        .env("RELAY_HOST", &host)
        .env("TRACKS", TRACKS.to_string())
        .env("IDENTIFIES", IDENTIFIES.to_string())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the Segment client failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let summary = relay.run_until_idle().await.unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    relay.shutdown().await;
    let by_id = |id: &str| {
        summary
            .instances
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.counters.clone())
            .unwrap()
    };
    let (conv, aud) = (by_id("li-conv"), by_id("li-aud"));
    assert_eq!(conv.delivered, TRACKS as u64, "{}", summary.table());
    assert_eq!(aud.delivered, IDENTIFIES as u64, "{}", summary.table());
    let dedup = sim.dedup_counts();
    for i in 0..TRACKS {
        assert_eq!(dedup.event(&format!("node-track-{i}")), 1, "node-track-{i}");
    }
    let members: Vec<u32> = dedup
        .members
        .values()
        .flat_map(|m| m.values().map(|d| d.total()))
        .collect();
    assert_eq!(members, vec![1; IDENTIFIES], "{:?}", dedup.members);
}
