//! Step `OffboardUser`: runs the offboarding actions on the account, in a safe
//! order, each governed by the resolved actions (the `offboarding_*` variables
//! overridden by the form):
//!
//! 1. block sign-in;
//! 2. reset the password;
//! 3. revoke sessions (after the first two, so no new session can be opened);
//! 4. remove authentication methods;
//! 5. mailbox actions while the mailbox still has its license: automatic reply
//!    (Graph), then through Exchange Online conversion to a shared mailbox, the
//!    delegate's FullAccess, forwarding and hiding from the address list;
//! 6. remove groups; 7. remove licenses; 8. give the freed seats back to the distributor.
//!
//! Each action's outcome is remembered under its own idempotency key and noted on
//! the ticket under its own note key, so a retried step repeats nothing. An action
//! Graph cannot perform for this user (a synced account, a user without a mailbox)
//! is `skipped` with the reason, not a failure. What Microsoft Graph v1.0 has no API
//! for at all (mailbox type, permissions, forwarding, hiding from the address
//! list) runs through the organization's Exchange Online connector; without one
//! it is `skipped` with the exact Exchange Online PowerShell cmdlet a technician runs.

use onboard_connectors::distributor::{self, Reduction, ReductionRequest};
use onboard_connectors::exchange::{Exchange, Forwarding, Mailbox as ExoMailbox, MailboxUpdate};
use onboard_connectors::graph::{
    AuthenticationMethod, AutomaticReplies, Directory, ExternalAudience, MailboxChange,
    MembershipChange, TenantId,
};
use onboard_connectors::{Error as ConnectorError, graph::ObjectId};
use onboard_domain::generate_password;
use onboard_domain::reply::ReplyContext;
use onboard_store::RecordUpdate;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::cmdlets::{self, ps};
use crate::context::update;
use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::idempotency::{key, recall, remember};
use crate::offboarding::Offboarding;
use crate::offboarding::record_restore_point::{AuthMethodEntry, Output as RestorePoint};
use crate::onboarding::purchase_license::StoreLedger;

pub use crate::offboarding::validate_offboarding::Input;

/// What became of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done (or found already done).
    Done,
    /// Not attempted, for the reason given.
    Skipped,
    /// Turned off for this offboarding.
    Off,
}

/// One action's result, as noted on the ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The action's name (`deactivate_user`, ...), as in the form's `actions`.
    pub action: String,
    /// Done, skipped or off.
    pub outcome: Outcome,
    /// What was done, or why it was skipped.
    pub detail: String,
}

impl ActionResult {
    fn done(action: &str, detail: impl Into<String>) -> Self {
        Self {
            action: action.to_owned(),
            outcome: Outcome::Done,
            detail: detail.into(),
        }
    }

    fn skipped(action: &str, reason: impl Into<String>) -> Self {
        Self {
            action: action.to_owned(),
            outcome: Outcome::Skipped,
            detail: reason.into(),
        }
    }

    /// The summary line: `deactivate_user: done (sign-in blocked)`.
    pub fn line(&self) -> String {
        let outcome = match self.outcome {
            Outcome::Done => "done",
            Outcome::Skipped => "skipped",
            Outcome::Off => "off",
        };
        format!(
            "{}: {outcome} ({})",
            self.action.replace('_', " "),
            self.detail
        )
    }
}

/// As `$.offboarded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Every action, in the order run.
    pub actions: Vec<ActionResult>,
}

/// The reason given for a synced account's sign-in and password.
const SYNCED: &str = "the user is synchronised from on-premises active directory, which masters \
sign-in and password; do it there (the next sync would undo a change made in Entra ID)";

fn graph(e: ConnectorError) -> StepError {
    StepError::connector(Port::Graph, e)
}

struct Run<'a> {
    deps: &'a Deps,
    offboarding: &'a Offboarding,
    directory: std::sync::Arc<dyn Directory>,
    tenant: TenantId,
    user: ObjectId,
    point: RestorePoint,
    results: Vec<ActionResult>,
}

impl Run<'_> {
    /// Runs `action` once: a remembered outcome is reused; a new one is remembered,
    /// put on the timeline and noted on the ticket.
    async fn once<F, Fut>(&mut self, action: &str, on: bool, work: F) -> Result<(), StepError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<ActionResult, StepError>>,
    {
        let id = self.offboarding.id();
        let remembered = key(id, "offboard_user", &format!("action/{action}"));
        let result = match recall::<ActionResult>(self.deps.store.as_ref(), &remembered).await? {
            Some(result) => result,
            None if !on => ActionResult {
                action: action.to_owned(),
                outcome: Outcome::Off,
                detail: "turned off for this offboarding".into(),
            },
            None => {
                let result = work().await?;
                remember(
                    self.deps.store.as_ref(),
                    &remembered,
                    &result,
                    self.deps.clock.now(),
                )
                .await?
            }
        };
        if result.outcome != Outcome::Off {
            let line = result.line();
            self.offboarding
                .note(
                    self.deps,
                    &format!("offboard_user-{action}"),
                    &format!("Offboarding {}: {line}.", self.offboarding.upn()),
                )
                .await?;
            self.offboarding
                .record(self.deps, "offboard_user", None, &line)
                .await?;
        }
        self.results.push(result);
        Ok(())
    }

    fn result(&self, action: &str) -> Option<&ActionResult> {
        self.results.iter().find(|r| r.action == action)
    }
}

/// Offboards the user: every action on for this offboarding, once.
#[instrument(skip_all, fields(offboarding_id = %input.offboarding_id, step = "offboard_user"))]
pub async fn offboard_user(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let offboarding = Offboarding::load(deps, &input.offboarding_id).await?;
    let point: RestorePoint = recall(
        deps.store.as_ref(),
        &key(offboarding.id(), "record_restore_point", "removed"),
    )
    .await?
    .ok_or_else(|| {
        StepError::Internal(
            "OffboardUser ran before RecordRestorePoint saved the restore record".into(),
        )
    })?;
    let directory = offboarding.directory(deps).await?;
    let actions = offboarding.request.actions;
    let delegate = offboarding
        .request
        .delegate_to
        .as_ref()
        .map(|d| d.as_str().to_owned())
        .or_else(|| {
            point
                .manager
                .as_ref()
                .map(|m| m.user_principal_name.clone())
        });
    let mut run = Run {
        deps,
        offboarding: &offboarding,
        tenant: offboarding.organization.tenant.clone(),
        user: ObjectId::new(point.user_id.as_str()),
        directory,
        point,
        results: Vec::new(),
    };
    let (dir, tenant, user, synced) = (
        run.directory.clone(),
        run.tenant.clone(),
        run.user.clone(),
        run.point.synced,
    );

    run.once("deactivate_user", actions.deactivate_user, || async {
        if synced {
            return Ok(ActionResult::skipped("deactivate_user", SYNCED));
        }
        dir.set_account_enabled(&tenant, &user, false)
            .await
            .map_err(graph)?;
        Ok(ActionResult::done("deactivate_user", "sign-in blocked"))
    })
    .await?;

    run.once("reset_password", actions.reset_password, || async {
        if synced {
            return Ok(ActionResult::skipped("reset_password", SYNCED));
        }
        let policy = offboarding.variables.password_policy();
        // Nobody learns this password: its only purpose is that the old one stops working.
        let random = generate_password(&policy)?;
        dir.reset_password(
            &tenant,
            &user,
            &SecretString::from(random.expose().to_owned()),
            false,
        )
        .await
        .map_err(graph)?;
        Ok(ActionResult::done(
            "reset_password",
            "set to a random password nobody knows",
        ))
    })
    .await?;

    run.once("revoke_sessions", actions.revoke_sessions, || async {
        dir.revoke_sign_in_sessions(&tenant, &user)
            .await
            .map_err(graph)?;
        Ok(ActionResult::done(
            "revoke_sessions",
            "sign-in sessions and refresh tokens revoked",
        ))
    })
    .await?;

    let point = run.point.clone();
    run.once("remove_auth_methods", actions.remove_auth_methods, || {
        remove_auth_methods(deps, &offboarding, dir.as_ref(), &tenant, &user, &point)
    })
    .await?;

    run.once("set_auto_reply", actions.set_auto_reply, || {
        set_auto_reply(
            &offboarding,
            dir.as_ref(),
            &tenant,
            &user,
            delegate.as_deref(),
        )
    })
    .await?;

    let upn = offboarding.upn().to_owned();
    let exchange = deps.connections.exchange(&offboarding.organization).await?;
    let mailbox = Mailbox {
        exchange: exchange.as_deref(),
        tenant: &tenant,
        upn: &upn,
        licensed: !run.point.licenses.is_empty(),
    };
    let mailbox = &mailbox;

    // Before groups and licenses go: a shared mailbox needs no license, so the
    // delegate's access and the forwarding outlive their removal.
    run.once("convert_to_shared", actions.convert_to_shared, || async {
        const ACTION: &str = "convert_to_shared";
        let Some(exo) = mailbox.exchange else {
            return Ok(ActionResult::skipped(
                ACTION,
                format!(
                    "needs Exchange Online PowerShell (Microsoft Graph v1.0 has no API for the \
                     mailbox type {NO_EXCHANGE}): Set-Mailbox -Identity {} -Type Shared",
                    ps(&upn)
                ),
            ));
        };
        let Some(found) = mailbox.find().await? else {
            return Ok(ActionResult::skipped(ACTION, NO_MAILBOX));
        };
        if found.is_shared() {
            return Ok(ActionResult::done(
                ACTION,
                "the mailbox is a shared mailbox already",
            ));
        }
        let update = MailboxUpdate {
            shared: Some(true),
            ..MailboxUpdate::default()
        };
        exo.set_mailbox(&tenant, &upn, &update)
            .await
            .map_err(exchange_error)?;
        Ok(ActionResult::done(
            ACTION,
            "converted to a shared mailbox (it keeps its mail without a license)",
        ))
    })
    .await?;

    run.once(
        "set_manager_as_delegate",
        actions.set_manager_as_delegate,
        || async {
            const ACTION: &str = "set_manager_as_delegate";
            let Some(to) = delegate.as_deref() else {
                return Ok(ActionResult::skipped(ACTION, NO_DELEGATE));
            };
            let Some(exo) = mailbox.exchange else {
                return Ok(ActionResult::skipped(
                    ACTION,
                    format!(
                        "needs Exchange Online PowerShell (Microsoft Graph v1.0 has no API for \
                         mailbox permissions {NO_EXCHANGE}): {}{KEEP_MAILBOX}",
                        cmdlets::add_full_access(&upn, to)
                    ),
                ));
            };
            if mailbox.find().await?.is_none() {
                return Ok(ActionResult::skipped(ACTION, NO_MAILBOX));
            }
            match exo.add_full_access(&tenant, &upn, to, true).await {
                Ok(()) => Ok(ActionResult::done(
                    ACTION,
                    format!("{to} has FullAccess to the mailbox (it appears in their Outlook)"),
                )),
                Err(ConnectorError::NotFound { .. }) => Ok(ActionResult::skipped(
                    ACTION,
                    format!("Exchange Online has no recipient `{to}` to give the mailbox to"),
                )),
                Err(e) => Err(exchange_error(e)),
            }
        },
    )
    .await?;

    let forward_to = offboarding
        .request
        .forward_to
        .as_ref()
        .map(|f| f.as_str().to_owned())
        .or_else(|| delegate.clone());
    let keep_copy = offboarding.request.forward_keep_copy;
    run.once(
        "forward_mail_to_manager",
        actions.forward_mail_to_manager,
        || async {
            const ACTION: &str = "forward_mail_to_manager";
            let Some(to) = forward_to.as_deref() else {
                return Ok(ActionResult::skipped(ACTION, NO_DELEGATE));
            };
            let Some(exo) = mailbox.exchange else {
                return Ok(ActionResult::skipped(
                    ACTION,
                    format!(
                        "needs Exchange Online PowerShell (Graph v1.0's mailboxSettings have no \
                         forwarding address {NO_EXCHANGE}): Set-Mailbox -Identity {} -{parameter} {} \
                         -DeliverToMailboxAndForward ${keep_copy}{KEEP_MAILBOX}",
                        ps(&upn),
                        ps(to),
                        // The delegate is a recipient of the organization; an
                        // address from the form may be outside it.
                        parameter = if offboarding.request.forward_to.is_some() {
                            "ForwardingSMTPAddress"
                        } else {
                            "ForwardingAddress"
                        }
                    ),
                ));
            };
            if mailbox.find().await?.is_none() {
                return Ok(ActionResult::skipped(ACTION, NO_MAILBOX));
            }
            // A recipient of the organization is forwarded to by ForwardingAddress;
            // any other address by ForwardingSMTPAddress.
            let internal = exo
                .recipient(&tenant, to)
                .await
                .map_err(exchange_error)?
                .is_some();
            let forwarding = if internal {
                Forwarding::Internal {
                    to: to.to_owned(),
                    keep_copy,
                }
            } else {
                Forwarding::External {
                    to: to.to_owned(),
                    keep_copy,
                }
            };
            let update = MailboxUpdate {
                forwarding: Some(forwarding),
                ..MailboxUpdate::default()
            };
            exo.set_mailbox(&tenant, &upn, &update)
                .await
                .map_err(exchange_error)?;
            Ok(ActionResult::done(
                ACTION,
                format!(
                    "mail forwarded to {to} ({}), {}",
                    if internal {
                        "a recipient of the organization"
                    } else {
                        "an outside address"
                    },
                    if keep_copy {
                        "a copy kept in the mailbox"
                    } else {
                        "no copy kept"
                    }
                ),
            ))
        },
    )
    .await?;

    run.once("hide_from_gal", actions.hide_from_gal, || async {
        const ACTION: &str = "hide_from_gal";
        if synced {
            return Ok(ActionResult::skipped(
                ACTION,
                format!(
                    "the user is synchronised from on-premises active directory, where the \
                     address list is mastered: on the Exchange server run Set-RemoteMailbox \
                     -Identity {} -HiddenFromAddressListsEnabled $true (or set \
                     msExchHideFromAddressLists) and let it sync",
                    ps(&upn)
                ),
            ));
        }
        let Some(exo) = mailbox.exchange else {
            return Ok(ActionResult::skipped(
                ACTION,
                format!(
                    "needs Exchange Online PowerShell (Graph v1.0 documents the user's \
                     showInAddressList as not to be used through Graph {NO_EXCHANGE}): Set-Mailbox -Identity {} \
                     -HiddenFromAddressListsEnabled $true",
                    ps(&upn)
                ),
            ));
        };
        if mailbox.find().await?.is_none() {
            return Ok(ActionResult::skipped(ACTION, NO_MAILBOX));
        }
        let update = MailboxUpdate {
            hidden_from_address_lists: Some(true),
            ..MailboxUpdate::default()
        };
        exo.set_mailbox(&tenant, &upn, &update)
            .await
            .map_err(exchange_error)?;
        Ok(ActionResult::done(ACTION, "hidden from the address lists"))
    })
    .await?;

    let groups = run.point.groups.clone();
    run.once("remove_groups", actions.remove_groups, || async {
        let mut removed = Vec::new();
        let mut skipped = Vec::new();
        for entry in &groups {
            let name = entry.name();
            if entry.mail_list {
                let identity = entry.exchange_identity();
                match mailbox.exchange {
                    Some(exo) => match exo
                        .remove_distribution_group_member(&tenant, &identity, &upn)
                        .await
                    {
                        Ok(_) => removed.push(name),
                        Err(ConnectorError::NotFound { .. }) => skipped.push(format!(
                            "{name}: Exchange Online has no such group or recipient any more"
                        )),
                        Err(e) => return Err(exchange_error(e)),
                    },
                    None => skipped.push(format!(
                        "{name}: a distribution list or mail-enabled security group {NO_EXCHANGE}: {}",
                        cmdlets::remove_distribution_group_member(&identity, &upn)
                    )),
                }
                continue;
            }
            if let Some(reason) = &entry.skip_reason {
                skipped.push(format!("{name}: {reason}"));
                continue;
            }
            let Some(group) = dir
                .group(&tenant, &ObjectId::new(entry.id.as_str()))
                .await
                .map_err(graph)?
            else {
                continue;
            };
            match dir
                .remove_group_member(&tenant, &group, &user)
                .await
                .map_err(graph)?
            {
                MembershipChange::Removed | MembershipChange::NotAMember => removed.push(name),
                MembershipChange::Skipped(reason) => skipped.push(format!("{name}: {reason}")),
                MembershipChange::Added | MembershipChange::AlreadyMember => {}
            }
        }
        let mut detail = if removed.is_empty() {
            "no group to remove".to_owned()
        } else {
            format!("removed from {}", removed.join(", "))
        };
        if !skipped.is_empty() {
            detail.push_str(&format!("; left in {}", skipped.join("; ")));
        }
        Ok(ActionResult::done("remove_groups", detail))
    })
    .await?;

    let licenses = run.point.licenses.clone();
    let groups_removed = run
        .result("remove_groups")
        .is_some_and(|r| r.outcome == Outcome::Done);
    run.once("remove_licenses", actions.remove_licenses, || async {
        let held = dir.license_details(&tenant, &user).await.map_err(graph)?;
        let direct: Vec<&crate::offboarding::record_restore_point::LicenseEntry> = licenses
            .iter()
            .filter(|l| l.assigned_by_group.is_none())
            .filter(|l| held.iter().any(|h| h.sku_id == l.sku_id))
            .collect();
        let by_group: Vec<String> = licenses
            .iter()
            .filter(|l| l.assigned_by_group.is_some())
            .map(|l| l.sku_part_number.clone())
            .collect();
        if !direct.is_empty() {
            let ids: Vec<String> = direct.iter().map(|l| l.sku_id.clone()).collect();
            if let Err(e) = dir.assign_licenses(&tenant, &user, &[], &ids).await {
                // A removal whose answer was lost is resent by the client and then
                // refused ("User does not have a corresponding license"): what
                // counts is whether the licenses are still held.
                let still = dir.license_details(&tenant, &user).await.map_err(graph)?;
                if still.iter().any(|h| ids.contains(&h.sku_id)) {
                    return Err(graph(e));
                }
                tracing::info!(error = %e, "licenses already removed by an earlier attempt");
            }
        }
        let removed: Vec<&str> = licenses
            .iter()
            .filter(|l| l.assigned_by_group.is_none())
            .map(|l| l.sku_part_number.as_str())
            .collect();
        let mut detail = if removed.is_empty() {
            "no direct license to remove".to_owned()
        } else {
            format!("removed {}", removed.join(", "))
        };
        if !by_group.is_empty() {
            detail.push_str(&format!(
                "; {} came from group membership{}",
                by_group.join(", "),
                if groups_removed {
                    " and went with it"
                } else {
                    ": remove the user from the licensing group"
                }
            ));
        }
        Ok(ActionResult::done("remove_licenses", detail))
    })
    .await?;

    let freed: Vec<String> = if run
        .result("remove_licenses")
        .is_some_and(|r| r.outcome == Outcome::Done)
    {
        run.point
            .licenses
            .iter()
            .filter(|l| l.assigned_by_group.is_none())
            .map(|l| l.sku_part_number.clone())
            .collect()
    } else {
        Vec::new()
    };
    run.once(
        "reduce_distributor_seats",
        actions.reduce_distributor_seats,
        || reduce_seats(deps, &offboarding, freed),
    )
    .await?;

    Ok(Output {
        actions: run.results,
    })
}

/// Why a mailbox action is left to a technician.
const NO_EXCHANGE: &str = "and the organization has no Exchange Online connector to do it, \
whose app would need Exchange.ManageAsApp and the Exchange Administrator role";

/// A user without a mailbox (never licensed for Exchange, or deleted).
const NO_MAILBOX: &str = "the user has no Exchange Online mailbox";

fn exchange_error(e: ConnectorError) -> StepError {
    StepError::connector(Port::Exchange, e)
}

/// The user's mailbox through Exchange Online, when the organization has it.
struct Mailbox<'a> {
    exchange: Option<&'a dyn Exchange>,
    tenant: &'a TenantId,
    upn: &'a str,
    /// Whether the user held a license when the offboarding began: a licensed
    /// user's mailbox not found yet is still being provisioned.
    licensed: bool,
}

impl Mailbox<'_> {
    /// `Get-Mailbox`. A licensed user's mailbox that Exchange does not find yet
    /// is [`ConnectorError::NotReady`]: the state machine retries with back-off
    /// (`Exchange.Unavailable`), and a mailbox that never comes fails the run.
    async fn find(&self) -> Result<Option<ExoMailbox>, StepError> {
        let Some(exo) = self.exchange else {
            return Ok(None);
        };
        match exo
            .mailbox(self.tenant, self.upn)
            .await
            .map_err(exchange_error)?
        {
            Some(m) => Ok(Some(m)),
            None if self.licensed => Err(exchange_error(ConnectorError::NotReady {
                service: onboard_connectors::exchange::SERVICE,
                detail: format!("the mailbox of {} is not provisioned yet", self.upn),
            })),
            None => Ok(None),
        }
    }
}

/// Why the mailbox actions that name the delegate have nobody to name.
const NO_DELEGATE: &str =
    "the user has no manager and the form gave no `delegate_to`: nobody to hand the mailbox to";

/// Removing licenses leaves the mailbox 30 days before Exchange deletes it.
const KEEP_MAILBOX: &str = "; if licenses are removed, first convert it to a shared mailbox (Set-Mailbox -Identity <user> -Type Shared) so the access or forwarding outlives the license";

/// Deletes every authentication method Graph can delete, the alternate mobile number
/// before the mobile one (Graph refuses the other order), and adds what was removed to
/// the restore record (masked). The listing is remembered before the first deletion, so
/// a retry deletes (or finds gone) the same methods and records the same list.
async fn remove_auth_methods(
    deps: &Deps,
    offboarding: &Offboarding,
    dir: &dyn Directory,
    tenant: &TenantId,
    user: &ObjectId,
    point: &RestorePoint,
) -> Result<ActionResult, StepError> {
    const ACTION: &str = "remove_auth_methods";
    const FORBIDDEN: &str = "Graph refused (the app registration needs UserAuthenticationMethod.ReadWrite.All, and an administrator's methods need the Privileged Authentication Administrator role): remove them in the Entra admin center";
    let listed_key = key(offboarding.id(), "offboard_user", "auth_methods/listed");
    let listed: Vec<AuthenticationMethod> = match recall(deps.store.as_ref(), &listed_key).await? {
        Some(listed) => listed,
        None => {
            let methods = match dir.authentication_methods(tenant, user).await {
                Ok(methods) => methods,
                Err(ConnectorError::Forbidden { .. }) => {
                    return Ok(ActionResult::skipped(ACTION, FORBIDDEN));
                }
                Err(e) => return Err(graph(e)),
            };
            remember(deps.store.as_ref(), &listed_key, &methods, deps.clock.now()).await?
        }
    };
    let mut removable: Vec<&AuthenticationMethod> =
        listed.iter().filter(|m| m.collection().is_some()).collect();
    // `false` sorts first: the mobile number goes last.
    removable.sort_by_key(|m| m.phone_type.as_deref() == Some("mobile"));
    let mut removed = Vec::new();
    let mut refused = Vec::new();
    for method in removable {
        match dir.delete_authentication_method(tenant, user, method).await {
            Ok(_) => removed.push(method),
            Err(ConnectorError::Forbidden { .. }) => {
                return Ok(ActionResult::skipped(ACTION, FORBIDDEN));
            }
            // e.g. the phone that is the user's default MFA method: a fact about this
            // user, for a technician, not a reason to stop the offboarding.
            Err(ConnectorError::Rejected {
                status: 400,
                message,
                ..
            }) => refused.push(format!("{} ({message})", method.describe())),
            Err(e) => return Err(graph(e)),
        }
    }
    // Noted and recorded in Graph's listing order, not the order of deletion.
    let removed: Vec<&AuthenticationMethod> = listed
        .iter()
        .filter(|m| removed.iter().any(|r| r.id == m.id && r.kind == m.kind))
        .collect();
    let others: Vec<&str> = listed
        .iter()
        .filter(|m| m.collection().is_none() && m.kind != "password")
        .map(|m| m.kind.as_str())
        .collect();

    let mut record = point.clone();
    record.authentication_methods = removed
        .iter()
        .map(|m| AuthMethodEntry {
            method_type: m.kind.clone(),
            phone_type: m.phone_type.clone(),
            detail: m.detail.clone(),
        })
        .collect();
    let json = serde_json::to_value(&record)
        .map_err(|e| StepError::Internal(format!("cannot encode the restore record: {e}")))?;
    update(
        deps,
        offboarding.id(),
        "offboard_user",
        &format!(
            "restore record: {} authentication method(s) removed",
            record.authentication_methods.len()
        ),
        RecordUpdate {
            removed: Some(json),
            ..RecordUpdate::default()
        },
    )
    .await?;

    let mut detail = if removed.is_empty() {
        "no authentication method besides the password".to_owned()
    } else {
        format!(
            "removed {}",
            removed
                .iter()
                .map(|m| m.describe())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    detail.push_str("; the password method cannot be deleted (the password reset replaces it)");
    if !refused.is_empty() {
        detail.push_str(&format!(
            "; Graph refused to delete {}: remove them in the Entra admin center",
            refused.join("; ")
        ));
    }
    if !others.is_empty() {
        detail.push_str(&format!(
            "; left {}: Graph v1.0 cannot delete them, remove them in the Entra admin center",
            others.join(", ")
        ));
    }
    Ok(ActionResult::done(ACTION, detail))
}

/// Switches the automatic reply on with the organization's texts, naming the delegate.
async fn set_auto_reply(
    offboarding: &Offboarding,
    dir: &dyn Directory,
    tenant: &TenantId,
    user: &ObjectId,
    delegate: Option<&str>,
) -> Result<ActionResult, StepError> {
    const ACTION: &str = "set_auto_reply";
    let vars = &offboarding.variables;
    let (internal, external) = (
        &vars.offboarding_auto_reply_internal,
        &vars.offboarding_auto_reply_external,
    );
    let named = match delegate {
        Some(upn) => dir.user(tenant, upn).await.map_err(graph)?,
        None => None,
    };
    if named.is_none() && (internal.names_the_manager() || external.names_the_manager()) {
        return Ok(ActionResult::skipped(
            ACTION,
            match delegate {
                Some(upn) => {
                    format!("the reply names the delegate, and `{upn}` is not a user of the tenant")
                }
                None => format!("the reply names the delegate: {NO_DELEGATE}"),
            },
        ));
    }
    let leaver = dir
        .user(tenant, user.as_str())
        .await
        .map_err(graph)?
        .and_then(|u| u.display_name)
        .unwrap_or_else(|| offboarding.upn().to_owned());
    let manager_name = named
        .as_ref()
        .and_then(|m| m.display_name.clone())
        .unwrap_or_default();
    let manager_email = named
        .as_ref()
        .map(|m| {
            m.mail
                .clone()
                .unwrap_or_else(|| m.user_principal_name.clone())
        })
        .unwrap_or_default();
    let context = ReplyContext {
        user_name: &leaver,
        organization: &offboarding.organization.name,
        manager_name: &manager_name,
        manager_email: &manager_email,
    };
    let replies = AutomaticReplies {
        internal_message: internal.render(&context),
        external_message: external.render(&context),
        external_audience: ExternalAudience::All,
    };
    match dir.set_automatic_replies(tenant, user, &replies).await {
        Ok(MailboxChange::Set) => Ok(ActionResult::done(
            ACTION,
            format!(
                "automatic reply on for internal and external senders: \"{}\"",
                replies.internal_message
            ),
        )),
        Ok(MailboxChange::NoMailbox(graph_says)) => Ok(ActionResult::skipped(
            ACTION,
            format!("the user has no Exchange Online mailbox Graph can reach ({graph_says})"),
        )),
        Err(ConnectorError::Forbidden { .. }) => Ok(ActionResult::skipped(
            ACTION,
            "Graph refused: the app registration needs MailboxSettings.ReadWrite; set the \
             automatic reply in the Exchange admin center",
        )),
        Err(e) => Err(graph(e)),
    }
}

/// Gives back one seat of each freed SKU at the distributor, under the seat
/// lease ([`reduce_seats`]). A seat a commitment term will not let go is kept
/// and noted with the renewal date that allows the decrease (scheduled where
/// the distributor can): the offboarding never fails for it.
async fn reduce_seats(
    deps: &Deps,
    offboarding: &Offboarding,
    freed: Vec<String>,
) -> Result<ActionResult, StepError> {
    const ACTION: &str = "reduce_distributor_seats";
    if freed.is_empty() {
        return Ok(ActionResult::skipped(
            ACTION,
            "no directly assigned license was removed",
        ));
    }
    let Some(name) = offboarding.variables.microsoft_licensing_distributor else {
        return Ok(ActionResult::skipped(
            ACTION,
            "variable `microsoft_licensing_distributor` is not set: lower the seats by hand",
        ));
    };
    let Some(distributor) = deps
        .connections
        .distributor(&offboarding.organization, name)
        .await?
    else {
        return Ok(ActionResult::skipped(
            ACTION,
            format!("distributor `{name}` is not configured: lower the seats by hand"),
        ));
    };
    let failed = |e| StepError::connector(Port::Distributor, e);
    let now = deps.clock.now();
    let ledger = StoreLedger::new(deps.store.clone(), now);
    let mut lowered = Vec::new();
    let mut kept = Vec::new();
    let mut left = Vec::new();
    for sku in &freed {
        let request = ReductionRequest {
            offboarding_id: offboarding.id().to_owned(),
            organization: offboarding.organization.name.clone(),
            sku: sku.clone(),
            seats: 1,
        };
        match distributor::reduce_seats(distributor.as_ref(), &ledger, &request, now)
            .await
            .map_err(failed)?
        {
            Reduction::Lowered { to, .. } | Reduction::AlreadyDone { quantity: to } => {
                lowered.push(format!("{sku} to {to}"));
            }
            Reduction::Kept {
                renews_at,
                scheduled,
                reason,
            } => {
                let when = match renews_at {
                    Some(at) => format!(
                        "the renewal on {} allows the decrease",
                        at.to_zoned(jiff::tz::TimeZone::UTC).date()
                    ),
                    None => "lower it at the next renewal".to_owned(),
                };
                let plan = if scheduled {
                    format!(
                        "the decrease is scheduled at {} for then",
                        distributor.name()
                    )
                } else {
                    format!(
                        "{} cannot schedule it: lower it by hand then",
                        distributor.name()
                    )
                };
                kept.push(format!("kept 1 seat of {sku} ({reason}); {when}; {plan}"));
            }
            Reduction::NothingToReduce(why) => left.push(format!("{sku}: {why}")),
        }
    }
    let mut parts = Vec::new();
    if !lowered.is_empty() {
        parts.push(format!("lowered {}", lowered.join(", ")));
    }
    parts.extend(kept.iter().cloned());
    parts.extend(left);
    let detail = parts.join("; ");
    if lowered.is_empty() && kept.is_empty() {
        return Ok(ActionResult::skipped(ACTION, detail));
    }
    if !kept.is_empty() {
        offboarding
            .note(deps, "reduce_distributor_seats-kept", &kept.join("\n"))
            .await?;
    }
    Ok(ActionResult::done(ACTION, detail))
}
