//! [`Config`]: what a function reads from its environment at cold start, and
//! [`Keys`], the token and link keys derived from the deployment's key secret.

use hmac::{Hmac, Mac};
use onboard_store::{SecretRef, TokenKey};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The DynamoDB table (`docs/dynamodb.md`).
pub const TABLE: &str = "ONBOARD_TABLE";
/// The public base URL of the HTTP API; decision links start with it.
pub const PUBLIC_URL: &str = "ONBOARD_PUBLIC_URL";
/// The Secrets Manager secret (name or ARN) holding the deployment's key material.
pub const KEYS_SECRET: &str = "ONBOARD_KEYS_SECRET";

/// A setting that is missing or wrong; the message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("environment variable {variable} is invalid: {cause}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// Why.
        cause: String,
    },
    /// The secret a variable names cannot be read.
    #[error("the secret named by {variable} cannot be read: {cause}")]
    Secret {
        /// The variable.
        variable: &'static str,
        /// Why.
        cause: String,
    },
}

/// The environment of every step function (set by `template.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// [`TABLE`].
    pub table: String,
    /// [`PUBLIC_URL`].
    pub public_url: String,
    /// [`KEYS_SECRET`], as a Secrets Manager reference.
    pub keys_secret: SecretRef,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        Ok(Config {
            table: required(TABLE)?,
            public_url: required(PUBLIC_URL)?,
            keys_secret: SecretRef::SecretsManager {
                id: required(KEYS_SECRET)?,
                json_key: None,
            },
        })
    }
}

/// The deployment's key material: one random secret string (the template has
/// Secrets Manager generate it), from which the task-token key and the
/// decision-link key are derived with HMAC-SHA-256 under distinct labels, so
/// neither key can be computed from the other.
pub struct Keys {
    token: [u8; 32],
    link: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([REDACTED])")
    }
}

/// Shortest accepted key secret: 32 characters (the template generates 64).
const MIN_SECRET_LEN: usize = 32;

impl Keys {
    /// Derives both keys from `secret` (at least 32 characters).
    pub fn derive(secret: &SecretString) -> Result<Self, ConfigError> {
        let secret = secret.expose_secret().trim();
        if secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::Invalid {
                variable: KEYS_SECRET,
                cause: format!("the secret is shorter than {MIN_SECRET_LEN} characters"),
            });
        }
        Ok(Keys {
            token: derive(secret, "onboard/v1/task-token-key"),
            link: derive(secret, "onboard/v1/decision-link-key"),
        })
    }

    /// The key sealing task tokens in the store.
    pub fn token_key(&self) -> TokenKey {
        TokenKey::from_bytes(self.token)
    }

    /// The HMAC key of decision links.
    pub fn link_key(&self) -> Vec<u8> {
        self.link.to_vec()
    }
}

fn derive(secret: &str, label: &str) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = Config::from_lookup(env(&[(TABLE, "t"), (KEYS_SECRET, "k")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ONBOARD_PUBLIC_URL is not set"
        );
    }

    #[test]
    fn the_keys_secret_is_a_secrets_manager_reference() {
        let config = Config::from_lookup(env(&[
            (TABLE, "onboard"),
            (PUBLIC_URL, "https://x.example"),
            (
                KEYS_SECRET,
                "arn:aws:secretsmanager:eu-west-1:1:secret:keys",
            ),
        ]))
        .unwrap();
        assert_eq!(
            config.keys_secret,
            SecretRef::SecretsManager {
                id: "arn:aws:secretsmanager:eu-west-1:1:secret:keys".into(),
                json_key: None
            }
        );
    }

    #[test]
    fn the_two_keys_differ_and_are_stable() {
        let secret = SecretString::from("x".repeat(64));
        let a = Keys::derive(&secret).unwrap();
        let b = Keys::derive(&secret).unwrap();
        assert_ne!(a.token, a.link);
        assert_eq!(a.token, b.token);
        assert_eq!(a.link, b.link);
        let other = Keys::derive(&SecretString::from("y".repeat(64))).unwrap();
        assert_ne!(a.token, other.token);
    }

    #[test]
    fn a_short_secret_is_refused() {
        let err = Keys::derive(&SecretString::from("short")).unwrap_err();
        assert!(err.to_string().contains(KEYS_SECRET), "{err}");
    }
}
