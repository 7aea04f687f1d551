//! `cargo xtask soak --minutes N`: the fault soak (`relay::soak`). Builds the `relay` binary
//! (debug, or `--release`), then runs it against the LinkedIn simulator with every fault at once,
//! SIGKILLing and restarting it at random points. Prints the seed first, the counts on its last
//! line, and exits non-zero when the oracle fails.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::Args;

use crate::util::{Failure, tokio_runtime, workspace_root};

/// Arguments of `soak`.
#[derive(Args, Debug)]
pub struct SoakArgs {
    /// How long events are sent and relay is killed (the drain comes after).
    #[arg(long, default_value_t = 1.0)]
    pub minutes: f64,
    /// Seed of every random choice (default: from the clock; printed either way).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Build and run relay optimised (recommended for long soaks).
    #[arg(long)]
    pub release: bool,
    /// Events per second the client sends, on average.
    #[arg(long, default_value_t = 60)]
    pub rate: u32,
    /// Keep the store, configuration and relay's logs here (default: a temporary directory,
    /// removed when the soak passes).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Use this relay binary instead of building one.
    #[arg(long, value_name = "FILE")]
    pub relay: Option<PathBuf>,
    /// The workspace root (default: found from the current directory).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

/// The cargo arguments that build the relay binary.
pub fn build_args(release: bool) -> Vec<String> {
    let mut args: Vec<String> = ["build", "--quiet", "-p", "relay", "--bin", "relay"]
        .into_iter()
        .map(String::from)
        .collect();
    if release {
        args.push("--release".into());
    }
    args
}

/// Where cargo puts the relay binary of the workspace at `root`.
pub fn relay_binary(root: &Path, release: bool, target_dir: Option<&Path>) -> PathBuf {
    let target = target_dir.map_or_else(|| root.join("target"), Path::to_path_buf);
    target
        .join(if release { "release" } else { "debug" })
        .join(format!("relay{}", std::env::consts::EXE_SUFFIX))
}

/// The soak's length.
pub fn duration(minutes: f64) -> Result<Duration, Failure> {
    if !minutes.is_finite() || minutes <= 0.0 || minutes > 24.0 * 60.0 {
        return Err(Failure::new(format!(
            "--minutes {minutes}: give a number of minutes above 0, at most a day"
        )));
    }
    Ok(Duration::from_secs_f64(minutes * 60.0))
}

/// Runs `soak`.
pub fn run(args: &SoakArgs) -> Result<ExitCode, Failure> {
    let duration = duration(args.minutes)?;
    let relay = match &args.relay {
        Some(bin) => bin.clone(),
        None => {
            let root = workspace_root(args.workspace.as_deref())?;
            let build = build_args(args.release);
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            println!("soak: cargo {}", build.join(" "));
            let status = Command::new(cargo)
                .args(&build)
                .current_dir(&root)
                .status()
                .map_err(|e| Failure::new(format!("cannot run cargo: {e}")))?;
            if !status.success() {
                return Err(Failure::new(format!(
                    "`cargo {}` failed ({status})",
                    build.join(" ")
                )));
            }
            let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from);
            relay_binary(&root, args.release, target.as_deref())
        }
    };
    if !relay.is_file() {
        return Err(Failure::new(format!(
            "no relay binary at {}",
            relay.display()
        )));
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let mut options = relay::soak::SoakOptions::new(relay, duration, seed);
    options.events_per_second = args.rate;
    options.dir = args.dir.clone();
    println!(
        "soak: seed {seed} (again: cargo xtask soak --minutes {} --seed {seed}{}), {} of \
         traffic at {} events/s, relay {}",
        args.minutes,
        if args.release { " --release" } else { "" },
        humanize(duration),
        args.rate,
        options.relay.display()
    );
    let report = tokio_runtime()?
        .block_on(relay::soak::run(&options))
        .map_err(|e| Failure::new(e.to_string()))?;
    println!("{}", report.faults_line());
    for p in &report.problems {
        println!("problem: {p}");
    }
    if !report.passed() {
        println!(
            "relay's store, configuration and logs: {}",
            report.dir.display()
        );
    }
    println!("{}", report.counts_line());
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_relay_debug_or_release_and_finds_it_in_the_target_dir() {
        assert_eq!(
            build_args(false),
            ["build", "--quiet", "-p", "relay", "--bin", "relay"]
        );
        assert_eq!(
            build_args(true).last().map(String::as_str),
            Some("--release")
        );
        let root = Path::new("/ws");
        let exe = std::env::consts::EXE_SUFFIX;
        assert_eq!(
            relay_binary(root, false, None),
            PathBuf::from(format!("/ws/target/debug/relay{exe}"))
        );
        assert_eq!(
            relay_binary(root, true, Some(Path::new("/t"))),
            PathBuf::from(format!("/t/release/relay{exe}"))
        );
    }

    #[test]
    fn minutes_must_be_positive_and_finite() {
        assert_eq!(duration(0.5).ok(), Some(Duration::from_secs(30)));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert_eq!(humanize(Duration::from_secs(600)), "10 min");
        assert_eq!(humanize(Duration::from_secs(30)), "30 s");
    }
}
