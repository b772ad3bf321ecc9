//! Workflow variables: `Assign` and `$name` references.
//!
//! "The following state types support Assign to declare and assign values to variables:
//! Pass, Task, Map, Parallel, Choice, Wait." "Step Functions evaluates all expressions
//! [of an Assign field] using the variable values from state entry": assignments of one
//! state do not see each other, and take effect when the state leaves.
//!
//! Scope: the top-level states share one scope; each Parallel branch and each Map
//! iteration runs with a copy of the enclosing scope. It can read outer variables, its
//! own assignments never flow out (only its output does), and assigning a name that an
//! enclosing scope assigns is a validation error.
//!
//! Limits: "the maximum size of a single variable is 256 KiB", "the combined size within
//! a single Assign field is 256 KiB", "the total size of stored variables ... is 10 MiB";
//! passing them is `States.DataLimitExceeded`.

use crate::definition::{Graph, Kind, StateMachine};
use crate::error::{Error, Failure, names};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The size limit of one variable and of one Assign field's values.
pub const MAX_ASSIGN_BYTES: usize = 262_144;
/// The size limit of all variables of one scope.
pub const MAX_TOTAL_BYTES: usize = 10 * 1024 * 1024;
/// The longest variable name accepted.
pub const MAX_NAME_CHARS: usize = 80;

/// Checks a variable name: a letter or `_` first, then letters, digits and `_`, at most
/// 80 characters, and not the reserved `states`.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok_first = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    if !ok_first || !chars.all(|c| c.is_alphanumeric() || c == '_') {
        return Err(format!(
            "'{name}' is not a valid variable name (a letter or '_' first, then letters, digits or '_')"
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "the variable name '{name}' is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name == "states" {
        return Err("'states' is a reserved variable name".to_string());
    }
    Ok(())
}

/// The variable names an `Assign` object sets (keys without a `.$` suffix).
pub fn assigned_names(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| {
            m.keys()
                .map(|k| k.strip_suffix(".$").unwrap_or(k).to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn ser_len(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX)
}

/// Applies evaluated assignments to a scope, enforcing the size limits.
pub fn apply(vars: &mut Map<String, Value>, assigned: Value) -> Result<(), Failure> {
    let Value::Object(assigned) = assigned else {
        return Err(Failure::runtime(
            "The Assign field must evaluate to an object",
        ));
    };
    let mut sum = 0usize;
    for (k, v) in &assigned {
        let n = ser_len(v);
        if n > MAX_ASSIGN_BYTES {
            return Err(Failure::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The value assigned to the variable '{k}' ({n} bytes) exceeds the maximum size of a variable ({MAX_ASSIGN_BYTES} bytes)"
                ),
            ));
        }
        sum = sum.saturating_add(n);
    }
    if sum > MAX_ASSIGN_BYTES {
        return Err(Failure::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The values of the Assign field ({sum} bytes) exceed the maximum combined size ({MAX_ASSIGN_BYTES} bytes)"
            ),
        ));
    }
    let mut next = vars.clone();
    next.extend(assigned);
    let total = ser_len(&Value::Object(next.clone()));
    if total > MAX_TOTAL_BYTES {
        return Err(Failure::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The variables of the execution ({total} bytes) exceed the maximum total size ({MAX_TOTAL_BYTES} bytes)"
            ),
        ));
    }
    *vars = next;
    Ok(())
}

/// The names every state of a graph assigns (state, Choice rules, catchers), with the
/// pointer of the first assignment of each.
fn graph_assigns(g: &Graph) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut states: Vec<_> = g.states.values().collect();
    states.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    for st in states {
        for (name, ptr) in &st.assigned {
            out.push((name.clone(), st.name.clone(), ptr.clone()));
        }
    }
    out
}

/// Validation: a state in a branch or an item processor may not assign a variable that
/// an enclosing scope assigns.
pub(crate) fn check_scopes(sm: &StateMachine) -> Result<(), Error> {
    check_graph(sm, 0, &BTreeSet::new())
}

fn check_graph(sm: &StateMachine, id: usize, outer: &BTreeSet<String>) -> Result<(), Error> {
    let Some(g) = sm.graphs.get(id) else {
        return Ok(());
    };
    let own = graph_assigns(g);
    for (name, state, ptr) in &own {
        if outer.contains(name) {
            return Err(Error::definition(
                ptr,
                Some(state),
                Some("Assign"),
                format!(
                    "SCHEMA_VALIDATION_FAILED: the variable '{name}' is assigned in an enclosing scope; a Parallel branch or Map iteration may read it but not assign it"
                ),
            ));
        }
    }
    let mut inner_outer = outer.clone();
    inner_outer.extend(own.into_iter().map(|(n, _, _)| n));
    let mut states: Vec<_> = g.states.values().collect();
    states.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    for st in states {
        match &st.kind {
            Kind::Parallel { branches, .. } => {
                for b in branches {
                    check_graph(sm, *b, &inner_outer)?;
                }
            }
            Kind::Map(m) => check_graph(sm, m.processor, &inner_outer)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        assert!(check_name("productName").is_ok());
        assert!(check_name("_x1").is_ok());
        assert!(check_name("1x").is_err());
        assert!(check_name("a-b").is_err());
        assert!(check_name("states").is_err());
        assert!(check_name("").is_err());
        assert!(check_name(&"a".repeat(81)).is_err());
    }

    #[test]
    fn apply_merges_and_limits() {
        let mut vars = Map::new();
        apply(&mut vars, json!({"a": 1, "b": 2})).unwrap();
        apply(&mut vars, json!({"a": 3})).unwrap();
        assert_eq!(Value::Object(vars.clone()), json!({"a": 3, "b": 2}));
        let big = json!({"c": "x".repeat(MAX_ASSIGN_BYTES)});
        let e = apply(&mut vars, big).unwrap_err();
        assert_eq!(e.error, names::DATA_LIMIT_EXCEEDED);
        assert_eq!(Value::Object(vars), json!({"a": 3, "b": 2}));
    }
}
