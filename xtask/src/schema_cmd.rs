//! (command under construction)

use std::process::ExitCode;

/// Commands of this group.
#[derive(clap::Subcommand)]
pub enum SchemaCmd {}

/// Runs a command of this group.
pub fn run(cmd: SchemaCmd) -> ExitCode {
    match cmd {}
}
