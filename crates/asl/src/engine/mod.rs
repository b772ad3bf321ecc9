//! The durable, event-driven engine.
//!
//! An execution moves only in response to an event: it was started, a timer it waits on
//! fell due, a task it dispatched answered, or a SendTask* call arrived. Between events
//! it is a record in the [`ExecutionStore`]: no task, no thread, no sleeping future.
//! Each event loads the record, moves every run that can move, dispatches the tasks
//! that became ready (concurrently), and saves the record before any side effect, so a
//! task in flight when the process dies is dispatched again on restart.

use crate::clock::Clock;
use crate::definition::StateMachine;
use crate::dispatcher::Dispatcher;
use crate::error::{Error, Failure};
use crate::execution::{ExecutionRecord, ExecutionStatus, Run, Step};
use crate::parse;
use crate::pipeline;
use crate::store::ExecutionStore;
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

mod run;
pub(crate) use run::{Exec, ExternalEvent, resource_parts, type_name};
use run::{ev_with_run, pipeline_text, role_arn, wake_at};

/// The region and account used in the ARNs the engine makes up.
pub const REGION: &str = "us-east-1";
/// The account id used in ARNs.
pub const ACCOUNT: &str = "123456789012";
/// "Standard Workflows: maximum execution duration, 1 year."
const MAX_EXECUTION_SECONDS: i64 = 365 * 24 * 3600;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Keep each execution's history in its record.
    pub keep_history: bool,
    /// Fail an execution whose history passes this many events (AWS: 25,000); `None`
    /// for no limit. Also what keeps a loop without Wait states from running forever.
    pub max_events: Option<u64>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            keep_history: true,
            max_events: Some(25_000),
        }
    }
}

struct Registered {
    name: String,
    machine: StateMachine,
}

/// The interpreter's engine: state machines, executions, timers and callbacks.
pub struct Engine {
    store: Arc<dyn ExecutionStore>,
    clock: Arc<dyn Clock>,
    dispatcher: Arc<dyn Dispatcher>,
    options: EngineOptions,
    machines: RwLock<HashMap<String, Arc<Registered>>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The ARN of the state machine named `name`.
pub fn state_machine_arn(name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}")
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn add_secs(t: Timestamp, secs: u64) -> Timestamp {
    let s = i64::try_from(secs)
        .unwrap_or(i64::MAX)
        .min(MAX_EXECUTION_SECONDS * 100);
    t.checked_add(SignedDuration::from_secs(s)).unwrap_or(t)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct TokenBody {
    e: String,
    r: u32,
    n: u64,
    x: String,
}

fn decode_token(token: &str) -> Option<TokenBody> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl Engine {
    /// An engine over a store, a clock and a dispatcher.
    pub fn new(
        store: Arc<dyn ExecutionStore>,
        clock: Arc<dyn Clock>,
        dispatcher: Arc<dyn Dispatcher>,
    ) -> Self {
        Self::with_options(store, clock, dispatcher, EngineOptions::default())
    }

    /// An engine with explicit options.
    pub fn with_options(
        store: Arc<dyn ExecutionStore>,
        clock: Arc<dyn Clock>,
        dispatcher: Arc<dyn Dispatcher>,
        options: EngineOptions,
    ) -> Self {
        Engine {
            store,
            clock,
            dispatcher,
            options,
            machines: RwLock::default(),
            locks: Mutex::default(),
        }
    }

    /// Parses, validates and registers a definition under `name`; answers its ARN.
    pub fn register(&self, name: &str, definition: &str) -> Result<String, Error> {
        let machine = parse::parse(definition)?;
        let arn = state_machine_arn(name);
        let reg = Arc::new(Registered {
            name: name.to_string(),
            machine,
        });
        match self.machines.write() {
            Ok(mut g) => g.insert(arn.clone(), reg),
            Err(p) => p.into_inner().insert(arn.clone(), reg),
        };
        Ok(arn)
    }

    fn machine(&self, arn: &str) -> Result<Arc<Registered>, Error> {
        let g = match self.machines.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.get(arn)
            .cloned()
            .ok_or_else(|| Error::StateMachineDoesNotExist(arn.to_string()))
    }

    fn lock_for(&self, arn: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut g = match self.locks.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.entry(arn.to_string()).or_default().clone()
    }

    /// Starts an execution and runs it until it parks or ends; answers its ARN.
    pub async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: Option<&str>,
        input: Value,
    ) -> Result<String, Error> {
        let arn = self
            .create_execution(state_machine_arn, name, input)
            .await?;
        self.drive(&arn).await?;
        Ok(arn)
    }

    /// Records a new execution (ExecutionStarted) without running it, for callers that
    /// answer first and run later (`drive`, or the next `run_due`, which picks it up at
    /// once since it is due now).
    pub async fn create_execution(
        &self,
        state_machine_arn: &str,
        name: Option<&str>,
        input: Value,
    ) -> Result<String, Error> {
        let reg = self.machine(state_machine_arn)?;
        pipeline::check_size(&input, "execution input").map_err(|f| Error::Input(f.cause))?;
        let name = name
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let arn = format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:execution:{}:{name}",
            reg.name
        );
        if self.store.load(&arn).await?.is_some() {
            return Err(Error::ExecutionAlreadyExists(arn));
        }
        let now = self.clock.now();
        let limit = reg
            .machine
            .timeout_seconds
            .map_or(MAX_EXECUTION_SECONDS as u64, |t| {
                t.min(MAX_EXECUTION_SECONDS as u64)
            });
        let graph = &reg.machine.graphs[0];
        let mut runs = BTreeMap::new();
        runs.insert(
            0,
            Run {
                graph: 0,
                parent: None,
                index: 0,
                state: graph.start_at.clone(),
                input: input.clone(),
                entered: rfc3339(now),
                entered_event: 0,
                step: Step::Enter { retry: false },
                retries: Vec::new(),
                retry_count: 0,
                map_item: None,
                vars: Map::new(),
            },
        );
        let mut rec = ExecutionRecord {
            execution_arn: arn.clone(),
            name,
            state_machine_arn: state_machine_arn.to_string(),
            status: ExecutionStatus::Running,
            input: input.clone(),
            output: None,
            error: None,
            cause: None,
            start_date: rfc3339(now),
            stop_date: None,
            wake_at: None,
            tokens: Vec::new(),
            deadline: Some(add_secs(now, limit)),
            runs,
            next_run: 1,
            ready: VecDeque::from([0]),
            next_nonce: 1,
            history: Vec::new(),
            event_count: 0,
        };
        {
            let mut x = Exec::new(&mut rec, &reg, now, &self.options);
            x.event(|| "ExecutionStarted",
                "executionStartedEventDetails",
                || json!({"input": pipeline_text(&input), "inputDetails": {"truncated": false}, "roleArn": role_arn()}),
            );
        }
        rec.wake_at = Some(now);
        self.store.save(&rec).await?;
        Ok(arn)
    }

    /// The execution's current record.
    pub async fn describe_execution(&self, execution_arn: &str) -> Result<ExecutionRecord, Error> {
        self.store
            .load(execution_arn)
            .await?
            .ok_or_else(|| Error::ExecutionDoesNotExist(execution_arn.to_string()))
    }

    /// Moves one execution as far as it can go now.
    pub async fn drive(&self, execution_arn: &str) -> Result<(), Error> {
        let lock = self.lock_for(execution_arn);
        let _guard = lock.lock().await;
        self.drive_locked(execution_arn, None).await
    }

    async fn drive_locked(
        &self,
        execution_arn: &str,
        event: Option<ExternalEvent>,
    ) -> Result<(), Error> {
        let Some(mut rec) = self.store.load(execution_arn).await? else {
            return Err(Error::ExecutionDoesNotExist(execution_arn.to_string()));
        };
        if rec.status != ExecutionStatus::Running {
            return Ok(());
        }
        let reg = self.machine(&rec.state_machine_arn)?;
        let mut event = event;
        loop {
            let now = self.clock.now();
            let batch = {
                let mut x = Exec::new(&mut rec, &reg, now, &self.options);
                if let Some(ev) = event.take() {
                    x.external(ev);
                }
                x.wake_due();
                x.run_ready();
                x.take_dispatches()
            };
            if rec.status != ExecutionStatus::Running || batch.is_empty() {
                break;
            }
            rec.wake_at = wake_at(&rec);
            self.store.save(&rec).await?;
            let futures = batch
                .iter()
                .map(|(_, req, _)| self.dispatcher.dispatch(req.clone()));
            let outcomes = futures::future::join_all(futures).await;
            let now = self.clock.now();
            let mut x = Exec::new(&mut rec, &reg, now, &self.options);
            for ((run, _, nonce), outcome) in batch.into_iter().zip(outcomes) {
                x.task_outcome(run, nonce, outcome);
            }
        }
        rec.wake_at = wake_at(&rec);
        self.store.save(&rec).await
    }

    /// Drives every execution whose timers are due at the clock's current time.
    pub async fn run_due(&self) -> Result<usize, Error> {
        let due = self.store.due(self.clock.now()).await?;
        for arn in &due {
            self.drive(arn).await?;
        }
        Ok(due.len())
    }

    /// Virtual clock only: moves time forward by `d`, stopping at each due timer in time
    /// order to run what fell due.
    pub async fn advance(&self, d: SignedDuration) -> Result<(), Error> {
        let target = self
            .clock
            .now()
            .checked_add(d)
            .map_err(|e| Error::Store(e.to_string()))?;
        loop {
            match self.store.next_wake().await? {
                Some(t) if t <= target => {
                    if !self.clock.advance_to(t) {
                        return Err(Error::Store("advance needs a virtual clock".into()));
                    }
                    self.run_due().await?;
                }
                _ => break,
            }
        }
        self.clock.advance_to(target);
        self.run_due().await?;
        Ok(())
    }

    /// Virtual clock only: runs one execution to its end, letting every timer elapse at once.
    pub async fn run_to_completion(&self, execution_arn: &str) -> Result<ExecutionRecord, Error> {
        loop {
            let rec = self.describe_execution(execution_arn).await?;
            if rec.status != ExecutionStatus::Running {
                return Ok(rec);
            }
            let Some(t) = rec.wake_at else { return Ok(rec) };
            if !self.clock.advance_to(t) {
                return Err(Error::Store(
                    "run_to_completion needs a virtual clock".into(),
                ));
            }
            self.drive(execution_arn).await?;
        }
    }

    /// After a restart: drives every running execution (re-dispatching tasks that were in
    /// flight, firing timers that fell due while down).
    pub async fn resume(&self) -> Result<usize, Error> {
        let running = self.store.running().await?;
        for arn in &running {
            let lock = self.lock_for(arn);
            let _guard = lock.lock().await;
            self.drive_locked(arn, Some(ExternalEvent::Recover)).await?;
        }
        Ok(running.len())
    }

    async fn token_event(&self, token: &str, ev: ExternalEvent) -> Result<(), Error> {
        let body = decode_token(token).ok_or(Error::InvalidToken)?;
        let lock = self.lock_for(&body.e);
        let _guard = lock.lock().await;
        let Some(rec) = self.store.load(&body.e).await? else {
            return Err(Error::TaskDoesNotExist);
        };
        let open = rec.status == ExecutionStatus::Running
            && rec.runs.get(&body.r).is_some_and(
                |r| matches!(&r.step, Step::AwaitToken(a) if a.token.as_deref() == Some(token)),
            );
        if !open {
            return Err(Error::TaskTimedOut);
        }
        // A deadline that passed while nobody looked still wins over a late answer.
        let now = self.clock.now();
        if let Some(Step::AwaitToken(a)) = rec.runs.get(&body.r).map(|r| &r.step)
            && (a.timeout_at.is_some_and(|t| t <= now) || a.heartbeat_at.is_some_and(|t| t <= now))
        {
            self.drive_locked(&body.e, None).await?;
            return Err(Error::TaskTimedOut);
        }
        self.drive_locked(&body.e, Some(ev_with_run(ev, body.r, token)))
            .await
    }

    /// SendTaskSuccess: `output` is JSON text of at most 256 KiB.
    pub async fn send_task_success(&self, token: &str, output: &str) -> Result<(), Error> {
        if output.len() > pipeline::MAX_PAYLOAD_BYTES {
            return Err(Error::InvalidOutput(
                "the output is larger than 262144 bytes".into(),
            ));
        }
        let v: Value = serde_json::from_str(output)
            .map_err(|e| Error::InvalidOutput(format!("the output is not JSON: {e}")))?;
        self.token_event(
            token,
            ExternalEvent::Success {
                run: 0,
                token: String::new(),
                output: v,
            },
        )
        .await
    }

    /// SendTaskFailure.
    pub async fn send_task_failure(
        &self,
        token: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<(), Error> {
        let f = Failure::new(error.unwrap_or_default(), cause.unwrap_or_default());
        self.token_event(
            token,
            ExternalEvent::Failure {
                run: 0,
                token: String::new(),
                failure: f,
            },
        )
        .await
    }

    /// SendTaskHeartbeat: moves the heartbeat deadline (never the TimeoutSeconds one).
    pub async fn send_task_heartbeat(&self, token: &str) -> Result<(), Error> {
        self.token_event(
            token,
            ExternalEvent::Heartbeat {
                run: 0,
                token: String::new(),
            },
        )
        .await
    }

    /// StopExecution: aborts a running execution.
    pub async fn stop_execution(
        &self,
        execution_arn: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<(), Error> {
        let lock = self.lock_for(execution_arn);
        let _guard = lock.lock().await;
        let ev = ExternalEvent::Abort {
            error: error.map(str::to_string),
            cause: cause.map(str::to_string),
        };
        self.drive_locked(execution_arn, Some(ev)).await
    }
}
