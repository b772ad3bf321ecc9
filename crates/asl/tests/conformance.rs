//! The conformance suite: every file in `tests/cases/` (one per section of the AWS
//! documentation) holds cases of definition + input (+ mocks) + expected result, written
//! from AWS's documented rules and examples. One binary runs them all.

#![allow(clippy::unwrap_used)] // Test code: a broken fixture should stop the suite loudly.

use onboard_asl::mock::MockConfig;
use onboard_asl::{Engine, EngineOptions, MemoryStore, VirtualClock};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

struct Case {
    file: String,
    name: String,
    body: Value,
}

fn load_cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let file = f.file_name().unwrap().to_string_lossy().to_string();
        for c in v["cases"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: no cases"))
        {
            let name = c["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{file}: a case has no name"))
                .to_string();
            out.push(Case {
                file: file.clone(),
                name,
                body: c.clone(),
            });
        }
    }
    out
}

async fn run_case(c: &Case) -> Result<(), String> {
    let b = &c.body;
    let def = serde_json::to_string(&b["definition"]).unwrap();
    let mocks = b.get("mocks").cloned().unwrap_or(json!({}));
    let mut cfg =
        json!({"StateMachines": {"case": {"TestCases": {"t": {}}}}, "MockedResponses": {}});
    for (state, responses) in mocks.as_object().unwrap() {
        cfg["StateMachines"]["case"]["TestCases"]["t"][state] = json!(format!("{state}Mock"));
        cfg["MockedResponses"][format!("{state}Mock")] = responses.clone();
    }
    let dispatcher = MockConfig::parse(&cfg.to_string())
        .map_err(|e| format!("bad mocks: {e}"))?
        .dispatcher("case", "t")
        .map_err(|e| e.to_string())?;
    let clock = Arc::new(VirtualClock::new("2024-01-01T00:00:00Z".parse().unwrap()));
    let engine = Engine::with_options(
        Arc::new(MemoryStore::new()),
        clock,
        Arc::new(dispatcher),
        EngineOptions {
            keep_history: true,
            max_events: Some(25_000),
        },
    );
    let expect = &b["expect"];
    let registered = engine.register("case", &def);
    if let Some(want) = expect.get("invalid") {
        return match registered {
            Ok(_) => Err("the definition was accepted; expected it to be refused".into()),
            Err(e) => {
                let msg = e.to_string();
                let want = want.as_str().unwrap_or("");
                if msg.contains(want) {
                    Ok(())
                } else {
                    Err(format!(
                        "refused with {msg:?}, expected a message containing {want:?}"
                    ))
                }
            }
        };
    }
    let arn = registered.map_err(|e| format!("refused: {e}"))?;
    let input = b.get("input").cloned().unwrap_or(json!({}));
    let exec = engine
        .start_execution(&arn, Some("exec"), input)
        .await
        .map_err(|e| e.to_string())?;
    let rec = engine
        .run_to_completion(&exec)
        .await
        .map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    if let Some(s) = expect.get("status")
        && s.as_str() != Some(rec.status.as_str())
    {
        problems.push(format!(
            "status {} (expected {s}); error {:?} cause {:?}",
            rec.status.as_str(),
            rec.error,
            rec.cause
        ));
    }
    if let Some(o) = expect.get("output")
        && rec.output.clone().unwrap_or(Value::Null) != *o
    {
        problems.push(format!(
            "output {} (expected {o})",
            rec.output.clone().unwrap_or(Value::Null)
        ));
    }
    if let Some(e) = expect.get("error")
        && rec.error.as_deref() != e.as_str()
    {
        problems.push(format!(
            "error {:?} (expected {e}); cause {:?}",
            rec.error, rec.cause
        ));
    }
    if let Some(cs) = expect.get("cause")
        && rec.cause.as_deref() != cs.as_str()
    {
        problems.push(format!("cause {:?} (expected {cs})", rec.cause));
    }
    if let Some(cs) = expect.get("cause_contains").and_then(Value::as_str)
        && !rec.cause.as_deref().unwrap_or("").contains(cs)
    {
        problems.push(format!(
            "cause {:?} (expected it to contain {cs:?})",
            rec.cause
        ));
    }
    if let Some(h) = expect.get("history_contains").and_then(Value::as_array) {
        let types: Vec<&str> = rec.history.iter().map(|e| e.kind.as_str()).collect();
        let mut at = 0;
        for want in h.iter().filter_map(Value::as_str) {
            match types[at..].iter().position(|t| *t == want) {
                Some(p) => at += p + 1,
                None => problems.push(format!("history lacks {want} in order: {types:?}")),
            }
        }
    }
    if let Some(n) = expect
        .get("end_time_offset_seconds")
        .and_then(Value::as_i64)
    {
        let start: jiff::Timestamp = rec.start_date.parse().unwrap();
        let stop: jiff::Timestamp = rec
            .stop_date
            .clone()
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("{e}"))?;
        let got = stop.duration_since(start).as_secs();
        if got != n {
            problems.push(format!("ended {got}s after the start (expected {n}s)"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_conformance_case_behaves_as_aws_documents() {
    let cases = load_cases();
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(e) = run_case(c).await {
            failures.push(format!("{} / {}: {e}", c.file, c.name));
        }
    }
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(
            names.insert((c.file.clone(), c.name.clone())),
            "duplicate case name {} / {}",
            c.file,
            c.name
        );
    }
    eprintln!(
        "{} conformance cases, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
