//! The sandbox's notifier: keeps messages in memory instead of sending them.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::Serialize;

use super::{Mail, Notifier, Sent, Sms};
use crate::error::Error;

const SERVICE: &str = "outbox";

/// How a message went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Mail.
    Email,
    /// Text message.
    Sms,
}

/// One kept message; serializes to the `GET /sandbox/outbox` item shape
/// (`channel`, `to`, `subject`, `body`, `sent_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    /// Mail or SMS.
    pub channel: Channel,
    /// Addresses or phone numbers.
    pub to: Vec<String>,
    /// The subject; `None` for SMS.
    pub subject: Option<String>,
    /// The text body (for mail, the text part, which carries every link).
    pub body: String,
    /// The HTML part of a mail (not part of the outbox listing).
    #[serde(skip)]
    pub html: Option<String>,
    /// When it was "sent".
    pub sent_at: jiff::Timestamp,
    /// The id handed back to the caller.
    #[serde(skip)]
    pub message_id: String,
}

type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;
type Observer = Arc<dyn Fn(&OutboxEntry) + Send + Sync>;

/// A notifier that records instead of sending. Its clock is injectable (the
/// local runtime's virtual clock); an observer can mirror each message
/// elsewhere (the wiring feeds the sandbox's `/sandbox/outbox`).
#[derive(Clone)]
pub struct MemoryOutbox {
    entries: Arc<Mutex<Vec<OutboxEntry>>>,
    clock: Clock,
    observer: Option<Observer>,
}

impl std::fmt::Debug for MemoryOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryOutbox")
            .field("entries", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryOutbox {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryOutbox {
    /// An empty outbox on the real clock.
    pub fn new() -> Self {
        Self {
            entries: Arc::default(),
            clock: Arc::new(jiff::Timestamp::now),
            observer: None,
        }
    }

    /// Stamps messages with `clock` instead of the real time.
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> jiff::Timestamp + Send + Sync + 'static,
    ) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Calls `observer` with every recorded message.
    pub fn with_observer(
        mut self,
        observer: impl Fn(&OutboxEntry) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Every message, oldest first.
    pub fn entries(&self) -> Vec<OutboxEntry> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<OutboxEntry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, entry: OutboxEntry) -> Sent {
        let sent = Sent {
            message_id: entry.message_id.clone(),
        };
        if let Some(observer) = &self.observer {
            observer(&entry);
        }
        self.lock().push(entry);
        sent
    }
}

#[async_trait]
impl Notifier for MemoryOutbox {
    async fn send_mail(&self, mail: &Mail) -> Result<Sent, Error> {
        mail.check(SERVICE)?;
        Ok(self.record(OutboxEntry {
            channel: Channel::Email,
            to: mail.to.clone(),
            subject: Some(mail.subject.clone()),
            body: mail.text.clone(),
            html: Some(mail.html.clone()),
            sent_at: (self.clock)(),
            message_id: uuid::Uuid::new_v4().to_string(),
        }))
    }

    async fn send_sms(&self, sms: &Sms) -> Result<Sent, Error> {
        sms.check(SERVICE)?;
        Ok(self.record(OutboxEntry {
            channel: Channel::Sms,
            to: vec![sms.to.clone()],
            subject: None,
            body: sms.body.clone(),
            html: None,
            sent_at: (self.clock)(),
            message_id: uuid::Uuid::new_v4().to_string(),
        }))
    }
}
