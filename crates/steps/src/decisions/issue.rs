//! Issuing decisions and their links, and expiring them: [`decision_links`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::SignedDuration;
use onboard_store::{Decide, Decision, DecisionKind, DecisionState, NewDecision};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::{key, log_append, log_entries, recall, remember};

use super::links::*;

/// A decision issued to a waiting task, with its links.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    /// The decision.
    pub(crate) decision: Decision,
    /// The positive action's link (approve / confirm).
    pub(crate) yes: Url,
    /// The negative action's link (deny / reject).
    pub(crate) no: Url,
    /// Its position among the decisions of this kind for the record (0 first).
    pub(crate) generation: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IssuedEntry {
    decision_id: String,
    generation: u32,
}

/// Stores `task_token` as a decision of `kind` for `onboarding_id`, once per token:
/// a repeated call with the same token finds the first decision. A new token (the
/// task was retried) supersedes every other pending decision of the kind for the
/// record, whose links then answer 410.
pub(crate) async fn issue(
    deps: &Deps,
    onboarding_id: &str,
    organization: &str,
    step: &str,
    kind: DecisionKind,
    task_token: &SecretString,
    timeout_seconds: u64,
) -> Result<Issued, StepError> {
    let token_hash = {
        let digest = Sha256::digest(task_token.expose_secret().as_bytes());
        URL_SAFE_NO_PAD.encode(&digest[..16])
    };
    let by_token = key(onboarding_id, step, &format!("token/{token_hash}"));
    let log = key(onboarding_id, step, "decisions");
    let store = deps.store.as_ref();
    let now = deps.clock.now();

    if let Some(entry) = recall::<IssuedEntry>(store, &by_token).await? {
        let decision = store
            .get_decision(&entry.decision_id)
            .await?
            .ok_or_else(|| {
                StepError::Internal(format!("decision {} vanished", entry.decision_id))
            })?;
        return Ok(links(deps, decision, entry.generation));
    }

    let seconds = i64::try_from(timeout_seconds)
        .map_err(|_| StepError::Config(format!("timeout {timeout_seconds}s is too long")))?;
    let expires_at = now
        .checked_add(SignedDuration::from_secs(seconds))
        .map_err(|_| StepError::Config(format!("timeout {timeout_seconds}s is too long")))?;
    let decision = store
        .create_decision(NewDecision {
            kind,
            record_id: onboarding_id.to_owned(),
            task_token: task_token.clone(),
            expires_at,
            created_at: now,
        })
        .await?;
    let generation = log_append(store, &log, &decision.id, now).await?;
    let entry = remember(
        store,
        &by_token,
        &IssuedEntry {
            decision_id: decision.id.clone(),
            generation,
        },
        now,
    )
    .await?;
    if entry.decision_id != decision.id {
        // A concurrent call with the same token won: ours is never shown.
        expire(deps, &decision.id, "superseded").await?;
        let winner = store
            .get_decision(&entry.decision_id)
            .await?
            .ok_or_else(|| {
                StepError::Internal(format!("decision {} vanished", entry.decision_id))
            })?;
        return Ok(links(deps, winner, entry.generation));
    }
    // Every other pending decision of this kind for the record is superseded: the
    // earlier attempts' (their links answer 410 now), and one a crash left behind
    // before it was remembered.
    let mut cursor = None;
    loop {
        let page = store
            .pending_decisions(organization, 100, cursor.as_ref())
            .await?;
        for old in &page.items {
            if old.record_id == onboarding_id && old.kind == kind && old.id != decision.id {
                expire(deps, &old.id, "superseded").await?;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(links(deps, decision, generation))
}

fn links(deps: &Deps, decision: Decision, generation: u32) -> Issued {
    let [yes, no] = decision_links(deps, &decision, None);
    Issued {
        yes: yes.1,
        no: no.1,
        decision,
        generation,
    }
}

/// The two links of a decision (approve and deny, or confirm and reject), for
/// `recipient` when given: what a mail, a ticket note or the pending-decisions
/// page of `onboard serve` shows.
pub fn decision_links(
    deps: &Deps,
    decision: &Decision,
    recipient: Option<&str>,
) -> [(Action, Url); 2] {
    Action::of(decision.kind).map(|action| {
        (
            action,
            deps.links
                .link(&decision.id, action, decision.expires_at, recipient),
        )
    })
}

/// Moves a pending decision to `expired` (by `timeout` or `superseded`); a decided
/// one stays as it is.
async fn expire(deps: &Deps, decision_id: &str, by: &str) -> Result<(), StepError> {
    deps.store
        .decide(
            decision_id,
            Decide {
                to: DecisionState::Expired,
                by: by.to_owned(),
                at: deps.clock.now(),
            },
        )
        .await?;
    Ok(())
}

/// Expires every pending decision `step` issued for `onboarding_id` (the workflow
/// stopped waiting), so late clicks answer 410.
pub(crate) async fn expire_all(
    deps: &Deps,
    onboarding_id: &str,
    step: &str,
) -> Result<(), StepError> {
    let log = key(onboarding_id, step, "decisions");
    let ids: Vec<String> = log_entries(deps.store.as_ref(), &log).await?;
    for id in ids {
        expire(deps, &id, "timeout").await?;
    }
    Ok(())
}
