//! The table's shape (keys, indexes, TTL), as `docs/dynamodb.md` describes it.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use crate::StoreError;

/// Partition key attribute.
pub(crate) const PK: &str = "pk";
/// Sort key attribute.
pub(crate) const SK: &str = "sk";
/// GSI1: records by organization; pending decisions by organization.
pub(crate) const GSI1: &str = "gsi1";
pub(crate) const GSI1_PK: &str = "gsi1pk";
pub(crate) const GSI1_SK: &str = "gsi1sk";
/// GSI2: records by status.
pub(crate) const GSI2: &str = "gsi2";
pub(crate) const GSI2_PK: &str = "gsi2pk";
pub(crate) const GSI2_SK: &str = "gsi2sk";
/// GSI3: records by status, newest first: keyed on attributes records already
/// carry (`gsi2pk`, and `gsi1sk` = `<created_us>#<id>`), so no item is rewritten
/// for it and records written before it existed are indexed too.
pub(crate) const GSI3: &str = "gsi3";
/// TTL attribute (epoch seconds) on decisions and step results.
pub(crate) const TTL: &str = "ttl";

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::dynamo("CreateTable", e)
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_err)
}

fn string_attr(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_err)
}

fn gsi(name: &str, pk: &str, sk: &str) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash)?)
        .key_schema(key(sk, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_err)
}

/// Creates the table (on-demand billing) with its three GSIs, waits until it is
/// active, and turns TTL on. For tests and local development: on AWS the
/// SAM template creates the same table.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(gsi(GSI1, GSI1_PK, GSI1_SK)?)
        .global_secondary_indexes(gsi(GSI2, GSI2_PK, GSI2_SK)?)
        .global_secondary_indexes(gsi(GSI3, GSI2_PK, GSI1_SK)?);
    for name in [PK, SK, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK] {
        request = request.attribute_definitions(string_attr(name)?);
    }
    request
        .send()
        .await
        .map_err(|e| StoreError::dynamo("CreateTable", e))?;

    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("DescribeTable", e))?;
        let status = described.table.and_then(|t| t.table_status);
        if status == Some(TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL)
                .enabled(true)
                .build()
                .map_err(|e| StoreError::dynamo("UpdateTimeToLive", e))?,
        )
        .send()
        .await
        .map_err(|e| StoreError::dynamo("UpdateTimeToLive", e))?;
    Ok(())
}
