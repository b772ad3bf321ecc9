//! `cargo bench -p onboard --bench load`: complete onboardings per second through the
//! HTTP API of `onboard serve --sandbox --virtual-clock` (no waits: no approval, no
//! start date, free seats).
//!
//! Each answer of `POST /api/onboardings` comes once the workflow has parked or ended
//! (virtual clock), so an answered `completed` is a finished onboarding: user,
//! license, groups, ticket notes, credentials. `ONBOARD_LOAD_N` (default 200) and
//! `ONBOARD_LOAD_CONCURRENCY` (default 8) set the size.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::time::Instant;

use serde_json::{Value, json};

use common::{Server, env_usize, not_me};

fn main() {
    if not_me("load") {
        return;
    }
    let n = env_usize("ONBOARD_LOAD_N", 200);
    let concurrency = env_usize("ONBOARD_LOAD_CONCURRENCY", 8).max(1);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--virtual-clock"]);
    let base = server.base.clone();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (elapsed, completed) = rt.block_on(async {
        let client = reqwest::Client::new();
        // The demo tenant has 3 free Business Standard seats; Exchange Online has 10.
        // Licenses are left out so every onboarding finds its seat.
        let started = Instant::now();
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let client = client.clone();
            let base = base.clone();
            let next = next.clone();
            workers.push(tokio::spawn(async move {
                let mut done = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return done;
                    }
                    // Distinct usernames (three letters: up to 17,576 users).
                    let letter = |k: usize| char::from(b'a' + u8::try_from(k % 26).unwrap_or(0));
                    let last = format!("Load{}{}{}", letter(i / 676), letter(i / 26), letter(i));
                    let res: Value = client
                        .post(format!("{base}/api/onboardings"))
                        .json(&json!({"organization": "contoso", "first_name": "Bench",
                                      "last_name": last, "groups": ["All Staff"]}))
                        .send()
                        .await
                        .expect("POST")
                        .json()
                        .await
                        .expect("json");
                    if res["status"] == "completed" {
                        done += 1;
                    } else {
                        let id = res["id"].as_str().unwrap_or_default();
                        let rec: Value = client
                            .get(format!("{base}/api/onboardings/{id}"))
                            .send()
                            .await
                            .expect("GET")
                            .json()
                            .await
                            .unwrap_or(Value::Null);
                        eprintln!("not completed: {}", rec["timeline"]);
                    }
                }
            }));
        }
        let mut completed = 0;
        for w in workers {
            completed += w.await.unwrap();
        }
        (started.elapsed(), completed)
    });
    drop(server);
    let secs = elapsed.as_secs_f64();
    println!(
        "load: {completed}/{n} onboardings completed in {secs:.2} s with {concurrency} clients: {:.1} complete onboardings/s",
        completed as f64 / secs
    );
    assert_eq!(completed, n, "every onboarding completes");
}
