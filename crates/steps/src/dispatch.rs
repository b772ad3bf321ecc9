//! The step registry: a function name (the state name, e.g. `CreateUser`) and a JSON
//! payload in, the step's JSON output or its [`StepError`] out. The local interpreter
//! and the Lambda wrappers call [`dispatch`]; the names are those of the ASL states
//! of `statemachine/onboarding.asl.json` and `statemachine/offboarding.asl.json`.

use onboard_domain::{OffboardingRequest, OnboardingRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::deps::Deps;
use crate::error::StepError;
use crate::{
    check_schedule, close_request, ensure_ticket, handle_failure, mark_scheduled, offboarding,
    onboarding, request_approval,
};

/// The one table of steps: each ASL function name (`${<Name>FunctionArn}`) with
/// its log name (also its Lambda package `functions/<step with '-'>`) and the
/// function that runs it. The steps both workflows share run one generic function
/// under two names. [`FUNCTIONS`], [`step_name`], [`package`] and the dispatch itself
/// all come from it, so a step is added in one line; the tests over the ASL files
/// and `template.yaml` check the rest.
macro_rules! step_table {
    ($($function:ident => $step:ident: $run:path,)*) => {
        /// Every function name [`dispatch`] knows, as the state machine's `${<Name>FunctionArn}`.
        pub const FUNCTIONS: &[&str] = &[$(stringify!($function)),*];

        /// The log name of a function: `CreateUser` -> `create_user`.
        pub fn step_name(function: &str) -> Option<&'static str> {
            match function {
                $(stringify!($function) => Some(stringify!($step)),)*
                _ => None,
            }
        }

        async fn run_step(
            deps: &Deps,
            function_name: &str,
            step: &'static str,
            payload: Value,
        ) -> Result<Value, StepError> {
            match function_name {
                $(stringify!($function) => output(step, $run(deps, input(step, payload)?).await?),)*
                other => Err(unknown_function(other)),
            }
        }
    };
}

step_table! {
    // The onboarding workflow (`statemachine/onboarding.asl.json`).
    Validate => validate: onboarding::validate::validate,
    EnsureTicket => ensure_ticket: ensure_ticket::ensure_ticket::<OnboardingRequest>,
    RequestApproval => request_approval: request_approval::request_approval::<OnboardingRequest>,
    CloseRequest => close_request: close_request::close_request::<OnboardingRequest>,
    MarkScheduled => mark_scheduled: mark_scheduled::mark_scheduled::<OnboardingRequest>,
    CreateUser => create_user: onboarding::create_user::create_user,
    AssignLicense => assign_license: onboarding::assign_license::assign_license,
    PurchaseLicense => purchase_license: onboarding::purchase_license::purchase_license,
    RequestLicensePurchase => request_license_purchase:
        onboarding::request_license_purchase::request_license_purchase,
    RecordLicenseOutcome => record_license_outcome:
        onboarding::record_license_outcome::record_license_outcome,
    AddGroups => add_groups: onboarding::add_groups::add_groups,
    AddMailboxAccess => add_mailbox_access: onboarding::add_mailbox_access::add_mailbox_access,
    DeliverCredentials => deliver_credentials:
        onboarding::deliver_credentials::deliver_credentials,
    Complete => complete: onboarding::complete::complete,
    HandleFailure => handle_failure: handle_failure::handle_failure::<OnboardingRequest>,
    // The offboarding workflow (`statemachine/offboarding.asl.json`).
    ValidateOffboarding => validate_offboarding:
        offboarding::validate_offboarding::validate_offboarding,
    EnsureOffboardingTicket => ensure_offboarding_ticket:
        ensure_ticket::ensure_ticket::<OffboardingRequest>,
    RequestOffboardingApproval => request_offboarding_approval:
        request_approval::request_approval::<OffboardingRequest>,
    CloseOffboarding => close_offboarding: close_request::close_request::<OffboardingRequest>,
    MarkOffboardingScheduled => mark_offboarding_scheduled:
        mark_scheduled::mark_scheduled::<OffboardingRequest>,
    RecordRestorePoint => record_restore_point:
        offboarding::record_restore_point::record_restore_point,
    OffboardUser => offboard_user: offboarding::offboard_user::offboard_user,
    CompleteOffboarding => complete_offboarding:
        offboarding::complete_offboarding::complete_offboarding,
    HandleOffboardingFailure => handle_offboarding_failure:
        handle_failure::handle_failure::<OffboardingRequest>,
    // Both workflows' wait loop.
    CheckSchedule => check_schedule: check_schedule::check_schedule,
}

/// The Lambda package (`functions/<package>`) of a function: `CreateUser` -> `create-user`.
pub fn package(function: &str) -> Option<String> {
    step_name(function).map(|step| step.replace('_', "-"))
}

fn input<T: DeserializeOwned>(step: &'static str, payload: Value) -> Result<T, StepError> {
    serde_json::from_value(payload).map_err(|e| StepError::InvalidInput {
        step,
        message: e.to_string(),
    })
}

fn output<T: Serialize>(step: &'static str, value: T) -> Result<Value, StepError> {
    serde_json::to_value(value)
        .map_err(|e| StepError::Internal(format!("cannot encode the output of {step}: {e}")))
}

/// The error for a name the step table does not have, listing those it has.
fn unknown_function(name: &str) -> StepError {
    StepError::UnknownFunction {
        name: name.to_owned(),
        known: FUNCTIONS.join(", "),
    }
}

/// Runs the step `function_name` (e.g. `"CreateUser"`) with `payload`.
///
/// An unknown name is [`StepError::UnknownFunction`] (`Step.UnknownFunction`); a
/// payload of the wrong shape [`StepError::InvalidInput`] (`Step.InvalidInput`).
pub async fn dispatch(
    deps: &Deps,
    function_name: &str,
    payload: Value,
) -> Result<Value, StepError> {
    let Some(step) = step_name(function_name) else {
        return Err(unknown_function(function_name));
    };
    let started = std::time::Instant::now();
    let result = run(deps, function_name, step, payload).await;
    onboard_connectors::metrics::step(step, started.elapsed(), result.is_err());
    result
}

async fn run(
    deps: &Deps,
    function_name: &str,
    step: &'static str,
    payload: Value,
) -> Result<Value, StepError> {
    let result = run_step(deps, function_name, step, payload).await;
    if let Err(e) = &result {
        tracing::warn!(step, error = e.name(), cause = %e.cause(), "step failed");
    }
    result
}
