//! The server's shared state, its router, start-up, recovery and shutdown.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::routing::{get, post};
use onboard_asl::{Clock, Engine, ExecutionStore};
use onboard_domain::{VariableLayer, Variables};
use onboard_store::{RecordFilter, RecordKind, Scope, SqliteStore, Status, Store};
use tokio::net::TcpListener;

use super::Settings;
use super::auth::{ApiKeys, require_api_key};
use super::{api, pages, runtime};
use crate::config::Organization;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) engine: Arc<Engine>,
    /// The ARN of the registered onboarding state machine.
    pub(crate) onboarding_machine: String,
    pub(crate) organizations: Arc<BTreeMap<String, Organization>>,
    pub(crate) msp_variables: Arc<VariableLayer>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) virtual_clock: bool,
    pub(crate) keys: ApiKeys,
    /// How long `POST /api/onboardings` waits for the workflow to park before answering
    /// (`None`: until it parks, as with the virtual clock, so answers are deterministic).
    pub(crate) answer_within: Option<Duration>,
}

impl AppState {
    /// An organization's resolved variables (defaults <- MSP-wide <- organization).
    pub(crate) fn variables(&self, organization: &Organization) -> anyhow::Result<Variables> {
        Variables::resolve(
            &organization.id,
            &self.msp_variables,
            &organization.variables,
        )
        .context("resolving the organization's variables")
    }

    /// The execution ARN of a record's workflow.
    pub(crate) fn execution_arn(&self, record_id: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:execution:{}:{record_id}",
            onboard_asl::engine::REGION,
            onboard_asl::engine::ACCOUNT,
            runtime::ONBOARDING_MACHINE
        )
    }
}

/// The router: API (behind keys when configured), pages, and the sandbox when on.
pub(crate) fn router(state: AppState, sandbox: Option<Router>) -> Router {
    let api = Router::new()
        .route("/api/onboardings", post(api::create_onboarding))
        .route("/api/onboardings/{id}", get(api::get_onboarding))
        .route("/api/offboardings", post(api::create_offboarding))
        .route("/api/offboardings/{id}", get(api::get_offboarding))
        .route("/api/organizations", get(api::organizations))
        .layer(axum::middleware::from_fn_with_state(
            state.keys.clone(),
            require_api_key,
        ));
    let app = Router::new()
        .route("/", get(pages::form_page))
        .route("/onboardings", post(pages::submit_form))
        .route("/onboardings/{id}", get(pages::onboarding_page))
        .route("/healthz", get(|| async { "ok" }))
        .merge(api);
    let mut app: Router = app.fallback(api::not_found).with_state(state);
    if let Some(sandbox) = sandbox {
        app = app.merge(sandbox);
    }
    app.layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Copies the configuration's variables and connector settings into the store,
/// where the steps read them.
async fn publish_configuration(
    store: &dyn Store,
    msp: &VariableLayer,
    msp_connectors: &[onboard_store::ConnectorSettings],
    organizations: &[Organization],
) -> anyhow::Result<()> {
    store.put_variables(&Scope::Msp, &flatten(msp)).await?;
    for c in msp_connectors {
        store.put_connector(&Scope::Msp, c).await?;
    }
    for org in organizations {
        let scope = Scope::Organization(org.id.clone());
        store
            .put_variables(&scope, &flatten(&org.variables))
            .await?;
        for c in &org.connectors {
            store.put_connector(&scope, c).await?;
        }
    }
    Ok(())
}

/// A variable layer as the store keeps it: strings as they are, anything else as JSON text.
pub(crate) fn flatten(layer: &VariableLayer) -> onboard_store::Variables {
    layer
        .iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// Starts the workflow of every onboarding record that has none (the server stopped
/// between accepting the form and starting its execution).
async fn start_orphans(state: &AppState) -> anyhow::Result<usize> {
    let mut started = 0;
    for status in [Status::Running, Status::PendingApproval, Status::Scheduled] {
        let mut cursor = None;
        loop {
            let page = state
                .store
                .list_records(
                    RecordKind::Onboarding,
                    &RecordFilter::Status(status),
                    500,
                    cursor.as_ref(),
                )
                .await?;
            for record in &page.items {
                let arn = state.execution_arn(&record.id);
                if let Err(onboard_asl::Error::ExecutionDoesNotExist(_)) =
                    state.engine.describe_execution(&arn).await
                {
                    api::start_workflow(state, &record.id).await;
                    started += 1;
                }
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(started)
}

/// Where the virtual clock's time is kept, so a restart continues from it.
const VIRTUAL_CLOCK_FILE: &str = "virtual-clock";

/// Reads the virtual clock's last time, or now.
fn load_virtual_time(dir: &Path) -> jiff::Timestamp {
    std::fs::read_to_string(dir.join(VIRTUAL_CLOCK_FILE))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(jiff::Timestamp::now)
}

/// Saves the virtual clock's time (write, then rename: never a half-written file).
pub(crate) fn save_virtual_time(dir: &Path, t: jiff::Timestamp) -> std::io::Result<()> {
    let tmp = dir.join(format!("{VIRTUAL_CLOCK_FILE}.tmp"));
    std::fs::write(&tmp, t.to_string())?;
    std::fs::rename(tmp, dir.join(VIRTUAL_CLOCK_FILE))
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Starts everything and serves until a signal.
pub(crate) async fn serve(settings: Settings) -> anyhow::Result<()> {
    let Settings {
        config,
        addr,
        data_dir,
        sandbox,
        virtual_clock,
        from_file,
    } = settings;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("--data {}: cannot create the directory", data_dir.display()))?;
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_dir(&data_dir)
            .await
            .with_context(|| format!("opening the store in {}", data_dir.display()))?,
    );
    publish_configuration(
        store.as_ref(),
        &config.msp_variables,
        &config.msp_connectors,
        &config.organizations,
    )
    .await?;

    let clock: Arc<dyn Clock> = if virtual_clock {
        Arc::new(onboard_asl::VirtualClock::new(load_virtual_time(&data_dir)))
    } else {
        Arc::new(onboard_asl::SystemClock)
    };
    let executions: Arc<dyn ExecutionStore> = Arc::new(onboard_asl::MemoryStore::new());
    let steps = runtime::steps(store.clone(), clock.clone())?;
    let engine = Arc::new(Engine::new(
        executions,
        clock.clone(),
        Arc::new(runtime::StepDispatcher { steps }),
    ));
    let onboarding_machine = engine
        .register(
            runtime::ONBOARDING_MACHINE,
            &runtime::substitute(runtime::ONBOARDING_ASL)?,
        )
        .context("registering statemachine/onboarding.asl.json")?;

    let state = AppState {
        store,
        engine: engine.clone(),
        onboarding_machine,
        organizations: Arc::new(
            config
                .organizations
                .iter()
                .map(|o| (o.id.clone(), o.clone()))
                .collect(),
        ),
        msp_variables: Arc::new(config.msp_variables.clone()),
        clock,
        virtual_clock,
        keys: ApiKeys {
            hashes: Arc::new(config.api_key_hashes.clone()),
        },
        answer_within: (!virtual_clock).then_some(Duration::from_secs(10)),
    };
    let _ = (sandbox, from_file);

    // Restart: every execution moves again; records accepted without one get theirs.
    let resumed = engine.resume().await.context("resuming executions")?;
    let orphans = start_orphans(&state).await?;
    tracing::info!(resumed, orphans, "executions resumed");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let timers = (!virtual_clock).then(|| {
        tokio::spawn(runtime::timer_loop(
            engine.clone(),
            Duration::from_secs(1),
            stop_rx,
        ))
    });

    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("--addr {addr}: cannot listen"))?;
    let bound = listener.local_addr()?;
    // One line on stdout for scripts and tests; logs go to stderr.
    println!("onboard listening on http://{bound}");
    tracing::info!(%bound, data = %data_dir.display(), sandbox, virtual_clock, "onboard serve started");

    let app = router(state, None);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    let _ = stop_tx.send(true);
    if let Some(t) = timers {
        let _ = t.await;
    }
    Ok(())
}
