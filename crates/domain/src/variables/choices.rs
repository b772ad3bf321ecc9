//! The named choices settings take: the PSA, the identity provider, the phone
//! format, where passwords are saved, how credentials are delivered and to whom,
//! MFA readiness, the start-date flag. (The distributor is the license path's:
//! [`crate::license::Distributor`].)

use std::str::FromStr;

use serde::Serialize;
use serde_json::Value as Json;

use super::value::VariableValue;

named_enum! {
    /// The PSA where tickets are created and noted.
    pub enum Psa {
        /// ConnectWise PSA (Manage).
        ConnectWise = "connectwise" | "connectwise_manage" | "connect_wise" | "cw" | "cwm",
        /// Datto / Kaseya Autotask.
        Autotask = "autotask" | "datto_autotask",
        /// HaloPSA.
        HaloPsa = "halopsa" | "halo" | "halo_psa",
        /// No PSA: nothing is ticketed.
        NoPsa = "none",
    }
}

named_enum! {
    /// Where the user's identity is created.
    pub enum IdentityProvider {
        /// Microsoft Entra ID (cloud-only).
        AzureAd = "azure_ad" | "entra" | "entra_id" | "azuread",
        /// On-premises Active Directory, synchronised to Entra ID.
        OnPrem = "on_prem" | "onprem" | "active_directory",
        /// OpenText Secure Cloud.
        SecureCloud = "secure_cloud",
        /// Secure Cloud and on-premises AD.
        SecureCloudAndOnPrem = "secure_cloud_and_on_prem",
    }
}

named_enum! {
    /// How phone numbers are written to the directory.
    pub enum PhoneFormat {
        /// `+14155550123`.
        E164 = "e164" | "e.164",
        /// `+1 415-555-0123`.
        International = "international",
        /// `(415) 555-0123`.
        National = "national",
    }
}

named_enum! {
    /// A place a new user's password is saved.
    pub enum PasswordSaveLocation {
        /// An internal note of the PSA ticket.
        Psa = "psa" | "ticket",
        /// IT Glue.
        ItGlue = "itglue" | "it_glue",
        /// Hudu.
        Hudu = "hudu",
        /// Passportal.
        Passportal = "passportal",
        /// A Password Pusher link (see `pwpush_url`).
        PwPush = "pwpush" | "pw_push" | "password_pusher",
    }
}

named_enum! {
    /// What the new user gets to sign in for the first time.
    pub enum CredentialDelivery {
        /// A generated password.
        Password = "password",
        /// An Entra ID Temporary Access Pass.
        TemporaryAccessPass = "temporary_access_pass" | "tap",
    }
}

named_enum! {
    /// What to do when no policy would make a new user use MFA.
    pub enum MfaReadiness {
        /// Do not read the tenant's protection.
        Ignore = "ignore" | "off",
        /// Say so on the timeline and the ticket, and create the user.
        Warn = "warn",
        /// Refuse the run in Validate, before anything is created.
        Require = "require",
    }
}

named_enum! {
    /// Who receives the first credentials.
    pub enum SendCredentialsTo {
        /// The manager, by e-mail.
        Email = "email",
        /// The user's mobile phone, by SMS.
        Sms = "sms",
        /// Both.
        Both = "both",
        /// Nobody: a technician hands them over.
        Nobody = "none",
    }
}

impl SendCredentialsTo {
    /// Whether an e-mail is sent.
    pub fn by_email(self) -> bool {
        matches!(self, Self::Email | Self::Both)
    }

    /// Whether an SMS is sent.
    pub fn by_sms(self) -> bool {
        matches!(self, Self::Sms | Self::Both)
    }

    /// The channel set with e-mail and SMS as given.
    pub fn from_channels(email: bool, sms: bool) -> Self {
        match (email, sms) {
            (true, true) => Self::Both,
            (true, false) => Self::Email,
            (false, true) => Self::Sms,
            (false, false) => Self::Nobody,
        }
    }
}

/// `allow_scheduled_user_creation`: a flag, also readable from its aliases
/// `user_start_date_action` / `user_start_date_behavior` (`pause_workflow` | `document_only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ScheduleFlag(pub bool);

impl FromStr for ScheduleFlag {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match crate::values::normalize_name(s).as_str() {
            "pause_workflow" => Ok(Self(true)),
            "document_only" => Ok(Self(false)),
            other => bool::from_json(&Json::String(other.to_owned()))
                .map(Self)
                .map_err(|_| "expected 0 or 1 (or pause_workflow / document_only)".into()),
        }
    }
}
