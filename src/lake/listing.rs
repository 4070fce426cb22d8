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

/// The files of a `date=YYYY-MM-DD/[hour=HH/]` lake under `root` whose folders overlap `window`,
/// listing nothing else: one delimited LIST of `root` for its `date=` folders, then one LIST per
/// day in the window (whose `hour=` folders outside the window are dropped). `None` when the
/// window is unbounded or the lake is not laid out that way (files beside the folders, other
/// folder names): then the whole lake is listed, as before. When no folder overlaps the window,
/// the first day's files are returned, so that the table has a schema; the window's filter
/// leaves none of their rows.
pub(crate) async fn window_listing(
    store: &dyn ObjectStore,
    root: &object_store::path::Path,
    window: TimeWindow,
) -> std::result::Result<Option<Vec<ObjectMeta>>, String> {
    const DAY_US: i64 = 86_400_000_000;
    const HOUR_US: i64 = 3_600_000_000;
    if window.is_unbounded() {
        return Ok(None);
    }
    let (from, to) = (
        window.from.unwrap_or(i64::MIN),
        window.to.unwrap_or(i64::MAX),
    );
    let overlaps = |start: i64, len: i64| start < to && start.saturating_add(len) > from;
    let top = store
        .list_with_delimiter(Some(root))
        .await
        .map_err(|e| crate::error::explain(&e.to_string()))?;
    if top
        .objects
        .iter()
        .any(|o| o.location.as_ref().ends_with(".parquet"))
    {
        return Ok(None);
    }
    let mut days = Vec::new();
    for p in &top.common_prefixes {
        let Some(start) = p
            .filename()
            .and_then(|f| f.strip_prefix("date="))
            .filter(|d| d.len() == 10)
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_micros())
        else {
            return Ok(None);
        };
        days.push((start, p.clone()));
    }
    days.sort_by_key(|(start, _)| *start);
    let Some(first) = days.first().cloned() else {
        return Ok(None);
    };
    let mut chosen: Vec<(i64, object_store::path::Path)> = days
        .into_iter()
        .filter(|(start, _)| overlaps(*start, DAY_US))
        .collect();
    if chosen.is_empty() {
        chosen.push(first);
    }
    let mut out = Vec::new();
    for (start, day) in &chosen {
        let files: Vec<ObjectMeta> = store
            .list(Some(day))
            .try_collect()
            .await
            .map_err(|e| crate::error::explain(&e.to_string()))?;
        out.extend(files.into_iter().filter(|m| {
            if !m.location.as_ref().ends_with(".parquet") {
                return false;
            }
            // An hour= folder outside the window is left out (a day partly in the window).
            let hour = m
                .location
                .parts()
                .find_map(|p| p.as_ref().strip_prefix("hour=")?.parse::<i64>().ok())
                .filter(|h| (0..24).contains(h));
            hour.is_none_or(|h| overlaps(start + h * HOUR_US, HOUR_US))
        }));
    }
    if out.is_empty() {
        // Every hour of the chosen days is outside the window: the first day, for the schema.
        let files: Vec<ObjectMeta> = store
            .list(Some(&chosen[0].1))
            .try_collect()
            .await
            .map_err(|e| crate::error::explain(&e.to_string()))?;
        out.extend(
            files
                .into_iter()
                .filter(|m| m.location.as_ref().ends_with(".parquet")),
        );
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

    #[tokio::test]
    async fn window_listing_takes_only_the_window_folders() {
        use object_store::ObjectStoreExt;
        let store = object_store::memory::InMemory::new();
        for f in [
            "lake/date=2024-07-29/hour=23/a.parquet",
            "lake/date=2024-07-30/hour=00/a.parquet",
            "lake/date=2024-07-30/hour=07/a.parquet",
            "lake/date=2024-07-30/hour=08/a.parquet",
            "lake/date=2024-07-30/hour=09/a.parquet",
            "lake/date=2024-07-31/hour=08/a.parquet",
            "lake/date=2024-07-30/hour=08/notes.txt",
        ] {
            store.put(&f.into(), b"x".to_vec().into()).await.unwrap();
        }
        let root: object_store::path::Path = "lake".into();
        let us = |t: &str| {
            let t = if t.len() == 10 {
                format!("{t}T00:00:00Z")
            } else {
                t.to_string()
            };
            chrono::DateTime::parse_from_rfc3339(&t)
                .unwrap()
                .timestamp_micros()
        };
        let names = |v: Option<Vec<ObjectMeta>>| -> Vec<String> {
            v.unwrap()
                .iter()
                .map(|m| m.location.as_ref().to_string())
                .collect()
        };
        let window = |from: &str, to: &str| TimeWindow {
            from: Some(us(from)),
            to: Some(us(to)),
        };
        // 07:30 to 09:00 on the 30th: hours 07 and 08 of one day.
        let got = window_listing(
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
        let got = window_listing(
            &store,
            &root,
            TimeWindow {
                from: Some(us("2024-07-31")),
                to: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(names(got), ["lake/date=2024-07-31/hour=08/a.parquet"]);
        // Nothing in the window: the first day, for the schema.
        let got = window_listing(&store, &root, window("2025-01-01", "2025-01-02"))
            .await
            .unwrap();
        assert_eq!(names(got), ["lake/date=2024-07-29/hour=23/a.parquet"]);
        // No window, or a lake of another layout: no opinion.
        assert!(
            window_listing(&store, &root, TimeWindow::default())
                .await
                .unwrap()
                .is_none()
        );
        store
            .put(&"lake/loose.parquet".into(), b"x".to_vec().into())
            .await
            .unwrap();
        assert!(
            window_listing(&store, &root, window("2024-07-30", "2024-07-31"))
                .await
                .unwrap()
                .is_none()
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
