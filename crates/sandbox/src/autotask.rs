//! Autotask simulator at `/sandbox/autotask/atservicesrest/v1.0/...`: integration-code headers, picklists, filter queries, PATCH with the id in the body, the hourly request budget.
//!
//! Answers like an Autotask zone: `{"item": ...}` for one record,
//! `{"items": [...], "pageDetails": {...}}` for queries, `{"itemId": n}` for a
//! create, and failures as `{"errors": ["..."]}` — refused writes with HTTP 500,
//! as Autotask documents. The tenant's request budget is shared by everything
//! that calls it: past half of it, answers slow down; past all of it, 429.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::header::HOST;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::faults::{Fault, FaultSettings, Faults};
use crate::psa_book::{OnTicket, TicketBook};

const PREFIX: &str = "/sandbox/autotask/atservicesrest";
const ROOT: &str = "/sandbox/autotask/atservicesrest/v1.0";
/// The entities this simulator serves queries and field information for.
const ENTITIES: [&str; 3] = ["Tickets", "TicketNotes", "Companies"];
/// Autotask answers at most 500 records per page.
const MAX_RECORDS: usize = 500;

/// The simulated tenant: the `[sandbox.autotask]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutotaskSeed {
    /// API users allowed in.
    pub credentials: Vec<AtCredential>,
    /// Companies tickets may be opened for.
    pub companies: Vec<AtCompany>,
    /// The `status` picklist.
    pub statuses: Vec<AtPick>,
    /// The `status` value that completes a ticket (sets `completedDate`).
    pub complete_status: u64,
    /// The `priority` picklist.
    pub priorities: Vec<AtPick>,
    /// The `queueID` picklist.
    pub queues: Vec<AtPick>,
    /// The ticket notes' `noteType` picklist.
    pub note_types: Vec<AtPick>,
    /// The ticket notes' `publish` picklist.
    pub note_publish: Vec<AtPick>,
    /// Ticket fields required beyond `companyID`, `title`, `status` and
    /// `priority` (e.g. `"issueType"`, `"dueDateTime"`).
    pub required_fields: Vec<String>,
    /// Whether note titles are required (a ticket-category setting in Autotask).
    pub note_title_required: bool,
    /// Tickets present from the start.
    pub tickets: Vec<AtSeedTicket>,
    /// Requests the tenant may make in a rolling hour (Autotask: 10,000).
    pub requests_per_hour: u32,
    /// Latency added when the budget is used up; it grows from zero at half
    /// the budget to this at the limit.
    pub slowdown_ms: u64,
    /// Fault injection.
    pub faults: FaultSettings,
}

/// One API user's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtCredential {
    /// `ApiIntegrationCode`.
    pub integration_code: String,
    /// `UserName`.
    pub username: String,
    /// `Secret`.
    pub secret: String,
}

/// A company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtCompany {
    /// The company id.
    pub id: u64,
    /// The company name.
    pub name: String,
}

/// One picklist value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtPick {
    /// The integer stored on records.
    pub value: u64,
    /// The label a technician sees.
    pub label: String,
    /// Inactive values are listed but refused on writes.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A ticket present from the start; picklist fields by label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtSeedTicket {
    /// The id.
    pub id: u64,
    /// The title.
    pub title: String,
    /// The company id.
    pub company_id: u64,
    /// Status label.
    pub status: String,
    /// Priority label.
    pub priority: String,
    /// Queue label.
    pub queue: String,
}

fn pick(value: u64, label: &str) -> AtPick {
    AtPick {
        value,
        label: label.into(),
        active: true,
    }
}

impl Default for AutotaskSeed {
    fn default() -> Self {
        Self {
            credentials: vec![AtCredential {
                integration_code: "ONBOARDSANDBOX".into(),
                username: "api@onboard.test".into(),
                secret: "sandbox-secret".into(),
            }],
            companies: vec![AtCompany {
                id: 174,
                name: "Acme Corporation".into(),
            }],
            statuses: vec![
                pick(1, "New"),
                pick(8, "In Progress"),
                pick(7, "Waiting Customer"),
                pick(5, "Complete"),
            ],
            complete_status: 5,
            priorities: vec![
                pick(4, "Critical"),
                pick(1, "High"),
                pick(2, "Medium"),
                pick(3, "Low"),
            ],
            queues: vec![pick(8, "Client Portal"), pick(29683481, "Service Desk")],
            note_types: vec![
                pick(1, "Task Detail"),
                pick(2, "Task Notes"),
                pick(3, "Task Summary"),
            ],
            note_publish: vec![pick(1, "All Autotask Users"), pick(2, "Internal Only")],
            required_fields: Vec::new(),
            note_title_required: true,
            tickets: Vec::new(),
            requests_per_hour: 10_000,
            slowdown_ms: 0,
            faults: FaultSettings::default(),
        }
    }
}

/// What the budget says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Answer, after this added latency (zero below half the budget).
    Go(Duration),
    /// Refuse with 429; the oldest counted request leaves the window after this.
    Refuse(Duration),
}

/// The tenant's rolling-hour request budget.
#[derive(Debug, Clone)]
pub struct Budget {
    limit: u32,
    slowdown: Duration,
    /// Admission times within the last hour, oldest first.
    window: VecDeque<Instant>,
}

impl Budget {
    const HOUR: Duration = Duration::from_secs(3600);

    /// A budget of `limit` requests per rolling hour.
    pub fn new(limit: u32, slowdown: Duration) -> Self {
        Self {
            limit,
            slowdown,
            window: VecDeque::new(),
        }
    }

    /// Counts a request at `now` if the budget allows it.
    pub fn admit(&mut self, now: Instant) -> Admission {
        while self
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Self::HOUR)
        {
            self.window.pop_front();
        }
        let used = u32::try_from(self.window.len()).unwrap_or(u32::MAX);
        if used >= self.limit {
            let oldest = self.window.front().copied().unwrap_or(now);
            return Admission::Refuse(Self::HOUR.saturating_sub(now.duration_since(oldest)));
        }
        self.window.push_back(now);
        let usage = f64::from(used + 1) / f64::from(self.limit.max(1));
        let delay = if usage > 0.5 {
            self.slowdown.mul_f64(((usage - 0.5) / 0.5).min(1.0))
        } else {
            Duration::ZERO
        };
        Admission::Go(delay)
    }
}

/// A ticket as the simulator holds it: Autotask's field names and values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AtTicket {
    /// Every field, as Autotask would return it (`id`, `title`, `status`, ...).
    pub fields: Map<String, Value>,
}

impl AtTicket {
    /// The id.
    pub fn id(&self) -> u64 {
        self.fields.get("id").and_then(Value::as_u64).unwrap_or(0)
    }

    /// An integer field (`status`, `priority`, `queueID`, `companyID`, ...).
    pub fn number(&self, field: &str) -> Option<u64> {
        self.fields.get(field).and_then(Value::as_u64)
    }

    /// A text field (`title`, `description`, ...).
    pub fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(Value::as_str)
    }
}

/// A ticket note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AtNote {
    /// The note id.
    pub id: u64,
    /// The ticket.
    pub ticket_id: u64,
    /// The title.
    pub title: String,
    /// The text (plain, as Autotask stores it).
    pub description: String,
    /// The `noteType` value.
    pub note_type: u64,
    /// The `publish` value.
    pub publish: u64,
}

impl OnTicket for AtNote {
    fn ticket_id(&self) -> u64 {
        self.ticket_id
    }
}

#[derive(Debug)]
struct AtState {
    seed: AutotaskSeed,
    book: TicketBook<AtTicket, AtNote>,
    budget: Budget,
}

/// The simulator: its state, shared by the router and by tests.
#[derive(Debug, Clone)]
pub struct AutotaskSim {
    state: Arc<Mutex<AtState>>,
    faults: Faults,
}

fn errors(status: StatusCode, messages: &[String]) -> Response {
    (status, Json(json!({ "errors": messages }))).into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    errors(status, &[message.into()])
}

fn value_of(list: &[AtPick], label: &str) -> Option<u64> {
    list.iter().find(|p| p.label == label).map(|p| p.value)
}

impl AutotaskSim {
    /// A tenant seeded from `seed`; a seed ticket with an unknown label is an
    /// error naming it.
    pub fn new(seed: AutotaskSeed) -> Result<Self, String> {
        let mut tickets = BTreeMap::new();
        for t in &seed.tickets {
            let lookup = |list: &[AtPick], label: &str, what: &str| {
                value_of(list, label).ok_or_else(|| format!("ticket {}: no {what} '{label}'", t.id))
            };
            let fields = json!({
                "id": t.id,
                "ticketNumber": format!("T20260101.{:04}", t.id % 10_000),
                "title": t.title,
                "description": "",
                "companyID": t.company_id,
                "status": lookup(&seed.statuses, &t.status, "status")?,
                "priority": lookup(&seed.priorities, &t.priority, "priority")?,
                "queueID": lookup(&seed.queues, &t.queue, "queue")?,
                "completedDate": null,
            });
            if let Value::Object(fields) = fields {
                tickets.insert(t.id, AtTicket { fields });
            }
        }
        let next_ticket = tickets.keys().max().map_or(7000, |max| max + 1).max(7000);
        let budget = Budget::new(
            seed.requests_per_hour,
            Duration::from_millis(seed.slowdown_ms),
        );
        let faults = Faults::new("autotask", seed.faults.clone(), |fault| match fault {
            Fault::Throttle { .. } => error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests. Thread threshold exceeded for this integration.",
            ),
            Fault::ServerError(status) => (status, "Service Unavailable").into_response(),
        });
        Ok(Self {
            state: Arc::new(Mutex::new(AtState {
                seed,
                book: TicketBook::new(tickets, next_ticket),
                budget,
            })),
            faults,
        })
    }

    fn lock(&self) -> MutexGuard<'_, AtState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, request: &Request) {
        self.lock().book.record(request);
    }

    /// `METHOD /path` of every API request that reached the simulator,
    /// authorised or not (injected faults answer before it), oldest first.
    pub fn requests(&self) -> Vec<String> {
        self.lock().book.requests.clone()
    }

    /// Every ticket with Autotask's field names, each with its `notes` (the
    /// `TicketNotes` child collection), for `GET /sandbox/state`.
    pub fn state_json(&self) -> Value {
        let state = self.lock();
        let tickets: Vec<Value> = state
            .book
            .tickets
            .values()
            .map(|t| {
                let mut ticket = Value::Object(t.fields.clone());
                ticket["notes"] = state
                    .book
                    .notes
                    .iter()
                    .filter(|n| n.ticket_id == t.id())
                    .map(note_json)
                    .collect();
                ticket
            })
            .collect();
        json!({ "tickets": tickets })
    }

    /// The fault injector.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Every ticket, by id.
    pub fn tickets(&self) -> Vec<AtTicket> {
        self.lock().book.all_tickets()
    }

    /// One ticket.
    pub fn ticket(&self, id: u64) -> Option<AtTicket> {
        self.lock().book.tickets.get(&id).cloned()
    }

    /// The notes of one ticket, oldest first.
    pub fn notes(&self, ticket_id: u64) -> Vec<AtNote> {
        self.lock().book.notes_of(ticket_id)
    }

    /// The path of the zone's REST root (`.../atservicesrest/`), to configure a client with.
    pub fn zone_path(&self) -> &'static str {
        "/sandbox/autotask/atservicesrest/"
    }
}

/// The simulator's routes at their full paths, with auth, the request budget
/// and fault injection. `zoneInformation` needs no credentials, as in Autotask.
pub fn router(sim: &AutotaskSim) -> Router {
    let mut api = Router::new()
        .route(
            &format!("{ROOT}/Tickets"),
            post(create_ticket).patch(patch_ticket),
        )
        .route(&format!("{ROOT}/Tickets/{{id}}"), get(get_ticket))
        .route(
            &format!("{ROOT}/Tickets/{{id}}/Notes"),
            post(create_note).get(list_child_notes),
        );
    // Static per-entity routes: `Tickets/query` must not be taken for `Tickets/{id}`.
    for entity in ENTITIES {
        api = api
            .route(
                &format!("{ROOT}/{entity}/query"),
                post(move |state, headers, body| query_post(state, entity, headers, body))
                    .get(move |state, headers, query| query_get(state, entity, headers, query)),
            )
            .route(
                &format!("{ROOT}/{entity}/query/next"),
                get(move |state, headers, query| query_next(state, entity, headers, query)),
            )
            .route(
                &format!("{ROOT}/{entity}/entityInformation/fields"),
                get(move |state| fields(state, entity)),
            );
    }
    let api = api
        .route_layer(middleware::from_fn_with_state(sim.clone(), throttle))
        .route_layer(middleware::from_fn_with_state(sim.clone(), authenticate))
        .route(&format!("{ROOT}/zoneInformation"), get(zone_information))
        .with_state(sim.clone());
    sim.faults.layer(api)
}

async fn authenticate(State(sim): State<AutotaskSim>, request: Request, next: Next) -> Response {
    sim.record(&request);
    let (code, user, secret) = {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        (
            header("ApiIntegrationCode"),
            header("UserName"),
            header("Secret"),
        )
    };
    let allowed = sim.lock().seed.credentials.iter().any(|c| {
        c.integration_code == code && c.username.eq_ignore_ascii_case(&user) && c.secret == secret
    });
    if !allowed {
        return error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: the ApiIntegrationCode, UserName or Secret is not valid.",
        );
    }
    next.run(request).await
}

async fn throttle(State(sim): State<AutotaskSim>, request: Request, next: Next) -> Response {
    let (admission, limit) = {
        let mut state = sim.lock();
        let limit = state.seed.requests_per_hour;
        (state.budget.admit(Instant::now()), limit)
    };
    match admission {
        Admission::Go(delay) => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            next.run(request).await
        }
        Admission::Refuse(wait) => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "The request limit of {limit} requests per hour for this database has been exceeded."
                ),
            );
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(wait.as_secs().max(1)));
            response
        }
    }
}

async fn zone_information(
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    if query.get("user").is_none_or(|u| u.trim().is_empty()) {
        return error(StatusCode::BAD_REQUEST, "The user parameter is required.");
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    Json(json!({
        "zoneName": "Sandbox",
        "url": format!("http://{host}{PREFIX}/"),
        "webUrl": format!("http://{host}/sandbox/autotask/"),
        "ci": 0,
    }))
    .into_response()
}

async fn get_ticket(State(sim): State<AutotaskSim>, Path(id): Path<String>) -> Response {
    let item = id.parse::<u64>().ok().and_then(|n| {
        sim.lock()
            .book
            .tickets
            .get(&n)
            .map(|t| Value::Object(t.fields.clone()))
    });
    Json(json!({ "item": item })).into_response()
}

/// Checks a picklist field's value: present in the list and active.
fn check_pick(body: &Map<String, Value>, field: &str, list: &[AtPick], problems: &mut Vec<String>) {
    if let Some(value) = body.get(field).filter(|v| !v.is_null()) {
        let ok = value
            .as_u64()
            .is_some_and(|v| list.iter().any(|p| p.value == v && p.active));
        if !ok {
            problems.push(format!("Invalid value for field {field}: {value}."));
        }
    }
}

async fn create_ticket(State(sim): State<AutotaskSim>, body: Option<Json<Value>>) -> Response {
    let Some(Json(Value::Object(mut body))) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "The request body must be a ticket object.",
        );
    };
    if body.get("id").is_some_and(|id| !id.is_null()) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Cannot create an entity with an id; use PATCH or PUT to update.",
        );
    }
    let mut state = sim.lock();
    let seed = &state.seed;
    let mut problems = Vec::new();
    let required = ["companyID", "title", "status", "priority"];
    for field in required
        .iter()
        .copied()
        .chain(seed.required_fields.iter().map(String::as_str))
    {
        let missing = match body.get(field) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if missing {
            problems.push(format!("Missing Required Field: {field}"));
        }
    }
    if let Some(company) = body.get("companyID").and_then(Value::as_u64)
        && !seed.companies.iter().any(|c| c.id == company)
    {
        problems.push(format!("Invalid value for field companyID: {company}."));
    }
    if body
        .get("title")
        .and_then(Value::as_str)
        .is_some_and(|t| t.chars().count() > 255)
    {
        problems.push("Field title exceeds its maximum length of 255.".into());
    }
    check_pick(&body, "status", &seed.statuses, &mut problems);
    check_pick(&body, "priority", &seed.priorities, &mut problems);
    check_pick(&body, "queueID", &seed.queues, &mut problems);
    if !problems.is_empty() {
        return errors(StatusCode::INTERNAL_SERVER_ERROR, &problems);
    }
    let id = state.book.next_ticket;
    state.book.next_ticket += 1;
    let completed = body.get("status").and_then(Value::as_u64) == Some(state.seed.complete_status);
    body.insert("id".into(), json!(id));
    body.insert(
        "ticketNumber".into(),
        json!(format!("T20260101.{:04}", id % 10_000)),
    );
    body.insert(
        "completedDate".into(),
        if completed {
            json!("2026-01-01T00:00:00.000Z")
        } else {
            Value::Null
        },
    );
    state.book.tickets.insert(id, AtTicket { fields: body });
    Json(json!({ "itemId": id })).into_response()
}

async fn patch_ticket(State(sim): State<AutotaskSim>, body: Option<Json<Value>>) -> Response {
    let Some(Json(Value::Object(body))) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "The request body must be a ticket object.",
        );
    };
    let Some(id) = body.get("id").and_then(Value::as_u64) else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Missing Required Field: id",
        );
    };
    let mut state = sim.lock();
    if !state.book.tickets.contains_key(&id) {
        return error(StatusCode::NOT_FOUND, format!("Ticket {id} was not found."));
    }
    let mut problems = Vec::new();
    check_pick(&body, "status", &state.seed.statuses, &mut problems);
    check_pick(&body, "priority", &state.seed.priorities, &mut problems);
    check_pick(&body, "queueID", &state.seed.queues, &mut problems);
    if !problems.is_empty() {
        return errors(StatusCode::INTERNAL_SERVER_ERROR, &problems);
    }
    let complete = state.seed.complete_status;
    let Some(ticket) = state.book.tickets.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, format!("Ticket {id} was not found."));
    };
    for (field, value) in body {
        ticket.fields.insert(field, value);
    }
    let completed = ticket.number("status") == Some(complete);
    ticket.fields.insert(
        "completedDate".into(),
        if completed {
            json!("2026-01-01T00:00:00.000Z")
        } else {
            Value::Null
        },
    );
    Json(json!({ "itemId": id })).into_response()
}

fn note_json(n: &AtNote) -> Value {
    json!({
        "id": n.id,
        "ticketID": n.ticket_id,
        "title": n.title,
        "description": n.description,
        "noteType": n.note_type,
        "publish": n.publish,
    })
}

async fn create_note(
    State(sim): State<AutotaskSim>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let mut state = sim.lock();
    let Some(ticket_id) = id
        .parse::<u64>()
        .ok()
        .filter(|n| state.book.tickets.contains_key(n))
    else {
        return error(StatusCode::NOT_FOUND, format!("Ticket {id} was not found."));
    };
    let Some(Json(Value::Object(body))) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "The request body must be a note object.",
        );
    };
    let text = |f: &str| {
        body.get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let mut problems = Vec::new();
    let mut required = vec!["description", "noteType", "publish"];
    if state.seed.note_title_required {
        required.push("title");
    }
    for field in required {
        let missing = match body.get(field) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if missing {
            problems.push(format!("Missing Required Field: {field}"));
        }
    }
    check_pick(&body, "noteType", &state.seed.note_types, &mut problems);
    check_pick(&body, "publish", &state.seed.note_publish, &mut problems);
    if !problems.is_empty() {
        return errors(StatusCode::INTERNAL_SERVER_ERROR, &problems);
    }
    let note = AtNote {
        id: state.book.next_note,
        ticket_id,
        title: text("title"),
        description: text("description"),
        note_type: body.get("noteType").and_then(Value::as_u64).unwrap_or(0),
        publish: body.get("publish").and_then(Value::as_u64).unwrap_or(0),
    };
    state.book.next_note += 1;
    let id = note.id;
    state.book.notes.push(note);
    Json(json!({ "itemId": id })).into_response()
}

async fn list_child_notes(State(sim): State<AutotaskSim>, Path(id): Path<String>) -> Response {
    let Some(ticket_id) = id
        .parse::<u64>()
        .ok()
        .filter(|n| sim.lock().book.tickets.contains_key(n))
    else {
        return error(StatusCode::NOT_FOUND, format!("Ticket {id} was not found."));
    };
    let items: Vec<Value> = sim.notes(ticket_id).iter().map(note_json).collect();
    Json(json!({"items": items, "pageDetails": {"count": items.len(), "requestCount": MAX_RECORDS, "prevPageUrl": null, "nextPageUrl": null}})).into_response()
}

/// The records of `entity` as JSON objects, or `None` for an entity this simulator lacks.
fn records(state: &AtState, entity: &str) -> Option<Vec<Value>> {
    match entity {
        "Tickets" => Some(
            state
                .book
                .tickets
                .values()
                .map(|t| Value::Object(t.fields.clone()))
                .collect(),
        ),
        "TicketNotes" => Some(state.book.notes.iter().map(note_json).collect()),
        "Companies" => Some(
            state
                .seed
                .companies
                .iter()
                .map(|c| json!({"id": c.id, "companyName": c.name, "isActive": true}))
                .collect(),
        ),
        _ => None,
    }
}

async fn query_post(
    State(sim): State<AutotaskSim>,
    entity: &'static str,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(search)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "The request body must be a query object.",
        );
    };
    run_query(&sim, entity, &headers, &search, 0)
}

async fn query_get(
    State(sim): State<AutotaskSim>,
    entity: &'static str,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let Some(search) = params
        .get("search")
        .and_then(|s| serde_json::from_str(s).ok())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "The search parameter must be a query object.",
        );
    };
    run_query(&sim, entity, &headers, &search, 0)
}

async fn query_next(
    State(sim): State<AutotaskSim>,
    entity: &'static str,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let search = params
        .get("search")
        .and_then(|s| serde_json::from_str(s).ok());
    let offset = params.get("paging").and_then(|p| p.parse::<usize>().ok());
    let (Some(search), Some(offset)) = (search, offset) else {
        return error(
            StatusCode::BAD_REQUEST,
            "The paging and search parameters are required.",
        );
    };
    run_query(&sim, entity, &headers, &search, offset)
}

fn run_query(
    sim: &AutotaskSim,
    entity: &str,
    headers: &HeaderMap,
    search: &Value,
    offset: usize,
) -> Response {
    let filter = match search.get("filter") {
        Some(Value::Array(items)) if !items.is_empty() => Filter::And(
            match items
                .iter()
                .map(Filter::parse)
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(items) => items,
                Err(message) => return error(StatusCode::INTERNAL_SERVER_ERROR, message),
            },
        ),
        _ => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "A query requires at least one filter expression.",
            );
        }
    };
    let max = search
        .get("MaxRecords")
        .and_then(Value::as_u64)
        .and_then(|m| usize::try_from(m).ok())
        .unwrap_or(MAX_RECORDS)
        .clamp(1, MAX_RECORDS);
    let Some(all) = records(&sim.lock(), entity) else {
        return error(StatusCode::NOT_FOUND, format!("No entity named {entity}."));
    };
    let matching: Vec<Value> = all.into_iter().filter(|r| filter.matches(r)).collect();
    let total = matching.len();
    let items: Vec<Value> = matching.into_iter().skip(offset).take(max).collect();
    let next = (offset + max < total).then(|| {
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("paging", &(offset + max).to_string())
            .append_pair("search", &search.to_string())
            .finish();
        format!("http://{host}{ROOT}/{entity}/query/next?{query}")
    });
    Json(json!({
        "items": items,
        "pageDetails": {"count": items.len(), "requestCount": max, "prevPageUrl": null, "nextPageUrl": next},
    }))
    .into_response()
}

async fn fields(State(sim): State<AutotaskSim>, entity: &'static str) -> Response {
    let state = sim.lock();
    let seed = &state.seed;
    let field = |name: &str, data_type: &str, required: bool, picks: Option<&[AtPick]>| {
        json!({
            "name": name,
            "dataType": data_type,
            "length": 0,
            "isRequired": required,
            "isReadOnly": name == "id",
            "isQueryable": true,
            "isReference": name == "companyID",
            "referenceEntityType": if name == "companyID" { "Company" } else { "" },
            "isPickList": picks.is_some(),
            "picklistValues": picks.map(|list| list.iter().enumerate().map(|(i, p)| json!({
                "value": p.value.to_string(),
                "label": p.label,
                "isDefaultValue": i == 0,
                "sortOrder": i + 1,
                "parentValue": "",
                "isActive": p.active,
                "isSystem": false,
            })).collect::<Vec<_>>()),
            "picklistParentValueField": "",
            "isSupportedWebhookField": false,
        })
    };
    let list = match entity {
        "Tickets" => {
            let mut list = vec![
                field("id", "long", true, None),
                field("companyID", "integer", true, None),
                field("title", "string", true, None),
                field("description", "string", false, None),
                field("status", "integer", true, Some(&seed.statuses)),
                field("priority", "integer", true, Some(&seed.priorities)),
                field(
                    "queueID",
                    "integer",
                    seed.required_fields.iter().any(|f| f == "queueID"),
                    Some(&seed.queues),
                ),
            ];
            for extra in &seed.required_fields {
                if extra != "queueID" {
                    list.push(field(extra, "string", true, None));
                }
            }
            list
        }
        "TicketNotes" => vec![
            field("id", "long", true, None),
            field("ticketID", "integer", true, None),
            field("title", "string", seed.note_title_required, None),
            field("description", "string", true, None),
            field("noteType", "integer", true, Some(&seed.note_types)),
            field("publish", "integer", true, Some(&seed.note_publish)),
        ],
        _ => return error(StatusCode::NOT_FOUND, format!("No entity named {entity}.")),
    };
    Json(json!({ "fields": list })).into_response()
}

/// One query filter expression.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Compare {
        op: String,
        field: String,
        value: Value,
    },
}

impl Filter {
    fn parse(value: &Value) -> Result<Self, String> {
        let op = value
            .get("op")
            .and_then(Value::as_str)
            .ok_or("Each filter expression requires an op.")?
            .to_ascii_lowercase();
        if op == "and" || op == "or" {
            let items = value
                .get("items")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("The {op} operator requires items."))?
                .iter()
                .map(Filter::parse)
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(if op == "and" {
                Filter::And(items)
            } else {
                Filter::Or(items)
            });
        }
        let known = [
            "eq",
            "noteq",
            "gt",
            "gte",
            "lt",
            "lte",
            "beginswith",
            "endswith",
            "contains",
            "exist",
            "notexist",
            "in",
            "notin",
        ];
        if !known.contains(&op.as_str()) {
            return Err(format!("Unknown filter operator {op}."));
        }
        let field = value
            .get("field")
            .and_then(Value::as_str)
            .ok_or("Each filter expression requires a field.")?
            .to_owned();
        Ok(Filter::Compare {
            op,
            field,
            value: value.get("value").cloned().unwrap_or(Value::Null),
        })
    }

    fn matches(&self, record: &Value) -> bool {
        match self {
            Filter::And(items) => items.iter().all(|f| f.matches(record)),
            Filter::Or(items) => items.iter().any(|f| f.matches(record)),
            Filter::Compare { op, field, value } => {
                let actual = record
                    .as_object()
                    .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(field)))
                    .map_or(&Value::Null, |(_, v)| v);
                compare(op, actual, value)
            }
        }
    }
}

fn compare(op: &str, actual: &Value, expected: &Value) -> bool {
    let lower = |v: &Value| match v {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let equal = |a: &Value, e: &Value| match (a.as_f64(), e.as_f64()) {
        (Some(a), Some(e)) => a == e,
        _ => lower(a).is_some() && lower(a) == lower(e),
    };
    match op {
        "eq" => equal(actual, expected),
        "noteq" => !equal(actual, expected),
        "exist" => !actual.is_null(),
        "notexist" => actual.is_null(),
        "in" | "notin" => {
            let hit = expected
                .as_array()
                .is_some_and(|list| list.iter().any(|e| equal(actual, e)));
            hit == (op == "in")
        }
        "gt" | "gte" | "lt" | "lte" => match (actual.as_f64(), expected.as_f64()) {
            (Some(a), Some(e)) => match op {
                "gt" => a > e,
                "gte" => a >= e,
                "lt" => a < e,
                _ => a <= e,
            },
            _ => false,
        },
        _ => match (lower(actual), lower(expected)) {
            (Some(a), Some(e)) => match op {
                "beginswith" => a.starts_with(&e),
                "endswith" => a.ends_with(&e),
                _ => a.contains(&e),
            },
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_slows_down_past_half_and_refuses_past_the_limit() {
        let start = Instant::now();
        let mut budget = Budget::new(4, Duration::from_millis(800));

        let answers: Vec<Admission> = (0..5).map(|_| budget.admit(start)).collect();

        assert_eq!(
            answers,
            vec![
                Admission::Go(Duration::ZERO),
                Admission::Go(Duration::ZERO),
                Admission::Go(Duration::from_millis(400)),
                Admission::Go(Duration::from_millis(800)),
                Admission::Refuse(Duration::from_secs(3600)),
            ]
        );
    }

    #[test]
    fn the_budget_frees_up_as_the_hour_rolls() {
        let start = Instant::now();
        let mut budget = Budget::new(1, Duration::ZERO);
        budget.admit(start);

        let refused = budget.admit(start + Duration::from_secs(600));
        let later = budget.admit(start + Duration::from_secs(3600));

        assert_eq!(refused, Admission::Refuse(Duration::from_secs(3000)));
        assert_eq!(later, Admission::Go(Duration::ZERO));
    }

    #[test]
    fn filters_combine_with_and_and_or_and_compare_case_insensitively() {
        let note = json!({"ticketID": 7, "description": "Done.\n\n[onboard:onb-1:groups]"});
        let hit = Filter::parse(&json!({"op": "and", "items": [
            {"op": "eq", "field": "TicketID", "value": 7},
            {"op": "or", "items": [
                {"op": "contains", "field": "description", "value": "[ONBOARD:onb-1:groups]"},
                {"op": "eq", "field": "ticketID", "value": 8},
            ]},
        ]}))
        .unwrap();
        let miss =
            Filter::parse(&json!({"op": "in", "field": "ticketID", "value": [1, 2]})).unwrap();

        assert!(hit.matches(&note));
        assert!(!miss.matches(&note));
        assert!(Filter::parse(&json!({"op": "like", "field": "x", "value": 1})).is_err());
    }

    #[test]
    fn a_partial_seed_keeps_the_defaults_and_an_unknown_setting_is_refused() {
        let seed: AutotaskSeed =
            serde_json::from_str(r#"{"requests_per_hour": 50, "required_fields": ["issueType"]}"#)
                .unwrap();
        let typo = serde_json::from_str::<AutotaskSeed>(r#"{"requierd_fields": []}"#);

        assert_eq!(seed.requests_per_hour, 50);
        assert_eq!(seed.statuses, AutotaskSeed::default().statuses);
        assert!(typo.unwrap_err().to_string().contains("requierd_fields"));
    }
}
