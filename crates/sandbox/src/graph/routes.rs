//! Graph's HTTP surface: the token endpoint, the `/v1.0` routes with their auth, and the control endpoint.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Extension, FromRequestParts, OriginalUri, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::errors::{GraphError, SignInError};
use super::filter::{Field, Filter, FilterError};
use super::model::{Audience, DEFAULT_USER, GraphState, IssuedToken, User, World, now_string};

/// Who is calling: from the bearer token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    tenant: usize,
    app: usize,
}

const USER_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const USER_WRITE: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
const LICENSE_WRITE: &[&str] = &[
    "LicenseAssignment.ReadWrite.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const SKU_READ: &[&str] = &[
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "LicenseAssignment.Read.All",
    "LicenseAssignment.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const POLICY_READ: &[&str] = &["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"];
const GROUP_READ: &[&str] = &[
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const MEMBER_WRITE: &[&str] = &[
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const TAP_WRITE: &[&str] = &["UserAuthenticationMethod.ReadWrite.All"];
const AUTH_METHOD_READ: &[&str] = &[
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const MAILBOX_READ: &[&str] = &["MailboxSettings.Read", "MailboxSettings.ReadWrite"];
const MAILBOX_WRITE: &[&str] = &["MailboxSettings.ReadWrite"];
/// Roles that may reset a (non-admin) user's password.
const PASSWORD_ROLES: &[&str] = &[
    "User Administrator",
    "Helpdesk Administrator",
    "Privileged Authentication Administrator",
    "Global Administrator",
];

const USER_FILTER: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "mailNickname",
    "displayName",
    "givenName",
    "surname",
    "accountEnabled",
    "proxyAddresses",
];
const GROUP_FILTER: &[&str] = &["id", "displayName", "mailNickname", "mail"];

fn require(world: &World, caller: Caller, any_of: &[&str]) -> Result<(), GraphError> {
    let app = &world.tenants[caller.tenant].apps[caller.app];
    if app
        .permissions
        .iter()
        .any(|p| any_of.iter().any(|wanted| p.eq_ignore_ascii_case(wanted)))
    {
        Ok(())
    } else {
        Err(GraphError::forbidden())
    }
}

fn has_role(world: &World, caller: Caller, any_of: &[&str]) -> bool {
    world.tenants[caller.tenant].apps[caller.app]
        .directory_roles
        .iter()
        .any(|r| any_of.iter().any(|wanted| r.eq_ignore_ascii_case(wanted)))
}

/// The service root as the caller reached it (`http://host/sandbox/graph/v1.0`)
/// and the path below it (`/users`), for `@odata.context` and `@odata.nextLink`.
pub(crate) struct Root {
    root: String,
    path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Root {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let full = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |u| u.0.path().to_owned());
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_owned();
        let (prefix, path) = match full.find("/v1.0") {
            Some(at) => (&full[..at + "/v1.0".len()], &full[at + "/v1.0".len()..]),
            None => ("", full.as_str()),
        };
        Ok(Root {
            root: format!("http://{host}{prefix}"),
            path: path.to_owned(),
        })
    }
}

impl Root {
    fn context(&self, fragment: &str) -> String {
        format!("{}/$metadata#{fragment}", self.root)
    }
}

type Params = Query<HashMap<String, String>>;

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const SKIPTOKEN_PREFIX: &str = "RFNwdAIAAQAAAB";

/// One page of `items` with `@odata.nextLink` when more remain.
fn page(
    items: Vec<Value>,
    params: &HashMap<String, String>,
    root: &Root,
    context: &str,
) -> Result<Value, GraphError> {
    let top = match params.get("$top") {
        None => 100,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=999).contains(n))
            .ok_or_else(|| GraphError::page_size(raw))?,
    };
    let offset = match params.get("$skiptoken") {
        None => 0,
        Some(token) => token
            .strip_prefix(SKIPTOKEN_PREFIX)
            .and_then(|hex| usize::from_str_radix(hex, 16).ok())
            .ok_or_else(|| GraphError {
                status: StatusCode::BAD_REQUEST,
                code: "Directory_ExpiredPageToken",
                message: "The specified page token value has expired and can no longer be included in your request.".into(),
                details: Vec::new(),
            })?,
    };
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(offset).take(top).collect();
    let mut body = json!({ "@odata.context": context, "value": value });
    if offset + top < total {
        let mut query: Vec<String> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "$skiptoken")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.sort();
        query.push(format!("$skiptoken={SKIPTOKEN_PREFIX}{:x}", offset + top));
        body["@odata.nextLink"] = json!(format!("{}{}?{}", root.root, root.path, query.join("&")));
    }
    Ok(body)
}

/// Applies `$select` (case-insensitive names), or the default property set.
fn project(
    full: Map<String, Value>,
    select: Option<&String>,
    default: Option<&[&str]>,
    type_name: &str,
) -> Result<Map<String, Value>, GraphError> {
    let names: Vec<&str> = match (select, default) {
        (Some(select), _) => select
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect(),
        (None, Some(default)) => default.to_vec(),
        (None, None) => return Ok(full),
    };
    let mut out = Map::new();
    for name in names {
        let (key, value) = full
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .ok_or_else(|| GraphError::unknown_select(name, type_name))?;
        out.insert(key.clone(), value.clone());
    }
    Ok(out)
}

fn with_context(mut map: Map<String, Value>, context: String) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context));
    out.append(&mut map);
    Value::Object(out)
}

fn object(body: &Bytes) -> Result<Map<String, Value>, GraphError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(GraphError::unreadable_body()),
    }
}

/// The object id in `{"@odata.id": ".../directoryObjects/{id}"}` (or `/users/{id}`).
fn referenced_id(body: &Map<String, Value>) -> Result<String, GraphError> {
    let reference = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .ok_or_else(GraphError::unreadable_body)?;
    reference
        .trim_end_matches('/')
        .rsplit_once('/')
        .filter(|(head, _)| head.ends_with("/directoryObjects") || head.ends_with("/users"))
        .map(|(_, id)| id.to_owned())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| GraphError::bad_request(format!("Invalid object identifier '{reference}'.")))
}

fn filter(
    params: &HashMap<String, String>,
    supported: &[&str],
    resource: &str,
) -> Result<Option<Filter>, GraphError> {
    params
        .get("$filter")
        .map(|source| {
            Filter::parse(source, supported).map_err(|e| match e {
                FilterError::Unsupported(property) => {
                    GraphError::unsupported_filter(&property, resource)
                }
                FilterError::Syntax => GraphError::invalid_filter(),
            })
        })
        .transpose()
}

fn user_field<'a>(user: &'a User, property: &str) -> Field<'a> {
    match property {
        "id" => Field::Text(Some(&user.id)),
        "userPrincipalName" => Field::Text(Some(&user.upn)),
        "displayName" => Field::Text(Some(&user.display_name)),
        "mail" => Field::Text(user.mail.as_deref()),
        "mailNickname" => Field::Text(user.mail_nickname.as_deref()),
        "accountEnabled" => Field::Bool(user.account_enabled),
        "proxyAddresses" => Field::List(&user.proxy_addresses),
        other => Field::Text(user.profile.get(other).map(String::as_str)),
    }
}

// ---- token endpoint ----

#[derive(Serialize)]
struct TokenAnswer {
    token_type: &'static str,
    expires_in: u64,
    ext_expires_in: u64,
    access_token: String,
}

/// `POST /login/{tenant}/oauth2/v2.0/token` (client credentials).
pub(crate) async fn token(
    State(state): State<GraphState>,
    Path(tenant): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    match issue_token(&state, &tenant, form) {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_response(),
    }
}

fn issue_token(
    state: &GraphState,
    tenant: &str,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<TokenAnswer, SignInError> {
    let Ok(Form(fields)) = form else {
        return Err(SignInError::missing("grant_type"));
    };
    let field = |name: &str| {
        fields
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SignInError::missing(name))
    };
    let grant = field("grant_type")?;
    if grant != "client_credentials" {
        return Err(SignInError::unsupported_grant(grant));
    }
    let mut world = state.lock();
    let tenant_index = world
        .tenant_index(tenant)
        .ok_or_else(|| SignInError::unknown_tenant(tenant))?;
    let client_id = field("client_id")?;
    let app = world.tenants[tenant_index]
        .apps
        .iter()
        .position(|a| &a.client_id == client_id)
        .ok_or_else(|| SignInError::unknown_client(client_id, tenant))?;
    let secret = field("client_secret")?;
    if &world.tenants[tenant_index].apps[app].client_secret != secret {
        return Err(SignInError::wrong_secret(client_id));
    }
    let scope = field("scope")?;
    let resource = scope
        .strip_suffix("/.default")
        .ok_or_else(|| SignInError::scope_not_default(scope))?;
    let audience = match resource.trim_end_matches('/') {
        "https://graph.microsoft.com" | "00000003-0000-0000-c000-000000000000" => Audience::Graph,
        "https://outlook.office365.com" | "00000002-0000-0ff1-ce00-000000000000" => {
            Audience::Exchange
        }
        _ => return Err(SignInError::unknown_resource(resource, tenant)),
    };
    let lifetime = world.token_lifetime_seconds;
    let access_token = app_token(&world.tenants[tenant_index], app, lifetime, audience);
    world.tokens.insert(
        access_token.clone(),
        IssuedToken {
            tenant: tenant_index,
            app,
            expires_at: Instant::now() + Duration::from_secs(lifetime),
            audience,
        },
    );
    world.tokens_issued += 1;
    Ok(TokenAnswer {
        token_type: "Bearer",
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token,
    })
}

/// An access token shaped as Entra's app-only tokens are: a JWT whose payload
/// carries `tid`, `appid`, `oid` (the service principal) and `roles` (the granted
/// application permissions). Unsigned (the signature is random): only the
/// simulator reads it back, by the whole string.
fn app_token(
    tenant: &super::model::Tenant,
    app: usize,
    lifetime: u64,
    audience: Audience,
) -> String {
    use base64::Engine as _;
    let seed = &tenant.apps[app];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = json!({
        "aud": audience.uri(),
        "iss": format!("https://sts.windows.net/{}/", tenant.id),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": seed.client_id,
        "idtyp": "app",
        "oid": service_principal_id(&tenant.id, &seed.client_id),
        "roles": seed.permissions.iter().filter(|p| audience.owns(p)).collect::<Vec<_>>(),
        "tid": tenant.id,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
        "ver": "1.0",
    });
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        b64.encode(br#"{"typ":"JWT","alg":"RS256"}"#),
        b64.encode(claims.to_string()),
        uuid::Uuid::new_v4().simple()
    )
}

/// The object id of an app's service principal in a tenant: stable, GUID-shaped,
/// derived from the tenant and the client id (FNV-1a, twice).
pub(crate) fn service_principal_id(tenant: &str, client_id: &str) -> String {
    let fnv = |salt: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
        for b in tenant.bytes().chain([0]).chain(client_id.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let hex = format!("{:016x}{:016x}", fnv(1), fnv(2));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Directory role names and their (Microsoft-wide, fixed) role template ids.
const ROLE_TEMPLATES: &[(&str, &str)] = &[
    (
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    ),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    (
        "Helpdesk Administrator",
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    ),
    (
        "Privileged Authentication Administrator",
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    ),
    (
        "Authentication Administrator",
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    ),
];

/// Reading a service principal's memberships (Graph: Application.Read.All least).
const SERVICE_PRINCIPAL_READ: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// `GET /servicePrincipals/{id}/memberOf`: the directory roles (activated
/// `directoryRole` objects) the service principal is a member of.
pub(crate) async fn service_principal_member_of(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let world = state.lock();
    require(&world, caller, SERVICE_PRINCIPAL_READ)?;
    let tenant = &world.tenants[caller.tenant];
    let Some(app) = tenant
        .apps
        .iter()
        .find(|a| service_principal_id(&tenant.id, &a.client_id).eq_ignore_ascii_case(&id))
    else {
        return Err(GraphError::not_found(&id));
    };
    let items = app
        .directory_roles
        .iter()
        .map(|name| {
            let template = ROLE_TEMPLATES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map_or_else(
                    || service_principal_id("role", name),
                    |(_, t)| (*t).to_owned(),
                );
            json!({
                "@odata.type": "#microsoft.graph.directoryRole",
                "id": service_principal_id(&tenant.id, &template),
                "displayName": name,
                "roleTemplateId": template,
            })
        })
        .collect();
    Ok(Json(page(
        items,
        &params,
        &root,
        &root.context("directoryObjects"),
    )?)
    .into_response())
}

/// Checks the bearer token of every `/v1.0` request and records the caller.
pub(crate) async fn authenticate(
    State(state): State<GraphState>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let caller = {
        let world = state.lock();
        match token.as_deref().map(|t| world.tokens.get(t)) {
            None => Err(GraphError::unauthenticated("Access token is empty.")),
            Some(None) => Err(GraphError::unauthenticated(
                "Access token validation failure.",
            )),
            Some(Some(issued)) if issued.audience != Audience::Graph => Err(
                GraphError::unauthenticated("Access token validation failure. Invalid audience."),
            ),
            Some(Some(issued)) if issued.expires_at <= Instant::now() => Err(
                GraphError::unauthenticated("Lifetime validation failed, the token is expired."),
            ),
            Some(Some(issued)) => Ok(Caller {
                tenant: issued.tenant,
                app: issued.app,
            }),
        }
    };
    match caller {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// Counts the request against Graph's quotas ([`super::throttle`]): 429 with
/// `Retry-After` when one is spent, else the answer with `x-ms-resource-unit`.
pub(crate) async fn throttle(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    request: Request,
    next: Next,
) -> Response {
    // The path under `/v1.0`, however deep the router is nested.
    let path = request.uri().path();
    let path = path.split_once("/v1.0").map_or(path, |(_, rest)| rest);
    let cost = super::throttle::Cost::of(request.method(), path, request.uri().query());
    let (app, tenant, size) = {
        let world = state.lock();
        let tenant = &world.tenants[caller.tenant];
        (
            tenant.apps[caller.app].client_id.clone(),
            tenant.id.clone(),
            super::throttle::size_class(tenant.users.len()),
        )
    };
    match state.throttle().admit(&app, &tenant, size, cost) {
        Ok(admitted) => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            headers.insert("x-ms-resource-unit", admitted.units.into());
            if let Some(percentage) = admitted.limit_percentage() {
                headers.insert("x-ms-throttle-limit-percentage", percentage);
            }
            response
        }
        Err(refusal) => {
            let mut response = GraphError::throttled(refusal.retry_after_seconds).into_response();
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, refusal.retry_after_seconds.into());
            if let Ok(scope) = HeaderValue::from_str(&refusal.scope) {
                headers.insert("x-ms-throttle-scope", scope);
            }
            headers.insert(
                "x-ms-throttle-information",
                HeaderValue::from_static(refusal.information),
            );
            response
        }
    }
}

// ---- users ----

type Answer = Result<Response, GraphError>;

/// `GET /users` with `$filter`, `$select`, `$top`, paging.
pub(crate) async fn list_users(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Query(params): Params,
) -> Answer {
    let filter = filter(&params, USER_FILTER, "User")?;
    let world = state.lock();
    require(&world, caller, USER_READ)?;
    let tenant = &world.tenants[caller.tenant];
    let select = params.get("$select");
    let mut items = Vec::new();
    for (index, user) in tenant.users.iter().enumerate() {
        // Graph documents that lists may miss just-created users.
        if user.pending_replication > 0 {
            continue;
        }
        if filter
            .as_ref()
            .is_none_or(|f| f.matches(&|p| user_field(user, p)))
        {
            items.push(Value::Object(project(
                tenant.user_json(index),
                select,
                Some(DEFAULT_USER),
                "user",
            )?));
        }
    }
    Ok(Json(page(items, &params, &root, &root.context("users"))?).into_response())
}

/// `POST /users` -> 201 with the default property set.
pub(crate) async fn create_user(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    body: Bytes,
) -> Answer {
    let body = object(&body)?;
    let mut world = state.lock();
    require(&world, caller, USER_WRITE)?;
    let delay = world.replication_delay_calls;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.create_user(&body, delay)?;
    let user = project(tenant.user_json(index), None, Some(DEFAULT_USER), "user")?;
    Ok((
        StatusCode::CREATED,
        Json(with_context(user, root.context("users/$entity"))),
    )
        .into_response())
}

/// `GET /users/{id | userPrincipalName}`.
pub(crate) async fn get_user(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let mut world = state.lock();
    require(&world, caller, USER_READ)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    let user = project(
        tenant.user_json(index),
        params.get("$select"),
        Some(DEFAULT_USER),
        "user",
    )?;
    Ok(Json(with_context(user, root.context("users/$entity"))).into_response())
}

/// `PATCH /users/{id}` -> 204.
pub(crate) async fn update_user(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let body = object(&body)?;
    let mut world = state.lock();
    require(&world, caller, USER_WRITE)?;
    let may_reset = has_role(&world, caller, PASSWORD_ROLES);
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    tenant.update_user(index, &body, may_reset)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /users/{id}/manager`.
pub(crate) async fn get_manager(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
) -> Answer {
    let mut world = state.lock();
    require(&world, caller, USER_READ)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    let manager = tenant.users[index]
        .manager
        .clone()
        .and_then(|m| tenant.user_index(&m))
        .ok_or_else(|| GraphError::not_found("manager"))?;
    let mut body = project(tenant.user_json(manager), None, Some(DEFAULT_USER), "user")?;
    body.insert("@odata.type".into(), json!("#microsoft.graph.user"));
    Ok(Json(with_context(body, root.context("directoryObjects/$entity"))).into_response())
}

/// `PUT /users/{id}/manager/$ref` -> 204.
pub(crate) async fn set_manager(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let body = object(&body)?;
    let manager_id = referenced_id(&body)?;
    let mut world = state.lock();
    require(&world, caller, USER_WRITE)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    let manager = tenant.resolve_user(&manager_id)?;
    tenant.users[index].manager = Some(tenant.users[manager].id.clone());
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /users/{id}/manager/$ref` -> 204.
pub(crate) async fn remove_manager(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let mut world = state.lock();
    require(&world, caller, USER_WRITE)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    if tenant.users[index].manager.take().is_none() {
        return Err(GraphError::not_found("manager"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /users/{id}/assignLicense` -> 200 with the user.
pub(crate) async fn assign_license(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let body = object(&body)?;
    let mut world = state.lock();
    require(&world, caller, LICENSE_WRITE)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    tenant.assign_license(index, &body)?;
    let user = project(tenant.user_json(index), None, Some(DEFAULT_USER), "user")?;
    Ok(Json(with_context(user, root.context("users/$entity"))).into_response())
}

/// `GET /users/{id}/licenseDetails`.
pub(crate) async fn license_details(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let mut world = state.lock();
    require(&world, caller, USER_READ)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    let user = &tenant.users[index];
    let mut seen = Vec::new();
    let mut items = Vec::new();
    for license in user.licenses.iter().filter(|l| l.active) {
        if seen.contains(&license.sku_id) {
            continue;
        }
        seen.push(license.sku_id.clone());
        let Some(sku) = tenant.sku_index(&license.sku_id) else {
            continue;
        };
        let sku = &tenant.skus[sku];
        items.push(json!({
            "id": format!("{}_{}", user.id, sku.sku_id),
            "skuId": sku.sku_id,
            "skuPartNumber": sku.part_number,
            "servicePlans": sku.service_plans.iter().map(|(plan_id, name)| json!({
                "servicePlanId": plan_id,
                "servicePlanName": name,
                "provisioningStatus": if license.disabled_plans.contains(plan_id) { "Disabled" } else { "Success" },
                "appliesTo": "User",
            })).collect::<Vec<_>>(),
        }));
    }
    let context = root.context(&format!("users('{}')/licenseDetails", user.id));
    Ok(Json(page(items, &params, &root, &context)?).into_response())
}

/// `GET /users/{id}/memberOf` (direct memberships, groups only in this model).
pub(crate) async fn member_of(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let mut world = state.lock();
    require(&world, caller, USER_READ)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    let user_id = tenant.users[index].id.clone();
    let mut items = Vec::new();
    for group in tenant
        .groups
        .iter()
        .filter(|g| g.members.contains(&user_id))
    {
        let mut map = Map::new();
        map.insert("@odata.type".into(), json!("#microsoft.graph.group"));
        map.append(&mut project(
            group.json(),
            params.get("$select"),
            None,
            "group",
        )?);
        items.push(Value::Object(map));
    }
    Ok(Json(page(
        items,
        &params,
        &root,
        &root.context("directoryObjects"),
    )?)
    .into_response())
}

/// `POST /users/{id}/revokeSignInSessions` -> 200 `{"value": true}` (Graph's known quirk).
pub(crate) async fn revoke_sessions(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
) -> Answer {
    let mut world = state.lock();
    require(&world, caller, USER_WRITE)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    tenant.users[index].revocations += 1;
    Ok(Json(json!({"@odata.context": root.context("Edm.Boolean"), "value": true})).into_response())
}

/// `POST /users/{id}/authentication/temporaryAccessPassMethods` -> 201.
pub(crate) async fn create_tap(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let body = object(&body)?;
    let lifetime = match body.get("lifetimeInMinutes") {
        None | Some(Value::Null) => 60,
        Some(value) => value
            .as_u64()
            .filter(|m| (10..=43_200).contains(m))
            .ok_or_else(|| {
                GraphError::invalid_property(
                    "lifetimeInMinutes",
                    "TemporaryAccessPassAuthenticationMethod",
                )
            })?,
    };
    let usable_once = body
        .get("isUsableOnce")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let now = now_string();
    let start = body
        .get("startDateTime")
        .and_then(Value::as_str)
        .map_or_else(|| now.clone(), str::to_owned);
    let mut world = state.lock();
    require(&world, caller, TAP_WRITE)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    let pass: String = {
        use rand::Rng;
        const ALPHABET: &[u8] =
            b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789@#$%&*+=?";
        let mut rng = rand::rng();
        (0..12)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect()
    };
    let method = json!({
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
        "id": uuid::Uuid::new_v4().to_string(),
        "temporaryAccessPass": pass,
        "createdDateTime": now,
        "startDateTime": start,
        "lifetimeInMinutes": lifetime,
        "isUsableOnce": usable_once,
        "isUsable": true,
        "methodUsabilityReason": "EnabledByPolicy",
    });
    // Only one TAP per user: a new one replaces the old.
    tenant.users[index].tap = Some(method.clone());
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(root.context(&format!(
            "users('{}')/authentication/temporaryAccessPassMethods/$entity",
            tenant.users[index].id
        ))),
    );
    if let Value::Object(mut fields) = method {
        body.append(&mut fields);
    }
    Ok((StatusCode::CREATED, Json(Value::Object(body))).into_response())
}

/// `GET /users/{id}/authentication/methods`: the password method, the registered
/// ones and a Temporary Access Pass (without the pass).
pub(crate) async fn list_auth_methods(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let mut world = state.lock();
    require(&world, caller, AUTH_METHOD_READ)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    let items = tenant.authentication_methods(index);
    let context = root.context(&format!(
        "users('{}')/authentication/methods",
        tenant.users[index].id
    ));
    Ok(Json(page(items, &params, &root, &context)?).into_response())
}

/// The `@odata.type` of the methods a collection under `/authentication/` holds.
fn collection_type(collection: &str) -> Option<&'static str> {
    Some(match collection {
        "phoneMethods" => "#microsoft.graph.phoneAuthenticationMethod",
        "microsoftAuthenticatorMethods" => {
            "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"
        }
        "fido2Methods" => "#microsoft.graph.fido2AuthenticationMethod",
        "softwareOathMethods" => "#microsoft.graph.softwareOathAuthenticationMethod",
        "emailMethods" => "#microsoft.graph.emailAuthenticationMethod",
        "windowsHelloForBusinessMethods" => {
            "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod"
        }
        "temporaryAccessPassMethods" => "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
        _ => return None,
    })
}

/// `DELETE /users/{id}/authentication/{type}Methods/{methodId}` -> 204. The
/// password method has no delete; a method id of another type is not found.
pub(crate) async fn delete_auth_method(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    Path((id, collection, method)): Path<(String, String, String)>,
) -> Answer {
    if collection == "passwordMethods" || collection == "methods" {
        return Err(method_not_allowed().await);
    }
    let odata =
        collection_type(&collection).ok_or_else(|| GraphError::unknown_segment(&collection))?;
    let mut world = state.lock();
    require(&world, caller, TAP_WRITE)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    let user = &mut tenant.users[index];
    if collection == "temporaryAccessPassMethods" {
        if user
            .tap
            .as_ref()
            .is_some_and(|t| t["id"] == method.as_str())
        {
            user.tap = None;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        return Err(GraphError::not_found(&method));
    }
    let at = user
        .auth_methods
        .iter()
        .position(|m| {
            m["@odata.type"] == odata
                && m["id"]
                    .as_str()
                    .is_some_and(|i| i.eq_ignore_ascii_case(&method))
        })
        .ok_or_else(|| GraphError::not_found(&method))?;
    let is_phone = |m: &Value, kind: &str| {
        m["@odata.type"] == "#microsoft.graph.phoneAuthenticationMethod" && m["phoneType"] == kind
    };
    if is_phone(&user.auth_methods[at], "mobile")
        && user
            .auth_methods
            .iter()
            .any(|m| is_phone(m, "alternateMobile"))
    {
        return Err(GraphError::mobile_before_alternate());
    }
    user.auth_methods.remove(at);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `mailboxSettings` as Graph returns it.
fn mailbox_settings(user: &User, root: &Root) -> Value {
    json!({
        "@odata.context": root.context(&format!("users('{}')/mailboxSettings", user.id)),
        "archiveFolder": null,
        "timeZone": "UTC",
        "dateFormat": "M/d/yyyy",
        "timeFormat": "h:mm tt",
        "userPurpose": "user",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        "automaticRepliesSetting": user.automatic_replies,
        "language": {"locale": "en-US", "displayName": "English (United States)"},
    })
}

/// `GET /users/{id}/mailboxSettings`; a user without a mailbox is 404
/// `MailboxNotEnabledForRESTAPI`.
pub(crate) async fn get_mailbox_settings(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
) -> Answer {
    let mut world = state.lock();
    require(&world, caller, MAILBOX_READ)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    if !tenant.has_mailbox(index) {
        return Err(GraphError::no_mailbox());
    }
    Ok(Json(mailbox_settings(&tenant.users[index], &root)).into_response())
}

/// `PATCH /users/{id}/mailboxSettings` -> 200 with the settings. Only
/// `automaticRepliesSetting` is modelled; the other writable settings are
/// accepted and ignored.
pub(crate) async fn update_mailbox_settings(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    const WRITABLE: &[&str] = &[
        "automaticRepliesSetting",
        "timeZone",
        "language",
        "dateFormat",
        "timeFormat",
        "workingHours",
        "delegateMeetingMessageDeliveryOptions",
        "archiveFolder",
    ];
    const REPLY_FIELDS: &[&str] = &[
        "status",
        "externalAudience",
        "internalReplyMessage",
        "externalReplyMessage",
        "scheduledStartDateTime",
        "scheduledEndDateTime",
    ];
    let body = object(&body)?;
    if let Some(unknown) = body.keys().find(|k| !WRITABLE.contains(&k.as_str())) {
        return Err(GraphError::undeclared_property(unknown));
    }
    let replies = match body.get("automaticRepliesSetting") {
        None => None,
        Some(Value::Object(map)) => {
            if let Some(unknown) = map.keys().find(|k| !REPLY_FIELDS.contains(&k.as_str())) {
                return Err(GraphError::undeclared_property(unknown));
            }
            for (field, allowed) in [
                ("status", &["disabled", "alwaysEnabled", "scheduled"][..]),
                ("externalAudience", &["none", "contactsOnly", "all"][..]),
            ] {
                if let Some(value) = map.get(field) {
                    let text = value.as_str().unwrap_or_default();
                    if !allowed.contains(&text) {
                        return Err(GraphError::invalid_mailbox_setting(
                            field,
                            &value.to_string(),
                        ));
                    }
                }
            }
            Some(map.clone())
        }
        Some(_) => return Err(GraphError::unreadable_body()),
    };
    let mut world = state.lock();
    require(&world, caller, MAILBOX_WRITE)?;
    let tenant = &mut world.tenants[caller.tenant];
    let index = tenant.resolve_user(&id)?;
    if !tenant.has_mailbox(index) {
        return Err(GraphError::no_mailbox());
    }
    let user = &mut tenant.users[index];
    if let Some(replies) = replies {
        for (field, value) in replies {
            user.automatic_replies[field] = value;
        }
    }
    Ok(Json(mailbox_settings(user, &root)).into_response())
}

// ---- licenses ----

/// `GET /subscribedSkus` (no paging, `$select` only).
pub(crate) async fn subscribed_skus(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Query(params): Params,
) -> Answer {
    let world = state.lock();
    require(&world, caller, SKU_READ)?;
    let tenant = &world.tenants[caller.tenant];
    let mut value = Vec::new();
    for index in 0..tenant.skus.len() {
        let Value::Object(full) = tenant.sku_json(index) else {
            continue;
        };
        value.push(Value::Object(project(
            full,
            params.get("$select"),
            None,
            "subscribedSku",
        )?));
    }
    Ok(
        Json(json!({"@odata.context": root.context("subscribedSkus"), "value": value}))
            .into_response(),
    )
}

// ---- MFA readiness (fact sheet §14) ----

/// `GET /policies/identitySecurityDefaultsEnforcementPolicy`.
pub(crate) async fn security_defaults(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
) -> Answer {
    let world = state.lock();
    require(&world, caller, POLICY_READ)?;
    let tenant = &world.tenants[caller.tenant];
    Ok(Json(json!({
        "@odata.context": root.context("policies/identitySecurityDefaultsEnforcementPolicy/$entity"),
        "id": "00000000-0000-0000-0000-000000000005",
        "displayName": "Security Defaults",
        "description": "Security defaults is a set of basic identity security mechanisms recommended by Microsoft.",
        "isEnabled": tenant.security_defaults,
    }))
    .into_response())
}

/// `GET /identity/conditionalAccess/policies`: every policy (no paging at the
/// sandbox's sizes); a tenant without Entra ID P1 answers 403.
pub(crate) async fn conditional_access_policies(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
) -> Answer {
    let world = state.lock();
    require(&world, caller, POLICY_READ)?;
    let tenant = &world.tenants[caller.tenant];
    if !tenant.has_entra_p1() {
        return Err(GraphError::non_premium_tenant());
    }
    Ok(Json(json!({
        "@odata.context": root.context("identity/conditionalAccess/policies"),
        "value": tenant.conditional_access,
    }))
    .into_response())
}

/// `GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}`:
/// the Temporary Access Pass configuration (the id is case-insensitive, as in Graph).
pub(crate) async fn authentication_method_configuration(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    root: Root,
) -> Answer {
    let world = state.lock();
    require(&world, caller, POLICY_READ)?;
    if !id.eq_ignore_ascii_case("TemporaryAccessPass") {
        return Err(GraphError::not_found(&id));
    }
    let mut body = world.tenants[caller.tenant].tap_policy.clone();
    body["@odata.context"] = json!(root.context(
        "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity"
    ));
    Ok(Json(body).into_response())
}

// ---- groups ----

/// `GET /groups` with `$filter`, `$select`, `$top`, paging.
pub(crate) async fn list_groups(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Query(params): Params,
) -> Answer {
    let filter = filter(&params, GROUP_FILTER, "Group")?;
    let world = state.lock();
    require(&world, caller, GROUP_READ)?;
    let tenant = &world.tenants[caller.tenant];
    let mut items = Vec::new();
    for group in &tenant.groups {
        let mail_nickname = group.display_name.replace(' ', "");
        let field = |p: &str| match p {
            "id" => Field::Text(Some(&group.id)),
            "displayName" => Field::Text(Some(&group.display_name)),
            "mailNickname" => Field::Text(Some(&mail_nickname)),
            _ => Field::Text(None),
        };
        if filter.as_ref().is_none_or(|f| f.matches(&field)) {
            items.push(Value::Object(project(
                group.json(),
                params.get("$select"),
                None,
                "group",
            )?));
        }
    }
    Ok(Json(page(items, &params, &root, &root.context("groups"))?).into_response())
}

/// `GET /groups/{id}`.
pub(crate) async fn get_group(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path(id): Path<String>,
    Query(params): Params,
) -> Answer {
    let world = state.lock();
    require(&world, caller, GROUP_READ)?;
    let tenant = &world.tenants[caller.tenant];
    let group = tenant
        .group_index(&id)
        .ok_or_else(|| GraphError::not_found(&id))?;
    let body = project(
        tenant.groups[group].json(),
        params.get("$select"),
        None,
        "group",
    )?;
    Ok(Json(with_context(body, root.context("groups/$entity"))).into_response())
}

/// Membership of dynamic, synced and mail-list groups is not Graph's to change.
fn writable_membership(group: &super::model::Group) -> Result<(), GraphError> {
    if group.is_dynamic() {
        return Err(GraphError::dynamic_membership());
    }
    if group.is_mail_list() {
        return Err(GraphError::mail_list_membership());
    }
    if group.on_premises_sync_enabled == Some(true) {
        return Err(GraphError::synced_object());
    }
    Ok(())
}

/// `POST /groups/{id}/members/$ref` -> 204.
pub(crate) async fn add_member(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let body = object(&body)?;
    let member_id = referenced_id(&body)?;
    let mut world = state.lock();
    require(&world, caller, MEMBER_WRITE)?;
    let tenant = &mut world.tenants[caller.tenant];
    let group = tenant
        .group_index(&id)
        .ok_or_else(|| GraphError::not_found(&id))?;
    let user = tenant.resolve_user(&member_id)?;
    writable_membership(&tenant.groups[group])?;
    if tenant.groups[group]
        .members
        .contains(&tenant.users[user].id)
    {
        return Err(GraphError::already_member());
    }
    tenant.join(group, user);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /groups/{id}/members/{memberId}/$ref` -> 204.
pub(crate) async fn remove_member(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    Path((id, member_id)): Path<(String, String)>,
) -> Answer {
    let mut world = state.lock();
    require(&world, caller, MEMBER_WRITE)?;
    let tenant = &mut world.tenants[caller.tenant];
    let group = tenant
        .group_index(&id)
        .ok_or_else(|| GraphError::not_found(&id))?;
    let user = tenant.resolve_user(&member_id)?;
    writable_membership(&tenant.groups[group])?;
    if !tenant.groups[group]
        .members
        .contains(&tenant.users[user].id)
    {
        return Err(GraphError::not_found(&member_id));
    }
    tenant.leave(group, user);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /groups/{id}/members/{memberId}` WITHOUT `/$ref`: on the real
/// service this addresses the directory object itself and deletes the user.
/// The simulator does the same and records the call, so tests can assert
/// that a client never sends it.
pub(crate) async fn delete_member_object(
    State(state): State<GraphState>,
    Extension(caller): Extension<Caller>,
    root: Root,
    Path((_, member_id)): Path<(String, String)>,
) -> Answer {
    let mut world = state.lock();
    world.dangerous_deletes.push(root.path.clone());
    tracing::warn!(path = %root.path, "graph simulator: member DELETE without /$ref deletes the user");
    require(&world, caller, USER_WRITE)?;
    let tenant = &mut world.tenants[caller.tenant];
    let user = tenant.resolve_user(&member_id)?;
    let removed = tenant.users.remove(user);
    for group in &mut tenant.groups {
        group.members.retain(|m| m != &removed.id);
    }
    for other in &mut tenant.users {
        if other.manager.as_deref() == Some(removed.id.as_str()) {
            other.manager = None;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Any other path under `/v1.0`.
pub(crate) async fn unknown_segment(root: Root) -> GraphError {
    let segment = root
        .path
        .trim_matches('/')
        .split('/')
        .next_back()
        .unwrap_or_default()
        .to_owned();
    GraphError::unknown_segment(&segment)
}

/// A known path with a method Graph does not serve there. [?]
pub(crate) async fn method_not_allowed() -> GraphError {
    GraphError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "Request_BadRequest",
        message: "Specified HTTP method is not allowed for the request target.".into(),
        details: Vec::new(),
    }
}

// ---- control ----

/// The simulator settings that are not faults: `GET|PUT /sandbox/graph/control`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSettings {
    /// Requests a newly created user answers 404 to.
    pub replication_delay_calls: Option<u32>,
    /// `expires_in` of tokens issued from now on.
    pub token_lifetime_seconds: Option<u64>,
    /// Graph's quotas, from now on (every bucket full again); `{"enabled":
    /// false}` for a load test of Onboard's own cost.
    pub throttling: Option<super::throttle::ThrottleSettings>,
}

pub(crate) async fn show_control(State(state): State<GraphState>) -> Json<ControlSettings> {
    let world = state.lock();
    Json(ControlSettings {
        replication_delay_calls: Some(world.replication_delay_calls),
        token_lifetime_seconds: Some(world.token_lifetime_seconds),
        throttling: Some(state.throttle().settings()),
    })
}

pub(crate) async fn update_control(
    State(state): State<GraphState>,
    Json(settings): Json<ControlSettings>,
) -> Json<ControlSettings> {
    {
        let mut world = state.lock();
        if let Some(calls) = settings.replication_delay_calls {
            world.replication_delay_calls = calls;
        }
        if let Some(seconds) = settings.token_lifetime_seconds {
            world.token_lifetime_seconds = seconds;
        }
    }
    if let Some(throttling) = settings.throttling {
        state.throttle().set(throttling);
    }
    show_control(State(state)).await
}
