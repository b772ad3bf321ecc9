//! Onboard's durable state: the [`Store`] port and its two backends.
//!
//! - [`store`]: the `Store` trait every caller uses.
//! - [`model`]: records, statuses (CONTRACT.md §2), timeline events,
//!   decisions, step results, variables and connector settings; paging.
//! - [`token`]: sealing task tokens and execution records at rest (XChaCha20-Poly1305).
//! - [`sqlite`]: the embedded backend for `onboard serve` (one file, WAL),
//!   and in the same file the interpreter's executions and timers
//!   ([`SqliteExecutionStore`], `onboard_asl::ExecutionStore`).
//! - [`dynamodb`]: the AWS backend (single-table design, `docs/dynamodb.md`).
//!
//! Each backend is a feature (`sqlite`, `dynamodb`), so a Lambda links
//! neither SQLite nor the interpreter.
//! - [`error`]: the crate's one error type.
//!
//! This crate must not depend on `onboard-domain`, the steps or the
//! connectors: requests are stored as JSON payloads, so the domain can change
//! its types without a migration here. Nothing here knows the workflow. It
//! depends on the interpreter (`onboard-asl`, which depends on no Onboard
//! crate) only to implement its storage port.

#![warn(missing_docs)]
// The key, cursor and codec helpers of `model` and `token` serve the backends;
// built with neither (as the steps see the crate), they have no caller.
#![cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod error;
pub mod model;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod store;
pub mod token;

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoStore;
pub use error::StoreError;
pub use model::{
    ConnectorSettings, Cursor, Decide, DecideOutcome, Decision, DecisionKind, DecisionState,
    LicenseOutcome, NewDecision, NewRecord, Page, RecentFilter, Record, RecordFilter, RecordKind,
    RecordUpdate, Scope, SecretRef, Status, StoredTemplate, TimelineEvent, Variables,
};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteExecutionStore, SqliteStore};
pub use store::Store;
pub use token::TokenKey;
