//! The onboarding workflow end to end: the "Done when" list of issue 8.

use serde_json::{Value, json};

use crate::helpers::{TestApp, settle_all, spawn_app, spawn_app_with};

/// Business Standard (3 free seats in the demo tenant).
const STANDARD: &str = "f245ecc8-75af-4f8e-b61f-27d8114de5f3";
/// Business Premium (no free seat in the demo tenant).
const PREMIUM: &str = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46";

/// The embedded defaults' MSP-wide variables (their ConnectWise names), as the
/// lines of a `[variables]` table.
pub(crate) const MSP_VARIABLES: &str = r#"time_zone = "UTC"
default_psa = "connectwise"
default_ticket_location = "Service Desk"
default_ticket_status = "In Progress"
ticket_status_waiting_input = "Waiting Customer"
ticket_status_workflow_complete = "Completed"
default_priority = "Priority 3 - Normal Response"
send_from_address = "onboarding@msp.example""#;

/// The embedded defaults' ConnectWise names, an approver, and `org_variables` for
/// Contoso (the demo tenant, contoso.com).
pub(crate) fn config(org_variables: &str) -> String {
    format!(
        r#"
[variables]
{MSP_VARIABLES}
new_user_approval_email = "approvals@contoso.com"

[organizations.contoso]
name = "Contoso"
domain = "contoso.com"

[organizations.contoso.variables]
{org_variables}
"#
    )
}

async fn group_names(app: &TestApp, user_id: &str) -> Vec<String> {
    app.graph(&format!("/users/{user_id}/memberOf")).await["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|g| g["displayName"].as_str().map(str::to_owned))
        .collect()
}

fn has_license(user: &Value, sku: &str) -> bool {
    user["assignedLicenses"]
        .as_array()
        .is_some_and(|l| l.iter().any(|x| x["skuId"] == sku))
}

#[tokio::test]
async fn no_approval_no_delay_license_free_completes_with_everything_in_place() {
    let app = spawn_app().await;
    let id = app
        .onboard(json!({
            "organization": "contoso",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "job_title": "Analyst",
            "manager_email": "AdeleV@contoso.com",
            "licenses": ["O365_BUSINESS_PREMIUM"],
            "groups": ["All Staff", "Sales"],
            "send_credentials_to": "email"
        }))
        .await;

    let rec = app.onboarding(&id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert_eq!(rec["license_outcome"], "assigned", "{rec}");
    assert_eq!(rec["organization"], "contoso");
    let upn = rec["user_principal_name"].as_str().unwrap().to_owned();
    assert_eq!(upn.to_ascii_lowercase(), "alovelace@contoso.com");
    for k in ["id", "ticket_id", "timeline"] {
        assert!(!rec[k].is_null(), "{k} missing: {rec}");
    }
    let timeline = rec["timeline"].as_array().unwrap();
    assert!(timeline.len() >= 5, "{rec}");
    for e in timeline {
        assert!(e["at"].is_string() && e["step"].is_string() && e["message"].is_string());
    }

    // The user, once, with its license and groups.
    let users = app.users_named("alovelace").await;
    assert_eq!(users.len(), 1, "{users:?}");
    let user = &users[0];
    assert!(has_license(user, STANDARD), "{user}");
    let groups = group_names(&app, user["id"].as_str().unwrap()).await;
    assert!(
        groups.contains(&"All Staff".to_owned()) && groups.contains(&"Sales".to_owned()),
        "{groups:?}"
    );

    // The ticket: created, noted at each step, completed.
    let ticket = rec["ticket_id"].as_str().unwrap();
    let notes = app.cw_notes(ticket).await;
    assert!(notes.len() >= 4, "{notes:?}");
    let pos = |needle: &str| {
        notes
            .iter()
            .position(|n| n.to_ascii_lowercase().contains(needle))
            .unwrap_or_else(|| panic!("no note mentions {needle:?}: {notes:#?}"))
    };
    assert!(
        pos("alovelace@contoso.com") < pos("all staff"),
        "{notes:#?}"
    );
    let t = app.cw_ticket(ticket).await;
    assert_eq!(t["status"]["name"], "Completed", "{t}");

    // The credentials: in the ticket (store_password_in_ticket = 1 by default) and
    // mailed to the manager.
    let mail: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| {
            m["to"].as_array().is_some_and(|to| {
                to.iter().any(|t| {
                    t.as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case("AdeleV@contoso.com"))
                })
            })
        })
        .collect();
    assert!(!mail.is_empty(), "no mail to the manager");
    assert!(
        mail.iter().any(|m| m["body"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase()
            .contains("alovelace@contoso.com")),
        "{mail:?}"
    );
}

#[tokio::test]
async fn an_approved_request_creates_the_user_and_links_are_single_use_and_signed() {
    let app = spawn_app_with(&config("require_approval_for_new_users = 1")).await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Grace", "last_name": "Hopper"}))
        .await;
    assert_eq!(app.status(&id).await, "pending_approval");
    assert!(
        app.users_named("ghopper").await.is_empty(),
        "created before approval"
    );

    let approve = app
        .outbox_link("approve")
        .await
        .expect("an approve link in the mail");
    assert!(app.outbox_link("deny").await.is_some());

    // GET shows a confirmation page and decides nothing.
    let page = app.client.get(&approve).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Grace Hopper") && html.contains("method=\"post\""),
        "{html}"
    );
    assert_eq!(app.status(&id).await, "pending_approval");

    // A tampered signature and an unknown decision.
    let tampered = approve.replace("sig=", "sig=x");
    assert_eq!(app.post_link(&tampered).await.status(), 403);
    let (head, tail) = approve.split_once("/decisions/").unwrap();
    let unknown_id = format!(
        "{head}/decisions/AAAAAAAAAAAAAAAAAAAAAA{}",
        &tail[tail.find('?').unwrap()..]
    );
    assert!(matches!(
        app.post_link(&unknown_id).await.status().as_u16(),
        403 | 404
    ));

    let res = app.post_link(&approve).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.status(&id).await, "completed");
    assert_eq!(app.users_named("ghopper").await.len(), 1);

    // A second click: 409, saying who decided and when.
    let again = app.post_link(&approve).await;
    assert_eq!(again.status(), 409);
    let text = again.text().await.unwrap();
    assert!(text.contains("approved"), "{text}");
    assert!(
        text.contains("approvals@contoso.com"),
        "who decided: {text}"
    );
    let deny = app.outbox_link("deny").await.unwrap();
    assert_eq!(app.post_link(&deny).await.status(), 409);
}

#[tokio::test]
async fn a_denied_request_creates_no_user() {
    let app = spawn_app_with(&config("require_approval_for_new_users = 1")).await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Dennis", "last_name": "Denied"}))
        .await;
    let deny = app.outbox_link("deny").await.expect("a deny link");
    assert_eq!(app.post_link(&deny).await.status(), 200);
    assert_eq!(app.status(&id).await, "denied");
    assert!(app.users_named("ddenied").await.is_empty());
}

#[tokio::test]
async fn an_approval_nobody_gives_times_out_creates_no_user_and_its_link_expires() {
    let app = spawn_app_with(&config(
        "require_approval_for_new_users = 1\napproval_timeout_hours = 24",
    ))
    .await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Tim", "last_name": "Eout"}))
        .await;
    let approve = app.outbox_link("approve").await.unwrap();
    app.advance(23 * 3600).await;
    assert_eq!(app.status(&id).await, "pending_approval");
    app.advance(2 * 3600).await;
    assert_eq!(app.status(&id).await, "approval_timed_out");
    assert!(app.users_named("teout").await.is_empty());
    assert_eq!(app.post_link(&approve).await.status(), 410);
}

#[tokio::test]
async fn a_start_date_ten_days_ahead_creates_nothing_until_the_clock_passes_it() {
    let app = spawn_app_with(&config("allow_scheduled_user_creation = 1")).await;
    let now: jiff::Timestamp = app.get_json("/sandbox/clock").await["now"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let start = now
        .checked_add(jiff::SignedDuration::from_hours(24 * 10))
        .unwrap();
    let id = app
        .onboard(
            json!({"organization": "contoso", "first_name": "Fu", "last_name": "Ture",
                        "start_date": start.to_string()}),
        )
        .await;
    assert_eq!(app.status(&id).await, "scheduled");
    app.advance(9 * 24 * 3600).await;
    assert_eq!(app.status(&id).await, "scheduled");
    assert!(app.users_named("fture").await.is_empty());
    app.advance(2 * 24 * 3600).await;
    assert_eq!(app.status(&id).await, "completed");
    assert_eq!(app.users_named("fture").await.len(), 1);
}

#[tokio::test]
async fn no_free_seat_with_auto_purchase_buys_one_seat_once_and_assigns_it() {
    let app = spawn_app_with(&config(
        "auto_purchase_license_if_none_available = 1\nmicrosoft_licensing_distributor = \"pax8\"",
    ))
    .await;
    let id = app
        .onboard(
            json!({"organization": "contoso", "first_name": "Pat", "last_name": "Purchase",
                        "licenses": ["SPB"]}),
        )
        .await;
    // Pax8 provisions after a delay; the workflow waits on the clock.
    for _ in 0..20 {
        if app.status(&id).await == "completed" {
            break;
        }
        app.advance(60).await;
    }
    let rec = app.onboarding(&id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert_eq!(rec["license_outcome"], "purchased", "{rec}");
    let users = app.users_named("ppurchase").await;
    assert!(has_license(&users[0], PREMIUM));
    let skus = app.graph("/subscribedSkus").await;
    let spb = skus["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuPartNumber"] == "SPB")
        .cloned()
        .unwrap();
    assert_eq!(spb["prepaidUnits"]["enabled"], 3, "one seat bought: {spb}");
}

async fn manual_purchase(org_variables: &str, form_extra: Value) -> (TestApp, String) {
    let app = spawn_app_with(&config(org_variables)).await;
    let mut form = json!({"organization": "contoso", "first_name": "Manny", "last_name": "Ual",
                          "licenses": ["SPB"]});
    if let (Some(f), Some(extra)) = (form.as_object_mut(), form_extra.as_object()) {
        f.extend(extra.clone());
    }
    let id = app.onboard(form).await;
    assert_eq!(app.status(&id).await, "waiting_license_purchase");
    (app, id)
}

async fn ticket_link(app: &TestApp, id: &str, action: &str) -> String {
    let rec = app.onboarding(id).await;
    let ticket = rec["ticket_id"].as_str().expect("ticket").to_owned();
    app.cw_notes(&ticket)
        .await
        .iter()
        .flat_map(|n| TestApp::links_in(n))
        .find(|l| l.contains(&format!("action={action}")))
        .unwrap_or_else(|| panic!("no {action} link on the ticket"))
}

#[tokio::test]
async fn with_auto_purchase_off_a_rejected_purchase_goes_on_without_a_license() {
    let (app, id) = manual_purchase("auto_purchase_license_if_none_available = 0", json!({})).await;
    let reject = ticket_link(&app, &id, "reject").await;
    assert_eq!(app.post_link(&reject).await.status(), 200);
    let rec = app.onboarding(&id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert_eq!(rec["license_outcome"], "purchase_rejected");
    let users = app.users_named("mual").await;
    assert_eq!(users.len(), 1);
    assert!(!has_license(&users[0], PREMIUM));
}

#[tokio::test]
async fn with_the_organization_not_mapped_nobody_confirming_for_24_hours_times_out() {
    // auto-purchase on, but no distributor mapped: the manual path.
    let (app, id) = manual_purchase("auto_purchase_license_if_none_available = 1", json!({})).await;
    app.advance(23 * 3600).await;
    assert_eq!(app.status(&id).await, "waiting_license_purchase");
    app.advance(2 * 3600).await;
    let rec = app.onboarding(&id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert_eq!(rec["license_outcome"], "purchase_timed_out");
    let ticket = rec["ticket_id"].as_str().unwrap();
    let notes = app.cw_notes(ticket).await.join("\n").to_ascii_lowercase();
    assert!(
        notes.contains("24") || notes.contains("timed out") || notes.contains("no decision"),
        "{notes}"
    );
}

#[tokio::test]
async fn license_purchase_manual_confirmed_assigns_the_license() {
    let (app, id) = manual_purchase(
        "auto_purchase_license_if_none_available = 1\nmicrosoft_licensing_distributor = \"pax8\"",
        json!({"license_purchase": "manual"}),
    )
    .await;
    // The technician buys the seat at Pax8, then confirms; the seat reaches the
    // tenant after Pax8's provisioning delay and the workflow assigns it.
    app.pax8_buy_premium_seat().await;
    let confirm = ticket_link(&app, &id, "confirm").await;
    assert_eq!(app.post_link(&confirm).await.status(), 200);
    for _ in 0..30 {
        let s = app.status(&id).await;
        if s != "running" && s != "waiting_license_purchase" {
            break;
        }
        app.advance(60).await;
    }
    let rec = app.onboarding(&id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert_eq!(rec["license_outcome"], "purchase_confirmed", "{rec}");
    assert!(has_license(&app.users_named("mual").await[0], PREMIUM));
}

#[tokio::test]
async fn a_username_taken_by_a_user_or_an_alias_gets_the_next_candidate() {
    let app = spawn_app_with(&config("username_format = \"first.last\"")).await;
    // adele.vance@contoso.com is an alias (proxy address) of AdeleV.
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Adele", "last_name": "Vance"}))
        .await;
    let rec = app.onboarding(&id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let upn = rec["user_principal_name"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert_ne!(upn, "adele.vance@contoso.com");
    assert!(
        upn.starts_with("adele.vance") || upn.starts_with("adele"),
        "{upn}"
    );

    // The same name twice: the second user gets another name.
    let first = app
        .onboard(json!({"organization": "contoso", "first_name": "Sam", "last_name": "Same"}))
        .await;
    let second = app
        .onboard(json!({"organization": "contoso", "first_name": "Sam", "last_name": "Same"}))
        .await;
    let a = app.onboarding(&first).await["user_principal_name"].clone();
    let b = app.onboarding(&second).await["user_principal_name"].clone();
    assert_eq!(
        a.as_str().unwrap().to_ascii_lowercase(),
        "sam.same@contoso.com"
    );
    assert_ne!(a, b);
    assert_eq!(app.users_named("sam.same").await.len(), 2);
}

#[tokio::test]
async fn a_step_failing_for_good_notes_the_ticket_sets_waiting_input_and_fails() {
    let app = spawn_app().await;
    app.faults("graph", json!({"error_rate": 1.0, "error_status": 503}))
        .await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Fay", "last_name": "Lure"}))
        .await;
    for _ in 0..30 {
        if app.status(&id).await == "failed" {
            break;
        }
        app.advance(300).await;
    }
    let rec = app.onboarding(&id).await;
    assert_eq!(rec["status"], "failed", "{rec}");
    app.faults("graph", json!({})).await;
    let ticket = rec["ticket_id"]
        .as_str()
        .expect("the ticket was opened before Graph was needed");
    let t = app.cw_ticket(ticket).await;
    assert_eq!(t["status"]["name"], "Waiting Customer", "{t}");
    let notes = app.cw_notes(ticket).await;
    assert!(
        notes
            .last()
            .is_some_and(|n| n.to_ascii_lowercase().contains("fail")),
        "{notes:#?}"
    );
    assert!(app.users_named("flure").await.is_empty());
}

/// The first names of the eight-onboarding fault tests.
const EIGHT: [&str; 8] = ["Una", "Duo", "Tria", "Quad", "Quin", "Sexa", "Sept", "Octa"];

/// Onboards the eight with `last_name`, a license and a group each, and moves the
/// clock until all have completed.
async fn onboard_eight_and_settle(app: &TestApp, last_name: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for n in EIGHT {
        ids.push(
            app.onboard(
                json!({"organization": "contoso", "first_name": n, "last_name": last_name,
                               "licenses": ["EXCHANGESTANDARD"], "groups": ["All Staff"]}),
            )
            .await,
        );
    }
    settle_all(&[app], "onboardings", &ids, "completed").await;
    ids
}

#[tokio::test]
async fn with_twenty_percent_faults_every_onboarding_completes_exactly_once() {
    let app = spawn_app().await;
    for service in ["graph", "connectwise", "pax8", "itglue", "hudu", "pwpush"] {
        app.faults(
            service,
            json!({"throttle_rate": 0.1, "error_rate": 0.1, "retry_after_seconds": 0, "seed": 7}),
        )
        .await;
    }
    let names = EIGHT;
    let ids = onboard_eight_and_settle(&app, "Faulty").await;
    app.faults("graph", json!({})).await;
    app.faults("connectwise", json!({})).await;
    let users = app.users().await;
    let tickets = app.cw_tickets().await;
    for n in names {
        let prefix = format!("{}faulty", n.to_ascii_lowercase().chars().next().unwrap());
        let mine: Vec<&Value> = users
            .iter()
            .filter(|u| u["displayName"] == format!("{n} Faulty"))
            .collect();
        assert_eq!(mine.len(), 1, "{n}: {mine:?} ({prefix})");
    }
    // One ticket per onboarding (plus the seeded one), and no note twice.
    assert_eq!(tickets.len(), ids.len() + 1, "{tickets:?}");
    for id in &ids {
        let ticket = app.onboarding(id).await["ticket_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let notes = app.cw_notes(&ticket).await;
        let mut seen = std::collections::HashSet::new();
        for n in &notes {
            assert!(seen.insert(n.clone()), "duplicate note on {ticket}: {n}");
        }
    }
}

#[tokio::test]
async fn with_lost_answers_every_onboarding_completes_exactly_once() {
    // Issue 15: the simulators perform writes and lose their answers; no blind
    // resend may make a second user, ticket or note.
    let app = spawn_app().await;
    for service in ["graph", "connectwise", "pax8", "itglue", "hudu", "pwpush"] {
        app.faults(
            service,
            json!({"lost_answer_rate": 0.2, "throttle_rate": 0.05, "retry_after_seconds": 0, "seed": 11}),
        )
        .await;
    }
    let names = EIGHT;
    let ids = onboard_eight_and_settle(&app, "Lost").await;
    let state = app.get_json("/sandbox/state").await;
    assert!(
        state["graph"]["users"].as_array().unwrap().len() > names.len(),
        "the state lists the tenant"
    );
    for n in names {
        let mine = state["graph"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["displayName"] == format!("{n} Lost"))
            .count();
        assert_eq!(mine, 1, "{n}: users");
    }
    let tickets = state["connectwise"]["tickets"].as_array().unwrap();
    assert_eq!(
        tickets.len(),
        ids.len() + 1,
        "one ticket each, and the seeded one"
    );
    for ticket in tickets {
        let mut seen = std::collections::HashSet::new();
        for note in ticket["notes"].as_array().unwrap() {
            let text = note["text"].as_str().unwrap_or_default().to_owned();
            assert!(
                seen.insert(text.clone()),
                "duplicate note on {}: {text}",
                ticket["id"]
            );
        }
    }
}

#[tokio::test]
async fn killed_with_minus_nine_amid_fifty_onboardings_each_finishes_exactly_once() {
    let sandbox = spawn_app().await;
    let mut app = crate::helpers::spawn_app_against(&sandbox, "").await;
    let name = |i: usize| {
        let letter = |n: usize| char::from(b'a' + u8::try_from(n).unwrap());
        format!("K{}{}", letter(i / 26), letter(i % 26))
    };
    let form = |i: usize| {
        // Distinct names: same-base usernames created at the same instant are the
        // username test's business, not this one's.
        json!({"organization": "contoso", "first_name": "Crash", "last_name": name(i),
               "groups": ["All Staff"]})
    };
    // 50 forms at once; kill the server once ten have been answered.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..50 {
        let client = app.client.clone();
        let url = app.url("/api/onboardings");
        let tx = tx.clone();
        let body = form(i);
        tokio::spawn(async move {
            let res = client
                .post(url)
                .header("Idempotency-Key", format!("crash-{i}"))
                .json(&body)
                .send()
                .await;
            let _ = tx.send(res.map(|r| r.status().as_u16()).ok());
        });
    }
    drop(tx);
    let mut answered = 0;
    while let Some(r) = rx.recv().await {
        if r == Some(202) {
            answered += 1;
        }
        if answered == 10 {
            break;
        }
    }
    app.kill9();
    app.restart();

    // The client retries every form with its key: replayed or accepted now.
    let mut ids = Vec::new();
    for i in 0..50 {
        let res = app
            .post_onboarding_with_key(&form(i), &format!("crash-{i}"))
            .await;
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    for _ in 0..40 {
        let mut open = 0;
        for id in &ids {
            if app.status(id).await != "completed" {
                open += 1;
            }
        }
        if open == 0 {
            break;
        }
        app.advance(60).await;
    }
    for id in &ids {
        assert_eq!(
            app.status(id).await,
            "completed",
            "{}",
            app.onboarding(id).await
        );
    }
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 50);
    let users = sandbox.users().await;
    for i in 0..50 {
        let n = users
            .iter()
            .filter(|u| u["displayName"] == format!("Crash {}", name(i)))
            .count();
        assert_eq!(n, 1, "Crash {} created {n} times", name(i));
    }
    let tickets = sandbox.cw_tickets().await;
    assert_eq!(
        tickets.len(),
        51,
        "one ticket per onboarding, plus the seeded one"
    );
}

#[tokio::test]
async fn a_restart_keeps_waiting_executions_their_timers_and_their_links() {
    // The simulators run in another process, so the tenant and the tickets outlive
    // the restarts of the server under test.
    let sandbox = spawn_app().await;
    let mut app = crate::helpers::spawn_app_against(
        &sandbox,
        "require_approval_for_new_users = 1\nallow_scheduled_user_creation = 1\nnew_user_approval_email = \"approvals@contoso.com\"",
    )
    .await;
    let now: jiff::Timestamp = app.get_json("/sandbox/clock").await["now"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let start = now
        .checked_add(jiff::SignedDuration::from_hours(48))
        .unwrap();
    let id = app
        .onboard(
            json!({"organization": "contoso", "first_name": "Res", "last_name": "Tart",
                        "start_date": start.to_string()}),
        )
        .await;
    let approve = app.outbox_link("approve").await.unwrap();
    app.restart();
    // The virtual clock went on from where it was, not from the wall clock.
    let after: jiff::Timestamp = app.get_json("/sandbox/clock").await["now"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after >= now && after < start);
    assert_eq!(app.post_link(&approve).await.status(), 200);
    assert_eq!(app.status(&id).await, "scheduled");
    app.restart();
    app.advance(49 * 3600).await;
    assert_eq!(app.status(&id).await, "completed");
    assert_eq!(sandbox.users_named("rtart").await.len(), 1);
}

#[tokio::test]
async fn approvers_are_reminded_while_nobody_decides() {
    let app = spawn_app_with(&config(
        "require_approval_for_new_users = 1\napproval_timeout_hours = 72\napproval_reminder_hours = 24",
    ))
    .await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Remi", "last_name": "Nder"}))
        .await;
    let to_approvers = |mail: &[Value]| {
        mail.iter()
            .filter(|m| m["to"].to_string().contains("approvals@contoso.com"))
            .count()
    };
    assert_eq!(to_approvers(&app.outbox().await), 1);
    app.advance(25 * 3600).await;
    assert_eq!(app.status(&id).await, "pending_approval");
    assert_eq!(
        to_approvers(&app.outbox().await),
        2,
        "one reminder after a day"
    );
}

#[tokio::test]
async fn finished_executions_are_purged_after_90_days_and_the_record_stays() {
    let mut app = spawn_app().await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Ida", "last_name": "Purge"}))
        .await;
    assert_eq!(app.status(&id).await, "completed");
    app.kill9();
    assert_eq!(app.executions_on_disk().await, (1, 0));

    // 89 days on: still kept (Step Functions keeps Standard executions 90 days).
    app.restart();
    app.advance(89 * 86_400).await;
    app.kill9();
    assert_eq!(app.executions_on_disk().await, (1, 0));

    app.restart();
    app.advance(2 * 86_400).await;
    app.kill9();
    assert_eq!(app.executions_on_disk().await, (0, 0));

    // The onboarding's record and timeline are not the interpreter's to purge.
    app.restart();
    let record = app.onboarding(&id).await;
    assert_eq!(record["status"], json!("completed"), "{record}");
    assert!(!record["timeline"].as_array().unwrap().is_empty());
}
