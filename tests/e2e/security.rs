//! Issue 14: only for whom it is meant. Each attack of the issue, over a real
//! socket against `onboard serve`: another website's requests, a rebound `Host`,
//! forms without their CSRF token, a reused `Idempotency-Key`, decision link
//! signatures in the logs, the link key file, and mail through SMTP with the sandbox on.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::{TestApp, spawn_app, spawn_app_logged, spawn_app_with};
use crate::workflow::config;

const ALEX: &str = "AlexW@contoso.com";

/// Whether Alex Wilber can still sign in (an offboarding would have blocked him).
async fn alex_enabled(app: &TestApp) -> bool {
    app.graph(&format!("/users/{ALEX}?$select=accountEnabled"))
        .await["accountEnabled"]
        .as_bool()
        .expect("accountEnabled")
}

#[tokio::test]
async fn a_no_cors_text_plain_offboarding_from_another_site_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    // What `fetch(url, {mode: "no-cors", headers: {"content-type": "text/plain"}})`
    // sends from http://127.0.0.2:8000: a simple request, no preflight.
    let res = app
        .client
        .post(app.url("/api/offboardings"))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", "http://127.0.0.2:8000")
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "no-cors")
        .body(json!({"organization": "contoso", "user_principal_name": ALEX}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The same body without browser headers (curl) still needs JSON: 415, naming the type.
    let res = app
        .client
        .post(app.url("/api/offboardings"))
        .header("content-type", "text/plain")
        .body(json!({"organization": "contoso", "user_principal_name": ALEX}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("`text/plain`"),
        "{body}"
    );

    app.advance(3600).await;
    assert!(alex_enabled(&app).await, "the offboarding ran");
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused_even_with_a_json_api_call_shape() {
    let app = spawn_app().await;
    for (path, body) in [
        (
            "/offboardings",
            format!("organization=contoso&user_principal_name={ALEX}"),
        ),
        (
            "/onboardings",
            "organization=contoso&first_name=Eve&last_name=Il".to_owned(),
        ),
    ] {
        let res = app
            .client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "http://127.0.0.2:8000")
            .header("sec-fetch-site", "cross-site")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    let res = app
        .client
        .post(app.url("/api/onboardings"))
        .header("origin", "http://evil.example")
        .json(&json!({"organization": "contoso", "first_name": "Eve", "last_name": "Il"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The sandbox's controls are state-changing routes too.
    let res = app
        .client
        .put(app.url("/sandbox/faults/graph"))
        .header("origin", "http://127.0.0.2:8000")
        .json(&json!({"error_rate": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(alex_enabled(&app).await);
    assert!(app.users_named("eil").await.is_empty());
}

#[tokio::test]
async fn a_form_needs_the_token_of_its_own_page_and_cookie() {
    let app = spawn_app().await;
    let form = "organization=contoso&first_name=Cora&last_name=Sref";

    // No token at all: refused in plain words, nothing started.
    let res = app
        .client
        .post(app.url("/onboardings"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("Nothing was started"));

    let (token, cookie) = app.form_token("/").await;
    // The token without its cookie, and a cookie with another token, are refused.
    for (cookie, token) in [
        (None, token.as_str()),
        (Some(cookie.as_str()), "AAAA"),
        (Some("onboard_csrf=forged"), token.as_str()),
    ] {
        let mut req = app
            .client
            .post(app.url("/onboardings"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("{form}&csrf_token={token}"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        assert_eq!(req.send().await.unwrap().status(), 403);
    }
    assert!(app.users_named("csref").await.is_empty());

    // The page's own token with its cookie: accepted, and a same-origin browser's
    // headers pass.
    let res = app
        .client
        .post(app.url("/onboardings"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &cookie)
        .header("origin", app.base.as_str())
        .header("sec-fetch-site", "same-origin")
        .body(format!("{form}&csrf_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/onboardings/"), "{location}");
    assert_eq!(app.users_named("csref").await.len(), 1);
}

#[tokio::test]
async fn a_rebound_host_cannot_read_pending_links_or_the_outbox() {
    let app = spawn_app_with(&config("require_approval_for_new_users = 1")).await;
    app.onboard(json!({"organization": "contoso", "first_name": "Rita", "last_name": "Bind"}))
        .await;
    for path in ["/approvals", "/sandbox/outbox", "/api/organizations", "/"] {
        let res = app
            .client
            .get(app.url(path))
            .header("host", "attacker.example:3000")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 421, "{path}");
        let text = res.text().await.unwrap();
        assert!(!text.contains("/decisions/"), "{path}: {text}");
    }
    // The names a person types for this machine are served.
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let res = app
            .client
            .get(app.url("/approvals"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{host}");
    }
}

#[tokio::test]
async fn server_allowed_hosts_adds_a_name_and_a_bad_one_stops_the_start() {
    let app = spawn_app_with(&format!(
        "{}\n[server]\nallowed_hosts = [\"onboard.internal.example\"]\n",
        config("")
    ))
    .await;
    let res = app
        .client
        .get(app.url("/"))
        .header("host", "onboard.internal.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("onboard.toml");
    std::fs::write(
        &file,
        "[server]\nallowed_hosts = [\"https://x.example/path\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_onboard"))
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(&file)
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.allowed_hosts[0]"), "{stderr}");
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_refused_naming_the_header() {
    let app = spawn_app().await;
    let form = json!({"organization": "contoso", "first_name": "Ida", "last_name": "Empo"});
    let first = app.post_onboarding_with_key(&form, "k-1").await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();

    // The same body, its keys in another order: the first answer again.
    let same: Value = serde_json::from_str(
        r#"{"last_name": "Empo", "first_name": "Ida", "organization": "contoso"}"#,
    )
    .unwrap();
    let again = app.post_onboarding_with_key(&same, "k-1").await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);

    let other = json!({"organization": "contoso", "first_name": "Ivo", "last_name": "Other"});
    let res = app.post_onboarding_with_key(&other, "k-1").await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "Idempotency-Key", "{body}");
    assert!(app.users_named("iother").await.is_empty());
    assert_eq!(app.users_named("iempo").await.len(), 1);
}

#[tokio::test]
async fn a_decision_link_signature_never_reaches_the_debug_log() {
    let app = spawn_app_logged(Some(&config("require_approval_for_new_users = 1"))).await;
    app.onboard(json!({"organization": "contoso", "first_name": "Lou", "last_name": "Gless"}))
        .await;
    let link = app.outbox_link("approve").await.expect("an approve link");
    let sig = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "sig")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), 200);
    assert_eq!(app.post_link(&link).await.status(), 200);

    let log = app.log();
    assert!(log.contains("/decisions/"), "the request was logged: {log}");
    assert!(!log.contains(&sig), "the signature is in the log");
    assert!(!log.contains("sig="), "a query string is in the log");
}

#[tokio::test]
async fn the_decider_is_the_signed_recipient_and_the_decision_stands_before_the_steps_it_released()
{
    let app = spawn_app_with(&config("require_approval_for_new_users = 1")).await;
    let id = app
        .onboard(json!({"organization": "contoso", "first_name": "Tess", "last_name": "Ordre"}))
        .await;
    let link = app.outbox_link("approve").await.unwrap();

    // The page's own form posts to the whole signed link, recipient included.
    let page = app
        .client
        .get(&link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page
        .find("<form method=\"post\" action=\"")
        .expect("a form")
        + 28;
    let action = page[at..at + page[at..].find('"').unwrap()].replace("&amp;", "&");
    assert!(action.contains("to=approvals%40contoso.com"), "{action}");
    let res = app
        .client
        .post(app.url(&action))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "http://mail.example")
        .header("sec-fetch-site", "cross-site")
        .body("decided_by=Mallory+the+CEO")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let record = app.onboarding(&id).await;
    assert_eq!(record["status"], "completed", "{record}");
    let timeline = record["timeline"].as_array().unwrap();
    let decided = timeline
        .iter()
        .position(|e| {
            e["step"] == "request_approval"
                && e["message"].as_str().unwrap().contains("approved by")
        })
        .expect("the decision on the timeline");
    let message = timeline[decided]["message"].as_str().unwrap();
    assert!(
        message
            .contains("approved by approvals@contoso.com (who typed the name \"Mallory the CEO\")"),
        "{message}"
    );
    let created = timeline
        .iter()
        .position(|e| e["step"] == "create_user")
        .expect("the user created");
    assert!(
        decided < created,
        "the decision shows after the steps it released: {timeline:?}"
    );

    let ticket = record["ticket_id"].as_str().unwrap();
    let notes = app.cw_notes(ticket).await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("approvals@contoso.com") && n.contains("Mallory the CEO")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn the_link_key_file_is_private_and_a_short_or_unreadable_one_stops_the_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let app = spawn_app().await;
    let key = app.data_dir().join("link-signing.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);

    let start = |data: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_onboard"))
            .args(["serve", "--sandbox", "--addr", "127.0.0.1:0", "--data"])
            .arg(data)
            .output()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("link-signing.key"), b"short").unwrap();
    let out = start(dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("link-signing.key") && stderr.contains("5 bytes"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("link-signing.key")).unwrap(),
        b"short"
    );

    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be cannot be read, even by root.
    std::fs::create_dir(dir.path().join("link-signing.key")).unwrap();
    let out = start(dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be read"), "{stderr}");
}

/// What a plain SMTP relay on loopback received: the recipients of each mail.
#[derive(Debug, Default)]
struct Relay {
    recipients: Vec<String>,
    data: String,
}

/// A minimal SMTP relay (no TLS, no auth) on a free loopback port.
async fn smtp_relay() -> (u16, Arc<Mutex<Relay>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let relay = Arc::new(Mutex::new(Relay::default()));
    let seen = relay.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 relay.test ESMTP\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line == "." {
                            in_data = false;
                            b"250 queued\r\n"
                        } else {
                            seen.lock().unwrap().data.push_str(&format!("{line}\n"));
                            continue;
                        }
                    } else {
                        let upper = line.to_ascii_uppercase();
                        if upper.starts_with("EHLO") {
                            b"250-relay.test\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            seen.lock().unwrap().recipients.push(line[8..].to_owned());
                            b"250 OK\r\n"
                        } else if upper == "DATA" {
                            in_data = true;
                            b"354 go ahead\r\n"
                        } else if upper == "QUIT" {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 OK\r\n"
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, relay)
}

#[tokio::test]
async fn with_connectors_smtp_mail_goes_through_smtp_even_with_the_sandbox_on() {
    let (port, relay) = smtp_relay().await;
    let app = spawn_app_with(&format!(
        "{}\n[connectors.smtp]\nhost = \"127.0.0.1\"\nport = \"{port}\"\nsecurity = \"plaintext\"\n",
        config("require_approval_for_new_users = 1")
    ))
    .await;
    app.onboard(json!({"organization": "contoso", "first_name": "Sam", "last_name": "Tp"}))
        .await;
    assert!(
        app.outbox().await.is_empty(),
        "mail landed in the sandbox outbox"
    );
    let relay = relay.lock().unwrap();
    assert!(
        relay
            .recipients
            .iter()
            .any(|r| r.contains("approvals@contoso.com")),
        "{relay:?}"
    );
    assert!(relay.data.contains("/decisions/"), "{relay:?}");
}
