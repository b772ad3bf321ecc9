//! Issue 20: the offboarding's mailbox actions through Exchange Online (the
//! sandbox's `/sandbox/exchange` simulator, over HTTP) and their restore.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::offboarding::{action_line, offboard, offboarding, settle, snapshot};

const ALEX: &str = "AlexW@contoso.com";

/// Every Exchange action on, licenses removed as by default.
fn mailbox_actions() -> Value {
    json!({"convert_to_shared": true, "set_manager_as_delegate": true,
           "forward_mail_to_manager": true, "hide_from_gal": true})
}

/// The simulator's mailbox of `upn`, in Exchange's field names.
async fn mailbox(app: &TestApp, upn: &str) -> Value {
    let state = app.get_json("/sandbox/state").await;
    state["exchange"]["mailboxes"]
        .as_array()
        .expect("mailboxes")
        .iter()
        .find(|m| {
            m["UserPrincipalName"]
                .as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(upn))
        })
        .cloned()
        .unwrap_or(Value::Null)
}

/// How many times the simulator ran `cmdlet`.
async fn cmdlets(app: &TestApp, cmdlet: &str) -> usize {
    app.get_json("/sandbox/state").await["exchange"]["cmdlets"]
        .as_array()
        .expect("cmdlets")
        .iter()
        .filter(|c| *c == cmdlet)
        .count()
}

/// The position of the first timeline message that starts with `words`.
fn position(rec: &Value, words: &str) -> usize {
    rec["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .position(|e| e["message"].as_str().is_some_and(|m| m.starts_with(words)))
        .unwrap_or_else(|| panic!("`{words}` in {rec}"))
}

async fn restore(app: &TestApp, id: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/offboardings/{id}/restore")))
        .send()
        .await
        .expect("POST restore")
}

/// The demo sandbox with these `[sandbox.exchange]` settings.
fn with_exchange(extra: &str) -> String {
    crate::mailbox_access::with_exchange("", extra)
}

#[tokio::test]
async fn the_mailbox_becomes_shared_before_its_license_goes_so_a_60_gb_mailbox_survives() {
    // Exchange refuses to make an unlicensed mailbox over 50 GB shared: converting
    // after the license went would fail, and the mailbox would be deleted in 30 days.
    let app = spawn_app_with(&with_exchange(
        "mailbox_sizes_gb = { \"AlexW@contoso.com\" = 60.0 }",
    ))
    .await;
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": ALEX,
               "actions": mailbox_actions()}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert!(snapshot(&app, ALEX).await.licenses.is_empty());

    let m = mailbox(&app, ALEX).await;
    assert_eq!(m["RecipientTypeDetails"], "SharedMailbox", "{m}");
    assert_eq!(m["Licensed"], false, "{m}");
    assert_eq!(m["WillBeDeleted"], false, "{m}");
    assert_eq!(m["TotalItemSizeGB"], 60.0, "{m}");
    // The conversion ran before the licenses were removed.
    assert!(
        position(&rec, "convert to shared: done") < position(&rec, "remove licenses: done"),
        "{rec}"
    );

    // The delegate (the manager), forwarding with a copy, hidden.
    assert_eq!(m["FullAccess"], json!(["AdeleV@contoso.com"]), "{m}");
    assert_eq!(m["ForwardingAddress"], "AdeleV@contoso.com", "{m}");
    assert_eq!(m["ForwardingSmtpAddress"], Value::Null, "{m}");
    assert_eq!(m["DeliverToMailboxAndForward"], true, "{m}");
    assert_eq!(m["HiddenFromAddressListsEnabled"], true, "{m}");
    for (action, words) in [
        ("convert_to_shared", "converted to a shared mailbox"),
        (
            "set_manager_as_delegate",
            "AdeleV@contoso.com has FullAccess",
        ),
        (
            "forward_mail_to_manager",
            "mail forwarded to AdeleV@contoso.com",
        ),
        ("hide_from_gal", "hidden from the address lists"),
    ] {
        let line = action_line(&rec, action);
        assert!(line.contains(": done ("), "{line}");
        assert!(line.contains(words), "{line}");
        assert!(!line.contains("PowerShell"), "{line}");
    }
    // The ticket says so, and names no cmdlet to run.
    let notes = app
        .cw_notes(rec["ticket_id"].as_str().expect("ticket"))
        .await
        .join("\n");
    assert!(notes.contains("convert to shared: done"), "{notes}");
    assert!(notes.contains("set manager as delegate: done"), "{notes}");
    assert!(!notes.contains("Exchange Online PowerShell"), "{notes}");

    // The restore record holds the mailbox as it was.
    let before = &rec["removed"]["mailbox"];
    assert_eq!(before["shared"], false, "{rec}");
    assert_eq!(before["hidden_from_address_lists"], false, "{rec}");
    assert_eq!(before["forwarding"], Value::Null, "{rec}");
    assert_eq!(before["full_access"], json!([]), "{rec}");
}

#[tokio::test]
async fn mail_goes_to_an_outside_address_without_a_copy_when_the_form_says_so() {
    let app = spawn_app().await;
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": ALEX,
               "actions": {"remove_licenses": false},
               "forward_to": "alex.successor@example.org", "forward_keep_copy": false}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let m = mailbox(&app, ALEX).await;
    assert_eq!(
        m["ForwardingSmtpAddress"], "smtp:alex.successor@example.org",
        "{m}"
    );
    assert_eq!(m["ForwardingAddress"], Value::Null, "{m}");
    assert_eq!(m["DeliverToMailboxAndForward"], false, "{m}");
    let line = action_line(&rec, "forward_mail_to_manager");
    assert!(line.contains("an outside address"), "{line}");
    assert!(line.contains("no copy kept"), "{line}");
    // Only what was asked: the organization's defaults leave the type and the list alone.
    assert_eq!(m["RecipientTypeDetails"], "UserMailbox", "{m}");
}

#[tokio::test]
async fn lost_answers_and_throttling_from_exchange_duplicate_nothing() {
    let app = spawn_app().await;
    app.faults(
        "exchange",
        json!({"lost_answer_rate": 0.3, "throttle_rate": 0.05, "retry_after_seconds": 0, "seed": 7}),
    )
    .await;
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": ALEX,
               "actions": mailbox_actions()}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let m = mailbox(&app, ALEX).await;
    assert_eq!(m["RecipientTypeDetails"], "SharedMailbox", "{m}");
    // One FullAccess entry, however many answers were lost.
    assert_eq!(m["FullAccess"], json!(["AdeleV@contoso.com"]), "{m}");
    assert_eq!(m["HiddenFromAddressListsEnabled"], true, "{m}");
    // Each action is on the timeline once.
    for words in [
        "convert to shared: ",
        "set manager as delegate: ",
        "hide from gal: ",
    ] {
        let n = rec["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .filter(|e| e["message"].as_str().is_some_and(|s| s.starts_with(words)))
            .count();
        assert_eq!(n, 1, "{words} in {rec}");
    }

    // The restore, still through lost answers: a call that could not finish
    // (503) is simply made again.
    let mut answered = None;
    for _ in 0..10 {
        let res = restore(&app, &id).await;
        if res.status() == 200 {
            answered = Some(res);
            break;
        }
        assert_eq!(
            res.status(),
            503,
            "{}",
            res.text().await.unwrap_or_default()
        );
    }
    assert!(answered.is_some(), "the restore went through");
    app.faults("exchange", json!({})).await;
    let m = mailbox(&app, ALEX).await;
    assert_eq!(m["RecipientTypeDetails"], "UserMailbox", "{m}");
    assert_eq!(m["FullAccess"], json!([]), "{m}");
    assert_eq!(m["HiddenFromAddressListsEnabled"], false, "{m}");
}

#[tokio::test]
async fn a_restore_puts_back_the_account_the_mailbox_type_and_takes_the_delegate_away() {
    let app = spawn_app().await;
    let before = snapshot(&app, ALEX).await;
    let mut actions = mailbox_actions();
    actions["set_auto_reply"] = json!(true);
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": ALEX,
               "actions": actions}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert_eq!(
        mailbox(&app, ALEX).await["FullAccess"],
        json!(["AdeleV@contoso.com"])
    );

    let res = restore(&app, &id).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "completed", "{body}");

    // The account: enabled, its license and direct groups back, the manager kept.
    let after = snapshot(&app, ALEX).await;
    assert!(after.enabled);
    assert_eq!(after.licenses, before.licenses);
    for group in ["All Staff", "Sales"] {
        assert!(
            after.groups.iter().any(|g| g == group),
            "{group}: {:?}",
            after.groups
        );
    }
    assert_eq!(after.manager, before.manager);
    // The mailbox: a user mailbox again, the delegate gone, no forwarding, listed.
    let m = mailbox(&app, ALEX).await;
    assert_eq!(m["RecipientTypeDetails"], "UserMailbox", "{m}");
    assert_eq!(m["FullAccess"], json!([]), "{m}");
    assert_eq!(m["ForwardingAddress"], Value::Null, "{m}");
    assert_eq!(m["ForwardingSmtpAddress"], Value::Null, "{m}");
    assert_eq!(m["HiddenFromAddressListsEnabled"], false, "{m}");
    // The "no longer works here" reply is off.
    let settings = app
        .graph(&format!("/users/{}/mailboxSettings", before.id))
        .await;
    assert_eq!(
        settings["automaticRepliesSetting"]["status"], "disabled",
        "{settings}"
    );

    // On the timeline and the ticket.
    let rec = offboarding(&app, &id).await;
    for words in [
        "mailbox type: restored (a user mailbox again)",
        "mailbox delegates: restored (FullAccess removed from AdeleV@contoso.com)",
        "mailbox forwarding: restored (forwarding cleared)",
        "address lists: restored (shown in the address lists again)",
        "licenses: restored (assigned O365_BUSINESS_PREMIUM again)",
        "automatic reply: restored (switched off)",
        "offboarding restored by a technician",
    ] {
        position(&rec, words);
    }
    let ticket = rec["ticket_id"].as_str().expect("ticket").to_owned();
    let restored = |notes: &[String]| {
        notes
            .iter()
            .filter(|n| n.contains("Offboarding of AlexW@contoso.com restored by"))
            .count()
    };
    assert_eq!(restored(&app.cw_notes(&ticket).await), 1);

    // Again: nothing more is done or noted.
    let writes =
        cmdlets(&app, "Set-Mailbox").await + cmdlets(&app, "Remove-MailboxPermission").await;
    let events = rec["timeline"].as_array().expect("timeline").len();
    assert_eq!(restore(&app, &id).await.status(), 200);
    assert_eq!(
        cmdlets(&app, "Set-Mailbox").await + cmdlets(&app, "Remove-MailboxPermission").await,
        writes
    );
    let rec = offboarding(&app, &id).await;
    assert_eq!(rec["timeline"].as_array().expect("timeline").len(), events);
    assert_eq!(restored(&app.cw_notes(&ticket).await), 1);
}

#[tokio::test]
async fn only_a_completed_offboarding_can_be_restored() {
    let app = spawn_app().await;
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": ALEX,
               "scheduled_at": "2027-06-01T12:00:00Z"}),
    )
    .await;
    assert_eq!(offboarding(&app, &id).await["status"], "scheduled");
    let res = restore(&app, &id).await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.expect("body");
    assert!(body.contains("`scheduled`"), "{body}");
    assert!(snapshot(&app, ALEX).await.enabled);
    assert_eq!(restore(&app, "no-such-run").await.status(), 404);
}

#[tokio::test]
async fn a_mailbox_still_being_provisioned_is_waited_for_with_back_off() {
    // Exchange answers "couldn't be found" to the first cmdlets naming a new
    // mailbox: a user licensed a moment ago.
    let app = spawn_app_with(&with_exchange("mailbox_delay_calls = 3")).await;
    let onboarding = app
        .onboard(
            json!({"organization": "contoso", "first_name": "Nina", "last_name": "New",
                        "licenses": ["O365_BUSINESS_PREMIUM"], "send_credentials_to": "none"}),
        )
        .await;
    let mut upn = String::new();
    for _ in 0..30 {
        let rec = app.onboarding(&onboarding).await;
        if rec["status"] == "completed" {
            upn = rec["user_principal_name"].as_str().expect("upn").to_owned();
            break;
        }
        app.advance(300).await;
    }
    assert!(!upn.is_empty(), "the onboarding completed");
    assert_eq!(mailbox(&app, &upn).await["Provisioned"], false);

    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": upn,
               "actions": {"convert_to_shared": true, "hide_from_gal": true}}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let m = mailbox(&app, &upn).await;
    assert_eq!(m["RecipientTypeDetails"], "SharedMailbox", "{m}");
    assert_eq!(m["HiddenFromAddressListsEnabled"], true, "{m}");
    // The restore record waited for the mailbox too.
    assert_eq!(rec["removed"]["mailbox"]["shared"], false, "{rec}");
}

#[tokio::test]
async fn a_mailbox_that_never_appears_fails_the_run_with_a_note_on_the_ticket() {
    let app = spawn_app_with(&with_exchange("mailbox_delay_calls = 1000")).await;
    let onboarding = app
        .onboard(
            json!({"organization": "contoso", "first_name": "Nora", "last_name": "Never",
                        "licenses": ["O365_BUSINESS_PREMIUM"], "send_credentials_to": "none"}),
        )
        .await;
    let mut upn = String::new();
    for _ in 0..30 {
        let rec = app.onboarding(&onboarding).await;
        if rec["status"] == "completed" {
            upn = rec["user_principal_name"].as_str().expect("upn").to_owned();
            break;
        }
        app.advance(300).await;
    }
    assert!(!upn.is_empty(), "the onboarding completed");
    let id = offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": upn,
               "actions": {"convert_to_shared": true}}),
    )
    .await;
    let rec = settle(&app, &id).await;
    assert_eq!(rec["status"], "failed", "{rec}");
    let notes = app
        .cw_notes(rec["ticket_id"].as_str().expect("ticket"))
        .await
        .join("\n");
    assert!(notes.contains("not provisioned yet"), "{notes}");
    // Nothing was removed before the mailbox was safe.
    assert!(snapshot(&app, &upn).await.enabled);
}

#[tokio::test]
async fn the_offboarding_preview_lists_the_mailbox_actions_or_says_who_does_them() {
    let form = json!({"organization": "contoso", "user_principal_name": ALEX,
                      "actions": mailbox_actions()});
    let preview = |app: &TestApp| {
        let request = app
            .client
            .post(app.url("/api/offboardings/plan"))
            .json(&form)
            .send();
        async move {
            let res = request.await.expect("POST plan");
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.expect("json")
        }
    };

    let app = spawn_app().await;
    let p = preview(&app).await;
    let actions = p["actions"].as_array().expect("actions");
    let at = |a: &str| actions.iter().position(|x| x == a);
    assert!(at("convert_to_shared") < at("remove_licenses"), "{p}");
    assert_eq!(
        p["mailbox"],
        json!([
            "convert to a shared mailbox (before licenses are removed)",
            "give AdeleV@contoso.com FullAccess",
            "forward mail to AdeleV@contoso.com (a copy kept)",
            "hide from the address lists"
        ]),
        "{p}"
    );
    assert_eq!(
        cmdlets(&app, "Set-Mailbox").await,
        0,
        "a preview changes nothing"
    );

    let app = spawn_app_with(&crate::offboarding::without_exchange()).await;
    let p = preview(&app).await;
    assert_eq!(p["mailbox"], json!([]), "{p}");
    assert!(
        p["warnings"].as_array().expect("warnings").iter().any(|w| w
            .as_str()
            .is_some_and(|w| w.contains("no Exchange Online connector"))),
        "{p}"
    );
}
