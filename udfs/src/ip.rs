//! IPv4 functions with Kusto (KQL) semantics: `ipv4_is_private`, `ipv4_is_in_range`,
//! `ipv4_is_in_any_range`.
//!
//! Parsing rules (one parser for all three functions):
//! - strict dotted quad: exactly four decimal octets 0–255, 1–3 digits each;
//! - a leading zero makes the octet invalid (`010.1.1.1` is NULL): such strings are octal to
//!   `inet_aton` and decimal elsewhere, so any answer would be a guess;
//! - no whitespace anywhere (`' 10.0.0.1'` is NULL), no IPv6 and no IPv4-mapped IPv6;
//! - an optional prefix `/n`, n = 0–32 without leading zeros, as Kusto accepts for IP-prefix notation.
//!
//! An address with a prefix stands for its whole network (the address masked to the prefix). A
//! value is *in* a range when its whole network lies inside the range's network, so
//! `ipv4_is_private('10.1.2.3/24')` is true and `ipv4_is_private('172.16.0.1/8')` is false (the /8
//! also covers public space).

use std::sync::{Arc, LazyLock};

use arrow::array::{AsArray, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use arrow::array::BooleanBuilder;

use crate::DOC_SECTION;
use crate::kernel;

/// An inclusive range of IPv4 addresses as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    pub first: u32,
    pub last: u32,
}

impl Ipv4Net {
    fn contains(&self, other: &Ipv4Net) -> bool {
        self.first <= other.first && other.last <= self.last
    }
}

/// Parse a strict dotted-quad IPv4 address (no prefix): four decimal octets 0–255 of 1–3
/// digits, no leading zero, nothing else. One pass over the bytes (this runs once per row).
pub fn parse_ipv4(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if !(7..=15).contains(&b.len()) {
        return None;
    }
    let (mut addr, mut octet, mut digits, mut dots) = (0u32, 0u32, 0u32, 0u32);
    let mut leading_zero = false;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                if leading_zero || digits == 3 {
                    return None; // "01", or a fourth digit
                }
                leading_zero = digits == 0 && c == b'0';
                octet = octet * 10 + (c - b'0') as u32;
                digits += 1;
            }
            b'.' if digits > 0 && octet <= 255 && dots < 3 => {
                addr = (addr << 8) | octet;
                (octet, digits, dots, leading_zero) = (0, 0, dots + 1, false);
            }
            _ => return None,
        }
    }
    (dots == 3 && digits > 0 && octet <= 255).then_some((addr << 8) | octet)
}

/// Parse `a.b.c.d` or `a.b.c.d/n` into the network it denotes.
pub fn parse_ipv4_net(s: &str) -> Option<Ipv4Net> {
    let (addr, len) = match s.split_once('/') {
        None => (parse_ipv4(s)?, 32u32),
        Some((a, p)) => {
            let pb = p.as_bytes();
            if pb.is_empty()
                || pb.len() > 2
                || !pb.iter().all(u8::is_ascii_digit)
                || (pb.len() > 1 && pb[0] == b'0')
            {
                return None;
            }
            let len: u32 = p.parse().ok()?;
            if len > 32 {
                return None;
            }
            (parse_ipv4(a)?, len)
        }
    };
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let first = addr & mask;
    Some(Ipv4Net {
        first,
        last: first | !mask,
    })
}

const PRIVATE: [Ipv4Net; 3] = [
    Ipv4Net {
        first: 0x0A00_0000,
        last: 0x0AFF_FFFF,
    }, // 10.0.0.0/8
    Ipv4Net {
        first: 0xAC10_0000,
        last: 0xAC1F_FFFF,
    }, // 172.16.0.0/12
    Ipv4Net {
        first: 0xC0A8_0000,
        last: 0xC0A8_FFFF,
    }, // 192.168.0.0/16
];

/// Kusto `ipv4_is_private`: `Some(true)` inside 10/8, 172.16/12 or 192.168/16, `Some(false)`
/// otherwise, `None` when the text is not an IPv4 address or prefix.
pub fn ipv4_is_private(s: &str) -> Option<bool> {
    let net = parse_ipv4_net(s)?;
    Some(PRIVATE.iter().any(|p| p.contains(&net)))
}

/// Kusto `ipv4_is_in_range`: `None` when either side does not parse.
pub fn ipv4_is_in_range(ip: &str, range: &str) -> Option<bool> {
    let ip = parse_ipv4_net(ip)?;
    let range = parse_ipv4_net(range)?;
    Some(range.contains(&ip))
}

// ---------------------------------------------------------------------------------------------

static IPV4_IS_PRIVATE_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Kusto ipv4_is_private: true when the IPv4 address (or a.b.c.d/n prefix) lies wholly inside \
         an RFC 1918 range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), false for any other IPv4 \
         (loopback, link-local and CGNAT are not private), NULL for anything that is not a strict \
         dotted quad: IPv6, empty, whitespace, leading zeros, junk. So NOT ipv4_is_private(x) \
         drops IPv6 and garbage exactly as KQL does.",
        "ipv4_is_private(ip)",
    )
    .with_argument("ip", "String expression: an IPv4 address, optionally with a /0-/32 prefix.")
    .with_sql_example(
        "> SELECT ipv4_is_private('192.168.1.1/24'), ipv4_is_private('127.0.0.1'), ipv4_is_private('::1');\n\
         true, false, NULL",
    )
    .with_related_udf("ipv4_is_in_range")
    .build()
});

/// The `ipv4_is_private` scalar function.
pub fn ipv4_is_private_udf() -> ScalarUDF {
    kernel::UnaryStringUdf::<BooleanBuilder>::udf(
        "ipv4_is_private",
        &IPV4_IS_PRIVATE_DOC,
        |s, b| b.append_option(ipv4_is_private(s)),
    )
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Ipv4IsInRange {
    signature: Signature,
}

impl Default for Ipv4IsInRange {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static IPV4_IS_IN_RANGE_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Kusto ipv4_is_in_range: true when the IPv4 address lies inside the range given in IP-prefix \
         notation (the range's base address is masked, so '192.168.1.1/24' means 192.168.1.0/24; a \
         range without /n is a single address). NULL when either string is not IPv4 (same strict \
         parser as ipv4_is_private).",
        "ipv4_is_in_range(ip, range)",
    )
    .with_argument("ip", "String expression: an IPv4 address (a prefix means its whole network).")
    .with_argument("range", "String expression: an IPv4 range such as '10.0.0.0/8'.")
    .with_sql_example(
        "> SELECT ipv4_is_in_range('192.168.1.6', '192.168.1.1/24');\ntrue",
    )
    .with_related_udf("ipv4_is_in_any_range")
    .build()
});

impl ScalarUDFImpl for Ipv4IsInRange {
    fn name(&self) -> &str {
        "ipv4_is_in_range"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        kernel::coerce_n_strings(self.name(), 2, arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (ip, range) = (&args.args[0], &args.args[1]);
        // Fast path: a constant range is parsed once.
        if let ColumnarValue::Scalar(r) = range {
            let Some(text) = kernel::scalar_str(r) else {
                return exec_err!("ipv4_is_in_range: range must be a string");
            };
            let net = text.as_deref().and_then(parse_ipv4_net);
            return match (text, net) {
                (None, _) | (Some(_), None) => Ok(kernel::null_bool_like(ip, args.number_rows)),
                (Some(_), Some(net)) => kernel::map_columnar::<BooleanBuilder>(
                    ip,
                    &kernel::bool_fn(move |s: &str| parse_ipv4_net(s).map(|n| net.contains(&n))),
                ),
            };
        }
        let n = args.number_rows;
        let ips = kernel::to_utf8(&ip.to_array(n)?)?;
        let ranges = kernel::to_utf8(&range.to_array(n)?)?;
        let out: BooleanArray = ips
            .as_string::<i32>()
            .iter()
            .zip(ranges.as_string::<i32>().iter())
            .map(|(a, r)| ipv4_is_in_range(a?, r?))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&IPV4_IS_IN_RANGE_DOC)
    }
}

static IPV4_IS_IN_ANY_RANGE_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Kusto ipv4_is_in_any_range: true when the IPv4 address lies inside any of the ranges, given \
         either as further string arguments or as one array of strings (KQL's dynamic array). NULL \
         when the address or any range is not valid IPv4, or when the array itself is NULL.",
        "ipv4_is_in_any_range(ip, range [, range ...]) | ipv4_is_in_any_range(ip, ranges_array)",
    )
    .with_argument("ip", "String expression: an IPv4 address.")
    .with_argument("range", "One or more IPv4 ranges in prefix notation, or one array of them.")
    .with_sql_example(
        "> SELECT ipv4_is_in_any_range('192.168.1.6', '192.168.1.1/24', '10.0.0.1/8'),\n\
         >        ipv4_is_in_any_range('127.0.0.1', ['127.0.0.1', '192.168.1.1']);\n\
         true, true",
    )
    .with_related_udf("ipv4_is_in_range")
    .build()
});

/// The ranges of one row, parsed: `None` if any of them is NULL or invalid.
fn parse_ranges(texts: &mut dyn Iterator<Item = Option<&str>>) -> Option<Vec<Ipv4Net>> {
    texts.map(|t| parse_ipv4_net(t?)).collect()
}

fn in_any(ip: &str, ranges: &[Ipv4Net]) -> Option<bool> {
    let net = parse_ipv4_net(ip)?;
    Some(ranges.iter().any(|r| r.contains(&net)))
}

/// The `ipv4_is_in_any_range(ip, range, ...)` / `(ip, ranges_array)` scalar function.
pub fn ipv4_is_in_any_range_udf() -> ScalarUDF {
    kernel::SetUdf::udf(
        "ipv4_is_in_any_range",
        &IPV4_IS_IN_ANY_RANGE_DOC,
        parse_ranges,
        |ip, ranges| in_any(ip, ranges),
    )
}

/// An IPv4 address prefix as KQL's `has_ipv4_prefix` takes it: a whole address (`192.168.1.11`,
/// four octets) or one to three octets ending with a dot (`192.`, `192.168.`, `192.168.1.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Prefix {
    /// The prefix's octets, left-aligned in an address.
    pub bits: u32,
    /// How many octets it fixes (1 to 4).
    pub octets: u32,
}

impl Ipv4Prefix {
    /// Parse a prefix; `None` when it is not one (`127.0` lacks its dot, `10.1.1.1.` has five parts).
    pub fn parse(s: &str) -> Option<Self> {
        let Some(body) = s.strip_suffix('.') else {
            return parse_ipv4(s).map(|bits| Ipv4Prefix { bits, octets: 4 });
        };
        let parts: Vec<&str> = body.split('.').collect();
        if parts.len() > 3 {
            return None;
        }
        // pad to a whole address and parse with the address rules (no leading zeros, 0-255)
        let padded = parts
            .iter()
            .copied()
            .chain(std::iter::repeat_n("0", 4 - parts.len()))
            .collect::<Vec<_>>()
            .join(".");
        parse_ipv4(&padded).map(|bits| Ipv4Prefix {
            bits,
            octets: parts.len() as u32,
        })
    }

    /// Whether `addr` starts with this prefix.
    pub fn contains(&self, addr: u32) -> bool {
        let shift = 8 * (4 - self.octets);
        (addr >> shift) == (self.bits >> shift)
    }
}

/// The IPv4 addresses written in `text`, properly delimited as Kusto requires: a run of digits
/// and dots with no letter or digit on either side (a dot ending a sentence is not part of the
/// address), which must be a valid dotted quad (`127.0.0.256` and `54127.0.0.1` are none).
pub fn ipv4_addresses_in(text: &str) -> impl Iterator<Item = u32> + '_ {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i < b.len() && b[i].is_ascii_alphanumeric() {
                continue; // glued to a letter: not delimited
            }
            let run = text[start..i].trim_end_matches('.');
            if let Some(a) = parse_ipv4(run) {
                return Some(a);
            }
        }
        None
    })
}

/// KQL `has_any_ipv4_prefix(text, prefixes)`: an address in `text` starts with one of them.
pub fn has_any_ipv4_prefix(text: &str, prefixes: &[Ipv4Prefix]) -> bool {
    !prefixes.is_empty() && ipv4_addresses_in(text).any(|a| prefixes.iter().any(|p| p.contains(a)))
}

/// The prefixes of one row: an invalid one can never be found (Kusto: false), a NULL one makes
/// the row NULL.
fn read_prefixes(
    texts: &mut dyn Iterator<Item = Option<&str>>,
    whole_only: bool,
) -> Option<Vec<Ipv4Prefix>> {
    let mut out = Vec::new();
    for t in texts {
        if let Some(p) = Ipv4Prefix::parse(t?).filter(|p| !whole_only || p.octets == 4) {
            out.push(p);
        }
    }
    Some(out)
}

static HAS_ANY_IPV4_PREFIX_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Kusto has_any_ipv4_prefix (and has_ipv4_prefix): true when an IPv4 address written in \
         text, delimited by characters that are not letters or digits, starts with one of the \
         prefixes. A prefix is a whole address (192.168.1.11) or one to three octets ending with \
         a dot (192., 192.168., 192.168.1.); anything else is never found ('127.0' finds \
         nothing). False for no prefixes; NULL when text, a prefix or the array is NULL.",
        "has_any_ipv4_prefix(text, prefix [, prefix ...]) | has_any_ipv4_prefix(text, prefixes_array)",
    )
    .with_argument("text", "String expression: an address, or text holding addresses.")
    .with_argument("prefix", "One or more prefixes, or one array of them.")
    .with_sql_example(
        "> SELECT has_any_ipv4_prefix('05:04:54 127.0.0.1 GET /favicon.ico 404', '127.0.', '192.168.'),\n\
         >        has_any_ipv4_prefix('10.1.2.3', ['10.1']);\n\
         true, false",
    )
    .with_related_udf("has_any_ipv4")
    .build()
});

static HAS_ANY_IPV4_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Kusto has_any_ipv4 (and has_ipv4): true when one of the whole IPv4 addresses appears in \
         text, delimited by characters that are not letters or digits. An argument that is not a \
         whole address is never found. False for none; NULL when text, an address or the array \
         is NULL.",
        "has_any_ipv4(text, ip [, ip ...]) | has_any_ipv4(text, ips_array)",
    )
    .with_argument("text", "String expression: an address, or text holding addresses.")
    .with_argument("ip", "One or more IPv4 addresses, or one array of them.")
    .with_sql_example(
        "> SELECT has_any_ipv4('from 10.1.1.115 and 10.1.1.201.', '10.1.1.201'), has_any_ipv4('10.1.1.2', '10.1.1.');\n\
         true, false",
    )
    .with_related_udf("has_any_ipv4_prefix")
    .build()
});

/// The `has_any_ipv4_prefix(text, prefix, ...)` / `(text, prefixes_array)` scalar function.
pub fn has_any_ipv4_prefix_udf() -> ScalarUDF {
    kernel::SetUdf::udf(
        "has_any_ipv4_prefix",
        &HAS_ANY_IPV4_PREFIX_DOC,
        |t| read_prefixes(t, false),
        |text, ps| Some(has_any_ipv4_prefix(text, ps)),
    )
}

/// The `has_any_ipv4(text, ip, ...)` / `(text, ips_array)` scalar function.
pub fn has_any_ipv4_udf() -> ScalarUDF {
    kernel::SetUdf::udf(
        "has_any_ipv4",
        &HAS_ANY_IPV4_DOC,
        |t| read_prefixes(t, true),
        |text, ps| Some(has_any_ipv4_prefix(text, ps)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_parser() {
        assert_eq!(parse_ipv4("10.0.0.1"), Some(0x0A00_0001));
        assert_eq!(parse_ipv4("255.255.255.255"), Some(u32::MAX));
        assert_eq!(parse_ipv4("0.0.0.0"), Some(0));
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "010.1.1.1",
            "1.2.3.04",
            " 1.2.3.4",
            "1.2.3.4 ",
            "1.2.3.+4",
            "1..2.3",
            "a.b.c.d",
            "::1",
            "::ffff:10.0.0.1",
            "1.2.3.4\n",
            "1.2.3.1000",
            "١.٢.٣.٤",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            parse_ipv4_net("192.168.1.1/24"),
            Some(Ipv4Net {
                first: 0xC0A8_0100,
                last: 0xC0A8_01FF
            })
        );
        assert_eq!(
            parse_ipv4_net("1.2.3.4/0"),
            Some(Ipv4Net {
                first: 0,
                last: u32::MAX
            })
        );
        for bad in [
            "10.0.0.1/33",
            "10.0.0.1/",
            "10.0.0.1/08",
            "10.0.0.1/-1",
            "10.0.0.1/ 8",
            "/8",
        ] {
            assert_eq!(parse_ipv4_net(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn private_ranges_and_boundaries() {
        let cases = [
            ("10.0.0.0", Some(true)),
            ("10.255.255.255", Some(true)),
            ("9.255.255.255", Some(false)),
            ("11.0.0.0", Some(false)),
            ("172.16.0.0", Some(true)),
            ("172.31.255.255", Some(true)),
            ("172.15.255.255", Some(false)),
            ("172.32.0.0", Some(false)),
            ("192.168.0.0", Some(true)),
            ("192.168.255.255", Some(true)),
            ("192.167.255.255", Some(false)),
            ("192.169.0.0", Some(false)),
            ("127.0.0.1", Some(false)),
            ("169.254.1.1", Some(false)),
            ("100.64.0.1", Some(false)),
            ("202.1.2.3", Some(false)),
            ("10.1.2.3/24", Some(true)),
            ("192.168.1.1/24", Some(true)),
            ("172.16.0.1/8", Some(false)),
            ("10.0.0.0/7", Some(false)),
            ("10.0.0.1/33", None),
            ("2001:db8::1", None),
            ("", None),
        ];
        for (ip, want) in cases {
            assert_eq!(ipv4_is_private(ip), want, "{ip:?}");
        }
    }

    #[test]
    fn in_range() {
        assert_eq!(
            ipv4_is_in_range("192.168.1.6", "192.168.1.1/24"),
            Some(true)
        );
        assert_eq!(
            ipv4_is_in_range("192.168.2.1", "192.168.1.1/24"),
            Some(false)
        );
        assert_eq!(ipv4_is_in_range("127.0.0.1", "127.0.0.1"), Some(true));
        assert_eq!(ipv4_is_in_range("127.0.0.2", "127.0.0.1"), Some(false));
        assert_eq!(ipv4_is_in_range("x", "127.0.0.1"), None);
        assert_eq!(ipv4_is_in_range("127.0.0.1", "x"), None);
    }

    #[test]
    fn ipv4_prefixes_as_kusto_documents_them() {
        let p = |s: &str| Ipv4Prefix::parse(s);
        let any = |text: &str, ps: &[&str]| {
            has_any_ipv4_prefix(text, &ps.iter().filter_map(|s| p(s)).collect::<Vec<_>>())
        };
        let log = "05:04:54 127.0.0.1 GET /favicon.ico 404";
        // Microsoft's examples
        assert!(any(log, &["127.0.", "192.168."]));
        assert!(!any(log, &["127.0"]));
        assert!(!any(
            "05:04:54 127.0.0.256 GET /favicon.ico 404",
            &["127.0."]
        ));
        assert!(!any(
            "05:04:54127.0.0.1 GET /favicon.ico 404",
            &["127.0.", "192."]
        ));
        let text = "These requests came from: 192.168.1.1, 10.1.1.115 and 10.1.1.201.";
        assert!(any(text, &["10.1.1.201"]));
        assert!(any(text, &["10.1."]));
        assert!(!any(text, &["10.1.1.20"]));
        // prefixes are whole octets: 10.1. is not 10.10.x
        assert!(!any("10.10.0.1", &["10.1."]));
        assert!(any("10.10.0.1", &["10."]));
        // not delimited from letters; valid prefixes only
        assert!(!any("ip10.1.1.1", &["10."]));
        assert!(!any("10.1.1.1x", &["10."]));
        assert_eq!(p("256."), None);
        assert_eq!(p("1.2.3.4."), None);
        assert_eq!(p("01."), None);
        assert_eq!(p(""), None);
        assert_eq!(p("."), None);
        assert!(!any("1.2.3.4", &[]));
        // a plain address column
        assert!(any("203.0.113.7", &["203.0.113."]));
        assert!(!any("2001:db8::1", &["2001."]));
    }
}
