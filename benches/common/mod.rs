//! What the HTTP benchmarks share: `onboard serve` started on a free port, and the
//! figures printed the same way.

#![allow(dead_code)] // Each bench uses what it needs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `onboard serve`, killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
}

impl Server {
    /// `onboard serve --sandbox --addr 127.0.0.1:0 --data DATA`, plus `extra` arguments.
    pub(crate) fn start(data: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_onboard"))
            .args(["serve", "--sandbox", "--addr", "127.0.0.1:0"])
            .args(extra)
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("onboard serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the first line of onboard serve");
        let base = line
            .trim()
            .trim_start_matches("onboard listening on ")
            .to_owned();
        assert!(
            base.starts_with("http://"),
            "unexpected first line {line:?}"
        );
        unthrottled(&base);
        Server { child, base }
    }
}

/// Turns the Graph simulator's quotas off: these benchmarks measure Onboard's
/// own cost, not the speed Graph allows (thousands of calls on a virtual
/// instant would spend any tenant's quota).
fn unthrottled(base: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let status = rt.block_on(async {
        reqwest::Client::new()
            .put(format!("{base}/sandbox/graph/control"))
            .json(&serde_json::json!({"throttling": {"enabled": false}}))
            .send()
            .await
            .expect("PUT /sandbox/graph/control")
            .status()
    });
    assert!(status.is_success(), "turning Graph's quotas off: {status}");
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `cargo bench` asked for another bench (`cargo bench NAME` passes the filter).
pub(crate) fn not_me(name: &str) -> bool {
    std::env::args()
        .skip(1)
        .any(|a| a != "--bench" && !a.starts_with('-') && a != name)
}

/// An environment variable as a number, or `default`.
pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank].as_secs_f64() * 1000.0
}

/// Prints `what`'s latencies: count, mean, p50, p95, p99, max.
pub(crate) fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let mean = times.iter().map(Duration::as_secs_f64).sum::<f64>() / times.len() as f64 * 1000.0;
    println!(
        "{what}: n={} mean {mean:.2} ms, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        percentile(&times, 0.50),
        percentile(&times, 0.95),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
    );
}
