//! The scenario table: build, start the server, run each scenario in its own process, print.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use serde_json::json;

use super::BenchArgs;
use super::scenarios::{Measured, NAMES};
use crate::util::Failure;

/// The reference's figures (`shared/reference/performance.md`, medians on the same machine
/// class), by scenario.
pub const REFERENCE: [(&str, f64); 5] = [
    ("conv-event-c1", 607.0),
    ("conv-event-c64", 919.0),
    ("aud-batch-1000", 16_698.0),
    ("mapping-transform", 98_858.0),
    ("mapping-transform-validate", 90_416.0),
];

/// The floor scenario an HTTP scenario is compared with.
pub fn floor_of(name: &str) -> Option<&'static str> {
    match name {
        "conv-event-c1" => Some("floor-c1"),
        "conv-event-c64" => Some("floor-c64"),
        _ => None,
    }
}

/// The scenarios `--only` selects, checked against the known names.
pub fn selected(only: &[String]) -> Result<Vec<&'static str>, Failure> {
    if only.is_empty() {
        return Ok(NAMES.to_vec());
    }
    let mut out = Vec::new();
    for name in only {
        let name = name.trim();
        let known = NAMES.iter().find(|n| **n == name).ok_or_else(|| {
            Failure::new(format!(
                "--only: no scenario {name:?} (scenarios: {})",
                NAMES.join(", ")
            ))
        })?;
        if !out.contains(known) {
            out.push(*known);
        }
    }
    Ok(out)
}

/// Events per second of a measurement (0 when nothing was measured).
pub fn events_per_s(m: &Measured) -> f64 {
    if m.seconds > 0.0 {
        m.events as f64 / m.seconds
    } else {
        0.0
    }
}

/// The table as text: one row per scenario, ratios to the floor of the same run and to the
/// reference.
pub fn render(rows: &[Measured]) -> String {
    let rate = |name: &str| rows.iter().find(|r| r.name == name).map(events_per_s);
    let mut out = String::new();
    out.push_str(&format!(
        "| {:<27} | {:>12} | {:>9} | {:>8} | {:>7} | {:>9} | {:>12} | {:>9} |\n",
        "scenario", "events/s", "µs/event", "peak RSS", "p99 ms", "vs floor", "reference", "vs ref"
    ));
    out.push_str(&format!(
        "|{:-<29}|{:->14}|{:->11}|{:->10}|{:->9}|{:->11}|{:->14}|{:->11}|\n",
        "", "", "", "", "", "", "", ""
    ));
    for r in rows {
        let eps = events_per_s(r);
        let us = if eps > 0.0 { 1e6 / eps } else { 0.0 };
        let floor = floor_of(&r.name)
            .and_then(rate)
            .filter(|f| *f > 0.0)
            .map_or("".to_string(), |f| format!("{:.0}%", 100.0 * eps / f));
        let reference = REFERENCE
            .iter()
            .find(|(n, _)| *n == r.name)
            .map(|(_, v)| *v);
        out.push_str(&format!(
            "| {:<27} | {:>12.0} | {:>9.2} | {:>5.0} MB | {:>7} | {:>9} | {:>12} | {:>9} |\n",
            r.name,
            eps,
            us,
            r.peak_rss_mb,
            r.p99_ms.map_or(String::new(), |p| format!("{p:.0}")),
            floor,
            reference.map_or(String::new(), |v| format!("{v:.0}")),
            reference.map_or(String::new(), |v| format!("{:.0}×", eps / v)),
        ));
    }
    out
}

/// The `--json` document.
pub fn to_json(rows: &[Measured]) -> serde_json::Value {
    json!({"scenarios": rows.iter().map(|r| {
        let mut o = json!({
            "name": r.name,
            "events_per_s": events_per_s(r),
            "peak_rss_mb": r.peak_rss_mb,
        });
        if let (Some(p), Some(map)) = (r.p99_ms, o.as_object_mut()) {
            map.insert("p99_ms".into(), json!(p));
        }
        o
    }).collect::<Vec<_>>()})
}

/// The bench server, stopped (its stdin closed, then killed) when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(exe: &Path) -> Result<Server, Failure> {
    let mut child = Command::new(exe)
        .args(["bench-server", "--port", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::new(format!("cannot start {} bench-server: {e}", exe.display())))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Failure::new("bench server: no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| Failure::new(format!("bench server: {e}")))?;
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .ok_or_else(|| Failure::new(format!("bench server said {line:?}")))?;
    Ok(Server {
        url: format!("http://{addr}"),
        child,
    })
}

/// The `xtask` executable the scenarios run in: this one for `--smoke`, else an optimised
/// build (`cargo build --release -p xtask`).
fn scenario_exe(args: &BenchArgs, root: &Path) -> Result<PathBuf, Failure> {
    if args.smoke {
        return std::env::current_exe()
            .map_err(|e| Failure::new(format!("cannot find the running xtask: {e}")));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building xtask optimised (cargo build --release -p xtask) …");
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "xtask"])
        .current_dir(root)
        .status()
        .map_err(|e| Failure::new(format!("cannot run cargo: {e}")))?;
    if !status.success() {
        return Err(Failure::new(format!(
            "`cargo build --release -p xtask` failed ({status})"
        )));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("release").join("xtask"))
}

fn run_scenario(exe: &Path, name: &str, url: &str, args: &BenchArgs) -> Result<Measured, Failure> {
    let mut cmd = Command::new(exe);
    cmd.args(["bench-scenario", name, "--url", url, "--seconds"])
        .arg(args.seconds.to_string());
    if args.smoke {
        cmd.arg("--smoke");
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Failure::new(format!("cannot run scenario {name}: {e}")))?;
    if !out.status.success() {
        return Err(Failure::new(format!(
            "scenario {name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .map_err(|e| Failure::new(format!("scenario {name} printed {last:?}: {e}")))
}

/// Runs the table.
pub fn run(args: &BenchArgs, root: &Path) -> Result<ExitCode, Failure> {
    if !(args.seconds > 0.0 && args.seconds <= 600.0) {
        return Err(Failure::new(format!(
            "--seconds {}: between 0 and 600",
            args.seconds
        )));
    }
    let names = selected(&args.only)?;
    if args.dry_run {
        if args.smoke {
            for n in &names {
                println!("xtask bench-scenario {n} --url URL --smoke");
            }
        } else {
            println!("cargo build --release -p xtask");
            for n in &names {
                println!(
                    "target/release/xtask bench-scenario {n} --url URL --seconds {}",
                    args.seconds
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let exe = scenario_exe(args, root)?;
    let server = start_server(&exe)?;
    let mut rows = Vec::with_capacity(names.len());
    for name in names {
        eprint!("{name} … ");
        let _ = std::io::stderr().flush();
        let m = run_scenario(&exe, name, &server.url, args)?;
        eprintln!("{:.0} events/s", events_per_s(&m));
        rows.push(m);
    }
    drop(server);
    print!("{}", render(&rows));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&to_json(&rows))
            .map_err(|e| Failure::new(format!("--json: {e}")))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| Failure::new(format!("--json {}: {e}", path.display())))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, events: u64, seconds: f64, p99: Option<f64>) -> Measured {
        Measured {
            name: name.into(),
            events,
            seconds,
            p99_ms: p99,
            peak_rss_mb: 12.5,
        }
    }

    #[test]
    fn only_checks_names_and_keeps_the_given_order_without_repeats() {
        assert_eq!(selected(&[]).unwrap(), NAMES.to_vec());
        let only = vec![
            "floor-c64".to_string(),
            " conv-event-c64".into(),
            "floor-c64".into(),
        ];
        assert_eq!(selected(&only).unwrap(), ["floor-c64", "conv-event-c64"]);
        let err = selected(&["conv".to_string()]).unwrap_err().to_string();
        assert!(
            err.contains("\"conv\"") && err.contains("aud-batch-1000"),
            "{err}"
        );
    }

    #[test]
    fn json_has_the_issue_field_names_and_p99_only_where_measured() {
        let rows = [
            m("floor-c1", 1000, 0.5, None),
            m("relay-batch", 300, 0.1, Some(7.0)),
        ];
        let j = to_json(&rows);
        let s = j["scenarios"].as_array().unwrap();
        assert_eq!(s[0]["name"], "floor-c1");
        assert_eq!(s[0]["events_per_s"], 2000.0);
        assert_eq!(s[0]["peak_rss_mb"], 12.5);
        assert!(s[0].get("p99_ms").is_none());
        assert_eq!(s[1]["p99_ms"], 7.0);
    }

    #[test]
    fn the_table_compares_with_the_floor_of_the_same_run_and_the_reference() {
        let rows = [
            m("floor-c64", 2000, 1.0, None),
            m("conv-event-c64", 1500, 1.0, None),
        ];
        let t = render(&rows);
        let conv = t.lines().find(|l| l.contains("conv-event-c64")).unwrap();
        assert!(conv.contains("75%"), "{conv}");
        // 1,500 events/s against the reference's 919.
        assert!(conv.contains(&format!("{:.0}×", 1500.0 / 919.0)), "{conv}");
    }
}
