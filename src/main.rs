//! `onboard`: the command line and the local server.

use clap::{Parser, Subcommand};

/// Microsoft 365 user onboarding and offboarding for managed service providers.
#[derive(Debug, Parser)]
#[command(name = "onboard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {}
}
