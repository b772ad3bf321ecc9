//! What every step gets: [`Deps`] (the store, the per-organization [`Connections`],
//! the notifier, the [`Clock`] and the decision-link signer).
//!
//! The local server and the Lambdas build a `Deps` once at start-up from their
//! configuration; nothing in the steps knows which runtime calls it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use onboard_connectors::distributor::Distributor;
use onboard_connectors::exchange::Exchange;
use onboard_connectors::graph::{Directory, TenantId};
use onboard_connectors::notify::Notifier;
use onboard_connectors::psa::Psa;
use onboard_connectors::vault::PasswordVault;
use onboard_domain::Variables;
use onboard_domain::variables::{
    Distributor as DistributorName, PasswordSaveLocation, Psa as PsaName,
};
use onboard_store::Store;

use crate::decisions::LinkSigner;
use crate::error::StepError;

/// The time, read only through this port so tests and the virtual clock of
/// `onboard serve --virtual-clock` control it: the interpreter's clock, one for all.
pub use onboard_clock::{Clock, SystemClock};

/// An organization as the configuration describes it: who it is and where its users live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// The id forms name (`organization`).
    pub id: String,
    /// Its display name, for notes and mail ("Contoso Ltd").
    pub name: String,
    /// The domain of new users' UPNs (`contoso.com`); verified in the tenant.
    pub domain: String,
    /// Its Entra ID tenant.
    pub tenant: TenantId,
}

/// Builds (or hands out cached) connectors for an organization. The local server
/// implements it from `onboard.toml`, the Lambdas from DynamoDB and Secrets Manager.
///
/// Errors are [`StepError`]s: a missing setting is [`StepError::Config`] naming it,
/// an unknown organization [`StepError::RequestRefused`]; a connector builder's
/// error converts with [`StepError::connector`].
#[async_trait]
pub trait Connections: Send + Sync {
    /// The organization with this id.
    async fn organization(&self, organization: &str) -> Result<Organization, StepError>;

    /// The organization's directory (Microsoft Graph).
    async fn directory(&self, organization: &Organization)
    -> Result<Arc<dyn Directory>, StepError>;

    /// The PSA `default_psa` names for the organization; `Ok(None)` when it is
    /// `none` or unset, and nothing is ticketed.
    async fn psa(
        &self,
        organization: &Organization,
        kind: Option<PsaName>,
    ) -> Result<Option<Arc<dyn Psa>>, StepError>;

    /// The password vault for one `onboarding_password_save_location` (never
    /// [`PasswordSaveLocation::Psa`], which the steps handle as a ticket note).
    /// `variables` carry `pwpush_url` and friends.
    async fn vault(
        &self,
        organization: &Organization,
        location: PasswordSaveLocation,
        variables: &Variables,
    ) -> Result<Arc<dyn PasswordVault>, StepError>;

    /// The distributor `microsoft_licensing_distributor` names; `Ok(None)` when
    /// that distributor is not configured (or not implemented): the organization
    /// then counts as not mapped and the manual purchase path runs.
    async fn distributor(
        &self,
        organization: &Organization,
        distributor: DistributorName,
    ) -> Result<Option<Arc<dyn Distributor>>, StepError>;

    /// The organization's Exchange Online (an `exchange` connector table turns it
    /// on; it signs in with the organization's Graph app). `Ok(None)` when it is
    /// not configured: the mailbox actions then note the cmdlet to run by hand.
    async fn exchange(
        &self,
        organization: &Organization,
    ) -> Result<Option<Arc<dyn Exchange>>, StepError>;
}

/// Everything a step may touch. Cheap to clone.
#[derive(Clone)]
pub struct Deps {
    /// Records, timelines, decisions, step results, variables.
    pub store: Arc<dyn Store>,
    /// Per-organization connectors.
    pub connections: Arc<dyn Connections>,
    /// Mail and SMS (approval requests, credentials, completion and failure notices).
    pub notifier: Arc<dyn Notifier>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Signs and checks decision links.
    pub links: LinkSigner,
}

impl fmt::Debug for Deps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deps")
            .field("clock", &self.clock)
            .field("links", &self.links)
            .finish_non_exhaustive()
    }
}
