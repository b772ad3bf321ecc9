//! Steps `HandleFailure` and `HandleOffboardingFailure`: a step failed for good.
//! Notes the ticket with what failed and what a technician must do (steps already
//! done are in the earlier notes), sets `ticket_status_waiting_input`, records the
//! `failed` status, gives back the seats the run held, and mails `failure_email`
//! when set. The state machine then fails the execution.
//!
//! It must work whatever broke: when the record cannot be loaded (bad variables,
//! an unknown organization), it still records `failed` with the cause.

use onboard_connectors::notify::Mail;
use onboard_domain::notes;
use onboard_store::{RecordUpdate, Status};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::case::{Case, CaseId, Workflow};
use crate::context::update;
use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::key;
use crate::mail::{mail_once, sender};
use crate::onboarding::seat_reservations;

/// What a `Catch` put at `$.failure`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The error name (`Graph.Denied`, `States.Timeout`, ...).
    #[serde(rename = "Error", default)]
    pub error: Option<String>,
    /// The cause: the step's message, or the Lambda error JSON carrying it.
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

/// The input: the record's id (`onboarding_id`, `offboarding_id`), the failed step
/// and the error the state machine caught.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "W: Workflow")]
pub struct Input<W: Workflow> {
    /// The record.
    #[serde(flatten)]
    pub case: CaseId<W>,
    /// The step that failed, as logged (`create_user`).
    pub step: String,
    /// The caught error.
    #[serde(default)]
    pub failure: Failure,
}

/// As `$.handled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// `failed`.
    pub status: Status,
    /// Whether the ticket was noted.
    pub noted: bool,
    /// What the technician is told to do.
    pub technician_action: String,
}

/// What a technician must do about an error, by its name.
pub fn technician_action(error: &str) -> &'static str {
    let (port, class) = error.split_once('.').unwrap_or((error, ""));
    match (port, class) {
        ("Graph", "UserExists") => {
            "choose another username (the form's `username` field) or remove the conflicting account, then submit the request again"
        }
        ("License", "Unavailable") => {
            "assign the license to the user by hand; the rest of the onboarding must be finished by hand too"
        }
        ("License", "SeatsPending") => {
            "check with the distributor that the bought seats reached the tenant, then assign the license and finish the onboarding by hand"
        }
        ("Request", _) => "correct the request and submit it again",
        ("Config", _) => {
            "fix the organization variable or connector setting named above, then submit the request again"
        }
        (_, "Denied") => {
            "check the credentials and permissions Onboard uses for this service, then submit the request again"
        }
        (_, "Throttled" | "Unavailable") => {
            "the service kept failing; check its status and submit the request again (steps already done are not repeated)"
        }
        ("States", "Timeout") => {
            "the step took too long; check the service and submit the request again"
        }
        _ => {
            "read the error above, fix its cause, and submit the request again (steps already done are not repeated)"
        }
    }
}

/// The readable message of a cause: a Lambda error's `errorMessage`, or the text.
pub(crate) fn message_of(cause: &str) -> String {
    serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .or_else(|| v.get("message"))
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cause.trim().to_owned())
}

/// Records a failed run and tells the technicians.
#[instrument(skip_all, fields(record_id = %input.case.id, step = W::STEPS.handle_failure))]
pub async fn handle_failure<W: Workflow>(
    deps: &Deps,
    input: Input<W>,
) -> Result<Output, StepError> {
    let this_step = W::STEPS.handle_failure;
    let id = input.case.id.as_str();
    let error = input.failure.error.as_deref().unwrap_or("Step.Failed");
    let cause = input
        .failure
        .cause
        .as_deref()
        .map(message_of)
        .unwrap_or_default();
    let what_failed = if cause.is_empty() {
        error.to_owned()
    } else {
        format!("{error}: {cause}")
    };
    let action = technician_action(error);
    tracing::warn!(failed_step = %input.step, error, "{} failed", W::NOUN);
    let message = format!("failed at {}: {what_failed}", input.step);
    let failed = RecordUpdate {
        status: Some(Status::Failed),
        ..RecordUpdate::default()
    };

    let case = match Case::<W>::load(deps, id).await {
        Ok(case) => case,
        Err(load_error) => {
            // Nothing but the record can be reached; the record, if any, says why.
            if deps.store.get_record(id).await?.is_some() {
                update(
                    deps,
                    id,
                    this_step,
                    &format!(
                        "{message} (and the {} could not be loaded: {})",
                        W::NOUN,
                        load_error.cause()
                    ),
                    failed,
                )
                .await?;
            }
            return Ok(Output {
                status: Status::Failed,
                noted: false,
                technician_action: action.to_owned(),
            });
        }
    };
    update(deps, case.id(), this_step, &message, failed).await?;
    // A seat bought for this run is free for the next one that needs it.
    if let Err(e) = seat_reservations::give_back_all(deps, &case).await {
        tracing::warn!(error = %e.cause(), "seat reservations not given back; they will expire");
    }
    let text = notes::failed(&input.step, &what_failed, action);
    let noted = case
        .note(deps, &format!("{this_step}-{}", input.step), &text)
        .await?
        .is_some();
    if noted {
        case.set_ticket_status(deps, case.variables.ticket_status_waiting_input.as_deref())
            .await?;
    }
    let to: Vec<&str> = case
        .variables
        .failure_email
        .iter()
        .map(|a| a.as_str())
        .collect();
    if !to.is_empty() {
        let mail = Mail::builder(
            &sender(&case.variables)?,
            &to,
            &format!(
                "{} failed: {} ({})",
                W::TITLE,
                case.request.subject(),
                case.organization.name
            ),
        )
        .paragraph(&text)
        .build();
        mail_once(
            deps,
            &key(case.id(), this_step, &format!("mail/{}", input.step)),
            &mail,
        )
        .await?;
    }
    Ok(Output {
        status: Status::Failed,
        noted,
        technician_action: action.to_owned(),
    })
}
