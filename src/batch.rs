//! `onboard batch FILE`: a CSV (or JSON array) of forms sent to a running
//! Onboard's batch API, its progress shown with a bar, then a table of every row.
//!
//! The file is posted with an `Idempotency-Key` made from its kind and bytes,
//! so running the same command again (after a lost connection, a row that did
//! not start) answers the same batch and starts nothing twice. `--dry-run`
//! prints every row's plan and starts nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use onboard_http::batch;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::table::Table;

/// `onboard batch`.
#[derive(Debug, Args)]
pub(crate) struct BatchArgs {
    /// The file: CSV (a header row of the form's field names; lists separated
    /// by `;`) or, ending in `.json`, a JSON array of forms.
    file: PathBuf,
    /// Answer every row's plan; start nothing.
    #[arg(long)]
    dry_run: bool,
    /// What the rows are.
    #[arg(long, value_enum, default_value_t = Kind::Onboarding)]
    kind: Kind,
    /// The Onboard server.
    #[arg(long, env = "ONBOARD_URL", default_value = "http://127.0.0.1:3000")]
    url: String,
    /// The name of the environment variable holding an API key, when the
    /// server requires one (never the key itself: it would be in the shell's history).
    #[arg(long, default_value = "ONBOARD_API_KEY")]
    api_key_env: String,
    /// Start the batch and print its id, without waiting for the runs.
    #[arg(long)]
    no_wait: bool,
    /// How often to ask for progress, in milliseconds.
    #[arg(long, default_value_t = 1000, hide = true)]
    poll_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    Onboarding,
    Offboarding,
}

impl Kind {
    fn collection(self) -> &'static str {
        match self {
            Kind::Onboarding => "onboardings",
            Kind::Offboarding => "offboardings",
        }
    }
}

/// A row still on its way: the progress bar waits for these to settle. A run
/// that waits for a person or a date has settled as far as the command is concerned.
fn moving(status: &str) -> bool {
    status == "running"
}

/// Runs `onboard batch`: 0 when every row was accepted and none failed or
/// stayed unstarted, 1 otherwise, 2 when the file or the server cannot be used.
pub(crate) fn run(args: BatchArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(send(&args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Client {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// The answer's JSON, or an error that says what the server said.
    async fn json(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> anyhow::Result<(u16, Value)> {
        let res = request
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{what}: cannot reach {}: {e}", self.base))?;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }
}

/// A problem+json answer in one line: its detail and its field errors.
fn problem(status: u16, body: &Value) -> String {
    let mut out = format!("the server answered {status}");
    if let Some(detail) = body.get("detail").and_then(Value::as_str) {
        out.push_str(&format!(": {detail}"));
    } else if let Some(text) = body.as_str().filter(|t| !t.is_empty()) {
        out.push_str(&format!(": {}", text.chars().take(300).collect::<String>()));
    }
    for e in body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "\n  {}: {}",
            e["field"].as_str().unwrap_or("?"),
            e["message"].as_str().unwrap_or("?")
        ));
    }
    out
}

async fn send(args: &BatchArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let json = args
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let key = match std::env::var(&args.api_key_env) {
        Ok(k) if !k.trim().is_empty() => Some(k.trim().to_owned()),
        _ => None,
    };
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?,
        base: args.url.trim_end_matches('/').to_owned(),
        key,
    };
    let path = format!(
        "/api/{}/batch{}",
        args.kind.collection(),
        if args.dry_run { "?dry_run=true" } else { "" }
    );
    let mut digest = Sha256::new();
    digest.update(args.kind.collection().as_bytes());
    digest.update([0]);
    digest.update(&bytes);
    let idempotency: String = digest
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let request = client
        .request(reqwest::Method::POST, &path)
        .header(
            "content-type",
            if json {
                "application/json"
            } else {
                "text/csv; charset=utf-8"
            },
        )
        .header("Idempotency-Key", format!("batch-{idempotency}"))
        .body(bytes);
    let (status, answer) = client.json(request, "posting the batch").await?;
    if args.dry_run {
        if status != 200 {
            anyhow::bail!("{}", problem(status, &answer));
        }
        return Ok(print_dry_run(&answer));
    }
    if status != 202 {
        anyhow::bail!("{}", problem(status, &answer));
    }
    let batch_id = answer["batch_id"].as_str().unwrap_or_default().to_owned();
    let accepted = answer["accepted"].as_array().map_or(0, Vec::len);
    let rejected = answer["rejected"].as_array().cloned().unwrap_or_default();
    println!(
        "batch {batch_id}: {accepted} accepted, {} rejected",
        rejected.len()
    );
    if args.no_wait || accepted == 0 {
        print!("{}", rejected_table(&rejected));
        return Ok(exit(rejected.is_empty()));
    }

    let bar = ProgressBar::new(accepted as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} settled {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = loop {
        let (status, progress) = client
            .json(
                client.request(reqwest::Method::GET, &format!("/api/batches/{batch_id}")),
                "asking for the batch's progress",
            )
            .await?;
        if status != 200 {
            bar.abandon();
            anyhow::bail!("{}", problem(status, &progress));
        }
        let rows = progress["accepted"].as_array().cloned().unwrap_or_default();
        let settled = rows
            .iter()
            .filter(|r| !moving(r["status"].as_str().unwrap_or_default()))
            .count();
        bar.set_position(settled as u64);
        bar.set_message(counts_line(&progress["counts"]));
        if settled == rows.len() {
            bar.finish();
            break progress;
        }
        tokio::time::sleep(Duration::from_millis(args.poll_ms.max(50))).await;
    };
    Ok(print_summary(&progress, &rejected))
}

fn counts_line(counts: &Value) -> String {
    counts
        .as_object()
        .map(|c| {
            c.iter()
                .map(|(status, n)| format!("{status} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn rejected_table(rejected: &[Value]) -> String {
    let errors = batch::rejected_errors(Some(&Value::Array(rejected.to_vec())));
    if errors.is_empty() {
        return String::new();
    }
    let mut table = Table::new(["ROW", "FIELD", "PROBLEM"]);
    for e in errors {
        table.row([e.row, e.field, e.message]);
    }
    format!("\nRejected rows (nothing was started for them):\n{table}")
}

fn print_summary(progress: &Value, rejected: &[Value]) -> ExitCode {
    let rows = progress["accepted"].as_array().cloned().unwrap_or_default();
    let mut table = Table::new(["ROW", "RUN", "STATUS"]);
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        let status = r["status"].as_str().unwrap_or_default().to_owned();
        *by_status.entry(status.clone()).or_default() += 1;
        table.row([
            r["row"].to_string(),
            r["id"].as_str().unwrap_or_default().to_owned(),
            status,
        ]);
    }
    print!("\n{table}");
    print!("{}", rejected_table(rejected));
    let bad = ["failed", "not_started", "denied", "approval_timed_out"];
    let troubled: usize = bad.iter().filter_map(|s| by_status.get(*s)).sum();
    println!(
        "\n{} rows: {}; {} rejected.",
        rows.len(),
        by_status
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", "),
        rejected.len()
    );
    if by_status.contains_key("not_started") {
        println!(
            "Rows not started: run the same command again to start them (nothing else starts twice)."
        );
    }
    exit(troubled == 0 && rejected.is_empty())
}

fn print_dry_run(answer: &Value) -> ExitCode {
    let plans = answer["plans"].as_array().cloned().unwrap_or_default();
    let rejected = answer["rejected"].as_array().cloned().unwrap_or_default();
    let mut table = Table::new(["ROW", "USER", "WOULD", "WARNINGS"]);
    for p in &plans {
        let plan = &p["plan"];
        table.row([
            p["row"].to_string(),
            plan["user_principal_name"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
            batch::plan_line(plan),
            plan["warnings"].as_array().map_or(0, Vec::len).to_string(),
        ]);
    }
    println!(
        "dry run: {} rows would start, {} rejected; nothing was started.\n",
        plans.len(),
        rejected.len()
    );
    print!("{table}");
    print!("{}", rejected_table(&rejected));
    exit(rejected.is_empty())
}
