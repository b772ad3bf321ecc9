//! The crate's one error enum, and the runtime `Failure` an execution carries.

use serde::{Deserialize, Serialize};

/// Everything the interpreter's public API can refuse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The definition is not valid States Language.
    #[error("{}", definition_message(.pointer, .state, .field, .message))]
    Definition {
        /// JSON pointer into the definition (`/States/A/Next`).
        pointer: String,
        /// The state concerned, when there is one.
        state: Option<String>,
        /// The field concerned, when there is one.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The execution input is not acceptable (not JSON, or too large).
    #[error("invalid execution input: {0}")]
    Input(String),
    /// The mock configuration file is not acceptable.
    #[error("invalid mock configuration at {pointer}: {message}")]
    MockConfig {
        /// JSON pointer into the mock file.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// No state machine of that ARN is registered with the engine.
    #[error("state machine does not exist: {0}")]
    StateMachineDoesNotExist(String),
    /// No execution of that ARN is stored.
    #[error("execution does not exist: {0}")]
    ExecutionDoesNotExist(String),
    /// An execution of that name already exists for the state machine.
    #[error("execution already exists: {0}")]
    ExecutionAlreadyExists(String),
    /// SendTask*: the token is not one this engine issues (AWS `InvalidToken`).
    #[error("InvalidToken: invalid token")]
    InvalidToken,
    /// SendTask*: no task was ever issued that token (AWS `TaskDoesNotExist`).
    #[error("TaskDoesNotExist: task does not exist anymore")]
    TaskDoesNotExist,
    /// SendTask*: the token's task is closed or timed out (AWS `TaskTimedOut`).
    #[error("TaskTimedOut: task timed out")]
    TaskTimedOut,
    /// SendTaskSuccess: the output is not JSON or is too large (AWS `InvalidOutput`).
    #[error("InvalidOutput: {0}")]
    InvalidOutput(String),
    /// The execution store failed.
    #[error("execution store failed: {0}")]
    Store(String),
}

impl Error {
    /// The AWS API error name for this error, as SDKs report it.
    pub fn aws_name(&self) -> &'static str {
        match self {
            Error::Definition { .. } => "InvalidDefinition",
            Error::Input(_) => "InvalidExecutionInput",
            Error::MockConfig { .. } => "InvalidMockConfig",
            Error::StateMachineDoesNotExist(_) => "StateMachineDoesNotExist",
            Error::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
            Error::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            Error::InvalidToken => "InvalidToken",
            Error::TaskDoesNotExist => "TaskDoesNotExist",
            Error::TaskTimedOut => "TaskTimedOut",
            Error::InvalidOutput(_) => "InvalidOutput",
            Error::Store(_) => "ServiceException",
        }
    }

    pub(crate) fn definition(
        pointer: &str,
        state: Option<&str>,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Error::Definition {
            pointer: pointer.to_string(),
            state: state.map(str::to_string),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

fn definition_message(
    pointer: &str,
    state: &Option<String>,
    field: &Option<String>,
    message: &str,
) -> String {
    let mut s = String::from("invalid state machine definition: ");
    s.push_str(message);
    let mut at = Vec::new();
    if let Some(st) = state {
        at.push(format!("state '{st}'"));
    }
    if let Some(f) = field {
        at.push(format!("field '{f}'"));
    }
    at.push(format!("at /{}", pointer.trim_start_matches('/')));
    s.push_str(" (");
    s.push_str(&at.join(", "));
    s.push(')');
    s
}

/// A runtime error inside an execution: an error name and a cause, as Step Functions
/// reports them (`States.TaskFailed`, `States.Timeout`, a Lambda's own error, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The error name matched by `ErrorEquals`.
    pub error: String,
    /// A human-readable cause (may be empty).
    pub cause: String,
}

impl Failure {
    /// A failure with this name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Failure {
            error: error.into(),
            cause: cause.into(),
        }
    }
    /// `States.Runtime`: never retried, never caught by `States.ALL`.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Failure::new(names::RUNTIME, cause)
    }
}

/// The predefined error names ("States.*").
pub mod names {
    /// Matches any error name except `States.Runtime` and `States.DataLimitExceeded`.
    pub const ALL: &str = "States.ALL";
    /// A payload exceeded 256 KiB.
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    /// A Task ran longer than `TimeoutSeconds`.
    pub const TIMEOUT: &str = "States.Timeout";
    /// A Task went longer than `HeartbeatSeconds` without a heartbeat.
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    /// A Task failed; as a matcher, matches everything but `States.Timeout`.
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// A Parallel or Map branch failed.
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    /// No Choice rule matched and there is no Default.
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    /// A `.$` path in a payload template failed.
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    /// `ResultPath` could not be applied to the state input.
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    /// An intrinsic function failed.
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    /// An unprocessable exception; never retried or caught by `States.ALL`.
    pub const RUNTIME: &str = "States.Runtime";
    /// Too many Map items failed.
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    /// Insufficient privileges (used by dispatchers).
    pub const PERMISSIONS: &str = "States.Permissions";
}
