//! The composed sandbox over a real socket: every CONTRACT path, one clock, seats from Pax8 into Graph.

#![allow(clippy::unwrap_used)] // Test code: helpers outside #[test] fns panic on purpose.

use std::sync::{Arc, Mutex};

use onboard_sandbox::outbox::{Channel, OutboxMessage};
use onboard_sandbox::{Sandbox, SandboxError, SandboxSeed};
use serde::Deserialize;
use serde_json::{Value, json};

const EXAMPLE: &str = include_str!("../examples/sandbox.toml");

/// A virtual clock the test moves, as `onboard serve --virtual-clock` would.
#[derive(Clone)]
struct TestClock(Arc<Mutex<jiff::Timestamp>>);

impl TestClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(
            jiff::Timestamp::from_second(2_000_000_000).unwrap(),
        )))
    }

    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().unwrap()
    }

    fn advance(&self, seconds: i64) {
        let mut now = self.0.lock().unwrap();
        *now += jiff::SignedDuration::from_secs(seconds);
    }
}

struct App {
    base: String,
    sandbox: Sandbox,
    clock: TestClock,
    client: reqwest::Client,
}

async fn spawn(seed: &SandboxSeed) -> App {
    let clock = TestClock::new();
    let reading = clock.clone();
    let sandbox = Sandbox::with_clock(seed, Arc::new(move || reading.now())).unwrap();
    let app = sandbox.router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App {
        base: format!("http://{addr}"),
        sandbox,
        clock,
        client: reqwest::Client::new(),
    }
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn graph_token(&self) -> String {
        let body: Value = self
            .client
            .post(self.url("/sandbox/graph/login/contoso.onmicrosoft.com/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "sandbox-client"),
                ("client_secret", "sandbox-secret"),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn pax8_token(&self) -> String {
        let body: Value = self
            .client
            .post(self.url("/sandbox/pax8/oauth/token"))
            .json(
                &json!({"client_id": "sandbox-pax8-client", "client_secret": "sandbox-pax8-secret",
                          "audience": "https://api.pax8.com", "grant_type": "client_credentials"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// `availableUnits`-style free seats of a SKU, read through Graph's API.
    async fn free_seats_over_graph(&self, token: &str, part_number: &str) -> i64 {
        let body: Value = self
            .client
            .get(self.url("/sandbox/graph/v1.0/subscribedSkus"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sku = body["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["skuPartNumber"] == part_number)
            .unwrap();
        sku["prepaidUnits"]["enabled"].as_i64().unwrap() - sku["consumedUnits"].as_i64().unwrap()
    }
}

#[tokio::test]
async fn every_contract_sandbox_path_answers_with_the_demo_seed() {
    let app = spawn(&SandboxSeed::default()).await;
    let c = &app.client;
    let graph_token = app.graph_token().await;

    let skus = c
        .get(app.url("/sandbox/graph/v1.0/subscribedSkus"))
        .bearer_auth(&graph_token)
        .send()
        .await
        .unwrap();
    let connectwise = c
        .get(app.url("/sandbox/connectwise/v4_6_release/apis/3.0/service/tickets/900"))
        .basic_auth("onboard+sandbox-public", Some("sandbox-private"))
        .header("clientId", "onboard-sandbox")
        .send()
        .await
        .unwrap();
    let autotask = c
        .get(app.url("/sandbox/autotask/atservicesrest/v1.0/Companies/query"))
        .query(&[(
            "search",
            json!({"filter": [{"op": "eq", "field": "id", "value": 175}]}).to_string(),
        )])
        .header("ApiIntegrationCode", "ONBOARDSANDBOX")
        .header("UserName", "api@onboard.test")
        .header("Secret", "sandbox-secret")
        .send()
        .await
        .unwrap();
    let halopsa = c
        .post(app.url("/sandbox/halopsa/auth/token?tenant=onboard"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "onboard-sandbox"),
            ("client_secret", "sandbox-secret"),
            ("scope", "all"),
        ])
        .send()
        .await
        .unwrap();
    let itglue = c
        .get(app.url("/sandbox/itglue/organizations"))
        .header("x-api-key", "sandbox-itglue-key")
        .send()
        .await
        .unwrap();
    let hudu = c
        .get(app.url("/sandbox/hudu/api/v1/companies"))
        .header("x-api-key", "sandbox-hudu-key")
        .send()
        .await
        .unwrap();
    let pwpush = c
        .post(app.url("/sandbox/pwpush/p.json"))
        .bearer_auth("sandbox-pwpush-token")
        .json(&json!({"password": {"payload": "not-a-real-secret"}}))
        .send()
        .await
        .unwrap();
    let pax8 = c
        .get(app.url("/sandbox/pax8/v1/companies"))
        .bearer_auth(app.pax8_token().await)
        .send()
        .await
        .unwrap();
    let outbox = c.get(app.url("/sandbox/outbox")).send().await.unwrap();
    let faults = c.get(app.url("/sandbox/faults")).send().await.unwrap();
    let unknown = c.get(app.url("/sandbox/nowhere")).send().await.unwrap();

    assert_eq!(skus.status(), 200);
    assert!(skus.text().await.unwrap().contains("O365_BUSINESS_PREMIUM"));
    assert_eq!(connectwise.status(), 200);
    let ticket: Value = connectwise.json().await.unwrap();
    assert_eq!(ticket["company"]["identifier"], "Contoso");
    assert_eq!(autotask.status(), 200);
    let companies: Value = autotask.json().await.unwrap();
    assert_eq!(companies["items"][0]["companyName"], "Contoso");
    assert_eq!(halopsa.status(), 200);
    assert_eq!(itglue.status(), 200);
    assert!(itglue.text().await.unwrap().contains("Contoso"));
    assert_eq!(hudu.status(), 200);
    assert!(hudu.text().await.unwrap().contains("Contoso"));
    assert_eq!(pwpush.status(), 201);
    assert_eq!(pax8.status(), 200);
    assert!(pax8.text().await.unwrap().contains("contoso"));
    assert_eq!(outbox.status(), 200);
    assert_eq!(outbox.json::<Value>().await.unwrap(), json!([]));
    let faults: Value = faults.json().await.unwrap();
    let services: Vec<&str> = faults
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        services,
        [
            "autotask",
            "connectwise",
            "entra",
            "exchange",
            "graph",
            "halopsa",
            "hudu",
            "itglue",
            "pax8",
            "pwpush",
            "sherweb"
        ]
    );
    assert_eq!(unknown.status(), 404);
}

#[test]
fn the_demo_seed_has_contoso_as_an_organization_everywhere() {
    let seed = SandboxSeed::default();

    let organizations = seed.organizations();

    // Contoso, and Fabrikam: the tenant without MFA protection.
    assert_eq!(organizations.len(), 2);
    assert_eq!(organizations[0].id, "contoso");
    assert_eq!(organizations[0].name, "Contoso");
    assert_eq!(organizations[0].domain, "contoso.com");
    assert_eq!(organizations[1].id, "fabrikam");
    assert_eq!(organizations[1].domain, "fabrikam.com");
    let sandbox = Sandbox::new(&seed).unwrap();
    let graph = sandbox.graph();
    assert!(
        graph
            .free_seats("contoso.onmicrosoft.com", "O365_BUSINESS_PREMIUM")
            .unwrap()
            > 0
    );
    assert_eq!(graph.free_seats("contoso.onmicrosoft.com", "SPB"), Ok(0));
    assert!(graph.user("contoso.com", "AdeleV@contoso.com").is_some());
    assert!(
        graph
            .group_members("contoso.com", "Everyone (dynamic)")
            .is_some()
    );
    assert!(
        graph
            .group_members("contoso.com", "HQ Staff (synced)")
            .is_some()
    );
    assert_eq!(
        sandbox
            .connectwise()
            .ticket(900)
            .unwrap()
            .company
            .identifier,
        "Contoso"
    );
    assert_eq!(sandbox.pax8().companies()[0].name, "Contoso");
}

#[tokio::test]
async fn a_pax8_order_becomes_graph_seats_once_the_clock_passes_the_provisioning_delay() {
    let app = spawn(&SandboxSeed::default()).await;
    let graph_token = app.graph_token().await;
    let pax8_token = app.pax8_token().await;
    let before = app.free_seats_over_graph(&graph_token, "SPB").await;

    let order = app
        .client
        .post(app.url("/sandbox/pax8/v1/orders"))
        .bearer_auth(&pax8_token)
        .json(&json!({
            "companyId": "6b3e4f0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
            "lineItems": [{"productId": "b2e4d6f8-1c3e-4a5b-9d0f-2c4e6a8b0d1f",
                           "lineItemNumber": 1, "quantity": 2, "billingTerm": "Monthly"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 200);
    app.clock.advance(119);
    let too_early = app.free_seats_over_graph(&graph_token, "SPB").await;
    app.clock.advance(1);
    let provisioned = app.sandbox.run_due();
    let after = app.free_seats_over_graph(&graph_token, "SPB").await;

    assert_eq!(before, 0);
    assert_eq!(too_early, 0);
    assert_eq!(provisioned, 1);
    assert_eq!(after, 2);
    assert_eq!(app.sandbox.pax8().pending_changes(), 0);
}

#[tokio::test]
async fn seats_that_fell_due_are_in_the_tenant_before_the_next_request_is_answered() {
    let app = spawn(&SandboxSeed::default()).await;
    let graph_token = app.graph_token().await;
    let pax8_token = app.pax8_token().await;

    let raise = app
        .client
        .put(app.url("/sandbox/pax8/v1/subscriptions/e5b7a9c1-4f6b-4d8e-8a3c-5f7b9d1e3a4c"))
        .bearer_auth(&pax8_token)
        .json(&json!({"quantity": 3}))
        .send()
        .await
        .unwrap();
    app.clock.advance(3600);
    // Nobody called run_due: the request itself brings the seats in.
    let after = app.free_seats_over_graph(&graph_token, "SPB").await;

    assert_eq!(raise.status(), 200);
    assert_eq!(after, 1);
}

#[tokio::test]
async fn faults_set_through_the_composed_router_reach_the_simulator() {
    let app = spawn(&SandboxSeed::default()).await;
    let graph_token = app.graph_token().await;

    let set = app
        .client
        .put(app.url("/sandbox/faults/graph"))
        .json(&json!({"throttle_rate": 1.0, "retry_after_seconds": 7}))
        .send()
        .await
        .unwrap();
    let throttled = app
        .client
        .get(app.url("/sandbox/graph/v1.0/users"))
        .bearer_auth(&graph_token)
        .send()
        .await
        .unwrap();
    let hudu = app
        .client
        .get(app.url("/sandbox/hudu/api/v1/companies"))
        .header("x-api-key", "sandbox-hudu-key")
        .send()
        .await
        .unwrap();

    assert_eq!(set.status(), 200);
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "7");
    assert_eq!(hudu.status(), 200, "only graph was told to throttle");
    assert_eq!(app.sandbox.faults().get("graph").unwrap().injected(), 1);
}

#[tokio::test]
async fn messages_recorded_in_the_outbox_handle_are_listed_oldest_first() {
    let app = spawn(&SandboxSeed::default()).await;
    let later = app.clock.now() + jiff::SignedDuration::from_secs(60);
    app.sandbox.outbox().push(OutboxMessage {
        channel: Channel::Sms,
        to: vec!["+15555550100".into()],
        subject: None,
        body: "Your sign-in is ready".into(),
        sent_at: later,
    });
    app.sandbox.outbox().push(OutboxMessage {
        channel: Channel::Email,
        to: vec!["AdeleV@contoso.com".into()],
        subject: Some("Approve a new user".into()),
        body: "Approve: http://127.0.0.1/decisions/x".into(),
        sent_at: app.clock.now(),
    });

    let listed: Value = app
        .client
        .get(app.url("/sandbox/outbox"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(
        listed,
        json!([
            {"channel": "email", "to": ["AdeleV@contoso.com"], "subject": "Approve a new user",
             "body": "Approve: http://127.0.0.1/decisions/x", "sent_at": "2033-05-18T03:33:20Z"},
            {"channel": "sms", "to": ["+15555550100"], "subject": null,
             "body": "Your sign-in is ready", "sent_at": "2033-05-18T03:34:20Z"}
        ])
    );
}

#[tokio::test]
async fn password_pusher_expiry_follows_the_shared_clock() {
    let app = spawn(&SandboxSeed::default()).await;
    let push: Value = app
        .client
        .post(app.url("/sandbox/pwpush/p.json"))
        .json(&json!({"password": {"payload": "not-a-real-secret", "expire_after_days": 1}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = push["url_token"].as_str().unwrap();

    app.clock.advance(24 * 3600);
    let expired: Value = app
        .client
        .get(app.url(&format!("/sandbox/pwpush/p/{token}.json")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(expired["expired"], true);
}

#[derive(Deserialize)]
struct Config {
    sandbox: SandboxSeed,
}

#[test]
fn the_example_toml_parses_to_exactly_the_built_in_demo() {
    let parsed = toml::from_str::<Config>(EXAMPLE).unwrap().sandbox;

    assert_eq!(parsed, SandboxSeed::default());
}

#[test]
fn a_sandbox_section_may_name_only_the_simulators_it_changes() {
    let text = r#"
        [sandbox.pax8]
        provisioning_delay_seconds = 0
    "#;

    let seed = toml::from_str::<Config>(text).unwrap().sandbox;

    assert_eq!(seed.pax8.provisioning_delay_seconds, 0);
    assert!(
        seed.pax8.companies.is_empty(),
        "a written section replaces the demo's"
    );
    assert_eq!(seed.graph, SandboxSeed::default().graph);
}

#[test]
fn an_unknown_simulator_in_the_sandbox_section_is_refused_by_name() {
    let err = toml::from_str::<Config>("[sandbox.kaseya]\nurl = \"x\"\n")
        .err()
        .unwrap()
        .to_string();

    assert!(err.contains("kaseya"), "{err}");
}

#[test]
fn a_pax8_company_mapped_to_a_missing_tenant_is_refused_at_start() {
    let mut seed = SandboxSeed::default();
    // Fabrikam is a demo tenant now: Northwind is not.
    seed.pax8.companies[0].microsoft_tenant = Some("northwind.onmicrosoft.com".into());

    let err = Sandbox::new(&seed).unwrap_err();

    assert!(matches!(err, SandboxError::Pax8Mapping { .. }), "{err:?}");
    assert!(
        err.to_string().contains("northwind.onmicrosoft.com"),
        "{err}"
    );
}

#[test]
fn out_of_range_fault_rates_are_refused_naming_the_simulator() {
    let mut seed = SandboxSeed::default();
    seed.hudu.faults.error_rate = 1.5;

    let err = Sandbox::new(&seed).unwrap_err().to_string();

    assert!(err.starts_with("sandbox.hudu.faults"), "{err}");
    assert!(err.contains("error_rate"), "{err}");
}

#[tokio::test]
async fn a_lowered_pax8_quantity_takes_seats_out_of_the_tenant() {
    let app = spawn(&SandboxSeed::default()).await;
    let pax8_token = app.pax8_token().await;

    app.client
        .put(app.url("/sandbox/pax8/v1/subscriptions/f6c8b0d2-5a7c-4e9f-9b4d-6a8c0e2f4b5d"))
        .bearer_auth(&pax8_token)
        .json(&json!({"quantity": 4}))
        .send()
        .await
        .unwrap();
    app.clock.advance(120);
    app.sandbox.run_due();

    assert_eq!(
        app.sandbox
            .graph()
            .free_seats("contoso.com", "EXCHANGESTANDARD"),
        Ok(4)
    );
}

#[tokio::test]
async fn graph_answers_429_with_retry_after_once_a_quota_is_spent_and_again_after_the_refill() {
    let app = spawn(&SandboxSeed::default()).await;
    let token = app.graph_token().await;
    // Five writes per 150 s for this app and tenant: one every 30 s.
    let res = app
        .client
        .put(app.url("/sandbox/graph/control"))
        .json(&json!({"throttling": {"app_tenant_writes_per_150s": 5}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let control: Value = res.json().await.unwrap();
    assert_eq!(control["throttling"]["app_tenant_writes_per_150s"], 5);
    assert_eq!(control["throttling"]["enabled"], true);

    let patch = |title: &'static str| {
        app.client
            .patch(app.url("/sandbox/graph/v1.0/users/AlexW@contoso.com"))
            .bearer_auth(&token)
            .json(&json!({"jobTitle": title}))
            .send()
    };
    for _ in 0..5 {
        let res = patch("Rep").await.unwrap();
        assert_eq!(res.status(), 204);
        assert_eq!(res.headers()["x-ms-resource-unit"], "1");
    }
    let refused = patch("Refused").await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "30");
    assert_eq!(
        refused.headers()["x-ms-throttle-information"],
        "WriteLimitExceeded"
    );
    let scope = refused.headers()["x-ms-throttle-scope"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        scope.starts_with("Tenant_Application/ReadWrite/sandbox-client/"),
        "{scope}"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Request_ThrottledTemporarily");

    // Reads still pass (their units are not spent), at Graph's price.
    let res = app
        .client
        .get(app.url("/sandbox/graph/v1.0/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ms-resource-unit"], "2");

    // The refused write changed nothing; after Retry-After on the sandbox clock it passes.
    let alex = app
        .sandbox
        .graph()
        .user("contoso.com", "AlexW@contoso.com")
        .unwrap();
    assert_eq!(
        alex.profile.get("jobTitle").map(String::as_str),
        Some("Rep")
    );
    app.clock.advance(29);
    assert_eq!(patch("Early").await.unwrap().status(), 429);
    app.clock.advance(1);
    assert_eq!(patch("Later").await.unwrap().status(), 204);
}
