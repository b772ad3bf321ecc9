//! The picture of a run's state machine on its page, as the Step Functions console's
//! graph view draws one: every state of `statemachine/*.asl.json` (the definitions
//! both runtimes run), the states this run entered, where it is now and where an
//! error left the path. The states entered come from the runtime
//! ([`crate::Runtime::execution_path`]), so the picture is the same on both.
//!
//! The states are drawn as one column in the definition's order (a depth-first walk
//! from `StartAt` that puts each `Next` right below its state), with the
//! transitions as arcs beside it: forward ones to the right, loops back to the left,
//! errors caught dashed. The `Pass` states that only adapt a caught error for
//! `HandleFailure` (`CreateUserFailed`, ...) are folded into their `Catch` arc: there
//! is one per task, and drawn they would double the picture without saying more.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::ExecutionPath;
use onboard_store::RecordKind;

/// The definitions, as deployed (`template.yaml` names the same files).
const ONBOARDING: &str = include_str!("../../../statemachine/onboarding.asl.json");
const OFFBOARDING: &str = include_str!("../../../statemachine/offboarding.asl.json");

const ROW: u32 = 30;
const BOX_H: u32 = 22;
/// Room on the left for the loops' arcs.
const BOX_X: u32 = 28;
const BOX_W: u32 = 250;
const TOP: u32 = 6;

/// How a transition is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// `Next`, a Choice rule or its `Default`.
    Flow,
    /// A `Catch`.
    Error,
}

/// A state machine as the picture needs it: states in drawing order, transitions.
#[derive(Debug)]
struct Graph {
    /// (name, `Type`), in drawing order.
    states: Vec<(String, String)>,
    /// (from, to, via), as indexes into `states`.
    edges: Vec<(usize, usize, Via)>,
    /// A folded adapter -> the state its arc goes on to.
    folded: HashMap<String, String>,
}

/// A state's transitions as the definition writes them: (target, via).
fn targets(state: &Value) -> Vec<(String, Via)> {
    let mut out = Vec::new();
    let name = |v: &Value| v.as_str().map(str::to_owned);
    // The order matters: the walk visits these in turn, and the last one visited is
    // drawn right below the state, so `Next` (or `Default`) comes last.
    for c in state["Catch"].as_array().into_iter().flatten() {
        out.extend(name(&c["Next"]).map(|n| (n, Via::Error)));
    }
    for c in state["Choices"].as_array().into_iter().flatten() {
        out.extend(name(&c["Next"]).map(|n| (n, Via::Flow)));
    }
    out.extend(name(&state["Default"]).map(|n| (n, Via::Flow)));
    out.extend(name(&state["Next"]).map(|n| (n, Via::Flow)));
    out
}

impl Graph {
    fn parse(definition: &str) -> Result<Self, String> {
        let def: Value = serde_json::from_str(definition).map_err(|e| e.to_string())?;
        let states = def["States"]
            .as_object()
            .ok_or("the definition has no `States` object")?;
        let start = def["StartAt"]
            .as_str()
            .ok_or("the definition has no `StartAt`")?;
        // Who reaches each state, and how.
        let mut reached: HashMap<&str, Vec<Via>> = HashMap::new();
        for state in states.values() {
            for (to, via) in targets(state) {
                if let Some((key, _)) = states.get_key_value(&to) {
                    reached.entry(key.as_str()).or_default().push(via);
                }
            }
        }
        let folded: HashMap<String, String> = states
            .iter()
            .filter(|(name, s)| {
                s["Type"] == "Pass"
                    && s["Next"].is_string()
                    && reached
                        .get(name.as_str())
                        .is_some_and(|v| v.iter().all(|via| *via == Via::Error))
            })
            .map(|(name, s)| {
                (
                    name.clone(),
                    s["Next"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let resolve = |mut name: String| {
            // An adapter may lead to another (bounded: a cycle of adapters is no graph).
            for _ in 0..states.len() {
                match folded.get(&name) {
                    Some(next) => name = next.clone(),
                    None => break,
                }
            }
            name
        };
        // Reverse post-order of a depth-first walk: a topological order of the
        // forward transitions.
        let mut order: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack: Vec<(String, Vec<String>)> = Vec::new();
        let successors = |name: &str| -> Vec<String> {
            states
                .get(name)
                .map(|s| {
                    targets(s)
                        .into_iter()
                        .map(|(t, _)| resolve(t))
                        .filter(|t| states.contains_key(t))
                        .rev()
                        .collect()
                })
                .unwrap_or_default()
        };
        // The start first; states nothing reaches (none today) after it, in the
        // definition's order.
        let roots = std::iter::once(start.to_owned())
            .chain(states.keys().filter(|k| !folded.contains_key(*k)).cloned());
        for root in roots {
            if !seen.insert(root.clone()) {
                continue;
            }
            let mut finished = Vec::new();
            stack.push((root.clone(), successors(&root)));
            while let Some((name, pending)) = stack.last_mut() {
                match pending.pop() {
                    Some(next) => {
                        if seen.insert(next.clone()) {
                            let after = successors(&next);
                            stack.push((next, after));
                        }
                    }
                    None => {
                        finished.push(name.clone());
                        stack.pop();
                    }
                }
            }
            finished.reverse();
            order.extend(finished);
        }
        // A state that only loops back (a Wait before the check it returns to) is
        // drawn right below the one state that leads to it, not after everything
        // else that state leads to.
        let mut i = 0;
        while i < order.len() {
            let name = order[i].clone();
            let at = |n: &str, order: &[String]| order.iter().position(|o| o == n);
            let next = successors(&name);
            let back =
                !next.is_empty() && next.iter().all(|t| at(t, &order).is_some_and(|j| j < i));
            let leads: Vec<&String> = order
                .iter()
                .filter(|o| successors(o).contains(&name))
                .collect();
            if back && leads.len() == 1 {
                let from = at(leads[0], &order).unwrap_or(i);
                if from + 1 < i {
                    let moved = order.remove(i);
                    order.insert(from + 1, moved);
                }
            }
            i += 1;
        }
        let index: HashMap<&str, usize> = order
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut edges = Vec::new();
        for (i, name) in order.iter().enumerate() {
            for (to, via) in targets(&states[name.as_str()]) {
                if let Some(&j) = index.get(resolve(to).as_str())
                    && !edges.contains(&(i, j, via))
                {
                    edges.push((i, j, via));
                }
            }
        }
        Ok(Graph {
            states: order
                .iter()
                .map(|n| {
                    let kind = states[n.as_str()]["Type"].as_str().unwrap_or("?");
                    (n.clone(), kind.to_owned())
                })
                .collect(),
            edges,
            folded,
        })
    }
}

/// One state as drawn.
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) kind: String,
    /// `passed`, `current`, `caught` (an error left it), `failed`, or `unreached`.
    pub(crate) status: &'static str,
    pub(crate) y: u32,
    pub(crate) text_y: u32,
}

/// One transition as drawn: an SVG path and its classes.
pub(crate) struct Arc {
    pub(crate) d: String,
    pub(crate) class: String,
}

/// The picture's data for the `run.html` template.
pub(crate) struct Picture {
    pub(crate) nodes: Vec<Node>,
    pub(crate) arcs: Vec<Arc>,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) box_x: u32,
    pub(crate) box_w: u32,
    pub(crate) box_h: u32,
    pub(crate) type_x: u32,
    /// What the picture shows, in words (for screen readers, and for anyone).
    pub(crate) summary: String,
}

fn graph(kind: RecordKind) -> Result<Graph, String> {
    match kind {
        RecordKind::Onboarding => Graph::parse(ONBOARDING),
        RecordKind::Offboarding => Graph::parse(OFFBOARDING),
    }
}

/// The picture of `kind`'s state machine with `path` marked on it (`None`: the run
/// has no execution yet, or it could not be read).
pub(crate) fn draw(kind: RecordKind, path: Option<&ExecutionPath>) -> Result<Picture, String> {
    let g = graph(kind)?;
    let index: HashMap<&str, usize> = g
        .states
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();
    // The run's path on the drawn states: folded adapters drop out.
    let visited: Vec<usize> = path
        .map(|p| {
            p.entered
                .iter()
                .filter(|n| !g.folded.contains_key(*n))
                .filter_map(|n| index.get(n.as_str()).copied())
                .collect()
        })
        .unwrap_or_default();
    let mut status: Vec<&'static str> = vec!["unreached"; g.states.len()];
    for &i in &visited {
        status[i] = "passed";
    }
    let mut taken: BTreeMap<(usize, usize), ()> = BTreeMap::new();
    for pair in visited.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        taken.insert((a, b), ());
        if g.edges.contains(&(a, b, Via::Error)) && !g.edges.contains(&(a, b, Via::Flow)) {
            status[a] = "caught";
        }
    }
    for (i, (_, kind)) in g.states.iter().enumerate() {
        if kind == "Fail" && status[i] == "passed" {
            status[i] = "failed";
        }
    }
    let running = path.is_some_and(|p| p.running);
    let current = visited.last().copied().filter(|_| running);
    if let Some(i) = current {
        status[i] = "current";
    }

    let y_of = |i: usize| TOP + i as u32 * ROW;
    let right = BOX_X + BOX_W;
    let mut widest = right + 20;
    let mut arcs = Vec::new();
    for &(a, b, via) in &g.edges {
        let (ya, yb) = (y_of(a), y_of(b));
        let d = if b == a + 1 {
            let x = BOX_X + 20;
            format!("M{x} {} V{}", ya + BOX_H, yb)
        } else if b > a {
            let span = (b - a) as u32;
            let bulge = 14 + 7 * span.min(26);
            widest = widest.max(right + bulge + 6);
            let (y1, y2) = (ya + BOX_H / 2, yb + BOX_H / 2);
            format!(
                "M{right} {y1} C{} {y1} {} {y2} {right} {y2}",
                right + bulge,
                right + bulge
            )
        } else {
            let span = (a - b) as u32;
            let bulge = (6 + 3 * span).min(BOX_X - 2);
            let (y1, y2) = (ya + BOX_H / 2, yb + BOX_H / 2);
            format!(
                "M{BOX_X} {y1} C{} {y1} {} {y2} {BOX_X} {y2}",
                BOX_X - bulge,
                BOX_X - bulge
            )
        };
        let mut class = String::from(match via {
            Via::Flow => "arc",
            Via::Error => "arc error",
        });
        if taken.contains_key(&(a, b)) {
            class.push_str(" taken");
        }
        arcs.push(Arc { d, class });
    }
    let nodes = g
        .states
        .iter()
        .enumerate()
        .map(|(i, (name, kind))| Node {
            name: name.clone(),
            kind: kind.clone(),
            status: status[i],
            y: y_of(i),
            text_y: y_of(i) + BOX_H / 2 + 5,
        })
        .collect();
    let summary = summary(&g, &visited, &status, current, path.is_some());
    Ok(Picture {
        nodes,
        arcs,
        width: widest,
        height: y_of(g.states.len()) + TOP,
        box_x: BOX_X,
        box_w: BOX_W,
        box_h: BOX_H,
        type_x: BOX_X + BOX_W - 6,
        summary,
    })
}

/// The picture in words.
fn summary(
    g: &Graph,
    visited: &[usize],
    status: &[&str],
    current: Option<usize>,
    started: bool,
) -> String {
    if !started {
        return "The run's execution has not started, or its history cannot be read.".into();
    }
    let mut names: Vec<&str> = Vec::new();
    for &i in visited {
        let name = g.states[i].0.as_str();
        if names.last() != Some(&name) {
            names.push(name);
        }
    }
    let mut text = format!("States entered, in order: {}.", names.join(", "));
    if let Some(i) = current {
        text.push_str(&format!(" Now in {}.", g.states[i].0));
    }
    for (i, s) in status.iter().enumerate() {
        if *s == "caught" {
            text.push_str(&format!(" An error left {}.", g.states[i].0));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(states: &[&str], running: bool) -> ExecutionPath {
        ExecutionPath {
            entered: states.iter().map(|s| (*s).to_owned()).collect(),
            running,
        }
    }

    fn status_of<'a>(p: &'a Picture, name: &str) -> &'a str {
        p.nodes.iter().find(|n| n.name == name).unwrap().status
    }

    #[test]
    fn every_state_but_the_error_adapters_is_drawn_once_in_flow_order() {
        for kind in RecordKind::ALL {
            let g = graph(*kind).unwrap();
            let def: Value = serde_json::from_str(match kind {
                RecordKind::Onboarding => ONBOARDING,
                RecordKind::Offboarding => OFFBOARDING,
            })
            .unwrap();
            let all = def["States"].as_object().unwrap();
            assert_eq!(g.states.len() + g.folded.len(), all.len(), "{kind:?}");
            assert_eq!(g.states[0].0, def["StartAt"].as_str().unwrap());
            // Each `Next` of a drawn state is drawn after it, but a wait loop's return.
            let at = |n: &str| g.states.iter().position(|(s, _)| s == n).unwrap();
            for (name, _) in &g.states {
                if let Some(next) = all[name.as_str()]["Next"].as_str()
                    && !g.folded.contains_key(next)
                    && all[name.as_str()]["Type"] != "Wait"
                {
                    assert!(at(next) > at(name), "{name} -> {next}");
                }
            }
        }
        let g = graph(RecordKind::Onboarding).unwrap();
        assert!(g.folded.contains_key("CreateUserFailed"));
        assert!(
            !g.folded.contains_key("Cancelled"),
            "a Succeed state is drawn"
        );
    }

    #[test]
    fn a_waiting_run_is_shown_where_it_waits() {
        let p = draw(
            RecordKind::Onboarding,
            Some(&path(
                &[
                    "Validate",
                    "EnsureTicket",
                    "ApprovalRequired",
                    "RequestApproval",
                ],
                true,
            )),
        )
        .unwrap();
        assert_eq!(status_of(&p, "Validate"), "passed");
        assert_eq!(status_of(&p, "RequestApproval"), "current");
        assert_eq!(status_of(&p, "CreateUser"), "unreached");
        assert!(
            p.summary.ends_with("Now in RequestApproval."),
            "{}",
            p.summary
        );
        assert!(p.arcs.iter().any(|a| a.class == "arc taken"));
    }

    #[test]
    fn an_error_caught_marks_the_state_it_left_and_the_failure() {
        let p = draw(
            RecordKind::Onboarding,
            Some(&path(
                &[
                    "Validate",
                    "EnsureTicket",
                    "ApprovalRequired",
                    "StartDateAhead",
                    "CreateUser",
                    "CreateUserFailed",
                    "HandleFailure",
                    "Failed",
                ],
                false,
            )),
        )
        .unwrap();
        assert_eq!(status_of(&p, "CreateUser"), "caught");
        assert_eq!(status_of(&p, "HandleFailure"), "passed");
        assert_eq!(status_of(&p, "Failed"), "failed");
        assert!(p.summary.contains("An error left CreateUser."));
        assert!(p.arcs.iter().any(|a| a.class == "arc error taken"));
    }

    #[test]
    fn a_run_without_an_execution_is_drawn_unreached() {
        let p = draw(RecordKind::Offboarding, None).unwrap();
        assert!(p.nodes.iter().all(|n| n.status == "unreached"));
        assert!(p.summary.contains("has not started"));
    }
}
