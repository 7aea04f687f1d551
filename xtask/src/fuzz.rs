//! `cargo xtask fuzz`: builds the fuzz targets of `fuzz/` and runs each for a while.
//!
//! The engine is libFuzzer (the `libfuzzer-sys` crate, which compiles it from source with the
//! system C++ compiler). Coverage comes from LLVM's SanitizerCoverage, switched on with stable
//! codegen flags (`-Cpasses=sancov-module` and `-Cllvm-args=-sanitizer-coverage-…`), so no
//! nightly toolchain and no `cargo-fuzz` are needed: this command drives `cargo build` itself.
//! The targets are built with debug assertions and overflow checks (an arithmetic overflow is a
//! crash). `--asan` adds AddressSanitizer, which needs `-Zsanitizer=address`: it sets
//! `RUSTC_BOOTSTRAP=1` to allow that flag on the stable compiler.
//!
//! Each run starts from the target's seed corpus (the `conformance/` folders it reads and
//! `fuzz/seeds/<target>/`) and keeps what it finds in `target/fuzz/corpus/<target>/`. A crash
//! leaves its input in `target/fuzz/artifacts/<target>/` and makes the command fail; the last
//! lines print the executions of every target.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::Args;

use crate::util::{Failure, workspace_root};

/// Arguments of `fuzz`.
#[derive(Args, Debug)]
pub struct FuzzArgs {
    /// Seconds to run each target.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Only this target (repeatable; default: all of them).
    #[arg(long = "target", value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Also instrument with AddressSanitizer (sets `RUSTC_BOOTSTRAP=1` for `-Zsanitizer`).
    #[arg(long)]
    pub asan: bool,
    /// Print the build command and each run's command instead of running them.
    #[arg(long)]
    pub dry_run: bool,
    /// The workspace root (default: found from the current directory).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

/// A fuzz target: its name (a bin of `fuzz/`) and its seed folders, relative to the root.
pub struct Target {
    /// The bin's name.
    pub name: &'static str,
    /// Seed folders besides `fuzz/seeds/<name>`.
    pub seeds: &'static [&'static str],
}

/// Every target, in the order they run.
pub const TARGETS: &[Target] = &[
    Target {
        name: "mapping",
        seeds: &["conformance/mapping"],
    },
    Target {
        name: "fql",
        seeds: &["conformance/fql"],
    },
    Target {
        name: "schema",
        seeds: &["conformance/schema"],
    },
    Target {
        name: "event",
        seeds: &["conformance/linkedin"],
    },
    Target {
        name: "settings",
        seeds: &["conformance/linkedin"],
    },
    Target {
        name: "retry_headers",
        seeds: &[],
    },
    Target {
        name: "ingest",
        seeds: &[],
    },
    Target {
        name: "config",
        seeds: &[],
    },
];

/// The `RUSTFLAGS` of the fuzz build: SanitizerCoverage as cargo-fuzz configures it, on stable.
pub fn rustflags(asan: bool) -> Vec<&'static str> {
    let mut flags = vec![
        "--cfg",
        "fuzzing",
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        "-Cforce-frame-pointers",
    ];
    if asan {
        flags.push("-Zsanitizer=address");
    }
    flags
}

/// The host's target triple (`rustc -vV`): the build names it so that `RUSTFLAGS` reach only the
/// fuzzed code, not build scripts and proc macros.
fn host_triple() -> Result<String, Failure> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .map_err(|e| Failure::new(format!("cannot run rustc -vV: {e}")))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| Failure::new("rustc -vV names no host"))
}

/// The libFuzzer arguments of one run: limits (10 s per input, 2 GiB of memory), the corpus
/// (written to) and the seed folders (read).
pub fn run_args(seconds: u64, corpus: &Path, artifacts: &Path, seeds: &[PathBuf]) -> Vec<String> {
    let mut args = vec![
        format!("-max_total_time={seconds}"),
        "-timeout=10".to_string(),
        "-rss_limit_mb=2048".to_string(),
        "-max_len=65536".to_string(),
        "-print_final_stats=1".to_string(),
        format!("-artifact_prefix={}/", artifacts.display()),
        corpus.display().to_string(),
    ];
    args.extend(seeds.iter().map(|s| s.display().to_string()));
    args
}

/// The number of executions libFuzzer reports (`stat::number_of_executed_units: N`, else
/// `Done N runs`).
pub fn executions(log: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| {
            l.strip_prefix("stat::number_of_executed_units:")
                .and_then(|n| n.trim().parse().ok())
        })
        .or_else(|| {
            log.lines().find_map(|l| {
                l.strip_prefix("Done ")
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
            })
        })
}

/// One target's result.
struct Report {
    name: &'static str,
    executions: Option<u64>,
    corpus: usize,
    crashed: bool,
}

/// Runs `fuzz`.
pub fn run(args: &FuzzArgs) -> Result<ExitCode, Failure> {
    let root = workspace_root(args.workspace.as_deref())?;
    let chosen: Vec<&Target> = if args.targets.is_empty() {
        TARGETS.iter().collect()
    } else {
        let mut v = Vec::new();
        for name in &args.targets {
            let t = TARGETS.iter().find(|t| t.name == name).ok_or_else(|| {
                Failure::new(format!(
                    "no fuzz target {name:?} (targets: {})",
                    TARGETS
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            v.push(t);
        }
        v
    };
    let host = host_triple()?;
    let target_dir = root.join("target").join("fuzz");
    let flags = rustflags(args.asan).join(" ");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = root.join("fuzz").join("Cargo.toml");
    let mut build = Command::new(&cargo);
    build
        .args(["build", "--release", "--bins", "--manifest-path"])
        .arg(&manifest)
        .args(["--target", &host, "--target-dir"])
        .arg(&target_dir)
        .env("RUSTFLAGS", &flags)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .current_dir(root.join("fuzz"));
    if args.asan {
        build.env("RUSTC_BOOTSTRAP", "1");
    }
    if args.dry_run {
        println!("RUSTFLAGS={flags:?} {build:?}");
    } else {
        let status = build
            .status()
            .map_err(|e| Failure::new(format!("cannot run cargo: {e}")))?;
        if !status.success() {
            return Err(Failure::new(format!(
                "building the fuzz targets failed ({status})"
            )));
        }
    }
    let bin_dir = target_dir.join(&host).join("release");
    let mut reports = Vec::new();
    for t in chosen {
        let corpus = target_dir.join("corpus").join(t.name);
        let artifacts = target_dir.join("artifacts").join(t.name);
        let mut seeds: Vec<PathBuf> = t.seeds.iter().map(|s| root.join(s)).collect();
        seeds.push(root.join("fuzz").join("seeds").join(t.name));
        seeds.retain(|s| s.is_dir());
        let run_args = run_args(args.seconds, &corpus, &artifacts, &seeds);
        let bin = bin_dir.join(t.name);
        if args.dry_run {
            println!("{} {}", bin.display(), run_args.join(" "));
            continue;
        }
        for dir in [&corpus, &artifacts] {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
        }
        println!("== fuzz {} for {} s", t.name, args.seconds);
        let out = Command::new(&bin)
            .args(&run_args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Failure::new(format!("cannot run {}: {e}", bin.display())))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let crashed = !out.status.success();
        if crashed {
            // The whole log: the panic, the stack and the artifact's path.
            eprintln!("{log}");
        }
        let corpus_size = std::fs::read_dir(&corpus).map_or(0, |d| d.count());
        reports.push(Report {
            name: t.name,
            executions: executions(&log),
            corpus: corpus_size,
            crashed,
        });
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<14} {:>12} {:>8}  result",
        "target", "executions", "corpus"
    );
    for r in &reports {
        println!(
            "{:<14} {:>12} {:>8}  {}",
            r.name,
            r.executions.map_or("?".to_string(), |n| n.to_string()),
            r.corpus,
            if r.crashed {
                "CRASH (input in target/fuzz/artifacts/)"
            } else {
                "ok"
            }
        );
    }
    let crashed: Vec<&str> = reports
        .iter()
        .filter(|r| r.crashed)
        .map(|r| r.name)
        .collect();
    if crashed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure::new(format!(
            "fuzz targets crashed: {}",
            crashed.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_is_a_bin_of_the_fuzz_crate_and_its_seeds_exist() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
        for t in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{}\"", t.name)),
                "{} is not a bin of fuzz/Cargo.toml",
                t.name
            );
            assert!(
                root.join("fuzz/fuzz_targets")
                    .join(format!("{}.rs", t.name))
                    .is_file()
            );
            let mut seeds = t.seeds.iter().map(|s| root.join(s)).collect::<Vec<_>>();
            seeds.push(root.join("fuzz/seeds").join(t.name));
            let files: usize = seeds
                .iter()
                .filter_map(|d| std::fs::read_dir(d).ok())
                .map(|d| d.count())
                .sum();
            assert!(files > 0, "{} has no seeds", t.name);
        }
    }

    #[test]
    fn reads_the_executions_from_libfuzzers_log() {
        let log = "#2\tINITED cov: 10\nDone 81234 runs in 11 second(s)\n\
                   stat::number_of_executed_units: 81235\nstat::peak_rss_mb: 40\n";
        assert_eq!(executions(log), Some(81235));
        assert_eq!(executions("Done 17 runs in 1 second(s)\n"), Some(17));
        assert_eq!(executions("==1== ERROR: libFuzzer: deadly signal\n"), None);
    }

    #[test]
    fn flags_are_stable_unless_asan_is_asked_for() {
        assert!(rustflags(false).iter().all(|f| !f.starts_with("-Z")));
        assert!(rustflags(true).contains(&"-Zsanitizer=address"));
        let args = run_args(
            7,
            Path::new("c"),
            Path::new("a"),
            &[PathBuf::from("s1"), PathBuf::from("s2")],
        );
        assert_eq!(args[0], "-max_total_time=7");
        assert_eq!(&args[args.len() - 3..], ["c", "s1", "s2"]);
    }
}
