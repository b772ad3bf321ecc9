//! The OpenID Connect relying party: discovery, the authorization request
//! with PKCE, the code exchange and the ID token's validation.
//!
//! The ID token is validated by `openidconnect` (signature against the
//! issuer's JWKS, issuer, audience, expiry, nonce); HTTP is our reqwest. The
//! JWKS is cached and fetched again, at most once a minute, when a token
//! names a key it does not have: that is how a rotated key is learnt.
//!
//! Entra's multitenant endpoints (`organizations`, `common`) name their issuer
//! `https://login.microsoftonline.com/{tenantid}/v2.0` literally; a token's
//! issuer carries the user's own tenant. So the issuer a token must have is
//! the template with its `tid`, and `tid` must be an allowed tenant.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, ClientId, CsrfToken, IdToken, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, SignatureVerificationError,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use onboard_steps::Clock;

/// The placeholder Entra's multitenant discovery puts in its issuer.
const TENANT_PLACEHOLDER: &str = "{tenantid}";
/// How often an unknown `kid` may send us to fetch the JWKS again (Microsoft:
/// "no more than once every 5 minutes").
const JWKS_REFETCH_SECS: i64 = 300;
/// How long the JWKS is used before it is fetched again anyway (Microsoft:
/// cache for 24 hours at most).
const JWKS_MAX_AGE_SECS: i64 = 24 * 3600;

/// Where and as whom to sign people in.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer (`https://login.microsoftonline.com/organizations/v2.0`);
    /// discovery is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: Url,
    /// The app registration's client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: SecretString,
    /// The tenants (`tid`) whose people may sign in. Empty: only the
    /// issuer's own tenant, which a multitenant issuer does not have.
    pub allowed_tenants: Vec<String>,
}

/// Why a sign-in failed, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The issuer could not be read (discovery, JWKS, token endpoint).
    #[error("the sign-in service at {url} did not answer usably: {detail}")]
    Unavailable {
        /// What was asked.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The issuer's documents are not what OpenID Connect says.
    #[error("the sign-in service's {what} is malformed: {detail}")]
    Malformed {
        /// Which document.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The answer came back for another sign-in (state mismatch, replay).
    #[error("this sign-in answer belongs to another sign-in attempt; start again")]
    StateMismatch,
    /// The issuer refused (the person cancelled, the code expired, ...).
    #[error("the sign-in service refused: {error}: {description}")]
    Refused {
        /// The OAuth error code.
        error: String,
        /// The issuer's words.
        description: String,
    },
    /// The ID token failed validation.
    #[error("the ID token is not valid: {0}")]
    InvalidToken(String),
    /// Signed in fine, from a tenant this deployment does not serve.
    #[error("accounts of tenant {tenant} may not sign in here")]
    TenantNotAllowed {
        /// The person's tenant.
        tenant: String,
    },
}

/// What is kept between sending a person to the issuer and their return:
/// sealed into a short-lived cookie, never shown to the page. Its `Debug`
/// hides the nonce and the verifier.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The `state` sent (CSRF protection for the callback).
    pub state: String,
    /// The `nonce` sent (binds the ID token to this attempt).
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// The redirect URI sent (the token request repeats it).
    pub redirect_uri: String,
    /// Where the person was going.
    pub return_to: String,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("redirect_uri", &self.redirect_uri)
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

/// The person who signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    /// The display name.
    pub name: String,
    /// The sign-in name (`preferred_username`).
    pub user_principal_name: String,
    /// The object id (`oid`), or `sub` when the issuer gives none.
    pub object_id: String,
    /// The tenant (`tid`).
    pub tenant_id: String,
    /// App role values (`roles`).
    pub roles: Vec<String>,
    /// Group ids (`groups`).
    pub groups: Vec<String>,
}

/// The claims Entra adds to the standard ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct EntraClaims {
    #[serde(default)]
    tid: Option<String>,
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}

impl AdditionalClaims for EntraClaims {}

type EntraIdToken = IdToken<
    EntraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
    #[serde(default)]
    end_session_endpoint: Option<Url>,
}

#[derive(Debug)]
struct CachedKeys {
    keys: CoreJsonWebKeySet,
    fetched_at: jiff::Timestamp,
}

/// A relying party for one issuer and app registration. Cheap to clone.
#[derive(Clone)]
pub struct OidcClient {
    settings: Arc<OidcSettings>,
    discovery: Arc<Discovery>,
    keys: Arc<Mutex<CachedKeys>>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient")
            .field("issuer", &self.discovery.issuer)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

fn unavailable(url: &Url) -> impl Fn(reqwest::Error) -> SignInError + '_ {
    move |e| SignInError::Unavailable {
        url: url.to_string(),
        detail: e.without_url().to_string(),
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &Url,
    what: &'static str,
) -> Result<T, SignInError> {
    let response = http
        .get(url.clone())
        .send()
        .await
        .map_err(unavailable(url))?;
    if !response.status().is_success() {
        return Err(SignInError::Unavailable {
            url: url.to_string(),
            detail: format!("HTTP {}", response.status()),
        });
    }
    let body = response.bytes().await.map_err(unavailable(url))?;
    serde_json::from_slice(&body).map_err(|e| SignInError::Malformed {
        what,
        detail: e.to_string(),
    })
}

impl OidcClient {
    /// Reads the issuer's discovery document and keys.
    pub async fn discover(
        settings: OidcSettings,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SignInError> {
        let base = settings.issuer.as_str().trim_end_matches('/');
        let url = Url::parse(&format!("{base}/.well-known/openid-configuration")).map_err(|e| {
            SignInError::Malformed {
                what: "issuer URL",
                detail: e.to_string(),
            }
        })?;
        let discovery: Discovery = get_json(&http, &url, "discovery document").await?;
        let keys: CoreJsonWebKeySet = get_json(&http, &discovery.jwks_uri, "JWKS").await?;
        let fetched_at = clock.now();
        Ok(Self {
            settings: Arc::new(settings),
            discovery: Arc::new(discovery),
            keys: Arc::new(Mutex::new(CachedKeys { keys, fetched_at })),
            http,
            clock,
        })
    }

    /// Where to send a person to sign in, and what to keep until they return.
    pub fn begin(&self, redirect_uri: &str, return_to: &str) -> (Url, PendingSignIn) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let nonce = Nonce::new_random();
        let mut url = self.discovery.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_mode", "query")
            .append_pair("scope", "openid profile email")
            .append_pair("state", state.secret())
            .append_pair("nonce", nonce.secret())
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", challenge.method().as_str());
        let pending = PendingSignIn {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            redirect_uri: redirect_uri.to_owned(),
            return_to: return_to.to_owned(),
        };
        (url, pending)
    }

    /// The issuer's sign-out page, coming back to `post_logout_redirect_uri`.
    pub fn sign_out_url(&self, post_logout_redirect_uri: &str) -> Option<Url> {
        let mut url = self.discovery.end_session_endpoint.clone()?;
        url.query_pairs_mut()
            .append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
        Some(url)
    }

    /// The person back from the issuer with `code` and `state` (the callback's
    /// query), for the attempt `pending`.
    pub async fn finish(
        &self,
        pending: &PendingSignIn,
        code: &str,
        state: &str,
    ) -> Result<SignedIn, SignInError> {
        // Constant time is not needed: `state` is compared once and single-use.
        if state != pending.state {
            return Err(SignInError::StateMismatch);
        }
        let id_token = self.redeem(pending, code).await?;
        self.validate(&id_token, &pending.nonce).await
    }

    async fn redeem(&self, pending: &PendingSignIn, code: &str) -> Result<String, SignInError> {
        let url = &self.discovery.token_endpoint;
        let verifier = PkceCodeVerifier::new(pending.verifier.clone());
        let response = self
            .http
            .post(url.clone())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", pending.redirect_uri.as_str()),
                ("client_id", self.settings.client_id.as_str()),
                ("client_secret", self.settings.client_secret.expose_secret()),
                ("code_verifier", verifier.secret().as_str()),
            ])
            .send()
            .await
            .map_err(unavailable(url))?;
        let status = response.status();
        let body: serde_json::Value =
            response.json().await.map_err(|e| SignInError::Malformed {
                what: "token answer",
                detail: e.without_url().to_string(),
            })?;
        if !status.is_success() {
            let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(SignInError::Unavailable {
                    url: url.to_string(),
                    detail: format!("HTTP {status}: {}", text("error")),
                });
            }
            return Err(SignInError::Refused {
                error: text("error"),
                description: text("error_description"),
            });
        }
        body["id_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or(SignInError::Malformed {
                what: "token answer",
                detail: "it has no id_token (was the openid scope granted?)".into(),
            })
    }

    /// The tenant a token claims, read before validation only to know which
    /// issuer it must name (validation then checks it).
    fn claimed_tenant(id_token: &str) -> Option<String> {
        let payload = id_token.split('.').nth(1)?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        claims["tid"].as_str().map(str::to_owned)
    }

    async fn validate(&self, id_token: &str, nonce: &str) -> Result<SignedIn, SignInError> {
        let token: EntraIdToken = id_token
            .parse()
            .map_err(|e: serde_json::Error| SignInError::InvalidToken(e.to_string()))?;
        let template = &self.discovery.issuer;
        let issuer = if template.contains(TENANT_PLACEHOLDER) {
            let tenant = Self::claimed_tenant(id_token)
                .ok_or_else(|| SignInError::InvalidToken("it names no tenant (tid)".into()))?;
            template.replace(TENANT_PLACEHOLDER, &tenant)
        } else {
            template.clone()
        };
        let issuer =
            IssuerUrl::new(issuer).map_err(|e| SignInError::InvalidToken(e.to_string()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let age = self.clock.now().as_second() - self.lock_keys().fetched_at.as_second();
        if age >= JWKS_MAX_AGE_SECS {
            // Stale keys still serve when the issuer cannot be reached.
            if let Err(e) = self.refetch_keys().await {
                tracing::warn!(error = %e, "the sign-in keys could not be refreshed; using the cached ones");
            }
        }
        let mut refetched = false;
        let claims = loop {
            let keys = self.lock_keys().keys.clone();
            let clock = self.clock.clone();
            let verifier = CoreIdTokenVerifier::new_public_client(
                ClientId::new(self.settings.client_id.clone()),
                issuer.clone(),
                keys,
            )
            .set_time_fn(move || {
                let now = clock.now();
                chrono::DateTime::from_timestamp(now.as_second(), now.subsec_nanosecond() as u32)
                    .unwrap_or_default()
            });
            match token.claims(&verifier, &nonce) {
                Ok(claims) => break claims.clone(),
                Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )) if !refetched && self.may_refetch() => {
                    refetched = true;
                    self.refetch_keys().await?;
                }
                Err(ClaimsVerificationError::SignatureVerification(e)) => {
                    return Err(SignInError::InvalidToken(format!(
                        "its signature does not verify: {e}"
                    )));
                }
                Err(e) => return Err(SignInError::InvalidToken(e.to_string())),
            }
        };
        let extra = claims.additional_claims();
        let tenant = extra
            .tid
            .clone()
            .ok_or_else(|| SignInError::InvalidToken("it names no tenant (tid)".into()))?;
        let own_tenant =
            !template.contains(TENANT_PLACEHOLDER) && self.settings.allowed_tenants.is_empty();
        if !own_tenant
            && !self
                .settings
                .allowed_tenants
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&tenant))
        {
            return Err(SignInError::TenantNotAllowed { tenant });
        }
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        let user_principal_name = claims
            .preferred_username()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default();
        Ok(SignedIn {
            name,
            user_principal_name,
            object_id: extra
                .oid
                .clone()
                .unwrap_or_else(|| claims.subject().as_str().to_owned()),
            tenant_id: tenant,
            roles: extra.roles.clone(),
            groups: extra.groups.clone(),
        })
    }

    fn lock_keys(&self) -> std::sync::MutexGuard<'_, CachedKeys> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn may_refetch(&self) -> bool {
        let fetched_at = self.lock_keys().fetched_at;
        let now = self.clock.now().as_second();
        now - fetched_at.as_second() >= JWKS_REFETCH_SECS || now < fetched_at.as_second()
    }

    async fn refetch_keys(&self) -> Result<(), SignInError> {
        let keys: CoreJsonWebKeySet =
            get_json(&self.http, &self.discovery.jwks_uri, "JWKS").await?;
        let mut cached = self.lock_keys();
        cached.keys = keys;
        cached.fetched_at = self.clock.now();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_sign_in_never_prints_its_nonce_or_verifier() {
        let pending = PendingSignIn {
            state: "state-value".into(),
            nonce: "nonce-value".into(),
            verifier: "verifier-value".into(),
            redirect_uri: "http://127.0.0.1/auth/callback".into(),
            return_to: "/".into(),
        };
        let printed = format!("{pending:?}");
        for secret in ["state-value", "nonce-value", "verifier-value"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
