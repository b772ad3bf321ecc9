//! Sherweb simulator: token, customers, catalog, subscriptions, amendments,
//! orders and tracking, under `/sandbox/sherweb/` (fact sheet §11).
//!
//! `POST /auth/oidc/connect/token` (form: `client_id`, `client_secret`,
//! `scope=service-provider`, `grant_type=client_credentials`) answers
//! `{"access_token","expires_in","token_type"}` or 400 `{"error":"invalid_client"}`.
//! The API under `/service-provider/v1` needs `Authorization: Bearer` and
//! `Ocp-Apim-Subscription-Key` (or `?subscription-key=`); without the key the
//! gateway answers 401 `{"statusCode","message"}` as Azure API Management does
//! `[?]`. Errors are RFC 7807 problem details `{"type","title","status","detail","instance"}`
//! with the problem names of Sherweb's client models (`CustomerNotFound`,
//! `SkusNotFound`, `CommitmentTermViolations`, `UnpurchasableProductForCustomer`);
//! the `type` URIs and titles are ours `[?]`.
//!
//! Orders and amendments are accepted at once (the subscription exists, the
//! quantity changes) and return a `requestTrackingId`; `GET /tracking/{id}`
//! says `Processing` until the seats reach the tenant after
//! [`SherwebSeed::provisioning_delay_seconds`], then `Success` (the tracking
//! body's shape is not documented where we could read it `[?]`). Seats reach the
//! tenant through the same [`SeatHook`] as Pax8's.
//!
//! Commitments: a subscription with a `commitment_term` (`Monthly`, `Annual`,
//! `Biennial`, `Triennial`) renews every term from its purchase date; a
//! decrease later than 168 h into the current term is refused with
//! `CommitmentTermViolations` (Microsoft's new-commerce rule, fact sheet §15).
//! Sherweb documents no way to schedule a decrease, so the simulator has none.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::faults::{Fault, FaultSettings, Faults};
use crate::pax8::{DECREASE_WINDOW, SeatChange, SeatHook};

/// The `[sandbox.sherweb]` seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SherwebSeed {
    /// API clients (id and secret) the token endpoint accepts.
    pub clients: Vec<SherwebClient>,
    /// Subscription keys the gateway accepts.
    pub subscription_keys: Vec<String>,
    /// Lifetime of an access token.
    pub token_lifetime_seconds: u64,
    /// The service provider's customers.
    pub customers: Vec<SherwebCustomer>,
    /// What every customer may buy.
    pub catalog: Vec<SherwebCatalogItem>,
    /// Subscriptions that exist before the run.
    pub subscriptions: Vec<SherwebSubscription>,
    /// How long an order or amendment takes to reach the tenant.
    pub provisioning_delay_seconds: u64,
    /// Fault injection.
    pub faults: FaultSettings,
}

impl Default for SherwebSeed {
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            subscription_keys: Vec::new(),
            token_lifetime_seconds: 3600,
            customers: Vec::new(),
            catalog: Vec::new(),
            subscriptions: Vec::new(),
            provisioning_delay_seconds: 120,
            faults: FaultSettings::default(),
        }
    }
}

/// A client id and secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SherwebClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SherwebCustomer {
    /// Sherweb's id (a UUID).
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// Simulator only: the Microsoft tenant (id or domain) its seats land in.
    #[serde(default)]
    pub microsoft_tenant: Option<String>,
}

/// A catalog item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SherwebCatalogItem {
    /// Sherweb's SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// The commitment term new subscriptions get (`Monthly`, `Annual`, ...), if any.
    #[serde(default)]
    pub commitment_term: Option<String>,
    /// Simulator only: the Microsoft `skuPartNumber` its seats are.
    #[serde(default)]
    pub sku_part_number: Option<String>,
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SherwebSubscription {
    /// Sherweb's id (a UUID is generated when empty).
    #[serde(default)]
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// The SKU.
    pub sku: String,
    /// Seats.
    pub quantity: u32,
    /// `Monthly`, `Annual`, `Biennial`, `Triennial`; `None`: no commitment.
    #[serde(default)]
    pub commitment_term: Option<String>,
    /// When it was bought; `None` in a seed: when the simulator started.
    #[serde(default)]
    pub purchase_date: Option<jiff::Timestamp>,
}

fn term_length(term: &str) -> Option<jiff::Span> {
    match term {
        "Monthly" => Some(jiff::Span::new().months(1)),
        "Annual" => Some(jiff::Span::new().years(1)),
        "Biennial" => Some(jiff::Span::new().years(2)),
        "Triennial" => Some(jiff::Span::new().years(3)),
        _ => None,
    }
}

impl SherwebSubscription {
    /// The current term `(start, end)` at `now`, for a committed subscription.
    pub fn current_term(
        &self,
        epoch: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
        let length = term_length(self.commitment_term.as_deref()?)?;
        let mut start = self
            .purchase_date
            .unwrap_or(epoch)
            .to_zoned(jiff::tz::TimeZone::UTC);
        loop {
            let end = start.checked_add(length).ok()?;
            if end.timestamp() > now {
                return Some((start.timestamp(), end.timestamp()));
            }
            start = end;
        }
    }
}

/// An accepted order, amendment or cancellation, as its tracking shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SherwebRequest {
    /// `requestTrackingId`.
    pub tracking_id: String,
    /// `Order` or `Amendment`.
    pub kind: &'static str,
    /// The customer.
    pub customer_id: String,
    /// `(subscriptionId, sku, quantity)` of each line.
    pub lines: Vec<(String, String, u32)>,
    /// When its seats reach the tenant (then `Success`).
    pub due: jiff::Timestamp,
    /// Whether they have.
    pub done: bool,
    /// Seat change per line, reported to the hook once due.
    deltas: Vec<i64>,
}

/// The simulator's state handle.
#[derive(Debug, Clone)]
pub struct Sherweb {
    inner: Arc<Mutex<Inner>>,
    hook: Arc<dyn SeatHook>,
    faults: Faults,
}

#[derive(Debug)]
struct Inner {
    seed: SherwebSeed,
    subscriptions: BTreeMap<String, SherwebSubscription>,
    requests: Vec<SherwebRequest>,
    tokens: HashMap<String, jiff::Timestamp>,
    clock: Clock,
    epoch: jiff::Timestamp,
}

#[derive(Clone)]
struct Clock(Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl Inner {
    fn now(&self) -> jiff::Timestamp {
        (self.clock.0)()
    }

    fn track(
        &mut self,
        kind: &'static str,
        customer_id: &str,
        lines: Vec<(String, String, u32)>,
        deltas: Vec<i64>,
    ) -> String {
        let delay = jiff::SignedDuration::from_secs(
            i64::try_from(self.seed.provisioning_delay_seconds).unwrap_or(i64::MAX),
        );
        let due = self
            .now()
            .checked_add(delay)
            .unwrap_or(jiff::Timestamp::MAX);
        let tracking_id = uuid::Uuid::new_v4().to_string();
        self.requests.push(SherwebRequest {
            tracking_id: tracking_id.clone(),
            kind,
            customer_id: customer_id.to_owned(),
            lines,
            due,
            done: false,
            deltas,
        });
        tracking_id
    }
}

impl Sherweb {
    /// A simulator seeded with `seed`, reporting provisioned seats to `hook`.
    pub fn new(seed: SherwebSeed, hook: Arc<dyn SeatHook>) -> Self {
        let subscriptions = seed
            .subscriptions
            .iter()
            .cloned()
            .map(|s| {
                let id = if s.id.is_empty() {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    s.id.clone()
                };
                (id.clone(), SherwebSubscription { id, ..s })
            })
            .collect();
        let faults = Faults::new("sherweb", seed.faults.clone(), fault_body);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                seed,
                subscriptions,
                requests: Vec::new(),
                tokens: HashMap::new(),
                clock: Clock(Arc::new(jiff::Timestamp::now)),
                epoch: jiff::Timestamp::now(),
            })),
            hook,
            faults,
        }
    }

    /// Reads the time from `clock` (the local runtime's virtual clock).
    pub fn with_clock(self, clock: impl Fn() -> jiff::Timestamp + Send + Sync + 'static) -> Self {
        {
            let mut inner = self.lock();
            inner.clock = Clock(Arc::new(clock));
            inner.epoch = inner.now();
        }
        self
    }

    /// The fault injector.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Every subscription.
    pub fn subscriptions(&self) -> Vec<SherwebSubscription> {
        self.lock().subscriptions.values().cloned().collect()
    }

    /// Every accepted order and amendment, oldest first.
    pub fn requests(&self) -> Vec<SherwebRequest> {
        self.lock().requests.clone()
    }

    /// Reports every request that fell due to the hook; returns how many.
    pub fn provision_due(&self) -> usize {
        let changes = {
            let mut inner = self.lock();
            let now = inner.now();
            let mut changes = Vec::new();
            let Inner {
                seed,
                subscriptions,
                requests,
                ..
            } = &mut *inner;
            for request in requests.iter_mut().filter(|r| !r.done && r.due <= now) {
                request.done = true;
                let tenant = seed
                    .customers
                    .iter()
                    .find(|c| c.id == request.customer_id)
                    .and_then(|c| c.microsoft_tenant.clone());
                for ((subscription_id, sku, _), delta) in request.lines.iter().zip(&request.deltas)
                {
                    let part = seed
                        .catalog
                        .iter()
                        .find(|i| i.sku == *sku)
                        .and_then(|i| i.sku_part_number.clone());
                    changes.push(SeatChange {
                        company_id: request.customer_id.clone(),
                        microsoft_tenant: tenant.clone(),
                        product_id: sku.clone(),
                        sku_part_number: part,
                        subscription_id: subscription_id.clone(),
                        delta: *delta,
                        quantity: subscriptions.get(subscription_id).map_or(0, |s| s.quantity),
                    });
                }
            }
            changes
        };
        for change in &changes {
            self.hook.seats_changed(change);
        }
        changes.len()
    }

    /// Customers, subscriptions and tracked requests in Sherweb's field names,
    /// for `GET /sandbox/state`.
    pub fn state_json(&self) -> Value {
        let inner = self.lock();
        let (epoch, now) = (inner.epoch, inner.now());
        json!({
            "customers": inner.seed.customers.iter().map(customer_json).collect::<Vec<_>>(),
            "subscriptions": inner.subscriptions.values().map(|s| subscription_json(&inner.seed, s, epoch, now)).collect::<Vec<_>>(),
            "requests": inner.requests.iter().map(tracking_json).collect::<Vec<_>>(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The Sherweb API, to be nested at `/sandbox/sherweb`.
pub fn router(sim: Sherweb) -> Router {
    let api = Router::new()
        .route("/auth/oidc/connect/token", post(token))
        .route("/service-provider/v1/customers", get(customers))
        .route(
            "/service-provider/v1/customer-catalogs/{customer}",
            get(catalog),
        )
        .route(
            "/service-provider/v1/billing/subscriptions/details",
            get(subscription_details),
        )
        .route(
            "/service-provider/v1/billing/subscriptions/amendments",
            post(amend),
        )
        .route("/service-provider/v1/orders", post(order))
        .route("/service-provider/v1/tracking/{id}", get(tracking))
        .with_state(sim.clone());
    sim.faults.layer(api)
}

fn fault_body(fault: Fault) -> Response {
    let status = match fault {
        Fault::Throttle { .. } => 429,
        Fault::ServerError(status) => status.as_u16(),
    };
    (
        [("content-type", "application/problem+json")],
        Json(json!({
            "type": "about:blank",
            "title": if status == 429 { "Too Many Requests" } else { "An unexpected error occurred" },
            "status": status,
        })),
    )
        .into_response()
}

/// A problem-details answer named like Sherweb's client models.
fn problem(status: StatusCode, name: &str, detail: &str, uri: &OriginalUri) -> Response {
    let path = uri.0.path();
    let instance = path
        .find("/service-provider/")
        .map_or(path, |at| &path[at..]);
    (
        status,
        [("content-type", "application/problem+json")],
        Json(json!({
            "type": format!("https://api.sherweb.com/problems/{name}"),
            "title": name,
            "status": status.as_u16(),
            "detail": detail,
            "instance": instance,
        })),
    )
        .into_response()
}

async fn token(State(sim): State<Sherweb>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let mut inner = sim.lock();
    let known = inner.seed.clients.iter().any(|c| {
        Some(&c.client_id) == form.get("client_id")
            && Some(&c.client_secret) == form.get("client_secret")
    });
    if !known {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if form.get("scope").map(String::as_str) != Some("service-provider") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_scope"})),
        )
            .into_response();
    }
    let token = format!("sandbox-sherweb-{}", uuid::Uuid::new_v4().simple());
    let lifetime = inner.seed.token_lifetime_seconds;
    let expires = inner
        .now()
        .checked_add(jiff::SignedDuration::from_secs(
            i64::try_from(lifetime).unwrap_or(i64::MAX),
        ))
        .unwrap_or(jiff::Timestamp::MAX);
    inner.tokens.insert(token.clone(), expires);
    Json(json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}))
        .into_response()
}

/// The gateway's subscription key, then the bearer token; due seats first.
#[allow(
    clippy::result_large_err,
    reason = "an early-return HTTP answer of a simulator handler"
)]
fn authorize(
    sim: &Sherweb,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(), Response> {
    sim.provision_due();
    let inner = sim.lock();
    let key = headers
        .get("ocp-apim-subscription-key")
        .and_then(|v| v.to_str().ok())
        .or(query.get("subscription-key").map(String::as_str));
    let Some(key) = key else {
        return Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."})),
        )
            .into_response());
    };
    if !inner.seed.subscription_keys.iter().any(|k| k == key) {
        return Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"statusCode": 401, "message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."})),
        )
            .into_response());
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token.and_then(|t| inner.tokens.get(t)) {
        Some(expires) if *expires > inner.now() => Ok(()),
        _ => Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"type": "about:blank", "title": "Unauthorized", "status": 401})),
        )
            .into_response()),
    }
}

fn customer_json(c: &SherwebCustomer) -> Value {
    json!({"id": c.id, "displayName": c.display_name, "path": [], "suspendedOn": null})
}

fn subscription_json(
    seed: &SherwebSeed,
    s: &SherwebSubscription,
    epoch: jiff::Timestamp,
    now: jiff::Timestamp,
) -> Value {
    let name = seed
        .catalog
        .iter()
        .find(|i| i.sku == s.sku)
        .map_or(s.sku.as_str(), |i| i.name.as_str());
    let commitment = s.current_term(epoch, now).map(|(_, end)| {
        json!({
            "type": s.commitment_term,
            "termEndDate": end.to_string(),
            "renewalConfiguration": {"renewalDate": end.to_string(), "scheduledQuantity": null},
        })
    });
    json!({
        "id": s.id,
        "productName": name,
        "description": name,
        "sku": s.sku,
        "quantity": s.quantity,
        "purchaseDate": s.purchase_date.unwrap_or(epoch).to_string(),
        "commitmentTerm": commitment,
    })
}

fn tracking_json(r: &SherwebRequest) -> Value {
    json!({
        "id": r.tracking_id,
        "type": r.kind,
        "customerId": r.customer_id,
        "status": if r.done { "Success" } else { "Processing" },
        "items": r.lines.iter().map(|(id, sku, q)| json!({"subscriptionId": id, "sku": sku, "quantity": q})).collect::<Vec<_>>(),
    })
}

fn known_customer(inner: &Inner, id: Option<&String>) -> Option<String> {
    let id = id?;
    inner
        .seed
        .customers
        .iter()
        .any(|c| c.id.eq_ignore_ascii_case(id))
        .then(|| id.clone())
}

/// A write's customer (`customerId`, which must exist) and JSON body, or
/// Sherweb's problem answer for either.
#[allow(
    clippy::result_large_err,
    reason = "an early-return HTTP answer of a simulator handler"
)]
fn customer_and_body(
    inner: &Inner,
    query: &HashMap<String, String>,
    body: &[u8],
    uri: &OriginalUri,
) -> Result<(String, Value), Response> {
    let Some(customer) = known_customer(inner, query.get("customerId")) else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "CustomerNotFound",
            "The customer was not found.",
            uri,
        ));
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Malformed JSON.",
            uri,
        ));
    };
    Ok((customer, body))
}

async fn customers(
    State(sim): State<Sherweb>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &query) {
        return denied;
    }
    let inner = sim.lock();
    Json(json!({"items": inner.seed.customers.iter().map(customer_json).collect::<Vec<_>>()}))
        .into_response()
}

async fn catalog(
    State(sim): State<Sherweb>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(customer): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &query) {
        return denied;
    }
    let inner = sim.lock();
    if known_customer(&inner, Some(&customer)).is_none() {
        return problem(
            StatusCode::NOT_FOUND,
            "CustomerNotFound",
            "The customer was not found.",
            &uri,
        );
    }
    let items: Vec<Value> = inner
        .seed
        .catalog
        .iter()
        .map(|i| json!({"sku": i.sku, "name": i.name, "description": i.name, "billingCycle": "Monthly", "commitmentTerm": i.commitment_term}))
        .collect();
    Json(json!({"catalogItems": items})).into_response()
}

async fn subscription_details(
    State(sim): State<Sherweb>,
    headers: HeaderMap,
    uri: OriginalUri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &query) {
        return denied;
    }
    let inner = sim.lock();
    let Some(customer) = known_customer(&inner, query.get("customerId")) else {
        return problem(
            StatusCode::NOT_FOUND,
            "CustomerNotFound",
            "The customer was not found.",
            &uri,
        );
    };
    let (epoch, now) = (inner.epoch, inner.now());
    let items: Vec<Value> = inner
        .subscriptions
        .values()
        .filter(|s| s.customer_id.eq_ignore_ascii_case(&customer))
        .map(|s| subscription_json(&inner.seed, s, epoch, now))
        .collect();
    Json(json!({"items": items})).into_response()
}

async fn amend(
    State(sim): State<Sherweb>,
    headers: HeaderMap,
    uri: OriginalUri,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &query) {
        return denied;
    }
    let mut inner = sim.lock();
    let (customer, body) = match customer_and_body(&inner, &query, &body, &uri) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Some(lines) = body["subscriptionAmendmentParameters"].as_array() else {
        return problem(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "subscriptionAmendmentParameters is required.",
            &uri,
        );
    };
    let (epoch, now) = (inner.epoch, inner.now());
    // Validate every line before changing anything.
    let mut changes = Vec::new();
    for line in lines {
        let (Some(id), Some(quantity)) = (
            line["subscriptionId"].as_str(),
            line["newQuantity"]
                .as_u64()
                .and_then(|q| u32::try_from(q).ok()),
        ) else {
            return problem(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Each amendment needs subscriptionId and newQuantity.",
                &uri,
            );
        };
        let Some(s) = inner
            .subscriptions
            .get(id)
            .filter(|s| s.customer_id.eq_ignore_ascii_case(&customer))
        else {
            return problem(
                StatusCode::NOT_FOUND,
                "SubscriptionNotFound",
                &format!("Subscription {id} was not found for this customer."),
                &uri,
            );
        };
        if quantity < s.quantity
            && s.current_term(epoch, now)
                .is_some_and(|(start, _)| now.duration_since(start) > DECREASE_WINDOW)
        {
            return problem(
                StatusCode::BAD_REQUEST,
                "CommitmentTermViolations",
                "The quantity cannot be decreased because it is on a commitment. Please contact us to have it adjusted. A penalty may apply.",
                &uri,
            );
        }
        changes.push((
            s.id.clone(),
            s.sku.clone(),
            quantity,
            i64::from(quantity) - i64::from(s.quantity),
        ));
    }
    for (id, _, quantity, _) in &changes {
        if let Some(s) = inner.subscriptions.get_mut(id) {
            s.quantity = *quantity;
        }
    }
    let (lines, deltas) = changes
        .into_iter()
        .map(|(id, sku, q, d)| ((id, sku, q), d))
        .unzip();
    let tracking = inner.track("Amendment", &customer, lines, deltas);
    Json(json!({
        "subscriptionsAmendmentId": uuid::Uuid::new_v4().to_string(),
        "trackingId": {"requestTrackingId": tracking},
    }))
    .into_response()
}

async fn order(
    State(sim): State<Sherweb>,
    headers: HeaderMap,
    uri: OriginalUri,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &query) {
        return denied;
    }
    let mut inner = sim.lock();
    let (customer, body) = match customer_and_body(&inner, &query, &body, &uri) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let items = body["cartItems"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "CartItemsCannotBeEmpty",
            "The cart items cannot be empty.",
            &uri,
        );
    }
    let mut wanted = Vec::new();
    for item in &items {
        let sku = item["sku"].as_str().unwrap_or_default();
        let quantity = item["quantity"]
            .as_u64()
            .and_then(|q| u32::try_from(q).ok())
            .unwrap_or(0);
        let Some(catalog) = inner.seed.catalog.iter().find(|i| i.sku == sku) else {
            return problem(
                StatusCode::BAD_REQUEST,
                "SkusNotFound",
                &format!("The SKU {sku} was not found."),
                &uri,
            );
        };
        if quantity == 0 {
            return problem(
                StatusCode::BAD_REQUEST,
                "ProductQuantityConstraintsViolations",
                "The quantity must be at least 1.",
                &uri,
            );
        }
        wanted.push((
            catalog.sku.clone(),
            catalog.commitment_term.clone(),
            quantity,
        ));
    }
    let now = inner.now();
    let mut lines = Vec::new();
    let mut deltas = Vec::new();
    for (sku, commitment_term, quantity) in wanted {
        let id = uuid::Uuid::new_v4().to_string();
        inner.subscriptions.insert(
            id.clone(),
            SherwebSubscription {
                id: id.clone(),
                customer_id: customer.clone(),
                sku: sku.clone(),
                quantity,
                commitment_term,
                purchase_date: Some(now),
            },
        );
        lines.push((id, sku, quantity));
        deltas.push(i64::from(quantity));
    }
    let tracking = inner.track("Order", &customer, lines, deltas);
    Json(json!({"requestTrackingId": tracking})).into_response()
}

async fn tracking(
    State(sim): State<Sherweb>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &query) {
        return denied;
    }
    let inner = sim.lock();
    match inner.requests.iter().find(|r| r.tracking_id == id) {
        Some(r) => Json(tracking_json(r)).into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "TrackingNotFound",
            "The tracking id was not found.",
            &uri,
        ),
    }
}
