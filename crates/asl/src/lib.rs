//! An Amazon States Language interpreter: parse, validate, execute, history, mocks.
//!
//! Module map (parse -> validate -> evaluate):
//! - [`definition`]: typed states parsed from JSON, errors with JSON pointers;
//!   [`validate`] (private) checks the graph.
//! - [`json_path`], [`payload`], [`intrinsics`]: JSONPath, payload templates, `States.*` functions.
//! - [`pipeline`]: the one input/output pipeline every state uses.
//! - [`choice`], [`retry`]: Choice rules, Retry and Catch as pure functions.
//! - [`states`]: one module per state type.
//! - [`engine`]: durable, event-driven executions over an [`store::ExecutionStore`],
//!   timed by a [`clock::Clock`], tasks run by a [`dispatcher::Dispatcher`].
//! - [`execution`]: the durable execution record and its history events (AWS event type names).
//! - [`mock`]: AWS Step Functions Local mock configuration files as a dispatcher.
//!
//! This crate knows nothing of onboarding and must not depend on any other Onboard crate.

#![warn(missing_docs)]

pub mod choice;
pub mod clock;
pub mod definition;
pub mod dispatcher;
pub mod engine;
pub mod error;
pub mod execution;
pub mod intrinsics;
pub mod json_path;
pub mod mock;
pub mod payload;
pub mod pipeline;
pub mod retry;
mod states;
pub mod store;
mod validate;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use dispatcher::{Dispatcher, TaskOutcome, TaskRequest};
pub use engine::{Engine, EngineOptions};
pub use error::{Error, Failure};
pub use execution::{ExecutionRecord, ExecutionStatus, HistoryEvent};
pub use store::{ExecutionStore, MemoryStore};
