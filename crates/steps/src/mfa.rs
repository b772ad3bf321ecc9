//! MFA readiness of a new user: reads the tenant's protection through the
//! [`Directory`] port (security defaults; with Entra ID P1 in the subscribed
//! SKUs' service plans, the Conditional Access policies) and decides with
//! [`onboard_domain::mfa::assess`] whether it will make the user use MFA, given
//! the groups the user will be in (the form's, `mfa_registration_group`, the
//! `license_groups` of the requested licenses, and those of `copy_groups_from`).
//!
//! One function, [`readiness`] (through [`assess_mfa`]), for Validate and for
//! the console's plan, so both say the same thing; it reads and never writes.
//! [`tap_unavailable_for`] tells whether a Temporary Access Pass can be issued
//! to a user who exists.

use onboard_connectors::Error as ConnectorError;
use onboard_connectors::graph::{Directory, ObjectId, TenantId};
use onboard_domain::mfa::{self, MfaOutcome, PlannedUser, TenantProtection};
use onboard_domain::variables::MfaReadiness;
use onboard_domain::{OnboardingRequest, Variables};

use crate::error::{Port, StepError};

fn graph(e: ConnectorError) -> StepError {
    StepError::connector(Port::Graph, e)
}

/// Every group name the new user will be added to by name: the form's groups
/// and `mfa_registration_group`, each once (names compare case-insensitively).
pub fn planned_group_names(request: &OnboardingRequest, variables: &Variables) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let registration = variables.mfa_registration_group.iter();
    for name in request.groups.iter().chain(registration) {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.clone());
        }
    }
    names
}

/// The tenant's MFA protection, read from Graph (P1 from service plans, not
/// from an error; Conditional Access only read with P1).
pub async fn tenant_protection(
    directory: &dyn Directory,
    tenant: &TenantId,
) -> Result<TenantProtection, StepError> {
    let security_defaults = directory
        .security_defaults_enabled(tenant)
        .await
        .map_err(graph)?;
    let skus = directory.subscribed_skus(tenant).await.map_err(graph)?;
    let entra_p1 = mfa::has_entra_p1(skus.iter().flat_map(|s| {
        s.service_plans.iter().map(|p| {
            (
                p.service_plan_name.as_str(),
                p.provisioning_status.as_deref(),
            )
        })
    }));
    let policies = if entra_p1 && !security_defaults {
        directory
            .conditional_access_policies(tenant)
            .await
            .map_err(graph)?
    } else {
        Vec::new()
    };
    Ok(TenantProtection {
        security_defaults,
        entra_p1,
        policies,
    })
}

/// Whether the tenant will make the user `request` describes use MFA, and by
/// which policy. Read-only: callable before anything exists (Validate, the
/// console's plan). A group name the tenant lacks simply covers nothing.
pub async fn assess_mfa(
    directory: &dyn Directory,
    tenant: &TenantId,
    request: &OnboardingRequest,
    variables: &Variables,
) -> Result<MfaOutcome, StepError> {
    let protection = tenant_protection(directory, tenant).await?;
    let mut user = PlannedUser::default();
    if !protection.security_defaults && protection.entra_p1 {
        // AssignLicense puts the user in the license group of each requested
        // SKU that has one: a group the user will get, like the form's.
        let mut names = planned_group_names(request, variables);
        for sku in &request.licenses {
            if let Some(group) = variables.license_groups.group_for(sku)
                && !names.iter().any(|n| n.eq_ignore_ascii_case(group))
            {
                names.push(group.to_owned());
            }
        }
        for name in names {
            let found = directory
                .find_groups_by_name(tenant, &name)
                .await
                .map_err(graph)?;
            user.groups
                .extend(found.into_iter().map(|g| g.id.as_str().to_owned()));
        }
        if let Some(from) = &request.copy_groups_from {
            let source = directory
                .find_users_by_address(tenant, from.as_str())
                .await
                .map_err(graph)?
                .into_iter()
                .next();
            if let Some(source) = source {
                let groups = directory
                    .member_of(tenant, &source.id)
                    .await
                    .map_err(graph)?;
                user.groups
                    .extend(groups.into_iter().map(|g| g.id.as_str().to_owned()));
            }
        }
    }
    Ok(mfa::assess(&protection, &user))
}

/// Why a Temporary Access Pass cannot be issued to `user` (the method policy is
/// off, or targets neither all users nor one of their groups), or `None`.
pub async fn tap_unavailable_for(
    directory: &dyn Directory,
    tenant: &TenantId,
    user: &ObjectId,
) -> Result<Option<&'static str>, StepError> {
    let policy = directory
        .temporary_access_pass_policy(tenant)
        .await
        .map_err(graph)?;
    let groups: Vec<String> = if policy.enabled {
        directory
            .member_of(tenant, user)
            .await
            .map_err(graph)?
            .into_iter()
            .map(|g| g.id.as_str().to_owned())
            .collect()
    } else {
        Vec::new()
    };
    Ok(mfa::tap_unavailable(&policy, &groups))
}

/// What `mfa_readiness` makes of the tenant's protection for one request.
#[derive(Debug)]
pub enum Readiness {
    /// `mfa_readiness = ignore`: nothing was read and nothing is said.
    Ignored,
    /// The outcome in plain words (for the plan, the timeline and the completion
    /// note), and whether Validate warns about it (`warn` and nothing requires MFA,
    /// or the protection could not be read).
    Assessed {
        /// "MFA: required by ...", or "MFA: no policy requires it ...".
        outcome: String,
        /// Set when the outcome is a warning.
        warning: bool,
    },
    /// `mfa_readiness = require` and nothing would make the user use MFA (or the
    /// protection could not be read): Validate refuses the run with `error`.
    Refused {
        /// The outcome in plain words, as for [`Readiness::Assessed`].
        outcome: String,
        /// Validate's error (`Request.Invalid` or `Config.Invalid`).
        error: StepError,
    },
}

/// The outcome when the tenant's protection could not be read.
fn unreadable(error: &ConnectorError) -> String {
    let hint = match error {
        ConnectorError::Forbidden { .. } => "; grant the app Policy.Read.All",
        _ => "",
    };
    format!(
        "MFA: unknown: the tenant's security defaults and Conditional Access policies \
         could not be read ({error}){hint}"
    )
}

/// Reads the tenant's protection per `mfa_readiness` and decides what the run
/// says or whether it is refused. When the protection cannot be read (no
/// `Policy.Read.All`: 403; or Graph failing for good), `warn` says so and goes
/// on; `require` cannot vouch for it and refuses (403) or fails to be retried.
pub async fn readiness(
    directory: &dyn Directory,
    tenant: &TenantId,
    request: &OnboardingRequest,
    variables: &Variables,
) -> Result<Readiness, StepError> {
    let mode = variables.mfa_readiness;
    if mode == MfaReadiness::Ignore {
        return Ok(Readiness::Ignored);
    }
    let outcome = match assess_mfa(directory, tenant, request, variables).await {
        Ok(outcome) => outcome,
        Err(StepError::Connector { source, .. }) if mode == MfaReadiness::Warn => {
            // `warn` only informs: a read that failed for good (after the
            // client's retries) is said, and the run goes on.
            return Ok(Readiness::Assessed {
                outcome: unreadable(&source),
                warning: true,
            });
        }
        Err(StepError::Connector {
            source: source @ ConnectorError::Forbidden { .. },
            ..
        }) => {
            let why = unreadable(&source);
            return Ok(Readiness::Refused {
                error: StepError::Config(format!("mfa_readiness is require and {why}")),
                outcome: why,
            });
        }
        // `require`: a throttled or unavailable Graph is retried by the state machine.
        Err(e) => return Err(e),
    };
    let text = outcome.describe();
    if outcome.required() {
        return Ok(Readiness::Assessed {
            outcome: text,
            warning: false,
        });
    }
    if mode == MfaReadiness::Require {
        return Ok(Readiness::Refused {
            error: StepError::RequestRefused(format!(
                "mfa_readiness is require and nothing would make {} use MFA ({text}); \
                 no user was created",
                request.display_name
            )),
            outcome: text,
        });
    }
    Ok(Readiness::Assessed {
        outcome: text,
        warning: true,
    })
}
