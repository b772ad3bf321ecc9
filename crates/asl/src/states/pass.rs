//! Pass: "passes its input to its output, without performing work"; `Result` or
//! `Parameters` become its result, placed by ResultPath.

use crate::definition::{Kind, State};
use crate::engine::Exec;
use crate::error::Failure;
use crate::pipeline;
use serde_json::Value;

pub(crate) fn enter<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    raw: &Value,
) -> Result<(), Failure> {
    let Kind::Pass {
        result,
        parameters,
        result_path,
    } = &state.kind
    else {
        return Ok(());
    };
    if let Some(j) = &state.jsonata {
        let b = super::jsonata_bindings(x, run, raw, None, None, None);
        let output = match &j.output {
            Some(t) => t.eval(&b, "Output")?,
            None => raw.clone(),
        };
        super::jsonata_assign(x, run, j.assign.as_ref(), &b)?;
        x.leave(run, state, output);
        return Ok(());
    }
    let effective = super::effective_input(state, raw)?;
    let result = match result {
        Some(r) => r.clone(),
        None => {
            let ctx = x.context_for(parameters.as_ref(), run, None);
            pipeline::template(parameters.as_ref(), &effective, &ctx, x.vars(run))?
        }
    };
    let combined = pipeline::result_path(result_path.as_ref(), raw, result.clone())?;
    let output = pipeline::select_path(state.output_path.as_ref(), &combined, "OutputPath")?;
    // Assign's `$` is the state's result (Result, Parameters or the effective input).
    x.assign(run, state.assign.as_ref(), &result)?;
    x.leave(run, state, output);
    Ok(())
}
