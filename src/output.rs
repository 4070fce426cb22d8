//! Result formats and files that are never half-written. Every file nethunt writes (results,
//! lake files of `generate` and `import`, the reference-table cache, the domain list staged for a
//! cluster) goes through [`AtomicFile`]: a temporary file in the destination folder, renamed
//! over the destination only when complete, and deleted when dropped before that.
//! Uses: `error`.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{Array, RecordBatch};
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
    write_stream(schema, stream, format, w, what, None).await
}

/// Write a stream of batches in `format` into `w`; returns `w` and the number of rows. When
/// `closed` is set (the reader of stdout went away), the stream is read on only until it has
/// shown a row, so that the count says whether there were hits.
pub async fn write_stream<W: Write + Send>(
    schema: SchemaRef,
    mut stream: impl futures::Stream<Item = datafusion::error::Result<RecordBatch>> + Unpin,
    format: Format,
    w: W,
    what: &Path,
    closed: Option<&AtomicBool>,
) -> Result<(W, usize)> {
    let fail = |m: String| Error::Output {
        path: what.to_path_buf(),
        msg: m,
    };
    let mut rows = 0usize;
    macro_rules! next_batch {
        () => {
            if rows > 0 && closed.is_some_and(|c| c.load(Ordering::Relaxed)) {
                None
            } else {
                match stream.next().await {
                    None => None,
                    Some(b) => Some(b.map_err(|e| Error::datafusion("running the query", e))?),
                }
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
                let b = flat_for_csv(&b).map_err(fail)?;
                writer.write(&b).map_err(|e| fail(e.to_string()))?;
                wrote = true;
            }
            if !wrote {
                let empty = flat_for_csv(&RecordBatch::new_empty(schema.clone())).map_err(fail)?;
                writer.write(&empty).map_err(|e| fail(e.to_string()))?;
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

/// A batch CSV can hold: nested columns (the arrays `make_set` gives, structs) as text, written
/// as the table format shows them (`[443, 80]`); other columns as they are.
fn flat_for_csv(batch: &RecordBatch) -> std::result::Result<RecordBatch, String> {
    if !batch.columns().iter().any(|c| c.data_type().is_nested()) {
        return Ok(batch.clone());
    }
    let opts = arrow::util::display::FormatOptions::default();
    let mut fields = Vec::new();
    let mut cols: Vec<arrow::array::ArrayRef> = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        if !c.data_type().is_nested() {
            fields.push(f.as_ref().clone());
            cols.push(c.clone());
            continue;
        }
        let fmt = arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &opts)
            .map_err(|e| e.to_string())?;
        let text: arrow::array::StringArray = (0..c.len())
            .map(|i| (!c.is_null(i)).then(|| fmt.value(i).to_string()))
            .collect();
        fields.push(arrow::datatypes::Field::new(
            f.name(),
            arrow::datatypes::DataType::Utf8,
            true,
        ));
        cols.push(std::sync::Arc::new(text));
    }
    RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
        cols,
    )
    .map_err(|e| e.to_string())
}

/// Rows written to stdout: how many, and whether the reader took them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Every row when `complete`; else the rows up to the first one that met the closed pipe
    /// (at least one when the result had any).
    pub rows: usize,
    /// False when the reader closed stdout before the end (`| head`).
    pub complete: bool,
}

/// Stdout that takes a closed pipe (`| head`) as the end of the reader's interest, not as an
/// error: what is written after it is dropped, and `closed` says so.
struct PipeOut<'a> {
    inner: BufWriter<std::io::Stdout>,
    closed: &'a AtomicBool,
}

impl Write for PipeOut<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed.store(true, Ordering::Relaxed);
                Ok(buf.len())
            }
            other => other,
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed.store(true, Ordering::Relaxed);
                Ok(())
            }
            other => other,
        }
    }
}

/// The stream written to stdout. A reader that goes away (`| head`) ends the writing quietly,
/// but only once a row has been seen, so that `--fail-on-hit` still tells whether there were
/// hits.
pub async fn to_stdout(
    schema: SchemaRef,
    stream: impl futures::Stream<Item = datafusion::error::Result<RecordBatch>> + Unpin,
    format: Format,
) -> Result<Sent> {
    if format == Format::Parquet {
        return Err(Error::Config("--format parquet needs --output FILE".into()));
    }
    let shown = PathBuf::from("<stdout>");
    let closed = AtomicBool::new(false);
    let w = PipeOut {
        inner: BufWriter::new(std::io::stdout()),
        closed: &closed,
    };
    let (mut w, rows) = write_stream(schema, stream, format, w, &shown, Some(&closed)).await?;
    w.flush().map_err(|e| Error::Output {
        path: shown,
        msg: e.to_string(),
    })?;
    Ok(Sent {
        rows,
        complete: !closed.load(Ordering::Relaxed),
    })
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
    // The panic hook's test: a debug build panics here, with a partial file open, when asked.
    #[cfg(debug_assertions)]
    if std::env::var_os("NETHUNT_DEBUG_PANIC").is_some() {
        panic!("NETHUNT_DEBUG_PANIC is set");
    }
    let w = BufWriter::new(file.file());
    let (w, rows) = write_stream(schema, stream, format, w, path, None).await?;
    w.into_inner().map_err(|e| fail(e.to_string()))?;
    file.commit().map_err(fail)?;
    Ok(rows)
}

// ------------------------------------------------------------------------------------------------
// What is being written, for an interrupt or a panic to remove

/// Temporary files and folders being written, and folders made for output that are still
/// empty: what [`remove_pending`] takes away when the process is interrupted or panics (no
/// destructor runs then).
static PENDING: std::sync::Mutex<Vec<(PathBuf, Pending)>> = std::sync::Mutex::new(Vec::new());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    File,
    Folder,
    /// A folder made for output: removed only when nothing has been put in it.
    MadeFolder,
}

fn pending() -> std::sync::MutexGuard<'static, Vec<(PathBuf, Pending)>> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

fn track(path: &Path, kind: Pending) {
    pending().push((path.to_path_buf(), kind));
}

fn untrack(path: &Path) {
    pending().retain(|(p, _)| p != path);
}

/// Remove every temporary file and folder still being written, then the output folders made
/// for them that are left empty. For an interrupt or a panic, when no destructor will run.
pub fn remove_pending() {
    let mut list = std::mem::take(&mut *pending());
    // Files and temporary folders first, then the folders made for them, deepest first.
    list.sort_by_key(|(p, k)| {
        (
            *k == Pending::MadeFolder,
            std::cmp::Reverse(p.components().count()),
        )
    });
    for (path, kind) in list {
        let _ = match kind {
            Pending::File => std::fs::remove_file(&path),
            Pending::Folder => std::fs::remove_dir_all(&path),
            Pending::MadeFolder => std::fs::remove_dir(&path),
        };
    }
}

/// `create_dir_all(dir)`, remembering each folder it makes so that a run interrupted while the
/// returned guard lives removes them again if they are still empty. Keep the guard until the
/// output in them is committed; dropping it forgets them.
pub fn make_folders(dir: &Path) -> std::io::Result<MadeFolders> {
    let mut missing = Vec::new();
    let mut d = Some(dir);
    while let Some(p) = d.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        missing.push(p.to_path_buf());
        d = p.parent();
    }
    for p in missing.iter().rev() {
        track(p, Pending::MadeFolder);
    }
    let made = MadeFolders(missing);
    std::fs::create_dir_all(dir)?;
    Ok(made)
}

/// Folders [`make_folders`] made.
#[derive(Debug, Default)]
pub struct MadeFolders(Vec<PathBuf>);

impl Drop for MadeFolders {
    fn drop(&mut self) {
        for p in &self.0 {
            untrack(p);
        }
    }
}

/// A temporary folder (`tempfile::TempDir`) that an interrupt or a panic removes too.
#[derive(Debug)]
pub struct TempFolder {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl TempFolder {
    /// A new folder named `prefix*` in `parent`, or in the system's temporary folder.
    pub fn new(prefix: &str, parent: Option<&Path>) -> std::io::Result<TempFolder> {
        let mut b = tempfile::Builder::new();
        b.prefix(prefix);
        let dir = match parent {
            Some(p) => b.tempdir_in(p)?,
            None => b.tempdir()?,
        };
        let path = dir.path().to_path_buf();
        track(&path, Pending::Folder);
        Ok(TempFolder {
            dir: Some(dir),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keep the folder (renamed, or meant to stay): nothing removes it any more.
    pub fn keep(mut self) -> PathBuf {
        if let Some(d) = self.dir.take() {
            let _ = d.keep();
        }
        self.path.clone()
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        // The TempDir, if still here, removes the folder as it drops.
        untrack(&self.path);
    }
}

/// A file written under a temporary name in its destination folder and renamed over the
/// destination by [`AtomicFile::commit`]. Dropped uncommitted, it is deleted; an interrupt or a
/// panic deletes it too ([`remove_pending`]).
pub struct AtomicFile {
    tmp: Option<tempfile::NamedTempFile>,
    tmp_path: PathBuf,
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
        let tmp_path = tmp.path().to_path_buf();
        track(&tmp_path, Pending::File);
        Ok(AtomicFile {
            tmp: Some(tmp),
            tmp_path,
            path: path.to_path_buf(),
        })
    }

    fn tmp(&mut self) -> &mut tempfile::NamedTempFile {
        self.tmp.as_mut().expect("present until commit")
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.tmp().as_file_mut()
    }

    /// Where the file goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sync(&mut self) -> std::result::Result<(), String> {
        self.tmp().as_file().sync_all().map_err(|e| e.to_string())
    }

    /// Flush to disk and rename over the destination.
    pub fn commit(mut self) -> std::result::Result<PathBuf, String> {
        self.sync()?;
        let tmp = self.tmp.take().expect("present until commit");
        tmp.persist(&self.path).map_err(|e| e.error.to_string())?;
        Ok(self.path.clone())
    }

    /// Write `bytes` to `path` atomically.
    pub fn write(path: &Path, bytes: &[u8]) -> std::result::Result<PathBuf, String> {
        let mut f = AtomicFile::create(path)?;
        f.file().write_all(bytes).map_err(|e| e.to_string())?;
        f.commit()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // The NamedTempFile, if still here, deletes the file as it drops.
        untrack(&self.tmp_path);
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
        let mut file = self.file;
        file.sync()?;
        Ok(file)
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
