//! [`StoreConnections`]: the steps' [`Connections`] on AWS, built from the
//! connector settings kept in the store (`CONN#<scope>` items, `docs/dynamodb.md`)
//! with their secrets resolved through a [`SecretSource`].
//!
//! What the store must hold (an organization's scope `org:<id>` overrides the
//! MSP-wide scope `msp`, one whole connector item at a time):
//!
//! | connector | settings | secrets |
//! | --- | --- | --- |
//! | `organization` (org scope only) | `tenant_id`, `domain`, `name` (default: the id) | — |
//! | `graph` | `client_id`, optional `authority`, `graph_url`, `scope` | `client_secret` |
//! | `connectwise`, `autotask`, `halopsa` | the string fields of the connector's config (`ConnectWiseConfig`, ...) | its secret fields |
//! | `itglue`, `hudu` | `base_url`, optional `organization_id` (IT Glue) / `company_id` (Hudu) | `api_key` |
//! | `passportal` | `base_url`, `access_key_id` | `hmac_token` |
//! | `pwpush` (optional) | optional `base_url` (else the variable `pwpush_url`), `email` | optional `api_token` |
//! | `pax8` | `client_id`, optional `token_url`, `api_base`, `audience`, `billing_term`, `ordered_by_email`, `company_id` | `client_secret` |
//! | `exchange` (optional: turns the mailbox actions on) | optional `url`, `scope`, `client_id`, `authority` (default: `graph`'s) | optional `client_secret` (default: `graph`'s) |
//! | `sherweb` | `client_id`, optional `token_url`, `api_base`, `scope`, `ordered_by`, `skus`, `customer_id` | `client_secret`, `subscription_key` |
//!
//! The clients are built by [`onboard_connectors::settings`], as `onboard serve` builds them.
//!
//! The Graph client (one app registration for every tenant) is built once per
//! container; the other connectors on each call, as their settings are per organization.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use onboard_connectors::distributor::Distributor;
use onboard_connectors::exchange::{Exchange, ExchangeClient};
use onboard_connectors::graph::{Directory, GraphClient, TenantId};
use onboard_connectors::http::{HttpClient, RetryPolicy};
use onboard_connectors::psa::Psa;
use onboard_connectors::psa::autotask::{Autotask, AutotaskConfig};
use onboard_connectors::psa::connectwise::{ConnectWise, ConnectWiseConfig};
use onboard_connectors::psa::halopsa::{HaloConfig, HaloPsa};
use onboard_connectors::settings::{self, ConnectorTable, SettingError};
use onboard_connectors::vault::{PassportalVault, PasswordVault, PwPushSettings, PwPushVault};
use onboard_domain::Variables;
use onboard_domain::variables::{
    Distributor as DistributorName, PasswordSaveLocation, Psa as PsaName,
};
use onboard_steps::error::Port;
use onboard_steps::{Connections, Organization, StepError};
use onboard_store::{ConnectorSettings, Scope, Store};
use tokio::sync::OnceCell;

use crate::secrets::SecretSource;

/// Connectors from the store's settings and their secrets.
pub struct StoreConnections {
    store: Arc<dyn Store>,
    secrets: Arc<dyn SecretSource>,
    directory: OnceCell<Arc<dyn Directory>>,
}

impl std::fmt::Debug for StoreConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConnections").finish_non_exhaustive()
    }
}

/// A connector setting that is missing or wrong, as the steps report it.
fn setting_error(e: SettingError) -> StepError {
    StepError::Config(e.to_string())
}

fn http(service: &'static str) -> Result<HttpClient, StepError> {
    HttpClient::new(service, RetryPolicy::default())
        .map_err(|e| StepError::Config(format!("{service}: {e}")))
}

impl StoreConnections {
    /// Connections reading `store` and resolving secrets through `secrets`.
    pub fn new(store: Arc<dyn Store>, secrets: Arc<dyn SecretSource>) -> Self {
        Self {
            store,
            secrets,
            directory: OnceCell::new(),
        }
    }

    /// The connector's settings in the organization's scope, else MSP-wide, resolved.
    async fn resolved(
        &self,
        organization: Option<&str>,
        connector: &str,
    ) -> Result<Option<ConnectorTable>, StepError> {
        let mut found: Option<ConnectorSettings> = None;
        if let Some(id) = organization {
            found = self
                .store
                .connector(&Scope::Organization(id.to_owned()), connector)
                .await?;
        }
        if found.is_none() {
            found = self.store.connector(&Scope::Msp, connector).await?;
        }
        let Some(found) = found else {
            return Ok(None);
        };
        let mut secrets = BTreeMap::new();
        for (name, reference) in &found.secrets {
            let secret = self.secrets.resolve(reference).await.map_err(|e| {
                StepError::Config(format!("connector `{connector}`, secret `{name}`: {e}"))
            })?;
            secrets.insert(name.clone(), secret);
        }
        Ok(Some(ConnectorTable {
            plain: found.settings,
            secrets,
        }))
    }

    async fn required(
        &self,
        organization: Option<&str>,
        connector: &str,
    ) -> Result<ConnectorTable, StepError> {
        self.resolved(organization, connector)
            .await?
            .ok_or_else(|| {
                StepError::Config(format!(
                    "connector `{connector}` is not configured{}",
                    organization
                        .map(|id| format!(" for organization `{id}` or MSP-wide"))
                        .unwrap_or_default()
                ))
            })
    }

    async fn build_directory(&self) -> Result<Arc<dyn Directory>, StepError> {
        let graph = self.required(None, "graph").await?;
        let config = settings::graph(&graph).map_err(setting_error)?;
        let client = GraphClient::new(config).map_err(|e| StepError::connector(Port::Graph, e))?;
        Ok(Arc::new(client))
    }
}

#[async_trait]
impl Connections for StoreConnections {
    async fn organization(&self, organization: &str) -> Result<Organization, StepError> {
        let Some(found) = self
            .store
            .connector(
                &Scope::Organization(organization.to_owned()),
                "organization",
            )
            .await?
        else {
            return Err(StepError::RequestRefused(format!(
                "unknown organization `{organization}`"
            )));
        };
        let setting = |name: &str| {
            found.settings.get(name).cloned().ok_or_else(|| {
                StepError::Config(format!(
                    "organization `{organization}`: `{name}` is not set"
                ))
            })
        };
        let tenant = TenantId::new(setting("tenant_id")?).map_err(|e| {
            StepError::Config(format!("organization `{organization}`: tenant_id: {e}"))
        })?;
        Ok(Organization {
            id: organization.to_owned(),
            name: found
                .settings
                .get("name")
                .cloned()
                .unwrap_or_else(|| organization.to_owned()),
            domain: setting("domain")?,
            tenant,
        })
    }

    async fn directory(&self, _: &Organization) -> Result<Arc<dyn Directory>, StepError> {
        self.directory
            .get_or_try_init(|| self.build_directory())
            .await
            .cloned()
    }

    async fn psa(
        &self,
        organization: &Organization,
        kind: Option<PsaName>,
    ) -> Result<Option<Arc<dyn Psa>>, StepError> {
        let org = Some(organization.id.as_str());
        Ok(Some(match kind {
            Some(PsaName::ConnectWise) => {
                let config: ConnectWiseConfig = self
                    .required(org, "connectwise")
                    .await?
                    .into_config("connectwise")
                    .map_err(setting_error)?;
                Arc::new(ConnectWise::new(config, http("connectwise")?))
            }
            Some(PsaName::Autotask) => {
                let config: AutotaskConfig = self
                    .required(org, "autotask")
                    .await?
                    .into_config("autotask")
                    .map_err(setting_error)?;
                Arc::new(Autotask::new(config, http("autotask")?))
            }
            Some(PsaName::HaloPsa) => {
                let config: HaloConfig = self
                    .required(org, "halopsa")
                    .await?
                    .into_config("halopsa")
                    .map_err(setting_error)?;
                Arc::new(HaloPsa::new(config, http("halopsa")?))
            }
            Some(PsaName::NoPsa) | None => return Ok(None),
        }))
    }

    async fn vault(
        &self,
        organization: &Organization,
        location: PasswordSaveLocation,
        variables: &Variables,
    ) -> Result<Arc<dyn PasswordVault>, StepError> {
        let org = Some(organization.id.as_str());
        let vault_error = |e| StepError::connector(Port::Vault, e);
        Ok(match location {
            PasswordSaveLocation::ItGlue => {
                let s = self.required(org, "itglue").await?;
                Arc::new(
                    settings::itglue(&s, http("itglue")?, &organization.name)
                        .map_err(setting_error)?,
                )
            }
            PasswordSaveLocation::Hudu => {
                let s = self.required(org, "hudu").await?;
                Arc::new(
                    settings::hudu(&s, http("hudu")?, &organization.name).map_err(setting_error)?,
                )
            }
            PasswordSaveLocation::Passportal => {
                let s = self.required(org, "passportal").await?;
                Arc::new(PassportalVault::new(
                    s.required("passportal", "base_url")
                        .map_err(setting_error)?,
                    s.required("passportal", "access_key_id")
                        .map_err(setting_error)?,
                    s.required_secret("passportal", "hmac_token")
                        .map_err(setting_error)?,
                ))
            }
            PasswordSaveLocation::PwPush => {
                let table = self.resolved(org, "pwpush").await?.unwrap_or_default();
                let base =
                    settings::pwpush_url(&table, variables.pwpush_url.as_ref().map(|u| u.as_str()))
                        .map_err(setting_error)?;
                let auth = settings::pwpush_auth(&table);
                Arc::new(
                    PwPushVault::new(http("pwpush")?, &base, auth, PwPushSettings::default())
                        .map_err(vault_error)?,
                )
            }
            PasswordSaveLocation::Psa => {
                return Err(StepError::Config(
                    "the PSA is not a vault: the steps note the ticket themselves".into(),
                ));
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
        let Some(s) = self.resolved(Some(&organization.id), name).await? else {
            return Ok(None);
        };
        let org = (organization.id.as_str(), organization.name.as_str());
        Ok(Some(match distributor {
            DistributorName::Sherweb => {
                Arc::new(settings::sherweb(&s, http(name)?, org).map_err(setting_error)?)
            }
            _ => Arc::new(settings::pax8(&s, http(name)?, org).map_err(setting_error)?),
        }))
    }

    async fn exchange(
        &self,
        organization: &Organization,
    ) -> Result<Option<Arc<dyn Exchange>>, StepError> {
        let org = Some(organization.id.as_str());
        let Some(exchange) = self.resolved(org, "exchange").await? else {
            return Ok(None);
        };
        let graph = self.resolved(org, "graph").await?.unwrap_or_default();
        let config = settings::exchange(&graph, &exchange).map_err(setting_error)?;
        let client =
            ExchangeClient::new(config).map_err(|e| StepError::connector(Port::Exchange, e))?;
        Ok(Some(Arc::new(client)))
    }
}
