//! (command under construction)

use std::process::ExitCode;

/// Commands of this group.
#[derive(clap::Subcommand)]
pub enum MappingCmd {}

/// Runs a command of this group.
pub fn run(cmd: MappingCmd) -> ExitCode {
    match cmd {}
}
