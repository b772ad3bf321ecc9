//! Removing the user's authentication methods, and remembering them for a restore.

use onboard_connectors::graph::{AuthenticationMethod, Directory, TenantId};
use onboard_connectors::{Error as ConnectorError, graph::ObjectId};
use onboard_store::RecordUpdate;

use crate::context::update;
use crate::deps::Deps;
use crate::error::StepError;
use crate::idempotency::{key, recall, remember};
use crate::offboarding::Offboarding;
use crate::offboarding::record_restore_point::{AuthMethodEntry, Output as RestorePoint};

use super::{ActionResult, graph};

/// Deletes every authentication method Graph can delete, the alternate mobile number
/// before the mobile one (Graph refuses the other order), and adds what was removed to
/// the restore record (masked). The listing is remembered before the first deletion, so
/// a retry deletes (or finds gone) the same methods and records the same list.
pub(super) async fn remove_auth_methods(
    deps: &Deps,
    offboarding: &Offboarding,
    dir: &dyn Directory,
    tenant: &TenantId,
    user: &ObjectId,
    point: &RestorePoint,
) -> Result<ActionResult, StepError> {
    const ACTION: &str = "remove_auth_methods";
    const FORBIDDEN: &str = "Graph refused (the app registration needs UserAuthenticationMethod.ReadWrite.All, and an administrator's methods need the Privileged Authentication Administrator role): remove them in the Entra admin center";
    let listed_key = key(offboarding.id(), "offboard_user", "auth_methods/listed");
    let listed: Vec<AuthenticationMethod> = match recall(deps.store.as_ref(), &listed_key).await? {
        Some(listed) => listed,
        None => {
            let methods = match dir.authentication_methods(tenant, user).await {
                Ok(methods) => methods,
                Err(ConnectorError::Forbidden { .. }) => {
                    return Ok(ActionResult::skipped(ACTION, FORBIDDEN));
                }
                Err(e) => return Err(graph(e)),
            };
            remember(deps.store.as_ref(), &listed_key, &methods, deps.clock.now()).await?
        }
    };
    let mut removable: Vec<&AuthenticationMethod> =
        listed.iter().filter(|m| m.collection().is_some()).collect();
    // `false` sorts first: the mobile number goes last.
    removable.sort_by_key(|m| m.phone_type.as_deref() == Some("mobile"));
    let mut removed = Vec::new();
    let mut refused = Vec::new();
    for method in removable {
        match dir.delete_authentication_method(tenant, user, method).await {
            Ok(_) => removed.push(method),
            Err(ConnectorError::Forbidden { .. }) => {
                return Ok(ActionResult::skipped(ACTION, FORBIDDEN));
            }
            // e.g. the phone that is the user's default MFA method: a fact about this
            // user, for a technician, not a reason to stop the offboarding.
            Err(ConnectorError::Rejected {
                status: 400,
                message,
                ..
            }) => refused.push(format!("{} ({message})", method.describe())),
            Err(e) => return Err(graph(e)),
        }
    }
    // Noted and recorded in Graph's listing order, not the order of deletion.
    let removed: Vec<&AuthenticationMethod> = listed
        .iter()
        .filter(|m| removed.iter().any(|r| r.id == m.id && r.kind == m.kind))
        .collect();
    let others: Vec<&str> = listed
        .iter()
        .filter(|m| m.collection().is_none() && m.kind != "password")
        .map(|m| m.kind.as_str())
        .collect();

    let mut record = point.clone();
    record.authentication_methods = removed
        .iter()
        .map(|m| AuthMethodEntry {
            method_type: m.kind.clone(),
            phone_type: m.phone_type.clone(),
            detail: m.detail.clone(),
        })
        .collect();
    let json = serde_json::to_value(&record)
        .map_err(|e| StepError::Internal(format!("cannot encode the restore record: {e}")))?;
    update(
        deps,
        offboarding.id(),
        "offboard_user",
        &format!(
            "restore record: {} authentication method(s) removed",
            record.authentication_methods.len()
        ),
        RecordUpdate {
            removed: Some(json),
            ..RecordUpdate::default()
        },
    )
    .await?;

    let mut detail = if removed.is_empty() {
        "no authentication method besides the password".to_owned()
    } else {
        format!(
            "removed {}",
            removed
                .iter()
                .map(|m| m.describe())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    detail.push_str("; the password method cannot be deleted (the password reset replaces it)");
    if !refused.is_empty() {
        detail.push_str(&format!(
            "; Graph refused to delete {}: remove them in the Entra admin center",
            refused.join("; ")
        ));
    }
    if !others.is_empty() {
        detail.push_str(&format!(
            "; left {}: Graph v1.0 cannot delete them, remove them in the Entra admin center",
            others.join(", ")
        ));
    }
    Ok(ActionResult::done(ACTION, detail))
}
