//! The technician's console (issue 17): the run listings of CONTRACT.md §4.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};
use crate::workflow::config;

async fn scheduled(app: &TestApp, last_name: &str, days: i64) -> (String, jiff::Timestamp) {
    let start = app
        .now()
        .await
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .unwrap();
    let id = app
        .onboard(
            json!({"organization": "contoso", "first_name": "Fu", "last_name": last_name,
                        "start_date": start.to_string()}),
        )
        .await;
    (id, start)
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn onboardings_are_listed_newest_first_with_what_they_wait_for() {
    let app = spawn_app_with(&config("allow_scheduled_user_creation = 1")).await;
    let (first, start) = scheduled(&app, "First", 10).await;
    app.advance(60).await;
    let second = app
        .onboard(json!({"organization": "contoso", "first_name": "Now", "last_name": "Second"}))
        .await;

    let page = app.get_json("/api/onboardings").await;
    assert_eq!(ids(&page), [second.clone(), first.clone()]);
    assert_eq!(page["next_cursor"], Value::Null);
    let newest = &page["items"][0];
    assert_eq!(newest["status"], "completed");
    assert_eq!(newest["display_name"], "Now Second");
    assert_eq!(newest["organization"], "contoso");
    assert!(newest["user_principal_name"].as_str().is_some(), "{newest}");
    assert_eq!(newest["waiting_for"], Value::Null);
    assert_eq!(newest["waiting_until"], Value::Null);
    for field in ["created_at", "updated_at"] {
        let at: Result<jiff::Timestamp, _> = newest[field].as_str().unwrap().parse();
        assert!(at.is_ok(), "{field}: {newest}");
    }
    let waiting = &page["items"][1];
    assert_eq!(waiting["status"], "scheduled");
    assert_eq!(waiting["waiting_for"], "start_date");
    let until: jiff::Timestamp = waiting["waiting_until"].as_str().unwrap().parse().unwrap();
    assert_eq!(until, start);

    // Filters and paging.
    let scheduled_only = app.get_json("/api/onboardings?status=scheduled").await;
    assert_eq!(ids(&scheduled_only), vec![first.clone()]);
    let none = app.get_json("/api/onboardings?organization=fabrikam").await;
    assert_eq!(ids(&none), Vec::<String>::new());
    let one = app.get_json("/api/onboardings?limit=1").await;
    assert_eq!(ids(&one), [second]);
    let cursor = one["next_cursor"].as_str().unwrap();
    let next = app
        .get_json(&format!("/api/onboardings?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(ids(&next), [first]);
    assert!(
        app.get_json("/api/offboardings").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_bad_listing_query_is_a_problem_naming_the_parameter() {
    let app = spawn_app_with(&config("")).await;
    for (query, field) in [
        ("status=sleeping", "status"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=r1.forged", "cursor"),
    ] {
        let res = app
            .client
            .get(app.url(&format!("/api/onboardings?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/problem+json")
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
}
