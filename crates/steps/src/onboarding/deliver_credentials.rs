//! Step `DeliverCredentials`: makes the user's first credentials and hands them over.
//!
//! A fresh password (or a Temporary Access Pass, per `credential_delivery`) is made
//! here and never stored by Onboard: it is set in Entra ID, saved where the variables
//! say (a ticket note when `store_password_in_ticket`, IT Glue, Hudu, Passportal or a
//! Password Pusher link per `onboarding_password_save_location`), sent per
//! `send_credentials_to` (mail to the manager, SMS to the user; a Password Pusher
//! link instead of the secret when there is one), and the timeline records where it
//! went — never the secret.
//!
//! A retry after a partial run cannot recover the secret, so it makes a new one and
//! delivers it again as attempt `n`; every message of attempt `n > 1` says it
//! replaces the earlier credentials. A completed run is remembered and not repeated.

use onboard_connectors::graph::{ObjectId, TapRequest};
use onboard_connectors::notify::{Mail, Sms};
use onboard_connectors::vault::VaultEntry;
use onboard_domain::variables::{CredentialDelivery, PasswordSaveLocation, SendCredentialsTo};
use onboard_domain::{Password, generate_password, notes};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::idempotency::{key, log_append, recall, remember};
use crate::mail::{mail_once, sender, sms_once};
use crate::onboarding::Onboarding;
use crate::onboarding::create_user::created;

/// Where users sign in.
const SIGN_IN_URL: &str = "https://portal.office.com";

/// The input of `DeliverCredentials`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The onboarding record's id.
    pub onboarding_id: String,
}

/// Where a secret was saved: what the state and the timeline may know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// `psa`, `itglue`, `hudu`, `passportal`, `pwpush`.
    pub destination: String,
    /// The destination's reference (ticket id, record id, push token).
    pub reference: Option<String>,
}

/// As `$.credentials`: no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// `password` or `temporary_access_pass`.
    pub delivery: CredentialDelivery,
    /// Where it was saved.
    pub saved: Vec<Saved>,
    /// Who it was sent to.
    pub sent: SendCredentialsTo,
    /// The attempt that delivered (1 unless a retry had to make new credentials).
    pub attempt: u32,
}

fn what(delivery: CredentialDelivery) -> &'static str {
    match delivery {
        CredentialDelivery::Password => "password",
        CredentialDelivery::TemporaryAccessPass => "Temporary Access Pass",
    }
}

/// Why a Temporary Access Pass cannot be issued to the user, decided once per
/// run (remembered, and said on the timeline the first time), or `None`.
/// A method policy that cannot be read (no `Policy.Read.All`) counts as
/// unavailable: a pass the tenant refuses would leave the user with nothing.
async fn tap_fallback(
    deps: &Deps,
    onboarding: &Onboarding,
    directory: &dyn onboard_connectors::graph::Directory,
    user_id: &ObjectId,
) -> Result<Option<String>, StepError> {
    let decided = key(onboarding.id(), "deliver_credentials", "tap-fallback");
    if let Some(why) = recall::<Option<String>>(deps.store.as_ref(), &decided).await? {
        return Ok(why);
    }
    let tenant = &onboarding.organization.tenant;
    let why = match crate::mfa::tap_unavailable_for(directory, tenant, user_id).await {
        Ok(why) => why.map(str::to_owned),
        Err(StepError::Connector {
            source: onboard_connectors::Error::Forbidden { .. },
            ..
        }) => Some(
            "the Temporary Access Pass method policy could not be read (grant the app Policy.Read.All)"
                .to_owned(),
        ),
        Err(e) => return Err(e),
    };
    let now = deps.clock.now();
    let first = recall::<Option<String>>(deps.store.as_ref(), &decided)
        .await?
        .is_none();
    let why = remember(deps.store.as_ref(), &decided, &why, now).await?;
    if first && let Some(why) = &why {
        onboarding
            .record(
                deps,
                "deliver_credentials",
                None,
                &format!("Temporary Access Pass not available ({why}): a password instead"),
            )
            .await?;
    }
    Ok(why)
}

/// Makes and delivers the user's first credentials.
#[instrument(skip_all, fields(onboarding_id = %input.onboarding_id, step = "deliver_credentials"))]
pub async fn deliver_credentials(deps: &Deps, input: Input) -> Result<Output, StepError> {
    let done = key(&input.onboarding_id, "deliver_credentials", "done");
    if let Some(output) = recall::<Output>(deps.store.as_ref(), &done).await? {
        return Ok(output);
    }
    let onboarding = Onboarding::load(deps, &input.onboarding_id).await?;
    let user = created(deps, onboarding.id()).await?;
    let vars = &onboarding.variables;
    let request = &onboarding.request;
    let upn = &user.user_principal_name;
    let mut delivery = vars.credential_delivery;
    let options = vars.password_options();
    let now = deps.clock.now();
    let locations = vars.password_save_locations();
    let ticketed = onboarding.ticket(deps).await?.is_some();
    let reachable = locations
        .iter()
        .any(|l| *l != PasswordSaveLocation::Psa || ticketed);
    if !reachable && request.send_credentials_to == SendCredentialsTo::Nobody {
        // Checked before the password is set: it would reach nobody.
        return Err(StepError::Config(format!(
            "the first {} of {upn} would reach nobody: store it in the ticket (store_password_in_ticket with a psa), \
             in a vault (onboarding_password_save_location), or send it (send_credentials_to)",
            what(delivery)
        )));
    }
    // 1. Make the secret and set it in the directory.
    let directory = onboarding.directory(deps).await?;
    let tenant = &onboarding.organization.tenant;
    let user_id = ObjectId::new(user.user_id.clone());
    // A Temporary Access Pass only when the tenant's method policy lets this
    // user have one; otherwise a password, and the ticket says why. Decided
    // once: a retry delivers the same kind and notes nothing again.
    if delivery == CredentialDelivery::TemporaryAccessPass
        && let Some(why) = tap_fallback(deps, &onboarding, directory.as_ref(), &user_id).await?
    {
        delivery = CredentialDelivery::Password;
        onboarding
            .note(
                deps,
                "deliver_credentials-tap-fallback",
                &notes::tap_fallback(upn, &why),
            )
            .await?;
    }
    let attempt = log_append(
        deps.store.as_ref(),
        &key(onboarding.id(), "deliver_credentials", "attempts"),
        &now,
        now,
    )
    .await?
        + 1;

    let (secret, validity) = match delivery {
        CredentialDelivery::Password => {
            let password = generate_password(&vars.password_policy())?;
            directory
                .reset_password(
                    tenant,
                    &user_id,
                    &SecretString::from(password.expose().to_owned()),
                    options.change_at_first_sign_in,
                )
                .await
                .map_err(|e| StepError::connector(Port::Graph, e))?;
            (password, None)
        }
        CredentialDelivery::TemporaryAccessPass => {
            let tap = directory
                .create_temporary_access_pass(
                    tenant,
                    &user_id,
                    &TapRequest {
                        start: None,
                        lifetime_minutes: Some(vars.temporary_access_pass_lifetime_minutes.get()),
                        usable_once: None,
                    },
                )
                .await
                .map_err(|e| StepError::connector(Port::Graph, e))?;
            (
                Password::new(tap.pass.expose_secret()),
                Some(tap.lifetime_minutes),
            )
        }
    };
    let replaces = if attempt > 1 {
        format!(
            " (attempt {attempt}: this replaces the {} of any earlier message)",
            what(delivery)
        )
    } else {
        String::new()
    };

    // 2. Save it where the variables say.
    let mut saved = Vec::new();
    let mut stored_in = Vec::new();
    let mut push_link: Option<String> = None;
    let mut passportal_skipped = false;
    for location in locations {
        match location {
            PasswordSaveLocation::Psa => {
                let text = match delivery {
                    CredentialDelivery::Password => {
                        notes::credentials_in_ticket(upn, &secret, true)
                    }
                    CredentialDelivery::TemporaryAccessPass => Some(SecretString::from(format!(
                        "Temporary Access Pass of {upn}: {}\nIt is valid for {} minutes.",
                        secret.expose(),
                        validity.unwrap_or_default()
                    ))),
                };
                let Some(mut text) = text else { continue };
                if attempt > 1 {
                    text = SecretString::from(format!("{}{replaces}", text.expose_secret()));
                }
                let part = format!("deliver_credentials-secret-{attempt}");
                if onboarding.secret_note(deps, &part, &text).await? {
                    saved.push(Saved {
                        destination: "psa".into(),
                        reference: onboarding.record.ticket_id.clone(),
                    });
                    stored_in.push(location);
                }
            }
            PasswordSaveLocation::Passportal => {
                // Validate refused a list with Passportal alone; here the
                // others take the password, and a note says so below.
                passportal_skipped = true;
            }
            other => {
                let vault = deps
                    .connections
                    .vault(&onboarding.organization, other, vars)
                    .await?;
                let entry = VaultEntry {
                    onboarding_id: onboarding.id().to_owned(),
                    organization: onboarding.organization.name.clone(),
                    title: format!("M365 - {}", request.display_name),
                    username: upn.clone(),
                    password: SecretString::from(secret.expose().to_owned()),
                    url: Some(SIGN_IN_URL.to_owned()),
                    notes: Some(format!(
                        "First {} of {upn}, saved by Onboard{replaces}.",
                        what(delivery)
                    )),
                };
                let stored = vault
                    .store(&entry)
                    .await
                    .map_err(|e| StepError::connector(Port::Vault, e))?;
                if other == PasswordSaveLocation::PwPush {
                    push_link = stored.link.clone();
                }
                saved.push(Saved {
                    destination: stored.destination.to_owned(),
                    reference: Some(stored.reference),
                });
                stored_in.push(location);
            }
        }
    }

    if passportal_skipped {
        if saved.is_empty() {
            return Err(StepError::Config(format!(
                "onboarding_password_save_location names passportal and no other destination took the password: {}",
                notes::PASSPORTAL_NO_PASSWORD_API
            )));
        }
        let names: Vec<&str> = saved.iter().map(|s| s.destination.as_str()).collect();
        onboarding
            .note(
                deps,
                "deliver_credentials-passportal",
                &notes::passportal_fallback(upn.as_str(), &names),
            )
            .await?;
    }

    // 3. Send it: the Password Pusher link when there is one, else the secret.
    let sent = request.send_credentials_to;
    let shown = |label: &str| match &push_link {
        Some(link) => format!("{label}: open {link} (the link works a limited number of times)"),
        None => format!("{label}: {}", secret.expose()),
    };
    let label = match delivery {
        CredentialDelivery::Password => "Password",
        CredentialDelivery::TemporaryAccessPass => "Temporary Access Pass",
    };
    if sent.by_email() {
        let manager = request.manager_email.as_ref().ok_or_else(|| {
            StepError::RequestRefused(
                "credentials go by e-mail but there is no manager_email".into(),
            )
        })?;
        let mut body = vec![
            format!(
                "The Microsoft 365 account of {} is ready{replaces}.",
                request.display_name
            ),
            format!("Sign-in name: {upn}"),
            shown(label),
        ];
        if let Some(minutes) = validity {
            body.push(format!("The pass is valid for {minutes} minutes."));
        } else if options.change_at_first_sign_in {
            body.push("The password must be changed at first sign-in.".into());
        }
        let mut mail = Mail::builder(
            &sender(vars)?,
            &[manager.as_str()],
            &format!("Sign-in details for {}", request.display_name),
        );
        for paragraph in &body {
            mail = mail.paragraph(paragraph);
        }
        let mail = mail.link("Sign in", SIGN_IN_URL).build();
        mail_once(
            deps,
            &key(
                onboarding.id(),
                "deliver_credentials",
                &format!("mail/{attempt}"),
            ),
            &mail,
        )
        .await?;
    }
    if sent.by_sms() {
        let phone = request.mobile_phone.as_ref().ok_or_else(|| {
            StepError::RequestRefused("credentials go by sms but there is no mobile_phone".into())
        })?;
        let sms = Sms {
            to: phone.as_str().to_owned(),
            body: format!(
                "Your Microsoft 365 account: {upn}. {}{replaces}",
                shown(label)
            ),
        };
        sms_once(
            deps,
            &key(
                onboarding.id(),
                "deliver_credentials",
                &format!("sms/{attempt}"),
            ),
            &sms,
        )
        .await?;
    }
    drop(secret);

    // 4. Say where it went, never what it is.
    let mut text = notes::credentials_stored(upn, delivery, &stored_in, sent);
    text.push_str(&replaces);
    onboarding
        .note(deps, &format!("deliver_credentials-{attempt}"), &text)
        .await?;
    let places: Vec<&str> = saved.iter().map(|s| s.destination.as_str()).collect();
    let kept = if places.is_empty() {
        "kept nowhere".to_owned()
    } else {
        format!("saved in {}", places.join(", "))
    };
    let message = format!("first {} {kept}, sent to {sent}", what(delivery));
    onboarding
        .record(deps, "deliver_credentials", None, &message)
        .await?;
    let output = Output {
        delivery,
        saved,
        sent,
        attempt,
    };
    remember(deps.store.as_ref(), &done, &output, deps.clock.now()).await
}
