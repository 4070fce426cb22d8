//! The ASIM NetworkSession schema, once: every column nethunt knows, with its canonical Arrow type
//! and the type family a lake's files may use for it, and the `top1m` domain list's shape.
//! Everything that writes sessions (`generate`, `import`) or checks them (`lake`) reads it from
//! here. Uses: nothing of nethunt's.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The sessions table every query reads.
pub const SESSIONS: &str = "NetworkSessions";
/// The domain popularity list (the seed's `externaldata`).
pub const DOMAINS: &str = "top1m";

/// Type families the ASIM columns must belong to. Widths may differ between files (Int32 vs
/// Int64); the table reads them as the first file's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    String,
    Integer,
    Timestamp,
    Float,
    Bool,
}

impl Family {
    pub fn accepts(self, t: &DataType) -> bool {
        match self {
            Family::String => {
                matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
                    || matches!(t, DataType::Dictionary(_, v) if Family::String.accepts(v))
            }
            Family::Integer => t.is_integer(),
            Family::Timestamp => matches!(t, DataType::Timestamp(_, _)),
            Family::Float => t.is_floating() || t.is_integer(),
            Family::Bool => t == &DataType::Boolean,
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Family::String => "a string",
            Family::Integer => "an integer",
            Family::Timestamp => "a timestamp",
            Family::Float => "a number",
            Family::Bool => "a boolean",
        }
    }
}

/// The canonical Arrow type of a column: what nethunt writes (ASIM's int, long, real, bool,
/// string and datetime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// datetime: microseconds, UTC
    Time,
    /// int
    Int,
    /// long
    Long,
    /// real
    Real,
    Bool,
    Str,
}

impl Kind {
    fn family(self) -> Family {
        match self {
            Kind::Time => Family::Timestamp,
            Kind::Int | Kind::Long => Family::Integer,
            Kind::Real => Family::Float,
            Kind::Bool => Family::Bool,
            Kind::Str => Family::String,
        }
    }
    fn data_type(self) -> DataType {
        match self {
            Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Int => DataType::Int32,
            Kind::Long => DataType::Int64,
            Kind::Real => DataType::Float64,
            Kind::Bool => DataType::Boolean,
            Kind::Str => DataType::Utf8,
        }
    }
}

/// The ASIM NetworkSession columns nethunt knows (schema 0.2.x, with the 0.1 names still seen in
/// the wild), in the order a written lake has them.
const COLUMNS: &[(&str, Kind)] = &[
    ("TimeGenerated", Kind::Time),
    ("EventCount", Kind::Int),
    ("EventType", Kind::Str),
    ("EventResult", Kind::Str),
    ("EventProduct", Kind::Str),
    ("EventVendor", Kind::Str),
    ("DvcAction", Kind::Str),
    ("NetworkProtocol", Kind::Str),
    ("NetworkDirection", Kind::Str),
    ("SrcIpAddr", Kind::Str),
    ("SrcPortNumber", Kind::Int),
    ("DstIpAddr", Kind::Str),
    ("DstPortNumber", Kind::Int),
    ("SrcBytes", Kind::Long),
    ("DstBytes", Kind::Long),
    ("SrcPackets", Kind::Long),
    ("DstPackets", Kind::Long),
    ("NetworkDuration", Kind::Int),
    ("UrlHostname", Kind::Str),
    ("EventResultDetails", Kind::Str),
    ("NetworkProtocolVersion", Kind::Str),
    ("NetworkApplicationProtocol", Kind::Str),
    ("EventOriginalUid", Kind::Str),
    ("EventStartTime", Kind::Time),
    ("EventEndTime", Kind::Time),
    ("ThreatFirstReportedTime", Kind::Time),
    ("ThreatLastReportedTime", Kind::Time),
    ("SrcNatPortNumber", Kind::Int),
    ("DstNatPortNumber", Kind::Int),
    ("NetworkBytes", Kind::Long),
    ("NetworkPackets", Kind::Long),
    ("NetworkIcmpCode", Kind::Int),
    ("NetworkRuleNumber", Kind::Int),
    ("ThreatRiskLevel", Kind::Int),
    ("SrcGeoLatitude", Kind::Real),
    ("SrcGeoLongitude", Kind::Real),
    ("DstGeoLatitude", Kind::Real),
    ("DstGeoLongitude", Kind::Real),
    ("TcpFlagsAck", Kind::Bool),
    ("TcpFlagsFin", Kind::Bool),
    ("TcpFlagsSyn", Kind::Bool),
    ("TcpFlagsUrg", Kind::Bool),
    ("TcpFlagsPsh", Kind::Bool),
    ("TcpFlagsRst", Kind::Bool),
    ("TcpFlagsEce", Kind::Bool),
    ("TcpFlagsCwr", Kind::Bool),
    ("TcpFlagsNs", Kind::Bool),
    ("SrcNatIpAddr", Kind::Str),
    ("DstNatIpAddr", Kind::Str),
    ("DvcIpAddr", Kind::Str),
    ("EventSubType", Kind::Str),
    ("EventSeverity", Kind::Str),
    ("EventSchema", Kind::Str),
    ("EventSchemaVersion", Kind::Str),
    ("DvcHostname", Kind::Str),
    ("UrlOriginal", Kind::Str),
    ("UrlCategory", Kind::Str),
    ("SrcHostname", Kind::Str),
    ("DstHostname", Kind::Str),
    ("SrcFQDN", Kind::Str),
    ("DstFQDN", Kind::Str),
    ("SrcDomain", Kind::Str),
    ("DstDomain", Kind::Str),
    ("Dvc", Kind::Str),
    ("Src", Kind::Str),
    ("Dst", Kind::Str),
    ("NetworkSessionId", Kind::Str),
    ("SrcUsername", Kind::Str),
    ("DstUsername", Kind::Str),
    ("SrcMacAddr", Kind::Str),
    ("DstMacAddr", Kind::Str),
    ("SrcAppName", Kind::Str),
    ("DstAppName", Kind::Str),
    ("DvcFQDN", Kind::Str),
    ("DvcId", Kind::Str),
    ("SrcDvcId", Kind::Str),
    ("DstDvcId", Kind::Str),
    ("NetworkRuleName", Kind::Str),
    ("SrcGeoCountry", Kind::Str),
    ("SrcGeoRegion", Kind::Str),
    ("SrcGeoCity", Kind::Str),
    ("DstGeoCountry", Kind::Str),
    ("DstGeoRegion", Kind::Str),
    ("DstGeoCity", Kind::Str),
];

/// The columns every nethunt-written lake has (`generate` writes exactly these; `import zeek`
/// adds its own after them), and whether they may be NULL.
const WRITTEN: &[(&str, bool)] = &[
    ("TimeGenerated", false),
    ("EventCount", false),
    ("EventType", false),
    ("EventResult", true),
    ("EventProduct", false),
    ("EventVendor", false),
    ("DvcAction", true),
    ("NetworkProtocol", true),
    ("NetworkDirection", true),
    ("SrcIpAddr", true),
    ("SrcPortNumber", true),
    ("DstIpAddr", true),
    ("DstPortNumber", true),
    ("SrcBytes", true),
    ("DstBytes", true),
    ("SrcPackets", true),
    ("DstPackets", true),
    ("NetworkDuration", true),
    ("UrlHostname", true),
];

fn kind(col: &str) -> Option<Kind> {
    COLUMNS.iter().find(|(n, _)| *n == col).map(|(_, k)| *k)
}

/// The type family of a known ASIM NetworkSession column.
pub fn family(col: &str) -> Option<Family> {
    kind(col).map(Kind::family)
}

/// Every ASIM column nethunt knows, with its canonical type, in the order of a written lake.
pub fn columns() -> impl Iterator<Item = Field> {
    COLUMNS
        .iter()
        .map(|(n, k)| Field::new(*n, k.data_type(), true))
}

/// The field of ASIM column `name` with its canonical type. Panics on a name that is not an
/// ASIM column: callers name columns in code, and a test covers every such name.
pub fn field(name: &str, nullable: bool) -> Field {
    let k = kind(name).unwrap_or_else(|| panic!("{name} is not an ASIM column"));
    Field::new(name, k.data_type(), nullable)
}

/// The schema of the sessions nethunt writes: [`WRITTEN`], then `extra` fields.
pub fn written_sessions(extra: impl IntoIterator<Item = Field>) -> SchemaRef {
    let mut fields: Vec<Field> = WRITTEN.iter().map(|(n, null)| field(n, *null)).collect();
    fields.extend(extra);
    Arc::new(Schema::new(fields))
}

/// The type a table reads a column as when one file stores it as `t`: strings of every encoding
/// (Utf8, LargeUtf8, dictionary) as Utf8View and binaries as BinaryView, as DataFusion reads
/// Parquet strings; other types as they are.
pub fn read_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8View,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => DataType::BinaryView,
        DataType::Dictionary(_, v) => read_type(v),
        other => other.clone(),
    }
}

/// The type that holds the values of both `a` and `b` (read types), within one family:
/// integers of different widths as Int64 (UInt64 when both are unsigned), integers and floats
/// as Float64, timestamps of different units or zones as microseconds in UTC. `None` when the
/// two are of different families (a string and an integer).
pub fn widen(a: &DataType, b: &DataType) -> Option<DataType> {
    if a == b {
        return Some(a.clone());
    }
    let unsigned = |t: &DataType| t.is_unsigned_integer();
    Some(match (a, b) {
        (a, b) if a.is_integer() && b.is_integer() => {
            if unsigned(a) && unsigned(b) {
                DataType::UInt64
            } else {
                DataType::Int64
            }
        }
        (a, b) if a.is_numeric() && b.is_numeric() && !a.is_decimal() && !b.is_decimal() => {
            DataType::Float64
        }
        (DataType::Timestamp(_, _), DataType::Timestamp(_, _)) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        _ => return None,
    })
}

/// `top1m(Position INT, Domain STRING)`.
pub fn domains() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("Position", DataType::Int32, true),
        Field::new("Domain", DataType::Utf8, true),
    ]))
}

/// An instant in microseconds since the epoch; naive forms are UTC.
pub fn parse_timestamp(t: &str) -> Result<i64, String> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(dt.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_micros());
    }
    Err(format!(
        "expected a timestamp (RFC 3339, 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS', UTC), got '{t}'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_written_column_is_known_once() {
        for (n, _) in WRITTEN {
            assert!(kind(n).is_some(), "{n}");
        }
        for (i, (n, _)) in COLUMNS.iter().enumerate() {
            assert!(
                !COLUMNS[i + 1..].iter().any(|(m, _)| m == n),
                "{n} is listed twice"
            );
        }
        // The canonical types the sample lake was written with.
        let s = written_sessions([]);
        assert_eq!(s.fields().len(), 19);
        assert_eq!(
            s.field_with_name("DstPortNumber").unwrap().data_type(),
            &DataType::Int32
        );
        assert_eq!(
            s.field_with_name("SrcBytes").unwrap().data_type(),
            &DataType::Int64
        );
        assert!(!s.field_with_name("TimeGenerated").unwrap().is_nullable());
        assert_eq!(family("SrcGeoLatitude"), Some(Family::Float));
        assert_eq!(family("ZeekConnState"), None);
    }

    #[test]
    fn widening_stays_in_the_family() {
        use DataType::*;
        let dict = Dictionary(Box::new(Int32), Box::new(Utf8));
        assert_eq!(read_type(&dict), Utf8View);
        assert_eq!(read_type(&LargeUtf8), Utf8View);
        assert_eq!(widen(&Int32, &Int64), Some(Int64));
        assert_eq!(widen(&Int8, &UInt32), Some(Int64));
        assert_eq!(widen(&UInt16, &UInt32), Some(UInt64));
        assert_eq!(widen(&Int32, &Float32), Some(Float64));
        assert_eq!(
            widen(
                &Timestamp(TimeUnit::Nanosecond, None),
                &Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            ),
            Some(Timestamp(TimeUnit::Microsecond, Some("UTC".into())))
        );
        assert_eq!(widen(&Utf8View, &Int64), None);
        assert_eq!(widen(&Boolean, &Int32), None);
    }
}
