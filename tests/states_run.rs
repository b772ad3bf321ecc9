//! `onboard states run` as CONTRACT.md §1 specifies it: one JSON object on stdout, exit
//! 0 / 1 / 2, mock configurations in the AWS Step Functions Local format.
#![allow(clippy::unwrap_used)] // Test code.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {:?}", self.stdout))
    }
}

fn run(args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_onboard"))
        .args(["states", "run"])
        .args(args)
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

/// A scratch directory, removed when the test ends (however it ends).
struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.0.path()
    }
}

fn tmp() -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix("onboard-states-run-")
            .tempdir()
            .unwrap(),
    )
}

#[test]
fn a_succeeding_definition_prints_status_and_output_and_exits_0() {
    let d = tmp();
    let def = write(
        &d,
        "m.json",
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": true}, "ResultPath": "$.r", "End": true}}}),
    );
    let out = run(&[def.to_str().unwrap(), "--input", r#"{"a":1}"#]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.json(),
        json!({"status": "SUCCEEDED", "output": {"a": 1, "r": {"ok": true}}, "error": null, "cause": null})
    );
}

#[test]
fn a_failing_execution_exits_1_with_error_and_cause() {
    let d = tmp();
    let def = write(
        &d,
        "m.json",
        &json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "because"}}}),
    );
    let out = run(&[def.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.json(),
        json!({"status": "FAILED", "output": null, "error": "Nope", "cause": "because"})
    );
}

#[test]
fn an_invalid_definition_exits_2_naming_the_place_with_nothing_on_stdout() {
    let d = tmp();
    let def = write(
        &d,
        "m.json",
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}),
    );
    let out = run(&[def.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("/States/A/Next") && out.stderr.contains("'Missing'"),
        "{}",
        out.stderr
    );
}

#[test]
fn invalid_input_and_unreadable_files_exit_2() {
    let d = tmp();
    let def = write(
        &d,
        "m.json",
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}),
    );
    let out = run(&[def.to_str().unwrap(), "--input", "{not json"]);
    assert_eq!((out.code, out.stdout.is_empty()), (2, true));
    assert!(out.stderr.contains("input"), "{}", out.stderr);
    let out = run(&[d.join("absent.json").to_str().unwrap()]);
    assert_eq!((out.code, out.stdout.is_empty()), (2, true));
    std::fs::write(d.join("broken.json"), "{").unwrap();
    let out = run(&[d.join("broken.json").to_str().unwrap()]);
    assert_eq!((out.code, out.stdout.is_empty()), (2, true));
}

#[test]
fn input_file_is_read() {
    let d = tmp();
    let def = write(
        &d,
        "m.json",
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$.x", "End": true}}}),
    );
    let input = write(&d, "in.json", &json!({"x": [1, 2]}));
    let out = run(&[
        def.to_str().unwrap(),
        "--input-file",
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.json()["output"], json!([1, 2]));
}

fn lambda_machine() -> Value {
    json!({"StartAt": "LambdaState", "States": {
        "LambdaState": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
            "Retry": [{"ErrorEquals": ["Lambda.ResourceNotReadyException"], "IntervalSeconds": 600, "MaxAttempts": 3}], "Next": "SQSState"},
        "SQSState": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "ResultPath": "$.sqs", "End": true}}})
}

fn mocks() -> Value {
    json!({
        "StateMachines": {"LambdaSQSIntegration": {"TestCases": {
            "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
            "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
            "HybridPath": {"LambdaState": "MockedLambdaSuccess"}}}},
        "MockedResponses": {
            "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}},
            "MockedSQSSuccess": {"0": {"Return": {"MD5OfMessageBody": "3bcb6e8e", "MessageId": "3bcb6e8e-8b51"}}},
            "MockedLambdaRetry": {
                "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready."}},
                "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
                "3": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}}}
    })
}

#[test]
fn the_aws_mock_configuration_example_runs_its_test_cases() {
    let d = tmp();
    let def = write(&d, "LambdaSQSIntegration.asl.json", &lambda_machine());
    let m = write(&d, "MockConfigFile.json", &mocks());
    let happy = run(&[
        def.to_str().unwrap(),
        "--mock-config",
        m.to_str().unwrap(),
        "--test-case",
        "HappyPath",
    ]);
    assert_eq!(happy.code, 0, "{}", happy.stderr);
    assert_eq!(
        happy.json()["output"],
        json!({"StatusCode": 200, "body": "Hello from Lambda!", "sqs": {"MD5OfMessageBody": "3bcb6e8e", "MessageId": "3bcb6e8e-8b51"}})
    );

    // Invocation 1 throws an error the Retry does not list: the execution fails with it.
    let retry = run(&[
        def.to_str().unwrap(),
        "--mock-config",
        m.to_str().unwrap(),
        "--test-case",
        "RetryPath",
    ]);
    assert_eq!(retry.code, 1);
    assert_eq!(retry.json()["error"], json!("Lambda.TimeoutException"));

    // A Task without a mock fails with a States.TaskFailed naming the state.
    let hybrid = run(&[
        def.to_str().unwrap(),
        "--mock-config",
        m.to_str().unwrap(),
        "--test-case",
        "HybridPath",
    ]);
    assert_eq!(hybrid.code, 1);
    assert_eq!(hybrid.json()["error"], json!("States.TaskFailed"));
    assert!(
        hybrid.json()["cause"]
            .as_str()
            .unwrap()
            .contains("SQSState")
    );
}

#[test]
fn state_machine_name_selects_the_mock_entry_and_bad_cases_exit_2() {
    let d = tmp();
    let def = write(&d, "other.json", &lambda_machine());
    let m = write(&d, "mocks.json", &mocks());
    let by_stem = run(&[
        def.to_str().unwrap(),
        "--mock-config",
        m.to_str().unwrap(),
        "--test-case",
        "HappyPath",
    ]);
    assert_eq!(
        by_stem.code, 2,
        "the stem 'other' names no StateMachines entry"
    );
    assert!(by_stem.stdout.is_empty() && by_stem.stderr.contains("other"));
    let named = run(&[
        def.to_str().unwrap(),
        "--mock-config",
        m.to_str().unwrap(),
        "--test-case",
        "HappyPath",
        "--state-machine-name",
        "LambdaSQSIntegration",
    ]);
    assert_eq!(named.code, 0, "{}", named.stderr);
    let unknown = run(&[
        def.to_str().unwrap(),
        "--mock-config",
        m.to_str().unwrap(),
        "--test-case",
        "Nope",
        "--state-machine-name",
        "LambdaSQSIntegration",
    ]);
    assert_eq!(unknown.code, 2);
}

#[test]
fn history_lists_aws_event_types() {
    let d = tmp();
    let def = write(
        &d,
        "m.json",
        &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 86400, "Next": "P"}, "P": {"Type": "Pass", "End": true}}}),
    );
    let out = run(&[def.to_str().unwrap(), "--history"]);
    assert_eq!(out.code, 0);
    let types: Vec<String> = out.json()["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "WaitStateEntered",
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

/// The `${...}` placeholders of a shipped state machine, each once.
fn placeholders_of(definition: &str) -> Vec<String> {
    let mut names: Vec<String> = definition
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.to_owned())
        .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn shipped(name: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("statemachine")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn a_shipped_state_machine_without_its_substitutions_exits_2_naming_them() {
    let (path, text) = shipped("onboarding.asl.json");
    let o = run(&[path.to_str().unwrap()]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr.contains("--substitution") && o.stderr.contains("${ValidateFunctionArn}"),
        "{}",
        o.stderr
    );
    assert!(!placeholders_of(&text).is_empty());

    let bad = run(&[path.to_str().unwrap(), "--substitution", "NoSuchName=x"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("no `${NoSuchName}`"), "{}", bad.stderr);
    let malformed = run(&[path.to_str().unwrap(), "--substitution", "no-equals-sign"]);
    assert_eq!(malformed.code, 2);
    assert!(
        malformed.stderr.contains("NAME=VALUE"),
        "{}",
        malformed.stderr
    );
}

#[test]
fn a_shipped_state_machine_runs_with_substitutions_and_mocks() {
    let (path, text) = shipped("onboarding.asl.json");
    let mut args: Vec<String> = vec![path.to_str().unwrap().to_owned()];
    for name in placeholders_of(&text) {
        args.push("--substitution".into());
        args.push(format!(
            "{name}=arn:aws:lambda:us-east-1:123456789012:function:{name}"
        ));
    }
    // Validate fails: the state machine notes it through HandleFailure and fails.
    let d = tmp();
    let mocks = write(
        &d,
        "mocks.json",
        &json!({
            "StateMachines": {"onboarding": {"TestCases": {"ValidateFails": {
                "Validate": "Invalid", "HandleFailure": "Handled"
            }}}},
            "MockedResponses": {
                "Invalid": {"0": {"Throw": {"Error": "Request.Invalid", "Cause": "last_name is required"}}},
                "Handled": {"0": {"Return": {"handled": true}}}
            }
        }),
    );
    args.extend([
        "--input".into(),
        r#"{"onboarding_id": "o-1"}"#.into(),
        "--mock-config".into(),
        mocks.to_str().unwrap().into(),
        "--test-case".into(),
        "ValidateFails".into(),
        "--history".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let o = run(&args);

    assert_eq!(o.code, 1, "{}", o.stderr);
    let out = o.json();
    assert_eq!(out["status"], json!("FAILED"), "{out}");
    let entered: Vec<&str> = out["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["stateEnteredEventDetails"]["name"].as_str())
        .collect();
    assert_eq!(
        entered,
        ["Validate", "ValidateFailed", "HandleFailure", "Failed"],
        "{out}"
    );
}
