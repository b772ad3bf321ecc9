//! The steps against the sandbox simulators over real sockets and an SQLite store.
//!
//! One test binary (one link on a two-core machine); each module is one concern.

#![allow(clippy::unwrap_used, unreachable_pub, dead_code)] // Test code: a broken fixture should stop the test loudly.

mod decisions;
mod failures;
mod flow;
mod idempotency;
mod intake;
mod offboarding;
mod schedule;
mod seats;
mod statemachine;
mod support;
mod workflow;
