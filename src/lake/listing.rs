//! Finding a lake's files: globs over local folders and object stores, hive partition folders,
//! and the footer of each Parquet file. Uses: `error`.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;

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
