//! Contract tests: the Autotask client against the Autotask simulator over a real socket.

// A test binary: helpers outside #[test] functions may panic on failed setup too.
#![allow(clippy::unwrap_used)]

mod psa_support;

use std::sync::Arc;
use std::time::Duration;

use onboard_connectors::Error;
use onboard_connectors::psa::autotask::{Autotask, AutotaskConfig, AutotaskNoteLabels};
use onboard_connectors::psa::{NoteOutcome, Psa, TicketId};
use onboard_sandbox::autotask::{self, AtSeedTicket, AutotaskSeed, AutotaskSim};
use psa_support::{RecordingSleeper, always, http, losing_answers, new_ticket, note, serve};

const QUEUE: &str = "Service Desk";

struct Tenant {
    sim: AutotaskSim,
    origin: String,
}

async fn tenant(seed: AutotaskSeed) -> Tenant {
    let sim = AutotaskSim::new(seed).unwrap();
    let origin = serve(autotask::router(&sim)).await;
    Tenant { sim, origin }
}

fn config(tenant: &Tenant) -> AutotaskConfig {
    AutotaskConfig {
        integration_code: "ONBOARDSANDBOX".into(),
        username: "api@onboard.test".into(),
        secret: "sandbox-secret".into(),
        zone_url: None,
        discovery_url: format!("{}{}", tenant.origin, tenant.sim.zone_path()),
        notes: AutotaskNoteLabels::default(),
        page_size: 2,
    }
}

fn client(tenant: &Tenant, sleeper: Arc<RecordingSleeper>) -> Autotask {
    Autotask::new(config(tenant), http("autotask", sleeper))
}

fn seed_with_ticket() -> AutotaskSeed {
    AutotaskSeed {
        tickets: vec![AtSeedTicket {
            id: 501,
            title: "Printer on fire".into(),
            company_id: 174,
            status: "New".into(),
            priority: "Medium".into(),
            queue: QUEUE.into(),
        }],
        ..AutotaskSeed::default()
    }
}

#[tokio::test]
async fn a_ticket_is_created_in_the_named_queue_with_picklist_values_read_from_the_tenant() {
    let tenant = tenant(AutotaskSeed::default()).await;
    let at = client(&tenant, RecordingSleeper::new());

    let ticket = at
        .create_ticket(&new_ticket("onb-1", "174", QUEUE, "In Progress", "High"))
        .await
        .unwrap();

    assert_eq!(ticket.summary, "New user: Jane Doe [onb-1]");
    assert_eq!(ticket.status, "In Progress");
    assert_eq!(ticket.location, QUEUE);
    assert_eq!(ticket.company, "174");
    let stored = tenant.sim.ticket(ticket.id.numeric().unwrap()).unwrap();
    assert_eq!(stored.number("status"), Some(8));
    assert_eq!(stored.number("priority"), Some(1));
    assert_eq!(stored.number("queueID"), Some(29683481));
    assert_eq!(stored.number("companyID"), Some(174));
    assert_eq!(
        stored.text("description"),
        Some("Onboarding requested for Jane Doe.")
    );
}

#[tokio::test]
async fn creating_again_with_the_same_key_returns_the_first_ticket() {
    let tenant = tenant(AutotaskSeed::default()).await;
    let at = client(&tenant, RecordingSleeper::new());
    let request = new_ticket("onb-1", "174", QUEUE, "New", "Medium");

    let first = at.create_ticket(&request).await.unwrap();
    let second = at.create_ticket(&request).await.unwrap();

    assert_eq!(first.id, second.id);
    assert_eq!(tenant.sim.tickets().len(), 1);
}

#[tokio::test]
async fn an_existing_ticket_is_found_by_id_with_its_labels_and_a_missing_one_is_none() {
    let tenant = tenant(seed_with_ticket()).await;
    let at = client(&tenant, RecordingSleeper::new());

    let found = at.find_ticket(&TicketId::new("501")).await.unwrap();
    let missing = at.find_ticket(&TicketId::new("502")).await.unwrap();

    let found = found.unwrap();
    assert_eq!(found.summary, "Printer on fire");
    assert_eq!(
        (found.status.as_str(), found.location.as_str()),
        ("New", QUEUE)
    );
    assert_eq!(missing, None);
}

#[tokio::test]
async fn the_status_is_changed_by_name_with_a_patch_carrying_the_id() {
    let tenant = tenant(seed_with_ticket()).await;
    let at = client(&tenant, RecordingSleeper::new());
    let id = TicketId::new("501");

    at.set_status(&id, "Waiting Customer").await.unwrap();
    let waiting = tenant.sim.ticket(501).unwrap();
    at.set_status(&id, "complete").await.unwrap();
    let done = tenant.sim.ticket(501).unwrap();

    assert_eq!(waiting.number("status"), Some(7));
    assert!(waiting.fields["completedDate"].is_null());
    assert_eq!(done.number("status"), Some(5));
    assert!(done.fields["completedDate"].is_string());
    assert_eq!(done.text("title"), Some("Printer on fire"));
}

#[tokio::test]
async fn an_unknown_status_name_is_refused_with_the_valid_names_and_changes_nothing() {
    let tenant = tenant(seed_with_ticket()).await;
    let at = client(&tenant, RecordingSleeper::new());

    let err = at
        .set_status(&TicketId::new("501"), "Resolved")
        .await
        .unwrap_err();

    assert_eq!(
        err.to_string(),
        "autotask: no status named 'Resolved'; valid: New, In Progress, Waiting Customer, Complete"
    );
    assert_eq!(tenant.sim.ticket(501).unwrap().number("status"), Some(1));
}

#[tokio::test]
async fn an_unknown_queue_is_refused_before_anything_is_created() {
    let tenant = tenant(AutotaskSeed::default()).await;
    let at = client(&tenant, RecordingSleeper::new());

    let err = at
        .create_ticket(&new_ticket("onb-1", "174", "Helpdesk", "New", "Medium"))
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::UnknownName { kind: "queue", .. }),
        "{err}"
    );
    assert!(tenant.sim.tickets().is_empty());
}

#[tokio::test]
async fn a_company_that_is_not_an_autotask_id_is_a_configuration_error() {
    let tenant = tenant(AutotaskSeed::default()).await;
    let at = client(&tenant, RecordingSleeper::new());

    let err = at
        .create_ticket(&new_ticket("onb-1", "ACME", QUEUE, "New", "Medium"))
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Config { .. }), "{err}");
}

#[tokio::test]
async fn notes_use_the_note_type_and_publish_values_of_their_labels() {
    let tenant = tenant(seed_with_ticket()).await;
    let at = client(&tenant, RecordingSleeper::new());
    let id = TicketId::new("501");

    at.add_internal_note(&id, &note("create_user", "User created."))
        .await
        .unwrap();
    at.add_resolution_note(&id, &note("complete", "All done."))
        .await
        .unwrap();

    let notes = tenant.sim.notes(501);
    assert_eq!(notes.len(), 2);
    assert_eq!((notes[0].note_type, notes[0].publish), (2, 2));
    assert_eq!(notes[0].title, "Onboard: create_user");
    assert_eq!(
        notes[0].description,
        "User created.\n\n[onboard:onb-1:create_user]"
    );
    assert_eq!((notes[1].note_type, notes[1].publish), (3, 1));
}

#[tokio::test]
async fn a_retried_note_is_posted_once() {
    let tenant = tenant(seed_with_ticket()).await;
    let at = client(&tenant, RecordingSleeper::new());
    let id = TicketId::new("501");
    let groups = note("groups", "Groups added.");
    at.add_internal_note(&id, &note("license", "Licensed."))
        .await
        .unwrap();

    let first = at.add_internal_note(&id, &groups).await.unwrap();
    let retried = at.add_internal_note(&id, &groups).await.unwrap();

    assert_eq!(
        (first, retried),
        (NoteOutcome::Posted, NoteOutcome::AlreadyPosted)
    );
    assert_eq!(tenant.sim.notes(501).len(), 2);
}

#[tokio::test]
async fn query_pages_are_followed_through_next_page_url_to_the_end() {
    let tickets = (1..=5)
        .map(|n| AtSeedTicket {
            id: 600 + n,
            title: format!("Imported {n} [onb-1]"),
            company_id: 174,
            status: "New".into(),
            priority: "Medium".into(),
            queue: QUEUE.into(),
        })
        .collect();
    let tenant = tenant(AutotaskSeed {
        tickets,
        ..AutotaskSeed::default()
    })
    .await;
    let at = client(&tenant, RecordingSleeper::new());

    let found = at
        .create_ticket(&new_ticket("onb-1", "174", QUEUE, "New", "Medium"))
        .await
        .unwrap();

    // Five matches at two per page: the first page, then two nextPageUrl pages.
    assert_eq!(found.id, TicketId::new("601"));
    assert_eq!(tenant.sim.tickets().len(), 5);
    let next_pages = tenant
        .sim
        .requests()
        .iter()
        .filter(|r| r.as_str() == "GET /sandbox/autotask/atservicesrest/v1.0/Tickets/query/next")
        .count();
    assert_eq!(next_pages, 2);
}

#[tokio::test]
async fn picklists_are_read_once_and_updates_patch_the_collection_path() {
    let tenant = tenant(seed_with_ticket()).await;
    let at = client(&tenant, RecordingSleeper::new());
    let id = TicketId::new("501");

    at.set_status(&id, "In Progress").await.unwrap();
    at.set_status(&id, "Complete").await.unwrap();
    at.create_ticket(&new_ticket("onb-1", "174", QUEUE, "New", "Medium"))
        .await
        .unwrap();

    let requests = tenant.sim.requests();
    let count = |line: &str| requests.iter().filter(|r| r.as_str() == line).count();
    assert_eq!(
        count("GET /sandbox/autotask/atservicesrest/v1.0/Tickets/entityInformation/fields"),
        1
    );
    assert_eq!(
        count("PATCH /sandbox/autotask/atservicesrest/v1.0/Tickets"),
        2
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("PATCH") && r.ends_with("/501"))
    );
}

#[tokio::test]
async fn an_unknown_note_label_is_refused_with_the_tenants_labels() {
    let tenant = tenant(seed_with_ticket()).await;
    let mut cfg = config(&tenant);
    cfg.notes.internal_publish = "Technicians".into();
    let at = Autotask::new(cfg, http("autotask", RecordingSleeper::new()));

    let err = at
        .add_internal_note(&TicketId::new("501"), &note("x", "y"))
        .await
        .unwrap_err();

    assert!(
        err.to_string()
            .contains("All Autotask Users, Internal Only"),
        "{err}"
    );
    assert!(tenant.sim.notes(501).is_empty());
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_autotasks_401() {
    let tenant = tenant(seed_with_ticket()).await;
    let mut bad = config(&tenant);
    bad.secret = "wrong-secret".into();
    let at = Autotask::new(bad, http("autotask", RecordingSleeper::new()));

    let err = at.find_ticket(&TicketId::new("501")).await.unwrap_err();

    let Error::Unauthorized { message, .. } = &err else {
        panic!("expected Unauthorized, got {err:?}");
    };
    assert!(message.contains("Secret is not valid"), "{message}");
    assert!(!format!("{err:?}").contains("wrong-secret"));
}

#[tokio::test]
async fn a_tenant_that_requires_a_field_refuses_a_ticket_without_it_and_is_not_asked_twice() {
    let tenant = tenant(AutotaskSeed {
        required_fields: vec!["issueType".into()],
        ..AutotaskSeed::default()
    })
    .await;
    let sleeper = RecordingSleeper::new();
    let at = client(&tenant, sleeper.clone());
    let mut request = new_ticket("onb-1", "174", QUEUE, "New", "Medium");

    let refused = at.create_ticket(&request).await.unwrap_err();
    request
        .extra_fields
        .insert("issueType".into(), serde_json::json!(11));
    let accepted = at.create_ticket(&request).await;

    let Error::Rejected {
        status, message, ..
    } = &refused
    else {
        panic!("expected Rejected, got {refused:?}");
    };
    assert_eq!(*status, 500);
    assert_eq!(message, "Missing Required Field: issueType");
    assert!(!refused.is_transient());
    assert!(sleeper.waits().is_empty());
    let stored = tenant
        .sim
        .ticket(accepted.unwrap().id.numeric().unwrap())
        .unwrap();
    assert_eq!(stored.number("issueType"), Some(11));
}

#[tokio::test]
async fn a_429_is_waited_out_for_its_retry_after_and_the_call_succeeds() {
    let tenant = tenant(seed_with_ticket()).await;
    tenant.sim.faults().set(always(429, 5)).unwrap();
    let sleeper = RecordingSleeper::healing(tenant.sim.faults());
    let at = client(&tenant, sleeper.clone());

    let found = at.find_ticket(&TicketId::new("501")).await.unwrap();

    assert!(found.is_some());
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(5)]);
}

#[tokio::test]
async fn an_exhausted_hourly_budget_is_a_throttled_error_not_an_hour_long_wait() {
    let tenant = tenant(AutotaskSeed {
        requests_per_hour: 3,
        ..seed_with_ticket()
    })
    .await;
    let sleeper = RecordingSleeper::new();
    let at = client(&tenant, sleeper.clone());

    // Zone discovery is free; the ticket and its picklists use two of three requests.
    at.find_ticket(&TicketId::new("501")).await.unwrap();
    at.find_ticket(&TicketId::new("501")).await.unwrap();
    let err = at.find_ticket(&TicketId::new("501")).await.unwrap_err();

    let Error::Throttled { retry_after, .. } = err else {
        panic!("expected Throttled, got {err:?}");
    };
    assert!(retry_after.is_some_and(|d| d > Duration::from_secs(3000)));
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn a_500_on_a_read_is_retried_and_the_call_succeeds() {
    let tenant = tenant(seed_with_ticket()).await;
    tenant.sim.faults().set(always(500, 0)).unwrap();
    let sleeper = RecordingSleeper::healing(tenant.sim.faults());
    let at = client(&tenant, sleeper.clone());

    let found = at.find_ticket(&TicketId::new("501")).await.unwrap();

    assert!(found.is_some());
    assert_eq!(sleeper.waits().len(), 1);
}

#[tokio::test]
async fn a_500_without_autotask_errors_on_a_write_is_a_transient_failure() {
    let tenant = tenant(seed_with_ticket()).await;
    let sleeper = RecordingSleeper::new();
    let at = client(&tenant, sleeper.clone());
    let id = TicketId::new("501");
    at.find_ticket(&id).await.unwrap();
    tenant.sim.faults().set(always(500, 0)).unwrap();

    let err = at.set_status(&id, "In Progress").await.unwrap_err();

    assert!(
        matches!(err, Error::Unavailable { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(tenant.sim.ticket(501).unwrap().number("status"), Some(1));
}

#[tokio::test]
async fn a_503_on_a_write_is_retried_and_the_write_lands_once() {
    let tenant = tenant(seed_with_ticket()).await;
    let sleeper = RecordingSleeper::healing(tenant.sim.faults());
    let at = client(&tenant, sleeper.clone());
    let id = TicketId::new("501");
    at.find_ticket(&id).await.unwrap();
    tenant.sim.faults().set(always(503, 0)).unwrap();

    at.set_status(&id, "In Progress").await.unwrap();

    assert_eq!(sleeper.waits().len(), 1);
    assert_eq!(tenant.sim.ticket(501).unwrap().number("status"), Some(8));
}

#[tokio::test]
async fn a_ticket_and_a_note_whose_answers_are_lost_exist_once() {
    let tenant = tenant(AutotaskSeed::default()).await;
    let at = client(&tenant, RecordingSleeper::new());
    at.create_ticket(&new_ticket("warm-up", "174", QUEUE, "New", "Medium"))
        .await
        .unwrap(); // the zone and the picklists, before the faults
    tenant.sim.faults().set(losing_answers()).unwrap();

    let ticket = at
        .create_ticket(&new_ticket("onb-1", "174", QUEUE, "New", "Medium"))
        .await
        .unwrap();
    let outcome = at
        .add_internal_note(&ticket.id, &note("create_user", "User created."))
        .await
        .unwrap();

    assert_eq!(tenant.sim.tickets().len(), 2, "warm-up and one more");
    assert_eq!(outcome, NoteOutcome::AlreadyPosted);
    assert_eq!(tenant.sim.notes(ticket.id.numeric().unwrap()).len(), 1);
    assert_eq!(
        tenant.sim.faults().lost_answers(),
        2,
        "each write was sent once"
    );
}

#[tokio::test]
async fn the_preflight_names_a_company_autotask_does_not_have() {
    let tenant = tenant(AutotaskSeed::default()).await;
    let at = client(&tenant, RecordingSleeper::new());

    let known = at.check_company("174").await.unwrap();
    let unknown = at.check_company("9999").await.unwrap();
    let not_a_number = at.check_company("Contoso").await.unwrap();

    assert!(known.is_none(), "{known:?}");
    assert!(unknown.expect("nobody").to_string().contains("9999"));
    assert!(not_a_number.is_some());
}
