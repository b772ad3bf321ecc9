//! DynamoDB-only checks: what is in the table, item by item.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use onboard_store::{DecisionKind, NewDecision, NewRecord, RecordKind, Status, Store};
use secrecy::SecretString;

use crate::backends::dynamodb_store;

#[tokio::test]
async fn the_task_token_is_not_stored_in_plain() -> anyhow::Result<()> {
    let store = dynamodb_store().await?;
    let token = "PlainTaskTokenThatMustNotBeStored";
    store
        .create_record(NewRecord {
            id: "r1".into(),
            kind: RecordKind::Onboarding,
            organization: "contoso".into(),
            status: Status::PendingApproval,
            request: serde_json::json!({}),
            ticket_id: None,
            created_at: Timestamp::UNIX_EPOCH,
        })
        .await?;
    let d = store
        .create_decision(NewDecision {
            kind: DecisionKind::Approval,
            record_id: "r1".into(),
            task_token: SecretString::from(token.to_owned()),
            expires_at: Timestamp::from_second(10_000)?,
            created_at: Timestamp::UNIX_EPOCH,
        })
        .await?;
    let item = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("DEC#{}", d.id)))
        .key("sk", AttributeValue::S("DEC".into()))
        .send()
        .await?
        .item
        .context("decision item")?;
    let dump = format!("{item:?}");
    assert!(!dump.contains(token), "plain token in {dump}");
    assert!(dump.contains("sealed_token"));
    assert!(matches!(item.get("ttl"), Some(AttributeValue::N(_))));
    Ok(())
}
