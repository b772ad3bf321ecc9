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
//!
//! The longer actions sit beside the step: `auth_methods.rs` (4), `mailbox.rs`
//! (5's shared pieces and the automatic reply), `seats.rs` (8).

use onboard_connectors::exchange::{Forwarding, MailboxUpdate};
use onboard_connectors::graph::{Directory, MembershipChange, TenantId};
use onboard_connectors::{Error as ConnectorError, graph::ObjectId};
use onboard_domain::generate_password;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::cmdlets::{self, ps};
use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::idempotency::{key, recall, remember};
use crate::offboarding::Offboarding;
use crate::offboarding::record_restore_point::Output as RestorePoint;

mod auth_methods;
mod mailbox;
mod seats;

use auth_methods::remove_auth_methods;
use mailbox::{
    KEEP_MAILBOX, Mailbox, NO_DELEGATE, NO_EXCHANGE, NO_MAILBOX, exchange_error, set_auto_reply,
};
use seats::reduce_seats;

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
