//! The onboarding workflow (`statemachine/onboarding.asl.json`): its request as a
//! [`Workflow`], and the steps only it has, in workflow order. The steps it shares
//! with offboarding (`EnsureTicket`, `CloseRequest`, `MarkScheduled`,
//! `HandleFailure`, `CheckSchedule`) sit beside this module, generic over the kind.

use jiff::Timestamp;
use onboard_domain::request::TicketId;
use onboard_domain::values::{EmailAddress, TimeZoneName};
use onboard_domain::{DomainError, OnboardingRequest, Variables, notes};
use onboard_domain::{parse_onboarding, plan_onboarding};
use onboard_store::{RecordKind, Status};
use serde_json::Value;

use crate::case::{Case, SharedSteps, Workflow};
use crate::deps::Deps;
use crate::error::StepError;

pub mod add_groups;
pub mod add_mailbox_access;
pub mod assign_license;
pub mod complete;
pub mod create_user;
pub mod deliver_credentials;
pub mod purchase_license;
pub mod record_license_outcome;
pub mod request_license_purchase;
pub(crate) mod seat_reservations;
pub mod validate;

/// One onboarding, loaded for a step.
pub(crate) type Onboarding = Case<OnboardingRequest>;

impl Workflow for OnboardingRequest {
    const KIND: RecordKind = RecordKind::Onboarding;
    const ID_FIELD: &'static str = "onboarding_id";
    const SCHEDULED_FIELD: &'static str = "start_at";
    const STEPS: SharedSteps = SharedSteps {
        ensure_ticket: "ensure_ticket",
        request_approval: "request_approval",
        close: "close_request",
        mark_scheduled: "mark_scheduled",
        complete: "complete",
        handle_failure: "handle_failure",
    };
    const DENIED: &'static str = "request denied: no user was created";
    const TIMED_OUT: &'static str = "approval timed out: no user was created";
    const TEMPLATED: bool = true;

    fn parse(form: &Value, variables: &Variables) -> Result<Self, DomainError> {
        parse_onboarding(form, variables)
    }

    fn organization(&self) -> &str {
        &self.organization
    }

    fn scheduled_at(&self) -> Option<Timestamp> {
        self.start_date.map(|w| w.at)
    }

    fn ticket_id(&self) -> Option<&TicketId> {
        self.ticket_id.as_ref()
    }

    fn subject(&self) -> &str {
        &self.display_name
    }

    fn first_status(&self, variables: &Variables, now: Timestamp) -> Result<Status, StepError> {
        let plan = plan_onboarding(self, variables, now)?;
        validate::check_schedule(&plan, variables, now)?;
        Ok(if plan.approval.is_some() {
            Status::PendingApproval
        } else if plan.create_at.is_some() {
            Status::Scheduled
        } else {
            Status::Running
        })
    }

    fn ticket_summary(&self) -> String {
        format!("New user: {}", self.display_name)
    }

    fn started_note(&self, _variables: &Variables, _now: Timestamp) -> String {
        notes::onboarding_started(self)
    }

    fn approval_timed_out_note(&self, hours: u32) -> String {
        notes::approval_timed_out(&self.display_name, hours)
    }

    fn approval_decided_note(&self, approved: bool, by: &str) -> String {
        if approved {
            notes::approval_approved(&self.display_name, Some(by))
        } else {
            notes::approval_denied(&self.display_name, Some(by))
        }
    }

    fn scheduled(&self, at: Timestamp, time_zone: &TimeZoneName) -> (String, String) {
        (
            notes::scheduled_until(&self.display_name, at, time_zone),
            format!("waiting for the start date: the user is created at {at}"),
        )
    }

    const APPROVAL_VARIABLES: (&'static str, &'static str) =
        ("new_user_approval_email", "require_approval_for_new_users");

    fn approvers(variables: &Variables) -> &[EmailAddress] {
        &variables.new_user_approval_email
    }

    fn approval_requested_note(&self, variables: &Variables, expires_at: Timestamp) -> String {
        notes::approval_requested(
            &self.display_name,
            &variables.new_user_approval_email,
            expires_at,
            &variables.time_zone,
        )
    }

    fn approval_mail(&self, organization: &str, reminder: bool) -> (String, String) {
        let name = &self.display_name;
        let subject = if reminder {
            format!("Reminder: approval needed for new user {name} ({organization})")
        } else {
            format!("Approval needed: new user {name} ({organization})")
        };
        (
            subject,
            format!("{organization} asks to create a Microsoft 365 user for {name}."),
        )
    }

    fn what_it_does(&self) -> String {
        notes::onboarding_started(self)
    }

    async fn planned_warnings(deps: &Deps, id: &str) -> Result<Vec<String>, StepError> {
        Ok(validate::planned(deps, id)
            .await?
            .map(|plan| plan.warnings)
            .unwrap_or_default())
    }
}
