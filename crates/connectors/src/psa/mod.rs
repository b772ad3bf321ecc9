//! The `Psa` port: the ticket every onboarding lives in — found or created, moved through statuses, noted at every step.
//!
//! Implementations: [`connectwise::ConnectWise`], [`autotask::Autotask`],
//! [`halopsa::HaloPsa`] over HTTP, and [`none::EmailOnlyPsa`] for MSPs without
//! a PSA (the notes go out as mail).
//!
//! Settings name things the way a technician sees them (`default_ticket_location`
//! = "Service Desk", `default_ticket_status` = "In Progress"); each client
//! resolves names to its PSA's ids once, caches them, and answers
//! [`Error::UnknownName`] listing the valid names when one does not exist.
//!
//! Notes are idempotent: every note ends with a marker line built from its
//! [`NoteKey`] (onboarding id + step), and the clients look for that marker on
//! the ticket before posting, so a retried step never posts twice.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::http::{HttpClient, RetryPolicy};

pub mod autotask;
pub mod connectwise;
pub mod halopsa;
pub mod none;

/// A ticket's id in its PSA (ConnectWise, Autotask and Halo use integers; kept
/// as text because it arrives from forms and configuration).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(String);

impl TicketId {
    /// Wraps an id as given (surrounding spaces removed).
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into().trim().to_owned())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as the positive integer the HTTP PSAs use, or `None` when it is not one.
    pub fn numeric(&self) -> Option<u64> {
        self.0.parse::<u64>().ok().filter(|n| *n > 0)
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<u64> for TicketId {
    fn from(id: u64) -> Self {
        Self(id.to_string())
    }
}

/// A ticket as the workflow needs to see it; names, not ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The PSA's id.
    pub id: TicketId,
    /// The one-line summary (ConnectWise `summary`, Autotask `title`, Halo `summary`).
    pub summary: String,
    /// The status name, e.g. `"In Progress"`.
    pub status: String,
    /// The board (ConnectWise), queue (Autotask) or team (Halo) name.
    pub location: String,
    /// The customer, as the PSA refers to it (see [`NewTicket::company`]).
    pub company: String,
}

/// What to open a ticket with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    /// Makes creation idempotent: a second create with the same key finds the
    /// first ticket instead of opening another. The onboarding id.
    pub key: String,
    /// The customer: the ConnectWise company identifier (`"ACME"`), the Autotask
    /// company id, or the Halo client id.
    pub company: String,
    /// Board, queue or team name (`default_ticket_location`).
    pub location: String,
    /// Initial status name (`default_ticket_status`).
    pub status: String,
    /// Priority name (`default_priority`).
    pub priority: String,
    /// One line, e.g. `"New user: Jane Doe"`.
    pub summary: String,
    /// The body of the ticket.
    pub description: String,
    /// Extra fields in the PSA's own names, for tenants that require more than
    /// the above (Autotask `issueType`, Halo `category_1`, ConnectWise `type`).
    #[serde(default)]
    pub extra_fields: serde_json::Map<String, serde_json::Value>,
}

/// Identifies one note: the onboarding it belongs to and the step that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NoteKey {
    onboarding_id: String,
    step: String,
}

impl NoteKey {
    /// A key for `step` of `onboarding_id`. Characters other than ASCII letters,
    /// digits, `-`, `_` and `.` become `-`, so the marker survives every PSA's
    /// text handling and query syntax unquoted.
    pub fn new(onboarding_id: &str, step: &str) -> Self {
        Self {
            onboarding_id: sanitize(onboarding_id),
            step: sanitize(step),
        }
    }

    /// The onboarding id part.
    pub fn onboarding_id(&self) -> &str {
        &self.onboarding_id
    }

    /// The step part.
    pub fn step(&self) -> &str {
        &self.step
    }

    /// The line appended to the note, searched for before posting.
    pub fn marker(&self) -> String {
        format!("[onboard:{}:{}]", self.onboarding_id, self.step)
    }
}

/// Keeps ASCII letters, digits, `-`, `_` and `.`; anything else becomes `-`.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// One note for a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// What makes posting it idempotent.
    pub key: NoteKey,
    /// The text a technician reads.
    pub text: String,
}

impl Note {
    /// A note with `text`, keyed by `key`.
    pub fn new(key: NoteKey, text: impl Into<String>) -> Self {
        Self {
            key,
            text: text.into(),
        }
    }

    /// The text as posted: the note, a blank line, the marker.
    pub fn body(&self) -> String {
        format!("{}\n\n{}", self.text.trim_end(), self.key.marker())
    }

    /// Whether a note already on the ticket is this one.
    pub fn is_in(&self, existing_text: &str) -> bool {
        existing_text.contains(&self.key.marker())
    }
}

/// Which kind of note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Visible to technicians only.
    Internal,
    /// The resolution / completion summary.
    Resolution,
}

/// What posting a note did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteOutcome {
    /// The note was added.
    Posted,
    /// A note with the same key was already on the ticket; nothing was added.
    AlreadyPosted,
}

/// A PSA (or the lack of one): the operations the workflow performs on tickets.
#[async_trait]
pub trait Psa: Send + Sync + fmt::Debug {
    /// The PSA's name as errors and logs carry it, e.g. `"connectwise"`.
    fn name(&self) -> &'static str;

    /// The ticket with `id`, or `None` when the PSA has none.
    async fn find_ticket(&self, id: &TicketId) -> Result<Option<Ticket>, Error>;

    /// Opens a ticket, or returns the one an earlier call with the same
    /// [`NewTicket::key`] opened.
    async fn create_ticket(&self, ticket: &NewTicket) -> Result<Ticket, Error>;

    /// Moves the ticket to the status with this name.
    async fn set_status(&self, id: &TicketId, status: &str) -> Result<(), Error>;

    /// Adds `note` unless a note with the same key is already on the ticket.
    async fn add_note(
        &self,
        id: &TicketId,
        kind: NoteKind,
        note: &Note,
    ) -> Result<NoteOutcome, Error>;

    /// Read-only preflight (`onboard check`): resolves `location` (board, queue
    /// or team), each of `statuses` and `priority` as [`Psa::create_ticket`] and
    /// [`Psa::set_status`] would, creating nothing. `Ok` holds one
    /// [`Error::UnknownName`] per name not found; `Err` is a failure to ask
    /// (sign-in refused, unreachable). A PSA with no names to check answers `Ok(vec![])`.
    async fn check_names(
        &self,
        location: &str,
        statuses: &[&str],
        priority: &str,
    ) -> Result<Vec<Error>, Error> {
        let _ = (location, statuses, priority);
        Ok(Vec::new())
    }

    /// Read-only preflight (`onboard check`): whether the PSA has the customer
    /// tickets are opened for (`company` as [`NewTicket::company`] holds it).
    /// `Ok(Some(Error::UnknownName))` when it does not; `Err` is a failure to ask.
    async fn check_company(&self, company: &str) -> Result<Option<Error>, Error> {
        let _ = company;
        Ok(None)
    }

    /// Adds an internal (technicians only) note, once.
    async fn add_internal_note(&self, id: &TicketId, note: &Note) -> Result<NoteOutcome, Error> {
        self.add_note(id, NoteKind::Internal, note).await
    }

    /// Adds the resolution / completion note, once.
    async fn add_resolution_note(&self, id: &TicketId, note: &Note) -> Result<NoteOutcome, Error> {
        self.add_note(id, NoteKind::Resolution, note).await
    }
}

/// Which PSA an organization uses: the `default_psa` variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PsaKind {
    /// ConnectWise Manage (ConnectWise PSA).
    ConnectWise,
    /// Autotask (Datto Autotask PSA).
    Autotask,
    /// HaloPSA.
    HaloPsa,
    /// No PSA: notes are mailed to the team.
    None,
}

impl FromStr for PsaKind {
    type Err = String;

    /// Reads `default_psa`, forgiving case, spaces and the vendors' long names.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let squashed: String = value
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match squashed.as_str() {
            "connectwise" | "connectwisemanage" | "connectwisepsa" | "cw" | "manage" => {
                Ok(Self::ConnectWise)
            }
            "autotask" | "dattoautotask" | "autotaskpsa" => Ok(Self::Autotask),
            "halopsa" | "halo" => Ok(Self::HaloPsa),
            "none" | "email" | "" => Ok(Self::None),
            _ => Err(format!(
                "default_psa '{value}' is not one of connectwise, autotask, halopsa, none"
            )),
        }
    }
}

/// The connection settings of every PSA the MSP uses (the `[psa]` section);
/// only the one an organization selects must be present.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PsaSettings {
    /// `[psa.connectwise]`.
    pub connectwise: Option<connectwise::ConnectWiseConfig>,
    /// `[psa.autotask]`.
    pub autotask: Option<autotask::AutotaskConfig>,
    /// `[psa.halopsa]`.
    pub halopsa: Option<halopsa::HaloConfig>,
    /// Where the "none" PSA mails notes (the team behind `send_from_address`).
    pub notes_mail_to: Option<String>,
}

/// Builds the PSA client `kind` names from `settings`, or a `Config` error
/// naming the missing section. The "none" PSA needs `mailer`.
pub fn connect(
    kind: PsaKind,
    settings: &PsaSettings,
    policy: &RetryPolicy,
    mailer: Option<Arc<dyn none::NoteMailer>>,
) -> Result<Arc<dyn Psa>, Error> {
    fn missing(service: &'static str, detail: &str) -> Error {
        Error::Config {
            service,
            detail: detail.to_owned(),
        }
    }
    Ok(match kind {
        PsaKind::ConnectWise => {
            let config = settings
                .connectwise
                .clone()
                .ok_or_else(|| missing("connectwise", "[psa.connectwise] is not configured"))?;
            Arc::new(connectwise::ConnectWise::new(
                config,
                HttpClient::new("connectwise", policy.clone())?,
            ))
        }
        PsaKind::Autotask => {
            let config = settings
                .autotask
                .clone()
                .ok_or_else(|| missing("autotask", "[psa.autotask] is not configured"))?;
            Arc::new(autotask::Autotask::new(
                config,
                HttpClient::new("autotask", policy.clone())?,
            ))
        }
        PsaKind::HaloPsa => {
            let config = settings
                .halopsa
                .clone()
                .ok_or_else(|| missing("halopsa", "[psa.halopsa] is not configured"))?;
            Arc::new(halopsa::HaloPsa::new(
                config,
                HttpClient::new("halopsa", policy.clone())?,
            ))
        }
        PsaKind::None => {
            let to = settings
                .notes_mail_to
                .clone()
                .ok_or_else(|| missing("none", "psa.notes_mail_to is not configured"))?;
            let mailer =
                mailer.ok_or_else(|| missing("none", "the email-only PSA needs a mailer"))?;
            Arc::new(none::EmailOnlyPsa::new(mailer, to))
        }
    })
}

/// One id/name pair of a PSA's lookup list (boards, statuses, priorities, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) id: i64,
    pub(crate) name: String,
}

/// Splits [`resolve`]'s answers for [`Psa::check_names`]: an unknown name is a
/// finding, any other error ends the check.
pub(crate) fn finding<T>(
    found: Result<T, Error>,
    into: &mut Vec<Error>,
) -> Result<Option<T>, Error> {
    match found {
        Ok(v) => Ok(Some(v)),
        Err(e @ Error::UnknownName { .. }) => {
            into.push(e);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The id of `name` in `options` (case-insensitive, surrounding spaces ignored),
/// or [`Error::UnknownName`] listing the valid names.
pub(crate) fn resolve(
    service: &'static str,
    kind: &'static str,
    name: &str,
    options: &[Named],
) -> Result<i64, Error> {
    let wanted = name.trim();
    options
        .iter()
        .find(|option| option.name.trim().eq_ignore_ascii_case(wanted))
        .map(|option| option.id)
        .ok_or_else(|| Error::UnknownName {
            service,
            kind,
            name: wanted.to_owned(),
            valid: options.iter().map(|option| option.name.clone()).collect(),
        })
}

/// The name of `id` in `options`, or the id itself when the list lacks it.
pub(crate) fn name_of(id: i64, options: &[Named]) -> String {
    options
        .iter()
        .find(|option| option.id == id)
        .map_or_else(|| id.to_string(), |option| option.name.clone())
}

/// The numeric id of a ticket, or `NotFound` (a PSA cannot have a ticket whose
/// id is not a positive integer).
pub(crate) fn numeric_id(service: &'static str, id: &TicketId) -> Result<u64, Error> {
    id.numeric().ok_or_else(|| Error::NotFound {
        service,
        what: format!("ticket '{id}'"),
    })
}

/// Joins a base URL and a relative path with exactly one slash.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// A JSON value as an integer id, whether the PSA sent a number or a numeric string.
pub(crate) fn as_id(value: &serde_json::Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Reads a success body as JSON, or a `Protocol` error naming what was expected.
pub(crate) async fn json_body(
    service: &'static str,
    response: reqwest::Response,
    expected: &str,
) -> Result<serde_json::Value, Error> {
    let text = response.text().await.map_err(|source| Error::Transport {
        service,
        source: source.without_url(),
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Protocol {
        service,
        detail: format!("{expected}: {e}"),
    })
}

/// At most `max` characters of an error text, so a proxy's HTML page cannot
/// flood a message.
pub(crate) fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_keys_keep_only_marker_safe_characters() {
        let key = NoteKey::new("onb 42/x", "create_user\"");

        assert_eq!(key.marker(), "[onboard:onb-42-x:create_user-]");
    }

    #[test]
    fn a_note_recognises_its_own_posted_body_and_not_another_steps() {
        let note = Note::new(NoteKey::new("onb-1", "license"), "License assigned.\n");
        let other = Note::new(NoteKey::new("onb-1", "groups"), "Groups added.");

        let posted = note.body();

        assert_eq!(posted, "License assigned.\n\n[onboard:onb-1:license]");
        assert!(note.is_in(&posted));
        assert!(!other.is_in(&posted));
    }

    #[test]
    fn resolving_an_unknown_name_lists_the_valid_ones() {
        let options = vec![
            Named {
                id: 1,
                name: "New".into(),
            },
            Named {
                id: 5,
                name: "Complete".into(),
            },
        ];

        let found = resolve("autotask", "status", " complete ", &options);
        let missing = resolve("autotask", "status", "Done", &options).unwrap_err();

        assert_eq!(found.unwrap(), 5);
        assert_eq!(
            missing.to_string(),
            "autotask: no status named 'Done'; valid: New, Complete"
        );
    }

    #[test]
    fn default_psa_values_are_read_forgivingly_and_unknown_ones_are_named() {
        assert_eq!("ConnectWise Manage".parse(), Ok(PsaKind::ConnectWise));
        assert_eq!("autotask".parse(), Ok(PsaKind::Autotask));
        assert_eq!("Halo PSA".parse(), Ok(PsaKind::HaloPsa));
        assert_eq!("None".parse(), Ok(PsaKind::None));
        let err = "ServiceNow".parse::<PsaKind>().unwrap_err();
        assert!(err.contains("'ServiceNow'"), "{err}");
    }

    #[test]
    fn connecting_to_an_unconfigured_psa_names_the_missing_section() {
        let err = connect(
            PsaKind::Autotask,
            &PsaSettings::default(),
            &RetryPolicy::default(),
            None,
        )
        .unwrap_err();

        assert_eq!(
            err.to_string(),
            "autotask: configuration: [psa.autotask] is not configured"
        );
    }

    #[test]
    fn ticket_ids_that_are_not_positive_integers_are_not_numeric() {
        assert_eq!(TicketId::new(" 123 ").numeric(), Some(123));
        assert_eq!(TicketId::new("0").numeric(), None);
        assert_eq!(TicketId::new("T2024.1").numeric(), None);
    }

    #[test]
    fn clipping_keeps_short_texts_and_cuts_long_ones_on_a_character_boundary() {
        assert_eq!(clip(" short ", 10), "short");
        assert_eq!(clip("ééééé", 3), "ééé...");
    }
}
