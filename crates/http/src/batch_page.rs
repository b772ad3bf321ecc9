//! The console's batches (askama `batch.html`, `batch_progress.html`):
//! `/batches/new` takes a CSV file (chosen, or pasted), `POST /batches/plan`
//! checks every row and shows its plan, `POST /batches` starts it, and
//! `/batches/{id}` follows its runs. The same batch API as `POST
//! /api/onboardings/batch` ([`crate::batch`]); without script the page still
//! works (the file's text is pasted).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use onboard_store::RecordKind;
use serde::Deserialize;
use serde_json::Value;

use crate::access::Actor;
use crate::batch::{self, Answer, RejectedError};
use crate::error::ApiError;
use crate::pages::{csrf_refused, with_token};
use crate::{HttpState, api, csrf};

struct PlanRow {
    row: String,
    user: String,
    would: String,
    warnings: String,
}

#[derive(Template)]
#[template(path = "batch.html")]
struct UploadPage<'a> {
    csrf_field: &'static str,
    csrf: &'a str,
    kind: &'a str,
    csv: &'a str,
    error: Option<String>,
    checked: bool,
    plans: Vec<PlanRow>,
    rejected: Vec<RejectedError>,
}

struct ProgressRow {
    row: String,
    id: String,
    status: String,
    started: bool,
}

#[derive(Template)]
#[template(path = "batch_progress.html")]
struct ProgressPage {
    batch_id: String,
    kind: String,
    collection: &'static str,
    at: String,
    moving: bool,
    counts: Vec<(String, u64)>,
    rows: Vec<ProgressRow>,
    rejected: Vec<RejectedError>,
}

/// The upload form as posted.
#[derive(Debug, Deserialize)]
pub struct UploadForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    csv: String,
    #[serde(default)]
    csrf_token: Option<String>,
}

fn kind_of(text: &str) -> Option<RecordKind> {
    match text {
        "onboarding" | "" => Some(RecordKind::Onboarding),
        "offboarding" => Some(RecordKind::Offboarding),
        _ => None,
    }
}

async fn render_upload(
    state: &HttpState,
    headers: &HeaderMap,
    status: StatusCode,
    form: &UploadForm,
    error: Option<String>,
    plans: Option<&Value>,
) -> Response {
    let token = csrf::issue(state, headers);
    let page = UploadPage {
        csrf_field: csrf::FIELD,
        csrf: &token.token,
        kind: if form.kind.is_empty() {
            "onboarding"
        } else {
            &form.kind
        },
        csv: &form.csv,
        error,
        checked: plans.is_some(),
        plans: plans
            .and_then(|p| p["plans"].as_array())
            .into_iter()
            .flatten()
            .map(|p| PlanRow {
                row: p["row"].to_string(),
                user: p["plan"]["user_principal_name"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned(),
                would: batch::plan_line(&p["plan"]),
                warnings: p["plan"]["warnings"]
                    .as_array()
                    .map(|w| {
                        w.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default(),
            })
            .collect(),
        rejected: batch::rejected_errors(plans.and_then(|p| p.get("rejected"))),
    };
    match page.render() {
        Ok(html) => with_token((status, Html(html)).into_response(), &token),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// `GET /batches/new`.
pub async fn upload_page(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let form = UploadForm {
        kind: String::new(),
        csv: String::new(),
        csrf_token: None,
    };
    render_upload(&state, &headers, StatusCode::OK, &form, None, None).await
}

/// The form's rows as the batch API takes them: CSV, keyed by the kind and the
/// text, so a double click or the same file again starts nothing twice.
fn api_request(kind: RecordKind, csv: &str) -> (HeaderMap, api::Body) {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let key = api::sha256_hex(format!("{kind}\0{csv}").as_bytes());
    if let Ok(value) = HeaderValue::from_str(&format!("console-{}", &key[..32])) {
        headers.insert("idempotency-key", value);
    }
    (headers, api::Body::from(csv.to_owned()))
}

async fn submit(
    state: &HttpState,
    actor: &Actor,
    headers: &HeaderMap,
    form: &UploadForm,
    dry_run: bool,
) -> Response {
    if !csrf::verify(state, headers, form.csrf_token.as_deref()) {
        return csrf_refused("/batches/new");
    }
    let refuse = |why: String| {
        render_upload(
            state,
            headers,
            StatusCode::BAD_REQUEST,
            form,
            Some(why),
            None,
        )
    };
    let Some(kind) = kind_of(form.kind.trim()) else {
        return refuse(format!(
            "`{}` is not a kind of batch (onboarding, offboarding)",
            form.kind
        ))
        .await;
    };
    if form.csv.trim().is_empty() {
        return refuse("Choose a CSV file or paste its rows: nothing was sent.".to_owned()).await;
    }
    let (api_headers, body) = api_request(kind, &form.csv);
    match batch::post_kind(state, actor, kind, dry_run, &api_headers, &body).await {
        Ok(Answer::Plans(plans)) => {
            render_upload(state, headers, StatusCode::OK, form, None, Some(&plans)).await
        }
        Ok(Answer::Accepted(answer)) => {
            let id = answer["batch_id"].as_str().unwrap_or_default();
            Redirect::to(&format!("/batches/{id}")).into_response()
        }
        // The file as a whole cannot be read (an unknown column, not CSV).
        Err(e) => match api::field_errors(&e) {
            Some(errors) => {
                let why = errors
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                refuse(format!(
                    "The file was not accepted, nothing was started: {why}"
                ))
                .await
            }
            None => e.into_response(),
        },
    }
}

/// `POST /batches/plan`: every row checked and planned; nothing starts.
pub async fn plan_batch(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Form(form): Form<UploadForm>,
) -> Response {
    submit(&state, &actor, &headers, &form, true).await
}

/// `POST /batches`: the batch started; on to its progress.
pub async fn start_batch(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Form(form): Form<UploadForm>,
) -> Response {
    submit(&state, &actor, &headers, &form, false).await
}

/// `GET /batches/{id}`: each row's run and status; the page refreshes itself
/// while runs are going.
pub async fn progress_page(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let progress = match batch::progress(&state, &id).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let kind = progress["kind"].as_str().unwrap_or("onboarding").to_owned();
    let collection = kind_of(&kind)
        .unwrap_or(RecordKind::Onboarding)
        .collection();
    let rows: Vec<ProgressRow> = progress["accepted"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let status = r["status"].as_str().unwrap_or_default().to_owned();
            ProgressRow {
                row: r["row"].to_string(),
                id: r["id"].as_str().unwrap_or_default().to_owned(),
                started: status != "not_started",
                status,
            }
        })
        .collect();
    let moving = rows.iter().any(|r| r.status == "running");
    let page = ProgressPage {
        batch_id: id,
        kind,
        collection,
        at: progress["at"].as_str().unwrap_or_default().to_owned(),
        moving,
        counts: progress["counts"]
            .as_object()
            .map(|c| {
                c.iter()
                    .map(|(s, n)| (s.clone(), n.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default(),
        rows,
        rejected: batch::rejected_errors(progress.get("rejected")),
    };
    match page.render() {
        Ok(html) => {
            let mut res = Html(html).into_response();
            if moving {
                // A refresh the browser does by itself: no script needed.
                res.headers_mut()
                    .insert("refresh", HeaderValue::from_static("5"));
            }
            res
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}
