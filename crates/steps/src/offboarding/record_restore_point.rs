//! Step `RecordRestorePoint`: before anything is removed, saves what the user has
//! (enabled state, direct groups, licenses, manager) in the record's `removed`
//! object, so a rehire or an undo can put it back. Recorded once: a retry (or a
//! second run after the account was already changed) keeps the first picture.

use onboard_connectors::graph::{Directory, TenantId, User};
use onboard_store::{RecordUpdate, Status};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::context::update;
use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::idempotency::{key, recall, remember};
use crate::offboarding::Offboarding;

pub use crate::offboarding::validate_offboarding::Input;

/// A group the user was a direct member of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupEntry {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Why Graph cannot change its membership (dynamic, synced, a mail list), if so.
    pub skip_reason: Option<String>,
    /// A distribution list or mail-enabled security group: Exchange Online
    /// changes its members (at offboarding and restore, with the connector).
    #[serde(default)]
    pub mail_list: bool,
    /// The group's address, Exchange's identity for it.
    #[serde(default)]
    pub mail: Option<String>,
}

impl GroupEntry {
    /// The name people know the group by.
    pub fn name(&self) -> String {
        self.display_name.clone().unwrap_or_else(|| self.id.clone())
    }

    /// How Exchange Online is told which group: its address, else its name.
    pub fn exchange_identity(&self) -> String {
        self.mail.clone().unwrap_or_else(|| self.name())
    }
}

/// A license the user held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseEntry {
    /// The SKU GUID.
    pub sku_id: String,
    /// e.g. `O365_BUSINESS_PREMIUM`.
    pub sku_part_number: String,
    /// The group that assigns it; `None` for a direct assignment.
    pub assigned_by_group: Option<String>,
}

/// The user's manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerEntry {
    /// Object id.
    pub id: String,
    /// UPN.
    pub user_principal_name: String,
}

/// An authentication method that was removed, masked as the connector read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthMethodEntry {
    /// `phone`, `microsoftAuthenticator`, `fido2`, ...
    #[serde(rename = "type")]
    pub method_type: String,
    /// `mobile`, `alternateMobile` or `office` for a phone.
    pub phone_type: Option<String>,
    /// A masked hint (`+* ********23`) or a device name; never a number in full.
    pub detail: Option<String>,
}

/// The mailbox as it was before the offboarding (Exchange Online), so a rehire
/// can convert it back, show it, stop its forwarding and remove the delegate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxEntry {
    /// Whether it was a shared mailbox already.
    pub shared: bool,
    /// Whether it was hidden from the address lists already.
    pub hidden_from_address_lists: bool,
    /// Where it forwarded to, if anywhere.
    pub forwarding: Option<String>,
    /// Whether forwarding kept a copy.
    pub keep_copy: bool,
    /// Who held FullAccess (besides the user): any other holder afterwards was
    /// added by the offboarding.
    pub full_access: Vec<String>,
}

/// The restore record, as the record's `removed` and `$.restore_point`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The user's object id.
    pub user_id: String,
    /// The user's UPN.
    pub user_principal_name: String,
    /// Whether sign-in was enabled.
    pub enabled: bool,
    /// Whether the user is synchronised from on-premises AD.
    pub synced: bool,
    /// Direct group memberships.
    pub groups: Vec<GroupEntry>,
    /// Licenses.
    pub licenses: Vec<LicenseEntry>,
    /// The manager, if any.
    pub manager: Option<ManagerEntry>,
    /// Authentication methods removed by `OffboardUser` (filled in when it removes
    /// them; the user re-registers them on a rehire).
    #[serde(default)]
    pub authentication_methods: Vec<AuthMethodEntry>,
    /// The mailbox before the offboarding, when the organization has the
    /// Exchange connector and the user a mailbox.
    #[serde(default)]
    pub mailbox: Option<MailboxEntry>,
}

/// Reads the user's restore record from the directory (also the offboarding preview's).
pub(crate) async fn read(
    directory: &dyn Directory,
    tenant: &TenantId,
    user: &User,
) -> Result<Output, StepError> {
    let graph = |e| StepError::connector(Port::Graph, e);
    let groups = directory.member_of(tenant, &user.id).await.map_err(graph)?;
    let licenses = directory
        .license_details(tenant, &user.id)
        .await
        .map_err(graph)?;
    let states = directory
        .license_assignment_states(tenant, &user.id)
        .await
        .map_err(graph)?;
    let manager = directory.manager(tenant, &user.id).await.map_err(graph)?;
    Ok(Output {
        user_id: user.id.as_str().to_owned(),
        user_principal_name: user.user_principal_name.clone(),
        enabled: user.account_enabled.unwrap_or(true),
        synced: user.on_premises_sync_enabled == Some(true),
        groups: groups
            .iter()
            .map(|g| GroupEntry {
                id: g.id.as_str().to_owned(),
                display_name: g.display_name.clone(),
                skip_reason: g.membership_skip_reason().map(|r| r.to_string()),
                mail_list: g.is_mail_list(),
                mail: g.mail.clone(),
            })
            .collect(),
        licenses: licenses
            .iter()
            .map(|l| LicenseEntry {
                sku_id: l.sku_id.clone(),
                sku_part_number: l.sku_part_number.clone(),
                // Direct when any assignment of the SKU is direct: that one can be removed.
                assigned_by_group: if states
                    .iter()
                    .any(|s| s.sku_id == l.sku_id && s.assigned_by_group.is_none())
                {
                    None
                } else {
                    states
                        .iter()
                        .find(|s| s.sku_id == l.sku_id)
                        .and_then(|s| s.assigned_by_group.clone())
                },
            })
            .collect(),
        manager: manager.map(|m| ManagerEntry {
            id: m.id.as_str().to_owned(),
            user_principal_name: m.user_principal_name,
        }),
        authentication_methods: Vec::new(),
        mailbox: None,
    })
}

/// Reads the mailbox's restore entry through Exchange Online; `None` without
/// the connector or without a mailbox.
async fn read_mailbox(
    deps: &Deps,
    offboarding: &Offboarding,
    licensed: bool,
) -> Result<Option<MailboxEntry>, StepError> {
    let Some(exchange) = deps.connections.exchange(&offboarding.organization).await? else {
        return Ok(None);
    };
    let exo = |e| StepError::connector(Port::Exchange, e);
    let tenant = &offboarding.organization.tenant;
    let upn = offboarding.upn();
    let Some(mailbox) = exchange.mailbox(tenant, upn).await.map_err(exo)? else {
        // A licensed user's mailbox not found yet is still being provisioned:
        // the state machine retries with back-off (as OffboardUser does).
        if licensed {
            return Err(exo(onboard_connectors::Error::NotReady {
                service: onboard_connectors::exchange::SERVICE,
                detail: format!("the mailbox of {upn} is not provisioned yet"),
            }));
        }
        return Ok(None);
    };
    let full_access = exchange
        .mailbox_permissions(tenant, upn)
        .await
        .map_err(exo)?
        .into_iter()
        .filter(|p| !p.deny && !p.user.eq_ignore_ascii_case("NT AUTHORITY\\SELF"))
        .filter(|p| p.grants_full_access_to(&p.user))
        .map(|p| p.user)
        .collect();
    Ok(Some(MailboxEntry {
        shared: mailbox.is_shared(),
        hidden_from_address_lists: mailbox.hidden_from_address_lists_enabled,
        forwarding: mailbox.forwarding(),
        keep_copy: mailbox.deliver_to_mailbox_and_forward,
        full_access,
    }))
}

/// Saves the restore record of the offboarded user, once.
#[instrument(skip_all, fields(offboarding_id = %input.offboarding_id, step = "record_restore_point"))]
pub async fn record_restore_point(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let done = key(&input.offboarding_id, "record_restore_point", "removed");
    if let Some(saved) = recall::<Output>(deps.store.as_ref(), &done).await? {
        return Ok(saved);
    }
    let offboarding = Offboarding::load(deps, &input.offboarding_id).await?;
    let directory = offboarding.directory(deps).await?;
    let user = offboarding.user(directory.as_ref()).await?;
    let mut point = read(directory.as_ref(), &offboarding.organization.tenant, &user).await?;
    let actions = offboarding.request.actions;
    if actions.convert_to_shared
        || actions.set_manager_as_delegate
        || actions.forward_mail_to_manager
        || actions.hide_from_gal
    {
        point.mailbox = read_mailbox(deps, &offboarding, !point.licenses.is_empty()).await?;
    }
    let point = remember(deps.store.as_ref(), &done, &point, deps.clock.now()).await?;
    let json = serde_json::to_value(&point)
        .map_err(|e| StepError::Internal(format!("cannot encode the restore record: {e}")))?;
    update(
        deps,
        offboarding.id(),
        "record_restore_point",
        &format!(
            "restore record saved: {} groups, {} licenses, manager {}, sign-in {}",
            point.groups.len(),
            point.licenses.len(),
            point
                .manager
                .as_ref()
                .map_or("none", |m| m.user_principal_name.as_str()),
            if point.enabled { "enabled" } else { "disabled" }
        ),
        RecordUpdate {
            status: Some(Status::Running),
            removed: Some(json),
            ..RecordUpdate::default()
        },
    )
    .await?;
    Ok(point)
}
