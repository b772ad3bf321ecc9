//! Choice: the first matching rule's Next, else Default, else `States.NoChoiceMatched`.

use crate::choice::evaluate;
use crate::definition::{Kind, State};
use crate::engine::{Exec, type_name};
use crate::error::{Failure, names};
use crate::payload::{Scope, compact};
use crate::pipeline;
use serde_json::{Value, json};

pub(crate) fn enter<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    raw: &Value,
) -> Result<(), Failure> {
    let Kind::Choice { choices, default } = &state.kind else {
        return Ok(());
    };
    if let Some(j) = &state.jsonata {
        let b = super::jsonata_bindings(x, run, raw, None, None, None);
        let mut picked = None;
        for c in &j.choices {
            let v = c.condition.eval(&b, "Condition")?;
            let hit = crate::jsonata::expect(v, "Condition", "a boolean", Value::as_bool)?;
            if hit {
                picked = Some((c.next.clone(), c.assign.as_ref(), c.output.as_ref()));
                break;
            }
        }
        // The matching rule's Output/Assign; the state's own when Default is taken.
        let (next, assign, output_t) = match picked.or_else(|| {
            default
                .clone()
                .map(|d| (d, j.assign.as_ref(), j.output.as_ref()))
        }) {
            Some(p) => p,
            None => {
                return Err(Failure::new(
                    names::NO_CHOICE_MATCHED,
                    format!(
                        "No Matches! The Choice state '{}' found no rule matching its input '{}' and has no Default",
                        state.name,
                        compact(raw)
                    ),
                ));
            }
        };
        let output = match output_t.or(j.output.as_ref()) {
            Some(t) => t.eval(&b, "Output")?,
            None => raw.clone(),
        };
        pipeline::check_size(&output, "state output")?;
        super::jsonata_assign(x, run, assign, &b)?;
        x.event(|| format!("{}StateExited", type_name(state)), "stateExitedEventDetails", || json!({"name": state.name, "output": compact(&output), "outputDetails": {"truncated": false}}));
        x.goto(run, next, output);
        return Ok(());
    }
    let effective = super::effective_input(state, raw)?;
    let ctx = x.context(run, None);
    let scope = Scope {
        input: &effective,
        context: &ctx,
        vars: x.vars(run),
    };
    let mut next = None;
    for (rule, n, assign) in choices {
        if evaluate(rule, &scope)? {
            next = Some((n.clone(), assign.as_ref()));
            break;
        }
    }
    // The matching rule's Assign; the state's own Assign when Default is taken.
    let (next, assign) = match next.or_else(|| default.clone().map(|d| (d, state.assign.as_ref())))
    {
        Some(n) => n,
        None => {
            return Err(Failure::new(
                names::NO_CHOICE_MATCHED,
                format!(
                    "No Matches! The Choice state '{}' found no rule matching its input '{}' and has no Default",
                    state.name,
                    compact(&effective)
                ),
            ));
        }
    };
    let output = pipeline::select_path(state.output_path.as_ref(), &effective, "OutputPath")?;
    pipeline::check_size(&output, "state output")?;
    x.assign(run, assign, &effective)?;
    x.event(|| format!("{}StateExited", type_name(state)), "stateExitedEventDetails", || json!({"name": state.name, "output": compact(&output), "outputDetails": {"truncated": false}}));
    x.goto(run, next, output);
    Ok(())
}
