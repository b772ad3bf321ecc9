//! `onboard states run`: runs a States Language definition to its end on a virtual clock.
//!
//! Prints one JSON object `{status, output, error, cause[, history]}` on stdout; exits 0
//! when SUCCEEDED, 1 when the execution ended otherwise, 2 when the definition, the input
//! or the mock configuration is invalid (a message on stderr, nothing on stdout).

use clap::{Args, Subcommand};
use onboard_asl::mock::{MockConfig, MockDispatcher};
use onboard_asl::{Dispatcher, Engine, EngineOptions, ExecutionStatus, MemoryStore, VirtualClock};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `onboard states ...`.
#[derive(Debug, Args)]
pub(crate) struct StatesArgs {
    #[command(subcommand)]
    command: StatesCommand,
}

#[derive(Debug, Subcommand)]
enum StatesCommand {
    /// Run a state machine definition locally, to its end, on a virtual clock.
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The definition (Amazon States Language JSON).
    definition: PathBuf,
    /// The execution input as JSON text (default `{}`).
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// A file holding the execution input.
    #[arg(long)]
    input_file: Option<PathBuf>,
    /// An AWS Step Functions Local mock configuration file.
    #[arg(long, requires = "test_case")]
    mock_config: Option<PathBuf>,
    /// The test case of the mock configuration to use.
    #[arg(long, requires = "mock_config")]
    test_case: Option<String>,
    /// The entry of `StateMachines` to use (default: the definition's file stem).
    #[arg(long)]
    state_machine_name: Option<String>,
    /// Include the execution history in the output.
    #[arg(long)]
    history: bool,
}

/// Runs `onboard states ...`.
pub(crate) fn run(args: StatesArgs) -> ExitCode {
    match args.command {
        StatesCommand::Run(a) => run_definition(a),
    }
}

fn invalid(msg: String) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn run_definition(a: RunArgs) -> ExitCode {
    let def_name = a.definition.display().to_string();
    let text = match std::fs::read_to_string(&a.definition) {
        Ok(t) => t,
        Err(e) => return invalid(format!("{def_name}: cannot read the definition: {e}")),
    };
    let input_text = match (&a.input, &a.input_file) {
        (Some(s), _) => s.clone(),
        (None, Some(f)) => match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => return invalid(format!("{}: cannot read the input: {e}", f.display())),
        },
        (None, None) => "{}".to_string(),
    };
    let input: Value = match serde_json::from_str(&input_text) {
        Ok(v) => v,
        Err(e) => return invalid(format!("the execution input is not JSON: {e}")),
    };
    let name = a.state_machine_name.clone().unwrap_or_else(|| {
        a.definition
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "StateMachine".into())
    });
    let name = name
        .strip_suffix(".asl")
        .map(str::to_string)
        .unwrap_or(name);
    let dispatcher: Arc<dyn Dispatcher> = match (&a.mock_config, &a.test_case) {
        (Some(path), Some(tc)) => {
            let mtext = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    return invalid(format!(
                        "{}: cannot read the mock configuration: {e}",
                        path.display()
                    ));
                }
            };
            let d = MockConfig::parse(&mtext).and_then(|c| c.dispatcher(&name, tc));
            match d {
                Ok(d) => Arc::new(d),
                Err(e) => return invalid(format!("{}: {e}", path.display())),
            }
        }
        _ => Arc::new(MockDispatcher::empty()),
    };
    let clock = Arc::new(VirtualClock::new(jiff::Timestamp::now()));
    let options = EngineOptions {
        keep_history: a.history,
        ..EngineOptions::default()
    };
    let engine = Engine::with_options(Arc::new(MemoryStore::new()), clock, dispatcher, options);
    let sm_arn = match engine.register(&name, &text) {
        Ok(arn) => arn,
        Err(e) => return invalid(format!("{def_name}: {e}")),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return invalid(format!("cannot start the runtime: {e}")),
    };
    let result = rt.block_on(async {
        let arn = engine.start_execution(&sm_arn, None, input).await?;
        engine.run_to_completion(&arn).await
    });
    let rec = match result {
        Ok(r) => r,
        Err(onboard_asl::Error::Input(m)) => {
            return invalid(format!("the execution input is invalid: {m}"));
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let none_if_empty = |s: &Option<String>| s.as_ref().filter(|s| !s.is_empty()).cloned();
    let mut out = json!({
        "status": rec.status.as_str(),
        "output": rec.output,
        "error": none_if_empty(&rec.error),
        "cause": none_if_empty(&rec.cause),
    });
    if a.history
        && let Some(m) = out.as_object_mut()
    {
        m.insert(
            "history".into(),
            serde_json::to_value(&rec.history).unwrap_or(Value::Null),
        );
    }
    println!("{}", serde_json::to_string(&out).unwrap_or_default());
    if rec.status == ExecutionStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
