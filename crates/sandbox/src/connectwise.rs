//! ConnectWise Manage simulator at `/sandbox/connectwise/{codebase}/apis/3.0/...`: Basic auth, `clientId`, JSON Patch, `conditions`, `Link` paging.
//!
//! Answers like a ConnectWise site: tickets with `{id, name}` references, notes
//! with their flags, boards with their own statuses, priorities and companies;
//! errors as `{"code", "message", "errors": [{"code", "message", "resource",
//! "field"}]}`; wrong keys or a missing `clientId` as 401.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{OriginalUri, Path, Query, Request, State};
use axum::http::header::{AUTHORIZATION, HOST, LINK};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::faults::{Fault, FaultSettings, Faults};
use crate::psa_book::{OnTicket, TicketBook};

/// The simulated site's configuration: the `[sandbox.connectwise]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectWiseSeed {
    /// The codebase in the path, e.g. `v4_6_release`.
    pub codebase: String,
    /// API members allowed in.
    pub credentials: Vec<CwCredential>,
    /// `clientId` values accepted; ConnectWise refuses calls without one.
    pub client_ids: Vec<String>,
    /// Service boards, each with its statuses.
    pub boards: Vec<CwBoard>,
    /// Ticket priorities.
    pub priorities: Vec<CwRef>,
    /// Companies tickets may be opened for.
    pub companies: Vec<CwCompany>,
    /// Tickets that exist before anything runs.
    pub tickets: Vec<CwSeedTicket>,
    /// Ticket fields this site requires beyond `summary` and `company`
    /// (e.g. `"type"`, `"contact"`); a create without them is refused.
    pub required_fields: Vec<String>,
    /// Records per page when a request gives no `pageSize` (ConnectWise: 25).
    pub default_page_size: usize,
    /// Fault injection.
    pub faults: FaultSettings,
}

/// One API member's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CwCredential {
    /// The company id signed in with.
    pub company_id: String,
    /// The public key.
    pub public_key: String,
    /// The private key.
    pub private_key: String,
}

/// An id and a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CwRef {
    /// The id.
    pub id: u64,
    /// The name.
    pub name: String,
}

/// A service board and its statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CwBoard {
    /// The board id.
    pub id: u64,
    /// The board name.
    pub name: String,
    /// The board's statuses; the first is the default for new tickets.
    pub statuses: Vec<CwStatus>,
}

/// A board status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CwStatus {
    /// The status id (unique across boards, as in ConnectWise).
    pub id: u64,
    /// The status name.
    pub name: String,
    /// Whether a ticket in this status is closed.
    #[serde(default)]
    pub closed: bool,
}

/// A company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CwCompany {
    /// The company id.
    pub id: u64,
    /// The short identifier, e.g. `ACME`.
    pub identifier: String,
    /// The full name.
    pub name: String,
}

/// A ticket present from the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CwSeedTicket {
    /// The ticket id.
    pub id: u64,
    /// The summary.
    pub summary: String,
    /// The company identifier.
    pub company: String,
    /// The board name.
    pub board: String,
    /// The status name on that board.
    pub status: String,
    /// The priority name.
    pub priority: String,
}

impl Default for ConnectWiseSeed {
    fn default() -> Self {
        let status = |id, name: &str, closed| CwStatus {
            id,
            name: name.into(),
            closed,
        };
        Self {
            codebase: "v4_6_release".into(),
            credentials: vec![CwCredential {
                company_id: "onboard".into(),
                public_key: "sandbox-public".into(),
                private_key: "sandbox-private".into(),
            }],
            client_ids: vec!["onboard-sandbox".into()],
            boards: vec![
                CwBoard {
                    id: 1,
                    name: "Service Desk".into(),
                    statuses: vec![
                        status(16, "New", false),
                        status(17, "In Progress", false),
                        status(18, "Waiting Customer", false),
                        status(19, "Completed", true),
                    ],
                },
                CwBoard {
                    id: 2,
                    name: "Projects".into(),
                    statuses: vec![status(26, "New", false), status(29, "Closed", true)],
                },
            ],
            priorities: vec![
                CwRef {
                    id: 1,
                    name: "Priority 1 - Emergency Response".into(),
                },
                CwRef {
                    id: 3,
                    name: "Priority 3 - Normal Response".into(),
                },
                CwRef {
                    id: 4,
                    name: "Priority 4 - Schedule Maintenance".into(),
                },
            ],
            companies: vec![CwCompany {
                id: 250,
                identifier: "ACME".into(),
                name: "Acme Corporation".into(),
            }],
            tickets: Vec::new(),
            required_fields: Vec::new(),
            default_page_size: 25,
            faults: FaultSettings::default(),
        }
    }
}

/// A ticket as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CwTicket {
    /// The id.
    pub id: u64,
    /// The summary.
    pub summary: String,
    /// The company.
    pub company: CwCompany,
    /// The board.
    pub board: CwRef,
    /// The status.
    pub status: CwRef,
    /// The priority.
    pub priority: CwRef,
    /// Whether the status is a closed one.
    pub closed: bool,
    /// `externalXRef`, if set.
    pub external_x_ref: Option<String>,
    /// `initialDescription` as posted (ConnectWise does not echo it).
    pub initial_description: Option<String>,
    /// Any other fields posted, as given.
    pub other_fields: Map<String, Value>,
}

/// A ticket note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CwNote {
    /// The note id.
    pub id: u64,
    /// The ticket it belongs to.
    pub ticket_id: u64,
    /// The text.
    pub text: String,
    /// Shown in the ticket's discussion.
    pub detail_description_flag: bool,
    /// Internal analysis (technicians only).
    pub internal_analysis_flag: bool,
    /// Resolution.
    pub resolution_flag: bool,
}

impl OnTicket for CwNote {
    fn ticket_id(&self) -> u64 {
        self.ticket_id
    }
}

#[derive(Debug)]
struct CwState {
    seed: ConnectWiseSeed,
    book: TicketBook<CwTicket, CwNote>,
}

/// The simulator: its state, shared by the router and by tests that inspect it.
#[derive(Debug, Clone)]
pub struct ConnectWiseSim {
    state: Arc<Mutex<CwState>>,
    faults: Faults,
}

/// An error answer in ConnectWise's shape.
fn cw_error(status: StatusCode, code: &str, message: &str, errors: Vec<Value>) -> Response {
    let mut body = json!({"code": code, "message": message});
    if !errors.is_empty() {
        body["errors"] = Value::Array(errors);
    }
    (status, Json(body)).into_response()
}

fn invalid_ticket(errors: Vec<Value>) -> Response {
    cw_error(
        StatusCode::BAD_REQUEST,
        "InvalidObject",
        "ticket object is invalid",
        errors,
    )
}

fn field_error(code: &str, field: &str, message: String) -> Value {
    json!({"code": code, "message": message, "resource": "ticket", "field": field})
}

impl ConnectWiseSim {
    /// A site seeded from `seed`. Seed tickets naming an unknown company, board,
    /// status or priority are an error naming the ticket and the bad name.
    pub fn new(seed: ConnectWiseSeed) -> Result<Self, String> {
        let mut tickets = BTreeMap::new();
        for t in &seed.tickets {
            let company = find_company(&seed, &t.company)
                .ok_or_else(|| format!("ticket {}: no company '{}'", t.id, t.company))?;
            let board = seed
                .boards
                .iter()
                .find(|b| b.name == t.board)
                .ok_or_else(|| format!("ticket {}: no board '{}'", t.id, t.board))?;
            let status = board
                .statuses
                .iter()
                .find(|s| s.name == t.status)
                .ok_or_else(|| format!("ticket {}: no status '{}' on its board", t.id, t.status))?;
            let priority = seed
                .priorities
                .iter()
                .find(|p| p.name == t.priority)
                .ok_or_else(|| format!("ticket {}: no priority '{}'", t.id, t.priority))?;
            tickets.insert(
                t.id,
                CwTicket {
                    id: t.id,
                    summary: t.summary.clone(),
                    company: company.clone(),
                    board: CwRef {
                        id: board.id,
                        name: board.name.clone(),
                    },
                    status: CwRef {
                        id: status.id,
                        name: status.name.clone(),
                    },
                    priority: priority.clone(),
                    closed: status.closed,
                    external_x_ref: None,
                    initial_description: None,
                    other_fields: Map::new(),
                },
            );
        }
        let next_ticket = tickets.keys().max().map_or(1000, |max| max + 1).max(1000);
        let faults = Faults::new("connectwise", seed.faults.clone(), |fault| match fault {
            Fault::Throttle { .. } => cw_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Rate limit exceeded, retry later",
                vec![],
            ),
            Fault::ServerError(status) => cw_error(
                status,
                "UnexpectedServerError",
                "An unexpected error has occurred",
                vec![],
            ),
        });
        Ok(Self {
            state: Arc::new(Mutex::new(CwState {
                seed,
                book: TicketBook::new(tickets, next_ticket),
            })),
            faults,
        })
    }

    fn lock(&self) -> MutexGuard<'_, CwState> {
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

    /// The fault injector, to change rates at run time.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Every ticket, by id.
    pub fn tickets(&self) -> Vec<CwTicket> {
        self.lock().book.all_tickets()
    }

    /// One ticket.
    pub fn ticket(&self, id: u64) -> Option<CwTicket> {
        self.lock().book.tickets.get(&id).cloned()
    }

    /// The notes of one ticket, oldest first.
    pub fn notes(&self, ticket_id: u64) -> Vec<CwNote> {
        self.lock().book.notes_of(ticket_id)
    }

    /// Every ticket as `GET /service/tickets/{id}` answers it, each with its
    /// `notes` as `GET .../notes` lists them, for `GET /sandbox/state`.
    pub fn state_json(&self) -> Value {
        let state = self.lock();
        let tickets: Vec<Value> = state
            .book
            .tickets
            .values()
            .map(|t| {
                let mut ticket = ticket_json(t);
                ticket["notes"] = state
                    .book
                    .notes
                    .iter()
                    .filter(|n| n.ticket_id == t.id)
                    .map(note_json)
                    .collect();
                ticket
            })
            .collect();
        json!({ "tickets": tickets })
    }

    /// The path prefix everything is served under.
    pub fn base_path(&self) -> String {
        format!(
            "/sandbox/connectwise/{}/apis/3.0",
            self.lock().seed.codebase
        )
    }
}

/// The simulator's routes, at their full paths, with auth and fault injection.
pub fn router(sim: &ConnectWiseSim) -> Router {
    let base = sim.base_path();
    let api = Router::new()
        .route(
            &format!("{base}/service/tickets"),
            get(list_tickets).post(create_ticket),
        )
        .route(
            &format!("{base}/service/tickets/{{id}}"),
            get(get_ticket).patch(patch_ticket),
        )
        .route(
            &format!("{base}/service/tickets/{{id}}/notes"),
            get(list_notes).post(create_note),
        )
        .route(&format!("{base}/service/boards"), get(list_boards))
        .route(
            &format!("{base}/service/boards/{{id}}/statuses"),
            get(list_statuses),
        )
        .route(&format!("{base}/service/priorities"), get(list_priorities))
        .route(&format!("{base}/company/companies"), get(list_companies))
        .route_layer(middleware::from_fn_with_state(sim.clone(), authenticate))
        .with_state(sim.clone());
    sim.faults.layer(api)
}

async fn authenticate(State(sim): State<ConnectWiseSim>, request: Request, next: Next) -> Response {
    sim.record(&request);
    let headers = request.headers();
    let client_id = headers
        .get("clientId")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let member = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let (client_ok, member_ok) = {
        let state = sim.lock();
        let client_ok = !client_id.is_empty()
            && (state.seed.client_ids.is_empty() || state.seed.client_ids.contains(&client_id));
        let member_ok = member.as_deref().is_some_and(|m| {
            state
                .seed
                .credentials
                .iter()
                .any(|c| m == format!("{}+{}:{}", c.company_id, c.public_key, c.private_key))
        });
        (client_ok, member_ok)
    };
    if member.is_none() {
        return cw_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Authorization has been denied for this request",
            vec![],
        );
    }
    if !member_ok {
        return cw_error(
            StatusCode::UNAUTHORIZED,
            "ConnectWiseApi",
            "UserNotAuthenticated",
            vec![],
        );
    }
    if !client_ok {
        return cw_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "A valid clientId header is required",
            vec![],
        );
    }
    next.run(request).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ListQuery {
    page: Option<usize>,
    page_size: Option<usize>,
    conditions: Option<String>,
}

/// Answers one page of `items` with ConnectWise's `Link` header.
fn page(
    sim: &ConnectWiseSim,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    query: &ListQuery,
    items: Vec<Value>,
) -> Response {
    let default_size = sim.lock().seed.default_page_size.max(1);
    let size = query.page_size.unwrap_or(default_size).clamp(1, 1000);
    let page = query.page.unwrap_or(1).max(1);
    let last = items.len().div_ceil(size).max(1);
    let body: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .collect();
    let mut links = Vec::new();
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    if let Ok(mut url) = url::Url::parse(&format!("http://{host}{uri}")) {
        let mut link = |n: usize, rel: &str| {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("page"))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("page", &n.to_string());
            links.push(format!("<{url}>; rel=\"{rel}\""));
        };
        if page > 1 {
            link(page - 1, "prev");
            link(1, "first");
        }
        if page < last {
            link(page + 1, "next");
            link(last, "last");
        }
    }
    let mut response = Json(body).into_response();
    if !links.is_empty()
        && let Ok(value) = HeaderValue::from_str(&links.join(", "))
    {
        response.headers_mut().insert(LINK, value);
    }
    response
}

fn ticket_json(t: &CwTicket) -> Value {
    let mut value = json!({
        "id": t.id,
        "summary": t.summary,
        "company": {"id": t.company.id, "identifier": t.company.identifier, "name": t.company.name},
        "board": {"id": t.board.id, "name": t.board.name},
        "status": {"id": t.status.id, "name": t.status.name},
        "priority": {"id": t.priority.id, "name": t.priority.name},
        "closedFlag": t.closed,
        "_info": {"notes_href": format!("service/tickets/{}/notes", t.id)},
    });
    if let Some(xref) = &t.external_x_ref {
        value["externalXRef"] = json!(xref);
    }
    value
}

fn note_json(n: &CwNote) -> Value {
    json!({
        "id": n.id,
        "ticketId": n.ticket_id,
        "text": n.text,
        "detailDescriptionFlag": n.detail_description_flag,
        "internalAnalysisFlag": n.internal_analysis_flag,
        "resolutionFlag": n.resolution_flag,
        "internalFlag": n.internal_analysis_flag,
        "externalFlag": n.detail_description_flag,
    })
}

async fn list_tickets(
    State(sim): State<ConnectWiseSim>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let filter = match query
        .conditions
        .as_deref()
        .map(Conditions::parse)
        .transpose()
    {
        Ok(filter) => filter,
        Err(message) => {
            return cw_error(
                StatusCode::BAD_REQUEST,
                "InvalidConditions",
                &message,
                vec![],
            );
        }
    };
    let items: Vec<Value> = sim
        .lock()
        .book
        .tickets
        .values()
        .map(ticket_json)
        .filter(|t| filter.as_ref().is_none_or(|f| f.matches(t)))
        .collect();
    page(&sim, &headers, &uri, &query, items)
}

fn not_found(id: &str) -> Response {
    cw_error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("Ticket with id {id} not found"),
        vec![],
    )
}

async fn get_ticket(State(sim): State<ConnectWiseSim>, Path(id): Path<String>) -> Response {
    let found = id
        .parse::<u64>()
        .ok()
        .and_then(|n| sim.lock().book.tickets.get(&n).map(ticket_json));
    match found {
        Some(ticket) => Json(ticket).into_response(),
        None => not_found(&id),
    }
}

fn find_company<'a>(seed: &'a ConnectWiseSeed, identifier: &str) -> Option<&'a CwCompany> {
    seed.companies
        .iter()
        .find(|c| c.identifier.eq_ignore_ascii_case(identifier))
}

/// Resolves a `{"id": n}` or `{"name": ".."}` reference among `options`.
fn pick_ref<'a, T>(
    value: &Value,
    options: &'a [T],
    id_of: impl Fn(&T) -> u64,
    name_of: impl Fn(&T) -> &str,
) -> Option<&'a T> {
    if let Some(id) = value.get("id").and_then(Value::as_u64) {
        return options.iter().find(|o| id_of(o) == id);
    }
    let name = value.get("name").and_then(Value::as_str)?;
    options
        .iter()
        .find(|o| name_of(o).eq_ignore_ascii_case(name))
}

async fn create_ticket(State(sim): State<ConnectWiseSim>, body: Option<Json<Value>>) -> Response {
    let Some(Json(Value::Object(body))) = body else {
        return invalid_ticket(vec![]);
    };
    let mut state = sim.lock();
    let seed = &state.seed;
    let mut errors = Vec::new();
    let summary = body
        .get("summary")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if summary.trim().is_empty() {
        errors.push(field_error(
            "NullValue",
            "summary",
            "The field summary is required.".into(),
        ));
    } else if summary.chars().count() > 100 {
        errors.push(field_error(
            "InvalidValue",
            "summary",
            "summary must be 100 characters or less.".into(),
        ));
    }
    let company = match body.get("company") {
        None | Some(Value::Null) => {
            errors.push(field_error(
                "NullValue",
                "company",
                "The field company is required.".into(),
            ));
            None
        }
        Some(reference) => {
            let found = match reference.get("identifier").and_then(Value::as_str) {
                Some(identifier) => find_company(seed, identifier),
                None => pick_ref(reference, &seed.companies, |c| c.id, |c| &c.name),
            };
            if found.is_none() {
                errors.push(field_error(
                    "InvalidObject",
                    "company",
                    "Company not found.".into(),
                ));
            }
            found.cloned()
        }
    };
    for field in &seed.required_fields {
        if body.get(field).is_none_or(Value::is_null) {
            errors.push(field_error(
                "NullValue",
                field,
                format!("The field {field} is required."),
            ));
        }
    }
    let board = match body.get("board") {
        Some(reference) => pick_ref(reference, &seed.boards, |b| b.id, |b| &b.name),
        None => seed.boards.first(),
    };
    if board.is_none() {
        errors.push(field_error(
            "InvalidObject",
            "board",
            "Board not found.".into(),
        ));
    }
    let status = board.and_then(|b| match body.get("status") {
        Some(reference) => pick_ref(reference, &b.statuses, |s| s.id, |s| &s.name),
        None => b.statuses.first(),
    });
    if board.is_some() && status.is_none() {
        errors.push(field_error(
            "InvalidObject",
            "status",
            "Status not found on this board.".into(),
        ));
    }
    let priority = match body.get("priority") {
        Some(reference) => pick_ref(reference, &seed.priorities, |p| p.id, |p| &p.name),
        None => seed.priorities.first(),
    };
    if priority.is_none() {
        errors.push(field_error(
            "InvalidObject",
            "priority",
            "Priority not found.".into(),
        ));
    }
    let (Some(company), Some(board), Some(status), Some(priority), true) =
        (company, board, status, priority, errors.is_empty())
    else {
        return invalid_ticket(errors);
    };
    let known = [
        "summary",
        "company",
        "board",
        "status",
        "priority",
        "externalXRef",
        "initialDescription",
    ];
    let ticket = CwTicket {
        id: state.book.next_ticket,
        summary: summary.to_owned(),
        company,
        board: CwRef {
            id: board.id,
            name: board.name.clone(),
        },
        status: CwRef {
            id: status.id,
            name: status.name.clone(),
        },
        priority: priority.clone(),
        closed: status.closed,
        external_x_ref: body
            .get("externalXRef")
            .and_then(Value::as_str)
            .map(str::to_owned),
        initial_description: body
            .get("initialDescription")
            .and_then(Value::as_str)
            .map(str::to_owned),
        other_fields: body
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    state.book.next_ticket += 1;
    let answer = ticket_json(&ticket);
    state.book.tickets.insert(ticket.id, ticket);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn patch_ticket(
    State(sim): State<ConnectWiseSim>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(Value::Array(ops))) = body else {
        return cw_error(
            StatusCode::BAD_REQUEST,
            "InvalidObject",
            "The request body must be a JSON Patch array of operations",
            vec![],
        );
    };
    let mut state = sim.lock();
    let Some(mut ticket) = id
        .parse::<u64>()
        .ok()
        .and_then(|n| state.book.tickets.get(&n).cloned())
    else {
        return not_found(&id);
    };
    for op in &ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_start_matches('/');
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        if !matches!(kind, "replace" | "add") {
            return invalid_ticket(vec![field_error(
                "InvalidOperation",
                path,
                format!("Operation '{kind}' is not supported"),
            )]);
        }
        match path {
            "status" => {
                let Some(board) = state.seed.boards.iter().find(|b| b.id == ticket.board.id) else {
                    return invalid_ticket(vec![]);
                };
                let Some(status) = pick_ref(&value, &board.statuses, |s| s.id, |s| &s.name) else {
                    return invalid_ticket(vec![field_error(
                        "InvalidObject",
                        "status",
                        "Status not found on this board.".into(),
                    )]);
                };
                ticket.status = CwRef {
                    id: status.id,
                    name: status.name.clone(),
                };
                ticket.closed = status.closed;
            }
            "summary" => match value.as_str() {
                Some(s) if !s.trim().is_empty() && s.chars().count() <= 100 => {
                    ticket.summary = s.to_owned();
                }
                _ => {
                    return invalid_ticket(vec![field_error(
                        "InvalidValue",
                        "summary",
                        "summary must be 1 to 100 characters.".into(),
                    )]);
                }
            },
            "priority" => {
                let Some(priority) =
                    pick_ref(&value, &state.seed.priorities, |p| p.id, |p| &p.name)
                else {
                    return invalid_ticket(vec![field_error(
                        "InvalidObject",
                        "priority",
                        "Priority not found.".into(),
                    )]);
                };
                ticket.priority = priority.clone();
            }
            other => {
                ticket.other_fields.insert(other.to_owned(), value);
            }
        }
    }
    let answer = ticket_json(&ticket);
    state.book.tickets.insert(ticket.id, ticket);
    Json(answer).into_response()
}

async fn list_notes(
    State(sim): State<ConnectWiseSim>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let Some(number) = id
        .parse::<u64>()
        .ok()
        .filter(|n| sim.lock().book.tickets.contains_key(n))
    else {
        return not_found(&id);
    };
    let items = sim.notes(number).iter().map(note_json).collect();
    page(&sim, &headers, &uri, &query, items)
}

async fn create_note(
    State(sim): State<ConnectWiseSim>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let mut state = sim.lock();
    let Some(number) = id
        .parse::<u64>()
        .ok()
        .filter(|n| state.book.tickets.contains_key(n))
    else {
        return not_found(&id);
    };
    let Some(Json(Value::Object(body))) = body else {
        return cw_error(
            StatusCode::BAD_REQUEST,
            "InvalidObject",
            "note object is invalid",
            vec![],
        );
    };
    let flag = |name: &str| body.get(name).and_then(Value::as_bool).unwrap_or(false);
    let text = body.get("text").and_then(Value::as_str).unwrap_or_default();
    let note_error = |field: &str, message: &str| {
        cw_error(
            StatusCode::BAD_REQUEST,
            "InvalidObject",
            "note object is invalid",
            vec![
                json!({"code": "NullValue", "message": message, "resource": "note", "field": field}),
            ],
        )
    };
    if text.trim().is_empty() {
        return note_error("text", "The field text is required.");
    }
    let (detail, internal, resolution) = (
        flag("detailDescriptionFlag"),
        flag("internalAnalysisFlag"),
        flag("resolutionFlag"),
    );
    if !(detail || internal || resolution) {
        return note_error(
            "detailDescriptionFlag",
            "At least one of detailDescriptionFlag, internalAnalysisFlag or resolutionFlag must be true.",
        );
    }
    let note = CwNote {
        id: state.book.next_note,
        ticket_id: number,
        text: text.to_owned(),
        detail_description_flag: detail,
        internal_analysis_flag: internal,
        resolution_flag: resolution,
    };
    state.book.next_note += 1;
    let answer = note_json(&note);
    state.book.notes.push(note);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn list_boards(
    State(sim): State<ConnectWiseSim>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let items = sim
        .lock()
        .seed
        .boards
        .iter()
        .map(|b| json!({"id": b.id, "name": b.name, "inactiveFlag": false}))
        .collect();
    page(&sim, &headers, &uri, &query, items)
}

async fn list_statuses(
    State(sim): State<ConnectWiseSim>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let board = id
        .parse::<u64>()
        .ok()
        .and_then(|n| sim.lock().seed.boards.iter().find(|b| b.id == n).cloned());
    let Some(board) = board else {
        return cw_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("Board with id {id} not found"),
            vec![],
        );
    };
    let items = board
        .statuses
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "id": s.id,
                "name": s.name,
                "board": {"id": board.id, "name": board.name},
                "closedStatus": s.closed,
                "defaultFlag": i == 0,
                "inactive": false,
            })
        })
        .collect();
    page(&sim, &headers, &uri, &query, items)
}

async fn list_priorities(
    State(sim): State<ConnectWiseSim>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let items = sim
        .lock()
        .seed
        .priorities
        .iter()
        .map(|p| json!({"id": p.id, "name": p.name}))
        .collect();
    page(&sim, &headers, &uri, &query, items)
}

async fn list_companies(
    State(sim): State<ConnectWiseSim>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let filter = match query
        .conditions
        .as_deref()
        .map(Conditions::parse)
        .transpose()
    {
        Ok(filter) => filter,
        Err(message) => {
            return cw_error(
                StatusCode::BAD_REQUEST,
                "InvalidConditions",
                &message,
                vec![],
            );
        }
    };
    let items = sim
        .lock()
        .seed
        .companies
        .iter()
        .map(|c| json!({"id": c.id, "identifier": c.identifier, "name": c.name}))
        .filter(|c| filter.as_ref().is_none_or(|f| f.matches(c)))
        .collect();
    page(&sim, &headers, &uri, &query, items)
}

/// A parsed `conditions` expression: clauses joined by `and` (the subset a
/// client of this project sends; `or` and parentheses are refused clearly).
#[derive(Debug, Clone, PartialEq)]
struct Conditions(Vec<Clause>);

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    /// A JSON pointer built from the `a/b` field path.
    pointer: String,
    op: String,
    value: Value,
}

impl Conditions {
    fn parse(text: &str) -> Result<Self, String> {
        let mut clauses = Vec::new();
        for part in split_and(text)? {
            clauses.push(Clause::parse(part.trim())?);
        }
        if clauses.is_empty() {
            return Err("conditions: empty expression".into());
        }
        Ok(Self(clauses))
    }

    fn matches(&self, item: &Value) -> bool {
        self.0.iter().all(|c| c.matches(item))
    }
}

/// Splits on ` and ` outside double quotes.
fn split_and(text: &str) -> Result<Vec<String>, String> {
    let mut parts = vec![String::new()];
    let mut in_quotes = false;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            in_quotes = !in_quotes;
        }
        if !in_quotes {
            let rest: String = chars[i..].iter().take(5).collect();
            if rest.eq_ignore_ascii_case(" and ") {
                parts.push(String::new());
                i += 5;
                continue;
            }
            if rest.to_ascii_lowercase().starts_with(" or ") || c == '(' {
                return Err(format!(
                    "conditions: this simulator supports only clauses joined by 'and': {text}"
                ));
            }
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
        i += 1;
    }
    if in_quotes {
        return Err(format!("conditions: unterminated string in {text}"));
    }
    Ok(parts)
}

impl Clause {
    fn parse(text: &str) -> Result<Self, String> {
        let field_end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '/' || c == '_'))
            .unwrap_or(text.len());
        let field = &text[..field_end];
        let rest = text[field_end..].trim_start();
        let ops = [
            "!=",
            "<=",
            ">=",
            "=",
            "<",
            ">",
            "contains ",
            "like ",
            "not like ",
        ];
        let op = ops
            .iter()
            .find(|op| rest.to_ascii_lowercase().starts_with(*op))
            .ok_or_else(|| format!("conditions: no operator after '{field}'"))?;
        let literal = rest[op.len()..].trim();
        let value = if let Some(inner) = literal.strip_prefix('"').and_then(|l| l.strip_suffix('"'))
        {
            Value::String(inner.replace("\\\"", "\""))
        } else if literal.eq_ignore_ascii_case("true") || literal.eq_ignore_ascii_case("false") {
            Value::Bool(literal.eq_ignore_ascii_case("true"))
        } else if let Ok(n) = literal.parse::<f64>() {
            json!(n)
        } else {
            return Err(format!(
                "conditions: cannot read value '{literal}' for '{field}'"
            ));
        };
        if field.is_empty() {
            return Err(format!("conditions: no field in '{text}'"));
        }
        Ok(Self {
            pointer: format!("/{field}"),
            op: op.trim().to_ascii_lowercase(),
            value,
        })
    }

    fn matches(&self, item: &Value) -> bool {
        let actual = item.pointer(&self.pointer).unwrap_or(&Value::Null);
        let text_of = |v: &Value| match v {
            Value::String(s) => Some(s.to_ascii_lowercase()),
            _ => None,
        };
        match self.op.as_str() {
            "=" => equal(actual, &self.value),
            "!=" => !equal(actual, &self.value),
            "contains" => match (text_of(actual), text_of(&self.value)) {
                (Some(a), Some(v)) => a.contains(&v),
                _ => false,
            },
            "like" | "not like" => {
                let hit = match (text_of(actual), text_of(&self.value)) {
                    (Some(a), Some(v)) => like(&a, &v),
                    _ => false,
                };
                hit == (self.op == "like")
            }
            op => match (actual.as_f64(), self.value.as_f64()) {
                (Some(a), Some(v)) => match op {
                    "<" => a < v,
                    "<=" => a <= v,
                    ">" => a > v,
                    ">=" => a >= v,
                    _ => false,
                },
                _ => false,
            },
        }
    }
}

fn equal(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => a.eq_ignore_ascii_case(e),
        (a, e) if a.is_number() && e.is_number() => a.as_f64() == e.as_f64(),
        (a, e) => a == e,
    }
}

/// `like` with `%` or `*` as "any run of characters".
fn like(text: &str, pattern: &str) -> bool {
    let pattern = pattern.replace('*', "%");
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return text == pattern;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(after) = rest.strip_prefix(part) else {
                return false;
            };
            rest = after;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_match_nested_fields_strings_numbers_and_wildcards() {
        let ticket = json!({"id": 7, "summary": "New user: Jane Doe", "board": {"id": 1}, "closedFlag": false});

        let hit = Conditions::parse(
            "board/id=1 and summary like \"New user: Jane%\" and closedFlag=false",
        )
        .unwrap();
        let miss = Conditions::parse("summary contains \"John\"").unwrap();

        assert!(hit.matches(&ticket));
        assert!(!miss.matches(&ticket));
    }

    #[test]
    fn conditions_the_simulator_cannot_evaluate_are_refused_not_ignored() {
        assert!(Conditions::parse("id=1 or id=2").is_err());
        assert!(Conditions::parse("summary=\"open").is_err());
        assert!(Conditions::parse("summary ~ 3").is_err());
    }

    #[test]
    fn seed_tickets_naming_an_unknown_board_are_refused_by_name() {
        let seed = ConnectWiseSeed {
            tickets: vec![CwSeedTicket {
                id: 5,
                summary: "x".into(),
                company: "ACME".into(),
                board: "Nope".into(),
                status: "New".into(),
                priority: "Priority 3 - Normal Response".into(),
            }],
            ..ConnectWiseSeed::default()
        };

        let err = ConnectWiseSim::new(seed).unwrap_err();

        assert!(err.contains("Nope"), "{err}");
    }

    #[test]
    fn a_partial_seed_keeps_the_defaults_and_an_unknown_setting_is_refused() {
        let seed: ConnectWiseSeed =
            serde_json::from_str(r#"{"required_fields": ["type"], "default_page_size": 10}"#)
                .unwrap();
        let typo = serde_json::from_str::<ConnectWiseSeed>(r#"{"requierd_fields": []}"#);

        assert_eq!(seed.required_fields, vec!["type".to_owned()]);
        assert_eq!(seed.boards, ConnectWiseSeed::default().boards);
        assert!(typo.unwrap_err().to_string().contains("requierd_fields"));
    }
}
