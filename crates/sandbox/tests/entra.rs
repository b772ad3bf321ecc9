//! The sign-in issuer over a real socket, driven as an OpenID Connect client
//! does: discovery, the authorize page, the code for tokens with PKCE, the
//! JWKS; and each of Entra's refusals.

#![allow(clippy::unwrap_used)] // Test code: helpers outside #[test] fns panic on purpose.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use onboard_sandbox::entra::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_MSP_TENANT, DEMO_OTHER_TENANT,
};
use onboard_sandbox::{Sandbox, SandboxSeed};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::{Digest, Sha256};
use rsa::signature::Verifier;
use serde_json::{Value, json};

const VERIFIER: &str = "a-code-verifier-of-forty-three-characters-at-least";

struct App {
    base: String,
    now: Arc<Mutex<jiff::Timestamp>>,
    client: reqwest::Client,
}

async fn spawn() -> App {
    let now = Arc::new(Mutex::new(
        jiff::Timestamp::from_second(2_000_000_000).unwrap(),
    ));
    let reading = now.clone();
    let sandbox = Sandbox::with_clock(
        &SandboxSeed::default(),
        Arc::new(move || *reading.lock().unwrap()),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = sandbox.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App {
        base: format!("http://{addr}/sandbox/entra"),
        now,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// The query of an authorization request from the demo console app.
fn authorize_query(redirect: &str, challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", DEMO_CLIENT_ID.into()),
        ("response_type", "code".into()),
        ("redirect_uri", redirect.into()),
        ("scope", "openid profile".into()),
        ("state", "the-state".into()),
        ("nonce", "the-nonce".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

const REDIRECT: &str = "http://127.0.0.1:4321/auth/callback";

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn advance(&self, seconds: i64) {
        *self.now.lock().unwrap() += jiff::SignedDuration::from_secs(seconds);
    }

    /// The sign-in page for `query`, as HTML.
    async fn page(&self, tenant: &str, query: &[(&str, String)]) -> (u16, String) {
        let r = self
            .client
            .get(self.url(&format!("/{tenant}/oauth2/v2.0/authorize")))
            .query(query)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Signs `upn` in through the organizations endpoint: the redirect's `Location`.
    async fn sign_in(&self, tenant: &str, upn: &str) -> String {
        let (status, html) = self
            .page(tenant, &authorize_query(REDIRECT, &s256(VERIFIER)))
            .await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(upn), "the page offers {upn}: {html}");
        let start = html.find("name=\"request\" value=\"").unwrap() + 22;
        let request = &html[start..start + html[start..].find('"').unwrap()];
        let r = self
            .client
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/login")))
            .form(&[("request", request), ("login", upn)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    async fn code(&self, tenant: &str, upn: &str) -> String {
        let location = url::Url::parse(&self.sign_in(tenant, upn).await).unwrap();
        let pairs: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
        assert_eq!(pairs["state"], "the-state");
        pairs["code"].clone()
    }

    async fn redeem(&self, tenant: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(fields)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn tokens(&self, tenant: &str, code: &str) -> (u16, Value) {
        self.redeem(
            tenant,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", DEMO_CLIENT_SECRET),
                ("code_verifier", VERIFIER),
            ],
        )
        .await
    }

    /// The ID token's claims, its signature checked against the JWKS.
    async fn verified_claims(&self, tenant: &str, id_token: &str) -> Result<Value, String> {
        let jwks: Value = self
            .client
            .get(self.url(&format!("/{tenant}/discovery/v2.0/keys")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let parts: Vec<&str> = id_token.split('.').collect();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .ok_or("no published key has the token's kid")?;
        let number = |name: &str| {
            rsa::BigUint::from_bytes_be(
                &URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap(),
            )
        };
        let key =
            VerifyingKey::<Sha256>::new(rsa::RsaPublicKey::new(number("n"), number("e")).unwrap());
        let signature =
            Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
        key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .map_err(|e| format!("bad signature: {e}"))?;
        Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap())
    }
}

fn aadsts(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or_default()
}

#[tokio::test]
async fn discovery_names_the_endpoints_and_a_multitenant_issuer_as_entra_does() {
    let app = spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/organizations/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], app.url("/{tenantid}/v2.0"));
    assert_eq!(
        doc["token_endpoint"],
        app.url("/organizations/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["jwks_uri"],
        app.url("/organizations/discovery/v2.0/keys")
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let own: Value = app
        .client
        .get(app.url(&format!(
            "/{DEMO_MSP_TENANT}/v2.0/.well-known/openid-configuration"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["issuer"], app.url(&format!("/{DEMO_MSP_TENANT}/v2.0")));
    let unknown = app
        .client
        .get(app.url("/no-such-tenant/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 400);
    assert_eq!(aadsts(&unknown.json().await.unwrap()), 90002);
}

#[tokio::test]
async fn a_person_signs_in_with_pkce_and_gets_a_signed_id_token_with_their_roles() {
    let app = spawn().await;
    let code = app.code("organizations", "tom@northwind-it.example").await;
    let (status, tokens) = app.tokens("organizations", &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = app
        .verified_claims("organizations", tokens["id_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["aud"], DEMO_CLIENT_ID);
    assert_eq!(claims["iss"], app.url(&format!("/{DEMO_MSP_TENANT}/v2.0")));
    assert_eq!(claims["tid"], DEMO_MSP_TENANT);
    assert_eq!(claims["nonce"], "the-nonce");
    assert_eq!(claims["preferred_username"], "tom@northwind-it.example");
    assert_eq!(claims["name"], "Tom Technician");
    assert_eq!(claims["roles"], json!(["Onboard.Technician"]));
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["iat"], 2_000_000_000);
    assert_eq!(claims["exp"], 2_000_003_600);

    // Someone of another tenant signs in too (a multitenant app): their own
    // tenant is in `iss` and `tid`, for the app to refuse.
    let code = app.code("organizations", "otto@litware.example").await;
    let (_, tokens) = app.tokens("organizations", &code).await;
    let claims = app
        .verified_claims("organizations", tokens["id_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["tid"], DEMO_OTHER_TENANT);
    assert_eq!(
        claims["iss"],
        app.url(&format!("/{DEMO_OTHER_TENANT}/v2.0"))
    );
}

#[tokio::test]
async fn a_code_is_redeemed_once_within_ten_minutes_with_its_verifier_and_secret() {
    let app = spawn().await;
    let upn = "ann@northwind-it.example";
    let code = app.code("organizations", upn).await;
    let wrong = |field: &'static str, value: &'static str| {
        let code = code.clone();
        let mut fields = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", REDIRECT.to_owned()),
            ("client_id", DEMO_CLIENT_ID.to_owned()),
            ("client_secret", DEMO_CLIENT_SECRET.to_owned()),
            ("code_verifier", VERIFIER.to_owned()),
        ];
        for f in &mut fields {
            if f.0 == field {
                f.1 = value.to_owned();
            }
        }
        fields
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.redeem("organizations", &pairs).await
        }
    };
    let (status, body) = send(wrong("client_secret", "guess")).await;
    assert_eq!((status, aadsts(&body)), (401, 7000215), "{body}");
    assert_eq!(body["error"], "invalid_client");
    let (status, body) = send(wrong("code_verifier", "not-the-verifier")).await;
    assert_eq!((status, aadsts(&body)), (400, 501481), "{body}");
    let (status, body) = send(wrong("redirect_uri", "http://127.0.0.1:4321/elsewhere")).await;
    assert_eq!((status, aadsts(&body)), (401, 500112), "{body}");
    assert_eq!(body["error"], "invalid_client");
    // None of the refusals used the code up.
    let (status, _) = app.tokens("organizations", &code).await;
    assert_eq!(status, 200);
    let (status, body) = app.tokens("organizations", &code).await;
    assert_eq!((status, aadsts(&body)), (400, 54005), "{body}");
    assert_eq!(body["error"], "invalid_grant");

    let late = app.code("organizations", upn).await;
    app.advance(601);
    let (status, body) = app.tokens("organizations", &late).await;
    assert_eq!((status, aadsts(&body)), (400, 70008), "{body}");
}

#[tokio::test]
async fn an_unknown_app_or_redirect_uri_is_refused_on_entras_page_not_redirected() {
    let app = spawn().await;
    let mut query = authorize_query(REDIRECT, "x");
    query[0].1 = "00000000-0000-0000-0000-000000000000".into();
    let (status, html) = app.page("organizations", &query).await;
    assert_eq!(status, 400);
    assert!(html.contains("AADSTS700016"), "{html}");
    let (status, html) = app
        .page(
            "organizations",
            &authorize_query("http://evil.example/auth/callback", "x"),
        )
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("AADSTS50011"), "{html}");
}

#[tokio::test]
async fn a_person_of_another_tenant_cannot_sign_in_on_a_tenants_own_endpoint() {
    let app = spawn().await;
    let (status, html) = app
        .page(DEMO_MSP_TENANT, &authorize_query(REDIRECT, &s256(VERIFIER)))
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("tom@northwind-it.example"));
    assert!(
        !html.contains("otto@litware.example"),
        "only the tenant's people are offered"
    );
    let start = html.find("name=\"request\" value=\"").unwrap() + 22;
    let request = &html[start..start + html[start..].find('"').unwrap()];
    let r = app
        .client
        .post(app.url(&format!("/{DEMO_MSP_TENANT}/oauth2/v2.0/login")))
        .form(&[("request", request), ("login", "otto@litware.example")])
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.contains("error=access_denied") && location.contains("AADSTS50020"),
        "{location}"
    );
    assert!(location.contains("state=the-state"));
}

#[tokio::test]
async fn rotated_keys_stay_published_and_spoiled_tokens_fail_their_checks() {
    let app = spawn().await;
    let upn = "vera@northwind-it.example";
    let code = app.code("organizations", upn).await;
    let (_, before) = app.tokens("organizations", &code).await;
    let rotated: Value = app
        .client
        .post(app.url("/keys/rotate"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let old = app
        .verified_claims("organizations", before["id_token"].as_str().unwrap())
        .await;
    assert!(
        old.is_ok(),
        "a token signed before the rotation still verifies: {old:?}"
    );
    let code = app.code("organizations", upn).await;
    let (_, after) = app.tokens("organizations", &code).await;
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                after["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .next()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], rotated["kid"], "the new key signs");

    for (flaw, check) in [
        ("expired", "exp"),
        ("unknown_key", "signature"),
        ("tampered", "signature"),
        ("wrong_audience", "aud"),
        ("wrong_issuer", "iss"),
        ("wrong_nonce", "nonce"),
    ] {
        let r = app
            .client
            .post(app.url("/next-id-token"))
            .json(&json!({ "flaw": flaw }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
        let code = app.code("organizations", upn).await;
        let (_, tokens) = app.tokens("organizations", &code).await;
        let verified = app
            .verified_claims("organizations", tokens["id_token"].as_str().unwrap())
            .await;
        match check {
            "signature" => assert!(verified.is_err(), "{flaw}: {verified:?}"),
            "exp" => assert!(verified.unwrap()["exp"].as_i64().unwrap() < 2_000_000_000),
            "aud" => assert_ne!(verified.unwrap()["aud"], DEMO_CLIENT_ID),
            "iss" => assert_ne!(
                verified.unwrap()["iss"],
                app.url(&format!("/{DEMO_MSP_TENANT}/v2.0"))
            ),
            _ => assert_ne!(verified.unwrap()["nonce"], "the-nonce"),
        }
    }
    // The flaw spoils one token only.
    let code = app.code("organizations", upn).await;
    let (_, tokens) = app.tokens("organizations", &code).await;
    let claims = app
        .verified_claims("organizations", tokens["id_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["nonce"], "the-nonce");
}
