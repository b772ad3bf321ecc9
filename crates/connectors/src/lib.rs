//! Onboard's ports to the outside world and their real clients.
//!
//! - [`http`]: the retrying HTTP client every connector uses (timeouts, backoff,
//!   `Retry-After`).
//! - [`error`]: the one error type, classified by what a caller can do about it.
//! - [`metrics`]: calls, errors, throttles, resends, lost answers and latency per
//!   connector, runs per step; Prometheus text and CloudWatch embedded metrics.
//! - [`psa`]: the `Psa` port (tickets, statuses, idempotent notes) and its
//!   ConnectWise Manage, Autotask, HaloPSA and email-only implementations.
//! - [`graph`]: the `Directory` port (Entra ID users, licenses, groups) and its
//!   Microsoft Graph client.
//! - [`exchange`]: the `Exchange` port (mailbox type, permissions, forwarding,
//!   address-list visibility, distribution groups) over Exchange Online's admin
//!   `InvokeCommand` endpoint, with the organization's Graph app.
//! - [`vault`]: `PasswordVault` — IT Glue, Hudu, Password Pusher (and why not Passportal).
//! - [`distributor`]: `Distributor` — Pax8, the idempotent purchase rule, seat polling.
//! - [`notify`]: `Notifier` — SES v2, SNS, SMTP and the sandbox outbox.
//! - [`settings`]: a connector's settings table and the clients built from it,
//!   one reading for `onboard serve` and the Lambdas.
//!
//! Each external system sits behind a narrow trait (a port) so the workflow
//! steps, the Lambda functions and the local server share them unchanged.
//! This crate may depend on `onboard-domain`; it must not depend on the
//! store, the steps, the interpreter or the sandbox.

#![warn(missing_docs)]

pub mod distributor;
pub mod error;
pub mod exchange;
pub mod graph;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod psa;
pub mod settings;
pub mod vault;

pub use error::Error;
