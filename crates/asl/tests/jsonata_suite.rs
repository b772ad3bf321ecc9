//! Runs a vendored sample of JSONata's own test suite (`tests/jsonata-suite/cases.json`,
//! source and licence recorded in that file) through [`onboard_asl::jsonata::Expr`], the
//! evaluator JSONata states use, and reports how much of it passes.
//!
//! The floor below is the pass count measured when the sample was vendored: a change
//! that makes the crate pass fewer cases fails this test. Run with `--nocapture` to see
//! every failing case.

#![allow(clippy::unwrap_used)] // Test code: a broken fixture should stop the test loudly.

use onboard_asl::jsonata::Expr;
use serde_json::{Map, Value};

/// Cases that passed when the sample was vendored.
const PASS_FLOOR: usize = 131;

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || ((x - y).abs() <= 1e-9 * x.abs().max(y.abs()))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn jsonata_test_suite_sample() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/jsonata-suite/cases.json"
    );
    let suite: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let datasets = suite["datasets"].as_object().unwrap();
    let (mut pass, mut fail, mut skipped) = (0usize, Vec::new(), 0usize);
    for (group, cases) in suite["groups"].as_object().unwrap() {
        for (i, c) in cases.as_array().unwrap().iter().enumerate() {
            let input = match c["dataset"].as_i64() {
                Some(-1) | None => None,
                Some(n) => match datasets.get(&n.to_string()) {
                    Some(d) => Some(d),
                    None => {
                        skipped += 1;
                        continue;
                    }
                },
            };
            let expr = c["expr"].as_str().unwrap();
            let bindings: Map<String, Value> =
                c["bindings"].as_object().cloned().unwrap_or_default();
            let got = Expr::parse(expr)
                .map_err(|m| ("parse".to_string(), m))
                .and_then(|e| {
                    e.eval_with_input(input, &bindings)
                        .map_err(|x| (x.code, x.message))
                });
            let ok = match (&got, c.get("result"), c.get("code")) {
                (Ok(Some(v)), Some(want), _) => same(v, want),
                (Ok(None), _, _) if c.get("undefinedResult").is_some() => true,
                (Err((code, m)), _, Some(want)) if code == "parse" => {
                    m.contains(want.as_str().unwrap_or("?"))
                }
                (Err((code, _)), _, Some(want)) => want.as_str() == Some(code.as_str()),
                _ => false,
            };
            if ok {
                pass += 1;
            } else {
                fail.push(format!("{group}[{i}] {expr}: got {got:?}"));
            }
        }
    }
    let run = pass + fail.len();
    eprintln!(
        "JSONata test-suite sample: {pass} of {run} run cases pass ({skipped} skipped: their dataset is not vendored)"
    );
    for f in &fail {
        eprintln!("  FAIL {f}");
    }
    assert!(
        pass >= PASS_FLOOR,
        "{pass} cases pass, fewer than the {PASS_FLOOR} recorded"
    );
}
