//! `kql_has` and friends against two oracles written from Kusto's definition, not from the
//! kernel: for a needle of letters and digits, "is it one of the terms the text splits into"
//! (terms are maximal runs of ASCII letters and digits); for any needle, a regex with the term
//! boundaries spelled out. Random strings rich in separators, digits, case and multi-byte
//! characters.

use proptest::prelude::*;
use regex::RegexBuilder;

fn alphabet(chars: &'static [char]) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(chars), 0..20)
        .prop_map(|v| v.into_iter().collect())
}

fn term() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TERM), 1..6)
        .prop_map(|v| v.into_iter().collect())
}

const TEXT: &[char] = &[
    'a', 'B', 'c', '3', '8', '9', '0', '.', '-', ' ', '_', '/', 'é', '例', 'K', 'k',
];
const TERM: &[char] = &['a', 'b', 'C', '3', '8', '9', '0', 'k'];

/// The terms of `text`, as the docs define them.
fn terms(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `needle` found with no ASCII letter or digit beside a letter-or-digit end, by regex.
fn by_regex(text: &str, needle: &str, case_insensitive: bool) -> bool {
    if needle.is_empty() {
        return true;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let left = if word(needle.chars().next()) {
        r"(?:^|[^A-Za-z0-9])"
    } else {
        ""
    };
    let right = if word(needle.chars().last()) {
        r"(?:$|[^A-Za-z0-9])"
    } else {
        ""
    };
    // Only ASCII letters fold: the needle's other characters are matched literally.
    let mut pattern = String::new();
    for c in needle.chars() {
        if case_insensitive && c.is_ascii_alphabetic() {
            pattern.push_str(&format!(
                "[{}{}]",
                c.to_ascii_lowercase(),
                c.to_ascii_uppercase()
            ));
        } else {
            pattern.push_str(&regex::escape(&c.to_string()));
        }
    }
    RegexBuilder::new(&format!("{left}{pattern}{right}"))
        .unicode(true)
        .build()
        .unwrap()
        .is_match(text)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn has_is_membership_among_the_terms(text in alphabet(TEXT), term in term()) {
        let want = terms(&text).iter().any(|t| t.eq_ignore_ascii_case(&term));
        prop_assert_eq!(nethunt_udfs::kql_has(&text, &term), want);
        let want_cs = terms(&text).contains(&term.as_str());
        prop_assert_eq!(nethunt_udfs::kql_has_cs(&text, &term), want_cs);
    }

    #[test]
    fn has_with_separators_matches_the_regex(text in alphabet(TEXT), needle in alphabet(TEXT)) {
        prop_assert_eq!(nethunt_udfs::kql_has(&text, &needle), by_regex(&text, &needle, true));
        prop_assert_eq!(nethunt_udfs::kql_has_cs(&text, &needle), by_regex(&text, &needle, false));
    }

    #[test]
    fn has_any_and_all_fold_has(text in alphabet(TEXT), set in proptest::collection::vec(term(), 0..4)) {
        prop_assert_eq!(
            nethunt_udfs::kql_has_any(&text, &set),
            set.iter().any(|t| nethunt_udfs::kql_has(&text, t))
        );
        prop_assert_eq!(
            nethunt_udfs::kql_has_all(&text, &set),
            set.iter().all(|t| nethunt_udfs::kql_has(&text, t))
        );
    }
}
