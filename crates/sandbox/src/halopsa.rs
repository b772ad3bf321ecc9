//! HaloPSA simulator at `/sandbox/halopsa/auth/token` and `/sandbox/halopsa/api/...`: client-credentials tokens with tenant, array bodies, actions, statuses.
//!
//! Answers like a Halo instance: `POST /api/Tickets` and `POST /api/Actions`
//! take a JSON array (an element with an `id` updates), answer with the
//! object; lists come as `{"record_count", "tickets"|"actions"}` with Halo's
//! `pageinate` spelling. The token endpoint answers OAuth errors
//! (`{"error": "invalid_client"}`); the API answers 401 to a missing, unknown
//! or expired token.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::faults::{Fault, FaultSettings, Faults};
use crate::psa_book::{OnTicket, TicketBook};

const AUTH: &str = "/sandbox/halopsa/auth";
const API: &str = "/sandbox/halopsa/api";

/// The simulated instance: the `[sandbox.halopsa]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HaloSeed {
    /// When set, the token call must carry `?tenant=` with this value (Halo-hosted instances).
    pub tenant: Option<String>,
    /// API applications allowed to get tokens.
    pub applications: Vec<HaloApplication>,
    /// Lifetime of issued tokens.
    pub token_lifetime_seconds: u64,
    /// Ticket statuses.
    pub statuses: Vec<HaloRef>,
    /// Ticket priorities.
    pub priorities: Vec<HaloRef>,
    /// Teams tickets are assigned to.
    pub teams: Vec<HaloRef>,
    /// Clients (customers).
    pub clients: Vec<HaloRef>,
    /// Ticket fields required beyond `summary` and `client_id` (e.g. `"category_1"`).
    pub required_fields: Vec<String>,
    /// Tickets present from the start.
    pub tickets: Vec<HaloSeedTicket>,
    /// Fault injection.
    pub faults: FaultSettings,
}

/// An API application's client credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaloApplication {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
}

/// An id and a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaloRef {
    /// The id.
    pub id: u64,
    /// The name.
    pub name: String,
}

/// A ticket present from the start, by names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaloSeedTicket {
    /// The id.
    pub id: u64,
    /// The summary.
    pub summary: String,
    /// The client id.
    pub client_id: u64,
    /// Status name.
    pub status: String,
    /// Priority name.
    pub priority: String,
    /// Team name.
    pub team: String,
}

fn named(id: u64, name: &str) -> HaloRef {
    HaloRef {
        id,
        name: name.into(),
    }
}

impl Default for HaloSeed {
    fn default() -> Self {
        Self {
            tenant: Some("onboard".into()),
            applications: vec![HaloApplication {
                client_id: "onboard-sandbox".into(),
                client_secret: "sandbox-secret".into(),
            }],
            token_lifetime_seconds: 3600,
            statuses: vec![
                named(1, "New"),
                named(2, "In Progress"),
                named(3, "Action Required"),
                named(4, "Waiting on User"),
                named(9, "Closed"),
            ],
            priorities: vec![
                named(1, "Critical"),
                named(2, "High"),
                named(3, "Medium"),
                named(4, "Low"),
            ],
            teams: vec![named(1, "Service Desk"), named(2, "Projects")],
            clients: vec![named(12, "Acme Corporation")],
            required_fields: Vec::new(),
            tickets: Vec::new(),
            faults: FaultSettings::default(),
        }
    }
}

/// A ticket as the simulator holds it, in Halo's field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HaloTicket {
    /// Every field (`id`, `summary`, `details`, `client_id`, `status_id`, `priority_id`, `team`, ...).
    pub fields: Map<String, Value>,
}

impl HaloTicket {
    /// An integer field.
    pub fn number(&self, field: &str) -> Option<u64> {
        self.fields.get(field).and_then(Value::as_u64)
    }

    /// A text field.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(Value::as_str)
    }
}

/// An action (note) on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HaloAction {
    /// The action id.
    pub id: u64,
    /// The ticket.
    pub ticket_id: u64,
    /// The outcome, e.g. `"Private Note"`.
    pub outcome: String,
    /// The note text.
    pub note: String,
    /// Hidden from the end user (a private note).
    pub hidden_from_user: bool,
    /// Whether an e-mail was asked for.
    pub send_email: bool,
}

impl OnTicket for HaloAction {
    fn ticket_id(&self) -> u64 {
        self.ticket_id
    }
}

#[derive(Debug)]
struct HaloState {
    seed: HaloSeed,
    /// The tickets and their actions (the book's notes).
    book: TicketBook<HaloTicket, HaloAction>,
    tokens: HashMap<String, Instant>,
}

/// The simulator: its state, shared by the router and by tests.
#[derive(Debug, Clone)]
pub struct HaloSim {
    state: Arc<Mutex<HaloState>>,
    faults: Faults,
}

fn bad_request(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(Value::String(message.into()))).into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

impl HaloSim {
    /// An instance seeded from `seed`; a seed ticket with an unknown name is an
    /// error naming it.
    pub fn new(seed: HaloSeed) -> Result<Self, String> {
        let mut tickets = BTreeMap::new();
        for t in &seed.tickets {
            let id_of = |list: &[HaloRef], name: &str, what: &str| {
                list.iter()
                    .find(|r| r.name == name)
                    .map(|r| r.id)
                    .ok_or_else(|| format!("ticket {}: no {what} '{name}'", t.id))
            };
            let fields = json!({
                "id": t.id,
                "summary": t.summary,
                "details": "",
                "client_id": t.client_id,
                "status_id": id_of(&seed.statuses, &t.status, "status")?,
                "priority_id": id_of(&seed.priorities, &t.priority, "priority")?,
                "team": seed.teams.iter().find(|r| r.name == t.team).map(|r| r.name.clone())
                    .ok_or_else(|| format!("ticket {}: no team '{}'", t.id, t.team))?,
            });
            if let Value::Object(fields) = fields {
                tickets.insert(t.id, HaloTicket { fields });
            }
        }
        let next_ticket = tickets.keys().max().map_or(2000, |max| max + 1).max(2000);
        let faults = Faults::new("halopsa", seed.faults.clone(), |fault| match fault {
            Fault::Throttle { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response()
            }
            Fault::ServerError(status) => {
                (status, Json(json!({"message": "An error has occurred."}))).into_response()
            }
        });
        Ok(Self {
            state: Arc::new(Mutex::new(HaloState {
                seed,
                book: TicketBook::new(tickets, next_ticket),
                tokens: HashMap::new(),
            })),
            faults,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HaloState> {
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

    /// Every ticket with Halo's field names, each with its actions under
    /// `notes` (as `GET /api/Actions?ticket_id=` lists them), for `GET /sandbox/state`.
    pub fn state_json(&self) -> Value {
        let state = self.lock();
        let tickets: Vec<Value> = state
            .book
            .tickets
            .iter()
            .map(|(id, t)| {
                let mut ticket = Value::Object(t.fields.clone());
                ticket["notes"] = state
                    .book
                    .notes
                    .iter()
                    .filter(|a| a.ticket_id == *id)
                    .map(action_json)
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
    pub fn tickets(&self) -> Vec<HaloTicket> {
        self.lock().book.all_tickets()
    }

    /// One ticket.
    pub fn ticket(&self, id: u64) -> Option<HaloTicket> {
        self.lock().book.tickets.get(&id).cloned()
    }

    /// The actions of one ticket, oldest first.
    pub fn actions(&self, ticket_id: u64) -> Vec<HaloAction> {
        self.lock().book.notes_of(ticket_id)
    }

    /// Makes every issued token invalid, as a revoked application would.
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// How many tokens were issued and are still held.
    pub fn tokens_issued(&self) -> usize {
        self.lock().tokens.len()
    }

    /// The path of the instance root (API under `api/`, auth under `auth/`).
    pub fn base_path(&self) -> &'static str {
        "/sandbox/halopsa"
    }
}

/// The simulator's routes at their full paths, with token checks and fault injection.
pub fn router(sim: &HaloSim) -> Router {
    let api = Router::new()
        .route(
            &format!("{API}/Tickets"),
            get(list_tickets).post(post_tickets),
        )
        .route(&format!("{API}/Tickets/{{id}}"), get(get_ticket))
        .route(
            &format!("{API}/Actions"),
            get(list_actions).post(post_actions),
        )
        .route(
            &format!("{API}/Status"),
            get(|s| lookup(s, |seed| &seed.statuses)),
        )
        .route(
            &format!("{API}/Priority"),
            get(|s| lookup(s, |seed| &seed.priorities)),
        )
        .route(
            &format!("{API}/Team"),
            get(|s| lookup(s, |seed| &seed.teams)),
        )
        .route(
            &format!("{API}/Client"),
            get(|s| lookup(s, |seed| &seed.clients)),
        )
        .route_layer(middleware::from_fn_with_state(sim.clone(), authenticate))
        .route(&format!("{AUTH}/token"), post(token))
        .with_state(sim.clone());
    sim.faults.layer(api)
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

async fn token(
    State(sim): State<HaloSim>,
    Query(query): Query<BTreeMap<String, String>>,
    Form(form): Form<TokenForm>,
) -> Response {
    let mut state = sim.lock();
    if let Some(tenant) = &state.seed.tenant
        && query.get("tenant") != Some(tenant)
    {
        return oauth_error(
            "invalid_request",
            "The tenant parameter is missing or unknown.",
        );
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            "unsupported_grant_type",
            "Only client_credentials is supported.",
        );
    }
    let known = state.seed.applications.iter().any(|a| {
        Some(a.client_id.as_str()) == form.client_id.as_deref()
            && Some(a.client_secret.as_str()) == form.client_secret.as_deref()
    });
    if !known {
        return oauth_error("invalid_client", "The client credentials are not valid.");
    }
    let value: String = (0..32)
        .map(|_| char::from(b'a' + rand::rng().random_range(0..26u8)))
        .collect();
    let lifetime = state.seed.token_lifetime_seconds;
    state.tokens.insert(
        value.clone(),
        Instant::now() + Duration::from_secs(lifetime),
    );
    Json(json!({
        "access_token": value,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": form.scope.unwrap_or_else(|| "all".into()),
    }))
    .into_response()
}

async fn authenticate(State(sim): State<HaloSim>, request: Request, next: Next) -> Response {
    sim.record(&request);
    let valid = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| {
            sim.lock()
                .tokens
                .get(token.trim())
                .is_some_and(|expiry| Instant::now() < *expiry)
        });
    if !valid {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    next.run(request).await
}

async fn lookup(State(sim): State<HaloSim>, pick: fn(&HaloSeed) -> &Vec<HaloRef>) -> Response {
    let state = sim.lock();
    let list: Vec<Value> = pick(&state.seed)
        .iter()
        .map(|r| json!({"id": r.id, "name": r.name}))
        .collect();
    Json(list).into_response()
}

async fn get_ticket(State(sim): State<HaloSim>, Path(id): Path<String>) -> Response {
    match id
        .parse::<u64>()
        .ok()
        .and_then(|n| sim.lock().book.tickets.get(&n).cloned())
    {
        Some(ticket) => Json(Value::Object(ticket.fields)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(Value::String(format!("Ticket {id} not found"))),
        )
            .into_response(),
    }
}

async fn list_tickets(
    State(sim): State<HaloSim>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let search = query.get("search").map(|s| s.to_lowercase());
    let client = query.get("client_id").and_then(|c| c.parse::<u64>().ok());
    let state = sim.lock();
    let open_only = query.get("open_only").is_some_and(|v| v == "true");
    let closed: Vec<u64> = state
        .seed
        .statuses
        .iter()
        .filter(|s| s.name.eq_ignore_ascii_case("closed"))
        .map(|s| s.id)
        .collect();
    let matching: Vec<Value> = state
        .book
        .tickets
        .values()
        .filter(|t| {
            search.as_ref().is_none_or(|s| {
                t.text("summary")
                    .is_some_and(|summary| summary.to_lowercase().contains(s))
            })
        })
        .filter(|t| client.is_none_or(|c| t.number("client_id") == Some(c)))
        .filter(|t| !open_only || !t.number("status_id").is_some_and(|s| closed.contains(&s)))
        .map(|t| Value::Object(t.fields.clone()))
        .collect();
    let total = matching.len();
    // Halo spells it "pageinate"; without it, everything comes back.
    let page = if query.get("pageinate").is_some_and(|v| v == "true") {
        let size = query
            .get("page_size")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(50)
            .max(1);
        let number = query
            .get("page_no")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        matching
            .into_iter()
            .skip((number - 1).saturating_mul(size))
            .take(size)
            .collect()
    } else {
        matching
    };
    Json(json!({"record_count": total, "tickets": page})).into_response()
}

/// Returns the single element of an array body, or the message of Halo's 400.
fn single_element(body: Option<Json<Value>>) -> Result<Map<String, Value>, &'static str> {
    match body {
        Some(Json(Value::Array(mut items))) if items.len() == 1 => match items.swap_remove(0) {
            Value::Object(object) => Ok(object),
            _ => Err("Each element must be an object."),
        },
        Some(Json(Value::Array(_))) => {
            Err("This simulator accepts exactly one element per request.")
        }
        _ => Err("The request body must be a JSON array of objects."),
    }
}

async fn post_tickets(State(sim): State<HaloSim>, body: Option<Json<Value>>) -> Response {
    let element = match single_element(body) {
        Ok(element) => element,
        Err(message) => return bad_request(message),
    };
    let mut state = sim.lock();
    let seed = &state.seed;
    let valid_ref = |field: &str, list: &[HaloRef]| {
        element
            .get(field)
            .is_none_or(|v| v.as_u64().is_some_and(|id| list.iter().any(|r| r.id == id)))
    };
    if !valid_ref("status_id", &seed.statuses) {
        return bad_request("Invalid status_id.");
    }
    if !valid_ref("priority_id", &seed.priorities) {
        return bad_request("Invalid priority_id.");
    }
    if let Some(team) = element.get("team")
        && !team
            .as_str()
            .is_some_and(|t| seed.teams.iter().any(|r| r.name.eq_ignore_ascii_case(t)))
    {
        return bad_request(format!("Team {team} does not exist."));
    }
    if let Some(id) = element.get("id").filter(|v| !v.is_null()) {
        let Some(id) = id.as_u64() else {
            return bad_request("Invalid id.");
        };
        let Some(ticket) = state.book.tickets.get_mut(&id) else {
            return (
                StatusCode::NOT_FOUND,
                Json(Value::String(format!("Ticket {id} not found"))),
            )
                .into_response();
        };
        for (field, value) in element {
            ticket.fields.insert(field, value);
        }
        return Json(Value::Object(ticket.fields.clone())).into_response();
    }
    let text = |f: &str| {
        element
            .get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    if text("summary").is_empty() {
        return bad_request("Please enter a summary.");
    }
    match element.get("client_id").and_then(Value::as_u64) {
        Some(client) if seed.clients.iter().any(|c| c.id == client) => {}
        Some(client) => return bad_request(format!("Client {client} does not exist.")),
        None => return bad_request("Please select a client."),
    }
    for field in &seed.required_fields {
        let missing = match element.get(field) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if missing {
            return bad_request(format!("{field} is a mandatory field."));
        }
    }
    let default_status = seed.statuses.first().map_or(1, |s| s.id);
    let id = state.book.next_ticket;
    state.book.next_ticket += 1;
    let mut fields = element;
    fields.insert("id".into(), json!(id));
    fields.entry("status_id").or_insert(json!(default_status));
    state.book.tickets.insert(
        id,
        HaloTicket {
            fields: fields.clone(),
        },
    );
    (StatusCode::CREATED, Json(Value::Object(fields))).into_response()
}

fn action_json(a: &HaloAction) -> Value {
    json!({
        "id": a.id,
        "ticket_id": a.ticket_id,
        "outcome": a.outcome,
        "note": a.note,
        "hiddenfromuser": a.hidden_from_user,
        "sendemail": a.send_email,
    })
}

async fn list_actions(
    State(sim): State<HaloSim>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let Some(ticket_id) = query.get("ticket_id").and_then(|t| t.parse::<u64>().ok()) else {
        return bad_request("ticket_id is required.");
    };
    let actions: Vec<Value> = sim.actions(ticket_id).iter().map(action_json).collect();
    Json(json!({"record_count": actions.len(), "actions": actions})).into_response()
}

async fn post_actions(State(sim): State<HaloSim>, body: Option<Json<Value>>) -> Response {
    let element = match single_element(body) {
        Ok(element) => element,
        Err(message) => return bad_request(message),
    };
    let mut state = sim.lock();
    let Some(ticket_id) = element
        .get("ticket_id")
        .and_then(Value::as_u64)
        .filter(|t| state.book.tickets.contains_key(t))
    else {
        return bad_request("Please select a valid ticket.");
    };
    let text = |f: &str| {
        element
            .get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if text("note").trim().is_empty() {
        return bad_request("Please enter a note.");
    }
    if let Some(status) = element.get("new_status").and_then(Value::as_u64) {
        if !state.seed.statuses.iter().any(|s| s.id == status) {
            return bad_request("Invalid new_status.");
        }
        if let Some(ticket) = state.book.tickets.get_mut(&ticket_id) {
            ticket.fields.insert("status_id".into(), json!(status));
        }
    }
    let flag = |f: &str| element.get(f).and_then(Value::as_bool).unwrap_or(false);
    let action = HaloAction {
        id: state.book.next_note,
        ticket_id,
        outcome: text("outcome"),
        note: text("note"),
        hidden_from_user: flag("hiddenfromuser"),
        send_email: flag("sendemail"),
    };
    state.book.next_note += 1;
    let answer = action_json(&action);
    state.book.notes.push(action);
    (StatusCode::CREATED, Json(answer)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_tickets_with_an_unknown_status_are_refused_by_name() {
        let seed = HaloSeed {
            tickets: vec![HaloSeedTicket {
                id: 1,
                summary: "x".into(),
                client_id: 12,
                status: "Parked".into(),
                priority: "Low".into(),
                team: "Service Desk".into(),
            }],
            ..HaloSeed::default()
        };

        let err = HaloSim::new(seed).unwrap_err();

        assert!(err.contains("Parked"), "{err}");
    }

    #[test]
    fn an_update_body_must_be_an_array_of_one_object() {
        assert!(single_element(Some(Json(json!({"id": 1})))).is_err());
        assert!(single_element(Some(Json(json!([1])))).is_err());
        assert_eq!(
            single_element(Some(Json(json!([{"id": 1}])))).unwrap()["id"],
            1
        );
    }

    #[test]
    fn a_partial_seed_keeps_the_defaults_and_an_unknown_setting_is_refused() {
        let seed: HaloSeed =
            serde_json::from_str(r#"{"tenant": null, "required_fields": ["category_1"]}"#).unwrap();
        let typo = serde_json::from_str::<HaloSeed>(r#"{"requierd_fields": []}"#);

        assert_eq!(seed.tenant, None);
        assert_eq!(seed.teams, HaloSeed::default().teams);
        assert!(typo.unwrap_err().to_string().contains("requierd_fields"));
    }
}
