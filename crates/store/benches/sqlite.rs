//! SQLite store throughput: records written/s, decisions/s, and listing by
//! status in a database of 100,000 records (`cargo bench -p onboard-store`).
//!
//! Every write is a durable commit (WAL, `synchronous=FULL`), one at a time,
//! through the async API, as the local runtime does it.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use onboard_store::{
    Decide, DecideOutcome, DecisionKind, DecisionState, NewDecision, NewRecord, RecordFilter,
    RecordKind, SqliteStore, Status, Store,
};
use secrecy::SecretString;
use serde_json::json;
use tokio::runtime::Runtime;

const SEEDED: u64 = 100_000;
const ORGS: u64 = 50;

fn record(i: u64) -> NewRecord {
    NewRecord {
        id: format!("rec-{i:08}"),
        kind: RecordKind::Onboarding,
        organization: format!("org-{:02}", i % ORGS),
        status: Status::ALL[(i % Status::ALL.len() as u64) as usize],
        request: json!({
            "organization": format!("org-{:02}", i % ORGS),
            "first_name": "Ada", "last_name": format!("Lovelace {i}"),
            "job_title": "Engineer", "licenses": ["O365_BUSINESS_PREMIUM"],
            "groups": ["All staff", "Engineering"], "send_credentials_to": "email"
        }),
        ticket_id: Some(format!("T-{i}")),
        created_at: Timestamp::from_second(1_800_000_000 + i as i64).unwrap(),
    }
}

fn open(rt: &Runtime) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = rt.block_on(SqliteStore::open_dir(dir.path())).unwrap();
    (dir, store)
}

fn writes(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let (_dir, store) = open(&rt);
    let next = AtomicU64::new(10_000_000);

    let mut group = c.benchmark_group("sqlite");
    group.throughput(Throughput::Elements(1));
    group.bench_function("create_record", |b| {
        b.iter(|| {
            let i = next.fetch_add(1, Ordering::Relaxed);
            rt.block_on(store.create_record(record(i))).unwrap();
        })
    });

    rt.block_on(store.create_record(record(1))).unwrap();
    group.bench_function("create_and_decide_decision", |b| {
        b.iter(|| {
            rt.block_on(async {
                let d = store
                    .create_decision(NewDecision {
                        kind: DecisionKind::Approval,
                        record_id: "rec-00000001".into(),
                        task_token: SecretString::from("t".repeat(600)),
                        expires_at: Timestamp::from_second(1_900_000_000).unwrap(),
                        created_at: Timestamp::from_second(1_800_000_000).unwrap(),
                    })
                    .await
                    .unwrap();
                let outcome = store
                    .decide(
                        &d.id,
                        Decide {
                            to: DecisionState::Approved,
                            by: "boss@contoso.com".into(),
                            at: Timestamp::from_second(1_800_000_001).unwrap(),
                        },
                    )
                    .await
                    .unwrap();
                assert!(matches!(outcome, DecideOutcome::Decided { .. }));
            })
        })
    });
    group.finish();
}

fn listing(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let (_dir, store) = open(&rt);
    let started = std::time::Instant::now();
    rt.block_on(async {
        // Seed through the API, 8 writers at a time (the store serializes them).
        let mut next = 0;
        while next < SEEDED {
            let batch: Vec<_> = (next..(next + 8).min(SEEDED))
                .map(|i| {
                    let store = store.clone();
                    tokio::spawn(async move { store.create_record(record(i)).await })
                })
                .collect();
            for task in batch {
                task.await.unwrap().unwrap();
            }
            next += 8;
        }
    });
    eprintln!("seeded {SEEDED} records in {:.1?}", started.elapsed());

    // A cursor half way through the 12,500 `scheduled` records.
    let deep_cursor = rt.block_on(async {
        let mut cursor = None;
        for _ in 0..62 {
            let page = store
                .list_records(
                    RecordKind::Onboarding,
                    &RecordFilter::Status(Status::Scheduled),
                    100,
                    cursor.as_ref(),
                )
                .await
                .unwrap();
            cursor = page.next;
        }
        cursor.unwrap()
    });

    let mut group = c.benchmark_group("sqlite_100k");
    group.bench_function("list_by_status_first_page_100", |b| {
        b.iter(|| {
            let page = rt
                .block_on(store.list_records(
                    RecordKind::Onboarding,
                    &RecordFilter::Status(Status::Scheduled),
                    100,
                    None,
                ))
                .unwrap();
            assert_eq!(page.items.len(), 100);
        })
    });
    group.bench_function("list_by_status_page_63_of_125", |b| {
        b.iter(|| {
            let page = rt
                .block_on(store.list_records(
                    RecordKind::Onboarding,
                    &RecordFilter::Status(Status::Scheduled),
                    100,
                    Some(&deep_cursor),
                ))
                .unwrap();
            assert_eq!(page.items.len(), 100);
        })
    });
    group.bench_function("list_by_organization_and_status_100", |b| {
        b.iter(|| {
            let page = rt
                .block_on(store.list_records(
                    RecordKind::Onboarding,
                    &RecordFilter::OrganizationAndStatus("org-18".into(), Status::Running),
                    100,
                    None,
                ))
                .unwrap();
            assert!(!page.items.is_empty());
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

criterion_group! { name = benches; config = config(); targets = writes, listing }
criterion_main!(benches);
