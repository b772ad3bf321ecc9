//! A technician's actions on a waiting run (issue 17, CONTRACT.md §4): cancel, resend
//! and moving the date, over HTTP against `onboard serve` on the virtual clock, each
//! proved by the simulated tenant (`GET /sandbox/state`), the outbox and the ticket.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::workflow::config;

const DAY: u64 = 24 * 3600;

fn days_after(at: jiff::Timestamp, days: i64) -> jiff::Timestamp {
    at.checked_add(jiff::SignedDuration::from_hours(24 * days))
        .unwrap()
}

/// The Graph users of the simulated tenant whose UPN starts with `prefix`.
async fn tenant_users(app: &TestApp, prefix: &str) -> Vec<Value> {
    let state = app.get_json("/sandbox/state").await;
    state["graph"]["users"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|u| {
            u["userPrincipalName"]
                .as_str()
                .is_some_and(|n| n.to_lowercase().starts_with(prefix))
        })
        .collect()
}

async fn post(app: &TestApp, path: &str) -> (u16, Value) {
    let res = app.client.post(app.url(path)).send().await.expect("POST");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn patch(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .client
        .patch(app.url(path))
        .json(&body)
        .send()
        .await
        .expect("PATCH");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn scheduled_onboarding(app: &TestApp, last_name: &str, days: i64) -> String {
    let start = days_after(app.now().await, days);
    let id = app
        .onboard(
            json!({"organization": "contoso", "first_name": "Ada", "last_name": last_name,
                        "start_date": start.to_string()}),
        )
        .await;
    assert_eq!(app.status(&id).await, "scheduled");
    id
}

fn timeline_says(record: &Value, step: &str) -> bool {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["step"] == step)
}

#[tokio::test]
async fn a_cancelled_scheduled_onboarding_never_creates_the_user() {
    let app = spawn_app_with(&config("allow_scheduled_user_creation = 1")).await;
    let id = scheduled_onboarding(&app, "Cancelled", 3).await;

    let (status, body) = post(&app, &format!("/api/onboardings/{id}/cancel")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    assert!(timeline_says(&body, "cancel"), "{body}");
    // Again: the same answer, nothing more.
    let (again, body) = post(&app, &format!("/api/onboardings/{id}/cancel")).await;
    assert_eq!(again, 200, "{body}");

    app.advance(5 * DAY).await;
    assert_eq!(app.status(&id).await, "cancelled");
    assert!(tenant_users(&app, "acancelled").await.is_empty());
    let ticket = app.onboarding(&id).await["ticket_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let notes = app.cw_notes(&ticket).await.join("\n");
    assert!(notes.contains("cancelled"), "{notes}");
}

#[tokio::test]
async fn a_cancelled_approval_creates_no_user_and_its_link_expires() {
    let app = spawn_app_with(&config("require_approval_for_new_users = 1")).await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Ada", "last_name": "Waits"}))
        .await;
    assert_eq!(app.status(&id).await, "pending_approval");
    let approve = app.outbox_link("approve").await.unwrap();

    let (status, body) = post(&app, &format!("/api/onboardings/{id}/cancel")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    assert_eq!(app.post_link(&approve).await.status(), 410);

    app.advance(3 * DAY).await;
    assert_eq!(app.status(&id).await, "cancelled");
    assert!(tenant_users(&app, "awaits").await.is_empty());
}

#[tokio::test]
async fn a_run_that_does_not_wait_cannot_be_cancelled() {
    let app = spawn_app().await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Ada", "last_name": "Done"}))
        .await;
    assert_eq!(app.status(&id).await, "completed");
    let (status, body) = post(&app, &format!("/api/onboardings/{id}/cancel")).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("`completed`"),
        "{body}"
    );
    let (status, _) = post(&app, "/api/onboardings/nope/cancel").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn resend_mails_a_fresh_link_and_the_old_one_answers_410() {
    let app = spawn_app_with(&config("require_approval_for_new_users = 1")).await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Ada", "last_name": "Resent"}))
        .await;
    let old = app.outbox_link("approve").await.unwrap();
    let mails = app.outbox().await.len();

    let (status, body) = post(&app, &format!("/api/onboardings/{id}/resend")).await;
    assert_eq!(status, 200, "{body}");
    assert!(timeline_says(&body, "resend"), "{body}");
    assert_eq!(app.outbox().await.len(), mails + 1);
    let fresh = app.outbox_link("approve").await.unwrap();
    assert_ne!(fresh, old);

    assert_eq!(app.post_link(&old).await.status(), 410);
    assert_eq!(app.post_link(&fresh).await.status(), 200);
    assert_eq!(app.status(&id).await, "completed");
    assert_eq!(tenant_users(&app, "aresent").await.len(), 1);

    let (status, body) = post(&app, &format!("/api/onboardings/{id}/resend")).await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn an_offboardings_approval_is_sent_again_too_and_its_old_link_answers_410() {
    let app = spawn_app_with(&crate::offboarding::config(
        "require_approval_for_offboarding_users = 1\noffboarding_user_approval_email = [\"approvals@contoso.com\"]",
    ))
    .await;
    let id = crate::offboarding::offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com"}),
    )
    .await;
    let old = app.outbox_link("approve").await.unwrap();
    let mails = app.outbox().await.len();

    let (status, body) = post(&app, &format!("/api/offboardings/{id}/resend")).await;
    assert_eq!(status, 200, "{body}");
    assert!(timeline_says(&body, "resend"), "{body}");
    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), mails + 1);
    assert_eq!(
        outbox.last().unwrap()["to"],
        json!(["approvals@contoso.com"])
    );
    let fresh = app.outbox_link("approve").await.unwrap();
    assert_ne!(fresh, old);

    assert_eq!(app.post_link(&old).await.status(), 410);
    assert_eq!(app.post_link(&fresh).await.status(), 200);
    let rec = crate::offboarding::settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let (status, body) = post(&app, &format!("/api/offboardings/{id}/resend")).await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn a_later_start_date_holds_the_user_back_until_then() {
    let app = spawn_app_with(&config("allow_scheduled_user_creation = 1")).await;
    let id = scheduled_onboarding(&app, "Later", 2).await;
    let later = days_after(app.now().await, 6);

    let (status, body) = patch(
        &app,
        &format!("/api/onboardings/{id}"),
        json!({"start_date": later.to_string()}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "scheduled");
    assert!(timeline_says(&body, "reschedule"), "{body}");

    app.advance(3 * DAY).await;
    assert_eq!(app.status(&id).await, "scheduled");
    assert!(tenant_users(&app, "alater").await.is_empty());

    app.advance(4 * DAY).await;
    assert_eq!(app.status(&id).await, "completed");
    assert_eq!(tenant_users(&app, "alater").await.len(), 1);
}

#[tokio::test]
async fn an_earlier_start_date_creates_the_user_sooner() {
    let app = spawn_app_with(&config("allow_scheduled_user_creation = 1")).await;
    let id = scheduled_onboarding(&app, "Earlier", 20).await;
    let earlier = days_after(app.now().await, 3);

    let (status, body) = patch(
        &app,
        &format!("/api/onboardings/{id}"),
        json!({"start_date": earlier.to_string()}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    app.advance(2 * DAY).await;
    assert!(tenant_users(&app, "aearlier").await.is_empty());
    app.advance(2 * DAY).await;
    assert_eq!(app.status(&id).await, "completed");
    assert_eq!(tenant_users(&app, "aearlier").await.len(), 1);
}

#[tokio::test]
async fn a_bad_new_date_is_refused_naming_the_problem() {
    let app = spawn_app_with(&config("allow_scheduled_user_creation = 1")).await;
    let id = scheduled_onboarding(&app, "Bad", 5).await;
    let path = format!("/api/onboardings/{id}");

    let past = days_after(app.now().await, -1);
    let (status, body) = patch(&app, &path, json!({"start_date": past.to_string()})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["field"], "start_date", "{body}");

    let (status, body) = patch(&app, &path, json!({"start_date": "next tuesday"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["field"], "start_date", "{body}");

    let (status, body) = patch(&app, &path, json!({"last_name": "Other"})).await;
    assert_eq!(status, 400, "{body}");

    let done = app
        .onboard(json!({"organization": "contoso", "first_name": "Ada", "last_name": "Now"}))
        .await;
    let future = days_after(app.now().await, 5);
    let (status, body) = patch(
        &app,
        &format!("/api/onboardings/{done}"),
        json!({"start_date": future.to_string()}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("`completed`"));
}

#[tokio::test]
async fn a_scheduled_offboarding_can_be_moved_and_cancelled() {
    let app = spawn_app().await;
    let at = days_after(app.now().await, 2);
    let res = app
        .client
        .post(app.url("/api/offboardings"))
        .json(
            &json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com",
                      "scheduled_at": at.to_string()}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/offboardings/{id}");
    assert_eq!(app.get_json(&path).await["status"], "scheduled");

    let later = days_after(app.now().await, 4);
    let (status, body) = patch(&app, &path, json!({"scheduled_at": later.to_string()})).await;
    assert_eq!(status, 200, "{body}");
    app.advance(3 * DAY).await;
    assert_eq!(app.get_json(&path).await["status"], "scheduled");

    let (status, body) = post(&app, &format!("{path}/cancel")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    app.advance(3 * DAY).await;
    assert_eq!(app.get_json(&path).await["status"], "cancelled");
    let alex = tenant_users(&app, "alexw@").await;
    assert_eq!(alex.len(), 1);
    assert_ne!(alex[0]["accountEnabled"], false, "{:?}", alex[0]);
}
