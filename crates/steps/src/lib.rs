//! Onboard's workflow steps: one async function per state of `statemachine/onboarding.asl.json`.
//!
//! Every step is `async fn step(deps: &Deps, input: step::Input) -> Result<step::Output, StepError>`
//! (generic over the [`Workflow`] when both workflows have it),
//! has one name in five places (state `CreateUser`, function `create_user`, module
//! `create_user`, Lambda `functions/create-user`, log field `step = "create_user"`),
//! and is idempotent: run twice, it creates no second user, ticket, order, note or mail
//! (results and intents are remembered in the store under the onboarding id and step).
//! No secret is in any input, output or log line.
//!
//! - [`deps`]: [`Deps`] (store, [`Connections`], notifier, [`Clock`], link signer).
//! - [`error`]: [`StepError`] and its stable Step Functions error names.
//! - [`dispatch`](mod@dispatch): [`dispatch()`], the one step table the interpreter and the Lambdas call.
//! - [`case`]: [`Workflow`], what a kind of request (onboarding, offboarding) says
//!   about itself, and `Case<W>`, one record of a kind as every step loads it.
//! - [`intake`]: [`intake::check`] and [`accept`], what `POST /api/onboardings` and
//!   `POST /api/offboardings` store, for any kind.
//! - [`decisions`]: signed decision links, [`decisions::decide_by_link`] /
//!   [`decisions::decide`] with [`TaskCallbacks`].
//! - [`onboarding`]: the onboarding workflow's own steps, in workflow order
//!   (`validate`, `create_user`, `assign_license`, `purchase_license`,
//!   `request_license_purchase`, `record_license_outcome`, `add_groups`,
//!   `add_mailbox_access` with its wait loop for the new mailbox,
//!   `deliver_credentials`, `complete`).
//! - [`offboarding`]: the offboarding workflow's own steps (`validate_offboarding`,
//!   `record_restore_point`, `offboard_user`, `complete_offboarding`) and a
//!   technician's [`restore`](mod@restore) of a completed offboarding.
//! - The steps both workflows have, each one function generic over the
//!   [`Workflow`] that the step table runs under both state names:
//!   [`ensure_ticket`](mod@ensure_ticket) (`EnsureTicket`, `EnsureOffboardingTicket`),
//!   [`request_approval`](mod@request_approval) (`RequestApproval`,
//!   `RequestOffboardingApproval`, and [`remind_approvers`]),
//!   [`close_request`](mod@close_request) (`CloseRequest`, `CloseOffboarding`),
//!   [`mark_scheduled`](mod@mark_scheduled) (`MarkScheduled`, `MarkOffboardingScheduled`),
//!   [`handle_failure`](mod@handle_failure) (`HandleFailure`, `HandleOffboardingFailure`),
//!   and [`check_schedule`](mod@check_schedule), both workflows' wait loop (a moved
//!   date, a cancelled run). Each workflow's last step closes the run the same way
//!   (`complete::finish`).
//! - [`actions`]: a technician's actions on a waiting run: cancel, resend, move its date.
//! - [`plan`](mod@plan): [`plan::plan_onboarding`] and [`plan::preview_offboarding`], what a
//!   run would do, read-only (`POST /api/onboardings/plan`, `POST /api/offboardings/plan`).
//! - [`lookups`]: the pickers' licenses, groups and users of an organization (read-only).
//! - [`mfa`]: the tenant's MFA protection as Validate and the plan read it.
//! - Internal: `context` (variables, loading a record, ticket and record helpers),
//!   `idempotency` (remembered results), `mail` (send-once), `cmdlets` (Exchange
//!   Online commands shared by onboarding and offboarding).
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
//! - `POST /api/onboardings`: [`intake::check`] of `OnboardingRequest` (400 with
//!   [`StepError::field_errors`] when it fails with `Request.Invalid`), store what it
//!   checked, then start an execution of `statemachine/onboarding.asl.json` with
//!   [`execution_input`].
//! - `POST /api/offboardings`: the same with `OffboardingRequest` and
//!   `statemachine/offboarding.asl.json`. The record's `removed` holds the restore
//!   record once `RecordRestorePoint` ran.
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
pub mod templates;

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
