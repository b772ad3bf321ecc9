//! A technician's cancel and the wait loop's go on a run waiting for its date:
//! both change the record only while it is still `scheduled`, so exactly one wins,
//! whichever comes first. Steps called one by one, so each order is hit exactly.

use jiff::SignedDuration;
use onboard_steps::Clock;
use onboard_steps::actions::{self, ActionError};
use onboard_store::{RecordKind, Status};
use serde_json::{Value, json};

use crate::support::Env;

/// A run of `id` waiting for a start date two days away; answers the date.
async fn scheduled(env: &Env, id: &str) -> jiff::Timestamp {
    env.set_variables(&[("allow_scheduled_user_creation", "1")])
        .await;
    let start = env.clock.now() + SignedDuration::from_hours(48);
    env.submit(id, json!({"start_date": start.to_string()}))
        .await;
    let input = json!({"onboarding_id": id});
    env.ok("Validate", input.clone()).await;
    env.ok("EnsureTicket", input).await;
    env.ok(
        "MarkScheduled",
        json!({"onboarding_id": id, "start_at": start}),
    )
    .await;
    assert_eq!(env.record(id).await.status, Status::Scheduled);
    start
}

fn check(id: &str, until: jiff::Timestamp) -> Value {
    json!({"onboarding_id": id, "until": until})
}

#[tokio::test]
async fn a_cancel_after_the_date_came_is_refused_and_the_run_goes_on() {
    let env = Env::new().await;
    let start = scheduled(&env, "go-first").await;
    env.clock.advance(SignedDuration::from_hours(49));

    let go = env.ok("CheckSchedule", check("go-first", start)).await;
    let cancel = actions::cancel(
        &env.deps,
        &env.callbacks,
        RecordKind::Onboarding,
        "go-first",
        "a technician",
    )
    .await;

    assert_eq!(go["next"], "go", "{go}");
    assert!(
        matches!(&cancel, Err(ActionError::Conflict(why)) if why.contains("`running`")),
        "{cancel:?}"
    );
    assert_eq!(env.record("go-first").await.status, Status::Running);
}

#[tokio::test]
async fn a_cancel_before_the_check_stops_the_run_when_its_date_comes() {
    let env = Env::new().await;
    let start = scheduled(&env, "cancel-first").await;
    env.clock.advance(SignedDuration::from_hours(49));

    actions::cancel(
        &env.deps,
        &env.callbacks,
        RecordKind::Onboarding,
        "cancel-first",
        "a technician",
    )
    .await
    .expect("cancelled");
    let next = env.ok("CheckSchedule", check("cancel-first", start)).await;

    assert_eq!(next["next"], "cancelled", "{next}");
    assert_eq!(env.record("cancel-first").await.status, Status::Cancelled);
}
