//! Rate limits: the adaptive factor over the configured limit (paused time, scripted
//! destination), the daily-quota pause, and — against a real HTTP partner that sends
//! `X-RateLimit-*` on every answer — the pause before the wall and the 10% warning.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{calls, fail, fail_with, script};
use relay::config::Config;
use relay::{Relay, TokioClock};
use serde_json::json;

fn scripted(store: &std::path::Path, script: &str, dest: &str, retry: &str) -> Config {
    let dest = format!("max_in_flight = 1\n{dest}");
    common::scripted_config(
        store,
        script,
        "send",
        common::Parts {
            retry,
            dest: &dest,
            ..Default::default()
        },
    )
}

fn track(id: &str) -> serde_json::Value {
    json!({"type": "track", "event": "Order Completed", "userId": "u", "messageId": id})
}

#[tokio::test(start_paused = true)]
async fn the_adaptive_factor_drops_on_a_429_burst_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    // A burst: the first three requests answer 429 (each after the pause of the one before),
    // then everything delivers.
    for id in ["e0", "e1", "e2"] {
        script("adaptive", id, vec![fail_with(429, "retry-after", "1")]);
    }
    let r = common::relay(scripted(
        dir.path(),
        "adaptive",
        "rate_limit = { per_second = 10, burst = 1 }",
        "",
    ))
    .await;
    let n = 40;
    r.accept_all((0..n).map(|i| Ok(track(&format!("e{i}")))).collect())
        .await
        .unwrap();
    let s = r.run_until_idle().await.unwrap();
    assert_eq!(s.instances[0].counters.delivered, n as u64);
    assert_eq!(s.instances[0].counters.rate_limit_pauses, 3);
    // Recovered: a step per delivered request.
    assert_eq!(r.rate("dest").unwrap().factor, 1.0);
    let c = calls("adaptive");
    let times: Vec<_> = c.iter().map(|c| c.0).collect();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // At 1/8 of 10 requests/s the first requests after the burst are 800 ms apart; at the end,
    // back at the configured rate, 100 ms.
    assert!(gaps[3] >= Duration::from_millis(790), "{gaps:?}");
    assert!(
        gaps.last().unwrap() <= &Duration::from_millis(101),
        "{gaps:?}"
    );
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(99)),
        "never above the limit: {gaps:?}"
    );
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_persistent_429_without_hints_pauses_until_the_next_utc_midnight() {
    let dir = tempfile::tempdir().unwrap();
    script("daily", "d1", (0..4).map(|_| fail(429)).collect());
    // 22:00:00 UTC.
    let start_ms: i64 = 1_767_304_800_000;
    let midnight_ms = start_ms + 2 * 3600 * 1000;
    let r = common::builder(scripted(
        dir.path(),
        "daily",
        "",
        "initial_backoff = \"1s\"\nmax_backoff = \"4s\"",
    ))
    .clock(Arc::new(TokioClock::at(start_ms)))
    .build()
    .await
    .unwrap();
    let t0 = tokio::time::Instant::now();
    r.accept(track("d1")).await.unwrap();
    // (No polling during the run: the store writes on its own thread, and a test timer would
    // move paused time while the engine waits for it.)
    let s = r.run_until_idle().await.unwrap();
    // Pauses of 1 s, 2 s and 4 s (= max_backoff); the 429 after that is a daily quota.
    let state = r.queue().instance_state("dest").await.unwrap().unwrap();
    assert_eq!(state.paused_until_ms, Some(midnight_ms));
    let reason = state.pause_reason.unwrap();
    assert!(
        reason.starts_with("quota exhausted until 2026-01-02T00:00:00.000Z"),
        "{reason}"
    );
    assert_eq!(s.instances[0].counters.delivered, 1);
    let c = calls("daily");
    assert_eq!(c.len(), 5);
    let at_ms = |i: usize| start_ms + (c[i].0 - t0).as_millis() as i64;
    assert_eq!(at_ms(1) - at_ms(0), 1000);
    assert_eq!(at_ms(2) - at_ms(1), 2000);
    assert_eq!(at_ms(3) - at_ms(2), 4000);
    assert!(
        at_ms(4) >= midnight_ms && at_ms(4) < midnight_ms + 1000,
        "the fifth attempt at {} (midnight {midnight_ms})",
        at_ms(4)
    );
    r.shutdown().await;
}

/// A partner with a fixed-window quota that states it on every answer, and answers 429 to a
/// request beyond it (a hit on the wall).
#[derive(Default)]
struct Window {
    start: Option<tokio::time::Instant>,
    used: u32,
    served: u32,
    walls: u32,
}

const BUDGET: u32 = 20;
const WINDOW: Duration = Duration::from_millis(500);

async fn partner() -> (String, Arc<Mutex<Window>>) {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let state = Arc::new(Mutex::new(Window::default()));
    let s = state.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let s = s.clone();
            async move {
                let mut w = s.lock().unwrap();
                let now = tokio::time::Instant::now();
                let start = *w.start.get_or_insert(now);
                let elapsed = now - start;
                let windows = (elapsed.as_millis() / WINDOW.as_millis()) as u32;
                let window_start = start + WINDOW * windows;
                if windows > 0 && window_start > start {
                    w.start = Some(window_start);
                    w.used = 0;
                }
                let reset = (window_start + WINDOW - now).as_secs_f64().ceil().max(1.0) as u64;
                let status = if w.used >= BUDGET {
                    w.walls += 1;
                    StatusCode::TOO_MANY_REQUESTS
                } else {
                    w.used += 1;
                    w.served += 1;
                    StatusCode::OK
                };
                let remaining = BUDGET - w.used;
                (
                    status,
                    [
                        ("x-ratelimit-limit", BUDGET.to_string()),
                        ("x-ratelimit-remaining", remaining.to_string()),
                        ("x-ratelimit-reset", reset.to_string()),
                    ],
                    "{}",
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_ratelimit_remaining_zero_pauses_before_the_wall_and_warns_below_ten_percent() {
    let (base, window) = partner().await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[store]
path = "{}"
[[destinations]]
id = "hook"
slug = "webhook"
max_in_flight = 1
batch = false
origins = {{ "https://hook.example" = "{base}" }}
[[destinations.subscriptions]]
partnerAction = "send"
subscribe = 'type = "track"'
mapping = {{ url = "https://hook.example/hook" }}
"#,
        dir.path().display()
    );
    let config = Config::parse_with_env(&text, "hook.toml", &|_| None).unwrap();
    let r = Relay::builder(config).jitter_seed(5).build().await.unwrap();
    let n = 45;
    r.accept_all((0..n).map(|i| Ok(track(&format!("w{i}")))).collect())
        .await
        .unwrap();
    let s = r.run_until_idle().await.unwrap();
    r.shutdown().await;
    let c = &s.instances[0].counters;
    let w = window.lock().unwrap();
    assert_eq!(c.delivered, n as u64, "{}", s.table());
    assert_eq!(w.walls, 0, "relay sent into the wall: {}", s.table());
    assert_eq!(w.served, n as u32);
    // 45 requests with 20 per window: at least two pauses, each before the wall.
    assert!(c.rate_limit_pauses >= 2, "{}", s.table());
    assert!(c.quota_warnings >= 2, "{}", s.table());
    assert!(c.retried.is_empty(), "{c:?}");
}
