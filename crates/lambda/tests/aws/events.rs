//! Every `events/<function>.json` is what the state machine sends that function,
//! and its handler accepts it: the payload reaches the step (no `Step.InvalidInput`).

use std::collections::BTreeSet;

use onboard_lambda::handle;
use onboard_steps::FUNCTIONS;
use serde_json::Value;

use crate::{deps, kebab, root};

fn event(function: &str) -> Value {
    let path = root()
        .join("events")
        .join(format!("{}.json", kebab(function)));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn every_handler_accepts_its_sample_event() {
    let dir = tempfile::tempdir().unwrap();
    let deps = deps(dir.path()).await;
    for function in FUNCTIONS {
        let result = handle(&deps, function, event(function)).await;
        // The sample names no stored onboarding, so most steps fail after reading
        // their input; what matters is that they got that far.
        if let Err(diagnostic) = &result {
            assert!(
                !matches!(
                    diagnostic.error_type.as_str(),
                    "Step.InvalidInput" | "Step.UnknownFunction"
                ),
                "{function}: {diagnostic:?}"
            );
            assert!(
                onboard_steps::StepError::NAMES.contains(&diagnostic.error_type.as_str()),
                "{function}: {} is no stable error name",
                diagnostic.error_type
            );
        }
    }
}

#[tokio::test]
async fn a_payload_without_the_onboarding_id_is_reported_as_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let deps = deps(dir.path()).await;
    for function in FUNCTIONS {
        let mut payload = event(function);
        let fields = payload.as_object_mut().unwrap();
        // Onboarding steps take `onboarding_id`, offboarding steps `offboarding_id`.
        let removed = ["onboarding_id", "offboarding_id"]
            .iter()
            .filter(|id| fields.remove(**id).is_some())
            .count();
        assert_eq!(removed, 1, "{function}: the event names one record");
        let diagnostic = handle(&deps, function, payload).await.unwrap_err();
        assert_eq!(diagnostic.error_type, "Step.InvalidInput", "{function}");
    }
}

/// The fields of what the state machine passes to `function`: a Task's
/// `Parameters` (or a `waitForTaskToken` task's `Parameters.Payload`), `.$` dropped.
fn sent_fields(definition: &Value, function: &str) -> Vec<BTreeSet<String>> {
    let arn = format!("${{{function}FunctionArn}}");
    let mut found = Vec::new();
    let mut stack = vec![definition];
    while let Some(node) = stack.pop() {
        if let Some(states) = node.get("States").and_then(Value::as_object) {
            for state in states.values() {
                for branch in state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    stack.push(branch);
                }
                if state.get("Iterator").is_some() {
                    stack.push(&state["Iterator"]);
                }
                let params = &state["Parameters"];
                let payload = if state["Resource"].as_str() == Some(arn.as_str()) {
                    params
                } else if params["FunctionName"].as_str() == Some(arn.as_str()) {
                    &params["Payload"]
                } else {
                    continue;
                };
                let fields = payload
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|k| k.trim_end_matches(".$").to_owned())
                    .collect();
                found.push(fields);
            }
        }
    }
    found
}

#[test]
fn every_sample_event_has_the_fields_the_state_machine_sends() {
    let definitions: Vec<Value> = ["onboarding", "offboarding"]
        .iter()
        .map(|name| {
            let path = root().join(format!("statemachine/{name}.asl.json"));
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        })
        .collect();
    for function in FUNCTIONS {
        let sent: Vec<BTreeSet<String>> = definitions
            .iter()
            .flat_map(|definition| sent_fields(definition, function))
            .collect();
        assert!(!sent.is_empty(), "no state calls {function}");
        let fields: BTreeSet<String> = event(function)
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert!(
            sent.contains(&fields),
            "events/{}.json has {fields:?}; the state machine sends {sent:?}",
            kebab(function)
        );
    }
}

#[test]
fn every_function_of_the_template_has_a_sample_event() {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let template: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let events: Vec<String> = std::fs::read_dir(root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let package = resource["Properties"]["CodeUri"]
            .as_str()
            .unwrap()
            .trim_start_matches("functions/");
        let samples: Vec<&String> = events
            .iter()
            .filter(|e| *e == &format!("{package}.json") || e.starts_with(&format!("{package}-")))
            .collect();
        assert!(!samples.is_empty(), "{name:?}: no events/{package}*.json");
        for sample in samples {
            let text = std::fs::read_to_string(root().join("events").join(sample)).unwrap();
            let _: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{sample}: {e}"));
        }
    }
}

#[test]
fn the_reminder_sample_is_an_eventbridge_scheduled_event() {
    let text = std::fs::read_to_string(root().join("events/remind-approvers.json")).unwrap();
    let event: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["source"], "aws.events");
}
