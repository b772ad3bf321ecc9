//! The `Exchange` port (mailboxes, mailbox permissions, distribution groups) and
//! its Exchange Online client.
//!
//! Microsoft Graph v1.0 cannot convert a mailbox to shared, grant FullAccess or
//! SendAs, set forwarding or hide a mailbox from the address list
//! (`reference/api-facts.md` §15). Exchange Online's admin endpoint can, from an
//! app token: `POST https://outlook.office365.com/adminapi/beta/{tenant}/InvokeCommand`
//! with `{"CmdletInput":{"CmdletName","Parameters"}}`, the endpoint CIPP
//! (`New-ExoRequest.ps1`) and the EXO V3 PowerShell module use. It is
//! undocumented: what is not sourced there is marked `[?]`.
//!
//! - [`Exchange`]: what the workflow steps need, one method per cmdlet.
//! - [`ExchangeClient`] (`client`): the implementation, with the organization's
//!   Graph app registration signing in for `https://outlook.office365.com/.default`
//!   (the app needs `Exchange.ManageAsApp` and the Exchange Administrator role).
//!
//! Reads and `Set-Mailbox` (absolute values) are sent again after a lost answer
//! like any read; so are `Add-DistributionGroupMember` and
//! `Remove-DistributionGroupMember`, whose resends answer "already a member"
//! and "isn't a member", read as done. `Add-MailboxPermission`,
//! `Remove-MailboxPermission` and `Add-RecipientPermission` are never resent
//! blindly: after a lost answer the client reads `Get-MailboxPermission` (or
//! `Get-RecipientPermission`) and sends the write again only if it was
//! not applied (an "existing permission entry" answer also counts as done).

mod client;
mod errors;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::graph::TenantId;

pub use client::{ExchangeClient, ExchangeConfig};

/// The service name Exchange errors carry.
pub const SERVICE: &str = "exchange";

/// A mailbox as `Get-Mailbox` answers it (the properties the workflow reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Mailbox {
    /// `UserPrincipalName`.
    #[serde(rename = "UserPrincipalName")]
    pub user_principal_name: String,
    /// `PrimarySmtpAddress`.
    #[serde(rename = "PrimarySmtpAddress", default)]
    pub primary_smtp_address: String,
    /// `RecipientTypeDetails`: `UserMailbox`, `SharedMailbox`, ...
    #[serde(rename = "RecipientTypeDetails", default)]
    pub recipient_type_details: String,
    /// `HiddenFromAddressListsEnabled`.
    #[serde(rename = "HiddenFromAddressListsEnabled", default)]
    pub hidden_from_address_lists_enabled: bool,
    /// `ForwardingAddress`: an internal recipient, when set.
    #[serde(rename = "ForwardingAddress", default)]
    pub forwarding_address: Option<String>,
    /// `ForwardingSmtpAddress`: `smtp:someone@example.com`, when set.
    #[serde(rename = "ForwardingSmtpAddress", default)]
    pub forwarding_smtp_address: Option<String>,
    /// `DeliverToMailboxAndForward`: keep a copy when forwarding.
    #[serde(rename = "DeliverToMailboxAndForward", default)]
    pub deliver_to_mailbox_and_forward: bool,
}

impl Mailbox {
    /// Whether the mailbox is a shared mailbox.
    pub fn is_shared(&self) -> bool {
        self.recipient_type_details
            .eq_ignore_ascii_case("SharedMailbox")
    }

    /// Where mail is forwarded, if anywhere: the SMTP address without its
    /// `smtp:` prefix, else the internal recipient.
    pub fn forwarding(&self) -> Option<String> {
        let smtp = self
            .forwarding_smtp_address
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.split_once(':')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("smtp"))
                    .map_or(s, |(_, address)| address)
                    .to_owned()
            });
        smtp.or_else(|| self.forwarding_address.clone().filter(|s| !s.is_empty()))
    }
}

/// One entry of `Get-MailboxPermission`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MailboxPermission {
    /// `User`: who holds it (a UPN, or `NT AUTHORITY\SELF`).
    #[serde(rename = "User")]
    pub user: String,
    /// `AccessRights`, e.g. `["FullAccess"]`.
    #[serde(rename = "AccessRights", default)]
    pub access_rights: Vec<String>,
    /// `Deny`.
    #[serde(rename = "Deny", default)]
    pub deny: bool,
}

impl MailboxPermission {
    /// Whether this entry grants `user` FullAccess.
    pub fn grants_full_access_to(&self, user: &str) -> bool {
        !self.deny
            && self.user.eq_ignore_ascii_case(user)
            && self
                .access_rights
                .iter()
                .any(|r| r.eq_ignore_ascii_case("FullAccess"))
    }
}

/// A recipient as `Get-Recipient` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recipient {
    /// `Identity`.
    #[serde(rename = "Identity", default)]
    pub identity: String,
    /// `DisplayName`.
    #[serde(rename = "DisplayName", default)]
    pub display_name: String,
    /// `PrimarySmtpAddress`.
    #[serde(rename = "PrimarySmtpAddress", default)]
    pub primary_smtp_address: String,
    /// `RecipientTypeDetails`: `MailUniversalDistributionGroup`,
    /// `MailUniversalSecurityGroup`, `UserMailbox`, ...
    #[serde(rename = "RecipientTypeDetails", default)]
    pub recipient_type_details: String,
}

impl Recipient {
    /// Whether this is a distribution list or a mail-enabled security group
    /// (what `Add-DistributionGroupMember` takes).
    pub fn is_distribution_group(&self) -> bool {
        matches!(
            self.recipient_type_details.as_str(),
            "MailUniversalDistributionGroup"
                | "MailUniversalSecurityGroup"
                | "MailNonUniversalGroup"
        )
    }
}

/// Forwarding of a mailbox's mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarding {
    /// `ForwardingAddress`: a recipient of the organization.
    Internal {
        /// The recipient (UPN or address).
        to: String,
        /// `DeliverToMailboxAndForward`.
        keep_copy: bool,
    },
    /// `ForwardingSMTPAddress`: any address, outside the organization too.
    External {
        /// The address.
        to: String,
        /// `DeliverToMailboxAndForward`.
        keep_copy: bool,
    },
    /// Both cleared, no copy rule (what a restore sets).
    Off,
}

/// Properties `Set-Mailbox` changes; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxUpdate {
    /// `Type`: `Shared` (`true`) or `Regular` (`false`).
    pub shared: Option<bool>,
    /// `HiddenFromAddressListsEnabled`.
    pub hidden_from_address_lists: Option<bool>,
    /// Forwarding.
    pub forwarding: Option<Forwarding>,
}

impl MailboxUpdate {
    /// The cmdlet's parameters (after `Identity`), as CIPP sends them
    /// (`Set-CIPPMailboxType.ps1`, `Set-CIPPHideFromGAL.ps1`, `Set-CIPPForwarding.ps1`).
    pub(crate) fn parameters(&self, parameters: &mut Map<String, Value>) {
        if let Some(shared) = self.shared {
            parameters.insert(
                "Type".into(),
                Value::from(if shared { "Shared" } else { "Regular" }),
            );
        }
        if let Some(hidden) = self.hidden_from_address_lists {
            parameters.insert("HiddenFromAddressListsEnabled".into(), Value::from(hidden));
        }
        match &self.forwarding {
            None => {}
            Some(Forwarding::Internal { to, keep_copy }) => {
                parameters.insert("ForwardingAddress".into(), Value::from(to.as_str()));
                parameters.insert("ForwardingSMTPAddress".into(), Value::Null);
                parameters.insert("DeliverToMailboxAndForward".into(), Value::from(*keep_copy));
            }
            Some(Forwarding::External { to, keep_copy }) => {
                parameters.insert("ForwardingSMTPAddress".into(), Value::from(to.as_str()));
                parameters.insert("ForwardingAddress".into(), Value::Null);
                parameters.insert("DeliverToMailboxAndForward".into(), Value::from(*keep_copy));
            }
            Some(Forwarding::Off) => {
                parameters.insert("ForwardingAddress".into(), Value::Null);
                parameters.insert("ForwardingSMTPAddress".into(), Value::Null);
                parameters.insert("DeliverToMailboxAndForward".into(), Value::from(false));
            }
        }
    }
}

/// What adding or removing a member of a distribution group did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMemberChange {
    /// Added now.
    Added,
    /// Was a member already (Exchange's `MemberAlreadyExistsException`).
    AlreadyMember,
    /// Removed now.
    Removed,
    /// Was not a member (Exchange's `MemberNotFoundException`).
    NotAMember,
}

/// What the workflow needs from a tenant's Exchange Online.
///
/// Identities are UPNs or SMTP addresses. A mailbox that does not exist (yet)
/// is `Ok(None)` from the reads and [`Error::NotFound`] from the writes.
#[async_trait]
pub trait Exchange: Send + Sync {
    /// `Get-Mailbox -Identity`.
    async fn mailbox(&self, tenant: &TenantId, identity: &str) -> Result<Option<Mailbox>, Error>;

    /// `Set-Mailbox -Identity` with the update's parameters.
    async fn set_mailbox(
        &self,
        tenant: &TenantId,
        identity: &str,
        update: &MailboxUpdate,
    ) -> Result<(), Error>;

    /// `Get-MailboxPermission -Identity`.
    async fn mailbox_permissions(
        &self,
        tenant: &TenantId,
        identity: &str,
    ) -> Result<Vec<MailboxPermission>, Error>;

    /// `Add-MailboxPermission -Identity -User -AccessRights FullAccess
    /// -InheritanceType All -AutoMapping`.
    async fn add_full_access(
        &self,
        tenant: &TenantId,
        identity: &str,
        user: &str,
        automapping: bool,
    ) -> Result<(), Error>;

    /// `Remove-MailboxPermission -Identity -User -AccessRights FullAccess`.
    async fn remove_full_access(
        &self,
        tenant: &TenantId,
        identity: &str,
        user: &str,
    ) -> Result<(), Error>;

    /// `Add-RecipientPermission -Identity -Trustee -AccessRights SendAs`.
    async fn add_send_as(
        &self,
        tenant: &TenantId,
        identity: &str,
        trustee: &str,
    ) -> Result<(), Error>;

    /// `Get-Recipient -Identity`.
    async fn recipient(
        &self,
        tenant: &TenantId,
        identity: &str,
    ) -> Result<Option<Recipient>, Error>;

    /// `Add-DistributionGroupMember -Identity -Member`.
    async fn add_distribution_group_member(
        &self,
        tenant: &TenantId,
        group: &str,
        member: &str,
    ) -> Result<GroupMemberChange, Error>;

    /// `Remove-DistributionGroupMember -Identity -Member`.
    async fn remove_distribution_group_member(
        &self,
        tenant: &TenantId,
        group: &str,
        member: &str,
    ) -> Result<GroupMemberChange, Error>;
}
