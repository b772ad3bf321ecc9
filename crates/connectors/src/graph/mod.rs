//! The `Directory` port (Entra ID users, licenses, groups) and its Microsoft Graph client.
//!
//! - [`Directory`]: what the workflow steps need from a tenant's directory.
//! - `model`: the objects it speaks of ([`TenantId`], [`User`], [`Group`], ...).
//! - [`GraphClient`] (`client`): the implementation over Graph v1.0 with a
//!   client-credentials token per tenant (`token`), retries, paging and
//!   Graph's errors mapped onto [`crate::Error`] (`errors`). `client/directory.rs`
//!   is the port call by call, `client/wire.rs` Graph's JSON shapes.
//!
//! Every method names the tenant: one MSP app registration serves many
//! customer tenants, each with its own token.

mod client;
mod errors;
mod model;
pub(crate) mod token;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::error::Error;

pub use client::{AppAccess, GraphClient, GraphConfig};
pub use model::{
    AuthenticationMethod, AutomaticReplies, Deletion, ExternalAudience, Group,
    LicenseAssignmentState, LicenseDetail, LicenseToAdd, MailboxChange, MembershipChange, NewUser,
    ObjectId, PASSWORD_METHOD_ID, PasswordPolicies, PrepaidUnits, Profile, ServicePlan, SkipReason,
    SubscribedSku, TapRequest, TemporaryAccessPass, TenantId, User, UserUpdate, mask_email,
    mask_phone,
};
pub use token::{AppCredentials, Clock, SystemClock};

/// The service name Graph errors carry.
pub const SERVICE: &str = "graph";

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
