//! Issue 15's exactly-once suite: every simulator performs writes and loses
//! the answers, the server is killed with -9 amid each batch, and the
//! simulators' own state (`GET /sandbox/state`) is counted afterwards.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, settle_all, spawn_app, spawn_app_with, submit_through_a_kill};

/// Every simulator whose writes Onboard makes.
const SERVICES: [&str; 8] = [
    "graph",
    "connectwise",
    "autotask",
    "halopsa",
    "itglue",
    "hudu",
    "pwpush",
    "pax8",
];

/// The organizations under test: one per PSA, each with its own password
/// vault, all on the demo tenant (contoso.com) and its Pax8 company.
const ORGS: [(&str, &str); 3] = [
    (
        "contoso-cw",
        r#"default_psa = "connectwise"
ticket_status_workflow_complete = "Completed"
ticket_status_waiting_input = "Waiting Customer"
default_priority = "Priority 3 - Normal Response"
onboarding_password_save_location = "itglue""#,
    ),
    (
        "contoso-at",
        r#"default_psa = "autotask"
ticket_status_workflow_complete = "Complete"
ticket_status_waiting_input = "Waiting Customer"
default_priority = "Medium"
onboarding_password_save_location = "hudu""#,
    ),
    (
        "contoso-halo",
        r#"default_psa = "halopsa"
ticket_status_workflow_complete = "Closed"
ticket_status_waiting_input = "Waiting on User"
default_priority = "Medium"
onboarding_password_save_location = "pwpush""#,
    ),
];

/// A server whose every connector points at `sandbox`'s simulators (another
/// process, so the tenant, the tickets and the vaults outlive a kill -9).
async fn spawn_against_every_simulator(sandbox: &TestApp) -> TestApp {
    let b = &sandbox.base;
    let mut config = format!(
        r#"
[variables]
time_zone = "UTC"
default_ticket_location = "Service Desk"
default_ticket_status = "In Progress"
send_from_address = "onboarding@msp.example"
store_password_in_ticket = 0
microsoft_licensing_distributor = "pax8"
offboarding_reduce_distributor_seats = 1

[connectors.graph]
authority = "{b}/sandbox/graph/login"
graph_url = "{b}/sandbox/graph/v1.0"

[connectors.connectwise]
base_url = "{b}/sandbox/connectwise/v4_6_release/apis/3.0"

[connectors.autotask]
zone_url = "{b}/sandbox/autotask/atservicesrest/"

[connectors.halopsa]
base_url = "{b}/sandbox/halopsa"

[connectors.itglue]
base_url = "{b}/sandbox/itglue"

[connectors.hudu]
base_url = "{b}/sandbox/hudu"

[connectors.pwpush]
base_url = "{b}/sandbox/pwpush"

[connectors.pax8]
token_url = "{b}/sandbox/pax8/oauth/token"
api_base = "{b}/sandbox/pax8/v1"
"#
    );
    for (id, variables) in ORGS {
        config.push_str(&format!(
            "\n[organizations.{id}]\nname = \"Contoso\"\ndomain = \"contoso.com\"\n\n[organizations.{id}.variables]\n{variables}\n"
        ));
    }
    spawn_app_with(&config).await
}

fn items<'a>(state: &'a Value, service: &str, kind: &str) -> &'a [Value] {
    state[service][kind].as_array().map_or(&[], Vec::as_slice)
}

/// The tickets of `psa` created since `before`, each checked for a note made twice;
/// answers how many tickets and notes there are.
fn tickets_since(before: &Value, after: &Value, psa: &str, text: &str) -> (usize, usize) {
    let old: HashSet<String> = items(before, psa, "tickets")
        .iter()
        .map(|t| t["id"].to_string())
        .collect();
    let mut tickets = 0;
    let mut notes = 0;
    for ticket in items(after, psa, "tickets") {
        if old.contains(&ticket["id"].to_string()) {
            continue;
        }
        tickets += 1;
        let mut seen = HashSet::new();
        for note in ticket["notes"].as_array().into_iter().flatten() {
            let body = note[text].as_str().unwrap_or_default().to_owned();
            assert!(
                seen.insert(body.clone()),
                "{psa}: duplicate note on ticket {}: {body}",
                ticket["id"]
            );
            notes += 1;
        }
    }
    (tickets, notes)
}

/// The demo's Pax8 product for Business Premium (`SPB`).
const SPB_PRODUCT: &str = "b2e4d6f8-1c3e-4a5b-9d0f-2c4e6a8b0d1f";

fn spb_quantity(state: &Value) -> u64 {
    items(state, "pax8", "subscriptions")
        .iter()
        .filter(|s| s["productId"] == SPB_PRODUCT)
        .filter(|s| s["status"] != "Cancelled")
        .map(|s| s["quantity"].as_u64().unwrap_or_default())
        .sum()
}

#[tokio::test]
async fn fifty_onboardings_and_twenty_offboardings_through_kills_and_lost_answers_on_every_service_duplicate_nothing()
 {
    let sandbox = spawn_app().await;
    let mut app = spawn_against_every_simulator(&sandbox).await;
    let before = sandbox.get_json("/sandbox/state").await;
    for service in SERVICES {
        // The vaults and Pax8 see a write or two per run, Graph and the PSAs
        // dozens: a higher rate makes sure each of them loses some answers.
        let rate = if matches!(service, "graph" | "connectwise" | "autotask" | "halopsa") {
            0.1
        } else {
            0.4
        };
        sandbox
            .faults(
                service,
                json!({"lost_answer_rate": rate, "throttle_rate": 0.02, "retry_after_seconds": 0, "seed": 5}),
            )
            .await;
    }

    let name = |i: usize| {
        let letter = |n: usize| char::from(b'a' + u8::try_from(n).unwrap());
        format!("L{}{}", letter(i / 26), letter(i % 26))
    };
    let org = |i: usize| ORGS[i % ORGS.len()].0;
    // Every fifth needs a Business Premium seat, which the tenant has none of:
    // bought through Pax8 (a quantity rise under the seat lease).
    let buys = |i: usize| i.is_multiple_of(5);
    let onboardings: Vec<(String, Value)> = (0..50)
        .map(|i| {
            let mut form = json!({"organization": org(i), "first_name": "Lost", "last_name": name(i),
                                  "groups": ["All Staff"]});
            if buys(i) {
                form["licenses"] = json!(["SPB"]);
                form["license_purchase"] = json!("auto");
            }
            (format!("lost-on-{i}"), form)
        })
        .collect();
    let ids = submit_through_a_kill(&mut app, "/api/onboardings", &onboardings, 10).await;
    settle_all(&[&app, &sandbox], "onboardings", &ids, "completed").await;

    let mut upns = Vec::new();
    for id in ids.iter().take(20) {
        upns.push(
            app.onboarding(id).await["user_principal_name"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let offboardings: Vec<(String, Value)> = upns
        .iter()
        .enumerate()
        .map(|(i, upn)| {
            (
                format!("lost-off-{i}"),
                json!({"organization": org(i), "user_principal_name": upn}),
            )
        })
        .collect();
    let off_ids = submit_through_a_kill(&mut app, "/api/offboardings", &offboardings, 5).await;
    settle_all(&[&app, &sandbox], "offboardings", &off_ids, "completed").await;

    let after = sandbox.get_json("/sandbox/state").await;
    // Graph: one user per onboarding, the offboarded ones disabled.
    let users = items(&after, "graph", "users");
    for i in 0..50 {
        let n = users
            .iter()
            .filter(|u| u["displayName"] == format!("Lost {}", name(i)))
            .count();
        assert_eq!(n, 1, "Lost {} exists {n} times", name(i));
    }
    for upn in &upns {
        let user = users
            .iter()
            .find(|u| u["userPrincipalName"] == upn.as_str())
            .unwrap();
        assert_eq!(user["accountEnabled"], false, "{upn} was offboarded");
    }

    // Each PSA: one ticket per run of its organization, no note twice.
    let runs = |n: usize, k: usize| (0..n).filter(|i| i % ORGS.len() == k).count();
    let mut counts = Vec::new();
    for (k, (psa, text)) in [
        ("connectwise", "text"),
        ("autotask", "description"),
        ("halopsa", "note"),
    ]
    .into_iter()
    .enumerate()
    {
        let (tickets, notes) = tickets_since(&before, &after, psa, text);
        assert_eq!(
            tickets,
            runs(50, k) + runs(20, k),
            "{psa}: one ticket per onboarding and offboarding"
        );
        assert!(
            notes >= tickets * 2,
            "{psa}: {notes} notes on {tickets} tickets"
        );
        counts.push(format!("{psa} {tickets} tickets/{notes} notes"));
    }

    // Each vault: one entry per onboarding of its organization (for Password
    // Pusher, one live link: a retried step's fresh password expires the old one).
    let live = |e: &&Value| e["expired"] != true && e["deleted"] != true;
    for (k, (service, kind, label)) in [
        ("itglue", "passwords", "/attributes/name"),
        ("hudu", "asset_passwords", "/name"),
        ("pwpush", "pushes", "/name"),
    ]
    .into_iter()
    .enumerate()
    {
        let count = |state: &Value| items(state, service, kind).iter().filter(live).count();
        let new = count(&after) - count(&before);
        assert_eq!(
            new,
            runs(50, k),
            "{service}: one {kind} entry per onboarding"
        );
        let labels: Vec<String> = items(&after, service, kind)
            .iter()
            .filter(live)
            .filter_map(|e| e.pointer(label).and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        let unique: HashSet<&String> = labels.iter().collect();
        assert_eq!(
            unique.len(),
            labels.len(),
            "{service}: an entry made twice: {labels:?}"
        );
        counts.push(format!("{service} {new} entries"));
    }

    // Pax8: no new order (the subscription exists), its quantity raised once per
    // purchase and lowered once per offboarded buyer (the seeded subscription has
    // no commitment term, so every decrease is allowed).
    assert_eq!(
        items(&after, "pax8", "orders").len(),
        items(&before, "pax8", "orders").len(),
        "pax8: a quantity rise, never an order"
    );
    let bought = (0..50).filter(|i| buys(*i)).count() as u64;
    let given_back = (0..20).filter(|i| buys(*i)).count() as u64;
    assert_eq!(
        spb_quantity(&after),
        spb_quantity(&before) + bought - given_back,
        "pax8: SPB seats"
    );
    counts.push(format!(
        "pax8 SPB {} -> {}",
        spb_quantity(&before),
        spb_quantity(&after)
    ));
    let lost: Vec<String> = SERVICES
        .iter()
        .map(|s| format!("{s} {}", after["faults"][s]["lost_answers"]))
        .collect();
    assert!(
        SERVICES
            .iter()
            .all(|s| after["faults"][s]["lost_answers"].as_u64() > Some(0)),
        "every service lost answers: {lost:?}"
    );
    eprintln!(
        "exactly once: {}; answers lost: {}",
        counts.join(", "),
        lost.join(", ")
    );
}
