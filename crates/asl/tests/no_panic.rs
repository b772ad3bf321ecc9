//! Property tests: no input makes parsing, JSONPath, intrinsics or a run panic or hang.
#![allow(clippy::unwrap_used)] // Test code.

use onboard_asl::intrinsics::Intrinsic;
use onboard_asl::json_path::JsonPath;
use onboard_asl::mock::MockDispatcher;
use onboard_asl::payload::Scope;
use onboard_asl::{Engine, EngineOptions, MemoryStore, VirtualClock, parse};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        "[a-z$.\\[\\]*?@'0-9 ]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z.$]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Path-like text: mostly valid-looking pieces, sometimes garbage.
fn path_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "\\.[a-z]{1,3}",
        "\\[[0-9-]{1,2}\\]",
        Just("[*]".to_string()),
        Just("..a".to_string()),
        Just(".*".to_string()),
        "\\[[0-9]?:[0-9-]?\\]",
        "\\['[a-z ]{0,3}'\\]",
        "\\[\\?\\(@\\.[a-z]{1,2} ?[<>=!]{1,2} ?[0-9'a]{1,3}\\)\\]",
        ".{0,3}",
    ];
    (
        prop_oneof![Just("$"), Just("$$"), Just("$v")],
        prop::collection::vec(piece, 0..5),
    )
        .prop_map(|(r, ps)| format!("{r}{}", ps.concat()))
}

fn intrinsic_text() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("Format"),
        Just("StringToJson"),
        Just("JsonToString"),
        Just("Array"),
        Just("ArrayPartition"),
        Just("ArrayContains"),
        Just("ArrayRange"),
        Just("ArrayGetItem"),
        Just("ArrayLength"),
        Just("ArrayUnique"),
        Just("Base64Encode"),
        Just("Base64Decode"),
        Just("Hash"),
        Just("JsonMerge"),
        Just("MathRandom"),
        Just("MathAdd"),
        Just("StringSplit"),
        Just("UUID"),
        Just("Nope"),
    ];
    let arg = prop_oneof![
        "'[a-z{}\\\\ ,]{0,6}'",
        "-?[0-9]{1,4}",
        Just("true".to_string()),
        Just("null".to_string()),
        path_text(),
        Just("States.Array(1, 2)".to_string()),
        Just("'SHA-256'".to_string()),
    ];
    (name, prop::collection::vec(arg, 0..4), any::<bool>()).prop_map(|(n, a, close)| {
        format!(
            "States.{n}({}{}",
            a.join(", "),
            if close { ")" } else { "" }
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn json_paths_never_panic(p in path_text(), v in json_value(), w in json_value()) {
        if let Ok(path) = JsonPath::parse(&p) {
            let _ = path.select(&v);
            let _ = path.set(v, w);
        }
    }

    #[test]
    fn arbitrary_text_as_a_path_never_panics(p in "\\PC{0,20}") {
        let _ = JsonPath::parse(&p).map(|x| x.select(&json!({"a": [1, {"b": 2}]})));
    }

    #[test]
    fn intrinsics_never_panic(t in intrinsic_text(), input in json_value()) {
        if let Ok(f) = Intrinsic::parse(&t) {
            let ctx = json!({"Execution": {"Id": "x"}});
            let vars = Map::new();
            let _ = f.eval(&Scope { input: &input, context: &ctx, vars: &vars });
        }
    }

    #[test]
    fn arbitrary_json_as_a_definition_never_panics(v in json_value()) {
        let _ = parse::parse_value(&v);
        let wrapped = json!({"StartAt": "A", "States": {"A": v}});
        let _ = parse::parse_value(&wrapped);
    }

    #[test]
    fn arbitrary_text_as_a_definition_never_panics(t in "\\PC{0,64}") {
        let _ = parse::parse(&t);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn generated_machines_run_to_an_end(states in prop::collection::vec(state(), 1..6), input in json_value()) {
        let names: Vec<String> = (0..states.len()).map(|i| format!("S{i}")).collect();
        let mut m = serde_json::Map::new();
        for (i, mut s) in states.into_iter().enumerate() {
            let next = names.get(i + 1).cloned();
            if let Some(o) = s.as_object_mut() {
                let ty = o.get("Type").and_then(Value::as_str).unwrap_or("").to_string();
                if ty == "Choice" {
                    o.insert("Default".into(), json!(next.clone().unwrap_or_else(|| "S0".into())));
                    if let Some(Value::Array(cs)) = o.get_mut("Choices") {
                        for c in cs { c["Next"] = json!(names[0]); }
                    }
                } else if !matches!(ty.as_str(), "Succeed" | "Fail") {
                    match next { Some(n) => { o.insert("Next".into(), json!(n)); } None => { o.insert("End".into(), json!(true)); } }
                }
            }
            m.insert(names[i].clone(), s);
        }
        let def = json!({"StartAt": "S0", "States": m}).to_string();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let clock = Arc::new(VirtualClock::new("2024-01-01T00:00:00Z".parse().unwrap()));
            let options = EngineOptions { keep_history: false, max_events: Some(2_000) };
            let engine = Engine::with_options(Arc::new(MemoryStore::new()), clock, Arc::new(MockDispatcher::empty()), options);
            if let Ok(sm) = engine.register("g", &def)
                && let Ok(arn) = engine.start_execution(&sm, None, input).await
            {
                let rec = engine.run_to_completion(&arn).await.unwrap();
                prop_assert_ne!(rec.status.as_str(), "RUNNING");
            }
            Ok(())
        })?;
    }
}

fn state() -> impl Strategy<Value = Value> {
    let path = prop_oneof![
        Just(json!("$")),
        Just(json!("$.a")),
        Just(json!("$.a[0]")),
        Just(Value::Null),
        Just(json!("$.b.c"))
    ];
    prop_oneof![
        (path.clone(), path.clone(), json_value()).prop_map(
            |(i, r, res)| json!({"Type": "Pass", "InputPath": i, "ResultPath": r, "Result": res})
        ),
        (path.clone(), intrinsic_text()).prop_map(
            |(o, f)| json!({"Type": "Pass", "OutputPath": o, "Parameters": {"x.$": f, "y.$": "$"}})
        ),
        (0u64..100_000).prop_map(|s| json!({"Type": "Wait", "Seconds": s})),
        Just(json!({"Type": "Wait", "SecondsPath": "$.a"})),
        Just(json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericGreaterThan": 1}]})),
        Just(json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": false}]})),
        Just(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]})
        ),
        Just(
            json!({"Type": "Map", "ItemsPath": "$.a", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}})
        ),
        Just(
            json!({"Type": "Parallel", "Branches": [{"StartAt": "I", "States": {"I": {"Type": "Wait", "Seconds": 5, "End": true}}}]})
        ),
        Just(json!({"Type": "Fail", "ErrorPath": "$.a", "Cause": "c"})),
        Just(json!({"Type": "Succeed", "OutputPath": "$.a"})),
    ]
}
