//! The HTTP ingest, over a real socket, with the scripted destination: write keys, size limits,
//! malformed bodies, the batch endpoint with mixed events, back-pressure, /health and /metrics.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::{calls, fail, script};
use relay::Relay;
use relay::config::Config;
use serde_json::{Value, json};

fn config(store: &std::path::Path, script: &str, ingest: &str, retry: &str) -> Config {
    let top = format!(
        "[ingest]\nlisten = \"127.0.0.1:0\"\nwrite_keys = [\"wk-right\", \"${{OTHER_KEY}}\"]\n{ingest}"
    );
    common::scripted_config(
        store,
        script,
        "send",
        common::Parts {
            retry,
            top: &top,
            dest: "max_in_flight = 4",
            ..Default::default()
        },
    )
}

struct Server {
    relay: Arc<Relay>,
    base: String,
    http: reqwest::Client,
}

async fn start(config: Config) -> Server {
    let ingest = config.ingest.clone().unwrap();
    let relay = Arc::new(common::builder(config).build().await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let r = relay.clone();
    tokio::spawn(async move {
        relay::ingest::serve(r, &ingest, listener, std::future::pending())
            .await
            .unwrap()
    });
    Server {
        relay,
        base,
        http: reqwest::Client::new(),
    }
}

impl Server {
    async fn post(
        &self,
        path: &str,
        key: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut rb = self.http.post(format!("{}{path}", self.base)).body(body);
        if let Some(k) = key {
            rb = rb.basic_auth(k, Some(""));
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let v = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, v, headers)
    }

    /// POSTs a gzip-compressed body to `/v1/batch`; the status.
    async fn post_gzip(&self, packed: Vec<u8>) -> u16 {
        self.http
            .post(format!("{}/v1/batch", self.base))
            .basic_auth("wk-right", Some(""))
            .header("content-encoding", "gzip")
            .body(packed)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn get(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

fn track(id: &str) -> Value {
    json!({"type": "track", "event": "Order Completed", "userId": "u1", "messageId": id})
}

#[tokio::test]
async fn write_keys_right_wrong_and_missing() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(config(dir.path(), "ing-auth", "", "")).await;
    let body = |id: &str| track(id).to_string();
    let (st, v, _) = s.post("/v1/track", Some("wk-right"), body("a1")).await;
    assert_eq!((st, v), (200, json!({"success": true})));
    // The second key comes from the environment; `writeKey` in the body is accepted too.
    let (st, _, _) = s.post("/v1/track", Some("wk-second"), body("a2")).await;
    assert_eq!(st, 200);
    let mut in_body = track("a3");
    in_body["writeKey"] = json!("wk-right");
    let (st, _, _) = s.post("/v1/t", None, in_body.to_string()).await;
    assert_eq!(st, 200);

    let (st, v, h) = s.post("/v1/track", Some("wk-righ"), body("w1")).await;
    assert_eq!(st, 401);
    assert_eq!(v["success"], false);
    assert!(
        v["message"].as_str().unwrap().contains("unknown write key"),
        "{v}"
    );
    assert!(h.get("www-authenticate").is_some());
    let mut wrong_in_body = track("w2");
    wrong_in_body["writeKey"] = json!("wk-right-but-longer");
    assert_eq!(
        s.post("/v1/track", None, wrong_in_body.to_string()).await.0,
        401
    );
    let (st, v, _) = s.post("/v1/track", None, body("w3")).await;
    assert_eq!(st, 401);
    assert!(
        v["message"].as_str().unwrap().contains("no write key"),
        "{v}"
    );

    let summary = s.relay.run_until_idle().await.unwrap();
    let c = &summary.instances[0].counters;
    assert_eq!((c.accepted, c.delivered), (3, 3), "{c:?}");
    let mut sent: Vec<String> = calls("ing-auth").into_iter().flat_map(|c| c.1).collect();
    sent.sort();
    assert_eq!(sent, ["a1", "a2", "a3"]);
    // The stored event: the route's type, no write key, a receivedAt.
    let metrics = s.get("/metrics").await;
    assert!(
        metrics.contains("relay_ingest_rejected_total{reason=\"unauthorized\"} 3"),
        "{metrics}"
    );
    s.relay.shutdown().await;
}

#[tokio::test]
async fn size_limits_gzip_and_malformed_bodies_answer_400_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(config(
        dir.path(),
        "ing-size",
        "max_body = \"4KB\"\nmax_event = \"1KB\"",
        "",
    ))
    .await;
    let k = Some("wk-right");
    // An event over max_event.
    let mut big = track("big");
    big["properties"] = json!({"note": "x".repeat(1500)});
    let (st, v, _) = s.post("/v1/track", k, big.to_string()).await;
    assert_eq!(st, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("max_event"), "{v}");
    // A body over max_body.
    let huge = json!({"batch": (0..40).map(|i| track(&format!("h{i}"))).collect::<Vec<_>>(),
        "pad": "y".repeat(4000)});
    let (st, v, _) = s.post("/v1/batch", k, huge.to_string()).await;
    assert_eq!(st, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("max_body"), "{v}");
    // gzip: a small compressed body is read …
    let gz = |text: &str| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let packed = gz(&json!({"batch": [track("g1"), track("g2")]}).to_string());
    assert_eq!(s.post_gzip(packed).await, 200);
    // … and one that inflates past max_body is refused (a small request, a big body).
    let bomb = gz(&format!("{{\"pad\": \"{}\"}}", " ".repeat(100_000)));
    assert!(bomb.len() < 4096);
    assert_eq!(s.post_gzip(bomb).await, 400);
    // Malformed: not JSON, not an object, a track without `event`, a batch without `batch`.
    for (path, body, needle) in [
        ("/v1/track", "{\"event\": ", "not valid JSON"),
        ("/v1/identify", "[1, 2]", "JSON object"),
        ("/v1/track", "{\"userId\": \"u\"}", "`event`"),
        ("/v1/identify", "{\"traits\": {}}", "anonymousId"),
        ("/v1/batch", "{\"events\": []}", "`batch`"),
    ] {
        let (st, v, _) = s.post(path, k, body.to_string()).await;
        assert_eq!(st, 400, "{path} {body}: {v}");
        assert_eq!(v["success"], false);
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{path} {body}: {v}"
        );
    }
    let summary = s.relay.run_until_idle().await.unwrap();
    let c = &summary.instances[0].counters;
    assert_eq!((c.accepted, c.delivered), (2, 2), "only g1 and g2: {c:?}");
    s.relay.shutdown().await;
}

#[tokio::test]
async fn a_batch_with_invalid_events_accepts_the_valid_ones_and_dead_letters_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(config(dir.path(), "ing-mixed", "", "")).await;
    let body = json!({
        "batch": [
            {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "b0"},
            {"type": "track", "userId": "u1", "messageId": "b1"},
            {"type": "identify", "anonymousId": "an-1", "messageId": "b2"},
            "not an event",
            {"type": "teleport", "userId": "u1", "messageId": "b4"},
            {"type": "track", "event": "Order Completed", "anonymousId": "an-2", "messageId": "b5",
             "context": {"ip": "1.2.3.4"}}
        ],
        "context": {"library": {"name": "analytics-node"}, "ip": "9.9.9.9"},
        "sentAt": "2026-01-01T00:00:00.000Z",
        "writeKey": "wk-right"
    });
    let (st, v, _) = s.post("/v1/batch", None, body.to_string()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], true);
    let rejected: Vec<u64> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(rejected, [1, 3, 4], "{v}");
    let summary = s.relay.run_until_idle().await.unwrap();
    // b0 and b5 are tracks (subscribed); b2 is an identify (accepted, not subscribed).
    assert_eq!(summary.instances[0].counters.delivered, 2);
    assert_eq!(summary.not_subscribed, 1);
    assert_eq!(summary.invalid, 3);
    let dead = s.relay.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 3);
    assert!(dead.iter().all(|d| d.category == "invalid input"));
    assert!(
        dead.iter()
            .any(|d| d.reason.contains("batch[1]") && d.reason.contains("`event`"))
    );
    assert!(
        dead.iter()
            .any(|d| d.reason.contains("batch[4]") && d.reason.contains("teleport"))
    );
    // Batch-level context is merged under the event's own.
    let ledger = s
        .relay
        .queue()
        .ledger(&relay::queue::LedgerKey {
            instance: "dest".into(),
            action: "send".into(),
            message_id: "b5".into(),
        })
        .await
        .unwrap();
    assert!(ledger.is_some());
    s.relay.shutdown().await;
}

#[tokio::test]
async fn over_the_queue_depth_the_ingest_answers_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    // q1 fails and waits an hour: the queue holds one job.
    script("ing-bp", "q1", vec![fail(503)]);
    let s = start(config(
        dir.path(),
        "ing-bp",
        "max_queue_depth = 0\nbackpressure_retry_after = \"7s\"",
        "initial_backoff = \"1h\"\nmax_backoff = \"1h\"",
    ))
    .await;
    let k = Some("wk-right");
    assert_eq!(s.post("/v1/track", k, track("q1").to_string()).await.0, 200);
    let (st, v, h) = s.post("/v1/track", k, track("q2").to_string()).await;
    assert_eq!(st, 429, "{v}");
    assert_eq!(h.get("retry-after").unwrap(), "7");
    assert!(
        v["message"].as_str().unwrap().contains("max_queue_depth"),
        "{v}"
    );
    let health: Value = serde_json::from_str(&s.get("/health").await).unwrap();
    assert_eq!(health, json!({"status": "ok", "queue_depth": 1}));
    let c = &s.relay.counters()["dest"];
    assert_eq!(c.accepted, 1, "the refused event was not taken: {c:?}");
    s.relay.shutdown().await;
}

#[tokio::test]
async fn metrics_show_every_family() {
    let dir = tempfile::tempdir().unwrap();
    script("ing-metrics", "m2", vec![limited_with_quota_headers()]);
    script("ing-metrics", "m3", vec![fail(400)]);
    let s = start(config(
        dir.path(),
        "ing-metrics",
        "",
        "initial_backoff = \"10ms\"\nmax_backoff = \"50ms\"",
    ))
    .await;
    let k = Some("wk-right");
    for id in ["m1", "m2", "m3"] {
        assert_eq!(s.post("/v1/track", k, track(id).to_string()).await.0, 200);
    }
    s.post("/v1/track", Some("nope"), track("m4").to_string())
        .await;
    s.relay.run_until_idle().await.unwrap();
    let text = s.get("/metrics").await;
    for family in [
        "relay_ingest_received_total 3",
        "relay_ingest_rejected_total{reason=\"unauthorized\"} 1",
        "relay_accepted_total{instance=\"dest\"} 3",
        "relay_delivered_total{instance=\"dest\"} 2",
        "relay_retried_total{instance=\"dest\",reason=\"429 rate limited\"} 1",
        "relay_dead_lettered_total{instance=\"dest\",reason=\"permanent 400\"} 1",
        "relay_queue_depth{instance=\"dest\"} 0",
        "relay_oldest_event_age_seconds{instance=\"dest\"} 0",
        "relay_rate_limit_pauses_total{instance=\"dest\"} 1",
        "relay_rate_limit_factor{instance=\"dest\"} 0.5",
        "relay_rate_limit_remaining{instance=\"dest\"} 0",
        "relay_rate_limit_low{instance=\"dest\"} 1",
        "relay_token_refreshes_total{instance=\"dest\"} 0",
        "relay_request_duration_seconds_count{instance=\"dest\",action=\"send\"} 4",
        "# HELP relay_queue_depth",
    ] {
        assert!(text.contains(family), "missing {family:?} in\n{text}");
    }
    s.relay.shutdown().await;
}

/// A 429 with the partner's quota headers.
fn limited_with_quota_headers() -> common::Answer {
    common::Answer::Fail {
        status: 429,
        headers: vec![
            ("retry-after".into(), "0".into()),
            ("x-ratelimit-limit".into(), "100".into()),
            ("x-ratelimit-remaining".into(), "0".into()),
        ],
        body: String::new(),
    }
}
