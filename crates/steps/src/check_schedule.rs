//! Step `CheckSchedule`, the head of both workflows' wait loop: re-reads the record
//! so a technician can move the date (`PATCH`) or cancel the run while it waits,
//! without a new execution, on either runtime.
//!
//! The machine waits until `wake_at`, then asks again. `wake_at` is the date itself
//! when it is near, else a slice of the time left ([`recheck_after`]): a date moved
//! earlier is honoured within that slice, and a far date costs a bounded number of
//! loops (Step Functions keeps at most 25,000 history events per execution).

use jiff::{SignedDuration, Timestamp};
use onboard_store::{RecordUpdate, Status, StoreError};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::deps::Deps;
use crate::error::StepError;

/// How long a Step Functions Standard execution may run.
const MAX_EXECUTION: SignedDuration = SignedDuration::from_hours(365 * 24);

/// Refuses a date (form field `field`) the execution could not wait for: a Standard
/// execution lasts at most a year, and the waits of `on_top` (approval, a license
/// purchase, a margin) come on top of it. `closer_to` ends the message ("the start date").
pub(crate) fn within_an_execution(
    at: Timestamp,
    on_top: SignedDuration,
    now: Timestamp,
    field: &str,
    closer_to: &str,
) -> Result<(), onboard_domain::DomainError> {
    let room = MAX_EXECUTION - on_top;
    if at > now.checked_add(room).unwrap_or(Timestamp::MAX) {
        return Err(onboard_domain::DomainError::InvalidRequest {
            errors: vec![onboard_domain::FieldError::new(
                field,
                format!(
                    "is more than {} days ahead; a run waits at most a year in all (submit it closer to {closer_to})",
                    room.as_hours() / 24
                ),
            )],
        });
    }
    Ok(())
}

/// The input of `CheckSchedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding's or offboarding's record id (`onboarding_id` or
    /// `offboarding_id` in the payload, as every other step names it).
    #[serde(alias = "onboarding_id", alias = "offboarding_id")]
    pub record_id: String,
    /// The date the execution was started for (`$.plan.start_at`, `$.plan.run_at`);
    /// the record's own date wins once a technician moved it.
    pub until: Timestamp,
}

/// What the loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// Wait until `wake_at`, then check again.
    Wait,
    /// The date has come: go on.
    Go,
    /// A technician cancelled the run: stop, change nothing.
    Cancelled,
}

/// As `$.schedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// What the loop does next.
    pub next: Next,
    /// The date the run waits for, as the record holds it now.
    pub until: Timestamp,
    /// When to check again (`Next::Wait` only; else the date itself).
    pub wake_at: Timestamp,
}

/// How long the loop waits before checking again when `left` remains:
/// a sixteenth of it, at least an hour, at most a day, never past the date.
pub fn recheck_after(left: SignedDuration) -> SignedDuration {
    let slice = left / 16;
    slice
        .clamp(
            SignedDuration::from_hours(1),
            SignedDuration::from_hours(24),
        )
        .min(left)
}

/// Reads the record: cancelled, moved, or due.
#[instrument(skip_all, fields(record_id = %input.record_id, step = "check_schedule"))]
pub async fn check_schedule(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let record = deps
        .store
        .get_record(&input.record_id)
        .await?
        .ok_or_else(|| {
            StepError::RequestRefused(format!("no run with id `{}`", input.record_id))
        })?;
    let until = match (record.status, record.waiting_until) {
        (Status::Scheduled, Some(at)) => at,
        _ => input.until,
    };
    let now = deps.clock.now();
    if record.status == Status::Cancelled {
        return Ok(Output {
            next: Next::Cancelled,
            until,
            wake_at: until,
        });
    }
    if until <= now {
        if record.status == Status::Scheduled {
            // Out of `scheduled` only if a technician's cancel did not come first:
            // the same conditional change the cancel makes, so one of them wins.
            let update = RecordUpdate {
                status: Some(Status::Running),
                expect_status: Some(Status::Scheduled),
                ..RecordUpdate::default()
            };
            match deps.store.update_record(&record.id, update, now).await {
                Ok(()) => {}
                Err(StoreError::StatusChanged { .. }) => {
                    let now_status = deps.store.get_record(&record.id).await?.map(|r| r.status);
                    if now_status == Some(Status::Cancelled) {
                        return Ok(Output {
                            next: Next::Cancelled,
                            until,
                            wake_at: until,
                        });
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(Output {
            next: Next::Go,
            until,
            wake_at: until,
        });
    }
    let wake_at = now
        .checked_add(recheck_after(until.duration_since(now)))
        .unwrap_or(until);
    Ok(Output {
        next: Next::Wait,
        until,
        wake_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_date_is_waited_for_exactly() {
        let left = SignedDuration::from_mins(30);
        assert_eq!(recheck_after(left), left);
    }

    #[test]
    fn a_far_date_is_checked_at_least_daily() {
        assert_eq!(
            recheck_after(SignedDuration::from_hours(24 * 60)),
            SignedDuration::from_hours(24)
        );
        assert_eq!(
            recheck_after(SignedDuration::from_hours(32)),
            SignedDuration::from_hours(2)
        );
        assert_eq!(
            recheck_after(SignedDuration::from_hours(3)),
            SignedDuration::from_hours(1)
        );
    }
}
