//! The mailbox actions' shared pieces: the user's mailbox through Exchange
//! Online when the organization has a connector, why an action is left to a
//! technician, and the automatic reply Graph sets itself.

use onboard_connectors::exchange::{Exchange, Mailbox as ExoMailbox};
use onboard_connectors::graph::{
    AutomaticReplies, Directory, ExternalAudience, MailboxChange, TenantId,
};
use onboard_connectors::{Error as ConnectorError, graph::ObjectId};
use onboard_domain::reply::ReplyContext;

use crate::error::{Port, StepError};
use crate::offboarding::Offboarding;

use super::{ActionResult, graph};

/// Why a mailbox action is left to a technician.
pub(super) const NO_EXCHANGE: &str = "and the organization has no Exchange Online connector to do it, \
whose app would need Exchange.ManageAsApp and the Exchange Administrator role";

/// A user without a mailbox (never licensed for Exchange, or deleted).
pub(super) const NO_MAILBOX: &str = "the user has no Exchange Online mailbox";

pub(super) fn exchange_error(e: ConnectorError) -> StepError {
    StepError::connector(Port::Exchange, e)
}

/// The user's mailbox through Exchange Online, when the organization has it.
pub(super) struct Mailbox<'a> {
    pub(super) exchange: Option<&'a dyn Exchange>,
    pub(super) tenant: &'a TenantId,
    pub(super) upn: &'a str,
    /// Whether the user held a license when the offboarding began: a licensed
    /// user's mailbox not found yet is still being provisioned.
    pub(super) licensed: bool,
}

impl Mailbox<'_> {
    /// `Get-Mailbox`. A licensed user's mailbox that Exchange does not find yet
    /// is [`ConnectorError::NotReady`]: the state machine retries with back-off
    /// (`Exchange.Unavailable`), and a mailbox that never comes fails the run.
    pub(super) async fn find(&self) -> Result<Option<ExoMailbox>, StepError> {
        let Some(exo) = self.exchange else {
            return Ok(None);
        };
        match exo
            .mailbox(self.tenant, self.upn)
            .await
            .map_err(exchange_error)?
        {
            Some(m) => Ok(Some(m)),
            None if self.licensed => Err(exchange_error(ConnectorError::NotReady {
                service: onboard_connectors::exchange::SERVICE,
                detail: format!("the mailbox of {} is not provisioned yet", self.upn),
            })),
            None => Ok(None),
        }
    }
}

/// Why the mailbox actions that name the delegate have nobody to name.
pub(super) const NO_DELEGATE: &str =
    "the user has no manager and the form gave no `delegate_to`: nobody to hand the mailbox to";

/// Removing licenses leaves the mailbox 30 days before Exchange deletes it.
pub(super) const KEEP_MAILBOX: &str = "; if licenses are removed, first convert it to a shared mailbox (Set-Mailbox -Identity <user> -Type Shared) so the access or forwarding outlives the license";

/// Switches the automatic reply on with the organization's texts, naming the delegate.
pub(super) async fn set_auto_reply(
    offboarding: &Offboarding,
    dir: &dyn Directory,
    tenant: &TenantId,
    user: &ObjectId,
    delegate: Option<&str>,
) -> Result<ActionResult, StepError> {
    const ACTION: &str = "set_auto_reply";
    let vars = &offboarding.variables;
    let (internal, external) = (
        &vars.offboarding_auto_reply_internal,
        &vars.offboarding_auto_reply_external,
    );
    let named = match delegate {
        Some(upn) => dir.user(tenant, upn).await.map_err(graph)?,
        None => None,
    };
    if named.is_none() && (internal.names_the_manager() || external.names_the_manager()) {
        return Ok(ActionResult::skipped(
            ACTION,
            match delegate {
                Some(upn) => {
                    format!("the reply names the delegate, and `{upn}` is not a user of the tenant")
                }
                None => format!("the reply names the delegate: {NO_DELEGATE}"),
            },
        ));
    }
    let leaver = dir
        .user(tenant, user.as_str())
        .await
        .map_err(graph)?
        .and_then(|u| u.display_name)
        .unwrap_or_else(|| offboarding.upn().to_owned());
    let manager_name = named
        .as_ref()
        .and_then(|m| m.display_name.clone())
        .unwrap_or_default();
    let manager_email = named
        .as_ref()
        .map(|m| {
            m.mail
                .clone()
                .unwrap_or_else(|| m.user_principal_name.clone())
        })
        .unwrap_or_default();
    let context = ReplyContext {
        user_name: &leaver,
        organization: &offboarding.organization.name,
        manager_name: &manager_name,
        manager_email: &manager_email,
    };
    let replies = AutomaticReplies {
        internal_message: internal.render(&context),
        external_message: external.render(&context),
        external_audience: ExternalAudience::All,
    };
    match dir.set_automatic_replies(tenant, user, &replies).await {
        Ok(MailboxChange::Set) => Ok(ActionResult::done(
            ACTION,
            format!(
                "automatic reply on for internal and external senders: \"{}\"",
                replies.internal_message
            ),
        )),
        Ok(MailboxChange::NoMailbox(graph_says)) => Ok(ActionResult::skipped(
            ACTION,
            format!("the user has no Exchange Online mailbox Graph can reach ({graph_says})"),
        )),
        Err(ConnectorError::Forbidden { .. }) => Ok(ActionResult::skipped(
            ACTION,
            "Graph refused: the app registration needs MailboxSettings.ReadWrite; set the \
             automatic reply in the Exchange admin center",
        )),
        Err(e) => Err(graph(e)),
    }
}
