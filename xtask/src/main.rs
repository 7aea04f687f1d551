//! `cargo xtask <command>`: the destination author's toolbox.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod fql_cmd;
mod mapping_cmd;
mod schema_cmd;

/// The destination author's command line.
#[derive(Parser)]
#[command(name = "xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Mapping { cmd } => mapping_cmd::run(cmd),
        Command::Subscription { cmd } => fql_cmd::run(cmd),
        Command::Schema { cmd } => schema_cmd::run(cmd),
    }
}
