//! `onboard serve`: the local runtime (CONTRACT.md §2).
//!
//! - [`app`]: the serve-only state and the router: `onboard_http`'s routes (API,
//!   pages, decision links) around which the serve-only ones (sandbox, clock, health) sit.
//! - [`local`]: [`local::LocalRuntime`], `onboard_http`'s runtime on the interpreter.
//! - [`runtime`]: the interpreter, its step dispatcher, timers and the clock.
//! - [`connections`]: the steps' per-organization connectors, from the configuration.
//! - [`console`]: how the console is served: signed in, open on loopback, or closed.
//! - [`sandbox`]: the simulators, their organizations, the outbox and `POST /sandbox/clock`.

pub(crate) mod app;
pub(crate) mod connections;
pub(crate) mod console;
pub(crate) mod local;
pub(crate) mod runtime;
pub(crate) mod sandbox;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::{Config, ConfigFile};

/// The embedded configuration used without `--config`: the sandbox's organizations.
const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// `onboard serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The configuration file (default: the embedded sandbox configuration).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to listen; port 0 picks a free port (the bound address is printed on stdout).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// The data directory (SQLite database, keys); default `./.onboard`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Run the sandbox simulators under /sandbox/ and point every organization at them.
    #[arg(long)]
    sandbox: bool,
    /// Time moves only through `POST /sandbox/clock` (tests, demos).
    #[arg(long)]
    virtual_clock: bool,
}

/// What the server runs with, after the flags and the file are combined.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) config: Config,
    pub(crate) addr: SocketAddr,
    pub(crate) data_dir: PathBuf,
    pub(crate) sandbox: bool,
    pub(crate) virtual_clock: bool,
}

const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// Reads and checks `path`, or the embedded sandbox configuration without one;
/// the flag says whether it came from a file.
pub(crate) fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<(Config, bool)> {
    let (file, from_file) = match path {
        Some(path) => (ConfigFile::read(path)?, true),
        None => (
            ConfigFile::parse("(embedded defaults)", DEFAULT_CONFIG)?,
            false,
        ),
    };
    Ok((file.check()?, from_file))
}

impl ServeArgs {
    /// Combines the flags with the configuration; fails naming the bad setting.
    pub(crate) fn settings(self) -> anyhow::Result<Settings> {
        let (config, from_file) = load_config(self.config.as_deref())?;
        let addr = match (self.addr, config.addr) {
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => DEFAULT_ADDR.parse()?,
        };
        let data_dir = self
            .data
            .or_else(|| config.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(".onboard"));
        let sandbox = self.sandbox || config.sandbox || !from_file;
        if config
            .sign_in
            .as_ref()
            .is_some_and(|s| s.issuer == crate::config::Issuer::Sandbox)
            && !sandbox
        {
            anyhow::bail!(
                "server.sign_in.issuer: `sandbox` signs people in through the sandbox's issuer, \
                 which runs only with the sandbox (--sandbox or server.sandbox = true)"
            );
        }
        if !addr.ip().is_loopback() {
            if config
                .sign_in
                .as_ref()
                .is_some_and(|s| s.issuer == crate::config::Issuer::Sandbox)
            {
                anyhow::bail!(
                    "server.sign_in.issuer: `sandbox` lets anyone sign in as any demo person; \
                     listening on the non-loopback address {addr} needs a real issuer"
                );
            }
            if !from_file {
                anyhow::bail!(
                    "--addr {addr}: without --config the server listens on loopback only; \
                     write a configuration with server.api_key_sha256 to listen on {}",
                    addr.ip()
                );
            }
            if config.api_key_hashes.is_empty() && config.sign_in.is_none() {
                anyhow::bail!(
                    "server.api_key_sha256: listening on the non-loopback address {addr} needs \
                     at least one API key hash, or [server.sign_in] for people to sign in"
                );
            }
        }
        Ok(Settings {
            config,
            addr,
            data_dir,
            sandbox,
            virtual_clock: self.virtual_clock,
        })
    }
}

/// Runs `onboard serve` to its end (a signal).
pub(crate) fn run(args: ServeArgs) -> ExitCode {
    init_tracing();
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(app::serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ONBOARD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    // Logs go to stderr: stdout carries the bound address for scripts and tests.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only where a terminal reads them, not in files or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
