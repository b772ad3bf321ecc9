//! Steps `EnsureTicket` and `EnsureOffboardingTicket`: find the PSA ticket the form
//! names or open one (once, keyed by the record id), record it, note what the run
//! will do and what Validate warned of, and set `default_ticket_status`.

use onboard_connectors::psa::{NewTicket, TicketId};
use onboard_domain::variables::{Psa as PsaName, Variables};
use onboard_store::RecordUpdate;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::case::{Case, CaseId, Workflow};
use crate::context::update;
use crate::deps::Deps;
use crate::error::{Port, StepError};

/// The input: the record's id (`onboarding_id`, `offboarding_id`).
pub type Input<W> = CaseId<W>;

/// The ticket, as `$.ticket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The PSA (`connectwise`, ...), or `None` when nothing is ticketed.
    pub psa: Option<String>,
    /// The ticket id, or `None` when nothing is ticketed.
    pub ticket_id: Option<String>,
    /// Whether the form named the ticket (rather than Onboard opening it).
    pub existing: bool,
}

pub(crate) fn required<'a>(
    value: &'a Option<String>,
    variable: &str,
) -> Result<&'a str, StepError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            StepError::Config(format!(
                "variable `{variable}` must be set to open tickets in the psa"
            ))
        })
}

/// The PSA's customer id variable for the organization (`onboard check` checks it too).
pub fn company(variables: &Variables) -> Result<&str, StepError> {
    match variables.default_psa {
        Some(PsaName::ConnectWise) => {
            required(&variables.cw_manage_company_id, "cw_manage_company_id")
        }
        Some(PsaName::Autotask) => required(&variables.autotask_company_id, "autotask_company_id"),
        Some(PsaName::HaloPsa) => required(&variables.halo_psa_client_id, "halo_psa_client_id"),
        Some(PsaName::NoPsa) | None => Ok(""),
    }
}

/// Finds or opens the run's ticket: `EnsureTicket` of an onboarding,
/// `EnsureOffboardingTicket` of an offboarding.
#[instrument(skip_all, fields(record_id = %input.id, step = W::STEPS.ensure_ticket))]
pub async fn ensure_ticket<W: Workflow>(deps: &Deps, input: Input<W>) -> Result<Output, StepError> {
    let step = W::STEPS.ensure_ticket;
    let case = Case::<W>::load(deps, &input.id).await?;
    let Some(psa) = case.psa(deps).await? else {
        case.record(deps, step, None, "no psa configured: nothing is ticketed")
            .await?;
        return Ok(Output {
            psa: None,
            ticket_id: None,
            existing: false,
        });
    };
    let vars = &case.variables;
    let started = case.request.started_note(vars, deps.clock.now());
    let named = case.request.ticket_id().map(|t| t.as_str().to_owned());
    let (ticket, existing) = match named {
        Some(id) => {
            let ticket = psa
                .find_ticket(&TicketId::new(id.as_str()))
                .await
                .map_err(|e| StepError::connector(Port::Psa, e))?
                .ok_or_else(|| {
                    StepError::RequestRefused(format!(
                        "ticket `{id}` does not exist in {}",
                        psa.name()
                    ))
                })?;
            (ticket, true)
        }
        None => {
            let new = NewTicket {
                key: case.id().to_owned(),
                company: company(vars)?.to_owned(),
                location: required(&vars.default_ticket_location, "default_ticket_location")?
                    .to_owned(),
                status: required(&vars.default_ticket_status, "default_ticket_status")?.to_owned(),
                priority: required(&vars.default_priority, "default_priority")?.to_owned(),
                summary: case.request.ticket_summary(),
                description: started.clone(),
                extra_fields: serde_json::Map::new(),
            };
            let ticket = psa
                .create_ticket(&new)
                .await
                .map_err(|e| StepError::connector(Port::Psa, e))?;
            (ticket, false)
        }
    };
    let ticket_id = ticket.id.as_str().to_owned();
    update(
        deps,
        case.id(),
        step,
        &format!(
            "{} ticket {ticket_id} in {}",
            if existing { "using" } else { "opened" },
            psa.name()
        ),
        RecordUpdate {
            ticket_id: Some(ticket_id.clone()),
            ..RecordUpdate::default()
        },
    )
    .await?;
    // Reload so the helpers see the ticket.
    let case = Case::<W>::load(deps, &input.id).await?;
    // What Validate warned of (a start date that will be ignored, ...), once.
    let warnings = W::planned_warnings(deps, case.id()).await?;
    if !warnings.is_empty() {
        case.note(
            deps,
            "validate-warnings",
            &format!("Warning: {}", warnings.join("\nWarning: ")),
        )
        .await?;
    }
    if let Some(submitted) = crate::intake::submitter_note(deps, case.id()).await? {
        case.note(
            deps,
            "submitted-by",
            &format!("Onboard: this {} was {submitted}.", W::NOUN),
        )
        .await?;
    }
    if existing {
        case.note(deps, step, &started).await?;
        case.set_ticket_status(deps, case.variables.default_ticket_status.as_deref())
            .await?;
    }
    Ok(Output {
        psa: Some(psa.name().to_owned()),
        ticket_id: Some(ticket_id),
        existing,
    })
}
