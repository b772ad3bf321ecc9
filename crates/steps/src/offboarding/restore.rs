//! A technician's restore of a completed offboarding (`POST /api/offboardings/{id}/restore`
//! on both runtimes), for a rehire or a mistake: what the restore record
//! (`removed`, saved by `RecordRestorePoint` before anything was changed) holds
//! is put back, in an order that works:
//!
//! 1. sign-in enabled again (when it was);
//! 2. direct licenses assigned again (so the mailbox can be a user mailbox again);
//! 3. direct groups joined again (a group's license comes back with it);
//! 4. the manager set back, and the offboarding's automatic reply switched off;
//! 5. through Exchange Online, when the record holds the mailbox: a regular
//!    mailbox again, FullAccess removed from whoever the offboarding gave it,
//!    forwarding as it was, shown in the address lists as it was.
//!
//! Each part is remembered under its own idempotency key once done and put on
//! the timeline; the summary is noted on the ticket once. Restoring again
//! changes nothing more; a part that failed (a service unavailable) is done by
//! the next call.

use onboard_connectors::Error as ConnectorError;
use onboard_connectors::exchange::{Exchange, Forwarding, MailboxUpdate};
use onboard_connectors::graph::{Directory, LicenseToAdd, MailboxChange, ObjectId, TenantId};
use onboard_store::{Record, RecordKind, Status};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::actions::ActionError;
use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::idempotency::{key, recall, remember};
use crate::offboarding::Offboarding;
use crate::offboarding::record_restore_point::{MailboxEntry, Output as RestorePoint};

/// What became of one part of a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoredPart {
    /// `enable_user`, `licenses`, `groups`, `manager`, `automatic_reply`, `mailbox_type`,
    /// `mailbox_delegates`, `mailbox_forwarding`, `address_lists`.
    pub part: String,
    /// Whether it was put back (or found as it was); `false`: left, see `detail`.
    pub done: bool,
    /// What was done, or why not.
    pub detail: String,
}

impl RestoredPart {
    fn done(part: &str, detail: impl Into<String>) -> Self {
        Self {
            part: part.to_owned(),
            done: true,
            detail: detail.into(),
        }
    }

    fn left(part: &str, detail: impl Into<String>) -> Self {
        Self {
            part: part.to_owned(),
            done: false,
            detail: detail.into(),
        }
    }

    fn line(&self) -> String {
        format!(
            "{}: {} ({})",
            self.part.replace('_', " "),
            if self.done { "restored" } else { "left" },
            self.detail
        )
    }
}

fn graph(e: ConnectorError) -> StepError {
    StepError::connector(Port::Graph, e)
}

fn exchange(e: ConnectorError) -> StepError {
    StepError::connector(Port::Exchange, e)
}

struct Restore<'a> {
    deps: &'a Deps,
    offboarding: &'a Offboarding,
    parts: Vec<RestoredPart>,
}

impl Restore<'_> {
    /// Runs `part` once: a remembered outcome is reused; a new one is remembered
    /// and put on the timeline.
    async fn once<F, Fut>(&mut self, part: &str, work: F) -> Result<(), StepError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<RestoredPart, StepError>>,
    {
        let remembered = key(self.offboarding.id(), "restore", &format!("part/{part}"));
        let result = match recall::<RestoredPart>(self.deps.store.as_ref(), &remembered).await? {
            Some(result) => result,
            None => {
                let result = work().await?;
                let result = remember(
                    self.deps.store.as_ref(),
                    &remembered,
                    &result,
                    self.deps.clock.now(),
                )
                .await?;
                self.offboarding
                    .record(self.deps, "restore", None, &result.line())
                    .await?;
                result
            }
        };
        self.parts.push(result);
        Ok(())
    }
}

/// Restores completed offboarding `id` from its restore record; `by` says who.
/// Answers the record. Another status is a conflict naming it.
#[instrument(skip_all, fields(offboarding_id = %id, step = "restore"))]
pub async fn restore(deps: &Deps, id: &str, by: &str) -> Result<Record, ActionError> {
    let not_found = || ActionError::NotFound {
        kind: RecordKind::Offboarding,
        id: id.to_owned(),
    };
    let run = match deps.store.get_record(id).await.map_err(StepError::from)? {
        Some(r) if r.kind == RecordKind::Offboarding => r,
        _ => return Err(not_found()),
    };
    if run.status != Status::Completed {
        return Err(ActionError::Conflict(format!(
            "the offboarding is `{}`: only a completed offboarding can be restored",
            run.status
        )));
    }
    let point: RestorePoint = run
        .removed
        .clone()
        .and_then(|r| serde_json::from_value(r).ok())
        .ok_or_else(|| {
            ActionError::Conflict("the offboarding has no restore record to restore".into())
        })?;
    let offboarding = Offboarding::load(deps, id).await?;
    let directory = offboarding.directory(deps).await?;
    let dir = directory.as_ref();
    let tenant = offboarding.organization.tenant.clone();
    let tenant = &tenant;
    let user = ObjectId::new(point.user_id.as_str());
    let user = &user;
    let point = &point;
    let mut restore = Restore {
        deps,
        offboarding: &offboarding,
        parts: Vec::new(),
    };

    restore
        .once("enable_user", || async {
            const PART: &str = "enable_user";
            if !point.enabled {
                return Ok(RestoredPart::done(
                    PART,
                    "sign-in was blocked before; left so",
                ));
            }
            if point.synced {
                return Ok(RestoredPart::left(
                    PART,
                    "synchronised from on-premises AD: enable the account there",
                ));
            }
            dir.set_account_enabled(tenant, user, true)
                .await
                .map_err(graph)?;
            Ok(RestoredPart::done(PART, "sign-in allowed again"))
        })
        .await?;

    restore
        .once("licenses", || restore_licenses(dir, tenant, user, point))
        .await?;

    restore
        .once("groups", || async {
            let exo = if point.groups.iter().any(|g| g.mail_list) {
                deps.connections.exchange(&offboarding.organization).await?
            } else {
                None
            };
            restore_groups(dir, exo.as_deref(), tenant, user, point).await
        })
        .await?;

    restore
        .once("manager", || async {
            const PART: &str = "manager";
            let Some(manager) = &point.manager else {
                return Ok(RestoredPart::done(PART, "there was no manager"));
            };
            let now = dir.manager(tenant, user).await.map_err(graph)?;
            if now.is_some_and(|m| m.id.as_str() == manager.id) {
                return Ok(RestoredPart::done(
                    PART,
                    format!("{} is the manager", manager.user_principal_name),
                ));
            }
            dir.set_manager(tenant, user, &ObjectId::new(manager.id.as_str()))
                .await
                .map_err(graph)?;
            Ok(RestoredPart::done(
                PART,
                format!("{} is the manager again", manager.user_principal_name),
            ))
        })
        .await?;

    // The offboarding's automatic reply ("no longer works here"), if it set one.
    let replied = recall::<crate::offboarding::offboard_user::ActionResult>(
        deps.store.as_ref(),
        &key(id, "offboard_user", "action/set_auto_reply"),
    )
    .await?
    .is_some_and(|r| r.outcome == crate::offboarding::offboard_user::Outcome::Done);
    if replied {
        restore
            .once("automatic_reply", || async {
                const PART: &str = "automatic_reply";
                match dir
                    .switch_off_automatic_replies(tenant, user)
                    .await
                    .map_err(graph)?
                {
                    MailboxChange::Set => Ok(RestoredPart::done(PART, "switched off")),
                    MailboxChange::NoMailbox(why) => Ok(RestoredPart::left(
                        PART,
                        format!("Graph cannot reach the mailbox ({why})"),
                    )),
                }
            })
            .await?;
    }

    if let Some(before) = &point.mailbox {
        let exo = deps.connections.exchange(&offboarding.organization).await?;
        let upn = point.user_principal_name.as_str();
        match exo.as_deref() {
            Some(exo) => restore_mailbox(&mut restore, exo, tenant, upn, before).await?,
            None => {
                restore
                    .once("mailbox", || async {
                        Ok(RestoredPart::left(
                            "mailbox",
                            "the organization no longer has an Exchange Online connector: \
                             restore the mailbox in the Exchange admin center",
                        ))
                    })
                    .await?;
            }
        }
    }

    let lines: Vec<String> = restore.parts.iter().map(RestoredPart::line).collect();
    let done = key(id, "restore", "done");
    if recall::<bool>(deps.store.as_ref(), &done).await?.is_none() {
        offboarding
            .record(
                deps,
                "restore",
                None,
                &format!("offboarding restored by {by}"),
            )
            .await?;
        remember(deps.store.as_ref(), &done, &true, deps.clock.now()).await?;
    }
    offboarding
        .note(
            deps,
            "restore",
            &format!(
                "Offboarding of {} restored by {by}:\n{}",
                offboarding.upn(),
                lines.join("\n")
            ),
        )
        .await?;
    match deps.store.get_record(id).await.map_err(StepError::from)? {
        Some(r) => Ok(r),
        None => Err(not_found()),
    }
}

/// Assigns the directly assigned licenses again; a seat no longer free is left.
async fn restore_licenses(
    dir: &dyn Directory,
    tenant: &TenantId,
    user: &ObjectId,
    point: &RestorePoint,
) -> Result<RestoredPart, StepError> {
    const PART: &str = "licenses";
    let held = dir.license_details(tenant, user).await.map_err(graph)?;
    let add: Vec<&crate::offboarding::record_restore_point::LicenseEntry> = point
        .licenses
        .iter()
        .filter(|l| l.assigned_by_group.is_none())
        .filter(|l| !held.iter().any(|h| h.sku_id == l.sku_id))
        .collect();
    let names = |ls: &[&crate::offboarding::record_restore_point::LicenseEntry]| {
        ls.iter()
            .map(|l| l.sku_part_number.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if add.is_empty() {
        return Ok(RestoredPart::done(
            PART,
            "every direct license is assigned".to_owned(),
        ));
    }
    let licenses: Vec<LicenseToAdd> = add
        .iter()
        .map(|l| LicenseToAdd {
            sku_id: l.sku_id.clone(),
            disabled_plans: Vec::new(),
        })
        .collect();
    match dir.assign_licenses(tenant, user, &licenses, &[]).await {
        Ok(()) => Ok(RestoredPart::done(
            PART,
            format!("assigned {} again", names(&add)),
        )),
        Err(ConnectorError::NoFreeSeats { .. }) => Ok(RestoredPart::left(
            PART,
            format!(
                "no free seat of {}: buy one and assign it, then convert the mailbox back",
                names(&add)
            ),
        )),
        Err(e) => Err(graph(e)),
    }
}

/// Joins the direct groups again (not the dynamic or synced ones); mail lists
/// through Exchange Online.
async fn restore_groups(
    dir: &dyn Directory,
    exo: Option<&dyn Exchange>,
    tenant: &TenantId,
    user: &ObjectId,
    point: &RestorePoint,
) -> Result<RestoredPart, StepError> {
    const PART: &str = "groups";
    let mut joined = Vec::new();
    let mut left = Vec::new();
    let upn = point.user_principal_name.as_str();
    for entry in point.groups.iter().filter(|g| g.mail_list) {
        let (name, identity) = (entry.name(), entry.exchange_identity());
        let Some(exo) = exo else {
            left.push(format!(
                "{name}: no Exchange Online connector; run {}",
                crate::cmdlets::add_distribution_group_member(&identity, upn)
            ));
            continue;
        };
        match exo
            .add_distribution_group_member(tenant, &identity, upn)
            .await
        {
            Ok(_) => joined.push(name),
            Err(ConnectorError::NotFound { .. }) => {
                left.push(format!(
                    "{name}: Exchange Online has no such group any more"
                ));
            }
            Err(e) => return Err(exchange(e)),
        }
    }
    for entry in point.groups.iter().filter(|g| g.skip_reason.is_none()) {
        let name = entry.name();
        let Some(group) = dir
            .group(tenant, &ObjectId::new(entry.id.as_str()))
            .await
            .map_err(graph)?
        else {
            left.push(format!("{name}: the group no longer exists"));
            continue;
        };
        match dir
            .add_group_member(tenant, &group, user)
            .await
            .map_err(graph)?
        {
            onboard_connectors::graph::MembershipChange::Skipped(reason) => {
                left.push(format!("{name}: {reason}"));
            }
            _ => joined.push(name),
        }
    }
    let mut detail = if joined.is_empty() {
        "no direct group to join".to_owned()
    } else {
        format!("member of {} again", joined.join(", "))
    };
    if !left.is_empty() {
        detail.push_str(&format!("; left {}", left.join("; ")));
    }
    Ok(RestoredPart::done(PART, detail))
}

/// The mailbox as the record says it was, each difference put back.
async fn restore_mailbox(
    restore: &mut Restore<'_>,
    exo: &dyn Exchange,
    tenant: &TenantId,
    upn: &str,
    before: &MailboxEntry,
) -> Result<(), StepError> {
    let Some(now) = exo.mailbox(tenant, upn).await.map_err(exchange)? else {
        return restore
            .once("mailbox", || async {
                Ok(RestoredPart::left(
                    "mailbox",
                    "Exchange Online no longer has the mailbox (deleted 30 days after its \
                     license went): restore it from the deleted mailboxes",
                ))
            })
            .await;
    };

    restore
        .once("mailbox_type", || async {
            const PART: &str = "mailbox_type";
            if now.is_shared() == before.shared {
                return Ok(RestoredPart::done(PART, "the mailbox type is as it was"));
            }
            let update = MailboxUpdate {
                shared: Some(before.shared),
                ..MailboxUpdate::default()
            };
            match exo.set_mailbox(tenant, upn, &update).await {
                Ok(()) => Ok(RestoredPart::done(
                    PART,
                    if before.shared {
                        "a shared mailbox again"
                    } else {
                        "a user mailbox again"
                    },
                )),
                // e.g. no license came back: a user mailbox needs one.
                Err(ConnectorError::Rejected { message, .. }) => Ok(RestoredPart::left(
                    PART,
                    format!("Exchange Online refused ({message})"),
                )),
                Err(e) => Err(exchange(e)),
            }
        })
        .await?;

    restore
        .once("mailbox_delegates", || async {
            const PART: &str = "mailbox_delegates";
            let added: Vec<String> = exo
                .mailbox_permissions(tenant, upn)
                .await
                .map_err(exchange)?
                .into_iter()
                .filter(|p| !p.user.eq_ignore_ascii_case("NT AUTHORITY\\SELF"))
                .filter(|p| p.grants_full_access_to(&p.user))
                .map(|p| p.user)
                .filter(|u| !before.full_access.iter().any(|b| b.eq_ignore_ascii_case(u)))
                .collect();
            if added.is_empty() {
                return Ok(RestoredPart::done(PART, "nobody was given FullAccess"));
            }
            for user in &added {
                exo.remove_full_access(tenant, upn, user)
                    .await
                    .map_err(exchange)?;
            }
            Ok(RestoredPart::done(
                PART,
                format!("FullAccess removed from {}", added.join(", ")),
            ))
        })
        .await?;

    restore
        .once("mailbox_forwarding", || async {
            const PART: &str = "mailbox_forwarding";
            if now.forwarding() == before.forwarding
                && (before.forwarding.is_none()
                    || now.deliver_to_mailbox_and_forward == before.keep_copy)
            {
                return Ok(RestoredPart::done(PART, "forwarding is as it was"));
            }
            let forwarding = match &before.forwarding {
                None => Forwarding::Off,
                Some(to) => {
                    let internal = exo.recipient(tenant, to).await.map_err(exchange)?.is_some();
                    let (to, keep_copy) = (to.clone(), before.keep_copy);
                    if internal {
                        Forwarding::Internal { to, keep_copy }
                    } else {
                        Forwarding::External { to, keep_copy }
                    }
                }
            };
            let update = MailboxUpdate {
                forwarding: Some(forwarding),
                ..MailboxUpdate::default()
            };
            exo.set_mailbox(tenant, upn, &update)
                .await
                .map_err(exchange)?;
            Ok(RestoredPart::done(
                PART,
                match &before.forwarding {
                    None => "forwarding cleared".to_owned(),
                    Some(to) => format!("forwarding to {to} again"),
                },
            ))
        })
        .await?;

    restore
        .once("address_lists", || async {
            const PART: &str = "address_lists";
            if now.hidden_from_address_lists_enabled == before.hidden_from_address_lists {
                return Ok(RestoredPart::done(PART, "as it was"));
            }
            let update = MailboxUpdate {
                hidden_from_address_lists: Some(before.hidden_from_address_lists),
                ..MailboxUpdate::default()
            };
            exo.set_mailbox(tenant, upn, &update)
                .await
                .map_err(exchange)?;
            Ok(RestoredPart::done(
                PART,
                if before.hidden_from_address_lists {
                    "hidden again"
                } else {
                    "shown in the address lists again"
                },
            ))
        })
        .await
}
