//! `onboard`: the command line and the local server.
//!
//! - [`cli`]: `onboard states run` (the States Language interpreter).
//! - [`serve`]: `onboard serve` (the local runtime: HTTP API, interpreter, store, sandbox).
//! - [`check`]: `onboard check` (a read-only preflight of every configured connector).
//! - [`batch`]: `onboard batch FILE` (a CSV of forms through a running server's batch API).
//! - [`table`]: the plain-text tables they print.
//! - [`config`]: the typed `onboard.toml`.

mod batch;
mod check;
mod cli;
mod config;
mod serve;
mod table;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Microsoft 365 user onboarding and offboarding for managed service providers.
#[derive(Debug, Parser)]
#[command(name = "onboard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Amazon States Language tools: run a state machine locally.
    States(cli::states::StatesArgs),
    /// Run the local server: the HTTP API, the workflow and (by default) the sandbox.
    Serve(serve::ServeArgs),
    /// Check, changing nothing, that every configured connector would work.
    Check(check::CheckArgs),
    /// Send a CSV of forms to a running server: a progress bar, then every row's outcome.
    Batch(batch::BatchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::States(args) => cli::states::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Check(args) => check::run(args),
        Command::Batch(args) => batch::run(args),
    }
}
