//! Microsoft Entra ID's sign-in (OpenID Connect, v2.0 endpoints) for people:
//! the issuer Onboard's console signs technicians in with.
//!
//! Under `/sandbox/entra/{tenant}/`, as `login.microsoftonline.com/{tenant}/`:
//!
//! | path | what |
//! | --- | --- |
//! | `v2.0/.well-known/openid-configuration` | discovery |
//! | `discovery/v2.0/keys` | the JWKS |
//! | `oauth2/v2.0/authorize` | the sign-in page (pick a sandbox user), then a redirect with `code` and `state` |
//! | `oauth2/v2.0/token` | the authorization code (with PKCE) for an ID token |
//! | `oauth2/v2.0/logout` | sign-out, back to `post_logout_redirect_uri` |
//!
//! `{tenant}` is a tenant's id, or `organizations` / `common` for apps any
//! tenant may sign in to: their discovery names the issuer
//! `.../{tenantid}/v2.0` literally, as Entra does, and each token's `iss`
//! carries the user's own tenant, so the app must check `tid` itself.
//!
//! As Entra: an authorization code lives 10 minutes and is redeemed once;
//! PKCE's `S256` and `plain`; a loopback redirect URI matches whatever its
//! port; errors carry their `AADSTS` codes. For tests, `POST
//! /sandbox/entra/keys/rotate` rotates the signing key and `POST
//! /sandbox/entra/next-id-token` spoils the next ID token (expired, signed by
//! an unknown key, for another audience or issuer, with another nonce).
//! The facts it follows, with sources: `docs/entra-sign-in-facts.md`.
//! Not modelled: passwords and MFA (picking a user is signing in), consent,
//! refresh tokens, `x5c` certificates, the groups overage claim.

mod keys;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::sha2::{Digest, Sha256};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::faults::{Fault, FaultSettings, Faults};
use keys::Keys;

/// How long an authorization code may be redeemed.
const CODE_LIFETIME_SECS: i64 = 600;
/// How long an ID token is valid (Entra's default).
const TOKEN_LIFETIME_SECS: i64 = 3600;
/// The tenant path segments that take any tenant's users.
const ANY_TENANT: [&str; 2] = ["organizations", "common"];

/// `[sandbox.entra]`: the tenants, app registrations and people of the issuer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntraSeed {
    /// The tenants people sign in from.
    pub tenants: Vec<EntraTenant>,
    /// The app registrations that may ask for a sign-in.
    pub apps: Vec<EntraApp>,
    /// The people, each in one tenant.
    pub users: Vec<EntraUser>,
    /// Fault injection: discovery, the JWKS and the token endpoint (a lost
    /// answer there is a redeemed code the app never heard of).
    pub faults: FaultSettings,
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraTenant {
    /// The tenant id (a GUID): the `tid` claim.
    pub id: String,
    /// Its name, on the sign-in page.
    pub name: String,
}

/// An app registration (a confidential web app).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraApp {
    /// The application (client) id: the `aud` claim.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// The tenant it is registered in.
    pub home_tenant: String,
    /// Whether people of other tenants may sign in to it ("multitenant").
    #[serde(default)]
    pub multi_tenant: bool,
    /// Its redirect URIs. A loopback one (`http://127.0.0.1/...`,
    /// `http://localhost/...`) matches any port.
    pub redirect_uris: Vec<String>,
}

/// A person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraUser {
    /// The tenant id.
    pub tenant: String,
    /// The sign-in name: the `preferred_username` claim.
    pub user_principal_name: String,
    /// The display name: the `name` claim.
    pub name: String,
    /// The object id (`oid`); made from the UPN when left out.
    #[serde(default)]
    pub object_id: Option<String>,
    /// App role values assigned to the person: the `roles` claim.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Group object ids: the `groups` claim.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The MSP's own tenant in the demo.
pub const DEMO_MSP_TENANT: &str = "5c0f3a52-8d1e-4b7a-9c2f-1e6d4a8b3f70";
/// Another company's tenant in the demo, whose people Onboard must refuse.
pub const DEMO_OTHER_TENANT: &str = "a7e2c9d4-3b6f-4e18-8d5a-6f0b2c4e9a13";
/// The demo console app's client id.
pub const DEMO_CLIENT_ID: &str = "0b0a7d5e-6c1f-4f61-9f5a-2d7c0e9b1a01";
/// The demo console app's client secret (a sandbox value, not a secret).
pub const DEMO_CLIENT_SECRET: &str = "sandbox-sign-in-secret";

impl Default for EntraSeed {
    /// The MSP "Northwind IT" with one person per console role (app role
    /// values `Onboard.Viewer`, `Onboard.Technician`, `Onboard.Approver`,
    /// `Onboard.Admin`), a person with no role, and someone of another tenant;
    /// the console app registered multitenant with loopback redirect URIs.
    fn default() -> Self {
        let person = |tenant: &str, upn: &str, name: &str, roles: &[&str]| EntraUser {
            tenant: tenant.into(),
            user_principal_name: upn.into(),
            name: name.into(),
            object_id: None,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            groups: Vec::new(),
        };
        Self {
            tenants: vec![
                EntraTenant {
                    id: DEMO_MSP_TENANT.into(),
                    name: "Northwind IT".into(),
                },
                EntraTenant {
                    id: DEMO_OTHER_TENANT.into(),
                    name: "Litware".into(),
                },
            ],
            apps: vec![EntraApp {
                client_id: DEMO_CLIENT_ID.into(),
                client_secret: DEMO_CLIENT_SECRET.into(),
                home_tenant: DEMO_MSP_TENANT.into(),
                multi_tenant: true,
                redirect_uris: vec![
                    "http://127.0.0.1/auth/callback".into(),
                    "http://localhost/auth/callback".into(),
                ],
            }],
            users: vec![
                person(
                    DEMO_MSP_TENANT,
                    "vera@northwind-it.example",
                    "Vera Viewer",
                    &["Onboard.Viewer"],
                ),
                person(
                    DEMO_MSP_TENANT,
                    "tom@northwind-it.example",
                    "Tom Technician",
                    &["Onboard.Technician"],
                ),
                person(
                    DEMO_MSP_TENANT,
                    "ann@northwind-it.example",
                    "Ann Approver",
                    &["Onboard.Approver"],
                ),
                person(
                    DEMO_MSP_TENANT,
                    "ada@northwind-it.example",
                    "Ada Admin",
                    &["Onboard.Admin"],
                ),
                person(
                    DEMO_MSP_TENANT,
                    "nia@northwind-it.example",
                    "Nia Noroles",
                    &[],
                ),
                person(
                    DEMO_OTHER_TENANT,
                    "otto@litware.example",
                    "Otto Outsider",
                    &["Onboard.Technician"],
                ),
            ],
            faults: FaultSettings::default(),
        }
    }
}

/// What spoils the next ID token the issuer signs, for tests of the app's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFlaw {
    /// Expired an hour ago.
    Expired,
    /// Signed by a key the JWKS does not publish.
    UnknownKey,
    /// Valid, then one character of its payload changed.
    Tampered,
    /// Issued for another app.
    WrongAudience,
    /// Naming another issuer.
    WrongIssuer,
    /// Carrying another nonce than the request's.
    WrongNonce,
}

/// An authorization request waiting for the person to pick who signs in.
#[derive(Debug, Clone)]
struct Pending {
    tenant: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    challenge: Option<(String, String)>,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
struct Grant {
    request: Pending,
    user: EntraUser,
    issued_at: jiff::Timestamp,
    redeemed: bool,
}

#[derive(Debug)]
struct Inner {
    seed: EntraSeed,
    keys: Keys,
    pending: HashMap<String, Pending>,
    grants: HashMap<String, Grant>,
    next_flaw: Option<TokenFlaw>,
    /// Every sign-in, for tests and the tenant page: (client id, UPN).
    sign_ins: Vec<(String, String)>,
}

/// The issuer. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Entra {
    inner: Arc<Mutex<Inner>>,
    faults: Faults,
    clock: Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>,
}

impl std::fmt::Debug for Entra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entra").finish_non_exhaustive()
    }
}

impl Entra {
    /// An issuer seeded with `seed`, on the real clock. Refuses a seed whose
    /// people or apps name a tenant it does not have.
    pub fn new(seed: EntraSeed) -> Result<Self, String> {
        let known = |t: &str| seed.tenants.iter().any(|k| k.id == t);
        if let Some(u) = seed.users.iter().find(|u| !known(&u.tenant)) {
            return Err(format!(
                "user {} names tenant {}, which [sandbox.entra] does not have",
                u.user_principal_name, u.tenant
            ));
        }
        if let Some(a) = seed.apps.iter().find(|a| !known(&a.home_tenant)) {
            return Err(format!(
                "app {} names home tenant {}, which [sandbox.entra] does not have",
                a.client_id, a.home_tenant
            ));
        }
        let faults = Faults::new("entra", seed.faults.clone(), fault_body);
        Ok(Self {
            faults,
            inner: Arc::new(Mutex::new(Inner {
                seed,
                keys: Keys::default(),
                pending: HashMap::new(),
                grants: HashMap::new(),
                next_flaw: None,
                sign_ins: Vec::new(),
            })),
            clock: Arc::new(jiff::Timestamp::now),
        })
    }

    /// The same issuer reading `clock` (codes and tokens expire on it).
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> jiff::Timestamp + Send + Sync + 'static,
    ) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The fault injector (`/sandbox/faults/entra`).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Who signed in so far, to which app: (client id, UPN), oldest first.
    pub fn sign_ins(&self) -> Vec<(String, String)> {
        self.lock().sign_ins.clone()
    }

    /// The seed's people and apps (secrets masked), for `GET /sandbox/state`.
    pub fn state_json(&self) -> Value {
        let inner = self.lock();
        json!({
            "tenants": inner.seed.tenants,
            "apps": inner.seed.apps.iter().map(|a| json!({
                "client_id": a.client_id,
                "client_secret": crate::MASKED,
                "home_tenant": a.home_tenant,
                "multi_tenant": a.multi_tenant,
                "redirect_uris": a.redirect_uris,
            })).collect::<Vec<_>>(),
            "users": inner.seed.users,
            "sign_ins": inner.sign_ins.len(),
        })
    }
}

/// The routes, to nest under `/sandbox/entra`.
pub fn router(sim: Entra) -> Router {
    // What the app's server calls fails as configured; the pages a person's
    // browser is sent to do not (their failures are Entra's to show).
    let machine = Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .with_state(sim.clone());
    let people = Router::new()
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
        .route("/{tenant}/oauth2/v2.0/login", post(login))
        .route("/{tenant}/oauth2/v2.0/logout", get(logout))
        .route("/keys/rotate", post(rotate))
        .route("/next-id-token", post(spoil_next))
        .with_state(sim.clone());
    sim.faults.layer(machine).merge(people)
}

/// Entra's answer when it is throttling or failing: `temporarily_unavailable`.
fn fault_body(fault: Fault) -> Response {
    let (status, code, message) = match fault {
        Fault::Throttle { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            50196,
            "The server terminated an operation because it encountered a client request loop.",
        ),
        Fault::ServerError(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            90033,
            "A transient error has occurred. Please try again.",
        ),
    };
    oauth_error(status, "temporarily_unavailable", code, message)
}

/// `http://host/sandbox/entra`, from the request (the issuer names itself by
/// the address it was reached at, as a real one names its public URL).
fn base(headers: &HeaderMap, uri: &OriginalUri) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let path = uri.0.path();
    let prefix = path.find("/sandbox/entra").map_or("", |i| &path[..i]);
    format!("http://{host}{prefix}/sandbox/entra")
}

fn random_id() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A stable GUID-shaped id from `text` (an object id for a seeded person, a
/// pairwise `sub`).
fn derived_id(text: &str) -> String {
    let h = Sha256::digest(text.as_bytes());
    let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// An Entra error in the token endpoint's JSON shape.
fn oauth_error(status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    let timestamp = jiff::Timestamp::now();
    let trace = uuid::Uuid::new_v4();
    let correlation = uuid::Uuid::new_v4();
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp.to_string(),
        "trace_id": trace.to_string(),
        "correlation_id": correlation.to_string(),
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, Json(body)).into_response()
}

/// Entra's own error page, for what cannot go back to an unverified redirect URI.
fn error_page(code: u32, message: &str) -> Response {
    let page = ErrorPage {
        code,
        message: message.to_owned(),
    };
    match page.render() {
        Ok(html) => (StatusCode::BAD_REQUEST, Html(html)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// An error sent back to the app's redirect URI.
fn redirect_error(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    code: u32,
    message: &str,
) -> Response {
    let mut url = match Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => return error_page(code, message),
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("error", error);
        q.append_pair("error_description", &format!("AADSTS{code}: {message}"));
        if let Some(state) = state {
            q.append_pair("state", state);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

/// Whether `asked` is one of `registered`: exactly, or for a loopback
/// address whatever the port (Entra ignores a loopback redirect URI's port).
fn redirect_registered(registered: &[String], asked: &str) -> bool {
    let Ok(asked_url) = Url::parse(asked) else {
        return false;
    };
    registered.iter().any(|r| {
        if r == asked {
            return true;
        }
        let Ok(r) = Url::parse(r) else {
            return false;
        };
        let loopback = matches!(r.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        loopback
            && r.scheme() == asked_url.scheme()
            && r.host_str() == asked_url.host_str()
            && r.path() == asked_url.path()
            && r.query() == asked_url.query()
    })
}

/// Whether the path's tenant takes `user`.
fn tenant_takes(path_tenant: &str, user: &EntraUser) -> bool {
    ANY_TENANT.contains(&path_tenant) || user.tenant == path_tenant
}

async fn discovery(
    State(sim): State<Entra>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Response {
    let known = ANY_TENANT.contains(&tenant.as_str())
        || sim.lock().seed.tenants.iter().any(|t| t.id == tenant);
    if !known {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let base = base(&headers, &uri);
    let issuer_tenant = if ANY_TENANT.contains(&tenant.as_str()) {
        "{tenantid}"
    } else {
        tenant.as_str()
    };
    Json(json!({
        "issuer": format!("{base}/{issuer_tenant}/v2.0"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "name",
            "preferred_username", "oid", "tid", "ver", "roles", "groups"],
        "tenant_region_scope": "EU",
        "request_uri_parameter_supported": false,
    }))
    .into_response()
}

async fn jwks(
    State(sim): State<Entra>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Response {
    let issuer_tenant = if ANY_TENANT.contains(&tenant.as_str()) {
        "{tenantid}".to_owned()
    } else {
        tenant
    };
    let issuer = format!("{}/{issuer_tenant}/v2.0", base(&headers, &uri));
    match sim.lock().keys.jwks(&issuer) {
        Ok(doc) => Json(doc).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    response_type: Option<String>,
    redirect_uri: Option<String>,
    response_mode: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

#[derive(Template)]
#[template(path = "entra_sign_in.html")]
struct SignInPage {
    tenant: String,
    request: String,
    app: String,
    people: Vec<Person>,
}

struct Person {
    upn: String,
    name: String,
    organization: String,
    roles: String,
}

#[derive(Template)]
#[template(path = "entra_error.html")]
struct ErrorPage {
    code: u32,
    message: String,
}

async fn authorize(
    State(sim): State<Entra>,
    Path(tenant): Path<String>,
    Query(q): Query<AuthorizeQuery>,
) -> Response {
    let mut inner = sim.lock();
    let Some(client_id) = q.client_id.filter(|c| !c.is_empty()) else {
        return error_page(
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(app) = inner
        .seed
        .apps
        .iter()
        .find(|a| a.client_id == client_id)
        .cloned()
    else {
        return error_page(
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        );
    };
    let Some(redirect_uri) = q
        .redirect_uri
        .filter(|r| redirect_registered(&app.redirect_uris, r))
    else {
        return error_page(
            50011,
            &format!(
                "The redirect URI specified in the request does not match the redirect URIs configured for the application '{client_id}'."
            ),
        );
    };
    let state = q.state.as_deref();
    if !app.multi_tenant && tenant != app.home_tenant {
        return redirect_error(
            &redirect_uri,
            state,
            "invalid_request",
            50194,
            &format!(
                "Application '{client_id}' is not configured as a multi-tenant application. Usage of the /{tenant} endpoint is not supported for such applications."
            ),
        );
    }
    if q.response_type.as_deref() != Some("code") {
        return redirect_error(
            &redirect_uri,
            state,
            "unsupported_response_type",
            700054,
            "The sandbox issues authorization codes only: ask for response_type=code.",
        );
    }
    if q.response_mode.as_deref().is_some_and(|m| m != "query") {
        return redirect_error(
            &redirect_uri,
            state,
            "invalid_request",
            900144,
            "The sandbox answers with response_mode=query only.",
        );
    }
    let scope = q.scope.unwrap_or_default();
    if !scope.split_whitespace().any(|s| s == "openid") {
        return redirect_error(
            &redirect_uri,
            state,
            "invalid_scope",
            70011,
            "The provided request must include a 'openid' scope input parameter.",
        );
    }
    let challenge = match (q.code_challenge, q.code_challenge_method) {
        (None, _) => None,
        (Some(c), method) => {
            let method = method.unwrap_or_else(|| "plain".into());
            if method != "S256" && method != "plain" {
                return redirect_error(
                    &redirect_uri,
                    state,
                    "invalid_request",
                    501491,
                    "Invalid code_challenge_method: use S256 or plain.",
                );
            }
            Some((c, method))
        }
    };
    let tenant_name = |id: &str| {
        inner
            .seed
            .tenants
            .iter()
            .find(|t| t.id == id)
            .map_or_else(|| id.to_owned(), |t| t.name.clone())
    };
    let people: Vec<Person> = inner
        .seed
        .users
        .iter()
        .filter(|u| tenant_takes(&tenant, u))
        .map(|u| Person {
            upn: u.user_principal_name.clone(),
            name: u.name.clone(),
            organization: tenant_name(&u.tenant),
            roles: if u.roles.is_empty() {
                "no app role".into()
            } else {
                u.roles.join(", ")
            },
        })
        .collect();
    let request = random_id();
    inner.pending.insert(
        request.clone(),
        Pending {
            tenant: tenant.clone(),
            client_id,
            redirect_uri,
            scope,
            state: q.state,
            nonce: q.nonce,
            challenge,
        },
    );
    let page = SignInPage {
        tenant,
        request,
        app: app.client_id,
        people,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    request: String,
    login: String,
}

async fn login(
    State(sim): State<Entra>,
    Path(tenant): Path<String>,
    Form(form): Form<LoginForm>,
) -> Response {
    let now = (sim.clock)();
    let mut inner = sim.lock();
    let Some(request) = inner.pending.get(&form.request).cloned() else {
        return error_page(
            90015,
            "The sign-in request is unknown or was already used: start again from the application.",
        );
    };
    if request.tenant != tenant {
        return error_page(
            90015,
            "The sign-in request belongs to another tenant's page.",
        );
    }
    let Some(user) = inner
        .seed
        .users
        .iter()
        .find(|u| {
            u.user_principal_name
                .eq_ignore_ascii_case(form.login.trim())
        })
        .cloned()
    else {
        return error_page(50034, "The user account does not exist in this directory.");
    };
    if !tenant_takes(&tenant, &user) {
        return redirect_error(
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            50020,
            &format!(
                "User account '{}' from identity provider does not exist in tenant '{tenant}' and cannot access the application.",
                user.user_principal_name
            ),
        );
    }
    inner.pending.remove(&form.request);
    let code = random_id();
    let mut url = match Url::parse(&request.redirect_uri) {
        Ok(url) => url,
        Err(e) => return error_page(50011, &e.to_string()),
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(state) = &request.state {
            q.append_pair("state", state);
        }
    }
    inner.grants.insert(
        code,
        Grant {
            request,
            user,
            issued_at: now,
            redeemed: false,
        },
    );
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code_verifier: Option<String>,
}

/// `client_secret_basic`: the client id and secret from `Authorization: Basic`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

async fn token(
    State(sim): State<Entra>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
    Form(form): Form<TokenForm>,
) -> Response {
    let now = (sim.clock)();
    let base = base(&headers, &uri);
    let mut inner = sim.lock();
    if form.grant_type.as_deref() != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type: the sandbox issuer redeems authorization codes only.",
        );
    }
    let (client_id, secret) = match basic_credentials(&headers) {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (form.client_id.clone(), form.client_secret.clone()),
    };
    let Some(client_id) = client_id else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(app) = inner
        .seed
        .apps
        .iter()
        .find(|a| a.client_id == client_id)
        .cloned()
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
        );
    };
    match secret {
        None => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
        Some(s) if s != app.client_secret => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
        Some(_) => {}
    }
    let Some(code) = form.code else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'code'.",
        );
    };
    let Some(grant) = inner.grants.get_mut(&code) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid: the authorization code is unknown.",
        );
    };
    if grant.redeemed {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        );
    }
    if now.as_second() - grant.issued_at.as_second() > CODE_LIFETIME_SECS {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        );
    }
    if grant.request.client_id != client_id || grant.request.tenant != tenant {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "The provided authorization code was issued to another client or tenant.",
        );
    }
    match form.redirect_uri.as_deref() {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                700009,
                "Reply address must be provided when presenting an authorization code requested with an explicit reply address.",
            );
        }
        Some(r) if r != grant.request.redirect_uri => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                500112,
                "The reply address does not match the reply address provided when requesting the authorization code.",
            );
        }
        Some(_) => {}
    }
    if let Some((challenge, method)) = &grant.request.challenge {
        let Some(verifier) = &form.code_verifier else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                501481,
                "The code_verifier does not match the code_challenge supplied in the authorization request: none was given.",
            );
        };
        let computed = if method == "S256" {
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
        } else {
            verifier.clone()
        };
        if &computed != challenge {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            );
        }
    }
    grant.redeemed = true;
    let grant = grant.clone();
    let user = &grant.user;
    let oid = user
        .object_id
        .clone()
        .unwrap_or_else(|| derived_id(&user.user_principal_name));
    let flaw = inner.next_flaw.take();
    let iat = if flaw == Some(TokenFlaw::Expired) {
        now.as_second() - 2 * TOKEN_LIFETIME_SECS
    } else {
        now.as_second()
    };
    let mut claims = json!({
        "aud": if flaw == Some(TokenFlaw::WrongAudience) { derived_id("another app") } else { client_id.clone() },
        "iss": if flaw == Some(TokenFlaw::WrongIssuer) {
            format!("{base}/{}/v2.0", derived_id("another issuer"))
        } else {
            format!("{base}/{}/v2.0", user.tenant)
        },
        "iat": iat,
        "nbf": iat,
        "exp": iat + TOKEN_LIFETIME_SECS,
        "name": user.name,
        "oid": oid,
        "preferred_username": user.user_principal_name,
        "sub": URL_SAFE_NO_PAD.encode(&Sha256::digest(format!("{oid}|{client_id}").as_bytes())[..24]),
        "tid": user.tenant,
        "uti": random_id(),
        "ver": "2.0",
    });
    if let Some(nonce) = &grant.request.nonce {
        claims["nonce"] = json!(if flaw == Some(TokenFlaw::WrongNonce) {
            format!("{nonce}-other")
        } else {
            nonce.clone()
        });
    }
    if !user.roles.is_empty() {
        claims["roles"] = json!(user.roles);
    }
    if !user.groups.is_empty() {
        claims["groups"] = json!(user.groups);
    }
    let mut id_token = match inner
        .keys
        .sign(&claims, flaw == Some(TokenFlaw::UnknownKey))
    {
        Ok(t) => t,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    if flaw == Some(TokenFlaw::Tampered) {
        // Another name in the payload, the signature left as it was.
        let parts: Vec<&str> = id_token.split('.').collect();
        let mut changed = claims.clone();
        changed["name"] = json!(format!("{} (changed)", user.name));
        id_token = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(changed.to_string()),
            parts[2]
        );
    }
    inner
        .sign_ins
        .push((client_id.clone(), user.user_principal_name.clone()));
    let mut response = Json(json!({
        "token_type": "Bearer",
        "scope": grant.request.scope,
        "expires_in": TOKEN_LIFETIME_SECS,
        "ext_expires_in": TOKEN_LIFETIME_SECS,
        "access_token": random_id(),
        "id_token": id_token,
    }))
    .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

#[derive(Deserialize)]
struct LogoutQuery {
    post_logout_redirect_uri: Option<String>,
}

async fn logout(Query(q): Query<LogoutQuery>) -> Response {
    match q.post_logout_redirect_uri {
        Some(uri) if Url::parse(&uri).is_ok() => Redirect::to(&uri).into_response(),
        _ => Html("<!doctype html><title>Signed out</title><p>You signed out of your account.</p>")
            .into_response(),
    }
}

async fn rotate(State(sim): State<Entra>) -> Response {
    match sim.lock().keys.rotate() {
        Ok(kid) => Json(json!({ "kid": kid })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct SpoilBody {
    flaw: TokenFlaw,
}

async fn spoil_next(State(sim): State<Entra>, Json(body): Json<SpoilBody>) -> Response {
    sim.lock().next_flaw = Some(body.flaw);
    (StatusCode::NO_CONTENT, ()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_redirect_uri_matches_any_port_and_others_only_exactly() {
        let registered = vec![
            "http://127.0.0.1/auth/callback".to_owned(),
            "https://onboard.example.com/auth/callback".to_owned(),
        ];
        assert!(redirect_registered(
            &registered,
            "http://127.0.0.1:8080/auth/callback"
        ));
        assert!(redirect_registered(
            &registered,
            "https://onboard.example.com/auth/callback"
        ));
        assert!(!redirect_registered(
            &registered,
            "https://onboard.example.com:8443/auth/callback"
        ));
        assert!(!redirect_registered(
            &registered,
            "http://127.0.0.1:8080/other"
        ));
        assert!(!redirect_registered(
            &registered,
            "http://evil.example/auth/callback"
        ));
    }

    #[test]
    fn a_seed_naming_an_unknown_tenant_is_refused_by_name() {
        let mut seed = EntraSeed::default();
        seed.users[0].tenant = "nowhere".into();
        let err = Entra::new(seed).unwrap_err();
        assert!(
            err.contains("vera@northwind-it.example") && err.contains("nowhere"),
            "{err}"
        );
    }
}
