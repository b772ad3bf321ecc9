//! Task: hands its parameters to the dispatcher; with `.waitForTaskToken` it then parks
//! until SendTaskSuccess / SendTaskFailure, a heartbeat gap or its timeout.
//!
//! "TimeoutSeconds: if the task runs longer than the specified seconds, this state fails
//! with a States.Timeout error name." "HeartbeatSeconds: if more time than the specified
//! seconds elapses between heartbeats from the task, this state fails with a
//! States.Timeout error name" (matched more narrowly by States.HeartbeatTimeout).

use crate::definition::{Kind, State};
use crate::dispatcher::TaskOutcome;
use crate::engine::{Exec, resource_parts};
use crate::error::{Failure, names};
use crate::execution::{Step, TaskAttempt};
use crate::payload::compact;
use crate::pipeline;
use jiff::SignedDuration;
use serde_json::{Value, json};

pub(crate) fn enter<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    raw: &Value,
) -> Result<(), Failure> {
    let Kind::Task(spec) = &state.kind else {
        return Ok(());
    };
    let effective = super::effective_input(state, raw)?;
    let nonce = x.new_nonce();
    let token = spec.wait_for_task_token.then(|| x.new_token(run, nonce));
    let (payload, timeout, heartbeat) = if let Some(j) = &state.jsonata {
        let b = super::jsonata_bindings(x, run, raw, None, None, token.as_deref());
        let payload = match &j.arguments {
            Some(t) => t.eval(&b, "Arguments")?,
            None => raw.clone(),
        };
        let num = |t: &Option<crate::jsonata::Template>,
                   d: &Option<crate::definition::Dynamic<u64>>,
                   field: &str| match (t, d) {
            (Some(t), _) => super::jsonata_u64(t, &b, field).map(Some),
            (None, Some(crate::definition::Dynamic::Value(n))) => Ok(Some(*n)),
            _ => Ok(None),
        };
        let timeout = num(&j.timeout, &spec.timeout, "TimeoutSeconds")?;
        let heartbeat = num(&j.heartbeat, &spec.heartbeat, "HeartbeatSeconds")?;
        (payload, timeout, heartbeat)
    } else {
        let ctx = x.context_for(spec.io.parameters.as_ref(), run, token.as_deref());
        let payload =
            pipeline::template(spec.io.parameters.as_ref(), &effective, &ctx, x.vars(run))?;
        let timeout = spec
            .timeout
            .as_ref()
            .map(|d| x.dynamic_u64(run, d, &effective, "TimeoutSeconds"))
            .transpose()?;
        let heartbeat = spec
            .heartbeat
            .as_ref()
            .map(|d| x.dynamic_u64(run, d, &effective, "HeartbeatSeconds"))
            .transpose()?;
        (payload, timeout, heartbeat)
    };
    pipeline::check_size(&payload, "task input")?;
    let now = x.now;
    let at = |s: u64| {
        now.checked_add(SignedDuration::from_secs(
            i64::try_from(s).unwrap_or(i64::MAX),
        ))
        .ok()
    };
    let (ty, res) = resource_parts(&spec.resource);
    let mut details = json!({"resourceType": ty, "resource": res, "region": crate::engine::REGION, "parameters": compact(&payload)});
    if let (Some(t), Some(m)) = (timeout, details.as_object_mut()) {
        m.insert("timeoutInSeconds".into(), json!(t));
    }
    if let (Some(h), Some(m)) = (heartbeat, details.as_object_mut()) {
        m.insert("heartbeatInSeconds".into(), json!(h));
    }
    x.event(|| "TaskScheduled", "taskScheduledEventDetails", || details);
    let attempt = TaskAttempt {
        payload,
        nonce,
        token: token.clone(),
        timeout_at: timeout.and_then(at),
        heartbeat_at: heartbeat.and_then(at),
        heartbeat_seconds: heartbeat,
    };
    if let Some(t) = token {
        x.rec.tokens.push(t);
    }
    x.set_step(run, Step::Dispatch(attempt));
    Ok(())
}

pub(crate) fn outcome<'a>(x: &mut Exec<'a>, run: u32, attempt: TaskAttempt, outcome: TaskOutcome) {
    let Some(state) = x.state(run) else { return };
    let Kind::Task(spec) = &state.kind else {
        return;
    };
    let (ty, res) = resource_parts(&spec.resource);
    match outcome {
        TaskOutcome::AwaitingCallback => {
            if attempt.token.is_none() {
                x.close_token(run);
                let f = Failure::runtime(format!(
                    "The resource '{}' answered that it will call back, but the Task does not use .waitForTaskToken",
                    spec.resource
                ));
                x.fail(run, state, f);
                return;
            }
            x.event(
                || "TaskSubmitted",
                "taskSubmittedEventDetails",
                || json!({"resourceType": ty, "resource": res, "output": "{}"}),
            );
            x.set_step(run, Step::AwaitToken(attempt));
        }
        TaskOutcome::Succeeded(v) => {
            x.close_token(run);
            x.event(|| "TaskSucceeded", "taskSucceededEventDetails", || json!({"resourceType": ty, "resource": res, "output": compact(&v), "outputDetails": {"truncated": false}}));
            if let Err(f) = pipeline::check_size(&v, "task result")
                .and_then(|()| super::finish_result(x, run, state, &spec.io, v))
            {
                x.fail(run, state, f);
            }
        }
        TaskOutcome::Failed(f) => {
            x.close_token(run);
            let f = if f.error.is_empty() {
                Failure::new(names::TASK_FAILED, f.cause)
            } else {
                f
            };
            x.event(
                || "TaskFailed",
                "taskFailedEventDetails",
                || json!({"resourceType": ty, "resource": res, "error": f.error, "cause": f.cause}),
            );
            x.fail(run, state, f);
        }
    }
}
