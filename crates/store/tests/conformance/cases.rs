//! The behaviour every backend must share. Each case gets a fresh, empty store.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use anyhow::{Context as _, bail, ensure};
use jiff::Timestamp;
use onboard_store::{
    ConnectorSettings, Cursor, Decide, DecideOutcome, DecisionKind, DecisionState, LicenseOutcome,
    NewDecision, NewRecord, Page, RecentFilter, RecordFilter, RecordKind, RecordUpdate, Scope,
    SecretRef, Status, Store, StoreError, StoredTemplate, TimelineEvent,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

type S = Arc<dyn Store>;

/// A fixed instant plus `secs` seconds, so times are exact and ordered.
fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn new_record(id: &str, kind: RecordKind, org: &str, status: Status, secs: i64) -> NewRecord {
    NewRecord {
        id: id.to_owned(),
        kind,
        organization: org.to_owned(),
        status,
        request: json!({"organization": org, "first_name": "Ada", "last_name": id}),
        ticket_id: None,
        created_at: t(secs),
    }
}

fn onboarding(id: &str, org: &str, status: Status, secs: i64) -> NewRecord {
    new_record(id, RecordKind::Onboarding, org, status, secs)
}

fn new_decision(kind: DecisionKind, record_id: &str, token: &str, expires: i64) -> NewDecision {
    NewDecision {
        kind,
        record_id: record_id.to_owned(),
        task_token: SecretString::from(token.to_owned()),
        expires_at: t(expires),
        created_at: t(0),
    }
}

fn event(secs: i64, step: &str, message: &str) -> TimelineEvent {
    TimelineEvent {
        at: t(secs),
        step: step.to_owned(),
        message: message.to_owned(),
    }
}

/// Follows cursors to the end, checking every page's size.
async fn all_pages<T, F, Fut>(limit: u32, mut fetch: F) -> anyhow::Result<(Vec<T>, usize)>
where
    F: FnMut(Option<Cursor>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
{
    let mut all = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = fetch(cursor.take()).await?;
        pages += 1;
        ensure!(
            page.items.len() <= limit as usize,
            "page {pages} has {} items, limit {limit}",
            page.items.len()
        );
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((all, pages)),
        }
        ensure!(pages < 1000, "paging does not end");
    }
}

pub(crate) async fn a_record_round_trips_every_field(store: S) -> anyhow::Result<()> {
    let mut new = new_record(
        "off-1",
        RecordKind::Offboarding,
        "contoso",
        Status::Scheduled,
        1,
    );
    new.ticket_id = Some("T-100".to_owned());
    let created = store.create_record(new.clone()).await?;
    assert_eq!(created.updated_at, t(1));
    assert_eq!(store.get_record("off-1").await?.as_ref(), Some(&created));

    let removed = json!({"groups": ["Sales"], "licenses": ["O365_BUSINESS_PREMIUM"],
                         "manager": "boss@contoso.com", "enabled": true});
    store
        .update_record(
            "off-1",
            RecordUpdate {
                status: Some(Status::Completed),
                user_principal_name: Some("ada@contoso.com".to_owned()),
                license_outcome: Some(LicenseOutcome::PurchaseConfirmed),
                removed: Some(removed.clone()),
                ..RecordUpdate::default()
            },
            t(50),
        )
        .await?;

    let got = store
        .get_record("off-1")
        .await?
        .context("record vanished")?;
    assert_eq!(got.id, "off-1");
    assert_eq!(got.kind, RecordKind::Offboarding);
    assert_eq!(got.organization, "contoso");
    assert_eq!(got.status, Status::Completed);
    assert_eq!(got.request, new.request);
    assert_eq!(got.user_principal_name.as_deref(), Some("ada@contoso.com"));
    assert_eq!(got.ticket_id.as_deref(), Some("T-100"));
    assert_eq!(got.license_outcome, Some(LicenseOutcome::PurchaseConfirmed));
    assert_eq!(got.removed, Some(removed));
    assert_eq!(got.created_at, t(1));
    assert_eq!(got.updated_at, t(50));
    assert!(store.get_record("nope").await?.is_none());
    Ok(())
}

pub(crate) async fn creating_a_record_twice_is_refused_and_changes_nothing(
    store: S,
) -> anyhow::Result<()> {
    store
        .create_record(onboarding("r1", "contoso", Status::Running, 1))
        .await?;
    let again = store
        .create_record(onboarding("r1", "fabrikam", Status::Failed, 2))
        .await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists { .. })),
        "{again:?}"
    );
    let got = store.get_record("r1").await?.context("missing")?;
    assert_eq!(got.organization, "contoso");
    assert_eq!(got.status, Status::Running);
    Ok(())
}

pub(crate) async fn changing_an_unknown_record_is_not_found_and_writes_nothing(
    store: S,
) -> anyhow::Result<()> {
    let update = store
        .update_record(
            "ghost",
            RecordUpdate {
                status: Some(Status::Failed),
                event: Some(event(1, "validate", "x")),
                ..RecordUpdate::default()
            },
            t(1),
        )
        .await;
    assert!(
        matches!(update, Err(StoreError::NotFound { .. })),
        "{update:?}"
    );
    let plain = store
        .update_record("ghost", RecordUpdate::default(), t(1))
        .await;
    assert!(
        matches!(plain, Err(StoreError::NotFound { .. })),
        "{plain:?}"
    );
    let append = store.append_event("ghost", event(1, "validate", "x")).await;
    assert!(
        matches!(append, Err(StoreError::NotFound { .. })),
        "{append:?}"
    );
    assert!(store.timeline("ghost").await?.is_empty());
    assert!(store.get_record("ghost").await?.is_none());
    Ok(())
}

pub(crate) async fn a_change_expecting_another_status_writes_nothing(
    store: S,
) -> anyhow::Result<()> {
    store
        .create_record(new_record(
            "r1",
            RecordKind::Onboarding,
            "contoso",
            Status::Running,
            0,
        ))
        .await?;
    let cancel = |with_event: bool| RecordUpdate {
        status: Some(Status::Cancelled),
        expect_status: Some(Status::Scheduled),
        event: with_event.then(|| event(1, "cancel", "cancelled")),
        ..RecordUpdate::default()
    };
    for with_event in [false, true] {
        let refused = store.update_record("r1", cancel(with_event), t(1)).await;
        assert!(
            matches!(&refused, Err(StoreError::StatusChanged { id, expected: Status::Scheduled }) if id == "r1"),
            "{refused:?}"
        );
    }
    let got = store.get_record("r1").await?.context("missing")?;
    assert_eq!(got.status, Status::Running);
    assert!(store.timeline("r1").await?.is_empty(), "no event written");
    let ghost = store.update_record("ghost", cancel(true), t(1)).await;
    assert!(
        matches!(ghost, Err(StoreError::NotFound { .. })),
        "{ghost:?}"
    );

    // In the expected status, the change is made.
    store
        .update_record(
            "r1",
            RecordUpdate {
                status: Some(Status::Scheduled),
                ..RecordUpdate::default()
            },
            t(2),
        )
        .await?;
    store.update_record("r1", cancel(true), t(3)).await?;
    let got = store.get_record("r1").await?.context("missing")?;
    assert_eq!(got.status, Status::Cancelled);
    assert_eq!(store.timeline("r1").await?.len(), 1);
    Ok(())
}

pub(crate) async fn the_timeline_keeps_events_in_time_order_and_touches_the_record(
    store: S,
) -> anyhow::Result<()> {
    store
        .create_record(onboarding("r1", "contoso", Status::Running, 1))
        .await?;
    store
        .create_record(onboarding("r2", "contoso", Status::Running, 1))
        .await?;
    store
        .append_event("r1", event(10, "validate", "form is valid"))
        .await?;
    store
        .append_event("r2", event(11, "validate", "other record"))
        .await?;
    store
        .append_event("r1", event(20, "ensure_ticket", "ticket T-1 created"))
        .await?;
    store
        .update_record(
            "r1",
            RecordUpdate {
                status: Some(Status::PendingApproval),
                event: Some(event(30, "approval", "approval mailed to boss@contoso.com")),
                ..RecordUpdate::default()
            },
            t(30),
        )
        .await?;
    store
        .append_event("r1", event(40, "approval", "approved"))
        .await?;

    let steps: Vec<_> = store
        .timeline("r1")
        .await?
        .into_iter()
        .map(|e| (e.at, e.step, e.message))
        .collect();
    assert_eq!(
        steps,
        vec![
            (t(10), "validate".into(), "form is valid".into()),
            (t(20), "ensure_ticket".into(), "ticket T-1 created".into()),
            (
                t(30),
                "approval".into(),
                "approval mailed to boss@contoso.com".into()
            ),
            (t(40), "approval".into(), "approved".into()),
        ]
    );
    let r1 = store.get_record("r1").await?.context("missing")?;
    assert_eq!(r1.updated_at, t(40));
    assert_eq!(r1.status, Status::PendingApproval);
    assert_eq!(store.timeline("r2").await?.len(), 1);
    Ok(())
}

pub(crate) async fn concurrent_events_on_one_record_are_all_kept(store: S) -> anyhow::Result<()> {
    store
        .create_record(onboarding("r1", "contoso", Status::Running, 1))
        .await?;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            if i % 4 == 0 {
                store
                    .update_record(
                        "r1",
                        RecordUpdate {
                            ticket_id: Some(format!("T-{i}")),
                            event: Some(event(100 + i, "ensure_ticket", &format!("note {i}"))),
                            ..RecordUpdate::default()
                        },
                        t(100 + i),
                    )
                    .await
            } else {
                store
                    .append_event("r1", event(100 + i, "create_user", &format!("note {i}")))
                    .await
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let messages: Vec<_> = store
        .timeline("r1")
        .await?
        .into_iter()
        .map(|e| e.message)
        .collect();
    let expected: Vec<_> = (0..20).map(|i| format!("note {i}")).collect();
    assert_eq!(messages, expected);
    Ok(())
}

/// 23 onboardings of contoso (mixed statuses), 4 of fabrikam, 3 offboardings of contoso.
async fn seed_listing(store: &S) -> anyhow::Result<()> {
    for i in 0..23 {
        let status = if i % 3 == 0 {
            Status::Completed
        } else {
            Status::Running
        };
        store
            .create_record(onboarding(&format!("c{i:02}"), "contoso", status, i))
            .await?;
    }
    for i in 0..4 {
        store
            .create_record(onboarding(
                &format!("f{i:02}"),
                "fabrikam",
                Status::Running,
                100 + i,
            ))
            .await?;
    }
    for i in 0..3 {
        store
            .create_record(new_record(
                &format!("o{i:02}"),
                RecordKind::Offboarding,
                "contoso",
                Status::Running,
                200 + i,
            ))
            .await?;
    }
    Ok(())
}

async fn list_ids(
    store: &S,
    kind: RecordKind,
    filter: RecordFilter,
    limit: u32,
) -> anyhow::Result<(Vec<String>, usize)> {
    let (records, pages) = all_pages(limit, |cursor| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            store
                .list_records(kind, &filter, limit, cursor.as_ref())
                .await
        }
    })
    .await?;
    for r in &records {
        ensure!(r.kind == kind, "{} has kind {}", r.id, r.kind);
    }
    let ids: Vec<String> = records.into_iter().map(|r| r.id).collect();
    let unique: HashSet<_> = ids.iter().collect();
    ensure!(
        unique.len() == ids.len(),
        "duplicates across pages: {ids:?}"
    );
    Ok((ids, pages))
}

pub(crate) async fn records_are_listed_across_pages_by_organization(
    store: S,
) -> anyhow::Result<()> {
    seed_listing(&store).await?;

    let (ids, pages) = list_ids(
        &store,
        RecordKind::Onboarding,
        RecordFilter::Organization("contoso".into()),
        5,
    )
    .await?;
    let expected: Vec<String> = (0..23).map(|i| format!("c{i:02}")).collect();
    assert_eq!(ids, expected, "oldest first, every record once");
    assert!(pages >= 5, "23 records in pages of 5 took {pages} pages");

    let (off, _) = list_ids(
        &store,
        RecordKind::Offboarding,
        RecordFilter::Organization("contoso".into()),
        2,
    )
    .await?;
    assert_eq!(off, ["o00", "o01", "o02"]);

    let (running, _) = list_ids(
        &store,
        RecordKind::Onboarding,
        RecordFilter::OrganizationAndStatus("contoso".into(), Status::Running),
        4,
    )
    .await?;
    let expected: Vec<String> = (0..23)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("c{i:02}"))
        .collect();
    assert_eq!(running, expected);

    let (none, pages) = list_ids(
        &store,
        RecordKind::Onboarding,
        RecordFilter::Organization("northwind".into()),
        5,
    )
    .await?;
    assert!(none.is_empty());
    assert_eq!(pages, 1);
    Ok(())
}

pub(crate) async fn records_are_listed_across_pages_by_status(store: S) -> anyhow::Result<()> {
    seed_listing(&store).await?;
    let (running, _) = list_ids(
        &store,
        RecordKind::Onboarding,
        RecordFilter::Status(Status::Running),
        3,
    )
    .await?;
    // By organization, then oldest first.
    let mut expected: Vec<String> = (0..23)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("c{i:02}"))
        .collect();
    expected.extend((0..4).map(|i| format!("f{i:02}")));
    assert_eq!(running, expected);

    let (completed, _) = list_ids(
        &store,
        RecordKind::Onboarding,
        RecordFilter::Status(Status::Completed),
        1000,
    )
    .await?;
    assert_eq!(completed.len(), 8);
    let (failed, _) = list_ids(
        &store,
        RecordKind::Onboarding,
        RecordFilter::Status(Status::Failed),
        10,
    )
    .await?;
    assert!(failed.is_empty());

    let zero = store
        .list_records(
            RecordKind::Onboarding,
            &RecordFilter::Status(Status::Failed),
            0,
            None,
        )
        .await;
    assert!(
        matches!(zero, Err(StoreError::InvalidArgument(_))),
        "{zero:?}"
    );
    Ok(())
}

pub(crate) async fn a_status_change_moves_a_record_between_status_listings(
    store: S,
) -> anyhow::Result<()> {
    store
        .create_record(onboarding("r1", "contoso", Status::PendingApproval, 1))
        .await?;
    store
        .create_record(onboarding("r2", "contoso", Status::PendingApproval, 2))
        .await?;
    store
        .update_record(
            "r1",
            RecordUpdate {
                status: Some(Status::Denied),
                ..RecordUpdate::default()
            },
            t(5),
        )
        .await?;
    let (pending, _) = list_ids(
        &store,
        RecordKind::Onboarding,
        RecordFilter::Status(Status::PendingApproval),
        10,
    )
    .await?;
    assert_eq!(pending, ["r2"]);
    let (denied, _) = list_ids(
        &store,
        RecordKind::Onboarding,
        RecordFilter::OrganizationAndStatus("contoso".into(), Status::Denied),
        10,
    )
    .await?;
    assert_eq!(denied, ["r1"]);
    Ok(())
}

pub(crate) async fn a_cursor_from_another_listing_is_refused(store: S) -> anyhow::Result<()> {
    seed_listing(&store).await?;
    let page = store
        .list_records(
            RecordKind::Onboarding,
            &RecordFilter::Organization("contoso".into()),
            2,
            None,
        )
        .await?;
    let cursor = page.next.context("expected a next page")?;
    let other = store
        .list_records(
            RecordKind::Onboarding,
            &RecordFilter::Organization("fabrikam".into()),
            2,
            Some(&cursor),
        )
        .await;
    assert!(matches!(other, Err(StoreError::InvalidCursor)), "{other:?}");
    let by_status = store
        .list_records(
            RecordKind::Onboarding,
            &RecordFilter::Status(Status::Running),
            2,
            None,
        )
        .await?
        .next
        .context("expected a next page")?;
    let narrower = store
        .list_records(
            RecordKind::Onboarding,
            &RecordFilter::OrganizationAndStatus("fabrikam".into(), Status::Running),
            2,
            Some(&by_status),
        )
        .await;
    assert!(
        matches!(narrower, Err(StoreError::InvalidCursor)),
        "{narrower:?}"
    );
    let garbage = store
        .list_records(
            RecordKind::Onboarding,
            &RecordFilter::Organization("contoso".into()),
            2,
            Some(&Cursor("not-a-cursor".into())),
        )
        .await;
    assert!(
        matches!(garbage, Err(StoreError::InvalidCursor)),
        "{garbage:?}"
    );
    Ok(())
}

pub(crate) async fn thirty_two_concurrent_deciders_have_exactly_one_winner(
    store: S,
) -> anyhow::Result<()> {
    store
        .create_record(onboarding("r1", "contoso", Status::PendingApproval, 1))
        .await?;
    let decision = store
        .create_decision(new_decision(DecisionKind::Approval, "r1", "token-r1", 3600))
        .await?;
    assert_eq!(decision.state, DecisionState::Pending);
    assert_eq!(decision.organization, "contoso");

    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for i in 0..32 {
        let store = store.clone();
        let id = decision.id.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let to = if i % 2 == 0 {
                DecisionState::Approved
            } else {
                DecisionState::Denied
            };
            let by = format!("approver-{i}@contoso.com");
            store
                .decide(
                    &id,
                    Decide {
                        to,
                        by,
                        at: t(60 + i),
                    },
                )
                .await
        }));
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        match task.await?? {
            DecideOutcome::Decided {
                decision,
                task_token,
            } => {
                assert_eq!(task_token.expose_secret(), "token-r1");
                winners.push(decision);
            }
            DecideOutcome::AlreadyDecided(d) => losers.push(d),
            other => bail!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner, got {winners:?}");
    assert_eq!(losers.len(), 31);
    let winner = &winners[0];
    assert_ne!(winner.state, DecisionState::Pending);
    for loser in &losers {
        assert_eq!(loser.state, winner.state, "losers learn how it was decided");
        assert_eq!(loser.decided_by, winner.decided_by, "losers learn who won");
        assert_eq!(loser.decided_at, winner.decided_at);
    }
    let stored = store.get_decision(&decision.id).await?.context("missing")?;
    assert_eq!(&stored, winner);
    Ok(())
}

pub(crate) async fn a_decision_past_its_expiry_is_not_decided_until_expired(
    store: S,
) -> anyhow::Result<()> {
    store
        .create_record(onboarding(
            "r1",
            "contoso",
            Status::WaitingLicensePurchase,
            1,
        ))
        .await?;
    let d = store
        .create_decision(new_decision(
            DecisionKind::LicensePurchase,
            "r1",
            "tok",
            100,
        ))
        .await?;
    let late = store
        .decide(
            &d.id,
            Decide {
                to: DecisionState::Confirmed,
                by: "tech@msp.example".into(),
                at: t(100),
            },
        )
        .await?;
    match late {
        DecideOutcome::Expired(current) => assert_eq!(current.state, DecisionState::Pending),
        other => bail!("expected Expired, got {other:?}"),
    }
    let timeout = store
        .decide(
            &d.id,
            Decide {
                to: DecisionState::Expired,
                by: "timeout".into(),
                at: t(101),
            },
        )
        .await?;
    assert!(
        matches!(timeout, DecideOutcome::Decided { .. }),
        "{timeout:?}"
    );
    let again = store
        .decide(
            &d.id,
            Decide {
                to: DecisionState::Rejected,
                by: "tech@msp.example".into(),
                at: t(50),
            },
        )
        .await?;
    match again {
        DecideOutcome::AlreadyDecided(current) => {
            assert_eq!(current.state, DecisionState::Expired);
            assert_eq!(current.decided_by.as_deref(), Some("timeout"));
            assert_eq!(current.decided_at, Some(t(101)));
        }
        other => bail!("expected AlreadyDecided, got {other:?}"),
    }
    Ok(())
}

pub(crate) async fn a_decision_outcome_must_fit_its_kind(store: S) -> anyhow::Result<()> {
    store
        .create_record(onboarding("r1", "contoso", Status::PendingApproval, 1))
        .await?;
    let d = store
        .create_decision(new_decision(DecisionKind::Approval, "r1", "tok", 100))
        .await?;
    for to in [
        DecisionState::Confirmed,
        DecisionState::Rejected,
        DecisionState::Pending,
    ] {
        let result = store
            .decide(
                &d.id,
                Decide {
                    to,
                    by: "x".into(),
                    at: t(2),
                },
            )
            .await;
        assert!(
            matches!(result, Err(StoreError::InvalidArgument(_))),
            "{result:?}"
        );
    }
    let stored = store.get_decision(&d.id).await?.context("missing")?;
    assert_eq!(stored.state, DecisionState::Pending);
    assert_eq!(stored.decided_by, None);
    Ok(())
}

pub(crate) async fn unknown_decisions_and_records_are_reported(store: S) -> anyhow::Result<()> {
    let outcome = store
        .decide(
            "no-such-decision",
            Decide {
                to: DecisionState::Approved,
                by: "x".into(),
                at: t(1),
            },
        )
        .await?;
    assert!(matches!(outcome, DecideOutcome::Unknown), "{outcome:?}");
    assert!(store.get_decision("no-such-decision").await?.is_none());
    assert!(store.task_token("no-such-decision").await?.is_none());
    let orphan = store
        .create_decision(new_decision(DecisionKind::Approval, "ghost", "tok", 100))
        .await;
    assert!(
        matches!(orphan, Err(StoreError::NotFound { .. })),
        "{orphan:?}"
    );
    Ok(())
}

pub(crate) async fn pending_decisions_are_listed_by_organization_across_pages(
    store: S,
) -> anyhow::Result<()> {
    store
        .create_record(onboarding("c1", "contoso", Status::PendingApproval, 1))
        .await?;
    store
        .create_record(onboarding("f1", "fabrikam", Status::PendingApproval, 1))
        .await?;
    let mut contoso = Vec::new();
    // Created out of expiry order: the listing sorts by expiry.
    for expires in [500, 100, 400, 200, 300] {
        let d = store
            .create_decision(new_decision(DecisionKind::Approval, "c1", "tok", expires))
            .await?;
        contoso.push((expires, d.id));
    }
    for expires in [100, 200] {
        store
            .create_decision(new_decision(
                DecisionKind::LicensePurchase,
                "f1",
                "tok",
                expires,
            ))
            .await?;
    }
    let decided = contoso
        .iter()
        .find(|(e, _)| *e == 400)
        .context("seeded")?
        .1
        .clone();
    store
        .decide(
            &decided,
            Decide {
                to: DecisionState::Denied,
                by: "boss".into(),
                at: t(2),
            },
        )
        .await?;

    let (pending, pages) = all_pages(2, |cursor| {
        let store = store.clone();
        async move { store.pending_decisions("contoso", 2, cursor.as_ref()).await }
    })
    .await?;
    let expiries: Vec<_> = pending.iter().map(|d| d.expires_at).collect();
    assert_eq!(expiries, [t(100), t(200), t(300), t(500)]);
    assert!(pages >= 2);
    assert!(pending.iter().all(|d| d.state == DecisionState::Pending));
    assert!(pending.iter().all(|d| d.organization == "contoso"));
    assert!(pending.iter().all(|d| d.id != decided));

    let fabrikam = store.pending_decisions("fabrikam", 10, None).await?;
    assert_eq!(fabrikam.items.len(), 2);
    assert!(
        fabrikam
            .items
            .iter()
            .all(|d| d.kind == DecisionKind::LicensePurchase)
    );
    Ok(())
}

pub(crate) async fn the_task_token_comes_back_only_to_the_winner_and_never_in_debug(
    store: S,
) -> anyhow::Result<()> {
    let token = "AAAAKgAAAAIAAAAAAAAAAVerySecretTaskToken";
    store
        .create_record(onboarding("r1", "contoso", Status::PendingApproval, 1))
        .await?;
    let d = store
        .create_decision(new_decision(DecisionKind::Approval, "r1", token, 100))
        .await?;
    assert_eq!(
        store
            .task_token(&d.id)
            .await?
            .context("token")?
            .expose_secret(),
        token
    );
    assert!(!format!("{d:?}").contains(token));
    let won = store
        .decide(
            &d.id,
            Decide {
                to: DecisionState::Approved,
                by: "boss".into(),
                at: t(5),
            },
        )
        .await?;
    assert!(!format!("{won:?}").contains(token), "{won:?}");
    match won {
        DecideOutcome::Decided { task_token, .. } => assert_eq!(task_token.expose_secret(), token),
        other => bail!("expected Decided, got {other:?}"),
    }
    // Decision ids are random and distinct.
    let other = store
        .create_decision(new_decision(DecisionKind::Approval, "r1", token, 100))
        .await?;
    assert_ne!(other.id, d.id);
    assert!(
        other.id.len() >= 22,
        "id {} is too short to be unguessable",
        other.id
    );
    Ok(())
}

pub(crate) async fn an_idempotency_key_written_twice_returns_the_first_result(
    store: S,
) -> anyhow::Result<()> {
    let key = "r1/create_user";
    assert!(store.step_result(key).await?.is_none());
    let first = json!({"user_id": "u-1", "upn": "ada@contoso.com"});
    let stored = store.put_step_result(key, first.clone(), t(86_400)).await?;
    assert_eq!(stored, first);
    let second = store
        .put_step_result(key, json!({"user_id": "u-2"}), t(90_000))
        .await?;
    assert_eq!(second, first, "the first result wins");
    assert_eq!(store.step_result(key).await?, Some(first));
    Ok(())
}

pub(crate) async fn concurrent_step_results_agree_on_one_value(store: S) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .put_step_result("r9/assign_license", json!({"writer": i}), t(1000))
                .await
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        seen.insert(task.await??.to_string());
    }
    assert_eq!(
        seen.len(),
        1,
        "all writers must get the same first result: {seen:?}"
    );
    let stored = store
        .step_result("r9/assign_license")
        .await?
        .context("missing")?;
    assert!(seen.contains(&stored.to_string()));
    Ok(())
}

pub(crate) async fn variables_are_kept_per_scope_and_replaced_whole(
    store: S,
) -> anyhow::Result<()> {
    let contoso = Scope::Organization("contoso".into());
    assert!(store.variables(&Scope::Msp).await?.is_empty());
    let msp = BTreeMap::from([
        ("require_approval_for_new_users".to_owned(), "1".to_owned()),
        ("username_format".to_owned(), "first.last".to_owned()),
    ]);
    store.put_variables(&Scope::Msp, &msp).await?;
    let org = BTreeMap::from([("require_approval_for_new_users".to_owned(), "0".to_owned())]);
    store.put_variables(&contoso, &org).await?;
    assert_eq!(store.variables(&Scope::Msp).await?, msp);
    assert_eq!(store.variables(&contoso).await?, org);
    assert!(
        store
            .variables(&Scope::Organization("fabrikam".into()))
            .await?
            .is_empty()
    );

    let replaced = BTreeMap::from([("default_psa".to_owned(), "halopsa".to_owned())]);
    store.put_variables(&contoso, &replaced).await?;
    assert_eq!(store.variables(&contoso).await?, replaced);
    store.put_variables(&contoso, &BTreeMap::new()).await?;
    assert!(store.variables(&contoso).await?.is_empty());
    Ok(())
}

pub(crate) async fn templates_are_kept_per_scope_by_name(store: S) -> anyhow::Result<()> {
    let contoso = Scope::Organization("contoso".into());
    let fabrikam = Scope::Organization("fabrikam".into());
    let sales = StoredTemplate {
        name: "sales rep".into(),
        body: json!({"department": "Sales", "groups": ["Sales", "All staff"]}),
    };
    // A name with the key separator in it stays one name.
    let odd = StoredTemplate {
        name: "a#b".into(),
        body: json!({"job_title": "Odd"}),
    };
    store.put_template(&contoso, &sales).await?;
    store.put_template(&contoso, &odd).await?;
    ensure!(store.templates(&contoso).await? == vec![odd.clone(), sales.clone()]);
    ensure!(store.template(&contoso, "sales rep").await? == Some(sales.clone()));
    ensure!(store.template(&contoso, "a").await?.is_none());
    ensure!(store.templates(&fabrikam).await?.is_empty());
    ensure!(store.template(&fabrikam, "sales rep").await?.is_none());

    let replaced = StoredTemplate {
        name: "sales rep".into(),
        body: json!({"department": "Sales EMEA"}),
    };
    store.put_template(&contoso, &replaced).await?;
    ensure!(store.template(&contoso, "sales rep").await? == Some(replaced));
    ensure!(store.delete_template(&contoso, "a#b").await?);
    ensure!(!store.delete_template(&contoso, "a#b").await?);
    ensure!(store.templates(&contoso).await?.len() == 1);
    Ok(())
}

pub(crate) async fn connector_settings_round_trip_with_secret_references(
    store: S,
) -> anyhow::Result<()> {
    let contoso = Scope::Organization("contoso".into());
    let connectwise = ConnectorSettings {
        connector: "connectwise".into(),
        settings: BTreeMap::from([
            ("base_url".into(), "https://cw.example.com".into()),
            ("company_id".into(), "msp".into()),
        ]),
        secrets: BTreeMap::from([(
            "private_key".into(),
            SecretRef::SecretsManager {
                id: "onboard/cw".into(),
                json_key: Some("key".into()),
            },
        )]),
    };
    let hudu = ConnectorSettings {
        connector: "hudu".into(),
        settings: BTreeMap::from([("base_url".into(), "https://hudu.example.com".into())]),
        secrets: BTreeMap::from([(
            "api_key".into(),
            SecretRef::Env {
                var: "HUDU_KEY".into(),
            },
        )]),
    };
    store.put_connector(&contoso, &hudu).await?;
    store.put_connector(&contoso, &connectwise).await?;
    store.put_connector(&Scope::Msp, &hudu).await?;

    assert_eq!(
        store.connector(&contoso, "connectwise").await?,
        Some(connectwise.clone())
    );
    assert!(store.connector(&contoso, "pax8").await?.is_none());
    assert_eq!(
        store.connectors(&contoso).await?,
        vec![connectwise.clone(), hudu.clone()]
    );
    assert_eq!(store.connectors(&Scope::Msp).await?, vec![hudu.clone()]);

    let mut moved = hudu.clone();
    moved.secrets.insert(
        "api_key".into(),
        SecretRef::File {
            path: "/run/hudu".into(),
        },
    );
    store.put_connector(&contoso, &moved).await?;
    assert_eq!(store.connectors(&contoso).await?, vec![connectwise, moved]);
    Ok(())
}

pub(crate) async fn one_connector_is_listed_across_scopes_msp_first(
    store: S,
) -> anyhow::Result<()> {
    let organization = |name: &str, domain: &str| ConnectorSettings {
        connector: "organization".into(),
        settings: BTreeMap::from([
            ("name".into(), name.into()),
            ("domain".into(), domain.into()),
        ]),
        secrets: BTreeMap::new(),
    };
    assert!(
        store
            .connector_in_all_scopes("organization")
            .await?
            .is_empty()
    );
    let fabrikam = organization("Fabrikam", "fabrikam.com");
    let contoso = organization("Contoso", "contoso.com");
    let msp = organization("MSP", "msp.example");
    store
        .put_connector(&Scope::Organization("fabrikam".into()), &fabrikam)
        .await?;
    store
        .put_connector(&Scope::Organization("contoso".into()), &contoso)
        .await?;
    store.put_connector(&Scope::Msp, &msp).await?;
    // Another connector in the same scopes is not listed.
    let hudu = ConnectorSettings {
        connector: "hudu".into(),
        settings: BTreeMap::new(),
        secrets: BTreeMap::new(),
    };
    store
        .put_connector(&Scope::Organization("contoso".into()), &hudu)
        .await?;

    let listed = store.connector_in_all_scopes("organization").await?;

    assert_eq!(
        listed,
        vec![
            (Scope::Msp, msp),
            (Scope::Organization("contoso".into()), contoso),
            (Scope::Organization("fabrikam".into()), fabrikam.clone()),
        ]
    );
    // Replacing an item keeps one entry per scope.
    let renamed = organization("Fabrikam Inc", "fabrikam.com");
    store
        .put_connector(&Scope::Organization("fabrikam".into()), &renamed)
        .await?;
    let listed = store.connector_in_all_scopes("organization").await?;
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[2].1, renamed);
    assert_eq!(
        store.connector_in_all_scopes("hudu").await?,
        vec![(Scope::Organization("contoso".into()), hudu)]
    );
    Ok(())
}

pub(crate) async fn a_lease_is_held_by_one_holder_until_released(store: S) -> anyhow::Result<()> {
    let lease = "seats/pax8/c-1/SPB";

    ensure!(store.acquire_lease(lease, "ob-a", t(0), t(60)).await?);
    ensure!(!store.acquire_lease(lease, "ob-b", t(10), t(70)).await?);
    // The holder may take it again (extending it).
    ensure!(store.acquire_lease(lease, "ob-a", t(20), t(80)).await?);
    ensure!(!store.acquire_lease(lease, "ob-b", t(70), t(130)).await?);
    // Only the holder gives it back.
    ensure!(!store.release_lease(lease, "ob-b").await?);
    ensure!(store.release_lease(lease, "ob-a").await?);
    ensure!(!store.release_lease(lease, "ob-a").await?);
    ensure!(store.acquire_lease(lease, "ob-b", t(30), t(90)).await?);
    // Another lease is independent.
    ensure!(
        store
            .acquire_lease("seats/pax8/c-1/EXCHANGESTANDARD", "ob-a", t(30), t(90))
            .await?
    );
    Ok(())
}

pub(crate) async fn a_lease_past_its_expiry_can_be_taken_by_another(
    store: S,
) -> anyhow::Result<()> {
    let lease = "seats/pax8/c-1/SPB";
    ensure!(store.acquire_lease(lease, "crashed", t(0), t(60)).await?);
    ensure!(!store.acquire_lease(lease, "ob-b", t(59), t(119)).await?);

    ensure!(store.acquire_lease(lease, "ob-b", t(60), t(120)).await?);

    // The crashed holder, back, neither takes nor releases it.
    ensure!(!store.acquire_lease(lease, "crashed", t(61), t(121)).await?);
    ensure!(!store.release_lease(lease, "crashed").await?);
    ensure!(store.release_lease(lease, "ob-b").await?);
    Ok(())
}

pub(crate) async fn a_session_lives_until_it_expires_or_is_ended(store: S) -> anyhow::Result<()> {
    let data = serde_json::json!({"name": "Tom", "roles": ["technician"]});
    store.put_session("hash-a", &data, t(0), t(60)).await?;
    ensure!(store.session("hash-a", t(59)).await? == Some(data.clone()));
    ensure!(store.session("hash-a", t(60)).await?.is_none());
    ensure!(store.session("hash-b", t(1)).await?.is_none());

    // Sliding renewal: put again with a later expiry (and newer data).
    let renewed = serde_json::json!({"name": "Tom", "roles": ["approver"]});
    store.put_session("hash-a", &renewed, t(30), t(120)).await?;
    ensure!(store.session("hash-a", t(90)).await? == Some(renewed));

    // Another session is independent.
    store.put_session("hash-b", &data, t(200), t(260)).await?;
    ensure!(store.session("hash-b", t(201)).await?.is_some());

    ensure!(store.delete_session("hash-b").await?);
    ensure!(!store.delete_session("hash-b").await?);
    ensure!(store.session("hash-b", t(202)).await?.is_none());
    Ok(())
}

pub(crate) async fn thirty_two_concurrent_lease_takers_have_exactly_one_winner(
    store: S,
) -> anyhow::Result<()> {
    let takers = (0..32).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .acquire_lease("seats/pax8/c-1/SPB", &format!("ob-{i}"), t(0), t(60))
                .await
        })
    });
    let mut winners = 0;
    for taker in futures::future::join_all(takers).await {
        if taker?? {
            winners += 1;
        }
    }
    ensure!(winners == 1, "{winners} takers won the lease");
    Ok(())
}

async fn recent_ids(
    store: &S,
    kind: RecordKind,
    filter: RecentFilter,
    limit: u32,
) -> anyhow::Result<Vec<String>> {
    let (records, _) = all_pages(limit, |cursor| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            store
                .list_recent(kind, &filter, limit, cursor.as_ref())
                .await
        }
    })
    .await?;
    for r in &records {
        ensure!(r.kind == kind, "{} has kind {}", r.id, r.kind);
    }
    Ok(records.into_iter().map(|r| r.id).collect())
}

pub(crate) async fn recent_records_are_listed_newest_first_across_pages_and_filters(
    store: S,
) -> anyhow::Result<()> {
    seed_listing(&store).await?;
    // Two created at the same instant: the greater id comes first.
    store
        .create_record(onboarding("g-a", "globex", Status::Scheduled, 50))
        .await?;
    store
        .create_record(onboarding("g-b", "globex", Status::Scheduled, 50))
        .await?;
    let contoso_desc: Vec<String> = (0..23).rev().map(|i| format!("c{i:02}")).collect();
    let fabrikam_desc: Vec<String> = (0..4).rev().map(|i| format!("f{i:02}")).collect();

    let all = recent_ids(&store, RecordKind::Onboarding, RecentFilter::default(), 5).await?;
    let mut expected = fabrikam_desc.clone();
    expected.extend(["g-b".to_owned(), "g-a".to_owned()]);
    expected.extend(contoso_desc.clone());
    assert_eq!(all, expected);

    let contoso = RecentFilter {
        organization: Some("contoso".into()),
        status: None,
    };
    assert_eq!(
        recent_ids(&store, RecordKind::Onboarding, contoso.clone(), 4).await?,
        contoso_desc
    );
    assert_eq!(
        recent_ids(&store, RecordKind::Offboarding, contoso, 2).await?,
        ["o02", "o01", "o00"]
    );

    let running = RecentFilter {
        organization: None,
        status: Some(Status::Running),
    };
    let mut expected = fabrikam_desc;
    expected.extend(
        (0..23)
            .rev()
            .filter(|i| i % 3 != 0)
            .map(|i| format!("c{i:02}")),
    );
    assert_eq!(
        recent_ids(&store, RecordKind::Onboarding, running, 3).await?,
        expected
    );

    let contoso_completed = RecentFilter {
        organization: Some("contoso".into()),
        status: Some(Status::Completed),
    };
    let expected: Vec<String> = (0..23)
        .rev()
        .filter(|i| i % 3 == 0)
        .map(|i| format!("c{i:02}"))
        .collect();
    assert_eq!(
        recent_ids(&store, RecordKind::Onboarding, contoso_completed.clone(), 2).await?,
        expected
    );
    // One page holding everything says there is no next page.
    let page = store
        .list_recent(RecordKind::Onboarding, &contoso_completed, 100, None)
        .await?;
    assert_eq!(page.items.len(), 8);
    assert_eq!(page.next, None);
    Ok(())
}

pub(crate) async fn a_recent_cursor_from_another_listing_is_refused(
    store: S,
) -> anyhow::Result<()> {
    seed_listing(&store).await?;
    let page = store
        .list_recent(RecordKind::Onboarding, &RecentFilter::default(), 2, None)
        .await?;
    let cursor = page.next.context("a next page")?;
    let other = RecentFilter {
        organization: Some("contoso".into()),
        status: None,
    };
    for (kind, filter) in [
        (RecordKind::Onboarding, other),
        (RecordKind::Offboarding, RecentFilter::default()),
    ] {
        let result = store.list_recent(kind, &filter, 2, Some(&cursor)).await;
        ensure!(
            matches!(result, Err(StoreError::InvalidCursor)),
            "{result:?}"
        );
    }
    let forged = Cursor("r1.bm90LWpzb24".into());
    let result = store
        .list_recent(
            RecordKind::Onboarding,
            &RecentFilter::default(),
            2,
            Some(&forged),
        )
        .await;
    ensure!(
        matches!(result, Err(StoreError::InvalidCursor)),
        "{result:?}"
    );
    Ok(())
}

pub(crate) async fn waiting_until_is_kept_until_changed(store: S) -> anyhow::Result<()> {
    store
        .create_record(onboarding("w1", "contoso", Status::Running, 0))
        .await?;
    assert_eq!(store.get_record("w1").await?.unwrap().waiting_until, None);
    store
        .update_record(
            "w1",
            RecordUpdate {
                status: Some(Status::Scheduled),
                waiting_until: Some(t(3600)),
                ..Default::default()
            },
            t(1),
        )
        .await?;
    let record = store.get_record("w1").await?.unwrap();
    assert_eq!(record.waiting_until, Some(t(3600)));
    // Another change leaves it as it is.
    store
        .update_record(
            "w1",
            RecordUpdate {
                ticket_id: Some("T-1".into()),
                ..Default::default()
            },
            t(2),
        )
        .await?;
    assert_eq!(
        store.get_record("w1").await?.unwrap().waiting_until,
        Some(t(3600))
    );
    Ok(())
}

pub(crate) async fn reservations_are_counted_per_pool_until_released_or_expired(
    store: S,
) -> anyhow::Result<()> {
    let pool = "seats/tenant-1/SPB";
    ensure!(store.reservations(pool, t(0)).await?.is_empty());

    store.reserve(pool, "ob-b", t(60)).await?;
    store.reserve(pool, "ob-a", t(30)).await?;
    store
        .reserve("seats/tenant-1/EXCHANGESTANDARD", "ob-c", t(60))
        .await?;
    assert_eq!(store.reservations(pool, t(0)).await?, ["ob-a", "ob-b"]);

    // Holding again moves the expiry (here later, then it outlives t(30)).
    store.reserve(pool, "ob-a", t(90)).await?;
    assert_eq!(store.reservations(pool, t(45)).await?, ["ob-a", "ob-b"]);
    // A place expiring at `now` is gone.
    assert_eq!(store.reservations(pool, t(60)).await?, ["ob-a"]);

    ensure!(store.release_reservation(pool, "ob-a").await?);
    ensure!(!store.release_reservation(pool, "ob-a").await?);
    ensure!(!store.release_reservation(pool, "never").await?);
    // ob-b's place is still there until it expires.
    assert_eq!(store.reservations(pool, t(0)).await?, ["ob-b"]);
    assert!(store.reservations(pool, t(61)).await?.is_empty());
    assert_eq!(
        store
            .reservations("seats/tenant-1/EXCHANGESTANDARD", t(0))
            .await?,
        ["ob-c"]
    );
    // Names with the key separators are kept apart.
    store.reserve("seats/a#b", "x#y", t(60)).await?;
    assert_eq!(store.reservations("seats/a#b", t(0)).await?, ["x#y"]);
    assert!(store.reservations("seats/a", t(0)).await?.is_empty());
    Ok(())
}
