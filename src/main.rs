//! `onboard`: the command line and the local server.

mod cli;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::States(args) => cli::states::run(args),
    }
}
