//! Step `CreateUser`: creates the Entra ID user, or finds the one a retry already created.
//!
//! The username is chosen once (the format, then the collision rules, checked
//! against every UPN, mail and proxy address of the tenant) and remembered before
//! the user is created, so a retry looks up that UPN instead of creating a second
//! user. The user is created with a random password nobody learns: the first real
//! credentials are set by `DeliverCredentials`, so no password is ever stored.
//!
//! The user carries the onboarding's id in `user_marker_attribute`
//! (`onPremisesExtensionAttributes.extensionAttribute15` by default): "is this
//! user ours?" is answered by that mark, never by a name another user can share.
//! The create is sent once ([`onboard_connectors::http::HttpClient::send_write`]):
//! when its answer is lost, the user is looked up by its UPN and mark before the
//! create is sent again, so a lost answer never makes a second user.

use onboard_connectors::Error as ConnectorError;
use onboard_connectors::graph::{self, Directory, NewUser, PasswordPolicies, Profile, TenantId};
use onboard_domain::variables::IdentityProvider;
use onboard_domain::{
    OnboardingRequest, UsernameChoice, Variables, choose_username, generate_password, notes,
};
use onboard_store::{RecordUpdate, Status};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::context::update;
use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::idempotency::{key, recall, remember};
use crate::onboarding::Onboarding;

/// Most usernames tried against the directory before giving up.
const MAX_CANDIDATES: usize = 50;

/// The input of `CreateUser`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
}

/// The user, as `$.user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The directory object id.
    pub user_id: String,
    /// The UPN.
    pub user_principal_name: String,
    /// The manager that was set, if any.
    pub manager: Option<String>,
    /// A manager the form named but the directory does not have.
    pub manager_not_found: Option<String>,
}

/// The username chosen before creation: what a retry creates or finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Intent {
    user_principal_name: String,
    choice: UsernameChoice,
}

/// The result of `CreateUser` for `onboarding_id`, once it has run.
pub(crate) async fn created(deps: &Deps, onboarding_id: &str) -> Result<Output, StepError> {
    recall(
        deps.store.as_ref(),
        &key(onboarding_id, "create_user", "done"),
    )
    .await?
    .ok_or_else(|| {
        StepError::Internal(format!(
            "onboarding {onboarding_id} has no user yet: CreateUser must run first"
        ))
    })
}

fn graph(e: ConnectorError) -> StepError {
    StepError::connector(Port::Graph, e)
}

/// Chooses a username no object of the tenant uses as UPN, mail or alias.
async fn choose(
    directory: &dyn Directory,
    tenant: &TenantId,
    onboarding: &Onboarding,
    lost: &[Intent],
) -> Result<Intent, StepError> {
    // Usernames an earlier candidate of this run lost to another onboarding.
    let taken: Vec<String> = lost
        .iter()
        .flat_map(|i| {
            [
                i.choice.username.as_str().to_owned(),
                i.choice.sam_account_name.clone(),
            ]
        })
        .collect();
    let (user_principal_name, choice) = free_username(
        directory,
        tenant,
        &onboarding.request,
        &onboarding.variables,
        &onboarding.organization.domain,
        taken,
    )
    .await?;
    Ok(Intent {
        user_principal_name,
        choice,
    })
}

/// The first username of `request` (the organization's `username_format`, then
/// its collision rules) whose UPN at `domain` no object of the tenant holds as
/// UPN, mail or proxy address, skipping `taken`. Read-only: `CreateUser` creates
/// under it, `POST /api/onboardings/plan` shows it.
pub async fn free_username(
    directory: &dyn Directory,
    tenant: &TenantId,
    request: &OnboardingRequest,
    variables: &Variables,
    domain: &str,
    mut taken: Vec<String>,
) -> Result<(String, UsernameChoice), StepError> {
    let rules = variables.username_rules();
    for _ in 0..MAX_CANDIDATES {
        let choice = choose_username(&request.name, request.username.as_ref(), &rules, &taken)?;
        let upn = choice.username.user_principal_name(domain);
        let holders = directory
            .find_users_by_address(tenant, &upn)
            .await
            .map_err(graph)?;
        if holders.is_empty() {
            return Ok((upn, choice));
        }
        taken.push(choice.username.as_str().to_owned());
        taken.push(choice.sam_account_name.clone());
    }
    Err(StepError::UserExists(format!(
        "no free username after {MAX_CANDIDATES} candidates; give an explicit `username`"
    )))
}

/// Creates the user (or finds the one an earlier attempt created).
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "create_user"))]
pub async fn create_user(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let done = key(&input.onboarding_id, "create_user", "done");
    if let Some(output) = recall::<Output>(deps.store.as_ref(), &done).await? {
        return Ok(output);
    }
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let vars = &onboarding.variables;
    if vars.no_azure_ad || vars.primary_identity_provider != IdentityProvider::AzureAd {
        return Err(StepError::Config(format!(
            "primary_identity_provider `{}` (no_azure_ad = {}) is not supported: Onboard creates users in Entra ID only",
            vars.primary_identity_provider, vars.no_azure_ad
        )));
    }
    let directory = onboarding.directory(deps).await?;
    let tenant = onboarding.organization.tenant.clone();
    let request = &onboarding.request;

    let (intent, user) = create_or_find(deps, directory.as_ref(), &tenant, &onboarding).await?;
    let upn = intent.user_principal_name.clone();

    let mut manager = None;
    let mut manager_not_found = None;
    if let Some(address) = &request.manager_email {
        let found = directory
            .find_users_by_address(&tenant, address.as_str())
            .await
            .map_err(graph)?;
        match found.into_iter().next() {
            Some(m) => {
                directory
                    .set_manager(&tenant, &user.id, &m.id)
                    .await
                    .map_err(graph)?;
                manager = Some(m.user_principal_name);
            }
            None => manager_not_found = Some(address.as_str().to_owned()),
        }
    }

    let mut text = notes::user_created(&request.display_name, &upn, &intent.choice);
    if let Some(m) = &manager {
        text.push_str(&format!("\nManager: {m}"));
    }
    if let Some(m) = &manager_not_found {
        text.push_str(&format!(
            "\nThe manager {m} was not found in the directory, so no manager was set; set it by hand."
        ));
    }
    onboarding.note(deps, "create_user", &text).await?;
    update(
        deps,
        onboarding.id(),
        "create_user",
        &format!("created {upn}"),
        RecordUpdate {
            status: Some(Status::Running),
            user_principal_name: Some(upn.clone()),
            ..RecordUpdate::default()
        },
    )
    .await?;
    let output = Output {
        user_id: user.id.as_str().to_owned(),
        user_principal_name: upn,
        manager,
        manager_not_found,
    };
    remember(deps.store.as_ref(), &done, &output, deps.clock.now()).await
}

/// A candidate that another onboarding took between our check and our create.
fn lost_key(onboarding_id: &str, attempt: usize) -> String {
    key(onboarding_id, "create_user", &format!("lost{attempt}"))
}

/// The candidate of attempt `attempt`: attempt 0 keeps the original key, so
/// records written before candidates could be lost still read back.
fn intent_key(onboarding_id: &str, attempt: usize) -> String {
    if attempt == 0 {
        key(onboarding_id, "create_user", "intent")
    } else {
        key(onboarding_id, "create_user", &format!("intent{attempt}"))
    }
}

/// The durable mark on the users an onboarding creates: its id, in the
/// organization's `user_marker_attribute`.
fn marker(onboarding_id: &str) -> String {
    format!("onboard:{onboarding_id}")
}

/// Whether `existing` is the user this onboarding created: it carries the
/// onboarding's mark. Without a marker attribute (set to null) only a candidate
/// this run may already have created counts, by its display name.
fn is_ours(
    existing: &graph::User,
    onboarding: &Onboarding,
    marker_attribute: Option<&str>,
    retry: bool,
) -> bool {
    carries_mark(
        existing,
        onboarding.id(),
        &onboarding.request.display_name,
        marker_attribute,
        retry,
    )
}

fn carries_mark(
    existing: &graph::User,
    onboarding_id: &str,
    display_name: &str,
    marker_attribute: Option<&str>,
    retry: bool,
) -> bool {
    match marker_attribute {
        Some(attribute) => {
            existing.extension_attribute(attribute) == Some(marker(onboarding_id).as_str())
        }
        None => retry && existing.display_name.as_deref() == Some(display_name),
    }
}

/// Creates the user under the remembered candidate, or finds the one an earlier
/// attempt of this step created (by the mark it carries). A create whose answer
/// was lost is never sent again blindly: the user is looked up first. When another onboarding takes the candidate
/// between our check and our create (two "Jane Doe"s at once), the candidate is
/// marked lost and the next one is chosen, instead of failing the run.
async fn create_or_find(
    deps: &Deps,
    directory: &dyn Directory,
    tenant: &TenantId,
    onboarding: &Onboarding,
) -> Result<(Intent, graph::User), StepError> {
    let id = onboarding.id();
    let request = &onboarding.request;
    let vars = &onboarding.variables;
    let marker_attribute = vars.marker_attribute().map_err(StepError::Config)?;
    let mut lost: Vec<Intent> = Vec::new();
    for attempt in 0..MAX_CANDIDATES {
        // A candidate this run already gave up: skip to the next attempt.
        if let Some(gone) = recall::<Intent>(deps.store.as_ref(), &lost_key(id, attempt)).await? {
            lost.push(gone);
            continue;
        }
        let key = intent_key(id, attempt);
        let (intent, retry) = match recall::<Intent>(deps.store.as_ref(), &key).await? {
            Some(intent) => (intent, true),
            None => {
                let intent = choose(directory, tenant, onboarding, &lost).await?;
                let chosen = remember(deps.store.as_ref(), &key, &intent, deps.clock.now()).await?;
                let raced = chosen != intent;
                (chosen, raced)
            }
        };
        let upn = intent.user_principal_name.clone();

        match directory.user(tenant, &upn).await.map_err(graph)? {
            Some(existing) if is_ours(&existing, onboarding, marker_attribute, retry) => {
                tracing::info!("found the user an earlier attempt created");
                return Ok((intent, existing));
            }
            Some(_) if request.username.is_some() => {
                return Err(StepError::UserExists(format!(
                    "{upn} was taken by another user after it was chosen; choose another `username`"
                )));
            }
            Some(_) => {
                tracing::info!(%upn, "candidate taken by another user since it was chosen");
                remember(
                    deps.store.as_ref(),
                    &lost_key(id, attempt),
                    &intent,
                    deps.clock.now(),
                )
                .await?;
                lost.push(intent);
                continue;
            }
            None => {}
        }

        let options = vars.password_options();
        // Nobody learns this password: DeliverCredentials sets the first real one.
        let throwaway = generate_password(&vars.password_policy())?;
        let phone = request
            .mobile_phone
            .as_ref()
            .map(|p| p.formatted(vars.preferred_phone_number_format));
        let new = NewUser {
            user_principal_name: upn.clone(),
            display_name: request.display_name.clone(),
            mail_nickname: intent.choice.username.mail_nickname().to_owned(),
            account_enabled: true,
            password: SecretString::from(throwaway.expose().to_owned()),
            force_change_password_next_sign_in: options.change_at_first_sign_in,
            password_policies: options.never_expires.then_some(PasswordPolicies {
                disable_password_expiration: true,
                disable_strong_password: false,
            }),
            usage_location: Some(request.usage_location.as_str().to_owned()),
            profile: Profile {
                given_name: Some(request.name.first.clone()).filter(|s| !s.is_empty()),
                surname: Some(request.name.last.clone()),
                job_title: request.job_title.clone(),
                department: request.department.clone(),
                office_location: request.office_location.clone(),
                mobile_phone: phone,
                company_name: Some(onboarding.organization.name.clone()),
                ..Profile::default()
            },
            extension_attributes: marker_attribute
                .map(|a| (a.to_owned(), marker(id)))
                .into_iter()
                .collect(),
        };
        match directory.create_user(tenant, &new).await {
            Ok(user) => return Ok((intent, user)),
            Err(e) if e.may_have_applied() || matches!(e, ConnectorError::Conflict { .. }) => {
                // The answer was lost, or the name is taken: by the user an
                // earlier attempt (or this one) created, or by someone else.
                let lost_answer = e.may_have_applied();
                match directory.user(tenant, &upn).await.map_err(graph)? {
                    Some(existing) if is_ours(&existing, onboarding, marker_attribute, true) => {
                        tracing::info!(lost_answer, "the create was applied; its user found");
                        return Ok((intent, existing));
                    }
                    // Created perhaps, but not readable yet (replication): try again
                    // later, when the mark says whether it is ours.
                    None if lost_answer || retry => {
                        return Err(graph(ConnectorError::NotReady {
                            service: "graph",
                            detail: format!(
                                "{upn} may have been created but cannot be read yet; looking again"
                            ),
                        }));
                    }
                    // Someone else holds the name (or one of its addresses).
                    Some(_) | None => {}
                }
                if request.username.is_some() {
                    return Err(StepError::UserExists(format!(
                        "another object already has the address {upn}; choose another `username`"
                    )));
                }
                tracing::info!(%upn, "candidate taken by another user meanwhile");
                remember(
                    deps.store.as_ref(),
                    &lost_key(id, attempt),
                    &intent,
                    deps.clock.now(),
                )
                .await?;
                lost.push(intent);
            }
            Err(e) => return Err(graph(e)),
        }
    }
    Err(StepError::UserExists(format!(
        "no free username after {MAX_CANDIDATES} candidates; give an explicit `username`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(display_name: &str, mark: Option<&str>) -> graph::User {
        serde_json::from_value(serde_json::json!({
            "id": "u-1",
            "userPrincipalName": "asilva@contoso.com",
            "displayName": display_name,
            "onPremisesExtensionAttributes": {"extensionAttribute15": mark, "extensionAttribute1": null},
        }))
        .expect("user")
    }

    #[test]
    fn a_same_named_user_without_the_mark_is_not_ours() {
        let attribute = Some("extensionAttribute15");
        let stranger = user("Ana Silva", None);
        let other_run = user("Ana Silva", Some("onboard:ob-2"));
        let ours = user("Ana Silva", Some("onboard:ob-1"));

        assert!(!carries_mark(
            &stranger,
            "ob-1",
            "Ana Silva",
            attribute,
            true
        ));
        assert!(!carries_mark(
            &other_run,
            "ob-1",
            "Ana Silva",
            attribute,
            true
        ));
        assert!(carries_mark(&ours, "ob-1", "Ana Silva", attribute, false));
        // Renamed since: still ours by its mark.
        assert!(carries_mark(
            &user("Ana S.", Some("onboard:ob-1")),
            "ob-1",
            "Ana Silva",
            attribute,
            true
        ));
    }

    #[test]
    fn without_a_marker_attribute_only_a_retry_trusts_the_display_name() {
        let stranger = user("Ana Silva", None);
        assert!(!carries_mark(&stranger, "ob-1", "Ana Silva", None, false));
        assert!(carries_mark(&stranger, "ob-1", "Ana Silva", None, true));
    }
}
