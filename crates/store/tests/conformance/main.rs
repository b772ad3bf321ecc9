//! One conformance suite for every `Store` backend.
//!
//! `cases.rs` holds the behaviour both backends must share; `conformance!`
//! instantiates every case once per backend. The DynamoDB run needs a
//! DynamoDB-compatible server at `ONBOARD_TEST_DYNAMODB_URL` (scripts/test
//! installs and starts moto_server); without it those tests fail, saying how
//! to run them. Each DynamoDB test gets its own freshly created table.

#![allow(clippy::unwrap_used)]

mod backends;
mod cases;
mod dynamodb_only;
mod sqlite_only;

/// Instantiates every case of `cases` for one backend fixture.
macro_rules! conformance {
    ($backend:ident: $($case:ident),+ $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() -> anyhow::Result<()> {
                    let fixture = crate::backends::$backend().await?;
                    crate::cases::$case(fixture.store.clone()).await
                }
            )+
        }
    };
}

/// The list of cases, written once.
macro_rules! all_cases {
    ($backend:ident) => {
        conformance!($backend:
            a_record_round_trips_every_field,
            creating_a_record_twice_is_refused_and_changes_nothing,
            changing_an_unknown_record_is_not_found_and_writes_nothing,
            a_change_expecting_another_status_writes_nothing,
            the_timeline_keeps_events_in_time_order_and_touches_the_record,
            concurrent_events_on_one_record_are_all_kept,
            records_are_listed_across_pages_by_organization,
            records_are_listed_across_pages_by_status,
            a_status_change_moves_a_record_between_status_listings,
            a_cursor_from_another_listing_is_refused,
            recent_records_are_listed_newest_first_across_pages_and_filters,
            a_recent_cursor_from_another_listing_is_refused,
            waiting_until_is_kept_until_changed,
            thirty_two_concurrent_deciders_have_exactly_one_winner,
            a_decision_past_its_expiry_is_not_decided_until_expired,
            a_decision_outcome_must_fit_its_kind,
            unknown_decisions_and_records_are_reported,
            pending_decisions_are_listed_by_organization_across_pages,
            the_task_token_comes_back_only_to_the_winner_and_never_in_debug,
            an_idempotency_key_written_twice_returns_the_first_result,
            concurrent_step_results_agree_on_one_value,
            a_lease_is_held_by_one_holder_until_released,
            a_lease_past_its_expiry_can_be_taken_by_another,
            thirty_two_concurrent_lease_takers_have_exactly_one_winner,
            a_session_lives_until_it_expires_or_is_ended,
            reservations_are_counted_per_pool_until_released_or_expired,
            variables_are_kept_per_scope_and_replaced_whole,
            connector_settings_round_trip_with_secret_references,
            templates_are_kept_per_scope_by_name,
            one_connector_is_listed_across_scopes_msp_first,
        );
    };
}

all_cases!(sqlite);
all_cases!(dynamodb);
