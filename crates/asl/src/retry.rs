//! Retry and Catch as pure functions: which retrier or catcher matches an error, and how
//! long to back off.
//!
//! "When a state reports an error, the interpreter scans through the Retriers and, when
//! the Error Name appears in the value of a Retrier's ErrorEquals field, implements the
//! retry policy described in that Retrier." "The reserved name States.ALL ... is a
//! wildcard and matches any Error Name." AWS adds: States.ALL cannot catch
//! `States.DataLimitExceeded` or `States.Runtime`, and `States.TaskFailed` "acts as a
//! wildcard that matches any known error name except for States.Timeout".

use crate::error::names;
use serde::{Deserialize, Serialize};

/// One entry of `Retry`.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `IntervalSeconds` (default 1).
    pub interval_seconds: u64,
    /// `MaxAttempts` (default 3; 0 never retries).
    pub max_attempts: u64,
    /// `BackoffRate` (default 2.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds`.
    pub max_delay_seconds: Option<u64>,
    /// `JitterStrategy`.
    pub jitter: Jitter,
}

/// `JitterStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Jitter {
    /// `NONE` (default).
    None,
    /// `FULL`: a random delay between 0 and the computed interval.
    Full,
}

/// One entry of `Catch`.
#[derive(Debug, Clone)]
pub struct Catcher {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `Next`.
    pub next: String,
    /// `ResultPath` (default `$`; `None` when null).
    pub result_path: Option<crate::json_path::JsonPath>,
    /// `Assign`, evaluated against the error output when this catcher is taken.
    pub assign: Option<crate::payload::Template>,
}

/// Whether the name in `ErrorEquals` matches the error that occurred.
pub fn matches(pattern: &str, error: &str) -> bool {
    if error == names::RUNTIME || error == names::DATA_LIMIT_EXCEEDED {
        return pattern == error;
    }
    if pattern == error {
        return true;
    }
    match pattern {
        names::ALL => true,
        // "States.TaskFailed ... matches any known error name except for States.Timeout."
        names::TASK_FAILED => error != names::TIMEOUT && error != names::HEARTBEAT_TIMEOUT,
        // A heartbeat timeout is a timeout; States.HeartbeatTimeout only narrows it.
        names::TIMEOUT => error == names::HEARTBEAT_TIMEOUT,
        _ => false,
    }
}

fn list_matches(list: &[String], error: &str) -> bool {
    list.iter().any(|p| matches(p, error))
}

/// What to do about an error given the retriers and the attempts already made per retrier.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryDecision {
    /// Wait this many milliseconds, then run the state again; `retrier` is the index whose
    /// counter was used.
    Retry {
        /// Index of the matching retrier.
        retrier: usize,
        /// Delay before the next attempt, in milliseconds.
        delay_ms: u64,
    },
    /// No retrier matches, or the matching one is exhausted: go to Catch.
    GiveUp,
}

/// Decides whether to retry. `attempts[i]` counts retries already made under retrier `i`.
/// "The interpreter ... uses the first Retrier whose ErrorEquals matches"; once that
/// retrier's MaxAttempts is spent, the error goes to the catchers. `unit` is a random
/// number in [0, 1) used by `JitterStrategy: FULL`.
pub fn decide(retriers: &[Retrier], attempts: &[u64], error: &str, unit: f64) -> RetryDecision {
    let Some((i, r)) = retriers
        .iter()
        .enumerate()
        .find(|(_, r)| list_matches(&r.error_equals, error))
    else {
        return RetryDecision::GiveUp;
    };
    let done = attempts.get(i).copied().unwrap_or(0);
    if done >= r.max_attempts {
        return RetryDecision::GiveUp;
    }
    // "BackoffRate: the multiplier by which the retry interval increases during each attempt."
    let exp = i32::try_from(done).unwrap_or(i32::MAX);
    let mut secs = r.interval_seconds as f64 * r.backoff_rate.powi(exp);
    if let Some(max) = r.max_delay_seconds {
        secs = secs.min(max as f64);
    }
    if r.jitter == Jitter::Full {
        secs *= unit.clamp(0.0, 1.0);
    }
    let ms = (secs * 1000.0).clamp(0.0, 1.0e15) as u64;
    RetryDecision::Retry {
        retrier: i,
        delay_ms: ms,
    }
}

/// The first catcher whose `ErrorEquals` matches, if any.
pub fn find_catcher<'a>(catchers: &'a [Catcher], error: &str) -> Option<&'a Catcher> {
    catchers
        .iter()
        .find(|c| list_matches(&c.error_equals, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(names: &[&str], max: u64) -> Retrier {
        Retrier {
            error_equals: names.iter().map(|s| s.to_string()).collect(),
            interval_seconds: 1,
            max_attempts: max,
            backoff_rate: 2.0,
            max_delay_seconds: None,
            jitter: Jitter::None,
        }
    }

    #[test]
    fn task_failed_does_not_match_timeout() {
        assert!(matches("States.TaskFailed", "Lambda.Unknown"));
        assert!(!matches("States.TaskFailed", "States.Timeout"));
        assert!(matches("States.ALL", "States.Timeout"));
        assert!(!matches("States.ALL", "States.Runtime"));
        assert!(!matches("States.ALL", "States.DataLimitExceeded"));
        assert!(matches("States.Timeout", "States.HeartbeatTimeout"));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut x = r(&["E"], 5);
        x.max_delay_seconds = Some(3);
        assert_eq!(
            decide(&[x.clone()], &[0], "E", 0.5),
            RetryDecision::Retry {
                retrier: 0,
                delay_ms: 1000
            }
        );
        assert_eq!(
            decide(&[x.clone()], &[1], "E", 0.5),
            RetryDecision::Retry {
                retrier: 0,
                delay_ms: 2000
            }
        );
        assert_eq!(
            decide(&[x.clone()], &[2], "E", 0.5),
            RetryDecision::Retry {
                retrier: 0,
                delay_ms: 3000
            }
        );
        assert_eq!(decide(&[x], &[5], "E", 0.5), RetryDecision::GiveUp);
    }

    #[test]
    fn first_matching_retrier_wins_even_when_exhausted() {
        let rs = [r(&["E"], 0), r(&["States.ALL"], 3)];
        assert_eq!(decide(&rs, &[0, 0], "E", 0.0), RetryDecision::GiveUp);
        assert_eq!(
            decide(&rs, &[0, 0], "F", 0.0),
            RetryDecision::Retry {
                retrier: 1,
                delay_ms: 1000
            }
        );
    }
}
