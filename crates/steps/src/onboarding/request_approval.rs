//! Step `RequestApproval` (`.waitForTaskToken`): stores the task token as a decision,
//! mails the approvers Approve / Deny links, notes the ticket, and marks the record
//! `pending_approval`. The workflow resumes when someone decides ([`crate::decisions::decide`])
//! or fails with `States.Timeout` after `timeout_seconds`.

use jiff::Timestamp;
use onboard_connectors::notify::Mail;
use onboard_domain::notes;
use onboard_store::{Decision, DecisionKind, RecordKind, Status};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::decisions::{decision_links, issue};
use crate::deps::Deps;
use crate::error::StepError;
use crate::mail::{mail_each_once, sender};
use crate::offboarding::Offboarding;
use crate::onboarding::Onboarding;

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
        &onboarding.record.organization,
        "request_approval",
        DecisionKind::Approval,
        &input.task_token,
        input.timeout_seconds,
    )
    .await?;
    let decision = &issued.decision;
    let deadline = notes::approval_requested(
        &onboarding.request.display_name,
        &vars.new_user_approval_email,
        decision.expires_at,
        &vars.time_zone,
    );

    let kind = Kind::Request {
        replaces: issued.generation > 0,
    };
    let what = format!("mail/{}", decision.id);
    mail_each_once(
        deps,
        onboarding.id(),
        "request_approval",
        &what,
        &approvers,
        |to| approval_mail(deps, &onboarding, decision, to, &from, kind),
    )
    .await?;
    onboarding
        .note(
            deps,
            &format!("request_approval-{}", issued.generation),
            &deadline,
        )
        .await?;
    crate::context::record_waiting(
        deps,
        onboarding.id(),
        "request_approval",
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

/// Mails the approvers `decision`'s links again (a fresh decision that replaces
/// an earlier one, [`crate::actions::resend`]); each approver once per decision.
/// Returns the approvers.
pub(crate) async fn mail_again(
    deps: &Deps,
    onboarding: &Onboarding,
    decision: &Decision,
) -> Result<Vec<String>, StepError> {
    let approvers: Vec<&str> = onboarding
        .variables
        .new_user_approval_email
        .iter()
        .map(|a| a.as_str())
        .collect();
    let from = sender(&onboarding.variables)?;
    let kind = Kind::Request { replaces: true };
    mail_each_once(
        deps,
        onboarding.id(),
        "request_approval",
        &format!("mail/{}", decision.id),
        &approvers,
        |to| approval_mail(deps, onboarding, decision, to, &from, kind),
    )
    .await?;
    Ok(approvers.into_iter().map(str::to_owned).collect())
}

/// Which approval mail.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// The request (`replaces`: an earlier request's links no longer work).
    Request { replaces: bool },
    /// A reminder.
    Reminder,
}

/// The approval mail to one approver, with links that name them.
fn approval_mail(
    deps: &Deps,
    onboarding: &Onboarding,
    decision: &Decision,
    approver: &str,
    from: &str,
    kind: Kind,
) -> Mail {
    let vars = &onboarding.variables;
    let name = &onboarding.request.display_name;
    let org = &onboarding.organization.name;
    let subject = match kind {
        Kind::Request { .. } => format!("Approval needed: new user {name} ({org})"),
        Kind::Reminder => format!("Reminder: approval needed for new user {name} ({org})"),
    };
    let mut mail = Mail::builder(from, &[approver], &subject).paragraph(&format!(
        "{org} asks to create a Microsoft 365 user for {name}."
    ));
    for line in notes::onboarding_started(&onboarding.request)
        .lines()
        .skip(1)
    {
        mail = mail.paragraph(line);
    }
    if let Kind::Request { replaces: true } = kind {
        mail = mail.paragraph("This request replaces an earlier one: its links no longer work.");
    }
    let [(_, approve), (_, deny)] = decision_links(deps, decision, Some(approver));
    mail.link("Approve", approve.as_str())
        .link("Deny", deny.as_str())
        .paragraph(&notes::approval_requested(
            name,
            &vars.new_user_approval_email,
            decision.expires_at,
            &vars.time_zone,
        ))
        .build()
}

/// Reminds the approvers of `organization`'s pending approvals every
/// `approval_reminder_hours` (0: never) until they expire; returns the mails sent.
///
/// The local server calls it whenever its clock moves (and on AWS a scheduled
/// rule can); each reminder is sent once, and reminders missed while nothing
/// called are folded into one.
pub async fn remind_approvers(deps: &Deps, organization: &str) -> Result<u32, StepError> {
    let now = deps.clock.now();
    let mut sent = 0;
    let mut cursor = None;
    loop {
        let page = deps
            .store
            .pending_decisions(organization, 100, cursor.as_ref())
            .await?;
        for decision in &page.items {
            if decision.kind != DecisionKind::Approval || now >= decision.expires_at {
                continue;
            }
            let Some(record) = deps.store.get_record(&decision.record_id).await? else {
                continue;
            };
            sent += match record.kind {
                RecordKind::Offboarding => remind_offboarding(deps, decision, now).await?,
                _ => remind_onboarding(deps, decision, now).await?,
            };
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(sent),
        }
    }
}

/// How many reminder periods have passed since `decision` was issued; `None` when
/// reminders are off (`every_hours` = 0) or none is due yet.
fn reminders_due(decision: &Decision, every_hours: u32, now: Timestamp) -> Option<i64> {
    if every_hours == 0 {
        return None;
    }
    let elapsed = now.duration_since(decision.created_at).as_secs();
    let due = elapsed / (i64::from(every_hours) * 3600);
    (due >= 1).then_some(due)
}

/// Reminds the new-user approvers of `decision`; returns the mails sent.
async fn remind_onboarding(
    deps: &Deps,
    decision: &Decision,
    now: Timestamp,
) -> Result<u32, StepError> {
    let onboarding = Onboarding::load(deps, &decision.record_id).await?;
    let vars = &onboarding.variables;
    let Some(due) = reminders_due(decision, vars.approval_reminder_hours.get(), now) else {
        return Ok(0);
    };
    let from = sender(vars)?;
    let step = "request_approval";
    let approvers: Vec<&str> = vars
        .new_user_approval_email
        .iter()
        .map(|a| a.as_str())
        .collect();
    let what = format!("reminder/{}/{due}", decision.id);
    let sent = mail_each_once(deps, onboarding.id(), step, &what, &approvers, |to| {
        approval_mail(deps, &onboarding, decision, to, &from, Kind::Reminder)
    })
    .await?;
    let message = format!("reminder {due} sent to the approvers");
    onboarding.record(deps, step, None, &message).await?;
    Ok(sent)
}

/// Reminds the offboarding approvers of `decision`; returns the mails sent.
async fn remind_offboarding(
    deps: &Deps,
    decision: &Decision,
    now: Timestamp,
) -> Result<u32, StepError> {
    use crate::offboarding::request_offboarding_approval::{
        Kind as OffboardingKind, approval_mail,
    };
    let offboarding = Offboarding::load(deps, &decision.record_id).await?;
    let vars = &offboarding.variables;
    let Some(due) = reminders_due(decision, vars.approval_reminder_hours.get(), now) else {
        return Ok(0);
    };
    let from = sender(vars)?;
    let step = "request_offboarding_approval";
    let approvers: Vec<&str> = vars
        .offboarding_user_approval_email
        .iter()
        .map(|a| a.as_str())
        .collect();
    let what = format!("reminder/{}/{due}", decision.id);
    let sent = mail_each_once(deps, offboarding.id(), step, &what, &approvers, |to| {
        approval_mail(
            deps,
            &offboarding,
            decision,
            to,
            &from,
            OffboardingKind::Reminder,
        )
    })
    .await?;
    let message = format!("reminder {due} sent to the approvers");
    offboarding.record(deps, step, None, &message).await?;
    Ok(sent)
}
