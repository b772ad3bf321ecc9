//! An Amazon States Language interpreter: parse, validate, execute, history, mocks.
//!
//! Module map (parse -> validate -> evaluate):
//! - [`definition`]: the typed states; [`parse`](mod@parse): parsing them from JSON, errors with JSON pointers;
//!   [`validate`] (private) checks the graph.
//! - [`json_path`], [`payload`], [`intrinsics`]: JSONPath, payload templates, `States.*` functions.
//! - [`pipeline`]: the one input/output pipeline every state uses.
//! - [`choice`], [`retry`]: Choice rules, Retry and Catch as pure functions.
//! - [`states`]: one module per state type.
//! - [`engine`]: durable, event-driven executions over an [`store::ExecutionStore`] (its
//!   public API; `engine/run.rs` moves one execution by one event),
//!   timed by a [`clock::Clock`], tasks run by a [`dispatcher::Dispatcher`].
//! - [`execution`]: the durable execution record and its history events (AWS event type names).
//! - [`mock`]: AWS Step Functions Local mock configuration files as a dispatcher.
//!
//! This crate knows nothing of onboarding and must not depend on any other Onboard crate.
//!
//! ```
//! use onboard_asl::mock::MockDispatcher;
//! use onboard_asl::{Engine, MemoryStore, VirtualClock};
//! use std::sync::Arc;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let clock = Arc::new(VirtualClock::new("2024-01-01T00:00:00Z".parse().unwrap()));
//! let engine = Engine::new(Arc::new(MemoryStore::new()), clock, Arc::new(MockDispatcher::empty()));
//! let sm = engine
//!     .register("hello", r#"{"StartAt":"W","States":{
//!         "W":{"Type":"Wait","Seconds":86400,"Next":"P"},
//!         "P":{"Type":"Pass","Result":"done","ResultPath":"$.r","End":true}}}"#)
//!     .unwrap();
//! let arn = engine.start_execution(&sm, None, serde_json::json!({"a": 1})).await.unwrap();
//! // Parked on the Wait: a record in the store, not a sleeping task.
//! engine.advance(jiff::SignedDuration::from_secs(86_400)).await.unwrap();
//! let rec = engine.describe_execution(&arn).await.unwrap();
//! assert_eq!(rec.output, Some(serde_json::json!({"a": 1, "r": "done"})));
//! # });
//! ```

#![warn(missing_docs)]

pub mod choice;
pub use onboard_clock as clock;
pub mod definition;
pub mod dispatcher;
pub mod engine;
pub mod error;
pub mod execution;
pub mod intrinsics;
pub mod json_path;
pub mod jsonata;
pub mod mock;
pub mod parse;
pub mod payload;
pub mod pipeline;
pub mod retry;
mod states;
pub mod store;
mod validate;
pub mod variables;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use dispatcher::{Dispatcher, TaskOutcome, TaskRequest};
pub use engine::{Engine, EngineOptions};
pub use error::{Error, Failure};
pub use execution::{ExecutionRecord, ExecutionStatus, HistoryEvent};
pub use store::{ExecutionStore, MemoryStore};
