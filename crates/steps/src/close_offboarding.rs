//! Step `CloseOffboarding`: ends an offboarding that was not approved (denied, or
//! nobody answered in time): records the status, notes and closes the ticket. The
//! account was not changed.

use onboard_domain::notes;
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

pub use crate::close_request::{Outcome, Output};
use crate::decisions::expire_all;
use crate::deps::Deps;
use crate::error::StepError;
use crate::offboarding::Offboarding;

/// The input of `CloseOffboarding`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The offboarding record's id.
    pub offboarding_id: String,
    /// Why.
    pub outcome: Outcome,
}

/// Closes an offboarding that was not approved.
#[instrument(skip_all, fields(offboarding_id = %input.offboarding_id, step = "close_offboarding"))]
pub async fn close_offboarding(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let offboarding = Offboarding::load(deps, &input.offboarding_id).await?;
    let vars = &offboarding.variables;
    let status = match input.outcome {
        Outcome::Denied => {
            // `decide` noted who denied; the request only needs closing.
            offboarding
                .record(
                    deps,
                    "close_offboarding",
                    Some(Status::Denied),
                    "offboarding denied: the account was not changed",
                )
                .await?;
            Status::Denied
        }
        Outcome::ApprovalTimedOut => {
            expire_all(deps, offboarding.id(), "request_offboarding_approval").await?;
            let text = notes::offboarding_approval_timed_out(
                offboarding.upn(),
                vars.approval_timeout_hours.get(),
            );
            offboarding.note(deps, "close_offboarding", &text).await?;
            offboarding
                .record(
                    deps,
                    "close_offboarding",
                    Some(Status::ApprovalTimedOut),
                    "approval timed out: the account was not changed",
                )
                .await?;
            Status::ApprovalTimedOut
        }
    };
    offboarding
        .set_ticket_status(deps, vars.ticket_status_workflow_complete.as_deref())
        .await?;
    Ok(Output { status })
}
