//! Steps `RequestApproval` and `RequestOffboardingApproval` (`.waitForTaskToken`):
//! store the task token as a decision, mail the kind's approvers Approve / Deny
//! links, note the ticket, and mark the record `pending_approval`. Nothing is
//! created or changed until someone decides ([`crate::decisions::decide`]); the
//! workflow fails with `States.Timeout` after `timeout_seconds`.
//!
//! Also the reminders ([`remind_approvers`]) and the links mailed again when a
//! technician resends them ([`crate::actions::resend`]), for every kind.

use jiff::Timestamp;
use onboard_connectors::notify::Mail;
use onboard_store::{Decision, DecisionKind, Status};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::case::{Case, CaseId, Workflow, for_kind};
use crate::decisions::{decision_links, issue};
use crate::deps::Deps;
use crate::error::StepError;
use crate::mail::{mail_each_once, sender};

/// The input: the Lambda payload of the waiting task.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound = "W: Workflow")]
pub struct Input<W: Workflow> {
    /// The record (`onboarding_id`, `offboarding_id`).
    #[serde(flatten)]
    pub case: CaseId<W>,
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

/// The kind's approvers, as the organization's variable lists them.
fn approvers<W: Workflow>(case: &Case<W>) -> Vec<&str> {
    W::approvers(&case.variables)
        .iter()
        .map(|a| a.as_str())
        .collect()
}

/// Asks the organization's approvers of this kind to approve.
#[instrument(skip_all, fields(record_id = %input.case.id, step = W::STEPS.request_approval))]
pub async fn request_approval<W: Workflow>(
    deps: &Deps,
    input: Input<W>,
) -> Result<Output, StepError> {
    let step = W::STEPS.request_approval;
    let case = Case::<W>::load(deps, &input.case.id).await?;
    let vars = &case.variables;
    let approvers = approvers(&case);
    if approvers.is_empty() {
        let (variable, switch) = W::APPROVAL_VARIABLES;
        return Err(StepError::Config(format!(
            "variable `{variable}` must be set because `{switch}` is 1"
        )));
    }
    let from = sender(vars)?;
    let issued = issue(
        deps,
        case.id(),
        &case.record.organization,
        step,
        DecisionKind::Approval,
        &input.task_token,
        input.timeout_seconds,
    )
    .await?;
    let decision = &issued.decision;
    let kind = MailKind::Request {
        replaces: issued.generation > 0,
    };
    let what = format!("mail/{}", decision.id);
    mail_each_once(deps, case.id(), step, &what, &approvers, |to| {
        approval_mail(deps, &case, decision, to, &from, kind)
    })
    .await?;
    let deadline = case
        .request
        .approval_requested_note(vars, decision.expires_at);
    case.note(deps, &format!("{step}-{}", issued.generation), &deadline)
        .await?;
    crate::context::record_waiting(
        deps,
        case.id(),
        step,
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

/// Mails the approvers of record `id` (of any kind) `decision`'s links again: a
/// fresh decision that replaces an earlier one ([`crate::actions::resend`]); each
/// approver once per decision. Returns the approvers.
pub(crate) async fn mail_again(
    deps: &Deps,
    kind: onboard_store::RecordKind,
    id: &str,
    decision: &Decision,
) -> Result<Vec<String>, StepError> {
    async fn again<W: Workflow>(
        deps: &Deps,
        id: &str,
        decision: &Decision,
    ) -> Result<Vec<String>, StepError> {
        let case = Case::<W>::load(deps, id).await?;
        let approvers = approvers(&case);
        let from = sender(&case.variables)?;
        let kind = MailKind::Request { replaces: true };
        mail_each_once(
            deps,
            case.id(),
            W::STEPS.request_approval,
            &format!("mail/{}", decision.id),
            &approvers,
            |to| approval_mail(deps, &case, decision, to, &from, kind),
        )
        .await?;
        Ok(approvers.into_iter().map(str::to_owned).collect())
    }
    for_kind!(kind, W => again::<W>(deps, id, decision).await)
}

/// Which approval mail.
#[derive(Debug, Clone, Copy)]
enum MailKind {
    /// The request (`replaces`: an earlier request's links no longer work).
    Request { replaces: bool },
    /// A reminder.
    Reminder,
}

/// The approval mail to one approver, with links that name them.
fn approval_mail<W: Workflow>(
    deps: &Deps,
    case: &Case<W>,
    decision: &Decision,
    approver: &str,
    from: &str,
    kind: MailKind,
) -> Mail {
    let org = &case.organization.name;
    let (subject, ask) = case
        .request
        .approval_mail(org, matches!(kind, MailKind::Reminder));
    let mut mail = Mail::builder(from, &[approver], &subject).paragraph(&ask);
    for line in case.request.what_it_does().lines().skip(1) {
        mail = mail.paragraph(line);
    }
    if let MailKind::Request { replaces: true } = kind {
        mail = mail.paragraph("This request replaces an earlier one: its links no longer work.");
    }
    let [(_, approve), (_, deny)] = decision_links(deps, decision, Some(approver));
    mail.link("Approve", approve.as_str())
        .link("Deny", deny.as_str())
        .paragraph(
            &case
                .request
                .approval_requested_note(&case.variables, decision.expires_at),
        )
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
            sent += for_kind!(record.kind, W => remind::<W>(deps, decision, now).await?);
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

/// Reminds the approvers of `decision`'s record; returns the mails sent.
async fn remind<W: Workflow>(
    deps: &Deps,
    decision: &Decision,
    now: Timestamp,
) -> Result<u32, StepError> {
    let case = Case::<W>::load(deps, &decision.record_id).await?;
    let vars = &case.variables;
    let Some(due) = reminders_due(decision, vars.approval_reminder_hours.get(), now) else {
        return Ok(0);
    };
    let from = sender(vars)?;
    let step = W::STEPS.request_approval;
    let approvers = approvers(&case);
    let what = format!("reminder/{}/{due}", decision.id);
    let sent = mail_each_once(deps, case.id(), step, &what, &approvers, |to| {
        approval_mail(deps, &case, decision, to, &from, MailKind::Reminder)
    })
    .await?;
    let message = format!("reminder {due} sent to the approvers");
    case.record(deps, step, None, &message).await?;
    Ok(sent)
}
