//! One thin function per subcommand over the engine, the library, the reference tables and the
//! output. Uses: `engine`, `cluster`, `library`, `reference`, `lake` (the sample), `import`,
//! `generate`, `schema`, `error`.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use datafusion::prelude::DataFrame;

use super::args::{
    BatchArgs, Cli, Command, DomainsCommand, FetchArgs, GenerateArgs, ImportCommand, KqlArgs,
    ReplArgs, RunArgs, SqlArgs, TableArgs,
};
use super::config::{self, OutputConfig};
use super::emit;
use crate::engine::{Engine, EngineOptions, bind_window};
use crate::error::{Error, Result};
use crate::lake::sample;
use crate::library::{Library, Query, params};
use crate::reference::{self as external, ExternalTable, Limits};
use crate::schema::{DOMAINS, SESSIONS};

/// How the process should end when nothing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// exit 0
    Ok,
    /// exit 1: rows were found and `--fail-on-hit` was given
    Hits,
}

pub async fn dispatch(cli: Cli) -> Result<Outcome> {
    let quiet = cli.quiet;
    let cache = external::cache_root(cli.cache_dir.as_deref());
    let command = match cli.command {
        Some(c) => c,
        None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            Command::Repl(ReplArgs::default())
        }
        None => {
            return Err(Error::Config(
                "no command given (try `nethunt --help`; `nethunt repl` reads SQL from stdin)"
                    .into(),
            ));
        }
    };
    match command {
        Command::Repl(args) => repl(args, cli.library.as_deref(), &cache, quiet).await,
        Command::Run(args) => run(args, cli.library.as_deref(), &cache, quiet, cli.stats).await,
        Command::Sql(args) => sql(args, &cache, quiet, cli.stats).await,
        Command::Kql(args) => kql(args, &cache, quiet, cli.stats).await,
        Command::Batch(args) => batch(args, cli.library.as_deref(), &cache, quiet).await,
        Command::Domains(DomainsCommand::Fetch(args)) => domains_fetch(args, &cache, quiet).await,
        Command::Domains(DomainsCommand::Status) => {
            print!("{}", domains_status(&cache));
            Ok(Outcome::Ok)
        }
        Command::Queries(args) => {
            let lib = Library::load(cli.library.as_deref())?;
            let filter = crate::library::Filter {
                mitre: args.mitre,
                tactic: args.tactic,
                severity: args.severity,
                search: args.search,
            };
            print!("{}", lib.listing(&filter)?);
            Ok(Outcome::Ok)
        }
        Command::Show { query } => {
            let lib = Library::load(cli.library.as_deref())?;
            print!("{}", lib.get(&query)?.describe());
            Ok(Outcome::Ok)
        }
        Command::Sources => {
            print!("{}", crate::library::sources::listing()?);
            Ok(Outcome::Ok)
        }
        Command::ShowSource { name } => {
            print!("{}", crate::library::sources::parser(&name)?.text);
            Ok(Outcome::Ok)
        }
        Command::Generate(args) => generate(args, quiet),
        #[cfg(feature = "cluster")]
        Command::Cluster(super::args::ClusterCommand::Scheduler(args)) => {
            crate::cluster::scheduler(config::scheduler_options(&args)?, quiet).await?;
            Ok(Outcome::Ok)
        }
        #[cfg(feature = "cluster")]
        Command::Cluster(super::args::ClusterCommand::Executor(args)) => {
            crate::cluster::executor(config::executor_options(&args)?, quiet).await?;
            Ok(Outcome::Ok)
        }
        Command::Import(ImportCommand::Zeek(args)) => {
            let done = match crate::import::zeek::prepare(&args.logs, &args.out)? {
                Err(before) => crate::import::zeek::Imported {
                    before,
                    ..Default::default()
                },
                Ok(prepared) => {
                    let ctx = crate::engine::context_for(&crate::engine::EngineOptions::default())?;
                    let sessions = crate::engine::sources::zeek_import(&ctx, &prepared).await?;
                    crate::import::zeek::write(&prepared, &args.out, sessions).await?
                }
            };
            if !done.before.is_empty() {
                if !quiet {
                    eprintln!(
                        "these logs were imported into {} before ({}); nothing written",
                        args.out.display(),
                        done.before
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            } else if !quiet {
                eprintln!(
                    "imported {} session{} ({} with a hostname) into {} file{} under {}",
                    done.rows,
                    if done.rows == 1 { "" } else { "s" },
                    done.with_hostname,
                    done.files.len(),
                    if done.files.len() == 1 { "" } else { "s" },
                    args.out.display()
                );
            }
            Ok(Outcome::Ok)
        }
    }
}

/// Write a result as `out` says; the row count and time on stderr unless quiet, and with --stats
/// what the scan read of the lake.
async fn write_result(
    engine: &Engine,
    df: DataFrame,
    out: &OutputConfig,
    (quiet, stats): (bool, bool),
    started: Instant,
) -> Result<usize> {
    let df = match out.limit {
        Some(n) => df
            .limit(0, Some(n))
            .map_err(|e| Error::datafusion("--limit", e))?,
        None => df,
    };
    let progress = super::progress::wanted(quiet).then(|| emit::Progress {
        label: "scanning".to_string(),
        started,
    });
    let written = engine
        .bounded(emit::write(
            df,
            out.format,
            out.path.as_deref(),
            progress.as_ref(),
        ))
        .await?;
    if !quiet {
        let dest = out
            .path
            .as_ref()
            .map(|p| format!(" written to {}", p.display()))
            .unwrap_or_default();
        let (at_least, closed) = if written.complete {
            ("", "")
        } else {
            ("at least ", " (stdout was closed before the end)")
        };
        eprintln!(
            "{at_least}{} row{}{dest}{closed} in {:.3}s",
            written.rows,
            if written.rows == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64()
        );
    }
    if stats {
        match (&engine.cluster, &engine.lake) {
            (Some(c), _) => {
                eprintln!("scanned: not measured on the cluster {c} (its executors scan)")
            }
            (None, Some(lake)) => eprintln!("{}", written.scan.summary(lake)),
            (None, None) => {}
        }
    }
    Ok(written.rows)
}

async fn run(
    args: RunArgs,
    library: Option<&Path>,
    cache: &Path,
    quiet: bool,
    stats: bool,
) -> Result<Outcome> {
    let started = Instant::now();
    let out = config::output_config(&args.output)?;
    let mut opts = config::engine_options(&args.tables, quiet)?;
    let assignments = config::assignments(&args.params)?;
    let lib = Library::load(library)?;
    let query = lib.get(&args.query)?;
    let values = bind_window(&query, &assignments, &mut opts.window)?;
    prepare_tables(
        std::slice::from_ref(&query),
        &args.tables,
        &mut opts,
        cache,
        quiet,
    )
    .await?;
    let on_sample = sessions_source(&mut opts, cache)?;
    let engine = Engine::new(&opts).await?;
    engine.require_tables(&query)?;
    let df = engine.plan_query(&query, values).await?;
    let rows = write_result(&engine, df, &out, (quiet, stats), started).await?;
    sample_notice(on_sample && query.text.contains(SESSIONS), quiet);
    Ok(on_hits(out.fail_on_hit, rows > 0))
}

/// `NetworkSessions` for a run: `--data` as given, else the bundled sample lake (written to the
/// cache on first use). Returns whether it is the sample.
fn sessions_source(opts: &mut EngineOptions, cache: &Path) -> Result<bool> {
    if !opts.data.is_empty() {
        return Ok(false);
    }
    opts.data = vec![sample::materialize(cache)?.lake.display().to_string()];
    Ok(true)
}

/// Say that the sessions were the synthetic sample, once the run that read them has succeeded
/// (so that nobody takes its hits for real ones).
fn sample_notice(read_the_sample: bool, quiet: bool) {
    if read_the_sample && !quiet {
        eprintln!("{}", sample::NOTICE);
    }
}

/// `top1m` for a run, into `opts.domains` (see [`external::resolve::domains`]).
async fn top1m(
    opts: &mut EngineOptions,
    offline: bool,
    declared: &ExternalTable,
    cache: &Path,
    needed: bool,
    quiet: bool,
) -> Result<()> {
    let given = opts.domains.take();
    let d = external::resolve::domains(given.as_deref(), offline, declared, cache, needed, quiet);
    opts.domains = Some(d.await?);
    Ok(())
}

/// Exit 1 for `--fail-on-hit` when the query found something.
fn on_hits(fail_on_hit: bool, hits: bool) -> Outcome {
    if fail_on_hit && hits {
        Outcome::Hits
    } else {
        Outcome::Ok
    }
}

/// Resolve the reference tables `queries` need into `opts`: `top1m` (as the first query that
/// declares it says, else Umbrella's list) and every other declared `[tables.NAME]`.
async fn prepare_tables(
    queries: &[Query],
    args: &TableArgs,
    opts: &mut EngineOptions,
    cache: &Path,
    quiet: bool,
) -> Result<()> {
    let declared = queries
        .iter()
        .flat_map(|q| q.meta.tables.iter())
        .find(|t| t.name == DOMAINS)
        .cloned()
        .unwrap_or_else(|| ExternalTable::top1m(external::UMBRELLA_URL));
    let needs_top1m = queries.iter().any(|q| q.text.contains(DOMAINS));
    top1m(opts, args.offline, &declared, cache, needs_top1m, quiet).await?;
    user_tables(queries, opts, cache, quiet)?;
    for (q, t) in queries
        .iter()
        .flat_map(|q| q.meta.tables.iter().map(move |t| (q, t)))
        .filter(|(_, t)| t.name != DOMAINS && !t.url.is_empty())
    {
        if opts.tables.iter().any(|(n, _)| *n == t.name) {
            continue;
        }
        // A query file must not make nethunt read this machine or its network's private
        // services (then write the rows out with batch --out).
        if !args.allow_local_tables
            && let Err(why) = external::resolve::check_declared_source(&t.url).await
        {
            return Err(Error::Fetch {
                url: t.url.clone(),
                msg: format!(
                    "table {} declared by query {}: {why}; a query file may fetch only https:// \
                     URLs, or http:// ones at public addresses. Give the table yourself \
                     (--table {}=PATH|URL) or allow it (--allow-local-tables)",
                    t.name, q.meta.name, t.name
                ),
            });
        }
        let path = external::resolve::declared_table(t, cache, args.offline, quiet).await?;
        opts.tables
            .push((t.name.clone(), path.display().to_string()));
    }
    Ok(())
}

/// The tables `queries` declare: read as their declared columns, and, for those with no public
/// source (indicators, a watchlist), the user's `--table NAME=...` or else the bundled example,
/// with a note that says so.
fn user_tables(
    queries: &[Query],
    opts: &mut EngineOptions,
    cache: &Path,
    quiet: bool,
) -> Result<()> {
    for t in queries
        .iter()
        .flat_map(|q| q.meta.tables.iter())
        .filter(|t| t.name != DOMAINS)
    {
        if opts.typed.iter().any(|(n, _)| *n == t.name) {
            continue;
        }
        opts.typed.push((t.name.clone(), t.columns.clone()));
        if !t.url.is_empty() || opts.tables.iter().any(|(n, _)| *n == t.name) {
            continue;
        }
        let example = t.example.as_deref().unwrap_or(&t.name);
        let path = sample::materialize(cache)?
            .example(example)
            .ok_or_else(|| {
                Error::Config(format!("table {}: no bundled example {example}", t.name))
            })?;
        if !quiet {
            eprintln!(
                "nethunt: note: table {} is the bundled example ({}); give --table {}=PATH for \
                 your own",
                t.name,
                path.display(),
                t.name
            );
        }
        opts.tables
            .push((t.name.clone(), path.display().to_string()));
    }
    Ok(())
}

/// For ad-hoc text (`sql`, `kql`): its `--param` values (typed by their look), `top1m` when the
/// text `needed` it, the sessions (or the sample: the bool), and the engine.
async fn adhoc_engine(
    given: &[String],
    tables: &TableArgs,
    mut opts: EngineOptions,
    needed: bool,
    cache: &Path,
    quiet: bool,
) -> Result<(Vec<(String, datafusion::common::ScalarValue)>, bool, Engine)> {
    let params = config::assignments(given)?
        .into_iter()
        .map(|(n, v)| (n, params::infer_value(&v)))
        .collect();
    let declared = ExternalTable::top1m(external::UMBRELLA_URL);
    top1m(&mut opts, tables.offline, &declared, cache, needed, quiet).await?;
    let on_sample = sessions_source(&mut opts, cache)?;
    let engine = Engine::new(&opts).await?;
    Ok((params, on_sample, engine))
}

/// Query text from the command line, a file, or stdin (`-f -`).
fn query_text(
    text: &Option<String>,
    file: &Option<std::path::PathBuf>,
    what: &str,
) -> Result<String> {
    match (text, file) {
        (Some(s), _) => Ok(s.clone()),
        (None, Some(f)) if f.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::Io {
                    path: f.clone(),
                    source: e,
                })?;
            Ok(s)
        }
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| Error::Io {
            path: f.clone(),
            source: e,
        }),
        (None, None) => Err(Error::Config(format!("give {what} text or -f FILE"))),
    }
}

async fn kql(args: KqlArgs, cache: &Path, quiet: bool, stats: bool) -> Result<Outcome> {
    let started = Instant::now();
    let out = config::output_config(&args.output)?;
    let opts = config::engine_options(&args.tables, quiet)?;
    let text = query_text(&args.kql, &args.file, "KQL")?;
    let needed = text.contains(DOMAINS) || text.contains("externaldata");
    let (params, on_sample, engine) =
        adhoc_engine(&args.params, &args.tables, opts, needed, cache, quiet).await?;
    let mut frames = engine
        .plan_text(crate::engine::Language::Kql, &text, &params)
        .await?;
    let df = frames.pop().expect("one KQL statement");
    if args.explain || args.to_sql {
        let plan = df.logical_plan().clone();
        let text = if args.explain {
            format!("{}", plan.display_indent())
        } else {
            datafusion::sql::unparser::plan_to_sql(&plan)
                .map_err(|e| Error::datafusion("KQL", e))?
                .to_string()
        };
        println!("{text}");
        return Ok(Outcome::Ok);
    }
    let rows = write_result(&engine, df, &out, (quiet, stats), started).await?;
    sample_notice(on_sample && reads_sessions(&text), quiet);
    Ok(on_hits(out.fail_on_hit, rows > 0))
}

/// Whether query text reads the sessions (by their table name or an ASIM parser's).
fn reads_sessions(text: &str) -> bool {
    text.contains(SESSIONS) || text.contains("NetworkSession")
}

async fn sql(args: SqlArgs, cache: &Path, quiet: bool, stats: bool) -> Result<Outcome> {
    let started = Instant::now();
    let out = config::output_config(&args.output)?;
    let opts = config::engine_options(&args.tables, quiet)?;
    let text = query_text(&args.sql, &args.file, "SQL")?;
    let needed = text.contains(DOMAINS);
    let (params, on_sample, engine) =
        adhoc_engine(&args.params, &args.tables, opts, needed, cache, quiet).await?;
    let frames = engine.plan_sql(&text, &params).await?;
    // Results of every statement that returns rows are printed; with --output only the last one
    // is written (earlier ones would be overwritten).
    let mut rows = 0;
    let last = frames.len() - 1;
    for (i, df) in frames.into_iter().enumerate() {
        if df.schema().fields().is_empty() {
            // DDL (CREATE VIEW, ...) has already taken effect and returns nothing to show.
            continue;
        }
        if i < last && out.path.is_some() {
            df.collect()
                .await
                .map_err(|e| Error::datafusion("SQL", e))?;
            continue;
        }
        rows = write_result(&engine, df, &out, (quiet, stats), started).await?;
    }
    sample_notice(on_sample && text.contains(SESSIONS), quiet);
    Ok(on_hits(out.fail_on_hit, rows > 0))
}

async fn batch(
    args: BatchArgs,
    library: Option<&Path>,
    cache: &Path,
    quiet: bool,
) -> Result<Outcome> {
    let mut opts = config::engine_options(&args.tables, quiet)?;
    let lib = Library::load(library)?;
    let queries: Vec<Query> = if args.queries.trim() == "all" {
        lib.queries.clone()
    } else {
        let mut out: Vec<Query> = Vec::new();
        for name in args
            .queries
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let q = lib.get(name)?;
            if !out.iter().any(|x| x.meta.name == q.meta.name) {
                out.push(q);
            }
        }
        if out.is_empty() {
            return Err(Error::Config(format!(
                "--queries '{}': no query named",
                args.queries
            )));
        }
        out
    };
    // Parameters: --param QUERY.NAME=VALUE, else the defaults, with --from/--to as $start/$end
    // where declared; checked before anything runs so that a bad value fails the whole batch up
    // front.
    let given = config::batch_assignments(&args.params, &queries)?;
    let window = opts.window;
    let bindings = |q: &Query| {
        let mine = given.get(&q.meta.name).map(Vec::as_slice).unwrap_or(&[]);
        bind_window(q, mine, &mut window.clone())
    };
    for q in &queries {
        bindings(q)?;
    }
    prepare_tables(&queries, &args.tables, &mut opts, cache, quiet).await?;
    let on_sample = sessions_source(&mut opts, cache)?;
    let engine = Engine::new(&opts).await?;
    let job = super::batch::BatchJob {
        queries,
        out: args.out.clone(),
        format: args.format.into(),
        resume: args.resume.clone(),
        quiet,
    };
    let outcome = super::batch::run(&engine, &job, window, &bindings).await?;
    println!("{}", outcome.location);
    sample_notice(
        on_sample && job.queries.iter().any(|q| q.text.contains(SESSIONS)),
        quiet,
    );
    let failed = outcome.failed();
    if !failed.is_empty() {
        return Err(Error::Config(format!(
            "batch {}: {} of {} quer{} failed ({}); see {}/{}",
            outcome.manifest.run,
            failed.len(),
            outcome.manifest.queries.len(),
            if outcome.manifest.queries.len() == 1 {
                "y"
            } else {
                "ies"
            },
            failed
                .iter()
                .map(|q| format!("{}: {}", q.query, q.error.as_deref().unwrap_or("failed")))
                .collect::<Vec<_>>()
                .join("; "),
            outcome.location,
            super::batch::MANIFEST
        )));
    }
    Ok(on_hits(args.fail_on_hit, outcome.fired()))
}

async fn repl(
    args: ReplArgs,
    library: Option<&Path>,
    cache: &Path,
    quiet: bool,
) -> Result<Outcome> {
    let mut opts = config::engine_options(&args.tables, quiet)?;
    let declared = ExternalTable::top1m(external::UMBRELLA_URL);
    top1m(
        &mut opts,
        args.tables.offline,
        &declared,
        cache,
        false,
        quiet,
    )
    .await?;
    let lib = Library::load(library)?;
    user_tables(&lib.queries, &mut opts, cache, quiet)?;
    let on_sample = sessions_source(&mut opts, cache)?;
    let engine = Engine::new(&opts).await?;
    super::repl::run(engine, lib, on_sample, quiet).await?;
    Ok(Outcome::Ok)
}

async fn domains_fetch(args: FetchArgs, cache: &Path, quiet: bool) -> Result<Outcome> {
    if args.accept {
        let (meta, file) = external::accept(cache, DOMAINS)?;
        if !quiet {
            eprintln!(
                "{}: the list held aside is in use now: {} rows from {} (sha256 {}) in {}",
                meta.table,
                meta.rows,
                crate::error::redact(&meta.url),
                meta.sha256.as_deref().unwrap_or("-"),
                file.display()
            );
        }
        return Ok(Outcome::Ok);
    }
    let http = config::http_options(&args.http, quiet)?;
    let limits = Limits {
        max_download: args.http.max_bytes,
        ..Limits::default()
    };
    let table = ExternalTable {
        zip_pattern: args.zip_pattern.clone(),
        ..ExternalTable::top1m(&args.url)
    };
    let (meta, file, outcome) = external::fetch(&table, cache, &http, &limits).await?;
    if !quiet {
        match outcome {
            external::Outcome::Downloaded => eprintln!(
                "{}: {} rows ({} bytes downloaded) from {} cached in {}",
                meta.table,
                meta.rows,
                meta.download_bytes,
                crate::error::redact(&meta.url),
                file.display()
            ),
            external::Outcome::NotModified => eprintln!(
                "{}: not modified since {} ({}); cached copy kept: {} rows in {}",
                meta.table,
                meta.fetched_at,
                crate::error::redact(&meta.url),
                meta.rows,
                file.display()
            ),
            external::Outcome::HeldAside => {}
        }
    }
    if outcome == external::Outcome::HeldAside {
        // Never hidden by --quiet: the list in use did not change although a refresh came.
        eprintln!("{}", external::held_aside_warning(cache, &meta));
    }
    Ok(Outcome::Ok)
}

/// The `domains status` text.
pub fn domains_status(cache: &Path) -> String {
    let entries = external::status(cache);
    if entries.is_empty() {
        return format!(
            "no cached tables in {} (run `nethunt domains fetch`)\n",
            cache.display()
        );
    }
    let mut s = String::new();
    for (m, file) in entries {
        let size = std::fs::metadata(&file).map(|x| x.len()).unwrap_or(0);
        s.push_str(&format!(
            "{}\n    source:        {}\n    rows:          {}\n    sha256:        {}\n    fetched:       {}\n    last checked:  {}\n    etag:          {}\n    last-modified: {}\n    file:          {} ({} bytes)\n",
            m.table,
            crate::error::redact(&m.url),
            m.rows,
            m.sha256.as_deref().unwrap_or("-"),
            m.fetched_at,
            m.checked_at,
            m.etag.as_deref().unwrap_or("-"),
            m.last_modified.as_deref().unwrap_or("-"),
            file.display(),
            size
        ));
        if let Some((p, _)) = external::pending(cache, &m.table) {
            s.push_str(&format!(
                "    held aside:    {} rows, sha256 {}, fetched {} (lost more than half of the rows; `nethunt domains fetch --accept` takes it)\n",
                p.rows,
                p.sha256.as_deref().unwrap_or("-"),
                p.fetched_at
            ));
        }
    }
    s
}

/// `--stats`: peak resident memory of this process (VmHWM: the high-water mark of this program's
/// own address space, unlike getrusage's maxrss, which can include the parent's before exec)
/// and the elapsed time.
pub fn stats_line(elapsed: std::time::Duration) -> String {
    let hwm_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        });
    format!(
        "stats: peak_rss_bytes={} elapsed_s={:.3}",
        hwm_kib
            .map(|k| (k * 1024).to_string())
            .unwrap_or_else(|| "unknown".into()),
        elapsed.as_secs_f64()
    )
}

fn generate(args: GenerateArgs, quiet: bool) -> Result<Outcome> {
    let started = Instant::now();
    let spec = config::generate_spec(&args)?;
    let summary = crate::generate::write_lake(&spec)?;
    if !quiet {
        eprintln!(
            "wrote {} rows in {} file(s) to {} in {:.2}s",
            summary.rows,
            summary.files,
            args.out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Outcome::Ok)
}
