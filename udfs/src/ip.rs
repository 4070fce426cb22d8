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
}
