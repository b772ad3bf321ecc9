//! Seats spoken for: an onboarding that found no free seat of a SKU holds a
//! place in the tenant's pool for that SKU ([`Store::reserve`]) from the
//! moment it decides to buy one until it assigns it, or gives up.
//!
//! Without it, the seat bought for one onboarding shows as free in the tenant
//! between its arrival and its assignment, and another onboarding that asks
//! for the same SKU then takes it: one seat bought for two users, the buyer
//! left waiting for a seat that never comes. So a first `AssignLicense` counts
//! as free only the seats nobody else holds a place for, and `PurchaseLicense`
//! buys only what is still needed once it is under the seat lease.
//!
//! Buyers do not tell their seats apart: once bought, any free seat serves any
//! onboarding that holds a place, which is why `AssignLicense` after a purchase
//! does not subtract the others' places.
//!
//! [`Store::reserve`]: onboard_store::Store::reserve

use jiff::SignedDuration;
use onboard_connectors::graph::TenantId;
use onboard_domain::SkuPartNumber;

use crate::case::{Case, Workflow};
use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::{key, recall};
use crate::onboarding::assign_license::Decided;
use crate::onboarding::validate::LICENSE_PURCHASE_TIMEOUT_SECONDS;

/// How long a place is held: the longest a purchase may wait for a technician
/// (24 hours), and a day more for the seats to arrive and be assigned. A run
/// that crashes holding one makes others buy a seat they might not have
/// needed, never the other way round, and only until then.
const HOLD: SignedDuration =
    SignedDuration::from_secs(LICENSE_PURCHASE_TIMEOUT_SECONDS as i64 + 24 * 60 * 60);

/// The pool of places for `sku` in `tenant`.
fn pool(tenant: &TenantId, sku: &SkuPartNumber) -> String {
    format!("seats/{}/{sku}", tenant.as_str())
}

/// Holds (again) a place for `onboarding_id` in the pool of each of `skus`.
pub(crate) async fn hold(
    deps: &Deps,
    onboarding_id: &str,
    tenant: &TenantId,
    skus: &[&SkuPartNumber],
) -> Result<(), StepError> {
    let until =
        deps.clock.now().checked_add(HOLD).map_err(|e| {
            StepError::Internal(format!("seat reservation expiry out of range: {e}"))
        })?;
    for sku in skus {
        deps.store
            .reserve(&pool(tenant, sku), onboarding_id, until)
            .await?;
    }
    Ok(())
}

/// Gives back `onboarding_id`'s places for `skus` (those it holds).
pub(crate) async fn give_back(
    deps: &Deps,
    onboarding_id: &str,
    tenant: &TenantId,
    skus: &[&SkuPartNumber],
) -> Result<(), StepError> {
    for sku in skus {
        deps.store
            .release_reservation(&pool(tenant, sku), onboarding_id)
            .await?;
    }
    Ok(())
}

/// How many places other onboardings than `onboarding_id` hold for `sku`.
pub(crate) async fn held_by_others(
    deps: &Deps,
    onboarding_id: &str,
    tenant: &TenantId,
    sku: &SkuPartNumber,
) -> Result<u32, StepError> {
    let holders = deps
        .store
        .reservations(&pool(tenant, sku), deps.clock.now())
        .await?;
    let others = holders.iter().filter(|h| *h != onboarding_id).count();
    Ok(u32::try_from(others).unwrap_or(u32::MAX))
}

/// Gives back every place a run holds (an offboarding holds none): it goes on without the seats
/// it was waiting for (a purchase rejected or timed out, a failed run).
pub(crate) async fn give_back_all<W: Workflow>(
    deps: &Deps,
    onboarding: &Case<W>,
) -> Result<(), StepError> {
    let decided: Option<Decided> = recall(
        deps.store.as_ref(),
        &key(onboarding.id(), "assign_license", "plan"),
    )
    .await?;
    let Some(decided) = decided else {
        return Ok(());
    };
    let skus: Vec<&SkuPartNumber> = decided.pending().iter().map(|i| &i.sku).collect();
    give_back(
        deps,
        onboarding.id(),
        &onboarding.organization.tenant,
        &skus,
    )
    .await
}
