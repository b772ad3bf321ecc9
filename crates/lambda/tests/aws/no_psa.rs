//! An organization with no PSA connector on AWS: the store declares only the
//! organization, mail is the only channel, and nothing is ticketed.

use std::collections::BTreeMap;

use onboard_lambda::{handle, remind_all_approvers};
use onboard_store::{ConnectorSettings, Scope};
use serde_json::json;

use crate::deps;

#[tokio::test]
async fn an_organization_without_a_psa_runs_mail_only() {
    let dir = tempfile::tempdir().unwrap();
    let deps = deps(dir.path()).await;
    // What docs/dynamodb.md asks of an organization: its item, and no PSA connector.
    deps.store
        .put_connector(
            &Scope::Organization("contoso".into()),
            &ConnectorSettings {
                connector: "organization".into(),
                settings: BTreeMap::from([
                    ("name".into(), "Contoso".into()),
                    ("domain".into(), "contoso.com".into()),
                    (
                        "tenant_id".into(),
                        "0f6a4c2e-1d3b-4a5c-9e7f-8b2d6c4a1e3f".into(),
                    ),
                ]),
                secrets: BTreeMap::new(),
            },
        )
        .await
        .unwrap();
    let form = json!({"organization": "contoso", "first_name": "Ada", "last_name": "Lovelace",
                      "manager_email": "AdeleV@contoso.com"});
    onboard_steps::accept::<onboard_domain::OnboardingRequest>(&deps, "onb-no-psa", &form)
        .await
        .unwrap();

    let ticket = handle(
        &deps,
        "EnsureTicket",
        json!({"onboarding_id": "onb-no-psa"}),
    )
    .await
    .unwrap();

    assert_eq!(
        ticket,
        json!({"psa": null, "ticket_id": null, "existing": false})
    );
    let timeline = deps.store.timeline("onb-no-psa").await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.message == "no psa configured: nothing is ticketed"),
        "{timeline:?}"
    );
    // The scheduled reminders find the organization through the same item.
    let reminded = remind_all_approvers(&deps).await.unwrap();
    assert_eq!(
        reminded,
        json!({"organizations": 1, "sent": 0, "failed": []})
    );
}
