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

    /// kql_endswith equals the textbook definition: fold ASCII case on both sides, then a plain
    /// suffix test. Suffixes are drawn from the text's own tail (case-flipped) as often as at random.
    #[test]
    fn kql_endswith_equals_ascii_folded_ends_with(
        t in "\\PC{0,20}|[a-zA-Z.\u{e9}\u{c9}\u{212a}]{0,12}",
        s in "\\PC{0,4}|[a-zA-Z.\u{e9}\u{c9}\u{212a}]{0,4}",
        take in 0usize..8,
    ) {
        let tail: String = t.chars().rev().take(take).collect::<Vec<_>>().into_iter().rev()
            .map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        for suffix in [s.as_str(), tail.as_str()] {
            let want = t.to_ascii_lowercase().ends_with(&suffix.to_ascii_lowercase());
            prop_assert_eq!(nethunt_udfs::kql_endswith(&t, suffix), want, "{:?} {:?}", t, suffix);
        }
    }

    /// Any strict dotted quad parses to the integer its octets spell.
    #[test]
    fn dotted_quads_round_trip(a in 0u8.., b in 0u8.., c in 0u8.., d in 0u8..) {
        let s = format!("{a}.{b}.{c}.{d}");
        prop_assert_eq!(nethunt_udfs::parse_ipv4(&s), Some(u32::from_be_bytes([a, b, c, d])));
        let private = a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168);
        prop_assert_eq!(nethunt_udfs::ipv4_is_private(&s), Some(private));
    }

    /// The byte-level parser accepts exactly what the standard library's strict parser accepts
    /// (1–3 digit octets, no leading zeros, 0–255), on strings of digits and dots mostly.
    #[test]
    fn parser_equals_std(s in proptest::collection::vec(prop_oneof![
            6 => proptest::char::range('0', '9'),
            3 => Just('.'),
            1 => Just('/'),
            1 => Just('a'),
            1 => Just(' '),
        ], 0..18).prop_map(|v| v.into_iter().collect::<String>())) {
        let std_parse = s.parse::<std::net::Ipv4Addr>().ok().map(u32::from);
        prop_assert_eq!(nethunt_udfs::parse_ipv4(&s), std_parse, "{:?}", s);
    }
}

/// The array kernel (views into the input buffers) gives, row by row, what the per-value function
/// gives, for every input representation, with NULLs, short (inlined) and long values mixed.
mod array_kernel {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        Array, ArrayRef, DictionaryArray, LargeStringArray, StringArray, StringViewArray,
    };
    use datafusion::arrow::datatypes::Int32Type;
    use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};
    use proptest::prelude::*;

    fn run(input: ArrayRef) -> Vec<Option<String>> {
        let udf = nethunt_udfs::domain::second_level_domain_udf();
        let n = input.len();
        let field = Arc::new(datafusion::arrow::datatypes::Field::new(
            "h",
            input.data_type().clone(),
            true,
        ));
        let out = udf
            .invoke_with_args(ScalarFunctionArgs {
                args: vec![ColumnarValue::Array(input)],
                arg_fields: vec![field],
                number_rows: n,
                return_field: Arc::new(datafusion::arrow::datatypes::Field::new(
                    "o",
                    datafusion::arrow::datatypes::DataType::Utf8View,
                    true,
                )),
                config_options: Arc::new(Default::default()),
            })
            .unwrap()
            .into_array(n)
            .unwrap();
        out.to_data().validate_full().unwrap();
        let out =
            datafusion::arrow::compute::cast(&out, &datafusion::arrow::datatypes::DataType::Utf8)
                .unwrap();
        let s = out.as_any().downcast_ref::<StringArray>().unwrap();
        (0..n)
            .map(|i| (!s.is_null(i)).then(|| s.value(i).to_string()))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn every_representation(values in proptest::collection::vec(
            proptest::option::of(super::alphabet()), 0..40)) {
            let want: Vec<Option<String>> = values
                .iter()
                .map(|v| v.as_deref().map(|s| nethunt_udfs::second_level_domain(s).to_string()))
                .collect();
            let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            let inputs: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from(refs.clone())),
                Arc::new(StringViewArray::from(refs.clone())),
                Arc::new(LargeStringArray::from(refs.clone())),
                Arc::new(refs.iter().copied().collect::<DictionaryArray<Int32Type>>()),
                // A slice: offsets that do not start at 0.
                Arc::new(StringArray::from([vec![Some("pad.example.com")], refs.clone()].concat()).slice(1, refs.len())),
            ];
            for input in inputs {
                prop_assert_eq!(run(input), want.clone());
            }
        }
    }
}
