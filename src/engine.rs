//! The engine: one `SessionContext` with nethunt's functions and tables, and the planning of
//! library queries (placeholder checks, typed binding, column checks) and ad-hoc SQL.

use std::collections::HashMap;
use std::path::PathBuf;

use datafusion::common::{ParamValues, ScalarValue, SchemaError};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement};

use crate::error::{Error, Result, one_line};
use crate::queries::Query;
use crate::tables::{self, Lake};

/// Where the bundled sample data lives (the checkout's `data/` folder).
pub fn bundled_data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}
pub fn bundled_lake() -> PathBuf {
    bundled_data_dir().join("lake")
}
pub fn bundled_domains() -> PathBuf {
    bundled_data_dir().join("top1m-sample.csv")
}

/// Where queries run when not in this process: `--cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterTarget {
    /// An in-process Ballista scheduler and executor (testing the distributed plan on one machine).
    Standalone,
    /// A `nethunt cluster scheduler` at HOST:PORT.
    Remote { host: String, port: u16 },
}

impl ClusterTarget {
    /// Ballista's default scheduler port.
    pub const DEFAULT_PORT: u16 = 50050;

    /// `standalone`, or `df://HOST[:PORT]` (the port defaults to 50050).
    pub fn parse(text: &str) -> std::result::Result<ClusterTarget, String> {
        if text == "standalone" {
            return Ok(ClusterTarget::Standalone);
        }
        let rest = text
            .strip_prefix("df://")
            .ok_or("expected df://HOST:PORT or standalone")?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("port '{p}' is not a number from 1 to 65535"))?,
            ),
            _ => (rest, Self::DEFAULT_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
            return Err(format!("'{host}' is not a host name"));
        }
        Ok(ClusterTarget::Remote {
            host: host.to_string(),
            port,
        })
    }

    /// Why a local path cannot be used on this (remote) cluster, and what to give `instead`.
    pub fn cannot_read(&self, instead: &str) -> String {
        format!(
            "the executors of the cluster at {self} cannot read this machine's files; give \
             {instead}, or --shared-fs when every executor mounts the path at the same place"
        )
    }

    /// Whether the executors share this machine's file system: standalone, or a scheduler on a
    /// loopback address.
    pub fn is_local(&self) -> bool {
        match self {
            ClusterTarget::Standalone => true,
            ClusterTarget::Remote { host, .. } => {
                host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        }
    }
}

impl std::fmt::Display for ClusterTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterTarget::Standalone => write!(f, "standalone"),
            ClusterTarget::Remote { host, port } if host.contains(':') => {
                write!(f, "df://[{host}]:{port}")
            }
            ClusterTarget::Remote { host, port } => write!(f, "df://{host}:{port}"),
        }
    }
}

/// What to register and how to run.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// `NetworkSessions` source; `None` means the bundled sample lake (skipped if absent).
    pub data: Option<String>,
    /// `top1m` source; `None` means the bundled sample list (skipped if absent).
    pub domains: Option<String>,
    /// Extra `--table NAME=PATH` registrations.
    pub tables: Vec<(String, String)>,
    /// Worker threads / partitions; `None` = number of cores.
    pub target_partitions: Option<usize>,
    /// Memory budget of the query in bytes; past it sorts and aggregations spill to disk.
    pub memory_limit: Option<usize>,
    /// How the budget is shared between operators.
    pub mem_pool_type: MemPoolType,
    /// Rows per batch; `None` = DataFusion's default (8192).
    pub batch_size: Option<usize>,
    /// How object stores are reached.
    pub store: crate::store::StoreOptions,
    /// `--from` / `--to`: the part of the lake `NetworkSessions` shows.
    pub window: tables::TimeWindow,
    /// `--cluster`: run on Ballista instead of in this process.
    pub cluster: Option<ClusterTarget>,
    /// `--shared-fs`: a remote cluster's executors see local paths as they are here.
    pub shared_fs: bool,
    /// `--query-timeout`: how long one query may run.
    pub query_timeout: Option<std::time::Duration>,
}

/// Session settings every nethunt context uses (also the `.slt` harness).
pub fn session_config(target_partitions: Option<usize>) -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        // ASIM names are CamelCase: keep unquoted identifiers as written.
        .set_bool("datafusion.sql_parser.enable_ident_normalization", false);
    if let Some(n) = target_partitions {
        config = config.with_target_partitions(n.max(1));
    }
    config
}

/// How a `--memory-limit` budget is shared between the operators of a query.
///
/// The built-in queries are chains of blocking operators (aggregate, then sort, then window,
/// then sort) that hold memory one after another. DataFusion's fair pool gives each spilling
/// operator of the plan an equal share from the start, idle ones included, so at 100M rows the
/// per-hostname aggregation of uncommon_domains got a fraction of the budget and spilled; with
/// the greedy pool it ran 15% faster under the same 1 GiB (17.5 and 19.5 s against 21.4 and
/// 22.7 s). Both completed at 768M and both failed cleanly at 512M, so greedy is the default,
/// as in datafusion-cli.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MemPoolType {
    #[default]
    Greedy,
    Fair,
}

/// A context for `opts`: settings, memory budget (a spilling pool over the OS temp folder) and
/// nethunt's functions.
pub fn context_for(opts: &EngineOptions) -> Result<SessionContext> {
    let mut config = session_config(opts.target_partitions);
    if let Some(b) = opts.batch_size {
        config = config.with_batch_size(b);
    }
    let mut rt = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_object_store_registry(std::sync::Arc::new(crate::store::StoreRegistry::new(
            opts.store.clone(),
        )));
    if let Some(limit) = opts.memory_limit {
        use datafusion::execution::memory_pool::{FairSpillPool, GreedyMemoryPool, MemoryPool};
        let pool: std::sync::Arc<dyn MemoryPool> = match opts.mem_pool_type {
            MemPoolType::Greedy => std::sync::Arc::new(GreedyMemoryPool::new(limit)),
            MemPoolType::Fair => std::sync::Arc::new(FairSpillPool::new(limit)),
        };
        rt = rt.with_memory_pool(pool);
    }
    let rt = rt
        .build_arc()
        .map_err(|e| Error::datafusion("runtime", e))?;
    let ctx = SessionContext::new_with_config_rt(config, rt);
    nethunt_udfs::register_all(&ctx);
    Ok(ctx)
}

pub struct Engine {
    pub ctx: SessionContext,
    pub lake: Option<Lake>,
    pub domain_rows: Option<usize>,
    /// Where queries run when not here (`--cluster`).
    pub cluster: Option<ClusterTarget>,
    /// How long one query may run (`--query-timeout`).
    pub query_timeout: Option<std::time::Duration>,
    /// Files written for the cluster's executors to read (a CSV domain list as Parquet); removed
    /// when the engine is dropped.
    _stage: Option<tempfile::TempDir>,
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
            _stage: None,
        }
    }

    pub async fn new(opts: &EngineOptions) -> Result<Engine> {
        let ctx = context_for(opts)?;
        let ctx = match &opts.cluster {
            Some(target) => cluster_context(ctx, target).await?,
            None => ctx,
        };
        let data = match &opts.data {
            Some(d) => Some(d.clone()),
            None => {
                let d = bundled_lake();
                d.exists().then(|| d.display().to_string())
            }
        };
        let lake = match data {
            Some(d) => {
                let lake = tables::register_sessions(&ctx, &d).await?;
                tables::apply_window(&ctx, &lake, opts.window).await?;
                Some(lake)
            }
            None => None,
        };
        let domains = match &opts.domains {
            Some(d) => Some(d.clone()),
            None => {
                let d = bundled_domains();
                d.exists().then(|| d.display().to_string())
            }
        };
        let mut stage = None;
        let domain_rows = match (domains, &opts.cluster) {
            (Some(d), None) => Some(tables::register_domains(&ctx, &d).await?),
            (Some(d), Some(target))
                if !target.is_local() && !opts.shared_fs && !crate::store::is_url(&d) =>
            {
                return Err(Error::table(
                    tables::DOMAINS,
                    &d,
                    target.cannot_read("--domains as the URL of a Parquet list (s3://...)"),
                ));
            }
            (Some(d), Some(target)) => {
                // Executors on this machine can read a staged copy; others cannot.
                if target.is_local() {
                    stage = Some(
                        tempfile::Builder::new()
                            .prefix("nethunt-stage-")
                            .tempdir()
                            .map_err(|e| {
                                Error::table(tables::DOMAINS, &d, format!("staging folder: {e}"))
                            })?,
                    );
                }
                let dir = stage.as_ref().map(|t| t.path());
                Some(tables::register_domains_for_cluster(&ctx, &d, dir).await?)
            }
            (None, _) => None,
        };
        for (name, path) in &opts.tables {
            tables::register_extra(&ctx, name, path).await?;
        }
        Ok(Engine {
            ctx,
            lake,
            domain_rows,
            cluster: opts.cluster.clone(),
            query_timeout: opts.query_timeout,
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
            && tables::asim_family(&field.name).is_some()
            && !lake
                .files
                .iter()
                .any(|f| f.schema.field_with_name(&field.name).is_ok())
        {
            return Error::table(
                tables::SESSIONS,
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
        let mut statements = DFParser::parse_sql(&q.text).map_err(|e| qerr(None, one_line(&e)))?;
        if statements.len() != 1 {
            return Err(qerr(
                None,
                format!(
                    "a query file holds exactly one statement, found {}",
                    statements.len()
                ),
            ));
        }
        let statement = statements.pop_front().expect("one");
        // The query's own [settings] apply to a copy of the session state, for this query only.
        let mut state = self.ctx.state();
        for (k, v) in &q.meta.settings {
            state
                .config_mut()
                .options_mut()
                .set(k, v)
                .map_err(|e| qerr(None, format!("setting {k} = {v}: {}", one_line(&e))))?;
        }
        let plan = state
            .statement_to_plan(statement)
            .await
            .map_err(|e| self.planning_error(&format!("query {}", q.meta.name), e))?;
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
        self.check_lake(&plan)?;
        Ok(DataFrame::new(state, plan))
    }

    /// Check the lake columns a plan refers to, in every file of the lake.
    fn check_lake(&self, plan: &LogicalPlan) -> Result<()> {
        let Some(lake) = &self.lake else {
            return Ok(());
        };
        // Names the plan refers to that are columns of the lake (aliases of the same name are
        // checked too: harmless, they come from the lake).
        let cols: Vec<String> = tables::referenced_columns(plan)
            .into_iter()
            .filter(|c| {
                lake.files
                    .iter()
                    .any(|f| f.schema.field_with_name(c).is_ok())
            })
            .collect();
        lake.check_columns(&cols)
    }

    /// Plan every statement of ad-hoc SQL (DDL such as CREATE VIEW runs as it is planned, so later
    /// statements see it). `params` bind `$name` placeholders; unknown names are an error.
    pub async fn plan_sql(
        &self,
        sql: &str,
        params: &[(String, ScalarValue)],
    ) -> Result<Vec<DataFrame>> {
        let statements = DFParser::parse_sql(sql).map_err(|e| Error::datafusion("SQL", e))?;
        if statements.is_empty() {
            return Err(Error::Config("no SQL statement given".into()));
        }
        let mut used_names = Vec::new();
        let mut out = Vec::new();
        for statement in statements {
            let is_query = matches!(&statement, Statement::Statement(s) if matches!(**s, datafusion::sql::sqlparser::ast::Statement::Query(_)));
            let plan = self
                .ctx
                .state()
                .statement_to_plan(statement)
                .await
                .map_err(|e| self.planning_error("SQL", e))?;
            let used = plan
                .get_parameter_types()
                .map_err(|e| Error::datafusion("SQL", e))?;
            for name in used.keys() {
                let bare = name.trim_start_matches('$');
                if !params.iter().any(|(n, _)| n == bare) {
                    return Err(Error::param(
                        bare,
                        format!("the SQL uses {name} but no --param {bare}=VALUE was given"),
                    ));
                }
                used_names.push(bare.to_string());
            }
            let values: Vec<(String, ScalarValue)> = params
                .iter()
                .filter(|(n, _)| used.contains_key(&format!("${n}")))
                .cloned()
                .collect();
            let plan = bind(plan, values, &used).map_err(|e| Error::datafusion("SQL", e))?;
            if is_query {
                self.check_lake(&plan)?;
            }
            let df = self
                .ctx
                .execute_logical_plan(plan)
                .await
                .map_err(|e| Error::datafusion("SQL", e))?;
            out.push(df);
        }
        if let Some((n, _)) = params.iter().find(|(n, _)| !used_names.contains(n)) {
            return Err(Error::param(n, format!("no ${n} placeholder in the SQL")));
        }
        Ok(out)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_targets() {
        let remote = |h: &str, p: u16| ClusterTarget::Remote {
            host: h.to_string(),
            port: p,
        };
        assert_eq!(
            ClusterTarget::parse("standalone"),
            Ok(ClusterTarget::Standalone)
        );
        assert_eq!(
            ClusterTarget::parse("df://127.0.0.1:50050"),
            Ok(remote("127.0.0.1", 50050))
        );
        assert_eq!(
            ClusterTarget::parse("df://sched"),
            Ok(remote("sched", 50050))
        );
        assert_eq!(ClusterTarget::parse("df://[::1]:7/"), Ok(remote("::1", 7)));
        for bad in [
            "http://h:1",
            "df://",
            "df://h:0",
            "df://h:x",
            "df://u@h:1",
            "sched:1",
        ] {
            assert!(ClusterTarget::parse(bad).is_err(), "{bad}");
        }
        assert!(ClusterTarget::Standalone.is_local());
        for local in ["localhost", "127.0.0.1", "127.8.9.10", "::1"] {
            assert!(remote(local, 1).is_local(), "{local}");
        }
        for far in ["10.0.0.1", "sched.example", "192.0.2.1"] {
            assert!(!remote(far, 1).is_local(), "{far}");
        }
        assert_eq!(remote("::1", 7).to_string(), "df://[::1]:7");
        assert_eq!(remote("h", 9).to_string(), "df://h:9");
    }
}
