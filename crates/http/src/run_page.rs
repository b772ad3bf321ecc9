//! A run's page, `/onboardings/{id}` and `/offboardings/{id}` (askama `run.html`):
//! its status and what it waits for, the pending decision with who was asked and
//! until when, the timeline in the organization's time zone, an offboarding's
//! restore record, the picture of its state machine ([`crate::state_picture`]),
//! and the technician's actions as plain forms (no script needed):
//!
//! - `POST /{kind}s/{id}/cancel`, `/resend`, `/date` (`start_date`, or an
//!   offboarding's `scheduled_at`), and a completed offboarding's `/restore` -> 303 back to the page, which says what was
//!   done; refused (not waiting, a bad date, a form from elsewhere) -> the page
//!   again with the reason, and nothing done. The same actions as the API's
//!   ([`crate::actions`]), so they are noted on the ticket and the timeline alike.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use onboard_store::{Record, RecordKind, Status};
use serde::Deserialize;
use serde_json::Value;

use crate::access::Actor;
use crate::error::ApiError;
use crate::state_picture::{self, Picture};
use crate::{HttpState, actions, csrf, pages, runs};

/// A pending decision as shown.
struct PendingView {
    kind: &'static str,
    label: &'static str,
    asked: String,
    expires: String,
    expires_iso: String,
}

/// A timeline entry as shown.
struct EventView {
    at: String,
    at_iso: String,
    step: String,
    message: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    title: &'static str,
    name: String,
    base: String,
    status: &'static str,
    waiting: Option<String>,
    organization: String,
    user: String,
    ticket: String,
    created: String,
    created_iso: String,
    updated: String,
    updated_iso: String,
    zone: String,
    pending: Vec<PendingView>,
    can_cancel: bool,
    can_resend: bool,
    can_move: bool,
    can_restore: bool,
    date_field: &'static str,
    date_label: &'static str,
    date_value: String,
    csrf_field: &'static str,
    csrf: String,
    timeline: Vec<EventView>,
    removed: Vec<(String, String)>,
    picture: Picture,
    notice: Option<&'static str>,
    error: Option<String>,
    again: &'static str,
    again_label: &'static str,
}

/// What an action's redirect says on the page (`?done=`): a fixed text, never
/// anything from the address bar.
fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "cancel" => Some("Cancelled: nothing more happens in the tenant; the ticket says so."),
        "resend" => {
            Some("Sent again: the approvers have fresh links, the earlier ones no longer work.")
        }
        "date" => Some("Date moved: the run now waits for the new date."),
        "restore" => {
            Some("Restored: what the offboarding removed is back; the timeline lists each part.")
        }
        "decided" => {
            Some("Decided: the workflow continues; the timeline and the ticket say who decided.")
        }
        _ => None,
    }
}

/// A time as people read it in `tz`: `2026-03-02 09:00 CET`.
fn local(at: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    at.to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A restore record's value in words: lists by their items' names.
fn restore_text(value: &Value) -> String {
    fn item(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                for key in [
                    "display_name",
                    "sku_part_number",
                    "user_principal_name",
                    "type",
                ] {
                    if let Some(s) = m.get(key).and_then(Value::as_str) {
                        return match m.get("detail").and_then(Value::as_str) {
                            Some(detail) if key == "type" => format!("{s} ({detail})"),
                            _ => s.to_owned(),
                        };
                    }
                }
                v.to_string()
            }
            Value::String(s) => s.clone(),
            Value::Null => "none".to_owned(),
            other => other.to_string(),
        }
    }
    match value {
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items.iter().map(item).collect::<Vec<_>>().join("; "),
        other => item(other),
    }
}

/// The date a scheduled run waits for, as the date input shows it: the day it
/// waits until in the organization's zone (a moved date is there), else the one asked.
fn date_value(record: &Record, field: &str, tz: &jiff::tz::TimeZone) -> String {
    match (
        record.waiting_until,
        record.request.get(field).and_then(Value::as_str),
    ) {
        (Some(at), _) => at.to_zoned(tz.clone()).date().to_string(),
        (None, Some(asked)) if asked.len() == 10 => asked.to_owned(),
        _ => String::new(),
    }
}

async fn render(
    state: &HttpState,
    kind: RecordKind,
    id: &str,
    token: &str,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<String, ApiError> {
    let record = state
        .store()
        .get_record(id)
        .await?
        .filter(|r| r.kind == kind)
        .ok_or(ApiError::NotFound(kind.as_str()))?;
    let variables = state.runtime.variables(&record.organization).await?;
    let tz = variables
        .as_ref()
        .map_or(jiff::tz::TimeZone::UTC, |v| v.time_zone.zone().clone());
    let organization = match state.runtime.organizations().await {
        Ok(orgs) => orgs
            .into_iter()
            .find(|o| o.id == record.organization)
            .map_or_else(|| record.organization.clone(), |o| o.name),
        Err(_) => record.organization.clone(),
    };
    let timeline = state
        .store()
        .timeline(id)
        .await?
        .into_iter()
        .map(|e| EventView {
            at: local(e.at, &tz),
            at_iso: e.at.to_string(),
            step: e.step,
            message: e.message,
        })
        .collect();
    let pending: Vec<PendingView> = onboard_steps::actions::pending(&state.deps, &record)
        .await
        .map_err(|e| ApiError::internal(format!("{}: {}", e.name(), e.cause())))?
        .into_iter()
        .map(|p| PendingView {
            kind: p.decision.kind.as_str(),
            label: match p.decision.kind {
                onboard_store::DecisionKind::Approval => "Approval",
                onboard_store::DecisionKind::LicensePurchase => "License purchase",
            },
            asked: p.asked.join(", "),
            expires: local(p.decision.expires_at, &tz),
            expires_iso: p.decision.expires_at.to_string(),
        })
        .collect();
    let path = match state.runtime.execution_path(kind, id).await {
        Ok(path) => path,
        Err(e) => {
            // The picture is the page's least part: without it the rest still helps.
            tracing::warn!(record_id = %id, error = %e, "reading the execution's path failed");
            None
        }
    };
    let picture = state_picture::draw(kind, path.as_ref()).map_err(ApiError::internal)?;
    let removed = match (&record.removed, kind) {
        (Some(Value::Object(m)), RecordKind::Offboarding) => m
            .iter()
            .map(|(k, v)| (k.replace('_', " "), restore_text(v)))
            .collect(),
        _ => Vec::new(),
    };
    let (date_field, date_label) = match kind {
        RecordKind::Onboarding => ("start_date", "New start date"),
        RecordKind::Offboarding => ("scheduled_at", "New date (the end of that working day)"),
    };
    let waiting = runs::waiting_for(kind, record.status).map(|w| {
        let w = w.replace('_', " ");
        match runs::waiting_until(&record) {
            Some(until) => format!("{w} until {}", local(until, &tz)),
            None => w,
        }
    });
    let page = RunPage {
        title: kind.title(),
        name: runs::display_name(&record).unwrap_or_else(|| record.id.clone()),
        base: format!("/{}/{}", kind.collection(), record.id),
        status: record.status.as_str(),
        waiting,
        organization,
        user: record
            .user_principal_name
            .clone()
            .unwrap_or_else(|| "not yet".into()),
        ticket: record.ticket_id.clone().unwrap_or_else(|| "not yet".into()),
        created: local(record.created_at, &tz),
        created_iso: record.created_at.to_string(),
        updated: local(record.updated_at, &tz),
        updated_iso: record.updated_at.to_string(),
        zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        pending,
        can_cancel: matches!(
            record.status,
            Status::PendingApproval | Status::Scheduled | Status::WaitingLicensePurchase
        ),
        can_resend: record.status == Status::PendingApproval,
        can_move: record.status == Status::Scheduled,
        can_restore: kind == RecordKind::Offboarding && record.status == Status::Completed,
        date_field,
        date_label,
        date_value: date_value(&record, date_field, &tz),
        csrf_field: csrf::FIELD,
        csrf: token.to_owned(),
        timeline,
        removed,
        picture,
        notice,
        error,
        again: match kind {
            RecordKind::Onboarding => "/",
            RecordKind::Offboarding => "/offboard",
        },
        again_label: match kind {
            RecordKind::Onboarding => "Another user",
            RecordKind::Offboarding => "Offboard another user",
        },
    };
    page.render().map_err(ApiError::internal)
}

/// `?done=` after an action.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

async fn show(
    state: HttpState,
    headers: HeaderMap,
    kind: RecordKind,
    id: String,
    done: Option<String>,
) -> Response {
    let token = csrf::issue(&state, &headers);
    match render(
        &state,
        kind,
        &id,
        &token.token,
        notice(done.as_deref()),
        None,
    )
    .await
    {
        Ok(html) => pages::with_token(Html(html).into_response(), &token),
        Err(e) => e.into_response(),
    }
}

/// `GET /onboardings/{id}`.
pub async fn onboarding_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    show(state, headers, RecordKind::Onboarding, id, q.done).await
}

/// `GET /offboardings/{id}`.
pub async fn offboarding_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    show(state, headers, RecordKind::Offboarding, id, q.done).await
}

/// Does `action` on the run; on success 303 back to its page, else the page with why.
async fn act(
    state: HttpState,
    actor: Actor,
    headers: HeaderMap,
    kind: RecordKind,
    id: String,
    action: String,
    mut values: BTreeMap<String, String>,
) -> Response {
    let base = format!("/{}/{}", kind.collection(), id);
    let token = values.remove(csrf::FIELD);
    if !csrf::verify(&state, &headers, token.as_deref()) {
        return pages::csrf_refused(&base);
    }
    let done = match action.as_str() {
        "cancel" => actions::cancel(&state, &actor, kind, &id).await,
        "resend" => actions::resend(&state, &actor, kind, &id).await,
        "restore" if kind == RecordKind::Offboarding => actions::restore(&state, &actor, &id).await,
        "date" => {
            let body: serde_json::Map<String, Value> = values
                .into_iter()
                .filter(|(k, _)| k == "start_date" || k == "scheduled_at")
                .map(|(k, v)| (k, Value::String(v.trim().to_owned())))
                .collect();
            actions::reschedule(&state, &actor, kind, &id, &Value::Object(body)).await
        }
        _ => Err(ApiError::NotFound("action")),
    };
    let (status, why) = match done {
        Ok(()) => return Redirect::to(&format!("{base}?done={action}")).into_response(),
        Err(ApiError::Conflict(why)) => (StatusCode::CONFLICT, format!("Nothing was done: {why}.")),
        Err(ApiError::Invalid(errors)) => (
            StatusCode::BAD_REQUEST,
            format!(
                "Nothing was done: {}.",
                errors
                    .iter()
                    .map(|e| format!("{} {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Err(e) => return e.into_response(),
    };
    let fresh = csrf::issue(&state, &headers);
    match render(&state, kind, &id, &fresh.token, None, Some(why)).await {
        Ok(html) => pages::with_token((status, Html(html)).into_response(), &fresh),
        Err(e) => e.into_response(),
    }
}

/// `POST /onboardings/{id}/{action}`: `cancel`, `resend` or `date`.
pub async fn onboarding_action(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(values): Form<BTreeMap<String, String>>,
) -> Response {
    act(
        state,
        actor,
        headers,
        RecordKind::Onboarding,
        id,
        action,
        values,
    )
    .await
}

/// `POST /offboardings/{id}/{action}`: `cancel`, `resend` or `date`.
pub async fn offboarding_action(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(values): Form<BTreeMap<String, String>>,
) -> Response {
    act(
        state,
        actor,
        headers,
        RecordKind::Offboarding,
        id,
        action,
        values,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_restore_record_reads_as_names() {
        assert_eq!(
            restore_text(
                &json!([{"id": "g1", "display_name": "Sales"}, {"id": "g2", "display_name": "All staff"}])
            ),
            "Sales; All staff"
        );
        assert_eq!(restore_text(&json!([])), "none");
        assert_eq!(
            restore_text(&json!({"id": "m", "user_principal_name": "boss@contoso.com"})),
            "boss@contoso.com"
        );
        assert_eq!(
            restore_text(&json!([{"type": "phone", "detail": "+* ********23"}])),
            "phone (+* ********23)"
        );
        assert_eq!(restore_text(&json!(true)), "true");
    }

    #[test]
    fn only_known_actions_say_anything_on_the_page() {
        assert!(notice(Some("cancel")).is_some());
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }
}
