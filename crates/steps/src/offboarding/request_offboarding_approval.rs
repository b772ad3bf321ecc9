//! Step `RequestOffboardingApproval` (`.waitForTaskToken`): the offboarding flavour of
//! `RequestApproval`. Stores the task token as a decision, mails
//! `offboarding_user_approval_email` Approve / Deny links, notes the ticket, and marks
//! the record `pending_approval`. Nothing about the user changes until someone approves.

use onboard_connectors::notify::Mail;
use onboard_domain::notes;
use onboard_store::{Decision, DecisionKind, Status};
use tracing::instrument;

use crate::decisions::{decision_links, issue};
use crate::deps::Deps;
use crate::error::StepError;
use crate::mail::{mail_each_once, sender};
use crate::offboarding::Offboarding;

pub use crate::onboarding::request_approval::Output;

/// The input of `RequestOffboardingApproval`: the Lambda payload of the waiting task.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Input {
    /// The offboarding record's id.
    pub offboarding_id: String,
    /// `$$.Task.Token`: kept sealed in the store, never logged or returned.
    pub task_token: secrecy::SecretString,
    /// How long the task waits (`$.plan.approval_timeout_seconds`): the links' lifetime.
    pub timeout_seconds: u64,
}

/// Asks the organization's offboarding approvers to approve.
#[instrument(skip_all, fields(offboarding_id = %input.offboarding_id, step = "request_offboarding_approval"))]
pub async fn request_offboarding_approval(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let offboarding = Offboarding::load(deps, &input.offboarding_id).await?;
    let vars = &offboarding.variables;
    let approvers: Vec<&str> = vars
        .offboarding_user_approval_email
        .iter()
        .map(|a| a.as_str())
        .collect();
    if approvers.is_empty() {
        return Err(StepError::Config(
            "variable `offboarding_user_approval_email` must be set because `require_approval_for_offboarding_users` is 1"
                .into(),
        ));
    }
    let from = sender(vars)?;
    let issued = issue(
        deps,
        offboarding.id(),
        &offboarding.record.organization,
        "request_offboarding_approval",
        DecisionKind::Approval,
        &input.task_token,
        input.timeout_seconds,
    )
    .await?;
    let decision = &issued.decision;
    let deadline = notes::offboarding_approval_requested(
        offboarding.upn(),
        &vars.offboarding_user_approval_email,
        decision.expires_at,
        &vars.time_zone,
    );
    let kind = Kind::Request {
        replaces: issued.generation > 0,
    };
    let what = format!("mail/{}", decision.id);
    let step = "request_offboarding_approval";
    mail_each_once(deps, offboarding.id(), step, &what, &approvers, |to| {
        approval_mail(deps, &offboarding, decision, to, &from, kind)
    })
    .await?;
    offboarding
        .note(
            deps,
            &format!("request_offboarding_approval-{}", issued.generation),
            &deadline,
        )
        .await?;
    crate::context::record_waiting(
        deps,
        offboarding.id(),
        "request_offboarding_approval",
        Status::PendingApproval,
        decision.expires_at,
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

/// Mails the offboarding approvers `decision`'s links again (a fresh decision that
/// replaces an earlier one, [`crate::actions::resend`]); each approver once per
/// decision. Returns the approvers.
pub(crate) async fn mail_again(
    deps: &Deps,
    offboarding: &Offboarding,
    decision: &Decision,
) -> Result<Vec<String>, StepError> {
    let approvers: Vec<&str> = offboarding
        .variables
        .offboarding_user_approval_email
        .iter()
        .map(|a| a.as_str())
        .collect();
    let from = sender(&offboarding.variables)?;
    let kind = Kind::Request { replaces: true };
    mail_each_once(
        deps,
        offboarding.id(),
        "request_offboarding_approval",
        &format!("mail/{}", decision.id),
        &approvers,
        |to| approval_mail(deps, offboarding, decision, to, &from, kind),
    )
    .await?;
    Ok(approvers.into_iter().map(str::to_owned).collect())
}

/// Which approval mail.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// The request (`replaces`: an earlier request's links no longer work).
    Request { replaces: bool },
    /// A reminder.
    Reminder,
}

/// The offboarding approval mail to one approver, with links that name them.
pub(crate) fn approval_mail(
    deps: &Deps,
    offboarding: &Offboarding,
    decision: &Decision,
    approver: &str,
    from: &str,
    kind: Kind,
) -> Mail {
    let vars = &offboarding.variables;
    let upn = offboarding.upn();
    let org = &offboarding.organization.name;
    let subject = match kind {
        Kind::Request { .. } => format!("Approval needed: offboard {upn} ({org})"),
        Kind::Reminder => format!("Reminder: approval needed to offboard {upn} ({org})"),
    };
    let [(_, approve), (_, deny)] = decision_links(deps, decision, Some(approver));
    let mut mail = Mail::builder(from, &[approver], &subject).paragraph(&format!(
        "{org} asks to offboard the Microsoft 365 user {upn}."
    ));
    let started = notes::offboarding_started(upn, &offboarding.request.actions, None);
    for line in started.lines().skip(1) {
        mail = mail.paragraph(line);
    }
    if let Kind::Request { replaces: true } = kind {
        mail = mail.paragraph("This request replaces an earlier one: its links no longer work.");
    }
    mail.link("Approve", approve.as_str())
        .link("Deny", deny.as_str())
        .paragraph(&notes::offboarding_approval_requested(
            upn,
            &vars.offboarding_user_approval_email,
            decision.expires_at,
            &vars.time_zone,
        ))
        .build()
}
