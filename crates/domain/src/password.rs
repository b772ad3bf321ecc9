//! Passwords: generated from the operating system's CSPRNG, meeting Entra ID complexity,
//! and a type that never prints itself.

use std::fmt;
use std::sync::LazyLock;

use rand::TryCryptoRng;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// Shortest password Entra ID accepts.
pub const MIN_LENGTH: usize = 8;
/// Longest password Entra ID accepts.
pub const MAX_LENGTH: usize = 256;
/// The default length.
pub const DEFAULT_LENGTH: usize = 16;
/// Fewest words in a passphrase, whatever the length asked.
const MIN_WORDS: usize = 4;

/// Upper-case letters without the look-alikes `I` and `O`.
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Lower-case letters without the look-alikes `l`, `o` and `i`.
const LOWER: &[u8] = b"abcdefghjkmnpqrstuvwxyz";
/// Digits without the look-alikes `0` and `1`.
const DIGITS: &[u8] = b"23456789";
/// Symbols Entra ID accepts that survive e-mail, SMS and being read aloud
/// (no quotes, backslash, `|`, `` ` ``, `,`, `.` or space).
const SYMBOLS: &[u8] = b"!#$%&*+-=?@^_";

/// The embedded passphrase word list, one word per line, `#` lines are comments.
static WORDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    include_str!("words.txt")
        .lines()
        .map(str::trim)
        .filter(|w| !w.is_empty() && !w.starts_with('#'))
        // Capitalised, these would start with a look-alike (I, L, O).
        .filter(|w| !w.starts_with(['i', 'l', 'o']))
        .collect()
});

named_enum! {
    /// How passwords are made.
    pub enum PasswordStyle {
        /// Random characters from all four classes, without look-alikes.
        Random = "random" | "0" | "false" | "no" | "complex",
        /// Capitalised words joined by `-`, ending with a number: `Maple-Harbor-Tulip-Quartz-47`.
        Passphrase = "passphrase" | "friendly" | "1" | "true" | "yes" | "words",
    }
}

/// What a generated password must look like (see [`crate::variables::Variables::password_policy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    /// Length, 8 to 256 (a passphrase is at least this long, and has at least four words).
    pub length: usize,
    /// Random characters or words.
    pub style: PasswordStyle,
    /// A passphrase ends with a two-digit number, giving all four character classes
    /// (without it, it still has three: upper, lower and `-`).
    pub passphrase_with_number: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            length: DEFAULT_LENGTH,
            style: PasswordStyle::Random,
            passphrase_with_number: true,
        }
    }
}

/// The three password options of the reference, with its defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordOptions {
    /// The user must change the password at first sign-in (default on).
    pub change_at_first_sign_in: bool,
    /// The user may not change the password (default off).
    pub user_may_not_change: bool,
    /// The password never expires (default off).
    pub never_expires: bool,
}

impl Default for PasswordOptions {
    fn default() -> Self {
        Self {
            change_at_first_sign_in: true,
            user_may_not_change: false,
            never_expires: false,
        }
    }
}

/// A password. Its `Debug` and `Display` print `[redacted]`; read it with
/// [`Password::expose`] only where it must leave the process (Graph, a vault, a message).
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Wraps a password that was typed or received (not checked; see [`check_complexity`]).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(SecretString::from(secret.into()))
    }

    /// The password itself.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Length in characters.
    pub fn len(&self) -> usize {
        self.expose().chars().count()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a password does not meet Entra ID's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakness {
    /// Fewer than 8 characters.
    TooShort,
    /// More than 256 characters.
    TooLong,
    /// Fewer than three of upper case, lower case, digits and symbols.
    TooFewClasses,
    /// A character Entra ID does not accept (outside printable ASCII).
    ForbiddenCharacter,
}

impl fmt::Display for Weakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooShort => "is shorter than 8 characters",
            Self::TooLong => "is longer than 256 characters",
            Self::TooFewClasses => {
                "needs three of: upper-case letters, lower-case letters, digits, symbols"
            }
            Self::ForbiddenCharacter => "may only use printable ascii characters",
        })
    }
}

/// Checks Entra ID's password complexity: 8 to 256 printable ASCII characters (space
/// allowed) from at least three of the four classes.
pub fn check_complexity(password: &str) -> Result<(), Weakness> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(Weakness::TooShort);
    }
    if len > MAX_LENGTH {
        return Err(Weakness::TooLong);
    }
    if !password.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        return Err(Weakness::ForbiddenCharacter);
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password
            .chars()
            .any(|c| c == ' ' || c.is_ascii_punctuation()),
    ];
    if classes.iter().filter(|&&c| c).count() < 3 {
        return Err(Weakness::TooFewClasses);
    }
    Ok(())
}

/// Generates a password under `policy` from the operating system's CSPRNG.
pub fn generate_password(policy: &PasswordPolicy) -> Result<Password, DomainError> {
    generate_password_with(policy, &mut OsRng)
}

/// Generates a password under `policy` from `rng` (tests pass a seeded one).
pub fn generate_password_with<R: TryCryptoRng + ?Sized>(
    policy: &PasswordPolicy,
    rng: &mut R,
) -> Result<Password, DomainError> {
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&policy.length) {
        return Err(DomainError::PasswordPolicy(format!(
            "length {} is outside {MIN_LENGTH}..={MAX_LENGTH}",
            policy.length
        )));
    }
    let text = match policy.style {
        PasswordStyle::Random => random_characters(policy.length, rng)?,
        PasswordStyle::Passphrase => passphrase(policy, rng)?,
    };
    // Both generators guarantee the policy; checking again costs nothing and catches a bug.
    check_complexity(&text)
        .map_err(|w| DomainError::PasswordPolicy(format!("generated password {w}")))?;
    Ok(Password::new(text))
}

fn random_characters<R: TryCryptoRng + ?Sized>(
    length: usize,
    rng: &mut R,
) -> Result<String, DomainError> {
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    // One of each class, so every password has all four; the rest from the union.
    let mut chars = Vec::with_capacity(length);
    for class in [UPPER, LOWER, DIGITS, SYMBOLS] {
        chars.push(class[index(rng, class.len())?]);
    }
    while chars.len() < length {
        chars.push(all[index(rng, all.len())?]);
    }
    shuffle(&mut chars, rng)?;
    Ok(chars.into_iter().map(char::from).collect())
}

fn passphrase<R: TryCryptoRng + ?Sized>(
    policy: &PasswordPolicy,
    rng: &mut R,
) -> Result<String, DomainError> {
    let words = &*WORDS;
    if words.is_empty() {
        return Err(DomainError::PasswordPolicy("the word list is empty".into()));
    }
    // Room is kept for a `-NN` number; words are drawn among those that still fit.
    const NUMBER_ROOM: usize = 3;
    let mut parts: Vec<String> = Vec::new();
    let mut len = 0;
    while parts.len() < MIN_WORDS || len < policy.length {
        let separator = usize::from(!parts.is_empty());
        let room = (MAX_LENGTH - NUMBER_ROOM).saturating_sub(len + separator);
        let fitting: Vec<&str> = words.iter().copied().filter(|w| w.len() <= room).collect();
        if fitting.is_empty() {
            break;
        }
        let mut word = fitting[index(rng, fitting.len())?].to_owned();
        word[..1].make_ascii_uppercase();
        len += separator + word.len();
        parts.push(word);
    }
    // The number is there when asked for, and also pads a passphrase that no word can
    // lengthen any more without passing the maximum.
    if policy.passphrase_with_number || len < policy.length {
        let digits = policy.length.saturating_sub(len + 1).max(2);
        let mut number = String::with_capacity(digits);
        for _ in 0..digits {
            number.push(char::from(DIGITS[index(rng, DIGITS.len())?]));
        }
        parts.push(number);
    }
    Ok(parts.join("-"))
}

/// A uniform index below `n`, by rejection sampling (no modulo bias).
fn index<R: TryCryptoRng + ?Sized>(rng: &mut R, n: usize) -> Result<usize, DomainError> {
    let n =
        u32::try_from(n).map_err(|_| DomainError::PasswordPolicy("alphabet too large".into()))?;
    if n == 0 {
        return Err(DomainError::PasswordPolicy("empty alphabet".into()));
    }
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        let x = rng
            .try_next_u32()
            .map_err(|e| DomainError::Randomness(e.to_string()))?;
        if x < zone {
            return Ok((x % n) as usize);
        }
    }
}

/// Fisher-Yates.
fn shuffle<R: TryCryptoRng + ?Sized>(items: &mut [u8], rng: &mut R) -> Result<(), DomainError> {
    for i in (1..items.len()).rev() {
        let j = index(rng, i + 1)?;
        items.swap(i, j);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const LOOK_ALIKES: &[char] = &['0', 'O', 'o', '1', 'l', 'I', 'i'];

    #[test]
    fn a_password_never_prints_itself() {
        let p = Password::new("Hunter2-Secret!");
        assert_eq!(format!("{p}"), "[redacted]");
        assert_eq!(format!("{p:?}"), "Password([redacted])");
        assert_eq!(p.expose(), "Hunter2-Secret!");
    }

    #[test]
    fn the_default_password_is_sixteen_characters_from_the_os() {
        let p = generate_password(&PasswordPolicy::default()).expect("os rng works");
        assert_eq!(p.len(), 16);
        assert_eq!(check_complexity(p.expose()), Ok(()));
    }

    #[test]
    fn two_passwords_differ() {
        let a = generate_password(&PasswordPolicy::default()).expect("ok");
        let b = generate_password(&PasswordPolicy::default()).expect("ok");
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn lengths_outside_entra_limits_are_refused() {
        for length in [0, 7, 257] {
            let policy = PasswordPolicy {
                length,
                ..PasswordPolicy::default()
            };
            assert!(matches!(
                generate_password(&policy),
                Err(DomainError::PasswordPolicy(_))
            ));
        }
    }

    #[test]
    fn a_passphrase_is_capitalised_words_and_a_number() {
        let policy = PasswordPolicy {
            style: PasswordStyle::Passphrase,
            ..PasswordPolicy::default()
        };
        let p = generate_password_with(&policy, &mut StdRng::seed_from_u64(7)).expect("ok");
        let parts: Vec<&str> = p.expose().split('-').collect();
        assert!(parts.len() >= 5, "{parts:?}");
        let (number, words) = parts.split_last().expect("parts");
        assert!(number.len() >= 2 && number.chars().all(|c| c.is_ascii_digit()));
        for w in words {
            assert!(WORDS.contains(&w.to_lowercase().as_str()), "{w}");
            assert!(w.starts_with(|c: char| c.is_ascii_uppercase()));
        }
    }

    #[test]
    fn the_word_list_is_decent() {
        assert!(WORDS.len() >= 300);
        let mut sorted = WORDS.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), WORDS.len(), "duplicate words");
        assert!(
            WORDS
                .iter()
                .all(|w| (3..=8).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_lowercase()))
        );
    }

    #[test]
    fn complexity_needs_three_classes() {
        assert_eq!(check_complexity("abcdefgh"), Err(Weakness::TooFewClasses));
        assert_eq!(check_complexity("abcdEFGH"), Err(Weakness::TooFewClasses));
        assert_eq!(check_complexity("abcdEF12"), Ok(()));
        assert_eq!(check_complexity("abc-EF!!"), Ok(()));
        assert_eq!(check_complexity("aB1!"), Err(Weakness::TooShort));
        assert_eq!(
            check_complexity("aB1!éééé"),
            Err(Weakness::ForbiddenCharacter)
        );
    }

    proptest! {
        #[test]
        fn every_generated_password_meets_the_policy(
            length in MIN_LENGTH..=MAX_LENGTH,
            passphrase in any::<bool>(),
            with_number in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let policy = PasswordPolicy {
                length,
                style: if passphrase { PasswordStyle::Passphrase } else { PasswordStyle::Random },
                passphrase_with_number: with_number,
            };
            let p = generate_password_with(&policy, &mut StdRng::seed_from_u64(seed)).expect("generated");
            let text = p.expose();
            prop_assert_eq!(check_complexity(text), Ok(()));
            prop_assert!(text.len() <= MAX_LENGTH);
            if passphrase {
                prop_assert!(text.len() >= length);
                // Words are read whole; only the number must avoid look-alikes.
                let last = text.rsplit('-').next().unwrap_or_default();
                if with_number {
                    prop_assert!(last.len() >= 2 && last.chars().all(|c| c.is_ascii_digit()), "{}", text);
                }
                prop_assert!(!last.contains(['0', '1']));
            } else {
                prop_assert_eq!(text.len(), length);
                prop_assert!(!text.contains(LOOK_ALIKES), "{}", text);
                prop_assert!(text.chars().any(|c| c.is_ascii_uppercase()));
                prop_assert!(text.chars().any(|c| c.is_ascii_lowercase()));
                prop_assert!(text.chars().any(|c| c.is_ascii_digit()));
                prop_assert!(text.chars().any(|c| c.is_ascii_punctuation()));
            }
        }
    }
}
