//! The interpreter's executions in SQLite: the engine over `SqliteExecutionStore`, restarts, sealing, and the port's semantics.

#![allow(clippy::unwrap_used)] // Test code.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use onboard_asl::{
    Dispatcher, Engine, ExecutionRecord, ExecutionStatus, ExecutionStore, MemoryStore, TaskOutcome,
    TaskRequest, VirtualClock,
};
use onboard_store::sqlite::{DB_FILE, SCHEMA_VERSION};
use onboard_store::{NewRecord, RecordKind, SqliteStore, Status, Store};
use serde_json::{Value, json};

/// Answers every task "I will call back" and remembers the tokens.
#[derive(Default)]
struct Callbacks {
    tokens: Mutex<Vec<String>>,
}

#[async_trait]
impl Dispatcher for Callbacks {
    async fn dispatch(&self, req: TaskRequest) -> TaskOutcome {
        match req.task_token {
            Some(t) => {
                self.tokens.lock().unwrap().push(t);
                TaskOutcome::AwaitingCallback
            }
            None => TaskOutcome::Succeeded(req.payload),
        }
    }
}

impl Callbacks {
    fn last(&self) -> String {
        self.tokens.lock().unwrap().last().cloned().unwrap()
    }
}

/// Undoes migration 6 (reservations), for the tests that rebuild a database an
/// older build left behind.
const UNDO_6: &str = "DROP TABLE reservations;";
/// Undoes migration 7 (console sessions).
const UNDO_7: &str = "DROP TABLE sessions;";
/// Undoes migration 8 (templates).
const UNDO_8: &str = "DROP TABLE templates;";
/// Undoes migration 5 (newest-first indexes, `records.waiting_until`).
const UNDO_5: &str = "DROP INDEX records_recent; DROP INDEX records_by_status_recent; \
     ALTER TABLE records DROP COLUMN waiting_until;";

fn start() -> Timestamp {
    "2026-01-05T09:00:00Z".parse().unwrap()
}

/// A start-date Wait, or a `.waitForTaskToken` approval with a 24-hour timeout.
const PARKED: &str = r#"{"StartAt":"Choose","States":{
  "Choose":{"Type":"Choice","Choices":[{"Variable":"$.wait","BooleanEquals":true,"Next":"Sleep"}],"Default":"Ask"},
  "Sleep":{"Type":"Wait","Seconds":3600,"Next":"Done"},
  "Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
         "Parameters":{"t.$":"$$.Task.Token","who.$":"$.who"},"TimeoutSeconds":86400,
         "ResultPath":"$.answer","Next":"Done"},
  "Done":{"Type":"Succeed"}}}"#;

async fn open(dir: &Path) -> (SqliteStore, Arc<dyn ExecutionStore>) {
    let store = SqliteStore::open_dir(dir).await.unwrap();
    let executions = store.executions().shared();
    (store, executions)
}

/// Every byte SQLite keeps for the database: the file and its write-ahead log.
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(dir.join(DB_FILE)).unwrap();
    if let Ok(wal) = std::fs::read(dir.join(format!("{DB_FILE}-wal"))) {
        bytes.extend(wal);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn parked_executions_survive_dropping_the_engine_and_the_store_over_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(VirtualClock::new(start()));
    let first = Arc::new(Callbacks::default());
    let (timer, token) = {
        let (_store, executions) = open(dir.path()).await;
        let engine = Engine::new(executions, clock.clone(), first.clone());
        let sm = engine.register("parked", PARKED).unwrap();
        let timer = engine
            .start_execution(&sm, Some("start-date"), json!({"wait": true}))
            .await
            .unwrap();
        let token = engine
            .start_execution(&sm, Some("approval"), json!({"wait": false, "who": "ada"}))
            .await
            .unwrap();
        (timer, token)
    }; // Engine, store and connection are dropped here: only the file remains.

    let (_store, executions) = open(dir.path()).await;
    let engine = Engine::new(executions, clock.clone(), Arc::new(Callbacks::default()));
    engine.register("parked", PARKED).unwrap();
    let resumed = engine.resume().await.unwrap();
    let still_parked = engine.describe_execution(&timer).await.unwrap().status;
    engine
        .advance(SignedDuration::from_secs(3600))
        .await
        .unwrap();
    let woken = engine.describe_execution(&timer).await.unwrap();
    engine
        .send_task_success(&first.last(), r#""approved""#)
        .await
        .unwrap();
    let answered = engine.describe_execution(&token).await.unwrap();

    assert_eq!(resumed, 2);
    assert_eq!(still_parked, ExecutionStatus::Running);
    assert_eq!(woken.status, ExecutionStatus::Succeeded);
    assert_eq!(answered.status, ExecutionStatus::Succeeded);
    assert_eq!(
        answered.output,
        Some(json!({"wait": false, "who": "ada", "answer": "approved"}))
    );
}

#[tokio::test]
async fn a_task_token_timeout_fires_after_a_restart_on_the_virtual_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(VirtualClock::new(start()));
    let first = Arc::new(Callbacks::default());
    let arn = {
        let (_store, executions) = open(dir.path()).await;
        let engine = Engine::new(executions, clock.clone(), first.clone());
        let sm = engine.register("parked", PARKED).unwrap();
        engine
            .start_execution(&sm, Some("approval"), json!({"wait": false, "who": "ada"}))
            .await
            .unwrap()
    };

    let (_store, executions) = open(dir.path()).await;
    let next_wake = executions.next_wake().await.unwrap();
    let engine = Engine::new(executions, clock.clone(), Arc::new(Callbacks::default()));
    engine.register("parked", PARKED).unwrap();
    engine.resume().await.unwrap();
    engine
        .advance(SignedDuration::from_hours(25))
        .await
        .unwrap();
    let late = engine
        .send_task_success(&first.last(), r#""too late""#)
        .await;

    assert_eq!(next_wake, Some(start() + SignedDuration::from_hours(24)));
    let record = engine.describe_execution(&arn).await.unwrap();
    assert_eq!(record.status, ExecutionStatus::Failed);
    assert_eq!(record.error.as_deref(), Some("States.Timeout"));
    assert!(late.is_err());
}

#[tokio::test]
async fn task_tokens_and_inputs_are_not_in_the_database_file_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let callbacks = Arc::new(Callbacks::default());
    let (_store, executions) = open(dir.path()).await;
    let engine = Engine::new(
        executions.clone(),
        Arc::new(VirtualClock::new(start())),
        callbacks.clone(),
    );
    let sm = engine.register("parked", PARKED).unwrap();
    let arn = engine
        .start_execution(
            &sm,
            Some("approval"),
            json!({"wait": false, "who": "marker-7f3a9c"}),
        )
        .await
        .unwrap();
    let token = callbacks.last();

    let bytes = database_bytes(dir.path());

    assert!(
        engine.describe_execution(&arn).await.unwrap().tokens == vec![token.clone()],
        "the engine reads the token back"
    );
    assert!(contains(&bytes, &arn), "the ARN is a clear-text key");
    assert!(!contains(&bytes, &token), "task token stored in clear");
    assert!(!contains(&bytes, "marker-7f3a9c"), "input stored in clear");
}

#[tokio::test]
async fn a_record_moved_under_another_execution_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, executions) = open(dir.path()).await;
    executions.save(&record("a", Some(10))).await.unwrap();
    executions.save(&record("b", Some(20))).await.unwrap();
    drop(executions);
    drop(_store);
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute(
            "UPDATE executions SET record = (SELECT record FROM executions WHERE arn = ?1) WHERE arn = ?2",
            [arn("a"), arn("b")],
        )
        .unwrap();
    }

    let (_store, executions) = open(dir.path()).await;
    let moved = executions.load(&arn("b")).await;
    let untouched = executions.load(&arn("a")).await.unwrap();

    let err = moved.unwrap_err().to_string();
    assert!(err.contains("could not be opened"), "{err}");
    assert_eq!(untouched.unwrap().execution_arn, arn("a"));
}

fn arn(name: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:onboarding:{name}")
}

/// A bare record of a running execution with a timer `wake` seconds after
/// the start (none when `None`).
fn record(name: &str, wake: Option<i64>) -> ExecutionRecord {
    ExecutionRecord {
        execution_arn: arn(name),
        name: name.to_owned(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:onboarding".into(),
        status: ExecutionStatus::Running,
        input: json!({"name": name}),
        output: None,
        error: None,
        cause: None,
        start_date: "2026-01-05T09:00:00.000Z".into(),
        stop_date: None,
        wake_at: wake.map(|s| start() + SignedDuration::from_secs(s)),
        tokens: Vec::new(),
        deadline: None,
        runs: BTreeMap::new(),
        next_run: 1,
        ready: VecDeque::new(),
        next_nonce: 0,
        history: Vec::new(),
        event_count: 0,
    }
}

/// What the port answers at a few instants, to compare two stores.
async fn observe(store: &dyn ExecutionStore) -> Value {
    let mut due = Vec::new();
    for offset_ns in [
        -1,
        0,
        4_999_999_999,
        5_000_000_000,
        5_000_000_001,
        3_600_000_000_000,
    ] {
        let at = start() + SignedDuration::from_nanos(offset_ns);
        due.push(store.due(at).await.unwrap());
    }
    json!({
        "due": due,
        "next_wake": store.next_wake().await.unwrap(),
        "running": store.running().await.unwrap(),
    })
}

#[tokio::test]
async fn saves_index_timers_and_status_exactly_as_the_memory_store_does() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, sqlite) = open(dir.path()).await;
    let memory: Arc<dyn ExecutionStore> = Arc::new(MemoryStore::new());
    let mut finished = record("finished", Some(1));
    finished.status = ExecutionStatus::Succeeded;
    let mut nanos = record("nanos", None);
    nanos.wake_at = Some(start() + SignedDuration::from_nanos(5_000_000_001));
    let mut stopped_later = record("stopped", Some(2));
    let mut moved = record("moved", Some(3600));
    let saves = vec![
        record("late", Some(10)),
        record("early", Some(5)),
        record("tie", Some(5)),
        finished,
        record("no-timer", None),
        nanos,
        stopped_later.clone(),
        moved.clone(),
    ];
    for store in [&sqlite, &memory] {
        for r in &saves {
            store.save(r).await.unwrap();
        }
    }
    let before = (observe(&*sqlite).await, observe(&*memory).await);
    stopped_later.status = ExecutionStatus::Aborted;
    moved.wake_at = Some(start());
    for store in [&sqlite, &memory] {
        store.save(&stopped_later).await.unwrap();
        store.save(&moved).await.unwrap();
    }

    let after = (observe(&*sqlite).await, observe(&*memory).await);

    assert_eq!(before.0, before.1);
    assert_eq!(after.0, after.1);
    assert_eq!(
        after.0["due"][3],
        json!([arn("moved"), arn("early"), arn("tie")]),
        "due at start + 5 s, earliest first, ties by ARN"
    );
    assert_eq!(
        after.0["due"][4].as_array().unwrap().len(),
        4,
        "nanosecond timers are exact"
    );
    assert!(
        !after.0["running"]
            .as_array()
            .unwrap()
            .contains(&json!(arn("stopped")))
    );
    assert_eq!(
        sqlite.load(&arn("moved")).await.unwrap(),
        Some(moved),
        "a record reads back whole"
    );
    assert_eq!(sqlite.load(&arn("nobody")).await.unwrap(), None);
}

#[tokio::test]
async fn a_version_1_database_gains_the_executions_table_and_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open_dir(dir.path()).await.unwrap();
        store
            .create_record(NewRecord {
                id: "r1".into(),
                kind: RecordKind::Onboarding,
                organization: "contoso".into(),
                status: Status::Running,
                request: json!({"last_name": "Vance"}),
                ticket_id: None,
                created_at: start(),
            })
            .await
            .unwrap();
    }
    {
        // Back to what a build with schema version 1 left behind.
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(&format!(
            "DROP TABLE executions; DROP TABLE leases; {UNDO_5} {UNDO_6} {UNDO_7} {UNDO_8} PRAGMA user_version = 1;"
        ))
        .unwrap();
    }

    let store = SqliteStore::open_dir(dir.path()).await.unwrap();
    store
        .executions()
        .save(&record("after-upgrade", Some(1)))
        .await
        .unwrap();

    let version: i64 = rusqlite::Connection::open(dir.path().join(DB_FILE))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(SCHEMA_VERSION, 8);
    assert_eq!(version, SCHEMA_VERSION);
    assert!(store.get_record("r1").await.unwrap().is_some());
    assert_eq!(store.executions().count().await.unwrap(), (1, 1));
}

/// A finished execution that stopped at `stopped`.
fn finished(name: &str, stopped: &str) -> ExecutionRecord {
    let mut r = record(name, None);
    r.status = ExecutionStatus::Succeeded;
    r.stop_date = Some(stopped.to_owned());
    r
}

#[tokio::test]
async fn finished_executions_are_purged_after_their_stop_time_and_running_ones_never() {
    let dir = tempfile::tempdir().unwrap();
    let (store, executions) = open(dir.path()).await;
    executions
        .save(&record("parked", Some(3600)))
        .await
        .unwrap();
    executions
        .save(&finished("old", "2026-01-10T09:00:00.000Z"))
        .await
        .unwrap();
    executions
        .save(&finished("recent", "2026-03-10T09:00:00.000Z"))
        .await
        .unwrap();
    let mut unknown = finished("unknown", "not a time");
    unknown.status = ExecutionStatus::Failed;
    executions.save(&unknown).await.unwrap();

    let purged = store
        .executions()
        .purge_finished_before("2026-02-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap();

    assert_eq!(purged, 1);
    assert!(executions.load(&arn("old")).await.unwrap().is_none());
    for kept in ["parked", "recent", "unknown"] {
        assert!(
            executions.load(&arn(kept)).await.unwrap().is_some(),
            "{kept}"
        );
    }
    // Far in the future: everything finished with a known stop time goes, nothing running.
    let purged = store
        .executions()
        .purge_finished_before("2100-01-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert_eq!(store.executions().count().await.unwrap(), (2, 1));
    assert_eq!(executions.running().await.unwrap(), vec![arn("parked")]);
}

#[tokio::test]
async fn executions_finished_before_the_upgrade_are_kept_one_full_period() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_, executions) = open(dir.path()).await;
        executions
            .save(&finished("before-upgrade", "2020-01-01T00:00:00.000Z"))
            .await
            .unwrap();
    }
    {
        // Back to what a build with schema version 2 left behind: no stop times.
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(&format!(
            "DROP INDEX executions_stopped; ALTER TABLE executions DROP COLUMN stopped_s;
             DROP TABLE leases; {UNDO_5} {UNDO_6} {UNDO_7} {UNDO_8} PRAGMA user_version = 2;"
        ))
        .unwrap();
    }

    let (store, executions) = open(dir.path()).await;

    // Its stop time is taken as the upgrade's, not 2020: a day ago it had not stopped.
    let now = Timestamp::now();
    let yesterday = now - SignedDuration::from_hours(24);
    assert_eq!(
        store
            .executions()
            .purge_finished_before(yesterday)
            .await
            .unwrap(),
        0
    );
    assert!(
        executions
            .load(&arn("before-upgrade"))
            .await
            .unwrap()
            .is_some()
    );
    let tomorrow = now + SignedDuration::from_hours(24);
    assert_eq!(
        store
            .executions()
            .purge_finished_before(tomorrow)
            .await
            .unwrap(),
        1
    );
}
