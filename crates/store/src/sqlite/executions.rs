//! The interpreter's executions (`onboard_asl::ExecutionStore`) in the store's SQLite file, sealed at rest.
//!
//! A record is saved whole, as the port asks: compact JSON, deflated (it is
//! mostly history, which shrinks about eightfold), sealed with the
//! store's [`TokenKey`](crate::TokenKey) (XChaCha20-Poly1305, `execution:` + the ARN as
//! associated data, so a blob moved to another row, or mistaken for a
//! decision's sealed token, does not open). Sealing the whole record, not only `tokens`, is deliberate: a task
//! token also sits in the awaiting run's step and in the history (a Task
//! state's parameters carry `$$.Task.Token`), and execution inputs may carry
//! what the workflow keeps out of its timeline. Only what the engine queries
//! is in clear: the ARN, whether it runs, and its timer.
//!
//! The timer is two integer columns, seconds and nanoseconds since the epoch
//! (exact for any `jiff::Timestamp`), behind a partial index holding only
//! executions that have one, so "timers due before T" is an index range scan
//! whose cost follows the number of due timers, not of parked executions.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use onboard_asl::{ExecutionRecord, ExecutionStatus, ExecutionStore};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::StoreError;

/// DEFLATE level for records: the fastest, which already takes most of the gain.
const DEFLATE_LEVEL: u8 = 1;
/// A stored record never inflates past this (records are bounded by the
/// interpreter's history limit long before).
const MAX_RECORD_BYTES: usize = 1 << 30;

/// Timers due at `(?1 s, ?2 ns)`, earliest first. `wake_s <= ?1` bounds the
/// range scan of `executions_by_wake`; the second term only trims the last
/// second, on the index entry itself.
const DUE_SQL: &str = "SELECT arn FROM executions
     WHERE wake_s <= ?1 AND (wake_s < ?1 OR wake_ns <= ?2)
     ORDER BY wake_s, wake_ns, arn";
/// The earliest timer: the first entry of `executions_by_wake`.
const NEXT_WAKE_SQL: &str = "SELECT wake_s, wake_ns FROM executions WHERE wake_s IS NOT NULL
     ORDER BY wake_s, wake_ns, arn LIMIT 1";
/// Running executions, from the partial index `executions_running`.
const RUNNING_SQL: &str = "SELECT arn FROM executions WHERE running = 1 ORDER BY arn";

/// What a sealed record is bound to: its row, in the executions' own domain.
fn context(arn: &str) -> String {
    format!("execution:{arn}")
}

/// [`ExecutionStore`] over the same SQLite file (and connection) as a [`SqliteStore`].
///
/// Cheap to clone. Build it with [`SqliteStore::executions`]; hand it to the
/// engine as `Arc<dyn ExecutionStore>` ([`SqliteExecutionStore::shared`]).
#[derive(Debug, Clone)]
pub struct SqliteExecutionStore {
    store: SqliteStore,
}

impl SqliteStore {
    /// The interpreter's execution store in this database, under this store's key.
    pub fn executions(&self) -> SqliteExecutionStore {
        SqliteExecutionStore {
            store: self.clone(),
        }
    }
}

/// A timer as stored: whole seconds and nanoseconds since the epoch, as
/// `jiff` splits it (both truncated toward zero, so `(s, ns)` sorts as time).
fn split(t: Timestamp) -> (i64, i64) {
    (t.as_second(), i64::from(t.subsec_nanosecond()))
}

fn join(second: i64, nanosecond: i64) -> Result<Timestamp, StoreError> {
    let total = i128::from(second) * 1_000_000_000 + i128::from(nanosecond);
    Timestamp::from_nanosecond(total).map_err(|e| {
        StoreError::Malformed(format!("execution timer {second}s {nanosecond}ns: {e}"))
    })
}

/// The port's error, with the store error's causes spelt out (the port
/// carries a message, not a source).
fn port_error(error: StoreError) -> onboard_asl::Error {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    onboard_asl::Error::Store(message)
}

impl SqliteExecutionStore {
    /// This store as the engine takes it.
    pub fn shared(&self) -> Arc<dyn ExecutionStore> {
        Arc::new(self.clone())
    }

    /// How many executions are stored, and how many of them run.
    pub async fn count(&self) -> Result<(u64, u64), StoreError> {
        self.store
            .call(|conn, _| {
                let counts: (i64, i64) = conn.query_row(
                    "SELECT count(*), count(*) FILTER (WHERE running = 1) FROM executions",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?;
                let to_u64 = |n: i64| u64::try_from(n).unwrap_or(0);
                Ok((to_u64(counts.0), to_u64(counts.1)))
            })
            .await
    }

    /// Deletes the executions that finished before `before` (their history with
    /// them); answers how many. Running executions are never touched, nor a
    /// finished one whose stop time is unknown. The onboarding records and their
    /// timelines live in their own tables and stay.
    pub async fn purge_finished_before(&self, before: Timestamp) -> Result<u64, StoreError> {
        let cutoff = before.as_second();
        self.store
            .call(move |conn, _| {
                let deleted = conn.execute(
                    "DELETE FROM executions WHERE running = 0 AND stopped_s < ?1",
                    [cutoff],
                )?;
                Ok(u64::try_from(deleted).unwrap_or(0))
            })
            .await
    }

    async fn save_record(&self, record: &ExecutionRecord) -> Result<(), StoreError> {
        let plain = serde_json::to_vec(record)?;
        let arn = record.execution_arn.clone();
        let running = record.status == ExecutionStatus::Running;
        // As the port says: only a running execution has a timer.
        let wake = record.wake_at.filter(|_| running).map(split);
        // The engine writes `stop_date` as an RFC 3339 time; one that does not
        // parse leaves the stop time unknown, and such an execution is never purged.
        let stopped = (!running)
            .then(|| record.stop_date.as_deref()?.parse::<Timestamp>().ok())
            .flatten()
            .map(Timestamp::as_second);
        self.store
            .call(move |conn, key| {
                let packed = miniz_oxide::deflate::compress_to_vec(&plain, DEFLATE_LEVEL);
                let sealed = key.seal_bytes(&context(&arn), &packed)?;
                conn.execute(
                    "INSERT INTO executions (arn, running, wake_s, wake_ns, record, stopped_s)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (arn) DO UPDATE SET running = excluded.running,
                         wake_s = excluded.wake_s, wake_ns = excluded.wake_ns,
                         record = excluded.record, stopped_s = excluded.stopped_s",
                    params![
                        arn,
                        running,
                        wake.map(|w| w.0),
                        wake.map(|w| w.1),
                        sealed,
                        stopped
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn load_record(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let arn = arn.to_owned();
        self.store
            .call(move |conn, key| {
                let sealed: Option<Vec<u8>> = conn
                    .query_row(
                        "SELECT record FROM executions WHERE arn = ?1",
                        [&arn],
                        |row| row.get(0),
                    )
                    .optional()?;
                sealed
                    .map(|sealed| {
                        let packed = key.open_bytes(&context(&arn), &sealed)?;
                        let plain = miniz_oxide::inflate::decompress_to_vec_with_limit(
                            &packed,
                            MAX_RECORD_BYTES,
                        )
                        .map_err(|e| {
                            StoreError::Malformed(format!("execution {arn} does not inflate: {e}"))
                        })?;
                        Ok(serde_json::from_slice(&plain)?)
                    })
                    .transpose()
            })
            .await
    }

    async fn due_arns(&self, now: Timestamp) -> Result<Vec<String>, StoreError> {
        let (second, nanosecond) = split(now);
        self.store
            .call(move |conn, _| {
                let mut statement = conn.prepare_cached(DUE_SQL)?;
                let arns = statement
                    .query_map([second, nanosecond], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(arns)
            })
            .await
    }

    async fn earliest_wake(&self) -> Result<Option<Timestamp>, StoreError> {
        self.store
            .call(|conn, _| {
                let first: Option<(i64, i64)> = conn
                    .prepare_cached(NEXT_WAKE_SQL)?
                    .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()?;
                first.map(|(s, ns)| join(s, ns)).transpose()
            })
            .await
    }

    async fn running_arns(&self) -> Result<Vec<String>, StoreError> {
        self.store
            .call(|conn, _| {
                let mut statement = conn.prepare_cached(RUNNING_SQL)?;
                let arns = statement
                    .query_map([], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(arns)
            })
            .await
    }
}

#[async_trait]
impl ExecutionStore for SqliteExecutionStore {
    async fn save(&self, record: &ExecutionRecord) -> Result<(), onboard_asl::Error> {
        self.save_record(record).await.map_err(port_error)
    }

    async fn load(
        &self,
        execution_arn: &str,
    ) -> Result<Option<ExecutionRecord>, onboard_asl::Error> {
        self.load_record(execution_arn).await.map_err(port_error)
    }

    async fn due(&self, now: Timestamp) -> Result<Vec<String>, onboard_asl::Error> {
        self.due_arns(now).await.map_err(port_error)
    }

    async fn next_wake(&self) -> Result<Option<Timestamp>, onboard_asl::Error> {
        self.earliest_wake().await.map_err(port_error)
    }

    async fn running(&self) -> Result<Vec<String>, onboard_asl::Error> {
        self.running_arns().await.map_err(port_error)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn plan(conn: &rusqlite::Connection, sql: &str, args: &[i64]) -> String {
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = statement
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[tokio::test]
    async fn timer_and_restart_queries_seek_their_partial_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).await.unwrap();
        let conn = store.inner.conn.lock().unwrap();

        for (sql, args, index) in [
            (
                DUE_SQL,
                &[1_800_000_000_i64, 0][..],
                "SEARCH executions USING COVERING INDEX executions_by_wake",
            ),
            (
                NEXT_WAKE_SQL,
                &[][..],
                "SEARCH executions USING COVERING INDEX executions_by_wake",
            ),
            (RUNNING_SQL, &[][..], "executions_running"),
        ] {
            let plan = plan(&conn, sql, args);
            assert!(plan.contains(index), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql} sorts: {plan}");
        }
    }

    #[test]
    fn split_timers_sort_as_time_and_join_back_exactly() {
        let times: Vec<Timestamp> = [
            "1969-12-31T23:59:58.5Z",
            "1969-12-31T23:59:59Z",
            "1969-12-31T23:59:59.75Z",
            "1970-01-01T00:00:00Z",
            "1970-01-01T00:00:00.000000001Z",
            "2026-11-25T21:00:00.123456789Z",
            "9999-12-30T21:59:59.999999999Z",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();

        let split: Vec<(i64, i64)> = times.iter().copied().map(split).collect();

        let mut sorted = split.clone();
        sorted.sort();
        assert_eq!(sorted, split);
        for (t, (s, ns)) in times.iter().zip(&split) {
            assert_eq!(join(*s, *ns).unwrap(), *t);
        }
    }
}
