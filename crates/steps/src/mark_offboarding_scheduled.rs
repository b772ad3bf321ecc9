//! Step `MarkOffboardingScheduled`: before the state machine waits for the scheduled
//! time, records the `scheduled` status and notes the ticket with when the account
//! will be offboarded. Nothing about the user changes before then.

use jiff::Timestamp;
use onboard_domain::notes;
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::deps::Deps;
use crate::error::StepError;
use crate::offboarding::Offboarding;

/// The input of `MarkOffboardingScheduled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The offboarding record's id.
    pub offboarding_id: String,
    /// When the actions run (`$.plan.run_at`).
    pub run_at: Timestamp,
}

/// As `$.scheduled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// When the actions run.
    pub run_at: Timestamp,
}

/// Marks the offboarding as waiting for its time.
#[instrument(skip_all, fields(offboarding_id = %input.offboarding_id, step = "mark_offboarding_scheduled"))]
pub async fn mark_offboarding_scheduled(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let offboarding = Offboarding::load(deps, &input.offboarding_id).await?;
    let text = notes::offboarding_started(
        offboarding.upn(),
        &offboarding.request.actions,
        Some((input.run_at, &offboarding.variables.time_zone)),
    );
    offboarding
        .note(deps, "mark_offboarding_scheduled", &text)
        .await?;
    crate::context::record_waiting(
        deps,
        offboarding.id(),
        "mark_offboarding_scheduled",
        Status::Scheduled,
        input.run_at,
        &format!(
            "waiting for the scheduled time: the account is offboarded at {}",
            input.run_at
        ),
    )
    .await?;
    Ok(Output {
        run_at: input.run_at,
    })
}
