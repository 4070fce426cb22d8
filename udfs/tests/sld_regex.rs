//! `second_level_domain` equals group 1 of the seed's regex `([^.]*).{0,7}$` as the Rust `regex`
//! crate (the engine Kusto and DataFusion's `regexp_match` use) computes it, on random strings
//! rich in dots, newlines and multi-byte characters.

use proptest::prelude::*;
use regex::Regex;

fn reference(re: &Regex, s: &str) -> String {
    // The pattern matches every string; a failure here would itself be a finding.
    re.captures(s)
        .expect("the seed regex always matches")
        .get(1)
        .unwrap()
        .as_str()
        .to_string()
}

fn alphabet() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => Just('.'),
        1 => Just('\n'),
        1 => Just('\r'),
        4 => proptest::char::range('a', 'e'),
        1 => Just('é'),
        1 => Just('例'),
        1 => Just('🦀'),
        1 => Just(':'),
        1 => Just(' '),
    ];
    proptest::collection::vec(ch, 0..24).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn equals_regex_on_structured_strings(s in alphabet()) {
        let re = Regex::new(r"([^.]*).{0,7}$").unwrap();
        prop_assert_eq!(nethunt_udfs::second_level_domain(&s), reference(&re, &s));
    }

    #[test]
    fn equals_regex_on_any_string(s in "\\PC{0,30}|[\\x00-\\x7f]{0,30}") {
        let re = Regex::new(r"([^.]*).{0,7}$").unwrap();
        prop_assert_eq!(nethunt_udfs::second_level_domain(&s), reference(&re, &s));
    }

    #[test]
    fn ip_functions_never_panic(s in "\\PC{0,24}") {
        let _ = nethunt_udfs::ipv4_is_private(&s);
        let _ = nethunt_udfs::ipv4_is_in_range(&s, &s);
        let _ = nethunt_udfs::registered_domain(&s);
    }

    /// Any strict dotted quad parses to the integer its octets spell.
    #[test]
    fn dotted_quads_round_trip(a in 0u8.., b in 0u8.., c in 0u8.., d in 0u8..) {
        let s = format!("{a}.{b}.{c}.{d}");
        prop_assert_eq!(nethunt_udfs::parse_ipv4(&s), Some(u32::from_be_bytes([a, b, c, d])));
        let private = a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168);
        prop_assert_eq!(nethunt_udfs::ipv4_is_private(&s), Some(private));
    }
}
