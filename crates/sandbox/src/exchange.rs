//! Exchange Online simulator: the admin API's `InvokeCommand` endpoint, sharing
//! the Graph simulator's tenants, users, licenses and token endpoint.
//!
//! Mount [`ExchangeSimulator::router`] under `/sandbox/exchange`:
//! `POST /sandbox/exchange/adminapi/beta/{tenant}/InvokeCommand` mirrors
//! `https://outlook.office365.com/adminapi/beta/{tenant}/InvokeCommand`
//! (`reference/api-facts.md` §15; CIPP `New-ExoRequest.ps1`). Tokens come from
//! `/sandbox/graph/login/{tenant}/oauth2/v2.0/token` with
//! `scope=https://outlook.office365.com/.default`; the app needs
//! `Exchange.ManageAsApp` and the Exchange Administrator role.
//!
//! The model:
//! - A user gets a mailbox once Graph gives them a license with an
//!   `EXCHANGE_S_*` plan. Exchange provisions it minutes later: it answers
//!   "couldn't be found" until [`ExchangeSeed::mailbox_delay_minutes`] have
//!   passed on the sandbox clock since the simulator first saw the license, and
//!   to the first [`ExchangeSeed::mailbox_delay_calls`] cmdlets that name it.
//!   Until then it is not a recipient either: distribution groups and other
//!   mailboxes' permissions refuse it. Users licensed in the seed have theirs at once.
//! - Distribution lists and mail-enabled security groups are the Graph tenant's
//!   groups that are mail-enabled and not `Unified`: Graph lists them (and
//!   refuses to change their members), Exchange changes them. Seeded here
//!   ([`ExchangeSeed::distribution_groups`]), they are added to the Graph tenant.
//! - Shared mailboxes ([`ExchangeSeed::shared_mailboxes`]) belong to unlicensed
//!   Graph users, as in Exchange Online.
//! - A user mailbox whose license is removed is kept, marked for deletion after
//!   30 days (`WillBeDeleted` in the state); a shared mailbox needs no license, but
//!   one over 50 GB cannot be converted without one.
//! - Unknown cmdlets and parameters are refused as PowerShell refuses them.
//!
//! What Exchange does not document for this endpoint (status codes of cmdlet
//! errors, the `<id>|<exception>|<text>` detail shape) follows what CIPP's error
//! handling reads and is marked `[?]`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::faults::{Fault, FaultSettings, Faults};
use crate::graph::GraphState;
use crate::graph::GroupSeed;
use crate::graph::model::{Audience, Group as GraphGroup, Tenant};

/// The service name of the simulator's fault injector.
pub const SERVICE: &str = "exchange";

/// An unlicensed shared mailbox holds at most this much (GB).
const UNLICENSED_SHARED_LIMIT_GB: f64 = 50.0;

/// The `[sandbox.exchange]` part of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangeSeed {
    /// Cmdlets naming a newly licensed user's mailbox that answer "couldn't be
    /// found" before it is provisioned.
    pub mailbox_delay_calls: u32,
    /// Minutes on the sandbox clock, from the license, before a new mailbox is found.
    pub mailbox_delay_minutes: u32,
    /// Shared mailboxes: UPNs of (unlicensed) Graph users.
    pub shared_mailboxes: Vec<String>,
    /// Mailbox sizes in GB, by UPN (default 1).
    pub mailbox_sizes_gb: BTreeMap<String, f64>,
    /// Distribution lists and mail-enabled security groups.
    pub distribution_groups: Vec<DistributionGroupSeed>,
    /// The largest page the server answers (Exchange's own limit is 1000).
    pub page_size: usize,
    /// Throttling, server errors, lost answers and latency.
    pub faults: FaultSettings,
}

impl Default for ExchangeSeed {
    fn default() -> Self {
        Self {
            mailbox_delay_calls: 0,
            mailbox_delay_minutes: 0,
            shared_mailboxes: Vec::new(),
            mailbox_sizes_gb: BTreeMap::new(),
            distribution_groups: Vec::new(),
            page_size: 1000,
            faults: FaultSettings::default(),
        }
    }
}

impl ExchangeSeed {
    /// The demo's Exchange: Contoso's `info@contoso.com` is a shared mailbox (its
    /// distribution lists are Graph's demo groups). New mailboxes appear at once,
    /// so a demo user can be offboarded right after onboarding; set
    /// `mailbox_delay_minutes` to see the minutes Exchange Online takes.
    pub fn demo() -> Self {
        Self {
            shared_mailboxes: vec!["info@contoso.com".into()],
            ..Self::default()
        }
    }
}

/// A distribution list (or mail-enabled security group) of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistributionGroupSeed {
    /// The tenant (id or domain, as in the Graph seed).
    pub tenant: String,
    /// `DisplayName`.
    pub display_name: String,
    /// `PrimarySmtpAddress`.
    pub primary_smtp_address: String,
    /// A mail-enabled security group rather than a distribution list.
    pub security: bool,
    /// Members' UPNs.
    pub members: Vec<String>,
}

#[derive(Debug, Clone)]
struct Mailbox {
    tenant_id: String,
    user_id: String,
    shared: bool,
    hidden: bool,
    forwarding_address: Option<String>,
    forwarding_smtp_address: Option<String>,
    deliver_and_forward: bool,
    /// FullAccess holders (UPN) and their automapping.
    full_access: Vec<(String, bool)>,
    /// SendAs trustees (UPN).
    send_as: Vec<String>,
    size_gb: f64,
    /// Cmdlets that will still not find it.
    pending: u32,
    /// Not found before then (sandbox clock).
    ready_at: jiff::Timestamp,
}

impl Mailbox {
    fn new(
        tenant_id: String,
        user_id: String,
        size_gb: f64,
        pending: u32,
        ready_at: jiff::Timestamp,
    ) -> Self {
        Self {
            tenant_id,
            user_id,
            shared: false,
            hidden: false,
            forwarding_address: None,
            forwarding_smtp_address: None,
            deliver_and_forward: false,
            full_access: Vec::new(),
            send_as: Vec::new(),
            size_gb,
            pending,
            ready_at,
        }
    }

    fn provisioned(&self, now: jiff::Timestamp) -> bool {
        self.pending == 0 && self.ready_at <= now
    }
}

#[derive(Debug)]
struct World {
    mailboxes: Vec<Mailbox>,
    delay: u32,
    delay_minutes: u32,
    sizes: BTreeMap<String, f64>,
    page_size: usize,
    /// Cmdlets run, in order (name and anchor), for tests and the state.
    calls: Vec<(String, String)>,
}

/// The simulator: the Graph tenants it shares and its own mailbox state.
#[derive(Clone)]
pub struct ExchangeSimulator {
    graph: GraphState,
    world: Arc<Mutex<World>>,
    faults: Faults,
    clock: crate::SandboxClock,
}

impl std::fmt::Debug for ExchangeSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeSimulator")
            .field("world", &self.world)
            .finish_non_exhaustive()
    }
}

/// An Exchange refusal: status, exception type and text [?: shape after CIPP's reading].
#[derive(Debug, Clone)]
struct ExoError {
    status: StatusCode,
    exception: &'static str,
    message: String,
}

impl ExoError {
    fn not_found(identity: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            exception: "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            message: format!(
                "The operation couldn't be performed because object '{identity}' couldn't be \
                 found on 'SANDBOX01A001.PROD.OUTLOOK.COM'."
            ),
        }
    }

    fn bad(exception: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            exception,
            message: message.into(),
        }
    }

    fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            exception: "",
            message: message.into(),
        }
    }
}

impl IntoResponse for ExoError {
    fn into_response(self) -> Response {
        let body = if self.exception.is_empty() {
            json!({"error": {"code": "Unauthorized", "message": self.message}})
        } else {
            json!({"error": {
                "code": if self.status == StatusCode::NOT_FOUND { "NotFound" } else { "BadRequest" },
                "message": "Error executing cmdlet",
                "details": [{
                    "code": "Context",
                    "target": "",
                    "message": format!("Ex6F9304|{}|{}", self.exception, self.message),
                }],
                "innererror": {
                    "message": self.message,
                    "type": self.exception,
                },
            }})
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// Throttling, server errors and lost answers in Exchange's words [?].
fn fault_body(fault: Fault) -> Response {
    match fault {
        Fault::Throttle {
            retry_after_seconds,
        } => (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({"error": {
                "code": "TooManyRequests",
                "message": format!("Too many concurrent requests. Retry after {retry_after_seconds} seconds."),
            }})),
        )
            .into_response(),
        Fault::ServerError(status) => (
            status,
            axum::Json(json!({"error": {
                "code": "ServiceUnavailable",
                "message": "The service is unavailable. Try again later.",
            }})),
        )
            .into_response(),
    }
}

/// The parameters each cmdlet takes (the ones the simulator models).
const CMDLETS: &[(&str, &[&str])] = &[
    ("Get-Mailbox", &["Identity", "ResultSize"]),
    (
        "Set-Mailbox",
        &[
            "Identity",
            "Type",
            "HiddenFromAddressListsEnabled",
            "ForwardingAddress",
            "ForwardingSMTPAddress",
            "DeliverToMailboxAndForward",
            "Confirm",
        ],
    ),
    ("Get-MailboxPermission", &["Identity", "User"]),
    (
        "Add-MailboxPermission",
        &[
            "Identity",
            "User",
            "AccessRights",
            "AutoMapping",
            "InheritanceType",
            "Confirm",
        ],
    ),
    (
        "Remove-MailboxPermission",
        &[
            "Identity",
            "User",
            "AccessRights",
            "InheritanceType",
            "Confirm",
        ],
    ),
    (
        "Add-RecipientPermission",
        &["Identity", "Trustee", "AccessRights", "Confirm"],
    ),
    ("Get-RecipientPermission", &["Identity", "Trustee"]),
    ("Get-Recipient", &["Identity", "ResultSize"]),
    (
        "Add-DistributionGroupMember",
        &[
            "Identity",
            "Member",
            "BypassSecurityGroupManagerCheck",
            "Confirm",
        ],
    ),
    (
        "Remove-DistributionGroupMember",
        &[
            "Identity",
            "Member",
            "BypassSecurityGroupManagerCheck",
            "Confirm",
        ],
    ),
    ("Get-DistributionGroupMember", &["Identity"]),
];

/// PowerShell binds parameter names case-insensitively.
struct Params<'a>(&'a Map<String, Value>);

impl Params<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    fn has(&self, name: &str) -> bool {
        self.0.keys().any(|k| k.eq_ignore_ascii_case(name))
    }

    fn text(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Array(items) => items.first().and_then(Value::as_str).map(str::to_owned),
            other => Some(other.to_string()),
        }
    }

    fn required(&self, cmdlet: &str, name: &str) -> Result<String, ExoError> {
        self.text(name).filter(|s| !s.is_empty()).ok_or_else(|| {
            ExoError::bad(
                "System.Management.Automation.ParameterBindingException",
                format!(
                    "Cannot process command because of one or more missing mandatory parameters: {name}. ({cmdlet})"
                ),
            )
        })
    }

    fn flag(&self, name: &str) -> Result<Option<bool>, ExoError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(ExoError::bad(
                "System.Management.Automation.ParameterBindingException",
                format!(
                    "Cannot convert value \"{other}\" to type \"System.Boolean\" for parameter '{name}'."
                ),
            )),
        }
    }

    fn rights(&self) -> Vec<String> {
        match self.get("AccessRights") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => s.split(',').map(|r| r.trim().to_owned()).collect(),
            _ => Vec::new(),
        }
    }
}

fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A user of the tenant by UPN, object id or primary address.
fn user_of(tenant: &Tenant, key: &str) -> Option<usize> {
    tenant.user_index(key).or_else(|| {
        tenant.users.iter().position(|u| {
            u.mail
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(key))
        })
    })
}

impl ExchangeSimulator {
    /// The simulator over `graph`'s tenants, on the real clock; users licensed
    /// now have their mailbox, and the seed's groups join the Graph tenants.
    pub fn new(seed: &ExchangeSeed, graph: GraphState) -> Result<Self, String> {
        Self::with_clock(seed, graph, Arc::new(jiff::Timestamp::now))
    }

    /// [`ExchangeSimulator::new`], reading `clock` for the provisioning delay.
    pub fn with_clock(
        seed: &ExchangeSeed,
        graph: GraphState,
        clock: crate::SandboxClock,
    ) -> Result<Self, String> {
        let mut shared = Vec::new();
        {
            let mut world = graph.lock();
            for g in &seed.distribution_groups {
                let tenant = world.tenant_index(&g.tenant).ok_or_else(|| {
                    format!(
                        "distribution group '{}' names tenant '{}', which the graph seed does not have",
                        g.display_name, g.tenant
                    )
                })?;
                let tenant = &mut world.tenants[tenant];
                if let Some(m) = g.members.iter().find(|m| user_of(tenant, m).is_none()) {
                    return Err(format!(
                        "distribution group '{}' names member '{m}', who is not a user of the tenant",
                        g.display_name
                    ));
                }
                tenant
                    .seed_group(&GroupSeed {
                        display_name: g.display_name.clone(),
                        mail_enabled: true,
                        mail: Some(g.primary_smtp_address.clone()),
                        security_enabled: g.security,
                        members: g.members.clone(),
                        ..GroupSeed::default()
                    })
                    .map_err(|e| e.to_string())?;
            }
            for upn in &seed.shared_mailboxes {
                let found = world.tenants.iter().find_map(|t| {
                    let u = t.user_index(upn)?;
                    Some((t.id.clone(), t.users[u].id.clone(), t.has_mailbox(u)))
                });
                match found {
                    Some((tenant_id, user_id, false)) => shared.push((tenant_id, user_id)),
                    Some((_, _, true)) => {
                        return Err(format!(
                            "shared mailbox '{upn}' belongs to a licensed user: a shared mailbox's user has no Exchange license"
                        ));
                    }
                    None => {
                        return Err(format!(
                            "shared mailbox '{upn}' is not a user of any graph tenant"
                        ));
                    }
                }
            }
        }
        let now = clock();
        let simulator = Self {
            graph,
            world: Arc::new(Mutex::new(World {
                mailboxes: Vec::new(),
                delay: 0,
                delay_minutes: 0,
                sizes: seed.mailbox_sizes_gb.clone(),
                page_size: seed.page_size.max(1),
                calls: Vec::new(),
            })),
            faults: Faults::new(SERVICE, seed.faults.clone(), fault_body),
            clock,
        };
        simulator.provision();
        {
            let mut world = lock(&simulator.world);
            for (tenant_id, user_id) in shared {
                let mut mailbox = Mailbox::new(tenant_id, user_id, 1.0, 0, now);
                mailbox.shared = true;
                world.mailboxes.push(mailbox);
            }
            world.delay = seed.mailbox_delay_calls;
            world.delay_minutes = seed.mailbox_delay_minutes;
        }
        Ok(simulator)
    }

    /// The injector, to register with `/sandbox/faults`.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Sets how many cmdlets a newly provisioned mailbox stays unfound for.
    pub fn set_mailbox_delay(&self, calls: u32) {
        lock(&self.world).delay = calls;
    }

    /// The cmdlets run so far, with the `X-AnchorMailbox` each was sent with.
    pub fn calls(&self) -> Vec<(String, String)> {
        lock(&self.world).calls.clone()
    }

    /// Sets how many sandbox-clock minutes a newly licensed user's mailbox takes.
    pub fn set_mailbox_delay_minutes(&self, minutes: u32) {
        lock(&self.world).delay_minutes = minutes;
    }

    /// Gives every licensed user without a mailbox one, found after the delay.
    pub(crate) fn provision(&self) {
        let now = (self.clock)();
        let graph = self.graph.lock();
        let mut world = lock(&self.world);
        let delay = world.delay;
        let ready_at = now
            .checked_add(jiff::SignedDuration::from_mins(i64::from(
                world.delay_minutes,
            )))
            .unwrap_or(now);
        for tenant in &graph.tenants {
            for (index, user) in tenant.users.iter().enumerate() {
                let known = world
                    .mailboxes
                    .iter()
                    .any(|m| m.tenant_id == tenant.id && m.user_id == user.id);
                if known || !tenant.has_mailbox(index) {
                    continue;
                }
                let size_gb = world
                    .sizes
                    .iter()
                    .find(|(upn, _)| upn.eq_ignore_ascii_case(&user.upn))
                    .map_or(1.0, |(_, gb)| *gb);
                world.mailboxes.push(Mailbox::new(
                    tenant.id.clone(),
                    user.id.clone(),
                    size_gb,
                    delay,
                    ready_at,
                ));
            }
        }
    }

    /// The routes, to nest under `/sandbox/exchange`.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/adminapi/beta/{tenant}/InvokeCommand", post(invoke))
            .with_state(self.clone());
        self.faults.layer(api)
    }

    /// Every mailbox and distribution group, in Exchange's field names.
    pub fn state_json(&self) -> Value {
        self.provision();
        let now = (self.clock)();
        let graph = self.graph.lock();
        let world = lock(&self.world);
        let mailboxes: Vec<Value> = world
            .mailboxes
            .iter()
            .filter_map(|m| {
                let tenant = graph.tenants.iter().find(|t| t.id == m.tenant_id)?;
                let index = tenant.user_index(&m.user_id)?;
                let mut json = mailbox_json(tenant, index, m);
                let licensed = tenant.has_mailbox(index);
                json.insert("Licensed".into(), json!(licensed));
                json.insert("WillBeDeleted".into(), json!(!licensed && !m.shared));
                json.insert("Provisioned".into(), json!(m.provisioned(now)));
                json.insert("TotalItemSizeGB".into(), json!(m.size_gb));
                json.insert(
                    "FullAccess".into(),
                    m.full_access.iter().map(|(u, _)| json!(u)).collect(),
                );
                json.insert("SendAs".into(), json!(m.send_as));
                json.insert("TenantId".into(), json!(m.tenant_id));
                Some(Value::Object(json))
            })
            .collect();
        let groups: Vec<Value> = graph
            .tenants
            .iter()
            .flat_map(|t| {
                t.groups.iter().filter(|g| g.is_mail_list()).map(move |g| {
                    let members: Vec<&str> = g
                        .members
                        .iter()
                        .filter_map(|id| t.user_index(id).map(|u| t.users[u].upn.as_str()))
                        .collect();
                    json!({
                        "TenantId": t.id,
                        "DisplayName": g.display_name,
                        "PrimarySmtpAddress": g.mail,
                        "RecipientTypeDetails": group_type(g),
                        "Members": members,
                    })
                })
            })
            .collect();
        json!({
            "mailboxes": mailboxes,
            "distribution_groups": groups,
            "cmdlets": world.calls.iter().map(|(c, _)| json!(c)).collect::<Vec<_>>(),
        })
    }
}

fn group_type(g: &GraphGroup) -> &'static str {
    if g.security_enabled {
        "MailUniversalSecurityGroup"
    } else {
        "MailUniversalDistributionGroup"
    }
}

fn mailbox_json(tenant: &Tenant, user: usize, m: &Mailbox) -> Map<String, Value> {
    let u = &tenant.users[user];
    let address = u.mail.clone().unwrap_or_else(|| u.upn.clone());
    let mut map = Map::new();
    map.insert("Identity".into(), json!(u.display_name));
    map.insert("DisplayName".into(), json!(u.display_name));
    map.insert(
        "Alias".into(),
        json!(u.mail_nickname.clone().unwrap_or_default()),
    );
    map.insert("UserPrincipalName".into(), json!(u.upn));
    map.insert("PrimarySmtpAddress".into(), json!(address));
    map.insert("ExternalDirectoryObjectId".into(), json!(u.id));
    map.insert(
        "RecipientTypeDetails".into(),
        json!(if m.shared {
            "SharedMailbox"
        } else {
            "UserMailbox"
        }),
    );
    map.insert("HiddenFromAddressListsEnabled".into(), json!(m.hidden));
    map.insert("ForwardingAddress".into(), json!(m.forwarding_address));
    map.insert(
        "ForwardingSmtpAddress".into(),
        json!(m.forwarding_smtp_address),
    );
    map.insert(
        "DeliverToMailboxAndForward".into(),
        json!(m.deliver_and_forward),
    );
    map
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "CmdletInput")]
    cmdlet_input: CmdletInput,
}

#[derive(Deserialize)]
struct CmdletInput {
    #[serde(rename = "CmdletName")]
    name: String,
    #[serde(rename = "Parameters", default)]
    parameters: Map<String, Value>,
}

/// `POST /adminapi/beta/{tenant}/InvokeCommand`.
async fn invoke(
    State(sim): State<ExchangeSimulator>,
    Path(tenant): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match run(&sim, &tenant, &query, &headers, &body) {
        Ok(answer) => answer,
        Err(e) => e.into_response(),
    }
}

fn run(
    sim: &ExchangeSimulator,
    tenant_key: &str,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ExoError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let input: Body = serde_json::from_slice(body).map_err(|e| {
        ExoError::bad(
            "Microsoft.Exchange.Admin.OData.Core.ODataException",
            format!("The request body is not a CmdletInput: {e}"),
        )
    })?;
    let cmdlet = input.cmdlet_input.name;
    let parameters = input.cmdlet_input.parameters;
    sim.provision();
    let tenant_index = {
        let graph = sim.graph.lock();
        let issued = graph
            .tokens
            .get(&token)
            .ok_or_else(|| ExoError::unauthorized("The access token is missing or invalid."))?;
        if issued.audience != Audience::Exchange {
            // [?] the wording of a wrong-audience refusal.
            return Err(ExoError::unauthorized(
                "The access token was issued for another resource (aud); ask for https://outlook.office365.com/.default.",
            ));
        }
        if issued.expires_at <= Instant::now() {
            return Err(ExoError::unauthorized("The access token has expired."));
        }
        let tenant = &graph.tenants[issued.tenant];
        if graph.tenant_index(tenant_key) != Some(issued.tenant) {
            return Err(ExoError::unauthorized(format!(
                "The token's tenant is not '{tenant_key}'."
            )));
        }
        let app = &tenant.apps[issued.app];
        let may = app.permissions.iter().any(|p| p == "Exchange.ManageAsApp")
            && app.directory_roles.iter().any(|r| {
                r.eq_ignore_ascii_case("Exchange Administrator")
                    || r.eq_ignore_ascii_case("Global Administrator")
            });
        if !may {
            // §15: what Exchange answers an app without the role.
            return Err(ExoError::unauthorized(format!(
                "User is not allowed to call {cmdlet}"
            )));
        }
        issued.tenant
    };
    let anchor = headers
        .get("x-anchormailbox")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Some((name, allowed)) = CMDLETS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&cmdlet))
    else {
        // [?] the runspace's words for a cmdlet it does not export.
        return Err(ExoError::bad(
            "System.Management.Automation.CommandNotFoundException",
            format!(
                "The term '{cmdlet}' is not recognized as a name of a cmdlet, function, script file, or executable program."
            ),
        ));
    };
    if let Some(unknown) = parameters
        .keys()
        .find(|k| !allowed.iter().any(|a| a.eq_ignore_ascii_case(k)))
    {
        return Err(ExoError::bad(
            "System.Management.Automation.ParameterBindingException",
            format!("A parameter cannot be found that matches parameter name '{unknown}'."),
        ));
    }
    lock(&sim.world)
        .calls
        .push(((*name).to_owned(), anchor.clone()));
    let params = Params(&parameters);
    let values = cmdlet_run(sim, tenant_index, name, &params)?;
    let skip: usize = query
        .get("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let asked = headers
        .get("prefer")
        .and_then(|h| h.to_str().ok())
        .and_then(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(1000);
    let size = asked.min(lock(&sim.world).page_size).max(1);
    let page: Vec<Value> = values.iter().skip(skip).take(size).cloned().collect();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let mut answer = json!({
        "@odata.context": format!("http://{host}/sandbox/exchange/adminapi/beta/{tenant_key}/$metadata#Collection(Exchange.GenericHashTable)"),
        "adminapi.warnings": [],
        "value": page,
    });
    if skip + size < values.len() {
        answer["@odata.nextLink"] = json!(format!(
            "http://{host}/sandbox/exchange/adminapi/beta/{tenant_key}/InvokeCommand?$skiptoken={}",
            skip + size
        ));
    }
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

/// A mailbox as a cmdlet sees it: one still provisioning counts down and is not found.
fn find_mailbox(
    world: &mut World,
    tenant: &Tenant,
    identity: &str,
    now: jiff::Timestamp,
) -> Result<(usize, usize), ExoError> {
    let user = user_of(tenant, identity).ok_or_else(|| ExoError::not_found(identity))?;
    let id = &tenant.users[user].id;
    let index = world
        .mailboxes
        .iter()
        .position(|m| m.tenant_id == tenant.id && &m.user_id == id)
        .ok_or_else(|| ExoError::not_found(identity))?;
    let mailbox = &mut world.mailboxes[index];
    if mailbox.pending > 0 {
        mailbox.pending -= 1;
        return Err(ExoError::not_found(identity));
    }
    if mailbox.ready_at > now {
        return Err(ExoError::not_found(identity));
    }
    Ok((index, user))
}

/// A user with a provisioned mailbox, by any of their identities (the UPN answered).
fn recipient_upn(
    world: &World,
    tenant: &Tenant,
    identity: &str,
    now: jiff::Timestamp,
) -> Result<String, ExoError> {
    let user = user_of(tenant, identity).ok_or_else(|| ExoError::not_found(identity))?;
    let u = &tenant.users[user];
    if world
        .mailboxes
        .iter()
        .any(|m| m.tenant_id == tenant.id && m.user_id == u.id && m.provisioned(now))
    {
        Ok(u.upn.clone())
    } else {
        Err(ExoError::not_found(identity))
    }
}

/// The tenant's distribution list or mail-enabled security group by name or address.
fn mail_list(tenant: &Tenant, identity: &str) -> Option<usize> {
    tenant.groups.iter().position(|g| {
        g.is_mail_list()
            && (g.display_name.eq_ignore_ascii_case(identity)
                || g.mail
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(identity)))
    })
}

/// `Get-Recipient` and the distribution group cmdlets, over the Graph tenant's
/// groups; `None` for any other cmdlet.
fn group_cmdlet(
    world: &mut World,
    tenant: &mut Tenant,
    cmdlet: &str,
    p: &Params<'_>,
    now: jiff::Timestamp,
) -> Option<Result<Vec<Value>, ExoError>> {
    let answer = match cmdlet {
        "Get-Recipient" => (|| {
            let identity = p.required(cmdlet, "Identity")?;
            if let Some(g) = mail_list(tenant, &identity) {
                let g = &tenant.groups[g];
                return Ok(vec![json!({
                    "Identity": g.display_name, "DisplayName": g.display_name,
                    "PrimarySmtpAddress": g.mail, "RecipientTypeDetails": group_type(g),
                })]);
            }
            let (m, u) = find_mailbox(world, tenant, &identity, now)?;
            let json = mailbox_json(tenant, u, &world.mailboxes[m]);
            Ok(vec![json!({
                "Identity": json["Identity"], "DisplayName": json["DisplayName"],
                "PrimarySmtpAddress": json["PrimarySmtpAddress"],
                "RecipientTypeDetails": json["RecipientTypeDetails"],
            })])
        })(),
        "Add-DistributionGroupMember"
        | "Remove-DistributionGroupMember"
        | "Get-DistributionGroupMember" => (|| {
            let identity = p.required(cmdlet, "Identity")?;
            let g = mail_list(tenant, &identity).ok_or_else(|| ExoError::not_found(&identity))?;
            if cmdlet == "Get-DistributionGroupMember" {
                return Ok(tenant.groups[g]
                    .members
                    .iter()
                    .filter_map(|id| tenant.user_index(id))
                    .map(|u| {
                        let upn = &tenant.users[u].upn;
                        json!({"Identity": upn, "PrimarySmtpAddress": upn})
                    })
                    .collect());
            }
            let member = p.required(cmdlet, "Member")?;
            // The member must be a recipient: a mailbox still provisioning is not one yet.
            let upn = recipient_upn(world, tenant, &member, now)?;
            let u = user_of(tenant, &upn).ok_or_else(|| ExoError::not_found(&member))?;
            let is_member = tenant.groups[g].members.contains(&tenant.users[u].id);
            let name = tenant.groups[g].display_name.clone();
            match (cmdlet, is_member) {
                // [?] the wording of both refusals.
                ("Add-DistributionGroupMember", true) => Err(ExoError::bad(
                    "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException",
                    format!("The recipient \"{upn}\" is already a member of the group \"{name}\"."),
                )),
                ("Add-DistributionGroupMember", false) => {
                    tenant.join(g, u);
                    Ok(Vec::new())
                }
                (_, false) => Err(ExoError::bad(
                    "Microsoft.Exchange.Management.Tasks.MemberNotFoundException",
                    format!("The recipient \"{upn}\" isn't a member of the group \"{name}\"."),
                )),
                (_, true) => {
                    tenant.leave(g, u);
                    Ok(Vec::new())
                }
            }
        })(),
        _ => return None,
    };
    Some(answer)
}

fn cmdlet_run(
    sim: &ExchangeSimulator,
    tenant_index: usize,
    cmdlet: &str,
    p: &Params<'_>,
) -> Result<Vec<Value>, ExoError> {
    let now = (sim.clock)();
    let mut graph = sim.graph.lock();
    let tenant = &mut graph.tenants[tenant_index];
    let mut world = lock(&sim.world);
    let world = &mut *world;
    if let Some(answer) = group_cmdlet(world, tenant, cmdlet, p, now) {
        return answer;
    }
    let tenant = &*tenant;
    match cmdlet {
        "Get-Mailbox" => match p.text("Identity") {
            Some(identity) => {
                let (m, u) = find_mailbox(world, tenant, &identity, now)?;
                Ok(vec![Value::Object(mailbox_json(
                    tenant,
                    u,
                    &world.mailboxes[m],
                ))])
            }
            None => Ok(world
                .mailboxes
                .iter()
                .filter(|m| m.tenant_id == tenant.id && m.provisioned(now))
                .filter_map(|m| {
                    let u = tenant.user_index(&m.user_id)?;
                    Some(Value::Object(mailbox_json(tenant, u, m)))
                })
                .collect()),
        },
        "Set-Mailbox" => {
            let identity = p.required(cmdlet, "Identity")?;
            let (m, u) = find_mailbox(world, tenant, &identity, now)?;
            let licensed = tenant.has_mailbox(u);
            // Everything is checked before anything is written.
            let kind = match p.text("Type") {
                None => None,
                Some(t) if t.eq_ignore_ascii_case("Shared") => Some(true),
                Some(t) if t.eq_ignore_ascii_case("Regular") => Some(false),
                Some(t) => {
                    return Err(ExoError::bad(
                        "System.Management.Automation.ParameterBindingException",
                        format!(
                            "Cannot bind parameter 'Type'. Cannot convert value \"{t}\" to type \
                             \"Microsoft.Exchange.Data.Directory.Management.ConvertibleMailboxSubType\"."
                        ),
                    ));
                }
            };
            if kind == Some(true)
                && !licensed
                && world.mailboxes[m].size_gb > UNLICENSED_SHARED_LIMIT_GB
            {
                // [?] the wording; the rule is Microsoft's (§15: 50 GB without a license).
                return Err(ExoError::bad(
                    "Microsoft.Exchange.Management.Tasks.MailboxSizeExceedsLimitException",
                    format!(
                        "The mailbox '{identity}' is larger than 50 GB, the limit of a shared \
                         mailbox without a license. Assign a license before converting it."
                    ),
                ));
            }
            if kind == Some(false) && !licensed {
                return Err(ExoError::bad(
                    "Microsoft.Exchange.Management.Tasks.LicenseRequiredException",
                    format!("The mailbox '{identity}' needs a license to be a user mailbox."),
                ));
            }
            let hidden = p.flag("HiddenFromAddressListsEnabled")?;
            let keep = p.flag("DeliverToMailboxAndForward")?;
            let forward_internal = if p.has("ForwardingAddress") {
                Some(match p.text("ForwardingAddress") {
                    Some(to) => Some(recipient_upn(world, tenant, &to, now)?),
                    None => None,
                })
            } else {
                None
            };
            let forward_smtp = if p.has("ForwardingSMTPAddress") {
                Some(p.text("ForwardingSMTPAddress").map(|to| {
                    if to.to_ascii_lowercase().starts_with("smtp:") {
                        to
                    } else {
                        format!("smtp:{to}")
                    }
                }))
            } else {
                None
            };
            let mailbox = &mut world.mailboxes[m];
            if let Some(shared) = kind {
                mailbox.shared = shared;
            }
            if let Some(hidden) = hidden {
                mailbox.hidden = hidden;
            }
            if let Some(keep) = keep {
                mailbox.deliver_and_forward = keep;
            }
            if let Some(to) = forward_internal {
                mailbox.forwarding_address = to;
            }
            if let Some(to) = forward_smtp {
                mailbox.forwarding_smtp_address = to;
            }
            Ok(Vec::new())
        }
        "Get-MailboxPermission" => {
            let identity = p.required(cmdlet, "Identity")?;
            let (m, u) = find_mailbox(world, tenant, &identity, now)?;
            let name = tenant.users[u].display_name.clone();
            let mut entries = vec![json!({
                "Identity": name, "User": "NT AUTHORITY\\SELF",
                "AccessRights": ["FullAccess", "ReadPermission"],
                "IsInherited": false, "Deny": false, "InheritanceType": "All",
            })];
            entries.extend(world.mailboxes[m].full_access.iter().map(|(user, _)| {
                json!({
                    "Identity": name, "User": user, "AccessRights": ["FullAccess"],
                    "IsInherited": false, "Deny": false, "InheritanceType": "All",
                })
            }));
            Ok(entries)
        }
        "Add-MailboxPermission" | "Remove-MailboxPermission" => {
            let identity = p.required(cmdlet, "Identity")?;
            let user = p.required(cmdlet, "User")?;
            let rights = p.rights();
            if !rights.iter().any(|r| r.eq_ignore_ascii_case("FullAccess")) {
                return Err(ExoError::bad(
                    "System.Management.Automation.ParameterBindingException",
                    "The simulator models only -AccessRights FullAccess.",
                ));
            }
            let (m, _) = find_mailbox(world, tenant, &identity, now)?;
            // The holder must be a recipient: a mailbox still provisioning is not one yet.
            let user = recipient_upn(world, tenant, &user, now)?;
            let automap = p.flag("AutoMapping")?.unwrap_or(true);
            let entries = &mut world.mailboxes[m].full_access;
            if cmdlet == "Add-MailboxPermission" {
                // An entry that exists is left as it is (Exchange warns, and adds nothing).
                if !entries.iter().any(|(u, _)| u.eq_ignore_ascii_case(&user)) {
                    entries.push((user.clone(), automap));
                }
                Ok(vec![json!({
                    "Identity": identity, "User": user, "AccessRights": ["FullAccess"],
                    "IsInherited": false, "Deny": false,
                })])
            } else {
                entries.retain(|(u, _)| !u.eq_ignore_ascii_case(&user));
                Ok(Vec::new())
            }
        }
        "Add-RecipientPermission" | "Get-RecipientPermission" => {
            let identity = p.required(cmdlet, "Identity")?;
            let (m, u) = find_mailbox(world, tenant, &identity, now)?;
            let name = tenant.users[u].display_name.clone();
            if cmdlet == "Add-RecipientPermission" {
                let trustee = p.required(cmdlet, "Trustee")?;
                if !p.rights().iter().any(|r| r.eq_ignore_ascii_case("SendAs")) {
                    return Err(ExoError::bad(
                        "System.Management.Automation.ParameterBindingException",
                        "Cannot validate argument on parameter 'AccessRights'. The only valid value is SendAs.",
                    ));
                }
                let trustee = recipient_upn(world, tenant, &trustee, now)?;
                let send_as = &mut world.mailboxes[m].send_as;
                if !send_as.iter().any(|t| t.eq_ignore_ascii_case(&trustee)) {
                    send_as.push(trustee);
                }
            }
            Ok(world.mailboxes[m]
                .send_as
                .iter()
                .map(|t| json!({"Identity": name, "Trustee": t, "AccessRights": ["SendAs"], "AccessControlType": "Allow"}))
                .collect())
        }
        other => Err(ExoError::bad(
            "System.Management.Automation.CommandNotFoundException",
            format!("The term '{other}' is not recognized as a name of a cmdlet."),
        )),
    }
}
