//! The HTTP surfaces of CONTRACT.md §2: shapes, validation, idempotency, auth.

use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn the_sandbox_lists_its_demo_organization() {
    let app = spawn_app().await;
    let orgs = app.get_json("/api/organizations").await;
    let orgs = orgs.as_array().unwrap();
    let contoso = orgs.iter().find(|o| o["id"] == "contoso").expect("contoso");
    assert_eq!(contoso["domain"], "contoso.com");
    assert!(contoso["name"].as_str().is_some());
}

#[tokio::test]
async fn a_request_the_settings_cannot_serve_names_the_setting_and_starts_nothing() {
    let app = spawn_app_with(
        r#"
[variables]
time_zone = "UTC"
default_psa = "connectwise"
require_approval_for_new_users = 1

[organizations.contoso]
name = "Contoso"
domain = "contoso.com"
"#,
    )
    .await;
    let res = app
        .post_onboarding(
            &json!({"organization": "contoso", "first_name": "Ann", "last_name": "Prover"}),
        )
        .await;
    assert_eq!(res.status(), 500);
    let body: Value = res.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("new_user_approval_email") && detail.contains("nothing was started"),
        "{body}"
    );
    assert!(app.users_named("aprover").await.is_empty());
    assert!(app.cw_tickets().await.iter().all(|t| t["id"] == 900));
}

#[tokio::test]
async fn an_invalid_form_is_a_problem_with_every_bad_field_and_starts_nothing() {
    let app = spawn_app().await;
    let res = app
        .post_onboarding(&json!({"organization": "contoso", "start_date": "soon"}))
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["first_name", "last_name", "start_date"] {
        assert!(fields.contains(&f), "{body}");
    }
    assert!(app.cw_tickets().await.iter().all(|t| t["id"] == 900));
    // Adele, Alex and info@ (a shared mailbox's account).
    assert_eq!(app.users().await.len(), 3, "no user was created");
}

#[tokio::test]
async fn an_unknown_organization_and_a_body_that_is_not_json_are_bad_fields() {
    let app = spawn_app().await;
    let res = app
        .post_onboarding(&json!({"organization": "nope", "first_name": "A", "last_name": "B"}))
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "organization");

    let res = app
        .client
        .post(app.url("/api/onboardings"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "body");
}

#[tokio::test]
async fn an_unknown_onboarding_is_a_404_problem() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/onboardings/does-not-exist"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("problem+json")
    );
}

#[tokio::test]
async fn a_repeated_idempotency_key_replays_the_first_answer_and_creates_one_user() {
    let app = spawn_app().await;
    let form = json!({"organization": "contoso", "first_name": "Idem", "last_name": "Potent"});
    let first = app.post_onboarding_with_key(&form, "key-1").await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let second = app.post_onboarding_with_key(&form, "key-1").await;
    assert_eq!(second.status(), 202);
    let second: Value = second.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(app.users_named("ipotent").await.len(), 1);
}

#[tokio::test]
async fn the_html_form_at_the_root_posts_the_onboarding_form() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("action=\"/onboardings\"") && html.contains("name=\"first_name\""));

    let res = app
        .submit_form(
            "/",
            "/onboardings",
            &[
                ("organization", "contoso"),
                ("first_name", "Form"),
                ("last_name", "Filler"),
                ("groups", "All Staff"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let id = location.trim_start_matches("/onboardings/");
    assert_eq!(app.status(id).await, "completed");
}

#[tokio::test]
async fn a_configured_server_requires_an_api_key_on_the_api_only() {
    // sha256("test-key")
    let hash = "62af8704764faf8ea82fc61ce9c4c3908b6cb97d463a634e9e587d7c885db0ef";
    let app = spawn_app_with(&format!(
        "[server]\napi_key_sha256 = [\"{hash}\"]\n[variables]\ndefault_psa = \"connectwise\"\n"
    ))
    .await;
    let res = app
        .client
        .get(app.url("/api/organizations"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url("/api/organizations"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url("/api/organizations"))
        .bearer_auth("test-key")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[test]
fn a_bad_configuration_stops_the_start_naming_the_setting() {
    let (code, err) = crate::helpers::serve_refusal(
        &["--addr", "127.0.0.1:0"],
        Some(
            "[organizations.acme]\nname = \"Acme\"\ndomain = \"acme.com\"\n[organizations.acme.connectors.graph]\ntenant_id = \"t\"\nclient_secret = \"inline-secret\"\n",
        ),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("organizations.acme.connectors.graph.client_secret"),
        "{err}"
    );
    assert!(!err.contains("inline-secret"), "{err}");

    let (code, err) = crate::helpers::serve_refusal(
        &["--addr", "127.0.0.1:0"],
        Some("[server]\nlink_signing_key = \"env:ONBOARD_TEST_UNSET_SECRET\"\n"),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("server.link_signing_key") && err.contains("ONBOARD_TEST_UNSET_SECRET"),
        "{err}"
    );
}

#[test]
fn a_non_loopback_address_needs_a_configuration_with_api_keys() {
    let (code, err) = crate::helpers::serve_refusal(&["--addr", "0.0.0.0:0"], None);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("loopback"), "{err}");
    let (code, err) = crate::helpers::serve_refusal(
        &["--addr", "0.0.0.0:0", "--sandbox"],
        Some("[variables]\ntime_zone = \"UTC\"\n"),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("server.api_key_sha256"), "{err}");
}

#[tokio::test]
async fn the_pending_approvals_page_lists_what_waits() {
    let app = spawn_app_with(
        r#"
[variables]
default_psa = "connectwise"
default_ticket_location = "Service Desk"
default_ticket_status = "In Progress"
ticket_status_waiting_input = "Waiting Customer"
ticket_status_workflow_complete = "Completed"
default_priority = "Priority 3 - Normal Response"
require_approval_for_new_users = 1
new_user_approval_email = "approvals@contoso.com"
send_from_address = "onboarding@msp.example"
"#,
    )
    .await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Penny", "last_name": "Ding"}))
        .await;
    let html = app
        .client
        .get(app.url("/approvals"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        app.status(&id).await,
        "pending_approval",
        "{}",
        app.onboarding(&id).await
    );
    assert!(html.contains(&id), "{html}");
}

#[tokio::test]
async fn metrics_count_the_calls_of_each_connector_and_the_runs_of_each_step() {
    let app = spawn_app().await;
    app.faults(
        "graph",
        json!({"throttle_rate": 0.3, "retry_after_seconds": 0, "seed": 3}),
    )
    .await;
    app.onboard(
        json!({"organization": "contoso", "first_name": "Met", "last_name": "Rics",
                       "groups": ["All Staff"]}),
    )
    .await;

    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        res.headers()
    );
    let text = res.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert!(value("onboard_connector_calls_total{service=\"graph\"}") > 3.0);
    assert!(value("onboard_connector_throttled_total{service=\"graph\"}") >= 1.0);
    assert!(value("onboard_connector_retries_total{service=\"graph\"}") >= 1.0);
    assert!(value("onboard_connector_calls_total{service=\"connectwise\"}") >= 1.0);
    assert_eq!(value("onboard_step_runs_total{step=\"create_user\"}"), 1.0);
    assert_eq!(
        value("onboard_step_errors_total{step=\"create_user\"}"),
        0.0
    );
    assert!(value("onboard_step_duration_seconds_sum{step=\"validate\"}") > 0.0);
}
