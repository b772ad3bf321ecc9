//! Each PSA and each password destination, through the sandbox's own endpoints.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

fn config(variables: &str) -> String {
    format!(
        r#"
[variables]
time_zone = "UTC"
send_from_address = "onboarding@msp.example"
{variables}

[organizations.contoso]
name = "Contoso"
domain = "contoso.com"
"#
    )
}

const CONNECTWISE: &str = r#"
default_psa = "connectwise"
default_ticket_location = "Service Desk"
default_ticket_status = "In Progress"
ticket_status_waiting_input = "Waiting Customer"
ticket_status_workflow_complete = "Completed"
default_priority = "Priority 3 - Normal Response"
"#;

async fn completed(app: &TestApp, first: &str, last: &str) -> Value {
    let id = app
        .onboard(
            json!({"organization": "contoso", "first_name": first, "last_name": last,
                        "manager_email": "AdeleV@contoso.com"}),
        )
        .await;
    let rec = app.onboarding(&id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    rec
}

#[tokio::test]
async fn autotask_gets_the_ticket_its_notes_and_the_complete_status() {
    let app = spawn_app_with(&config(
        r#"
default_psa = "autotask"
default_ticket_location = "Service Desk"
default_ticket_status = "In Progress"
ticket_status_waiting_input = "Waiting Customer"
ticket_status_workflow_complete = "Complete"
default_priority = "Medium"
"#,
    ))
    .await;
    let rec = completed(&app, "Auto", "Task").await;
    let ticket = rec["ticket_id"].as_str().unwrap();
    let res: Value = app
        .client
        .get(app.url(&format!(
            "/sandbox/autotask/atservicesrest/v1.0/Tickets/{ticket}"
        )))
        .header("ApiIntegrationcode", "ONBOARDSANDBOX")
        .header("UserName", "api@onboard.test")
        .header("Secret", "sandbox-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["item"]["companyID"], 175, "{res}");
    assert_eq!(res["item"]["status"], 5, "Complete: {res}");
}

#[tokio::test]
async fn halopsa_gets_the_ticket_and_the_closed_status() {
    let app = spawn_app_with(&config(
        r#"
default_psa = "halopsa"
default_ticket_location = "Service Desk"
default_ticket_status = "In Progress"
ticket_status_waiting_input = "Waiting on User"
ticket_status_workflow_complete = "Closed"
default_priority = "Medium"
"#,
    ))
    .await;
    let rec = completed(&app, "Hal", "Opsa").await;
    let ticket = rec["ticket_id"].as_str().unwrap();
    let token: Value = app
        .client
        .post(app.url("/sandbox/halopsa/auth/token?tenant=onboard"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "onboard-sandbox"),
            ("client_secret", "sandbox-secret"),
            ("scope", "all"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res: Value = app
        .client
        .get(app.url(&format!("/sandbox/halopsa/api/Tickets/{ticket}")))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["status_id"], 9, "Closed: {res}");
    assert_eq!(res["client_id"], 13, "{res}");
}

#[tokio::test]
async fn the_password_goes_to_the_ticket_by_default_and_never_to_the_timeline() {
    let app = spawn_app_with(&config(CONNECTWISE)).await;
    let rec = completed(&app, "Tick", "Etnote").await;
    let ticket = rec["ticket_id"].as_str().unwrap();
    let mail = app.outbox().await;
    let body = mail
        .iter()
        .map(|m| m["body"].as_str().unwrap_or_default())
        .find(|b| b.contains("tetnote@contoso.com"))
        .expect("credentials mail")
        .to_owned();
    let password = body
        .lines()
        .find_map(|l| l.strip_prefix("Password: "))
        .expect("a password line")
        .trim()
        .to_owned();
    let notes = app.cw_notes(ticket).await.join("\n");
    assert!(
        notes.contains(&password),
        "the password is in a ticket note"
    );
    assert!(
        !rec.to_string().contains(&password),
        "never in the record or timeline"
    );
}

#[tokio::test]
async fn it_glue_keeps_the_password_in_the_organizations_passwords() {
    let app = spawn_app_with(&config(&format!(
        "{CONNECTWISE}\nstore_password_in_ticket = 0\nonboarding_password_save_location = \"itglue\"\n"
    )))
    .await;
    completed(&app, "Ike", "Glue").await;
    let res: Value = app
        .client
        .get(app.url("/sandbox/itglue/passwords"))
        .header("x-api-key", "sandbox-itglue-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = res.to_string();
    assert!(text.contains("iglue@contoso.com"), "{text}");
}

#[tokio::test]
async fn hudu_keeps_the_password_as_an_asset_password() {
    let app = spawn_app_with(&config(&format!(
        "{CONNECTWISE}\nstore_password_in_ticket = 0\nonboarding_password_save_location = \"hudu\"\n"
    )))
    .await;
    completed(&app, "Hugh", "Du").await;
    let res: Value = app
        .client
        .get(app.url("/sandbox/hudu/api/v1/asset_passwords"))
        .header("x-api-key", "sandbox-hudu-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = res.to_string();
    assert!(text.contains("hdu@contoso.com"), "{text}");
}

#[tokio::test]
async fn password_pusher_sends_a_link_instead_of_the_password() {
    let app = spawn_app_with(&config(&format!(
        "{CONNECTWISE}\nstore_password_in_ticket = 0\nonboarding_password_save_location = \"pwpush\"\npwpush_url = \"https://pwpush.example\"\n"
    )))
    .await;
    completed(&app, "Push", "Link").await;
    let mail = app.outbox().await;
    let body = mail
        .iter()
        .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
        .find(|b| b.contains("plink@contoso.com"))
        .expect("credentials mail");
    let line = body
        .lines()
        .find(|l| l.starts_with("Password:"))
        .expect("a password line");
    assert!(
        line.contains("/sandbox/pwpush/p/"),
        "a one-time link, not the password: {line}"
    );
}

#[tokio::test]
async fn the_password_options_of_the_variables_reach_the_user() {
    let app = spawn_app_with(&config(&format!(
        "{CONNECTWISE}\npassword_never_expires = 1\n"
    )))
    .await;
    completed(&app, "Nev", "Erexpires").await;
    let users = app.users_named("nerexpires").await;
    assert_eq!(users.len(), 1);
    let policies = users[0]["passwordPolicies"].as_str().unwrap_or_default();
    assert!(
        policies.contains("DisablePasswordExpiration"),
        "{}",
        users[0]
    );
    let mail = app.outbox().await;
    assert!(
        mail.iter().any(|m| m["body"]
            .as_str()
            .unwrap_or_default()
            .contains("must be changed at first sign-in")),
        "the manager is told the password must change at first sign-in"
    );
}

#[tokio::test]
async fn passportal_then_pwpush_stores_the_password_in_pwpush_and_tells_the_technician_why() {
    let app = spawn_app_with(&config(&format!(
        "{CONNECTWISE}\nstore_password_in_ticket = 0\nonboarding_password_save_location = \"passportal,pwpush\"\npwpush_url = \"https://pwpush.example\"\n"
    )))
    .await;
    let rec = completed(&app, "Pass", "Portal").await;
    let pushes = app.get_json("/sandbox/state").await["pwpush"]["pushes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(pushes.len(), 1, "stored in the fallback: {pushes:?}");
    let notes = app.cw_notes(rec["ticket_id"].as_str().unwrap()).await;
    let passportal: Vec<&String> = notes
        .iter()
        .filter(|n| n.contains("was not stored in Passportal"))
        .collect();
    assert_eq!(passportal.len(), 1, "{notes:#?}");
    assert!(passportal[0].contains("no public API that writes passwords"));
    assert!(passportal[0].contains("Hudu-PassPortal-Migration"));
    assert!(passportal[0].contains("pwpush"));
}

#[tokio::test]
async fn passportal_alone_is_refused_before_anything_is_created_with_the_reason() {
    let app = spawn_app_with(&config(&format!(
        "{CONNECTWISE}\nstore_password_in_ticket = 0\nonboarding_password_save_location = \"passportal\"\n"
    )))
    .await;
    let id = app
        .onboard(
            json!({"organization": "contoso", "first_name": "Only", "last_name": "Portal",
                        "manager_email": "AdeleV@contoso.com"}),
        )
        .await;
    let rec = app.onboarding(&id).await;
    assert_eq!(rec["status"], "failed", "{rec}");
    assert!(
        rec.to_string()
            .contains("no public API that writes passwords"),
        "{rec}"
    );
    assert!(app.users_named("oportal").await.is_empty());
}
