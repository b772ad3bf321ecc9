//! Wait: parks the run until a time; the timer is data in the record, not a sleep.
//!
//! "SecondsPath ... must select a non-negative integer"; "Timestamp ... must conform to
//! the RFC3339 profile of ISO 8601, with the further restrictions that an uppercase T
//! must separate the date and time portions, and an uppercase Z must denote that a
//! numeric time zone offset is not present".

use crate::choice::parse_timestamp;
use crate::definition::{Kind, State, WaitFor};
use crate::engine::Exec;
use crate::error::Failure;
use crate::execution::{Step, Wake};
use crate::pipeline;
use jiff::SignedDuration;
use serde_json::Value;

pub(crate) fn enter<'a>(
    x: &mut Exec<'a>,
    run: u32,
    state: &'a State,
    raw: &Value,
) -> Result<(), Failure> {
    let Kind::Wait(w) = &state.kind else {
        return Ok(());
    };
    let effective = super::effective_input(state, raw)?;
    let jsonata_until = match &state.jsonata {
        Some(j) => {
            let b = super::jsonata_bindings(x, run, raw, None, None, None);
            let until = if let Some(t) = &j.seconds {
                let n = super::jsonata_u64(t, &b, "Seconds")?;
                Some(
                    x.now
                        .checked_add(SignedDuration::from_secs(
                            i64::try_from(n).unwrap_or(i64::MAX),
                        ))
                        .unwrap_or(x.now),
                )
            } else if let Some(t) = &j.timestamp {
                let v = t.eval(&b, "Timestamp")?;
                Some(crate::jsonata::expect(
                    v,
                    "Timestamp",
                    "an RFC 3339 timestamp",
                    |v| v.as_str().and_then(parse_timestamp),
                )?)
            } else {
                None
            };
            let output = match &j.output {
                Some(t) => t.eval(&b, "Output")?,
                None => raw.clone(),
            };
            super::jsonata_assign(x, run, j.assign.as_ref(), &b)?;
            Some((until, output))
        }
        None => None,
    };
    let seconds = |n: u64| {
        x.now
            .checked_add(SignedDuration::from_secs(
                i64::try_from(n).unwrap_or(i64::MAX),
            ))
            .unwrap_or(x.now)
    };
    let until = match w {
        _ if jsonata_until.as_ref().is_some_and(|(u, _)| u.is_some()) => jsonata_until
            .as_ref()
            .and_then(|(u, _)| *u)
            .unwrap_or(x.now),
        WaitFor::Seconds(n) => seconds(*n),
        WaitFor::Timestamp(t) => *t,
        WaitFor::SecondsPath(p) => {
            let v = x.select(run, p, &effective).ok_or_else(|| {
                Failure::runtime(format!(
                    "Invalid path '{p}': the SecondsPath could not be found in the input"
                ))
            })?;
            let n = v.as_u64().ok_or_else(|| {
                Failure::runtime(format!(
                    "The SecondsPath '{p}' must select a non-negative integer, got {v}"
                ))
            })?;
            seconds(n)
        }
        WaitFor::TimestampPath(p) => {
            let v = x.select(run, p, &effective).ok_or_else(|| {
                Failure::runtime(format!(
                    "Invalid path '{p}': the TimestampPath could not be found in the input"
                ))
            })?;
            v.as_str().and_then(parse_timestamp).ok_or_else(|| {
                Failure::runtime(format!(
                    "The TimestampPath '{p}' must select an RFC 3339 timestamp, got {v}"
                ))
            })?
        }
    };
    let output = match jsonata_until {
        Some((_, output)) => output,
        None => {
            let output =
                pipeline::select_path(state.output_path.as_ref(), &effective, "OutputPath")?;
            // Assign's `$` is the effective input; the values are set as the Wait begins
            // (nothing in this scope runs while it waits).
            x.assign(run, state.assign.as_ref(), &effective)?;
            output
        }
    };
    if until <= x.now {
        x.leave(run, state, output);
    } else {
        x.set_step(
            run,
            Step::Sleeping {
                until,
                then: Wake::WaitOver(output),
            },
        );
    }
    Ok(())
}
