//! `cargo bench -p onboard-asl`: throughput of the engine on the issue's four workloads.
#![allow(clippy::unwrap_used, missing_docs)] // Bench code.

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use onboard_asl::{
    Dispatcher, Engine, EngineOptions, MemoryStore, TaskOutcome, TaskRequest, VirtualClock,
};
use serde_json::{Value, json};
use std::sync::Arc;

struct Echo;

#[async_trait]
impl Dispatcher for Echo {
    async fn dispatch(&self, req: TaskRequest) -> TaskOutcome {
        TaskOutcome::Succeeded(req.payload)
    }
}

fn engine() -> Engine {
    let clock = Arc::new(VirtualClock::new("2024-01-01T00:00:00Z".parse().unwrap()));
    Engine::with_options(
        Arc::new(MemoryStore::new()),
        clock,
        Arc::new(Echo),
        EngineOptions {
            keep_history: false,
            max_events: None,
        },
    )
}

fn pass_chain(n: usize) -> String {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s =
            json!({"Type": "Pass", "Parameters": {"i": i, "prev.$": "$.v.i"}, "ResultPath": "$.v"});
        if i + 1 < n {
            s["Next"] = json!(format!("S{}", i + 1));
        } else {
            s["End"] = json!(true);
        }
        states.insert(format!("S{i}"), s);
    }
    json!({"StartAt": "S0", "States": states}).to_string()
}

const CHOICE_LOOP: &str = r#"{"StartAt":"Check","States":{
  "Check":{"Type":"Choice","Choices":[{"Variable":"$.i","NumericLessThan":100000,"Next":"Inc"}],"Default":"Done"},
  "Inc":{"Type":"Pass","Parameters":{"i.$":"States.MathAdd($.i, 1)"},"Next":"Check"},
  "Done":{"Type":"Succeed"}}}"#;

const MAP: &str = r#"{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","End":true,
  "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"v.$":"$"},"End":true}}}}}}"#;

const PARKED: &str = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":86400,"End":true}}}"#;

fn run(rt: &tokio::runtime::Runtime, e: &Engine, sm: &str, input: Value) {
    rt.block_on(async {
        let arn = e.start_execution(sm, None, input).await.unwrap();
        let rec = e.run_to_completion(&arn).await.unwrap();
        assert_eq!(rec.status.as_str(), "SUCCEEDED");
    });
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);

    let e = engine();
    let sm = e.register("chain", &pass_chain(1000)).unwrap();
    g.bench_function("pass_chain_1000_states", |b| {
        b.iter(|| run(&rt, &e, &sm, json!({"v": {"i": 0}})))
    });

    let sm = e.register("loop", CHOICE_LOOP).unwrap();
    g.bench_function("choice_loop_100000_iterations", |b| {
        b.iter(|| run(&rt, &e, &sm, json!({"i": 0})))
    });

    let sm = e.register("map", MAP).unwrap();
    let items: Vec<u32> = (0..10_000).collect();
    g.bench_function("map_10000_items", |b| {
        b.iter(|| run(&rt, &e, &sm, json!({ "items": items })))
    });
    g.finish();

    parked_memory(&rt);
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// 100,000 executions parked on a Wait: no task, no thread each; report memory per execution.
fn parked_memory(rt: &tokio::runtime::Runtime) {
    const N: usize = 100_000;
    let e = engine();
    let sm = e.register("parked", PARKED).unwrap();
    let before = rss_bytes();
    let threads_before = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0);
    rt.block_on(async {
        for i in 0..N {
            e.start_execution(&sm, Some(&format!("p{i}")), json!({"id": i}))
                .await
                .unwrap();
        }
    });
    let after = rss_bytes();
    let threads_after = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0);
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "parked executions: {N}; resident memory grew by {} bytes = {} bytes per parked execution; threads {threads_before} -> {threads_after}",
            a.saturating_sub(b),
            a.saturating_sub(b) / N as u64
        );
    }
    let start = std::time::Instant::now();
    rt.block_on(async {
        e.advance(jiff::SignedDuration::from_secs(86_400))
            .await
            .unwrap()
    });
    println!(
        "waking all {N} parked executions took {:?}",
        start.elapsed()
    );
}

criterion_group!(group, benches);
criterion_main!(group);
