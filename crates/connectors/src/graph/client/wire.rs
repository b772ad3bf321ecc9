//! Graph's JSON shapes read into and written from the port's types.

use serde_json::{Map, Value, json};

use onboard_domain::mfa::{ConditionalAccessPolicy, PolicyState, TapPolicy, UserConditions};

use super::super::{AuthenticationMethod, Profile, SERVICE, mask_email, mask_phone};
use crate::error::Error;

pub(super) fn profile_into(profile: &Profile, body: &mut Map<String, Value>) {
    let strings = [
        ("givenName", &profile.given_name),
        ("surname", &profile.surname),
        ("jobTitle", &profile.job_title),
        ("department", &profile.department),
        ("officeLocation", &profile.office_location),
        ("mobilePhone", &profile.mobile_phone),
        ("employeeId", &profile.employee_id),
        ("companyName", &profile.company_name),
    ];
    for (name, value) in strings {
        if let Some(value) = value {
            body.insert(name.into(), json!(value));
        }
    }
    if let Some(phones) = &profile.business_phones {
        body.insert("businessPhones".into(), json!(phones));
    }
}

/// The ids of a string array at `key` of `raw` (missing: none).
pub(super) fn ids(raw: &Value, key: &str) -> Vec<String> {
    raw.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A `conditionalAccessPolicy` as MFA readiness reads it (fact sheet §14).
pub(super) fn conditional_access_policy(raw: &Value) -> Result<ConditionalAccessPolicy, Error> {
    let text = |key: &str| raw.get(key).and_then(Value::as_str);
    let state = text("state").ok_or_else(|| Error::Protocol {
        service: SERVICE,
        detail: "conditional access policy without a state".into(),
    })?;
    let grant = raw.get("grantControls").unwrap_or(&Value::Null);
    let requires_mfa = ids(grant, "builtInControls")
        .iter()
        .any(|c| c.eq_ignore_ascii_case("mfa"))
        || grant
            .pointer("/authenticationStrength/requirementsSatisfied")
            .and_then(Value::as_str)
            .is_some_and(|r| r.split(',').any(|r| r.trim().eq_ignore_ascii_case("mfa")));
    let users = raw.pointer("/conditions/users").unwrap_or(&Value::Null);
    Ok(ConditionalAccessPolicy {
        display_name: text("displayName")
            .or_else(|| text("id"))
            .unwrap_or("(unnamed)")
            .to_owned(),
        state: PolicyState::from_graph(state),
        requires_mfa,
        users: UserConditions {
            include_users: ids(users, "includeUsers"),
            exclude_users: ids(users, "excludeUsers"),
            include_groups: ids(users, "includeGroups"),
            exclude_groups: ids(users, "excludeGroups"),
            include_roles: ids(users, "includeRoles"),
            exclude_roles: ids(users, "excludeRoles"),
        },
    })
}

/// A `temporaryAccessPassAuthenticationMethodConfiguration`: its state and targets.
pub(super) fn tap_policy(raw: &Value) -> TapPolicy {
    let targets = |key: &str| -> Vec<String> {
        raw.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.get("id").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    TapPolicy {
        enabled: raw.get("state").and_then(Value::as_str) == Some("enabled"),
        include_targets: targets("includeTargets"),
        exclude_targets: targets("excludeTargets"),
    }
}

/// An authentication method as Graph lists it, masked on the way in: the phone
/// number and e-mail address are read here and never leave in full.
pub(super) fn authentication_method(raw: &Value) -> Result<AuthenticationMethod, Error> {
    let text = |name: &str| raw.get(name).and_then(Value::as_str).map(str::to_owned);
    let odata = text("@odata.type").ok_or_else(|| Error::Protocol {
        service: SERVICE,
        detail: "authentication method without @odata.type".into(),
    })?;
    let kind = odata
        .trim_start_matches("#microsoft.graph.")
        .trim_end_matches("AuthenticationMethod")
        .to_owned();
    let id = text("id").ok_or_else(|| Error::Protocol {
        service: SERVICE,
        detail: format!("{kind} authentication method without an id"),
    })?;
    let detail = match kind.as_str() {
        "phone" => text("phoneNumber").map(|n| mask_phone(&n)),
        "email" => text("emailAddress").map(|a| mask_email(&a)),
        _ => text("displayName"),
    };
    Ok(AuthenticationMethod {
        id,
        phone_type: if kind == "phone" {
            text("phoneType")
        } else {
            None
        },
        kind,
        detail,
    })
}
