//! One execution moved forward by one event: [`Exec`] loads the record's runs,
//! applies the event, runs every state that can run, and leaves the record and the
//! tasks to dispatch for [`super::Engine`] to save and send.

use super::{ACCOUNT, EngineOptions, Registered, TokenBody, add_secs, rfc3339};
use crate::definition::{self, Kind, State, StateMachine, Transition};
use crate::dispatcher::{TaskOutcome, TaskRequest};
use crate::error::{Failure, names};
use crate::execution::{Children, ExecutionRecord, ExecutionStatus, HistoryEvent, Run, Step, Wake};
use crate::pipeline;
use crate::retry::{self, RetryDecision};
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

pub(super) fn ev_with_run(ev: ExternalEvent, run: u32, token: &str) -> ExternalEvent {
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

pub(super) fn role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/StepFunctionsLocal")
}

pub(super) fn pipeline_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub(super) fn wake_at(rec: &ExecutionRecord) -> Option<Timestamp> {
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
    pub(super) fn new(
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

    pub(super) fn external(&mut self, ev: ExternalEvent) {
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
    pub(super) fn wake_due(&mut self) {
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

    pub(super) fn run_ready(&mut self) {
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

    pub(super) fn take_dispatches(&mut self) -> Vec<(u32, TaskRequest, u64)> {
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
