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
//! Uses: `lake` (store URLs, zip-entry globs), `output` (atomic files), `schema`, `error`.

pub mod decode;
pub mod domains;
pub mod http;
pub mod resolve;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::output::{AtomicFile, zstd_properties};
pub use decode::Limits;
use decode::decode;
pub use http::HttpOptions;
use http::{Body, download};

/// The seed query's list: Cisco Umbrella's top 1M, a zip holding one headerless `rank,domain` CSV.
/// Fetched over HTTPS: the list decides which domains are *not* reported, so nobody on the
/// network path may change it.
pub const UMBRELLA_URL: &str = "https://s3-us-west-1.amazonaws.com/umbrella-static/top-1m.csv.zip";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int,
    Long,
    Real,
    String,
    Bool,
    /// An instant (KQL `datetime`): RFC 3339 or `YYYY-MM-DD[ HH:MM:SS[.f]]`, read as UTC.
    DateTime,
}

impl ColType {
    /// `int`, `long`, `real`/`double`, `string`, `bool`/`boolean`, `datetime`/`date`, as in KQL
    /// `externaldata`.
    pub fn parse(s: &str) -> Option<ColType> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "int" => ColType::Int,
            "long" => ColType::Long,
            "real" | "double" => ColType::Real,
            "string" => ColType::String,
            "bool" | "boolean" => ColType::Bool,
            "datetime" | "date" => ColType::DateTime,
            _ => return None,
        })
    }
    pub fn data_type(self) -> DataType {
        match self {
            ColType::Int => DataType::Int32,
            ColType::Long => DataType::Int64,
            ColType::Real => DataType::Float64,
            ColType::String => DataType::Utf8,
            ColType::Bool => DataType::Boolean,
            ColType::DateTime => {
                DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()))
            }
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
    /// Where it is fetched from; empty when the table has no public source and is the user's
    /// to give (`--table NAME=PATH`), with a bundled `example`.
    pub url: String,
    pub format: SourceFormat,
    pub zip_pattern: String,
    pub columns: Vec<Column>,
    /// How old a cached copy may be before `run` checks the source again (conditional GET).
    pub refresh: Option<Duration>,
    /// A bundled example file (`data/tables/`), read when the user gives no `--table NAME=...`.
    pub example: Option<String>,
}

impl ExternalTable {
    /// `top1m(Position:int, Domain:string)` from Umbrella, as the seed declares it.
    pub fn top1m(url: &str) -> ExternalTable {
        ExternalTable {
            name: crate::schema::DOMAINS.to_string(),
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
            example: None,
        }
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
    /// SHA-256 of the downloaded bytes (hex), to compare with the source's own.
    #[serde(default)]
    pub sha256: Option<String>,
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
    /// The refresh shrank the list drastically: it is held aside (`pending.json`), and the
    /// previous list stays in use until [`accept`].
    HeldAside,
}

/// A refresh from the same source that loses more than half of the rows is held aside: a list
/// that decides which domains are *not* reported must not shrink behind the user's back.
fn drastic(previous_rows: usize, rows: usize) -> bool {
    rows.saturating_mul(2) < previous_rows
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A list held aside by a refresh, if any: its metadata and the Parquet file.
pub fn pending(root: &Path, name: &str) -> Option<(Meta, PathBuf)> {
    let dir = table_dir(root, name);
    let text = std::fs::read_to_string(dir.join("pending.json")).ok()?;
    let meta: Meta = serde_json::from_str(&text).ok()?;
    let file = dir.join(&meta.file);
    file.is_file().then_some((meta, file))
}

/// Make the list held aside the one in use (`domains fetch --accept`).
pub fn accept(root: &Path, name: &str) -> Result<(Meta, PathBuf)> {
    let dir = table_dir(root, name);
    let fail = |msg: String| Error::Config(format!("{name} cache {}: {msg}", dir.display()));
    let (mut meta, file) = pending(root, name).ok_or_else(|| {
        fail("no list is held aside (`nethunt domains status` shows what is cached)".into())
    })?;
    let data = meta.file.replacen("pending-", "data-", 1);
    std::fs::rename(&file, dir.join(&data)).map_err(|e| fail(e.to_string()))?;
    meta.file = data.clone();
    let text = serde_json::to_vec_pretty(&meta).expect("serialisable");
    AtomicFile::write(&dir.join("meta.json"), &text).map_err(fail)?;
    let _ = std::fs::remove_file(dir.join("pending.json"));
    remove_stale(&dir, &["data-", "pending-"], &data);
    Ok((meta, dir.join(data)))
}

/// Remove the files of `dir` whose names start with one of `prefixes`, but `keep` (after a new
/// copy is committed).
fn remove_stale(dir: &Path, prefixes: &[&str], keep: &str) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if prefixes.iter().any(|p| n.starts_with(p)) && n != keep {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The warning for a list held aside.
pub fn held_aside_warning(root: &Path, current: &Meta) -> String {
    let held = pending(root, &current.table)
        .map(|(m, _)| m.rows.to_string())
        .unwrap_or_else(|| "?".into());
    format!(
        "nethunt: warning: the new {} list from {} has {held} rows against {} in use: it lost \
         more than half, so it is held aside and the list in use stays; check it with `nethunt \
         domains status`, take it with `nethunt domains fetch --accept`",
        current.table,
        crate::error::redact(&current.url),
        current.rows
    )
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
    // The list in use from this source: the base of a conditional GET (same zip pattern) and
    // what a refresh is compared with.
    let current = cached(root, &table.name).filter(|(m, _)| &m.url == url);
    let prev = current
        .clone()
        .filter(|(m, _)| m.zip_pattern == table.zip_pattern);

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
            AtomicFile::write(&dir.join("meta.json"), &text)
                .map_err(|e| fail(format!("cache: {e}")))?;
            Ok((meta, file, Outcome::NotModified))
        }
        Body::Bytes {
            data,
            etag,
            last_modified,
        } => {
            let download_bytes = data.len() as u64;
            let sha256 = sha256_hex(&data);
            let batch = decode(data, table, limits).map_err(fail)?;
            let now = now_rfc3339();
            // A refresh (the same source as the list in use) that shrinks it drastically is held
            // aside; a new source is the user's explicit choice and replaces the list.
            let held = current
                .as_ref()
                .is_some_and(|(m, _)| drastic(m.rows, batch.num_rows()));
            let file = format!(
                "{}-{}.parquet",
                if held { "pending" } else { "data" },
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.9f")
            );
            crate::output::ParquetFile::write_all(
                &dir.join(&file),
                batch.schema(),
                zstd_properties(),
                std::slice::from_ref(&batch),
            )
            .map_err(|e| fail(format!("cache: {e}")))?;
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
                sha256: Some(sha256),
                file: file.clone(),
            };
            let text = serde_json::to_vec_pretty(&meta).expect("serialisable");
            let commit = if held { "pending.json" } else { "meta.json" };
            if let Err(e) = AtomicFile::write(&dir.join(commit), &text) {
                let _ = std::fs::remove_file(dir.join(&file));
                return Err(fail(format!("cache: {e}")));
            }
            if let (true, Some((current, current_file))) = (held, current) {
                // An older list held aside is superseded by this one.
                remove_stale(&dir, &["pending-"], &file);
                return Ok((current, current_file, Outcome::HeldAside));
            }
            // The new copy is committed; older data files and any list held aside are garbage.
            remove_stale(&dir, &["data-", "pending-"], &file);
            let _ = std::fs::remove_file(dir.join("pending.json"));
            Ok((meta, dir.join(file), Outcome::Downloaded))
        }
    }
}
