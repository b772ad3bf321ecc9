//! How a variable's value is read: [`VariableValue`] for every type a variable
//! can have, from the raw JSON a layer holds.

use std::collections::BTreeMap;
use std::str::FromStr;

use jiff::civil::Time;
use serde::Serialize;
use serde_json::Value as Json;
#[cfg(test)]
use serde_json::json;
use url::Url;

use super::choices::{
    CredentialDelivery, IdentityProvider, MfaReadiness, PasswordSaveLocation, PhoneFormat, Psa,
    ScheduleFlag, SendCredentialsTo,
};
use crate::license::{Distributor, LicenseAssignmentMethod, LicenseGroups, SkuPartNumber};
use crate::password::PasswordStyle;
use crate::reply::ReplyTemplate;
use crate::username::{CollisionStrategy, UmlautStyle, UsernameFormat};
use crate::values::{Bounded, CountryCode, EmailAddress, TimeZoneName};

/// A type a variable can have: parsed from a raw JSON value.
pub(crate) trait VariableValue: Sized + Serialize {
    /// The type in words, for documentation and error messages.
    fn kind() -> String;
    /// Parses a raw value, or says (lowercase) why not.
    fn from_json(raw: &Json) -> Result<Self, String>;
    /// Two different valid raw values and what each must resolve to (as JSON).
    #[cfg(test)]
    fn samples() -> [(Json, Json); 2];
    /// A raw value that must be refused.
    #[cfg(test)]
    fn bad_sample() -> Json;
}

/// A scalar JSON value as text: strings as they are, numbers and booleans printed.
pub(super) fn scalar_text(raw: &Json) -> Result<String, String> {
    match raw {
        Json::String(s) => Ok(s.trim().to_owned()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        Json::Null => Err("is empty".into()),
        Json::Array(_) => Err("is a list, expected a single value".into()),
        Json::Object(_) => Err("is an object, expected a single value".into()),
    }
}

impl VariableValue for bool {
    fn kind() -> String {
        "flag (0 or 1)".into()
    }

    fn from_json(raw: &Json) -> Result<Self, String> {
        match raw {
            Json::Bool(b) => Ok(*b),
            _ => match scalar_text(raw)?.to_lowercase().as_str() {
                "1" | "true" | "yes" | "on" | "enabled" => Ok(true),
                "0" | "false" | "no" | "off" | "disabled" => Ok(false),
                _ => Err("expected 0 or 1 (or true/false)".into()),
            },
        }
    }

    #[cfg(test)]
    fn samples() -> [(Json, Json); 2] {
        [(json!("1"), json!(true)), (json!(0), json!(false))]
    }

    #[cfg(test)]
    fn bad_sample() -> Json {
        json!("maybe")
    }
}

impl VariableValue for String {
    fn kind() -> String {
        "text".into()
    }

    fn from_json(raw: &Json) -> Result<Self, String> {
        let text = scalar_text(raw)?;
        if text.is_empty() {
            return Err("is empty".into());
        }
        if text.chars().any(char::is_control) {
            return Err("contains control characters".into());
        }
        Ok(text)
    }

    #[cfg(test)]
    fn samples() -> [(Json, Json); 2] {
        [
            (json!(" Service Board "), json!("Service Board")),
            (json!(42), json!("42")),
        ]
    }

    #[cfg(test)]
    fn bad_sample() -> Json {
        json!({"board": 1})
    }
}

/// `null` or a blank string clears an optional variable; anything else must parse.
impl<T: VariableValue> VariableValue for Option<T> {
    fn kind() -> String {
        format!("optional {}", T::kind())
    }

    fn from_json(raw: &Json) -> Result<Self, String> {
        match raw {
            Json::Null => Ok(None),
            Json::String(s) if s.trim().is_empty() => Ok(None),
            _ => T::from_json(raw).map(Some),
        }
    }

    #[cfg(test)]
    fn samples() -> [(Json, Json); 2] {
        let [first, _] = T::samples();
        [first, (Json::Null, Json::Null)]
    }

    #[cfg(test)]
    fn bad_sample() -> Json {
        T::bad_sample()
    }
}

/// A list is a JSON array, or a string separated by commas, semicolons or new lines.
impl<T: VariableValue> VariableValue for Vec<T> {
    fn kind() -> String {
        format!("list of {}", T::kind())
    }

    fn from_json(raw: &Json) -> Result<Self, String> {
        let items: Vec<Json> = match raw {
            Json::Null => Vec::new(),
            Json::Array(items) => items.clone(),
            Json::String(s) => s
                .split([',', ';', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Json::String(s.to_owned()))
                .collect(),
            Json::Number(_) | Json::Bool(_) => vec![raw.clone()],
            Json::Object(_) => return Err("is an object, expected a list".into()),
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_json(item).map_err(|e| format!("item {}: {e}", i + 1)))
            .collect()
    }

    #[cfg(test)]
    fn samples() -> [(Json, Json); 2] {
        let [(raw_a, want_a), (raw_b, want_b)] = T::samples();
        [
            (json!([raw_a, raw_b]), json!([want_a, want_b])),
            (Json::Null, json!([])),
        ]
    }

    #[cfg(test)]
    fn bad_sample() -> Json {
        json!([T::bad_sample()])
    }
}

impl<const MIN: u32, const MAX: u32> VariableValue for Bounded<MIN, MAX> {
    fn kind() -> String {
        format!("integer {MIN}..={MAX}")
    }

    fn from_json(raw: &Json) -> Result<Self, String> {
        let text = scalar_text(raw)?;
        let n: u32 = text
            .parse()
            .map_err(|_| format!("expected a whole number {MIN}..={MAX}"))?;
        Self::new(n)
    }

    #[cfg(test)]
    fn samples() -> [(Json, Json); 2] {
        [
            (json!(MIN.to_string()), json!(MIN)),
            (json!(MAX), json!(MAX)),
        ]
    }

    #[cfg(test)]
    fn bad_sample() -> Json {
        json!(u64::from(MAX) + 1)
    }
}

impl VariableValue for Time {
    fn kind() -> String {
        "time of day (HH:MM)".into()
    }

    fn from_json(raw: &Json) -> Result<Self, String> {
        let text = scalar_text(raw)?;
        text.parse()
            .map_err(|_| format!("`{text}` is not a time of day like 09:00"))
    }

    #[cfg(test)]
    fn samples() -> [(Json, Json); 2] {
        // Between the default start (09:00) and end (17:00), so either variable accepts them.
        [
            (json!("10:30"), json!("10:30:00")),
            (json!("12:00:00"), json!("12:00:00")),
        ]
    }

    #[cfg(test)]
    fn bad_sample() -> Json {
        json!("25:00")
    }
}

impl VariableValue for Url {
    fn kind() -> String {
        "http(s) url".into()
    }

    fn from_json(raw: &Json) -> Result<Self, String> {
        let text = scalar_text(raw)?;
        let url = Url::parse(&text).map_err(|e| format!("`{text}` is not a url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{text}` is not an http or https url"));
        }
        Ok(url)
    }

    #[cfg(test)]
    fn samples() -> [(Json, Json); 2] {
        [
            (
                json!("https://pwpush.example.com"),
                json!("https://pwpush.example.com/"),
            ),
            (
                json!("http://10.0.0.5:5100/p"),
                json!("http://10.0.0.5:5100/p"),
            ),
        ]
    }

    #[cfg(test)]
    fn bad_sample() -> Json {
        json!("ftp://pwpush.example.com")
    }
}

/// Implements [`VariableValue`] through `FromStr` for scalar types.
macro_rules! from_str_variable {
    ($($ty:ty => $kind:literal, [$a:expr => $wa:expr, $b:expr => $wb:expr], $bad:expr;)+) => {$(
        impl VariableValue for $ty {
            fn kind() -> String {
                $kind.into()
            }

            fn from_json(raw: &Json) -> Result<Self, String> {
                <$ty as FromStr>::from_str(&scalar_text(raw)?)
            }

            #[cfg(test)]
            fn samples() -> [(Json, Json); 2] {
                [(json!($a), json!($wa)), (json!($b), json!($wb))]
            }

            #[cfg(test)]
            fn bad_sample() -> Json {
                json!($bad)
            }
        }
    )+};
}

from_str_variable! {
    EmailAddress => "email", ["approver@contoso.com" => "approver@contoso.com", " hr@fabrikam.org " => "hr@fabrikam.org"], "not an address";
    CountryCode => "iso 3166 country code", ["de" => "DE", "GB" => "GB"], "Germany";
    TimeZoneName => "iana time zone", ["Europe/Berlin" => "Europe/Berlin", "America/New_York" => "America/New_York"], "Mars/Olympus_Mons";
    Psa => "psa", ["ConnectWise Manage" => "connectwise", "halo" => "halopsa"], "excel";
    IdentityProvider => "identity provider", ["on_prem" => "on_prem", "Secure Cloud" => "secure_cloud"], "ldap";
    PhoneFormat => "phone format", ["international" => "international", "NATIONAL" => "national"], "morse";
    Distributor => "distributor", ["Pax8" => "pax8", "Arrow" => "arrow"], "corner shop";
    PasswordSaveLocation => "password save location", ["IT Glue" => "itglue", "hudu" => "hudu"], "post-it";
    CredentialDelivery => "credential delivery", ["TAP" => "temporary_access_pass", "password" => "password"], "carrier pigeon";
    MfaReadiness => "mfa readiness", ["Require" => "require", "ignore" => "ignore"], "maybe";
    SendCredentialsTo => "credential recipient channel", ["sms" => "sms", "both" => "both"], "fax";
    ScheduleFlag => "flag (0 or 1) or start-date action", ["pause_workflow" => true, "0" => false], "sometimes";
    UsernameFormat => "username format", ["first.last" => "firstname.lastname", "firstnamelastinitial" => "firstnamelastinitial"], "lastname.firstname.initials";
    UmlautStyle => "umlaut style", ["ae" => "german", "A" => "simple"], "klingon";
    CollisionStrategy => "username collision strategy", ["number" => "number", "fail" => "fail"], "random";
    PasswordStyle => "password style", ["1" => "passphrase", "random" => "random"], "emoji";
    LicenseAssignmentMethod => "license assignment method", ["group" => "group", "Direct" => "direct"], "osmosis";
    ReplyTemplate => "reply text with {user_name}, {organization}, {manager_name}, {manager_email}", ["Gone; ask {manager_name}." => "Gone; ask {manager_name}.", " Left {organization}. " => "Left {organization}."], "Ask {boss}.";
}

impl VariableValue for LicenseGroups {
    fn kind() -> String {
        "map of sku to group".into()
    }

    fn from_json(raw: &Json) -> Result<Self, String> {
        let pairs: Vec<(String, Json)> = match raw {
            Json::Null => Vec::new(),
            Json::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Json::String(s) => s
                .split([';', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|pair| {
                    pair.split_once('=')
                        .map(|(k, v)| (k.trim().to_owned(), Json::String(v.trim().to_owned())))
                        .ok_or_else(|| format!("`{pair}` is not SKU=group"))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("expected an object of sku to group name".into()),
        };
        let mut groups = BTreeMap::new();
        for (sku, group) in pairs {
            let sku: SkuPartNumber = sku.parse()?;
            let group = String::from_json(&group).map_err(|e| format!("group for {sku} {e}"))?;
            groups.insert(sku, group);
        }
        Ok(Self(groups))
    }

    #[cfg(test)]
    fn samples() -> [(Json, Json); 2] {
        [
            (
                json!("spb = License - Business Premium; O365_BUSINESS_ESSENTIALS=Basic"),
                json!({"O365_BUSINESS_ESSENTIALS": "Basic", "SPB": "License - Business Premium"}),
            ),
            (
                json!({"ENTERPRISEPACK": "E3 users"}),
                json!({"ENTERPRISEPACK": "E3 users"}),
            ),
        ]
    }

    #[cfg(test)]
    fn bad_sample() -> Json {
        json!("SPB")
    }
}
