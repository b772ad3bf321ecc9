//! The records the store keeps, the values their fields take, and paging.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Defines a string-valued enum with its wire names, `as_str`, `FromStr` and serde.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name stored and shown by the HTTP API.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, StoreError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::Malformed(format!(
                        concat!("unknown ", stringify!($name), " {:?}"), other
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// Whether a record is an onboarding or an offboarding.
    RecordKind {
        /// A new user.
        Onboarding = "onboarding",
        /// A leaving user.
        Offboarding = "offboarding",
    }
}

impl RecordKind {
    /// The plural the API and the pages address records of this kind under:
    /// `/api/onboardings/{id}`, `/offboardings/{id}`.
    pub const fn collection(self) -> &'static str {
        match self {
            RecordKind::Onboarding => "onboardings",
            RecordKind::Offboarding => "offboardings",
        }
    }

    /// The name at the start of a sentence, a page title or a mail subject.
    pub const fn title(self) -> &'static str {
        match self {
            RecordKind::Onboarding => "Onboarding",
            RecordKind::Offboarding => "Offboarding",
        }
    }
}

wire_enum! {
    /// Where a record stands: the values of CONTRACT.md §2, and `cancelled` of §4.
    Status {
        /// Waiting for the approver's decision.
        PendingApproval = "pending_approval",
        /// Waiting for the start date (or the scheduled offboarding time).
        Scheduled = "scheduled",
        /// Steps are running.
        Running = "running",
        /// Waiting for a technician to confirm or reject a license purchase.
        WaitingLicensePurchase = "waiting_license_purchase",
        /// Finished successfully.
        Completed = "completed",
        /// The approver denied it.
        Denied = "denied",
        /// Nobody approved it in time.
        ApprovalTimedOut = "approval_timed_out",
        /// A step failed; the ticket says what a technician must do.
        Failed = "failed",
        /// A technician cancelled it while it waited: nothing more happens in the tenant.
        Cancelled = "cancelled",
    }
}

impl Status {
    /// Whether nothing more happens to a record in this status (a batch is done
    /// when every row is).
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Status::Completed
                | Status::Denied
                | Status::ApprovalTimedOut
                | Status::Failed
                | Status::Cancelled
        )
    }
}

wire_enum! {
    /// What happened about the user's license: exactly the values of CONTRACT.md §2.
    LicenseOutcome {
        /// A free seat was assigned.
        Assigned = "assigned",
        /// A seat was bought automatically through the distributor.
        Purchased = "purchased",
        /// A technician confirmed the purchase.
        PurchaseConfirmed = "purchase_confirmed",
        /// A technician rejected the purchase.
        PurchaseRejected = "purchase_rejected",
        /// Nobody decided within the purchase timeout.
        PurchaseTimedOut = "purchase_timed_out",
        /// The form asked for no license.
        NoneRequested = "none_requested",
    }
}

wire_enum! {
    /// What a decision link decides.
    DecisionKind {
        /// Approve or deny a new user.
        Approval = "approval",
        /// Confirm or reject buying a license.
        LicensePurchase = "license_purchase",
    }
}

wire_enum! {
    /// A decision's state. It leaves `pending` exactly once.
    DecisionState {
        /// Nobody has decided yet.
        Pending = "pending",
        /// An approval was approved.
        Approved = "approved",
        /// An approval was denied.
        Denied = "denied",
        /// A license purchase was confirmed.
        Confirmed = "confirmed",
        /// A license purchase was rejected.
        Rejected = "rejected",
        /// Nobody decided before the workflow's timeout.
        Expired = "expired",
    }
}

impl DecisionState {
    /// Whether a decision of `kind` may move from `pending` to `self`.
    pub fn fits(self, kind: DecisionKind) -> bool {
        matches!(
            (kind, self),
            (_, DecisionState::Expired)
                | (
                    DecisionKind::Approval,
                    DecisionState::Approved | DecisionState::Denied
                )
                | (
                    DecisionKind::LicensePurchase,
                    DecisionState::Confirmed | DecisionState::Rejected
                )
        )
    }
}

/// A new onboarding or offboarding, as the API accepted it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    /// The record id, chosen by the caller (it appears in URLs and tickets).
    pub id: String,
    /// Onboarding or offboarding.
    pub kind: RecordKind,
    /// The organization id the form named.
    pub organization: String,
    /// The first status, usually `running`, `pending_approval` or `scheduled`.
    pub status: Status,
    /// The validated request. Must hold no secret: it is stored in plain.
    pub request: serde_json::Value,
    /// The PSA ticket, when the form named one.
    pub ticket_id: Option<String>,
    /// When the request was accepted.
    pub created_at: Timestamp,
}

/// An onboarding or offboarding record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The record id.
    pub id: String,
    /// Onboarding or offboarding.
    pub kind: RecordKind,
    /// The organization id.
    pub organization: String,
    /// Where it stands.
    pub status: Status,
    /// The validated request (no secrets).
    pub request: serde_json::Value,
    /// The user's UPN, once known.
    pub user_principal_name: Option<String>,
    /// The PSA ticket, once known.
    pub ticket_id: Option<String>,
    /// The license outcome, once known (onboarding only).
    pub license_outcome: Option<LicenseOutcome>,
    /// Offboarding only: what was removed (groups, licenses, manager, enabled), to restore a rehire.
    pub removed: Option<serde_json::Value>,
    /// Until when the run waits in its current status (the start date, a
    /// decision's expiry), as the workflow last set it. Meaningful only while
    /// the status is a waiting one.
    #[serde(default)]
    pub waiting_until: Option<Timestamp>,
    /// When the request was accepted.
    pub created_at: Timestamp,
    /// When the record last changed (including a timeline event).
    pub updated_at: Timestamp,
}

/// Changes to a record; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordUpdate {
    /// The new status.
    pub status: Option<Status>,
    /// The UPN the workflow settled on.
    pub user_principal_name: Option<String>,
    /// The PSA ticket found or created.
    pub ticket_id: Option<String>,
    /// The license outcome.
    pub license_outcome: Option<LicenseOutcome>,
    /// Offboarding: the restore record.
    pub removed: Option<serde_json::Value>,
    /// Until when the run waits in the status it enters.
    pub waiting_until: Option<Timestamp>,
    /// A timeline event written in the same atomic change.
    pub event: Option<TimelineEvent>,
    /// Apply the change only while the record has this status (a technician's
    /// cancel against the wait loop's go); otherwise [`crate::StoreError::StatusChanged`]
    /// and nothing is written.
    pub expect_status: Option<Status>,
}

/// One line of a record's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// When it happened.
    pub at: Timestamp,
    /// The step, as named everywhere (`create_user`, ...).
    pub step: String,
    /// What happened, for a person.
    pub message: String,
}

/// Which records to list. Each filter is served by an index on both backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordFilter {
    /// One organization's records, oldest first.
    Organization(String),
    /// Records in one status, by organization then oldest first.
    Status(Status),
    /// One organization's records in one status, oldest first.
    OrganizationAndStatus(String, Status),
}

/// Which records [`crate::Store::list_recent`] lists, newest first: every
/// record of a kind, or only one organization's, or only one status's, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentFilter {
    /// Only this organization's records.
    pub organization: Option<String>,
    /// Only records in this status.
    pub status: Option<Status>,
}

impl RecentFilter {
    /// What a cursor of this listing is bound to: a cursor is refused by any other listing.
    pub(crate) fn signature(&self, kind: RecordKind) -> String {
        format!(
            "{kind}/{}/{}",
            self.organization.as_deref().unwrap_or(""),
            self.status.map_or("", Status::as_str)
        )
    }
}

/// Where a newest-first listing stopped: the (created, id) of its last item.
/// Both backends use it, so a cursor means the same on each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecentCursor {
    /// [`RecentFilter::signature`] of the listing.
    pub(crate) q: String,
    /// `created_us` of the last item.
    pub(crate) t: i64,
    /// Id of the last item.
    pub(crate) i: String,
}

impl RecentCursor {
    pub(crate) fn encode(&self) -> Result<Cursor, StoreError> {
        use base64::Engine as _;
        Ok(Cursor(format!(
            "r1.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self)?)
        )))
    }

    /// The cursor, checked to belong to the listing `signature`.
    pub(crate) fn decode(
        cursor: Option<&Cursor>,
        signature: &str,
    ) -> Result<Option<Self>, StoreError> {
        use base64::Engine as _;
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let body = cursor
            .0
            .strip_prefix("r1.")
            .ok_or(StoreError::InvalidCursor)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| StoreError::InvalidCursor)?;
        let c: RecentCursor =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        if c.q != signature {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Some(c))
    }
}

/// An opaque position in a listing, handed back by one page to fetch the next.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(pub String);

/// A page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// At most the requested number of items.
    pub items: Vec<T>,
    /// Where the next page starts; `None` when there are no more items.
    /// A page may come back empty with `None` after a full previous page.
    pub next: Option<Cursor>,
}

/// A decision to ask for: the store draws its random id.
#[derive(Debug, Clone)]
pub struct NewDecision {
    /// Approval or license purchase.
    pub kind: DecisionKind,
    /// The record it belongs to (must exist).
    pub record_id: String,
    /// The Step Functions task token to resume with. Sealed at rest; never in `Debug`.
    pub task_token: SecretString,
    /// When the links stop working.
    pub expires_at: Timestamp,
    /// When it was asked for.
    pub created_at: Timestamp,
}

/// A decision, without its task token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Random id (128 bits, base64url), used in the links.
    pub id: String,
    /// Approval or license purchase.
    pub kind: DecisionKind,
    /// The record it belongs to.
    pub record_id: String,
    /// The record's organization.
    pub organization: String,
    /// Pending, or how it was decided.
    pub state: DecisionState,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// When the links stop working.
    pub expires_at: Timestamp,
    /// Who decided (an email address, or `"timeout"`), once decided.
    pub decided_by: Option<String>,
    /// When it was decided.
    pub decided_at: Option<Timestamp>,
}

/// A decider's request to move a decision out of `pending`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decide {
    /// The target state; must fit the decision's kind ([`DecisionState::fits`]).
    pub to: DecisionState,
    /// Who decides.
    pub by: String,
    /// When. Unless `to` is `expired`, it must be before the decision's expiry.
    pub at: Timestamp,
}

/// What became of a [`Decide`] call.
#[derive(Debug)]
pub enum DecideOutcome {
    /// This call won: the decision moved out of `pending`. The winner alone gets the token.
    Decided {
        /// The decision as it now stands.
        decision: Decision,
        /// The task token to resume the workflow with.
        task_token: SecretString,
    },
    /// Someone decided first; the decision says who, when and how.
    AlreadyDecided(Decision),
    /// Still pending, but past its expiry: nothing changed.
    Expired(Decision),
    /// No such decision.
    Unknown,
}

/// Where organization variables or connector settings apply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// MSP-wide defaults.
    Msp,
    /// One organization's overrides.
    Organization(String),
}

impl Scope {
    /// The key under which the scope is stored: `msp` or `org:<id>`.
    pub(crate) fn key(&self) -> String {
        match self {
            Scope::Msp => "msp".to_owned(),
            Scope::Organization(id) => format!("org:{id}"),
        }
    }

    /// The scope stored under `key` ([`Scope::key`]).
    pub(crate) fn from_key(key: &str) -> Result<Self, crate::StoreError> {
        match key {
            "msp" => Ok(Scope::Msp),
            other => other
                .strip_prefix("org:")
                .map(|id| Scope::Organization(id.to_owned()))
                .ok_or_else(|| {
                    crate::StoreError::Malformed(format!("unknown scope key `{other}`"))
                }),
        }
    }
}

/// Organization variables: name -> value, as the original crate names them.
pub type Variables = BTreeMap<String, String>;

/// Where a connector's secret lives. The store keeps the reference, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum SecretRef {
    /// An AWS Secrets Manager secret (name or ARN), optionally one JSON key of it.
    SecretsManager {
        /// Secret name or ARN.
        id: String,
        /// A key inside a JSON secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        json_key: Option<String>,
    },
    /// An SSM Parameter Store SecureString.
    SsmParameter {
        /// Parameter name.
        name: String,
    },
    /// An environment variable of the process.
    Env {
        /// Variable name.
        var: String,
    },
    /// A local file holding only the secret.
    File {
        /// Path to the file.
        path: String,
    },
}

/// One connector's settings (a PSA, a vault, a distributor, ...) in one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorSettings {
    /// Connector name, e.g. `connectwise`, `itglue`, `pax8`.
    pub connector: String,
    /// Plain settings: base URL, company id, ...
    pub settings: BTreeMap<String, String>,
    /// Secrets by role (`api_key`, `client_secret`, ...), as references.
    pub secrets: BTreeMap<String, SecretRef>,
}

/// A named template of an organization (`[organizations.X.templates.NAME]`):
/// what a form that names it gets where it leaves a field empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredTemplate {
    /// Its name, as forms give it in `template`.
    pub name: String,
    /// Its fields (`onboard_domain::template::Template` reads them).
    pub body: serde_json::Value,
}

/// Zero-padded microseconds since the epoch, clamped at 0: sorts as a string
/// (DynamoDB's sort keys; SQLite sorts integers).
#[cfg(feature = "dynamodb")]
pub(crate) fn sort_time(ts: Timestamp) -> String {
    format!("{:020}", ts.as_microsecond().max(0))
}

/// A 128-bit random id, base64url without padding (22 characters).
pub(crate) fn random_id() -> Result<String, StoreError> {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(StoreError::Randomness)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn statuses_are_the_contract_values() {
        let names: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "pending_approval",
                "scheduled",
                "running",
                "waiting_license_purchase",
                "completed",
                "denied",
                "approval_timed_out",
                "failed",
                "cancelled"
            ]
        );
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn license_outcomes_are_the_contract_values() {
        let names: Vec<_> = LicenseOutcome::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "assigned",
                "purchased",
                "purchase_confirmed",
                "purchase_rejected",
                "purchase_timed_out",
                "none_requested"
            ]
        );
    }

    #[test]
    fn only_matching_outcomes_fit_a_decision_kind() {
        assert!(DecisionState::Approved.fits(DecisionKind::Approval));
        assert!(!DecisionState::Confirmed.fits(DecisionKind::Approval));
        assert!(DecisionState::Rejected.fits(DecisionKind::LicensePurchase));
        assert!(!DecisionState::Denied.fits(DecisionKind::LicensePurchase));
        assert!(DecisionState::Expired.fits(DecisionKind::LicensePurchase));
        assert!(!DecisionState::Pending.fits(DecisionKind::Approval));
    }

    #[test]
    fn a_new_decision_debug_shows_no_token() {
        let d = NewDecision {
            kind: DecisionKind::Approval,
            record_id: "r".into(),
            task_token: SecretString::from("very-secret-token".to_owned()),
            expires_at: Timestamp::UNIX_EPOCH,
            created_at: Timestamp::UNIX_EPOCH,
        };
        assert!(!format!("{d:?}").contains("very-secret-token"));
    }

    #[test]
    fn sort_times_order_like_timestamps() {
        let a = Timestamp::from_second(5).unwrap();
        let b = Timestamp::from_second(40).unwrap();
        assert!(sort_time(a) < sort_time(b));
    }
}
