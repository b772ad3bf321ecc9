//! Decision links (`/decisions/{id}?action=..&exp=..&sig=..`) and the pending approvals page.
//!
//! `GET` answers a confirmation page and changes nothing (mail scanners follow
//! links); `POST` on the same URL decides: 200, or 409 with who decided and when,
//! 403 tampered, 404 unknown, 410 expired. The signature is the link's only
//! authority: these routes are not behind the API keys.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use onboard_steps::decisions::{self, Action, DecideError, LinkError, LinkQuery};
use onboard_store::DecisionState;

use crate::HttpState;
use crate::access::Actor;
use crate::pages::{esc, page};
use crate::sign_in::Role;

/// Where decision links live: `{public_url}/decisions/{id}?...`, as the signer makes them.
pub const DECISIONS_PREFIX: &str = onboard_steps::decisions::DECISIONS_PATH;

fn link_error(e: &LinkError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN);
    if let LinkError::Store(inner) = e {
        tracing::error!(error = %inner.cause(), "reading a decision failed");
    }
    let next = match e {
        LinkError::Expired { .. } => {
            "<p>Nothing was decided through it. To decide now, ask the technician who              handles the request (or the ticket) to send the request again: a new mail              brings a new link.</p>"
        }
        LinkError::Tampered => {
            "<p>Open the link exactly as it came in the mail; if it still fails, ask for              the request to be sent again.</p>"
        }
        LinkError::Unknown | LinkError::Store(_) => "",
    };
    (
        status,
        page(
            "Decision link",
            &format!("<p>{}.</p>{next}", esc(&e.to_string())),
        ),
    )
        .into_response()
}

fn state_text(s: DecisionState) -> &'static str {
    match s {
        DecisionState::Pending => "pending",
        DecisionState::Approved => "approved",
        DecisionState::Denied => "denied",
        DecisionState::Confirmed => "confirmed",
        DecisionState::Rejected => "rejected",
        DecisionState::Expired => "expired",
    }
}

/// `GET /decisions/{id}`: what is decided, for whom, by when, and a button that POSTs.
pub async fn confirmation_page(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(query): Query<LinkQuery>,
) -> Response {
    let link = match decisions::verify_link(&state.deps, &id, &query).await {
        Ok(l) => l,
        Err(e) => return link_error(&e),
    };
    let view = match decisions::describe_decision(&state.deps, &link).await {
        Ok(v) => v,
        Err(e) => return link_error(&e),
    };
    let body = if view.state == DecisionState::Pending {
        // The form posts back to the very link that was signed, recipient included:
        // the signature covers every part of its query.
        let signed = state.deps.links.link(
            &id,
            link.action,
            link.decision.expires_at,
            link.recipient.as_deref(),
        );
        let action = format!("{}?{}", signed.path(), signed.query().unwrap_or_default());
        let who = match &link.recipient {
            Some(to) => format!(
                "<p>This link was sent to <b>{}</b>; the decision is recorded in that name.</p>",
                esc(to)
            ),
            None => String::new(),
        };
        format!(
            "<p>{}</p><p>{} <code>{}</code> · organization <b>{}</b> · user <b>{}</b>{}</p>\
             <p>This link works until <b>{}</b>.</p>{who}\
             <form method=\"post\" action=\"{}\">\
             <label for=\"decided_by\">Your name (optional, noted beside it)</label>\
             <input id=\"decided_by\" name=\"decided_by\" autocomplete=\"name\" maxlength=\"120\">\
             <button type=\"submit\">{}</button></form>",
            esc(&view.question),
            view.record_kind.title(),
            esc(&view.onboarding_id),
            esc(&view.organization),
            esc(&view.display_name),
            if view.licenses.is_empty() {
                String::new()
            } else {
                format!(" · licenses <b>{}</b>", esc(&view.licenses.join(", ")))
            },
            esc(&view.expires_at.to_string()),
            esc(&action),
            esc(view.action_label),
        )
    } else {
        format!(
            "<p>Already {} by <b>{}</b> at <b>{}</b>. Nothing more to do.</p>",
            state_text(view.state),
            esc(view.decided_by.as_deref().unwrap_or("someone")),
            esc(&view.decided_at.map(|t| t.to_string()).unwrap_or_default()),
        )
    };
    page("Decision", &body).into_response()
}

/// The optional form of the confirmation page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DecideForm {
    /// A name the person typed: an annotation beside the link's signed recipient.
    #[serde(default)]
    decided_by: Option<String>,
}

/// `POST /decisions/{id}`: decides, once.
#[tracing::instrument(skip_all, fields(decision_id = %id))]
pub async fn decide(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(query): Query<LinkQuery>,
    body: axum::body::Bytes,
) -> Response {
    // No body is needed (CONTRACT §2); the page's form may add a typed name.
    let form: DecideForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let callbacks = state.runtime.callbacks();
    match decisions::decide_by_link(
        &state.deps,
        callbacks,
        &id,
        &query,
        form.decided_by.as_deref(),
    )
    .await
    {
        Ok(decision) => {
            let body = format!(
                "<p>Done: {} by {}. The workflow continues; the ticket says so.</p>",
                state_text(decision.state),
                esc(decision.decided_by.as_deref().unwrap_or("you")),
            );
            (StatusCode::OK, page("Decided", &body)).into_response()
        }
        Err(DecideError::Resume(e)) if e.kind.is_final() => {
            // Decided here, but the workflow had stopped waiting: say so, not "try again".
            tracing::warn!(error = %e, kind = ?e.kind, "the workflow no longer waits for this decision");
            let status = StatusCode::from_u16(DecideError::Resume(e).http_status())
                .unwrap_or(StatusCode::CONFLICT);
            let text = if status == StatusCode::GONE {
                "The workflow stopped waiting for this decision (it timed out) and went on without it."
            } else {
                "The workflow no longer waits for this decision: it was decided already or has ended."
            };
            (status, page("Decision", &format!("<p>{text}</p>"))).into_response()
        }
        Err(e @ (DecideError::Resume(_) | DecideError::Step(_))) => {
            // The decision may be won but the workflow not resumed (the ticket note or
            // the callback failed): resume it now rather than leave it waiting.
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "deciding failed; resuming");
            match decisions::resume(&state.deps, callbacks, &id).await {
                Ok(true) => {
                    let body =
                        "<p>Done. The onboarding continues (the ticket could not be noted).</p>";
                    (StatusCode::OK, page("Decided", body)).into_response()
                }
                Ok(false) | Err(_) => {
                    let status = StatusCode::from_u16(e.http_status())
                        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    let text =
                        "The decision could not be completed; try the link again in a minute.";
                    (status, page("Decision", &format!("<p>{text}</p>"))).into_response()
                }
            }
        }
        Err(DecideError::Link(e)) => link_error(&e),
        Err(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::CONFLICT);
            let text = match &e {
                DecideError::Resume(_) | DecideError::Step(_) => {
                    tracing::error!(error = %e, source = ?std::error::Error::source(&e), "deciding failed");
                    "The decision could not be completed; try the link again in a minute."
                        .to_owned()
                }
                other => other.to_string(),
            };
            (status, page("Decision", &format!("<p>{}</p>", esc(&text)))).into_response()
        }
    }
}

/// One pending decision on `/approvals`.
struct PendingRow {
    organization: String,
    kind: &'static str,
    record_id: String,
    href: String,
    name: String,
    asked: String,
    expires: String,
    expires_iso: String,
    /// (label, link): the signed links, on the open console only.
    links: Vec<(&'static str, String)>,
    /// (action, label): the decisions the signed-in person may take here.
    buttons: Vec<(&'static str, &'static str)>,
    decision_id: String,
}

#[derive(askama::Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    rows: Vec<PendingRow>,
    csrf: String,
}

/// `GET /approvals`: every run waiting for an approval or a license purchase, per
/// organization: who was asked, until when (in the organization's time zone), a
/// link to the run and the decision links.
pub async fn pending_page(
    State(state): State<HttpState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
) -> Response {
    // A signed link decides for whoever holds it: only the open console, where
    // everyone holds every role anyway, shows them; signed-in people get buttons
    // for the decisions their roles allow, which record who pressed them.
    let show_links = actor == Actor::Local;
    let organizations = match state.runtime.organizations().await {
        Ok(o) => o,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let mut rows = Vec::new();
    for org in &organizations {
        let pending = match state.store().pending_decisions(&org.id, 200, None).await {
            Ok(p) => p.items,
            Err(e) => {
                tracing::error!(error = %e, "listing pending decisions failed");
                Vec::new()
            }
        };
        if pending.is_empty() {
            continue;
        }
        let tz = match state.runtime.variables(&org.id).await {
            Ok(Some(v)) => v.time_zone.zone().clone(),
            _ => jiff::tz::TimeZone::UTC,
        };
        for d in pending {
            let record = match state.store().get_record(&d.record_id).await {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "reading a pending decision's run failed");
                    continue;
                }
            };
            let asked = match decisions_view(&state, &record).await {
                Some(p) => p
                    .into_iter()
                    .find(|p| p.decision.id == d.id)
                    .map(|p| p.asked.join(", "))
                    .unwrap_or_default(),
                None => String::new(),
            };
            let path = record.kind.collection();
            rows.push(PendingRow {
                organization: org.name.clone(),
                kind: match d.kind {
                    onboard_store::DecisionKind::Approval => "approval",
                    onboard_store::DecisionKind::LicensePurchase => "license purchase",
                },
                href: format!("/{path}/{}", record.id),
                name: crate::runs::display_name(&record).unwrap_or_else(|| record.id.clone()),
                record_id: record.id.clone(),
                asked,
                expires: d
                    .expires_at
                    .to_zoned(tz.clone())
                    .strftime("%Y-%m-%d %H:%M %Z")
                    .to_string(),
                expires_iso: d.expires_at.to_string(),
                links: if show_links {
                    decisions::decision_links(&state.deps, &d, None)
                        .iter()
                        .map(|(action, url)| (action.label(), url.to_string()))
                        .collect()
                } else {
                    Vec::new()
                },
                buttons: Action::of(d.kind)
                    .into_iter()
                    .filter(|a| actor.allows(console_role(*a)))
                    .map(|a| (a.as_str(), a.label()))
                    .collect(),
                decision_id: d.id.clone(),
            });
        }
    }
    let token = crate::csrf::issue(&state, &headers);
    match (ApprovalsPage {
        rows,
        csrf: token.token.clone(),
    })
    .render()
    {
        Ok(html) => crate::pages::with_token(axum::response::Html(html).into_response(), &token),
        Err(e) => crate::ApiError::internal(e).into_response(),
    }
}

/// The role a decision in the console needs: approvals are for approvers; a
/// bought license is confirmed by the technician who bought it.
pub fn console_role(action: Action) -> Role {
    match action.kind() {
        onboard_store::DecisionKind::Approval => Role::Approver,
        onboard_store::DecisionKind::LicensePurchase => Role::Technician,
    }
}

/// `POST /approvals/{id}/{action}`: decides in the console, in the signed-in
/// person's name; then to the run's page.
async fn decide_in_console(
    state: HttpState,
    actor: Actor,
    headers: HeaderMap,
    id: String,
    action: Action,
    mut values: std::collections::BTreeMap<String, String>,
) -> Response {
    let token = values.remove(crate::csrf::FIELD);
    if !crate::csrf::verify(&state, &headers, token.as_deref()) {
        return crate::pages::csrf_refused("/approvals");
    }
    let by = format!("{} in the console", actor.label());
    let callbacks = state.runtime.callbacks();
    match decisions::decide(&state.deps, callbacks, &id, action, &by).await {
        Ok(decision) => {
            let to = match state.store().get_record(&decision.record_id).await {
                Ok(Some(r)) => format!("/{}/{}?done=decided", r.kind.collection(), r.id),
                _ => "/approvals".to_owned(),
            };
            Redirect::to(&to).into_response()
        }
        Err(DecideError::Resume(e)) if !e.kind.is_final() => {
            tracing::error!(error = %e, "decided in the console, but resuming failed; resuming again");
            match decisions::resume(&state.deps, callbacks, &id).await {
                Ok(_) => Redirect::to("/approvals").into_response(),
                Err(e) => {
                    let status = StatusCode::from_u16(e.http_status())
                        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    let text = "The decision is taken, but the workflow could not be told yet; \
                                reload this page in a minute.";
                    (status, page("Decision", &format!("<p>{text}</p>"))).into_response()
                }
            }
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::CONFLICT);
            let text = match &e {
                DecideError::AlreadyDecided { decision } => format!(
                    "Already {} by {}: nothing more to do.",
                    state_text(decision.state),
                    decision.decided_by.as_deref().unwrap_or("someone")
                ),
                DecideError::Resume(_) | DecideError::Step(_) => {
                    tracing::error!(error = %e, "deciding in the console failed");
                    "The decision could not be completed; try again in a minute.".to_owned()
                }
                other => format!("Nothing was decided: {other}."),
            };
            (
                status,
                page(
                    "Decision",
                    &format!(
                        "<p>{}</p><p><a href=\"/approvals\">Back to the pending approvals</a></p>",
                        esc(&text)
                    ),
                ),
            )
                .into_response()
        }
    }
}

macro_rules! console_decision {
    ($name:ident, $action:expr, $doc:literal) => {
        #[doc = $doc]
        pub async fn $name(
            State(state): State<HttpState>,
            Extension(actor): Extension<Actor>,
            headers: HeaderMap,
            Path(id): Path<String>,
            Form(values): Form<std::collections::BTreeMap<String, String>>,
        ) -> Response {
            decide_in_console(state, actor, headers, id, $action, values).await
        }
    };
}

console_decision!(
    approve_in_console,
    Action::Approve,
    "`POST /approvals/{id}/approve`."
);
console_decision!(
    deny_in_console,
    Action::Deny,
    "`POST /approvals/{id}/deny`."
);
console_decision!(
    confirm_in_console,
    Action::Confirm,
    "`POST /approvals/{id}/confirm`."
);
console_decision!(
    reject_in_console,
    Action::Reject,
    "`POST /approvals/{id}/reject`."
);

/// Who each of the run's pending decisions was sent to (none when it cannot be read:
/// the page still lists the decision).
async fn decisions_view(
    state: &HttpState,
    record: &onboard_store::Record,
) -> Option<Vec<onboard_steps::actions::Pending>> {
    match onboard_steps::actions::pending(&state.deps, record).await {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(error = %e, "reading who was asked failed");
            None
        }
    }
}
