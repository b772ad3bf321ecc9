//! The parsed state machine: typed states, compiled paths and templates.
//!
//! Parsing works on `serde_json::Value` rather than derived `Deserialize` so that every
//! error names the state, the field and the JSON pointer, as AWS's validator does.

use crate::choice::{ChoiceRule, Comparison, Operand, Operator};
use crate::error::Error;
use crate::intrinsics::Intrinsic;
use crate::json_path::JsonPath;
use crate::jsonata;
use crate::payload::{Template, escape_pointer};
use crate::retry::{Catcher, Jitter, Retrier};
use serde_json::{Map, Value};
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

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];

fn allowed(ty: &str) -> Option<Vec<&'static str>> {
    let extra: &[&str] = match ty {
        "Pass" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Result",
            "ResultPath",
            "Parameters",
            "Assign",
        ],
        "Task" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Resource",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Assign",
        ],
        "Choice" => &["InputPath", "OutputPath", "Choices", "Default", "Assign"],
        "Wait" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Assign",
        ],
        "Succeed" => &["InputPath", "OutputPath"],
        "Fail" => &["Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Branches",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Assign",
        ],
        "Map" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "ItemSelector",
            "Parameters",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
            "Assign",
        ],
        _ => return None,
    };
    Some(COMMON.iter().chain(extra.iter()).copied().collect())
}

/// Parses and validates a definition given as JSON text.
pub fn parse(text: &str) -> Result<StateMachine, Error> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        Error::definition(
            "",
            None,
            None,
            format!("INVALID_JSON_DESCRIPTION: the definition is not JSON: {e}"),
        )
    })?;
    parse_value(&v)
}

/// Parses and validates a definition given as a JSON value.
pub fn parse_value(v: &Value) -> Result<StateMachine, Error> {
    let obj = v.as_object().ok_or_else(|| {
        Error::definition(
            "",
            None,
            None,
            "SCHEMA_VALIDATION_FAILED: the definition must be a JSON object",
        )
    })?;
    for k in obj.keys() {
        if ![
            "StartAt",
            "States",
            "Comment",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ]
        .contains(&k.as_str())
        {
            return Err(Error::definition(
                &format!("/{}", escape_pointer(k)),
                None,
                Some(k),
                format!(
                    "SCHEMA_VALIDATION_FAILED: the field '{k}' is not supported at the top level"
                ),
            ));
        }
    }
    check_query_language(obj, "", None)?;
    let timeout_seconds = match obj.get("TimeoutSeconds") {
        None => None,
        Some(t) => Some(positive_int(t).ok_or_else(|| {
            Error::definition(
                "/TimeoutSeconds",
                None,
                Some("TimeoutSeconds"),
                "SCHEMA_VALIDATION_FAILED: TimeoutSeconds must be a positive integer",
            )
        })?),
    };
    let mut p = Parser {
        graphs: Vec::new(),
        jsonata_default: obj.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata"),
    };
    p.graph(obj, "")?;
    let sm = StateMachine {
        graphs: p.graphs,
        timeout_seconds,
    };
    crate::validate::check(&sm)?;
    crate::variables::check_scopes(&sm)?;
    Ok(sm)
}

fn check_query_language(
    obj: &Map<String, Value>,
    ptr: &str,
    state: Option<&str>,
) -> Result<(), Error> {
    match obj.get("QueryLanguage") {
        None => Ok(()),
        Some(Value::String(s)) if s == "JSONPath" => Ok(()),
        Some(Value::String(s)) if s == "JSONata" => Ok(()),
        Some(_) => Err(Error::definition(
            &format!("{ptr}/QueryLanguage"),
            state,
            Some("QueryLanguage"),
            "SCHEMA_VALIDATION_FAILED: QueryLanguage must be \"JSONPath\" or \"JSONata\"",
        )),
    }
}

fn positive_int(v: &Value) -> Option<u64> {
    v.as_u64().filter(|n| *n > 0)
}

struct Parser {
    graphs: Vec<Graph>,
    /// The top-level `QueryLanguage` is JSONata.
    jsonata_default: bool,
}

struct Field<'a> {
    obj: &'a Map<String, Value>,
    ptr: &'a str,
    state: &'a str,
}

impl Field<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> Error {
        Error::definition(
            &format!("{}/{}", self.ptr, escape_pointer(field)),
            Some(self.state),
            Some(field),
            format!("SCHEMA_VALIDATION_FAILED: {}", message.into()),
        )
    }
    fn str(&self, field: &str) -> Result<Option<&str>, Error> {
        match self.obj.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.err(field, format!("{field} must be a string"))),
        }
    }
    fn req_str(&self, field: &str) -> Result<&str, Error> {
        self.str(field)?
            .ok_or_else(|| self.err(field, format!("the field '{field}' is required")))
    }
    /// A path field: absent -> `$`, null -> None.
    fn path(&self, field: &str) -> Result<Option<JsonPath>, Error> {
        match self.obj.get(field) {
            None => Ok(Some(
                JsonPath::parse("$").map_err(|e| self.err(field, e.0))?,
            )),
            Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(self.parse_path(field, s)?)),
            Some(_) => Err(self.err(field, format!("{field} must be a string or null"))),
        }
    }
    fn parse_path(&self, field: &str, s: &str) -> Result<JsonPath, Error> {
        JsonPath::parse(s).map_err(|e| self.err(field, e.0))
    }
    fn reference_path(&self, field: &str) -> Result<Option<JsonPath>, Error> {
        let p = self.path(field)?;
        if let Some(p) = &p
            && !p.is_reference()
        {
            return Err(self.err(
                field,
                format!(
                    "{field} must be a reference path (no wildcards, filters or slices), got '{p}'"
                ),
            ));
        }
        if let Some(p) = &p
            && !matches!(p.root(), crate::json_path::Root::Input)
        {
            return Err(self.err(
                field,
                format!("{field} must start with '$.' or be '$', got '{p}'"),
            ));
        }
        Ok(p)
    }
    fn template(&self, field: &str) -> Result<Option<Template>, Error> {
        match self.obj.get(field) {
            None => Ok(None),
            Some(v) => Template::compile(v).map(Some).map_err(|(p, m)| {
                Error::definition(
                    &format!("{}/{}{}", self.ptr, field, p),
                    Some(self.state),
                    Some(field),
                    format!("SCHEMA_VALIDATION_FAILED: {m}"),
                )
            }),
        }
    }
    fn uint(&self, field: &str, min: u64, max: u64) -> Result<Option<u64>, Error> {
        match self.obj.get(field) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n >= min && n <= max => Ok(Some(n)),
                _ => Err(self.err(
                    field,
                    format!("{field} must be an integer from {min} to {max}"),
                )),
            },
        }
    }
    fn dynamic_uint(&self, field: &str, min: u64, max: u64) -> Result<Option<Dynamic<u64>>, Error> {
        let path_field = format!("{field}Path");
        let v = self.uint(field, min, max)?;
        let p = self.str(&path_field)?;
        match (v, p) {
            (Some(_), Some(_)) => Err(self.err(
                field,
                format!("{field} and {path_field} are mutually exclusive"),
            )),
            (Some(n), None) => Ok(Some(Dynamic::Value(n))),
            (None, Some(s)) => Ok(Some(Dynamic::Path(self.parse_path(&path_field, s)?))),
            (None, None) => Ok(None),
        }
    }
}

impl Parser {
    fn graph(&mut self, obj: &Map<String, Value>, ptr: &str) -> Result<usize, Error> {
        let start_at = match obj.get("StartAt") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(Error::definition(
                    &format!("{ptr}/StartAt"),
                    None,
                    Some("StartAt"),
                    "SCHEMA_VALIDATION_FAILED: StartAt must be a string",
                ));
            }
            None => {
                return Err(Error::definition(
                    &format!("{ptr}/StartAt"),
                    None,
                    Some("StartAt"),
                    "SCHEMA_VALIDATION_FAILED: the field 'StartAt' is required",
                ));
            }
        };
        let states_v = match obj.get("States") {
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(Error::definition(
                    &format!("{ptr}/States"),
                    None,
                    Some("States"),
                    "SCHEMA_VALIDATION_FAILED: States must be an object",
                ));
            }
            None => {
                return Err(Error::definition(
                    &format!("{ptr}/States"),
                    None,
                    Some("States"),
                    "SCHEMA_VALIDATION_FAILED: the field 'States' is required",
                ));
            }
        };
        // A branch or item processor may set the default query language of its states.
        let outer_default = self.jsonata_default;
        match obj.get("QueryLanguage").and_then(Value::as_str) {
            Some("JSONata") => self.jsonata_default = true,
            Some("JSONPath") => self.jsonata_default = false,
            _ => {}
        }
        let id = self.graphs.len();
        self.graphs.push(Graph {
            start_at,
            states: HashMap::new(),
            pointer: ptr.to_string(),
        });
        let mut states = HashMap::new();
        for (name, sv) in states_v {
            let sptr = format!("{ptr}/States/{}", escape_pointer(name));
            if name.is_empty() || name.chars().count() > 80 {
                return Err(Error::definition(
                    &sptr,
                    Some(name),
                    None,
                    "SCHEMA_VALIDATION_FAILED: a state name must be 1 to 80 characters",
                ));
            }
            let st = self.state(name, sv, &sptr);
            let st = match st {
                Ok(st) => st,
                Err(e) => {
                    self.jsonata_default = outer_default;
                    return Err(e);
                }
            };
            states.insert(name.clone(), st);
        }
        self.jsonata_default = outer_default;
        self.graphs[id].states = states;
        Ok(id)
    }

    fn state(&mut self, name: &str, v: &Value, ptr: &str) -> Result<State, Error> {
        let original = v.as_object().ok_or_else(|| {
            Error::definition(
                ptr,
                Some(name),
                None,
                "SCHEMA_VALIDATION_FAILED: a state must be an object",
            )
        })?;
        let is_jsonata = match original.get("QueryLanguage").and_then(Value::as_str) {
            Some("JSONata") => true,
            Some("JSONPath") => false,
            _ => self.jsonata_default,
        };
        let (sanitized, jsonata) = if is_jsonata {
            let (o, j) = jsonata_state(original, ptr, name)?;
            (Some(o), Some(Box::new(j)))
        } else {
            (None, None)
        };
        let obj = sanitized.as_ref().unwrap_or(original);
        let f = Field {
            obj,
            ptr,
            state: name,
        };
        let ty = f.req_str("Type")?;
        let allowed = allowed(ty)
            .ok_or_else(|| f.err("Type", format!("'{ty}' is not a valid state type")))?;
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                let msg = if JSONATA_ONLY.contains(&k.as_str()) {
                    format!(
                        "SCHEMA_VALIDATION_FAILED: the field '{k}' is only supported in JSONata states (QueryLanguage \"JSONata\")"
                    )
                } else {
                    format!(
                        "SCHEMA_VALIDATION_FAILED: the field '{k}' is not supported by state type '{ty}'"
                    )
                };
                return Err(Error::definition(
                    &format!("{ptr}/{}", escape_pointer(k)),
                    Some(name),
                    Some(k),
                    msg,
                ));
            }
        }
        check_query_language(obj, ptr, Some(name))?;
        let terminal_type = matches!(ty, "Choice" | "Succeed" | "Fail");
        let transition = if terminal_type {
            if ty == "Choice" {
                Transition::Choice
            } else {
                Transition::End
            }
        } else {
            let next = f.str("Next")?;
            let end = match obj.get("End") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(f.err("End", "End must be a boolean")),
            };
            match (next, end) {
                (Some(_), true) => {
                    return Err(f.err("Next", "a state may not have both 'Next' and 'End'"));
                }
                (Some(n), false) => Transition::Next(n.to_string()),
                (None, true) => Transition::End,
                (None, false) => {
                    return Err(f.err("Next", "the state must have 'Next' or '\"End\": true'"));
                }
            }
        };
        let (input_path, output_path) = if ty == "Fail" {
            (None, None)
        } else {
            (f.path("InputPath")?, f.path("OutputPath")?)
        };
        let kind = match ty {
            "Pass" => Kind::Pass {
                result: obj.get("Result").cloned(),
                parameters: f.template("Parameters")?,
                result_path: f.reference_path("ResultPath")?,
            },
            "Task" => Kind::Task(Box::new(self.task(&f)?)),
            "Choice" if is_jsonata => Kind::Choice {
                choices: Vec::new(),
                default: f.str("Default")?.map(str::to_string),
            },
            "Choice" => self.choice(&f)?,
            "Wait" => Kind::Wait(wait(&f)?),
            "Succeed" => Kind::Succeed,
            "Fail" => Kind::Fail {
                error: text(&f, "Error")?,
                cause: text(&f, "Cause")?,
            },
            "Parallel" => {
                let Some(Value::Array(bs)) = obj.get("Branches") else {
                    return Err(f.err(
                        "Branches",
                        "the field 'Branches' is required and must be an array",
                    ));
                };
                if bs.is_empty() {
                    return Err(f.err("Branches", "Branches must hold at least one branch"));
                }
                let mut branches = Vec::new();
                for (i, b) in bs.iter().enumerate() {
                    let bo = b.as_object().ok_or_else(|| {
                        f.err("Branches", format!("branch {i} must be an object"))
                    })?;
                    check_query_language(bo, &format!("{ptr}/Branches/{i}"), Some(name))?;
                    branches.push(self.graph(bo, &format!("{ptr}/Branches/{i}"))?);
                }
                Kind::Parallel {
                    branches,
                    io: result_fields(&f, "Parameters")?,
                }
            }
            "Map" => Kind::Map(Box::new(self.map(&f)?)),
            _ => return Err(f.err("Type", format!("'{ty}' is not a valid state type"))),
        };
        let assign = match obj.get("Assign") {
            None => None,
            Some(v) => Some(assign_template(v, &format!("{ptr}/Assign"), name)?),
        };
        let obj = original;
        let mut assigned: Vec<(String, String)> = obj
            .get("Assign")
            .map(crate::variables::assigned_names)
            .unwrap_or_default()
            .into_iter()
            .map(|n| (n, format!("{ptr}/Assign")))
            .collect();
        for (key, list) in [("Choices", "Choices"), ("Catch", "Catch")] {
            if let Some(Value::Array(a)) = obj.get(key) {
                for (i, item) in a.iter().enumerate() {
                    if let Some(v) = item.get("Assign") {
                        let p = format!("{ptr}/{list}/{i}/Assign");
                        assigned.extend(
                            crate::variables::assigned_names(v)
                                .into_iter()
                                .map(|n| (n, p.clone())),
                        );
                    }
                }
            }
        }
        Ok(State {
            name: name.to_string(),
            pointer: ptr.to_string(),
            input_path,
            output_path,
            transition,
            kind,
            assign,
            assigned,
            jsonata,
        })
    }

    fn task(&mut self, f: &Field<'_>) -> Result<TaskSpec, Error> {
        let resource = f.req_str("Resource")?.to_string();
        if !resource.starts_with("arn:") {
            return Err(f.err(
                "Resource",
                format!("INVALID_RESOURCE: '{resource}' is not an ARN"),
            ));
        }
        let wait_for_task_token = resource.ends_with(".waitForTaskToken");
        let timeout = f.dynamic_uint("TimeoutSeconds", 1, 99_999_999)?;
        let heartbeat = f.dynamic_uint("HeartbeatSeconds", 1, 99_999_999)?;
        if let (Some(Dynamic::Value(t)), Some(Dynamic::Value(h))) = (&timeout, &heartbeat)
            && h >= t
        {
            return Err(f.err(
                "HeartbeatSeconds",
                "HeartbeatSeconds must be smaller than TimeoutSeconds",
            ));
        }
        Ok(TaskSpec {
            resource,
            wait_for_task_token,
            timeout,
            heartbeat,
            io: result_fields(f, "Parameters")?,
        })
    }

    fn map(&mut self, f: &Field<'_>) -> Result<MapSpec, Error> {
        for k in ["ItemReader", "ItemBatcher", "ResultWriter", "Label"] {
            if f.obj.contains_key(k) {
                return Err(Error::definition(
                    &format!("{}/{k}", f.ptr),
                    Some(f.state),
                    Some(k),
                    format!(
                        "UNSUPPORTED_FEATURE: '{k}' belongs to the distributed Map state, which this interpreter does not run; use an inline Map"
                    ),
                ));
            }
        }
        let (proc_field, proc) = match (f.obj.get("ItemProcessor"), f.obj.get("Iterator")) {
            (Some(_), Some(_)) => {
                return Err(f.err(
                    "Iterator",
                    "ItemProcessor and Iterator are mutually exclusive",
                ));
            }
            (Some(p), None) => ("ItemProcessor", p),
            (None, Some(p)) => ("Iterator", p),
            (None, None) => {
                return Err(f.err(
                    "ItemProcessor",
                    "the field 'ItemProcessor' (or the older 'Iterator') is required",
                ));
            }
        };
        let po = proc
            .as_object()
            .ok_or_else(|| f.err(proc_field, format!("{proc_field} must be an object")))?;
        let pptr = format!("{}/{proc_field}", f.ptr);
        if let Some(cfg) = po.get("ProcessorConfig") {
            let mode = cfg.get("Mode").and_then(Value::as_str).unwrap_or("INLINE");
            if mode == "DISTRIBUTED" {
                return Err(Error::definition(
                    &format!("{pptr}/ProcessorConfig/Mode"),
                    Some(f.state),
                    Some("ProcessorConfig"),
                    "UNSUPPORTED_FEATURE: the distributed Map state (Mode DISTRIBUTED) is not supported by this interpreter; use Mode INLINE",
                ));
            } else if mode != "INLINE" {
                return Err(Error::definition(
                    &format!("{pptr}/ProcessorConfig/Mode"),
                    Some(f.state),
                    Some("ProcessorConfig"),
                    format!("SCHEMA_VALIDATION_FAILED: '{mode}' is not a valid processor mode"),
                ));
            }
        }
        for k in po.keys() {
            if ![
                "StartAt",
                "States",
                "ProcessorConfig",
                "Comment",
                "QueryLanguage",
            ]
            .contains(&k.as_str())
            {
                return Err(Error::definition(
                    &format!("{pptr}/{}", escape_pointer(k)),
                    Some(f.state),
                    Some(proc_field),
                    format!(
                        "SCHEMA_VALIDATION_FAILED: the field '{k}' is not supported in {proc_field}"
                    ),
                ));
            }
        }
        check_query_language(po, &pptr, Some(f.state))?;
        let processor = self.graph(po, &pptr)?;
        let selector_field = match (
            f.obj.contains_key("ItemSelector"),
            f.obj.contains_key("Parameters"),
        ) {
            (true, true) => {
                return Err(f.err(
                    "Parameters",
                    "ItemSelector and Parameters are mutually exclusive",
                ));
            }
            (false, true) => "Parameters",
            _ => "ItemSelector",
        };
        let items_path = match f.path("ItemsPath")? {
            Some(p) => p,
            None => return Err(f.err("ItemsPath", "ItemsPath may not be null")),
        };
        let max_concurrency = f
            .dynamic_uint("MaxConcurrency", 0, u64::from(u32::MAX))?
            .unwrap_or(Dynamic::Value(0));
        let tolerated_failure_count =
            f.dynamic_uint("ToleratedFailureCount", 0, u64::from(u32::MAX))?;
        let tolerated_failure_percentage = match (f.obj.get("ToleratedFailurePercentage"), f.str("ToleratedFailurePercentagePath")?) {
            (Some(_), Some(_)) => return Err(f.err("ToleratedFailurePercentage", "ToleratedFailurePercentage and ToleratedFailurePercentagePath are mutually exclusive")),
            (Some(v), None) => match v.as_f64() {
                Some(p) if (0.0..=100.0).contains(&p) => Some(Dynamic::Value(p)),
                _ => return Err(f.err("ToleratedFailurePercentage", "ToleratedFailurePercentage must be a number from 0 to 100")),
            },
            (None, Some(s)) => Some(Dynamic::Path(f.parse_path("ToleratedFailurePercentagePath", s)?)),
            (None, None) => None,
        };
        Ok(MapSpec {
            processor,
            items_path,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            io: result_fields(f, selector_field)?,
        })
    }

    fn choice(&mut self, f: &Field<'_>) -> Result<Kind, Error> {
        let Some(Value::Array(cs)) = f.obj.get("Choices") else {
            return Err(f.err(
                "Choices",
                "the field 'Choices' is required and must be an array",
            ));
        };
        if cs.is_empty() {
            return Err(f.err("Choices", "Choices must hold at least one rule"));
        }
        let mut choices = Vec::new();
        for (i, c) in cs.iter().enumerate() {
            let ptr = format!("{}/Choices/{i}", f.ptr);
            let rule = choice_rule(c, &ptr, f.state, true)?;
            let next = c.get("Next").and_then(Value::as_str).ok_or_else(|| {
                Error::definition(
                    &format!("{ptr}/Next"),
                    Some(f.state),
                    Some("Next"),
                    "SCHEMA_VALIDATION_FAILED: a top-level Choice rule must have 'Next'",
                )
            })?;
            let assign = match c.get("Assign") {
                None => None,
                Some(v) => Some(assign_template(v, &format!("{ptr}/Assign"), f.state)?),
            };
            choices.push((rule, next.to_string(), assign));
        }
        Ok(Kind::Choice {
            choices,
            default: f.str("Default")?.map(str::to_string),
        })
    }
}

fn result_fields(f: &Field<'_>, params_field: &str) -> Result<ResultFields, Error> {
    Ok(ResultFields {
        parameters: f.template(params_field)?,
        result_selector: f.template("ResultSelector")?,
        result_path: f.reference_path("ResultPath")?,
        retry: retriers(f)?,
        catch: catchers(f)?,
    })
}

fn error_equals(v: &Value, ptr: &str, state: &str) -> Result<Vec<String>, Error> {
    let e = |m: &str| {
        Error::definition(
            &format!("{ptr}/ErrorEquals"),
            Some(state),
            Some("ErrorEquals"),
            format!("SCHEMA_VALIDATION_FAILED: {m}"),
        )
    };
    let Some(Value::Array(a)) = v.get("ErrorEquals") else {
        return Err(e(
            "ErrorEquals is required and must be a non-empty array of strings",
        ));
    };
    if a.is_empty() {
        return Err(e("ErrorEquals must not be empty"));
    }
    let names: Vec<String> = a
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| e("ErrorEquals must hold strings"))?;
    if names.iter().any(|n| n == crate::error::names::ALL) && names.len() > 1 {
        return Err(e("\"States.ALL\" must appear alone in ErrorEquals"));
    }
    Ok(names)
}

fn retriers(f: &Field<'_>) -> Result<Vec<Retrier>, Error> {
    let Some(v) = f.obj.get("Retry") else {
        return Ok(Vec::new());
    };
    let a = v
        .as_array()
        .ok_or_else(|| f.err("Retry", "Retry must be an array"))?;
    let mut out = Vec::new();
    for (i, r) in a.iter().enumerate() {
        let ptr = format!("{}/Retry/{i}", f.ptr);
        let ro = r
            .as_object()
            .ok_or_else(|| f.err("Retry", "a retrier must be an object"))?;
        let rf = Field {
            obj: ro,
            ptr: &ptr,
            state: f.state,
        };
        for k in ro.keys() {
            if ![
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ]
            .contains(&k.as_str())
            {
                return Err(rf.err(k, format!("the field '{k}' is not supported in a retrier")));
            }
        }
        let error_equals = error_equals(r, &ptr, f.state)?;
        if error_equals.iter().any(|n| n == crate::error::names::ALL) && i + 1 != a.len() {
            return Err(rf.err(
                "ErrorEquals",
                "a retrier with \"States.ALL\" must be the last one",
            ));
        }
        let backoff_rate = match ro.get("BackoffRate") {
            None => 2.0,
            Some(b) => b.as_f64().filter(|x| *x >= 1.0).ok_or_else(|| {
                rf.err(
                    "BackoffRate",
                    "BackoffRate must be a number of at least 1.0",
                )
            })?,
        };
        let jitter = match rf.str("JitterStrategy")? {
            None | Some("NONE") => Jitter::None,
            Some("FULL") => Jitter::Full,
            Some(other) => {
                return Err(rf.err(
                    "JitterStrategy",
                    format!("'{other}' is not a JitterStrategy (FULL or NONE)"),
                ));
            }
        };
        out.push(Retrier {
            error_equals,
            interval_seconds: rf.uint("IntervalSeconds", 1, 99_999_999)?.unwrap_or(1),
            max_attempts: rf.uint("MaxAttempts", 0, 99_999_999)?.unwrap_or(3),
            backoff_rate,
            max_delay_seconds: rf.uint("MaxDelaySeconds", 1, 31_622_400)?,
            jitter,
        });
    }
    Ok(out)
}

fn catchers(f: &Field<'_>) -> Result<Vec<Catcher>, Error> {
    let Some(v) = f.obj.get("Catch") else {
        return Ok(Vec::new());
    };
    let a = v
        .as_array()
        .ok_or_else(|| f.err("Catch", "Catch must be an array"))?;
    let mut out = Vec::new();
    for (i, c) in a.iter().enumerate() {
        let ptr = format!("{}/Catch/{i}", f.ptr);
        let co = c
            .as_object()
            .ok_or_else(|| f.err("Catch", "a catcher must be an object"))?;
        let cf = Field {
            obj: co,
            ptr: &ptr,
            state: f.state,
        };
        for k in co.keys() {
            if !["ErrorEquals", "Next", "ResultPath", "Comment", "Assign"].contains(&k.as_str()) {
                return Err(cf.err(k, format!("the field '{k}' is not supported in a catcher")));
            }
        }
        let error_equals = error_equals(c, &ptr, f.state)?;
        if error_equals.iter().any(|n| n == crate::error::names::ALL) && i + 1 != a.len() {
            return Err(cf.err(
                "ErrorEquals",
                "a catcher with \"States.ALL\" must be the last one",
            ));
        }
        out.push(Catcher {
            error_equals,
            next: cf.req_str("Next")?.to_string(),
            result_path: cf.reference_path("ResultPath")?,
            assign: match co.get("Assign") {
                None => None,
                Some(v) => Some(assign_template(v, &format!("{ptr}/Assign"), f.state)?),
            },
        });
    }
    Ok(out)
}

fn wait(f: &Field<'_>) -> Result<WaitFor, Error> {
    let present: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
        .into_iter()
        .filter(|k| f.obj.contains_key(*k))
        .collect();
    if present.len() != 1 {
        return Err(f.err(
            present.get(1).copied().unwrap_or("Seconds"),
            "a Wait state must have exactly one of Seconds, Timestamp, SecondsPath, TimestampPath",
        ));
    }
    Ok(match present[0] {
        "Seconds" => WaitFor::Seconds(f.uint("Seconds", 0, 99_999_999)?.unwrap_or(0)),
        "Timestamp" => {
            let s = f.req_str("Timestamp")?;
            WaitFor::Timestamp(
                crate::choice::parse_timestamp(s).ok_or_else(|| {
                    f.err("Timestamp", format!("'{s}' is not an RFC 3339 timestamp"))
                })?,
            )
        }
        "SecondsPath" => {
            WaitFor::SecondsPath(f.parse_path("SecondsPath", f.req_str("SecondsPath")?)?)
        }
        _ => WaitFor::TimestampPath(f.parse_path("TimestampPath", f.req_str("TimestampPath")?)?),
    })
}

fn text(f: &Field<'_>, field: &str) -> Result<Option<Text>, Error> {
    let path_field = format!("{field}Path");
    match (f.str(field)?, f.str(&path_field)?) {
        (Some(_), Some(_)) => Err(f.err(
            field,
            format!("{field} and {path_field} are mutually exclusive"),
        )),
        (Some(s), None) => Ok(Some(Text::Literal(s.to_string()))),
        (None, Some(s)) if s.starts_with("States.") => Ok(Some(Text::Intrinsic(
            Intrinsic::parse(s).map_err(|m| f.err(&path_field, m))?,
        ))),
        (None, Some(s)) => Ok(Some(Text::Path(f.parse_path(&path_field, s)?))),
        (None, None) => Ok(None),
    }
}

fn choice_rule(v: &Value, ptr: &str, state: &str, top: bool) -> Result<ChoiceRule, Error> {
    let err = |field: &str, m: String| {
        Error::definition(
            &format!("{ptr}/{}", escape_pointer(field)),
            Some(state),
            Some(field),
            format!("SCHEMA_VALIDATION_FAILED: {m}"),
        )
    };
    let obj = v.as_object().ok_or_else(|| {
        Error::definition(
            ptr,
            Some(state),
            None,
            "SCHEMA_VALIDATION_FAILED: a choice rule must be an object",
        )
    })?;
    if !top && obj.contains_key("Next") {
        return Err(err(
            "Next",
            "a nested choice rule may not have 'Next'".into(),
        ));
    }
    if !top && obj.contains_key("Assign") {
        return Err(err(
            "Assign",
            "a nested choice rule may not have 'Assign'".into(),
        ));
    }
    let mut ops: Vec<&String> = obj
        .keys()
        .filter(|k| !["Next", "Comment", "Variable", "Assign"].contains(&k.as_str()))
        .collect();
    if ops.len() != 1 {
        let which = ops.pop().map(String::as_str).unwrap_or("Variable");
        return Err(err(
            which,
            format!(
                "a choice rule must have exactly one comparison operator or And/Or/Not, found {}",
                ops.len() + usize::from(which != "Variable")
            ),
        ));
    }
    let op = ops[0].as_str();
    let sub = |k: &str, v: &Value, i: Option<usize>| {
        let p = match i {
            Some(i) => format!("{ptr}/{k}/{i}"),
            None => format!("{ptr}/{k}"),
        };
        choice_rule(v, &p, state, false)
    };
    match op {
        "And" | "Or" => {
            let Some(Value::Array(a)) = obj.get(op) else {
                return Err(err(op, format!("{op} must be a non-empty array of rules")));
            };
            if a.is_empty() {
                return Err(err(op, format!("{op} must be a non-empty array of rules")));
            }
            if obj.contains_key("Variable") {
                return Err(err(
                    "Variable",
                    format!("a rule with {op} may not have Variable"),
                ));
            }
            let rules = a
                .iter()
                .enumerate()
                .map(|(i, r)| sub(op, r, Some(i)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if op == "And" {
                ChoiceRule::And(rules)
            } else {
                ChoiceRule::Or(rules)
            })
        }
        "Not" => {
            if obj.contains_key("Variable") {
                return Err(err(
                    "Variable",
                    "a rule with Not may not have Variable".into(),
                ));
            }
            let inner = obj
                .get("Not")
                .ok_or_else(|| err("Not", "Not is required".into()))?;
            Ok(ChoiceRule::Not(Box::new(sub("Not", inner, None)?)))
        }
        _ => {
            let (operator, is_path) = Operator::from_field(op)
                .ok_or_else(|| err(op, format!("'{op}' is not a comparison operator")))?;
            let var = match obj.get("Variable") {
                Some(Value::String(s)) => JsonPath::parse(s).map_err(|e| err("Variable", e.0))?,
                _ => {
                    return Err(err(
                        "Variable",
                        "a comparison must have 'Variable' as a string path".into(),
                    ));
                }
            };
            let raw = obj.get(op).cloned().unwrap_or(Value::Null);
            let operand = if is_path {
                let s = raw
                    .as_str()
                    .ok_or_else(|| err(op, format!("{op} must be a path string")))?;
                Operand::Path(JsonPath::parse(s).map_err(|e| err(op, e.0))?)
            } else {
                operator.check_operand(&raw).map_err(|m| err(op, m))?;
                Operand::Value(raw)
            };
            Ok(ChoiceRule::Compare(Comparison {
                variable: var,
                operator,
                operand,
            }))
        }
    }
}

/// Compiles an `Assign` object (JSONPath states): keys are variable names, `.$` keys hold
/// a path (`$` = the state's result or input, `$$` = context, `$name` = a variable) or an
/// intrinsic function.
fn assign_template(v: &Value, ptr: &str, state: &str) -> Result<Template, Error> {
    let err = |p: &str, m: String| {
        Error::definition(
            &format!("{ptr}{p}"),
            Some(state),
            Some("Assign"),
            format!("SCHEMA_VALIDATION_FAILED: {m}"),
        )
    };
    let Value::Object(m) = v else {
        return Err(err("", "Assign must be an object".into()));
    };
    for k in m.keys() {
        let name = k.strip_suffix(".$").unwrap_or(k);
        crate::variables::check_name(name)
            .map_err(|e| err(&format!("/{}", escape_pointer(k)), e))?;
    }
    Template::compile(v).map_err(|(p, m)| err(&p, m))
}

/// Fields that only JSONata states may have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items", "Condition"];

/// Fields that only JSONPath states may have.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "OutputPath",
    "Result",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
    "ErrorPath",
    "CausePath",
];

fn jsonata_field(
    obj: &Map<String, Value>,
    key: &str,
    ptr: &str,
    state: &str,
) -> Result<Option<jsonata::Template>, Error> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => jsonata::Template::compile(v).map(Some).map_err(|(p, m)| {
            Error::definition(
                &format!("{ptr}/{key}{p}"),
                Some(state),
                Some(key),
                format!("SCHEMA_VALIDATION_FAILED: {m}"),
            )
        }),
    }
}

fn is_expression(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| jsonata::expression_text(s).is_some())
}

/// Splits a JSONata state into the fields the JSONPath parser understands (structure:
/// transitions, branches, processor, Retry/Catch, literal numbers) and its expressions.
fn jsonata_state(
    obj: &Map<String, Value>,
    ptr: &str,
    state: &str,
) -> Result<(Map<String, Value>, JsonataFields), Error> {
    let ty = obj.get("Type").and_then(Value::as_str).unwrap_or("");
    for k in obj.keys() {
        if JSONPATH_ONLY.contains(&k.as_str()) || (ty == "Map" && k == "Parameters") {
            return Err(Error::definition(
                &format!("{ptr}/{}", escape_pointer(k)),
                Some(state),
                Some(k),
                format!(
                    "SCHEMA_VALIDATION_FAILED: the field '{k}' is JSONPath-only and cannot be used in a JSONata state"
                ),
            ));
        }
    }
    let allowed_here: &[&str] = match ty {
        "Task" | "Parallel" => &["Arguments", "Output"],
        "Map" => &["Items", "Output"],
        "Pass" | "Wait" | "Choice" | "Succeed" => &["Output"],
        _ => &[],
    };
    for k in JSONATA_ONLY {
        if obj.contains_key(*k) && !allowed_here.contains(k) {
            return Err(Error::definition(
                &format!("{ptr}/{k}"),
                Some(state),
                Some(k),
                format!(
                    "SCHEMA_VALIDATION_FAILED: the field '{k}' is not supported by state type '{ty}'"
                ),
            ));
        }
    }
    let f = |k: &str| jsonata_field(obj, k, ptr, state);
    let mut j = JsonataFields {
        arguments: f("Arguments")?,
        output: f("Output")?,
        assign: None,
        items: f("Items")?,
        item_selector: if ty == "Map" {
            f("ItemSelector")?
        } else {
            None
        },
        ..JsonataFields::default()
    };
    if let Some(a) = obj.get("Assign") {
        let Value::Object(m) = a else {
            return Err(Error::definition(
                &format!("{ptr}/Assign"),
                Some(state),
                Some("Assign"),
                "SCHEMA_VALIDATION_FAILED: Assign must be an object",
            ));
        };
        for k in m.keys() {
            crate::variables::check_name(k).map_err(|e| {
                Error::definition(
                    &format!("{ptr}/Assign/{}", escape_pointer(k)),
                    Some(state),
                    Some("Assign"),
                    format!("SCHEMA_VALIDATION_FAILED: {e}"),
                )
            })?;
        }
        j.assign = f("Assign")?;
    }
    let mut out = obj.clone();
    for k in ["Arguments", "Output", "Assign", "Items", "QueryLanguage"] {
        out.remove(k);
    }
    if ty == "Map" {
        out.remove("ItemSelector");
    }
    for (k, slot) in [
        ("Seconds", &mut j.seconds),
        ("Timestamp", &mut j.timestamp),
        ("TimeoutSeconds", &mut j.timeout),
        ("HeartbeatSeconds", &mut j.heartbeat),
        ("MaxConcurrency", &mut j.max_concurrency),
        ("ToleratedFailureCount", &mut j.tolerated_failure_count),
        (
            "ToleratedFailurePercentage",
            &mut j.tolerated_failure_percentage,
        ),
    ] {
        if is_expression(obj.get(k)) {
            *slot = jsonata_field(obj, k, ptr, state)?;
            // The JSONPath parser does not see the expression; a Wait keeps a neutral
            // `Seconds: 0` so that it still has exactly one duration field.
            out.remove(k);
            if k == "Seconds" || k == "Timestamp" {
                out.insert("Seconds".into(), Value::from(0));
            }
        }
    }
    if ty == "Fail" {
        for (k, slot) in [("Error", &mut j.error), ("Cause", &mut j.cause)] {
            if is_expression(obj.get(k)) {
                *slot = jsonata_field(obj, k, ptr, state)?;
                out.remove(k);
            }
        }
    }
    if let Some(Value::Array(cs)) = obj.get("Catch") {
        let mut stripped = Vec::new();
        for (i, c) in cs.iter().enumerate() {
            let cptr = format!("{ptr}/Catch/{i}");
            let mut c = c.clone();
            let mut pair = (None, None);
            if let Some(co) = c.as_object_mut() {
                for k in JSONPATH_ONLY {
                    if co.contains_key(*k) {
                        return Err(Error::definition(
                            &format!("{cptr}/{k}"),
                            Some(state),
                            Some(k),
                            format!(
                                "SCHEMA_VALIDATION_FAILED: the field '{k}' is JSONPath-only and cannot be used in a JSONata state"
                            ),
                        ));
                    }
                }
                let co_ro = co.clone();
                pair.0 = jsonata_field(&co_ro, "Output", &cptr, state)?;
                pair.1 = jsonata_field(&co_ro, "Assign", &cptr, state)?;
                co.remove("Output");
                co.remove("Assign");
            }
            j.catchers.push(pair);
            stripped.push(c);
        }
        out.insert("Catch".into(), Value::Array(stripped));
    }
    if ty == "Choice" {
        let Some(Value::Array(cs)) = obj.get("Choices") else {
            return Err(Error::definition(
                &format!("{ptr}/Choices"),
                Some(state),
                Some("Choices"),
                "SCHEMA_VALIDATION_FAILED: the field 'Choices' is required and must be a non-empty array",
            ));
        };
        if cs.is_empty() {
            return Err(Error::definition(
                &format!("{ptr}/Choices"),
                Some(state),
                Some("Choices"),
                "SCHEMA_VALIDATION_FAILED: Choices must hold at least one rule",
            ));
        }
        for (i, c) in cs.iter().enumerate() {
            let cptr = format!("{ptr}/Choices/{i}");
            let err = |k: &str, m: String| {
                Error::definition(
                    &format!("{cptr}/{k}"),
                    Some(state),
                    Some(k),
                    format!("SCHEMA_VALIDATION_FAILED: {m}"),
                )
            };
            let Some(co) = c.as_object() else {
                return Err(err("", "a choice rule must be an object".into()));
            };
            for k in co.keys() {
                if !["Condition", "Next", "Assign", "Output", "Comment"].contains(&k.as_str()) {
                    return Err(err(
                        k,
                        format!(
                            "the field '{k}' is not supported in a JSONata Choice rule (use Condition)"
                        ),
                    ));
                }
            }
            let condition = match co.get("Condition") {
                Some(v @ Value::Bool(_)) => jsonata::Template::Literal(v.clone()),
                Some(v) if is_expression(Some(v)) => jsonata_field(co, "Condition", &cptr, state)?
                    .unwrap_or(jsonata::Template::Literal(Value::Bool(false))),
                _ => {
                    return Err(err(
                        "Condition",
                        "a JSONata Choice rule needs 'Condition': a boolean or a {% %} expression"
                            .into(),
                    ));
                }
            };
            let next = co
                .get("Next")
                .and_then(Value::as_str)
                .ok_or_else(|| err("Next", "a Choice rule must have 'Next'".into()))?;
            j.choices.push(JsonataChoice {
                condition,
                next: next.to_string(),
                assign: jsonata_field(co, "Assign", &cptr, state)?,
                output: jsonata_field(co, "Output", &cptr, state)?,
            });
        }
        out.remove("Choices");
    }
    Ok((out, j))
}
