//! The embedded backend: one SQLite file in the data directory, in WAL mode.
//!
//! One connection serves every call, each on the blocking thread pool
//! (`spawn_blocking`) so the async runtime never waits on disk. Single-use
//! transitions are conditional `UPDATE`s, so they also hold between processes
//! sharing the file.
//!
//! `mod.rs` is the [`Store`] operation by operation; `rows.rs` the rows read
//! into the model and the shared queries, `schema.rs` the tables and their
//! migrations, `executions.rs` the interpreter's execution store.

mod executions;
mod rows;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use secrecy::SecretString;

use rows::{
    DECISION_COLUMNS, DecisionRow, SqlCursor, get_decision, get_record, insert_event, list_recent,
    list_records, parse_json, parse_time,
};

pub use executions::SqliteExecutionStore;
pub use schema::SCHEMA_VERSION;

use crate::StoreError;
use crate::model::{
    ConnectorSettings, Cursor, Decide, DecideOutcome, Decision, DecisionState, NewDecision,
    NewRecord, Page, RecentCursor, RecentFilter, Record, RecordFilter, RecordKind, RecordUpdate,
    Scope, StoredTemplate, TimelineEvent, Variables, random_id,
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

    async fn put_session(
        &self,
        id: &str,
        data: &serde_json::Value,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let (id, data) = (id.to_owned(), serde_json::to_string(data)?);
        self.call(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "DELETE FROM sessions WHERE expires_us <= ?1",
                [now.as_microsecond()],
            )?;
            tx.execute(
                "INSERT INTO sessions (id, data, expires_us) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, \
                 expires_us = excluded.expires_us",
                params![id, data, expires_at.as_microsecond()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn session(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn, _| {
            let stored: Option<String> = conn
                .query_row(
                    "SELECT data FROM sessions WHERE id = ?1 AND expires_us > ?2",
                    params![id, now.as_microsecond()],
                    |row| row.get(0),
                )
                .optional()?;
            parse_json(stored)
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |conn, _| Ok(conn.execute("DELETE FROM sessions WHERE id = ?1", [id])? == 1))
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

    async fn templates(&self, scope: &Scope) -> Result<Vec<StoredTemplate>, StoreError> {
        let scope = scope.key();
        self.call(move |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, body FROM templates WHERE scope = ?1 ORDER BY name",
            )?;
            let rows = stmt.query_map([scope], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (name, body) = row?;
                out.push(StoredTemplate {
                    name,
                    body: serde_json::from_str(&body)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn template(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<StoredTemplate>, StoreError> {
        let scope = scope.key();
        let name = name.to_owned();
        self.call(move |conn, _| {
            let body: Option<String> = conn
                .query_row(
                    "SELECT body FROM templates WHERE scope = ?1 AND name = ?2",
                    params![scope, name],
                    |row| row.get(0),
                )
                .optional()?;
            body.map(|body| {
                Ok(StoredTemplate {
                    name,
                    body: serde_json::from_str(&body)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn put_template(
        &self,
        scope: &Scope,
        template: &StoredTemplate,
    ) -> Result<(), StoreError> {
        let scope = scope.key();
        let name = template.name.clone();
        let body = serde_json::to_string(&template.body)?;
        self.call(move |conn, _| {
            conn.execute(
                "INSERT INTO templates (scope, name, body) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (scope, name) DO UPDATE SET body = excluded.body",
                params![scope, name, body],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_template(&self, scope: &Scope, name: &str) -> Result<bool, StoreError> {
        let scope = scope.key();
        let name = name.to_owned();
        self.call(move |conn, _| {
            Ok(conn.execute(
                "DELETE FROM templates WHERE scope = ?1 AND name = ?2",
                params![scope, name],
            )? > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::rows::list_sql;
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
