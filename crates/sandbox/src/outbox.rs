//! The sandbox outbox: mail and SMS the local runtime "sent", shown at `GET /sandbox/outbox`.
//!
//! Nothing leaves the machine in the sandbox; the notifier records each message
//! here instead, and a newcomer (or a test) reads them back, oldest first, in
//! the shape CONTRACT.md §2 fixes:
//! `[{"channel": "email"|"sms", "to": [...], "subject": ..., "body": ..., "sent_at": ...}]`.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// How a message went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Mail.
    Email,
    /// Text message.
    Sms,
}

/// One message as `GET /sandbox/outbox` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Mail or SMS.
    pub channel: Channel,
    /// Mail addresses or E.164 phone numbers.
    pub to: Vec<String>,
    /// The mail subject; `null` for SMS.
    pub subject: Option<String>,
    /// The plain-text body (for mail, the text part: it carries every link too).
    pub body: String,
    /// When it was sent (RFC 3339).
    pub sent_at: jiff::Timestamp,
}

/// The outbox: a cloneable handle on the messages, in the order they were recorded.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    messages: Arc<Mutex<Vec<OutboxMessage>>>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a sent message.
    pub fn push(&self, message: OutboxMessage) {
        self.lock().push(message);
    }

    /// Every message, oldest first (by `sent_at`; ties keep the order they were
    /// recorded in, because a virtual clock may stamp several with one instant).
    pub fn messages(&self) -> Vec<OutboxMessage> {
        let mut messages = self.lock().clone();
        messages.sort_by_key(|m| m.sent_at);
        messages
    }

    /// Forgets every message.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<OutboxMessage>> {
        // A push cannot leave the vector half-written; a poisoned lock is still usable.
        self.messages.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `GET /` listing the outbox, to be nested at `/sandbox/outbox`.
pub fn router(outbox: Outbox) -> Router {
    Router::new().route("/", get(list)).with_state(outbox)
}

async fn list(State(outbox): State<Outbox>) -> Json<Vec<OutboxMessage>> {
    Json(outbox.messages())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(channel: Channel, to: &str, at: i64) -> OutboxMessage {
        OutboxMessage {
            channel,
            to: vec![to.into()],
            subject: (channel == Channel::Email).then(|| "Welcome".into()),
            body: "hello".into(),
            sent_at: jiff::Timestamp::from_second(at).unwrap(),
        }
    }

    #[tokio::test]
    async fn the_outbox_lists_messages_oldest_first_in_the_contract_shape() {
        let outbox = Outbox::new();
        outbox.push(message(Channel::Sms, "+15555550100", 2_000_000_000));
        outbox.push(message(
            Channel::Email,
            "boss@client.example",
            1_900_000_000,
        ));
        let app = Router::new().nest("/sandbox/outbox", router(outbox));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let body: serde_json::Value = reqwest::get(format!("http://{addr}/sandbox/outbox"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();

        assert_eq!(
            body,
            serde_json::json!([
                {"channel": "email", "to": ["boss@client.example"], "subject": "Welcome",
                 "body": "hello", "sent_at": "2030-03-17T17:46:40Z"},
                {"channel": "sms", "to": ["+15555550100"], "subject": null,
                 "body": "hello", "sent_at": "2033-05-18T03:33:20Z"}
            ])
        );
    }
}
