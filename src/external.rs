//! External reference tables, KQL `externaldata` done properly: download over HTTP(S) (or read a
//! local file), select zip entries, parse CSV against declared columns, and keep the result as
//! Parquet in a user cache, so queries run offline.
//!
//! Cache layout: `<root>/tables/<name>/meta.json` plus the Parquet file that meta.json names.
//! A refresh writes a new Parquet file under a fresh name, then replaces meta.json (the commit
//! point, an atomic rename), then removes the old file. Any failure before that rename leaves the
//! previous cache untouched and usable.
//!
//! Zip entry names are only matched against the pattern, never used as paths (no zip-slip).

use std::io::{Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The seed query's list: Cisco Umbrella's top 1M, a zip holding one headerless `rank,domain` CSV.
pub const UMBRELLA_URL: &str = "http://s3-us-west-1.amazonaws.com/umbrella-static/top-1m.csv.zip";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int,
    Long,
    Real,
    String,
    Bool,
}

impl ColType {
    fn parse(s: &str) -> Option<ColType> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "int" => ColType::Int,
            "long" => ColType::Long,
            "real" | "double" => ColType::Real,
            "string" => ColType::String,
            "bool" | "boolean" => ColType::Bool,
            _ => return None,
        })
    }
    fn data_type(self) -> DataType {
        match self {
            ColType::Int => DataType::Int32,
            ColType::Long => DataType::Int64,
            ColType::Real => DataType::Float64,
            ColType::String => DataType::Utf8,
            ColType::Bool => DataType::Boolean,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Csv,
    Parquet,
}

/// A table a query declares in its header (`[tables.NAME]`), like KQL `externaldata`.
#[derive(Debug, Clone)]
pub struct ExternalTable {
    pub name: String,
    pub url: String,
    pub format: SourceFormat,
    pub zip_pattern: String,
    pub columns: Vec<Column>,
    /// How old a cached copy may be before `run` checks the source again (conditional GET).
    pub refresh: Option<Duration>,
}

impl ExternalTable {
    /// `top1m(Position:int, Domain:string)` from Umbrella, as the seed declares it.
    pub fn top1m(url: &str) -> ExternalTable {
        ExternalTable {
            name: crate::tables::DOMAINS.to_string(),
            url: url.to_string(),
            format: SourceFormat::Csv,
            zip_pattern: "*.csv".to_string(),
            columns: vec![
                Column {
                    name: "Position".into(),
                    ty: ColType::Int,
                },
                Column {
                    name: "Domain".into(),
                    ty: ColType::String,
                },
            ],
            refresh: Some(Duration::from_secs(86_400)),
        }
    }

    /// Parse a `[tables.NAME]` header table.
    pub fn from_toml(name: &str, t: &toml::Table) -> std::result::Result<ExternalTable, String> {
        let s = |k: &str| t.get(k).and_then(|v| v.as_str());
        for k in t.keys() {
            if !["url", "format", "zip_pattern", "columns", "refresh"].contains(&k.as_str()) {
                return Err(format!(
                    "unknown key '{k}' (use url, format, zip_pattern, columns, refresh)"
                ));
            }
        }
        let url = s("url").ok_or("missing 'url'")?.to_string();
        let format = match s("format").unwrap_or("csv") {
            "csv" => SourceFormat::Csv,
            "parquet" => SourceFormat::Parquet,
            other => return Err(format!("format '{other}' is not csv or parquet")),
        };
        let columns = t
            .get("columns")
            .and_then(|v| v.as_array())
            .ok_or("missing 'columns' (an array of \"Name:type\")")?
            .iter()
            .map(|c| {
                let text = c
                    .as_str()
                    .ok_or_else(|| format!("column {c} is not a string"))?;
                let (n, ty) = text
                    .split_once(':')
                    .ok_or_else(|| format!("column '{text}' is not Name:type"))?;
                let ty = ColType::parse(ty).ok_or_else(|| {
                    format!("column '{text}': type is not int, long, real, string or bool")
                })?;
                Ok(Column {
                    name: n.trim().to_string(),
                    ty,
                })
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        if columns.is_empty() {
            return Err("'columns' is empty".into());
        }
        let refresh = match s("refresh") {
            None => None,
            Some(r) => Some(Duration::from_nanos(
                crate::params::parse_interval(r)? as u64
            )),
        };
        Ok(ExternalTable {
            name: name.to_string(),
            url,
            format,
            zip_pattern: s("zip_pattern").unwrap_or("*.csv").to_string(),
            columns,
            refresh,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(&c.name, c.ty.data_type(), true))
                .collect::<Vec<_>>(),
        ))
    }
}

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

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// Longest wait for any bytes of the response (a stalled server fails after this).
    pub read_timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    /// Draw a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(500),
            progress: true,
        }
    }
}

/// What is recorded beside a cached table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub table: String,
    pub url: String,
    pub zip_pattern: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// When the data was last downloaded (RFC 3339, UTC).
    pub fetched_at: String,
    /// When the source was last checked (a 304 updates this only).
    pub checked_at: String,
    pub rows: usize,
    pub download_bytes: u64,
    /// The Parquet file, relative to the table's cache folder.
    pub file: String,
}

/// `--cache-dir`, else `$NETHUNT_CACHE_DIR` (via clap), else `$XDG_CACHE_HOME/nethunt`, else
/// `~/.cache/nethunt`.
pub fn cache_root(dir: Option<&Path>) -> PathBuf {
    if let Some(d) = dir {
        return d.to_path_buf();
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("nethunt");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("nethunt")
}

fn table_dir(root: &Path, name: &str) -> PathBuf {
    root.join("tables").join(name)
}

/// The cached copy of `name`: its metadata and the Parquet file, if both are there.
pub fn cached(root: &Path, name: &str) -> Option<(Meta, PathBuf)> {
    let dir = table_dir(root, name);
    let text = std::fs::read_to_string(dir.join("meta.json")).ok()?;
    let meta: Meta = serde_json::from_str(&text).ok()?;
    let file = dir.join(&meta.file);
    file.is_file().then_some((meta, file))
}

/// Every cached table.
pub fn status(root: &Path) -> Vec<(Meta, PathBuf)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root.join("tables")) {
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for n in names {
            if let Some(c) = cached(root, &n) {
                out.push(c);
            }
        }
    }
    out
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Age of a cached copy, from its `checked_at`.
pub fn age(meta: &Meta) -> Option<Duration> {
    let t = chrono::DateTime::parse_from_rfc3339(&meta.checked_at).ok()?;
    (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .to_std()
        .ok()
}

/// An http(s) URL (fetched over the network), as opposed to a local path.
pub fn is_remote(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// The result of one fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Downloaded,
    NotModified,
}

enum Body {
    NotModified,
    Bytes {
        data: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// One attempt's failure: whether trying again may help.
struct AttemptError {
    retry: bool,
    msg: String,
}

fn describe(e: &reqwest::Error, opts: &HttpOptions) -> AttemptError {
    let msg = if e.is_timeout() {
        format!(
            "timed out (no data for {}s)",
            opts.read_timeout.as_secs_f64()
        )
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else if e.is_body() || e.is_decode() {
        "the connection closed before the whole body arrived".to_string()
    } else {
        // innermost cause, one line
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        cause.to_string()
    };
    AttemptError { retry: true, msg }
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    prev: Option<&Meta>,
    limits: &Limits,
    opts: &HttpOptions,
) -> std::result::Result<Body, AttemptError> {
    let mut req = client.get(url);
    if let Some(m) = prev {
        if let Some(e) = &m.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, e);
        }
        if let Some(l) = &m.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, l);
        }
    }
    let mut resp = req.send().await.map_err(|e| describe(&e, opts))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED && prev.is_some() {
        return Ok(Body::NotModified);
    }
    if !status.is_success() {
        return Err(AttemptError {
            retry: status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS,
            msg: format!("HTTP {status}"),
        });
    }
    if let Some(len) = resp.content_length()
        && len > limits.max_download
    {
        return Err(AttemptError {
            retry: false,
            msg: format!(
                "the body is {len} bytes, over the {} byte limit",
                limits.max_download
            ),
        });
    }
    let header = |h| {
        resp.headers()
            .get(h)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header(reqwest::header::ETAG);
    let last_modified = header(reqwest::header::LAST_MODIFIED);
    let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();

    let bar = if opts.progress {
        let b = indicatif::ProgressBar::with_draw_target(
            resp.content_length(),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}",
        ) {
            b.set_style(style);
        }
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut data =
        Vec::with_capacity(resp.content_length().unwrap_or(0).min(limits.max_download) as usize);
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                data.extend_from_slice(&chunk);
                bar.set_position(data.len() as u64);
                if data.len() as u64 > limits.max_download {
                    bar.finish_and_clear();
                    return Err(AttemptError {
                        retry: false,
                        msg: format!("the body exceeds the {} byte limit", limits.max_download),
                    });
                }
            }
            Ok(None) => break,
            Err(e) => {
                bar.finish_and_clear();
                return Err(describe(&e, opts));
            }
        }
    }
    bar.finish_and_clear();
    let head = String::from_utf8_lossy(&data[..data.len().min(512)])
        .trim_start()
        .to_ascii_lowercase();
    if content_type.starts_with("text/html")
        || head.starts_with("<!doctype html")
        || head.starts_with("<html")
    {
        return Err(AttemptError {
            retry: false,
            msg: "the server sent an HTML page, not the data (an error or login page?)".into(),
        });
    }
    Ok(Body::Bytes {
        data,
        etag,
        last_modified,
    })
}

async fn download(
    url: &str,
    prev: Option<&Meta>,
    limits: &Limits,
    opts: &HttpOptions,
) -> Result<Body> {
    let fail = |msg: String| Error::Fetch {
        url: url.to_string(),
        msg,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(opts.connect_timeout)
        .read_timeout(opts.read_timeout)
        .user_agent(concat!("nethunt/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(format!("cannot build an HTTP client: {e}")))?;
    let mut delay = opts.backoff;
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt(&client, url, prev, limits, opts).await {
            Ok(b) => return Ok(b),
            Err(e) if e.retry && tries <= opts.retries => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                let after = if tries > 1 {
                    format!(" (after {tries} attempts)")
                } else {
                    String::new()
                };
                return Err(fail(format!("{}{after}", e.msg)));
            }
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
        if entry.is_dir() || !crate::tables::glob_match(pattern, &name) {
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
    let lines = bytes.split(|b| *b == b'\n').enumerate();
    let mut index: Vec<usize> = (0..cols.len()).collect();
    let mut first = true;
    let mut expect_fields: Option<usize> = None;
    let mut values: Vec<Vec<String>> = vec![Vec::new(); cols.len()];
    for (n, raw) in lines {
        let line_no = n + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.len() > limits.max_line {
            return Err(format!(
                "line {line_no} is longer than {} bytes",
                limits.max_line
            ));
        }
        if raw.is_empty() {
            continue;
        }
        let line =
            std::str::from_utf8(raw).map_err(|_| format!("line {line_no} is not valid UTF-8"))?;
        let fields: Vec<&str> = line
            .split(',')
            .map(|f| f.trim().trim_matches('"'))
            .collect();
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

fn write_atomic(dir: &Path, final_name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".nethunt-")
        .suffix(".partial")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dir.join(final_name)).map_err(|e| e.error)?;
    Ok(())
}

/// Fetch `table` into the cache (conditional GET when the cache holds the same URL) and return
/// the cached copy. Nothing in the cache changes unless the new copy is complete and valid.
pub async fn fetch(
    table: &ExternalTable,
    root: &Path,
    http: &HttpOptions,
    limits: &Limits,
) -> Result<(Meta, PathBuf, Outcome)> {
    let url = &table.url;
    let fail = |msg: String| Error::Fetch {
        url: url.clone(),
        msg,
    };
    let dir = table_dir(root, &table.name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| fail(format!("cache folder {}: {e}", dir.display())))?;
    let prev = cached(root, &table.name)
        .filter(|(m, _)| &m.url == url && m.zip_pattern == table.zip_pattern);

    let body = if is_remote(url) {
        download(url, prev.as_ref().map(|(m, _)| m), limits, http).await?
    } else {
        let path = url.strip_prefix("file://").unwrap_or(url);
        let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
        if meta.len() > limits.max_download {
            return Err(fail(format!(
                "the file is {} bytes, over the {} byte limit",
                meta.len(),
                limits.max_download
            )));
        }
        Body::Bytes {
            data: std::fs::read(path).map_err(|e| fail(e.to_string()))?,
            etag: None,
            last_modified: None,
        }
    };
    match body {
        Body::NotModified => {
            let (mut meta, file) =
                prev.expect("conditional requests are only sent with a cached copy");
            meta.checked_at = now_rfc3339();
            let text = serde_json::to_vec_pretty(&meta).expect("serialisable");
            write_atomic(&dir, "meta.json", &text).map_err(|e| fail(format!("cache: {e}")))?;
            Ok((meta, file, Outcome::NotModified))
        }
        Body::Bytes {
            data,
            etag,
            last_modified,
        } => {
            let download_bytes = data.len() as u64;
            let batch = decode(data, table, limits).map_err(fail)?;
            let mut buf = Vec::new();
            {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                    .build();
                let mut w =
                    parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))
                        .map_err(|e| fail(e.to_string()))?;
                w.write(&batch).map_err(|e| fail(e.to_string()))?;
                w.close().map_err(|e| fail(e.to_string()))?;
            }
            let now = now_rfc3339();
            let file = format!(
                "data-{}.parquet",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.9f")
            );
            write_atomic(&dir, &file, &buf).map_err(|e| fail(format!("cache: {e}")))?;
            let meta = Meta {
                table: table.name.clone(),
                url: url.clone(),
                zip_pattern: table.zip_pattern.clone(),
                etag,
                last_modified,
                fetched_at: now.clone(),
                checked_at: now,
                rows: batch.num_rows(),
                download_bytes,
                file: file.clone(),
            };
            let text = serde_json::to_vec_pretty(&meta).expect("serialisable");
            if let Err(e) = write_atomic(&dir, "meta.json", &text) {
                let _ = std::fs::remove_file(dir.join(&file));
                return Err(fail(format!("cache: {e}")));
            }
            // The new copy is committed; older data files are garbage now.
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    let n = e.file_name().to_string_lossy().to_string();
                    if n.starts_with("data-") && n != file {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
            Ok((meta, dir.join(file), Outcome::Downloaded))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn header_tables() {
        let t: toml::Table = "url = \"http://x/y.zip\"\ncolumns = [\"Position:int\", \"Domain:string\"]\nrefresh = \"1d\"".parse().unwrap();
        let e = ExternalTable::from_toml("top1m", &t).unwrap();
        assert_eq!(e.columns, cols());
        assert_eq!(e.refresh, Some(Duration::from_secs(86_400)));
        let t: toml::Table = "url = \"u\"\ncolumns = [\"Position:integer\"]"
            .parse()
            .unwrap();
        assert!(
            ExternalTable::from_toml("t", &t)
                .unwrap_err()
                .contains("type")
        );
    }
}
