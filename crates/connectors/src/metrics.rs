//! What the connectors and the steps did, counted for the process: calls,
//! errors, throttled answers, resends, lost answers recovered and latency per
//! connector; runs, errors and duration per step.
//!
//! `onboard serve` shows them on `/metrics` in the Prometheus text format
//! ([`prometheus_text`]); the Lambdas log each invocation's share as CloudWatch
//! embedded-metric JSON ([`emf_lines`]). Hand-written rather than through a
//! metrics crate: both views need every series read back per invocation, which
//! the registries on crates.io do not expose.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value, json};

/// One connector's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConnectorStats {
    /// Logical calls (a call and its resends count once).
    pub calls: u64,
    /// Calls that ended in an error.
    pub errors: u64,
    /// 429 answers seen.
    pub throttled: u64,
    /// Requests sent again after a transient answer or no answer.
    pub retries: u64,
    /// Writes whose answer was lost and that were found applied, not resent.
    pub lost_answers_recovered: u64,
    /// Time spent in calls, resends and waits included, in seconds.
    pub latency_seconds: f64,
}

/// One step's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepStats {
    /// Runs.
    pub runs: u64,
    /// Runs that ended in an error.
    pub errors: u64,
    /// Time spent, in seconds.
    pub duration_seconds: f64,
}

/// Everything counted so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// By connector (`graph`, `connectwise`, ...).
    pub connectors: BTreeMap<String, ConnectorStats>,
    /// By step (`create_user`, ...).
    pub steps: BTreeMap<String, StepStats>,
}

static REGISTRY: Mutex<Option<Snapshot>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Snapshot) -> T) -> T {
    let mut guard = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    f(guard.get_or_insert_with(Snapshot::default))
}

fn connector(service: &str, f: impl FnOnce(&mut ConnectorStats)) {
    with(|s| f(s.connectors.entry(service.to_owned()).or_default()));
}

/// A finished call of `service`: how long it took and whether it failed.
pub(crate) fn call(service: &str, took: Duration, failed: bool) {
    connector(service, |c| {
        c.calls += 1;
        c.errors += u64::from(failed);
        c.latency_seconds += took.as_secs_f64();
    });
}

/// A 429 answer from `service`.
pub(crate) fn throttled(service: &str) {
    connector(service, |c| c.throttled += 1);
}

/// A request to `service` about to be sent again.
pub(crate) fn retry(service: &str) {
    connector(service, |c| c.retries += 1);
}

/// A write to `service` whose answer was lost, found applied.
pub(crate) fn lost_answer_recovered(service: &str) {
    connector(service, |c| c.lost_answers_recovered += 1);
}

/// A finished run of `step`.
pub fn step(step: &str, took: Duration, failed: bool) {
    with(|s| {
        let st = s.steps.entry(step.to_owned()).or_default();
        st.runs += 1;
        st.errors += u64::from(failed);
        st.duration_seconds += took.as_secs_f64();
    });
}

/// Everything counted so far in this process.
pub fn snapshot() -> Snapshot {
    with(|s| s.clone())
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The counts in the Prometheus text exposition format (version 0.0.4).
pub fn prometheus_text(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    let mut family =
        |name: &str, kind: &str, help: &str, label: &str, values: Vec<(&String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (key, value) in values {
                out.push_str(&format!("{name}{{{label}=\"{}\"}} {value}\n", escape(key)));
            }
        };
    let c = &snapshot.connectors;
    let per = |f: fn(&ConnectorStats) -> String| c.iter().map(|(k, v)| (k, f(v))).collect();
    family(
        "onboard_connector_calls_total",
        "counter",
        "Calls to an external service (resends count once).",
        "service",
        per(|s| s.calls.to_string()),
    );
    family(
        "onboard_connector_errors_total",
        "counter",
        "Calls that ended in an error.",
        "service",
        per(|s| s.errors.to_string()),
    );
    family(
        "onboard_connector_throttled_total",
        "counter",
        "429 answers received.",
        "service",
        per(|s| s.throttled.to_string()),
    );
    family(
        "onboard_connector_retries_total",
        "counter",
        "Requests sent again after a transient answer or none.",
        "service",
        per(|s| s.retries.to_string()),
    );
    family(
        "onboard_connector_lost_answers_recovered_total",
        "counter",
        "Writes whose answer was lost, found applied instead of resent.",
        "service",
        per(|s| s.lost_answers_recovered.to_string()),
    );
    family(
        "onboard_connector_latency_seconds_sum",
        "counter",
        "Time spent in calls, waits included.",
        "service",
        per(|s| s.latency_seconds.to_string()),
    );
    let st = &snapshot.steps;
    let per = |f: fn(&StepStats) -> String| st.iter().map(|(k, v)| (k, f(v))).collect();
    family(
        "onboard_step_runs_total",
        "counter",
        "Runs of a workflow step.",
        "step",
        per(|s| s.runs.to_string()),
    );
    family(
        "onboard_step_errors_total",
        "counter",
        "Runs of a step that ended in an error.",
        "step",
        per(|s| s.errors.to_string()),
    );
    family(
        "onboard_step_duration_seconds_sum",
        "counter",
        "Time spent in a step.",
        "step",
        per(|s| s.duration_seconds.to_string()),
    );
    out
}

/// What changed from `before` to `after`, as CloudWatch embedded-metric-format
/// log lines (namespace `Onboard`): one per connector and step that did something.
pub fn emf_lines(before: &Snapshot, after: &Snapshot, at_millis: i64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = |dimension: &str, key: &str, values: Vec<(&str, &str, f64)>| {
        let mut object = Map::new();
        object.insert(
            "_aws".into(),
            json!({
                "Timestamp": at_millis,
                "CloudWatchMetrics": [{
                    "Namespace": "Onboard",
                    "Dimensions": [[dimension]],
                    "Metrics": values.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
                }],
            }),
        );
        object.insert(dimension.into(), Value::String(key.to_owned()));
        for (name, _, value) in values {
            object.insert(name.into(), json!(value));
        }
        lines.push(Value::Object(object).to_string());
    };
    for (service, now) in &after.connectors {
        let was = before.connectors.get(service).copied().unwrap_or_default();
        if now.calls == was.calls {
            continue;
        }
        let d = |a: u64, b: u64| a.saturating_sub(b) as f64;
        line(
            "Service",
            service,
            vec![
                ("Calls", "Count", d(now.calls, was.calls)),
                ("Errors", "Count", d(now.errors, was.errors)),
                ("Throttled", "Count", d(now.throttled, was.throttled)),
                ("Retries", "Count", d(now.retries, was.retries)),
                (
                    "LostAnswersRecovered",
                    "Count",
                    d(now.lost_answers_recovered, was.lost_answers_recovered),
                ),
                (
                    "Latency",
                    "Seconds",
                    now.latency_seconds - was.latency_seconds,
                ),
            ],
        );
    }
    for (step, now) in &after.steps {
        let was = before.steps.get(step).copied().unwrap_or_default();
        if now.runs == was.runs {
            continue;
        }
        line(
            "Step",
            step,
            vec![
                ("Runs", "Count", now.runs.saturating_sub(was.runs) as f64),
                (
                    "Errors",
                    "Count",
                    now.errors.saturating_sub(was.errors) as f64,
                ),
                (
                    "Duration",
                    "Seconds",
                    now.duration_seconds - was.duration_seconds,
                ),
            ],
        );
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_a_series_per_service_and_step() {
        let mut s = Snapshot::default();
        s.connectors.insert(
            "graph".into(),
            ConnectorStats {
                calls: 3,
                errors: 1,
                throttled: 2,
                retries: 2,
                lost_answers_recovered: 1,
                latency_seconds: 0.5,
            },
        );
        s.steps.insert(
            "create_user".into(),
            StepStats {
                runs: 2,
                errors: 1,
                duration_seconds: 1.25,
            },
        );
        let text = prometheus_text(&s);
        assert!(
            text.contains("# TYPE onboard_connector_calls_total counter\n"),
            "{text}"
        );
        assert!(text.contains("onboard_connector_calls_total{service=\"graph\"} 3\n"));
        assert!(
            text.contains("onboard_connector_lost_answers_recovered_total{service=\"graph\"} 1\n")
        );
        assert!(text.contains("onboard_step_errors_total{step=\"create_user\"} 1\n"));
        assert!(text.contains("onboard_step_duration_seconds_sum{step=\"create_user\"} 1.25\n"));
    }

    #[test]
    fn an_invocation_logs_only_what_it_changed_in_the_embedded_metric_format() {
        let mut before = Snapshot::default();
        before.connectors.insert(
            "graph".into(),
            ConnectorStats {
                calls: 5,
                ..ConnectorStats::default()
            },
        );
        before
            .connectors
            .insert("pax8".into(), ConnectorStats::default());
        let mut after = before.clone();
        if let Some(g) = after.connectors.get_mut("graph") {
            g.calls = 7;
            g.throttled = 1;
        }
        after.steps.insert(
            "create_user".into(),
            StepStats {
                runs: 1,
                errors: 0,
                duration_seconds: 0.2,
            },
        );

        let lines = emf_lines(&before, &after, 1_795_597_200_000);

        assert_eq!(lines.len(), 2, "{lines:?}");
        let graph: Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!(graph["Service"], "graph");
        assert_eq!(graph["Calls"], 2.0);
        assert_eq!(graph["Throttled"], 1.0);
        assert_eq!(
            graph["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Onboard"
        );
        assert_eq!(
            graph["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Service"]])
        );
        let step: Value = serde_json::from_str(&lines[1]).expect("json");
        assert_eq!(step["Step"], "create_user");
        assert_eq!(step["Runs"], 1.0);
    }
}
