//! Steps `MarkScheduled` and `MarkOffboardingScheduled`: before the state machine
//! waits for the start date (the scheduled time), record the `scheduled` status and
//! note the ticket with when the run goes on. Nothing changes before then.

use jiff::Timestamp;
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::case::{Case, CaseId, Workflow};
use crate::deps::Deps;
use crate::error::StepError;

/// The input: the record's id (`onboarding_id`, `offboarding_id`) and until when
/// it waits (`$.plan.start_at`, `$.plan.run_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "W: Workflow")]
pub struct Input<W: Workflow> {
    /// The record.
    #[serde(flatten)]
    pub case: CaseId<W>,
    /// When the run goes on. The names the state machines gave it before (which
    /// executions started then still pass) are read too.
    #[serde(alias = "start_at", alias = "run_at")]
    pub until: Timestamp,
}

/// As `$.scheduled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// When the run goes on.
    pub until: Timestamp,
}

/// Marks the run as waiting for its time.
#[instrument(skip_all, fields(record_id = %input.case.id, step = W::STEPS.mark_scheduled))]
pub async fn mark_scheduled<W: Workflow>(
    deps: &Deps,
    input: Input<W>,
) -> Result<Output, StepError> {
    let step = W::STEPS.mark_scheduled;
    let case = Case::<W>::load(deps, &input.case.id).await?;
    let (text, message) = case
        .request
        .scheduled(input.until, &case.variables.time_zone);
    case.note(deps, step, &text).await?;
    crate::context::record_waiting(
        deps,
        case.id(),
        step,
        Status::Scheduled,
        input.until,
        &message,
    )
    .await?;
    Ok(Output { until: input.until })
}
