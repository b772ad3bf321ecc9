//! The in-memory tenants behind the Graph simulator: their seed, their rules, and the handle tests use.
//!
//! Graph's rules live here as plain methods on [`Tenant`] that return Graph's
//! own errors; the HTTP layer (`routes`) only parses and serialises.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::errors::GraphError;
use super::throttle::{Throttle, ThrottleSettings};
use crate::faults::FaultSettings;

/// The Graph simulator's seed: the `[sandbox.graph]` part of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphSeed {
    /// The customer tenants.
    pub tenants: Vec<TenantSeed>,
    /// A user created through the API answers 404 to this many requests that
    /// address it (by path or `@odata.id`) before it "replicates", and lists
    /// leave it out meanwhile (Graph documents such delays).
    pub replication_delay_calls: u32,
    /// `expires_in` of issued tokens, in seconds (Entra issues 3599).
    pub token_lifetime_seconds: u64,
    /// Injected throttling, server errors and latency on `/v1.0`.
    pub faults: FaultSettings,
    /// Graph's own quotas, counted on the sandbox clock (`[sandbox.graph.throttling]`).
    pub throttling: ThrottleSettings,
}

impl Default for GraphSeed {
    fn default() -> Self {
        Self {
            tenants: Vec::new(),
            replication_delay_calls: 0,
            token_lifetime_seconds: 3599,
            faults: FaultSettings::default(),
            throttling: ThrottleSettings::default(),
        }
    }
}

/// One tenant (a customer's Entra ID directory).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSeed {
    /// The tenant id, a GUID; the token endpoint also accepts any of `domains`.
    pub id: String,
    /// Verified domains; the first is the default (e.g. `contoso.com`).
    pub domains: Vec<String>,
    /// Organisation name (`accountName` of the SKUs).
    pub display_name: String,
    /// App registrations allowed to take tokens for this tenant.
    pub apps: Vec<AppSeed>,
    /// Subscriptions, with seats.
    pub skus: Vec<SkuSeed>,
    /// Existing users.
    pub users: Vec<UserSeed>,
    /// Existing groups.
    pub groups: Vec<GroupSeed>,
    /// `identitySecurityDefaultsEnforcementPolicy.isEnabled` (exclusive with
    /// enabled Conditional Access policies, as in Entra).
    pub security_defaults: bool,
    /// Conditional Access policies; listing them needs Entra ID P1 in a SKU's
    /// service plans (`AAD_PREMIUM`, `AAD_PREMIUM_P2`), else 403.
    pub conditional_access_policies: Vec<ConditionalAccessSeed>,
    /// The Temporary Access Pass method policy.
    pub temporary_access_pass: TapPolicySeed,
}

/// A Conditional Access policy (`conditionalAccessPolicy`), as far as MFA readiness reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConditionalAccessSeed {
    /// `displayName`.
    pub display_name: String,
    /// `enabled`, `disabled` or `enabledForReportingButNotEnforced`.
    pub state: String,
    /// `grantControls.builtInControls`, e.g. `mfa`, `compliantDevice`.
    pub built_in_controls: Vec<String>,
    /// `grantControls.authenticationStrength.requirementsSatisfied` (`mfa`), if any.
    pub authentication_strength: Option<String>,
    /// `All`, `None`, `GuestsOrExternalUsers` or UPNs of the tenant's users.
    pub include_users: Vec<String>,
    /// UPNs (or `GuestsOrExternalUsers`).
    pub exclude_users: Vec<String>,
    /// Display names of the tenant's groups.
    pub include_groups: Vec<String>,
    /// Display names of the tenant's groups.
    pub exclude_groups: Vec<String>,
    /// Directory role template ids.
    pub include_roles: Vec<String>,
    /// Directory role template ids.
    pub exclude_roles: Vec<String>,
}

impl Default for ConditionalAccessSeed {
    fn default() -> Self {
        Self {
            display_name: String::new(),
            state: "enabled".into(),
            built_in_controls: Vec::new(),
            authentication_strength: None,
            include_users: Vec::new(),
            exclude_users: Vec::new(),
            include_groups: Vec::new(),
            exclude_groups: Vec::new(),
            include_roles: Vec::new(),
            exclude_roles: Vec::new(),
        }
    }
}

/// `temporaryAccessPassAuthenticationMethodConfiguration`. The seed's default
/// is enabled for all users, so seeds written before it keep issuing passes
/// (a new real tenant has it disabled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TapPolicySeed {
    /// `enabled` or `disabled`.
    pub state: String,
    /// `all_users` or display names of groups (`includeTargets`).
    pub include_targets: Vec<String>,
    /// Display names of groups (`excludeTargets`).
    pub exclude_targets: Vec<String>,
    /// `defaultLifetimeInMinutes`.
    pub default_lifetime_in_minutes: u32,
    /// `isUsableOnce`.
    pub is_usable_once: bool,
}

impl Default for TapPolicySeed {
    fn default() -> Self {
        Self {
            state: "enabled".into(),
            include_targets: vec!["all_users".into()],
            exclude_targets: Vec::new(),
            default_lifetime_in_minutes: 60,
            is_usable_once: false,
        }
    }
}

/// An application (service principal) with a client secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppSeed {
    /// The application (client) id.
    pub client_id: String,
    /// The client secret value.
    pub client_secret: String,
    /// Granted application permissions, e.g. `User.ReadWrite.All`.
    pub permissions: Vec<String>,
    /// Entra roles of the service principal; resetting passwords needs
    /// `User Administrator` (or a higher one).
    pub directory_roles: Vec<String>,
}

impl Default for AppSeed {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            client_secret: String::new(),
            permissions: [
                "User.ReadWrite.All",
                "Group.Read.All",
                "GroupMember.ReadWrite.All",
                "LicenseAssignment.ReadWrite.All",
                "Organization.Read.All",
                // Security defaults, Conditional Access and the TAP method policy (§14).
                "Policy.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
                "MailboxSettings.ReadWrite",
                // Read-only: lets `onboard check` read the app's own directory roles.
                "Application.Read.All",
                // Office 365 Exchange Online's application permission (§15).
                "Exchange.ManageAsApp",
            ]
            .map(String::from)
            .to_vec(),
            directory_roles: vec!["User Administrator".into(), "Exchange Administrator".into()],
        }
    }
}

/// A subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SkuSeed {
    /// The SKU's GUID, e.g. `cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46`.
    pub sku_id: String,
    /// e.g. `SPB`.
    pub sku_part_number: String,
    /// `prepaidUnits.enabled`.
    pub seats: u32,
    /// Seats consumed by users the seed does not list.
    pub consumed_by_others: u32,
    /// Service plan names, e.g. `EXCHANGE_S_STANDARD`.
    pub service_plans: Vec<String>,
}

/// An existing user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserSeed {
    /// Object id; generated when empty.
    pub id: String,
    /// The UPN; its domain must be one of the tenant's.
    pub user_principal_name: String,
    /// Defaults to the UPN's local part.
    pub display_name: String,
    /// `givenName`.
    pub given_name: Option<String>,
    /// `surname`.
    pub surname: Option<String>,
    /// `jobTitle`.
    pub job_title: Option<String>,
    /// `department`.
    pub department: Option<String>,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// e.g. `SMTP:jd@contoso.com`, `smtp:john.doe@contoso.com`.
    pub proxy_addresses: Vec<String>,
    /// ISO country code; licenses need one.
    pub usage_location: Option<String>,
    /// Whether sign-in is allowed.
    pub account_enabled: bool,
    /// The manager's UPN.
    pub manager: Option<String>,
    /// Directly assigned SKUs, by part number.
    pub licenses: Vec<String>,
    /// `true` when synchronised from on-premises AD: its sign-in, password and
    /// profile are mastered there and Graph refuses to write them.
    pub on_premises_sync_enabled: Option<bool>,
    /// Registered authentication methods besides the password (which every user has).
    pub authentication_methods: Vec<AuthMethodSeed>,
}

/// A registered authentication method of a seeded user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthMethodSeed {
    /// `phone`, `microsoftAuthenticator`, `fido2`, `softwareOath`, `email` or
    /// `windowsHelloForBusiness`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `phone`: e.g. `+1 4255550100`.
    pub phone_number: Option<String>,
    /// For `phone`: `mobile` (default), `alternateMobile` or `office`.
    pub phone_type: Option<String>,
    /// For `email`.
    pub email_address: Option<String>,
    /// For the device methods, e.g. `iPhone 15`.
    pub display_name: Option<String>,
}

/// Graph's fixed method ids: one per phone type, one for e-mail.
fn fixed_method_id(kind: &str, phone_type: &str) -> Option<&'static str> {
    match (kind, phone_type) {
        ("phone", "mobile") => Some("3179e48a-750b-4051-897c-87b9720928f7"),
        ("phone", "alternateMobile") => Some("b6332ec1-7057-4abe-9331-3d72feddfe41"),
        ("phone", "office") => Some("e37fc753-ff3b-4958-9484-eaa9425c82bc"),
        ("email", _) => Some("3ddfcfc8-9383-446f-83cc-3ab9be4be18f"),
        _ => None,
    }
}

/// The password method's fixed id.
pub(crate) const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";

impl AuthMethodSeed {
    /// The method as `GET .../authentication/methods` lists it.
    fn to_graph(&self, owner: &str) -> Result<Value, SeedError> {
        let bad = || SeedError::AuthMethod(owner.to_owned(), self.kind.clone());
        let now = now_string();
        let phone_type = self.phone_type.as_deref().unwrap_or("mobile");
        let id = fixed_method_id(&self.kind, phone_type).map_or_else(new_id, str::to_owned);
        Ok(match self.kind.as_str() {
            "phone" => {
                if !["mobile", "alternateMobile", "office"].contains(&phone_type) {
                    return Err(bad());
                }
                json!({
                    "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
                    "id": id,
                    "phoneNumber": self.phone_number.clone().ok_or_else(bad)?,
                    "phoneType": phone_type,
                    "smsSignInState": "notAllowedByPolicy",
                })
            }
            "email" => json!({
                "@odata.type": "#microsoft.graph.emailAuthenticationMethod",
                "id": id,
                "emailAddress": self.email_address.clone().ok_or_else(bad)?,
            }),
            "microsoftAuthenticator" => json!({
                "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
                "id": id,
                "displayName": self.display_name,
                "deviceTag": "SoftwareTokenActivated",
                "phoneAppVersion": "6.2401.0119",
                "createdDateTime": now,
            }),
            "fido2" => json!({
                "@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
                "id": id,
                "displayName": self.display_name,
                "aaGuid": "cb69481e-8ff7-4039-93ec-0a2729a154a8",
                "model": "YubiKey 5 Series",
                "attestationCertificates": [],
                "attestationLevel": "attested",
                "createdDateTime": now,
            }),
            "softwareOath" => json!({
                "@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod",
                "id": id,
                "secretKey": null,
            }),
            "windowsHelloForBusiness" => json!({
                "@odata.type": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
                "id": id,
                "displayName": self.display_name,
                "createdDateTime": now,
                "keyStrength": "normal",
            }),
            _ => return Err(bad()),
        })
    }
}

impl Default for UserSeed {
    fn default() -> Self {
        Self {
            id: String::new(),
            user_principal_name: String::new(),
            display_name: String::new(),
            given_name: None,
            surname: None,
            job_title: None,
            department: None,
            mail: None,
            proxy_addresses: Vec::new(),
            usage_location: None,
            account_enabled: true,
            manager: None,
            licenses: Vec::new(),
            on_premises_sync_enabled: None,
            authentication_methods: Vec::new(),
        }
    }
}

/// An existing group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupSeed {
    /// Object id; generated when empty.
    pub id: String,
    /// `displayName` (not unique in Entra ID).
    pub display_name: String,
    /// `description`.
    pub description: Option<String>,
    /// `mailEnabled`.
    pub mail_enabled: bool,
    /// `mail`: the group's address, when mail-enabled.
    pub mail: Option<String>,
    /// `securityEnabled`.
    pub security_enabled: bool,
    /// e.g. `["Unified"]`, `["DynamicMembership"]`. A mail-enabled group without
    /// `Unified` is a distribution list (or, security-enabled, a mail-enabled
    /// security group): Exchange Online owns its membership.
    pub group_types: Vec<String>,
    /// The rule of a dynamic group.
    pub membership_rule: Option<String>,
    /// `true` when synchronised from on-premises AD (read-only in the cloud).
    pub on_premises_sync_enabled: Option<bool>,
    /// Members, by UPN.
    pub members: Vec<String>,
    /// SKUs the group assigns (group-based licensing), by part number.
    pub licenses: Vec<String>,
}

impl Default for GroupSeed {
    fn default() -> Self {
        Self {
            id: String::new(),
            display_name: String::new(),
            description: None,
            mail_enabled: false,
            mail: None,
            security_enabled: true,
            group_types: Vec::new(),
            membership_rule: None,
            on_premises_sync_enabled: None,
            members: Vec::new(),
            licenses: Vec::new(),
        }
    }
}

impl GraphSeed {
    /// The demo tenants of `onboard serve` without a configuration file (app
    /// `sandbox-client` / secret `sandbox-secret` in each): Contoso, with three
    /// SKUs (Business Premium carries Entra ID P1), a manager, assigned,
    /// licensing, dynamic and synced groups, protected by the Conditional Access
    /// policy "Require MFA for all users"; and Fabrikam, with one SKU, a manager,
    /// "All Staff", no MFA protection at all (no P1, no security defaults) and
    /// the Temporary Access Pass method off.
    pub fn example() -> Self {
        let user = |upn: &str, name: &str, given: &str, surname: &str| UserSeed {
            user_principal_name: upn.into(),
            display_name: name.into(),
            given_name: Some(given.into()),
            surname: Some(surname.into()),
            mail: Some(upn.into()),
            proxy_addresses: vec![format!("SMTP:{upn}")],
            usage_location: Some("US".into()),
            ..UserSeed::default()
        };
        let mut adele = user("AdeleV@contoso.com", "Adele Vance", "Adele", "Vance");
        adele.job_title = Some("Retail Manager".into());
        adele.licenses = vec!["O365_BUSINESS_PREMIUM".into()];
        adele
            .proxy_addresses
            .push("smtp:adele.vance@contoso.com".into());
        let mut alex = user("AlexW@contoso.com", "Alex Wilber", "Alex", "Wilber");
        alex.manager = Some("AdeleV@contoso.com".into());
        alex.licenses = vec!["O365_BUSINESS_PREMIUM".into()];
        alex.authentication_methods = vec![
            AuthMethodSeed {
                kind: "phone".into(),
                phone_number: Some("+1 4255550123".into()),
                ..AuthMethodSeed::default()
            },
            AuthMethodSeed {
                kind: "microsoftAuthenticator".into(),
                display_name: Some("iPhone 15".into()),
                ..AuthMethodSeed::default()
            },
        ];
        let mut info = user("info@contoso.com", "Contoso Info", "Contoso", "Info");
        info.account_enabled = false;
        let contoso = TenantSeed {
            id: "3fa85f64-5717-4562-b3fc-2c963f66afa6".into(),
            domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()],
            display_name: "Contoso".into(),
            apps: vec![AppSeed {
                client_id: "sandbox-client".into(),
                client_secret: "sandbox-secret".into(),
                ..AppSeed::default()
            }],
            skus: vec![
                SkuSeed {
                    sku_id: "f245ecc8-75af-4f8e-b61f-27d8114de5f3".into(),
                    sku_part_number: "O365_BUSINESS_PREMIUM".into(),
                    seats: 5,
                    consumed_by_others: 0,
                    service_plans: vec!["EXCHANGE_S_STANDARD".into(), "TEAMS1".into()],
                },
                SkuSeed {
                    sku_id: "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46".into(),
                    sku_part_number: "SPB".into(),
                    seats: 2,
                    consumed_by_others: 2,
                    // Business Premium carries Entra ID P1.
                    service_plans: vec![
                        "EXCHANGE_S_STANDARD".into(),
                        "INTUNE_A".into(),
                        "AAD_PREMIUM".into(),
                    ],
                },
                SkuSeed {
                    sku_id: "4b9405b0-7788-4568-add1-99614e613b69".into(),
                    sku_part_number: "EXCHANGESTANDARD".into(),
                    seats: 10,
                    consumed_by_others: 0,
                    service_plans: vec!["EXCHANGE_S_STANDARD".into()],
                },
            ],
            // `info@`: a shared mailbox's account (no license; ExchangeSeed::demo()).
            users: vec![adele, alex, info],
            groups: vec![
                GroupSeed {
                    display_name: "All Staff".into(),
                    members: vec!["AdeleV@contoso.com".into(), "AlexW@contoso.com".into()],
                    ..GroupSeed::default()
                },
                GroupSeed {
                    display_name: "Sales".into(),
                    group_types: vec!["Unified".into()],
                    mail_enabled: true,
                    members: vec!["AlexW@contoso.com".into()],
                    ..GroupSeed::default()
                },
                GroupSeed {
                    display_name: "License - Business Premium".into(),
                    licenses: vec!["SPB".into()],
                    ..GroupSeed::default()
                },
                GroupSeed {
                    display_name: "Everyone (dynamic)".into(),
                    group_types: vec!["DynamicMembership".into()],
                    membership_rule: Some("user.accountEnabled -eq true".into()),
                    ..GroupSeed::default()
                },
                GroupSeed {
                    display_name: "HQ Staff (synced)".into(),
                    on_premises_sync_enabled: Some(true),
                    ..GroupSeed::default()
                },
                // Exchange Online owns the members of these two: Graph lists them only.
                GroupSeed {
                    display_name: "Contoso Announcements".into(),
                    mail_enabled: true,
                    mail: Some("announcements@contoso.com".into()),
                    security_enabled: false,
                    ..GroupSeed::default()
                },
                GroupSeed {
                    display_name: "Finance Approvers".into(),
                    mail_enabled: true,
                    mail: Some("finance-approvers@contoso.com".into()),
                    ..GroupSeed::default()
                },
            ],
            security_defaults: false,
            conditional_access_policies: vec![ConditionalAccessSeed {
                display_name: "Require MFA for all users".into(),
                built_in_controls: vec!["mfa".into()],
                include_users: vec!["All".into()],
                ..ConditionalAccessSeed::default()
            }],
            temporary_access_pass: TapPolicySeed::default(),
        };
        let mut megan = user("MeganB@fabrikam.com", "Megan Bowen", "Megan", "Bowen");
        megan.job_title = Some("Office Manager".into());
        megan.licenses = vec!["O365_BUSINESS_PREMIUM".into()];
        let fabrikam = TenantSeed {
            id: "9b2c4d6e-8f10-4a2b-9c3d-5e7f9a1b3c5d".into(),
            domains: vec!["fabrikam.com".into(), "fabrikam.onmicrosoft.com".into()],
            display_name: "Fabrikam".into(),
            apps: vec![AppSeed {
                client_id: "sandbox-client".into(),
                client_secret: "sandbox-secret".into(),
                ..AppSeed::default()
            }],
            skus: vec![SkuSeed {
                sku_id: "f245ecc8-75af-4f8e-b61f-27d8114de5f3".into(),
                sku_part_number: "O365_BUSINESS_PREMIUM".into(),
                seats: 5,
                consumed_by_others: 0,
                service_plans: vec!["EXCHANGE_S_STANDARD".into(), "TEAMS1".into()],
            }],
            users: vec![megan],
            groups: vec![GroupSeed {
                display_name: "All Staff".into(),
                members: vec!["MeganB@fabrikam.com".into()],
                ..GroupSeed::default()
            }],
            // No security defaults, no Entra ID P1, no Conditional Access: the
            // unprotected demo tenant; its Temporary Access Pass method is off,
            // as in a new real tenant, so a pass falls back to a password.
            security_defaults: false,
            conditional_access_policies: Vec::new(),
            temporary_access_pass: TapPolicySeed {
                state: "disabled".into(),
                ..TapPolicySeed::default()
            },
        };
        GraphSeed {
            tenants: vec![contoso, fabrikam],
            ..GraphSeed::default()
        }
    }
}

/// A seed the simulator cannot start from; the message names the culprit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// A tenant id that is not a GUID.
    #[error("graph seed: tenant id '{0}' is not a GUID")]
    TenantId(String),
    /// A tenant without a domain.
    #[error("graph seed: tenant '{0}' has no domain")]
    NoDomain(String),
    /// A SKU id that is not a GUID.
    #[error("graph seed: sku '{0}' has a sku_id that is not a GUID")]
    SkuId(String),
    /// A UPN outside the tenant's domains.
    #[error("graph seed: user '{0}' is not in one of the tenant's domains")]
    Domain(String),
    /// Two users with one UPN.
    #[error("graph seed: user '{0}' is listed twice")]
    DuplicateUser(String),
    /// A reference to a user the tenant does not have.
    #[error("graph seed: '{0}' names an unknown user '{1}'")]
    UnknownUser(String, String),
    /// A reference to a SKU the tenant does not have.
    #[error("graph seed: '{0}' names an unknown sku '{1}'")]
    UnknownSku(String, String),
    /// A policy naming a group the tenant does not have.
    #[error("graph seed: policy '{0}' names an unknown group '{1}'")]
    UnknownGroup(String, String),
    /// A policy state Graph does not have.
    #[error(
        "graph seed: policy '{0}' has state '{1}' (expected enabled, disabled or enabledForReportingButNotEnforced)"
    )]
    PolicyState(String, String),
    /// An authentication method of an unknown type or without its number / address.
    #[error(
        "graph seed: user '{0}' has a '{1}' authentication method that is not one of phone (with phone_number), email (with email_address), microsoftAuthenticator, fido2, softwareOath, windowsHelloForBusiness"
    )]
    AuthMethod(String, String),
}

/// A request on [`GraphState`] that names something the simulator does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// No tenant with this id or domain.
    #[error("no tenant '{0}'")]
    UnknownTenant(String),
    /// No SKU with this part number or id in the tenant.
    #[error("no sku '{0}'")]
    UnknownSku(String),
}

/// String profile properties Graph stores as-is.
pub(crate) const PROFILE: &[&str] = &[
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "officeLocation",
    "mobilePhone",
    "employeeId",
    "companyName",
    "city",
    "state",
    "country",
    "streetAddress",
    "postalCode",
    "preferredLanguage",
];

/// Properties returned when no `$select` is given (user-post-users.md).
pub(crate) const DEFAULT_USER: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// A user's license from one source: direct (`group` = None) or a group.
#[derive(Debug, Clone)]
pub(crate) struct License {
    pub(crate) sku_id: String,
    pub(crate) group: Option<String>,
    pub(crate) disabled_plans: Vec<String>,
    /// `false` = `state: Error, error: CountViolation` (group-based only).
    pub(crate) active: bool,
    pub(crate) updated: String,
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) upn: String,
    pub(crate) display_name: String,
    pub(crate) profile: BTreeMap<&'static str, String>,
    pub(crate) business_phones: Vec<String>,
    pub(crate) mail: Option<String>,
    pub(crate) mail_nickname: Option<String>,
    pub(crate) proxy_addresses: Vec<String>,
    pub(crate) usage_location: Option<String>,
    pub(crate) account_enabled: bool,
    pub(crate) password_policies: Option<String>,
    /// Kept only to check resets in tests; never logged or returned.
    pub(crate) password: String,
    pub(crate) force_change_password: bool,
    pub(crate) manager: Option<String>,
    pub(crate) licenses: Vec<License>,
    pub(crate) revocations: u32,
    pub(crate) tap: Option<Value>,
    /// Registered methods other than the password and the TAP, as Graph lists them.
    pub(crate) auth_methods: Vec<Value>,
    /// `automaticRepliesSetting` of the mailbox settings.
    pub(crate) automatic_replies: Value,
    /// Requests that will still answer 404 before the user "replicates".
    pub(crate) pending_replication: u32,
    pub(crate) created: String,
    /// Synchronised from on-premises AD (see [`UserSeed::on_premises_sync_enabled`]).
    pub(crate) on_premises_sync_enabled: Option<bool>,
    /// `onPremisesExtensionAttributes` that are set (`extensionAttribute1`..`15`).
    pub(crate) extension_attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Sku {
    pub(crate) sku_id: String,
    pub(crate) part_number: String,
    pub(crate) seats: u32,
    pub(crate) consumed_by_others: u32,
    pub(crate) service_plans: Vec<(String, String)>,
    pub(crate) subscription_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) description: Option<String>,
    pub(crate) mail_enabled: bool,
    pub(crate) mail: Option<String>,
    pub(crate) security_enabled: bool,
    pub(crate) group_types: Vec<String>,
    pub(crate) membership_rule: Option<String>,
    pub(crate) on_premises_sync_enabled: Option<bool>,
    pub(crate) members: Vec<String>,
    pub(crate) licenses: Vec<String>,
}

impl Group {
    pub(crate) fn is_dynamic(&self) -> bool {
        self.group_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case("DynamicMembership"))
    }

    /// A distribution list or mail-enabled security group: mail-enabled, not a
    /// Microsoft 365 group. Graph reads it but cannot change its members.
    pub(crate) fn is_mail_list(&self) -> bool {
        self.mail_enabled
            && !self
                .group_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case("Unified"))
    }

    pub(crate) fn json(&self) -> Map<String, Value> {
        let mail_nickname = self.display_name.replace(' ', "");
        let mut map = Map::new();
        map.insert("id".into(), json!(self.id));
        map.insert("displayName".into(), json!(self.display_name));
        map.insert("description".into(), json!(self.description));
        map.insert("groupTypes".into(), json!(self.group_types));
        map.insert("mailEnabled".into(), json!(self.mail_enabled));
        map.insert("mail".into(), json!(self.mail));
        map.insert("securityEnabled".into(), json!(self.security_enabled));
        map.insert("mailNickname".into(), json!(mail_nickname));
        map.insert("membershipRule".into(), json!(self.membership_rule));
        map.insert(
            "membershipRuleProcessingState".into(),
            json!(self.is_dynamic().then_some("On")),
        );
        map.insert(
            "onPremisesSyncEnabled".into(),
            json!(self.on_premises_sync_enabled),
        );
        map.insert(
            "assignedLicenses".into(),
            self.licenses
                .iter()
                .map(|sku| json!({"disabledPlans": [], "skuId": sku}))
                .collect(),
        );
        map
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    pub(crate) id: String,
    pub(crate) domains: Vec<String>,
    pub(crate) display_name: String,
    pub(crate) apps: Vec<AppSeed>,
    pub(crate) users: Vec<User>,
    pub(crate) skus: Vec<Sku>,
    pub(crate) groups: Vec<Group>,
    pub(crate) security_defaults: bool,
    /// `conditionalAccessPolicy` objects, ids resolved.
    pub(crate) conditional_access: Vec<Value>,
    /// The TAP method configuration, ids resolved.
    pub(crate) tap_policy: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub(crate) tenant: usize,
    pub(crate) app: usize,
    pub(crate) expires_at: Instant,
    /// The resource the token is for (its `aud`).
    pub(crate) audience: Audience,
}

/// The resources the token endpoint issues tokens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// `https://graph.microsoft.com`.
    Graph,
    /// `https://outlook.office365.com` (Exchange Online, `crate::exchange`).
    Exchange,
}

impl Audience {
    /// The `aud` claim.
    pub(crate) fn uri(self) -> &'static str {
        match self {
            Audience::Graph => "https://graph.microsoft.com",
            Audience::Exchange => "https://outlook.office365.com",
        }
    }

    /// Whether an application permission belongs to this resource (Exchange's are
    /// named `Exchange.*`; a token lists only its own resource's roles).
    pub(crate) fn owns(self, permission: &str) -> bool {
        permission.starts_with("Exchange.") == (self == Audience::Exchange)
    }
}

/// Everything the simulator knows, behind one lock.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) tokens: HashMap<String, IssuedToken>,
    pub(crate) tokens_issued: u64,
    pub(crate) replication_delay_calls: u32,
    pub(crate) token_lifetime_seconds: u64,
    /// Paths of `DELETE /groups/{id}/members/{id}` without `/$ref` (each one
    /// deleted a user on the real service).
    pub(crate) dangerous_deletes: Vec<String>,
}

/// A mailbox's automatic replies before anyone sets them.
pub(crate) fn disabled_replies() -> Value {
    json!({
        "status": "disabled",
        "externalAudience": "all",
        "internalReplyMessage": "",
        "externalReplyMessage": "",
        "scheduledStartDateTime": {"dateTime": "2026-01-01T00:00:00.0000000", "timeZone": "UTC"},
        "scheduledEndDateTime": {"dateTime": "2026-01-02T00:00:00.0000000", "timeZone": "UTC"},
    })
}

pub(crate) fn now_string() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(crate) fn is_guid(text: &str) -> bool {
    uuid::Uuid::try_parse(text).is_ok() && text.len() == 36
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The address part of a proxy address (`smtp:a@b` -> `a@b`).
fn proxy_address(proxy: &str) -> &str {
    proxy.split_once(':').map_or(proxy, |(_, address)| address)
}

/// Entra password rules (concept-sspr-policy.md): 8-256 characters, 3 of 4
/// classes, ASCII letters, digits, listed symbols and space only.
pub(crate) fn password_is_strong(password: &str) -> bool {
    const SYMBOLS: &str = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> ";
    let length_ok = (8..=256).contains(&password.chars().count());
    let allowed = password
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || SYMBOLS.contains(c));
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| SYMBOLS.contains(c)),
    ]
    .iter()
    .filter(|present| **present)
    .count();
    length_ok && allowed && classes >= 3
}

/// `mailNickname`: 1-64 ASCII characters, none of `@ ( ) \ [ ] " ; : < > ,` or space.
pub(crate) fn mail_nickname_is_valid(nickname: &str) -> bool {
    (1..=64).contains(&nickname.len())
        && nickname
            .chars()
            .all(|c| c.is_ascii_graphic() && !"@()\\[]\";:<>,".contains(c))
}

/// UPN syntax (user-post-users.md): allowed characters, lengths, no `.` next to `@`.
fn upn_is_well_formed(upn: &str) -> bool {
    let Some((local, domain)) = upn.rsplit_once('@') else {
        return false;
    };
    upn.len() <= 113
        && (1..=64).contains(&local.len())
        && (1..=48).contains(&domain.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c))
}

/// `usageLocation`: an ISO 3166 alpha-2 code.
fn usage_location_is_valid(code: &str) -> bool {
    code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase())
}

fn password_policies_are_valid(policies: &str) -> bool {
    policies.split(',').all(|p| {
        matches!(
            p.trim(),
            "DisablePasswordExpiration" | "DisableStrongPassword" | "None"
        )
    })
}

impl Tenant {
    fn from_seed(seed: &TenantSeed) -> Result<Tenant, SeedError> {
        if !is_guid(&seed.id) {
            return Err(SeedError::TenantId(seed.id.clone()));
        }
        if seed.domains.is_empty() {
            return Err(SeedError::NoDomain(seed.id.clone()));
        }
        let mut tenant = Tenant {
            id: seed.id.clone(),
            domains: seed.domains.clone(),
            display_name: seed.display_name.clone(),
            apps: seed.apps.clone(),
            users: Vec::new(),
            skus: Vec::new(),
            groups: Vec::new(),
            security_defaults: seed.security_defaults,
            conditional_access: Vec::new(),
            tap_policy: Value::Null,
        };
        for sku in &seed.skus {
            if !is_guid(&sku.sku_id) {
                return Err(SeedError::SkuId(sku.sku_part_number.clone()));
            }
            tenant.skus.push(Sku {
                sku_id: sku.sku_id.to_lowercase(),
                part_number: sku.sku_part_number.clone(),
                seats: sku.seats,
                consumed_by_others: sku.consumed_by_others,
                service_plans: sku
                    .service_plans
                    .iter()
                    .map(|name| (new_id(), name.clone()))
                    .collect(),
                subscription_id: new_id(),
            });
        }
        for user in &seed.users {
            tenant.seed_user(user)?;
        }
        for user in &seed.users {
            if let Some(manager) = &user.manager {
                let manager_id = tenant
                    .user_index(manager)
                    .map(|i| tenant.users[i].id.clone())
                    .ok_or_else(|| {
                        SeedError::UnknownUser(user.user_principal_name.clone(), manager.clone())
                    })?;
                if let Some(i) = tenant.user_index(&user.user_principal_name) {
                    tenant.users[i].manager = Some(manager_id);
                }
            }
        }
        for group in &seed.groups {
            tenant.seed_group(group)?;
        }
        if seed.security_defaults
            && let Some(p) = seed
                .conditional_access_policies
                .iter()
                .find(|p| p.state == "enabled")
        {
            // Entra refuses enabling a policy while security defaults are on.
            return Err(SeedError::PolicyState(
                p.display_name.clone(),
                "enabled while security defaults are on (they are exclusive)".into(),
            ));
        }
        for policy in &seed.conditional_access_policies {
            let json = tenant.conditional_access_json(policy)?;
            tenant.conditional_access.push(json);
        }
        tenant.tap_policy = tenant.tap_policy_json(&seed.temporary_access_pass)?;
        Ok(tenant)
    }

    /// A seed's user reference (a UPN, or one of Graph's keywords) as a policy holds it.
    fn policy_user(&self, policy: &str, key: &str) -> Result<String, SeedError> {
        if ["All", "None", "GuestsOrExternalUsers"].contains(&key) {
            return Ok(key.to_owned());
        }
        self.user_index(key)
            .map(|i| self.users[i].id.clone())
            .ok_or_else(|| SeedError::UnknownUser(policy.to_owned(), key.to_owned()))
    }

    /// A seed's group reference (display name or id) as a policy holds it.
    fn policy_group(&self, policy: &str, key: &str) -> Result<String, SeedError> {
        self.groups
            .iter()
            .find(|g| g.id == key || g.display_name.eq_ignore_ascii_case(key))
            .map(|g| g.id.clone())
            .ok_or_else(|| SeedError::UnknownGroup(policy.to_owned(), key.to_owned()))
    }

    fn conditional_access_json(&self, p: &ConditionalAccessSeed) -> Result<Value, SeedError> {
        const STATES: &[&str] = &["enabled", "disabled", "enabledForReportingButNotEnforced"];
        let name = &p.display_name;
        if !STATES.contains(&p.state.as_str()) {
            return Err(SeedError::PolicyState(name.clone(), p.state.clone()));
        }
        let users = |keys: &[String]| -> Result<Vec<String>, SeedError> {
            keys.iter().map(|k| self.policy_user(name, k)).collect()
        };
        let groups = |keys: &[String]| -> Result<Vec<String>, SeedError> {
            keys.iter().map(|k| self.policy_group(name, k)).collect()
        };
        let strength = p.authentication_strength.as_ref().map(|r| {
            json!({
                "id": "00000000-0000-0000-0000-000000000002",
                "displayName": "Multifactor authentication",
                "requirementsSatisfied": r,
            })
        });
        Ok(json!({
            "id": new_id(),
            "displayName": name,
            "state": p.state,
            "createdDateTime": "2024-01-01T00:00:00Z",
            "conditions": {
                "clientAppTypes": ["all"],
                "applications": {"includeApplications": ["All"], "excludeApplications": []},
                "users": {
                    "includeUsers": users(&p.include_users)?,
                    "excludeUsers": users(&p.exclude_users)?,
                    "includeGroups": groups(&p.include_groups)?,
                    "excludeGroups": groups(&p.exclude_groups)?,
                    "includeRoles": p.include_roles,
                    "excludeRoles": p.exclude_roles,
                },
            },
            "grantControls": {
                "operator": "OR",
                "builtInControls": p.built_in_controls,
                "customAuthenticationFactors": [],
                "termsOfUse": [],
                "authenticationStrength": strength,
            },
        }))
    }

    fn tap_policy_json(&self, p: &TapPolicySeed) -> Result<Value, SeedError> {
        const POLICY: &str = "temporary_access_pass";
        if !["enabled", "disabled"].contains(&p.state.as_str()) {
            return Err(SeedError::PolicyState(POLICY.into(), p.state.clone()));
        }
        let target = |key: &String| -> Result<Value, SeedError> {
            let id = if key == "all_users" {
                key.clone()
            } else {
                self.policy_group(POLICY, key)?
            };
            Ok(json!({"targetType": "group", "id": id, "isRegistrationRequired": false}))
        };
        Ok(json!({
            "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
            "id": "TemporaryAccessPass",
            "state": p.state,
            "defaultLifetimeInMinutes": p.default_lifetime_in_minutes,
            "defaultLength": 8,
            "minimumLifetimeInMinutes": 60,
            "maximumLifetimeInMinutes": 480,
            "isUsableOnce": p.is_usable_once,
            "includeTargets": p.include_targets.iter().map(target).collect::<Result<Vec<_>, _>>()?,
            "excludeTargets": p.exclude_targets.iter().map(target).collect::<Result<Vec<_>, _>>()?,
        }))
    }

    /// Entra ID P1 (or P2) is in a subscribed SKU's service plans.
    pub(crate) fn has_entra_p1(&self) -> bool {
        self.skus.iter().any(|s| {
            s.service_plans
                .iter()
                .any(|(_, name)| name == "AAD_PREMIUM" || name == "AAD_PREMIUM_P2")
        })
    }

    fn seed_user(&mut self, seed: &UserSeed) -> Result<(), SeedError> {
        let upn = &seed.user_principal_name;
        if !self.domain_is_verified(upn) {
            return Err(SeedError::Domain(upn.clone()));
        }
        if self.user_index(upn).is_some() {
            return Err(SeedError::DuplicateUser(upn.clone()));
        }
        let local = upn.split('@').next().unwrap_or_default().to_owned();
        let mut profile = BTreeMap::new();
        for (name, value) in [
            ("givenName", &seed.given_name),
            ("surname", &seed.surname),
            ("jobTitle", &seed.job_title),
            ("department", &seed.department),
        ] {
            if let Some(value) = value {
                profile.insert(name, value.clone());
            }
        }
        let mut licenses = Vec::new();
        for part in &seed.licenses {
            let sku = self
                .sku_index(part)
                .ok_or_else(|| SeedError::UnknownSku(upn.clone(), part.clone()))?;
            licenses.push(License {
                sku_id: self.skus[sku].sku_id.clone(),
                group: None,
                disabled_plans: Vec::new(),
                active: true,
                updated: now_string(),
            });
        }
        let auth_methods = seed
            .authentication_methods
            .iter()
            .map(|m| m.to_graph(upn))
            .collect::<Result<Vec<_>, _>>()?;
        self.users.push(User {
            id: if seed.id.is_empty() {
                new_id()
            } else {
                seed.id.clone()
            },
            upn: upn.clone(),
            display_name: if seed.display_name.is_empty() {
                local.clone()
            } else {
                seed.display_name.clone()
            },
            profile,
            business_phones: Vec::new(),
            mail: seed.mail.clone(),
            mail_nickname: Some(local),
            proxy_addresses: seed.proxy_addresses.clone(),
            usage_location: seed.usage_location.clone(),
            account_enabled: seed.account_enabled,
            password_policies: None,
            password: new_id(),
            force_change_password: false,
            manager: None,
            licenses,
            revocations: 0,
            tap: None,
            auth_methods,
            automatic_replies: disabled_replies(),
            pending_replication: 0,
            created: now_string(),
            on_premises_sync_enabled: seed.on_premises_sync_enabled,
            extension_attributes: BTreeMap::new(),
        });
        Ok(())
    }

    pub(crate) fn seed_group(&mut self, seed: &GroupSeed) -> Result<(), SeedError> {
        let mut licenses = Vec::new();
        for part in &seed.licenses {
            let sku = self
                .sku_index(part)
                .ok_or_else(|| SeedError::UnknownSku(seed.display_name.clone(), part.clone()))?;
            licenses.push(self.skus[sku].sku_id.clone());
        }
        let id = if seed.id.is_empty() {
            new_id()
        } else {
            seed.id.clone()
        };
        self.groups.push(Group {
            id: id.clone(),
            display_name: seed.display_name.clone(),
            description: seed.description.clone(),
            mail_enabled: seed.mail_enabled,
            mail: seed.mail.clone(),
            security_enabled: seed.security_enabled,
            group_types: seed.group_types.clone(),
            membership_rule: seed.membership_rule.clone(),
            on_premises_sync_enabled: seed.on_premises_sync_enabled,
            members: Vec::new(),
            licenses,
        });
        let group = self.groups.len() - 1;
        for member in &seed.members {
            let user = self
                .user_index(member)
                .ok_or_else(|| SeedError::UnknownUser(seed.display_name.clone(), member.clone()))?;
            self.join(group, user);
        }
        Ok(())
    }

    /// Whether Exchange Online has a mailbox for the user: an active license
    /// (direct or through a group) with an enabled `EXCHANGE_S_*` plan.
    pub(crate) fn has_mailbox(&self, user: usize) -> bool {
        self.users[user]
            .licenses
            .iter()
            .filter(|l| l.active)
            .any(|l| {
                self.sku_index(&l.sku_id).is_some_and(|sku| {
                    self.skus[sku].service_plans.iter().any(|(id, name)| {
                        name.starts_with("EXCHANGE_S_") && !l.disabled_plans.contains(id)
                    })
                })
            })
    }

    /// The user's methods as `GET .../authentication/methods` lists them: the
    /// password first, then the registered ones, then a Temporary Access Pass.
    pub(crate) fn authentication_methods(&self, user: usize) -> Vec<Value> {
        let u = &self.users[user];
        let mut methods = vec![json!({
            "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
            "id": PASSWORD_METHOD_ID,
            "password": null,
            "createdDateTime": u.created,
        })];
        methods.extend(u.auth_methods.iter().cloned());
        if let Some(tap) = &u.tap {
            let mut listed = tap.clone();
            // The pass itself is shown once, at creation; a listing never has it.
            listed["temporaryAccessPass"] = Value::Null;
            methods.push(listed);
        }
        methods
    }

    pub(crate) fn domain_is_verified(&self, upn: &str) -> bool {
        upn.rsplit_once('@')
            .is_some_and(|(_, domain)| self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
    }

    /// A user by object id or UPN, ignoring replication.
    pub(crate) fn user_index(&self, key: &str) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.id.eq_ignore_ascii_case(key) || u.upn.eq_ignore_ascii_case(key))
    }

    /// A user as a request sees it: a user still replicating answers 404 and
    /// counts down.
    pub(crate) fn resolve_user(&mut self, key: &str) -> Result<usize, GraphError> {
        let index = self
            .user_index(key)
            .ok_or_else(|| GraphError::not_found(key))?;
        let user = &mut self.users[index];
        if user.pending_replication > 0 {
            user.pending_replication -= 1;
            return Err(GraphError::not_found(key));
        }
        Ok(index)
    }

    pub(crate) fn group_index(&self, id: &str) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.id.eq_ignore_ascii_case(id))
    }

    /// A SKU by part number or GUID.
    pub(crate) fn sku_index(&self, key: &str) -> Option<usize> {
        self.skus.iter().position(|s| {
            s.part_number.eq_ignore_ascii_case(key) || s.sku_id.eq_ignore_ascii_case(key)
        })
    }

    /// `consumedUnits`: seats held by seed-external users plus users with an
    /// active license of the SKU from any source (one seat per user).
    pub(crate) fn consumed(&self, sku: usize) -> u32 {
        let sku_id = &self.skus[sku].sku_id;
        let users = self
            .users
            .iter()
            .filter(|u| u.licenses.iter().any(|l| &l.sku_id == sku_id && l.active))
            .count();
        self.skus[sku]
            .consumed_by_others
            .saturating_add(u32::try_from(users).unwrap_or(u32::MAX))
    }

    pub(crate) fn free_seats(&self, sku: usize) -> i64 {
        i64::from(self.skus[sku].seats) - i64::from(self.consumed(sku))
    }

    fn holds_active(&self, user: usize, sku_id: &str) -> bool {
        self.users[user]
            .licenses
            .iter()
            .any(|l| l.sku_id == sku_id && l.active)
    }

    /// Adds `user` to `group` and applies the group's licenses: active when a
    /// seat is free (or the user already holds one), else `CountViolation`.
    pub(crate) fn join(&mut self, group: usize, user: usize) {
        let user_id = self.users[user].id.clone();
        let group_id = self.groups[group].id.clone();
        self.groups[group].members.push(user_id);
        for sku_id in self.groups[group].licenses.clone() {
            let Some(sku) = self.sku_index(&sku_id) else {
                continue;
            };
            let active = self.holds_active(user, &sku_id) || self.free_seats(sku) > 0;
            self.users[user].licenses.push(License {
                sku_id,
                group: Some(group_id.clone()),
                disabled_plans: Vec::new(),
                active,
                updated: now_string(),
            });
        }
    }

    /// Removes `user` from `group` with the licenses the group gave.
    pub(crate) fn leave(&mut self, group: usize, user: usize) {
        let user_id = self.users[user].id.clone();
        let group_id = self.groups[group].id.clone();
        self.groups[group].members.retain(|m| m != &user_id);
        self.users[user]
            .licenses
            .retain(|l| l.group.as_deref() != Some(group_id.as_str()));
    }

    /// Retries group-based assignments in error, as Entra does when seats appear.
    fn reprocess_group_licenses(&mut self) {
        for user in 0..self.users.len() {
            for license in 0..self.users[user].licenses.len() {
                if self.users[user].licenses[license].active {
                    continue;
                }
                let sku_id = self.users[user].licenses[license].sku_id.clone();
                let Some(sku) = self.sku_index(&sku_id) else {
                    continue;
                };
                if self.holds_active(user, &sku_id) || self.free_seats(sku) > 0 {
                    let entry = &mut self.users[user].licenses[license];
                    entry.active = true;
                    entry.updated = now_string();
                }
            }
        }
    }

    /// The full property map of a user; `$select` and the default set project it.
    pub(crate) fn user_json(&self, user: usize) -> Map<String, Value> {
        let u = &self.users[user];
        let mut map = Map::new();
        map.insert("id".into(), json!(u.id));
        map.insert("userPrincipalName".into(), json!(u.upn));
        map.insert("displayName".into(), json!(u.display_name));
        for name in PROFILE {
            map.insert((*name).into(), json!(u.profile.get(name)));
        }
        map.insert("businessPhones".into(), json!(u.business_phones));
        map.insert("mail".into(), json!(u.mail));
        map.insert("mailNickname".into(), json!(u.mail_nickname));
        map.insert("proxyAddresses".into(), json!(u.proxy_addresses));
        map.insert("usageLocation".into(), json!(u.usage_location));
        map.insert("accountEnabled".into(), json!(u.account_enabled));
        map.insert("passwordPolicies".into(), json!(u.password_policies));
        map.insert("createdDateTime".into(), json!(u.created));
        map.insert(
            "onPremisesSyncEnabled".into(),
            json!(u.on_premises_sync_enabled),
        );
        // Graph lists all fifteen, null when unset.
        let attributes: Map<String, Value> = (1..=15)
            .map(|i| {
                let name = format!("extensionAttribute{i}");
                let value = json!(u.extension_attributes.get(&name));
                (name, value)
            })
            .collect();
        map.insert(
            "onPremisesExtensionAttributes".into(),
            Value::Object(attributes),
        );
        map.insert(
            "assignedLicenses".into(),
            u.licenses
                .iter()
                .filter(|l| l.active)
                .map(|l| json!({"disabledPlans": l.disabled_plans, "skuId": l.sku_id}))
                .collect(),
        );
        map.insert(
            "licenseAssignmentStates".into(),
            u.licenses
                .iter()
                .map(|l| {
                    json!({
                        "assignedByGroup": l.group,
                        "disabledPlans": l.disabled_plans,
                        "error": if l.active { "None" } else { "CountViolation" },
                        "lastUpdatedDateTime": l.updated,
                        "skuId": l.sku_id,
                        "state": if l.active { "Active" } else { "Error" },
                    })
                })
                .collect(),
        );
        map
    }

    /// A user as `GET /sandbox/state` shows it: the user resource with every
    /// property, plus Graph's own relationships inline (`manager`, `memberOf`,
    /// `licenseDetails`, `authentication/methods` with no pass in it).
    fn user_state(&self, user: usize) -> Value {
        let u = &self.users[user];
        let mut map = self.user_json(user);
        let manager = u
            .manager
            .as_deref()
            .and_then(|id| self.user_index(id))
            .map(|m| json!({"id": self.users[m].id, "userPrincipalName": self.users[m].upn}));
        map.insert("manager".into(), json!(manager));
        map.insert(
            "memberOf".into(),
            self.groups
                .iter()
                .filter(|g| g.members.contains(&u.id))
                .map(|g| json!({"id": g.id, "displayName": g.display_name}))
                .collect(),
        );
        let mut details: Vec<Value> = Vec::new();
        for license in u.licenses.iter().filter(|l| l.active) {
            let Some(sku) = self.sku_index(&license.sku_id) else {
                continue;
            };
            let sku = &self.skus[sku];
            if !details.iter().any(|d| d["skuId"] == sku.sku_id) {
                details.push(json!({"skuId": sku.sku_id, "skuPartNumber": sku.part_number}));
            }
        }
        map.insert("licenseDetails".into(), Value::Array(details));
        map.insert(
            "authenticationMethods".into(),
            Value::Array(self.authentication_methods(user)),
        );
        Value::Object(map)
    }

    pub(crate) fn sku_json(&self, sku: usize) -> Value {
        let s = &self.skus[sku];
        json!({
            "accountName": self.display_name,
            "accountId": self.id,
            "appliesTo": "User",
            "capabilityStatus": "Enabled",
            "consumedUnits": self.consumed(sku),
            "id": format!("{}_{}", self.id, s.sku_id),
            "prepaidUnits": {"enabled": s.seats, "lockedOut": 0, "suspended": 0, "warning": 0},
            "servicePlans": s.service_plans.iter().map(|(id, name)| json!({
                "servicePlanId": id,
                "servicePlanName": name,
                "provisioningStatus": "Success",
                "appliesTo": "User",
            })).collect::<Vec<_>>(),
            "skuId": s.sku_id,
            "skuPartNumber": s.part_number,
            "subscriptionIds": [s.subscription_id],
        })
    }

    /// `POST /users`. Returns the new user's index.
    pub(crate) fn create_user(
        &mut self,
        body: &Map<String, Value>,
        replication_delay_calls: u32,
    ) -> Result<usize, GraphError> {
        const ALLOWED: &[&str] = &[
            "accountEnabled",
            "displayName",
            "mailNickname",
            "userPrincipalName",
            "passwordProfile",
            "passwordPolicies",
            "usageLocation",
            "businessPhones",
            "onPremisesExtensionAttributes",
        ];
        if let Some(unknown) = body
            .keys()
            .find(|k| !ALLOWED.contains(&k.as_str()) && !PROFILE.contains(&k.as_str()))
        {
            return Err(GraphError::undeclared_property(unknown));
        }
        let invalid = |p: &str| GraphError::invalid_property(p, "User");
        let account_enabled = body
            .get("accountEnabled")
            .and_then(Value::as_bool)
            .ok_or_else(|| invalid("accountEnabled"))?;
        let display_name = body
            .get("displayName")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty() && n.chars().count() <= 256)
            .ok_or_else(|| invalid("displayName"))?;
        let mail_nickname = body
            .get("mailNickname")
            .and_then(Value::as_str)
            .filter(|n| mail_nickname_is_valid(n))
            .ok_or_else(|| invalid("mailNickname"))?;
        let upn = body
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .filter(|u| upn_is_well_formed(u))
            .ok_or_else(|| invalid("userPrincipalName"))?;
        if !self.domain_is_verified(upn) {
            return Err(GraphError::unverified_domain());
        }
        let profile_body = body.get("passwordProfile").and_then(Value::as_object);
        let password = profile_body
            .and_then(|p| p.get("password"))
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .ok_or_else(GraphError::password_required)?;
        let force_change = profile_body
            .and_then(|p| p.get("forceChangePasswordNextSignIn"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut user = User {
            id: new_id(),
            upn: upn.to_owned(),
            display_name: display_name.to_owned(),
            profile: BTreeMap::new(),
            business_phones: Vec::new(),
            mail: None,
            mail_nickname: Some(mail_nickname.to_owned()),
            proxy_addresses: Vec::new(),
            usage_location: None,
            account_enabled,
            password_policies: None,
            password: password.to_owned(),
            force_change_password: force_change,
            manager: None,
            licenses: Vec::new(),
            revocations: 0,
            tap: None,
            auth_methods: Vec::new(),
            automatic_replies: disabled_replies(),
            pending_replication: replication_delay_calls,
            created: now_string(),
            on_premises_sync_enabled: None,
            extension_attributes: BTreeMap::new(),
        };
        apply_common(&mut user, body)?;
        if self.users.iter().any(|u| u.upn.eq_ignore_ascii_case(upn)) {
            return Err(GraphError::conflict("userPrincipalName"));
        }
        let taken_as_address = self.users.iter().any(|u| {
            u.mail
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(upn))
                || u.proxy_addresses
                    .iter()
                    .any(|p| proxy_address(p).eq_ignore_ascii_case(upn))
        });
        if taken_as_address {
            return Err(GraphError::conflict("proxyAddresses"));
        }
        check_password(&user, password)?;
        self.users.push(user);
        Ok(self.users.len() - 1)
    }

    /// `PATCH /users/{id}`; `may_reset_password` = the caller holds a role that allows it.
    pub(crate) fn update_user(
        &mut self,
        user: usize,
        body: &Map<String, Value>,
        may_reset_password: bool,
    ) -> Result<(), GraphError> {
        const ALLOWED: &[&str] = &[
            "accountEnabled",
            "displayName",
            "mailNickname",
            "passwordProfile",
            "passwordPolicies",
            "usageLocation",
            "businessPhones",
            "onPremisesExtensionAttributes",
        ];
        if let Some(unknown) = body
            .keys()
            .find(|k| !ALLOWED.contains(&k.as_str()) && !PROFILE.contains(&k.as_str()))
        {
            return Err(GraphError::undeclared_property(unknown));
        }
        // Properties mastered on premises for a synced user (usageLocation and
        // passwordPolicies stay writable in the cloud).
        let synced = self.users[user].on_premises_sync_enabled == Some(true);
        if synced
            && body.keys().any(|k| {
                matches!(
                    k.as_str(),
                    "accountEnabled"
                        | "displayName"
                        | "mailNickname"
                        | "passwordProfile"
                        | "businessPhones"
                        | "onPremisesExtensionAttributes"
                ) || PROFILE.contains(&k.as_str())
            })
        {
            return Err(GraphError::synced_object());
        }
        let invalid = |p: &str| GraphError::invalid_property(p, "User");
        let mut updated = self.users[user].clone();
        if let Some(value) = body.get("accountEnabled") {
            updated.account_enabled = value.as_bool().ok_or_else(|| invalid("accountEnabled"))?;
        }
        if let Some(value) = body.get("displayName") {
            updated.display_name = value
                .as_str()
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| invalid("displayName"))?
                .to_owned();
        }
        if let Some(value) = body.get("mailNickname") {
            updated.mail_nickname = Some(
                value
                    .as_str()
                    .filter(|n| mail_nickname_is_valid(n))
                    .ok_or_else(|| invalid("mailNickname"))?
                    .to_owned(),
            );
        }
        apply_common(&mut updated, body)?;
        if let Some(profile) = body.get("passwordProfile") {
            if !may_reset_password {
                return Err(GraphError::forbidden());
            }
            let password = profile
                .get("password")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .ok_or_else(|| invalid("passwordProfile"))?;
            check_password(&updated, password)?;
            updated.password = password.to_owned();
            updated.force_change_password = profile
                .get("forceChangePasswordNextSignIn")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        }
        self.users[user] = updated;
        Ok(())
    }

    /// `POST /users/{id}/assignLicense`, all or nothing.
    pub(crate) fn assign_license(
        &mut self,
        user: usize,
        body: &Map<String, Value>,
    ) -> Result<(), GraphError> {
        let invalid = |p: &str| GraphError::invalid_property(p, "User");
        let add = body
            .get("addLicenses")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("addLicenses"))?;
        let remove = body
            .get("removeLicenses")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("removeLicenses"))?;
        let mut adds = Vec::new();
        for entry in add {
            let sku_id = entry
                .get("skuId")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("addLicenses"))?;
            if !is_guid(sku_id) {
                return Err(GraphError::not_a_guid());
            }
            let disabled: Vec<String> = entry
                .get("disabledPlans")
                .and_then(Value::as_array)
                .map(|plans| {
                    plans
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            adds.push((sku_id.to_lowercase(), disabled));
        }
        let mut removes = Vec::new();
        for entry in remove {
            let sku_id = entry.as_str().ok_or_else(|| invalid("removeLicenses"))?;
            if !is_guid(sku_id) {
                return Err(GraphError::not_a_guid());
            }
            removes.push(sku_id.to_lowercase());
        }
        if !adds.is_empty() && self.users[user].usage_location.is_none() {
            return Err(GraphError::no_usage_location());
        }
        for (sku_id, _) in &adds {
            let sku = self
                .sku_index(sku_id)
                .ok_or_else(|| GraphError::unknown_sku(sku_id))?;
            if !self.holds_active(user, sku_id) && self.free_seats(sku) <= 0 {
                return Err(GraphError::no_free_seats(sku_id));
            }
        }
        for sku_id in &removes {
            let licenses = &self.users[user].licenses;
            let direct = licenses
                .iter()
                .any(|l| &l.sku_id == sku_id && l.group.is_none());
            let inherited = licenses
                .iter()
                .any(|l| &l.sku_id == sku_id && l.group.is_some());
            if !direct {
                return Err(if inherited {
                    GraphError::inherited_license()
                } else {
                    GraphError::license_not_held()
                });
            }
        }
        let licenses = &mut self.users[user].licenses;
        licenses.retain(|l| l.group.is_some() || !removes.contains(&l.sku_id));
        for (sku_id, disabled_plans) in adds {
            match licenses
                .iter_mut()
                .find(|l| l.sku_id == sku_id && l.group.is_none())
            {
                Some(existing) => existing.disabled_plans = disabled_plans,
                None => licenses.push(License {
                    sku_id,
                    group: None,
                    disabled_plans,
                    active: true,
                    updated: now_string(),
                }),
            }
        }
        if !removes.is_empty() {
            self.reprocess_group_licenses();
        }
        Ok(())
    }
}

/// Properties create and update share: usageLocation, passwordPolicies, phones, profile.
fn apply_common(user: &mut User, body: &Map<String, Value>) -> Result<(), GraphError> {
    let invalid = |p: &str| GraphError::invalid_property(p, "User");
    if let Some(value) = body.get("onPremisesExtensionAttributes") {
        // user-update.md: extensionAttribute1..15, strings of at most 1024
        // characters, null clears; settable on cloud-only users.
        let attributes = value
            .as_object()
            .ok_or_else(|| invalid("onPremisesExtensionAttributes"))?;
        for (name, value) in attributes {
            let known = name
                .strip_prefix("extensionAttribute")
                .and_then(|n| n.parse::<u8>().ok())
                .is_some_and(|n| (1..=15).contains(&n));
            if !known {
                return Err(GraphError::undeclared_property(name));
            }
            match value {
                Value::Null => {
                    user.extension_attributes.remove(name);
                }
                Value::String(text) if text.chars().count() <= 1024 => {
                    user.extension_attributes.insert(name.clone(), text.clone());
                }
                _ => return Err(invalid(name)),
            }
        }
    }
    if let Some(value) = body.get("usageLocation") {
        let code = value
            .as_str()
            .filter(|c| usage_location_is_valid(c))
            .ok_or_else(|| invalid("usageLocation"))?;
        user.usage_location = Some(code.to_owned());
    }
    if let Some(value) = body.get("passwordPolicies") {
        user.password_policies = match value {
            Value::Null => None,
            Value::String(p) if password_policies_are_valid(p) => Some(p.clone()),
            _ => return Err(invalid("passwordPolicies")),
        };
    }
    if let Some(value) = body.get("businessPhones") {
        user.business_phones = value
            .as_array()
            .and_then(|phones| {
                phones
                    .iter()
                    .map(|p| p.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| invalid("businessPhones"))?;
    }
    for name in PROFILE {
        match body.get(*name) {
            None => {}
            Some(Value::Null) => {
                user.profile.remove(name);
            }
            Some(Value::String(text)) => {
                user.profile.insert(name, text.clone());
            }
            Some(_) => return Err(invalid(name)),
        }
    }
    Ok(())
}

/// Complexity, unless the user's policies include `DisableStrongPassword`
/// (then only the length rule holds).
fn check_password(user: &User, password: &str) -> Result<(), GraphError> {
    let relaxed = user
        .password_policies
        .as_deref()
        .is_some_and(|p| p.contains("DisableStrongPassword"));
    let ok = if relaxed {
        (8..=256).contains(&password.chars().count())
    } else {
        password_is_strong(password)
    };
    if ok {
        Ok(())
    } else {
        Err(GraphError::weak_password())
    }
}

impl World {
    pub(crate) fn tenant_index(&self, key: &str) -> Option<usize> {
        self.tenants.iter().position(|t| {
            t.id.eq_ignore_ascii_case(key) || t.domains.iter().any(|d| d.eq_ignore_ascii_case(key))
        })
    }
}

/// A user as tests see it (the password is checked with [`GraphState::password_is`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserSnapshot {
    /// Object id.
    pub id: String,
    /// UPN.
    pub user_principal_name: String,
    /// Display name.
    pub display_name: String,
    /// `mailNickname`.
    pub mail_nickname: Option<String>,
    /// `givenName`, `jobTitle`, ... as set.
    pub profile: BTreeMap<String, String>,
    /// Sign-in allowed.
    pub account_enabled: bool,
    /// `usageLocation`.
    pub usage_location: Option<String>,
    /// `passwordPolicies`.
    pub password_policies: Option<String>,
    /// `passwordProfile.forceChangePasswordNextSignIn` of the last password set.
    pub force_change_password_next_sign_in: bool,
    /// The manager's UPN.
    pub manager: Option<String>,
    /// Licenses from every source.
    pub licenses: Vec<LicenseSnapshot>,
    /// Display names of the groups the user is a direct member of.
    pub groups: Vec<String>,
    /// Times `revokeSignInSessions` was called.
    pub sign_in_revocations: u32,
    /// Whether a Temporary Access Pass exists.
    pub has_temporary_access_pass: bool,
    /// The types of the registered methods besides the password and the TAP
    /// (`phone`, `microsoftAuthenticator`, ...).
    pub authentication_methods: Vec<String>,
    /// `automaticRepliesSetting.status`: `disabled`, `alwaysEnabled` or `scheduled`.
    pub automatic_replies_status: String,
    /// `automaticRepliesSetting.internalReplyMessage`.
    pub internal_reply_message: String,
}

/// One license of a user as tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseSnapshot {
    /// e.g. `SPB`.
    pub sku_part_number: String,
    /// The assigning group's display name; `None` for a direct assignment.
    pub assigned_by_group: Option<String>,
    /// `true` = `Active`; `false` = `Error` with `CountViolation` (no seat yet).
    pub active: bool,
}

impl LicenseSnapshot {
    /// A direct, active license of `sku_part_number`.
    pub fn direct(sku_part_number: &str) -> Self {
        Self {
            sku_part_number: sku_part_number.to_owned(),
            assigned_by_group: None,
            active: true,
        }
    }
}

/// A handle on the simulator's tenants: tests and other simulators (Pax8
/// adding seats) read and change them while the router serves.
#[derive(Debug, Clone)]
pub struct GraphState {
    world: Arc<Mutex<World>>,
    throttle: Throttle,
}

impl GraphState {
    /// Builds the tenants from `seed`, its quotas on the real clock.
    pub fn new(seed: &GraphSeed) -> Result<Self, SeedError> {
        Self::with_clock(seed, Arc::new(jiff::Timestamp::now))
    }

    /// Builds the tenants from `seed`; its quotas refill on `clock`.
    pub fn with_clock(seed: &GraphSeed, clock: crate::SandboxClock) -> Result<Self, SeedError> {
        let tenants = seed
            .tenants
            .iter()
            .map(Tenant::from_seed)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            world: Arc::new(Mutex::new(World {
                tenants,
                tokens: HashMap::new(),
                tokens_issued: 0,
                replication_delay_calls: seed.replication_delay_calls,
                token_lifetime_seconds: seed.token_lifetime_seconds,
                dangerous_deletes: Vec::new(),
            })),
            throttle: Throttle::new(seed.throttling.clone(), clock),
        })
    }

    pub(crate) fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        // Every mutation validates before it writes, so a poisoned lock holds consistent data.
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with_tenant<T>(
        &self,
        tenant: &str,
        f: impl FnOnce(&mut Tenant) -> T,
    ) -> Result<T, StateError> {
        let mut world = self.lock();
        let index = world
            .tenant_index(tenant)
            .ok_or_else(|| StateError::UnknownTenant(tenant.to_owned()))?;
        Ok(f(&mut world.tenants[index]))
    }

    /// Adds purchased seats to a SKU (by part number or id) and lets
    /// group-based assignments waiting for a seat become active. Returns the
    /// new `prepaidUnits.enabled`.
    pub fn add_seats(&self, tenant: &str, sku: &str, seats: u32) -> Result<u32, StateError> {
        self.with_tenant(tenant, |t| {
            let index = t
                .sku_index(sku)
                .ok_or_else(|| StateError::UnknownSku(sku.to_owned()))?;
            t.skus[index].seats = t.skus[index].seats.saturating_add(seats);
            t.reprocess_group_licenses();
            Ok(t.skus[index].seats)
        })?
    }

    /// Removes seats from a SKU (a lowered distributor subscription), never
    /// below zero; users keep their licenses, as in Graph, and the SKU then
    /// shows more consumed than enabled units. Returns the new
    /// `prepaidUnits.enabled`.
    pub fn remove_seats(&self, tenant: &str, sku: &str, seats: u32) -> Result<u32, StateError> {
        self.with_tenant(tenant, |t| {
            let index = t
                .sku_index(sku)
                .ok_or_else(|| StateError::UnknownSku(sku.to_owned()))?;
            t.skus[index].seats = t.skus[index].seats.saturating_sub(seats);
            Ok(t.skus[index].seats)
        })?
    }

    /// `prepaidUnits.enabled - consumedUnits` of a SKU.
    pub fn free_seats(&self, tenant: &str, sku: &str) -> Result<i64, StateError> {
        self.with_tenant(tenant, |t| {
            t.sku_index(sku)
                .map(|index| t.free_seats(index))
                .ok_or_else(|| StateError::UnknownSku(sku.to_owned()))
        })?
    }

    /// A user by UPN or id, whether replicated or not.
    pub fn user(&self, tenant: &str, key: &str) -> Option<UserSnapshot> {
        self.with_tenant(tenant, |t| {
            let index = t.user_index(key)?;
            let u = &t.users[index];
            let name_of_user =
                |id: &str| t.users.iter().find(|m| m.id == id).map(|m| m.upn.clone());
            let name_of_group = |id: &str| {
                t.groups
                    .iter()
                    .find(|g| g.id == id)
                    .map(|g| g.display_name.clone())
            };
            Some(UserSnapshot {
                id: u.id.clone(),
                user_principal_name: u.upn.clone(),
                display_name: u.display_name.clone(),
                mail_nickname: u.mail_nickname.clone(),
                profile: u
                    .profile
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                account_enabled: u.account_enabled,
                usage_location: u.usage_location.clone(),
                password_policies: u.password_policies.clone(),
                force_change_password_next_sign_in: u.force_change_password,
                manager: u.manager.as_deref().and_then(name_of_user),
                licenses: u
                    .licenses
                    .iter()
                    .map(|l| {
                        let part = t
                            .sku_index(&l.sku_id)
                            .map_or_else(|| l.sku_id.clone(), |s| t.skus[s].part_number.clone());
                        LicenseSnapshot {
                            sku_part_number: part,
                            assigned_by_group: l.group.as_deref().and_then(name_of_group),
                            active: l.active,
                        }
                    })
                    .collect(),
                groups: t
                    .groups
                    .iter()
                    .filter(|g| g.members.contains(&u.id))
                    .map(|g| g.display_name.clone())
                    .collect(),
                sign_in_revocations: u.revocations,
                has_temporary_access_pass: u.tap.is_some(),
                authentication_methods: u
                    .auth_methods
                    .iter()
                    .filter_map(|m| m["@odata.type"].as_str())
                    .map(|t| {
                        t.trim_start_matches("#microsoft.graph.")
                            .trim_end_matches("AuthenticationMethod")
                            .to_owned()
                    })
                    .collect(),
                automatic_replies_status: u.automatic_replies["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                internal_reply_message: u.automatic_replies["internalReplyMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            })
        })
        .ok()
        .flatten()
    }

    /// Whether the user's current password is `candidate`.
    pub fn password_is(&self, tenant: &str, key: &str, candidate: &str) -> bool {
        self.with_tenant(tenant, |t| {
            t.user_index(key)
                .is_some_and(|i| t.users[i].password == candidate)
        })
        .unwrap_or(false)
    }

    /// UPNs of a group's members, by the group's display name.
    pub fn group_members(&self, tenant: &str, display_name: &str) -> Option<Vec<String>> {
        self.with_tenant(tenant, |t| {
            let group = t.groups.iter().find(|g| g.display_name == display_name)?;
            Some(
                group
                    .members
                    .iter()
                    .filter_map(|id| t.users.iter().find(|u| &u.id == id))
                    .map(|u| u.upn.clone())
                    .collect(),
            )
        })
        .ok()
        .flatten()
    }

    /// How many requests a newly created user answers 404 to.
    pub fn set_replication_delay(&self, calls: u32) {
        self.lock().replication_delay_calls = calls;
    }

    /// The replication delay in force.
    pub fn replication_delay(&self) -> u32 {
        self.lock().replication_delay_calls
    }

    /// Every `DELETE /groups/{id}/members/{id}` received without `/$ref`.
    pub fn dangerous_member_deletes(&self) -> Vec<String> {
        self.lock().dangerous_deletes.clone()
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.lock().tokens_issued
    }

    /// The access tokens currently valid, so tests can assert none leaks into logs.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().tokens.keys().cloned().collect()
    }

    /// Invalidates every issued token (as a key rollover would); the next
    /// Graph call with one answers 401.
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// `expires_in` of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().token_lifetime_seconds = lifetime.as_secs();
    }

    /// Every tenant's objects in Graph's field names, for `GET /sandbox/state`:
    /// `tenants` (`id`, `displayName`, `domains`), then `users`, `groups` and
    /// `subscribedSkus` of all tenants, tenant by tenant (a SKU's `accountId`
    /// and a user's UPN domain say which tenant). Users carry their manager,
    /// groups, licenses and authentication methods; no password or pass.
    pub fn state_json(&self) -> Value {
        let world = self.lock();
        let mut tenants = Vec::new();
        let mut users = Vec::new();
        let mut groups = Vec::new();
        let mut skus = Vec::new();
        for tenant in &world.tenants {
            tenants.push(json!({
                "id": tenant.id,
                "displayName": tenant.display_name,
                "domains": tenant.domains,
            }));
            users.extend((0..tenant.users.len()).map(|u| tenant.user_state(u)));
            groups.extend(tenant.groups.iter().map(|g| {
                let mut map = g.json();
                let members: Vec<Value> = g
                    .members
                    .iter()
                    .filter_map(|id| tenant.user_index(id))
                    .map(|u| {
                        let u = &tenant.users[u];
                        json!({"id": u.id, "userPrincipalName": u.upn})
                    })
                    .collect();
                map.insert("members".into(), Value::Array(members));
                Value::Object(map)
            }));
            skus.extend((0..tenant.skus.len()).map(|s| tenant.sku_json(s)));
        }
        json!({
            "tenants": tenants,
            "users": users,
            "groups": groups,
            "subscribedSkus": skus,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> GraphState {
        GraphState::new(&GraphSeed::example()).unwrap()
    }

    #[test]
    fn the_example_seed_builds_and_counts_consumed_seats() {
        let state = state();

        assert_eq!(
            state.free_seats("contoso.com", "O365_BUSINESS_PREMIUM"),
            Ok(3)
        );
        assert_eq!(state.free_seats("contoso.com", "SPB"), Ok(0));
        let alex = state.user("contoso.com", "alexw@contoso.com").unwrap();
        assert_eq!(alex.manager.as_deref(), Some("AdeleV@contoso.com"));
        assert_eq!(alex.groups, vec!["All Staff", "Sales"]);
    }

    #[test]
    fn a_seed_naming_an_unknown_manager_is_refused_by_name() {
        let mut seed = GraphSeed::example();
        seed.tenants[0].users[1].manager = Some("ghost@contoso.com".into());

        let err = GraphState::new(&seed).unwrap_err();

        assert_eq!(
            err,
            SeedError::UnknownUser("AlexW@contoso.com".into(), "ghost@contoso.com".into())
        );
    }

    #[test]
    fn added_seats_activate_group_licenses_waiting_in_count_violation() {
        let state = state();
        {
            let mut world = state.lock();
            let tenant = &mut world.tenants[0];
            let group = tenant
                .groups
                .iter()
                .position(|g| g.display_name == "License - Business Premium")
                .unwrap();
            let user = tenant.user_index("AdeleV@contoso.com").unwrap();
            tenant.join(group, user);
        }
        let waiting = state.user("contoso.com", "AdeleV@contoso.com").unwrap();
        assert!(waiting.licenses.contains(&LicenseSnapshot {
            sku_part_number: "SPB".into(),
            assigned_by_group: Some("License - Business Premium".into()),
            active: false,
        }));

        let seats = state.add_seats("contoso.com", "SPB", 1).unwrap();

        assert_eq!(seats, 3);
        let active = state.user("contoso.com", "AdeleV@contoso.com").unwrap();
        assert!(active.licenses.contains(&LicenseSnapshot {
            sku_part_number: "SPB".into(),
            assigned_by_group: Some("License - Business Premium".into()),
            active: true,
        }));
        assert_eq!(state.free_seats("contoso.com", "SPB"), Ok(0));
    }

    #[test]
    fn the_seed_reads_back_from_its_serialised_form_with_defaults_filled_in() {
        let text = serde_json::to_string(&GraphSeed::example()).unwrap();
        let minimal = serde_json::json!({
            "tenants": [{"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "domains": ["contoso.com"],
                "users": [{"user_principal_name": "a@contoso.com"}]}]
        });

        let round_trip: GraphSeed = serde_json::from_str(&text).unwrap();
        let filled: GraphSeed = serde_json::from_value(minimal).unwrap();

        assert_eq!(round_trip, GraphSeed::example());
        assert_eq!(filled.token_lifetime_seconds, 3599);
        assert!(filled.tenants[0].users[0].account_enabled);
        let misspelt = serde_json::json!({"tenants": [], "replication_delay": 3});
        assert!(serde_json::from_value::<GraphSeed>(misspelt).is_err());
    }

    #[test]
    fn a_seeded_method_of_an_unknown_type_or_without_its_number_is_refused_by_name() {
        for bad in [
            AuthMethodSeed {
                kind: "carrierPigeon".into(),
                ..AuthMethodSeed::default()
            },
            AuthMethodSeed {
                kind: "phone".into(),
                ..AuthMethodSeed::default()
            },
        ] {
            let mut seed = GraphSeed::example();
            seed.tenants[0].users[0].authentication_methods = vec![bad.clone()];

            let err = GraphState::new(&seed).unwrap_err();

            assert_eq!(
                err,
                SeedError::AuthMethod("AdeleV@contoso.com".into(), bad.kind.clone())
            );
        }
    }

    #[test]
    fn the_listing_puts_the_password_first_and_never_shows_a_pass() {
        let state = state();
        let mut world = state.lock();
        let tenant = &mut world.tenants[0];
        let alex = tenant.user_index("AlexW@contoso.com").unwrap();
        tenant.users[alex].tap = Some(json!({
            "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
            "id": "t-1",
            "temporaryAccessPass": "Secret#Pass1",
        }));

        let listed = tenant.authentication_methods(alex);

        let types: Vec<&str> = listed
            .iter()
            .map(|m| m["@odata.type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "#microsoft.graph.passwordAuthenticationMethod",
                "#microsoft.graph.phoneAuthenticationMethod",
                "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
                "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
            ]
        );
        assert!(!Value::Array(listed).to_string().contains("Secret#Pass1"));
    }

    #[test]
    fn passwords_follow_the_entra_complexity_rules() {
        assert!(password_is_strong("xWwvJ]6NMw+bWH-d"));
        assert!(password_is_strong("correct horse 9 Battery"));
        assert!(!password_is_strong("short1A"));
        assert!(!password_is_strong("alllowercase1"));
        assert!(!password_is_strong("Ünïcode-Pässword1"));
    }

    #[test]
    fn mail_nicknames_refuse_spaces_and_at_signs() {
        assert!(mail_nickname_is_valid("AdeleV"));
        assert!(!mail_nickname_is_valid("Adele V"));
        assert!(!mail_nickname_is_valid("adele@contoso"));
        assert!(!mail_nickname_is_valid(""));
    }
}
