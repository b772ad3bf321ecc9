//! The directory's objects as the port speaks of them: tenants, users, licenses,
//! groups, authentication methods and mailbox settings.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;

use super::SERVICE;
use crate::error::Error;

/// A tenant: its GUID or one of its verified domains (`contoso.onmicrosoft.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Checks the shape: letters, digits, `.` and `-`, at least one letter or digit.
    pub fn new(tenant: impl Into<String>) -> Result<Self, Error> {
        let tenant = tenant.into();
        let well_formed = !tenant.is_empty()
            && tenant.len() <= 255
            && tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && tenant.chars().any(|c| c.is_ascii_alphanumeric());
        if well_formed {
            Ok(Self(tenant))
        } else {
            Err(Error::Config {
                service: SERVICE,
                detail: format!("tenant '{tenant}' is neither a GUID nor a domain name"),
            })
        }
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A directory object id (a GUID Graph gave us).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(transparent)]
pub struct ObjectId(String);

impl ObjectId {
    /// Wraps an id read from Graph or from the workflow's records.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user as the workflow needs it. Properties Graph did not return are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    /// Object id.
    pub id: ObjectId,
    /// The sign-in name.
    pub user_principal_name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// First name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub surname: Option<String>,
    /// Job title.
    #[serde(default)]
    pub job_title: Option<String>,
    /// Department.
    #[serde(default)]
    pub department: Option<String>,
    /// Office.
    #[serde(default)]
    pub office_location: Option<String>,
    /// Mobile phone.
    #[serde(default)]
    pub mobile_phone: Option<String>,
    /// Business phones.
    #[serde(default)]
    pub business_phones: Vec<String>,
    /// Primary SMTP address.
    #[serde(default)]
    pub mail: Option<String>,
    /// Mail alias.
    #[serde(default)]
    pub mail_nickname: Option<String>,
    /// `SMTP:` (primary) and `smtp:` (alias) addresses.
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
    /// ISO country code; licenses need one.
    #[serde(default)]
    pub usage_location: Option<String>,
    /// Whether sign-in is allowed.
    #[serde(default)]
    pub account_enabled: Option<bool>,
    /// e.g. `DisablePasswordExpiration`.
    #[serde(default)]
    pub password_policies: Option<String>,
    /// `true` when the user is synchronised from on-premises AD: sign-in and
    /// password are then mastered there, not in Entra ID.
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    /// `onPremisesExtensionAttributes`: `extensionAttribute1`..`15`, unset ones null.
    #[serde(default)]
    pub on_premises_extension_attributes: Option<BTreeMap<String, Option<String>>>,
}

impl User {
    /// The value of `onPremisesExtensionAttributes.<name>`, when set.
    pub fn extension_attribute(&self, name: &str) -> Option<&str> {
        self.on_premises_extension_attributes
            .as_ref()?
            .get(name)?
            .as_deref()
    }
}

/// Profile properties set at creation or later; `None` leaves a property as is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// `givenName`.
    pub given_name: Option<String>,
    /// `surname`.
    pub surname: Option<String>,
    /// `jobTitle`.
    pub job_title: Option<String>,
    /// `department`.
    pub department: Option<String>,
    /// `officeLocation`.
    pub office_location: Option<String>,
    /// `mobilePhone`.
    pub mobile_phone: Option<String>,
    /// `businessPhones` (Graph accepts one).
    pub business_phones: Option<Vec<String>>,
    /// `employeeId`.
    pub employee_id: Option<String>,
    /// `companyName`.
    pub company_name: Option<String>,
}

/// `passwordPolicies`: the two switches Graph knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PasswordPolicies {
    /// `DisablePasswordExpiration`: the password never expires.
    pub disable_password_expiration: bool,
    /// `DisableStrongPassword`: weaker passwords are accepted.
    pub disable_strong_password: bool,
}

impl PasswordPolicies {
    /// The property value: `"DisablePasswordExpiration, DisableStrongPassword"`, one of them, or `"None"`.
    pub fn to_graph(self) -> String {
        let mut parts = Vec::new();
        if self.disable_password_expiration {
            parts.push("DisablePasswordExpiration");
        }
        if self.disable_strong_password {
            parts.push("DisableStrongPassword");
        }
        if parts.is_empty() {
            "None".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// A user to create (`POST /users`).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The UPN; its domain must be verified in the tenant.
    pub user_principal_name: String,
    /// Display name.
    pub display_name: String,
    /// Mail alias (no spaces, no `@`).
    pub mail_nickname: String,
    /// Whether sign-in is allowed from the start.
    pub account_enabled: bool,
    /// The initial password; sent once, never logged.
    pub password: SecretString,
    /// `passwordProfile.forceChangePasswordNextSignIn`.
    pub force_change_password_next_sign_in: bool,
    /// `passwordPolicies`; `None` leaves Graph's default.
    pub password_policies: Option<PasswordPolicies>,
    /// ISO country code, needed before any license.
    pub usage_location: Option<String>,
    /// Profile fields.
    pub profile: Profile,
    /// `onPremisesExtensionAttributes` to set at creation (a cloud-only user's:
    /// e.g. the durable mark of who created it), by attribute name.
    pub extension_attributes: BTreeMap<String, String>,
}

/// Changes to a user (`PATCH /users/{id}`); `None` leaves a property as is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// Display name.
    pub display_name: Option<String>,
    /// ISO country code.
    pub usage_location: Option<String>,
    /// Profile fields.
    pub profile: Profile,
}

/// A subscription of the tenant, with its seats.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscribedSku {
    /// The SKU GUID, used to assign.
    pub sku_id: String,
    /// e.g. `SPB`, `O365_BUSINESS_PREMIUM`.
    pub sku_part_number: String,
    /// `Enabled`, `Warning`, `Suspended`, ...
    #[serde(default)]
    pub capability_status: Option<String>,
    /// Seats in use.
    pub consumed_units: i64,
    /// Seats bought, by state.
    pub prepaid_units: PrepaidUnits,
    /// Service plans in the SKU.
    #[serde(default)]
    pub service_plans: Vec<ServicePlan>,
}

impl SubscribedSku {
    /// `prepaidUnits.enabled - consumedUnits`; negative when over-assigned.
    pub fn free_seats(&self) -> i64 {
        self.prepaid_units.enabled - self.consumed_units
    }
}

/// `prepaidUnits` of a SKU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct PrepaidUnits {
    /// Active seats.
    pub enabled: i64,
    /// Seats in the suspended state.
    pub suspended: i64,
    /// Seats in the warning state.
    pub warning: i64,
    /// Seats locked out.
    pub locked_out: i64,
}

/// A service plan in a SKU.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServicePlan {
    /// Plan GUID.
    pub service_plan_id: String,
    /// e.g. `EXCHANGE_S_STANDARD`.
    pub service_plan_name: String,
    /// e.g. `Success`, `Disabled`.
    #[serde(default)]
    pub provisioning_status: Option<String>,
}

/// A license a user holds (`licenseDetails`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LicenseDetail {
    /// The SKU GUID.
    pub sku_id: String,
    /// e.g. `SPB`.
    pub sku_part_number: String,
    /// Plans and their status for this user.
    #[serde(default)]
    pub service_plans: Vec<ServicePlan>,
}

/// How one license reached a user (`licenseAssignmentStates`): errors of
/// group-based licensing show here, not at the membership change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LicenseAssignmentState {
    /// The SKU GUID.
    pub sku_id: String,
    /// The group that assigns it; `None` for a direct assignment.
    #[serde(default)]
    pub assigned_by_group: Option<String>,
    /// `Active`, `ActiveWithError`, `Disabled` or `Error`.
    #[serde(default)]
    pub state: Option<String>,
    /// `None`, `CountViolation`, `MutuallyExclusiveViolation`, ...
    #[serde(default)]
    pub error: Option<String>,
    /// Plans switched off.
    #[serde(default)]
    pub disabled_plans: Vec<String>,
}

impl LicenseAssignmentState {
    /// Whether the assignment failed (state `Error` or `ActiveWithError`).
    pub fn has_error(&self) -> bool {
        matches!(self.state.as_deref(), Some("Error" | "ActiveWithError"))
            || self.error.as_deref().is_some_and(|e| e != "None")
    }
}

/// A license to add, with plans to leave off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseToAdd {
    /// The SKU GUID.
    pub sku_id: String,
    /// Service plan GUIDs to disable.
    pub disabled_plans: Vec<String>,
}

/// A group, with what decides whether its membership may be written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Group {
    /// Object id.
    pub id: ObjectId,
    /// Display name (not unique).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// e.g. `Unified`, `DynamicMembership`.
    #[serde(default)]
    pub group_types: Vec<String>,
    /// Mail-enabled.
    #[serde(default)]
    pub mail_enabled: Option<bool>,
    /// The group's address, when mail-enabled.
    #[serde(default)]
    pub mail: Option<String>,
    /// Security-enabled.
    #[serde(default)]
    pub security_enabled: Option<bool>,
    /// The rule of a dynamic group.
    #[serde(default)]
    pub membership_rule: Option<String>,
    /// `true` when mastered in on-premises AD.
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
}

impl Group {
    /// Why the workflow must not write this group's membership, if it must not.
    pub fn membership_skip_reason(&self) -> Option<SkipReason> {
        if self
            .group_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case("DynamicMembership"))
        {
            Some(SkipReason::DynamicMembership)
        } else if self.on_premises_sync_enabled == Some(true) {
            Some(SkipReason::SyncedFromOnPremises)
        } else if self.is_mail_list() {
            Some(SkipReason::MailList)
        } else {
            None
        }
    }

    /// A distribution list or mail-enabled security group: mail-enabled but not a
    /// Microsoft 365 (`Unified`) group. Graph reads it; only Exchange Online
    /// changes its members (microsoftgraph/microsoft-graph-docs-contrib#7341).
    pub fn is_mail_list(&self) -> bool {
        self.mail_enabled == Some(true)
            && !self
                .group_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case("Unified"))
    }
}

/// Why a membership change was not attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Members come from the group's dynamic rule.
    DynamicMembership,
    /// The group is mastered in on-premises Active Directory.
    SyncedFromOnPremises,
    /// A distribution list or mail-enabled security group ([`Group::is_mail_list`]).
    MailList,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::DynamicMembership => {
                "membership is set by the group's dynamic rule; change the rule or the user's attributes"
            }
            SkipReason::SyncedFromOnPremises => {
                "the group is synchronised from on-premises active directory; change it there"
            }
            SkipReason::MailList => {
                "a distribution list or mail-enabled security group: Microsoft Graph cannot change its members, Exchange Online can"
            }
        })
    }
}

/// What a membership call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// The user was added.
    Added,
    /// The user was already a member; nothing changed.
    AlreadyMember,
    /// The user was removed.
    Removed,
    /// The user was not a member; nothing changed.
    NotAMember,
    /// Not attempted, for this reason.
    Skipped(SkipReason),
}

/// Options of a Temporary Access Pass; `None` takes the tenant policy's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TapRequest {
    /// When it becomes usable.
    pub start: Option<jiff::Timestamp>,
    /// Minutes it stays usable (10 to 43200).
    pub lifetime_minutes: Option<u32>,
    /// One sign-in only.
    pub usable_once: Option<bool>,
}

/// A Temporary Access Pass just created.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TemporaryAccessPass {
    /// The method id.
    pub id: String,
    /// The pass itself: a secret, shown once.
    pub pass: SecretString,
    /// When it becomes usable.
    pub start: Option<jiff::Timestamp>,
    /// Minutes it stays usable.
    pub lifetime_minutes: u32,
    /// One sign-in only.
    pub usable_once: bool,
}

/// The password method's fixed id: it is listed but can never be deleted.
pub const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";

/// One of a user's authentication methods (`GET /users/{id}/authentication/methods`),
/// with personal data masked as it is read: a phone number keeps only its last two
/// digits and an e-mail address its first letter and domain, so no caller can log,
/// note or store them in full.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct AuthenticationMethod {
    /// The method id (fixed ids for the password, phone and e-mail methods).
    pub id: String,
    /// The type as Graph names it without `#microsoft.graph.` and
    /// `AuthenticationMethod`: `password`, `phone`, `microsoftAuthenticator`,
    /// `fido2`, `softwareOath`, `email`, `windowsHelloForBusiness`,
    /// `temporaryAccessPass`, or whatever newer type Graph lists.
    pub kind: String,
    /// `mobile`, `alternateMobile` or `office` for a phone method.
    #[serde(default)]
    pub phone_type: Option<String>,
    /// What tells it apart, masked: `+** *** *** **00`, `j***@contoso.com`, a device name.
    #[serde(default)]
    pub detail: Option<String>,
}

impl AuthenticationMethod {
    /// The collection under `/users/{id}/authentication/` that deletes this method;
    /// `None` for the password method (Graph cannot delete it) and types Graph v1.0
    /// has no delete for.
    pub fn collection(&self) -> Option<&'static str> {
        Some(match self.kind.as_str() {
            "phone" => "phoneMethods",
            "microsoftAuthenticator" => "microsoftAuthenticatorMethods",
            "fido2" => "fido2Methods",
            "softwareOath" => "softwareOathMethods",
            "email" => "emailMethods",
            "windowsHelloForBusiness" => "windowsHelloForBusinessMethods",
            "temporaryAccessPass" => "temporaryAccessPassMethods",
            _ => return None,
        })
    }

    /// The method as one line for notes: `phone (mobile, +** *** *** **00)`.
    pub fn describe(&self) -> String {
        let parts: Vec<&str> = [self.phone_type.as_deref(), self.detail.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if parts.is_empty() {
            self.kind.clone()
        } else {
            format!("{} ({})", self.kind, parts.join(", "))
        }
    }
}

/// Every digit but the last two replaced by `*`; other characters kept, so the
/// shape (country code, grouping) stays readable.
pub fn mask_phone(number: &str) -> String {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    number
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 2 > digits { c } else { '*' }
            } else {
                c
            }
        })
        .collect()
}

/// The first character of the local part, `***`, and the domain.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// Whether a deletion removed something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Removed now.
    Deleted,
    /// It was already gone (a retry after a deletion that succeeded).
    AlreadyGone,
}

/// Who gets the external automatic reply (`externalAudience`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalAudience {
    /// Nobody outside the organization.
    None,
    /// Senders in the user's contacts.
    ContactsOnly,
    /// Every external sender.
    All,
}

impl ExternalAudience {
    pub(super) fn to_graph(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ContactsOnly => "contactsOnly",
            Self::All => "all",
        }
    }
}

/// An automatic reply switched on until further notice (`status: alwaysEnabled`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomaticReplies {
    /// To senders inside the organization.
    pub internal_message: String,
    /// To senders outside it.
    pub external_message: String,
    /// Which outside senders get it.
    pub external_audience: ExternalAudience,
}

/// What a mailbox setting call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxChange {
    /// Set.
    Set,
    /// The user has no Exchange Online mailbox Graph can reach (none, not licensed,
    /// inactive, or hosted on-premises): Graph's own words.
    NoMailbox(String),
}
