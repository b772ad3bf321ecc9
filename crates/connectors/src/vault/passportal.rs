//! Passportal: only as far as public facts go, which is not far enough to write a password.
//!
//! What is public (N-able's setup guide, as relayed by integration vendors):
//! an instance base URL (`{name}.passportalmsp.com`), an API access key id,
//! and an HMAC-SHA256 token over a chosen content string. Not public: the
//! endpoint, body and answers for creating a credential. Rather than guess
//! and silently write nowhere, [`PassportalVault::store`] answers a
//! configuration error that names the alternatives, so the workflow notes the
//! ticket and a technician stores the password by hand.

use async_trait::async_trait;
use secrecy::SecretString;

use super::{PasswordVault, StoredSecret, VaultEntry};
use crate::error::Error;

const SERVICE: &str = "passportal";

/// Passportal settings, kept so the configuration can name them; writing is
/// not supported (see the module documentation).
#[derive(Debug, Clone)]
pub struct PassportalVault {
    base_url: String,
    access_key_id: String,
    _hmac_token: SecretString,
}

impl PassportalVault {
    /// Passportal at `base_url` with the access key id and HMAC token.
    pub fn new(base_url: &str, access_key_id: &str, hmac_token: SecretString) -> Self {
        Self {
            base_url: base_url.to_owned(),
            access_key_id: access_key_id.to_owned(),
            _hmac_token: hmac_token,
        }
    }

    /// The configured instance.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The configured access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
}

#[async_trait]
impl PasswordVault for PassportalVault {
    fn destination(&self) -> &'static str {
        SERVICE
    }

    async fn store(&self, entry: &VaultEntry) -> Result<StoredSecret, Error> {
        tracing::warn!(service = SERVICE, onboarding_id = %entry.onboarding_id, "passportal cannot store passwords");
        Err(Error::Config {
            service: SERVICE,
            detail: "storing passwords in Passportal is not supported: it has no public API that \
                     writes passwords (N-able documents only authentication and documents: \
                     documentation.n-able.com/passportal/userguide/Content/api/api_authorization.htm; \
                     Hudu-Technologies-Inc/Hudu-PassPortal-Migration notes passwords are not exposed); \
                     set onboarding_password_save_location to a fallback list such as \
                     passportal,pwpush, or to itglue, hudu or pwpush, or store_password_in_ticket = 1"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn storing_in_passportal_is_refused_as_a_configuration_problem_naming_the_alternatives() {
        let vault = PassportalVault::new(
            "https://msp.passportalmsp.com",
            "AKID",
            SecretString::from("h"),
        );
        let entry = VaultEntry {
            onboarding_id: "ob-1".into(),
            organization: "Contoso".into(),
            title: "M365 - Jane Doe".into(),
            username: "jane@contoso.example".into(),
            password: SecretString::from("x"),
            url: None,
            notes: None,
        };

        let err = vault.store(&entry).await.unwrap_err();

        assert!(matches!(
            err,
            Error::Config {
                service: "passportal",
                ..
            }
        ));
        assert!(
            err.to_string()
                .contains("onboarding_password_save_location"),
            "{err}"
        );
        assert!(!err.is_transient());
    }
}
