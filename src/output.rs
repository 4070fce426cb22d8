//! Result formats and files that are never half-written. Every file nethunt writes (results,
//! lake files of `generate` and `import`, the reference-table cache, the domain list staged for a
//! cluster) goes through [`AtomicFile`]: a temporary file in the destination folder, renamed
//! over the destination only when complete, and deleted when dropped before that.
//! Uses: `error`.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::util::display::FormatOptions;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// aligned text table (NULL shown as NULL)
    Table,
    /// comma-separated values with a header row
    Csv,
    /// one JSON array of objects
    Json,
    /// one JSON object per line
    Ndjson,
    /// Apache Parquet (zstd); needs a file
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

/// Write already-computed batches in `format` (the REPL collects before printing).
pub async fn write_batches<W: Write + Send>(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    format: Format,
    w: W,
    what: &Path,
) -> Result<(W, usize)> {
    let stream = futures::stream::iter(
        batches
            .into_iter()
            .map(Ok::<_, datafusion::error::DataFusionError>),
    );
    write_stream(schema, stream, format, w, what).await
}

/// Write a stream of batches in `format` into `w`; returns `w` and the number of rows.
pub async fn write_stream<W: Write + Send>(
    schema: SchemaRef,
    mut stream: impl futures::Stream<Item = datafusion::error::Result<RecordBatch>> + Unpin,
    format: Format,
    w: W,
    what: &Path,
) -> Result<(W, usize)> {
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
            let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(zstd_properties()))
                .map_err(|e| fail(e.to_string()))?;
            while let Some(b) = next_batch!() {
                rows += b.num_rows();
                writer.write(&b).map_err(|e| fail(e.to_string()))?;
            }
            writer.into_inner().map_err(|e| fail(e.to_string()))?
        }
    };
    Ok((w, rows))
}

/// The stream written to stdout. A reader that goes away (`| head`) ends the writing quietly.
pub async fn to_stdout(
    schema: SchemaRef,
    stream: impl futures::Stream<Item = datafusion::error::Result<RecordBatch>> + Unpin,
    format: Format,
) -> Result<usize> {
    if format == Format::Parquet {
        return Err(Error::Config("--format parquet needs --output FILE".into()));
    }
    let shown = PathBuf::from("<stdout>");
    let w = BufWriter::new(std::io::stdout());
    match write_stream(schema, stream, format, w, &shown).await {
        Ok((mut w, rows)) => {
            flush_stdout(&mut w)?;
            Ok(rows)
        }
        Err(Error::Output { msg, .. }) if msg.contains("Broken pipe") => Ok(0),
        Err(e) => Err(e),
    }
}

/// The stream written to the file `path`, atomically: nothing appears at `path` unless the whole
/// result was written.
pub async fn to_file(
    schema: SchemaRef,
    stream: impl futures::Stream<Item = datafusion::error::Result<RecordBatch>> + Unpin,
    format: Format,
    path: &Path,
) -> Result<usize> {
    let fail = |m: String| Error::Output {
        path: path.to_path_buf(),
        msg: m,
    };
    let mut file = AtomicFile::create(path).map_err(fail)?;
    let (w, rows) = write_stream(schema, stream, format, BufWriter::new(file.file()), path).await?;
    w.into_inner().map_err(|e| fail(e.to_string()))?;
    file.commit().map_err(fail)?;
    Ok(rows)
}

/// A file written under a temporary name in its destination folder and renamed over the
/// destination by [`AtomicFile::commit`]. Dropped uncommitted, it is deleted.
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    /// A temporary `.nethunt-*.partial` file beside `path`. The folder must exist.
    pub fn create(path: &Path) -> std::result::Result<AtomicFile, String> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(format!("folder {} does not exist", dir.display()));
        }
        let tmp = tempfile::Builder::new()
            .prefix(".nethunt-")
            .suffix(".partial")
            .tempfile_in(&dir)
            .map_err(|e| format!("cannot create a temporary file: {e}"))?;
        Ok(AtomicFile {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.tmp.as_file_mut()
    }

    /// Where the file goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush to disk and rename over the destination.
    pub fn commit(self) -> std::result::Result<PathBuf, String> {
        self.tmp.as_file().sync_all().map_err(|e| e.to_string())?;
        self.tmp
            .persist(&self.path)
            .map_err(|e| e.error.to_string())?;
        Ok(self.path)
    }

    /// Write `bytes` to `path` atomically.
    pub fn write(path: &Path, bytes: &[u8]) -> std::result::Result<PathBuf, String> {
        let mut f = AtomicFile::create(path)?;
        f.file().write_all(bytes).map_err(|e| e.to_string())?;
        f.commit()
    }
}

/// Record batches into a Parquet file through an [`AtomicFile`].
pub struct ParquetFile {
    writer: ArrowWriter<std::fs::File>,
    file: AtomicFile,
}

impl ParquetFile {
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> std::result::Result<ParquetFile, String> {
        let mut file = AtomicFile::create(path)?;
        let handle = file.file().try_clone().map_err(|e| e.to_string())?;
        let writer =
            ArrowWriter::try_new(handle, schema, Some(props)).map_err(|e| e.to_string())?;
        Ok(ParquetFile { writer, file })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> std::result::Result<(), String> {
        self.writer.write(batch).map_err(|e| e.to_string())
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Write the footer and flush; the file is complete but not yet in place. [`commit`] puts it
    /// there (so that several files can be finished first, then renamed together).
    ///
    /// [`commit`]: AtomicFile::commit
    pub fn finish(self) -> std::result::Result<AtomicFile, String> {
        self.writer.close().map_err(|e| e.to_string())?;
        self.file
            .tmp
            .as_file()
            .sync_all()
            .map_err(|e| e.to_string())?;
        Ok(self.file)
    }

    /// `batches` as the Parquet file `path`, in one go.
    pub fn write_all(
        path: &Path,
        schema: SchemaRef,
        props: WriterProperties,
        batches: &[RecordBatch],
    ) -> std::result::Result<PathBuf, String> {
        let mut f = ParquetFile::create(path, schema, props)?;
        for b in batches {
            f.write(b)?;
        }
        f.finish()?.commit()
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

/// zstd-compressed Parquet, as nethunt writes results and caches.
pub fn zstd_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build()
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
