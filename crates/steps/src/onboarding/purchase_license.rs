//! Step `PurchaseLicense`: buys one seat of each SKU `AssignLicense` found none of,
//! through the organization's distributor, at most once per onboarding and SKU
//! (the purchase intent is recorded in the store before the distributor is called),
//! then waits for the seats to reach the tenant by failing `License.SeatsPending`
//! until they do (the state machine retries it; a retry buys nothing again).

use async_trait::async_trait;
use jiff::Timestamp;
use onboard_connectors::Error as ConnectorError;
use onboard_connectors::distributor::{
    PurchaseLedger, PurchaseOutcome, PurchaseRecord, PurchaseRequest, purchase_seats,
};
use onboard_domain::notes;
use onboard_store::Store;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tracing::instrument;

use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::idempotency::{key, log_append, log_entries, recall, remember};
use crate::onboarding::Onboarding;
use crate::onboarding::assign_license::decided;
use crate::onboarding::seat_reservations;

/// The input of `PurchaseLicense`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
}

/// As `$.purchase`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The distributor.
    pub distributor: String,
    /// The SKUs bought (one seat each), now free in the tenant.
    pub purchased: Vec<String>,
}

/// How long a seat lease lasts: longer than any one purchase or reduction
/// (a few distributor calls with their retries), short enough that a step that
/// crashed holding it delays the others by minutes, not hours.
pub const SEAT_LEASE: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The distributor's purchase ledger in the store: an append-only log per key,
/// whose last entry is the current record; its leases are the store's
/// ([`Store::acquire_lease`]), lasting [`SEAT_LEASE`].
#[derive(Clone)]
pub struct StoreLedger {
    store: Arc<dyn Store>,
    now: Timestamp,
}

impl std::fmt::Debug for StoreLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLedger").finish_non_exhaustive()
    }
}

impl StoreLedger {
    /// A ledger over `store`, stamping entries as written at `now`.
    pub fn new(store: Arc<dyn Store>, now: Timestamp) -> Self {
        Self { store, now }
    }

    fn prefix(key: &str) -> String {
        format!("ledger/{key}")
    }
}

fn ledger_error(e: StepError) -> ConnectorError {
    ConnectorError::Unreachable {
        service: "store",
        detail: e.cause(),
    }
}

#[async_trait]
impl PurchaseLedger for StoreLedger {
    async fn get(&self, key: &str) -> Result<Option<PurchaseRecord>, ConnectorError> {
        let entries: Vec<PurchaseRecord> = log_entries(self.store.as_ref(), &Self::prefix(key))
            .await
            .map_err(ledger_error)?;
        Ok(entries.into_iter().last())
    }

    async fn put(&self, key: &str, record: &PurchaseRecord) -> Result<(), ConnectorError> {
        log_append(self.store.as_ref(), &Self::prefix(key), record, self.now)
            .await
            .map_err(ledger_error)?;
        Ok(())
    }

    async fn acquire(&self, lease: &str, holder: &str) -> Result<bool, ConnectorError> {
        let until = self
            .now
            .checked_add(SEAT_LEASE)
            .map_err(|e| ConnectorError::Unreachable {
                service: "store",
                detail: format!("lease expiry out of range: {e}"),
            })?;
        self.store
            .acquire_lease(lease, holder, self.now, until)
            .await
            .map_err(|e| ledger_error(e.into()))
    }

    async fn release(&self, lease: &str, holder: &str) -> Result<(), ConnectorError> {
        self.store
            .release_lease(lease, holder)
            .await
            .map(|_| ())
            .map_err(|e| ledger_error(e.into()))
    }
}

/// Notes the ticket (once per `part`) and the timeline about one SKU.
async fn tell(
    deps: &Deps,
    onboarding: &Onboarding,
    part: &str,
    note: &str,
    event: &str,
) -> Result<(), StepError> {
    onboarding.note(deps, part, note).await?;
    onboarding
        .record(deps, "purchase_license", None, event)
        .await?;
    Ok(())
}

/// Buys the missing seats and waits until they are in the tenant.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "purchase_license"))]
pub async fn purchase_license(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let decision = decided(deps, onboarding.id()).await?;
    let pending = decision.pending();
    let name = onboarding
        .variables
        .microsoft_licensing_distributor
        .ok_or_else(|| {
            StepError::Config(
                "variable `microsoft_licensing_distributor` is not set: nothing to buy through"
                    .into(),
            )
        })?;
    let distributor = deps
        .connections
        .distributor(&onboarding.organization, name)
        .await?
        .ok_or_else(|| StepError::Config(format!("distributor `{name}` is not configured")))?;
    let ledger = StoreLedger::new(deps.store.clone(), deps.clock.now());
    let directory = onboarding.directory(deps).await?;
    let tenant = &onboarding.organization.tenant;
    let mut skus = directory
        .subscribed_skus(tenant)
        .await
        .map_err(|e| StepError::connector(Port::Graph, e))?;
    let mut bought_now = false;
    let mut purchased = Vec::new();
    for item in &pending {
        // Once bought, a retry waiting for the seat does not call the distributor again.
        let bought = key(
            onboarding.id(),
            "purchase_license",
            &format!("bought/{}", item.sku),
        );
        if recall::<bool>(deps.store.as_ref(), &bought)
            .await?
            .is_some()
        {
            purchased.push(item.sku.as_str().to_owned());
            continue;
        }
        // Buy what is needed now: a seat may have come free since AssignLicense
        // decided (a user removed, a seat bought by hand). Every onboarding
        // waiting for one holds a place, so a seat beyond those places is ours.
        let free = skus
            .iter()
            .find(|s| s.sku_part_number.eq_ignore_ascii_case(item.sku.as_str()))
            .map_or(0, |s| s.free_seats());
        let spoken_for =
            seat_reservations::held_by_others(deps, onboarding.id(), tenant, &item.sku).await?;
        if free > i64::from(spoken_for) {
            tell(
                deps,
                &onboarding,
                &format!("purchase_license-{}-came-free", item.sku),
                &notes::license_seat_came_free(&item.sku, name),
                &format!("a seat of {} came free: nothing bought", item.sku),
            )
            .await?;
            remember(deps.store.as_ref(), &bought, &false, deps.clock.now()).await?;
            purchased.push(item.sku.as_str().to_owned());
            continue;
        }
        let request = PurchaseRequest {
            onboarding_id: onboarding.id().to_owned(),
            organization: onboarding.organization.name.clone(),
            sku: item.sku.as_str().to_owned(),
            seats: 1,
        };
        let purchase = purchase_seats(distributor.as_ref(), &ledger, &request)
            .await
            .map_err(|e| StepError::connector(Port::Distributor, e))?;
        if purchase.outcome != PurchaseOutcome::AlreadyDone {
            tracing::info!(sku = %item.sku, outcome = ?purchase.outcome, "seat bought");
        }
        tell(
            deps,
            &onboarding,
            &format!("purchase_license-{}", item.sku),
            &notes::license_purchased(&item.sku, name, 1),
            &format!(
                "bought 1 seat of {} through {}",
                item.sku,
                distributor.name()
            ),
        )
        .await?;
        remember(deps.store.as_ref(), &bought, &true, deps.clock.now()).await?;
        bought_now = true;
        purchased.push(item.sku.as_str().to_owned());
    }

    // Bought seats take a while to reach the tenant: fail until they are there.
    if bought_now {
        skus = directory
            .subscribed_skus(tenant)
            .await
            .map_err(|e| StepError::connector(Port::Graph, e))?;
    }
    for sku in &purchased {
        let free = skus
            .iter()
            .find(|s| s.sku_part_number.eq_ignore_ascii_case(sku))
            .map_or(0, |s| s.free_seats());
        if free < 1 {
            return Err(StepError::SeatsPending(format!(
                "the seat of {sku} bought through {} is not in the tenant yet",
                distributor.name()
            )));
        }
    }
    Ok(Output {
        distributor: distributor.name().to_owned(),
        purchased,
    })
}
