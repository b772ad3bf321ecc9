//! `POST /api/onboardings/batch`, `POST /api/offboardings/batch` and
//! `GET /api/batches/{id}` (CONTRACT.md §4): many forms in one request, as a
//! CSV file (`text/csv`, a header row of the form's field names) or a JSON
//! array of forms.
//!
//! Every row is checked first, exactly as `POST /api/onboardings` checks a form
//! ([`intake::check`]); a bad row is rejected with its errors and the others go
//! on. The batch is stored before any row is started, and each row's record id
//! is derived from the batch id and the row number, so the same request again
//! (the same `Idempotency-Key`, or a retry after a crash half-way) finds the
//! same records and starts nothing twice.

use async_trait::async_trait;
use axum::Extension;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use onboard_domain::batch::{self, CsvShape, OFFBOARDING_CSV, ONBOARDING_CSV, Row};
use onboard_domain::{FieldError, OffboardingRequest, OnboardingRequest};
use onboard_steps::{StepError, Workflow, intake};
use onboard_store::{StoreError, TimelineEvent};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::HttpState;
use crate::access::Actor;
use crate::api::{self, Body};
use crate::error::ApiError;

/// How many rows of a batch start at once. The local runtime answers a start
/// once the run parks, so this bounds the runs a batch has in flight, leaving
/// the rest of the server (and other batches) room.
const CONCURRENT_STARTS: usize = 8;

/// How long a batch's rows stay listed under its id (its records stay for good).
const KEEP_DAYS: i64 = 90;

/// A workflow kind that takes batches.
#[async_trait]
trait BatchKind: Workflow {
    /// Its form as CSV.
    const CSV: CsvShape;

    /// What a run of `form` would do, as `POST /api/{kind}s/plan` answers it.
    async fn plan(state: &HttpState, form: &Value) -> Result<Value, ApiError>;
}

#[async_trait]
impl BatchKind for OnboardingRequest {
    const CSV: CsvShape = ONBOARDING_CSV;

    async fn plan(state: &HttpState, form: &Value) -> Result<Value, ApiError> {
        let plan = crate::plan::onboarding_plan(state, form).await?;
        serde_json::to_value(plan).map_err(ApiError::internal)
    }
}

#[async_trait]
impl BatchKind for OffboardingRequest {
    const CSV: CsvShape = OFFBOARDING_CSV;

    async fn plan(state: &HttpState, form: &Value) -> Result<Value, ApiError> {
        let preview = crate::plan::offboarding_preview(state, form).await?;
        serde_json::to_value(preview).map_err(ApiError::internal)
    }
}

/// The query of a batch post.
#[derive(Debug, Default)]
struct BatchQuery {
    /// `true`: answer every row's plan and start nothing.
    dry_run: bool,
}

impl BatchQuery {
    /// Parses `dry_run` (`true` or `false`, given at most once); other
    /// parameters are ignored, as the listings ignore them.
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
        let mut values = pairs.iter().filter(|(name, _)| name == "dry_run");
        let dry_run = match (values.next(), values.next()) {
            (None, _) => false,
            (Some(_), Some(_)) => {
                return Err(ApiError::field("dry_run", "is given more than once"));
            }
            (Some((_, value)), None) => match value.trim() {
                "true" => true,
                "false" | "" => false,
                other => {
                    return Err(ApiError::field(
                        "dry_run",
                        format!("must be `true` or `false`, not `{other}`"),
                    ));
                }
            },
        };
        Ok(BatchQuery { dry_run })
    }
}

/// `POST /api/onboardings/batch`.
#[utoipa::path(post, path = "/api/onboardings/batch", tag = "batches",
    request_body(content((String = "text/csv"), (Vec<crate::openapi::schemas::OnboardingForm> = "application/json")), description = "The forms, as CSV or a JSON array"),
    description = "Many onboarding forms: `text/csv` (a header row of the form's field names; `licenses`, `groups` and `shared_mailboxes` separated by `;`) or a JSON array of forms. Every row is checked first; bad rows are rejected with their errors and the rest start.",
    params(
        ("dry_run" = Option<bool>, Query, description = "`true`: answer each row's plan (200) and start nothing"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key with the same body answers the first answer again and starts nothing new"),
    ),
    responses(
        (status = 202, description = "Accepted: `{batch_id, accepted: [{row, id}], rejected: [{row, errors}]}`"),
        (status = 200, description = "With `dry_run=true`: `{plans: [{row, plan}], rejected: [{row, errors}]}`"),
        (status = 400, description = "The batch as a whole cannot be read (not CSV or JSON, an unknown column, too many rows); nothing was started", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was sent before with another body", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn create_onboarding_batch(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let query = BatchQuery::parse(query.as_deref())?;
    post::<OnboardingRequest>(&state, &actor, query.dry_run, &headers, &body)
        .await
        .map(Answer::into_response)
}

/// `POST /api/offboardings/batch`.
#[utoipa::path(post, path = "/api/offboardings/batch", tag = "batches",
    request_body(content((String = "text/csv"), (Vec<crate::openapi::schemas::OffboardingForm> = "application/json")), description = "The forms, as CSV or a JSON array"),
    description = "Many offboarding forms: `text/csv` (a header row of the form's field names; the actions as `actions.<name>` yes/no columns) or a JSON array of forms. Every row is checked first; bad rows are rejected with their errors and the rest start.",
    params(
        ("dry_run" = Option<bool>, Query, description = "`true`: answer each row's plan (200) and start nothing"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key with the same body answers the first answer again and starts nothing new"),
    ),
    responses(
        (status = 202, description = "Accepted: `{batch_id, accepted: [{row, id}], rejected: [{row, errors}]}`"),
        (status = 200, description = "With `dry_run=true`: `{plans: [{row, plan}], rejected: [{row, errors}]}`"),
        (status = 400, description = "The batch as a whole cannot be read; nothing was started", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was sent before with another body", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn create_offboarding_batch(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let query = BatchQuery::parse(query.as_deref())?;
    post::<OffboardingRequest>(&state, &actor, query.dry_run, &headers, &body)
        .await
        .map(Answer::into_response)
}

/// Whether the body is CSV (else JSON; the guard has refused anything else).
fn is_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv"))
}

/// The errors of a row that could not be accepted.
fn row_errors(e: ApiError) -> Vec<FieldError> {
    match api::field_errors(&e) {
        Some(errors) => errors.to_vec(),
        None => vec![FieldError::new("row", e.to_string())],
    }
}

fn rejected_view(row: usize, errors: &[FieldError]) -> Value {
    json!({"row": row, "errors": errors})
}

/// The record id of row `row` of batch `batch_id`: the same every time, so a
/// batch posted again finds its rows' records instead of making new ones.
fn row_id(batch_id: &str, row: usize) -> String {
    let digest = sha2::Sha256::digest(format!("{batch_id}:{row}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// What a batch post answers.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A dry run: `{plans, rejected}`.
    Plans(Value),
    /// A batch accepted: `{batch_id, accepted, rejected}`.
    Accepted(Value),
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self {
            Answer::Plans(v) => (StatusCode::OK, Json(v)).into_response(),
            Answer::Accepted(v) => (StatusCode::ACCEPTED, Json(v)).into_response(),
        }
    }
}

/// A batch of `kind` (the API's and the console's upload): `body` as CSV or
/// JSON by `headers`' content type, keyed by their `Idempotency-Key`.
pub(crate) async fn post_kind(
    state: &HttpState,
    actor: &Actor,
    kind: onboard_store::RecordKind,
    dry_run: bool,
    headers: &HeaderMap,
    body: &Body,
) -> Result<Answer, ApiError> {
    match kind {
        onboard_store::RecordKind::Onboarding => {
            post::<OnboardingRequest>(state, actor, dry_run, headers, body).await
        }
        onboard_store::RecordKind::Offboarding => {
            post::<OffboardingRequest>(state, actor, dry_run, headers, body).await
        }
    }
}

async fn post<W: BatchKind>(
    state: &HttpState,
    actor: &Actor,
    dry_run: bool,
    headers: &HeaderMap,
    body: &Body,
) -> Result<Answer, ApiError> {
    let rows: Vec<Row> = if is_csv(headers) {
        batch::read_csv(body, &W::CSV)
    } else {
        batch::read_json(body)
    }
    .map_err(api::domain_errors)?;

    if dry_run {
        return dry_run_plans::<W>(state, rows).await.map(Answer::Plans);
    }

    let key = api::idempotency_key(headers)?;
    let scope = format!("{}-batch", W::NOUN);
    let digest = api::sha256_hex(body);
    if let Some(key) = &key
        && let Some(answer) = api::first_answer(state, &scope, key, &digest).await?
    {
        return Ok(Answer::Accepted(answer));
    }

    // Check every row before anything is stored.
    let mut checked = Vec::new();
    let mut rejected = Vec::new();
    for (row, form) in rows {
        let result = match form {
            Ok(form) => intake::check::<W>(&state.deps, &form)
                .await
                .map_err(|e| row_errors(api::intake_error(e))),
            Err(errors) => Err(errors),
        };
        match result {
            Ok(c) => checked.push((row, c)),
            Err(errors) => rejected.push(rejected_view(row, &errors)),
        }
    }

    let mut batch_id = uuid::Uuid::new_v4().to_string();
    if let Some(key) = &key {
        batch_id = api::claim_key(state, &scope, key, &batch_id, &digest).await?;
    }
    let accepted: Vec<Value> = checked
        .iter()
        .map(|(row, _)| json!({"row": row, "id": row_id(&batch_id, *row)}))
        .collect();
    let answer = json!({"batch_id": batch_id, "accepted": accepted, "rejected": rejected});
    // Stored before any row starts; the first stored wins, so a retry starts
    // exactly the rows the first attempt listed.
    let now = state.deps.clock.now();
    let keep = now
        .checked_add(jiff::SignedDuration::from_hours(24 * KEEP_DAYS))
        .unwrap_or(now);
    let stored = state
        .store()
        .put_step_result(
            &batch_key(&batch_id),
            json!({"kind": W::NOUN, "at": now.to_string(), "answer": answer}),
            keep,
        )
        .await?;
    let answer = stored.get("answer").cloned().unwrap_or(answer);
    tracing::info!(batch_id = %batch_id, kind = W::NOUN, accepted = checked.len(), rejected = rejected.len(), "batch accepted");

    let mut checked: std::collections::BTreeMap<usize, intake::Checked<W>> =
        checked.into_iter().collect();
    let starts: Vec<(usize, String, Option<intake::Checked<W>>)> = listed_rows(&answer)
        .into_iter()
        .map(|(row, id)| (row, id, checked.remove(&row)))
        .collect();
    let batch_id_ref = batch_id.as_str();
    let keyed = key.is_some();
    let failures: Vec<(usize, ApiError)> = futures::stream::iter(starts)
        .map(|(row, id, checked)| async move {
            start_row::<W>(state, actor, batch_id_ref, row, &id, checked, keyed)
                .await
                .err()
                .map(|e| (row, e))
        })
        .buffer_unordered(CONCURRENT_STARTS)
        .filter_map(|failure| async move { failure })
        .collect()
        .await;
    if let Some((row, e)) = failures.into_iter().next() {
        // With a key, the same request again starts what did not start; the
        // rows that did are not started twice.
        tracing::warn!(batch_id = %batch_id, row, error = %e, "a row of the batch did not start");
        return Err(e);
    }
    if let Some(key) = &key {
        api::remember_answer(state, &scope, key, &answer).await;
    }
    Ok(Answer::Accepted(answer))
}

/// One field error of a rejected row, flattened for a table (the console's
/// batch pages and `onboard batch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedError {
    /// The row, counted from 1 after the header.
    pub row: String,
    /// The field.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The `rejected` list of a batch answer, one line per field error.
pub fn rejected_errors(rejected: Option<&Value>) -> Vec<RejectedError> {
    let mut out = Vec::new();
    for r in rejected.and_then(Value::as_array).into_iter().flatten() {
        for e in r["errors"].as_array().into_iter().flatten() {
            out.push(RejectedError {
                row: r["row"].to_string(),
                field: e["field"].as_str().unwrap_or_default().to_owned(),
                message: e["message"].as_str().unwrap_or_default().to_owned(),
            });
        }
    }
    out
}

/// A dry run's plan of one row (an onboarding's plan or an offboarding's
/// preview) in one line: what the run would wait for and do.
pub fn plan_line(plan: &Value) -> String {
    let mut lines = Vec::new();
    if plan["found"] == Value::Bool(false) {
        lines.push("nothing: no such user".to_owned());
    }
    if plan["approval_required"] == Value::Bool(true) {
        lines.push("wait for approval".to_owned());
    }
    if let Some(at) = plan["scheduled_for"].as_str() {
        lines.push(format!("wait until {at}"));
    }
    for l in plan["licenses"].as_array().into_iter().flatten() {
        lines.push(match l.as_str() {
            // An offboarding's preview lists what it removes.
            Some(sku) => format!("remove {sku}"),
            None => format!(
                "{} {}",
                l["action"].as_str().unwrap_or("?"),
                l["sku"].as_str().unwrap_or("?")
            ),
        });
    }
    for g in plan["groups"].as_array().into_iter().flatten() {
        lines.push(match g.as_str() {
            Some(name) => format!("leave {name}"),
            None => format!("join {}", g["name"].as_str().unwrap_or("?")),
        });
    }
    if lines.is_empty() {
        "go ahead".to_owned()
    } else {
        lines.join("; ")
    }
}

fn batch_key(id: &str) -> String {
    format!("batch:{id}")
}

/// The `(row, id)` pairs of a batch answer's `accepted`.
fn listed_rows(answer: &Value) -> Vec<(usize, String)> {
    answer
        .get("accepted")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let row = a.get("row")?.as_u64()?;
            let id = a.get("id")?.as_str()?;
            Some((usize::try_from(row).ok()?, id.to_owned()))
        })
        .collect()
}

/// Stores row `row` as record `id` (unless it is there already) and starts it.
/// A row listed by an earlier attempt that no longer passes its check is
/// started if its record was stored, and left for `GET /api/batches/{id}` to
/// show as not started otherwise.
async fn start_row<W: BatchKind>(
    state: &HttpState,
    actor: &Actor,
    batch_id: &str,
    row: usize,
    id: &str,
    checked: Option<intake::Checked<W>>,
    keyed: bool,
) -> Result<(), ApiError> {
    match checked {
        Some(checked) => match checked.store(&state.deps, id).await {
            Ok(_) => {
                let event = TimelineEvent {
                    at: state.deps.clock.now(),
                    step: "submit".to_owned(),
                    message: format!("row {row} of batch {batch_id}"),
                };
                state.store().append_event(id, event).await?;
                api::note_submitter(state, actor, id).await?;
            }
            Err(StepError::Store(StoreError::AlreadyExists { .. })) => {}
            Err(e) => return Err(api::intake_error(e)),
        },
        None => {
            if state.store().get_record(id).await?.is_none() {
                return Ok(());
            }
        }
    }
    // As for a single form: without a key nobody can start this row again, so
    // it is closed as failed rather than left looking as if it ran.
    if let Err(e) = state.runtime.start(W::KIND, id).await {
        if !keyed {
            api::close_unstarted(state, id, &e).await;
        }
        return Err(e.into());
    }
    Ok(())
}

async fn dry_run_plans<W: BatchKind>(state: &HttpState, rows: Vec<Row>) -> Result<Value, ApiError> {
    let mut plans = Vec::new();
    let mut rejected = Vec::new();
    for (row, form) in rows {
        let planned = match form {
            // The same check as a real post, then the plan.
            Ok(form) => match intake::check::<W>(&state.deps, &form).await {
                Ok(_) => W::plan(state, &form).await.map_err(row_errors),
                Err(e) => Err(row_errors(api::intake_error(e))),
            },
            Err(errors) => Err(errors),
        };
        match planned {
            Ok(plan) => plans.push(json!({"row": row, "plan": plan})),
            Err(errors) => rejected.push(rejected_view(row, &errors)),
        }
    }
    Ok(json!({"plans": plans, "rejected": rejected}))
}

/// `GET /api/batches/{id}`.
#[utoipa::path(get, path = "/api/batches/{id}", tag = "batches", params(("id" = String, Path, description = "The batch id a batch post answered")),
    responses(
        (status = 200, description = "`{batch_id, kind, finished, counts: {status: n}, accepted: [{row, id, status}], rejected: [{row, errors}]}`; a row whose record was never stored has status `not_started`"),
        (status = 404, description = "No such batch", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn get_batch(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    progress(&state, &id).await.map(Json)
}

/// Batch `id`'s progress (the API's `GET /api/batches/{id}` and the console's page).
pub(crate) async fn progress(state: &HttpState, id: &str) -> Result<Value, ApiError> {
    let stored = state
        .store()
        .step_result(&batch_key(id))
        .await?
        .ok_or(ApiError::NotFound("batch"))?;
    let answer = stored.get("answer").cloned().unwrap_or(Value::Null);
    let mut counts = serde_json::Map::new();
    let mut finished = true;
    let mut rows = Vec::new();
    for (row, record_id) in listed_rows(&answer) {
        let status = state
            .store()
            .get_record(&record_id)
            .await?
            .map(|r| r.status);
        finished &= status.is_some_and(|s| s.is_final());
        let name = status.map_or("not_started", |s| s.as_str());
        let n = counts.get(name).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(name.to_owned(), json!(n + 1));
        rows.push(json!({"row": row, "id": record_id, "status": name}));
    }
    Ok(json!({
        "batch_id": id,
        "kind": stored.get("kind"),
        "at": stored.get("at"),
        "finished": finished,
        "counts": counts,
        "accepted": rows,
        "rejected": answer.get("rejected").cloned().unwrap_or_else(|| json!([])),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dry_run_is_true_or_false_once() {
        assert!(BatchQuery::parse(Some("dry_run=true")).unwrap().dry_run);
        assert!(!BatchQuery::parse(Some("dry_run=false")).unwrap().dry_run);
        assert!(!BatchQuery::parse(None).unwrap().dry_run);
        for bad in ["dry_run=null", "dry_run=true&dry_run=true", "dry_run=yes"] {
            let e = BatchQuery::parse(Some(bad)).unwrap_err();
            let fields = crate::api::field_errors(&e).unwrap();
            assert_eq!(fields[0].field, "dry_run", "{bad}");
        }
    }

    #[test]
    fn a_row_id_is_the_same_for_the_same_batch_and_row_only() {
        assert_eq!(row_id("b", 1), row_id("b", 1));
        assert_ne!(row_id("b", 1), row_id("b", 2));
        assert_ne!(row_id("b", 1), row_id("c", 1));
        assert!(uuid::Uuid::parse_str(&row_id("b", 1)).is_ok());
    }
}
