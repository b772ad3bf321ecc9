//! `cargo bench -p onboard --bench plan`: the latency of `POST /api/onboardings/plan`
//! and of the look-ups against `onboard serve --sandbox` (target for the plan: under
//! 50 ms), one request at a time over a real socket, as the console's form asks.
//!
//! The plan's body is a full form: two licenses (one without a free seat), two
//! groups (one missing), a copy-from user and a manager, so every directory read
//! of the plan is made. A hundred users are onboarded first (three of them namesakes) so the
//! collision check reads a tenant that is not empty and tries four candidates. `ONBOARD_PLAN_N` (default 300) sets the count.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank].as_secs_f64() * 1000.0
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let mean = times.iter().map(Duration::as_secs_f64).sum::<f64>() / times.len() as f64 * 1000.0;
    println!(
        "{what}: n={} mean {mean:.2} ms, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        percentile(&times, 0.50),
        percentile(&times, 0.95),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that is not ours means "not me".
    if std::env::args()
        .skip(1)
        .any(|a| a != "--bench" && !a.starts_with('-') && a != "plan")
    {
        return;
    }
    let n: usize = std::env::var("ONBOARD_PLAN_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_onboard"))
        .args(["serve", "--sandbox", "--addr", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("onboard serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .trim_start_matches("onboard listening on ")
        .to_owned();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        // Three namesakes (the plan's username is the fourth candidate), and others.
        let letter = |k: usize| char::from(b'a' + u8::try_from(k % 26).unwrap_or(0));
        for i in 0..100 {
            let (first, last) = if i < 3 {
                ("Ada".to_owned(), "Lovelace".to_owned())
            } else {
                (
                    "Seed".to_owned(),
                    format!("User{}{}", letter(i / 26), letter(i)),
                )
            };
            client
                .post(format!("{base}/api/onboardings"))
                .json(&json!({"organization": "contoso", "first_name": first, "last_name": last}))
                .send()
                .await
                .expect("POST");
        }
        let form = json!({"organization": "contoso", "first_name": "Ada", "last_name": "Lovelace",
                          "licenses": ["O365_BUSINESS_PREMIUM", "SPB"],
                          "groups": ["Sales", "No Such Group"],
                          "copy_groups_from": "AlexW@contoso.com",
                          "manager_email": "AdeleV@contoso.com"});
        let mut plans = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            let res = client
                .post(format!("{base}/api/onboardings/plan"))
                .json(&form)
                .send()
                .await
                .expect("POST");
            assert_eq!(res.status(), 200);
            let plan: Value = res.json().await.expect("json");
            plans.push(started.elapsed());
            assert!(plan["user_principal_name"].is_string(), "{plan}");
        }
        report("POST /api/onboardings/plan", plans);
        for (what, path) in [
            ("GET licenses", "/api/organizations/contoso/licenses"),
            (
                "GET users?search=",
                "/api/organizations/contoso/users?search=ad",
            ),
            (
                "GET groups?search=",
                "/api/organizations/contoso/groups?search=s",
            ),
        ] {
            let mut times = Vec::with_capacity(n);
            for _ in 0..n {
                let started = Instant::now();
                let res = client
                    .get(format!("{base}{path}"))
                    .send()
                    .await
                    .expect("GET");
                assert_eq!(res.status(), 200);
                res.bytes().await.expect("body");
                times.push(started.elapsed());
            }
            report(what, times);
        }
    });
    let _ = child.kill();
    let _ = child.wait();
}
