//! Signing people in to the console with OpenID Connect (Entra ID first).
//!
//! - [`oidc`]: the relying party (discovery, PKCE, the code exchange, the ID
//!   token's validation with Entra's multitenant issuer and allowed tenants).
//! - [`roles`]: the console's four roles and the mapping from app roles and
//!   groups to them.
//! - [`session`]: sessions in the store, named by a sealed cookie.
//! - [`routes`]: `/auth/sign-in`, `/auth/callback`, `/auth/sign-out`,
//!   `/auth/signed-out` and `/auth/account`.
//!
//! [`SignIn`] holds them together for [`crate::access::Console::SignIn`].

pub mod oidc;
pub mod roles;
pub mod routes;
pub mod session;

use std::sync::Arc;

use onboard_steps::Clock;

pub use oidc::{OidcClient, OidcSettings, PendingSignIn, SignInError, SignedIn};
pub use roles::{Role, RoleMap, Roles};
pub use session::{Person, Session, SessionPolicy, Sessions};

/// A configured sign-in: the issuer (discovered on first use, so a server may
/// sign people in through an issuer it serves itself, and an issuer down at
/// start-up does not stop the server), the role mapping and the sessions.
pub struct SignIn {
    settings: OidcSettings,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    client: tokio::sync::OnceCell<OidcClient>,
    /// Which claims give which role.
    pub roles: RoleMap,
    /// The sessions.
    pub sessions: Sessions,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("issuer", &self.settings.issuer.as_str())
            .field("client_id", &self.settings.client_id)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl SignIn {
    /// A sign-in through `settings`' issuer, asked with a client that waits
    /// 10 seconds at most and follows no redirects.
    pub fn new(
        settings: OidcSettings,
        roles: RoleMap,
        sessions: Sessions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            settings,
            http,
            clock,
            client: tokio::sync::OnceCell::new(),
            roles,
            sessions,
        }
    }

    /// The issuer's URL.
    pub fn issuer(&self) -> &url::Url {
        &self.settings.issuer
    }

    /// The relying party, discovering the issuer on first use; a failed
    /// discovery is tried again by the next sign-in.
    pub async fn client(&self) -> Result<&OidcClient, SignInError> {
        self.client
            .get_or_try_init(|| {
                OidcClient::discover(self.settings.clone(), self.http.clone(), self.clock.clone())
            })
            .await
    }
}
