//! `onboard`: the command line and the local server.
//!
//! - [`cli`]: `onboard states run` (the States Language interpreter).
//! - [`serve`]: `onboard serve` (the local runtime: HTTP API, interpreter, store, sandbox).
//! - [`config`]: the typed `onboard.toml`.

mod cli;
mod config;
mod serve;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::States(args) => cli::states::run(args),
        Command::Serve(args) => serve::run(args),
    }
}
