//! Contract tests: the SES v2 and SNS adapters against a real endpoint that speaks those APIs (moto server).
//!
//! They need a running moto server, named by `ONBOARD_TEST_MOTO_URL` or
//! `AWS_ENDPOINT_URL`; `scripts/test` starts one. Without it they fail, on
//! purpose, with the command to run them: a skipped contract test would pass
//! in silence.

// Test code: a failed unwrap is a failed test (`allow-unwrap-in-tests` covers only `#[test]` bodies).
#![allow(clippy::unwrap_used)]

use aws_config::BehaviorVersion;
use onboard_connectors::Error;
use onboard_connectors::notify::{Mail, Notifier, SesMailer, Sms, SnsTexter};
use serde_json::Value;

fn moto_url() -> String {
    std::env::var("ONBOARD_TEST_MOTO_URL")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| {
            panic!(
                "the SES/SNS contract tests need a moto server. Run `scripts/test`, or by hand:\n  \
                 python3 -m venv .venv && .venv/bin/pip install 'moto[server]'\n  \
                 .venv/bin/moto_server -p 5055 &\n  \
                 ONBOARD_TEST_MOTO_URL=http://127.0.0.1:5055 cargo test -p onboard-connectors --test aws_notify"
            )
        })
}

async fn aws(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sesv2::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// What moto recorded, from its state dump.
async fn moto_state(endpoint: &str) -> Value {
    reqwest::get(format!(
        "{}/moto-api/data.json",
        endpoint.trim_end_matches('/')
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn ses_sends_the_mail_from_a_verified_sender_and_moto_records_it() {
    let endpoint = moto_url();
    let config = aws(&endpoint).await;
    let from = format!("{}@msp.example", unique("it"));
    aws_sdk_sesv2::Client::new(&config)
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();
    let mailer = SesMailer::from_conf(&config);
    let mail = Mail::builder(&from, &["boss@client.example"], "Approve Jane Doe")
        .paragraph("Jane Doe starts on Monday.")
        .link("Approve", "https://onboard.example/d/abc?sig=1")
        .build();

    let sent = mailer.send_mail(&mail).await.unwrap();

    let state = moto_state(&endpoint).await;
    let messages = state["ses"]["Message"]
        .as_array()
        .expect("moto's SES messages");
    let recorded = messages
        .iter()
        .find(|m| m["id"] == sent.message_id.as_str())
        .unwrap_or_else(|| panic!("message {} not in moto: {messages:?}", sent.message_id));
    assert_eq!(recorded["source"], from.as_str());
    assert_eq!(recorded["subject"], "Approve Jane Doe");
    assert_eq!(
        recorded["destinations"]["ToAddresses"],
        serde_json::json!(["boss@client.example"])
    );
    // moto keeps one body per message: the HTML part when there is one.
    assert_eq!(recorded["body"], mail.html.as_str());
}

#[tokio::test]
async fn ses_refuses_an_unverified_sender_as_a_rejected_message() {
    let endpoint = moto_url();
    let mailer = SesMailer::from_conf(&aws(&endpoint).await);
    let from = format!("{}@unverified.example", unique("nobody"));
    let mail = Mail::builder(&from, &["boss@client.example"], "x")
        .paragraph("y")
        .build();

    let err = mailer.send_mail(&mail).await.unwrap_err();

    assert!(
        matches!(err, Error::Rejected { service: "ses", ref code, .. } if code == "MessageRejected"),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn sns_sends_the_sms_and_moto_records_it() {
    let endpoint = moto_url();
    let texter = SnsTexter::from_conf(&aws(&endpoint).await);
    let body = unique("Your Onboard account is ready");

    let sent = texter
        .send_sms(&Sms {
            to: "+15555550123".into(),
            body: body.clone(),
        })
        .await
        .unwrap();

    let state = moto_state(&endpoint).await;
    let texts = state["sns"]["SMS"].as_array().expect("moto's SMS list");
    let recorded = texts
        .iter()
        .find(|m| m["message_id"] == sent.message_id.as_str())
        .unwrap_or_else(|| panic!("SMS {} not in moto: {texts:?}", sent.message_id));
    assert_eq!(recorded["phone_number"], "+15555550123");
    assert_eq!(recorded["message"], body.as_str());
}

#[tokio::test]
async fn ses_and_sns_each_refuse_the_other_channel_as_configuration() {
    let config = aws(&moto_url()).await;
    let sms = Sms {
        to: "+15555550123".into(),
        body: "x".into(),
    };
    let mail = Mail::builder("a@b.example", &["c@d.example"], "x").build();

    let ses = SesMailer::from_conf(&config)
        .send_sms(&sms)
        .await
        .unwrap_err();
    let sns = SnsTexter::from_conf(&config)
        .send_mail(&mail)
        .await
        .unwrap_err();

    assert!(matches!(ses, Error::Config { service: "ses", .. }));
    assert!(matches!(sns, Error::Config { service: "sns", .. }));
}
