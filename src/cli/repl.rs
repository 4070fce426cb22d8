//! `nethunt repl`: an interactive SQL session over the same tables as `run`, with the hunting
//! library at hand. On a terminal: a rustyline editor (history file, multi-line statements ending
//! with `;`, completion of tables, columns, functions and query names), Ctrl-C cancels the running
//! query, Ctrl-D exits, an error prints one line and the session goes on. With stdin not a
//! terminal the statements run without prompts and the first error ends the run (exit 2), like
//! `psql -v ON_ERROR_STOP=1`. Uses: `engine`, `library`, `lake` (the sample notice), `output`,
//! `error`.

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::prelude::DataFrame;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper, Highlighter, Hinter};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::library::Library;
use crate::output::{self, Format};

/// The backslash commands, in help order: (command, arguments, what it does).
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("\\?", "", "this help"),
    ("\\q", "", "quit (also Ctrl-D)"),
    (
        "\\d",
        "[NAME]",
        "list tables, or the columns and types of table NAME",
    ),
    (
        "\\f",
        "[PATTERN]",
        "list functions (name contains PATTERN) with their documentation",
    ),
    (
        "\\queries",
        "[TEXT]",
        "list the hunting queries (those whose name, title or description holds TEXT)",
    ),
    (
        "\\show",
        "NAME",
        "show a hunting query: metadata, parameters, SQL",
    ),
    (
        "\\run",
        "NAME [k=v ...]",
        "run a hunting query with parameters",
    ),
    (
        "\\format",
        "table|csv|json|ndjson",
        "how results are printed",
    ),
    (
        "\\timing",
        "on|off",
        "print the elapsed time after each result",
    ),
    (
        "\\output",
        "[FILE]",
        "append results to FILE; without FILE, back to the screen",
    ),
    (
        "\\maxrows",
        "N",
        "rows shown in table format (the rest is counted, never cut silently)",
    ),
    (
        "\\kql",
        "",
        "statements are KQL from now on (Kusto Query Language)",
    ),
    ("\\sql", "", "statements are SQL from now on (the default)"),
];

/// KQL's tabular operators and the functions nethunt-kql plans, for completion.
const KQL_WORDS: &[&str] = &[
    "where",
    "project",
    "project-away",
    "project-keep",
    "project-rename",
    "project-reorder",
    "extend",
    "summarize",
    "distinct",
    "count",
    "take",
    "limit",
    "top",
    "sort",
    "order",
    "join",
    "lookup",
    "union",
    "mv-expand",
    "as",
    "serialize",
    "getschema",
    "render",
    "let",
    "datatable",
    "print",
    "range",
    "externaldata",
    "materialize",
    "toscalar",
    "kind",
    "innerunique",
    "inner",
    "leftouter",
    "rightouter",
    "fullouter",
    "leftanti",
    "rightanti",
    "leftsemi",
    "rightsemi",
    "countif",
    "dcount",
    "dcountif",
    "sumif",
    "avg",
    "make_set",
    "make_set_if",
    "make_list",
    "arg_max",
    "arg_min",
    "has",
    "has_cs",
    "has_any",
    "has_all",
    "contains",
    "startswith",
    "endswith",
    "between",
    "isempty",
    "isnotempty",
    "isnull",
    "isnotnull",
    "iff",
    "case",
    "tostring",
    "toint",
    "tolong",
    "toreal",
    "todatetime",
    "tolower",
    "toupper",
    "strcat",
    "strlen",
    "substring",
    "split",
    "replace_string",
    "extract",
    "ago",
    "now",
    "bin",
    "datetime",
    "dynamic",
    "array_length",
    "_Im_NetworkSession",
    "parse",
    "percentile",
    "percentiles",
    "parse_json",
    "todynamic",
    "has_any_ipv4_prefix",
    "ipv4_is_private",
    "ipv4_is_in_any_range",
    "datetime_diff",
    "format_datetime",
    "row_number",
    "prev",
    "next",
    "_GetWatchlist",
    "isfuzzy",
    "with_itemindex",
];

pub fn help_text() -> String {
    let w = COMMANDS
        .iter()
        .map(|(c, a, _)| c.len() + a.len() + 1)
        .max()
        .unwrap_or(0);
    let mut s = String::new();
    for (c, a, d) in COMMANDS {
        let left = if a.is_empty() {
            c.to_string()
        } else {
            format!("{c} {a}")
        };
        s.push_str(&format!("  {left:<w$}  {d}\n"));
    }
    s.push_str(
        "  Statements (SQL, or KQL after \\kql) end with ';' and may span lines. Ctrl-C cancels a\n  running query.\n",
    );
    s
}

/// Completion and multi-line validation for the editor.
#[derive(Helper, Hinter, Highlighter)]
struct NethuntHelper {
    words: Arc<Mutex<Vec<String>>>,
}

impl Completer for NethuntHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '\\' || *c == '"'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = line[start..pos].trim_start_matches('"');
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let lower = word.to_ascii_lowercase();
        let words = self.words.lock().map(|w| w.clone()).unwrap_or_default();
        let quoted = line[start..pos].starts_with('"');
        let cands = words
            .into_iter()
            .filter(|w| w.to_ascii_lowercase().starts_with(&lower))
            .map(|w| Pair {
                display: w.clone(),
                replacement: if quoted { format!("\"{w}") } else { w },
            })
            .collect();
        Ok((start, cands))
    }
}

impl Validator for NethuntHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input().trim();
        if input.is_empty() || input.starts_with('\\') || input.ends_with(';') {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

pub struct Repl {
    engine: Engine,
    library: Library,
    format: Format,
    timing: bool,
    maxrows: usize,
    output: Option<PathBuf>,
    quiet: bool,
    /// On a terminal footers go to stdout with the table; in script mode to stderr, so stdout
    /// holds only data.
    interactive: bool,
    words: Arc<Mutex<Vec<String>>>,
    /// Queries run on their own runtime: CPU-bound work there cannot starve the runtime that
    /// reads input and receives Ctrl-C.
    exec: Option<tokio::runtime::Runtime>,
    /// NetworkSessions is the bundled sample lake.
    on_sample: bool,
    /// The language statements are in (`\\sql`, `\\kql`).
    language: crate::engine::Language,
}

impl Drop for Repl {
    fn drop(&mut self) {
        if let Some(rt) = self.exec.take() {
            rt.shutdown_background();
        }
    }
}

/// What a line asked for.
enum Step {
    Continue,
    Quit,
}

impl Repl {
    pub fn new(engine: Engine, library: Library, quiet: bool) -> Result<Repl> {
        let exec = query_runtime()?;
        let r = Repl {
            engine,
            library,
            format: Format::Table,
            timing: true,
            maxrows: 40,
            output: None,
            quiet,
            interactive: false,
            words: Arc::default(),
            exec: Some(exec),
            on_sample: false,
            language: crate::engine::Language::Sql,
        };
        r.refresh_words();
        Ok(r)
    }

    /// Completion words: tables, columns, functions, query names, commands.
    fn refresh_words(&self) {
        let mut w: Vec<String> = Vec::new();
        let state = self.engine.ctx.state();
        for name in self.table_names() {
            if let Some(schema) = self.table_schema(&name) {
                w.extend(schema.fields().iter().map(|f| f.name().clone()));
            }
            w.push(name);
        }
        w.extend(state.scalar_functions().keys().cloned());
        w.extend(state.aggregate_functions().keys().cloned());
        w.extend(state.window_functions().keys().cloned());
        w.extend(self.library.queries.iter().map(|q| q.meta.name.clone()));
        w.extend(COMMANDS.iter().map(|(c, _, _)| c.to_string()));
        w.extend(KQL_WORDS.iter().map(|k| k.to_string()));
        for k in [
            "SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "LIMIT", "HAVING", "JOIN", "WITH",
            "DISTINCT", "COUNT",
        ] {
            w.push(k.to_string());
        }
        w.sort();
        w.dedup();
        if let Ok(mut g) = self.words.lock() {
            *g = w;
        }
    }

    fn table_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(cat) = self.engine.ctx.catalog("datafusion")
            && let Some(schema) = cat.schema("public")
        {
            names = schema.table_names();
        }
        names.sort();
        names
    }

    fn table_schema(&self, name: &str) -> Option<SchemaRef> {
        let cat = self.engine.ctx.catalog("datafusion")?;
        let schema = cat.schema("public")?;
        let rt = tokio::runtime::Handle::try_current().ok()?;
        let table = tokio::task::block_in_place(|| rt.block_on(schema.table(name))).ok()??;
        Some(table.schema())
    }

    fn banner(&self) -> String {
        let lake = self
            .engine
            .lake
            .as_ref()
            .map(|l| {
                format!(
                    "{} ({} file{})",
                    crate::error::redact(&l.source),
                    l.files.len(),
                    if l.files.len() == 1 { "" } else { "s" }
                )
            })
            .unwrap_or_else(|| "not registered (give --data)".into());
        let lake = if self.on_sample {
            format!("{lake}, the bundled sample of synthetic sessions (give --data for yours)")
        } else {
            lake
        };
        let domains = self
            .engine
            .domain_rows
            .map(|n| format!("{n} domains"))
            .unwrap_or_else(|| "not registered (give --domains)".into());
        format!(
            "nethunt {}: NetworkSessions = {lake}; top1m = {domains}.\nType \\? for help, \\q to quit; SQL ends with ';'.\n",
            env!("CARGO_PKG_VERSION")
        )
    }

    /// Interactive session on a terminal.
    pub async fn interactive(&mut self, history: &Path) -> Result<()> {
        let config = rustyline::Config::builder()
            .auto_add_history(false)
            .completion_type(rustyline::CompletionType::List)
            .build();
        let mut ed: Editor<NethuntHelper, rustyline::history::DefaultHistory> =
            Editor::with_config(config)
                .map_err(|e| Error::Config(format!("cannot start the line editor: {e}")))?;
        self.interactive = true;
        ed.set_helper(Some(NethuntHelper {
            words: self.words.clone(),
        }));
        if let Some(dir) = history.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = ed.load_history(history);
        if !self.quiet {
            print!("{}", self.banner());
        }
        loop {
            let line = tokio::task::block_in_place(|| ed.readline("nethunt> "));
            match line {
                Ok(text) => {
                    let text = text.trim().to_string();
                    if text.is_empty() {
                        continue;
                    }
                    let _ = ed.add_history_entry(text.as_str());
                    let _ = ed.save_history(history);
                    match self.handle(&text).await {
                        Ok(Step::Quit) => break,
                        Ok(Step::Continue) => {}
                        Err(e) => {
                            let msg = e.to_string();
                            eprintln!("error: {}", crate::error::redact(&one_line(&msg)));
                            if let Some(c) = caret(&text, &msg) {
                                eprint!("{c}");
                            }
                        }
                    }
                }
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(Error::Config(format!("line editor: {e}"))),
            }
        }
        Ok(())
    }

    /// Statements and commands from a non-terminal stdin: no prompts, stop at the first error.
    pub async fn script(&mut self, input: impl BufRead) -> Result<()> {
        let mut buf = String::new();
        for line in input.lines() {
            let line = line.map_err(|e| Error::Io {
                path: PathBuf::from("<stdin>"),
                source: e,
            })?;
            let t = line.trim();
            if buf.trim().is_empty() && t.starts_with('\\') {
                if let Step::Quit = self.handle(t).await? {
                    return Ok(());
                }
                continue;
            }
            if t.starts_with("--") && buf.trim().is_empty() {
                continue;
            }
            buf.push_str(&line);
            buf.push('\n');
            if t.ends_with(';') {
                let stmt = std::mem::take(&mut buf);
                self.handle(stmt.trim()).await?;
            }
        }
        if !buf.trim().is_empty() {
            self.handle(buf.trim()).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, text: &str) -> Result<Step> {
        if let Some(cmd) = text.strip_prefix('\\') {
            return self.command(cmd.trim_end_matches(';').trim()).await;
        }
        let frames = self.engine.plan_text(self.language, text, &[]).await?;
        for df in frames {
            if df.schema().fields().is_empty() {
                continue; // DDL: done
            }
            self.show(df).await?;
        }
        self.refresh_words();
        Ok(Step::Continue)
    }

    async fn command(&mut self, cmd: &str) -> Result<Step> {
        let mut words = cmd.split_whitespace();
        let name = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        let bad = |usage: &str| Error::Config(format!("usage: \\{usage}"));
        match name {
            "q" | "quit" => return Ok(Step::Quit),
            "kql" | "sql" => {
                self.language = if name == "kql" {
                    crate::engine::Language::Kql
                } else {
                    crate::engine::Language::Sql
                };
                self.print(&format!("statements are {} now\n", name.to_uppercase()))?;
            }
            "?" | "h" | "help" => self.print(&help_text())?,
            "d" => match rest.as_slice() {
                [] => {
                    let mut s = String::new();
                    for t in self.table_names() {
                        let cols = self.table_schema(&t).map(|s| s.fields().len()).unwrap_or(0);
                        s.push_str(&format!("  {t} ({cols} columns)\n"));
                    }
                    self.print(&s)?;
                }
                [t] => {
                    let t = t.trim_matches('"');
                    let schema = self.table_schema(t).ok_or_else(|| {
                        Error::Config(format!("no table named {t} (\\d lists them)"))
                    })?;
                    let w = schema
                        .fields()
                        .iter()
                        .map(|f| f.name().len())
                        .max()
                        .unwrap_or(0);
                    let mut s = format!("  {:<w$}  type\n", "column");
                    for f in schema.fields() {
                        s.push_str(&format!(
                            "  {:<w$}  {}{}\n",
                            f.name(),
                            f.data_type(),
                            if f.is_nullable() { "" } else { " NOT NULL" }
                        ));
                    }
                    self.print(&s)?;
                }
                _ => return Err(bad("d [NAME]")),
            },
            "f" => {
                let pat = rest.first().map(|p| p.to_ascii_lowercase());
                let state = self.engine.ctx.state();
                let mut names: Vec<(String, Option<String>)> = state
                    .scalar_functions()
                    .iter()
                    .map(|(n, f)| {
                        (
                            n.clone(),
                            f.documentation()
                                .map(|d| format!("{} -- {}", d.syntax_example, d.description)),
                        )
                    })
                    .chain(state.aggregate_functions().iter().map(|(n, f)| {
                        (
                            n.clone(),
                            f.documentation()
                                .map(|d| format!("{} -- {}", d.syntax_example, d.description)),
                        )
                    }))
                    .filter(|(n, _)| {
                        pat.as_ref()
                            .is_none_or(|p| n.to_ascii_lowercase().contains(p.as_str()))
                    })
                    .collect();
                names.sort();
                names.dedup_by(|a, b| a.0 == b.0);
                let mut s = String::new();
                for (n, doc) in names {
                    s.push_str(&format!(
                        "  {n}: {}\n",
                        doc.map(|d| one_line(&d).into_owned())
                            .unwrap_or_else(|| "(no documentation)".into())
                    ));
                }
                if s.is_empty() {
                    s = "  no function matches\n".into();
                }
                self.print(&s)?;
            }
            "queries" => {
                let filter = crate::library::Filter {
                    search: rest.first().map(|s| s.to_string()),
                    ..Default::default()
                };
                self.print(&self.library.listing(&filter)?)?
            }
            "show" => match rest.as_slice() {
                [q] => {
                    let q = self.library.get(q)?;
                    self.print(&q.describe())?;
                }
                _ => return Err(bad("show NAME")),
            },
            "run" => {
                let Some((q, args)) = rest.split_first() else {
                    return Err(bad("run NAME [k=v ...]"));
                };
                let q = self.library.get(q)?;
                let assignments = args
                    .iter()
                    .map(|a| crate::library::params::split_assignment(a))
                    .collect::<Result<Vec<_>>>()?;
                let values = q.bind(&assignments)?;
                let df = self.engine.plan_query(&q, values).await?;
                self.show(df).await?;
            }
            "format" => match rest.as_slice() {
                [f] => {
                    self.format = match *f {
                        "table" => Format::Table,
                        "csv" => Format::Csv,
                        "json" => Format::Json,
                        "ndjson" => Format::Ndjson,
                        _ => return Err(bad("format table|csv|json|ndjson")),
                    };
                    self.print(&format!("format is {f}\n"))?;
                }
                _ => return Err(bad("format table|csv|json|ndjson")),
            },
            "timing" => match rest.as_slice() {
                ["on"] => self.timing = true,
                ["off"] => self.timing = false,
                _ => return Err(bad("timing on|off")),
            },
            "output" | "o" => match rest.as_slice() {
                [] => {
                    self.output = None;
                    println!("results go to the screen");
                }
                [f] => {
                    let p = PathBuf::from(f);
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&p)
                        .map_err(|e| Error::Io {
                            path: p.clone(),
                            source: e,
                        })?;
                    println!("results are appended to {}", p.display());
                    self.output = Some(p);
                }
                _ => return Err(bad("output [FILE]")),
            },
            "maxrows" => match rest.as_slice() {
                [n] => {
                    self.maxrows = n.parse().map_err(|_| bad("maxrows N (a whole number)"))?;
                    println!("table format shows at most {} rows", self.maxrows);
                }
                _ => return Err(bad("maxrows N")),
            },
            other => {
                return Err(Error::Config(format!(
                    "unknown command \\{other} (\\? lists them)"
                )));
            }
        }
        Ok(Step::Continue)
    }

    /// Write text to the current output (screen or `\output` file).
    fn print(&self, text: &str) -> Result<()> {
        match &self.output {
            None => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
                Ok(())
            }
            Some(p) => {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(p)
                    .map_err(|e| Error::Io {
                        path: p.clone(),
                        source: e,
                    })?;
                f.write_all(text.as_bytes()).map_err(|e| Error::Io {
                    path: p.clone(),
                    source: e,
                })
            }
        }
    }

    /// Run a DataFrame (Ctrl-C cancels it) and print the result.
    async fn show(&mut self, df: DataFrame) -> Result<()> {
        let started = Instant::now();
        let schema: SchemaRef = df.schema().inner().clone();
        // The query runs as its own task so this thread stays free to notice Ctrl-C; aborting the
        // task drops DataFusion's streams, which stop at their next cooperative yield.
        let task = match &self.exec {
            Some(rt) => rt.spawn(df.collect()),
            None => tokio::spawn(df.collect()),
        };
        let abort = task.abort_handle();
        let batches: Vec<RecordBatch> = tokio::select! {
            r = task => match r {
                Ok(r) => r.map_err(|e| Error::datafusion("query", e))?,
                Err(e) => return Err(Error::Config(format!("the query task failed: {e}"))),
            },
            _ = tokio::signal::ctrl_c() => {
                abort.abort();
                // Operators that never reach a cooperative yield (a huge nested-loop join) would
                // keep the old runtime's threads busy: retire it and give later queries a fresh
                // one. The old threads end at the work's next yield point.
                if let Some(old) = self.exec.take() {
                    old.shutdown_background();
                }
                self.exec = Some(query_runtime()?);
                eprintln!("query cancelled");
                return Ok(());
            }
        };
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let elapsed = started.elapsed().as_secs_f64();
        let mut footer = format!("{rows} row{}", if rows == 1 { "" } else { "s" });
        if self.timing {
            footer.push_str(&format!(" in {elapsed:.3}s"));
        }
        let body: Vec<u8> = if self.format == Format::Table {
            let shown = if rows > self.maxrows {
                take_rows(&batches, self.maxrows)
            } else {
                batches
            };
            if rows > self.maxrows {
                footer.push_str(&format!(
                    "; {} not shown (table format shows {}: \\maxrows N to change)",
                    rows - self.maxrows,
                    self.maxrows
                ));
            }
            format!("{}\n", output::table_string(&schema, &shown)?).into_bytes()
        } else {
            let (buf, _rows) = output::write_batches(
                schema,
                batches,
                self.format,
                Vec::new(),
                Path::new("<result>"),
            )
            .await?;
            buf
        };
        self.print(&String::from_utf8_lossy(&body))?;
        if self.quiet {
        } else if self.interactive {
            println!("{footer}");
        } else {
            eprintln!("{footer}");
        }
        Ok(())
    }
}

/// For an error that names a place (`KQL: 2:14: ...`), the statement's line with a caret under
/// the column.
fn caret(text: &str, msg: &str) -> Option<String> {
    let rest = &msg[msg.find("KQL: ")? + 5..];
    let mut parts = rest.splitn(3, ':');
    let line: usize = parts.next()?.trim().parse().ok()?;
    let col: usize = parts.next()?.trim().parse().ok()?;
    let src = text.lines().nth(line.checked_sub(1)?)?;
    Some(format!(
        "  {src}\n  {}^\n",
        " ".repeat(col.saturating_sub(1).min(src.chars().count()))
    ))
}

fn query_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("nethunt-query")
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the query runtime: {e}")))
}

/// The first `n` rows of `batches`.
fn take_rows(batches: &[RecordBatch], n: usize) -> Vec<RecordBatch> {
    let mut left = n;
    let mut out = Vec::new();
    for b in batches {
        if left == 0 {
            break;
        }
        let k = left.min(b.num_rows());
        out.push(b.slice(0, k));
        left -= k;
    }
    out
}

fn one_line(s: &str) -> Cow<'_, str> {
    if s.contains(['\n', '\r']) {
        Cow::Owned(s.split_whitespace().collect::<Vec<_>>().join(" "))
    } else {
        Cow::Borrowed(s)
    }
}

/// `$NETHUNT_HISTORY`, else `$XDG_STATE_HOME/nethunt/history`, else `~/.local/state/nethunt/history`.
pub fn history_path() -> PathBuf {
    if let Some(p) = std::env::var_os("NETHUNT_HISTORY").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("nethunt").join("history");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/state/nethunt/history")
}

/// Run the REPL: interactive on a terminal, a script otherwise. `on_sample`: NetworkSessions is
/// the bundled sample lake, which the banner (or, for a script, a notice) says.
pub async fn run(engine: Engine, library: Library, on_sample: bool, quiet: bool) -> Result<()> {
    let mut repl = Repl::new(engine, library, quiet)?;
    repl.on_sample = on_sample;
    if std::io::stdin().is_terminal() {
        repl.interactive(&history_path()).await
    } else {
        repl.script(std::io::stdin().lock()).await?;
        if on_sample && !quiet {
            eprintln!("{}", crate::lake::sample::NOTICE);
        }
        Ok(())
    }
}
