//! Client-credentials access tokens, one per tenant, cached until shortly before they expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::TenantId;
use crate::error::Error;
use crate::http::HttpClient;

/// An app registration's client id and secret.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    /// The application (client) id.
    pub client_id: String,
    /// The client secret value (never logged: `Debug` shows `[REDACTED]`).
    pub client_secret: SecretString,
}

/// Where token lifetimes are measured from; tests move it forward.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;
}

/// The monotonic system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// How long before expiry a token is replaced: five minutes, or a tenth of
/// a short lifetime, so a call never starts with a token about to lapse.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(300))
}

#[derive(Debug, Clone)]
struct Cached {
    token: SecretString,
    /// When to fetch a new one (expiry minus the margin).
    refresh_at: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// Tokens by tenant. One fetch per tenant at a time: callers arriving during
/// a fetch wait for it instead of asking Entra again.
#[derive(Debug)]
pub(crate) struct TokenCache {
    http: HttpClient,
    authority: Url,
    scope: String,
    credentials: AppCredentials,
    per_tenant: HashMap<TenantId, AppCredentials>,
    clock: Arc<dyn Clock>,
    slots: Mutex<HashMap<TenantId, Slot>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct SignInError {
    error: String,
    #[serde(default)]
    error_description: String,
}

impl TokenCache {
    pub(crate) fn new(
        http: HttpClient,
        authority: Url,
        scope: String,
        credentials: AppCredentials,
    ) -> Self {
        Self {
            http,
            authority,
            scope,
            credentials,
            per_tenant: HashMap::new(),
            clock: Arc::new(SystemClock),
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn set_http(&mut self, http: HttpClient) {
        self.http = http;
    }

    pub(crate) fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    pub(crate) fn set_tenant_credentials(&mut self, tenant: TenantId, credentials: AppCredentials) {
        self.per_tenant.insert(tenant, credentials);
    }

    fn slot(&self, tenant: &TenantId) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(tenant.clone()).or_default().clone()
    }

    /// A token for `tenant`: the cached one while fresh, else a new one.
    pub(crate) async fn get(&self, tenant: &TenantId) -> Result<SecretString, Error> {
        let slot = self.slot(tenant);
        let mut cached = slot.lock().await;
        if let Some(entry) = cached.as_ref()
            && self.clock.now() < entry.refresh_at
        {
            return Ok(entry.token.clone());
        }
        let fresh = self.fetch(tenant).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops `token` if it is still the cached one (Graph refused it).
    pub(crate) async fn invalidate(&self, tenant: &TenantId, token: &SecretString) {
        let slot = self.slot(tenant);
        let mut cached = slot.lock().await;
        if cached
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == token.expose_secret())
        {
            *cached = None;
        }
    }

    async fn fetch(&self, tenant: &TenantId) -> Result<Cached, Error> {
        let credentials = self.per_tenant.get(tenant).unwrap_or(&self.credentials);
        let mut url = self.authority.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config {
                service: self.http.service(),
                detail: "the authority url cannot have a path".into(),
            })?
            .pop_if_empty()
            .extend([tenant.as_str(), "oauth2", "v2.0", "token"]);
        let form = [
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.expose_secret()),
            ("scope", self.scope.as_str()),
            ("grant_type", "client_credentials"),
        ];
        let requested_at = self.clock.now();
        let response = self
            .http
            .send(self.http.inner().post(url).form(&form))
            .await?;
        let status = response.status();
        let body = response.bytes().await.map_err(|source| Error::Transport {
            service: self.http.service(),
            source: source.without_url(),
        })?;
        if status.is_success() {
            let answer: TokenAnswer =
                serde_json::from_slice(&body).map_err(|e| Error::Protocol {
                    service: self.http.service(),
                    detail: format!("token answer: {e}"),
                })?;
            let lifetime = Duration::from_secs(answer.expires_in);
            tracing::debug!(tenant = %tenant, service = self.http.service(), expires_in = answer.expires_in, "token issued");
            return Ok(Cached {
                token: SecretString::from(answer.access_token),
                refresh_at: requested_at + lifetime - refresh_margin(lifetime),
            });
        }
        // `error_description` starts with "AADSTS<n>: <text>", then trace ids on
        // further lines; the first line is the useful part and holds no secret.
        let message = match serde_json::from_slice::<SignInError>(&body) {
            Ok(e) => {
                let first = e
                    .error_description
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim();
                format!("{}: {first}", e.error)
            }
            Err(_) => format!("token endpoint answered HTTP {}", status.as_u16()),
        };
        Err(Error::Unauthorized {
            service: self.http.service(),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_replaced_five_minutes_before_a_one_hour_expiry() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3599)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(60)),
            Duration::from_secs(6)
        );
    }

    #[test]
    fn credentials_debug_output_hides_the_secret() {
        let credentials = AppCredentials {
            client_id: "app".into(),
            client_secret: SecretString::from("s3cr3t-value"),
        };

        let shown = format!("{credentials:?}");

        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("app"));
    }
}
