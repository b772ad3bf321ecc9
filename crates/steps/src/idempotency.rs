//! Store-backed idempotency: results remembered under keys built from the onboarding
//! id and the step, and append-only logs for the few things that change over a run.
//!
//! [`onboard_store::Store::put_step_result`] keeps the first write under a key and
//! returns it to every later writer, so "remember, then act on what was remembered"
//! makes concurrent or repeated attempts agree on one value.

use jiff::{SignedDuration, Timestamp};
use onboard_store::Store;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StepError;

/// How long remembered results are kept (DynamoDB TTL): longer than any run.
const KEEP: SignedDuration = SignedDuration::from_hours(24 * 120);

/// The key of one remembered result: `onboarding/<id>/<step>/<part>`.
pub(crate) fn key(onboarding_id: &str, step: &str, part: &str) -> String {
    format!("onboarding/{onboarding_id}/{step}/{part}")
}

fn keep_until(now: Timestamp) -> Timestamp {
    now.checked_add(KEEP).unwrap_or(Timestamp::MAX)
}

fn decode<T: DeserializeOwned>(key: &str, value: serde_json::Value) -> Result<T, StepError> {
    serde_json::from_value(value)
        .map_err(|e| StepError::Internal(format!("remembered result {key} is unreadable: {e}")))
}

/// The result remembered under `key`, if any.
pub(crate) async fn recall<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<T>, StepError> {
    store
        .step_result(key)
        .await?
        .map(|v| decode(key, v))
        .transpose()
}

/// Remembers `value` under `key` unless something is there already; returns what
/// is remembered (the first writer's value, whoever asks).
pub(crate) async fn remember<T: Serialize + DeserializeOwned>(
    store: &dyn Store,
    key: &str,
    value: &T,
    now: Timestamp,
) -> Result<T, StepError> {
    let json = serde_json::to_value(value)
        .map_err(|e| StepError::Internal(format!("cannot encode result {key}: {e}")))?;
    let stored = store.put_step_result(key, json, keep_until(now)).await?;
    decode(key, stored)
}

/// Most entries an append-only log holds; a run appends a handful.
const MAX_ENTRIES: u32 = 1_000;

/// Every entry of the append-only log at `prefix`, oldest first.
pub(crate) async fn log_entries<T: DeserializeOwned>(
    store: &dyn Store,
    prefix: &str,
) -> Result<Vec<T>, StepError> {
    let mut out = Vec::new();
    for n in 0..MAX_ENTRIES {
        match recall(store, &format!("{prefix}/{n}")).await? {
            Some(entry) => out.push(entry),
            None => return Ok(out),
        }
    }
    Err(StepError::Internal(format!(
        "log {prefix} has more than {MAX_ENTRIES} entries"
    )))
}

/// Appends `value` to the log at `prefix`; returns its position. Concurrent
/// appenders each get their own position.
pub(crate) async fn log_append<T: Serialize>(
    store: &dyn Store,
    prefix: &str,
    value: &T,
    now: Timestamp,
) -> Result<u32, StepError> {
    let json = serde_json::to_value(value)
        .map_err(|e| StepError::Internal(format!("cannot encode entry of {prefix}: {e}")))?;
    let start = u32::try_from(log_entries::<serde_json::Value>(store, prefix).await?.len())
        .unwrap_or(MAX_ENTRIES);
    for n in start..MAX_ENTRIES {
        let key = format!("{prefix}/{n}");
        let stored = store
            .put_step_result(&key, json.clone(), keep_until(now))
            .await?;
        if stored == json {
            return Ok(n);
        }
    }
    Err(StepError::Internal(format!(
        "log {prefix} has more than {MAX_ENTRIES} entries"
    )))
}
