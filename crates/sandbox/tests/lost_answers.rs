//! Lost answers and `GET /sandbox/state` over a real socket: every simulator
//! performs the write, then the client hears nothing (or 504); the state shows
//! what is in the tenant, with no secret in it.

#![allow(clippy::unwrap_used)] // Test code: helpers outside #[test] fns panic on purpose.

use onboard_sandbox::entra::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_MSP_TENANT};
use onboard_sandbox::{Sandbox, SandboxSeed};
use serde_json::{Value, json};

const ENTRA_REDIRECT: &str = "http://127.0.0.1/auth/callback";

const SERVICES: [&str; 10] = [
    "graph",
    "connectwise",
    "autotask",
    "halopsa",
    "itglue",
    "hudu",
    "pwpush",
    "pax8",
    "sherweb",
    "entra",
];

/// Contoso's Sherweb customer, in the demo seed.
const SHERWEB_CUSTOMER: &str = "0c9a8e52-7f1b-4d3e-9a6c-5b2e1f4d8a70";

/// Contoso's Pax8 company and its Exchange Online product, in the demo seed.
const PAX8_COMPANY: &str = "6b3e4f0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
const PAX8_EXCHANGE: &str = "c3f5e7a9-2d4f-4b6c-8e1a-3d5f7b9c1e2a";

/// What the client saw of one write.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Heard {
    /// An answer with this status.
    Status(u16),
    /// No answer: the connection was closed (or broke) before a response head.
    Nothing,
}

impl Heard {
    fn is_success(&self) -> bool {
        matches!(self, Heard::Status(s) if (200..300).contains(s))
    }
}

struct App {
    base: String,
    sandbox: Sandbox,
    client: reqwest::Client,
    graph_token: String,
    halo_token: String,
    pax8_token: String,
    sherweb_token: String,
    writes: u32,
}

async fn spawn() -> App {
    let sandbox = Sandbox::new(&SandboxSeed::default()).unwrap();
    let app = sandbox.router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut app = App {
        base: format!("http://{addr}"),
        sandbox,
        client: reqwest::Client::new(),
        graph_token: String::new(),
        halo_token: String::new(),
        pax8_token: String::new(),
        sherweb_token: String::new(),
        writes: 0,
    };
    // Tokens first: Halo's and Pax8's token endpoints sit behind their injectors.
    app.graph_token = app
        .token(
            app.client
                .post(app.url("/sandbox/graph/login/contoso.onmicrosoft.com/oauth2/v2.0/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "sandbox-client"),
                    ("client_secret", "sandbox-secret"),
                    ("scope", "https://graph.microsoft.com/.default"),
                ]),
        )
        .await;
    app.halo_token = app
        .token(
            app.client
                .post(app.url("/sandbox/halopsa/auth/token?tenant=onboard"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "onboard-sandbox"),
                    ("client_secret", "sandbox-secret"),
                    ("scope", "all"),
                ]),
        )
        .await;
    app.pax8_token = app
        .token(
            app.client
                .post(app.url("/sandbox/pax8/oauth/token"))
                .json(&json!({
                    "client_id": "sandbox-pax8-client", "client_secret": "sandbox-pax8-secret",
                    "audience": "https://api.pax8.com", "grant_type": "client_credentials"
                })),
        )
        .await;
    app.sherweb_token = app
        .token(
            app.client
                .post(app.url("/sandbox/sherweb/auth/oidc/connect/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "sandbox-sherweb-client"),
                    ("client_secret", "sandbox-sherweb-secret"),
                    ("scope", "service-provider"),
                ]),
        )
        .await;
    app
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn token(&self, request: reqwest::RequestBuilder) -> String {
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn set_faults(&self, service: &str, settings: Value) {
        let response = self
            .client
            .put(self.url(&format!("/sandbox/faults/{service}")))
            .json(&settings)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    /// One write that creates an object in `service`, in the vendor's own request.
    async fn write(&mut self, service: &str) -> Heard {
        self.writes += 1;
        let n = self.writes;
        let c = &self.client;
        let request = match service {
            "graph" => c
                .post(self.url("/sandbox/graph/v1.0/users"))
                .bearer_auth(&self.graph_token)
                .json(&json!({
                    "accountEnabled": true,
                    "displayName": format!("Lost Answer {n}"),
                    "mailNickname": format!("lost{n}"),
                    "userPrincipalName": format!("lost{n}@contoso.com"),
                    "passwordProfile": {"password": "Xk8#vLq2!mWz", "forceChangePasswordNextSignIn": true},
                })),
            "connectwise" => c
                .post(self.url("/sandbox/connectwise/v4_6_release/apis/3.0/service/tickets"))
                .basic_auth("onboard+sandbox-public", Some("sandbox-private"))
                .header("clientId", "onboard-sandbox")
                .json(&json!({"summary": format!("Ticket {n}"), "company": {"identifier": "Contoso"},
                              "board": {"name": "Service Desk"}})),
            "autotask" => c
                .post(self.url("/sandbox/autotask/atservicesrest/v1.0/Tickets"))
                .header("ApiIntegrationCode", "ONBOARDSANDBOX")
                .header("UserName", "api@onboard.test")
                .header("Secret", "sandbox-secret")
                .json(&json!({"companyID": 175, "title": format!("Ticket {n}"), "status": 1, "priority": 2})),
            "halopsa" => c
                .post(self.url("/sandbox/halopsa/api/Tickets"))
                .bearer_auth(&self.halo_token)
                .json(&json!([{"summary": format!("Ticket {n}"), "client_id": 13}])),
            "itglue" => c
                .post(self.url("/sandbox/itglue/organizations/2001/relationships/passwords"))
                .header("x-api-key", "sandbox-itglue-key")
                .header("content-type", "application/vnd.api+json")
                .body(
                    json!({"data": {"type": "passwords", "attributes": {
                        "name": format!("Password {n}"), "password": "Xk8#vLq2!mWz"}}})
                    .to_string(),
                ),
            "hudu" => c
                .post(self.url("/sandbox/hudu/api/v1/asset_passwords"))
                .header("x-api-key", "sandbox-hudu-key")
                .json(&json!({"asset_password": {"company_id": 7, "name": format!("Password {n}"),
                                                 "password": "Xk8#vLq2!mWz"}})),
            "pwpush" => c
                .post(self.url("/sandbox/pwpush/p.json"))
                .bearer_auth("sandbox-pwpush-token")
                .json(&json!({"password": {"payload": "Xk8#vLq2!mWz"}})),
            "pax8" => c
                .post(self.url("/sandbox/pax8/v1/orders"))
                .bearer_auth(&self.pax8_token)
                .json(&json!({"companyId": PAX8_COMPANY, "lineItems": [{
                    "productId": PAX8_EXCHANGE, "lineItemNumber": 1, "quantity": 1,
                    "billingTerm": "Monthly"}]})),
            "sherweb" => c
                .post(self.url(&format!(
                    "/sandbox/sherweb/service-provider/v1/orders?customerId={SHERWEB_CUSTOMER}"
                )))
                .bearer_auth(&self.sherweb_token)
                .header("Ocp-Apim-Subscription-Key", "sandbox-sherweb-key")
                .json(&json!({"cartItems": [{"sku": "EXCHANGESTANDARD", "quantity": 1}],
                              "orderedBy": "test"})),
            "entra" => {
                let code = self.entra_code().await;
                c.post(self.url(&format!("/sandbox/entra/{DEMO_MSP_TENANT}/oauth2/v2.0/token")))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", ENTRA_REDIRECT),
                        ("client_id", DEMO_CLIENT_ID),
                        ("client_secret", DEMO_CLIENT_SECRET),
                    ])
            }
            other => panic!("no simulator {other}"),
        };
        match request.send().await {
            Ok(response) => Heard::Status(response.status().as_u16()),
            Err(_) => Heard::Nothing,
        }
    }

    /// An authorization code for Tom, from the sign-in pages (which no fault touches).
    async fn entra_code(&self) -> String {
        let tenant = format!("/sandbox/entra/{DEMO_MSP_TENANT}/oauth2/v2.0");
        let page = self
            .client
            .get(self.url(&format!("{tenant}/authorize")))
            .query(&[
                ("client_id", DEMO_CLIENT_ID),
                ("response_type", "code"),
                ("redirect_uri", ENTRA_REDIRECT),
                ("scope", "openid"),
            ])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = page.find("name=\"request\" value=\"").unwrap() + 22;
        let request = &page[start..start + page[start..].find('"').unwrap()];
        let signed_in = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(self.url(&format!("{tenant}/login")))
            .form(&[("request", request), ("login", "tom@northwind-it.example")])
            .send()
            .await
            .unwrap();
        let location = url::Url::parse(signed_in.headers()["location"].to_str().unwrap()).unwrap();
        location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned()
    }

    /// How many objects of the kind [`App::write`] creates `service` holds.
    fn count(&self, service: &str) -> usize {
        let s = &self.sandbox;
        match service {
            "graph" => {
                let state = s.graph().state_json();
                state["users"].as_array().unwrap().len()
            }
            "connectwise" => s.connectwise().tickets().len(),
            "autotask" => s.autotask().tickets().len(),
            "halopsa" => s.halopsa().tickets().len(),
            "itglue" => s.itglue().passwords().len(),
            "hudu" => s.hudu().asset_passwords().len(),
            "pwpush" => s.pwpush().pushes().len(),
            "pax8" => s.pax8().orders().len(),
            "sherweb" => s.sherweb().requests().len(),
            "entra" => s.entra().sign_ins().len(),
            other => panic!("no simulator {other}"),
        }
    }
}

#[tokio::test]
async fn every_simulator_performs_a_write_whose_answer_is_then_lost() {
    let mut app = spawn().await;

    for service in SERVICES {
        app.set_faults(service, json!({"lost_answer_rate": 1.0, "seed": 5}))
            .await;
        let before = app.count(service);

        let mut heard = Vec::new();
        for _ in 0..4 {
            heard.push(app.write(service).await);
        }

        assert_eq!(
            app.count(service),
            before + 4,
            "{service}: every write performed"
        );
        assert!(
            heard
                .iter()
                .all(|h| *h == Heard::Nothing || *h == Heard::Status(504)),
            "{service}: {heard:?}"
        );
        let faults = app.sandbox.faults().get(service).unwrap();
        assert_eq!(faults.lost_answers(), 4, "{service}");
    }
}

#[tokio::test]
async fn a_lost_answer_rate_of_zero_never_loses_an_answer() {
    let mut app = spawn().await;

    for service in SERVICES {
        app.set_faults(service, json!({"lost_answer_rate": 0.0, "seed": 5}))
            .await;
        let before = app.count(service);

        let mut heard = Vec::new();
        for _ in 0..5 {
            heard.push(app.write(service).await);
        }

        assert!(heard.iter().all(Heard::is_success), "{service}: {heard:?}");
        assert_eq!(app.count(service), before + 5, "{service}");
        assert_eq!(
            app.sandbox.faults().get(service).unwrap().lost_answers(),
            0,
            "{service}"
        );
    }
}

#[tokio::test]
async fn the_same_seed_loses_the_same_answers_the_same_way() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mut app = spawn().await;
        app.set_faults("connectwise", json!({"lost_answer_rate": 0.5, "seed": 7}))
            .await;
        let mut heard = Vec::new();
        for _ in 0..30 {
            heard.push(app.write("connectwise").await);
        }
        assert_eq!(app.sandbox.connectwise().tickets().len(), 1 + 30);
        runs.push(heard);
    }

    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&Heard::Nothing), "{:?}", runs[0]);
    assert!(runs[0].contains(&Heard::Status(504)), "{:?}", runs[0]);
    assert!(runs[0].contains(&Heard::Status(201)), "{:?}", runs[0]);
}

#[tokio::test]
async fn the_state_shows_a_created_user_and_a_ticket_with_its_note_but_no_password() {
    let mut app = spawn().await;
    const SECRET: &str = "Xk8#vLq2!mWz";
    for service in SERVICES {
        assert!(app.write(service).await.is_success(), "{service}");
    }
    let note = app
        .client
        .post(app.url("/sandbox/connectwise/v4_6_release/apis/3.0/service/tickets/900/notes"))
        .basic_auth("onboard+sandbox-public", Some("sandbox-private"))
        .header("clientId", "onboard-sandbox")
        .json(&json!({"text": "Account created for Lost Answer 1", "internalAnalysisFlag": true}))
        .send()
        .await
        .unwrap();
    assert!(note.status().is_success(), "{}", note.text().await.unwrap());

    let response = app
        .client
        .get(app.url("/sandbox/state"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let state: Value = serde_json::from_str(&text).unwrap();

    // Object keys are a set: serde_json keeps them sorted or in insertion order
    // depending on the features another crate of the build turns on.
    let mut keys: Vec<&str> = state
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    // A key per simulator, and `faults`: what each injector has done.
    let mut expected = SERVICES.to_vec();
    expected.push("faults");
    // Exchange Online shares Graph's tenant and its faults are tested with its client.
    expected.push("exchange");
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(
        state["faults"]["graph"]["lost_answers"], 0,
        "{}",
        state["faults"]
    );
    let user = state["graph"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userPrincipalName"] == "lost1@contoso.com")
        .unwrap();
    assert_eq!(user["displayName"], "Lost Answer 1");
    assert_eq!(user["accountEnabled"], true);
    assert!(user["memberOf"].is_array() && user["licenseDetails"].is_array());
    assert!(
        state["graph"]["subscribedSkus"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["consumedUnits"].is_u64() && s["prepaidUnits"]["enabled"].is_u64())
    );
    let ticket = state["connectwise"]["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == 900)
        .unwrap();
    assert_eq!(
        ticket["notes"][0]["text"],
        "Account created for Lost Answer 1"
    );
    for (service, list) in [
        ("autotask", "tickets"),
        ("halopsa", "tickets"),
        ("itglue", "passwords"),
        ("hudu", "asset_passwords"),
        ("pwpush", "pushes"),
        ("pax8", "orders"),
    ] {
        assert!(
            !state[service][list].as_array().unwrap().is_empty(),
            "{service}.{list}"
        );
    }
    assert!(state["pax8"]["subscriptions"].is_array());
    assert!(!text.contains(SECRET), "a password value is in the state");
    assert_eq!(
        state["itglue"]["passwords"][0]["attributes"]["password"],
        "********"
    );
    assert_eq!(state["hudu"]["asset_passwords"][0]["password"], "********");
    assert_eq!(state["pwpush"]["pushes"][0]["payload"], "********");
}
