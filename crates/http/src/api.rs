//! `/api/*`: the JSON API of CONTRACT.md §2.
//!
//! A form is validated with its organization's variables before anything is
//! stored; an accepted one becomes a record whose id names its execution.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use onboard_domain::request::organization_of;
use onboard_domain::{DomainError, FieldError, OffboardingRequest, OnboardingRequest};
use onboard_steps::{StepError, Workflow, intake};
use onboard_store::{Record, RecordKind, Status, StoreError, TimelineEvent};
use serde_json::{Value, json};

use crate::HttpState;
use crate::access::Actor;
use crate::error::ApiError;

/// The raw body, parsed here so a bad one is a problem+json 400 like any bad field.
pub(crate) type Body = axum::body::Bytes;

/// Parses a JSON object body.
pub(crate) fn json_object(body: &Body) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::field("body", format!("is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::field("body", "expected a JSON object"));
    }
    Ok(value)
}

/// The variables of the organization a form names, known to this server.
pub(crate) async fn organization_variables(
    state: &HttpState,
    form: &Value,
) -> Result<(String, onboard_domain::Variables), ApiError> {
    let id = organization_of(form).map_err(domain_errors)?;
    match state.runtime.variables(id).await? {
        Some(variables) => Ok((id.to_owned(), variables)),
        None => Err(ApiError::field(
            "organization",
            format!("unknown organization `{id}`"),
        )),
    }
}

pub(crate) fn domain_errors(e: DomainError) -> ApiError {
    let errors = e.field_errors();
    if errors.is_empty() {
        ApiError::internal(e)
    } else {
        ApiError::Invalid(errors.to_vec())
    }
}

/// A fresh record id.
fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The `Idempotency-Key` header, checked.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| {
                    ApiError::field(
                        "Idempotency-Key",
                        "must be 1 to 255 visible ASCII characters",
                    )
                })?;
            Ok(Some(key.to_owned()))
        }
    }
}

/// How long an idempotency key is remembered.
const IDEMPOTENCY_DAYS: i64 = 7;

/// The SHA-256 (hex) of a body, its object keys sorted, so the same JSON sent
/// with its keys in another order or other spacing is the same body.
fn body_digest(form: &Value) -> String {
    fn canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&map[k], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(form, &mut text);
    sha256_hex(text.as_bytes())
}

/// The SHA-256 of `bytes` in lowercase hex (idempotency digests and keys).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Refuses a key whose claim was made with another body (an entry from before
/// bodies were recorded has no digest and is taken as it is).
fn same_body(claim: &Value, digest: &str) -> Result<(), ApiError> {
    match claim.get("body_sha256").and_then(Value::as_str) {
        Some(first) if first != digest => Err(ApiError::IdempotencyKeyReused),
        _ => Ok(()),
    }
}

/// Claims `key` for a new record id and this body; answers the id of whoever
/// claimed it first, refusing a claim made with another body.
pub(crate) async fn claim_key(
    state: &HttpState,
    scope: &str,
    key: &str,
    id: &str,
    digest: &str,
) -> Result<String, ApiError> {
    let now = state.deps.clock.now();
    let keep = now
        .checked_add(jiff::SignedDuration::from_hours(24 * IDEMPOTENCY_DAYS))
        .unwrap_or(now);
    let stored = state
        .store()
        .put_step_result(
            &format!("idempotency:{scope}:{key}"),
            json!({"id": id, "body_sha256": digest}),
            keep,
        )
        .await?;
    same_body(&stored, digest)?;
    stored
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::internal("malformed idempotency entry"))
}

/// Stores the first answer given under `key`, for replays.
pub(crate) async fn remember_answer(state: &HttpState, scope: &str, key: &str, answer: &Value) {
    let now = state.deps.clock.now();
    let keep = now
        .checked_add(jiff::SignedDuration::from_hours(24 * IDEMPOTENCY_DAYS))
        .unwrap_or(now);
    if let Err(e) = state
        .store()
        .put_step_result(
            &format!("idempotency:{scope}:{key}:answer"),
            answer.clone(),
            keep,
        )
        .await
    {
        tracing::warn!(error = %e, "could not remember the answer of an idempotent request");
    }
}

/// The first answer given under `key`, when the body is the one it was given for.
pub(crate) async fn first_answer(
    state: &HttpState,
    scope: &str,
    key: &str,
    digest: &str,
) -> Result<Option<Value>, ApiError> {
    let Some(answer) = state
        .store()
        .step_result(&format!("idempotency:{scope}:{key}:answer"))
        .await?
    else {
        return Ok(None);
    };
    if let Some(claim) = state
        .store()
        .step_result(&format!("idempotency:{scope}:{key}"))
        .await?
    {
        same_body(&claim, digest)?;
    }
    Ok(Some(answer))
}

fn accepted(answer: Value) -> Response {
    (StatusCode::ACCEPTED, Json(answer)).into_response()
}

/// `POST /api/onboardings`.
#[utoipa::path(post, path = "/api/onboardings", tag = "onboardings",
    request_body(content = crate::openapi::schemas::OnboardingForm, description = "The form; invalid fields answer 400 and nothing is started"),
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key with the same body answers the first answer again")),
    responses(
        (status = 202, description = "Accepted: the run started", body = crate::openapi::schemas::Accepted),
        (status = 400, description = "Invalid fields; nothing was started", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was sent before with another body", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The organization's settings cannot serve this request (named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
#[tracing::instrument(skip_all, fields(idempotency_key = tracing::field::Empty))]
pub async fn create_onboarding(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    if let Some(k) = &key {
        tracing::Span::current().record("idempotency_key", k.as_str());
    }
    let form = json_object(&body)?;
    accept_onboarding(&state, &actor, key.as_deref(), form)
        .await
        .map(accepted)
}

/// Validates and starts an onboarding; answers `{id, status}` (shared with the HTML form).
pub async fn accept_onboarding(
    state: &HttpState,
    actor: &Actor,
    key: Option<&str>,
    form: Value,
) -> Result<Value, ApiError> {
    accept::<OnboardingRequest>(state, actor, key, form).await
}

/// Validates and starts an offboarding; answers `{id, status}` (shared with the HTML form).
pub async fn accept_offboarding(
    state: &HttpState,
    actor: &Actor,
    key: Option<&str>,
    form: Value,
) -> Result<Value, ApiError> {
    accept::<OffboardingRequest>(state, actor, key, form).await
}

/// A step error of intake, as an answer: bad fields 400, settings that cannot
/// serve the request 500 naming them.
pub(crate) fn intake_error(e: StepError) -> ApiError {
    match e {
        e if !e.field_errors().is_empty() => ApiError::Invalid(e.field_errors().to_vec()),
        StepError::Config(why) => ApiError::Misconfigured(why),
        StepError::Variables(e) => ApiError::Misconfigured(e.to_string()),
        e => ApiError::internal(format!("{}: {}", e.name(), e.cause())),
    }
}

/// Validates, stores and starts a record of kind `W`; answers `{id, status}` when
/// the runtime's [`crate::Runtime::start`] returns (locally: once the workflow parks).
async fn accept<W: Workflow>(
    state: &HttpState,
    actor: &Actor,
    key: Option<&str>,
    form: Value,
) -> Result<Value, ApiError> {
    let scope = W::NOUN;
    let digest = body_digest(&form);
    if let Some(key) = key
        && let Some(answer) = first_answer(state, scope, key, &digest).await?
    {
        return Ok(answer);
    }
    // Validate before claiming the key: a bad form starts nothing and stores nothing.
    let checked = intake::check::<W>(&state.deps, &form)
        .await
        .map_err(intake_error)?;
    let organization = checked.organization().to_owned();

    let mut id = new_id();
    if let Some(key) = key {
        id = claim_key(state, scope, key, &id, &digest).await?;
    }
    match checked.store(&state.deps, &id).await {
        Ok(_) => note_submitter(state, actor, &id).await?,
        Err(StepError::Store(StoreError::AlreadyExists { .. })) => {}
        Err(e) => return Err(intake_error(e)),
    }
    tracing::info!(record_id = %id, kind = scope, %organization, "request accepted");
    // A failed start answers 503. With an Idempotency-Key the same request again
    // finds the same record and starts its execution then; without one nobody can
    // resume this record, so it is closed as failed rather than left running forever.
    if let Err(e) = state.runtime.start(W::KIND, &id).await {
        if key.is_none() {
            close_unstarted(state, &id, &e).await;
        }
        return Err(e.into());
    }
    let status = state
        .store()
        .get_record(&id)
        .await?
        .map_or(Status::Running, |r| r.status);
    let answer = json!({"id": id, "status": status.as_str()});
    if let Some(key) = key {
        remember_answer(state, scope, key, &answer).await;
    }
    Ok(answer)
}

/// Puts who submitted a record on its timeline, when a signed-in person did
/// (an API key or the open console names nobody).
pub(crate) async fn note_submitter(
    state: &HttpState,
    actor: &Actor,
    id: &str,
) -> Result<(), ApiError> {
    let Some(person) = actor.person() else {
        return Ok(());
    };
    intake::note_submitter(&state.deps, id, &person.label())
        .await
        .map_err(intake_error)
}

/// Marks a record whose execution could not be started (and that no retry can
/// reach) as failed, saying why, so its status does not claim work in progress.
pub(crate) async fn close_unstarted(state: &HttpState, id: &str, error: &crate::RuntimeError) {
    let update = onboard_store::RecordUpdate {
        status: Some(Status::Failed),
        event: Some(TimelineEvent {
            at: state.deps.clock.now(),
            step: "submit".to_owned(),
            message: format!(
                "The workflow could not be started ({error}); nothing was done. Submit the request again."
            ),
        }),
        ..Default::default()
    };
    if let Err(e) = state
        .store()
        .update_record(id, update, state.deps.clock.now())
        .await
    {
        tracing::error!(record_id = %id, error = %e, "closing a record whose workflow did not start failed");
    }
}

/// A record as `GET /api/onboardings/{id}` shows it.
fn record_view(record: &Record, timeline: &[TimelineEvent]) -> Value {
    let timeline: Vec<Value> = timeline
        .iter()
        .map(|e| json!({"at": e.at.to_string(), "step": e.step, "message": e.message}))
        .collect();
    let mut view = json!({
        "id": record.id,
        "status": record.status.as_str(),
        "organization": record.organization,
        "user_principal_name": record.user_principal_name,
        "ticket_id": record.ticket_id,
        "timeline": timeline,
    });
    if let Some(m) = view.as_object_mut() {
        match record.kind {
            RecordKind::Onboarding => {
                m.insert(
                    "license_outcome".into(),
                    json!(record.license_outcome.map(|l| l.as_str())),
                );
            }
            RecordKind::Offboarding => {
                m.insert(
                    "removed".into(),
                    record.removed.clone().unwrap_or(Value::Null),
                );
            }
        }
    }
    view
}

pub(crate) async fn get_record(
    state: &HttpState,
    id: &str,
    kind: RecordKind,
) -> Result<Response, ApiError> {
    let what = kind.as_str();
    let record = state
        .store()
        .get_record(id)
        .await?
        .filter(|r| r.kind == kind)
        .ok_or(ApiError::NotFound(what))?;
    let timeline = state.store().timeline(id).await?;
    Ok(Json(record_view(&record, &timeline)).into_response())
}

/// `GET /api/onboardings/{id}`.
#[utoipa::path(get, path = "/api/onboardings/{id}", tag = "onboardings", params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run, with its timeline", body = crate::openapi::schemas::Onboarding),
        (status = 404, description = "No such run", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn get_onboarding(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get_record(&state, &id, RecordKind::Onboarding).await
}

/// `GET /api/offboardings/{id}`.
#[utoipa::path(get, path = "/api/offboardings/{id}", tag = "offboardings", params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run, with its timeline", body = crate::openapi::schemas::Offboarding),
        (status = 404, description = "No such run", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn get_offboarding(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get_record(&state, &id, RecordKind::Offboarding).await
}

/// `POST /api/offboardings`.
#[utoipa::path(post, path = "/api/offboardings", tag = "offboardings",
    request_body(content = crate::openapi::schemas::OffboardingForm, description = "The form; invalid fields answer 400 and nothing is started"),
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key with the same body answers the first answer again")),
    responses(
        (status = 202, description = "Accepted: the run started", body = crate::openapi::schemas::Accepted),
        (status = 400, description = "Invalid fields; nothing was started", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was sent before with another body", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The organization's settings cannot serve this request (named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
#[tracing::instrument(skip_all, fields(idempotency_key = tracing::field::Empty))]
pub async fn create_offboarding(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    if let Some(k) = &key {
        tracing::Span::current().record("idempotency_key", k.as_str());
    }
    let form = json_object(&body)?;
    accept_offboarding(&state, &actor, key.as_deref(), form)
        .await
        .map(accepted)
}

/// `GET /api/organizations`.
#[utoipa::path(get, path = "/api/organizations", tag = "organizations",
    responses((status = 200, description = "The organizations forms may name", body = Vec<crate::openapi::schemas::Organization>), crate::openapi::schemas::Common))]
pub async fn organizations(State(state): State<HttpState>) -> Result<Json<Value>, ApiError> {
    let organizations = state.runtime.organizations().await?;
    Ok(Json(Value::Array(
        organizations
            .iter()
            .map(|o| json!({"id": o.id, "name": o.name, "domain": o.domain}))
            .collect(),
    )))
}

/// Anything else: 404 problem+json.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("resource")
}

/// Field errors as the 400 answer lists them (also used by the HTML form).
pub fn field_errors(e: &ApiError) -> Option<&[FieldError]> {
    match e {
        ApiError::Invalid(errors) => Some(errors),
        _ => None,
    }
}
