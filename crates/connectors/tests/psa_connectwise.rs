//! Contract tests: the ConnectWise client against the ConnectWise simulator over a real socket.

// A test binary: helpers outside #[test] functions may panic on failed setup too.
#![allow(clippy::unwrap_used)]

mod psa_support;

use std::sync::Arc;
use std::time::Duration;

use onboard_connectors::Error;
use onboard_connectors::psa::connectwise::{ConnectWise, ConnectWiseConfig};
use onboard_connectors::psa::{NoteOutcome, Psa, TicketId};
use onboard_sandbox::connectwise::{self, ConnectWiseSeed, ConnectWiseSim, CwSeedTicket};
use psa_support::{RecordingSleeper, always, http, losing_answers, new_ticket, note, serve};

const BOARD: &str = "Service Desk";
const PRIORITY: &str = "Priority 3 - Normal Response";

struct Site {
    sim: ConnectWiseSim,
    base: String,
}

async fn site(seed: ConnectWiseSeed) -> Site {
    let sim = ConnectWiseSim::new(seed).unwrap();
    let origin = serve(connectwise::router(&sim)).await;
    let base = format!("{origin}{}", sim.base_path());
    Site { sim, base }
}

fn config(base: &str) -> ConnectWiseConfig {
    ConnectWiseConfig {
        base_url: base.to_owned(),
        company_id: "onboard".into(),
        public_key: "sandbox-public".into(),
        private_key: "sandbox-private".into(),
        client_id: "onboard-sandbox".into(),
        page_size: 2,
    }
}

fn client(site: &Site, sleeper: Arc<RecordingSleeper>) -> ConnectWise {
    ConnectWise::new(config(&site.base), http("connectwise", sleeper))
}

fn seed_with_ticket() -> ConnectWiseSeed {
    ConnectWiseSeed {
        tickets: vec![CwSeedTicket {
            id: 77,
            summary: "Printer on fire".into(),
            company: "ACME".into(),
            board: BOARD.into(),
            status: "New".into(),
            priority: PRIORITY.into(),
        }],
        ..ConnectWiseSeed::default()
    }
}

#[tokio::test]
async fn a_ticket_is_created_on_the_named_board_with_status_priority_and_company() {
    let site = site(ConnectWiseSeed::default()).await;
    let cw = client(&site, RecordingSleeper::new());

    let ticket = cw
        .create_ticket(&new_ticket("onb-1", "ACME", BOARD, "In Progress", PRIORITY))
        .await
        .unwrap();

    assert_eq!(ticket.summary, "New user: Jane Doe");
    assert_eq!(ticket.status, "In Progress");
    assert_eq!(ticket.location, BOARD);
    assert_eq!(ticket.company, "ACME");
    let stored = site.sim.ticket(ticket.id.numeric().unwrap()).unwrap();
    assert_eq!(stored.board.id, 1);
    assert_eq!(stored.status.id, 17);
    assert_eq!(stored.priority.id, 3);
    assert_eq!(stored.company.id, 250);
    assert_eq!(stored.external_x_ref.as_deref(), Some("onb-1"));
    assert_eq!(
        stored.initial_description.as_deref(),
        Some("Onboarding requested for Jane Doe.")
    );
}

#[tokio::test]
async fn creating_again_with_the_same_key_returns_the_first_ticket() {
    let site = site(ConnectWiseSeed::default()).await;
    let cw = client(&site, RecordingSleeper::new());
    let request = new_ticket("onb-1", "ACME", BOARD, "New", PRIORITY);

    let first = cw.create_ticket(&request).await.unwrap();
    let second = cw.create_ticket(&request).await.unwrap();

    assert_eq!(first.id, second.id);
    assert_eq!(site.sim.tickets().len(), 1);
}

#[tokio::test]
async fn an_existing_ticket_is_found_by_id_and_a_missing_one_is_none() {
    let site = site(seed_with_ticket()).await;
    let cw = client(&site, RecordingSleeper::new());

    let found = cw.find_ticket(&TicketId::new("77")).await.unwrap();
    let missing = cw.find_ticket(&TicketId::new("78")).await.unwrap();
    let not_a_number = cw.find_ticket(&TicketId::new("abc")).await.unwrap();

    let found = found.unwrap();
    assert_eq!(found.summary, "Printer on fire");
    assert_eq!(found.status, "New");
    assert_eq!(missing, None);
    assert_eq!(not_a_number, None);
}

#[tokio::test]
async fn the_status_is_changed_by_name_with_a_json_patch() {
    let site = site(seed_with_ticket()).await;
    let cw = client(&site, RecordingSleeper::new());
    let id = TicketId::new("77");

    cw.set_status(&id, "waiting customer").await.unwrap();
    let waiting = site.sim.ticket(77).unwrap();
    cw.set_status(&id, "Completed").await.unwrap();
    let done = site.sim.ticket(77).unwrap();

    assert_eq!(waiting.status.name, "Waiting Customer");
    assert!(!waiting.closed);
    assert_eq!(done.status.id, 19);
    assert!(done.closed);
}

#[tokio::test]
async fn an_unknown_status_name_is_refused_with_the_valid_names_and_changes_nothing() {
    let site = site(seed_with_ticket()).await;
    let cw = client(&site, RecordingSleeper::new());

    let err = cw
        .set_status(&TicketId::new("77"), "Resolved")
        .await
        .unwrap_err();

    let Error::UnknownName {
        kind, name, valid, ..
    } = &err
    else {
        panic!("expected UnknownName, got {err:?}");
    };
    assert_eq!((*kind, name.as_str()), ("status", "Resolved"));
    assert_eq!(
        valid,
        &["New", "In Progress", "Waiting Customer", "Completed"]
    );
    assert_eq!(site.sim.ticket(77).unwrap().status.name, "New");
}

#[tokio::test]
async fn an_unknown_board_or_priority_name_is_refused_before_anything_is_created() {
    let site = site(ConnectWiseSeed::default()).await;
    let cw = client(&site, RecordingSleeper::new());

    let board = cw
        .create_ticket(&new_ticket("onb-1", "ACME", "Helpdesk", "New", PRIORITY))
        .await
        .unwrap_err();
    let priority = cw
        .create_ticket(&new_ticket("onb-1", "ACME", BOARD, "New", "Urgent"))
        .await
        .unwrap_err();

    assert!(
        matches!(board, Error::UnknownName { kind: "board", .. }),
        "{board}"
    );
    assert!(
        board.to_string().contains("Service Desk, Projects"),
        "{board}"
    );
    assert!(
        matches!(
            priority,
            Error::UnknownName {
                kind: "priority",
                ..
            }
        ),
        "{priority}"
    );
    assert!(site.sim.tickets().is_empty());
}

#[tokio::test]
async fn internal_and_resolution_notes_carry_connectwises_flags() {
    let site = site(seed_with_ticket()).await;
    let cw = client(&site, RecordingSleeper::new());
    let id = TicketId::new("77");

    let internal = cw
        .add_internal_note(&id, &note("create_user", "User jane@acme.test created."))
        .await
        .unwrap();
    let resolution = cw
        .add_resolution_note(&id, &note("complete", "Onboarding complete."))
        .await
        .unwrap();

    assert_eq!(
        (internal, resolution),
        (NoteOutcome::Posted, NoteOutcome::Posted)
    );
    let notes = site.sim.notes(77);
    assert_eq!(notes.len(), 2);
    assert!(notes[0].internal_analysis_flag && !notes[0].resolution_flag);
    assert!(!notes[0].detail_description_flag);
    assert!(notes[0].text.starts_with("User jane@acme.test created."));
    assert!(notes[0].text.ends_with("[onboard:onb-1:create_user]"));
    assert!(notes[1].resolution_flag && !notes[1].internal_analysis_flag);
}

#[tokio::test]
async fn a_retried_note_is_posted_once_even_when_it_is_on_a_later_page() {
    let site = site(seed_with_ticket()).await;
    let cw = client(&site, RecordingSleeper::new());
    let id = TicketId::new("77");
    for step in ["validate", "approval", "create_user", "license"] {
        cw.add_internal_note(&id, &note(step, &format!("{step} done")))
            .await
            .unwrap();
    }
    let last = note("groups", "Groups added.");
    let first = cw.add_internal_note(&id, &last).await.unwrap();

    // Page size is 2, so the note to find is on page 3 of the Link chain.
    let retried = cw.add_internal_note(&id, &last).await.unwrap();

    assert_eq!(first, NoteOutcome::Posted);
    assert_eq!(retried, NoteOutcome::AlreadyPosted);
    assert_eq!(site.sim.notes(77).len(), 5);
}

#[tokio::test]
async fn a_note_for_a_missing_ticket_is_not_found() {
    let site = site(ConnectWiseSeed::default()).await;
    let cw = client(&site, RecordingSleeper::new());

    let err = cw
        .add_internal_note(&TicketId::new("4242"), &note("x", "y"))
        .await
        .unwrap_err();

    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn wrong_keys_are_refused_with_connectwises_401() {
    let site = site(seed_with_ticket()).await;
    let mut bad = config(&site.base);
    bad.private_key = "not-the-key".into();
    let cw = ConnectWise::new(bad, http("connectwise", RecordingSleeper::new()));

    let err = cw.find_ticket(&TicketId::new("77")).await.unwrap_err();

    let Error::Unauthorized { message, .. } = &err else {
        panic!("expected Unauthorized, got {err:?}");
    };
    assert_eq!(message, "UserNotAuthenticated");
    assert!(!err.to_string().contains("not-the-key"));
}

#[tokio::test]
async fn a_missing_client_id_is_refused() {
    let site = site(seed_with_ticket()).await;
    let mut bad = config(&site.base);
    bad.client_id = "unregistered".into();
    let cw = ConnectWise::new(bad, http("connectwise", RecordingSleeper::new()));

    let err = cw.find_ticket(&TicketId::new("77")).await.unwrap_err();

    assert!(
        matches!(&err, Error::Unauthorized { message, .. } if message.contains("clientId")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_site_that_requires_a_field_refuses_a_ticket_without_it_and_accepts_one_with_it() {
    let site = site(ConnectWiseSeed {
        required_fields: vec!["type".into()],
        ..ConnectWiseSeed::default()
    })
    .await;
    let cw = client(&site, RecordingSleeper::new());
    let mut request = new_ticket("onb-1", "ACME", BOARD, "New", PRIORITY);

    let refused = cw.create_ticket(&request).await.unwrap_err();
    request
        .extra_fields
        .insert("type".into(), serde_json::json!({"name": "New User"}));
    let accepted = cw.create_ticket(&request).await;

    let Error::Rejected {
        status,
        code,
        message,
        ..
    } = &refused
    else {
        panic!("expected Rejected, got {refused:?}");
    };
    assert_eq!((*status, code.as_str()), (400, "InvalidObject"));
    assert!(
        message.contains("The field type is required. (field type)"),
        "{message}"
    );
    let ticket = accepted.unwrap();
    let stored = site.sim.ticket(ticket.id.numeric().unwrap()).unwrap();
    assert_eq!(stored.other_fields["type"]["name"], "New User");
}

#[tokio::test]
async fn a_429_is_waited_out_for_its_retry_after_and_the_call_succeeds() {
    let site = site(seed_with_ticket()).await;
    site.sim.faults().set(always(429, 7)).unwrap();
    let sleeper = RecordingSleeper::healing(site.sim.faults());
    let cw = client(&site, sleeper.clone());

    let found = cw.find_ticket(&TicketId::new("77")).await.unwrap();

    assert!(found.is_some());
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(7)]);
}

#[tokio::test]
async fn a_500_is_retried_and_the_call_succeeds() {
    let site = site(seed_with_ticket()).await;
    site.sim.faults().set(always(500, 0)).unwrap();
    let sleeper = RecordingSleeper::healing(site.sim.faults());
    let cw = client(&site, sleeper.clone());

    cw.set_status(&TicketId::new("77"), "In Progress")
        .await
        .unwrap();

    assert_eq!(sleeper.waits().len(), 1);
    assert_eq!(site.sim.ticket(77).unwrap().status.name, "In Progress");
}

#[tokio::test]
async fn a_site_that_keeps_failing_is_unavailable_after_the_last_attempt() {
    let site = site(seed_with_ticket()).await;
    site.sim.faults().set(always(500, 0)).unwrap();
    let sleeper = RecordingSleeper::new();
    let cw = client(&site, sleeper.clone());

    let err = cw.find_ticket(&TicketId::new("77")).await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: 500,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(sleeper.waits().len(), 3);
}

#[tokio::test]
async fn boards_priorities_and_statuses_are_fetched_once_for_many_tickets() {
    let site = site(ConnectWiseSeed::default()).await;
    let cw = client(&site, RecordingSleeper::new());

    for key in ["onb-1", "onb-2", "onb-3"] {
        let ticket = cw
            .create_ticket(&new_ticket(key, "ACME", BOARD, "New", PRIORITY))
            .await
            .unwrap();
        cw.set_status(&ticket.id, "In Progress").await.unwrap();
    }

    let requests = site.sim.requests();
    let count = |suffix: &str| {
        requests
            .iter()
            .filter(|r| r.starts_with("GET ") && r.ends_with(suffix))
            .count()
    };
    // One listing each, in pages of two: 2 boards, 3 priorities, 4 statuses.
    assert_eq!(count("/service/boards"), 1);
    assert_eq!(count("/service/priorities"), 2);
    assert_eq!(count("/service/boards/1/statuses"), 2);
    assert_eq!(site.sim.tickets().len(), 3);
}

#[tokio::test]
async fn a_ticket_and_a_note_whose_answers_are_lost_exist_once() {
    let site = site(ConnectWiseSeed::default()).await;
    let cw = client(&site, RecordingSleeper::new());
    cw.create_ticket(&new_ticket("warm-up", "ACME", BOARD, "New", PRIORITY))
        .await
        .unwrap(); // boards, priorities and statuses cached before the faults
    site.sim.faults().set(losing_answers()).unwrap();

    let ticket = cw
        .create_ticket(&new_ticket("onb-1", "ACME", BOARD, "New", PRIORITY))
        .await
        .unwrap();
    let outcome = cw
        .add_internal_note(&ticket.id, &note("create_user", "User created."))
        .await
        .unwrap();

    let ours: Vec<_> = site
        .sim
        .tickets()
        .into_iter()
        .filter(|t| t.external_x_ref.as_deref() == Some("onb-1"))
        .collect();
    assert_eq!(ours.len(), 1, "one ticket, found after its answer was lost");
    assert_eq!(outcome, NoteOutcome::AlreadyPosted);
    assert_eq!(site.sim.notes(ticket.id.numeric().unwrap()).len(), 1);
    assert_eq!(
        site.sim.faults().lost_answers(),
        2,
        "each write was sent once"
    );
}
