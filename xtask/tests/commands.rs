//! The `validate`, `manifest`, `execute` and `serve` commands, run as a user runs them (the
//! built binary) against the registered destinations: each on its happy path and on bad input
//! (a user error exits 1 with one line on stderr; a usage error exits 2).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actions_testkit::golden::{
    GoldenCase, LINKEDIN_ORIGINS, ReplayServer, compare_outcome, compare_requests,
};
use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
use assert_cmd::Command as Xtask;
use serde_json::{Value, json};

fn xtask() -> Xtask {
    Xtask::new(env!("CARGO_BIN_EXE_xtask"))
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_xtask"))
}

fn conformance() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/linkedin")
}

/// Asserts a user error: exit 1 and exactly one line on stderr; returns it.
fn user_error(cmd: &mut Xtask) -> String {
    let out = cmd.assert().code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr:?}"
    );
    stderr
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

fn iso_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A conversion event the LinkedIn simulator accepts (its timestamp is now).
fn conversion(message_id: &str) -> Value {
    json!({
        "type": "track",
        "event": "Order Completed",
        "messageId": message_id,
        "timestamp": iso_now(),
        "traits": {"email": "jane.doe@example.com"},
        "properties": {"revenue": 49.99, "currency": "USD"},
    })
}

/// The mapping a saved `onMappingSave` leaves: the simulator's enabled conversion rule.
fn conversion_mapping() -> Value {
    json!({"onMappingSave": {
        "inputs": {"adAccountId": "urn:li:sponsoredAccount:512345678"},
        "outputs": {"id": "9001"}
    }})
}

fn sim_settings() -> Value {
    json!({"oauth": {"access_token": "sim-access-token", "refresh_token": "sim-refresh-token"}})
}

// ---------------------------------------------------------------------------------------------
// validate

#[test]
fn validate_passes_on_every_registered_destination() {
    let out = xtask().arg("validate").assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert_eq!(stdout, "", "problems were printed");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("no problems"), "{stderr}");
    assert!(stderr.contains("3 destinations"), "{stderr}");
    xtask()
        .args(["validate", "--destination", "actions-linkedin-conversions"])
        .assert()
        .success();
}

#[test]
fn validate_rejects_an_unknown_destination_and_unknown_flags() {
    let line = user_error(xtask().args(["validate", "--destination", "nope"]));
    assert!(
        line.contains(
            "unknown destination \"nope\" (known: linkedin-audiences, linkedin-conversions, webhook)"
        ),
        "{line}"
    );
    xtask().args(["validate", "--strict-ish"]).assert().code(2);
}

// ---------------------------------------------------------------------------------------------
// bench

#[test]
fn bench_runs_the_workspace_benchmarks_through_cargo() {
    // What it would run, for every package with benchmarks and for one with a filter.
    let out = xtask()
        .args(["bench", "--criterion", "--dry-run"])
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        "cargo bench -p actions-core -p linkedin-audiences -p linkedin-conversions -p webhook\n"
    );
    // The smoke form: the criterion benchmarks once, then every scenario once, unoptimised.
    let out = xtask()
        .args([
            "bench",
            "--smoke",
            "--dry-run",
            "-p",
            "actions-core",
            "subscriptions/print",
        ])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "cargo test --bench * -p actions-core -- subscriptions/print"
    );
    assert_eq!(lines.len(), 1 + 9, "{text}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.starts_with("xtask bench-scenario ") && l.ends_with(" --smoke")),
        "{text}"
    );
}

#[test]
fn bench_table_runs_the_named_scenarios_optimised() {
    let out = xtask()
        .args([
            "bench",
            "--dry-run",
            "--only",
            "floor-c64,relay-batch",
            "--seconds",
            "2",
        ])
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        "cargo build --release -p xtask\n\
         target/release/xtask bench-scenario floor-c64 --url URL --seconds 2\n\
         target/release/xtask bench-scenario relay-batch --url URL --seconds 2\n"
    );
    let line = user_error(xtask().args(["bench", "--dry-run", "--only", "conv"]));
    assert!(line.contains("--only: no scenario \"conv\""), "{line}");
}

#[test]
fn bench_rejects_a_package_without_benchmarks_and_unknown_flags() {
    let line = user_error(xtask().args(["bench", "--smoke", "-p", "actions-testkit"]));
    assert!(
        line.contains("package \"actions-testkit\" has no benchmarks (packages with benchmarks: actions-core, linkedin-audiences, linkedin-conversions, webhook)"),
        "{line}"
    );
    xtask().args(["bench", "--fast"]).assert().code(2);
}

// ---------------------------------------------------------------------------------------------
// manifest

#[test]
fn manifest_describes_every_destination_action_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.json");
    xtask()
        .args(["manifest", "--out"])
        .arg(&file)
        .assert()
        .success();
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let names: Vec<&String> = m.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        ["linkedin-audiences", "linkedin-conversions", "webhook"]
    );
    // The idempotency declaration relay reads: only where a destination makes it.
    assert_eq!(m["webhook"]["idempotencyKeyHeader"], "Idempotency-Key");
    assert!(
        m["linkedin-conversions"]
            .get("idempotencyKeyHeader")
            .is_none()
    );
    assert_eq!(m["webhook"]["actions"]["send"]["hasPerformBatch"], true);
    let conv = &m["linkedin-conversions"];
    assert_eq!(conv["slug"], "actions-linkedin-conversions");
    assert_eq!(conv["authentication"]["scheme"], "oauth2");
    let action = &conv["actions"]["streamConversion"];
    assert_eq!(action["hasPerformBatch"], true);
    assert!(action["hooks"]["onMappingSave"]["label"].is_string());
    let fields = action["fields"].as_object().unwrap();
    let schema_props = action["schema"]["properties"].as_object().unwrap();
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        schema_props.keys().collect::<Vec<_>>(),
        "every field has its schema"
    );
    for (key, default) in action["defaultMapping"].as_object().unwrap() {
        assert_eq!(&fields[key]["default"], default, "{key}");
    }
    assert!(m["linkedin-audiences"]["actions"]["updateCompanyAudience"].is_object());

    // One destination to stdout.
    let out = xtask()
        .args(["manifest", "--destination", "linkedin-audiences"])
        .assert()
        .success();
    let one: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(one.as_object().unwrap().len(), 1);
    assert_eq!(one["linkedin-audiences"], m["linkedin-audiences"]);
}

#[test]
fn manifest_reports_a_file_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let line = user_error(
        xtask()
            .args(["manifest", "--out"])
            .arg(dir.path().join("no/such/dir/m.json")),
    );
    assert!(line.contains("cannot write"), "{line}");
    xtask().args(["manifest", "--out"]).assert().code(2);
}

// ---------------------------------------------------------------------------------------------
// execute

/// Runs `xtask <args>` on a blocking thread (the test's async runtime keeps serving).
async fn run_blocking(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || Command::new(binary()).args(args).output().unwrap())
        .await
        .unwrap()
}

fn redirects(base: &str) -> Vec<String> {
    LINKEDIN_ORIGINS
        .iter()
        .flat_map(|o| ["--redirect".to_string(), format!("{o}={base}")])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_sends_events_through_an_action_and_shows_what_was_sent() {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = write_json(dir.path(), "settings.json", &sim_settings());
    let mapping = write_json(dir.path(), "mapping.json", &conversion_mapping());
    let event = write_json(dir.path(), "event.json", &conversion("cli-1"));
    let events = write_json(
        dir.path(),
        "events.json",
        &json!([conversion("cli-2"), conversion("cli-3")]),
    );
    let base = |input: (&str, &Path)| {
        let mut args: Vec<String> = [
            "execute",
            "--destination",
            "linkedin-conversions",
            "--action",
            "streamConversion",
        ]
        .map(String::from)
        .to_vec();
        for (flag, path) in [("--settings", &settings), ("--mapping", &mapping)] {
            args.push(flag.into());
            args.push(path.display().to_string());
        }
        args.push(input.0.into());
        args.push(input.1.display().to_string());
        args.extend(redirects(&sim.base_url()));
        args
    };

    let out = run_blocking(base(("--event", &event))).await;
    assert!(out.status.success(), "{out:?}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    let outputs: Vec<&Value> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["output"])
        .collect();
    assert_eq!(
        outputs,
        ["Mappings resolved", "Payload validated", "Action Executed"]
    );
    let requests = answer["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{answer}");
    let sent = &requests[0]["request"];
    assert_eq!(
        sent["url"],
        "https://api.linkedin.com/rest/conversionEvents"
    );
    assert_eq!(sent["headers"]["authorization"], "<redacted>");
    assert_eq!(sent["body"]["eventId"], "cli-1");
    assert_eq!(requests[0]["response"]["status"], 201);
    assert!(!answer.to_string().contains("sim-access-token"));
    assert_eq!(sim.dedup_counts().event("cli-1"), 1);

    let out = run_blocking(base(("--events", &events))).await;
    assert!(out.status.success(), "{out:?}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    let statuses: Vec<&Value> = answer["multistatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["status"])
        .collect();
    assert_eq!(statuses.len(), 2, "{answer}");
    assert!(
        statuses.iter().all(|s| s.as_u64().is_some_and(|s| s < 300)),
        "{answer}"
    );
    assert_eq!(sim.dedup_counts().event("cli-2"), 1);
    assert_eq!(sim.dedup_counts().event("cli-3"), 1);
    sim.shutdown().await;
}

#[test]
fn execute_names_what_is_wrong_with_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let settings = write_json(dir.path(), "settings.json", &sim_settings());
    let event = write_json(dir.path(), "event.json", &conversion("x"));
    let not_an_array = write_json(dir.path(), "events.json", &json!({"type": "track"}));
    let run = |action: &str, input: (&str, &Path)| {
        let mut cmd = xtask();
        cmd.args([
            "execute",
            "--destination",
            "linkedin-conversions",
            "--action",
            action,
        ])
        .arg("--settings")
        .arg(&settings)
        .arg(input.0)
        .arg(input.1);
        cmd
    };
    let line = user_error(&mut run("nope", ("--event", &event)));
    assert!(
        line.contains("has no action \"nope\" (actions: streamConversion)"),
        "{line}"
    );
    let line = user_error(&mut run(
        "streamConversion",
        ("--event", &dir.path().join("missing.json")),
    ));
    assert!(
        line.contains("cannot read") && line.contains("missing.json"),
        "{line}"
    );
    let line = user_error(&mut run("streamConversion", ("--events", &not_an_array)));
    assert!(line.contains("must hold a JSON array of events"), "{line}");
    let line = user_error(
        xtask()
            .args(["execute", "--destination", "linkedin-conversions"])
            .args(["--action", "streamConversion", "--settings"])
            .arg(&settings)
            .arg("--event")
            .arg(&event)
            .args(["--redirect", "api.linkedin.com"]),
    );
    assert!(line.contains("expected ORIGIN=URL"), "{line}");
    // Usage errors: no input, both inputs, --case with event flags.
    xtask()
        .args([
            "execute",
            "--destination",
            "linkedin-conversions",
            "--action",
            "streamConversion",
        ])
        .arg("--settings")
        .arg(&settings)
        .assert()
        .code(2);
    xtask()
        .args([
            "execute",
            "--case",
            "x.json",
            "--destination",
            "linkedin-conversions",
        ])
        .assert()
        .code(2);
}

/// The first case of each (destination, action, mode): every path of `execute --case`.
fn one_case_per_mode() -> Vec<(String, GoldenCase)> {
    let mut seen = std::collections::HashSet::new();
    GoldenCase::load_dir(&conformance())
        .unwrap()
        .into_iter()
        .filter(|(_, c)| seen.insert(format!("{}/{}/{}", c.destination(), c.action(), c.mode())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_case_replays_golden_cases_as_the_cli_contract_says() {
    let cases = one_case_per_mode();
    assert!(cases.len() >= 8, "{}", cases.len());
    for (name, case) in cases {
        let responses = case
            .expected_requests()
            .iter()
            .map(|r| r.get("response").cloned().unwrap_or(Value::Null))
            .collect();
        let server = ReplayServer::start(&LINKEDIN_ORIGINS, responses)
            .await
            .unwrap();
        let mut args = vec![
            "execute".to_string(),
            "--case".to_string(),
            conformance().join(&name).display().to_string(),
        ];
        for (origin, url) in server.urls() {
            args.push("--redirect".into());
            args.push(format!("{origin}={url}"));
        }
        let out = run_blocking(args).await;
        assert!(out.status.success(), "{name}: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.trim_end().lines().count(), 1, "{name}: {stdout}");
        let answer: Value = serde_json::from_str(&stdout).unwrap();
        let mut problems = compare_requests(case.expected_requests(), &server.received());
        problems.extend(compare_outcome(&case, &answer));
        assert!(
            problems.is_empty(),
            "{name} ({}): {problems:#?}",
            case.name()
        );
    }
}

#[test]
fn execute_case_rejects_cases_it_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let line = user_error(
        xtask()
            .args(["execute", "--case"])
            .arg(dir.path().join("none.json")),
    );
    assert!(line.contains("cannot read"), "{line}");
    let unknown = write_json(
        dir.path(),
        "case.json",
        &json!({"destination": "nope", "action": "a", "mode": "event"}),
    );
    let line = user_error(xtask().args(["execute", "--case"]).arg(&unknown));
    assert!(line.contains("unknown destination \"nope\""), "{line}");
}

// ---------------------------------------------------------------------------------------------
// serve

/// A running `xtask serve`; killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(binary())
            .arg("serve")
            .args(args)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(a) = line.strip_prefix("listening on http://") {
                        break a.to_string();
                    }
                }
                _ => {
                    let _ = child.kill();
                    panic!("serve exited before listening");
                }
            }
        };
        Server { child, addr }
    }

    /// One HTTP/1.1 request; returns the status and the JSON body.
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

#[test]
fn serve_runs_actions_and_authentication_against_the_simulator() {
    let server = Server::start(&["--simulate"]);

    let (status, index) = server.request("GET", "/", "");
    assert_eq!(status, 200);
    assert_eq!(
        index["destinations"]["linkedin-conversions"]["actions"][0]["route"],
        "POST /linkedin-conversions/streamConversion"
    );
    assert!(index["destinations"]["linkedin-audiences"].is_object());

    let settings = sim_settings();
    let (status, auth) = server.request(
        "POST",
        "/linkedin-conversions/authentication",
        &json!({"settings": settings}).to_string(),
    );
    assert_eq!((status, &auth["ok"]), (200, &json!(true)), "{auth}");

    let body = json!({
        "settings": settings,
        "mapping": conversion_mapping(),
        "event": conversion("serve-1"),
    });
    let (status, run) = server.request(
        "POST",
        "/linkedin-conversions/streamConversion",
        &body.to_string(),
    );
    assert_eq!(status, 200);
    assert_eq!(run["ok"], true, "{run}");
    let requests = run["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{run}");
    assert_eq!(requests[0]["request"]["body"]["eventId"], "serve-1");
    assert_eq!(
        requests[0]["request"]["headers"]["authorization"],
        "<redacted>"
    );
    assert_eq!(requests[0]["response"]["status"], 201);

    // Batches answer per event; the mapping's defaults come from the fields.
    let body = json!({
        "settings": settings,
        "mapping": conversion_mapping(),
        "events": [conversion("serve-2"), conversion("serve-3")],
    });
    let (_, batch) = server.request(
        "POST",
        "/linkedin-conversions/streamConversion",
        &body.to_string(),
    );
    assert_eq!(
        batch["multistatus"].as_array().map(Vec::len),
        Some(2),
        "{batch}"
    );

    // Hook input dynamic fields (with the inputs chosen so far) and the hook itself.
    let (_, accounts) = server.request(
        "POST",
        "/linkedin-conversions/streamConversion/dynamic/adAccountId",
        &json!({"settings": settings}).to_string(),
    );
    let labels: Vec<&Value> = accounts["result"]["choices"]
        .as_array()
        .map(|c| c.iter().map(|c| &c["value"]).collect())
        .unwrap_or_default();
    assert_eq!(
        labels,
        [
            "urn:li:sponsoredAccount:512345678",
            "urn:li:sponsoredAccount:587654321"
        ],
        "{accounts}"
    );
    let account = json!({"adAccountId": "urn:li:sponsoredAccount:512345678"});
    let (_, rules) = server.request(
        "POST",
        "/linkedin-conversions/streamConversion/dynamic/conversionRuleId",
        &json!({"settings": settings, "inputs": account}).to_string(),
    );
    assert_eq!(rules["result"]["choices"][0]["value"], "9001", "{rules}");
    let inputs = json!({
        "adAccountId": "urn:li:sponsoredAccount:512345678",
        "conversionRuleId": "9001",
        "campaignId": ["700000001"],
    });
    let (_, hook) = server.request(
        "POST",
        "/linkedin-conversions/streamConversion/hooks/onMappingSave",
        &json!({"settings": settings, "inputs": inputs}).to_string(),
    );
    assert_eq!(hook["ok"], true, "{hook}");
    assert_eq!(hook["result"]["savedData"]["id"], "9001", "{hook}");

    // A destination error is a 200 answer with the error; bad requests are 400/404.
    let (status, failed) = server.request(
        "POST",
        "/linkedin-conversions/authentication",
        &json!({"settings": {"oauth": {"access_token": "wrong"}}}).to_string(),
    );
    assert_eq!(status, 200);
    assert_eq!(failed["ok"], false);
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Credentials are invalid"),
        "{failed}"
    );
    let (status, _) = server.request("POST", "/linkedin-conversions/streamConversion", "{oops");
    assert_eq!(status, 400);
    let (status, _) = server.request(
        "POST",
        "/linkedin-conversions/streamConversion",
        r#"{"settings": {}}"#,
    );
    assert_eq!(status, 400);
    let (status, missing) = server.request("POST", "/nope/streamConversion", "{}");
    assert_eq!(status, 404);
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    let (status, _) = server.request("POST", "/linkedin-conversions/nope", "{}");
    assert_eq!(status, 404);
}

#[test]
fn serve_rejects_an_unknown_destination_and_a_bad_port() {
    let line = user_error(xtask().args(["serve", "--destination", "nope", "--port", "0"]));
    assert!(line.contains("unknown destination \"nope\""), "{line}");
    xtask().args(["serve", "--port", "http"]).assert().code(2);
}
