//! `cargo bench -p onboard --bench dashboard`: the dashboard and the run listings
//! with 10,000 runs in the store (target: under 100 ms server time for `GET /`),
//! one request at a time over a real socket.
//!
//! The runs are written into the SQLite store before `onboard serve` opens it:
//! onboardings and offboardings of two organizations, in every ended status (a
//! waiting one would be started again at start-up, which is not what is measured).
//! `ONBOARD_DASHBOARD_RUNS` (default 10,000) and `ONBOARD_DASHBOARD_N` (requests per
//! page, default 100) set the size.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use onboard_store::{NewRecord, RecordKind, SqliteStore, Status, Store};
use serde_json::json;

use common::{Server, env_usize, not_me, report};

const ENDED: [Status; 5] = [
    Status::Completed,
    Status::Failed,
    Status::Denied,
    Status::ApprovalTimedOut,
    Status::Cancelled,
];

fn main() {
    if not_me("dashboard") {
        return;
    }
    let runs = env_usize("ONBOARD_DASHBOARD_RUNS", 10_000);
    let n = env_usize("ONBOARD_DASHBOARD_N", 100);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::open_dir(&data).await.expect("store");
        let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 90);
        for i in 0..runs {
            let kind = if i % 5 == 4 {
                RecordKind::Offboarding
            } else {
                RecordKind::Onboarding
            };
            let request = match kind {
                RecordKind::Onboarding => {
                    json!({"first_name": "Bench", "last_name": format!("User{i}")})
                }
                RecordKind::Offboarding => {
                    json!({"user_principal_name": format!("user{i}@contoso.com")})
                }
            };
            store
                .create_record(NewRecord {
                    id: format!("bench-{i:05}"),
                    kind,
                    organization: if i % 3 == 0 { "fabrikam" } else { "contoso" }.to_owned(),
                    status: ENDED[i % ENDED.len()],
                    request,
                    ticket_id: Some(format!("{}", 10_000 + i)),
                    created_at: start + jiff::SignedDuration::from_secs(i as i64 * 60),
                })
                .await
                .expect("record");
        }
    });
    let server = Server::start(&data, &[]);
    let base = server.base.clone();
    rt.block_on(async {
        let client = reqwest::Client::new();
        for (what, path) in [
            ("GET / (dashboard and form)", "/"),
            ("GET /?fragment=runs (the refresh)", "/?fragment=runs"),
            (
                "GET /?status=failed&organization=contoso",
                "/?status=failed&organization=contoso",
            ),
            ("GET /api/onboardings?limit=50", "/api/onboardings?limit=50"),
            (
                "GET /api/onboardings?limit=200",
                "/api/onboardings?limit=200",
            ),
        ] {
            let mut times: Vec<Duration> = Vec::with_capacity(n);
            for _ in 0..n {
                let started = Instant::now();
                let res = client
                    .get(format!("{base}{path}"))
                    .send()
                    .await
                    .expect("GET");
                assert_eq!(res.status(), 200, "{path}");
                res.bytes().await.expect("body");
                times.push(started.elapsed());
            }
            report(&format!("{what}, {runs} runs"), times);
        }
    });
}
