//! Contract tests: the Graph client against the Graph simulator over a real socket.
//!
//! Each test starts its own simulator on port 0 (`spawn`), so tests share
//! nothing. Waits between retries go to a recording sleeper: no test sleeps
//! for real, and the throttling tests read back every wait.

#![allow(clippy::unwrap_used)] // Test code: a broken fixture should stop the test loudly.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::response::IntoResponse;
use futures::StreamExt;
use onboard_connectors::Error;
use onboard_connectors::graph::{
    AppCredentials, AutomaticReplies, Clock, Deletion, Directory, ExternalAudience, GraphClient,
    GraphConfig, Group, LicenseToAdd, MailboxChange, MembershipChange, NewUser, ObjectId,
    PasswordPolicies, Profile, SkipReason, TapRequest, TenantId, UserUpdate,
};
use onboard_connectors::http::Sleeper;
use onboard_sandbox::faults::FaultSettings;
use onboard_sandbox::graph::{
    AppSeed, AuthMethodSeed, GraphSeed, GraphSimulator, GraphState, GroupSeed, LicenseSnapshot,
    UserSeed,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

const TENANT: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
const CLIENT_ID: &str = "sandbox-client";
const SECRET: &str = "sandbox-secret";
const BUSINESS_STANDARD: &str = "f245ecc8-75af-4f8e-b61f-27d8114de5f3";
const BUSINESS_PREMIUM: &str = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46";
const EXCHANGE: &str = "4b9405b0-7788-4568-add1-99614e613b69";

#[derive(Debug, Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }

    /// Time as if each recorded wait had passed: deadlines see the waits.
    fn now(&self) -> Instant {
        Instant::now() + self.waits().iter().sum::<Duration>()
    }
}

impl RecordingSleeper {
    fn waits(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

/// A clock the test moves forward by hand.
#[derive(Debug)]
struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap()
    }
}

fn tenant() -> TenantId {
    TenantId::new(TENANT).unwrap()
}

fn credentials(secret: &str) -> AppCredentials {
    AppCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(secret),
    }
}

struct TestGraph {
    base: String,
    sim: GraphSimulator,
    client: GraphClient,
    sleeper: Arc<RecordingSleeper>,
    http: reqwest::Client,
}

async fn spawn(seed: GraphSeed) -> TestGraph {
    spawn_with(seed, credentials(SECRET)).await
}

async fn spawn_with(seed: GraphSeed, credentials: AppCredentials) -> TestGraph {
    let sim = GraphSimulator::new(&seed).unwrap();
    let app = Router::new().nest("/sandbox/graph", sim.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = GraphClient::new(GraphConfig::sandbox(&base, credentials).unwrap())
        .unwrap()
        .with_sleeper(sleeper.clone());
    TestGraph {
        base,
        sim,
        client,
        sleeper,
        http: reqwest::Client::new(),
    }
}

async fn spawn_example() -> TestGraph {
    spawn(GraphSeed::example()).await
}

impl TestGraph {
    fn state(&self) -> &GraphState {
        self.sim.state()
    }

    fn id_of(&self, upn: &str) -> ObjectId {
        ObjectId::new(self.state().user(TENANT, upn).unwrap().id)
    }

    async fn group(&self, name: &str) -> Group {
        let mut found = self
            .client
            .find_groups_by_name(&tenant(), name)
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "one group named {name}");
        found.remove(0)
    }

    async fn raw_token(&self) -> String {
        let answer: Value = self
            .http
            .post(format!(
                "{}/sandbox/graph/login/{TENANT}/oauth2/v2.0/token",
                self.base
            ))
            .form(&[
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    }

    /// A request the client would never make, straight to the simulator.
    async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let token = self.raw_token().await;
        let mut request = self
            .http
            .request(method, format!("{}/sandbox/graph/v1.0{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, headers, body)
    }
}

fn new_user(upn: &str) -> NewUser {
    NewUser {
        user_principal_name: upn.into(),
        display_name: "Jane Doe".into(),
        mail_nickname: "JaneD".into(),
        account_enabled: true,
        password: SecretString::from("Xq7!mPw2#vLr9zT"),
        force_change_password_next_sign_in: true,
        password_policies: Some(PasswordPolicies {
            disable_password_expiration: true,
            disable_strong_password: false,
        }),
        usage_location: Some("US".into()),
        profile: Profile {
            given_name: Some("Jane".into()),
            surname: Some("Doe".into()),
            job_title: Some("Accountant".into()),
            department: Some("Finance".into()),
            ..Profile::default()
        },
        extension_attributes: Default::default(),
    }
}

fn assert_rejected(err: Error, code: &str, message: &str) {
    match err {
        Error::Rejected {
            code: c,
            message: m,
            ..
        } => {
            assert_eq!(c, code);
            assert_eq!(m, message);
        }
        other => panic!("expected Rejected({code}), got {other:?}"),
    }
}

// ---- tokens ----

#[tokio::test]
async fn a_token_is_fetched_once_and_reused_for_later_calls() {
    let graph = spawn_example().await;

    graph.client.subscribed_skus(&tenant()).await.unwrap();
    graph
        .client
        .user(&tenant(), "AdeleV@contoso.com")
        .await
        .unwrap();
    graph
        .client
        .find_groups_by_name(&tenant(), "Sales")
        .await
        .unwrap();

    assert_eq!(graph.state().tokens_issued(), 1);
}

#[tokio::test]
async fn a_token_is_replaced_shortly_before_it_expires() {
    let graph = spawn_example().await;
    let clock = Arc::new(ManualClock::new());
    let client = GraphClient::new(GraphConfig::sandbox(&graph.base, credentials(SECRET)).unwrap())
        .unwrap()
        .with_clock(clock.clone());

    client.subscribed_skus(&tenant()).await.unwrap();
    clock.advance(Duration::from_secs(3_200));
    client.subscribed_skus(&tenant()).await.unwrap();
    let before_margin = graph.state().tokens_issued();
    clock.advance(Duration::from_secs(100)); // 3300 s: less than 5 minutes left of 3599
    client.subscribed_skus(&tenant()).await.unwrap();

    assert_eq!(before_margin, 1);
    assert_eq!(graph.state().tokens_issued(), 2);
}

#[tokio::test]
async fn each_tenant_gets_its_own_token_and_may_use_its_own_app() {
    let mut seed = GraphSeed::example();
    // This test's own Fabrikam, with its own app, replaces the demo's.
    seed.tenants.truncate(1);
    let mut fabrikam = seed.tenants[0].clone();
    fabrikam.id = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d".into();
    fabrikam.domains = vec!["fabrikam.com".into()];
    fabrikam.apps = vec![AppSeed {
        client_id: "fabrikam-app".into(),
        client_secret: "fabrikam-secret".into(),
        ..AppSeed::default()
    }];
    fabrikam.users.clear();
    fabrikam.groups.clear();
    seed.tenants.push(fabrikam);
    let graph = spawn(seed).await;
    let fabrikam = TenantId::new("fabrikam.com").unwrap();
    let client = GraphClient::new(GraphConfig::sandbox(&graph.base, credentials(SECRET)).unwrap())
        .unwrap()
        .with_tenant_credentials(
            fabrikam.clone(),
            AppCredentials {
                client_id: "fabrikam-app".into(),
                client_secret: SecretString::from("fabrikam-secret"),
            },
        );

    let contoso_users = client
        .find_users_by_upn_prefix(&tenant(), "")
        .await
        .unwrap();
    let fabrikam_users = client
        .find_users_by_upn_prefix(&fabrikam, "")
        .await
        .unwrap();

    // Adele, Alex and the shared mailbox's account info@.
    assert_eq!(contoso_users.len(), 3);
    assert!(fabrikam_users.is_empty());
    assert_eq!(graph.state().tokens_issued(), 2);
}

#[tokio::test]
async fn a_wrong_client_secret_is_unauthorized_with_the_aadsts_code() {
    let graph = spawn_with(GraphSeed::example(), credentials("not-the-secret")).await;

    let err = graph.client.subscribed_skus(&tenant()).await.unwrap_err();

    match err {
        Error::Unauthorized { message, .. } => {
            assert!(
                message
                    .starts_with("invalid_client: AADSTS7000215: Invalid client secret provided."),
                "{message}"
            );
            assert!(
                !message.contains("Trace ID"),
                "only the first line is kept: {message}"
            );
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_tenant_is_unauthorized_with_aadsts90002() {
    let graph = spawn_example().await;

    let err = graph
        .client
        .subscribed_skus(&TenantId::new("unknown.example").unwrap())
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::Unauthorized { ref message, .. } if message.starts_with("invalid_request: AADSTS90002: Tenant 'unknown.example' not found.")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_scope_without_dot_default_is_refused_with_aadsts1002012() {
    let graph = spawn_example().await;
    let mut config = GraphConfig::sandbox(&graph.base, credentials(SECRET)).unwrap();
    config.scope = "https://graph.microsoft.com/User.Read.All".into();
    let client = GraphClient::new(config).unwrap();

    let err = client.subscribed_skus(&tenant()).await.unwrap_err();

    assert!(
        matches!(err, Error::Unauthorized { ref message, .. } if message.starts_with("invalid_scope: AADSTS1002012:")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once_and_the_call_succeeds() {
    let graph = spawn_example().await;
    graph.client.subscribed_skus(&tenant()).await.unwrap();
    graph.state().revoke_tokens();

    let skus = graph.client.subscribed_skus(&tenant()).await.unwrap();

    assert_eq!(skus.len(), 3);
    assert_eq!(graph.state().tokens_issued(), 2);
}

// ---- users: lookups ----

#[tokio::test]
async fn a_user_is_found_by_upn_or_id_and_an_unknown_one_is_none() {
    let graph = spawn_example().await;
    let adele_id = graph.id_of("AdeleV@contoso.com");

    let by_upn = graph
        .client
        .user(&tenant(), "adelev@contoso.com")
        .await
        .unwrap()
        .unwrap();
    let by_id = graph
        .client
        .user(&tenant(), adele_id.as_str())
        .await
        .unwrap()
        .unwrap();
    let nobody = graph
        .client
        .user(&tenant(), "nobody@contoso.com")
        .await
        .unwrap();

    assert_eq!(by_upn.id, adele_id);
    assert_eq!(by_upn.job_title.as_deref(), Some("Retail Manager"));
    assert_eq!(by_upn.usage_location.as_deref(), Some("US"));
    assert_eq!(by_upn.account_enabled, Some(true));
    assert_eq!(by_id, by_upn);
    assert!(nobody.is_none());
}

#[tokio::test]
async fn finding_by_address_matches_upn_mail_and_smtp_aliases() {
    let graph = spawn_example().await;

    let by_upn = graph
        .client
        .find_users_by_address(&tenant(), "AlexW@contoso.com")
        .await
        .unwrap();
    let by_alias = graph
        .client
        .find_users_by_address(&tenant(), "adele.vance@contoso.com")
        .await
        .unwrap();
    let free = graph
        .client
        .find_users_by_address(&tenant(), "jane.doe@contoso.com")
        .await
        .unwrap();

    assert_eq!(by_upn.len(), 1);
    assert_eq!(by_upn[0].user_principal_name, "AlexW@contoso.com");
    assert_eq!(by_alias.len(), 1);
    assert_eq!(by_alias[0].user_principal_name, "AdeleV@contoso.com");
    assert!(free.is_empty());
}

#[tokio::test]
async fn addresses_with_quotes_are_escaped_in_the_filter() {
    let mut seed = GraphSeed::example();
    seed.tenants[0].users.push(UserSeed {
        user_principal_name: "o'brien@contoso.com".into(),
        ..UserSeed::default()
    });
    let graph = spawn(seed).await;

    let found = graph
        .client
        .find_users_by_address(&tenant(), "O'Brien@contoso.com")
        .await
        .unwrap();

    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn users_by_upn_prefix_come_from_every_page() {
    let mut seed = GraphSeed::example();
    for n in 0..1_050 {
        seed.tenants[0].users.push(UserSeed {
            user_principal_name: format!("jdoe{n}@contoso.com"),
            ..UserSeed::default()
        });
    }
    let graph = spawn(seed).await;

    let found = graph
        .client
        .find_users_by_upn_prefix(&tenant(), "jdoe")
        .await
        .unwrap();

    assert_eq!(found.len(), 1_050, "two pages of at most 999");
}

// ---- users: create ----

#[tokio::test]
async fn creating_a_user_sends_the_password_options_and_profile() {
    let graph = spawn_example().await;

    let created = graph
        .client
        .create_user(&tenant(), &new_user("jane.doe@contoso.com"))
        .await
        .unwrap();

    assert_eq!(created.user_principal_name, "jane.doe@contoso.com");
    assert_eq!(created.given_name.as_deref(), Some("Jane"));
    let stored = graph.state().user(TENANT, "jane.doe@contoso.com").unwrap();
    assert_eq!(ObjectId::new(stored.id.clone()), created.id);
    assert!(stored.force_change_password_next_sign_in);
    assert_eq!(
        stored.password_policies.as_deref(),
        Some("DisablePasswordExpiration")
    );
    assert_eq!(stored.usage_location.as_deref(), Some("US"));
    assert_eq!(stored.mail_nickname.as_deref(), Some("JaneD"));
    assert_eq!(
        stored.profile.get("jobTitle").map(String::as_str),
        Some("Accountant")
    );
    assert!(
        graph
            .state()
            .password_is(TENANT, "jane.doe@contoso.com", "Xq7!mPw2#vLr9zT")
    );
}

#[tokio::test]
async fn a_taken_upn_is_a_conflict_on_user_principal_name() {
    let graph = spawn_example().await;

    let err = graph
        .client
        .create_user(&tenant(), &new_user("adelev@contoso.com"))
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::Conflict { ref property, .. } if property == "userPrincipalName"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_upn_that_is_another_users_alias_is_a_conflict_on_proxy_addresses() {
    let graph = spawn_example().await;

    let err = graph
        .client
        .create_user(&tenant(), &new_user("adele.vance@contoso.com"))
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::Conflict { ref property, .. } if property == "proxyAddresses"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_weak_password_is_rejected_as_such() {
    let graph = spawn_example().await;
    let mut user = new_user("jane.doe@contoso.com");
    user.password = SecretString::from("password");

    let err = graph
        .client
        .create_user(&tenant(), &user)
        .await
        .unwrap_err();

    assert!(matches!(err, Error::PasswordRejected { .. }), "{err:?}");
    assert!(graph.state().user(TENANT, "jane.doe@contoso.com").is_none());
}

#[tokio::test]
async fn an_invalid_mail_nickname_is_rejected_with_graphs_message() {
    let graph = spawn_example().await;
    let mut user = new_user("jane.doe@contoso.com");
    user.mail_nickname = "Jane Doe".into();

    let err = graph
        .client
        .create_user(&tenant(), &user)
        .await
        .unwrap_err();

    assert_rejected(
        err,
        "Request_BadRequest",
        "Invalid value specified for property 'mailNickname' of resource 'User'.",
    );
}

#[tokio::test]
async fn a_upn_outside_the_verified_domains_is_rejected() {
    let graph = spawn_example().await;

    let err = graph
        .client
        .create_user(&tenant(), &new_user("jane@elsewhere.com"))
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::Rejected { status: 400, ref message, .. } if message.starts_with("The domain portion of the userPrincipalName property is invalid.")),
        "{err:?}"
    );
}

// ---- users: replication delay ----

#[tokio::test]
async fn writes_right_after_creation_wait_out_the_replication_delay() {
    let mut seed = GraphSeed::example();
    seed.replication_delay_calls = 3;
    let graph = spawn(seed).await;
    let created = graph
        .client
        .create_user(&tenant(), &new_user("jane.doe@contoso.com"))
        .await
        .unwrap();

    graph
        .client
        .assign_licenses(
            &tenant(),
            &created.id,
            &[LicenseToAdd {
                sku_id: EXCHANGE.into(),
                disabled_plans: vec![],
            }],
            &[],
        )
        .await
        .unwrap();

    assert_eq!(graph.sleeper.waits().len(), 3, "one backoff per 404");
    let stored = graph.state().user(TENANT, "jane.doe@contoso.com").unwrap();
    assert_eq!(
        stored.licenses,
        vec![LicenseSnapshot::direct("EXCHANGESTANDARD")]
    );
}

#[tokio::test]
async fn lookups_do_not_wait_for_replication() {
    let graph = spawn_example().await;
    graph.state().set_replication_delay(2);
    graph
        .client
        .create_user(&tenant(), &new_user("jane.doe@contoso.com"))
        .await
        .unwrap();

    let right_after = graph
        .client
        .user(&tenant(), "jane.doe@contoso.com")
        .await
        .unwrap();

    assert!(right_after.is_none(), "a lookup answers at once");
    assert!(graph.sleeper.waits().is_empty());
}

#[tokio::test]
async fn a_write_to_a_user_that_never_appears_is_not_found_after_the_retries() {
    let graph = spawn_example().await;
    let ghost = ObjectId::new("00000000-0000-0000-0000-000000000001");

    let err = graph
        .client
        .set_account_enabled(&tenant(), &ghost, false)
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::NotFound { ref what, .. } if what.contains(ghost.as_str())),
        "{err:?}"
    );
    assert_eq!(
        graph.sleeper.waits().len(),
        7,
        "eight attempts, seven waits"
    );
}

// ---- users: updates ----

#[tokio::test]
async fn updating_a_user_changes_only_the_given_fields() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let update = UserUpdate {
        usage_location: Some("GB".into()),
        profile: Profile {
            department: Some("Sales".into()),
            ..Profile::default()
        },
        ..UserUpdate::default()
    };

    graph
        .client
        .update_user(&tenant(), &alex, &update)
        .await
        .unwrap();

    let stored = graph.state().user(TENANT, "AlexW@contoso.com").unwrap();
    assert_eq!(stored.usage_location.as_deref(), Some("GB"));
    assert_eq!(
        stored.profile.get("department").map(String::as_str),
        Some("Sales")
    );
    assert_eq!(stored.display_name, "Alex Wilber");
}

#[tokio::test]
async fn a_bad_usage_location_is_rejected_with_graphs_message() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let update = UserUpdate {
        usage_location: Some("Britain".into()),
        ..UserUpdate::default()
    };

    let err = graph
        .client
        .update_user(&tenant(), &alex, &update)
        .await
        .unwrap_err();

    assert_rejected(
        err,
        "Request_BadRequest",
        "Invalid value specified for property 'usageLocation' of resource 'User'.",
    );
}

#[tokio::test]
async fn the_manager_is_set_read_and_removed_and_removing_none_is_fine() {
    let graph = spawn_example().await;
    let adele = graph.id_of("AdeleV@contoso.com");
    let alex = graph.id_of("AlexW@contoso.com");

    graph
        .client
        .set_manager(&tenant(), &adele, &alex)
        .await
        .unwrap();
    let manager = graph.client.manager(&tenant(), &adele).await.unwrap();
    graph
        .client
        .remove_manager(&tenant(), &adele)
        .await
        .unwrap();
    let after = graph.client.manager(&tenant(), &adele).await.unwrap();
    graph
        .client
        .remove_manager(&tenant(), &adele)
        .await
        .unwrap();

    assert_eq!(manager.map(|m| m.id), Some(alex));
    assert!(after.is_none());
}

#[tokio::test]
async fn setting_an_unknown_manager_is_not_found() {
    let graph = spawn_example().await;
    let adele = graph.id_of("AdeleV@contoso.com");

    let err = graph
        .client
        .set_manager(
            &tenant(),
            &adele,
            &ObjectId::new("00000000-0000-0000-0000-0000000000aa"),
        )
        .await
        .unwrap_err();

    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn sign_in_is_disabled_and_enabled_again() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");

    graph
        .client
        .set_account_enabled(&tenant(), &alex, false)
        .await
        .unwrap();
    let disabled = graph
        .state()
        .user(TENANT, "AlexW@contoso.com")
        .unwrap()
        .account_enabled;
    graph
        .client
        .set_account_enabled(&tenant(), &alex, true)
        .await
        .unwrap();
    let enabled = graph
        .state()
        .user(TENANT, "AlexW@contoso.com")
        .unwrap()
        .account_enabled;

    assert!(!disabled);
    assert!(enabled);
}

#[tokio::test]
async fn password_policies_are_set() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let both = PasswordPolicies {
        disable_password_expiration: true,
        disable_strong_password: true,
    };

    graph
        .client
        .set_password_policies(&tenant(), &alex, both)
        .await
        .unwrap();

    let stored = graph.state().user(TENANT, "AlexW@contoso.com").unwrap();
    assert_eq!(
        stored.password_policies.as_deref(),
        Some("DisablePasswordExpiration, DisableStrongPassword")
    );
}

#[tokio::test]
async fn a_password_reset_sets_the_password_and_the_change_flag() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");

    graph
        .client
        .reset_password(
            &tenant(),
            &alex,
            &SecretString::from("N3w-Passw0rd!x"),
            true,
        )
        .await
        .unwrap();

    assert!(
        graph
            .state()
            .password_is(TENANT, "AlexW@contoso.com", "N3w-Passw0rd!x")
    );
    assert!(
        graph
            .state()
            .user(TENANT, "AlexW@contoso.com")
            .unwrap()
            .force_change_password_next_sign_in
    );
}

#[tokio::test]
async fn a_weak_password_reset_is_rejected_as_such() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");

    let err = graph
        .client
        .reset_password(&tenant(), &alex, &SecretString::from("abc"), false)
        .await
        .unwrap_err();

    assert!(matches!(err, Error::PasswordRejected { .. }), "{err:?}");
}

#[tokio::test]
async fn a_password_reset_without_the_user_administrator_role_is_forbidden() {
    let mut seed = GraphSeed::example();
    seed.tenants[0].apps[0].directory_roles.clear();
    let graph = spawn(seed).await;
    let alex = graph.id_of("AlexW@contoso.com");

    let err = graph
        .client
        .reset_password(
            &tenant(),
            &alex,
            &SecretString::from("N3w-Passw0rd!x"),
            true,
        )
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::Forbidden { ref message, .. } if message == "Insufficient privileges to complete the operation."),
        "{err:?}"
    );
}

#[tokio::test]
async fn revoking_sessions_accepts_graphs_200_answer() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");

    graph
        .client
        .revoke_sign_in_sessions(&tenant(), &alex)
        .await
        .unwrap();

    assert_eq!(
        graph
            .state()
            .user(TENANT, "AlexW@contoso.com")
            .unwrap()
            .sign_in_revocations,
        1
    );
}

#[tokio::test]
async fn a_temporary_access_pass_comes_back_as_a_secret_with_its_terms() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let request = TapRequest {
        lifetime_minutes: Some(120),
        usable_once: Some(true),
        ..TapRequest::default()
    };

    let tap = graph
        .client
        .create_temporary_access_pass(&tenant(), &alex, &request)
        .await
        .unwrap();

    assert_eq!(tap.lifetime_minutes, 120);
    assert!(tap.usable_once);
    assert!(tap.start.is_some());
    assert!(tap.pass.expose_secret().len() >= 8);
    assert!(!format!("{tap:?}").contains(tap.pass.expose_secret()));
    assert!(
        graph
            .state()
            .user(TENANT, "AlexW@contoso.com")
            .unwrap()
            .has_temporary_access_pass
    );
}

#[tokio::test]
async fn a_temporary_access_pass_with_an_out_of_range_lifetime_is_rejected() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let request = TapRequest {
        lifetime_minutes: Some(5),
        ..TapRequest::default()
    };

    let err = graph
        .client
        .create_temporary_access_pass(&tenant(), &alex, &request)
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::Rejected { status: 400, .. }),
        "{err:?}"
    );
}

// ---- authentication methods ----

/// The demo tenant with Alex's methods replaced by `methods`.
fn with_methods(methods: Vec<AuthMethodSeed>) -> GraphSeed {
    let mut seed = GraphSeed::example();
    let alex = seed.tenants[0]
        .users
        .iter_mut()
        .find(|u| u.user_principal_name == "AlexW@contoso.com")
        .unwrap();
    alex.authentication_methods = methods;
    seed
}

fn phone(number: &str, kind: &str) -> AuthMethodSeed {
    AuthMethodSeed {
        kind: "phone".into(),
        phone_number: Some(number.into()),
        phone_type: Some(kind.into()),
        ..AuthMethodSeed::default()
    }
}

#[tokio::test]
async fn authentication_methods_are_listed_with_the_number_and_address_masked() {
    let graph = spawn(with_methods(vec![
        phone("+1 4255550123", "mobile"),
        AuthMethodSeed {
            kind: "email".into(),
            email_address: Some("alex.private@example.org".into()),
            ..AuthMethodSeed::default()
        },
        AuthMethodSeed {
            kind: "fido2".into(),
            display_name: Some("YubiKey".into()),
            ..AuthMethodSeed::default()
        },
    ]))
    .await;
    let alex = graph.id_of("AlexW@contoso.com");

    let methods = graph
        .client
        .authentication_methods(&tenant(), &alex)
        .await
        .unwrap();

    let described: Vec<String> = methods.iter().map(|m| m.describe()).collect();
    assert_eq!(
        described,
        [
            "password",
            "phone (mobile, +* ********23)",
            "email (a***@example.org)",
            "fido2 (YubiKey)"
        ]
    );
    let debug = format!("{methods:?}");
    assert!(!debug.contains("4255550123"), "{debug}");
    assert!(!debug.contains("alex.private"), "{debug}");
    assert_eq!(methods[0].id, "28c10230-6103-485e-b985-444c60001490");
}

#[tokio::test]
async fn each_method_is_deleted_through_its_own_collection_and_a_second_delete_is_already_gone() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let methods = graph
        .client
        .authentication_methods(&tenant(), &alex)
        .await
        .unwrap();
    let removable: Vec<_> = methods
        .iter()
        .filter(|m| m.collection().is_some())
        .collect();
    assert_eq!(removable.len(), 2, "{methods:?}");

    for method in &removable {
        let first = graph
            .client
            .delete_authentication_method(&tenant(), &alex, method)
            .await
            .unwrap();
        let again = graph
            .client
            .delete_authentication_method(&tenant(), &alex, method)
            .await
            .unwrap();
        assert_eq!(first, Deletion::Deleted);
        assert_eq!(again, Deletion::AlreadyGone);
    }

    let left = graph
        .client
        .authentication_methods(&tenant(), &alex)
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|m| m.kind.as_str()).collect::<Vec<_>>(),
        ["password"]
    );
    assert!(
        graph
            .state()
            .user(TENANT, "AlexW@contoso.com")
            .unwrap()
            .authentication_methods
            .is_empty()
    );
}

#[tokio::test]
async fn the_password_method_is_refused_before_any_call() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let methods = graph
        .client
        .authentication_methods(&tenant(), &alex)
        .await
        .unwrap();
    let password = methods.iter().find(|m| m.kind == "password").unwrap();

    let err = graph
        .client
        .delete_authentication_method(&tenant(), &alex, password)
        .await
        .unwrap_err();
    let (status, _, body) = graph
        .raw(
            reqwest::Method::DELETE,
            &format!(
                "/users/{alex}/authentication/passwordMethods/28c10230-6103-485e-b985-444c60001490"
            ),
            None,
        )
        .await;

    assert!(
        matches!(err, Error::Rejected { status: 405, .. }),
        "{err:?}"
    );
    assert_eq!(status, 405, "{body}");
}

#[tokio::test]
async fn the_mobile_number_cannot_go_before_the_alternate_mobile_number() {
    let graph = spawn(with_methods(vec![
        phone("+1 4255550123", "mobile"),
        phone("+1 4255550199", "alternateMobile"),
    ]))
    .await;
    let alex = graph.id_of("AlexW@contoso.com");
    let methods = graph
        .client
        .authentication_methods(&tenant(), &alex)
        .await
        .unwrap();
    let mobile = methods
        .iter()
        .find(|m| m.phone_type.as_deref() == Some("mobile"))
        .unwrap();
    let alternate = methods
        .iter()
        .find(|m| m.phone_type.as_deref() == Some("alternateMobile"))
        .unwrap();

    let refused = graph
        .client
        .delete_authentication_method(&tenant(), &alex, mobile)
        .await
        .unwrap_err();
    graph
        .client
        .delete_authentication_method(&tenant(), &alex, alternate)
        .await
        .unwrap();
    let then = graph
        .client
        .delete_authentication_method(&tenant(), &alex, mobile)
        .await
        .unwrap();

    assert!(
        matches!(refused, Error::Rejected { status: 400, .. }),
        "{refused:?}"
    );
    assert_eq!(then, Deletion::Deleted);
}

// ---- mailbox settings ----

fn replies() -> AutomaticReplies {
    AutomaticReplies {
        internal_message: "Alex has left; write to Adele.".into(),
        external_message: "Alex has left Contoso; write to adelev@contoso.com.".into(),
        external_audience: ExternalAudience::All,
    }
}

#[tokio::test]
async fn the_automatic_reply_is_switched_on_with_both_messages() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");

    let change = graph
        .client
        .set_automatic_replies(&tenant(), &alex, &replies())
        .await
        .unwrap();
    let (status, _, settings) = graph
        .raw(
            reqwest::Method::GET,
            &format!("/users/{alex}/mailboxSettings"),
            None,
        )
        .await;

    assert_eq!(change, MailboxChange::Set);
    assert_eq!(status, 200);
    let set = &settings["automaticRepliesSetting"];
    assert_eq!(set["status"], "alwaysEnabled");
    assert_eq!(set["externalAudience"], "all");
    assert_eq!(
        set["internalReplyMessage"],
        "Alex has left; write to Adele."
    );
    assert_eq!(
        set["externalReplyMessage"],
        "Alex has left Contoso; write to adelev@contoso.com."
    );
}

#[tokio::test]
async fn a_user_without_a_mailbox_is_reported_as_such_not_as_an_error() {
    let mut seed = GraphSeed::example();
    seed.tenants[0].users.push(UserSeed {
        user_principal_name: "kiosk@contoso.com".into(),
        ..UserSeed::default()
    });
    let graph = spawn(seed).await;
    let kiosk = graph.id_of("kiosk@contoso.com");

    let change = graph
        .client
        .set_automatic_replies(&tenant(), &kiosk, &replies())
        .await
        .unwrap();

    assert_eq!(
        change,
        MailboxChange::NoMailbox(
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.".into()
        )
    );
}

#[tokio::test]
async fn a_bad_automatic_reply_status_is_refused_by_the_simulator() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");

    let (status, _, body) = graph
        .raw(
            reqwest::Method::PATCH,
            &format!("/users/{alex}/mailboxSettings"),
            Some(json!({"automaticRepliesSetting": {"status": "on"}})),
        )
        .await;

    assert_eq!(status, 400, "{body}");
    assert_eq!(
        graph
            .state()
            .user(TENANT, "AlexW@contoso.com")
            .unwrap()
            .automatic_replies_status,
        "disabled"
    );
}

// ---- licenses ----

#[tokio::test]
async fn subscribed_skus_report_free_seats() {
    let graph = spawn_example().await;

    let skus = graph.client.subscribed_skus(&tenant()).await.unwrap();

    let free = |part: &str| {
        skus.iter()
            .find(|s| s.sku_part_number == part)
            .unwrap()
            .free_seats()
    };
    assert_eq!(free("O365_BUSINESS_PREMIUM"), 3);
    assert_eq!(free("SPB"), 0);
    assert_eq!(free("EXCHANGESTANDARD"), 10);
}

#[tokio::test]
async fn an_assigned_license_uses_a_seat_and_shows_in_license_details() {
    let graph = spawn_example().await;
    let user = graph
        .client
        .create_user(&tenant(), &new_user("jane.doe@contoso.com"))
        .await
        .unwrap();

    graph
        .client
        .assign_licenses(
            &tenant(),
            &user.id,
            &[LicenseToAdd {
                sku_id: BUSINESS_STANDARD.into(),
                disabled_plans: vec![],
            }],
            &[],
        )
        .await
        .unwrap();

    let details = graph
        .client
        .license_details(&tenant(), &user.id)
        .await
        .unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].sku_part_number, "O365_BUSINESS_PREMIUM");
    let skus = graph.client.subscribed_skus(&tenant()).await.unwrap();
    let standard = skus.iter().find(|s| s.sku_id == BUSINESS_STANDARD).unwrap();
    assert_eq!(standard.free_seats(), 2);
}

#[tokio::test]
async fn a_direct_license_is_removed() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");

    graph
        .client
        .assign_licenses(&tenant(), &alex, &[], &[BUSINESS_STANDARD.to_owned()])
        .await
        .unwrap();

    assert!(
        graph
            .client
            .license_details(&tenant(), &alex)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_license_without_a_usage_location_is_refused_as_such() {
    let graph = spawn_example().await;
    let mut user = new_user("jane.doe@contoso.com");
    user.usage_location = None;
    let user = graph.client.create_user(&tenant(), &user).await.unwrap();

    let err = graph
        .client
        .assign_licenses(
            &tenant(),
            &user.id,
            &[LicenseToAdd {
                sku_id: EXCHANGE.into(),
                disabled_plans: vec![],
            }],
            &[],
        )
        .await
        .unwrap_err();

    assert!(matches!(err, Error::NoUsageLocation { .. }), "{err:?}");
}

#[tokio::test]
async fn a_sku_without_free_seats_is_refused_naming_the_sku() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");

    let err = graph
        .client
        .assign_licenses(
            &tenant(),
            &alex,
            &[LicenseToAdd {
                sku_id: BUSINESS_PREMIUM.into(),
                disabled_plans: vec![],
            }],
            &[],
        )
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::NoFreeSeats { ref sku, .. } if sku == BUSINESS_PREMIUM),
        "{err:?}"
    );
}

#[tokio::test]
async fn seats_added_by_a_distributor_can_be_assigned_at_once() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");

    graph.state().add_seats(TENANT, "SPB", 1).unwrap();
    graph
        .client
        .assign_licenses(
            &tenant(),
            &alex,
            &[LicenseToAdd {
                sku_id: BUSINESS_PREMIUM.into(),
                disabled_plans: vec![],
            }],
            &[],
        )
        .await
        .unwrap();

    let skus = graph.client.subscribed_skus(&tenant()).await.unwrap();
    assert_eq!(
        skus.iter()
            .find(|s| s.sku_id == BUSINESS_PREMIUM)
            .unwrap()
            .free_seats(),
        0
    );
}

#[tokio::test]
async fn a_sku_id_that_is_not_a_guid_is_rejected() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");

    let err = graph
        .client
        .assign_licenses(
            &tenant(),
            &alex,
            &[LicenseToAdd {
                sku_id: "SPB".into(),
                disabled_plans: vec![],
            }],
            &[],
        )
        .await
        .unwrap_err();

    assert_rejected(
        err,
        "BadRequest",
        "Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception for more details.",
    );
}

#[tokio::test]
async fn group_license_errors_show_in_license_assignment_states_until_seats_appear() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let licensing = graph.group("License - Business Premium").await;

    let added = graph
        .client
        .add_group_member(&tenant(), &licensing, &alex)
        .await
        .unwrap();
    let waiting = graph
        .client
        .license_assignment_states(&tenant(), &alex)
        .await
        .unwrap();
    graph.state().add_seats(TENANT, "SPB", 1).unwrap();
    let settled = graph
        .client
        .license_assignment_states(&tenant(), &alex)
        .await
        .unwrap();

    assert_eq!(
        added,
        MembershipChange::Added,
        "adding to a licensing group always succeeds"
    );
    let by_group = |states: &[onboard_connectors::graph::LicenseAssignmentState]| {
        states
            .iter()
            .find(|s| s.assigned_by_group.as_deref() == Some(licensing.id.as_str()))
            .cloned()
            .unwrap()
    };
    let waiting = by_group(&waiting);
    assert!(waiting.has_error());
    assert_eq!(waiting.error.as_deref(), Some("CountViolation"));
    let settled = by_group(&settled);
    assert!(!settled.has_error());
    assert_eq!(settled.state.as_deref(), Some("Active"));
}

#[tokio::test]
async fn removing_a_group_inherited_license_directly_is_refused_as_such() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    graph.state().add_seats(TENANT, "SPB", 1).unwrap();
    let licensing = graph.group("License - Business Premium").await;
    graph
        .client
        .add_group_member(&tenant(), &licensing, &alex)
        .await
        .unwrap();

    let err = graph
        .client
        .assign_licenses(&tenant(), &alex, &[], &[BUSINESS_PREMIUM.to_owned()])
        .await
        .unwrap_err();

    assert!(matches!(err, Error::LicenseInherited { .. }), "{err:?}");
}

// ---- groups ----

#[tokio::test]
async fn groups_are_found_by_display_name_with_quotes_escaped() {
    let mut seed = GraphSeed::example();
    seed.tenants[0].groups.push(GroupSeed {
        display_name: "O'Brien Team".into(),
        ..GroupSeed::default()
    });
    let graph = spawn(seed).await;

    let found = graph
        .client
        .find_groups_by_name(&tenant(), "O'Brien Team")
        .await
        .unwrap();
    let none = graph
        .client
        .find_groups_by_name(&tenant(), "Nope")
        .await
        .unwrap();
    let by_id = graph.client.group(&tenant(), &found[0].id).await.unwrap();
    let unknown = graph
        .client
        .group(
            &tenant(),
            &ObjectId::new("00000000-0000-0000-0000-0000000000bb"),
        )
        .await
        .unwrap();

    assert_eq!(found.len(), 1);
    assert!(none.is_empty());
    assert_eq!(by_id.as_ref(), Some(&found[0]));
    assert!(unknown.is_none());
}

#[tokio::test]
async fn groups_with_one_name_come_from_every_page() {
    let mut seed = GraphSeed::example();
    for _ in 0..150 {
        seed.tenants[0].groups.push(GroupSeed {
            display_name: "Project Team".into(),
            ..GroupSeed::default()
        });
    }
    let graph = spawn(seed).await;

    let found = graph
        .client
        .find_groups_by_name(&tenant(), "project team")
        .await
        .unwrap();

    assert_eq!(found.len(), 150, "two pages of 100");
}

#[tokio::test]
async fn a_member_is_added_once_and_a_second_add_reports_already_member() {
    let graph = spawn_example().await;
    let adele = graph.id_of("AdeleV@contoso.com");
    let sales = graph.group("Sales").await;

    let first = graph
        .client
        .add_group_member(&tenant(), &sales, &adele)
        .await
        .unwrap();
    let second = graph
        .client
        .add_group_member(&tenant(), &sales, &adele)
        .await
        .unwrap();

    assert_eq!(first, MembershipChange::Added);
    assert_eq!(second, MembershipChange::AlreadyMember);
    assert!(
        graph
            .state()
            .group_members(TENANT, "Sales")
            .unwrap()
            .contains(&"AdeleV@contoso.com".to_owned())
    );
}

#[tokio::test]
async fn a_member_is_removed_through_ref_and_the_user_survives() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let sales = graph.group("Sales").await;

    let first = graph
        .client
        .remove_group_member(&tenant(), &sales, &alex)
        .await
        .unwrap();
    let second = graph
        .client
        .remove_group_member(&tenant(), &sales, &alex)
        .await
        .unwrap();

    assert_eq!(first, MembershipChange::Removed);
    assert_eq!(second, MembershipChange::NotAMember);
    assert!(
        graph.state().user(TENANT, "AlexW@contoso.com").is_some(),
        "the user still exists"
    );
    assert!(graph.state().dangerous_member_deletes().is_empty());
}

#[tokio::test]
async fn dynamic_and_synced_groups_are_skipped_with_a_reason() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let dynamic = graph.group("Everyone (dynamic)").await;
    let synced = graph.group("HQ Staff (synced)").await;

    let add_dynamic = graph
        .client
        .add_group_member(&tenant(), &dynamic, &alex)
        .await
        .unwrap();
    let remove_synced = graph
        .client
        .remove_group_member(&tenant(), &synced, &alex)
        .await
        .unwrap();

    assert_eq!(
        add_dynamic,
        MembershipChange::Skipped(SkipReason::DynamicMembership)
    );
    assert_eq!(
        remove_synced,
        MembershipChange::Skipped(SkipReason::SyncedFromOnPremises)
    );
    assert!(
        graph
            .state()
            .group_members(TENANT, "Everyone (dynamic)")
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn graph_refuses_a_mail_lists_members_and_the_client_never_asks() {
    // microsoftgraph/microsoft-graph-docs-contrib#7341: Graph lists distribution
    // lists and mail-enabled security groups but cannot change their members.
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let list = graph.group("Contoso Announcements").await;
    let security = graph.group("Finance Approvers").await;
    let reference =
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{alex}")});

    let (status, _, body) = graph
        .raw(
            reqwest::Method::POST,
            &format!("/groups/{}/members/$ref", list.id),
            Some(reference),
        )
        .await;
    let added = graph
        .client
        .add_group_member(&tenant(), &security, &alex)
        .await
        .unwrap();

    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "Cannot Update a mail-enabled security groups and or distribution list."
    );
    assert!(list.is_mail_list() && security.is_mail_list());
    assert!(
        !graph.group("Sales").await.is_mail_list(),
        "a Microsoft 365 group"
    );
    assert_eq!(added, MembershipChange::Skipped(SkipReason::MailList));
    assert!(
        graph
            .state()
            .group_members(TENANT, "Finance Approvers")
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_simulator_refuses_membership_writes_on_dynamic_and_synced_groups() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let dynamic = graph.group("Everyone (dynamic)").await;
    let synced = graph.group("HQ Staff (synced)").await;
    let reference =
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{alex}")});

    let (dynamic_status, _, _) = graph
        .raw(
            reqwest::Method::POST,
            &format!("/groups/{}/members/$ref", dynamic.id),
            Some(reference.clone()),
        )
        .await;
    let (synced_status, _, synced_body) = graph
        .raw(
            reqwest::Method::POST,
            &format!("/groups/{}/members/$ref", synced.id),
            Some(reference),
        )
        .await;

    assert_eq!(dynamic_status, 400);
    assert_eq!(synced_status, 400);
    assert_eq!(synced_body["error"]["code"], "Request_BadRequest");
}

#[tokio::test]
async fn member_of_lists_every_group_across_pages() {
    let mut seed = GraphSeed::example();
    for n in 0..130 {
        seed.tenants[0].groups.push(GroupSeed {
            display_name: format!("Team {n}"),
            members: vec!["AdeleV@contoso.com".into()],
            ..GroupSeed::default()
        });
    }
    let graph = spawn(seed).await;
    let adele = graph.id_of("AdeleV@contoso.com");

    let groups = graph.client.member_of(&tenant(), &adele).await.unwrap();

    assert_eq!(groups.len(), 131, "All Staff and 130 teams");
    assert!(
        groups
            .iter()
            .any(|g| g.display_name.as_deref() == Some("All Staff"))
    );
}

#[tokio::test]
async fn adding_to_an_unknown_group_is_not_found() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let mut ghost = graph.group("Sales").await;
    ghost.id = ObjectId::new("00000000-0000-0000-0000-0000000000cc");

    let err = graph
        .client
        .add_group_member(&tenant(), &ghost, &alex)
        .await
        .unwrap_err();

    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn membership_writes_without_the_permission_are_forbidden() {
    let mut seed = GraphSeed::example();
    seed.tenants[0].apps[0].permissions =
        vec!["User.ReadWrite.All".into(), "Group.Read.All".into()];
    let graph = spawn(seed).await;
    let alex = graph.id_of("AlexW@contoso.com");
    let all_staff = graph.group("All Staff").await;

    let err = graph
        .client
        .remove_group_member(&tenant(), &all_staff, &alex)
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
}

/// An offboarding's worth of membership calls never produces the DELETE
/// without `/$ref` that deletes the user; the detector itself is shown to
/// catch that call.
#[tokio::test]
async fn no_client_call_ever_sends_a_member_delete_without_ref() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let adele = graph.id_of("AdeleV@contoso.com");

    for group in graph.client.member_of(&tenant(), &alex).await.unwrap() {
        graph
            .client
            .remove_group_member(&tenant(), &group, &alex)
            .await
            .unwrap();
        graph
            .client
            .add_group_member(&tenant(), &group, &alex)
            .await
            .unwrap();
        graph
            .client
            .remove_group_member(&tenant(), &group, &alex)
            .await
            .unwrap();
    }
    let client_deletes = graph.state().dangerous_member_deletes();
    let all_staff = graph.group("All Staff").await;
    let (status, _, _) = graph
        .raw(
            reqwest::Method::DELETE,
            &format!("/groups/{}/members/{adele}", all_staff.id),
            None,
        )
        .await;

    assert!(client_deletes.is_empty(), "{client_deletes:?}");
    assert!(graph.state().user(TENANT, "AlexW@contoso.com").is_some());
    assert_eq!(
        status, 204,
        "the dangerous call succeeds on the real service too"
    );
    assert_eq!(graph.state().dangerous_member_deletes().len(), 1);
    assert!(
        graph.state().user(TENANT, "AdeleV@contoso.com").is_none(),
        "and deletes the user"
    );
}

// ---- throttling and server errors ----

#[tokio::test]
async fn five_hundred_calls_finish_through_thirty_percent_throttling_without_an_early_retry() {
    let mut seed = GraphSeed::example();
    seed.faults = FaultSettings {
        throttle_rate: 0.3,
        retry_after_seconds: 2,
        seed: 20_261_125,
        ..FaultSettings::default()
    };
    let graph = spawn(seed).await;
    let client = &graph.client;

    let results: Vec<Result<(), Error>> = futures::stream::iter(0..500)
        .map(|n| async move {
            match n % 3 {
                0 => client.subscribed_skus(&tenant()).await.map(drop),
                1 => client.user(&tenant(), "AdeleV@contoso.com").await.map(drop),
                _ => client
                    .find_groups_by_name(&tenant(), "Sales")
                    .await
                    .map(drop),
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    let failures: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let throttled = graph.sim.faults().injected();
    let waits = graph.sleeper.waits();
    let share = throttled as f64 / (500 + throttled) as f64;
    println!(
        "500 calls, {throttled} answered 429 ({:.1}% of {} requests), {} waits, shortest {:?}",
        share * 100.0,
        500 + throttled,
        waits.len(),
        waits.iter().min()
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert!((0.25..=0.35).contains(&share), "throttled share {share}");
    assert_eq!(
        waits.len() as u64,
        throttled,
        "every 429 was waited out once before its retry"
    );
    assert!(
        waits.iter().all(|w| *w >= Duration::from_secs(2)),
        "no retry before Retry-After: {waits:?}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_until_the_call_succeeds() {
    let mut seed = GraphSeed::example();
    seed.faults = FaultSettings {
        error_rate: 0.2,
        error_status: 503,
        seed: 5,
        ..FaultSettings::default()
    };
    let graph = spawn(seed).await;

    for _ in 0..100 {
        graph.client.subscribed_skus(&tenant()).await.unwrap();
    }

    assert!(graph.sim.faults().injected() > 0);
    assert_eq!(
        graph.sleeper.waits().len() as u64,
        graph.sim.faults().injected()
    );
}

#[tokio::test]
async fn persistent_throttling_ends_in_a_throttled_error() {
    let mut seed = GraphSeed::example();
    seed.faults = FaultSettings {
        throttle_rate: 1.0,
        retry_after_seconds: 1,
        ..FaultSettings::default()
    };
    let graph = spawn(seed).await;

    let err = graph.client.subscribed_skus(&tenant()).await.unwrap_err();

    assert!(
        matches!(err, Error::Throttled { attempts: 8, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
}

// ---- the simulator's answers against the fact sheet's examples ----

#[tokio::test]
async fn the_token_endpoint_answers_like_entra() {
    let graph = spawn_example().await;
    let url = format!(
        "{}/sandbox/graph/login/contoso.com/oauth2/v2.0/token",
        graph.base
    );
    let form = |secret: &'static str| {
        [
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ]
    };

    let ok: Value = graph
        .http
        .post(&url)
        .form(&form(SECRET))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refused = graph
        .http
        .post(&url)
        .form(&form("wrong"))
        .send()
        .await
        .unwrap();
    let refused_status = refused.status().as_u16();
    let refused: Value = refused.json().await.unwrap();

    assert_eq!(ok["token_type"], "Bearer");
    assert_eq!(ok["expires_in"], 3599);
    assert!(ok["access_token"].is_string());
    assert_eq!(refused_status, 401);
    assert_eq!(refused["error"], "invalid_client");
    assert_eq!(refused["error_codes"], json!([7000215]));
    for field in [
        "error_description",
        "timestamp",
        "trace_id",
        "correlation_id",
    ] {
        assert!(refused[field].is_string(), "{field}");
    }
    let description = refused["error_description"].as_str().unwrap();
    assert!(description.starts_with("AADSTS7000215: "));
    assert!(
        description.contains("\r\nTrace ID: ")
            && description.contains("\r\nCorrelation ID: ")
            && description.contains("\r\nTimestamp: ")
    );
}

#[tokio::test]
async fn graph_calls_without_a_token_answer_401() {
    let graph = spawn_example().await;

    let response = graph
        .http
        .get(format!("{}/sandbox/graph/v1.0/users", graph.base))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
}

#[tokio::test]
async fn creating_a_user_answers_201_with_the_default_property_set_and_conflicts_with_details() {
    let graph = spawn_example().await;
    let body = json!({"accountEnabled": true, "displayName": "Adele Vance", "mailNickname": "AdeleV2",
        "userPrincipalName": "AdeleV2@contoso.com", "usageLocation": "US",
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}});

    let (created_status, _, created) = graph
        .raw(reqwest::Method::POST, "/users", Some(body.clone()))
        .await;
    let (dup_status, _, duplicate) = graph.raw(reqwest::Method::POST, "/users", Some(body)).await;

    assert_eq!(created_status, 201);
    let mut keys: Vec<_> = created.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "@odata.context",
            "businessPhones",
            "displayName",
            "givenName",
            "id",
            "jobTitle",
            "mail",
            "mobilePhone",
            "officeLocation",
            "preferredLanguage",
            "surname",
            "userPrincipalName"
        ]
    );
    assert_eq!(dup_status, 400);
    assert_eq!(duplicate["error"]["code"], "Request_BadRequest");
    assert_eq!(
        duplicate["error"]["message"],
        "Another object with the same value for property userPrincipalName already exists."
    );
    assert_eq!(
        duplicate["error"]["details"],
        json!([{"target": "userPrincipalName", "code": "ObjectConflict"}])
    );
    for field in ["date", "request-id", "client-request-id"] {
        assert!(
            duplicate["error"]["innerError"][field].is_string(),
            "{field}"
        );
    }
}

#[tokio::test]
async fn writes_answer_graphs_status_codes() {
    let graph = spawn_example().await;
    let alex = graph.id_of("AlexW@contoso.com");
    let adele = graph.id_of("AdeleV@contoso.com");
    let sales = graph.group("Sales").await;

    let (patch, _, _) = graph
        .raw(
            reqwest::Method::PATCH,
            &format!("/users/{alex}"),
            Some(json!({"accountEnabled": false})),
        )
        .await;
    let (manager, _, _) = graph
        .raw(
            reqwest::Method::PUT,
            &format!("/users/{alex}/manager/$ref"),
            Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{adele}")})),
        )
        .await;
    let (revoke, _, revoked) = graph
        .raw(
            reqwest::Method::POST,
            &format!("/users/{alex}/revokeSignInSessions"),
            None,
        )
        .await;
    let (add, _, _) = graph
        .raw(reqwest::Method::POST, &format!("/groups/{}/members/$ref", sales.id),
            Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{adele}")})))
        .await;
    let (again, _, already) = graph
        .raw(reqwest::Method::POST, &format!("/groups/{}/members/$ref", sales.id),
            Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{adele}")})))
        .await;
    let (remove, _, _) = graph
        .raw(
            reqwest::Method::DELETE,
            &format!("/groups/{}/members/{adele}/$ref", sales.id),
            None,
        )
        .await;
    let (license, _, licensed) = graph
        .raw(reqwest::Method::POST, &format!("/users/{alex}/assignLicense"),
            Some(json!({"addLicenses": [{"skuId": EXCHANGE, "disabledPlans": []}], "removeLicenses": []})))
        .await;
    let (tap, _, pass) = graph
        .raw(
            reqwest::Method::POST,
            &format!("/users/{alex}/authentication/temporaryAccessPassMethods"),
            Some(json!({})),
        )
        .await;

    assert_eq!(patch, 204);
    assert_eq!(manager, 204);
    assert_eq!(
        revoke, 200,
        "Graph's known quirk: 200, not the documented 204"
    );
    assert_eq!(revoked["value"], true);
    assert!(
        revoked["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#Edm.Boolean")
    );
    assert_eq!(add, 204);
    assert_eq!(again, 400);
    assert_eq!(
        already["error"]["message"],
        "One or more added object references already exist for the following modified properties: 'members'."
    );
    assert_eq!(remove, 204);
    assert_eq!(license, 200);
    assert_eq!(licensed["id"], alex.as_str());
    assert_eq!(tap, 201);
    assert_eq!(
        pass["@odata.type"],
        "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
    );
    assert_eq!(pass["lifetimeInMinutes"], 60);
}

#[tokio::test]
async fn reads_answer_graphs_shapes_and_query_errors() {
    let graph = spawn_example().await;

    let (_, _, skus) = graph
        .raw(reqwest::Method::GET, "/subscribedSkus", None)
        .await;
    let (_, _, missing) = graph
        .raw(reqwest::Method::GET, "/users/ghost@contoso.com", None)
        .await;
    let (top_status, _, top) = graph
        .raw(reqwest::Method::GET, "/users?$top=1000", None)
        .await;
    let (filter_status, _, filter) = graph
        .raw(
            reqwest::Method::GET,
            "/users?$filter=endswith(mail,'@contoso.com')",
            None,
        )
        .await;
    let (paged_status, _, paged) = graph.raw(reqwest::Method::GET, "/users?$top=1", None).await;
    let (segment_status, _, segment) = graph.raw(reqwest::Method::GET, "/usres", None).await;

    let spb = skus["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuPartNumber"] == "SPB")
        .unwrap();
    assert_eq!(
        spb["prepaidUnits"],
        json!({"enabled": 2, "lockedOut": 0, "suspended": 0, "warning": 0})
    );
    assert_eq!(spb["consumedUnits"], 2);
    assert_eq!(spb["id"], format!("{TENANT}_{BUSINESS_PREMIUM}"));
    assert_eq!(missing["error"]["code"], "Request_ResourceNotFound");
    assert_eq!(
        missing["error"]["message"],
        "Resource 'ghost@contoso.com' does not exist or one of its queried reference-property objects are not present."
    );
    assert_eq!(top_status, 400);
    assert_eq!(
        top["error"]["message"],
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
    );
    assert_eq!(filter_status, 400);
    assert_eq!(filter["error"]["code"], "Request_UnsupportedQuery");
    assert_eq!(
        filter["error"]["message"],
        "Unsupported or invalid query filter clause specified for property 'mail' of resource 'User'."
    );
    assert_eq!(paged_status, 200);
    assert_eq!(paged["value"].as_array().unwrap().len(), 1);
    assert!(
        paged["@odata.nextLink"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/sandbox/graph/v1.0/users?", graph.base))
    );
    assert_eq!(segment_status, 400);
    assert_eq!(
        segment["error"]["message"],
        "Resource not found for the segment 'usres'."
    );
}

#[tokio::test]
async fn an_injected_throttle_answers_429_with_retry_after_in_graphs_words() {
    let mut seed = GraphSeed::example();
    seed.faults = FaultSettings {
        throttle_rate: 1.0,
        retry_after_seconds: 7,
        ..FaultSettings::default()
    };
    let graph = spawn(seed).await;

    let (status, headers, body) = graph
        .raw(reqwest::Method::GET, "/subscribedSkus", None)
        .await;

    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body["error"]["code"], "Request_ThrottledTemporarily");
}

#[tokio::test]
async fn the_control_endpoint_sets_the_replication_delay() {
    let graph = spawn_example().await;

    let answer: Value = graph
        .http
        .put(format!("{}/sandbox/graph/control", graph.base))
        .json(&json!({"replication_delay_calls": 4}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(answer["replication_delay_calls"], 4);
    assert_eq!(graph.state().replication_delay(), 4);
}

// ---- client safety properties ----

#[tokio::test]
async fn concurrent_first_calls_share_one_token_fetch() {
    let graph = spawn_example().await;
    let client = &graph.client;

    let results: Vec<_> = futures::future::join_all(
        (0..20).map(|_| async move { client.subscribed_skus(&tenant()).await }),
    )
    .await;

    assert!(results.iter().all(Result::is_ok));
    assert_eq!(graph.state().tokens_issued(), 1);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_before_the_token_travels() {
    use axum::Json;
    use axum::routing::{get, post};
    let app = Router::new()
        .route(
            "/login/{tenant}/oauth2/v2.0/token",
            post(|| async { Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "t0ken"})) }),
        )
        .route(
            "/v1.0/groups",
            get(|| async {
                Json(json!({"value": [], "@odata.nextLink": "http://elsewhere.example/v1.0/groups?$skiptoken=x"}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = GraphConfig::new(
        &format!("{base}/login"),
        &format!("{base}/v1.0"),
        "https://graph.microsoft.com/.default",
        credentials(SECRET),
    )
    .unwrap();
    let client = GraphClient::new(config).unwrap();

    let err = client
        .find_groups_by_name(&tenant(), "Sales")
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::Protocol { ref detail, .. } if detail.contains("leaves the graph host")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_concurrency_violation_is_retried_after_a_short_delay() {
    use axum::Json;
    use axum::http::StatusCode;
    use axum::routing::{patch, post};
    use std::sync::atomic::{AtomicU32, Ordering};
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let app = Router::new()
        .route(
            "/login/{tenant}/oauth2/v2.0/token",
            post(|| async {
                Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "t0ken"}))
            }),
        )
        .route(
            "/v1.0/users/{id}",
            patch(move || {
                let seen = seen.clone();
                async move {
                    if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                        let body = json!({"error": {"code": "Directory_ConcurrencyViolation",
                            "message": "Another operation is in progress on this object."}});
                        (StatusCode::CONFLICT, [("retry-after", "1")], Json(body)).into_response()
                    } else {
                        StatusCode::NO_CONTENT.into_response()
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = GraphConfig::new(
        &format!("{base}/login"),
        &format!("{base}/v1.0"),
        "https://graph.microsoft.com/.default",
        credentials(SECRET),
    )
    .unwrap();
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = GraphClient::new(config)
        .unwrap()
        .with_sleeper(sleeper.clone());

    client
        .set_account_enabled(&tenant(), &ObjectId::new("u-1"), false)
        .await
        .unwrap();

    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(1)]);
}

#[tokio::test]
async fn the_shared_faults_endpoint_throttles_graph_at_run_time() {
    use onboard_sandbox::faults::{FaultRegistry, control_router};
    let sim = GraphSimulator::new(&GraphSeed::example()).unwrap();
    let mut registry = FaultRegistry::default();
    registry.register(sim.faults().clone());
    let app = Router::new()
        .nest("/sandbox/graph", sim.router())
        .nest("/sandbox/faults", control_router(registry));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = GraphClient::new(GraphConfig::sandbox(&base, credentials(SECRET)).unwrap())
        .unwrap()
        .with_sleeper(sleeper.clone());
    client.subscribed_skus(&tenant()).await.unwrap();

    let set = reqwest::Client::new()
        .put(format!("{base}/sandbox/faults/graph"))
        .json(&json!({"throttle_rate": 1.0, "retry_after_seconds": 3}))
        .send()
        .await
        .unwrap();
    let err = client.subscribed_skus(&tenant()).await.unwrap_err();

    assert_eq!(set.status().as_u16(), 200);
    assert!(
        matches!(err, Error::Throttled { attempts: 8, retry_after: Some(d), .. } if d == Duration::from_secs(3)),
        "{err:?}"
    );
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(3); 7]);
}

#[tokio::test]
async fn a_user_carries_the_extension_attribute_it_was_created_with() {
    let graph = spawn_example().await;
    let mut new = new_user("marked@contoso.com");
    new.extension_attributes
        .insert("extensionAttribute15".into(), "onboard:ob-7".into());

    graph.client.create_user(&tenant(), &new).await.unwrap();
    let read = graph
        .client
        .user(&tenant(), "marked@contoso.com")
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        read.extension_attribute("extensionAttribute15"),
        Some("onboard:ob-7")
    );
    assert_eq!(read.extension_attribute("extensionAttribute14"), None);
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_sent_once_and_says_it_may_have_applied() {
    let graph = spawn_example().await;
    graph.client.subscribed_skus(&tenant()).await.unwrap(); // the token, before the faults
    graph
        .sim
        .faults()
        .set(FaultSettings {
            lost_answer_rate: 1.0,
            ..FaultSettings::default()
        })
        .unwrap();

    let err = graph
        .client
        .create_user(&tenant(), &new_user("lost@contoso.com"))
        .await
        .unwrap_err();

    assert!(err.may_have_applied(), "{err:?}");
    assert!(
        graph.sleeper.waits().is_empty(),
        "the create was sent again: {:?}",
        graph.sleeper.waits()
    );
    assert!(
        graph.state().user(TENANT, "lost@contoso.com").is_some(),
        "it was applied"
    );
    assert_eq!(graph.sim.faults().lost_answers(), 1);
}

#[tokio::test]
async fn two_retry_after_30_answers_end_in_a_retryable_error_within_the_steps_time() {
    // Issue 15: a Lambda has 60 s; waiting out two `Retry-After: 30` answers
    // would be killed as Sandbox.Timedout, which nothing retries.
    let graph = spawn_example().await;
    graph.client.subscribed_skus(&tenant()).await.unwrap(); // the token first
    graph
        .sim
        .faults()
        .set(FaultSettings {
            throttle_rate: 1.0,
            retry_after_seconds: 30,
            ..FaultSettings::default()
        })
        .unwrap();
    let deadline = graph.sleeper.now() + Duration::from_secs(60);

    let err = onboard_connectors::http::with_deadline(
        deadline,
        graph.client.user(&tenant(), "AdeleV@contoso.com"),
    )
    .await
    .unwrap_err();

    assert!(matches!(err, Error::Throttled { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(graph.sleeper.waits(), vec![Duration::from_secs(30)]);
    assert!(graph.sleeper.now() + onboard_connectors::http::DEADLINE_MARGIN <= deadline);
}

#[tokio::test]
async fn a_short_budget_still_makes_the_call_and_a_past_one_is_no_budget() {
    // Emulators give a function a few seconds (or a deadline already past);
    // the margin shrinks with the budget instead of refusing every call.
    let graph = spawn_example().await;
    let soon = graph.sleeper.now() + Duration::from_secs(3);
    let user = onboard_connectors::http::with_deadline(
        soon,
        graph.client.user(&tenant(), "AdeleV@contoso.com"),
    )
    .await
    .unwrap();
    assert!(user.is_some());
    let past = Instant::now();
    let user = onboard_connectors::http::with_deadline(
        past,
        graph.client.user(&tenant(), "AdeleV@contoso.com"),
    )
    .await
    .unwrap();
    assert!(user.is_some());
}

// ---- MFA readiness (fact sheet §14) ----

#[tokio::test]
async fn the_demo_tenant_reads_as_protected_by_one_conditional_access_policy() {
    let graph = spawn_example().await;

    let defaults = graph
        .client
        .security_defaults_enabled(&tenant())
        .await
        .unwrap();
    let policies = graph
        .client
        .conditional_access_policies(&tenant())
        .await
        .unwrap();
    let tap = graph
        .client
        .temporary_access_pass_policy(&tenant())
        .await
        .unwrap();

    assert!(!defaults);
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].display_name, "Require MFA for all users");
    assert_eq!(policies[0].state, onboard_domain::mfa::PolicyState::Enabled);
    assert!(policies[0].requires_mfa);
    assert_eq!(policies[0].users.include_users, vec!["All".to_owned()]);
    assert!(tap.enabled);
    assert_eq!(tap.include_targets, vec!["all_users".to_owned()]);
}

#[tokio::test]
async fn conditional_access_without_p1_answers_the_non_premium_error() {
    let mut seed = GraphSeed::example();
    for sku in &mut seed.tenants[0].skus {
        sku.service_plans.retain(|p| p != "AAD_PREMIUM");
    }
    let graph = spawn(seed).await;

    let err = graph
        .client
        .conditional_access_policies(&tenant())
        .await
        .unwrap_err();

    match err {
        Error::Forbidden { message, .. } => assert!(message.contains("P1"), "{message}"),
        other => panic!("expected Forbidden, got {other:?}"),
    }
    let (status, _, body) = graph
        .raw(
            reqwest::Method::GET,
            "/identity/conditionalAccess/policies",
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body["error"]["code"],
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    );
}

#[tokio::test]
async fn policy_reads_need_policy_read_all() {
    let mut seed = GraphSeed::example();
    seed.tenants[0].apps[0]
        .permissions
        .retain(|p| p != "Policy.Read.All");
    let graph = spawn(seed).await;

    let err = graph
        .client
        .security_defaults_enabled(&tenant())
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
}

#[tokio::test]
async fn group_targets_and_authentication_strengths_are_read_with_their_ids() {
    let mut seed = GraphSeed::example();
    let t = &mut seed.tenants[0];
    t.conditional_access_policies = vec![onboard_sandbox::graph::ConditionalAccessSeed {
        display_name: "Strong auth for Sales".into(),
        state: "enabledForReportingButNotEnforced".into(),
        authentication_strength: Some("mfa".into()),
        include_groups: vec!["Sales".into()],
        exclude_users: vec!["AlexW@contoso.com".into()],
        ..Default::default()
    }];
    t.temporary_access_pass = onboard_sandbox::graph::TapPolicySeed {
        state: "disabled".into(),
        include_targets: vec!["Sales".into()],
        ..Default::default()
    };
    let graph = spawn(seed).await;
    let sales = graph.group("Sales").await;

    let policies = graph
        .client
        .conditional_access_policies(&tenant())
        .await
        .unwrap();
    let tap = graph
        .client
        .temporary_access_pass_policy(&tenant())
        .await
        .unwrap();

    assert_eq!(
        policies[0].state,
        onboard_domain::mfa::PolicyState::ReportOnly
    );
    assert!(policies[0].requires_mfa);
    assert_eq!(
        policies[0].users.include_groups,
        vec![sales.id.as_str().to_owned()]
    );
    assert_eq!(
        policies[0].users.exclude_users,
        vec![graph.id_of("AlexW@contoso.com").as_str().to_owned()]
    );
    assert!(!tap.enabled);
    assert_eq!(tap.include_targets, vec![sales.id.as_str().to_owned()]);
}
