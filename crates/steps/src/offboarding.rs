//! What the offboarding steps start with: the record, its parsed request, the
//! organization's variables and connectors, the user in the directory, and helpers
//! for the ticket and the record (the offboarding twin of `context::Onboarding`).

use std::sync::Arc;

use onboard_connectors::graph::{Directory, User};
use onboard_connectors::psa::{NoteOutcome, Psa};
use onboard_domain::{OffboardingRequest, Variables, parse_offboarding};
use onboard_store::{Record, RecordKind, Status};

use crate::context::{
    Ticketed, internal_note, load_record, record_event, resolution_note, set_ticket_status,
    ticket_of,
};
use crate::deps::{Deps, Organization};
use crate::error::{Port, StepError};

/// One offboarding, loaded for a step.
pub(crate) struct Offboarding {
    /// The record as it was when the step started.
    pub(crate) record: Record,
    /// The request, parsed with the organization's current variables.
    pub(crate) request: OffboardingRequest,
    /// The organization's variables.
    pub(crate) variables: Variables,
    /// The organization.
    pub(crate) organization: Organization,
}

impl Offboarding {
    /// Loads offboarding `id`: an unknown id or an onboarding is `Request.Invalid`.
    pub(crate) async fn load(deps: &Deps, id: &str) -> Result<Self, StepError> {
        let (record, variables, organization) =
            load_record(deps, id, RecordKind::Offboarding).await?;
        let request = parse_offboarding(&record.request, &variables)?;
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

    /// The user's UPN as the form gave it.
    pub(crate) fn upn(&self) -> &str {
        self.request.user_principal_name.as_str()
    }

    /// The organization's directory.
    pub(crate) async fn directory(&self, deps: &Deps) -> Result<Arc<dyn Directory>, StepError> {
        deps.connections.directory(&self.organization).await
    }

    /// The user being offboarded; a UPN the tenant does not have is `Request.Invalid`.
    pub(crate) async fn user(&self, directory: &dyn Directory) -> Result<User, StepError> {
        directory
            .user(&self.organization.tenant, self.upn())
            .await
            .map_err(|e| StepError::connector(Port::Graph, e))?
            .ok_or_else(|| {
                StepError::RequestRefused(format!(
                    "user `{}` does not exist in {}",
                    self.upn(),
                    self.organization.name
                ))
            })
    }

    /// The organization's PSA, or `None` when nothing is ticketed.
    pub(crate) async fn psa(&self, deps: &Deps) -> Result<Option<Arc<dyn Psa>>, StepError> {
        deps.connections
            .psa(&self.organization, self.variables.default_psa)
            .await
    }

    async fn ticket(&self, deps: &Deps) -> Result<Ticketed, StepError> {
        Ok(ticket_of(self.psa(deps).await?, &self.record))
    }

    /// Adds an internal note keyed by `part` (a retried step does not post again).
    /// No ticket, no note.
    pub(crate) async fn note(
        &self,
        deps: &Deps,
        part: &str,
        text: &str,
    ) -> Result<Option<NoteOutcome>, StepError> {
        internal_note(self.ticket(deps).await?, self.id(), part, text).await
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

    /// Moves the ticket to the status a variable names; nothing when unset or unticketed.
    pub(crate) async fn set_ticket_status(
        &self,
        deps: &Deps,
        status: Option<&str>,
    ) -> Result<(), StepError> {
        set_ticket_status(self.ticket(deps).await?, status).await
    }

    /// Updates the record with `status` (if any) and a timeline event for `step`,
    /// written once per `(step, message)`.
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
