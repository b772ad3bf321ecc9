//! Succeed: "stops an execution successfully"; InputPath and OutputPath still apply.

use crate::definition::State;
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
    if let Some(j) = &state.jsonata {
        let output = match &j.output {
            Some(t) => t.eval(
                &super::jsonata_bindings(x, run, raw, None, None, None),
                "Output",
            )?,
            None => raw.clone(),
        };
        x.leave(run, state, output);
        return Ok(());
    }
    let effective = super::effective_input(state, raw)?;
    let output = pipeline::select_path(state.output_path.as_ref(), &effective, "OutputPath")?;
    x.leave(run, state, output);
    Ok(())
}
