//! statemachine/offboarding.asl.json run by the interpreter over the offboarding
//! steps and the simulators: defaults, every action, a schedule, a denial, a synced
//! user, the restore record, and each action run twice.

use jiff::SignedDuration;
use onboard_asl::ExecutionStatus;
use onboard_domain::OffboardingRequest;
use onboard_steps::decisions::{Action, decide};
use onboard_steps::{execution_input, intake};
use onboard_store::Store;
use serde_json::{Value, json};

use crate::support::{Env, ORG, TENANT};
use crate::workflow::{Workflow, substituted};

const ALEX: &str = "AlexW@contoso.com";

fn machine(env: &mut Env) -> Workflow {
    Workflow::of(
        env,
        "offboarding",
        &substituted(include_str!(
            "../../../../statemachine/offboarding.asl.json"
        )),
    )
}

async fn accept(env: &Env, id: &str, extra: Value) {
    let mut form = json!({"organization": ORG, "user_principal_name": ALEX});
    for (k, v) in extra.as_object().unwrap() {
        form[k] = v.clone();
    }
    intake::accept::<OffboardingRequest>(&env.deps, id, &form)
        .await
        .unwrap();
}

fn alex(env: &Env) -> onboard_sandbox::graph::UserSnapshot {
    env.graph.state().user(TENANT, ALEX).unwrap()
}

async fn run(env: &mut Env, id: &str) -> onboard_asl::ExecutionRecord {
    let flow = machine(env);
    let record = env.record(id).await;
    let arn = flow
        .start_with(execution_input::<OffboardingRequest>(&record))
        .await;
    flow.finish(&arn).await
}

fn action<'a>(output: &'a Value, name: &str) -> &'a Value {
    output["offboarded"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == name)
        .unwrap_or_else(|| panic!("no {name} in {output}"))
}

#[tokio::test]
async fn defaults_only_disable_reset_revoke_and_remove_groups_and_licenses() {
    let mut env = Env::new().await;
    accept(&env, "off-1", json!({})).await;
    let before = alex(&env);
    assert!(before.account_enabled);

    let run = run(&mut env, "off-1").await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let output = run.output.unwrap();
    let after = alex(&env);
    assert!(!after.account_enabled, "sign-in blocked");
    assert_eq!(after.sign_in_revocations, before.sign_in_revocations + 1);
    assert!(after.licenses.is_empty(), "{:?}", after.licenses);
    assert!(after.groups.is_empty(), "{:?}", after.groups);
    assert_eq!(action(&output, "remove_auth_methods")["outcome"], "done");
    assert_eq!(before.authentication_methods.len(), 2);
    assert!(after.authentication_methods.is_empty(), "{after:?}");
    assert_eq!(action(&output, "hide_from_gal")["outcome"], "skipped");
    assert!(
        action(&output, "hide_from_gal")["detail"]
            .as_str()
            .unwrap()
            .contains(
                "Set-Mailbox -Identity 'AlexW@contoso.com' -HiddenFromAddressListsEnabled $true"
            )
    );
    assert_eq!(action(&output, "forward_mail_to_manager")["outcome"], "off");
    assert_eq!(action(&output, "reset_password")["outcome"], "done");
    assert_eq!(action(&output, "revoke_sessions")["outcome"], "done");

    let record = env.record("off-1").await;
    assert_eq!(record.status.as_str(), "completed");
    assert_eq!(record.user_principal_name.as_deref(), Some(ALEX));
    let notes = env.note_texts();
    assert!(
        notes.iter().any(|n| n.contains("deactivate user: done")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains(
            "remove auth methods: done (removed phone (mobile, +* ********23), microsoftAuthenticator (iPhone 15)"
        )),
        "{notes:?}"
    );
    assert!(
        !notes.iter().any(|n| n.contains("4255550123")),
        "the number is never noted in full: {notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("Offboarding of AlexW@contoso.com is complete.")),
        "{notes:?}"
    );
    assert_eq!(env.tickets().len(), 1);
    assert_eq!(env.tickets()[0].status.name, "Completed");
}

#[tokio::test]
async fn the_restore_record_matches_what_the_user_had() {
    let mut env = Env::new().await;
    accept(&env, "off-2", json!({})).await;
    let before = alex(&env);
    let run = run(&mut env, "off-2").await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);

    let removed = env.record("off-2").await.removed.unwrap();
    assert_eq!(removed["enabled"], true);
    assert_eq!(removed["user_id"], before.id);
    assert_eq!(
        removed["manager"]["user_principal_name"],
        before.manager.clone().unwrap()
    );
    let mut groups: Vec<String> = removed["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["display_name"].as_str().unwrap().to_owned())
        .collect();
    groups.sort();
    let mut had = before.groups.clone();
    had.sort();
    assert_eq!(groups, had);
    let licenses: Vec<&str> = removed["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["sku_part_number"].as_str().unwrap())
        .collect();
    let held: Vec<&str> = before
        .licenses
        .iter()
        .map(|l| l.sku_part_number.as_str())
        .collect();
    assert_eq!(licenses, held);
    let methods: Vec<&str> = removed["authentication_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(methods, before.authentication_methods);
    assert_eq!(
        removed["authentication_methods"][0]["detail"], "+* ********23",
        "the number is masked"
    );
}

#[tokio::test]
async fn every_action_on_runs_or_says_why_it_was_skipped() {
    let mut env = Env::new().await;
    let all: serde_json::Map<String, Value> = onboard_domain::request::OffboardingActions::NAMES
        .iter()
        .map(|n| ((*n).to_owned(), json!(true)))
        .collect();
    accept(
        &env,
        "off-3",
        json!({"actions": all, "delegate_to": "AdeleV@contoso.com"}),
    )
    .await;
    let run = run(&mut env, "off-3").await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let output = run.output.unwrap();
    for name in onboard_domain::request::OffboardingActions::NAMES {
        let a = action(&output, name);
        assert_ne!(a["outcome"], "off", "{name} is on");
        assert!(
            !a["detail"].as_str().unwrap().is_empty(),
            "{name} says what happened"
        );
    }
    assert!(
        action(&output, "set_manager_as_delegate")["detail"]
            .as_str()
            .unwrap()
            .contains(
                "Add-MailboxPermission -Identity 'AlexW@contoso.com' -User 'AdeleV@contoso.com'"
            )
    );
    assert_eq!(action(&output, "set_auto_reply")["outcome"], "done");
    let alex_now = alex(&env);
    assert_eq!(alex_now.automatic_replies_status, "alwaysEnabled");
    assert_eq!(
        alex_now.internal_reply_message,
        "Alex Wilber no longer works at Contoso. Please contact Adele Vance at AdeleV@contoso.com."
    );
    // No distributor is set for the organization: the seats are left, and it says so.
    assert_eq!(
        action(&output, "reduce_distributor_seats")["outcome"],
        "skipped"
    );
    assert_eq!(env.record("off-3").await.status.as_str(), "completed");
    assert!(!alex(&env).account_enabled);
}

#[tokio::test]
async fn a_scheduled_offboarding_changes_nothing_before_its_time() {
    let mut env = Env::new().await;
    // The test clock starts at 2026-03-02T08:00:00Z.
    accept(
        &env,
        "off-4",
        json!({"scheduled_at": "2026-03-04T17:00:00Z"}),
    )
    .await;
    let flow = machine(&mut env);
    let record = env.record("off-4").await;
    assert_eq!(record.status.as_str(), "scheduled");
    let arn = flow
        .start_with(execution_input::<OffboardingRequest>(&record))
        .await;

    assert_eq!(env.record("off-4").await.status.as_str(), "scheduled");
    let waiting = alex(&env);
    assert!(waiting.account_enabled, "nothing before the scheduled time");
    assert!(!waiting.groups.is_empty());
    assert!(env.record("off-4").await.removed.is_none());

    let run = flow.finish(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert!(
        onboard_steps::Clock::now(env.clock.as_ref()) >= "2026-03-04T17:00:00Z".parse().unwrap()
    );
    assert!(!alex(&env).account_enabled);
    assert_eq!(env.record("off-4").await.status.as_str(), "completed");
}

#[tokio::test]
async fn a_denied_offboarding_leaves_the_account_as_it_was() {
    let mut env = Env::new().await;
    env.set_variables(&[
        ("require_approval_for_offboarding_users", "1"),
        ("offboarding_user_approval_email", "hr@contoso.com"),
    ])
    .await;
    accept(&env, "off-5", json!({})).await;
    let before = alex(&env);
    let flow = machine(&mut env);
    let record = env.record("off-5").await;
    let arn = flow
        .start_with(execution_input::<OffboardingRequest>(&record))
        .await;
    assert_eq!(
        env.record("off-5").await.status.as_str(),
        "pending_approval"
    );
    let mails = env.mails();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .subject
            .as_deref()
            .unwrap_or_default()
            .contains("offboard AlexW@contoso.com"),
        "{:?}",
        mails[0]
    );

    let page = env.store.pending_decisions(ORG, 10, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    decide(
        &env.deps,
        &flow.callbacks(),
        &page.items[0].id,
        Action::Deny,
        "hr@contoso.com",
    )
    .await
    .unwrap();
    let run = flow.finish(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert_eq!(env.record("off-5").await.status.as_str(), "denied");
    assert_eq!(alex(&env), before, "the account was not changed");
    let notes = env.note_texts();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("hr@contoso.com denied the offboarding of AlexW@contoso.com")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn each_action_run_twice_changes_and_notes_nothing_more() {
    let env = Env::new().await;
    let all: serde_json::Map<String, Value> = onboard_domain::request::OffboardingActions::NAMES
        .iter()
        .map(|n| ((*n).to_owned(), json!(true)))
        .collect();
    accept(&env, "off-6", json!({"actions": all})).await;
    let input = json!({"offboarding_id": "off-6"});
    env.ok("ValidateOffboarding", input.clone()).await;
    env.ok("EnsureOffboardingTicket", input.clone()).await;
    let point = env.ok("RecordRestorePoint", input.clone()).await;
    let first = env.ok("OffboardUser", input.clone()).await;
    let (user, notes, timeline) = (alex(&env), env.notes().len(), env.timeline("off-6").await);

    env.clock.advance(SignedDuration::from_mins(5));
    assert_eq!(env.ok("RecordRestorePoint", input.clone()).await, point);
    let second = env.ok("OffboardUser", input.clone()).await;
    assert_eq!(second, first);
    assert_eq!(alex(&env), user, "nothing changed the second time");
    assert_eq!(env.notes().len(), notes, "no second note");
    assert_eq!(
        env.timeline("off-6").await,
        timeline,
        "no second timeline line"
    );
    // The restore record still says what the user had before, not after.
    assert_eq!(env.record("off-6").await.removed.unwrap()["enabled"], true);

    let done = json!({"offboarding_id": "off-6", "actions": first["actions"]});
    env.ok("CompleteOffboarding", done.clone()).await;
    let notes = env.notes().len();
    env.ok("CompleteOffboarding", done).await;
    assert_eq!(env.notes().len(), notes);
}

#[tokio::test]
async fn a_synced_user_is_offboarded_where_graph_can_and_the_rest_says_why_not() {
    let mut seed = onboard_sandbox::graph::GraphSeed::example();
    let tenant = &mut seed.tenants[0];
    tenant.users.push(onboard_sandbox::graph::UserSeed {
        user_principal_name: "SyncedS@contoso.com".into(),
        display_name: "Sam Synced".into(),
        usage_location: Some("US".into()),
        licenses: vec!["O365_BUSINESS_PREMIUM".into()],
        on_premises_sync_enabled: Some(true),
        ..Default::default()
    });
    for group in &mut tenant.groups {
        if group.display_name == "All Staff" || group.display_name == "HQ Staff (synced)" {
            group.members.push("SyncedS@contoso.com".into());
        }
    }
    let mut env = Env::with(seed, Default::default()).await;
    let form = json!({"organization": ORG, "user_principal_name": "SyncedS@contoso.com"});
    intake::accept::<OffboardingRequest>(&env.deps, "off-7", &form)
        .await
        .unwrap();

    let run = run(&mut env, "off-7").await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let output = run.output.unwrap();
    for name in ["deactivate_user", "reset_password"] {
        let a = action(&output, name);
        assert_eq!(a["outcome"], "skipped", "{name}");
        assert!(
            a["detail"]
                .as_str()
                .unwrap()
                .contains("on-premises active directory"),
            "{a}"
        );
    }
    assert_eq!(action(&output, "revoke_sessions")["outcome"], "done");
    let groups = action(&output, "remove_groups")["detail"].as_str().unwrap();
    assert!(groups.contains("removed from All Staff"), "{groups}");
    assert!(groups.contains("left in HQ Staff (synced)"), "{groups}");

    let user = env
        .graph
        .state()
        .user(TENANT, "SyncedS@contoso.com")
        .unwrap();
    assert!(user.account_enabled, "on-premises AD masters sign-in");
    assert_eq!(user.groups, ["HQ Staff (synced)"]);
    assert!(user.licenses.is_empty());
    assert_eq!(user.sign_in_revocations, 1);
    let record = env.record("off-7").await;
    assert_eq!(record.status.as_str(), "completed");
    assert_eq!(record.removed.unwrap()["synced"], true);
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.contains("deactivate user: skipped (the user is synchronised")),
        "{:?}",
        env.note_texts()
    );
}

#[tokio::test]
async fn with_graph_and_the_psa_failing_now_and_then_it_completes_exactly_once() {
    let mut env = Env::new().await;
    accept(&env, "off-8", json!({})).await;
    let flaky = |seed| onboard_sandbox::faults::FaultSettings {
        error_rate: 0.3,
        error_status: 503,
        seed,
        ..Default::default()
    };
    env.graph.faults().set(flaky(7)).unwrap();
    env.cw.faults().set(flaky(11)).unwrap();

    let run = run(&mut env, "off-8").await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert!(env.graph.faults().injected() > 0, "faults were injected");
    assert!(env.cw.faults().injected() > 0, "faults were injected");

    let user = alex(&env);
    assert!(!user.account_enabled);
    assert_eq!(user.sign_in_revocations, 1, "sessions revoked once");
    assert!(user.groups.is_empty() && user.licenses.is_empty());
    assert_eq!(env.tickets().len(), 1, "one ticket");
    let notes = env.note_texts();
    let count = |text: &str| notes.iter().filter(|n| n.starts_with(text)).count();
    assert_eq!(
        count("Offboarding of AlexW@contoso.com is complete."),
        1,
        "{notes:?}"
    );
    for action in [
        "deactivate user",
        "reset password",
        "remove groups",
        "remove licenses",
    ] {
        let note = format!("Offboarding AlexW@contoso.com: {action}: done");
        assert_eq!(count(&note), 1, "{notes:?}");
    }
    assert_eq!(env.record("off-8").await.status.as_str(), "completed");
}

#[tokio::test]
async fn the_freed_seat_is_given_back_to_the_distributor_once() {
    let mut env = Env::new().await;
    env.set_variables(&[("microsoft_licensing_distributor", "pax8")])
        .await;
    // Contoso buys 3 SPB seats through Pax8 and Alex gets one of them.
    let org = env.deps.connections.organization(ORG).await.unwrap();
    let pax8 = env
        .deps
        .connections
        .distributor(&org, onboard_domain::variables::Distributor::Pax8)
        .await
        .unwrap()
        .unwrap();
    let customer = pax8.find_customer(&org.name).await.unwrap();
    let product = pax8.find_product("SPB").await.unwrap();
    pax8.order(&customer, &product, 3).await.unwrap();
    env.clock.advance(SignedDuration::from_mins(5));
    env.pax8.provision_due();
    let directory = env.deps.connections.directory(&org).await.unwrap();
    let user = directory.user(&org.tenant, ALEX).await.unwrap().unwrap();
    let spb = onboard_connectors::graph::LicenseToAdd {
        sku_id: "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46".into(),
        disabled_plans: Vec::new(),
    };
    directory
        .assign_licenses(&org.tenant, &user.id, &[spb], &[])
        .await
        .unwrap();

    accept(
        &env,
        "off-9",
        json!({"actions": {"reduce_distributor_seats": true}}),
    )
    .await;
    let run = run(&mut env, "off-9").await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let output = run.output.unwrap();
    let seats = action(&output, "reduce_distributor_seats");
    assert_eq!(seats["outcome"], "done", "{seats}");
    assert!(
        seats["detail"].as_str().unwrap().contains("SPB to 2"),
        "{seats}"
    );
    // O365_BUSINESS_PREMIUM is not sold by this Pax8: it says so.
    assert!(
        seats["detail"]
            .as_str()
            .unwrap()
            .contains("O365_BUSINESS_PREMIUM"),
        "{seats}"
    );
    let quantities: Vec<u32> = env
        .pax8
        .subscriptions()
        .iter()
        .map(|s| s.quantity)
        .collect();
    assert_eq!(quantities, [2]);

    // OffboardUser again: the seat is not given back twice.
    env.ok("OffboardUser", json!({"offboarding_id": "off-9"}))
        .await;
    let quantities: Vec<u32> = env
        .pax8
        .subscriptions()
        .iter()
        .map(|s| s.quantity)
        .collect();
    assert_eq!(quantities, [2]);
}

#[tokio::test]
async fn an_offboarding_at_day_9_of_a_commitment_keeps_the_seat_notes_the_renewal_and_completes() {
    let mut env = Env::new().await;
    env.set_variables(&[("microsoft_licensing_distributor", "pax8")])
        .await;
    // Contoso holds 3 SPB seats on a one-year new-commerce term bought today,
    // and Alex gets one of them.
    let bought = onboard_steps::Clock::now(env.clock.as_ref());
    env.pax8
        .add_subscription(onboard_sandbox::pax8::Pax8Subscription {
            id: String::new(),
            company_id: "11111111-1111-1111-1111-111111111111".into(),
            product_id: "22222222-2222-2222-2222-222222222222".into(),
            quantity: 3,
            status: "Active".into(),
            billing_term: "Annual".into(),
            commitment_term: Some("1-Year".into()),
            start_date: Some(bought),
        });
    env.clock.advance(SignedDuration::from_mins(5));
    env.pax8.provision_due();
    let org = env.deps.connections.organization(ORG).await.unwrap();
    let directory = env.deps.connections.directory(&org).await.unwrap();
    let user = directory.user(&org.tenant, ALEX).await.unwrap().unwrap();
    let spb = onboard_connectors::graph::LicenseToAdd {
        sku_id: "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46".into(),
        disabled_plans: Vec::new(),
    };
    directory
        .assign_licenses(&org.tenant, &user.id, &[spb], &[])
        .await
        .unwrap();
    // Nine days later, past the 168 h window.
    env.clock.advance(SignedDuration::from_hours(9 * 24));

    accept(
        &env,
        "off-11",
        json!({"actions": {"reduce_distributor_seats": true}}),
    )
    .await;
    let run = run(&mut env, "off-11").await;

    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let output = run.output.unwrap();
    let seats = action(&output, "reduce_distributor_seats");
    assert_eq!(seats["outcome"], "done", "{seats}");
    let renewal = (bought + SignedDuration::from_hours(365 * 24))
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let detail = seats["detail"].as_str().unwrap();
    assert!(detail.contains("kept 1 seat of SPB"), "{seats}");
    assert!(detail.contains(&renewal), "{seats}");
    let quantities: Vec<u32> = env
        .pax8
        .subscriptions()
        .iter()
        .map(|s| s.quantity)
        .collect();
    assert_eq!(quantities, [3], "the committed seat is kept");
    let notes = env.note_texts();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("kept 1 seat of SPB") && n.contains(&renewal)),
        "{notes:?}"
    );
    assert_eq!(env.record("off-11").await.status.as_str(), "completed");
}

#[tokio::test]
async fn a_bad_offboarding_form_names_every_bad_field_and_stores_nothing() {
    let env = Env::new().await;
    let err = intake::accept::<OffboardingRequest>(
        &env.deps,
        "off-10",
        &json!({
            "organization": ORG,
            "actions": {"deactivate_user": "yes", "fly": true},
            "scheduled_at": "2028-01-01",
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "Request.Invalid");
    let mut fields: Vec<_> = err.field_errors().iter().map(|f| f.field.clone()).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "actions.deactivate_user",
            "actions.fly",
            "user_principal_name"
        ]
    );
    assert!(env.store.get_record("off-10").await.unwrap().is_none());

    // A well-formed form scheduled beyond what one execution can wait for.
    let err = intake::accept::<OffboardingRequest>(
        &env.deps,
        "off-10",
        &json!({"organization": ORG, "user_principal_name": ALEX, "scheduled_at": "2028-01-01"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.field_errors()[0].field, "scheduled_at");
    assert!(env.store.get_record("off-10").await.unwrap().is_none());
}

#[tokio::test]
async fn an_unanswered_offboarding_approval_closes_the_request_and_changes_nothing() {
    let mut env = Env::new().await;
    env.set_variables(&[
        ("require_approval_for_offboarding_users", "1"),
        ("offboarding_user_approval_email", "hr@contoso.com"),
    ])
    .await;
    accept(&env, "off-11", json!({})).await;
    let before = alex(&env);
    let run = run(&mut env, "off-11").await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert_eq!(
        env.record("off-11").await.status.as_str(),
        "approval_timed_out"
    );
    assert_eq!(alex(&env), before);
    assert!(
        env.note_texts().iter().any(
            |n| n.starts_with("Nobody approved or denied the offboarding of AlexW@contoso.com")
        ),
        "{:?}",
        env.note_texts()
    );
}

#[tokio::test]
async fn a_user_the_tenant_does_not_have_fails_the_run_before_anything_changes() {
    let mut env = Env::new().await;
    let form = json!({"organization": ORG, "user_principal_name": "nobody@contoso.com"});
    intake::accept::<OffboardingRequest>(&env.deps, "off-12", &form)
        .await
        .unwrap();
    let run = run(&mut env, "off-12").await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("Request.Invalid"));
    let record = env.record("off-12").await;
    assert_eq!(record.status.as_str(), "failed");
    assert!(record.removed.is_none());
    assert!(
        env.tickets().is_empty(),
        "validation fails before the ticket"
    );
    let timeline = env.timeline("off-12").await;
    assert!(
        timeline
            .iter()
            .any(|l| l.contains("failed at validate_offboarding")
                && l.contains("nobody@contoso.com")),
        "{timeline:?}"
    );
}

#[tokio::test]
async fn an_offboarding_approval_link_asks_about_the_offboarding_and_resumes_once() {
    let env = Env::new().await;
    env.set_variables(&[
        ("require_approval_for_offboarding_users", "1"),
        ("offboarding_user_approval_email", "hr@contoso.com"),
    ])
    .await;
    accept(&env, "off-13", json!({})).await;
    let input = json!({"offboarding_id": "off-13"});
    let plan = env.ok("ValidateOffboarding", input.clone()).await;
    assert_eq!(plan["approval_required"], true);
    env.ok("EnsureOffboardingTicket", input).await;
    let waiting = json!({"offboarding_id": "off-13", "task_token": "token-O", "timeout_seconds": plan["approval_timeout_seconds"]});
    env.ok("RequestOffboardingApproval", waiting.clone()).await;
    env.ok("RequestOffboardingApproval", waiting).await;
    assert_eq!(env.mails().len(), 1, "a retry mails nobody twice");
    assert!(
        env.note_texts().iter().any(|n| n.starts_with(
            "Approval to offboard AlexW@contoso.com was requested from hr@contoso.com"
        )),
        "{:?}",
        env.note_texts()
    );

    let links = crate::support::links_in(&env.mails()[0].body);
    let approve = links.iter().find(|l| l.contains("action=approve")).unwrap();
    let (id, query) = crate::support::query_of(approve);
    let link = onboard_steps::decisions::verify_link(&env.deps, &id, &query)
        .await
        .unwrap();
    let page = onboard_steps::decisions::describe_decision(&env.deps, &link)
        .await
        .unwrap();
    assert!(
        page.question
            .starts_with("Approve offboarding AlexW@contoso.com"),
        "{}",
        page.question
    );
    onboard_steps::decisions::decide_by_link(&env.deps, &env.callbacks, &id, &query, None)
        .await
        .unwrap();
    assert!(
        onboard_steps::decisions::decide_by_link(&env.deps, &env.callbacks, &id, &query, None)
            .await
            .is_err(),
        "already decided"
    );
    assert_eq!(env.callbacks.calls().len(), 1, "resumed once");
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.starts_with("hr@contoso.com approved the offboarding of AlexW@contoso.com")),
        "{:?}",
        env.note_texts()
    );
    assert!(
        alex(&env).account_enabled,
        "nothing changed by approving alone"
    );
}

#[tokio::test]
async fn offboarding_approvers_are_reminded_once_per_period_until_someone_decides() {
    let env = Env::new().await;
    env.set_variables(&[
        ("require_approval_for_offboarding_users", "1"),
        ("offboarding_user_approval_email", "hr@contoso.com"),
        ("approval_reminder_hours", "24"),
    ])
    .await;
    accept(&env, "off-14", json!({})).await;
    let input = json!({"offboarding_id": "off-14"});
    let plan = env.ok("ValidateOffboarding", input.clone()).await;
    env.ok("EnsureOffboardingTicket", input).await;
    env.ok(
        "RequestOffboardingApproval",
        json!({"offboarding_id": "off-14", "task_token": "token-R",
               "timeout_seconds": plan["approval_timeout_seconds"]}),
    )
    .await;
    let reminders = |env: &Env| {
        env.mails()
            .into_iter()
            .filter(|m| {
                m.subject
                    .as_deref()
                    .is_some_and(|s| s.starts_with("Reminder: approval needed to offboard"))
            })
            .collect::<Vec<_>>()
    };

    assert_eq!(
        onboard_steps::remind_approvers(&env.deps, ORG)
            .await
            .unwrap(),
        0,
        "nothing due yet"
    );
    env.clock.advance(SignedDuration::from_hours(25));
    assert_eq!(
        onboard_steps::remind_approvers(&env.deps, ORG)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        onboard_steps::remind_approvers(&env.deps, ORG)
            .await
            .unwrap(),
        0,
        "sent once"
    );
    let sent = reminders(&env);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, ["hr@contoso.com"]);
    assert!(
        sent[0]
            .subject
            .as_deref()
            .unwrap()
            .contains("AlexW@contoso.com")
    );
    let links = crate::support::links_in(&sent[0].body);
    let approve = links.iter().find(|l| l.contains("action=approve")).unwrap();
    assert!(
        env.timeline("off-14")
            .await
            .iter()
            .any(|l| l.contains("reminder 1 sent to the approvers")),
        "{:?}",
        env.timeline("off-14").await
    );

    // The reminder's link decides like the request's.
    let (id, query) = crate::support::query_of(approve);
    onboard_steps::decisions::decide_by_link(&env.deps, &env.callbacks, &id, &query, None)
        .await
        .unwrap();
    env.clock.advance(SignedDuration::from_hours(24));
    assert_eq!(
        onboard_steps::remind_approvers(&env.deps, ORG)
            .await
            .unwrap(),
        0,
        "decided: no reminder"
    );
    assert_eq!(reminders(&env).len(), 1);
}
