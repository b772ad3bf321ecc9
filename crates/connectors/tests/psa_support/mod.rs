//! Shared helpers of the PSA contract tests: serve a simulator on a real socket, record waits instead of sleeping.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use onboard_connectors::http::{HttpClient, RetryPolicy, Sleeper};
use onboard_connectors::psa::{NewTicket, Note, NoteKey};
use onboard_sandbox::faults::{FaultSettings, Faults};

/// Serves `router` on 127.0.0.1, port chosen by the OS; returns `http://addr`.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Records every wait instead of sleeping; optionally "heals" a simulator's
/// faults during the first wait, as a service that recovers while we back off.
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    waits: Mutex<Vec<Duration>>,
    heal: Mutex<Option<Faults>>,
}

impl RecordingSleeper {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A sleeper that turns `faults` off during the first wait.
    pub fn healing(faults: &Faults) -> Arc<Self> {
        Arc::new(Self {
            waits: Mutex::new(Vec::new()),
            heal: Mutex::new(Some(faults.clone())),
        })
    }

    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap().clone()
    }
}

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.waits.lock().unwrap().push(duration);
        if let Some(faults) = self.heal.lock().unwrap().take() {
            faults.set(FaultSettings::default()).unwrap();
        }
    }
}

/// An HTTP client for `service` with four attempts and recorded waits.
pub fn http(service: &'static str, sleeper: Arc<RecordingSleeper>) -> HttpClient {
    let policy = RetryPolicy {
        max_attempts: 4,
        attempt_timeout: Duration::from_secs(10),
        ..RetryPolicy::default()
    };
    HttpClient::new(service, policy)
        .unwrap()
        .with_sleeper(sleeper)
}

/// Faults that answer every request with `status` (429 gets `Retry-After: retry_after`).
/// Every write is performed and its answer lost (a closed connection or a 504).
pub fn losing_answers() -> FaultSettings {
    FaultSettings {
        lost_answer_rate: 1.0,
        ..FaultSettings::default()
    }
}

pub fn always(status: u16, retry_after_seconds: u64) -> FaultSettings {
    if status == 429 {
        FaultSettings {
            throttle_rate: 1.0,
            retry_after_seconds,
            ..FaultSettings::default()
        }
    } else {
        FaultSettings {
            error_rate: 1.0,
            error_status: status,
            ..FaultSettings::default()
        }
    }
}

/// A new-user ticket for `company` on `location`.
pub fn new_ticket(
    key: &str,
    company: &str,
    location: &str,
    status: &str,
    priority: &str,
) -> NewTicket {
    NewTicket {
        key: key.into(),
        company: company.into(),
        location: location.into(),
        status: status.into(),
        priority: priority.into(),
        summary: "New user: Jane Doe".into(),
        description: "Onboarding requested for Jane Doe.".into(),
        extra_fields: serde_json::Map::new(),
    }
}

/// A note of `step` of onboarding `onb-1`.
pub fn note(step: &str, text: &str) -> Note {
    Note::new(NoteKey::new("onb-1", step), text)
}
