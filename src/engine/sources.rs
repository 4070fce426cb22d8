//! `NetworkSessions` from `--data [SOURCE=]PATH|URL`, repeatable: each source's files listed
//! (only the window's folders where the layout allows), its format detected from the footers or
//! first records unless `SOURCE=` names it, its raw tables registered and its parser's view
//! planned over them; the table is the union of the views by column name, as
//! `_Im_NetworkSession` unions ASIM's parsers. One ASIM Parquet lake alone is registered as it
//! is. Also the sessions `import zeek` writes: the zeek parser's view over the logs it is given.
//! Uses: `library` (source parsers), `lake`, `import` (what an import writes), `schema`, `error`.

use std::sync::Arc;

use arrow::datatypes::{DataType, Schema};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::{ScalarValue, TableReference};
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use object_store::ObjectStoreExt;

use crate::error::{Error, Result, one_line};
use crate::lake::{self, Files, Lake, LakeFile, TimeWindow, raw};
use crate::library::sources::{self as parsers, ASIM, SourceParser};
use crate::schema::SESSIONS;

/// One `--data` value: an optional parser name and where the files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSpec {
    pub parser: Option<String>,
    pub location: String,
}

impl DataSpec {
    /// `SOURCE=PATH` when the text before the first `=` names a parser; else all of it is the
    /// path (hive folders such as `date=2024-07-30` have `=` too).
    pub fn parse(text: &str) -> Result<DataSpec> {
        if let Some((name, rest)) = text.split_once('=')
            && parsers::BUILTIN.iter().any(|(n, _)| *n == name)
        {
            if rest.is_empty() {
                return Err(Error::Config(format!(
                    "--data {text}: no path after {name}="
                )));
            }
            return Ok(DataSpec {
                parser: Some(name.to_string()),
                location: rest.to_string(),
            });
        }
        Ok(DataSpec {
            parser: None,
            location: text.to_string(),
        })
    }
}

/// What was read: the lake, and one line per source saying how it was read.
pub struct Registered {
    pub lake: Lake,
    pub notes: Vec<String>,
}

/// Where queries run, as far as reading text logs goes.
pub enum Runs<'a> {
    /// In this process: text logs are decoded as they are scanned.
    Here,
    /// On a cluster whose executors share this machine's files: text logs are decoded once,
    /// up front, into Parquet files in `stage`, which the executors read.
    ClusterHere { stage: &'a std::path::Path },
    /// On executors elsewhere: text logs cannot be read there.
    ClusterElsewhere,
}

/// Register `NetworkSessions` over `specs`.
pub async fn register(
    ctx: &SessionContext,
    specs: &[DataSpec],
    window: TimeWindow,
    runs: Runs<'_>,
) -> Result<Registered> {
    let all = parsers::parsers()?;
    let mut plans: Vec<LogicalPlan> = Vec::new();
    let mut files: Vec<LakeFile> = Vec::new();
    let mut notes = Vec::new();
    let mut listed_window = false;
    for (i, spec) in specs.iter().enumerate() {
        let named = match &spec.parser {
            Some(n) => Some(parsers::parser(n)?),
            None => None,
        };
        let kind = if named.as_ref().is_some_and(|p| p.name == ASIM) {
            Files::Parquet
        } else {
            Files::Logs
        };
        let listed = lake::list_source(ctx, &spec.location, window, kind).await?;
        listed_window |= listed.listed_window;
        let (pq, text): (Vec<_>, Vec<_>) = listed
            .metas
            .iter()
            .cloned()
            .partition(|m| raw::is_parquet(m.location.as_ref()));
        let mut source_files = lake::read_footers(ctx, &listed, &pq).await?;
        source_files.extend(text.iter().map(|m| LakeFile {
            location: listed.location(m),
            object_path: m.location.as_ref().to_string(),
            size: m.size,
            row_groups: 0,
            partitions: listed.partitions(m),
            schema: Arc::new(Schema::empty()),
        }));
        let parser = match named {
            Some(p) => p,
            None => {
                let (p, note) = detect(&all, &listed, &source_files).await?;
                // An ASIM lake is read as it always was: nothing to say.
                if p.name != ASIM {
                    notes.push(note);
                }
                p
            }
        };
        if parser.name == ASIM {
            source_files.retain(|f| raw::is_parquet(&f.location));
            if specs.len() == 1 {
                // One ASIM lake: the table is the files, as before parsers existed.
                let lake =
                    lake::register_asim(ctx, TableReference::bare(SESSIONS), &listed, source_files)
                        .await?;
                return Ok(Registered { lake, notes });
            }
        }
        // The source's raw tables live in a schema of its own, where its parser's SQL finds them.
        let schema = source_schema(ctx, i)?;
        if parser.name == ASIM {
            let lake = lake::register_asim(
                ctx,
                TableReference::partial(schema.as_str(), "sessions"),
                &listed,
                source_files,
            )
            .await?;
            source_files = lake.files;
        } else {
            if matches!(runs, Runs::ClusterElsewhere) && !text.is_empty() {
                return Err(Error::table(
                    SESSIONS,
                    &spec.location,
                    format!(
                        "the {} parser's text logs cannot be read by executors on other hosts \
                         (not supported yet); give Parquet sources, or run the cluster on this \
                         machine",
                        parser.name
                    ),
                ));
            }
            for table in &parser.raw {
                let mut mine: Vec<LakeFile> = source_files
                    .iter()
                    .filter(|f| table.takes(file_name(&f.location)))
                    .cloned()
                    .collect();
                let mut store = listed.store.clone();
                if let Runs::ClusterHere { stage } = runs
                    && mine.iter().any(|f| !raw::is_parquet(&f.location))
                {
                    if mine.iter().any(|f| raw::is_parquet(&f.location)) {
                        return Err(Error::table(
                            SESSIONS,
                            &spec.location,
                            "Parquet and text logs in one source cannot run on a cluster yet",
                        ));
                    }
                    let dir = stage.join(format!("source-{i}-{}", table.name));
                    let staged =
                        raw::stage_text(&mine, listed.store.clone(), &parser.name, table, &dir)
                            .await?;
                    let (files, local) = staged_files(ctx, &staged).await?;
                    mine = files;
                    store = local;
                }
                raw::register(ctx, &schema, table, &parser.name, &mine, store).await?;
            }
        }
        plans.push(view(ctx, &schema, &parser, &spec.location).await?);
        files.extend(source_files);
    }
    let mut plans = plans.into_iter();
    let mut builder = LogicalPlanBuilder::from(plans.next().expect("at least one --data"));
    for p in plans {
        builder = builder
            .union_by_name(p)
            .map_err(|e| Error::table(SESSIONS, "--data", one_line(&e)))?;
    }
    let plan = builder
        .build()
        .map_err(|e| Error::table(SESSIONS, "--data", one_line(&e)))?;
    ctx.register_table(
        TableReference::bare(SESSIONS),
        Arc::new(ViewTable::new(plan, None)),
    )
    .map_err(|e| Error::table(SESSIONS, "--data", one_line(&e)))?;
    Ok(Registered {
        lake: Lake {
            source: specs
                .iter()
                .map(|s| match &s.parser {
                    Some(p) => format!("{p}={}", s.location),
                    None => s.location.clone(),
                })
                .collect::<Vec<_>>()
                .join(" + "),
            files,
            partition_cols: vec![],
            conflicts: vec![],
            listed_window,
            parsed: true,
        },
        notes,
    })
}

/// Staged Parquet files (local paths) as lake files with their footers, and the local store.
async fn staged_files(
    ctx: &SessionContext,
    staged: &[std::path::PathBuf],
) -> Result<(Vec<LakeFile>, Arc<dyn object_store::ObjectStore>)> {
    let local = ctx
        .runtime_env()
        .object_store(datafusion::execution::object_store::ObjectStoreUrl::local_filesystem())
        .map_err(|e| Error::Config(one_line(&e)))?;
    let urls = staged
        .iter()
        .map(|p| {
            datafusion::datasource::listing::ListingTableUrl::parse(p.display().to_string())
                .map_err(|e| Error::Config(one_line(&e)))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut metas = Vec::new();
    for p in staged {
        let path = object_store::path::Path::from_absolute_path(p)
            .map_err(|e| Error::Config(format!("{}: {e}", p.display())))?;
        metas.push(
            local
                .head(&path)
                .await
                .map_err(|e| Error::Config(format!("{}: {e}", p.display())))?,
        );
    }
    if urls.is_empty() {
        return Ok((vec![], local));
    }
    let listed = lake::Listed {
        source: "staged text logs".into(),
        urls,
        store: local.clone(),
        is_dir: false,
        metas: vec![],
        listed_window: false,
    };
    let mut files = lake::read_footers(ctx, &listed, &metas).await?;
    for (f, p) in files.iter_mut().zip(staged) {
        f.location = p.display().to_string();
    }
    Ok((files, local))
}

fn file_name(location: &str) -> &str {
    location.rsplit(['/', '\\']).next().unwrap_or(location)
}

/// The schema (namespace) source `i`'s raw tables are registered in.
fn source_schema(ctx: &SessionContext, i: usize) -> Result<String> {
    let name = format!("nethunt_source_{i}");
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| Error::Config("no default catalog".into()))?;
    catalog
        .register_schema(&name, Arc::new(MemorySchemaProvider::new()))
        .map_err(|e| Error::Config(one_line(&e)))?;
    Ok(name)
}

/// The parser's view over the raw tables in `schema`, with every ASIM column in its canonical
/// type (the ones the parser does not fill as NULL) and the parser's other columns after them.
async fn view(
    ctx: &SessionContext,
    schema: &str,
    parser: &SourceParser,
    location: &str,
) -> Result<LogicalPlan> {
    let fail = |m: String| {
        Error::table(
            SESSIONS,
            location,
            format!("the {} parser: {m}", parser.name),
        )
    };
    let mut state = ctx.state();
    state.config_mut().options_mut().catalog.default_schema = schema.to_string();
    let plan = state
        .create_logical_plan(&parser.body)
        .await
        .map_err(|e| fail(one_line(&e)))?;
    let out = plan.schema().clone();
    let mut exprs: Vec<Expr> = Vec::new();
    for field in crate::schema::columns() {
        let want = crate::schema::read_type(field.data_type());
        let e = match out.field_with_unqualified_name(field.name()) {
            Ok(f) if f.data_type() == &want => ident(field.name()),
            Ok(_) => cast(ident(field.name()), want),
            Err(_) => lit(ScalarValue::try_from(&want).unwrap_or(ScalarValue::Null)),
        };
        exprs.push(e.alias(field.name()));
    }
    for f in out.fields() {
        if crate::schema::family(f.name()).is_none() {
            let want = crate::schema::read_type(f.data_type());
            let e = if &want == f.data_type() {
                ident(f.name())
            } else {
                cast(ident(f.name()), want)
            };
            exprs.push(e.alias(f.name()));
        }
    }
    LogicalPlanBuilder::from(plan)
        .project(exprs)
        .and_then(|b| b.build())
        .map_err(|e| fail(one_line(&e)))
}

/// Bytes read from the start of a text log to find its fields.
const PEEK: u64 = 64 * 1024;

/// Which parser reads a source: each file's columns (Parquet) or first record's fields (text)
/// are matched against every parser's `[detect]` columns. Files of one parser are read; files no
/// parser recognises are skipped when the parser would not read them anyway (a Zeek folder's
/// dns.log), else an error; files of two parsers are an error.
async fn detect(
    all: &[SourceParser],
    listed: &lake::Listed,
    files: &[LakeFile],
) -> Result<(SourceParser, String)> {
    let store = listed.store.clone();
    let keys: Vec<std::result::Result<Vec<String>, String>> = futures::stream::iter(files.iter())
        .map(|f| {
            let store = store.clone();
            async move {
                if raw::is_parquet(&f.location) {
                    return Ok(parquet_keys(&f.schema));
                }
                let path = object_store::path::Path::from(f.object_path.as_str());
                let bytes = store
                    .get_range(&path, 0..f.size.min(PEEK))
                    .await
                    .map_err(|e| crate::error::explain(&e.to_string()))?;
                Ok(crate::import::records::first_keys(&bytes).unwrap_or_default())
            }
        })
        .buffered(16)
        .collect()
        .await;
    let mut by_file: Vec<(&LakeFile, Vec<&SourceParser>)> = Vec::new();
    for (f, k) in files.iter().zip(keys) {
        let k = k.map_err(|m| Error::table(SESSIONS, &f.location, m))?;
        by_file.push((f, all.iter().filter(|p| p.matches(&k)).collect()));
    }
    // The parser: the first (in catalog order) that every recognised file is one of.
    let recognised: Vec<&(&LakeFile, Vec<&SourceParser>)> =
        by_file.iter().filter(|(_, ps)| !ps.is_empty()).collect();
    let looked_for = || {
        all.iter()
            .map(|p| {
                if p.name == ASIM {
                    format!("{ASIM}: any ASIM column such as {}", p.detect.join(", "))
                } else {
                    format!("{}: {}", p.name, p.detect.join("+"))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let Some((first, first_ps)) = recognised.first() else {
        return Err(Error::table(
            SESSIONS,
            &listed.source,
            format!(
                "no source parser recognises {} (looked for columns or fields: {}); name one \
                 with --data SOURCE=PATH",
                if files.len() == 1 {
                    "the file".to_string()
                } else {
                    format!("any of its {} files", files.len())
                },
                looked_for()
            ),
        ));
    };
    let chosen = first_ps
        .iter()
        .find(|p| {
            recognised
                .iter()
                .all(|(_, ps)| ps.iter().any(|q| q.name == p.name))
        })
        .copied();
    let Some(chosen) = chosen else {
        let (other, other_ps) = recognised
            .iter()
            .find(|(_, ps)| !ps.iter().any(|q| q.name == first_ps[0].name))
            .expect("some file disagrees");
        return Err(Error::table(
            SESSIONS,
            &listed.source,
            format!(
                "mixed formats: {} looks like {} and {} like {}; give each its own --data \
                 SOURCE=PATH",
                first.location, first_ps[0].name, other.location, other_ps[0].name
            ),
        ));
    };
    // Files the parser has no table for are skipped (a Zeek folder's dns.log); one it would read
    // that does not look like its source is an error.
    let mut skipped = 0;
    for (f, ps) in &by_file {
        // An ASIM lake is its Parquet files (a manifest.json or notes beside them are not data).
        let taken = if chosen.name == ASIM {
            raw::is_parquet(&f.location)
        } else {
            chosen.raw.iter().any(|t| t.takes(file_name(&f.location)))
        };
        if !taken {
            skipped += 1;
        } else if ps.is_empty() {
            return Err(Error::table(
                SESSIONS,
                &f.location,
                format!(
                    "does not look like the rest of the source ({}): it lacks {}",
                    chosen.name,
                    if chosen.name == ASIM {
                        "every ASIM column".to_string()
                    } else {
                        chosen.detect.join(", ")
                    }
                ),
            ));
        }
    }
    let read = files.len() - skipped;
    let mut note = format!(
        "--data {}: read as {} ({}), {read} file{}",
        crate::error::redact(&listed.source),
        chosen.name,
        chosen.title,
        if read == 1 { "" } else { "s" }
    );
    if skipped > 0 {
        note.push_str(&format!(
            ", {skipped} other log{} skipped",
            if skipped == 1 { "" } else { "s" }
        ));
    }
    Ok((chosen.clone(), note))
}

/// A Parquet file's column names for detection: top-level names and the dotted paths of nested
/// struct fields.
fn parquet_keys(schema: &Schema) -> Vec<String> {
    fn walk(prefix: &str, dt: &DataType, out: &mut Vec<String>) {
        if let DataType::Struct(fields) = dt {
            for f in fields {
                let name = format!("{prefix}.{}", f.name());
                out.push(name.clone());
                walk(&name, f.data_type(), out);
            }
        }
    }
    let mut out = Vec::new();
    for f in schema.fields() {
        out.push(f.name().clone());
        walk(f.name(), f.data_type(), &mut out);
    }
    out
}

/// The sessions `import zeek` writes: the zeek parser's view over the prepared logs, in the
/// import's schema ([`crate::import::zeek::schema`]). Reading Zeek logs in place and importing
/// them are the one mapping of `parsers/zeek.sql`.
pub async fn zeek_import(
    ctx: &SessionContext,
    prepared: &crate::import::zeek::Prepared,
) -> Result<impl futures::Stream<Item = Result<arrow::array::RecordBatch>> + Unpin + use<>> {
    let parser = parsers::parser("zeek")?;
    let schema = source_schema(ctx, 0)?;
    let store = ctx
        .runtime_env()
        .object_store(datafusion::execution::object_store::ObjectStoreUrl::local_filesystem())
        .map_err(|e| Error::Config(one_line(&e)))?;
    for table in &parser.raw {
        let paths = match table.name.as_str() {
            "conn" => &prepared.conn,
            "http" => &prepared.http,
            "ssl" => &prepared.ssl,
            other => {
                return Err(Error::Config(format!(
                    "import zeek: the zeek parser has a raw table {other} the import does not fill"
                )));
            }
        };
        let files = paths
            .iter()
            .map(|p| {
                let io = |e: std::io::Error| Error::Io {
                    path: p.clone(),
                    source: e,
                };
                let abs = std::fs::canonicalize(p).map_err(io)?;
                let size = std::fs::metadata(&abs).map_err(io)?.len();
                let object_path = object_store::path::Path::from_absolute_path(&abs)
                    .map_err(|e| Error::Config(format!("{}: {e}", p.display())))?;
                Ok(LakeFile {
                    location: p.display().to_string(),
                    object_path: object_path.as_ref().to_string(),
                    size,
                    row_groups: 0,
                    partitions: vec![],
                    schema: Arc::new(Schema::empty()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        raw::register(ctx, &schema, table, &parser.name, &files, store.clone()).await?;
    }
    let plan = view(ctx, &schema, &parser, "import zeek").await?;
    let target = crate::import::zeek::schema();
    let exprs: Vec<Expr> = target
        .fields()
        .iter()
        .map(|f| cast(ident(f.name()), f.data_type().clone()).alias(f.name()))
        .collect();
    let plan = LogicalPlanBuilder::from(plan)
        .project(exprs)
        .and_then(|b| b.build())
        .map_err(|e| Error::datafusion("import zeek", e))?;
    let stream = ctx
        .execute_logical_plan(plan)
        .await
        .map_err(|e| Error::datafusion("import zeek", e))?
        .execute_stream()
        .await
        .map_err(|e| Error::datafusion("import zeek", e))?;
    Ok(stream.map(move |b| {
        let b = b.map_err(|e| Error::datafusion("import zeek", e))?;
        // The writer's schema has the non-null fields of a written lake.
        arrow::array::RecordBatch::try_new(target.clone(), b.columns().to_vec())
            .map_err(|e| Error::Config(format!("import zeek: {e}")))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_specs() {
        assert_eq!(
            DataSpec::parse("zeek=/logs").unwrap(),
            DataSpec {
                parser: Some("zeek".into()),
                location: "/logs".into()
            }
        );
        // A hive folder is a path, not a source.
        assert_eq!(DataSpec::parse("date=2024-07-30").unwrap().parser, None);
        assert_eq!(
            DataSpec::parse("lake/date=2024-07-30/").unwrap().location,
            "lake/date=2024-07-30/"
        );
        assert!(DataSpec::parse("vpcflow=").is_err());
    }
}
