//! Running a planned query into its output: the physical plan is executed as a stream into
//! stdout or an atomic file, with a progress line while it runs, and the scan figures of the
//! plan afterwards. Used by `run`, `sql` and `batch`. Uses: `lake` (scan figures), `output`,
//! `error`.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::prelude::DataFrame;
use futures::TryStreamExt;

use crate::error::{Error, Result};
use crate::lake::scan::ScanMetrics;
use crate::output::{self, Format};

/// What happened: rows written, and what the scan read.
#[derive(Debug, Clone)]
pub struct Written {
    /// All rows, unless the reader of stdout left early (see `complete`).
    pub rows: usize,
    /// False when stdout was closed by its reader before the end: `rows` then counts up to the
    /// first row that met the closed pipe (at least one when there were any).
    pub complete: bool,
    pub scan: ScanMetrics,
}

/// A progress line for a long scan: what to call it, and since when it counts.
#[derive(Debug, Clone)]
pub struct Progress {
    pub label: String,
    pub started: Instant,
}

async fn sink(
    schema: SchemaRef,
    stream: impl futures::Stream<Item = datafusion::error::Result<RecordBatch>> + Unpin,
    format: Format,
    path: Option<&Path>,
) -> Result<output::Sent> {
    match path {
        None => output::to_stdout(schema, stream, format).await,
        Some(p) => Ok(output::Sent {
            rows: output::to_file(schema, stream, format, p).await?,
            complete: true,
        }),
    }
}

/// Run `df` and write its rows to stdout or atomically to `path`, with a progress line on stderr
/// when `progress` is given and the scan takes a while.
pub async fn write(
    df: DataFrame,
    format: Format,
    path: Option<&Path>,
    progress: Option<&Progress>,
) -> Result<Written> {
    let schema: SchemaRef = df.schema().inner().clone();
    let task = Arc::new(df.task_ctx());
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
        format != Format::Table && path.is_none() && std::io::stdout().is_terminal();
    let ticker = progress
        .filter(|_| !streamed_to_terminal)
        .map(|p| super::progress::Ticker::start(p.label.clone(), plan.clone(), p.started));
    let sent = if format == Format::Table && ticker.is_some() {
        let batches: std::result::Result<Vec<RecordBatch>, _> = stream.try_collect().await;
        if let Some(t) = ticker {
            t.finish().await;
        }
        let batches = batches.map_err(|e| Error::datafusion("running the query", e))?;
        let stream = futures::stream::iter(batches.into_iter().map(Ok));
        sink(schema, stream, format, path).await
    } else {
        let r = sink(schema, stream, format, path).await;
        if let Some(t) = ticker {
            t.finish().await;
        }
        r
    }?;
    Ok(Written {
        rows: sent.rows,
        complete: sent.complete,
        scan: ScanMetrics::of(&plan),
    })
}
