//! Steps `CloseRequest` and `CloseOffboarding`: end a run that was not approved
//! (denied, or nobody answered in time): record the status, note and close the
//! ticket. Nothing was created or changed.

use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::case::{Case, CaseId, Workflow};
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

/// The input: the record's id (`onboarding_id`, `offboarding_id`) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "W: Workflow")]
pub struct Input<W: Workflow> {
    /// The record.
    #[serde(flatten)]
    pub case: CaseId<W>,
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
#[instrument(skip_all, fields(record_id = %input.case.id, step = W::STEPS.close))]
pub async fn close_request<W: Workflow>(deps: &Deps, input: Input<W>) -> Result<Output, StepError> {
    let step = W::STEPS.close;
    let case = Case::<W>::load(deps, &input.case.id).await?;
    let vars = &case.variables;
    let status = match input.outcome {
        Outcome::Denied => {
            // `decide` noted who denied; the request only needs closing.
            case.record(deps, step, Some(Status::Denied), W::DENIED)
                .await?;
            Status::Denied
        }
        Outcome::ApprovalTimedOut => {
            expire_all(deps, case.id(), W::STEPS.request_approval).await?;
            let text = case
                .request
                .approval_timed_out_note(vars.approval_timeout_hours.get());
            case.note(deps, step, &text).await?;
            case.record(deps, step, Some(Status::ApprovalTimedOut), W::TIMED_OUT)
                .await?;
            Status::ApprovalTimedOut
        }
    };
    case.set_ticket_status(deps, vars.ticket_status_workflow_complete.as_deref())
        .await?;
    Ok(Output { status })
}
