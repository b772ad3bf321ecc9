//! One run of a workflow, as every step loads it: [`Workflow`] is what a kind of
//! request (an onboarding, an offboarding, ...) says about itself, and `Case` is
//! one record of that kind with its parsed request, variables and organization, and
//! the ticket, note and record helpers every step uses.
//!
//! The steps both workflows have ([`crate::ensure_ticket`], [`crate::close_request`],
//! [`crate::mark_scheduled`], [`crate::handle_failure`], the completion in
//! [`crate::onboarding::complete`], [`crate::intake`]) are written once, generic over the kind;
//! a third kind implements [`Workflow`] and gets them.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use jiff::Timestamp;
use onboard_connectors::graph::Directory;
use onboard_connectors::psa::{Note, NoteKey, NoteOutcome, Psa};
use onboard_domain::request::TicketId;
use onboard_domain::values::{EmailAddress, TimeZoneName};
use onboard_domain::{DomainError, Variables};
use onboard_store::{Record, RecordKind, Status};
use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::context::{
    Ticketed, internal_note, load_record, record_event, resolution_note, set_ticket_status,
    ticket_of,
};
use crate::deps::{Deps, Organization};
use crate::error::{Port, StepError};

/// The log names of the steps every workflow has, as its state machine calls them
/// (they key timeline lines, notes and remembered results, so they never change).
#[derive(Debug, Clone, Copy)]
pub struct SharedSteps {
    /// Finds or opens the ticket (`ensure_ticket`).
    pub ensure_ticket: &'static str,
    /// Asks the approvers (`request_approval`).
    pub request_approval: &'static str,
    /// Ends a request that was not approved (`close_request`).
    pub close: &'static str,
    /// Enters the scheduled wait (`mark_scheduled`).
    pub mark_scheduled: &'static str,
    /// Completes the run (`complete`).
    pub complete: &'static str,
    /// Records a failure (`handle_failure`).
    pub handle_failure: &'static str,
}

/// What a kind of request says about itself, so the shared steps can run it.
pub trait Workflow: fmt::Debug + Sized + Send + Sync + 'static {
    /// The records of this kind.
    const KIND: RecordKind;
    /// `onboarding`: in messages, and the idempotency scope of the API.
    const NOUN: &'static str = Self::KIND.as_str();
    /// `Onboarding`: at the start of mail subjects.
    const TITLE: &'static str = Self::KIND.title();
    /// The id field of the execution input and of the steps' inputs: `onboarding_id`.
    const ID_FIELD: &'static str;
    /// The plan's name for the date the run waits for (`start_at`, `run_at`).
    const SCHEDULED_FIELD: &'static str;
    /// The shared steps' log names.
    const STEPS: SharedSteps;
    /// The timeline line of a denied request.
    const DENIED: &'static str;
    /// The timeline line of a request nobody decided.
    const TIMED_OUT: &'static str;
    /// Whether a form of this kind may name a template ([`crate::templates`]).
    const TEMPLATED: bool = false;

    /// Parses a stored or submitted form with the organization's variables.
    fn parse(form: &Value, variables: &Variables) -> Result<Self, DomainError>;

    /// The organization the form names.
    fn organization(&self) -> &str;

    /// When the form asks the run to go on (the start date, the scheduled time), if it does.
    fn scheduled_at(&self) -> Option<Timestamp>;

    /// The ticket the form names, if any.
    fn ticket_id(&self) -> Option<&TicketId>;

    /// Whom the run is about, in subjects and lines: a display name, a UPN.
    fn subject(&self) -> &str;

    /// The record's first status, once the plan is checked (a schedule the
    /// execution cannot wait for is a field error).
    fn first_status(&self, variables: &Variables, now: Timestamp) -> Result<Status, StepError>;

    /// The summary of a ticket Onboard opens.
    fn ticket_summary(&self) -> String;

    /// The note that says what the run will do (a new ticket's description).
    fn started_note(&self, variables: &Variables, now: Timestamp) -> String;

    /// The note of an approval nobody gave within `hours`.
    fn approval_timed_out_note(&self, hours: u32) -> String;

    /// The note of an approval `by` someone gave (`approved`) or refused.
    fn approval_decided_note(&self, approved: bool, by: &str) -> String;

    /// The note and the timeline line of a run waiting until `at`.
    fn scheduled(&self, at: Timestamp, time_zone: &TimeZoneName) -> (String, String);

    /// The variable that lists this kind's approvers, and the switch that requires them.
    const APPROVAL_VARIABLES: (&'static str, &'static str);

    /// This kind's approvers.
    fn approvers(variables: &Variables) -> &[EmailAddress];

    /// The note of an approval asked for until `expires_at` (also the approval mail's end).
    fn approval_requested_note(&self, variables: &Variables, expires_at: Timestamp) -> String;

    /// The approval mail's subject (a `reminder`'s, or the request's) and its first line.
    fn approval_mail(&self, organization: &str, reminder: bool) -> (String, String);

    /// What the run will do, as the approval mail lists it (after its first line).
    fn what_it_does(&self) -> String;

    /// What the run's Validate warned of (a start date that will be ignored, ...),
    /// once it has run; the ticket is noted with it.
    fn planned_warnings(
        deps: &Deps,
        id: &str,
    ) -> impl Future<Output = Result<Vec<String>, StepError>> + Send;
}

/// Runs `$body` with `$W` the [`Workflow`] of record kind `$kind` (a stored
/// record's kind, read at run time).
macro_rules! for_kind {
    ($kind:expr, $W:ident => $body:expr) => {
        match $kind {
            onboard_store::RecordKind::Onboarding => {
                type $W = onboard_domain::OnboardingRequest;
                $body
            }
            onboard_store::RecordKind::Offboarding => {
                type $W = onboard_domain::OffboardingRequest;
                $body
            }
        }
    };
}
pub(crate) use for_kind;

/// One record of kind `W`, loaded for a step.
pub(crate) struct Case<W> {
    /// The record as it was when the step started.
    pub(crate) record: Record,
    /// The request, parsed with the organization's current variables.
    pub(crate) request: W,
    /// The organization's variables.
    pub(crate) variables: Variables,
    /// The organization.
    pub(crate) organization: Organization,
}

impl<W: Workflow> Case<W> {
    /// Loads record `id`: an unknown id or another kind is `Request.Invalid`.
    pub(crate) async fn load(deps: &Deps, id: &str) -> Result<Self, StepError> {
        let (record, variables, organization) = load_record(deps, id, W::KIND).await?;
        let request = W::parse(&record.request, &variables)?;
        Ok(Self {
            record,
            request,
            variables,
            organization,
        })
    }

    /// The record id.
    pub(crate) fn id(&self) -> &str {
        &self.record.id
    }

    /// The organization's directory.
    pub(crate) async fn directory(&self, deps: &Deps) -> Result<Arc<dyn Directory>, StepError> {
        deps.connections.directory(&self.organization).await
    }

    /// The organization's PSA, or `None` when nothing is ticketed.
    pub(crate) async fn psa(&self, deps: &Deps) -> Result<Option<Arc<dyn Psa>>, StepError> {
        deps.connections
            .psa(&self.organization, self.variables.default_psa)
            .await
    }

    /// The PSA and the ticket, once [`crate::ensure_ticket`] has found or made one.
    pub(crate) async fn ticket(&self, deps: &Deps) -> Result<Ticketed, StepError> {
        Ok(ticket_of(self.psa(deps).await?, &self.record))
    }

    /// Adds an internal note keyed by `part` (a retried step finds its note and
    /// does not post again). No ticket, no note.
    pub(crate) async fn note(
        &self,
        deps: &Deps,
        part: &str,
        text: &str,
    ) -> Result<Option<NoteOutcome>, StepError> {
        internal_note(self.ticket(deps).await?, self.id(), part, text).await
    }

    /// Adds a note whose text is a secret (the password, when the organization
    /// stores it in the ticket). The text leaves the process only to the PSA.
    pub(crate) async fn secret_note(
        &self,
        deps: &Deps,
        part: &str,
        text: &SecretString,
    ) -> Result<bool, StepError> {
        let Some((psa, ticket)) = self.ticket(deps).await? else {
            return Ok(false);
        };
        let note = Note::new(NoteKey::new(self.id(), part), text.expose_secret());
        psa.add_internal_note(&ticket, &note)
            .await
            .map_err(|e| StepError::connector(Port::Psa, e))?;
        Ok(true)
    }

    /// Adds the resolution note keyed by `part`.
    pub(crate) async fn resolution_note(
        &self,
        deps: &Deps,
        part: &str,
        text: &str,
    ) -> Result<(), StepError> {
        resolution_note(self.ticket(deps).await?, self.id(), part, text).await
    }

    /// Moves the ticket to the status a variable names; nothing when the
    /// variable is unset or there is no ticket.
    pub(crate) async fn set_ticket_status(
        &self,
        deps: &Deps,
        status: Option<&str>,
    ) -> Result<(), StepError> {
        set_ticket_status(self.ticket(deps).await?, status).await
    }

    /// Updates the record with `status` (if any) and a timeline event for `step`.
    /// The event is written once per `(step, message)`: a retried step that says
    /// the same thing again adds no second line.
    pub(crate) async fn record(
        &self,
        deps: &Deps,
        step: &str,
        status: Option<Status>,
        message: &str,
    ) -> Result<(), StepError> {
        record_event(deps, self.id(), step, status, message).await
    }
}

/// The input of a step that needs only the record: `{"onboarding_id": "..."}` for an
/// onboarding, `{"offboarding_id": "..."}` for an offboarding ([`Workflow::ID_FIELD`]).
/// Other fields are ignored, so it can be `#[serde(flatten)]`ed into a larger input.
pub struct CaseId<W> {
    /// The record's id.
    pub id: String,
    kind: PhantomData<fn() -> W>,
}

impl<W> CaseId<W> {
    /// The input naming record `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: PhantomData,
        }
    }
}

impl<W> Clone for CaseId<W> {
    fn clone(&self) -> Self {
        Self::new(self.id.clone())
    }
}

impl<W> PartialEq for CaseId<W> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<W> Eq for CaseId<W> {}

impl<W: Workflow> fmt::Debug for CaseId<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaseId")
            .field(W::ID_FIELD, &self.id)
            .finish()
    }
}

impl<W: Workflow> Serialize for CaseId<W> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(W::ID_FIELD, &self.id)?;
        map.end()
    }
}

impl<'de, W: Workflow> Deserialize<'de> for CaseId<W> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<W>(PhantomData<fn() -> W>);

        impl<'de, W: Workflow> Visitor<'de> for Fields<W> {
            type Value = CaseId<W>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an object with `{}`", W::ID_FIELD)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut id = None;
                while let Some(field) = map.next_key::<String>()? {
                    if field == W::ID_FIELD {
                        if id.is_some() {
                            return Err(de::Error::duplicate_field(W::ID_FIELD));
                        }
                        id = Some(map.next_value::<String>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                id.map(CaseId::new)
                    .ok_or_else(|| de::Error::missing_field(W::ID_FIELD))
            }
        }

        deserializer.deserialize_map(Fields(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use onboard_domain::{OffboardingRequest, OnboardingRequest};

    use super::*;

    #[test]
    fn a_case_id_reads_and_writes_its_kinds_field() {
        let on: CaseId<OnboardingRequest> =
            serde_json::from_value(serde_json::json!({"onboarding_id": "a", "step": "x"})).unwrap();
        assert_eq!(on.id, "a");
        assert_eq!(
            serde_json::to_value(&on).unwrap(),
            serde_json::json!({"onboarding_id": "a"})
        );
        let off: CaseId<OffboardingRequest> =
            serde_json::from_value(serde_json::json!({"offboarding_id": "b"})).unwrap();
        assert_eq!(off.id, "b");
    }

    #[test]
    fn a_case_id_of_the_other_kind_is_refused_by_name() {
        let wrong = serde_json::from_value::<CaseId<OffboardingRequest>>(
            serde_json::json!({"onboarding_id": "a"}),
        )
        .unwrap_err();
        assert!(
            wrong.to_string().contains("missing field `offboarding_id`"),
            "{wrong}"
        );
        let twice = serde_json::from_str::<CaseId<OnboardingRequest>>(
            r#"{"onboarding_id": "a", "onboarding_id": "b"}"#,
        )
        .unwrap_err();
        assert!(twice.to_string().contains("duplicate field"), "{twice}");
    }

    #[test]
    fn a_flattened_case_id_leaves_the_other_fields_to_its_input() {
        #[derive(Deserialize)]
        struct Input {
            #[serde(flatten)]
            case: CaseId<OnboardingRequest>,
            step: String,
        }
        let input: Input =
            serde_json::from_value(serde_json::json!({"onboarding_id": "a", "step": "x"})).unwrap();
        assert_eq!((input.case.id.as_str(), input.step.as_str()), ("a", "x"));
    }
}
