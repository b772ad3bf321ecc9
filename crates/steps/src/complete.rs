//! Step `Complete`: the summary note (as the ticket's resolution), the
//! `ticket_status_workflow_complete` status, the `completed` status, and a mail to
//! `onboard_offboard_notification_email` when set.

use onboard_connectors::notify::Mail;
use onboard_domain::notes;
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::context::Onboarding;
use crate::create_user::created;
use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::key;
use crate::mail::{mail_once, sender};

/// The input of `Complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
}

/// As `$.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// `completed`.
    pub status: Status,
    /// The user's UPN.
    pub user_principal_name: String,
    /// The summary lines of the resolution note.
    pub summary: Vec<String>,
}

/// Completes the onboarding.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "complete"))]
pub async fn complete(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let user = created(deps, onboarding.id()).await?;
    let record = &onboarding.record;
    let vars = &onboarding.variables;
    let mut summary = vec![format!("Account: {}", user.user_principal_name)];
    if let Some(manager) = &user.manager {
        summary.push(format!("Manager: {manager}"));
    }
    summary.push(format!(
        "License: {}",
        record
            .license_outcome
            .map_or("unknown".to_owned(), |o| o.as_str().replace('_', " "))
    ));
    if let Some(mfa) = crate::validate::planned(deps, onboarding.id())
        .await?
        .and_then(|plan| plan.mfa)
    {
        summary.push(mfa);
    }
    for event in deps.store.timeline(onboarding.id()).await? {
        if matches!(event.step.as_str(), "add_groups" | "deliver_credentials") {
            summary.push(event.message);
        }
    }
    let text = notes::onboarding_completed(
        &onboarding.request.display_name,
        &user.user_principal_name,
        &summary,
    );
    onboarding.resolution_note(deps, "complete", &text).await?;
    onboarding
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
                "Onboarding complete: {} ({})",
                onboarding.request.display_name, onboarding.organization.name
            ),
        );
        for paragraph in text.split('\n') {
            mail = mail.paragraph(paragraph);
        }
        mail_once(
            deps,
            &key(onboarding.id(), "complete", "mail"),
            &mail.build(),
        )
        .await?;
    }
    onboarding
        .record(
            deps,
            "complete",
            Some(Status::Completed),
            &format!("onboarding of {} complete", user.user_principal_name),
        )
        .await?;
    Ok(Output {
        status: Status::Completed,
        user_principal_name: user.user_principal_name,
        summary,
    })
}
