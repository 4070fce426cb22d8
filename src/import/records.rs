//! Reading log records, shared by `import zeek` and the lake's text sources: Zeek TSV (with its
//! `#separator`/`#fields` header and escapes), JSON lines (nested objects and dotted keys both
//! become dotted names), and space-separated text with a header line of field names (AWS VPC
//! Flow Logs, `-` for no value); gzip or plain, told apart by the magic bytes.
//! Uses: `error`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{Error, Result};

/// One record: field name → value (`None` for unset).
pub type Record = HashMap<String, Option<String>>;

/// Open a log, gunzipping when it starts with the gzip magic bytes.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let io = |e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let mut r = BufReader::new(std::fs::File::open(path).map_err(io)?);
    // Peek at the first bytes without consuming them: gzip starts with 1f 8b.
    let gzip = r.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(r)))
    } else {
        Box::new(r)
    })
}

/// Zeek's TSV escapes (`\x09`, `\\`) decoded. Works on bytes: a `\x` followed by anything but
/// two hex digits (a multi-byte character, say) stays as it is.
pub fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1] == b'x'
            && let (Some(hi), Some(lo)) = (hex(b[i + 2]), hex(b[i + 3]))
        {
            out.push(hi << 4 | lo);
            i += 4;
        } else if b[i] == b'\\' && i + 1 < b.len() && b[i + 1] == b'\\' {
            out.push(b'\\');
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An error at a line of the log at `path`.
fn at_line(path: &Path) -> impl Fn(usize, String) -> Error + '_ {
    move |line, msg| Error::QueryFile {
        path: path.to_path_buf(),
        line: Some(line),
        msg,
    }
}

/// The records of a log read from `reader` (`path` names it in errors).
pub fn read_records(
    reader: impl BufRead,
    path: &Path,
    mut f: impl FnMut(usize, &Record) -> Result<()>,
) -> Result<()> {
    let err = at_line(path);
    let mut fields: Vec<String> = Vec::new();
    let mut sep = "\t".to_string();
    let mut unset = "-".to_string();
    let mut empty = "(empty)".to_string();
    let mut rec: Record = HashMap::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let line = String::from_utf8(line)
            .map_err(|_| err(n, "not UTF-8 text (is this a Zeek log?)".into()))?;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        if let Some(h) = line.strip_prefix('#') {
            let (key, rest) = h.split_once([' ', '\t']).unwrap_or((h, ""));
            match key {
                "separator" => sep = unescape(rest.trim()),
                "unset_field" => unset = rest.trim_start_matches(sep.as_str()).to_string(),
                "empty_field" => empty = rest.trim_start_matches(sep.as_str()).to_string(),
                "fields" => {
                    fields = rest
                        .split(sep.as_str())
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                }
                _ => {}
            }
            continue;
        }
        rec.clear();
        if line.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| err(n, format!("not a JSON object: {e}")))?;
            let obj = v
                .as_object()
                .ok_or_else(|| err(n, "not a JSON object".into()))?;
            flatten_json("", obj, &mut rec);
        } else {
            if fields.is_empty() {
                return Err(err(
                    n,
                    "not a Zeek log: no #fields header before the first record".into(),
                ));
            }
            let values: Vec<&str> = line.split(sep.as_str()).collect();
            if values.len() != fields.len() {
                return Err(err(
                    n,
                    format!("{} values for {} #fields", values.len(), fields.len()),
                ));
            }
            for (k, v) in fields.iter().zip(values) {
                let v = if v == unset {
                    None
                } else if v == empty {
                    Some(String::new())
                } else {
                    Some(unescape(v))
                };
                rec.insert(k.clone(), v);
            }
        }
        f(n, &rec).map_err(|e| match e {
            Error::Config(m) => err(n, m),
            other => other,
        })?;
    }
    Ok(())
}

/// `{"id": {"orig_h": ..}}` and `{"id.orig_h": ..}` both become `id.orig_h`.
pub fn flatten_json(
    prefix: &str,
    obj: &serde_json::Map<String, serde_json::Value>,
    out: &mut Record,
) {
    for (k, v) in obj {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            serde_json::Value::Object(o) => flatten_json(&key, o, out),
            serde_json::Value::Null => {
                out.insert(key, None);
            }
            serde_json::Value::String(s) => {
                out.insert(key, Some(s.clone()));
            }
            serde_json::Value::Array(a) => {
                let parts: Vec<String> = a
                    .iter()
                    .map(|x| match x {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                out.insert(key, Some(parts.join(",")));
            }
            other => {
                out.insert(key, Some(other.to_string()));
            }
        }
    }
}

/// A Zeek `time`: epoch seconds with a fraction (exact, no float rounding) or ISO 8601.
pub fn parse_ts(s: &str) -> std::result::Result<i64, String> {
    let bad = || format!("expected epoch seconds or an ISO 8601 time, got '{s}'");
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    // Suricata writes `2021-06-06T15:57:37.272281+0200` (no colon in the offset).
    if let Ok(t) = chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(t.timestamp_micros());
    }
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = int.parse().map_err(|_| bad())?;
    // Digits past the microsecond (JSON writers print floats such as 81.35792000000001) are
    // dropped, as they always were.
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let mut micros = 0i64;
    for (i, d) in frac.bytes().take(6).enumerate() {
        micros += (d - b'0') as i64 * 10i64.pow(5 - i as u32);
    }
    secs.checked_mul(1_000_000)
        .and_then(|v| v.checked_add(micros))
        .ok_or_else(bad)
}

/// A reader over `bytes`, gunzipped when they start with the gzip magic bytes.
pub fn decompress(bytes: &[u8]) -> Box<dyn BufRead + '_> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(bytes)))
    } else {
        Box::new(bytes)
    }
}

/// The records of any text log in `reader`: a first line starting with `{` or `#` is read as
/// JSON lines or Zeek TSV ([`read_records`]); any other first line is a header of field names
/// for space-separated records ([`read_spaced`]).
pub fn read_any(
    mut reader: impl BufRead,
    path: &Path,
    f: impl FnMut(usize, &Record) -> Result<()>,
) -> Result<()> {
    let first = reader
        .fill_buf()
        .map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    match first {
        Some(b'{') | Some(b'#') | None => read_records(reader, path, f),
        Some(_) => read_spaced(reader, path, f),
    }
}

/// Space-separated records under a header line of field names (AWS VPC Flow Logs text). Names
/// are bound by the header, not by position, with `-` read as `_` (`account-id` is
/// `account_id`, as in AWS's Parquet delivery); a value `-` is no value.
pub fn read_spaced(
    reader: impl BufRead,
    path: &Path,
    mut f: impl FnMut(usize, &Record) -> Result<()>,
) -> Result<()> {
    let err = at_line(path);
    let mut header: Option<Vec<String>> = None;
    let mut rec: Record = HashMap::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| err(n, format!("cannot read: {e}")))?;
        let line = std::str::from_utf8(&line).map_err(|_| err(n, "not UTF-8 text".into()))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(names) = &header else {
            header = Some(
                line.split_whitespace()
                    .map(|w| w.replace('-', "_"))
                    .collect(),
            );
            continue;
        };
        let values: Vec<&str> = line.split_whitespace().collect();
        if values.len() != names.len() {
            return Err(err(
                n,
                format!(
                    "{} values for the {} fields of the header line",
                    values.len(),
                    names.len()
                ),
            ));
        }
        rec.clear();
        for (k, v) in names.iter().zip(values) {
            rec.insert(k.clone(), (v != "-").then(|| v.to_string()));
        }
        f(n, &rec).map_err(|e| match e {
            Error::Config(m) => err(n, m),
            other => other,
        })?;
    }
    Ok(())
}

/// The field names of the first record of a text log (for telling formats apart): the keys of
/// the first JSON object, Zeek's `#fields`, or the header line of space-separated records.
/// `None` when the text shows none in its first lines.
pub fn first_keys(bytes: &[u8]) -> Option<Vec<String>> {
    let mut keys = None;
    let mut lines = 0;
    let _ = read_any(decompress(bytes), Path::new(""), |_, r| {
        keys = Some(r.keys().cloned().collect());
        Err(Error::Config(String::new()))
    });
    if keys.is_some() {
        return keys;
    }
    // A Zeek TSV log whose records did not fit in `bytes`: its #fields line still names them.
    for line in decompress(bytes).lines() {
        lines += 1;
        let Ok(line) = line else { break };
        if let Some(rest) = line.strip_prefix("#fields") {
            return Some(
                rest.split('\t')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            );
        }
        if lines > 20 {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        read_any(text.as_bytes(), Path::new("t.log"), |_, r| {
            out.push(r.clone());
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn spaced_records_are_bound_by_header_name() {
        let r = records("version srcaddr log-status\n2 10.0.0.1 OK\n5 - NODATA").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0]["srcaddr"].as_deref(), Some("10.0.0.1"));
        assert_eq!(r[1]["srcaddr"], None);
        assert_eq!(r[1]["log_status"].as_deref(), Some("NODATA"));
        let e = records("a b\n1 2 3\n").unwrap_err().to_string();
        assert_eq!(e, "t.log:2: 3 values for the 2 fields of the header line");
    }

    #[test]
    fn json_nested_and_dotted_keys_agree() {
        let r = records("{\"id.orig_h\":\"a\",\"flow\":{\"start\":\"x\"}}\n").unwrap();
        assert_eq!(r[0]["id.orig_h"].as_deref(), Some("a"));
        assert_eq!(r[0]["flow.start"].as_deref(), Some("x"));
        assert!(first_keys(b"{\"a\":1}").unwrap().contains(&"a".to_string()));
        assert_eq!(first_keys(b"x y-z\n1 2").unwrap().len(), 2);
    }

    #[test]
    fn times() {
        assert_eq!(parse_ts("1714417137.321305"), Ok(1_714_417_137_321_305));
        assert_eq!(parse_ts("1714417137.3"), Ok(1_714_417_137_300_000));
        assert_eq!(parse_ts("1714417137"), Ok(1_714_417_137_000_000));
        assert_eq!(
            parse_ts("2024-04-29T18:58:57.321305Z"),
            Ok(1_714_417_137_321_305)
        );
        assert_eq!(
            parse_ts("2024-04-29T20:58:57.321305+0200"),
            Ok(1_714_417_137_321_305)
        );
        assert!(parse_ts("x").is_err());
        assert!(parse_ts("1.2.3").is_err());
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape("\\x09"), "\t");
        assert_eq!(unescape("a\\x2cb"), "a,b");
        assert_eq!(unescape("plain"), "plain");
    }
}
