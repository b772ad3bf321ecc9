//! Giving the freed seats back to the distributor.

use onboard_connectors::distributor::{self, Reduction, ReductionRequest};

use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::offboarding::Offboarding;
use crate::onboarding::purchase_license::StoreLedger;

use super::ActionResult;

/// Gives back one seat of each freed SKU at the distributor, under the seat
/// lease ([`reduce_seats`]). A seat a commitment term will not let go is kept
/// and noted with the renewal date that allows the decrease (scheduled where
/// the distributor can): the offboarding never fails for it.
pub(super) async fn reduce_seats(
    deps: &Deps,
    offboarding: &Offboarding,
    freed: Vec<String>,
) -> Result<ActionResult, StepError> {
    const ACTION: &str = "reduce_distributor_seats";
    if freed.is_empty() {
        return Ok(ActionResult::skipped(
            ACTION,
            "no directly assigned license was removed",
        ));
    }
    let Some(name) = offboarding.variables.microsoft_licensing_distributor else {
        return Ok(ActionResult::skipped(
            ACTION,
            "variable `microsoft_licensing_distributor` is not set: lower the seats by hand",
        ));
    };
    let Some(distributor) = deps
        .connections
        .distributor(&offboarding.organization, name)
        .await?
    else {
        return Ok(ActionResult::skipped(
            ACTION,
            format!("distributor `{name}` is not configured: lower the seats by hand"),
        ));
    };
    let failed = |e| StepError::connector(Port::Distributor, e);
    let now = deps.clock.now();
    let ledger = StoreLedger::new(deps.store.clone(), now);
    let mut lowered = Vec::new();
    let mut kept = Vec::new();
    let mut left = Vec::new();
    for sku in &freed {
        let request = ReductionRequest {
            offboarding_id: offboarding.id().to_owned(),
            organization: offboarding.organization.name.clone(),
            sku: sku.clone(),
            seats: 1,
        };
        match distributor::reduce_seats(distributor.as_ref(), &ledger, &request, now)
            .await
            .map_err(failed)?
        {
            Reduction::Lowered { to, .. } | Reduction::AlreadyDone { quantity: to } => {
                lowered.push(format!("{sku} to {to}"));
            }
            Reduction::Kept {
                renews_at,
                scheduled,
                reason,
            } => {
                let when = match renews_at {
                    Some(at) => format!(
                        "the renewal on {} allows the decrease",
                        at.to_zoned(jiff::tz::TimeZone::UTC).date()
                    ),
                    None => "lower it at the next renewal".to_owned(),
                };
                let plan = if scheduled {
                    format!(
                        "the decrease is scheduled at {} for then",
                        distributor.name()
                    )
                } else {
                    format!(
                        "{} cannot schedule it: lower it by hand then",
                        distributor.name()
                    )
                };
                kept.push(format!("kept 1 seat of {sku} ({reason}); {when}; {plan}"));
            }
            Reduction::NothingToReduce(why) => left.push(format!("{sku}: {why}")),
        }
    }
    let mut parts = Vec::new();
    if !lowered.is_empty() {
        parts.push(format!("lowered {}", lowered.join(", ")));
    }
    parts.extend(kept.iter().cloned());
    parts.extend(left);
    let detail = parts.join("; ");
    if lowered.is_empty() && kept.is_empty() {
        return Ok(ActionResult::skipped(ACTION, detail));
    }
    if !kept.is_empty() {
        offboarding
            .note(deps, "reduce_distributor_seats-kept", &kept.join("\n"))
            .await?;
    }
    Ok(ActionResult::done(ACTION, detail))
}
