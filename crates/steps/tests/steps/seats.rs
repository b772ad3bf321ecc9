//! Seats spoken for: a seat bought for one onboarding is not taken by the next
//! one that asks for the same SKU, and a purchase buys only what is still
//! needed when it runs. Steps called one by one, so each window is hit exactly.

use jiff::SignedDuration;
use onboard_steps::StepError;
use serde_json::{Value, json};

use crate::support::{Env, TENANT};

fn first_pass(id: &str) -> Value {
    json!({"onboarding_id": id, "after_purchase": false})
}

fn after_purchase(id: &str) -> Value {
    json!({"onboarding_id": id, "after_purchase": true})
}

fn id(id: &str) -> Value {
    json!({"onboarding_id": id})
}

/// Free SPB seats in the simulated tenant.
fn free_spb(env: &Env) -> i64 {
    env.graph.state().free_seats(TENANT, "SPB").unwrap()
}

/// SPB seats of every live Pax8 subscription.
fn spb_bought(env: &Env) -> u32 {
    env.pax8.subscriptions().iter().map(|s| s.quantity).sum()
}

/// Submits `id` for SPB, by Pax8, through CreateUser.
async fn wants_spb(env: &Env, id: &str, first: &str) {
    env.submit(
        id,
        json!({"first_name": first, "last_name": "Seat", "licenses": ["SPB"]}),
    )
    .await;
    env.through_create_user(id).await;
}

/// Moves the clock past Pax8's provisioning delay and lets the seats arrive.
fn seats_arrive(env: &Env) {
    env.clock.advance(SignedDuration::from_mins(5));
    env.pax8.provision_due();
}

#[tokio::test]
async fn a_seat_bought_for_one_onboarding_is_not_taken_by_the_next_one() {
    let env = Env::new().await;
    env.set_variables(&[("microsoft_licensing_distributor", "pax8")])
        .await;
    assert_eq!(free_spb(&env), 0);
    let bought_before = spb_bought(&env);

    wants_spb(&env, "ob-s1", "Anna").await;
    let license = env.ok("AssignLicense", first_pass("ob-s1")).await;
    assert_eq!(license["next"], "auto_purchase");
    let waiting = env.run("PurchaseLicense", id("ob-s1")).await;
    assert!(
        matches!(waiting, Err(StepError::SeatsPending(_))),
        "{waiting:?}"
    );
    seats_arrive(&env);
    env.ok("PurchaseLicense", id("ob-s1")).await;
    assert_eq!(
        free_spb(&env),
        1,
        "ob-s1's seat is in the tenant, not yet assigned"
    );

    // The next onboarding sees that seat free in Graph; it is ob-s1's.
    wants_spb(&env, "ob-s2", "Bruno").await;
    let license = env.ok("AssignLicense", first_pass("ob-s2")).await;
    assert_eq!(license["next"], "auto_purchase", "{license}");
    assert_eq!(license["assigned"], json!([]));

    let license = env.ok("AssignLicense", after_purchase("ob-s1")).await;
    assert_eq!(license["assigned"], json!(["SPB"]));

    let waiting = env.run("PurchaseLicense", id("ob-s2")).await;
    assert!(
        matches!(waiting, Err(StepError::SeatsPending(_))),
        "{waiting:?}"
    );
    seats_arrive(&env);
    env.ok("PurchaseLicense", id("ob-s2")).await;
    let license = env.ok("AssignLicense", after_purchase("ob-s2")).await;
    assert_eq!(license["assigned"], json!(["SPB"]));

    assert_eq!(
        spb_bought(&env) - bought_before,
        2,
        "one seat bought for each user"
    );
    assert_eq!(free_spb(&env), 0);

    // Both assigned: nothing is spoken for any more, so a seat that comes
    // free is anyone's.
    env.graph.state().add_seats(TENANT, "SPB", 1).unwrap();
    wants_spb(&env, "ob-s3", "Carla").await;
    let license = env.ok("AssignLicense", first_pass("ob-s3")).await;
    assert_eq!(license["next"], "done", "{license}");
    assert_eq!(license["assigned"], json!(["SPB"]));
}

#[tokio::test]
async fn a_seat_that_came_free_before_the_purchase_is_used_not_bought() {
    let env = Env::new().await;
    env.set_variables(&[("microsoft_licensing_distributor", "pax8")])
        .await;
    wants_spb(&env, "ob-s4", "Dora").await;
    let license = env.ok("AssignLicense", first_pass("ob-s4")).await;
    assert_eq!(license["next"], "auto_purchase");

    // Between the decision and the purchase, a seat comes free.
    env.graph.state().add_seats(TENANT, "SPB", 1).unwrap();
    assert_eq!(free_spb(&env), 1);
    let purchase = env.ok("PurchaseLicense", id("ob-s4")).await;
    assert_eq!(purchase["purchased"], json!(["SPB"]));
    assert!(env.pax8.orders().is_empty(), "nothing ordered");
    assert!(
        env.pax8.subscriptions().is_empty(),
        "no subscription raised"
    );
    // A retry (its answer lost, say) buys nothing either.
    env.ok("PurchaseLicense", id("ob-s4")).await;
    assert!(env.pax8.orders().is_empty());
    let license = env.ok("AssignLicense", after_purchase("ob-s4")).await;
    assert_eq!(license["assigned"], json!(["SPB"]));
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.contains("came free in the tenant before Onboard bought one")),
        "{:?}",
        env.note_texts()
    );
}

#[tokio::test]
async fn a_run_that_gives_up_on_its_seat_leaves_it_to_the_others() {
    let env = Env::new().await;
    env.set_variables(&[("microsoft_licensing_distributor", "pax8")])
        .await;
    wants_spb(&env, "ob-s5", "Eva").await;
    let license = env.ok("AssignLicense", first_pass("ob-s5")).await;
    assert_eq!(license["next"], "auto_purchase");
    env.graph.state().add_seats(TENANT, "SPB", 1).unwrap();

    // ob-s5 fails for good before assigning; its place goes with it.
    env.ok(
        "HandleFailure",
        json!({"onboarding_id": "ob-s5", "step": "purchase_license",
               "failure": {"Error": "Distributor.Denied", "Cause": "refused"}}),
    )
    .await;
    wants_spb(&env, "ob-s6", "Fabio").await;
    let license = env.ok("AssignLicense", first_pass("ob-s6")).await;
    assert_eq!(license["next"], "done", "{license}");
    assert_eq!(license["assigned"], json!(["SPB"]));
}
