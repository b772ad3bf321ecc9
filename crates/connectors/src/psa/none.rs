//! The "none" PSA (`default_psa = "none"`): no ticket system, so the ticket's notes go out as mail to the MSP's team.
//!
//! It sends through [`NoteMailer`], a one-method local port. The `Notifier`
//! port (module `notify`) is written alongside; wiring it in is one adapter,
//! `impl NoteMailer for` the notifier, at integration.
//!
//! Idempotency: mail cannot be searched before sending, so this PSA remembers
//! the keys it has sent *in this process*. A retry inside one process (the
//! local runtime) sends once; a retry in a new Lambda instance may send again.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::{NewTicket, Note, NoteKind, NoteOutcome, Psa, Ticket, TicketId, sanitize};
use crate::error::Error;

/// Sends one plain-text mail. The seam between this PSA and the `Notifier` port.
#[async_trait]
pub trait NoteMailer: Send + Sync + fmt::Debug {
    /// Sends `body` under `subject` to `to`.
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), Error>;
}

/// The PSA of MSPs without one: a ticket is a mail thread, a note is a mail.
#[derive(Debug)]
pub struct EmailOnlyPsa {
    mailer: Arc<dyn NoteMailer>,
    to: String,
    /// Keys already mailed by this process (ticket keys and note markers).
    sent: Mutex<HashSet<String>>,
}

impl EmailOnlyPsa {
    /// Mails the notes to `to` (the team behind `send_from_address`).
    pub fn new(mailer: Arc<dyn NoteMailer>, to: impl Into<String>) -> Self {
        Self {
            mailer,
            to: to.into(),
            sent: Mutex::new(HashSet::new()),
        }
    }

    fn first_time(&self, key: String) -> bool {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key)
    }

    fn forget(&self, key: &str) {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

#[async_trait]
impl Psa for EmailOnlyPsa {
    fn name(&self) -> &'static str {
        "none"
    }

    /// There is no ticket system to look in: no ticket is ever found, so the
    /// workflow opens its mail thread with [`Psa::create_ticket`].
    async fn find_ticket(&self, _id: &TicketId) -> Result<Option<Ticket>, Error> {
        Ok(None)
    }

    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, Error> {
        let id = TicketId::new(format!("onboard-{}", sanitize(&new.key)));
        let ticket = Ticket {
            id: id.clone(),
            summary: new.summary.clone(),
            status: new.status.clone(),
            location: new.location.clone(),
            company: new.company.clone(),
        };
        let key = format!("ticket:{id}");
        if self.first_time(key.clone()) {
            let subject = format!("[{id}] {}", new.summary);
            if let Err(e) = self.mailer.send(&self.to, &subject, &new.description).await {
                self.forget(&key);
                return Err(e);
            }
        }
        Ok(ticket)
    }

    /// Statuses exist only in a PSA; a status change is not worth a mail.
    async fn set_status(&self, _id: &TicketId, _status: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn add_note(
        &self,
        id: &TicketId,
        kind: NoteKind,
        note: &Note,
    ) -> Result<NoteOutcome, Error> {
        let key = note.key.marker();
        if !self.first_time(key.clone()) {
            return Ok(NoteOutcome::AlreadyPosted);
        }
        let label = match kind {
            NoteKind::Internal => "note",
            NoteKind::Resolution => "completed",
        };
        let subject = format!("[{id}] {label}: {}", note.key.step());
        match self.mailer.send(&self.to, &subject, &note.body()).await {
            Ok(()) => Ok(NoteOutcome::Posted),
            Err(e) => {
                // Not sent: a retry must try again.
                self.forget(&key);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psa::NoteKey;

    #[derive(Debug, Default)]
    struct Outbox {
        mails: Mutex<Vec<(String, String, String)>>,
        fail_next: Mutex<bool>,
    }

    #[async_trait]
    impl NoteMailer for Outbox {
        async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), Error> {
            if std::mem::take(&mut *self.fail_next.lock().unwrap()) {
                return Err(Error::Unavailable {
                    service: "mail",
                    status: 503,
                    attempts: 1,
                });
            }
            self.mails
                .lock()
                .unwrap()
                .push((to.into(), subject.into(), body.into()));
            Ok(())
        }
    }

    fn new_ticket() -> NewTicket {
        NewTicket {
            key: "onb-9".into(),
            company: "Acme".into(),
            location: "Service Desk".into(),
            status: "New".into(),
            priority: "Medium".into(),
            summary: "New user: Jane Doe".into(),
            description: "Onboarding requested.".into(),
            extra_fields: serde_json::Map::new(),
        }
    }

    #[tokio::test]
    async fn a_created_ticket_is_one_mail_to_the_team_even_when_created_twice() {
        let outbox = Arc::new(Outbox::default());
        let psa = EmailOnlyPsa::new(outbox.clone(), "helpdesk@msp.test");

        let first = psa.create_ticket(&new_ticket()).await.unwrap();
        let second = psa.create_ticket(&new_ticket()).await.unwrap();

        assert_eq!(first.id, second.id);
        assert_eq!(first.id.as_str(), "onboard-onb-9");
        let mails = outbox.mails.lock().unwrap().clone();
        assert_eq!(
            mails,
            vec![(
                "helpdesk@msp.test".to_owned(),
                "[onboard-onb-9] New user: Jane Doe".to_owned(),
                "Onboarding requested.".to_owned()
            )]
        );
    }

    #[tokio::test]
    async fn a_retried_note_is_mailed_once_and_a_failed_one_is_mailed_on_retry() {
        let outbox = Arc::new(Outbox::default());
        let psa = EmailOnlyPsa::new(outbox.clone(), "helpdesk@msp.test");
        let id = TicketId::new("onboard-onb-9");
        let note = Note::new(NoteKey::new("onb-9", "license"), "Licensed.");
        let other = Note::new(NoteKey::new("onb-9", "complete"), "Done.");
        *outbox.fail_next.lock().unwrap() = true;

        let failed = psa.add_internal_note(&id, &note).await;
        let posted = psa.add_internal_note(&id, &note).await.unwrap();
        let again = psa.add_internal_note(&id, &note).await.unwrap();
        psa.add_resolution_note(&id, &other).await.unwrap();

        assert!(failed.is_err());
        assert_eq!(
            (posted, again),
            (NoteOutcome::Posted, NoteOutcome::AlreadyPosted)
        );
        let mails = outbox.mails.lock().unwrap().clone();
        assert_eq!(mails.len(), 2);
        assert_eq!(mails[0].1, "[onboard-onb-9] note: license");
        assert!(mails[0].2.ends_with("[onboard:onb-9:license]"));
        assert_eq!(mails[1].1, "[onboard-onb-9] completed: complete");
    }

    #[tokio::test]
    async fn no_ticket_is_ever_found_and_status_changes_send_nothing() {
        let outbox = Arc::new(Outbox::default());
        let psa = EmailOnlyPsa::new(outbox.clone(), "helpdesk@msp.test");

        let found = psa.find_ticket(&TicketId::new("123")).await.unwrap();
        psa.set_status(&TicketId::new("123"), "Closed")
            .await
            .unwrap();

        assert_eq!(found, None);
        assert!(outbox.mails.lock().unwrap().is_empty());
    }
}
