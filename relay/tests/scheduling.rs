//! How relay schedules after each outcome, on paused tokio time with a scripted destination.

mod common;

use std::time::{Duration, SystemTime};

use common::{Answer, builder, calls, config, fail, fail_with, relay, script, track};
use relay::queue::Selection;
use relay::schedule::Backoff;

fn gaps(name: &str) -> Vec<Duration> {
    let c = calls(name);
    c.windows(2).map(|w| w[1].0 - w[0].0).collect()
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    script("ra-secs", "m1", vec![fail_with(503, "retry-after", "30")]);
    let r = relay(config(dir.path(), "ra-secs", "send", "")).await;
    r.accept(track("m1")).await.unwrap();
    let s = r.run_until_idle().await.unwrap();
    assert_eq!(s.instances[0].counters.delivered, 1);
    let g = gaps("ra-secs");
    assert_eq!(g.len(), 1);
    // max(full jitter of at most 1 s, 30 s)
    assert!(
        g[0] >= Duration::from_secs(30) && g[0] < Duration::from_secs(31),
        "{g:?}"
    );
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    script("ra-date", "m1", vec![fail_with(503, "retry-after", &at)]);
    let r = relay(config(dir.path(), "ra-date", "send", "")).await;
    r.accept(track("m1")).await.unwrap();
    r.run_until_idle().await.unwrap();
    let g = gaps("ra-date");
    assert!(
        g[0] >= Duration::from_secs(118) && g[0] <= Duration::from_secs(121),
        "{g:?}"
    );
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn x_ratelimit_reset_pauses_the_instance_and_429s_use_no_attempt() {
    let dir = tempfile::tempdir().unwrap();
    // Five 429s with a 45 s reset, and only two attempts allowed: it still gets delivered.
    let limited = || fail_with(429, "x-ratelimit-reset", "45");
    script("xrl", "m1", (0..5).map(|_| limited()).collect());
    let r = relay(config(dir.path(), "xrl", "send", "max_attempts = 2")).await;
    r.accept(track("m1")).await.unwrap();
    r.accept(track("m2")).await.unwrap();
    let s = r.run_until_idle().await.unwrap();
    let c = &s.instances[0].counters;
    assert_eq!((c.delivered, c.dead.len()), (2, 0), "{c:?}");
    assert_eq!(c.rate_limit_pauses, 5);
    let calls = calls("xrl");
    let m1: Vec<_> = calls
        .iter()
        .filter(|c| c.1 == ["m1"])
        .map(|c| c.0)
        .collect();
    assert_eq!(m1.len(), 6);
    for w in m1.windows(2) {
        assert!(w[1] - w[0] >= Duration::from_secs(45), "{:?}", w[1] - w[0]);
    }
    // The whole instance paused: after each 429, nothing (m2 neither) was sent for 45 s.
    let mut answered_429 = 0;
    for (k, c) in calls.iter().enumerate() {
        if c.1 == ["m1"] && answered_429 < 5 {
            answered_429 += 1;
            let next = calls.get(k + 1).unwrap();
            assert!(next.0 - c.0 >= Duration::from_secs(45), "{calls:?}");
        }
    }
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_holds_back_other_events_of_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    script("hold", "first", vec![fail_with(429, "retry-after", "20")]);
    let r = relay(config(dir.path(), "hold", "send", "")).await;
    r.accept(track("first")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    r.accept(track("second")).await.unwrap();
    r.run_until_idle().await.unwrap();
    let c = calls("hold");
    let t0 = c[0].0;
    let second = c.iter().find(|x| x.1 == ["second"]).unwrap().0;
    assert!(second - t0 >= Duration::from_secs(20), "{:?}", second - t0);
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn backoff_is_full_jitter_over_a_capped_exponential_with_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    script("jitter", "m1", (0..6).map(|_| fail(503)).collect());
    let r = relay(config(
        dir.path(),
        "jitter",
        "send",
        "max_attempts = 10\ninitial_backoff = \"1s\"\nmax_backoff = \"4s\"",
    ))
    .await;
    r.accept(track("m1")).await.unwrap();
    r.run_until_idle().await.unwrap();
    let g = gaps("jitter");
    // The same seed draws the same delays.
    let expected = Backoff::new(Duration::from_secs(1), Duration::from_secs(4), 11);
    let want: Vec<Duration> = (1..=6).map(|n| expected.delay(n)).collect();
    assert_eq!(g.len(), 6);
    for (got, want) in g.iter().zip(&want) {
        let diff = got.abs_diff(*want);
        assert!(diff < Duration::from_millis(5), "{g:?} vs {want:?}");
    }
    assert!(
        g.iter().all(|d| *d <= Duration::from_secs(4)),
        "capped: {g:?}"
    );
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_dead_lettered_at_once_with_the_redacted_answer() {
    let dir = tempfile::tempdir().unwrap();
    script(
        "perm",
        "m1",
        vec![Answer::Fail {
            status: 400,
            headers: vec![],
            body: r#"{"message":"bad field","access_token":"AT-LEAK"}"#.into(),
        }],
    );
    let r = relay(config(dir.path(), "perm", "send", "")).await;
    r.accept(track("m1")).await.unwrap();
    let s = r.run_until_idle().await.unwrap();
    assert_eq!(calls("perm").len(), 1);
    assert_eq!(s.exit_code(), 3);
    let dl = r.dead_letters().await.unwrap();
    assert_eq!(dl.len(), 1);
    let d = &dl[0];
    assert_eq!(d.category, "permanent 400");
    assert_eq!(d.last_status, Some(400));
    assert_eq!(d.attempts, 1);
    let body = d.last_response.clone().unwrap();
    assert!(
        body.contains("bad field") && !body.contains("AT-LEAK"),
        "{body}"
    );
    assert!(d.first_attempt_ms.is_some() && d.last_attempt_ms.is_some());
    assert!(d.event.contains("\"m1\""));
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn exhausted_budgets_dead_letter_with_the_last_reason() {
    let dir = tempfile::tempdir().unwrap();
    script("tries", "m1", (0..10).map(|_| fail(503)).collect());
    script("tries", "m2", vec![fail_with(503, "retry-after", "3600")]);
    let r = relay(config(
        dir.path(),
        "tries",
        "send",
        "max_attempts = 3\nmax_age = \"10m\"",
    ))
    .await;
    r.accept(track("m1")).await.unwrap();
    r.accept(track("m2")).await.unwrap();
    r.run_until_idle().await.unwrap();
    let dl = r.dead_letters().await.unwrap();
    let by = |id: &str| {
        dl.iter()
            .find(|d| d.key.as_ref().unwrap().message_id == id)
            .unwrap()
            .clone()
    };
    let m1 = by("m1");
    assert_eq!(
        (m1.category.as_str(), m1.attempts),
        ("attempts exhausted", 3)
    );
    assert!(m1.reason.contains("503"), "{}", m1.reason);
    let m2 = by("m2");
    assert_eq!((m2.category.as_str(), m2.attempts), ("max age exceeded", 1));
    let n = |id: &str| calls("tries").iter().filter(|c| c.1 == [id]).count();
    assert_eq!((n("m1"), n("m2")), (3, 1));
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_retries_only_the_failed_items() {
    let dir = tempfile::tempdir().unwrap();
    script("partial", "b", vec![fail(503)]);
    script("partial", "c", vec![fail(400)]);
    let r = relay(config(dir.path(), "partial", "sendBatch", "")).await;
    let items = ["a", "b", "c", "d"].map(|id| Ok(track(id))).to_vec();
    r.accept_all(items).await.unwrap();
    let s = r.run_until_idle().await.unwrap();
    let c = calls("partial");
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0].1, ["a", "b", "c", "d"]);
    assert_eq!(c[1].1, ["b"]);
    let counters = &s.instances[0].counters;
    assert_eq!(counters.delivered, 3);
    let dead: Vec<_> = counters.dead.keys().collect();
    assert!(
        dead.len() == 1 && dead[0].starts_with("permanent 400"),
        "{dead:?}"
    );
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn delivered_events_are_never_sent_again_not_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let r = relay(config(dir.path(), "reingest", "send", "")).await;
    r.accept(track("m1")).await.unwrap();
    r.run_until_idle().await.unwrap();
    let again = r.accept(track("m1")).await.unwrap();
    assert!(again.queued.is_empty());
    let (inst, first) = &again.delivered_before[0];
    assert_eq!(inst, "dest");
    assert_eq!(first.created_id.as_deref(), Some("created-m1"));
    r.run_until_idle().await.unwrap();
    r.shutdown().await;
    drop(r);
    let r = relay(config(dir.path(), "reingest", "send", "")).await;
    let again = r.accept(track("m1")).await.unwrap();
    assert_eq!(again.delivered_before.len(), 1);
    r.run_until_idle().await.unwrap();
    assert_eq!(calls("reingest").len(), 1);
    assert_eq!(r.counters()["dest"].duplicates, 1);
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn malformed_input_is_dead_lettered_with_its_line_and_never_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let r = relay(config(dir.path(), "malformed", "send", "")).await;
    let out = r
        .accept_all(vec![
            Ok(track("ok-1")),
            Err(("{nope".into(), "line 2: not valid JSON".into())),
            Ok(serde_json::json!([1, 2])),
            Ok(track("ok-2")),
        ])
        .await
        .unwrap();
    assert!(out[1].is_none() && out[2].is_none());
    let s = r.run_until_idle().await.unwrap();
    assert_eq!(s.invalid, 2);
    assert_eq!(s.instances[0].counters.delivered, 2);
    let dl = r.dead_letters().await.unwrap();
    assert!(
        dl.iter()
            .any(|d| d.reason.contains("line 2") && d.event == "{nope")
    );
    assert!(
        dl.iter()
            .all(|d| d.category == "invalid input" && d.key.is_none())
    );
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn dead_letters_replay_with_a_fresh_budget_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    script("dlq", "m1", vec![fail(503), fail(503)]);
    script("dlq", "m2", vec![fail(400)]);
    let r = relay(config(dir.path(), "dlq", "send", "max_attempts = 2")).await;
    r.accept(track("m1")).await.unwrap();
    r.accept(track("m2")).await.unwrap();
    r.run_until_idle().await.unwrap();
    let dl = r.dead_letters().await.unwrap();
    assert_eq!(dl.len(), 2);
    let m1 = dl
        .iter()
        .find(|d| d.key.as_ref().unwrap().message_id == "m1")
        .unwrap();
    // Replay m1: the script now delivers; a fresh budget means a new attempt count.
    let report = r.replay(Selection::Ids(vec![m1.id.clone()])).await.unwrap();
    assert_eq!(report.requeued.len(), 1);
    let s = r.run_until_idle().await.unwrap();
    assert_eq!(s.instances[0].counters.delivered, 1);
    let left = r.dead_letters().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(r.purge(Selection::All).await.unwrap(), 1);
    assert!(r.dead_letters().await.unwrap().is_empty());
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_in_flight_attempts_finish_within_the_grace_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    script("grace", "quick", vec![Answer::Slow(Duration::from_secs(2))]);
    script(
        "grace",
        "stuck",
        vec![Answer::Slow(Duration::from_secs(600))],
    );
    let cfg = || {
        let mut c = config(dir.path(), "grace", "send", "");
        c.destinations[0].max_in_flight = 2;
        c
    };
    let r = builder(cfg())
        .shutdown_grace(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    r.accept(track("quick")).await.unwrap();
    r.accept(track("stuck")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(calls("grace").len(), 2, "both in flight");
    let start = tokio::time::Instant::now();
    r.shutdown().await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let c = r.counters();
    assert_eq!(c["dest"].delivered, 1, "the quick one finished");
    drop(r);
    // The stuck one was not lost: a restart delivers it (the script now answers at once).
    let r = relay(cfg()).await;
    let s = r.run_until_idle().await.unwrap();
    assert_eq!(s.instances[0].counters.delivered, 1);
    let stuck = calls("grace").iter().filter(|c| c.1 == ["stuck"]).count();
    assert_eq!(stuck, 2);
    r.shutdown().await;
}
