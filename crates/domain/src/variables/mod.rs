//! Organization variables: every setting with its default, type and aliases, resolved in
//! layers (built-in defaults <- MSP-wide <- organization).
//!
//! Names are those of the original onboarding crate; the other names the original product
//! uses for the same setting are accepted as aliases. A layer is a JSON object (what a
//! TOML file, a DynamoDB item or an API body turns into); values may be JSON booleans,
//! numbers or strings (`"1"`, `"true"`, ...), as the original product stores them as text.
//!
//! `mod.rs` declares every variable once and resolves the layers; `value.rs` reads one
//! raw value into its type; `choices.rs` holds the named choices settings take.

use std::collections::BTreeMap;

use jiff::civil::Time;
use serde::Serialize;
use serde_json::{Value as Json, json};
use url::Url;

use crate::error::{DomainError, VariableScope};
use crate::license::{LicenseAssignmentMethod, LicenseGroups};
use crate::password::{PasswordOptions, PasswordPolicy, PasswordStyle};
use crate::reply::ReplyTemplate;
use crate::username::{CollisionStrategy, UmlautStyle, UsernameFormat, UsernameRules};
use crate::values::{Bounded, CountryCode, EmailAddress, TimeZoneName};

mod choices;
mod value;

pub use crate::license::Distributor;
pub use choices::{
    CredentialDelivery, IdentityProvider, MfaReadiness, PasswordSaveLocation, PhoneFormat, Psa,
    ScheduleFlag, SendCredentialsTo,
};
pub(crate) use value::VariableValue;

/// One layer of raw variable values, keyed by variable name (canonical or alias).
pub type VariableLayer = BTreeMap<String, Json>;

/// The description of one variable, for documentation, validation and tests.
#[derive(Debug, Clone, Copy)]
pub struct VariableSpec {
    /// The canonical name.
    pub name: &'static str,
    /// Other names accepted for the same setting.
    pub aliases: &'static [&'static str],
    /// What the variable does.
    pub doc: &'static str,
    /// The type, in words (`flag`, `list of email`, ...).
    pub kind: fn() -> String,
    /// The built-in default, as raw JSON.
    pub default: fn() -> Json,
}

/// Declares every variable once: the typed [`Variables`] struct, the [`VARIABLES`] table
/// and the layered resolution.
macro_rules! variables {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $ty:ty = $default:tt $(, aliases [$($alias:literal),+ $(,)?])?;
    )+) => {
        /// Every organization variable, resolved and typed.
        ///
        /// Build it with [`Variables::resolve`]; [`Variables::defaults`] is the built-in layer alone.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct Variables {
            $( $(#[doc = $doc])+ pub $name: $ty, )+
        }

        /// Every variable: canonical name, aliases, documentation, type and default.
        pub static VARIABLES: &[VariableSpec] = &[$(
            VariableSpec {
                name: stringify!($name),
                aliases: &[$($($alias),+)?],
                doc: concat!($($doc, "\n"),+),
                kind: <$ty as VariableValue>::kind,
                default: || json!($default),
            },
        )+];

        impl Variables {
            fn resolve_layers(resolver: &mut Resolver<'_>) -> Result<Self, DomainError> {
                $(
                    let $name: Option<$ty> = resolver.one(
                        stringify!($name),
                        &[$($($alias),+)?],
                        json!($default),
                    );
                )+
                resolver.finish()?;
                Ok(Self {
                    $( $name: $name.ok_or_else(|| resolver.missing(stringify!($name)))?, )+
                })
            }

            #[cfg(test)]
            fn samples_of(name: &str) -> Option<([(Json, Json); 2], Json)> {
                match name {
                    $( stringify!($name) => Some((<$ty as VariableValue>::samples(), <$ty as VariableValue>::bad_sample())), )+
                    _ => None,
                }
            }
        }
    };
}

variables! {
    // Approval.
    /// Ask for approval before a new user is created.
    require_approval_for_new_users: bool = 0;
    /// Who approves new users (one or more addresses).
    new_user_approval_email: Vec<EmailAddress> = null;
    /// Ask for approval before a user is offboarded.
    require_approval_for_offboarding_users: bool = 0;
    /// Who approves offboardings (one or more addresses).
    offboarding_user_approval_email: Vec<EmailAddress> = null;
    /// Hours an approval request waits before it times out (and the request is closed).
    approval_timeout_hours: Bounded<1, 720> = 72;
    /// Hours between reminders to the approvers; 0 sends none.
    approval_reminder_hours: Bounded<0, 720> = 24;

    // Ticketing.
    /// The PSA where tickets are created and noted.
    default_psa: Option<Psa> = null;
    /// The board / queue for tickets Onboard creates.
    default_ticket_location: Option<String> = null, aliases ["psa_default_board_id"];
    /// The ticket status while Onboard works.
    default_ticket_status: Option<String> = null, aliases ["psa_default_ticket_status"];
    /// The ticket status while a technician's input is awaited (e.g. a license purchase).
    ticket_status_waiting_input: Option<String> = null, aliases ["psa_ticket_status_waiting_input"];
    /// The ticket status when the workflow completes.
    ticket_status_workflow_complete: Option<String> = null, aliases ["psa_ticket_status_completed_task"];
    /// The priority of tickets Onboard creates.
    default_priority: Option<String> = null, aliases ["psa_default_ticket_priority"];
    /// The reply-to address of mail Onboard sends.
    send_from_address: Option<EmailAddress> = null, aliases ["psa_send_from_address"];
    /// The ticket type for new-user tickets.
    type_for_created_new_user_ticket: Option<String> = null, aliases ["psa_new_user_ticket_type"];
    /// The ticket subtype for new-user tickets.
    subtype_for_created_new_user_ticket: Option<String> = null, aliases ["psa_new_user_ticket_subtype"];
    /// The ticket item for new-user tickets.
    item_for_created_new_user_ticket: Option<String> = null, aliases ["psa_new_user_ticket_item"];
    /// The ticket type for offboarding tickets.
    psa_offboarding_user_ticket_type: Option<String> = null;
    /// The ticket subtype for offboarding tickets.
    psa_offboarding_user_ticket_subtype: Option<String> = null;
    /// The ticket item for offboarding tickets.
    psa_offboarding_user_ticket_item: Option<String> = null;
    /// The technician tickets are assigned to.
    psa_default_tech_id: Option<String> = null;
    /// The work role of time entries.
    psa_default_tech_workrole: Option<String> = null;
    /// The work type of time entries.
    psa_default_tech_worktype: Option<String> = null;
    /// The urgency of tickets Onboard creates.
    psa_default_ticket_urgency: Option<String> = null;
    /// The impact of tickets Onboard creates.
    psa_default_ticket_impact: Option<String> = null;
    /// The source of tickets Onboard creates.
    psa_default_ticket_source: Option<String> = null;
    /// Make every ticket note internal.
    psa_all_notes_internal: bool = 1;
    /// Log no time entry on tickets.
    no_ticket_time: bool = 0, aliases ["psa_no_ticket_time"];
    /// The ticket status used for time entries.
    time_entry_ticket_status: Option<String> = null;
    /// Time logged for an onboarding, as the PSA expects it.
    automation_task_new_user_time: Option<String> = null;
    /// Time logged for an offboarding, as the PSA expects it.
    automation_task_offboard_user_time: Option<String> = null;
    /// The organization's company id in ConnectWise.
    cw_manage_company_id: Option<String> = null;
    /// The organization's client id in HaloPSA.
    halo_psa_client_id: Option<String> = null;
    /// The organization's company id in Autotask.
    autotask_company_id: Option<String> = null;

    // Scheduling.
    /// Wait for the form's start date before creating the user.
    allow_scheduled_user_creation: ScheduleFlag = 0, aliases ["user_start_date_action", "user_start_date_behavior"];
    /// The country whose time zones the organization uses (informative).
    tz_country: Option<CountryCode> = null;
    /// The organization's IANA time zone: dates in forms are read in it.
    time_zone: TimeZoneName = "UTC", aliases ["timezone"];
    /// When the working day starts: a start date means this time on that day.
    working_day_start: Time = "09:00";
    /// When the working day ends: an offboarding date means this time on that day.
    working_day_end: Time = "17:00";

    // Identity.
    /// Where users are created.
    primary_identity_provider: IdentityProvider = "azure_ad";
    /// On-premises AD is not synchronised to Entra ID.
    onprem_no_adsync: bool = 0, aliases ["no_ad_sync"];
    /// The organization has no Entra ID tenant.
    no_azure_ad: bool = 0;
    /// The domain controller to create on-premises users on.
    preferred_domain_controller: Option<String> = null, aliases ["primary_domain_controller"];
    /// The Entra Connect server that runs the sync.
    preferred_adconnect_server: Option<String> = null, aliases ["rmm_preferred_adconnect_server"];
    /// The on-premises Exchange server.
    onprem_exchange_server: Option<String> = null;
    /// The RMM used to run on-premises commands.
    default_rmm: Option<String> = null;
    /// List only enabled users when picking a user to copy.
    ad_list_enabled_users_only: bool = 1;
    /// How usernames are built from names.
    username_format: UsernameFormat = "firstinitiallastname", aliases ["user_name_format"];
    /// How ä, ö, ü become ASCII in usernames: `simple` (a, o, u) or `german` (ae, oe, ue).
    username_umlauts: UmlautStyle = "simple";
    /// What to do when a username is taken.
    username_collision_strategy: CollisionStrategy = "middle_initial_then_number";
    /// The default usage location (license country) of new users.
    m365_usage_location: CountryCode = "US";
    /// How phone numbers are written to the directory.
    preferred_phone_number_format: PhoneFormat = "e164";
    /// The usage location in OpenText Secure Cloud.
    secure_cloud_usage_location: Option<CountryCode> = null;

    // Licensing.
    /// The distributor licenses are bought through.
    microsoft_licensing_distributor: Option<Distributor> = null, aliases ["ms_licensing_distributor"];
    /// Buy a seat through the distributor when none is free.
    auto_purchase_license_if_none_available: bool = 1;
    /// Assign licenses directly or through license groups.
    m365_license_assignment_method: LicenseAssignmentMethod = "direct", aliases ["license_assignment_method"];
    /// The license group of each SKU, for the group method.
    license_groups: LicenseGroups = null;

    // Passwords and credentials.
    /// Save the password in an internal note of the ticket.
    store_password_in_ticket: bool = 1, aliases ["psa_store_password_in_ticket"];
    /// Other places the password is saved.
    onboarding_password_save_location: Vec<PasswordSaveLocation> = null, aliases ["new_user_password_save_locations"];
    /// The Password Pusher server.
    pwpush_url: Option<Url> = null, aliases ["new_user_password_save_location_custom_url"];
    /// `random` characters or a `passphrase` of words (`friendly_password = 1` means passphrase).
    password_style: PasswordStyle = "random", aliases ["friendly_password"];
    /// Passphrases also carry a number, so they have all four character classes.
    use_friendly_password_with_complexity: bool = 1;
    /// Password length (a passphrase is at least this long).
    password_length: Bounded<8, 256> = 16;
    /// The user must change the password at first sign-in.
    require_password_change: bool = 1;
    /// The user may not change the password.
    cannot_change_password: bool = 0;
    /// The password never expires.
    password_never_expires: bool = 0;
    /// Give the user a password or a Temporary Access Pass.
    credential_delivery: CredentialDelivery = "password";
    /// Lifetime of a Temporary Access Pass, in minutes.
    temporary_access_pass_lifetime_minutes: Bounded<10, 43200> = 480;
    /// A group every new user is added to (with the requested ones), e.g. the
    /// Conditional Access policy's target or an "MFA registration" campaign group.
    mfa_registration_group: Option<String> = null;
    /// Whether the tenant must make a new user use MFA: `ignore`, `warn` (say so
    /// when nothing does) or `require` (refuse the run, before anything is created).
    mfa_readiness: MfaReadiness = "warn";
    /// How long a new user's mailbox is waited for (Exchange Online provisions it
    /// minutes after licensing) before distribution lists and shared mailboxes
    /// are left to a technician, with a ticket note that says what to run.
    exchange_mailbox_wait_minutes: Bounded<5, 1440> = 120;
    /// Who receives credentials when the form does not say.
    send_credentials_to: SendCredentialsTo = "email", aliases ["default_send_credentials_to"];
    /// Also text the credentials to the user's mobile phone.
    send_sms_to_user: bool = 0;

    // Offboarding.
    /// Block sign-in of an offboarded user.
    offboarding_deactivate_user: bool = 1;
    /// Remove an offboarded user from groups.
    offboarding_remove_groups: bool = 1;
    /// Revoke an offboarded user's sign-in sessions.
    offboarding_revoke_sessions: bool = 1;
    /// Reset an offboarded user's password to a random one.
    offboarding_reset_password: bool = 1;
    /// Remove an offboarded user's authentication methods (MFA devices).
    offboarding_remove_auth_methods: bool = 1;
    /// Remove an offboarded user's licenses.
    offboarding_remove_licenses: bool = 1;
    /// Give the delegate (default the manager) access to the mailbox.
    offboarding_set_manager_as_delegate: bool = 0;
    /// Forward the offboarded user's mail to the delegate (or the form's `forward_to`).
    offboarding_forward_mail_to_manager: bool = 0;
    /// When forwarding, keep a copy in the offboarded user's mailbox
    /// (`DeliverToMailboxAndForward`).
    offboarding_forward_keep_copy: bool = 1;
    /// Convert the offboarded user's mailbox to a shared mailbox (before the
    /// licenses are removed, so it outlives them).
    offboarding_convert_to_shared: bool = 0;
    /// Set an automatic reply on the offboarded user's mailbox.
    offboarding_set_auto_reply: bool = 0;
    /// The automatic reply to senders inside the organization.
    offboarding_auto_reply_internal: ReplyTemplate = "{user_name} no longer works at {organization}. Please contact {manager_name} at {manager_email}.";
    /// The automatic reply to senders outside the organization.
    offboarding_auto_reply_external: ReplyTemplate = "{user_name} no longer works at {organization}. Please contact {manager_name} at {manager_email}.";
    /// Hide the offboarded user from the global address list.
    offboarding_hide_from_gal: bool = 1;
    /// Lower the distributor subscription by the seats freed.
    offboarding_reduce_distributor_seats: bool = 0;

    // Miscellaneous.
    /// The name of the onboarding form.
    user_onboard_form_name: Option<String> = null;
    /// The name of the offboarding form.
    user_offboard_form_name: Option<String> = null;
    /// The trigger the onboarding form starts by default.
    user_onboard_form_default_trigger_id: Option<String> = null;
    /// Who is told when an onboarding or offboarding completes.
    onboard_offboard_notification_email: Vec<EmailAddress> = null;
    /// Who is told when a workflow fails.
    failure_email: Vec<EmailAddress> = null;
    /// The directory attribute (`onPremisesExtensionAttributes.extensionAttributeN`,
    /// N 1 to 15) in which Onboard marks the users it creates with the onboarding
    /// id, so a retry after a lost answer recognises its own user; null: no mark
    /// (a retry then trusts the display name, which a same-named user can fool).
    user_marker_attribute: Option<String> = "extensionAttribute15";
}

impl Variables {
    /// Resolves `organization`'s variables: built-in defaults, then `msp`, then `org`.
    ///
    /// Every bad value is reported at once; each names the variable, the organization,
    /// the layer and the value. Unknown names are ignored (see [`unknown_variables`]).
    pub fn resolve(
        organization: &str,
        msp: &VariableLayer,
        org: &VariableLayer,
    ) -> Result<Self, DomainError> {
        let layers = [
            (msp, VariableScope::MspWide),
            (org, VariableScope::Organization),
        ];
        let mut resolver = Resolver::new(organization, &layers);
        let vars = Self::resolve_layers(&mut resolver)?;
        if vars.working_day_end <= vars.working_day_start {
            return Err(DomainError::BadVariable {
                variable: "working_day_end".into(),
                organization: organization.into(),
                scope: resolver.scope_of("working_day_end"),
                value: json!(vars.working_day_end.to_string()).to_string(),
                reason: format!("is not after working_day_start {}", vars.working_day_start),
            });
        }
        Ok(vars)
    }

    /// The built-in defaults alone, as for an organization with no settings.
    pub fn defaults() -> Result<Self, DomainError> {
        Self::resolve("", &VariableLayer::new(), &VariableLayer::new())
    }

    /// A resolved value by canonical name or alias, as JSON; `None` for an unknown name.
    pub fn get(&self, name: &str) -> Option<Json> {
        let canonical = spec(name)?.name;
        serde_json::to_value(self).ok()?.get(canonical).cloned()
    }

    /// The username rules these variables set.
    pub fn username_rules(&self) -> UsernameRules {
        UsernameRules {
            format: self.username_format,
            umlauts: self.username_umlauts,
            collisions: self.username_collision_strategy,
        }
    }

    /// The password policy these variables set.
    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            length: self.password_length.get() as usize,
            style: self.password_style,
            passphrase_with_number: self.use_friendly_password_with_complexity,
        }
    }

    /// [`Self::user_marker_attribute`], checked: `extensionAttribute1` to `15`.
    pub fn marker_attribute(&self) -> Result<Option<&str>, String> {
        let Some(name) = self.user_marker_attribute.as_deref() else {
            return Ok(None);
        };
        let valid = (1..=15).any(|n| name == format!("extensionAttribute{n}"));
        if valid {
            Ok(Some(name))
        } else {
            Err(format!(
                "user_marker_attribute `{name}` is not one of extensionAttribute1 to extensionAttribute15"
            ))
        }
    }

    /// The three password options of the reference.
    pub fn password_options(&self) -> PasswordOptions {
        PasswordOptions {
            change_at_first_sign_in: self.require_password_change,
            user_may_not_change: self.cannot_change_password,
            never_expires: self.password_never_expires,
        }
    }

    /// Where the password is saved: the ticket when `store_password_in_ticket`, then the
    /// other locations, without repeats.
    pub fn password_save_locations(&self) -> Vec<PasswordSaveLocation> {
        let mut out = Vec::new();
        if self.store_password_in_ticket {
            out.push(PasswordSaveLocation::Psa);
        }
        for location in &self.onboarding_password_save_location {
            if !out.contains(location) {
                out.push(*location);
            }
        }
        out
    }
}

/// The spec of a variable, by canonical name or alias (case-insensitive).
pub fn spec(name: &str) -> Option<&'static VariableSpec> {
    let name = name.trim().to_lowercase();
    VARIABLES
        .iter()
        .find(|s| s.name == name || s.aliases.contains(&name.as_str()))
}

/// Where a variable's effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableSource {
    /// Neither layer sets it: the built-in default.
    Default,
    /// The MSP-wide layer sets it (and the organization's does not).
    MspWide,
    /// The organization's own layer sets it.
    Organization,
}

impl VariableSource {
    /// In words, as the organizations page shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "built-in default",
            Self::MspWide => "MSP-wide",
            Self::Organization => "organization",
        }
    }
}

/// Which layer sets `spec`'s variable (by its name or an alias, as
/// [`Variables::resolve`] reads them): the organization's over the MSP-wide one.
pub fn variable_source(
    spec: &VariableSpec,
    msp: &VariableLayer,
    org: &VariableLayer,
) -> VariableSource {
    let sets = |layer: &VariableLayer| {
        layer.keys().any(|k| {
            let k = k.trim();
            k.eq_ignore_ascii_case(spec.name)
                || spec.aliases.iter().any(|a| k.eq_ignore_ascii_case(a))
        })
    };
    if sets(org) {
        VariableSource::Organization
    } else if sets(msp) {
        VariableSource::MspWide
    } else {
        VariableSource::Default
    }
}

/// The names in `layer` that are no variable of Onboard (a typo, or a setting of the
/// original product Onboard does not use), for a warning.
pub fn unknown_variables(layer: &VariableLayer) -> Vec<String> {
    layer
        .keys()
        .filter(|k| spec(k).is_none())
        .cloned()
        .collect()
}

/// Walks the layers for one variable at a time, collecting every error.
struct Resolver<'a> {
    organization: &'a str,
    layers: &'a [(&'a VariableLayer, VariableScope)],
    errors: Vec<DomainError>,
}

impl<'a> Resolver<'a> {
    fn new(organization: &'a str, layers: &'a [(&'a VariableLayer, VariableScope)]) -> Self {
        Self {
            organization,
            layers,
            errors: Vec::new(),
        }
    }

    /// The raw value a layer gives `name` under its own name or an alias. Two names with
    /// different values in one layer is an error: which one was meant is a guess.
    fn lookup(
        &mut self,
        layer: &VariableLayer,
        scope: &VariableScope,
        name: &str,
        aliases: &[&str],
    ) -> Option<Json> {
        let mut found: Option<(&str, &Json)> = None;
        for (key, value) in layer {
            let key_norm = key.trim().to_lowercase();
            if key_norm != name && !aliases.contains(&key_norm.as_str()) {
                continue;
            }
            match found {
                Some((first_key, first)) if first != value => {
                    self.errors.push(DomainError::BadVariable {
                        variable: name.into(),
                        organization: self.organization.into(),
                        scope: scope.clone(),
                        value: value.to_string(),
                        reason: format!("`{key}` says {value} but `{first_key}` says {first}"),
                    });
                }
                Some(_) => {}
                None => found = Some((key.as_str(), value)),
            }
        }
        found.map(|(_, v)| v.clone())
    }

    fn one<T: VariableValue>(&mut self, name: &str, aliases: &[&str], default: Json) -> Option<T> {
        let mut chosen = (default, None);
        for (layer, scope) in self.layers {
            if let Some(raw) = self.lookup(layer, scope, name, aliases) {
                chosen = (raw, Some(scope.clone()));
            }
        }
        let (raw, scope) = chosen;
        match T::from_json(&raw) {
            Ok(value) => Some(value),
            Err(reason) => {
                self.errors.push(DomainError::BadVariable {
                    variable: name.into(),
                    organization: self.organization.into(),
                    // A bad built-in default is a bug; report it as MSP-wide, the layer that fixes it.
                    scope: scope.unwrap_or(VariableScope::MspWide),
                    value: raw.to_string(),
                    reason,
                });
                None
            }
        }
    }

    fn scope_of(&self, name: &str) -> VariableScope {
        self.layers
            .iter()
            .rev()
            .find(|(layer, _)| layer.keys().any(|k| k.trim().eq_ignore_ascii_case(name)))
            .map_or(VariableScope::MspWide, |(_, scope)| scope.clone())
    }

    fn finish(&mut self) -> Result<(), DomainError> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(self.errors.remove(0)),
            _ => Err(DomainError::BadVariables {
                errors: std::mem::take(&mut self.errors),
            }),
        }
    }

    fn missing(&self, name: &str) -> DomainError {
        DomainError::BadVariable {
            variable: name.into(),
            organization: self.organization.into(),
            scope: VariableScope::MspWide,
            value: "null".into(),
            reason: "has no value".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "contoso";

    fn layer(pairs: &[(&str, Json)]) -> VariableLayer {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn resolve(msp: &[(&str, Json)], org: &[(&str, Json)]) -> Result<Variables, DomainError> {
        Variables::resolve(ORG, &layer(msp), &layer(org))
    }

    /// Two valid raw values of the variable's type, whose results differ, and the
    /// one different from the default first (so an override is visible).
    fn distinct_samples(spec: &VariableSpec, default: &Json) -> ((Json, Json), (Json, Json), Json) {
        let ([a, b], bad) = Variables::samples_of(spec.name).expect("samples for every variable");
        assert_ne!(a.1, b.1, "{}: samples must differ", spec.name);
        if &a.1 == default {
            (b, a, bad)
        } else {
            (a, b, bad)
        }
    }

    /// Every variable's default as documented (the reference's where it has one), written
    /// out independently of the `variables!` table.
    const DOCUMENTED_DEFAULTS: &[(&str, &str)] = &[
        ("require_approval_for_new_users", "false"),
        ("new_user_approval_email", "[]"),
        ("require_approval_for_offboarding_users", "false"),
        ("offboarding_user_approval_email", "[]"),
        ("approval_timeout_hours", "72"),
        ("approval_reminder_hours", "24"),
        ("default_psa", "null"),
        ("default_ticket_location", "null"),
        ("default_ticket_status", "null"),
        ("ticket_status_waiting_input", "null"),
        ("ticket_status_workflow_complete", "null"),
        ("default_priority", "null"),
        ("send_from_address", "null"),
        ("type_for_created_new_user_ticket", "null"),
        ("subtype_for_created_new_user_ticket", "null"),
        ("item_for_created_new_user_ticket", "null"),
        ("psa_offboarding_user_ticket_type", "null"),
        ("psa_offboarding_user_ticket_subtype", "null"),
        ("psa_offboarding_user_ticket_item", "null"),
        ("psa_default_tech_id", "null"),
        ("psa_default_tech_workrole", "null"),
        ("psa_default_tech_worktype", "null"),
        ("psa_default_ticket_urgency", "null"),
        ("psa_default_ticket_impact", "null"),
        ("psa_default_ticket_source", "null"),
        ("psa_all_notes_internal", "true"),
        ("no_ticket_time", "false"),
        ("time_entry_ticket_status", "null"),
        ("automation_task_new_user_time", "null"),
        ("automation_task_offboard_user_time", "null"),
        ("cw_manage_company_id", "null"),
        ("halo_psa_client_id", "null"),
        ("autotask_company_id", "null"),
        ("allow_scheduled_user_creation", "false"),
        ("tz_country", "null"),
        ("time_zone", r#""UTC""#),
        ("working_day_start", r#""09:00:00""#),
        ("working_day_end", r#""17:00:00""#),
        ("primary_identity_provider", r#""azure_ad""#),
        ("onprem_no_adsync", "false"),
        ("no_azure_ad", "false"),
        ("preferred_domain_controller", "null"),
        ("preferred_adconnect_server", "null"),
        ("onprem_exchange_server", "null"),
        ("default_rmm", "null"),
        ("ad_list_enabled_users_only", "true"),
        ("username_format", r#""firstinitiallastname""#),
        ("username_umlauts", r#""simple""#),
        (
            "username_collision_strategy",
            r#""middle_initial_then_number""#,
        ),
        ("m365_usage_location", r#""US""#),
        ("preferred_phone_number_format", r#""e164""#),
        ("secure_cloud_usage_location", "null"),
        ("microsoft_licensing_distributor", "null"),
        ("auto_purchase_license_if_none_available", "true"),
        ("m365_license_assignment_method", r#""direct""#),
        ("license_groups", "{}"),
        ("store_password_in_ticket", "true"),
        ("onboarding_password_save_location", "[]"),
        ("pwpush_url", "null"),
        ("password_style", r#""random""#),
        ("use_friendly_password_with_complexity", "true"),
        ("password_length", "16"),
        ("require_password_change", "true"),
        ("cannot_change_password", "false"),
        ("password_never_expires", "false"),
        ("credential_delivery", r#""password""#),
        ("temporary_access_pass_lifetime_minutes", "480"),
        ("mfa_registration_group", "null"),
        ("mfa_readiness", r#""warn""#),
        ("exchange_mailbox_wait_minutes", "120"),
        ("send_credentials_to", r#""email""#),
        ("send_sms_to_user", "false"),
        ("offboarding_deactivate_user", "true"),
        ("offboarding_remove_groups", "true"),
        ("offboarding_revoke_sessions", "true"),
        ("offboarding_reset_password", "true"),
        ("offboarding_remove_auth_methods", "true"),
        ("offboarding_remove_licenses", "true"),
        ("offboarding_set_manager_as_delegate", "false"),
        ("offboarding_forward_mail_to_manager", "false"),
        ("offboarding_forward_keep_copy", "true"),
        ("offboarding_convert_to_shared", "false"),
        ("offboarding_set_auto_reply", "false"),
        (
            "offboarding_auto_reply_internal",
            r#""{user_name} no longer works at {organization}. Please contact {manager_name} at {manager_email}.""#,
        ),
        (
            "offboarding_auto_reply_external",
            r#""{user_name} no longer works at {organization}. Please contact {manager_name} at {manager_email}.""#,
        ),
        ("offboarding_hide_from_gal", "true"),
        ("offboarding_reduce_distributor_seats", "false"),
        ("user_onboard_form_name", "null"),
        ("user_offboard_form_name", "null"),
        ("user_onboard_form_default_trigger_id", "null"),
        ("onboard_offboard_notification_email", "[]"),
        ("failure_email", "[]"),
        ("user_marker_attribute", r#""extensionAttribute15""#),
    ];

    fn documented_default(name: &str) -> Json {
        let (_, text) = DOCUMENTED_DEFAULTS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} has no documented default in this test"));
        serde_json::from_str(text).expect("json")
    }

    #[test]
    fn the_documented_defaults_cover_exactly_the_variables() {
        let mut documented: Vec<&str> = DOCUMENTED_DEFAULTS.iter().map(|(n, _)| *n).collect();
        let mut declared: Vec<&str> = VARIABLES.iter().map(|s| s.name).collect();
        documented.sort_unstable();
        declared.sort_unstable();
        assert_eq!(documented, declared);
    }

    #[test]
    fn every_variable_resolves_default_msp_org_alias_and_refuses_a_bad_value() {
        let defaults = Variables::defaults().expect("the built-in defaults are valid");
        for spec in VARIABLES {
            let name = spec.name;
            // Default: nothing set anywhere gives the documented default.
            let default = documented_default(name);
            assert_eq!(defaults.get(name), Some(default.clone()), "{name}: default");
            let documented = (spec.default)();

            let ((msp_raw, msp_want), (org_raw, org_want), bad) = distinct_samples(spec, &default);
            assert_ne!(
                msp_want, default,
                "{name}: the MSP sample must differ from the default {documented}"
            );

            // MSP override over the default.
            let v = resolve(&[(name, msp_raw.clone())], &[]).expect("msp value");
            assert_eq!(v.get(name), Some(msp_want.clone()), "{name}: msp override");

            // Organization override over the MSP value.
            let v =
                resolve(&[(name, msp_raw.clone())], &[(name, org_raw.clone())]).expect("org value");
            assert_eq!(v.get(name), Some(org_want.clone()), "{name}: org override");

            // An organization that sets nothing keeps the MSP value.
            let v = resolve(
                &[(name, msp_raw.clone())],
                &[("unrelated_setting", json!(1))],
            )
            .expect("msp value");
            assert_eq!(v.get(name), Some(msp_want.clone()), "{name}: msp kept");

            // Every alias sets the same variable, in either layer, and reads back by alias.
            for alias in spec.aliases {
                let v = resolve(&[], &[(alias, msp_raw.clone())]).expect("alias value");
                assert_eq!(
                    v.get(name),
                    Some(msp_want.clone()),
                    "{name}: org alias {alias}"
                );
                assert_eq!(
                    v.get(alias),
                    Some(msp_want.clone()),
                    "{name}: read by alias {alias}"
                );
                let v = resolve(&[(alias, msp_raw.clone())], &[(name, org_raw.clone())])
                    .expect("alias value");
                assert_eq!(
                    v.get(name),
                    Some(org_want.clone()),
                    "{name}: org canonical over msp alias {alias}"
                );
            }

            // A bad value names the variable, the organization, the layer and the value.
            let err = resolve(&[], &[(name, bad.clone())]).expect_err("bad value refused");
            let DomainError::BadVariable {
                variable,
                organization,
                scope,
                value,
                ..
            } = &err
            else {
                panic!("{name}: expected BadVariable, got {err:?}");
            };
            assert_eq!(
                (variable.as_str(), organization.as_str()),
                (name, ORG),
                "{name}"
            );
            assert_eq!(scope, &VariableScope::Organization, "{name}");
            assert_eq!(value, &bad.to_string(), "{name}");
            let message = err.to_string();
            assert!(
                message.contains(name)
                    && message.contains(ORG)
                    && message.contains(&bad.to_string()),
                "{message}"
            );

            let err = resolve(&[(name, bad.clone())], &[]).expect_err("bad msp value refused");
            assert!(
                matches!(
                    err,
                    DomainError::BadVariable {
                        scope: VariableScope::MspWide,
                        ..
                    }
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn documented_defaults_match_the_reference() {
        let v = Variables::defaults().expect("defaults");
        assert!(!v.require_approval_for_new_users);
        assert!(v.new_user_approval_email.is_empty());
        assert!(!v.allow_scheduled_user_creation.0);
        assert!(v.store_password_in_ticket);
        assert!(v.onboarding_password_save_location.is_empty());
        assert_eq!(v.pwpush_url, None);
        assert!(v.auto_purchase_license_if_none_available);
        assert_eq!(v.username_format, UsernameFormat::FirstInitialLastName);
        assert!(v.offboarding_deactivate_user);
        assert!(v.offboarding_remove_groups);
        assert_eq!(v.password_length.get(), 16);
        assert_eq!(v.password_options(), PasswordOptions::default());
        assert_eq!(v.time_zone.name(), "UTC");
        assert_eq!(
            v.m365_license_assignment_method,
            LicenseAssignmentMethod::Direct
        );
        assert_eq!(v.credential_delivery, CredentialDelivery::Password);
    }

    #[test]
    fn the_reference_example_of_a_bad_value_is_refused_clearly() {
        let err =
            resolve(&[], &[("require_approval_for_new_users", json!("maybe"))]).expect_err("bad");
        assert_eq!(
            err.to_string(),
            "variable `require_approval_for_new_users` for organization `contoso` has bad organization value \"maybe\": expected 0 or 1 (or true/false)"
        );
    }

    #[test]
    fn all_bad_values_are_reported_at_once() {
        let err = resolve(
            &[("password_length", json!(4))],
            &[
                ("require_approval_for_new_users", json!("maybe")),
                ("time_zone", json!("Nowhere/Land")),
            ],
        )
        .expect_err("bad");
        let DomainError::BadVariables { errors } = err else {
            panic!("expected several")
        };
        assert_eq!(errors.len(), 3);
    }

    #[test]
    fn an_alias_and_its_canonical_name_disagreeing_in_one_layer_is_an_error() {
        let err = resolve(
            &[],
            &[
                ("username_format", json!("flast")),
                ("user_name_format", json!("firstlast")),
            ],
        )
        .expect_err("conflict");
        assert!(err.to_string().contains("user_name_format"), "{err}");
        // Agreeing is fine.
        let v = resolve(
            &[],
            &[
                ("username_format", json!("flast")),
                ("user_name_format", json!("firstinitiallastname")),
            ],
        );
        assert!(
            v.is_err(),
            "different spellings of one value are still two values"
        );
        let v = resolve(
            &[],
            &[
                ("username_format", json!("flast")),
                ("user_name_format", json!("flast")),
            ],
        )
        .expect("same");
        assert_eq!(v.username_format, UsernameFormat::FirstInitialLastName);
    }

    #[test]
    fn names_are_matched_without_regard_to_case() {
        let v = resolve(&[], &[("Require_Approval_For_New_Users", json!(1))]).expect("ok");
        assert!(v.require_approval_for_new_users);
    }

    #[test]
    fn the_start_date_action_alias_speaks_its_own_values() {
        let v = resolve(&[], &[("user_start_date_action", json!("pause_workflow"))]).expect("ok");
        assert!(v.allow_scheduled_user_creation.0);
        let v = resolve(
            &[("allow_scheduled_user_creation", json!(1))],
            &[("user_start_date_behavior", json!("document_only"))],
        )
        .expect("ok");
        assert!(!v.allow_scheduled_user_creation.0);
    }

    #[test]
    fn the_working_day_must_end_after_it_starts() {
        let err = resolve(&[], &[("working_day_end", json!("08:00"))]).expect_err("bad");
        assert!(
            matches!(err, DomainError::BadVariable { ref variable, .. } if variable == "working_day_end"),
            "{err}"
        );
    }

    #[test]
    fn unknown_names_are_listed_not_refused() {
        let l = layer(&[
            ("require_approval_for_new_users", json!(1)),
            ("psa_ticket_colour", json!("red")),
        ]);
        assert_eq!(unknown_variables(&l), vec!["psa_ticket_colour".to_owned()]);
        assert!(Variables::resolve(ORG, &VariableLayer::new(), &l).is_ok());
    }

    #[test]
    fn the_password_is_saved_in_the_ticket_first_and_nowhere_twice() {
        let v = resolve(
            &[],
            &[("new_user_password_save_locations", json!("psa, hudu, Hudu"))],
        )
        .expect("ok");
        assert_eq!(
            v.password_save_locations(),
            vec![PasswordSaveLocation::Psa, PasswordSaveLocation::Hudu]
        );
        let v = resolve(
            &[],
            &[
                ("store_password_in_ticket", json!(0)),
                ("onboarding_password_save_location", json!(["itglue"])),
            ],
        )
        .expect("ok");
        assert_eq!(
            v.password_save_locations(),
            vec![PasswordSaveLocation::ItGlue]
        );
    }

    #[test]
    fn every_spec_name_is_unique_and_lowercase() {
        let mut names: Vec<&str> = VARIABLES
            .iter()
            .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a name or alias is used twice");
        assert!(names.iter().all(|n| {
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
        }));
        assert!(VARIABLES.len() >= 80, "{}", VARIABLES.len());
    }

    #[test]
    fn a_variable_comes_from_the_nearest_layer_that_sets_it_by_any_of_its_names() {
        let spec = spec("time_zone").unwrap();
        let msp: VariableLayer = [("Time_Zone ".to_owned(), json!("Europe/Berlin"))].into();
        let org = VariableLayer::new();
        assert_eq!(variable_source(spec, &msp, &org), VariableSource::MspWide);
        let org: VariableLayer = [("time_zone".to_owned(), json!("UTC"))].into();
        assert_eq!(
            variable_source(spec, &msp, &org),
            VariableSource::Organization
        );
        let none = VariableLayer::new();
        assert_eq!(variable_source(spec, &none, &none), VariableSource::Default);
        let aliased = VARIABLES.iter().find(|s| !s.aliases.is_empty()).unwrap();
        let by_alias: VariableLayer = [(aliased.aliases[0].to_owned(), json!("x"))].into();
        assert_eq!(
            variable_source(aliased, &none, &by_alias),
            VariableSource::Organization
        );
    }
}
