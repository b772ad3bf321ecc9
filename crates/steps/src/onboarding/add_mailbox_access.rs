//! Step `AddMailboxAccess`, after `AddGroups`: through Exchange Online, adds the
//! new user to the distribution lists and mail-enabled security groups the form
//! named (Graph cannot change their members, so `AddGroups` leaves them here) and
//! gives FullAccess and SendAs to the form's `shared_mailboxes`.
//!
//! Exchange provisions a mailbox minutes after its license, and until then the
//! user is no recipient those cmdlets accept. So the step first asks for the
//! mailbox; while it is missing it answers `wait` with a `wake_at` that backs off
//! (1, 2, 4, 8, then every 15 minutes), and the state machine's Wait state calls it
//! again — no Lambda sleeps. After `exchange_mailbox_wait_minutes` it gives up:
//! the ticket says what was not done and the cmdlets a technician runs, and the
//! onboarding goes on. Without an Exchange connector those cmdlets are noted at once.
//!
//! Each round is safe to repeat: an existing membership answers "already a
//! member", and the client reads permissions before it resends a lost write.

use jiff::{SignedDuration, Timestamp};
use onboard_connectors::Error as ConnectorError;
use onboard_connectors::exchange::Exchange;
use onboard_connectors::graph::TenantId;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::cmdlets;
use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::onboarding::Onboarding;
use crate::onboarding::create_user::created;

/// The step's name on the timeline and in note keys.
const STEP: &str = "add_mailbox_access";

/// The input of `AddMailboxAccess`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
    /// The mail lists `AddGroups` left to Exchange (`$.groups.mail_lists`).
    #[serde(default)]
    pub mail_lists: Vec<String>,
    /// The previous round's output (`$.mailbox`; `{"attempt": 0}` before the first).
    #[serde(default)]
    pub previous: Round,
}

/// Where the wait stands, carried from round to round by the state machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    /// Rounds so far.
    #[serde(default)]
    pub attempt: u32,
    /// When the step gives up waiting for the mailbox (set by the first round).
    #[serde(default)]
    pub deadline: Option<Timestamp>,
}

/// What the state machine does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// The mailbox is not there yet: wait until `wake_at`, then call again.
    Wait,
    /// Done (or nothing to do, or noted for a technician): go on.
    Done,
}

/// As `$.mailbox`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// What comes next.
    pub next: Next,
    /// This round's number (the next round's `previous.attempt`).
    pub attempt: u32,
    /// When waiting ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    /// When to call again (`Next::Wait` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<Timestamp>,
    /// Mail lists the user is a member of now.
    pub lists_added: Vec<String>,
    /// Shared mailboxes the user has FullAccess and SendAs to now.
    pub mailboxes_granted: Vec<String>,
    /// What a technician is asked to do by hand (cmdlets), if anything.
    pub by_hand: Vec<String>,
}

/// How long to wait after round `attempt` (0-based): 1, 2, 4, 8, then 15 minutes.
pub fn backoff(attempt: u32) -> SignedDuration {
    SignedDuration::from_mins(1i64 << attempt.min(4)).min(SignedDuration::from_mins(15))
}

fn exchange_error(e: ConnectorError) -> StepError {
    StepError::connector(Port::Exchange, e)
}

/// What one round did with a mailbox that exists.
#[derive(Default)]
struct Applied {
    lists_added: Vec<String>,
    mailboxes_granted: Vec<String>,
    /// Names the tenant has no such recipient for, with why.
    refused: Vec<String>,
}

/// Why a round could not finish: the user is not a recipient Exchange accepts yet.
struct NotYet;

async fn apply(
    exo: &dyn Exchange,
    tenant: &TenantId,
    upn: &str,
    lists: &[String],
    shared: &[String],
) -> Result<Result<Applied, NotYet>, StepError> {
    let mut done = Applied::default();
    for name in lists {
        let Some(recipient) = exo.recipient(tenant, name).await.map_err(exchange_error)? else {
            done.refused.push(format!(
                "{name}: Exchange Online has no recipient of that name"
            ));
            continue;
        };
        if !recipient.is_distribution_group() {
            done.refused.push(format!(
                "{name}: a {}, not a distribution list or mail-enabled security group",
                recipient.recipient_type_details
            ));
            continue;
        }
        let identity = if recipient.primary_smtp_address.is_empty() {
            name.as_str()
        } else {
            recipient.primary_smtp_address.as_str()
        };
        match exo
            .add_distribution_group_member(tenant, identity, upn)
            .await
        {
            Ok(_) => done.lists_added.push(name.clone()),
            // The group was found a moment ago: what is not found is the member.
            Err(ConnectorError::NotFound { .. }) => return Ok(Err(NotYet)),
            Err(e) => return Err(exchange_error(e)),
        }
    }
    for address in shared {
        let Some(mailbox) = exo.mailbox(tenant, address).await.map_err(exchange_error)? else {
            done.refused.push(format!(
                "{address}: Exchange Online has no mailbox of that address"
            ));
            continue;
        };
        if !mailbox.is_shared() {
            done.refused.push(format!(
                "{address}: a {}, not a shared mailbox, so no access was given",
                mailbox.recipient_type_details
            ));
            continue;
        }
        let granted = async {
            exo.add_full_access(tenant, address, upn, true).await?;
            exo.add_send_as(tenant, address, upn).await
        };
        match granted.await {
            Ok(()) => done.mailboxes_granted.push(address.clone()),
            Err(ConnectorError::NotFound { .. }) => return Ok(Err(NotYet)),
            Err(e) => return Err(exchange_error(e)),
        }
    }
    Ok(Ok(done))
}

/// The cmdlets that give `upn` what the form asked for.
fn cmdlets_for(upn: &str, lists: &[String], shared: &[String]) -> Vec<String> {
    let mut out: Vec<String> = lists
        .iter()
        .map(|l| cmdlets::add_distribution_group_member(l, upn))
        .collect();
    for mailbox in shared {
        out.push(cmdlets::add_full_access(mailbox, upn));
        out.push(cmdlets::add_send_as(mailbox, upn));
    }
    out
}

/// One round: nothing to do, noted for a technician, waited for, or done.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = STEP))]
pub async fn add_mailbox_access(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let lists = input.mail_lists;
    let shared: Vec<String> = onboarding
        .request
        .shared_mailboxes
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    let attempt = input.previous.attempt + 1;
    let mut output = Output {
        next: Next::Done,
        attempt,
        deadline: input.previous.deadline,
        wake_at: None,
        lists_added: Vec::new(),
        mailboxes_granted: Vec::new(),
        by_hand: Vec::new(),
    };
    if lists.is_empty() && shared.is_empty() {
        return Ok(output);
    }
    let user = created(deps, onboarding.id()).await?;
    let upn = user.user_principal_name.as_str();
    let tenant = &onboarding.organization.tenant;

    let Some(exo) = deps.connections.exchange(&onboarding.organization).await? else {
        output.by_hand = cmdlets_for(upn, &lists, &shared);
        let text = format!(
            "Microsoft Graph cannot add members to distribution lists or give access to shared \
             mailboxes, and the organization has no Exchange Online connector (its app would need \
             Exchange.ManageAsApp and the Exchange Administrator role). Run in Exchange Online \
             PowerShell once {upn}'s mailbox exists:\n{}",
            output.by_hand.join("\n")
        );
        onboarding.note(deps, STEP, &text).await?;
        onboarding
            .record(
                deps,
                STEP,
                None,
                "mailbox access: left to a technician (no Exchange connector)",
            )
            .await?;
        return Ok(output);
    };

    let now = deps.clock.now();
    let limit = onboarding.variables.exchange_mailbox_wait_minutes.get();
    let deadline = match input.previous.deadline {
        Some(at) => at,
        None => now
            .checked_add(SignedDuration::from_mins(i64::from(limit)))
            .unwrap_or(now),
    };
    output.deadline = Some(deadline);

    let ready = exo
        .mailbox(tenant, upn)
        .await
        .map_err(exchange_error)?
        .is_some();
    let applied = if ready {
        apply(exo.as_ref(), tenant, upn, &lists, &shared).await?
    } else {
        Err(NotYet)
    };
    let applied = match applied {
        Ok(applied) => applied,
        Err(NotYet) if now < deadline => {
            if input.previous.attempt == 0 {
                onboarding
                    .record(
                        deps,
                        STEP,
                        None,
                        &format!(
                            "waiting for {upn}'s mailbox (Exchange Online provisions it after the license), up to {limit} minutes"
                        ),
                    )
                    .await?;
            }
            let wake_at = now
                .checked_add(backoff(input.previous.attempt))
                .unwrap_or(deadline)
                .min(deadline);
            output.next = Next::Wait;
            output.wake_at = Some(wake_at);
            return Ok(output);
        }
        Err(NotYet) => {
            output.by_hand = cmdlets_for(upn, &lists, &shared);
            let text = format!(
                "{upn}'s mailbox did not appear in Exchange Online within {limit} minutes \
                 (exchange_mailbox_wait_minutes), so these were not done. Check the user's \
                 Exchange license, then run in Exchange Online PowerShell:\n{}",
                output.by_hand.join("\n")
            );
            onboarding.note(deps, STEP, &text).await?;
            onboarding
                .record(
                    deps,
                    STEP,
                    None,
                    &format!(
                        "mailbox access: no mailbox after {limit} minutes; left to a technician"
                    ),
                )
                .await?;
            return Ok(output);
        }
    };

    let mut lines = Vec::new();
    if !applied.lists_added.is_empty() {
        lines.push(format!(
            "Added {upn} through Exchange Online to {}.",
            applied.lists_added.join(", ")
        ));
    }
    if !applied.mailboxes_granted.is_empty() {
        lines.push(format!(
            "Gave {upn} FullAccess (shown in Outlook) and SendAs to {}.",
            applied.mailboxes_granted.join(", ")
        ));
    }
    if !applied.refused.is_empty() {
        lines.push(format!(
            "Not done (check the names): {}.",
            applied.refused.join("; ")
        ));
    }
    onboarding.note(deps, STEP, &lines.join("\n")).await?;
    onboarding
        .record(
            deps,
            STEP,
            None,
            &format!(
                "mailbox access: {} list(s), {} shared mailbox(es), {} not done",
                applied.lists_added.len(),
                applied.mailboxes_granted.len(),
                applied.refused.len()
            ),
        )
        .await?;
    output.lists_added = applied.lists_added;
    output.mailboxes_granted = applied.mailboxes_granted;
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_backs_off_to_a_quarter_hour() {
        let minutes: Vec<i64> = (0..7).map(|a| backoff(a).as_mins()).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 15, 15, 15]);
        assert_eq!(backoff(u32::MAX).as_mins(), 15);
    }

    #[test]
    fn a_round_without_its_previous_one_is_the_first() {
        let input: Input = serde_json::from_value(serde_json::json!({
            "onboarding_id": "ob-1", "mail_lists": ["Sales"], "previous": {"attempt": 0}
        }))
        .unwrap();
        assert_eq!(input.previous, Round::default());
    }

    #[test]
    fn the_cmdlets_name_the_user_and_every_target() {
        let c = cmdlets_for(
            "jdoe@contoso.com",
            &["Contoso Announcements".into()],
            &["info@contoso.com".into()],
        );
        assert_eq!(c.len(), 3);
        assert!(c[0].contains("-Identity 'Contoso Announcements' -Member 'jdoe@contoso.com'"));
        assert!(c[1].starts_with("Add-MailboxPermission -Identity 'info@contoso.com'"));
        assert!(c[2].starts_with("Add-RecipientPermission"));
    }
}
