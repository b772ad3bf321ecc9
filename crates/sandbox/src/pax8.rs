//! Pax8 simulator: token, companies, products, subscriptions and orders, under `/sandbox/pax8/`.
//!
//! Follows the fact sheet (§8): `POST /oauth/token` with a JSON body (client id,
//! secret, `audience`, `grant_type`) answering `{"access_token","expires_in","token_type"}`
//! or 401 `{"error":"access_denied","error_description":"Unauthorized"}`; the
//! partner API under `/v1` with `Authorization: Bearer`, paging by `page` from 0
//! and `size` (default 10, max 200) inside `{"content": [...], "page": {...}}`,
//! `POST /v1/orders` whose line items need `lineItemNumber`, `PUT /v1/subscriptions/{id}`
//! to change the quantity, and Pax8's own error envelope
//! `{"type","message","instance","status","details"}`.
//!
//! Bought seats are not in the tenant at once: each order or quantity rise is
//! provisioned after [`Pax8Seed::provisioning_delay_seconds`], then reported to a
//! [`SeatHook`] (the wiring connects it to the Graph simulator's tenant). Time is
//! virtual: [`Pax8::advance`] moves the clock and provisions what became due,
//! and [`Pax8::spawn_ticker`] does it on real time for `onboard serve`.
//!
//! Commitments (fact sheet §15, Microsoft's new-commerce rule): a subscription
//! with a `commitment_term` renews every term from its `start_date`, and its
//! quantity can be lowered only within 168 hours of the start of the current
//! term (purchase or renewal); later, `PUT /v1/subscriptions/{id}` refuses the
//! decrease with 422. Raising is always allowed. The fields `startDate`,
//! `commitment {term, endDate}` and `commitmentTermEndDate` follow third-party
//! Pax8 payloads; the refusal's wording is not documented anywhere we could
//! read `[?]`. Pax8 documents no way to schedule a decrease for the renewal,
//! so the simulator offers none.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::faults::{Fault, FaultSettings, Faults};

/// Statuses the API accepts as a subscription filter.
const BILLING_TERMS: [&str; 7] = [
    "Monthly",
    "Annual",
    "2-Year",
    "3-Year",
    "One-Time",
    "Trial",
    "Activation",
];

/// The `[sandbox.pax8]` seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pax8Seed {
    /// API credentials (client id and secret) the token endpoint accepts.
    pub clients: Vec<Pax8Credentials>,
    /// Audiences the token endpoint accepts (Pax8's current partner value by default).
    pub audiences: Vec<String>,
    /// Lifetime of an access token.
    pub token_lifetime_seconds: u64,
    /// Companies (the MSP's customers).
    pub companies: Vec<Pax8Company>,
    /// The product catalogue.
    pub products: Vec<Pax8Product>,
    /// Subscriptions that exist before the run.
    pub subscriptions: Vec<Pax8Subscription>,
    /// How long an order or a quantity rise takes to reach the tenant.
    pub provisioning_delay_seconds: u64,
    /// Fault injection.
    pub faults: FaultSettings,
}

impl Default for Pax8Seed {
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            audiences: vec!["https://api.pax8.com".into()],
            token_lifetime_seconds: 86_400,
            companies: Vec::new(),
            products: Vec::new(),
            subscriptions: Vec::new(),
            provisioning_delay_seconds: 120,
            faults: FaultSettings::default(),
        }
    }
}

/// A client id and secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pax8Credentials {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
}

/// A company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pax8Company {
    /// Pax8's id (a UUID is generated when empty).
    #[serde(default)]
    pub id: String,
    /// Its name.
    pub name: String,
    /// The partner's own reference.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Its web site.
    #[serde(default)]
    pub website: Option<String>,
    /// `Active`, `Inactive` or `Deleted`.
    #[serde(default = "active")]
    pub status: String,
    /// Simulator only: the Microsoft tenant (id or domain) its seats land in;
    /// passed to the [`SeatHook`], never shown by the API.
    #[serde(default)]
    pub microsoft_tenant: Option<String>,
}

fn active() -> String {
    "Active".into()
}

/// A product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pax8Product {
    /// Pax8's id (a UUID is generated when empty).
    #[serde(default)]
    pub id: String,
    /// Its name.
    pub name: String,
    /// The vendor, e.g. `Microsoft`.
    #[serde(default = "microsoft")]
    pub vendor_name: String,
    /// Pax8's SKU.
    #[serde(default)]
    pub sku: String,
    /// The vendor's SKU.
    #[serde(default)]
    pub vendor_sku: Option<String>,
    /// Another vendor SKU.
    #[serde(default)]
    pub alt_vendor_sku: Option<String>,
    /// Whether an order needs a `commitmentTermId`.
    #[serde(default)]
    pub requires_commitment: bool,
    /// Simulator only: the Microsoft `skuPartNumber` its seats are (e.g.
    /// `O365_BUSINESS_PREMIUM`); passed to the [`SeatHook`].
    #[serde(default)]
    pub sku_part_number: Option<String>,
}

fn microsoft() -> String {
    "Microsoft".into()
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pax8Subscription {
    /// Pax8's id (a UUID is generated when empty).
    #[serde(default)]
    pub id: String,
    /// The company.
    pub company_id: String,
    /// The product.
    pub product_id: String,
    /// Seats.
    pub quantity: u32,
    /// `Active`, `PendingAutomated`, ...
    #[serde(default = "active")]
    pub status: String,
    /// `Monthly`, `Annual`, ...
    #[serde(default = "monthly")]
    pub billing_term: String,
    /// The commitment term (`Monthly`, `1-Year`, `3-Year`), for new-commerce
    /// subscriptions; `None`: no commitment, decreases always allowed.
    #[serde(default)]
    pub commitment_term: Option<String>,
    /// When the first term began; `None` in a seed: when the simulator started.
    #[serde(default)]
    pub start_date: Option<jiff::Timestamp>,
}

/// How long after the start of a term (purchase or renewal) a decrease is allowed.
pub const DECREASE_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(168);

/// The length of a commitment term, `None` when the word is unknown.
fn term_length(term: &str) -> Option<jiff::Span> {
    match term {
        "Monthly" | "1-Month" => Some(jiff::Span::new().months(1)),
        "Annual" | "1-Year" => Some(jiff::Span::new().years(1)),
        "2-Year" => Some(jiff::Span::new().years(2)),
        "3-Year" => Some(jiff::Span::new().years(3)),
        _ => None,
    }
}

impl Pax8Subscription {
    /// The current term `(start, end)` at `now`, for a committed subscription:
    /// terms follow one another from `start_date` (or `epoch`).
    pub fn current_term(
        &self,
        epoch: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
        let length = term_length(self.commitment_term.as_deref()?)?;
        let utc = jiff::tz::TimeZone::UTC;
        let mut start = self.start_date.unwrap_or(epoch).to_zoned(utc);
        loop {
            let end = start.checked_add(length).ok()?;
            if end.timestamp() > now {
                return Some((start.timestamp(), end.timestamp()));
            }
            start = end;
        }
    }
}

fn monthly() -> String {
    "Monthly".into()
}

/// An accepted order, as kept by the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pax8Order {
    /// The order id.
    pub id: String,
    /// The company.
    pub company_id: String,
    /// `(productId, lineItemNumber, quantity, subscriptionId)` per line.
    pub lines: Vec<(String, u32, u32, String)>,
}

/// Seats that reached (or left) a Microsoft tenant after provisioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatChange {
    /// The Pax8 company.
    pub company_id: String,
    /// The company's Microsoft tenant, from the seed.
    pub microsoft_tenant: Option<String>,
    /// The product.
    pub product_id: String,
    /// The product's Microsoft `skuPartNumber`, from the seed.
    pub sku_part_number: Option<String>,
    /// The subscription.
    pub subscription_id: String,
    /// Seats added (negative: removed).
    pub delta: i64,
    /// The subscription's quantity once this change is in.
    pub quantity: u32,
}

/// Receives provisioned seat changes; the wiring adds them to the Graph
/// simulator's `subscribedSkus`. Called without any simulator lock held.
pub trait SeatHook: Send + Sync + fmt::Debug {
    /// `change` has reached the tenant.
    fn seats_changed(&self, change: &SeatChange);
}

/// A hook that only remembers the changes (tests, or a sandbox without Graph).
#[derive(Debug, Default)]
pub struct RecordingSeatHook {
    changes: Mutex<Vec<SeatChange>>,
}

impl RecordingSeatHook {
    /// The changes seen so far, in order.
    pub fn changes(&self) -> Vec<SeatChange> {
        self.changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl SeatHook for RecordingSeatHook {
    fn seats_changed(&self, change: &SeatChange) {
        self.changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(change.clone());
    }
}

/// The simulator's state handle.
#[derive(Debug, Clone)]
pub struct Pax8 {
    inner: Arc<Mutex<Inner>>,
    hook: Arc<dyn SeatHook>,
    faults: Faults,
}

#[derive(Debug)]
struct Inner {
    seed: Pax8Seed,
    companies: Vec<Pax8Company>,
    products: Vec<Pax8Product>,
    subscriptions: BTreeMap<String, Pax8Subscription>,
    orders: Vec<Pax8Order>,
    tokens: HashMap<String, jiff::Timestamp>,
    tokens_issued: u64,
    pending: Vec<Pending>,
    clock: ClockFn,
    offset: Duration,
    /// When the simulator started: the start date of seeded subscriptions without one.
    epoch: jiff::Timestamp,
}

#[derive(Debug, Clone)]
struct Pending {
    due: jiff::Timestamp,
    subscription_id: String,
    delta: i64,
}

fn new_id(id: String) -> String {
    if id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        id
    }
}

impl Pax8 {
    /// A simulator seeded with `seed`, reporting provisioned seats to `hook`.
    pub fn new(seed: Pax8Seed, hook: Arc<dyn SeatHook>) -> Self {
        let companies = seed
            .companies
            .iter()
            .cloned()
            .map(|c| Pax8Company {
                id: new_id(c.id.clone()),
                ..c
            })
            .collect();
        let products = seed
            .products
            .iter()
            .cloned()
            .map(|p| Pax8Product {
                id: new_id(p.id.clone()),
                ..p
            })
            .collect();
        let subscriptions = seed
            .subscriptions
            .iter()
            .cloned()
            .map(|s| {
                let id = new_id(s.id.clone());
                (id.clone(), Pax8Subscription { id, ..s })
            })
            .collect();
        let faults = Faults::new("pax8", seed.faults.clone(), fault_body);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                seed,
                companies,
                products,
                subscriptions,
                orders: Vec::new(),
                tokens: HashMap::new(),
                tokens_issued: 0,
                pending: Vec::new(),
                clock: ClockFn(Arc::new(jiff::Timestamp::now)),
                offset: Duration::ZERO,
                epoch: jiff::Timestamp::now(),
            })),
            hook,
            faults,
        }
    }

    /// Adds a subscription bought outside Onboard (a test's arrangement, e.g.
    /// one on a commitment term); its seats reach the tenant after the
    /// provisioning delay, as an order's do. Returns its id.
    pub fn add_subscription(&self, subscription: Pax8Subscription) -> String {
        let mut inner = self.lock();
        let id = new_id(subscription.id.clone());
        let quantity = i64::from(subscription.quantity);
        inner.subscriptions.insert(
            id.clone(),
            Pax8Subscription {
                id: id.clone(),
                ..subscription
            },
        );
        inner.schedule(&id, quantity);
        id
    }

    /// Every subscription.
    pub fn subscriptions(&self) -> Vec<Pax8Subscription> {
        self.lock().subscriptions.values().cloned().collect()
    }

    /// Every accepted (non-mock) order, oldest first.
    pub fn orders(&self) -> Vec<Pax8Order> {
        self.lock().orders.clone()
    }

    /// Companies, subscriptions and accepted orders in Pax8's field names, for
    /// `GET /sandbox/state`.
    pub fn state_json(&self) -> Value {
        let inner = self.lock();
        let orders: Vec<Value> = inner
            .orders
            .iter()
            .map(|o| {
                let lines: Vec<Value> = o
                    .lines
                    .iter()
                    .map(|(product_id, number, quantity, subscription_id)| {
                        json!({
                            "productId": product_id,
                            "lineItemNumber": number,
                            "quantity": quantity,
                            "subscriptionId": subscription_id,
                        })
                    })
                    .collect();
                json!({"id": o.id, "companyId": o.company_id, "lineItems": lines})
            })
            .collect();
        json!({
            "companies": inner.companies.iter().map(company_json).collect::<Vec<_>>(),
            "subscriptions": inner.subscriptions.values().map(|s| subscription_json(s, inner.epoch, inner.now())).collect::<Vec<_>>(),
            "orders": orders,
        })
    }

    /// Companies, with their generated ids.
    pub fn companies(&self) -> Vec<Pax8Company> {
        self.lock().companies.clone()
    }

    /// Products, with their generated ids.
    pub fn products(&self) -> Vec<Pax8Product> {
        self.lock().products.clone()
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.lock().tokens_issued
    }

    /// Seat changes accepted but not yet provisioned.
    pub fn pending_changes(&self) -> usize {
        self.lock().pending.len()
    }

    /// The fault injector.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Reads the time from `clock` (the local runtime's virtual clock)
    /// instead of the real one; [`Self::advance`] still adds to it.
    pub fn with_clock(self, clock: impl Fn() -> jiff::Timestamp + Send + Sync + 'static) -> Self {
        {
            let mut inner = self.lock();
            inner.clock = ClockFn(Arc::new(clock));
            inner.epoch = inner.now();
        }
        self
    }

    /// Moves the simulator's clock forward and provisions whatever became due;
    /// returns how many changes reached the tenant.
    pub fn advance(&self, by: Duration) -> usize {
        self.lock().offset += by;
        self.provision_due()
    }

    /// Provisions every change that is due now: the subscription turns
    /// `Active` and the hook hears of the seats. Returns how many.
    pub fn provision_due(&self) -> usize {
        let changes = {
            let mut inner = self.lock();
            let now = inner.now();
            let (due, later): (Vec<Pending>, Vec<Pending>) =
                inner.pending.drain(..).partition(|p| p.due <= now);
            inner.pending = later;
            let mut changes = Vec::new();
            for pending in due {
                let Some(subscription) = inner.subscriptions.get_mut(&pending.subscription_id)
                else {
                    continue;
                };
                if subscription.status.starts_with("Pending") {
                    subscription.status = "Active".into();
                }
                let subscription = subscription.clone();
                let company = inner
                    .companies
                    .iter()
                    .find(|c| c.id == subscription.company_id);
                let product = inner
                    .products
                    .iter()
                    .find(|p| p.id == subscription.product_id);
                changes.push(SeatChange {
                    company_id: subscription.company_id.clone(),
                    microsoft_tenant: company.and_then(|c| c.microsoft_tenant.clone()),
                    product_id: subscription.product_id.clone(),
                    sku_part_number: product.and_then(|p| p.sku_part_number.clone()),
                    subscription_id: subscription.id.clone(),
                    delta: pending.delta,
                    quantity: subscription.quantity,
                });
            }
            changes
        };
        for change in &changes {
            self.hook.seats_changed(change);
        }
        changes.len()
    }

    /// Provisions due changes every `period` on the real clock (for
    /// `onboard serve` without a virtual clock). Abort the handle to stop.
    pub fn spawn_ticker(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let sim = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            loop {
                interval.tick().await;
                sim.provision_due();
            }
        })
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

    fn schedule(&mut self, subscription_id: &str, delta: i64) {
        let delay = jiff::SignedDuration::from_secs(
            i64::try_from(self.seed.provisioning_delay_seconds).unwrap_or(i64::MAX),
        );
        let due = self
            .now()
            .checked_add(delay)
            .unwrap_or(jiff::Timestamp::MAX);
        self.pending.push(Pending {
            due,
            subscription_id: subscription_id.to_owned(),
            delta,
        });
    }
}

/// The Pax8 API, to be nested at `/sandbox/pax8`: `/oauth/token` and `/v1/...`.
pub fn router(sim: Pax8) -> Router {
    let api = Router::new()
        .route("/oauth/token", post(token))
        .route("/v1/companies", get(list_companies))
        .route("/v1/companies/{id}", get(show_company))
        .route("/v1/products", get(list_products))
        .route("/v1/subscriptions", get(list_subscriptions))
        .route(
            "/v1/subscriptions/{id}",
            get(show_subscription).put(update_subscription),
        )
        .route("/v1/orders", post(create_order))
        .with_state(sim.clone());
    sim.faults.layer(api)
}

fn fault_body(fault: Fault) -> Response {
    let (status, kind, message) = match fault {
        Fault::Throttle { .. } => (429, "TOO_MANY_REQUESTS", "Rate limit exceeded"),
        Fault::ServerError(status) => (
            status.as_u16(),
            "INTERNAL_SERVER_ERROR",
            "An unexpected error occurred",
        ),
    };
    Json(json!({"type": kind, "message": message, "instance": "", "status": status, "details": []}))
        .into_response()
}

/// Pax8's error envelope.
fn problem(
    status: StatusCode,
    kind: &str,
    message: &str,
    instance: &str,
    details: Vec<Value>,
) -> Response {
    (
        status,
        Json(json!({
            "type": kind,
            "message": message,
            "instance": instance,
            "status": status.as_u16(),
            "details": details,
        })),
    )
        .into_response()
}

fn instance(uri: &OriginalUri) -> String {
    // The real instance is the path under the API host, e.g. `/v1/orders`.
    let path = uri.0.path();
    path.find("/v1/").map_or(path, |at| &path[at..]).to_owned()
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    audience: Option<String>,
    grant_type: Option<String>,
}

async fn token(State(sim): State<Pax8>, body: Bytes) -> Response {
    let denied = || {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "access_denied", "error_description": "Unauthorized"})),
        )
            .into_response()
    };
    let Ok(request) = serde_json::from_slice::<TokenRequest>(&body) else {
        return denied();
    };
    let mut inner = sim.lock();
    let client_ok = inner.seed.clients.iter().any(|c| {
        Some(&c.client_id) == request.client_id.as_ref()
            && Some(&c.client_secret) == request.client_secret.as_ref()
    });
    let audience_ok = request
        .audience
        .as_ref()
        .is_some_and(|a| inner.seed.audiences.contains(a));
    let grant_ok = request.grant_type.as_deref() == Some("client_credentials");
    if !(client_ok && audience_ok && grant_ok) {
        return denied();
    }
    let token = format!("sandbox-pax8-{}", uuid::Uuid::new_v4().simple());
    let lifetime = inner.seed.token_lifetime_seconds;
    let expires = inner
        .now()
        .checked_add(jiff::SignedDuration::from_secs(
            i64::try_from(lifetime).unwrap_or(i64::MAX),
        ))
        .unwrap_or(jiff::Timestamp::MAX);
    inner.tokens.insert(token.clone(), expires);
    inner.tokens_issued += 1;
    Json(json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}))
        .into_response()
}

/// Checks the bearer token and provisions due changes first, so a client
/// reading after the delay sees the subscription `Active`.
#[allow(
    clippy::result_large_err,
    reason = "an early-return HTTP answer of a simulator handler, built once per refused request"
)]
fn authorize(sim: &Pax8, headers: &HeaderMap, uri: &OriginalUri) -> Result<(), Response> {
    sim.provision_due();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let inner = sim.lock();
    let now = inner.now();
    match token.and_then(|t| inner.tokens.get(t)) {
        Some(expires) if *expires > now => Ok(()),
        _ => Err(problem(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Full authentication is required to access this resource",
            &instance(uri),
            Vec::new(),
        )),
    }
}

/// Pax8's paging: `page` from 0, `size` default 10, at most 200.
fn paged<T: Serialize>(items: Vec<T>, query: &HashMap<String, String>) -> Value {
    let size = query
        .get("size")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 200);
    let number = query
        .get("page")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let total = items.len();
    let content: Vec<T> = items.into_iter().skip(number * size).take(size).collect();
    json!({
        "content": content,
        "page": {"size": size, "totalElements": total, "totalPages": total.div_ceil(size), "number": number}
    })
}

fn company_json(c: &Pax8Company) -> Value {
    json!({
        "id": c.id, "name": c.name, "externalId": c.external_id, "website": c.website,
        "status": c.status, "billOnBehalfOfEnabled": false, "selfServiceAllowed": false,
        "orderApprovalRequired": false,
    })
}

fn product_json(p: &Pax8Product) -> Value {
    json!({
        "id": p.id, "name": p.name, "vendorName": p.vendor_name, "sku": p.sku,
        "vendorSku": p.vendor_sku, "altVendorSku": p.alt_vendor_sku,
        "requiresCommitment": p.requires_commitment,
    })
}

fn subscription_json(s: &Pax8Subscription, epoch: jiff::Timestamp, now: jiff::Timestamp) -> Value {
    let mut json = json!({
        "id": s.id, "companyId": s.company_id, "productId": s.product_id,
        "quantity": s.quantity, "status": s.status, "billingTerm": s.billing_term,
        "startDate": s.start_date.unwrap_or(epoch).to_string(),
    });
    if let (Some(term), Some((start, end))) = (&s.commitment_term, s.current_term(epoch, now)) {
        json["commitment"] = json!({ "term": term, "endDate": end.to_string() });
        json["commitmentTermEndDate"] = json!(end.to_string());
        // Not in the payloads we could read `[?]`: when the current term
        // began, so a client can tell whether the 168 h window is open.
        json["currentTermStartDate"] = json!(start.to_string());
    }
    json
}

async fn list_companies(
    State(sim): State<Pax8>,
    headers: HeaderMap,
    uri: OriginalUri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &uri) {
        return denied;
    }
    let companies: Vec<Value> = sim
        .lock()
        .companies
        .iter()
        .filter(|c| query.get("status").is_none_or(|s| &c.status == s))
        .map(company_json)
        .collect();
    Json(paged(companies, &query)).into_response()
}

async fn show_company(
    State(sim): State<Pax8>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &uri) {
        return denied;
    }
    let found = sim
        .lock()
        .companies
        .iter()
        .find(|c| c.id == id)
        .map(company_json);
    match found {
        Some(company) => Json(company).into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Company not found",
            &instance(&uri),
            Vec::new(),
        ),
    }
}

async fn list_products(
    State(sim): State<Pax8>,
    headers: HeaderMap,
    uri: OriginalUri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &uri) {
        return denied;
    }
    let search = query.get("search").map(|s| s.to_lowercase());
    let products: Vec<Value> = sim
        .lock()
        .products
        .iter()
        .filter(|p| query.get("vendorName").is_none_or(|v| &p.vendor_name == v))
        .filter(|p| {
            search.as_ref().is_none_or(|s| {
                [
                    Some(&p.name),
                    Some(&p.sku),
                    p.vendor_sku.as_ref(),
                    p.alt_vendor_sku.as_ref(),
                ]
                .into_iter()
                .flatten()
                .any(|field| field.to_lowercase().contains(s))
            })
        })
        .map(product_json)
        .collect();
    Json(paged(products, &query)).into_response()
}

async fn list_subscriptions(
    State(sim): State<Pax8>,
    headers: HeaderMap,
    uri: OriginalUri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &uri) {
        return denied;
    }
    let inner = sim.lock();
    let (epoch, now) = (inner.epoch, inner.now());
    let subscriptions: Vec<Value> = inner
        .subscriptions
        .values()
        .filter(|s| query.get("companyId").is_none_or(|c| &s.company_id == c))
        .filter(|s| query.get("productId").is_none_or(|p| &s.product_id == p))
        .filter(|s| query.get("status").is_none_or(|st| &s.status == st))
        .filter(|s| {
            query
                .get("billingTerm")
                .is_none_or(|b| &s.billing_term == b)
        })
        .map(|s| subscription_json(s, epoch, now))
        .collect();
    drop(inner);
    Json(paged(subscriptions, &query)).into_response()
}

async fn show_subscription(
    State(sim): State<Pax8>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &uri) {
        return denied;
    }
    let found = {
        let inner = sim.lock();
        inner
            .subscriptions
            .get(&id)
            .map(|s| subscription_json(s, inner.epoch, inner.now()))
    };
    match found {
        Some(subscription) => Json(subscription).into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Subscription not found",
            &instance(&uri),
            Vec::new(),
        ),
    }
}

fn detail(message: &str, field: &str) -> Value {
    json!({"type": "VALIDATION_ERROR", "message": message, "instance": field, "status": 422})
}

async fn update_subscription(
    State(sim): State<Pax8>,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &uri) {
        return denied;
    }
    let at = instance(&uri);
    let Ok(fields) = serde_json::from_slice::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Malformed JSON request",
            &at,
            Vec::new(),
        );
    };
    let quantity = fields.get("quantity").and_then(Value::as_u64);
    let billing_term = fields.get("billingTerm").and_then(Value::as_str);
    if quantity.is_none()
        && billing_term.is_none()
        && fields.get("price").is_none()
        && fields.get("startDate").is_none()
    {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            "At least one of quantity, price, billingTerm, startDate is required",
            &at,
            Vec::new(),
        );
    }
    let mut inner = sim.lock();
    let (epoch, now) = (inner.epoch, inner.now());
    let Some(subscription) = inner.subscriptions.get_mut(&id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Subscription not found",
            &at,
            Vec::new(),
        );
    };
    if let Some(term) = billing_term {
        if !BILLING_TERMS.contains(&term) {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "Invalid request",
                &at,
                vec![detail("invalid billingTerm", "billingTerm")],
            );
        }
        subscription.billing_term = term.to_owned();
    }
    let mut delta = 0i64;
    if let Some(quantity) = quantity {
        let Ok(quantity) = u32::try_from(quantity) else {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "Invalid request",
                &at,
                vec![detail("quantity is too large", "quantity")],
            );
        };
        if quantity < subscription.quantity
            && subscription
                .current_term(epoch, now)
                .is_some_and(|(start, _)| now.duration_since(start) > DECREASE_WINDOW)
        {
            // The wording is a guess `[?]`; the rule is Microsoft's (fact sheet §15).
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "Invalid request",
                &at,
                vec![detail(
                    "quantity can only be decreased within 168 hours (7 days) of the \
                     purchase or renewal of the commitment term",
                    "quantity",
                )],
            );
        }
        delta = i64::from(quantity) - i64::from(subscription.quantity);
        subscription.quantity = quantity;
    }
    let answer = subscription_json(subscription, epoch, now);
    if delta != 0 {
        inner.schedule(&id, delta);
    }
    Json(answer).into_response()
}

async fn create_order(
    State(sim): State<Pax8>,
    headers: HeaderMap,
    uri: OriginalUri,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&sim, &headers, &uri) {
        return denied;
    }
    let at = instance(&uri);
    let Ok(order) = serde_json::from_slice::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Malformed JSON request",
            &at,
            Vec::new(),
        );
    };
    let is_mock = query.get("isMock").is_some_and(|v| v == "true");
    let mut inner = sim.lock();
    let company_id = order
        .get("companyId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut details = Vec::new();
    if !inner.companies.iter().any(|c| c.id == company_id) {
        details.push(detail("companyId does not match a company", "companyId"));
    }
    let lines = order
        .get("lineItems")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if lines.is_empty() {
        details.push(detail("lineItems must not be empty", "lineItems"));
    }
    let mut accepted = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let field = |name: &str| format!("lineItems[{index}].{name}");
        let product = line
            .get("productId")
            .and_then(Value::as_str)
            .and_then(|id| inner.products.iter().find(|p| p.id == id));
        let number = line
            .get("lineItemNumber")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        let quantity = line
            .get("quantity")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        let term = line.get("billingTerm").and_then(Value::as_str);
        if product.is_none() {
            details.push(detail(
                "productId does not match a product",
                &field("productId"),
            ));
        }
        if number.is_none() {
            details.push(detail(
                "lineItemNumber is required",
                &field("lineItemNumber"),
            ));
        }
        if quantity.is_none_or(|q| q == 0) {
            details.push(detail("quantity must be at least 1", &field("quantity")));
        }
        if term.is_none_or(|t| !BILLING_TERMS.contains(&t)) {
            details.push(detail(
                "billingTerm is required and must be a known term",
                &field("billingTerm"),
            ));
        }
        if product.is_some_and(|p| p.requires_commitment) && line.get("commitmentTermId").is_none()
        {
            details.push(detail(
                "commitmentTermId is required for this product",
                &field("commitmentTermId"),
            ));
        }
        if line
            .get("provisionStartDate")
            .and_then(Value::as_str)
            .is_some_and(|d| d.parse::<jiff::Timestamp>().is_ok_and(|d| d > inner.now()))
        {
            details.push(detail(
                "future-dated orders are not supported",
                &field("provisionStartDate"),
            ));
        }
        if let (Some(product), Some(number), Some(quantity), Some(term)) =
            (product, number, quantity, term)
        {
            // A product that needs a commitment is bought on a new-commerce
            // term as long as its billing term (monthly or yearly).
            let commitment = product.requires_commitment.then(|| match term {
                "Annual" => "1-Year".to_owned(),
                other => other.to_owned(),
            });
            accepted.push((
                product.id.clone(),
                number,
                quantity,
                term.to_owned(),
                commitment,
            ));
        }
    }
    if !details.is_empty() {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            "Invalid request",
            &at,
            details,
        );
    }
    let order_id = uuid::Uuid::new_v4().to_string();
    let created = inner.now();
    let mut line_items = Vec::new();
    let mut kept = Vec::new();
    for (product_id, number, quantity, term, commitment_term) in accepted {
        let subscription_id = uuid::Uuid::new_v4().to_string();
        line_items.push(json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "productId": product_id,
            "subscriptionId": if is_mock { Value::Null } else { json!(subscription_id) },
            "provisionStartDate": created.to_string(),
            "billingTerm": term,
            "quantity": quantity,
            "lineItemNumber": number,
        }));
        if !is_mock {
            inner.subscriptions.insert(
                subscription_id.clone(),
                Pax8Subscription {
                    id: subscription_id.clone(),
                    company_id: company_id.clone(),
                    product_id: product_id.clone(),
                    quantity,
                    status: "PendingAutomated".into(),
                    billing_term: term,
                    commitment_term,
                    start_date: Some(created),
                },
            );
            inner.schedule(&subscription_id, i64::from(quantity));
            kept.push((product_id, number, quantity, subscription_id));
        }
    }
    if !is_mock {
        inner.orders.push(Pax8Order {
            id: order_id.clone(),
            company_id: company_id.clone(),
            lines: kept,
        });
    }
    Json(json!({
        "id": order_id,
        "companyId": company_id,
        "createdDate": created.to_string(),
        "orderedBy": order.get("orderedBy"),
        "orderedByUserEmail": order.get("orderedByUserEmail"),
        "isScheduled": false,
        "lineItems": line_items,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
        [sandbox.pax8]
        provisioning_delay_seconds = 60
        token_lifetime_seconds = 120

        [[sandbox.pax8.clients]]
        client_id = "id"
        client_secret = "secret"

        [[sandbox.pax8.companies]]
        id = "c1"
        name = "Contoso"
        microsoft_tenant = "contoso.onmicrosoft.com"

        [[sandbox.pax8.products]]
        id = "p1"
        name = "Microsoft 365 Business Premium"
        sku = "MST-BP"
        sku_part_number = "O365_BUSINESS_PREMIUM"

        [[sandbox.pax8.subscriptions]]
        id = "s1"
        company_id = "c1"
        product_id = "p1"
        quantity = 5
    "#;

    #[derive(Deserialize)]
    struct Config {
        sandbox: Section,
    }

    #[derive(Deserialize)]
    struct Section {
        pax8: Pax8Seed,
    }

    fn seed() -> Pax8Seed {
        toml::from_str::<Config>(TOML).unwrap().sandbox.pax8
    }

    async fn serve(sim: Pax8) -> String {
        let app = Router::new().nest("/sandbox/pax8", router(sim));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/sandbox/pax8")
    }

    async fn token(base: &str) -> String {
        let body: Value = reqwest::Client::new()
            .post(format!("{base}/oauth/token"))
            .json(&json!({"client_id": "id", "client_secret": "secret",
                          "audience": "https://api.pax8.com", "grant_type": "client_credentials"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn raise_to(base: &str, token: &str, quantity: u32) -> reqwest::StatusCode {
        reqwest::Client::new()
            .put(format!("{base}/v1/subscriptions/s1"))
            .bearer_auth(token)
            .json(&json!({ "quantity": quantity }))
            .send()
            .await
            .unwrap()
            .status()
    }

    #[test]
    fn the_seed_reads_from_the_sandbox_section_of_the_config_file() {
        let seed = seed();

        assert_eq!(seed.provisioning_delay_seconds, 60);
        assert_eq!(seed.audiences, vec!["https://api.pax8.com".to_owned()]);
        assert_eq!(seed.companies[0].status, "Active");
        assert_eq!(seed.products[0].vendor_name, "Microsoft");
        assert_eq!(seed.subscriptions[0].billing_term, "Monthly");
        let typo = TOML.replace("quantity = 5", "quantiy = 5");
        let err = toml::from_str::<Config>(&typo).err().unwrap().to_string();
        assert!(err.contains("quantiy"), "{err}");
    }

    #[tokio::test]
    async fn a_token_past_its_lifetime_is_refused_in_pax8s_envelope() {
        let sim = Pax8::new(seed(), Arc::new(RecordingSeatHook::default()));
        let base = serve(sim.clone()).await;
        let token = token(&base).await;

        sim.advance(Duration::from_secs(121));
        let response = reqwest::Client::new()
            .get(format!("{base}/v1/companies"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "UNAUTHORIZED");
        assert_eq!(body["instance"], "/v1/companies");
    }

    #[tokio::test]
    async fn an_injected_virtual_clock_decides_when_seats_reach_the_tenant() {
        let now = Arc::new(Mutex::new(
            jiff::Timestamp::from_second(2_000_000_000).unwrap(),
        ));
        let clock = now.clone();
        let hook = Arc::new(RecordingSeatHook::default());
        let sim = Pax8::new(seed(), hook.clone()).with_clock(move || *clock.lock().unwrap());
        let base = serve(sim.clone()).await;
        let token = token(&base).await;

        let status = raise_to(&base, &token, 7).await;
        let early = sim.provision_due();
        *now.lock().unwrap() += jiff::SignedDuration::from_secs(60);
        let due = sim.provision_due();

        assert_eq!(status, 200);
        assert_eq!((early, due), (0, 1));
        let change = &hook.changes()[0];
        assert_eq!(change.delta, 2);
        assert_eq!(change.quantity, 7);
        assert_eq!(
            change.sku_part_number.as_deref(),
            Some("O365_BUSINESS_PREMIUM")
        );
        assert_eq!(
            change.microsoft_tenant.as_deref(),
            Some("contoso.onmicrosoft.com")
        );
    }

    #[tokio::test]
    async fn lowering_the_quantity_reports_a_negative_change() {
        let hook = Arc::new(RecordingSeatHook::default());
        let sim = Pax8::new(seed(), hook.clone());
        let base = serve(sim.clone()).await;
        let token = token(&base).await;

        raise_to(&base, &token, 3).await;
        sim.advance(Duration::from_secs(60));

        assert_eq!(hook.changes()[0].delta, -2);
    }

    // Paused Tokio time: the ticker's interval and the waits below advance
    // virtually, so the test spends no real time.
    #[tokio::test(start_paused = true)]
    async fn the_ticker_provisions_on_its_own_once_changes_are_due() {
        let hook = Arc::new(RecordingSeatHook::default());
        let sim = Pax8::new(
            Pax8Seed {
                provisioning_delay_seconds: 0,
                ..seed()
            },
            hook.clone(),
        );
        let base = serve(sim.clone()).await;
        let token = token(&base).await;
        raise_to(&base, &token, 6).await;

        let ticker = sim.spawn_ticker(Duration::from_millis(5));
        for _ in 0..20 {
            if !hook.changes().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ticker.abort();

        assert_eq!(hook.changes().len(), 1);
        assert_eq!(sim.pending_changes(), 0);
    }
}
