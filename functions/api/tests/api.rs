//! The `api` function's router driven by the API Gateway (HTTP API v2) events of
//! `events/api-*.json`, against moto (`scripts/test` starts it and exports
//! `ONBOARD_TEST_MOTO_URL`): DynamoDB for the store, Secrets Manager for the key
//! secret, Step Functions for executions and task callbacks. Without moto this
//! fails, on purpose: a skipped wiring test would pass in silence.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use axum::http::StatusCode;
use onboard_api::{ApiAuth, ApiConfig, SfnRuntime, app};
use onboard_http::{ApiKeys, Runtime, hash_api_key};
use onboard_steps::Deps;
use onboard_steps::decisions::{Action, CallbackFailure};
use onboard_store::{
    ConnectorSettings, DecisionKind, DecisionState, NewDecision, RecordKind, Scope, SecretRef,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const KEY: &str = "test-api-key-0123456789";

fn moto_url() -> String {
    std::env::var("ONBOARD_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!(
            "the api tests need a moto server: run `scripts/test -p api` \
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
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A deployment on moto: table, key secret, two state machines, one organization.
struct Env {
    app: axum::Router,
    deps: Deps,
    runtime: Arc<SfnRuntime>,
    sfn: aws_sdk_sfn::Client,
    onboarding_machine: String,
    offboarding_machine: String,
}

/// Parks every execution, so the test sees them RUNNING with their input.
const PARKED: &str =
    r#"{"StartAt":"Park","States":{"Park":{"Type":"Wait","Seconds":86400,"End":true}}}"#;

async fn env() -> Env {
    env_with(ApiAuth::ApiKey).await
}

/// The scopes and roles the JWT tests' API requires.
const JWT_SCOPES: [&str; 2] = ["Onboard.Submit", "Onboard.Technician"];

async fn env_with(auth: ApiAuth) -> Env {
    let moto = moto_url();
    // moto's own Step Functions interpreter: unknown task tokens get AWS's real errors.
    let configured = reqwest::Client::new()
        .post(format!("{moto}/moto-api/config"))
        .json(&json!({"stepfunctions": {"execute_state_machine": true}}))
        .send()
        .await
        .unwrap();
    assert!(configured.status().is_success());
    let aws = aws(&moto).await;
    let table = unique("onboard-api");
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
    let config = onboard_lambda::Config {
        table,
        public_url: "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com".into(),
        keys_secret: SecretRef::SecretsManager {
            id: secret.arn().unwrap().to_owned(),
            json_key: None,
        },
    };
    let deps = onboard_lambda::deps_from(&config, &aws).await.unwrap();
    deps.store
        .put_connector(
            &Scope::Organization("contoso".into()),
            &ConnectorSettings {
                connector: "organization".into(),
                settings: BTreeMap::from([
                    ("name".into(), "Contoso".into()),
                    ("domain".into(), "contoso.com".into()),
                    (
                        "tenant_id".into(),
                        "0f6a4c2e-1d3b-4a5c-9e7f-8b2d6c4a1e3f".into(),
                    ),
                ]),
                secrets: BTreeMap::new(),
            },
        )
        .await
        .unwrap();
    let sfn = aws_sdk_sfn::Client::new(&aws);
    let mut machines = Vec::new();
    for name in ["onboarding", "offboarding"] {
        let created = sfn
            .create_state_machine()
            .name(unique(name))
            .definition(PARKED)
            .role_arn("arn:aws:iam::123456789012:role/onboard-test")
            .send()
            .await
            .unwrap();
        machines.push(created.state_machine_arn().to_owned());
    }
    let api = ApiConfig {
        onboarding_machine: machines[0].clone(),
        offboarding_machine: machines[1].clone(),
        auth,
        keys: ApiKeys {
            hashes: Arc::new(vec![hash_api_key(KEY)]),
            upstream: false,
        },
        jwt_scopes: Arc::new(JWT_SCOPES.iter().map(|s| (*s).to_owned()).collect()),
        sign_in: None,
    };
    let runtime = Arc::new(SfnRuntime::new(sfn.clone(), &api, deps.store.clone()));
    Env {
        app: app(
            deps.clone(),
            runtime.clone(),
            &api,
            onboard_http::access::Console::Off,
        ),
        deps,
        runtime,
        sfn,
        onboarding_machine: machines[0].clone(),
        offboarding_machine: machines[1].clone(),
    }
}

/// `events/<name>`, as API Gateway sends it.
fn event(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The event with its authorization header set to `bearer` (or removed).
fn authorized(mut event: Value, bearer: Option<&str>) -> Value {
    let headers = event["headers"].as_object_mut().unwrap();
    match bearer {
        Some(key) => headers.insert("authorization".into(), json!(format!("Bearer {key}"))),
        None => headers.remove("authorization"),
    };
    event
}

/// The event aimed at another path (and query).
fn aimed(mut event: Value, path: &str, query: &str) -> Value {
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["rawQueryString"] = json!(query);
    let params: serde_json::Map<String, Value> = url_pairs(query)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    event["queryStringParameters"] = Value::Object(params);
    event
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Runs one API Gateway event through the router as `lambda_http` hands it over.
async fn call(env: &Env, event: Value) -> (StatusCode, String) {
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = env.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn executions(env: &Env) -> Vec<aws_sdk_sfn::types::ExecutionListItem> {
    executions_of(env, &env.onboarding_machine).await
}

async fn executions_of(env: &Env, machine: &str) -> Vec<aws_sdk_sfn::types::ExecutionListItem> {
    env.sfn
        .list_executions()
        .state_machine_arn(machine)
        .send()
        .await
        .unwrap()
        .executions()
        .to_vec()
}

/// Submits `events/api-submit.json` under a fresh Idempotency-Key; answers the record id.
async fn submit(env: &Env, idempotency_key: &str) -> String {
    let mut submit = authorized(event("api-submit.json"), Some(KEY));
    submit["headers"]["idempotency-key"] = json!(idempotency_key);
    let (status, body) = call(env, submit).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    answer["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_submit_stores_the_record_and_starts_one_execution_named_by_its_id() {
    let env = env().await;
    let key = unique("hr-request");

    let id = submit(&env, &key).await;
    let again = submit(&env, &key).await;

    assert_eq!(
        again, id,
        "the same Idempotency-Key answers the first record"
    );
    let record = env.deps.store.get_record(&id).await.unwrap().unwrap();
    assert_eq!(record.organization, "contoso");
    let started = executions(&env).await;
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0].name(), id);
    let described = env
        .sfn
        .describe_execution()
        .execution_arn(started[0].execution_arn())
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input, json!({"onboarding_id": id}));

    // Its status, through the status event.
    let status_event = aimed(
        authorized(event("api-status.json"), Some(KEY)),
        &format!("/api/onboardings/{id}"),
        "",
    );
    let (status, body) = call(&env, status_event).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["id"], json!(id));
    assert_eq!(view["organization"], json!("contoso"));
    assert_eq!(view["status"], json!(record.status.as_str()));
}

#[tokio::test]
async fn starting_a_record_whose_execution_exists_is_the_same_submit_not_an_error() {
    let env = env().await;
    let id = submit(&env, &unique("hr-request")).await;
    // A different input under the same name: Step Functions answers ExecutionAlreadyExists.
    let other = unique("record");
    env.sfn
        .start_execution()
        .state_machine_arn(&env.onboarding_machine)
        .name(&other)
        .input("{}")
        .send()
        .await
        .unwrap();
    let refused = env
        .sfn
        .start_execution()
        .state_machine_arn(&env.onboarding_machine)
        .name(&other)
        .input(json!({"onboarding_id": other}).to_string())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_sfn::error::ProvideErrorMetadata::code(&refused),
        Some("ExecutionAlreadyExists")
    );

    env.runtime
        .start(RecordKind::Onboarding, &other)
        .await
        .unwrap();
    env.runtime
        .start(RecordKind::Onboarding, &id)
        .await
        .unwrap();

    let names: Vec<String> = executions(&env)
        .await
        .iter()
        .map(|e| e.name().to_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&id) && names.contains(&other));
}

#[tokio::test]
async fn without_the_api_key_nothing_is_stored_or_started() {
    let env = env().await;
    for bearer in [None, Some("wrong-key")] {
        let (status, body) = call(&env, authorized(event("api-submit.json"), bearer)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    assert!(executions(&env).await.is_empty());
    // Decision links need no key: their signature is their authority.
    let (status, _) = call(&env, event("api-decision-get.json")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a forged signature is refused"
    );
}

/// The event as API Gateway's JWT authorizer passes it on: the token's claims.
fn with_claims(mut event: Value, claims: Value) -> Value {
    event["headers"].as_object_mut().unwrap().insert(
        "authorization".into(),
        json!("Bearer eyJ.signature-checked-by-api-gateway"),
    );
    event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    event
}

#[tokio::test]
async fn with_jwt_a_token_for_the_audience_without_a_configured_scope_or_role_is_refused() {
    let env = env_with(ApiAuth::Jwt).await;
    // A token of the issuer for the audience, but for another purpose.
    let other_app = json!({"aud": "api://onboard", "scp": "User.Read openid"});
    let (status, body) = call(&env, with_claims(event("api-submit.json"), other_app)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Onboard.Submit"), "{body}");
    assert!(executions(&env).await.is_empty());
    let no_claims = with_claims(event("api-organizations.json"), json!({}));
    assert_eq!(call(&env, no_claims).await.0, StatusCode::FORBIDDEN);
    // Decision links stay public: their signature is their authority.
    let (status, _) = call(&env, event("api-decision-get.json")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a forged signature is refused"
    );
}

#[tokio::test]
async fn with_jwt_a_delegated_scope_or_an_app_role_may_submit() {
    let env = env_with(ApiAuth::Jwt).await;
    let delegated = json!({"aud": "api://onboard", "scp": "openid Onboard.Submit"});
    let mut submit = with_claims(event("api-submit.json"), delegated);
    submit["headers"]["idempotency-key"] = json!(unique("jwt"));
    let (status, body) = call(&env, submit).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // An app-only token carries app roles; API Gateway flattens the array to text.
    let app_only = json!({"aud": "api://onboard", "roles": "[Onboard.Reader Onboard.Technician]"});
    let (status, body) = call(&env, with_claims(event("api-organizations.json"), app_only)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn organizations_come_from_the_store() {
    let env = env().await;
    let (status, body) = call(&env, authorized(event("api-organizations.json"), Some(KEY))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!([{"id": "contoso", "name": "Contoso", "domain": "contoso.com"}])
    );
    // A form naming an organization the store does not declare is a bad field.
    let mut submit = authorized(event("api-submit.json"), Some(KEY));
    submit["body"] =
        json!(json!({"organization": "fabrikam", "first_name": "A", "last_name": "B"}).to_string());
    let (status, body) = call(&env, submit).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("unknown organization `fabrikam`"), "{body}");
}

/// A pending approval of a new onboarding, resumed with `token`; answers the signed
/// approve link's decision id and query.
async fn pending_approval(env: &Env, token: &str) -> (String, String) {
    let id = submit(env, &unique("hr-request")).await;
    let now = jiff::Timestamp::now();
    let expires_at = now + jiff::SignedDuration::from_hours(24);
    let decision = env
        .deps
        .store
        .create_decision(NewDecision {
            kind: DecisionKind::Approval,
            record_id: id,
            task_token: SecretString::from(token.to_owned()),
            expires_at,
            created_at: now,
        })
        .await
        .unwrap();
    let link = env
        .deps
        .links
        .link(&decision.id, Action::Approve, expires_at, None);
    (decision.id, link.query().unwrap().to_owned())
}

#[tokio::test]
async fn a_decision_whose_task_no_longer_waits_is_answered_409_and_stays_decided() {
    let env = env().await;
    let (decision, query) =
        pending_approval(&env, "AQCEAAAAKgAAAAMAAAAAAAAAAe-not-a-live-token").await;
    let path = format!("/decisions/{decision}");

    // GET: the confirmation page, nothing decided.
    let (status, page) = call(&env, aimed(event("api-decision-get.json"), &path, &query)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<form method=\"post\""), "{page}");

    // POST: Step Functions answers InvalidToken for a token no task waits on.
    let (status, page) = call(&env, aimed(event("api-decision-post.json"), &path, &query)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("no longer waits"), "{page}");
    assert!(!page.contains("not-a-live-token"), "the token never shows");
    let stored = env
        .deps
        .store
        .get_decision(&decision)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, DecisionState::Approved);
    // The link names no recipient: a typed name is only noted beside who decided.
    assert_eq!(
        stored.decided_by.as_deref(),
        Some("an approver (who typed the name \"Megan Bowen\")")
    );

    // A second POST: already decided, by whom.
    let (status, page) = call(&env, aimed(event("api-decision-post.json"), &path, &query)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("Megan Bowen"), "{page}");
}

#[tokio::test]
async fn step_functions_errors_for_a_dead_token_say_it_no_longer_waits() {
    let env = env().await;
    let token = SecretString::from("a-token-no-task-waits-on".to_owned());
    let callbacks = env.runtime.callbacks();
    let success = callbacks
        .send_task_success(&token, json!({"decision": "approved"}))
        .await
        .unwrap_err();
    let failure = callbacks
        .send_task_failure(&token, "Approval.Denied", "denied by hr")
        .await
        .unwrap_err();
    for e in [success, failure] {
        assert_eq!(e.kind, CallbackFailure::Closed, "{e}");
        assert!(e.message.contains("InvalidToken"), "{e}");
        assert!(!e.message.contains("a-token-no-task-waits-on"));
    }
}

#[tokio::test]
async fn an_offboarding_starts_on_the_offboarding_machine() {
    let env = env().await;
    let mut submit = aimed(
        authorized(event("api-submit.json"), Some(KEY)),
        "/api/offboardings",
        "",
    );
    submit["headers"]
        .as_object_mut()
        .unwrap()
        .remove("idempotency-key");
    submit["body"] = json!(
        json!({"organization": "contoso", "user_principal_name": "AlexW@contoso.com"}).to_string()
    );

    let (status, body) = call(&env, submit).await;

    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = executions_of(&env, &env.offboarding_machine).await;
    assert_eq!(
        started.iter().map(|e| e.name()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    assert!(executions(&env).await.is_empty(), "nothing onboards");
}

#[tokio::test]
async fn a_submit_whose_execution_cannot_start_is_answered_an_error_and_closed_as_failed() {
    let env = env().await;
    // The state machine is gone (a stack half torn down): StartExecution fails.
    env.sfn
        .delete_state_machine()
        .state_machine_arn(&env.onboarding_machine)
        .send()
        .await
        .unwrap();

    // Without an Idempotency-Key nobody can resume the record: it must not stay "running".
    let mut submit = authorized(event("api-submit.json"), Some(KEY));
    submit["headers"]
        .as_object_mut()
        .unwrap()
        .remove("idempotency-key");
    let (status, body) = call(&env, submit).await;

    assert!(status.is_server_error(), "{status}: {body}");
    let records = env
        .deps
        .store
        .list_records(
            RecordKind::Onboarding,
            &onboard_store::RecordFilter::Organization("contoso".into()),
            10,
            None,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].status, onboard_store::Status::Failed);
    let timeline = env.deps.store.timeline(&records[0].id).await.unwrap();
    let last = timeline.last().unwrap();
    assert!(
        last.message.contains("could not be started") && last.message.contains("again"),
        "{last:?}"
    );
}

#[tokio::test]
async fn the_onboardings_are_listed_newest_first_from_dynamodb() {
    let env = env().await;
    let first = submit(&env, &unique("list-1")).await;
    let second = submit(&env, &unique("list-2")).await;

    let list = aimed(
        authorized(event("api-status.json"), Some(KEY)),
        "/api/onboardings",
        "organization=contoso&limit=1",
    );
    let (status, body) = call(&env, list).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    // Both were created within the same microsecond at most; ties go by id, descending.
    let newest = items[0]["id"].as_str().unwrap();
    assert!(newest == second || newest == first, "{body}");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, body) = call(
        &env,
        aimed(
            authorized(event("api-status.json"), Some(KEY)),
            "/api/onboardings",
            &format!("organization=contoso&limit=1&cursor={cursor}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let next: Value = serde_json::from_str(&body).unwrap();
    let other = next["items"][0]["id"].as_str().unwrap();
    assert_ne!(other, newest);
    assert!([first.as_str(), second.as_str()].contains(&other));

    let (status, body) = call(
        &env,
        aimed(
            authorized(event("api-status.json"), Some(KEY)),
            "/api/onboardings",
            "status=asleep",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("\"field\":\"status\""), "{body}");
}
