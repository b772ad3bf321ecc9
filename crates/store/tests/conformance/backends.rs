//! Fixtures: a fresh store per test, for each backend.

use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use onboard_store::dynamodb::create_table;
use onboard_store::{DynamoStore, SqliteStore, Store, TokenKey};

/// The variable naming the DynamoDB-compatible endpoint for the tests.
pub(crate) const DYNAMODB_URL_VAR: &str = "ONBOARD_TEST_DYNAMODB_URL";

/// A store and whatever must live as long as it.
pub(crate) struct Fixture {
    pub(crate) store: Arc<dyn Store>,
    /// Keeps the SQLite data dir alive.
    pub(crate) _dir: Option<tempfile::TempDir>,
}

pub(crate) async fn sqlite() -> anyhow::Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open_dir(dir.path()).await?;
    Ok(Fixture {
        store: Arc::new(store),
        _dir: Some(dir),
    })
}

/// A DynamoDB client for the test server.
pub(crate) fn dynamodb_client() -> anyhow::Result<aws_sdk_dynamodb::Client> {
    let url = std::env::var(DYNAMODB_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{DYNAMODB_URL_VAR} is not set, so the DynamoDB conformance tests cannot run. \
             Run them with scripts/test (it installs moto[server] into ./.venv and starts \
             moto_server), or start a DynamoDB-compatible server yourself and set \
             {DYNAMODB_URL_VAR}=http://127.0.0.1:PORT"
            )
        })?;
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "conformance"))
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard())
        .build();
    Ok(aws_sdk_dynamodb::Client::from_conf(config))
}

/// A store over a new, uniquely named table.
pub(crate) async fn dynamodb_store() -> anyhow::Result<DynamoStore> {
    let client = dynamodb_client()?;
    let table = format!("onboard-test-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table)
        .await
        .with_context(|| format!("creating table {table}"))?;
    Ok(DynamoStore::new(client, table, TokenKey::generate()?))
}

pub(crate) async fn dynamodb() -> anyhow::Result<Fixture> {
    Ok(Fixture {
        store: Arc::new(dynamodb_store().await?),
        _dir: None,
    })
}
