//! A technician's actions on a waiting run (CONTRACT.md §4), the same for onboardings
//! and offboardings and on both runtimes (the steps' [`onboard_steps::actions`]):
//!
//! - `POST /api/{kind}s/{id}/cancel` -> 200 with the run, status `cancelled`;
//!   a run that does not wait -> 409 naming its status.
//! - `POST /api/{kind}s/{id}/resend` -> 200 with the run; the pending approval's
//!   fresh links are mailed, the old ones answer 410.
//! - `PATCH /api/{kind}s/{id}` `{"start_date"}` (an offboarding also takes
//!   `scheduled_at`) while `scheduled` -> 200 with the run; bad dates 400, another
//!   status 409.
//! - `POST /api/offboardings/{id}/restore` (a completed offboarding) -> 200 with
//!   the run; what its restore record holds is put back (the steps'
//!   [`onboard_steps::restore`]); another status 409 naming it.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use onboard_steps::actions::{self, ActionError};
use onboard_store::RecordKind;
use serde_json::Value;

use crate::HttpState;
use crate::access::Actor;
use crate::api::{get_record, json_object};
use crate::error::ApiError;

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound { kind, .. } => ApiError::NotFound(kind.as_str()),
            ActionError::Conflict(why) => ApiError::Conflict(why),
            ActionError::Invalid(errors) => ApiError::Invalid(errors),
            ActionError::Step(step) => step_error(step),
        }
    }
}

/// A step failure as an answer: settings 500 naming them, transient ones 503.
fn step_error(e: onboard_steps::StepError) -> ApiError {
    use onboard_steps::StepError;
    match e {
        StepError::Config(why) => ApiError::Misconfigured(why),
        StepError::Variables(e) => ApiError::Misconfigured(e.to_string()),
        e if StepError::TRANSIENT.contains(&e.name()) => {
            ApiError::Unavailable(format!("{}: {}", e.name(), e.cause()))
        }
        e => ApiError::internal(format!("{}: {}", e.name(), e.cause())),
    }
}

/// Cancels a waiting run of `kind`.
pub(crate) async fn cancel(
    state: &HttpState,
    actor: &Actor,
    kind: RecordKind,
    id: &str,
) -> Result<(), ApiError> {
    let by = actor.label();
    actions::cancel(&state.deps, state.runtime.callbacks(), kind, id, &by).await?;
    Ok(())
}

/// Sends the pending approval of a run of `kind` again.
pub(crate) async fn resend(
    state: &HttpState,
    actor: &Actor,
    kind: RecordKind,
    id: &str,
) -> Result<(), ApiError> {
    actions::resend(&state.deps, kind, id, &actor.label()).await?;
    Ok(())
}

/// Undoes the completed offboarding `id` from its restore record.
pub(crate) async fn restore(state: &HttpState, actor: &Actor, id: &str) -> Result<(), ApiError> {
    onboard_steps::restore::restore(&state.deps, id, &actor.label()).await?;
    Ok(())
}

/// Moves the date a scheduled run of `kind` waits for, from the API's JSON body.
pub(crate) async fn reschedule(
    state: &HttpState,
    actor: &Actor,
    kind: RecordKind,
    id: &str,
    body: &Value,
) -> Result<(), ApiError> {
    let fields: &[&str] = match kind {
        RecordKind::Onboarding => &["start_date"],
        RecordKind::Offboarding => &["scheduled_at", "start_date"],
    };
    let Some((given, value)) = fields
        .iter()
        .find_map(|f| body.get(*f).map(|v| (*f, v.clone())))
    else {
        return Err(ApiError::field(
            fields[0],
            "is required: the new date (YYYY-MM-DD or RFC 3339)",
        ));
    };
    if let Some(other) = body
        .as_object()
        .and_then(|m| m.keys().find(|k| !fields.contains(&k.as_str())))
    {
        return Err(ApiError::field(
            other,
            format!("cannot be changed here; only {} can", fields.join(" or ")),
        ));
    }
    // The run's own field: an offboarding stores its date as `scheduled_at`.
    let field = match kind {
        RecordKind::Onboarding => "start_date",
        RecordKind::Offboarding => "scheduled_at",
    };
    actions::reschedule(&state.deps, kind, id, field, &value, &actor.label())
        .await
        .map_err(|e| match e {
            // Name the field as the caller sent it.
            ActionError::Invalid(errors) => ApiError::Invalid(
                errors
                    .into_iter()
                    .map(|mut fe| {
                        if fe.field == field {
                            fe.field = given.to_owned();
                        }
                        fe
                    })
                    .collect(),
            ),
            other => other.into(),
        })?;
    Ok(())
}

/// `POST /api/onboardings/{id}/cancel`.
#[utoipa::path(post, path = "/api/onboardings/{id}/cancel", tag = "onboardings", params(("id" = String, Path, description = "The run's id")),
    description = "Cancels a run that waits (approval, start date, license purchase): nothing more happens in the tenant.",
    responses(
        (status = 200, description = "Done: the run as it is now", body = crate::openapi::schemas::Onboarding),
        (status = 404, description = "No such run", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run does not wait for this (its status named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn cancel_onboarding(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    cancel(&state, &actor, RecordKind::Onboarding, &id).await?;
    get_record(&state, &id, RecordKind::Onboarding).await
}

/// `POST /api/offboardings/{id}/cancel`.
#[utoipa::path(post, path = "/api/offboardings/{id}/cancel", tag = "offboardings", params(("id" = String, Path, description = "The run's id")),
    description = "Cancels a run that waits (approval, start date, license purchase): nothing more happens in the tenant.",
    responses(
        (status = 200, description = "Done: the run as it is now", body = crate::openapi::schemas::Offboarding),
        (status = 404, description = "No such run", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run does not wait for this (its status named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn cancel_offboarding(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    cancel(&state, &actor, RecordKind::Offboarding, &id).await?;
    get_record(&state, &id, RecordKind::Offboarding).await
}

/// `POST /api/onboardings/{id}/resend`.
#[utoipa::path(post, path = "/api/onboardings/{id}/resend", tag = "onboardings", params(("id" = String, Path, description = "The run's id")),
    description = "Mails the pending approval again with fresh links; the old ones answer 410.",
    responses(
        (status = 200, description = "Done: the run as it is now", body = crate::openapi::schemas::Onboarding),
        (status = 404, description = "No such run", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run does not wait for this (its status named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn resend_onboarding(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    resend(&state, &actor, RecordKind::Onboarding, &id).await?;
    get_record(&state, &id, RecordKind::Onboarding).await
}

/// `POST /api/offboardings/{id}/resend`.
#[utoipa::path(post, path = "/api/offboardings/{id}/resend", tag = "offboardings", params(("id" = String, Path, description = "The run's id")),
    description = "Mails the pending approval again with fresh links; the old ones answer 410.",
    responses(
        (status = 200, description = "Done: the run as it is now", body = crate::openapi::schemas::Offboarding),
        (status = 404, description = "No such run", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run does not wait for this (its status named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn resend_offboarding(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    resend(&state, &actor, RecordKind::Offboarding, &id).await?;
    get_record(&state, &id, RecordKind::Offboarding).await
}

/// `POST /api/offboardings/{id}/restore`.
#[utoipa::path(post, path = "/api/offboardings/{id}/restore", tag = "offboardings", params(("id" = String, Path, description = "The run's id")),
    description = "Undoes a completed offboarding from its restore record (sign-in, licenses, groups, manager, mailbox); repeating it changes nothing more.",
    responses(
        (status = 200, description = "Restored: the run as it is now", body = crate::openapi::schemas::Offboarding),
        (status = 404, description = "No such run", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The offboarding is not completed (its status named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn restore_offboarding(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    restore(&state, &actor, &id).await?;
    get_record(&state, &id, RecordKind::Offboarding).await
}

/// `PATCH /api/onboardings/{id}`.
#[utoipa::path(patch, path = "/api/onboardings/{id}", tag = "onboardings", params(("id" = String, Path, description = "The run's id")),
    description = "Moves the date a scheduled run waits for.",
    request_body = crate::openapi::schemas::NewDate,
    responses(
        (status = 200, description = "The run waits for the new date", body = crate::openapi::schemas::Onboarding),
        (status = 400, description = "A bad or past date, or another field", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run is not scheduled", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn patch_onboarding(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body = json_object(&body)?;
    reschedule(&state, &actor, RecordKind::Onboarding, &id, &body).await?;
    get_record(&state, &id, RecordKind::Onboarding).await
}

/// `PATCH /api/offboardings/{id}`.
#[utoipa::path(patch, path = "/api/offboardings/{id}", tag = "offboardings", params(("id" = String, Path, description = "The run's id")),
    description = "Moves the date a scheduled run waits for.",
    request_body = crate::openapi::schemas::NewDate,
    responses(
        (status = 200, description = "The run waits for the new date", body = crate::openapi::schemas::Offboarding),
        (status = 400, description = "A bad or past date, or another field", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run is not scheduled", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn patch_offboarding(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body = json_object(&body)?;
    reschedule(&state, &actor, RecordKind::Offboarding, &id, &body).await?;
    get_record(&state, &id, RecordKind::Offboarding).await
}
