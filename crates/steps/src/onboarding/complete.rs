//! Step `Complete`: the summary of the onboarding (the account, its manager, the
//! license, MFA, the groups and how the credentials went), then the run is closed as
//! every workflow closes it (`complete::finish`).

use onboard_domain::notes;
use onboard_store::Status;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::complete::finish;
use crate::deps::Deps;
use crate::error::StepError;
use crate::onboarding::Onboarding;
use crate::onboarding::create_user::created;

/// The input of `Complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
}

/// As `$.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// `completed`.
    pub status: Status,
    /// The user's UPN.
    pub user_principal_name: String,
    /// The summary lines of the resolution note.
    pub summary: Vec<String>,
}

/// Completes the onboarding.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "complete"))]
pub async fn complete(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let user = created(deps, onboarding.id()).await?;
    let record = &onboarding.record;
    let mut summary = vec![format!("Account: {}", user.user_principal_name)];
    if let Some(manager) = &user.manager {
        summary.push(format!("Manager: {manager}"));
    }
    summary.push(format!(
        "License: {}",
        record
            .license_outcome
            .map_or("unknown".to_owned(), |o| o.as_str().replace('_', " "))
    ));
    if let Some(mfa) = crate::onboarding::validate::planned(deps, onboarding.id())
        .await?
        .and_then(|plan| plan.mfa)
    {
        summary.push(mfa);
    }
    for event in deps.store.timeline(onboarding.id()).await? {
        if matches!(event.step.as_str(), "add_groups" | "deliver_credentials") {
            summary.push(event.message);
        }
    }
    let text = notes::onboarding_completed(
        &onboarding.request.display_name,
        &user.user_principal_name,
        &summary,
    );
    finish(
        deps,
        &onboarding,
        &text,
        &format!("onboarding of {} complete", user.user_principal_name),
    )
    .await?;
    Ok(Output {
        status: Status::Completed,
        user_principal_name: user.user_principal_name,
        summary,
    })
}
