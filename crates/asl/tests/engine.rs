//! The engine's event-driven behaviour: task tokens, timeouts, heartbeats, restarts,
//! concurrency and the virtual clock.
#![allow(clippy::unwrap_used)] // Test code.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use onboard_asl::{
    Dispatcher, Engine, Error, ExecutionStatus, ExecutionStore, MemoryStore, TaskOutcome,
    TaskRequest, VirtualClock,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// Answers every task "I will call back" and remembers the tokens.
#[derive(Default)]
struct Callbacks {
    tokens: Mutex<Vec<String>>,
}

#[async_trait]
impl Dispatcher for Callbacks {
    async fn dispatch(&self, req: TaskRequest) -> TaskOutcome {
        match req.task_token {
            Some(t) => {
                self.tokens.lock().unwrap().push(t);
                TaskOutcome::AwaitingCallback
            }
            None => TaskOutcome::Succeeded(req.payload),
        }
    }
}

impl Callbacks {
    fn last(&self) -> String {
        self.tokens.lock().unwrap().last().cloned().unwrap()
    }
}

fn start() -> Timestamp {
    "2024-01-01T00:00:00Z".parse().unwrap()
}

fn setup(d: Arc<dyn Dispatcher>) -> (Engine, Arc<MemoryStore>, Arc<VirtualClock>) {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(VirtualClock::new(start()));
    (Engine::new(store.clone(), clock.clone(), d), store, clock)
}

const APPROVAL: &str = r#"{"StartAt":"Ask","States":{
  "Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
         "Parameters":{"FunctionName":"ask","Payload":{"token.$":"$$.Task.Token","who.$":"$.who"}},
         "TimeoutSeconds":86400,"HeartbeatSeconds":3600,"ResultPath":"$.decision",
         "Catch":[{"ErrorEquals":["States.HeartbeatTimeout"],"Next":"Silent","ResultPath":"$.error"},
                  {"ErrorEquals":["States.TaskFailed"],"Next":"Denied","ResultPath":"$.error"},
                  {"ErrorEquals":["States.Timeout"],"Next":"TimedOut","ResultPath":"$.error"}],
         "End":true},
  "Silent":{"Type":"Pass","Result":"silent","ResultPath":"$.outcome","End":true},
  "TimedOut":{"Type":"Pass","Result":"timed out","ResultPath":"$.outcome","End":true},
  "Denied":{"Type":"Pass","Result":"denied","ResultPath":"$.outcome","End":true}}}"#;

#[tokio::test]
async fn a_task_token_wait_parks_until_send_task_success() {
    let d = Arc::new(Callbacks::default());
    let (engine, _, _) = setup(d.clone());
    let sm = engine.register("approval", APPROVAL).unwrap();
    let arn = engine
        .start_execution(&sm, Some("e1"), json!({"who": "ada"}))
        .await
        .unwrap();

    let parked = engine.describe_execution(&arn).await.unwrap();
    assert_eq!(parked.status, ExecutionStatus::Running);
    assert_eq!(parked.tokens, vec![d.last()]);

    engine
        .send_task_success(&d.last(), r#"{"approved":true}"#)
        .await
        .unwrap();
    let done = engine.describe_execution(&arn).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        done.output,
        Some(json!({"who": "ada", "decision": {"approved": true}}))
    );
}

#[tokio::test]
async fn send_task_failure_is_caught_as_a_task_error() {
    let d = Arc::new(Callbacks::default());
    let (engine, _, _) = setup(d.clone());
    let sm = engine.register("approval", APPROVAL).unwrap();
    let arn = engine
        .start_execution(&sm, None, json!({"who": "ada"}))
        .await
        .unwrap();
    engine
        .send_task_failure(&d.last(), Some("Denied"), Some("by the manager"))
        .await
        .unwrap();
    let done = engine.describe_execution(&arn).await.unwrap();
    assert_eq!(done.output.unwrap()["outcome"], json!("denied"));
}

#[tokio::test]
async fn token_errors_use_aws_names() {
    let d = Arc::new(Callbacks::default());
    let (engine, _, _) = setup(d.clone());
    let sm = engine.register("approval", APPROVAL).unwrap();
    engine
        .start_execution(&sm, None, json!({"who": "ada"}))
        .await
        .unwrap();
    let token = d.last();

    assert!(matches!(
        engine.send_task_success("garbage!", "{}").await,
        Err(Error::InvalidToken)
    ));
    assert!(matches!(
        engine.send_task_success(&token, "not json").await,
        Err(Error::InvalidOutput(_))
    ));
    engine.send_task_heartbeat(&token).await.unwrap();
    engine.send_task_success(&token, "{}").await.unwrap();
    // "The token has either expired or the task associated with the token has already been closed."
    assert!(matches!(
        engine.send_task_success(&token, "{}").await,
        Err(Error::TaskTimedOut)
    ));
    assert!(matches!(
        engine.send_task_heartbeat(&token).await,
        Err(Error::TaskTimedOut)
    ));

    let (other, _, _) = setup(Arc::new(Callbacks::default()));
    other.register("approval", APPROVAL).unwrap();
    assert!(matches!(
        other.send_task_success(&token, "{}").await,
        Err(Error::TaskDoesNotExist)
    ));
}

#[tokio::test]
async fn timeout_seconds_elapses_on_the_virtual_clock() {
    const DEF: &str = r#"{"StartAt":"Ask","States":{"Ask":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters":{"t.$":"$$.Task.Token"},"TimeoutSeconds":86400,"End":true}}}"#;
    let d = Arc::new(Callbacks::default());
    let (engine, _, _) = setup(d.clone());
    let sm = engine.register("purchase", DEF).unwrap();
    let arn = engine.start_execution(&sm, None, json!({})).await.unwrap();

    engine
        .advance(SignedDuration::from_secs(86_399))
        .await
        .unwrap();
    assert_eq!(
        engine.describe_execution(&arn).await.unwrap().status,
        ExecutionStatus::Running
    );

    engine.advance(SignedDuration::from_secs(1)).await.unwrap();
    let done = engine.describe_execution(&arn).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(done.stop_date.as_deref(), Some("2024-01-02T00:00:00.000Z"));
    assert!(matches!(
        engine.send_task_success(&d.last(), "{}").await,
        Err(Error::TaskTimedOut)
    ));
}

#[tokio::test]
async fn a_timeout_is_not_caught_by_states_task_failed() {
    let d = Arc::new(Callbacks::default());
    let (engine, _, _) = setup(d.clone());
    let sm = engine.register("approval", APPROVAL).unwrap();
    let arn = engine
        .start_execution(&sm, None, json!({"who": "ada"}))
        .await
        .unwrap();
    // Heartbeats every 3000 s keep the heartbeat timer from firing; TimeoutSeconds still does.
    for _ in 0..30 {
        engine
            .advance(SignedDuration::from_secs(3000))
            .await
            .unwrap();
        if engine.describe_execution(&arn).await.unwrap().status != ExecutionStatus::Running {
            break;
        }
        engine.send_task_heartbeat(&d.last()).await.unwrap();
    }
    let done = engine.describe_execution(&arn).await.unwrap();
    assert_eq!(done.output.unwrap()["outcome"], json!("timed out"));
}

#[tokio::test]
async fn a_missed_heartbeat_is_a_heartbeat_timeout() {
    let d = Arc::new(Callbacks::default());
    let (engine, _, _) = setup(d.clone());
    let sm = engine.register("approval", APPROVAL).unwrap();
    let arn = engine
        .start_execution(&sm, None, json!({"who": "ada"}))
        .await
        .unwrap();
    engine
        .advance(SignedDuration::from_secs(3600))
        .await
        .unwrap();
    let done = engine.describe_execution(&arn).await.unwrap();
    let out = done.output.unwrap();
    assert_eq!(out["outcome"], json!("silent"));
    assert_eq!(out["error"]["Error"], json!("States.HeartbeatTimeout"));
}

#[tokio::test]
async fn a_retried_token_task_gets_a_new_token() {
    const DEF: &str = r#"{"StartAt":"Ask","States":{"Ask":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Retry":[{"ErrorEquals":["Again"],"IntervalSeconds":5}],"End":true}}}"#;
    let d = Arc::new(Callbacks::default());
    let (engine, _, _) = setup(d.clone());
    let sm = engine.register("r", DEF).unwrap();
    let arn = engine.start_execution(&sm, None, json!({})).await.unwrap();
    let first = d.last();
    engine
        .send_task_failure(&first, Some("Again"), None)
        .await
        .unwrap();
    engine.advance(SignedDuration::from_secs(5)).await.unwrap();
    let second = d.last();
    assert_ne!(first, second);
    assert!(matches!(
        engine.send_task_success(&first, "1").await,
        Err(Error::TaskTimedOut)
    ));
    engine.send_task_success(&second, "2").await.unwrap();
    assert_eq!(
        engine.describe_execution(&arn).await.unwrap().output,
        Some(json!(2))
    );
}

const PARKED: &str = r#"{"StartAt":"Choose","States":{
  "Choose":{"Type":"Choice","Choices":[{"Variable":"$.wait","BooleanEquals":true,"Next":"Sleep"}],"Default":"Ask"},
  "Sleep":{"Type":"Wait","Seconds":3600,"Next":"Done"},
  "Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"t.$":"$$.Task.Token"},"ResultPath":"$.answer","Next":"Done"},
  "Done":{"Type":"Succeed"}}}"#;

#[tokio::test]
async fn parked_executions_survive_a_restart_of_the_engine() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(VirtualClock::new(start()));
    let d = Arc::new(Callbacks::default());
    let (timer, token) = {
        let engine = Engine::new(store.clone(), clock.clone(), d.clone());
        let sm = engine.register("parked", PARKED).unwrap();
        let timer = engine
            .start_execution(&sm, Some("timer"), json!({"wait": true}))
            .await
            .unwrap();
        let token = engine
            .start_execution(&sm, Some("token"), json!({"wait": false}))
            .await
            .unwrap();
        (timer, token)
    }; // The first engine is dropped here: nothing of it keeps running.

    let engine = Engine::new(store.clone(), clock.clone(), Arc::new(Callbacks::default()));
    engine.register("parked", PARKED).unwrap();
    assert_eq!(engine.resume().await.unwrap(), 2);
    engine
        .advance(SignedDuration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        engine.describe_execution(&timer).await.unwrap().status,
        ExecutionStatus::Succeeded
    );

    engine
        .send_task_success(&d.last(), r#""yes""#)
        .await
        .unwrap();
    let rec = engine.describe_execution(&token).await.unwrap();
    assert_eq!(rec.status, ExecutionStatus::Succeeded);
    assert_eq!(rec.output, Some(json!({"wait": false, "answer": "yes"})));
}

const VARS_PARKED: &str = r#"{"StartAt":"Set","States":{
  "Set":{"Type":"Pass","Assign":{"who.$":"$.who"},"Next":"Sleep"},
  "Sleep":{"Type":"Wait","Seconds":60,"Next":"Map"},
  "Map":{"Type":"Map","ItemsPath":"$.xs","ItemProcessor":{"StartAt":"Nap","States":{
    "Nap":{"Type":"Wait","Seconds":60,"Next":"Use"},
    "Use":{"Type":"Pass","QueryLanguage":"JSONata","Output":"{% $who & $string($states.input) %}","End":true}}},
   "End":true}}}"#;

#[tokio::test]
async fn variables_survive_a_restart_of_the_engine() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(VirtualClock::new(start()));
    let arn = {
        let engine = Engine::new(store.clone(), clock.clone(), Arc::new(Counting::default()));
        let sm = engine.register("vars", VARS_PARKED).unwrap();
        engine
            .start_execution(&sm, Some("v"), json!({"who": "ann", "xs": [1, 2]}))
            .await
            .unwrap()
    };
    let engine = Engine::new(store.clone(), clock.clone(), Arc::new(Counting::default()));
    engine.register("vars", VARS_PARKED).unwrap();
    engine.resume().await.unwrap();
    engine.advance(SignedDuration::from_secs(60)).await.unwrap();
    // Parked again inside the iterations: restart once more.
    let engine = Engine::new(store.clone(), clock.clone(), Arc::new(Counting::default()));
    engine.register("vars", VARS_PARKED).unwrap();
    engine.resume().await.unwrap();
    engine.advance(SignedDuration::from_secs(60)).await.unwrap();
    let rec = engine.describe_execution(&arn).await.unwrap();
    assert_eq!(rec.status, ExecutionStatus::Succeeded, "{:?}", rec.cause);
    assert_eq!(rec.output, Some(json!(["ann1", "ann2"])));
}

/// Counts dispatches; succeeds with the payload.
#[derive(Default)]
struct Counting {
    calls: Mutex<u32>,
}

#[async_trait]
impl Dispatcher for Counting {
    async fn dispatch(&self, req: TaskRequest) -> TaskOutcome {
        *self.calls.lock().unwrap() += 1;
        TaskOutcome::Succeeded(req.payload)
    }
}

#[tokio::test]
async fn a_task_in_flight_when_the_process_died_is_dispatched_again() {
    const DEF: &str = r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","End":true}}}"#;
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(VirtualClock::new(start()));
    let d = Arc::new(Counting::default());
    let engine = Engine::new(store.clone(), clock.clone(), d.clone());
    engine.register("f", DEF).unwrap();
    let arn = engine
        .start_execution(&engine_arn("f"), Some("again"), json!({"n": 2}))
        .await
        .unwrap();
    assert_eq!(*d.calls.lock().unwrap(), 1);
    // Put the stored record back where a process that died mid-dispatch left it: the
    // checkpoint saved just before the dispatcher was called.
    let mut rec = engine.describe_execution(&arn).await.unwrap();
    rec.status = ExecutionStatus::Running;
    rec.output = None;
    rec.stop_date = None;
    rec.runs.insert(0, in_flight_run(json!({"n": 2})));
    store.save(&rec).await.unwrap();
    drop(engine);

    let engine = Engine::new(store.clone(), clock.clone(), d.clone());
    engine.register("f", DEF).unwrap();
    engine.resume().await.unwrap();
    assert_eq!(
        *d.calls.lock().unwrap(),
        2,
        "at-least-once: the task runs again"
    );
    let done = engine.describe_execution(&arn).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"n": 2})));
}

fn engine_arn(name: &str) -> String {
    onboard_asl::engine::state_machine_arn(name)
}

fn in_flight_run(payload: Value) -> onboard_asl::execution::Run {
    use onboard_asl::execution::{Run, Step, TaskAttempt};
    Run {
        graph: 0,
        parent: None,
        index: 0,
        state: "T".into(),
        input: payload.clone(),
        entered: "2024-01-01T00:00:00.000Z".into(),
        entered_event: 2,
        step: Step::InFlight(TaskAttempt {
            payload,
            nonce: 99,
            token: None,
            timeout_at: None,
            heartbeat_at: None,
            heartbeat_seconds: None,
        }),
        retries: vec![],
        retry_count: 0,
        map_item: None,
        vars: Default::default(),
    }
}

#[tokio::test]
async fn advance_runs_timers_of_all_executions_in_time_order() {
    const DEF: &str =
        r#"{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}"#;
    let (engine, _, _) = setup(Arc::new(Counting::default()));
    let sm = engine.register("w", DEF).unwrap();
    let late = engine
        .start_execution(&sm, Some("late"), json!({"s": 20}))
        .await
        .unwrap();
    let early = engine
        .start_execution(&sm, Some("early"), json!({"s": 10}))
        .await
        .unwrap();
    engine.advance(SignedDuration::from_secs(15)).await.unwrap();
    let e = engine.describe_execution(&early).await.unwrap();
    assert_eq!(e.stop_date.as_deref(), Some("2024-01-01T00:00:10.000Z"));
    assert_eq!(
        engine.describe_execution(&late).await.unwrap().status,
        ExecutionStatus::Running
    );
    engine
        .advance(SignedDuration::from_secs(100))
        .await
        .unwrap();
    let l = engine.describe_execution(&late).await.unwrap();
    assert_eq!(l.stop_date.as_deref(), Some("2024-01-01T00:00:20.000Z"));
}

/// Each dispatch waits for `n` dispatches to be in flight together.
struct Rendezvous {
    barrier: tokio::sync::Barrier,
}

#[async_trait]
impl Dispatcher for Rendezvous {
    async fn dispatch(&self, req: TaskRequest) -> TaskOutcome {
        self.barrier.wait().await;
        TaskOutcome::Succeeded(req.payload)
    }
}

#[tokio::test]
async fn parallel_branches_dispatch_their_tasks_concurrently() {
    const DEF: &str = r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
      {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"b":"a"},"End":true}}},
      {"StartAt":"B","States":{"B":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"b":"b"},"End":true}}},
      {"StartAt":"C","States":{"C":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"b":"c"},"End":true}}}]}}}"#;
    let (engine, _, _) = setup(Arc::new(Rendezvous {
        barrier: tokio::sync::Barrier::new(3),
    }));
    let sm = engine.register("p", DEF).unwrap();
    let run = engine.start_execution(&sm, None, json!({}));
    let arn = tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .expect("the branches did not run concurrently")
        .unwrap();
    let rec = engine.describe_execution(&arn).await.unwrap();
    assert_eq!(
        rec.output,
        Some(json!([{"b": "a"}, {"b": "b"}, {"b": "c"}]))
    );
}

#[tokio::test]
async fn outputs_over_256_kib_fail_with_data_limit_exceeded_which_states_all_does_not_catch() {
    const DEF: &str = r#"{"StartAt":"T","States":{
      "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"a.$":"$.s","b.$":"$.s"},
           "Catch":[{"ErrorEquals":["States.ALL"],"Next":"H"}],"End":true},
      "H":{"Type":"Succeed"}}}"#;
    let (engine, _, _) = setup(Arc::new(Counting::default()));
    let sm = engine.register("big", DEF).unwrap();
    let s = "x".repeat(140_000);
    let arn = engine
        .start_execution(&sm, None, json!({ "s": s }))
        .await
        .unwrap();
    let rec = engine.describe_execution(&arn).await.unwrap();
    assert_eq!(rec.status, ExecutionStatus::Failed);
    assert_eq!(rec.error.as_deref(), Some("States.DataLimitExceeded"));

    let too_big = json!({ "s": "x".repeat(300_000) });
    assert!(matches!(
        engine.start_execution(&sm, None, too_big).await,
        Err(Error::Input(_))
    ));
}

#[tokio::test]
async fn a_loop_without_waits_stops_at_the_history_limit_instead_of_hanging() {
    const DEF: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"C"},
      "C":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"E"}],"Default":"A"},"E":{"Type":"Succeed"}}}"#;
    let (engine, _, _) = setup(Arc::new(Counting::default()));
    let sm = engine.register("loop", DEF).unwrap();
    let arn = engine.start_execution(&sm, None, json!({})).await.unwrap();
    let rec = engine.run_to_completion(&arn).await.unwrap();
    assert_eq!(rec.status, ExecutionStatus::Failed);
    assert_eq!(rec.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn stop_execution_aborts_a_parked_execution() {
    let d = Arc::new(Callbacks::default());
    let (engine, _, _) = setup(d.clone());
    let sm = engine.register("approval", APPROVAL).unwrap();
    let arn = engine
        .start_execution(&sm, None, json!({"who": "ada"}))
        .await
        .unwrap();
    engine
        .stop_execution(&arn, Some("Stopped"), None)
        .await
        .unwrap();
    assert_eq!(
        engine.describe_execution(&arn).await.unwrap().status,
        ExecutionStatus::Aborted
    );
    assert!(matches!(
        engine.send_task_success(&d.last(), "{}").await,
        Err(Error::TaskTimedOut)
    ));
}

#[tokio::test]
async fn a_created_execution_runs_on_the_next_run_due() {
    const DEF: &str = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":1,"End":true}}}"#;
    let (engine, _, _) = setup(Arc::new(Counting::default()));
    let sm = engine.register("c", DEF).unwrap();
    let arn = engine.create_execution(&sm, None, json!({})).await.unwrap();
    assert_eq!(
        engine.describe_execution(&arn).await.unwrap().status,
        ExecutionStatus::Running
    );
    assert_eq!(engine.run_due().await.unwrap(), 1);
    assert_eq!(
        engine.describe_execution(&arn).await.unwrap().output,
        Some(json!(1))
    );
}
