//! [`SecretSource`]: turns the store's [`SecretRef`]s into secrets. [`AwsSecrets`]
//! reads Secrets Manager (optionally one key of a JSON secret), the process
//! environment and files; never SSM (not wired yet: no SDK client for it here).

use async_trait::async_trait;
use onboard_store::SecretRef;
use secrecy::SecretString;

/// Why a secret cannot be read. The message names the secret, never its value.
#[derive(Debug, thiserror::Error)]
#[error("secret {reference}: {cause}")]
pub struct SecretError {
    /// Which secret (name, ARN, variable or path).
    pub reference: String,
    /// Why.
    pub cause: String,
}

/// Resolves secret references.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The secret `reference` points at.
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretString, SecretError>;
}

/// Secrets Manager, the environment and files.
#[derive(Debug, Clone)]
pub struct AwsSecrets {
    client: aws_sdk_secretsmanager::Client,
}

impl AwsSecrets {
    /// Reads Secrets Manager through `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SecretSource for AwsSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretString, SecretError> {
        match reference {
            SecretRef::SecretsManager { id, json_key } => {
                let fail = |cause: String| SecretError {
                    reference: id.clone(),
                    cause,
                };
                let value = self
                    .client
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| {
                        fail(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
                    })?;
                let text = value
                    .secret_string()
                    .ok_or_else(|| fail("has no string value".to_owned()))?;
                select(text, json_key.as_deref()).map_err(fail)
            }
            other => resolve_local(other),
        }
    }
}

/// The environment and file references, which need no AWS client.
pub fn resolve_local(reference: &SecretRef) -> Result<SecretString, SecretError> {
    match reference {
        SecretRef::Env { var } => {
            std::env::var(var)
                .map(SecretString::from)
                .map_err(|_| SecretError {
                    reference: format!("env {var}"),
                    cause: "is not set".to_owned(),
                })
        }
        SecretRef::File { path } => std::fs::read_to_string(path)
            .map(|s| SecretString::from(s.trim_end_matches(['\r', '\n']).to_owned()))
            .map_err(|e| SecretError {
                reference: format!("file {path}"),
                cause: e.to_string(),
            }),
        SecretRef::SsmParameter { name } => Err(SecretError {
            reference: format!("ssm {name}"),
            cause: "SSM parameters are not supported; store it in Secrets Manager".to_owned(),
        }),
        SecretRef::SecretsManager { id, .. } => Err(SecretError {
            reference: id.clone(),
            cause: "Secrets Manager is not available here".to_owned(),
        }),
    }
}

/// The whole secret, or one string key of a JSON secret.
fn select(text: &str, json_key: Option<&str>) -> Result<SecretString, String> {
    let Some(key) = json_key else {
        return Ok(SecretString::from(text.to_owned()));
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "is not a JSON object".to_owned())?;
    value
        .get(key)
        .and_then(serde_json::Value::as_str)
        .map(|s| SecretString::from(s.to_owned()))
        .ok_or_else(|| format!("has no string key `{key}`"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_json_key_selects_one_value() {
        let s = select(r#"{"api_key":"k1","other":"x"}"#, Some("api_key")).unwrap();
        assert_eq!(s.expose_secret(), "k1");
    }

    #[test]
    fn a_missing_json_key_is_named_without_the_secret() {
        let err = select(r#"{"api_key":"k1"}"#, Some("token")).unwrap_err();
        assert_eq!(err, "has no string key `token`");
        assert!(!err.contains("k1"));
    }

    #[test]
    fn without_a_json_key_the_whole_secret_is_returned() {
        let s = select("plain", None).unwrap();
        assert_eq!(s.expose_secret(), "plain");
    }

    #[test]
    fn a_file_secret_loses_its_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "value\n").unwrap();
        let s = resolve_local(&SecretRef::File {
            path: path.display().to_string(),
        })
        .unwrap();
        assert_eq!(s.expose_secret(), "value");
    }
}
