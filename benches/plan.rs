//! `cargo bench -p onboard --bench plan`: the latency of `POST /api/onboardings/plan`
//! and of the look-ups against `onboard serve --sandbox` (target for the plan: under
//! 50 ms), one request at a time over a real socket, as the console's form asks.
//!
//! The plan's body is a full form: two licenses (one without a free seat), two
//! groups (one missing), a copy-from user and a manager, so every directory read
//! of the plan is made. A hundred users are onboarded first (three of them namesakes) so the
//! collision check reads a tenant that is not empty and tries four candidates. `ONBOARD_PLAN_N` (default 300) sets the count.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::time::Instant;

use serde_json::{Value, json};

use common::{Server, env_usize, not_me, report};

fn main() {
    if not_me("plan") {
        return;
    }
    let n = env_usize("ONBOARD_PLAN_N", 300);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let base = server.base.clone();

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
}
