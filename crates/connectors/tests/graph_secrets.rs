//! No secret in any log line: the Graph client and simulator run under a
//! TRACE-level subscriber that writes every event (reqwest, hyper and axum
//! included) to a buffer, and the buffer is searched for each secret used.
//!
//! A separate test binary, because the subscriber is process-wide.

#![allow(clippy::unwrap_used)] // Test code: a broken fixture should stop the test loudly.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use onboard_connectors::graph::{
    AppCredentials, Directory, GraphClient, GraphConfig, NewUser, Profile, TapRequest, TenantId,
};
use onboard_sandbox::graph::{GraphSeed, GraphSimulator};
use secrecy::{ExposeSecret, SecretString};

const CLIENT_SECRET: &str = "cs~Q7Zx-5nH2vK9pLw4Tq8Rb3Ys6Jd1Fm0";
const WRONG_SECRET: &str = "cs~Wrong-8fP2kD7sL1qA9zX4cV6bN3mT5";
const FIRST_PASSWORD: &str = "Fp!9wQz4#Lm2Vx7Rk";
const SECOND_PASSWORD: &str = "Sp@3nB8%Tq6Hy1Gd5";

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_log_line() {
    let logs = Buffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .unwrap();
    let mut seed = GraphSeed::example();
    seed.tenants[0].apps[0].client_secret = CLIENT_SECRET.into();
    seed.replication_delay_calls = 1;
    let sim = GraphSimulator::new(&seed).unwrap();
    let app = Router::new().nest("/sandbox/graph", sim.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let credentials = |secret: &str| AppCredentials {
        client_id: "sandbox-client".into(),
        client_secret: SecretString::from(secret),
    };
    let mut config = GraphConfig::sandbox(&base, credentials(CLIENT_SECRET)).unwrap();
    config.retry.base_delay = std::time::Duration::from_millis(1);
    let client = GraphClient::new(config).unwrap();
    let tenant = TenantId::new("contoso.com").unwrap();

    let user = client
        .create_user(
            &tenant,
            &NewUser {
                user_principal_name: "jane.doe@contoso.com".into(),
                display_name: "Jane Doe".into(),
                mail_nickname: "JaneD".into(),
                account_enabled: true,
                password: SecretString::from(FIRST_PASSWORD),
                force_change_password_next_sign_in: true,
                password_policies: None,
                usage_location: Some("US".into()),
                profile: Profile::default(),
                extension_attributes: Default::default(),
            },
        )
        .await
        .unwrap();
    client
        .reset_password(
            &tenant,
            &user.id,
            &SecretString::from(SECOND_PASSWORD),
            true,
        )
        .await
        .unwrap();
    let weak = client
        .reset_password(&tenant, &user.id, &SecretString::from("weak"), true)
        .await
        .unwrap_err();
    let tap = client
        .create_temporary_access_pass(&tenant, &user.id, &TapRequest::default())
        .await
        .unwrap();
    let refused = GraphClient::new(GraphConfig::sandbox(&base, credentials(WRONG_SECRET)).unwrap())
        .unwrap()
        .subscribed_skus(&tenant)
        .await
        .unwrap_err();
    // Steps log errors where they handle them; the messages must be clean too.
    tracing::error!(error = %weak, "reset failed");
    tracing::error!(error = %refused, "sign-in failed");
    tracing::error!(error = ?refused, "sign-in failed (debug)");
    let mut secrets = vec![
        CLIENT_SECRET.to_owned(),
        WRONG_SECRET.to_owned(),
        FIRST_PASSWORD.to_owned(),
        SECOND_PASSWORD.to_owned(),
        tap.pass.expose_secret().to_owned(),
    ];
    secrets.extend(sim.state().issued_tokens());

    let text = logs.text();
    println!(
        "{} log lines captured, {} secrets searched",
        text.lines().count(),
        secrets.len()
    );

    assert!(
        text.lines().count() > 20,
        "the subscriber captured the run:\n{text}"
    );
    assert!(text.contains("graph call"), "client events were captured");
    assert!(text.contains("AADSTS7000215"), "error lines were captured");
    assert!(!sim.state().issued_tokens().is_empty());
    for secret in &secrets {
        let leaks: Vec<&str> = text
            .lines()
            .filter(|line| line.contains(secret.as_str()))
            .collect();
        assert!(
            leaks.is_empty(),
            "a secret appears in {} log line(s): {leaks:?}",
            leaks.len()
        );
    }
}
