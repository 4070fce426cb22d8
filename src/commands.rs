//! One thin function per subcommand over the engine, the library and the output module.

use std::io::Read;
use std::time::Instant;

use datafusion::prelude::DataFrame;

use crate::cli::{Cli, Command, GenerateArgs, RunArgs, SqlArgs};
use crate::config::{self, OutputConfig};
use crate::engine::Engine;
use crate::error::{Error, Result};
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
    match cli.command {
        Command::Run(args) => run(args, cli.library.as_deref(), quiet).await,
        Command::Sql(args) => sql(args, quiet).await,
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
    }
}

async fn emit(df: DataFrame, out: &OutputConfig, quiet: bool, started: Instant) -> Result<usize> {
    let df = match out.limit {
        Some(n) => df
            .limit(0, Some(n))
            .map_err(|e| Error::datafusion("--limit", e))?,
        None => df,
    };
    let written = output::write(df, out.format, out.path.as_deref()).await?;
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
    Ok(written.rows)
}

async fn run(args: RunArgs, library: Option<&std::path::Path>, quiet: bool) -> Result<Outcome> {
    let started = Instant::now();
    let out = config::output_config(&args.output)?;
    let opts = config::engine_options(&args.tables)?;
    let assignments = config::assignments(&args.params)?;
    let lib = Library::load(library)?;
    let query = lib.get(&args.query)?;
    let values = query.bind(&assignments)?;
    let engine = Engine::new(&opts).await?;
    require_tables(&engine, &query)?;
    let df = engine.plan_query(&query, values).await?;
    let rows = emit(df, &out, quiet, started).await?;
    Ok(if out.fail_on_hit && rows > 0 {
        Outcome::Hits
    } else {
        Outcome::Ok
    })
}

/// A clear error when a query needs a table that is not registered (e.g. no bundled sample).
fn require_tables(engine: &Engine, query: &Query) -> Result<()> {
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

async fn sql(args: SqlArgs, quiet: bool) -> Result<Outcome> {
    let started = Instant::now();
    let out = config::output_config(&args.output)?;
    let opts = config::engine_options(&args.tables)?;
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
        rows = emit(df, &out, quiet, started).await?;
    }
    Ok(if out.fail_on_hit && rows > 0 {
        Outcome::Hits
    } else {
        Outcome::Ok
    })
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
