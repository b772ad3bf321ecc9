//! [`StepError`]: every way a step can fail, each with a stable Step Functions error name.
//!
//! The names are part of the workflow contract: `statemachine/*.asl.json` retries and
//! catches them by name (`Retry` on the transient ones, `Catch` on the rest), the
//! Lambda wrappers report them as the error type, and the local interpreter matches
//! them the same way. A test reads the state machines and checks that every name they
//! use is one [`StepError::name`] can return ([`StepError::NAMES`]).
//!
//! Messages never carry a secret: connector errors are built from the remote
//! service's answer, never from our request, and steps never format a password.

use onboard_connectors::Error as ConnectorError;
use onboard_domain::DomainError;
use onboard_store::StoreError;

/// The external system a connector error came from, as the workflow names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// Microsoft Graph (Entra ID).
    Graph,
    /// The organization's PSA.
    Psa,
    /// A password vault (IT Glue, Hudu, Passportal, Password Pusher).
    Vault,
    /// The license distributor (Pax8).
    Distributor,
    /// Mail and SMS.
    Notify,
    /// Exchange Online (mailboxes, mailbox permissions, distribution groups).
    Exchange,
}

impl Port {
    fn prefix(self) -> &'static str {
        match self {
            Port::Graph => "Graph",
            Port::Psa => "Psa",
            Port::Vault => "Vault",
            Port::Distributor => "Distributor",
            Port::Notify => "Notify",
            Port::Exchange => "Exchange",
        }
    }
}

/// How a connector error is classed for the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorClass {
    /// 429 to the end of the client's retries: retry later.
    Throttled,
    /// No answer or 5xx, or an effect not visible yet: retry later.
    Unavailable,
    /// Credentials refused or permission missing: a technician must fix access.
    Denied,
    /// Anything else the service refused or could not do: retrying will not help.
    Rejected,
}

impl ConnectorClass {
    fn of(error: &ConnectorError) -> Self {
        match error {
            ConnectorError::Throttled { .. } => ConnectorClass::Throttled,
            ConnectorError::Unauthorized { .. } | ConnectorError::Forbidden { .. } => {
                ConnectorClass::Denied
            }
            e if e.is_transient() => ConnectorClass::Unavailable,
            _ => ConnectorClass::Rejected,
        }
    }
}

/// Every way a step can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// An external system failed; [`StepError::name`] is `<Port>.<Class>`.
    #[error("{}: {source}", .port.prefix().to_lowercase())]
    Connector {
        /// Which port.
        port: Port,
        /// Retry later, fix access, or give up.
        class: ConnectorClass,
        /// The connector's error.
        #[source]
        source: ConnectorError,
    },
    /// The user cannot be created: the username is taken and the rules allow no other.
    #[error("user exists: {0}")]
    UserExists(String),
    /// A license cannot be assigned and there is nothing the workflow can do about it.
    #[error("license unavailable: {0}")]
    LicenseUnavailable(String),
    /// Seats were bought but are not in the tenant yet: retry later.
    #[error("seats pending: {0}")]
    SeatsPending(String),
    /// A technician rejected the license purchase (sent through `SendTaskFailure`).
    #[error("license purchase rejected by {by}")]
    PurchaseRejected {
        /// Who rejected.
        by: String,
    },
    /// The approver denied the request (sent through `SendTaskFailure`).
    #[error("approval denied by {by}")]
    ApprovalDenied {
        /// Who denied.
        by: String,
    },
    /// A technician cancelled the waiting run (sent through `SendTaskFailure`).
    #[error("cancelled by {by}")]
    Cancelled {
        /// Who cancelled.
        by: String,
    },
    /// The onboarding request is invalid (a form field, an unknown ticket).
    #[error("invalid request: {0}")]
    InvalidRequest(#[source] DomainError),
    /// The request names something that does not exist.
    #[error("invalid request: {0}")]
    RequestRefused(String),
    /// The organization's variables or connector settings are wrong or missing.
    #[error("configuration: {0}")]
    Config(String),
    /// A variable is invalid (the domain error names it and its layer).
    #[error("configuration: {0}")]
    Variables(#[source] DomainError),
    /// The store failed in a way that may pass.
    #[error("store unavailable")]
    StoreUnavailable(#[source] StoreError),
    /// The store refused the call or holds data it cannot read.
    #[error("store failed")]
    Store(#[source] StoreError),
    /// The step function name is not one this crate knows.
    #[error("no step function named `{name}`; known: {known}")]
    UnknownFunction {
        /// The name asked for.
        name: String,
        /// The names the step table has, comma-separated.
        known: String,
    },
    /// The step's input did not have the step's shape.
    #[error("invalid input for step {step}: {message}")]
    InvalidInput {
        /// The step.
        step: &'static str,
        /// What serde said.
        message: String,
    },
    /// A step's own invariant failed (a bug, or the OS random number generator).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The name of a connector error: `<Port>.<Class>`.
fn connector_name(port: Port, class: ConnectorClass) -> &'static str {
    use ConnectorClass::{Denied, Rejected, Throttled, Unavailable};
    match (port, class) {
        (Port::Graph, Throttled) => "Graph.Throttled",
        (Port::Graph, Unavailable) => "Graph.Unavailable",
        (Port::Graph, Denied) => "Graph.Denied",
        (Port::Graph, Rejected) => "Graph.Rejected",
        (Port::Psa, Throttled) => "Psa.Throttled",
        (Port::Psa, Unavailable) => "Psa.Unavailable",
        (Port::Psa, Denied) => "Psa.Denied",
        (Port::Psa, Rejected) => "Psa.Rejected",
        (Port::Vault, Throttled) => "Vault.Throttled",
        (Port::Vault, Unavailable) => "Vault.Unavailable",
        (Port::Vault, Denied) => "Vault.Denied",
        (Port::Vault, Rejected) => "Vault.Rejected",
        (Port::Distributor, Throttled) => "Distributor.Throttled",
        (Port::Distributor, Unavailable) => "Distributor.Unavailable",
        (Port::Distributor, Denied) => "Distributor.Denied",
        (Port::Distributor, Rejected) => "Distributor.Rejected",
        (Port::Notify, Throttled) => "Notify.Throttled",
        (Port::Notify, Unavailable) => "Notify.Unavailable",
        (Port::Notify, Denied) => "Notify.Denied",
        (Port::Notify, Rejected) => "Notify.Rejected",
        (Port::Exchange, Throttled) => "Exchange.Throttled",
        (Port::Exchange, Unavailable) => "Exchange.Unavailable",
        (Port::Exchange, Denied) => "Exchange.Denied",
        (Port::Exchange, Rejected) => "Exchange.Rejected",
    }
}

impl StepError {
    /// Every name [`StepError::name`] can return.
    pub const NAMES: &'static [&'static str] = &[
        "Graph.Throttled",
        "Graph.Unavailable",
        "Graph.Denied",
        "Graph.Rejected",
        "Psa.Throttled",
        "Psa.Unavailable",
        "Psa.Denied",
        "Psa.Rejected",
        "Vault.Throttled",
        "Vault.Unavailable",
        "Vault.Denied",
        "Vault.Rejected",
        "Distributor.Throttled",
        "Distributor.Unavailable",
        "Distributor.Denied",
        "Distributor.Rejected",
        "Notify.Throttled",
        "Notify.Unavailable",
        "Notify.Denied",
        "Notify.Rejected",
        "Exchange.Throttled",
        "Exchange.Unavailable",
        "Exchange.Denied",
        "Exchange.Rejected",
        "Graph.UserExists",
        "License.Unavailable",
        "License.SeatsPending",
        "License.PurchaseRejected",
        "Approval.Denied",
        "Run.Cancelled",
        "Request.Invalid",
        "Config.Invalid",
        "Store.Unavailable",
        "Store.Failed",
        "Step.UnknownFunction",
        "Step.InvalidInput",
        "Step.Internal",
    ];

    /// Names of the errors worth retrying: the state machine's `Retry` lists them.
    pub const TRANSIENT: &'static [&'static str] = &[
        "Graph.Throttled",
        "Graph.Unavailable",
        "Psa.Throttled",
        "Psa.Unavailable",
        "Vault.Throttled",
        "Vault.Unavailable",
        "Distributor.Throttled",
        "Distributor.Unavailable",
        "Notify.Throttled",
        "Notify.Unavailable",
        "Exchange.Throttled",
        "Exchange.Unavailable",
        "Store.Unavailable",
    ];

    /// Wraps a connector error from `port`, classed by what a caller can do about it.
    pub fn connector(port: Port, source: ConnectorError) -> Self {
        StepError::Connector {
            port,
            class: ConnectorClass::of(&source),
            source,
        }
    }

    /// The stable Step Functions error name (`Graph.Throttled`, `Approval.Denied`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            StepError::Connector { port, class, .. } => connector_name(*port, *class),
            StepError::UserExists(_) => "Graph.UserExists",
            StepError::LicenseUnavailable(_) => "License.Unavailable",
            StepError::SeatsPending(_) => "License.SeatsPending",
            StepError::PurchaseRejected { .. } => "License.PurchaseRejected",
            StepError::ApprovalDenied { .. } => "Approval.Denied",
            StepError::Cancelled { .. } => "Run.Cancelled",
            StepError::InvalidRequest(_) | StepError::RequestRefused(_) => "Request.Invalid",
            StepError::Config(_) | StepError::Variables(_) => "Config.Invalid",
            StepError::StoreUnavailable(_) => "Store.Unavailable",
            StepError::Store(_) => "Store.Failed",
            StepError::UnknownFunction { .. } => "Step.UnknownFunction",
            StepError::InvalidInput { .. } => "Step.InvalidInput",
            StepError::Internal(_) => "Step.Internal",
        }
    }

    /// Whether the state machine retries this error.
    pub fn is_transient(&self) -> bool {
        Self::TRANSIENT.contains(&self.name())
    }

    /// The message with its whole cause chain, `: `-separated: the `Cause` of a
    /// failed task. Holds no secret.
    pub fn cause(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            let line = s.to_string();
            if !text.contains(&line) {
                text.push_str(": ");
                text.push_str(&line);
            }
            source = s.source();
        }
        text
    }

    /// The field errors of an invalid form (for a 400 answer), or none.
    pub fn field_errors(&self) -> &[onboard_domain::FieldError] {
        match self {
            StepError::InvalidRequest(e) => e.field_errors(),
            _ => &[],
        }
    }
}

impl From<StoreError> for StepError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            StepError::StoreUnavailable(error)
        } else {
            StepError::Store(error)
        }
    }
}

impl From<DomainError> for StepError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::InvalidRequest { .. }
            | DomainError::InvalidUsername { .. }
            | DomainError::NothingToTransliterate { .. } => StepError::InvalidRequest(error),
            DomainError::UsernameTaken { .. } | DomainError::UsernamesExhausted { .. } => {
                StepError::UserExists(error.to_string())
            }
            DomainError::Randomness(_) => StepError::Internal(error.to_string()),
            DomainError::BadVariable { .. }
            | DomainError::BadVariables { .. }
            | DomainError::MissingVariable { .. }
            | DomainError::PasswordPolicy(_) => StepError::Variables(error),
            // The domain error is non-exhaustive in spirit: a new rule is a configuration
            // or request problem until mapped more precisely.
            #[allow(unreachable_patterns)]
            other => StepError::Config(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(error: ConnectorError) -> StepError {
        StepError::connector(Port::Graph, error)
    }

    #[test]
    fn connector_errors_are_named_by_port_and_class() {
        let throttled = graph(ConnectorError::Throttled {
            service: "graph",
            attempts: 8,
            retry_after: None,
        });
        assert_eq!(throttled.name(), "Graph.Throttled");
        assert!(throttled.is_transient());

        let down = StepError::connector(
            Port::Psa,
            ConnectorError::Unavailable {
                service: "connectwise",
                status: 503,
                attempts: 6,
            },
        );
        assert_eq!(down.name(), "Psa.Unavailable");
        assert!(down.is_transient());

        let denied = StepError::connector(
            Port::Vault,
            ConnectorError::Forbidden {
                service: "hudu",
                message: "no password access".into(),
            },
        );
        assert_eq!(denied.name(), "Vault.Denied");
        assert!(!denied.is_transient());

        let rejected = StepError::connector(
            Port::Distributor,
            ConnectorError::NotFound {
                service: "pax8",
                what: "company 'Contoso'".into(),
            },
        );
        assert_eq!(rejected.name(), "Distributor.Rejected");
    }

    #[test]
    fn every_name_is_listed_once_and_transient_names_are_names() {
        let mut seen = std::collections::BTreeSet::new();
        for name in StepError::NAMES {
            assert!(seen.insert(*name), "{name} listed twice");
        }
        let ports = [
            Port::Graph,
            Port::Psa,
            Port::Vault,
            Port::Distributor,
            Port::Notify,
            Port::Exchange,
        ];
        let classes = [
            ConnectorClass::Throttled,
            ConnectorClass::Unavailable,
            ConnectorClass::Denied,
            ConnectorClass::Rejected,
        ];
        for port in ports {
            for class in classes {
                let name = connector_name(port, class);
                assert!(seen.contains(name), "{name} missing from NAMES");
                assert!(name.starts_with(port.prefix()));
            }
        }
        for name in StepError::TRANSIENT {
            assert!(seen.contains(name), "{name} is not a name");
        }
    }

    #[test]
    fn domain_errors_map_by_what_must_change() {
        let taken: StepError = DomainError::UsernameTaken {
            username: "jdoe".into(),
            hint: String::new(),
        }
        .into();
        assert_eq!(taken.name(), "Graph.UserExists");
        let missing: StepError = DomainError::MissingVariable {
            variable: "new_user_approval_email".into(),
            organization: "contoso".into(),
            because: "x".into(),
        }
        .into();
        assert_eq!(missing.name(), "Config.Invalid");
        assert!(missing.cause().contains("new_user_approval_email"));
    }

    #[test]
    fn the_cause_carries_the_source_chain() {
        let e = graph(ConnectorError::Rejected {
            service: "graph",
            status: 400,
            code: "Request_BadRequest".into(),
            message: "bad mailNickname".into(),
        });
        assert_eq!(e.name(), "Graph.Rejected");
        assert!(e.cause().contains("bad mailNickname"), "{}", e.cause());
    }
}
