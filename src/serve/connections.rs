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
use onboard_connectors::distributor::{Pax8Distributor, Pax8Settings};
use onboard_connectors::graph::{AppCredentials, Directory, GraphClient, GraphConfig, TenantId};
use onboard_connectors::http::{HttpClient, RetryPolicy};
use onboard_connectors::psa::Psa;
use onboard_connectors::psa::autotask::{Autotask, AutotaskConfig};
use onboard_connectors::psa::connectwise::{ConnectWise, ConnectWiseConfig};
use onboard_connectors::psa::halopsa::{HaloConfig, HaloPsa};
use onboard_connectors::vault::{
    HuduVault, ItGlueVault, PasswordVault, PwPushAuth, PwPushSettings, PwPushVault,
};
use onboard_domain::Variables;
use onboard_domain::variables::{
    Distributor as DistributorName, PasswordSaveLocation, Psa as PsaName,
};
use onboard_steps::{Connections, Organization, StepError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

/// One connector's settings: plain values and resolved secrets (redacted in `Debug`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectorTable {
    pub(crate) plain: BTreeMap<String, String>,
    pub(crate) secrets: BTreeMap<String, SecretString>,
}

impl ConnectorTable {
    /// `other`'s keys over this table's.
    pub(crate) fn overlaid(&self, other: Option<&ConnectorTable>) -> ConnectorTable {
        let mut out = self.clone();
        if let Some(o) = other {
            out.plain
                .extend(o.plain.iter().map(|(k, v)| (k.clone(), v.clone())));
            out.secrets
                .extend(o.secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.plain.get(key).map(String::as_str)
    }

    fn secret(&self, key: &str) -> Option<&SecretString> {
        self.secrets.get(key)
    }

    /// The table as a JSON object (secrets exposed: only to build a config struct).
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.plain {
            let value = v
                .parse::<u64>()
                .ok()
                .filter(|_| k.ends_with("page_size"))
                .map_or_else(|| Value::String(v.clone()), Value::from);
            m.insert(k.clone(), value);
        }
        for (k, v) in &self.secrets {
            m.insert(k.clone(), Value::String(v.expose_secret().to_owned()));
        }
        Value::Object(m)
    }
}

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
    /// With the sandbox: where the Password Pusher simulator is (it wins over `pwpush_url`).
    sandbox_pwpush: Option<String>,
    policy: RetryPolicy,
    directories: Mutex<HashMap<String, Arc<dyn Directory>>>,
    psas: Mutex<HashMap<PsaKey, Arc<dyn Psa>>>,
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
        sandbox_pwpush: Option<String>,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            organizations,
            msp,
            sandbox_pwpush,
            policy,
            directories: Mutex::default(),
            psas: Mutex::default(),
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

    fn http(&self, service: &'static str) -> Result<HttpClient, StepError> {
        HttpClient::new(service, self.policy.clone())
            .map_err(|e| StepError::connector(onboard_steps::error::Port::Graph, e))
    }
}

fn need<'a>(table: &'a ConnectorTable, connector: &str, key: &str) -> Result<&'a str, StepError> {
    table
        .get(key)
        .ok_or_else(|| config_error(format!("connectors.{connector}.{key} is not set")))
}

fn need_secret<'a>(
    table: &'a ConnectorTable,
    connector: &str,
    key: &str,
) -> Result<&'a SecretString, StepError> {
    table
        .secret(key)
        .ok_or_else(|| config_error(format!("connectors.{connector}.{key} is not set")))
}

fn build_config<T: serde::de::DeserializeOwned>(
    table: &ConnectorTable,
    connector: &str,
) -> Result<T, StepError> {
    serde_json::from_value(table.to_json())
        .map_err(|e| config_error(format!("connectors.{connector}: {e}")))
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
        let table = self
            .table(&organization.id, "graph")
            .ok_or_else(|| config_error("connectors.graph is not configured"))?;
        let credentials = AppCredentials {
            client_id: need(&table, "graph", "client_id")?.to_owned(),
            client_secret: need_secret(&table, "graph", "client_secret")?.clone(),
        };
        let graph_error = |e| StepError::connector(onboard_steps::error::Port::Graph, e);
        let mut config = match (table.get("authority"), table.get("graph_url")) {
            (Some(authority), Some(graph)) => GraphConfig::new(
                authority,
                graph,
                table
                    .get("scope")
                    .unwrap_or("https://graph.microsoft.com/.default"),
                credentials,
            ),
            (None, None) => GraphConfig::global(credentials),
            _ => {
                return Err(config_error(
                    "connectors.graph: set both authority and graph_url, or neither",
                ));
            }
        }
        .map_err(graph_error)?;
        config.retry = self.policy.clone();
        let client: Arc<dyn Directory> = Arc::new(GraphClient::new(config).map_err(graph_error)?);
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
                build_config::<ConnectWiseConfig>(&table, name)?,
                http,
            )),
            "autotask" => Arc::new(Autotask::new(
                build_config::<AutotaskConfig>(&table, name)?,
                http,
            )),
            _ => Arc::new(HaloPsa::new(
                build_config::<HaloConfig>(&table, name)?,
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
        let vault_error = |e| StepError::connector(onboard_steps::error::Port::Vault, e);
        let (name, service) = match location {
            PasswordSaveLocation::ItGlue => ("itglue", "itglue"),
            PasswordSaveLocation::Hudu => ("hudu", "hudu"),
            PasswordSaveLocation::PwPush => ("pwpush", "pwpush"),
            PasswordSaveLocation::Passportal => {
                return Err(config_error(
                    "onboarding_password_save_location passportal: Passportal has no API to \
                     store passwords; choose itglue, hudu, pwpush or psa",
                ));
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
                let mut v = ItGlueVault::new(
                    http,
                    need(&table, name, "base_url")?,
                    need_secret(&table, name, "api_key")?.clone(),
                )
                .map_err(vault_error)?;
                if let Some(id) = table.get("organization_id") {
                    v = v.with_organization_id(&organization.name, id);
                }
                Arc::new(v)
            }
            PasswordSaveLocation::Hudu => {
                let mut v = HuduVault::new(
                    http,
                    need(&table, name, "base_url")?,
                    need_secret(&table, name, "api_key")?.clone(),
                )
                .map_err(vault_error)?;
                if let Some(id) = table.get("company_id") {
                    let id: u64 = id.parse().map_err(|_| {
                        config_error(format!("connectors.{name}.company_id is not a number"))
                    })?;
                    v = v.with_company_id(&organization.name, id);
                }
                Arc::new(v)
            }
            _ => {
                let url = match &self.sandbox_pwpush {
                    Some(u) => u.clone(),
                    None => variables
                        .pwpush_url
                        .as_ref()
                        .map(ToString::to_string)
                        .ok_or_else(|| config_error("pwpush_url is not set"))?,
                };
                let auth = match (table.get("email"), table.secret("api_token")) {
                    (Some(email), Some(token)) => PwPushAuth::UserToken {
                        email: email.to_owned(),
                        token: token.clone(),
                    },
                    (None, Some(token)) => PwPushAuth::Bearer(token.clone()),
                    _ => PwPushAuth::Anonymous,
                };
                Arc::new(
                    PwPushVault::new(http, &url, auth, PwPushSettings::default())
                        .map_err(vault_error)?,
                )
            }
        })
    }

    async fn distributor(
        &self,
        organization: &Organization,
        distributor: DistributorName,
    ) -> Result<Option<Arc<dyn Distributor>>, StepError> {
        if distributor != DistributorName::Pax8 {
            return Ok(None);
        }
        let Some(table) = self.table(&organization.id, "pax8") else {
            return Ok(None);
        };
        let mut settings = Pax8Settings::new(
            need(&table, "pax8", "client_id")?,
            need_secret(&table, "pax8", "client_secret")?.clone(),
        );
        if let Some(u) = table.get("token_url") {
            settings.token_url = u.to_owned();
        }
        if let Some(u) = table.get("api_base") {
            settings.api_base = u.to_owned();
        }
        if let Some(e) = table.get("ordered_by_email") {
            settings.ordered_by_email = Some(e.to_owned());
        }
        let http = HttpClient::new("pax8", self.policy.clone())
            .map_err(|e| StepError::connector(onboard_steps::error::Port::Distributor, e))?;
        let mut d = Pax8Distributor::new(http, settings);
        if let Some(id) = table.get("company_id") {
            d = d
                .with_company_id(&organization.name, id)
                .with_company_id(&organization.id, id);
        }
        Ok(Some(Arc::new(d)))
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
