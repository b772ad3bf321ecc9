//! The technician's dashboard at `/` (askama templates `dashboard.html`, `runs.html`):
//! onboardings and offboardings newest first, filtered by status and organization,
//! counts per status, what each run waits for and until when, in its organization's
//! time zone; the new-user form below. A small script refreshes the runs section
//! (`?fragment=runs`); without script the page is complete and a reload updates it.

use std::collections::HashMap;

use askama::Template;
use onboard_store::{RecentFilter, Record, RecordKind, Status};

use crate::error::ApiError;
use crate::runs::{self, ListQuery};
use crate::{HttpState, OrganizationSummary};

/// Per status, at most this many are counted; more shows as `200+`.
const COUNT_CAP: u32 = 200;
/// How often the page's script refreshes the runs.
const POLL_MS: u32 = 5000;

/// One row of the runs table.
pub(crate) struct Row {
    id: String,
    href: String,
    name: String,
    kind: &'static str,
    organization: String,
    status: &'static str,
    waiting: Option<String>,
    updated: String,
    updated_iso: String,
}

/// One status's count.
pub(crate) struct Count {
    status: &'static str,
    count: String,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsFragment {
    rows: Vec<Row>,
    counts: Vec<Count>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard<'a> {
    rows: Vec<Row>,
    counts: Vec<Count>,
    statuses: Vec<&'static str>,
    status_filter: &'a str,
    org_filter: &'a str,
    organizations: &'a [OrganizationSummary],
    form: &'a str,
    poll_ms: u32,
}

/// A time as people read it in `tz`: `2026-03-02 09:00 CET`.
fn local(at: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    at.to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The time zones of the organizations in `records`, read once each.
async fn zones(state: &HttpState, records: &[Record]) -> HashMap<String, jiff::tz::TimeZone> {
    let mut zones = HashMap::new();
    for r in records {
        if zones.contains_key(&r.organization) {
            continue;
        }
        let tz = match state.runtime.variables(&r.organization).await {
            Ok(Some(v)) => v.time_zone.zone().clone(),
            _ => jiff::tz::TimeZone::UTC,
        };
        zones.insert(r.organization.clone(), tz);
    }
    zones
}

fn row(record: &Record, tz: &jiff::tz::TimeZone) -> Row {
    let what = record.kind.collection();
    let waiting = runs::waiting_for(record.kind, record.status).map(|w| {
        let w = w.replace('_', " ");
        match runs::waiting_until(record) {
            Some(until) => format!("{w} until {}", local(until, tz)),
            None => w,
        }
    });
    Row {
        id: record.id.clone(),
        href: format!("/{what}/{}", record.id),
        name: runs::display_name(record).unwrap_or_else(|| record.id.clone()),
        kind: record.kind.as_str(),
        organization: record.organization.clone(),
        status: record.status.as_str(),
        waiting,
        updated: local(record.updated_at, tz),
        updated_iso: record.updated_at.to_string(),
    }
}

/// The rows (both kinds, newest first) and counts for `query`.
async fn runs_data(
    state: &HttpState,
    query: &ListQuery,
) -> Result<(Vec<Row>, Vec<Count>), ApiError> {
    let mut records = Vec::new();
    for kind in RecordKind::ALL {
        let (page, _) = runs::list(state, *kind, query).await?;
        records.extend(page);
    }
    records.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    records.truncate(query.limit as usize);
    let zones = zones(state, &records).await;
    let rows = records
        .iter()
        .map(|r| {
            row(
                r,
                zones
                    .get(&r.organization)
                    .unwrap_or(&jiff::tz::TimeZone::UTC),
            )
        })
        .collect();
    let mut counts = Vec::new();
    for status in Status::ALL {
        let filter = RecentFilter {
            organization: query.organization.clone(),
            status: Some(*status),
        };
        let mut n = 0usize;
        let mut more = false;
        for kind in RecordKind::ALL {
            let page = state
                .store()
                .list_recent(*kind, &filter, COUNT_CAP, None)
                .await?;
            n += page.items.len();
            more |= page.next.is_some();
        }
        let count = if more || n > COUNT_CAP as usize {
            format!("{COUNT_CAP}+")
        } else {
            n.to_string()
        };
        counts.push(Count {
            status: status.as_str(),
            count,
        });
    }
    Ok((rows, counts))
}

/// The runs section alone (`/?fragment=runs`), for the page's refresh.
pub(crate) async fn runs_fragment(
    state: &HttpState,
    raw: Option<&str>,
) -> Result<String, ApiError> {
    let query = ListQuery::parse(raw)?;
    let (rows, counts) = runs_data(state, &query).await?;
    RunsFragment { rows, counts }
        .render()
        .map_err(ApiError::internal)
}

/// The whole dashboard, with `form` (the new-user form's HTML, already escaped) below.
pub(crate) async fn render(
    state: &HttpState,
    raw: Option<&str>,
    organizations: &[OrganizationSummary],
    form: &str,
) -> Result<String, ApiError> {
    let query = ListQuery::parse(raw)?;
    let (rows, counts) = runs_data(state, &query).await?;
    let status_filter = query.status.map_or("", Status::as_str);
    Dashboard {
        rows,
        counts,
        statuses: Status::ALL.iter().map(|s| s.as_str()).collect(),
        status_filter,
        org_filter: query.organization.as_deref().unwrap_or(""),
        organizations,
        form,
        poll_ms: POLL_MS,
    }
    .render()
    .map_err(ApiError::internal)
}
