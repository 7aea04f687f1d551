//! `cargo xtask bench`: the benchmark table — named scenarios side by side with the floor
//! (bare HTTP on the same server) and the reference's figures — plus the workspace's criterion
//! groups for fine-grained work.
//!
//! * `cargo xtask bench` builds `xtask` optimised, starts the bench server ([`server`]) in its
//!   own process, runs each scenario ([`scenarios`]) in a process of its own (so its peak RSS is
//!   its own) and prints one table; `--only a,b` runs a subset, `--json FILE` writes the
//!   figures, `--seconds N` sets each scenario's measuring time.
//! * `cargo xtask bench --criterion [-p PACKAGE] [FILTER]` runs the criterion groups
//!   (`cargo bench`).
//! * `cargo xtask bench --smoke` (what CI runs) runs every criterion benchmark once, unoptimised,
//!   and every scenario once with a tiny workload: it checks that they work, not how fast.
//!
//! Speed and memory targets live here, never in timed tests.

pub mod relay_scenarios;
pub mod scenarios;
pub mod server;
mod table;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Args;

use crate::util::{Failure, workspace_packages, workspace_root};

/// Arguments of `bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Run each criterion benchmark and each scenario once, unoptimised, to check that they
    /// work (what CI runs), instead of measuring them.
    #[arg(long)]
    pub smoke: bool,
    /// Run the criterion groups (`cargo bench`) instead of the scenario table.
    #[arg(long)]
    pub criterion: bool,
    /// Only these scenarios (comma-separated names, e.g. `floor-c64,conv-event-c64`).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// Write the table as JSON to this file (`{"scenarios": [{"name", "events_per_s",
    /// "peak_rss_mb", "p99_ms"?}]}`).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Measuring time of each timed scenario, in seconds.
    #[arg(long, default_value_t = 4.0, value_name = "SECONDS")]
    pub seconds: f64,
    /// With `--criterion`: only this package's benchmarks (repeatable; default: every package
    /// that has a `benches/` folder).
    #[arg(short = 'p', long = "package", value_name = "PACKAGE")]
    pub packages: Vec<String>,
    /// With `--criterion`: only the benchmarks whose id contains this text (criterion's
    /// filter), e.g. `mapping/default`.
    pub filter: Option<String>,
    /// Print the cargo command instead of running it.
    #[arg(long)]
    pub dry_run: bool,
    /// The workspace root (default: found from the current directory).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

/// The packages of the workspace at `root` that have benchmarks (a `benches/` folder), by name.
pub fn bench_packages(root: &Path) -> Vec<String> {
    workspace_packages(root)
        .into_iter()
        .filter(|(_, dir)| dir.join("benches").is_dir())
        .map(|(name, _)| name)
        .collect()
}

/// The cargo arguments `bench` runs for `packages` (all of them already known to have
/// benchmarks).
pub fn cargo_args(smoke: bool, packages: &[String], filter: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = if smoke {
        // Only the bench targets; criterion runs each benchmark once when its binary is not
        // given `--bench`.
        vec!["test".into(), "--bench".into(), "*".into()]
    } else {
        vec!["bench".into()]
    };
    for p in packages {
        args.push("-p".into());
        args.push(p.clone());
    }
    if let Some(f) = filter {
        args.push("--".into());
        args.push(f.to_string());
    }
    args
}

/// Runs `bench`.
pub fn run(args: &BenchArgs) -> Result<ExitCode, Failure> {
    let root = workspace_root(args.workspace.as_deref())?;
    if args.criterion {
        return run_criterion(args, &root);
    }
    if args.smoke {
        // The criterion benchmarks once each, then the scenarios once each.
        run_criterion(args, &root)?;
    }
    table::run(args, &root)
}

/// Runs the criterion groups (`cargo bench`, or each once with `--smoke`).
fn run_criterion(args: &BenchArgs, root: &Path) -> Result<ExitCode, Failure> {
    let with_benches = bench_packages(root);
    if with_benches.is_empty() {
        return Err(Failure::new(format!(
            "no package of the workspace at {} has a benches/ folder",
            root.display()
        )));
    }
    if let Some(p) = args.packages.iter().find(|p| !with_benches.contains(p)) {
        return Err(Failure::new(format!(
            "package {p:?} has no benchmarks (packages with benchmarks: {})",
            with_benches.join(", ")
        )));
    }
    let packages = if args.packages.is_empty() {
        &with_benches
    } else {
        &args.packages
    };
    let cargo_args = cargo_args(args.smoke, packages, args.filter.as_deref());
    if args.dry_run {
        println!("cargo {}", cargo_args.join(" "));
        return Ok(ExitCode::SUCCESS);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(&cargo_args)
        .current_dir(root)
        .status()
        .map_err(|e| Failure::new(format!("cannot run cargo: {e}")))?;
    if status.success() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure::new(format!(
            "`cargo {}` failed ({status})",
            cargo_args.join(" ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_runs_the_bench_targets_as_tests_and_passes_the_filter_to_criterion() {
        let packages = vec!["actions-core".to_string(), "linkedin-audiences".to_string()];
        assert_eq!(
            cargo_args(true, &packages, Some("mapping/default")),
            [
                "test",
                "--bench",
                "*",
                "-p",
                "actions-core",
                "-p",
                "linkedin-audiences",
                "--",
                "mapping/default"
            ]
        );
        assert_eq!(
            cargo_args(false, &packages[..1], None),
            ["bench", "-p", "actions-core"]
        );
    }

    #[test]
    fn finds_the_packages_that_have_a_benches_folder() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let found = bench_packages(&root);
        for with in ["actions-core", "linkedin-conversions", "linkedin-audiences"] {
            assert!(
                found.iter().any(|f| f == with),
                "{with} missing from {found:?}"
            );
        }
        for without in ["xtask", "actions-testkit", "destination-registry"] {
            assert!(
                !found.iter().any(|f| f == without),
                "{without} in {found:?}"
            );
        }
    }
}
