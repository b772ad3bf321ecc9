//! The DynamoDB calls the store is made of: one item, a query's pages, a
//! transaction retried while another write holds its items.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::items::s;
use super::table::{PK, SK};
use super::{DynamoStore, Item};
use crate::StoreError;

impl DynamoStore {
    pub(super) async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", e))?;
        Ok(out.item)
    }

    /// Deletes one item; `false` when there was none.
    pub(super) async fn delete_existing(&self, pk: String, sk: String) -> Result<bool, StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match delete {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(StoreError::dynamo("DeleteItem", e)),
        }
    }

    /// Runs one paged query; `pk_attr = pk` and, when given, `begins_with(sk_attr, prefix)`.
    pub(super) async fn query_page(
        &self,
        index: Option<&str>,
        (pk_attr, pk): (&str, String),
        sk_prefix: Option<(&str, String)>,
        limit: Option<u32>,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut condition = "#pk = :pk".to_owned();
        let mut request = self
            .client
            .query()
            .table_name(&*self.table)
            .set_index_name(index.map(str::to_owned))
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(pk))
            .set_exclusive_start_key(start)
            .set_limit(limit.map(|l| l as i32));
        if let Some((sk_attr, prefix)) = sk_prefix {
            condition.push_str(" AND begins_with(#sk, :prefix)");
            request = request
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":prefix", s(prefix));
        }
        if index.is_none() {
            request = request.consistent_read(true);
        }
        let out = request
            .key_condition_expression(condition)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", e))?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// Up to `n` items of one index partition, newest first (`ScanIndexForward`
    /// false), whose sort key satisfies `sk`; and whether more are left.
    pub(super) async fn query_desc(
        &self,
        index: &str,
        (pk_attr, pk): (&str, String),
        (sk_attr, sk): (&str, SortBound),
        n: usize,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&*self.table)
                .index_name(index)
                .scan_index_forward(false)
                .expression_attribute_names("#pk", pk_attr)
                .expression_attribute_values(":pk", s(&pk))
                .set_exclusive_start_key(start.take())
                .limit(i32::try_from(n - out.len()).unwrap_or(i32::MAX));
            let condition = match &sk {
                SortBound::Any => "#pk = :pk".to_owned(),
                SortBound::Below(hi) => {
                    request = request
                        .expression_attribute_names("#sk", sk_attr)
                        .expression_attribute_values(":hi", s(hi));
                    "#pk = :pk AND #sk < :hi".to_owned()
                }
                SortBound::Between(lo, hi) => {
                    request = request
                        .expression_attribute_names("#sk", sk_attr)
                        .expression_attribute_values(":lo", s(lo))
                        .expression_attribute_values(":hi", s(hi));
                    "#pk = :pk AND #sk BETWEEN :lo AND :hi".to_owned()
                }
            };
            let page = request
                .key_condition_expression(condition)
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", e))?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if out.len() < n => start = Some(key),
                Some(_) => return Ok((out, true)),
                None => return Ok((out, false)),
            }
        }
    }

    /// Every item of a query, following `LastEvaluatedKey` to the end.
    pub(super) async fn query_all(
        &self,
        pk: (&str, String),
        sk_prefix: Option<(&str, String)>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let (items, next) = self
                .query_page(None, (pk.0, pk.1.clone()), sk_prefix.clone(), None, start)
                .await?;
            all.extend(items);
            match next {
                Some(key) => start = Some(key),
                None => return Ok(all),
            }
        }
    }

    /// Runs a transaction. A cancellation because a condition failed is
    /// returned as `Ok(Err(..))`; one because another transaction touched the
    /// same items (`TransactionConflict`, which the SDK does not retry) is
    /// retried a few times with jittered backoff.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), TransactFailure>, StoreError> {
        const ATTEMPTS: u32 = 6;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let e = match result {
                Ok(_) => return Ok(Ok(())),
                Err(e) => e,
            };
            if let SdkError::ServiceError(service) = &e
                && let TransactWriteItemsError::TransactionCanceledException(cancelled) =
                    service.err()
            {
                let reasons = cancelled.cancellation_reasons();
                if reasons
                    .iter()
                    .any(|r| r.code() == Some("ConditionalCheckFailed"))
                {
                    let failed = reasons
                        .iter()
                        .map(|r| r.code() == Some("ConditionalCheckFailed"))
                        .collect();
                    return Ok(Err(TransactFailure { failed }));
                }
                if attempt < ATTEMPTS
                    && reasons
                        .iter()
                        .any(|r| r.code() == Some("TransactionConflict"))
                {
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
            }
            return Err(StoreError::dynamo("TransactWriteItems", e));
        }
    }
}

/// 10 ms, 20 ms, 40 ms, ... with up to 50% random jitter.
pub(super) fn backoff(attempt: u32) -> std::time::Duration {
    let base = 10u64 << attempt.min(8);
    let mut byte = [0u8; 1];
    let jitter = match getrandom::fill(&mut byte) {
        Ok(()) => base * u64::from(byte[0]) / 512,
        Err(_) => 0,
    };
    std::time::Duration::from_millis(base + jitter)
}

/// Which actions of a cancelled transaction failed their condition.
pub(super) struct TransactFailure {
    pub(super) failed: Vec<bool>,
}

pub(super) fn condition_failed<E>(
    e: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    matches!(e, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

/// A condition on an index's sort key in [`DynamoStore::query_desc`].
pub(super) enum SortBound {
    /// Every item of the partition.
    Any,
    /// Sort keys below this one.
    Below(String),
    /// Sort keys from the first to the second, both included.
    Between(String, String),
}

pub(super) fn build_err(
    operation: &'static str,
) -> impl Fn(aws_sdk_dynamodb::error::BuildError) -> StoreError {
    move |e| StoreError::dynamo(operation, e)
}
