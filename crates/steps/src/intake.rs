//! Accepting a form: what `POST /api/onboardings` and `POST /api/offboardings` do
//! before they start an execution, for any [`Workflow`].
//!
//! [`check`] fills the form from the template it names (an onboarding's
//! `template`), parses it once with the organization's variables and plans it; a
//! bad form is [`StepError::InvalidRequest`] with every field error
//! ([`StepError::field_errors`]) and nothing is stored. [`Checked::store`] then
//! makes it a record whose first status says what the run will wait for first.

use onboard_domain::request::organization_of;
use onboard_domain::{DomainError, FieldError};
use onboard_store::{NewRecord, Record, Status};
use serde_json::Value;

use crate::case::Workflow;
use crate::context::organization_variables;
use crate::deps::Deps;
use crate::error::StepError;

/// A form that passed [`check`], ready to be stored.
#[derive(Debug)]
pub struct Checked<W> {
    form: Value,
    request: W,
    status: Status,
}

impl<W: Workflow> Checked<W> {
    /// The organization the form names.
    pub fn organization(&self) -> &str {
        W::organization(&self.request)
    }

    /// The status the record starts in.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Stores the form as record `id` (the caller draws the id; storing the same id
    /// twice is `Store.Failed` with `AlreadyExists`).
    pub async fn store(self, deps: &Deps, id: &str) -> Result<Record, StepError> {
        let record = deps
            .store
            .create_record(NewRecord {
                id: id.to_owned(),
                kind: W::KIND,
                organization: W::organization(&self.request).to_owned(),
                status: self.status,
                request: self.form,
                ticket_id: self.request.ticket_id().map(|t| t.as_str().to_owned()),
                created_at: deps.clock.now(),
            })
            .await?;
        Ok(record)
    }
}

/// Parses and plans `form` (CONTRACT.md §2) for its organization; stores nothing.
/// An unknown organization is a bad `organization` field.
pub async fn check<W: Workflow>(deps: &Deps, form: &Value) -> Result<Checked<W>, StepError> {
    let organization = organization_of(form)?;
    // An unknown organization is a bad field, not a configuration error.
    deps.connections
        .organization(organization)
        .await
        .map_err(|e| match e {
            StepError::RequestRefused(why) => {
                StepError::InvalidRequest(DomainError::InvalidRequest {
                    errors: vec![FieldError::new("organization", why)],
                })
            }
            other => other,
        })?;
    // The filled form is the one stored: the later steps read it as given.
    let form = if W::TEMPLATED {
        crate::templates::fill(deps, organization, form).await?
    } else {
        form.clone()
    };
    let variables = organization_variables(deps.store.as_ref(), organization).await?;
    let request = W::parse(&form, &variables)?;
    let status = request.first_status(&variables, deps.clock.now())?;
    Ok(Checked {
        form,
        request,
        status,
    })
}

/// The timeline step of who submitted a record in the console.
pub const SUBMITTED_BY_STEP: &str = "submitted_by";

/// Puts who submitted record `id` in the console on its timeline (`by`: a name
/// and UPN); the ticket step notes it on the ticket when it opens one.
pub async fn note_submitter(deps: &Deps, id: &str, by: &str) -> Result<(), StepError> {
    let event = onboard_store::TimelineEvent {
        at: deps.clock.now(),
        step: SUBMITTED_BY_STEP.to_owned(),
        message: format!("submitted in the console by {by}"),
    };
    deps.store.append_event(id, event).await?;
    Ok(())
}

/// Who submitted record `id` in the console, as [`note_submitter`] put it.
pub async fn submitter_note(deps: &Deps, id: &str) -> Result<Option<String>, StepError> {
    Ok(deps
        .store
        .timeline(id)
        .await?
        .into_iter()
        .find(|e| e.step == SUBMITTED_BY_STEP)
        .map(|e| e.message))
}

/// Checks `form` and stores it as record `id` of kind `W`; then start the kind's
/// state machine with [`execution_input`].
pub async fn accept<W: Workflow>(deps: &Deps, id: &str, form: &Value) -> Result<Record, StepError> {
    check::<W>(deps, form).await?.store(deps, id).await
}

/// The execution input of an accepted record: `{"onboarding_id": ...}` for an
/// onboarding, `{"offboarding_id": ...}` for an offboarding.
pub fn execution_input<W: Workflow>(record: &Record) -> Value {
    input_of::<W>(&record.id)
}

/// The execution input of record `id` of `kind`, as a runtime starts it.
pub fn start_input(kind: onboard_store::RecordKind, id: &str) -> Value {
    crate::case::for_kind!(kind, W => input_of::<W>(id))
}

fn input_of<W: Workflow>(id: &str) -> Value {
    let mut input = serde_json::Map::new();
    input.insert(W::ID_FIELD.to_owned(), Value::String(id.to_owned()));
    Value::Object(input)
}
