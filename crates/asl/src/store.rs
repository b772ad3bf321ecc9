//! The storage port for executions, and an in-memory implementation.
//!
//! Kept small on purpose so a SQLite or DynamoDB store is a page of code: a record is
//! saved whole, and the store indexes only its `wake_at` and its status.

use crate::error::Error;
use crate::execution::{ExecutionRecord, ExecutionStatus};
use async_trait::async_trait;
use jiff::Timestamp;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// Where executions live between events.
#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Inserts or replaces a record (and re-indexes its `wake_at`).
    async fn save(&self, record: &ExecutionRecord) -> Result<(), Error>;
    /// Loads a record.
    async fn load(&self, execution_arn: &str) -> Result<Option<ExecutionRecord>, Error>;
    /// Executions with `wake_at <= now`, earliest first.
    async fn due(&self, now: Timestamp) -> Result<Vec<String>, Error>;
    /// The earliest `wake_at` of any execution.
    async fn next_wake(&self) -> Result<Option<Timestamp>, Error>;
    /// Executions still running (to resume after a restart).
    async fn running(&self) -> Result<Vec<String>, Error>;
}

/// An in-memory store. Records are kept serialized (compact JSON), exactly as a
/// database would hold them, which also keeps parked executions small.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<String, (Vec<u8>, Option<Timestamp>, bool)>,
    wakes: BTreeSet<(Timestamp, String)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

#[async_trait]
impl ExecutionStore for MemoryStore {
    async fn save(&self, record: &ExecutionRecord) -> Result<(), Error> {
        let bytes = serde_json::to_vec(record).map_err(|e| Error::Store(e.to_string()))?;
        let running = record.status == ExecutionStatus::Running;
        let wake = if running { record.wake_at } else { None };
        let mut g = self.lock();
        let arn = record.execution_arn.clone();
        if let Some((_, Some(old), _)) = g.records.get(&arn) {
            let old = *old;
            g.wakes.remove(&(old, arn.clone()));
        }
        if let Some(w) = wake {
            g.wakes.insert((w, arn.clone()));
        }
        g.records.insert(arn, (bytes, wake, running));
        Ok(())
    }

    async fn load(&self, execution_arn: &str) -> Result<Option<ExecutionRecord>, Error> {
        let g = self.lock();
        match g.records.get(execution_arn) {
            None => Ok(None),
            Some((b, _, _)) => serde_json::from_slice(b)
                .map(Some)
                .map_err(|e| Error::Store(e.to_string())),
        }
    }

    async fn due(&self, now: Timestamp) -> Result<Vec<String>, Error> {
        let g = self.lock();
        Ok(g.wakes
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn next_wake(&self) -> Result<Option<Timestamp>, Error> {
        Ok(self.lock().wakes.iter().next().map(|(t, _)| *t))
    }

    async fn running(&self) -> Result<Vec<String>, Error> {
        let g = self.lock();
        let mut v: Vec<String> = g
            .records
            .iter()
            .filter(|(_, r)| r.2)
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        Ok(v)
    }
}

/// The contract every [`ExecutionStore`] must meet, as one suite that runs against any
/// implementation (the in-memory one here; SQLite and DynamoDB in `crates/store`).
/// Give it an empty store; it answers the first broken rule.
pub async fn contract_suite(store: &dyn ExecutionStore) -> Result<(), String> {
    use crate::execution::ExecutionStatus;
    let t = |s: &str| s.parse::<Timestamp>().map_err(|e| e.to_string());
    let record = |arn: &str, wake: Option<Timestamp>, status: ExecutionStatus| ExecutionRecord {
        execution_arn: arn.to_string(),
        name: arn.rsplit(':').next().unwrap_or(arn).to_string(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        status,
        input: serde_json::json!({"k": [1, 2, {"deep": true}]}),
        output: None,
        error: None,
        cause: None,
        start_date: "2024-01-01T00:00:00.000Z".into(),
        stop_date: None,
        wake_at: wake,
        tokens: vec!["tok".into()],
        deadline: wake,
        runs: Default::default(),
        next_run: 1,
        ready: Default::default(),
        next_nonce: 1,
        history: Vec::new(),
        event_count: 0,
    };
    let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
    let (t1, t2, t3) = (
        t("2024-01-01T00:00:10Z")?,
        t("2024-01-01T00:00:20Z")?,
        t("2024-01-01T00:00:30Z")?,
    );

    check(
        store.load("a").await.map_err(|e| e.to_string())?.is_none(),
        "an unknown execution loads as None",
    )?;
    check(
        store
            .next_wake()
            .await
            .map_err(|e| e.to_string())?
            .is_none(),
        "an empty store has no next wake",
    )?;
    let a = record("a", Some(t2), ExecutionStatus::Running);
    let b = record("b", Some(t1), ExecutionStatus::Running);
    let c = record("c", None, ExecutionStatus::Running);
    for r in [&a, &b, &c] {
        store.save(r).await.map_err(|e| e.to_string())?;
    }
    check(
        store.load("a").await.map_err(|e| e.to_string())?.as_ref() == Some(&a),
        "a saved record loads back equal",
    )?;
    check(
        store.next_wake().await.map_err(|e| e.to_string())? == Some(t1),
        "next_wake is the earliest wake_at",
    )?;
    check(
        store.due(t1).await.map_err(|e| e.to_string())? == vec!["b".to_string()],
        "due(t) includes wake_at == t only",
    )?;
    check(
        store.due(t3).await.map_err(|e| e.to_string())? == vec!["b".to_string(), "a".to_string()],
        "due answers earliest first",
    )?;
    let mut running = store.running().await.map_err(|e| e.to_string())?;
    running.sort();
    check(
        running == ["a", "b", "c"],
        "running lists every running execution",
    )?;

    // Re-saving moves the timer; finishing removes it and the execution from `running`.
    let a2 = ExecutionRecord {
        wake_at: Some(t3),
        ..a.clone()
    };
    store.save(&a2).await.map_err(|e| e.to_string())?;
    check(
        store.due(t2).await.map_err(|e| e.to_string())? == vec!["b".to_string()],
        "re-saving replaces the old wake_at",
    )?;
    let b2 = ExecutionRecord {
        status: ExecutionStatus::Succeeded,
        wake_at: None,
        ..b.clone()
    };
    store.save(&b2).await.map_err(|e| e.to_string())?;
    check(
        store.next_wake().await.map_err(|e| e.to_string())? == Some(t3),
        "a finished execution has no timer",
    )?;
    let mut running = store.running().await.map_err(|e| e.to_string())?;
    running.sort();
    check(running == ["a", "c"], "a finished execution is not running")?;
    check(
        store
            .load("b")
            .await
            .map_err(|e| e.to_string())?
            .map(|r| r.status)
            == Some(ExecutionStatus::Succeeded),
        "a finished execution still loads",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_meets_the_store_contract() {
        contract_suite(&MemoryStore::new()).await.unwrap();
    }
}
