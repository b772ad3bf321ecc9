//! What a step reads and writes around its work: the organization's resolved
//! variables, a record with its organization ([`crate::case::Case`] loads through
//! it), and small helpers for the ticket and the record.

use std::sync::Arc;

use onboard_connectors::psa::{Note, NoteKey, NoteOutcome, Psa, TicketId};
use onboard_domain::Variables;
use onboard_domain::variables::VariableLayer;
use onboard_store::{Record, RecordKind, RecordUpdate, Scope, Status, Store, TimelineEvent};

use crate::deps::{Deps, Organization};
use crate::error::{Port, StepError};

/// Reads one scope's variables from the store as a domain layer. Values are kept
/// as text, except JSON lists and objects (`["a@x.com","b@x.com"]`), which are parsed.
async fn layer(store: &dyn Store, scope: &Scope) -> Result<VariableLayer, StepError> {
    Ok(store
        .variables(scope)
        .await?
        .into_iter()
        .map(|(name, text)| {
            let trimmed = text.trim();
            let value = if trimmed.starts_with('[') || trimmed.starts_with('{') {
                serde_json::from_str(trimmed).unwrap_or(serde_json::Value::String(text))
            } else {
                serde_json::Value::String(text)
            };
            (name, value)
        })
        .collect())
}

/// The MSP-wide and the organization's variable layers, as the store holds them
/// (the organizations page shows where each value comes from).
pub async fn variable_layers(
    store: &dyn Store,
    organization: &str,
) -> Result<(VariableLayer, VariableLayer), StepError> {
    Ok((
        layer(store, &Scope::Msp).await?,
        layer(store, &Scope::Organization(organization.to_owned())).await?,
    ))
}

/// The organization's variables: built-in defaults <- MSP-wide <- organization,
/// as the store holds them. A bad value is [`StepError::Variables`] naming it.
pub async fn organization_variables(
    store: &dyn Store,
    organization: &str,
) -> Result<Variables, StepError> {
    let (msp, org) = variable_layers(store, organization).await?;
    Ok(Variables::resolve(organization, &msp, &org)?)
}

/// Record `id` of `kind` with its organization's variables and connections, as
/// both workflows' steps start: an unknown id or the other kind is `Request.Invalid`.
pub(crate) async fn load_record(
    deps: &Deps,
    id: &str,
    kind: RecordKind,
) -> Result<(Record, Variables, Organization), StepError> {
    let this = kind.as_str();
    let record = deps
        .store
        .get_record(id)
        .await?
        .ok_or_else(|| StepError::RequestRefused(format!("no {this} with id `{id}`")))?;
    if record.kind != kind {
        return Err(StepError::RequestRefused(format!(
            "record `{id}` is an {}, not an {this}",
            record.kind.as_str()
        )));
    }
    let variables = organization_variables(deps.store.as_ref(), &record.organization).await?;
    let organization = deps.connections.organization(&record.organization).await?;
    Ok((record, variables, organization))
}

/// A record's PSA and ticket, when it has both.
pub(crate) type Ticketed = Option<(Arc<dyn Psa>, TicketId)>;

/// The ticket of `record` in `psa`, once `EnsureTicket` has found or made one.
pub(crate) fn ticket_of(psa: Option<Arc<dyn Psa>>, record: &Record) -> Ticketed {
    let ticket = record.ticket_id.as_deref()?;
    psa.map(|psa| (psa, TicketId::new(ticket)))
}

/// Adds an internal note keyed by record `id` and `part`; a retried step finds
/// its note and does not post again. No ticket, no note.
pub(crate) async fn internal_note(
    ticketed: Ticketed,
    id: &str,
    part: &str,
    text: &str,
) -> Result<Option<NoteOutcome>, StepError> {
    let Some((psa, ticket)) = ticketed else {
        return Ok(None);
    };
    let note = Note::new(NoteKey::new(id, part), text);
    psa.add_internal_note(&ticket, &note)
        .await
        .map(Some)
        .map_err(|e| StepError::connector(Port::Psa, e))
}

/// Adds the resolution note keyed by record `id` and `part`.
pub(crate) async fn resolution_note(
    ticketed: Ticketed,
    id: &str,
    part: &str,
    text: &str,
) -> Result<(), StepError> {
    if let Some((psa, ticket)) = ticketed {
        let note = Note::new(NoteKey::new(id, part), text);
        psa.add_resolution_note(&ticket, &note)
            .await
            .map_err(|e| StepError::connector(Port::Psa, e))?;
    }
    Ok(())
}

/// Moves the ticket to the status a variable names; nothing when the variable
/// is unset or there is no ticket.
pub(crate) async fn set_ticket_status(
    ticketed: Ticketed,
    status: Option<&str>,
) -> Result<(), StepError> {
    let Some(status) = status.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    if let Some((psa, ticket)) = ticketed {
        psa.set_status(&ticket, status)
            .await
            .map_err(|e| StepError::connector(Port::Psa, e))?;
    }
    Ok(())
}

/// Updates record `id` with `status` (if any) and a timeline event for `step`,
/// written once per `(step, message)`.
pub(crate) async fn record_event(
    deps: &Deps,
    id: &str,
    step: &str,
    status: Option<Status>,
    message: &str,
) -> Result<(), StepError> {
    update(
        deps,
        id,
        step,
        message,
        RecordUpdate {
            status,
            ..RecordUpdate::default()
        },
    )
    .await
}

/// Like [`record_event`], entering a waiting `status` that lasts until `until`
/// (the dashboard's `waiting_until`).
pub(crate) async fn record_waiting(
    deps: &Deps,
    id: &str,
    step: &str,
    status: Status,
    until: jiff::Timestamp,
    message: &str,
) -> Result<(), StepError> {
    update(
        deps,
        id,
        step,
        message,
        RecordUpdate {
            status: Some(status),
            waiting_until: Some(until),
            ..RecordUpdate::default()
        },
    )
    .await
}

/// Applies `update` to record `id` with a timeline event for `step`, unless the
/// timeline already ends with the same event (a retried step).
pub(crate) async fn update(
    deps: &Deps,
    id: &str,
    step: &str,
    message: &str,
    mut update: RecordUpdate,
) -> Result<(), StepError> {
    let timeline = deps.store.timeline(id).await?;
    let said = timeline
        .iter()
        .any(|e| e.step == step && e.message == message);
    if !said {
        update.event = Some(TimelineEvent {
            at: deps.clock.now(),
            step: step.to_owned(),
            message: message.to_owned(),
        });
    }
    let changes_something = update.event.is_some()
        || update.status.is_some()
        || update.user_principal_name.is_some()
        || update.ticket_id.is_some()
        || update.license_outcome.is_some()
        || update.removed.is_some();
    if changes_something {
        deps.store
            .update_record(id, update, deps.clock.now())
            .await?;
    }
    Ok(())
}
