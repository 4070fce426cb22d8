//! Typed query parameters: declared in a query file's header, given on the command line as
//! `--param name=value`, bound to DataFusion `$name` placeholders as values (never pasted as text).
//! Also the other typed values of the command line: sizes, intervals, instants. Uses: `error`.

use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::common::ScalarValue;
use datafusion::common::utils::SingleRowListArrayBuilder;

use crate::error::{Error, Result};

/// The types a parameter can be declared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Int,
    Float,
    String,
    Bool,
    /// A time span: `2m`, `90s`, `1h`, `1d`, `500ms`, or `'2 minutes'`.
    Interval,
    /// An instant: RFC 3339, `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS` (UTC).
    Timestamp,
    IntList,
    StringList,
}

impl ParamType {
    pub const ALL: [(&'static str, ParamType); 8] = [
        ("int", ParamType::Int),
        ("float", ParamType::Float),
        ("string", ParamType::String),
        ("bool", ParamType::Bool),
        ("interval", ParamType::Interval),
        ("timestamp", ParamType::Timestamp),
        ("int[]", ParamType::IntList),
        ("string[]", ParamType::StringList),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

impl FromStr for ParamType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                format!(
                    "unknown parameter type '{s}' (use one of: {})",
                    Self::ALL.map(|(n, _)| n).join(", ")
                )
            })
    }
}

/// Parse a command-line value as `ty`. The error names the expected form, not the parameter (the
/// caller adds that).
pub fn parse_value(ty: ParamType, text: &str) -> Result<ScalarValue, String> {
    let t = text.trim();
    match ty {
        ParamType::Int => t
            .parse::<i64>()
            .map(|v| ScalarValue::Int64(Some(v)))
            .map_err(|_| format!("expected an integer, got '{text}'")),
        ParamType::Float => t
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|v| ScalarValue::Float64(Some(v)))
            .ok_or_else(|| format!("expected a number, got '{text}'")),
        ParamType::String => Ok(ScalarValue::Utf8(Some(text.to_string()))),
        ParamType::Bool => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(ScalarValue::Boolean(Some(true))),
            "false" | "0" | "no" => Ok(ScalarValue::Boolean(Some(false))),
            _ => Err(format!("expected true or false, got '{text}'")),
        },
        ParamType::Interval => parse_interval(t).map(|nanos| {
            ScalarValue::IntervalMonthDayNano(Some(arrow::datatypes::IntervalMonthDayNano::new(
                0, 0, nanos,
            )))
        }),
        ParamType::Timestamp => parse_timestamp(t)
            .map(|us| ScalarValue::TimestampMicrosecond(Some(us), Some(Arc::from("UTC")))),
        ParamType::IntList => {
            let items = split_list(t);
            let mut v = Vec::with_capacity(items.len());
            for item in items {
                v.push(item.parse::<i64>().map_err(|_| {
                    format!("expected a list of integers, got '{item}' in '{text}'")
                })?);
            }
            Ok(list_scalar(Arc::new(Int64Array::from(v))))
        }
        ParamType::StringList => {
            let items: Vec<String> = split_list(t)
                .into_iter()
                .map(|s| s.trim_matches(|c| c == '\'' || c == '"').to_string())
                .collect();
            Ok(list_scalar(Arc::new(StringArray::from(items))))
        }
    }
}

fn list_scalar(values: ArrayRef) -> ScalarValue {
    ScalarValue::List(Arc::new(
        SingleRowListArrayBuilder::new(values).build_list_array(),
    ))
}

/// `443,53` or `[443, 53]`; an empty text or `[]` is the empty list.
fn split_list(t: &str) -> Vec<&str> {
    let inner = t
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(t)
        .trim();
    if inner.is_empty() {
        return Vec::new();
    }
    inner.split(',').map(str::trim).collect()
}

/// A positive time span in nanoseconds. KQL timespan literals (`2m`, `1h`, `30s`, `1d`, `100ms`,
/// `10us`/`10microseconds`) and SQL-style `'2 minutes'` are accepted.
pub fn parse_interval(t: &str) -> Result<i64, String> {
    let bad = || {
        format!("expected a positive time span such as 2m, 90s, 1h, 1d or '2 minutes', got '{t}'")
    };
    let s = t.trim().to_ascii_lowercase();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().map_err(|_| bad())?;
    let unit_nanos: f64 = match unit.trim() {
        "d" | "day" | "days" => 86_400e9,
        "h" | "hr" | "hour" | "hours" => 3_600e9,
        "m" | "min" | "minute" | "minutes" => 60e9,
        "s" | "sec" | "second" | "seconds" => 1e9,
        "ms" | "millisecond" | "milliseconds" => 1e6,
        "us" | "microsecond" | "microseconds" => 1e3,
        "ns" | "nanosecond" | "nanoseconds" => 1.0,
        _ => return Err(bad()),
    };
    let nanos = num * unit_nanos;
    if !(1.0..9.2e18).contains(&nanos) {
        return Err(bad());
    }
    Ok(nanos.round() as i64)
}

/// A size in bytes: `1048576`, `512K`, `64M`, `2G`, `1.5GiB` (powers of 1024).
pub fn parse_size(t: &str) -> Result<usize, String> {
    let s = t.trim().to_ascii_lowercase();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| format!("expected a size such as 512M or 2G, got '{t}'"))?;
    let mult: f64 = match unit.trim().trim_end_matches("ib").trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0f64.powi(4),
        _ => return Err(format!("expected a size such as 512M or 2G, got '{t}'")),
    };
    let bytes = num * mult;
    if !(1.0..1e18).contains(&bytes) {
        return Err(format!("expected a positive size, got '{t}'"));
    }
    Ok(bytes as usize)
}

pub use crate::schema::parse_timestamp;

/// A bound value as a user would write it: `2m` for an interval, RFC 3339 for an instant,
/// `[443, 53]` for a list (manifests and listings).
pub fn display_value(v: &ScalarValue) -> String {
    match v {
        ScalarValue::IntervalMonthDayNano(Some(i)) if i.months == 0 && i.days == 0 => {
            let ns = i.nanoseconds;
            for (unit, size) in [
                ("h", 3_600_000_000_000i64),
                ("m", 60_000_000_000),
                ("s", 1_000_000_000),
                ("ms", 1_000_000),
            ] {
                if ns != 0 && ns % size == 0 {
                    return format!("{}{unit}", ns / size);
                }
            }
            format!("{ns}ns")
        }
        ScalarValue::TimestampMicrosecond(Some(us), _) => {
            chrono::DateTime::from_timestamp_micros(*us)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                .unwrap_or_else(|| us.to_string())
        }
        other => other.to_string(),
    }
}

/// Convert a TOML default from a query header to the declared type.
pub fn from_toml(ty: ParamType, v: &toml::Value) -> Result<ScalarValue, String> {
    use toml::Value as V;
    match (ty, v) {
        (ParamType::Int, V::Integer(i)) => Ok(ScalarValue::Int64(Some(*i))),
        (ParamType::Float, V::Float(f)) => Ok(ScalarValue::Float64(Some(*f))),
        (ParamType::Float, V::Integer(i)) => Ok(ScalarValue::Float64(Some(*i as f64))),
        (ParamType::Bool, V::Boolean(b)) => Ok(ScalarValue::Boolean(Some(*b))),
        (ParamType::String | ParamType::Interval | ParamType::Timestamp, V::String(s)) => {
            parse_value(ty, s)
        }
        (ParamType::IntList, V::Array(items)) => {
            let v = items
                .iter()
                .map(|i| {
                    i.as_integer()
                        .ok_or_else(|| format!("expected integers, got {i}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(list_scalar(Arc::new(Int64Array::from(v))))
        }
        (ParamType::StringList, V::Array(items)) => {
            let v = items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("expected strings, got {i}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(list_scalar(Arc::new(StringArray::from(v))))
        }
        (ty, v) => Err(format!("default {v} is not a {}", ty.name())),
    }
}

/// Infer a type for an ad-hoc `nethunt sql --param` value: integer, then float, then string.
pub fn infer_value(text: &str) -> ScalarValue {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        ScalarValue::Int64(Some(i))
    } else if let Some(f) = t.parse::<f64>().ok().filter(|f| f.is_finite()) {
        ScalarValue::Float64(Some(f))
    } else {
        ScalarValue::Utf8(Some(text.to_string()))
    }
}

/// Split `name=value` from the command line.
pub fn split_assignment(arg: &str) -> Result<(String, String)> {
    match arg.split_once('=') {
        Some((n, v)) if is_identifier(n.trim()) => Ok((n.trim().to_string(), v.to_string())),
        _ => Err(Error::param(
            arg.split('=').next().unwrap_or(arg),
            format!("expected NAME=VALUE, got '{arg}'"),
        )),
    }
}

pub fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("2m"), Ok(120_000_000_000));
        assert_eq!(parse_interval("2 minutes"), Ok(120_000_000_000));
        assert_eq!(parse_interval("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_interval("1d"), Ok(86_400_000_000_000));
        for bad in ["", "2", "m", "-2m", "0m", "2 fortnights", "1e400d"] {
            assert!(parse_interval(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn displayed() {
        let iv = parse_value(ParamType::Interval, "2m").unwrap();
        assert_eq!(display_value(&iv), "2m");
        let iv = parse_value(ParamType::Interval, "90s").unwrap();
        assert_eq!(display_value(&iv), "90s");
        let ts = parse_value(ParamType::Timestamp, "2024-07-30").unwrap();
        assert_eq!(display_value(&ts), "2024-07-30T00:00:00Z");
        assert_eq!(display_value(&ScalarValue::Int64(Some(5))), "5");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01"), Ok(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Ok(1_000_000));
        assert_eq!(parse_timestamp("1970-01-01 00:01:00"), Ok(60_000_000));
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn lists_and_scalars() {
        assert!(
            matches!(parse_value(ParamType::IntList, "[443, 53]"), Ok(ScalarValue::List(l)) if l.value(0).len() == 2)
        );
        assert!(
            matches!(parse_value(ParamType::IntList, ""), Ok(ScalarValue::List(l)) if l.value(0).is_empty())
        );
        assert!(parse_value(ParamType::IntList, "443,x").is_err());
        assert!(parse_value(ParamType::Int, "5x").is_err());
        assert_eq!(
            parse_value(ParamType::Int, " 7 "),
            Ok(ScalarValue::Int64(Some(7)))
        );
        assert!(parse_value(ParamType::Bool, "maybe").is_err());
        assert!(parse_value(ParamType::Float, "NaN").is_err());
    }

    #[test]
    fn assignments() {
        assert_eq!(
            split_assignment("a=b=c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert!(split_assignment("novalue").is_err());
        assert!(split_assignment("1x=2").is_err());
    }
}
