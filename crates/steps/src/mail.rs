//! Sending mail and SMS at most once per key: a retried step does not send again.
//!
//! The "sent" mark is written after the notifier accepts the message, so a crash
//! between the two can send twice; that is the one window left, and the messages
//! say nothing that a repeat would make wrong.

use onboard_connectors::notify::{Mail, Sms};
use onboard_domain::Variables;

use crate::deps::Deps;
use crate::error::{Port, StepError};
use crate::idempotency::{key, recall, remember};

/// The sender of every mail: `send_from_address`.
pub(crate) fn sender(variables: &Variables) -> Result<String, StepError> {
    variables
        .send_from_address
        .as_ref()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| {
            StepError::Config("variable `send_from_address` must be set to send mail".into())
        })
}

/// Sends `mail` unless a mail was sent under `key`; whether this call sent it.
pub(crate) async fn mail_once(deps: &Deps, key: &str, mail: &Mail) -> Result<bool, StepError> {
    if recall::<bool>(deps.store.as_ref(), key).await?.is_some() {
        return Ok(false);
    }
    deps.notifier
        .send_mail(mail)
        .await
        .map_err(|e| StepError::connector(Port::Notify, e))?;
    remember(deps.store.as_ref(), key, &true, deps.clock.now()).await?;
    Ok(true)
}

/// Mails each of `recipients` the mail `mail_to` makes for them, once each: keyed
/// `what/<recipient>` under `step` of record `record_id`. Answers how many went now.
pub(crate) async fn mail_each_once(
    deps: &Deps,
    record_id: &str,
    step: &str,
    what: &str,
    recipients: &[&str],
    mail_to: impl Fn(&str) -> Mail,
) -> Result<u32, StepError> {
    let mut sent = 0;
    for to in recipients {
        let once = key(record_id, step, &format!("{what}/{to}"));
        if mail_once(deps, &once, &mail_to(to)).await? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Sends `sms` unless one was sent under `key`; whether this call sent it.
pub(crate) async fn sms_once(deps: &Deps, key: &str, sms: &Sms) -> Result<bool, StepError> {
    if recall::<bool>(deps.store.as_ref(), key).await?.is_some() {
        return Ok(false);
    }
    deps.notifier
        .send_sms(sms)
        .await
        .map_err(|e| StepError::connector(Port::Notify, e))?;
    remember(deps.store.as_ref(), key, &true, deps.clock.now()).await?;
    Ok(true)
}
