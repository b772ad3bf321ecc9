//! Step `EnsureOffboardingTicket`: finds the PSA ticket the offboarding form names or
//! opens one (once, keyed by the offboarding id), records it, notes which actions
//! will run, and sets `default_ticket_status`.

use onboard_connectors::psa::{NewTicket, TicketId};
use onboard_domain::notes;
use onboard_store::RecordUpdate;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::context::update;
use crate::deps::Deps;
use crate::ensure_ticket::{Output, company, required};
use crate::error::{Port, StepError};
use crate::offboarding::Offboarding;

/// The input of `EnsureOffboardingTicket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The offboarding record's id.
    pub offboarding_id: String,
}

/// Finds or opens the offboarding's ticket (as `$.ticket`, like `EnsureTicket`).
#[instrument(skip_all, fields(offboarding_id = %input.offboarding_id, step = "ensure_offboarding_ticket"))]
pub async fn ensure_offboarding_ticket(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let offboarding = Offboarding::load(deps, &input.offboarding_id).await?;
    let Some(psa) = offboarding.psa(deps).await? else {
        offboarding
            .record(
                deps,
                "ensure_offboarding_ticket",
                None,
                "no psa configured: nothing is ticketed",
            )
            .await?;
        return Ok(Output {
            psa: None,
            ticket_id: None,
            existing: false,
        });
    };
    let vars = &offboarding.variables;
    let tz = &vars.time_zone;
    let started = notes::offboarding_started(
        offboarding.upn(),
        &offboarding.request.actions,
        offboarding
            .request
            .scheduled_at
            .map(|s| s.at)
            .filter(|at| *at > deps.clock.now())
            .map(|at| (at, tz)),
    );
    let named = offboarding
        .request
        .ticket_id
        .as_ref()
        .map(|t| t.as_str().to_owned());
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
                key: offboarding.id().to_owned(),
                company: company(vars)?.to_owned(),
                location: required(&vars.default_ticket_location, "default_ticket_location")?
                    .to_owned(),
                status: required(&vars.default_ticket_status, "default_ticket_status")?.to_owned(),
                priority: required(&vars.default_priority, "default_priority")?.to_owned(),
                summary: format!("Offboard user: {}", offboarding.upn()),
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
        offboarding.id(),
        "ensure_offboarding_ticket",
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
    if existing {
        let offboarding = Offboarding::load(deps, &input.offboarding_id).await?;
        offboarding
            .note(deps, "ensure_offboarding_ticket", &started)
            .await?;
        offboarding
            .set_ticket_status(deps, offboarding.variables.default_ticket_status.as_deref())
            .await?;
    }
    Ok(Output {
        psa: Some(psa.name().to_owned()),
        ticket_id: Some(ticket_id),
        existing,
    })
}
