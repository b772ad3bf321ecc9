//! IT Glue simulator: organizations and passwords over JSON:API, under `/sandbox/itglue/`.
//!
//! Follows the fact sheet (§5): `x-api-key` header, `application/vnd.api+json`
//! bodies with dashed attribute names, `POST /organizations/{id}/relationships/passwords`
//! (and the flat `POST /passwords` with `organization-id`), `page[number]`/`page[size]`
//! paging with `meta`, `filter[name]`, JSON:API `errors` bodies. A missing key
//! answers 401, a wrong one 403 (IT Glue's "bad key"), and a key without
//! "Password Access" 403 on password routes. Passwords are only returned with
//! `?show_password=true`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::faults::{Fault, FaultSettings, Faults};

/// The media type JSON:API requests must carry.
const JSON_API: &str = "application/vnd.api+json";
/// IT Glue's largest page.
const MAX_PAGE_SIZE: usize = 1000;

/// The `[sandbox.itglue]` seed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ItGlueSeed {
    /// API keys the simulator accepts.
    pub api_keys: Vec<ItGlueApiKey>,
    /// Organizations (IT Glue's customers).
    pub organizations: Vec<ItGlueOrganization>,
    /// Passwords that exist before the run.
    pub passwords: Vec<ItGluePassword>,
    /// Fault injection.
    pub faults: FaultSettings,
}

/// An API key and whether it was granted "Password Access".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItGlueApiKey {
    /// The key sent as `x-api-key`.
    pub key: String,
    /// Whether it may read and write passwords.
    #[serde(default = "yes")]
    pub password_access: bool,
}

fn yes() -> bool {
    true
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItGlueOrganization {
    /// IT Glue's numeric id.
    pub id: u64,
    /// Its name.
    pub name: String,
}

/// A stored password, as the simulator keeps it (the secret in clear: it is a simulator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItGluePassword {
    /// IT Glue's id (assigned when omitted in a seed).
    #[serde(default)]
    pub id: u64,
    /// The organization it belongs to.
    pub organization_id: u64,
    /// Its title.
    pub name: String,
    /// The user name.
    #[serde(default)]
    pub username: Option<String>,
    /// The secret.
    pub password: String,
    /// The sign-in URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Free-text notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// `password-category-id`.
    #[serde(default)]
    pub password_category_id: Option<u64>,
}

/// The simulator's state handle: clone it to inspect or change the state in tests.
#[derive(Debug, Clone)]
pub struct ItGlue {
    inner: Arc<Mutex<Inner>>,
    faults: Faults,
}

#[derive(Debug)]
struct Inner {
    api_keys: Vec<ItGlueApiKey>,
    organizations: Vec<ItGlueOrganization>,
    passwords: BTreeMap<u64, ItGluePassword>,
    next_id: u64,
    writes: u64,
}

impl ItGlue {
    /// A simulator seeded with `seed`.
    pub fn new(seed: ItGlueSeed) -> Self {
        let mut passwords = BTreeMap::new();
        let mut next_id = 1000;
        for mut password in seed.passwords {
            if password.id == 0 {
                password.id = next_id;
            }
            next_id = next_id.max(password.id + 1);
            passwords.insert(password.id, password);
        }
        let faults = Faults::new("itglue", seed.faults, fault_body);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                api_keys: seed.api_keys,
                organizations: seed.organizations,
                passwords,
                next_id,
                writes: 0,
            })),
            faults,
        }
    }

    /// Every stored password, by id.
    pub fn passwords(&self) -> Vec<ItGluePassword> {
        self.lock().passwords.values().cloned().collect()
    }

    /// The organizations and every password as IT Glue's JSON:API resources,
    /// for `GET /sandbox/state`: the `password` attribute is masked, never shown.
    pub fn state_json(&self) -> Value {
        let inner = self.lock();
        let passwords: Vec<Value> = inner
            .passwords
            .values()
            .map(|p| {
                let mut resource = password_resource(p, &inner.organizations, false);
                resource["attributes"]["password"] = json!(crate::MASKED);
                resource
            })
            .collect();
        let organizations: Vec<Value> = inner
            .organizations
            .iter()
            .map(organization_resource)
            .collect();
        json!({ "organizations": organizations, "passwords": passwords })
    }

    /// How many passwords were created or updated through the API.
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    /// The fault injector (to change rates in tests).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The IT Glue API, to be nested at `/sandbox/itglue`.
pub fn router(sim: ItGlue) -> Router {
    let api = Router::new()
        .route("/organizations", get(list_organizations))
        .route(
            "/organizations/{org_id}/relationships/passwords",
            get(list_org_passwords).post(create_org_password),
        )
        .route("/passwords", get(list_passwords).post(create_flat_password))
        .route("/passwords/{id}", get(show_password).patch(update_password))
        .with_state(sim.clone());
    sim.faults.layer(api)
}

fn fault_body(fault: Fault) -> Response {
    let (status, title) = match fault {
        Fault::Throttle { .. } => (429, "Too Many Requests"),
        Fault::ServerError(status) => (
            status.as_u16(),
            status.canonical_reason().unwrap_or("Server Error"),
        ),
    };
    error_body(status, title, None, None)
}

/// A JSON:API error document with one error.
fn error_body(status: u16, title: &str, detail: Option<&str>, pointer: Option<&str>) -> Response {
    let mut error = json!({"status": status, "title": title});
    if let Some(detail) = detail {
        error["detail"] = json!(detail);
    }
    if let Some(pointer) = pointer {
        error["source"] = json!({ "pointer": pointer });
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", JSON_API)],
        json!({ "errors": [error] }).to_string(),
    )
        .into_response()
}

fn document(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", JSON_API)], body.to_string()).into_response()
}

/// Checks `x-api-key`; `needs_passwords` also requires Password Access.
#[allow(
    clippy::result_large_err,
    reason = "an early-return HTTP answer of a simulator handler, built once per refused request"
)]
fn authorize(sim: &ItGlue, headers: &HeaderMap, needs_passwords: bool) -> Result<(), Response> {
    let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) else {
        return Err(error_body(
            401,
            "Unauthorized",
            Some("missing x-api-key header"),
            None,
        ));
    };
    let inner = sim.lock();
    match inner.api_keys.iter().find(|k| k.key == key) {
        None => Err(error_body(403, "Forbidden", Some("invalid API key"), None)),
        Some(k) if needs_passwords && !k.password_access => Err(error_body(
            403,
            "Forbidden",
            Some("this API key does not have Password Access"),
            None,
        )),
        Some(_) => Ok(()),
    }
}

/// `page[number]` (1-based) and `page[size]` (max 1000), with IT Glue's `meta`.
fn paginate<T: Clone>(items: &[T], query: &HashMap<String, String>) -> (Vec<T>, Value) {
    let size = query
        .get("page[size]")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, MAX_PAGE_SIZE);
    let number = query
        .get("page[number]")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let pages = total.div_ceil(size).max(1);
    let page: Vec<T> = items
        .iter()
        .skip((number - 1) * size)
        .take(size)
        .cloned()
        .collect();
    let meta = json!({
        "current-page": number,
        "next-page": if number < pages { json!(number + 1) } else { Value::Null },
        "prev-page": if number > 1 { json!(number - 1) } else { Value::Null },
        "total-pages": pages,
        "total-count": total,
        "filters": {}
    });
    (page, meta)
}

fn organization_resource(org: &ItGlueOrganization) -> Value {
    json!({
        "id": org.id.to_string(),
        "type": "organizations",
        "attributes": {"name": org.name, "organization-status-name": "Active"}
    })
}

fn password_resource(
    password: &ItGluePassword,
    organizations: &[ItGlueOrganization],
    show: bool,
) -> Value {
    let org_name = organizations
        .iter()
        .find(|o| o.id == password.organization_id)
        .map(|o| o.name.clone());
    let mut attributes = json!({
        "organization-id": password.organization_id,
        "organization-name": org_name,
        "name": password.name,
        "username": password.username,
        "url": password.url,
        "notes": password.notes,
        "password-category-id": password.password_category_id,
        "resource-url": format!("https://sandbox.itglue.com/{}/passwords/{}", password.organization_id, password.id),
    });
    if show {
        attributes["password"] = json!(password.password);
    }
    json!({"id": password.id.to_string(), "type": "passwords", "attributes": attributes})
}

async fn list_organizations(
    State(sim): State<ItGlue>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, false) {
        return denied;
    }
    let inner = sim.lock();
    let matching: Vec<ItGlueOrganization> = inner
        .organizations
        .iter()
        .filter(|o| query.get("filter[name]").is_none_or(|name| &o.name == name))
        .cloned()
        .collect();
    let (page, meta) = paginate(&matching, &query);
    let data: Vec<Value> = page.iter().map(organization_resource).collect();
    document(
        StatusCode::OK,
        json!({"data": data, "meta": meta, "links": {}}),
    )
}

fn list_filtered(sim: &ItGlue, org_id: Option<u64>, query: &HashMap<String, String>) -> Response {
    let inner = sim.lock();
    let show = query.get("show_password").is_some_and(|v| v == "true");
    let org_filter = org_id.or_else(|| {
        query
            .get("filter[organization_id]")
            .and_then(|v| v.parse().ok())
    });
    let matching: Vec<ItGluePassword> = inner
        .passwords
        .values()
        .filter(|p| org_filter.is_none_or(|id| p.organization_id == id))
        .filter(|p| query.get("filter[name]").is_none_or(|name| &p.name == name))
        .cloned()
        .collect();
    let (page, meta) = paginate(&matching, query);
    let data: Vec<Value> = page
        .iter()
        .map(|p| password_resource(p, &inner.organizations, show))
        .collect();
    document(
        StatusCode::OK,
        json!({"data": data, "meta": meta, "links": {}}),
    )
}

async fn list_org_passwords(
    State(sim): State<ItGlue>,
    headers: HeaderMap,
    Path(org_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, true) {
        return denied;
    }
    let Some(org_id) = known_organization(&sim, &org_id) else {
        return error_body(
            404,
            "Record not found",
            Some("organization not found"),
            None,
        );
    };
    list_filtered(&sim, Some(org_id), &query)
}

async fn list_passwords(
    State(sim): State<ItGlue>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, true) {
        return denied;
    }
    list_filtered(&sim, None, &query)
}

fn known_organization(sim: &ItGlue, id: &str) -> Option<u64> {
    let id: u64 = id.parse().ok()?;
    sim.lock()
        .organizations
        .iter()
        .any(|o| o.id == id)
        .then_some(id)
}

/// Reads a JSON:API request document; answers 415 or 400 like IT Glue.
#[allow(
    clippy::result_large_err,
    reason = "an early-return HTTP answer of a simulator handler, built once per refused request"
)]
fn read_document(headers: &HeaderMap, body: &Bytes) -> Result<Value, Response> {
    let media_ok = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(JSON_API));
    if !media_ok {
        return Err(error_body(
            415,
            "Unsupported Media Type",
            Some("Content-Type must be application/vnd.api+json"),
            None,
        ));
    }
    serde_json::from_slice(body)
        .map_err(|_| error_body(400, "Bad Request", Some("the body is not valid JSON"), None))
}

fn attribute<'a>(attributes: &'a Value, key: &str) -> Option<&'a Value> {
    attributes.get(key).filter(|v| !v.is_null())
}

fn string_attribute(attributes: &Value, key: &str) -> Option<String> {
    attribute(attributes, key)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn create(
    sim: &ItGlue,
    org_id: Option<u64>,
    query: &HashMap<String, String>,
    doc: &Value,
) -> Response {
    let data = &doc["data"];
    if data.get("type").and_then(Value::as_str) != Some("passwords") {
        return error_body(
            422,
            "Unprocessable Entity",
            Some("type must be 'passwords'"),
            Some("/data/type"),
        );
    }
    let attributes = &data["attributes"];
    let org_id = match org_id {
        Some(id) => id,
        None => {
            let id = attribute(attributes, "organization-id").and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            });
            match id.and_then(|id| known_organization(sim, &id.to_string())) {
                Some(id) => id,
                None => {
                    return error_body(
                        422,
                        "Valid organization_id is required",
                        None,
                        Some("/data/attributes/organization-id"),
                    );
                }
            }
        }
    };
    for required in ["name", "password"] {
        if string_attribute(attributes, required).is_none_or(|v| v.is_empty()) {
            return error_body(
                422,
                "Unprocessable Entity",
                Some("can't be blank"),
                Some(&format!("/data/attributes/{required}")),
            );
        }
    }
    let mut inner = sim.lock();
    let id = inner.next_id;
    inner.next_id += 1;
    inner.writes += 1;
    let password = ItGluePassword {
        id,
        organization_id: org_id,
        name: string_attribute(attributes, "name").unwrap_or_default(),
        username: string_attribute(attributes, "username"),
        password: string_attribute(attributes, "password").unwrap_or_default(),
        url: string_attribute(attributes, "url"),
        notes: string_attribute(attributes, "notes"),
        password_category_id: attribute(attributes, "password-category-id").and_then(Value::as_u64),
    };
    let show = query.get("show_password").is_some_and(|v| v == "true");
    let resource = password_resource(&password, &inner.organizations, show);
    inner.passwords.insert(id, password);
    document(StatusCode::CREATED, json!({ "data": resource }))
}

async fn create_org_password(
    State(sim): State<ItGlue>,
    headers: HeaderMap,
    Path(org_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, true) {
        return denied;
    }
    let Some(org_id) = known_organization(&sim, &org_id) else {
        return error_body(
            404,
            "Record not found",
            Some("organization not found"),
            None,
        );
    };
    match read_document(&headers, &body) {
        Ok(doc) => create(&sim, Some(org_id), &query, &doc),
        Err(refused) => refused,
    }
}

async fn create_flat_password(
    State(sim): State<ItGlue>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, true) {
        return denied;
    }
    match read_document(&headers, &body) {
        Ok(doc) => create(&sim, None, &query, &doc),
        Err(refused) => refused,
    }
}

async fn show_password(
    State(sim): State<ItGlue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, true) {
        return denied;
    }
    let inner = sim.lock();
    let show = query.get("show_password").is_none_or(|v| v == "true");
    match id
        .parse::<u64>()
        .ok()
        .and_then(|id| inner.passwords.get(&id))
    {
        Some(p) => document(
            StatusCode::OK,
            json!({"data": password_resource(p, &inner.organizations, show)}),
        ),
        None => error_body(404, "Record not found", None, None),
    }
}

async fn update_password(
    State(sim): State<ItGlue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, true) {
        return denied;
    }
    let doc = match read_document(&headers, &body) {
        Ok(doc) => doc,
        Err(refused) => return refused,
    };
    let attributes = &doc["data"]["attributes"];
    let mut inner = sim.lock();
    let Some(password) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| inner.passwords.get_mut(&id))
    else {
        return error_body(404, "Record not found", None, None);
    };
    if let Some(v) = string_attribute(attributes, "name") {
        password.name = v;
    }
    if let Some(v) = string_attribute(attributes, "username") {
        password.username = Some(v);
    }
    if let Some(v) = string_attribute(attributes, "password") {
        password.password = v;
    }
    if let Some(v) = string_attribute(attributes, "url") {
        password.url = Some(v);
    }
    if let Some(v) = string_attribute(attributes, "notes") {
        password.notes = Some(v);
    }
    let updated = password.clone();
    inner.writes += 1;
    document(
        StatusCode::OK,
        json!({"data": password_resource(&updated, &inner.organizations, false)}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> ItGlueSeed {
        ItGlueSeed {
            api_keys: vec![
                ItGlueApiKey {
                    key: "good".into(),
                    password_access: true,
                },
                ItGlueApiKey {
                    key: "nopw".into(),
                    password_access: false,
                },
            ],
            organizations: vec![ItGlueOrganization {
                id: 7,
                name: "Contoso".into(),
            }],
            ..ItGlueSeed::default()
        }
    }

    async fn serve(sim: ItGlue) -> String {
        let app = Router::new().nest("/sandbox/itglue", router(sim));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/sandbox/itglue")
    }

    #[test]
    fn the_seed_reads_from_the_sandbox_section_of_the_config_file() {
        #[derive(Deserialize)]
        struct Config {
            sandbox: Section,
        }
        #[derive(Deserialize)]
        struct Section {
            itglue: ItGlueSeed,
        }
        let text = r#"
            [[sandbox.itglue.api_keys]]
            key = "itg-key"
            [[sandbox.itglue.api_keys]]
            key = "read-only"
            password_access = false
            [[sandbox.itglue.organizations]]
            id = 42
            name = "Contoso"
            [sandbox.itglue.faults]
            throttle_rate = 0.05
        "#;

        let seed = toml::from_str::<Config>(text).unwrap().sandbox.itglue;

        assert!(
            seed.api_keys[0].password_access,
            "password access is on unless refused"
        );
        assert!(!seed.api_keys[1].password_access);
        assert_eq!(seed.organizations[0].id, 42);
        assert_eq!(seed.faults.throttle_rate, 0.05);
    }

    #[tokio::test]
    async fn a_key_without_password_access_cannot_create_passwords() {
        let sim = ItGlue::new(seed());
        let base = serve(sim.clone()).await;

        let response = reqwest::Client::new()
            .post(format!("{base}/organizations/7/relationships/passwords"))
            .header("x-api-key", "nopw")
            .header("content-type", JSON_API)
            .body(json!({"data": {"type": "passwords", "attributes": {"name": "a", "password": "b"}}}).to_string())
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), 403);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["status"], 403);
        assert!(sim.passwords().is_empty());
    }

    #[tokio::test]
    async fn plain_json_is_refused_with_415() {
        let sim = ItGlue::new(seed());
        let base = serve(sim.clone()).await;

        let response = reqwest::Client::new()
            .post(format!("{base}/passwords"))
            .header("x-api-key", "good")
            .json(&json!({"data": {"type": "passwords", "attributes": {"name": "a", "password": "b", "organization-id": 7}}}))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), 415);
        assert!(sim.passwords().is_empty());
    }

    #[tokio::test]
    async fn a_missing_password_is_a_422_pointing_at_the_attribute() {
        let sim = ItGlue::new(seed());
        let base = serve(sim).await;

        let response = reqwest::Client::new()
            .post(format!("{base}/organizations/7/relationships/passwords"))
            .header("x-api-key", "good")
            .header("content-type", JSON_API)
            .body(json!({"data": {"type": "passwords", "attributes": {"name": "a"}}}).to_string())
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["source"]["pointer"],
            "/data/attributes/password"
        );
    }
}
