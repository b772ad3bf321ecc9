//! Map (inline): runs the item processor once per item of `ItemsPath`, at most
//! `MaxConcurrency` at a time (0 = no limit); the result is the array of outputs in item
//! order. `ItemSelector` (or the older `Parameters`) builds each iteration's input, with
//! `$$.Map.Item.Index` and `$$.Map.Item.Value` in the context object.

use crate::definition::{Dynamic, Kind, State};
use crate::engine::Exec;
use crate::error::{Failure, names};
use crate::execution::{Children, Step};
use crate::json_path::type_name;
use crate::pipeline;
use serde_json::{Value, json};
use std::collections::VecDeque;

pub(crate) fn enter<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    raw: &Value,
) -> Result<(), Failure> {
    let Kind::Map(spec) = &state.kind else {
        return Ok(());
    };
    let effective = super::effective_input(state, raw)?;
    if let Some(j) = &state.jsonata {
        return enter_jsonata(x, run, state, raw, j);
    }
    let items = match x.select(run, &spec.items_path, &effective) {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(Failure::runtime(format!(
                "Invalid path '{}': the ItemsPath must select an array, got a {}",
                spec.items_path,
                type_name(&other)
            )));
        }
        None => {
            return Err(Failure::runtime(format!(
                "Invalid path '{}': the ItemsPath could not be found in the input",
                spec.items_path
            )));
        }
    };
    let max = x.dynamic_u64(run, &spec.max_concurrency, &effective, "MaxConcurrency")?;
    let n = items.len() as u64;
    let by_count = spec
        .tolerated_failure_count
        .as_ref()
        .map(|d| x.dynamic_u64(run, d, &effective, "ToleratedFailureCount"))
        .transpose()?;
    let by_pct = match &spec.tolerated_failure_percentage {
        None => None,
        Some(Dynamic::Value(p)) => Some(*p),
        Some(Dynamic::Path(p)) => {
            let v = x
                .select(run, p, &effective)
                .and_then(|v| v.as_f64())
                .filter(|v| (0.0..=100.0).contains(v));
            Some(v.ok_or_else(|| {
                Failure::runtime(format!(
                    "The ToleratedFailurePercentagePath '{p}' must select a number from 0 to 100"
                ))
            })?)
        }
    }
    .map(|p| ((p / 100.0) * n as f64).floor() as u64);
    let tolerated = match (by_count, by_pct) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let base_ctx = if spec.io.parameters.is_some() {
        x.context(run, None)
    } else {
        Value::Null
    };
    let vars = x.vars(run).clone();
    begin(
        x,
        run,
        state,
        items,
        max,
        tolerated,
        |i, item| match &spec.io.parameters {
            None => Ok(item.clone()),
            Some(t) => {
                let mut ctx = base_ctx.clone();
                if let Some(m) = ctx.as_object_mut() {
                    m.insert("Map".into(), json!({"Item": {"Index": i, "Value": item}}));
                }
                pipeline::template(Some(t), &effective, &ctx, &vars)
            }
        },
    )
}

/// A JSONata Map: `Items` (default: the state input), `ItemSelector` with
/// `$states.context.Map.Item`, numbers given literally or as expressions.
fn enter_jsonata<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    raw: &Value,
    j: &crate::definition::JsonataFields,
) -> Result<(), Failure> {
    let Kind::Map(spec) = &state.kind else {
        return Ok(());
    };
    let b = super::jsonata_bindings(x, run, raw, None, None, None);
    let items = match &j.items {
        Some(t) => t.eval(&b, "Items")?,
        None => raw.clone(),
    };
    let Value::Array(items) = items else {
        return Err(Failure::new(
            crate::jsonata::QUERY_EVALUATION_ERROR,
            format!(
                "The Items of the Map state '{}' must be a JSON array, got a {}",
                state.name,
                type_name(&items)
            ),
        ));
    };
    let num = |t: &Option<crate::jsonata::Template>, d: Option<&Dynamic<u64>>, field: &str| match (
        t, d,
    ) {
        (Some(t), _) => super::jsonata_u64(t, &b, field).map(Some),
        (None, Some(Dynamic::Value(n))) => Ok(Some(*n)),
        _ => Ok(None),
    };
    let max = num(
        &j.max_concurrency,
        Some(&spec.max_concurrency),
        "MaxConcurrency",
    )?
    .unwrap_or(0);
    let by_count = num(
        &j.tolerated_failure_count,
        spec.tolerated_failure_count.as_ref(),
        "ToleratedFailureCount",
    )?;
    let by_pct = match (
        &j.tolerated_failure_percentage,
        &spec.tolerated_failure_percentage,
    ) {
        (Some(t), _) => {
            let v = t.eval(&b, "ToleratedFailurePercentage")?;
            Some(crate::jsonata::expect(
                v,
                "ToleratedFailurePercentage",
                "a number from 0 to 100",
                |v| v.as_f64().filter(|p| (0.0..=100.0).contains(p)),
            )?)
        }
        (None, Some(Dynamic::Value(p))) => Some(*p),
        _ => None,
    }
    .map(|p| ((p / 100.0) * items.len() as f64).floor() as u64);
    let tolerated = match (by_count, by_pct) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let selector = j.item_selector.clone();
    let base = b;
    begin(
        x,
        run,
        state,
        items,
        max,
        tolerated,
        |i, item| match &selector {
            None => Ok(item.clone()),
            Some(t) => {
                let mut b = base.clone();
                if let Some(ctx) = b
                    .get_mut("states")
                    .and_then(|s| s.get_mut("context"))
                    .and_then(Value::as_object_mut)
                {
                    ctx.insert("Map".into(), json!({"Item": {"Index": i, "Value": item}}));
                }
                t.eval(&b, "ItemSelector")
            }
        },
    )
}

/// Queues the iterations (each input made by `input_for(index, item)`) and starts them.
fn begin<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    items: Vec<Value>,
    max: u64,
    tolerated: Option<u64>,
    mut input_for: impl FnMut(usize, &Value) -> Result<Value, Failure>,
) -> Result<(), Failure> {
    let mut queued = VecDeque::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let input = input_for(i, item)?;
        queued.push_back((i, input, item.clone()));
    }
    x.event(
        || "MapStateStarted",
        "mapStateStartedEventDetails",
        || json!({"length": items.len()}),
    );
    let children = Children {
        pending: Default::default(),
        results: vec![None; items.len()],
        queued,
        max_concurrency: max,
        failures: 0,
        tolerated,
    };
    x.set_step(run, Step::Children(children));
    start_more(x, run, state);
    if x.children(run)
        .is_some_and(|c| c.pending.is_empty() && c.queued.is_empty())
    {
        x.rec.ready.push_back(run);
    }
    Ok(())
}

fn start_more(x: &mut Exec<'_>, run: u32, state: &State) {
    let Kind::Map(spec) = &state.kind else { return };
    loop {
        let Some(c) = x.children(run) else { return };
        if c.max_concurrency != 0 && c.pending.len() as u64 >= c.max_concurrency {
            return;
        }
        let Some((i, input, item)) = c.queued.pop_front() else {
            return;
        };
        x.event(
            || "MapIterationStarted",
            "mapIterationStartedEventDetails",
            || json!({"name": state.name, "index": i}),
        );
        let id = x.spawn(run, spec.processor, i, input, Some(item));
        if let Some(c) = x.children(run) {
            c.pending.insert(id);
        }
    }
}

pub(crate) fn child_finished<'a>(
    x: &mut Exec<'a>,
    parent: u32,
    state: &'a State,
    child: u32,
    index: usize,
    result: Result<Value, Failure>,
) {
    let Some(c) = x.children(parent) else { return };
    c.pending.remove(&child);
    match result {
        Ok(v) => {
            if let Some(slot) = c.results.get_mut(index) {
                *slot = Some(v);
            }
            x.event(
                || "MapIterationSucceeded",
                "mapIterationSucceededEventDetails",
                || json!({"name": state.name, "index": index}),
            );
        }
        Err(f) => {
            c.failures += 1;
            let failures = c.failures;
            let tolerated = c.tolerated;
            if tolerated.is_some_and(|t| failures <= t) {
                if let Some(slot) = c.results.get_mut(index) {
                    *slot = Some(json!({"Error": f.error, "Cause": f.cause}));
                }
                x.event(
                    || "MapIterationFailed",
                    "mapIterationFailedEventDetails",
                    || json!({"name": state.name, "index": index}),
                );
            } else {
                x.event(
                    || "MapIterationFailed",
                    "mapIterationFailedEventDetails",
                    || json!({"name": state.name, "index": index}),
                );
                x.abort_children(parent);
                x.event(|| "MapStateFailed", "", || json!({}));
                let f = if tolerated.is_some() {
                    Failure::new(
                        names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                        format!(
                            "The Map state '{}' failed because {failures} item(s) failed, more than tolerated",
                            state.name
                        ),
                    )
                } else {
                    f
                };
                x.fail(parent, state, f);
                return;
            }
        }
    }
    start_more(x, parent, state);
    if x.children(parent)
        .is_some_and(|c| c.pending.is_empty() && c.queued.is_empty())
    {
        x.rec.ready.push_back(parent);
    }
}

pub(crate) fn done<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    results: Vec<Value>,
) -> Result<(), Failure> {
    let Kind::Map(spec) = &state.kind else {
        return Ok(());
    };
    x.event(|| "MapStateSucceeded", "", || Value::Null);
    super::finish_result(x, run, state, &spec.io, Value::Array(results))
}
