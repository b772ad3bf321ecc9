//! Signing people in to the console with OpenID Connect (issue 18).
//!
//! - [`oidc`]: the relying party (discovery, PKCE, the code exchange, the ID
//!   token's validation with Entra's multitenant issuer and allowed tenants).
//!
//! Sessions, roles and the routes that use them build on it.

pub mod oidc;

pub use oidc::{OidcClient, OidcSettings, PendingSignIn, SignInError, SignedIn};
