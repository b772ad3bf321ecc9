//! Step `HandleOffboardingFailure`: an offboarding step failed for good. Notes the
//! ticket with what failed and what a technician must do (actions already done are
//! in the earlier notes), sets `ticket_status_waiting_input`, records `failed`, and
//! mails `failure_email` when set. The state machine then fails the execution.

use onboard_connectors::notify::Mail;
use onboard_domain::notes;
use onboard_store::{RecordUpdate, Status};
use tracing::instrument;

use crate::context::update;
use crate::deps::Deps;
use crate::error::StepError;
use crate::handle_failure::{Failure, Output, technician_action};
use crate::idempotency::key;
use crate::mail::{mail_once, sender};
use crate::offboarding::Offboarding;

/// The input of `HandleOffboardingFailure`: the failed step and the caught error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Input {
    /// The offboarding record's id.
    pub offboarding_id: String,
    /// The step that failed, as logged (`offboard_user`).
    pub step: String,
    /// The caught error.
    #[serde(default)]
    pub failure: Failure,
}

/// Records a failed offboarding and tells the technicians.
#[instrument(skip_all, fields(offboarding_id = %input.offboarding_id, step = "handle_offboarding_failure"))]
pub async fn handle_offboarding_failure(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let error = input.failure.error.as_deref().unwrap_or("Step.Failed");
    let cause = input
        .failure
        .cause
        .as_deref()
        .map(crate::handle_failure::message_of)
        .unwrap_or_default();
    let what_failed = if cause.is_empty() {
        error.to_owned()
    } else {
        format!("{error}: {cause}")
    };
    let action = technician_action(error);
    tracing::warn!(failed_step = %input.step, error, "offboarding failed");
    let message = format!("failed at {}: {what_failed}", input.step);
    let failed = RecordUpdate {
        status: Some(Status::Failed),
        ..RecordUpdate::default()
    };
    let offboarding = match Offboarding::load(deps, &input.offboarding_id).await {
        Ok(o) => o,
        Err(load_error) => {
            if deps
                .store
                .get_record(&input.offboarding_id)
                .await?
                .is_some()
            {
                update(
                    deps,
                    &input.offboarding_id,
                    "handle_offboarding_failure",
                    &format!(
                        "{message} (and the offboarding could not be loaded: {})",
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
    update(
        deps,
        offboarding.id(),
        "handle_offboarding_failure",
        &message,
        failed,
    )
    .await?;
    let text = notes::failed(&input.step, &what_failed, action);
    let noted = offboarding
        .note(
            deps,
            &format!("handle_offboarding_failure-{}", input.step),
            &text,
        )
        .await?
        .is_some();
    if noted {
        offboarding
            .set_ticket_status(
                deps,
                offboarding.variables.ticket_status_waiting_input.as_deref(),
            )
            .await?;
    }
    let to: Vec<&str> = offboarding
        .variables
        .failure_email
        .iter()
        .map(|a| a.as_str())
        .collect();
    if !to.is_empty() {
        let mail = Mail::builder(
            &sender(&offboarding.variables)?,
            &to,
            &format!(
                "Offboarding failed: {} ({})",
                offboarding.upn(),
                offboarding.organization.name
            ),
        )
        .paragraph(&text)
        .build();
        mail_once(
            deps,
            &key(
                offboarding.id(),
                "handle_offboarding_failure",
                &format!("mail/{}", input.step),
            ),
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
