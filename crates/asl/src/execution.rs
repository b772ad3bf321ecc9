//! The durable record of one execution: everything needed to resume it after a restart.
//!
//! Timers are data: a run parked on a Wait, a retry back-off or a task token is a
//! `Step` with a time in it, and the record's `wake_at` is the earliest of them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};

/// Execution status, as `DescribeExecution` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Still going (possibly parked).
    Running,
    /// Ended in a terminal success.
    Succeeded,
    /// Ended in an error.
    Failed,
    /// Ran past the state machine's `TimeoutSeconds`.
    TimedOut,
    /// Stopped from outside.
    Aborted,
}

impl ExecutionStatus {
    /// The AWS spelling (`SUCCEEDED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

/// One history event, with AWS's event type names (`TaskScheduled`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// 1-based event id.
    pub id: u64,
    /// The id of the event before it in this thread of control (0 for none).
    #[serde(rename = "previousEventId")]
    pub previous_event_id: u64,
    /// When it happened (RFC 3339).
    pub timestamp: String,
    /// The AWS event type name.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's details object (`stateEnteredEventDetails`, ...), keyed as AWS keys it.
    #[serde(flatten)]
    pub details: serde_json::Map<String, Value>,
}

/// What a run is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// Ready to enter its current state (`retry` when re-entering after a back-off).
    Enter {
        /// Re-entry after a retry: no new StateEntered event.
        retry: bool,
    },
    /// Parked until `until`, then `then`.
    Sleeping {
        /// When to wake.
        until: jiff::Timestamp,
        /// What to do on waking.
        then: Wake,
    },
    /// A task attempt is ready to dispatch (or was in flight when the process died:
    /// at-least-once, like Lambda).
    Dispatch(TaskAttempt),
    /// The task attempt has been handed to the dispatcher.
    InFlight(TaskAttempt),
    /// The task reported `AwaitingCallback`: parked until SendTask* or a timeout.
    AwaitToken(TaskAttempt),
    /// Waiting for Parallel branches or Map iterations.
    Children(Children),
}

/// What a sleeping run does on waking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Wake {
    /// A Wait state is over: leave it with this output.
    WaitOver(Value),
    /// A retry back-off is over: enter the state again.
    Retry,
}

/// One attempt of a Task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAttempt {
    /// The effective parameters.
    pub payload: Value,
    /// Distinguishes attempts, so a late answer to an old attempt is ignored.
    pub nonce: u64,
    /// The task token, if the resource waits for one.
    pub token: Option<String>,
    /// `TimeoutSeconds` deadline.
    pub timeout_at: Option<jiff::Timestamp>,
    /// `HeartbeatSeconds` deadline (moved by each heartbeat).
    pub heartbeat_at: Option<jiff::Timestamp>,
    /// The heartbeat interval, to move `heartbeat_at`.
    pub heartbeat_seconds: Option<u64>,
}

/// Children of a Parallel or Map run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Children {
    /// Child run ids still going.
    pub pending: std::collections::BTreeSet<u32>,
    /// Results by branch / item index (`None` until known).
    pub results: Vec<Option<Value>>,
    /// Map items not started yet (MaxConcurrency), as (index, input, item value).
    pub queued: VecDeque<(usize, Value, Value)>,
    /// Maximum children at once (0 = unlimited).
    pub max_concurrency: u64,
    /// Failed iterations so far.
    pub failures: u64,
    /// Failures that may be tolerated (Map), `None` when any failure fails the state.
    pub tolerated: Option<u64>,
}

/// One thread of control: the top level, a Parallel branch or a Map iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Graph id within the state machine.
    pub graph: usize,
    /// The Parallel/Map run that owns this one.
    pub parent: Option<u32>,
    /// Branch or item index within the parent.
    pub index: usize,
    /// The current state's name.
    pub state: String,
    /// The current state's raw input.
    pub input: Value,
    /// When the current state was entered (RFC 3339, for `$$.State.EnteredTime`).
    pub entered: String,
    /// The id of the current state's StateEntered event.
    pub entered_event: u64,
    /// What the run is doing.
    pub step: Step,
    /// Retries made per retrier of the current state.
    pub retries: Vec<u64>,
    /// Total retries of the current state (`$$.State.RetryCount`).
    pub retry_count: u64,
    /// `$$.Map.Item.Value` for a Map iteration.
    pub map_item: Option<Value>,
    /// The workflow variables this run sees: the execution's for the top-level run,
    /// a copy of the parent's for a Parallel branch or a Map iteration.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub vars: serde_json::Map<String, Value>,
}

/// The durable record of one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// `arn:aws:states:...:execution:machine:name`.
    pub execution_arn: String,
    /// The execution's name.
    pub name: String,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// Status.
    pub status: ExecutionStatus,
    /// The execution input.
    pub input: Value,
    /// The output once succeeded.
    pub output: Option<Value>,
    /// The error once failed.
    pub error: Option<String>,
    /// The cause once failed.
    pub cause: Option<String>,
    /// Start time (RFC 3339).
    pub start_date: String,
    /// Stop time.
    pub stop_date: Option<String>,
    /// The earliest timer among the runs (and the execution timeout): the store indexes it.
    pub wake_at: Option<jiff::Timestamp>,
    /// Outstanding task tokens.
    pub tokens: Vec<String>,
    /// Execution-level `TimeoutSeconds` deadline.
    pub deadline: Option<jiff::Timestamp>,
    /// Live runs by id; run 0 is the top level.
    pub runs: BTreeMap<u32, Run>,
    /// Next run id.
    pub next_run: u32,
    /// Runs ready to move, in order.
    pub ready: VecDeque<u32>,
    /// Next attempt nonce.
    pub next_nonce: u64,
    /// The history, when kept.
    pub history: Vec<HistoryEvent>,
    /// Events so far (ids continue even when history is not kept).
    pub event_count: u64,
}
