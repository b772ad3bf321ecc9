//! Sherweb end to end (issue 19): an organization mapped to `sherweb` buys a
//! missing seat once through the Sherweb simulator, with lost answers, and an
//! offboarding gives it back within the 168-hour window and keeps it after.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_logged, spawn_app_with};
use crate::workflow::config;

fn sherweb_config() -> String {
    config(
        "auto_purchase_license_if_none_available = 1\nmicrosoft_licensing_distributor = \"sherweb\"",
    )
}

/// The Sherweb simulator's part of `GET /sandbox/state`.
async fn sherweb(app: &TestApp) -> Value {
    app.get_json("/sandbox/state").await["sherweb"].clone()
}

fn orders(state: &Value) -> usize {
    state["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter(|r| r["type"] == "Order")
        .count()
}

fn spb_quantity(state: &Value) -> Option<u64> {
    state["subscriptions"]
        .as_array()?
        .iter()
        .find(|s| s["sku"] == "SPB")?["quantity"]
        .as_u64()
}

/// Onboards one user with `SPB` (no free seat in the demo tenant) and waits
/// for the purchase to complete; answers the user's UPN.
async fn onboard_with_purchase(app: &TestApp, last_name: &str) -> String {
    let id = app
        .onboard(
            json!({"organization": "contoso", "first_name": "Sam", "last_name": last_name,
                        "licenses": ["SPB"]}),
        )
        .await;
    for _ in 0..30 {
        if app.status(&id).await == "completed" {
            break;
        }
        app.advance(60).await;
    }
    let rec = app.onboarding(&id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert_eq!(rec["license_outcome"], "purchased", "{rec}");
    rec["user_principal_name"].as_str().expect("upn").to_owned()
}

async fn offboard_and_settle(app: &TestApp, upn: &str) -> Value {
    let res = app
        .client
        .post(app.url("/api/offboardings"))
        .json(
            &json!({"organization": "contoso", "user_principal_name": upn,
                      "actions": {"reduce_distributor_seats": true}}),
        )
        .send()
        .await
        .expect("POST /api/offboardings");
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for _ in 0..30 {
        let rec = app.get_json(&format!("/api/offboardings/{id}")).await;
        if rec["status"] != "running" {
            return rec;
        }
        app.advance(300).await;
    }
    app.get_json(&format!("/api/offboardings/{id}")).await
}

#[tokio::test]
async fn a_sherweb_organization_buys_a_missing_seat_once_with_lost_answers_and_gives_it_back_within_the_window()
 {
    let app = spawn_app_logged(Some(&sherweb_config())).await;
    app.faults(
        "sherweb",
        json!({"lost_answer_rate": 0.5, "retry_after_seconds": 0, "seed": 11}),
    )
    .await;

    let upn = onboard_with_purchase(&app, "Sherweb").await;
    app.faults("sherweb", json!({})).await;
    let lost = app
        .log()
        .lines()
        .filter(|l| l.contains("losing its answer") && l.contains("sherweb"))
        .count();
    assert!(
        lost >= 1,
        "no Sherweb answer was lost; the test proves nothing"
    );

    let state = sherweb(&app).await;
    assert_eq!(orders(&state), 1, "one order: {state}");
    assert_eq!(spb_quantity(&state), Some(1), "{state}");

    let rec = offboard_and_settle(&app, &upn).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let state = sherweb(&app).await;
    assert_eq!(
        spb_quantity(&state),
        Some(0),
        "lowered within the window: {state}"
    );
    assert_eq!(orders(&state), 1, "{state}");
}

#[tokio::test]
async fn after_the_168_hour_window_the_sherweb_seat_is_kept_and_the_ticket_says_why() {
    let app = spawn_app_with(&sherweb_config()).await;
    let upn = onboard_with_purchase(&app, "Later").await;
    // Eight days later: the annual commitment no longer allows a decrease.
    app.advance(8 * 86_400).await;

    let rec = offboard_and_settle(&app, &upn).await;

    assert_eq!(rec["status"], "completed", "{rec}");
    let state = sherweb(&app).await;
    assert_eq!(spb_quantity(&state), Some(1), "kept: {state}");
    let ticket = rec["ticket_id"].as_str().expect("ticket");
    let notes = app.cw_notes(ticket).await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("kept 1 seat of SPB") && n.contains("sherweb cannot schedule it")),
        "{notes:#?}"
    );
}

#[tokio::test]
async fn an_ingram_micro_organization_takes_the_manual_path_and_the_note_says_why() {
    let app = spawn_app_with(&config(
        "auto_purchase_license_if_none_available = 1\nmicrosoft_licensing_distributor = \"ingram_micro\"",
    ))
    .await;

    let id = app
        .onboard(
            json!({"organization": "contoso", "first_name": "Ingrid", "last_name": "Manual",
                        "licenses": ["SPB"]}),
        )
        .await;

    assert_eq!(app.status(&id).await, "waiting_license_purchase");
    let rec = app.onboarding(&id).await;
    let ticket = rec["ticket_id"].as_str().expect("ticket");
    let notes = app.cw_notes(ticket).await;
    assert!(
        notes.iter().any(|n| n.contains(
            "Ingram Micro has no public API Onboard can use; buy the seat in the Ingram Micro Cloud Marketplace, then Confirm"
        )),
        "{notes:#?}"
    );
    let state = sherweb(&app).await;
    assert_eq!(orders(&state), 0, "nothing ordered anywhere: {state}");
}
