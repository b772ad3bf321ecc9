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
