//! The port through which Task states reach the embedding program's code.

use crate::error::Failure;
use async_trait::async_trait;
use serde_json::Value;

/// One Task invocation.
#[derive(Debug, Clone)]
pub struct TaskRequest {
    /// The state's `Resource` as written (e.g. `arn:aws:states:::lambda:invoke`).
    pub resource: String,
    /// The effective parameters (after InputPath and Parameters).
    pub payload: Value,
    /// The Task state's name.
    pub state_name: String,
    /// The execution's ARN.
    pub execution_arn: String,
    /// The state machine's name.
    pub state_machine_name: String,
    /// How many retries preceded this attempt (`$$.State.RetryCount`).
    pub retry_count: u64,
    /// The task token, for `.waitForTaskToken` resources.
    pub task_token: Option<String>,
}

/// What a dispatch came to.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// The task finished with this result.
    Succeeded(Value),
    /// The task failed with this error.
    Failed(Failure),
    /// The task was started and will report through SendTaskSuccess / SendTaskFailure.
    AwaitingCallback,
}

/// Runs Task resources. Implemented by the embedding program (Lambda steps in process,
/// mocks, an HTTP client, ...).
#[async_trait]
pub trait Dispatcher: Send + Sync {
    /// Runs one task attempt.
    async fn dispatch(&self, request: TaskRequest) -> TaskOutcome;
}
