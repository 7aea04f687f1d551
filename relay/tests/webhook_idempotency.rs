//! relay against the webhook destination over real HTTP: the `Idempotency-Key` the destination
//! declares is the same on every attempt of an event — within one process and after a restart —
//! so the receiver can drop the duplicates a retry may cause.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use relay::Relay;
use relay::config::Config;
use serde_json::{Value, json};

/// What the receiver saw: (Idempotency-Key, the body's messageId) per request.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A receiver that answers 503 (with `Retry-After: {retry_after}`) to the first `failures`
/// requests, then 200.
async fn receiver(failures: usize, retry_after: &'static str) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            post(
                move |State(seen): State<Seen>, headers: HeaderMap, body: axum::body::Bytes| async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let id = body["messageId"].as_str().unwrap_or_default().to_string();
                    let mut seen = seen.lock().unwrap();
                    seen.push((key, id));
                    if seen.len() <= failures {
                        (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", retry_after)])
                    } else {
                        (StatusCode::OK, [("retry-after", "0")])
                    }
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

fn config(store: &std::path::Path, url: &str) -> Config {
    // Plain http only to loopback through an origin override (core's transport rule).
    let local = url.trim_end_matches("/hook");
    let text = format!(
        r#"
[store]
path = "{}"

[retry]
initial_backoff = "10ms"
max_backoff = "50ms"

[[destinations]]
id = "hook"
slug = "webhook"
origins = {{ "https://hook.example" = "{local}" }}
[destinations.settings]
sharedSecret = "whsec-test"
[[destinations.subscriptions]]
partnerAction = "send"
subscribe = 'type = "track"'
mapping = {{ url = "https://hook.example/hook" }}
"#,
        store.display()
    );
    Config::parse_with_env(&text, "webhook.toml", &|_| None).unwrap()
}

fn track(id: &str) -> Value {
    json!({"type": "track", "event": "Order Completed", "messageId": id, "properties": {"total": 42}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_of_an_event_carries_the_same_idempotency_key() {
    let (url, seen) = receiver(2, "0").await;
    let dir = tempfile::tempdir().unwrap();
    let r = Relay::builder(config(dir.path(), &url))
        .jitter_seed(3)
        .build()
        .await
        .unwrap();
    r.accept(track("evt-1")).await.unwrap();
    let s = r.run_until_idle().await.unwrap();
    assert_eq!(s.instances[0].counters.delivered, 1, "{s:?}");
    r.accept(track("evt-2")).await.unwrap();
    r.run_until_idle().await.unwrap();
    r.shutdown().await;

    let seen = seen.lock().unwrap().clone();
    let ids: Vec<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["evt-1", "evt-1", "evt-1", "evt-2"],
        "two 503s, then 200s"
    );
    let expected = webhook::api::idempotency_key("evt-1");
    for (key, _) in &seen[..3] {
        assert_eq!(key, &expected);
    }
    assert_ne!(seen[3].0, expected, "another event, another key");
    assert_eq!(seen[3].0, webhook::api::idempotency_key("evt-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idempotency_key_survives_a_restart() {
    let (url, seen) = receiver(1, "1").await;
    let dir = tempfile::tempdir().unwrap();
    let r = Relay::builder(config(dir.path(), &url))
        .build()
        .await
        .unwrap();
    r.accept(track("evt-r")).await.unwrap();
    // The first attempt is answered 503 with `Retry-After: 1`; stop before the retry is due.
    while seen.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    r.shutdown().await;
    drop(r);
    assert_eq!(seen.lock().unwrap().len(), 1, "no retry before the restart");

    // Another process on the same store sends the retry, with the same key.
    let r = Relay::builder(config(dir.path(), &url))
        .build()
        .await
        .unwrap();
    let s = r.run_until_idle().await.unwrap();
    assert_eq!(s.instances[0].counters.delivered, 1, "{s:?}");
    r.shutdown().await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], seen[1], "same event, same key, across processes");
    assert_eq!(seen[0].0, webhook::api::idempotency_key("evt-r"));
}
