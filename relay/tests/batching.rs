//! Batches leave on size, bytes and linger; per-user order holds across a retry (paused time,
//! scripted destination).

mod common;

use std::time::Duration;

use common::{calls, fail, script};
use relay::config::Config;
use serde_json::{Value, json};

fn config(store: &std::path::Path, script: &str, action: &str, dest: &str, sub: &str) -> Config {
    let dest = format!("max_in_flight = 4\n{dest}");
    common::scripted_config(
        store,
        script,
        action,
        common::Parts {
            retry: "initial_backoff = \"10s\"\nmax_backoff = \"10s\"",
            dest: &dest,
            sub,
            ..Default::default()
        },
    )
}

fn event(id: &str, user: &str) -> Value {
    json!({"type": "track", "event": "Order Completed", "userId": user, "messageId": id})
}

fn sizes(name: &str) -> Vec<usize> {
    calls(name).iter().map(|c| c.1.len()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_batch_leaves_when_full_and_the_rest_after_the_linger() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::relay(config(
        dir.path(),
        "b-size",
        "sendBatch",
        "batch = { size = 3, linger = \"1h\" }",
        "",
    ))
    .await;
    let t0 = tokio::time::Instant::now();
    r.accept_all((0..7).map(|i| Ok(event(&format!("s{i}"), "u"))).collect())
        .await
        .unwrap();
    let s = r.run_until_idle().await.unwrap();
    assert_eq!(s.instances[0].counters.delivered, 7);
    assert_eq!(sizes("b-size"), [3, 3, 1]);
    let c = calls("b-size");
    assert!(
        c[1].0 - t0 < Duration::from_secs(1),
        "full batches go at once"
    );
    assert!(
        c[2].0 - t0 >= Duration::from_secs(3600),
        "the last waited its linger"
    );
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_batch_leaves_before_it_would_exceed_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let one = event("y0", "u").to_string().len();
    // Room for two events, not three.
    let bytes = one * 5 / 2;
    let r = common::relay(config(
        dir.path(),
        "b-bytes",
        "sendBatch",
        &format!("batch = {{ size = 100, bytes = {bytes}, linger = \"50ms\" }}"),
        "",
    ))
    .await;
    r.accept_all((0..5).map(|i| Ok(event(&format!("y{i}"), "u"))).collect())
        .await
        .unwrap();
    r.run_until_idle().await.unwrap();
    assert_eq!(sizes("b-bytes"), [2, 2, 1]);
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn events_linger_into_one_batch_and_batch_false_sends_them_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::relay(config(
        dir.path(),
        "b-linger",
        "sendBatch",
        "batch = { linger = \"200ms\" }",
        "",
    ))
    .await;
    let t0 = tokio::time::Instant::now();
    // (Accepted together: on paused time a test cannot space accepts, since the store's writer
    // thread lets tokio move the clock to the next timer while an accept waits for it.)
    r.accept_all((0..5).map(|i| Ok(event(&format!("l{i}"), "u"))).collect())
        .await
        .unwrap();
    r.run_until_idle().await.unwrap();
    assert_eq!(sizes("b-linger"), [5]);
    let at = calls("b-linger")[0].0 - t0;
    assert!(at >= Duration::from_millis(200), "{at:?}");
    r.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let r = common::relay(config(
        dir.path(),
        "b-off",
        "sendBatch",
        "batch = false",
        "",
    ))
    .await;
    r.accept_all((0..4).map(|i| Ok(event(&format!("o{i}"), "u"))).collect())
        .await
        .unwrap();
    r.run_until_idle().await.unwrap();
    assert_eq!(sizes("b-off"), [1, 1, 1, 1]);
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_later_event_of_a_user_never_overtakes_an_earlier_one_waiting_for_a_retry() {
    for (name, dest) in [
        ("ord-single", "batch = false"),
        ("ord-batch", "batch = { linger = \"10ms\" }"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        // A's "entered" fails once and waits 10 s for its retry.
        script(name, "a-entered", vec![fail(503)]);
        let r = common::relay(config(
            dir.path(),
            name,
            "sendBatch",
            dest,
            "ordered = true",
        ))
        .await;
        r.accept_all(vec![
            Ok(event("a-entered", "A")),
            Ok(event("b-entered", "B")),
            Ok(event("a-exited", "A")),
            Ok(event("b-exited", "B")),
        ])
        .await
        .unwrap();
        let s = r.run_until_idle().await.unwrap();
        assert_eq!(s.instances[0].counters.delivered, 4, "{name}");
        let c = calls(name);
        let first = |id: &str| c.iter().position(|x| x.1.iter().any(|m| m == id)).unwrap();
        let last = |id: &str| c.iter().rposition(|x| x.1.iter().any(|m| m == id)).unwrap();
        assert!(
            first("a-exited") > last("a-entered"),
            "{name}: A's exit went before its entry was delivered: {c:?}"
        );
        // B is not held up by A's retry: B's exit went before A's.
        assert!(last("b-exited") < first("a-exited"), "{name}: {c:?}");
        r.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn without_order_a_later_event_does_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    script("unordered", "a-entered", vec![fail(503)]);
    let r = common::relay(config(
        dir.path(),
        "unordered",
        "sendBatch",
        "batch = false",
        "",
    ))
    .await;
    r.accept_all(vec![
        Ok(event("a-entered", "A")),
        Ok(event("a-exited", "A")),
    ])
    .await
    .unwrap();
    r.run_until_idle().await.unwrap();
    let c = calls("unordered");
    let exited = c.iter().position(|x| x.1 == ["a-exited"]).unwrap();
    let retried = c.iter().rposition(|x| x.1 == ["a-entered"]).unwrap();
    assert!(exited < retried, "{c:?}");
    r.shutdown().await;
}
