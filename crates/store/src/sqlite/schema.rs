//! The SQLite schema: embedded migrations, versioned by `PRAGMA user_version`.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// Marks the file as Onboard's (`PRAGMA application_id`): "ONBD".
const APPLICATION_ID: i64 = 0x4f4e_4244;

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only:
/// never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: records, timeline, decisions, step results, configuration.
    r#"
    CREATE TABLE records (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        organization TEXT NOT NULL,
        status TEXT NOT NULL,
        request TEXT NOT NULL,
        user_principal_name TEXT,
        ticket_id TEXT,
        license_outcome TEXT,
        removed TEXT,
        created_at TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    ) STRICT;
    CREATE INDEX records_by_organization ON records (kind, organization, created_us, id);
    CREATE INDEX records_by_status ON records (kind, status, organization, created_us, id);

    CREATE TABLE timeline (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        record_id TEXT NOT NULL REFERENCES records (id),
        at TEXT NOT NULL,
        at_us INTEGER NOT NULL,
        step TEXT NOT NULL,
        message TEXT NOT NULL
    ) STRICT;
    CREATE INDEX timeline_by_record ON timeline (record_id, at_us, seq);

    CREATE TABLE decisions (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        record_id TEXT NOT NULL REFERENCES records (id),
        organization TEXT NOT NULL,
        sealed_token TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        expires_us INTEGER NOT NULL,
        decided_by TEXT,
        decided_at TEXT
    ) STRICT;
    CREATE INDEX decisions_pending ON decisions (organization, expires_us, id)
        WHERE state = 'pending';

    CREATE TABLE step_results (
        key TEXT PRIMARY KEY,
        result TEXT NOT NULL,
        keep_until_us INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE variables (
        scope TEXT PRIMARY KEY,
        variables TEXT NOT NULL
    ) STRICT;

    CREATE TABLE connectors (
        scope TEXT NOT NULL,
        connector TEXT NOT NULL,
        settings TEXT NOT NULL,
        PRIMARY KEY (scope, connector)
    ) STRICT;
    "#,
    // 2: the interpreter's executions (`onboard_asl::ExecutionStore`). A record
    // is kept whole and sealed; only what the engine queries is a column: the
    // timer (`wake_s`, `wake_ns`, set only while running) and whether it runs.
    r#"
    CREATE TABLE executions (
        arn TEXT PRIMARY KEY,
        running INTEGER NOT NULL CHECK (running IN (0, 1)),
        wake_s INTEGER,
        wake_ns INTEGER,
        record BLOB NOT NULL,
        CHECK ((wake_s IS NULL) = (wake_ns IS NULL)),
        CHECK (wake_s IS NULL OR running = 1)
    ) STRICT;
    CREATE INDEX executions_by_wake ON executions (wake_s, wake_ns, arn)
        WHERE wake_s IS NOT NULL;
    CREATE INDEX executions_running ON executions (arn) WHERE running = 1;
    "#,
    // 3: when a finished execution stopped (`stopped_s`), so finished executions
    // can be purged after the retention period. Executions finished before this
    // migration count as stopped now: they are kept one full period.
    r#"
    ALTER TABLE executions ADD COLUMN stopped_s INTEGER;
    UPDATE executions SET stopped_s = unixepoch() WHERE running = 0;
    CREATE INDEX executions_stopped ON executions (stopped_s) WHERE running = 0;
    "#,
    // 4: leases (e.g. the seat ledger's, one per distributor customer and SKU).
    r#"
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_us INTEGER NOT NULL
    ) STRICT;
    "#,
    // 5: newest-first listings (the dashboard) seek in an index instead of sorting,
    // and until when a waiting run waits (`waiting_until`, RFC 3339).
    r#"
    ALTER TABLE records ADD COLUMN waiting_until TEXT;
    CREATE INDEX records_recent ON records (kind, created_us, id);
    CREATE INDEX records_by_status_recent ON records (kind, status, created_us, id);
    "#,
    // 6: reservations (e.g. seats bought for onboardings that have not assigned
    // them yet), a place per pool and holder.
    r#"
    CREATE TABLE reservations (
        pool TEXT NOT NULL,
        holder TEXT NOT NULL,
        expires_us INTEGER NOT NULL,
        PRIMARY KEY (pool, holder)
    ) STRICT;
    "#,
    // 7: the console's sign-in sessions, by a hash of the cookie's secret.
    r#"
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        expires_us INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_by_expiry ON sessions (expires_us);
    "#,
    // 8: organizations' templates (a form's `template`), by scope and name.
    r#"
    CREATE TABLE templates (
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (scope, name)
    ) STRICT;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Checks that the file is an Onboard database this build understands, then
/// brings it to [`SCHEMA_VERSION`] in one transaction.
pub(crate) fn check_and_migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let corrupt = |reason: &str, source: Option<rusqlite::Error>| StoreError::Corrupt {
        path: path.to_owned(),
        reason: reason.to_owned(),
        source,
    };
    // The first read of the header: a file that is not SQLite fails here.
    let (app_id, version): (i64, i64) = conn
        .query_row(
            "SELECT application_id, user_version FROM pragma_application_id, pragma_user_version",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(|e| corrupt("cannot read the database header", Some(e)))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < 0 {
        return Err(corrupt(
            &format!("schema version {version} is negative"),
            None,
        ));
    }
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(corrupt(
            &format!("application id {app_id:#x} belongs to another program"),
            None,
        ));
    }
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(|e| corrupt("cannot read the schema", Some(e)))?;
    if app_id == 0 && tables > 0 {
        return Err(corrupt(
            "it holds tables but no onboard schema version",
            None,
        ));
    }
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(|e| corrupt("integrity check failed to run", Some(e)))?;
    if check != "ok" {
        return Err(corrupt(&format!("integrity check: {check}"), None));
    }

    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read inside the write lock: another process may have migrated meanwhile.
    let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tracing::info!(from, to = from + 1, "migrated sqlite schema");
    }
    // PRAGMAs take no parameters; both values are integers we control.
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
    ))?;
    tx.commit()?;
    Ok(())
}
