//! The test bed: the sandbox simulators on a real socket, an SQLite store in a
//! temporary directory, a test clock, and `Connections` wired to the simulators.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use jiff::{SignedDuration, Timestamp};
use onboard_connectors::distributor::{Distributor, Pax8Distributor, Pax8Settings};
use onboard_connectors::graph::{AppCredentials, Directory, GraphClient, GraphConfig, TenantId};
use onboard_connectors::http::{HttpClient, RetryPolicy, Sleeper};
use onboard_connectors::notify::{MemoryOutbox, OutboxEntry};
use onboard_connectors::psa::Psa;
use onboard_connectors::psa::autotask::{Autotask, AutotaskConfig, AutotaskNoteLabels};
use onboard_connectors::psa::connectwise::{ConnectWise, ConnectWiseConfig};
use onboard_connectors::psa::halopsa::{HaloConfig, HaloNoteOutcomes, HaloPsa};
use onboard_connectors::vault::{
    HuduVault, ItGlueVault, PasswordVault, PwPushAuth, PwPushSettings, PwPushVault,
};
use onboard_domain::Variables;
use onboard_domain::variables::{
    Distributor as DistributorName, PasswordSaveLocation, Psa as PsaName,
};
use onboard_sandbox::autotask::{self, AutotaskSeed, AutotaskSim};
use onboard_sandbox::connectwise::{self, ConnectWiseSeed, ConnectWiseSim, CwNote, CwTicket};
use onboard_sandbox::graph::{GraphSeed, GraphSimulator};
use onboard_sandbox::halopsa::{self, HaloSeed, HaloSim};
use onboard_sandbox::hudu::{self, Hudu, HuduApiKey, HuduCompany, HuduSeed};
use onboard_sandbox::itglue::{self, ItGlue, ItGlueApiKey, ItGlueOrganization, ItGlueSeed};
use onboard_sandbox::pax8::{
    self, Pax8, Pax8Company, Pax8Credentials, Pax8Product, Pax8Seed, SeatChange, SeatHook,
};
use onboard_sandbox::pwpush::{self, PwPush, PwPushSeed};
use onboard_steps::decisions::{CallbackError, LinkQuery, TaskCallbacks};
use onboard_steps::{Clock, Connections, Deps, LinkSigner, Organization, StepError};
use onboard_store::{NewRecord, RecordKind, Scope, SqliteStore, Status, Store};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

pub const TENANT: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
pub const ORG: &str = "contoso";
pub const PUBLIC_URL: &str = "https://onboard.example.com";

/// Waits recorded, never slept.
#[derive(Debug, Default)]
pub struct NoSleep;

#[async_trait]
impl Sleeper for NoSleep {
    async fn sleep(&self, _: Duration) {}
}

type Follow = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// A clock the test moves, or that follows another (the interpreter's virtual clock),
/// so the steps, Pax8's provisioning and the outbox share one time.
pub struct TestClock {
    now: Mutex<Timestamp>,
    follow: Mutex<Option<Follow>>,
}

impl std::fmt::Debug for TestClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClock").finish_non_exhaustive()
    }
}

impl TestClock {
    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.now.lock().unwrap();
        *now = now.checked_add(by).unwrap();
    }

    /// From now on, reads the time from `source`.
    pub fn follow(&self, source: impl Fn() -> Timestamp + Send + Sync + 'static) {
        *self.follow.lock().unwrap() = Some(Arc::new(source));
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        let follow = self.follow.lock().unwrap().clone();
        match follow {
            Some(source) => source(),
            None => *self.now.lock().unwrap(),
        }
    }
}

/// Pax8 seats reach the Graph simulator's tenant.
#[derive(Debug)]
struct SeatsToGraph(onboard_sandbox::graph::GraphState);

impl SeatHook for SeatsToGraph {
    fn seats_changed(&self, change: &SeatChange) {
        if let (Some(sku), Ok(delta)) = (&change.sku_part_number, u32::try_from(change.delta)) {
            self.0.add_seats(TENANT, sku, delta).unwrap();
        }
    }
}

/// Every connector, built once against the simulators.
pub struct TestConnections {
    pub directory: Arc<dyn Directory>,
    pub psa: Arc<dyn Psa>,
    pub autotask: Arc<dyn Psa>,
    pub halo: Arc<dyn Psa>,
    pub itglue: Arc<dyn PasswordVault>,
    pub hudu: Arc<dyn PasswordVault>,
    pub distributor: Arc<dyn Distributor>,
}

fn http(service: &'static str) -> HttpClient {
    HttpClient::new(
        service,
        RetryPolicy {
            max_attempts: 2,
            attempt_timeout: Duration::from_secs(10),
            ..RetryPolicy::default()
        },
    )
    .unwrap()
    .with_sleeper(Arc::new(NoSleep))
}

#[async_trait]
impl Connections for TestConnections {
    async fn organization(&self, organization: &str) -> Result<Organization, StepError> {
        if organization != ORG {
            return Err(StepError::RequestRefused(format!(
                "no organization `{organization}`"
            )));
        }
        Ok(Organization {
            id: ORG.into(),
            name: "Contoso".into(),
            domain: "contoso.com".into(),
            tenant: TenantId::new(TENANT).unwrap(),
        })
    }

    async fn directory(&self, _: &Organization) -> Result<Arc<dyn Directory>, StepError> {
        Ok(self.directory.clone())
    }

    async fn psa(
        &self,
        _: &Organization,
        kind: Option<PsaName>,
    ) -> Result<Option<Arc<dyn Psa>>, StepError> {
        match kind {
            Some(PsaName::ConnectWise) => Ok(Some(self.psa.clone())),
            Some(PsaName::Autotask) => Ok(Some(self.autotask.clone())),
            Some(PsaName::HaloPsa) => Ok(Some(self.halo.clone())),
            Some(PsaName::NoPsa) | None => Ok(None),
        }
    }

    async fn vault(
        &self,
        _: &Organization,
        location: PasswordSaveLocation,
        variables: &Variables,
    ) -> Result<Arc<dyn PasswordVault>, StepError> {
        match location {
            PasswordSaveLocation::ItGlue => Ok(self.itglue.clone()),
            PasswordSaveLocation::Hudu => Ok(self.hudu.clone()),
            PasswordSaveLocation::PwPush => {
                let base = variables
                    .pwpush_url
                    .as_ref()
                    .map(ToString::to_string)
                    .ok_or_else(|| StepError::Config("pwpush_url is not set".into()))?;
                Ok(Arc::new(
                    PwPushVault::new(
                        http("pwpush"),
                        &base,
                        PwPushAuth::Anonymous,
                        PwPushSettings::default(),
                    )
                    .map_err(|e| StepError::connector(onboard_steps::error::Port::Vault, e))?,
                ))
            }
            other => Err(StepError::Config(format!(
                "vault `{other}` is not configured in this test"
            ))),
        }
    }

    async fn distributor(
        &self,
        _: &Organization,
        distributor: DistributorName,
    ) -> Result<Option<Arc<dyn Distributor>>, StepError> {
        Ok((distributor == DistributorName::Pax8).then(|| self.distributor.clone()))
    }

    /// The step tests' organization has no Exchange connector (the e2e tests
    /// drive the Exchange simulator): the mailbox actions note their cmdlets.
    async fn exchange(
        &self,
        _: &Organization,
    ) -> Result<Option<Arc<dyn onboard_connectors::exchange::Exchange>>, StepError> {
        Ok(None)
    }
}

/// One call to a `TaskCallbacks`.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    Success {
        token: String,
        output: Value,
    },
    Failure {
        token: String,
        error: String,
        cause: String,
    },
}

/// Records resumptions instead of resuming an execution.
#[derive(Debug, Default)]
pub struct RecordingCallbacks {
    pub calls: Mutex<Vec<Callback>>,
    pub fail_next: Mutex<bool>,
}

impl RecordingCallbacks {
    pub fn calls(&self) -> Vec<Callback> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl TaskCallbacks for RecordingCallbacks {
    async fn send_task_success(
        &self,
        task_token: &SecretString,
        output: Value,
    ) -> Result<(), CallbackError> {
        if std::mem::take(&mut *self.fail_next.lock().unwrap()) {
            return Err(CallbackError::new("execution unreachable"));
        }
        self.calls.lock().unwrap().push(Callback::Success {
            token: task_token.expose_secret().to_owned(),
            output,
        });
        Ok(())
    }

    async fn send_task_failure(
        &self,
        task_token: &SecretString,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError> {
        self.calls.lock().unwrap().push(Callback::Failure {
            token: task_token.expose_secret().to_owned(),
            error: error.to_owned(),
            cause: cause.to_owned(),
        });
        Ok(())
    }
}

/// Everything a test needs.
pub struct Env {
    /// `http://127.0.0.1:<port>` of the simulators.
    pub base: String,
    pub deps: Deps,
    pub store: Arc<SqliteStore>,
    pub clock: Arc<TestClock>,
    pub graph: GraphSimulator,
    pub cw: ConnectWiseSim,
    pub autotask: AutotaskSim,
    pub halo: HaloSim,
    pub itglue: ItGlue,
    pub hudu: Hudu,
    pub pwpush: PwPush,
    pub pax8: Pax8,
    pub outbox: MemoryOutbox,
    pub callbacks: RecordingCallbacks,
    _dir: tempfile::TempDir,
}

/// Variables every test organization has: ConnectWise tickets, a sender.
pub fn base_variables() -> BTreeMap<String, String> {
    [
        ("default_psa", "connectwise"),
        ("cw_manage_company_id", "ACME"),
        ("default_ticket_location", "Service Desk"),
        ("default_ticket_status", "In Progress"),
        ("ticket_status_waiting_input", "Waiting Customer"),
        ("ticket_status_workflow_complete", "Completed"),
        ("default_priority", "Priority 3 - Normal Response"),
        ("send_from_address", "onboard@msp.example"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn pax8_seed() -> Pax8Seed {
    Pax8Seed {
        clients: vec![Pax8Credentials {
            client_id: "pax8-client".into(),
            client_secret: "pax8-secret".into(),
        }],
        companies: vec![Pax8Company {
            id: "11111111-1111-1111-1111-111111111111".into(),
            name: "Contoso".into(),
            external_id: None,
            website: None,
            status: "Active".into(),
            microsoft_tenant: Some("contoso.onmicrosoft.com".into()),
        }],
        products: vec![Pax8Product {
            id: "22222222-2222-2222-2222-222222222222".into(),
            name: "Microsoft 365 Business Premium".into(),
            vendor_name: "Microsoft".into(),
            sku: "MST-CSP-M365-BP".into(),
            vendor_sku: Some("SPB".into()),
            alt_vendor_sku: None,
            requires_commitment: false,
            sku_part_number: Some("SPB".into()),
        }],
        subscriptions: Vec::new(),
        provisioning_delay_seconds: 120,
        ..Pax8Seed::default()
    }
}

impl Env {
    /// The example Contoso tenant (O365_BUSINESS_PREMIUM has free seats, SPB none).
    pub async fn new() -> Env {
        Env::with(GraphSeed::example(), ConnectWiseSeed::default()).await
    }

    pub async fn with(graph_seed: GraphSeed, cw_seed: ConnectWiseSeed) -> Env {
        let clock = Arc::new(TestClock {
            now: Mutex::new("2026-03-02T08:00:00Z".parse().unwrap()),
            follow: Mutex::new(None),
        });
        let graph = GraphSimulator::new(&graph_seed).unwrap();
        let cw = ConnectWiseSim::new(cw_seed).unwrap();
        let autotask = AutotaskSim::new(AutotaskSeed::default()).unwrap();
        let halo = HaloSim::new(HaloSeed::default()).unwrap();
        let itglue = ItGlue::new(ItGlueSeed {
            api_keys: vec![ItGlueApiKey {
                key: "itg-key".into(),
                password_access: true,
            }],
            organizations: vec![ItGlueOrganization {
                id: 42,
                name: "Contoso".into(),
            }],
            ..ItGlueSeed::default()
        });
        let hudu = Hudu::new(HuduSeed {
            api_keys: vec![HuduApiKey {
                key: "hudu-key".into(),
                password_access: true,
            }],
            companies: vec![HuduCompany {
                id: 7,
                name: "Contoso".into(),
            }],
            ..HuduSeed::default()
        });
        let pwpush = PwPush::new(PwPushSeed {
            allow_anonymous: true,
            ..PwPushSeed::default()
        });
        let pax8_clock = clock.clone();
        let pax8 = Pax8::new(pax8_seed(), Arc::new(SeatsToGraph(graph.state().clone())))
            .with_clock(move || pax8_clock.now());

        let app = Router::new()
            .nest("/sandbox/graph", graph.router())
            .merge(connectwise::router(&cw))
            .merge(autotask::router(&autotask))
            .merge(halopsa::router(&halo))
            .nest("/sandbox/itglue", itglue::router(itglue.clone()))
            .nest("/sandbox/hudu", hudu::router(hudu.clone()))
            .nest("/sandbox/pwpush", pwpush::router(pwpush.clone()))
            .nest("/sandbox/pax8", pax8::router(pax8.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let directory = GraphClient::new(
            GraphConfig::sandbox(
                &base,
                AppCredentials {
                    client_id: "sandbox-client".into(),
                    client_secret: SecretString::from("sandbox-secret"),
                },
            )
            .unwrap(),
        )
        .unwrap()
        .with_sleeper(Arc::new(NoSleep));
        let psa = ConnectWise::new(
            ConnectWiseConfig {
                base_url: format!("{base}{}", cw.base_path()),
                company_id: "onboard".into(),
                public_key: "sandbox-public".into(),
                private_key: "sandbox-private".into(),
                client_id: "onboard-sandbox".into(),
                page_size: 100,
            },
            http("connectwise"),
        );
        let connections = TestConnections {
            directory: Arc::new(directory),
            psa: Arc::new(psa),
            autotask: Arc::new(Autotask::new(
                AutotaskConfig {
                    integration_code: "ONBOARDSANDBOX".into(),
                    username: "api@onboard.test".into(),
                    secret: "sandbox-secret".into(),
                    zone_url: None,
                    discovery_url: format!("{base}{}", autotask.zone_path()),
                    notes: AutotaskNoteLabels::default(),
                    page_size: 100,
                },
                http("autotask"),
            )),
            halo: Arc::new(HaloPsa::new(
                HaloConfig {
                    base_url: format!("{base}{}", halo.base_path()),
                    auth_url: None,
                    tenant: Some("onboard".into()),
                    client_id: "onboard-sandbox".into(),
                    client_secret: "sandbox-secret".into(),
                    scope: "all".into(),
                    outcomes: HaloNoteOutcomes {
                        internal: "Private Note".into(),
                        resolution: "Resolved".into(),
                    },
                },
                http("halopsa"),
            )),
            itglue: Arc::new(
                ItGlueVault::new(
                    http("itglue"),
                    &format!("{base}/sandbox/itglue"),
                    SecretString::from("itg-key"),
                )
                .unwrap(),
            ),
            hudu: Arc::new(
                HuduVault::new(
                    http("hudu"),
                    &format!("{base}/sandbox/hudu"),
                    SecretString::from("hudu-key"),
                )
                .unwrap(),
            ),
            distributor: Arc::new(Pax8Distributor::new(
                http("pax8"),
                Pax8Settings {
                    token_url: format!("{base}/sandbox/pax8/oauth/token"),
                    api_base: format!("{base}/sandbox/pax8/v1"),
                    ..Pax8Settings::new("pax8-client", SecretString::from("pax8-secret"))
                },
            )),
        };

        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open_dir(dir.path()).await.unwrap());
        store
            .put_variables(&Scope::Organization(ORG.into()), &base_variables())
            .await
            .unwrap();
        let outbox_clock = clock.clone();
        let outbox = MemoryOutbox::new().with_clock(move || outbox_clock.now());
        let deps = Deps {
            store: store.clone(),
            connections: Arc::new(connections),
            notifier: Arc::new(outbox.clone()),
            clock: clock.clone(),
            links: LinkSigner::new(PUBLIC_URL, vec![42; 32]).unwrap(),
        };
        Env {
            base,
            deps,
            store,
            clock,
            graph,
            cw,
            autotask,
            halo,
            itglue,
            hudu,
            pwpush,
            pax8,
            outbox,
            callbacks: RecordingCallbacks::default(),
            _dir: dir,
        }
    }

    /// Sets (adds or replaces) organization variables.
    pub async fn set_variables(&self, vars: &[(&str, &str)]) {
        let scope = Scope::Organization(ORG.into());
        let mut current = self.store.variables(&scope).await.unwrap();
        for (k, v) in vars {
            current.insert((*k).to_owned(), (*v).to_owned());
        }
        self.store.put_variables(&scope, &current).await.unwrap();
    }

    /// Stores a record for `form` (merged over a default Ana Silva form) as `id`.
    pub async fn submit(&self, id: &str, form: Value) -> Value {
        let mut body = json!({
            "organization": ORG,
            "first_name": "Ana",
            "last_name": "Silva",
            "job_title": "Analyst",
            "manager_email": "AdeleV@contoso.com",
        });
        for (k, v) in form.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.store
            .create_record(NewRecord {
                id: id.into(),
                kind: RecordKind::Onboarding,
                organization: ORG.into(),
                status: Status::Running,
                request: body.clone(),
                ticket_id: None,
                created_at: self.clock.now(),
            })
            .await
            .unwrap();
        body
    }

    /// Runs one step by its function name.
    pub async fn run(&self, function: &str, payload: Value) -> Result<Value, StepError> {
        onboard_steps::dispatch(&self.deps, function, payload).await
    }

    /// Runs one step that must succeed.
    pub async fn ok(&self, function: &str, payload: Value) -> Value {
        match self.run(function, payload).await {
            Ok(v) => v,
            Err(e) => panic!("{function} failed with {}: {}", e.name(), e.cause()),
        }
    }

    pub fn tickets(&self) -> Vec<CwTicket> {
        self.cw.tickets()
    }

    pub fn notes(&self) -> Vec<CwNote> {
        self.tickets()
            .iter()
            .flat_map(|t| self.cw.notes(t.id))
            .collect()
    }

    pub fn note_texts(&self) -> Vec<String> {
        self.notes().into_iter().map(|n| n.text).collect()
    }

    pub fn mails(&self) -> Vec<OutboxEntry> {
        self.outbox.entries()
    }

    pub async fn record(&self, id: &str) -> onboard_store::Record {
        self.store.get_record(id).await.unwrap().unwrap()
    }

    pub async fn timeline(&self, id: &str) -> Vec<String> {
        self.store
            .timeline(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| format!("{}: {}", e.step, e.message))
            .collect()
    }

    pub fn users_named(&self, upn: &str) -> bool {
        self.graph.state().user(TENANT, upn).is_some()
    }

    /// Runs the no-approval path up to and including CreateUser.
    pub async fn through_create_user(&self, id: &str) -> Value {
        let input = json!({"onboarding_id": id});
        self.ok("Validate", input.clone()).await;
        self.ok("EnsureTicket", input.clone()).await;
        self.ok("CreateUser", input).await
    }
}

/// The decision id and query of a decision link.
pub fn query_of(url: &str) -> (String, LinkQuery) {
    let url = Url::parse(url).unwrap();
    let id = url.path().rsplit('/').next().unwrap().to_owned();
    (id, LinkQuery::from_url(&url))
}

/// Every decision link in `text`.
pub fn links_in(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '<' || c == '>')
        .filter(|w| w.starts_with(PUBLIC_URL))
        .map(str::to_owned)
        .collect()
}

/// The first password a ticket note carries (`First password of x: <pw>`).
pub fn password_in_notes(notes: &[String]) -> Option<String> {
    notes.iter().find_map(|n| {
        n.lines()
            .find_map(|l| {
                l.split_once(": ")
                    .filter(|(h, _)| h.starts_with("First password of"))
            })
            .map(|(_, pw)| pw.trim().to_owned())
    })
}
