//! The AWS wiring against moto (`scripts/test` starts it and exports
//! `ONBOARD_TEST_MOTO_URL`): the key secret read from Secrets Manager, the
//! store on a DynamoDB table of the template's shape, a handler served end to end.
//! Without moto this fails, on purpose: a skipped wiring test would pass in silence.

use aws_config::BehaviorVersion;
use onboard_lambda::{Config, deps_from, handle};
use onboard_store::{Scope, SecretRef};

fn moto_url() -> String {
    std::env::var("ONBOARD_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!(
            "the AWS wiring test needs a moto server: run `scripts/test -p onboard-lambda` \
             (or set ONBOARD_TEST_MOTO_URL)"
        )
    })
}

async fn aws(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[tokio::test]
async fn deps_come_from_secrets_manager_and_dynamodb() {
    let aws = aws(&moto_url()).await;
    let table = unique("onboard-lambda");
    onboard_store::dynamodb::create_table(&aws_sdk_dynamodb::Client::new(&aws), &table)
        .await
        .unwrap();
    let secret = aws_sdk_secretsmanager::Client::new(&aws)
        .create_secret()
        .name(unique("onboard/keys"))
        .secret_string("k".repeat(64))
        .send()
        .await
        .unwrap();
    let config = Config {
        table: table.clone(),
        public_url: "https://onboard.example.com".into(),
        keys_secret: SecretRef::SecretsManager {
            id: secret.arn().unwrap().to_owned(),
            json_key: None,
        },
    };

    let deps = deps_from(&config, &aws).await.unwrap();

    // The store is the DynamoDB table.
    let mut variables = onboard_store::Variables::new();
    variables.insert("default_psa".into(), "none".into());
    deps.store
        .put_variables(&Scope::Msp, &variables)
        .await
        .unwrap();
    assert_eq!(deps.store.variables(&Scope::Msp).await.unwrap(), variables);
    // A handler runs over it: the record does not exist, and says so by a stable name.
    let diagnostic = handle(
        &deps,
        "Validate",
        serde_json::json!({"onboarding_id": "nope"}),
    )
    .await
    .unwrap_err();
    assert!(
        onboard_steps::StepError::NAMES.contains(&diagnostic.error_type.as_str()),
        "{diagnostic:?}"
    );
    assert_ne!(diagnostic.error_type, "Step.InvalidInput");
}

#[tokio::test]
async fn a_missing_key_secret_is_reported_by_its_variable() {
    let aws = aws(&moto_url()).await;
    let config = Config {
        table: "unused".into(),
        public_url: "https://onboard.example.com".into(),
        keys_secret: SecretRef::SecretsManager {
            id: unique("onboard/absent"),
            json_key: None,
        },
    };
    let err = deps_from(&config, &aws).await.unwrap_err();
    assert!(err.to_string().contains("ONBOARD_KEYS_SECRET"), "{err}");
}

/// Every `ErrorEquals` of every `Retry` in the state machines.
fn retried_errors() -> Vec<String> {
    let mut found = Vec::new();
    for name in ["onboarding", "offboarding"] {
        let path = crate::root().join(format!("statemachine/{name}.asl.json"));
        let definition: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut stack = vec![&definition];
        while let Some(node) = stack.pop() {
            match node {
                serde_json::Value::Object(map) => {
                    if let Some(retries) = map.get("Retry").and_then(|r| r.as_array()) {
                        for retry in retries {
                            for e in retry["ErrorEquals"].as_array().unwrap() {
                                found.push(e.as_str().unwrap().to_owned());
                            }
                        }
                    }
                    stack.extend(map.values());
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
    }
    assert!(!found.is_empty());
    found
}

#[tokio::test]
async fn an_unreadable_key_secret_fails_invocations_as_config_invalid_which_nothing_retries() {
    let aws = aws(&moto_url()).await;
    let config = Config {
        table: "unused".into(),
        public_url: "https://onboard.example.com".into(),
        keys_secret: SecretRef::SecretsManager {
            id: unique("onboard/absent"),
            json_key: None,
        },
    };
    let err = deps_from(&config, &aws).await.unwrap_err();

    let diagnostic = onboard_lambda::config_diagnostic(&err);

    assert_eq!(diagnostic.error_type, "Config.Invalid");
    assert!(
        diagnostic.error_message.contains("ONBOARD_KEYS_SECRET"),
        "{diagnostic:?}"
    );
    assert!(onboard_steps::StepError::NAMES.contains(&"Config.Invalid"));
    let retried = retried_errors();
    assert!(
        !retried
            .iter()
            .any(|e| e == "Config.Invalid" || e == "States.ALL"),
        "{retried:?}"
    );
}

#[tokio::test]
async fn a_connector_secret_missing_from_secrets_manager_is_config_invalid_naming_it() {
    let aws = aws(&moto_url()).await;
    let table = unique("onboard-lambda");
    onboard_store::dynamodb::create_table(&aws_sdk_dynamodb::Client::new(&aws), &table)
        .await
        .unwrap();
    let keys = aws_sdk_secretsmanager::Client::new(&aws)
        .create_secret()
        .name(unique("onboard/keys"))
        .secret_string("k".repeat(64))
        .send()
        .await
        .unwrap();
    let config = Config {
        table,
        public_url: "https://onboard.example.com".into(),
        keys_secret: SecretRef::SecretsManager {
            id: keys.arn().unwrap().to_owned(),
            json_key: None,
        },
    };
    let deps = deps_from(&config, &aws).await.unwrap();
    let contoso = Scope::Organization("contoso".into());
    let settings =
        |connector: &str, settings: &[(&str, &str)], secrets| onboard_store::ConnectorSettings {
            connector: connector.into(),
            settings: settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            secrets,
        };
    deps.store
        .put_connector(
            &contoso,
            &settings(
                "organization",
                &[
                    ("domain", "contoso.com"),
                    ("tenant_id", "0f6a4c2e-1d3b-4a5c-9e7f-8b2d6c4a1e3f"),
                ],
                Default::default(),
            ),
        )
        .await
        .unwrap();
    let missing = unique("onboard/graph");
    deps.store
        .put_connector(
            &Scope::Msp,
            &settings(
                "graph",
                &[("client_id", "11111111-2222-3333-4444-555555555555")],
                [(
                    "client_secret".to_owned(),
                    SecretRef::SecretsManager {
                        id: missing.clone(),
                        json_key: None,
                    },
                )]
                .into(),
            ),
        )
        .await
        .unwrap();

    let organization = deps.connections.organization("contoso").await.unwrap();
    let err = match deps.connections.directory(&organization).await {
        Ok(_) => panic!("a directory without its client secret"),
        Err(e) => e,
    };

    assert_eq!(err.name(), "Config.Invalid");
    assert!(err.cause().contains("client_secret"), "{}", err.cause());
}
