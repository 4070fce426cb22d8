//! Finding a lake's files: globs over local folders and object stores, hive partition folders,
//! and the footer of each Parquet file. Uses: `error`.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;

use object_store::{ObjectMeta, ObjectStore};

use super::TimeWindow;
use crate::error::{Error, Result};
use crate::schema::SESSIONS;

pub(crate) fn location_of(url: &ListingTableUrl, path: &object_store::path::Path) -> String {
    if url.scheme() == "file" {
        format!("/{path}")
    } else {
        format!("{}{}", url.object_store().as_str(), path)
    }
}

/// Read one Parquet footer: the Arrow schema and the number of row groups. The footer goes into
/// the runtime's metadata cache, so the scan does not fetch it again.
pub(crate) async fn read_footer(
    store: Arc<dyn object_store::ObjectStore>,
    cache: Arc<datafusion::execution::cache::cache_manager::FileMetadataCache>,
    meta: object_store::ObjectMeta,
) -> std::result::Result<(SchemaRef, usize), String> {
    use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
    let md = DFParquetMetadata::new(store.as_ref(), &meta).with_file_metadata_cache(Some(cache));
    let fail = |e: DataFusionError| {
        format!(
            "not a readable Parquet file ({})",
            crate::error::one_line(&e)
        )
    };
    // One fetch: the schema is derived from the same metadata (fetch_schema would fetch again
    // whenever the cache does not keep the footer).
    let metadata = md.fetch_metadata().await.map_err(fail)?;
    let file = metadata.file_metadata();
    let schema =
        parquet::arrow::parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
            .map_err(|e| fail(e.into()))?;
    Ok((Arc::new(schema), metadata.num_row_groups()))
}

/// Hive partitions (`key=value` folders) of a file path relative to the table root.
pub(crate) fn partition_keys(root: &str, path: &str) -> Vec<(String, String)> {
    let rel = path
        .strip_prefix(root)
        .unwrap_or(path)
        .trim_start_matches('/');
    let mut segs: Vec<&str> = rel.split('/').collect();
    segs.pop(); // the file name
    segs.iter()
        .filter_map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Split a glob into the folder before the first wildcard segment and the pattern after it.
fn split_glob(source: &str) -> (String, String) {
    let mut prefix: Vec<&str> = Vec::new();
    let mut rest: Vec<&str> = Vec::new();
    for seg in source.split('/') {
        if rest.is_empty() && !seg.contains(['*', '?']) {
            prefix.push(seg);
        } else {
            rest.push(seg);
        }
    }
    let prefix = match prefix.join("/") {
        p if p.is_empty() && source.starts_with('/') => "/".to_string(),
        p if p.is_empty() => ".".to_string(),
        p => p,
    };
    (prefix, rest.join("/"))
}

/// Match path segments against pattern segments: `*` and `?` within a segment, `**` any number of
/// segments.
fn glob_path_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|i| glob_path_match(rest, &path[i..])),
        Some((p, rest)) => {
            !path.is_empty() && glob_match(p, path[0]) && glob_path_match(rest, &path[1..])
        }
    }
}

/// Expand a glob (local or object-store URL) to the URLs of the files it matches, sorted.
pub(crate) async fn expand_glob(
    ctx: &SessionContext,
    source: &str,
) -> Result<Vec<ListingTableUrl>> {
    let fail = |m: String| Error::table(SESSIONS, source, m);
    let (prefix, pattern) = split_glob(source);
    let base = ListingTableUrl::parse(format!("{}/", prefix.trim_end_matches('/')))
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let store = ctx
        .runtime_env()
        .object_store(base.object_store())
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let root = base.prefix().clone();
    let listed: Vec<object_store::ObjectMeta> =
        if super::store::is_url(source) || Path::new(&prefix).is_dir() {
            store
                .list(Some(&root))
                .try_collect()
                .await
                .map_err(|e| fail(crate::error::explain(&e.to_string())))?
        } else {
            vec![]
        };
    let mut out: Vec<String> = listed
        .iter()
        .filter_map(|m| {
            let rel: Vec<String> = m
                .location
                .prefix_match(&root)?
                .map(|p| p.as_ref().to_string())
                .collect();
            let rel: Vec<&str> = rel.iter().map(String::as_str).collect();
            glob_path_match(&pat, &rel).then(|| location_of(&base, &m.location))
        })
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(fail("no files match this pattern".into()));
    }
    out.iter()
        .map(|l| ListingTableUrl::parse(l).map_err(|e| fail(crate::error::one_line(&e))))
        .collect()
}

/// The time a folder of a lake stands for, from its name and its parents': `date=YYYY-MM-DD`,
/// `eventDay=YYYYMMDD` (Amazon Security Lake), `year=YYYY/month=MM/day=DD/hour=HH` (VPC Flow
/// Logs' Parquet delivery) and bare `YYYY/MM/DD/HH` (their text delivery), each part in its
/// place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TimeParts {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
}

impl TimeParts {
    /// The parts of folder `name` inside a folder of `self`; `None` when it is no time folder.
    fn child(self, name: &str) -> Option<TimeParts> {
        let num = |v: &str,
                   digits: std::ops::RangeInclusive<usize>,
                   range: std::ops::RangeInclusive<u32>| {
            { v.chars().all(|c| c.is_ascii_digit()) && digits.contains(&v.len()) }
                .then(|| v.parse::<u32>().ok())
                .flatten()
                .filter(|n| range.contains(n))
        };
        let date = |y: &str, m: &str, d: &str| -> Option<TimeParts> {
            let parts = TimeParts {
                year: Some(num(y, 4..=4, 1..=9999)? as i32),
                month: Some(num(m, 2..=2, 1..=12)?),
                day: Some(num(d, 2..=2, 1..=31)?),
                hour: None,
            };
            parts.start().map(|_| parts)
        };
        let (key, value) = match name.split_once('=') {
            Some((k, v)) => (Some(k.to_ascii_lowercase()), v),
            None => (None, name),
        };
        let fresh = self == TimeParts::default();
        let out = match key.as_deref() {
            Some("date") if fresh => date(value.get(..4)?, value.get(5..7)?, value.get(8..10)?)
                .filter(|_| {
                    value.len() == 10 && value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-'
                })?,
            Some("eventday") if fresh && value.len() == 8 => {
                date(&value[..4], &value[4..6], &value[6..8])?
            }
            Some("year") if fresh => TimeParts {
                year: Some(num(value, 4..=4, 1..=9999)? as i32),
                ..self
            },
            Some("month") if self.year.is_some() && self.month.is_none() => TimeParts {
                month: Some(num(value, 1..=2, 1..=12)?),
                ..self
            },
            Some("day") if self.month.is_some() && self.day.is_none() => TimeParts {
                day: Some(num(value, 1..=2, 1..=31)?),
                ..self
            },
            Some("hour") if self.day.is_some() && self.hour.is_none() => TimeParts {
                hour: Some(num(value, 1..=2, 0..=23)?),
                ..self
            },
            None if fresh => TimeParts {
                year: Some(num(value, 4..=4, 1970..=2999)? as i32),
                ..self
            },
            None if self.year.is_some() && self.month.is_none() => TimeParts {
                month: Some(num(value, 2..=2, 1..=12)?),
                ..self
            },
            None if self.month.is_some() && self.day.is_none() => TimeParts {
                day: Some(num(value, 2..=2, 1..=31)?),
                ..self
            },
            None if self.day.is_some() && self.hour.is_none() => TimeParts {
                hour: Some(num(value, 2..=2, 0..=23)?),
                ..self
            },
            _ => return None,
        };
        out.start().map(|_| out)
    }

    /// The first instant (µs, UTC) of the folder's time; `None` for an impossible date.
    fn start(self) -> Option<i64> {
        let d = chrono::NaiveDate::from_ymd_opt(
            self.year?,
            self.month.unwrap_or(1),
            self.day.unwrap_or(1),
        )?;
        Some(
            d.and_hms_opt(self.hour.unwrap_or(0), 0, 0)?
                .and_utc()
                .timestamp_micros(),
        )
    }

    /// `[start, end)` of the folder's time, in µs, UTC.
    fn interval(self) -> Option<(i64, i64)> {
        let start = self.start()?;
        let end = match (self.month, self.day, self.hour) {
            (_, _, Some(_)) => start + 3_600_000_000,
            (_, Some(_), None) => start + 86_400_000_000,
            (Some(m), None, None) => TimeParts {
                year: Some(self.year? + (m / 12) as i32),
                month: Some(m % 12 + 1),
                day: None,
                hour: None,
            }
            .start()?,
            (None, None, None) => TimeParts {
                year: Some(self.year? + 1),
                ..TimeParts::default()
            }
            .start()?,
        };
        Some((start, end))
    }
}

/// Delimited LISTs a window walk makes before, having met no time folder, it lists the whole
/// lake instead.
const MAX_WALK: usize = 1_000;

fn kept(found: Vec<ObjectMeta>, files: super::Files) -> impl Iterator<Item = ObjectMeta> {
    found
        .into_iter()
        .filter(move |m| files.keeps(m.location.as_ref()))
}

/// The files of the lake under `root` that the window's time folders hold, listing nothing
/// else: folders are walked with delimited LISTs, a time folder outside the window is dropped,
/// one wholly inside it is listed in one recursive LIST, one across its edge is walked into.
/// Other folders (`region=`, `accountId=`, account ids) are walked through, and files beside
/// folders are kept. `None` when the window is unbounded or the lake has no time folder (found
/// within [`MAX_WALK`] LISTs): then the whole lake is listed, as before. When no file is in the window, the first time folder's
/// files are returned, so that the table has a schema; the window's filter leaves none of
/// their rows.
pub(crate) async fn window_listing(
    store: &dyn ObjectStore,
    root: &object_store::path::Path,
    window: TimeWindow,
    files: super::Files,
) -> std::result::Result<Option<Vec<ObjectMeta>>, String> {
    if window.is_unbounded() {
        return Ok(None);
    }
    let (from, to) = (
        window.from.unwrap_or(i64::MIN),
        window.to.unwrap_or(i64::MAX),
    );
    let fail = |e: object_store::Error| crate::error::explain(&e.to_string());
    let mut out: Vec<ObjectMeta> = Vec::new();
    let mut first_dropped: Option<object_store::path::Path> = None;
    let mut saw_time = false;
    let mut pending = vec![(root.clone(), TimeParts::default())];
    let mut lists = 0;
    while let Some((dir, parts)) = pending.pop() {
        // A lake of many folders and no time folder: one recursive listing is cheaper.
        lists += 1;
        if lists > MAX_WALK && !saw_time {
            return Ok(None);
        }
        let level = store.list_with_delimiter(Some(&dir)).await.map_err(fail)?;
        out.extend(kept(level.objects, files));
        for folder in level.common_prefixes {
            let name = folder.filename().unwrap_or_default();
            let Some(child) = parts.child(name) else {
                pending.push((folder, parts));
                continue;
            };
            saw_time = true;
            let Some((start, end)) = child.interval() else {
                continue;
            };
            if end <= from || start >= to {
                if first_dropped.as_ref().is_none_or(|f| folder < *f) {
                    first_dropped = Some(folder);
                }
            } else if from <= start && end <= to {
                let found: Vec<ObjectMeta> = store
                    .list(Some(&folder))
                    .try_collect()
                    .await
                    .map_err(fail)?;
                out.extend(kept(found, files));
            } else {
                pending.push((folder, child));
            }
        }
    }
    if !saw_time {
        return Ok(None);
    }
    if out.is_empty()
        && let Some(folder) = first_dropped
    {
        let found: Vec<ObjectMeta> = store
            .list(Some(&folder))
            .try_collect()
            .await
            .map_err(fail)?;
        out.extend(kept(found, files));
    }
    out.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(Some(out))
}

/// Glob match for zip entry names: `*` any run of characters, `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn wl(
        store: &dyn ObjectStore,
        root: &object_store::path::Path,
        window: TimeWindow,
    ) -> std::result::Result<Option<Vec<ObjectMeta>>, String> {
        window_listing(store, root, window, crate::lake::Files::Parquet).await
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.csv", "top-1m.csv"));
        assert!(glob_match("*.csv", "dir/top-1m.csv"));
        assert!(!glob_match("*.csv", "top-1m.csv.bak"));
        assert!(glob_match("top-?m.csv", "top-1m.csv"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "ac"));
    }

    #[test]
    fn path_globs() {
        let m = |p: &str, s: &str| {
            glob_path_match(
                &p.split('/').collect::<Vec<_>>(),
                &s.split('/').collect::<Vec<_>>(),
            )
        };
        assert!(m("*/*.parquet", "date=1/a.parquet"));
        assert!(!m("*.parquet", "date=1/a.parquet"));
        assert!(m("**/*.parquet", "a.parquet"));
        assert!(m("**/*.parquet", "x/y/a.parquet"));
        assert!(m("date=2024-07-3*/*.parquet", "date=2024-07-31/p.parquet"));
        assert_eq!(
            split_glob("data/lake/*/x.parquet"),
            ("data/lake".to_string(), "*/x.parquet".to_string())
        );
        assert_eq!(
            split_glob("/abs/*.parquet"),
            ("/abs".to_string(), "*.parquet".to_string())
        );
        assert_eq!(
            split_glob("s3://b/lake/date=*/*.parquet"),
            ("s3://b/lake".to_string(), "date=*/*.parquet".to_string())
        );
        assert_eq!(
            split_glob("*.parquet"),
            (".".to_string(), "*.parquet".to_string())
        );
    }

    /// An in-memory store holding `files` (one byte each).
    async fn memory_store(files: &[&str]) -> object_store::memory::InMemory {
        use object_store::ObjectStoreExt;
        let store = object_store::memory::InMemory::new();
        for f in files {
            store.put(&(*f).into(), b"x".to_vec().into()).await.unwrap();
        }
        store
    }

    /// Microseconds of an RFC 3339 instant, or of midnight UTC of a YYYY-MM-DD day.
    fn micros(t: &str) -> i64 {
        let t = if t.len() == 10 {
            format!("{t}T00:00:00Z")
        } else {
            t.to_string()
        };
        chrono::DateTime::parse_from_rfc3339(&t)
            .unwrap()
            .timestamp_micros()
    }

    fn names(v: Option<Vec<ObjectMeta>>) -> Vec<String> {
        v.unwrap()
            .iter()
            .map(|m| m.location.as_ref().to_string())
            .collect()
    }

    fn window(from: &str, to: &str) -> TimeWindow {
        TimeWindow {
            from: Some(micros(from)),
            to: Some(micros(to)),
        }
    }

    #[tokio::test]
    async fn window_listing_takes_only_the_window_folders() {
        use object_store::ObjectStoreExt;
        let store = memory_store(&[
            "lake/date=2024-07-29/hour=23/a.parquet",
            "lake/date=2024-07-30/hour=00/a.parquet",
            "lake/date=2024-07-30/hour=07/a.parquet",
            "lake/date=2024-07-30/hour=08/a.parquet",
            "lake/date=2024-07-30/hour=09/a.parquet",
            "lake/date=2024-07-31/hour=08/a.parquet",
            "lake/date=2024-07-30/hour=08/notes.txt",
        ])
        .await;
        let root: object_store::path::Path = "lake".into();
        // 07:30 to 09:00 on the 30th: hours 07 and 08 of one day.
        let got = wl(
            &store,
            &root,
            window("2024-07-30T07:30:00Z", "2024-07-30T09:00:00Z"),
        )
        .await
        .unwrap();
        assert_eq!(
            names(got),
            [
                "lake/date=2024-07-30/hour=07/a.parquet",
                "lake/date=2024-07-30/hour=08/a.parquet"
            ]
        );
        // Only a lower bound: every later folder.
        let got = wl(
            &store,
            &root,
            TimeWindow {
                from: Some(micros("2024-07-31")),
                to: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(names(got), ["lake/date=2024-07-31/hour=08/a.parquet"]);
        // Nothing in the window: the first day, for the schema.
        let got = wl(&store, &root, window("2025-01-01", "2025-01-02"))
            .await
            .unwrap();
        assert_eq!(names(got), ["lake/date=2024-07-29/hour=23/a.parquet"]);
        // No window: no opinion. A file beside the time folders cannot be pruned: it is kept.
        assert!(
            wl(&store, &root, TimeWindow::default())
                .await
                .unwrap()
                .is_none()
        );
        store
            .put(&"lake/loose.parquet".into(), b"x".to_vec().into())
            .await
            .unwrap();
        let got = wl(&store, &root, window("2024-07-31", "2024-08-01"))
            .await
            .unwrap();
        assert_eq!(
            names(got),
            [
                "lake/date=2024-07-31/hour=08/a.parquet",
                "lake/loose.parquet"
            ]
        );
        // No time folder at all: the whole lake is listed, as before.
        let plain = object_store::memory::InMemory::new();
        plain
            .put(&"lake/part=a/x.parquet".into(), b"x".to_vec().into())
            .await
            .unwrap();
        assert!(
            wl(&plain, &root, window("2024-07-30", "2024-07-31"))
                .await
                .unwrap()
                .is_none()
        );
    }

    /// The other layouts the issue names: Security Lake's eventDay= under region=/accountId=,
    /// VPC Flow Logs' year=/month=/day=/hour= Parquet and their bare YYYY/MM/DD text delivery.
    #[tokio::test]
    async fn window_listing_knows_every_layout() {
        let store = memory_store(&[
            "sl/region=us-east-1/accountId=1/eventDay=20240429/a.parquet",
            "sl/region=us-east-1/accountId=1/eventDay=20240430/a.parquet",
            "sl/region=eu-west-1/accountId=2/eventDay=20240429/b.parquet",
            "sl/metadata/v1.metadata.json",
            "vpc/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=04/day=29/hour=13/a.parquet",
            "vpc/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=04/day=29/hour=14/a.parquet",
            "vpc/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=05/day=01/hour=13/a.parquet",
            "txt/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/04/29/a.parquet",
            "txt/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/04/30/a.parquet",
        ])
        .await;
        let list = |root: &str, from: &str, to: &str| {
            let store = &store;
            let root: object_store::path::Path = root.into();
            let w = window(from, to);
            async move { names(wl(store, &root, w).await.unwrap()) }
        };
        assert_eq!(
            list("sl", "2024-04-29T00:00:00Z", "2024-04-30T00:00:00Z").await,
            [
                "sl/region=eu-west-1/accountId=2/eventDay=20240429/b.parquet",
                "sl/region=us-east-1/accountId=1/eventDay=20240429/a.parquet"
            ]
        );
        assert_eq!(
            list("vpc", "2024-04-29T14:30:00Z", "2024-04-29T15:00:00Z").await,
            [
                "vpc/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=04/day=29/hour=14/a.parquet"
            ]
        );
        assert_eq!(
            list("vpc", "2024-04-30T00:00:00Z", "2024-06-01T00:00:00Z").await,
            [
                "vpc/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=05/day=01/hour=13/a.parquet"
            ]
        );
        assert_eq!(
            list("txt", "2024-04-30T06:00:00Z", "2024-04-30T07:00:00Z").await,
            ["txt/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/04/30/a.parquet"]
        );
    }

    #[test]
    fn time_folder_names() {
        let root = TimeParts::default();
        let y = root.child("year=2024").unwrap();
        assert_eq!(y.interval().map(|(s, e)| e - s), Some(366 * 86_400_000_000));
        let m = y.child("month=12").unwrap();
        assert_eq!(m.interval().map(|(s, e)| e - s), Some(31 * 86_400_000_000));
        assert!(root.child("date=2024-02-30").is_none());
        assert!(root.child("date=2024-2-3").is_none());
        assert!(root.child("eventDay=2024043").is_none());
        assert!(
            root.child("month=04").is_none(),
            "a month needs a year above it"
        );
        assert!(root.child("123456789012").is_none());
        assert!(root.child("us-east-1").is_none());
        assert!(y.child("hour=03").is_none());
        assert_eq!(
            root.child("2024")
                .and_then(|p| p.child("04"))
                .and_then(|p| p.child("31")),
            None
        );
    }

    #[test]
    fn partitions() {
        assert_eq!(
            partition_keys("lake", "lake/date=2024-01-01/hour=03/p.parquet"),
            vec![
                ("date".to_string(), "2024-01-01".to_string()),
                ("hour".to_string(), "03".to_string())
            ]
        );
        assert!(partition_keys("lake", "lake/p.parquet").is_empty());
    }
}
