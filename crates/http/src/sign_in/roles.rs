//! What a signed-in person may do in the console: four roles, given by the
//! app roles or groups in their ID token through a mapping in configuration.
//!
//! - `viewer`: the dashboards and run pages. Any other role includes it.
//! - `technician`: submit onboardings and offboardings, resend, cancel.
//! - `approver`: decide pending approvals in the console.
//! - `admin`: organizations and settings, and everything else.
//!
//! Technician and approver are kept apart: an MSP may want the person who asks
//! for an account not to be the one who approves it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::oidc::SignedIn;

/// A console role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees the dashboards and run pages.
    Viewer,
    /// Submits, resends and cancels runs.
    Technician,
    /// Decides pending approvals.
    Approver,
    /// Changes organizations and settings; may do everything.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Technician, Role::Approver, Role::Admin];

    /// The name used in configuration and on pages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Technician => "technician",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// The Entra app role value the default mapping reads (`Onboard.Technician`).
    pub const fn default_app_role(self) -> &'static str {
        match self {
            Role::Viewer => "Onboard.Viewer",
            Role::Technician => "Onboard.Technician",
            Role::Approver => "Onboard.Approver",
            Role::Admin => "Onboard.Admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                format!("`{s}` is not a role: use viewer, technician, approver or admin")
            })
    }
}

/// Which claim values give which role: app role values (`roles`) and group
/// object ids (`groups`), compared without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMap {
    by_role: BTreeMap<Role, Vec<String>>,
}

impl Default for RoleMap {
    /// Each role from its app role value (`Onboard.Viewer`, ...), as the
    /// README's app registration declares them.
    fn default() -> Self {
        Self {
            by_role: Role::ALL
                .into_iter()
                .map(|r| (r, vec![r.default_app_role().to_owned()]))
                .collect(),
        }
    }
}

impl RoleMap {
    /// A mapping from configuration: role name to the claim values that give
    /// it. A role left out is given by nothing. Refuses an unknown role name
    /// and an empty value, naming them.
    pub fn from_config(config: &BTreeMap<String, Vec<String>>) -> Result<Self, String> {
        let mut by_role = BTreeMap::new();
        for (name, values) in config {
            let role: Role = name.parse()?;
            if let Some(blank) = values.iter().position(|v| v.trim().is_empty()) {
                return Err(format!(
                    "role {role}: value {} is empty; give an app role value or a group object id",
                    blank + 1
                ));
            }
            by_role.insert(role, values.iter().map(|v| v.trim().to_owned()).collect());
        }
        Ok(Self { by_role })
    }

    /// The roles `person`'s app roles and groups give.
    pub fn roles_of(&self, person: &SignedIn) -> Roles {
        let claims: Vec<&str> = person
            .roles
            .iter()
            .chain(&person.groups)
            .map(String::as_str)
            .collect();
        Roles(
            self.by_role
                .iter()
                .filter(|(_, values)| {
                    values
                        .iter()
                        .any(|v| claims.iter().any(|c| c.eq_ignore_ascii_case(v)))
                })
                .map(|(role, _)| *role)
                .collect(),
        )
    }
}

/// The roles one person holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    /// Whether these roles may do what needs `needed`: `admin` may do
    /// everything, any role may view, the others need themselves.
    pub fn allows(&self, needed: Role) -> bool {
        self.0.contains(&Role::Admin)
            || self.0.contains(&needed)
            || (needed == Role::Viewer && !self.0.is_empty())
    }

    /// Whether the person holds no role at all (signed in, but not an Onboard user).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The roles, least first.
    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(roles: &[&str], groups: &[&str]) -> SignedIn {
        SignedIn {
            name: "Tom".into(),
            user_principal_name: "tom@northwind-it.example".into(),
            object_id: "oid".into(),
            tenant_id: "tid".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    #[test]
    fn the_default_mapping_reads_the_onboard_app_roles() {
        let map = RoleMap::default();
        let roles = map.roles_of(&person(&["onboard.technician"], &[]));
        assert_eq!(roles.iter().collect::<Vec<_>>(), [Role::Technician]);
        assert!(roles.allows(Role::Technician) && roles.allows(Role::Viewer));
        assert!(!roles.allows(Role::Approver) && !roles.allows(Role::Admin));
        assert!(map.roles_of(&person(&["Directory.Reader"], &[])).is_empty());
    }

    #[test]
    fn admin_may_do_everything_and_nobody_without_a_role_may_do_anything() {
        let admin = RoleMap::default().roles_of(&person(&["Onboard.Admin"], &[]));
        assert!(Role::ALL.into_iter().all(|r| admin.allows(r)));
        let nobody = Roles::default();
        assert!(Role::ALL.into_iter().all(|r| !nobody.allows(r)));
        let approver = RoleMap::default().roles_of(&person(&["Onboard.Approver"], &[]));
        assert!(approver.allows(Role::Approver) && !approver.allows(Role::Technician));
    }

    #[test]
    fn a_configured_mapping_gives_roles_by_group_and_leaves_out_what_it_does_not_name() {
        let group = "2f6c1c0e-6a39-4d35-a0c4-9b8a7f1e2d3c";
        let config = BTreeMap::from([
            ("approver".to_owned(), vec![group.to_owned()]),
            ("technician".to_owned(), vec!["Helpdesk".to_owned()]),
        ]);
        let map = RoleMap::from_config(&config).unwrap();
        let roles = map.roles_of(&person(&["Onboard.Admin", "helpdesk"], &[group]));
        assert_eq!(
            roles.iter().collect::<Vec<_>>(),
            [Role::Technician, Role::Approver]
        );
        assert!(
            !roles.allows(Role::Admin),
            "admin is not mapped, so the app role gives nothing"
        );
    }

    #[test]
    fn a_bad_mapping_is_refused_by_name() {
        let unknown = BTreeMap::from([("superuser".to_owned(), vec!["x".to_owned()])]);
        let err = RoleMap::from_config(&unknown).unwrap_err();
        assert!(
            err.contains("superuser") && err.contains("viewer, technician"),
            "{err}"
        );
        let blank = BTreeMap::from([("viewer".to_owned(), vec!["a".to_owned(), " ".to_owned()])]);
        let err = RoleMap::from_config(&blank).unwrap_err();
        assert!(err.contains("role viewer: value 2 is empty"), "{err}");
    }
}
