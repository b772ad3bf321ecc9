//! Graph's error body (`{"error":{"code","message","details"}}`) read and mapped onto [`Error`].
//!
//! Graph asks clients to branch on `code`, but the directory answers most
//! refusals with the generic `Request_BadRequest`; the few the workflow must
//! act on are told apart by the start of their (long-stable) message, quoted
//! in `reference/api-facts.md` §1.2.

use reqwest::StatusCode;
use serde::Deserialize;

use super::SERVICE;
use crate::error::Error;

#[derive(Deserialize)]
struct Envelope {
    error: Body,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    target: Option<String>,
}

/// A refusal from Graph, before it becomes an [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
    /// The `target` of an `ObjectConflict` detail (`""` when the detail has none).
    pub(crate) conflict: Option<String>,
}

impl Failure {
    /// Reads a Graph error body; anything else keeps only the status.
    pub(crate) fn parse(status: StatusCode, body: &[u8]) -> Self {
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error }) => Self {
                status,
                conflict: error
                    .details
                    .iter()
                    .find(|d| d.code.as_deref() == Some("ObjectConflict"))
                    .map(|d| d.target.clone().unwrap_or_default()),
                code: error.code,
                message: error.message,
            },
            Err(_) => Self {
                status,
                code: "unknown".into(),
                message: format!("HTTP {}", status.as_u16()),
                conflict: None,
            },
        }
    }

    pub(crate) fn is_already_member(&self) -> bool {
        self.status == StatusCode::BAD_REQUEST
            && self
                .message
                .starts_with("One or more added object references already exist")
    }

    /// The property named in "Another object with the same value for property X already exists."
    fn conflicting_property(&self) -> Option<String> {
        if let Some(target) = self.conflict.as_ref().filter(|t| !t.is_empty()) {
            return Some(target.clone());
        }
        let rest = self
            .message
            .strip_prefix("Another object with the same value for property ")?;
        let property = rest.split_whitespace().next()?;
        Some(property.trim_end_matches('.').to_owned())
    }

    /// The typed error; `what` names the object for a 404 (e.g. `user 'x'`).
    pub(crate) fn into_error(self, what: impl FnOnce() -> String) -> Error {
        let service = SERVICE;
        if (self.status == StatusCode::BAD_REQUEST || self.conflict.is_some())
            && let Some(property) = self.conflicting_property()
        {
            return Error::Conflict { service, property };
        }
        match self.status {
            StatusCode::UNAUTHORIZED => Error::Unauthorized {
                service,
                message: self.message,
            },
            StatusCode::FORBIDDEN => Error::Forbidden {
                service,
                message: self.message,
            },
            StatusCode::NOT_FOUND => Error::NotFound {
                service,
                what: what(),
            },
            StatusCode::BAD_REQUEST => {
                let m = self.message.as_str();
                if m.starts_with("The specified password does not comply with password complexity")
                {
                    Error::PasswordRejected { service }
                } else if m.starts_with(
                    "License assignment cannot be done for user with invalid usage location",
                ) {
                    Error::NoUsageLocation { service }
                } else if let Some(sku) = m
                    .strip_prefix("Subscription with SKU ")
                    .and_then(|rest| rest.strip_suffix(" does not have any available licenses."))
                {
                    Error::NoFreeSeats {
                        service,
                        sku: sku.to_owned(),
                    }
                } else if m.starts_with("User license is inherited from a group membership") {
                    Error::LicenseInherited { service }
                } else {
                    self.rejected()
                }
            }
            _ => self.rejected(),
        }
    }

    fn rejected(self) -> Error {
        Error::Rejected {
            service: SERVICE,
            status: self.status.as_u16(),
            code: self.code,
            message: self.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, body: serde_json::Value) -> Error {
        let status = StatusCode::from_u16(status).unwrap();
        Failure::parse(status, body.to_string().as_bytes()).into_error(|| "user 'x'".into())
    }

    fn graph(code: &str, message: &str) -> serde_json::Value {
        serde_json::json!({"error": {"code": code, "message": message, "innerError": {}}})
    }

    #[test]
    fn an_object_conflict_detail_becomes_a_conflict_on_its_target() {
        let body = serde_json::json!({"error": {
            "code": "Request_BadRequest",
            "message": "Another object with the same value for property userPrincipalName already exists.",
            "details": [{"target": "userPrincipalName", "code": "ObjectConflict"}]
        }});

        let err = error(400, body);

        assert!(
            matches!(err, Error::Conflict { ref property, .. } if property == "userPrincipalName")
        );
    }

    #[test]
    fn a_conflict_without_details_is_read_from_the_message() {
        let body = graph(
            "Request_BadRequest",
            "Another object with the same value for property proxyAddresses already exists.",
        );

        let err = error(400, body);

        assert!(
            matches!(err, Error::Conflict { ref property, .. } if property == "proxyAddresses")
        );
    }

    #[test]
    fn licensing_refusals_get_their_own_variants() {
        let seats = error(
            400,
            graph(
                "Request_BadRequest",
                "Subscription with SKU cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46 does not have any available licenses.",
            ),
        );
        let location = error(
            400,
            graph(
                "Request_BadRequest",
                "License assignment cannot be done for user with invalid usage location.",
            ),
        );
        let inherited = error(
            400,
            graph(
                "Request_BadRequest",
                "User license is inherited from a group membership and it cannot be removed directly from the user.",
            ),
        );

        assert!(
            matches!(seats, Error::NoFreeSeats { ref sku, .. } if sku == "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46")
        );
        assert!(matches!(location, Error::NoUsageLocation { .. }));
        assert!(matches!(inherited, Error::LicenseInherited { .. }));
    }

    #[test]
    fn other_refusals_keep_graphs_code_and_message() {
        let err = error(
            400,
            graph(
                "Request_UnsupportedQuery",
                "Unsupported or invalid query filter clause specified for property 'jobTitle' of resource 'User'.",
            ),
        );

        assert!(
            matches!(err, Error::Rejected { status: 400, ref code, .. } if code == "Request_UnsupportedQuery")
        );
    }

    #[test]
    fn a_body_that_is_not_graphs_keeps_only_the_status() {
        let failure = Failure::parse(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");

        assert_eq!(failure.code, "unknown");
        assert_eq!(failure.message, "HTTP 502");
    }
}
