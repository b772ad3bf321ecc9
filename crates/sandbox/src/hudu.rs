//! Hudu simulator: companies and asset passwords, under `/sandbox/hudu/api/v1/`.
//!
//! Follows the fact sheet (§6): `x-api-key` header, JSON bodies wrapped in
//! `{"asset_password": {...}}`, lists as `{"asset_passwords": [...]}` and
//! `{"companies": [...]}`, `page` from 1 with a fixed 25 per page. A 403 on
//! asset passwords means the key lacks password access. Hudu's exact 401/422
//! bodies are not in the fact sheet; the simulator answers `{"error": "..."}`
//! (marked unconfirmed there too), and clients must not depend on more than
//! the status code.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::faults::{Fault, FaultSettings, Faults};

/// Hudu's fixed page size.
const PAGE_SIZE: usize = 25;

/// The `[sandbox.hudu]` seed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HuduSeed {
    /// API keys the simulator accepts.
    pub api_keys: Vec<HuduApiKey>,
    /// Companies.
    pub companies: Vec<HuduCompany>,
    /// Asset passwords that exist before the run.
    pub asset_passwords: Vec<HuduAssetPassword>,
    /// Fault injection.
    pub faults: FaultSettings,
}

/// An API key and whether it may touch passwords.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuduApiKey {
    /// The key sent as `x-api-key`.
    pub key: String,
    /// Whether it may read and write asset passwords.
    #[serde(default = "yes")]
    pub password_access: bool,
}

fn yes() -> bool {
    true
}

/// A company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuduCompany {
    /// Hudu's numeric id.
    pub id: u64,
    /// Its name.
    pub name: String,
}

/// An asset password as Hudu returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuduAssetPassword {
    /// Hudu's id (assigned when omitted in a seed).
    #[serde(default)]
    pub id: u64,
    /// The owning company.
    pub company_id: u64,
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
    /// Free-text description.
    #[serde(default)]
    pub description: Option<String>,
    /// Shown in the client portal.
    #[serde(default)]
    pub in_portal: bool,
    /// URL slug.
    #[serde(default)]
    pub slug: String,
}

/// The simulator's state handle.
#[derive(Debug, Clone)]
pub struct Hudu {
    inner: Arc<Mutex<Inner>>,
    faults: Faults,
}

#[derive(Debug)]
struct Inner {
    api_keys: Vec<HuduApiKey>,
    companies: Vec<HuduCompany>,
    passwords: BTreeMap<u64, HuduAssetPassword>,
    next_id: u64,
    writes: u64,
}

impl Hudu {
    /// A simulator seeded with `seed`.
    pub fn new(seed: HuduSeed) -> Self {
        let mut passwords = BTreeMap::new();
        let mut next_id = 1;
        for mut password in seed.asset_passwords {
            if password.id == 0 {
                password.id = next_id;
            }
            next_id = next_id.max(password.id + 1);
            if password.slug.is_empty() {
                password.slug = slug(&password.name, password.id);
            }
            passwords.insert(password.id, password);
        }
        Self {
            inner: Arc::new(Mutex::new(Inner {
                api_keys: seed.api_keys,
                companies: seed.companies,
                passwords,
                next_id,
                writes: 0,
            })),
            faults: Faults::new("hudu", seed.faults, fault_body),
        }
    }

    /// Every asset password, by id.
    pub fn asset_passwords(&self) -> Vec<HuduAssetPassword> {
        self.lock().passwords.values().cloned().collect()
    }

    /// The companies and every asset password as Hudu returns them, for
    /// `GET /sandbox/state`: the `password` field is masked, never shown.
    pub fn state_json(&self) -> Value {
        let inner = self.lock();
        let passwords: Vec<Value> = inner
            .passwords
            .values()
            .map(|p| {
                let mut record = json!(p);
                record["password"] = json!(crate::MASKED);
                record
            })
            .collect();
        json!({ "companies": inner.companies, "asset_passwords": passwords })
    }

    /// How many asset passwords were created or updated through the API.
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    /// The fault injector.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn slug(name: &str, id: u64) -> String {
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{}-{id:x}", base.trim_matches('-'))
}

/// The Hudu API, to be nested at `/sandbox/hudu` (paths start with `/api/v1`).
pub fn router(sim: Hudu) -> Router {
    let api = Router::new()
        .route("/api/v1/companies", get(list_companies))
        .route(
            "/api/v1/asset_passwords",
            get(list_passwords).post(create_password),
        )
        .route(
            "/api/v1/asset_passwords/{id}",
            get(show_password).put(update_password),
        )
        .with_state(sim.clone());
    sim.faults.layer(api)
}

fn fault_body(fault: Fault) -> Response {
    match fault {
        Fault::Throttle { .. } => error(StatusCode::TOO_MANY_REQUESTS, "Retry later"),
        Fault::ServerError(status) => error(status, "Internal Server Error"),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

#[allow(
    clippy::result_large_err,
    reason = "an early-return HTTP answer of a simulator handler, built once per refused request"
)]
fn authorize(sim: &Hudu, headers: &HeaderMap, needs_passwords: bool) -> Result<(), Response> {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let inner = sim.lock();
    match key.and_then(|key| inner.api_keys.iter().find(|k| k.key == key)) {
        None => Err(error(StatusCode::UNAUTHORIZED, "Invalid API key")),
        Some(k) if needs_passwords && !k.password_access => Err(error(
            StatusCode::FORBIDDEN,
            "This API key does not have access to passwords",
        )),
        Some(_) => Ok(()),
    }
}

fn page<T: Clone>(items: Vec<T>, query: &HashMap<String, String>) -> Vec<T> {
    let number = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    items
        .into_iter()
        .skip((number - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect()
}

async fn list_companies(
    State(sim): State<Hudu>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, false) {
        return denied;
    }
    let companies: Vec<HuduCompany> = sim
        .lock()
        .companies
        .iter()
        .filter(|c| query.get("name").is_none_or(|n| &c.name == n))
        .cloned()
        .collect();
    Json(json!({ "companies": page(companies, &query) })).into_response()
}

async fn list_passwords(
    State(sim): State<Hudu>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, true) {
        return denied;
    }
    let company: Option<u64> = query.get("company_id").and_then(|c| c.parse().ok());
    let search = query.get("search").map(|s| s.to_lowercase());
    let passwords: Vec<HuduAssetPassword> = sim
        .lock()
        .passwords
        .values()
        .filter(|p| company.is_none_or(|c| p.company_id == c))
        .filter(|p| query.get("name").is_none_or(|n| &p.name == n))
        .filter(|p| {
            search
                .as_ref()
                .is_none_or(|s| p.name.to_lowercase().contains(s))
        })
        .cloned()
        .collect();
    Json(json!({ "asset_passwords": page(passwords, &query) })).into_response()
}

#[derive(Debug, Deserialize)]
struct Wrapper {
    asset_password: Value,
}

fn text(fields: &Value, key: &str) -> Option<String> {
    fields.get(key).and_then(Value::as_str).map(str::to_owned)
}

async fn create_password(
    State(sim): State<Hudu>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, true) {
        return denied;
    }
    let Ok(Wrapper {
        asset_password: fields,
    }) = serde_json::from_slice(&body)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "param is missing or the value is empty: asset_password",
        );
    };
    let company_id = fields.get("company_id").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    let mut missing = Vec::new();
    for key in ["name", "password"] {
        if text(&fields, key).is_none_or(|v| v.is_empty()) {
            missing.push(key);
        }
    }
    let mut inner = sim.lock();
    let company_known = company_id.is_some_and(|id| inner.companies.iter().any(|c| c.id == id));
    if !company_known {
        missing.push("company");
    }
    if !missing.is_empty() {
        let message = missing
            .iter()
            .map(|m| format!("{m} can't be blank"))
            .collect::<Vec<_>>()
            .join(", ");
        return error(StatusCode::UNPROCESSABLE_ENTITY, &message);
    }
    let id = inner.next_id;
    inner.next_id += 1;
    inner.writes += 1;
    let name = text(&fields, "name").unwrap_or_default();
    let record = HuduAssetPassword {
        id,
        company_id: company_id.unwrap_or_default(),
        slug: slug(&name, id),
        name,
        username: text(&fields, "username"),
        password: text(&fields, "password").unwrap_or_default(),
        url: text(&fields, "url"),
        description: text(&fields, "description"),
        in_portal: fields
            .get("in_portal")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    inner.passwords.insert(id, record.clone());
    Json(json!({ "asset_password": record })).into_response()
}

async fn show_password(
    State(sim): State<Hudu>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, true) {
        return denied;
    }
    match id
        .parse::<u64>()
        .ok()
        .and_then(|id| sim.lock().passwords.get(&id).cloned())
    {
        Some(record) => Json(json!({ "asset_password": record })).into_response(),
        None => error(StatusCode::NOT_FOUND, "Record not found"),
    }
}

async fn update_password(
    State(sim): State<Hudu>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, true) {
        return denied;
    }
    let Ok(Wrapper {
        asset_password: fields,
    }) = serde_json::from_slice(&body)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "param is missing or the value is empty: asset_password",
        );
    };
    let mut inner = sim.lock();
    let Some(record) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| inner.passwords.get_mut(&id))
    else {
        return error(StatusCode::NOT_FOUND, "Record not found");
    };
    if let Some(v) = text(&fields, "name") {
        record.name = v;
    }
    if let Some(v) = text(&fields, "username") {
        record.username = Some(v);
    }
    if let Some(v) = text(&fields, "password") {
        record.password = v;
    }
    if let Some(v) = text(&fields, "url") {
        record.url = Some(v);
    }
    if let Some(v) = text(&fields, "description") {
        record.description = Some(v);
    }
    let updated = record.clone();
    inner.writes += 1;
    Json(json!({ "asset_password": updated })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_reads_from_the_sandbox_section_of_the_config_file() {
        #[derive(Deserialize)]
        struct Config {
            sandbox: Section,
        }
        #[derive(Deserialize)]
        struct Section {
            hudu: HuduSeed,
        }
        let text = r#"
            [[sandbox.hudu.api_keys]]
            key = "hudu-key"
            [[sandbox.hudu.companies]]
            id = 12
            name = "Contoso"
            [[sandbox.hudu.asset_passwords]]
            company_id = 12
            name = "Wi-Fi"
            password = "guest-pass"
        "#;

        let seed = toml::from_str::<Config>(text).unwrap().sandbox.hudu;
        let sim = Hudu::new(seed);

        let kept = sim.asset_passwords();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].id, 1);
        assert_eq!(kept[0].slug, "wi-fi-1");
    }

    #[tokio::test]
    async fn listing_pages_hold_twenty_five_passwords() {
        let sim = Hudu::new(HuduSeed {
            api_keys: vec![HuduApiKey {
                key: "k".into(),
                password_access: true,
            }],
            companies: vec![HuduCompany {
                id: 1,
                name: "Contoso".into(),
            }],
            asset_passwords: (0..30)
                .map(|i| HuduAssetPassword {
                    id: 0,
                    company_id: 1,
                    name: format!("p{i}"),
                    username: None,
                    password: "x".into(),
                    url: None,
                    description: None,
                    in_portal: false,
                    slug: String::new(),
                })
                .collect(),
            ..HuduSeed::default()
        });
        let app = Router::new().nest("/sandbox/hudu", router(sim));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/sandbox/hudu/api/v1/asset_passwords");

        let first: Value = client
            .get(&url)
            .header("x-api-key", "k")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let second: Value = client
            .get(format!("{url}?page=2"))
            .header("x-api-key", "k")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();

        assert_eq!(first["asset_passwords"].as_array().unwrap().len(), 25);
        assert_eq!(second["asset_passwords"].as_array().unwrap().len(), 5);
    }
}
