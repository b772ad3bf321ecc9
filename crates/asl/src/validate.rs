//! Graph-level checks: transition targets exist, every state is reachable, and a
//! terminal state exists — in each top-level, branch and item-processor graph.
//!
//! "States MUST NOT have 'Next' fields which refer to states outside of the branch"
//! and "It is an error for a state machine to have no terminal state."

use crate::definition::{Graph, Kind, StateMachine, Transition};
use crate::error::Error;
use std::collections::{BTreeSet, HashSet, VecDeque};

/// Checks every graph of the machine.
pub(crate) fn check(sm: &StateMachine) -> Result<(), Error> {
    for g in &sm.graphs {
        check_graph(g)?;
    }
    Ok(())
}

fn targets(g: &Graph, name: &str) -> Vec<(String, String, String)> {
    // (target, field, pointer)
    let Some(st) = g.states.get(name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Transition::Next(n) = &st.transition {
        out.push((
            n.clone(),
            "Next".to_string(),
            format!("{}/Next", st.pointer),
        ));
    }
    if let Some(j) = &st.jsonata {
        for (i, c) in j.choices.iter().enumerate() {
            out.push((
                c.next.clone(),
                "Next".to_string(),
                format!("{}/Choices/{i}/Next", st.pointer),
            ));
        }
    }
    let catch = match &st.kind {
        Kind::Task(t) => &t.io.catch[..],
        Kind::Parallel { io, .. } => &io.catch[..],
        Kind::Map(m) => &m.io.catch[..],
        Kind::Choice { choices, default } => {
            for (i, (_, n, _)) in choices.iter().enumerate() {
                out.push((
                    n.clone(),
                    "Next".to_string(),
                    format!("{}/Choices/{i}/Next", st.pointer),
                ));
            }
            if let Some(d) = default {
                out.push((
                    d.clone(),
                    "Default".to_string(),
                    format!("{}/Default", st.pointer),
                ));
            }
            &[]
        }
        _ => &[],
    };
    for (i, c) in catch.iter().enumerate() {
        out.push((
            c.next.clone(),
            "Next".to_string(),
            format!("{}/Catch/{i}/Next", st.pointer),
        ));
    }
    out
}

fn check_graph(g: &Graph) -> Result<(), Error> {
    if !g.states.contains_key(&g.start_at) {
        return Err(Error::definition(
            &format!("{}/StartAt", g.pointer),
            None,
            Some("StartAt"),
            format!(
                "MISSING_TRANSITION_TARGET: StartAt names '{}', which is not a state of this States object",
                g.start_at
            ),
        ));
    }
    // Deterministic order for messages.
    let names: BTreeSet<&String> = g.states.keys().collect();
    for name in &names {
        for (t, field, ptr) in targets(g, name) {
            if !g.states.contains_key(&t) {
                return Err(Error::definition(
                    &ptr,
                    Some(name),
                    Some(&field),
                    format!(
                        "MISSING_TRANSITION_TARGET: '{t}' is not a state of this States object"
                    ),
                ));
            }
        }
    }
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([g.start_at.clone()]);
    while let Some(n) = queue.pop_front() {
        if seen.insert(n.clone()) {
            for (t, _, _) in targets(g, &n) {
                queue.push_back(t);
            }
        }
    }
    for name in &names {
        if !seen.contains(*name) {
            let st = &g.states[*name];
            return Err(Error::definition(
                &st.pointer,
                Some(name),
                None,
                format!(
                    "UNREACHABLE_STATE: state '{name}' is not reachable from StartAt '{}'",
                    g.start_at
                ),
            ));
        }
    }
    if !g.states.values().any(|s| s.transition == Transition::End) {
        return Err(Error::definition(
            &format!("{}/States", g.pointer),
            None,
            None,
            "NO_TERMINAL_STATE: no state ends the execution (End, Succeed or Fail)",
        ));
    }
    Ok(())
}
