//! `nethunt import zeek`: Zeek `conn.log` files (TSV or JSON lines, plain or gzip) into the ASIM
//! NetworkSession lake layout (`OUT/date=YYYY-MM-DD/part-*.parquet`), with `UrlHostname` taken
//! from `http.log` (Host header) or else `ssl.log` (SNI) of the same connection (`uid`).
//!
//! Mapping (as `../shared/data/real/README.md` describes Zeek-derived sessions):
//! `conn_state` SF, S1, OTH → `EventResult` Success; S0, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH,
//! SH, SHR → Failure; anything else NULL; the raw state stays in `ZeekConnState` (and
//! `EventResultDetails`). `proto` → `NetworkProtocol` upper-case; `service` →
//! `NetworkApplicationProtocol`; `local_orig`/`local_resp` → `NetworkDirection`
//! (Outbound/Inbound/Local/External); `duration` → `NetworkDuration` in milliseconds.
//!
//! Input is streamed: memory holds the hostname maps and one batch per day being written.
//! Uses: `output` (atomic Parquet files), `schema`, `error`.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::records::{Record, flatten_json, open, parse_ts, read_records};
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

/// `conn_state` → `EventResult`.
pub fn event_result(conn_state: &str) -> Option<&'static str> {
    match conn_state {
        "SF" | "S1" | "OTH" => Some("Success"),
        "S0" | "REJ" | "S2" | "S3" | "RSTO" | "RSTR" | "RSTOS0" | "RSTRH" | "SH" | "SHR" => {
            Some("Failure")
        }
        _ => None,
    }
}

fn direction(local_orig: Option<bool>, local_resp: Option<bool>) -> Option<&'static str> {
    match (local_orig?, local_resp?) {
        (true, false) => Some("Outbound"),
        (false, true) => Some("Inbound"),
        (true, true) => Some("Local"),
        (false, false) => Some("External"),
    }
}

/// Which Zeek log a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Conn,
    Http,
    Ssl,
}

/// Reads the records of one log, TSV (with `#fields`) or JSON lines, calling `f` for each.
fn for_each_record(path: &Path, f: impl FnMut(usize, &Record) -> Result<()>) -> Result<()> {
    read_records(open(path)?, path, f)
}

/// Parse a log held in memory (TSV or JSON lines, not compressed) into sessions, as an import
/// does, writing nothing: the number of sessions, or the error an import would report. The fuzz
/// tests' entry point.
pub fn parse_sessions(bytes: &[u8]) -> Result<usize> {
    let mut n = 0;
    read_records(
        std::io::Cursor::new(bytes),
        Path::new("<memory>"),
        |_, r| {
            session(r).map_err(Error::Config)?;
            n += 1;
            Ok(())
        },
    )?;
    Ok(n)
}

fn get<'a>(r: &'a Record, k: &str) -> Option<&'a str> {
    r.get(k).and_then(|v| v.as_deref())
}

fn get_int(r: &Record, k: &str) -> std::result::Result<Option<i64>, String> {
    match get(r, k) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("field {k}: expected a whole number, got '{v}'")),
    }
}

fn get_bool(r: &Record, k: &str) -> Option<bool> {
    match get(r, k)? {
        "T" | "true" => Some(true),
        "F" | "false" => Some(false),
        _ => None,
    }
}

/// One session, as it goes into the lake.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    pub ts: i64,
    pub conn_state: Option<String>,
    pub proto: Option<String>,
    pub version: Option<&'static str>,
    pub service: Option<String>,
    pub direction: Option<&'static str>,
    pub src: Option<String>,
    pub src_port: Option<i32>,
    pub dst: Option<String>,
    pub dst_port: Option<i32>,
    pub src_bytes: Option<i64>,
    pub dst_bytes: Option<i64>,
    pub src_pkts: Option<i64>,
    pub dst_pkts: Option<i64>,
    pub duration_ms: Option<i32>,
    pub host: Option<String>,
    pub uid: Option<String>,
}

/// A conn.log record as a session (the hostname is filled in later).
fn session(r: &Record) -> std::result::Result<Session, String> {
    let ts = parse_ts(get(r, "ts").ok_or("field ts is missing")?)
        .map_err(|e| format!("field ts: {e}"))?;
    let port = |k: &str| -> std::result::Result<Option<i32>, String> {
        match get_int(r, k)? {
            None => Ok(None),
            Some(p) if (0..=65535).contains(&p) => Ok(Some(p as i32)),
            Some(p) => Err(format!("field {k}: {p} is not a port number")),
        }
    };
    let duration_ms = match get(r, "duration") {
        None | Some("") => None,
        Some(d) => {
            let secs: f64 = d
                .parse()
                .map_err(|_| format!("field duration: expected seconds, got '{d}'"))?;
            Some((secs * 1000.0).round().clamp(0.0, i32::MAX as f64) as i32)
        }
    };
    let src = get(r, "id.orig_h").map(str::to_string);
    let version = src
        .as_deref()
        .map(|a| if a.contains(':') { "IPv6" } else { "IPv4" });
    Ok(Session {
        ts,
        conn_state: get(r, "conn_state").map(str::to_string),
        proto: get(r, "proto").map(str::to_ascii_uppercase),
        version,
        service: get(r, "service")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        direction: direction(get_bool(r, "local_orig"), get_bool(r, "local_resp")),
        src,
        src_port: port("id.orig_p")?,
        dst: get(r, "id.resp_h").map(str::to_string),
        dst_port: port("id.resp_p")?,
        src_bytes: get_int(r, "orig_bytes")?,
        dst_bytes: get_int(r, "resp_bytes")?,
        src_pkts: get_int(r, "orig_pkts")?,
        dst_pkts: get_int(r, "resp_pkts")?,
        duration_ms,
        host: None,
        uid: get(r, "uid").map(str::to_string),
    })
}

/// Sessions as a batch of [`schema`].
pub fn to_batch(rows: &[Session]) -> RecordBatch {
    let n = rows.len();
    let strs = |f: &dyn Fn(&Session) -> Option<&str>| -> ArrayRef {
        let mut b = StringBuilder::new();
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let i32s = |f: &dyn Fn(&Session) -> Option<i32>| -> ArrayRef {
        let mut b = Int32Builder::new();
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let i64s = |f: &dyn Fn(&Session) -> Option<i64>| -> ArrayRef {
        let mut b = Int64Builder::new();
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let mut time = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    for r in rows {
        time.append_value(r.ts);
    }
    // In the order of `schema()`: the generator's columns, then ZEEK_ASIM_COLUMNS, then
    // ZeekConnState.
    let cols: Vec<ArrayRef> = vec![
        Arc::new(time.finish()),
        Arc::new(arrow::array::Int32Array::from(vec![1; n])),
        strs(&|_| Some("NetworkSession")),
        strs(&|r| r.conn_state.as_deref().and_then(event_result)),
        strs(&|_| Some("Zeek")),
        strs(&|_| Some("Corelight")),
        strs(&|_| None), // DvcAction: Zeek observes, it does not act
        strs(&|r| r.proto.as_deref()),
        strs(&|r| r.direction),
        strs(&|r| r.src.as_deref()),
        i32s(&|r| r.src_port),
        strs(&|r| r.dst.as_deref()),
        i32s(&|r| r.dst_port),
        i64s(&|r| r.src_bytes),
        i64s(&|r| r.dst_bytes),
        i64s(&|r| r.src_pkts),
        i64s(&|r| r.dst_pkts),
        i32s(&|r| r.duration_ms),
        strs(&|r| r.host.as_deref()),
        strs(&|r| r.conn_state.as_deref()),
        strs(&|r| r.version),
        strs(&|r| r.service.as_deref()),
        strs(&|r| r.uid.as_deref()),
        strs(&|r| r.conn_state.as_deref()),
    ];
    RecordBatch::try_new(schema(), cols).expect("columns match the schema")
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
    buffer: Vec<Session>,
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

/// Import `inputs` (conn, http and ssl logs in any order; told apart by `#path` or their fields)
/// into the lake folder `out`. New files are added next to any already there, named by a hash
/// of the inputs (`date=*/zeek-<hash>.parquet`): a lake grows by imports, and importing the same
/// logs again writes nothing (`Imported::before` lists the files of the earlier import).
pub fn import(inputs: &[PathBuf], out: &Path) -> Result<Imported> {
    if inputs.is_empty() {
        return Err(Error::Config(
            "import zeek: give at least one conn.log".into(),
        ));
    }
    let name = format!("zeek-{}.parquet", inputs_hash(inputs)?);
    let before = imported_before(out, &name);
    if !before.is_empty() {
        return Ok(Imported {
            before,
            ..Imported::default()
        });
    }
    // Hostnames first: HTTP Host per uid, else TLS SNI.
    let mut http: HashMap<String, String> = HashMap::new();
    let mut sni: HashMap<String, String> = HashMap::new();
    let mut conns: Vec<&PathBuf> = Vec::new();
    for p in inputs {
        let kind = sniff(p)?;
        match kind {
            Kind::Conn => conns.push(p),
            Kind::Http | Kind::Ssl => {
                let (map, field) = if kind == Kind::Http {
                    (&mut http, "host")
                } else {
                    (&mut sni, "server_name")
                };
                for_each_record(p, |_, r| {
                    if let (Some(uid), Some(h)) = (get(r, "uid"), get(r, field))
                        && !h.is_empty()
                    {
                        let h = if kind == Kind::Http {
                            without_port(h)
                        } else {
                            h
                        };
                        map.entry(uid.to_string()).or_insert_with(|| h.to_string());
                    }
                    Ok(())
                })?;
            }
        }
    }
    if conns.is_empty() {
        return Err(Error::Config(
            "import zeek: no conn log among the inputs (http.log and ssl.log only add hostnames)"
                .into(),
        ));
    }
    // Folders made here are removed again if the import is interrupted while they are empty.
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
        d.buffer.sort_by_key(|s| s.ts);
        let b = to_batch(&d.buffer);
        d.buffer.clear();
        d.file.write(&b).map_err(|e| out_err(d.file.path(), e))
    };
    for p in conns {
        for_each_record(p, |_, r| {
            let mut s = session(r).map_err(Error::Config)?;
            if let Some(uid) = &s.uid {
                s.host = http.get(uid).or_else(|| sni.get(uid)).cloned();
            }
            let date = chrono::DateTime::from_timestamp_micros(s.ts)
                .ok_or_else(|| Error::Config(format!("field ts: {} is out of range", s.ts)))?
                .format("%Y-%m-%d")
                .to_string();
            if !days.contains_key(&date) {
                let dir = out.join(format!("date={date}"));
                made.push(
                    crate::output::make_folders(&dir).map_err(|e| out_err(&dir, e.to_string()))?,
                );
                let path = dir.join(&name);
                let file = ParquetFile::create(&path, schema(), props.clone())
                    .map_err(|e| out_err(&path, e))?;
                days.insert(
                    date.clone(),
                    DayFile {
                        file,
                        buffer: Vec::new(),
                    },
                );
            }
            let d = days.get_mut(&date).expect("inserted");
            done.rows += 1;
            done.with_hostname += s.host.is_some() as usize;
            d.buffer.push(s);
            if d.buffer.len() >= BATCH_ROWS {
                flush(d)?;
            }
            Ok(())
        })?;
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

/// A Host header without its port (`play.google.com:443`, as a proxy's CONNECT has it):
/// `name:digits` loses `:digits`; IPv6 literals and anything else stay as they are. The zeek
/// source parser does the same.
fn without_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty()
                && !name.contains(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        _ => host,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_directions() {
        for s in ["SF", "S1", "OTH"] {
            assert_eq!(event_result(s), Some("Success"));
        }
        for s in [
            "S0", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR",
        ] {
            assert_eq!(event_result(s), Some("Failure"));
        }
        assert_eq!(event_result("XYZ"), None);
        assert_eq!(direction(Some(true), Some(false)), Some("Outbound"));
        assert_eq!(direction(None, Some(false)), None);
        assert_eq!(without_port("play.google.com:443"), "play.google.com");
        assert_eq!(without_port("10.0.0.1:8080"), "10.0.0.1");
        assert_eq!(without_port("fe80::1"), "fe80::1");
        assert_eq!(without_port("example.com"), "example.com");
    }
}
