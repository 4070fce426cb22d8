//! One thin function per subcommand over the engine, the library and the output module.

use std::io::Read;
use std::time::Instant;

use datafusion::prelude::DataFrame;

use std::path::{Path, PathBuf};

use crate::cli::{
    BatchArgs, Cli, Command, DomainsCommand, FetchArgs, GenerateArgs, HttpArgs, ReplArgs, RunArgs,
    SqlArgs, TableArgs,
};
use crate::config::{self, OutputConfig};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::external::{self, ExternalTable, Limits};
use crate::output;
use crate::params;
use crate::queries::{Library, Query};

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
        Command::Batch(args) => batch(args, cli.library.as_deref(), &cache, quiet).await,
        Command::Domains(DomainsCommand::Fetch(args)) => domains_fetch(args, &cache, quiet).await,
        Command::Domains(DomainsCommand::Status) => {
            print!("{}", domains_status(&cache));
            Ok(Outcome::Ok)
        }
        Command::Queries => {
            let lib = Library::load(cli.library.as_deref())?;
            print!("{}", list_queries(&lib));
            Ok(Outcome::Ok)
        }
        Command::Show { query } => {
            let lib = Library::load(cli.library.as_deref())?;
            print!("{}", show_query(&lib.get(&query)?));
            Ok(Outcome::Ok)
        }
        Command::Generate(args) => generate(args, quiet),
        #[cfg(feature = "cluster")]
        Command::Cluster(c) => crate::cluster::serve(c, quiet).await.map(|()| Outcome::Ok),
        Command::Import(crate::cli::ImportCommand::Zeek(args)) => {
            let done = crate::zeek::import(&args.logs, &args.out)?;
            if !quiet {
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
async fn emit(
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
    let progress = crate::progress::wanted(quiet).then(|| output::Progress {
        label: "scanning".to_string(),
        started,
    });
    let written = engine
        .bounded(output::write(
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
        eprintln!(
            "{} row{}{} in {:.3}s",
            written.rows,
            if written.rows == 1 { "" } else { "s" },
            dest,
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
    let mut opts = config::engine_options(&args.tables)?;
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
    let engine = Engine::new(&opts).await?;
    require_tables(&engine, &query)?;
    let df = engine.plan_query(&query, values).await?;
    let rows = emit(&engine, df, &out, (quiet, stats), started).await?;
    Ok(if out.fail_on_hit && rows > 0 {
        Outcome::Hits
    } else {
        Outcome::Ok
    })
}

/// Bind a query's parameters, with `--from`/`--to` as the values of its `$start`/`$end` (when it
/// declares them as timestamps and they are not given with -p), and a given `$start`/`$end`
/// narrowing the lake's window in turn, so that either way whole partitions are skipped.
pub fn bind_window(
    query: &Query,
    assignments: &[(String, String)],
    window: &mut crate::tables::TimeWindow,
) -> Result<Vec<(String, datafusion::common::ScalarValue)>> {
    use datafusion::common::ScalarValue;
    let declares = |n: &str| {
        query
            .meta
            .params
            .iter()
            .any(|p| p.name == n && p.ty == params::ParamType::Timestamp)
    };
    let given = |n: &str| assignments.iter().any(|(k, _)| k == n);
    let mut assignments = assignments.to_vec();
    for (name, bound) in [("start", window.from), ("end", window.to)] {
        if let Some(us) = bound
            && declares(name)
            && !given(name)
        {
            let text = chrono::DateTime::from_timestamp_micros(us)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            assignments.push((name.to_string(), text));
        }
    }
    let values = query.bind(&assignments)?;
    let instant = |n: &str| {
        values.iter().find_map(|(k, v)| match v {
            ScalarValue::TimestampMicrosecond(Some(us), _) if k == n && declares(n) => Some(*us),
            _ => None,
        })
    };
    if let Some(s) = instant("start") {
        window.from = Some(window.from.map_or(s, |f| f.max(s)));
    }
    if let Some(e) = instant("end") {
        // Just past $end: the query decides whether $end itself is in (< or <=).
        let e = e.saturating_add(1);
        window.to = Some(window.to.map_or(e, |t| t.min(e)));
    }
    Ok(values)
}

/// Resolve the reference tables `queries` need into `opts`: `top1m` (as the first query that
/// declares it says, else Umbrella's list) and every other declared `[tables.NAME]`.
pub async fn prepare_tables(
    queries: &[Query],
    args: &TableArgs,
    opts: &mut crate::engine::EngineOptions,
    cache: &Path,
    quiet: bool,
) -> Result<()> {
    let declared = queries
        .iter()
        .flat_map(|q| q.meta.tables.iter())
        .find(|t| t.name == crate::tables::DOMAINS)
        .cloned()
        .unwrap_or_else(|| ExternalTable::top1m(external::UMBRELLA_URL));
    let needs_top1m = queries
        .iter()
        .any(|q| q.text.contains(crate::tables::DOMAINS));
    opts.domains = resolve_domains(args, &declared, cache, needs_top1m, quiet).await?;
    for t in queries
        .iter()
        .flat_map(|q| q.meta.tables.iter())
        .filter(|t| t.name != crate::tables::DOMAINS)
    {
        if opts.tables.iter().any(|(n, _)| *n == t.name) {
            continue;
        }
        let path = resolve_declared(t, cache, args.offline, quiet).await?;
        opts.tables
            .push((t.name.clone(), path.display().to_string()));
    }
    Ok(())
}

/// A clear error when a query needs a table that is not registered (e.g. no bundled sample).
pub fn require_tables(engine: &Engine, query: &Query) -> Result<()> {
    let text = &query.text;
    if engine.lake.is_none() && text.contains("NetworkSessions") {
        return Err(Error::Config(format!(
            "query {} reads NetworkSessions: give --data PATH (the bundled sample lake {} is missing)",
            query.meta.name,
            crate::engine::bundled_lake().display()
        )));
    }
    if engine.domain_rows.is_none() && text.contains("top1m") {
        return Err(Error::Config(format!(
            "query {} reads top1m: give --domains PATH (the bundled sample list {} is missing)",
            query.meta.name,
            crate::engine::bundled_domains().display()
        )));
    }
    Ok(())
}

async fn sql(args: SqlArgs, cache: &Path, quiet: bool, stats: bool) -> Result<Outcome> {
    let started = Instant::now();
    let out = config::output_config(&args.output)?;
    let mut opts = config::engine_options(&args.tables)?;
    let text = match (&args.sql, &args.file) {
        (Some(s), _) => s.clone(),
        (None, Some(f)) if f.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::Io {
                    path: f.clone(),
                    source: e,
                })?;
            s
        }
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| Error::Io {
            path: f.clone(),
            source: e,
        })?,
        (None, None) => return Err(Error::Config("give SQL text or -f FILE".into())),
    };
    let params: Vec<_> = config::assignments(&args.params)?
        .into_iter()
        .map(|(n, v)| (n, params::infer_value(&v)))
        .collect();
    let declared = ExternalTable::top1m(external::UMBRELLA_URL);
    let needs_top1m = text.contains(crate::tables::DOMAINS);
    opts.domains = resolve_domains(&args.tables, &declared, cache, needs_top1m, quiet).await?;
    let engine = Engine::new(&opts).await?;
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
        rows = emit(&engine, df, &out, (quiet, stats), started).await?;
    }
    Ok(if out.fail_on_hit && rows > 0 {
        Outcome::Hits
    } else {
        Outcome::Ok
    })
}

async fn batch(
    args: BatchArgs,
    library: Option<&Path>,
    cache: &Path,
    quiet: bool,
) -> Result<Outcome> {
    let mut opts = config::engine_options(&args.tables)?;
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
    // Parameters: defaults, with --from/--to as $start/$end where declared; checked before
    // anything runs so that a bad value fails the whole batch up front.
    let window = opts.window;
    let bindings = |q: &Query| bind_window(q, &[], &mut window.clone());
    for q in &queries {
        bindings(q)?;
    }
    prepare_tables(&queries, &args.tables, &mut opts, cache, quiet).await?;
    let engine = Engine::new(&opts).await?;
    let job = crate::batch::BatchJob {
        queries,
        out: args.out.clone(),
        format: args.format.into(),
        resume: args.resume.clone(),
        quiet,
    };
    let outcome = crate::batch::run(&engine, &job, window, &bindings).await?;
    println!("{}", outcome.location);
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
            crate::batch::MANIFEST
        )));
    }
    Ok(if args.fail_on_hit && outcome.fired() {
        Outcome::Hits
    } else {
        Outcome::Ok
    })
}

async fn repl(
    args: ReplArgs,
    library: Option<&Path>,
    cache: &Path,
    quiet: bool,
) -> Result<Outcome> {
    let mut opts = config::engine_options(&args.tables)?;
    let declared = ExternalTable::top1m(external::UMBRELLA_URL);
    opts.domains = resolve_domains(&args.tables, &declared, cache, false, quiet).await?;
    let lib = Library::load(library)?;
    let engine = Engine::new(&opts).await?;
    crate::repl::run(engine, lib, quiet).await?;
    Ok(Outcome::Ok)
}

fn http_options(h: &HttpArgs, quiet: bool) -> Result<external::HttpOptions> {
    if !(h.timeout > 0.0 && h.timeout < 86_400.0) {
        return Err(Error::Config(format!(
            "--timeout {}: expected seconds between 0 and 86400",
            h.timeout
        )));
    }
    Ok(external::HttpOptions {
        read_timeout: std::time::Duration::from_secs_f64(h.timeout),
        connect_timeout: std::time::Duration::from_secs_f64(h.timeout.min(10.0)),
        retries: h.retries,
        progress: !quiet,
        ..Default::default()
    })
}

fn default_http(quiet: bool) -> external::HttpOptions {
    external::HttpOptions {
        progress: !quiet,
        ..Default::default()
    }
}

/// Where `top1m` comes from for a run: `--domains PATH` as given; `--domains URL` through the
/// cache (fetched when missing or stale); otherwise the cached list when there is one (refreshed
/// with a conditional GET once older than the declared refresh interval), else the bundled
/// sample with a notice. `--offline` never touches the network and fails when a needed list is not
/// cached. `None` means the bundled sample.
async fn resolve_domains(
    args: &TableArgs,
    declared: &ExternalTable,
    cache: &Path,
    needed: bool,
    quiet: bool,
) -> Result<Option<String>> {
    let name = crate::tables::DOMAINS;
    match &args.domains {
        Some(d) if external::is_remote(d) => {
            let table = ExternalTable {
                url: d.clone(),
                ..declared.clone()
            };
            Ok(Some(
                resolve_declared(&table, cache, args.offline, quiet)
                    .await?
                    .display()
                    .to_string(),
            ))
        }
        Some(d) => Ok(Some(d.clone())),
        None => match external::cached(cache, name) {
            Some((meta, file)) => {
                let stale = declared
                    .refresh
                    .is_some_and(|r| external::age(&meta).is_none_or(|a| a > r));
                if stale && !args.offline && external::is_remote(&meta.url) {
                    let table = ExternalTable {
                        url: meta.url.clone(),
                        zip_pattern: meta.zip_pattern.clone(),
                        ..declared.clone()
                    };
                    match external::fetch(&table, cache, &default_http(quiet), &Limits::default())
                        .await
                    {
                        Ok((_, f, _)) => return Ok(Some(f.display().to_string())),
                        Err(e) if !quiet => eprintln!(
                            "nethunt: warning: using the cached {name} list: refresh failed: {e}"
                        ),
                        Err(_) => {}
                    }
                }
                Ok(Some(file.display().to_string()))
            }
            None if needed && args.offline => Err(Error::Config(format!(
                "--offline: no cached {name} list in {}; run `nethunt domains fetch` first or give --domains PATH",
                cache.display()
            ))),
            None => {
                if needed && !quiet {
                    eprintln!(
                        "nethunt: note: {name} is the bundled sample list; run `nethunt domains fetch` to cache the real top-1M list"
                    );
                }
                Ok(None)
            }
        },
    }
}

/// A declared external table: the cached copy when it is from the same source and fresh (any age
/// with `--offline`), else fetched now.
async fn resolve_declared(
    table: &ExternalTable,
    cache: &Path,
    offline: bool,
    quiet: bool,
) -> Result<PathBuf> {
    if let Some((meta, file)) = external::cached(cache, &table.name)
        && meta.url == table.url
    {
        let fresh = table
            .refresh
            .is_none_or(|r| external::age(&meta).is_some_and(|a| a <= r));
        if offline || fresh {
            return Ok(file);
        }
    }
    if offline {
        return Err(Error::Fetch {
            url: table.url.clone(),
            msg: format!(
                "--offline: table {} is not cached from this source in {}; run `nethunt domains fetch --url {}` first",
                table.name,
                cache.display(),
                table.url
            ),
        });
    }
    let (_, file, _) =
        external::fetch(table, cache, &default_http(quiet), &Limits::default()).await?;
    Ok(file)
}

async fn domains_fetch(args: FetchArgs, cache: &Path, quiet: bool) -> Result<Outcome> {
    let http = http_options(&args.http, quiet)?;
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
                meta.url,
                file.display()
            ),
            external::Outcome::NotModified => eprintln!(
                "{}: not modified since {} ({}); cached copy kept: {} rows in {}",
                meta.table,
                meta.fetched_at,
                meta.url,
                meta.rows,
                file.display()
            ),
        }
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
            "{}\n    source:        {}\n    rows:          {}\n    fetched:       {}\n    last checked:  {}\n    etag:          {}\n    last-modified: {}\n    file:          {} ({} bytes)\n",
            m.table,
            m.url,
            m.rows,
            m.fetched_at,
            m.checked_at,
            m.etag.as_deref().unwrap_or("-"),
            m.last_modified.as_deref().unwrap_or("-"),
            file.display(),
            size
        ));
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

/// The `queries` listing.
pub fn list_queries(lib: &Library) -> String {
    let mut s = String::new();
    for q in &lib.queries {
        let m = &q.meta;
        s.push_str(&format!("{}\n", m.name));
        s.push_str(&format!(
            "    {} [{}] severity {}\n",
            m.title,
            m.mitre.join(", "),
            m.severity
        ));
        for p in &m.params {
            s.push_str(&format!(
                "    --param {}=<{}> (default {})\n",
                p.name,
                p.ty.name(),
                p.default_text
            ));
        }
    }
    s
}

/// The `show` text.
pub fn show_query(q: &Query) -> String {
    let m = &q.meta;
    let mut s = format!(
        "name:        {}\nid:          {}\ntitle:       {}\ndescription: {}\nmitre:       {}\nseverity:    {}\n",
        m.name,
        m.id,
        m.title,
        m.description,
        m.mitre.join(", "),
        m.severity
    );
    if let Some(src) = &m.source {
        s.push_str(&format!("source:      {src}\n"));
    }
    if let Some(r) = &m.reference {
        s.push_str(&format!("reference:   {r}\n"));
    }
    s.push_str(&format!("file:        {}\n", q.origin.display()));
    if m.params.is_empty() {
        s.push_str("parameters:  none\n");
    } else {
        s.push_str("parameters:\n");
        for p in &m.params {
            s.push_str(&format!(
                "  {} ({}) = {}{}\n",
                p.name,
                p.ty.name(),
                p.default_text,
                p.doc.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
            ));
        }
    }
    s.push('\n');
    s.push_str(&q.text);
    if !q.text.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn generate(args: GenerateArgs, quiet: bool) -> Result<Outcome> {
    let started = Instant::now();
    let spec = crate::generate::Spec::from_args(&args)?;
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
