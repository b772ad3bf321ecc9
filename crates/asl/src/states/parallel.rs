//! Parallel: runs every branch on a copy of its input; the result is the array of the
//! branches' outputs, in branch order. "If any branch fails, due to an unhandled error or
//! by transitioning to a Fail state, the entire Parallel state is considered to have
//! failed and all its branches are stopped."

use crate::definition::{Kind, State};
use crate::engine::Exec;
use crate::error::Failure;
use crate::execution::{Children, Step};
use crate::pipeline;
use serde_json::{Value, json};
use std::collections::VecDeque;

pub(crate) fn enter<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    raw: &Value,
) -> Result<(), Failure> {
    let Kind::Parallel { branches, io } = &state.kind else {
        return Ok(());
    };
    let effective = super::effective_input(state, raw)?;
    let input = match state.jsonata.as_ref().map(|j| &j.arguments) {
        Some(Some(t)) => t.eval(
            &super::jsonata_bindings(x, run, raw, None, None, None),
            "Arguments",
        )?,
        Some(None) => raw.clone(),
        None => {
            let ctx = x.context_for(io.parameters.as_ref(), run, None);
            pipeline::template(io.parameters.as_ref(), &effective, &ctx, x.vars(run))?
        }
    };
    pipeline::check_size(&input, "state input")?;
    x.event(|| "ParallelStateStarted", "", || Value::Null);
    let children = Children {
        pending: Default::default(),
        results: vec![None; branches.len()],
        queued: VecDeque::new(),
        max_concurrency: 0,
        failures: 0,
        tolerated: None,
    };
    x.set_step(run, Step::Children(children));
    for (i, g) in branches.iter().enumerate() {
        let id = x.spawn(run, *g, i, input.clone(), None);
        if let Some(c) = x.children(run) {
            c.pending.insert(id);
        }
    }
    Ok(())
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
            if c.pending.is_empty() {
                x.rec.ready.push_back(parent);
            }
        }
        Err(f) => {
            x.abort_children(parent);
            x.event(|| "ParallelStateFailed", "", || json!({}));
            x.fail(parent, state, f);
        }
    }
}

pub(crate) fn done<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    results: Vec<Value>,
) -> Result<(), Failure> {
    let Kind::Parallel { io, .. } = &state.kind else {
        return Ok(());
    };
    x.event(|| "ParallelStateSucceeded", "", || Value::Null);
    super::finish_result(x, run, state, io, Value::Array(results))
}
