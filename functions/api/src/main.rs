//! Lambda `api`: the HTTP API ([`onboard_http::router`]) behind API Gateway, SAM resource
//! `ApiFunction`; starts executions of the state machines and resumes them from decision links.

/// The SAM resource is `ApiFunction`; its log lines carry `function = "Api"`.
const FUNCTION: &str = "Api";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    onboard_lambda::init_tracing(FUNCTION);
    // Built once per cold start; every request this container serves reuses the clients.
    let app = onboard_api::app_from_env().await.inspect_err(|e| {
        tracing::error!(error = %e, "cannot start");
    })?;
    lambda_http::run(app).await
}
