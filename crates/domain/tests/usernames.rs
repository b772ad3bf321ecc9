//! Usernames: the table of real names (tests/names.tsv) under every format, and the
//! properties every generated username must have.

use onboard_domain::DomainError;
use onboard_domain::username::PersonName;
use onboard_domain::username::{
    CollisionStrategy, MAX_SAM_ACCOUNT_NAME, MAX_UPN_LOCAL_PART, UmlautStyle, UsernameFormat,
    UsernameRules, choose_username,
};
use proptest::prelude::*;

/// The formats in the column order of names.tsv.
const COLUMNS: [UsernameFormat; 9] = [
    UsernameFormat::FirstInitialLastName,
    UsernameFormat::FirstNameLastName,
    UsernameFormat::FirstNameLastInitial,
    UsernameFormat::FirstNameDotLastName,
    UsernameFormat::LastNameFirstInitial,
    UsernameFormat::FirstName,
    UsernameFormat::FirstInitialMiddleInitialLastName,
    UsernameFormat::FirstNameMiddleInitialLastName,
    UsernameFormat::FirstNameDotMiddleInitialDotLastName,
];

/// Replaces `\u{XXXX}` escapes.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("\\u{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing brace") + start;
        let code = u32::from_str_radix(&rest[start + 3..end], 16).expect("hex escape");
        out.push(char::from_u32(code).expect("a char"));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

struct Row {
    name: PersonName,
    umlauts: UmlautStyle,
    expected: Vec<String>,
}

fn table() -> Vec<Row> {
    include_str!("names.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            assert_eq!(cells.len(), 4 + COLUMNS.len(), "row {line:?}");
            Row {
                name: PersonName {
                    first: unescape(cells[0]),
                    middle: (cells[1] != "-").then(|| unescape(cells[1])),
                    last: unescape(cells[2]),
                },
                umlauts: cells[3].parse().expect("umlaut style"),
                expected: cells[4..].iter().map(|c| (*c).to_owned()).collect(),
            }
        })
        .collect()
}

#[test]
fn the_names_table_has_at_least_sixty_real_names() {
    assert!(table().len() >= 60, "{}", table().len());
}

#[test]
fn every_name_in_the_table_gives_the_expected_username_under_every_format() {
    let mut mismatches = Vec::new();
    for row in table() {
        for (format, expected) in COLUMNS.iter().zip(&row.expected) {
            let rules = UsernameRules {
                format: *format,
                umlauts: row.umlauts,
                collisions: CollisionStrategy::MiddleInitialThenNumber,
            };
            let got = match choose_username(&row.name, None, &rules, Vec::<String>::new()) {
                Ok(choice) => choice.username.as_str().to_owned(),
                Err(DomainError::NothingToTransliterate { part, .. }) => format!("!{part}"),
                Err(other) => format!("unexpected error: {other}"),
            };
            if &got != expected {
                mismatches.push(format!(
                    "{:?} {:?} {:?} ({}) under {format}: expected {expected}, got {got}",
                    row.name.first, row.name.middle, row.name.last, row.umlauts
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn the_cjk_error_asks_for_an_explicit_username() {
    let name = PersonName {
        first: "小龙".into(),
        middle: None,
        last: "李".into(),
    };
    let err = choose_username(&name, None, &UsernameRules::default(), Vec::<String>::new())
        .expect_err("no latin letters");
    assert!(
        err.to_string().contains("give an explicit `username`"),
        "{err}"
    );
}

fn any_format() -> impl Strategy<Value = UsernameFormat> {
    proptest::sample::select(UsernameFormat::ALL.to_vec())
}

fn any_strategy() -> impl Strategy<Value = CollisionStrategy> {
    prop_oneof![
        Just(CollisionStrategy::MiddleInitialThenNumber),
        Just(CollisionStrategy::Number),
    ]
}

/// Name parts: mostly letters of many scripts, with the punctuation names carry.
fn name_part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z]{1,12}",
        "[A-Za-zÀ-ÿĀ-žƀ-ɏ' -]{1,90}",
        "[А-яЁё]{1,20}",
        "[Α-ω]{1,20}",
        "[a-zA-Z\\u{4e00}-\\u{4fff}\\u{1F600}-\\u{1F64F} ]{1,30}",
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_generated_username_is_ascii_within_limits_and_never_taken(
        first in name_part(),
        middle in proptest::option::of(name_part()),
        last in name_part(),
        format in any_format(),
        collisions in any_strategy(),
        german in any::<bool>(),
        taken_count in 0usize..40,
    ) {
        let name = PersonName { first, middle, last };
        let rules = UsernameRules {
            format,
            umlauts: if german { UmlautStyle::German } else { UmlautStyle::Simple },
            collisions,
        };
        // Take the first candidates one after another, so resolution has to go far.
        let mut taken: Vec<String> = Vec::new();
        for _ in 0..taken_count {
            match choose_username(&name, None, &rules, &taken) {
                Ok(choice) => taken.push(choice.username.as_str().to_owned()),
                Err(_) => break,
            }
        }
        match choose_username(&name, None, &rules, &taken) {
            Ok(choice) => {
                let u = choice.username.as_str();
                prop_assert!(!u.is_empty());
                prop_assert!(u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.'), "{}", u);
                prop_assert!(u.len() <= MAX_UPN_LOCAL_PART, "{}", u);
                prop_assert!(choice.username.mail_nickname().len() <= 64);
                prop_assert!(!u.starts_with('.') && !u.ends_with('.') && !u.contains(".."), "{}", u);
                prop_assert!(choice.sam_account_name.len() <= MAX_SAM_ACCOUNT_NAME);
                prop_assert!(choice.sam_account_name.is_ascii());
                prop_assert!(!taken.contains(&u.to_owned()), "{} is taken", u);
                prop_assert!(!taken.contains(&choice.sam_account_name), "{} is taken", choice.sam_account_name);
            }
            Err(DomainError::NothingToTransliterate { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }

    #[test]
    fn the_same_inputs_give_the_same_username(
        first in name_part(),
        last in name_part(),
        format in any_format(),
    ) {
        let name = PersonName { first, middle: None, last };
        let rules = UsernameRules { format, ..UsernameRules::default() };
        let a = choose_username(&name, None, &rules, ["jdoe"]);
        let b = choose_username(&name, None, &rules, ["jdoe"]);
        prop_assert_eq!(a, b);
    }
}
