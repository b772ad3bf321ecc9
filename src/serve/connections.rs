//! The steps' per-organization [`Connections`], built from `onboard.toml` (or, with
//! the sandbox, from the sandbox's seed and its address).
//!
//! Each connector's settings are a table of plain values and secrets: the
//! MSP-wide `[connectors.<name>]`, overridden key by key by the organization's
//! `[organizations.<id>.connectors.<name>]`. The PSA tables are exactly the
//! connector crate's config structs (`ConnectWiseConfig`, `AutotaskConfig`,
//! `HaloConfig`). Clients are built on first use and cached per organization.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use onboard_connectors::distributor::Distributor;
use onboard_connectors::exchange::{Exchange, ExchangeClient};
use onboard_connectors::graph::{Directory, GraphClient, TenantId};
use onboard_connectors::http::{HttpClient, RetryPolicy};
use onboard_connectors::psa::Psa;
use onboard_connectors::psa::autotask::{Autotask, AutotaskConfig};
use onboard_connectors::psa::connectwise::{ConnectWise, ConnectWiseConfig};
use onboard_connectors::psa::halopsa::{HaloConfig, HaloPsa};
use onboard_connectors::vault::{PasswordVault, PwPushSettings, PwPushVault};
use onboard_domain::Variables;
use onboard_domain::variables::{
    Distributor as DistributorName, PasswordSaveLocation, Psa as PsaName,
};
use onboard_steps::{Connections, Organization, StepError};

pub(crate) use onboard_connectors::settings::ConnectorTable;
use onboard_connectors::settings::{self, SettingError};

/// One organization: who it is and its connector overrides.
#[derive(Clone)]
pub(crate) struct OrgEntry {
    pub(crate) organization: Organization,
    pub(crate) connectors: BTreeMap<String, ConnectorTable>,
}

/// A PSA client's cache key: the organization and the PSA.
type PsaKey = (String, &'static str);

/// The server's [`Connections`].
pub(crate) struct LocalConnections {
    organizations: BTreeMap<String, OrgEntry>,
    msp: BTreeMap<String, ConnectorTable>,
    policy: RetryPolicy,
    directories: Mutex<HashMap<String, Arc<dyn Directory>>>,
    psas: Mutex<HashMap<PsaKey, Arc<dyn Psa>>>,
    exchanges: Mutex<HashMap<String, Arc<dyn Exchange>>>,
}

fn config_error(setting: impl Into<String>) -> StepError {
    StepError::Config(setting.into())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LocalConnections {
    pub(crate) fn new(
        organizations: BTreeMap<String, OrgEntry>,
        msp: BTreeMap<String, ConnectorTable>,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            organizations,
            msp,
            policy,
            directories: Mutex::default(),
            psas: Mutex::default(),
            exchanges: Mutex::default(),
        }
    }

    fn entry(&self, id: &str) -> Result<&OrgEntry, StepError> {
        self.organizations
            .get(id)
            .ok_or_else(|| StepError::RequestRefused(format!("unknown organization `{id}`")))
    }

    /// The merged settings of `connector` for `organization`.
    fn table(&self, organization: &str, connector: &str) -> Option<ConnectorTable> {
        let org = self
            .organizations
            .get(organization)
            .and_then(|e| e.connectors.get(connector));
        match (self.msp.get(connector), org) {
            (None, None) => None,
            (Some(m), o) => Some(m.overlaid(o)),
            (None, Some(o)) => Some(o.clone()),
        }
    }

    /// The Graph client of `organization`, from its merged `graph` settings
    /// (what [`Connections::directory`] caches; `onboard check` probes it).
    pub(crate) fn graph_client(&self, organization: &str) -> Result<GraphClient, StepError> {
        let table = self
            .table(organization, "graph")
            .ok_or_else(|| config_error("connectors.graph is not configured"))?;
        let graph_error = |e| StepError::connector(onboard_steps::error::Port::Graph, e);
        let mut config = settings::graph(&table).map_err(setting_error)?;
        config.retry = self.policy.clone();
        GraphClient::new(config).map_err(graph_error)
    }

    /// The Exchange Online client of `organization`, from its merged `exchange`
    /// and `graph` settings; `Ok(None)` when it has no `exchange` table
    /// (what [`Connections::exchange`] caches; `onboard check` probes it).
    pub(crate) fn exchange_client(
        &self,
        organization: &str,
    ) -> Result<Option<ExchangeClient>, StepError> {
        let Some(exchange) = self.table(organization, "exchange") else {
            return Ok(None);
        };
        let graph = self.table(organization, "graph").unwrap_or_default();
        let mut config = settings::exchange(&graph, &exchange).map_err(setting_error)?;
        config.retry = self.policy.clone();
        ExchangeClient::new(config)
            .map(Some)
            .map_err(|e| StepError::connector(onboard_steps::error::Port::Exchange, e))
    }

    fn http(&self, service: &'static str) -> Result<HttpClient, StepError> {
        HttpClient::new(service, self.policy.clone())
            .map_err(|e| StepError::connector(onboard_steps::error::Port::Graph, e))
    }
}

/// A setting of `[connectors.<name>]` (or the organization's) that is missing or wrong.
fn setting_error(e: SettingError) -> StepError {
    config_error(format!(
        "connectors.{}.{} {}",
        e.connector, e.setting, e.problem
    ))
}

#[async_trait]
impl Connections for LocalConnections {
    async fn organization(&self, organization: &str) -> Result<Organization, StepError> {
        Ok(self.entry(organization)?.organization.clone())
    }

    async fn directory(
        &self,
        organization: &Organization,
    ) -> Result<Arc<dyn Directory>, StepError> {
        if let Some(d) = lock(&self.directories).get(&organization.id) {
            return Ok(d.clone());
        }
        let client: Arc<dyn Directory> = Arc::new(self.graph_client(&organization.id)?);
        lock(&self.directories).insert(organization.id.clone(), client.clone());
        Ok(client)
    }

    async fn psa(
        &self,
        organization: &Organization,
        kind: Option<PsaName>,
    ) -> Result<Option<Arc<dyn Psa>>, StepError> {
        let name: &'static str = match kind {
            None | Some(PsaName::NoPsa) => return Ok(None),
            Some(PsaName::ConnectWise) => "connectwise",
            Some(PsaName::Autotask) => "autotask",
            Some(PsaName::HaloPsa) => "halopsa",
        };
        let key = (organization.id.clone(), name);
        if let Some(p) = lock(&self.psas).get(&key) {
            return Ok(Some(p.clone()));
        }
        let table = self
            .table(&organization.id, name)
            .ok_or_else(|| config_error(format!("connectors.{name} is not configured")))?;
        let psa_error = |e| StepError::connector(onboard_steps::error::Port::Psa, e);
        let http = HttpClient::new(name, self.policy.clone()).map_err(psa_error)?;
        let client: Arc<dyn Psa> = match name {
            "connectwise" => Arc::new(ConnectWise::new(
                table
                    .into_config::<ConnectWiseConfig>(name)
                    .map_err(setting_error)?,
                http,
            )),
            "autotask" => Arc::new(Autotask::new(
                table
                    .into_config::<AutotaskConfig>(name)
                    .map_err(setting_error)?,
                http,
            )),
            _ => Arc::new(HaloPsa::new(
                table
                    .into_config::<HaloConfig>(name)
                    .map_err(setting_error)?,
                http,
            )),
        };
        lock(&self.psas).insert(key, client.clone());
        Ok(Some(client))
    }

    async fn vault(
        &self,
        organization: &Organization,
        location: PasswordSaveLocation,
        variables: &Variables,
    ) -> Result<Arc<dyn PasswordVault>, StepError> {
        let (name, service) = match location {
            PasswordSaveLocation::ItGlue => ("itglue", "itglue"),
            PasswordSaveLocation::Hudu => ("hudu", "hudu"),
            PasswordSaveLocation::PwPush => ("pwpush", "pwpush"),
            PasswordSaveLocation::Passportal => {
                return Err(config_error(format!(
                    "onboarding_password_save_location passportal: {}; name a fallback after it \
                     (passportal,pwpush) or choose itglue, hudu, pwpush or psa",
                    onboard_domain::notes::PASSPORTAL_NO_PASSWORD_API
                )));
            }
            PasswordSaveLocation::Psa => {
                return Err(StepError::Internal(
                    "the ticket is not a vault: the steps note it themselves".into(),
                ));
            }
        };
        let table = self.table(&organization.id, name).unwrap_or_default();
        let http = self.http(service)?;
        Ok(match location {
            PasswordSaveLocation::ItGlue => {
                Arc::new(settings::itglue(&table, http, &organization.name).map_err(setting_error)?)
            }
            PasswordSaveLocation::Hudu => {
                Arc::new(settings::hudu(&table, http, &organization.name).map_err(setting_error)?)
            }
            _ => {
                let url =
                    settings::pwpush_url(&table, variables.pwpush_url.as_ref().map(|u| u.as_str()))
                        .map_err(setting_error)?;
                Arc::new(
                    PwPushVault::new(
                        http,
                        &url,
                        settings::pwpush_auth(&table),
                        PwPushSettings::default(),
                    )
                    .map_err(|e| StepError::connector(onboard_steps::error::Port::Vault, e))?,
                )
            }
        })
    }

    async fn distributor(
        &self,
        organization: &Organization,
        distributor: DistributorName,
    ) -> Result<Option<Arc<dyn Distributor>>, StepError> {
        let name = match distributor {
            DistributorName::Pax8 => "pax8",
            DistributorName::Sherweb => "sherweb",
            // Not implemented: the manual purchase path, with the reason.
            _ => return Ok(None),
        };
        let Some(table) = self.table(&organization.id, name) else {
            return Ok(None);
        };
        let http = HttpClient::new(name, self.policy.clone())
            .map_err(|e| StepError::connector(onboard_steps::error::Port::Distributor, e))?;
        let org = (organization.id.as_str(), organization.name.as_str());
        Ok(Some(match distributor {
            DistributorName::Sherweb => {
                Arc::new(settings::sherweb(&table, http, org).map_err(setting_error)?)
            }
            _ => Arc::new(settings::pax8(&table, http, org).map_err(setting_error)?),
        }))
    }

    async fn exchange(
        &self,
        organization: &Organization,
    ) -> Result<Option<Arc<dyn Exchange>>, StepError> {
        if let Some(e) = lock(&self.exchanges).get(&organization.id) {
            return Ok(Some(e.clone()));
        }
        let Some(client) = self.exchange_client(&organization.id)? else {
            return Ok(None);
        };
        let client: Arc<dyn Exchange> = Arc::new(client);
        lock(&self.exchanges).insert(organization.id.clone(), client.clone());
        Ok(Some(client))
    }
}

/// The organization as the steps see it, checking its tenant.
pub(crate) fn organization(
    id: &str,
    name: &str,
    domain: &str,
    tenant: &str,
) -> anyhow::Result<Organization> {
    Ok(Organization {
        id: id.to_owned(),
        name: name.to_owned(),
        domain: domain.to_owned(),
        tenant: TenantId::new(tenant)
            .map_err(|e| anyhow::anyhow!("organizations.{id}.connectors.graph.tenant_id: {e}"))?,
    })
}
