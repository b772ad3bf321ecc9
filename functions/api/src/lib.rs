//! The `api` Lambda: `onboard_http`'s router behind API Gateway (HTTP API, payload
//! v2), on AWS Step Functions instead of the embedded interpreter.
//!
//! - [`ApiConfig`]: what this function reads from its environment beyond
//!   [`onboard_lambda::Config`]: the two state machines and how `/api/*` is authorized.
//! - [`SfnRuntime`]: [`onboard_http::Runtime`] on Step Functions (StartExecution
//!   named by the record id; organizations and variables from the store).
//! - [`SfnCallbacks`]: decision links as SendTaskSuccess / SendTaskFailure.
//! - [`app`]: the router this function serves.
//!
//! The console (the HTML pages) is served here when sign-in is configured
//! ([`SIGN_IN_ISSUER`]): people sign in with Microsoft, as with `onboard serve`'s
//! `[server.sign_in]`, and API Gateway routes the pages to this function without
//! its authorizer. Without sign-in it is not served. Decision links are public:
//! their signature is their authority.

#![warn(missing_docs)]

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use onboard_domain::Variables;
use onboard_http::access::Console;
use onboard_http::sign_in::{OidcSettings, RoleMap, SessionPolicy, Sessions, SignIn};
use onboard_http::{
    ApiKeys, ExecutionPath, HostPolicy, HttpState, OrganizationSummary, Protection, Runtime,
    RuntimeError,
};
use onboard_lambda::{AwsSecrets, ConfigError, SecretSource as _};
use onboard_steps::decisions::{CallbackError, CallbackFailure};
use onboard_steps::{Deps, TaskCallbacks};
use onboard_store::{RecordKind, Scope, SecretRef, Store};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// The ARN of the onboarding state machine (`statemachine/onboarding.asl.json`).
pub const ONBOARDING_STATE_MACHINE: &str = "ONBOARD_ONBOARDING_STATE_MACHINE_ARN";
/// The ARN of the offboarding state machine (`statemachine/offboarding.asl.json`).
pub const OFFBOARDING_STATE_MACHINE: &str = "ONBOARD_OFFBOARDING_STATE_MACHINE_ARN";
/// Who authorizes `/api/*`: `IAM` or `JWT` (API Gateway's authorizer, in front of
/// this function) or `ApiKey` (this function checks `Authorization: Bearer <key>`).
pub const API_AUTH: &str = "ONBOARD_API_AUTH";
/// With `ApiKey`: the SHA-256 (64 hex digits) of each accepted key, comma-separated.
pub const API_KEY_SHA256: &str = "ONBOARD_API_KEY_SHA256";
/// With `JWT`: the scopes (`scp`) or app roles (`roles`) a token must carry one of
/// to call `/api/*`, comma-separated. A token for the audience is not enough.
pub const JWT_SCOPES: &str = "ONBOARD_JWT_SCOPES";

/// The console's sign-in issuer (`https://login.microsoftonline.com/<tenant>/v2.0`);
/// empty or unset: no console.
pub const SIGN_IN_ISSUER: &str = "ONBOARD_SIGN_IN_ISSUER";
/// The sign-in app registration's client id.
pub const SIGN_IN_CLIENT_ID: &str = "ONBOARD_SIGN_IN_CLIENT_ID";
/// The Secrets Manager secret (name or ARN) holding its client secret.
pub const SIGN_IN_SECRET: &str = "ONBOARD_SIGN_IN_SECRET";
/// The tenant ids whose people may sign in, comma-separated.
pub const SIGN_IN_ALLOWED_TENANTS: &str = "ONBOARD_SIGN_IN_ALLOWED_TENANTS";
/// Which app roles or group object ids give each console role, as JSON
/// (`{"approver": ["<group id>"], ...}`, as `[server.sign_in.roles]`); empty: the
/// app roles `Onboard.Viewer` ... `Onboard.Admin`.
pub const SIGN_IN_ROLES: &str = "ONBOARD_SIGN_IN_ROLES";

/// The console's sign-in, as the environment configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInEnv {
    /// [`SIGN_IN_ISSUER`].
    pub issuer: url::Url,
    /// [`SIGN_IN_CLIENT_ID`].
    pub client_id: String,
    /// [`SIGN_IN_SECRET`].
    pub secret_id: String,
    /// [`SIGN_IN_ALLOWED_TENANTS`].
    pub allowed_tenants: Vec<String>,
    /// [`SIGN_IN_ROLES`].
    pub roles: RoleMap,
}

/// The connector item that declares an organization (`crates/lambda/src/connections.rs`).
const ORGANIZATION_ITEM: &str = "organization";

/// How `/api/*` is authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiAuth {
    /// API Gateway's IAM authorizer (SigV4-signed requests).
    Iam,
    /// API Gateway's JWT authorizer (an OpenID Connect issuer's tokens).
    Jwt,
    /// This function: bearer keys compared by hash, as `onboard serve` does.
    ApiKey,
}

/// The `api` function's own settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// [`ONBOARDING_STATE_MACHINE`].
    pub onboarding_machine: String,
    /// [`OFFBOARDING_STATE_MACHINE`].
    pub offboarding_machine: String,
    /// [`API_AUTH`].
    pub auth: ApiAuth,
    /// [`API_KEY_SHA256`] (empty unless [`ApiAuth::ApiKey`]).
    pub keys: ApiKeys,
    /// [`JWT_SCOPES`] (empty unless [`ApiAuth::Jwt`]).
    pub jwt_scopes: Arc<Vec<String>>,
    /// The console's sign-in ([`SIGN_IN_ISSUER`] set), or none.
    pub sign_in: Option<SignInEnv>,
}

impl ApiConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`; fails naming the variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let arn = |name: &'static str| {
            let value = required(name)?;
            if value.starts_with("arn:") && value.contains(":stateMachine:") {
                Ok(value)
            } else {
                Err(ConfigError::Invalid {
                    variable: name,
                    cause: format!("`{value}` is not a state machine ARN"),
                })
            }
        };
        let auth = match required(API_AUTH)?.as_str() {
            "IAM" => ApiAuth::Iam,
            "JWT" => ApiAuth::Jwt,
            "ApiKey" => ApiAuth::ApiKey,
            other => {
                return Err(ConfigError::Invalid {
                    variable: API_AUTH,
                    cause: format!("`{other}` is not one of IAM, JWT, ApiKey"),
                });
            }
        };
        let mut hashes = Vec::new();
        if auth == ApiAuth::ApiKey {
            let text = required(API_KEY_SHA256)?;
            for (i, hex) in text.split(',').map(str::trim).enumerate() {
                hashes.push(parse_sha256(hex).ok_or_else(|| ConfigError::Invalid {
                    variable: API_KEY_SHA256,
                    cause: format!(
                        "entry {} is not a SHA-256 as 64 hex digits (`printf %s KEY | sha256sum`)",
                        i + 1
                    ),
                })?);
            }
        }
        let mut jwt_scopes = Vec::new();
        if auth == ApiAuth::Jwt {
            jwt_scopes = required(JWT_SCOPES)?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if jwt_scopes.is_empty() {
                return Err(ConfigError::Invalid {
                    variable: JWT_SCOPES,
                    cause: "names no scope or role".to_owned(),
                });
            }
        }
        let sign_in = match get(SIGN_IN_ISSUER) {
            None => None,
            Some(text) => {
                let issuer = url::Url::parse(&text).map_err(|e| ConfigError::Invalid {
                    variable: SIGN_IN_ISSUER,
                    cause: format!("`{text}` is not a URL: {e}"),
                })?;
                let allowed_tenants: Vec<String> = get(SIGN_IN_ALLOWED_TENANTS)
                    .unwrap_or_default()
                    .split(',')
                    .map(|t| t.trim().to_ascii_lowercase())
                    .filter(|t| !t.is_empty())
                    .collect();
                let multitenant = issuer
                    .path_segments()
                    .into_iter()
                    .flatten()
                    .any(|s| s == "organizations" || s == "common");
                if multitenant && allowed_tenants.is_empty() {
                    return Err(ConfigError::Invalid {
                        variable: SIGN_IN_ALLOWED_TENANTS,
                        cause: "a multitenant issuer lets anyone's tenant sign in: list the tenant ids whose people may".to_owned(),
                    });
                }
                let roles = match get(SIGN_IN_ROLES) {
                    None => RoleMap::default(),
                    Some(json) => {
                        let invalid = |cause: String| ConfigError::Invalid {
                            variable: SIGN_IN_ROLES,
                            cause,
                        };
                        let map: std::collections::BTreeMap<String, Vec<String>> =
                            serde_json::from_str(&json).map_err(|e| {
                                invalid(format!("not a JSON object of role -> [values]: {e}"))
                            })?;
                        RoleMap::from_config(&map).map_err(invalid)?
                    }
                };
                Some(SignInEnv {
                    roles,
                    issuer,
                    client_id: required(SIGN_IN_CLIENT_ID)?,
                    secret_id: required(SIGN_IN_SECRET)?,
                    allowed_tenants,
                })
            }
        };
        Ok(ApiConfig {
            sign_in,
            onboarding_machine: arn(ONBOARDING_STATE_MACHINE)?,
            offboarding_machine: arn(OFFBOARDING_STATE_MACHINE)?,
            auth,
            keys: ApiKeys {
                hashes: Arc::new(hashes),
                upstream: auth != ApiAuth::ApiKey,
            },
            jwt_scopes: Arc::new(jwt_scopes),
        })
    }
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// [`Runtime`] on AWS Step Functions and the DynamoDB store.
pub struct SfnRuntime {
    sfn: aws_sdk_sfn::Client,
    onboarding_machine: String,
    offboarding_machine: String,
    store: Arc<dyn Store>,
    callbacks: SfnCallbacks,
}

impl std::fmt::Debug for SfnRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SfnRuntime")
            .field("onboarding_machine", &self.onboarding_machine)
            .field("offboarding_machine", &self.offboarding_machine)
            .finish_non_exhaustive()
    }
}

impl SfnRuntime {
    /// The runtime over `sfn` for the machines of `config`, reading `store`.
    pub fn new(sfn: aws_sdk_sfn::Client, config: &ApiConfig, store: Arc<dyn Store>) -> Self {
        Self {
            callbacks: SfnCallbacks { sfn: sfn.clone() },
            sfn,
            onboarding_machine: config.onboarding_machine.clone(),
            offboarding_machine: config.offboarding_machine.clone(),
            store,
        }
    }
}

#[async_trait]
impl Runtime for SfnRuntime {
    async fn start(&self, kind: RecordKind, id: &str) -> Result<(), RuntimeError> {
        let machine = match kind {
            RecordKind::Onboarding => &self.onboarding_machine,
            RecordKind::Offboarding => &self.offboarding_machine,
        };
        let input = onboard_steps::intake::start_input(kind, id);
        let result = self
            .sfn
            .start_execution()
            .state_machine_arn(machine)
            .name(id)
            .input(input.to_string())
            .send()
            .await;
        match result {
            Ok(out) => {
                tracing::info!(record_id = %id, execution = out.execution_arn(), "execution started");
                Ok(())
            }
            // The execution name is the record id: this is the same submit again.
            Err(e) if e.code() == Some("ExecutionAlreadyExists") => {
                tracing::info!(record_id = %id, "execution already started");
                Ok(())
            }
            Err(e) => Err(RuntimeError::Unavailable(format!(
                "StartExecution of {id}: {}",
                sdk_error_text(&e)
            ))),
        }
    }

    fn callbacks(&self) -> &dyn TaskCallbacks {
        &self.callbacks
    }

    async fn organizations(&self) -> Result<Vec<OrganizationSummary>, RuntimeError> {
        let items = self
            .store
            .connector_in_all_scopes(ORGANIZATION_ITEM)
            .await?;
        let mut out = Vec::new();
        for (scope, settings) in items {
            let Scope::Organization(id) = scope else {
                continue;
            };
            let Some(domain) = settings.settings.get("domain") else {
                tracing::warn!(organization = %id, "organization item without `domain`; not listed");
                continue;
            };
            out.push(OrganizationSummary {
                name: settings
                    .settings
                    .get("name")
                    .cloned()
                    .unwrap_or_else(|| id.clone()),
                domain: domain.clone(),
                id,
            });
        }
        Ok(out)
    }

    async fn variables(&self, organization: &str) -> Result<Option<Variables>, RuntimeError> {
        let scope = Scope::Organization(organization.to_owned());
        if self
            .store
            .connector(&scope, ORGANIZATION_ITEM)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        onboard_steps::organization_variables(self.store.as_ref(), organization)
            .await
            .map(Some)
            .map_err(|e| RuntimeError::Internal(format!("{}: {}", e.name(), e.cause())))
    }

    async fn execution_path(
        &self,
        kind: RecordKind,
        id: &str,
    ) -> Result<Option<ExecutionPath>, RuntimeError> {
        let machine = match kind {
            RecordKind::Onboarding => &self.onboarding_machine,
            RecordKind::Offboarding => &self.offboarding_machine,
        };
        let arn = onboard_http::execution_arn(machine, id);
        let mut path = ExecutionPath::default();
        let mut next: Option<String> = None;
        let mut ended = false;
        loop {
            // Without execution data: states' inputs and outputs are not needed here,
            // and this way no payload (a task token, a password) is even fetched.
            let page = self
                .sfn
                .get_execution_history()
                .execution_arn(&arn)
                .include_execution_data(false)
                .max_results(1000)
                .set_next_token(next.take())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) if e.code() == Some("ExecutionDoesNotExist") => return Ok(None),
                Err(e) => {
                    return Err(RuntimeError::Unavailable(format!(
                        "GetExecutionHistory of {id}: {}",
                        sdk_error_text(&e)
                    )));
                }
            };
            for event in page.events() {
                if let Some(details) = event.state_entered_event_details() {
                    path.entered.push(details.name().to_owned());
                }
                use aws_sdk_sfn::types::HistoryEventType as T;
                if matches!(
                    event.r#type(),
                    T::ExecutionSucceeded
                        | T::ExecutionFailed
                        | T::ExecutionAborted
                        | T::ExecutionTimedOut
                ) {
                    ended = true;
                }
            }
            match page.next_token() {
                Some(token) => next = Some(token.to_owned()),
                None => {
                    path.running = !ended;
                    return Ok(Some(path));
                }
            }
        }
    }
}

/// A Step Functions error as text: its code and the SDK's description, never the
/// request (which carries the task token).
fn sdk_error_text<E: ProvideErrorMetadata + std::error::Error + 'static, R>(
    e: &SdkError<E, R>,
) -> String {
    match e.code() {
        Some(code) => format!("Step Functions answered {code}"),
        None => match e {
            SdkError::TimeoutError(_) => "Step Functions did not answer in time".to_owned(),
            SdkError::DispatchFailure(_) => "Step Functions could not be reached".to_owned(),
            _ => "Step Functions gave no usable answer".to_owned(),
        },
    }
}

/// SendTaskSuccess / SendTaskFailure for decision links.
#[derive(Debug, Clone)]
pub struct SfnCallbacks {
    sfn: aws_sdk_sfn::Client,
}

/// What a callback's failure means for the decision: the task timed out (410),
/// no longer waits (409), or Step Functions cannot take it now (503).
fn callback_error<E: ProvideErrorMetadata + std::error::Error + 'static, R>(
    e: &SdkError<E, R>,
) -> CallbackError {
    let kind = match e.code() {
        Some("TaskTimedOut") => CallbackFailure::TimedOut,
        Some("InvalidToken" | "TaskDoesNotExist") => CallbackFailure::Closed,
        _ => CallbackFailure::Unavailable,
    };
    CallbackError::new(format!(
        "the workflow could not be resumed: {}",
        sdk_error_text(e)
    ))
    .with_kind(kind)
}

#[async_trait]
impl TaskCallbacks for SfnCallbacks {
    async fn send_task_success(
        &self,
        task_token: &SecretString,
        output: Value,
    ) -> Result<(), CallbackError> {
        self.sfn
            .send_task_success()
            .task_token(task_token.expose_secret())
            .output(output.to_string())
            .send()
            .await
            .map(drop)
            .map_err(|e| callback_error(&e))
    }

    async fn send_task_failure(
        &self,
        task_token: &SecretString,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError> {
        self.sfn
            .send_task_failure()
            .task_token(task_token.expose_secret())
            .error(error)
            .cause(cause)
            .send()
            .await
            .map(drop)
            .map_err(|e| callback_error(&e))
    }
}

/// The scopes and app roles the API Gateway JWT authorizer passed on: the
/// `scp` / `scope` claims (space-separated), the `roles` claim (which the
/// authorizer flattens to text such as `[a b]`), and the event's `scopes`.
fn token_grants(request: &axum::extract::Request) -> Vec<String> {
    use lambda_http::RequestExt as _;
    use lambda_http::request::RequestContext;
    let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
        return Vec::new();
    };
    let Some(jwt) = context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()) else {
        return Vec::new();
    };
    let mut grants: Vec<String> = jwt.scopes.clone().unwrap_or_default();
    for claim in ["scp", "scope", "roles"] {
        if let Some(text) = jwt.claims.get(claim) {
            grants.extend(
                text.trim_matches(|c| c == '[' || c == ']')
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .map(|g| g.trim_matches('"'))
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    grants
}

/// Middleware with [`ApiAuth::Jwt`]: `/api/*` needs a token carrying one of the
/// configured scopes or roles (403 otherwise); API Gateway checked its signature,
/// issuer and audience already. Decision links pass: their signature is their authority.
async fn require_jwt_scope(
    axum::extract::State(scopes): axum::extract::State<Arc<Vec<String>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let grants = token_grants(&request);
    if grants.iter().any(|g| scopes.contains(g)) {
        return next.run(request).await;
    }
    tracing::warn!(
        path = request.uri().path(),
        "a token without a configured scope or role was refused"
    );
    onboard_http::error::problem(
        axum::http::StatusCode::FORBIDDEN,
        "Forbidden",
        json!({"detail": format!(
            "the token carries none of the scopes or roles this API requires ({})",
            scopes.join(", ")
        )}),
    )
}

/// The router this function serves: the API (keys checked here only with
/// [`ApiAuth::ApiKey`], scopes and roles with [`ApiAuth::Jwt`]), the decision
/// links, and the console when `console` is signed in ([`console`]).
pub fn app(
    deps: Deps,
    runtime: Arc<dyn Runtime>,
    config: &ApiConfig,
    console: Console,
) -> axum::Router {
    let keys = match config.auth {
        ApiAuth::ApiKey => config.keys.clone(),
        // API Gateway authorized the request before it reached us.
        ApiAuth::Iam | ApiAuth::Jwt => ApiKeys {
            hashes: Arc::default(),
            upstream: true,
        },
    };
    let protection = Protection {
        // API Gateway answers only the API's own and mapped domain names.
        hosts: HostPolicy::Any,
        public_origin: Some(deps.links.public_url().origin().ascii_serialization()),
    };
    let router = onboard_http::router(
        HttpState {
            deps,
            runtime,
            keys,
            console,
            protection: Arc::new(protection),
        },
        axum::Router::new(),
    );
    match config.auth {
        ApiAuth::Jwt => router.layer(axum::middleware::from_fn_with_state(
            config.jwt_scopes.clone(),
            require_jwt_scope,
        )),
        ApiAuth::Iam | ApiAuth::ApiKey => router,
    }
}

/// The signed-in console over `deps`' store (sessions in the table).
pub fn console(deps: &Deps, sign_in: &SignInEnv, client_secret: SecretString) -> Console {
    let sessions = Sessions::new(
        deps.store.clone(),
        deps.clock.clone(),
        &deps.links,
        SessionPolicy::default(),
    );
    Console::SignIn(Arc::new(SignIn::new(
        OidcSettings {
            issuer: sign_in.issuer.clone(),
            client_id: sign_in.client_id.clone(),
            client_secret,
            allowed_tenants: sign_in.allowed_tenants.clone(),
        },
        sign_in.roles.clone(),
        sessions,
        deps.clock.clone(),
    )))
}

/// Builds everything at cold start: the settings first (a missing one fails before
/// any network call), then the steps' dependencies ([`onboard_lambda::deps_from`]),
/// the Step Functions client, and the router.
pub async fn app_from_env() -> Result<axum::Router, ConfigError> {
    let config = ApiConfig::from_env()?;
    let lambda = onboard_lambda::Config::from_env()?;
    let aws = onboard_lambda::aws_config().await;
    let deps = onboard_lambda::deps_from(&lambda, &aws).await?;
    let runtime = SfnRuntime::new(aws_sdk_sfn::Client::new(&aws), &config, deps.store.clone());
    let console = match &config.sign_in {
        None => Console::Off,
        Some(sign_in) => {
            let secrets = AwsSecrets::new(aws_sdk_secretsmanager::Client::new(&aws));
            let reference = SecretRef::SecretsManager {
                id: sign_in.secret_id.clone(),
                json_key: None,
            };
            let secret = secrets
                .resolve(&reference)
                .await
                .map_err(|e| ConfigError::Secret {
                    variable: SIGN_IN_SECRET,
                    cause: e.to_string(),
                })?;
            console(&deps, sign_in, secret)
        }
    };
    Ok(app(deps, Arc::new(runtime), &config, console))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    const ARN: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:onboard-onboarding";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_console_is_off_without_an_issuer_and_needs_its_client_with_one() {
        let base = [
            (ONBOARDING_STATE_MACHINE, ARN),
            (OFFBOARDING_STATE_MACHINE, ARN),
            (API_AUTH, "IAM"),
            (SIGN_IN_ISSUER, " "),
        ];
        assert_eq!(ApiConfig::from_lookup(env(&base)).unwrap().sign_in, None);
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = base[..3].to_vec();
            pairs.extend_from_slice(extra);
            ApiConfig::from_lookup(env(&pairs))
        };
        let multitenant = "https://login.microsoftonline.com/organizations/v2.0";
        let err = with(&[(SIGN_IN_ISSUER, multitenant)]).unwrap_err();
        assert!(err.to_string().contains(SIGN_IN_ALLOWED_TENANTS), "{err}");
        let err = with(&[
            (SIGN_IN_ISSUER, multitenant),
            (SIGN_IN_ALLOWED_TENANTS, "T1"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ONBOARD_SIGN_IN_CLIENT_ID is not set"
        );
        let config = with(&[
            (SIGN_IN_ISSUER, multitenant),
            (SIGN_IN_ALLOWED_TENANTS, "T1, t2"),
            (SIGN_IN_CLIENT_ID, "client"),
            (SIGN_IN_SECRET, "onboard/sign-in"),
        ])
        .unwrap();
        let sign_in = config.sign_in.unwrap();
        assert_eq!(sign_in.allowed_tenants, ["t1", "t2"]);
        assert_eq!(sign_in.secret_id, "onboard/sign-in");
        assert!(config.keys.upstream, "IAM authorizes /api/* at the gateway");
        assert_eq!(sign_in.roles, RoleMap::default());
        let err = with(&[
            (SIGN_IN_ISSUER, "https://login.example/t/v2.0"),
            (SIGN_IN_CLIENT_ID, "client"),
            (SIGN_IN_SECRET, "onboard/sign-in"),
            (SIGN_IN_ROLES, r#"{"root": ["x"]}"#),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains(SIGN_IN_ROLES) && err.to_string().contains("root"),
            "{err}"
        );
        let mapped = with(&[
            (SIGN_IN_ISSUER, "https://login.example/t/v2.0"),
            (SIGN_IN_CLIENT_ID, "client"),
            (SIGN_IN_SECRET, "onboard/sign-in"),
            (
                SIGN_IN_ROLES,
                r#"{"approver": ["7d3f0c1a-2b4e-4c6d-9e8f-0a1b2c3d4e5f"]}"#,
            ),
        ])
        .unwrap();
        assert_ne!(mapped.sign_in.unwrap().roles, RoleMap::default());
    }

    #[test]
    fn api_key_mode_needs_the_key_hashes() {
        let err = ApiConfig::from_lookup(env(&[
            (ONBOARDING_STATE_MACHINE, ARN),
            (OFFBOARDING_STATE_MACHINE, ARN),
            (API_AUTH, "ApiKey"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ONBOARD_API_KEY_SHA256 is not set"
        );
        let hash = "a".repeat(64);
        let config = ApiConfig::from_lookup(env(&[
            (ONBOARDING_STATE_MACHINE, ARN),
            (OFFBOARDING_STATE_MACHINE, ARN),
            (API_AUTH, "ApiKey"),
            (API_KEY_SHA256, &format!("{hash}, sha256:{hash}")),
        ]))
        .unwrap();
        assert_eq!(config.keys.hashes.len(), 2);
    }

    #[test]
    fn jwt_mode_needs_the_scopes() {
        let base = [
            (ONBOARDING_STATE_MACHINE, ARN),
            (OFFBOARDING_STATE_MACHINE, ARN),
            (API_AUTH, "JWT"),
        ];
        let err = ApiConfig::from_lookup(env(&base)).unwrap_err();
        assert!(err.to_string().contains(JWT_SCOPES), "{err}");
        let mut with = base.to_vec();
        with.push((JWT_SCOPES, " , "));
        let err = ApiConfig::from_lookup(env(&with)).unwrap_err();
        assert!(err.to_string().contains(JWT_SCOPES), "{err}");
        with.pop();
        with.push((JWT_SCOPES, "Onboard.Submit, Onboard.Technician"));
        let config = ApiConfig::from_lookup(env(&with)).unwrap();
        assert_eq!(
            config.jwt_scopes.as_slice(),
            ["Onboard.Submit", "Onboard.Technician"]
        );
    }

    #[test]
    fn a_bad_setting_is_named() {
        let err = ApiConfig::from_lookup(env(&[
            (ONBOARDING_STATE_MACHINE, ARN),
            (OFFBOARDING_STATE_MACHINE, ARN),
            (API_AUTH, "Cognito"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains(API_AUTH), "{err}");
        let err = ApiConfig::from_lookup(env(&[
            (ONBOARDING_STATE_MACHINE, "onboarding"),
            (OFFBOARDING_STATE_MACHINE, ARN),
            (API_AUTH, "IAM"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains(ONBOARDING_STATE_MACHINE), "{err}");
        let err = ApiConfig::from_lookup(env(&[
            (ONBOARDING_STATE_MACHINE, ARN),
            (OFFBOARDING_STATE_MACHINE, ARN),
            (API_AUTH, "ApiKey"),
            (API_KEY_SHA256, "abc"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("entry 1"), "{err}");
    }
}
