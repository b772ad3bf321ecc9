//! Decision links: approve, deny, a second click, tampered, unknown and expired links,
//! and the license purchase's confirm and reject.

use jiff::SignedDuration;
use onboard_steps::decisions::{
    Action, DecideError, LinkError, decide, decide_by_link, describe_decision, resume, verify_link,
};
use onboard_steps::remind_approvers;
use onboard_store::Store;
use serde_json::json;

use crate::support::{Callback, Env, ORG, links_in, query_of};

async fn approval_env() -> Env {
    let env = Env::new().await;
    env.set_variables(&[
        ("require_approval_for_new_users", "1"),
        ("new_user_approval_email", "hr@contoso.com"),
        ("approval_timeout_hours", "48"),
    ])
    .await;
    env.submit("ob-a", json!({})).await;
    let id = json!({"onboarding_id": "ob-a"});
    let plan = env.ok("Validate", id.clone()).await;
    assert_eq!(plan["approval_required"], true);
    assert_eq!(plan["approval_timeout_seconds"], 48 * 3600);
    env.ok("EnsureTicket", id).await;
    env.ok(
        "RequestApproval",
        json!({"onboarding_id": "ob-a", "task_token": "token-A", "timeout_seconds": 48 * 3600}),
    )
    .await;
    env
}

/// The approve and deny links of the approval mail.
fn approval_links(env: &Env) -> (String, String) {
    let mail = env
        .mails()
        .into_iter()
        .find(|m| m.to == ["hr@contoso.com"])
        .expect("an approval mail");
    let links = links_in(&mail.body);
    let approve = links
        .iter()
        .find(|l| l.contains("action=approve"))
        .unwrap()
        .clone();
    let deny = links
        .iter()
        .find(|l| l.contains("action=deny"))
        .unwrap()
        .clone();
    (approve, deny)
}

#[tokio::test]
async fn approving_resumes_the_task_once_and_notes_who_approved() {
    let env = approval_env().await;
    assert_eq!(env.record("ob-a").await.status.as_str(), "pending_approval");
    let mail = env
        .mails()
        .into_iter()
        .find(|m| m.to == ["hr@contoso.com"])
        .unwrap();
    assert!(mail.subject.as_deref().unwrap().contains("Ana Silva"));
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.contains("Approval to create Ana Silva was requested from hr@contoso.com"))
    );

    let (approve, _) = approval_links(&env);
    let (id, query) = query_of(&approve);
    let link = verify_link(&env.deps, &id, &query).await.unwrap();
    assert_eq!(link.action, Action::Approve);
    assert_eq!(link.recipient.as_deref(), Some("hr@contoso.com"));
    let page = describe_decision(&env.deps, &link).await.unwrap();
    assert_eq!(page.display_name, "Ana Silva");
    assert_eq!(page.organization, ORG);
    assert!(
        page.question
            .starts_with("Approve the creation of Ana Silva")
    );
    assert_eq!(
        page.expires_at,
        env.deps
            .clock
            .now()
            .checked_add(SignedDuration::from_hours(48))
            .unwrap()
    );
    assert!(env.callbacks.calls().is_empty(), "a GET decides nothing");

    let decided = decide(
        &env.deps,
        &env.callbacks,
        &id,
        Action::Approve,
        "hr@contoso.com",
    )
    .await
    .unwrap();
    assert_eq!(decided.decided_by.as_deref(), Some("hr@contoso.com"));
    let calls = env.callbacks.calls();
    assert_eq!(calls.len(), 1);
    let Callback::Success { token, output } = &calls[0] else {
        panic!("{calls:?}")
    };
    assert_eq!(token, "token-A");
    assert_eq!(output["decision"], "approved");
    assert_eq!(output["decided_by"], "hr@contoso.com");
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.starts_with("hr@contoso.com approved the creation of Ana Silva"))
    );
    assert!(
        env.timeline("ob-a")
            .await
            .contains(&"request_approval: approved by hr@contoso.com".to_owned())
    );

    // A second click: 409 with who and when, and no second resume.
    let second = decide(
        &env.deps,
        &env.callbacks,
        &id,
        Action::Deny,
        "boss@contoso.com",
    )
    .await
    .unwrap_err();
    assert_eq!(second.http_status(), 409);
    assert!(
        second.to_string().contains("approved by hr@contoso.com"),
        "{second}"
    );
    assert_eq!(env.callbacks.calls().len(), 1);
    // The page of a decided link says who decided.
    let page = describe_decision(
        &env.deps,
        &verify_link(&env.deps, &id, &query).await.unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(page.decided_by.as_deref(), Some("hr@contoso.com"));
}

#[tokio::test]
async fn denying_fails_the_task_with_approval_denied_and_creates_no_user() {
    let env = approval_env().await;
    let (_, deny) = approval_links(&env);
    let (id, query) = query_of(&deny);
    let link = verify_link(&env.deps, &id, &query).await.unwrap();
    decide(
        &env.deps,
        &env.callbacks,
        &id,
        link.action,
        "hr@contoso.com",
    )
    .await
    .unwrap();
    let calls = env.callbacks.calls();
    let Callback::Failure { error, token, .. } = &calls[0] else {
        panic!("{calls:?}")
    };
    assert_eq!(error, "Approval.Denied");
    assert_eq!(token, "token-A");

    let closed = env
        .ok(
            "CloseRequest",
            json!({"onboarding_id": "ob-a", "outcome": "denied"}),
        )
        .await;
    assert_eq!(closed["status"], "denied");
    assert_eq!(env.record("ob-a").await.status.as_str(), "denied");
    assert!(!env.users_named("asilva@contoso.com"));
    assert_eq!(env.tickets()[0].status.name, "Completed");
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.contains("hr@contoso.com denied the creation of Ana Silva"))
    );
}

#[tokio::test]
async fn tampered_unknown_and_expired_links_are_refused() {
    let env = approval_env().await;
    let (approve, _) = approval_links(&env);
    let (id, query) = query_of(&approve);

    let mut tampered = query.clone();
    tampered.action = "deny".into();
    let err = verify_link(&env.deps, &id, &tampered).await.unwrap_err();
    assert!(matches!(err, LinkError::Tampered));
    assert_eq!(err.http_status(), 403);
    let mut forged = query.clone();
    forged.sig.replace_range(0..2, "AA");
    assert_eq!(
        verify_link(&env.deps, &id, &forged)
            .await
            .unwrap_err()
            .http_status(),
        403
    );

    let unknown = env.deps.links.link(
        "no-such-decision",
        Action::Approve,
        env.deps
            .clock
            .now()
            .checked_add(SignedDuration::from_hours(1))
            .unwrap(),
        None,
    );
    let (uid, uquery) = query_of(unknown.as_str());
    assert_eq!(
        verify_link(&env.deps, &uid, &uquery)
            .await
            .unwrap_err()
            .http_status(),
        404
    );

    env.clock.advance(SignedDuration::from_hours(49));
    let err = verify_link(&env.deps, &id, &query).await.unwrap_err();
    assert_eq!(err.http_status(), 410, "{err}");
    let err = decide(
        &env.deps,
        &env.callbacks,
        &id,
        Action::Approve,
        "late@contoso.com",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DecideError::Expired { .. }), "{err}");
    assert_eq!(err.http_status(), 410);
    assert!(env.callbacks.calls().is_empty());
}

#[tokio::test]
async fn an_approval_timeout_closes_the_request_and_expires_its_links() {
    let env = approval_env().await;
    let (approve, _) = approval_links(&env);
    let (id, query) = query_of(&approve);
    env.ok(
        "CloseRequest",
        json!({"onboarding_id": "ob-a", "outcome": "approval_timed_out"}),
    )
    .await;
    assert_eq!(
        env.record("ob-a").await.status.as_str(),
        "approval_timed_out"
    );
    assert!(env.note_texts().iter().any(|n| {
        n.contains("Nobody approved or denied the creation of Ana Silva within 48 hours")
    }));
    assert_eq!(
        verify_link(&env.deps, &id, &query)
            .await
            .unwrap_err()
            .http_status(),
        410
    );
    assert!(!env.users_named("asilva@contoso.com"));
}

#[tokio::test]
async fn a_repeated_request_with_the_same_token_sends_nothing_new_and_a_new_token_supersedes() {
    let env = approval_env().await;
    let payload =
        json!({"onboarding_id": "ob-a", "task_token": "token-A", "timeout_seconds": 3600});
    let first = env.ok("RequestApproval", payload.clone()).await;
    assert_eq!(env.mails().len(), 1);
    let (old_approve, _) = approval_links(&env);

    let retried = env
        .ok(
            "RequestApproval",
            json!({"onboarding_id": "ob-a", "task_token": "token-B", "timeout_seconds": 3600}),
        )
        .await;
    assert_ne!(first["decision_id"], retried["decision_id"]);
    assert_eq!(env.mails().len(), 2);
    assert!(env.mails()[1].body.contains("replaces an earlier one"));
    let (old_id, old_query) = query_of(&old_approve);
    assert_eq!(
        verify_link(&env.deps, &old_id, &old_query)
            .await
            .unwrap_err()
            .http_status(),
        410
    );
    let new_id = retried["decision_id"].as_str().unwrap();
    decide(
        &env.deps,
        &env.callbacks,
        new_id,
        Action::Approve,
        "hr@contoso.com",
    )
    .await
    .unwrap();
    let calls = env.callbacks.calls();
    assert!(matches!(&calls[0], Callback::Success { token, .. } if token == "token-B"));
}

#[tokio::test]
async fn a_failed_resume_can_be_retried_once() {
    let env = approval_env().await;
    let (approve, _) = approval_links(&env);
    let (id, _) = query_of(&approve);
    *env.callbacks.fail_next.lock().unwrap() = true;
    let err = decide(
        &env.deps,
        &env.callbacks,
        &id,
        Action::Approve,
        "hr@contoso.com",
    )
    .await
    .unwrap_err();
    assert_eq!(err.http_status(), 502);
    assert!(resume(&env.deps, &env.callbacks, &id).await.unwrap());
    assert!(!resume(&env.deps, &env.callbacks, &id).await.unwrap());
    assert_eq!(env.callbacks.calls().len(), 1);
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.starts_with("hr@contoso.com approved the creation of Ana Silva"))
    );
}

async fn purchase_env() -> (Env, String, String) {
    let env = Env::new().await;
    env.submit("ob-l", json!({"licenses": ["SPB"]})).await;
    env.through_create_user("ob-l").await;
    let license = env
        .ok(
            "AssignLicense",
            json!({"onboarding_id": "ob-l", "after_purchase": false}),
        )
        .await;
    assert_eq!(license["next"], "manual_purchase");
    env.ok(
        "RequestLicensePurchase",
        json!({"onboarding_id": "ob-l", "task_token": "token-L", "timeout_seconds": 86400}),
    )
    .await;
    let note = env
        .note_texts()
        .into_iter()
        .find(|n| n.contains("Confirm license purchase"))
        .unwrap();
    let links = links_in(&note);
    let confirm = links
        .iter()
        .find(|l| l.contains("action=confirm"))
        .unwrap()
        .clone();
    let reject = links
        .iter()
        .find(|l| l.contains("action=reject"))
        .unwrap()
        .clone();
    (env, confirm, reject)
}

#[tokio::test]
async fn confirming_a_purchase_resumes_and_the_license_is_assigned() {
    let (env, confirm, _) = purchase_env().await;
    let (id, query) = query_of(&confirm);
    let link = verify_link(&env.deps, &id, &query).await.unwrap();
    let page = describe_decision(&env.deps, &link).await.unwrap();
    assert_eq!(page.licenses, ["SPB"]);
    decide(
        &env.deps,
        &env.callbacks,
        &id,
        Action::Confirm,
        "tech@msp.example",
    )
    .await
    .unwrap();
    assert!(
        matches!(&env.callbacks.calls()[0], Callback::Success { token, .. } if token == "token-L")
    );
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.contains("The manual purchase of SPB was confirmed by tech@msp.example"))
    );

    // The technician bought a seat, but it is not in the tenant yet.
    let after = json!({"onboarding_id": "ob-l", "after_purchase": true});
    let err = env.run("AssignLicense", after.clone()).await.unwrap_err();
    assert_eq!(err.name(), "License.SeatsPending");
    env.graph
        .state()
        .add_seats(crate::support::TENANT, "SPB", 1)
        .unwrap();
    let license = env.ok("AssignLicense", after).await;
    assert_eq!(license["outcome"], "purchase_confirmed");
    assert_eq!(
        env.record("ob-l").await.license_outcome.map(|o| o.as_str()),
        Some("purchase_confirmed")
    );
}

#[tokio::test]
async fn rejecting_or_ignoring_a_purchase_continues_without_the_license() {
    let (env, _, reject) = purchase_env().await;
    let (id, _) = query_of(&reject);
    decide(
        &env.deps,
        &env.callbacks,
        &id,
        Action::Reject,
        "tech@msp.example",
    )
    .await
    .unwrap();
    assert!(matches!(
        &env.callbacks.calls()[0],
        Callback::Failure { error, .. } if error == "License.PurchaseRejected"
    ));
    let out = env
        .ok(
            "RecordLicenseOutcome",
            json!({"onboarding_id": "ob-l", "outcome": "purchase_rejected"}),
        )
        .await;
    assert_eq!(out["outcome"], "purchase_rejected");
    let record = env.record("ob-l").await;
    assert_eq!(
        record.license_outcome.map(|o| o.as_str()),
        Some("purchase_rejected")
    );
    assert_eq!(record.status.as_str(), "running");
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.contains("was rejected, so no license was bought"))
    );

    let (env, confirm, _) = purchase_env().await;
    let (id, query) = query_of(&confirm);
    env.ok(
        "RecordLicenseOutcome",
        json!({"onboarding_id": "ob-l", "outcome": "purchase_timed_out"}),
    )
    .await;
    assert_eq!(
        env.record("ob-l").await.license_outcome.map(|o| o.as_str()),
        Some("purchase_timed_out")
    );
    assert!(
        env.note_texts()
            .iter()
            .any(|n| n.contains("within 24 hours"))
    );
    assert_eq!(
        verify_link(&env.deps, &id, &query)
            .await
            .unwrap_err()
            .http_status(),
        410
    );
    let wrong = decide(&env.deps, &env.callbacks, &id, Action::Approve, "x")
        .await
        .unwrap_err();
    assert_eq!(wrong.http_status(), 403);
}

#[tokio::test]
async fn approvers_are_reminded_once_per_period_until_someone_decides() {
    let env = approval_env().await;
    let reminders = |env: &Env| {
        env.mails()
            .into_iter()
            .filter(|m| {
                m.subject
                    .as_deref()
                    .is_some_and(|s| s.starts_with("Reminder"))
            })
            .count()
    };
    assert_eq!(
        remind_approvers(&env.deps, ORG).await.unwrap(),
        0,
        "nothing due yet"
    );
    env.clock.advance(SignedDuration::from_hours(25));
    assert_eq!(remind_approvers(&env.deps, ORG).await.unwrap(), 1);
    assert_eq!(
        remind_approvers(&env.deps, ORG).await.unwrap(),
        0,
        "sent once"
    );
    assert_eq!(reminders(&env), 1);
    let reminder = env.mails().pop().unwrap();
    assert_eq!(reminder.to, ["hr@contoso.com"]);
    assert!(
        links_in(&reminder.body)
            .iter()
            .any(|l| l.contains("action=approve"))
    );

    let (approve, _) = approval_links(&env);
    let (id, _) = query_of(&approve);
    decide(
        &env.deps,
        &env.callbacks,
        &id,
        Action::Approve,
        "hr@contoso.com",
    )
    .await
    .unwrap();
    env.clock.advance(SignedDuration::from_hours(20));
    assert_eq!(
        remind_approvers(&env.deps, ORG).await.unwrap(),
        0,
        "decided: no reminder"
    );
}

#[tokio::test]
async fn posting_a_link_decides_as_its_recipient_and_refusals_carry_their_status() {
    let env = approval_env().await;
    let (approve, deny) = approval_links(&env);
    let (id, query) = query_of(&deny);
    let mut tampered = query.clone();
    tampered.to = Some("mallory@example.com".into());
    let err = decide_by_link(&env.deps, &env.callbacks, &id, &tampered, None)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 403);
    assert!(env.callbacks.calls().is_empty());

    let decided = decide_by_link(&env.deps, &env.callbacks, &id, &query, None)
        .await
        .unwrap();
    assert_eq!(decided.decided_by.as_deref(), Some("hr@contoso.com"));
    let (id, query) = query_of(&approve);
    let second = decide_by_link(&env.deps, &env.callbacks, &id, &query, None)
        .await
        .unwrap_err();
    assert_eq!(second.http_status(), 409);
    assert!(
        second.to_string().contains("denied by hr@contoso.com"),
        "{second}"
    );
}

#[tokio::test]
async fn a_decision_resumes_the_workflow_even_when_the_ticket_is_down() {
    let env = approval_env().await;
    let (approve, _) = approval_links(&env);
    let (id, query) = query_of(&approve);
    env.cw
        .faults()
        .set(onboard_sandbox::faults::FaultSettings {
            error_rate: 1.0,
            error_status: 503,
            ..Default::default()
        })
        .unwrap();
    decide_by_link(&env.deps, &env.callbacks, &id, &query, None)
        .await
        .unwrap();
    assert!(
        matches!(&env.callbacks.calls()[0], Callback::Success { token, .. } if token == "token-A")
    );
}

#[tokio::test]
async fn a_decision_left_behind_by_a_crash_is_superseded_when_the_task_runs_again() {
    let env = Env::new().await;
    env.set_variables(&[
        ("require_approval_for_new_users", "1"),
        ("new_user_approval_email", "hr@contoso.com"),
    ])
    .await;
    env.submit("ob-c", json!({})).await;
    let id = json!({"onboarding_id": "ob-c"});
    env.ok("Validate", id.clone()).await;
    env.ok("EnsureTicket", id).await;
    // A first attempt stored its decision and died before remembering it.
    let orphan = env
        .store
        .create_decision(onboard_store::NewDecision {
            kind: onboard_store::DecisionKind::Approval,
            record_id: "ob-c".into(),
            task_token: secrecy::SecretString::from("token-X"),
            expires_at: env
                .deps
                .clock
                .now()
                .checked_add(SignedDuration::from_hours(1))
                .unwrap(),
            created_at: env.deps.clock.now(),
        })
        .await
        .unwrap();
    let out = env
        .ok(
            "RequestApproval",
            json!({"onboarding_id": "ob-c", "task_token": "token-X", "timeout_seconds": 3600}),
        )
        .await;
    let pending = env
        .store
        .pending_decisions(ORG, 10, None)
        .await
        .unwrap()
        .items;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, out["decision_id"].as_str().unwrap());
    assert_ne!(pending[0].id, orphan.id);
    assert_eq!(env.mails().len(), 1);
}
