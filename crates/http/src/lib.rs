//! Onboard's HTTP layer, the same on one machine and on AWS: `onboard serve` mounts
//! [`router`] under its serve-only routes (sandbox, clock, health), and the `api`
//! Lambda serves it through `lambda_http` behind API Gateway.
//!
//! - [`api`]: `/api/onboardings`, `/api/offboardings`, `/api/organizations` (CONTRACT.md §2).
//! - [`actions`]: cancel, resend and move the date of a waiting run (CONTRACT.md §4).
//! - [`plan`]: `POST /api/onboardings/plan`, `POST /api/offboardings/plan` (read-only).
//! - [`templates`]: an organization's templates: list, get, replace, delete, make one from a user.
//! - [`lookups`]: the pickers' `GET /api/organizations/{id}/licenses|groups|users`.
//! - [`openapi`]: the OpenAPI 3.1 document of `/api/*` (utoipa), at `/api/openapi.json`.
//! - [`runs`]: the run listings (`GET /api/onboardings`, `GET /api/offboardings`, CONTRACT.md §4).
//! - `dashboard`: the dashboard at `/` (askama templates in `templates/`).
//! - `onboarding_form`: the new-user form with its pickers and plan panel (askama), and
//!   `/assets/console.js`, the small script that makes the console's forms live.
//! - [`pages`]: the HTML forms at `/` (onboarding) and `/offboard`.
//! - [`run_page`]: a run's page (status, pending decision, timeline, restore record,
//!   the `state_picture` of its state machine) and its cancel / resend / date forms.
//! - [`organizations_page`]: the organizations, each variable's value and where it comes from.
//! - [`decisions`]: decision links (confirmation page, decide) and pending approvals.
//! - [`batch_page`]: the console's batches: upload a CSV, check its rows, start it, follow it.
//! - [`routes`]: every route with what it needs (a role, a link's signature, nothing).
//! - [`access`]: who may use which route: API keys, console sessions, the open loopback console.
//! - [`sign_in`]: sign-in with OpenID Connect (Entra ID), roles, sessions, `/auth/*`.
//! - [`auth`]: API keys (hashed).
//! - [`guard`]: the `Host` answered, requests from other sites refused, JSON-only
//!   `/api/*`, request spans without query strings; in front of every route.
//! - [`csrf`]: the HTML forms' CSRF cookie and token.
//! - [`error`]: the one problem+json error mapping.
//!
//! What differs between the runtimes sits behind [`Runtime`]: starting a record's
//! execution, resuming a waiting task, and the organizations forms may name.
//! This crate knows the steps and the store; it knows neither the interpreter
//! (`onboard-asl`) nor any AWS SDK.

#![warn(missing_docs)]

pub mod access;
pub mod actions;
pub mod api;
pub mod auth;
pub mod batch;
pub mod batch_page;
mod cookies;
pub mod csrf;
mod dashboard;
pub mod decisions;
pub mod error;
pub mod guard;
pub mod lookups;
mod onboarding_form;
pub mod openapi;
pub mod organizations_page;
pub mod pages;
pub mod plan;
pub mod routes;
pub mod run_page;
pub mod runs;
pub mod sign_in;
mod state_picture;
pub mod templates;

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use onboard_domain::Variables;
use onboard_steps::{Deps, TaskCallbacks};
use onboard_store::{RecordKind, Store};

pub use auth::{ApiKeys, hash_api_key};
pub use error::ApiError;
pub use guard::{HostPolicy, Protection};

/// An organization as forms list it (`GET /api/organizations`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrganizationSummary {
    /// The id forms name.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The domain of its users.
    pub domain: String,
}

/// Why the runtime could not do what a request needed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The workflow service is unreachable, throttling or failing: 503, try again.
    #[error("the workflow service is unavailable: {0}")]
    Unavailable(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] onboard_store::StoreError),
    /// Anything else (a configuration that cannot be read, ...): 500.
    #[error("{0}")]
    Internal(String),
}

/// The workflow runtime under the HTTP layer: the embedded interpreter of
/// `onboard serve`, or AWS Step Functions.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Starts the workflow of record `id` of `kind` as the execution named `id`;
    /// an execution of that name already there is the same submit again, not an
    /// error. Returns when the runtime wants the answer given (the local server
    /// waits until the workflow parks, so the answer's status is meaningful).
    async fn start(&self, kind: RecordKind, id: &str) -> Result<(), RuntimeError>;

    /// Resumes tasks waiting for a token (decision links).
    fn callbacks(&self) -> &dyn TaskCallbacks;

    /// The organizations forms may name, by id.
    async fn organizations(&self) -> Result<Vec<OrganizationSummary>, RuntimeError>;

    /// An organization's resolved variables (defaults <- MSP-wide <- organization);
    /// `None` when no such organization is served.
    async fn variables(&self, organization: &str) -> Result<Option<Variables>, RuntimeError>;

    /// The states the execution of record `id` of `kind` entered, oldest first (the
    /// run page's picture); `None` when the runtime has no execution of that name.
    async fn execution_path(
        &self,
        kind: RecordKind,
        id: &str,
    ) -> Result<Option<ExecutionPath>, RuntimeError>;
}

/// Where an execution went, read from the runtime's own history (the interpreter's
/// record, or Step Functions' `GetExecutionHistory`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionPath {
    /// The names of the states entered, oldest first (a state entered twice, as a
    /// wait loop does, is listed twice).
    pub entered: Vec<String>,
    /// Whether the execution still runs: its last state is where it is now.
    pub running: bool,
}

/// The execution ARN of the execution `name` of the state machine `machine_arn`
/// (`...:stateMachine:M` -> `...:execution:M:name`), as Step Functions forms it.
pub fn execution_arn(machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct HttpState {
    /// What the steps run with: the store, the clock, the link signer.
    pub deps: Deps,
    /// The workflow runtime.
    pub runtime: Arc<dyn Runtime>,
    /// The API keys `/api/*` requires (none: open, or checked in front of us).
    pub keys: ApiKeys,
    /// How the console (the HTML pages) is served: off, closed, open on
    /// loopback, or to people signed in ([`access::Console`]).
    pub console: access::Console,
    /// The hosts served and the public origin ([`guard::protect`]).
    pub protection: Arc<Protection>,
}

impl HttpState {
    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.deps.store.as_ref()
    }
}

/// The routes both runtimes serve ([`routes::table`], each behind
/// [`access::enforce`] checking what it needs), the console's only when
/// [`HttpState::console`] is routed, then the
/// runtime's own `extra` routes (`onboard serve`'s sandbox and clock), and a
/// problem+json 404 for anything else; all of it behind [`guard::protect`], and
/// traced with [`guard::request_span`] (paths, never query strings).
pub fn router(state: HttpState, extra: Router) -> Router {
    let protection = state.protection.clone();
    routes(state)
        .merge(extra)
        .layer(axum::middleware::from_fn_with_state(
            protection,
            guard::protect,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(guard::request_span))
}

fn routes(state: HttpState) -> Router {
    let mut app = Router::new();
    for route in routes::table() {
        if routes::is_console(&route) && !state.console.routed() {
            continue;
        }
        let guarded = route
            .handler
            .route_layer(axum::middleware::from_fn_with_state(
                (state.clone(), route.need),
                access::enforce,
            ));
        app = app.route(route.path, guarded);
    }
    app.fallback(api::not_found).with_state(state)
}
