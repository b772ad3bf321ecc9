//! MFA readiness: whether the tenant's protection (security defaults, or the
//! Conditional Access policies that require MFA) covers a new user, and whether a
//! Temporary Access Pass can be issued to them — decided from what Graph returned.
//!
//! The rules follow Graph's documentation (fact sheet §14): a policy applies when
//! it is `enabled` (report-only and disabled policies enforce nothing), requires
//! MFA through the built-in `mfa` control or an authentication strength whose
//! `requirementsSatisfied` is `mfa`, and its `conditions.users` include the user
//! (`All`, or one of their groups or role templates) without excluding them
//! (exclusions win). A new user does not exist yet, so only `All` among the user
//! ids can cover them; they are a member, never `GuestsOrExternalUsers`.

use serde::{Deserialize, Serialize};

/// The service plans that carry Entra ID P1 (P2 includes P1).
pub const ENTRA_P1_PLANS: &[&str] = &["AAD_PREMIUM", "AAD_PREMIUM_P2"];

/// Whether any subscribed SKU's service plan carries Entra ID P1, which
/// Conditional Access needs: `(servicePlanName, provisioningStatus)` pairs; a
/// plan whose provisioning is `Disabled` does not count.
pub fn has_entra_p1<'a>(plans: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> bool {
    plans.into_iter().any(|(name, status)| {
        ENTRA_P1_PLANS.iter().any(|p| p.eq_ignore_ascii_case(name))
            && !status.is_some_and(|s| s.eq_ignore_ascii_case("disabled"))
    })
}

/// `state` of a Conditional Access policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyState {
    /// `enabled`: enforced.
    Enabled,
    /// `disabled`.
    Disabled,
    /// `enabledForReportingButNotEnforced`: report-only, enforces nothing.
    ReportOnly,
}

impl PolicyState {
    /// Graph's value; an unknown one counts as not enforced.
    pub fn from_graph(state: &str) -> Self {
        match state {
            "enabled" => Self::Enabled,
            "enabledForReportingButNotEnforced" => Self::ReportOnly,
            _ => Self::Disabled,
        }
    }
}

/// `conditions.users` of a policy: object ids (or `All` / `None` /
/// `GuestsOrExternalUsers` among the users), group ids, role template ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserConditions {
    /// `includeUsers`.
    pub include_users: Vec<String>,
    /// `excludeUsers`.
    pub exclude_users: Vec<String>,
    /// `includeGroups`.
    pub include_groups: Vec<String>,
    /// `excludeGroups`.
    pub exclude_groups: Vec<String>,
    /// `includeRoles` (role template ids).
    pub include_roles: Vec<String>,
    /// `excludeRoles`.
    pub exclude_roles: Vec<String>,
}

/// A Conditional Access policy, as far as MFA readiness reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionalAccessPolicy {
    /// `displayName`.
    pub display_name: String,
    /// `state`.
    pub state: PolicyState,
    /// `grantControls.builtInControls` contains `mfa`, or
    /// `grantControls.authenticationStrength.requirementsSatisfied` is `mfa`.
    pub requires_mfa: bool,
    /// `conditions.users`.
    pub users: UserConditions,
}

/// The tenant's MFA protection as Graph reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantProtection {
    /// `identitySecurityDefaultsEnforcementPolicy.isEnabled`.
    pub security_defaults: bool,
    /// Entra ID P1 is among the subscribed SKUs' service plans ([`has_entra_p1`]).
    pub entra_p1: bool,
    /// The Conditional Access policies (all states; read only with P1).
    pub policies: Vec<ConditionalAccessPolicy>,
}

/// Who the new user will be: the object ids of the groups they will be a member
/// of and the role template ids they will hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlannedUser {
    /// Their object id, once created (`None` before).
    pub id: Option<String>,
    /// Group object ids.
    pub groups: Vec<String>,
    /// Directory role template ids.
    pub roles: Vec<String>,
}

/// Whether anything makes the user use MFA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MfaOutcome {
    /// Security defaults are on: every user registers for MFA.
    SecurityDefaults,
    /// These enabled policies (display names) require MFA of the user.
    ConditionalAccess {
        /// The covering policies' names, in Graph's order.
        policies: Vec<String>,
    },
    /// Nothing requires it.
    NotRequired {
        /// The tenant has Entra ID P1 (Conditional Access is available).
        entra_p1: bool,
    },
}

impl MfaOutcome {
    /// MFA will be required of the user.
    pub fn required(&self) -> bool {
        !matches!(self, Self::NotRequired { .. })
    }

    /// The outcome in plain words, for the plan, the timeline and the ticket.
    pub fn describe(&self) -> String {
        match self {
            Self::SecurityDefaults => "MFA: required by security defaults".into(),
            Self::ConditionalAccess { policies } => {
                let names: Vec<String> = policies.iter().map(|p| format!("'{p}'")).collect();
                if names.len() == 1 {
                    format!("MFA: required by Conditional Access policy {}", names[0])
                } else {
                    format!(
                        "MFA: required by Conditional Access policies {}",
                        names.join(", ")
                    )
                }
            }
            Self::NotRequired { entra_p1: false } => {
                "MFA: no policy requires it for this user — consider security defaults".into()
            }
            Self::NotRequired { entra_p1: true } => {
                "MFA: no policy requires it for this user — consider a Conditional Access policy \
                 that requires MFA for all users (or security defaults)"
                    .into()
            }
        }
    }
}

fn any_of(list: &[String], ids: &[String]) -> bool {
    list.iter()
        .any(|x| ids.iter().any(|id| id.eq_ignore_ascii_case(x)))
}

fn has(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(value))
}

/// Whether the policy's user conditions cover `user` (exclusions win).
pub fn covers(users: &UserConditions, user: &PlannedUser) -> bool {
    let own: Vec<String> = user.id.iter().cloned().collect();
    let excluded = has(&users.exclude_users, "All")
        || any_of(&users.exclude_users, &own)
        || any_of(&users.exclude_groups, &user.groups)
        || any_of(&users.exclude_roles, &user.roles);
    if excluded {
        return false;
    }
    has(&users.include_users, "All")
        || any_of(&users.include_users, &own)
        || any_of(&users.include_groups, &user.groups)
        || any_of(&users.include_roles, &user.roles)
}

/// Whether the tenant's protection requires MFA of `user`, and by what.
pub fn assess(protection: &TenantProtection, user: &PlannedUser) -> MfaOutcome {
    if protection.security_defaults {
        return MfaOutcome::SecurityDefaults;
    }
    let policies: Vec<String> = if protection.entra_p1 {
        protection
            .policies
            .iter()
            .filter(|p| p.state == PolicyState::Enabled && p.requires_mfa)
            .filter(|p| covers(&p.users, user))
            .map(|p| p.display_name.clone())
            .collect()
    } else {
        Vec::new()
    };
    if policies.is_empty() {
        MfaOutcome::NotRequired {
            entra_p1: protection.entra_p1,
        }
    } else {
        MfaOutcome::ConditionalAccess { policies }
    }
}

/// The Temporary Access Pass method policy
/// (`authenticationMethodConfigurations/TemporaryAccessPass`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapPolicy {
    /// `state == "enabled"`.
    pub enabled: bool,
    /// `includeTargets[].id`: group ids or `all_users`.
    pub include_targets: Vec<String>,
    /// `excludeTargets[].id`.
    pub exclude_targets: Vec<String>,
}

/// Why a Temporary Access Pass cannot be issued to the user, or `None` when it can.
pub fn tap_unavailable(policy: &TapPolicy, user_groups: &[String]) -> Option<&'static str> {
    if !policy.enabled {
        return Some("the Temporary Access Pass method is disabled in the tenant");
    }
    if any_of(&policy.exclude_targets, user_groups) || has(&policy.exclude_targets, "all_users") {
        return Some("the Temporary Access Pass method policy excludes the user");
    }
    if has(&policy.include_targets, "all_users") || any_of(&policy.include_targets, user_groups) {
        None
    } else {
        Some("the Temporary Access Pass method policy does not target the user")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn policy(
        name: &str,
        state: PolicyState,
        mfa: bool,
        users: UserConditions,
    ) -> ConditionalAccessPolicy {
        ConditionalAccessPolicy {
            display_name: name.into(),
            state,
            requires_mfa: mfa,
            users,
        }
    }

    fn all_users() -> UserConditions {
        UserConditions {
            include_users: strings(&["All"]),
            ..UserConditions::default()
        }
    }

    fn premium(policies: Vec<ConditionalAccessPolicy>) -> TenantProtection {
        TenantProtection {
            security_defaults: false,
            entra_p1: true,
            policies,
        }
    }

    fn in_groups(groups: &[&str]) -> PlannedUser {
        PlannedUser {
            groups: strings(groups),
            ..PlannedUser::default()
        }
    }

    #[test]
    fn an_enabled_all_users_policy_requires_mfa_and_is_named() {
        let tenant = premium(vec![policy(
            "Require MFA for all users",
            PolicyState::Enabled,
            true,
            all_users(),
        )]);

        let outcome = assess(&tenant, &PlannedUser::default());

        assert!(outcome.required());
        assert_eq!(
            outcome.describe(),
            "MFA: required by Conditional Access policy 'Require MFA for all users'"
        );
    }

    #[test]
    fn disabled_and_report_only_policies_require_nothing() {
        let tenant = premium(vec![
            policy("Off", PolicyState::Disabled, true, all_users()),
            policy("Report only", PolicyState::ReportOnly, true, all_users()),
        ]);

        let outcome = assess(&tenant, &PlannedUser::default());

        assert_eq!(outcome, MfaOutcome::NotRequired { entra_p1: true });
    }

    #[test]
    fn a_policy_without_an_mfa_control_requires_nothing() {
        let tenant = premium(vec![policy(
            "Compliant device",
            PolicyState::Enabled,
            false,
            all_users(),
        )]);

        assert!(!assess(&tenant, &PlannedUser::default()).required());
    }

    #[test]
    fn a_group_policy_covers_members_of_that_group_only() {
        let users = UserConditions {
            include_groups: strings(&["g-mfa"]),
            ..UserConditions::default()
        };
        let tenant = premium(vec![policy(
            "MFA for staff",
            PolicyState::Enabled,
            true,
            users,
        )]);

        assert!(assess(&tenant, &in_groups(&["g-other", "G-MFA"])).required());
        assert!(!assess(&tenant, &in_groups(&["g-other"])).required());
    }

    #[test]
    fn a_role_policy_covers_holders_of_that_role() {
        let users = UserConditions {
            include_roles: strings(&["62e90394-69f5-4237-9190-012177145e10"]),
            ..UserConditions::default()
        };
        let tenant = premium(vec![policy(
            "MFA for admins",
            PolicyState::Enabled,
            true,
            users,
        )]);
        let admin = PlannedUser {
            roles: strings(&["62e90394-69f5-4237-9190-012177145e10"]),
            ..PlannedUser::default()
        };

        assert!(assess(&tenant, &admin).required());
        assert!(!assess(&tenant, &PlannedUser::default()).required());
    }

    #[test]
    fn exclusions_win_over_all_users() {
        let users = UserConditions {
            include_users: strings(&["All"]),
            exclude_groups: strings(&["g-break-glass"]),
            exclude_roles: strings(&["r-excluded"]),
            ..UserConditions::default()
        };
        let tenant = premium(vec![policy(
            "Require MFA for all users",
            PolicyState::Enabled,
            true,
            users,
        )]);
        let role_holder = PlannedUser {
            roles: strings(&["r-excluded"]),
            ..PlannedUser::default()
        };

        assert!(!assess(&tenant, &in_groups(&["g-break-glass"])).required());
        assert!(!assess(&tenant, &role_holder).required());
        assert!(assess(&tenant, &in_groups(&["g-staff"])).required());
    }

    #[test]
    fn named_users_guests_and_none_do_not_cover_a_new_member() {
        let users = UserConditions {
            include_users: strings(&["GuestsOrExternalUsers", "None", "5f0c-existing-user"]),
            ..UserConditions::default()
        };
        let tenant = premium(vec![policy("Guests", PolicyState::Enabled, true, users)]);

        assert!(!assess(&tenant, &PlannedUser::default()).required());
        let existing = PlannedUser {
            id: Some("5f0c-existing-user".into()),
            ..PlannedUser::default()
        };
        assert!(assess(&tenant, &existing).required());
    }

    #[test]
    fn every_covering_policy_is_named() {
        let tenant = premium(vec![
            policy("A", PolicyState::Enabled, true, all_users()),
            policy("B", PolicyState::Disabled, true, all_users()),
            policy("C", PolicyState::Enabled, true, all_users()),
        ]);

        assert_eq!(
            assess(&tenant, &PlannedUser::default()).describe(),
            "MFA: required by Conditional Access policies 'A', 'C'"
        );
    }

    #[test]
    fn security_defaults_require_mfa_of_everyone() {
        let tenant = TenantProtection {
            security_defaults: true,
            ..TenantProtection::default()
        };

        let outcome = assess(&tenant, &PlannedUser::default());

        assert_eq!(outcome, MfaOutcome::SecurityDefaults);
        assert_eq!(outcome.describe(), "MFA: required by security defaults");
    }

    #[test]
    fn without_p1_policies_are_not_counted_and_security_defaults_are_suggested() {
        let tenant = TenantProtection {
            security_defaults: false,
            entra_p1: false,
            policies: vec![policy("Leftover", PolicyState::Enabled, true, all_users())],
        };

        let outcome = assess(&tenant, &PlannedUser::default());

        assert_eq!(
            outcome.describe(),
            "MFA: no policy requires it for this user — consider security defaults"
        );
    }

    #[test]
    fn p1_is_read_from_service_plans_unless_disabled() {
        assert!(has_entra_p1([
            ("EXCHANGE_S_STANDARD", Some("Success")),
            ("AAD_PREMIUM", Some("Success"))
        ]));
        assert!(has_entra_p1([("AAD_PREMIUM_P2", None)]));
        assert!(!has_entra_p1([("AAD_PREMIUM", Some("Disabled"))]));
        assert!(!has_entra_p1([("INTUNE_A", Some("Success"))]));
    }

    #[test]
    fn a_tap_needs_an_enabled_policy_that_targets_the_user() {
        let everyone = TapPolicy {
            enabled: true,
            include_targets: strings(&["all_users"]),
            exclude_targets: Vec::new(),
        };
        let one_group = TapPolicy {
            enabled: true,
            include_targets: strings(&["g-tap"]),
            exclude_targets: Vec::new(),
        };
        let off = TapPolicy {
            enabled: false,
            ..everyone.clone()
        };
        let excluding = TapPolicy {
            exclude_targets: strings(&["g-no-tap"]),
            ..everyone.clone()
        };

        assert_eq!(tap_unavailable(&everyone, &[]), None);
        assert_eq!(tap_unavailable(&one_group, &strings(&["g-tap"])), None);
        assert!(tap_unavailable(&one_group, &[]).is_some_and(|w| w.contains("does not target")));
        assert!(tap_unavailable(&off, &[]).is_some_and(|w| w.contains("disabled")));
        assert!(
            tap_unavailable(&excluding, &strings(&["g-no-tap"]))
                .is_some_and(|w| w.contains("excludes"))
        );
    }
}
