//! Step `RequestLicensePurchase` (`.waitForTaskToken`): a technician must buy a license.
//! Stores the task token as a decision, notes the ticket with why and the Confirm /
//! Reject links (or mails them to `onboard_offboard_notification_email` when nothing
//! is ticketed), sets `ticket_status_waiting_input` and the `waiting_license_purchase`
//! status. Confirm resumes the workflow; reject fails the task with
//! `License.PurchaseRejected`; no answer ends in `States.Timeout`.

use jiff::Timestamp;
use onboard_connectors::notify::Mail;
use onboard_domain::license::{LicenseAction, ManualPurchaseReason};
use onboard_domain::{SkuPartNumber, notes};
use onboard_store::{DecisionKind, Status};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::decisions::issue;
use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::key;
use crate::mail::{mail_once, sender};
use crate::onboarding::Onboarding;
use crate::onboarding::assign_license::decided;

/// The input of `RequestLicensePurchase`: the Lambda payload of the waiting task.
#[derive(Debug, Clone, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
    /// `$$.Task.Token`: kept sealed in the store, never logged or returned.
    pub task_token: SecretString,
    /// How long the task waits (`$.plan.license_timeout_seconds`): the links' lifetime.
    pub timeout_seconds: u64,
}

/// What the step did (a waiting task's own output is ignored by the state machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The decision's id.
    pub decision_id: String,
    /// When the links expire.
    pub expires_at: Timestamp,
}

/// Asks a technician to buy the licenses that have no free seat.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "request_license_purchase"))]
pub async fn request_license_purchase(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let decision = decided(deps, onboarding.id()).await?;
    let pending = decision.pending();
    let skus: Vec<SkuPartNumber> = pending.iter().map(|i| i.sku.clone()).collect();
    let reason = pending
        .iter()
        .find_map(|i| match i.action {
            LicenseAction::ManualPurchase { reason, .. } => Some(reason),
            _ => None,
        })
        .unwrap_or(ManualPurchaseReason::ChosenInForm);
    let issued = issue(
        deps,
        onboarding.id(),
        &onboarding.record.organization,
        "request_license_purchase",
        DecisionKind::LicensePurchase,
        &input.task_token,
        input.timeout_seconds,
    )
    .await?;
    let vars = &onboarding.variables;
    let text = notes::license_purchase_needed(
        &onboarding.organization.name,
        &skus,
        reason,
        &issued.yes,
        &issued.no,
        issued.decision.expires_at,
        &vars.time_zone,
    );
    let part = format!("request_license_purchase-{}", issued.generation);
    if onboarding.note(deps, &part, &text).await?.is_none() {
        // Nothing is ticketed: the technicians get the links by mail.
        let to: Vec<&str> = vars
            .onboard_offboard_notification_email
            .iter()
            .map(|a| a.as_str())
            .collect();
        if to.is_empty() {
            return Err(StepError::Config(
                "a manual license purchase needs a psa ticket or `onboard_offboard_notification_email` to send the links to"
                    .into(),
            ));
        }
        let mut mail = Mail::builder(
            &sender(vars)?,
            &to,
            &format!(
                "License purchase needed for {} ({})",
                onboarding.request.display_name, onboarding.organization.name
            ),
        );
        for paragraph in text.split("\n\n") {
            mail = mail.paragraph(paragraph);
        }
        let mail = mail
            .link("Confirm license purchase", issued.yes.as_str())
            .link("Reject license purchase", issued.no.as_str())
            .build();
        mail_once(
            deps,
            &key(
                onboarding.id(),
                "request_license_purchase",
                &format!("mail/{}", issued.decision.id),
            ),
            &mail,
        )
        .await?;
    }
    onboarding
        .set_ticket_status(deps, vars.ticket_status_waiting_input.as_deref())
        .await?;
    crate::context::record_waiting(
        deps,
        onboarding.id(),
        "request_license_purchase",
        Status::WaitingLicensePurchase,
        issued.decision.expires_at,
        &format!(
            "waiting for a technician to buy {} until {}",
            skus.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            issued.decision.expires_at
        ),
    )
    .await?;
    Ok(Output {
        decision_id: issued.decision.id.clone(),
        expires_at: issued.decision.expires_at,
    })
}
