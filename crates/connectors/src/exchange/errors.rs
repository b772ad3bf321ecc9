//! Exchange Online's error body read and mapped onto [`Error`].
//!
//! The text is read where CIPP reads it (`New-ExoRequest.ps1`): `error.details[].message`,
//! then `error.innererror.internalException.message`, then `error.message`. A cmdlet's
//! detail message reads `<id>|<exception type>|<text>` [?: the shape seen in CIPP's
//! logged errors; not documented], so the exception type is split off when present.

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
    #[serde(default)]
    innererror: Option<Inner>,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(rename = "internalException", default)]
    internal_exception: Option<Detail>,
}

/// A refusal from Exchange, before it becomes an [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    /// The exception type (`...ManagementObjectNotFoundException`), else `error.code`.
    pub(crate) code: String,
    /// The text a technician reads.
    pub(crate) message: String,
}

impl Failure {
    /// Reads an Exchange error body; anything else keeps only the status.
    pub(crate) fn parse(status: StatusCode, body: &[u8]) -> Self {
        let Ok(Envelope { error }) = serde_json::from_slice::<Envelope>(body) else {
            return Self {
                status,
                code: "unknown".into(),
                message: format!("HTTP {}", status.as_u16()),
            };
        };
        let detail = error
            .details
            .iter()
            .map(|d| d.message.as_str())
            .find(|m| !m.is_empty())
            .or_else(|| {
                error
                    .innererror
                    .as_ref()
                    .and_then(|i| i.internal_exception.as_ref())
                    .map(|e| e.message.as_str())
                    .filter(|m| !m.is_empty())
            })
            .unwrap_or(error.message.as_str());
        let mut parts = detail.splitn(3, '|');
        let (code, message) = match (parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(kind), Some(text)) => (kind.to_owned(), text.to_owned()),
            _ => (error.code.clone(), detail.to_owned()),
        };
        Self {
            status,
            code: if code.is_empty() {
                "unknown".into()
            } else {
                code
            },
            message,
        }
    }

    /// `ManagementObjectNotFoundException`: "The operation couldn't be performed
    /// because object '...' couldn't be found on '...'." [?: PowerShell's text].
    pub(crate) fn is_not_found(&self) -> bool {
        self.status == StatusCode::NOT_FOUND
            || self.code.ends_with("ManagementObjectNotFoundException")
            || self.message.contains("couldn't be found")
    }

    /// `MemberAlreadyExistsException`: "The recipient ... is already a member of
    /// the group ..." [?: PowerShell's text].
    pub(crate) fn is_already_member(&self) -> bool {
        self.code.ends_with("MemberAlreadyExistsException")
            || self.message.contains("is already a member of the group")
    }

    /// A removal of someone who is not a member (`MemberNotFoundException`) [?: the text].
    pub(crate) fn is_not_a_member(&self) -> bool {
        self.code.ends_with("MemberNotFoundException")
            || self.message.contains("isn't a member of the group")
    }

    /// An `Add-MailboxPermission` whose entry exists: "An existing permission entry
    /// was found for user ..." [?: PowerShell's text, a warning in the shell].
    pub(crate) fn is_already_granted(&self) -> bool {
        self.code.ends_with("AlreadyExistsException")
            || self.message.contains("existing permission entry was found")
    }

    /// Whether the app is signed in but lacks the Exchange role: §15 quotes a 401
    /// `"User is not allowed to call Get-Mailbox"`.
    pub(crate) fn is_role_missing(&self) -> bool {
        self.message.contains("is not allowed to call")
    }

    /// The typed error; `what` names the object for a not-found.
    pub(crate) fn into_error(self, what: impl FnOnce() -> String) -> Error {
        let service = SERVICE;
        if self.is_role_missing() || self.status == StatusCode::FORBIDDEN {
            return Error::Forbidden {
                service,
                message: format!(
                    "{} (the app registration needs the Exchange.ManageAsApp permission and the \
                     Exchange Administrator role)",
                    self.message
                ),
            };
        }
        if self.status == StatusCode::UNAUTHORIZED {
            return Error::Unauthorized {
                service,
                message: self.message,
            };
        }
        if self.is_not_found() {
            return Error::NotFound {
                service,
                what: what(),
            };
        }
        Error::Rejected {
            service,
            status: self.status.as_u16(),
            code: self.code,
            message: self.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detail_message_wins_and_its_exception_type_is_the_code() {
        let body = br#"{"error":{"code":"NotFound","message":"Error executing cmdlet",
            "details":[{"code":"Context","target":"","message":"Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'x@contoso.com' couldn't be found on 'AM0PR01A001.PROD.OUTLOOK.COM'."}]}}"#;

        let failure = Failure::parse(StatusCode::NOT_FOUND, body);

        assert!(failure.is_not_found());
        assert!(failure.code.ends_with("ManagementObjectNotFoundException"));
        assert!(failure.message.starts_with("The operation couldn't"));
    }

    #[test]
    fn the_inner_exception_comes_before_the_top_message() {
        let body = br#"{"error":{"code":"InternalServerError","message":"Error executing cmdlet",
            "innererror":{"internalException":{"message":"A parameter cannot be found that matches parameter name 'Colour'."}}}}"#;

        let failure = Failure::parse(StatusCode::BAD_REQUEST, body);
        let error = failure.into_error(|| "mailbox".into());

        assert!(
            matches!(&error, Error::Rejected { status: 400, message, .. } if message.contains("'Colour'")),
            "{error:?}"
        );
    }

    #[test]
    fn a_missing_role_is_forbidden_and_says_what_to_grant() {
        let body =
            br#"{"error":{"code":"Unauthorized","message":"User is not allowed to call Get-Mailbox"}}"#;

        let error = Failure::parse(StatusCode::UNAUTHORIZED, body).into_error(String::new);

        assert!(
            matches!(&error, Error::Forbidden { message, .. } if message.contains("Exchange Administrator")),
            "{error:?}"
        );
    }

    #[test]
    fn a_body_that_is_not_exchanges_keeps_the_status() {
        let failure = Failure::parse(StatusCode::BAD_REQUEST, b"<html>");

        assert_eq!(failure.code, "unknown");
        assert_eq!(failure.message, "HTTP 400");
    }
}
