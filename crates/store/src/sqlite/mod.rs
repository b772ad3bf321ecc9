//! The embedded backend: one SQLite file in the data directory, in WAL mode.
//!
//! One connection serves every call, each on the blocking thread pool
//! (`spawn_blocking`) so the async runtime never waits on disk. Single-use
//! transitions are conditional `UPDATE`s, so they also hold between processes
//! sharing the file.

mod executions;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use executions::SqliteExecutionStore;
pub use schema::SCHEMA_VERSION;

use crate::StoreError;
use crate::model::{
    ConnectorSettings, Cursor, Decide, DecideOutcome, Decision, DecisionState, NewDecision,
    NewRecord, Page, RecentCursor, RecentFilter, Record, RecordFilter, RecordKind, RecordUpdate,
    Scope, TimelineEvent, Variables, random_id,
};
use crate::store::{Store, check_limit};
use crate::token::TokenKey;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "onboard.sqlite3";
/// The token key file's name inside the data directory.
pub const KEY_FILE: &str = "token.key";

/// How long a write waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite [`Store`]. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
    key: TokenKey,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `onboard.sqlite3` in `data_dir`, with the
    /// token key from `token.key` beside it (created on first use).
    pub async fn open_dir(data_dir: &Path) -> Result<Self, StoreError> {
        let dir = data_dir.to_owned();
        let key = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
                path: dir.clone(),
                source,
            })?;
            TokenKey::load_or_create(&dir.join(KEY_FILE))
        })
        .await??;
        Self::open(&data_dir.join(DB_FILE), key).await
    }

    /// Opens (creating if needed) the database file at `path`, migrating it.
    ///
    /// A file written by a newer Onboard gives [`StoreError::NewerSchema`];
    /// a file that is not an Onboard database, or is damaged, gives
    /// [`StoreError::Corrupt`]. Neither is changed.
    pub async fn open(path: &Path, key: TokenKey) -> Result<Self, StoreError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut conn = Connection::open(&path).map_err(|e| StoreError::Corrupt {
                path: path.clone(),
                reason: "cannot open the file".to_owned(),
                source: Some(e),
            })?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            schema::check_and_migrate(&mut conn, &path)?;
            // FULL: a commit is on disk before the call returns, power loss included.
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )?;
            Ok(SqliteStore {
                inner: Arc::new(Inner {
                    path,
                    conn: Mutex::new(conn),
                    key,
                }),
            })
        })
        .await?
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &TokenKey) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic in another call cannot leave a transaction open (it rolls
            // back on drop), so a poisoned lock still guards a usable connection.
            let mut conn = inner
                .conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut conn, &inner.key)
        })
        .await?
    }
}

fn parse_time(text: &str) -> Result<Timestamp, StoreError> {
    text.parse()
        .map_err(|e| StoreError::Malformed(format!("timestamp {text:?}: {e}")))
}

fn parse_opt_time(text: Option<String>) -> Result<Option<Timestamp>, StoreError> {
    text.as_deref().map(parse_time).transpose()
}

fn parse_json(text: Option<String>) -> Result<Option<serde_json::Value>, StoreError> {
    Ok(text.as_deref().map(serde_json::from_str).transpose()?)
}

const RECORD_COLUMNS: &str = "id, kind, organization, status, request, user_principal_name, \
     ticket_id, license_outcome, removed, created_at, updated_at, waiting_until";

/// Raw columns of a `records` row, read inside the rusqlite closure.
struct RecordRow([Option<String>; 12]);

impl RecordRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        let mut cols: [Option<String>; 12] = Default::default();
        for (i, col) in cols.iter_mut().enumerate() {
            *col = row.get(i)?;
        }
        Ok(RecordRow(cols))
    }

    fn into_record(self) -> Result<Record, StoreError> {
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

fn get_record(conn: &Connection, id: &str) -> Result<Option<Record>, StoreError> {
    conn.query_row(
        &format!("SELECT {RECORD_COLUMNS} FROM records WHERE id = ?1"),
        [id],
        RecordRow::read,
    )
    .optional()?
    .map(RecordRow::into_record)
    .transpose()
}

fn insert_event(
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

const DECISION_COLUMNS: &str =
    "id, kind, record_id, organization, state, created_at, expires_at, decided_by, decided_at";

struct DecisionRow([Option<String>; 9]);

impl DecisionRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        let mut cols: [Option<String>; 9] = Default::default();
        for (i, col) in cols.iter_mut().enumerate() {
            *col = row.get(i)?;
        }
        Ok(DecisionRow(cols))
    }

    fn into_decision(self) -> Result<Decision, StoreError> {
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

fn get_decision(conn: &Connection, id: &str) -> Result<Option<Decision>, StoreError> {
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
struct SqlCursor {
    /// The listing it belongs to: a cursor is refused by any other listing.
    q: String,
    /// Organization (only for listings ordered by organization first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    o: Option<String>,
    /// `created_us` / `expires_us` of the last item.
    t: i64,
    /// Id of the last item.
    i: String,
}

impl SqlCursor {
    fn encode(&self) -> Result<Cursor, StoreError> {
        Ok(Cursor(format!(
            "s1.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(self)?)
        )))
    }

    fn decode(cursor: Option<&Cursor>) -> Result<Option<Self>, StoreError> {
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
fn list_sql(
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

fn list_records(
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
fn fetch_page(
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
fn list_recent(
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

#[async_trait]
impl Store for SqliteStore {
    async fn create_record(&self, new: NewRecord) -> Result<Record, StoreError> {
        self.call(move |conn, _| {
            let record = Record {
                id: new.id,
                kind: new.kind,
                organization: new.organization,
                status: new.status,
                request: new.request,
                user_principal_name: None,
                ticket_id: new.ticket_id,
                license_outcome: None,
                removed: None,
                waiting_until: None,
                created_at: new.created_at,
                updated_at: new.created_at,
            };
            let inserted = conn.execute(
                "INSERT INTO records (id, kind, organization, status, request, ticket_id, \
                 created_at, created_us, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7) ON CONFLICT (id) DO NOTHING",
                params![
                    record.id,
                    record.kind.as_str(),
                    record.organization,
                    record.status.as_str(),
                    serde_json::to_string(&record.request)?,
                    record.ticket_id,
                    record.created_at.to_string(),
                    record.created_at.as_microsecond(),
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists {
                    what: "record",
                    id: record.id,
                });
            }
            Ok(record)
        })
        .await
    }

    async fn get_record(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn, _| get_record(conn, &id)).await
    }

    async fn update_record(
        &self,
        id: &str,
        update: RecordUpdate,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.call(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let removed = update
                .removed
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?;
            let changed = tx.execute(
                "UPDATE records SET status = coalesce(?2, status), \
                 user_principal_name = coalesce(?3, user_principal_name), \
                 ticket_id = coalesce(?4, ticket_id), \
                 license_outcome = coalesce(?5, license_outcome), \
                 removed = coalesce(?6, removed), updated_at = ?7, \
                 waiting_until = coalesce(?8, waiting_until) \
                 WHERE id = ?1 AND (?9 IS NULL OR status = ?9)",
                params![
                    id,
                    update.status.map(|s| s.as_str()),
                    update.user_principal_name,
                    update.ticket_id,
                    update.license_outcome.map(|l| l.as_str()),
                    removed,
                    at.to_string(),
                    update.waiting_until.map(|t| t.to_string()),
                    update.expect_status.map(|s| s.as_str()),
                ],
            )?;
            if changed == 0 {
                let exists = tx
                    .query_row("SELECT 1 FROM records WHERE id = ?1", params![id], |_| {
                        Ok(())
                    })
                    .optional()?
                    .is_some();
                return Err(match (exists, update.expect_status) {
                    (true, Some(expected)) => StoreError::StatusChanged { id, expected },
                    _ => StoreError::NotFound { what: "record", id },
                });
            }
            if let Some(event) = &update.event {
                insert_event(&tx, &id, event)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn list_records(
        &self,
        kind: RecordKind,
        filter: &RecordFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Record>, StoreError> {
        let limit = check_limit(limit)?;
        let cursor = SqlCursor::decode(cursor)?;
        let filter = filter.clone();
        self.call(move |conn, _| list_records(conn, kind, &filter, limit, cursor))
            .await
    }

    async fn list_recent(
        &self,
        kind: RecordKind,
        filter: &RecentFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Record>, StoreError> {
        let limit = check_limit(limit)?;
        let signature = filter.signature(kind);
        let cursor = RecentCursor::decode(cursor, &signature)?;
        let filter = filter.clone();
        self.call(move |conn, _| list_recent(conn, kind, &filter, signature, limit, cursor))
            .await
    }

    async fn append_event(&self, record_id: &str, event: TimelineEvent) -> Result<(), StoreError> {
        let id = record_id.to_owned();
        self.call(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE records SET updated_at = ?2 WHERE id = ?1",
                params![id, event.at.to_string()],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "record", id });
            }
            insert_event(&tx, &id, &event)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn timeline(&self, record_id: &str) -> Result<Vec<TimelineEvent>, StoreError> {
        let id = record_id.to_owned();
        self.call(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT at, step, message FROM timeline WHERE record_id = ?1 ORDER BY at_us, seq",
            )?;
            let rows = stmt.query_map([id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?;
            let mut events = Vec::new();
            for row in rows {
                let (at, step, message) = row?;
                events.push(TimelineEvent {
                    at: parse_time(&at)?,
                    step,
                    message,
                });
            }
            Ok(events)
        })
        .await
    }

    async fn create_decision(&self, new: NewDecision) -> Result<Decision, StoreError> {
        let id = random_id()?;
        self.call(move |conn, key| {
            let sealed = key.seal(&id, &new.task_token)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let organization: String = tx
                .query_row(
                    "SELECT organization FROM records WHERE id = ?1",
                    [&new.record_id],
                    |row| row.get(0),
                )
                .optional()?
                .ok_or_else(|| StoreError::NotFound {
                    what: "record",
                    id: new.record_id.clone(),
                })?;
            let decision = Decision {
                id,
                kind: new.kind,
                record_id: new.record_id,
                organization,
                state: DecisionState::Pending,
                created_at: new.created_at,
                expires_at: new.expires_at,
                decided_by: None,
                decided_at: None,
            };
            tx.execute(
                "INSERT INTO decisions (id, kind, record_id, organization, sealed_token, state, \
                 created_at, expires_at, expires_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    decision.id,
                    decision.kind.as_str(),
                    decision.record_id,
                    decision.organization,
                    sealed,
                    decision.state.as_str(),
                    decision.created_at.to_string(),
                    decision.expires_at.to_string(),
                    decision.expires_at.as_microsecond(),
                ],
            )?;
            tx.commit()?;
            Ok(decision)
        })
        .await
    }

    async fn get_decision(&self, id: &str) -> Result<Option<Decision>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn, _| get_decision(conn, &id)).await
    }

    async fn decide(&self, id: &str, decide: Decide) -> Result<DecideOutcome, StoreError> {
        let id = id.to_owned();
        self.call(move |conn, key| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(current) = get_decision(&tx, &id)? else {
                return Ok(DecideOutcome::Unknown);
            };
            if !decide.to.fits(current.kind) {
                return Err(StoreError::InvalidArgument(format!(
                    "a {} decision cannot become {}",
                    current.kind, decide.to
                )));
            }
            // The conditional UPDATE is the single-use guard, also against other processes.
            let changed = tx.execute(
                "UPDATE decisions SET state = ?2, decided_by = ?3, decided_at = ?4 \
                 WHERE id = ?1 AND state = 'pending' AND (?5 OR expires_us > ?6)",
                params![
                    id,
                    decide.to.as_str(),
                    decide.by,
                    decide.at.to_string(),
                    decide.to == DecisionState::Expired,
                    decide.at.as_microsecond(),
                ],
            )?;
            let outcome = if changed == 1 {
                let sealed: String = tx.query_row(
                    "SELECT sealed_token FROM decisions WHERE id = ?1",
                    [&id],
                    |row| row.get(0),
                )?;
                let task_token = key.open(&id, &sealed)?;
                let decision = get_decision(&tx, &id)?.ok_or_else(|| StoreError::NotFound {
                    what: "decision",
                    id: id.clone(),
                })?;
                tracing::info!(decision_id = %id, state = %decide.to, "decision taken");
                DecideOutcome::Decided {
                    decision,
                    task_token,
                }
            } else if current.state == DecisionState::Pending {
                DecideOutcome::Expired(current)
            } else {
                DecideOutcome::AlreadyDecided(current)
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn task_token(&self, id: &str) -> Result<Option<SecretString>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn, key| {
            let sealed: Option<String> = conn
                .query_row(
                    "SELECT sealed_token FROM decisions WHERE id = ?1",
                    [&id],
                    |row| row.get(0),
                )
                .optional()?;
            sealed.map(|s| key.open(&id, &s)).transpose()
        })
        .await
    }

    async fn pending_decisions(
        &self,
        organization: &str,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Decision>, StoreError> {
        let limit = check_limit(limit)?;
        let cursor = SqlCursor::decode(cursor)?;
        let query = format!("pending/{organization:?}");
        if cursor
            .as_ref()
            .is_some_and(|c| c.q != query || c.o.is_some())
        {
            return Err(StoreError::InvalidCursor);
        }
        let org = organization.to_owned();
        self.call(move |conn, _| {
            let after = if cursor.is_some() {
                "AND (expires_us, id) > (?3, ?4)"
            } else {
                "AND ?3 IS NULL AND ?4 IS NULL"
            };
            let (c_t, c_id) = match cursor {
                Some(c) => (Some(c.t), Some(c.i)),
                None => (None, None),
            };
            // Served by the partial index decisions_pending.
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DECISION_COLUMNS}, expires_us FROM decisions \
                 WHERE organization = ?1 AND state = 'pending' {after} \
                 ORDER BY expires_us, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![org, i64::from(limit) + 1, c_t, c_id], |row| {
                Ok((DecisionRow::read(row)?, row.get::<_, i64>(9)?))
            })?;
            let mut items = Vec::new();
            let mut last_t = 0;
            let mut more = false;
            for row in rows {
                let (raw, expires_us) = row?;
                if items.len() == limit as usize {
                    more = true;
                    break;
                }
                items.push(raw.into_decision()?);
                last_t = expires_us;
            }
            let next = match (more, items.last()) {
                (true, Some(last)) => Some(
                    SqlCursor {
                        q: query,
                        o: None,
                        t: last_t,
                        i: last.id.clone(),
                    }
                    .encode()?,
                ),
                _ => None,
            };
            Ok(Page { items, next })
        })
        .await
    }

    async fn put_step_result(
        &self,
        key: &str,
        result: serde_json::Value,
        keep_until: Timestamp,
    ) -> Result<serde_json::Value, StoreError> {
        let key = key.to_owned();
        self.call(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO step_results (key, result, keep_until_us) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (key) DO NOTHING",
                params![
                    key,
                    serde_json::to_string(&result)?,
                    keep_until.as_microsecond()
                ],
            )?;
            let stored: String = tx.query_row(
                "SELECT result FROM step_results WHERE key = ?1",
                [&key],
                |row| row.get(0),
            )?;
            tx.commit()?;
            Ok(serde_json::from_str(&stored)?)
        })
        .await
    }

    async fn step_result(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let key = key.to_owned();
        self.call(move |conn, _| {
            let stored: Option<String> = conn
                .query_row(
                    "SELECT result FROM step_results WHERE key = ?1",
                    [&key],
                    |row| row.get(0),
                )
                .optional()?;
            parse_json(stored)
        })
        .await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.call(move |conn, _| {
            // One statement: the upsert's WHERE is the condition, so two
            // writers cannot both see the lease free.
            let changed = conn.execute(
                "INSERT INTO leases (name, holder, expires_us) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 expires_us = excluded.expires_us \
                 WHERE leases.expires_us <= ?4 OR leases.holder = excluded.holder",
                params![
                    name,
                    holder,
                    expires_at.as_microsecond(),
                    now.as_microsecond()
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.call(move |conn, _| {
            let changed = conn.execute(
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                params![name, holder],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn reserve(
        &self,
        pool: &str,
        holder: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let (pool, holder) = (pool.to_owned(), holder.to_owned());
        self.call(move |conn, _| {
            conn.execute(
                "INSERT INTO reservations (pool, holder, expires_us) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (pool, holder) DO UPDATE SET expires_us = excluded.expires_us",
                params![pool, holder, expires_at.as_microsecond()],
            )?;
            Ok(())
        })
        .await
    }

    async fn release_reservation(&self, pool: &str, holder: &str) -> Result<bool, StoreError> {
        let (pool, holder) = (pool.to_owned(), holder.to_owned());
        self.call(move |conn, _| {
            let changed = conn.execute(
                "DELETE FROM reservations WHERE pool = ?1 AND holder = ?2",
                params![pool, holder],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn reservations(&self, pool: &str, now: Timestamp) -> Result<Vec<String>, StoreError> {
        let pool = pool.to_owned();
        self.call(move |conn, _| {
            // Expired places are removed a day late, as DynamoDB's TTL does, by
            // the reads that meet them: nothing else would.
            conn.execute(
                "DELETE FROM reservations WHERE pool = ?1 AND expires_us <= ?2",
                params![pool, now.as_microsecond() - 86_400_000_000],
            )?;
            let mut statement = conn.prepare(
                "SELECT holder FROM reservations WHERE pool = ?1 AND expires_us > ?2 \
                 ORDER BY holder",
            )?;
            let holders = statement
                .query_map(params![pool, now.as_microsecond()], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(holders)
        })
        .await
    }

    async fn variables(&self, scope: &Scope) -> Result<Variables, StoreError> {
        let scope = scope.key();
        self.call(move |conn, _| {
            let stored: Option<String> = conn
                .query_row(
                    "SELECT variables FROM variables WHERE scope = ?1",
                    [&scope],
                    |row| row.get(0),
                )
                .optional()?;
            match stored {
                Some(text) => Ok(serde_json::from_str(&text)?),
                None => Ok(Variables::new()),
            }
        })
        .await
    }

    async fn put_variables(&self, scope: &Scope, variables: &Variables) -> Result<(), StoreError> {
        let scope = scope.key();
        let text = serde_json::to_string(variables)?;
        self.call(move |conn, _| {
            conn.execute(
                "INSERT INTO variables (scope, variables) VALUES (?1, ?2) \
                 ON CONFLICT (scope) DO UPDATE SET variables = excluded.variables",
                params![scope, text],
            )?;
            Ok(())
        })
        .await
    }

    async fn connector(
        &self,
        scope: &Scope,
        connector: &str,
    ) -> Result<Option<ConnectorSettings>, StoreError> {
        let scope = scope.key();
        let connector = connector.to_owned();
        self.call(move |conn, _| {
            let stored: Option<String> = conn
                .query_row(
                    "SELECT settings FROM connectors WHERE scope = ?1 AND connector = ?2",
                    params![scope, connector],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(stored.as_deref().map(serde_json::from_str).transpose()?)
        })
        .await
    }

    async fn connectors(&self, scope: &Scope) -> Result<Vec<ConnectorSettings>, StoreError> {
        let scope = scope.key();
        self.call(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT settings FROM connectors WHERE scope = ?1 ORDER BY connector",
            )?;
            let rows = stmt.query_map([scope], |row| row.get::<_, String>(0))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(serde_json::from_str(&row?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn connector_in_all_scopes(
        &self,
        connector: &str,
    ) -> Result<Vec<(Scope, ConnectorSettings)>, StoreError> {
        let connector = connector.to_owned();
        self.call(move |conn, _| {
            // Byte order, as DynamoDB sorts its keys: `msp` before `org:...`.
            let mut stmt = conn.prepare_cached(
                "SELECT scope, settings FROM connectors WHERE connector = ?1 ORDER BY scope",
            )?;
            let rows = stmt.query_map([connector], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (scope, settings) = row?;
                out.push((Scope::from_key(&scope)?, serde_json::from_str(&settings)?));
            }
            Ok(out)
        })
        .await
    }

    async fn put_connector(
        &self,
        scope: &Scope,
        settings: &ConnectorSettings,
    ) -> Result<(), StoreError> {
        let scope = scope.key();
        let name = settings.connector.clone();
        let text = serde_json::to_string(settings)?;
        self.call(move |conn, _| {
            conn.execute(
                "INSERT INTO connectors (scope, connector, settings) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (scope, connector) DO UPDATE SET settings = excluded.settings",
                params![scope, name, text],
            )?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::Status;

    fn plan(conn: &Connection, sql: &str, args: Vec<rusqlite::types::Value>) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |row| {
                row.get::<_, String>(3)
            })
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[tokio::test]
    async fn listings_seek_in_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).await.unwrap();
        let conn = store.inner.conn.lock().unwrap();
        let cursor = |o: Option<&str>| SqlCursor {
            q: String::new(),
            o: o.map(str::to_owned),
            t: 1,
            i: "x".into(),
        };
        let cases = [
            (
                RecordFilter::Organization("a".into()),
                None,
                "records_by_organization",
            ),
            (
                RecordFilter::Organization("a".into()),
                Some(cursor(None)),
                "records_by_organization",
            ),
            (
                RecordFilter::Status(Status::Running),
                None,
                "records_by_status",
            ),
            (
                RecordFilter::Status(Status::Running),
                Some(cursor(Some("a"))),
                "records_by_status",
            ),
            (
                RecordFilter::OrganizationAndStatus("a".into(), Status::Running),
                Some(cursor(None)),
                "records_by_status",
            ),
        ];
        for (filter, cursor, index) in cases {
            let (sql, args) = list_sql(RecordKind::Onboarding, &filter, cursor, 10);
            let plan = plan(&conn, &sql, args);
            assert!(
                plan.contains(&format!("SEARCH records USING INDEX {index}")),
                "{filter:?}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{filter:?} sorts: {plan}");
        }
    }
}
