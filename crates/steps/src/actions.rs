//! A technician's actions on a run that waits, for `POST /api/{kind}s/{id}/cancel`,
//! `/resend` and `PATCH /api/{kind}s/{id}` on both runtimes. Each is noted on the
//! ticket and the timeline, and repeating it changes nothing more:
//!
//! - [`cancel`]: a pending decision is expired and its waiting task failed with
//!   `Run.Cancelled` (the state machine's `Catch` ends in `Cancelled`); a run that
//!   waits for its date is marked `cancelled`, which `CheckSchedule` reads when the
//!   wait loop comes round. Nothing more happens in the tenant.
//! - [`resend`]: the pending approval gets a fresh decision with the same task
//!   token; the old links answer 410; the approvers are mailed the new links.
//! - [`reschedule`]: the record's `waiting_until` moves; `CheckSchedule` waits for it.

use crate::onboarding::seat_reservations;
use jiff::Timestamp;
use onboard_domain::FieldError;
use onboard_store::{
    Decide, DecideOutcome, Decision, DecisionKind, DecisionState, NewDecision, Record, RecordKind,
    RecordUpdate, Status, TimelineEvent,
};
use secrecy::SecretString;

use crate::case::{Case, Workflow, for_kind};
use crate::decisions::TaskCallbacks;
use crate::deps::Deps;
use crate::error::StepError;
use crate::onboarding::Onboarding;

/// Why an action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No run of that kind with that id: 404.
    #[error("no {kind} with id `{id}`")]
    NotFound {
        /// The kind asked for.
        kind: RecordKind,
        /// The id asked for.
        id: String,
    },
    /// The run is not in a state the action applies to: 409, naming its status.
    #[error("{0}")]
    Conflict(String),
    /// The new date is not acceptable: 400 naming the field.
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    /// A step-level failure (store, PSA, mail, resuming the workflow).
    #[error(transparent)]
    Step(#[from] StepError),
}

/// The statuses in which a run waits, and what for.
fn waits_for(status: Status) -> Option<&'static str> {
    match status {
        Status::PendingApproval => Some("an approval"),
        Status::Scheduled => Some("its date"),
        Status::WaitingLicensePurchase => Some("a license purchase decision"),
        _ => None,
    }
}

async fn load(deps: &Deps, kind: RecordKind, id: &str) -> Result<Record, ActionError> {
    match deps.store.get_record(id).await.map_err(StepError::from)? {
        Some(r) if r.kind == kind => Ok(r),
        _ => Err(ActionError::NotFound {
            kind,
            id: id.to_owned(),
        }),
    }
}

/// Adds an internal note to the run's ticket, once per `part`.
async fn note(deps: &Deps, record: &Record, part: &str, text: &str) -> Result<(), StepError> {
    for_kind!(record.kind, W => Case::<W>::load(deps, &record.id)
        .await?
        .note(deps, part, text)
        .await?);
    Ok(())
}

/// Writes `update` with a timeline event for `step`.
async fn record(
    deps: &Deps,
    id: &str,
    step: &str,
    message: String,
    mut update: RecordUpdate,
) -> Result<(), StepError> {
    let now = deps.clock.now();
    update.event = Some(TimelineEvent {
        at: now,
        step: step.to_owned(),
        message,
    });
    deps.store.update_record(id, update, now).await?;
    Ok(())
}

/// The run's pending decisions (the approval or license purchase it waits for).
async fn pending_decisions(deps: &Deps, record: &Record) -> Result<Vec<Decision>, StepError> {
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = deps
            .store
            .pending_decisions(&record.organization, 100, cursor.as_ref())
            .await?;
        found.extend(
            page.items
                .into_iter()
                .filter(|d| d.record_id == record.id && d.state == DecisionState::Pending),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(found),
        }
    }
}

/// A decision a run waits for, and who was asked to take it.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The decision (its kind and deadline).
    pub decision: Decision,
    /// Who it was sent to: the approvers mailed, or for a license purchase the
    /// technicians working the run's ticket.
    pub asked: Vec<String>,
}

/// The decisions `record` waits for, with who was asked (the run page shows them).
pub async fn pending(deps: &Deps, record: &Record) -> Result<Vec<Pending>, StepError> {
    let decisions = pending_decisions(deps, record).await?;
    if decisions.is_empty() {
        return Ok(Vec::new());
    }
    let variables =
        crate::context::organization_variables(deps.store.as_ref(), &record.organization).await?;
    let approvers = for_kind!(record.kind, W => W::approvers(&variables));
    Ok(decisions
        .into_iter()
        .map(|decision| {
            let asked = match decision.kind {
                DecisionKind::Approval => approvers.iter().map(|a| a.as_str().to_owned()).collect(),
                DecisionKind::LicensePurchase => vec![match &record.ticket_id {
                    Some(ticket) => format!("the technicians, on ticket {ticket}"),
                    None => "the technicians, on the run's ticket".to_owned(),
                }],
            };
            Pending { decision, asked }
        })
        .collect())
}

/// Expires a pending decision now, `by` saying why; its links answer 410.
async fn expire(deps: &Deps, decision_id: &str, by: &str) -> Result<DecideOutcome, StepError> {
    Ok(deps
        .store
        .decide(
            decision_id,
            Decide {
                to: DecisionState::Expired,
                by: by.into(),
                at: deps.clock.now(),
            },
        )
        .await?)
}

/// Cancels a waiting run; `by` says who. A run already cancelled answers as it is.
pub async fn cancel(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    kind: RecordKind,
    id: &str,
    by: &str,
) -> Result<Record, ActionError> {
    let run = load(deps, kind, id).await?;
    if run.status == Status::Cancelled {
        return Ok(run);
    }
    let Some(waiting) = waits_for(run.status) else {
        return Err(ActionError::Conflict(format!(
            "the {kind} is `{}`, not waiting: only a run that waits for an approval, its date \
             or a license purchase can be cancelled",
            run.status
        )));
    };
    // The decision first: of a cancel and a click at the same time, one wins.
    let mut tokens: Vec<SecretString> = Vec::new();
    if run.status != Status::Scheduled {
        for decision in pending_decisions(deps, &run).await? {
            let outcome = expire(deps, &decision.id, "cancelled").await?;
            if let DecideOutcome::Decided { task_token, .. } = outcome {
                tokens.push(task_token);
            }
        }
        if tokens.is_empty() {
            return Err(ActionError::Conflict(format!(
                "the {kind} was decided meanwhile: it no longer waits for {waiting}"
            )));
        }
    }
    // A run waiting for its date: cancelled only while it still waits, so that the
    // wait loop's go (which takes it out of `scheduled`) and a cancel never both win.
    let expect_status = (run.status == Status::Scheduled).then_some(Status::Scheduled);
    match record(
        deps,
        id,
        "cancel",
        format!("cancelled by {by} while it waited for {waiting}: nothing more happens"),
        RecordUpdate {
            status: Some(Status::Cancelled),
            expect_status,
            ..RecordUpdate::default()
        },
    )
    .await
    {
        Err(StepError::Store(onboard_store::StoreError::StatusChanged { .. })) => {
            let now = load(deps, kind, id).await?;
            return Err(ActionError::Conflict(format!(
                "the {kind} is `{}` now: its date came meanwhile and it no longer waits",
                now.status
            )));
        }
        other => other?,
    }
    note(
        deps,
        &run,
        "cancel",
        &onboard_domain::notes::run_cancelled(kind.as_str(), by, waiting),
    )
    .await?;
    if kind == RecordKind::Onboarding {
        // A cancelled run assigns no seat: the one held for it is anyone's.
        let onboarding = Onboarding::load(deps, id).await?;
        seat_reservations::give_back_all(deps, &onboarding).await?;
    }
    let error = StepError::Cancelled { by: by.to_owned() };
    for token in &tokens {
        callbacks
            .send_task_failure(token, error.name(), &error.to_string())
            .await
            .map_err(|e| StepError::Internal(format!("cannot stop the waiting task: {e}")))?;
    }
    load(deps, kind, id).await
}

/// Sends the pending approval again with fresh links; the old ones answer 410.
/// `by` says who asked. Returns the approvers mailed.
pub async fn resend(
    deps: &Deps,
    kind: RecordKind,
    id: &str,
    by: &str,
) -> Result<Vec<String>, ActionError> {
    let run = load(deps, kind, id).await?;
    if run.status != Status::PendingApproval {
        return Err(ActionError::Conflict(format!(
            "the {kind} is `{}`: only a pending approval can be sent again",
            run.status
        )));
    }
    let Some(old) = pending_decisions(deps, &run)
        .await?
        .into_iter()
        .find(|d| d.kind == DecisionKind::Approval)
    else {
        return Err(ActionError::Conflict(format!(
            "the {kind} has no pending approval to send again"
        )));
    };
    let token = deps
        .store
        .task_token(&old.id)
        .await
        .map_err(StepError::from)?
        .ok_or_else(|| StepError::Internal(format!("decision {} has no token", old.id)))?;
    let now = deps.clock.now();
    let fresh = deps
        .store
        .create_decision(NewDecision {
            kind: old.kind,
            record_id: run.id.clone(),
            task_token: token,
            expires_at: old.expires_at,
            created_at: now,
        })
        .await
        .map_err(StepError::from)?;
    let superseded = expire(deps, &old.id, "superseded").await?;
    if !matches!(superseded, DecideOutcome::Decided { .. }) {
        // Decided by a click meanwhile: the fresh links must not work either.
        expire(deps, &fresh.id, "superseded").await?;
        return Err(ActionError::Conflict(format!(
            "the {kind} was decided meanwhile: nothing was sent"
        )));
    }
    let approvers = crate::request_approval::mail_again(deps, kind, id, &fresh).await?;
    record(
        deps,
        id,
        "resend",
        format!(
            "approval sent again to {} with fresh links; the earlier links no longer work \
             (asked by {by})",
            approvers.join(", ")
        ),
        RecordUpdate::default(),
    )
    .await?;
    note(
        deps,
        &run,
        &format!("resend-{}", fresh.id),
        &onboard_domain::notes::approval_resent(&approvers, by),
    )
    .await?;
    Ok(approvers)
}

/// Moves the date a scheduled run waits for to `value` (the API's `start_date` of an
/// onboarding, `scheduled_at` of an offboarding, read as the form reads it); `by`
/// says who moved it.
pub async fn reschedule(
    deps: &Deps,
    kind: RecordKind,
    id: &str,
    field: &str,
    value: &serde_json::Value,
    by: &str,
) -> Result<Record, ActionError> {
    let run = load(deps, kind, id).await?;
    if run.status != Status::Scheduled {
        return Err(ActionError::Conflict(format!(
            "the {kind} is `{}`, not `scheduled`: only a run waiting for its date can be moved",
            run.status
        )));
    }
    let variables =
        crate::context::organization_variables(deps.store.as_ref(), &run.organization).await?;
    let mut request = run.request.clone();
    if let Some(map) = request.as_object_mut() {
        map.insert(field.to_owned(), value.clone());
    }
    let at: Timestamp = for_kind!(kind, W => W::parse(&request, &variables)
        .map_err(|e| ActionError::Invalid(e.field_errors().to_vec()))?
        .scheduled_at())
    .ok_or_else(|| ActionError::Invalid(vec![FieldError::new(field, "is required")]))?;
    let now = deps.clock.now();
    if at <= now {
        return Err(ActionError::Invalid(vec![FieldError::new(
            field,
            format!("{at} is not in the future (now is {now})"),
        )]));
    }
    if run.waiting_until == Some(at) {
        return Ok(run);
    }
    let tz = variables.time_zone.zone().clone();
    let shown = at.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z").to_string();
    record(
        deps,
        id,
        "reschedule",
        format!("date moved to {at} by {by}"),
        RecordUpdate {
            waiting_until: Some(at),
            ..RecordUpdate::default()
        },
    )
    .await?;
    note(
        deps,
        &run,
        &format!("reschedule-{}", at.as_second()),
        &onboard_domain::notes::run_rescheduled(kind.as_str(), &shown, by),
    )
    .await?;
    load(deps, kind, id).await
}
