//! `POST /api/onboardings/plan` and `POST /api/offboardings/plan` (CONTRACT.md §4):
//! what a run would do, from the body `POST /api/onboardings` (or
//! `/api/offboardings`) takes. The body is checked exactly as the create checks
//! it (400 with the same field errors); then the steps' own decisions are read
//! against the directory ([`onboard_steps::plan`]). Nothing is stored, started,
//! sent or ticketed.

use axum::Json;
use axum::extract::State;
use onboard_domain::{parse_offboarding, parse_onboarding};
use onboard_steps::{Organization, StepError};
use serde_json::Value;

use crate::HttpState;
use crate::api::{Body, domain_errors, json_object, organization_variables};
use crate::error::ApiError;

/// A step error, as an answer: bad fields 400, an unknown organization 404, a
/// setting 500 naming it, a service that is down or throttling 503.
pub(crate) fn step_error(e: StepError) -> ApiError {
    if !e.field_errors().is_empty() {
        return ApiError::Invalid(e.field_errors().to_vec());
    }
    match e {
        StepError::RequestRefused(_) => ApiError::NotFound("organization"),
        StepError::Config(why) => ApiError::Misconfigured(why),
        StepError::Variables(e) => ApiError::Misconfigured(e.to_string()),
        e if e.is_transient() => ApiError::Unavailable(format!("{}: {}", e.name(), e.cause())),
        e => ApiError::internal(format!("{}: {}", e.name(), e.cause())),
    }
}

/// The organization the runtime serves under `id`, with its connections.
pub(crate) async fn organization(state: &HttpState, id: &str) -> Result<Organization, ApiError> {
    state
        .deps
        .connections
        .organization(id)
        .await
        .map_err(step_error)
}

/// The plan of the onboarding `form` (the API's JSON form); field errors as the
/// create gives them. Shared by the API and the HTML form's "Show the plan".
pub(crate) async fn onboarding_plan(
    state: &HttpState,
    form: &Value,
) -> Result<onboard_steps::plan::OnboardingPlan, ApiError> {
    let (id, variables) = organization_variables(state, form).await?;
    let form = &onboard_steps::templates::fill(&state.deps, &id, form)
        .await
        .map_err(step_error)?;
    let request = parse_onboarding(form, &variables).map_err(domain_errors)?;
    let organization = organization(state, &id).await?;
    onboard_steps::plan::plan_onboarding(&state.deps, &organization, &variables, &request)
        .await
        .map_err(step_error)
}

/// The preview of the offboarding `form`; field errors as the create gives them.
pub(crate) async fn offboarding_preview(
    state: &HttpState,
    form: &Value,
) -> Result<onboard_steps::plan::OffboardingPreview, ApiError> {
    let (id, variables) = organization_variables(state, form).await?;
    let request = parse_offboarding(form, &variables).map_err(domain_errors)?;
    let organization = organization(state, &id).await?;
    onboard_steps::plan::preview_offboarding(&state.deps, &organization, &variables, &request)
        .await
        .map_err(step_error)
}

/// `POST /api/onboardings/plan`.
#[utoipa::path(post, path = "/api/onboardings/plan", tag = "onboardings",
    description = "What the run would do, read against the tenant now. Nothing is created, sent or ticketed.",
    request_body = crate::openapi::schemas::OnboardingForm,
    responses(
        (status = 200, description = "The plan", body = crate::openapi::schemas::OnboardingPlan),
        (status = 400, description = "Invalid fields, as the create answers them", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The organization's settings cannot serve this request (named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
#[tracing::instrument(skip_all)]
pub async fn plan_onboarding(
    State(state): State<HttpState>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let form = json_object(&body)?;
    let plan = onboarding_plan(&state, &form).await?;
    serde_json::to_value(plan)
        .map(Json)
        .map_err(ApiError::internal)
}

/// `POST /api/offboardings/plan`.
#[utoipa::path(post, path = "/api/offboardings/plan", tag = "offboardings",
    description = "What the run would do, read against the tenant now. Nothing is created, sent or ticketed.",
    request_body = crate::openapi::schemas::OffboardingForm,
    responses(
        (status = 200, description = "The plan", body = crate::openapi::schemas::OffboardingPreview),
        (status = 400, description = "Invalid fields, as the create answers them", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The organization's settings cannot serve this request (named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
#[tracing::instrument(skip_all)]
pub async fn plan_offboarding(
    State(state): State<HttpState>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let form = json_object(&body)?;
    let preview = offboarding_preview(&state, &form).await?;
    serde_json::to_value(preview)
        .map(Json)
        .map_err(ApiError::internal)
}
