//! Password Pusher: a one-time link that expires after some days or views.

use async_trait::async_trait;
use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PasswordVault, StoredSecret, VaultEntry, base_url, failure, read_json};
use crate::error::Error;
use crate::http::HttpClient;

const SERVICE: &str = "pwpush";

/// How Password Pusher knows who is pushing.
#[derive(Debug, Clone)]
pub enum PwPushAuth {
    /// No token: allowed for text pushes on pwpush.com unless the instance
    /// sets `allow_anonymous: false`.
    Anonymous,
    /// `Authorization: Bearer <token>` (current).
    Bearer(SecretString),
    /// Legacy `X-User-Email` + `X-User-Token`.
    UserToken {
        /// The account's mail address.
        email: String,
        /// Its API token.
        token: SecretString,
    },
}

/// What a push asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PwPushSettings {
    /// Days before the link expires (pwpush.com accepts 1–90; an instance
    /// resets values outside its range to its default rather than refusing).
    pub expire_after_days: u32,
    /// Views before the link expires (pwpush.com accepts 1–100).
    pub expire_after_views: u32,
    /// Show a "click to reveal" page first, so mail scanners that follow
    /// links do not use up a view.
    pub retrieval_step: bool,
    /// Let the recipient delete the push once read.
    pub deletable_by_viewer: bool,
}

impl Default for PwPushSettings {
    fn default() -> Self {
        Self {
            expire_after_days: 7,
            expire_after_views: 5,
            retrieval_step: true,
            deletable_by_viewer: true,
        }
    }
}

/// Pushes passwords to a Password Pusher instance (`pwpush_url`).
///
/// With a token, a push whose answer was lost is found again among the
/// account's active pushes (`GET /p/active.json`) by its note, which names the
/// onboarding and this store call, so a resend makes no second link. Anonymous pushes cannot be
/// listed: there a repeated call makes a second link (the first expires on its own).
/// With a token, a new store for the same onboarding (a retried step, with a
/// fresh password) first expires the links earlier stores made.
#[derive(Debug, Clone)]
pub struct PwPushVault {
    http: HttpClient,
    base: String,
    auth: PwPushAuth,
    settings: PwPushSettings,
}

/// A push as `GET /p/active.json` lists it.
#[derive(Debug, Deserialize)]
struct Listed {
    #[serde(flatten)]
    push: Created,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Created {
    url_token: String,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    expire_after_days: Option<u32>,
    #[serde(default)]
    expire_after_views: Option<u32>,
}

impl PwPushVault {
    /// A client for the instance at `pwpush_url` (e.g. `https://eu.pwpush.com`
    /// or a self-hosted URL).
    pub fn new(
        http: HttpClient,
        pwpush_url: &str,
        auth: PwPushAuth,
        settings: PwPushSettings,
    ) -> Result<Self, Error> {
        Ok(Self {
            http,
            base: base_url(SERVICE, "pwpush_url", pwpush_url)?,
            auth,
            settings,
        })
    }

    /// The push this account already made with `note` and `name`, if any.
    async fn find_push(&self, note: &str, name: &str) -> Result<Option<Created>, Error> {
        Ok(self
            .active_pushes()
            .await?
            .into_iter()
            .find(|p| p.note.as_deref() == Some(note) && p.name.as_deref() == Some(name))
            .map(|p| p.push))
    }

    /// Expires the live pushes an earlier store for this onboarding made
    /// (`note_prefix`, `name`): they hold a password the directory no longer has.
    async fn expire_superseded(&self, note_prefix: &str, name: &str) -> Result<usize, Error> {
        let stale: Vec<Listed> = self
            .active_pushes()
            .await?
            .into_iter()
            .filter(|p| {
                p.note
                    .as_deref()
                    .is_some_and(|n| n.starts_with(note_prefix))
                    && p.name.as_deref() == Some(name)
            })
            .collect();
        for push in &stale {
            let request = self.authenticate(
                self.http
                    .inner()
                    .delete(format!("{}/p/{}.json", self.base, push.push.url_token)),
            );
            let response = self.http.send(request).await?;
            // 404: gone already (expired or deleted meanwhile).
            if !response.status().is_success() && response.status().as_u16() != 404 {
                return Err(failure(
                    SERVICE,
                    response.status(),
                    "unknown".into(),
                    "expiring an earlier push was refused".into(),
                    || "push".into(),
                ));
            }
        }
        Ok(stale.len())
    }

    /// The account's live pushes (`GET /p/active.json`, a token required).
    async fn active_pushes(&self) -> Result<Vec<Listed>, Error> {
        let request = self.authenticate(
            self.http
                .inner()
                .get(format!("{}/p/active.json", self.base)),
        );
        let response = self.http.send(request).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(failure(
                SERVICE,
                status,
                "unknown".into(),
                "listing the active pushes was refused".into(),
                || "active pushes".into(),
            ));
        }
        read_json(SERVICE, response).await
    }

    /// Creates the push, once: a lost answer is looked for, not resent.
    async fn push(&self, body: &Value) -> Result<Created, Error> {
        let request = self.authenticate(
            self.http
                .inner()
                .post(format!("{}/p.json", self.base))
                .json(body),
        );
        let response = self.http.send_write(request).await?;
        let status = response.status();
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let message = match status.as_u16() {
                401 => {
                    "the API token was refused (or this instance does not allow anonymous pushes)"
                        .to_owned()
                }
                _ => body["error"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| body.to_string()),
            };
            return Err(failure(SERVICE, status, "unknown".into(), message, || {
                "push".into()
            }));
        }
        let created: Created = read_json(SERVICE, response).await?;
        if created.expire_after_days != Some(self.settings.expire_after_days)
            || created.expire_after_views != Some(self.settings.expire_after_views)
        {
            tracing::warn!(
                service = SERVICE,
                asked_days = self.settings.expire_after_days,
                asked_views = self.settings.expire_after_views,
                days = created.expire_after_days,
                views = created.expire_after_views,
                "the instance applied other expiry limits than asked (out of its range)"
            );
        }
        Ok(created)
    }

    fn authenticate(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.auth {
            PwPushAuth::Anonymous => builder,
            PwPushAuth::Bearer(token) => builder.bearer_auth(token.expose_secret()),
            PwPushAuth::UserToken { email, token } => builder
                .header("X-User-Email", email)
                .header("X-User-Token", token.expose_secret()),
        }
    }
}

impl PwPushVault {
    /// The link to send: `preview.json` names it (the retrieval-step page
    /// `/p/{token}/r` when the push has one, so mail scanners do not use up a
    /// view). The push exists by now, so a failed preview falls back to its
    /// `html_url` rather than failing the store (a retry would push again).
    async fn share_link(&self, created: &Created) -> String {
        let fallback = created
            .html_url
            .clone()
            .unwrap_or_else(|| format!("{}/p/{}", self.base, created.url_token));
        let request = self.authenticate(self.http.inner().get(format!(
            "{}/p/{}/preview.json",
            self.base, created.url_token
        )));
        #[derive(Deserialize)]
        struct Preview {
            url: String,
        }
        let preview = match self.http.send(request).await {
            Ok(response) if response.status().is_success() => {
                read_json::<Preview>(SERVICE, response).await
            }
            Ok(response) => Err(Error::Protocol {
                service: SERVICE,
                detail: format!("preview answered HTTP {}", response.status().as_u16()),
            }),
            Err(e) => Err(e),
        };
        match preview {
            Ok(preview) => preview.url,
            Err(e) => {
                tracing::warn!(service = SERVICE, error = %e, "no preview link, sending the push's html_url");
                fallback
            }
        }
    }
}

#[async_trait]
impl PasswordVault for PwPushVault {
    fn destination(&self) -> &'static str {
        SERVICE
    }

    #[tracing::instrument(skip_all, fields(vault = SERVICE, onboarding_id = %entry.onboarding_id))]
    async fn store(&self, entry: &VaultEntry) -> Result<StoredSecret, Error> {
        // Each store pushes a new password (a step retry makes a fresh one), so
        // only this call's push may be found again: the note carries a nonce.
        let note = format!(
            "onboarding {} ({})",
            entry.onboarding_id,
            uuid::Uuid::new_v4().simple()
        );
        let body = json!({"password": {
            "payload": entry.password.expose_secret(),
            "expire_after_days": self.settings.expire_after_days,
            "expire_after_views": self.settings.expire_after_views,
            "retrieval_step": self.settings.retrieval_step,
            "deletable_by_viewer": self.settings.deletable_by_viewer,
            "name": entry.title,
            "note": note,
            "kind": "text",
        }});
        let created = if matches!(self.auth, PwPushAuth::Anonymous) {
            // Nothing to look for: one attempt, never resent blindly.
            self.push(&body).await?
        } else {
            let earlier = format!("onboarding {} (", entry.onboarding_id);
            match self.expire_superseded(&earlier, &entry.title).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    service = SERVICE,
                    expired = n,
                    "earlier links of this onboarding expired"
                ),
                // The old link's password no longer works: a failure here is not worth the new one.
                Err(e) => {
                    tracing::warn!(service = SERVICE, error = %e, "could not expire the earlier links")
                }
            }
            // The note is new to this call: nothing can carry it before the
            // first push is sent, so only a lost answer is worth a listing.
            let sent = std::sync::atomic::AtomicBool::new(false);
            crate::http::create_once(
                SERVICE,
                "push",
                || async {
                    if sent.load(std::sync::atomic::Ordering::Relaxed) {
                        self.find_push(&note, &entry.title).await
                    } else {
                        Ok(None)
                    }
                },
                || {
                    sent.store(true, std::sync::atomic::Ordering::Relaxed);
                    self.push(&body)
                },
            )
            .await?
        };
        let link = self.share_link(&created).await;
        Ok(StoredSecret {
            destination: SERVICE,
            reference: created.url_token,
            link: Some(link),
            expire_after_days: created.expire_after_days,
            expire_after_views: created.expire_after_views,
            updated_existing: false,
        })
    }
}
