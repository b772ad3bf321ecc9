//! The interpreter as `onboard serve` runs it: the onboarding and offboarding state
//! machines with their `${...FunctionArn}` substitutions, a dispatcher from Task
//! resources to the steps,
//! the clock (system or virtual) and the loop that fires due timers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use onboard_asl::{Dispatcher, Failure, TaskOutcome, TaskRequest};
use onboard_connectors::http::RetryPolicy;
use onboard_connectors::notify::{Notifier, SmtpMailer, SmtpSecurity, SmtpSettings, SnsTexter};
use onboard_steps::decisions::CallbackError;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// The onboarding workflow, deployed as-is to AWS and run here.
pub(crate) const ONBOARDING_ASL: &str = include_str!("../../statemachine/onboarding.asl.json");
/// The name the onboarding state machine is registered under.
pub(crate) const ONBOARDING_MACHINE: &str = "onboarding";
/// The offboarding workflow, deployed as-is to AWS and run here.
pub(crate) const OFFBOARDING_ASL: &str = include_str!("../../statemachine/offboarding.asl.json");
/// The name the offboarding state machine is registered under.
pub(crate) const OFFBOARDING_MACHINE: &str = "offboarding";

/// The account and region of the local Lambda ARNs (the interpreter's own).
const LAMBDA_ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

/// The local Lambda ARN of the step function `function` (e.g. `CreateUser`).
pub(crate) fn lambda_arn(function: &str) -> String {
    format!("{LAMBDA_ARN_PREFIX}{function}")
}

/// Replaces every `${NameFunctionArn}` of a definition by the local ARN of `Name`,
/// as SAM's DefinitionSubstitutions do on AWS. Fails on any other `${...}`.
pub(crate) fn substitute(definition: &str) -> anyhow::Result<String> {
    let mut out = String::with_capacity(definition.len());
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            anyhow::bail!("unterminated substitution in the state machine");
        };
        let name = &after[..end];
        let Some(function) = name.strip_suffix("FunctionArn") else {
            anyhow::bail!("unknown substitution ${{{name}}} in the state machine");
        };
        out.push_str(&lambda_arn(function));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Runs one step function by name. Implemented over `onboard_steps::dispatch`.
#[async_trait]
pub(crate) trait StepRunner: Send + Sync {
    /// Runs `function` with `payload`; a failure carries the step's error name.
    async fn run(&self, function: &str, payload: Value) -> Result<Value, Failure>;
}

/// Maps Task resources to step functions: a plain Lambda ARN, or
/// `arn:aws:states:::lambda:invoke[.waitForTaskToken]` with `FunctionName` and `Payload`.
pub(crate) struct StepDispatcher {
    pub(crate) steps: Arc<dyn StepRunner>,
}

/// The step function named by a Lambda ARN (or a bare name, as `FunctionName` allows).
fn function_of(arn_or_name: &str) -> &str {
    let name = arn_or_name
        .strip_prefix(LAMBDA_ARN_PREFIX)
        .unwrap_or(arn_or_name);
    // `FunctionName` may carry a version or alias qualifier: `name:live`.
    name.split(':').next().unwrap_or(name)
}

#[async_trait]
impl Dispatcher for StepDispatcher {
    async fn dispatch(&self, request: TaskRequest) -> TaskOutcome {
        const INVOKE: &str = "arn:aws:states:::lambda:invoke";
        let (function, payload, wait) = if let Some(rest) = request.resource.strip_prefix(INVOKE) {
            let wait = match rest {
                "" => false,
                ".waitForTaskToken" => true,
                other => {
                    return TaskOutcome::Failed(Failure::new(
                        "States.Runtime",
                        format!("unsupported integration pattern lambda:invoke{other}"),
                    ));
                }
            };
            let Some(name) = request.payload.get("FunctionName").and_then(Value::as_str) else {
                return TaskOutcome::Failed(Failure::new(
                    "States.Runtime",
                    format!(
                        "state {}: lambda:invoke needs a FunctionName",
                        request.state_name
                    ),
                ));
            };
            let payload = request
                .payload
                .get("Payload")
                .cloned()
                .unwrap_or(Value::Null);
            (function_of(name).to_owned(), payload, wait)
        } else if request.resource.starts_with(LAMBDA_ARN_PREFIX) {
            (
                function_of(&request.resource).to_owned(),
                request.payload.clone(),
                false,
            )
        } else {
            return TaskOutcome::Failed(Failure::new(
                "States.Runtime",
                format!("unsupported resource {}", request.resource),
            ));
        };
        let span = tracing::info_span!("step", step = %function, state = %request.state_name,
            execution = %request.execution_arn, retry = request.retry_count);
        let _enter = span.enter();
        match self.steps.run(&function, payload).await {
            Ok(_) if wait => TaskOutcome::AwaitingCallback,
            Ok(result) => {
                // lambda:invoke wraps the function's result as the Lambda API answers it.
                if request.resource.starts_with(INVOKE) {
                    TaskOutcome::Succeeded(serde_json::json!({
                        "Payload": result,
                        "StatusCode": 200,
                        "ExecutedVersion": "$LATEST"
                    }))
                } else {
                    TaskOutcome::Succeeded(result)
                }
            }
            Err(failure) => {
                tracing::warn!(error = %failure.error, "step failed");
                TaskOutcome::Failed(failure)
            }
        }
    }
}

/// The steps of `onboard_steps`, run in process.
pub(crate) struct LocalSteps {
    pub(crate) deps: onboard_steps::Deps,
}

/// How long one step may take, as template.yaml's `Timeout: 60` gives each step
/// function: its calls stop retrying in time to answer with a retryable error.
const STEP_BUDGET: Duration = Duration::from_secs(60);

#[async_trait]
impl StepRunner for LocalSteps {
    async fn run(&self, function: &str, payload: Value) -> Result<Value, Failure> {
        let deadline = std::time::Instant::now() + STEP_BUDGET;
        onboard_connectors::http::with_deadline(
            deadline,
            onboard_steps::dispatch(&self.deps, function, payload),
        )
        .await
        .map_err(|e| Failure::new(e.name(), e.cause()))
    }
}

/// SendTaskSuccess / SendTaskFailure on the embedded interpreter, for decision links.
pub(crate) struct EngineCallbacks {
    pub(crate) engine: Arc<onboard_asl::Engine>,
}

#[async_trait]
impl onboard_steps::TaskCallbacks for EngineCallbacks {
    async fn send_task_success(
        &self,
        task_token: &SecretString,
        output: Value,
    ) -> Result<(), CallbackError> {
        self.engine
            .send_task_success(task_token.expose_secret(), &output.to_string())
            .await
            .map_err(callback_error)
    }

    async fn send_task_failure(
        &self,
        task_token: &SecretString,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError> {
        self.engine
            .send_task_failure(task_token.expose_secret(), Some(error), Some(cause))
            .await
            .map_err(callback_error)
    }
}

fn callback_error(e: onboard_asl::Error) -> CallbackError {
    CallbackError {
        message: format!("the workflow could not be resumed ({})", e.aws_name()),
        kind: onboard_steps::decisions::CallbackFailure::Failed,
        source: Some(Box::new(e)),
    }
}

/// Timeouts and retries of the connectors. The sandbox answers at once, so its
/// clients back off briefly; real services get the connectors' defaults.
pub(crate) fn retry_policy(sandbox: bool) -> RetryPolicy {
    if sandbox {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            attempt_timeout: Duration::from_secs(10),
        }
    } else {
        RetryPolicy::default()
    }
}

/// Mail through the SMTP relay of `[connectors.smtp]` (host, port, security,
/// username, password); SMS comes from [`sms_notifier`].
pub(crate) fn mail_notifier(
    tables: &std::collections::BTreeMap<String, crate::serve::connections::ConnectorTable>,
) -> anyhow::Result<Arc<dyn Notifier>> {
    Ok(Arc::new(smtp_mailer(tables)?))
}

/// The SMTP relay of `[connectors.smtp]` (what [`mail_notifier`] sends through).
pub(crate) fn smtp_mailer(
    tables: &std::collections::BTreeMap<String, crate::serve::connections::ConnectorTable>,
) -> anyhow::Result<SmtpMailer> {
    let t = tables.get("smtp").ok_or_else(|| {
        anyhow::anyhow!("connectors.smtp: a mail relay is needed to send approvals and credentials")
    })?;
    let host = t
        .plain
        .get("host")
        .ok_or_else(|| anyhow::anyhow!("connectors.smtp.host is not set"))?;
    let port = match t.plain.get("port") {
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| anyhow::anyhow!("connectors.smtp.port is not a port number"))?,
        ),
        None => None,
    };
    let security = match t.plain.get("security").map(String::as_str) {
        None | Some("starttls") => SmtpSecurity::StartTls,
        Some("tls") => SmtpSecurity::ImplicitTls,
        Some("plaintext") => SmtpSecurity::Plaintext,
        Some(other) => anyhow::bail!(
            "connectors.smtp.security: `{other}` is not one of starttls, tls, plaintext"
        ),
    };
    let mailer = SmtpMailer::new(&SmtpSettings {
        host: host.clone(),
        port,
        security,
        username: t.plain.get("username").cloned(),
        password: t.secrets.get("password").cloned(),
        timeout: Duration::from_secs(30),
    })
    .map_err(|e| anyhow::anyhow!("connectors.smtp: {e}"))?;
    Ok(mailer)
}

/// SMS through Amazon SNS when `[connectors.sns]` is configured: `region`
/// (required), `sender_id` (where the destination country shows one) and
/// `endpoint_url` (an SNS-compatible endpoint); credentials come from the AWS
/// SDK's usual chain (environment, profile, instance role), never the file.
/// `None` without the section: a workflow that must text then fails naming it.
pub(crate) async fn sms_notifier(
    tables: &std::collections::BTreeMap<String, crate::serve::connections::ConnectorTable>,
) -> anyhow::Result<Option<Arc<dyn Notifier>>> {
    let Some(t) = tables.get("sns") else {
        return Ok(None);
    };
    if let Some(unknown) = t
        .plain
        .keys()
        .chain(t.secrets.keys())
        .find(|k| !matches!(k.as_str(), "region" | "sender_id" | "endpoint_url"))
    {
        anyhow::bail!(
            "connectors.sns.{unknown}: unknown setting (region, sender_id, endpoint_url)"
        );
    }
    let region = t
        .plain
        .get("region")
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| anyhow::anyhow!("connectors.sns.region is not set (e.g. \"us-east-1\")"))?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.clone()));
    if let Some(url) = t.plain.get("endpoint_url") {
        url::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("connectors.sns.endpoint_url `{url}`: {e}"))?;
        loader = loader.endpoint_url(url);
    }
    let mut texter = SnsTexter::from_conf(&loader.load().await);
    if let Some(id) = t.plain.get("sender_id") {
        texter = texter.with_sender_id(id);
    }
    Ok(Some(Arc::new(texter)))
}

/// Reminds each organization's approvers of pending approvals that are due a
/// reminder (`approval_reminder_hours`); each reminder goes out once.
pub(crate) async fn remind_approvers(deps: &onboard_steps::Deps, organizations: &[String]) {
    for org in organizations {
        match onboard_steps::remind_approvers(deps, org).await {
            Ok(0) => {}
            Ok(sent) => tracing::info!(organization = %org, sent, "approval reminders sent"),
            Err(e) => {
                tracing::warn!(organization = %org, error = e.name(), cause = %e.cause(), "approval reminders failed")
            }
        }
    }
}

/// Purges finished executions older than the retention period
/// (`server.execution_retention_days`) from the SQLite file.
#[derive(Clone)]
pub(crate) struct Purge {
    pub(crate) executions: onboard_store::SqliteExecutionStore,
    /// `None`: keep every execution.
    pub(crate) keep: Option<jiff::SignedDuration>,
}

impl Purge {
    pub(crate) fn new(executions: onboard_store::SqliteExecutionStore, days: u32) -> Self {
        let keep = (days > 0).then(|| jiff::SignedDuration::from_hours(24 * i64::from(days)));
        Self { executions, keep }
    }

    /// Purges what finished before `now` minus the retention period.
    pub(crate) async fn run(&self, now: jiff::Timestamp) {
        let Some(keep) = self.keep else { return };
        let Ok(before) = now.checked_sub(keep) else {
            return;
        };
        match self.executions.purge_finished_before(before).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, %before, "finished executions purged"),
            Err(e) => tracing::warn!(error = %e, "purging finished executions failed"),
        }
    }
}

/// Fires due timers every `every`, sends due approval reminders every minute and
/// purges old executions every hour, until `stop` says so (system clock only).
pub(crate) async fn timer_loop(
    engine: Arc<onboard_asl::Engine>,
    deps: onboard_steps::Deps,
    organizations: Vec<String>,
    purge: Purge,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reminded = std::time::Instant::now();
    let mut purged = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = engine.run_due().await {
                    tracing::error!(error = %e, "running due timers failed");
                }
                if reminded.elapsed() >= Duration::from_secs(60) {
                    reminded = std::time::Instant::now();
                    remind_approvers(&deps, &organizations).await;
                }
                if purged.elapsed() >= Duration::from_secs(3600) {
                    purged = std::time::Instant::now();
                    purge.run(deps.clock.now()).await;
                }
            }
            _ = stop.changed() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::serve::connections::ConnectorTable;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    struct Recorder(Mutex<Vec<(String, Value)>>, Result<Value, Failure>);

    #[async_trait]
    impl StepRunner for Recorder {
        async fn run(&self, function: &str, payload: Value) -> Result<Value, Failure> {
            self.0.lock().unwrap().push((function.to_owned(), payload));
            self.1.clone()
        }
    }

    fn sns_table(settings: &[(&str, &str)]) -> BTreeMap<String, ConnectorTable> {
        let plain = settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        BTreeMap::from([(
            "sns".to_owned(),
            ConnectorTable {
                plain,
                secrets: BTreeMap::new(),
            },
        )])
    }

    async fn sms_error(settings: &[(&str, &str)]) -> String {
        match sms_notifier(&sns_table(settings)).await {
            Ok(_) => panic!("{settings:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[tokio::test]
    async fn sns_settings_are_checked_and_absent_means_no_sms() {
        assert!(sms_notifier(&BTreeMap::new()).await.unwrap().is_none());
        assert!(
            sms_error(&[])
                .await
                .contains("connectors.sns.region is not set")
        );
        let unknown = sms_error(&[("region", "us-east-1"), ("topic", "x")]).await;
        assert!(
            unknown.contains("connectors.sns.topic: unknown setting"),
            "{unknown}"
        );
        let url = sms_error(&[("region", "us-east-1"), ("endpoint_url", "not a url")]).await;
        assert!(url.contains("connectors.sns.endpoint_url"), "{url}");
    }

    /// Over a real socket to moto (`scripts/test` starts it and exports its URL and
    /// test credentials): the configured texter reaches SNS, which records the text.
    #[tokio::test]
    async fn a_configured_sns_sends_the_sms() {
        let moto = std::env::var("ONBOARD_TEST_MOTO_URL")
            .expect("ONBOARD_TEST_MOTO_URL: run through scripts/test, which starts moto");
        let texter = sms_notifier(&sns_table(&[
            ("region", "us-east-1"),
            ("endpoint_url", &moto),
            ("sender_id", "Onboard"),
        ]))
        .await
        .unwrap()
        .unwrap();
        let body = format!("Your account is ready {}", uuid::Uuid::new_v4());

        let sent = texter
            .send_sms(&onboard_connectors::notify::Sms {
                to: "+15555550199".into(),
                body: body.clone(),
            })
            .await
            .unwrap();

        let state: Value = reqwest::get(format!("{moto}/moto-api/data.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let texts = state["sns"]["SMS"].as_array().expect("moto's SMS list");
        let recorded = texts
            .iter()
            .find(|m| m["message_id"] == sent.message_id.as_str())
            .unwrap_or_else(|| panic!("SMS {} not in moto: {texts:?}", sent.message_id));
        assert_eq!(recorded["phone_number"], "+15555550199");
        assert_eq!(recorded["message"], body.as_str());
    }

    fn request(resource: &str, payload: Value) -> TaskRequest {
        TaskRequest {
            resource: resource.into(),
            payload,
            state_name: "S".into(),
            execution_arn: "arn:x".into(),
            state_machine_name: "onboarding".into(),
            retry_count: 0,
            task_token: None,
        }
    }

    #[test]
    fn every_substitution_of_the_onboarding_machine_becomes_a_local_arn() {
        let text = substitute(ONBOARDING_ASL).unwrap();
        assert!(!text.contains("${"));
        assert!(text.contains(&lambda_arn("CreateUser")));
        assert!(substitute("${Other}").is_err());
    }

    #[test]
    fn the_onboarding_machine_registers() {
        let engine = onboard_asl::Engine::new(
            Arc::new(onboard_asl::MemoryStore::new()),
            Arc::new(onboard_asl::SystemClock),
            Arc::new(onboard_asl::mock::MockDispatcher::empty()),
        );
        engine
            .register(ONBOARDING_MACHINE, &substitute(ONBOARDING_ASL).unwrap())
            .unwrap();
    }

    #[test]
    fn the_offboarding_machine_registers_with_only_known_steps() {
        let text = substitute(OFFBOARDING_ASL).unwrap();
        assert!(!text.contains("${"));
        for step in [
            "ValidateOffboarding",
            "EnsureOffboardingTicket",
            "RequestOffboardingApproval",
            "CloseOffboarding",
            "MarkOffboardingScheduled",
            "RecordRestorePoint",
            "OffboardUser",
            "CompleteOffboarding",
            "HandleOffboardingFailure",
        ] {
            assert!(text.contains(&lambda_arn(step)), "{step}");
            assert!(onboard_steps::dispatch::FUNCTIONS.contains(&step), "{step}");
        }
        let engine = onboard_asl::Engine::new(
            Arc::new(onboard_asl::MemoryStore::new()),
            Arc::new(onboard_asl::SystemClock),
            Arc::new(onboard_asl::mock::MockDispatcher::empty()),
        );
        engine.register(OFFBOARDING_MACHINE, &text).unwrap();
    }

    #[tokio::test]
    async fn a_plain_lambda_arn_runs_its_step_with_the_payload() {
        let rec = Arc::new(Recorder(Mutex::default(), Ok(json!({"ok": 1}))));
        let d = StepDispatcher { steps: rec.clone() };
        let out = d
            .dispatch(request(
                &lambda_arn("CreateUser"),
                json!({"onboarding_id": "a"}),
            ))
            .await;
        assert_eq!(out, TaskOutcome::Succeeded(json!({"ok": 1})));
        assert_eq!(
            rec.0.lock().unwrap()[0],
            ("CreateUser".into(), json!({"onboarding_id": "a"}))
        );
    }

    #[tokio::test]
    async fn wait_for_task_token_awaits_the_callback_after_the_step_succeeds() {
        let rec = Arc::new(Recorder(Mutex::default(), Ok(json!({}))));
        let d = StepDispatcher { steps: rec.clone() };
        let out = d
            .dispatch(request(
                "arn:aws:states:::lambda:invoke.waitForTaskToken",
                json!({"FunctionName": lambda_arn("RequestApproval"), "Payload": {"task_token": "t"}}),
            ))
            .await;
        assert_eq!(out, TaskOutcome::AwaitingCallback);
        assert_eq!(
            rec.0.lock().unwrap()[0],
            ("RequestApproval".into(), json!({"task_token": "t"}))
        );
    }

    #[tokio::test]
    async fn a_step_error_fails_the_task_with_its_name() {
        let rec = Arc::new(Recorder(
            Mutex::default(),
            Err(Failure::new("Graph.UserExists", "taken")),
        ));
        let d = StepDispatcher { steps: rec };
        let out = d
            .dispatch(request(
                "arn:aws:states:::lambda:invoke.waitForTaskToken",
                json!({"FunctionName": "RequestApproval", "Payload": {}}),
            ))
            .await;
        assert_eq!(
            out,
            TaskOutcome::Failed(Failure::new("Graph.UserExists", "taken"))
        );
    }
}
