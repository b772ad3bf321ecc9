//! One reading of a connector's settings for both runtimes: `onboard serve`
//! takes them from `onboard.toml`, the Lambdas from the store's connector
//! items; both hand a [`ConnectorTable`] here and get the same client, with the
//! same mappings (an organization's IT Glue organization, Hudu company, Pax8
//! company, Sherweb customer) and the same optional settings (Pax8
//! `billing_term`, `audience`, Sherweb `skus`, ...).
//!
//! Where the settings come from, and which scope wins, stays with each runtime.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::distributor::{Pax8Distributor, Pax8Settings, SherwebDistributor, SherwebSettings};
use crate::exchange::ExchangeConfig;
use crate::graph::{AppCredentials, GraphConfig};
use crate::http::HttpClient;
use crate::vault::{HuduVault, ItGlueVault, PwPushAuth};

/// Microsoft's global cloud, unless `authority` / `graph_url` / `scope` say otherwise.
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
const DEFAULT_GRAPH: &str = "https://graph.microsoft.com/v1.0";
const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

/// One connector's settings: plain values and resolved secrets (redacted in `Debug`).
#[derive(Debug, Clone, Default)]
pub struct ConnectorTable {
    /// Plain settings, by name.
    pub plain: BTreeMap<String, String>,
    /// Secrets, resolved from their references.
    pub secrets: BTreeMap<String, SecretString>,
}

/// A setting that is missing or wrong: which connector, which setting, what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connector `{connector}`: `{setting}` {problem}")]
pub struct SettingError {
    /// The connector (`pax8`, `hudu`, ...).
    pub connector: String,
    /// The setting or secret.
    pub setting: String,
    /// What is wrong with it, never its value.
    pub problem: String,
}

impl SettingError {
    fn new(connector: &str, setting: &str, problem: impl Into<String>) -> Self {
        Self {
            connector: connector.to_owned(),
            setting: setting.to_owned(),
            problem: problem.into(),
        }
    }
}

impl ConnectorTable {
    /// `other`'s keys over this table's.
    pub fn overlaid(&self, other: Option<&ConnectorTable>) -> ConnectorTable {
        let mut out = self.clone();
        if let Some(o) = other {
            out.plain
                .extend(o.plain.iter().map(|(k, v)| (k.clone(), v.clone())));
            out.secrets
                .extend(o.secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    /// A plain setting, when set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.plain.get(key).map(String::as_str)
    }

    /// A secret, when set.
    pub fn secret(&self, key: &str) -> Option<&SecretString> {
        self.secrets.get(key)
    }

    /// A plain setting that must be set.
    pub fn required(&self, connector: &str, key: &str) -> Result<&str, SettingError> {
        self.get(key)
            .ok_or_else(|| SettingError::new(connector, key, "is not set"))
    }

    /// A secret that must be set.
    pub fn required_secret(
        &self,
        connector: &str,
        key: &str,
    ) -> Result<SecretString, SettingError> {
        self.secret(key)
            .cloned()
            .ok_or_else(|| SettingError::new(connector, key, "is not set"))
    }

    /// Whether two tables hold the same settings and secrets.
    pub fn same_as(&self, other: &ConnectorTable) -> bool {
        self.plain == other.plain
            && self.secrets.len() == other.secrets.len()
            && self.secrets.iter().all(|(k, v)| {
                other
                    .secrets
                    .get(k)
                    .is_some_and(|o| o.expose_secret() == v.expose_secret())
            })
    }

    /// The table deserialized into a connector's config struct (`ConnectWiseConfig`,
    /// ...); `*page_size` settings are numbers. An error that would quote a
    /// secret is reported without the message.
    pub fn into_config<T: DeserializeOwned>(&self, connector: &str) -> Result<T, SettingError> {
        let mut object = Map::new();
        for (name, value) in &self.plain {
            let value = value
                .parse::<u64>()
                .ok()
                .filter(|_| name.ends_with("page_size"))
                .map_or_else(|| Value::String(value.clone()), Value::from);
            object.insert(name.clone(), value);
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
            SettingError::new(
                connector,
                "settings",
                if leaks {
                    "have a secret of the wrong type".to_owned()
                } else {
                    format!("do not fit: {message}")
                },
            )
        })
    }
}

/// Microsoft Graph: `client_id`, secret `client_secret`, optional `authority`,
/// `graph_url` and `scope` (another cloud, or the sandbox).
pub fn graph(table: &ConnectorTable) -> Result<GraphConfig, SettingError> {
    let credentials = AppCredentials {
        client_id: table.required("graph", "client_id")?.to_owned(),
        client_secret: table.required_secret("graph", "client_secret")?,
    };
    GraphConfig::new(
        table.get("authority").unwrap_or(DEFAULT_AUTHORITY),
        table.get("graph_url").unwrap_or(DEFAULT_GRAPH),
        table.get("scope").unwrap_or(DEFAULT_SCOPE),
        credentials,
    )
    .map_err(|e| SettingError::new("graph", "authority", format!("is not usable: {e}")))
}

/// Exchange Online, configured by an `exchange` table (its presence turns the
/// mailbox actions on): optional `url` (the admin API root, default
/// `https://outlook.office365.com/adminapi/beta`) and `scope` (default
/// `https://outlook.office365.com/.default`). It signs in with the organization's
/// Graph app (`graph`'s `client_id`, `client_secret`, `authority`) unless the
/// `exchange` table sets its own.
pub fn exchange(
    graph: &ConnectorTable,
    exchange: &ConnectorTable,
) -> Result<ExchangeConfig, SettingError> {
    let pick = |key: &str| exchange.get(key).or_else(|| graph.get(key));
    let client_id = pick("client_id")
        .ok_or_else(|| SettingError::new("graph", "client_id", "is not set"))?
        .to_owned();
    let client_secret = exchange
        .secret("client_secret")
        .or_else(|| graph.secret("client_secret"))
        .cloned()
        .ok_or_else(|| SettingError::new("graph", "client_secret", "is not set"))?;
    ExchangeConfig::new(
        pick("authority").unwrap_or(DEFAULT_AUTHORITY),
        exchange
            .get("url")
            .unwrap_or(ExchangeConfig::GLOBAL_ENDPOINT),
        exchange
            .get("scope")
            .unwrap_or(ExchangeConfig::GLOBAL_SCOPE),
        AppCredentials {
            client_id,
            client_secret,
        },
    )
    .map_err(|e| SettingError::new("exchange", "url", format!("is not usable: {e}")))
}

/// IT Glue: `base_url`, secret `api_key`, and the organization's IT Glue
/// `organization_id` when set (otherwise it is found by name).
pub fn itglue(
    table: &ConnectorTable,
    http: HttpClient,
    organization_name: &str,
) -> Result<ItGlueVault, SettingError> {
    let vault = ItGlueVault::new(
        http,
        table.required("itglue", "base_url")?,
        table.required_secret("itglue", "api_key")?,
    )
    .map_err(|e| SettingError::new("itglue", "base_url", format!("is not usable: {e}")))?;
    Ok(match table.get("organization_id") {
        Some(id) => vault.with_organization_id(organization_name, id),
        None => vault,
    })
}

/// Hudu: `base_url`, secret `api_key`, and the organization's Hudu `company_id`
/// when set (otherwise it is found by name).
pub fn hudu(
    table: &ConnectorTable,
    http: HttpClient,
    organization_name: &str,
) -> Result<HuduVault, SettingError> {
    let vault = HuduVault::new(
        http,
        table.required("hudu", "base_url")?,
        table.required_secret("hudu", "api_key")?,
    )
    .map_err(|e| SettingError::new("hudu", "base_url", format!("is not usable: {e}")))?;
    Ok(match table.get("company_id") {
        Some(id) => {
            let id: u64 = id
                .trim()
                .parse()
                .map_err(|_| SettingError::new("hudu", "company_id", "is not a number"))?;
            vault.with_company_id(organization_name, id)
        }
        None => vault,
    })
}

/// Password Pusher's authentication: `email` with secret `api_token` (a user
/// token), `api_token` alone (a bearer token), or none (anonymous pushes).
pub fn pwpush_auth(table: &ConnectorTable) -> PwPushAuth {
    match (table.get("email"), table.secret("api_token")) {
        (Some(email), Some(token)) => PwPushAuth::UserToken {
            email: email.to_owned(),
            token: token.clone(),
        },
        (None, Some(token)) => PwPushAuth::Bearer(token.clone()),
        _ => PwPushAuth::Anonymous,
    }
}

/// Where Password Pusher is: the connector's `base_url` when set (the sandbox
/// sets it to its simulator, and a file may point it elsewhere), otherwise the
/// organization's `pwpush_url` variable.
pub fn pwpush_url(table: &ConnectorTable, variable: Option<&str>) -> Result<String, SettingError> {
    table
        .get("base_url")
        .or(variable)
        .map(str::to_owned)
        .ok_or_else(|| {
            SettingError::new(
                "pwpush",
                "base_url",
                "is not set, nor is the variable `pwpush_url`",
            )
        })
}

/// Pax8: `client_id`, secret `client_secret`, optional `token_url`, `api_base`,
/// `audience`, `billing_term`, `ordered_by_email`, and the organization's Pax8
/// `company_id` when set (otherwise it is found by name).
pub fn pax8(
    table: &ConnectorTable,
    http: HttpClient,
    organization: (&str, &str),
) -> Result<Pax8Distributor, SettingError> {
    let (id, name) = organization;
    let mut settings = Pax8Settings::new(
        table.required("pax8", "client_id")?,
        table.required_secret("pax8", "client_secret")?,
    );
    if let Some(v) = table.get("token_url") {
        settings.token_url = v.to_owned();
    }
    if let Some(v) = table.get("api_base") {
        settings.api_base = v.to_owned();
    }
    if let Some(v) = table.get("audience") {
        settings.audience = v.to_owned();
    }
    if let Some(v) = table.get("billing_term") {
        settings.billing_term = v.to_owned();
    }
    settings.ordered_by_email = table.get("ordered_by_email").map(str::to_owned);
    let distributor = Pax8Distributor::new(http, settings);
    Ok(match table.get("company_id") {
        Some(company) => distributor
            .with_company_id(name, company)
            .with_company_id(id, company),
        None => distributor,
    })
}

/// Sherweb: `client_id`, secrets `client_secret` and `subscription_key`,
/// optional `token_url`, `api_base`, `scope`, `ordered_by`, `skus` (Microsoft
/// part number to Sherweb SKU, `SPB=abc-123,O365_BUSINESS_PREMIUM=def-456`),
/// and the organization's Sherweb `customer_id` when set (otherwise it is
/// found by name).
pub fn sherweb(
    table: &ConnectorTable,
    http: HttpClient,
    organization: (&str, &str),
) -> Result<SherwebDistributor, SettingError> {
    let (id, name) = organization;
    let mut settings = SherwebSettings::new(
        table.required("sherweb", "client_id")?,
        table.required_secret("sherweb", "client_secret")?,
        table.required_secret("sherweb", "subscription_key")?,
    );
    if let Some(v) = table.get("token_url") {
        settings.token_url = v.to_owned();
    }
    if let Some(v) = table.get("api_base") {
        settings.api_base = v.to_owned();
    }
    if let Some(v) = table.get("scope") {
        settings.scope = v.to_owned();
    }
    if let Some(v) = table.get("ordered_by") {
        settings.ordered_by = v.to_owned();
    }
    let mut distributor = SherwebDistributor::new(http, settings);
    for pair in table.get("skus").unwrap_or_default().split([',', ';']) {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let Some((part, sku)) = pair.split_once('=') else {
            return Err(SettingError::new(
                "sherweb",
                "skus",
                format!("entry `{pair}` is not PART_NUMBER=SHERWEB_SKU"),
            ));
        };
        let (part, sku) = (part.trim(), sku.trim());
        if part.is_empty() || sku.is_empty() {
            return Err(SettingError::new(
                "sherweb",
                "skus",
                format!("entry `{pair}` is not PART_NUMBER=SHERWEB_SKU"),
            ));
        }
        distributor = distributor.with_sku(part, sku);
    }
    Ok(match table.get("customer_id") {
        Some(customer) => distributor
            .with_customer_id(name, customer)
            .with_customer_id(id, customer),
        None => distributor,
    })
}

#[cfg(test)]
mod sherweb_tests {
    use super::*;

    fn table(plain: &[(&str, &str)]) -> ConnectorTable {
        ConnectorTable {
            plain: plain
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            secrets: [("client_secret", "s"), ("subscription_key", "k")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), SecretString::from((*v).to_owned())))
                .collect(),
        }
    }

    fn http() -> HttpClient {
        HttpClient::new("sherweb", crate::http::RetryPolicy::default()).unwrap()
    }

    #[test]
    fn sherweb_needs_its_subscription_key_and_names_it() {
        let mut t = table(&[("client_id", "c")]);
        t.secrets.remove("subscription_key");
        let err = sherweb(&t, http(), ("contoso", "Contoso")).unwrap_err();
        assert_eq!(err.setting, "subscription_key");
        assert_eq!(err.connector, "sherweb");
    }

    #[test]
    fn a_malformed_sku_mapping_is_refused_by_name() {
        let t = table(&[("client_id", "c"), ("skus", "SPB=abc,oops")]);
        let err = sherweb(&t, http(), ("contoso", "Contoso")).unwrap_err();
        assert_eq!(err.setting, "skus");
        assert!(err.problem.contains("oops"), "{err}");
    }
}
