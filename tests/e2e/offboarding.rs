//! The offboarding workflow end to end: the "Done when" list of issue 9, driven
//! only through HTTP against `onboard serve --sandbox --virtual-clock`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// `O365_BUSINESS_PREMIUM` (Business Standard) in the demo tenant: Alex's license.
const STANDARD: &str = "f245ecc8-75af-4f8e-b61f-27d8114de5f3";

pub(crate) use crate::workflow::config;

/// Posts an offboarding that must be accepted; answers its id.
pub(crate) async fn offboard(app: &TestApp, form: Value) -> String {
    let res = app
        .client
        .post(app.url("/api/offboardings"))
        .json(&form)
        .send()
        .await
        .expect("POST /api/offboardings");
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    assert_eq!(status, 202, "{body}");
    assert!(body["status"].is_string(), "{body}");
    body["id"].as_str().expect("id").to_owned()
}

pub(crate) async fn offboarding(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/api/offboardings/{id}")).await
}

/// What the Graph simulator says of a user: enabled, groups and license SKU ids.
pub(crate) struct Snapshot {
    pub(crate) id: String,
    pub(crate) enabled: bool,
    pub(crate) groups: Vec<String>,
    pub(crate) licenses: Vec<String>,
    pub(crate) manager: Option<String>,
}

pub(crate) async fn snapshot(app: &TestApp, upn: &str) -> Snapshot {
    let user = app
        .graph(&format!(
            "/users/{upn}?$select=id,accountEnabled,assignedLicenses"
        ))
        .await;
    assert!(!user.is_null(), "{upn} exists");
    let id = user["id"].as_str().expect("id").to_owned();
    let mut groups: Vec<String> = app.graph(&format!("/users/{id}/memberOf")).await["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|g| g["displayName"].as_str().map(str::to_owned))
        .collect();
    groups.sort();
    let mut licenses: Vec<String> = user["assignedLicenses"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|l| l["skuId"].as_str().map(str::to_owned))
        .collect();
    licenses.sort();
    let manager = app.graph(&format!("/users/{id}/manager")).await["userPrincipalName"]
        .as_str()
        .map(str::to_ascii_lowercase);
    Snapshot {
        id,
        enabled: user["accountEnabled"].as_bool().unwrap_or(true),
        groups,
        licenses,
        manager,
    }
}

/// Advances the clock until the offboarding leaves the running states.
pub(crate) async fn settle(app: &TestApp, id: &str) -> Value {
    for _ in 0..30 {
        let rec = offboarding(app, id).await;
        if !matches!(rec["status"].as_str(), Some("running")) {
            return rec;
        }
        app.advance(300).await;
    }
    offboarding(app, id).await
}

/// The `@odata.type`s of a user's authentication methods, short (`phone`), as Graph lists them.
async fn method_types(app: &TestApp, user_id: &str) -> Vec<String> {
    app.graph(&format!("/users/{user_id}/authentication/methods"))
        .await["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m["@odata.type"].as_str())
        .map(|t| {
            t.trim_start_matches("#microsoft.graph.")
                .trim_end_matches("AuthenticationMethod")
                .to_owned()
        })
        .collect()
}

/// The timeline message of `action` (`set_auto_reply`: "set auto reply: done (...)").
pub(crate) fn action_line(rec: &Value, action: &str) -> String {
    let words = format!("{}: ", action.replace('_', " "));
    rec["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["step"] == "offboard_user")
        .filter_map(|e| e["message"].as_str())
        .find(|m| m.starts_with(&words))
        .unwrap_or_else(|| panic!("{action} in {rec}"))
        .to_owned()
}

/// The demo tenant's paid seats of `O365_BUSINESS_PREMIUM`, as Graph says.
async fn standard_seats(app: &TestApp) -> Option<u64> {
    app.graph("/subscribedSkus").await["value"]
        .as_array()?
        .iter()
        .find(|s| s["skuId"] == STANDARD)?["prepaidUnits"]["enabled"]
        .as_u64()
}

fn names(list: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e[key].as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn defaults_only_shut_the_account_remove_groups_and_licenses_and_record_them() {
    let app = spawn_app().await;
    let before = snapshot(&app, "AlexW@contoso.com").await;
    assert!(before.enabled);
    assert!(
        before.groups.contains(&"All Staff".to_owned()),
        "{:?}",
        before.groups
    );
    assert!(before.licenses.contains(&STANDARD.to_owned()));

    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com"}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert_eq!(rec["organization"], "contoso");
    assert!(
        rec["timeline"].as_array().is_some_and(|t| t.len() > 2),
        "{rec}"
    );

    let after = snapshot(&app, "AlexW@contoso.com").await;
    assert!(!after.enabled, "sign-in is blocked");
    assert!(after.licenses.is_empty(), "{:?}", after.licenses);
    assert!(
        !after.groups.contains(&"All Staff".to_owned()),
        "{:?}",
        after.groups
    );
    assert!(
        !after.groups.contains(&"Sales".to_owned()),
        "{:?}",
        after.groups
    );

    // The restore record matches what the user had.
    let removed = &rec["removed"];
    assert!(removed.is_object(), "{rec}");
    assert_eq!(removed["enabled"], true, "{removed}");
    let recorded_groups = names(&removed["groups"], "display_name");
    for g in &before.groups {
        assert!(recorded_groups.contains(g), "{g} in {removed}");
    }
    assert_eq!(
        names(&removed["licenses"], "sku_id"),
        before.licenses,
        "{removed}"
    );
    assert_eq!(
        removed["manager"]["user_principal_name"]
            .as_str()
            .map(str::to_ascii_lowercase),
        before.manager,
        "{removed}"
    );
    assert_eq!(before.manager.as_deref(), Some("adelev@contoso.com"));
    // The MFA methods went (the password method cannot) and the record names them, masked.
    assert_eq!(
        method_types(&app, &before.id).await,
        ["password"],
        "only the password method is left"
    );
    assert_eq!(
        names(&removed["authentication_methods"], "type"),
        ["microsoftAuthenticator", "phone"],
        "{removed}"
    );

    // The ticket was opened, noted and closed.
    let ticket = rec["ticket_id"].as_str().expect("a ticket");
    let t = app.cw_ticket(ticket).await;
    assert_eq!(t["status"]["name"], "Completed", "{t}");
    assert!(!app.cw_notes(ticket).await.is_empty());
    let _ = before.id;
}

#[tokio::test]
async fn every_action_on_does_them_all_and_completes() {
    let app = spawn_app().await;
    let before = snapshot(&app, "AlexW@contoso.com").await;
    let actions: serde_json::Map<String, Value> = [
        "deactivate_user",
        "revoke_sessions",
        "reset_password",
        "remove_auth_methods",
        "remove_groups",
        "remove_licenses",
        "set_manager_as_delegate",
        "forward_mail_to_manager",
        "set_auto_reply",
        "hide_from_gal",
        "reduce_distributor_seats",
    ]
    .into_iter()
    .map(|a| (a.to_owned(), Value::Bool(true)))
    .collect();
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com",
               "actions": actions}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let after = snapshot(&app, "AlexW@contoso.com").await;
    assert!(!after.enabled);
    assert!(after.licenses.is_empty());
    assert_eq!(
        names(&rec["removed"]["licenses"], "sku_id"),
        before.licenses
    );
    // Every action is in the timeline, done or skipped with its reason; the ones the
    // sandbox's Graph and Pax8 can perform are done.
    let messages: Vec<String> = rec["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["step"] == "offboard_user")
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect();
    for action in actions.keys() {
        let words = action.replace('_', " ");
        let entry = messages
            .iter()
            .find(|m| m.starts_with(&format!("{words}: ")))
            .unwrap_or_else(|| panic!("{words} in {messages:#?}"));
        assert!(
            entry.contains(": done (") || entry.contains(": skipped ("),
            "{entry}"
        );
    }
    for done in [
        "deactivate user",
        "reset password",
        "revoke sessions",
        "remove auth methods",
        "set auto reply",
        "remove groups",
        "remove licenses",
        "reduce distributor seats",
    ] {
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with(&format!("{done}: done"))),
            "{done}: {messages:#?}"
        );
    }
    // Every action left a trace on the ticket.
    let notes = app
        .cw_notes(rec["ticket_id"].as_str().expect("ticket"))
        .await
        .join("\n")
        .to_ascii_lowercase();
    assert!(notes.contains("password"), "{notes}");
    assert!(notes.contains("licen"), "{notes}");
    assert!(notes.contains("group"), "{notes}");
}

#[tokio::test]
async fn a_scheduled_offboarding_does_nothing_before_its_time() {
    let app = spawn_app().await;
    let at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(48))
        .expect("time");
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com",
               "scheduled_at": at.to_string()}),
    )
    .await;
    assert_eq!(offboarding(&app, &id).await["status"], "scheduled");

    app.advance(24 * 3600).await;
    let rec = offboarding(&app, &id).await;
    assert_eq!(rec["status"], "scheduled", "{rec}");
    let mid = snapshot(&app, "AlexW@contoso.com").await;
    assert!(mid.enabled, "nothing is done before the time");
    assert!(!mid.licenses.is_empty());
    assert!(mid.groups.contains(&"All Staff".to_owned()));

    app.advance(25 * 3600).await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert!(!snapshot(&app, "AlexW@contoso.com").await.enabled);
}

#[tokio::test]
async fn a_denied_offboarding_changes_nothing() {
    let app = spawn_app_with(&config(
        "require_approval_for_offboarding_users = 1\noffboarding_user_approval_email = [\"approvals@contoso.com\"]",
    ))
    .await;
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com"}),
    )
    .await;
    assert_eq!(offboarding(&app, &id).await["status"], "pending_approval");
    let deny = app
        .outbox_link("deny")
        .await
        .expect("a deny link in the mail");
    assert_eq!(app.post_link(&deny).await.status(), 200);
    assert_eq!(app.post_link(&deny).await.status(), 409);
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "denied", "{rec}");
    let after = snapshot(&app, "AlexW@contoso.com").await;
    assert!(after.enabled);
    assert!(!after.licenses.is_empty());
    assert!(after.groups.contains(&"All Staff".to_owned()));
}

#[tokio::test]
async fn with_faults_an_offboarding_completes_exactly_once() {
    let app = spawn_app().await;
    assert_eq!(standard_seats(&app).await, Some(5));
    let before = snapshot(&app, "AlexW@contoso.com").await;
    for service in ["graph", "connectwise", "pax8"] {
        app.faults(
            service,
            json!({"throttle_rate": 0.1, "error_rate": 0.1, "retry_after_seconds": 0, "seed": 7}),
        )
        .await;
    }
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com",
               "actions": {"reduce_distributor_seats": true}}),
    )
    .await;
    let rec = settle(&app, &id).await;
    for service in ["graph", "connectwise", "pax8"] {
        app.faults(service, json!({})).await;
    }
    assert_eq!(rec["status"], "completed", "{rec}");
    // Exactly once: one ticket for it, one completion in the timeline, one restore
    // record that still names what the user had (not the emptied account).
    let completions = rec["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["step"] == "complete_offboarding")
        .count();
    assert_eq!(completions, 1, "{rec}");
    assert_eq!(
        names(&rec["removed"]["licenses"], "sku_id"),
        before.licenses
    );
    let after = snapshot(&app, "AlexW@contoso.com").await;
    assert!(!after.enabled);
    assert!(after.licenses.is_empty());
    let ticket = rec["ticket_id"].as_str().expect("ticket");
    let same_summary = app
        .cw_tickets()
        .await
        .iter()
        .filter(|t| {
            t["summary"]
                .as_str()
                .is_some_and(|s| s.to_ascii_lowercase().contains("alex"))
        })
        .count();
    assert_eq!(same_summary, 1, "one ticket, {ticket}");
    let notes = app.cw_notes(ticket).await;
    let completion_notes = notes
        .iter()
        .filter(|n| n.contains("Offboarding of AlexW@contoso.com is complete"))
        .count();
    assert_eq!(completion_notes, 1, "{notes:#?}");
    // The freed seat was given back once: 5 paid seats become 4, not 3.
    app.advance(600).await;
    assert_eq!(standard_seats(&app).await, Some(4));
}

#[tokio::test]
async fn a_bad_form_is_refused_with_field_errors_and_a_key_replays_the_answer() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/offboardings"))
        .json(&json!({"organization": "contoso", "actions": {"nope": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = res.json().await.unwrap();
    let fields = names(&body["errors"], "field");
    assert!(fields.contains(&"user_principal_name".to_owned()), "{body}");
    assert!(fields.contains(&"actions.nope".to_owned()), "{body}");

    let form = json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com"});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = app
            .client
            .post(app.url("/api/offboardings"))
            .header("Idempotency-Key", "leaver-1")
            .json(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1]);
    // Not an onboarding.
    let res = app
        .client
        .get(app.url(&format!("/api/onboardings/{}", ids[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // The web form is linked from the onboarding form.
    let home = app.client.get(app.url("/")).send().await.unwrap();
    assert!(home.text().await.unwrap().contains("href=\"/offboard\""));
    let page = app.client.get(app.url("/offboard")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("user_principal_name"));
}

/// The sandbox runs in its own server (its state is in memory), so the server under
/// test can be killed and restarted while the tenant and tickets stay.
#[tokio::test]
async fn an_offboarding_accepted_before_a_restart_completes_after_it() {
    let sandbox = spawn_app().await;
    let mut app = crate::helpers::spawn_app_against(
        &sandbox,
        "require_approval_for_offboarding_users = 1\noffboarding_user_approval_email = [\"approvals@contoso.com\"]",
    )
    .await;
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com"}),
    )
    .await;
    assert_eq!(offboarding(&app, &id).await["status"], "pending_approval");
    let approve = app.outbox_link("approve").await.expect("an approve link");
    app.restart();
    assert_eq!(offboarding(&app, &id).await["status"], "pending_approval");
    assert!(snapshot(&sandbox, "AlexW@contoso.com").await.enabled);
    assert_eq!(app.post_link(&approve).await.status(), 200);
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert!(!snapshot(&sandbox, "AlexW@contoso.com").await.enabled);
}

/// The demo sandbox (crates/sandbox/examples/sandbox.toml, the embedded default)
/// plus a user synchronised from on-premises AD, in a synced group and a cloud
/// group, with a license.
fn with_synced_user() -> String {
    format!(
        "{}\n{}",
        config(""),
        demo_seed_with_contoso(
            r#"
[[sandbox.graph.tenants.users]]
user_principal_name = "GradyA@contoso.com"
display_name = "Grady Archie"
given_name = "Grady"
surname = "Archie"
mail = "GradyA@contoso.com"
proxy_addresses = ["SMTP:GradyA@contoso.com"]
usage_location = "US"
manager = "AdeleV@contoso.com"
licenses = ["EXCHANGESTANDARD"]
on_premises_sync_enabled = true

[[sandbox.graph.tenants.groups]]
display_name = "Branch Staff (synced)"
on_premises_sync_enabled = true
members = ["GradyA@contoso.com"]

[[sandbox.graph.tenants.groups]]
display_name = "Projects"
members = ["GradyA@contoso.com"]
"#
        )
    )
}

#[tokio::test]
async fn a_synced_user_is_offboarded_where_graph_can_and_the_rest_is_skipped_with_reasons() {
    let app = spawn_app_with(&with_synced_user()).await;
    let before = snapshot(&app, "GradyA@contoso.com").await;
    assert!(before.enabled);
    assert_eq!(before.groups, ["Branch Staff (synced)", "Projects"]);
    assert_eq!(before.licenses.len(), 1);

    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "GradyA@contoso.com"}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert_eq!(rec["removed"]["synced"], true, "{rec}");
    assert_eq!(
        names(&rec["removed"]["groups"], "display_name"),
        before.groups
    );
    assert_eq!(
        names(&rec["removed"]["licenses"], "sku_id"),
        before.licenses
    );

    let after = snapshot(&app, "GradyA@contoso.com").await;
    // Sign-in is mastered on-premises: Graph cannot block it, so it is skipped.
    assert!(after.enabled);
    // The synced group stays (it cannot be changed from the cloud); the cloud group goes.
    assert_eq!(after.groups, ["Branch Staff (synced)"]);
    assert!(after.licenses.is_empty());
    let timeline = rec["timeline"].to_string().to_ascii_lowercase();
    assert!(timeline.contains("skipped"), "{timeline}");
    assert!(
        timeline.contains("synced") || timeline.contains("on-premises"),
        "{timeline}"
    );
}

#[tokio::test]
async fn the_html_offboarding_form_starts_one_and_its_page_shows_the_restore_record() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/offboard")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("action=\"/offboardings\""), "{html}");
    assert!(html.contains("name=\"action.remove_groups\""), "{html}");

    // A bad submission shows the errors and starts nothing.
    let res = app
        .submit_form(
            "/offboard",
            "/offboardings",
            &[("organization", "contoso"), ("user_principal_name", "")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("user_principal_name"));

    let res = app
        .submit_form(
            "/offboard",
            "/offboardings",
            &[
                ("organization", "contoso"),
                ("user_principal_name", "AlexW@contoso.com"),
                ("action.remove_licenses", "false"),
                ("action.deactivate_user", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let id = location.trim_start_matches("/offboardings/").to_owned();
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let after = snapshot(&app, "AlexW@contoso.com").await;
    assert!(!after.enabled, "the organization's default applies");
    assert_eq!(
        after.licenses,
        [STANDARD],
        "the form turned license removal off"
    );

    let page = app.client.get(app.url(&location)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Restore record") && html.contains("All Staff"),
        "{html}"
    );
    // An offboarding is not shown as an onboarding.
    let res = app
        .client
        .get(app.url(&format!("/onboardings/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn an_unanswered_offboarding_approval_is_reminded_then_times_out_without_touching_the_account()
 {
    let app = spawn_app_with(&config(
        "require_approval_for_offboarding_users = 1\noffboarding_user_approval_email = [\"approvals@contoso.com\"]\napproval_timeout_hours = 48\napproval_reminder_hours = 24",
    ))
    .await;
    let before = snapshot(&app, "AlexW@contoso.com").await;
    let methods_before = method_types(&app, &before.id).await;
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com"}),
    )
    .await;
    assert_eq!(offboarding(&app, &id).await["status"], "pending_approval");
    let approve = app.outbox_link("approve").await.expect("an approve link");
    let to_approvers = |mail: &[Value]| {
        mail.iter()
            .filter(|m| m["to"].to_string().contains("approvals@contoso.com"))
            .map(|m| m["subject"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(to_approvers(&app.outbox().await).len(), 1);

    app.advance(25 * 3600).await;
    assert_eq!(offboarding(&app, &id).await["status"], "pending_approval");
    let mails = to_approvers(&app.outbox().await);
    assert_eq!(mails.len(), 2, "one reminder after a day: {mails:?}");
    assert!(
        mails[1].starts_with("Reminder: approval needed to offboard AlexW@contoso.com"),
        "{mails:?}"
    );

    app.advance(24 * 3600).await;
    let rec = offboarding(&app, &id).await;
    assert_eq!(rec["status"], "approval_timed_out", "{rec}");
    // Nothing about the account changed.
    let after = snapshot(&app, "AlexW@contoso.com").await;
    assert!(after.enabled);
    assert_eq!(after.groups, before.groups);
    assert_eq!(after.licenses, before.licenses);
    assert_eq!(method_types(&app, &before.id).await, methods_before);
    // The ticket says so and is closed, as the onboarding's timeout path does.
    let ticket = rec["ticket_id"].as_str().expect("a ticket");
    assert_eq!(app.cw_ticket(ticket).await["status"]["name"], "Completed");
    let notes = app.cw_notes(ticket).await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("Nobody approved or denied the offboarding of AlexW@contoso.com")),
        "{notes:#?}"
    );
    // The link died with the request.
    assert_eq!(app.post_link(&approve).await.status(), 410);
}

/// The demo sandbox whose app registration lacks Exchange.ManageAsApp: its
/// organization has no Exchange Online connector.
pub(crate) fn without_exchange() -> String {
    let apps = "[[sandbox.graph.tenants.apps]]\nclient_id = \"sandbox-client\"\nclient_secret = \"sandbox-secret\"\n";
    let seed = include_str!("../../crates/sandbox/examples/sandbox.toml");
    assert!(seed.contains(apps), "the demo's app block");
    format!(
        "{}\n{}",
        config(""),
        // Every tenant's app (the demo has Contoso and Fabrikam): the connector is
        // MSP-wide, configured when any app may call Exchange.
        seed.replace(
            apps,
            &format!(
                "{apps}permissions = [\"User.ReadWrite.All\", \"Group.Read.All\", \
                 \"GroupMember.ReadWrite.All\", \"LicenseAssignment.ReadWrite.All\", \
                 \"Organization.Read.All\", \"UserAuthenticationMethod.ReadWrite.All\", \
                 \"MailboxSettings.ReadWrite\", \"Application.Read.All\"]\n"
            ),
        )
    )
}

#[tokio::test]
async fn auth_methods_go_the_reply_is_set_and_what_graph_cannot_do_names_its_cmdlet() {
    // Without the Exchange Online connector, what Graph cannot do names its cmdlet.
    let app = spawn_app_with(&without_exchange()).await;
    let before = snapshot(&app, "AlexW@contoso.com").await;
    assert_eq!(
        method_types(&app, &before.id).await,
        ["password", "phone", "microsoftAuthenticator"]
    );
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com",
               "actions": {"set_auto_reply": true, "set_manager_as_delegate": true,
                           "forward_mail_to_manager": true, "hide_from_gal": true,
                           // The mailbox keeps its license, so its settings stay readable.
                           "remove_licenses": false}}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");

    // Authentication methods: every one Graph can delete is gone.
    assert_eq!(method_types(&app, &before.id).await, ["password"]);
    let line = action_line(&rec, "remove_auth_methods");
    assert!(line.starts_with("remove auth methods: done ("), "{line}");
    assert!(line.contains("phone (mobile, +* ********23)"), "{line}");
    assert!(line.contains("password method cannot be deleted"), "{line}");
    // The restore record lists them, masked; the number is nowhere in full.
    let removed = &rec["removed"]["authentication_methods"];
    assert_eq!(
        names(removed, "type"),
        ["microsoftAuthenticator", "phone"],
        "{rec}"
    );
    assert!(!rec.to_string().contains("4255550123"), "{rec}");

    // The automatic reply is on, naming the manager.
    let settings = app
        .graph(&format!("/users/{}/mailboxSettings", before.id))
        .await;
    let reply = &settings["automaticRepliesSetting"];
    assert_eq!(reply["status"], "alwaysEnabled", "{settings}");
    assert_eq!(reply["externalAudience"], "all");
    assert_eq!(
        reply["internalReplyMessage"],
        "Alex Wilber no longer works at Contoso. Please contact Adele Vance at AdeleV@contoso.com."
    );
    assert!(action_line(&rec, "set_auto_reply").starts_with("set auto reply: done ("));

    // What Graph v1.0 cannot do is skipped with the exact cmdlet, on the ticket too.
    for (action, cmdlet) in [
        (
            "set_manager_as_delegate",
            "Add-MailboxPermission -Identity 'AlexW@contoso.com' -User 'AdeleV@contoso.com' -AccessRights FullAccess",
        ),
        (
            "forward_mail_to_manager",
            "Set-Mailbox -Identity 'AlexW@contoso.com' -ForwardingAddress 'AdeleV@contoso.com' -DeliverToMailboxAndForward $true",
        ),
        (
            "hide_from_gal",
            "Set-Mailbox -Identity 'AlexW@contoso.com' -HiddenFromAddressListsEnabled $true",
        ),
    ] {
        let line = action_line(&rec, action);
        assert!(
            line.contains(": skipped (needs Exchange Online PowerShell"),
            "{line}"
        );
        assert!(line.contains(cmdlet), "{line}");
    }
    let notes = app
        .cw_notes(rec["ticket_id"].as_str().expect("ticket"))
        .await
        .join("\n");
    assert!(notes.contains("Add-MailboxPermission"), "{notes}");
    assert!(notes.contains("remove auth methods: done"), "{notes}");
    assert!(!notes.contains("4255550123"), "{notes}");
}

/// The demo sandbox plus a user without any license, so without a mailbox.
fn with_unlicensed_user() -> String {
    format!(
        "{}\n{}",
        config(""),
        demo_seed_with_contoso(
            r#"
[[sandbox.graph.tenants.users]]
user_principal_name = "KioskK@contoso.com"
display_name = "Kiosk Kim"
usage_location = "US"
manager = "AdeleV@contoso.com"

[[sandbox.graph.tenants.users.authentication_methods]]
type = "email"
email_address = "kim.private@example.org"
"#
        )
    )
}

/// The demo seed (crates/sandbox/examples/sandbox.toml) with `extra` tables
/// (users, groups) added to its first tenant, Contoso: TOML adds an array's
/// tables to the last one opened, so `extra` goes before the second tenant.
fn demo_seed_with_contoso(extra: &str) -> String {
    const SEED: &str = include_str!("../../crates/sandbox/examples/sandbox.toml");
    const SECOND: &str = "# The second demo organization: Fabrikam";
    let at = SEED
        .find(SECOND)
        .expect("the demo seed's second tenant is marked");
    format!("{}\n{extra}\n{}", &SEED[..at], &SEED[at..])
}

#[tokio::test]
async fn a_user_without_a_mailbox_gets_no_reply_and_the_run_still_completes() {
    let app = spawn_app_with(&with_unlicensed_user()).await;
    let before = snapshot(&app, "KioskK@contoso.com").await;
    assert!(before.licenses.is_empty());
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "KioskK@contoso.com",
               "actions": {"set_auto_reply": true}}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let line = action_line(&rec, "set_auto_reply");
    assert!(
        line.starts_with("set auto reply: skipped (the user has no Exchange Online mailbox"),
        "{line}"
    );
    assert!(
        line.contains("inactive, soft-deleted, or is hosted on-premise"),
        "{line}"
    );
    // The other actions ran.
    assert!(!snapshot(&app, "KioskK@contoso.com").await.enabled);
    assert_eq!(method_types(&app, &before.id).await, ["password"]);
    let removed = &rec["removed"]["authentication_methods"];
    assert_eq!(names(removed, "type"), ["email"], "{rec}");
    assert_eq!(removed[0]["detail"], "k***@example.org");
    assert!(!rec.to_string().contains("kim.private"), "{rec}");
    let notes = app
        .cw_notes(rec["ticket_id"].as_str().expect("ticket"))
        .await
        .join("\n");
    assert!(notes.contains("set auto reply: skipped"), "{notes}");
}
