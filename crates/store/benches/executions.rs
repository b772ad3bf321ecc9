//! The interpreter's timers in SQLite: "due before T" with 100,000 parked
//! executions, and what one parked execution costs on disk
//! (`cargo bench -p onboard-store --bench executions`).
//!
//! The parked execution is a real one: an onboarding-shaped state machine run
//! by the engine (history kept, as `onboard serve` keeps it) until it parks on
//! its start-date Wait. Copies of it, each with its own ARN and timer spread
//! over 58 days, are saved through the async API, each a durable commit.

#![allow(clippy::unwrap_used, missing_docs)] // Bench code.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use onboard_asl::{
    Dispatcher, Engine, ExecutionRecord, ExecutionStore, MemoryStore, TaskOutcome, TaskRequest,
    VirtualClock,
};
use onboard_store::sqlite::DB_FILE;
use onboard_store::{SqliteExecutionStore, SqliteStore};
use serde_json::json;
use tokio::runtime::Runtime;

const PARKED: u64 = 100_000;
/// Seconds between two parked executions' timers: 100,000 of them span 58 days.
const SPACING: i64 = 50;

const ONBOARDING: &str = r#"{"StartAt":"Validate","States":{
  "Validate":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
    "Parameters":{"FunctionName":"validate","Payload.$":"$"},"ResultSelector":{"plan.$":"$.Payload"},
    "ResultPath":"$.validated","Next":"EnsureTicket"},
  "EnsureTicket":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
    "Parameters":{"FunctionName":"ensure-ticket","Payload":{"onboarding_id.$":"$.onboarding_id","organization.$":"$.form.organization"}},
    "ResultSelector":{"ticket_id":"T-1042"},"ResultPath":"$.ticket","Next":"WaitForStartDate"},
  "WaitForStartDate":{"Type":"Wait","TimestampPath":"$.form.start_date","Next":"CreateUser"},
  "CreateUser":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
    "Parameters":{"FunctionName":"create-user","Payload.$":"$"},"ResultPath":"$.user","End":true}}}"#;

fn start() -> Timestamp {
    "2026-01-05T09:00:00Z".parse().unwrap()
}

struct Echo;

#[async_trait]
impl Dispatcher for Echo {
    async fn dispatch(&self, req: TaskRequest) -> TaskOutcome {
        TaskOutcome::Succeeded(req.payload)
    }
}

/// One execution parked on its start date, as the engine leaves it.
fn parked_template(rt: &Runtime) -> ExecutionRecord {
    rt.block_on(async {
        let store = Arc::new(MemoryStore::new());
        let engine = Engine::new(
            store.clone(),
            Arc::new(VirtualClock::new(start())),
            Arc::new(Echo),
        );
        let sm = engine.register("onboarding", ONBOARDING).unwrap();
        let input = json!({
            "onboarding_id": "0b9f6d0e-3c1a-4a8e-9d53-2b7f0c1e4a77",
            "form": {
                "organization": "contoso", "first_name": "Megan", "last_name": "Bowen",
                "display_name": "Megan Bowen", "job_title": "Marketing Manager",
                "department": "Marketing", "office_location": "Redmond",
                "manager_email": "AdeleV@contoso.com", "usage_location": "US",
                "start_date": "2026-02-02T08:00:00Z",
                "licenses": ["O365_BUSINESS_PREMIUM"], "groups": ["All Staff", "Sales"],
                "ticket_id": null, "license_purchase": "auto", "send_credentials_to": "email"
            }
        });
        let arn = engine
            .start_execution(&sm, Some("template"), input)
            .await
            .unwrap();
        let record = store.load(&arn).await.unwrap().unwrap();
        assert!(
            record.wake_at.is_some(),
            "the template must be parked on its Wait"
        );
        record
    })
}

fn copy(template: &ExecutionRecord, i: u64) -> ExecutionRecord {
    let mut record = template.clone();
    record.name = format!("onb-{i:08}");
    record.execution_arn = template.execution_arn.replace("template", &record.name);
    record.wake_at = Some(start() + SignedDuration::from_secs(i as i64 * SPACING));
    record
}

fn seed(rt: &Runtime, store: &SqliteExecutionStore, template: &ExecutionRecord) {
    let started = std::time::Instant::now();
    rt.block_on(async {
        // Through the API, 8 savers at a time (the store serializes them).
        let mut next = 0;
        while next < PARKED {
            let batch: Vec<_> = (next..(next + 8).min(PARKED))
                .map(|i| {
                    let store = store.clone();
                    let record = copy(template, i);
                    tokio::spawn(async move { store.save(&record).await })
                })
                .collect();
            for task in batch {
                task.await.unwrap().unwrap();
            }
            next += 8;
        }
    });
    let elapsed = started.elapsed();
    eprintln!(
        "seeded {PARKED} parked executions in {elapsed:.1?} ({:.0} saves/s)",
        PARKED as f64 / elapsed.as_secs_f64()
    );
}

/// Bytes on disk per parked execution (after a checkpoint), and the sealed
/// record's own length.
fn report_size(dir: &Path, template: &ExecutionRecord) {
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let (count, sealed): (i64, i64) = conn
        .query_row(
            "SELECT count(*), sum(length(record)) FROM executions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let file = std::fs::metadata(dir.join(DB_FILE)).unwrap().len();
    let json = serde_json::to_vec(template).unwrap().len();
    eprintln!(
        "parked executions: {count}; database file {:.1} MiB = {} bytes per parked execution \
         (record JSON {json} B, deflated and sealed {} B, history of {} events)",
        file as f64 / (1024.0 * 1024.0),
        file / count as u64,
        sealed / count,
        template.history.len()
    );
}

fn due_with_100k_parked(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(SqliteStore::open_dir(dir.path()))
        .unwrap()
        .executions();
    let template = parked_template(&rt);
    seed(&rt, &store, &template);
    report_size(dir.path(), &template);

    let mut group = c.benchmark_group("executions_100k");
    // A server's tick when nothing is due: the common case.
    let before_all = start() - SignedDuration::from_secs(1);
    group.bench_function("due_before_T_none_due", |b| {
        b.iter(|| {
            let due = rt.block_on(store.due(before_all)).unwrap();
            assert!(due.is_empty());
        })
    });
    // The clock moved past 100 timers.
    let after_100 = start() + SignedDuration::from_secs(99 * SPACING);
    group.bench_function("due_before_T_100_due", |b| {
        b.iter(|| {
            let due = rt.block_on(store.due(after_100)).unwrap();
            assert_eq!(due.len(), 100);
        })
    });
    group.bench_function("next_wake", |b| {
        b.iter(|| {
            let next = rt.block_on(store.next_wake()).unwrap();
            assert_eq!(next, Some(start()));
        })
    });
    // What a restart lists before resuming: every running execution.
    group.bench_function("running_all_100k", |b| {
        b.iter(|| {
            let running = rt.block_on(store.running()).unwrap();
            assert!(running.len() >= PARKED as usize);
        })
    });
    group.bench_function("load_parked", |b| {
        let arn = copy(&template, PARKED / 2).execution_arn;
        b.iter(|| {
            let record = rt.block_on(store.load(&arn)).unwrap();
            assert!(record.is_some());
        })
    });
    group.throughput(Throughput::Elements(1));
    let mut i = PARKED;
    group.bench_function("save_parked_durably", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(store.save(&copy(&template, i))).unwrap();
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! { name = benches; config = config(); targets = due_with_100k_parked }
criterion_main!(benches);
