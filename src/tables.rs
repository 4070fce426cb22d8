//! Table registration: `NetworkSessions` (a Parquet lake), `top1m` (the domain popularity list)
//! and any `--table NAME=PATH`, with schema checks that name the file and the column.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use futures::{StreamExt, TryStreamExt};

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
    /// Where the file is, as the user would write it (`/abs/path`, `s3://bucket/key`).
    pub location: String,
    /// The object-store path (what DataFusion's per-file metrics name the file by).
    pub object_path: String,
    pub size: u64,
    pub row_groups: usize,
    /// Hive partition values from the folder names, in folder order.
    pub partitions: Vec<(String, String)>,
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

/// Read one Parquet footer: the Arrow schema and the number of row groups. The footer goes into
/// the runtime's metadata cache, so the scan does not fetch it again.
async fn read_footer(
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
fn partition_keys(root: &str, path: &str) -> Vec<(String, String)> {
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
async fn expand_glob(ctx: &SessionContext, source: &str) -> Result<Vec<ListingTableUrl>> {
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
        if crate::store::is_url(source) || Path::new(&prefix).is_dir() {
            store
                .list(Some(&root))
                .try_collect()
                .await
                .map_err(|e| fail(crate::store::explain(&e.to_string())))?
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

/// Register `NetworkSessions` over `source`: a Parquet file, a folder (hive partitions such as
/// `date=2024-07-30/` become columns), or a glob (`lake/*/*.parquet`, `lake/**/*.parquet`; a
/// glob lists files, so it brings no partition columns). Every footer is read first: a file that is
/// not Parquet, an empty folder or inconsistent partitioning is an error naming the file.
pub async fn register_sessions(ctx: &SessionContext, source: &str) -> Result<Lake> {
    let fail = |msg: String| Error::table(SESSIONS, source, msg);
    let remote = crate::store::is_url(source);
    let is_glob = source.contains(['*', '?']);
    if !remote && !is_glob && !Path::new(source).exists() {
        return Err(fail("no such file or directory".into()));
    }
    // A remote prefix without a trailing slash is a folder unless it names a .parquet object.
    let folder_url;
    let source_url = if remote
        && !is_glob
        && !source.ends_with('/')
        && !source.to_ascii_lowercase().ends_with(".parquet")
    {
        folder_url = format!("{source}/");
        folder_url.as_str()
    } else {
        source
    };
    let urls: Vec<ListingTableUrl> = if is_glob {
        expand_glob(ctx, source).await?
    } else {
        vec![ListingTableUrl::parse(source_url).map_err(|e| fail(crate::error::one_line(&e)))?]
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
    let cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
    // Footers are read 16 at a time: on an object store each is a round trip.
    let footers: Vec<_> = futures::stream::iter(metas.iter().cloned())
        .map(|m| read_footer(store.clone(), cache.clone(), m))
        .buffered(16)
        .collect()
        .await;
    for (meta, footer) in metas.iter().zip(footers) {
        let location = location_of(&url, &meta.location);
        let (schema, row_groups) = footer.map_err(|m| Error::table(SESSIONS, &location, m))?;
        let partitions = if is_dir {
            partition_keys(&root, meta.location.as_ref())
        } else {
            vec![]
        };
        let keys: Vec<String> = partitions.iter().map(|(k, _)| k.clone()).collect();
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
            object_path: meta.location.as_ref().to_string(),
            size: meta.size,
            row_groups,
            partitions,
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

/// A window on `TimeGenerated` (`--from` inclusive, `--to` exclusive), in microseconds since the
/// Unix epoch, UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl TimeWindow {
    pub fn is_unbounded(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

fn utc_date_hour(us: i64) -> (String, u32) {
    let t = chrono::DateTime::from_timestamp_micros(us).unwrap_or_default();
    (t.format("%Y-%m-%d").to_string(), chrono::Timelike::hour(&t))
}

/// Restrict `NetworkSessions` to `window`: the registered table is replaced by a view over the same
/// scan with a filter on `TimeGenerated` (which prunes row groups by their statistics) and, when
/// every file of the lake sits under `date=YYYY-MM-DD/` (and `hour=H/`) folders, on those
/// partition columns too, so that whole folders are never listed or opened. Partition folders are
/// taken to be the UTC date and hour of `TimeGenerated`.
pub async fn apply_window(ctx: &SessionContext, lake: &Lake, window: TimeWindow) -> Result<()> {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{LogicalPlanBuilder, cast, ident as col, lit};
    if window.is_unbounded() {
        return Ok(());
    }
    let fail = |m: String| Error::table(SESSIONS, &lake.source, m);
    let provider = ctx
        .table_provider(TableReference::bare(SESSIONS))
        .await
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let ts_type = provider
        .schema()
        .field_with_name("TimeGenerated")
        .map(|f| f.data_type().clone())
        .map_err(|_| {
            fail("--from/--to need a TimeGenerated column, and the lake has none".into())
        })?;
    if !Family::Timestamp.accepts(&ts_type) {
        return Err(fail(format!(
            "column TimeGenerated has type {ts_type}, expected a timestamp (needed by --from/--to)"
        )));
    }
    let ts = |us: i64| {
        cast(
            lit(ScalarValue::TimestampMicrosecond(
                Some(us),
                Some("UTC".into()),
            )),
            ts_type.clone(),
        )
    };
    let mut conds = Vec::new();
    if let Some(f) = window.from {
        conds.push(col("TimeGenerated").gt_eq(ts(f)));
    }
    if let Some(t) = window.to {
        conds.push(col("TimeGenerated").lt(ts(t)));
    }
    // Partition filters, only when every file's folder values have the expected shape (a lake
    // partitioned some other way is still filtered exactly, just without skipping folders).
    let values = |key: &str| -> Option<Vec<&str>> {
        lake.files
            .iter()
            .map(|f| {
                f.partitions
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
            })
            .collect()
    };
    let dates_ok = values("date").is_some_and(|v| {
        v.iter()
            .all(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() && d.len() == 10)
    });
    let hours_ok = dates_ok
        && values("hour").is_some_and(|v| v.iter().all(|h| h.parse::<u32>().is_ok_and(|h| h < 24)));
    let hour = || cast(col("hour"), DataType::Int32);
    if dates_ok {
        if let Some(f) = window.from {
            let (d, h) = utc_date_hour(f);
            conds.push(col("date").gt_eq(lit(d.clone())));
            if hours_ok {
                conds.push(col("date").gt(lit(d)).or(hour().gt_eq(lit(h as i32))));
            }
        }
        if let Some(t) = window.to {
            let (d, h) = utc_date_hour(t - 1);
            conds.push(col("date").lt_eq(lit(d.clone())));
            if hours_ok {
                conds.push(col("date").lt(lit(d)).or(hour().lt_eq(lit(h as i32))));
            }
        }
    }
    let predicate = conds
        .into_iter()
        .reduce(|a, b| a.and(b))
        .expect("at least one bound");
    let plan = LogicalPlanBuilder::scan(
        SESSIONS,
        datafusion::datasource::provider_as_source(provider),
        None,
    )
    .and_then(|b| b.filter(predicate))
    .and_then(|b| b.build())
    .map_err(|e| fail(crate::error::one_line(&e)))?;
    let view = datafusion::datasource::ViewTable::new(plan, None);
    ctx.deregister_table(TableReference::bare(SESSIONS))
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    ctx.register_table(TableReference::bare(SESSIONS), Arc::new(view))
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    Ok(())
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

/// The columns of a Parquet domain list: `Domain` (a string, required) and `Position` or `rank`
/// (an integer, optional); names match case-insensitively.
fn domain_columns(
    schema: &arrow::datatypes::Schema,
    path: &str,
) -> Result<(
    arrow::datatypes::FieldRef,
    Option<arrow::datatypes::FieldRef>,
)> {
    let fail = |m: String| Error::table(DOMAINS, path, m);
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
    Ok((dom, pos))
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
    let (dom, pos) = domain_columns(df.schema().as_arrow(), path)?;
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
    let batches = load_domains(ctx, path).await?;
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    let table = MemTable::try_new(domains_schema(), vec![batches])
        .map_err(|e| Error::table(DOMAINS, path, crate::error::one_line(&e)))?;
    ctx.register_table(TableReference::bare(DOMAINS), Arc::new(table))
        .map_err(|e| Error::table(DOMAINS, path, crate::error::one_line(&e)))?;
    Ok(rows)
}

/// Register `top1m` for a Ballista cluster, whose executors read the list themselves (an
/// in-memory table cannot travel in a distributed plan). A Parquet list is read where it is; a
/// CSV or zip is decoded here and written as Parquet into `stage` (a folder the executors can
/// read, or `None` when they cannot see this machine's files). Returns the number of rows.
pub async fn register_domains_for_cluster(
    ctx: &SessionContext,
    path: &str,
    stage: Option<&Path>,
) -> Result<usize> {
    use datafusion::logical_expr::{cast, ident, lit};
    let fail = |m: String| Error::table(DOMAINS, path, m);
    let (source, rows) = if path.to_ascii_lowercase().ends_with(".parquet") {
        if !crate::store::is_url(path) && !Path::new(path).exists() {
            return Err(fail("no such file".into()));
        }
        // Counted below from the Parquet statistics, not by reading every row here.
        (path.to_string(), None)
    } else {
        let Some(stage) = stage else {
            return Err(fail(
                "the cluster's executors read the domain list themselves: give it as Parquet \
                 (`nethunt domains fetch` caches one) at an object-store URL or on the shared \
                 file system"
                    .into(),
            ));
        };
        let batches = load_domains(ctx, path).await?;
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        let file = stage.join("top1m.parquet");
        let staged = (|| -> std::result::Result<(), String> {
            let out = std::fs::File::create(&file).map_err(|e| e.to_string())?;
            let mut w = parquet::arrow::ArrowWriter::try_new(out, domains_schema(), None)
                .map_err(|e| e.to_string())?;
            for b in &batches {
                w.write(b).map_err(|e| e.to_string())?;
            }
            w.close().map_err(|e| e.to_string())?;
            Ok(())
        })();
        staged.map_err(|m| fail(format!("staging {} for the cluster: {m}", file.display())))?;
        (file.display().to_string(), Some(rows))
    };
    // A view that gives every source the same two typed columns, over a Parquet scan that the
    // executors run.
    let df = ctx
        .read_parquet(source.as_str(), ParquetReadOptions::default())
        .await
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let (dom, pos) = domain_columns(df.schema().as_arrow(), path)?;
    let position = match &pos {
        Some(p) => cast(ident(p.name()), DataType::Int32),
        None => lit(datafusion::common::ScalarValue::Int32(None)),
    };
    let df = df
        .select(vec![
            position.alias("Position"),
            cast(ident(dom.name()), DataType::Utf8).alias("Domain"),
        ])
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let rows = match rows {
        Some(n) => n,
        // count(*) of a Parquet scan is answered from the footers' row counts.
        None => df
            .clone()
            .count()
            .await
            .map_err(|e| fail(crate::error::one_line(&e)))?,
    };
    ctx.register_table(TableReference::bare(DOMAINS), df.into_view())
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    Ok(rows)
}

/// Decode a domain list (CSV, zip of CSVs, or Parquet, local or by URL for Parquet) into
/// `top1m`-shaped batches.
async fn load_domains(ctx: &SessionContext, path: &str) -> Result<Vec<RecordBatch>> {
    let p = Path::new(path);
    let is_parquet = path.to_ascii_lowercase().ends_with(".parquet");
    if crate::store::is_url(path) {
        if !is_parquet {
            return Err(Error::table(
                DOMAINS,
                path,
                "a domain list at a URL must be Parquet (CSV and zip lists are fetched with `nethunt domains fetch`)",
            ));
        }
    } else if !p.exists() {
        return Err(Error::table(DOMAINS, path, "no such file"));
    }
    Ok(if is_parquet {
        read_domains_parquet(ctx, path).await?
    } else {
        let bytes = std::fs::read(p).map_err(|e| Error::table(DOMAINS, path, e.to_string()))?;
        let table = crate::external::ExternalTable::top1m(path);
        vec![
            crate::external::decode(bytes, &table, &crate::external::Limits::default())
                .map_err(|m| Error::table(DOMAINS, path, m))?,
        ]
    })
}

/// Register an extra table `name` from a CSV file (with a header row) or Parquet file/folder/glob.
pub async fn register_extra(ctx: &SessionContext, name: &str, path: &str) -> Result<()> {
    let fail = |m: String| Error::table(name, path, m);
    if !crate::store::is_url(path) && !path.contains(['*', '?', '[']) && !Path::new(path).exists() {
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
