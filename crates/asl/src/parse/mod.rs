//! Parsing a definition into [`crate::definition`]'s types, then validating it
//! (`validate`, `variables`).
//!
//! Parsing works on `serde_json::Value` rather than derived `Deserialize` so that every
//! error names the state, the field and the JSON pointer, as AWS's validator does.

use crate::definition::*;
use crate::error::Error;
use crate::json_path::JsonPath;
use crate::payload::{Template, escape_pointer};
use serde_json::{Map, Value};
use std::collections::HashMap;

mod fields;
use fields::{
    JSONATA_ONLY, assign_template, choice_rule, jsonata_state, result_fields, text, wait,
};

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
