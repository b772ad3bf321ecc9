//! Step `CloseRequest`: ends an onboarding that was not approved (denied, or nobody
//! answered in time): records the status, notes and closes the ticket. No user exists.

use onboard_domain::notes;
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::context::Onboarding;
use crate::decisions::expire_all;
use crate::deps::Deps;
use crate::error::StepError;

/// Why the request is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The approver denied it.
    Denied,
    /// Nobody approved or denied it before the timeout.
    ApprovalTimedOut,
}

/// The input of `CloseRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
    /// Why.
    pub outcome: Outcome,
}

/// The record's final status, as `$.closed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// `denied` or `approval_timed_out`.
    pub status: Status,
}

/// Closes a request that was not approved.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "close_request"))]
pub async fn close_request(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let vars = &onboarding.variables;
    let status = match input.outcome {
        Outcome::Denied => {
            // `decide` noted who denied; the request only needs closing.
            onboarding
                .record(
                    deps,
                    "close_request",
                    Some(Status::Denied),
                    "request denied: no user was created",
                )
                .await?;
            Status::Denied
        }
        Outcome::ApprovalTimedOut => {
            expire_all(deps, onboarding.id(), "request_approval").await?;
            let text = notes::approval_timed_out(
                &onboarding.request.display_name,
                vars.approval_timeout_hours.get(),
            );
            onboarding.note(deps, "close_request", &text).await?;
            onboarding
                .record(
                    deps,
                    "close_request",
                    Some(Status::ApprovalTimedOut),
                    "approval timed out: no user was created",
                )
                .await?;
            Status::ApprovalTimedOut
        }
    };
    onboarding
        .set_ticket_status(deps, vars.ticket_status_workflow_complete.as_deref())
        .await?;
    Ok(Output { status })
}
