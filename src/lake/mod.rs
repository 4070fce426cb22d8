//! The lake: `NetworkSessions` over Parquet files, folders, globs and object-store URLs, with
//! every footer read first and schema checks that name the file and the column; `--from/--to`
//! windows; object stores; scan figures; the bundled sample; and `--table` sources.
//! Uses: `schema`, `output` (temporary folders), `error`.

pub mod listing;
pub mod raw;
pub mod sample;
pub mod scan;
pub mod store;
pub mod window;

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, Result};
use crate::schema::{self, SESSIONS};
use listing::{expand_glob, location_of, partition_keys, read_footer};
pub use window::TimeWindow;

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
    /// Columns whose files disagree on the type family.
    pub conflicts: Vec<Conflict>,
    /// Only the `--from/--to` window's folders were listed: `files` are those of the window.
    pub listed_window: bool,
    /// Read through source parsers (`files` are the sources' own files, their columns not
    /// ASIM's): the parsers' views give the columns, so files are not checked for them.
    pub parsed: bool,
}

/// A column stored as a string in one file and as an integer in another (say).
#[derive(Debug, Clone)]
pub struct Conflict {
    pub column: String,
    /// The first file that disagrees with the first file that has the column.
    pub location: String,
    pub msg: String,
}

impl Lake {
    /// Check that every file has each required column with a type of the right family. Partition
    /// columns are always present. The first problem is returned, naming the file and the column.
    pub fn check_columns(&self, required: &[String]) -> Result<()> {
        if self.parsed {
            return Ok(());
        }
        for col in required {
            if self.partition_cols.contains(col) {
                continue;
            }
            if let Some(c) = self.conflicts.iter().find(|c| &c.column == col) {
                return Err(Error::table(SESSIONS, &c.location, c.msg.clone()));
            }
            for f in &self.files {
                match f.schema.field_with_name(col) {
                    Ok(field) => {
                        if let Some(fam) = schema::family(col)
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

/// The files a source location holds, as listed (before any footer is read).
pub struct Listed {
    pub source: String,
    pub urls: Vec<ListingTableUrl>,
    pub store: Arc<dyn object_store::ObjectStore>,
    pub is_dir: bool,
    pub metas: Vec<object_store::ObjectMeta>,
    pub listed_window: bool,
}

impl Listed {
    /// Where a listed object is, as the user would write it.
    pub fn location(&self, meta: &object_store::ObjectMeta) -> String {
        location_of(&self.urls[0], &meta.location)
    }
    /// Hive partition values of a listed object (folders only).
    pub fn partitions(&self, meta: &object_store::ObjectMeta) -> Vec<(String, String)> {
        if self.is_dir {
            partition_keys(self.urls[0].prefix().as_ref(), meta.location.as_ref())
        } else {
            vec![]
        }
    }
}

/// Which files of a folder are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    /// `*.parquet` only (an ASIM lake).
    Parquet,
    /// Parquet and text logs (`.log`, `.json`, `.gz`, …) for source parsers; files under a
    /// `metadata/` folder (Iceberg's) and hidden or `_`-prefixed ones are never read.
    Logs,
}

impl Files {
    pub fn keeps(self, path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
        if name.starts_with('.') || name.starts_with('_') {
            return false;
        }
        match self {
            Files::Parquet => name.ends_with(".parquet"),
            Files::Logs => {
                !path.split('/').any(|seg| seg == "metadata")
                    && [".parquet", ".log", ".json", ".jsonl", ".ndjson", ".gz"]
                        .iter()
                        .any(|ext| name.ends_with(ext))
            }
        }
    }
}

/// List `source`: a file, a folder (recursively; with a window over a lake of time folders,
/// only the window's folders) or a glob. No file found is an error naming the source.
pub async fn list_source(
    ctx: &SessionContext,
    source: &str,
    window: TimeWindow,
    files: Files,
) -> Result<Listed> {
    let fail = |msg: String| Error::table(SESSIONS, source, msg);
    let remote = store::is_url(source);
    let is_glob = source.contains(['*', '?']);
    if !remote && !is_glob && !Path::new(source).exists() {
        return Err(fail("no such file or directory".into()));
    }
    // A remote prefix without a trailing slash is a folder unless it names an object with an
    // extension the lake reads.
    let names_object = files.keeps(source);
    let folder_url;
    let source_url = if remote && !is_glob && !source.ends_with('/') && !names_object {
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
    // With a window over a lake of time folders, only the window's folders are listed and only
    // their footers read; DataFusion's list-files cache gets that listing, so the scan lists
    // nothing more either.
    let windowed = if is_dir {
        listing::window_listing(store.as_ref(), url.prefix(), window, files)
            .await
            .map_err(fail)?
    } else {
        None
    };
    let listed_window = windowed.is_some();
    let mut metas: Vec<object_store::ObjectMeta> = match windowed {
        Some(found) => {
            if let Some(cache) = ctx.runtime_env().cache_manager.get_list_files_cache() {
                use datafusion::execution::cache::{
                    TableScopedPath, cache_manager::CachedFileList,
                };
                cache.put(
                    &TableScopedPath {
                        table: url.get_table_ref().clone(),
                        path: url.prefix().clone(),
                    },
                    CachedFileList::new(found.clone()),
                );
            }
            found
        }
        None => {
            let mut all = Vec::new();
            for u in &urls {
                let found: Vec<object_store::ObjectMeta> = if is_dir && files == Files::Logs {
                    // Every folder, not only hive ones: VPC's text delivery nests YYYY/MM/DD.
                    store
                        .list(Some(u.prefix()))
                        .try_collect()
                        .await
                        .map_err(|e| fail(crate::error::explain(&e.to_string())))?
                } else {
                    u.list_all_files(&state, store.as_ref(), if is_dir { ".parquet" } else { "" })
                        .await
                        .map_err(|e| fail(crate::error::one_line(&e)))?
                        .try_collect()
                        .await
                        .map_err(|e| fail(crate::error::one_line(&e)))?
                };
                all.extend(
                    found
                        .into_iter()
                        .filter(|m| !is_dir || files.keeps(m.location.as_ref())),
                );
            }
            all
        }
    };
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    if metas.is_empty() {
        return Err(fail(match (is_dir, files) {
            (true, Files::Parquet) => "no .parquet files found".into(),
            (true, Files::Logs) => {
                "no .parquet files found (nor logs: .log, .json, .jsonl, .ndjson, .gz)".into()
            }
            _ => "no such file".into(),
        }));
    }
    Ok(Listed {
        source: source.to_string(),
        urls,
        store,
        is_dir,
        metas,
        listed_window,
    })
}

/// The footers of listed Parquet files, read 16 at a time (on an object store each is a round
/// trip), as lake files.
pub async fn read_footers(
    ctx: &SessionContext,
    listed: &Listed,
    metas: &[object_store::ObjectMeta],
) -> Result<Vec<LakeFile>> {
    let cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
    let footers: Vec<_> = futures::stream::iter(metas.iter().cloned())
        .map(|m| read_footer(listed.store.clone(), cache.clone(), m))
        .buffered(16)
        .collect()
        .await;
    let mut files = Vec::with_capacity(metas.len());
    for (meta, footer) in metas.iter().zip(footers) {
        let location = listed.location(meta);
        let (schema, row_groups) = footer.map_err(|m| Error::table(SESSIONS, &location, m))?;
        files.push(LakeFile {
            location,
            object_path: meta.location.as_ref().to_string(),
            size: meta.size,
            row_groups,
            partitions: listed.partitions(meta),
            schema,
        });
    }
    Ok(files)
}

/// Register `NetworkSessions` over `source`: a Parquet file, a folder (hive partitions such as
/// `date=2024-07-30/` become columns), or a glob (`lake/*/*.parquet`, `lake/**/*.parquet`; a
/// glob lists files, so it brings no partition columns). Every footer is read first: a file that is
/// not Parquet, an empty folder or inconsistent partitioning is an error naming the file.
pub async fn register_sessions(
    ctx: &SessionContext,
    source: &str,
    window: TimeWindow,
) -> Result<Lake> {
    let listed = list_source(ctx, source, window, Files::Parquet).await?;
    let files = read_footers(ctx, &listed, &listed.metas).await?;
    register_asim(ctx, TableReference::bare(SESSIONS), &listed, files).await
}

/// Register `name` over Parquet files that carry ASIM columns themselves, as one table: the
/// union of the files' columns, hive partition folders as columns.
pub async fn register_asim(
    ctx: &SessionContext,
    name: TableReference,
    listed: &Listed,
    files: Vec<LakeFile>,
) -> Result<Lake> {
    let source = listed.source.as_str();
    let fail = |msg: String| Error::table(SESSIONS, source, msg);
    let is_dir = listed.is_dir;
    let ext = if is_dir { ".parquet" } else { "" };
    let urls = listed.urls.clone();
    let listed_window = listed.listed_window;
    let mut partition_cols: Option<Vec<String>> = None;
    for f in &files {
        let keys: Vec<String> = f.partitions.iter().map(|(k, _)| k.clone()).collect();
        match &partition_cols {
            None => partition_cols = Some(keys),
            Some(p) if *p != keys => {
                return Err(Error::table(
                    SESSIONS,
                    &f.location,
                    format!(
                        "hive partition folders [{}] differ from the lake's first file [{}]",
                        keys.join("/"),
                        p.join("/")
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let partition_cols = partition_cols.unwrap_or_default();

    // Table schema: the union of the files' columns, strings as Utf8View (what DataFusion reads
    // Parquet strings as by default), each column as the widest type of its family among the
    // files (Int32 in old files and Int64 in new ones read as Int64). A column whose files
    // disagree on the family keeps its first type and is a conflict, reported when a query
    // reads it.
    let mut fields: Vec<(String, DataType, String)> = Vec::new();
    let mut conflicts: Vec<Conflict> = Vec::new();
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
            let dt = schema::read_type(field.data_type());
            match fields.iter_mut().find(|(n, _, _)| n == field.name()) {
                None => fields.push((field.name().clone(), dt, f.location.clone())),
                Some((_, table_type, first)) => match schema::widen(table_type, &dt) {
                    Some(w) => *table_type = w,
                    None => conflicts.push(Conflict {
                        column: field.name().clone(),
                        location: f.location.clone(),
                        msg: format!(
                            "column {} has type {} here and {} in {first}: the files of a lake \
                             must agree on each column's kind (string, integer, number, \
                             timestamp, boolean)",
                            field.name(),
                            field.data_type(),
                            table_type
                        ),
                    }),
                },
            }
        }
    }
    let fields: Vec<Field> = fields
        .into_iter()
        .map(|(name, dt, _)| Field::new(name, dt, true))
        .collect();
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
    ctx.register_table(name, Arc::new(table))
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    Ok(Lake {
        source: source.to_string(),
        files,
        partition_cols,
        conflicts,
        listed_window,
        parsed: false,
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

/// `path` read as Parquet; a failure is "not a readable Parquet `what` (the cause)".
pub async fn read_parquet(
    ctx: &SessionContext,
    path: &str,
    what: &str,
) -> std::result::Result<datafusion::prelude::DataFrame, String> {
    ctx.read_parquet(path, ParquetReadOptions::default())
        .await
        .map_err(|e| {
            format!(
                "not a readable Parquet {what} ({})",
                crate::error::one_line(&e)
            )
        })
}

/// Register an extra table `name` from a CSV file (with a header row) or Parquet file/folder/glob.
pub async fn register_extra(ctx: &SessionContext, name: &str, path: &str) -> Result<()> {
    let fail = |m: String| Error::table(name, path, m);
    if !store::is_url(path) && !path.contains(['*', '?', '[']) && !Path::new(path).exists() {
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
        read_parquet(ctx, path, "source")
            .await
            .map_err(fail)?
            .into_view()
    };
    ctx.register_table(TableReference::bare(name), provider)
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    Ok(())
}
