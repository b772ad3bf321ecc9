//! The one input/output pipeline every state uses:
//! InputPath -> Parameters -> (state) -> ResultSelector -> ResultPath -> OutputPath.
//!
//! "The value of InputPath ... is applied to the state's raw input to produce the
//! effective input." "ResultPath ... is applied to the state's raw input to combine it
//! with the state's result." "If the value of InputPath or OutputPath is null, that means
//! the input/output is discarded and the effective value is an empty JSON object {}."
//! "If the value of ResultPath is null, the state's result is discarded and its raw input
//! becomes its result."

use crate::error::{Failure, names};
use crate::json_path::JsonPath;
use crate::payload::{Scope, Template, compact};
use serde_json::{Map, Value};

/// The payload size quota: 256 KiB of UTF-8 JSON.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// Applies `InputPath` or `OutputPath` (`None` = `null` = `{}`).
pub fn select_path(path: Option<&JsonPath>, value: &Value, field: &str) -> Result<Value, Failure> {
    match path {
        None => Ok(Value::Object(Map::new())),
        Some(p) if p.is_root() => Ok(value.clone()),
        Some(p) => p.select(value).ok_or_else(|| {
            Failure::runtime(format!(
                "Invalid path '{p}' : No results for path: {p} (field {field}, input '{}')",
                compact(value)
            ))
        }),
    }
}

/// Applies a payload template (`Parameters`, `ItemSelector`, `ResultSelector`), or passes
/// the value through when there is none.
pub fn template(
    t: Option<&Template>,
    input: &Value,
    context: &Value,
    vars: &Map<String, Value>,
) -> Result<Value, Failure> {
    match t {
        None => Ok(input.clone()),
        Some(t) => t.eval(&Scope {
            input,
            context,
            vars,
        }),
    }
}

/// Applies `ResultPath` (`None` = `null` = keep the raw input).
pub fn result_path(
    path: Option<&JsonPath>,
    raw_input: &Value,
    result: Value,
) -> Result<Value, Failure> {
    match path {
        None => Ok(raw_input.clone()),
        Some(p) if p.is_root() => Ok(result),
        Some(p) => p.set(raw_input.clone(), result).map_err(|m| {
            Failure::new(
                names::RESULT_PATH_MATCH_FAILURE,
                format!(
                    "Unable to apply ResultPath '{p}' to input '{}': {m}",
                    compact(raw_input)
                ),
            )
        }),
    }
}

/// How deeply payloads may nest. AWS documents no depth limit; this interpreter stores
/// records as JSON whose parsers refuse very deep nesting, so it refuses such payloads
/// up front, as a runtime error naming the limit, rather than failing to save.
pub const MAX_PAYLOAD_DEPTH: usize = 100;

fn depth(v: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            Value::Object(m) => stack.extend(m.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

/// "States.DataLimitExceeded: ... the output of a state is larger than the payload size quota."
pub fn check_size(v: &Value, what: &str) -> Result<(), Failure> {
    let d = depth(v);
    if d > MAX_PAYLOAD_DEPTH {
        return Err(Failure::runtime(format!(
            "The {what} nests {d} levels deep; this interpreter supports at most {MAX_PAYLOAD_DEPTH}"
        )));
    }
    let n = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX);
    if n > MAX_PAYLOAD_BYTES {
        return Err(Failure::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The {what} ({n} bytes) exceeds the maximum number of bytes service limit ({MAX_PAYLOAD_BYTES} bytes)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn result_path_merges_into_the_raw_input() {
        let p = JsonPath::parse("$.r").unwrap();
        assert_eq!(
            result_path(Some(&p), &json!({"a":1}), json!(2)).unwrap(),
            json!({"a":1,"r":2})
        );
        assert_eq!(
            result_path(None, &json!({"a":1}), json!(2)).unwrap(),
            json!({"a":1})
        );
    }

    #[test]
    fn null_paths_give_an_empty_object() {
        assert_eq!(
            select_path(None, &json!({"a":1}), "InputPath").unwrap(),
            json!({})
        );
    }

    #[test]
    fn data_limit_is_256_kib() {
        assert!(check_size(&json!("x".repeat(MAX_PAYLOAD_BYTES - 2)), "output").is_ok());
        assert!(check_size(&json!("x".repeat(MAX_PAYLOAD_BYTES)), "output").is_err());
    }
}
