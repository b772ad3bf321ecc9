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
    /// Replace `${NAME}` in the definition by VALUE before reading it, as SAM's
    /// `DefinitionSubstitutions` do on deploy (repeatable), so the files of
    /// `statemachine/` run as they are: `--substitution ValidateFunctionArn=arn:...`.
    #[arg(long = "substitution", value_name = "NAME=VALUE", value_parser = parse_substitution)]
    substitutions: Vec<(String, String)>,
}

/// `NAME=VALUE`, NAME as SAM allows it (letters, digits, `_`).
fn parse_substitution(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{name}` is not a substitution name (letters, digits and `_`)"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// Applies the substitutions to the definition's text. A value goes in as JSON
/// string content (escaped), since placeholders stand inside JSON strings.
fn substitute(text: &str, substitutions: &[(String, String)]) -> Result<String, String> {
    let mut out = text.to_owned();
    for (name, value) in substitutions {
        let placeholder = format!("${{{name}}}");
        if !out.contains(&placeholder) {
            return Err(format!(
                "--substitution {name}: the definition has no `{placeholder}`"
            ));
        }
        let escaped = serde_json::to_string(value).map_err(|e| e.to_string())?;
        out = out.replace(&placeholder, &escaped[1..escaped.len() - 1]);
    }
    Ok(out)
}

/// The `${NAME}` placeholders left in a definition, for the error that names them.
fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end)
                if end > 0
                    && after[..end]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                let name = after[..end].to_owned();
                if !found.contains(&name) {
                    found.push(name);
                }
                rest = &after[end..];
            }
            _ => rest = after,
        }
    }
    found
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
    let text = match substitute(&text, &a.substitutions) {
        Ok(t) => t,
        Err(e) => return invalid(format!("{def_name}: {e}")),
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
        Err(e) => {
            let left = placeholders(&text);
            let hint = if left.is_empty() {
                String::new()
            } else {
                format!(
                    " (placeholders not substituted: {}; pass --substitution NAME=VALUE for each, as SAM's DefinitionSubstitutions)",
                    left.iter()
                        .map(|n| format!("${{{n}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return invalid(format!("{def_name}: {e}{hint}"));
        }
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
