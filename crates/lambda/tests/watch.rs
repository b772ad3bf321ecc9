//! The release build of `functions/*` as Lambda runs it: each `bootstrap` that
//! `cargo lambda build --release` made, served by `cargo lambda watch`'s Runtime
//! API emulator and invoked with `cargo lambda invoke` with its `events/`
//! payload, over moto's DynamoDB, Secrets Manager, SES and SNS; and each
//! function's zipped size and init time (process start to its first
//! `GET /runtime/invocation/next`).
//!
//! `scripts/check-aws` runs these after the release build, with moto up
//! (`scripts/test`). They are ignored in a plain `cargo test` because the
//! binaries they check do not exist there; run without their inputs they fail,
//! never skip.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use onboard_lambda::{Config, deps_from};
use onboard_steps::FUNCTIONS;
use onboard_store::{ConnectorSettings, Scope, SecretRef, Variables};
use serde_json::{Value, json};

/// The onboarding and offboarding ids every `events/*.json` names.
const ONBOARDING_ID: &str = "onb-2f6c1a9e";
const OFFBOARDING_ID: &str = "off-5b1d3c7a";

/// The targets.
const MAX_ZIPPED_BYTES: u64 = 8 * 1024 * 1024;
const INIT_TARGET: Duration = Duration::from_millis(30);
/// Starts measured per function; the median is reported.
const INIT_RUNS: usize = 5;
/// Bounds every wait on a child process, so a hung function fails the test.
const DEADLINE: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run scripts/check-aws, which builds the functions and starts moto"
        )
    })
}

/// `CreateUser` -> `create-user`: the package, its binary and its events file.
fn kebab(function: &str) -> String {
    onboard_steps::dispatch::package(function).unwrap()
}

/// Where `cargo lambda build --release --output-format zip` put `<package>/bootstrap.zip`.
fn lambda_dir() -> PathBuf {
    PathBuf::from(required_env("ONBOARD_TEST_LAMBDA_DIR"))
}

/// The `bootstrap` executable of `package`, unpacked from its zip into `into`.
fn unpack_bootstrap(package: &str, into: &Path) -> PathBuf {
    let zip = lambda_dir().join(package).join("bootstrap.zip");
    let dir = into.join(package);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "cannot unpack {}", zip.display());
    let bootstrap = dir.join("bootstrap");
    // Python's zipfile drops the mode bits that Lambda reads from the archive.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    bootstrap
}

/// A moto deployment: the table, the key secret, the MSP's variables, one
/// organization, and the onboarding and offboarding the events name, stored
/// the way `POST /api/onboardings` stores them.
struct Deployment {
    aws: aws_config::SdkConfig,
    moto: String,
    table: String,
    keys_secret: String,
}

impl Deployment {
    async fn new() -> Deployment {
        let moto = required_env("ONBOARD_TEST_MOTO_URL");
        let aws = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&moto)
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let table = format!("onboard-watch-{nanos}");
        onboard_store::dynamodb::create_table(&aws_sdk_dynamodb::Client::new(&aws), &table)
            .await
            .unwrap();
        let keys_secret = aws_sdk_secretsmanager::Client::new(&aws)
            .create_secret()
            .name(format!("onboard/watch-keys-{nanos}"))
            .secret_string("w".repeat(64))
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();
        let deployment = Deployment {
            aws: aws.clone(),
            moto,
            table,
            keys_secret,
        };
        let deps = deps_from(&deployment.config(), &aws).await.unwrap();

        let variables: Variables = [
            ("default_psa", "none"),
            ("require_approval_for_new_users", "0"),
            ("send_from_address", "onboard@msp.example"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        deps.store
            .put_variables(&Scope::Msp, &variables)
            .await
            .unwrap();
        deps.store
            .put_connector(
                &Scope::Organization("contoso".into()),
                &ConnectorSettings {
                    connector: "organization".into(),
                    settings: [
                        ("tenant_id", "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
                        ("domain", "contoso.com"),
                        ("name", "Contoso Ltd"),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                    secrets: Default::default(),
                },
            )
            .await
            .unwrap();
        onboard_steps::intake::accept::<onboard_domain::OnboardingRequest>(
            &deps,
            ONBOARDING_ID,
            &json!({
                "organization": "contoso",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "manager_email": "grace@contoso.com",
                "send_credentials_to": "email",
            }),
        )
        .await
        .unwrap();
        onboard_steps::intake::accept::<onboard_domain::OffboardingRequest>(
            &deps,
            OFFBOARDING_ID,
            &json!({
                "organization": "contoso",
                "user_principal_name": "alan.turing@contoso.com",
            }),
        )
        .await
        .unwrap();
        deployment
    }

    /// The median time moto takes to answer the `GetSecretValue` every cold
    /// start makes: part of each init time measured here, and not the function's.
    async fn secret_round_trip(&self) -> Duration {
        let client = aws_sdk_secretsmanager::Client::new(&self.aws);
        let mut times = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            client
                .get_secret_value()
                .secret_id(&self.keys_secret)
                .send()
                .await
                .unwrap();
            times.push(started.elapsed());
        }
        // The first includes the client's connection set-up; so does a cold start's.
        times.sort();
        times[times.len() / 2]
    }

    fn config(&self) -> Config {
        Config {
            table: self.table.clone(),
            public_url: "https://onboard.example.com".into(),
            keys_secret: SecretRef::SecretsManager {
                id: self.keys_secret.clone(),
                json_key: None,
            },
        }
    }

    /// Starts `bootstrap` as Lambda would, against the Runtime API at `runtime_api`.
    fn start(
        &self,
        bootstrap: &Path,
        function: &str,
        runtime_api: &str,
        own_env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Child {
        Command::new(bootstrap)
            .env_clear()
            .envs(own_env.iter().copied())
            .env("PATH", "/usr/bin:/bin")
            // The deployment's settings (template.yaml's Globals).
            .env("ONBOARD_TABLE", &self.table)
            .env("ONBOARD_PUBLIC_URL", "https://onboard.example.com")
            .env("ONBOARD_KEYS_SECRET", &self.keys_secret)
            // Every AWS client of the function goes to moto.
            .env("AWS_ENDPOINT_URL", &self.moto)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            // What the Lambda service sets.
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "watch")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bootstrap.display()))
    }
}

/// Kills the child on every exit path, a failed assertion included.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("cargo lambda watch exited with {status}");
        }
        assert!(
            start.elapsed() < DEADLINE,
            "cargo lambda watch did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What `cargo lambda invoke` printed: the function's answer, or its error.
#[derive(Debug)]
enum Answer {
    Ok(Value),
    Err { error_type: String, message: String },
}

fn invoke(port: u16, function: &str, event: &Path) -> Answer {
    let mut child = Command::new("cargo-lambda")
        .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &port.to_string()])
        .args(["--output-format", "json", "--data-file"])
        .arg(event)
        .arg(function)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a function that never answers fails the test instead of hanging it.
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("{function}: no answer within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The answers are a few hundred bytes: the pipes cannot fill before the exit.
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        return Answer::Ok(
            serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("{function}: {e} in {stdout:?} ({stderr})")),
        );
    }
    // An error the function reported: `cargo lambda invoke` prints
    // `Error: <error type>` and then the message.
    let text = format!("{stdout}{stderr}");
    let error_type = text
        .lines()
        .find_map(|line| line.strip_prefix("Error: "))
        .map(str::trim)
        .unwrap_or_else(|| panic!("{function}: the invoke failed with no error type: {text}"));
    assert!(
        onboard_steps::StepError::NAMES.contains(&error_type),
        "{function}: {error_type} is no stable error name: {text}"
    );
    Answer::Err {
        error_type: error_type.to_owned(),
        message: text.clone(),
    }
}

/// What a function must answer its sample event.
enum Expect {
    /// Success, with these fields (JSON pointer, value) in the output.
    Ok(&'static [(&'static str, &'static str)]),
    /// This stable error name, with this text in the message.
    Err(&'static str, &'static str),
}

/// What each step answers its sample event against the seeded deployment, in
/// `FUNCTIONS` order. The deployment has an organization but no Graph tenant or
/// PSA behind it, and each step is invoked once, on its own: the steps that
/// need only the store succeed; the others stop at the first thing missing and
/// name it, under the error name the state machine's Retry/Catch match.
fn expected(function: &str) -> Expect {
    use Expect::{Err, Ok};
    const NO_GRAPH: Expect = Err("Config.Invalid", "connector `graph` is not configured");
    const NO_USER: Expect = Err("Step.Internal", "has no user yet");
    const NO_DECISION: Expect = Err("Step.Internal", "has no license decision");
    match function {
        "Validate" => Ok(&[
            ("/organization", "\"contoso\""),
            ("/display_name", "\"Ada Lovelace\""),
            ("/approval_required", "false"),
            ("/scheduled", "false"),
        ]),
        "EnsureTicket" | "EnsureOffboardingTicket" => Ok(&[("/psa", "null")]),
        "RequestApproval" => Err("Config.Invalid", "new_user_approval_email"),
        "CloseRequest" | "CloseOffboarding" => Ok(&[("/status", "\"denied\"")]),
        "MarkScheduled" => Ok(&[("/start_at", "\"2026-12-01T08:00:00Z\"")]),
        "CreateUser" | "ValidateOffboarding" | "RecordRestorePoint" => NO_GRAPH,
        "AssignLicense"
        | "RecordLicenseOutcome"
        | "AddGroups"
        | "AddMailboxAccess"
        | "DeliverCredentials"
        | "Complete" => NO_USER,
        "PurchaseLicense" | "RequestLicensePurchase" => NO_DECISION,
        "HandleFailure" | "HandleOffboardingFailure" => Ok(&[("/status", "\"failed\"")]),
        "RequestOffboardingApproval" => Err("Config.Invalid", "offboarding_user_approval_email"),
        "MarkOffboardingScheduled" => Ok(&[("/run_at", "\"2026-12-31T17:00:00Z\"")]),
        "OffboardUser" => Err("Step.Internal", "before RecordRestorePoint"),
        "CompleteOffboarding" => Ok(&[("/status", "\"completed\"")]),
        // The event's date has passed and the record was never scheduled: go on.
        "CheckSchedule" => Ok(&[("/next", "\"go\""), ("/until", "\"2026-12-01T08:00:00Z\"")]),
        other => panic!("no expected answer for {other}: add it here"),
    }
}

/// Why `answer` is not what `expect` says, if it is not.
fn mismatch(expect: &Expect, answer: &Answer) -> Option<String> {
    match (expect, answer) {
        (Expect::Ok(fields), Answer::Ok(output)) => fields.iter().find_map(|(pointer, want)| {
            let want: Value = serde_json::from_str(want).unwrap();
            (output.pointer(pointer) != Some(&want))
                .then(|| format!("{pointer} should be {want} in {output}"))
        }),
        (
            Expect::Err(name, text),
            Answer::Err {
                error_type,
                message,
            },
        ) => (error_type != name || !message.contains(text))
            .then(|| format!("expected {name} mentioning {text:?}, got {error_type}: {message}")),
        (
            Expect::Ok(_),
            Answer::Err {
                error_type,
                message,
            },
        ) => Some(format!("expected success, got {error_type}: {message}")),
        (Expect::Err(name, _), Answer::Ok(output)) => {
            Some(format!("expected {name}, got success: {output}"))
        }
    }
}

#[test]
#[ignore = "needs the release build and moto: scripts/check-aws runs it"]
fn every_function_answers_its_event_under_cargo_lambda_watch() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let deployment = rt.block_on(Deployment::new());
    let bin = tempfile::tempdir().unwrap();

    let port = free_port();
    let mut watch = Running(
        // `cargo-lambda` itself, not `cargo lambda`: killing the `cargo` wrapper
        // would leave the emulator running.
        Command::new("cargo-lambda")
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address"])
            .args(["127.0.0.1", "--invoke-port", &port.to_string()])
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo lambda watch (cargo-lambda on PATH)"),
    );
    wait_for_port(port, &mut watch.0);

    let mut failures = Vec::new();
    for function in FUNCTIONS {
        let package = kebab(function);
        let bootstrap = unpack_bootstrap(&package, bin.path());
        let runtime_api = format!("http://127.0.0.1:{port}/.rt/{package}");
        let _running =
            Running(deployment.start(&bootstrap, &package, &runtime_api, &[], Stdio::inherit()));
        let event = root().join("events").join(format!("{package}.json"));
        let answer = invoke(port, &package, &event);
        if let Some(why) = mismatch(&expected(function), &answer) {
            failures.push(format!("{function}: {why}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Serves the Runtime API's first request to one starting function and
/// returns how long after `started` its `GET /runtime/invocation/next` came.
fn time_to_first_poll(
    listener: &TcpListener,
    started: Instant,
    child: &mut Child,
) -> Result<Duration, String> {
    // Polled, so a function that dies before it connects fails instead of hanging.
    listener.set_nonblocking(true).unwrap();
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait().unwrap() {
                    return Err(format!("exited with {status} before polling"));
                }
                if started.elapsed() > DEADLINE {
                    return Err(format!("no poll within {DEADLINE:?}"));
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let at = started.elapsed();
    if line.starts_with("GET /2018-06-01/runtime/invocation/next ") {
        return Ok(at);
    }
    // Most likely POST /runtime/init/error: show what the function reported.
    let mut rest = vec![0; 4096];
    let n = reader.read(&mut rest).unwrap_or(0);
    Err(format!(
        "{}{}",
        line.trim_end(),
        String::from_utf8_lossy(&rest[..n])
    ))
}

#[test]
#[ignore = "needs the release build and moto: scripts/check-aws runs it"]
fn every_function_is_small_and_starts_fast() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let deployment = rt.block_on(Deployment::new());
    let bin = tempfile::tempdir().unwrap();

    // Every step function, then the other packages under functions/ (the HTTP
    // API, the approval reminder), sized, and started when this test knows the
    // environment template.yaml gives them beyond its Globals.
    let steps: Vec<String> = FUNCTIONS.iter().map(|f| kebab(f)).collect();
    let mut others: Vec<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|package| !steps.contains(package))
        .collect();
    others.sort();
    let own_env = |package: &str| -> Option<&'static [(&'static str, &'static str)]> {
        match package {
            "api" => Some(&[
                (
                    "ONBOARD_ONBOARDING_STATE_MACHINE_ARN",
                    "arn:aws:states:us-east-1:123456789012:stateMachine:onboarding",
                ),
                (
                    "ONBOARD_OFFBOARDING_STATE_MACHINE_ARN",
                    "arn:aws:states:us-east-1:123456789012:stateMachine:offboarding",
                ),
                ("ONBOARD_API_AUTH", "IAM"),
            ]),
            "remind-approvers" => Some(&[]),
            step if steps.iter().any(|s| s == step) => Some(&[]),
            _ => None,
        }
    };

    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for package in steps.iter().chain(&others) {
        let zip = lambda_dir().join(package).join("bootstrap.zip");
        let zipped = std::fs::metadata(&zip)
            .unwrap_or_else(|e| panic!("{}: {e}", zip.display()))
            .len();
        if zipped > MAX_ZIPPED_BYTES {
            failures.push(format!(
                "{package}: {zipped} bytes zipped, over {MAX_ZIPPED_BYTES}"
            ));
        }
        let mut inits = Vec::new();
        if let Some(env) = own_env(package) {
            let bootstrap = unpack_bootstrap(package, bin.path());
            for _ in 0..INIT_RUNS {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let runtime_api = listener.local_addr().unwrap().to_string();
                let started = Instant::now();
                // Its stderr is dropped: the function complains when this server
                // hangs up on its first poll, which is the point.
                let mut running = Running(deployment.start(
                    &bootstrap,
                    package,
                    &runtime_api,
                    env,
                    Stdio::null(),
                ));
                match time_to_first_poll(&listener, started, &mut running.0) {
                    Ok(init) => inits.push(init),
                    Err(e) => {
                        failures.push(format!("{package}: init failed: {e}"));
                        break;
                    }
                }
            }
        }
        inits.sort();
        let median = inits.get(inits.len() / 2).copied();
        rows.push((package.clone(), zipped, median, inits));
    }

    let round_trip = rt.block_on(deployment.secret_round_trip());
    let mut table = format!(
        "Init: from spawning `bootstrap` to its first `GET /2018-06-01/runtime/invocation/next`, \
         {INIT_RUNS} starts each; it includes one `GetSecretValue` answered by moto \
         (median round trip {:.1} ms, measured alongside).\n\n\
         | function | zipped | init, median | init, min - max |\n|---|---:|---:|---:|\n",
        round_trip.as_secs_f64() * 1000.0
    );
    for (package, zipped, median, inits) in &rows {
        let ms = |d: &Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        let (median, range) = match (median, inits.first(), inits.last()) {
            (Some(median), Some(first), Some(last)) => {
                (ms(median), format!("{} - {}", ms(first), ms(last)))
            }
            _ => ("not started".to_owned(), String::new()),
        };
        table.push_str(&format!(
            "| {package} | {:.2} MiB | {median} | {range} |\n",
            *zipped as f64 / (1024.0 * 1024.0),
        ));
    }
    println!("{table}");
    if let Ok(path) = std::env::var("ONBOARD_LAMBDA_FIGURES") {
        std::fs::write(path, &table).unwrap();
    }
    let slow: Vec<_> = rows
        .iter()
        .filter(|(_, _, median, _)| median.is_some_and(|m| m > INIT_TARGET))
        .map(|(package, _, median, _)| format!("{package} ({median:?})"))
        .collect();
    if !slow.is_empty() {
        println!("over the {INIT_TARGET:?} init target: {}", slow.join(", "));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
