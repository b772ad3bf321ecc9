//! The state machine and the steps agree: every error name it matches is one a step
//! can raise, every function it calls is registered, and each state is named after
//! its function.

use std::collections::BTreeSet;

use onboard_steps::StepError;
use onboard_steps::dispatch::{FUNCTIONS, step_name};
use serde_json::Value;

fn machines() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../statemachine");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".asl.json") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            ));
        }
    }
    assert!(!out.is_empty(), "no state machine in {dir}");
    out
}

/// Every state of a machine, nested ones (Parallel, Map) included.
fn states(machine: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Some(map) = machine["States"].as_object() {
        for (name, state) in map {
            out.push((name.clone(), state.clone()));
            for branch in state["Branches"].as_array().into_iter().flatten() {
                out.extend(states(branch));
            }
            for key in ["Iterator", "ItemProcessor"] {
                if state.get(key).is_some() {
                    out.extend(states(&state[key]));
                }
            }
        }
    }
    out
}

/// The function a Task calls: `${NameFunctionArn}` as Resource or FunctionName.
fn function_of(state: &Value) -> Option<String> {
    let resource = state["Resource"].as_str()?;
    let arn = if resource.starts_with("arn:aws:states:::lambda:invoke") {
        state["Parameters"]["FunctionName"].as_str()?
    } else {
        resource
    };
    arn.strip_prefix("${")?
        .strip_suffix("FunctionArn}")
        .map(str::to_owned)
}

#[test]
fn every_error_name_the_machines_match_is_one_a_step_can_raise() {
    for (file, machine) in machines() {
        for (name, state) in states(&machine) {
            for list in ["Retry", "Catch"] {
                for rule in state[list].as_array().into_iter().flatten() {
                    for error in rule["ErrorEquals"].as_array().unwrap() {
                        let error = error.as_str().unwrap();
                        // Raised by Step Functions and Lambda, not by a step
                        // (`Sandbox.Timedout`: the function ran out of time).
                        if error.starts_with("States.")
                            || error.starts_with("Lambda.")
                            || error == "Sandbox.Timedout"
                        {
                            continue;
                        }
                        assert!(
                            StepError::NAMES.contains(&error),
                            "{file}: state {name} matches {error}, which no step raises"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn every_task_retries_every_transient_error() {
    for (file, machine) in machines() {
        for (name, state) in states(&machine) {
            if state["Type"] != "Task" {
                continue;
            }
            let retried: BTreeSet<&str> = state["Retry"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
                .filter_map(|e| e.as_str())
                .collect();
            // A function that ran out of time is retried like any transient
            // error: steps are idempotent, and their retry budget ends before
            // the function's timeout, so this is the last resort.
            assert!(
                retried.contains("Sandbox.Timedout"),
                "{file}: {name} does not retry Sandbox.Timedout"
            );
            for transient in StepError::TRANSIENT {
                assert!(
                    retried.contains(transient),
                    "{file}: {name} does not retry {transient}"
                );
            }
        }
    }
}

#[test]
fn every_function_called_is_registered_and_states_carry_its_name() {
    let mut called = BTreeSet::new();
    let handlers = [
        ("onboarding.asl.json", "HandleFailure"),
        ("offboarding.asl.json", "HandleOffboardingFailure"),
    ];
    for (file, handler) in handlers {
        let (_, machine) = machines()
            .into_iter()
            .find(|(f, _)| f == file)
            .unwrap_or_else(|| panic!("no {file}"));
        let all = states(&machine);
        for (name, state) in &all {
            let Some(function) = function_of(state) else {
                continue;
            };
            assert!(
                FUNCTIONS.contains(&function.as_str()),
                "{file}: state {name} calls {function}, which dispatch does not know"
            );
            assert!(
                name.starts_with(&function),
                "{file}: state {name} calls {function}: its name must start with the function's"
            );
            // Its Catch names the failed step for the handler with the function's log name.
            if function != handler {
                let catch_all = state["Catch"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["ErrorEquals"] == serde_json::json!(["States.ALL"]))
                    .unwrap_or_else(|| panic!("{file}: {name} has no Catch of States.ALL"));
                let pass = &all
                    .iter()
                    .find(|(n, _)| n == catch_all["Next"].as_str().unwrap())
                    .unwrap()
                    .1;
                assert_eq!(
                    pass["Result"],
                    step_name(&function).unwrap(),
                    "{file}: {name}"
                );
                assert_eq!(pass["Next"], handler, "{file}: {name}");
            }
            called.insert(function);
        }
    }
    let registered: BTreeSet<String> = FUNCTIONS.iter().map(|f| (*f).to_owned()).collect();
    assert_eq!(called, registered, "every registered function is used");
}

#[test]
fn waits_and_timeouts_come_from_the_state_data() {
    let all = machines();
    assert!(all.iter().any(|(f, _)| f == "offboarding.asl.json"));
    for (file, machine) in all {
        waits_and_timeouts_of(&file, &machine);
    }
}

fn waits_and_timeouts_of(file: &str, machine: &Value) {
    for (name, state) in states(machine) {
        let name = format!("{file}: {name}");
        assert!(
            state.get("TimeoutSeconds").is_none(),
            "{name}: constant timeout"
        );
        assert!(state.get("Seconds").is_none(), "{name}: constant wait");
        assert!(
            state.get("Assign").is_none(),
            "{name}: variables are not used"
        );
        if state["Resource"]
            .as_str()
            .is_some_and(|r| r.ends_with(".waitForTaskToken"))
        {
            assert!(
                state["TimeoutSecondsPath"]
                    .as_str()
                    .unwrap()
                    .starts_with("$.plan.")
            );
            assert_eq!(
                state["Parameters"]["Payload"]["task_token.$"],
                "$$.Task.Token"
            );
        }
    }
    assert!(machine.get("QueryLanguage").is_none_or(|q| q == "JSONPath"));
}
