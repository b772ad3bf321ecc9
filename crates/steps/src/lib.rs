//! Onboard's workflow steps: one async function per state of `statemachine/onboarding.asl.json`.
//!
//! Every step is `async fn step(deps: &Deps, input: step::Input) -> Result<step::Output, StepError>`,
//! has one name in five places (state `CreateUser`, function `create_user`, module
//! `create_user`, Lambda `functions/create-user`, log field `step = "create_user"`),
//! and is idempotent: run twice, it creates no second user, ticket, order, note or mail
//! (results and intents are remembered in the store under the onboarding id and step).
//! No secret is in any input, output or log line.
//!
//! - [`deps`]: [`Deps`] (store, [`Connections`], notifier, [`Clock`], link signer).
//! - [`error`]: [`StepError`] and its stable Step Functions error names.
//! - [`dispatch`](mod@dispatch): [`dispatch()`], the registry the interpreter and the Lambdas call.
//! - [`intake`]: [`accept_onboarding`], what `POST /api/onboardings` stores.
//! - [`decisions`]: signed decision links, [`decisions::decide_by_link`] /
//!   [`decisions::decide`] with [`TaskCallbacks`], [`remind_approvers`].
//! - The steps, in workflow order: [`validate`](mod@validate), [`ensure_ticket`](mod@ensure_ticket),
//!   [`request_approval`](mod@request_approval), [`close_request`](mod@close_request),
//!   [`mark_scheduled`](mod@mark_scheduled), [`create_user`](mod@create_user),
//!   [`assign_license`](mod@assign_license), [`purchase_license`](mod@purchase_license),
//!   [`request_license_purchase`](mod@request_license_purchase),
//!   [`record_license_outcome`](mod@record_license_outcome), [`add_groups`](mod@add_groups),
//!   [`add_mailbox_access`](mod@add_mailbox_access) (its wait loop for the new mailbox),
//!   [`deliver_credentials`](mod@deliver_credentials), [`complete`](mod@complete),
//!   [`handle_failure`](mod@handle_failure).
//! - The offboarding steps (`statemachine/offboarding.asl.json`), in workflow order:
//!   [`validate_offboarding`](mod@validate_offboarding),
//!   [`ensure_offboarding_ticket`](mod@ensure_offboarding_ticket),
//!   [`request_offboarding_approval`](mod@request_offboarding_approval),
//!   [`close_offboarding`](mod@close_offboarding),
//!   [`mark_offboarding_scheduled`](mod@mark_offboarding_scheduled),
//!   [`record_restore_point`](mod@record_restore_point), [`offboard_user`](mod@offboard_user),
//!   [`complete_offboarding`](mod@complete_offboarding),
//!   [`handle_offboarding_failure`](mod@handle_offboarding_failure).
//! - [`check_schedule`](mod@check_schedule): both workflows' wait loop (a moved date, a cancelled run).
//! - [`actions`]: a technician's actions on a waiting run: cancel, resend, move its date.
//! - [`restore`](mod@restore): a technician's restore of a completed offboarding from its restore record.
//! - [`plan`](mod@plan): [`plan::plan_onboarding`] and [`plan::preview_offboarding`], what a
//!   run would do, read-only (`POST /api/onboardings/plan`, `POST /api/offboardings/plan`).
//! - [`lookups`]: the pickers' licenses, groups and users of an organization (read-only).
//! - Internal: `context` (loading a run), `offboarding` (loading an offboarding), `idempotency` (remembered results),
//!   `mail` (send-once).
//!
//! This crate depends on the domain, the connectors and the store, never on the
//! sandbox, the interpreter or the server: they depend on it (tests use the sandbox
//! and the interpreter as dev-dependencies).
//!
//! # Wiring it (the local server and the Lambdas)
//!
//! - Build one [`Deps`]: a [`onboard_store::Store`], your [`Connections`] (organization
//!   id -> [`Organization`] with its tenant and UPN domain, and its directory, PSA,
//!   vaults and distributor), a [`onboard_connectors::notify::Notifier`], a [`Clock`]
//!   (the virtual one under `--virtual-clock`) and a [`LinkSigner`] (public URL +
//!   HMAC key of at least 32 bytes).
//! - `POST /api/onboardings`: [`accept_onboarding`] (400 with
//!   [`StepError::field_errors`] when it fails with `Request.Invalid`), then start an
//!   execution of `statemachine/onboarding.asl.json` with [`execution_input`].
//! - `POST /api/offboardings`: [`accept_offboarding`] likewise, then start
//!   `statemachine/offboarding.asl.json` with [`offboarding_execution_input`]. The
//!   record's `removed` holds the restore record once `RecordRestorePoint` ran.
//! - The interpreter's task dispatcher: `${NameFunctionArn}` -> [`dispatch()`] with
//!   `Name`; for `arn:aws:states:::lambda:invoke.waitForTaskToken` the function is
//!   `Parameters.FunctionName` and the payload `Parameters.Payload` (it already carries
//!   `task_token`); a waiting task's step returning `Ok` means "awaiting the callback".
//!   An `Err` fails the task with [`StepError::name`] as error and
//!   [`StepError::cause`] as cause.
//! - Decision links `GET|POST {public_url}/decisions/{id}?...`: parse the query into a
//!   [`decisions::LinkQuery`]; `GET` -> [`decisions::verify_link`] +
//!   [`decisions::describe_decision`]; `POST` -> [`decisions::decide_by_link`] with your
//!   [`TaskCallbacks`] (the interpreter's SendTaskSuccess / SendTaskFailure). Errors
//!   carry their HTTP status (`http_status()`). The pending-approvals page:
//!   `Store::pending_decisions` + [`decisions::decision_links`].
//! - Periodically (and after moving the virtual clock): [`remind_approvers`] for each
//!   organization.
//!
//! # Known limits
//!
//! - A seat bought for one onboarding can be taken by another onboarding of the same
//!   tenant that decides while it is free; the buyer then waits for a seat that does
//!   not come (`License.SeatsPending`, then `HandleFailure` tells the technician).
//! - A retried `DeliverCredentials` that had already saved or sent the first
//!   password cannot recover it (it is never stored): it makes a new one and says
//!   in every message that it replaces the earlier one.
//! - Offboarding: Microsoft Graph v1.0 has no API for mailbox permissions (the
//!   delegate), mailbox forwarding or hiding from the address list (Exchange Online
//!   only), so those actions are noted as `skipped` with the exact Exchange Online
//!   PowerShell cmdlet a technician runs. A synced user's sign-in and password are
//!   skipped too (on-premises AD masters them), and so is the automatic reply of a
//!   user without an Exchange Online mailbox. Authentication methods Graph v1.0
//!   cannot delete (the password; newer types) or refuses to (a phone that is the
//!   user's default MFA method; the simulator does not model defaults) are left and
//!   named in the note for a technician.

#![warn(missing_docs)]

mod cmdlets;
mod complete;
mod context;
mod idempotency;
mod mail;

pub mod case;
pub mod decisions;
pub mod deps;
pub mod dispatch;
pub mod error;
pub mod intake;
pub mod lookups;

pub mod offboarding;
pub mod onboarding;

pub mod actions;
pub mod check_schedule;
pub mod close_request;
pub mod ensure_ticket;
pub mod handle_failure;
pub mod mark_scheduled;
pub mod mfa;
pub mod plan;
pub mod request_approval;

pub use case::{CaseId, Workflow};
pub use context::{organization_variables, variable_layers};
pub use decisions::{LinkSigner, TaskCallbacks};
pub use deps::{Clock, Connections, Deps, Organization, SystemClock};
pub use dispatch::{FUNCTIONS, dispatch};
pub use error::StepError;
pub use intake::{accept, execution_input};
pub use offboarding::restore;
pub use request_approval::remind_approvers;
