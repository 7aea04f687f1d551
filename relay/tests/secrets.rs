//! Secret hygiene of relay's paths: marker secrets (the ingest write key, the webhook's signing
//! secret, a bearer token in the webhook's headers) run through ingest, delivery, a permanent
//! failure and the dead-letter store, with tracing at TRACE captured; then the logs, the ingest's
//! answers, `/health`, `/metrics`, the dead letters, the summary, `relay status` and `relay dlq`
//! are scanned for them. Also: the ingest needs the write key, `/health` and `/metrics` carry no
//! event data, and the store file is readable by its owner only.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use axum::routing::post;
use relay::Relay;
use relay::config::Config;
use serde_json::{Value, json};

const WRITE_KEY: &str = "wk-MARK-7a1d93e5";
const SHARED: &str = "whsec-MARK-2b8e41f0";
const BEARER: &str = "bearer-MARK-c90f12aa";
/// Event data that must not show in /health or /metrics.
const EVENT_DATA: &str = "ev-data-MARK-55aa01";
const MARKERS: [&str; 3] = [WRITE_KEY, SHARED, BEARER];

/// A tracing writer into a shared buffer.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

fn assert_clean(what: &str, text: &str) {
    for m in MARKERS {
        assert!(!text.contains(m), "{what} shows the secret {m}:\n{text}");
    }
}

/// A partner that refuses everything with 400 (a permanent failure: dead letters), echoing
/// nothing of the request.
async fn refusing_partner() -> String {
    let app = axum::Router::new().route(
        "/hook",
        post(|| async { (axum::http::StatusCode::BAD_REQUEST, "{\"error\":\"no\"}") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// `local`: the partner's loopback base, reached through an origin override (plain http is
/// allowed only that way).
fn config_text(store: &std::path::Path, local: &str) -> String {
    format!(
        r#"
[store]
path = "{store}"

[retry]
initial_backoff = "10ms"
max_backoff = "50ms"

[ingest]
listen = "127.0.0.1:0"
write_keys = ["{WRITE_KEY}"]

[[destinations]]
id = "hook"
slug = "webhook"
origins = {{ "https://hook.example" = "{local}" }}
[destinations.settings]
sharedSecret = "{SHARED}"
[[destinations.subscriptions]]
partnerAction = "send"
subscribe = 'type = "track"'
mapping = {{ url = "https://hook.example/hook", headers = {{ Authorization = "Bearer {BEARER}" }} }}
"#,
        store = store.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marker_secrets_never_leave_through_logs_answers_metrics_dead_letters_or_status() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    // The only test of this binary: the global subscriber sees every worker thread.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let url = refusing_partner().await;
    let text = config_text(&store, &url);
    let config_path = dir.path().join("relay.toml");
    std::fs::File::create(&config_path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let config = Config::parse_with_env(&text, "relay.toml", &|_| None).unwrap();
    assert_clean("the configuration's Debug", &format!("{config:?}"));
    let ingest = config.ingest.clone().unwrap();
    let relay = Arc::new(Relay::builder(config).jitter_seed(5).build().await.unwrap());

    // The store file is the owner's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut files = std::fs::read_dir(&store)
            .unwrap()
            .map(|e| e.unwrap().path());
        let file = files.find(|p| p.is_file()).expect("a store file");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", file.display());
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let r = relay.clone();
    tokio::spawn(async move {
        relay::ingest::serve(r, &ingest, listener, std::future::pending())
            .await
            .unwrap()
    });
    let http = reqwest::Client::new();
    let event = json!({"userId": "u1", "event": "Order Completed", "messageId": "m-1",
        "properties": {"note": EVENT_DATA}});
    let mut answers = String::new();
    // Without a key, with a wrong key, with a key in the body that is wrong, then right.
    for (key, body) in [
        (None, event.clone()),
        (Some("wk-wrong"), event.clone()),
        (None, {
            let mut e = event.clone();
            e["writeKey"] = json!("wk-MARK-7a1d93e"); // a prefix of the real key
            e
        }),
    ] {
        let mut rb = http.post(format!("{base}/v1/track")).json(&body);
        if let Some(k) = key {
            rb = rb.basic_auth(k, Some(""));
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "no or a wrong write key");
        answers.push_str(&resp.text().await.unwrap());
    }
    let resp = http
        .post(format!("{base}/v1/track"))
        .basic_auth(WRITE_KEY, Some(""))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    answers.push_str(&format!("{:?}", resp.headers()));
    answers.push_str(&resp.text().await.unwrap());
    let resp = http
        .post(format!("{base}/v1/batch"))
        .json(&json!({"writeKey": WRITE_KEY, "batch": [
            {"type": "track", "userId": "u2", "event": "E", "messageId": "m-2"},
            {"type": "nope", "userId": "u2", "writeKey": WRITE_KEY}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    answers.push_str(&resp.text().await.unwrap());

    let summary = relay.run_until_idle().await.unwrap();
    let dead = relay.dead_letters().await.unwrap();
    assert!(
        dead.iter().any(|d| d.last_status == Some(400)),
        "the partner's 400 dead-letters the events: {dead:?}"
    );
    let health = http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    relay.shutdown().await;

    assert_clean("the ingest's answers", &answers);
    assert_clean("/health", &health);
    assert_clean("/metrics", &metrics);
    for (what, text) in [("/health", &health), ("/metrics", &metrics)] {
        for data in [EVENT_DATA, "u1", "m-1", "Order Completed"] {
            assert!(
                !text.contains(data),
                "{what} carries event data {data:?}:\n{text}"
            );
        }
    }
    assert!(metrics.contains("relay_ingest_rejected_total"), "{metrics}");
    assert_clean("the summary", &format!("{summary:?}"));
    for d in &dead {
        assert_clean("a dead letter", &format!("{d:?}"));
        assert_clean("a dead letter's event", &d.event);
        assert_clean("a dead letter's reason", &d.reason);
        if let Some(r) = &d.last_response {
            assert_clean("a dead letter's response", r);
        }
    }
    let log = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(!log.is_empty(), "TRACE logging captured nothing");
    assert_clean("the TRACE log", &log);

    // The command line reads the same store.
    let bin = env!("CARGO_BIN_EXE_relay");
    for args in [vec!["status", "--config"], vec!["dlq", "list", "--config"]] {
        let out = std::process::Command::new(bin)
            .args(&args)
            .arg(&config_path)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "relay {args:?}: {text}");
        assert_clean(&format!("relay {}", args.join(" ")), &text);
    }
    for d in &dead {
        let out = std::process::Command::new(bin)
            .args(["dlq", "show", &d.id, "--config"])
            .arg(&config_path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "relay dlq show: {text}");
        assert_clean("relay dlq show", &text);
        let _: Option<Value> = serde_json::from_str(&text).ok();
    }
}
