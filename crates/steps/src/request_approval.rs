//! Step `RequestApproval` (`.waitForTaskToken`): stores the task token as a decision,
//! mails the approvers Approve / Deny links, notes the ticket, and marks the record
//! `pending_approval`. The workflow resumes when someone decides ([`crate::decisions::decide`])
//! or fails with `States.Timeout` after `timeout_seconds`.

use jiff::Timestamp;
use onboard_connectors::notify::Mail;
use onboard_domain::notes;
use onboard_store::{DecisionKind, Status};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::context::Onboarding;
use crate::decisions::issue;
use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::key;
use crate::mail::{mail_once, sender};

/// The input of `RequestApproval`: the Lambda payload of the waiting task.
#[derive(Debug, Clone, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
    /// `$$.Task.Token`: kept sealed in the store, never logged or returned.
    pub task_token: SecretString,
    /// How long the task waits (`$.plan.approval_timeout_seconds`): the links' lifetime.
    pub timeout_seconds: u64,
}

/// What the step did (a waiting task's own output is ignored by the state machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The decision's id.
    pub decision_id: String,
    /// When the links expire.
    pub expires_at: Timestamp,
}

/// Asks the organization's approvers to approve the new user.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "request_approval"))]
pub async fn request_approval(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let vars = &onboarding.variables;
    let approvers: Vec<&str> = vars
        .new_user_approval_email
        .iter()
        .map(|a| a.as_str())
        .collect();
    if approvers.is_empty() {
        return Err(StepError::Config(
            "variable `new_user_approval_email` must be set because `require_approval_for_new_users` is 1"
                .into(),
        ));
    }
    let from = sender(vars)?;
    let issued = issue(
        deps,
        onboarding.id(),
        "request_approval",
        DecisionKind::Approval,
        &input.task_token,
        input.timeout_seconds,
    )
    .await?;
    let decision = &issued.decision;
    let name = &onboarding.request.display_name;
    let deadline = notes::approval_requested(
        name,
        &vars.new_user_approval_email,
        decision.expires_at,
        &vars.time_zone,
    );

    let mut mail = Mail::builder(
        &from,
        &approvers,
        &format!(
            "Approval needed: new user {name} ({})",
            onboarding.organization.name
        ),
    )
    .paragraph(&format!(
        "{} asks to create a Microsoft 365 user for {name}.",
        onboarding.organization.name
    ));
    for line in notes::onboarding_started(&onboarding.request)
        .lines()
        .skip(1)
    {
        mail = mail.paragraph(line);
    }
    if issued.generation > 0 {
        mail = mail.paragraph("This request replaces an earlier one: its links no longer work.");
    }
    let mail = mail
        .link("Approve", issued.yes.as_str())
        .link("Deny", issued.no.as_str())
        .paragraph(&deadline)
        .build();
    mail_once(
        deps,
        &key(
            onboarding.id(),
            "request_approval",
            &format!("mail/{}", decision.id),
        ),
        &mail,
    )
    .await?;
    onboarding
        .note(
            deps,
            &format!("request_approval-{}", issued.generation),
            &deadline,
        )
        .await?;
    onboarding
        .record(
            deps,
            "request_approval",
            Some(Status::PendingApproval),
            &format!(
                "approval requested from {} until {}",
                approvers.join(", "),
                decision.expires_at
            ),
        )
        .await?;
    Ok(Output {
        decision_id: decision.id.clone(),
        expires_at: decision.expires_at,
    })
}
