//! Port `Distributor`: buying Microsoft 365 seats through the organization's distributor (Pax8, Sherweb).
//!
//! The port is narrow (find the customer, find the product for a SKU, read
//! subscriptions, set a subscription's quantity, order a new subscription); the
//! purchase rule lives once, in [`purchase_seats`], for every distributor:
//!
//! - A purchase is keyed by onboarding id + SKU in a [`PurchaseLedger`]; the
//!   intent (which subscription, which target quantity) is written *before*
//!   the distributor is called.
//! - Raising seats sets an absolute quantity, so sending it twice buys once;
//!   and a retry first reads the subscription and sends nothing when the
//!   target is already reached.
//! - A new subscription is ordered only when the ledger has no order for the
//!   key and the customer has no subscription of the product.
//!
//! - Every change of one customer's seats of one SKU (a purchase here, a
//!   reduction in the offboarding) happens under that customer and SKU's
//!   lease ([`seat_lease`], [`PurchaseLedger::acquire`]), and the quantity it
//!   starts from is read under the lease: two onboardings buying the same SKU
//!   at once end with a seat each, not one seat for both. A caller that finds
//!   the lease taken gets a transient [`Error::NotReady`] and comes back
//!   (the state machine retries it); a crashed holder's lease expires.
//!
//! The rule errs towards buying too little, never too much: if another
//! onboarding raised the same subscription between this step's recorded
//! intent and its retry (possible only after this step's lease expired), the
//! retry sees its target reached and buys nothing; the missing seat then shows
//! up as a seat wait that times out, and the manual purchase path runs. (Pax8
//! has no idempotency keys to do better.)
//!
//! Bought seats take minutes to reach the tenant: [`wait_for_seats`] polls a
//! [`SeatReader`] (the Graph connector, or any closure) without knowing it.
//!
//! Pax8 ([`Pax8Distributor`]) and Sherweb ([`SherwebDistributor`]) are its
//! adapters. Ingram Micro, ArrowSphere and TD SYNNEX are not: the fact sheet
//! has no usable, sourced description of an API for them (§12), so an
//! organization mapped to one takes the manual purchase path.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::http::Sleeper;

mod pax8;
mod sherweb;
mod wire;

pub use pax8::{Pax8Distributor, Pax8Settings};
pub use sherweb::{SUBSCRIPTION_KEY_HEADER, SherwebDistributor, SherwebSettings};

/// The distributor's record of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// The distributor's id.
    pub id: String,
    /// Its name there.
    pub name: String,
}

/// A product that sells seats of one Microsoft SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// The distributor's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether ordering needs a commitment term.
    pub requires_commitment: bool,
}

/// A customer's subscription to a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The distributor's id.
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// The product.
    pub product_id: String,
    /// Seats bought.
    pub quantity: u32,
    /// The distributor's status word (`Active`, `PendingAutomated`, ...).
    pub status: String,
    /// The current commitment term, for a new-commerce subscription.
    pub commitment: Option<Commitment>,
}

/// A new-commerce commitment term: seats can be lowered only within
/// [`DECREASE_WINDOW`] of its start (fact sheet §15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commitment {
    /// When the current term began (purchase or last renewal).
    pub term_start: jiff::Timestamp,
    /// When it ends and renews: from then a decrease is allowed again.
    pub renews_at: jiff::Timestamp,
}

/// Microsoft's rule for new-commerce seats: a decrease within 168 h of purchase or renewal.
pub const DECREASE_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(168);

impl Commitment {
    /// Whether a decrease is allowed at `now`.
    pub fn allows_decrease(&self, now: jiff::Timestamp) -> bool {
        now.duration_since(self.term_start) <= DECREASE_WINDOW
    }
}

impl Subscription {
    /// Whether seats can be added to it (not cancelled or being cancelled).
    pub fn is_live(&self) -> bool {
        !matches!(
            self.status.as_str(),
            "Cancelled" | "PendingCancel" | "Converted"
        )
    }
}

/// An accepted order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The distributor's order id.
    pub id: String,
    /// The subscription the order created, when the answer names it.
    pub subscription_id: Option<String>,
}

/// Buys Microsoft seats for a customer.
#[async_trait]
pub trait Distributor: Send + Sync + fmt::Debug {
    /// The distributor's name, as `microsoft_licensing_distributor` spells it.
    fn name(&self) -> &'static str;

    /// The customer record of the organization (by its name there, or an
    /// explicit mapping the client was given).
    async fn find_customer(&self, organization: &str) -> Result<Customer, Error>;

    /// The product that sells seats of `sku` (a Microsoft `skuPartNumber` or the
    /// distributor's SKU, or an explicit mapping).
    async fn find_product(&self, sku: &str) -> Result<Product, Error>;

    /// The customer's subscriptions to `product`.
    async fn subscriptions(
        &self,
        customer: &Customer,
        product: &Product,
    ) -> Result<Vec<Subscription>, Error>;

    /// Sets the seat count of `subscription` to `quantity` (absolute, so a
    /// repeated call does not buy again).
    async fn set_quantity(
        &self,
        subscription: &Subscription,
        quantity: u32,
    ) -> Result<Subscription, Error>;

    /// Schedules `subscription`'s quantity to become `quantity` at its
    /// renewal; `Ok(false)` when the distributor cannot schedule a change
    /// (Pax8 documents no way to).
    async fn schedule_quantity(
        &self,
        subscription: &Subscription,
        quantity: u32,
        at: jiff::Timestamp,
    ) -> Result<bool, Error> {
        let _ = (subscription, quantity, at);
        Ok(false)
    }

    /// Orders a new subscription of `quantity` seats. Not idempotent by itself:
    /// call it through [`purchase_seats`].
    async fn order(
        &self,
        customer: &Customer,
        product: &Product,
        quantity: u32,
    ) -> Result<Order, Error>;

    /// Polls `reader` until `at_least` seats of `sku` are free in the tenant
    /// (see [`wait_for_seats`]).
    async fn wait_for_seats(
        &self,
        reader: &dyn SeatReader,
        sku: &str,
        at_least: u32,
        polling: SeatPolling,
        sleeper: &dyn Sleeper,
    ) -> Result<u32, Error> {
        wait_for_seats(self.name(), reader, sku, at_least, polling, sleeper).await
    }
}

/// What a purchase step asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseRequest {
    /// The onboarding; with the SKU, the idempotency key.
    pub onboarding_id: String,
    /// The organization as the distributor knows it.
    pub organization: String,
    /// The Microsoft SKU part number, e.g. `O365_BUSINESS_PREMIUM`.
    pub sku: String,
    /// Seats to add.
    pub seats: u32,
}

impl PurchaseRequest {
    /// The ledger key: onboarding id + SKU.
    pub fn key(&self) -> String {
        format!("{}:{}", self.onboarding_id, self.sku)
    }
}

/// What the ledger keeps per key: the intent, written before the distributor is called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRecord {
    /// The subscription raised, or created by the order (`None` while an order
    /// is in flight).
    pub subscription_id: Option<String>,
    /// The subscription's quantity once this purchase is in.
    pub target_quantity: u32,
    /// The order, when one was placed.
    pub order_id: Option<String>,
}

/// Remembers purchases by key, and serialises seat changes by lease. The
/// steps back it with the store (DynamoDB or SQLite); [`MemoryLedger`] serves
/// tests.
#[async_trait]
pub trait PurchaseLedger: Send + Sync + fmt::Debug {
    /// The record under `key`.
    async fn get(&self, key: &str) -> Result<Option<PurchaseRecord>, Error>;
    /// Writes (or replaces) the record under `key`.
    async fn put(&self, key: &str, record: &PurchaseRecord) -> Result<(), Error>;
    /// Takes `lease` for `holder` (again, if it holds it already); `false` when
    /// another holder has it. A lease expires, so a crashed holder does not
    /// block the others for ever.
    async fn acquire(&self, lease: &str, holder: &str) -> Result<bool, Error>;
    /// Gives `lease` back, if `holder` holds it.
    async fn release(&self, lease: &str, holder: &str) -> Result<(), Error>;
}

/// The lease that serialises seat changes of one SKU for one customer of a distributor.
pub fn seat_lease(distributor: &str, customer: &Customer, sku: &str) -> String {
    format!(
        "seats/{distributor}/{}/{}",
        customer.id,
        sku.to_ascii_uppercase()
    )
}

/// The error of a seat change that found its lease taken: transient, come back later.
pub fn lease_taken(service: &'static str, lease: &str) -> Error {
    Error::NotReady {
        service,
        detail: format!("another seat change holds `{lease}`; try again when it is done"),
    }
}

/// Runs `change` under `lease` (see [`PurchaseLedger::acquire`]), giving the
/// lease back whatever `change` returns.
pub async fn with_seat_lease<T, F>(
    service: &'static str,
    ledger: &dyn PurchaseLedger,
    lease: &str,
    holder: &str,
    change: F,
) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    if !ledger.acquire(lease, holder).await? {
        tracing::info!(service, lease, holder, "seat lease taken by another change");
        return Err(lease_taken(service, lease));
    }
    let result = change.await;
    // A lease that cannot be given back expires on its own.
    if let Err(e) = ledger.release(lease, holder).await {
        tracing::warn!(service, lease, error = %e, "seat lease not released; it will expire");
    }
    result
}

/// A ledger in memory (its leases never expire: they die with the process).
#[derive(Debug, Default)]
pub struct MemoryLedger {
    records: Mutex<HashMap<String, PurchaseRecord>>,
    leases: Mutex<HashMap<String, String>>,
}

#[async_trait]
impl PurchaseLedger for MemoryLedger {
    async fn get(&self, key: &str) -> Result<Option<PurchaseRecord>, Error> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned())
    }

    async fn put(&self, key: &str, record: &PurchaseRecord) -> Result<(), Error> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), record.clone());
        Ok(())
    }

    async fn acquire(&self, lease: &str, holder: &str) -> Result<bool, Error> {
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        let held = leases
            .entry(lease.to_owned())
            .or_insert_with(|| holder.to_owned());
        Ok(held == holder)
    }

    async fn release(&self, lease: &str, holder: &str) -> Result<(), Error> {
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        if leases.get(lease).is_some_and(|h| h == holder) {
            leases.remove(lease);
        }
        Ok(())
    }
}

/// How a purchase ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseOutcome {
    /// An existing subscription was raised.
    Raised {
        /// Quantity before.
        from: u32,
        /// Quantity after.
        to: u32,
    },
    /// A new subscription was ordered.
    Ordered {
        /// The order.
        order_id: String,
    },
    /// An earlier attempt with the same key already bought the seats; nothing was sent.
    AlreadyDone,
}

/// A completed purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// The subscription that holds the seats (when known).
    pub subscription_id: Option<String>,
    /// Its quantity now.
    pub quantity: u32,
    /// What was done.
    pub outcome: PurchaseOutcome,
}

/// Buys `request.seats` more seats, at most once per onboarding id + SKU.
#[tracing::instrument(skip_all, fields(onboarding_id = %request.onboarding_id, sku = %request.sku, distributor = distributor.name()))]
pub async fn purchase_seats(
    distributor: &dyn Distributor,
    ledger: &dyn PurchaseLedger,
    request: &PurchaseRequest,
) -> Result<Purchase, Error> {
    let service = distributor.name();
    if request.seats == 0 {
        return Err(Error::Rejected {
            service,
            status: 0,
            code: "InvalidQuantity".into(),
            message: "a purchase needs at least one seat".into(),
        });
    }
    let key = request.key();
    let customer = distributor.find_customer(&request.organization).await?;
    let product = distributor.find_product(&request.sku).await?;
    let lease = seat_lease(service, &customer, &request.sku);
    with_seat_lease(
        service,
        ledger,
        &lease,
        &key,
        purchase_under_lease(distributor, ledger, request, &customer, &product),
    )
    .await
}

/// The purchase proper: everything read here is read under the seat lease.
async fn purchase_under_lease(
    distributor: &dyn Distributor,
    ledger: &dyn PurchaseLedger,
    request: &PurchaseRequest,
    customer: &Customer,
    product: &Product,
) -> Result<Purchase, Error> {
    let service = distributor.name();
    let key = request.key();
    let live: Vec<Subscription> = distributor
        .subscriptions(customer, product)
        .await?
        .into_iter()
        .filter(Subscription::is_live)
        .collect();

    match ledger.get(&key).await? {
        Some(PurchaseRecord {
            subscription_id: Some(id),
            target_quantity,
            order_id,
        }) => {
            let Some(subscription) = live.iter().find(|s| s.id == id) else {
                if order_id.is_some() {
                    // Ordered, but the distributor does not list the new
                    // subscription yet: the seats are bought all the same.
                    tracing::info!(
                        service,
                        key,
                        "order already placed, subscription not listed yet"
                    );
                    return Ok(Purchase {
                        subscription_id: Some(id),
                        quantity: target_quantity,
                        outcome: PurchaseOutcome::AlreadyDone,
                    });
                }
                return Err(Error::NotFound {
                    service,
                    what: format!("subscription {id} recorded for purchase {key}"),
                });
            };
            if subscription.quantity >= target_quantity || order_id.is_some() {
                tracing::info!(service, key, "purchase already made, nothing sent");
                return Ok(Purchase {
                    subscription_id: Some(id),
                    quantity: subscription.quantity,
                    outcome: PurchaseOutcome::AlreadyDone,
                });
            }
            let from = subscription.quantity;
            let raised = distributor
                .set_quantity(subscription, target_quantity)
                .await?;
            Ok(Purchase {
                subscription_id: Some(raised.id),
                quantity: raised.quantity,
                outcome: PurchaseOutcome::Raised {
                    from,
                    to: target_quantity,
                },
            })
        }
        Some(PurchaseRecord {
            subscription_id: None,
            ..
        }) if !live.is_empty() => {
            // The earlier order went through even though its answer was lost.
            let subscription = pick(service, &live)?;
            ledger
                .put(
                    &key,
                    &PurchaseRecord {
                        subscription_id: Some(subscription.id.clone()),
                        target_quantity: subscription.quantity,
                        order_id: Some("unknown".into()),
                    },
                )
                .await?;
            tracing::info!(service, key, "order already placed, nothing sent");
            Ok(Purchase {
                subscription_id: Some(subscription.id.clone()),
                quantity: subscription.quantity,
                outcome: PurchaseOutcome::AlreadyDone,
            })
        }
        Some(_) | None if live.is_empty() => {
            ledger
                .put(
                    &key,
                    &PurchaseRecord {
                        subscription_id: None,
                        target_quantity: request.seats,
                        order_id: None,
                    },
                )
                .await?;
            let order = distributor.order(customer, product, request.seats).await?;
            ledger
                .put(
                    &key,
                    &PurchaseRecord {
                        subscription_id: order.subscription_id.clone(),
                        target_quantity: request.seats,
                        order_id: Some(order.id.clone()),
                    },
                )
                .await?;
            Ok(Purchase {
                subscription_id: order.subscription_id,
                quantity: request.seats,
                outcome: PurchaseOutcome::Ordered { order_id: order.id },
            })
        }
        _ => {
            let subscription = pick(service, &live)?;
            let from = subscription.quantity;
            let to = from
                .checked_add(request.seats)
                .ok_or_else(|| Error::Rejected {
                    service,
                    status: 0,
                    code: "InvalidQuantity".into(),
                    message: "seat count overflow".into(),
                })?;
            ledger
                .put(
                    &key,
                    &PurchaseRecord {
                        subscription_id: Some(subscription.id.clone()),
                        target_quantity: to,
                        order_id: None,
                    },
                )
                .await?;
            let raised = distributor.set_quantity(subscription, to).await?;
            Ok(Purchase {
                subscription_id: Some(raised.id),
                quantity: raised.quantity,
                outcome: PurchaseOutcome::Raised { from, to },
            })
        }
    }
}

/// What an offboarding asks for: `seats` fewer of `sku`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReductionRequest {
    /// The offboarding; with the SKU, the idempotency key and the lease holder.
    pub offboarding_id: String,
    /// The organization as the distributor knows it.
    pub organization: String,
    /// The Microsoft SKU part number.
    pub sku: String,
    /// Seats to give back.
    pub seats: u32,
}

/// How a reduction ended. None of these is a failure of the offboarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reduction {
    /// The subscription was lowered.
    Lowered {
        /// Quantity before.
        from: u32,
        /// Quantity after.
        to: u32,
    },
    /// An earlier attempt with the same key already lowered it; nothing was sent.
    AlreadyDone {
        /// The quantity now.
        quantity: u32,
    },
    /// The seats were kept: the commitment term's decrease window is closed
    /// (or the distributor refused the decrease).
    Kept {
        /// When the renewal allows the decrease, when known.
        renews_at: Option<jiff::Timestamp>,
        /// Whether the decrease is scheduled for the renewal.
        scheduled: bool,
        /// Why, in the distributor's words when it refused.
        reason: String,
    },
    /// No product or live subscription of the SKU at the distributor.
    NothingToReduce(String),
}

/// Gives back `request.seats` seats of `request.sku`, under the customer and
/// SKU's seat lease, at `now`: within a commitment's decrease window the
/// quantity read under the lease is lowered; after it the seats are kept and
/// the decrease is scheduled for the renewal where the distributor can.
#[tracing::instrument(skip_all, fields(offboarding_id = %request.offboarding_id, sku = %request.sku, distributor = distributor.name()))]
pub async fn reduce_seats(
    distributor: &dyn Distributor,
    ledger: &dyn PurchaseLedger,
    request: &ReductionRequest,
    now: jiff::Timestamp,
) -> Result<Reduction, Error> {
    let service = distributor.name();
    let customer = distributor.find_customer(&request.organization).await?;
    let product = match distributor.find_product(&request.sku).await {
        Ok(p) => p,
        Err(Error::NotFound { .. }) => {
            return Ok(Reduction::NothingToReduce(format!("not sold by {service}")));
        }
        Err(e) => return Err(e),
    };
    let key = format!("{}:{}:reduce", request.offboarding_id, request.sku);
    let lease = seat_lease(service, &customer, &request.sku);
    with_seat_lease(service, ledger, &lease, &key, async {
        let subscriptions = distributor.subscriptions(&customer, &product).await?;
        let recorded = ledger.get(&key).await?;
        if let Some(PurchaseRecord {
            subscription_id: Some(id),
            target_quantity,
            ..
        }) = &recorded
            && let Some(s) = subscriptions.iter().find(|s| &s.id == id)
            && s.quantity <= *target_quantity
        {
            return Ok(Reduction::AlreadyDone {
                quantity: s.quantity,
            });
        }
        let Some(subscription) = subscriptions.iter().find(|s| s.is_live() && s.quantity > 0)
        else {
            return Ok(Reduction::NothingToReduce(format!(
                "no live subscription at {service}"
            )));
        };
        // A retry lowers to the target it recorded; a first attempt from the
        // quantity read under the lease.
        let target = match &recorded {
            Some(r) if r.subscription_id.as_deref() == Some(subscription.id.as_str()) => {
                r.target_quantity
            }
            _ => subscription.quantity.saturating_sub(request.seats),
        };
        if let Some(commitment) = subscription.commitment
            && !commitment.allows_decrease(now)
        {
            let scheduled = distributor
                .schedule_quantity(subscription, target, commitment.renews_at)
                .await?;
            return Ok(Reduction::Kept {
                renews_at: Some(commitment.renews_at),
                scheduled,
                reason: format!(
                    "the commitment term began {}, more than 7 days (168 h) ago",
                    commitment.term_start
                ),
            });
        }
        ledger
            .put(
                &key,
                &PurchaseRecord {
                    subscription_id: Some(subscription.id.clone()),
                    target_quantity: target,
                    order_id: None,
                },
            )
            .await?;
        match distributor.set_quantity(subscription, target).await {
            Ok(lowered) => Ok(Reduction::Lowered {
                from: subscription.quantity,
                to: lowered.quantity,
            }),
            // A refusal (e.g. a commitment Onboard could not see) keeps the seats.
            Err(Error::Rejected { message, .. }) => Ok(Reduction::Kept {
                renews_at: subscription.commitment.map(|c| c.renews_at),
                scheduled: false,
                reason: format!("{service} refused the decrease: {message}"),
            }),
            Err(e) => Err(e),
        }
    })
    .await
}

/// The subscription to add seats to: an active one first, else the first live one.
fn pick<'a>(service: &'static str, live: &'a [Subscription]) -> Result<&'a Subscription, Error> {
    live.iter()
        .find(|s| s.status == "Active")
        .or_else(|| live.first())
        .ok_or_else(|| Error::NotFound {
            service,
            what: "a live subscription".into(),
        })
}

/// Reads how many seats of a SKU are free in the organization's tenant.
#[async_trait]
pub trait SeatReader: Send + Sync {
    /// Free (enabled minus consumed) seats of `sku`.
    async fn free_seats(&self, sku: &str) -> Result<u32, Error>;
}

/// Any `Fn(String) -> impl Future<Output = Result<u32, Error>>` reads seats.
#[async_trait]
impl<F, Fut> SeatReader for F
where
    F: Fn(String) -> Fut + Send + Sync,
    Fut: Future<Output = Result<u32, Error>> + Send,
{
    async fn free_seats(&self, sku: &str) -> Result<u32, Error> {
        (self)(sku.to_owned()).await
    }
}

/// How patiently to wait for seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatPolling {
    /// Between two reads.
    pub interval: Duration,
    /// Give up (with [`Error::NotReady`]) after waiting this long in all.
    pub timeout: Duration,
}

impl Default for SeatPolling {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(15 * 60),
        }
    }
}

/// Polls `reader` until at least `at_least` seats of `sku` are free; returns
/// the free count. Time passes only through `sleeper`, so tests drive it.
/// Transient read errors are polled through; others end the wait.
pub async fn wait_for_seats(
    service: &'static str,
    reader: &dyn SeatReader,
    sku: &str,
    at_least: u32,
    polling: SeatPolling,
    sleeper: &dyn Sleeper,
) -> Result<u32, Error> {
    let mut waited = Duration::ZERO;
    loop {
        let last = match reader.free_seats(sku).await {
            Ok(free) if free >= at_least => return Ok(free),
            Ok(free) => format!("{free} free"),
            Err(e) if e.is_transient() => format!("last read failed: {e}"),
            Err(e) => return Err(e),
        };
        if waited >= polling.timeout {
            return Err(Error::NotReady {
                service,
                detail: format!(
                    "{at_least} seat(s) of {sku} not in the tenant after {}s ({last})",
                    waited.as_secs()
                ),
            });
        }
        sleeper.sleep(polling.interval).await;
        waited += polling.interval;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug, Default)]
    struct CountingSleeper(AtomicU32);

    #[async_trait]
    impl Sleeper for CountingSleeper {
        async fn sleep(&self, _: Duration) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn waiting_ends_as_soon_as_the_seats_are_free() {
        let sleeper = CountingSleeper::default();
        let reads = Arc::new(AtomicU32::new(0));
        let seen = reads.clone();
        let reader = move |_sku: String| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move { Ok(if n >= 3 { 2 } else { 0 }) }
        };

        let free = wait_for_seats("pax8", &reader, "SPB", 1, SeatPolling::default(), &sleeper)
            .await
            .unwrap();

        assert_eq!(free, 2);
        assert_eq!(reads.load(Ordering::SeqCst), 4);
        assert_eq!(sleeper.0.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn waiting_gives_up_with_not_ready_after_the_timeout() {
        let sleeper = CountingSleeper::default();
        let reader = |_sku: String| async { Ok(0) };
        let polling = SeatPolling {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        };

        let err = wait_for_seats("pax8", &reader, "SPB", 1, polling, &sleeper)
            .await
            .unwrap_err();

        assert!(
            matches!(
                err,
                Error::NotReady {
                    service: "pax8",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.is_transient());
        assert_eq!(sleeper.0.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_permanent_read_error_ends_the_wait_at_once() {
        let sleeper = CountingSleeper::default();
        let reader = |_sku: String| async {
            Err(Error::Forbidden {
                service: "graph",
                message: "no".into(),
            })
        };

        let err = wait_for_seats("pax8", &reader, "SPB", 1, SeatPolling::default(), &sleeper)
            .await
            .unwrap_err();

        assert!(matches!(err, Error::Forbidden { .. }));
        assert_eq!(sleeper.0.load(Ordering::SeqCst), 0);
    }
}
