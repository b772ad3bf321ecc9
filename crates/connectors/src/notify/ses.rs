//! SES v2 `SendEmail`: mail on AWS.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use super::{Mail, Notifier, Sent, Sms, aws_error};
use crate::error::Error;

const SERVICE: &str = "ses";

/// Sends mail with SES v2 (the sender must be a verified identity).
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// A mailer on `client`.
    pub fn new(client: aws_sdk_sesv2::Client) -> Self {
        Self {
            client,
            configuration_set: None,
        }
    }

    /// A mailer from shared AWS configuration (region, credentials, endpoint).
    pub fn from_conf(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_sesv2::Client::new(config))
    }

    /// Sends through this SES configuration set (event publishing, IP pool).
    pub fn with_configuration_set(mut self, name: &str) -> Self {
        self.configuration_set = Some(name.to_owned());
        self
    }
}

fn utf8(data: &str) -> Result<Content, Error> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| Error::Protocol {
            service: SERVICE,
            detail: e.to_string(),
        })
}

#[async_trait]
impl Notifier for SesMailer {
    async fn send_mail(&self, mail: &Mail) -> Result<Sent, Error> {
        mail.check(SERVICE)?;
        let message = Message::builder()
            .subject(utf8(&mail.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&mail.text)?)
                    .html(utf8(&mail.html)?)
                    .build(),
            )
            .build();
        let answer = self
            .client
            .send_email()
            .from_email_address(&mail.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(mail.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, e))?;
        Ok(Sent {
            message_id: answer.message_id().unwrap_or_default().to_owned(),
        })
    }

    async fn send_sms(&self, _sms: &Sms) -> Result<Sent, Error> {
        Err(Error::Config {
            service: SERVICE,
            detail: "SES sends mail only; SMS goes through SNS (combine them with Channels)".into(),
        })
    }
}
