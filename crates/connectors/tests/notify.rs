//! Contract tests: SMTP against a scripted SMTP server over a socket, and the outbox against `GET /sandbox/outbox`.

// Test code: a failed unwrap is a failed test (`allow-unwrap-in-tests` covers only `#[test]` bodies).
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use base64::Engine;
use onboard_connectors::Error;
use onboard_connectors::notify::{
    Channel, Channels, Mail, MemoryOutbox, Notifier, Sms, SmtpMailer, SmtpSecurity, SmtpSettings,
};
use onboard_sandbox::outbox::{self, Outbox, OutboxMessage};
use secrecy::SecretString;
use support::serve;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What the scripted server saw.
#[derive(Debug, Default, Clone)]
struct Transcript {
    auth: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
    data: String,
}

/// A minimal SMTP server: accepts `password` for user `it`, answers
/// `mail_from_reply` to MAIL FROM, records one message per connection.
async fn smtp_server(
    password: &'static str,
    mail_from_reply: &'static str,
) -> (u16, Arc<Mutex<Transcript>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let transcript = Arc::new(Mutex::new(Transcript::default()));
    let seen = transcript.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake.test ESMTP\r\n").await.unwrap();
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            write.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                        } else {
                            let mut t = seen.lock().unwrap();
                            t.data.push_str(&line);
                            t.data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: String = if upper.starts_with("EHLO") {
                        "250-fake.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n".into()
                    } else if let Some(encoded) = line.strip_prefix("AUTH PLAIN ") {
                        let decoded = base64::engine::general_purpose::STANDARD
                            .decode(encoded)
                            .unwrap();
                        let text = String::from_utf8(decoded).unwrap();
                        seen.lock().unwrap().auth = Some(text.clone());
                        if text == format!("\0it\0{password}") {
                            "235 2.7.0 Authentication successful\r\n".into()
                        } else {
                            "535 5.7.8 Authentication credentials invalid\r\n".into()
                        }
                    } else if upper.starts_with("MAIL FROM:") {
                        seen.lock().unwrap().mail_from = Some(line[10..].to_owned());
                        format!("{mail_from_reply}\r\n")
                    } else if upper.starts_with("RCPT TO:") {
                        seen.lock().unwrap().rcpt_to.push(line[8..].to_owned());
                        "250 2.1.5 OK\r\n".into()
                    } else if upper == "DATA" {
                        in_data = true;
                        "354 End data with <CR><LF>.<CR><LF>\r\n".into()
                    } else if upper == "QUIT" {
                        write.write_all(b"221 2.0.0 Bye\r\n").await.unwrap();
                        return;
                    } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
                        "250 OK\r\n".into()
                    } else {
                        "502 5.5.2 Command not recognized\r\n".into()
                    };
                    if write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, transcript)
}

fn smtp(port: u16, password: &str) -> SmtpMailer {
    SmtpMailer::new(&SmtpSettings {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: SmtpSecurity::Plaintext,
        username: Some("it".into()),
        password: Some(SecretString::from(password)),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn approval_mail() -> Mail {
    Mail::builder(
        "it@msp.example",
        &["boss@client.example"],
        "Approve Jane Doe",
    )
    .paragraph("Jane Doe starts on Monday.")
    .link("Approve", "https://onboard.example/d/abc123?sig=deadbeef")
    .build()
}

#[tokio::test]
async fn smtp_sends_one_multipart_alternative_mail_from_the_send_from_address() {
    let (port, transcript) = smtp_server("relay-pass", "250 2.1.0 OK").await;
    let mailer = smtp(port, "relay-pass");

    let sent = mailer.send_mail(&approval_mail()).await.unwrap();

    let t = transcript.lock().unwrap().clone();
    assert_eq!(t.auth.as_deref(), Some("\0it\0relay-pass"));
    assert!(t.mail_from.unwrap().contains("<it@msp.example>"));
    assert_eq!(t.rcpt_to.len(), 1);
    assert!(t.rcpt_to[0].contains("<boss@client.example>"));
    assert!(t.data.contains("Subject: Approve Jane Doe"), "{}", t.data);
    assert!(t.data.contains("multipart/alternative"), "{}", t.data);
    let plain = t.data.find("text/plain").expect("a text part");
    let html = t.data.find("text/html").expect("an html part");
    assert!(
        plain < html,
        "text comes before HTML so clients prefer HTML"
    );
    assert!(
        t.data.contains(&format!("Message-ID: {}", sent.message_id)),
        "{}",
        t.data
    );
}

#[tokio::test]
async fn smtp_refused_credentials_are_unauthorized() {
    let (port, _) = smtp_server("relay-pass", "250 2.1.0 OK").await;
    let mailer = smtp(port, "wrong");

    let err = mailer.send_mail(&approval_mail()).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Unauthorized {
                service: "smtp",
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("wrong"));
}

#[tokio::test]
async fn smtp_temporary_refusal_is_transient_and_a_permanent_one_is_rejected() {
    let (busy_port, _) = smtp_server("p", "451 4.3.0 Try again later").await;
    let (strict_port, _) = smtp_server("p", "550 5.7.1 Sender not allowed").await;

    let busy = smtp(busy_port, "p")
        .send_mail(&approval_mail())
        .await
        .unwrap_err();
    let strict = smtp(strict_port, "p")
        .send_mail(&approval_mail())
        .await
        .unwrap_err();

    assert!(
        matches!(busy, Error::Unavailable { status: 451, .. }),
        "{busy}"
    );
    assert!(busy.is_transient());
    assert!(
        matches!(strict, Error::Rejected { status: 550, .. }),
        "{strict}"
    );
    assert!(!strict.is_transient());
}

#[tokio::test]
async fn an_unreachable_relay_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);

    let err = smtp(port, "p")
        .send_mail(&approval_mail())
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            Error::Unreachable {
                service: "smtp",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn the_outbox_shows_sent_mail_and_sms_oldest_first_in_the_contract_shape() {
    let sandbox_outbox = Outbox::new();
    let mirror = sandbox_outbox.clone();
    let ticks = Arc::new(Mutex::new(1_900_000_000i64));
    let clock_ticks = ticks.clone();
    let notifier = MemoryOutbox::new()
        .with_clock(move || {
            let mut t = clock_ticks.lock().unwrap();
            *t += 60;
            jiff::Timestamp::from_second(*t).unwrap()
        })
        .with_observer(move |entry| {
            // What the local runtime's wiring does: mirror into the sandbox's outbox.
            mirror.push(OutboxMessage {
                channel: match entry.channel {
                    Channel::Email => outbox::Channel::Email,
                    Channel::Sms => outbox::Channel::Sms,
                },
                to: entry.to.clone(),
                subject: entry.subject.clone(),
                body: entry.body.clone(),
                sent_at: entry.sent_at,
            })
        });
    let base = serve(Router::new().nest("/sandbox/outbox", outbox::router(sandbox_outbox))).await;

    notifier.send_mail(&approval_mail()).await.unwrap();
    notifier
        .send_sms(&Sms {
            to: "+15555550100".into(),
            body: "Your account is ready".into(),
        })
        .await
        .unwrap();
    let listed: serde_json::Value = reqwest::get(format!("{base}/sandbox/outbox"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(
        listed,
        serde_json::json!([
            {"channel": "email", "to": ["boss@client.example"], "subject": "Approve Jane Doe",
             "body": approval_mail().text, "sent_at": "2030-03-17T17:47:40Z"},
            {"channel": "sms", "to": ["+15555550100"], "subject": null,
             "body": "Your account is ready", "sent_at": "2030-03-17T17:48:40Z"}
        ])
    );
    assert_eq!(listed, serde_json::to_value(notifier.entries()).unwrap());
    assert!(
        listed[0]["body"]
            .as_str()
            .unwrap()
            .contains("<https://onboard.example/d/abc123?sig=deadbeef>")
    );
}

#[tokio::test]
async fn the_outbox_refuses_an_sms_to_a_number_that_is_not_e164() {
    let notifier = MemoryOutbox::new();

    let err = notifier
        .send_sms(&Sms {
            to: "0555 0100".into(),
            body: "x".into(),
        })
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert!(notifier.entries().is_empty());
}

#[tokio::test]
async fn channels_send_mail_and_sms_through_their_own_adapters() {
    let mail = MemoryOutbox::new();
    let sms = MemoryOutbox::new();
    let channels = Channels {
        mail: Arc::new(mail.clone()),
        sms: Arc::new(sms.clone()),
    };

    channels.send_mail(&approval_mail()).await.unwrap();
    channels
        .send_sms(&Sms {
            to: "+15555550100".into(),
            body: "hi".into(),
        })
        .await
        .unwrap();

    assert_eq!(mail.entries().len(), 1);
    assert_eq!(mail.entries()[0].channel, Channel::Email);
    assert_eq!(sms.entries().len(), 1);
    assert_eq!(sms.entries()[0].channel, Channel::Sms);
}
