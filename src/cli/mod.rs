//! Command-line subcommands.

pub(crate) mod states;
