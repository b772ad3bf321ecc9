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

/// As `$.scheduled`: `{"start_at": ...}` of an onboarding, `{"run_at": ...}` of an
/// offboarding ([`Workflow::SCHEDULED_FIELD`], the plan's name for the date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output<W> {
    /// When the run goes on.
    pub until: Timestamp,
    kind: std::marker::PhantomData<fn() -> W>,
}

impl<W: Workflow> Serialize for Output<W> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(W::SCHEDULED_FIELD, &self.until)?;
        map.end()
    }
}

/// Marks the run as waiting for its time.
#[instrument(skip_all, fields(record_id = %input.case.id, step = W::STEPS.mark_scheduled))]
pub async fn mark_scheduled<W: Workflow>(
    deps: &Deps,
    input: Input<W>,
) -> Result<Output<W>, StepError> {
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
    Ok(Output {
        until: input.until,
        kind: std::marker::PhantomData,
    })
}

#[cfg(test)]
mod tests {
    use onboard_domain::{OffboardingRequest, OnboardingRequest};

    use super::*;

    #[test]
    fn the_output_names_the_date_as_the_kinds_plan_does() {
        let until: Timestamp = "2026-12-01T08:00:00Z".parse().unwrap();
        let on = Output::<OnboardingRequest> {
            until,
            kind: std::marker::PhantomData,
        };
        assert_eq!(
            serde_json::to_value(&on).unwrap(),
            serde_json::json!({"start_at": "2026-12-01T08:00:00Z"})
        );
        let off = Output::<OffboardingRequest> {
            until,
            kind: std::marker::PhantomData,
        };
        assert_eq!(
            serde_json::to_value(&off).unwrap(),
            serde_json::json!({"run_at": "2026-12-01T08:00:00Z"})
        );
    }
}
