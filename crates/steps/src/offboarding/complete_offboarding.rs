//! Step `CompleteOffboarding`: the summary of the offboarding (every action's
//! outcome), then the run is closed as every workflow closes it
//! (`complete::finish`).

use onboard_domain::notes;
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::complete::finish;
use crate::deps::Deps;
use crate::error::StepError;
use crate::offboarding::Offboarding;
use crate::offboarding::offboard_user::ActionResult;

/// The input of `CompleteOffboarding`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The offboarding record's id.
    pub offboarding_id: String,
    /// What `OffboardUser` did (`$.offboarded.actions`).
    pub actions: Vec<ActionResult>,
}

/// As `$.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// `completed`.
    pub status: Status,
    /// The summary lines.
    pub summary: Vec<String>,
}

/// Completes the offboarding.
#[instrument(skip_all, fields(offboarding_id = %input.offboarding_id, step = "complete_offboarding"))]
pub async fn complete_offboarding(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let offboarding = Offboarding::load(deps, &input.offboarding_id).await?;
    let summary: Vec<String> = input.actions.iter().map(ActionResult::line).collect();
    let text = notes::offboarding_completed(offboarding.upn(), &summary);
    finish(
        deps,
        &offboarding,
        &text,
        &format!("offboarding of {} complete", offboarding.upn()),
    )
    .await?;
    Ok(Output {
        status: Status::Completed,
        summary,
    })
}
