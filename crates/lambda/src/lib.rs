//! Onboard on AWS Lambda: everything `functions/*` share, so each function's
//! `main` is wiring only (init tracing, [`deps_from_env`] once, serve [`handle`]).
//!
//! - [`config`]: [`Config`], the environment a function reads at cold start
//!   (table, public URL, the key secret), failing fast with the variable's name;
//!   [`Keys`] derived from the key secret. [`deps_from_env`] / [`deps_from`] build the `Deps`.
//! - [`secrets`]: [`SecretSource`] and [`AwsSecrets`]: resolves the store's
//!   [`onboard_store::SecretRef`]s (Secrets Manager, environment, file).
//! - [`connections`]: [`StoreConnections`], the steps' [`onboard_steps::Connections`]
//!   built from the connector settings in DynamoDB (`docs/dynamodb.md`) and their secrets.
//! - [`handler`](mod@handler): [`handle`] (one invocation: [`onboard_steps::dispatch`]) and
//!   [`diagnostic`], which reports a [`onboard_steps::StepError`] to Step Functions
//!   under its stable error name.
//! - Here: [`LazyDeps`] and [`handle_lazily`] (a configuration that cannot be read is
//!   `Config.Invalid`, not an init crash), [`remind_all_approvers`] (the scheduled
//!   `RemindApprovers` function) and [`organization_ids`].
//!
//! This crate depends on the steps, the store and the connectors; nothing
//! depends on it but `functions/*`. It never touches the sandbox.

#![warn(missing_docs)]

pub mod config;
pub mod connections;
pub mod handler;
pub mod secrets;

pub use config::{Config, ConfigError, Keys};
pub use connections::StoreConnections;
pub use handler::{diagnostic, handle};
pub use secrets::{AwsSecrets, SecretSource};

use std::sync::Arc;

use lambda_runtime::Diagnostic;
use onboard_connectors::notify::{Channels, SesMailer, SnsTexter};
use onboard_steps::{Deps, LinkSigner, SystemClock};
use onboard_store::{DynamoStore, Scope, Store, StoreError};
use tokio::sync::OnceCell;

/// Structured JSON logs on stdout (CloudWatch), one field `function` on every line.
/// `RUST_LOG` filters (default `info`). Call once, first thing in `main`.
pub fn init_tracing(function: &'static str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time() // CloudWatch stamps every line.
        .init();
    tracing::info!(function, "cold start");
}

/// The error name a configuration that cannot be read is reported under (the
/// steps' [`onboard_steps::StepError::Config`] name): no state machine retries it.
pub const CONFIG_ERROR: &str = "Config.Invalid";

/// Reports a configuration error to Step Functions as [`CONFIG_ERROR`], naming the setting.
pub fn config_diagnostic(error: &ConfigError) -> Diagnostic {
    Diagnostic {
        error_type: CONFIG_ERROR.to_owned(),
        error_message: error.to_string(),
    }
}

/// A container's steps' dependencies: built at cold start or, when that failed
/// (the key secret could not be read, ...), again at each invocation until they
/// can be; meanwhile every invocation fails with [`CONFIG_ERROR`] naming the setting,
/// instead of a runtime init error the state machines cannot tell from a crash.
#[derive(Debug, Default)]
pub struct LazyDeps(OnceCell<Deps>);

impl LazyDeps {
    /// Tries [`deps_from_env`] now (the cold start), keeping the result.
    pub async fn from_env() -> Self {
        let deps = Self::default();
        // A failure was logged; the first invocation tries again and reports it.
        let _ = deps.get().await;
        deps
    }

    /// The dependencies, built now if they are not yet.
    pub async fn get(&self) -> Result<&Deps, Diagnostic> {
        self.0
            .get_or_try_init(deps_from_env)
            .await
            .map_err(|e| config_diagnostic(&e))
    }
}

/// [`handle`] with dependencies that may not be built yet.
///
/// The step runs with the invocation's deadline as its time budget
/// ([`onboard_connectors::http::with_deadline`]): its calls stop retrying in time
/// to answer with a retryable error rather than be killed as `Sandbox.Timedout`.
pub async fn handle_lazily(
    deps: &LazyDeps,
    function: &str,
    event: lambda_runtime::LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Diagnostic> {
    let left = event
        .context
        .deadline()
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    let deadline = std::time::Instant::now() + left;
    let deps = deps.get().await?;
    let before = onboard_connectors::metrics::snapshot();
    let result =
        onboard_connectors::http::with_deadline(deadline, handle(deps, function, event.payload))
            .await;
    // This invocation's calls and run, as CloudWatch embedded metrics (namespace
    // `Onboard`): one JSON line each on stdout, which Lambda sends to the logs.
    let after = onboard_connectors::metrics::snapshot();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    for line in onboard_connectors::metrics::emf_lines(&before, &after, now) {
        println!("{line}");
    }
    result
}

/// The ids of the organizations the store declares (their `organization` connector
/// item, `docs/dynamodb.md`), by id.
pub async fn organization_ids(store: &dyn Store) -> Result<Vec<String>, StoreError> {
    Ok(store
        .connector_in_all_scopes("organization")
        .await?
        .into_iter()
        .filter_map(|(scope, _)| match scope {
            Scope::Organization(id) => Some(id),
            Scope::Msp => None,
        })
        .collect())
}

/// One run of the scheduled `RemindApprovers` function: [`onboard_steps::remind_approvers`]
/// for every organization, as `onboard serve`'s timer does every minute. One
/// organization's failure is logged and does not stop the others; the answer
/// counts the mails sent and the organizations that failed.
pub async fn remind_all_approvers(deps: &Deps) -> Result<serde_json::Value, Diagnostic> {
    let organizations = organization_ids(deps.store.as_ref())
        .await
        .map_err(|e| diagnostic(&e.into()))?;
    let (mut sent, mut failed) = (0u32, Vec::new());
    for organization in &organizations {
        match onboard_steps::remind_approvers(deps, organization).await {
            Ok(n) => sent += n,
            Err(e) => {
                tracing::warn!(%organization, error = e.name(), cause = %e.cause(), "approval reminders failed");
                failed.push(organization.clone());
            }
        }
    }
    tracing::info!(
        organizations = organizations.len(),
        sent,
        failed = failed.len(),
        "approval reminders"
    );
    Ok(serde_json::json!({
        "organizations": organizations.len(),
        "sent": sent,
        "failed": failed,
    }))
}

/// Builds the steps' [`Deps`] from the Lambda's environment ([`Config::from_env`] and
/// the SDK's default configuration chain), logging why when it cannot.
pub async fn deps_from_env() -> Result<Deps, ConfigError> {
    let result = async {
        let config = Config::from_env()?;
        deps_from(&config, &aws_config().await).await
    }
    .await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "cannot start");
    }
    result
}

/// The SDK's configuration from the Lambda's environment (region, credentials),
/// with the standard retry mode at 5 attempts for every client built from it.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
        .load()
        .await
}

/// Builds the steps' [`Deps`]: the key secret from Secrets Manager, the DynamoDB
/// store, SES for mail and SNS for SMS, and [`StoreConnections`] over the store.
///
/// Connector clients are built when a step first needs them, not here, so a
/// cold start makes exactly one network call (the key secret).
pub async fn deps_from(config: &Config, aws: &aws_config::SdkConfig) -> Result<Deps, ConfigError> {
    let secrets: Arc<dyn SecretSource> =
        Arc::new(AwsSecrets::new(aws_sdk_secretsmanager::Client::new(aws)));
    let secret = secrets
        .resolve(&config.keys_secret)
        .await
        .map_err(|e| ConfigError::Secret {
            variable: config::KEYS_SECRET,
            cause: e.to_string(),
        })?;
    let keys = Keys::derive(&secret)?;
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(aws),
        config.table.clone(),
        keys.token_key(),
    ));
    let links =
        LinkSigner::new(&config.public_url, keys.link_key()).map_err(|e| ConfigError::Invalid {
            variable: config::PUBLIC_URL,
            cause: e.to_string(),
        })?;
    let notifier = Channels {
        mail: Arc::new(SesMailer::from_conf(aws)),
        sms: Arc::new(SnsTexter::from_conf(aws)),
    };
    Ok(Deps {
        connections: Arc::new(StoreConnections::new(store.clone(), secrets)),
        store,
        notifier: Arc::new(notifier),
        clock: Arc::new(SystemClock),
        links,
    })
}
