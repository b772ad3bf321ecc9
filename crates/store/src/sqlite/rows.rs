//! Rows of the `records`, `events` and `decisions` tables read into the
//! model, and the queries more than one operation shares.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::model::{
    Cursor, Decision, Page, RecentCursor, RecentFilter, Record, RecordFilter, RecordKind,
    TimelineEvent,
};

pub(super) fn parse_time(text: &str) -> Result<Timestamp, StoreError> {
    text.parse()
        .map_err(|e| StoreError::Malformed(format!("timestamp {text:?}: {e}")))
}

pub(super) fn parse_opt_time(text: Option<String>) -> Result<Option<Timestamp>, StoreError> {
    text.as_deref().map(parse_time).transpose()
}

pub(super) fn parse_json(text: Option<String>) -> Result<Option<serde_json::Value>, StoreError> {
    Ok(text.as_deref().map(serde_json::from_str).transpose()?)
}

pub(super) const RECORD_COLUMNS: &str = "id, kind, organization, status, request, user_principal_name, \
     ticket_id, license_outcome, removed, created_at, updated_at, waiting_until";

/// Raw columns of a `records` row, read inside the rusqlite closure.
pub(super) struct RecordRow([Option<String>; 12]);

impl RecordRow {
    pub(super) fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        let mut cols: [Option<String>; 12] = Default::default();
        for (i, col) in cols.iter_mut().enumerate() {
            *col = row.get(i)?;
        }
        Ok(RecordRow(cols))
    }

    pub(super) fn into_record(self) -> Result<Record, StoreError> {
        let [
            id,
            kind,
            org,
            status,
            request,
            upn,
            ticket,
            license,
            removed,
            created,
            updated,
            waiting_until,
        ] = self.0;
        let req = |v: Option<String>, name: &str| {
            v.ok_or_else(|| StoreError::Malformed(format!("record column {name} is null")))
        };
        Ok(Record {
            id: req(id, "id")?,
            kind: req(kind, "kind")?.parse()?,
            organization: req(org, "organization")?,
            status: req(status, "status")?.parse()?,
            request: serde_json::from_str(&req(request, "request")?)?,
            user_principal_name: upn,
            ticket_id: ticket,
            license_outcome: license.as_deref().map(str::parse).transpose()?,
            removed: parse_json(removed)?,
            waiting_until: parse_opt_time(waiting_until)?,
            created_at: parse_time(&req(created, "created_at")?)?,
            updated_at: parse_time(&req(updated, "updated_at")?)?,
        })
    }
}

pub(super) fn get_record(conn: &Connection, id: &str) -> Result<Option<Record>, StoreError> {
    conn.query_row(
        &format!("SELECT {RECORD_COLUMNS} FROM records WHERE id = ?1"),
        [id],
        RecordRow::read,
    )
    .optional()?
    .map(RecordRow::into_record)
    .transpose()
}

pub(super) fn insert_event(
    conn: &Connection,
    record_id: &str,
    event: &TimelineEvent,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO timeline (record_id, at, at_us, step, message) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            record_id,
            event.at.to_string(),
            event.at.as_microsecond(),
            event.step,
            event.message
        ],
    )?;
    Ok(())
}

pub(super) const DECISION_COLUMNS: &str =
    "id, kind, record_id, organization, state, created_at, expires_at, decided_by, decided_at";

pub(super) struct DecisionRow([Option<String>; 9]);

impl DecisionRow {
    pub(super) fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        let mut cols: [Option<String>; 9] = Default::default();
        for (i, col) in cols.iter_mut().enumerate() {
            *col = row.get(i)?;
        }
        Ok(DecisionRow(cols))
    }

    pub(super) fn into_decision(self) -> Result<Decision, StoreError> {
        let [id, kind, record, org, state, created, expires, by, at] = self.0;
        let req = |v: Option<String>, name: &str| {
            v.ok_or_else(|| StoreError::Malformed(format!("decision column {name} is null")))
        };
        Ok(Decision {
            id: req(id, "id")?,
            kind: req(kind, "kind")?.parse()?,
            record_id: req(record, "record_id")?,
            organization: req(org, "organization")?,
            state: req(state, "state")?.parse()?,
            created_at: parse_time(&req(created, "created_at")?)?,
            expires_at: parse_time(&req(expires, "expires_at")?)?,
            decided_by: by,
            decided_at: parse_opt_time(at)?,
        })
    }
}

pub(super) fn get_decision(conn: &Connection, id: &str) -> Result<Option<Decision>, StoreError> {
    conn.query_row(
        &format!("SELECT {DECISION_COLUMNS} FROM decisions WHERE id = ?1"),
        [id],
        DecisionRow::read,
    )
    .optional()?
    .map(DecisionRow::into_decision)
    .transpose()
}

/// Where a listing stopped: the sort key of its last item.
#[derive(Serialize, Deserialize)]
pub(super) struct SqlCursor {
    /// The listing it belongs to: a cursor is refused by any other listing.
    pub(super) q: String,
    /// Organization (only for listings ordered by organization first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) o: Option<String>,
    /// `created_us` / `expires_us` of the last item.
    pub(super) t: i64,
    /// Id of the last item.
    pub(super) i: String,
}

impl SqlCursor {
    pub(super) fn encode(&self) -> Result<Cursor, StoreError> {
        Ok(Cursor(format!(
            "s1.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(self)?)
        )))
    }

    pub(super) fn decode(cursor: Option<&Cursor>) -> Result<Option<Self>, StoreError> {
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let body = cursor
            .0
            .strip_prefix("s1.")
            .ok_or(StoreError::InvalidCursor)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| StoreError::InvalidCursor)?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| StoreError::InvalidCursor)
    }
}

/// The keyset-paging query for a listing, with only the conditions that
/// apply, so SQLite seeks in `records_by_organization` or `records_by_status`
/// instead of scanning (checked by `listings_seek_in_an_index`).
pub(super) fn list_sql(
    kind: RecordKind,
    filter: &RecordFilter,
    cursor: Option<SqlCursor>,
    limit: u32,
) -> (String, Vec<rusqlite::types::Value>) {
    let by_org_first = matches!(filter, RecordFilter::Status(_));
    let mut sql = format!("SELECT {RECORD_COLUMNS}, created_us FROM records WHERE kind = ?");
    let mut args: Vec<rusqlite::types::Value> = vec![kind.as_str().to_owned().into()];
    let (org, status) = match filter {
        RecordFilter::Organization(o) => (Some(o), None),
        RecordFilter::Status(s) => (None, Some(s)),
        RecordFilter::OrganizationAndStatus(o, s) => (Some(o), Some(s)),
    };
    if let Some(status) = status {
        sql.push_str(" AND status = ?");
        args.push(status.as_str().to_owned().into());
    }
    if let Some(org) = org {
        sql.push_str(" AND organization = ?");
        args.push(org.clone().into());
    }
    match (cursor, by_org_first) {
        (Some(c), true) => {
            sql.push_str(" AND (organization, created_us, id) > (?, ?, ?)");
            args.extend([c.o.unwrap_or_default().into(), c.t.into(), c.i.into()]);
        }
        (Some(c), false) => {
            sql.push_str(" AND (created_us, id) > (?, ?)");
            args.extend([c.t.into(), c.i.into()]);
        }
        (None, _) => {}
    }
    sql.push_str(if by_org_first {
        " ORDER BY organization, created_us, id LIMIT ?"
    } else {
        " ORDER BY created_us, id LIMIT ?"
    });
    args.push((i64::from(limit) + 1).into());
    (sql, args)
}

pub(super) fn list_records(
    conn: &Connection,
    kind: RecordKind,
    filter: &RecordFilter,
    limit: u32,
    cursor: Option<SqlCursor>,
) -> Result<Page<Record>, StoreError> {
    let by_org_first = matches!(filter, RecordFilter::Status(_));
    let query = format!("{kind}/{filter:?}");
    if cursor
        .as_ref()
        .is_some_and(|c| c.q != query || c.o.is_some() != by_org_first)
    {
        return Err(StoreError::InvalidCursor);
    }
    let (sql, args) = list_sql(kind, filter, cursor, limit);
    let (items, last_t, more) = fetch_page(conn, &sql, args, limit)?;
    let next = match (more, items.last()) {
        (true, Some(last)) => Some(
            SqlCursor {
                q: query,
                o: by_org_first.then(|| last.organization.clone()),
                t: last_t,
                i: last.id.clone(),
            }
            .encode()?,
        ),
        _ => None,
    };
    Ok(Page { items, next })
}

/// Runs a listing query that asks for `limit + 1` rows (its `created_us` last):
/// the first `limit` records, the last one's `created_us`, and whether there are more.
pub(super) fn fetch_page(
    conn: &Connection,
    sql: &str,
    args: Vec<rusqlite::types::Value>,
    limit: u32,
) -> Result<(Vec<Record>, i64, bool), StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
        Ok((RecordRow::read(row)?, row.get::<_, i64>(12)?))
    })?;
    let mut items = Vec::new();
    let mut last_t = 0;
    for row in rows {
        let (raw, created_us) = row?;
        if items.len() == limit as usize {
            return Ok((items, last_t, true));
        }
        items.push(raw.into_record()?);
        last_t = created_us;
    }
    Ok((items, last_t, false))
}

/// A newest-first page: seeks in `records_recent`, `records_by_status_recent` or
/// `records_by_organization` (read backwards), whichever the filter fits.
pub(super) fn list_recent(
    conn: &Connection,
    kind: RecordKind,
    filter: &RecentFilter,
    signature: String,
    limit: u32,
    cursor: Option<RecentCursor>,
) -> Result<Page<Record>, StoreError> {
    let mut sql = format!("SELECT {RECORD_COLUMNS}, created_us FROM records WHERE kind = ?");
    let mut args: Vec<rusqlite::types::Value> = vec![kind.as_str().to_owned().into()];
    if let Some(status) = filter.status {
        sql.push_str(" AND status = ?");
        args.push(status.as_str().to_owned().into());
    }
    if let Some(org) = &filter.organization {
        sql.push_str(" AND organization = ?");
        args.push(org.clone().into());
    }
    if let Some(c) = &cursor {
        sql.push_str(" AND (created_us, id) < (?, ?)");
        args.extend([c.t.into(), c.i.clone().into()]);
    }
    sql.push_str(" ORDER BY created_us DESC, id DESC LIMIT ?");
    args.push((i64::from(limit) + 1).into());
    let (items, last_t, more) = fetch_page(conn, &sql, args, limit)?;
    let next = match (more, items.last()) {
        (true, Some(last)) => Some(
            RecentCursor {
                q: signature,
                t: last_t,
                i: last.id.clone(),
            }
            .encode()?,
        ),
        _ => None,
    };
    Ok(Page { items, next })
}
