//! Domain functions: `second_level_domain` (exactly the seed query's regex) and
//! `registered_domain` (eTLD+1 from the Public Suffix List, ICANN section).

use std::sync::LazyLock;

use std::sync::Arc;

use arrow::array::builder::make_view;
use arrow::array::{
    Array, ArrayRef, AsArray, ByteView, MAX_INLINE_VIEW_LEN, StringBuilder, StringViewArray,
    StringViewBuilder,
};
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use psl::Psl as _;
use psl::Type;

use crate::DOC_SECTION;
use crate::kernel;

/// Group 1 of `extract("([^.]*).{0,7}$", 1, host)` under Rust-regex / RE2 semantics, computed
/// without a regex: the leftmost label whose following text (from its terminating dot to the end)
/// is at most 7 code points long and holds no `\n` (`.` does not match a newline; `$` is the end
/// of the text). The last label always qualifies, so every string has an answer (`""` included).
///
/// Scanning from the right: every dot seen while the tail is still short enough is a candidate
/// end of the answer; the leftmost candidate wins.
pub fn second_level_domain(host: &str) -> &str {
    // On bytes: '.' and '\n' are ASCII, and code points are counted by their first bytes (a
    // UTF-8 continuation byte is 0b10xxxxxx), so no character is decoded.
    let b = host.as_bytes();
    let mut end = b.len();
    let mut chars = 0;
    for i in (0..b.len()).rev() {
        let c = b[i];
        if c & 0xC0 == 0x80 {
            continue;
        }
        chars += 1;
        if c == b'\n' || chars > 7 {
            break;
        }
        if c == b'.' {
            end = i;
        }
    }
    let start = b[..end]
        .iter()
        .rposition(|&c| c == b'.')
        .map_or(0, |p| p + 1);
    // Both ends are at an ASCII '.' or at an end of the string: char boundaries.
    &host[start..end]
}

/// Lower-case, strip one trailing dot and validate a hostname; `None` when it cannot be a DNS name.
fn normalize_host(host: &str) -> Option<String> {
    let mut h = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        host.to_lowercase()
    };
    if h.ends_with('.') {
        h.pop();
    }
    if h.is_empty() || h.len() > 253 {
        return None;
    }
    for label in h.split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        let ok = label.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || c == '-'
                || c == '_'
                || (!c.is_ascii() && c.is_alphanumeric())
        });
        if !ok {
            return None;
        }
    }
    // A numeric last label is never a TLD: this rejects IPv4 literals ("10.0.0.1") and their
    // truncations ("10.1"). IPv6 literals were rejected above (':' is not a hostname character).
    let last = h.rsplit('.').next()?;
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(h)
}

/// Length in bytes of the ICANN public suffix of `name` (lower-case, no trailing dot). When the
/// longest matching rule is in the PRIVATE section (e.g. `github.io`), its leftmost label is
/// dropped and the lookup repeats, until an ICANN rule (or the default `*` rule) answers.
fn icann_suffix_len(name: &[u8]) -> usize {
    let mut tail = name;
    loop {
        let info = psl::List.find(tail.rsplit(|b| *b == b'.'));
        if info.typ != Some(Type::Private) || info.len == 0 || info.len > tail.len() {
            return info.len;
        }
        let suffix = &tail[tail.len() - info.len..];
        match suffix.iter().position(|b| *b == b'.') {
            Some(p) => tail = &suffix[p + 1..],
            None => return info.len,
        }
    }
}

/// The registrable domain (eTLD+1) of `host`, lower-cased; `None` for IP addresses, invalid hosts
/// and hosts that are themselves a public suffix.
pub fn registered_domain(host: &str) -> Option<String> {
    let h = normalize_host(host)?;
    let suffix_len = icann_suffix_len(h.as_bytes());
    if suffix_len == 0 || h.len() < suffix_len + 2 {
        return None;
    }
    let before = &h[..h.len() - suffix_len - 1];
    let label_start = before.rfind('.').map_or(0, |p| p + 1);
    Some(h[label_start..].to_string())
}

// ---------------------------------------------------------------------------------------------

static SLD_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Exactly KQL extract(\"([^.]*).{0,7}$\", 1, host) as used by the Azure 'uncommon domains' \
         hunting query: the leftmost dot-separated label whose following suffix (dot included) is at \
         most 7 characters (code points) with no newline. Case is kept; ports and trailing dots are \
         not stripped; '' gives ''; NULL gives NULL. It is a label, not a registrable domain: \
         'www.google.com' -> 'google', 'bbc.co.uk' -> 'bbc', 'x.verylongtld' -> 'verylongtld'. \
         Use registered_domain for eTLD+1.",
        "second_level_domain(host)",
    )
    .with_argument("host", "String expression: a hostname.")
    .with_sql_example(
        "> SELECT second_level_domain('mail.google.com.au'), second_level_domain('a.b.c.d.e');\n\
         google, b",
    )
    .with_related_udf("registered_domain")
    .build()
});

/// The `second_level_domain` scalar function. It returns Utf8View: the answer is a substring of
/// the host, so for Utf8View and Utf8 input each result is a view into the input's own buffers
/// (no bytes are copied; short answers are inlined in the view).
pub fn second_level_domain_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(SldUdf {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SldUdf {
    signature: Signature,
}

/// A view of `sub`, a substring of `s`, where `s` starts at `offset` of data buffer `buffer`.
fn sub_view(s: &str, sub: &str, buffer: u32, offset: u32) -> u128 {
    let start = sub.as_ptr() as usize - s.as_ptr() as usize;
    make_view(sub.as_bytes(), buffer, offset + start as u32)
}

/// `second_level_domain` over a whole array, as views into the input where the input allows.
fn sld_array(array: &dyn Array) -> Result<ArrayRef> {
    let n = array.len();
    Ok(match array.data_type() {
        DataType::Utf8View => {
            let sv = array.as_string_view();
            let mut views: Vec<u128> = Vec::with_capacity(n);
            for (i, raw) in sv.views().iter().enumerate() {
                if sv.is_null(i) {
                    views.push(0);
                    continue;
                }
                let s = sv.value(i);
                let sub = second_level_domain(s);
                let len = *raw as u32;
                views.push(if len as usize <= MAX_INLINE_VIEW_LEN as usize {
                    // The host itself is inline; so is any part of it.
                    make_view(sub.as_bytes(), 0, 0)
                } else {
                    let v = ByteView::from(*raw);
                    sub_view(s, sub, v.buffer_index, v.offset)
                });
            }
            // SAFETY: every view is either inline or points at a substring (on char boundaries)
            // of a value in the same data buffers, which are passed on unchanged.
            Arc::new(unsafe {
                StringViewArray::new_unchecked(
                    views.into(),
                    sv.data_buffers().to_vec(),
                    sv.nulls().cloned(),
                )
            })
        }
        DataType::Utf8 if array.as_string::<i32>().values().len() <= u32::MAX as usize => {
            let sa = array.as_string::<i32>();
            let offsets = sa.value_offsets();
            let mut views: Vec<u128> = Vec::with_capacity(n);
            for (i, start) in offsets.iter().take(n).enumerate() {
                if sa.is_null(i) {
                    views.push(0);
                    continue;
                }
                let s = sa.value(i);
                views.push(sub_view(s, second_level_domain(s), 0, *start as u32));
            }
            // SAFETY: as above, with the input's value buffer as the only data buffer.
            Arc::new(unsafe {
                StringViewArray::new_unchecked(
                    views.into(),
                    vec![sa.values().clone()],
                    sa.nulls().cloned(),
                )
            })
        }
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let values = sld_array(dict.values().as_ref())?;
            arrow::compute::take(values.as_ref(), dict.keys(), None)?
        }
        DataType::Null => arrow::array::new_null_array(&DataType::Utf8View, n),
        _ => {
            // LargeUtf8 (offsets may not fit a view): copy.
            let utf8 = kernel::to_utf8(&arrow::array::make_array(array.to_data()))?;
            let sa = utf8.as_string::<i32>();
            let mut b = StringViewBuilder::with_capacity(n);
            for v in sa.iter() {
                b.append_option(v.map(second_level_domain));
            }
            Arc::new(b.finish())
        }
    })
}

impl ScalarUDFImpl for SldUdf {
    fn name(&self) -> &str {
        "second_level_domain"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8View)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        kernel::coerce_n_strings("second_level_domain", 1, arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match &args.args[0] {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(sld_array(a.as_ref())?)),
            ColumnarValue::Scalar(v) => {
                let out = sld_array(v.to_array_of_size(1)?.as_ref())?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
            }
        }
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&SLD_DOC)
    }
}

// ---------------------------------------------------------------------------------------------

static REG_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Registrable domain (eTLD+1) of a hostname from the embedded Public Suffix List, ICANN \
         section only (private entries such as github.io or blogspot.com are not suffixes here, so \
         'user.github.io' -> 'github.io'; unknown TLDs follow the PSL default rule '*'). The host is \
         lower-cased and one trailing dot removed. NULL for IP addresses, hosts with characters \
         outside [a-z0-9-_] and Unicode letters (ports, spaces, slashes), empty labels, and hosts \
         that are themselves a public suffix ('co.uk'). Like ClickHouse \
         cutToFirstSignificantSubdomain or BigQuery NET.REG_DOMAIN.",
        "registered_domain(host)",
    )
    .with_argument("host", "String expression: a hostname.")
    .with_sql_example(
        "> SELECT registered_domain('WWW.BBC.CO.UK'), registered_domain('10.0.0.1');\nbbc.co.uk, NULL",
    )
    .with_related_udf("second_level_domain")
    .build()
});

/// The `registered_domain` scalar function.
pub fn registered_domain_udf() -> ScalarUDF {
    kernel::UnaryStringUdf::<StringBuilder>::udf("registered_domain", &REG_DOC, |s, b| {
        b.append_option(registered_domain(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the semantics sheet's table (section 5).
    #[test]
    fn sld_sheet_examples() {
        let cases = [
            ("www.google.com", "google"),
            ("bbc.co.uk", "bbc"),
            ("a.b.c.d.e", "b"),
            ("x.verylongtld", "verylongtld"),
            (".com", ""),
            ("", ""),
            ("mail.google.com.au", "google"),
            ("example.technology", "technology"),
            ("www.google.com.", "google"),
            ("www.google.com:443", "com:443"),
            ("192.168.10.25", "168"),
            ("evil.amazon.phish", "amazon"),
            ("例え.テスト", "例え"),
            ("WWW.Google.COM", "Google"),
        ];
        for (host, want) in cases {
            assert_eq!(second_level_domain(host), want, "{host:?}");
        }
    }

    #[test]
    fn sld_newlines() {
        // '.' in the tail cannot match '\n': the start position fails and the match moves right.
        assert_eq!(second_level_domain("google.com\n"), "com\n");
        // A newline inside the chosen label is fine: [^.] matches it.
        assert_eq!(second_level_domain("www.goo\ngle.com"), "goo\ngle");
    }

    #[test]
    fn registered() {
        let cases = [
            ("www.google.com", Some("google.com")),
            ("WWW.BBC.CO.UK", Some("bbc.co.uk")),
            ("bbc.co.uk.", Some("bbc.co.uk")),
            ("user.github.io", Some("github.io")),
            ("a.b.c.blogspot.com", Some("blogspot.com")),
            ("co.uk", None),
            ("com", None),
            ("localhost", None),
            ("10.0.0.1", None),
            ("::1", None),
            ("google.com:443", None),
            ("a..b.com", None),
            ("", None),
            ("x.verylongtld", Some("x.verylongtld")),
            ("MÜNCHEN.de", Some("münchen.de")),
            ("_dmarc.example.com", Some("example.com")),
        ];
        for (host, want) in cases {
            assert_eq!(registered_domain(host).as_deref(), want, "{host:?}");
        }
    }
}
