//! `nethunt import zeek`: Zeek `conn.log` files (TSV or JSON lines, plain or gzip) into the ASIM
//! NetworkSession lake layout (`OUT/date=YYYY-MM-DD/zeek-<hash>.parquet`), with `UrlHostname`
//! taken from `http.log` (Host header) or else `ssl.log` (SNI) of the same connection (`uid`).
//!
//! The mapping is not here: the sessions are what the zeek source parser's view
//! (`parsers/zeek.sql`) gives over the logs, so reading Zeek logs in place and importing them
//! are one definition. This module tells the logs apart, names the output by the inputs' hash
//! (the same logs twice: nothing written), and writes the sessions it is handed, day by day.
//!
//! Memory holds one batch of each day being written. Uses: `import` (records), `output` (atomic
//! Parquet files), `schema`, `error`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, SchemaRef, TimestampMicrosecondType};
use futures::StreamExt;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::records::{Record, flatten_json, open};
use crate::error::{Error, Result};
use crate::output::ParquetFile;

/// Rows buffered per day before they are written as a batch.
const BATCH_ROWS: usize = 64 * 1024;

/// ASIM columns Zeek fills beyond the ones every nethunt lake has.
const ZEEK_ASIM_COLUMNS: [&str; 4] = [
    "EventResultDetails",
    "NetworkProtocolVersion",
    "NetworkApplicationProtocol",
    "EventOriginalUid",
];

/// The lake schema `import zeek` writes: the same ASIM columns as `nethunt generate` (so the two
/// mix in one lake), then the other ASIM columns Zeek fills, then Zeek's raw connection state.
pub fn schema() -> SchemaRef {
    crate::schema::written_sessions(
        ZEEK_ASIM_COLUMNS
            .iter()
            .map(|n| crate::schema::field(n, true))
            .chain([Field::new("ZeekConnState", DataType::Utf8, true)]),
    )
}

/// Which Zeek log a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Conn,
    Http,
    Ssl,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    pub rows: usize,
    pub with_hostname: usize,
    pub files: Vec<PathBuf>,
    /// The files an earlier import of the same logs wrote; when there are any, nothing else is
    /// written.
    pub before: Vec<PathBuf>,
}

/// One day's output file, written to a temporary name and renamed when complete.
struct DayFile {
    file: ParquetFile,
    buffer: Vec<RecordBatch>,
    rows: usize,
}

/// A name for what `inputs` make: a hash of their bytes, whatever their order or names, so the
/// same logs imported again make the same file names.
fn inputs_hash(inputs: &[PathBuf]) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut digests = Vec::new();
    for p in inputs {
        let mut f = std::fs::File::open(p).map_err(|e| Error::Io {
            path: p.clone(),
            source: e,
        })?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).map_err(|e| Error::Io {
                path: p.clone(),
                source: e,
            })?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        digests.push(h.finalize().to_vec());
    }
    digests.sort();
    digests.dedup();
    let mut h = Sha256::new();
    for d in &digests {
        h.update(d);
    }
    Ok(h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Files of an earlier import of the same logs: `date=*/zeek-<hash>.parquet` under `out`.
fn imported_before(out: &Path, name: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join(name))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}

/// What to import: the logs told apart, and the name the output files get.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// `zeek-<hash of the inputs>.parquet`.
    pub name: String,
    pub conn: Vec<PathBuf>,
    pub http: Vec<PathBuf>,
    pub ssl: Vec<PathBuf>,
}

/// Tell `inputs` apart (conn, http and ssl logs in any order, by `#path` or their fields) and
/// name the output by their hash. `Err` for a log that is none of them; `Ok(Err(files))` when an
/// earlier import of the same logs into `out` wrote `files` (then nothing is to be done).
pub fn prepare(
    inputs: &[PathBuf],
    out: &Path,
) -> Result<std::result::Result<Prepared, Vec<PathBuf>>> {
    if inputs.is_empty() {
        return Err(Error::Config(
            "import zeek: give at least one conn.log".into(),
        ));
    }
    let name = format!("zeek-{}.parquet", inputs_hash(inputs)?);
    let before = imported_before(out, &name);
    if !before.is_empty() {
        return Ok(Err(before));
    }
    let mut p = Prepared {
        name,
        conn: vec![],
        http: vec![],
        ssl: vec![],
    };
    for path in inputs {
        match sniff(path)? {
            Kind::Conn => p.conn.push(path.clone()),
            Kind::Http => p.http.push(path.clone()),
            Kind::Ssl => p.ssl.push(path.clone()),
        }
    }
    if p.conn.is_empty() {
        return Err(Error::Config(
            "import zeek: no conn log among the inputs (http.log and ssl.log only add hostnames)"
                .into(),
        ));
    }
    Ok(Ok(p))
}

/// Write `sessions` (batches of [`schema`], in any order) into the lake folder `out`: one file
/// per day, `date=*/NAME`, each sorted by time within every batch written, renamed into place
/// only when every day is complete. New files go next to any already there: a lake grows by
/// imports.
pub async fn write(
    prepared: &Prepared,
    out: &Path,
    mut sessions: impl futures::Stream<Item = Result<RecordBatch>> + Unpin,
) -> Result<Imported> {
    // Folders made here are removed again if the import fails or is interrupted while empty.
    let mut made = vec![crate::output::make_folders(out).map_err(|e| Error::Output {
        path: out.to_path_buf(),
        msg: format!("cannot create the folder: {e}"),
    })?];
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(128 * 1024))
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Page)
        .build();
    let mut days: BTreeMap<String, DayFile> = BTreeMap::new();
    let mut done = Imported::default();
    let out_err = |path: &Path, e: String| Error::Output {
        path: path.to_path_buf(),
        msg: e,
    };
    let flush = |d: &mut DayFile| -> Result<()> {
        if d.buffer.is_empty() {
            return Ok(());
        }
        let all = arrow::compute::concat_batches(&schema(), &d.buffer)
            .map_err(|e| out_err(d.file.path(), e.to_string()))?;
        d.buffer.clear();
        d.rows = 0;
        let order = arrow::compute::sort_to_indices(all.column(0), None, None)
            .map_err(|e| out_err(d.file.path(), e.to_string()))?;
        let sorted = arrow::compute::take_record_batch(&all, &order)
            .map_err(|e| out_err(d.file.path(), e.to_string()))?;
        d.file.write(&sorted).map_err(|e| out_err(d.file.path(), e))
    };
    while let Some(batch) = sessions.next().await {
        let batch = batch?;
        done.rows += batch.num_rows();
        done.with_hostname += batch
            .column_by_name("UrlHostname")
            .map(|c| c.len() - c.null_count())
            .unwrap_or(0);
        let ts = batch.column(0).as_primitive::<TimestampMicrosecondType>();
        let mut by_day: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (i, t) in ts.iter().enumerate() {
            let t = t.ok_or_else(|| Error::Config("a session without TimeGenerated".into()))?;
            let date = chrono::DateTime::from_timestamp_micros(t)
                .ok_or_else(|| Error::Config(format!("field ts: {t} is out of range")))?
                .format("%Y-%m-%d")
                .to_string();
            by_day.entry(date).or_default().push(i as u32);
        }
        for (date, rows) in by_day {
            if !days.contains_key(&date) {
                let dir = out.join(format!("date={date}"));
                made.push(
                    crate::output::make_folders(&dir).map_err(|e| out_err(&dir, e.to_string()))?,
                );
                let path = dir.join(&prepared.name);
                let file = ParquetFile::create(&path, schema(), props.clone())
                    .map_err(|e| out_err(&path, e))?;
                days.insert(
                    date.clone(),
                    DayFile {
                        file,
                        buffer: Vec::new(),
                        rows: 0,
                    },
                );
            }
            let d = days.get_mut(&date).expect("inserted");
            let part =
                arrow::compute::take_record_batch(&batch, &arrow::array::UInt32Array::from(rows))
                    .map_err(|e| out_err(d.file.path(), e.to_string()))?;
            d.rows += part.num_rows();
            d.buffer.push(part);
            if d.rows >= BATCH_ROWS {
                flush(d)?;
            }
        }
    }
    // Every day is complete: finish the files, then rename them all. A failure before this point
    // leaves only temporary files, which are deleted as they drop.
    let mut finished = Vec::new();
    for (_, mut d) in days {
        flush(&mut d)?;
        let path = d.file.path().to_path_buf();
        finished.push(d.file.finish().map_err(|e| out_err(&path, e))?);
    }
    for file in finished {
        let path = file.path().to_path_buf();
        done.files
            .push(file.commit().map_err(|e| out_err(&path, e))?);
    }
    // The files are in place: the folders they are in stay (the guards go).
    drop(made);
    Ok(done)
}

/// Which log a file holds: `#path` for TSV, the fields of the first record for JSON.
fn sniff(path: &Path) -> Result<Kind> {
    let mut reader = open(path)?;
    let mut line = String::new();
    let mut n = 0;
    loop {
        line.clear();
        n += 1;
        let read = reader.read_line(&mut line).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        });
        let fail = |msg: &str| Error::QueryFile {
            path: path.to_path_buf(),
            line: Some(n),
            msg: msg.to_string(),
        };
        match read {
            Ok(0) => return Err(fail("empty: no Zeek records")),
            Err(_) => return Err(fail("not UTF-8 text (is this a Zeek log?)")),
            Ok(_) => {}
        }
        let l = line.trim();
        if l.is_empty() {
            continue;
        }
        if let Some(rest) = l.strip_prefix("#path") {
            return match rest.trim() {
                "conn" => Ok(Kind::Conn),
                "http" => Ok(Kind::Http),
                "ssl" => Ok(Kind::Ssl),
                other => Err(fail(&format!(
                    "a Zeek '{other}' log: only conn, http and ssl logs are read"
                ))),
            };
        }
        if l.starts_with('#') {
            continue;
        }
        if l.starts_with('{') {
            let mut rec = Record::new();
            let v: serde_json::Value =
                serde_json::from_str(l).map_err(|e| fail(&format!("not a JSON object: {e}")))?;
            let obj = v.as_object().ok_or_else(|| fail("not a JSON object"))?;
            flatten_json("", obj, &mut rec);
            return if rec.contains_key("conn_state") || rec.contains_key("orig_bytes") {
                Ok(Kind::Conn)
            } else if rec.contains_key("method") || rec.contains_key("status_code") {
                Ok(Kind::Http)
            } else if rec.contains_key("server_name") || rec.contains_key("cipher") {
                Ok(Kind::Ssl)
            } else {
                Err(fail(
                    "a JSON record that is not from a conn, http or ssl log",
                ))
            };
        }
        return Err(fail("not a Zeek log: no #path header and not JSON"));
    }
}
