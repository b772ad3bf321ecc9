//! Lambda `remind-approvers`: sends due approval reminders for every organization
//! ([`onboard_lambda::remind_all_approvers`]), SAM resource `RemindApproversFunction`,
//! run by an EventBridge schedule (`ReminderSchedule` in template.yaml) as
//! `onboard serve`'s timer loop does locally.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

/// The SAM resource is `RemindApproversFunction`; not a state of the state machines.
const FUNCTION: &str = "RemindApprovers";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    onboard_lambda::init_tracing(FUNCTION);
    let deps = onboard_lambda::LazyDeps::from_env().await;
    let deps = &deps;
    // The scheduled event carries nothing the reminders need.
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        onboard_lambda::remind_all_approvers(deps.get().await?).await
    }))
    .await
}
