//! SMTP through lettre (rustls): mail for self-hosted installs.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::{Mail, Notifier, Sent, Sms};
use crate::error::Error;

const SERVICE: &str = "smtp";

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte (port 465).
    ImplicitTls,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// No TLS at all: only for a relay on the same machine or a test server.
    Plaintext,
}

/// Where the relay is and how to sign in.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// The relay's host name.
    pub host: String,
    /// The port; the security mode's usual port when `None`.
    pub port: Option<u16>,
    /// Connection protection.
    pub security: SmtpSecurity,
    /// The user to sign in as, if the relay wants one.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<SecretString>,
    /// Limit on one send, connection included.
    pub timeout: Duration,
}

/// Sends mail through an SMTP relay.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for the relay in `settings`.
    pub fn new(settings: &SmtpSettings) -> Result<Self, Error> {
        let config = |detail: String| Error::Config {
            service: SERVICE,
            detail,
        };
        let mut builder = match settings.security {
            SmtpSecurity::ImplicitTls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                    .map_err(|e| config(format!("smtp host: {e}")))?
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .map_err(|e| config(format!("smtp host: {e}")))?
            }
            SmtpSecurity::Plaintext => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
        };
        if let Some(port) = settings.port {
            builder = builder.port(port);
        }
        match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    user.clone(),
                    password.expose_secret().to_owned(),
                ));
            }
            (None, None) => {}
            _ => return Err(config("smtp username and password go together".into())),
        }
        Ok(Self {
            transport: builder.timeout(Some(settings.timeout)).build(),
            host: settings.host.clone(),
        })
    }
}

impl SmtpMailer {
    /// Read-only preflight (`onboard check`): connects, says EHLO, upgrades to
    /// TLS and authenticates as configured, sends NOOP and QUIT; no mail.
    pub async fn check(&self) -> Result<(), Error> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::Unreachable {
                service: SERVICE,
                detail: "the relay did not answer NOOP".into(),
            }),
            Err(e) => Err(smtp_error(&e)),
        }
    }
}

fn mailbox(address: &str) -> Result<Mailbox, Error> {
    address.parse().map_err(|e| Error::Rejected {
        service: SERVICE,
        status: 0,
        code: "InvalidAddress".into(),
        message: format!("'{address}' is not a mail address: {e}"),
    })
}

fn smtp_error(err: &lettre::transport::smtp::Error) -> Error {
    let code = err.status().map(|c| c.to_string());
    match code.as_deref() {
        Some("535" | "530" | "534") => Error::Unauthorized {
            service: SERVICE,
            message: err.to_string(),
        },
        Some(code) if err.is_transient() => Error::Unavailable {
            service: SERVICE,
            status: code.parse().unwrap_or(0),
            attempts: 1,
        },
        Some(code) => Error::Rejected {
            service: SERVICE,
            status: code.parse().unwrap_or(0),
            code: code.to_owned(),
            message: err.to_string(),
        },
        None => Error::Unreachable {
            service: SERVICE,
            detail: err.to_string(),
        },
    }
}

#[async_trait]
impl Notifier for SmtpMailer {
    async fn send_mail(&self, mail: &Mail) -> Result<Sent, Error> {
        mail.check(SERVICE)?;
        let domain = mail.from.rsplit('@').next().unwrap_or("onboard.invalid");
        let message_id = format!("<{}@{domain}>", uuid::Uuid::new_v4());
        let mut builder = Message::builder()
            .from(mailbox(&mail.from)?)
            .subject(&mail.subject)
            .message_id(Some(message_id.clone()));
        for to in &mail.to {
            builder = builder.to(mailbox(to)?);
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| Error::Protocol {
                service: SERVICE,
                detail: e.to_string(),
            })?;
        self.transport
            .send(message)
            .await
            .map_err(|e| smtp_error(&e))?;
        Ok(Sent { message_id })
    }

    async fn send_sms(&self, _sms: &Sms) -> Result<Sent, Error> {
        Err(Error::Config {
            service: SERVICE,
            detail: "SMTP sends mail only; SMS goes through SNS (combine them with Channels)"
                .into(),
        })
    }
}
