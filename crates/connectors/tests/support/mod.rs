//! Shared helpers of the contract tests: a real socket, a recording sleeper, lost answers.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use onboard_connectors::http::{HttpClient, RetryPolicy, Sleeper};

/// Serves `router` on a loopback port; returns `http://127.0.0.1:PORT`.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Records the waits instead of sleeping, and runs a hook on each (to move a
/// simulator's clock).
#[derive(Default)]
pub struct RecordingSleeper {
    waits: Mutex<Vec<Duration>>,
    on_sleep: Option<Box<dyn Fn(Duration) + Send + Sync>>,
}

impl std::fmt::Debug for RecordingSleeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingSleeper").finish_non_exhaustive()
    }
}

impl RecordingSleeper {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn advancing(on_sleep: impl Fn(Duration) + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            waits: Mutex::default(),
            on_sleep: Some(Box::new(on_sleep)),
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
        if let Some(hook) = &self.on_sleep {
            hook(duration);
        }
    }
}

/// A sleeper that turns `faults` off during the first wait: the service
/// throttles (or fails) exactly once, then recovers.
pub fn calm_after_first_wait(faults: onboard_sandbox::faults::Faults) -> Arc<RecordingSleeper> {
    RecordingSleeper::advancing(move |_| {
        faults
            .set(onboard_sandbox::faults::FaultSettings::default())
            .unwrap()
    })
}

/// An HTTP client for `service` with four attempts that never really sleeps.
pub fn http(service: &'static str, sleeper: Arc<RecordingSleeper>) -> HttpClient {
    let policy = RetryPolicy {
        max_attempts: 4,
        attempt_timeout: Duration::from_secs(5),
        ..RetryPolicy::default()
    };
    HttpClient::new(service, policy)
        .unwrap()
        .with_sleeper(sleeper)
}

/// Lets the first `method` request whose path ends with `suffix` reach the
/// simulator, then replaces its answer with a 500 carrying `body`: the vendor
/// applied the write but the caller never heard.
pub fn lose_first_answer(
    router: Router,
    method: Method,
    suffix: &'static str,
    body: &'static str,
) -> Router {
    let lost = Arc::new(AtomicBool::new(false));
    router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let lost = lost.clone();
        let method = method.clone();
        async move {
            let matches = request.method() == method && request.uri().path().ends_with(suffix);
            let response = next.run(request).await;
            if matches && response.status().is_success() && !lost.swap(true, Ordering::SeqCst) {
                let lost_answer: Response = (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [("content-type", "application/json")],
                    body,
                )
                    .into_response();
                return lost_answer;
            }
            response
        }
    }))
}
