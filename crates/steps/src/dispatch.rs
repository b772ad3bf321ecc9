//! The step registry: a function name (the state name, e.g. `CreateUser`) and a JSON
//! payload in, the step's JSON output or its [`StepError`] out. The local interpreter
//! and the Lambda wrappers call [`dispatch`]; the names are those of the ASL states
//! of `statemachine/onboarding.asl.json` and `statemachine/offboarding.asl.json`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::deps::Deps;
use crate::error::StepError;

/// Every function name [`dispatch`] knows, as the state machine's `${<Name>FunctionArn}`.
pub const FUNCTIONS: &[&str] = &[
    "Validate",
    "EnsureTicket",
    "RequestApproval",
    "CloseRequest",
    "MarkScheduled",
    "CreateUser",
    "AssignLicense",
    "PurchaseLicense",
    "RequestLicensePurchase",
    "RecordLicenseOutcome",
    "AddGroups",
    "AddMailboxAccess",
    "DeliverCredentials",
    "Complete",
    "HandleFailure",
    "ValidateOffboarding",
    "EnsureOffboardingTicket",
    "RequestOffboardingApproval",
    "CloseOffboarding",
    "MarkOffboardingScheduled",
    "RecordRestorePoint",
    "OffboardUser",
    "CompleteOffboarding",
    "HandleOffboardingFailure",
    "CheckSchedule",
];

/// The log name of a function: `CreateUser` -> `create_user`.
pub fn step_name(function: &str) -> Option<&'static str> {
    Some(match function {
        "Validate" => "validate",
        "EnsureTicket" => "ensure_ticket",
        "RequestApproval" => "request_approval",
        "CloseRequest" => "close_request",
        "MarkScheduled" => "mark_scheduled",
        "CreateUser" => "create_user",
        "AssignLicense" => "assign_license",
        "PurchaseLicense" => "purchase_license",
        "RequestLicensePurchase" => "request_license_purchase",
        "RecordLicenseOutcome" => "record_license_outcome",
        "AddGroups" => "add_groups",
        "AddMailboxAccess" => "add_mailbox_access",
        "DeliverCredentials" => "deliver_credentials",
        "Complete" => "complete",
        "HandleFailure" => "handle_failure",
        "ValidateOffboarding" => "validate_offboarding",
        "EnsureOffboardingTicket" => "ensure_offboarding_ticket",
        "RequestOffboardingApproval" => "request_offboarding_approval",
        "CloseOffboarding" => "close_offboarding",
        "MarkOffboardingScheduled" => "mark_offboarding_scheduled",
        "RecordRestorePoint" => "record_restore_point",
        "OffboardUser" => "offboard_user",
        "CompleteOffboarding" => "complete_offboarding",
        "HandleOffboardingFailure" => "handle_offboarding_failure",
        "CheckSchedule" => "check_schedule",
        _ => return None,
    })
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
        return Err(StepError::UnknownFunction(function_name.to_owned()));
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
    let result = match function_name {
        "Validate" => output(step, crate::validate(deps, input(step, payload)?).await?),
        "EnsureTicket" => output(
            step,
            crate::ensure_ticket(deps, input(step, payload)?).await?,
        ),
        "RequestApproval" => output(
            step,
            crate::request_approval(deps, input(step, payload)?).await?,
        ),
        "CloseRequest" => output(
            step,
            crate::close_request(deps, input(step, payload)?).await?,
        ),
        "MarkScheduled" => output(
            step,
            crate::mark_scheduled(deps, input(step, payload)?).await?,
        ),
        "CreateUser" => output(step, crate::create_user(deps, input(step, payload)?).await?),
        "AssignLicense" => output(
            step,
            crate::assign_license(deps, input(step, payload)?).await?,
        ),
        "PurchaseLicense" => output(
            step,
            crate::purchase_license(deps, input(step, payload)?).await?,
        ),
        "RequestLicensePurchase" => output(
            step,
            crate::request_license_purchase(deps, input(step, payload)?).await?,
        ),
        "RecordLicenseOutcome" => output(
            step,
            crate::record_license_outcome(deps, input(step, payload)?).await?,
        ),
        "AddGroups" => output(step, crate::add_groups(deps, input(step, payload)?).await?),
        "AddMailboxAccess" => output(
            step,
            crate::add_mailbox_access(deps, input(step, payload)?).await?,
        ),
        "DeliverCredentials" => output(
            step,
            crate::deliver_credentials(deps, input(step, payload)?).await?,
        ),
        "Complete" => output(step, crate::complete(deps, input(step, payload)?).await?),
        "HandleFailure" => output(
            step,
            crate::handle_failure(deps, input(step, payload)?).await?,
        ),
        "ValidateOffboarding" => output(
            step,
            crate::validate_offboarding(deps, input(step, payload)?).await?,
        ),
        "EnsureOffboardingTicket" => output(
            step,
            crate::ensure_offboarding_ticket(deps, input(step, payload)?).await?,
        ),
        "RequestOffboardingApproval" => output(
            step,
            crate::request_offboarding_approval(deps, input(step, payload)?).await?,
        ),
        "CloseOffboarding" => output(
            step,
            crate::close_offboarding(deps, input(step, payload)?).await?,
        ),
        "MarkOffboardingScheduled" => output(
            step,
            crate::mark_offboarding_scheduled(deps, input(step, payload)?).await?,
        ),
        "RecordRestorePoint" => output(
            step,
            crate::record_restore_point(deps, input(step, payload)?).await?,
        ),
        "OffboardUser" => output(
            step,
            crate::offboard_user(deps, input(step, payload)?).await?,
        ),
        "CompleteOffboarding" => output(
            step,
            crate::complete_offboarding(deps, input(step, payload)?).await?,
        ),
        "HandleOffboardingFailure" => output(
            step,
            crate::handle_offboarding_failure(deps, input(step, payload)?).await?,
        ),
        "CheckSchedule" => output(
            step,
            crate::check_schedule(deps, input(step, payload)?).await?,
        ),
        other => Err(StepError::UnknownFunction(other.to_owned())),
    };
    if let Err(e) = &result {
        tracing::warn!(step, error = e.name(), cause = %e.cause(), "step failed");
    }
    result
}
