//! `nethunt batch`: run library queries over a lake and write, under `OUT/run=<UTC time>/`, one
//! result file per query and a `manifest.json` that says what ran, over what, with what outcome.
//!
//! Nothing is ever half-written: a result is formatted into a local temporary file, then uploaded
//! (one PUT, or a multipart upload completed only at the end) or, for a local folder, written to a
//! staging file and renamed. The manifest is replaced the same way after every query, so a run that
//! dies keeps what it finished, and `--resume` picks up from there.
//! Uses: `engine`, `library`, `lake` (object stores, the window), `output`, `error`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::datasource::listing::ListingTableUrl;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::emit;
use crate::engine::Engine;
use crate::error::{Error, Result, redact};
use crate::library::Query;
use crate::output::Format;

pub const MANIFEST: &str = "manifest.json";

/// The parameter values a query runs with (defaults, `--from`/`--to` as `$start`/`$end`).
pub type Bindings<'a> =
    dyn Fn(&Query) -> Result<Vec<(String, datafusion::common::ScalarValue)>> + 'a;

/// One query's entry in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueryRecord {
    pub query: String,
    /// "ok" or "failed".
    pub status: String,
    /// Parameter values as bound (defaults included), as text.
    pub parameters: BTreeMap<String, String>,
    /// Result file name inside the run folder (absent when the query failed).
    pub output: Option<String>,
    pub rows_out: Option<usize>,
    /// Whether the query returned rows.
    pub fired: Option<bool>,
    pub started: String,
    pub duration_s: f64,
    /// Lake files the query read, and the bytes read from them; null on a cluster, whose
    /// executors do the scanning (their metrics do not come back to the client).
    pub input_files: Option<Vec<String>>,
    pub files_scanned: Option<usize>,
    pub bytes_scanned: Option<u64>,
    pub row_groups_scanned: Option<usize>,
    pub error: Option<String>,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub run: String,
    pub nethunt_version: String,
    /// "running" while queries remain, then "ok" or "failed".
    pub status: String,
    pub started: String,
    pub finished: Option<String>,
    pub data: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `--now`: the instant now() and ago() meant (absent: the clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    pub format: String,
    pub lake_files: usize,
    pub lake_bytes: u64,
    /// `--cluster` the queries ran on (absent: in this process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The queries the run is made of, in order (those not run yet included).
    #[serde(default)]
    pub planned: Vec<String>,
    pub queries: Vec<QueryRecord>,
}

/// Parameter values as the manifest records them.
fn shown(values: &[(String, datafusion::common::ScalarValue)]) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(k, v)| (k.clone(), crate::library::params::display_value(v)))
        .collect()
}

/// A run can be resumed only with what it was started with: the same lake, window, format,
/// queries and parameters. Otherwise its results would mix two runs; the error names the
/// first difference.
fn check_resume(
    previous: &Manifest,
    now: &Manifest,
    job: &BatchJob,
    bindings: &Bindings<'_>,
) -> Result<()> {
    let differs = |what: &str, then: &str, now: &str| {
        Err(Error::Config(format!(
            "--resume {}: {what} differs: the run was started with {then}, this one has {now}; \
             start a new run instead",
            previous.run
        )))
    };
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    if previous.data != now.data {
        return differs("the lake (--data)", &previous.data, &now.data);
    }
    if previous.from != now.from {
        return differs("--from", &or_none(&previous.from), &or_none(&now.from));
    }
    if previous.to != now.to {
        return differs("--to", &or_none(&previous.to), &or_none(&now.to));
    }
    if previous.now != now.now {
        return differs("--now", &or_none(&previous.now), &or_none(&now.now));
    }
    if previous.format != now.format {
        return differs("--format", &previous.format, &now.format);
    }
    if !previous.planned.is_empty() && previous.planned != now.planned {
        return differs(
            "the query set (--queries)",
            &previous.planned.join(","),
            &now.planned.join(","),
        );
    }
    for rec in previous.queries.iter().filter(|r| !r.parameters.is_empty()) {
        let Some(q) = job.queries.iter().find(|q| q.meta.name == rec.query) else {
            continue;
        };
        let current = shown(&bindings(q)?);
        if let Some((k, v)) = rec
            .parameters
            .iter()
            .find(|(k, v)| current.get(*k) != Some(*v))
        {
            let now_value = current.get(k).cloned().unwrap_or_else(|| "none".into());
            return differs(&format!("parameter {}.{k}", rec.query), v, &now_value);
        }
    }
    Ok(())
}

/// What `batch` was asked to do.
pub struct BatchJob {
    pub queries: Vec<Query>,
    pub out: String,
    pub format: Format,
    /// `run=...` folder to resume, if any.
    pub resume: Option<String>,
    pub quiet: bool,
}

/// How the batch went.
pub struct BatchOutcome {
    /// Where the run folder is (URL or path).
    pub location: String,
    pub manifest: Manifest,
}

impl BatchOutcome {
    pub fn failed(&self) -> Vec<&QueryRecord> {
        self.manifest
            .queries
            .iter()
            .filter(|q| q.status != "ok")
            .collect()
    }
    pub fn fired(&self) -> bool {
        self.manifest.queries.iter().any(|q| q.fired == Some(true))
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A folder (local path or object-store URL) as a store and a prefix inside it.
struct Folder {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    shown: String,
}

impl Folder {
    fn open(engine: &Engine, location: &str) -> Result<Folder> {
        let fail = |m: String| Error::Output {
            path: location.into(),
            msg: m,
        };
        let trimmed = location.trim_end_matches('/');
        if !crate::lake::store::is_url(location) {
            std::fs::create_dir_all(trimmed)
                .map_err(|e| fail(format!("cannot create the folder: {e}")))?;
        }
        let url = ListingTableUrl::parse(format!("{trimmed}/"))
            .map_err(|e| fail(crate::error::one_line(&e)))?;
        let store = engine
            .ctx
            .runtime_env()
            .object_store(url.object_store())
            .map_err(|e| fail(crate::error::one_line(&e)))?;
        Ok(Folder {
            store,
            prefix: url.prefix().clone(),
            shown: trimmed.to_string(),
        })
    }

    fn child(&self, name: &str) -> Folder {
        Folder {
            store: self.store.clone(),
            prefix: self.prefix.clone().join(name),
            shown: format!("{}/{name}", self.shown),
        }
    }

    fn path(&self, name: &str) -> ObjectPath {
        self.prefix.clone().join(name)
    }

    fn fail(&self, name: &str, msg: String) -> Error {
        Error::Output {
            path: format!("{}/{name}", self.shown).into(),
            msg: redact(&crate::error::explain(&msg)),
        }
    }

    /// Replace `name` with `bytes` in one PUT (atomic on object stores; a staged rename locally).
    async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.path(name), bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| self.fail(name, e.to_string()))
    }

    /// Upload a local file as `name`: small files in one PUT, large ones as a multipart upload
    /// that is completed only after the last part (and aborted on any error).
    async fn upload(&self, name: &str, file: &Path) -> Result<()> {
        let mut f = tokio::fs::File::open(file)
            .await
            .map_err(|e| self.fail(name, e.to_string()))?;
        let mut w = object_store::buffered::BufWriter::with_capacity(
            self.store.clone(),
            self.path(name),
            8 << 20,
        );
        let mut buf = vec![0u8; 1 << 20];
        let copied: std::io::Result<()> = async {
            loop {
                let n = f.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n]).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = copied {
            // Parts already sent are discarded; the object never appears.
            let _ = w.abort().await;
            return Err(self.fail(name, e.to_string()));
        }
        // Completing is the commit point. When it fails the upload stays incomplete (invisible),
        // and the writer is already shut down, so there is nothing to abort here.
        w.shutdown()
            .await
            .map_err(|e| self.fail(name, e.to_string()))
    }

    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.store.get(&self.path(name)).await {
            Ok(r) => Ok(Some(
                r.bytes()
                    .await
                    .map_err(|e| self.fail(name, e.to_string()))?
                    .to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail(name, e.to_string())),
        }
    }
}

/// A run folder name for now: `run=20261128T012345.123Z` (sorts by time; no ':' for Windows).
fn run_name() -> String {
    format!("run={}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"))
}

/// Run the job. Errors before the first query (the output folder, a manifest to resume) are
/// returned; a query that fails is recorded in the manifest and the others still run.
pub async fn run(
    engine: &Engine,
    job: &BatchJob,
    window: crate::lake::TimeWindow,
    bindings: &Bindings<'_>,
) -> Result<BatchOutcome> {
    let base = Folder::open(engine, &job.out)?;
    let fmt_time = |us: Option<i64>| {
        us.and_then(chrono::DateTime::from_timestamp_micros)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    let (run, previous) = match &job.resume {
        Some(r) => {
            let name = r.trim_end_matches('/').rsplit('/').next().unwrap_or(r);
            let name = if name.starts_with("run=") {
                name.to_string()
            } else {
                format!("run={name}")
            };
            let folder = base.child(&name);
            let bytes = folder.get(MANIFEST).await?.ok_or_else(|| Error::Output {
                path: format!("{}/{MANIFEST}", folder.shown).into(),
                msg: "--resume: no manifest here, nothing to resume".into(),
            })?;
            let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Output {
                path: format!("{}/{MANIFEST}", folder.shown).into(),
                msg: format!("--resume: not a nethunt manifest ({e})"),
            })?;
            (name, Some(m))
        }
        None => (run_name(), None),
    };
    let folder = base.child(&run);
    let lake = engine.lake.as_ref();
    let mut manifest = Manifest {
        run: run.clone(),
        nethunt_version: env!("CARGO_PKG_VERSION").to_string(),
        status: "running".into(),
        started: previous
            .as_ref()
            .map(|p| p.started.clone())
            .unwrap_or_else(now_rfc3339),
        finished: None,
        data: lake.map(|l| redact(&l.source)).unwrap_or_default(),
        from: fmt_time(window.from),
        to: fmt_time(window.to),
        now: fmt_time(engine.now),
        format: job.format.extension().to_string(),
        lake_files: lake.map_or(0, |l| l.files.len()),
        lake_bytes: lake.map_or(0, |l| l.files.iter().map(|f| f.size).sum()),
        cluster: engine.cluster.as_ref().map(|c| c.to_string()),
        planned: job.queries.iter().map(|q| q.meta.name.clone()).collect(),
        queries: vec![],
    };
    if let Some(p) = &previous {
        check_resume(p, &manifest, job, bindings)?;
    }
    let done: Vec<QueryRecord> = previous
        .map(|p| p.queries.into_iter().filter(|q| q.status == "ok").collect())
        .unwrap_or_default();
    let batch_started = Instant::now();
    let total = job.queries.len();
    for (i, q) in job.queries.iter().enumerate() {
        if let Some(rec) = done.iter().find(|r| r.query == q.meta.name) {
            if !job.quiet {
                eprintln!("{}: done in an earlier attempt, skipped", q.meta.name);
            }
            manifest.queries.push(rec.clone());
            continue;
        }
        let label = format!("[{}/{total}] {}", i + 1, q.meta.name);
        let rec = run_one(engine, q, job, &folder, &label, batch_started, bindings).await;
        if !job.quiet {
            match &rec.error {
                None => eprintln!(
                    "{}: {} row{} → {}/{} ({:.3}s)",
                    q.meta.name,
                    rec.rows_out.unwrap_or(0),
                    if rec.rows_out == Some(1) { "" } else { "s" },
                    folder.shown,
                    rec.output.as_deref().unwrap_or_default(),
                    rec.duration_s
                ),
                Some(e) => eprintln!("{}: failed: {e}", q.meta.name),
            }
        }
        manifest.queries.push(rec);
        // Written after every query, so that a run that dies keeps what it finished.
        write_manifest(&folder, &manifest).await?;
    }
    manifest.status = if manifest.queries.iter().all(|q| q.status == "ok") {
        "ok".into()
    } else {
        "failed".into()
    };
    manifest.finished = Some(now_rfc3339());
    write_manifest(&folder, &manifest).await?;
    Ok(BatchOutcome {
        location: folder.shown.clone(),
        manifest,
    })
}

async fn write_manifest(folder: &Folder, m: &Manifest) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(m).expect("a manifest serialises");
    bytes.push(b'\n');
    folder.put(MANIFEST, bytes).await
}

async fn run_one(
    engine: &Engine,
    q: &Query,
    job: &BatchJob,
    folder: &Folder,
    label: &str,
    batch_started: Instant,
    bindings: &Bindings<'_>,
) -> QueryRecord {
    let started_at = now_rfc3339();
    let t0 = Instant::now();
    let name = format!("{}.{}", q.meta.name, job.format.extension());
    let mut rec = QueryRecord {
        query: q.meta.name.clone(),
        status: "failed".into(),
        parameters: BTreeMap::new(),
        output: None,
        rows_out: None,
        fired: None,
        started: started_at,
        duration_s: 0.0,
        input_files: None,
        files_scanned: None,
        bytes_scanned: None,
        row_groups_scanned: None,
        error: None,
    };
    let result: Result<emit::Written> = async {
        let values = bindings(q)?;
        rec.parameters = shown(&values);
        engine.require_tables(q)?;
        let df = engine.plan_query(q, values).await?;
        let tmp = crate::output::TempFolder::new(".tmp", None).map_err(|e| Error::Output {
            path: std::env::temp_dir(),
            msg: format!("cannot create a temporary folder: {e}"),
        })?;
        let local = tmp.path().join(&name);
        let progress = super::progress::wanted(job.quiet).then(|| emit::Progress {
            label: label.to_string(),
            started: batch_started,
        });
        let written = engine
            .bounded(emit::write(df, job.format, Some(&local), progress.as_ref()))
            .await?;
        folder.upload(&name, &local).await?;
        Ok(written)
    }
    .await;
    rec.duration_s = (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    match result {
        Ok(w) => {
            rec.status = "ok".into();
            rec.output = Some(name);
            rec.rows_out = Some(w.rows);
            rec.fired = Some(w.rows > 0);
            if engine.cluster.is_none() {
                rec.input_files = Some(
                    engine
                        .lake
                        .as_ref()
                        .map(|lake| w.scan.input_files(lake))
                        .unwrap_or_default(),
                );
                rec.files_scanned = Some(w.scan.files_read());
                rec.bytes_scanned = Some(w.scan.bytes());
                rec.row_groups_scanned = Some(w.scan.row_groups());
            }
        }
        Err(e) => {
            let text = e.to_string();
            rec.error = Some(redact(
                &text.split_whitespace().collect::<Vec<_>>().join(" "),
            ));
        }
    }
    rec
}
