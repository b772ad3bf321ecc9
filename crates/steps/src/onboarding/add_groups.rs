//! Step `AddGroups`: adds the user to the groups the form lists, to
//! `mfa_registration_group`, and to the groups of `copy_groups_from`, skipping dynamic and on-premises-synced groups (their
//! membership cannot be written), and notes what was added, skipped and not found.
//! Distribution lists and mail-enabled security groups, whose members only
//! Exchange Online can change, are handed on as `mail_lists` to `AddMailboxAccess`.
//! Adding an existing member is not an error, so a retry changes nothing.

use onboard_connectors::Error as ConnectorError;
use onboard_connectors::graph::{Group, MembershipChange, ObjectId, SkipReason};
use onboard_domain::notes;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::onboarding::Onboarding;
use crate::onboarding::create_user::created;

/// The input of `AddGroups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
}

/// A group that was not written, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The group's display name.
    pub group: String,
    /// Why.
    pub reason: String,
}

/// As `$.groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Groups the user is now a member of (added, or already a member).
    pub added: Vec<String>,
    /// Dynamic or synced groups left alone.
    pub skipped: Vec<Skipped>,
    /// Names the form gave that the tenant has no group for.
    pub not_found: Vec<String>,
    /// Distribution lists and mail-enabled security groups, left to
    /// `AddMailboxAccess` (through Exchange Online, once the mailbox exists).
    #[serde(default)]
    pub mail_lists: Vec<String>,
}

fn graph(e: ConnectorError) -> StepError {
    StepError::connector(Port::Graph, e)
}

fn group_name(group: &Group) -> String {
    group
        .display_name
        .clone()
        .unwrap_or_else(|| group.id.as_str().to_owned())
}

/// Adds the user to the requested and copied groups.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "add_groups"))]
pub async fn add_groups(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let user = created(deps, onboarding.id()).await?;
    let request = &onboarding.request;
    let directory = onboarding.directory(deps).await?;
    let tenant = &onboarding.organization.tenant;
    let user_id = ObjectId::new(user.user_id.clone());

    let mut targets: Vec<Group> = Vec::new();
    let mut not_found = Vec::new();
    // The form's groups and `mfa_registration_group`, through the same path.
    for name in &crate::mfa::planned_group_names(request, &onboarding.variables) {
        let found = directory
            .find_groups_by_name(tenant, name)
            .await
            .map_err(graph)?;
        match found.into_iter().next() {
            Some(group) => targets.push(group),
            None => not_found.push(name.clone()),
        }
    }
    let mut copied_from = request.copy_groups_from.as_ref().map(|a| a.as_str());
    if let Some(from) = copied_from {
        let source = directory
            .find_users_by_address(tenant, from)
            .await
            .map_err(graph)?
            .into_iter()
            .next();
        match source {
            Some(source) => targets.extend(
                directory
                    .member_of(tenant, &source.id)
                    .await
                    .map_err(graph)?,
            ),
            // The user exists by now: say so and go on rather than fail the run.
            None => {
                not_found.push(format!("the groups of {from} (no such user to copy from)"));
                copied_from = None;
            }
        }
    }

    let mut added: Vec<String> = Vec::new();
    let mut skipped = Vec::new();
    let mut mail_lists: Vec<String> = Vec::new();
    for group in targets {
        let name = group_name(&group);
        if added.contains(&name)
            || mail_lists.contains(&name)
            || skipped.iter().any(|s: &Skipped| s.group == name)
        {
            continue;
        }
        if group.membership_skip_reason() == Some(SkipReason::MailList) {
            mail_lists.push(name);
            continue;
        }
        match directory
            .add_group_member(tenant, &group, &user_id)
            .await
            .map_err(graph)?
        {
            MembershipChange::Added | MembershipChange::AlreadyMember => added.push(name),
            MembershipChange::Skipped(reason) => skipped.push(Skipped {
                group: name,
                reason: reason.to_string(),
            }),
            other => {
                return Err(StepError::Internal(format!(
                    "adding a member answered {other:?}"
                )));
            }
        }
    }

    let mut text = notes::groups_added(&user.user_principal_name, &added, &not_found, copied_from);
    for s in &skipped {
        text.push_str(&format!("\nSkipped {}: {}.", s.group, s.reason));
    }
    if !mail_lists.is_empty() {
        text.push_str(&format!(
            "\nDistribution lists and mail-enabled security groups, added through Exchange Online once the mailbox exists: {}.",
            mail_lists.join(", ")
        ));
    }
    onboarding.note(deps, "add_groups", &text).await?;
    onboarding
        .record(
            deps,
            "add_groups",
            None,
            &format!(
                "groups: {} added, {} skipped, {} not found, {} left to Exchange",
                added.len(),
                skipped.len(),
                not_found.len(),
                mail_lists.len()
            ),
        )
        .await?;
    Ok(Output {
        added,
        skipped,
        not_found,
        mail_lists,
    })
}
