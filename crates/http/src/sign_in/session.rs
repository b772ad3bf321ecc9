//! Console sessions: who is signed in, kept in the store, and the cookie that
//! names them.
//!
//! The browser holds only `onboard_session`: 32 random bytes, sealed
//! (XChaCha20-Poly1305 under a key derived from the deployment's link-signing
//! key). The store keeps the session under the SHA-256 of those bytes, so
//! neither a copy of the store nor a cookie forged without the key names a
//! session. The cookie is `HttpOnly`, `SameSite=Lax` (the issuer's redirect back
//! is a top-level navigation from another site) and `Secure` whenever the
//! public URL is https. A session ends after [`SessionPolicy::idle`] without a
//! request (each request slides it on), after [`SessionPolicy::max`] in any
//! case, and at sign-out, which deletes it from the store: a copied cookie
//! then opens nothing.
//!
//! The sign-in attempt in flight (state, nonce, PKCE verifier) rides in a second
//! sealed cookie, `onboard_sign_in`, for ten minutes.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use cookie::{Cookie, SameSite};
use hmac::Mac as _;
use jiff::{SignedDuration, Timestamp};
use onboard_steps::{Clock, LinkSigner};
use onboard_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::oidc::PendingSignIn;
use super::roles::Roles;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "onboard_session";
/// The pending sign-in's cookie.
pub const PENDING_COOKIE: &str = "onboard_sign_in";
/// How long a sign-in attempt may take at the issuer.
const PENDING_SECS: i64 = 600;
/// A session is written again only when this much of its idle time has passed,
/// so a page with many requests does not write the store for each.
const RENEW_AFTER_SECS: i64 = 60;
const NONCE_LEN: usize = 24;

/// A signed-in person, as the timeline and the ticket name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Their display name (`name` claim).
    pub name: String,
    /// Their user principal name (`preferred_username`).
    pub user_principal_name: String,
    /// Their object id (`oid`).
    pub object_id: String,
    /// Their tenant (`tid`).
    pub tenant_id: String,
}

impl Person {
    /// `Name (upn)`, as an action is noted.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.user_principal_name)
    }
}

/// One session, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Who.
    pub person: Person,
    /// What they may do, read from their ID token at sign-in.
    pub roles: Roles,
    /// When they signed in.
    pub signed_in_at: Timestamp,
    /// When the session ends whatever happens (sign in again after).
    pub ends_at: Timestamp,
    /// When it ends unless used before.
    pub idle_until: Timestamp,
}

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ends after this long without a request.
    pub idle: SignedDuration,
    /// Ends this long after sign-in in any case.
    pub max: SignedDuration,
}

impl Default for SessionPolicy {
    /// An hour idle, a working day at most.
    fn default() -> Self {
        Self {
            idle: SignedDuration::from_hours(1),
            max: SignedDuration::from_hours(10),
        }
    }
}

/// Why a session could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The system had no randomness for a session id.
    #[error("no randomness for a session id")]
    Randomness,
    /// A session could not be encoded or decoded.
    #[error("a session could not be encoded: {0}")]
    Encoding(#[from] serde_json::Error),
}

/// Makes, reads, renews and ends sessions.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    key: Arc<[u8; 32]>,
    policy: SessionPolicy,
    secure: bool,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("policy", &self.policy)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions in `store`, on `clock`, sealed under a key derived from `links`
    /// (whose public URL's scheme decides `Secure`).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        links: &LinkSigner,
        policy: SessionPolicy,
    ) -> Self {
        let key: [u8; 32] = links
            .derived_key("console-session-cookies")
            .finalize()
            .into_bytes()
            .into();
        Self {
            store,
            clock,
            key: Arc::new(key),
            policy,
            secure: links.public_url().scheme() == "https",
        }
    }

    /// Starts a session for `person` with `roles`; answers the `Set-Cookie` to send.
    pub async fn start(&self, person: Person, roles: Roles) -> Result<HeaderValue, SessionError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|_| SessionError::Randomness)?;
        let now = self.clock.now();
        let session = Session {
            person,
            roles,
            signed_in_at: now,
            ends_at: now + self.policy.max,
            idle_until: now + self.policy.idle,
        };
        self.store
            .put_session(
                &session_id(&secret),
                &serde_json::to_value(&session)?,
                now,
                session.idle_until,
            )
            .await?;
        let sealed = self.seal(&secret, SESSION_COOKIE.as_bytes())?;
        Ok(self.cookie(SESSION_COOKIE, sealed, None))
    }

    /// The live session the request's cookie names, slid on when due. `None`
    /// for no cookie, a cookie that does not open, or a session that ended.
    pub async fn current(&self, headers: &HeaderMap) -> Result<Option<Session>, SessionError> {
        let Some(id) = self.cookie_id(headers) else {
            return Ok(None);
        };
        let now = self.clock.now();
        let Some(data) = self.store.session(&id, now).await? else {
            return Ok(None);
        };
        let mut session: Session = serde_json::from_value(data)?;
        if session.ends_at <= now {
            self.store.delete_session(&id).await?;
            return Ok(None);
        }
        let slid = (now + self.policy.idle).min(session.ends_at);
        if slid.duration_since(session.idle_until) >= SignedDuration::from_secs(RENEW_AFTER_SECS) {
            session.idle_until = slid;
            self.store
                .put_session(&id, &serde_json::to_value(&session)?, now, slid)
                .await?;
        }
        Ok(Some(session))
    }

    /// Ends the request's session (deleting it from the store) and answers the
    /// `Set-Cookie` that clears the cookie.
    pub async fn end(&self, headers: &HeaderMap) -> Result<HeaderValue, SessionError> {
        if let Some(id) = self.cookie_id(headers) {
            self.store.delete_session(&id).await?;
        }
        Ok(self.cookie(SESSION_COOKIE, String::new(), Some(0)))
    }

    /// The `Set-Cookie` carrying a sign-in attempt to the callback.
    pub fn pending_cookie(&self, pending: &PendingSignIn) -> Result<HeaderValue, SessionError> {
        let sealed = self.seal(&serde_json::to_vec(pending)?, PENDING_COOKIE.as_bytes())?;
        Ok(self.cookie(PENDING_COOKIE, sealed, Some(PENDING_SECS)))
    }

    /// The sign-in attempt the request's cookie carries, if it opens.
    pub fn pending(&self, headers: &HeaderMap) -> Option<PendingSignIn> {
        let sealed = crate::cookies::value(headers, PENDING_COOKIE)?;
        let bytes = self.open(&sealed, PENDING_COOKIE.as_bytes())?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The `Set-Cookie` that clears the sign-in attempt.
    pub fn clear_pending(&self) -> HeaderValue {
        self.cookie(PENDING_COOKIE, String::new(), Some(0))
    }

    fn cookie_id(&self, headers: &HeaderMap) -> Option<String> {
        let sealed = crate::cookies::value(headers, SESSION_COOKIE)?;
        let secret = self.open(&sealed, SESSION_COOKIE.as_bytes())?;
        (secret.len() == 32).then(|| session_id(&secret))
    }

    fn cookie(&self, name: &'static str, value: String, max_age: Option<i64>) -> HeaderValue {
        let mut cookie = Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure);
        if let Some(secs) = max_age {
            cookie = cookie.max_age(cookie::time::Duration::seconds(secs));
        }
        // Built from base64url and fixed names only, so always a valid header.
        HeaderValue::from_str(&cookie.build().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.as_ref().into())
    }

    fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<String, SessionError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SessionError::Randomness)?;
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .map_err(|_| SessionError::Randomness)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    fn open(&self, text: &str, aad: &[u8]) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        if bytes.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
            .ok()
    }
}

/// The store's key of a session: the hex SHA-256 of the cookie's secret.
fn session_id(secret: &[u8]) -> String {
    Sha256::digest(secret)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
