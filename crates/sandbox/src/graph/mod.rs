//! Microsoft Graph simulator: Entra ID users, licenses and groups on Graph's own paths, bodies and errors.
//!
//! Mount [`router`] under `/sandbox/graph`:
//!
//! - `POST /sandbox/graph/login/{tenant}/oauth2/v2.0/token` mirrors
//!   `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`
//!   (client credentials; wrong secrets get `AADSTS7000215`);
//! - `/sandbox/graph/v1.0/...` mirrors `https://graph.microsoft.com/v1.0/...`:
//!   `users` (list with `$filter`/`$select`/`$top`/paging, create, get,
//!   update, `manager`, `assignLicense`, `licenseDetails`, `memberOf`,
//!   `revokeSignInSessions`, `authentication/temporaryAccessPassMethods`,
//!   `authentication/methods` and the delete of each method type,
//!   `mailboxSettings` with its automatic replies),
//!   `subscribedSkus`, `groups` (list, get, `members/$ref`);
//! - `GET|PUT /sandbox/graph/control` reads and sets the replication delay
//!   and the token lifetime ([`ControlSettings`]); injected throttling, server
//!   errors and latency are set through the shared `/sandbox/faults/graph`.
//!
//! Graph's own quotas ([`ThrottleSettings`], the `throttle` module) are counted
//! per app and tenant, per app and per tenant on the sandbox clock, and
//! answered as Graph does: 429 with `Retry-After` and the throttle headers.
//!
//! Facts: `reference/api-facts.md` §1. The tenant model is in [`GraphState`],
//! which tests (and the Pax8 simulator, adding seats) hold while the router serves.

mod errors;
mod filter;
pub(crate) mod model;
mod routes;
mod throttle;

use axum::Router;
use axum::middleware;
use axum::routing::{delete, get, post, put};

use crate::faults::{FaultSettings, Faults};

pub use model::{
    AppSeed, AuthMethodSeed, ConditionalAccessSeed, GraphSeed, GraphState, GroupSeed,
    LicenseSnapshot, SeedError, SkuSeed, StateError, TapPolicySeed, TenantSeed, UserSeed,
    UserSnapshot,
};
pub use routes::ControlSettings;
pub use throttle::ThrottleSettings;

/// The service name of the Graph simulator's fault injector.
pub const SERVICE: &str = "graph";

/// A fault injector that answers in Graph's words (`Request_ThrottledTemporarily`, ...).
pub fn faults(settings: FaultSettings) -> Faults {
    Faults::new(SERVICE, settings, errors::fault_body)
}

/// A running simulator's parts: its tenants and its fault injector.
#[derive(Debug, Clone)]
pub struct GraphSimulator {
    state: GraphState,
    faults: Faults,
}

impl GraphSimulator {
    /// Builds the tenants and the injector from `seed`, on the real clock.
    pub fn new(seed: &GraphSeed) -> Result<Self, SeedError> {
        Self::with_clock(seed, std::sync::Arc::new(jiff::Timestamp::now))
    }

    /// Builds the tenants and the injector from `seed`; Graph's quotas refill on `clock`.
    pub fn with_clock(seed: &GraphSeed, clock: crate::SandboxClock) -> Result<Self, SeedError> {
        Ok(Self {
            state: GraphState::with_clock(seed, clock)?,
            faults: faults(seed.faults.clone()),
        })
    }

    /// The tenants, to inspect or change from tests and other simulators.
    pub fn state(&self) -> &GraphState {
        &self.state
    }

    /// The injector, to register with the `/sandbox/faults` control router.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The routes, to nest under `/sandbox/graph`.
    pub fn router(&self) -> Router {
        router(self.state.clone(), self.faults.clone())
    }
}

/// Graph's routes over `state`, with `faults` in front of `/v1.0` (the token
/// endpoint is not throttled). Nest the result under `/sandbox/graph`.
pub fn router(state: GraphState, faults: Faults) -> Router {
    let v1 = Router::new()
        .route("/users", get(routes::list_users).post(routes::create_user))
        .route(
            "/users/{id}",
            get(routes::get_user).patch(routes::update_user),
        )
        .route("/users/{id}/manager", get(routes::get_manager))
        .route(
            "/users/{id}/manager/$ref",
            put(routes::set_manager).delete(routes::remove_manager),
        )
        .route("/users/{id}/assignLicense", post(routes::assign_license))
        .route("/users/{id}/licenseDetails", get(routes::license_details))
        .route("/users/{id}/memberOf", get(routes::member_of))
        .route(
            "/users/{id}/revokeSignInSessions",
            post(routes::revoke_sessions),
        )
        .route(
            "/users/{id}/authentication/temporaryAccessPassMethods",
            post(routes::create_tap),
        )
        .route(
            "/users/{id}/authentication/methods",
            get(routes::list_auth_methods),
        )
        .route(
            "/users/{id}/authentication/{collection}/{method}",
            delete(routes::delete_auth_method),
        )
        .route(
            "/users/{id}/mailboxSettings",
            get(routes::get_mailbox_settings).patch(routes::update_mailbox_settings),
        )
        .route(
            "/servicePrincipals/{id}/memberOf",
            get(routes::service_principal_member_of),
        )
        .route("/subscribedSkus", get(routes::subscribed_skus))
        .route(
            "/policies/identitySecurityDefaultsEnforcementPolicy",
            get(routes::security_defaults),
        )
        .route(
            "/identity/conditionalAccess/policies",
            get(routes::conditional_access_policies),
        )
        .route(
            "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}",
            get(routes::authentication_method_configuration),
        )
        .route("/groups", get(routes::list_groups))
        .route("/groups/{id}", get(routes::get_group))
        .route("/groups/{id}/members/$ref", post(routes::add_member))
        .route(
            "/groups/{id}/members/{member}/$ref",
            delete(routes::remove_member),
        )
        .route(
            "/groups/{id}/members/{member}",
            delete(routes::delete_member_object),
        )
        // Inner to the authentication: the quotas are the caller's.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            routes::throttle,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            routes::authenticate,
        ))
        .method_not_allowed_fallback(routes::method_not_allowed)
        .fallback(routes::unknown_segment)
        .with_state(state.clone());
    Router::new()
        .route("/login/{tenant}/oauth2/v2.0/token", post(routes::token))
        .route(
            "/control",
            get(routes::show_control).put(routes::update_control),
        )
        .with_state(state)
        .nest("/v1.0", faults.layer(v1))
        // An explicit fallback keeps `/v1.0`'s own when this router is nested in turn.
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
}
