//! Accepting a form: what `POST /api/onboardings` and `POST /api/offboardings` do before they start an execution.
//!
//! The form is parsed with the organization's variables; a bad form is
//! [`StepError::InvalidRequest`] with every field error ([`StepError::field_errors`])
//! and nothing is stored. A good one becomes a record whose first status says what
//! the run will wait for first.

use onboard_domain::request::organization_of;
use onboard_domain::{parse_offboarding, parse_onboarding, plan_offboarding, plan_onboarding};
use onboard_store::{NewRecord, Record, RecordKind, Status};
use serde_json::Value;

use crate::context::organization_variables;
use crate::deps::Deps;
use crate::error::StepError;

/// The execution input for an accepted onboarding: `{"onboarding_id": ...}`.
pub fn execution_input(record: &Record) -> Value {
    serde_json::json!({ "onboarding_id": record.id })
}

/// Validates `form` and stores it as onboarding `id` (the caller draws the id;
/// storing the same id twice is `Store.Failed` with `AlreadyExists`).
pub async fn accept_onboarding(deps: &Deps, id: &str, form: &Value) -> Result<Record, StepError> {
    let organization = organization_of(form)?;
    // An unknown organization is a bad field, not a configuration error.
    deps.connections.organization(organization).await?;
    let variables = organization_variables(deps.store.as_ref(), organization).await?;
    let request = parse_onboarding(form, &variables)?;
    let now = deps.clock.now();
    let plan = plan_onboarding(&request, &variables, now)?;
    crate::validate::check_schedule(&plan, &variables, now)?;
    let status = if plan.approval.is_some() {
        Status::PendingApproval
    } else if plan.create_at.is_some() {
        Status::Scheduled
    } else {
        Status::Running
    };
    let record = deps
        .store
        .create_record(NewRecord {
            id: id.to_owned(),
            kind: RecordKind::Onboarding,
            organization: request.organization.clone(),
            status,
            request: form.clone(),
            ticket_id: request.ticket_id.as_ref().map(|t| t.as_str().to_owned()),
            created_at: now,
        })
        .await?;
    Ok(record)
}

/// The execution input for an accepted offboarding: `{"offboarding_id": ...}`.
pub fn offboarding_execution_input(record: &Record) -> Value {
    serde_json::json!({ "offboarding_id": record.id })
}

/// Validates an offboarding `form` (CONTRACT.md §2: `organization`,
/// `user_principal_name`, `ticket_id`, `scheduled_at`, `actions`, `delegate_to`) and
/// stores it as offboarding `id`; then start `statemachine/offboarding.asl.json` with
/// [`offboarding_execution_input`]. A bad form is `Request.Invalid` with
/// [`StepError::field_errors`] and nothing is stored.
pub async fn accept_offboarding(deps: &Deps, id: &str, form: &Value) -> Result<Record, StepError> {
    let organization = organization_of(form)?;
    deps.connections.organization(organization).await?;
    let variables = organization_variables(deps.store.as_ref(), organization).await?;
    let request = parse_offboarding(form, &variables)?;
    let now = deps.clock.now();
    let plan = plan_offboarding(&request, &variables, now)?;
    crate::validate_offboarding::check_schedule(&plan, &variables, now)?;
    let status = if plan.approval.is_some() {
        Status::PendingApproval
    } else if plan.run_at.is_some() {
        Status::Scheduled
    } else {
        Status::Running
    };
    let record = deps
        .store
        .create_record(NewRecord {
            id: id.to_owned(),
            kind: RecordKind::Offboarding,
            organization: request.organization.clone(),
            status,
            request: form.clone(),
            ticket_id: request.ticket_id.as_ref().map(|t| t.as_str().to_owned()),
            created_at: now,
        })
        .await?;
    Ok(record)
}
