//! (command under construction)

use std::process::ExitCode;

/// Commands of this group.
#[derive(clap::Subcommand)]
pub enum SubscriptionCmd {}

/// Runs a command of this group.
pub fn run(cmd: SubscriptionCmd) -> ExitCode {
    match cmd {}
}
