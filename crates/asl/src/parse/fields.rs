//! The fields several state types share, parsed: results, Retry and Catch, waits,
//! Choice rules, Assign, and the JSONata forms of the state fields.

use super::Field;
use crate::choice::{ChoiceRule, Comparison, Operand, Operator};
use crate::definition::*;
use crate::error::Error;
use crate::intrinsics::Intrinsic;
use crate::json_path::JsonPath;
use crate::jsonata;
use crate::payload::{Template, escape_pointer};
use crate::retry::{Catcher, Jitter, Retrier};
use serde_json::{Map, Value};

pub(super) fn result_fields(f: &Field<'_>, params_field: &str) -> Result<ResultFields, Error> {
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

pub(super) fn wait(f: &Field<'_>) -> Result<WaitFor, Error> {
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

pub(super) fn text(f: &Field<'_>, field: &str) -> Result<Option<Text>, Error> {
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

pub(super) fn choice_rule(
    v: &Value,
    ptr: &str,
    state: &str,
    top: bool,
) -> Result<ChoiceRule, Error> {
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
pub(super) fn assign_template(v: &Value, ptr: &str, state: &str) -> Result<Template, Error> {
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
pub(super) const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items", "Condition"];

/// Fields that only JSONPath states may have.
pub(super) const JSONPATH_ONLY: &[&str] = &[
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
pub(super) fn jsonata_state(
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
