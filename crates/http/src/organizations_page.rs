//! The organizations pages (askama `organizations.html`, `organization.html`):
//! `/organizations` lists them; `/organizations/{id}` shows each variable's
//! effective value and where it comes from (built-in default, MSP-wide or the
//! organization's own), read from the store as every step reads them, so it is
//! what the next run will use. `?source=organization|msp|default` narrows the list.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use onboard_domain::Variables;
use onboard_domain::variables::{VARIABLES, VariableSource, variable_source};
use serde::Deserialize;

use crate::error::ApiError;
use crate::{HttpState, OrganizationSummary};

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

#[derive(Template)]
#[template(path = "organization.html")]
struct One {
    id: String,
    name: String,
    domain: String,
    variables: Vec<VariableRow>,
    set_here: usize,
    set_msp: usize,
    source_filter: String,
    source_options: [(&'static str, &'static str); 4],
    error: Option<String>,
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
    Path(id): Path<String>,
    Query(q): Query<OrganizationQuery>,
) -> Response {
    match render(&state, &id, q.source.unwrap_or_default()).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn render(state: &HttpState, id: &str, source_filter: String) -> Result<String, ApiError> {
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
    }
    .render()
    .map_err(ApiError::internal)
}
