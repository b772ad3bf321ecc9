//! The OpenID Connect relying party against the sandbox's Entra issuer over a
//! real socket: a person picks who signs in on the issuer's page, as in a
//! browser; every check of the ID token is tried with a token that fails it.

#![allow(clippy::unwrap_used)] // Test code: helpers outside #[test] fns panic on purpose.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use onboard_clock::VirtualClock;
use onboard_http::sign_in::{OidcClient, OidcSettings, PendingSignIn, SignInError};
use onboard_sandbox::entra::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_MSP_TENANT, DEMO_OTHER_TENANT,
};
use onboard_sandbox::{Sandbox, SandboxSeed};
use secrecy::SecretString;
use serde_json::json;
use url::Url;

const CALLBACK: &str = "http://127.0.0.1:3000/auth/callback";

struct Bed {
    base: String,
    clock: Arc<VirtualClock>,
    browser: reqwest::Client,
}

async fn bed() -> Bed {
    let clock = Arc::new(VirtualClock::new(
        Timestamp::from_second(2_000_000_000).unwrap(),
    ));
    let reading = clock.clone();
    let sandbox = Sandbox::with_clock(
        &SandboxSeed::default(),
        Arc::new(move || onboard_clock::Clock::now(reading.as_ref())),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = sandbox.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Bed {
        base: format!("http://{addr}/sandbox/entra"),
        clock,
        browser: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl Bed {
    async fn client(&self, tenant_path: &str, allowed: &[&str]) -> OidcClient {
        OidcClient::discover(
            OidcSettings {
                issuer: Url::parse(&format!("{}/{tenant_path}/v2.0", self.base)).unwrap(),
                client_id: DEMO_CLIENT_ID.into(),
                client_secret: SecretString::from(DEMO_CLIENT_SECRET),
                allowed_tenants: allowed.iter().map(|t| (*t).to_owned()).collect(),
            },
            reqwest::Client::new(),
            self.clock.clone(),
        )
        .await
        .unwrap()
    }

    /// Follows `authorize` as a browser and picks `upn`: the callback's code and state.
    async fn pick(&self, authorize: &Url, upn: &str) -> (String, String) {
        let page = self
            .browser
            .get(authorize.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = page.find("name=\"request\" value=\"").unwrap() + 22;
        let request = &page[start..start + page[start..].find('"').unwrap()];
        let login = authorize.join("login").unwrap();
        let back = self
            .browser
            .post(login)
            .form(&[("request", request), ("login", upn)])
            .send()
            .await
            .unwrap();
        let location = Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
        assert!(location.as_str().starts_with(CALLBACK), "{location}");
        let get = |k: &str| {
            location
                .query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("no {k} in {location}"))
        };
        (get("code"), get("state"))
    }

    async fn sign_in(
        &self,
        client: &OidcClient,
        upn: &str,
    ) -> Result<onboard_http::sign_in::SignedIn, SignInError> {
        let (authorize, pending) = client.begin(CALLBACK, "/");
        let (code, state) = self.pick(&authorize, upn).await;
        client.finish(&pending, &code, &state).await
    }

    async fn spoil_next(&self, flaw: &str) {
        let r = self
            .browser
            .post(format!("{}/next-id-token", self.base))
            .json(&json!({ "flaw": flaw }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }
}

#[tokio::test]
async fn a_technician_of_the_msp_signs_in_with_their_name_and_roles() {
    let bed = bed().await;
    let client = bed.client("organizations", &[DEMO_MSP_TENANT]).await;
    let (authorize, pending) = client.begin(CALLBACK, "/onboardings");
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["state"], pending.state);
    assert!(
        !authorize.as_str().contains(&pending.verifier),
        "the verifier never leaves"
    );
    let (code, state) = bed.pick(&authorize, "tom@northwind-it.example").await;
    let person = client.finish(&pending, &code, &state).await.unwrap();
    assert_eq!(person.name, "Tom Technician");
    assert_eq!(person.user_principal_name, "tom@northwind-it.example");
    assert_eq!(person.tenant_id, DEMO_MSP_TENANT);
    assert_eq!(person.roles, ["Onboard.Technician"]);
    // The code is spent: the same answer cannot sign in twice.
    let again = client.finish(&pending, &code, &state).await.unwrap_err();
    assert!(
        matches!(&again, SignInError::Refused { description, .. } if description.contains("AADSTS54005")),
        "{again}"
    );
}

#[tokio::test]
async fn a_person_of_a_tenant_not_allowed_is_refused_by_name() {
    let bed = bed().await;
    let client = bed.client("organizations", &[DEMO_MSP_TENANT]).await;
    let err = bed
        .sign_in(&client, "otto@litware.example")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SignInError::TenantNotAllowed { tenant } if tenant == DEMO_OTHER_TENANT),
        "{err}"
    );
    assert!(err.to_string().contains(DEMO_OTHER_TENANT));
}

#[tokio::test]
async fn an_answer_for_another_attempt_is_refused() {
    let bed = bed().await;
    let client = bed.client("organizations", &[DEMO_MSP_TENANT]).await;
    let (authorize, _first) = client.begin(CALLBACK, "/");
    let (code, state) = bed.pick(&authorize, "tom@northwind-it.example").await;
    let (_, other): (Url, PendingSignIn) = client.begin(CALLBACK, "/");
    let err = client.finish(&other, &code, &state).await.unwrap_err();
    assert!(matches!(err, SignInError::StateMismatch), "{err}");
}

#[tokio::test]
async fn every_spoiled_id_token_is_refused_and_says_why() {
    let bed = bed().await;
    let client = bed.client("organizations", &[DEMO_MSP_TENANT]).await;
    for (flaw, why) in [
        ("expired", "xpired"),
        ("unknown_key", "key"),
        ("tampered", "ignature"),
        ("wrong_audience", "udience"),
        ("wrong_issuer", "ssuer"),
        ("wrong_nonce", "once"),
    ] {
        bed.spoil_next(flaw).await;
        let err = bed
            .sign_in(&client, "ann@northwind-it.example")
            .await
            .unwrap_err();
        assert!(matches!(err, SignInError::InvalidToken(_)), "{flaw}: {err}");
        assert!(err.to_string().contains(why), "{flaw}: {err}");
    }
    // Nothing stuck: the next sign-in is fine.
    assert!(
        bed.sign_in(&client, "ann@northwind-it.example")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_rotated_signing_key_is_learnt_from_the_jwks_when_a_token_names_it() {
    let bed = bed().await;
    let client = bed.client("organizations", &[DEMO_MSP_TENANT]).await;
    bed.sign_in(&client, "vera@northwind-it.example")
        .await
        .unwrap();
    let r = bed
        .browser
        .post(format!("{}/keys/rotate", bed.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    // Right after a fetch the keys are not fetched again (a flood of tokens
    // naming unknown keys must not become a flood of JWKS requests)...
    let err = bed
        .sign_in(&client, "vera@northwind-it.example")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("key"), "{err}");
    // ...five minutes later they are, and the new key is found.
    bed.clock.advance(SignedDuration::from_secs(301));
    let person = bed
        .sign_in(&client, "vera@northwind-it.example")
        .await
        .unwrap();
    assert_eq!(person.roles, ["Onboard.Viewer"]);
}

#[tokio::test]
async fn a_single_tenant_issuer_takes_its_own_people_without_an_allow_list() {
    let bed = bed().await;
    let client = bed.client(DEMO_MSP_TENANT, &[]).await;
    let person = bed
        .sign_in(&client, "ada@northwind-it.example")
        .await
        .unwrap();
    assert_eq!(person.roles, ["Onboard.Admin"]);
    let signed_out = client.sign_out_url("http://127.0.0.1:3000/").unwrap();
    assert!(signed_out.as_str().contains("post_logout_redirect_uri="));
}

#[tokio::test]
async fn an_issuer_failing_at_the_token_endpoint_is_unavailable_not_a_refusal() {
    let bed = bed().await;
    let client = bed.client("organizations", &[DEMO_MSP_TENANT]).await;
    let (authorize, pending) = client.begin(CALLBACK, "/");
    let (code, state) = bed.pick(&authorize, "tom@northwind-it.example").await;
    let faults = bed.base.replace("/sandbox/entra", "/sandbox/faults/entra");
    let r = bed
        .browser
        .put(faults)
        .json(&json!({ "error_rate": 1.0, "seed": 1 }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let err = client.finish(&pending, &code, &state).await.unwrap_err();
    assert!(
        matches!(&err, SignInError::Unavailable { detail, .. } if detail.contains("503")),
        "{err}"
    );
}
