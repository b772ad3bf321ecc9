//! The plan of a run, decided once when the form is validated: whether to wait for an
//! approval (until when, with which reminders), when to act, and the settings the later
//! steps follow. Pure: `now` is an argument.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::password::{PasswordOptions, PasswordPolicy};
use crate::request::{OffboardingRequest, OnboardingRequest};
use crate::username::UsernameRules;
use crate::values::EmailAddress;
use crate::variables::{CredentialDelivery, PasswordSaveLocation, SendCredentialsTo, Variables};

/// Waiting for a person to approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPlan {
    /// Who is asked.
    pub approvers: Vec<EmailAddress>,
    /// When an unanswered request times out (`approval_timeout_hours` after `now`).
    pub expires_at: Timestamp,
    /// When to remind the approvers (every `approval_reminder_hours`, before `expires_at`).
    pub reminders_at: Vec<Timestamp>,
}

/// What an onboarding will do, before it does anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnboardingPlan {
    /// The approval to wait for, when `require_approval_for_new_users` is on.
    pub approval: Option<ApprovalPlan>,
    /// When to create the user; `None` means as soon as possible.
    pub create_at: Option<Timestamp>,
    /// How the username is chosen.
    pub username_rules: UsernameRules,
    /// How the password is generated.
    pub password_policy: PasswordPolicy,
    /// The password options of the new user.
    pub password_options: PasswordOptions,
    /// Password or Temporary Access Pass.
    pub credential_delivery: CredentialDelivery,
    /// Where the first password is saved.
    pub password_save_locations: Vec<PasswordSaveLocation>,
    /// Who receives the credentials.
    pub send_credentials_to: SendCredentialsTo,
    /// What the request asks that the organization's settings will not do, in
    /// words for the timeline and the ticket (the run goes on).
    pub warnings: Vec<String>,
}

/// What an offboarding will do, before it does anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffboardingPlan {
    /// The approval to wait for, when `require_approval_for_offboarding_users` is on.
    pub approval: Option<ApprovalPlan>,
    /// When to offboard; `None` means as soon as possible.
    pub run_at: Option<Timestamp>,
}

fn hours_after(now: Timestamp, hours: u32) -> Timestamp {
    now.checked_add(SignedDuration::from_hours(i64::from(hours)))
        .unwrap_or(Timestamp::MAX)
}

fn approval(
    required: bool,
    approvers: &[EmailAddress],
    approvers_variable: &str,
    required_by: &str,
    organization: &str,
    variables: &Variables,
    now: Timestamp,
) -> Result<Option<ApprovalPlan>, DomainError> {
    if !required {
        return Ok(None);
    }
    if approvers.is_empty() {
        return Err(DomainError::MissingVariable {
            variable: approvers_variable.into(),
            organization: organization.into(),
            because: format!("`{required_by}` is 1"),
        });
    }
    let timeout = variables.approval_timeout_hours.get();
    let every = variables.approval_reminder_hours.get();
    let reminders_at = if every == 0 {
        Vec::new()
    } else {
        (1..)
            .map(|n| n * every)
            .take_while(|h| *h < timeout)
            .map(|h| hours_after(now, h))
            .collect()
    };
    Ok(Some(ApprovalPlan {
        approvers: approvers.to_vec(),
        expires_at: hours_after(now, timeout),
        reminders_at,
    }))
}

/// Plans an onboarding; refuses variables that contradict each other for this run
/// (approval required with no approver). Whether each password destination can
/// be reached depends on connector settings too, which Validate checks.
pub fn plan_onboarding(
    request: &OnboardingRequest,
    variables: &Variables,
    now: Timestamp,
) -> Result<OnboardingPlan, DomainError> {
    let password_save_locations = variables.password_save_locations();
    Ok(OnboardingPlan {
        approval: approval(
            variables.require_approval_for_new_users,
            &variables.new_user_approval_email,
            "new_user_approval_email",
            "require_approval_for_new_users",
            &request.organization,
            variables,
            now,
        )?,
        create_at: request.scheduled_creation(variables, now),
        warnings: ignored_start_date(request, variables, now)
            .into_iter()
            .collect(),
        username_rules: variables.username_rules(),
        password_policy: variables.password_policy(),
        password_options: variables.password_options(),
        credential_delivery: variables.credential_delivery,
        password_save_locations,
        send_credentials_to: request.send_credentials_to,
    })
}

/// A start date ahead that `allow_scheduled_user_creation` = 0 makes the run
/// ignore: the account would be live before the person starts, so say so.
fn ignored_start_date(
    request: &OnboardingRequest,
    variables: &Variables,
    now: Timestamp,
) -> Option<String> {
    let start = request.start_date.as_ref()?;
    (start.at > now && !variables.allow_scheduled_user_creation.0).then(|| {
        format!(
            "The start date {} is ahead, but allow_scheduled_user_creation is 0 for this organization: \
             the account is created now, not on that date. Block its sign-in until then if it must not be used early.",
            start.at.to_zoned(variables.time_zone.zone().clone()).date()
        )
    })
}

/// Plans an offboarding: its approval, and its time when `scheduled_at` is still ahead.
pub fn plan_offboarding(
    request: &OffboardingRequest,
    variables: &Variables,
    now: Timestamp,
) -> Result<OffboardingPlan, DomainError> {
    Ok(OffboardingPlan {
        approval: approval(
            variables.require_approval_for_offboarding_users,
            &variables.offboarding_user_approval_email,
            "offboarding_user_approval_email",
            "require_approval_for_offboarding_users",
            &request.organization,
            variables,
            now,
        )?,
        run_at: request.scheduled_at.map(|s| s.at).filter(|at| *at > now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{parse_offboarding, parse_onboarding};
    use crate::variables::VariableLayer;
    use serde_json::{Value as Json, json};

    fn vars(org: Json) -> Variables {
        let org: VariableLayer = serde_json::from_value(org).expect("object");
        Variables::resolve("contoso", &VariableLayer::new(), &org).expect("valid")
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn onboarding(v: &Variables) -> OnboardingRequest {
        parse_onboarding(
            &json!({"organization": "contoso", "first_name": "Ana", "last_name": "Silva", "start_date": "2026-03-02"}),
            v,
        )
        .expect("valid")
    }

    #[test]
    fn no_approval_and_no_schedule_by_default() {
        let v = vars(json!({}));
        let plan = plan_onboarding(&onboarding(&v), &v, at("2026-02-01T00:00:00Z")).expect("plan");
        assert_eq!(plan.approval, None);
        assert_eq!(plan.create_at, None);
        assert_eq!(plan.password_options, PasswordOptions::default());
        assert_eq!(plan.password_save_locations, [PasswordSaveLocation::Psa]);
    }

    #[test]
    fn an_approval_expires_after_the_timeout_with_reminders_before_it() {
        let v = vars(json!({
            "require_approval_for_new_users": 1,
            "new_user_approval_email": "hr@contoso.com",
            "approval_timeout_hours": 48,
            "approval_reminder_hours": 20,
            "allow_scheduled_user_creation": 1
        }));
        let now = at("2026-02-01T00:00:00Z");
        let plan = plan_onboarding(&onboarding(&v), &v, now).expect("plan");
        let approval = plan.approval.expect("approval");
        assert_eq!(approval.expires_at, at("2026-02-03T00:00:00Z"));
        assert_eq!(
            approval.reminders_at,
            [at("2026-02-01T20:00:00Z"), at("2026-02-02T16:00:00Z")]
        );
        assert_eq!(plan.create_at, Some(at("2026-03-02T09:00:00Z")));
    }

    #[test]
    fn approval_without_an_approver_is_a_configuration_error() {
        let v = vars(json!({"require_approval_for_new_users": 1}));
        let err = plan_onboarding(&onboarding(&v), &v, at("2026-02-01T00:00:00Z"))
            .expect_err("no approver");
        assert_eq!(
            err.to_string(),
            "variable `new_user_approval_email` for organization `contoso` must be set because `require_approval_for_new_users` is 1"
        );
    }

    #[test]
    fn an_offboarding_runs_at_its_scheduled_time_when_still_ahead() {
        let v = vars(
            json!({"require_approval_for_offboarding_users": 1, "offboarding_user_approval_email": ["it@contoso.com"], "approval_reminder_hours": 0}),
        );
        let r = parse_offboarding(
            &json!({"organization": "contoso", "user_principal_name": "a@contoso.com", "scheduled_at": "2026-03-31"}),
            &v,
        )
        .expect("valid");
        let plan = plan_offboarding(&r, &v, at("2026-03-01T00:00:00Z")).expect("plan");
        assert_eq!(plan.run_at, Some(at("2026-03-31T17:00:00Z")));
        assert_eq!(plan.approval.map(|a| a.reminders_at.len()), Some(0));
        let late = plan_offboarding(&r, &v, at("2026-04-01T00:00:00Z")).expect("plan");
        assert_eq!(late.run_at, None);
    }

    #[test]
    fn a_start_date_ahead_without_scheduling_is_a_warning_and_creates_now() {
        let v = vars(json!({"allow_scheduled_user_creation": 0}));
        let now = at("2026-02-01T00:00:00Z");
        let plan = plan_onboarding(&onboarding(&v), &v, now).expect("plan");
        assert_eq!(plan.create_at, None);
        assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
        assert!(
            plan.warnings[0].contains("2026-03-02"),
            "{:?}",
            plan.warnings
        );
        assert!(plan.warnings[0].contains("allow_scheduled_user_creation is 0"));

        let scheduled = vars(json!({"allow_scheduled_user_creation": 1}));
        let plan = plan_onboarding(&onboarding(&scheduled), &scheduled, now).expect("plan");
        assert!(plan.warnings.is_empty());
        // A start date already passed is no warning: creating now is what it asks.
        let late = plan_onboarding(&onboarding(&v), &v, at("2026-04-01T00:00:00Z")).expect("plan");
        assert!(late.warnings.is_empty());
    }
}
