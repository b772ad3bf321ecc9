//! `accept` of an onboarding: what `POST /api/onboardings` stores, and what it refuses.

use onboard_domain::OnboardingRequest;
use onboard_steps::{accept, execution_input};
use onboard_store::Store;
use serde_json::json;

use crate::support::{Env, ORG};

#[tokio::test]
async fn a_good_form_is_stored_with_the_status_of_its_first_wait() {
    let env = Env::new().await;
    let record = accept::<OnboardingRequest>(
        &env.deps,
        "ob-i1",
        &json!({"organization": ORG, "first_name": "Ana", "last_name": "Silva", "ticket_id": 77}),
    )
    .await
    .unwrap();
    assert_eq!(record.status.as_str(), "running");
    assert_eq!(record.ticket_id.as_deref(), Some("77"));
    assert_eq!(
        execution_input::<OnboardingRequest>(&record),
        json!({"onboarding_id": "ob-i1"})
    );

    env.set_variables(&[
        ("require_approval_for_new_users", "1"),
        ("new_user_approval_email", "hr@contoso.com"),
    ])
    .await;
    let record = accept::<OnboardingRequest>(
        &env.deps,
        "ob-i2",
        &json!({"organization": ORG, "first_name": "Ana", "last_name": "Silva"}),
    )
    .await
    .unwrap();
    assert_eq!(record.status.as_str(), "pending_approval");
}

#[tokio::test]
async fn a_bad_form_names_every_bad_field_and_stores_nothing() {
    let env = Env::new().await;
    let err = accept::<OnboardingRequest>(
        &env.deps,
        "ob-i3",
        &json!({"organization": ORG, "first_name": "Ana", "licenses": ["not a sku"], "manager_email": "nope"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "Request.Invalid");
    let fields: Vec<_> = err.field_errors().iter().map(|f| f.field.clone()).collect();
    assert_eq!(
        fields,
        ["last_name", "manager_email", "licenses[0]"],
        "{err}"
    );
    assert!(env.store.get_record("ob-i3").await.unwrap().is_none());

    let err = accept::<OnboardingRequest>(
        &env.deps,
        "ob-i4",
        &json!({"organization": "fabrikam", "first_name": "Ana", "last_name": "Silva"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "Request.Invalid");
    assert!(env.store.get_record("ob-i4").await.unwrap().is_none());
}

#[tokio::test]
async fn a_start_date_beyond_what_an_execution_can_wait_is_refused() {
    let env = Env::new().await;
    env.set_variables(&[("allow_scheduled_user_creation", "1")])
        .await;
    let form = json!({"organization": ORG, "first_name": "Ana", "last_name": "Silva", "start_date": "2027-06-01"});
    let err = accept::<OnboardingRequest>(&env.deps, "ob-i5", &form)
        .await
        .unwrap_err();
    assert_eq!(err.field_errors()[0].field, "start_date", "{err}");
    let ok = json!({"organization": ORG, "first_name": "Ana", "last_name": "Silva", "start_date": "2026-12-01"});
    let record = accept::<OnboardingRequest>(&env.deps, "ob-i6", &ok)
        .await
        .unwrap();
    assert_eq!(record.status.as_str(), "scheduled");
}
