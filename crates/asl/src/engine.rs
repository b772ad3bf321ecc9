//! The durable, event-driven engine.
//!
//! An execution moves only in response to an event: it was started, a timer it waits on
//! fell due, a task it dispatched answered, or a SendTask* call arrived. Between events
//! it is a record in the [`ExecutionStore`]: no task, no thread, no sleeping future.
//! Each event loads the record, moves every run that can move, dispatches the tasks
//! that became ready (concurrently), and saves the record before any side effect, so a
//! task in flight when the process dies is dispatched again on restart.

use crate::clock::Clock;
use crate::definition::{self, Kind, State, StateMachine, Transition};
use crate::dispatcher::{Dispatcher, TaskOutcome, TaskRequest};
use crate::error::{Error, Failure, names};
use crate::execution::{Children, ExecutionRecord, ExecutionStatus, HistoryEvent, Run, Step, Wake};
use crate::pipeline;
use crate::retry::{self, RetryDecision};
use crate::store::ExecutionStore;
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

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
        let machine = definition::parse(definition)?;
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

fn ev_with_run(ev: ExternalEvent, run: u32, token: &str) -> ExternalEvent {
    let token = token.to_string();
    match ev {
        ExternalEvent::Success { output, .. } => ExternalEvent::Success { run, token, output },
        ExternalEvent::Failure { failure, .. } => ExternalEvent::Failure {
            run,
            token,
            failure,
        },
        ExternalEvent::Heartbeat { .. } => ExternalEvent::Heartbeat { run, token },
        other => other,
    }
}

fn role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/StepFunctionsLocal")
}

fn pipeline_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn wake_at(rec: &ExecutionRecord) -> Option<Timestamp> {
    if rec.status != ExecutionStatus::Running {
        return None;
    }
    let mut best = rec.deadline;
    let mut consider = |t: Option<Timestamp>| {
        if let Some(t) = t {
            best = Some(best.map_or(t, |b| b.min(t)));
        }
    };
    for r in rec.runs.values() {
        match &r.step {
            Step::Sleeping { until, .. } => consider(Some(*until)),
            Step::AwaitToken(a) | Step::InFlight(a) => {
                consider(a.timeout_at);
                consider(a.heartbeat_at);
            }
            _ => {}
        }
    }
    best
}

/// Something that happened to an execution from outside.
#[derive(Debug)]
pub(crate) enum ExternalEvent {
    Success {
        run: u32,
        token: String,
        output: Value,
    },
    Failure {
        run: u32,
        token: String,
        failure: Failure,
    },
    Heartbeat {
        run: u32,
        token: String,
    },
    Abort {
        error: Option<String>,
        cause: Option<String>,
    },
    Recover,
}

/// One execution being moved at one instant.
pub(crate) struct Exec<'a> {
    pub(crate) rec: &'a mut ExecutionRecord,
    pub(crate) sm: &'a StateMachine,
    pub(crate) sm_name: &'a str,
    pub(crate) now: Timestamp,
    pub(crate) options: &'a EngineOptions,
    /// An empty variable scope, for runs that no longer exist.
    no_vars: Map<String, Value>,
    /// `now` as RFC 3339, formatted once per event.
    now_s: String,
}

impl<'a> Exec<'a> {
    fn new(
        rec: &'a mut ExecutionRecord,
        reg: &'a Registered,
        now: Timestamp,
        options: &'a EngineOptions,
    ) -> Self {
        Exec {
            rec,
            sm: &reg.machine,
            sm_name: &reg.name,
            now,
            options,
            no_vars: Map::new(),
            now_s: rfc3339(now),
        }
    }

    pub(crate) fn now_str(&self) -> String {
        self.now_s.clone()
    }

    /// Appends a history event; answers its id. Kind and details are built only when
    /// history is kept, so a run without history pays for neither.
    pub(crate) fn event<K: Into<String>>(
        &mut self,
        kind: impl FnOnce() -> K,
        details_key: &str,
        details: impl FnOnce() -> Value,
    ) -> u64 {
        self.rec.event_count += 1;
        let id = self.rec.event_count;
        if self.options.keep_history {
            let mut m = Map::new();
            if !details_key.is_empty() {
                m.insert(details_key.to_string(), details());
            }
            let timestamp = self.now_str();
            self.rec.history.push(HistoryEvent {
                id,
                previous_event_id: id - 1,
                timestamp,
                kind: kind().into(),
                details: m,
            });
        }
        id
    }

    pub(crate) fn state(&self, run: u32) -> Option<&'a State> {
        let r = self.rec.runs.get(&run)?;
        let sm: &'a StateMachine = self.sm;
        sm.graphs.get(r.graph)?.states.get(&r.state)
    }

    /// The context object, or `null` when `template` does not read it (building it
    /// copies the execution input, so it is only built when used).
    pub(crate) fn context_for(
        &self,
        template: Option<&crate::payload::Template>,
        run: u32,
        token: Option<&str>,
    ) -> Value {
        if template.is_some_and(|t| t.uses_context()) {
            self.context(run, token)
        } else {
            Value::Null
        }
    }

    /// The context object for a run's current state.
    pub(crate) fn context(&self, run: u32, token: Option<&str>) -> Value {
        let r = self.rec.runs.get(&run);
        let mut ctx = json!({
            "Execution": {
                "Id": self.rec.execution_arn,
                "Input": self.rec.input,
                "Name": self.rec.name,
                "RoleArn": role_arn(),
                "StartTime": self.rec.start_date,
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": r.map(|r| r.entered.clone()).unwrap_or_default(),
                "Name": r.map(|r| r.state.clone()).unwrap_or_default(),
                "RetryCount": r.map_or(0, |r| r.retry_count),
            },
            "StateMachine": { "Id": self.rec.state_machine_arn, "Name": self.sm_name },
        });
        if let (Some(t), Some(m)) = (token, ctx.as_object_mut()) {
            m.insert("Task".into(), json!({ "Token": t }));
        }
        ctx
    }

    /// The variables a run sees.
    pub(crate) fn vars(&self, run: u32) -> &Map<String, Value> {
        self.rec.runs.get(&run).map_or(&self.no_vars, |r| &r.vars)
    }

    /// Replaces a run's variables.
    pub(crate) fn set_vars(&mut self, run: u32, vars: Map<String, Value>) {
        if let Some(r) = self.rec.runs.get_mut(&run) {
            r.vars = vars;
        }
    }

    /// Resolves a path whose root may be the effective input (`$`), the context (`$$`)
    /// or a variable (`$name`).
    pub(crate) fn select(
        &self,
        run: u32,
        path: &crate::json_path::JsonPath,
        effective: &Value,
    ) -> Option<Value> {
        let ctx = match path.root() {
            crate::json_path::Root::Context => self.context(run, None),
            _ => Value::Null,
        };
        crate::payload::Scope {
            input: effective,
            context: &ctx,
            vars: self.vars(run),
        }
        .select(path)
    }

    /// Evaluates an `Assign` template against `input` with the variables from state entry,
    /// then stores the values in the run's scope.
    pub(crate) fn assign(
        &mut self,
        run: u32,
        assign: Option<&crate::payload::Template>,
        input: &Value,
    ) -> Result<(), Failure> {
        let Some(t) = assign else { return Ok(()) };
        let ctx = self.context_for(Some(t), run, None);
        let values = pipeline::template(Some(t), input, &ctx, self.vars(run))?;
        let mut vars = self.vars(run).clone();
        crate::variables::apply(&mut vars, values)?;
        if let Some(r) = self.rec.runs.get_mut(&run) {
            r.vars = vars;
        }
        Ok(())
    }

    pub(crate) fn new_nonce(&mut self) -> u64 {
        let n = self.rec.next_nonce;
        self.rec.next_nonce += 1;
        n
    }

    pub(crate) fn new_token(&mut self, run: u32, nonce: u64) -> String {
        let body = TokenBody {
            e: self.rec.execution_arn.clone(),
            r: run,
            n: nonce,
            x: uuid::Uuid::new_v4().simple().to_string(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    pub(crate) fn set_step(&mut self, run: u32, step: Step) {
        if let Some(r) = self.rec.runs.get_mut(&run) {
            r.step = step;
        }
    }

    fn external(&mut self, ev: ExternalEvent) {
        match ev {
            ExternalEvent::Success { run, token, output } => {
                if let Some(n) = self.await_nonce(run, &token) {
                    self.task_outcome(run, n, TaskOutcome::Succeeded(output));
                }
            }
            ExternalEvent::Failure {
                run,
                token,
                failure,
            } => {
                if let Some(n) = self.await_nonce(run, &token) {
                    self.task_outcome(run, n, TaskOutcome::Failed(failure));
                }
            }
            ExternalEvent::Heartbeat { run, token } => {
                let now = self.now;
                if let Some(Run {
                    step: Step::AwaitToken(a),
                    ..
                }) = self.rec.runs.get_mut(&run)
                    && a.token.as_deref() == Some(token.as_str())
                    && let Some(hb) = a.heartbeat_seconds
                {
                    a.heartbeat_at = Some(add_secs(now, hb));
                }
            }
            ExternalEvent::Abort { error, cause } => {
                self.event(
                    || "ExecutionAborted",
                    "executionAbortedEventDetails",
                    || json!({"error": error, "cause": cause}),
                );
                self.end(ExecutionStatus::Aborted, None, error, cause);
            }
            ExternalEvent::Recover => {
                // At-least-once: a task that was in flight when the process stopped runs again.
                let ids: Vec<u32> = self
                    .rec
                    .runs
                    .iter()
                    .filter(|(_, r)| matches!(r.step, Step::InFlight(_)))
                    .map(|(k, _)| *k)
                    .collect();
                for id in ids {
                    if let Some(r) = self.rec.runs.get_mut(&id)
                        && let Step::InFlight(a) = &r.step
                    {
                        r.step = Step::Dispatch(a.clone());
                    }
                }
            }
        }
    }

    fn await_nonce(&self, run: u32, token: &str) -> Option<u64> {
        match &self.rec.runs.get(&run)?.step {
            Step::AwaitToken(a) if a.token.as_deref() == Some(token) => Some(a.nonce),
            _ => None,
        }
    }

    /// Moves due timers to the ready queue (or times tasks out).
    fn wake_due(&mut self) {
        if self.rec.status != ExecutionStatus::Running {
            return;
        }
        if self.rec.deadline.is_some_and(|d| d <= self.now) {
            let cause = "The execution ran longer than its TimeoutSeconds (or the 1-year maximum)"
                .to_string();
            self.event(
                || "ExecutionTimedOut",
                "executionTimedOutEventDetails",
                || json!({"error": names::TIMEOUT, "cause": cause}),
            );
            self.end(
                ExecutionStatus::TimedOut,
                None,
                Some(names::TIMEOUT.into()),
                Some(cause),
            );
            return;
        }
        let now = self.now;
        let due: Vec<(u32, Step)> = self
            .rec
            .runs
            .iter()
            .filter(|(_, r)| match &r.step {
                Step::Sleeping { until, .. } => *until <= now,
                Step::AwaitToken(a) | Step::InFlight(a) => {
                    a.timeout_at.is_some_and(|t| t <= now)
                        || a.heartbeat_at.is_some_and(|t| t <= now)
                }
                _ => false,
            })
            .map(|(k, r)| (*k, r.step.clone()))
            .collect();
        let mut due = due;
        due.sort_by_key(|(_, s)| match s {
            Step::Sleeping { until, .. } => Some(*until),
            Step::AwaitToken(a) | Step::InFlight(a) => {
                a.timeout_at.into_iter().chain(a.heartbeat_at).min()
            }
            _ => None,
        });
        for (id, step) in due {
            match step {
                Step::Sleeping {
                    then: Wake::WaitOver(output),
                    ..
                } => {
                    if let Some(st) = self.state(id) {
                        self.leave(id, st, output);
                    }
                }
                Step::Sleeping {
                    then: Wake::Retry, ..
                } => {
                    self.set_step(id, Step::Enter { retry: true });
                    self.rec.ready.push_back(id);
                }
                Step::AwaitToken(a) | Step::InFlight(a) => {
                    let heartbeat = a
                        .heartbeat_at
                        .is_some_and(|h| h <= now && a.timeout_at.is_none_or(|t| h < t));
                    let f = if heartbeat {
                        Failure::new(
                            names::HEARTBEAT_TIMEOUT,
                            "The task did not send a heartbeat within HeartbeatSeconds",
                        )
                    } else {
                        Failure::new(names::TIMEOUT, "The task ran longer than TimeoutSeconds")
                    };
                    self.task_timed_out(id, a.nonce, f);
                }
                _ => {}
            }
        }
    }

    fn run_ready(&mut self) {
        while self.rec.status == ExecutionStatus::Running {
            if let Some(max) = self.options.max_events
                && self.rec.event_count > max
            {
                let cause =
                    format!("The execution reached the maximum number of history events ({max})");
                self.event(
                    || "ExecutionFailed",
                    "executionFailedEventDetails",
                    || json!({"error": names::RUNTIME, "cause": cause}),
                );
                self.end(
                    ExecutionStatus::Failed,
                    None,
                    Some(names::RUNTIME.into()),
                    Some(cause),
                );
                return;
            }
            let Some(id) = self.rec.ready.pop_front() else {
                return;
            };
            let Some(step) = self.rec.runs.get(&id).map(|r| r.step.clone()) else {
                continue;
            };
            match step {
                Step::Enter { retry } => crate::states::enter(self, id, retry),
                Step::Children(c) if c.pending.is_empty() && c.queued.is_empty() => {
                    crate::states::children_done(self, id, c)
                }
                _ => {}
            }
        }
    }

    fn take_dispatches(&mut self) -> Vec<(u32, TaskRequest, u64)> {
        let mut out = Vec::new();
        let ids: Vec<u32> = self
            .rec
            .runs
            .iter()
            .filter(|(_, r)| matches!(r.step, Step::Dispatch(_)))
            .map(|(k, _)| *k)
            .collect();
        for id in ids {
            let Some(st) = self.state(id) else { continue };
            let Kind::Task(spec) = &st.kind else { continue };
            let Some(r) = self.rec.runs.get_mut(&id) else {
                continue;
            };
            let Step::Dispatch(a) = r.step.clone() else {
                continue;
            };
            let req = TaskRequest {
                resource: spec.resource.clone(),
                payload: a.payload.clone(),
                state_name: st.name.clone(),
                execution_arn: self.rec.execution_arn.clone(),
                state_machine_name: self.sm_name.to_string(),
                retry_count: r.retry_count,
                task_token: a.token.clone(),
            };
            let nonce = a.nonce;
            r.step = Step::InFlight(a);
            let (ty, res) = resource_parts(&spec.resource);
            self.event(
                || "TaskStarted",
                "taskStartedEventDetails",
                || json!({"resourceType": ty, "resource": res}),
            );
            out.push((id, req, nonce));
        }
        out
    }

    /// Applies a dispatcher's answer to the attempt `nonce` of `run` (stale answers are ignored).
    pub(crate) fn task_outcome(&mut self, run: u32, nonce: u64, outcome: TaskOutcome) {
        let attempt = match self.rec.runs.get(&run).map(|r| &r.step) {
            Some(Step::InFlight(a)) | Some(Step::AwaitToken(a)) if a.nonce == nonce => a.clone(),
            _ => return,
        };
        if attempt.timeout_at.is_some_and(|t| t <= self.now) {
            self.task_timed_out(
                run,
                nonce,
                Failure::new(names::TIMEOUT, "The task ran longer than TimeoutSeconds"),
            );
            return;
        }
        crate::states::task::outcome(self, run, attempt, outcome);
    }

    fn task_timed_out(&mut self, run: u32, nonce: u64, f: Failure) {
        let Some(st) = self.state(run) else { return };
        let Kind::Task(spec) = &st.kind else { return };
        match self.rec.runs.get(&run).map(|r| &r.step) {
            Some(Step::InFlight(a)) | Some(Step::AwaitToken(a)) if a.nonce == nonce => {}
            _ => return,
        }
        self.close_token(run);
        let (ty, res) = resource_parts(&spec.resource);
        self.event(
            || "TaskTimedOut",
            "taskTimedOutEventDetails",
            || json!({"resourceType": ty, "resource": res, "error": f.error, "cause": f.cause}),
        );
        self.fail(run, st, f);
    }

    pub(crate) fn close_token(&mut self, run: u32) {
        if let Some(Run {
            step: Step::AwaitToken(a) | Step::InFlight(a),
            ..
        }) = self.rec.runs.get(&run)
            && let Some(t) = &a.token
        {
            let t = t.clone();
            self.rec.tokens.retain(|x| *x != t);
        }
    }

    /// Leaves `state` with `output`: DataLimit check, StateExited, then Next or End.
    pub(crate) fn leave(&mut self, run: u32, state: &'a State, output: Value) {
        if let Err(f) = pipeline::check_size(&output, "state output") {
            self.fail(run, state, f);
            return;
        }
        self.event(|| format!("{}StateExited", type_name(state)), "stateExitedEventDetails", || json!({"name": state.name, "output": pipeline_text(&output), "outputDetails": {"truncated": false}}));
        match &state.transition {
            Transition::Next(n) => self.goto(run, n.clone(), output),
            _ => self.finish_run(run, Ok(output)),
        }
    }

    pub(crate) fn goto(&mut self, run: u32, next: String, input: Value) {
        let now = self.now_str();
        if let Some(r) = self.rec.runs.get_mut(&run) {
            r.state = next;
            r.input = input;
            r.entered = now;
            r.retries.clear();
            r.retry_count = 0;
            r.step = Step::Enter { retry: false };
            self.rec.ready.push_back(run);
        }
    }

    /// A state failed: Retry, then Catch, then the run fails.
    pub(crate) fn fail(&mut self, run: u32, state: &'a State, f: Failure) {
        let (retriers, catchers) = match &state.kind {
            Kind::Task(t) => (&t.io.retry[..], &t.io.catch[..]),
            Kind::Parallel { io, .. } => (&io.retry[..], &io.catch[..]),
            Kind::Map(m) => (&m.io.retry[..], &m.io.catch[..]),
            _ => (&[][..], &[][..]),
        };
        let Some(r) = self.rec.runs.get(&run) else {
            return;
        };
        let unit: f64 = rand::random();
        match retry::decide(retriers, &r.retries, &f.error, unit) {
            RetryDecision::Retry { retrier, delay_ms } => {
                let until = self
                    .now
                    .checked_add(SignedDuration::from_millis(
                        i64::try_from(delay_ms).unwrap_or(i64::MAX),
                    ))
                    .unwrap_or(self.now);
                if let Some(r) = self.rec.runs.get_mut(&run) {
                    if r.retries.len() <= retrier {
                        r.retries.resize(retrier + 1, 0);
                    }
                    r.retries[retrier] += 1;
                    r.retry_count += 1;
                    r.step = Step::Sleeping {
                        until,
                        then: Wake::Retry,
                    };
                }
                if delay_ms == 0 {
                    self.set_step(run, Step::Enter { retry: true });
                    self.rec.ready.push_back(run);
                }
            }
            RetryDecision::GiveUp => {
                if let Some(c) = retry::find_catcher(catchers, &f.error) {
                    let raw = self
                        .rec
                        .runs
                        .get(&run)
                        .map(|r| r.input.clone())
                        .unwrap_or(Value::Null);
                    let error_output = json!({"Error": f.error, "Cause": f.cause});
                    if let Some(j) = &state.jsonata {
                        let idx = catchers
                            .iter()
                            .position(|x| std::ptr::eq(x, c))
                            .unwrap_or(0);
                        let (out_t, assign_t) = j.catchers.get(idx).cloned().unwrap_or_default();
                        let b = crate::states::jsonata_bindings(
                            self,
                            run,
                            &raw,
                            None,
                            Some(&error_output),
                            None,
                        );
                        // A catcher's Output defaults to the error output.
                        let out = out_t
                            .as_ref()
                            .map_or(Ok(error_output.clone()), |t| t.eval(&b, "Output"))
                            .and_then(|out| {
                                crate::states::jsonata_assign(self, run, assign_t.as_ref(), &b)
                                    .map(|()| out)
                            });
                        match out {
                            Ok(out) => {
                                self.event(|| format!("{}StateExited", type_name(state)), "stateExitedEventDetails", || json!({"name": state.name, "output": pipeline_text(&out), "outputDetails": {"truncated": false}}));
                                self.goto(run, c.next.clone(), out);
                            }
                            Err(f2) => self.finish_run(run, Err(f2)),
                        }
                        return;
                    }
                    if let Err(f2) = self.assign(run, c.assign.as_ref(), &error_output) {
                        self.finish_run(run, Err(f2));
                        return;
                    }
                    match pipeline::result_path(c.result_path.as_ref(), &raw, error_output) {
                        Ok(out) => {
                            self.event(|| format!("{}StateExited", type_name(state)), "stateExitedEventDetails", || json!({"name": state.name, "output": pipeline_text(&out), "outputDetails": {"truncated": false}}));
                            self.goto(run, c.next.clone(), out);
                        }
                        Err(f2) => self.finish_run(run, Err(f2)),
                    }
                } else {
                    self.finish_run(run, Err(f));
                }
            }
        }
    }

    pub(crate) fn spawn(
        &mut self,
        parent: u32,
        graph: usize,
        index: usize,
        input: Value,
        map_item: Option<Value>,
    ) -> u32 {
        let id = self.rec.next_run;
        self.rec.next_run += 1;
        let start = self
            .sm
            .graphs
            .get(graph)
            .map(|g| g.start_at.clone())
            .unwrap_or_default();
        let run = Run {
            graph,
            parent: Some(parent),
            index,
            state: start,
            input,
            entered: self.now_str(),
            entered_event: 0,
            step: Step::Enter { retry: false },
            retries: Vec::new(),
            retry_count: 0,
            map_item,
            vars: self.vars(parent).clone(),
        };
        self.rec.runs.insert(id, run);
        self.rec.ready.push_back(id);
        id
    }

    fn remove_tree(&mut self, run: u32) {
        self.close_token(run);
        if let Some(r) = self.rec.runs.remove(&run)
            && let Step::Children(c) = r.step
        {
            for child in c.pending {
                self.remove_tree(child);
            }
        }
    }

    /// A run reached End (or failed without a catcher).
    pub(crate) fn finish_run(&mut self, run: u32, result: Result<Value, Failure>) {
        let Some(r) = self.rec.runs.get(&run) else {
            return;
        };
        let (parent, index) = (r.parent, r.index);
        self.remove_tree(run);
        let Some(parent) = parent else {
            match result {
                Ok(out) => {
                    self.event(|| "ExecutionSucceeded", "executionSucceededEventDetails", || json!({"output": pipeline_text(&out), "outputDetails": {"truncated": false}}));
                    self.end(ExecutionStatus::Succeeded, Some(out), None, None);
                }
                Err(f) => {
                    self.event(
                        || "ExecutionFailed",
                        "executionFailedEventDetails",
                        || json!({"error": f.error, "cause": f.cause}),
                    );
                    self.end(ExecutionStatus::Failed, None, Some(f.error), Some(f.cause));
                }
            }
            return;
        };
        crate::states::child_finished(self, parent, run, index, result);
    }

    pub(crate) fn abort_children(&mut self, parent: u32) {
        if let Some(Run {
            step: Step::Children(c),
            ..
        }) = self.rec.runs.get_mut(&parent)
        {
            let pending = std::mem::take(&mut c.pending);
            c.queued.clear();
            for child in pending {
                self.remove_tree(child);
            }
        }
    }

    fn end(
        &mut self,
        status: ExecutionStatus,
        output: Option<Value>,
        error: Option<String>,
        cause: Option<String>,
    ) {
        self.rec.status = status;
        self.rec.output = output;
        self.rec.error = error;
        self.rec.cause = cause;
        self.rec.stop_date = Some(self.now_str());
        self.rec.runs.clear();
        self.rec.ready.clear();
        self.rec.tokens.clear();
    }

    /// Resolves a `Dynamic` number against the effective input.
    pub(crate) fn dynamic_u64(
        &self,
        run: u32,
        d: &definition::Dynamic<u64>,
        effective: &Value,
        field: &str,
    ) -> Result<u64, Failure> {
        match d {
            definition::Dynamic::Value(n) => Ok(*n),
            definition::Dynamic::Path(p) => {
                let v = self.select(run, p, effective).ok_or_else(|| {
                    Failure::runtime(format!(
                        "The {field}Path '{p}' could not be found in the input"
                    ))
                })?;
                v.as_u64().ok_or_else(|| {
                    Failure::runtime(format!(
                        "The {field}Path '{p}' must select a non-negative integer, got {v}"
                    ))
                })
            }
        }
    }

    pub(crate) fn children(&mut self, run: u32) -> Option<&mut Children> {
        match self.rec.runs.get_mut(&run) {
            Some(Run {
                step: Step::Children(c),
                ..
            }) => Some(c),
            _ => None,
        }
    }
}

/// `Pass`, `Task`, ... as used in event type names.
pub(crate) fn type_name(s: &State) -> &'static str {
    match s.kind {
        Kind::Pass { .. } => "Pass",
        Kind::Task(_) => "Task",
        Kind::Choice { .. } => "Choice",
        Kind::Wait(_) => "Wait",
        Kind::Succeed => "Succeed",
        Kind::Fail { .. } => "Fail",
        Kind::Parallel { .. } => "Parallel",
        Kind::Map(_) => "Map",
    }
}

/// Splits a resource ARN into the history's `resourceType` and `resource`.
pub(crate) fn resource_parts(resource: &str) -> (String, String) {
    let parts: Vec<&str> = resource.split(':').collect();
    if parts.len() >= 6 && parts[2] == "states" && parts[3].is_empty() {
        return (parts[5].to_string(), parts[6..].join(":"));
    }
    (
        parts.get(2).copied().unwrap_or("").to_string(),
        resource.to_string(),
    )
}
