//! The pickers' look-ups (CONTRACT.md §4): `GET /api/organizations/{id}/licenses`
//! (`sku`, `name`, `free_seats`), `/groups?search=` and `/users?search=`
//! (`displayName`, and `userPrincipalName` for users). Read-only.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::Value;

use crate::HttpState;
use crate::error::ApiError;
use crate::plan::{organization, step_error};

/// The `search` query of the group and user look-ups.
#[derive(Debug, Deserialize)]
pub struct Search {
    /// The text names start with; empty or absent lists the first few.
    #[serde(default)]
    search: String,
}

/// Longest search text taken: a display name or an address, not a document.
const MAX_SEARCH: usize = 256;

fn checked(search: &Search) -> Result<&str, ApiError> {
    let text = search.search.trim();
    if text.chars().count() > MAX_SEARCH {
        return Err(ApiError::field(
            "search",
            format!("is longer than {MAX_SEARCH} characters"),
        ));
    }
    Ok(text)
}

/// `GET /api/organizations/{id}/licenses`.
#[utoipa::path(get, path = "/api/organizations/{id}/licenses", tag = "organizations", params(("id" = String, Path, description = "An organization id")),
    responses(
        (status = 200, description = "The tenant's licenses with their free seats", body = Vec<crate::openapi::schemas::LicenseOption>),
        (status = 404, description = "No such organization", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The organization's settings cannot serve this request (named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn licenses(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let organization = organization(&state, &id).await?;
    let found = onboard_steps::lookups::licenses(&state.deps, &organization)
        .await
        .map_err(step_error)?;
    serde_json::to_value(found)
        .map(Json)
        .map_err(ApiError::internal)
}

/// `GET /api/organizations/{id}/groups?search=`.
#[utoipa::path(get, path = "/api/organizations/{id}/groups", tag = "organizations",
    params(("id" = String, Path, description = "An organization id"), ("search" = Option<String>, Query, description = "The start of a name")),
    responses(
        (status = 200, description = "Up to 20 whose name starts with `search`", body = Vec<crate::openapi::schemas::GroupOption>),
        (status = 400, description = "A search too long", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The organization's settings cannot serve this request (named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn groups(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(search): Query<Search>,
) -> Result<Json<Value>, ApiError> {
    let text = checked(&search)?;
    let organization = organization(&state, &id).await?;
    let found = onboard_steps::lookups::groups(&state.deps, &organization, text)
        .await
        .map_err(step_error)?;
    serde_json::to_value(found)
        .map(Json)
        .map_err(ApiError::internal)
}

/// `GET /api/organizations/{id}/users?search=`.
#[utoipa::path(get, path = "/api/organizations/{id}/users", tag = "organizations",
    params(("id" = String, Path, description = "An organization id"), ("search" = Option<String>, Query, description = "The start of a name")),
    responses(
        (status = 200, description = "Up to 20 whose name starts with `search`", body = Vec<crate::openapi::schemas::UserOption>),
        (status = 400, description = "A search too long", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The organization's settings cannot serve this request (named)", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn users(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(search): Query<Search>,
) -> Result<Json<Value>, ApiError> {
    let text = checked(&search)?;
    let organization = organization(&state, &id).await?;
    let found = onboard_steps::lookups::users(&state.deps, &organization, text)
        .await
        .map_err(step_error)?;
    serde_json::to_value(found)
        .map(Json)
        .map_err(ApiError::internal)
}
