//! Small validated value types shared by requests and variables: e-mail addresses,
//! country codes, bounded numbers, time zones, and the `named_enum!` helper.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use jiff::tz::{TimeZone, TimeZoneDatabase};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a C-like enum whose values have one canonical lowercase name and some
/// accepted aliases, with `FromStr`, `Display`, serde as the canonical name, and `ALL`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $variant:ident = $canonical:literal $(| $alias:literal)*
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[doc = $doc])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The canonical name, as written in configuration and JSON.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $canonical,)+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                let wanted = $crate::values::normalize_name(s);
                $(
                    if wanted == $canonical $(|| wanted == $alias)* {
                        return Ok(Self::$variant);
                    }
                )+
                Err(format!(
                    "expected one of {}",
                    [$(concat!("`", $canonical, "`")),+].join(", ")
                ))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

/// Lowercases and trims a configured name, and reads spaces and hyphens as underscores,
/// so `Pause Workflow`, `pause-workflow` and `pause_workflow` are one value.
pub(crate) fn normalize_name(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

/// An e-mail address (or a UPN, which has the same shape): `local@domain.tld`, no spaces.
///
/// Deliberately not RFC 5322: it refuses what a mail system or Entra ID would refuse,
/// and keeps the address as given except for surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit('@').next().unwrap_or_default()
    }
}

impl FromStr for EmailAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("is empty".into());
        }
        if s.len() > 254 {
            return Err("is longer than 254 characters".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("`{s}` contains whitespace"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(format!("`{s}` has no `@`"));
        };
        if local.is_empty() || local.contains('@') {
            return Err(format!("`{s}` is not one e-mail address"));
        }
        if local.len() > 64 {
            return Err(format!("`{s}` has a local part longer than 64 characters"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || l.contains(['<', '>', ',', ';', '(', ')', '[', ']', '"'])
            })
        {
            return Err(format!("`{s}` has no valid domain"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case (`US`, `DE`), as Graph's `usageLocation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Invariant: both bytes are ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }

    /// The phone-number metadata region for this country, when one exists.
    pub fn phone_region(&self) -> Option<phonenumber::country::Id> {
        self.as_str().parse().ok()
    }
}

impl FromStr for CountryCode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(format!(
                "`{}` is not a two-letter iso 3166 country code",
                s.trim()
            ));
        }
        let code = Self([bytes[0], bytes[1]]);
        // The phone metadata knows every assigned ISO 3166 code; refuse the unassigned ones.
        if code.phone_region().is_none() {
            return Err(format!(
                "`{upper}` is not an assigned iso 3166 country code"
            ));
        }
        Ok(code)
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An integer known to lie in `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Bounded<const MIN: u32, const MAX: u32>(u32);

impl<const MIN: u32, const MAX: u32> Bounded<MIN, MAX> {
    /// The value, or an error saying the range.
    pub fn new(value: u32) -> Result<Self, String> {
        if (MIN..=MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(format!("{value} is outside {MIN}..={MAX}"))
        }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The IANA time zone database compiled into the crate, so looking a zone up reads no file.
static TZDB: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

/// An IANA time zone (`Europe/Berlin`), with its rules from the bundled database.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeZoneName {
    name: String,
    zone: TimeZone,
}

impl TimeZoneName {
    /// UTC.
    pub fn utc() -> Self {
        Self {
            name: "UTC".into(),
            zone: TimeZone::UTC,
        }
    }

    /// The IANA name as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's rules.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }
}

impl FromStr for TimeZoneName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let name = s.trim();
        if name.is_empty() {
            return Err("is empty".into());
        }
        let zone = TZDB
            .get(name)
            .map_err(|_| format!("`{name}` is not an iana time zone name"))?;
        Ok(Self {
            name: name.to_owned(),
            zone,
        })
    }
}

impl Serialize for TimeZoneName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_need_one_at_and_a_dotted_domain() {
        assert!("ana@contoso.com".parse::<EmailAddress>().is_ok());
        assert!(
            " ana.b+x@sub.contoso.co.uk "
                .parse::<EmailAddress>()
                .is_ok()
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@contoso.com",
            "ana@contoso",
            "a na@contoso.com",
            "ana@-x.com",
            "ana@contoso..com",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn country_codes_are_assigned_iso_codes() {
        assert_eq!(
            "de".parse::<CountryCode>().map(|c| c.to_string()),
            Ok("DE".into())
        );
        assert!("XX".parse::<CountryCode>().is_err());
        assert!("USA".parse::<CountryCode>().is_err());
        assert!("1A".parse::<CountryCode>().is_err());
    }

    #[test]
    fn time_zones_come_from_the_bundled_database() {
        let berlin: TimeZoneName = "Europe/Berlin".parse().expect("known zone");
        assert_eq!(berlin.name(), "Europe/Berlin");
        assert!("Mars/Olympus_Mons".parse::<TimeZoneName>().is_err());
    }

    #[test]
    fn bounded_numbers_refuse_values_outside_their_range() {
        assert!(Bounded::<8, 256>::new(8).is_ok());
        assert!(Bounded::<8, 256>::new(7).is_err());
        assert!(Bounded::<8, 256>::new(257).is_err());
    }
}
