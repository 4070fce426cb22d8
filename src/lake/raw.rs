//! Raw source tables: the files of a source (Zeek, VPC Flow Logs, OCSF, Suricata, …) read into
//! the flat, typed schema a source parser pins, whatever the files' own layout. Parquet files are
//! grouped by their footer schema and each group projected onto the pinned columns (a nested
//! field `src_endpoint.ip` is walked into, a literal dotted column `id.orig_h` is taken as it is,
//! a missing one is NULL, integer widths and doubles are cast); text logs (JSON lines, Zeek TSV,
//! space-separated with a header, gzip or plain) are decoded per file as they are scanned, with
//! errors naming the file and line (or staged as Parquet for a cluster's executors).
//! Uses: `import` (record readers), `output` (staged files), `schema`, `error`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringViewBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::common::{ScalarValue, TableReference};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit, try_cast};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;
use object_store::{ObjectStore, ObjectStoreExt};

use super::LakeFile;
use crate::error::{Error, Result};
use crate::import::records;
use crate::schema::SESSIONS;

/// Rows per batch of a decoded text log.
const TEXT_BATCH: usize = 8192;

/// The type of a raw column, as a parser's header writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawType {
    String,
    Int,
    /// A port number: an integer from 0 to 65535 (a text value outside is an error).
    Port,
    Float,
    Bool,
    /// A point in time: a timestamp column, epoch seconds (integer or with a fraction) or an
    /// ISO 8601 text; read as microseconds, UTC.
    Time,
}

impl RawType {
    pub fn parse(s: &str) -> Option<RawType> {
        Some(match s {
            "string" => RawType::String,
            "int" => RawType::Int,
            "port" => RawType::Port,
            "float" => RawType::Float,
            "bool" => RawType::Bool,
            "time" => RawType::Time,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            RawType::String => "string",
            RawType::Int => "int",
            RawType::Port => "port",
            RawType::Float => "float",
            RawType::Bool => "bool",
            RawType::Time => "time",
        }
    }
    pub fn arrow(self) -> DataType {
        match self {
            // What DataFusion reads Parquet strings as: no cast between raw table and view.
            RawType::String => DataType::Utf8View,
            RawType::Int | RawType::Port => DataType::Int64,
            RawType::Float => DataType::Float64,
            RawType::Bool => DataType::Boolean,
            RawType::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawColumn {
    /// A top-level name, or a path into nested fields (`traffic.bytes_in`).
    pub name: String,
    pub ty: RawType,
}

/// One raw table of a source parser (`[raw.NAME]` in its header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTable {
    pub name: String,
    /// Globs on file names (`conn*`): which files of the source are this table's.
    pub files: Vec<String>,
    pub columns: Vec<RawColumn>,
    /// Columns every file (every record, for text) must have.
    pub required: Vec<String>,
}

impl RawTable {
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(&c.name, c.ty.arrow(), true))
                .collect::<Vec<_>>(),
        ))
    }

    /// Whether the file named `file_name` (no folders) belongs to this table.
    pub fn takes(&self, file_name: &str) -> bool {
        self.files
            .iter()
            .any(|g| super::listing::glob_match(g, file_name))
    }
}

/// Whether a file is Parquet (by its name).
pub fn is_parquet(location: &str) -> bool {
    location.to_ascii_lowercase().ends_with(".parquet")
}

/// Register `table` in `schema_name` over `files` (Parquet files with their footers, and text
/// logs): `parser` names the source parser in errors.
pub async fn register(
    ctx: &SessionContext,
    schema_name: &str,
    table: &RawTable,
    parser: &str,
    files: &[LakeFile],
    store: Arc<dyn ObjectStore>,
) -> Result<()> {
    let fail = |m: String| Error::table(SESSIONS, parser, m);
    let pinned = table.schema();
    let (parquet, text): (Vec<&LakeFile>, Vec<&LakeFile>) =
        files.iter().partition(|f| is_parquet(&f.location));
    let mut plans: Vec<LogicalPlan> = Vec::new();
    // Parquet: one listing per footer schema, projected onto the pinned columns.
    let mut groups: Vec<(SchemaRef, Vec<&LakeFile>)> = Vec::new();
    for f in parquet {
        for req in &table.required {
            if locate(&f.schema, req).is_none() {
                return Err(Error::table(
                    SESSIONS,
                    &f.location,
                    format!("column {req} is missing (the {parser} parser needs it)"),
                ));
            }
        }
        match groups
            .iter_mut()
            .find(|(s, _)| s.fields() == f.schema.fields())
        {
            Some((_, g)) => g.push(f),
            None => groups.push((f.schema.clone(), vec![f])),
        }
    }
    for (file_schema, group) in groups {
        let urls = group
            .iter()
            .map(|f| {
                ListingTableUrl::parse(&f.location)
                    .map_err(|e| Error::table(SESSIONS, &f.location, crate::error::one_line(&e)))
            })
            .collect::<Result<Vec<_>>>()?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension("");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(file_schema.clone());
        let listing =
            ListingTable::try_new(config).map_err(|e| fail(crate::error::one_line(&e)))?;
        let exprs = table
            .columns
            .iter()
            .map(|c| project(&file_schema, c))
            .collect::<Vec<_>>();
        let plan = LogicalPlanBuilder::scan(
            format!("{parser}_{}", table.name),
            provider_as_source(Arc::new(listing)),
            None,
        )
        .and_then(|b| b.project(exprs))
        .and_then(|b| b.build())
        .map_err(|e| fail(crate::error::one_line(&e)))?;
        plans.push(plan);
    }
    // Text logs: decoded per file when scanned, one partition each.
    let partitions: Vec<Arc<dyn PartitionStream>> = text
        .iter()
        .map(|f| {
            Arc::new(TextFile {
                store: store.clone(),
                path: f.object_path.clone(),
                location: f.location.clone(),
                parser: parser.to_string(),
                table: Arc::new(table.clone()),
                schema: pinned.clone(),
            }) as Arc<dyn PartitionStream>
        })
        .collect();
    if !partitions.is_empty() || plans.is_empty() {
        // An empty streaming table when nothing is there: the parser's SQL still plans.
        let streaming = StreamingTable::try_new(pinned.clone(), partitions)
            .map_err(|e| fail(crate::error::one_line(&e)))?;
        let plan = LogicalPlanBuilder::scan(
            format!("{parser}_{}_text", table.name),
            provider_as_source(Arc::new(streaming)),
            None,
        )
        .and_then(|b| b.build())
        .map_err(|e| fail(crate::error::one_line(&e)))?;
        plans.push(plan);
    }
    let mut plans = plans.into_iter();
    let mut builder = LogicalPlanBuilder::from(plans.next().expect("at least one plan"));
    for p in plans {
        builder = builder
            .union(p)
            .map_err(|e| fail(crate::error::one_line(&e)))?;
    }
    let plan = builder
        .build()
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    ctx.register_table(
        TableReference::partial(schema_name, table.name.as_str()),
        Arc::new(ViewTable::new(plan, None)),
    )
    .map_err(|e| fail(crate::error::one_line(&e)))?;
    Ok(())
}

/// Where `name` is in `schema`: a top-level field of that name, else a path of nested struct
/// fields. The expression reading it and its type.
fn locate(schema: &Schema, name: &str) -> Option<(Expr, DataType)> {
    if let Ok(f) = schema.field_with_name(name) {
        return Some((ident(name), f.data_type().clone()));
    }
    let mut parts = name.split('.');
    let first = schema.field_with_name(parts.next()?).ok()?;
    let mut expr = ident(first.name());
    let mut dt = first.data_type().clone();
    for p in parts {
        let DataType::Struct(fields) = &dt else {
            return None;
        };
        let f = find(fields, p)?;
        expr = datafusion::functions::core::expr_fn::get_field(expr, p);
        dt = f.data_type().clone();
    }
    Some((expr, dt))
}

fn find<'a>(fields: &'a Fields, name: &str) -> Option<&'a Arc<Field>> {
    fields.iter().find(|f| f.name() == name)
}

/// The expression giving raw column `c` from a file of schema `schema`, as its pinned type.
fn project(schema: &Schema, c: &RawColumn) -> Expr {
    let target = c.ty.arrow();
    let Some((expr, dt)) = locate(schema, &c.name) else {
        let null = ScalarValue::try_from(&target).unwrap_or(ScalarValue::Null);
        return lit(null).alias(&c.name);
    };
    let is_text = crate::schema::Family::String.accepts(&dt);
    if dt == target {
        return expr.alias(&c.name);
    }
    let converted = match c.ty {
        RawType::Time => match &dt {
            DataType::Timestamp(_, _) => cast(expr, target),
            d if d.is_integer() => cast(
                cast(expr, DataType::Int64) * lit(1_000_000i64),
                target.clone(),
            ),
            d if d.is_floating() => cast(
                cast(cast(expr, DataType::Float64) * lit(1e6), DataType::Int64),
                target,
            ),
            _ => try_cast(expr, target),
        },
        // Text where a number belongs ("-" in AWS's Parquet): NULL rather than a failed scan.
        _ if is_text && c.ty != RawType::String => try_cast(expr, target),
        // (Parquet ports are cast as they are: a typed column, not text to validate.)
        _ => cast(expr, target),
    };
    converted.alias(&c.name)
}

/// One text log, decoded into the pinned schema when its partition is scanned.
#[derive(Debug)]
struct TextFile {
    store: Arc<dyn ObjectStore>,
    path: String,
    location: String,
    parser: String,
    table: Arc<RawTable>,
    schema: SchemaRef,
}

impl PartitionStream for TextFile {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let store = self.store.clone();
        let path = object_store::path::Path::from(self.path.as_str());
        let location = self.location.clone();
        let parser = self.parser.clone();
        let table = self.table.clone();
        let schema = self.schema.clone();
        // The file is decoded on a blocking thread and its batches handed over two at a time,
        // so memory holds the (compressed) file and two batches, not the whole decoded log.
        let (tx, rx) = tokio::sync::mpsc::channel::<datafusion::error::Result<RecordBatch>>(2);
        tokio::spawn(async move {
            let external = |e: Error| DataFusionError::External(Box::new(e));
            let bytes = match fetch(store.as_ref(), &path, &location).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(Err(external(e))).await;
                    return;
                }
            };
            let _ = tokio::task::spawn_blocking(move || {
                let sent = decode_each(&bytes, &location, &parser, &table, &mut |b| {
                    tx.blocking_send(Ok(b)).is_ok()
                });
                if let Err(e) = sent {
                    let _ = tx.blocking_send(Err(external(e)));
                }
            })
            .await;
        });
        let batches = tokio_stream_from(rx);
        Box::pin(RecordBatchStreamAdapter::new(schema, batches))
    }
}

enum Builder {
    Str(StringViewBuilder),
    Int(Int64Builder),
    Port(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Time(TimestampMicrosecondBuilder),
}

impl Builder {
    fn new(ty: RawType) -> Builder {
        match ty {
            RawType::String => Builder::Str(StringViewBuilder::new()),
            RawType::Int => Builder::Int(Int64Builder::new()),
            RawType::Port => Builder::Port(Int64Builder::new()),
            RawType::Float => Builder::Float(Float64Builder::new()),
            RawType::Bool => Builder::Bool(BooleanBuilder::new()),
            RawType::Time => Builder::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
        }
    }

    /// Append `v` (absent or empty: NULL), or say why it does not parse.
    fn push(&mut self, v: Option<&str>) -> std::result::Result<(), String> {
        let v = v.filter(|s| !s.is_empty());
        match self {
            Builder::Str(b) => b.append_option(v),
            Builder::Int(b) => b.append_option(v.map(parse_int).transpose()?),
            Builder::Port(b) => b.append_option(
                v.map(|s| match parse_int(s)? {
                    p @ 0..=65535 => Ok(p),
                    p => Err(format!("{p} is not a port number")),
                })
                .transpose()?,
            ),
            Builder::Float(b) => b.append_option(
                v.map(|s| {
                    s.parse::<f64>()
                        .map_err(|_| format!("expected a number, got '{s}'"))
                })
                .transpose()?,
            ),
            Builder::Bool(b) => b.append_option(
                v.map(|s| match s {
                    "true" | "T" => Ok(true),
                    "false" | "F" => Ok(false),
                    _ => Err(format!("expected true or false, got '{s}'")),
                })
                .transpose()?,
            ),
            Builder::Time(b) => b.append_option(v.map(records::parse_ts).transpose()?),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Int(b) | Builder::Port(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
        }
    }
}

/// A whole number, also when written as one with a zero fraction (`443.0`).
fn parse_int(s: &str) -> std::result::Result<i64, String> {
    s.parse::<i64>()
        .ok()
        .or_else(|| {
            s.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        })
        .ok_or_else(|| format!("expected a whole number, got '{s}'"))
}

/// Decode one text log (gzip or plain) into batches of the table's pinned schema; `location` and
/// `parser` name them in errors. (Public for the fuzz tests and `import zeek`.)
pub fn decode_text(
    bytes: &[u8],
    location: &str,
    parser: &str,
    table: &RawTable,
) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    decode_each(bytes, location, parser, table, &mut |b| {
        out.push(b);
        true
    })?;
    Ok(out)
}

/// The whole of one log from its store; an error names its `location`.
async fn fetch(
    store: &dyn ObjectStore,
    path: &object_store::path::Path,
    location: &str,
) -> Result<bytes::Bytes> {
    async { store.get(path).await?.bytes().await }
        .await
        .map_err(|e| Error::table(SESSIONS, location, crate::error::explain(&e.to_string())))
}

/// Decode the text logs among `files` into Parquet files in `dir` (made if missing), one per
/// log, for executors that cannot decode text: the staged files' paths.
pub async fn stage_text(
    files: &[LakeFile],
    store: Arc<dyn ObjectStore>,
    parser: &str,
    table: &RawTable,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let out_err = |path: &std::path::Path, msg: String| Error::Output {
        path: path.to_path_buf(),
        msg,
    };
    let mut out = Vec::new();
    for (n, f) in files
        .iter()
        .filter(|f| !is_parquet(&f.location))
        .enumerate()
    {
        let path = object_store::path::Path::from(f.object_path.as_str());
        let bytes = fetch(store.as_ref(), &path, &f.location).await?;
        let batches = decode_text(&bytes, &f.location, parser, table)?;
        let dest = dir.join(format!("part-{n:05}.parquet"));
        let mut file = crate::output::ParquetFile::create(
            &dest,
            table.schema(),
            parquet::file::properties::WriterProperties::builder().build(),
        )
        .map_err(|e| out_err(&dest, e))?;
        for b in &batches {
            file.write(b).map_err(|e| out_err(&dest, e))?;
        }
        let done = file.finish().map_err(|e| out_err(&dest, e))?;
        out.push(done.commit().map_err(|e| out_err(&dest, e))?);
    }
    Ok(out)
}

/// A receiver as a stream of what is sent on it.
fn tokio_stream_from<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}

/// Decode one text log, handing each batch to `emit` as it is full; `emit` returning false
/// (nobody wants more) stops the decoding.
fn decode_each(
    bytes: &[u8],
    location: &str,
    parser: &str,
    table: &RawTable,
    emit: &mut dyn FnMut(RecordBatch) -> bool,
) -> Result<()> {
    let schema = table.schema();
    let mut builders: Vec<Builder> = table.columns.iter().map(|c| Builder::new(c.ty)).collect();
    let mut rows = 0;
    let finish = |builders: &mut Vec<Builder>| {
        RecordBatch::try_new(
            schema.clone(),
            builders.iter_mut().map(|b| b.finish()).collect(),
        )
        .map_err(|e| Error::table(SESSIONS, location, e.to_string()))
    };
    // The reader stops at the first error: nobody wanting more batches is one, not reported.
    let mut wanted = true;
    let read = records::read_any(
        records::decompress(bytes),
        std::path::Path::new(location),
        |_, rec| {
            for req in &table.required {
                if rec.get(req).is_none_or(|v| v.is_none()) {
                    return Err(Error::Config(format!(
                        "field {req} is missing (the {parser} parser needs it)"
                    )));
                }
            }
            for (c, b) in table.columns.iter().zip(builders.iter_mut()) {
                b.push(rec.get(&c.name).and_then(|v| v.as_deref()))
                    .map_err(|m| Error::Config(format!("field {}: {m}", c.name)))?;
            }
            rows += 1;
            if rows == TEXT_BATCH {
                rows = 0;
                wanted = emit(finish(&mut builders)?);
                if !wanted {
                    return Err(Error::Config(String::new()));
                }
            }
            Ok(())
        },
    );
    if !wanted {
        return Ok(());
    }
    read?;
    if rows > 0 {
        emit(finish(&mut builders)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cols: &[(&str, RawType)], required: &[&str]) -> RawTable {
        RawTable {
            name: "t".into(),
            files: vec!["*".into()],
            columns: cols
                .iter()
                .map(|(n, t)| RawColumn {
                    name: n.to_string(),
                    ty: *t,
                })
                .collect(),
            required: required.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn text_logs_decode_into_the_pinned_types() {
        let t = table(
            &[
                ("ts", RawType::Time),
                ("id.orig_p", RawType::Int),
                ("duration", RawType::Float),
                ("local_orig", RawType::Bool),
                ("service", RawType::String),
            ],
            &["ts"],
        );
        let text = "{\"ts\":1.5,\"id.orig_p\":443,\"duration\":0.25,\"local_orig\":true}\n\
                    {\"ts\":\"2024-04-29T18:58:57Z\",\"id\":{\"orig_p\":80.0},\"service\":\"\"}\n";
        let b = decode_text(text.as_bytes(), "conn.log", "zeek", &t).unwrap();
        assert_eq!(b[0].num_rows(), 2);
        let shown = arrow::util::pretty::pretty_format_batches(&b)
            .unwrap()
            .to_string();
        assert!(shown.contains("1970-01-01T00:00:01.500Z"), "{shown}");
        assert!(shown.contains("| 80 "), "{shown}");
        let bad = decode_text(b"{\"ts\":1,\"id.orig_p\":\"x\"}\n", "conn.log", "zeek", &t);
        assert_eq!(
            bad.unwrap_err().to_string(),
            "conn.log:1: field id.orig_p: expected a whole number, got 'x'"
        );
        let missing = decode_text(b"{\"uid\":\"C1\"}\n", "conn.log", "zeek", &t);
        assert_eq!(
            missing.unwrap_err().to_string(),
            "conn.log:1: field ts is missing (the zeek parser needs it)"
        );
        let json = decode_text(b"{\"ts\":1}\n{\"ts\":\n", "conn.log", "zeek", &t).unwrap_err();
        assert!(
            json.to_string()
                .starts_with("conn.log:2: not a JSON object"),
            "{json}"
        );
    }

    #[test]
    fn parquet_columns_are_found_nested_or_dotted() {
        let nested = Schema::new(vec![
            Field::new(
                "src_endpoint",
                DataType::Struct(vec![Field::new("port", DataType::Int32, true)].into()),
                true,
            ),
            Field::new("id.orig_h", DataType::Utf8, true),
        ]);
        assert!(locate(&nested, "src_endpoint.port").is_some());
        assert!(locate(&nested, "id.orig_h").is_some());
        assert!(locate(&nested, "src_endpoint.ip").is_none());
        assert!(locate(&nested, "dst_endpoint.port").is_none());
    }
}
