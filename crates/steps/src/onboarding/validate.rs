//! Step `Validate`: parses the stored form with the organization's variables and plans
//! the run (approval and its timeout, scheduled start, license-purchase timeout).
//!
//! Its output becomes `$.plan` in the state: the Choice states and the waits read it,
//! so every duration the state machine waits comes from here, never from a constant.

use jiff::{SignedDuration, Timestamp};
use onboard_domain::plan::OnboardingPlan;
use onboard_domain::variables::{
    MfaReadiness, PasswordSaveLocation, Psa as PsaName, SendCredentialsTo,
};
use onboard_domain::{DomainError, OnboardingRequest, Variables, plan_onboarding};
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::check_schedule::within_an_execution;
use crate::deps::{Deps, Organization};
use crate::error::StepError;
use crate::idempotency::{key, recall, remember};
use crate::mfa::Readiness;
use crate::onboarding::Onboarding;

/// How long a technician has to confirm or reject a manual license purchase (24 hours,
/// as the reference documents).
pub const LICENSE_PURCHASE_TIMEOUT_SECONDS: u64 = 24 * 60 * 60;

/// Refuses a start date the execution could not wait for: the approval and
/// license waits, and a day's margin, come on top of the start date.
pub(crate) fn check_schedule(
    plan: &OnboardingPlan,
    variables: &Variables,
    now: Timestamp,
) -> Result<(), DomainError> {
    let Some(create_at) = plan.create_at else {
        return Ok(());
    };
    let approval = if plan.approval.is_some() {
        SignedDuration::from_hours(i64::from(variables.approval_timeout_hours.get()))
    } else {
        SignedDuration::ZERO
    };
    let license = SignedDuration::from_hours(24);
    let margin = SignedDuration::from_hours(24);
    let on_top = approval + license + margin;
    within_an_execution(create_at, on_top, now, "start_date", "the start date")
}

/// Settings a later step will need, checked now so a run that cannot finish stops
/// before it creates anything.
pub(crate) fn preflight(
    plan: &OnboardingPlan,
    request: &OnboardingRequest,
    vars: &Variables,
) -> Result<(), StepError> {
    let mails = plan.approval.is_some() || plan.send_credentials_to.by_email();
    if mails && vars.send_from_address.is_none() {
        return Err(StepError::Config(
            "variable `send_from_address` must be set: this run sends mail (approval or credentials)"
                .into(),
        ));
    }
    let ticketed = !matches!(vars.default_psa, None | Some(PsaName::NoPsa));
    let saved = plan
        .password_save_locations
        .iter()
        .any(|l| *l != PasswordSaveLocation::Psa || ticketed);
    // Passportal cannot take a password: it needs a destination after it.
    let locations = &plan.password_save_locations;
    if locations.contains(&PasswordSaveLocation::Passportal)
        && !locations.iter().any(|l| {
            *l != PasswordSaveLocation::Passportal && (*l != PasswordSaveLocation::Psa || ticketed)
        })
    {
        return Err(StepError::Config(format!(
            "onboarding_password_save_location names passportal with no fallback: {}; \
             name a fallback after it, e.g. \"passportal,pwpush\" (or itglue, hudu, psa)",
            onboard_domain::notes::PASSPORTAL_NO_PASSWORD_API
        )));
    }
    if !saved && plan.send_credentials_to == SendCredentialsTo::Nobody {
        return Err(StepError::Config(
            "the first password would reach nobody: store it in the ticket (store_password_in_ticket with a psa), \
             in a vault (onboarding_password_save_location), or send it (send_credentials_to)"
                .into(),
        ));
    }
    // A license with no free seat asks a technician to buy it: the Confirm and
    // Reject links go on the ticket, or by mail when nothing is ticketed.
    if !request.licenses.is_empty() && !ticketed {
        if vars.onboard_offboard_notification_email.is_empty() {
            return Err(StepError::Config(
                "this request asks for licenses, and a license without a free seat is bought by a technician \
                 through Confirm / Reject links: set a psa (default_psa) for them to go on the ticket, or \
                 `onboard_offboard_notification_email` for them to be mailed"
                    .into(),
            ));
        }
        if vars.send_from_address.is_none() {
            return Err(StepError::Config(
                "variable `send_from_address` must be set: without a psa, a license purchase is asked for by mail"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Every vault the password goes to can be built from the settings (IT Glue's
/// key, Password Pusher's URL from `[connectors.pwpush] base_url` or
/// `pwpush_url`, ...): building one reads settings only, it calls nothing.
pub(crate) async fn reachable_vaults(
    deps: &Deps,
    plan: &OnboardingPlan,
    organization: &Organization,
    variables: &Variables,
) -> Result<(), StepError> {
    for location in &plan.password_save_locations {
        // The ticket is no vault; Passportal is skipped for the fallback after it.
        if matches!(
            location,
            PasswordSaveLocation::Psa | PasswordSaveLocation::Passportal
        ) {
            continue;
        }
        deps.connections
            .vault(organization, *location, variables)
            .await
            .map_err(|e| match e {
                StepError::Config(why) => StepError::Config(format!(
                    "onboarding_password_save_location includes {location}, which cannot be used: {why}"
                )),
                other => other,
            })?;
    }
    Ok(())
}

/// The plan Validate made for `onboarding_id`, once it has run.
pub(crate) async fn planned(deps: &Deps, onboarding_id: &str) -> Result<Option<Output>, StepError> {
    recall(deps.store.as_ref(), &key(onboarding_id, "validate", "plan")).await
}

/// The input of `Validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
}

/// The plan of the run, as the state machine reads it at `$.plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The organization id.
    pub organization: String,
    /// The new user's display name.
    pub display_name: String,
    /// Wait for an approver (`require_approval_for_new_users`).
    pub approval_required: bool,
    /// How long the approval may take (`approval_timeout_hours`), in seconds.
    pub approval_timeout_seconds: u64,
    /// Wait for the start date before creating the user.
    pub scheduled: bool,
    /// When to create the user (RFC 3339), when `scheduled`.
    pub start_at: Option<String>,
    /// How long a manual license purchase may take, in seconds.
    pub license_timeout_seconds: u64,
    /// What the request asks that the settings will not do (the run goes on);
    /// on the timeline now and on the ticket once it exists.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The MFA readiness outcome in plain words ("MFA: required by ..."), unless
    /// `mfa_readiness = ignore`; the completion note repeats it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<String>,
}

/// `mfa_readiness`: what the tenant's protection means for this user, in words,
/// plus a warning when nothing requires MFA; `require` refuses the run instead,
/// before anything is created.
async fn mfa_readiness(
    deps: &Deps,
    onboarding: &Onboarding,
    warnings: &mut Vec<String>,
) -> Result<Option<String>, StepError> {
    if onboarding.variables.mfa_readiness == MfaReadiness::Ignore {
        return Ok(None);
    }
    let directory = match onboarding.directory(deps).await {
        Ok(directory) => directory,
        // `warn` never stops a run: without Graph settings, CreateUser names
        // the missing connector later; `require` cannot vouch, and refuses now.
        Err(StepError::Config(why)) if onboarding.variables.mfa_readiness == MfaReadiness::Warn => {
            let text = format!(
                "MFA: unknown: Graph cannot be reached to read the tenant's protection ({why})"
            );
            warnings.push(text.clone());
            return Ok(Some(text));
        }
        Err(e) => return Err(e),
    };
    match crate::mfa::readiness(
        directory.as_ref(),
        &onboarding.organization.tenant,
        &onboarding.request,
        &onboarding.variables,
    )
    .await?
    {
        Readiness::Ignored => Ok(None),
        Readiness::Assessed { outcome, warning } => {
            if warning {
                warnings.push(outcome.clone());
            }
            Ok(Some(outcome))
        }
        Readiness::Refused { error, .. } => Err(error),
    }
}

/// Validates onboarding `input.onboarding_id` and plans it. Bad input is
/// `Request.Invalid`, contradicting variables `Config.Invalid`; nothing changes then.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "validate"))]
pub async fn validate(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let done = key(&input.onboarding_id, "validate", "plan");
    if let Some(plan) = recall::<Output>(deps.store.as_ref(), &done).await? {
        return Ok(plan);
    }
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let now = deps.clock.now();
    let plan = plan_onboarding(&onboarding.request, &onboarding.variables, now)?;
    check_schedule(&plan, &onboarding.variables, now)?;
    preflight(&plan, &onboarding.request, &onboarding.variables)?;
    reachable_vaults(deps, &plan, &onboarding.organization, &onboarding.variables).await?;
    let mut warnings = plan.warnings.clone();
    let mfa = mfa_readiness(deps, &onboarding, &mut warnings).await?;
    let approval_timeout_seconds =
        u64::from(onboarding.variables.approval_timeout_hours.get()) * 3600;
    let output = Output {
        organization: onboarding.organization.id.clone(),
        display_name: onboarding.request.display_name.clone(),
        approval_required: plan.approval.is_some(),
        approval_timeout_seconds,
        scheduled: plan.create_at.is_some(),
        start_at: plan.create_at.map(|at| at.to_string()),
        license_timeout_seconds: LICENSE_PURCHASE_TIMEOUT_SECONDS,
        warnings,
        mfa,
    };
    let output = remember(deps.store.as_ref(), &done, &output, now).await?;
    let (status, message) = if output.approval_required {
        (
            Status::PendingApproval,
            format!(
                "request validated for {}; approval required",
                output.display_name
            ),
        )
    } else {
        (
            Status::Running,
            format!("request validated for {}", output.display_name),
        )
    };
    onboarding
        .record(deps, "validate", Some(status), &message)
        .await?;
    // A warning is recorded below; an outcome that is no warning is said once.
    if let Some(mfa) = output.mfa.as_ref().filter(|m| !output.warnings.contains(m)) {
        onboarding.record(deps, "validate", None, mfa).await?;
    }
    for warning in &output.warnings {
        onboarding
            .record(deps, "validate", None, &format!("warning: {warning}"))
            .await?;
    }
    tracing::info!(
        approval = output.approval_required,
        scheduled = output.scheduled,
        "planned"
    );
    Ok(output)
}
