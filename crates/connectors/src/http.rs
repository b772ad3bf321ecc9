//! The one way every connector talks HTTP: a timeout per attempt, retries with
//! exponential backoff and jitter, and `Retry-After` honoured on 429/503/504.
//!
//! Each client builds its own requests and interprets its own error bodies; this
//! module only decides *whether and when* to send again. It never logs bodies,
//! headers or URLs with query strings, because those may carry tokens.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use rand::Rng;
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::error::Error;

/// How hard to try before giving up on one logical call.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. Must be at least 1.
    pub max_attempts: u32,
    /// Backoff before the second attempt when the server gave no `Retry-After`.
    pub base_delay: Duration,
    /// No wait is longer than this, whatever `Retry-After` asks; a server that
    /// asks for more is treated as unavailable rather than stalling a step.
    pub max_delay: Duration,
    /// Limit on one attempt, connection and body included.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The exponential backoff before attempt `attempt + 1` (1-based `attempt`),
    /// with "full jitter": uniformly random in `[0, base * 2^(attempt-1)]`, capped.
    /// Jitter keeps many clients that were throttled together from returning together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let cap = exp.min(self.max_delay);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

/// Waits between attempts. Production sleeps on the Tokio timer; tests inject a
/// recorder to prove that no retry came before the server's `Retry-After`
/// without spending real seconds.
#[async_trait]
pub trait Sleeper: Send + Sync + std::fmt::Debug {
    /// Waits for `duration`.
    async fn sleep(&self, duration: Duration);

    /// The time [`with_deadline`] budgets are measured in (a test's recorder
    /// moves it by the waits it records).
    fn now(&self) -> Instant {
        Instant::now()
    }
}

tokio::task_local! {
    /// When the step being run must have answered, and the time kept back
    /// before it ([`with_deadline`]).
    static DEADLINE: (Instant, Duration);
}

/// Time kept back before a deadline, for the step to note its error and answer
/// (at most a fifth of the whole budget, for short ones).
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Runs `work` (one step) with a time budget: every call it makes stops
/// retrying when the next wait or attempt would end after `deadline` less
/// [`DEADLINE_MARGIN`], and fails with the retryable error it has (throttled,
/// unavailable, no answer) instead of being killed mid-step. The Lambdas pass
/// their context's deadline; `onboard serve` the same bound the template gives
/// the functions.
///
/// A deadline already past when the step starts says nothing usable (a runtime
/// emulator's clock, say): the step then runs without one, as it did before.
pub async fn with_deadline<F: std::future::Future>(deadline: Instant, work: F) -> F::Output {
    let budget = deadline.saturating_duration_since(Instant::now());
    if budget.is_zero() {
        tracing::debug!("the step's deadline has passed already; running without one");
        return work.await;
    }
    let margin = DEADLINE_MARGIN.min(budget / 5);
    DEADLINE.scope((deadline, margin), work).await
}

/// What is left of the current budget, when there is one.
fn time_left(now: Instant) -> Option<Duration> {
    DEADLINE
        .try_with(|(deadline, margin)| {
            deadline
                .saturating_duration_since(now)
                .saturating_sub(*margin)
        })
        .ok()
}

/// Sleeps for real on the Tokio timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Which answers are worth sending again. Connectors may widen it (Graph retries
/// a 404 shortly after creating an object, because of replication delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Hand the response to the caller.
    Done,
    /// Send again after the server's `Retry-After` or the backoff.
    Retry,
}

/// The default classification: 429, 503 and 504 are transient; 500 and 502
/// too, because every API in this project documents them as "try again".
pub fn transient_status(status: StatusCode) -> Verdict {
    match status.as_u16() {
        429 | 500 | 502 | 503 | 504 => Verdict::Retry,
        _ => Verdict::Done,
    }
}

/// A `reqwest::Client` with a retry policy, shared by all calls of one connector.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    service: &'static str,
}

impl HttpClient {
    /// A client for `service` (the name errors carry, e.g. `"graph"`).
    pub fn new(service: &'static str, policy: RetryPolicy) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .timeout(policy.attempt_timeout)
            .connect_timeout(policy.attempt_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("onboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::Transport { service, source })?;
        Ok(Self {
            client,
            policy,
            sleeper: Arc::new(TokioSleeper),
            service,
        })
    }

    /// Replaces how waits between attempts are spent (tests).
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// The underlying client, to build requests with.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// The service name errors carry.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Sends `request` with the default classification ([`transient_status`]).
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, Error> {
        self.send_with(request, transient_status).await
    }

    /// Sends `request`, retrying while `classify` says so and attempts remain.
    ///
    /// Returns the last response once `classify` answers [`Verdict::Done`], and
    /// an error when attempts run out: [`Error::Throttled`] after 429s,
    /// [`Error::Unavailable`] after other statuses, [`Error::Timeout`] or
    /// [`Error::Transport`] when no answer came. The request must have a
    /// cloneable body (JSON and forms are; streams are not).
    pub async fn send_with(
        &self,
        request: RequestBuilder,
        classify: impl Fn(StatusCode) -> Verdict,
    ) -> Result<Response, Error> {
        self.send_inner(request, classify, Resend::Always).await
    }

    /// Sends a write that is not idempotent (a create, an order, a note): it is
    /// sent again only when it certainly was not applied — a 429 or 503 (the
    /// service refused it unprocessed) or a connection that never opened. When
    /// the request went out and its answer was lost (a timeout, a dropped
    /// connection, a 500/502/504) it is not sent again: the caller gets
    /// [`Error::may_have_applied`] and must first look for what the write did.
    pub async fn send_write(&self, request: RequestBuilder) -> Result<Response, Error> {
        self.send_write_with(request, &[500, 502, 504]).await
    }

    /// [`Self::send_write`] for a service whose answers of some of those statuses
    /// are real answers: `unknown_outcome` lists the statuses after which nobody
    /// knows whether the write was applied (Autotask answers validation errors
    /// with 500, so for it only 502 and 504 are unknown).
    pub async fn send_write_with(
        &self,
        request: RequestBuilder,
        unknown_outcome: &[u16],
    ) -> Result<Response, Error> {
        self.send_inner(
            request,
            refused_unprocessed,
            Resend::OnlyUnsent(unknown_outcome),
        )
        .await
    }

    async fn send_inner(
        &self,
        request: RequestBuilder,
        classify: impl Fn(StatusCode) -> Verdict,
        resend: Resend<'_>,
    ) -> Result<Response, Error> {
        let started = Instant::now();
        let result = self.attempts(request, classify, resend).await;
        crate::metrics::call(self.service, started.elapsed(), result.is_err());
        result
    }

    async fn attempts(
        &self,
        request: RequestBuilder,
        classify: impl Fn(StatusCode) -> Verdict,
        resend: Resend<'_>,
    ) -> Result<Response, Error> {
        let service = self.service;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if attempt > 1 {
                crate::metrics::retry(service);
            }
            let this_try = request.try_clone().ok_or(Error::Protocol {
                service,
                detail: "a request with a streaming body cannot be retried".into(),
            })?;
            let last = attempt >= self.policy.max_attempts.max(1);
            // An attempt ends in time for the step to answer; the first is always
            // made, later ones only when the wait before them left time (below).
            let this_try = match time_left(self.sleeper.now()) {
                Some(left) if !left.is_zero() && left < self.policy.attempt_timeout => {
                    this_try.timeout(left)
                }
                _ => this_try,
            };
            match this_try.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        crate::metrics::throttled(service);
                    }
                    if let Resend::OnlyUnsent(unknown) = resend
                        && unknown.contains(&status.as_u16())
                    {
                        // A gateway's error after the request went out: applied or not,
                        // nobody knows ([`Error::may_have_applied`]).
                        return Err(Error::Unavailable {
                            service,
                            status: status.as_u16(),
                            attempts: attempt,
                        });
                    }
                    if classify(status) == Verdict::Done {
                        return Ok(response);
                    }
                    let retry_after = retry_after(&response, SystemTime::now());
                    if last {
                        return Err(gave_up(service, status, attempt, retry_after));
                    }
                    let wait = match retry_after {
                        Some(asked) if asked > self.policy.max_delay => {
                            return Err(Error::Throttled {
                                service,
                                attempts: attempt,
                                retry_after: Some(asked),
                            });
                        }
                        Some(asked) => asked,
                        None => self.policy.backoff(attempt),
                    };
                    // Out of time before the next attempt: give the workflow the
                    // retryable error now, while the step can still answer.
                    if time_left(self.sleeper.now()).is_some_and(|left| wait >= left) {
                        tracing::info!(
                            service,
                            attempt,
                            "the step's time budget ends before the next attempt"
                        );
                        return Err(gave_up(service, status, attempt, retry_after));
                    }
                    tracing::debug!(
                        service,
                        status = status.as_u16(),
                        attempt,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "transient answer, will retry"
                    );
                    self.sleeper.sleep(wait).await;
                }
                Err(source) => {
                    let timed_out = source.is_timeout();
                    let unsent = source.is_connect() && !timed_out;
                    let worth_resending = match resend {
                        Resend::Always => timed_out || source.is_connect() || source.is_request(),
                        Resend::OnlyUnsent(_) => unsent,
                    };
                    if last || !worth_resending {
                        return Err(if timed_out {
                            Error::Timeout {
                                service,
                                seconds: self.policy.attempt_timeout.as_secs(),
                            }
                        } else {
                            Error::Transport {
                                service,
                                source: source.without_url(),
                            }
                        });
                    }
                    tracing::debug!(service, attempt, timed_out, "no answer, will retry");
                    let wait = self.policy.backoff(attempt);
                    if time_left(self.sleeper.now()).is_some_and(|left| wait >= left) {
                        return Err(if timed_out {
                            Error::Timeout {
                                service,
                                seconds: self.policy.attempt_timeout.as_secs(),
                            }
                        } else {
                            Error::Transport {
                                service,
                                source: source.without_url(),
                            }
                        });
                    }
                    self.sleeper.sleep(wait).await;
                }
            }
        }
    }
}

/// How many times [`create_once`] writes before it gives up on lost answers.
const CREATE_ATTEMPTS: u32 = 3;

/// Makes something exist once through a service that has no idempotency key:
/// `find` looks for it (by the key or marker the caller writes into it), and
/// only when nothing is found does `create` write it, with
/// [`HttpClient::send_write`]. When the write's answer is lost it is looked for
/// again before it is written again, so a lost answer never makes a second
/// ticket, note, order or entry. Answers what `find` found or `create` made.
pub async fn create_once<T, Find, Found, Create, Made>(
    service: &'static str,
    what: &str,
    find: Find,
    create: Create,
) -> Result<T, Error>
where
    Find: Fn() -> Found,
    Found: std::future::Future<Output = Result<Option<T>, Error>>,
    Create: Fn() -> Made,
    Made: std::future::Future<Output = Result<T, Error>>,
{
    let mut lost = None;
    for attempt in 1..=CREATE_ATTEMPTS {
        if let Some(found) = find().await? {
            if attempt > 1 {
                tracing::info!(
                    service,
                    what,
                    "the write whose answer was lost had been applied"
                );
                crate::metrics::lost_answer_recovered(service);
            }
            return Ok(found);
        }
        match create().await {
            Ok(made) => return Ok(made),
            Err(e) if e.may_have_applied() => {
                tracing::info!(service, what, attempt, error = %e, "the answer to a write was lost; looking for what it did");
                lost = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    match find().await? {
        Some(found) => Ok(found),
        None => Err(lost.unwrap_or(Error::Protocol {
            service,
            detail: format!("{what} could not be written"),
        })),
    }
}

/// The error of a call that stops on a transient answer: throttled after a 429,
/// unavailable after another status.
fn gave_up(
    service: &'static str,
    status: StatusCode,
    attempts: u32,
    retry_after: Option<Duration>,
) -> Error {
    if status == StatusCode::TOO_MANY_REQUESTS {
        Error::Throttled {
            service,
            attempts,
            retry_after,
        }
    } else {
        Error::Unavailable {
            service,
            status: status.as_u16(),
            attempts,
        }
    }
}

/// When a request that got no answer may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend<'a> {
    /// Reads and idempotent writes: sending twice does no harm.
    Always,
    /// Non-idempotent writes: only when the connection never opened; after these
    /// statuses the outcome is unknown.
    OnlyUnsent(&'a [u16]),
}

/// What a non-idempotent write may be sent again after: 429 and 503, which the
/// services document as refusals of a request they did not process.
pub fn refused_unprocessed(status: StatusCode) -> Verdict {
    match status.as_u16() {
        429 | 503 => Verdict::Retry,
        _ => Verdict::Done,
    }
}

/// Reads `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(response: &Response, now: SystemTime) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    parse_retry_after(value.to_str().ok()?, now)
}

/// Parses a `Retry-After` value; a date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::Router;
    use axum::http::HeaderMap;
    use axum::routing::get;

    #[derive(Debug, Default)]
    struct RecordingSleeper(Mutex<Vec<Duration>>);

    #[async_trait]
    impl Sleeper for RecordingSleeper {
        async fn sleep(&self, duration: Duration) {
            self.0.lock().unwrap().push(duration);
        }
    }

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}")
    }

    fn client(sleeper: Arc<RecordingSleeper>, max_attempts: u32) -> HttpClient {
        let policy = RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        };
        HttpClient::new("test", policy)
            .unwrap()
            .with_sleeper(sleeper)
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_never_exceeds_its_cap() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for attempt in 1..40 {
            assert!(policy.backoff(attempt) <= Duration::from_secs(1));
        }
        for _ in 0..50 {
            assert!(policy.backoff(1) <= Duration::from_millis(100));
        }
    }

    #[tokio::test]
    async fn throttled_call_waits_the_servers_retry_after_then_succeeds() {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        let base = serve(Router::new().route(
            "/",
            get(move || {
                let seen = seen.clone();
                async move {
                    let mut headers = HeaderMap::new();
                    if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                        headers.insert("retry-after", "3".parse().unwrap());
                        return (StatusCode::TOO_MANY_REQUESTS, headers, "slow down");
                    }
                    (StatusCode::OK, headers, "fine")
                }
            }),
        ))
        .await;
        let sleeper = Arc::new(RecordingSleeper::default());
        let http = client(sleeper.clone(), 5);

        let response = http.send(http.inner().get(&base)).await.unwrap();

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            *sleeper.0.lock().unwrap(),
            vec![Duration::from_secs(3), Duration::from_secs(3)]
        );
    }

    #[tokio::test]
    async fn persistent_throttling_ends_in_a_throttled_error_after_the_last_attempt() {
        let base = serve(Router::new().route(
            "/",
            get(|| async { (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "") }),
        ))
        .await;
        let sleeper = Arc::new(RecordingSleeper::default());
        let http = client(sleeper.clone(), 3);

        let err = http.send(http.inner().get(&base)).await.unwrap_err();

        assert!(matches!(
            err,
            Error::Throttled {
                attempts: 3,
                retry_after: Some(d),
                ..
            } if d == Duration::from_secs(1)
        ));
        assert_eq!(sleeper.0.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_cap_is_not_waited_out() {
        let base = serve(Router::new().route(
            "/",
            get(|| async { (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3600")], "") }),
        ))
        .await;
        let sleeper = Arc::new(RecordingSleeper::default());
        let http = client(sleeper.clone(), 5);

        let err = http.send(http.inner().get(&base)).await.unwrap_err();

        assert!(matches!(err, Error::Throttled { attempts: 1, .. }));
        assert!(sleeper.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn server_errors_are_retried_and_client_errors_are_not() {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        let base = serve(
            Router::new()
                .route(
                    "/flaky",
                    get(move || {
                        let seen = seen.clone();
                        async move {
                            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                                StatusCode::INTERNAL_SERVER_ERROR
                            } else {
                                StatusCode::OK
                            }
                        }
                    }),
                )
                .route("/bad", get(|| async { StatusCode::BAD_REQUEST })),
        )
        .await;
        let sleeper = Arc::new(RecordingSleeper::default());
        let http = client(sleeper.clone(), 4);

        let ok = http.send(http.inner().get(format!("{base}/flaky"))).await;
        let bad = http.send(http.inner().get(format!("{base}/bad"))).await;

        assert_eq!(ok.unwrap().status(), StatusCode::OK);
        assert_eq!(bad.unwrap().status(), StatusCode::BAD_REQUEST);
        assert_eq!(sleeper.0.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_transport_error_after_the_retries() {
        // Bind then drop, so the port is very likely closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let sleeper = Arc::new(RecordingSleeper::default());
        let http = client(sleeper.clone(), 2);

        let err = http
            .send(http.inner().get(format!("http://{addr}/")))
            .await
            .unwrap_err();

        assert!(matches!(
            err,
            Error::Transport {
                service: "test",
                ..
            }
        ));
        assert_eq!(sleeper.0.lock().unwrap().len(), 1);
    }
}
