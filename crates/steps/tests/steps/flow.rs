//! Each step's happy path, in workflow order.

use jiff::SignedDuration;
use serde_json::json;

use crate::support::{Env, TENANT, password_in_notes};

#[tokio::test]
async fn no_approval_no_delay_free_license_runs_to_completed() {
    let env = Env::new().await;
    env.set_variables(&[("onboarding_password_save_location", "itglue")])
        .await;
    env.submit(
        "ob-1",
        json!({"licenses": ["O365_BUSINESS_PREMIUM"], "groups": ["Sales"], "send_credentials_to": "email"}),
    )
    .await;
    let input = json!({"onboarding_id": "ob-1"});

    let plan = env.ok("Validate", input.clone()).await;
    assert_eq!(plan["approval_required"], false);
    assert_eq!(plan["scheduled"], false);
    assert_eq!(plan["license_timeout_seconds"], 86400);

    let ticket = env.ok("EnsureTicket", input.clone()).await;
    assert_eq!(ticket["psa"], "connectwise");
    let tickets = env.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].summary, "New user: Ana Silva");
    assert_eq!(tickets[0].board.name, "Service Desk");
    assert_eq!(ticket["ticket_id"], tickets[0].id.to_string());

    let user = env.ok("CreateUser", input.clone()).await;
    assert_eq!(user["user_principal_name"], "asilva@contoso.com");
    assert_eq!(user["manager"], "AdeleV@contoso.com");
    let created = env
        .graph
        .state()
        .user(TENANT, "asilva@contoso.com")
        .unwrap();
    assert_eq!(created.display_name, "Ana Silva");
    assert_eq!(created.usage_location.as_deref(), Some("US"));
    assert!(created.force_change_password_next_sign_in);
    assert_eq!(created.manager.as_deref(), Some("AdeleV@contoso.com"));

    let license = env
        .ok(
            "AssignLicense",
            json!({"onboarding_id": "ob-1", "after_purchase": false}),
        )
        .await;
    assert_eq!(license["next"], "done");
    assert_eq!(license["outcome"], "assigned");
    let created = env
        .graph
        .state()
        .user(TENANT, "asilva@contoso.com")
        .unwrap();
    assert_eq!(created.licenses.len(), 1);
    assert_eq!(created.licenses[0].sku_part_number, "O365_BUSINESS_PREMIUM");

    let groups = env.ok("AddGroups", input.clone()).await;
    assert_eq!(groups["added"], json!(["Sales"]));
    assert!(
        env.graph
            .state()
            .group_members(TENANT, "Sales")
            .unwrap()
            .contains(&"asilva@contoso.com".to_owned())
    );

    let credentials = env.ok("DeliverCredentials", input.clone()).await;
    assert_eq!(credentials["delivery"], "password");
    assert_eq!(credentials["sent"], "email");
    let notes = env.note_texts();
    let password = password_in_notes(&notes).expect("the password is in a ticket note");
    assert!(
        env.graph
            .state()
            .password_is(TENANT, "asilva@contoso.com", &password)
    );
    let kept = env.itglue.passwords();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].password, password);
    let mails = env.mails();
    let to_manager: Vec<_> = mails
        .iter()
        .filter(|m| m.to == ["AdeleV@contoso.com"])
        .collect();
    assert_eq!(to_manager.len(), 1);
    assert!(to_manager[0].body.contains(&password));
    assert!(to_manager[0].body.contains("asilva@contoso.com"));

    let done = env.ok("Complete", input).await;
    assert_eq!(done["status"], "completed");
    let record = env.record("ob-1").await;
    assert_eq!(record.status.as_str(), "completed");
    assert_eq!(
        record.user_principal_name.as_deref(),
        Some("asilva@contoso.com")
    );
    assert_eq!(record.license_outcome.map(|o| o.as_str()), Some("assigned"));
    assert_eq!(record.ticket_id, Some(tickets[0].id.to_string()));
    let ticket = &env.tickets()[0];
    assert_eq!(ticket.status.name, "Completed");

    // Notes in workflow order, each once.
    let notes = env.note_texts();
    let order = [
        "Created Ana Silva as asilva@contoso.com",
        "Assigned the O365_BUSINESS_PREMIUM license",
        "Added asilva@contoso.com to 1 group(s): Sales",
        "First password of asilva@contoso.com",
        "was stored in this ticket (internal note), IT Glue",
        "Onboarding of Ana Silva (asilva@contoso.com) is complete",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|needle| {
            notes
                .iter()
                .position(|n| n.contains(needle))
                .unwrap_or_else(|| panic!("no note with {needle:?} in {notes:#?}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{notes:#?}");
    let timeline = env.timeline("ob-1").await;
    for step in [
        "validate",
        "ensure_ticket",
        "create_user",
        "assign_license",
        "add_groups",
        "deliver_credentials",
        "complete",
    ] {
        assert!(
            timeline.iter().any(|e| e.starts_with(&format!("{step}:"))),
            "{step} missing from {timeline:#?}"
        );
    }
}

#[tokio::test]
async fn an_existing_ticket_named_in_the_form_is_used_and_noted() {
    let seed = onboard_sandbox::connectwise::ConnectWiseSeed {
        tickets: vec![onboard_sandbox::connectwise::CwSeedTicket {
            id: 77,
            summary: "New starter".into(),
            company: "ACME".into(),
            board: "Service Desk".into(),
            status: "New".into(),
            priority: "Priority 3 - Normal Response".into(),
        }],
        ..Default::default()
    };
    let env = Env::with(onboard_sandbox::graph::GraphSeed::example(), seed).await;
    env.submit("ob-t", json!({"ticket_id": 77})).await;
    let input = json!({"onboarding_id": "ob-t"});
    env.ok("Validate", input.clone()).await;
    let ticket = env.ok("EnsureTicket", input).await;
    assert_eq!(ticket["ticket_id"], "77");
    assert_eq!(ticket["existing"], true);
    assert_eq!(env.tickets().len(), 1);
    assert_eq!(env.tickets()[0].status.name, "In Progress");
    assert!(env.note_texts()[0].starts_with("Onboard started onboarding Ana Silva"));
}

#[tokio::test]
async fn a_scheduled_start_date_is_planned_and_marked() {
    let env = Env::new().await;
    env.set_variables(&[("allow_scheduled_user_creation", "1")])
        .await;
    env.submit("ob-s", json!({"start_date": "2026-03-12"}))
        .await;
    let input = json!({"onboarding_id": "ob-s"});
    let plan = env.ok("Validate", input.clone()).await;
    assert_eq!(plan["scheduled"], true);
    assert_eq!(plan["start_at"], "2026-03-12T09:00:00Z");
    env.ok("EnsureTicket", input).await;
    env.ok(
        "MarkScheduled",
        json!({"onboarding_id": "ob-s", "start_at": plan["start_at"]}),
    )
    .await;
    assert_eq!(env.record("ob-s").await.status.as_str(), "scheduled");
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.contains("will be created on 2026-03-12 09:00"))
    );
    assert!(!env.users_named("asilva@contoso.com"));
}

#[tokio::test]
async fn a_username_taken_by_a_user_or_an_alias_gets_the_next_candidate() {
    let mut seed = onboard_sandbox::graph::GraphSeed::example();
    let tenant = &mut seed.tenants[0];
    tenant.users.push(onboard_sandbox::graph::UserSeed {
        user_principal_name: "asilva@contoso.com".into(),
        display_name: "Antonio Silva".into(),
        ..Default::default()
    });
    tenant.users.push(onboard_sandbox::graph::UserSeed {
        user_principal_name: "amaral@contoso.com".into(),
        display_name: "Alias Holder".into(),
        proxy_addresses: vec![
            "SMTP:amaral@contoso.com".into(),
            "smtp:asilva2@contoso.com".into(),
        ],
        ..Default::default()
    });
    let env = Env::with(seed, Default::default()).await;
    env.submit("ob-c", json!({})).await;
    let user = env.through_create_user("ob-c").await;
    assert_eq!(user["user_principal_name"], "asilva3@contoso.com");
    let notes = env.note_texts();
    assert!(
        notes[0].starts_with("Created Ana Silva as asilva3@contoso.com (asilva was taken"),
        "{notes:#?}"
    );
    assert!(
        !env.users_named("asilva2@contoso.com"),
        "the alias holder keeps asilva2"
    );
}

#[tokio::test]
async fn no_free_seat_with_a_mapped_distributor_is_bought_once_then_assigned() {
    let env = Env::new().await;
    env.set_variables(&[("microsoft_licensing_distributor", "pax8")])
        .await;
    env.submit("ob-p", json!({"licenses": ["SPB"]})).await;
    env.through_create_user("ob-p").await;
    let input = json!({"onboarding_id": "ob-p"});
    let license = env
        .ok(
            "AssignLicense",
            json!({"onboarding_id": "ob-p", "after_purchase": false}),
        )
        .await;
    assert_eq!(license["next"], "auto_purchase");
    assert_eq!(license["pending"], json!(["SPB"]));

    // Bought, but the seat is not in the tenant yet: the state machine retries.
    let err = env.run("PurchaseLicense", input.clone()).await.unwrap_err();
    assert_eq!(err.name(), "License.SeatsPending");
    let err = env.run("PurchaseLicense", input.clone()).await.unwrap_err();
    assert_eq!(err.name(), "License.SeatsPending");
    assert_eq!(env.pax8.orders().len(), 1, "a retry buys nothing more");

    env.clock.advance(SignedDuration::from_secs(180));
    env.pax8.advance(std::time::Duration::from_secs(180));
    let purchase = env.ok("PurchaseLicense", input.clone()).await;
    assert_eq!(purchase["purchased"], json!(["SPB"]));
    assert_eq!(env.pax8.orders().len(), 1);

    let license = env
        .ok(
            "AssignLicense",
            json!({"onboarding_id": "ob-p", "after_purchase": true}),
        )
        .await;
    assert_eq!(license["outcome"], "purchased");
    let user = env
        .graph
        .state()
        .user(TENANT, "asilva@contoso.com")
        .unwrap();
    assert!(
        user.licenses
            .iter()
            .any(|l| l.sku_part_number == "SPB" && l.active)
    );
    assert_eq!(
        env.record("ob-p").await.license_outcome.map(|o| o.as_str()),
        Some("purchased")
    );
    assert_eq!(
        env.note_texts()
            .iter()
            .filter(|n| n.contains("bought 1 seat through Pax8"))
            .count(),
        1
    );
}

#[tokio::test]
async fn without_a_distributor_or_with_manual_choice_a_technician_is_asked() {
    for (vars, form, reason) in [
        (
            vec![],
            json!({"licenses": ["SPB"]}),
            "not mapped to a license distributor",
        ),
        (
            vec![
                ("microsoft_licensing_distributor", "pax8"),
                ("auto_purchase_license_if_none_available", "0"),
            ],
            json!({"licenses": ["SPB"]}),
            "automatic license purchase is turned off",
        ),
        (
            vec![("microsoft_licensing_distributor", "pax8")],
            json!({"licenses": ["SPB"], "license_purchase": "manual"}),
            "the request asked for a manual purchase",
        ),
    ] {
        let env = Env::new().await;
        env.set_variables(&vars).await;
        env.submit("ob-m", form).await;
        env.through_create_user("ob-m").await;
        let license = env
            .ok(
                "AssignLicense",
                json!({"onboarding_id": "ob-m", "after_purchase": false}),
            )
            .await;
        assert_eq!(license["next"], "manual_purchase", "{reason}");
        env.ok(
            "RequestLicensePurchase",
            json!({"onboarding_id": "ob-m", "task_token": "tok-1", "timeout_seconds": 86400}),
        )
        .await;
        let note = env
            .note_texts()
            .into_iter()
            .find(|n| n.contains("Confirm license purchase:"))
            .unwrap();
        assert!(note.contains(reason), "{note}");
        assert!(note.contains("Reject license purchase: https://onboard.example.com/decisions/"));
        assert_eq!(
            env.record("ob-m").await.status.as_str(),
            "waiting_license_purchase"
        );
        assert_eq!(env.tickets()[0].status.name, "Waiting Customer");
    }
}

#[tokio::test]
async fn a_temporary_access_pass_can_replace_the_password_and_go_by_sms() {
    let env = Env::new().await;
    env.set_variables(&[
        ("credential_delivery", "temporary_access_pass"),
        ("store_password_in_ticket", "0"),
        ("onboarding_password_save_location", "hudu"),
    ])
    .await;
    env.submit(
        "ob-tap",
        json!({"mobile_phone": "+14155550123", "send_credentials_to": "sms"}),
    )
    .await;
    env.through_create_user("ob-tap").await;
    let out = env
        .ok("DeliverCredentials", json!({"onboarding_id": "ob-tap"}))
        .await;
    assert_eq!(out["delivery"], "temporary_access_pass");
    assert_eq!(out["saved"][0]["destination"], "hudu");
    let user = env
        .graph
        .state()
        .user(TENANT, "asilva@contoso.com")
        .unwrap();
    assert!(user.has_temporary_access_pass);
    let sms: Vec<_> = env
        .mails()
        .into_iter()
        .filter(|m| m.to == ["+14155550123"])
        .collect();
    assert_eq!(sms.len(), 1);
    let kept = env.hudu.asset_passwords();
    assert_eq!(kept.len(), 1);
    assert!(sms[0].body.contains(&kept[0].password));
    assert!(
        !env.note_texts()
            .iter()
            .any(|n| n.contains(&kept[0].password))
    );
}

#[tokio::test]
async fn a_password_pusher_link_is_sent_instead_of_the_password() {
    let env = Env::new().await;
    let pwpush_url = format!("{}/sandbox/pwpush", env.base);
    env.set_variables(&[
        ("store_password_in_ticket", "0"),
        ("onboarding_password_save_location", "pwpush"),
        ("pwpush_url", pwpush_url.as_str()),
    ])
    .await;
    env.submit("ob-pp", json!({"send_credentials_to": "email"}))
        .await;
    env.through_create_user("ob-pp").await;
    let out = env
        .ok("DeliverCredentials", json!({"onboarding_id": "ob-pp"}))
        .await;
    assert_eq!(out["saved"][0]["destination"], "pwpush");
    assert_eq!(env.pwpush.pushes().len(), 1);
    let mail = env
        .mails()
        .into_iter()
        .find(|m| m.to == ["AdeleV@contoso.com"])
        .unwrap();
    assert!(mail.body.contains("/p/"), "{}", mail.body);
    assert!(!mail.body.contains(&env.pwpush.pushes()[0].payload));
}

#[tokio::test]
async fn credentials_that_would_reach_nobody_are_refused_before_anything_changes() {
    let env = Env::new().await;
    env.set_variables(&[("default_psa", "none")]).await;
    env.submit("ob-n", json!({"send_credentials_to": "none"}))
        .await;
    // Validate refuses the run before anything is created...
    let err = env
        .run("Validate", json!({"onboarding_id": "ob-n"}))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Config.Invalid");
    assert!(
        err.cause().contains("would reach nobody"),
        "{}",
        err.cause()
    );
    assert!(!env.users_named("asilva@contoso.com"));
    // ...and DeliverCredentials checks again before it sets a password, should the
    // settings change in between.
    env.set_variables(&[("default_psa", "connectwise")]).await;
    env.through_create_user("ob-n").await;
    env.set_variables(&[("default_psa", "none")]).await;
    let err = env
        .run("DeliverCredentials", json!({"onboarding_id": "ob-n"}))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Config.Invalid");
    assert!(
        err.cause().contains("would reach nobody"),
        "{}",
        err.cause()
    );
}

#[tokio::test]
async fn a_password_pusher_destination_without_its_url_stops_at_validate() {
    let env = Env::new().await;
    env.set_variables(&[("onboarding_password_save_location", "pwpush")])
        .await;
    env.submit("ob-pw", json!({})).await;
    let err = env
        .run("Validate", json!({"onboarding_id": "ob-pw"}))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Config.Invalid");
    assert!(
        err.cause().contains("includes pwpush") && err.cause().contains("pwpush_url"),
        "{}",
        err.cause()
    );
    assert!(!env.users_named("asilva@contoso.com"));
}

#[tokio::test]
async fn a_missing_user_to_copy_groups_from_is_noted_not_fatal() {
    let env = Env::new().await;
    env.submit("ob-g", json!({"copy_groups_from": "ghost@contoso.com", "groups": ["Everyone (dynamic)", "All Staff"]}))
        .await;
    env.through_create_user("ob-g").await;
    let out = env.ok("AddGroups", json!({"onboarding_id": "ob-g"})).await;
    assert_eq!(out["added"], json!(["All Staff"]));
    assert_eq!(out["skipped"][0]["group"], "Everyone (dynamic)");
    let note = env
        .note_texts()
        .into_iter()
        .find(|n| n.starts_with("Added asilva@contoso.com"))
        .unwrap();
    assert!(
        note.contains("ghost@contoso.com (no such user to copy from)"),
        "{note}"
    );
    assert!(
        note.contains("Skipped Everyone (dynamic): membership is set by the group's dynamic rule"),
        "{note}"
    );
}

#[tokio::test]
async fn autotask_and_halo_tickets_are_opened_noted_and_completed_too() {
    for psa in ["autotask", "halopsa"] {
        let env = Env::new().await;
        let vars: &[(&str, &str)] = if psa == "autotask" {
            &[
                ("default_psa", "autotask"),
                ("autotask_company_id", "174"),
                ("default_priority", "Medium"),
                ("ticket_status_workflow_complete", "Complete"),
            ]
        } else {
            &[
                ("default_psa", "halopsa"),
                ("halo_psa_client_id", "12"),
                ("default_priority", "Medium"),
                ("ticket_status_waiting_input", "Waiting on User"),
                ("ticket_status_workflow_complete", "Closed"),
            ]
        };
        env.set_variables(vars).await;
        env.submit("ob-psa", json!({"licenses": ["O365_BUSINESS_PREMIUM"]}))
            .await;
        let id = json!({"onboarding_id": "ob-psa"});
        for step in ["Validate", "EnsureTicket", "CreateUser"] {
            env.ok(step, id.clone()).await;
        }
        env.ok(
            "AssignLicense",
            json!({"onboarding_id": "ob-psa", "after_purchase": false}),
        )
        .await;
        for step in ["AddGroups", "DeliverCredentials", "Complete"] {
            env.ok(step, id.clone()).await;
        }
        let notes: Vec<String> = if psa == "autotask" {
            let tickets = env.autotask.tickets();
            assert_eq!(tickets.len(), 1, "{psa}");
            assert_eq!(tickets[0].number("status"), Some(5), "{psa}: Complete");
            env.autotask
                .notes(tickets[0].id())
                .into_iter()
                .map(|n| n.description)
                .collect()
        } else {
            let tickets = env.halo.tickets();
            assert_eq!(tickets.len(), 1, "{psa}");
            assert_eq!(tickets[0].number("status_id"), Some(9), "{psa}: Closed");
            let ticket = tickets[0].number("id").unwrap();
            env.halo
                .actions(ticket)
                .into_iter()
                .map(|a| a.note)
                .collect()
        };
        assert!(
            notes
                .iter()
                .any(|n| n.contains("Created Ana Silva as asilva@contoso.com")),
            "{psa}: {notes:#?}"
        );
        assert!(password_in_notes(&notes).is_some(), "{psa}: password note");
        assert!(notes.iter().any(|n| n.contains("is complete")), "{psa}");
        assert_eq!(env.record("ob-psa").await.status.as_str(), "completed");
        assert!(env.tickets().is_empty(), "nothing in ConnectWise");
    }
}
