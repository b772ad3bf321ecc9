//! Step `CompleteOffboarding`: the summary note (every action's outcome, as the
//! ticket's resolution), `ticket_status_workflow_complete`, the `completed` status,
//! and a mail to `onboard_offboard_notification_email` when set.

use onboard_connectors::notify::Mail;
use onboard_domain::notes;
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::key;
use crate::mail::{mail_once, sender};
use crate::offboard_user::ActionResult;
use crate::offboarding::Offboarding;

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
    let vars = &offboarding.variables;
    let summary: Vec<String> = input.actions.iter().map(ActionResult::line).collect();
    let text = notes::offboarding_completed(offboarding.upn(), &summary);
    offboarding
        .resolution_note(deps, "complete_offboarding", &text)
        .await?;
    offboarding
        .set_ticket_status(deps, vars.ticket_status_workflow_complete.as_deref())
        .await?;
    let to: Vec<&str> = vars
        .onboard_offboard_notification_email
        .iter()
        .map(|a| a.as_str())
        .collect();
    if !to.is_empty() {
        let mut mail = Mail::builder(
            &sender(vars)?,
            &to,
            &format!(
                "Offboarding complete: {} ({})",
                offboarding.upn(),
                offboarding.organization.name
            ),
        );
        for paragraph in text.split('\n') {
            mail = mail.paragraph(paragraph);
        }
        mail_once(
            deps,
            &key(offboarding.id(), "complete_offboarding", "mail"),
            &mail.build(),
        )
        .await?;
    }
    offboarding
        .record(
            deps,
            "complete_offboarding",
            Some(Status::Completed),
            &format!("offboarding of {} complete", offboarding.upn()),
        )
        .await?;
    Ok(Output {
        status: Status::Completed,
        summary,
    })
}
