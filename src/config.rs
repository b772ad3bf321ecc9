//! `onboard.toml`: the typed configuration of `onboard serve`.
//!
//! Read once at start-up; any bad or missing setting stops the server with a
//! message naming it (`organizations.contoso.domain: ...`). Secrets are never
//! written in the file: a setting that holds one is a reference, `env:NAME` or
//! `file:PATH`, resolved at start-up into a [`SecretString`]. API keys are
//! stored as SHA-256 hashes only.
//!
//! Sections: `[server]`, MSP-wide `[variables]`, MSP-wide `[connectors.<name>]`,
//! `[organizations.<id>]` (name, domain, variables, per-organization connector
//! settings), and `[sandbox]` (the simulators' seed, kept as TOML for the sandbox
//! crate to read).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use onboard_domain::template::{self, Template};
use onboard_domain::{DomainError, VariableLayer, Variables};
use onboard_store::{ConnectorSettings, SecretRef};
use secrecy::SecretString;
use serde::Deserialize;

/// Everything that can be wrong with a configuration file; each names the setting.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read the configuration: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax or a setting of the wrong shape (serde names it and its line).
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    /// A setting that parses but is not acceptable.
    #[error("{setting}: {message}")]
    Invalid { setting: String, message: String },
}

fn invalid(setting: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.into(),
        message: message.into(),
    }
}

/// One `[<at>.<name>]` template, checked; an error names the setting
/// (`organizations.contoso.templates.sales.licenses[0]`).
fn checked_template(
    at: &str,
    name: &str,
    body: &serde_json::Value,
) -> Result<(String, Template), ConfigError> {
    let checked_name = template::check_name(name)
        .map_err(|e| invalid(format!("{at}.{name}"), e.message))?
        .to_owned();
    let at = format!("{at}.{name}");
    let template = Template::parse(body).map_err(|e| match e {
        DomainError::InvalidRequest { errors } => {
            let Some((first, rest)) = errors.split_first() else {
                return invalid(&at, "is not a template");
            };
            let setting = if first.field == "body" {
                at.clone()
            } else {
                format!("{at}.{}", first.field)
            };
            let mut message = first.message.clone();
            for more in rest {
                message.push_str(&format!("; {at}.{}: {}", more.field, more.message));
            }
            invalid(setting, message)
        }
        other => invalid(&at, other.to_string()),
    })?;
    Ok((checked_name, template))
}

/// The configuration file, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// Listening, links and API keys.
    #[serde(default)]
    pub(crate) server: ServerSection,
    /// MSP-wide organization variables (the original crate's names).
    #[serde(default)]
    pub(crate) variables: VariableLayer,
    /// MSP-wide connector settings, by connector name (`graph`, `connectwise`, `pax8`, ...).
    #[serde(default)]
    pub(crate) connectors: BTreeMap<String, BTreeMap<String, String>>,
    /// The organizations forms may name, by id.
    #[serde(default)]
    pub(crate) organizations: BTreeMap<String, OrganizationSection>,
    /// The sandbox's seed (the demo when left out); its presence does not turn the
    /// sandbox on (see `server.sandbox`).
    #[serde(default)]
    pub(crate) sandbox: Option<onboard_sandbox::SandboxSeed>,
}

/// `[server]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    /// Where to listen (the `--addr` flag wins).
    pub(crate) addr: Option<SocketAddr>,
    /// The data directory (the `--data` flag wins).
    pub(crate) data_dir: Option<PathBuf>,
    /// The base URL of decision links in mails and ticket notes.
    pub(crate) public_url: Option<String>,
    /// A reference (`env:NAME` / `file:PATH`) to the key that signs decision links.
    /// Absent: a random key kept in the data directory.
    pub(crate) link_signing_key: Option<String>,
    /// SHA-256 hashes (hex) of the API keys `/api/*` accepts as `Authorization: Bearer`.
    #[serde(default)]
    pub(crate) api_key_sha256: Vec<String>,
    /// Run the sandbox simulators (the `--sandbox` flag turns it on too).
    #[serde(default)]
    pub(crate) sandbox: bool,
    /// Host names the server answers to besides the listening address, loopback
    /// names (when it listens on loopback) and `public_url`'s host: e.g. the name a
    /// reverse proxy forwards. Any other `Host` is refused (DNS rebinding).
    #[serde(default)]
    pub(crate) allowed_hosts: Vec<String>,
    /// Days a finished execution (its interpreter state and history) is kept
    /// before it is purged, as Step Functions keeps Standard executions 90 days;
    /// 0 keeps them forever. Onboarding records and timelines are never purged.
    #[serde(default = "default_execution_retention_days")]
    pub(crate) execution_retention_days: u32,
    /// Sign-in to the console with OpenID Connect (Entra ID).
    pub(crate) sign_in: Option<SignInSection>,
}

/// `[server.sign_in]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignInSection {
    /// The issuer URL (`https://login.microsoftonline.com/{tenant}/v2.0`, or
    /// `.../organizations/v2.0` with `allowed_tenants`), or `sandbox`: the
    /// sandbox's own Entra issuer on this server, with its demo app.
    pub(crate) issuer: String,
    /// The app registration's application (client) id.
    pub(crate) client_id: Option<String>,
    /// A reference (`env:NAME` / `file:PATH`) to its client secret.
    pub(crate) client_secret: Option<String>,
    /// The tenant ids whose people may sign in (needed with a multitenant issuer).
    #[serde(default)]
    pub(crate) allowed_tenants: Vec<String>,
    /// Minutes a session lasts without a request (default 60).
    pub(crate) session_idle_minutes: Option<u32>,
    /// Hours a session lasts at most (default 10).
    pub(crate) session_max_hours: Option<u32>,
    /// Role name -> the app role values or group object ids that give it;
    /// default: the app roles `Onboard.Viewer`, `Onboard.Technician`,
    /// `Onboard.Approver`, `Onboard.Admin`.
    pub(crate) roles: Option<BTreeMap<String, Vec<String>>>,
}

/// Where people sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Issuer {
    /// A configured issuer URL.
    Url(url::Url),
    /// The sandbox's Entra issuer on this server (`issuer = "sandbox"`).
    Sandbox,
}

/// `[server.sign_in]`, checked.
#[derive(Clone)]
pub(crate) struct SignInConfig {
    pub(crate) issuer: Issuer,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) allowed_tenants: Vec<String>,
    pub(crate) roles: onboard_http::sign_in::RoleMap,
    pub(crate) policy: onboard_http::sign_in::SessionPolicy,
}

impl SignInSection {
    fn check(self, env: &Env<'_>) -> Result<SignInConfig, ConfigError> {
        const AT: &str = "server.sign_in";
        let issuer = if self.issuer.trim() == "sandbox" {
            Issuer::Sandbox
        } else {
            let url = url::Url::parse(self.issuer.trim()).map_err(|e| {
                invalid(
                    format!("{AT}.issuer"),
                    format!("`{}` is not a URL: {e}", self.issuer),
                )
            })?;
            if !matches!(url.scheme(), "https" | "http") {
                return Err(invalid(
                    format!("{AT}.issuer"),
                    "must be an https:// URL (or `sandbox`)",
                ));
            }
            Issuer::Url(url)
        };
        let sandbox = issuer == Issuer::Sandbox;
        let client_id = match (self.client_id, sandbox) {
            (Some(id), _) if !id.trim().is_empty() => id.trim().to_owned(),
            (_, true) => onboard_sandbox::entra::DEMO_CLIENT_ID.to_owned(),
            _ => {
                return Err(invalid(
                    format!("{AT}.client_id"),
                    "is required: the application (client) id of Onboard's app registration",
                ));
            }
        };
        let client_secret = match (self.client_secret, sandbox) {
            (Some(text), _) => {
                let setting = format!("{AT}.client_secret");
                let r = parse_secret_ref(&setting, &text)?;
                resolve_secret(&setting, &r, env)?
            }
            (None, true) => SecretString::from(onboard_sandbox::entra::DEMO_CLIENT_SECRET),
            (None, false) => {
                return Err(invalid(
                    format!("{AT}.client_secret"),
                    "is required: a reference (`env:NAME` or `file:PATH`) to the app registration's client secret",
                ));
            }
        };
        let mut allowed_tenants: Vec<String> = self
            .allowed_tenants
            .iter()
            .map(|t| t.trim().to_ascii_lowercase())
            .collect();
        if let Some(i) = allowed_tenants.iter().position(String::is_empty) {
            return Err(invalid(
                format!("{AT}.allowed_tenants[{i}]"),
                "is empty; give a tenant id (a GUID)",
            ));
        }
        if allowed_tenants.is_empty() && sandbox {
            allowed_tenants.push(onboard_sandbox::entra::DEMO_MSP_TENANT.to_owned());
        }
        if let Issuer::Url(url) = &issuer {
            let multitenant = ["organizations", "common", "consumers"]
                .iter()
                .any(|t| url.path().split('/').any(|segment| segment == *t));
            if multitenant && allowed_tenants.is_empty() {
                return Err(invalid(
                    format!("{AT}.allowed_tenants"),
                    "a multitenant issuer (organizations, common) lets anyone's tenant sign in: \
                     list the tenant ids whose people may",
                ));
            }
        }
        let roles = match &self.roles {
            Some(map) => onboard_http::sign_in::RoleMap::from_config(map)
                .map_err(|e| invalid(format!("{AT}.roles"), e))?,
            None => onboard_http::sign_in::RoleMap::default(),
        };
        let mut policy = onboard_http::sign_in::SessionPolicy::default();
        if let Some(m) = self.session_idle_minutes {
            if m == 0 {
                return Err(invalid(
                    format!("{AT}.session_idle_minutes"),
                    "must be at least 1",
                ));
            }
            policy.idle = jiff::SignedDuration::from_mins(i64::from(m));
        }
        if let Some(h) = self.session_max_hours {
            if h == 0 {
                return Err(invalid(
                    format!("{AT}.session_max_hours"),
                    "must be at least 1",
                ));
            }
            policy.max = jiff::SignedDuration::from_hours(i64::from(h));
        }
        Ok(SignInConfig {
            issuer,
            client_id,
            client_secret,
            allowed_tenants,
            roles,
            policy,
        })
    }
}

fn default_execution_retention_days() -> u32 {
    90
}

/// `[organizations.<id>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrganizationSection {
    /// The display name.
    pub(crate) name: String,
    /// The primary domain (user principal names end in `@domain`).
    pub(crate) domain: String,
    /// The organization's variables, over the MSP-wide ones.
    #[serde(default)]
    pub(crate) variables: VariableLayer,
    /// The organization's connector mapping, by connector name: its Graph tenant,
    /// its PSA company, its vault organization, its distributor customer.
    #[serde(default)]
    pub(crate) connectors: BTreeMap<String, BTreeMap<String, String>>,
    /// `[organizations.<id>.templates.<name>]`: what a form naming the
    /// template gets where it leaves a field empty.
    #[serde(default)]
    pub(crate) templates: BTreeMap<String, serde_json::Value>,
}

/// One organization, checked.
#[derive(Debug, Clone)]
pub(crate) struct Organization {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) domain: String,
    /// The organization's own variable layer.
    pub(crate) variables: VariableLayer,
    /// The organization's connector settings (merged over nothing: MSP-wide ones are separate).
    pub(crate) connectors: Vec<ConnectorSettings>,
    /// The organization's templates, by name, checked.
    pub(crate) templates: Vec<(String, Template)>,
}

/// The checked configuration the server runs with.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) public_url: Option<String>,
    pub(crate) link_signing_key: Option<SecretString>,
    /// Hex SHA-256 of each accepted API key, lowercase.
    pub(crate) api_key_hashes: Vec<[u8; 32]>,
    pub(crate) sandbox: bool,
    /// `server.allowed_hosts`, each a host name without port, lowercase.
    pub(crate) allowed_hosts: Vec<String>,
    /// `server.execution_retention_days`.
    pub(crate) execution_retention_days: u32,
    /// `[server.sign_in]`.
    pub(crate) sign_in: Option<SignInConfig>,
    pub(crate) msp_variables: VariableLayer,
    pub(crate) msp_connectors: Vec<ConnectorSettings>,
    pub(crate) organizations: Vec<Organization>,
    pub(crate) sandbox_seed: Option<onboard_sandbox::SandboxSeed>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field("api_keys", &self.api_key_hashes.len())
            .field("sandbox", &self.sandbox)
            .field("sign_in", &self.sign_in.is_some())
            .field("organizations", &self.organizations.len())
            .finish_non_exhaustive()
    }
}

/// Setting names whose values are secrets and so must be references.
fn is_secret_setting(name: &str) -> bool {
    const SECRET_SUFFIXES: &[&str] = &[
        "secret",
        "password",
        "private_key",
        "api_key",
        "token",
        "integration_code",
        "hmac_token",
        "client_secret",
    ];
    SECRET_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Parses a secret reference: `env:NAME` or `file:PATH`.
pub(crate) fn parse_secret_ref(setting: &str, value: &str) -> Result<SecretRef, ConfigError> {
    if let Some(var) = value.strip_prefix("env:") {
        if var.is_empty() {
            return Err(invalid(setting, "`env:` needs a variable name"));
        }
        Ok(SecretRef::Env {
            var: var.to_owned(),
        })
    } else if let Some(path) = value.strip_prefix("file:") {
        if path.is_empty() {
            return Err(invalid(setting, "`file:` needs a path"));
        }
        Ok(SecretRef::File {
            path: path.to_owned(),
        })
    } else {
        Err(invalid(
            setting,
            "a secret must be a reference (`env:NAME` or `file:PATH`), never the secret itself",
        ))
    }
}

/// Reads an environment variable (a parameter so tests need not set the process's).
pub(crate) type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Reads a referenced secret now, so a missing one stops the start-up.
pub(crate) fn resolve_secret(
    setting: &str,
    r: &SecretRef,
    env: &Env<'_>,
) -> Result<SecretString, ConfigError> {
    let text = match r {
        SecretRef::Env { var } => env(var)
            .ok_or_else(|| invalid(setting, format!("environment variable {var} is not set")))?,
        SecretRef::File { path } => std::fs::read_to_string(path)
            .map_err(|e| invalid(setting, format!("cannot read {path}: {e}")))?,
        SecretRef::SecretsManager { .. } | SecretRef::SsmParameter { .. } => {
            return Err(invalid(
                setting,
                "only env: and file: references are supported by onboard serve",
            ));
        }
    };
    let text = text.trim_end_matches(['\r', '\n']).to_owned();
    if text.is_empty() {
        return Err(invalid(setting, "the referenced secret is empty"));
    }
    Ok(SecretString::from(text))
}

fn connector_settings(
    prefix: &str,
    connectors: &BTreeMap<String, BTreeMap<String, String>>,
    env: &Env<'_>,
) -> Result<Vec<ConnectorSettings>, ConfigError> {
    let mut out = Vec::new();
    for (name, table) in connectors {
        let mut settings = BTreeMap::new();
        let mut secrets = BTreeMap::new();
        for (key, value) in table {
            let setting = format!("{prefix}.{name}.{key}");
            let is_ref = value.starts_with("env:") || value.starts_with("file:");
            if is_secret_setting(key) || is_ref {
                let r = parse_secret_ref(&setting, value)?;
                // Fail fast: a reference that cannot be read now would fail every run.
                resolve_secret(&setting, &r, env)?;
                secrets.insert(key.clone(), r);
            } else {
                settings.insert(key.clone(), value.clone());
            }
        }
        out.push(ConnectorSettings {
            connector: name.clone(),
            settings,
            secrets,
        });
    }
    Ok(out)
}

/// Parses a hex SHA-256 hash (64 hex digits, an optional `sha256:` prefix).
fn parse_hash(setting: &str, text: &str) -> Result<[u8; 32], ConfigError> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    if hex.len() != 64 {
        return Err(invalid(
            setting,
            "expected the SHA-256 of the key as 64 hex digits (`printf %s KEY | sha256sum`)",
        ));
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| invalid(setting, "not a hex digest"))?;
    }
    Ok(out)
}

impl ConfigFile {
    /// Parses TOML text; `path` names the file in messages.
    pub(crate) fn parse(path: &str, text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// Reads and parses a file.
    pub(crate) fn read(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: name.clone(),
            source,
        })?;
        Self::parse(&name, &text)
    }

    /// Checks every setting and resolves the secrets it references from the process.
    pub(crate) fn check(self) -> Result<Config, ConfigError> {
        self.check_with(&|name| std::env::var(name).ok())
    }

    /// [`ConfigFile::check`] with `env` as the environment.
    pub(crate) fn check_with(self, env: &Env<'_>) -> Result<Config, ConfigError> {
        let server = self.server;
        if let Some(url) = &server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid(
                "server.public_url",
                "must be an absolute http:// or https:// URL",
            ));
        }
        let link_signing_key = match &server.link_signing_key {
            Some(text) => {
                let r = parse_secret_ref("server.link_signing_key", text)?;
                let key = resolve_secret("server.link_signing_key", &r, env)?;
                if secrecy::ExposeSecret::expose_secret(&key).len() < 32 {
                    return Err(invalid(
                        "server.link_signing_key",
                        "must be at least 32 characters",
                    ));
                }
                Some(key)
            }
            None => None,
        };
        let allowed_hosts = server
            .allowed_hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                onboard_http::guard::normalize_host(h).ok_or_else(|| {
                    invalid(
                        format!("server.allowed_hosts[{i}]"),
                        format!("`{h}` is not a host name (write it as in a URL, without scheme or path)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sign_in = server.sign_in.clone().map(|s| s.check(env)).transpose()?;
        let api_key_hashes = server
            .api_key_sha256
            .iter()
            .enumerate()
            .map(|(i, h)| parse_hash(&format!("server.api_key_sha256[{i}]"), h))
            .collect::<Result<Vec<_>, _>>()?;

        // Every organization's variables must resolve over the MSP-wide ones now,
        // not at the first form.
        Variables::resolve("", &self.variables, &VariableLayer::new())
            .map_err(|e| invalid("variables", e.to_string()))?;
        let msp_connectors = connector_settings("connectors", &self.connectors, env)?;
        let mut organizations = Vec::new();
        for (id, org) in self.organizations {
            let at = format!("organizations.{id}");
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(
                    &at,
                    "an organization id is letters, digits, `-` and `_`",
                ));
            }
            if org.name.trim().is_empty() {
                return Err(invalid(format!("{at}.name"), "must not be empty"));
            }
            let domain = org.domain.trim().to_ascii_lowercase();
            if domain.is_empty() || !domain.contains('.') || domain.contains(['@', ' ', '/']) {
                return Err(invalid(
                    format!("{at}.domain"),
                    "must be a DNS domain such as contoso.com",
                ));
            }
            Variables::resolve(&id, &self.variables, &org.variables)
                .map_err(|e| invalid(format!("{at}.variables"), e.to_string()))?;
            let connectors = connector_settings(&format!("{at}.connectors"), &org.connectors, env)?;
            let templates = org
                .templates
                .iter()
                .map(|(name, body)| checked_template(&format!("{at}.templates"), name, body))
                .collect::<Result<_, _>>()?;
            organizations.push(Organization {
                id,
                name: org.name,
                domain,
                variables: org.variables,
                connectors,
                templates,
            });
        }
        Ok(Config {
            addr: server.addr,
            data_dir: server.data_dir,
            public_url: server.public_url,
            link_signing_key,
            api_key_hashes,
            sandbox: server.sandbox,
            allowed_hosts,
            execution_retention_days: server.execution_retention_days,
            sign_in,
            msp_variables: self.variables,
            msp_connectors,
            organizations,
            sandbox_seed: self.sandbox,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use onboard_http::hash_api_key;

    fn check(text: &str) -> Result<Config, ConfigError> {
        ConfigFile::parse("test.toml", text)?.check()
    }

    #[test]
    fn the_example_configuration_parses_and_checks() {
        let text = include_str!("../onboard.example.toml");
        let file = ConfigFile::parse("onboard.example.toml", text).unwrap();
        // Every secret the example references resolves to a long enough value.
        let cfg = file
            .check_with(&|name| Some(format!("{name}-0123456789abcdef0123456789abcdef")))
            .unwrap();
        assert!(!cfg.organizations.is_empty());
        assert!(cfg.link_signing_key.is_some());
        assert!(!cfg.api_key_hashes.is_empty());
        assert!(cfg.sandbox_seed.is_some());
        let sign_in = cfg.sign_in.as_ref().expect("the example signs people in");
        assert_eq!(sign_in.allowed_tenants.len(), 1);
        let secrets: usize = cfg
            .organizations
            .iter()
            .flat_map(|o| &o.connectors)
            .chain(&cfg.msp_connectors)
            .map(|c| c.secrets.len())
            .sum();
        assert!(secrets > 0, "the example shows how secrets are referenced");
    }

    #[test]
    fn a_sign_in_section_is_checked_naming_the_bad_setting() {
        let err = |text: &str| match check(text) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted: {text}"),
        };
        let multitenant = err(
            "[server.sign_in]\nissuer = \"https://login.microsoftonline.com/organizations/v2.0\"\n\
             client_id = \"c\"\nclient_secret = \"env:PATH\"",
        );
        assert!(
            multitenant.starts_with("server.sign_in.allowed_tenants:"),
            "{multitenant}"
        );
        let inline = err(
            "[server.sign_in]\nissuer = \"https://login.example/t/v2.0\"\nclient_id = \"c\"\n\
             client_secret = \"hunter2\"",
        );
        assert!(
            inline.starts_with("server.sign_in.client_secret:") && !inline.contains("hunter2"),
            "{inline}"
        );
        let no_id = err("[server.sign_in]\nissuer = \"https://login.example/t/v2.0\"");
        assert!(no_id.starts_with("server.sign_in.client_id:"), "{no_id}");
        let role =
            err("[server.sign_in]\nissuer = \"sandbox\"\n[server.sign_in.roles]\nroot = [\"x\"]");
        assert!(
            role.starts_with("server.sign_in.roles:") && role.contains("root"),
            "{role}"
        );
        let idle = err("[server.sign_in]\nissuer = \"sandbox\"\nsession_idle_minutes = 0");
        assert!(
            idle.starts_with("server.sign_in.session_idle_minutes:"),
            "{idle}"
        );
        let scheme = err("[server.sign_in]\nissuer = \"ftp://x/v2.0\"");
        assert!(scheme.starts_with("server.sign_in.issuer:"), "{scheme}");

        // The sandbox's issuer needs nothing else: its demo app and tenant.
        let sandbox = check("[server.sign_in]\nissuer = \"sandbox\"").unwrap();
        let sign_in = sandbox.sign_in.unwrap();
        assert_eq!(sign_in.issuer, Issuer::Sandbox);
        assert_eq!(
            sign_in.allowed_tenants,
            [onboard_sandbox::entra::DEMO_MSP_TENANT]
        );
    }

    #[test]
    fn an_inline_secret_is_refused_naming_the_setting() {
        let err = check(
            r#"
            [organizations.contoso]
            name = "Contoso"
            domain = "contoso.com"
            [organizations.contoso.connectors.graph]
            tenant_id = "t"
            client_secret = "hunter2"
            "#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("organizations.contoso.connectors.graph.client_secret"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn an_unknown_setting_is_refused() {
        let err = check("[server]\nport = 3\n").unwrap_err().to_string();
        assert!(err.contains("port"), "{err}");
    }

    #[test]
    fn a_missing_environment_variable_is_named() {
        let err = check("[server]\nlink_signing_key = \"env:ONBOARD_TEST_SURELY_UNSET_7781\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.link_signing_key"), "{err}");
        assert!(err.contains("ONBOARD_TEST_SURELY_UNSET_7781"), "{err}");
    }

    #[test]
    fn a_bad_variable_is_named_with_its_organization() {
        let err = check(
            r#"
            [organizations.contoso]
            name = "Contoso"
            domain = "contoso.com"
            [organizations.contoso.variables]
            require_approval_for_new_users = "perhaps"
            "#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("organizations.contoso.variables"), "{err}");
    }

    #[test]
    fn api_keys_are_compared_by_hash() {
        let hash = hash_api_key("k-123");
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let cfg = check(&format!("[server]\napi_key_sha256 = [\"{hex}\"]\n")).unwrap();
        assert_eq!(cfg.api_key_hashes, vec![hash]);
        assert!(check("[server]\napi_key_sha256 = [\"abc\"]\n").is_err());
    }

    #[test]
    fn templates_are_checked_and_a_bad_field_is_named() {
        let cfg = check(
            r#"
            [organizations.contoso]
            name = "Contoso"
            domain = "contoso.com"
            [organizations.contoso.templates."sales rep"]
            department = "Sales"
            licenses = ["SPB"]
            groups = ["Sales"]
            "#,
        )
        .unwrap();
        let (name, template) = &cfg.organizations[0].templates[0];
        assert_eq!(name, "sales rep");
        assert_eq!(template.department.as_deref(), Some("Sales"));

        let err = check(
            r#"
            [organizations.contoso]
            name = "Contoso"
            domain = "contoso.com"
            [organizations.contoso.templates.sales]
            licences = ["SPB"]
            "#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("organizations.contoso.templates.sales.licences"),
            "{err}"
        );
        assert!(err.contains("not a template field"), "{err}");
        let err = check(
            "[organizations.c]\nname = \"C\"\ndomain = \"c.com\"\n[organizations.c.templates.\"a/b\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("organizations.c.templates.a/b"), "{err}");
    }

    #[test]
    fn a_missing_domain_is_named() {
        let err = check("[organizations.a]\nname = \"A\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("domain"), "{err}");
    }
}
