//! Onboarding and offboarding forms parsed into validated requests ("parse, don't
//! validate"): every bad field is reported at once, each naming the field.
//!
//! Fields are those of CONTRACT.md section 2; fields this crate does not know are kept
//! in `ignored_fields` (so an API can warn) instead of failing the request.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value as Json};

use crate::error::{DomainError, FieldError};
use crate::license::{LicensePurchaseChoice, SkuPartNumber};
use crate::username::{PersonName, Username};
use crate::values::{CountryCode, EmailAddress};
use crate::variables::{PhoneFormat, SendCredentialsTo, Variables};

/// A PSA ticket id as given (`"12345"`, `12345` or `"T20240101.0001"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(String);

impl TicketId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 (`+14155550123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses `text`, reading a number without a `+` country code as one of `country`.
    pub fn parse(text: &str, country: CountryCode) -> Result<Self, String> {
        let parsed = phonenumber::parse(country.phone_region(), text.trim())
            .map_err(|_| format!("`{}` is not a phone number", text.trim()))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(format!(
                "`{}` is not a valid phone number for {country} or with a country code",
                text.trim()
            ));
        }
        Ok(Self(
            parsed.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// The E.164 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number written as the organization prefers (`preferred_phone_number_format`).
    pub fn formatted(&self, format: PhoneFormat) -> String {
        let mode = match format {
            PhoneFormat::E164 => return self.0.clone(),
            PhoneFormat::International => phonenumber::Mode::International,
            PhoneFormat::National => phonenumber::Mode::National,
        };
        match phonenumber::parse(None, &self.0) {
            Ok(n) => n.format().mode(mode).to_string(),
            Err(_) => self.0.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let parsed = phonenumber::parse(None, &text)
            .ok()
            .filter(phonenumber::is_valid)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("`{text}` is not an e.164 phone number"))
            })?;
        Ok(Self(
            parsed.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A point in time given as a date or as an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhenGiven {
    /// The instant.
    pub at: Timestamp,
    /// The date, when only a date was given (`at` is then a working-day boundary of it
    /// in the organization's time zone).
    pub date: Option<Date>,
}

/// A validated onboarding request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnboardingRequest {
    /// The organization's id as the form names it.
    pub organization: String,
    /// The new user's name.
    pub name: PersonName,
    /// The display name (default `First Last`).
    pub display_name: String,
    /// An explicit username instead of the format's.
    pub username: Option<Username>,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Office location.
    pub office_location: Option<String>,
    /// The user's mobile phone, E.164.
    pub mobile_phone: Option<PhoneNumber>,
    /// The user's personal e-mail address.
    pub personal_email: Option<EmailAddress>,
    /// The manager's e-mail address.
    pub manager_email: Option<EmailAddress>,
    /// The license country (default `m365_usage_location`).
    pub usage_location: CountryCode,
    /// When the user starts, if given.
    pub start_date: Option<WhenGiven>,
    /// Requested SKUs, without repeats, in form order.
    pub licenses: Vec<SkuPartNumber>,
    /// Groups to add, by display name, without repeats.
    pub groups: Vec<String>,
    /// A user whose groups are copied.
    pub copy_groups_from: Option<EmailAddress>,
    /// Shared mailboxes the user gets FullAccess and SendAs to, by address, without
    /// repeats (through Exchange Online, once the user's mailbox exists).
    #[serde(default)]
    pub shared_mailboxes: Vec<EmailAddress>,
    /// The existing PSA ticket.
    pub ticket_id: Option<TicketId>,
    /// The form's license purchase choice.
    pub license_purchase: Option<LicensePurchaseChoice>,
    /// Who receives the credentials.
    pub send_credentials_to: SendCredentialsTo,
    /// The organization's template the form named (its fields are in the form
    /// already: [`crate::template::Template::fill`] ran before the parse).
    #[serde(default)]
    pub template: Option<String>,
    /// Fields of the body this crate does not know, sorted.
    pub ignored_fields: Vec<String>,
}

impl OnboardingRequest {
    /// When to create the user: the start date, if the organization allows scheduled
    /// creation and the date is still ahead of `now`; `None` means now.
    pub fn scheduled_creation(&self, variables: &Variables, now: Timestamp) -> Option<Timestamp> {
        let start = self.start_date?;
        (variables.allow_scheduled_user_creation.0 && start.at > now).then_some(start.at)
    }
}

/// The offboarding actions, each on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffboardingActions {
    /// Block sign-in.
    pub deactivate_user: bool,
    /// Revoke sign-in sessions.
    pub revoke_sessions: bool,
    /// Reset the password to a random one.
    pub reset_password: bool,
    /// Remove authentication methods.
    pub remove_auth_methods: bool,
    /// Remove group memberships.
    pub remove_groups: bool,
    /// Remove licenses.
    pub remove_licenses: bool,
    /// Give the delegate access to the mailbox.
    pub set_manager_as_delegate: bool,
    /// Forward mail to the delegate.
    pub forward_mail_to_manager: bool,
    /// Set an automatic reply.
    pub set_auto_reply: bool,
    /// Hide from the global address list.
    pub hide_from_gal: bool,
    /// Lower the distributor subscription by the freed seats.
    pub reduce_distributor_seats: bool,
    /// Convert the mailbox to a shared mailbox (before licenses are removed).
    #[serde(default)]
    pub convert_to_shared: bool,
}

impl OffboardingActions {
    /// Every action name, as keys of the form's `actions` object.
    pub const NAMES: &'static [&'static str] = &[
        "deactivate_user",
        "revoke_sessions",
        "reset_password",
        "remove_auth_methods",
        "remove_groups",
        "remove_licenses",
        "set_manager_as_delegate",
        "forward_mail_to_manager",
        "set_auto_reply",
        "hide_from_gal",
        "reduce_distributor_seats",
        "convert_to_shared",
    ];

    /// The organization's defaults (`offboarding_*` variables).
    pub fn from_variables(v: &Variables) -> Self {
        Self {
            deactivate_user: v.offboarding_deactivate_user,
            revoke_sessions: v.offboarding_revoke_sessions,
            reset_password: v.offboarding_reset_password,
            remove_auth_methods: v.offboarding_remove_auth_methods,
            remove_groups: v.offboarding_remove_groups,
            remove_licenses: v.offboarding_remove_licenses,
            set_manager_as_delegate: v.offboarding_set_manager_as_delegate,
            forward_mail_to_manager: v.offboarding_forward_mail_to_manager,
            set_auto_reply: v.offboarding_set_auto_reply,
            hide_from_gal: v.offboarding_hide_from_gal,
            reduce_distributor_seats: v.offboarding_reduce_distributor_seats,
            convert_to_shared: v.offboarding_convert_to_shared,
        }
    }

    fn slot(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "deactivate_user" => &mut self.deactivate_user,
            "revoke_sessions" => &mut self.revoke_sessions,
            "reset_password" => &mut self.reset_password,
            "remove_auth_methods" => &mut self.remove_auth_methods,
            "remove_groups" => &mut self.remove_groups,
            "remove_licenses" => &mut self.remove_licenses,
            "set_manager_as_delegate" => &mut self.set_manager_as_delegate,
            "forward_mail_to_manager" => &mut self.forward_mail_to_manager,
            "set_auto_reply" => &mut self.set_auto_reply,
            "hide_from_gal" => &mut self.hide_from_gal,
            "reduce_distributor_seats" => &mut self.reduce_distributor_seats,
            "convert_to_shared" => &mut self.convert_to_shared,
            _ => return None,
        })
    }

    /// Whether any action is on.
    pub fn any(&self) -> bool {
        let mut copy = *self;
        Self::NAMES
            .iter()
            .any(|n| copy.slot(n).is_some_and(|on| *on))
    }
}

/// A validated offboarding request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffboardingRequest {
    /// The organization's id as the form names it.
    pub organization: String,
    /// The user to offboard.
    pub user_principal_name: EmailAddress,
    /// The existing PSA ticket.
    pub ticket_id: Option<TicketId>,
    /// When to offboard; `None` means now.
    pub scheduled_at: Option<WhenGiven>,
    /// The actions: the organization's variables overridden by the form's `actions`.
    pub actions: OffboardingActions,
    /// Who gets the mailbox and forwarded mail (default: the manager).
    pub delegate_to: Option<EmailAddress>,
    /// Where mail is forwarded instead of the delegate: a recipient of the
    /// organization or any outside address. Giving it turns forwarding on unless
    /// the form's `actions` turn `forward_mail_to_manager` off.
    #[serde(default)]
    pub forward_to: Option<EmailAddress>,
    /// Keep a copy in the mailbox when forwarding (default the variable
    /// `offboarding_forward_keep_copy`).
    #[serde(default = "keep_copy_default")]
    pub forward_keep_copy: bool,
    /// Fields of the body this crate does not know, sorted.
    pub ignored_fields: Vec<String>,
}

fn keep_copy_default() -> bool {
    true
}

/// Reads fields off a JSON object, collecting every error (forms and templates).
pub(crate) struct Form<'a> {
    object: &'a Map<String, Json>,
    errors: Vec<FieldError>,
}

impl<'a> Form<'a> {
    pub(crate) fn new(body: &'a Json) -> Result<Self, DomainError> {
        match body {
            Json::Object(object) => Ok(Self {
                object,
                errors: Vec::new(),
            }),
            _ => Err(DomainError::InvalidRequest {
                errors: vec![FieldError::new("body", "expected a json object")],
            }),
        }
    }

    pub(crate) fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// The field, unless absent, `null` or a blank string.
    pub(crate) fn raw(&self, field: &str) -> Option<&'a Json> {
        match self.object.get(field)? {
            Json::Null => None,
            Json::String(s) if s.trim().is_empty() => None,
            other => Some(other),
        }
    }

    /// A trimmed text of at most `max` characters without control characters.
    pub(crate) fn text(&mut self, field: &str, max: usize) -> Option<String> {
        match self.raw(field)? {
            Json::String(s) => {
                let s = s.trim();
                if s.chars().count() > max {
                    self.error(field, format!("is longer than {max} characters"));
                    None
                } else if s.chars().any(char::is_control) {
                    self.error(field, "contains control characters");
                    None
                } else {
                    Some(s.to_owned())
                }
            }
            _ => {
                self.error(field, "expected a string");
                None
            }
        }
    }

    pub(crate) fn required_text(&mut self, field: &str, max: usize) -> Option<String> {
        if self.raw(field).is_none() {
            self.error(field, "is required");
            return None;
        }
        self.text(field, max)
    }

    /// A text parsed by `parse`, whose error message is used as is.
    pub(crate) fn parsed<T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(field, 1024)?;
        match parse(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(field, e);
                None
            }
        }
    }

    fn ticket_id(&mut self) -> Option<TicketId> {
        const FIELD: &str = "ticket_id";
        match self.raw(FIELD)? {
            Json::Number(n) if n.is_u64() => Some(TicketId(n.to_string())),
            Json::String(_) => self.text(FIELD, 64).map(TicketId),
            _ => {
                self.error(FIELD, "expected a string or a whole number");
                None
            }
        }
    }

    /// A list of strings, each parsed, without repeats.
    pub(crate) fn list<T: PartialEq>(
        &mut self,
        field: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        let Some(raw) = self.raw(field) else {
            return Vec::new();
        };
        let Json::Array(items) = raw else {
            self.error(field, "expected a list of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_field = format!("{field}[{i}]");
            match item {
                Json::String(s) if !s.trim().is_empty() => match parse(s.trim()) {
                    Ok(v) if !out.contains(&v) => out.push(v),
                    Ok(_) => {}
                    Err(e) => self.error(&item_field, e),
                },
                _ => self.error(&item_field, "expected a non-empty string"),
            }
        }
        out
    }

    /// A date (the working-day boundary `time` in `variables`' time zone) or an RFC 3339 instant.
    fn when(&mut self, field: &str, variables: &Variables, time: Time) -> Option<WhenGiven> {
        let text = self.text(field, 64)?;
        if let Ok(date) = text.parse::<Date>()
            && text.len() == 10
        {
            return match date
                .to_datetime(time)
                .to_zoned(variables.time_zone.zone().clone())
            {
                Ok(zoned) => Some(WhenGiven {
                    at: zoned.timestamp(),
                    date: Some(date),
                }),
                Err(_) => {
                    self.error(field, format!("`{text}` is out of range"));
                    None
                }
            };
        }
        match text.parse::<Timestamp>() {
            Ok(at) => Some(WhenGiven { at, date: None }),
            Err(_) => {
                self.error(
                    field,
                    format!(
                        "`{text}` is neither a date (YYYY-MM-DD) nor an rfc 3339 date-time with an offset"
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn ignored(&self, known: &[&str]) -> Vec<String> {
        // Sorted, so the answer does not depend on whether serde_json keeps
        // insertion order (its `preserve_order` feature, which another crate
        // in the build may switch on).
        let mut ignored: Vec<String> = self
            .object
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        ignored.sort();
        ignored
    }

    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<T, DomainError> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(DomainError::InvalidRequest {
                errors: self.errors,
            }),
        }
    }
}

/// Fields of the onboarding form.
pub const ONBOARDING_FIELDS: &[&str] = &[
    "organization",
    "first_name",
    "middle_name",
    "last_name",
    "display_name",
    "username",
    "job_title",
    "department",
    "office_location",
    "mobile_phone",
    "personal_email",
    "manager_email",
    "usage_location",
    "start_date",
    "licenses",
    "groups",
    "copy_groups_from",
    "shared_mailboxes",
    "ticket_id",
    "license_purchase",
    "send_credentials_to",
    "template",
];

/// Fields of the offboarding form.
pub const OFFBOARDING_FIELDS: &[&str] = &[
    "organization",
    "user_principal_name",
    "ticket_id",
    "scheduled_at",
    "actions",
    "delegate_to",
    "forward_to",
    "forward_keep_copy",
];

/// Length limits of Entra ID user properties.
const MAX_NAME: usize = 64;
const MAX_DISPLAY_NAME: usize = 256;
pub(crate) const MAX_JOB_TITLE: usize = 128;
pub(crate) const MAX_DEPARTMENT: usize = 64;
pub(crate) const MAX_OFFICE: usize = 128;
const MAX_GROUP_NAME: usize = 256;

/// A group's display name as forms and templates give it.
pub(crate) fn group_name(text: &str) -> Result<String, String> {
    if text.chars().count() > MAX_GROUP_NAME {
        Err(format!("is longer than {MAX_GROUP_NAME} characters"))
    } else {
        Ok(text.to_owned())
    }
}

/// The `organization` a form names, read first so its variables can be loaded before
/// the whole form is parsed; a missing or blank one is the field error the full parse
/// would give.
pub fn organization_of(body: &Json) -> Result<&str, DomainError> {
    match body.get("organization") {
        Some(Json::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
        Some(Json::String(_) | Json::Null) | None => Err(DomainError::InvalidRequest {
            errors: vec![FieldError::new("organization", "is required")],
        }),
        Some(_) => Err(DomainError::InvalidRequest {
            errors: vec![FieldError::new("organization", "expected a string")],
        }),
    }
}

/// Parses an onboarding form with the organization's resolved `variables`.
///
/// Every bad field is reported at once in [`DomainError::InvalidRequest`].
pub fn parse_onboarding(
    body: &Json,
    variables: &Variables,
) -> Result<OnboardingRequest, DomainError> {
    let mut form = Form::new(body)?;
    let organization = form.required_text("organization", 128);
    let first = form.required_text("first_name", MAX_NAME);
    let middle = form.text("middle_name", MAX_NAME);
    let last = form.required_text("last_name", MAX_NAME);
    let display_name = form.text("display_name", MAX_DISPLAY_NAME);
    let username = form.parsed("username", |s| {
        Username::parse(s).map_err(|e| match e {
            DomainError::InvalidUsername { reason, .. } => reason,
            other => other.to_string(),
        })
    });
    let job_title = form.text("job_title", MAX_JOB_TITLE);
    let department = form.text("department", MAX_DEPARTMENT);
    let office_location = form.text("office_location", MAX_OFFICE);
    let usage_location = form
        .parsed("usage_location", |s| s.parse::<CountryCode>())
        .unwrap_or(variables.m365_usage_location);
    let mobile_phone = form.parsed("mobile_phone", |s| PhoneNumber::parse(s, usage_location));
    let personal_email = form.parsed("personal_email", str::parse::<EmailAddress>);
    let manager_email = form.parsed("manager_email", str::parse::<EmailAddress>);
    let start_date = form.when("start_date", variables, variables.working_day_start);
    let licenses = form.list("licenses", str::parse::<SkuPartNumber>);
    let groups = form.list("groups", group_name);
    let copy_groups_from = form.parsed("copy_groups_from", str::parse::<EmailAddress>);
    let shared_mailboxes = form.list("shared_mailboxes", str::parse::<EmailAddress>);
    let ticket_id = form.ticket_id();
    let license_purchase = form.parsed("license_purchase", str::parse::<LicensePurchaseChoice>);
    let explicit_send = form.parsed("send_credentials_to", str::parse::<SendCredentialsTo>);
    let template = form.text("template", crate::template::MAX_NAME);

    // An explicit channel needs its recipient; a default one is narrowed to what is possible.
    let send_credentials_to = match explicit_send {
        Some(send) => {
            if send.by_email() && manager_email.is_none() && form.raw("manager_email").is_none() {
                form.error(
                    "send_credentials_to",
                    format!("`{send}` needs a manager_email"),
                );
            }
            if send.by_sms() && mobile_phone.is_none() && form.raw("mobile_phone").is_none() {
                form.error(
                    "send_credentials_to",
                    format!("`{send}` needs a mobile_phone"),
                );
            }
            send
        }
        None => {
            let default = variables.send_credentials_to;
            SendCredentialsTo::from_channels(
                default.by_email() && manager_email.is_some(),
                (default.by_sms() || variables.send_sms_to_user) && mobile_phone.is_some(),
            )
        }
    };

    let ignored_fields = form.ignored(ONBOARDING_FIELDS);
    let request = match (organization, first, last) {
        (Some(organization), Some(first), Some(last)) => {
            let name = PersonName {
                first,
                middle,
                last,
            };
            Some(OnboardingRequest {
                organization,
                display_name: display_name.unwrap_or_else(|| name.full()),
                name,
                username,
                job_title,
                department,
                office_location,
                mobile_phone,
                personal_email,
                manager_email,
                usage_location,
                start_date,
                licenses,
                groups,
                copy_groups_from,
                shared_mailboxes,
                ticket_id,
                license_purchase,
                send_credentials_to,
                template,
                ignored_fields,
            })
        }
        _ => None,
    };
    form.finish(request)
}

/// Parses an offboarding form with the organization's resolved `variables`.
///
/// A `scheduled_at` date means the end of that working day in the organization's time
/// zone; `actions` overrides the `offboarding_*` variables one by one.
pub fn parse_offboarding(
    body: &Json,
    variables: &Variables,
) -> Result<OffboardingRequest, DomainError> {
    let mut form = Form::new(body)?;
    let organization = form.required_text("organization", 128);
    let upn = if form.raw("user_principal_name").is_none() {
        form.error("user_principal_name", "is required");
        None
    } else {
        form.parsed("user_principal_name", str::parse::<EmailAddress>)
    };
    let ticket_id = form.ticket_id();
    let scheduled_at = form.when("scheduled_at", variables, variables.working_day_end);
    let delegate_to = form.parsed("delegate_to", str::parse::<EmailAddress>);
    let forward_to = form.parsed("forward_to", str::parse::<EmailAddress>);
    let forward_keep_copy = match form.raw("forward_keep_copy") {
        None | Some(Json::Null) => variables.offboarding_forward_keep_copy,
        Some(Json::Bool(keep)) => *keep,
        Some(_) => {
            form.error("forward_keep_copy", "expected true or false");
            variables.offboarding_forward_keep_copy
        }
    };

    let mut actions = OffboardingActions::from_variables(variables);
    match form.raw("actions") {
        None => {}
        Some(Json::Object(given)) => {
            // Sorted for the same reason as `ignored`: errors in a stable order.
            let given: std::collections::BTreeMap<_, _> = given.iter().collect();
            for (key, value) in given {
                let field = format!("actions.{key}");
                let name = key.strip_prefix("offboarding_").unwrap_or(key);
                match (actions.slot(name), value) {
                    (Some(slot), Json::Bool(on)) => *slot = *on,
                    (Some(_), _) => form.error(&field, "expected true or false"),
                    (None, _) => form.error(
                        &field,
                        format!(
                            "unknown action; expected one of {}",
                            OffboardingActions::NAMES.join(", ")
                        ),
                    ),
                }
            }
        }
        Some(_) => form.error(
            "actions",
            "expected an object of action names to true or false",
        ),
    }
    let forwarding_given = form
        .raw("actions")
        .and_then(Json::as_object)
        .is_some_and(|a| {
            a.contains_key("forward_mail_to_manager")
                || a.contains_key("offboarding_forward_mail_to_manager")
        });
    if forward_to.is_some() && !forwarding_given {
        actions.forward_mail_to_manager = true;
    }
    if !actions.any() {
        form.error("actions", "every action is off, so nothing would be done");
    }
    if actions.reduce_distributor_seats && !actions.remove_licenses {
        form.error(
            "actions.reduce_distributor_seats",
            "needs remove_licenses: a seat still assigned cannot be given back",
        );
    }
    if let (Some(delegate), Some(user)) = (&delegate_to, &upn)
        && delegate.as_str().eq_ignore_ascii_case(user.as_str())
    {
        form.error("delegate_to", "is the user being offboarded");
    }
    if let (Some(to), Some(user)) = (&forward_to, &upn)
        && to.as_str().eq_ignore_ascii_case(user.as_str())
    {
        form.error("forward_to", "is the user being offboarded");
    }

    let ignored_fields = form.ignored(OFFBOARDING_FIELDS);
    let request = match (organization, upn) {
        (Some(organization), Some(user_principal_name)) => Some(OffboardingRequest {
            organization,
            user_principal_name,
            ticket_id,
            scheduled_at,
            actions,
            delegate_to,
            forward_to,
            forward_keep_copy,
            ignored_fields,
        }),
        _ => None,
    };
    form.finish(request)
}
