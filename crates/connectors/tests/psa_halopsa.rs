//! Contract tests: the HaloPSA client against the HaloPSA simulator over a real socket.

// A test binary: helpers outside #[test] functions may panic on failed setup too.
#![allow(clippy::unwrap_used)]

mod psa_support;

use std::sync::Arc;
use std::time::Duration;

use onboard_connectors::Error;
use onboard_connectors::psa::halopsa::{HaloConfig, HaloNoteOutcomes, HaloPsa};
use onboard_connectors::psa::{NoteOutcome, Psa, TicketId};
use onboard_sandbox::halopsa::{self, HaloSeed, HaloSeedTicket, HaloSim};
use psa_support::{RecordingSleeper, always, http, losing_answers, new_ticket, note, serve};

const TEAM: &str = "Service Desk";

struct Instance {
    sim: HaloSim,
    base: String,
}

async fn instance(seed: HaloSeed) -> Instance {
    let sim = HaloSim::new(seed).unwrap();
    let origin = serve(halopsa::router(&sim)).await;
    let base = format!("{origin}{}", sim.base_path());
    Instance { sim, base }
}

fn config(instance: &Instance) -> HaloConfig {
    HaloConfig {
        base_url: instance.base.clone(),
        auth_url: None,
        tenant: Some("onboard".into()),
        client_id: "onboard-sandbox".into(),
        client_secret: "sandbox-secret".into(),
        scope: "all".into(),
        outcomes: HaloNoteOutcomes {
            internal: "Private Note".into(),
            resolution: "Resolved".into(),
        },
    }
}

fn client(instance: &Instance, sleeper: Arc<RecordingSleeper>) -> HaloPsa {
    HaloPsa::new(config(instance), http("halopsa", sleeper))
}

fn seed_with_ticket() -> HaloSeed {
    HaloSeed {
        tickets: vec![HaloSeedTicket {
            id: 301,
            summary: "Printer on fire".into(),
            client_id: 12,
            status: "New".into(),
            priority: "Medium".into(),
            team: TEAM.into(),
        }],
        ..HaloSeed::default()
    }
}

#[tokio::test]
async fn a_ticket_is_created_for_the_team_with_status_and_priority_ids_from_their_names() {
    let instance = instance(HaloSeed::default()).await;
    let halo = client(&instance, RecordingSleeper::new());

    let ticket = halo
        .create_ticket(&new_ticket("onb-1", "12", TEAM, "In Progress", "High"))
        .await
        .unwrap();

    assert_eq!(ticket.summary, "New user: Jane Doe [onb-1]");
    assert_eq!(ticket.status, "In Progress");
    assert_eq!(ticket.location, TEAM);
    assert_eq!(ticket.company, "12");
    let stored = instance.sim.ticket(ticket.id.numeric().unwrap()).unwrap();
    assert_eq!(stored.number("status_id"), Some(2));
    assert_eq!(stored.number("priority_id"), Some(2));
    assert_eq!(stored.number("client_id"), Some(12));
    assert_eq!(
        stored.text("details"),
        Some("Onboarding requested for Jane Doe.")
    );
}

#[tokio::test]
async fn creating_again_with_the_same_key_returns_the_first_ticket_and_reuses_the_token() {
    let instance = instance(HaloSeed::default()).await;
    let halo = client(&instance, RecordingSleeper::new());
    let request = new_ticket("onb-1", "12", TEAM, "New", "Medium");

    let first = halo.create_ticket(&request).await.unwrap();
    let second = halo.create_ticket(&request).await.unwrap();

    assert_eq!(first.id, second.id);
    assert_eq!(instance.sim.tickets().len(), 1);
    assert_eq!(instance.sim.tokens_issued(), 1);
}

#[tokio::test]
async fn an_existing_ticket_is_found_by_id_and_a_missing_one_is_none() {
    let instance = instance(seed_with_ticket()).await;
    let halo = client(&instance, RecordingSleeper::new());

    let found = halo.find_ticket(&TicketId::new("301")).await.unwrap();
    let missing = halo.find_ticket(&TicketId::new("302")).await.unwrap();

    let found = found.unwrap();
    assert_eq!(found.summary, "Printer on fire");
    assert_eq!(
        (found.status.as_str(), found.location.as_str()),
        ("New", TEAM)
    );
    assert_eq!(missing, None);
}

#[tokio::test]
async fn the_status_is_changed_by_name_through_an_array_body_carrying_the_id() {
    let instance = instance(seed_with_ticket()).await;
    let halo = client(&instance, RecordingSleeper::new());
    let id = TicketId::new("301");

    halo.set_status(&id, "waiting on user").await.unwrap();
    let waiting = instance.sim.ticket(301).unwrap();
    halo.set_status(&id, "Closed").await.unwrap();
    let closed = instance.sim.ticket(301).unwrap();

    assert_eq!(waiting.number("status_id"), Some(4));
    assert_eq!(closed.number("status_id"), Some(9));
    assert_eq!(closed.text("summary"), Some("Printer on fire"));
    assert_eq!(instance.sim.tickets().len(), 1);
}

#[tokio::test]
async fn an_unknown_status_name_is_refused_with_the_valid_names_and_changes_nothing() {
    let instance = instance(seed_with_ticket()).await;
    let halo = client(&instance, RecordingSleeper::new());

    let err = halo
        .set_status(&TicketId::new("301"), "Resolved")
        .await
        .unwrap_err();

    assert_eq!(
        err.to_string(),
        "halopsa: no status named 'Resolved'; valid: New, In Progress, Action Required, Waiting on User, Closed"
    );
    assert_eq!(
        instance.sim.ticket(301).unwrap().number("status_id"),
        Some(1)
    );
}

#[tokio::test]
async fn an_unknown_team_is_refused_before_anything_is_created() {
    let instance = instance(HaloSeed::default()).await;
    let halo = client(&instance, RecordingSleeper::new());

    let err = halo
        .create_ticket(&new_ticket("onb-1", "12", "Helpdesk", "New", "Medium"))
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::UnknownName { kind: "team", .. }),
        "{err}"
    );
    assert!(instance.sim.tickets().is_empty());
}

#[tokio::test]
async fn notes_are_private_actions_with_their_configured_outcomes() {
    let instance = instance(seed_with_ticket()).await;
    let halo = client(&instance, RecordingSleeper::new());
    let id = TicketId::new("301");

    halo.add_internal_note(&id, &note("create_user", "User created."))
        .await
        .unwrap();
    halo.add_resolution_note(&id, &note("complete", "All done."))
        .await
        .unwrap();

    let actions = instance.sim.actions(301);
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[0].outcome, "Private Note");
    assert!(actions[0].hidden_from_user && !actions[0].send_email);
    // Halo's notes are HTML: line breaks are sent as <br>.
    assert_eq!(
        actions[0].note,
        "User created.<br><br>[onboard:onb-1:create_user]"
    );
    assert_eq!(actions[1].outcome, "Resolved");
}

#[tokio::test]
async fn note_text_is_escaped_as_html_and_still_posted_once() {
    let instance = instance(seed_with_ticket()).await;
    let halo = client(&instance, RecordingSleeper::new());
    let id = TicketId::new("301");
    // A display name or a job title typed in a form reaches the note as it was typed.
    let hostile = note(
        "create_user",
        "Created <img src=x onerror=alert(1)> & \"R&D\"\nline two",
    );

    halo.add_internal_note(&id, &hostile).await.unwrap();
    let retried = halo.add_internal_note(&id, &hostile).await.unwrap();

    let actions = instance.sim.actions(301);
    assert_eq!(
        actions.len(),
        1,
        "the marker is still found in the escaped note"
    );
    assert_eq!(retried, NoteOutcome::AlreadyPosted);
    assert_eq!(
        actions[0].note,
        "Created &lt;img src=x onerror=alert(1)&gt; &amp; \"R&amp;D\"<br>line two<br><br>[onboard:onb-1:create_user]"
    );
}

#[tokio::test]
async fn a_retried_note_is_posted_once() {
    let instance = instance(seed_with_ticket()).await;
    let halo = client(&instance, RecordingSleeper::new());
    let id = TicketId::new("301");
    let groups = note("groups", "Groups added.");

    let first = halo.add_internal_note(&id, &groups).await.unwrap();
    let retried = halo.add_internal_note(&id, &groups).await.unwrap();

    assert_eq!(
        (first, retried),
        (NoteOutcome::Posted, NoteOutcome::AlreadyPosted)
    );
    assert_eq!(instance.sim.actions(301).len(), 1);
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_by_the_token_endpoint() {
    let instance = instance(seed_with_ticket()).await;
    let mut bad = config(&instance);
    bad.client_secret = "wrong-secret".into();
    let halo = HaloPsa::new(bad, http("halopsa", RecordingSleeper::new()));

    let err = halo.find_ticket(&TicketId::new("301")).await.unwrap_err();

    let Error::Unauthorized { message, .. } = &err else {
        panic!("expected Unauthorized, got {err:?}");
    };
    assert!(message.starts_with("invalid_client"), "{message}");
    assert!(!format!("{err:?}").contains("wrong-secret"));
}

#[tokio::test]
async fn a_missing_tenant_is_refused_by_the_token_endpoint() {
    let instance = instance(seed_with_ticket()).await;
    let mut bad = config(&instance);
    bad.tenant = None;
    let halo = HaloPsa::new(bad, http("halopsa", RecordingSleeper::new()));

    let err = halo.find_ticket(&TicketId::new("301")).await.unwrap_err();

    assert!(
        matches!(&err, Error::Unauthorized { message, .. } if message.contains("tenant")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once_and_the_call_succeeds() {
    let instance = instance(seed_with_ticket()).await;
    let halo = client(&instance, RecordingSleeper::new());
    halo.find_ticket(&TicketId::new("301")).await.unwrap();
    instance.sim.revoke_tokens();

    let found = halo.find_ticket(&TicketId::new("301")).await.unwrap();

    assert!(found.is_some());
    assert_eq!(instance.sim.tokens_issued(), 1);
}

#[tokio::test]
async fn an_instance_that_requires_a_field_refuses_a_ticket_without_it_and_accepts_one_with_it() {
    let instance = instance(HaloSeed {
        required_fields: vec!["category_1".into()],
        ..HaloSeed::default()
    })
    .await;
    let halo = client(&instance, RecordingSleeper::new());
    let mut request = new_ticket("onb-1", "12", TEAM, "New", "Medium");

    let refused = halo.create_ticket(&request).await.unwrap_err();
    request
        .extra_fields
        .insert("category_1".into(), serde_json::json!("User>New"));
    let accepted = halo.create_ticket(&request).await;

    assert!(
        matches!(&refused, Error::Rejected { status: 400, message, .. } if message == "category_1 is a mandatory field."),
        "{refused:?}"
    );
    let stored = instance
        .sim
        .ticket(accepted.unwrap().id.numeric().unwrap())
        .unwrap();
    assert_eq!(stored.text("category_1"), Some("User>New"));
}

#[tokio::test]
async fn a_429_is_retried_with_backoff_and_the_call_succeeds() {
    let instance = instance(seed_with_ticket()).await;
    instance.sim.faults().set(always(429, 3)).unwrap();
    let sleeper = RecordingSleeper::healing(instance.sim.faults());
    let halo = client(&instance, sleeper.clone());

    let found = halo.find_ticket(&TicketId::new("301")).await.unwrap();

    assert!(found.is_some());
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(3)]);
}

#[tokio::test]
async fn a_500_is_retried_and_the_note_lands_once() {
    let instance = instance(seed_with_ticket()).await;
    let sleeper = RecordingSleeper::healing(instance.sim.faults());
    let halo = client(&instance, sleeper.clone());
    let id = TicketId::new("301");
    halo.find_ticket(&id).await.unwrap();
    instance.sim.faults().set(always(500, 0)).unwrap();

    let outcome = halo.add_internal_note(&id, &note("x", "y")).await.unwrap();

    assert_eq!(outcome, NoteOutcome::Posted);
    assert_eq!(sleeper.waits().len(), 1);
    assert_eq!(instance.sim.actions(301).len(), 1);
}

#[tokio::test]
async fn statuses_priorities_and_teams_are_fetched_once_for_many_tickets() {
    let instance = instance(HaloSeed::default()).await;
    let halo = client(&instance, RecordingSleeper::new());

    for key in ["onb-1", "onb-2", "onb-3"] {
        let ticket = halo
            .create_ticket(&new_ticket(key, "12", TEAM, "New", "Medium"))
            .await
            .unwrap();
        halo.set_status(&ticket.id, "In Progress").await.unwrap();
    }

    let requests = instance.sim.requests();
    let count = |line: &str| requests.iter().filter(|r| r.as_str() == line).count();
    assert_eq!(count("GET /sandbox/halopsa/api/Status"), 1);
    assert_eq!(count("GET /sandbox/halopsa/api/Priority"), 1);
    assert_eq!(count("GET /sandbox/halopsa/api/Team"), 1);
    assert_eq!(count("POST /sandbox/halopsa/api/Tickets"), 6);
}

#[tokio::test]
async fn a_ticket_and_a_note_whose_answers_are_lost_exist_once() {
    let instance = instance(HaloSeed::default()).await;
    let halo = client(&instance, RecordingSleeper::new());
    halo.create_ticket(&new_ticket("warm-up", "12", TEAM, "New", "Medium"))
        .await
        .unwrap(); // the token and the names, before the faults
    instance.sim.faults().set(losing_answers()).unwrap();

    let ticket = halo
        .create_ticket(&new_ticket("onb-1", "12", TEAM, "New", "Medium"))
        .await
        .unwrap();
    let outcome = halo
        .add_internal_note(&ticket.id, &note("create_user", "User created."))
        .await
        .unwrap();

    assert_eq!(instance.sim.tickets().len(), 2, "warm-up and one more");
    assert_eq!(outcome, NoteOutcome::AlreadyPosted);
    assert_eq!(instance.sim.actions(ticket.id.numeric().unwrap()).len(), 1);
    assert_eq!(
        instance.sim.faults().lost_answers(),
        2,
        "each write was sent once"
    );
}

#[tokio::test]
async fn the_preflight_names_a_client_halo_does_not_have() {
    let instance = instance(HaloSeed::default()).await;
    let halo = client(&instance, RecordingSleeper::new());

    let known = halo.check_company("12").await.unwrap();
    let unknown = halo.check_company("99").await.unwrap();

    assert!(known.is_none(), "{known:?}");
    let message = unknown.expect("99 is nobody").to_string();
    assert!(
        message.contains("99") && message.contains("12 (Acme Corporation)"),
        "{message}"
    );
}
