//! Local simulators of the external APIs Onboard talks to.
//!
//! - [`faults`]: fault injection shared by every simulator (throttling with
//!   `Retry-After`, server errors, latency, and writes performed whose answer
//!   is then lost), set from configuration or at run time through
//!   `/sandbox/faults/{service}`.
//! - [`connectwise`], [`autotask`], [`halopsa`]: the PSA simulators, under
//!   `/sandbox/connectwise/`, `/sandbox/autotask/` and `/sandbox/halopsa/`.
//! - [`graph`]: Microsoft Graph (users, licenses, groups) and its token
//!   endpoint, under `/sandbox/graph`.
//! - [`exchange`]: Exchange Online's admin `InvokeCommand` endpoint under
//!   `/sandbox/exchange`, over the Graph simulator's tenants (mailboxes appear
//!   a configurable number of calls after licensing).
//! - [`itglue`], [`hudu`], [`pwpush`]: the password vaults (IT Glue, Hudu,
//!   Password Pusher), each with a seed, a `router` and a state handle.
//! - [`pax8`]: the distributor; bought seats reach the tenant after a delay
//!   through a [`pax8::SeatHook`] (no dependency on the Graph simulator).
//! - [`sherweb`]: the second distributor, on the same [`pax8::SeatHook`].
//! - [`entra`]: Entra ID's OpenID Connect sign-in for people (discovery, JWKS,
//!   authorize, token), under `/sandbox/entra/{tenant}/`.
//! - [`outbox`]: mail and SMS the sandbox "sent", at `GET /sandbox/outbox`.
//! - `tenant_page`: `GET /sandbox`, all of it as one page for people.
//! - [`compose`]: all of the above as one [`Sandbox`], seeded from one
//!   [`SandboxSeed`] (the `[sandbox]` section), on one clock, with one router.
//!
//! Each simulator answers on its vendor's own paths, with its vendor's own
//! bodies, status codes and error messages, so a client tested here behaves the
//! same against the real service. Simulators keep their state in memory and
//! are seeded from the `[sandbox]` section of the configuration.
//!
//! Used by `onboard serve --sandbox` and by tests; never by the workflow steps.
//! Depends on no other Onboard crate (in particular not on `onboard-connectors`).
//!
//! Wiring it into a server:
//!
//! 1. `Sandbox::with_clock(&seed, clock)` with the server's clock (its virtual
//!    clock under `--virtual-clock`), then merge `sandbox.router()`.
//! 2. After moving the virtual clock (`POST /sandbox/clock`), call
//!    `sandbox.run_due()`; on the real clock, `sandbox.spawn_ticker(..)`.
//! 3. One store of messages: the notifier the steps use records into
//!    `sandbox.outbox()`, e.g. `onboard_connectors::notify::MemoryOutbox`
//!    with `.with_observer(move |entry| outbox.push(OutboxMessage { .. }))`.

#![warn(missing_docs)]

pub mod autotask;
pub mod compose;
pub mod connectwise;
pub mod entra;
pub mod exchange;
pub mod faults;
pub mod graph;
pub mod halopsa;
pub mod hudu;
pub mod itglue;
pub mod outbox;
pub mod pax8;
mod psa_book;
pub mod pwpush;
pub mod sherweb;
mod tenant_page;

/// What `GET /sandbox/state` shows instead of a stored secret.
pub(crate) const MASKED: &str = "********";

pub use compose::{Sandbox, SandboxClock, SandboxError, SandboxOrganization, SandboxSeed};
