//! No secret in logs, step outputs, the timeline or the record: the password and the
//! task tokens are checked against everything captured at TRACE level.
//!
//! A binary of its own: tracing caches which call sites are enabled process-wide,
//! so a capturing subscriber beside other tests running in parallel misses lines.

#![allow(clippy::unwrap_used, unreachable_pub, dead_code)] // Test code.

#[path = "steps/support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use support::{Env, password_in_notes};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_secret_reaches_a_log_line_an_output_or_the_record() {
    let logs = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = Env::new().await;
    env.set_variables(&[
        ("require_approval_for_new_users", "1"),
        ("new_user_approval_email", "hr@contoso.com"),
        ("onboarding_password_save_location", "itglue"),
    ])
    .await;
    env.submit(
        "ob-sec",
        json!({"licenses": ["SPB"], "mobile_phone": "+14155550123", "send_credentials_to": "both"}),
    )
    .await;
    let id = json!({"onboarding_id": "ob-sec"});
    let mut outputs = Vec::new();
    outputs.push(env.ok("Validate", id.clone()).await);
    outputs.push(env.ok("EnsureTicket", id.clone()).await);
    let approval_token = "approval-token-9f8e7d6c5b4a";
    outputs.push(
        env.ok(
            "RequestApproval",
            json!({"onboarding_id": "ob-sec", "task_token": approval_token, "timeout_seconds": 600}),
        )
        .await,
    );
    outputs.push(env.ok("CreateUser", id.clone()).await);
    outputs.push(
        env.ok(
            "AssignLicense",
            json!({"onboarding_id": "ob-sec", "after_purchase": false}),
        )
        .await,
    );
    let purchase_token = "purchase-token-1a2b3c4d5e6f";
    outputs.push(
        env.ok(
            "RequestLicensePurchase",
            json!({"onboarding_id": "ob-sec", "task_token": purchase_token, "timeout_seconds": 600}),
        )
        .await,
    );
    outputs.push(env.ok("AddGroups", id.clone()).await);
    outputs.push(env.ok("DeliverCredentials", id.clone()).await);
    outputs.push(env.ok("Complete", id).await);

    let password = password_in_notes(&env.note_texts()).expect("password note");
    assert!(password.len() >= 16);
    let secrets = [password.as_str(), approval_token, purchase_token];

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("step=\"create_user\""), "the capture works");
    let outputs = serde_json::to_string(&outputs).unwrap();
    let record = serde_json::to_string(&env.record("ob-sec").await).unwrap();
    let timeline = env.timeline("ob-sec").await.join("\n");
    for secret in secrets {
        assert!(!logs.contains(secret), "a log line carries a secret");
        assert!(!outputs.contains(secret), "a step output carries a secret");
        assert!(!record.contains(secret), "the record carries a secret");
        assert!(!timeline.contains(secret), "the timeline carries a secret");
    }
    // The secret went where it was configured, and only there.
    assert_eq!(env.itglue.passwords()[0].password, password);
    assert!(env.mails().iter().any(|m| m.body.contains(&password)));
}
