//! One module per state type; `enter` dispatches on the type.

pub(crate) mod choice;
pub(crate) mod fail;
pub(crate) mod map;
pub(crate) mod parallel;
pub(crate) mod pass;
pub(crate) mod succeed;
pub(crate) mod task;
pub(crate) mod wait;

use crate::definition::{Kind, State};
use crate::engine::{Exec, type_name};
use crate::error::Failure;
use crate::execution::Children;
use crate::pipeline;
use serde_json::{Value, json};

/// Enters the run's current state (or re-enters it after a retry back-off).
pub(crate) fn enter(x: &mut Exec<'_>, run: u32, retry: bool) {
    let Some(state) = x.state(run) else {
        x.finish_run(run, Err(Failure::runtime("the run's state does not exist")));
        return;
    };
    let raw = x
        .rec
        .runs
        .get(&run)
        .map(|r| r.input.clone())
        .unwrap_or(Value::Null);
    if !retry {
        let id = x.event(|| format!("{}StateEntered", type_name(state)),
            "stateEnteredEventDetails",
            || json!({"name": state.name, "input": serde_json::to_string(&raw).unwrap_or_default(), "inputDetails": {"truncated": false}}),
        );
        if let Some(r) = x.rec.runs.get_mut(&run) {
            r.entered_event = id;
        }
    }
    let result = match &state.kind {
        Kind::Pass { .. } => pass::enter(x, run, state, &raw),
        Kind::Task(_) => task::enter(x, run, state, &raw),
        Kind::Choice { .. } => choice::enter(x, run, state, &raw),
        Kind::Wait(_) => wait::enter(x, run, state, &raw),
        Kind::Succeed => succeed::enter(x, run, state, &raw),
        Kind::Fail { .. } => fail::enter(x, run, state, &raw),
        Kind::Parallel { .. } => parallel::enter(x, run, state, &raw),
        Kind::Map(_) => map::enter(x, run, state, &raw),
    };
    if let Err(f) = result {
        x.fail(run, state, f);
    }
}

/// The bindings of a JSONata expression: the run's variables and `$states`
/// (`input`, `context`, and `result` / `errorOutput` when given).
pub(crate) fn jsonata_bindings(
    x: &Exec<'_>,
    run: u32,
    input: &Value,
    result: Option<&Value>,
    error_output: Option<&Value>,
    token: Option<&str>,
) -> serde_json::Map<String, Value> {
    let mut states = serde_json::Map::new();
    states.insert("input".into(), input.clone());
    if let Some(r) = result {
        states.insert("result".into(), r.clone());
    }
    if let Some(e) = error_output {
        states.insert("errorOutput".into(), e.clone());
    }
    states.insert("context".into(), x.context(run, token));
    crate::jsonata::bindings(x.vars(run), Value::Object(states))
}

/// Evaluates a JSONata `Assign` (values from state entry) and stores the variables.
pub(crate) fn jsonata_assign(
    x: &mut Exec<'_>,
    run: u32,
    assign: Option<&crate::jsonata::Template>,
    bindings: &serde_json::Map<String, Value>,
) -> Result<(), Failure> {
    let Some(t) = assign else { return Ok(()) };
    let values = t.eval(bindings, "Assign")?;
    let mut vars = x.vars(run).clone();
    crate::variables::apply(&mut vars, values)?;
    x.set_vars(run, vars);
    Ok(())
}

/// Evaluates a JSONata field that must give a non-negative integer.
pub(crate) fn jsonata_u64(
    t: &crate::jsonata::Template,
    bindings: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<u64, Failure> {
    let v = t.eval(bindings, field)?;
    crate::jsonata::expect(v, field, "a non-negative integer", |v| {
        v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        })
    })
}

/// The effective input: InputPath applied to the raw input.
pub(crate) fn effective_input(state: &State, raw: &Value) -> Result<Value, Failure> {
    pipeline::select_path(state.input_path.as_ref(), raw, "InputPath")
}

/// All children of a Parallel or Map run are done.
pub(crate) fn children_done(x: &mut Exec<'_>, run: u32, c: Children) {
    let Some(state) = x.state(run) else { return };
    let results: Vec<Value> = c
        .results
        .into_iter()
        .map(|r| r.unwrap_or(Value::Null))
        .collect();
    let r = match &state.kind {
        Kind::Parallel { .. } => parallel::done(x, run, state, results),
        Kind::Map(_) => map::done(x, run, state, results),
        _ => Ok(()),
    };
    if let Err(f) = r {
        x.fail(run, state, f);
    }
}

/// A child run of `parent` ended.
pub(crate) fn child_finished(
    x: &mut Exec<'_>,
    parent: u32,
    child: u32,
    index: usize,
    result: Result<Value, Failure>,
) {
    let Some(state) = x.state(parent) else { return };
    match &state.kind {
        Kind::Parallel { .. } => parallel::child_finished(x, parent, state, child, index, result),
        Kind::Map(_) => map::child_finished(x, parent, state, child, index, result),
        _ => {}
    }
}

/// The end of a result-producing state (Task, Parallel, Map):
/// ResultSelector -> ResultPath -> OutputPath, then leave.
pub(crate) fn finish_result<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    io: &crate::definition::ResultFields,
    result: Value,
) -> Result<(), Failure> {
    pipeline::check_size(&result, "state result")?;
    let raw = x
        .rec
        .runs
        .get(&run)
        .map(|r| r.input.clone())
        .unwrap_or(Value::Null);
    if let Some(j) = &state.jsonata {
        // "Output": default `$states.result`; Assign sees the same `$states`.
        let b = jsonata_bindings(x, run, &raw, Some(&result), None, None);
        let output = match &j.output {
            Some(t) => t.eval(&b, "Output")?,
            None => result,
        };
        jsonata_assign(x, run, j.assign.as_ref(), &b)?;
        x.leave(run, state, output);
        return Ok(());
    }
    let ctx = x.context_for(io.result_selector.as_ref(), run, None);
    let selected = pipeline::template(io.result_selector.as_ref(), &result, &ctx, x.vars(run))?;
    let combined = pipeline::result_path(io.result_path.as_ref(), &raw, selected.clone())?;
    let output = pipeline::select_path(state.output_path.as_ref(), &combined, "OutputPath")?;
    // Assign's `$` is the result after ResultSelector, before ResultPath.
    x.assign(run, state.assign.as_ref(), &selected)?;
    x.leave(run, state, output);
    Ok(())
}
