//! The organizations pages (askama `organizations.html`, `organization.html`):
//! `/organizations` lists them; `/organizations/{id}` shows each variable's
//! effective value and where it comes from (built-in default, MSP-wide or the
//! organization's own), read from the store as every step reads them, so it is
//! what the next run will use. `?source=organization|msp|default` narrows the list.
//! Below them, the organization's templates, and a form that makes one from an
//! existing user (`POST /organizations/{id}/templates`, as the API's).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use onboard_domain::variables::{VARIABLES, VariableSource, variable_source};
use onboard_domain::{FieldError, Variables};
use serde::Deserialize;

use crate::error::ApiError;
use crate::pages::{csrf_refused, with_token};
use crate::{HttpState, OrganizationSummary, csrf};

#[derive(Template)]
#[template(path = "organizations.html")]
struct List {
    organizations: Vec<OrganizationSummary>,
}

struct VariableRow {
    name: &'static str,
    doc: String,
    value: String,
    source: &'static str,
    source_key: &'static str,
}

struct TemplateRow {
    name: String,
    description: String,
    fields: Vec<(&'static str, String)>,
}

/// The "make a template from a user" form, as typed, with its errors.
#[derive(Debug, Default, Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    from_user: String,
    #[serde(default)]
    csrf_token: Option<String>,
    #[serde(skip)]
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "organization.html")]
struct One<'a> {
    id: String,
    name: String,
    domain: String,
    variables: Vec<VariableRow>,
    set_here: usize,
    set_msp: usize,
    source_filter: String,
    source_options: [(&'static str, &'static str); 4],
    error: Option<String>,
    templates: Vec<TemplateRow>,
    templates_error: Option<String>,
    form: &'a TemplateForm,
    csrf_field: &'static str,
    csrf: &'a str,
}

fn source_key(source: VariableSource) -> &'static str {
    match source {
        VariableSource::Default => "default",
        VariableSource::MspWide => "msp",
        VariableSource::Organization => "organization",
    }
}

/// `GET /organizations`.
pub async fn list(State(state): State<HttpState>) -> Response {
    match state.runtime.organizations().await {
        Ok(organizations) => match (List { organizations }).render() {
            Ok(html) => Html(html).into_response(),
            Err(e) => ApiError::internal(e).into_response(),
        },
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `?source=` on an organization's page.
#[derive(Debug, Deserialize)]
pub struct OrganizationQuery {
    source: Option<String>,
}

/// `GET /organizations/{id}`.
pub async fn one(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<OrganizationQuery>,
) -> Response {
    let token = csrf::issue(&state, &headers);
    let form = TemplateForm::default();
    match render(
        &state,
        &id,
        q.source.unwrap_or_default(),
        &form,
        &token.token,
    )
    .await
    {
        Ok(html) => with_token(Html(html).into_response(), &token),
        Err(e) => e.into_response(),
    }
}

/// `POST /organizations/{id}/templates`: the form's template, made from the
/// user it names; back to the page, the new template listed, or the page
/// again with the errors beside the fields and what was typed.
pub async fn make_template(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(mut form): Form<TemplateForm>,
) -> Response {
    if !csrf::verify(&state, &headers, form.csrf_token.as_deref()) {
        return csrf_refused(&format!("/organizations/{id}"));
    }
    let made = crate::templates::make_from_user(&state, &id, &form.name, &form.from_user).await;
    let errors = match made {
        Ok(_) => return Redirect::to(&format!("/organizations/{id}#templates")).into_response(),
        Err(ApiError::Invalid(errors)) => errors,
        Err(ApiError::Conflict(why)) => vec![FieldError::new("name", why)],
        Err(e) => return e.into_response(),
    };
    form.errors = errors;
    let token = csrf::issue(&state, &headers);
    match render(&state, &id, String::new(), &form, &token.token).await {
        Ok(html) => with_token(
            (StatusCode::BAD_REQUEST, Html(html)).into_response(),
            &token,
        ),
        Err(e) => e.into_response(),
    }
}

fn template_rows(found: Vec<(String, onboard_domain::template::Template)>) -> Vec<TemplateRow> {
    found
        .into_iter()
        .map(|(name, t)| {
            let mut fields: Vec<(&'static str, String)> = Vec::new();
            let mut text = |label, value: Option<String>| {
                if let Some(v) = value {
                    fields.push((label, v));
                }
            };
            text("Department", t.department.clone());
            text("Job title", t.job_title.clone());
            text("Office", t.office_location.clone());
            text("Usage location", t.usage_location.map(|c| c.to_string()));
            text(
                "Manager",
                t.manager_email.as_ref().map(|m| m.as_str().to_owned()),
            );
            let joined = |items: Vec<String>| (!items.is_empty()).then(|| items.join(", "));
            text(
                "Licenses",
                joined(t.licenses.iter().map(|l| l.as_str().to_owned()).collect()),
            );
            text("Groups", joined(t.groups.clone()));
            text(
                "Shared mailboxes",
                joined(
                    t.shared_mailboxes
                        .iter()
                        .map(|m| m.as_str().to_owned())
                        .collect(),
                ),
            );
            TemplateRow {
                name,
                description: t.description.clone().unwrap_or_default(),
                fields,
            }
        })
        .collect()
}

async fn render(
    state: &HttpState,
    id: &str,
    source_filter: String,
    form: &TemplateForm,
    csrf: &str,
) -> Result<String, ApiError> {
    let organization = state
        .runtime
        .organizations()
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or(ApiError::NotFound("organization"))?;
    let (msp, org) = onboard_steps::variable_layers(state.store(), id)
        .await
        .map_err(|e| ApiError::internal(format!("{}: {}", e.name(), e.cause())))?;
    // A bad value is shown as the error the runs would meet, with the raw values.
    let (resolved, error) = match Variables::resolve(id, &msp, &org) {
        Ok(v) => (Some(v), None),
        Err(e) => (
            None,
            Some(format!("Runs of this organization fail now: {e}")),
        ),
    };
    let raw = |name: &str| {
        org.iter()
            .chain(msp.iter())
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut variables = Vec::new();
    let (mut set_here, mut set_msp) = (0, 0);
    for spec in VARIABLES {
        let source = variable_source(spec, &msp, &org);
        match source {
            VariableSource::Organization => set_here += 1,
            VariableSource::MspWide => set_msp += 1,
            VariableSource::Default => {}
        }
        if !source_filter.is_empty() && source_filter != source_key(source) {
            continue;
        }
        let value = resolved
            .as_ref()
            .and_then(|v| v.get(spec.name))
            .or_else(|| raw(spec.name))
            .unwrap_or_else(|| (spec.default)());
        variables.push(VariableRow {
            name: spec.name,
            doc: spec.doc.trim().replace('\n', " "),
            value: match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => "none".to_owned(),
                other => other.to_string(),
            },
            source: source.as_str(),
            source_key: source_key(source),
        });
    }
    let (templates, templates_error) = match onboard_steps::templates::list(&state.deps, id).await {
        Ok(found) => (template_rows(found), None),
        Err(e) => (
            Vec::new(),
            Some(format!("The templates cannot be listed: {}", e.cause())),
        ),
    };
    One {
        id: organization.id,
        name: organization.name,
        domain: organization.domain,
        variables,
        set_here,
        set_msp,
        source_filter,
        source_options: [
            ("", "every variable"),
            ("organization", "set for this organization"),
            ("msp", "set MSP-wide"),
            ("default", "built-in defaults"),
        ],
        error,
        templates,
        templates_error,
        form,
        csrf_field: csrf::FIELD,
        csrf,
    }
    .render()
    .map_err(ApiError::internal)
}
