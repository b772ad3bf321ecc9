//! How every workflow's last step ends a run that succeeded, once it has said what
//! was done (`Complete`'s account and license, `CompleteOffboarding`'s actions).

use onboard_connectors::notify::Mail;
use onboard_store::Status;

use crate::case::{Case, Workflow};
use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::key;
use crate::mail::{mail_once, sender};

/// Closes the run: `summary` as the ticket's resolution note,
/// `ticket_status_workflow_complete`, a mail of it to
/// `onboard_offboard_notification_email` when set, and the `completed` status
/// with the timeline line `message`. Each part happens once, however often it is retried.
pub(crate) async fn finish<W: Workflow>(
    deps: &Deps,
    case: &Case<W>,
    summary: &str,
    message: &str,
) -> Result<(), StepError> {
    let step = W::STEPS.complete;
    let vars = &case.variables;
    case.resolution_note(deps, step, summary).await?;
    case.set_ticket_status(deps, vars.ticket_status_workflow_complete.as_deref())
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
                "{} complete: {} ({})",
                W::TITLE,
                case.request.subject(),
                case.organization.name
            ),
        );
        for paragraph in summary.split('\n') {
            mail = mail.paragraph(paragraph);
        }
        mail_once(deps, &key(case.id(), step, "mail"), &mail.build()).await?;
    }
    case.record(deps, step, Some(Status::Completed), message)
        .await
}
