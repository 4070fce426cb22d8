//! The engine: one `SessionContext` with nethunt's functions and tables, and the planning of
//! queries in any [`Language`] through the language seam, then the same steps for all:
//! placeholder checks, typed binding, `[settings]`, the time window, column checks against the
//! lake, and `--query-timeout`. Uses: `cluster`, `library`, `reference`, `lake`, `schema`, `error`.

pub mod context;
pub mod language;
pub mod sources;

use std::collections::HashMap;

use datafusion::common::{ParamValues, ScalarValue, SchemaError};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionContext};

use crate::cluster::ClusterTarget;
use crate::error::{Error, Result, one_line};
use crate::lake::{self, Lake, TimeWindow};
use crate::library::Query;
use crate::library::params::ParamType;
use crate::schema::{DOMAINS, SESSIONS};
pub use context::{MemPoolType, context_for, session_config};
pub use language::Language;

/// What to register and how to run.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// `NetworkSessions` sources (`--data [SOURCE=]PATH`, repeatable; their union); empty: no
    /// such table.
    pub data: Vec<String>,
    /// Say nothing on stderr but errors and warnings (the detected source formats).
    pub quiet: bool,
    /// `top1m` source; `None`: no such table.
    pub domains: Option<String>,
    /// Extra `--table NAME=PATH` registrations.
    pub tables: Vec<(String, String)>,
    /// The columns a query declares for some of those tables (`[tables.NAME]`): the table is
    /// read as them, by name, each cast to its declared type (a value that does not convert is
    /// NULL, as in KQL `externaldata`), whatever a CSV reader would have guessed.
    pub typed: Vec<(String, Vec<crate::reference::Column>)>,
    /// Worker threads / partitions; `None` = number of cores.
    pub target_partitions: Option<usize>,
    /// Memory budget of the query in bytes; past it sorts and aggregations spill to disk.
    pub memory_limit: Option<usize>,
    /// How the budget is shared between operators.
    pub mem_pool_type: MemPoolType,
    /// Rows per batch; `None` = DataFusion's default (8192).
    pub batch_size: Option<usize>,
    /// How object stores are reached.
    pub store: lake::store::StoreOptions,
    /// `--from` / `--to`: the part of the lake `NetworkSessions` shows.
    pub window: TimeWindow,
    /// `--cluster`: run on Ballista instead of in this process.
    pub cluster: Option<ClusterTarget>,
    /// `--shared-fs`: a remote cluster's executors see local paths as they are here.
    pub shared_fs: bool,
    /// `--query-timeout`: how long one query may run.
    pub query_timeout: Option<std::time::Duration>,
    /// `--now`: the instant (microseconds since the epoch, UTC) `now()` means; `None`: the clock.
    pub now: Option<i64>,
}

/// Replace table `name` by a view of its declared columns `cols`, found by name (ignoring ASCII
/// case) and cast to their declared types with `TRY_CAST`; a missing column is an error naming
/// the table, its file and the column.
async fn retype(
    ctx: &SessionContext,
    name: &str,
    path: &str,
    cols: &[crate::reference::Column],
) -> Result<()> {
    use datafusion::logical_expr::{Expr, TryCast};
    let fail = |m: String| Error::table(name, path, m);
    let df = ctx
        .table(name)
        .await
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let fields = df.schema().fields().clone();
    let mut exprs = Vec::with_capacity(cols.len());
    for c in cols {
        let f = fields
            .iter()
            .find(|f| f.name() == &c.name)
            .or_else(|| {
                fields
                    .iter()
                    .find(|f| f.name().eq_ignore_ascii_case(&c.name))
            })
            .ok_or_else(|| {
                fail(format!(
                    "has no column {} (it has {})",
                    c.name,
                    fields
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let col = Expr::Column(datafusion::common::Column::new_unqualified(f.name()));
        exprs.push(Expr::TryCast(TryCast::new(Box::new(col), c.ty.data_type())).alias(&c.name));
    }
    let view = df
        .select(exprs)
        .map_err(|e| fail(crate::error::one_line(&e)))?
        .into_view();
    ctx.deregister_table(name)
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    ctx.register_table(name, view)
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    Ok(())
}

pub struct Engine {
    pub ctx: SessionContext,
    pub lake: Option<Lake>,
    pub domain_rows: Option<usize>,
    /// Where queries run when not here (`--cluster`).
    pub cluster: Option<ClusterTarget>,
    /// How long one query may run (`--query-timeout`).
    pub query_timeout: Option<std::time::Duration>,
    /// Say nothing on stderr but errors and warnings.
    pub quiet: bool,
    /// `--now`: the instant `now()` means in every plan; `None`: the clock.
    pub now: Option<i64>,
    /// Files written for the cluster's executors to read (a CSV domain list as Parquet); removed
    /// when the engine is dropped.
    _stage: Option<crate::output::TempFolder>,
}

/// A context whose queries run on the Ballista cluster `target`, with nethunt's functions.
#[cfg(feature = "cluster")]
async fn cluster_context(ctx: SessionContext, target: &ClusterTarget) -> Result<SessionContext> {
    crate::cluster::connect(ctx, target).await
}

#[cfg(not(feature = "cluster"))]
async fn cluster_context(_: SessionContext, target: &ClusterTarget) -> Result<SessionContext> {
    Err(Error::Config(format!(
        "--cluster {target}: this nethunt was built without the `cluster` feature"
    )))
}

impl Engine {
    /// An engine over `ctx` as it is: no lake, no domain list, in this process.
    pub fn bare(ctx: SessionContext) -> Engine {
        Engine {
            ctx,
            lake: None,
            domain_rows: None,
            cluster: None,
            query_timeout: None,
            quiet: false,
            now: None,
            _stage: None,
        }
    }

    /// `plan` with every `now()` (KQL's `now()` and `ago()` included) the `--now` instant, when
    /// one was given: DataFusion would otherwise fold it to the clock when it optimizes.
    fn at_now(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        let Some(micros) = self.now else {
            return Ok(plan);
        };
        use datafusion::common::tree_node::{Transformed, TreeNode};
        let instant = || {
            datafusion::prelude::lit(ScalarValue::TimestampNanosecond(
                Some(micros.saturating_mul(1000)),
                None,
            ))
        };
        plan.transform_up_with_subqueries(|p| {
            // the plan's column names stay those of now() (NamePreserver re-aliases where a
            // node's output is named by its expressions)
            let names = datafusion::logical_expr::expr_rewriter::NamePreserver::new(&p);
            p.map_expressions(|e| {
                let saved = names.save(&e);
                let t = e.transform_up(|e| match &e {
                    datafusion::prelude::Expr::ScalarFunction(f)
                        if f.func.name() == "now" && f.args.is_empty() =>
                    {
                        Ok(Transformed::yes(instant()))
                    }
                    _ => Ok(Transformed::no(e)),
                })?;
                Ok(t.update_data(|e| saved.restore(e)))
            })
        })
        .and_then(|t| t.data.recompute_schema())
        .map_err(|e| Error::datafusion("--now", e))
    }

    pub async fn new(opts: &EngineOptions) -> Result<Engine> {
        let ctx = context_for(opts)?;
        let ctx = match &opts.cluster {
            Some(target) => cluster_context(ctx, target).await?,
            None => ctx,
        };
        let mut stage = None;
        let lake = if opts.data.is_empty() {
            None
        } else {
            let specs = opts
                .data
                .iter()
                .map(|d| sources::DataSpec::parse(d))
                .collect::<Result<Vec<_>>>()?;
            // Text logs for executors on this machine are staged as Parquet; the folder lives
            // as long as the engine.
            if opts.cluster.as_ref().is_some_and(|c| c.is_local()) {
                stage = Some(
                    crate::output::TempFolder::new("nethunt-stage-", None).map_err(|e| {
                        Error::table(SESSIONS, "--data", format!("staging folder: {e}"))
                    })?,
                );
            }
            let runs = match (&opts.cluster, &stage) {
                (None, _) => sources::Runs::Here,
                (Some(_), Some(t)) => sources::Runs::ClusterHere { stage: t.path() },
                (Some(_), None) => sources::Runs::ClusterElsewhere,
            };
            let got = sources::register(&ctx, &specs, opts.window, runs).await?;
            if !opts.quiet {
                for note in &got.notes {
                    eprintln!("nethunt: note: {note}");
                }
            }
            lake::window::apply_window(&ctx, &got.lake, opts.window).await?;
            Some(got.lake)
        };
        let domain_rows = match (opts.domains.clone(), &opts.cluster) {
            (Some(d), None) => Some(crate::reference::domains::register_domains(&ctx, &d).await?),
            (Some(d), Some(target))
                if !target.is_local() && !opts.shared_fs && !lake::store::is_url(&d) =>
            {
                return Err(Error::table(
                    DOMAINS,
                    &d,
                    target.cannot_read("--domains as the URL of a Parquet list (s3://...)"),
                ));
            }
            (Some(d), Some(target)) => {
                // Executors on this machine can read a staged copy; others cannot.
                if target.is_local() && stage.is_none() {
                    stage = Some(
                        crate::output::TempFolder::new("nethunt-stage-", None).map_err(|e| {
                            Error::table(DOMAINS, &d, format!("staging folder: {e}"))
                        })?,
                    );
                }
                let dir = stage.as_ref().map(|t| t.path());
                Some(crate::reference::domains::register_domains_for_cluster(&ctx, &d, dir).await?)
            }
            (None, _) => None,
        };
        for (name, path) in &opts.tables {
            lake::register_extra(&ctx, name, path).await?;
            if let Some((_, cols)) = opts.typed.iter().find(|(n, _)| n == name) {
                retype(&ctx, name, path, cols).await?;
            }
        }
        Ok(Engine {
            ctx,
            lake,
            domain_rows,
            cluster: opts.cluster.clone(),
            query_timeout: opts.query_timeout,
            quiet: opts.quiet,
            now: opts.now,
            _stage: stage,
        })
    }

    /// Run `work` (executing a query and writing its result) within `--query-timeout`. Past it
    /// the work is dropped, which removes its temporary files, and the error says what happened.
    /// On a cluster this also ends a job that Ballista has stalled: after losing an executor,
    /// Ballista 55 sometimes never finishes the job.
    pub async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(limit) = self.query_timeout else {
            return work.await;
        };
        match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => {
                let secs = limit.as_secs_f64();
                Err(match &self.cluster {
                    Some(c) => Error::Cluster {
                        address: c.to_string(),
                        msg: format!(
                            "the query did not finish within --query-timeout {secs}s (a job can \
                             stall after an executor is lost; the scheduler's log says more)"
                        ),
                    },
                    None => Error::Config(format!(
                        "the query did not finish within --query-timeout {secs}s"
                    )),
                })
            }
        }
    }

    /// Turn a DataFusion planning error into one that names the lake when it is about a column
    /// the lake lacks altogether.
    fn planning_error(&self, context: &str, e: DataFusionError) -> Error {
        if let DataFusionError::SchemaError(schema_error, _) = e.find_root()
            && let SchemaError::FieldNotFound { field, .. } = schema_error.as_ref()
            && let Some(lake) = &self.lake
            && crate::schema::family(&field.name).is_some()
            && !lake
                .files
                .iter()
                .any(|f| f.schema.field_with_name(&field.name).is_ok())
        {
            return Error::table(
                SESSIONS,
                &lake.source,
                format!(
                    "column {} is missing in every file (the query needs it)",
                    field.name
                ),
            );
        }
        Error::datafusion(context, e)
    }

    /// Plan a library query with its parameter values bound, check that the lake has the columns it
    /// reads, and return the DataFrame (nothing has run yet).
    pub async fn plan_query(
        &self,
        q: &Query,
        values: Vec<(String, ScalarValue)>,
    ) -> Result<DataFrame> {
        let qerr = |line: Option<usize>, msg: String| Error::QueryFile {
            path: q.origin.clone(),
            line,
            msg,
        };
        let mut statements =
            language::parse(q.language, &q.text).map_err(|e| qerr(None, one_line(&e)))?;
        if statements.len() != 1 {
            return Err(qerr(
                None,
                format!(
                    "a query file holds exactly one statement, found {}",
                    statements.len()
                ),
            ));
        }
        let statement = statements.pop().expect("one").with_context(
            q.meta.params.iter().map(|p| p.name.clone()).collect(),
            q.meta
                .tables
                .iter()
                .filter(|t| !t.url.is_empty())
                .map(|t| (t.url.clone(), t.name.clone()))
                .collect(),
        );
        // The query's own [settings] apply to a copy of the session state, for this query only.
        let mut state = self.ctx.state();
        for (k, v) in &q.meta.settings {
            state
                .config_mut()
                .options_mut()
                .set(k, v)
                .map_err(|e| qerr(None, format!("setting {k} = {v}: {}", one_line(&e))))?;
        }
        // Optional columns the lake lacks read as NULL while this query is planned.
        let restore = self.optional_columns(&q.meta.optional_columns).await?;
        let plan = statement
            .plan(&state)
            .await
            .map_err(|e| self.planning_error(&format!("query {}", q.meta.name), e));
        drop(restore);
        let (plan, notices) = plan?;
        let plan = self.at_now(plan)?;
        self.say(&notices);
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| qerr(None, format!("only queries are allowed: {}", one_line(&e))))?;

        // Placeholders used vs declared.
        let used = plan
            .get_parameter_types()
            .map_err(|e| qerr(None, one_line(&e)))?;
        for name in used.keys() {
            let bare = name.trim_start_matches('$');
            if !q.meta.params.iter().any(|p| p.name == bare) {
                return Err(qerr(
                    None,
                    format!("placeholder {name} is not declared in the header's params"),
                ));
            }
        }
        for p in &q.meta.params {
            if !used.contains_key(&format!("${}", p.name)) {
                return Err(qerr(
                    None,
                    format!(
                        "parameter '{}' is declared but ${} is not used",
                        p.name, p.name
                    ),
                ));
            }
        }
        let plan = bind(plan, values, &used)
            .map_err(|e| self.planning_error(&format!("query {}", q.meta.name), e))?;
        self.check_lake(&plan, &q.text, &q.meta.optional_columns)?;
        Ok(DataFrame::new(state, plan))
    }

    /// Print a front-end's notices (an ignored KQL `render`) on stderr, unless quiet.
    fn say(&self, notices: &[String]) {
        if !self.quiet {
            for n in notices {
                eprintln!("nethunt: note: KQL {n}");
            }
        }
    }

    /// A clear error when `query` reads a table that is not registered.
    pub fn require_tables(&self, query: &Query) -> Result<()> {
        let text = &query.text;
        if self.lake.is_none() && text.contains(SESSIONS) {
            return Err(Error::Config(format!(
                "query {} reads {SESSIONS}: give --data PATH",
                query.meta.name,
            )));
        }
        if self.domain_rows.is_none() && text.contains(DOMAINS) {
            return Err(Error::Config(format!(
                "query {} reads {DOMAINS}: give --domains PATH",
                query.meta.name,
            )));
        }
        Ok(())
    }

    /// Check the lake columns a plan refers to, in every file of the lake.
    /// Check the lake columns a plan reads, in every file of the lake: those the plan refers
    /// to that the query's text names (a `*` or a view's own projection names none), except the
    /// query's optional ones.
    fn check_lake(&self, plan: &LogicalPlan, text: &str, optional: &[String]) -> Result<()> {
        let Some(lake) = &self.lake else {
            return Ok(());
        };
        let code: String = text
            .lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let names = |c: &str| {
            code.match_indices(c).any(|(i, _)| {
                let before = code[..i].chars().next_back();
                let after = code[i + c.len()..].chars().next();
                let word =
                    |ch: Option<char>| ch.is_some_and(|ch| ch.is_alphanumeric() || ch == '_');
                !word(before) && !word(after)
            })
        };
        let cols: Vec<String> = lake::referenced_columns(plan)
            .into_iter()
            .filter(|c| !optional.contains(c) && names(c))
            .filter(|c| {
                lake.files
                    .iter()
                    .any(|f| f.schema.field_with_name(c).is_ok())
            })
            .collect();
        lake.check_columns(&cols)
    }

    /// While a query with optional columns is planned: `NetworkSessions` with those the lake
    /// lacks altogether as NULL columns (restored when the guard drops). `None`: nothing to add.
    async fn optional_columns(&self, optional: &[String]) -> Result<Option<Restore>> {
        let Some(lake) = &self.lake else {
            return Ok(None);
        };
        if lake.parsed {
            return Ok(None);
        }
        let original = self
            .ctx
            .table_provider(datafusion::common::TableReference::bare(SESSIONS))
            .await
            .map_err(|e| Error::datafusion(SESSIONS, e))?;
        let have = original.schema();
        let absent: Vec<&String> = optional
            .iter()
            .filter(|c| have.field_with_name(c).is_err())
            .collect();
        if absent.is_empty() {
            return Ok(None);
        }
        use datafusion::logical_expr::{LogicalPlanBuilder, ident, lit};
        let mut exprs: Vec<datafusion::logical_expr::Expr> =
            have.fields().iter().map(|f| ident(f.name())).collect();
        for c in absent {
            let t = crate::schema::read_type(crate::schema::field(c, true).data_type());
            let null = ScalarValue::try_from(&t).map_err(|e| Error::datafusion(SESSIONS, e))?;
            exprs.push(lit(null).alias(c.as_str()));
        }
        let plan = LogicalPlanBuilder::scan(
            SESSIONS,
            datafusion::datasource::provider_as_source(original.clone()),
            None,
        )
        .and_then(|b| b.project(exprs))
        .and_then(|b| b.build())
        .map_err(|e| Error::datafusion(SESSIONS, e))?;
        let name = datafusion::common::TableReference::bare(SESSIONS);
        self.ctx
            .deregister_table(name.clone())
            .map_err(|e| Error::datafusion(SESSIONS, e))?;
        let restore = Restore {
            ctx: self.ctx.clone(),
            original: Some(original),
        };
        self.ctx
            .register_table(
                name,
                std::sync::Arc::new(datafusion::datasource::ViewTable::new(plan, None)),
            )
            .map_err(|e| Error::datafusion(SESSIONS, e))?;
        Ok(Some(restore))
    }

    /// Plan every statement of ad-hoc SQL; see [`Engine::plan_text`].
    pub async fn plan_sql(
        &self,
        sql: &str,
        params: &[(String, ScalarValue)],
    ) -> Result<Vec<DataFrame>> {
        self.plan_text(Language::Sql, sql, params).await
    }

    /// Plan every statement of ad-hoc `text` in `language` (DDL such as CREATE VIEW runs as it is
    /// planned, so later statements see it). `params` bind `$name` placeholders; unknown names
    /// are an error.
    pub async fn plan_text(
        &self,
        language: Language,
        text: &str,
        params: &[(String, ScalarValue)],
    ) -> Result<Vec<DataFrame>> {
        let what = language.name().to_ascii_uppercase();
        let what = what.as_str();
        let statements = language::parse(language, text).map_err(|e| Error::datafusion(what, e))?;
        if statements.is_empty() {
            return Err(Error::Config(format!("no {what} statement given")));
        }
        let mut used_names = Vec::new();
        let mut out = Vec::new();
        let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
        for statement in statements {
            let statement = statement.with_context(names.clone(), Vec::new());
            let is_query = statement.is_query();
            let (plan, notices) = statement
                .plan(&self.ctx.state())
                .await
                .map_err(|e| self.planning_error(what, e))?;
            let plan = self.at_now(plan)?;
            self.say(&notices);
            let used = plan
                .get_parameter_types()
                .map_err(|e| Error::datafusion(what, e))?;
            for name in used.keys() {
                let bare = name.trim_start_matches('$');
                if !params.iter().any(|(n, _)| n == bare) {
                    return Err(Error::param(
                        bare,
                        format!("the {what} uses {name} but no --param {bare}=VALUE was given"),
                    ));
                }
                used_names.push(bare.to_string());
            }
            let values: Vec<(String, ScalarValue)> = params
                .iter()
                .filter(|(n, _)| used.contains_key(&format!("${n}")))
                .cloned()
                .collect();
            let plan = bind(plan, values, &used).map_err(|e| Error::datafusion(what, e))?;
            if is_query {
                self.check_lake(&plan, text, &[])?;
            }
            let df = self
                .ctx
                .execute_logical_plan(plan)
                .await
                .map_err(|e| Error::datafusion(what, e))?;
            out.push(df);
        }
        if let Some((n, _)) = params.iter().find(|(n, _)| !used_names.contains(n)) {
            return Err(Error::param(
                n,
                format!("no ${n} placeholder in the {what}"),
            ));
        }
        Ok(out)
    }
}

/// Puts the registered `NetworkSessions` back when dropped.
struct Restore {
    ctx: SessionContext,
    original: Option<std::sync::Arc<dyn datafusion::catalog::TableProvider>>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(p) = self.original.take() {
            let name = datafusion::common::TableReference::bare(SESSIONS);
            let _ = self.ctx.deregister_table(name.clone());
            let _ = self.ctx.register_table(name, p);
        }
    }
}

/// Bind a query's parameters, with the window's bounds (`--from`/`--to`) as the values of its
/// `$start`/`$end` (when it declares them as timestamps and they are not given with -p), and a
/// given `$start`/`$end` (not a default) narrowing the window in turn, so that either way whole partitions are
/// skipped.
pub fn bind_window(
    query: &Query,
    assignments: &[(String, String)],
    window: &mut TimeWindow,
) -> Result<Vec<(String, ScalarValue)>> {
    let declares = |n: &str| {
        query
            .meta
            .params
            .iter()
            .any(|p| p.name == n && p.ty == ParamType::Timestamp)
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
    // Only a bound that was given narrows the window: a declared default (an open window such
    // as 1970-01-01..2200-01-01) is no reason to walk time folders.
    let instant = |n: &str| {
        values.iter().find_map(|(k, v)| match v {
            ScalarValue::TimestampMicrosecond(Some(us), _)
                if k == n && declares(n) && assignments.iter().any(|(a, _)| a == n) =>
            {
                Some(*us)
            }
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

/// Bind values to a plan's placeholders, casting each to the type DataFusion inferred for it (if
/// any), so `x > $n` with an Int32 `x` takes an Int64 default.
fn bind(
    plan: LogicalPlan,
    values: Vec<(String, ScalarValue)>,
    inferred: &HashMap<String, Option<arrow::datatypes::DataType>>,
) -> std::result::Result<LogicalPlan, DataFusionError> {
    if inferred.is_empty() {
        return Ok(plan);
    }
    let mut map = HashMap::new();
    for (name, value) in values {
        let value = match inferred.get(&format!("${name}")) {
            Some(Some(dt)) if &value.data_type() != dt => value.cast_to(dt)?,
            _ => value,
        };
        map.insert(name, value);
    }
    plan.with_param_values(ParamValues::from(map))
}
