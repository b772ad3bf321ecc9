//! Step `ValidateOffboarding`: parses the stored offboarding form with the
//! organization's variables, checks that the user exists, and plans the run
//! (approval and its timeout, the scheduled time, the actions).
//!
//! Its output becomes `$.plan`: the Choice states and the wait read it, so every
//! duration the state machine waits comes from here.

use jiff::{SignedDuration, Timestamp};
use onboard_domain::plan::OffboardingPlan;
use onboard_domain::request::OffboardingActions;
use onboard_domain::{DomainError, Variables, plan_offboarding};
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::check_schedule::within_an_execution;
use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::{key, recall, remember};
use crate::offboarding::Offboarding;

/// The input of `ValidateOffboarding` (and of most offboarding steps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The offboarding record's id.
    pub offboarding_id: String,
}

/// The plan of the run, as the state machine reads it at `$.plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The organization id.
    pub organization: String,
    /// The user being offboarded.
    pub user_principal_name: String,
    /// Wait for an approver (`require_approval_for_offboarding_users`).
    pub approval_required: bool,
    /// How long the approval may take (`approval_timeout_hours`), in seconds.
    pub approval_timeout_seconds: u64,
    /// Wait for `run_at` before changing anything.
    pub scheduled: bool,
    /// When to offboard (RFC 3339), when `scheduled`.
    pub run_at: Option<String>,
    /// The actions: the `offboarding_*` variables overridden by the form.
    pub actions: OffboardingActions,
}

/// Refuses a scheduled time the execution could not wait for: the approval wait
/// and a day's margin come on top of the schedule.
pub(crate) fn check_schedule(
    plan: &OffboardingPlan,
    variables: &Variables,
    now: Timestamp,
) -> Result<(), DomainError> {
    let Some(run_at) = plan.run_at else {
        return Ok(());
    };
    let approval = if plan.approval.is_some() {
        SignedDuration::from_hours(i64::from(variables.approval_timeout_hours.get()))
    } else {
        SignedDuration::ZERO
    };
    let on_top = approval + SignedDuration::from_hours(24);
    within_an_execution(run_at, on_top, now, "scheduled_at", "the date")
}

/// Settings a later step needs, checked before anything is changed.
fn preflight(offboarding: &Offboarding, approval: bool) -> Result<(), StepError> {
    if approval && offboarding.variables.send_from_address.is_none() {
        return Err(StepError::Config(
            "variable `send_from_address` must be set: this offboarding mails its approvers".into(),
        ));
    }
    Ok(())
}

/// Validates offboarding `input.offboarding_id` and plans it. A user the tenant
/// does not have is `Request.Invalid`; nothing changes then.
#[instrument(skip_all, fields(offboarding_id = %input.offboarding_id, step = "validate_offboarding"))]
pub async fn validate_offboarding(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let done = key(&input.offboarding_id, "validate_offboarding", "plan");
    if let Some(plan) = recall::<Output>(deps.store.as_ref(), &done).await? {
        return Ok(plan);
    }
    let offboarding = Offboarding::load(deps, &input.offboarding_id).await?;
    let now = deps.clock.now();
    let plan = plan_offboarding(&offboarding.request, &offboarding.variables, now)?;
    check_schedule(&plan, &offboarding.variables, now)?;
    preflight(&offboarding, plan.approval.is_some())?;
    let directory = offboarding.directory(deps).await?;
    let user = offboarding.user(directory.as_ref()).await?;
    let output = Output {
        organization: offboarding.organization.id.clone(),
        user_principal_name: user.user_principal_name.clone(),
        approval_required: plan.approval.is_some(),
        approval_timeout_seconds: u64::from(offboarding.variables.approval_timeout_hours.get())
            * 3600,
        scheduled: plan.run_at.is_some(),
        run_at: plan.run_at.map(|at| at.to_string()),
        actions: offboarding.request.actions,
    };
    let output = remember(deps.store.as_ref(), &done, &output, now).await?;
    let (status, message) = if output.approval_required {
        (
            Status::PendingApproval,
            format!(
                "offboarding of {} validated; approval required",
                output.user_principal_name
            ),
        )
    } else if output.scheduled {
        (
            Status::Scheduled,
            format!(
                "offboarding of {} validated; scheduled",
                output.user_principal_name
            ),
        )
    } else {
        (
            Status::Running,
            format!("offboarding of {} validated", output.user_principal_name),
        )
    };
    crate::context::update(
        deps,
        offboarding.id(),
        "validate_offboarding",
        &message,
        onboard_store::RecordUpdate {
            status: Some(status),
            user_principal_name: Some(output.user_principal_name.clone()),
            ..Default::default()
        },
    )
    .await?;
    Ok(output)
}
