//! Port `PasswordVault`: where a new user's first password is kept (IT Glue, Hudu, Passportal, Password Pusher).
//!
//! The workflow stores the password where `onboarding_password_save_location`
//! says and records the returned [`StoredSecret`] (destination, reference,
//! link) in the timeline, never the password. Writes are idempotent per
//! onboarding id: IT Glue and Hudu records carry a marker in their notes, and
//! a repeated [`PasswordVault::store`] finds the record and updates it instead
//! of creating a second one. Creation requests are retried only on 429 (which
//! the vendor did not process); any other failure is returned, and the step's
//! own retry looks the record up again before writing.

use std::fmt;

use async_trait::async_trait;
use reqwest::{Response, StatusCode};
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use crate::error::Error;

mod hudu;
mod itglue;
mod passportal;
mod pwpush;

pub use hudu::HuduVault;
pub use itglue::ItGlueVault;
pub use passportal::PassportalVault;
pub use pwpush::{PwPushAuth, PwPushSettings, PwPushVault};

/// One password to keep.
#[derive(Debug, Clone)]
pub struct VaultEntry {
    /// The onboarding this belongs to: the idempotency key of the write.
    pub onboarding_id: String,
    /// The organization as the vault knows it: its name there, or a name the
    /// client was given an explicit id for (`with_organization_id`).
    pub organization: String,
    /// The record's title, e.g. `M365 - Jane Doe`.
    pub title: String,
    /// The sign-in name (the UPN).
    pub username: String,
    /// The password.
    pub password: SecretString,
    /// Where to sign in, e.g. `https://portal.office.com`.
    pub url: Option<String>,
    /// Notes shown with the record (never the password).
    pub notes: Option<String>,
}

/// Where a password ended up: what the timeline records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    /// `itglue`, `hudu`, `pwpush`, ...
    pub destination: &'static str,
    /// The vault's id of the record (the push token for Password Pusher).
    pub reference: String,
    /// A link to the record, or for Password Pusher the one-time link to send.
    pub link: Option<String>,
    /// Password Pusher: days before the link expires, as the server applied them.
    pub expire_after_days: Option<u32>,
    /// Password Pusher: views before the link expires, as the server applied them.
    pub expire_after_views: Option<u32>,
    /// Whether an earlier write for the same onboarding was found and updated.
    pub updated_existing: bool,
}

/// Keeps a password somewhere a technician or the new user's manager can get it.
#[async_trait]
pub trait PasswordVault: Send + Sync + fmt::Debug {
    /// The destination's name, as `onboarding_password_save_location` spells it.
    fn destination(&self) -> &'static str;

    /// Stores `entry`, or updates what an earlier call for the same
    /// `onboarding_id` stored.
    async fn store(&self, entry: &VaultEntry) -> Result<StoredSecret, Error>;

    /// Read-only preflight (`onboard check`): finds `organization` in the vault
    /// (its mapping or its name) and lists its passwords with a title no entry
    /// has, proving the key is accepted; writes nothing. Vaults that keep no
    /// organizations (Password Pusher) answer `Ok`.
    async fn check_organization(&self, organization: &str) -> Result<(), Error> {
        let _ = organization;
        Ok(())
    }
}

/// The entry [`PasswordVault::check_organization`] looks for: a title no
/// onboarding writes, so the search is read-only and finds nothing.
pub(crate) fn probe_entry(organization: &str) -> VaultEntry {
    VaultEntry {
        onboarding_id: "onboard-check".into(),
        organization: organization.to_owned(),
        title: "onboard check (read-only probe)".into(),
        username: String::new(),
        password: SecretString::from(String::new()),
        url: None,
        notes: None,
    }
}

/// The text that marks a record as written for `onboarding_id`.
pub(crate) fn marker(onboarding_id: &str) -> String {
    format!("[onboard:{onboarding_id}]")
}

/// `notes` followed by the idempotency marker.
pub(crate) fn notes_with_marker(notes: Option<&str>, onboarding_id: &str) -> String {
    match notes {
        Some(notes) if !notes.is_empty() => format!("{notes}\n\n{}", marker(onboarding_id)),
        _ => marker(onboarding_id),
    }
}

/// Trims a configured base URL and checks it is http(s).
pub(crate) fn base_url(service: &'static str, setting: &str, value: &str) -> Result<String, Error> {
    let parsed = url::Url::parse(value.trim()).map_err(|e| Error::Config {
        service,
        detail: format!("{setting} is not a URL: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Config {
            service,
            detail: format!("{setting} must be an http(s) URL"),
        });
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Reads a successful JSON answer.
pub(crate) async fn read_json<T: DeserializeOwned>(
    service: &'static str,
    response: Response,
) -> Result<T, Error> {
    let bytes = response.bytes().await.map_err(|source| Error::Transport {
        service,
        source: source.without_url(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
        service,
        detail: format!("unreadable body: {e}"),
    })
}

/// The error for a non-success answer, given the vendor's code and message
/// read from its error body; `what` names the object for a 404.
pub(crate) fn failure(
    service: &'static str,
    status: StatusCode,
    code: String,
    message: String,
    what: impl FnOnce() -> String,
) -> Error {
    match status.as_u16() {
        401 => Error::Unauthorized { service, message },
        403 => Error::Forbidden { service, message },
        404 => Error::NotFound {
            service,
            what: what(),
        },
        429 => Error::Throttled {
            service,
            attempts: 1,
            retry_after: None,
        },
        500..=599 => Error::Unavailable {
            service,
            status: status.as_u16(),
            attempts: 1,
        },
        other => Error::Rejected {
            service,
            status: other,
            code,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_follows_the_notes_on_its_own_paragraph() {
        assert_eq!(
            notes_with_marker(Some("Created by Onboard"), "ob-1"),
            "Created by Onboard\n\n[onboard:ob-1]"
        );
        assert_eq!(notes_with_marker(None, "ob-1"), "[onboard:ob-1]");
    }

    #[test]
    fn a_base_url_must_be_http_and_loses_its_trailing_slash() {
        assert_eq!(
            base_url("pwpush", "pwpush_url", "https://pwpush.example/").unwrap(),
            "https://pwpush.example"
        );
        let err = base_url("pwpush", "pwpush_url", "ftp://x").unwrap_err();
        assert!(err.to_string().contains("pwpush_url"), "{err}");
        let err = base_url("pwpush", "pwpush_url", "not a url").unwrap_err();
        assert!(matches!(err, Error::Config { .. }));
    }

    #[test]
    fn an_entrys_debug_output_hides_the_password() {
        let entry = VaultEntry {
            onboarding_id: "ob-1".into(),
            organization: "Contoso".into(),
            title: "M365 - Jane Doe".into(),
            username: "jane@contoso.example".into(),
            password: SecretString::from("Tr0ub4dor&3"),
            url: None,
            notes: None,
        };

        let shown = format!("{entry:?}");

        assert!(!shown.contains("Tr0ub4dor"), "{shown}");
    }
}
