//! The server's shared state, its router, start-up, recovery and shutdown.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use onboard_asl::{Clock, Engine, ExecutionStore};
use onboard_domain::VariableLayer;
use onboard_store::{RecordFilter, RecordKind, Scope, SqliteStore, Status, Store};
use tokio::net::TcpListener;

use onboard_sandbox::Sandbox;

use onboard_http::{ApiKeys, HttpState, Protection};

use super::Settings;
use super::connections::{self, ConnectorTable, LocalConnections, OrgEntry};
use super::local::LocalRuntime;
use super::{runtime, sandbox};
use crate::config::Organization;

/// Everything a serve-only handler (sandbox, clock) may need. Cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) engine: Arc<Engine>,
    /// The interpreter as `onboard_http`'s runtime (submits, decisions, organizations).
    pub(crate) runtime: Arc<LocalRuntime>,
    pub(crate) organizations: Arc<BTreeMap<String, Organization>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) virtual_clock: bool,
    pub(crate) keys: ApiKeys,
    /// How the console is served (signed in, open on loopback, closed).
    pub(crate) console: onboard_http::access::Console,
    /// What the steps run with (decision links use it too).
    pub(crate) deps: onboard_steps::Deps,
    /// The simulators, with `--sandbox`.
    pub(crate) sandbox: Option<Sandbox>,
    /// One clock advance at a time.
    pub(crate) clock_lock: Arc<tokio::sync::Mutex<()>>,
    /// The data directory (the virtual clock's time is kept there).
    pub(crate) data_dir: std::path::PathBuf,
    /// Purges old finished executions (after each virtual clock advance too).
    pub(crate) purge: runtime::Purge,
}

impl AppState {
    /// The execution ARN of a record's workflow.
    pub(crate) fn execution_arn(&self, kind: RecordKind, record_id: &str) -> String {
        let machine = match kind {
            RecordKind::Onboarding => runtime::ONBOARDING_MACHINE,
            RecordKind::Offboarding => runtime::OFFBOARDING_MACHINE,
        };
        format!(
            "arn:aws:states:{}:{}:execution:{machine}:{record_id}",
            onboard_asl::engine::REGION,
            onboard_asl::engine::ACCOUNT,
        )
    }
}

/// The router: `onboard_http`'s routes (API behind keys when configured, pages,
/// decision links), `/healthz`, `/metrics`, the clock routes, and the sandbox when on, all
/// behind `onboard_http`'s guard (hosts, other sites, JSON-only `/api/*`). The
/// sandbox, its clock and `/metrics` answer loopback clients, or others with an API key.
pub(crate) fn router(state: AppState, sandbox: Option<Router>, protection: Protection) -> Router {
    let http = HttpState {
        deps: state.deps.clone(),
        runtime: state.runtime.clone(),
        keys: state.keys.clone(),
        console: state.console.clone(),
        protection: Arc::new(protection),
    };
    let keys = state.keys.clone();
    let mut sandboxed: Router =
        sandbox::clock_router_if(state.virtual_clock || state.sandbox.is_some()).with_state(state);
    if let Some(sandbox) = sandbox {
        sandboxed = sandboxed.merge(sandbox);
    }
    // What the connectors and steps did (Prometheus text): this machine or an API key.
    let metrics: Router = Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                onboard_connectors::metrics::prometheus_text(
                    &onboard_connectors::metrics::snapshot(),
                ),
            )
        }),
    );
    let serve_only = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(
            sandboxed
                .merge(metrics)
                .layer(axum::middleware::from_fn_with_state(
                    keys,
                    sandbox::loopback_or_api_key,
                )),
        );
    onboard_http::router(http, serve_only)
}

/// The `Host` names the server answers to: the address it listens on, the
/// loopback names when it listens on loopback (or on every address),
/// `public_url`'s host and `server.allowed_hosts`.
pub(crate) fn protection(
    config: &crate::config::Config,
    bound: std::net::SocketAddr,
) -> Protection {
    let mut hosts: Vec<String> = vec![match bound.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    }];
    if bound.ip().is_loopback() || bound.ip().is_unspecified() {
        hosts.extend(
            onboard_http::guard::LOOPBACK_NAMES
                .iter()
                .map(|h| (*h).to_owned()),
        );
    }
    let public = config
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok());
    if let Some(host) = public.as_ref().and_then(|u| u.host_str()) {
        hosts.push(host.to_owned());
    }
    hosts.extend(config.allowed_hosts.iter().cloned());
    Protection {
        hosts: onboard_http::HostPolicy::only(hosts),
        public_origin: public.map(|u| u.origin().ascii_serialization()),
    }
}

/// Copies the configuration's variables, connector settings and templates into the store,
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
        // The file's templates replace those of the same name; templates made
        // in the console or the API ("from an existing user") stay.
        for (name, template) in &org.templates {
            let stored = onboard_store::StoredTemplate {
                name: name.clone(),
                body: template.to_body(),
            };
            store.put_template(&scope, &stored).await?;
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

/// Starts the workflow of every onboarding or offboarding record that has none (the server stopped
/// between accepting the form and starting its execution).
async fn start_orphans(state: &AppState) -> anyhow::Result<usize> {
    let mut started = 0;
    for kind in [RecordKind::Onboarding, RecordKind::Offboarding] {
        for status in [
            Status::Running,
            Status::PendingApproval,
            Status::Scheduled,
            Status::WaitingLicensePurchase,
        ] {
            let mut cursor = None;
            loop {
                let page = state
                    .deps
                    .store
                    .list_records(kind, &RecordFilter::Status(status), 500, cursor.as_ref())
                    .await?;
                for record in &page.items {
                    let arn = state.execution_arn(kind, &record.id);
                    if let Err(onboard_asl::Error::ExecutionDoesNotExist(_)) =
                        state.engine.describe_execution(&arn).await
                    {
                        drop(state.runtime.spawn_start(kind, &record.id));
                        started += 1;
                    }
                }
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
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

/// Resolves the configuration's connector settings (secrets read now).
fn resolve_tables(
    prefix: &str,
    settings: &[onboard_store::ConnectorSettings],
) -> anyhow::Result<BTreeMap<String, ConnectorTable>> {
    let env = |name: &str| std::env::var(name).ok();
    let mut out = BTreeMap::new();
    for c in settings {
        let mut secrets = BTreeMap::new();
        for (k, r) in &c.secrets {
            let setting = format!("{prefix}.{}.{k}", c.connector);
            secrets.insert(k.clone(), crate::config::resolve_secret(&setting, r, &env)?);
        }
        out.insert(
            c.connector.clone(),
            ConnectorTable {
                plain: c.settings.clone(),
                secrets,
            },
        );
    }
    Ok(out)
}

/// The key file kept in the data directory when the configuration names none.
pub(crate) const LINK_KEY_FILE: &str = "link-signing.key";

/// The key that signs decision links: the configured one, or a random one kept in
/// the data directory (so links survive a restart). A key file that exists but
/// cannot be read or is too short stops the start-up: replacing it in silence
/// would kill every link already mailed.
pub(crate) fn link_key(config: &crate::config::Config, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    use secrecy::ExposeSecret as _;
    if let Some(k) = &config.link_signing_key {
        return Ok(k.expose_secret().as_bytes().to_vec());
    }
    let path = data_dir.join(LINK_KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= onboard_steps::decisions::MIN_KEY_BYTES => return Ok(bytes),
        Ok(bytes) => anyhow::bail!(
            "{}: the link-signing key is {} bytes, at least {} are needed; restore the file \
             from a backup, or delete it to make a new key (every decision link already sent stops working)",
            path.display(),
            bytes.len(),
            onboard_steps::decisions::MIN_KEY_BYTES
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(anyhow::anyhow!(e).context(format!(
                "{}: the link-signing key cannot be read (check its owner and mode)",
                path.display()
            )));
        }
    }
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| anyhow::anyhow!("no randomness for the link key: {e}"))?;
    write_private(&data_dir.join(format!("{LINK_KEY_FILE}.tmp")), &path, &key)?;
    Ok(key)
}

/// Writes `bytes` to `path` readable by the owner only from its first byte on
/// (created with mode 0600, never widened), through `tmp` and a rename so no
/// reader sees half a key.
fn write_private(tmp: &Path, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let _ = std::fs::remove_file(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// The organizations the server serves, with their variables and connector mapping:
/// the configuration's, and with the sandbox the seed's (a configured organization
/// whose domain is a sandbox tenant's is mapped to that tenant).
fn organizations(
    config: &crate::config::Config,
    sandbox_orgs: &[sandbox::SandboxOrg],
) -> anyhow::Result<Vec<(Organization, OrgEntry)>> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for org in &config.organizations {
        let prefix = format!("organizations.{}.connectors", org.id);
        let mut tables = resolve_tables(&prefix, &org.connectors)?;
        let mut org = org.clone();
        let sb = sandbox_orgs
            .iter()
            .find(|s| s.domain.eq_ignore_ascii_case(&org.domain) || s.id == org.id);
        let tenant = if let Some(sb) = sb {
            // The sandbox's mapping, under what the file says.
            for (k, v) in &sb.variables {
                org.variables.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (name, t) in &sb.connectors {
                let merged = t.overlaid(tables.get(name));
                tables.insert(name.clone(), merged);
            }
            sb.tenant_id.clone()
        } else {
            tables
                .get("graph")
                .and_then(|g| g.plain.get("tenant_id"))
                .cloned()
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{prefix}.graph.tenant_id: the organization's Entra tenant is not set"
                    )
                })?
        };
        let steps_org = connections::organization(&org.id, &org.name, &org.domain, &tenant)?;
        seen.insert(org.id.clone());
        out.push((
            org.clone(),
            OrgEntry {
                organization: steps_org,
                connectors: tables,
            },
        ));
    }
    for sb in sandbox_orgs {
        if seen.contains(&sb.id)
            || config
                .organizations
                .iter()
                .any(|o| o.domain.eq_ignore_ascii_case(&sb.domain))
        {
            continue;
        }
        let org = Organization {
            id: sb.id.clone(),
            name: sb.name.clone(),
            domain: sb.domain.clone(),
            variables: sb.variables.clone(),
            connectors: Vec::new(),
            templates: Vec::new(),
        };
        let steps_org = connections::organization(&sb.id, &sb.name, &sb.domain, &sb.tenant_id)?;
        out.push((
            org,
            OrgEntry {
                organization: steps_org,
                connectors: sb.connectors.clone(),
            },
        ));
    }
    if out.is_empty() {
        anyhow::bail!("organizations: no organization is configured (and the sandbox is off)");
    }
    Ok(out)
}

/// The organizations `onboard serve` runs with and the MSP-wide connector
/// settings, secrets resolved, the sandbox's mapping under what the file says.
/// `onboard check` checks exactly these.
pub(crate) struct Resolved {
    pub(crate) orgs: Vec<(Organization, OrgEntry)>,
    pub(crate) msp_tables: BTreeMap<String, ConnectorTable>,
}

/// Resolves the configuration's connectors; with `sandbox` (its seed), what the
/// file leaves out points at the simulators served at `base`.
pub(crate) fn resolve_connectors(
    config: &crate::config::Config,
    sandbox: Option<&onboard_sandbox::SandboxSeed>,
    base: &str,
) -> anyhow::Result<Resolved> {
    let sandbox_orgs = sandbox.map(sandbox::organizations).unwrap_or_default();
    let orgs = organizations(config, &sandbox_orgs)?;
    let mut msp_tables = resolve_tables("connectors", &config.msp_connectors)?;
    if let Some(seed) = sandbox {
        // What the file leaves out points at the simulators; what it sets wins.
        // Exchange Online shares Graph's tenant: a file that points Graph
        // elsewhere does not get the sandbox's Exchange.
        let graph_elsewhere = config
            .msp_connectors
            .iter()
            .chain(config.organizations.iter().flat_map(|o| &o.connectors))
            .any(|c| {
                c.connector == "graph"
                    && (c.settings.contains_key("graph_url")
                        || c.settings.contains_key("authority"))
            });
        for (name, t) in sandbox::connectors(seed, base) {
            if name == "exchange" && graph_elsewhere {
                continue;
            }
            let merged = t.overlaid(msp_tables.get(&name));
            msp_tables.insert(name, merged);
        }
    }
    Ok(Resolved { orgs, msp_tables })
}

/// The steps' connections over resolved settings.
pub(crate) fn local_connections(
    orgs: &[(Organization, OrgEntry)],
    msp_tables: BTreeMap<String, ConnectorTable>,
    sandbox_on: bool,
) -> LocalConnections {
    LocalConnections::new(
        orgs.iter()
            .map(|(o, e)| (o.id.clone(), e.clone()))
            .collect(),
        msp_tables,
        runtime::retry_policy(sandbox_on),
    )
}

/// Starts everything and serves until a signal.
pub(crate) async fn serve(settings: Settings) -> anyhow::Result<()> {
    let Settings {
        config,
        addr,
        data_dir,
        sandbox: sandbox_on,
        virtual_clock,
    } = settings;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("--data {}: cannot create the directory", data_dir.display()))?;
    let sqlite = SqliteStore::open_dir(&data_dir)
        .await
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    // Executions and timers live in the same SQLite file: a restart resumes them.
    let executions: Arc<dyn ExecutionStore> = sqlite.executions().shared();
    let purge = runtime::Purge::new(sqlite.executions(), config.execution_retention_days);
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let clock: Arc<dyn Clock> = if virtual_clock {
        Arc::new(onboard_asl::VirtualClock::new(load_virtual_time(&data_dir)))
    } else {
        Arc::new(onboard_asl::SystemClock)
    };

    // Bind first: the sandbox's connectors and the decision links need the address.
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("--addr {addr}: cannot listen"))?;
    let bound = listener.local_addr()?;
    let base = format!("http://{bound}");

    let sandbox = if sandbox_on {
        let seed = config.sandbox_seed.clone().unwrap_or_default();
        let c = clock.clone();
        let sb = Sandbox::with_clock(&seed, Arc::new(move || c.now()))
            .context("[sandbox]: the seed cannot start the simulators")?;
        Some((sb, seed))
    } else {
        None
    };
    let Resolved { orgs, msp_tables } =
        resolve_connectors(&config, sandbox.as_ref().map(|(_, seed)| seed), &base)?;
    let config_orgs: Vec<Organization> = orgs.iter().map(|(o, _)| o.clone()).collect();
    publish_configuration(
        store.as_ref(),
        &config.msp_variables,
        &config.msp_connectors,
        &config_orgs,
    )
    .await?;

    // What the file configures wins over the sandbox here too: with
    // [connectors.smtp] mail goes out through SMTP, with [connectors.sns] SMS
    // through SNS; the outbox takes only what the file leaves out.
    let outbox = sandbox
        .as_ref()
        .map(|(sb, _)| sandbox::notifier(sb, clock.clone()));
    let configured = |name: &str| config.msp_connectors.iter().any(|c| c.connector == name);
    let mail = match &outbox {
        Some(outbox) if !configured("smtp") => outbox.clone(),
        _ => runtime::mail_notifier(&msp_tables)?,
    };
    let notifier: Arc<dyn onboard_connectors::notify::Notifier> =
        match runtime::sms_notifier(&msp_tables).await?.or(outbox) {
            Some(sms) => Arc::new(onboard_connectors::notify::Channels { mail, sms }),
            None => mail,
        };
    let connections = local_connections(&orgs, msp_tables, sandbox.is_some());
    let public_url = config.public_url.clone().unwrap_or_else(|| base.clone());
    let links = onboard_steps::LinkSigner::new(&public_url, link_key(&config, &data_dir)?)
        .map_err(|e| anyhow::anyhow!("server.public_url / server.link_signing_key: {e}"))?;
    let deps = onboard_steps::Deps {
        store: store.clone(),
        connections: Arc::new(connections),
        notifier,
        clock: clock.clone(),
        links,
    };

    let engine = Arc::new(Engine::new(
        executions,
        clock.clone(),
        Arc::new(runtime::StepDispatcher {
            steps: Arc::new(runtime::LocalSteps { deps: deps.clone() }),
        }),
    ));
    let onboarding_machine = engine
        .register(
            runtime::ONBOARDING_MACHINE,
            &runtime::substitute(runtime::ONBOARDING_ASL)?,
        )
        .context("registering statemachine/onboarding.asl.json")?;
    let offboarding_machine = engine
        .register(
            runtime::OFFBOARDING_MACHINE,
            &runtime::substitute(runtime::OFFBOARDING_ASL)?,
        )
        .context("registering statemachine/offboarding.asl.json")?;

    let organizations: Arc<BTreeMap<String, Organization>> = Arc::new(
        config_orgs
            .iter()
            .map(|o| (o.id.clone(), o.clone()))
            .collect(),
    );
    let local = LocalRuntime {
        engine: engine.clone(),
        onboarding_machine,
        offboarding_machine,
        organizations: organizations.clone(),
        msp_variables: Arc::new(config.msp_variables.clone()),
        answer_within: (!virtual_clock).then_some(Duration::from_secs(10)),
        callbacks: runtime::EngineCallbacks {
            engine: engine.clone(),
        },
    };
    let console = super::console::console(&config, &deps, &base)?;
    let state = AppState {
        engine: engine.clone(),
        runtime: Arc::new(local),
        console,
        deps,
        organizations,
        clock,
        virtual_clock,
        keys: ApiKeys {
            hashes: Arc::new(config.api_key_hashes.clone()),
            upstream: false,
        },
        sandbox: sandbox.as_ref().map(|(sb, _)| sb.clone()),
        clock_lock: Arc::default(),
        data_dir: data_dir.clone(),
        purge: purge.clone(),
    };

    // Restart: every execution moves again; records accepted without one get theirs.
    let resumed = engine.resume().await.context("resuming executions")?;
    let orphans = start_orphans(&state).await?;
    tracing::info!(resumed, orphans, "executions resumed");
    purge.run(state.clock.now()).await;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let timers = (!virtual_clock).then(|| {
        tokio::spawn(runtime::timer_loop(
            engine.clone(),
            state.deps.clone(),
            state.organizations.keys().cloned().collect(),
            purge,
            Duration::from_secs(1),
            stop_rx,
        ))
    });
    let ticker = match (&state.sandbox, virtual_clock) {
        (Some(sb), false) => Some(sb.spawn_ticker(Duration::from_secs(1))),
        _ => None,
    };

    // One line on stdout for scripts and tests; logs go to stderr.
    println!("onboard listening on {base}");
    tracing::info!(%bound, data = %data_dir.display(), sandbox = state.sandbox.is_some(), virtual_clock, "onboard serve started");

    let app = router(
        state.clone(),
        state.sandbox.as_ref().map(Sandbox::router),
        protection(&config, bound),
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving HTTP")?;
    let _ = stop_tx.send(true);
    if let Some(t) = timers {
        let _ = t.await;
    }
    if let Some(t) = ticker {
        t.abort();
    }
    Ok(())
}
