//! The whole sandbox in one piece: every simulator seeded from `[sandbox]`, on one clock, under `/sandbox/...`.
//!
//! [`SandboxSeed`] is the `[sandbox]` section of `onboard.toml`, one part per
//! simulator; its [`Default`] is a demo MSP (the Contoso tenant, known to every
//! PSA, vault and to Pax8). [`Sandbox::new`] builds every simulator from it,
//! connects Pax8's provisioned seats to the Graph tenant, registers every
//! fault injector, and [`Sandbox::router`] mounts it all at the paths of
//! CONTRACT.md §2:
//!
//! | path | simulator |
//! |------|-----------|
//! | `/sandbox/graph/login/{tenant}/oauth2/v2.0/token`, `/sandbox/graph/v1.0/...` | Microsoft Graph |
//! | `/sandbox/connectwise/{codebase}/apis/3.0/...` | ConnectWise Manage |
//! | `/sandbox/autotask/atservicesrest/v1.0/...` | Autotask |
//! | `/sandbox/halopsa/auth/token`, `/sandbox/halopsa/api/...` | HaloPSA |
//! | `/sandbox/itglue/...` | IT Glue |
//! | `/sandbox/hudu/api/v1/...` | Hudu |
//! | `/sandbox/pwpush/...` | Password Pusher |
//! | `/sandbox/pax8/oauth/token`, `/sandbox/pax8/v1/...` | Pax8 |
//! | `/sandbox/exchange/adminapi/beta/{tenant}/InvokeCommand` | Exchange Online (tokens from Graph's login) |
//! | `/sandbox/sherweb/auth/oidc/connect/token`, `/sandbox/sherweb/service-provider/v1/...` | Sherweb |
//! | `/sandbox/entra/{tenant}/v2.0/.well-known/openid-configuration`, `.../oauth2/v2.0/authorize`, `.../token` | Entra ID sign-in (OpenID Connect) |
//! | `GET /sandbox/outbox` | mail and SMS "sent" |
//! | `GET /sandbox/state` | every simulator's objects, secrets masked ([`Sandbox::state`]) |
//! | `GET /sandbox/faults`, `GET\|PUT /sandbox/faults/{service}` | fault injection |
//!
//! Time: the simulators that keep time (Pax8 provisioning and tokens,
//! Password Pusher expiry) read the one clock the embedding server gives
//! [`Sandbox::with_clock`] (its virtual clock under `--virtual-clock`). What
//! fell due is run by [`Sandbox::run_due`], and also before every sandbox
//! request, so a seat bought before the clock moved is in the tenant the
//! moment anyone looks, whoever moved the clock.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::HOST;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::autotask::{AtCompany, AutotaskSeed, AutotaskSim};
use crate::connectwise::{ConnectWiseSeed, ConnectWiseSim, CwCompany, CwSeedTicket};
use crate::entra::{Entra, EntraSeed};
use crate::exchange::{ExchangeSeed, ExchangeSimulator};
use crate::faults::FaultRegistry;
use crate::graph::{GraphSeed, GraphSimulator, GraphState, SeedError, StateError};
use crate::halopsa::{HaloRef, HaloSeed, HaloSim};
use crate::hudu::{Hudu, HuduApiKey, HuduCompany, HuduSeed};
use crate::itglue::{ItGlue, ItGlueApiKey, ItGlueOrganization, ItGlueSeed};
use crate::outbox::{self, Outbox};
use crate::pax8::{
    Pax8, Pax8Company, Pax8Credentials, Pax8Product, Pax8Seed, Pax8Subscription, SeatChange,
    SeatHook,
};
use crate::pwpush::{PwPush, PwPushSeed, PwPushUser};
use crate::sherweb::{Sherweb, SherwebCatalogItem, SherwebClient, SherwebCustomer, SherwebSeed};
use crate::{autotask, connectwise, entra, faults, halopsa, hudu, itglue, pax8, pwpush, sherweb};

/// Where the sandbox reads the time: the embedding server's clock.
pub type SandboxClock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// The `[sandbox]` section of `onboard.toml`: one seed per simulator.
///
/// A section left out of the file keeps the demo's (see [`Default`]); a
/// section present replaces the demo's whole, with that simulator's own
/// defaults for the keys it leaves out. Unknown keys are refused by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSeed {
    /// `[sandbox.graph]`: tenants, SKUs, users and groups.
    pub graph: GraphSeed,
    /// `[sandbox.connectwise]`: the ConnectWise Manage site.
    pub connectwise: ConnectWiseSeed,
    /// `[sandbox.autotask]`: the Autotask zone.
    pub autotask: AutotaskSeed,
    /// `[sandbox.halopsa]`: the HaloPSA instance.
    pub halopsa: HaloSeed,
    /// `[sandbox.itglue]`: the IT Glue account.
    pub itglue: ItGlueSeed,
    /// `[sandbox.hudu]`: the Hudu instance.
    pub hudu: HuduSeed,
    /// `[sandbox.pwpush]`: the Password Pusher instance.
    pub pwpush: PwPushSeed,
    /// `[sandbox.pax8]`: the Pax8 partner account.
    pub pax8: Pax8Seed,
    /// `[sandbox.exchange]`: Exchange Online over the Graph tenants (mailbox
    /// delay, sizes, distribution groups, shared mailboxes). A `[sandbox]`
    /// without it has none of the demo's shared mailboxes, whose users its
    /// own Graph seed may not have.
    #[serde(default)]
    pub exchange: ExchangeSeed,
    /// `[sandbox.sherweb]`: the Sherweb service-provider account.
    pub sherweb: SherwebSeed,
    /// `[sandbox.entra]`: the sign-in issuer's tenants, apps and people.
    pub entra: EntraSeed,
}

/// The demo organization's name in every simulator.
const DEMO_NAME: &str = "Contoso";
/// The demo tenant's `*.onmicrosoft.com` domain, which Pax8 provisions into.
const DEMO_TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// The demo Pax8 company's id.
const DEMO_PAX8_COMPANY: &str = "6b3e4f0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

impl Default for SandboxSeed {
    /// A demo MSP with one customer, Contoso, known everywhere:
    ///
    /// - Graph: tenant `contoso.com` / `contoso.onmicrosoft.com` (app
    ///   `sandbox-client` / `sandbox-secret`), `O365_BUSINESS_PREMIUM` with 3
    ///   free seats, `SPB` with none (to show purchasing), `EXCHANGESTANDARD`
    ///   with 10; users Adele Vance (manager) and Alex Wilber; assigned,
    ///   Microsoft 365, licensing, dynamic and synced groups
    ///   ([`GraphSeed::example`]);
    /// - ConnectWise (`Contoso`, id 251), Autotask (id 175), HaloPSA (client
    ///   13), each next to the simulators' own Acme; ConnectWise holds ticket
    ///   900 for a new starter at Contoso;
    /// - IT Glue organization 2001 and Hudu company 7, named Contoso;
    /// - Pax8 company Contoso (external id `contoso`) mapped to the tenant,
    ///   the three Microsoft products, and subscriptions matching the
    ///   tenant's seats; orders are provisioned after 120 seconds.
    ///
    /// Every credential is in the simulators' defaults or below; the sandbox
    /// listens on loopback and holds nothing real.
    fn default() -> Self {
        let mut connectwise = ConnectWiseSeed::default();
        connectwise.companies.push(CwCompany {
            id: 251,
            identifier: DEMO_NAME.into(),
            name: "Contoso Ltd".into(),
        });
        // The second demo organization (the tenant without MFA protection).
        connectwise.companies.push(CwCompany {
            id: 252,
            identifier: "Fabrikam".into(),
            name: "Fabrikam Inc".into(),
        });
        connectwise.tickets.push(CwSeedTicket {
            id: 900,
            summary: "New starter at Contoso".into(),
            company: DEMO_NAME.into(),
            board: "Service Desk".into(),
            status: "New".into(),
            priority: "Priority 3 - Normal Response".into(),
        });

        let mut autotask = AutotaskSeed::default();
        autotask.companies.push(AtCompany {
            id: 175,
            name: DEMO_NAME.into(),
        });

        let mut halopsa = HaloSeed::default();
        halopsa.clients.push(HaloRef {
            id: 13,
            name: DEMO_NAME.into(),
        });

        let itglue = ItGlueSeed {
            api_keys: vec![ItGlueApiKey {
                key: "sandbox-itglue-key".into(),
                password_access: true,
            }],
            organizations: vec![ItGlueOrganization {
                id: 2001,
                name: DEMO_NAME.into(),
            }],
            ..ItGlueSeed::default()
        };

        let hudu = HuduSeed {
            api_keys: vec![HuduApiKey {
                key: "sandbox-hudu-key".into(),
                password_access: true,
            }],
            companies: vec![HuduCompany {
                id: 7,
                name: DEMO_NAME.into(),
            }],
            ..HuduSeed::default()
        };

        let pwpush = PwPushSeed {
            users: vec![PwPushUser {
                email: "api@onboard.test".into(),
                token: "sandbox-pwpush-token".into(),
            }],
            ..PwPushSeed::default()
        };

        Self {
            graph: GraphSeed::example(),
            connectwise,
            autotask,
            halopsa,
            itglue,
            hudu,
            pwpush,
            pax8: demo_pax8(),
            exchange: ExchangeSeed::demo(),
            sherweb: demo_sherweb(),
            entra: EntraSeed::default(),
        }
    }
}

/// The demo Sherweb customer's id.
const DEMO_SHERWEB_CUSTOMER: &str = "0c9a8e52-7f1b-4d3e-9a6c-5b2e1f4d8a70";

/// Sherweb for the demo: Contoso, mapped to the tenant, may buy the tenant's
/// three SKUs (`SPB` on an annual commitment) and holds no subscription, so an
/// organization mapped to `sherweb` orders what it lacks.
fn demo_sherweb() -> SherwebSeed {
    let item = |sku: &str, name: &str, term: Option<&str>| SherwebCatalogItem {
        sku: sku.into(),
        name: name.into(),
        commitment_term: term.map(str::to_owned),
        sku_part_number: Some(sku.into()),
    };
    SherwebSeed {
        clients: vec![SherwebClient {
            client_id: "sandbox-sherweb-client".into(),
            client_secret: "sandbox-sherweb-secret".into(),
        }],
        subscription_keys: vec!["sandbox-sherweb-key".into()],
        customers: vec![SherwebCustomer {
            id: DEMO_SHERWEB_CUSTOMER.into(),
            display_name: DEMO_NAME.into(),
            microsoft_tenant: Some(DEMO_TENANT_DOMAIN.into()),
        }],
        catalog: vec![
            item("SPB", "Microsoft 365 Business Premium", Some("Annual")),
            item(
                "O365_BUSINESS_PREMIUM",
                "Microsoft 365 Business Standard",
                Some("Annual"),
            ),
            item(
                "EXCHANGESTANDARD",
                "Exchange Online (Plan 1)",
                Some("Monthly"),
            ),
        ],
        ..SherwebSeed::default()
    }
}

/// Pax8 for the demo: the three Microsoft products of the Contoso tenant,
/// findable by `skuPartNumber` (as `vendorSku`) and by SKU id (as `altVendorSku`).
fn demo_pax8() -> Pax8Seed {
    let product = |id: &str, name: &str, sku: &str, part: &str, sku_id: &str| Pax8Product {
        id: id.into(),
        name: name.into(),
        vendor_name: "Microsoft".into(),
        sku: sku.into(),
        vendor_sku: Some(part.into()),
        alt_vendor_sku: Some(sku_id.into()),
        requires_commitment: false,
        sku_part_number: Some(part.into()),
    };
    let subscription = |id: &str, product_id: &str, quantity| Pax8Subscription {
        id: id.into(),
        company_id: DEMO_PAX8_COMPANY.into(),
        product_id: product_id.into(),
        quantity,
        status: "Active".into(),
        billing_term: "Monthly".into(),
        commitment_term: None,
        start_date: None,
    };
    Pax8Seed {
        clients: vec![Pax8Credentials {
            client_id: "sandbox-pax8-client".into(),
            client_secret: "sandbox-pax8-secret".into(),
        }],
        companies: vec![
            Pax8Company {
                id: DEMO_PAX8_COMPANY.into(),
                name: DEMO_NAME.into(),
                external_id: Some("contoso".into()),
                website: Some("https://contoso.com".into()),
                status: "Active".into(),
                microsoft_tenant: Some(DEMO_TENANT_DOMAIN.into()),
            },
            // The second demo organization, so the MSP-wide distributor maps it too.
            Pax8Company {
                id: "7c4f5a1b-2d3e-4f60-9b8c-1d2e3f4a5b6c".into(),
                name: "Fabrikam".into(),
                external_id: Some("fabrikam".into()),
                website: Some("https://fabrikam.com".into()),
                status: "Active".into(),
                microsoft_tenant: Some("fabrikam.onmicrosoft.com".into()),
            },
        ],
        products: vec![
            product(
                "a1f3c5e7-0b2d-4f6a-8c9e-1b3d5f7a9c0e",
                "Microsoft 365 Business Standard",
                "MST-365-BS-NCE-M",
                "O365_BUSINESS_PREMIUM",
                "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
            ),
            product(
                "b2e4d6f8-1c3e-4a5b-9d0f-2c4e6a8b0d1f",
                "Microsoft 365 Business Premium",
                "MST-365-BP-NCE-M",
                "SPB",
                "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
            ),
            product(
                "c3f5e7a9-2d4f-4b6c-8e1a-3d5f7b9c1e2a",
                "Exchange Online (Plan 1)",
                "MST-EXO-P1-NCE-M",
                "EXCHANGESTANDARD",
                "4b9405b0-7788-4568-add1-99614e613b69",
            ),
        ],
        subscriptions: vec![
            subscription(
                "d4a6f8b0-3e5a-4c7d-9f2b-4e6a8c0d2f3b",
                "a1f3c5e7-0b2d-4f6a-8c9e-1b3d5f7a9c0e",
                5,
            ),
            subscription(
                "e5b7a9c1-4f6b-4d8e-8a3c-5f7b9d1e3a4c",
                "b2e4d6f8-1c3e-4a5b-9d0f-2c4e6a8b0d1f",
                2,
            ),
            subscription(
                "f6c8b0d2-5a7c-4e9f-9b4d-6a8c0e2f4b5d",
                "c3f5e7a9-2d4f-4b6c-8e1a-3d5f7b9c1e2a",
                10,
            ),
        ],
        ..Pax8Seed::default()
    }
}

/// One customer tenant of the Graph seed, as `GET /api/organizations` can list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxOrganization {
    /// A stable slug of the tenant's name (`contoso`).
    pub id: String,
    /// The tenant's display name (`Contoso`).
    pub name: String,
    /// The tenant's default (first) domain (`contoso.com`).
    pub domain: String,
    /// The Entra tenant id.
    pub tenant_id: String,
}

impl SandboxSeed {
    /// The Graph seed's tenants as organizations, in seed order.
    pub fn organizations(&self) -> Vec<SandboxOrganization> {
        self.graph
            .tenants
            .iter()
            .map(|t| {
                let domain = t.domains.first().cloned().unwrap_or_default();
                let name = if t.display_name.is_empty() {
                    domain.clone()
                } else {
                    t.display_name.clone()
                };
                SandboxOrganization {
                    id: slug(&name),
                    name,
                    domain,
                    tenant_id: t.id.clone(),
                }
            })
            .collect()
    }
}

fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// A `[sandbox]` seed the sandbox cannot start from; the message names the simulator and the culprit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The Graph seed is inconsistent.
    #[error("sandbox.graph: {0}")]
    Graph(#[from] SeedError),
    /// A PSA seed is inconsistent (a seed ticket naming an unknown board, ...).
    #[error("sandbox.{service}: {message}")]
    Seed {
        /// `connectwise`, `autotask` or `halopsa`.
        service: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A simulator's `faults` settings are out of range.
    #[error("sandbox.{service}.faults: {message}")]
    Faults {
        /// The simulator.
        service: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A Pax8 company provisions into a tenant the Graph seed does not have,
    /// or one of its subscriptions is for a SKU that tenant does not have.
    #[error("sandbox.pax8: company '{company}' maps to {problem}")]
    Pax8Mapping {
        /// The Pax8 company's name.
        company: String,
        /// What the tenant lacks.
        problem: String,
    },
}

/// Adds the seats Pax8 provisioned to the Graph tenant the company maps to.
#[derive(Debug)]
struct GraphSeats {
    graph: GraphState,
}

impl SeatHook for GraphSeats {
    fn seats_changed(&self, change: &SeatChange) {
        let (Some(tenant), Some(sku)) = (&change.microsoft_tenant, &change.sku_part_number) else {
            tracing::debug!(
                subscription = %change.subscription_id,
                "pax8 change for a company or product not mapped to a tenant SKU"
            );
            return;
        };
        let seats = u32::try_from(change.delta.unsigned_abs()).unwrap_or(u32::MAX);
        let result = if change.delta >= 0 {
            self.graph.add_seats(tenant, sku, seats)
        } else {
            self.graph.remove_seats(tenant, sku, seats)
        };
        match result {
            Ok(enabled) => tracing::debug!(
                tenant,
                sku,
                delta = change.delta,
                enabled,
                "pax8 seats provisioned"
            ),
            Err(error) => tracing::warn!(
                tenant,
                sku,
                delta = change.delta,
                error = %error,
                "pax8 provisioned seats the graph tenant cannot take"
            ),
        }
    }
}

/// Every simulator, built from one [`SandboxSeed`], sharing one clock.
///
/// Cloning is cheap and every clone shares the same state.
#[derive(Debug, Clone)]
pub struct Sandbox {
    graph: GraphSimulator,
    connectwise: ConnectWiseSim,
    autotask: AutotaskSim,
    halopsa: HaloSim,
    itglue: ItGlue,
    hudu: Hudu,
    pwpush: PwPush,
    pax8: Pax8,
    exchange: ExchangeSimulator,
    sherweb: Sherweb,
    entra: Entra,
    outbox: Outbox,
    registry: FaultRegistry,
}

impl Sandbox {
    /// Builds every simulator from `seed`, on the real clock.
    pub fn new(seed: &SandboxSeed) -> Result<Self, SandboxError> {
        Self::with_clock(seed, Arc::new(jiff::Timestamp::now))
    }

    /// Builds every simulator from `seed`; the ones that keep time read `clock`.
    pub fn with_clock(seed: &SandboxSeed, clock: SandboxClock) -> Result<Self, SandboxError> {
        let graph = GraphSimulator::with_clock(&seed.graph, clock.clone())?;
        check_pax8_mapping(&seed.pax8, graph.state())?;
        let seed_error = |service| move |message| SandboxError::Seed { service, message };
        let connectwise =
            ConnectWiseSim::new(seed.connectwise.clone()).map_err(seed_error("connectwise"))?;
        let autotask = AutotaskSim::new(seed.autotask.clone()).map_err(seed_error("autotask"))?;
        let halopsa = HaloSim::new(seed.halopsa.clone()).map_err(seed_error("halopsa"))?;
        let itglue = ItGlue::new(seed.itglue.clone());
        let hudu = Hudu::new(seed.hudu.clone());
        let pwpush = {
            let clock = clock.clone();
            PwPush::new(seed.pwpush.clone()).with_clock(move || clock())
        };
        let pax8 = {
            let hook = Arc::new(GraphSeats {
                graph: graph.state().clone(),
            });
            let clock = clock.clone();
            Pax8::new(seed.pax8.clone(), hook).with_clock(move || clock())
        };
        let exchange =
            ExchangeSimulator::with_clock(&seed.exchange, graph.state().clone(), clock.clone())
                .map_err(seed_error("exchange"))?;
        let sherweb = {
            let hook = Arc::new(GraphSeats {
                graph: graph.state().clone(),
            });
            let clock = clock.clone();
            Sherweb::new(seed.sherweb.clone(), hook).with_clock(move || clock())
        };
        let entra = {
            let clock = clock.clone();
            Entra::new(seed.entra.clone())
                .map_err(seed_error("entra"))?
                .with_clock(move || clock())
        };
        let mut registry = FaultRegistry::default();
        for faults in [
            graph.faults(),
            exchange.faults(),
            connectwise.faults(),
            autotask.faults(),
            halopsa.faults(),
            itglue.faults(),
            hudu.faults(),
            pwpush.faults(),
            pax8.faults(),
            sherweb.faults(),
            entra.faults(),
        ] {
            // Each injector's service name is its `[sandbox.*]` section's name.
            let service = faults.service();
            faults
                .settings()
                .validate()
                .map_err(|message| SandboxError::Faults { service, message })?;
            registry.register(faults.clone());
        }
        Ok(Self {
            graph,
            connectwise,
            autotask,
            halopsa,
            itglue,
            hudu,
            pwpush,
            pax8,
            exchange,
            sherweb,
            entra,
            outbox: Outbox::new(),
            registry,
        })
    }

    /// The Graph tenants.
    pub fn graph(&self) -> &GraphState {
        self.graph.state()
    }

    /// The Exchange Online simulator (mailboxes over the Graph tenants).
    pub fn exchange(&self) -> &ExchangeSimulator {
        &self.exchange
    }

    /// The ConnectWise Manage site.
    pub fn connectwise(&self) -> &ConnectWiseSim {
        &self.connectwise
    }

    /// The Autotask zone.
    pub fn autotask(&self) -> &AutotaskSim {
        &self.autotask
    }

    /// The HaloPSA instance.
    pub fn halopsa(&self) -> &HaloSim {
        &self.halopsa
    }

    /// The IT Glue account.
    pub fn itglue(&self) -> &ItGlue {
        &self.itglue
    }

    /// The Hudu instance.
    pub fn hudu(&self) -> &Hudu {
        &self.hudu
    }

    /// The Password Pusher instance.
    pub fn pwpush(&self) -> &PwPush {
        &self.pwpush
    }

    /// The Pax8 partner account.
    pub fn pax8(&self) -> &Pax8 {
        &self.pax8
    }

    /// The Sherweb service-provider account.
    pub fn sherweb(&self) -> &Sherweb {
        &self.sherweb
    }

    /// The sign-in issuer.
    pub fn entra(&self) -> &Entra {
        &self.entra
    }

    /// The outbox `GET /sandbox/outbox` lists. The local runtime's notifier
    /// must record into this very handle (see the crate's wiring notes).
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Every simulator's fault injector, by service name.
    pub fn faults(&self) -> &FaultRegistry {
        &self.registry
    }

    /// Runs whatever fell due by the clock's current time: Pax8 orders and
    /// quantity changes reach the Graph tenant. Password Pusher expiry needs
    /// no run (it is judged on each request). Returns how many seat changes
    /// were provisioned. Call it after moving the virtual clock
    /// (`POST /sandbox/clock`); the router also calls it before each request.
    pub fn run_due(&self) -> usize {
        self.pax8.provision_due() + self.sherweb.provision_due()
    }

    /// Runs [`Self::run_due`] every `period` of real time, for a server on
    /// the real clock. Abort the handle to stop.
    pub fn spawn_ticker(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let sandbox = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            loop {
                interval.tick().await;
                sandbox.run_due();
            }
        })
    }

    /// Everything "in the tenant" right now, one key per simulator, each in
    /// its vendor's field names: `graph` (users with their groups, licenses
    /// and manager; groups with members; `subscribedSkus`), `connectwise`,
    /// `autotask`, `halopsa` (`tickets`, each with its `notes`), `itglue`
    /// (`passwords`), `hudu` (`asset_passwords`), `pwpush` (`pushes`), `pax8`
    /// (`subscriptions`, `orders`). Stored secrets (vault passwords, push
    /// payloads) are masked; a ticket note is shown as written. `base` is
    /// where the sandbox is served (`http://127.0.0.1:3000`), for links.
    /// `faults` counts what each simulator's fault injector has done.
    pub fn state(&self, base: &str) -> serde_json::Value {
        serde_json::json!({
            "faults": self.registry.counts_json(),
            "graph": self.graph.state().state_json(),
            "connectwise": self.connectwise.state_json(),
            "autotask": self.autotask.state_json(),
            "halopsa": self.halopsa.state_json(),
            "itglue": self.itglue.state_json(),
            "hudu": self.hudu.state_json(),
            "pwpush": self.pwpush.state_json(&format!("{base}/sandbox/pwpush")),
            "pax8": self.pax8.state_json(),
            "exchange": self.exchange.state_json(),
            "sherweb": self.sherweb.state_json(),
            "entra": self.entra.state_json(),
        })
    }

    /// Every simulator at its CONTRACT.md path, plus `GET /sandbox/outbox`,
    /// `GET /sandbox/state` and `/sandbox/faults`. Merge it into the server's
    /// router as it is.
    pub fn router(&self) -> Router {
        Router::new()
            .nest("/sandbox/graph", self.graph.router())
            .merge(connectwise::router(&self.connectwise))
            .merge(autotask::router(&self.autotask))
            .merge(halopsa::router(&self.halopsa))
            .nest("/sandbox/itglue", itglue::router(self.itglue.clone()))
            .nest("/sandbox/hudu", hudu::router(self.hudu.clone()))
            .nest("/sandbox/pwpush", pwpush::router(self.pwpush.clone()))
            .nest("/sandbox/pax8", pax8::router(self.pax8.clone()))
            .nest("/sandbox/exchange", self.exchange.router())
            .nest("/sandbox/sherweb", sherweb::router(self.sherweb.clone()))
            .nest("/sandbox/entra", entra::router(self.entra.clone()))
            .nest("/sandbox/outbox", outbox::router(self.outbox.clone()))
            .route("/sandbox/state", get(state).with_state(self.clone()))
            .route(
                "/sandbox",
                get(crate::tenant_page::page).with_state(self.clone()),
            )
            .nest(
                "/sandbox/faults",
                faults::control_router(self.registry.clone()),
            )
            .layer(middleware::from_fn_with_state(self.clone(), run_due_first))
    }
}

/// `GET /sandbox/state`: [`Sandbox::state`], with links at the address asked.
async fn state(State(sandbox): State<Sandbox>, headers: HeaderMap) -> Json<serde_json::Value> {
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    Json(sandbox.state(&format!("http://{host}")))
}

/// Before a sandbox request is answered, whatever fell due is in place.
async fn run_due_first(State(sandbox): State<Sandbox>, request: Request, next: Next) -> Response {
    sandbox.run_due();
    // Only a Graph write can license a user.
    let graph_write = request.method() != axum::http::Method::GET
        && request.uri().path().starts_with("/sandbox/graph/");
    let response = next.run(request).await;
    if graph_write {
        // A license Graph has just given starts its mailbox's provisioning now,
        // not when Exchange is first asked about it.
        sandbox.exchange.provision();
    }
    response
}

/// A Pax8 company mapped to a tenant must name one the Graph seed has, and
/// its subscriptions' SKUs must exist there, or bought seats would vanish.
fn check_pax8_mapping(seed: &Pax8Seed, graph: &GraphState) -> Result<(), SandboxError> {
    for company in &seed.companies {
        let Some(tenant) = &company.microsoft_tenant else {
            continue;
        };
        let mapping = |problem: String| SandboxError::Pax8Mapping {
            company: company.name.clone(),
            problem,
        };
        if matches!(
            graph.free_seats(tenant, ""),
            Err(StateError::UnknownTenant(_))
        ) {
            return Err(mapping(format!(
                "tenant '{tenant}', which the graph seed does not have"
            )));
        }
        let skus = seed
            .subscriptions
            .iter()
            .filter(|s| !company.id.is_empty() && s.company_id == company.id)
            .filter_map(|s| seed.products.iter().find(|p| p.id == s.product_id))
            .filter_map(|p| p.sku_part_number.as_deref());
        for sku in skus {
            if graph.free_seats(tenant, sku).is_err() {
                return Err(mapping(format!(
                    "tenant '{tenant}', which has no sku '{sku}'"
                )));
            }
        }
    }
    Ok(())
}
