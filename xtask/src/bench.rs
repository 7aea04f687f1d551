//! `cargo xtask bench`: the workspace's criterion benchmarks — measured (`cargo bench`), or
//! each run once unoptimised as a smoke test (`--smoke`, what CI runs).
//!
//! Speed and memory targets live in these benchmarks, never in timed tests. The figures are
//! thread CPU time where a benchmark says so (`core/benches/support/cpu_time.rs`), so another
//! process on the machine does not inflate them.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Args;

use crate::util::{Failure, workspace_packages, workspace_root};

/// Arguments of `bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Run each benchmark once, unoptimised, to check that it works (what CI runs), instead
    /// of measuring it.
    #[arg(long)]
    pub smoke: bool,
    /// Only this package's benchmarks (repeatable; default: every package that has a
    /// `benches/` folder).
    #[arg(short = 'p', long = "package", value_name = "PACKAGE")]
    pub packages: Vec<String>,
    /// Only the benchmarks whose id contains this text (criterion's filter), e.g.
    /// `mapping/default`.
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
    let with_benches = bench_packages(&root);
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
        .current_dir(&root)
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
