//! Local simulators of the external APIs Onboard talks to.
//!
//! - [`faults`]: fault injection shared by every simulator (throttling with
//!   `Retry-After`, server errors, latency), set from configuration or at run
//!   time through `/sandbox/faults/{service}`.
//! - [`connectwise`], [`autotask`], [`halopsa`]: the PSA simulators, under
//!   `/sandbox/connectwise/`, `/sandbox/autotask/` and `/sandbox/halopsa/`.
//! - [`graph`]: Microsoft Graph (users, licenses, groups) and its token
//!   endpoint, under `/sandbox/graph`.
//! - [`itglue`], [`hudu`], [`pwpush`]: the password vaults (IT Glue, Hudu,
//!   Password Pusher), each with a seed, a `router` and a state handle.
//! - [`pax8`]: the distributor; bought seats reach the tenant after a delay
//!   through a [`pax8::SeatHook`] (no dependency on the Graph simulator).
//! - [`outbox`]: mail and SMS the sandbox "sent", at `GET /sandbox/outbox`.
//!
//! Each simulator answers on its vendor's own paths, with its vendor's own
//! bodies, status codes and error messages, so a client tested here behaves the
//! same against the real service. Simulators keep their state in memory and
//! are seeded from the `[sandbox]` section of the configuration.
//!
//! Used by `onboard serve --sandbox` and by tests; never by the workflow steps.

#![warn(missing_docs)]

pub mod autotask;
pub mod connectwise;
pub mod faults;
pub mod graph;
pub mod halopsa;
pub mod hudu;
pub mod itglue;
pub mod outbox;
pub mod pax8;
pub mod pwpush;
