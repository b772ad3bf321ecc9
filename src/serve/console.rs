//! How `onboard serve` serves the console: signed in through `[server.sign_in]`,
//! open on loopback when no API keys are configured (the newcomer's default), or
//! closed (API keys, no sign-in: a browser has no way in).

use std::sync::Arc;

use onboard_http::access::Console;
use onboard_http::sign_in::{OidcSettings, Sessions, SignIn};
use onboard_steps::Deps;

use crate::config::{Config, Issuer};

/// The console for `config`, on a server reachable at `base`.
pub(crate) fn console(config: &Config, deps: &Deps, base: &str) -> anyhow::Result<Console> {
    let Some(sign_in) = &config.sign_in else {
        return Ok(if config.api_key_hashes.is_empty() {
            Console::Local
        } else {
            Console::Closed
        });
    };
    let issuer = match &sign_in.issuer {
        Issuer::Url(url) => url.clone(),
        // The sandbox's multitenant issuer on this very server, discovered at the
        // first sign-in (the server is not listening yet).
        Issuer::Sandbox => url::Url::parse(&format!(
            "{}/sandbox/entra/organizations/v2.0",
            base.trim_end_matches('/')
        ))?,
    };
    if deps.links.public_url().scheme() != "https" {
        tracing::warn!(
            public_url = %deps.links.public_url(),
            "sign-in is on, but the public URL is not https: session cookies are not marked Secure; \
             put Onboard behind TLS and set server.public_url to its https:// address"
        );
    }
    let sessions = Sessions::new(
        deps.store.clone(),
        deps.clock.clone(),
        &deps.links,
        sign_in.policy,
    );
    Ok(Console::SignIn(Arc::new(SignIn::new(
        OidcSettings {
            issuer,
            client_id: sign_in.client_id.clone(),
            client_secret: sign_in.client_secret.clone(),
            allowed_tenants: sign_in.allowed_tenants.clone(),
        },
        sign_in.roles.clone(),
        sessions,
        deps.clock.clone(),
    ))))
}
