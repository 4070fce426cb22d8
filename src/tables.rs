//! Table registration: `NetworkSessions` (a Parquet lake), `top1m` (the domain popularity list)
//! and any `--table NAME=PATH`, with schema checks that name the file and the column.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use futures::TryStreamExt;

use crate::error::{Error, Result};

pub const SESSIONS: &str = "NetworkSessions";
pub const DOMAINS: &str = "top1m";

/// Type families the ASIM columns must belong to. Widths may differ between files (Int32 vs Int64);
/// the table reads them as the first file's type.
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

/// The type family of a known ASIM NetworkSession column (schema 0.1 legacy names included).
pub fn asim_family(col: &str) -> Option<Family> {
    use Family::*;
    Some(match col {
        "TimeGenerated"
        | "EventStartTime"
        | "EventEndTime"
        | "ThreatFirstReportedTime"
        | "ThreatLastReportedTime" => Timestamp,
        "EventCount" | "SrcPortNumber" | "DstPortNumber" | "SrcNatPortNumber"
        | "DstNatPortNumber" | "SrcBytes" | "DstBytes" | "NetworkBytes" | "SrcPackets"
        | "DstPackets" | "NetworkPackets" | "NetworkDuration" | "NetworkIcmpCode"
        | "NetworkRuleNumber" | "ThreatRiskLevel" => Integer,
        "SrcGeoLatitude" | "SrcGeoLongitude" | "DstGeoLatitude" | "DstGeoLongitude" => Float,
        "TcpFlagsAck" | "TcpFlagsFin" | "TcpFlagsSyn" | "TcpFlagsUrg" | "TcpFlagsPsh"
        | "TcpFlagsRst" | "TcpFlagsEce" | "TcpFlagsCwr" | "TcpFlagsNs" => Bool,
        "SrcIpAddr"
        | "DstIpAddr"
        | "SrcNatIpAddr"
        | "DstNatIpAddr"
        | "DvcIpAddr"
        | "EventResult"
        | "EventResultDetails"
        | "EventType"
        | "EventSubType"
        | "EventProduct"
        | "EventVendor"
        | "EventSeverity"
        | "EventSchema"
        | "EventSchemaVersion"
        | "DvcAction"
        | "DvcHostname"
        | "NetworkProtocol"
        | "NetworkProtocolVersion"
        | "NetworkApplicationProtocol"
        | "NetworkDirection"
        | "UrlHostname"
        | "UrlOriginal"
        | "UrlCategory"
        | "SrcHostname"
        | "DstHostname"
        | "SrcFQDN"
        | "DstFQDN"
        | "SrcDomain"
        | "DstDomain"
        | "Dvc"
        | "Src"
        | "Dst"
        | "NetworkSessionId"
        | "EventOriginalUid"
        | "SrcUsername"
        | "DstUsername" => String,
        _ => return None,
    })
}

/// One Parquet file of the lake with the schema its footer declares.
#[derive(Debug, Clone)]
pub struct LakeFile {
    pub location: String,
    pub size: u64,
    pub schema: SchemaRef,
}

/// What `register_sessions` found: files, their schemas, hive partition columns.
#[derive(Debug, Clone)]
pub struct Lake {
    pub source: String,
    pub files: Vec<LakeFile>,
    pub partition_cols: Vec<String>,
}

impl Lake {
    /// Check that every file has each required column with a type of the right family. Partition
    /// columns are always present. The first problem is returned, naming the file and the column.
    pub fn check_columns(&self, required: &[String]) -> Result<()> {
        for col in required {
            if self.partition_cols.contains(col) {
                continue;
            }
            for f in &self.files {
                match f.schema.field_with_name(col) {
                    Ok(field) => {
                        if let Some(fam) = asim_family(col)
                            && !fam.accepts(field.data_type())
                        {
                            return Err(Error::table(
                                SESSIONS,
                                &f.location,
                                format!(
                                    "column {col} has type {}, expected {}",
                                    field.data_type(),
                                    fam.describe()
                                ),
                            ));
                        }
                    }
                    Err(_) => {
                        let hint = f
                            .schema
                            .fields()
                            .iter()
                            .find(|x| x.name().eq_ignore_ascii_case(col))
                            .map(|x| format!(" (found '{}': names are case-sensitive)", x.name()))
                            .unwrap_or_default();
                        return Err(Error::table(
                            SESSIONS,
                            &f.location,
                            format!("column {col} is missing{hint}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn location_of(url: &ListingTableUrl, path: &object_store::path::Path) -> String {
    if url.scheme() == "file" {
        format!("/{path}")
    } else {
        format!("{}{}", url.object_store().as_str(), path)
    }
}

/// Read the Arrow schema from one Parquet footer.
async fn read_footer_schema(
    ctx: &SessionContext,
    store: &Arc<dyn object_store::ObjectStore>,
    meta: &object_store::ObjectMeta,
) -> std::result::Result<SchemaRef, String> {
    let state = ctx.state();
    ParquetFormat::default()
        .infer_schema(&state, store, std::slice::from_ref(meta))
        .await
        .map_err(|e| {
            format!(
                "not a readable Parquet file ({})",
                crate::error::one_line(&e)
            )
        })
}

/// Hive partition columns (`key=value` folders) of a file path relative to the table root.
fn partition_keys(root: &str, path: &str) -> Vec<String> {
    let rel = path
        .strip_prefix(root)
        .unwrap_or(path)
        .trim_start_matches('/');
    let mut segs: Vec<&str> = rel.split('/').collect();
    segs.pop(); // the file name
    segs.iter()
        .filter_map(|s| s.split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}

/// Split a local glob into the folder before the first wildcard and the pattern after it.
fn split_glob(source: &str) -> (PathBuf, String) {
    let mut prefix = PathBuf::new();
    let mut rest: Vec<&str> = Vec::new();
    for seg in source.split('/') {
        if rest.is_empty() && !seg.contains(['*', '?']) {
            prefix.push(if seg.is_empty() { "/" } else { seg });
        } else {
            rest.push(seg);
        }
    }
    if prefix.as_os_str().is_empty() {
        prefix.push(".");
    }
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

/// Expand a local glob to the files it matches, sorted.
fn expand_local_glob(source: &str) -> Result<Vec<PathBuf>> {
    let (prefix, pattern) = split_glob(source);
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = Vec::new();
    let mut stack = vec![prefix.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(&prefix) {
                let segs: Vec<&str> = rel.iter().filter_map(|s| s.to_str()).collect();
                if glob_path_match(&pat, &segs) {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::table(
            SESSIONS,
            source,
            "no files match this pattern",
        ));
    }
    Ok(out)
}

/// Register `NetworkSessions` over `source`: a Parquet file, a folder (hive partitions such as
/// `date=2024-07-30/` become columns), or a glob (`lake/*/*.parquet`, `lake/**/*.parquet`; a
/// glob lists files, so it brings no partition columns). Every footer is read first: a file that is
/// not Parquet, an empty folder or inconsistent partitioning is an error naming the file.
pub async fn register_sessions(ctx: &SessionContext, source: &str) -> Result<Lake> {
    let fail = |msg: String| Error::table(SESSIONS, source, msg);
    let local = !source.contains("://");
    let is_glob = local && source.contains(['*', '?']);
    if local && !is_glob && !Path::new(source).exists() {
        return Err(fail("no such file or directory".into()));
    }
    let urls: Vec<ListingTableUrl> = if is_glob {
        expand_local_glob(source)?
            .iter()
            .map(|p| ListingTableUrl::parse(p.to_string_lossy()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| fail(crate::error::one_line(&e)))?
    } else {
        vec![ListingTableUrl::parse(source).map_err(|e| fail(crate::error::one_line(&e)))?]
    };
    let url = urls[0].clone();
    let store = ctx
        .runtime_env()
        .object_store(url.object_store())
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let state = ctx.state();
    let is_dir = !is_glob && url.is_collection();
    let ext = if is_dir { ".parquet" } else { "" };
    let mut metas: Vec<object_store::ObjectMeta> = Vec::new();
    for u in &urls {
        let found: Vec<object_store::ObjectMeta> = u
            .list_all_files(&state, store.as_ref(), ext)
            .await
            .map_err(|e| fail(crate::error::one_line(&e)))?
            .try_collect()
            .await
            .map_err(|e| fail(crate::error::one_line(&e)))?;
        metas.extend(found);
    }
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    if metas.is_empty() {
        return Err(fail(if is_dir {
            "no .parquet files found".into()
        } else {
            "no such file".into()
        }));
    }

    let root = url.prefix().as_ref().to_string();
    let mut files = Vec::with_capacity(metas.len());
    let mut partition_cols: Option<Vec<String>> = None;
    for meta in &metas {
        let location = location_of(&url, &meta.location);
        let schema = read_footer_schema(ctx, &store, meta)
            .await
            .map_err(|m| Error::table(SESSIONS, &location, m))?;
        let keys = if is_dir {
            partition_keys(&root, meta.location.as_ref())
        } else {
            vec![]
        };
        match &partition_cols {
            None => partition_cols = Some(keys),
            Some(p) if *p != keys => {
                return Err(Error::table(
                    SESSIONS,
                    &location,
                    format!(
                        "hive partition folders [{}] differ from the lake's first file [{}]",
                        keys.join("/"),
                        p.join("/")
                    ),
                ));
            }
            Some(_) => {}
        }
        files.push(LakeFile {
            location,
            size: meta.size,
            schema,
        });
    }
    let partition_cols = partition_cols.unwrap_or_default();

    // Table schema: the union of the files' columns, first-seen type, strings as Utf8View (what
    // DataFusion reads Parquet strings as by default).
    let mut fields: Vec<Field> = Vec::new();
    for f in &files {
        for field in f.schema.fields() {
            if partition_cols.contains(field.name()) {
                return Err(Error::table(
                    SESSIONS,
                    &f.location,
                    format!(
                        "column {} is also a hive partition folder name",
                        field.name()
                    ),
                ));
            }
            if !fields.iter().any(|x| x.name() == field.name()) {
                let dt = match field.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
                    DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
                    other => other.clone(),
                };
                fields.push(Field::new(field.name(), dt, true));
            }
        }
    }
    let file_schema = Arc::new(Schema::new(fields));
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(ext)
        .with_table_partition_cols(
            partition_cols
                .iter()
                .map(|c| (c.clone(), DataType::Utf8))
                .collect(),
        );
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(file_schema);
    let table = ListingTable::try_new(config).map_err(|e| fail(crate::error::one_line(&e)))?;
    ctx.register_table(TableReference::bare(SESSIONS), Arc::new(table))
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    Ok(Lake {
        source: source.to_string(),
        files,
        partition_cols,
    })
}

/// Every column name a plan refers to (in any node or subquery). Checked against the lake before
/// optimisation, so a mistyped column is reported as such rather than as a failed coercion.
pub fn referenced_columns(plan: &LogicalPlan) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        let _ = node.apply_expressions(|e| {
            for c in e.column_refs() {
                if !cols.contains(&c.name) {
                    cols.push(c.name.clone());
                }
            }
            Ok(TreeNodeRecursion::Continue)
        });
        Ok(TreeNodeRecursion::Continue)
    });
    cols
}

// ------------------------------------------------------------------------------------------------
// The domain list

fn domains_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("Position", DataType::Int32, true),
        Field::new("Domain", DataType::Utf8, true),
    ]))
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

/// Read a Parquet domain list: a string column `Domain` (required) and an integer `Position`
/// (optional, NULL when absent); names match case-insensitively.
async fn read_domains_parquet(ctx: &SessionContext, path: &str) -> Result<Vec<RecordBatch>> {
    let fail = |m: String| Error::table(DOMAINS, path, m);
    let df = ctx
        .read_parquet(path, ParquetReadOptions::default())
        .await
        .map_err(|e| {
            fail(format!(
                "not a readable Parquet file ({})",
                crate::error::one_line(&e)
            ))
        })?;
    let schema = df.schema().clone();
    let find = |n: &str| {
        schema
            .fields()
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(n))
            .cloned()
    };
    let dom = find("Domain").ok_or_else(|| fail("column Domain is missing".into()))?;
    if !Family::String.accepts(dom.data_type()) {
        return Err(fail(format!(
            "column Domain has type {}, expected a string",
            dom.data_type()
        )));
    }
    let pos = find("Position").or_else(|| find("rank"));
    if let Some(p) = &pos
        && !p.data_type().is_integer()
    {
        return Err(fail(format!(
            "column {} has type {}, expected an integer",
            p.name(),
            p.data_type()
        )));
    }
    let batches = df
        .collect()
        .await
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let target = domains_schema();
    let mut out = Vec::new();
    for b in batches {
        let d = arrow::compute::cast(
            b.column_by_name(dom.name()).expect("exists"),
            &DataType::Utf8,
        )
        .map_err(|e| fail(e.to_string()))?;
        let p: ArrayRef = match &pos {
            Some(p) => arrow::compute::cast(
                b.column_by_name(p.name()).expect("exists"),
                &DataType::Int32,
            )
            .map_err(|e| fail(e.to_string()))?,
            None => arrow::array::new_null_array(&DataType::Int32, b.num_rows()),
        };
        out.push(
            RecordBatch::try_new(target.clone(), vec![p, d]).map_err(|e| fail(e.to_string()))?,
        );
    }
    Ok(out)
}

/// Register `top1m(Position INT, Domain STRING)` from a CSV (`rank,domain`, header optional;
/// Majestic's layout works), a zip of CSVs (entries matching `*.csv`) or a Parquet file. Returns
/// the number of rows.
pub async fn register_domains(ctx: &SessionContext, path: &str) -> Result<usize> {
    let p = Path::new(path);
    if !p.exists() {
        return Err(Error::table(DOMAINS, path, "no such file"));
    }
    let batches = if path.to_ascii_lowercase().ends_with(".parquet") {
        read_domains_parquet(ctx, path).await?
    } else {
        let bytes = std::fs::read(p).map_err(|e| Error::table(DOMAINS, path, e.to_string()))?;
        let table = crate::external::ExternalTable::top1m(path);
        vec![
            crate::external::decode(bytes, &table, &crate::external::Limits::default())
                .map_err(|m| Error::table(DOMAINS, path, m))?,
        ]
    };
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    let table = MemTable::try_new(domains_schema(), vec![batches])
        .map_err(|e| Error::table(DOMAINS, path, crate::error::one_line(&e)))?;
    ctx.register_table(TableReference::bare(DOMAINS), Arc::new(table))
        .map_err(|e| Error::table(DOMAINS, path, crate::error::one_line(&e)))?;
    Ok(rows)
}

/// Register an extra table `name` from a CSV file (with a header row) or Parquet file/folder/glob.
pub async fn register_extra(ctx: &SessionContext, name: &str, path: &str) -> Result<()> {
    let fail = |m: String| Error::table(name, path, m);
    if !path.contains("://") && !path.contains(['*', '?', '[']) && !Path::new(path).exists() {
        return Err(fail("no such file or directory".into()));
    }
    let lower = path.to_ascii_lowercase();
    let provider: Arc<dyn TableProvider> = if lower.ends_with(".csv") {
        let df = ctx
            .read_csv(path, CsvReadOptions::new().has_header(true))
            .await
            .map_err(|e| fail(crate::error::one_line(&e)))?;
        df.into_view()
    } else {
        let df = ctx
            .read_parquet(path, ParquetReadOptions::default())
            .await
            .map_err(|e| {
                fail(format!(
                    "not a readable Parquet source ({})",
                    crate::error::one_line(&e)
                ))
            })?;
        df.into_view()
    };
    ctx.register_table(TableReference::bare(name), provider)
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    Ok(())
}

/// Values of a string column as `Vec<Option<String>>` (tests and listings).
pub fn strings(a: &ArrayRef) -> Vec<Option<String>> {
    let a = arrow::compute::cast(a, &DataType::Utf8).expect("castable to Utf8");
    let s = a.as_any().downcast_ref::<StringArray>().expect("utf8");
    (0..s.len())
        .map(|i| (!s.is_null(i)).then(|| s.value(i).to_string()))
        .collect()
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
            (PathBuf::from("data/lake"), "*/x.parquet".to_string())
        );
        assert_eq!(
            split_glob("/abs/*.parquet"),
            (PathBuf::from("/abs"), "*.parquet".to_string())
        );
    }

    #[test]
    fn partitions() {
        assert_eq!(
            partition_keys("lake", "lake/date=2024-01-01/hour=03/p.parquet"),
            vec!["date", "hour"]
        );
        assert!(partition_keys("lake", "lake/p.parquet").is_empty());
    }
}
