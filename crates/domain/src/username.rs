//! Usernames: from a person's name to a UPN local part, `mailNickname` and
//! `sAMAccountName`, with transliteration, length limits and collision resolution.
//!
//! Only Latin, Greek and Cyrillic letters are transliterated: their romanisation is
//! well established. Other scripts (CJK, Hangul, Arabic, ...) and emoji are left out
//! rather than guessed at, so a name made only of them asks for an explicit `username`.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::DomainError;

/// Longest UPN local part Entra ID accepts.
pub const MAX_UPN_LOCAL_PART: usize = 64;
/// Longest `mailNickname` Entra ID accepts.
pub const MAX_MAIL_NICKNAME: usize = 64;
/// Longest `sAMAccountName` Active Directory accepts.
pub const MAX_SAM_ACCOUNT_NAME: usize = 20;
/// Highest number appended to resolve a collision.
const MAX_NUMBER: u32 = 999;

/// A person's name, kept in Unicode for display (usernames are derived from it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    /// Given name (may be empty for a single name).
    pub first: String,
    /// Middle name(s), when known.
    pub middle: Option<String>,
    /// Surname (for a single name, the whole name).
    pub last: String,
}

impl PersonName {
    /// `First Last` (or the one part there is).
    pub fn full(&self) -> String {
        [self.first.trim(), self.last.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

named_enum! {
    /// How a username is built from a name (examples for John Michael Doe).
    pub enum UsernameFormat {
        /// `jdoe` (the default).
        FirstInitialLastName = "firstinitiallastname" | "flast" | "first_initial_last_name",
        /// `johndoe`.
        FirstNameLastName = "firstnamelastname" | "firstlast" | "first_name_last_name",
        /// `johnd`.
        FirstNameLastInitial = "firstnamelastinitial" | "firstl" | "first_name_last_initial",
        /// `john.doe`.
        FirstNameDotLastName = "firstname.lastname" | "first.last",
        /// `doej`.
        LastNameFirstInitial = "lastnamefirstinitial" | "lastf" | "last_name_first_initial",
        /// `john`.
        FirstName = "firstname" | "first" | "first_name",
        /// `jmdoe`.
        FirstInitialMiddleInitialLastName = "firstinitialmiddleinitiallastname" | "fmlast",
        /// `johnmdoe`.
        FirstNameMiddleInitialLastName = "firstnamemiddleinitiallastname" | "firstmlast",
        /// `john.m.doe`.
        FirstNameDotMiddleInitialDotLastName = "firstname.middleinitial.lastname" | "first.m.last",
    }
}

named_enum! {
    /// How German umlauts become ASCII.
    pub enum UmlautStyle {
        /// ä, ö, ü -> a, o, u (right for Finnish, Turkish, Estonian... and the default).
        Simple = "simple" | "a" | "aou",
        /// ä, ö, ü -> ae, oe, ue (the German convention).
        German = "german" | "ae" | "aeoeue",
    }
}

named_enum! {
    /// What to do when the username of the format is taken.
    pub enum CollisionStrategy {
        /// Add the middle initial when known, then a number: `jdoe`, `jmdoe`, `jdoe2`, `jdoe3`...
        MiddleInitialThenNumber = "middle_initial_then_number" | "default",
        /// Add a number: `jdoe`, `jdoe2`, `jdoe3`...
        Number = "number",
        /// Stop and ask a technician for an explicit username.
        Fail = "fail",
    }
}

/// The username rules of an organization (see [`crate::variables::Variables::username_rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsernameRules {
    /// The format.
    pub format: UsernameFormat,
    /// How umlauts are written.
    pub umlauts: UmlautStyle,
    /// What to do on a collision.
    pub collisions: CollisionStrategy,
}

impl Default for UsernameRules {
    fn default() -> Self {
        Self {
            format: UsernameFormat::FirstInitialLastName,
            umlauts: UmlautStyle::Simple,
            collisions: CollisionStrategy::MiddleInitialThenNumber,
        }
    }
}

/// A valid UPN local part and `mailNickname`: lowercase ASCII letters, digits, `.`, `-`,
/// `_`; no leading, trailing or doubled dot; 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Checks and lowercases an explicit username.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let lower = text.trim().to_ascii_lowercase();
        let refuse = |reason: &str| DomainError::InvalidUsername {
            username: text.to_owned(),
            reason: reason.to_owned(),
        };
        if lower.is_empty() {
            return Err(refuse("is empty"));
        }
        if lower.contains('@') {
            return Err(refuse("give only the part before the `@`"));
        }
        if lower.len() > MAX_UPN_LOCAL_PART {
            return Err(refuse("is longer than 64 characters"));
        }
        if let Some(c) = lower.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        }) {
            return Err(refuse(&format!(
                "`{c}` is not allowed; use letters a-z, digits, `.`, `-` or `_`"
            )));
        }
        if lower.starts_with('.') || lower.ends_with('.') || lower.contains("..") {
            return Err(refuse(
                "may not start or end with a dot or have two dots in a row",
            ));
        }
        Ok(Self(lower))
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user principal name in `domain`: `username@domain`.
    pub fn user_principal_name(&self, domain: &str) -> String {
        format!("{}@{}", self.0, domain.trim().trim_start_matches('@'))
    }

    /// The `mailNickname`: the same text (both limits are 64).
    pub fn mail_nickname(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why the chosen username is what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UsernameReason {
    /// The format's username was free.
    Format {
        /// The format used.
        format: UsernameFormat,
    },
    /// The request named the username.
    Explicit,
    /// The format's username was taken, so the middle initial was added.
    MiddleInitialAfterCollision {
        /// The taken username.
        taken: String,
    },
    /// The format's username (and the middle-initial one, if tried) was taken, so a number was added.
    NumberAfterCollision {
        /// The taken usernames, in the order tried.
        taken: Vec<String>,
        /// The number appended.
        number: u32,
    },
}

impl fmt::Display for UsernameReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format { format } => write!(f, "built with the {format} format"),
            Self::Explicit => f.write_str("given in the request"),
            Self::MiddleInitialAfterCollision { taken } => {
                write!(f, "{taken} was taken, so the middle initial was added")
            }
            Self::NumberAfterCollision { taken, number } => {
                write!(f, "{} taken, so {number} was appended", list_taken(taken))
            }
        }
    }
}

fn list_taken(taken: &[String]) -> String {
    match taken {
        [one] => format!("{one} was"),
        many => format!("{} were", many.join(" and ")),
    }
}

/// The chosen username and what goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsernameChoice {
    /// The UPN local part and `mailNickname`.
    pub username: Username,
    /// The `sAMAccountName` (at most 20 characters; carries the same number on a collision).
    pub sam_account_name: String,
    /// Why this one.
    pub reason: UsernameReason,
    /// Whether a name was cut to respect a length limit.
    pub truncated: bool,
}

/// The part of a name as lowercase ASCII letters, ready for a username.
fn ascii_part(part: &str, umlauts: UmlautStyle) -> String {
    let mut out = String::new();
    for c in part.chars() {
        if c.is_ascii_alphabetic() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        if !is_transliterated_letter(c) {
            // Apostrophes, hyphens, spaces, digits, combining accents, other scripts, emoji.
            continue;
        }
        if let Some(ascii) = own_transliteration(c, umlauts) {
            out.push_str(ascii);
            continue;
        }
        if let Some(ascii) = deunicode::deunicode_char(c) {
            out.extend(
                ascii
                    .chars()
                    .filter(char::is_ascii_alphabetic)
                    .map(|c| c.to_ascii_lowercase()),
            );
        }
    }
    out
}

/// Where the usual romanisation differs from `deunicode`'s: German umlauts when asked,
/// and Serbian / Macedonian Cyrillic as their Latin alphabets write them (ћ is ć, so c).
fn own_transliteration(c: char, umlauts: UmlautStyle) -> Option<&'static str> {
    let german = umlauts == UmlautStyle::German;
    Some(match c {
        'ä' | 'Ä' if german => "ae",
        'ö' | 'Ö' if german => "oe",
        'ü' | 'Ü' if german => "ue",
        'ћ' | 'Ћ' => "c",
        'ђ' | 'Ђ' => "dj",
        'џ' | 'Џ' => "dz",
        'љ' | 'Љ' => "lj",
        'њ' | 'Њ' => "nj",
        'ј' | 'Ј' => "j",
        'ќ' | 'Ќ' => "k",
        'ѓ' | 'Ѓ' => "g",
        'ѕ' | 'Ѕ' => "dz",
        _ => return None,
    })
}

/// Letters of the Latin (beyond ASCII), Greek and Cyrillic scripts.
fn is_transliterated_letter(c: char) -> bool {
    if !c.is_alphabetic() {
        return false;
    }
    matches!(u32::from(c),
        0x00C0..=0x024F   // Latin-1 Supplement letters, Latin Extended-A and -B
        | 0x1E00..=0x1EFF // Latin Extended Additional (Vietnamese...)
        | 0x2C60..=0x2C7F // Latin Extended-C
        | 0xA720..=0xA7FF // Latin Extended-D
        | 0xAB30..=0xAB6F // Latin Extended-E
        | 0xFB00..=0xFB06 // Latin ligatures (ﬁ)
        | 0xFF21..=0xFF3A | 0xFF41..=0xFF5A // full-width Latin
        | 0x0370..=0x03FF | 0x1F00..=0x1FFF // Greek and Coptic, Greek Extended
        | 0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F // Cyrillic
    )
}

/// The name's parts in ASCII; errors when a part the format needs has nothing usable.
struct AsciiName {
    first: String,
    middle: String,
    last: String,
}

impl AsciiName {
    fn new(name: &PersonName, rules: &UsernameRules) -> Result<Self, DomainError> {
        let mut first = ascii_part(&name.first, rules.umlauts);
        let middle = name
            .middle
            .as_deref()
            .map(|m| ascii_part(m, rules.umlauts))
            .unwrap_or_default();
        let mut last = ascii_part(&name.last, rules.umlauts);
        // A single name given as the first name alone is treated as the surname, so
        // `Cher` gives `cher` in every format rather than `c`.
        if name.last.trim().is_empty() && !first.is_empty() {
            last = std::mem::take(&mut first);
            return Ok(Self {
                first,
                middle: String::new(),
                last,
            });
        }
        let needs_last = rules.format != UsernameFormat::FirstName || first.is_empty();
        if !name.first.trim().is_empty() && first.is_empty() {
            return Err(DomainError::NothingToTransliterate {
                part: "first_name",
                value: name.first.clone(),
            });
        }
        if needs_last && !name.last.trim().is_empty() && last.is_empty() {
            return Err(DomainError::NothingToTransliterate {
                part: "last_name",
                value: name.last.clone(),
            });
        }
        if first.is_empty() && last.is_empty() {
            return Err(DomainError::NothingToTransliterate {
                part: "last_name",
                value: name.last.clone(),
            });
        }
        Ok(Self {
            first,
            middle,
            last,
        })
    }

    /// The segments of `format`, empty ones left out, and the separator between them.
    fn segments(&self, format: UsernameFormat) -> (Vec<String>, &'static str) {
        use UsernameFormat as F;
        let initial = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        let (f, m, l) = (&self.first, &self.middle, &self.last);
        let (segments, sep) = match format {
            F::FirstInitialLastName => (vec![initial(f), l.clone()], ""),
            F::FirstNameLastName => (vec![f.clone(), l.clone()], ""),
            F::FirstNameLastInitial if f.is_empty() => (vec![l.clone()], ""),
            F::FirstNameLastInitial => (vec![f.clone(), initial(l)], ""),
            F::FirstNameDotLastName => (vec![f.clone(), l.clone()], "."),
            F::LastNameFirstInitial => (vec![l.clone(), initial(f)], ""),
            F::FirstName if f.is_empty() => (vec![l.clone()], ""),
            F::FirstName => (vec![f.clone()], ""),
            F::FirstInitialMiddleInitialLastName => (vec![initial(f), initial(m), l.clone()], ""),
            F::FirstNameMiddleInitialLastName => (vec![f.clone(), initial(m), l.clone()], ""),
            F::FirstNameDotMiddleInitialDotLastName => {
                (vec![f.clone(), initial(m), l.clone()], ".")
            }
        };
        (
            segments.into_iter().filter(|s| !s.is_empty()).collect(),
            sep,
        )
    }

    /// The same format with the middle initial, when the format has none and it is known.
    fn with_middle(&self, format: UsernameFormat) -> Option<(Vec<String>, &'static str)> {
        use UsernameFormat as F;
        let m = self.middle.chars().next()?.to_string();
        if self.first.is_empty() {
            return None;
        }
        let (mut segments, sep) = self.segments(format);
        match format {
            F::FirstInitialLastName | F::FirstNameLastName | F::FirstNameDotLastName => {
                segments.insert(1, m)
            }
            // johnd -> johnmd, doej -> doejm, john -> johnm
            F::FirstNameLastInitial | F::FirstName => segments.insert(1, m),
            F::LastNameFirstInitial => segments.push(m),
            F::FirstInitialMiddleInitialLastName
            | F::FirstNameMiddleInitialLastName
            | F::FirstNameDotMiddleInitialDotLastName => return None,
        }
        Some((segments, sep))
    }
}

/// Joins segments and cuts the result so that, with `suffix`, it fits `limit`;
/// the last segment is cut first (a long surname), never the separators' meaning.
fn fit(segments: &[String], sep: &str, suffix: &str, limit: usize) -> (String, bool) {
    let full = segments.join(sep);
    let room = limit.saturating_sub(suffix.len());
    if full.len() <= room {
        return (format!("{full}{suffix}"), false);
    }
    // ASCII only here, so byte and character counts agree.
    let cut = full[..room].trim_end_matches('.');
    (format!("{cut}{suffix}"), true)
}

/// One candidate: the username and its `sAMAccountName`, both with `suffix`.
fn candidate(segments: &[String], sep: &str, suffix: &str) -> (String, String, bool) {
    let (upn, cut_upn) = fit(segments, sep, suffix, MAX_UPN_LOCAL_PART);
    let (sam, _) = fit(segments, sep, suffix, MAX_SAM_ACCOUNT_NAME);
    (upn, sam, cut_upn)
}

/// Chooses the username of `name` under `rules`, given the usernames already `taken`
/// (compared without regard to case, against both the username and the `sAMAccountName`).
///
/// An `explicit` username is checked and used as is; if it is taken, that is an error:
/// a technician chose it, so another one is not silently substituted.
pub fn choose_username<I, S>(
    name: &PersonName,
    explicit: Option<&Username>,
    rules: &UsernameRules,
    taken: I,
) -> Result<UsernameChoice, DomainError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let taken: BTreeSet<String> = taken
        .into_iter()
        .map(|t| t.as_ref().trim().to_ascii_lowercase())
        .collect();
    let is_free = |upn: &str, sam: &str| !taken.contains(upn) && !taken.contains(sam);

    if let Some(username) = explicit {
        let (sam, _) = fit(
            std::slice::from_ref(&username.0),
            "",
            "",
            MAX_SAM_ACCOUNT_NAME,
        );
        if !is_free(&username.0, &sam) {
            return Err(DomainError::UsernameTaken {
                username: username.0.clone(),
                hint: "; choose another `username`".into(),
            });
        }
        return Ok(UsernameChoice {
            username: username.clone(),
            sam_account_name: sam,
            reason: UsernameReason::Explicit,
            truncated: false,
        });
    }

    let ascii = AsciiName::new(name, rules)?;
    let (segments, sep) = ascii.segments(rules.format);
    let (base, base_sam, base_cut) = candidate(&segments, sep, "");
    if is_free(&base, &base_sam) {
        return Ok(UsernameChoice {
            username: Username(base),
            sam_account_name: base_sam,
            reason: UsernameReason::Format {
                format: rules.format,
            },
            truncated: base_cut,
        });
    }

    let mut tried = vec![base.clone()];
    match rules.collisions {
        CollisionStrategy::Fail => {
            return Err(DomainError::UsernameTaken {
                username: base,
                hint: "; give an explicit `username` (username_collision_strategy is `fail`)"
                    .into(),
            });
        }
        CollisionStrategy::MiddleInitialThenNumber => {
            if let Some((segments, sep)) = ascii.with_middle(rules.format) {
                let (upn, sam, cut) = candidate(&segments, sep, "");
                if is_free(&upn, &sam) {
                    return Ok(UsernameChoice {
                        username: Username(upn),
                        sam_account_name: sam,
                        reason: UsernameReason::MiddleInitialAfterCollision { taken: base },
                        truncated: cut,
                    });
                }
                if upn != base {
                    tried.push(upn);
                }
            }
        }
        CollisionStrategy::Number => {}
    }

    for number in 2..=MAX_NUMBER {
        let (upn, sam, cut) = candidate(&segments, sep, &number.to_string());
        if is_free(&upn, &sam) {
            return Ok(UsernameChoice {
                username: Username(upn),
                sam_account_name: sam,
                reason: UsernameReason::NumberAfterCollision {
                    taken: tried,
                    number,
                },
                truncated: cut || base_cut,
            });
        }
    }
    Err(DomainError::UsernamesExhausted {
        base,
        tried: tried.len() + (MAX_NUMBER as usize - 1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(first: &str, middle: Option<&str>, last: &str) -> PersonName {
        PersonName {
            first: first.into(),
            middle: middle.map(Into::into),
            last: last.into(),
        }
    }

    fn choose(n: &PersonName, format: UsernameFormat, taken: &[&str]) -> UsernameChoice {
        let rules = UsernameRules {
            format,
            ..UsernameRules::default()
        };
        choose_username(n, None, &rules, taken).expect("a username")
    }

    #[test]
    fn a_free_username_follows_the_format() {
        let c = choose(
            &name("José", None, "Núñez"),
            UsernameFormat::FirstInitialLastName,
            &[],
        );
        assert_eq!(c.username.as_str(), "jnunez");
        assert_eq!(
            c.reason,
            UsernameReason::Format {
                format: UsernameFormat::FirstInitialLastName
            }
        );
    }

    #[test]
    fn a_collision_adds_the_middle_initial_first_then_numbers() {
        let n = name("John", Some("Michael"), "Doe");
        let c = choose(&n, UsernameFormat::FirstInitialLastName, &["JDoe"]);
        assert_eq!(c.username.as_str(), "jmdoe");
        assert_eq!(
            c.reason,
            UsernameReason::MiddleInitialAfterCollision {
                taken: "jdoe".into()
            }
        );

        let c = choose(
            &n,
            UsernameFormat::FirstInitialLastName,
            &["jdoe", "jmdoe", "jdoe2"],
        );
        assert_eq!(c.username.as_str(), "jdoe3");
        assert_eq!(
            c.reason,
            UsernameReason::NumberAfterCollision {
                taken: vec!["jdoe".into(), "jmdoe".into()],
                number: 3
            }
        );
        assert_eq!(
            c.reason.to_string(),
            "jdoe and jmdoe were taken, so 3 was appended"
        );
    }

    #[test]
    fn without_a_middle_name_a_collision_adds_a_number() {
        let c = choose(
            &name("John", None, "Doe"),
            UsernameFormat::FirstNameDotLastName,
            &["john.doe"],
        );
        assert_eq!(c.username.as_str(), "john.doe2");
    }

    #[test]
    fn the_middle_initial_goes_where_the_format_reads_naturally() {
        let n = name("John", Some("Michael"), "Doe");
        let cases = [
            (UsernameFormat::FirstNameLastName, "johndoe", "johnmdoe"),
            (
                UsernameFormat::FirstNameDotLastName,
                "john.doe",
                "john.m.doe",
            ),
            (UsernameFormat::FirstNameLastInitial, "johnd", "johnmd"),
            (UsernameFormat::LastNameFirstInitial, "doej", "doejm"),
            (UsernameFormat::FirstName, "john", "johnm"),
        ];
        for (format, base, expected) in cases {
            assert_eq!(
                choose(&n, format, &[base]).username.as_str(),
                expected,
                "{format}"
            );
        }
        // A format that already has the middle initial goes straight to numbers.
        assert_eq!(
            choose(
                &n,
                UsernameFormat::FirstInitialMiddleInitialLastName,
                &["jmdoe"]
            )
            .username
            .as_str(),
            "jmdoe2"
        );
    }

    #[test]
    fn the_number_strategy_skips_the_middle_initial() {
        let rules = UsernameRules {
            collisions: CollisionStrategy::Number,
            ..UsernameRules::default()
        };
        let c = choose_username(&name("John", Some("M"), "Doe"), None, &rules, ["jdoe"])
            .expect("a username");
        assert_eq!(c.username.as_str(), "jdoe2");
    }

    #[test]
    fn the_fail_strategy_asks_for_an_explicit_username() {
        let rules = UsernameRules {
            collisions: CollisionStrategy::Fail,
            ..UsernameRules::default()
        };
        let err =
            choose_username(&name("John", None, "Doe"), None, &rules, ["jdoe"]).expect_err("taken");
        assert_eq!(
            err.to_string(),
            "username `jdoe` is already taken; give an explicit `username` (username_collision_strategy is `fail`)"
        );
    }

    #[test]
    fn an_explicit_username_is_used_and_never_replaced() {
        let explicit = Username::parse(" J.Doe-Admin ").expect("valid");
        let c = choose_username(
            &name("李", None, "小龙"),
            Some(&explicit),
            &UsernameRules::default(),
            Vec::<String>::new(),
        )
        .expect("explicit wins");
        assert_eq!(c.username.as_str(), "j.doe-admin");
        assert_eq!(
            c.username.user_principal_name("contoso.com"),
            "j.doe-admin@contoso.com"
        );
        assert_eq!(c.reason, UsernameReason::Explicit);
        let err = choose_username(
            &name("J", None, "D"),
            Some(&explicit),
            &UsernameRules::default(),
            ["j.doe-admin"],
        )
        .expect_err("taken");
        assert!(matches!(err, DomainError::UsernameTaken { .. }));
    }

    #[test]
    fn explicit_usernames_are_checked() {
        for bad in [
            "",
            "a b",
            "jdoe@contoso.com",
            ".jdoe",
            "jdoe.",
            "j..doe",
            "jøe",
            &"x".repeat(65),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cjk_only_names_ask_for_an_explicit_username() {
        let err = choose_username(
            &name("小龙", None, "李"),
            None,
            &UsernameRules::default(),
            Vec::<String>::new(),
        )
        .expect_err("nothing to transliterate");
        assert_eq!(
            err.to_string(),
            "cannot make a username from first_name `小龙`: it has no latin, greek or cyrillic letters; give an explicit `username`"
        );
    }

    #[test]
    fn german_umlauts_are_selectable() {
        let n = name("Jürgen", None, "Müller");
        let simple = UsernameRules::default();
        let german = UsernameRules {
            umlauts: UmlautStyle::German,
            ..simple
        };
        let none: [&str; 0] = [];
        assert_eq!(
            choose_username(&n, None, &simple, none)
                .expect("ok")
                .username
                .as_str(),
            "jmuller"
        );
        assert_eq!(
            choose_username(&n, None, &german, none)
                .expect("ok")
                .username
                .as_str(),
            "jmueller"
        );
    }

    #[test]
    fn long_names_are_cut_to_the_limits_and_numbers_still_fit() {
        let n = name(
            "Wolfeschlegelsteinhausenbergerdorff",
            None,
            &"Abcdefghij".repeat(8),
        );
        let c = choose(&n, UsernameFormat::FirstNameLastName, &[]);
        assert_eq!(c.username.as_str().len(), 64);
        assert!(c.truncated);
        assert_eq!(c.sam_account_name, "wolfeschlegelsteinha");
        let taken = [c.username.as_str().to_owned(), c.sam_account_name.clone()];
        let c2 = choose_username(
            &n,
            None,
            &UsernameRules {
                format: UsernameFormat::FirstNameLastName,
                ..UsernameRules::default()
            },
            &taken,
        )
        .expect("a username");
        assert_eq!(c2.username.as_str().len(), 64);
        assert!(c2.username.as_str().ends_with('2'));
        assert_eq!(c2.sam_account_name, "wolfeschlegelsteinh2");
    }
}
