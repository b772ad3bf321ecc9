//! `--sandbox`: the simulators under `/sandbox/...`, the organizations they hold,
//! the connector settings that point at them, the outbox and `POST /sandbox/clock`.
//!
//! The connectors reach the simulators over HTTP at the server's own address, as
//! they would reach the real services: nothing in the steps knows the sandbox is there.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use onboard_connectors::notify::{Channel as EntryChannel, MemoryOutbox};
use onboard_domain::VariableLayer;
use onboard_sandbox::outbox::{Channel, OutboxMessage};
use onboard_sandbox::{Sandbox, SandboxSeed};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use super::app::AppState;
use super::connections::ConnectorTable;
use onboard_http::ApiError;

/// An organization of the sandbox: the seed's tenant and the ids the other simulators
/// know it by.
#[derive(Debug, Clone)]
pub(crate) struct SandboxOrg {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) domain: String,
    pub(crate) tenant_id: String,
    /// Variables that point the organization at its PSA companies.
    pub(crate) variables: VariableLayer,
    /// Its vault and distributor mapping.
    pub(crate) connectors: BTreeMap<String, ConnectorTable>,
}

fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn table(plain: &[(&str, String)], secrets: &[(&str, &str)]) -> ConnectorTable {
    ConnectorTable {
        plain: plain
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        secrets: secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretString::from((*v).to_owned())))
            .collect(),
    }
}

/// The organizations of the seed: one per Graph tenant, each mapped to the PSA
/// companies, vault organizations and Pax8 company of the same name (or tenant).
pub(crate) fn organizations(seed: &SandboxSeed) -> Vec<SandboxOrg> {
    let mut out = Vec::new();
    for org in seed.organizations() {
        let tenant = seed.graph.tenants.iter().find(|t| t.id == org.tenant_id);
        let domains: Vec<String> = tenant.map(|t| t.domains.clone()).unwrap_or_default();
        let names = |n: &str| same(n, &org.name) || same(n, &org.id);
        let mut variables = VariableLayer::new();
        if let Some(c) = seed
            .connectwise
            .companies
            .iter()
            .find(|c| names(&c.identifier) || names(&c.name))
        {
            variables.insert("cw_manage_company_id".into(), json!(c.identifier));
        }
        if let Some(c) = seed.autotask.companies.iter().find(|c| names(&c.name)) {
            variables.insert("autotask_company_id".into(), json!(c.id.to_string()));
        }
        if let Some(c) = seed.halopsa.clients.iter().find(|c| names(&c.name)) {
            variables.insert("halo_psa_client_id".into(), json!(c.id.to_string()));
        }
        let mut connectors = BTreeMap::new();
        if let Some(o) = seed.itglue.organizations.iter().find(|o| names(&o.name)) {
            connectors.insert(
                "itglue".into(),
                table(&[("organization_id", o.id.to_string())], &[]),
            );
        }
        if let Some(c) = seed.hudu.companies.iter().find(|c| names(&c.name)) {
            connectors.insert(
                "hudu".into(),
                table(&[("company_id", c.id.to_string())], &[]),
            );
        }
        if let Some(c) = seed.pax8.companies.iter().find(|c| {
            c.microsoft_tenant
                .as_deref()
                .is_some_and(|t| domains.iter().any(|d| same(d, t)) || same(t, &org.tenant_id))
        }) {
            connectors.insert("pax8".into(), table(&[("company_id", c.id.clone())], &[]));
        }
        if let Some(c) = seed.sherweb.customers.iter().find(|c| {
            c.microsoft_tenant
                .as_deref()
                .is_some_and(|t| domains.iter().any(|d| same(d, t)) || same(t, &org.tenant_id))
        }) {
            connectors.insert(
                "sherweb".into(),
                table(&[("customer_id", c.id.clone())], &[]),
            );
        }
        if let Some(app) = tenant.and_then(|t| t.apps.first()) {
            connectors.insert(
                "graph".into(),
                table(
                    &[("client_id", app.client_id.clone())],
                    &[("client_secret", &app.client_secret)],
                ),
            );
        }
        out.push(SandboxOrg {
            id: org.id,
            name: org.name,
            domain: org.domain,
            tenant_id: org.tenant_id,
            variables,
            connectors,
        });
    }
    out
}

/// MSP-wide connector settings pointing at the simulators served at `base`
/// (`http://127.0.0.1:PORT`), with the seed's credentials.
pub(crate) fn connectors(seed: &SandboxSeed, base: &str) -> BTreeMap<String, ConnectorTable> {
    let mut out = BTreeMap::new();
    out.insert(
        "graph".into(),
        table(
            &[
                ("authority", format!("{base}/sandbox/graph/login")),
                ("graph_url", format!("{base}/sandbox/graph/v1.0")),
            ],
            &[],
        ),
    );
    // Exchange Online signs in with each organization's Graph app, at Graph's
    // login; configured when the seed's app may call it (a seed whose app lacks
    // Exchange.ManageAsApp shows an organization without the connector).
    let may_call_exchange = seed
        .graph
        .tenants
        .iter()
        .flat_map(|t| &t.apps)
        .any(|a| a.permissions.iter().any(|p| p == "Exchange.ManageAsApp"));
    if may_call_exchange {
        out.insert(
            "exchange".into(),
            table(
                &[("url", format!("{base}/sandbox/exchange/adminapi/beta"))],
                &[],
            ),
        );
    }
    if let Some(c) = seed.connectwise.credentials.first() {
        let client_id = seed
            .connectwise
            .client_ids
            .first()
            .cloned()
            .unwrap_or_default();
        out.insert(
            "connectwise".into(),
            table(
                &[
                    (
                        "base_url",
                        format!(
                            "{base}/sandbox/connectwise/{}/apis/3.0",
                            seed.connectwise.codebase
                        ),
                    ),
                    ("company_id", c.company_id.clone()),
                    ("public_key", c.public_key.clone()),
                    ("client_id", client_id),
                ],
                &[("private_key", &c.private_key)],
            ),
        );
    }
    if let Some(c) = seed.autotask.credentials.first() {
        out.insert(
            "autotask".into(),
            table(
                &[
                    ("integration_code", c.integration_code.clone()),
                    ("username", c.username.clone()),
                    (
                        "zone_url",
                        format!("{base}/sandbox/autotask/atservicesrest/"),
                    ),
                ],
                &[("secret", &c.secret)],
            ),
        );
    }
    if let Some(a) = seed.halopsa.applications.first() {
        let mut plain = vec![
            ("base_url", format!("{base}/sandbox/halopsa")),
            ("client_id", a.client_id.clone()),
        ];
        if let Some(t) = &seed.halopsa.tenant {
            plain.push(("tenant", t.clone()));
        }
        out.insert(
            "halopsa".into(),
            table(&plain, &[("client_secret", &a.client_secret)]),
        );
    }
    if let Some(k) = seed.itglue.api_keys.iter().find(|k| k.password_access) {
        out.insert(
            "itglue".into(),
            table(
                &[("base_url", format!("{base}/sandbox/itglue"))],
                &[("api_key", &k.key)],
            ),
        );
    }
    if let Some(k) = seed.hudu.api_keys.iter().find(|k| k.password_access) {
        out.insert(
            "hudu".into(),
            table(
                &[("base_url", format!("{base}/sandbox/hudu"))],
                &[("api_key", &k.key)],
            ),
        );
    }
    // The simulator wins over any `pwpush_url` (nothing reaches a real instance).
    let pwpush_base = ("base_url", format!("{base}/sandbox/pwpush"));
    out.insert(
        "pwpush".into(),
        match seed.pwpush.users.first() {
            Some(u) => table(
                &[pwpush_base, ("email", u.email.clone())],
                &[("api_token", &u.token)],
            ),
            None => table(&[pwpush_base], &[]),
        },
    );
    if let Some(c) = seed.pax8.clients.first() {
        out.insert(
            "pax8".into(),
            table(
                &[
                    ("client_id", c.client_id.clone()),
                    ("token_url", format!("{base}/sandbox/pax8/oauth/token")),
                    ("api_base", format!("{base}/sandbox/pax8/v1")),
                ],
                &[("client_secret", &c.client_secret)],
            ),
        );
    }
    if let (Some(c), Some(key)) = (
        seed.sherweb.clients.first(),
        seed.sherweb.subscription_keys.first(),
    ) {
        out.insert(
            "sherweb".into(),
            table(
                &[
                    ("client_id", c.client_id.clone()),
                    (
                        "token_url",
                        format!("{base}/sandbox/sherweb/auth/oidc/connect/token"),
                    ),
                    (
                        "api_base",
                        format!("{base}/sandbox/sherweb/service-provider/v1"),
                    ),
                ],
                &[
                    ("client_secret", &c.client_secret),
                    ("subscription_key", key),
                ],
            ),
        );
    }
    out
}

/// A notifier that keeps mail and SMS in the sandbox's outbox (`GET /sandbox/outbox`).
pub(crate) fn notifier(
    sandbox: &Sandbox,
    clock: Arc<dyn onboard_asl::Clock>,
) -> Arc<dyn onboard_connectors::notify::Notifier> {
    let outbox = sandbox.outbox().clone();
    Arc::new(
        MemoryOutbox::new()
            .with_clock(move || clock.now())
            .with_observer(move |e| {
                outbox.push(OutboxMessage {
                    channel: match e.channel {
                        EntryChannel::Email => Channel::Email,
                        EntryChannel::Sms => Channel::Sms,
                    },
                    to: e.to.clone(),
                    subject: e.subject.clone(),
                    body: e.body.clone(),
                    sent_at: e.sent_at,
                });
            }),
    )
}

/// Middleware of `/sandbox/*`: the simulators hold passwords (the outbox) and
/// can be driven (faults, clock), so they answer only clients on this machine
/// (the server's own connectors among them) or a request with an API key.
/// Without the peer's address (a router served without connect info) the
/// extractor refuses the request: closed, not open.
pub(crate) async fn loopback_or_api_key(
    State(keys): State<onboard_http::ApiKeys>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if peer.ip().is_loopback() {
        return next.run(request).await;
    }
    let key = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if key.is_some_and(|k| keys.required() && keys.accepts(k)) {
        return next.run(request).await;
    }
    onboard_http::error::problem(
        axum::http::StatusCode::FORBIDDEN,
        "The sandbox answers this machine only",
        json!({"detail": "/sandbox/* answers clients on this machine, or requests with `Authorization: Bearer <api key>`"}),
    )
}

/// `POST /sandbox/clock`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Advance {
    advance_seconds: u64,
}

/// The clock routes, when `on`: `POST /sandbox/clock` (virtual clock only) and `GET /sandbox/clock`.
pub(crate) fn clock_router_if(on: bool) -> Router<AppState> {
    if on {
        Router::new().route("/sandbox/clock", post(advance).get(now))
    } else {
        Router::new()
    }
}

async fn now(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"now": state.clock.now().to_string(), "virtual": state.virtual_clock}))
}

/// Moves the virtual clock, running every timer that falls due on the way, in order;
/// answers when everything due has run.
async fn advance(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    if !state.virtual_clock {
        return Err(ApiError::field(
            "advance_seconds",
            "the server runs on the system clock; start it with --virtual-clock",
        ));
    }
    let Advance { advance_seconds } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::field(
            "advance_seconds",
            format!("expected {{\"advance_seconds\": N}}: {e}"),
        )
    })?;
    let secs = i64::try_from(advance_seconds)
        .ok()
        .filter(|s| *s <= 10 * 365 * 24 * 3600)
        .ok_or_else(|| ApiError::field("advance_seconds", "at most ten years"))?;
    // Only one advance at a time, so timers run in time order.
    let _guard = state.clock_lock.lock().await;
    state
        .engine
        .advance(jiff::SignedDuration::from_secs(secs))
        .await
        .map_err(ApiError::internal)?;
    if let Some(sandbox) = &state.sandbox {
        sandbox.run_due();
    }
    // Seats provisioned just now may unblock a retry due at this very instant.
    state.engine.run_due().await.map_err(ApiError::internal)?;
    let organizations: Vec<String> = state.organizations.keys().cloned().collect();
    super::runtime::remind_approvers(&state.deps, &organizations).await;
    let now = state.clock.now();
    state.purge.run(now).await;
    if let Err(e) = super::app::save_virtual_time(&state.data_dir, now) {
        tracing::warn!(error = %e, "could not save the virtual clock");
    }
    Ok(Json(json!({"now": now.to_string()})))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use onboard_http::{ApiKeys, hash_api_key};
    use tower::ServiceExt as _;

    /// `/sandbox/outbox` behind the middleware, as seen from `peer`.
    async fn outbox_status(peer: &str, keys: ApiKeys, bearer: Option<&str>) -> StatusCode {
        let app = Router::new()
            .route("/sandbox/outbox", get(|| async { "[]" }))
            .layer(axum::middleware::from_fn_with_state(
                keys,
                super::loopback_or_api_key,
            ))
            .layer(MockConnectInfo(peer.parse::<SocketAddr>().expect("addr")));
        let mut request = Request::get("/sandbox/outbox");
        if let Some(key) = bearer {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        app.oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("answer")
            .status()
    }

    #[tokio::test]
    async fn the_sandbox_answers_this_machine_or_an_api_key_only() {
        let none = ApiKeys::default();
        let keys = ApiKeys {
            hashes: Arc::new(vec![hash_api_key("right")]),
            upstream: false,
        };
        assert_eq!(
            outbox_status("127.0.0.1:5000", none.clone(), None).await,
            StatusCode::OK
        );
        assert_eq!(
            outbox_status("[::1]:5000", none.clone(), None).await,
            StatusCode::OK
        );
        assert_eq!(
            outbox_status("192.0.2.10:5000", none, None).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            outbox_status("192.0.2.10:5000", keys.clone(), Some("wrong")).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            outbox_status("192.0.2.10:5000", keys, Some("right")).await,
            StatusCode::OK
        );
    }
}
