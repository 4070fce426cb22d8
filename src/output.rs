//! Result formats and writing. Data goes to stdout or to `--output FILE`; a file is written to a
//! temporary name in the same folder and renamed only when complete, so a failed run leaves no
//! file (and never a half-written one).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::util::display::FormatOptions;
use datafusion::prelude::DataFrame;
use std::io::IsTerminal;

use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// aligned text table (NULL shown as NULL)
    Table,
    /// comma-separated values with a header row
    Csv,
    /// one JSON array of objects
    Json,
    /// one JSON object per line
    Ndjson,
    /// Apache Parquet (zstd); needs --output
    Parquet,
}

impl Format {
    /// The format implied by an output file's extension.
    pub fn from_extension(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "parquet" => Some(Format::Parquet),
            "txt" => Some(Format::Table),
            _ => None,
        }
    }

    /// The file extension for this format (the inverse of [`Format::from_extension`]).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Table => "txt",
        }
    }
}

/// What happened: rows written, and what the scan read.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub rows: usize,
    pub scan: crate::scan::ScanMetrics,
}

fn null_text_options() -> FormatOptions<'static> {
    FormatOptions::default()
        .with_null("NULL")
        .with_display_error(true)
}

/// Render batches as an aligned table (used by `table` and by the REPL).
pub fn table_string(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String> {
    let owned;
    let batches = if batches.is_empty() {
        owned = vec![RecordBatch::new_empty(schema.clone())];
        &owned[..]
    } else {
        batches
    };
    arrow::util::pretty::pretty_format_batches_with_options(batches, &null_text_options())
        .map(|t| t.to_string())
        .map_err(|e| Error::Config(format!("cannot format results: {e}")))
}

/// Stream the DataFrame's rows in `format` into `w`.
async fn write_to<W: Write + Send>(
    df: DataFrame,
    format: Format,
    w: W,
    what: &Path,
    progress: Option<&Progress>,
) -> Result<(W, Written)> {
    let schema: SchemaRef = df.schema().inner().clone();
    let task = std::sync::Arc::new(df.task_ctx());
    let plan = df
        .create_physical_plan()
        .await
        .map_err(|e| Error::datafusion("planning the query", e))?;
    let stream = datafusion::physical_plan::execute_stream(plan.clone(), task)
        .map_err(|e| Error::datafusion("running the query", e))?;
    // The progress line shares the terminal with results printed to stdout: a table is printed
    // after the whole result is in (the line is gone by then); a streamed format to a terminal
    // gets no progress line.
    let streamed_to_terminal =
        format != Format::Table && what == Path::new("<stdout>") && std::io::stdout().is_terminal();
    let ticker = progress
        .filter(|_| !streamed_to_terminal)
        .map(|p| crate::progress::Ticker::start(p.label.clone(), plan.clone(), p.started));
    let result = if format == Format::Table && ticker.is_some() {
        let batches: std::result::Result<Vec<RecordBatch>, _> = stream.try_collect().await;
        if let Some(t) = ticker {
            t.finish().await;
        }
        let batches = batches.map_err(|e| Error::datafusion("running the query", e))?;
        write_batches(schema, batches, format, w, what).await
    } else {
        let r = write_stream(schema, stream, format, w, what).await;
        if let Some(t) = ticker {
            t.finish().await;
        }
        r
    };
    let (w, mut written) = result?;
    written.scan = crate::scan::ScanMetrics::of(&plan);
    Ok((w, written))
}

/// Write already-computed batches in `format` (the REPL collects before printing).
pub async fn write_batches<W: Write + Send>(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    format: Format,
    w: W,
    what: &Path,
) -> Result<(W, Written)> {
    let stream = futures::stream::iter(
        batches
            .into_iter()
            .map(Ok::<_, datafusion::error::DataFusionError>),
    );
    write_stream(schema, stream, format, w, what).await
}

/// Write a stream of batches in `format` into `w`.
async fn write_stream<W: Write + Send>(
    schema: SchemaRef,
    mut stream: impl futures::Stream<Item = datafusion::error::Result<RecordBatch>> + Unpin,
    format: Format,
    w: W,
    what: &Path,
) -> Result<(W, Written)> {
    let fail = |m: String| Error::Output {
        path: what.to_path_buf(),
        msg: m,
    };
    let mut rows = 0usize;
    macro_rules! next_batch {
        () => {
            match stream.next().await {
                None => None,
                Some(b) => Some(b.map_err(|e| Error::datafusion("running the query", e))?),
            }
        };
    }
    let w = match format {
        Format::Table => {
            let mut batches = Vec::new();
            while let Some(b) = next_batch!() {
                rows += b.num_rows();
                batches.push(b);
            }
            let mut w = w;
            writeln!(w, "{}", table_string(&schema, &batches)?).map_err(|e| fail(e.to_string()))?;
            w
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .with_null("".into())
                .build(w);
            let mut wrote = false;
            while let Some(b) = next_batch!() {
                rows += b.num_rows();
                writer.write(&b).map_err(|e| fail(e.to_string()))?;
                wrote = true;
            }
            if !wrote {
                writer
                    .write(&RecordBatch::new_empty(schema.clone()))
                    .map_err(|e| fail(e.to_string()))?;
            }
            writer.into_inner()
        }
        Format::Json => {
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::JsonArray>(w);
            while let Some(b) = next_batch!() {
                rows += b.num_rows();
                writer.write(&b).map_err(|e| fail(e.to_string()))?;
            }
            // arrow writes `[]` for an empty result itself
            writer.finish().map_err(|e| fail(e.to_string()))?;
            let mut w = writer.into_inner();
            w.write_all(b"\n").map_err(|e| fail(e.to_string()))?;
            w
        }
        Format::Ndjson => {
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(w);
            while let Some(b) = next_batch!() {
                rows += b.num_rows();
                writer.write(&b).map_err(|e| fail(e.to_string()))?;
            }
            writer.finish().map_err(|e| fail(e.to_string()))?;
            writer.into_inner()
        }
        Format::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build();
            let mut writer = parquet::arrow::ArrowWriter::try_new(w, schema.clone(), Some(props))
                .map_err(|e| fail(e.to_string()))?;
            while let Some(b) = next_batch!() {
                rows += b.num_rows();
                writer.write(&b).map_err(|e| fail(e.to_string()))?;
            }
            writer.into_inner().map_err(|e| fail(e.to_string()))?
        }
    };
    Ok((
        w,
        Written {
            rows,
            ..Default::default()
        },
    ))
}

/// A progress line for a long scan: what to call it, and since when it counts.
#[derive(Debug, Clone)]
pub struct Progress {
    pub label: String,
    pub started: std::time::Instant,
}

/// Write the results to stdout or atomically to `path`, with a progress line on stderr when
/// `progress` is given and the scan takes a while.
pub async fn write(
    df: DataFrame,
    format: Format,
    path: Option<&Path>,
    progress: Option<&Progress>,
) -> Result<Written> {
    match path {
        None => {
            if format == Format::Parquet {
                return Err(Error::Config("--format parquet needs --output FILE".into()));
            }
            let stdout = std::io::stdout();
            let shown = PathBuf::from("<stdout>");
            match write_to(df, format, BufWriter::new(stdout), &shown, progress).await {
                Ok((mut w, written)) => {
                    flush_stdout(&mut w)?;
                    Ok(written)
                }
                Err(Error::Output { msg, .. }) if msg.contains("Broken pipe") => {
                    Ok(Written::default())
                }
                Err(e) => Err(e),
            }
        }
        Some(path) => {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !dir.is_dir() {
                return Err(Error::Output {
                    path: path.to_path_buf(),
                    msg: format!("folder {} does not exist", dir.display()),
                });
            }
            let fail = |m: String| Error::Output {
                path: path.to_path_buf(),
                msg: m,
            };
            let tmp = tempfile::Builder::new()
                .prefix(".nethunt-")
                .suffix(".partial")
                .tempfile_in(&dir)
                .map_err(|e| fail(format!("cannot create a temporary file: {e}")))?;
            let (tmp_file, tmp_path) = tmp.into_parts();
            // On any error below, `tmp_path` is dropped and the partial file deleted.
            let (w, written) =
                write_to(df, format, BufWriter::new(tmp_file), path, progress).await?;
            let file = w.into_inner().map_err(|e| fail(e.to_string()))?;
            file.sync_all().map_err(|e| fail(e.to_string()))?;
            drop(file);
            tmp_path.persist(path).map_err(|e| fail(e.to_string()))?;
            Ok(written)
        }
    }
}

fn flush_stdout(w: &mut impl Write) -> Result<()> {
    match w.flush() {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Output {
            path: PathBuf::from("<stdout>"),
            msg: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_round_trip() {
        for f in [
            Format::Table,
            Format::Csv,
            Format::Json,
            Format::Ndjson,
            Format::Parquet,
        ] {
            let name = format!("result.{}", f.extension());
            assert_eq!(Format::from_extension(Path::new(&name)), Some(f));
        }
    }
}
