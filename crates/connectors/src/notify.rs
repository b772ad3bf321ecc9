//! Port `Notifier`: mail (text + HTML from `send_from_address`) and SMS to approvers, technicians and managers.
//!
//! Adapters: [`SesMailer`] (SES v2) and [`SnsTexter`] (SNS) on AWS,
//! [`SmtpMailer`] (lettre over rustls) for self-hosted installs, and
//! [`MemoryOutbox`] for the sandbox, whose messages `GET /sandbox/outbox`
//! shows. [`Channels`] puts a mail adapter and an SMS adapter behind one port.
//! Bodies are built with [`MailBuilder`], which writes every link so it
//! survives mail clients: a real `<a href>` in HTML, and the bare URL on a
//! line of its own, in angle brackets, in the text part.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Error;

mod outbox;
mod ses;
mod smtp;
mod sns;

pub use outbox::{Channel, MemoryOutbox, OutboxEntry};
pub use ses::SesMailer;
pub use smtp::{SmtpMailer, SmtpSecurity, SmtpSettings};
pub use sns::SnsTexter;

/// A mail with a plain-text and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The sender: the organization's `send_from_address`.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

impl Mail {
    /// Starts a mail from `send_from_address` to `to`.
    pub fn builder(from: &str, to: &[&str], subject: &str) -> MailBuilder {
        MailBuilder {
            from: from.to_owned(),
            to: to.iter().map(|t| (*t).to_owned()).collect(),
            subject: subject.to_owned(),
            text: Vec::new(),
            html: Vec::new(),
        }
    }

    fn check(&self, service: &'static str) -> Result<(), Error> {
        if self.from.trim().is_empty() {
            return Err(Error::Config {
                service,
                detail: "send_from_address is empty".into(),
            });
        }
        if self.to.is_empty() || self.to.iter().any(|t| !t.contains('@')) {
            return Err(Error::Rejected {
                service,
                status: 0,
                code: "InvalidRecipient".into(),
                message: "a mail needs at least one recipient address".into(),
            });
        }
        Ok(())
    }
}

/// Builds the text and HTML parts of a [`Mail`] together.
#[derive(Debug, Clone)]
pub struct MailBuilder {
    from: String,
    to: Vec<String>,
    subject: String,
    text: Vec<String>,
    html: Vec<String>,
}

impl MailBuilder {
    /// A paragraph of plain text.
    pub fn paragraph(mut self, text: &str) -> Self {
        self.text.push(text.to_owned());
        self.html.push(format!("<p>{}</p>", escape_html(text)));
        self
    }

    /// A link: `label` followed by the URL on its own line in text, in
    /// angle brackets (RFC 3986 appendix C) so clients neither wrap nor
    /// truncate it; an anchor with the URL also shown in HTML.
    pub fn link(mut self, label: &str, url: &str) -> Self {
        self.text.push(format!("{label}:\n<{url}>"));
        let href = escape_html(url);
        self.html.push(format!(
            "<p><a href=\"{href}\">{}</a><br><span style=\"font-size:small\">{href}</span></p>",
            escape_html(label)
        ));
        self
    }

    /// The finished mail.
    pub fn build(self) -> Mail {
        Mail {
            from: self.from,
            to: self.to,
            subject: self.subject.clone(),
            text: self.text.join("\n\n"),
            html: format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body>{}</body></html>",
                escape_html(&self.subject),
                self.html.join("\n")
            ),
        }
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    /// The phone number in E.164 (`+` and up to 15 digits).
    pub to: String,
    /// The text.
    pub body: String,
}

impl Sms {
    fn check(&self, service: &'static str) -> Result<(), Error> {
        let digits = self.to.strip_prefix('+').unwrap_or_default();
        let e164 = !digits.is_empty()
            && digits.len() <= 15
            && !digits.starts_with('0')
            && digits.chars().all(|c| c.is_ascii_digit());
        if !e164 {
            return Err(Error::Rejected {
                service,
                status: 0,
                code: "InvalidParameter".into(),
                message: "the phone number must be in E.164 form, e.g. +15555550100".into(),
            });
        }
        Ok(())
    }
}

/// What the sender's service said about an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The service's message id.
    pub message_id: String,
}

/// Sends mail and SMS.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Sends `mail` as multipart/alternative (text, then HTML).
    async fn send_mail(&self, mail: &Mail) -> Result<Sent, Error>;
    /// Sends `sms`.
    async fn send_sms(&self, sms: &Sms) -> Result<Sent, Error>;
}

/// One adapter for mail and another for SMS (SES + SNS on AWS).
#[derive(Debug, Clone)]
pub struct Channels {
    /// Sends mail.
    pub mail: Arc<dyn Notifier>,
    /// Sends SMS.
    pub sms: Arc<dyn Notifier>,
}

#[async_trait]
impl Notifier for Channels {
    async fn send_mail(&self, mail: &Mail) -> Result<Sent, Error> {
        self.mail.send_mail(mail).await
    }

    async fn send_sms(&self, sms: &Sms) -> Result<Sent, Error> {
        self.sms.send_sms(sms).await
    }
}

/// Maps an AWS SDK error onto the connector error, by the service's error
/// code and HTTP status.
pub(crate) fn aws_error<E>(
    service: &'static str,
    err: aws_sdk_sesv2::error::SdkError<E, aws_sdk_sesv2::config::http::HttpResponse>,
) -> Error
where
    E: aws_sdk_sesv2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};
    match &err {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().unwrap_or("unknown").to_owned();
            let message = context.err().message().unwrap_or("no message").to_owned();
            match (code.as_str(), status) {
                (
                    "TooManyRequestsException" | "Throttling" | "Throttled" | "ThrottlingException",
                    _,
                )
                | (_, 429) => Error::Throttled {
                    service,
                    attempts: 1,
                    retry_after: None,
                },
                (
                    "InvalidClientTokenId"
                    | "UnrecognizedClientException"
                    | "SignatureDoesNotMatch"
                    | "IncompleteSignature"
                    | "ExpiredToken",
                    _,
                ) => Error::Unauthorized { service, message },
                ("AuthorizationError" | "AccessDenied" | "AccessDeniedException", _) | (_, 403) => {
                    Error::Forbidden { service, message }
                }
                ("NotFoundException" | "NotFound", _) | (_, 404) => Error::NotFound {
                    service,
                    what: message,
                },
                (_, 500..=599) => Error::Unavailable {
                    service,
                    status,
                    attempts: 1,
                },
                _ => Error::Rejected {
                    service,
                    status,
                    code,
                    message,
                },
            }
        }
        SdkError::ConstructionFailure(_) => Error::Config {
            service,
            detail: format!("{}", DisplayErrorContext(&err)),
        },
        SdkError::ResponseError(_) => Error::Protocol {
            service,
            detail: format!("{}", DisplayErrorContext(&err)),
        },
        _ => Error::Unreachable {
            service,
            detail: format!("{}", DisplayErrorContext(&err)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_appear_whole_in_both_parts_and_html_is_escaped() {
        let url = "https://onboard.example/decisions/abc?sig=x&exp=1";

        let mail = Mail::builder("it@msp.example", &["boss@client.example"], "Approve <Jane>")
            .paragraph("Jane & John need access.")
            .link("Approve", url)
            .build();

        assert!(mail.text.contains(&format!("\n<{url}>")), "{}", mail.text);
        assert!(mail.text.contains("Jane & John"));
        assert!(
            mail.html
                .contains("href=\"https://onboard.example/decisions/abc?sig=x&amp;exp=1\"")
        );
        assert!(mail.html.contains("Jane &amp; John"));
        assert!(mail.html.contains("<title>Approve &lt;Jane&gt;</title>"));
    }

    #[test]
    fn only_e164_numbers_are_accepted_for_sms() {
        let sms = |to: &str| Sms {
            to: to.into(),
            body: "hi".into(),
        };

        assert!(sms("+15555550100").check("sns").is_ok());
        assert!(sms("15555550100").check("sns").is_err());
        assert!(sms("+1555555010012345").check("sns").is_err());
        assert!(sms("+1 555 555").check("sns").is_err());
    }

    #[test]
    fn a_mail_without_a_sender_is_a_configuration_error_naming_send_from_address() {
        let mail = Mail::builder("", &["a@b.example"], "x").build();

        let err = mail.check("ses").unwrap_err();

        assert!(err.to_string().contains("send_from_address"), "{err}");
    }
}
