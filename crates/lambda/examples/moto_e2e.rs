//! The AWS path end to end, offline: the driver `scripts/moto-e2e` runs (see
//! `docs/aws-e2e.md`). Not meant to be run by hand: the script starts moto (with its
//! Lambda calls routed to `cargo lambda watch`) and the functions first, and passes
//! their addresses in the environment.
//!
//! It serves the sandbox simulators on a loopback port, seeds moto (the table of
//! `docs/dynamodb.md`, the key secret and the connector secrets in Secrets Manager,
//! the SES sender, the variables and connector settings in the table), deploys
//! `statemachine/onboarding.asl.json` with the template's substitutions, runs one
//! onboarding and checks what moto's execution and the sandbox say about it.
//!
//! Modes (first argument):
//! - `direct`: the organization needs no approval; the record is accepted with the
//!   api function's own intake code and the execution started with StartExecution;
//!   its start date is a few seconds ahead, so it waits in `WaitForStartDate`.
//! - `api`: the organization needs approval; the form goes to the `api` function
//!   (`POST /api/onboardings` through `cargo lambda watch`'s function URL), the
//!   approval link is read from the mail in moto's SES, and POSTed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use onboard_lambda::{Config, deps_from};
use onboard_sandbox::{Sandbox, SandboxSeed};
use onboard_store::{ConnectorSettings, Scope, SecretRef};
use serde_json::{Value, json};

/// moto's default account, in every ARN it makes.
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
/// The demo organization of the sandbox seed (tenant Contoso).
const ORGANIZATION: &str = "contoso";
const SENDER: &str = "onboarding@msp.example";
const APPROVER: &str = "approver@contoso.com";
/// How far ahead the direct run's start date is.
const SCHEDULED_AHEAD_SECONDS: i64 = 6;
/// How long one execution may take before the run fails.
const EXECUTION_DEADLINE: Duration = Duration::from_secs(240);

struct Env {
    moto: String,
    config: Config,
    /// The api function's settings: where it starts executions.
    onboarding_machine: String,
    offboarding_machine: String,
}

fn var(name: &str) -> Result<String> {
    std::env::var(name)
        .with_context(|| format!("environment variable {name} is not set (run scripts/moto-e2e)"))
}

fn step(message: impl std::fmt::Display) {
    println!("moto-e2e: {message}");
}

#[tokio::main]
async fn main() -> Result<()> {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "direct".into());
    ensure!(
        mode == "direct" || mode == "api",
        "unknown mode `{mode}`: `direct` or `api`"
    );
    let env = Env {
        moto: var("ONBOARD_E2E_MOTO_URL")?,
        config: Config::from_env().context("the functions' environment")?,
        onboarding_machine: var("ONBOARD_ONBOARDING_STATE_MACHINE_ARN")?,
        offboarding_machine: var("ONBOARD_OFFBOARDING_STATE_MACHINE_ARN")?,
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(&env.moto)
        .load()
        .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;

    let sandbox = serve_sandbox(&env.config.public_url).await?;
    step(format!("sandbox simulators at {}", sandbox.base));

    seed(&env, &aws, &http, &sandbox, mode == "api").await?;
    let mut functions = deploy(&root, "onboarding.asl.json", &env.onboarding_machine, &aws).await?;
    functions.extend(
        deploy(
            &root,
            "offboarding.asl.json",
            &env.offboarding_machine,
            &aws,
        )
        .await?,
    );
    functions.sort();
    functions.dedup();
    let machine = env.onboarding_machine.clone();
    if mode == "api" {
        functions.push("api".into());
    }
    // After seeding: a cold start reads the key secret.
    // The api function serves the console, signing people in at the sandbox's issuer.
    let console_env = [
        (
            "ONBOARD_SIGN_IN_ISSUER",
            format!(
                "{}/sandbox/entra/{}/v2.0",
                sandbox.base,
                onboard_sandbox::entra::DEMO_MSP_TENANT
            ),
        ),
        ("ONBOARD_SIGN_IN_CLIENT_ID", SIGN_IN_CLIENT.0.to_owned()),
        ("ONBOARD_SIGN_IN_SECRET", SIGN_IN_SECRET.to_owned()),
        (
            "ONBOARD_SIGN_IN_ALLOWED_TENANTS",
            onboard_sandbox::entra::DEMO_MSP_TENANT.to_owned(),
        ),
    ];
    let _running = Functions::start(&functions, &console_env)?;
    step(format!(
        "started {} function binaries on cargo lambda watch's Runtime API",
        functions.len()
    ));

    let started = Instant::now();
    // A start a few seconds ahead, in whole seconds: the scheduled path on moto.
    let start_at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(SCHEDULED_AHEAD_SECONDS))?
        .round(jiff::Unit::Second)?;
    let (id, execution) = match mode.as_str() {
        "direct" => start_direct(&env, &aws, &machine, start_at).await?,
        _ => start_through_api(&env, &http, &aws, &machine).await?,
    };
    let sfn = aws_sdk_sfn::Client::new(&aws);
    let decision = (mode == "api").then_some((FIRST.0, "approve"));
    let status = wait_for(&sfn, &execution, &env, &http, decision).await?;
    let history = history(&sfn, &execution).await?;
    step(format!(
        "states entered: {}",
        entered_states(&history).join(" -> ")
    ));
    if status != ExecutionStatus::Succeeded {
        for line in failures(&history) {
            step(format!("  {line}"));
        }
        bail!("execution {execution} ended {status:?}, not SUCCEEDED");
    }
    step(format!(
        "execution SUCCEEDED in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    if mode == "direct" {
        let waited = wait_exited_at(&history, "WaitForStartDate")
            .ok_or_else(|| anyhow!("the direct run did not pass WaitForStartDate"))?;
        // moto waits int(start - now) seconds, so it leaves up to a second early
        // (docs/aws-e2e.md); AWS waits until the timestamp.
        let earliest = start_at.checked_sub(jiff::SignedDuration::from_secs(1))?;
        ensure!(
            waited >= earliest,
            "moto left WaitForStartDate at {waited}, more than a second before the start {start_at}"
        );
        step(format!(
            "WaitForStartDate (TimestampPath $.plan.start_at = {start_at}) exited at {waited}"
        ));
    }

    let deps = deps_from(&env.config, &aws).await?;
    let record = deps
        .store
        .get_record(&id)
        .await?
        .ok_or_else(|| anyhow!("record {id} is not in the table"))?;
    step(format!(
        "record {id}: status {:?}, user {:?}, ticket {:?}, license {:?}",
        record.status, record.user_principal_name, record.ticket_id, record.license_outcome
    ));
    ensure!(
        record.status == onboard_store::Status::Completed,
        "record {id} is {:?}, not completed",
        record.status
    );
    let upn = record
        .user_principal_name
        .clone()
        .ok_or_else(|| anyhow!("record {id} names no user"))?;
    let user = sandbox.graph_user(&http, &upn).await?;
    let skus: Vec<&str> = user["assignedLicenses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["skuId"].as_str())
        .collect();
    step(format!(
        "sandbox Graph has {upn} ({}), accountEnabled {}, {} license(s)",
        user["displayName"],
        user["accountEnabled"],
        skus.len()
    ));
    ensure!(
        skus.contains(&PREMIUM_SKU),
        "{upn} lacks the O365_BUSINESS_PREMIUM license: {skus:?}"
    );
    let ticket = record
        .ticket_id
        .clone()
        .ok_or_else(|| anyhow!("record {id} names no ticket"))?;
    let notes = sandbox.ticket_notes(&http, &ticket).await?;
    step(format!(
        "ConnectWise ticket {ticket} has {} note(s)",
        notes.len()
    ));
    ensure!(!notes.is_empty(), "ticket {ticket} has no notes");
    if mode == "api" {
        let seen = api_get(&env, &http, &format!("/api/onboardings/{id}")).await?;
        ensure!(
            seen["status"] == "completed" && seen["user_principal_name"] == upn.as_str(),
            "GET /api/onboardings/{id} answered {seen}"
        );
        step(format!(
            "GET /api/onboardings/{id} -> status {}, license_outcome {}, {} timeline entries",
            seen["status"],
            seen["license_outcome"],
            seen["timeline"].as_array().map_or(0, Vec::len)
        ));
        offboard(&env, &http, &sfn, &sandbox, &upn).await?;
        deny_one(&env, &http, &sfn, &sandbox).await?;
        approve_in_console(&env, &sfn).await?;
    }
    step(format!("{mode}: OK"));
    Ok(())
}

// --- The sandbox ----------------------------------------------------------------------

/// `O365_BUSINESS_PREMIUM` in the demo seed (3 free seats).
const PREMIUM_SKU: &str = "f245ecc8-75af-4f8e-b61f-27d8114de5f3";

struct Simulators {
    base: String,
    seed: SandboxSeed,
}

/// The console's app registration at the sandbox's Entra issuer (api mode).
const SIGN_IN_CLIENT: (&str, &str) = ("onboard-moto-e2e", "moto-e2e-sign-in-secret");
/// Where the api function reads that app's secret.
const SIGN_IN_SECRET: &str = "onboard-e2e/sign-in";

async fn serve_sandbox(public_url: &str) -> Result<Simulators> {
    let mut seed = SandboxSeed::default();
    // The api function's redirect URI is under cargo lambda watch's function URL.
    seed.entra.apps.push(onboard_sandbox::entra::EntraApp {
        client_id: SIGN_IN_CLIENT.0.into(),
        client_secret: SIGN_IN_CLIENT.1.into(),
        home_tenant: onboard_sandbox::entra::DEMO_MSP_TENANT.into(),
        multi_tenant: false,
        redirect_uris: vec![format!(
            "{}/auth/callback",
            public_url.trim_end_matches('/')
        )],
    });
    let sandbox = Sandbox::new(&seed)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = sandbox.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Simulators { base, seed })
}

impl Simulators {
    fn tenant(&self) -> Result<&onboard_sandbox::graph::TenantSeed> {
        self.seed
            .graph
            .tenants
            .first()
            .ok_or_else(|| anyhow!("the sandbox seed has no tenant"))
    }

    /// A user as Graph returns it, read with the tenant's app registration.
    async fn graph_user(&self, http: &reqwest::Client, upn: &str) -> Result<Value> {
        self.find_graph_user(http, upn)
            .await?
            .ok_or_else(|| anyhow!("sandbox Graph GET /users/{upn}: 404, no such user"))
    }

    /// A bearer token of the tenant's app registration (client credentials).
    async fn graph_token(&self, http: &reqwest::Client) -> Result<String> {
        let tenant = self.tenant()?;
        let app = tenant
            .apps
            .first()
            .ok_or_else(|| anyhow!("the sandbox tenant has no app"))?;
        let token: Value = http
            .post(format!(
                "{}/sandbox/graph/login/{}/oauth2/v2.0/token",
                self.base, tenant.id
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", app.client_id.as_str()),
                ("client_secret", app.client_secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        token["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the sandbox token answer has no access_token"))
    }

    /// The users whose display name is `name` (`$filter=displayName eq '...'`).
    async fn graph_users_named(&self, http: &reqwest::Client, name: &str) -> Result<Vec<Value>> {
        let token = self.graph_token(http).await?;
        let found: Value = http
            .get(format!("{}/sandbox/graph/v1.0/users", self.base))
            .query(&[("$filter", format!("displayName eq '{name}'"))])
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(found["value"].as_array().cloned().unwrap_or_default())
    }

    /// A user as Graph returns it, or `None` when Graph answers 404.
    async fn find_graph_user(&self, http: &reqwest::Client, upn: &str) -> Result<Option<Value>> {
        let token = self.graph_token(http).await?;
        let response = http
            .get(format!(
                "{}/sandbox/graph/v1.0/users/{upn}?$select=id,displayName,userPrincipalName,accountEnabled,assignedLicenses",
                self.base
            ))
            .bearer_auth(token)
            .send()
            .await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body: Value = response.json().await?;
        ensure!(
            status.is_success(),
            "sandbox Graph GET /users/{upn}: {status} {body}"
        );
        Ok(Some(body))
    }

    /// The ticket's notes, read with the MSP's ConnectWise API member.
    async fn ticket_notes(&self, http: &reqwest::Client, ticket: &str) -> Result<Vec<Value>> {
        let cw = &self.seed.connectwise;
        let credential = cw
            .credentials
            .first()
            .ok_or_else(|| anyhow!("the sandbox seed has no ConnectWise credential"))?;
        let notes: Value = http
            .get(format!(
                "{}/service/tickets/{ticket}/notes",
                self.connectwise_base()
            ))
            .basic_auth(
                format!("{}+{}", credential.company_id, credential.public_key),
                Some(&credential.private_key),
            )
            .header(
                "clientId",
                cw.client_ids.first().cloned().unwrap_or_default(),
            )
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(notes.as_array().cloned().unwrap_or_default())
    }

    fn connectwise_base(&self) -> String {
        format!(
            "{}/sandbox/connectwise/{}/apis/3.0",
            self.base, self.seed.connectwise.codebase
        )
    }
}

// --- Seeding moto ---------------------------------------------------------------------

async fn seed(
    env: &Env,
    aws: &aws_config::SdkConfig,
    http: &reqwest::Client,
    sandbox: &Simulators,
    approval: bool,
) -> Result<()> {
    // moto runs executions only when told to.
    http.post(format!("{}/moto-api/config", env.moto))
        .json(&json!({"stepfunctions": {"execute_state_machine": true}}))
        .send()
        .await?
        .error_for_status()?;

    onboard_store::dynamodb::create_table(&aws_sdk_dynamodb::Client::new(aws), &env.config.table)
        .await?;
    let secrets = aws_sdk_secretsmanager::Client::new(aws);
    let SecretRef::SecretsManager {
        id: keys_secret, ..
    } = &env.config.keys_secret
    else {
        bail!("the keys secret is not a Secrets Manager secret");
    };
    let key: String = (0..2)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    secrets
        .create_secret()
        .name(keys_secret)
        .secret_string(key)
        .send()
        .await?;
    let tenant = sandbox.tenant()?;
    let app = tenant
        .apps
        .first()
        .ok_or_else(|| anyhow!("the sandbox tenant has no app"))?;
    let cw = &sandbox.seed.connectwise;
    let credential = cw
        .credentials
        .first()
        .ok_or_else(|| anyhow!("the sandbox seed has no ConnectWise credential"))?;
    for (name, value) in [
        (
            "onboard-e2e/graph-client-secret",
            app.client_secret.as_str(),
        ),
        (
            "onboard-e2e/connectwise-private-key",
            credential.private_key.as_str(),
        ),
        (SIGN_IN_SECRET, SIGN_IN_CLIENT.1),
    ] {
        secrets
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await?;
    }
    aws_sdk_sesv2::Client::new(aws)
        .create_email_identity()
        .email_identity(SENDER)
        .send()
        .await?;

    let deps = deps_from(&env.config, aws).await?;
    let store = deps.store.as_ref();
    let company = cw
        .companies
        .iter()
        .find(|c| c.name.starts_with("Contoso"))
        .ok_or_else(|| anyhow!("the sandbox's ConnectWise has no Contoso company"))?;
    let board = cw
        .boards
        .first()
        .ok_or_else(|| anyhow!("the sandbox's ConnectWise has no board"))?;
    let priority = cw
        .priorities
        .iter()
        .find(|p| p.name.contains("Normal"))
        .or(cw.priorities.first())
        .ok_or_else(|| anyhow!("the sandbox's ConnectWise has no priority"))?;
    let msp = vars(&[
        ("default_psa", "connectwise"),
        ("default_priority", &priority.name),
        ("default_ticket_location", &board.name),
        ("default_ticket_status", "In Progress"),
        ("ticket_status_waiting_input", "Waiting Customer"),
        ("ticket_status_workflow_complete", "Completed"),
        ("send_from_address", SENDER),
        ("auto_purchase_license_if_none_available", "0"),
    ]);
    store.put_variables(&Scope::Msp, &msp).await?;
    let approvers = json!([APPROVER]).to_string();
    let org = vars(&[
        ("cw_manage_company_id", &company.identifier),
        (
            "require_approval_for_new_users",
            if approval { "1" } else { "0" },
        ),
        ("new_user_approval_email", &approvers),
        ("approval_timeout_hours", "1"),
        ("allow_scheduled_user_creation", "1"),
    ]);
    let scope = Scope::Organization(ORGANIZATION.into());
    store.put_variables(&scope, &org).await?;

    let domain = tenant
        .domains
        .first()
        .ok_or_else(|| anyhow!("the sandbox tenant has no domain"))?;
    store
        .put_connector(
            &scope,
            &connector(
                "organization",
                &[
                    ("tenant_id", &tenant.id),
                    ("domain", domain),
                    ("name", &tenant.display_name),
                ],
                &[],
            ),
        )
        .await?;
    store
        .put_connector(
            &Scope::Msp,
            &connector(
                "graph",
                &[
                    ("client_id", &app.client_id),
                    (
                        "authority",
                        &format!("{}/sandbox/graph/login", sandbox.base),
                    ),
                    ("graph_url", &format!("{}/sandbox/graph/v1.0", sandbox.base)),
                ],
                &[("client_secret", "onboard-e2e/graph-client-secret")],
            ),
        )
        .await?;
    store
        .put_connector(
            &Scope::Msp,
            &connector(
                "connectwise",
                &[
                    ("base_url", &sandbox.connectwise_base()),
                    ("company_id", &credential.company_id),
                    ("public_key", &credential.public_key),
                    (
                        "client_id",
                        &cw.client_ids.first().cloned().unwrap_or_default(),
                    ),
                ],
                &[("private_key", "onboard-e2e/connectwise-private-key")],
            ),
        )
        .await?;
    step(format!(
        "seeded moto: table {}, key and connector secrets, SES sender {SENDER}, organization `{ORGANIZATION}` (approval {})",
        env.config.table,
        if approval { "required" } else { "off" }
    ));
    Ok(())
}

fn vars(pairs: &[(&str, &str)]) -> onboard_store::Variables {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn connector(name: &str, settings: &[(&str, &str)], secrets: &[(&str, &str)]) -> ConnectorSettings {
    ConnectorSettings {
        connector: name.into(),
        settings: settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        secrets: secrets
            .iter()
            .map(|(k, id)| {
                (
                    (*k).to_owned(),
                    SecretRef::SecretsManager {
                        id: (*id).to_owned(),
                        json_key: None,
                    },
                )
            })
            .collect(),
    }
}

// --- The state machine ----------------------------------------------------------------

/// `CreateUserFunctionArn` -> `create-user`: the package under `functions/` (STYLE.md,
/// "one name in five places").
fn package_of(substitution: &str) -> Option<String> {
    let stem = substitution.strip_suffix("FunctionArn")?;
    let mut out = String::new();
    for (i, c) in stem.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The definition with every `${...}` replaced as the template's
/// `DefinitionSubstitutions` do, each function ARN naming its `functions/<name>`
/// package; a substitution that names no package stops the run.
fn substitute(root: &Path, definition: &str) -> Result<(String, BTreeMap<String, String>)> {
    let mut out = String::with_capacity(definition.len());
    let mut used = BTreeMap::new();
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| anyhow!("an unclosed `${{` in the definition"))?;
        let name = &rest[start + 2..start + end];
        let package = package_of(name)
            .ok_or_else(|| anyhow!("substitution `${{{name}}}` is not a function ARN"))?;
        ensure!(
            root.join("functions")
                .join(&package)
                .join("Cargo.toml")
                .is_file(),
            "substitution `${{{name}}}` names functions/{package}, which does not exist"
        );
        let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{package}");
        out.push_str(&arn);
        used.insert(name.to_owned(), package);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok((out, used))
}

/// Creates `statemachine/<file>` on moto as `arn` (the api function's setting), with
/// the substitutions; answers the functions it calls.
async fn deploy(
    root: &Path,
    file: &str,
    arn: &str,
    aws: &aws_config::SdkConfig,
) -> Result<Vec<String>> {
    let path = root.join("statemachine").join(file);
    let definition =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let (definition, used) = substitute(root, &definition)?;
    let mut functions: Vec<String> = used.into_values().collect();
    functions.sort();
    functions.dedup();
    let name = arn
        .split_once(":stateMachine:")
        .map(|(_, name)| name)
        .ok_or_else(|| anyhow!("`{arn}` is not a state machine ARN"))?;
    let created = aws_sdk_sfn::Client::new(aws)
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/onboard-e2e"))
        .send()
        .await?;
    ensure!(
        created.state_machine_arn() == arn,
        "moto named the state machine {}, not {arn}",
        created.state_machine_arn(),
    );
    step(format!(
        "deployed {file} as {arn}: {} functions ({})",
        functions.len(),
        functions.join(", ")
    ));
    Ok(functions)
}

// --- The functions --------------------------------------------------------------------

/// The function binaries, each polling `cargo lambda watch`'s Runtime API under its
/// own name (`{ONBOARD_E2E_RUNTIME_API}/<name>`), as Lambda runs one; stopped on drop.
struct Functions(Vec<std::process::Child>);

impl Functions {
    /// Starts `names`; the `api` function also gets `api_env`.
    fn start(names: &[String], api_env: &[(&str, String)]) -> Result<Self> {
        let bin_dir = PathBuf::from(var("ONBOARD_E2E_BIN_DIR")?);
        let runtime_api = var("ONBOARD_E2E_RUNTIME_API")?;
        let log_path = var("ONBOARD_E2E_FUNCTION_LOG")?;
        let mut running = Functions(Vec::new());
        for name in names {
            let binary = bin_dir.join(name);
            ensure!(
                binary.is_file(),
                "{} is not built (scripts/moto-e2e builds every function)",
                binary.display()
            );
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .with_context(|| format!("opening {log_path}"))?;
            let mut command = std::process::Command::new(&binary);
            if name == "api" {
                command.envs(api_env.iter().map(|(k, v)| (*k, v.as_str())));
            }
            let child = command
                .env(
                    "AWS_LAMBDA_RUNTIME_API",
                    format!("{}/{name}", runtime_api.trim_end_matches('/')),
                )
                .env("AWS_LAMBDA_FUNCTION_NAME", name)
                .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                .stdin(std::process::Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?;
            running.0.push(child);
        }
        Ok(running)
    }
}

impl Drop for Functions {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// --- Running one onboarding -----------------------------------------------------------

/// The person the runs onboard (the api run also denies one: [`deny_one`]).
const FIRST: (&str, &str) = ("Megan", "Bowen");

fn form() -> Value {
    person(FIRST.0, FIRST.1)
}

fn person(first: &str, last: &str) -> Value {
    json!({
        "organization": ORGANIZATION,
        "first_name": first,
        "last_name": last,
        "job_title": "Marketing Manager",
        "manager_email": "AdeleV@contoso.com",
        "licenses": ["O365_BUSINESS_PREMIUM"],
        "send_credentials_to": "none",
    })
}

/// Accepts the onboarding with a start `start` (RFC 3339, seconds ahead: the
/// machine's `WaitForStartDate` waits for it on moto's real clock) and starts it.
async fn start_direct(
    env: &Env,
    aws: &aws_config::SdkConfig,
    machine: &str,
    start: jiff::Timestamp,
) -> Result<(String, String)> {
    let deps = deps_from(&env.config, aws).await?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut form = form();
    form["start_date"] = json!(start.to_string());
    let record =
        onboard_steps::intake::accept::<onboard_domain::OnboardingRequest>(&deps, &id, &form)
            .await
            .map_err(|e| anyhow!("the form was refused: {e}"))?;
    let started = aws_sdk_sfn::Client::new(aws)
        .start_execution()
        .state_machine_arn(machine)
        .name(&record.id)
        .input(
            onboard_steps::intake::execution_input::<onboard_domain::OnboardingRequest>(&record)
                .to_string(),
        )
        .send()
        .await?;
    step(format!(
        "accepted onboarding {id} and started {}",
        started.execution_arn()
    ));
    Ok((id, started.execution_arn().to_owned()))
}

/// `GET {public_url}{path}` with the API key; the JSON answer.
async fn api_get(env: &Env, http: &reqwest::Client, path: &str) -> Result<Value> {
    let url = format!("{}{path}", env.config.public_url.trim_end_matches('/'));
    let response = http
        .get(&url)
        .bearer_auth(var("ONBOARD_E2E_API_KEY")?)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    ensure!(status.is_success(), "GET {url}: {status} {body}");
    Ok(body)
}

/// Offboards `upn` through the api function (statemachine/offboarding.asl.json, no
/// approval, the organization's default actions) and checks the sandbox Graph.
async fn offboard(
    env: &Env,
    http: &reqwest::Client,
    sfn: &aws_sdk_sfn::Client,
    sandbox: &Simulators,
    upn: &str,
) -> Result<()> {
    let url = format!(
        "{}/api/offboardings",
        env.config.public_url.trim_end_matches('/')
    );
    let response = http
        .post(&url)
        .bearer_auth(var("ONBOARD_E2E_API_KEY")?)
        .json(&json!({"organization": ORGANIZATION, "user_principal_name": upn}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    ensure!(
        status == reqwest::StatusCode::ACCEPTED,
        "POST {url}: {status} {body}"
    );
    step(format!("POST {url} -> {status} {body}"));
    let id = body["id"]
        .as_str()
        .ok_or_else(|| anyhow!("POST {url} answered no id: {body}"))?;
    let execution = format!(
        "{}:{id}",
        env.offboarding_machine
            .replacen(":stateMachine:", ":execution:", 1)
    );
    let started = Instant::now();
    let status = wait_for(sfn, &execution, env, http, None).await?;
    let history = history(sfn, &execution).await?;
    step(format!(
        "offboarding states entered: {}",
        entered_states(&history).join(" -> ")
    ));
    if status != ExecutionStatus::Succeeded {
        for line in failures(&history) {
            step(format!("  {line}"));
        }
        bail!("execution {execution} ended {status:?}, not SUCCEEDED");
    }
    step(format!(
        "offboarding execution SUCCEEDED in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let seen = api_get(env, http, &format!("/api/offboardings/{id}")).await?;
    ensure!(
        seen["status"] == "completed",
        "GET /api/offboardings/{id} answered {seen}"
    );
    let user = sandbox.graph_user(http, upn).await?;
    let licenses = user["assignedLicenses"].as_array().map_or(0, Vec::len);
    step(format!(
        "GET /api/offboardings/{id} -> completed, removed {}; sandbox Graph: {upn} accountEnabled {}, {licenses} license(s)",
        seen["removed"], user["accountEnabled"]
    ));
    ensure!(
        user["accountEnabled"] == false && licenses == 0,
        "{upn} is still enabled or licensed after offboarding: {user}"
    );
    Ok(())
}

/// A second onboarding, denied from its mail: the execution ends at NotApproved
/// (SendTaskFailure `Approval.Denied` caught by the state machine) and no user exists.
async fn deny_one(
    env: &Env,
    http: &reqwest::Client,
    sfn: &aws_sdk_sfn::Client,
    sandbox: &Simulators,
) -> Result<()> {
    let (first, last) = ("Lynne", "Robbins");
    let url = format!(
        "{}/api/onboardings",
        env.config.public_url.trim_end_matches('/')
    );
    let response = http
        .post(&url)
        .bearer_auth(var("ONBOARD_E2E_API_KEY")?)
        .json(&person(first, last))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    ensure!(
        status == reqwest::StatusCode::ACCEPTED,
        "POST {url}: {status} {body}"
    );
    step(format!("POST {url} -> {status} {body}"));
    let id = body["id"]
        .as_str()
        .ok_or_else(|| anyhow!("POST {url} answered no id: {body}"))?;
    let execution = format!(
        "{}:{id}",
        env.onboarding_machine
            .replacen(":stateMachine:", ":execution:", 1)
    );
    let status = wait_for(sfn, &execution, env, http, Some((first, "deny"))).await?;
    let states = entered_states(&history(sfn, &execution).await?);
    step(format!("denied onboarding: {}", states.join(" -> ")));
    ensure!(
        status == ExecutionStatus::Succeeded
            && states.ends_with(&["CloseRequestDenied".to_owned(), "NotApproved".to_owned()]),
        "the denied onboarding ended {status:?} through {states:?}"
    );
    let seen = api_get(env, http, &format!("/api/onboardings/{id}")).await?;
    ensure!(
        seen["status"] == "denied",
        "GET /api/onboardings/{id} answered {seen}"
    );
    let name = format!("{first} {last}");
    // The filter must find users at all, or an empty answer would prove nothing.
    ensure!(
        !sandbox
            .graph_users_named(http, &format!("{} {}", FIRST.0, FIRST.1))
            .await?
            .is_empty(),
        "the sandbox Graph's displayName filter does not find {} {}",
        FIRST.0,
        FIRST.1
    );
    let found = sandbox.graph_users_named(http, &name).await?;
    ensure!(
        found.is_empty(),
        "the sandbox Graph has {name} although the onboarding was denied: {found:?}"
    );
    step(format!(
        "GET /api/onboardings/{id} -> denied; sandbox Graph has no user named {name}"
    ));
    Ok(())
}

async fn start_through_api(
    env: &Env,
    http: &reqwest::Client,
    _aws: &aws_config::SdkConfig,
    machine: &str,
) -> Result<(String, String)> {
    let url = format!(
        "{}/api/onboardings",
        env.config.public_url.trim_end_matches('/')
    );
    let response = http
        .post(&url)
        .bearer_auth(var("ONBOARD_E2E_API_KEY")?)
        .json(&form())
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    ensure!(
        status == reqwest::StatusCode::ACCEPTED,
        "POST {url}: {status} {body}"
    );
    let id = body["id"]
        .as_str()
        .ok_or_else(|| anyhow!("POST {url} answered no id: {body}"))?
        .to_owned();
    step(format!("POST {url} -> {status} {body}"));
    // The api function names the execution after the onboarding.
    let name = machine.replacen(":stateMachine:", ":execution:", 1);
    Ok((id.clone(), format!("{name}:{id}")))
}

/// What to do with the approval mail about a person: (display name, `approve` | `deny`).
type Decision<'a> = Option<(&'a str, &'a str)>;

/// Polls the execution until it ends; with a `decision`, first takes it from the mail.
async fn wait_for(
    sfn: &aws_sdk_sfn::Client,
    execution: &str,
    env: &Env,
    http: &reqwest::Client,
    decision: Decision<'_>,
) -> Result<ExecutionStatus> {
    let deadline = Instant::now() + EXECUTION_DEADLINE;
    let mut decided = decision.is_none();
    loop {
        ensure!(
            Instant::now() < deadline,
            "execution {execution} did not end within {} s",
            EXECUTION_DEADLINE.as_secs()
        );
        let described = sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await?;
        if described.status() != &ExecutionStatus::Running {
            return Ok(described.status().clone());
        }
        if let Some((who, action)) = decision
            && !decided
            && let Some(link) = approval_link(env, http, who, action).await?
        {
            decide(http, &link, action).await?;
            decided = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The `action` link of the approval mail about `who` that moto's SES recorded, once
/// it is there.
async fn approval_link(
    env: &Env,
    http: &reqwest::Client,
    who: &str,
    action: &str,
) -> Result<Option<String>> {
    let state: Value = http
        .get(format!("{}/moto-api/data.json", env.moto))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let Some(mail) = state["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|to| to.iter().any(|a| a == APPROVER))
                && m["subject"].as_str().is_some_and(|s| s.contains(who))
        })
    else {
        return Ok(None);
    };
    step(format!(
        "SES recorded the approval mail from {} to {APPROVER}: {}",
        mail["source"], mail["subject"]
    ));
    let body = mail["body"].as_str().unwrap_or_default();
    let prefix = env.config.public_url.trim_end_matches('/');
    let link = links(body)
        .into_iter()
        .find(|l| l.starts_with(prefix) && l.contains(&format!("action={action}")))
        .ok_or_else(|| anyhow!("the approval mail has no `{action}` link under {prefix}"))?;
    Ok(Some(link))
}

/// Every `href="..."` of an HTML body, with `&amp;` decoded.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|l| l.replace("&amp;", "&"))
        .collect()
}

async fn decide(http: &reqwest::Client, link: &str, action: &str) -> Result<()> {
    // The signature is the link's secret: print where it goes, not the link.
    let shown = link.split('?').next().unwrap_or(link);
    let page = http.get(link).send().await?;
    ensure!(
        page.status().is_success(),
        "GET on the approval link {shown}: {}",
        page.status()
    );
    let response = http.post(link).send().await?;
    let status = response.status();
    ensure!(
        status.is_success(),
        "POST on the approval link {shown}: {status} {}",
        response.text().await.unwrap_or_default()
    );
    step(format!("{action}: GET {shown} -> 200, POST -> {status}"));
    let again = http.post(link).send().await?.status();
    ensure!(
        again == reqwest::StatusCode::CONFLICT,
        "a second POST on the approval link answered {again}, not 409"
    );
    step("a second POST on the link -> 409 (already decided)");
    Ok(())
}

// --- The console, signed in -----------------------------------------------------------

/// The cookies a browser would keep for the function URL.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn absorb(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let Some((pair, attributes)) = value
                .to_str()
                .ok()
                .map(|v| v.split_once(';').unwrap_or((v, "")))
            else {
                continue;
            };
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.0.remove(name.trim());
            } else {
                self.0
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A client that follows no redirects: each hop is checked as a browser takes it.
fn browser() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// A `Location` as a URL: our pages answer paths, which sit under the public URL
/// (cargo lambda watch serves the function under `/lambda-url/api`).
fn location(env: &Env, response: &reqwest::Response) -> Result<String> {
    let to = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            anyhow!(
                "{} answered {} without a Location",
                response.url(),
                response.status()
            )
        })?;
    Ok(if to.starts_with('/') {
        format!("{}{to}", env.config.public_url.trim_end_matches('/'))
    } else {
        to.to_owned()
    })
}

/// The value of the `name` attribute-value pair after `marker` in `html`.
fn attribute_after(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let rest = &html[html.find(marker)?..];
    let rest = &rest[rest.find(&format!("{attribute}=\""))? + attribute.len() + 2..];
    Some(rest[..rest.find('"')?].replace("&amp;", "&"))
}

/// Signs `upn` in through the sandbox's issuer, from `path`: the page redirects to
/// sign in, the issuer's page is answered as the person picking themself, the
/// callback starts the session. Answers the cookies.
async fn sign_in(env: &Env, upn: &str, path: &str) -> Result<Jar> {
    let http = browser()?;
    let public = env.config.public_url.trim_end_matches('/');
    let mut jar = Jar::default();
    let page = http.get(format!("{public}{path}")).send().await?;
    ensure!(
        page.status() == reqwest::StatusCode::SEE_OTHER,
        "GET {path} signed out: {}",
        page.status()
    );
    let start = location(env, &page)?;
    ensure!(
        start.contains("/auth/sign-in?return_to="),
        "GET {path} sent to {start}"
    );
    let to_issuer = http.get(&start).send().await?;
    jar.absorb(&to_issuer);
    ensure!(
        to_issuer.status() == reqwest::StatusCode::SEE_OTHER,
        "GET /auth/sign-in: {}",
        to_issuer.status()
    );
    let authorize = location(env, &to_issuer)?;
    let html = http
        .get(&authorize)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let request = attribute_after(&html, "name=\"request\"", "value")
        .ok_or_else(|| anyhow!("the issuer's sign-in page has no request field"))?;
    let login = authorize
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .map(|(dir, _)| format!("{dir}/login"))
        .ok_or_else(|| anyhow!("cannot place the login form of {authorize}"))?;
    let back = http
        .post(&login)
        .form(&[("request", request.as_str()), ("login", upn)])
        .send()
        .await?;
    ensure!(
        back.status().is_redirection(),
        "POST {login}: {}",
        back.status()
    );
    let callback = location(env, &back)?;
    ensure!(
        callback.starts_with(&format!("{public}/auth/callback?")),
        "the issuer sent {upn} to {callback}"
    );
    let signed = http
        .get(&callback)
        .header(reqwest::header::COOKIE, jar.header())
        .send()
        .await?;
    jar.absorb(&signed);
    ensure!(
        signed.status() == reqwest::StatusCode::SEE_OTHER && jar.0.contains_key("onboard_session"),
        "GET /auth/callback for {upn}: {} {}",
        signed.status(),
        signed.text().await.unwrap_or_default()
    );
    step(format!(
        "{upn} signed in through the sandbox issuer (code + PKCE) and has a session"
    ));
    Ok(jar)
}

/// GET `path` with `jar`'s cookies, keeping what it sets.
async fn get_page(env: &Env, jar: &mut Jar, path: &str) -> Result<(reqwest::StatusCode, String)> {
    let response = browser()?
        .get(format!(
            "{}{path}",
            env.config.public_url.trim_end_matches('/')
        ))
        .header(reqwest::header::COOKIE, jar.header())
        .send()
        .await?;
    jar.absorb(&response);
    let status = response.status();
    Ok((status, response.text().await?))
}

/// The console on the api function: an approver signs in and approves a pending
/// onboarding with the button on `/approvals`, recorded in her name; a viewer may
/// not; signing out ends the session.
async fn approve_in_console(env: &Env, sfn: &aws_sdk_sfn::Client) -> Result<()> {
    let api_key = var("ONBOARD_E2E_API_KEY")?;
    let public = env.config.public_url.trim_end_matches('/').to_owned();
    let submitted = reqwest::Client::new()
        .post(format!("{public}/api/onboardings"))
        .bearer_auth(&api_key)
        .json(&person("Nestor", "Wilke"))
        .send()
        .await?;
    ensure!(
        submitted.status() == reqwest::StatusCode::ACCEPTED,
        "POST /api/onboardings: {}",
        submitted.status()
    );
    let id = submitted.json::<Value>().await?["id"]
        .as_str()
        .ok_or_else(|| anyhow!("no id"))?
        .to_owned();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + EXECUTION_DEADLINE;
    // The record says pending_approval from intake on; the decision exists once
    // RequestApproval mailed it.
    while approval_link(env, &http, "Nestor Wilke", "approve")
        .await?
        .is_none()
    {
        ensure!(
            Instant::now() < deadline,
            "onboarding {id} never asked for approval"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    step(format!("onboarding {id} waits for approval"));

    // The viewer sees the list but no button, and a post in her name is refused.
    let mut vera = sign_in(env, "vera@northwind-it.example", "/approvals").await?;
    let (status, html) = get_page(env, &mut vera, "/approvals").await?;
    ensure!(
        status.is_success() && html.contains(&format!("data-id=\"{id}\"")),
        "Vera's /approvals: {status}"
    );
    ensure!(
        !html.contains("/approve\""),
        "Vera's /approvals offers an Approve button"
    );
    ensure!(
        !html.contains("/decisions/"),
        "Vera's /approvals shows signed decision links"
    );

    let mut ann = sign_in(env, "ann@northwind-it.example", "/approvals").await?;
    let (_, html) = get_page(env, &mut ann, "/approvals").await?;
    let row = &html[html
        .find(&format!("data-id=\"{id}\""))
        .ok_or_else(|| anyhow!("Ann's /approvals lacks {id}"))?..];
    let action = attribute_after(row, "<form method=\"post\"", "action")
        .filter(|a| a.ends_with("/approve"))
        .ok_or_else(|| anyhow!("Ann's /approvals has no Approve button for {id}"))?;
    let csrf = attribute_after(row, "name=\"csrf_token\"", "value")
        .ok_or_else(|| anyhow!("no CSRF token"))?;

    let refused = browser()?
        .post(format!("{public}{action}"))
        .header(reqwest::header::COOKIE, vera.header())
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    ensure!(
        refused.status() == reqwest::StatusCode::FORBIDDEN,
        "Vera's approve: {}",
        refused.status()
    );
    step("a viewer's approval is refused (403): the approver role decides");

    let decided = browser()?
        .post(format!("{public}{action}"))
        .header(reqwest::header::COOKIE, ann.header())
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    ensure!(
        decided.status() == reqwest::StatusCode::SEE_OTHER,
        "Ann's approve: {}",
        decided.status()
    );
    let to = location(env, &decided)?;
    ensure!(
        to.ends_with(&format!("/onboardings/{id}?done=decided")),
        "approved, then to {to}"
    );
    step(format!(
        "Ann approved {id} with the console's button -> {to}"
    ));

    let machine = env
        .onboarding_machine
        .replacen(":stateMachine:", ":execution:", 1);
    let status = wait_for(sfn, &format!("{machine}:{id}"), env, &http, None).await?;
    ensure!(
        status == ExecutionStatus::Succeeded,
        "the approved execution ended {status:?}"
    );
    let record = api_get(env, &http, &format!("/api/onboardings/{id}")).await?;
    let timeline = record["timeline"].to_string();
    ensure!(
        timeline.contains("approved by Ann Approver (ann@northwind-it.example) in the console"),
        "the timeline does not say who approved: {timeline}"
    );
    step("the timeline says: approved by Ann Approver (ann@northwind-it.example) in the console");

    // Signing out deletes the session: the same cookie opens nothing afterwards.
    let (_, account) = get_page(env, &mut ann, "/auth/account").await?;
    let token = attribute_after(&account, "name=\"csrf_token\"", "value")
        .ok_or_else(|| anyhow!("no sign-out form"))?;
    let kept = ann.header();
    let out = browser()?
        .post(format!("{public}/auth/sign-out"))
        .header(reqwest::header::COOKIE, ann.header())
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await?;
    ensure!(
        out.status() == reqwest::StatusCode::SEE_OTHER,
        "sign-out: {}",
        out.status()
    );
    let replay = browser()?
        .get(format!("{public}/approvals"))
        .header(reqwest::header::COOKIE, kept)
        .send()
        .await?;
    ensure!(
        replay.status() == reqwest::StatusCode::SEE_OTHER,
        "the signed-out cookie still opens /approvals: {}",
        replay.status()
    );
    step("signed out: the old session cookie is sent to sign in again");
    Ok(())
}

// --- Reading the history --------------------------------------------------------------

async fn history(sfn: &aws_sdk_sfn::Client, execution: &str) -> Result<Vec<HistoryEvent>> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(execution)
            .set_next_token(token)
            .send()
            .await?;
        events.extend(page.events().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(events);
        }
    }
}

fn entered_states(history: &[HistoryEvent]) -> Vec<String> {
    history
        .iter()
        .filter_map(|e| e.state_entered_event_details())
        .map(|d| d.name().to_owned())
        .collect()
}

/// When the Wait state `name` was left, by the history's clock.
fn wait_exited_at(history: &[HistoryEvent], name: &str) -> Option<jiff::Timestamp> {
    history
        .iter()
        .filter(|e| e.r#type() == &aws_sdk_sfn::types::HistoryEventType::WaitStateExited)
        .find(|e| {
            e.state_exited_event_details()
                .is_some_and(|d| d.name() == name)
        })
        .and_then(|e| {
            jiff::Timestamp::new(e.timestamp().secs(), e.timestamp().subsec_nanos() as i32).ok()
        })
}

/// The failures the history records, one line each.
fn failures(history: &[HistoryEvent]) -> Vec<String> {
    let mut out = Vec::new();
    for e in history {
        let (error, cause) = if let Some(d) = e.lambda_function_failed_event_details() {
            (d.error(), d.cause())
        } else if let Some(d) = e.task_failed_event_details() {
            (d.error(), d.cause())
        } else if let Some(d) = e.execution_failed_event_details() {
            (d.error(), d.cause())
        } else {
            continue;
        };
        out.push(format!(
            "#{} {:?}: {} {}",
            e.id(),
            e.r#type(),
            error.unwrap_or("-"),
            cause.unwrap_or("")
        ));
    }
    out
}
