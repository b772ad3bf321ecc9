//! The parsed state machine: typed states, compiled paths and templates, as
//! [`crate::parse`] makes them and the engine runs them.

use crate::choice::ChoiceRule;
use crate::intrinsics::Intrinsic;
use crate::json_path::JsonPath;
use crate::jsonata;
use crate::payload::Template;
use crate::retry::{Catcher, Retrier};
use serde_json::Value;
use std::collections::HashMap;

/// A whole state machine; graph 0 is the top level, others are branches and item processors.
#[derive(Debug, Clone)]
pub struct StateMachine {
    /// Every `StartAt` + `States` set, top level first.
    pub graphs: Vec<Graph>,
    /// Top-level `TimeoutSeconds`.
    pub timeout_seconds: Option<u64>,
}

/// One `StartAt` + `States` pair.
#[derive(Debug, Clone)]
pub struct Graph {
    /// The first state.
    pub start_at: String,
    /// The states by name.
    pub states: HashMap<String, State>,
    /// JSON pointer of this graph's object.
    pub pointer: String,
}

/// One state.
#[derive(Debug, Clone)]
pub struct State {
    /// The state's name.
    pub name: String,
    /// JSON pointer of the state object.
    pub pointer: String,
    /// `InputPath`: `None` when the field is `null` (the input becomes `{}`).
    pub input_path: Option<JsonPath>,
    /// `OutputPath`: `None` when the field is `null` (the output becomes `{}`).
    pub output_path: Option<JsonPath>,
    /// Where to go after the state.
    pub transition: Transition,
    /// What the state does.
    pub kind: Kind,
    /// `Assign`: evaluated when the state leaves successfully.
    pub assign: Option<Template>,
    /// The JSONata expressions of a JSONata state (`None` in a JSONPath state). A JSONata
    /// state's JSONPath fields keep their neutral defaults and are not consulted.
    pub jsonata: Option<Box<JsonataFields>>,
    /// Every variable name this state assigns (its own, its Choice rules', its
    /// catchers'), with the JSON pointer of the assignment: for the scope check.
    pub assigned: Vec<(String, String)>,
}

/// The fields of a JSONata state: each a JSON value whose `{% %}` strings are expressions.
#[derive(Debug, Clone, Default)]
pub struct JsonataFields {
    /// `Arguments` (Task, Parallel).
    pub arguments: Option<jsonata::Template>,
    /// `Output`.
    pub output: Option<jsonata::Template>,
    /// `Assign`.
    pub assign: Option<jsonata::Template>,
    /// `Items` (Map).
    pub items: Option<jsonata::Template>,
    /// `ItemSelector` (Map).
    pub item_selector: Option<jsonata::Template>,
    /// `Seconds` given as an expression (Wait).
    pub seconds: Option<jsonata::Template>,
    /// `Timestamp` given as an expression (Wait).
    pub timestamp: Option<jsonata::Template>,
    /// `TimeoutSeconds` given as an expression (Task).
    pub timeout: Option<jsonata::Template>,
    /// `HeartbeatSeconds` given as an expression (Task).
    pub heartbeat: Option<jsonata::Template>,
    /// `MaxConcurrency` given as an expression (Map).
    pub max_concurrency: Option<jsonata::Template>,
    /// `ToleratedFailureCount` given as an expression (Map).
    pub tolerated_failure_count: Option<jsonata::Template>,
    /// `ToleratedFailurePercentage` given as an expression (Map).
    pub tolerated_failure_percentage: Option<jsonata::Template>,
    /// `Error` (Fail).
    pub error: Option<jsonata::Template>,
    /// `Cause` (Fail).
    pub cause: Option<jsonata::Template>,
    /// Choice rules: `Condition`, `Next`, `Assign`, `Output`.
    pub choices: Vec<JsonataChoice>,
    /// Per catcher (same order as `Catch`): `Output` and `Assign`.
    pub catchers: Vec<(Option<jsonata::Template>, Option<jsonata::Template>)>,
}

/// One Choice rule of a JSONata Choice state.
#[derive(Debug, Clone)]
pub struct JsonataChoice {
    /// `Condition`: must evaluate to a boolean.
    pub condition: jsonata::Template,
    /// `Next`.
    pub next: String,
    /// `Assign`.
    pub assign: Option<jsonata::Template>,
    /// `Output`.
    pub output: Option<jsonata::Template>,
}

/// `Next`, `End`, or neither (Choice, Succeed, Fail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// `"Next": name`.
    Next(String),
    /// `"End": true`, or a Succeed/Fail state.
    End,
    /// A Choice state: its rules decide.
    Choice,
}

/// A value given inline or through a path (`TimeoutSeconds` / `TimeoutSecondsPath`).
#[derive(Debug, Clone)]
pub enum Dynamic<T> {
    /// Given inline.
    Value(T),
    /// Read from the effective input at run time.
    Path(JsonPath),
}

/// A string given inline, through a path, or through an intrinsic (Fail's Error/Cause).
#[derive(Debug, Clone)]
pub enum Text {
    /// Given inline.
    Literal(String),
    /// `ErrorPath`/`CausePath` as a reference path.
    Path(JsonPath),
    /// `ErrorPath`/`CausePath` as an intrinsic function.
    Intrinsic(Intrinsic),
}

/// The fields of a state that produces a result (Task, Parallel, Map).
#[derive(Debug, Clone, Default)]
pub struct ResultFields {
    /// `Parameters` (or `ItemSelector` for Map).
    pub parameters: Option<Template>,
    /// `ResultSelector`.
    pub result_selector: Option<Template>,
    /// `ResultPath`: `None` when `null` (the result is discarded).
    pub result_path: Option<JsonPath>,
    /// `Retry`.
    pub retry: Vec<Retrier>,
    /// `Catch`.
    pub catch: Vec<Catcher>,
}

/// How long a Wait state waits.
#[derive(Debug, Clone)]
pub enum WaitFor {
    /// `Seconds`.
    Seconds(u64),
    /// `Timestamp`.
    Timestamp(jiff::Timestamp),
    /// `SecondsPath`.
    SecondsPath(JsonPath),
    /// `TimestampPath`.
    TimestampPath(JsonPath),
}

/// The per-type part of a state.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `Pass`.
    Pass {
        /// `Result`.
        result: Option<Value>,
        /// `Parameters`.
        parameters: Option<Template>,
        /// `ResultPath`.
        result_path: Option<JsonPath>,
    },
    /// `Task`.
    Task(Box<TaskSpec>),
    /// `Choice`.
    Choice {
        /// `Choices`, each with its `Next` and its `Assign`.
        choices: Vec<(ChoiceRule, String, Option<Template>)>,
        /// `Default`.
        default: Option<String>,
    },
    /// `Wait`.
    Wait(WaitFor),
    /// `Succeed`.
    Succeed,
    /// `Fail`.
    Fail {
        /// `Error` / `ErrorPath`.
        error: Option<Text>,
        /// `Cause` / `CausePath`.
        cause: Option<Text>,
    },
    /// `Parallel`.
    Parallel {
        /// Graph ids of the branches.
        branches: Vec<usize>,
        /// Parameters, ResultSelector, ResultPath, Retry, Catch.
        io: ResultFields,
    },
    /// `Map` (inline).
    Map(Box<MapSpec>),
}

/// A Task state's own fields.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// `Resource` as written.
    pub resource: String,
    /// True when the resource ends in `.waitForTaskToken`.
    pub wait_for_task_token: bool,
    /// `TimeoutSeconds` / `TimeoutSecondsPath`.
    pub timeout: Option<Dynamic<u64>>,
    /// `HeartbeatSeconds` / `HeartbeatSecondsPath`.
    pub heartbeat: Option<Dynamic<u64>>,
    /// The result-producing fields.
    pub io: ResultFields,
}

/// A Map state's own fields.
#[derive(Debug, Clone)]
pub struct MapSpec {
    /// Graph id of `ItemProcessor` / `Iterator`.
    pub processor: usize,
    /// `ItemsPath` (default `$`).
    pub items_path: JsonPath,
    /// `MaxConcurrency` / `MaxConcurrencyPath` (0 = no limit).
    pub max_concurrency: Dynamic<u64>,
    /// `ToleratedFailureCount` / `...Path`.
    pub tolerated_failure_count: Option<Dynamic<u64>>,
    /// `ToleratedFailurePercentage` / `...Path`.
    pub tolerated_failure_percentage: Option<Dynamic<f64>>,
    /// `ItemSelector` (or the older `Parameters`), ResultSelector, ResultPath, Retry, Catch.
    pub io: ResultFields,
}
