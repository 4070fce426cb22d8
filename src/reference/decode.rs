//! Turning a reference table's bytes into rows: zip entries chosen by a pattern (names are never
//! used as paths), CSV against declared columns (headers recognised by name), or Parquet; with
//! limits on what a source may make us unpack. Uses: `lake` (the entry glob), `error`.

use std::io::{Cursor, Read, Seek};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{Field, Schema};

use super::{ColType, Column, ExternalTable, SourceFormat};

/// Bounds on what a source may make us download, unpack and parse.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_download: u64,
    pub max_unzipped: u64,
    /// Largest uncompressed/compressed size ratio of a zip entry (a zip bomb has thousands).
    pub max_ratio: u64,
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_download: 512 << 20,
            max_unzipped: 1 << 30,
            max_ratio: 100,
            max_line: 4096,
        }
    }
}

/// The bytes of the entries of a zip archive whose names match `pattern`, concatenated (each
/// ends with a newline). Names are only matched, never used as paths.
pub fn unzip_matching<R: Read + Seek>(
    r: R,
    pattern: &str,
    limits: &Limits,
) -> std::result::Result<Vec<u8>, String> {
    let mut zip = zip::ZipArchive::new(r).map_err(|e| format!("not a valid zip archive ({e})"))?;
    let mut out = Vec::new();
    let mut names = Vec::new();
    let mut matched = 0;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| format!("corrupt zip entry #{i} ({e})"))?;
        let name = match entry.name() {
            Ok(n) => n.to_string(),
            Err(_) => String::from_utf8_lossy(entry.name_raw()).into_owned(),
        };
        names.push(name.clone());
        if entry.is_dir() || !crate::lake::listing::glob_match(pattern, &name) {
            continue;
        }
        let declared = entry.size();
        if declared > 1 << 20 && declared / entry.compressed_size().max(1) > limits.max_ratio {
            return Err(format!(
                "entry '{name}' expands {}x ({declared} bytes), over the {}x limit (zip bomb?)",
                declared / entry.compressed_size().max(1),
                limits.max_ratio
            ));
        }
        let budget = limits.max_unzipped.saturating_sub(out.len() as u64);
        let before = out.len();
        (&mut entry)
            .take(budget + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("cannot unzip entry '{name}' ({e})"))?;
        if out.len() as u64 > limits.max_unzipped {
            return Err(format!(
                "entries expand to more than {} bytes (zip bomb?)",
                limits.max_unzipped
            ));
        }
        if out.len() > before && !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        matched += 1;
    }
    if matched == 0 {
        return Err(format!(
            "no zip entry matches '{pattern}' (entries: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    Ok(out)
}

const RANK_ALIASES: [&str; 4] = ["rank", "globalrank", "position", "#"];

/// Parse CSV text into the declared columns. A first line that names a declared column (or
/// `rank`/`GlobalRank`/`domain`) and does not start with a number is a header: columns are then
/// taken by name (Majestic's `GlobalRank,TldRank,Domain,...` works); otherwise by position
/// (Umbrella and Tranco: `rank,domain`). Values that do not parse as the declared type are NULL,
/// as KQL's externaldata gives; a missing string is ''.
pub fn parse_csv(
    bytes: &[u8],
    cols: &[Column],
    limits: &Limits,
) -> std::result::Result<RecordBatch, String> {
    // Physical lines first: the line limit holds whatever the quoting.
    for (n, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        if raw.len() > limits.max_line {
            return Err(format!(
                "line {} is longer than {} bytes",
                n + 1,
                limits.max_line
            ));
        }
    }
    // RFC 4180 records: a quoted field may hold commas (a watchlist's "389,636") and quotes.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut index: Vec<usize> = (0..cols.len()).collect();
    let mut first = true;
    let mut expect_fields: Option<usize> = None;
    let mut values: Vec<Vec<String>> = vec![Vec::new(); cols.len()];
    let mut record = csv::StringRecord::new();
    loop {
        let line_no = reader.position().line() as usize;
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => format!("line {line_no} is not valid UTF-8"),
                    _ => format!("line {line_no}: {e}"),
                });
            }
        }
        let line_no = record.position().map_or(line_no, |p| p.line() as usize);
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        let fields: Vec<&str> = record.iter().collect();
        if first {
            first = false;
            let starts_numeric = fields[0].parse::<i64>().is_ok();
            let names_a_column = fields.iter().any(|f| {
                cols.iter().any(|c| c.name.eq_ignore_ascii_case(f))
                    || RANK_ALIASES.iter().any(|a| a.eq_ignore_ascii_case(f))
                    || f.eq_ignore_ascii_case("domain")
            });
            if !starts_numeric && names_a_column {
                for (ci, c) in cols.iter().enumerate() {
                    let pos = fields
                        .iter()
                        .position(|f| f.eq_ignore_ascii_case(&c.name))
                        .or_else(|| {
                            // aliases by role: the first integer column is the rank, the first string the domain
                            match c.ty {
                                ColType::Int | ColType::Long => fields.iter().position(|f| {
                                    RANK_ALIASES.iter().any(|a| a.eq_ignore_ascii_case(f))
                                }),
                                ColType::String => {
                                    fields.iter().position(|f| f.eq_ignore_ascii_case("domain"))
                                }
                                _ => None,
                            }
                        });
                    index[ci] = pos.ok_or_else(|| {
                        format!("the header (line {line_no}) has no column {}", c.name)
                    })?;
                }
                expect_fields = Some(fields.len());
                continue;
            }
        }
        match expect_fields {
            None => expect_fields = Some(fields.len()),
            Some(k) if k != fields.len() => {
                return Err(format!(
                    "line {line_no} has {} fields, the first row has {k}",
                    fields.len()
                ));
            }
            Some(_) => {}
        }
        for (ci, &fi) in index.iter().enumerate() {
            let v = fields.get(fi).ok_or_else(|| {
                format!(
                    "line {line_no} has {} field(s), column {} needs {}",
                    fields.len(),
                    cols[ci].name,
                    fi + 1
                )
            })?;
            values[ci].push((*v).to_string());
        }
    }
    let arrays: Vec<ArrayRef> = cols
        .iter()
        .zip(values)
        .map(|(c, vals)| -> ArrayRef {
            match c.ty {
                ColType::Int => {
                    let mut b = Int32Builder::with_capacity(vals.len());
                    vals.iter().for_each(|v| b.append_option(v.parse().ok()));
                    Arc::new(b.finish())
                }
                ColType::Long => {
                    let mut b = Int64Builder::with_capacity(vals.len());
                    vals.iter().for_each(|v| b.append_option(v.parse().ok()));
                    Arc::new(b.finish())
                }
                ColType::Real => {
                    let mut b = Float64Builder::with_capacity(vals.len());
                    vals.iter().for_each(|v| b.append_option(v.parse().ok()));
                    Arc::new(b.finish())
                }
                ColType::DateTime => {
                    let mut b =
                        TimestampMicrosecondBuilder::with_capacity(vals.len()).with_timezone("UTC");
                    vals.iter()
                        .for_each(|v| b.append_option(crate::schema::parse_timestamp(v).ok()));
                    Arc::new(b.finish())
                }
                ColType::Bool => {
                    let mut b = BooleanBuilder::with_capacity(vals.len());
                    vals.iter()
                        .for_each(|v| b.append_option(v.to_ascii_lowercase().parse().ok()));
                    Arc::new(b.finish())
                }
                ColType::String => {
                    let mut b = StringBuilder::with_capacity(
                        vals.len(),
                        vals.iter().map(|v| v.len()).sum(),
                    );
                    vals.iter().for_each(|v| b.append_value(v));
                    Arc::new(b.finish())
                }
            }
        })
        .collect();
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|c| Field::new(&c.name, c.ty.data_type(), true))
            .collect::<Vec<_>>(),
    ));
    RecordBatch::try_new(schema, arrays).map_err(|e| e.to_string())
}

/// Turn downloaded (or read) bytes into the table: unzip when it is a zip, then CSV or Parquet.
pub fn decode(
    data: Vec<u8>,
    table: &ExternalTable,
    limits: &Limits,
) -> std::result::Result<RecordBatch, String> {
    let payload = if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        unzip_matching(Cursor::new(data), &table.zip_pattern, limits)?
    } else {
        data
    };
    let batch = match table.format {
        SourceFormat::Csv => parse_csv(&payload, &table.columns, limits)?,
        SourceFormat::Parquet => {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                bytes::Bytes::from(payload),
            )
            .map_err(|e| format!("not a readable Parquet file ({e})"))?
            .build()
            .map_err(|e| format!("not a readable Parquet file ({e})"))?;
            let batches = reader
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let target = table.schema();
            let mut cols = Vec::new();
            let all = arrow::compute::concat_batches(
                &batches
                    .first()
                    .map(|b| b.schema())
                    .unwrap_or_else(|| target.clone()),
                &batches,
            )
            .map_err(|e| e.to_string())?;
            for f in target.fields() {
                let c = all
                    .schema()
                    .fields()
                    .iter()
                    .position(|x| x.name().eq_ignore_ascii_case(f.name()))
                    .ok_or_else(|| format!("column {} is missing", f.name()))?;
                cols.push(
                    arrow::compute::cast(all.column(c), f.data_type())
                        .map_err(|e| format!("column {}: {e}", f.name()))?,
                );
            }
            RecordBatch::try_new(target, cols).map_err(|e| e.to_string())?
        }
    };
    if batch.num_rows() == 0 {
        return Err("the source holds no rows".into());
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::UMBRELLA_URL;

    fn cols() -> Vec<Column> {
        ExternalTable::top1m(UMBRELLA_URL).columns
    }

    fn strings(b: &RecordBatch, i: usize) -> Vec<String> {
        let c = b
            .column(i)
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        c.iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn layouts() {
        let l = Limits::default();
        let b = parse_csv(b"1,google.com\r\n2,facebook.com\n", &cols(), &l).unwrap();
        assert_eq!(strings(&b, 1), ["google.com", "facebook.com"]);
        let b = parse_csv(
            b"GlobalRank,TldRank,Domain,TLD\n1,1,google.com,com\n2,2,x.org,org\n",
            &cols(),
            &l,
        )
        .unwrap();
        assert_eq!(strings(&b, 1), ["google.com", "x.org"]);
        let p = b
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int32Array>()
            .unwrap();
        assert_eq!(p.value(1), 2);
        let b = parse_csv(b"rank,domain\n1,a.com\n", &cols(), &l).unwrap();
        assert_eq!(b.num_rows(), 1);
        // a non-numeric rank is NULL, as KQL gives
        let b = parse_csv(b"x,a.com\n", &cols(), &l).unwrap();
        assert!(arrow::array::Array::is_null(b.column(0).as_ref(), 0));
    }

    /// RFC 4180 quoting (a watchlist's "389,636"), datetimes in the declared column, and a
    /// quoted field spanning lines counted on the line it starts.
    #[test]
    fn quoted_fields_and_datetimes() {
        let l = Limits::default();
        let c = vec![
            Column {
                name: "Ports".into(),
                ty: ColType::String,
            },
            Column {
                name: "Seen".into(),
                ty: ColType::DateTime,
            },
        ];
        let b = parse_csv(
            b"Ports,Seen\n\"389,636\",2024-07-30T01:02:03Z\n\"say \"\"hi\"\"\",2024-07-30\n23,soon\n",
            &c,
            &l,
        )
        .unwrap();
        assert_eq!(strings(&b, 0), ["389,636", "say \"hi\"", "23"]);
        let t = b
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!(t.value(0), 1_722_301_323_000_000);
        assert_eq!(t.value(1), 1_722_297_600_000_000);
        assert!(arrow::array::Array::is_null(t, 2));
        let e = parse_csv(b"Ports,Seen\n\"a\nb\",x\n1,2,3\n", &c, &l).unwrap_err();
        assert!(e.contains("line 4"), "{e}");
    }

    #[test]
    fn bad_csv() {
        let l = Limits {
            max_line: 20,
            ..Limits::default()
        };
        assert!(
            parse_csv(b"1,a.com\n2,b.com,c\n", &cols(), &l)
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            parse_csv(b"1,a.com\n2,\xff\xfe.com\n", &cols(), &l)
                .unwrap_err()
                .contains("line 2 is not valid UTF-8")
        );
        assert!(
            parse_csv(b"1,aaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\n", &cols(), &l)
                .unwrap_err()
                .contains("longer than 20")
        );
        assert!(
            parse_csv(b"1\n", &cols(), &l)
                .unwrap_err()
                .contains("column Domain")
        );
    }
}
