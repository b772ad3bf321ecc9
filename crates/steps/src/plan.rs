//! What a run would do, before it is submitted: [`plan_onboarding`] for
//! `POST /api/onboardings/plan` and [`preview_offboarding`] for
//! `POST /api/offboardings/plan` (CONTRACT.md §4).
//!
//! Both only read: nothing is created, sent, stored or ticketed. They reuse the
//! steps' own decisions (Validate's plan and preflight, CreateUser's username
//! choice, AssignLicense's license decision, RecordRestorePoint's read of the
//! user), so the plan cannot disagree with what the run does with the directory
//! as it is now.

use onboard_connectors::Error as ConnectorError;
use onboard_connectors::exchange::Exchange;
use onboard_connectors::graph::{Directory, SubscribedSku};
use onboard_domain::license::{Assignment, LicenseAction};
use onboard_domain::{OffboardingRequest, OnboardingRequest, Variables};
use serde::{Deserialize, Serialize};

use crate::deps::{Deps, Organization};
use crate::error::{Port, StepError};
use crate::mfa::{self, Readiness};
use crate::offboarding::record_restore_point;
use crate::onboarding::assign_license::decide;
use crate::onboarding::create_user::free_username;
use crate::onboarding::validate::{check_schedule, preflight, reachable_vaults};

/// What the run would do about one requested license.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicensePlanAction {
    /// A seat is free: assigned directly.
    Assign,
    /// A seat is free: given through the organization's license group.
    Group,
    /// No seat is free: bought through the distributor, then assigned.
    Purchase,
    /// No seat is free: a technician is asked to buy one (Confirm / Reject links).
    ManualPurchase,
}

/// One requested license in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedLicense {
    /// The SKU part number.
    pub sku: String,
    /// Free seats in the tenant now; `None` when the tenant has no such subscription.
    pub free_seats: Option<i64>,
    /// What the run would do.
    pub action: LicensePlanAction,
    /// The license group, for [`LicensePlanAction::Group`] (and the group a bought
    /// seat goes through).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// One requested group in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedGroup {
    /// The display name the form gave.
    pub name: String,
    /// Whether the tenant has a group of that name.
    pub found: bool,
    /// A distribution list or mail-enabled security group: added through
    /// Exchange Online once the new mailbox exists (`AddMailboxAccess`).
    #[serde(default)]
    pub exchange: bool,
}

/// The plan of an onboarding (`POST /api/onboardings/plan`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnboardingPlan {
    /// The UPN the user would get now, collisions with the directory resolved.
    pub user_principal_name: Option<String>,
    /// Whether an approver must approve first.
    pub approval_required: bool,
    /// When the user would be created (RFC 3339), when the run waits for the start date.
    pub scheduled_for: Option<String>,
    /// Per requested license, what the run would do.
    pub licenses: Vec<PlannedLicense>,
    /// The requested groups, found or not.
    pub groups: Vec<PlannedGroup>,
    /// The groups `copy_groups_from` would copy (display names), when that user exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copied_groups: Option<Vec<String>>,
    /// The shared mailboxes the user would get FullAccess and SendAs to.
    #[serde(default)]
    pub shared_mailboxes: Vec<String>,
    /// What the run would do differently than asked, or why it would stop.
    pub warnings: Vec<String>,
    /// The MFA readiness outcome in plain words ("MFA: required by Conditional
    /// Access policy '...'"), as Validate would record it; `None` when
    /// `mfa_readiness = ignore`. When it is a warning (or `require` would refuse
    /// the run), `warnings` says so too.
    #[serde(default)]
    pub mfa: Option<String>,
}

fn graph(e: ConnectorError) -> StepError {
    StepError::connector(Port::Graph, e)
}

/// A failure of a later step, said now: the run would stop there.
fn would_stop(step: &str, e: &dyn std::fmt::Display) -> String {
    format!("the run would stop at {step}: {e}")
}

/// Plans `request` of `organization` (already parsed with `variables`, as
/// `POST /api/onboardings` parses it) against the directory as it is now.
///
/// What would make the run stop later (a setting Validate refuses, no free
/// username) is a warning, not an error: the create accepts the same form.
/// Errors are the directory's or the store's, not the form's.
pub async fn plan_onboarding(
    deps: &Deps,
    organization: &Organization,
    variables: &Variables,
    request: &OnboardingRequest,
) -> Result<OnboardingPlan, StepError> {
    let now = deps.clock.now();
    let mut warnings = Vec::new();
    for field in &request.ignored_fields {
        warnings.push(format!("the field `{field}` is not used"));
    }
    let (approval_required, create_at) =
        match onboard_domain::plan_onboarding(request, variables, now) {
            Ok(plan) => {
                warnings.extend(plan.warnings.iter().cloned());
                if let Err(e) = check_schedule(&plan, variables, now) {
                    warnings.push(would_stop("Validate", &e));
                }
                if let Err(e) = preflight(&plan, request, variables) {
                    warnings.push(would_stop("Validate", &e));
                }
                if let Err(e) = reachable_vaults(deps, &plan, organization, variables).await {
                    warnings.push(would_stop("Validate", &e));
                }
                (plan.approval.is_some(), plan.create_at)
            }
            Err(e) => {
                warnings.push(would_stop("Validate", &e));
                (
                    variables.require_approval_for_new_users,
                    request.scheduled_creation(variables, now),
                )
            }
        };

    let directory = deps.connections.directory(organization).await?;
    let directory = directory.as_ref();
    let tenant = &organization.tenant;
    // The directory reads are independent: made at once, the plan takes as long
    // as its slowest read, not their sum.
    let username = async {
        match free_username(
            directory,
            tenant,
            request,
            variables,
            &organization.domain,
            Vec::new(),
        )
        .await
        {
            Ok((upn, _)) => Ok((Some(upn), None)),
            Err(e @ (StepError::UserExists(_) | StepError::InvalidRequest(_))) => {
                Ok((None, Some(would_stop("CreateUser", &e))))
            }
            Err(e) => Err(e),
        }
    };
    let licenses = async {
        if request.licenses.is_empty() {
            return Ok(Vec::new());
        }
        let skus = directory.subscribed_skus(tenant).await.map_err(graph)?;
        planned_licenses(deps, organization, variables, request, &skus).await
    };
    let groups = futures::future::try_join_all(request.groups.iter().map(|name| async move {
        let found = directory
            .find_groups_by_name(tenant, name)
            .await
            .map_err(graph)?;
        Ok::<_, StepError>(PlannedGroup {
            name: name.clone(),
            found: !found.is_empty(),
            exchange: found.first().is_some_and(|g| g.is_mail_list()),
        })
    }));
    let copied_groups = async {
        match &request.copy_groups_from {
            Some(from) => copied(directory, organization, from.as_str()).await,
            None => Ok((None, None)),
        }
    };
    let manager = async {
        let Some(manager) = &request.manager_email else {
            return Ok(None);
        };
        let found = directory
            .find_users_by_address(tenant, manager.as_str())
            .await
            .map_err(graph)?;
        Ok(found.is_empty().then(|| {
            format!(
                "the manager {} is not in the directory: no manager would be set",
                manager.as_str()
            )
        }))
    };
    let mfa = mfa_plan(directory, organization, variables, request);
    // Asked once, and only when the form names something Exchange might do.
    let exchange = if request.shared_mailboxes.is_empty() && request.groups.is_empty() {
        None
    } else {
        deps.connections.exchange(organization).await?
    };
    let shared = shared_mailbox_warnings(exchange.as_deref(), organization, request);
    let (
        (user_principal_name, username_warning),
        licenses,
        groups,
        (copied_groups, copy_warning),
        manager_warning,
        (mfa, mfa_warnings),
        mut shared_warnings,
    ) = futures::try_join!(
        username,
        licenses,
        groups,
        copied_groups,
        manager,
        mfa,
        shared
    )?;
    warnings.extend(username_warning);
    for g in groups.iter().filter(|g| !g.found) {
        warnings.push(format!(
            "no group named `{}` in the tenant: the run notes it and goes on",
            g.name
        ));
    }
    warnings.extend(copy_warning);
    warnings.extend(manager_warning);
    if shared_warnings.is_empty() && groups.iter().any(|g| g.exchange) && exchange.is_none() {
        shared_warnings.push(NO_EXCHANGE.to_owned());
    }
    warnings.extend(shared_warnings);
    // Assessments of other modules (e.g. MFA readiness) add their warnings here.
    warnings.extend(mfa_warnings);

    Ok(OnboardingPlan {
        user_principal_name,
        approval_required,
        scheduled_for: create_at.map(|at| at.to_string()),
        licenses,
        groups,
        copied_groups,
        shared_mailboxes: request
            .shared_mailboxes
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
        warnings,
        mfa,
    })
}

/// What the plan says when mail lists or shared mailboxes need Exchange and the
/// organization has no connector.
const NO_EXCHANGE: &str = "no Exchange Online connector: the run notes the cmdlets that add the     user to the distribution lists and shared mailboxes, for a technician to run";

/// Each shared mailbox that Exchange Online does not have (or is not shared),
/// as `AddMailboxAccess` would note it; or that there is no connector to ask.
async fn shared_mailbox_warnings(
    exchange: Option<&dyn Exchange>,
    organization: &Organization,
    request: &OnboardingRequest,
) -> Result<Vec<String>, StepError> {
    if request.shared_mailboxes.is_empty() {
        return Ok(Vec::new());
    }
    let Some(exo) = exchange else {
        return Ok(vec![NO_EXCHANGE.to_owned()]);
    };
    let mut warnings = Vec::new();
    for address in &request.shared_mailboxes {
        let found = exo
            .mailbox(&organization.tenant, address.as_str())
            .await
            .map_err(|e| StepError::connector(Port::Exchange, e))?;
        match found {
            None => warnings.push(format!(
                "no mailbox {} in Exchange Online: the run notes it and goes on",
                address.as_str()
            )),
            Some(m) if !m.is_shared() => warnings.push(format!(
                "{} is a {}, not a shared mailbox: no access would be given",
                address.as_str(),
                m.recipient_type_details
            )),
            Some(_) => {}
        }
    }
    Ok(warnings)
}

/// MFA readiness as Validate would decide it (the same [`mfa::readiness`]),
/// and the warnings it gives: the outcome when nothing requires MFA, the
/// refusal under `require`, a `mfa_registration_group` the tenant lacks.
async fn mfa_plan(
    directory: &dyn Directory,
    organization: &Organization,
    variables: &Variables,
    request: &OnboardingRequest,
) -> Result<(Option<String>, Vec<String>), StepError> {
    let tenant = &organization.tenant;
    let mut warnings = Vec::new();
    if let Some(name) = &variables.mfa_registration_group {
        let found = directory
            .find_groups_by_name(tenant, name)
            .await
            .map_err(graph)?;
        if found.is_empty() {
            warnings.push(format!(
                "no group named `{name}` (mfa_registration_group) in the tenant: the run notes it and goes on"
            ));
        }
    }
    let outcome = match mfa::readiness(directory, tenant, request, variables).await? {
        Readiness::Ignored => None,
        Readiness::Assessed { outcome, warning } => {
            if warning {
                warnings.push(outcome.clone());
            }
            Some(outcome)
        }
        Readiness::Refused { outcome, error } => {
            warnings.push(would_stop("Validate", &error));
            Some(outcome)
        }
    };
    Ok((outcome, warnings))
}

async fn planned_licenses(
    deps: &Deps,
    organization: &Organization,
    variables: &Variables,
    request: &OnboardingRequest,
    skus: &[SubscribedSku],
) -> Result<Vec<PlannedLicense>, StepError> {
    // A plan belongs to no run yet: every seat held for a run is taken.
    let decided = decide(
        deps,
        "",
        organization,
        variables,
        &request.licenses,
        request.license_purchase,
        skus,
    )
    .await?;
    Ok(decided
        .plan
        .items()
        .iter()
        .map(|item| {
            let free_seats = skus
                .iter()
                .find(|s| s.sku_part_number.eq_ignore_ascii_case(item.sku.as_str()))
                .map(SubscribedSku::free_seats);
            let (action, then) = match &item.action {
                LicenseAction::Assign { assignment } => (
                    match assignment {
                        Assignment::Direct { .. } => LicensePlanAction::Assign,
                        Assignment::Group { .. } => LicensePlanAction::Group,
                    },
                    assignment,
                ),
                LicenseAction::AutoPurchase { then } => (LicensePlanAction::Purchase, then),
                LicenseAction::ManualPurchase { then, .. } => {
                    (LicensePlanAction::ManualPurchase, then)
                }
            };
            let group = match then {
                Assignment::Group { group } => Some(group.clone()),
                Assignment::Direct { .. } => None,
            };
            PlannedLicense {
                sku: item.sku.as_str().to_owned(),
                free_seats,
                action,
                group,
            }
        })
        .collect())
}

/// The groups of `from`, or a warning that there is no such user.
async fn copied(
    directory: &dyn Directory,
    organization: &Organization,
    from: &str,
) -> Result<(Option<Vec<String>>, Option<String>), StepError> {
    let tenant = &organization.tenant;
    let Some(source) = directory
        .find_users_by_address(tenant, from)
        .await
        .map_err(graph)?
        .into_iter()
        .next()
    else {
        return Ok((
            None,
            Some(format!(
                "no user {from} to copy groups from: the run notes it and goes on"
            )),
        ));
    };
    let groups = directory
        .member_of(tenant, &source.id)
        .await
        .map_err(graph)?;
    let names = groups
        .iter()
        .map(|g| {
            g.display_name
                .clone()
                .unwrap_or_else(|| g.id.as_str().to_owned())
        })
        .collect();
    Ok((Some(names), None))
}

/// What an offboarding would remove (`POST /api/offboardings/plan`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffboardingPreview {
    /// The user.
    pub user_principal_name: String,
    /// Whether the tenant has that user.
    pub found: bool,
    /// Whether an approver must approve first.
    pub approval_required: bool,
    /// When the offboarding would run (RFC 3339); `None` means at once.
    pub scheduled_for: Option<String>,
    /// The actions that are on (`deactivate_user`, `remove_groups`, ...).
    pub actions: Vec<String>,
    /// Groups the user would be removed from (display names).
    pub groups: Vec<String>,
    /// Groups the user would stay in, with the reason (dynamic, synced).
    pub groups_kept: Vec<String>,
    /// Licenses (SKU part numbers) that would be removed.
    pub licenses: Vec<String>,
    /// Authentication methods that would be removed, masked.
    pub authentication_methods: Vec<String>,
    /// The manager (the default delegate).
    pub manager: Option<String>,
    /// What would be done to the mailbox through Exchange Online (type,
    /// delegate, forwarding, address list); empty without the connector.
    #[serde(default)]
    pub mailbox: Vec<String>,
    /// What would not be done as asked.
    pub warnings: Vec<String>,
}

/// Previews `request` against the directory as it is now: what `OffboardUser`
/// would remove, read as `RecordRestorePoint` reads it. Reads only.
pub async fn preview_offboarding(
    deps: &Deps,
    organization: &Organization,
    variables: &Variables,
    request: &OffboardingRequest,
) -> Result<OffboardingPreview, StepError> {
    let now = deps.clock.now();
    let upn = request.user_principal_name.as_str().to_owned();
    let mut warnings = Vec::new();
    let (approval_required, run_at) =
        match onboard_domain::plan_offboarding(request, variables, now) {
            Ok(plan) => (plan.approval.is_some(), plan.run_at),
            Err(e) => {
                warnings.push(would_stop("ValidateOffboarding", &e));
                (variables.require_approval_for_offboarding_users, None)
            }
        };
    let a = request.actions;
    let actions: Vec<String> = [
        ("deactivate_user", a.deactivate_user),
        ("revoke_sessions", a.revoke_sessions),
        ("reset_password", a.reset_password),
        ("remove_auth_methods", a.remove_auth_methods),
        // Before groups and licenses, as OffboardUser runs it.
        ("convert_to_shared", a.convert_to_shared),
        ("remove_groups", a.remove_groups),
        ("remove_licenses", a.remove_licenses),
        ("set_manager_as_delegate", a.set_manager_as_delegate),
        ("forward_mail_to_manager", a.forward_mail_to_manager),
        ("set_auto_reply", a.set_auto_reply),
        ("hide_from_gal", a.hide_from_gal),
        ("reduce_distributor_seats", a.reduce_distributor_seats),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| name.to_owned())
    .collect();

    let mut preview = OffboardingPreview {
        user_principal_name: upn.clone(),
        found: false,
        approval_required,
        scheduled_for: run_at.map(|at| at.to_string()),
        actions,
        groups: Vec::new(),
        groups_kept: Vec::new(),
        licenses: Vec::new(),
        authentication_methods: Vec::new(),
        manager: None,
        mailbox: Vec::new(),
        warnings,
    };
    let directory = deps.connections.directory(organization).await?;
    let tenant = &organization.tenant;
    let Some(user) = directory.user(tenant, &upn).await.map_err(graph)? else {
        preview.warnings.push(format!(
            "user `{upn}` does not exist in {}: the run would stop",
            organization.name
        ));
        return Ok(preview);
    };
    preview.found = true;
    let point = record_restore_point::read(directory.as_ref(), tenant, &user).await?;
    preview.manager = point.manager.map(|m| m.user_principal_name);
    if a.remove_groups {
        let exchange = if point.groups.iter().any(|g| g.mail_list) {
            deps.connections.exchange(organization).await?.is_some()
        } else {
            false
        };
        for g in &point.groups {
            let name = g.name();
            match &g.skip_reason {
                // A mail list goes through Exchange Online, when there is a connector.
                _ if g.mail_list && exchange => preview.groups.push(name),
                Some(reason) => preview.groups_kept.push(format!("{name}: {reason}")),
                None => preview.groups.push(name),
            }
        }
    }
    for l in &point.licenses {
        match &l.assigned_by_group {
            None if a.remove_licenses => preview.licenses.push(l.sku_part_number.clone()),
            None => {}
            // A group's license goes with the group (OffboardUser removes the group first).
            Some(_) if a.remove_groups => preview.licenses.push(l.sku_part_number.clone()),
            Some(group) if a.remove_licenses => preview.warnings.push(format!(
                "{} comes from group {group}, which is kept: the license stays",
                l.sku_part_number
            )),
            Some(_) => {}
        }
    }
    if a.remove_auth_methods {
        match directory.authentication_methods(tenant, &user.id).await {
            Ok(methods) => {
                for m in methods {
                    if m.collection().is_some() {
                        preview.authentication_methods.push(m.describe());
                    } else if m.kind != "password" {
                        preview.warnings.push(format!(
                            "the {} method cannot be removed through Graph: a technician removes it",
                            m.kind
                        ));
                    }
                }
            }
            Err(ConnectorError::Forbidden { .. }) => preview.warnings.push(
                "the app may not read authentication methods (UserAuthenticationMethod.ReadWrite.All): they would be left"
                    .to_owned(),
            ),
            Err(e) => return Err(graph(e)),
        }
    }
    let delegate = request
        .delegate_to
        .as_ref()
        .map(|d| d.as_str().to_owned())
        .or_else(|| preview.manager.clone());
    preview_mailbox(deps, organization, request, delegate, &mut preview).await?;
    if point.synced {
        preview.warnings.push(
            "the user is synchronised from on-premises AD: sign-in and password are left to AD"
                .to_owned(),
        );
    }
    Ok(preview)
}

/// The Exchange Online part of the preview: each mailbox action that is on,
/// as `OffboardUser` would run it, or why it would be left to a technician.
async fn preview_mailbox(
    deps: &Deps,
    organization: &Organization,
    request: &OffboardingRequest,
    delegate: Option<String>,
    preview: &mut OffboardingPreview,
) -> Result<(), StepError> {
    let a = request.actions;
    let forward_to = request
        .forward_to
        .as_ref()
        .map(|f| f.as_str().to_owned())
        .or_else(|| delegate.clone());
    let mut planned = Vec::new();
    if a.convert_to_shared {
        planned.push("convert to a shared mailbox (before licenses are removed)".to_owned());
    }
    if a.set_manager_as_delegate {
        match &delegate {
            Some(to) => planned.push(format!("give {to} FullAccess")),
            None => preview
                .warnings
                .push("nobody to give the mailbox to (no manager, no `delegate_to`)".to_owned()),
        }
    }
    if a.forward_mail_to_manager {
        match &forward_to {
            Some(to) => planned.push(format!(
                "forward mail to {to} ({})",
                if request.forward_keep_copy {
                    "a copy kept"
                } else {
                    "no copy kept"
                }
            )),
            None => preview
                .warnings
                .push("nobody to forward mail to (no manager, no `forward_to`)".to_owned()),
        }
    }
    if a.hide_from_gal {
        planned.push("hide from the address lists".to_owned());
    }
    if planned.is_empty() {
        return Ok(());
    }
    // Whether the connector is there, not a read: a preview calls nothing it
    // does not need (the mailbox is looked for when the run gets to it).
    if deps.connections.exchange(organization).await?.is_none() {
        preview.warnings.push(format!(
            "the organization has no Exchange Online connector: {} would be left to a \
             technician (the ticket names the cmdlets)",
            planned.join(", ")
        ));
        return Ok(());
    }
    preview.mailbox = planned;
    Ok(())
}
