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
