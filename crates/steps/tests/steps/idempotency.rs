//! Every step run again changes nothing: one user, one ticket, one order, no second
//! note or mail; and a step retried after failing half-way finishes what it started.

use onboard_sandbox::faults::FaultSettings;
use serde_json::{Value, json};

use crate::support::{Env, TENANT, password_in_notes};

fn down() -> FaultSettings {
    FaultSettings {
        error_rate: 1.0,
        error_status: 503,
        ..FaultSettings::default()
    }
}

#[tokio::test]
async fn every_step_run_twice_duplicates_nothing() {
    let env = Env::new().await;
    env.set_variables(&[("onboarding_password_save_location", "itglue")])
        .await;
    env.submit(
        "ob-2",
        json!({"licenses": ["O365_BUSINESS_PREMIUM"], "groups": ["Sales", "No Such Group"], "copy_groups_from": "AlexW@contoso.com"}),
    )
    .await;
    let id = json!({"onboarding_id": "ob-2"});
    let steps: Vec<(&str, Value)> = vec![
        ("Validate", id.clone()),
        ("EnsureTicket", id.clone()),
        ("CreateUser", id.clone()),
        (
            "AssignLicense",
            json!({"onboarding_id": "ob-2", "after_purchase": false}),
        ),
        ("AddGroups", id.clone()),
        ("DeliverCredentials", id.clone()),
        ("Complete", id.clone()),
    ];
    let mut first = Vec::new();
    for (step, input) in &steps {
        first.push(env.ok(step, input.clone()).await);
    }
    let notes = env.note_texts();
    let mails = env.mails().len();
    let timeline = env.timeline("ob-2").await;
    let itglue_records = env.itglue.passwords().len();
    let password = password_in_notes(&notes).unwrap();

    for ((step, input), before) in steps.iter().zip(&first) {
        let again = env.ok(step, input.clone()).await;
        if *step != "AddGroups" {
            assert_eq!(
                &again, before,
                "{step} answered differently the second time"
            );
        }
    }

    assert_eq!(env.tickets().len(), 1);
    let anas: Vec<_> = ["asilva@contoso.com", "asilva2@contoso.com"]
        .iter()
        .filter(|upn| env.users_named(upn))
        .collect();
    assert_eq!(anas.len(), 1, "one user");
    assert_eq!(env.note_texts(), notes, "no note posted twice");
    assert_eq!(env.mails().len(), mails, "no mail sent twice");
    assert_eq!(
        env.timeline("ob-2").await,
        timeline,
        "no timeline line twice"
    );
    assert_eq!(env.itglue.passwords().len(), itglue_records);
    assert!(
        env.graph
            .state()
            .password_is(TENANT, "asilva@contoso.com", &password),
        "a repeated DeliverCredentials does not change the password"
    );
    let groups = env
        .graph
        .state()
        .user(TENANT, "asilva@contoso.com")
        .unwrap()
        .groups;
    assert!(groups.contains(&"Sales".to_owned()) && groups.contains(&"All Staff".to_owned()));
    assert!(
        notes
            .iter()
            .any(|n| n.contains("Not found, so not added") && n.contains("No Such Group"))
    );
}

#[tokio::test]
async fn create_user_retried_after_failing_half_way_finds_the_user_it_created() {
    let env = Env::new().await;
    env.submit("ob-3", json!({})).await;
    let id = json!({"onboarding_id": "ob-3"});
    env.ok("Validate", id.clone()).await;
    env.ok("EnsureTicket", id.clone()).await;

    // The user is created, then the ticket note fails.
    env.cw.faults().set(down()).unwrap();
    let err = env.run("CreateUser", id.clone()).await.unwrap_err();
    assert_eq!(err.name(), "Psa.Unavailable");
    assert!(err.is_transient());
    assert!(env.users_named("asilva@contoso.com"));

    env.cw.faults().set(FaultSettings::default()).unwrap();
    let user = env.ok("CreateUser", id).await;
    assert_eq!(user["user_principal_name"], "asilva@contoso.com");
    assert!(!env.users_named("asilva2@contoso.com"), "no second user");
    assert_eq!(
        env.note_texts()
            .iter()
            .filter(|n| n.starts_with("Created Ana Silva"))
            .count(),
        1
    );
}

#[tokio::test]
async fn credentials_retried_after_failing_half_way_are_made_again_and_say_so() {
    let env = Env::new().await;
    env.submit("ob-4", json!({"send_credentials_to": "email"}))
        .await;
    env.through_create_user("ob-4").await;
    let id = json!({"onboarding_id": "ob-4"});

    // The password is set in Entra ID, then the ticket is down.
    env.cw.faults().set(down()).unwrap();
    let err = env.run("DeliverCredentials", id.clone()).await.unwrap_err();
    assert_eq!(err.name(), "Psa.Unavailable");
    assert!(env.mails().iter().all(|m| m.to != ["AdeleV@contoso.com"]));

    env.cw.faults().set(FaultSettings::default()).unwrap();
    let out = env.ok("DeliverCredentials", id.clone()).await;
    assert_eq!(out["attempt"], 2);
    let notes = env.note_texts();
    let password = password_in_notes(&notes).unwrap();
    assert!(
        env.graph
            .state()
            .password_is(TENANT, "asilva@contoso.com", &password)
    );
    let manager_mails: Vec<_> = env
        .mails()
        .into_iter()
        .filter(|m| m.to == ["AdeleV@contoso.com"])
        .collect();
    assert_eq!(manager_mails.len(), 1);
    assert!(manager_mails[0].body.contains(&password));
    assert!(manager_mails[0].body.contains("attempt 2"));

    // Done now: a third run changes nothing.
    let again = env.ok("DeliverCredentials", id).await;
    assert_eq!(again, out);
    assert!(
        env.graph
            .state()
            .password_is(TENANT, "asilva@contoso.com", &password)
    );
}

#[tokio::test]
async fn ensure_ticket_retried_after_the_psa_failed_opens_one_ticket() {
    let env = Env::new().await;
    env.submit("ob-5", json!({})).await;
    let id = json!({"onboarding_id": "ob-5"});
    env.ok("Validate", id.clone()).await;
    env.cw.faults().set(down()).unwrap();
    assert_eq!(
        env.run("EnsureTicket", id.clone())
            .await
            .unwrap_err()
            .name(),
        "Psa.Unavailable"
    );
    env.cw.faults().set(FaultSettings::default()).unwrap();
    let a = env.ok("EnsureTicket", id.clone()).await;
    let b = env.ok("EnsureTicket", id).await;
    assert_eq!(a, b);
    assert_eq!(env.tickets().len(), 1);
}

#[tokio::test]
async fn same_name_onboardings_created_at_once_each_get_their_own_username() {
    // Eight "Ana Silva"s pick their username at the same moment: each sees
    // `asilva` free, and all but one lose it to another onboarding before
    // creating. A lost candidate must move on to the next one, not fail the run.
    let env = Env::new().await;
    let ids: Vec<String> = (0..8).map(|i| format!("ob-same-{i}")).collect();
    for id in &ids {
        env.submit(id, json!({})).await;
        let input = json!({"onboarding_id": id});
        env.ok("Validate", input.clone()).await;
        env.ok("EnsureTicket", input).await;
    }

    let runs = ids
        .iter()
        .map(|id| env.run("CreateUser", json!({"onboarding_id": id})));
    let results = futures::future::join_all(runs).await;

    let mut upns: Vec<String> = results
        .into_iter()
        .map(|r| {
            r.expect("every onboarding creates its user")["user_principal_name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    upns.sort();
    upns.dedup();
    assert_eq!(upns.len(), 8, "{upns:?}");
    for upn in &upns {
        assert!(env.users_named(upn), "{upn} is in the tenant");
    }
    // A retry of each step answers the same user, creating nothing more.
    for id in &ids {
        let again = env.ok("CreateUser", json!({"onboarding_id": id})).await;
        assert!(upns.contains(&again["user_principal_name"].as_str().unwrap().to_owned()));
    }
}

#[tokio::test]
async fn create_user_whose_answer_is_lost_finds_its_own_user_and_makes_no_second_one() {
    // Issue 15: Graph creates the user, then the answer is lost (504 or a closed
    // connection). Resending the POST would meet ObjectConflict and make `asilva2`.
    let env = Env::new().await;
    // No manager: creating the user is CreateUser's only write to Graph.
    env.submit("ob-lost", json!({"manager_email": null})).await;
    let id = json!({"onboarding_id": "ob-lost"});
    env.ok("Validate", id.clone()).await;
    env.ok("EnsureTicket", id.clone()).await;
    env.graph
        .faults()
        .set(FaultSettings {
            lost_answer_rate: 1.0,
            ..FaultSettings::default()
        })
        .unwrap();

    let user = env.ok("CreateUser", id.clone()).await;

    assert_eq!(user["user_principal_name"], "asilva@contoso.com");
    assert_eq!(
        env.graph.faults().lost_answers(),
        1,
        "the create was sent again"
    );
    assert!(!env.users_named("asilva2@contoso.com"), "a second user");
    let state = env.graph.state().state_json();
    let marked = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["onPremisesExtensionAttributes"]["extensionAttribute15"] == "onboard:ob-lost")
        .count();
    assert_eq!(marked, 1, "one user carries the onboarding's mark");
    // Run again: the same user, nothing more.
    env.graph.faults().set(FaultSettings::default()).unwrap();
    assert_eq!(env.ok("CreateUser", id).await, user);
}
