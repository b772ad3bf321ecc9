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

use onboard_connectors::notify::{Channels, SesMailer, SnsTexter};
use onboard_steps::{Deps, LinkSigner, SystemClock};
use onboard_store::DynamoStore;

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

/// Builds the steps' [`Deps`] from the Lambda's environment ([`Config::from_env`] and
/// the SDK's default configuration chain), logging why when it cannot.
pub async fn deps_from_env() -> Result<Deps, ConfigError> {
    let result = async {
        let config = Config::from_env()?;
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
            .load()
            .await;
        deps_from(&config, &aws).await
    }
    .await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "cannot start");
    }
    result
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
