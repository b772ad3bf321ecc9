//! The AWS backend: one DynamoDB table, single-table design (`docs/dynamodb.md`).
//!
//! Single-use transitions are conditional writes; a change to two items is one
//! `TransactWriteItems`; every query pages. The SDK retries throttling and
//! transient errors in its standard retry mode.
//!
//! `mod.rs` is the [`Store`] operation by operation; `requests.rs` the calls it
//! is made of, `items.rs` the item shapes, `keys.rs` every key, `table.rs` the
//! table and its indexes.

mod items;
mod keys;
mod requests;
mod table;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, TransactWriteItem, Update,
};
use jiff::Timestamp;
use secrecy::SecretString;

use items::{
    decision_from, decode_cursor, encode_cursor, event_item, get_i64, get_s, n, record_from,
    record_item, s, stored_template, time,
};
use keys::*;
use requests::{SortBound, build_err, condition_failed};
pub use table::create_table;
use table::{GSI1, GSI1_PK, GSI1_SK, GSI2, GSI2_PK, GSI2_SK, GSI3, PK, SK, TTL};

use crate::StoreError;
use crate::model::{
    ConnectorSettings, Cursor, Decide, DecideOutcome, Decision, DecisionState, NewDecision,
    NewRecord, Page, RecentCursor, RecentFilter, Record, RecordFilter, RecordKind, RecordUpdate,
    Scope, StoredTemplate, TimelineEvent, Variables, random_id, sort_time,
};
use crate::store::{Store, check_limit};
use crate::token::TokenKey;

/// How long a decision item outlives its expiry before TTL may delete it.
const DECISION_RETENTION_SECS: i64 = 30 * 24 * 3600;

type Item = HashMap<String, AttributeValue>;

/// The DynamoDB [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    key: Arc<TokenKey>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DynamoStore {
    /// A store over `table` with an existing client.
    pub fn new(client: Client, table: impl Into<Arc<str>>, key: TokenKey) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            key: Arc::new(key),
        }
    }

    /// A store over `table` with a client configured from the environment
    /// (region, credentials, `AWS_ENDPOINT_URL`) in the standard retry mode.
    pub async fn from_env(table: impl Into<Arc<str>>, key: TokenKey) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
            .load()
            .await;
        Self::new(Client::new(&config), table, key)
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client, e.g. to create the table in tests with [`create_table`].
    pub fn client(&self) -> &Client {
        &self.client
    }
}
#[async_trait]
impl Store for DynamoStore {
    async fn create_record(&self, new: NewRecord) -> Result<Record, StoreError> {
        let record = Record {
            id: new.id,
            kind: new.kind,
            organization: new.organization,
            status: new.status,
            request: new.request,
            user_principal_name: None,
            ticket_id: new.ticket_id,
            license_outcome: None,
            removed: None,
            waiting_until: None,
            created_at: new.created_at,
            updated_at: new.created_at,
        };
        let result = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(record_item(&record)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(record),
            Err(e) if condition_failed(&e) => Err(StoreError::AlreadyExists {
                what: "record",
                id: record.id,
            }),
            Err(e) => Err(StoreError::dynamo("PutItem", e)),
        }
    }

    async fn get_record(&self, id: &str) -> Result<Option<Record>, StoreError> {
        self.get_item(record_key(id), RECORD_SK)
            .await?
            .as_ref()
            .map(record_from)
            .transpose()
    }

    async fn update_record(
        &self,
        id: &str,
        update: RecordUpdate,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut sets = vec!["updated_at = :updated_at".to_owned()];
        let mut names = HashMap::new();
        let mut values = HashMap::from([(":updated_at".to_owned(), s(at.to_string()))]);
        if let Some(status) = update.status {
            // The record's kind is needed for the GSI2 key: read it (ids never change kind).
            let item = self
                .get_item(record_key(id), RECORD_SK)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: "record",
                    id: id.to_owned(),
                })?;
            let kind: RecordKind = get_s(&item, "kind")?.parse()?;
            sets.push("#status = :status".to_owned());
            sets.push(format!("{GSI2_PK} = :gsi2pk"));
            names.insert("#status".to_owned(), "status".to_owned());
            values.insert(":status".to_owned(), s(status.as_str()));
            values.insert(":gsi2pk".to_owned(), s(status_pk(kind, status)));
        }
        let mut set_plain = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                sets.push(format!("{name} = :{name}"));
                values.insert(format!(":{name}"), s(value));
            }
        };
        set_plain("user_principal_name", update.user_principal_name);
        set_plain("ticket_id", update.ticket_id);
        set_plain(
            "license_outcome",
            update.license_outcome.map(|l| l.as_str().to_owned()),
        );
        set_plain(
            "removed",
            update
                .removed
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        );
        set_plain("waiting_until", update.waiting_until.map(|t| t.to_string()));
        let expression = format!("SET {}", sets.join(", "));
        let mut condition = "attribute_exists(pk)".to_owned();
        if let Some(expected) = update.expect_status {
            condition.push_str(" AND #status = :expected");
            names.insert("#status".to_owned(), "status".to_owned());
            values.insert(":expected".to_owned(), s(expected.as_str()));
        }
        // A failed condition is either case: read which.
        let refused = || async {
            match (
                update.expect_status,
                self.get_item(record_key(id), RECORD_SK).await,
            ) {
                (Some(expected), Ok(Some(_))) => StoreError::StatusChanged {
                    id: id.to_owned(),
                    expected,
                },
                (_, Err(e)) => e,
                _ => StoreError::NotFound {
                    what: "record",
                    id: id.to_owned(),
                },
            }
        };

        match update.event {
            None => {
                let result = self
                    .client
                    .update_item()
                    .table_name(&*self.table)
                    .key(PK, s(record_key(id)))
                    .key(SK, s(RECORD_SK))
                    .update_expression(expression)
                    .condition_expression(condition)
                    .set_expression_attribute_names((!names.is_empty()).then_some(names))
                    .set_expression_attribute_values(Some(values))
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) if condition_failed(&e) => Err(refused().await),
                    Err(e) => Err(StoreError::dynamo("UpdateItem", e)),
                }
            }
            Some(event) => {
                let update = Update::builder()
                    .table_name(&*self.table)
                    .key(PK, s(record_key(id)))
                    .key(SK, s(RECORD_SK))
                    .update_expression(expression)
                    .condition_expression(condition)
                    .set_expression_attribute_names((!names.is_empty()).then_some(names))
                    .set_expression_attribute_values(Some(values))
                    .build()
                    .map_err(build_err("TransactWriteItems"))?;
                let put = Put::builder()
                    .table_name(&*self.table)
                    .set_item(Some(event_item(id, &event)?))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(build_err("TransactWriteItems"))?;
                let written = self
                    .transact(vec![
                        TransactWriteItem::builder().update(update).build(),
                        TransactWriteItem::builder().put(put).build(),
                    ])
                    .await?;
                match written {
                    Ok(()) => Ok(()),
                    Err(_) => Err(refused().await),
                }
            }
        }
    }

    async fn list_records(
        &self,
        kind: RecordKind,
        filter: &RecordFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Record>, StoreError> {
        let limit = check_limit(limit)?;
        let (index, pk_attr, pk, prefix) = match filter {
            RecordFilter::Organization(org) => (GSI1, GSI1_PK, org_pk(kind, org), None),
            RecordFilter::Status(status) => (GSI2, GSI2_PK, status_pk(kind, *status), None),
            RecordFilter::OrganizationAndStatus(org, status) => (
                GSI2,
                GSI2_PK,
                status_pk(kind, *status),
                Some((GSI2_SK, format!("{}#", key_part(org)))),
            ),
        };
        let start = decode_cursor(cursor, pk_attr, &pk, prefix.as_ref())?;
        let (items, last) = self
            .query_page(Some(index), (pk_attr, pk), prefix, Some(limit), start)
            .await?;
        Ok(Page {
            items: items.iter().map(record_from).collect::<Result<_, _>>()?,
            next: encode_cursor(last)?,
        })
    }

    async fn list_recent(
        &self,
        kind: RecordKind,
        filter: &RecentFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Record>, StoreError> {
        let limit = check_limit(limit)?;
        let signature = filter.signature(kind);
        let cursor = RecentCursor::decode(cursor, &signature)?;
        let below = cursor.as_ref().map(|c| recent_key(c.t, &c.i));
        // One more than a page from each partition tells whether another page follows.
        let want = limit as usize + 1;
        let statuses: Vec<crate::model::Status> = match filter.status {
            Some(status) => vec![status],
            None => crate::model::Status::ALL.to_vec(),
        };
        let mut items = Vec::new();
        let mut more = false;
        match (&filter.organization, filter.status) {
            (Some(org), None) => {
                let bound = below.clone().map_or(SortBound::Any, SortBound::Below);
                let (found, left) = self
                    .query_desc(GSI1, (GSI1_PK, org_pk(kind, org)), (GSI1_SK, bound), want)
                    .await?;
                items = found;
                more = left;
            }
            (Some(org), Some(status)) => {
                // gsi2sk is `<org>#<created_us>#<id>`: the organization's range, below the cursor
                // (BETWEEN includes its upper end: the cursor's own item is dropped below).
                let prefix = format!("{}#", key_part(org));
                let hi = match &below {
                    Some(b) => format!("{prefix}{b}"),
                    None => format!("{prefix}~"),
                };
                let (found, left) = self
                    .query_desc(
                        GSI2,
                        (GSI2_PK, status_pk(kind, status)),
                        (GSI2_SK, SortBound::Between(prefix, hi)),
                        want + 1,
                    )
                    .await?;
                items = found;
                more = left;
            }
            (None, _) => {
                // Every status's partition of gsi3, newest first, merged below.
                let queries = statuses.iter().map(|status| {
                    let bound = below.clone().map_or(SortBound::Any, SortBound::Below);
                    self.query_desc(
                        GSI3,
                        (GSI2_PK, status_pk(kind, *status)),
                        (GSI1_SK, bound),
                        want,
                    )
                });
                for result in futures::future::join_all(queries).await {
                    let (found, left) = result?;
                    items.extend(found);
                    more |= left;
                }
            }
        }
        let mut records: Vec<Record> = items
            .iter()
            .map(record_from)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|r| {
                below
                    .as_ref()
                    .is_none_or(|b| recent_key(r.created_at.as_microsecond(), &r.id) < *b)
            })
            .collect();
        records.sort_by_cached_key(|r| {
            std::cmp::Reverse(recent_key(r.created_at.as_microsecond(), &r.id))
        });
        more |= records.len() > limit as usize;
        records.truncate(limit as usize);
        let next = match (more, records.last()) {
            (true, Some(last)) => Some(
                RecentCursor {
                    q: signature,
                    t: last.created_at.as_microsecond().max(0),
                    i: last.id.clone(),
                }
                .encode()?,
            ),
            _ => None,
        };
        Ok(Page {
            items: records,
            next,
        })
    }

    async fn append_event(&self, record_id: &str, event: TimelineEvent) -> Result<(), StoreError> {
        // The event and the record's updated_at change together, or not at all.
        let touch = Update::builder()
            .table_name(&*self.table)
            .key(PK, s(record_key(record_id)))
            .key(SK, s(RECORD_SK))
            .update_expression("SET updated_at = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", s(event.at.to_string()))
            .build()
            .map_err(build_err("TransactWriteItems"))?;
        let put = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(event_item(record_id, &event)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_err("TransactWriteItems"))?;
        self.transact(vec![
            TransactWriteItem::builder().update(touch).build(),
            TransactWriteItem::builder().put(put).build(),
        ])
        .await?
        .map_err(|_| StoreError::NotFound {
            what: "record",
            id: record_id.to_owned(),
        })
    }

    async fn timeline(&self, record_id: &str) -> Result<Vec<TimelineEvent>, StoreError> {
        let items = self
            .query_all(
                (PK, record_key(record_id)),
                Some((SK, EVENT_PREFIX.to_owned())),
            )
            .await?;
        items
            .iter()
            .map(|item| {
                Ok(TimelineEvent {
                    at: time(item, "at")?,
                    step: get_s(item, "step")?.to_owned(),
                    message: get_s(item, "message")?.to_owned(),
                })
            })
            .collect()
    }

    async fn create_decision(&self, new: NewDecision) -> Result<Decision, StoreError> {
        let not_found = || StoreError::NotFound {
            what: "record",
            id: new.record_id.clone(),
        };
        let record = self
            .get_item(record_key(&new.record_id), RECORD_SK)
            .await?
            .ok_or_else(not_found)?;
        let id = random_id()?;
        let decision = Decision {
            id: id.clone(),
            kind: new.kind,
            record_id: new.record_id.clone(),
            organization: get_s(&record, "organization")?.to_owned(),
            state: DecisionState::Pending,
            created_at: new.created_at,
            expires_at: new.expires_at,
            decided_by: None,
            decided_at: None,
        };
        let sealed = self.key.seal(&id, &new.task_token)?;
        let item: Item = HashMap::from([
            (PK.to_owned(), s(decision_key(&id))),
            (SK.to_owned(), s(DECISION_SK)),
            ("type".to_owned(), s("decision")),
            ("id".to_owned(), s(&id)),
            ("kind".to_owned(), s(decision.kind.as_str())),
            ("record_id".to_owned(), s(&decision.record_id)),
            ("organization".to_owned(), s(&decision.organization)),
            ("state".to_owned(), s(decision.state.as_str())),
            ("created_at".to_owned(), s(decision.created_at.to_string())),
            ("expires_at".to_owned(), s(decision.expires_at.to_string())),
            (
                "expires_us".to_owned(),
                n(decision.expires_at.as_microsecond()),
            ),
            ("sealed_token".to_owned(), s(sealed)),
            (
                TTL.to_owned(),
                n(decision.expires_at.as_second() + DECISION_RETENTION_SECS),
            ),
            (GSI1_PK.to_owned(), s(pending_pk(&decision.organization))),
            (
                GSI1_SK.to_owned(),
                s(format!("{}#{id}", sort_time(decision.expires_at))),
            ),
        ]);
        // The record must still exist when the decision is written.
        let check = ConditionCheck::builder()
            .table_name(&*self.table)
            .key(PK, s(record_key(&new.record_id)))
            .key(SK, s(RECORD_SK))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_err("TransactWriteItems"))?;
        let put = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_err("TransactWriteItems"))?;
        match self
            .transact(vec![
                TransactWriteItem::builder().condition_check(check).build(),
                TransactWriteItem::builder().put(put).build(),
            ])
            .await?
        {
            Ok(()) => Ok(decision),
            Err(failure) if failure.failed.first() == Some(&true) => Err(not_found()),
            Err(_) => Err(StoreError::AlreadyExists {
                what: "decision",
                id,
            }),
        }
    }

    async fn get_decision(&self, id: &str) -> Result<Option<Decision>, StoreError> {
        self.get_item(decision_key(id), DECISION_SK)
            .await?
            .as_ref()
            .map(decision_from)
            .transpose()
    }

    async fn decide(&self, id: &str, decide: Decide) -> Result<DecideOutcome, StoreError> {
        let Some(current) = self.get_decision(id).await? else {
            return Ok(DecideOutcome::Unknown);
        };
        if !decide.to.fits(current.kind) {
            return Err(StoreError::InvalidArgument(format!(
                "a {} decision cannot become {}",
                current.kind, decide.to
            )));
        }
        let mut condition = "#state = :pending".to_owned();
        let mut request = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(decision_key(id)))
            .key(SK, s(DECISION_SK))
            .update_expression(format!(
                "SET #state = :to, decided_by = :by, decided_at = :at REMOVE {GSI1_PK}, {GSI1_SK}"
            ))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(DecisionState::Pending.as_str()))
            .expression_attribute_values(":to", s(decide.to.as_str()))
            .expression_attribute_values(":by", s(&decide.by))
            .expression_attribute_values(":at", s(decide.at.to_string()))
            .return_values(ReturnValue::AllNew);
        if decide.to != DecisionState::Expired {
            condition.push_str(" AND expires_us > :now");
            request = request.expression_attribute_values(":now", n(decide.at.as_microsecond()));
        }
        match request.condition_expression(condition).send().await {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let task_token = self.key.open(id, get_s(&item, "sealed_token")?)?;
                tracing::info!(decision_id = %id, state = %decide.to, "decision taken");
                Ok(DecideOutcome::Decided {
                    decision: decision_from(&item)?,
                    task_token,
                })
            }
            Err(e) if condition_failed(&e) => {
                // Lost, or expired: read who won (a strongly consistent read).
                Ok(match self.get_decision(id).await? {
                    None => DecideOutcome::Unknown,
                    Some(d) if d.state == DecisionState::Pending => DecideOutcome::Expired(d),
                    Some(d) => DecideOutcome::AlreadyDecided(d),
                })
            }
            Err(e) => Err(StoreError::dynamo("UpdateItem", e)),
        }
    }

    async fn task_token(&self, id: &str) -> Result<Option<SecretString>, StoreError> {
        match self.get_item(decision_key(id), DECISION_SK).await? {
            Some(item) => Ok(Some(self.key.open(id, get_s(&item, "sealed_token")?)?)),
            None => Ok(None),
        }
    }

    async fn pending_decisions(
        &self,
        organization: &str,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Decision>, StoreError> {
        let limit = check_limit(limit)?;
        let pk = pending_pk(organization);
        let start = decode_cursor(cursor, GSI1_PK, &pk, None)?;
        let (items, last) = self
            .query_page(Some(GSI1), (GSI1_PK, pk), None, Some(limit), start)
            .await?;
        Ok(Page {
            items: items.iter().map(decision_from).collect::<Result<_, _>>()?,
            next: encode_cursor(last)?,
        })
    }

    async fn put_step_result(
        &self,
        key: &str,
        result: serde_json::Value,
        keep_until: Timestamp,
    ) -> Result<serde_json::Value, StoreError> {
        let pk = idempotency_pk(key);
        let put = self
            .client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(&pk))
            .item(SK, s(IDEMPOTENCY_SK))
            .item("type", s("step_result"))
            .item("result", s(serde_json::to_string(&result)?))
            .item(TTL, n(keep_until.as_second()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(result),
            Err(e) if condition_failed(&e) => {
                let item = self.get_item(pk, IDEMPOTENCY_SK).await?.ok_or_else(|| {
                    StoreError::NotFound {
                        what: "step result",
                        id: key.to_owned(),
                    }
                })?;
                Ok(serde_json::from_str(get_s(&item, "result")?)?)
            }
            Err(e) => Err(StoreError::dynamo("PutItem", e)),
        }
    }

    async fn step_result(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        match self.get_item(idempotency_pk(key), IDEMPOTENCY_SK).await? {
            Some(item) => Ok(Some(serde_json::from_str(get_s(&item, "result")?)?)),
            None => Ok(None),
        }
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(lease_pk(name)))
            .item(SK, s("LEASE"))
            .item("type", s("lease"))
            .item("holder", s(holder))
            .item("expires_us", n(expires_at.as_microsecond()))
            // Kept a day past expiry, then removed by the table's TTL.
            .item(TTL, n(expires_at.as_second() + 86_400))
            .condition_expression(
                "attribute_not_exists(pk) OR expires_us <= :now OR holder = :holder",
            )
            .expression_attribute_values(":now", n(now.as_microsecond()))
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(StoreError::dynamo("PutItem", e)),
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .key(PK, s(lease_pk(name)))
            .key(SK, s("LEASE"))
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match delete {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(StoreError::dynamo("DeleteItem", e)),
        }
    }

    async fn reserve(
        &self,
        pool: &str,
        holder: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(reservation_pk(pool)))
            .item(SK, s(key_part(holder)))
            .item("type", s("reservation"))
            .item("holder", s(holder))
            .item("expires_us", n(expires_at.as_microsecond()))
            // Kept a day past expiry, then removed by the table's TTL.
            .item(TTL, n(expires_at.as_second() + 86_400))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", e))?;
        Ok(())
    }

    async fn release_reservation(&self, pool: &str, holder: &str) -> Result<bool, StoreError> {
        self.delete_existing(reservation_pk(pool), key_part(holder))
            .await
    }

    async fn reservations(&self, pool: &str, now: Timestamp) -> Result<Vec<String>, StoreError> {
        let items = self.query_all((PK, reservation_pk(pool)), None).await?;
        let mut holders = Vec::new();
        for item in &items {
            // The TTL removes expired places a day late, and lazily.
            if get_i64(item, "expires_us")? > now.as_microsecond() {
                holders.push(get_s(item, "holder")?.to_owned());
            }
        }
        holders.sort();
        Ok(holders)
    }

    async fn put_session(
        &self,
        id: &str,
        data: &serde_json::Value,
        _now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        // Expired sessions go by the table's TTL; reads check the expiry, as
        // TTL deletes within days, not at once.
        self.client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(session_pk(id)))
            .item(SK, s(SESSION_SK))
            .item("type", s("session"))
            .item("data", s(serde_json::to_string(data)?))
            .item("expires_us", n(expires_at.as_microsecond()))
            .item(TTL, n(expires_at.as_second() + 86_400))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", e))?;
        Ok(())
    }

    async fn session(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let Some(item) = self.get_item(session_pk(id), SESSION_SK).await? else {
            return Ok(None);
        };
        let expires_us = get_i64(&item, "expires_us")?;
        if expires_us <= now.as_microsecond() {
            return Ok(None);
        }
        Ok(Some(serde_json::from_str(get_s(&item, "data")?)?))
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_existing(session_pk(id), SESSION_SK.to_owned())
            .await
    }

    async fn variables(&self, scope: &Scope) -> Result<Variables, StoreError> {
        let Some(item) = self.get_item(variables_pk(scope), VARIABLES_SK).await? else {
            return Ok(Variables::new());
        };
        match item.get("variables") {
            Some(AttributeValue::M(map)) => map
                .iter()
                .map(|(name, value)| match value {
                    AttributeValue::S(v) => Ok((name.clone(), v.clone())),
                    _ => Err(StoreError::Malformed(format!(
                        "variable {name} is not a string"
                    ))),
                })
                .collect(),
            _ => Err(StoreError::Malformed(
                "variables item has no map".to_owned(),
            )),
        }
    }

    async fn put_variables(&self, scope: &Scope, variables: &Variables) -> Result<(), StoreError> {
        let map = variables
            .iter()
            .map(|(k, v)| (k.clone(), s(v)))
            .collect::<HashMap<_, _>>();
        self.client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(variables_pk(scope)))
            .item(SK, s(VARIABLES_SK))
            .item("type", s("variables"))
            .item("variables", AttributeValue::M(map))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", e))?;
        Ok(())
    }

    async fn connector(
        &self,
        scope: &Scope,
        connector: &str,
    ) -> Result<Option<ConnectorSettings>, StoreError> {
        match self
            .get_item(connectors_pk(scope), &connector_sk(connector))
            .await?
        {
            Some(item) => Ok(Some(serde_json::from_str(get_s(&item, "settings")?)?)),
            None => Ok(None),
        }
    }

    async fn connectors(&self, scope: &Scope) -> Result<Vec<ConnectorSettings>, StoreError> {
        let items = self
            .query_all(
                (PK, connectors_pk(scope)),
                Some((SK, CONNECTOR_PREFIX.to_owned())),
            )
            .await?;
        items
            .iter()
            .map(|item| Ok(serde_json::from_str(get_s(item, "settings")?)?))
            .collect()
    }

    async fn connector_in_all_scopes(
        &self,
        connector: &str,
    ) -> Result<Vec<(Scope, ConnectorSettings)>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let (items, next) = self
                .query_page(
                    Some(GSI1),
                    (GSI1_PK, connector_sk(connector)),
                    None,
                    None,
                    start,
                )
                .await?;
            for item in &items {
                let scope = Scope::from_key(get_s(item, GSI1_SK)?)?;
                out.push((scope, serde_json::from_str(get_s(item, "settings")?)?));
            }
            match next {
                Some(key) => start = Some(key),
                None => return Ok(out),
            }
        }
    }

    async fn put_connector(
        &self,
        scope: &Scope,
        settings: &ConnectorSettings,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(connectors_pk(scope)))
            .item(SK, s(connector_sk(&settings.connector)))
            // gsi1 lists one connector across scopes (e.g. every organization).
            .item(GSI1_PK, s(connector_sk(&settings.connector)))
            .item(GSI1_SK, s(scope.key()))
            .item("type", s("connector"))
            .item("settings", s(serde_json::to_string(settings)?))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", e))?;
        Ok(())
    }

    async fn templates(&self, scope: &Scope) -> Result<Vec<StoredTemplate>, StoreError> {
        let items = self
            .query_all(
                (PK, templates_pk(scope)),
                Some((SK, TEMPLATE_PREFIX.to_owned())),
            )
            .await?;
        items.iter().map(stored_template).collect()
    }

    async fn template(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<StoredTemplate>, StoreError> {
        self.get_item(templates_pk(scope), &template_sk(name))
            .await?
            .as_ref()
            .map(stored_template)
            .transpose()
    }

    async fn put_template(
        &self,
        scope: &Scope,
        template: &StoredTemplate,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(templates_pk(scope)))
            .item(SK, s(template_sk(&template.name)))
            .item("type", s("template"))
            .item("name", s(&template.name))
            .item("body", s(serde_json::to_string(&template.body)?))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", e))?;
        Ok(())
    }

    async fn delete_template(&self, scope: &Scope, name: &str) -> Result<bool, StoreError> {
        self.delete_existing(templates_pk(scope), template_sk(name))
            .await
    }
}
