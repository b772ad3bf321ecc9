//! What the distributors' HTTP APIs have in common: OAuth 2.0
//! client-credentials tokens (fetched when missing or about to expire, kept
//! until then), JSON bodies read whole, and dates written either as RFC 3339
//! times or as bare dates.

use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use crate::http::HttpClient;

/// A token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// One client's cached access token.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    cached: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
}

impl TokenCache {
    /// A valid token: the cached one, or one from `request` (the vendor's
    /// token call, JSON or form as it documents) sent through `http`. A
    /// refusal is `Unauthorized` with the endpoint's `error` / `error_description`.
    pub(crate) async fn get(
        &self,
        service: &'static str,
        http: &HttpClient,
        request: impl FnOnce() -> RequestBuilder,
    ) -> Result<SecretString, Error> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now() + TOKEN_MARGIN < *expires
        {
            return Ok(token.clone());
        }
        let response = http.send(request()).await?;
        let status = response.status();
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let message = match (body["error"].as_str(), body["error_description"].as_str()) {
                (Some(error), Some(description)) => format!("{error}: {description}"),
                (Some(error), None) => error.to_owned(),
                _ => format!("token endpoint answered HTTP {}", status.as_u16()),
            };
            return Err(Error::Unauthorized { service, message });
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            expires_in: u64,
        }
        let token: Token = read_json(service, response).await?;
        let secret = SecretString::from(token.access_token);
        *cached = Some((
            secret.clone(),
            Instant::now() + Duration::from_secs(token.expires_in),
        ));
        Ok(secret)
    }

    /// Forgets the token (the API refused it before it expired).
    pub(crate) async fn clear(&self) {
        *self.cached.lock().await = None;
    }
}

/// A distributor's JSON answer, read whole.
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

/// A distributor's date: an RFC 3339 time, a civil date-time or a bare date
/// (both taken as UTC).
pub(crate) fn vendor_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse::<jiff::Timestamp>().ok().or_else(|| {
        text.parse::<jiff::civil::DateTime>()
            .ok()
            .or_else(|| {
                text.parse::<jiff::civil::Date>()
                    .ok()
                    .map(|d| d.at(0, 0, 0, 0))
            })
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}
