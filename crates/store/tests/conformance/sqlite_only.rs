//! SQLite-only checks: restarts, crashes, schema versions and damaged files.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail, ensure};
use jiff::Timestamp;
use onboard_store::sqlite::{DB_FILE, SCHEMA_VERSION};
use onboard_store::{
    Decide, DecideOutcome, DecisionKind, DecisionState, NewDecision, NewRecord, RecordKind,
    SqliteStore, Status, Store, StoreError, TimelineEvent,
};
use secrecy::{ExposeSecret as _, SecretString};

fn record(id: &str) -> NewRecord {
    NewRecord {
        id: id.to_owned(),
        kind: RecordKind::Onboarding,
        organization: "contoso".into(),
        status: Status::Running,
        request: serde_json::json!({"last_name": id}),
        ticket_id: None,
        created_at: Timestamp::from_second(1_800_000_000).unwrap(),
    }
}

#[tokio::test]
async fn reopening_loses_nothing_that_was_acknowledged() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let decision_id;
    {
        let store = SqliteStore::open_dir(dir.path()).await?;
        store.create_record(record("r1")).await?;
        store
            .append_event(
                "r1",
                TimelineEvent {
                    at: Timestamp::from_second(1_800_000_001)?,
                    step: "validate".into(),
                    message: "ok".into(),
                },
            )
            .await?;
        let d = store
            .create_decision(NewDecision {
                kind: DecisionKind::Approval,
                record_id: "r1".into(),
                task_token: SecretString::from("tok-1".to_owned()),
                expires_at: Timestamp::from_second(1_900_000_000)?,
                created_at: Timestamp::from_second(1_800_000_000)?,
            })
            .await?;
        decision_id = d.id;
        store
            .put_step_result("r1/x", serde_json::json!(1), Timestamp::UNIX_EPOCH)
            .await?;
    }
    let store = SqliteStore::open_dir(dir.path()).await?;
    assert!(store.get_record("r1").await?.is_some());
    assert_eq!(store.timeline("r1").await?.len(), 1);
    assert_eq!(store.step_result("r1/x").await?, Some(serde_json::json!(1)));
    let won = store
        .decide(
            &decision_id,
            Decide {
                to: DecisionState::Approved,
                by: "boss".into(),
                at: Timestamp::from_second(1_800_000_002)?,
            },
        )
        .await?;
    match won {
        DecideOutcome::Decided { task_token, .. } => {
            assert_eq!(task_token.expose_secret(), "tok-1")
        }
        other => bail!("expected Decided, got {other:?}"),
    }
    Ok(())
}

const CHILD_DIR_VAR: &str = "ONBOARD_TEST_CRASH_WRITER_DIR";
const CRASH_AFTER: usize = 40;

/// Parent: runs this same test in a child process that writes records,
/// printing each id once the store acknowledged it, then aborts (no clean
/// shutdown, no checkpoint). Every acknowledged record must be there after.
#[test]
fn a_killed_process_loses_nothing_that_was_acknowledged() -> anyhow::Result<()> {
    if let Ok(dir) = std::env::var(CHILD_DIR_VAR) {
        return crash_writer(Path::new(&dir));
    }
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "sqlite_only::a_killed_process_loses_nothing_that_was_acknowledged",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_VAR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("child stdout")?;
    let acked: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest may print its own text before the first ACK on the same line.
        .filter_map(|line| line.split_once("ACK ").map(|(_, id)| id.to_owned()))
        .collect();
    let status = child.wait()?;
    ensure!(!status.success(), "the child should have aborted");
    ensure!(
        acked.len() == CRASH_AFTER,
        "child acknowledged {} records",
        acked.len()
    );

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = SqliteStore::open_dir(dir.path()).await?;
        for id in &acked {
            ensure!(
                store.get_record(id).await?.is_some(),
                "acknowledged {id} was lost"
            );
        }
        Ok(())
    })
}

fn crash_writer(dir: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = SqliteStore::open_dir(dir).await?;
        for i in 0..CRASH_AFTER {
            let id = format!("crash-{i}");
            store.create_record(record(&id)).await?;
            println!("ACK {id}");
        }
        anyhow::Ok(())
    })?;
    std::process::abort();
}

#[tokio::test]
async fn a_newer_schema_file_is_refused_and_left_alone() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    {
        let store = SqliteStore::open_dir(dir.path()).await?;
        store.create_record(record("r1")).await?;
    }
    let path = dir.path().join(DB_FILE);
    let newer = SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&path)?.execute_batch(&format!("PRAGMA user_version = {newer}"))?;

    let err = SqliteStore::open_dir(dir.path())
        .await
        .expect_err("a newer schema must be refused");
    match &err {
        StoreError::NewerSchema {
            found, supported, ..
        } => {
            assert_eq!(*found, newer);
            assert_eq!(*supported, SCHEMA_VERSION);
        }
        other => bail!("expected NewerSchema, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("newer"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");

    let conn = rusqlite::Connection::open(&path)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let records: i64 = conn.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
    assert_eq!((version, records), (newer, 1), "the file was changed");
    Ok(())
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_and_left_alone() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(DB_FILE);
    let garbage = b"these are not the bytes of a SQLite database\n".repeat(200);
    std::fs::write(&path, &garbage)?;
    let err = SqliteStore::open_dir(dir.path())
        .await
        .expect_err("garbage must be refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("not a usable onboard database"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path)?, garbage);
    Ok(())
}

#[tokio::test]
async fn another_programs_database_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(DB_FILE);
    rusqlite::Connection::open(&path)?.execute_batch("CREATE TABLE notes (body TEXT)")?;
    let err = SqliteStore::open_dir(dir.path())
        .await
        .expect_err("a foreign database must be refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn a_damaged_page_is_reported_at_open() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    {
        let store = SqliteStore::open_dir(dir.path()).await?;
        for i in 0..300 {
            store.create_record(record(&format!("r{i}"))).await?;
        }
    }
    let path = dir.path().join(DB_FILE);
    // Fold the WAL into the main file, then overwrite a page past the header.
    rusqlite::Connection::open(&path)?.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    let mut bytes = std::fs::read(&path)?;
    ensure!(
        bytes.len() > 3 * 4096,
        "database too small: {}",
        bytes.len()
    );
    for b in &mut bytes[2 * 4096..3 * 4096] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes)?;
    let err = SqliteStore::open_dir(dir.path())
        .await
        .expect_err("a damaged file must be refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn the_task_token_is_not_stored_in_plain() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let token = "PlainTaskTokenThatMustNotBeStored";
    {
        let store = SqliteStore::open_dir(dir.path()).await?;
        store.create_record(record("r1")).await?;
        store
            .create_decision(NewDecision {
                kind: DecisionKind::Approval,
                record_id: "r1".into(),
                task_token: SecretString::from(token.to_owned()),
                expires_at: Timestamp::from_second(1_900_000_000)?,
                created_at: Timestamp::from_second(1_800_000_000)?,
            })
            .await?;
    }
    let mut everything = Vec::new();
    for entry in std::fs::read_dir(dir.path())? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n != "token.key") {
            everything.extend(std::fs::read(&path)?);
        }
    }
    let needle = token.as_bytes();
    assert!(
        !everything.windows(needle.len()).any(|w| w == needle),
        "the plain token is in the database files"
    );
    Ok(())
}
