//! An organization's templates over the API (issue 21; not a CONTRACT.md surface):
//! `GET /api/organizations/{id}/templates`, `GET`/`PUT`/`DELETE
//! .../templates/{name}`, and `POST .../templates` `{"name", "from_user"}`,
//! which makes one from an existing user's groups and licenses.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onboard_domain::template::{Template, check_name};
use onboard_steps::templates;
use serde_json::{Value, json};

use crate::HttpState;
use crate::api::{Body, domain_errors, json_object};
use crate::error::ApiError;
use crate::plan::{organization, step_error};

fn view(name: &str, template: &Template) -> Value {
    json!({"name": name, "template": template.to_body()})
}

fn name_of(raw: &str) -> Result<&str, ApiError> {
    check_name(raw).map_err(|e| ApiError::Invalid(vec![e]))
}

/// `GET /api/organizations/{id}/templates`.
#[utoipa::path(get, path = "/api/organizations/{id}/templates", tag = "organizations", params(("id" = String, Path, description = "An organization id")),
    responses(
        (status = 200, description = "The organization's templates, by name", body = Vec<crate::openapi::schemas::NamedTemplate>),
        (status = 404, description = "No such organization", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 500, description = "A stored template no longer reads (named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn list_templates(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let organization = organization(&state, &id).await?;
    let found = templates::list(&state.deps, &organization.id)
        .await
        .map_err(step_error)?;
    Ok(Json(Value::Array(
        found.iter().map(|(name, t)| view(name, t)).collect(),
    )))
}

/// `GET /api/organizations/{id}/templates/{name}`.
#[utoipa::path(get, path = "/api/organizations/{id}/templates/{name}", tag = "organizations",
    params(("id" = String, Path, description = "An organization id"), ("name" = String, Path, description = "A template name")),
    responses(
        (status = 200, description = "The template", body = crate::openapi::schemas::NamedTemplate),
        (status = 400, description = "Not a template name", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization or template", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The stored template no longer reads (named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn get_template(
    State(state): State<HttpState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let name = name_of(&name)?;
    let organization = organization(&state, &id).await?;
    match templates::get(&state.deps, &organization.id, name)
        .await
        .map_err(step_error)?
    {
        Some(template) => Ok(Json(view(name, &template))),
        None => Err(ApiError::NotFound("template")),
    }
}

/// `PUT /api/organizations/{id}/templates/{name}`.
#[utoipa::path(put, path = "/api/organizations/{id}/templates/{name}", tag = "organizations",
    description = "Creates or replaces a template. Every bad or unknown field is named.",
    params(("id" = String, Path, description = "An organization id"), ("name" = String, Path, description = "A template name")),
    request_body = crate::openapi::schemas::TemplateFields,
    responses(
        (status = 200, description = "The template as stored", body = crate::openapi::schemas::NamedTemplate),
        (status = 400, description = "Invalid fields or name", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn put_template(
    State(state): State<HttpState>,
    Path((id, name)): Path<(String, String)>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let name = name_of(&name)?.to_owned();
    let body = json_object(&body)?;
    let template = Template::parse(&body).map_err(domain_errors)?;
    let organization = organization(&state, &id).await?;
    let name = templates::put(&state.deps, &organization.id, &name, &template)
        .await
        .map_err(step_error)?;
    tracing::info!(organization = %organization.id, template = %name, "template stored");
    Ok(Json(view(&name, &template)))
}

/// `DELETE /api/organizations/{id}/templates/{name}`.
#[utoipa::path(delete, path = "/api/organizations/{id}/templates/{name}", tag = "organizations",
    description = "Forms that name it afterwards are refused; runs already accepted are unchanged (they hold its fields).",
    params(("id" = String, Path, description = "An organization id"), ("name" = String, Path, description = "A template name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a template name", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization or template", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn delete_template(
    State(state): State<HttpState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let name = name_of(&name)?;
    let organization = organization(&state, &id).await?;
    if templates::delete(&state.deps, &organization.id, name)
        .await
        .map_err(step_error)?
    {
        tracing::info!(organization = %organization.id, template = %name, "template deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("template"))
    }
}

/// `POST /api/organizations/{id}/templates`.
#[utoipa::path(post, path = "/api/organizations/{id}/templates", tag = "organizations",
    description = "Makes a template from an existing user: department, job title, office, usage location, manager, the groups a new member can join, the licenses assigned directly. Reads the directory only. A name already taken is 409 (PUT replaces).",
    params(("id" = String, Path, description = "An organization id")),
    request_body = crate::openapi::schemas::TemplateFromUser,
    responses(
        (status = 201, description = "The template made", body = crate::openapi::schemas::NamedTemplate),
        (status = 400, description = "A bad name, or no such user", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A template of that name exists", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The organization's settings cannot serve this request (named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn create_template_from_user(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let body = json_object(&body)?;
    let text = |field: &str| match body.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Null) | None => Ok(String::new()),
        Some(_) => Err(ApiError::field(field, "expected a string")),
    };
    let (name, user) = (text("name")?, text("from_user")?);
    if let Some(extra) = body.as_object().and_then(|o| {
        o.keys()
            .find(|k| !matches!(k.as_str(), "name" | "from_user"))
    }) {
        return Err(ApiError::field(extra, "is not a field (name, from_user)"));
    }
    let (name, template) = make_from_user(&state, &id, &name, &user).await?;
    Ok((StatusCode::CREATED, Json(view(&name, &template))).into_response())
}

/// Makes template `name` of organization `id` from `user`, unless the name is
/// taken (409): the API's `POST .../templates` and the organization page's form.
pub(crate) async fn make_from_user(
    state: &HttpState,
    id: &str,
    name: &str,
    user: &str,
) -> Result<(String, Template), ApiError> {
    let mut errors = Vec::new();
    let name = match check_name(name) {
        Ok(name) => Some(name),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if user.trim().is_empty() {
        errors.push(onboard_domain::FieldError::new("from_user", "is required"));
    }
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let organization = organization(state, id).await?;
    if templates::get(&state.deps, &organization.id, name)
        .await
        .map_err(step_error)?
        .is_some()
    {
        return Err(ApiError::Conflict(format!(
            "organization `{}` has a template `{name}` already: PUT .../templates/{name} replaces it",
            organization.id
        )));
    }
    let template = templates::from_user(&state.deps, &organization, user)
        .await
        .map_err(step_error)?;
    let name = templates::put(&state.deps, &organization.id, name, &template)
        .await
        .map_err(step_error)?;
    tracing::info!(organization = %organization.id, template = %name, "template made from a user");
    Ok((name, template))
}
