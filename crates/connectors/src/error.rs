//! The one error type of every connector: what went wrong talking to which service.
//!
//! Variants say what a caller can do about it (retry later, fix settings, fix the
//! request), so the workflow steps can map them onto stable Step Functions error
//! names without parsing messages. No variant carries a secret: messages come
//! from the remote service's error body, never from our request.

use std::time::Duration;

/// Something a connector could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No HTTP answer: DNS, connection refused, TLS, reset.
    #[error("{service}: could not reach the service")]
    Transport {
        /// The service, e.g. `"graph"`.
        service: &'static str,
        /// What the HTTP client reported (with the URL removed: it may carry a token).
        #[source]
        source: reqwest::Error,
    },
    /// An attempt took longer than the policy allows, on every attempt.
    #[error("{service}: no answer within {seconds}s")]
    Timeout {
        /// The service.
        service: &'static str,
        /// The per-attempt limit.
        seconds: u64,
    },
    /// The service kept answering 429 (or asked for a wait longer than we accept).
    #[error("{service}: throttled, gave up after {attempts} attempt(s)")]
    Throttled {
        /// The service.
        service: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last `Retry-After` the service sent.
        retry_after: Option<Duration>,
    },
    /// The service kept answering 5xx.
    #[error("{service}: unavailable (HTTP {status}) after {attempts} attempt(s)")]
    Unavailable {
        /// The service.
        service: &'static str,
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// The credentials were refused (401, or a token endpoint's error).
    #[error("{service}: credentials rejected: {message}")]
    Unauthorized {
        /// The service.
        service: &'static str,
        /// The service's own words.
        message: String,
    },
    /// Authenticated, but not allowed to do this (403).
    #[error("{service}: not permitted: {message}")]
    Forbidden {
        /// The service.
        service: &'static str,
        /// The service's own words.
        message: String,
    },
    /// The thing asked for does not exist.
    #[error("{service}: {what} not found")]
    NotFound {
        /// The service.
        service: &'static str,
        /// What was looked for, e.g. `user 'jdoe@contoso.com'`.
        what: String,
    },
    /// The service refused the request as invalid (4xx with an error body).
    #[error("{service}: rejected (HTTP {status}, {code}): {message}")]
    Rejected {
        /// The service.
        service: &'static str,
        /// HTTP status.
        status: u16,
        /// The service's error code (Graph's `error.code`, ...), or `"unknown"`.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The answer could not be read as the documented shape.
    #[error("{service}: unexpected answer: {detail}")]
    Protocol {
        /// The service.
        service: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// A setting names something the service does not have (a PSA status, board,
    /// queue or priority, ...). Not transient: the configuration must change.
    #[error("{service}: no {kind} named '{name}'; valid: {}", .valid.join(", "))]
    UnknownName {
        /// The service.
        service: &'static str,
        /// What kind of thing, e.g. `"status"` or `"board"`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names the service does have, to put in the message.
        valid: Vec<String>,
    },
    /// Another object already holds a value that must be unique (Graph's
    /// `ObjectConflict`): the UPN, or a proxy address / mail alias.
    #[error("{service}: another object already has this {property}")]
    Conflict {
        /// The service.
        service: &'static str,
        /// The property in conflict, e.g. `userPrincipalName`, `proxyAddresses`.
        property: String,
    },
    /// Every seat of a license is consumed.
    #[error("{service}: no free seat of sku {sku}")]
    NoFreeSeats {
        /// The service.
        service: &'static str,
        /// The SKU id.
        sku: String,
    },
    /// A license was assigned to a user without a usage location.
    #[error("{service}: the user has no usage location, which licensing requires")]
    NoUsageLocation {
        /// The service.
        service: &'static str,
    },
    /// A license the user holds through a group cannot be removed directly.
    #[error("{service}: the license is inherited from a group and cannot be removed directly")]
    LicenseInherited {
        /// The service.
        service: &'static str,
    },
    /// The password was refused by the directory's complexity rules.
    #[error("{service}: the password does not meet the complexity requirements")]
    PasswordRejected {
        /// The service.
        service: &'static str,
    },
    /// The connector is not configured well enough to make the call.
    #[error("{service}: configuration: {detail}")]
    Config {
        /// The service.
        service: &'static str,
        /// The missing or bad setting, by name.
        detail: String,
    },
    /// A non-HTTP client (the AWS SDK, SMTP) got no usable answer: connection,
    /// TLS, timeout or dispatch failure. Retrying later may help.
    #[error("{service}: could not reach the service: {detail}")]
    Unreachable {
        /// The service.
        service: &'static str,
        /// What the client reported, without credentials.
        detail: String,
    },
    /// The request was accepted but its effect is not visible yet (seats bought
    /// but not yet in the tenant). Waiting longer may help.
    #[error("{service}: not ready yet: {detail}")]
    NotReady {
        /// The service.
        service: &'static str,
        /// What is still missing.
        detail: String,
    },
}

impl Error {
    /// The service the error came from.
    pub fn service(&self) -> &'static str {
        match self {
            Error::Transport { service, .. }
            | Error::Timeout { service, .. }
            | Error::Throttled { service, .. }
            | Error::Unavailable { service, .. }
            | Error::Unauthorized { service, .. }
            | Error::Forbidden { service, .. }
            | Error::NotFound { service, .. }
            | Error::Rejected { service, .. }
            | Error::Protocol { service, .. }
            | Error::UnknownName { service, .. }
            | Error::Config { service, .. }
            | Error::Conflict { service, .. }
            | Error::NoFreeSeats { service, .. }
            | Error::NoUsageLocation { service }
            | Error::LicenseInherited { service }
            | Error::PasswordRejected { service }
            | Error::Unreachable { service, .. }
            | Error::NotReady { service, .. } => service,
        }
    }

    /// Whether a write that failed so may still have been applied: the request
    /// went out and its answer was lost (no answer in time, the connection
    /// dropped, a gateway's 500/502/504). The caller must look for what the write
    /// did before it sends it again ([`crate::http::HttpClient::send_write`]).
    pub fn may_have_applied(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Transport { .. } => true,
            Error::Unavailable { status, .. } => matches!(status, 500 | 502 | 504),
            _ => false,
        }
    }

    /// Whether trying the same call later may succeed: the workflow retries these.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Transport { .. }
                | Error::Timeout { .. }
                | Error::Throttled { .. }
                | Error::Unavailable { .. }
                | Error::Unreachable { .. }
                | Error::NotReady { .. }
        )
    }
}
