//! statemachine/onboarding.asl.json run by the project's interpreter (`onboard-asl`)
//! over these steps and the simulators: the paths of the workflow end to end,
//! with decisions resuming waiting tasks through `TaskCallbacks`.

use std::sync::Arc;

use async_trait::async_trait;
use onboard_asl::{
    Dispatcher, Engine, ExecutionStatus, Failure, MemoryStore, TaskOutcome, TaskRequest,
    VirtualClock,
};
use onboard_steps::decisions::{Action, CallbackError, TaskCallbacks, decide};
use onboard_steps::{Deps, FUNCTIONS};
use onboard_store::Store;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::support::{Env, ORG};

/// Runs Task states with `onboard_steps::dispatch`, as `onboard serve` will; Pax8
/// first provisions the seats that became due on the virtual clock.
struct Steps(Deps, onboard_sandbox::pax8::Pax8);

#[async_trait]
impl Dispatcher for Steps {
    async fn dispatch(&self, request: TaskRequest) -> TaskOutcome {
        self.1.provision_due();
        let waits = request.task_token.is_some();
        let (arn, mut payload) = if request
            .resource
            .starts_with("arn:aws:states:::lambda:invoke")
        {
            (
                request.payload["FunctionName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                request.payload["Payload"].clone(),
            )
        } else {
            (request.resource.clone(), request.payload.clone())
        };
        let function = arn.rsplit(':').next().unwrap_or_default().to_owned();
        if let Some(token) = request.task_token {
            // The state passes `$$.Task.Token`; the interpreter hands it over here too.
            payload["task_token"] = json!(token);
        }
        match onboard_steps::dispatch(&self.0, &function, payload).await {
            Ok(_) if waits => TaskOutcome::AwaitingCallback,
            Ok(output) => TaskOutcome::Succeeded(output),
            Err(e) => TaskOutcome::Failed(Failure::new(e.name(), e.cause())),
        }
    }
}

/// Resumes waiting tasks through the interpreter.
pub(crate) struct Resume(Arc<Engine>);

#[async_trait]
impl TaskCallbacks for Resume {
    async fn send_task_success(
        &self,
        token: &SecretString,
        output: Value,
    ) -> Result<(), CallbackError> {
        self.0
            .send_task_success(token.expose_secret(), &output.to_string())
            .await
            .map_err(|e| CallbackError::new(e.to_string()))
    }

    async fn send_task_failure(
        &self,
        token: &SecretString,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError> {
        self.0
            .send_task_failure(token.expose_secret(), Some(error), Some(cause))
            .await
            .map_err(|e| CallbackError::new(e.to_string()))
    }
}

/// The definition with its `${XFunctionArn}` substitutions made, as SAM deploys it.
fn definition() -> String {
    substituted(include_str!("../../../../statemachine/onboarding.asl.json"))
}

/// `text` with its `${XFunctionArn}` substitutions made.
pub(crate) fn substituted(text: &str) -> String {
    let mut text = text.to_owned();
    for f in FUNCTIONS {
        text = text.replace(
            &format!("${{{f}FunctionArn}}"),
            &format!("arn:aws:lambda:us-east-1:123456789012:function:{f}"),
        );
    }
    text
}

pub(crate) struct Workflow {
    pub(crate) engine: Arc<Engine>,
    machine: String,
}

impl Workflow {
    fn new(env: &mut Env) -> Workflow {
        Workflow::of(env, "onboarding", &definition())
    }

    /// `definition` (substituted) registered as `name` over the steps, on a virtual
    /// clock the steps, Pax8 and the outbox follow.
    pub(crate) fn of(env: &mut Env, name: &str, definition: &str) -> Workflow {
        let clock = Arc::new(VirtualClock::new(env.deps.clock.now()));
        let follow = clock.clone();
        // The steps, Pax8 and the outbox read the interpreter's virtual clock.
        env.clock
            .follow(move || onboard_asl::Clock::now(follow.as_ref()));
        let engine = Arc::new(Engine::new(
            Arc::new(MemoryStore::new()),
            clock,
            Arc::new(Steps(env.deps.clone(), env.pax8.clone())),
        ));
        let machine = engine.register(name, definition).unwrap();
        Workflow { engine, machine }
    }

    async fn start(&self, id: &str) -> String {
        self.start_with(json!({"onboarding_id": id})).await
    }

    /// Starts an execution with `input` and drives it until it waits.
    pub(crate) async fn start_with(&self, input: Value) -> String {
        let arn = self
            .engine
            .start_execution(&self.machine, None, input)
            .await
            .unwrap();
        self.engine.drive(&arn).await.unwrap();
        arn
    }

    pub(crate) async fn finish(&self, arn: &str) -> onboard_asl::ExecutionRecord {
        self.engine.run_to_completion(arn).await.unwrap()
    }

    pub(crate) fn callbacks(&self) -> Resume {
        Resume(self.engine.clone())
    }
}

async fn pending_decision(env: &Env) -> String {
    let page = env.store.pending_decisions(ORG, 10, None).await.unwrap();
    assert_eq!(page.items.len(), 1, "{page:?}");
    page.items[0].id.clone()
}

#[tokio::test]
async fn the_plain_path_completes_and_no_secret_is_in_the_state() {
    let mut env = Env::new().await;
    env.submit(
        "ob-w1",
        json!({"licenses": ["O365_BUSINESS_PREMIUM"], "groups": ["Sales"]}),
    )
    .await;
    let flow = Workflow::new(&mut env);
    let arn = flow.start("ob-w1").await;
    let run = flow.finish(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let record = env.record("ob-w1").await;
    assert_eq!(record.status.as_str(), "completed");
    assert_eq!(record.license_outcome.map(|o| o.as_str()), Some("assigned"));
    let output = run.output.unwrap();
    assert_eq!(output["completed"]["status"], "completed");
    let password = crate::support::password_in_notes(&env.note_texts()).unwrap();
    assert!(!output.to_string().contains(&password));
}

#[tokio::test]
async fn approved_then_scheduled_then_an_unanswered_purchase_completes_without_the_license() {
    let mut env = Env::new().await;
    env.set_variables(&[
        ("require_approval_for_new_users", "1"),
        ("new_user_approval_email", "hr@contoso.com"),
        ("allow_scheduled_user_creation", "1"),
    ])
    .await;
    env.submit(
        "ob-w2",
        json!({"licenses": ["SPB"], "start_date": "2026-03-12"}),
    )
    .await;
    let flow = Workflow::new(&mut env);
    let arn = flow.start("ob-w2").await;
    assert_eq!(
        env.record("ob-w2").await.status.as_str(),
        "pending_approval"
    );

    let approval = pending_decision(&env).await;
    decide(
        &env.deps,
        &flow.callbacks(),
        &approval,
        Action::Approve,
        "hr@contoso.com",
    )
    .await
    .unwrap();
    flow.engine.drive(&arn).await.unwrap();
    assert_eq!(env.record("ob-w2").await.status.as_str(), "scheduled");
    assert!(
        !env.users_named("asilva@contoso.com"),
        "nothing before the start date"
    );

    let run = flow.finish(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let record = env.record("ob-w2").await;
    assert_eq!(record.status.as_str(), "completed");
    assert_eq!(
        record.license_outcome.map(|o| o.as_str()),
        Some("purchase_timed_out")
    );
    assert!(env.users_named("asilva@contoso.com"));
    assert!(env
        .note_texts()
        .iter()
        .any(|n| n.contains("Nobody confirmed or rejected the purchase of SPB within 24 hours")));
}

#[tokio::test]
async fn a_confirmed_purchase_is_assigned_once_the_seat_is_in_the_tenant() {
    let mut env = Env::new().await;
    env.submit("ob-w3", json!({"licenses": ["SPB"]})).await;
    let flow = Workflow::new(&mut env);
    let arn = flow.start("ob-w3").await;
    assert_eq!(
        env.record("ob-w3").await.status.as_str(),
        "waiting_license_purchase"
    );
    env.graph
        .state()
        .add_seats(crate::support::TENANT, "SPB", 1)
        .unwrap();
    let purchase = pending_decision(&env).await;
    decide(
        &env.deps,
        &flow.callbacks(),
        &purchase,
        Action::Confirm,
        "tech@msp.example",
    )
    .await
    .unwrap();
    let run = flow.finish(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert_eq!(
        env.record("ob-w3")
            .await
            .license_outcome
            .map(|o| o.as_str()),
        Some("purchase_confirmed")
    );
}

#[tokio::test]
async fn a_denied_or_unanswered_approval_ends_without_a_user() {
    for (id, answer) in [("ob-w4", Some(Action::Deny)), ("ob-w5", None)] {
        let mut env = Env::new().await;
        env.set_variables(&[
            ("require_approval_for_new_users", "1"),
            ("new_user_approval_email", "hr@contoso.com"),
        ])
        .await;
        env.submit(id, json!({})).await;
        let flow = Workflow::new(&mut env);
        let arn = flow.start(id).await;
        if let Some(action) = answer {
            let approval = pending_decision(&env).await;
            decide(
                &env.deps,
                &flow.callbacks(),
                &approval,
                action,
                "hr@contoso.com",
            )
            .await
            .unwrap();
        }
        let run = flow.finish(&arn).await;
        assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
        let expected = if answer.is_some() {
            "denied"
        } else {
            "approval_timed_out"
        };
        assert_eq!(env.record(id).await.status.as_str(), expected);
        assert!(!env.users_named("asilva@contoso.com"));
        assert_eq!(env.tickets()[0].status.name, "Completed");
    }
}

#[tokio::test]
async fn an_automatic_purchase_waits_for_the_seats_and_buys_once() {
    let mut env = Env::new().await;
    env.set_variables(&[("microsoft_licensing_distributor", "pax8")])
        .await;
    env.submit("ob-w6", json!({"licenses": ["SPB"]})).await;
    let flow = Workflow::new(&mut env);
    let arn = flow.start("ob-w6").await;
    // PurchaseLicense bought the seat and is retrying License.SeatsPending until
    // Pax8 provisions it (120 s on the virtual clock).
    assert_eq!(env.pax8.orders().len(), 1);
    let run = flow.finish(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert_eq!(
        env.record("ob-w6")
            .await
            .license_outcome
            .map(|o| o.as_str()),
        Some("purchased")
    );
    assert_eq!(env.pax8.orders().len(), 1, "bought once");
}

#[tokio::test]
async fn a_permanent_failure_notes_the_ticket_and_fails_with_the_steps_error() {
    let mut env = Env::new().await;
    env.submit("ob-w7", json!({"username": "adelev"})).await;
    let flow = Workflow::new(&mut env);
    let arn = flow.start("ob-w7").await;
    let run = flow.finish(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("Graph.UserExists"));
    assert_eq!(env.record("ob-w7").await.status.as_str(), "failed");
    assert_eq!(env.tickets()[0].status.name, "Waiting Customer");
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.starts_with("Onboard stopped at step create_user"))
    );
}

#[tokio::test]
async fn with_a_fifth_of_all_calls_failing_every_onboarding_completes_exactly_once() {
    let mut env = Env::new().await;
    env.set_variables(&[("onboarding_password_save_location", "itglue")])
        .await;
    let people = [
        ("Bruno", "Costa"),
        ("Carla", "Dias"),
        ("Diego", "Lima"),
        ("Eva", "Rocha"),
        ("Fabio", "Souza"),
    ];
    for (i, (first, last)) in people.iter().enumerate() {
        env.submit(
            &format!("ob-f{i}"),
            json!({"first_name": first, "last_name": last, "licenses": ["EXCHANGESTANDARD"],
                   "groups": ["Sales"], "send_credentials_to": "email"}),
        )
        .await;
    }
    let faults = onboard_sandbox::faults::FaultSettings {
        throttle_rate: 0.1,
        error_rate: 0.1,
        error_status: 503,
        retry_after_seconds: 1,
        ..Default::default()
    };
    env.graph.faults().set(faults.clone()).unwrap();
    env.cw.faults().set(faults.clone()).unwrap();
    env.itglue.faults().set(faults).unwrap();

    let flow = Workflow::new(&mut env);
    let mut runs = Vec::new();
    for i in 0..people.len() {
        runs.push(flow.start(&format!("ob-f{i}")).await);
    }
    for (i, arn) in runs.iter().enumerate() {
        let run = flow.finish(arn).await;
        assert_eq!(
            (run.status, run.error.as_deref()),
            (ExecutionStatus::Succeeded, None),
            "ob-f{i}"
        );
        let record = env.record(&format!("ob-f{i}")).await;
        assert_eq!(record.status.as_str(), "completed");
        assert_eq!(record.license_outcome.map(|o| o.as_str()), Some("assigned"));
    }
    assert!(env.graph.faults().injected() > 0, "faults were injected");
    assert!(env.cw.faults().injected() > 0, "faults were injected");

    assert_eq!(env.tickets().len(), people.len(), "one ticket each");
    assert_eq!(
        env.itglue.passwords().len(),
        people.len(),
        "one vault record each"
    );
    for (first, last) in people {
        let upn = format!(
            "{}{}@contoso.com",
            first[..1].to_lowercase(),
            last.to_lowercase()
        );
        let user = env
            .graph
            .state()
            .user(crate::support::TENANT, &upn)
            .unwrap();
        assert!(
            user.licenses
                .iter()
                .any(|l| l.sku_part_number == "EXCHANGESTANDARD")
        );
        assert!(
            !env.users_named(&upn.replace('@', "2@")),
            "no second user for {upn}"
        );
        let mails = env
            .mails()
            .into_iter()
            .filter(|m| m.body.contains(&upn) && m.to == ["AdeleV@contoso.com"])
            .count();
        assert_eq!(mails, 1, "one credentials mail for {upn}");
    }
    let mut markers: Vec<String> = env
        .note_texts()
        .iter()
        .filter_map(|n| n.lines().last().map(str::to_owned))
        .collect();
    let all = markers.len();
    markers.sort();
    markers.dedup();
    assert_eq!(markers.len(), all, "no note posted twice");
}
