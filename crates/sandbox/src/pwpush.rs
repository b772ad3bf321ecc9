//! Password Pusher simulator: one-time secret links (API v1), under `/sandbox/pwpush/`.
//!
//! Follows the fact sheet (§7): `POST /p.json` with `{"password": {...}}` answers
//! 201 with the push (`url_token`, `html_url`, `expire_after_days`, ...);
//! out-of-range expiry values are reset to the default silently, not refused;
//! `Authorization: Bearer <token>` or the legacy `X-User-Email` + `X-User-Token`
//! authenticate, and a present-but-wrong token answers a bare 401 even where an
//! anonymous push would be allowed. `GET /p/{token}.json` consumes a view,
//! `GET /p/{token}/preview.json` gives the link to share (the `/p/{token}/r`
//! retrieval-step page when the push has one, which uses no view),
//! `DELETE /p/{token}.json` expires it, `GET /p/active.json` lists the
//! caller's live pushes (a token required). Not simulated: form-encoded bodies, passphrases, file and URL pushes.
//!
//! Time is virtual: [`PwPush::advance`] moves the simulator's clock, so a
//! test expires a push by days without sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::faults::{Fault, FaultSettings, Faults};

/// The `[sandbox.pwpush]` seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PwPushSeed {
    /// Whether text pushes may be created without a token (pwpush.com: yes).
    pub allow_anonymous: bool,
    /// Accounts with API tokens.
    pub users: Vec<PwPushUser>,
    /// Limits of `expire_after_days`.
    pub days: PwPushLimit,
    /// Limits of `expire_after_views`.
    pub views: PwPushLimit,
    /// Fault injection.
    pub faults: FaultSettings,
}

impl Default for PwPushSeed {
    fn default() -> Self {
        Self {
            allow_anonymous: true,
            users: Vec::new(),
            days: PwPushLimit {
                min: 1,
                max: 90,
                default: 7,
            },
            views: PwPushLimit {
                min: 1,
                max: 100,
                default: 5,
            },
            faults: FaultSettings::default(),
        }
    }
}

/// An account and its API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PwPushUser {
    /// The account's mail address (`X-User-Email`).
    pub email: String,
    /// Its API token (`Bearer` or `X-User-Token`).
    pub token: String,
}

/// A setting's allowed range and the value used outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PwPushLimit {
    /// Smallest accepted value.
    pub min: u32,
    /// Largest accepted value.
    pub max: u32,
    /// Used when the value is missing or out of range.
    pub default: u32,
}

impl PwPushLimit {
    /// Pwpush's rule: a value outside `[min, max]` becomes the default.
    fn apply(&self, asked: Option<i64>) -> u32 {
        match asked.and_then(|v| u32::try_from(v).ok()) {
            Some(v) if (self.min..=self.max).contains(&v) => v,
            _ => self.default,
        }
    }
}

/// One push as the simulator keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The link's token.
    pub url_token: String,
    /// The secret.
    pub payload: String,
    /// Days until it expires.
    pub expire_after_days: u32,
    /// Views until it expires.
    pub expire_after_views: u32,
    /// Views so far.
    pub views: u32,
    /// Expired by hand.
    pub deleted: bool,
    /// Whether a viewer may delete it.
    pub deletable_by_viewer: bool,
    /// Whether the link shows a "click to reveal" step first.
    pub retrieval_step: bool,
    /// The push's name (owner-visible only).
    pub name: Option<String>,
    /// A note (owner-visible only).
    pub note: Option<String>,
    /// The owner's mail address; `None` for anonymous pushes.
    pub owner: Option<String>,
    /// When it was created (virtual clock).
    pub created_at: jiff::Timestamp,
}

/// The simulator's state handle.
#[derive(Debug, Clone)]
pub struct PwPush {
    inner: Arc<Mutex<Inner>>,
    faults: Faults,
}

#[derive(Debug)]
struct Inner {
    seed: PwPushSeed,
    pushes: HashMap<String, Push>,
    clock: ClockFn,
    offset: Duration,
    created: u64,
}

impl PwPush {
    /// A simulator seeded with `seed`.
    pub fn new(seed: PwPushSeed) -> Self {
        let faults = Faults::new("pwpush", seed.faults.clone(), fault_body);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                seed,
                pushes: HashMap::new(),
                clock: ClockFn(Arc::new(jiff::Timestamp::now)),
                offset: Duration::ZERO,
                created: 0,
            })),
            faults,
        }
    }

    /// Every push, in no particular order.
    pub fn pushes(&self) -> Vec<Push> {
        self.lock().pushes.values().cloned().collect()
    }

    /// Every push as its owner's `GET /p/{token}.json` preview shows it, oldest
    /// first, with links under `base` (where the simulator is served), for
    /// `GET /sandbox/state`: the `payload` is masked, never shown.
    pub fn state_json(&self, base: &str) -> Value {
        let inner = self.lock();
        let mut pushes: Vec<&Push> = inner.pushes.values().collect();
        pushes.sort_by(|a, b| (a.created_at, &a.url_token).cmp(&(b.created_at, &b.url_token)));
        let pushes: Vec<Value> = pushes
            .into_iter()
            .map(|p| {
                let mut push = push_json(&inner, p, base, false);
                push["payload"] = json!(crate::MASKED);
                push
            })
            .collect();
        json!({ "pushes": pushes })
    }

    /// How many pushes were created.
    pub fn created(&self) -> u64 {
        self.lock().created
    }

    /// Reads the time from `clock` (the local runtime's virtual clock)
    /// instead of the real one; [`Self::advance`] still adds to it.
    pub fn with_clock(self, clock: impl Fn() -> jiff::Timestamp + Send + Sync + 'static) -> Self {
        self.lock().clock = ClockFn(Arc::new(clock));
        self
    }

    /// Moves the simulator's clock forward.
    pub fn advance(&self, by: Duration) {
        self.lock().offset += by;
    }

    /// The fault injector.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where a simulator reads the time: the real clock by default, or the local
/// runtime's virtual clock.
#[derive(Clone)]
struct ClockFn(Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>);

impl std::fmt::Debug for ClockFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockFn")
    }
}

impl Inner {
    fn now(&self) -> jiff::Timestamp {
        let offset =
            jiff::SignedDuration::try_from(self.offset).unwrap_or(jiff::SignedDuration::MAX);
        (self.clock.0)()
            .checked_add(offset)
            .unwrap_or(jiff::Timestamp::MAX)
    }

    fn expired(&self, push: &Push) -> bool {
        let age = self.now().duration_since(push.created_at);
        push.deleted
            || push.views >= push.expire_after_views
            || age >= jiff::SignedDuration::from_hours(24 * i64::from(push.expire_after_days))
    }
}

/// The Password Pusher API, to be nested at `/sandbox/pwpush`.
pub fn router(sim: PwPush) -> Router {
    let api = Router::new()
        .route("/p.json", post(create))
        .route("/p/active.json", get(active))
        .route("/p/{file}", get(retrieve).delete(expire))
        .route("/p/{token}/preview.json", get(preview))
        .route("/p/{token}/r", get(preliminary))
        .with_state(sim.clone());
    sim.faults.layer(api)
}

fn fault_body(fault: Fault) -> Response {
    let message = match fault {
        Fault::Throttle { .. } => "Rate limit exceeded",
        Fault::ServerError(_) => "We're sorry, but something went wrong.",
    };
    Json(json!({ "error": message })).into_response()
}

/// Who is asking: `Ok(Some(email))` for a valid token, `Ok(None)` for no
/// token at all, `Err` (a bare 401) for a token that is present but wrong.
#[allow(
    clippy::result_large_err,
    reason = "an early-return HTTP answer of a simulator handler, built once per refused request"
)]
fn caller(seed: &PwPushSeed, headers: &HeaderMap) -> Result<Option<String>, Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bare_401 = || StatusCode::UNAUTHORIZED.into_response();
    if let Some(auth) = header("authorization") {
        let token = auth.strip_prefix("Bearer ").ok_or_else(bare_401)?;
        return seed
            .users
            .iter()
            .find(|u| u.token == token)
            .map(|u| Some(u.email.clone()))
            .ok_or_else(bare_401);
    }
    match (header("x-user-email"), header("x-user-token")) {
        (None, None) => Ok(None),
        (Some(email), Some(token)) => seed
            .users
            .iter()
            .find(|u| u.email == email && u.token == token)
            .map(|u| Some(u.email.clone()))
            .ok_or_else(bare_401),
        _ => Err(bare_401()),
    }
}

fn push_json(inner: &Inner, push: &Push, base: &str, with_payload: bool) -> Value {
    let expired = inner.expired(push);
    let age_days = inner.now().duration_since(push.created_at).as_hours() / 24;
    let days_remaining = (i64::from(push.expire_after_days) - age_days).max(0);
    let mut body = json!({
        "url_token": push.url_token,
        "html_url": format!("{base}/p/{}", push.url_token),
        "json_url": format!("{base}/p/{}.json", push.url_token),
        "expire_after_days": push.expire_after_days,
        "expire_after_views": push.expire_after_views,
        "expired": expired,
        "expired_on": Value::Null,
        "deletable_by_viewer": push.deletable_by_viewer,
        "retrieval_step": push.retrieval_step,
        "passphrase": Value::Null,
        "created_at": push.created_at.to_string(),
        "updated_at": push.created_at.to_string(),
        "days_remaining": days_remaining,
        "views_remaining": push.expire_after_views.saturating_sub(push.views),
        "deleted": push.deleted,
        "note": push.note,
        "name": push.name,
    });
    if with_payload && !expired {
        body["payload"] = json!(push.payload);
    }
    body
}

/// The externally visible base of the simulator, from `Host` and the request's
/// full path, so links work wherever the sandbox is mounted.
fn base_url(headers: &HeaderMap, uri: &OriginalUri, own_path_len: usize) -> String {
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let path = uri.0.path();
    let prefix = &path[..path.len().saturating_sub(own_path_len)];
    format!("http://{host}{prefix}")
}

async fn create(
    State(sim): State<PwPush>,
    headers: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> Response {
    let mut inner = sim.lock();
    let owner = match caller(&inner.seed, &headers) {
        Ok(owner) => owner,
        Err(denied) => return denied,
    };
    if owner.is_none() && !inner.seed.allow_anonymous {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let fields = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|doc| doc.get("password").filter(|p| p.is_object()).cloned());
    let Some(fields) = fields else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "param is missing or the value is empty: password"})),
        )
            .into_response();
    };
    let payload = fields
        .get("payload")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if payload.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"payload": ["can't be blank"]})),
        )
            .into_response();
    }
    let number = |key: &str| {
        fields.get(key).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let flag = |key: &str| fields.get(key).and_then(Value::as_bool).unwrap_or(false);
    let text = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_owned);
    let token: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(22)
        .map(char::from)
        .collect();
    let push = Push {
        url_token: token.clone(),
        payload: payload.to_owned(),
        expire_after_days: inner.seed.days.apply(number("expire_after_days")),
        expire_after_views: inner.seed.views.apply(number("expire_after_views")),
        views: 0,
        deleted: false,
        deletable_by_viewer: flag("deletable_by_viewer"),
        retrieval_step: flag("retrieval_step"),
        name: text("name"),
        note: text("note"),
        owner,
        created_at: inner.now(),
    };
    let base = base_url(&headers, &uri, "/p.json".len());
    let body = push_json(&inner, &push, &base, false);
    inner.pushes.insert(token, push);
    inner.created += 1;
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `GET /p/active.json`: the caller's pushes that have not expired, newest
/// first, without their payloads; a token is required. Pagination: none seen
/// in the API's documentation `[?]`.
async fn active(State(sim): State<PwPush>, headers: HeaderMap, uri: OriginalUri) -> Response {
    let inner = sim.lock();
    let owner = match caller(&inner.seed, &headers) {
        Ok(Some(owner)) => owner,
        Ok(None) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(denied) => return denied,
    };
    let base = base_url(&headers, &uri, "/p/active.json".len());
    let mut mine: Vec<&Push> = inner
        .pushes
        .values()
        .filter(|p| p.owner.as_deref() == Some(owner.as_str()) && !inner.expired(p))
        .collect();
    mine.sort_by(|a, b| (b.created_at, &b.url_token).cmp(&(a.created_at, &a.url_token)));
    let list: Vec<Value> = mine
        .into_iter()
        .map(|p| push_json(&inner, p, &base, false))
        .collect();
    Json(list).into_response()
}

async fn retrieve(
    State(sim): State<PwPush>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(file): Path<String>,
) -> Response {
    let (token, as_json) = match file.strip_suffix(".json") {
        Some(token) => (token.to_owned(), true),
        None => (file.clone(), false),
    };
    let mut inner = sim.lock();
    let Some(mut push) = inner.pushes.get(&token).cloned() else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response();
    };
    let base = base_url(&headers, &uri, "/p/".len() + file.len());
    let was_expired = inner.expired(&push);
    let body = push_json(&inner, &push, &base, true);
    if !was_expired {
        push.views += 1;
        inner.pushes.insert(token, push);
    }
    if as_json {
        return Json(body).into_response();
    }
    match body.get("payload").and_then(Value::as_str) {
        Some(secret) => Html(format!(
            "<!doctype html><title>Password Pusher</title><p>Your secret:</p><pre>{}</pre>",
            secret
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        ))
        .into_response(),
        None => Html(
            "<!doctype html><title>Password Pusher</title><p>This secret link has expired.</p>",
        )
        .into_response(),
    }
}

async fn preview(
    State(sim): State<PwPush>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(token): Path<String>,
) -> Response {
    let inner = sim.lock();
    if !inner.pushes.contains_key(&token) {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response();
    }
    let base = base_url(
        &headers,
        &uri,
        "/p/".len() + token.len() + "/preview.json".len(),
    );
    // With a retrieval step, the link to share is the preliminary page.
    let suffix = if inner.pushes.get(&token).is_some_and(|p| p.retrieval_step) {
        "/r"
    } else {
        ""
    };
    Json(json!({ "url": format!("{base}/p/{token}{suffix}") })).into_response()
}

/// The retrieval step: a page that uses no view, so a mail scanner that
/// follows the link does not burn it; the person clicks through to the secret.
async fn preliminary(State(sim): State<PwPush>, Path(token): Path<String>) -> Response {
    let inner = sim.lock();
    match inner.pushes.get(&token) {
        Some(push) if !inner.expired(push) => Html(format!(
            "<!doctype html><title>Password Pusher</title>\
             <p>Someone sent you a secret.</p><a href=\"../{token}\">Click here to view it</a>"
        ))
        .into_response(),
        Some(_) => Html(
            "<!doctype html><title>Password Pusher</title><p>This secret link has expired.</p>",
        )
        .into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response(),
    }
}

async fn expire(
    State(sim): State<PwPush>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(file): Path<String>,
    Query(_query): Query<HashMap<String, String>>,
) -> Response {
    let Some(token) = file.strip_suffix(".json") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut inner = sim.lock();
    let owner = match caller(&inner.seed, &headers) {
        Ok(owner) => owner,
        Err(denied) => return denied,
    };
    let Some(mut push) = inner.pushes.get(token).cloned() else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response();
    };
    let allowed = push.deletable_by_viewer || (owner.is_some() && owner == push.owner);
    if !allowed {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "That push doesn't belong to you."})),
        )
            .into_response();
    }
    push.deleted = true;
    let base = base_url(&headers, &uri, "/p/".len() + file.len());
    let body = push_json(&inner, &push, &base, false);
    inner.pushes.insert(token.to_owned(), push);
    Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve(sim: PwPush) -> String {
        let app = Router::new().nest("/sandbox/pwpush", router(sim));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/sandbox/pwpush")
    }

    async fn push(base: &str, days: u32) -> Value {
        reqwest::Client::new()
            .post(format!("{base}/p.json"))
            .json(&json!({"password": {"payload": "s3cret", "expire_after_days": days, "expire_after_views": 2}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    #[test]
    fn the_seed_reads_from_the_sandbox_section_of_the_config_file() {
        #[derive(Deserialize)]
        struct Config {
            sandbox: Section,
        }
        #[derive(Deserialize)]
        struct Section {
            pwpush: PwPushSeed,
        }
        let text = r#"
            [sandbox.pwpush]
            allow_anonymous = false
            views = { min = 1, max = 10, default = 3 }
            [[sandbox.pwpush.users]]
            email = "tech@msp.example"
            token = "pwp-token"
        "#;

        let seed = toml::from_str::<Config>(text).unwrap().sandbox.pwpush;

        assert!(!seed.allow_anonymous);
        assert_eq!(
            seed.views.apply(Some(50)),
            3,
            "out of range resets to the default"
        );
        assert_eq!(seed.days, PwPushSeed::default().days);
        assert_eq!(seed.users[0].token, "pwp-token");
    }

    #[tokio::test]
    async fn a_push_is_readable_until_its_views_run_out() {
        let sim = PwPush::new(PwPushSeed::default());
        let base = serve(sim).await;
        let created = push(&base, 3).await;
        let url = format!("{}.json", created["html_url"].as_str().unwrap());

        let mut payloads = Vec::new();
        for _ in 0..3 {
            let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
            payloads.push(body["payload"].clone());
        }

        assert_eq!(
            payloads,
            vec![json!("s3cret"), json!("s3cret"), Value::Null]
        );
    }

    #[tokio::test]
    async fn a_push_expires_when_the_virtual_clock_passes_its_days() {
        let sim = PwPush::new(PwPushSeed::default());
        let base = serve(sim.clone()).await;
        let created = push(&base, 1).await;
        let url = format!("{}.json", created["html_url"].as_str().unwrap());

        sim.advance(Duration::from_secs(25 * 3600));
        let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();

        assert_eq!(body["expired"], true);
        assert!(body.get("payload").is_none());
    }

    #[tokio::test]
    async fn the_active_list_shows_only_the_callers_live_pushes_and_needs_a_token() {
        let sim = PwPush::new(PwPushSeed {
            users: vec![PwPushUser {
                email: "api@onboard.test".into(),
                token: "tok".into(),
            }],
            ..PwPushSeed::default()
        });
        let base = serve(sim).await;
        let client = reqwest::Client::new();
        let mine = client
            .post(format!("{base}/p.json"))
            .bearer_auth("tok")
            .json(&json!({"password": {"payload": "s3cret", "note": "onboarding ob-1"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(mine.status(), 201);
        push(&base, 3).await; // anonymous: nobody's

        let listed: Value = client
            .get(format!("{base}/p/active.json"))
            .bearer_auth("tok")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let anonymous = client
            .get(format!("{base}/p/active.json"))
            .send()
            .await
            .unwrap();

        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["note"], "onboarding ob-1");
        assert!(listed[0].get("payload").is_none(), "never the secret");
        assert_eq!(anonymous.status(), 401);
    }
}
