//! What a link decides, for its confirmation page: [`describe_decision`].

use jiff::Timestamp;
use onboard_store::{DecisionKind, DecisionState, RecordKind};
use serde::Serialize;

use crate::deps::Deps;

use super::links::*;

/// What the confirmation page shows: what is decided, for whom, by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionPage {
    /// The decision id.
    pub decision_id: String,
    /// Approval or license purchase.
    pub kind: DecisionKind,
    /// Whether it decides an onboarding or an offboarding.
    pub record_kind: RecordKind,
    /// What the link's button does.
    pub action: Action,
    /// The button's label.
    pub action_label: &'static str,
    /// One sentence: "Approve the creation of Ana Silva for Contoso."
    pub question: String,
    /// The onboarding record.
    pub onboarding_id: String,
    /// The organization's id.
    pub organization: String,
    /// The new user's display name.
    pub display_name: String,
    /// The licenses concerned (license purchase only).
    pub licenses: Vec<String>,
    /// When the link expires.
    pub expires_at: Timestamp,
    /// Pending, or how it was decided.
    pub state: DecisionState,
    /// Who decided, once decided.
    pub decided_by: Option<String>,
    /// When, once decided.
    pub decided_at: Option<Timestamp>,
}

/// Builds the confirmation page of a verified link (it changes nothing: mail
/// scanners follow links).
pub async fn describe_decision(
    deps: &Deps,
    link: &VerifiedLink,
) -> Result<DecisionPage, LinkError> {
    let decision = &link.decision;
    let record = deps
        .store
        .get_record(&decision.record_id)
        .await
        .map_err(|e| LinkError::Store(e.into()))?
        .ok_or(LinkError::Unknown)?;
    let display_name = match record.kind {
        // An offboarding names its user by UPN.
        RecordKind::Offboarding => record
            .request
            .get("user_principal_name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .trim()
            .to_owned(),
        RecordKind::Onboarding => display_name_of(&record.request),
    };
    let licenses: Vec<String> = match decision.kind {
        DecisionKind::Approval => Vec::new(),
        DecisionKind::LicensePurchase => record
            .request
            .get("licenses")
            .and_then(|l| l.as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|s| s.as_str().map(|s| s.trim().to_ascii_uppercase()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let offboarding = record.kind == RecordKind::Offboarding;
    let question = match link.action {
        Action::Approve if offboarding => format!(
            "Approve offboarding {display_name} at {}? Sign-in and access will be removed.",
            record.organization
        ),
        Action::Deny if offboarding => format!(
            "Deny offboarding {display_name} at {}? The account will not be changed.",
            record.organization
        ),
        Action::Approve => format!(
            "Approve the creation of {display_name} for {}?",
            record.organization
        ),
        Action::Deny => format!(
            "Deny the creation of {display_name} for {}? No user will be created.",
            record.organization
        ),
        Action::Confirm => format!(
            "Confirm that {} was bought for {display_name} ({})? Onboard will assign it.",
            licenses.join(", "),
            record.organization
        ),
        Action::Reject => format!(
            "Reject buying {} for {display_name} ({})? Onboarding continues without it.",
            licenses.join(", "),
            record.organization
        ),
    };
    Ok(DecisionPage {
        decision_id: decision.id.clone(),
        kind: decision.kind,
        record_kind: record.kind,
        action: link.action,
        action_label: link.action.label(),
        question,
        onboarding_id: record.id,
        organization: record.organization,
        display_name,
        licenses,
        expires_at: decision.expires_at,
        state: decision.state,
        decided_by: decision.decided_by.clone(),
        decided_at: decision.decided_at,
    })
}

/// The display name a stored form gives: `display_name`, else `first last`.
pub(crate) fn display_name_of(form: &serde_json::Value) -> String {
    let text = |field: &str| {
        form.get(field)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    text("display_name").unwrap_or_else(|| {
        [text("first_name"), text("last_name")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    })
}
