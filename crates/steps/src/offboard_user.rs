//! Step `OffboardUser`: runs the offboarding actions on the account, in a safe
//! order, each governed by the resolved actions (the `offboarding_*` variables
//! overridden by the form):
//!
//! 1. block sign-in;
//! 2. reset the password;
//! 3. revoke sessions (after the first two, so no new session can be opened);
//! 4. remove authentication methods;
//! 5. mailbox actions (delegate, forwarding, automatic reply) and hiding from the
//!    address list, while the mailbox still has its license;
//! 6. remove groups; 7. remove licenses; 8. give the freed seats back to the distributor.
//!
//! Each action's outcome is remembered under its own idempotency key and noted on
//! the ticket under its own note key, so a retried step repeats nothing. An action
//! Graph cannot perform for this user (a synced account, a mailbox setting the
//! directory port does not reach) is `skipped` with the reason, not a failure.

use onboard_connectors::graph::{Directory, MembershipChange, TenantId};
use onboard_connectors::{Error as ConnectorError, graph::ObjectId};
use onboard_domain::generate_password;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::idempotency::{key, recall, remember};
use crate::offboarding::Offboarding;
use crate::record_restore_point::Output as RestorePoint;

pub use crate::validate_offboarding::Input;

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

    run.once(
        "remove_auth_methods",
        actions.remove_auth_methods,
        || async {
            Ok(ActionResult::skipped(
                "remove_auth_methods",
                "Onboard's directory connector cannot list or delete authentication methods yet \
             (Graph /users/{id}/authentication/methods); remove them in the Entra admin center",
            ))
        },
    )
    .await?;

    let to = delegate.clone().unwrap_or_else(|| "the manager".into());
    run.once("set_manager_as_delegate", actions.set_manager_as_delegate, || async {
        Ok(ActionResult::skipped(
            "set_manager_as_delegate",
            format!(
                "Microsoft Graph v1.0 has no API for mailbox permissions (Exchange Online only); \
                 give {to} full access to the mailbox in the Exchange admin center"
            ),
        ))
    })
    .await?;

    run.once(
        "forward_mail_to_manager",
        actions.forward_mail_to_manager,
        || async {
            Ok(ActionResult::skipped(
                "forward_mail_to_manager",
                format!(
                    "Microsoft Graph v1.0 cannot set mailbox forwarding (Exchange Online only); \
                 forward the mail to {to} in the Exchange admin center"
                ),
            ))
        },
    )
    .await?;

    run.once("set_auto_reply", actions.set_auto_reply, || async {
        Ok(ActionResult::skipped(
            "set_auto_reply",
            "Graph sets it through the mailbox settings, which Onboard's directory connector \
             does not reach yet; set the automatic reply in Outlook or the Exchange admin center",
        ))
    })
    .await?;

    run.once("hide_from_gal", actions.hide_from_gal, || async {
        Ok(ActionResult::skipped(
            "hide_from_gal",
            if synced {
                "the user is synchronised from on-premises active directory: set msExchHideFromAddressLists there"
            } else {
                "Microsoft Graph v1.0 cannot hide a user from the address list (Exchange Online only); \
                 hide the mailbox in the Exchange admin center"
            },
        ))
    })
    .await?;

    let groups = run.point.groups.clone();
    run.once("remove_groups", actions.remove_groups, || async {
        let mut removed = Vec::new();
        let mut skipped = Vec::new();
        for entry in &groups {
            let name = entry
                .display_name
                .clone()
                .unwrap_or_else(|| entry.id.clone());
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
        let direct: Vec<&crate::record_restore_point::LicenseEntry> = licenses
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
            dir.assign_licenses(&tenant, &user, &[], &ids)
                .await
                .map_err(graph)?;
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

/// Lowers each freed SKU's subscription at the distributor by one seat. The target
/// quantity is remembered per SKU before it is set, so a retry sets the same number.
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
    let customer = distributor
        .find_customer(&offboarding.organization.name)
        .await
        .map_err(failed)?;
    let mut lowered = Vec::new();
    let mut left = Vec::new();
    for sku in &freed {
        let product = match distributor.find_product(sku).await {
            Ok(p) => p,
            Err(ConnectorError::NotFound { .. }) => {
                left.push(format!("{sku}: not sold by {}", distributor.name()));
                continue;
            }
            Err(e) => return Err(failed(e)),
        };
        let subscriptions = distributor
            .subscriptions(&customer, &product)
            .await
            .map_err(failed)?;
        let Some(subscription) = subscriptions.iter().find(|s| s.is_live() && s.quantity > 0)
        else {
            left.push(format!(
                "{sku}: no live subscription at {}",
                distributor.name()
            ));
            continue;
        };
        let target = remember(
            deps.store.as_ref(),
            &key(offboarding.id(), "offboard_user", &format!("seats/{sku}")),
            &(subscription.quantity - 1),
            deps.clock.now(),
        )
        .await?;
        distributor
            .set_quantity(subscription, target)
            .await
            .map_err(failed)?;
        lowered.push(format!("{sku} to {target}"));
    }
    if lowered.is_empty() {
        return Ok(ActionResult::skipped(ACTION, left.join("; ")));
    }
    let mut detail = format!("lowered {}", lowered.join(", "));
    if !left.is_empty() {
        detail.push_str(&format!("; {}", left.join("; ")));
    }
    Ok(ActionResult::done(ACTION, detail))
}
