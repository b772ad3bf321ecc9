//! Step `RecordLicenseOutcome`: the manual purchase was rejected or timed out.
//! Notes the ticket (the license must be assigned by hand), records the license
//! outcome, and puts the ticket back to `default_ticket_status`: onboarding continues.

use onboard_domain::notes;
use onboard_store::{LicenseOutcome, RecordUpdate, Status};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::context::update;
use crate::decisions::expire_all;
use crate::deps::Deps;
use crate::error::StepError;
use crate::onboarding::Onboarding;
use crate::onboarding::assign_license::{Next, decided};
use crate::onboarding::create_user::created;
use crate::onboarding::seat_reservations;

/// How the manual purchase ended without a license.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A technician rejected it.
    PurchaseRejected,
    /// Nobody answered in time.
    PurchaseTimedOut,
}

/// The input of `RecordLicenseOutcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
    /// How it ended.
    pub outcome: Outcome,
}

/// As `$.license`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Always `done`.
    pub next: Next,
    /// `purchase_rejected` or `purchase_timed_out`.
    pub outcome: LicenseOutcome,
}

/// Records that the user goes on without the licenses that had no seat.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "record_license_outcome"))]
pub async fn record_license_outcome(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let user = created(deps, onboarding.id()).await?;
    let decision = decided(deps, onboarding.id()).await?;
    let skus: Vec<_> = decision.pending().iter().map(|i| i.sku.clone()).collect();
    let (outcome, text) = match input.outcome {
        Outcome::PurchaseRejected => (
            LicenseOutcome::PurchaseRejected,
            notes::license_purchase_rejected(&user.user_principal_name, &skus),
        ),
        Outcome::PurchaseTimedOut => {
            expire_all(deps, onboarding.id(), "request_license_purchase").await?;
            (
                LicenseOutcome::PurchaseTimedOut,
                notes::license_purchase_timed_out(&user.user_principal_name, &skus),
            )
        }
    };
    seat_reservations::give_back_all(deps, &onboarding).await?;
    onboarding
        .note(deps, "record_license_outcome", &text)
        .await?;
    onboarding
        .set_ticket_status(deps, onboarding.variables.default_ticket_status.as_deref())
        .await?;
    update(
        deps,
        onboarding.id(),
        "record_license_outcome",
        &format!("continuing without a license ({outcome})"),
        RecordUpdate {
            status: Some(Status::Running),
            license_outcome: Some(outcome),
            ..RecordUpdate::default()
        },
    )
    .await?;
    Ok(Output {
        next: Next::Done,
        outcome,
    })
}
