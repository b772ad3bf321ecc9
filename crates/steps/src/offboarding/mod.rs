//! The offboarding workflow (`statemachine/offboarding.asl.json`): its request as a
//! [`Workflow`], the steps only it has, in workflow order, and a technician's
//! restore of a completed offboarding. The steps it shares with onboarding
//! (`EnsureOffboardingTicket`, `CloseOffboarding`, `MarkOffboardingScheduled`,
//! `HandleOffboardingFailure`, `CheckSchedule`) sit beside this module, generic over the kind.

use jiff::Timestamp;
use onboard_connectors::graph::{Directory, User};
use onboard_domain::request::TicketId;
use onboard_domain::values::{EmailAddress, TimeZoneName};
use onboard_domain::{DomainError, OffboardingRequest, Variables, notes};
use onboard_domain::{parse_offboarding, plan_offboarding};
use onboard_store::{RecordKind, Status};
use serde_json::Value;

use crate::case::{Case, SharedSteps, Workflow};
use crate::deps::Deps;
use crate::error::{Port, StepError};

pub mod complete_offboarding;
pub mod offboard_user;
pub mod record_restore_point;
pub mod restore;
pub mod validate_offboarding;

/// One offboarding, loaded for a step.
pub(crate) type Offboarding = Case<OffboardingRequest>;

impl Offboarding {
    /// The user's UPN as the form gave it.
    pub(crate) fn upn(&self) -> &str {
        self.request.user_principal_name.as_str()
    }

    /// The user being offboarded; a UPN the tenant does not have is `Request.Invalid`.
    pub(crate) async fn user(&self, directory: &dyn Directory) -> Result<User, StepError> {
        directory
            .user(&self.organization.tenant, self.upn())
            .await
            .map_err(|e| StepError::connector(Port::Graph, e))?
            .ok_or_else(|| {
                StepError::RequestRefused(format!(
                    "user `{}` does not exist in {}",
                    self.upn(),
                    self.organization.name
                ))
            })
    }
}

impl Workflow for OffboardingRequest {
    const KIND: RecordKind = RecordKind::Offboarding;
    const ID_FIELD: &'static str = "offboarding_id";
    const SCHEDULED_FIELD: &'static str = "run_at";
    const STEPS: SharedSteps = SharedSteps {
        ensure_ticket: "ensure_offboarding_ticket",
        request_approval: "request_offboarding_approval",
        close: "close_offboarding",
        mark_scheduled: "mark_offboarding_scheduled",
        complete: "complete_offboarding",
        handle_failure: "handle_offboarding_failure",
    };
    const DENIED: &'static str = "offboarding denied: the account was not changed";
    const TIMED_OUT: &'static str = "approval timed out: the account was not changed";

    fn parse(form: &Value, variables: &Variables) -> Result<Self, DomainError> {
        parse_offboarding(form, variables)
    }

    fn organization(&self) -> &str {
        &self.organization
    }

    fn scheduled_at(&self) -> Option<Timestamp> {
        self.scheduled_at.map(|w| w.at)
    }

    fn ticket_id(&self) -> Option<&TicketId> {
        self.ticket_id.as_ref()
    }

    fn subject(&self) -> &str {
        self.user_principal_name.as_str()
    }

    fn first_status(&self, variables: &Variables, now: Timestamp) -> Result<Status, StepError> {
        let plan = plan_offboarding(self, variables, now)?;
        validate_offboarding::check_schedule(&plan, variables, now)?;
        Ok(if plan.approval.is_some() {
            Status::PendingApproval
        } else if plan.run_at.is_some() {
            Status::Scheduled
        } else {
            Status::Running
        })
    }

    fn ticket_summary(&self) -> String {
        format!("Offboard user: {}", self.user_principal_name.as_str())
    }

    fn started_note(&self, variables: &Variables, now: Timestamp) -> String {
        notes::offboarding_started(
            self.user_principal_name.as_str(),
            &self.actions,
            self.scheduled_at
                .map(|s| s.at)
                .filter(|at| *at > now)
                .map(|at| (at, &variables.time_zone)),
        )
    }

    fn approval_timed_out_note(&self, hours: u32) -> String {
        notes::offboarding_approval_timed_out(self.user_principal_name.as_str(), hours)
    }

    fn approval_decided_note(&self, approved: bool, by: &str) -> String {
        let upn = self.user_principal_name.as_str();
        if approved {
            notes::offboarding_approved(upn, Some(by))
        } else {
            notes::offboarding_denied(upn, Some(by))
        }
    }

    fn scheduled(&self, at: Timestamp, time_zone: &TimeZoneName) -> (String, String) {
        (
            notes::offboarding_started(
                self.user_principal_name.as_str(),
                &self.actions,
                Some((at, time_zone)),
            ),
            format!("waiting for the scheduled time: the account is offboarded at {at}"),
        )
    }

    const APPROVAL_VARIABLES: (&'static str, &'static str) = (
        "offboarding_user_approval_email",
        "require_approval_for_offboarding_users",
    );

    fn approvers(variables: &Variables) -> &[EmailAddress] {
        &variables.offboarding_user_approval_email
    }

    fn approval_requested_note(&self, variables: &Variables, expires_at: Timestamp) -> String {
        notes::offboarding_approval_requested(
            self.user_principal_name.as_str(),
            &variables.offboarding_user_approval_email,
            expires_at,
            &variables.time_zone,
        )
    }

    fn approval_mail(&self, organization: &str, reminder: bool) -> (String, String) {
        let upn = self.user_principal_name.as_str();
        let subject = if reminder {
            format!("Reminder: approval needed to offboard {upn} ({organization})")
        } else {
            format!("Approval needed: offboard {upn} ({organization})")
        };
        (
            subject,
            format!("{organization} asks to offboard the Microsoft 365 user {upn}."),
        )
    }

    fn what_it_does(&self) -> String {
        notes::offboarding_started(self.user_principal_name.as_str(), &self.actions, None)
    }

    /// An offboarding's plan warns of nothing.
    async fn planned_warnings(_deps: &Deps, _id: &str) -> Result<Vec<String>, StepError> {
        Ok(Vec::new())
    }
}
