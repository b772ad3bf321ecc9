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
//! | `itglue`, `hudu` | `base_url` | `api_key` |
//! | `passportal` | `base_url`, `access_key_id` | `hmac_token` |
//! | `pwpush` (optional; the URL is the variable `pwpush_url`) | — | optional `api_token` |
//! | `pax8` | `client_id`, optional `token_url`, `api_base`, `audience`, `billing_term`, `ordered_by_email` | `client_secret` |
//!
//! The Graph client (one app registration for every tenant) is built once per
//! container; the other connectors on each call, as their settings are per organization.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use onboard_connectors::distributor::{Distributor, Pax8Distributor, Pax8Settings};
use onboard_connectors::graph::{AppCredentials, Directory, GraphClient, GraphConfig, TenantId};
use onboard_connectors::http::{HttpClient, RetryPolicy};
use onboard_connectors::psa::Psa;
use onboard_connectors::psa::autotask::{Autotask, AutotaskConfig};
use onboard_connectors::psa::connectwise::{ConnectWise, ConnectWiseConfig};
use onboard_connectors::psa::halopsa::{HaloConfig, HaloPsa};
use onboard_connectors::vault::{
    HuduVault, ItGlueVault, PassportalVault, PasswordVault, PwPushAuth, PwPushSettings, PwPushVault,
};
use onboard_domain::Variables;
use onboard_domain::variables::{
    Distributor as DistributorName, PasswordSaveLocation, Psa as PsaName,
};
use onboard_steps::error::Port;
use onboard_steps::{Connections, Organization, StepError};
use onboard_store::{ConnectorSettings, Scope, Store};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use crate::secrets::SecretSource;

const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
const DEFAULT_GRAPH: &str = "https://graph.microsoft.com/v1.0";
const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

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

/// One connector's settings with its secrets resolved.
struct Resolved {
    settings: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretString>,
}

impl Resolved {
    fn setting(&self, connector: &str, name: &str) -> Result<&str, StepError> {
        self.settings.get(name).map(String::as_str).ok_or_else(|| {
            StepError::Config(format!("connector `{connector}`: `{name}` is not set"))
        })
    }

    fn secret(&self, connector: &str, name: &str) -> Result<SecretString, StepError> {
        self.secrets.get(name).cloned().ok_or_else(|| {
            StepError::Config(format!(
                "connector `{connector}`: secret `{name}` is not set"
            ))
        })
    }

    /// Settings and secrets as one object, deserialized into a connector's config.
    /// An error that would quote a secret is reported without the message.
    fn into_config<T: DeserializeOwned>(self, connector: &str) -> Result<T, StepError> {
        let mut object = Map::new();
        for (name, value) in &self.settings {
            object.insert(name.clone(), Value::String(value.clone()));
        }
        for (name, value) in &self.secrets {
            object.insert(
                name.clone(),
                Value::String(value.expose_secret().to_owned()),
            );
        }
        serde_json::from_value(Value::Object(object)).map_err(|e| {
            let message = e.to_string();
            let leaks = self
                .secrets
                .values()
                .any(|s| !s.expose_secret().is_empty() && message.contains(s.expose_secret()));
            StepError::Config(if leaks {
                format!("connector `{connector}`: a secret has the wrong type")
            } else {
                format!("connector `{connector}`: {message}")
            })
        })
    }
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
    ) -> Result<Option<Resolved>, StepError> {
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
        Ok(Some(Resolved {
            settings: found.settings,
            secrets,
        }))
    }

    async fn required(
        &self,
        organization: Option<&str>,
        connector: &str,
    ) -> Result<Resolved, StepError> {
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
        let get = |name: &str, default: &'static str| {
            graph
                .settings
                .get(name)
                .cloned()
                .unwrap_or_else(|| default.to_owned())
        };
        let credentials = AppCredentials {
            client_id: graph.setting("graph", "client_id")?.to_owned(),
            client_secret: graph.secret("graph", "client_secret")?,
        };
        let config = GraphConfig::new(
            &get("authority", DEFAULT_AUTHORITY),
            &get("graph_url", DEFAULT_GRAPH),
            &get("scope", DEFAULT_SCOPE),
            credentials,
        )
        .map_err(|e| StepError::connector(Port::Graph, e))?;
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
                "no organization `{organization}`"
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
                    .into_config("connectwise")?;
                Arc::new(ConnectWise::new(config, http("connectwise")?))
            }
            Some(PsaName::Autotask) => {
                let config: AutotaskConfig = self
                    .required(org, "autotask")
                    .await?
                    .into_config("autotask")?;
                Arc::new(Autotask::new(config, http("autotask")?))
            }
            Some(PsaName::HaloPsa) => {
                let config: HaloConfig = self
                    .required(org, "halopsa")
                    .await?
                    .into_config("halopsa")?;
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
                    ItGlueVault::new(
                        http("itglue")?,
                        s.setting("itglue", "base_url")?,
                        s.secret("itglue", "api_key")?,
                    )
                    .map_err(vault_error)?,
                )
            }
            PasswordSaveLocation::Hudu => {
                let s = self.required(org, "hudu").await?;
                Arc::new(
                    HuduVault::new(
                        http("hudu")?,
                        s.setting("hudu", "base_url")?,
                        s.secret("hudu", "api_key")?,
                    )
                    .map_err(vault_error)?,
                )
            }
            PasswordSaveLocation::Passportal => {
                let s = self.required(org, "passportal").await?;
                Arc::new(PassportalVault::new(
                    s.setting("passportal", "base_url")?,
                    s.setting("passportal", "access_key_id")?,
                    s.secret("passportal", "hmac_token")?,
                ))
            }
            PasswordSaveLocation::PwPush => {
                let base = variables
                    .pwpush_url
                    .as_ref()
                    .map(ToString::to_string)
                    .ok_or_else(|| StepError::Config("pwpush_url is not set".into()))?;
                let auth = match self.resolved(org, "pwpush").await? {
                    Some(s) => match s.secrets.get("api_token") {
                        Some(token) => PwPushAuth::Bearer(token.clone()),
                        None => PwPushAuth::Anonymous,
                    },
                    None => PwPushAuth::Anonymous,
                };
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
        if distributor != DistributorName::Pax8 {
            // Only Pax8 is implemented: the others count as not mapped (manual purchase).
            return Ok(None);
        }
        let Some(s) = self.resolved(Some(&organization.id), "pax8").await? else {
            return Ok(None);
        };
        let mut settings = Pax8Settings::new(
            s.setting("pax8", "client_id")?,
            s.secret("pax8", "client_secret")?,
        );
        let optional = |name: &str| s.settings.get(name).cloned();
        if let Some(v) = optional("token_url") {
            settings.token_url = v;
        }
        if let Some(v) = optional("api_base") {
            settings.api_base = v;
        }
        if let Some(v) = optional("audience") {
            settings.audience = v;
        }
        if let Some(v) = optional("billing_term") {
            settings.billing_term = v;
        }
        settings.ordered_by_email = optional("ordered_by_email");
        Ok(Some(Arc::new(Pax8Distributor::new(
            http("pax8")?,
            settings,
        ))))
    }
}
