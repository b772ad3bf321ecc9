//! Fail: "stops the execution of the state machine and marks it as a failure"; Error and
//! Cause given inline, or through ErrorPath/CausePath (a reference path or an intrinsic
//! returning a string) evaluated against the raw input.

use crate::definition::{Kind, State, Text};
use crate::engine::Exec;
use crate::error::Failure;
use crate::payload::Scope;
use serde_json::Value;

fn text(
    x: &Exec<'_>,
    run: u32,
    t: &Option<Text>,
    raw: &Value,
    field: &str,
) -> Result<String, Failure> {
    let ctx = x.context(run, None);
    let scope = Scope {
        input: raw,
        context: &ctx,
        vars: x.vars(run),
    };
    let v = match t {
        None => return Ok(String::new()),
        Some(Text::Literal(s)) => return Ok(s.clone()),
        Some(Text::Path(p)) => scope.select_for(p, field)?,
        Some(Text::Intrinsic(f)) => f.eval(&scope)?,
    };
    match v {
        Value::String(s) => Ok(s),
        other => Err(Failure::runtime(format!(
            "The {field} must select a string, got {other}"
        ))),
    }
}

pub(crate) fn enter<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    raw: &Value,
) -> Result<(), Failure> {
    let Kind::Fail { error, cause } = &state.kind else {
        return Ok(());
    };
    let mut error = text(x, run, error, raw, "ErrorPath")?;
    let mut cause = text(x, run, cause, raw, "CausePath")?;
    if let Some(j) = &state.jsonata {
        let b = super::jsonata_bindings(x, run, raw, None, None, None);
        for (t, slot, field) in [
            (&j.error, &mut error, "Error"),
            (&j.cause, &mut cause, "Cause"),
        ] {
            if let Some(t) = t {
                *slot = crate::jsonata::expect(t.eval(&b, field)?, field, "a string", |v| {
                    v.as_str().map(str::to_string)
                })?;
            }
        }
    }
    x.finish_run(run, Err(Failure::new(error, cause)));
    Ok(())
}
