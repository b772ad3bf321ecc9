//! SNS `Publish` to a phone number: SMS on AWS.

use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;

use super::{Mail, Notifier, Sent, Sms};
use crate::error::Error;

const SERVICE: &str = "sns";

/// Sends SMS with SNS, as `Transactional` messages (delivered first, not
/// subject to the promotional quiet hours).
#[derive(Debug, Clone)]
pub struct SnsTexter {
    client: aws_sdk_sns::Client,
    sender_id: Option<String>,
}

impl SnsTexter {
    /// A texter on `client`.
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        Self {
            client,
            sender_id: None,
        }
    }

    /// A texter from shared AWS configuration (region, credentials, endpoint).
    pub fn from_conf(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_sns::Client::new(config))
    }

    /// Shows this sender id where the destination country supports it.
    pub fn with_sender_id(mut self, sender_id: &str) -> Self {
        self.sender_id = Some(sender_id.to_owned());
        self
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, Error> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| Error::Protocol {
            service: SERVICE,
            detail: e.to_string(),
        })
}

#[async_trait]
impl Notifier for SnsTexter {
    async fn send_mail(&self, _mail: &Mail) -> Result<Sent, Error> {
        Err(Error::Config {
            service: SERVICE,
            detail:
                "SNS sends SMS only; mail goes through SES or SMTP (combine them with Channels)"
                    .into(),
        })
    }

    async fn send_sms(&self, sms: &Sms) -> Result<Sent, Error> {
        sms.check(SERVICE)?;
        let mut publish = self
            .client
            .publish()
            .phone_number(&sms.to)
            .message(&sms.body)
            .message_attributes("AWS.SNS.SMS.SMSType", string_attribute("Transactional")?);
        if let Some(sender_id) = &self.sender_id {
            publish =
                publish.message_attributes("AWS.SNS.SMS.SenderID", string_attribute(sender_id)?);
        }
        let answer = publish
            .send()
            .await
            .map_err(|e| super::aws_error(SERVICE, e))?;
        Ok(Sent {
            message_id: answer.message_id().unwrap_or_default().to_owned(),
        })
    }
}
