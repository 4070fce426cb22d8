//! Domain functions: `second_level_domain` (exactly the seed query's regex) and
//! `registered_domain` (eTLD+1 from the Public Suffix List, ICANN section).

use std::sync::LazyLock;

use arrow::array::StringBuilder;
use datafusion::logical_expr::{Documentation, ScalarUDF};
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
    let mut end = host.len();
    for (count, (i, ch)) in host.char_indices().rev().enumerate() {
        if ch == '\n' || count + 1 > 7 {
            break;
        }
        if ch == '.' {
            end = i;
        }
    }
    let start = host[..end].rfind('.').map_or(0, |p| p + 1);
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

/// The `second_level_domain` scalar function.
pub fn second_level_domain_udf() -> ScalarUDF {
    kernel::UnaryStringUdf::<StringBuilder>::udf("second_level_domain", &SLD_DOC, |s, b| {
        b.append_value(second_level_domain(s))
    })
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
