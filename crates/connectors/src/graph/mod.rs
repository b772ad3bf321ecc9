//! The `Directory` port (Entra ID users, licenses, groups) and its Microsoft Graph client.
//!
//! - [`Directory`]: what the workflow steps need from a tenant's directory.
//! - [`GraphClient`] (`client`): the implementation over Graph v1.0 with a
//!   client-credentials token per tenant (`token`), retries, paging and
//!   Graph's errors mapped onto [`crate::Error`].
//!
//! Every method names the tenant: one MSP app registration serves many
//! customer tenants, each with its own token.

mod client;
mod errors;
pub(crate) mod token;

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::Deserialize;

use crate::error::Error;

pub use client::{AppAccess, GraphClient, GraphConfig};
pub use token::{AppCredentials, Clock, SystemClock};

/// The service name Graph errors carry.
pub const SERVICE: &str = "graph";

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
    fn to_graph(self) -> &'static str {
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

/// A tenant's directory, as the onboarding and offboarding steps use it.
///
/// Lookups answer `Ok(None)` for "no such object"; writes addressed by
/// [`ObjectId`] wait out Graph's replication delay (a 404 right after
/// creation) before answering [`Error::NotFound`].
#[async_trait]
pub trait Directory: Send + Sync {
    /// A user by object id or UPN.
    async fn user(&self, tenant: &TenantId, id_or_upn: &str) -> Result<Option<User>, Error>;

    /// Users whose UPN, primary mail or any proxy address (`SMTP:`/`smtp:`)
    /// is `address`: the collision check before creating a user.
    async fn find_users_by_address(
        &self,
        tenant: &TenantId,
        address: &str,
    ) -> Result<Vec<User>, Error>;

    /// Users whose UPN starts with `prefix` (all pages).
    async fn find_users_by_upn_prefix(
        &self,
        tenant: &TenantId,
        prefix: &str,
    ) -> Result<Vec<User>, Error>;

    /// Up to `top` users whose display name, given name, surname, UPN or mail
    /// starts with `text` (`$filter` with `startswith`, which Graph answers
    /// without advanced-query headers): the pickers' search. One page.
    async fn search_users(
        &self,
        tenant: &TenantId,
        text: &str,
        top: u16,
    ) -> Result<Vec<User>, Error>;

    /// Creates a user. A taken UPN or address is [`Error::Conflict`]; a weak
    /// password [`Error::PasswordRejected`]. Not idempotent: look up first.
    async fn create_user(&self, tenant: &TenantId, user: &NewUser) -> Result<User, Error>;

    /// Changes profile fields, display name or usage location.
    async fn update_user(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        update: &UserUpdate,
    ) -> Result<(), Error>;

    /// Sets (replaces) the user's manager.
    async fn set_manager(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        manager: &ObjectId,
    ) -> Result<(), Error>;

    /// The user's manager, if any.
    async fn manager(&self, tenant: &TenantId, user: &ObjectId) -> Result<Option<User>, Error>;

    /// Removes the user's manager; no manager is not an error.
    async fn remove_manager(&self, tenant: &TenantId, user: &ObjectId) -> Result<(), Error>;

    /// Sets a new password (needs the User Administrator role).
    async fn reset_password(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        password: &SecretString,
        force_change_next_sign_in: bool,
    ) -> Result<(), Error>;

    /// Sets `passwordPolicies`.
    async fn set_password_policies(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        policies: PasswordPolicies,
    ) -> Result<(), Error>;

    /// Enables or disables sign-in.
    async fn set_account_enabled(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        enabled: bool,
    ) -> Result<(), Error>;

    /// Invalidates the user's refresh tokens and session cookies.
    async fn revoke_sign_in_sessions(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<(), Error>;

    /// Creates a Temporary Access Pass (replacing any previous one).
    async fn create_temporary_access_pass(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        request: &TapRequest,
    ) -> Result<TemporaryAccessPass, Error>;

    /// Groups the user is a direct member of (all pages; roles and units left out).
    async fn member_of(&self, tenant: &TenantId, user: &ObjectId) -> Result<Vec<Group>, Error>;

    /// Licenses the user holds.
    async fn license_details(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<Vec<LicenseDetail>, Error>;

    /// How each license reached the user, with group-based licensing errors.
    async fn license_assignment_states(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<Vec<LicenseAssignmentState>, Error>;

    /// The tenant's subscriptions with their seats.
    async fn subscribed_skus(&self, tenant: &TenantId) -> Result<Vec<SubscribedSku>, Error>;

    /// Adds and removes licenses in one call. No seat is
    /// [`Error::NoFreeSeats`]; no usage location [`Error::NoUsageLocation`];
    /// removing a group's license [`Error::LicenseInherited`].
    async fn assign_licenses(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        add: &[LicenseToAdd],
        remove: &[String],
    ) -> Result<(), Error>;

    /// Groups with exactly this display name (case-insensitive; names are not unique).
    async fn find_groups_by_name(
        &self,
        tenant: &TenantId,
        display_name: &str,
    ) -> Result<Vec<Group>, Error>;

    /// Up to `top` groups whose display name or mail starts with `text`: the
    /// pickers' search. One page.
    async fn search_groups(
        &self,
        tenant: &TenantId,
        text: &str,
        top: u16,
    ) -> Result<Vec<Group>, Error>;

    /// A group by id.
    async fn group(&self, tenant: &TenantId, id: &ObjectId) -> Result<Option<Group>, Error>;

    /// Adds the user to the group through `members/$ref`; skips dynamic and
    /// synced groups; an existing membership is not an error.
    async fn add_group_member(
        &self,
        tenant: &TenantId,
        group: &Group,
        user: &ObjectId,
    ) -> Result<MembershipChange, Error>;

    /// Removes the user from the group through `members/{id}/$ref` (never
    /// without `/$ref`, which deletes the user); skips dynamic and synced
    /// groups; a non-member is not an error.
    async fn remove_group_member(
        &self,
        tenant: &TenantId,
        group: &Group,
        user: &ObjectId,
    ) -> Result<MembershipChange, Error>;

    /// The user's authentication methods (the password method included), masked
    /// as [`AuthenticationMethod`] says.
    async fn authentication_methods(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<Vec<AuthenticationMethod>, Error>;

    /// Deletes one method through its type's collection
    /// (`DELETE /users/{id}/authentication/{collection}/{methodId}`). A method
    /// without a collection (the password) is [`Error::Rejected`] before any call.
    async fn delete_authentication_method(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        method: &AuthenticationMethod,
    ) -> Result<Deletion, Error>;

    /// Whether security defaults are on
    /// (`GET /policies/identitySecurityDefaultsEnforcementPolicy`, `Policy.Read.All`).
    async fn security_defaults_enabled(&self, tenant: &TenantId) -> Result<bool, Error>;

    /// Every Conditional Access policy, whatever its state
    /// (`GET /identity/conditionalAccess/policies`, `Policy.Read.All`). Needs
    /// Entra ID P1: read [`onboard_domain::mfa::has_entra_p1`] from the
    /// subscribed SKUs first, since a tenant without it answers 403.
    async fn conditional_access_policies(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<onboard_domain::mfa::ConditionalAccessPolicy>, Error>;

    /// The Temporary Access Pass method policy
    /// (`GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass`,
    /// `Policy.Read.All`).
    async fn temporary_access_pass_policy(
        &self,
        tenant: &TenantId,
    ) -> Result<onboard_domain::mfa::TapPolicy, Error>;

    /// Switches the automatic reply on (`PATCH /users/{id}/mailboxSettings`).
    async fn set_automatic_replies(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
        replies: &AutomaticReplies,
    ) -> Result<MailboxChange, Error>;

    /// Switches the automatic reply off (`status: disabled`), as a restore does.
    async fn switch_off_automatic_replies(
        &self,
        tenant: &TenantId,
        user: &ObjectId,
    ) -> Result<MailboxChange, Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_and_addresses_are_masked_to_a_hint() {
        assert_eq!(mask_phone("+1 4255550100"), "+* ********00");
        assert_eq!(mask_phone("+44 20 7946 0958"), "+** ** **** **58");
        assert_eq!(mask_email("jane.doe@contoso.com"), "j***@contoso.com");
        assert_eq!(mask_email("nonsense"), "***");
    }

    #[test]
    fn the_password_method_has_no_collection_to_delete_it_from() {
        let method = |kind: &str| AuthenticationMethod {
            id: "m".into(),
            kind: kind.into(),
            phone_type: None,
            detail: None,
        };
        assert_eq!(method("password").collection(), None);
        assert_eq!(method("qrCodePin").collection(), None);
        assert_eq!(method("phone").collection(), Some("phoneMethods"));
        assert_eq!(
            method("windowsHelloForBusiness").collection(),
            Some("windowsHelloForBusinessMethods")
        );
    }

    #[test]
    fn the_port_can_be_shared_as_a_trait_object() {
        fn shared(_: std::sync::Arc<dyn Directory>) {}
        let credentials = AppCredentials {
            client_id: "app".into(),
            client_secret: SecretString::from("secret"),
        };
        let client = GraphClient::new(GraphConfig::global(credentials).unwrap()).unwrap();

        shared(std::sync::Arc::new(client));
    }

    #[test]
    fn tenant_ids_accept_guids_and_domains_and_refuse_paths() {
        assert!(TenantId::new("3fa85f64-5717-4562-b3fc-2c963f66afa6").is_ok());
        assert!(TenantId::new("contoso.onmicrosoft.com").is_ok());
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("..").is_err());
        assert!(TenantId::new("contoso.com/../x").is_err());
    }

    #[test]
    fn password_policies_are_written_as_graph_expects() {
        let both = PasswordPolicies {
            disable_password_expiration: true,
            disable_strong_password: true,
        };
        assert_eq!(
            both.to_graph(),
            "DisablePasswordExpiration, DisableStrongPassword"
        );
        assert_eq!(PasswordPolicies::default().to_graph(), "None");
    }

    #[test]
    fn dynamic_and_synced_groups_give_a_reason_to_skip() {
        let group = |types: &[&str], synced: Option<bool>| Group {
            id: ObjectId::new("g"),
            display_name: None,
            description: None,
            group_types: types.iter().map(|t| (*t).to_owned()).collect(),
            mail_enabled: None,
            mail: None,
            security_enabled: None,
            membership_rule: None,
            on_premises_sync_enabled: synced,
        };
        assert_eq!(
            group(&["DynamicMembership"], None).membership_skip_reason(),
            Some(SkipReason::DynamicMembership)
        );
        assert_eq!(
            group(&[], Some(true)).membership_skip_reason(),
            Some(SkipReason::SyncedFromOnPremises)
        );
        assert_eq!(
            group(&["Unified"], Some(false)).membership_skip_reason(),
            None
        );
    }

    #[test]
    fn free_seats_are_enabled_minus_consumed() {
        let sku: SubscribedSku = serde_json::from_value(serde_json::json!({
            "skuId": "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
            "skuPartNumber": "SPB",
            "consumedUnits": 14,
            "prepaidUnits": {"enabled": 15, "lockedOut": 0, "suspended": 0, "warning": 0}
        }))
        .unwrap();
        assert_eq!(sku.free_seats(), 1);
    }
}
