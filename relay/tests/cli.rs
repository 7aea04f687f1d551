//! The `relay` binary: SIGKILL at several points loses nothing; exit codes; config errors;
//! malformed lines; status and dlq commands.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use actions_testkit::linkedin_sim::{Fault, FaultRule, LinkedInSim, RouteKind, SimConfig};
use relay::demo;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_relay");

fn write_config(dir: &Path, base: &str, extra: &str) -> std::path::PathBuf {
    let store = dir.join("store").display().to_string();
    let text = format!(
        "{}{}",
        extra,
        demo::conversions_config(&store, "", base, 2).replacen("[retry]\n", "", 1)
    );
    let path = dir.join("relay.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn conversion(i: usize) -> String {
    demo::conversion_event(&format!("crash-{i}"), chrono::Utc::now().timestamp_millis()).to_string()
}

fn run(config: &Path, input: &Path, batch: usize) -> tokio::process::Child {
    Command::new(BIN)
        .args(["run", "--config"])
        .arg(config)
        .arg("--input")
        .arg(input)
        .args(["--batch-size", &batch.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_several_points_loses_nothing_accepted() {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    sim.add_fault(FaultRule::new(
        RouteKind::ConversionEventsBatchCreate,
        Fault::Latency(Duration::from_millis(40)),
    ));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url(), "");
    let n = 600;
    let input = dir.path().join("events.ndjson");
    let lines: Vec<String> = (0..n).map(conversion).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let (batch, in_flight) = (10, 2);
    let delivered = || sim.dedup_counts().conversion_events.len();
    let mut kills = 0;
    // Kill during acceptance, then at three points of the delivery.
    for threshold in [0, 100, 300, 450] {
        let mut child = run(&config, &input, batch);
        if threshold == 0 {
            tokio::time::sleep(Duration::from_millis(30)).await;
        } else {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while delivered() < threshold && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        if status.code().is_none() {
            kills += 1;
        }
    }
    assert!(
        kills >= 3,
        "the child should have been killed mid-run ({kills})"
    );
    // A last run finishes the work: everything delivered, exit 0.
    let out = run(&config, &input, batch)
        .wait_with_output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dedup = sim.dedup_counts();
    let mut extra = 0;
    for i in 0..n {
        let c = dedup.event(&format!("crash-{i}"));
        assert!(c >= 1, "crash-{i} was never delivered");
        extra += c - 1;
    }
    // At-least-once: only what was in flight at a kill may have gone twice.
    let bound = kills * in_flight * batch as u32;
    println!("{kills} kills, {extra} events delivered twice (bound {bound})");
    assert!(
        extra <= bound,
        "{extra} duplicates, at most {bound} were in flight"
    );

    // status and dlq read the store of a finished run.
    let status = Command::new(BIN)
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(
        text.contains("li-conv") && text.contains("queue depth 0"),
        "{text}"
    );
    assert!(text.contains(&format!("delivered (ledger) {n}")), "{text}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lines_are_reported_by_number_and_dead_lettered() {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url(), "");
    let input = dir.path().join("events.ndjson");
    std::fs::write(
        &input,
        format!("{}\n{{not json\n{}\n", conversion(1), conversion(2)),
    )
    .unwrap();
    let out = run(&config, &input, 10).wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stdout.contains("1 invalid"), "{stdout}");
    assert_eq!(sim.dedup_counts().conversion_events.len(), 2);
    let list = Command::new(BIN)
        .args(["dlq", "list", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("invalid input") && text.contains("line 2"),
        "{text}"
    );
    let id = text.split_whitespace().next().unwrap().to_string();
    let show = Command::new(BIN)
        .args(["dlq", "show", &id, "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&show.stdout).contains("{not json"));
    let purge = Command::new(BIN)
        .args(["dlq", "purge", "--all", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&purge.stdout).contains("1 dead letters deleted"));
    sim.shutdown().await;
}

#[tokio::test]
async fn config_errors_exit_1_and_name_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", "[retry]\nmax_tries = 3\n");
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("relay.toml:2:") && stderr.contains("max_tries"),
        "{stderr}"
    );
    let help = Command::new(BIN).arg("--help").output().await.unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for cmd in ["run", "status", "dlq", "demo"] {
        assert!(text.contains(cmd), "{text}");
    }
}
