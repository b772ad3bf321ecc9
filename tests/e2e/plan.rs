//! The technician's console (issue 17): the plan, the offboarding preview and
//! the pickers' look-ups of CONTRACT.md §4, against the sandbox's Graph.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};
use crate::workflow::config;

async fn post(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .expect("POST");
    let status = res.status().as_u16();
    (status, res.json().await.expect("json"))
}

/// Everything a plan must leave as it was: the simulated tenant (users, tickets,
/// orders, vaults), the outbox and the runs.
async fn world(app: &TestApp) -> (Value, Value, Value, Value) {
    (
        app.get_json("/sandbox/state").await,
        app.get_json("/sandbox/outbox").await,
        app.get_json("/api/onboardings").await,
        app.get_json("/api/offboardings").await,
    )
}

#[tokio::test]
async fn a_plan_shows_the_run_and_changes_nothing() {
    let app = spawn_app_with(&config(
        "require_approval_for_new_users = 1\nallow_scheduled_user_creation = 1\nauto_purchase_license_if_none_available = 0",
    ))
    .await;
    let now: jiff::Timestamp = app.get_json("/sandbox/clock").await["now"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let start = now
        .checked_add(jiff::SignedDuration::from_hours(24 * 10))
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let before = world(&app).await;

    let (status, plan) = post(
        &app,
        "/api/onboardings/plan",
        &json!({"organization": "contoso", "first_name": "Adele", "last_name": "Vance",
                "start_date": start.to_string(),
                "licenses": ["O365_BUSINESS_PREMIUM", "SPB"],
                "groups": ["Sales", "No Such Group"],
                "copy_groups_from": "AlexW@contoso.com",
                "manager_email": "nobody@contoso.com"}),
    )
    .await;

    assert_eq!(status, 200, "{plan}");
    let upn = plan["user_principal_name"].as_str().expect("a username");
    assert!(upn.ends_with("@contoso.com"), "{plan}");
    assert_eq!(plan["approval_required"], true, "{plan}");
    assert!(
        plan["scheduled_for"]
            .as_str()
            .is_some_and(|s| s.starts_with(&start.to_string())),
        "{plan}"
    );
    assert_eq!(
        plan["licenses"],
        json!([
            {"sku": "O365_BUSINESS_PREMIUM", "free_seats": 3, "action": "assign"},
            {"sku": "SPB", "free_seats": 0, "action": "manual_purchase"},
        ]),
        "{plan}"
    );
    assert_eq!(
        plan["groups"],
        json!([{"name": "Sales", "found": true, "exchange": false},
               {"name": "No Such Group", "found": false, "exchange": false}])
    );
    assert_eq!(
        plan["copied_groups"],
        json!(["All Staff", "Sales"]),
        "{plan}"
    );
    let warnings: Vec<&str> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("No Such Group")),
        "{plan}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("nobody@contoso.com")),
        "{plan}"
    );
    assert_eq!(warnings.len(), 2, "{plan}");

    assert_eq!(world(&app).await, before, "a plan changed something");
}

#[tokio::test]
async fn the_planned_username_is_the_one_the_run_creates_and_skips_taken_ones() {
    let app = spawn_app_with(&config("")).await;
    let form = json!({"organization": "contoso", "first_name": "Ana", "last_name": "Silva"});

    let (_, first) = post(&app, "/api/onboardings/plan", &form).await;
    let id = app.onboard(form.clone()).await;
    let created = app.onboarding(&id).await;
    let (_, second) = post(&app, "/api/onboardings/plan", &form).await;

    assert_eq!(
        first["user_principal_name"], created["user_principal_name"],
        "the plan said one username, the run created another"
    );
    assert_ne!(
        second["user_principal_name"], first["user_principal_name"],
        "the second plan did not see the user the first run created"
    );
    let upn = second["user_principal_name"].as_str().unwrap();
    assert!(
        app.graph(&format!("/users/{upn}")).await.is_null(),
        "the planned username of the second run is taken"
    );
}

#[tokio::test]
async fn a_license_group_and_the_distributor_show_in_the_plan() {
    let app = spawn_app_with(&config(
        "m365_license_assignment_method = \"group\"\nlicense_groups = \"SPB = License - Business Premium\"\nauto_purchase_license_if_none_available = 1\nmicrosoft_licensing_distributor = \"pax8\"",
    ))
    .await;
    let (status, plan) = post(
        &app,
        "/api/onboardings/plan",
        &json!({"organization": "contoso", "first_name": "Lee", "last_name": "Gu",
                "licenses": ["SPB"]}),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["licenses"][0]["sku"], "SPB", "{plan}");
    assert_eq!(plan["licenses"][0]["free_seats"], 0, "{plan}");
    assert_eq!(plan["licenses"][0]["action"], "purchase", "{plan}");
    assert_eq!(
        plan["licenses"][0]["group"], "License - Business Premium",
        "{plan}"
    );
}

#[tokio::test]
async fn an_invalid_plan_is_refused_exactly_as_the_create_refuses_it() {
    let app = spawn_app_with(&config("")).await;
    for body in [
        json!({"organization": "contoso", "first_name": "A"}),
        json!({"organization": "nowhere", "first_name": "A", "last_name": "B"}),
        json!({"organization": "contoso", "last_name": "B", "start_date": "soon",
               "licenses": ["not a sku!"], "send_credentials_to": "pigeon"}),
    ] {
        let planned = post(&app, "/api/onboardings/plan", &body).await;
        let created = post(&app, "/api/onboardings", &body).await;
        assert_eq!(planned.0, 400, "{}", planned.1);
        assert_eq!(
            planned, created,
            "the plan and the create disagree on {body}"
        );
    }
    assert_eq!(app.get_json("/api/onboardings").await["items"], json!([]));
}

#[tokio::test]
async fn the_offboarding_preview_lists_what_would_be_removed_and_removes_nothing() {
    let app = spawn_app_with(&config("")).await;
    let before = world(&app).await;

    let (status, preview) = post(
        &app,
        "/api/offboardings/plan",
        &json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com"}),
    )
    .await;

    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["found"], true, "{preview}");
    assert_eq!(preview["user_principal_name"], "AlexW@contoso.com");
    let groups = preview["groups"].as_array().unwrap();
    assert!(groups.contains(&json!("Sales")), "{preview}");
    assert!(
        preview["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("deactivate_user"))
    );
    assert_eq!(world(&app).await, before, "a preview changed something");

    let (status, missing) = post(
        &app,
        "/api/offboardings/plan",
        &json!({"organization": "contoso", "user_principal_name": "ghost@contoso.com"}),
    )
    .await;
    assert_eq!(status, 200, "{missing}");
    assert_eq!(missing["found"], false);
    let (status, refused) = post(
        &app,
        "/api/offboardings/plan",
        &json!({"organization": "contoso"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["errors"][0]["field"], "user_principal_name",
        "{refused}"
    );
}

#[tokio::test]
async fn the_pickers_list_licenses_with_free_seats_and_find_groups_and_users() {
    let app = spawn_app_with(&config("")).await;

    let licenses = app.get_json("/api/organizations/contoso/licenses").await;
    let spb = licenses
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sku"] == "SPB")
        .unwrap_or_else(|| panic!("{licenses}"));
    assert_eq!(spb["name"], "Microsoft 365 Business Premium");
    assert_eq!(spb["free_seats"], 0);

    let groups = app
        .get_json("/api/organizations/contoso/groups?search=sal")
        .await;
    assert_eq!(groups.as_array().unwrap().len(), 1, "{groups}");
    assert_eq!(groups[0]["displayName"], "Sales");

    let users = app
        .get_json("/api/organizations/contoso/users?search=adele")
        .await;
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    assert_eq!(users[0]["userPrincipalName"], "AdeleV@contoso.com");
    assert!(users[0]["displayName"].as_str().is_some(), "{users}");
    let by_address = app
        .get_json("/api/organizations/contoso/users?search=AlexW@")
        .await;
    assert_eq!(
        by_address[0]["userPrincipalName"], "AlexW@contoso.com",
        "{by_address}"
    );
    let quoted = app
        .get_json("/api/organizations/contoso/users?search=O'Brien")
        .await;
    assert_eq!(
        quoted,
        json!([]),
        "a quote in the search must be escaped, not break it"
    );

    let res = reqwest::get(app.url("/api/organizations/nowhere/licenses"))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
