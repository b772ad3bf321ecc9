//! Deciding, once, and resuming the workflow: [`decide`], [`decide_by_link`], [`resume`].

use async_trait::async_trait;
use jiff::Timestamp;
use onboard_store::{
    Decide, DecideOutcome, Decision, DecisionKind, DecisionState, RecordKind, RecordUpdate,
    StoreError,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::case::{Case, Workflow, for_kind};
use crate::context::update;
use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::{key, recall, remember};
use crate::onboarding::Onboarding;

use super::links::*;

/// A failure to resume a workflow.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CallbackError {
    /// What went wrong.
    pub message: String,
    /// What it means for the decision (and the HTTP answer).
    pub kind: CallbackFailure,
    /// The cause.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CallbackError {
    /// A callback error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: CallbackFailure::Failed,
            source: None,
        }
    }

    /// The same error, of `kind`.
    pub fn with_kind(mut self, kind: CallbackFailure) -> Self {
        self.kind = kind;
        self
    }
}

/// Why a callback failed, as far as a decision link's answer is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallbackFailure {
    /// The runtime refused the callback for another reason: 502, [`resume`] may retry.
    #[default]
    Failed,
    /// The runtime could not be reached or is throttling: 503, try again later.
    Unavailable,
    /// The waiting task timed out before the decision reached it (Step Functions
    /// `TaskTimedOut`): 410, the workflow went on without it.
    TimedOut,
    /// The token no longer names a waiting task (`InvalidToken`, `TaskDoesNotExist`:
    /// resumed already, or the execution ended): 409.
    Closed,
}

impl CallbackFailure {
    /// Whether resuming again cannot help.
    pub fn is_final(self) -> bool {
        matches!(self, CallbackFailure::TimedOut | CallbackFailure::Closed)
    }
}

/// Resumes a task waiting for a token: the local server implements it with its
/// interpreter, the AWS API with `SendTaskSuccess` / `SendTaskFailure`.
#[async_trait]
pub trait TaskCallbacks: Send + Sync {
    /// Ends the waiting task successfully with `output` (no secret in it).
    async fn send_task_success(
        &self,
        task_token: &SecretString,
        output: serde_json::Value,
    ) -> Result<(), CallbackError>;

    /// Fails the waiting task with `error` (a [`StepError::name`]) and `cause`.
    async fn send_task_failure(
        &self,
        task_token: &SecretString,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError>;
}

/// Why [`decide`] did not decide.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// Someone decided first: 409, with who and when.
    #[error("already {} by {} at {}", .decision.state, .decision.decided_by.as_deref().unwrap_or("someone"), .decision.decided_at.map(|t| t.to_string()).unwrap_or_default())]
    AlreadyDecided {
        /// The decision as the winner left it.
        decision: Decision,
    },
    /// The decision expired before this click: 410.
    #[error("this decision expired at {}", .decision.expires_at)]
    Expired {
        /// The decision.
        decision: Decision,
    },
    /// No such decision: 404.
    #[error("this decision does not exist")]
    Unknown,
    /// The action does not fit the decision (approve a license purchase): 403.
    #[error("`{action}` does not decide a {kind} decision")]
    WrongAction {
        /// The action asked.
        action: Action,
        /// The decision's kind.
        kind: DecisionKind,
    },
    /// Decided, but the workflow could not be resumed: 502, 503, 410 or 409 by
    /// [`CallbackError::kind`]. [`resume`] retries.
    #[error("decided, but the workflow could not be resumed")]
    Resume(#[source] CallbackError),
    /// The store or the ticket failed: 503.
    #[error("the decision could not be recorded")]
    Step(#[source] StepError),
    /// The link itself is refused (403 tampered, 404 unknown, 410 expired).
    #[error(transparent)]
    Link(#[from] LinkError),
}

impl DecideError {
    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            DecideError::AlreadyDecided { .. } => 409,
            DecideError::Expired { .. } => 410,
            DecideError::Unknown => 404,
            DecideError::WrongAction { .. } => 403,
            DecideError::Resume(e) => match e.kind {
                CallbackFailure::Failed => 502,
                CallbackFailure::Unavailable => 503,
                CallbackFailure::TimedOut => 410,
                CallbackFailure::Closed => 409,
            },
            DecideError::Step(_) => 503,
            DecideError::Link(e) => e.http_status(),
        }
    }
}

impl From<StepError> for DecideError {
    fn from(e: StepError) -> Self {
        DecideError::Step(e)
    }
}

impl From<StoreError> for DecideError {
    fn from(e: StoreError) -> Self {
        DecideError::Step(e.into())
    }
}

/// The output a resumed task gets (`$.approval` / `$.purchase`): no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionOutput {
    /// `approved` or `confirmed`.
    pub decision: DecisionState,
    /// Who decided.
    pub decided_by: String,
    /// When.
    pub decided_at: Timestamp,
}

/// Decides `decision_id` with `action` for `decided_by` (an address or a name),
/// once: the winner resumes the workflow, then notes the ticket and the timeline
/// with who decided (a failure to note is logged, not returned: the decision
/// stands); later callers get [`DecideError::AlreadyDecided`].
#[tracing::instrument(skip_all, fields(decision_id = %decision_id, action = %action))]
pub async fn decide(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    decision_id: &str,
    action: Action,
    decided_by: &str,
) -> Result<Decision, DecideError> {
    let current = deps
        .store
        .get_decision(decision_id)
        .await?
        .ok_or(DecideError::Unknown)?;
    if current.kind != action.kind() {
        return Err(DecideError::WrongAction {
            action,
            kind: current.kind,
        });
    }
    let by = decided_by.trim();
    let by = if by.is_empty() { "someone" } else { by };
    let outcome = deps
        .store
        .decide(
            decision_id,
            Decide {
                to: action.state(),
                by: by.to_owned(),
                at: deps.clock.now(),
            },
        )
        .await?;
    let (decision, token) = match outcome {
        DecideOutcome::Decided {
            decision,
            task_token,
        } => (decision, task_token),
        DecideOutcome::AlreadyDecided(decision) => {
            return Err(DecideError::AlreadyDecided { decision });
        }
        DecideOutcome::Expired(decision) => return Err(DecideError::Expired { decision }),
        DecideOutcome::Unknown => return Err(DecideError::Unknown),
    };
    tracing::info!(state = %decision.state, "decision won");
    // The timeline and the ticket say who decided before the workflow goes on, so
    // the decision stands where it happened, before the steps it released. A
    // failure to note is logged, not returned: the decision is taken, and the
    // workflow must hear of it.
    if let Err(e) = record_decision_once(deps, &decision, action, by).await {
        tracing::error!(error = e.name(), cause = %e.cause(), "decided, but the ticket or the timeline could not say so");
    }
    send(deps, callbacks, &decision, &token).await?;
    Ok(decision)
}

/// What `POST` on a decision link does: [`verify_link`], then [`decide`] with the
/// link's action, by the link's signed recipient (or "an approver" / "a
/// technician" for a link that names nobody). A name the person typed on the page
/// is only an annotation beside that: anyone holding the link can type anything.
/// Every refusal carries its HTTP status ([`DecideError::http_status`]).
pub async fn decide_by_link(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    decision_id: &str,
    query: &LinkQuery,
    typed_name: Option<&str>,
) -> Result<Decision, DecideError> {
    let link = verify_link(deps, decision_id, query).await?;
    let by = decider(&link, typed_name);
    decide(deps, callbacks, decision_id, link.action, &by).await
}

/// Longest typed name kept as an annotation (characters).
const MAX_TYPED_NAME: usize = 120;

/// Who decides through `link`: its signed recipient, with what the person typed
/// (control characters dropped, shortened) as an annotation.
fn decider(link: &VerifiedLink, typed_name: Option<&str>) -> String {
    let signed = link.recipient.clone().unwrap_or_else(|| {
        match link.decision.kind {
            DecisionKind::Approval => "an approver",
            DecisionKind::LicensePurchase => "a technician",
        }
        .to_owned()
    });
    let typed: String = typed_name
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TYPED_NAME)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if typed.is_empty() || typed.eq_ignore_ascii_case(&signed) {
        signed
    } else {
        format!("{signed} (who typed the name \"{typed}\")")
    }
}

/// Resumes the workflow of a decided decision again (after [`DecideError::Resume`]).
/// Answers `Ok(false)` when it was resumed already or is still pending.
pub async fn resume(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    decision_id: &str,
) -> Result<bool, DecideError> {
    let decision = deps
        .store
        .get_decision(decision_id)
        .await?
        .ok_or(DecideError::Unknown)?;
    if matches!(
        decision.state,
        DecisionState::Pending | DecisionState::Expired
    ) {
        return Ok(false);
    }
    if recall::<bool>(deps.store.as_ref(), &resumed_key(&decision))
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let token = deps
        .store
        .task_token(decision_id)
        .await?
        .ok_or(DecideError::Unknown)?;
    send(deps, callbacks, &decision, &token).await?;
    let action = match decision.state {
        DecisionState::Approved => Action::Approve,
        DecisionState::Denied => Action::Deny,
        DecisionState::Confirmed => Action::Confirm,
        _ => Action::Reject,
    };
    let by = decision.decided_by.clone().unwrap_or_default();
    if let Err(e) = record_decision_once(deps, &decision, action, &by).await {
        tracing::error!(error = e.name(), cause = %e.cause(), "resumed, but the ticket or the timeline could not say so");
    }
    Ok(true)
}

fn recorded_key(decision: &Decision) -> String {
    key(
        &decision.record_id,
        "decision",
        &format!("{}/recorded", decision.id),
    )
}

/// [`record_decision`] unless it was done already (a resume after a failed
/// callback would otherwise write the timeline line twice; the ticket note is
/// keyed and posts once anyway).
async fn record_decision_once(
    deps: &Deps,
    decision: &Decision,
    action: Action,
    by: &str,
) -> Result<(), StepError> {
    let marker = recorded_key(decision);
    if recall::<bool>(deps.store.as_ref(), &marker)
        .await?
        .is_some()
    {
        return Ok(());
    }
    record_decision(deps, decision, action, by).await?;
    remember(deps.store.as_ref(), &marker, &true, deps.clock.now()).await?;
    Ok(())
}

fn resumed_key(decision: &Decision) -> String {
    key(
        &decision.record_id,
        "decision",
        &format!("{}/resumed", decision.id),
    )
}

async fn send(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    decision: &Decision,
    token: &SecretString,
) -> Result<(), DecideError> {
    let by = decision.decided_by.clone().unwrap_or_default();
    let result = match decision.state {
        DecisionState::Approved | DecisionState::Confirmed => {
            let output = DecisionOutput {
                decision: decision.state,
                decided_by: by,
                decided_at: decision.decided_at.unwrap_or_else(|| deps.clock.now()),
            };
            let json = serde_json::to_value(&output)
                .map_err(|e| StepError::Internal(format!("cannot encode decision: {e}")))?;
            callbacks.send_task_success(token, json).await
        }
        DecisionState::Denied => {
            let error = StepError::ApprovalDenied { by };
            callbacks
                .send_task_failure(token, error.name(), &error.to_string())
                .await
        }
        DecisionState::Rejected => {
            let error = StepError::PurchaseRejected { by };
            callbacks
                .send_task_failure(token, error.name(), &error.to_string())
                .await
        }
        DecisionState::Pending | DecisionState::Expired => return Ok(()),
    };
    result.map_err(DecideError::Resume)?;
    remember(
        deps.store.as_ref(),
        &resumed_key(decision),
        &true,
        deps.clock.now(),
    )
    .await?;
    Ok(())
}

/// Notes the ticket and the timeline with who decided. The status is left to the
/// workflow's next step (it may already have run: the task was resumed first).
async fn record_decision(
    deps: &Deps,
    decision: &Decision,
    action: Action,
    by: &str,
) -> Result<(), StepError> {
    let (step, id) = match action {
        Action::Approve | Action::Deny => {
            let kind = deps
                .store
                .get_record(&decision.record_id)
                .await?
                .map_or(RecordKind::Onboarding, |r| r.kind);
            for_kind!(kind, W => {
                let case = Case::<W>::load(deps, &decision.record_id).await?;
                let text = case
                    .request
                    .approval_decided_note(action == Action::Approve, by);
                case.note(deps, &format!("decision-{}", decision.id), &text).await?;
                (W::STEPS.request_approval, case.id().to_owned())
            })
        }
        Action::Confirm | Action::Reject => {
            let onboarding = Onboarding::load(deps, &decision.record_id).await?;
            let licenses = &onboarding.request.licenses;
            let text = match action {
                Action::Confirm => {
                    onboard_domain::notes::license_purchase_confirmed(licenses, Some(by))
                }
                _ => format!(
                    "{by} rejected the purchase of {}.",
                    licenses
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            onboarding
                .note(deps, &format!("decision-{}", decision.id), &text)
                .await?;
            ("request_license_purchase", onboarding.id().to_owned())
        }
    };
    update(
        deps,
        &id,
        step,
        &format!("{} by {by}", decision.state),
        RecordUpdate::default(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_failure_answers_by_what_it_means_for_the_decision() {
        let status =
            |kind| DecideError::Resume(CallbackError::new("x").with_kind(kind)).http_status();
        assert_eq!(status(CallbackFailure::Failed), 502);
        assert_eq!(status(CallbackFailure::Unavailable), 503);
        assert_eq!(status(CallbackFailure::TimedOut), 410);
        assert_eq!(status(CallbackFailure::Closed), 409);
        assert_eq!(CallbackError::new("x").kind, CallbackFailure::Failed);
        assert!(CallbackFailure::Closed.is_final() && CallbackFailure::TimedOut.is_final());
        assert!(!CallbackFailure::Unavailable.is_final() && !CallbackFailure::Failed.is_final());
    }
}
