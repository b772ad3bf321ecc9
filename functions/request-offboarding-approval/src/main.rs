//! Lambda `request-offboarding-approval`: the step `RequestOffboardingApproval` (`request_offboarding_approval`, run by [`onboard_steps::dispatch`]), SAM resource
//! `RequestOffboardingApprovalFunction`, called by the state machine through `${RequestOffboardingApprovalFunctionArn}`.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

/// The ASL state, and the step [`onboard_steps::dispatch`] runs.
const FUNCTION: &str = "RequestOffboardingApproval";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    onboard_lambda::init_tracing(FUNCTION);
    // Built once per cold start; every invocation of this container reuses the clients.
    // Settings that cannot be read fail each invocation as Config.Invalid (not retried).
    let deps = onboard_lambda::LazyDeps::from_env().await;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        onboard_lambda::handle_lazily(deps, FUNCTION, event)
    }))
    .await
}
