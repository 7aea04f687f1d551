//! `cargo xtask <command>`: the destination author's toolbox.
//!
//! Exit status: 0 on success, 1 on a user error (one line on stderr naming what was wrong, or
//! the problems `validate` found), 2 on a usage error (clap).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use destination_registry::Registry;

mod bench;
mod execute;
mod fql_cmd;
mod fuzz;
mod manifest;
mod mapping_cmd;
mod scaffold;
mod schema_cmd;
mod serve;
mod soak;
mod util;
mod validate;

/// The destination author's command line.
#[derive(Parser)]
#[command(name = "xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scaffold a destination crate in `destinations/<slug>/` and register it.
    NewDestination(scaffold::NewDestinationArgs),
    /// Add an action to a destination made by new-destination.
    NewAction(scaffold::NewActionArgs),
    /// Check every registered destination (mappings, subscriptions, presets, fields, settings).
    Validate(validate::ValidateArgs),
    /// Print (or write) the JSON manifest of every destination.
    Manifest(manifest::ManifestArgs),
    /// Serve destinations over HTTP to try them locally.
    Serve(serve::ServeArgs),
    /// Run events (or a golden case) through an action and print one JSON line.
    Execute(execute::ExecuteArgs),
    /// Mapping kit commands.
    Mapping {
        #[command(subcommand)]
        cmd: mapping_cmd::MappingCmd,
    },
    /// Subscription (FQL) commands.
    Subscription {
        #[command(subcommand)]
        cmd: fql_cmd::SubscriptionCmd,
    },
    /// Field schema commands.
    Schema {
        #[command(subcommand)]
        cmd: schema_cmd::SchemaCmd,
    },
    /// The benchmark table: named scenarios beside the floor and the reference (`--criterion`:
    /// the criterion groups; `--smoke`: everything once, unoptimised, as CI does).
    Bench(bench::BenchArgs),
    /// The benchmark's HTTP server, answering as LinkedIn does (run by `bench`).
    #[command(hide = true)]
    BenchServer {
        /// The loopback port (0: any free one); the address is printed as `listening ADDR`.
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// One benchmark scenario; prints its figures as one JSON line (run by `bench`).
    #[command(hide = true)]
    BenchScenario {
        /// The scenario's name.
        name: String,
        /// The bench server's base URL.
        #[arg(long)]
        url: String,
        /// Measuring time in seconds.
        #[arg(long, default_value_t = 4.0)]
        seconds: f64,
        /// One tiny round.
        #[arg(long)]
        smoke: bool,
    },
    /// Build the fuzz targets of `fuzz/` (libFuzzer, stable rustc) and run each for a while.
    Fuzz(fuzz::FuzzArgs),
    /// The fault soak: relay against the LinkedIn simulator with every fault, SIGKILLed and
    /// restarted at random points; exits non-zero when an accepted event is lost.
    Soak(soak::SoakArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let registry = Registry::builtin();
    let (name, result) = match cli.command {
        Command::NewDestination(args) => ("new-destination", scaffold::new_destination(&args)),
        Command::NewAction(args) => ("new-action", scaffold::new_action(&args)),
        Command::Validate(args) => ("validate", validate::run(&args, &registry)),
        Command::Manifest(args) => ("manifest", manifest::run(&args, &registry)),
        Command::Serve(args) => ("serve", serve::run(&args, &registry)),
        Command::Execute(args) => ("execute", execute::run(&args, &registry)),
        Command::Bench(args) => ("bench", bench::run(&args)),
        Command::BenchServer { port } => (
            "bench-server",
            bench::server::run(port).map(|()| ExitCode::SUCCESS),
        ),
        Command::BenchScenario {
            name,
            url,
            seconds,
            smoke,
        } => (
            "bench-scenario",
            bench::scenarios::run(&name, &url, bench::scenarios::Budget { seconds, smoke })
                .and_then(|m| {
                    let line = serde_json::to_string(&m)
                        .map_err(|e| util::Failure::new(format!("figures: {e}")))?;
                    println!("{line}");
                    Ok(ExitCode::SUCCESS)
                }),
        ),
        Command::Fuzz(args) => ("fuzz", fuzz::run(&args)),
        Command::Soak(args) => ("soak", soak::run(&args)),
        Command::Mapping { cmd } => return mapping_cmd::run(cmd),
        Command::Subscription { cmd } => return fql_cmd::run(cmd),
        Command::Schema { cmd } => return schema_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("xtask {name}: {}", failure.message());
            ExitCode::FAILURE
        }
    }
}
