//! Step `AssignLicense`: decides, once, how the user gets each requested license
//! (assign a free seat, buy one through the distributor, or ask a technician), assigns
//! what can be assigned, and tells the state machine what comes `next`.
//!
//! Run again with `after_purchase: true` once seats were bought (automatically or by
//! a technician), it assigns the rest; seats that have not reached the tenant yet
//! are `License.SeatsPending`, which the state machine retries.

use std::collections::{BTreeMap, BTreeSet};

use onboard_connectors::Error as ConnectorError;
use onboard_connectors::graph::{
    Directory, LicenseToAdd, MembershipChange, ObjectId, SubscribedSku, TenantId,
};
use onboard_domain::license::{
    Assignment, LicenseAction, LicenseInputs, LicensePlanItem, LicensePurchaseChoice,
};
use onboard_domain::{LicensePlan, SkuPartNumber, Variables, decide_licenses, notes};
use onboard_store::{LicenseOutcome, RecordUpdate, Status};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::context::update;
use crate::deps::{Deps, Organization};
use crate::error::{Port, StepError};
use crate::idempotency::{key, recall, remember};
use crate::onboarding::Onboarding;
use crate::onboarding::create_user::created;
use crate::onboarding::seat_reservations;

/// What the state machine does after `AssignLicense`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// Buy the missing seats through the distributor (`PurchaseLicense`).
    AutoPurchase,
    /// Ask a technician to buy them (`RequestLicensePurchase`).
    ManualPurchase,
    /// Nothing left to do about licenses.
    Done,
}

/// The input of `AssignLicense`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
    /// `false` the first time; `true` after seats were bought.
    #[serde(default)]
    pub after_purchase: bool,
}

/// As `$.license`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// What comes next.
    pub next: Next,
    /// The license outcome, once known.
    pub outcome: Option<LicenseOutcome>,
    /// SKUs the user now has.
    pub assigned: Vec<String>,
    /// SKUs still to buy.
    pub pending: Vec<String>,
}

/// The license decision of a run, remembered so a retry (which would see the seat
/// it just took as consumed) does not decide again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Decided {
    pub(crate) plan: LicensePlan,
    pub(crate) next: Next,
}

impl Decided {
    /// The items waiting for a purchase.
    pub(crate) fn pending(&self) -> Vec<&LicensePlanItem> {
        self.plan
            .items()
            .iter()
            .filter(|i| !matches!(i.action, LicenseAction::Assign { .. }))
            .collect()
    }
}

/// The remembered license decision of `onboarding_id`.
pub(crate) async fn decided(deps: &Deps, onboarding_id: &str) -> Result<Decided, StepError> {
    recall(
        deps.store.as_ref(),
        &key(onboarding_id, "assign_license", "plan"),
    )
    .await?
    .ok_or_else(|| {
        StepError::Internal(format!(
            "onboarding {onboarding_id} has no license decision: AssignLicense must run first"
        ))
    })
}

fn graph(e: ConnectorError) -> StepError {
    StepError::connector(Port::Graph, e)
}

fn sku_named<'a>(skus: &'a [SubscribedSku], part: &SkuPartNumber) -> Option<&'a SubscribedSku> {
    skus.iter()
        .find(|s| s.sku_part_number.eq_ignore_ascii_case(part.as_str()))
}

fn free_seats(skus: &[SubscribedSku]) -> BTreeMap<SkuPartNumber, u32> {
    skus.iter()
        .filter_map(|s| {
            let part: SkuPartNumber = s.sku_part_number.parse().ok()?;
            Some((
                part,
                u32::try_from(s.free_seats().max(0)).unwrap_or(u32::MAX),
            ))
        })
        .collect()
}

struct Assigner<'a> {
    directory: &'a dyn Directory,
    tenant: &'a TenantId,
    user: ObjectId,
    skus: Vec<SubscribedSku>,
    held: BTreeSet<String>,
    after_purchase: bool,
}

impl Assigner<'_> {
    /// The error for "no seat": wait for bought seats, or give up.
    fn no_seat(&self, sku: &SkuPartNumber) -> StepError {
        if self.after_purchase {
            StepError::SeatsPending(format!("no free seat of {sku} in the tenant yet"))
        } else {
            StepError::LicenseUnavailable(format!(
                "the free seat of {sku} was taken before it could be assigned; assign it by hand"
            ))
        }
    }

    async fn assign(
        &self,
        item: &LicensePlanItem,
        assignment: &Assignment,
    ) -> Result<bool, StepError> {
        let sku = &item.sku;
        if self.held.contains(sku.as_str()) {
            return Ok(false);
        }
        let Some(subscribed) = sku_named(&self.skus, sku) else {
            return Err(self.no_seat(sku));
        };
        if self.after_purchase && subscribed.free_seats() < 1 {
            return Err(self.no_seat(sku));
        }
        match assignment {
            Assignment::Direct { .. } => {
                let add = [LicenseToAdd {
                    sku_id: subscribed.sku_id.clone(),
                    disabled_plans: Vec::new(),
                }];
                match self
                    .directory
                    .assign_licenses(self.tenant, &self.user, &add, &[])
                    .await
                {
                    Ok(()) => Ok(true),
                    Err(ConnectorError::NoFreeSeats { .. }) => Err(self.no_seat(sku)),
                    Err(ConnectorError::NoUsageLocation { .. }) => {
                        Err(StepError::LicenseUnavailable(format!(
                            "{sku} cannot be assigned: the user has no usage location"
                        )))
                    }
                    Err(e) => Err(graph(e)),
                }
            }
            Assignment::Group { group } => {
                let groups = self
                    .directory
                    .find_groups_by_name(self.tenant, group)
                    .await
                    .map_err(graph)?;
                let Some(found) = groups.first() else {
                    return Err(StepError::Config(format!(
                        "license group `{group}` for {sku} (license_groups) does not exist in the tenant"
                    )));
                };
                match self
                    .directory
                    .add_group_member(self.tenant, found, &self.user)
                    .await
                    .map_err(graph)?
                {
                    MembershipChange::Added | MembershipChange::AlreadyMember => Ok(true),
                    MembershipChange::Skipped(reason) => Err(StepError::Config(format!(
                        "license group `{group}` for {sku} cannot be written: {reason}"
                    ))),
                    other => Err(StepError::Internal(format!(
                        "adding a member answered {other:?}"
                    ))),
                }
            }
        }
    }
}

/// How each of `requested` would be licensed in a tenant with `skus`: assign a
/// free seat (directly or through its license group), buy one through the
/// distributor, or ask a technician. The one decision both `AssignLicense` and
/// `POST /api/onboardings/plan` make; it reads the distributor mapping, it changes nothing.
pub(crate) async fn decide(
    deps: &Deps,
    holder: &str,
    organization: &Organization,
    vars: &Variables,
    requested: &[SkuPartNumber],
    purchase_choice: Option<LicensePurchaseChoice>,
    skus: &[SubscribedSku],
) -> Result<Decided, StepError> {
    let distributor_mapped = match vars.microsoft_licensing_distributor {
        Some(name) => deps
            .connections
            .distributor(organization, name)
            .await?
            .is_some(),
        None => false,
    };
    // Seats bought for other onboardings are free until those assign them.
    let mut free = free_seats(skus);
    for sku in requested {
        if let Some(seats) = free.get_mut(sku) {
            let spoken_for =
                seat_reservations::held_by_others(deps, holder, &organization.tenant, sku).await?;
            *seats = seats.saturating_sub(spoken_for);
        }
    }
    let plan = decide_licenses(&LicenseInputs {
        requested,
        free_seats: &free,
        method: vars.m365_license_assignment_method,
        groups: &vars.license_groups,
        auto_purchase_enabled: vars.auto_purchase_license_if_none_available,
        purchase_choice,
        distributor_mapped,
    })
    .name_distributor_without_api(vars.microsoft_licensing_distributor);
    let next = if plan.needs_technician() {
        Next::ManualPurchase
    } else if plan
        .items()
        .iter()
        .any(|i| matches!(i.action, LicenseAction::AutoPurchase { .. }))
    {
        Next::AutoPurchase
    } else {
        Next::Done
    };
    Ok(Decided { plan, next })
}

/// Assigns the user's licenses, or says which must be bought first.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "assign_license"))]
pub async fn assign_license(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let user = created(deps, onboarding.id()).await?;
    let vars = &onboarding.variables;
    let request = &onboarding.request;

    if request.licenses.is_empty() {
        update(
            deps,
            onboarding.id(),
            "assign_license",
            "no license requested",
            RecordUpdate {
                license_outcome: Some(LicenseOutcome::NoneRequested),
                ..RecordUpdate::default()
            },
        )
        .await?;
        return Ok(Output {
            next: Next::Done,
            outcome: Some(LicenseOutcome::NoneRequested),
            assigned: Vec::new(),
            pending: Vec::new(),
        });
    }

    let directory = onboarding.directory(deps).await?;
    let tenant = onboarding.organization.tenant.clone();
    let skus = directory.subscribed_skus(&tenant).await.map_err(graph)?;
    let user_id = ObjectId::new(user.user_id.clone());
    let held: BTreeSet<String> = directory
        .license_details(&tenant, &user_id)
        .await
        .map_err(graph)?
        .into_iter()
        .map(|l| l.sku_part_number.to_ascii_uppercase())
        .collect();

    let plan_key = key(onboarding.id(), "assign_license", "plan");
    let decision = match recall::<Decided>(deps.store.as_ref(), &plan_key).await? {
        Some(d) => d,
        None => {
            let decision = decide(
                deps,
                onboarding.id(),
                &onboarding.organization,
                vars,
                &request.licenses,
                request.license_purchase,
                &skus,
            )
            .await?;
            remember(deps.store.as_ref(), &plan_key, &decision, deps.clock.now()).await?
        }
    };

    let waiting: Vec<&SkuPartNumber> = decision.pending().iter().map(|i| &i.sku).collect();
    if !input.after_purchase {
        // From here until the seat is assigned, nobody else counts it as free
        // (held again on a retry: that only moves the expiry).
        seat_reservations::hold(deps, onboarding.id(), &tenant, &waiting).await?;
    }

    let assigner = Assigner {
        directory: directory.as_ref(),
        tenant: &tenant,
        user: user_id,
        skus,
        held,
        after_purchase: input.after_purchase,
    };
    let mut assigned = Vec::new();
    let mut pending = Vec::new();
    for item in decision.plan.items() {
        let assignment = match (&item.action, input.after_purchase) {
            (LicenseAction::Assign { assignment }, _) => assignment,
            (LicenseAction::AutoPurchase { then }, true)
            | (LicenseAction::ManualPurchase { then, .. }, true) => then,
            (_, false) => {
                pending.push(item.sku.as_str().to_owned());
                continue;
            }
        };
        assigner.assign(item, assignment).await?;
        onboarding
            .note(
                deps,
                &format!("assign_license-{}", item.sku),
                &notes::license_assigned(&user.user_principal_name, &item.sku, assignment),
            )
            .await?;
        assigned.push(item.sku.as_str().to_owned());
    }

    if input.after_purchase {
        seat_reservations::give_back(deps, onboarding.id(), &tenant, &waiting).await?;
    }

    let (next, outcome) = match (input.after_purchase, decision.next) {
        (false, Next::Done) => (Next::Done, Some(LicenseOutcome::Assigned)),
        (false, next) => (next, None),
        (true, Next::AutoPurchase) => (Next::Done, Some(LicenseOutcome::Purchased)),
        (true, _) => (Next::Done, Some(LicenseOutcome::PurchaseConfirmed)),
    };
    let message = match &outcome {
        Some(o) => format!("licenses: {} ({o})", assigned.join(", ")),
        None => format!(
            "no free seat of {}: {}",
            pending.join(", "),
            match next {
                Next::AutoPurchase => "buying through the distributor",
                _ => "asking a technician to buy",
            }
        ),
    };
    update(
        deps,
        onboarding.id(),
        "assign_license",
        &message,
        RecordUpdate {
            status: Some(Status::Running),
            license_outcome: outcome,
            ..RecordUpdate::default()
        },
    )
    .await?;
    Ok(Output {
        next,
        outcome,
        assigned,
        pending,
    })
}
