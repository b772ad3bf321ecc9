//! Issue 20, item 4: at onboarding, distribution lists, mail-enabled security
//! groups and shared mailboxes through Exchange Online (the sandbox's
//! `/sandbox/exchange`, over HTTP), waiting for the new mailbox on the virtual
//! clock with the state machine's Wait loop.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_logged, spawn_app_with};
use crate::offboarding::without_exchange;
use crate::workflow::config;

/// The demo sandbox with org variables `org_variables` and `[sandbox.exchange]`
/// settings `exchange` (beside the demo's shared mailbox, `info@contoso.com`).
pub(crate) fn with_exchange(org_variables: &str, exchange: &str) -> String {
    let example = include_str!("../../crates/sandbox/examples/sandbox.toml");
    let (demo, _) = example
        .split_once("[sandbox.exchange]")
        .expect("the example ends with [sandbox.exchange]");
    format!(
        "{}\n{demo}\n[sandbox.exchange]\nshared_mailboxes = [\"info@contoso.com\"]\n{exchange}\n",
        config(org_variables),
    )
}

/// A licensed new user asking for the demo's two mail lists, a Microsoft 365
/// group, and the shared mailbox.
fn form(first: &str) -> Value {
    json!({"organization": "contoso", "first_name": first, "last_name": "Mailer",
           "licenses": ["O365_BUSINESS_PREMIUM"], "send_credentials_to": "none",
           "groups": ["Contoso Announcements", "Finance Approvers", "Sales"],
           "shared_mailboxes": ["info@contoso.com"]})
}

async fn exchange_state(app: &TestApp) -> Value {
    app.get_json("/sandbox/state").await["exchange"].clone()
}

/// The members (UPNs) of the mail list `name`.
async fn list_members(app: &TestApp, name: &str) -> Vec<String> {
    exchange_state(app).await["distribution_groups"]
        .as_array()
        .expect("distribution_groups")
        .iter()
        .find(|g| g["DisplayName"] == name)
        .unwrap_or_else(|| panic!("no list {name}"))["Members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m.as_str().expect("upn").to_lowercase())
        .collect()
}

/// The shared mailbox `info@contoso.com` as the simulator holds it.
async fn info_mailbox(app: &TestApp) -> Value {
    exchange_state(app).await["mailboxes"]
        .as_array()
        .expect("mailboxes")
        .iter()
        .find(|m| m["UserPrincipalName"] == "info@contoso.com")
        .cloned()
        .expect("info@")
}

fn lower(values: &Value) -> Vec<String> {
    values
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v.as_str().expect("string").to_lowercase())
        .collect()
}

async fn notes_of(app: &TestApp, rec: &Value) -> String {
    app.cw_notes(rec["ticket_id"].as_str().expect("ticket"))
        .await
        .join("\n")
}

/// `POST /api/{kind}/plan` of `body`.
async fn plan_of(app: &TestApp, kind: &str, body: &Value) -> Value {
    app.client
        .post(app.url(&format!("/api/{kind}/plan")))
        .json(body)
        .send()
        .await
        .expect("POST plan")
        .json()
        .await
        .expect("json")
}

/// Moves the clock `step` seconds at a time until the run has ended.
async fn settle(app: &TestApp, id: &str, step: u64, rounds: usize) -> Value {
    for _ in 0..rounds {
        let rec = app.onboarding(id).await;
        if !matches!(rec["status"].as_str(), Some("running" | "scheduled")) {
            return rec;
        }
        app.advance(step).await;
    }
    app.onboarding(id).await
}

#[tokio::test]
async fn a_late_mailbox_is_waited_for_then_joins_the_lists_and_the_shared_mailbox() {
    // Exchange Online provisions the mailbox 20 minutes after the license.
    let app = spawn_app_with(&with_exchange("", "mailbox_delay_minutes = 20")).await;
    let id = app.onboard(form("Lena")).await;

    // Minute by minute: the run waits in the Wait state, well before 20 minutes.
    let mut rec = app.onboarding(&id).await;
    for _ in 0..10 {
        app.advance(60).await;
        rec = app.onboarding(&id).await;
    }
    assert_eq!(
        rec["status"], "running",
        "still waiting after 10 minutes: {rec}"
    );
    let upn = rec["user_principal_name"]
        .as_str()
        .expect("upn")
        .to_lowercase();
    assert!(
        !list_members(&app, "Contoso Announcements")
            .await
            .contains(&upn),
        "nothing is added before the mailbox exists"
    );
    let timeline = rec["timeline"].to_string();
    assert!(timeline.contains("waiting for"), "{rec}");

    let rec = settle(&app, &id, 120, 30).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    assert!(
        list_members(&app, "Contoso Announcements")
            .await
            .contains(&upn)
    );
    assert!(list_members(&app, "Finance Approvers").await.contains(&upn));
    let info = info_mailbox(&app).await;
    assert_eq!(lower(&info["FullAccess"]), vec![upn.clone()], "{info}");
    assert_eq!(lower(&info["SendAs"]), vec![upn.clone()], "{info}");
    // The Microsoft 365 group went through Graph, as before; Graph sees all four.
    let member_of: Vec<String> = app.graph(&format!("/users/{upn}/memberOf")).await["value"]
        .as_array()
        .expect("memberOf")
        .iter()
        .filter_map(|g| g["displayName"].as_str().map(str::to_owned))
        .collect();
    for group in ["Sales", "Contoso Announcements", "Finance Approvers"] {
        assert!(
            member_of.iter().any(|g| g == group),
            "{group} in {member_of:?}"
        );
    }
    let notes = notes_of(&app, &rec).await;
    assert!(
        notes.contains("through Exchange Online to Contoso Announcements, Finance Approvers"),
        "{notes}"
    );
    assert!(notes.contains("SendAs to info@contoso.com"), "{notes}");
    // The loop backed off: a handful of rounds for 20 minutes, not one a minute.
    let rounds = exchange_state(&app).await["cmdlets"]
        .as_array()
        .expect("cmdlets")
        .iter()
        .filter(|c| *c == "Get-Mailbox")
        .count();
    assert!((3..=8).contains(&rounds), "{rounds} Get-Mailbox rounds");
}

#[tokio::test]
async fn a_mailbox_that_never_appears_is_left_to_a_technician_after_the_organizations_limit() {
    let app = spawn_app_with(&with_exchange(
        "exchange_mailbox_wait_minutes = 30",
        "mailbox_delay_minutes = 10000",
    ))
    .await;
    let id = app.onboard(form("Nolan")).await;

    let rec = settle(&app, &id, 60, 60).await;

    // The user and the rest of the onboarding do not wait for ever.
    assert_eq!(rec["status"], "completed", "{rec}");
    let upn = rec["user_principal_name"]
        .as_str()
        .expect("upn")
        .to_lowercase();
    assert!(
        !list_members(&app, "Contoso Announcements")
            .await
            .contains(&upn)
    );
    let notes = notes_of(&app, &rec).await;
    assert!(
        notes.contains("did not appear in Exchange Online within 30 minutes"),
        "{notes}"
    );
    assert!(
        notes.contains("Add-DistributionGroupMember -Identity 'Contoso Announcements' -Member"),
        "{notes}"
    );
    assert!(
        notes.contains("Add-RecipientPermission -Identity 'info@contoso.com'"),
        "{notes}"
    );
    // It gave up at the limit: the completion is about 30 minutes after the wait began.
    let at = |words: &str| {
        rec["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .find(|e| e["message"].as_str().is_some_and(|m| m.contains(words)))
            .and_then(|e| e["at"].as_str())
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .unwrap_or_else(|| panic!("`{words}` in {rec}"))
    };
    let waited = at("no mailbox after").duration_since(at("waiting for"));
    assert!(
        waited >= jiff::SignedDuration::from_mins(30)
            && waited < jiff::SignedDuration::from_mins(31),
        "waited {waited:?}"
    );
}

#[tokio::test]
async fn lost_exchange_answers_add_each_membership_and_permission_once() {
    let app = spawn_app_logged(None).await;
    app.faults(
        "exchange",
        json!({"lost_answer_rate": 0.4, "throttle_rate": 0.05, "retry_after_seconds": 0, "seed": 11}),
    )
    .await;
    let id = app.onboard(form("Lars")).await;

    let rec = settle(&app, &id, 120, 30).await;

    assert_eq!(rec["status"], "completed", "{rec}");
    app.faults("exchange", json!({})).await;
    let lost = app
        .log()
        .lines()
        .filter(|l| l.contains("losing its answer") && l.contains("exchange"))
        .count();
    assert!(
        lost >= 1,
        "no Exchange answer was lost; the test proves nothing"
    );
    let upn = rec["user_principal_name"]
        .as_str()
        .expect("upn")
        .to_lowercase();
    let members = list_members(&app, "Contoso Announcements").await;
    assert_eq!(
        members.iter().filter(|m| **m == upn).count(),
        1,
        "{members:?}"
    );
    let info = info_mailbox(&app).await;
    assert_eq!(lower(&info["FullAccess"]), vec![upn.clone()], "{info}");
    assert_eq!(lower(&info["SendAs"]), vec![upn], "{info}");
    let notes = notes_of(&app, &rec).await;
    assert_eq!(notes.matches("Gave ").count(), 1, "one note: {notes}");
}

#[tokio::test]
async fn without_an_exchange_connector_the_ticket_gets_the_cmdlets_and_nothing_waits() {
    let app = spawn_app_with(&without_exchange()).await;
    let id = app.onboard(form("Nico")).await;

    let rec = settle(&app, &id, 120, 10).await;

    assert_eq!(rec["status"], "completed", "{rec}");
    let upn = rec["user_principal_name"].as_str().expect("upn").to_owned();
    let notes = notes_of(&app, &rec).await;
    for cmdlet in [
        format!("Add-DistributionGroupMember -Identity 'Finance Approvers' -Member '{upn}'"),
        format!(
            "Add-MailboxPermission -Identity 'info@contoso.com' -User '{upn}' -AccessRights FullAccess"
        ),
        format!("Add-RecipientPermission -Identity 'info@contoso.com' -Trustee '{upn}'"),
    ] {
        assert!(notes.contains(&cmdlet), "`{cmdlet}` in {notes}");
    }
    assert!(
        exchange_state(&app).await["cmdlets"]
            .as_array()
            .expect("cmdlets")
            .is_empty(),
        "Exchange was never called"
    );
}

#[tokio::test]
async fn the_plan_says_which_groups_go_through_exchange() {
    let app = spawn_app().await;
    let plan = plan_of(&app, "onboardings", &form("Pia")).await;
    let groups = plan["groups"].as_array().expect("groups");
    let exchange = |name: &str| {
        groups
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {plan}"))["exchange"]
            .clone()
    };
    assert_eq!(exchange("Contoso Announcements"), true, "{plan}");
    assert_eq!(exchange("Sales"), false, "{plan}");
    assert_eq!(
        plan["shared_mailboxes"],
        json!(["info@contoso.com"]),
        "{plan}"
    );

    assert!(
        !plan["warnings"].to_string().contains("Exchange"),
        "the demo has the connector: {plan}"
    );
}

#[tokio::test]
async fn a_shared_mailbox_that_does_not_exist_is_refused_by_name_in_the_plan_and_noted() {
    let app = spawn_app().await;
    let mut form = form("Uma");
    form["shared_mailboxes"] = json!(["nobody@contoso.com"]);
    form["groups"] = json!(["Contoso Announcements"]);

    let plan = plan_of(&app, "onboardings", &form).await;
    assert!(
        plan["warnings"].to_string().contains("nobody@contoso.com"),
        "{plan}"
    );
    let id = app.onboard(form).await;
    let rec = settle(&app, &id, 120, 10).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    let notes = notes_of(&app, &rec).await;
    assert!(
        notes.contains("nobody@contoso.com: Exchange Online has no mailbox of that address"),
        "{notes}"
    );
}

#[tokio::test]
async fn offboarding_takes_the_user_out_of_the_mail_lists_through_exchange_and_a_restore_puts_them_back()
 {
    let app = spawn_app().await;
    let mut joiner = form("Otto");
    joiner["shared_mailboxes"] = json!([]);
    let onboarding = settle(&app, &app.onboard(joiner).await, 120, 10).await;
    assert_eq!(onboarding["status"], "completed", "{onboarding}");
    let upn = onboarding["user_principal_name"]
        .as_str()
        .expect("upn")
        .to_owned();
    assert!(
        list_members(&app, "Finance Approvers")
            .await
            .contains(&upn.to_lowercase())
    );

    // The preview counts the mail lists among the groups removed.
    let preview = plan_of(
        &app,
        "offboardings",
        &json!({"organization": "contoso", "user_principal_name": upn}),
    )
    .await;
    assert!(
        lower(&preview["groups"]).contains(&"finance approvers".to_owned()),
        "{preview}"
    );

    let id = crate::offboarding::offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": upn}),
    )
    .await;
    let rec = crate::offboarding::settle(&app, &id).await;
    assert_eq!(rec["status"], "completed", "{rec}");
    for list in ["Contoso Announcements", "Finance Approvers"] {
        assert!(
            !list_members(&app, list).await.contains(&upn.to_lowercase()),
            "still in {list}"
        );
    }
    assert_eq!(
        rec["removed"]["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .filter(|g| g["mail_list"] == true)
            .count(),
        2,
        "{rec}"
    );

    let res = app
        .client
        .post(app.url(&format!("/api/offboardings/{id}/restore")))
        .send()
        .await
        .expect("POST restore");
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    for list in ["Contoso Announcements", "Finance Approvers"] {
        assert!(
            list_members(&app, list).await.contains(&upn.to_lowercase()),
            "back in {list}"
        );
    }
}

#[tokio::test]
async fn without_an_exchange_connector_offboarding_leaves_the_mail_lists_with_the_cmdlet() {
    // Adele is a member of a distribution list; the organization's app cannot
    // call Exchange Online.
    let app = spawn_app_with(&format!(
        "{}\ndistribution_groups = [{{ tenant = \"contoso.com\", display_name = \"Board\", \
         primary_smtp_address = \"board@contoso.com\", members = [\"AdeleV@contoso.com\"] }}]\n",
        without_exchange()
    ))
    .await;
    let id = crate::offboarding::offboard(
        &app,
        json!({"organization": "contoso", "user_principal_name": "AdeleV@contoso.com"}),
    )
    .await;

    let rec = crate::offboarding::settle(&app, &id).await;

    assert_eq!(rec["status"], "completed", "{rec}");
    assert!(
        list_members(&app, "Board")
            .await
            .contains(&"adelev@contoso.com".to_owned()),
        "Graph cannot remove her and nothing else tried"
    );
    let notes = notes_of(&app, &rec).await;
    assert!(
        notes.contains(
            "Remove-DistributionGroupMember -Identity 'board@contoso.com' -Member 'AdeleV@contoso.com' -Confirm:$false"
        ),
        "{notes}"
    );
}
