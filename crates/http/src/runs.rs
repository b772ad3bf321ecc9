//! The run listings of CONTRACT.md §4 (`GET /api/onboardings`, `GET /api/offboardings`):
//! newest first, filtered by status and organization, paged by an opaque cursor,
//! each item saying what it waits for and until when.

use axum::Json;
use axum::extract::{RawQuery, State};
use onboard_store::{Cursor, RecentFilter, Record, RecordKind, Status, StoreError};
use serde_json::{Value, json};

use crate::HttpState;
use crate::error::ApiError;

/// The page size when the query names none.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page a listing answers.
pub const MAX_LIMIT: u32 = 200;

/// A listing's query, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this organization.
    pub organization: Option<String>,
    /// The page size, 1..=[`MAX_LIMIT`].
    pub limit: u32,
    /// Where the previous page stopped.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// Parses `status`, `organization`, `limit` and `cursor` from a query string;
    /// an empty value is no filter, other parameters are ignored.
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
        let mut out = ListQuery {
            limit: DEFAULT_LIMIT,
            ..ListQuery::default()
        };
        let mut errors = Vec::new();
        for (name, value) in pairs {
            let value = value.trim().to_owned();
            if value.is_empty() {
                continue;
            }
            match name.as_str() {
                "status" => match value.parse::<Status>() {
                    Ok(s) => out.status = Some(s),
                    Err(_) => errors.push(onboard_domain::FieldError::new(
                        "status",
                        format!(
                            "unknown status `{value}`; one of {}",
                            Status::ALL
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )),
                },
                "organization" => out.organization = Some(value),
                "limit" => match value.parse::<u32>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => out.limit = n,
                    _ => errors.push(onboard_domain::FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    )),
                },
                "cursor" => out.cursor = Some(value),
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(ApiError::Invalid(errors))
        }
    }

    fn filter(&self) -> RecentFilter {
        RecentFilter {
            organization: self.organization.clone(),
            status: self.status,
        }
    }
}

/// One page of a listing: the records and where the next page starts.
pub async fn list(
    state: &HttpState,
    kind: RecordKind,
    query: &ListQuery,
) -> Result<(Vec<Record>, Option<String>), ApiError> {
    let cursor = query.cursor.clone().map(Cursor);
    let page = state
        .store()
        .list_recent(kind, &query.filter(), query.limit, cursor.as_ref())
        .await
        .map_err(|e| match e {
            StoreError::InvalidCursor => ApiError::field(
                "cursor",
                "is not a cursor of this listing (filters changed?); start again without it",
            ),
            other => other.into(),
        })?;
    Ok((page.items, page.next.map(|c| c.0)))
}

/// What a run in `status` waits for: `approval`, `license_purchase`, `start_date`
/// (an onboarding's) or `scheduled_time` (an offboarding's); `None` when it waits for nothing.
pub fn waiting_for(kind: RecordKind, status: Status) -> Option<&'static str> {
    match (kind, status) {
        (_, Status::PendingApproval) => Some("approval"),
        (_, Status::WaitingLicensePurchase) => Some("license_purchase"),
        (RecordKind::Onboarding, Status::Scheduled) => Some("start_date"),
        (RecordKind::Offboarding, Status::Scheduled) => Some("scheduled_time"),
        _ => None,
    }
}

/// The name a person knows the run by: the form's display name, its first and
/// last name, or (an offboarding) the user's UPN.
pub fn display_name(record: &Record) -> Option<String> {
    let field = |name: &str| {
        record
            .request
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    if let Some(name) = field("display_name") {
        return Some(name.to_owned());
    }
    match (field("first_name"), field("last_name")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => field("user_principal_name").map(str::to_owned),
    }
}

/// The user's UPN: the one the workflow settled on, else the one the form named.
pub fn user_principal_name(record: &Record) -> Option<String> {
    record.user_principal_name.clone().or_else(|| {
        record
            .request
            .get("user_principal_name")
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
}

/// Until when the run waits, while it waits.
pub fn waiting_until(record: &Record) -> Option<jiff::Timestamp> {
    waiting_for(record.kind, record.status).and(record.waiting_until)
}

/// A record as a listing shows it.
pub fn item_view(record: &Record) -> Value {
    json!({
        "id": record.id,
        "kind": record.kind.as_str(),
        "status": record.status.as_str(),
        "organization": record.organization,
        "display_name": display_name(record),
        "user_principal_name": user_principal_name(record),
        "created_at": record.created_at.to_string(),
        "updated_at": record.updated_at.to_string(),
        "waiting_for": waiting_for(record.kind, record.status),
        "waiting_until": waiting_until(record).map(|t| t.to_string()),
    })
}

async fn answer(
    state: &HttpState,
    kind: RecordKind,
    raw: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let query = ListQuery::parse(raw.as_deref())?;
    let (records, next) = list(state, kind, &query).await?;
    Ok(Json(json!({
        "items": records.iter().map(item_view).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

/// `GET /api/onboardings`.
#[utoipa::path(get, path = "/api/onboardings", tag = "onboardings",
    params(
        ("status" = Option<String>, Query, description = "Only runs of this status"),
        ("organization" = Option<String>, Query, description = "Only runs of this organization"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the page before"),
    ),
    responses(
        (status = 200, description = "Newest first", body = crate::openapi::schemas::RunList),
        (status = 400, description = "A bad filter, limit or cursor", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn list_onboardings(
    State(state): State<HttpState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    answer(&state, RecordKind::Onboarding, raw).await
}

/// `GET /api/offboardings`.
#[utoipa::path(get, path = "/api/offboardings", tag = "offboardings",
    params(
        ("status" = Option<String>, Query, description = "Only runs of this status"),
        ("organization" = Option<String>, Query, description = "Only runs of this organization"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the page before"),
    ),
    responses(
        (status = 200, description = "Newest first", body = crate::openapi::schemas::RunList),
        (status = 400, description = "A bad filter, limit or cursor", body = crate::openapi::schemas::Problem, content_type = "application/problem+json"),
        crate::openapi::schemas::Common,
    ))]
pub async fn list_offboardings(
    State(state): State<HttpState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    answer(&state, RecordKind::Offboarding, raw).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_query_without_parameters_lists_the_default_page() {
        let q = ListQuery::parse(None).unwrap();
        assert_eq!(q.limit, DEFAULT_LIMIT);
        assert_eq!(q.status, None);
        assert_eq!(q.organization, None);
    }

    #[test]
    fn empty_values_are_no_filter_and_unknown_parameters_are_ignored() {
        let q = ListQuery::parse(Some("status=&organization=&x=1")).unwrap();
        assert_eq!(q, ListQuery::parse(None).unwrap());
    }

    #[test]
    fn an_unknown_status_and_a_bad_limit_are_both_named() {
        let Err(ApiError::Invalid(errors)) = ListQuery::parse(Some("status=sleeping&limit=0"))
        else {
            panic!("expected field errors");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["status", "limit"]);
        assert!(errors[0].message.contains("pending_approval"));
    }

    #[test]
    fn only_waiting_statuses_wait_for_something() {
        assert_eq!(
            waiting_for(RecordKind::Onboarding, Status::Scheduled),
            Some("start_date")
        );
        assert_eq!(
            waiting_for(RecordKind::Offboarding, Status::Scheduled),
            Some("scheduled_time")
        );
        assert_eq!(waiting_for(RecordKind::Onboarding, Status::Running), None);
        assert_eq!(waiting_for(RecordKind::Onboarding, Status::Completed), None);
    }
}
