//! The HTML pages: the onboarding form at `/`, the offboarding form at `/offboard`,
//! their status pages, and (with the steps) the decision pages and the pending
//! approvals.
//!
//! Plain HTML forms, no script: they post `application/x-www-form-urlencoded`,
//! turned here into the same JSON form the API takes.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::{HttpState, OrganizationSummary, api};
use onboard_store::RecordKind;

/// Escapes text for HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Onboard</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}\
         label{{display:block;margin:.6rem 0 .2rem}}input,select{{width:100%;padding:.3rem}}\
         button{{margin-top:1rem;padding:.5rem 1.2rem}}.err{{color:#a00}}td,th{{text-align:left;padding:.2rem .6rem}}</style>\
         </head><body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    ))
}

/// Text inputs of the form, in order: (field, label).
const TEXT_FIELDS: &[(&str, &str)] = &[
    ("first_name", "First name (required)"),
    ("last_name", "Last name (required)"),
    ("display_name", "Display name"),
    ("job_title", "Job title"),
    ("department", "Department"),
    ("office_location", "Office location"),
    ("mobile_phone", "Mobile phone"),
    ("personal_email", "Personal e-mail"),
    ("manager_email", "Manager's e-mail"),
    ("usage_location", "Usage location (ISO country, e.g. US)"),
    ("start_date", "Start date (YYYY-MM-DD)"),
    ("licenses", "Licenses (SKU part numbers, comma-separated)"),
    ("groups", "Groups (display names, comma-separated)"),
    ("copy_groups_from", "Copy groups from (a UPN)"),
    ("ticket_id", "Existing PSA ticket"),
];

/// Fields the form sends as lists (comma-separated in the page).
const LIST_FIELDS: &[&str] = &["licenses", "groups"];

/// The `<option>`s of the organization select, `selected` chosen.
fn organization_options(
    organizations: &[OrganizationSummary],
    selected: Option<&String>,
) -> String {
    let mut options = String::new();
    for o in organizations {
        let chosen = if selected == Some(&o.id) {
            " selected"
        } else {
            ""
        };
        options.push_str(&format!(
            "<option value=\"{}\"{chosen}>{} ({})</option>",
            esc(&o.id),
            esc(&o.name),
            esc(&o.domain)
        ));
    }
    options
}

fn form_html(
    organizations: &[OrganizationSummary],
    values: &BTreeMap<String, String>,
    errors: &str,
) -> String {
    let value = |k: &str| esc(values.get(k).map_or("", String::as_str));
    let orgs = organization_options(organizations, values.get("organization"));
    let mut inputs = String::new();
    for (field, label) in TEXT_FIELDS {
        inputs.push_str(&format!(
            "<label for=\"{field}\">{label}</label><input id=\"{field}\" name=\"{field}\" value=\"{}\">",
            value(field)
        ));
    }
    let select = |name: &str, label: &str, options: &[(&str, &str)]| {
        let mut s =
            format!("<label for=\"{name}\">{label}</label><select id=\"{name}\" name=\"{name}\">");
        for (v, text) in options {
            let sel = if values.get(name).map(String::as_str) == Some(*v) {
                " selected"
            } else {
                ""
            };
            s.push_str(&format!("<option value=\"{v}\"{sel}>{text}</option>"));
        }
        s.push_str("</select>");
        s
    };
    format!(
        "{errors}<form method=\"post\" action=\"/onboardings\">\
         <label for=\"organization\">Organization</label><select id=\"organization\" name=\"organization\">{orgs}</select>\
         {inputs}{}{}<button type=\"submit\">Start onboarding</button></form>\
         <p><a href=\"/offboard\">Offboard a user</a> · <a href=\"/approvals\">Pending approvals</a></p>",
        select(
            "license_purchase",
            "If no license is free",
            &[
                ("", "the organization's setting"),
                ("auto", "buy one"),
                ("manual", "ask a technician")
            ]
        ),
        select(
            "send_credentials_to",
            "Send the credentials to",
            &[
                ("", "the organization's setting"),
                ("email", "the manager by e-mail"),
                ("sms", "SMS"),
                ("both", "both"),
                ("none", "nobody")
            ]
        ),
    )
}

/// Whether the HTML pages are open: only when `/api/*` needs no key (a browser
/// form cannot send one), i.e. on loopback without API keys.
fn pages_open(state: &HttpState) -> Result<(), Box<Response>> {
    if state.keys.required() {
        Err(Box::new(
            (
                StatusCode::FORBIDDEN,
                page(
                    "Use the API",
                    "<p>This server requires API keys; the HTML form is off. Use <code>POST /api/onboardings</code>.</p>",
                ),
            )
                .into_response(),
        ))
    } else {
        Ok(())
    }
}

/// `GET /`: the onboarding form.
pub async fn form_page(State(state): State<HttpState>) -> Response {
    if let Err(r) = pages_open(&state) {
        return *r;
    }
    match state.runtime.organizations().await {
        Ok(orgs) => page("New user", &form_html(&orgs, &BTreeMap::new(), "")).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The urlencoded form as the API's JSON form: blank fields left out, lists split.
fn to_json_form(values: &BTreeMap<String, String>) -> Value {
    let mut form = Map::new();
    for (k, v) in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        if LIST_FIELDS.contains(&k.as_str()) {
            let items: Vec<Value> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect();
            form.insert(k.clone(), Value::Array(items));
        } else {
            form.insert(k.clone(), Value::String(v.to_owned()));
        }
    }
    Value::Object(form)
}

/// `POST /onboardings`: the HTML form's submission.
pub async fn submit_form(
    State(state): State<HttpState>,
    Form(values): Form<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = pages_open(&state) {
        return *r;
    }
    match api::accept_onboarding(&state, None, to_json_form(&values)).await {
        Ok(answer) => {
            let id = answer.get("id").and_then(Value::as_str).unwrap_or_default();
            Redirect::to(&format!("/onboardings/{}", esc(id))).into_response()
        }
        Err(e) => match api::field_errors(&e) {
            Some(errors) => (
                StatusCode::BAD_REQUEST,
                page(
                    "New user",
                    &form_html(&organizations(&state).await, &values, &error_list(errors)),
                ),
            )
                .into_response(),
            None => e.into_response(),
        },
    }
}

/// `GET /onboardings/{id}`: an onboarding's status and timeline, for people.
pub async fn onboarding_page(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    record_page(&state, &id, RecordKind::Onboarding).await
}

/// `GET /offboardings/{id}`: an offboarding's status, timeline and restore record.
pub async fn offboarding_page(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    record_page(&state, &id, RecordKind::Offboarding).await
}

async fn record_page(state: &HttpState, id: &str, kind: RecordKind) -> Result<Response, ApiError> {
    if let Err(r) = pages_open(state) {
        return Ok(*r);
    }
    let (what, title, again, api_path) = match kind {
        RecordKind::Onboarding => ("onboarding", "Onboarding", "/", "onboardings"),
        RecordKind::Offboarding => ("offboarding", "Offboarding", "/offboard", "offboardings"),
    };
    let record = state
        .store()
        .get_record(id)
        .await?
        .filter(|r| r.kind == kind)
        .ok_or(ApiError::NotFound(what))?;
    let timeline = state.store().timeline(id).await?;
    let mut rows = String::new();
    for e in &timeline {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.at.to_string()),
            esc(&e.step),
            esc(&e.message)
        ));
    }
    let removed = match (&kind, &record.removed) {
        (RecordKind::Offboarding, Some(removed)) => format!(
            "<h2>Restore record</h2><pre>{}</pre>",
            esc(&serde_json::to_string_pretty(removed).unwrap_or_default())
        ),
        _ => String::new(),
    };
    let body = format!(
        "<p>Organization <b>{}</b> · status <b>{}</b> · user <b>{}</b> · ticket <b>{}</b></p>\
         <table><tr><th>When</th><th>Step</th><th>What</th></tr>{rows}</table>{removed}\
         <p><a href=\"{again}\">Another user</a> · <a href=\"/api/{api_path}/{}\">JSON</a></p>",
        esc(&record.organization),
        esc(record.status.as_str()),
        esc(record.user_principal_name.as_deref().unwrap_or("not yet")),
        esc(record.ticket_id.as_deref().unwrap_or("not yet")),
        esc(&record.id),
    );
    Ok(page(title, &body).into_response())
}

fn offboarding_form_html(
    organizations: &[OrganizationSummary],
    values: &BTreeMap<String, String>,
    errors: &str,
) -> String {
    let value = |k: &str| esc(values.get(k).map_or("", String::as_str));
    let orgs = organization_options(organizations, values.get("organization"));
    let mut inputs = String::new();
    for (field, label) in [
        ("user_principal_name", "User (UPN, required)"),
        ("ticket_id", "Existing PSA ticket"),
        (
            "scheduled_at",
            "When (RFC 3339, or YYYY-MM-DD for the end of that working day; empty: now)",
        ),
        ("delegate_to", "Delegate to (a UPN; default the manager)"),
    ] {
        inputs.push_str(&format!(
            "<label for=\"{field}\">{label}</label><input id=\"{field}\" name=\"{field}\" value=\"{}\">",
            value(field)
        ));
    }
    let mut actions = String::new();
    // Every action the API knows, so the form cannot drift from it.
    for action in onboard_domain::request::OffboardingActions::NAMES {
        let label = action.replace('_', " ");
        let name = format!("action.{action}");
        let mut options = String::new();
        for (v, text) in [
            ("", "the organization's setting"),
            ("true", "yes"),
            ("false", "no"),
        ] {
            let sel = if values.get(&name).map(String::as_str) == Some(v) {
                " selected"
            } else {
                ""
            };
            options.push_str(&format!("<option value=\"{v}\"{sel}>{text}</option>"));
        }
        actions.push_str(&format!(
            "<label for=\"{name}\">{label}</label><select id=\"{name}\" name=\"{name}\">{options}</select>"
        ));
    }
    format!(
        "{errors}<form method=\"post\" action=\"/offboardings\">\
         <label for=\"organization\">Organization</label><select id=\"organization\" name=\"organization\">{orgs}</select>\
         {inputs}<h2>Actions</h2>{actions}<button type=\"submit\">Start offboarding</button></form>\
         <p><a href=\"/\">Onboard a user</a> · <a href=\"/approvals\">Pending approvals</a></p>"
    )
}

/// `GET /offboard`: the offboarding form.
pub async fn offboarding_form_page(State(state): State<HttpState>) -> Response {
    if let Err(r) = pages_open(&state) {
        return *r;
    }
    match state.runtime.organizations().await {
        Ok(orgs) => page(
            "Offboard a user",
            &offboarding_form_html(&orgs, &BTreeMap::new(), ""),
        )
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The urlencoded offboarding form as the API's JSON form: blank fields left out,
/// `action.NAME` selects gathered into `actions`.
fn to_offboarding_json_form(values: &BTreeMap<String, String>) -> Value {
    let mut form = Map::new();
    let mut actions = Map::new();
    for (k, v) in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        if let Some(action) = k.strip_prefix("action.") {
            let on = match v {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                // Left for the API to refuse with a field error.
                other => Value::String(other.to_owned()),
            };
            actions.insert(action.to_owned(), on);
        } else {
            form.insert(k.clone(), Value::String(v.to_owned()));
        }
    }
    if !actions.is_empty() {
        form.insert("actions".into(), Value::Object(actions));
    }
    Value::Object(form)
}

/// `POST /offboardings`: the HTML offboarding form's submission.
pub async fn submit_offboarding_form(
    State(state): State<HttpState>,
    Form(values): Form<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = pages_open(&state) {
        return *r;
    }
    match api::accept_offboarding(&state, None, to_offboarding_json_form(&values)).await {
        Ok(answer) => {
            let id = answer.get("id").and_then(Value::as_str).unwrap_or_default();
            Redirect::to(&format!("/offboardings/{}", esc(id))).into_response()
        }
        Err(e) => match api::field_errors(&e) {
            Some(errors) => (
                StatusCode::BAD_REQUEST,
                page(
                    "Offboard a user",
                    &offboarding_form_html(
                        &organizations(&state).await,
                        &values,
                        &error_list(errors),
                    ),
                ),
            )
                .into_response(),
            None => e.into_response(),
        },
    }
}

/// The organizations for a form shown again with its errors (none if they cannot be read:
/// the errors matter more than the list).
async fn organizations(state: &HttpState) -> Vec<OrganizationSummary> {
    state.runtime.organizations().await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "listing organizations failed");
        Vec::new()
    })
}

/// Field errors as a list above a form.
fn error_list(errors: &[onboard_domain::FieldError]) -> String {
    let mut list = String::from("<ul class=\"err\">");
    for fe in errors {
        list.push_str(&format!(
            "<li><b>{}</b>: {}</li>",
            esc(&fe.field),
            esc(&fe.message)
        ));
    }
    list.push_str("</ul><p>Nothing was started.</p>");
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_html_form_becomes_the_api_form() {
        let values: BTreeMap<String, String> = [
            ("organization", "contoso"),
            ("first_name", " Ada "),
            ("licenses", "SPB, O365_BUSINESS_PREMIUM,"),
            ("job_title", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            to_json_form(&values),
            json!({"organization": "contoso", "first_name": "Ada",
                   "licenses": ["SPB", "O365_BUSINESS_PREMIUM"]})
        );
    }

    #[test]
    fn the_html_offboarding_form_becomes_the_api_form() {
        let values: BTreeMap<String, String> = [
            ("organization", "contoso"),
            ("user_principal_name", " ada@contoso.example "),
            ("scheduled_at", ""),
            ("action.remove_groups", "false"),
            ("action.reset_password", "true"),
            ("action.revoke_sessions", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            to_offboarding_json_form(&values),
            json!({"organization": "contoso", "user_principal_name": "ada@contoso.example",
                   "actions": {"remove_groups": false, "reset_password": true}})
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
