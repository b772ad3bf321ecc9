//! One invocation: the state's payload in, the step's output or a [`Diagnostic`]
//! named after the step's error out.

use lambda_runtime::Diagnostic;
use onboard_steps::{Deps, StepError, dispatch};
use serde_json::Value;
use tracing::Instrument as _;

/// Reports a step's error to Step Functions: the error type is the stable name
/// ([`StepError::name`], e.g. `Graph.Throttled`) that the state machine's
/// `Retry` and `Catch` match; the message is [`StepError::cause`] (no secrets).
///
/// A function, not `From<StepError> for Diagnostic`: both types are foreign here.
pub fn diagnostic(error: &StepError) -> Diagnostic {
    Diagnostic {
        error_type: error.name().to_owned(),
        error_message: error.cause(),
    }
}

/// Runs the step `function` (the ASL state name, e.g. `CreateUser`) on `payload`.
pub async fn handle(deps: &Deps, function: &str, payload: Value) -> Result<Value, Diagnostic> {
    let step = onboard_steps::dispatch::step_name(function).unwrap_or("unknown");
    let span = tracing::info_span!("invoke", step);
    dispatch(deps, function, payload)
        .instrument(span)
        .await
        .map_err(|e| diagnostic(&e))
}
