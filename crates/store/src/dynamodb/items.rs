//! Records, decisions, events and cursors as DynamoDB items and back.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;

use super::Item;
use super::keys::*;
use super::table::{GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, PK, SK};
use crate::StoreError;
use crate::model::{Cursor, Decision, Record, StoredTemplate, TimelineEvent, random_id, sort_time};

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Malformed(format!(
            "item attribute {name} is missing or not a string"
        ))),
    }
}

pub(super) fn get_i64(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| {
            StoreError::Malformed(format!("item attribute {name} is not an integer: {v}"))
        }),
        _ => Err(StoreError::Malformed(format!(
            "item attribute {name} is missing or not a number"
        ))),
    }
}

pub(super) fn opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

pub(super) fn time(item: &Item, name: &str) -> Result<Timestamp, StoreError> {
    let text = get_s(item, name)?;
    text.parse()
        .map_err(|e| StoreError::Malformed(format!("timestamp {text:?}: {e}")))
}

pub(super) fn record_item(record: &Record) -> Result<Item, StoreError> {
    let created = sort_time(record.created_at);
    let org = key_part(&record.organization);
    let mut item: Item = HashMap::from([
        (PK.to_owned(), s(record_key(&record.id))),
        (SK.to_owned(), s(RECORD_SK)),
        ("type".to_owned(), s("record")),
        ("id".to_owned(), s(&record.id)),
        ("kind".to_owned(), s(record.kind.as_str())),
        ("organization".to_owned(), s(&record.organization)),
        ("status".to_owned(), s(record.status.as_str())),
        (
            "request".to_owned(),
            s(serde_json::to_string(&record.request)?),
        ),
        ("created_at".to_owned(), s(record.created_at.to_string())),
        ("updated_at".to_owned(), s(record.updated_at.to_string())),
        (
            GSI1_PK.to_owned(),
            s(org_pk(record.kind, &record.organization)),
        ),
        (GSI1_SK.to_owned(), s(format!("{created}#{}", record.id))),
        (GSI2_PK.to_owned(), s(status_pk(record.kind, record.status))),
        (
            GSI2_SK.to_owned(),
            s(format!("{org}#{created}#{}", record.id)),
        ),
    ]);
    if let Some(ticket) = &record.ticket_id {
        item.insert("ticket_id".to_owned(), s(ticket));
    }
    Ok(item)
}

pub(super) fn record_from(item: &Item) -> Result<Record, StoreError> {
    Ok(Record {
        id: get_s(item, "id")?.to_owned(),
        kind: get_s(item, "kind")?.parse()?,
        organization: get_s(item, "organization")?.to_owned(),
        status: get_s(item, "status")?.parse()?,
        request: serde_json::from_str(get_s(item, "request")?)?,
        user_principal_name: opt_s(item, "user_principal_name"),
        ticket_id: opt_s(item, "ticket_id"),
        license_outcome: opt_s(item, "license_outcome")
            .as_deref()
            .map(str::parse)
            .transpose()?,
        removed: opt_s(item, "removed")
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?,
        waiting_until: opt_s(item, "waiting_until")
            .map(|t| {
                t.parse()
                    .map_err(|e| StoreError::Malformed(format!("timestamp {t:?}: {e}")))
            })
            .transpose()?,
        created_at: time(item, "created_at")?,
        updated_at: time(item, "updated_at")?,
    })
}

pub(super) fn decision_from(item: &Item) -> Result<Decision, StoreError> {
    Ok(Decision {
        id: get_s(item, "id")?.to_owned(),
        kind: get_s(item, "kind")?.parse()?,
        record_id: get_s(item, "record_id")?.to_owned(),
        organization: get_s(item, "organization")?.to_owned(),
        state: get_s(item, "state")?.parse()?,
        created_at: time(item, "created_at")?,
        expires_at: time(item, "expires_at")?,
        decided_by: opt_s(item, "decided_by"),
        decided_at: opt_s(item, "decided_at")
            .map(|t| {
                t.parse()
                    .map_err(|e| StoreError::Malformed(format!("timestamp {t:?}: {e}")))
            })
            .transpose()?,
    })
}

pub(super) fn stored_template(item: &Item) -> Result<StoredTemplate, StoreError> {
    Ok(StoredTemplate {
        name: get_s(item, "name")?.to_owned(),
        body: serde_json::from_str(get_s(item, "body")?)?,
    })
}

pub(super) fn event_item(record_id: &str, event: &TimelineEvent) -> Result<Item, StoreError> {
    Ok(HashMap::from([
        (PK.to_owned(), s(record_key(record_id))),
        (SK.to_owned(), s(event_sk(event.at, &random_id()?))),
        ("type".to_owned(), s("event")),
        ("at".to_owned(), s(event.at.to_string())),
        ("step".to_owned(), s(&event.step)),
        ("message".to_owned(), s(&event.message)),
    ]))
}

/// Cursor: `d1.` + base64url(JSON of the `LastEvaluatedKey`, all string attributes).
pub(super) fn encode_cursor(key: Option<Item>) -> Result<Option<Cursor>, StoreError> {
    let Some(key) = key else {
        return Ok(None);
    };
    let mut plain = BTreeMap::new();
    for (name, value) in key {
        match value {
            AttributeValue::S(v) => {
                plain.insert(name, v);
            }
            _ => {
                return Err(StoreError::Malformed(format!(
                    "key attribute {name} is not a string"
                )));
            }
        }
    }
    Ok(Some(Cursor(format!(
        "d1.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&plain)?)
    ))))
}

/// Decodes a cursor, checking it belongs to the query whose partition is
/// `pk_attr = pk` (and whose sort keys start with `sk_prefix`, when given).
pub(super) fn decode_cursor(
    cursor: Option<&Cursor>,
    pk_attr: &str,
    pk: &str,
    sk_prefix: Option<&(&str, String)>,
) -> Result<Option<Item>, StoreError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let body = cursor
        .0
        .strip_prefix("d1.")
        .ok_or(StoreError::InvalidCursor)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| StoreError::InvalidCursor)?;
    let plain: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    let known = [PK, SK, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK];
    let in_range = sk_prefix.is_none_or(|(sk_attr, prefix)| {
        plain
            .get(*sk_attr)
            .is_some_and(|sk| sk.starts_with(prefix.as_str()))
    });
    if plain.get(pk_attr).map(String::as_str) != Some(pk)
        || plain.keys().any(|k| !known.contains(&k.as_str()))
        || !in_range
    {
        return Err(StoreError::InvalidCursor);
    }
    Ok(Some(plain.into_iter().map(|(k, v)| (k, s(v))).collect()))
}
