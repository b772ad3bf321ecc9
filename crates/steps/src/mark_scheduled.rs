//! Step `MarkScheduled`: before the state machine waits for the start date, records
//! the `scheduled` status and notes the ticket with when the user will be created.

use jiff::Timestamp;
use onboard_domain::notes;
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::context::Onboarding;
use crate::deps::Deps;
use crate::error::StepError;

/// The input of `MarkScheduled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
    /// When the user will be created (`$.plan.start_at`).
    pub start_at: Timestamp,
}

/// As `$.scheduled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// When the user will be created.
    pub start_at: Timestamp,
}

/// Marks the onboarding as waiting for its start date.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "mark_scheduled"))]
pub async fn mark_scheduled(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let text = notes::scheduled_until(
        &onboarding.request.display_name,
        input.start_at,
        &onboarding.variables.time_zone,
    );
    onboarding.note(deps, "mark_scheduled", &text).await?;
    crate::context::record_waiting(
        deps,
        onboarding.id(),
        "mark_scheduled",
        Status::Scheduled,
        input.start_at,
        &format!(
            "waiting for the start date: the user is created at {}",
            input.start_at
        ),
    )
    .await?;
    Ok(Output {
        start_at: input.start_at,
    })
}
