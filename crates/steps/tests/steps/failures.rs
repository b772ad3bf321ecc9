//! Failing connectors and bad input map to the right error names; HandleFailure
//! tells the technicians.

use onboard_sandbox::faults::FaultSettings;
use serde_json::json;

use crate::support::Env;

#[tokio::test]
async fn a_throttling_or_failing_graph_is_a_transient_graph_error() {
    let env = Env::new().await;
    env.submit("ob-f", json!({})).await;
    let id = json!({"onboarding_id": "ob-f"});
    env.ok("Validate", id.clone()).await;
    env.ok("EnsureTicket", id.clone()).await;

    env.graph
        .faults()
        .set(FaultSettings {
            throttle_rate: 1.0,
            retry_after_seconds: 1,
            ..FaultSettings::default()
        })
        .unwrap();
    let err = env.run("CreateUser", id.clone()).await.unwrap_err();
    assert_eq!(err.name(), "Graph.Throttled");
    assert!(err.is_transient());

    env.graph
        .faults()
        .set(FaultSettings {
            error_rate: 1.0,
            error_status: 503,
            ..FaultSettings::default()
        })
        .unwrap();
    let err = env.run("CreateUser", id.clone()).await.unwrap_err();
    assert_eq!(err.name(), "Graph.Unavailable");

    env.graph.faults().set(FaultSettings::default()).unwrap();
    env.ok("CreateUser", id).await;
}

#[tokio::test]
async fn bad_input_and_bad_configuration_have_their_own_names() {
    let env = Env::new().await;
    let err = env.run("NoSuchStep", json!({})).await.unwrap_err();
    assert_eq!(err.name(), "Step.UnknownFunction");
    assert!(err.to_string().contains("CreateUser"), "{err}");

    let err = env.run("CreateUser", json!({"id": 1})).await.unwrap_err();
    assert_eq!(err.name(), "Step.InvalidInput");

    let err = env
        .run("Validate", json!({"onboarding_id": "missing"}))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Request.Invalid");

    env.submit("ob-bad", json!({"last_name": "", "usage_location": "Mars"}))
        .await;
    let err = env
        .run("Validate", json!({"onboarding_id": "ob-bad"}))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Request.Invalid");
    let fields: Vec<_> = err
        .field_errors()
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert!(
        fields.contains(&"last_name") && fields.contains(&"usage_location"),
        "{fields:?}"
    );

    env.set_variables(&[("require_approval_for_new_users", "1")])
        .await;
    env.submit("ob-cfg", json!({})).await;
    let err = env
        .run("Validate", json!({"onboarding_id": "ob-cfg"}))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Config.Invalid");
    assert!(
        err.cause().contains("new_user_approval_email"),
        "{}",
        err.cause()
    );
}

#[tokio::test]
async fn an_unknown_ticket_status_is_a_psa_rejection_naming_the_valid_ones() {
    let env = Env::new().await;
    env.set_variables(&[("default_ticket_status", "Doing")])
        .await;
    env.submit("ob-st", json!({})).await;
    let id = json!({"onboarding_id": "ob-st"});
    env.ok("Validate", id.clone()).await;
    let err = env.run("EnsureTicket", id).await.unwrap_err();
    assert_eq!(err.name(), "Psa.Rejected");
    assert!(err.cause().contains("In Progress"), "{}", err.cause());
    assert!(env.tickets().is_empty());
}

#[tokio::test]
async fn a_taken_explicit_username_is_user_exists() {
    let env = Env::new().await;
    env.submit("ob-u", json!({"username": "adelev"})).await;
    let id = json!({"onboarding_id": "ob-u"});
    env.ok("Validate", id.clone()).await;
    env.ok("EnsureTicket", id.clone()).await;
    let err = env.run("CreateUser", id).await.unwrap_err();
    assert_eq!(err.name(), "Graph.UserExists");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn handle_failure_notes_the_ticket_sets_waiting_input_and_records_failed() {
    let env = Env::new().await;
    env.set_variables(&[("failure_email", "alerts@msp.example")])
        .await;
    env.submit("ob-h", json!({"username": "adelev"})).await;
    let id = json!({"onboarding_id": "ob-h"});
    env.ok("Validate", id.clone()).await;
    env.ok("EnsureTicket", id.clone()).await;
    let err = env.run("CreateUser", id).await.unwrap_err();

    // What a Catch puts in the state, as AWS wraps a Lambda error.
    let cause = json!({"errorMessage": err.cause(), "errorType": err.name()}).to_string();
    let payload = json!({
        "onboarding_id": "ob-h",
        "step": "create_user",
        "failure": {"Error": err.name(), "Cause": cause},
    });
    let out = env.ok("HandleFailure", payload.clone()).await;
    assert_eq!(out["status"], "failed");
    assert_eq!(out["noted"], true);
    let record = env.record("ob-h").await;
    assert_eq!(record.status.as_str(), "failed");
    let note = env
        .note_texts()
        .into_iter()
        .find(|n| n.starts_with("Onboard stopped at step create_user"))
        .unwrap();
    assert!(note.contains("Graph.UserExists: user exists"), "{note}");
    assert!(
        note.contains("What to do: choose another username"),
        "{note}"
    );
    assert_eq!(env.tickets()[0].status.name, "Waiting Customer");
    assert_eq!(
        env.mails()
            .iter()
            .filter(|m| m.to == ["alerts@msp.example"])
            .count(),
        1
    );

    // Again: nothing new.
    env.ok("HandleFailure", payload).await;
    assert_eq!(
        env.note_texts()
            .iter()
            .filter(|n| n.starts_with("Onboard stopped"))
            .count(),
        1
    );
    assert_eq!(env.mails().len(), 1);
}

#[tokio::test]
async fn handle_failure_still_records_failed_when_the_onboarding_cannot_load() {
    let env = Env::new().await;
    env.submit("ob-x", json!({"last_name": ""})).await;
    let out = env
        .ok(
            "HandleFailure",
            json!({"onboarding_id": "ob-x", "step": "validate", "failure": {"Error": "Request.Invalid"}}),
        )
        .await;
    assert_eq!(out["noted"], false);
    assert_eq!(env.record("ob-x").await.status.as_str(), "failed");
}

#[tokio::test]
async fn a_run_that_must_send_mail_without_a_sender_stops_at_validate() {
    let env = Env::new().await;
    env.set_variables(&[("send_from_address", "")]).await;
    env.submit("ob-nf", json!({"send_credentials_to": "email"}))
        .await;
    let err = env
        .run("Validate", json!({"onboarding_id": "ob-nf"}))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Config.Invalid");
    assert!(err.cause().contains("send_from_address"), "{}", err.cause());
}

#[tokio::test]
async fn licenses_without_a_psa_or_a_notification_address_are_refused_before_anything_is_created() {
    // Issue 15: a seat that runs out is bought through Confirm / Reject links;
    // with no ticket and no address they reach nobody, so the run must stop
    // before the user exists rather than at RequestLicensePurchase.
    let env = Env::new().await;
    env.set_variables(&[("default_psa", "none")]).await;
    env.submit("ob-nolinks", json!({"licenses": ["SPB"]})).await;

    let err = env
        .run("Validate", json!({"onboarding_id": "ob-nolinks"}))
        .await
        .unwrap_err();

    assert_eq!(err.name(), "Config.Invalid");
    assert!(
        err.cause().contains("onboard_offboard_notification_email")
            && err.cause().contains("default_psa"),
        "{}",
        err.cause()
    );
    assert!(!env.users_named("asilva@contoso.com"));
    // With an address for the links, the same request is planned.
    env.set_variables(&[(
        "onboard_offboard_notification_email",
        "[\"it@msp.example\"]",
    )])
    .await;
    env.ok("Validate", json!({"onboarding_id": "ob-nolinks"}))
        .await;
}

#[tokio::test]
async fn a_start_date_that_will_be_ignored_is_a_warning_on_the_timeline_and_the_ticket() {
    let env = Env::new().await;
    env.set_variables(&[("allow_scheduled_user_creation", "0")])
        .await;
    env.submit("ob-early", json!({"start_date": "2099-01-05"}))
        .await;
    let id = json!({"onboarding_id": "ob-early"});

    let plan = env.ok("Validate", id.clone()).await;
    env.ok("EnsureTicket", id.clone()).await;
    env.ok("EnsureTicket", id).await;

    assert_eq!(plan["scheduled"], false);
    assert!(
        plan["warnings"][0].as_str().unwrap().contains("2099-01-05"),
        "{plan}"
    );
    let timeline = env.timeline("ob-early").await;
    assert!(
        timeline
            .iter()
            .any(|t| t.contains("warning:") && t.contains("allow_scheduled_user_creation is 0")),
        "{timeline:?}"
    );
    let warned: Vec<String> = env
        .note_texts()
        .into_iter()
        .filter(|n| n.contains("Warning: The start date 2099-01-05"))
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
}
