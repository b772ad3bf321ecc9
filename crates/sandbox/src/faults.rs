//! Fault injection for the simulators: the answers real services give on a bad day.
//!
//! Every simulator wraps its router with [`Faults::layer`]. Before a request
//! reaches the simulator, the injector may add latency, answer 429 with
//! `Retry-After`, or answer a server error, each at a configured rate, in the
//! vendor's own error body (the simulator supplies it). The dice are a seeded
//! generator, so a test run with the same seed sees the same faults.
//!
//! A lost answer is the one fault that comes *after* the simulator: at
//! `lost_answer_rate`, a write (`POST`, `PUT`, `PATCH`, `DELETE`) is performed
//! (the object exists afterwards), and then its answer never arrives: either
//! the connection is closed without a response, or a gateway answers 504 —
//! which of the two, the same seeded dice decide. This is the case where a
//! client that resends a write blindly does it twice. Reads are never lost:
//! a lost read is indistinguishable, for the client, from an injected server
//! error before the read, which `error_rate` already gives.
//!
//! Rates are changed at run time with `PUT /sandbox/faults/{service}` (see
//! [`control_router`]); `GET /sandbox/faults` lists every service's settings.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// How often, and how badly, a simulator misbehaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Share of requests answered 429 with `Retry-After`, in `[0, 1]`.
    pub throttle_rate: f64,
    /// Share of requests answered with [`FaultSettings::error_status`], in `[0, 1]`.
    pub error_rate: f64,
    /// Share of writes (`POST`, `PUT`, `PATCH`, `DELETE`) that are performed
    /// and then lose their answer (connection closed, or 504), in `[0, 1]`.
    pub lost_answer_rate: f64,
    /// The server error injected (500, 502, 503 or 504).
    pub error_status: u16,
    /// The `Retry-After` sent with a 429, in seconds.
    pub retry_after_seconds: u64,
    /// Added to every request before it is answered.
    pub latency_ms: u64,
    /// Seed of the dice; the same seed gives the same sequence of faults.
    pub seed: u64,
}

impl Default for FaultSettings {
    fn default() -> Self {
        Self {
            throttle_rate: 0.0,
            error_rate: 0.0,
            lost_answer_rate: 0.0,
            error_status: 503,
            retry_after_seconds: 1,
            latency_ms: 0,
            seed: 0,
        }
    }
}

impl FaultSettings {
    /// Checks the rates and status; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("throttle_rate", self.throttle_rate),
            ("error_rate", self.error_rate),
            ("lost_answer_rate", self.lost_answer_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if self.throttle_rate + self.error_rate + self.lost_answer_rate > 1.0 {
            return Err("throttle_rate + error_rate + lost_answer_rate must not exceed 1".into());
        }
        if !matches!(self.error_status, 500 | 502 | 503 | 504) {
            return Err(format!(
                "error_status must be 500, 502, 503 or 504, got {}",
                self.error_status
            ));
        }
        Ok(())
    }
}

/// What the injector decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer 429; the simulator's body, the injector adds `Retry-After`.
    Throttle {
        /// Seconds the client is asked to wait.
        retry_after_seconds: u64,
    },
    /// Answer this server error status.
    ServerError(StatusCode),
}

/// How the answer of a performed write is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostAnswer {
    /// The connection is closed without a byte of the response.
    Closed,
    /// A gateway answers 504 Gateway Timeout (in the vendor's error body).
    GatewayTimeout,
}

/// What the injector decided for one request, before it reaches the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The simulator answers.
    Serve,
    /// The injector answers instead of the simulator.
    Fault(Fault),
    /// The simulator performs the request; its answer is then lost.
    Lose(LostAnswer),
}

/// Builds a simulator's own error body for an injected fault.
pub type FaultBody = Arc<dyn Fn(Fault) -> Response + Send + Sync>;

/// One simulator's fault injector.
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Inner>,
}

struct Inner {
    service: &'static str,
    state: Mutex<(FaultSettings, StdRng)>,
    body: FaultBody,
    injected: AtomicU64,
    lost: AtomicU64,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("service", &self.inner.service)
            .field("settings", &self.settings())
            .finish_non_exhaustive()
    }
}

impl Faults {
    /// An injector for `service` that answers faults with `body`.
    pub fn new(
        service: &'static str,
        settings: FaultSettings,
        body: impl Fn(Fault) -> Response + Send + Sync + 'static,
    ) -> Self {
        let rng = StdRng::seed_from_u64(settings.seed);
        Self {
            inner: Arc::new(Inner {
                service,
                state: Mutex::new((settings, rng)),
                body: Arc::new(body),
                injected: AtomicU64::new(0),
                lost: AtomicU64::new(0),
            }),
        }
    }

    /// The service this injector belongs to.
    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    /// The settings in force.
    pub fn settings(&self) -> FaultSettings {
        self.lock().0.clone()
    }

    /// Replaces the settings and reseeds the dice.
    pub fn set(&self, settings: FaultSettings) -> Result<(), String> {
        settings.validate()?;
        let rng = StdRng::seed_from_u64(settings.seed);
        *self.lock() = (settings, rng);
        Ok(())
    }

    /// How many faults were injected so far (lost answers included).
    pub fn injected(&self) -> u64 {
        self.inner.injected.load(Ordering::Relaxed)
    }

    /// How many answers of performed writes were lost so far.
    pub fn lost_answers(&self) -> u64 {
        self.inner.lost.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (FaultSettings, StdRng)> {
        // A panic while holding the lock cannot leave the settings half-written.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Rolls the dice for one request: the latency to add and what happens.
    ///
    /// One die splits `[0, 1)` into throttle, server error, lost answer and
    /// serve, in that order, so settings without `lost_answer_rate` see the
    /// same sequence as before it existed. Only writes can lose their answer;
    /// a second die, rolled only then, picks how.
    pub fn roll(&self, method: &Method, path: &str) -> (Duration, Outcome) {
        let mut guard = self.lock();
        let (settings, rng) = &mut *guard;
        let latency = Duration::from_millis(settings.latency_ms);
        let dice: f64 = rng.random();
        let errors = settings.throttle_rate + settings.error_rate;
        let outcome = if dice < settings.throttle_rate {
            Outcome::Fault(Fault::Throttle {
                retry_after_seconds: settings.retry_after_seconds,
            })
        } else if dice < errors {
            Outcome::Fault(Fault::ServerError(
                StatusCode::from_u16(settings.error_status)
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            ))
        } else if dice < errors + settings.lost_answer_rate && is_write(method, path) {
            Outcome::Lose(if rng.random_bool(0.5) {
                LostAnswer::Closed
            } else {
                LostAnswer::GatewayTimeout
            })
        } else {
            Outcome::Serve
        };
        (latency, outcome)
    }

    /// Wraps a simulator's router so every request passes the injector first.
    pub fn layer(&self, router: Router) -> Router {
        router.layer(middleware::from_fn_with_state(self.clone(), inject))
    }

    fn respond(&self, fault: Fault) -> Response {
        self.inner.injected.fetch_add(1, Ordering::Relaxed);
        let mut response = (self.inner.body)(fault);
        match fault {
            Fault::Throttle {
                retry_after_seconds,
            } => {
                *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(retry_after_seconds));
            }
            Fault::ServerError(status) => *response.status_mut() = status,
        }
        response
    }

    /// The simulator's answer to a performed write, lost as `how`.
    fn lose(&self, answered: Response, how: LostAnswer) -> Response {
        self.inner.injected.fetch_add(1, Ordering::Relaxed);
        self.inner.lost.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            service = self.service(),
            status = answered.status().as_u16(),
            ?how,
            "performed the request, losing its answer"
        );
        drop(answered);
        match how {
            LostAnswer::GatewayTimeout => {
                self.respond(Fault::ServerError(StatusCode::GATEWAY_TIMEOUT))
            }
            LostAnswer::Closed => {
                // A body that fails before its first byte makes hyper drop the
                // connection without writing the head it still buffers; the 504
                // is there only so that no 2xx could ever be seen if it did not.
                let broken = futures::stream::once(async {
                    Err::<axum::body::Bytes, _>(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "sandbox: answer lost",
                    ))
                });
                let mut response = Response::new(Body::from_stream(broken));
                *response.status_mut() = StatusCode::GATEWAY_TIMEOUT;
                response
            }
        }
    }
}

/// Whether the request changes something: only these lose their answers.
/// Autotask's `POST {entity}/query` is a search, a read sent as POST.
fn is_write(method: &Method, path: &str) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) && !(*method == Method::POST && path.ends_with("/query"))
}

async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let (latency, outcome) = faults.roll(request.method(), request.uri().path());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match outcome {
        Outcome::Fault(fault) => {
            tracing::debug!(service = faults.service(), ?fault, "injected fault");
            faults.respond(fault)
        }
        Outcome::Serve => next.run(request).await,
        Outcome::Lose(how) => {
            let answered = next.run(request).await;
            faults.lose(answered, how)
        }
    }
}

/// All simulators' injectors, by service name, for the control endpoint.
#[derive(Debug, Clone, Default)]
pub struct FaultRegistry {
    by_service: BTreeMap<&'static str, Faults>,
}

impl FaultRegistry {
    /// How many faults each simulator has injected so far, and how many of them
    /// were lost answers: `{"graph": {"injected": 3, "lost_answers": 1}, ...}`.
    pub fn counts_json(&self) -> serde_json::Value {
        self.by_service
            .iter()
            .map(|(name, f)| {
                (
                    (*name).to_owned(),
                    serde_json::json!({"injected": f.injected(), "lost_answers": f.lost_answers()}),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// Registers an injector under its service name.
    pub fn register(&mut self, faults: Faults) {
        self.by_service.insert(faults.service(), faults);
    }

    /// The injector of `service`.
    pub fn get(&self, service: &str) -> Option<&Faults> {
        self.by_service.get(service)
    }
}

/// `GET /sandbox/faults` and `GET|PUT /sandbox/faults/{service}`, to be nested
/// under `/sandbox/faults`.
pub fn control_router(registry: FaultRegistry) -> Router {
    Router::new()
        .route("/", get(list))
        .route("/{service}", get(show).put(update))
        .with_state(Arc::new(registry))
}

async fn list(
    State(registry): State<Arc<FaultRegistry>>,
) -> Json<BTreeMap<&'static str, FaultSettings>> {
    Json(
        registry
            .by_service
            .iter()
            .map(|(name, faults)| (*name, faults.settings()))
            .collect(),
    )
}

async fn show(State(registry): State<Arc<FaultRegistry>>, Path(service): Path<String>) -> Response {
    match registry.get(&service) {
        Some(faults) => Json(faults.settings()).into_response(),
        None => unknown_service(&service),
    }
}

async fn update(
    State(registry): State<Arc<FaultRegistry>>,
    Path(service): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Some(faults) = registry.get(&service) else {
        return unknown_service(&service);
    };
    // Parsed here rather than by `Json`, so an unknown key is a 400 that names it.
    let settings = match serde_json::from_slice::<FaultSettings>(&body) {
        Ok(settings) => settings,
        Err(e) => return bad_settings(e.to_string()),
    };
    match faults.set(settings) {
        Ok(()) => Json(faults.settings()).into_response(),
        Err(message) => bad_settings(message),
    }
}

fn bad_settings(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

fn unknown_service(service: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": format!("no simulator named '{service}'") })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(service: &'static str, settings: FaultSettings) -> Faults {
        Faults::new(service, settings, |_| "fault".into_response())
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused_by_name() {
        let bad = FaultSettings {
            throttle_rate: 1.5,
            ..FaultSettings::default()
        };
        let err = bad.validate().unwrap_err();
        assert!(err.contains("throttle_rate"), "{err}");
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let settings = FaultSettings {
            throttle_rate: 0.3,
            error_rate: 0.2,
            lost_answer_rate: 0.2,
            seed: 42,
            ..FaultSettings::default()
        };
        let a = plain("a", settings.clone());
        let b = plain("b", settings);
        let rolls_a: Vec<_> = (0..200)
            .map(|_| a.roll(&Method::POST, "/users").1)
            .collect();
        let rolls_b: Vec<_> = (0..200)
            .map(|_| b.roll(&Method::POST, "/users").1)
            .collect();
        assert_eq!(rolls_a, rolls_b);
    }

    #[test]
    fn a_lost_answer_rate_outside_zero_to_one_or_over_the_total_is_refused_by_name() {
        let too_high = FaultSettings {
            lost_answer_rate: 1.5,
            ..FaultSettings::default()
        };
        let over_total = FaultSettings {
            error_rate: 0.5,
            lost_answer_rate: 0.6,
            ..FaultSettings::default()
        };

        let too_high = too_high.validate().unwrap_err();
        let over_total = over_total.validate().unwrap_err();

        assert!(too_high.contains("lost_answer_rate"), "{too_high}");
        assert!(over_total.contains("lost_answer_rate"), "{over_total}");
    }

    #[test]
    fn only_writes_lose_their_answers_and_both_ways_of_losing_occur() {
        let faults = plain(
            "graph",
            FaultSettings {
                lost_answer_rate: 1.0,
                seed: 3,
                ..FaultSettings::default()
            },
        );

        let reads: Vec<_> = (0..50)
            .map(|_| faults.roll(&Method::GET, "/users").1)
            .collect();
        let writes: Vec<_> = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE]
            .iter()
            .cycle()
            .take(200)
            .map(|m| faults.roll(m, "/users").1)
            .collect();

        assert!(reads.iter().all(|o| *o == Outcome::Serve));
        assert!(writes.iter().all(|o| matches!(o, Outcome::Lose(_))));
        assert!(writes.contains(&Outcome::Lose(LostAnswer::Closed)));
        assert!(writes.contains(&Outcome::Lose(LostAnswer::GatewayTimeout)));
    }

    #[test]
    fn without_lost_answers_the_sequence_is_the_one_before_they_existed() {
        let settings = FaultSettings {
            throttle_rate: 0.3,
            error_rate: 0.2,
            seed: 9,
            ..FaultSettings::default()
        };
        let faults = plain("a", settings.clone());
        let mut rng = StdRng::seed_from_u64(settings.seed);

        let rolled: Vec<_> = (0..100)
            .map(|_| faults.roll(&Method::POST, "/users").1)
            .collect();
        let expected: Vec<_> = (0..100)
            .map(|_| {
                let dice: f64 = rng.random();
                if dice < 0.3 {
                    Outcome::Fault(Fault::Throttle {
                        retry_after_seconds: 1,
                    })
                } else if dice < 0.5 {
                    Outcome::Fault(Fault::ServerError(StatusCode::SERVICE_UNAVAILABLE))
                } else {
                    Outcome::Serve
                }
            })
            .collect();

        assert_eq!(rolled, expected);
    }

    #[test]
    fn injected_share_is_close_to_the_configured_rate() {
        let faults = plain(
            "graph",
            FaultSettings {
                throttle_rate: 0.3,
                seed: 7,
                ..FaultSettings::default()
            },
        );
        let throttled = (0..10_000)
            .filter(|_| {
                matches!(
                    faults.roll(&Method::GET, "/users").1,
                    Outcome::Fault(Fault::Throttle { .. })
                )
            })
            .count();
        assert!((2_700..=3_300).contains(&throttled), "{throttled}");
    }

    #[tokio::test]
    async fn a_throttled_request_gets_429_with_retry_after_and_the_simulators_body() {
        let faults = Faults::new(
            "graph",
            FaultSettings {
                throttle_rate: 1.0,
                retry_after_seconds: 4,
                ..FaultSettings::default()
            },
            |_| Json(serde_json::json!({"error": {"code": "TooManyRequests"}})).into_response(),
        );
        let app = faults.layer(Router::new().route("/x", get(|| async { "ok" })));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let response = reqwest::get(format!("http://{addr}/x")).await.unwrap();

        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "4");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "TooManyRequests");
        assert_eq!(faults.injected(), 1);
    }

    #[tokio::test]
    async fn the_control_endpoint_changes_rates_and_rejects_bad_ones() {
        let faults = plain("pax8", FaultSettings::default());
        let mut registry = FaultRegistry::default();
        registry.register(faults.clone());
        let app = Router::new().nest("/sandbox/faults", control_router(registry));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/sandbox/faults/pax8");

        let ok = client
            .put(&url)
            .json(&serde_json::json!({"error_rate": 0.2}))
            .send()
            .await
            .unwrap();
        let bad = client
            .put(&url)
            .json(&serde_json::json!({"error_rate": 2.0}))
            .send()
            .await
            .unwrap();
        let unknown = client
            .get(format!("http://{addr}/sandbox/faults/nope"))
            .send()
            .await
            .unwrap();

        assert_eq!(ok.status(), 200);
        assert_eq!(faults.settings().error_rate, 0.2);
        assert_eq!(bad.status(), 400);
        assert!(bad.text().await.unwrap().contains("error_rate"));
        assert_eq!(unknown.status(), 404);
    }

    #[tokio::test]
    async fn a_lost_answer_comes_after_the_write_as_a_closed_connection_or_a_504() {
        let faults = plain(
            "connectwise",
            FaultSettings {
                lost_answer_rate: 1.0,
                seed: 11,
                ..FaultSettings::default()
            },
        );
        let writes = Arc::new(AtomicU64::new(0));
        let counter = writes.clone();
        let handler = move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (StatusCode::CREATED, "created")
            }
        };
        let app = faults.layer(Router::new().route("/x", axum::routing::post(handler)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = reqwest::Client::new();

        let mut closed = 0;
        let mut timed_out = 0;
        for _ in 0..20 {
            match client.post(format!("http://{addr}/x")).send().await {
                Err(_) => closed += 1,
                Ok(response) => {
                    assert_eq!(response.status(), 504);
                    assert_eq!(response.text().await.unwrap(), "fault");
                    timed_out += 1;
                }
            }
        }

        assert_eq!(
            writes.load(Ordering::SeqCst),
            20,
            "every write was performed"
        );
        assert!(
            closed > 0 && timed_out > 0,
            "{closed} closed, {timed_out} 504"
        );
        assert_eq!(faults.lost_answers(), 20);
    }

    #[tokio::test]
    async fn the_control_endpoint_takes_a_lost_answer_rate_and_names_a_bad_or_unknown_key() {
        let faults = plain("hudu", FaultSettings::default());
        let mut registry = FaultRegistry::default();
        registry.register(faults.clone());
        let app = Router::new().nest("/sandbox/faults", control_router(registry));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/sandbox/faults/hudu");
        let put = |body: serde_json::Value| client.put(&url).json(&body).send();

        let ok = put(serde_json::json!({"lost_answer_rate": 0.2}))
            .await
            .unwrap();
        let ok_status = ok.status();
        let shown: serde_json::Value = ok.json().await.unwrap();
        let out_of_range = put(serde_json::json!({"lost_answer_rate": -0.1}))
            .await
            .unwrap();
        let unknown = put(serde_json::json!({"lost_answers": 0.2})).await.unwrap();

        assert_eq!(ok_status, 200);
        assert_eq!(shown["lost_answer_rate"], 0.2);
        assert_eq!(faults.settings().lost_answer_rate, 0.2);
        assert_eq!(out_of_range.status(), 400);
        assert!(
            out_of_range
                .text()
                .await
                .unwrap()
                .contains("lost_answer_rate")
        );
        assert_eq!(unknown.status(), 400);
        assert!(unknown.text().await.unwrap().contains("lost_answers"));
        assert_eq!(
            faults.settings().lost_answer_rate,
            0.2,
            "refused settings change nothing"
        );
    }
}
