//! KQL syntax trees to DataFusion `LogicalPlan`s, through `LogicalPlanBuilder` and DataFusion
//! expressions (never through SQL text), with Kusto's semantics:
//!
//! - strings are never NULL: a string column read from a table is `coalesce(c, '')` wherever
//!   NULL and `''` could differ (group keys, projections, joins, comparisons that keep a row on
//!   NULL); in a `where` test that only keeps rows on a match (`c == "x"`, `c has "x"`), NULL
//!   and `''` are both dropped, so the column is compared as it is and the scan can still prune;
//! - a null compared with a value is two-valued: `null == 5` is false, `null != 5` true, so
//!   `null !in (1, 2)` is true;
//! - `sum` of nothing is 0; `dcount` is exact (Kusto's is exact below its accuracy threshold);
//! - `sort` is descending by default, NULLs last when descending and first when ascending;
//! - `bin` counts from the epoch; `join` is `innerunique` by default (one left row per key);
//! - the right side's columns that clash with the left's are renamed `name1`, `name2`, ...
//!
//! Every error names the line and column of the construct.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::{Column, DFSchema, JoinType, ScalarValue, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::{AggregateFunction, ScalarFunction, WindowFunction};
use datafusion::logical_expr::{
    ExprFunctionExt, ExprSchemable, LogicalPlan, LogicalPlanBuilder, SortExpr, Subquery, TryCast,
    WindowFunctionDefinition, cast, lit,
};
use datafusion::prelude::{Expr as DfExpr, coalesce, concat, nullif};

use crate::ast::{self, JoinOn, Lit, NamedExpr, Op, Script, Source, Tabular};
use crate::error::{KqlError, Pos};

/// What the planner needs to know beyond the session: query parameters (`$name` in the
/// engine) and where `externaldata` URLs resolve to.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Names of parameters: an identifier that is no column and no `let` becomes `$name`.
    pub params: Vec<String>,
    /// `externaldata` URLs (compared without the scheme) and the registered table that holds
    /// their rows.
    pub external: Vec<(String, String)>,
    /// The table the ASIM parser names (`_Im_NetworkSession`, ...) read.
    pub sessions: String,
    /// The columns the ASIM parser promises (the NetworkSession schema), with their types: those
    /// the table lacks are NULL, as in Sentinel, where a source without a field leaves it empty.
    pub sessions_columns: Vec<(String, DataType)>,
}

/// A plan and what it says to the user (operators ignored, such as `render`).
pub struct Planned {
    pub plan: LogicalPlan,
    pub notices: Vec<String>,
}

/// Names the ASIM NetworkSession parsers go by.
const ASIM_NAMES: &[&str] = &[
    "_Im_NetworkSession",
    "_ASim_NetworkSession",
    "imNetworkSession",
    "ASimNetworkSessionLogs",
    "_Im_NetworkSession_Empty",
];

/// KQL's datetime: microseconds, UTC.
fn utc_datetime() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The columns the ASIM parser computes (its aliases and `EventSchema`; see `asim_columns`).
const ASIM_COMPUTED: &[&str] = &[
    "Dvc",
    "Src",
    "Dst",
    "Hostname",
    "IpAddr",
    "Rule",
    "Duration",
    "SessionId",
    "User",
    "EventSchema",
];

type R<T> = Result<T, KqlError>;

/// Plan a parsed script against the tables and functions of `state`.
pub async fn plan(script: &Script, state: &SessionState, opts: &PlanOptions) -> R<Planned> {
    let mut p = Planner {
        state,
        opts,
        scopes: vec![HashMap::new()],
        notices: Vec::new(),
    };
    for l in &script.lets {
        p.bind_let(l).await?;
    }
    let Some(body) = &script.body else {
        return Err(KqlError::plan(
            None,
            "the query has no tabular expression to run (only let statements)",
        ));
    };
    let rel = p.tabular(body).await?;
    // Output: strings never NULL.
    let rel = p.clean_all(rel)?;
    Ok(Planned {
        plan: rel.plan,
        notices: p.notices,
    })
}

#[derive(Clone)]
struct Rel {
    plan: LogicalPlan,
    /// String columns read from a table as they are (NULL possible).
    raw: HashSet<String>,
    /// Columns on which rows are unique, when known (after summarize/distinct).
    unique_on: Option<Vec<String>>,
    /// The order of the rows, when a sort made one (for serialize, prev, next).
    order: Option<Vec<SortExpr>>,
    /// Set by a `summarize` of plain aggregates by plain columns, and by nothing else: what a
    /// join of this summary back to its own input can be planned as (a window over the input).
    summary: Option<Box<Summary>>,
    /// Columns an `extend` computed from other columns alone (deterministically): name →
    /// expression. Kept through filters and sorts, which keep columns and values.
    derived: HashMap<String, DfExpr>,
}

/// `P | summarize a = f(x), ... by k, ...`: P, its raw columns, the keys, and each aggregate
/// as (output name, aggregate function, arguments, the value of an empty sum).
#[derive(Clone)]
struct Summary {
    input: LogicalPlan,
    raw: HashSet<String>,
    keys: Vec<String>,
    aggs: Vec<(String, String, Vec<DfExpr>, Option<ScalarValue>)>,
}

impl Rel {
    fn new(plan: LogicalPlan) -> Rel {
        Rel {
            plan,
            raw: HashSet::new(),
            unique_on: None,
            order: None,
            summary: None,
            derived: HashMap::new(),
        }
    }
    fn names(&self) -> Vec<String> {
        self.plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }
    fn has(&self, name: &str) -> bool {
        self.plan.schema().fields().iter().any(|f| f.name() == name)
    }
    fn schema(&self) -> &DFSchema {
        self.plan.schema()
    }
}

#[derive(Clone)]
enum Binding {
    Scalar(ast::Expr),
    /// A scalar already planned (a parameter of an inlined function).
    Planned(DfExpr),
    Tab(Box<Rel>),
    Function(Vec<ast::Param>, Box<Script>),
}

struct Planner<'a> {
    state: &'a SessionState,
    opts: &'a PlanOptions,
    scopes: Vec<HashMap<String, Binding>>,
    notices: Vec<String>,
}

/// How the value of an expression is used: `Keep` where a NULL result and `false` are the same
/// (a `where` test, the operands of `and`/`or` inside it).
#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Value,
    Keep,
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View)
}

/// KQL's `dynamic` (a bag, an array of mixed values, a parsed JSON value) travels as its JSON
/// text in a LargeUtf8 column; nethunt's strings are never LargeUtf8.
fn is_dynamic(t: &DataType) -> bool {
    matches!(t, DataType::LargeUtf8)
}

/// A constant KQL value as JSON (a `dynamic` literal); `None` if it is not constant.
fn ast_json(e: &ast::Expr) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    Some(match e {
        ast::Expr::Lit(l, _) => match l {
            Lit::Null | Lit::TypedNull(_) => J::Null,
            Lit::Bool(b) => J::Bool(*b),
            Lit::Int(i) => J::from(*i),
            Lit::Real(r) => J::Number(serde_json::Number::from_f64(*r)?),
            Lit::Str(s) => J::String(s.clone()),
            // Kusto's form: seven fraction digits
            Lit::DateTime(us) => J::String(format!(
                "{}.{:07}Z",
                chrono::DateTime::from_timestamp_micros(*us)?.format("%Y-%m-%dT%H:%M:%S"),
                us.rem_euclid(1_000_000) * 10
            )),
            Lit::Span(_) => return None,
        },
        ast::Expr::Neg(x, _) => match ast_json(x)? {
            J::Number(n) if n.is_i64() => J::from(-n.as_i64()?),
            J::Number(n) => J::Number(serde_json::Number::from_f64(-n.as_f64()?)?),
            _ => return None,
        },
        ast::Expr::Array(items, _) => J::Array(items.iter().map(ast_json).collect::<Option<_>>()?),
        ast::Expr::Bag(members, _) => J::Object(
            members
                .iter()
                .map(|(k, v)| Some((k.clone(), ast_json(v)?)))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// Whether an array literal must be `dynamic` JSON rather than a DataFusion list: it holds a
/// bag or an array, or values of more than one kind (`[1, 2, "four"]`).
fn needs_json(items: &[ast::Expr]) -> bool {
    let mut kinds = HashSet::new();
    for i in items {
        let k = match i {
            ast::Expr::Bag(..) | ast::Expr::Array(..) => return true,
            ast::Expr::Lit(Lit::Str(_), _) => "string",
            ast::Expr::Lit(Lit::Int(_) | Lit::Real(_), _) | ast::Expr::Neg(..) => "number",
            ast::Expr::Lit(Lit::Bool(_), _) => "bool",
            ast::Expr::Lit(Lit::DateTime(_), _) => "datetime",
            _ => continue,
        };
        kinds.insert(k);
    }
    kinds.len() > 1
}

fn json_lit(v: &serde_json::Value) -> DfExpr {
    lit(ScalarValue::LargeUtf8(if v.is_null() {
        None
    } else {
        Some(v.to_string())
    }))
}

fn span_lit(nanos: i64) -> DfExpr {
    lit(ScalarValue::IntervalMonthDayNano(Some(
        IntervalMonthDayNano::new(0, 0, nanos),
    )))
}

fn ts_lit(us: i64) -> DfExpr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(us),
        Some("UTC".into()),
    ))
}

fn ucol(name: &str) -> DfExpr {
    DfExpr::Column(Column::new_unqualified(name))
}

fn qcol(q: &str, name: &str) -> DfExpr {
    DfExpr::Column(Column::new(Some(TableReference::bare(q)), name))
}

fn df(pos: Option<Pos>, e: datafusion::error::DataFusionError) -> KqlError {
    let msg = e.to_string();
    let msg = msg.lines().next().unwrap_or("").to_string();
    KqlError::plan(pos, msg)
}

/// A name in a clash: `name1`, `name2`, ... the first one not taken.
fn fresh(name: &str, taken: &HashSet<String>) -> String {
    (1..)
        .map(|i| format!("{name}{i}"))
        .find(|n| !taken.contains(n))
        .expect("unbounded")
}

/// `*` and `prefix*`-style patterns of project-away and friends.
fn matches_pattern(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == name;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(k) = rest.find(part) {
            rest = &rest[k + part.len()..];
        } else {
            return false;
        }
    }
    true
}

impl<'a> Planner<'a> {
    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    fn bind(&mut self, name: &str, b: Binding) {
        self.scopes
            .last_mut()
            .expect("a scope")
            .insert(name.to_string(), b);
    }

    async fn bind_let(&mut self, l: &ast::Let) -> R<()> {
        match l {
            ast::Let::Scalar { name, expr, .. } => {
                // `let x = T;` names a table when T is one.
                if let ast::Expr::Col(n, p) = expr
                    && (matches!(self.lookup(n), Some(Binding::Tab(_)))
                        || self.table_exists(n).await)
                {
                    let rel = self.source(&Source::Name(n.clone(), *p)).await?;
                    self.bind(name, Binding::Tab(Box::new(rel)));
                } else if let ast::Expr::Call { name: f, args, pos } = expr
                    && (matches!(self.lookup(f), Some(Binding::Function(..)))
                        && self.function_is_tabular(f)
                        || ASIM_NAMES.contains(&f.as_str())
                        || f == "materialize")
                {
                    let rel = self
                        .source(&Source::Call {
                            name: f.clone(),
                            args: args.clone(),
                            pos: *pos,
                        })
                        .await?;
                    self.bind(name, Binding::Tab(Box::new(rel)));
                } else {
                    self.bind(name, Binding::Scalar(expr.clone()));
                }
            }
            ast::Let::Tabular { name, tab, .. } => {
                let rel = Box::pin(self.tabular(tab)).await?;
                self.bind(name, Binding::Tab(Box::new(rel)));
            }
            ast::Let::Function {
                name, params, body, ..
            } => {
                self.bind(name, Binding::Function(params.clone(), body.clone()));
            }
        }
        Ok(())
    }

    fn function_is_tabular(&self, name: &str) -> bool {
        matches!(self.lookup(name), Some(Binding::Function(_, body)) if body.body.is_some())
    }

    async fn table_exists(&self, name: &str) -> bool {
        ASIM_NAMES.contains(&name)
            || name == "NetworkSessions"
            || self.provider(name).await.is_some()
    }

    async fn provider(&self, name: &str) -> Option<Arc<dyn TableProvider>> {
        let r = TableReference::bare(name);
        let schema = self.state.schema_for_ref(r).ok()?;
        schema.table(name).await.ok().flatten()
    }

    // -------------------------------------------------------------------------------------
    // Tabular expressions

    async fn tabular(&mut self, t: &Tabular) -> R<Rel> {
        let mut rel = Box::pin(self.source(&t.source)).await?;
        for (op, pos) in &t.ops {
            rel = Box::pin(self.operator(rel, op, *pos)).await?;
        }
        Ok(rel)
    }

    async fn scan(&mut self, table: &str, pos: Pos) -> R<Rel> {
        let provider = self
            .provider(table)
            .await
            .ok_or_else(|| KqlError::plan(Some(pos), format!("unknown table or name '{table}'")))?;
        let plan = LogicalPlanBuilder::scan(
            TableReference::bare(table),
            provider_as_source(provider),
            None,
        )
        .and_then(|b| b.build())
        .map_err(|e| df(Some(pos), e))?;
        // KQL's datetimes are UTC: a timestamp column without a zone (a CSV's) is read as UTC
        let plan = if plan
            .schema()
            .fields()
            .iter()
            .any(|f| matches!(f.data_type(), DataType::Timestamp(_, None)))
        {
            let exprs: Vec<DfExpr> = plan
                .schema()
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Timestamp(_, None) => {
                        cast(ucol(f.name()), utc_datetime()).alias(f.name().clone())
                    }
                    _ => ucol(f.name()),
                })
                .collect();
            LogicalPlanBuilder::from(plan)
                .project(exprs)
                .and_then(|b| b.build())
                .map_err(|e| df(Some(pos), e))?
        } else {
            plan
        };
        let raw = plan
            .schema()
            .fields()
            .iter()
            .filter(|f| is_string(f.data_type()))
            .map(|f| f.name().clone())
            .collect();
        Ok(Rel {
            raw,
            ..Rel::new(plan)
        })
    }

    async fn source(&mut self, s: &Source) -> R<Rel> {
        match s {
            Source::Name(n, pos) => {
                match self.lookup(n).cloned() {
                    Some(Binding::Tab(rel)) => return Ok(*rel),
                    Some(Binding::Function(params, body)) if params.is_empty() => {
                        return self.call_function(n, &params, &body, &[], *pos).await;
                    }
                    Some(Binding::Scalar(ast::Expr::Col(other, p))) if other != *n => {
                        return Box::pin(self.source(&Source::Name(other, p))).await;
                    }
                    _ => {}
                }
                if ASIM_NAMES.contains(&n.as_str()) {
                    // the parser with its parameters' defaults
                    return self.asim_parser(n, &[], *pos).await;
                }
                if n == "NetworkSessions" {
                    let t = if self.opts.sessions.is_empty() {
                        "NetworkSessions".to_string()
                    } else {
                        self.opts.sessions.clone()
                    };
                    return self.scan(&t, *pos).await;
                }
                self.scan(n, *pos).await
            }
            Source::Paren(t) => self.tabular(t).await,
            Source::Call { name, args, pos } => {
                if let Some(Binding::Function(params, body)) = self.lookup(name).cloned() {
                    return self.call_function(name, &params, &body, args, *pos).await;
                }
                if name == "materialize" || name == "view" {
                    return match args.as_slice() {
                        [ast::Expr::Tabular(t, _)] => self.tabular(t).await,
                        [ast::Expr::Col(n, p)] => {
                            Box::pin(self.source(&Source::Name(n.clone(), *p))).await
                        }
                        _ => Err(KqlError::plan(
                            Some(*pos),
                            "materialize() takes one tabular expression",
                        )),
                    };
                }
                if ASIM_NAMES.contains(&name.as_str()) {
                    return self.asim_parser(name, args, *pos).await;
                }
                if name == "_GetWatchlist" {
                    // Sentinel's watchlist: the table of that name (given with --table NAME=FILE)
                    let [ast::Expr::Lit(Lit::Str(t), p)] = args.as_slice() else {
                        return Err(KqlError::plan(
                            Some(*pos),
                            "_GetWatchlist() takes the watchlist's name as a string",
                        ));
                    };
                    if self.provider(t).await.is_none() {
                        return Err(KqlError::plan(
                            Some(*p),
                            format!(
                                "the watchlist '{t}' is not loaded: give it as a table (--table {t}=FILE)"
                            ),
                        ));
                    }
                    return self.scan(t, *p).await;
                }
                if name == "table"
                    && let [ast::Expr::Lit(Lit::Str(t), p)] = args.as_slice()
                {
                    return Box::pin(self.source(&Source::Name(t.clone(), *p))).await;
                }
                Err(KqlError::unsupported(
                    Some(*pos),
                    format!("the tabular function {name}()"),
                ))
            }
            Source::Datatable {
                columns,
                values,
                pos,
            } => self.datatable(columns, values, *pos),
            Source::Print(items) => {
                let base = Rel::new(
                    LogicalPlanBuilder::empty(true)
                        .build()
                        .map_err(|e| df(None, e))?,
                );
                let mut exprs = Vec::new();
                let mut taken = HashSet::new();
                for (i, ne) in items.iter().enumerate() {
                    let e = self.expr(&base, &ne.expr, Ctx::Value).await?;
                    let name = ne
                        .names
                        .first()
                        .cloned()
                        .unwrap_or_else(|| format!("print_{i}"));
                    if !taken.insert(name.clone()) {
                        return Err(KqlError::plan(
                            Some(ne.expr.pos()),
                            format!("column '{name}' is given twice"),
                        ));
                    }
                    exprs.push(e.alias(name));
                }
                self.project_rel(base, exprs, None)
            }
            Source::Range {
                name,
                from,
                to,
                step,
                pos,
            } => {
                let base = Rel::new(
                    LogicalPlanBuilder::empty(true)
                        .build()
                        .map_err(|e| df(None, e))?,
                );
                let a = self.expr(&base, from, Ctx::Value).await?;
                let b = self.expr(&base, to, Ctx::Value).await?;
                let s = self.expr(&base, step, Ctx::Value).await?;
                let series = self.call_fn("generate_series", vec![a, b, s], *pos)?;
                let rel = self.project_rel(base, vec![series.alias("__range")], None)?;
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .unnest_column("__range")
                    .and_then(|b| b.project(vec![ucol("__range").alias(name.clone())]))
                    .and_then(|b| b.build())
                    .map_err(|e| df(Some(*pos), e))?;
                Ok(Rel::new(plan))
            }
            Source::Union { fuzzy, tables, pos } => {
                let rels = self.union_operands(tables, *fuzzy).await?;
                self.union(rels, *pos)
            }
            Source::ExternalData { columns, urls, pos } => {
                let url = urls
                    .first()
                    .ok_or_else(|| KqlError::plan(Some(*pos), "externaldata has no URL"))?;
                let strip = |u: &str| {
                    u.split_once("://")
                        .map(|(_, r)| r.to_string())
                        .unwrap_or_else(|| u.to_string())
                };
                let Some((_, table)) = self
                    .opts
                    .external
                    .iter()
                    .find(|(u, _)| strip(u) == strip(url))
                else {
                    return Err(KqlError::unsupported(
                        Some(*pos),
                        format!(
                            "externaldata from {url} (only declared reference tables can be read; declare it in the query's header as [tables.NAME] with this url)"
                        ),
                    ));
                };
                let table = table.clone();
                let rel = self.scan(&table, *pos).await?;
                let mut exprs = Vec::new();
                for (n, ty) in columns {
                    let t = kql_type(ty, *pos)?;
                    let c = if rel.has(n) {
                        ucol(n)
                    } else {
                        lit(ScalarValue::Null)
                    };
                    let e = cast(c, t.clone());
                    let e = if is_string(&t) {
                        coalesce(vec![e, lit("")])
                    } else {
                        e
                    };
                    exprs.push(e.alias(n.clone()));
                }
                self.project_rel(rel, exprs, None)
            }
        }
    }

    async fn call_function(
        &mut self,
        name: &str,
        params: &[ast::Param],
        body: &Script,
        args: &[ast::Expr],
        pos: Pos,
    ) -> R<Rel> {
        if body.body.is_none() {
            return Err(KqlError::plan(
                Some(pos),
                format!("{name}() is a scalar function, used as a table"),
            ));
        }
        let mut scope = HashMap::new();
        let base = Rel::new(
            LogicalPlanBuilder::empty(true)
                .build()
                .map_err(|e| df(None, e))?,
        );
        for (i, p) in params.iter().enumerate() {
            let arg = args.get(i).or(p.default.as_ref()).ok_or_else(|| {
                KqlError::plan(Some(pos), format!("{name}() needs a value for {}", p.name))
            })?;
            let b = match arg {
                ast::Expr::Tabular(t, _) => {
                    Binding::Tab(Box::new(Box::pin(self.tabular(t)).await?))
                }
                ast::Expr::Col(n, p2)
                    if matches!(self.lookup(n), Some(Binding::Tab(_)))
                        || self.table_exists(n).await =>
                {
                    Binding::Tab(Box::new(
                        Box::pin(self.source(&Source::Name(n.clone(), *p2))).await?,
                    ))
                }
                e => Binding::Planned(self.expr(&base, e, Ctx::Value).await?),
            };
            scope.insert(p.name.clone(), b);
        }
        self.scopes.push(scope);
        let result = async {
            for l in &body.lets {
                self.bind_let(l).await?;
            }
            self.tabular(body.body.as_ref().expect("checked")).await
        };
        let r = Box::pin(result).await;
        self.scopes.pop();
        r
    }

    /// A union's operands. With `isfuzzy=true` one that cannot be planned (a table the
    /// workspace lacks, a column it has not) is left out, with a notice, as Kusto warns.
    async fn union_operands(&mut self, tables: &[Tabular], fuzzy: bool) -> R<Vec<Rel>> {
        let mut rels = Vec::new();
        for t in tables {
            match Box::pin(self.tabular(t)).await {
                Ok(r) => rels.push(r),
                Err(e) if fuzzy => self
                    .notices
                    .push(format!("union isfuzzy=true: an operand is left out ({e})")),
                Err(e) => return Err(e),
            }
        }
        Ok(rels)
    }

    /// `_Im_NetworkSession(starttime=..., endtime=..., ...)`: the sessions, filtered as the ASIM
    /// parser's parameters say, with the two columns the parser adds: `ASimMatchingIpAddr` ("-"
    /// when no address prefix was given, else "SrcIpAddr", "DstIpAddr" or "Both") and
    /// `ASimMatchingHostname` ("" when no hostname was given, else "SrcHostname" or
    /// "DstHostname"). A parameter left at its default (a NULL time or port, `'*'` for
    /// eventresult, an empty list) filters nothing, as in the parser.
    async fn asim_parser(&mut self, name: &str, args: &[ast::Expr], pos: Pos) -> R<Rel> {
        let t = if self.opts.sessions.is_empty() {
            "NetworkSessions".to_string()
        } else {
            self.opts.sessions.clone()
        };
        let scanned = self.scan(&t, pos).await?;
        let mut rel = self.asim_columns(scanned, &t, pos)?;
        let mut preds = Vec::new();
        // the address prefixes (src, dst, either) and hostnames, each a list of texts
        let mut lists: HashMap<&str, Vec<DfExpr>> = HashMap::new();
        for a in args {
            let ast::Expr::NamedArg(k, v, apos) = a else {
                return Err(KqlError::plan(
                    Some(a.pos()),
                    format!("{name}() takes named parameters (starttime=..., ...)"),
                ));
            };
            let key = k.to_ascii_lowercase();
            let list_key = match key.as_str() {
                "srcipaddr_has_any_prefix" => Some("src"),
                "dstipaddr_has_any_prefix" => Some("dst"),
                "ipaddr_has_any_prefix" => Some("any"),
                "hostname_has_any" => Some("host"),
                _ => None,
            };
            if let Some(lk) = list_key {
                let mut items = Vec::new();
                self.spread(std::slice::from_ref(v), &mut items);
                let mut texts = Vec::new();
                for i in &items {
                    let e = self.expr(&rel, i, Ctx::Value).await?;
                    texts.push(self.as_text(&rel, e, i.pos())?);
                }
                lists.entry(lk).or_default().extend(texts);
                continue;
            }
            let value = self.expr(&rel, v, Ctx::Value).await?;
            let column = |c: &str| ucol(c);
            let unset = value.clone().is_null();
            let pred = match key.as_str() {
                "starttime" => unset.or(column("TimeGenerated").gt_eq(value)),
                "endtime" => unset.or(column("TimeGenerated").lt_eq(value)),
                "dstportnumber" => unset.or(column("DstPortNumber").eq(value)),
                "eventresult" => value
                    .clone()
                    .eq(lit("*"))
                    .or(column("EventResult").eq(value)),
                "disabled" => DfExpr::Not(Box::new(value)),
                "dvcaction" => {
                    let list =
                        self.call_fn("array_has", vec![value.clone(), column("DvcAction")], *apos)?;
                    self.call_fn("array_length", vec![value], *apos)?
                        .eq(lit(0u64))
                        .or(list)
                }
                other => {
                    return Err(KqlError::plan(
                        Some(*apos),
                        format!("{name}() has no parameter {other}"),
                    ));
                }
            };
            preds.push((pred, *apos));
        }
        for (pred, apos) in preds {
            rel.plan = filter_plan(rel.plan, pred, apos)?;
        }
        let take =
            |lists: &mut HashMap<&str, Vec<DfExpr>>, k: &str| lists.remove(k).unwrap_or_default();
        let any = take(&mut lists, "any");
        let mut src = take(&mut lists, "src");
        src.extend(any.iter().cloned());
        let mut dst = take(&mut lists, "dst");
        dst.extend(any);
        let hosts = take(&mut lists, "host");
        let no_match = lit("No match");
        // the first test that holds names the column, as the parser's case() does
        let matching = |tests: Vec<(DfExpr, &str)>, both: Option<DfExpr>| {
            let mut whens = Vec::new();
            if let Some(b) = both {
                whens.push((Box::new(b), Box::new(lit("Both"))));
            }
            for (t, label) in tests {
                whens.push((Box::new(t), Box::new(lit(label))));
            }
            DfExpr::Case(datafusion::logical_expr::expr::Case::new(
                None,
                whens,
                Some(Box::new(no_match.clone())),
            ))
        };
        let ip_col = if src.is_empty() && dst.is_empty() {
            lit("-")
        } else {
            let test = |me: &mut Self, c: &str, l: Vec<DfExpr>| -> R<DfExpr> {
                if l.is_empty() {
                    return Ok(lit(false));
                }
                let mut a = vec![ucol(c)];
                a.extend(l);
                me.call_fn("has_any_ipv4_prefix", a, pos)
            };
            let s = test(self, "SrcIpAddr", src)?;
            let d = test(self, "DstIpAddr", dst)?;
            let both = s.clone().and(d.clone());
            matching(vec![(s, "SrcIpAddr"), (d, "DstIpAddr")], Some(both))
        };
        let host_col = if hosts.is_empty() {
            lit("")
        } else {
            let mut tests = Vec::new();
            for c in ["SrcHostname", "DstHostname"] {
                let mut a = vec![coalesce(vec![ucol(c), lit("")])];
                a.extend(hosts.iter().cloned());
                tests.push((self.call_fn("kql_has_any", a, pos)?, c));
            }
            matching(tests, None)
        };
        let filtered = [&ip_col, &host_col]
            .iter()
            .filter(|e| matches!(e, DfExpr::Case(_)))
            .map(|e| (*e).clone().not_eq(no_match.clone()))
            .reduce(|a, b| a.and(b));
        if let Some(f) = filtered {
            rel.plan = filter_plan(rel.plan, f, pos)?;
        }
        self.apply_extend(
            rel,
            vec![
                ("ASimMatchingIpAddr".to_string(), ip_col),
                ("ASimMatchingHostname".to_string(), host_col),
            ],
        )
    }

    /// The sessions as the ASIM parser shows them: every column of the schema (NULL where the
    /// table has none), the parser's aliases (`Dvc`, `Src`, `Dst`, `Hostname`, `IpAddr`, `Rule`,
    /// `Duration`, `SessionId`, `User`) computed as Sentinel's native parser computes them
    /// (where the table has the alias's column, its value first), `EventSchema` and Log
    /// Analytics' `Type` (the table's name).
    fn asim_columns(&self, rel: Rel, table: &str, pos: Pos) -> R<Rel> {
        let have: HashSet<String> = rel.names().into_iter().collect();
        let mut nulls = Vec::new();
        for (n, t) in &self.opts.sessions_columns {
            if !have.contains(n) && !ASIM_COMPUTED.contains(&n.as_str()) {
                let v = ScalarValue::try_from(t).unwrap_or(ScalarValue::Null);
                nulls.push((n.clone(), lit(v)));
            }
        }
        let rel = self.apply_extend(rel, nulls)?;
        let present: HashSet<String> = rel.names().into_iter().collect();
        let c = |n: &str| ucol(n);
        // KQL's coalesce: the first that is neither NULL nor ''
        let first = |cols: Vec<DfExpr>| {
            coalesce(
                cols.into_iter()
                    .map(|e| nullif(cast(e, DataType::Utf8), lit("")))
                    .collect(),
            )
        };
        let inbound_endpoint = c("EventType")
            .eq(lit("EndpointNetworkSession"))
            .and(c("NetworkDirection").eq(lit("Inbound")));
        let when = |cond: DfExpr, a: DfExpr, b: DfExpr| {
            DfExpr::Case(datafusion::logical_expr::expr::Case::new(
                None,
                vec![(Box::new(cond), Box::new(a))],
                Some(Box::new(b)),
            ))
        };
        let vendor_product = concat(vec![
            coalesce(vec![c("EventVendor"), lit("")]),
            lit("/"),
            coalesce(vec![c("EventProduct"), lit("")]),
        ]);
        let aliases: Vec<(&str, Vec<&str>, DfExpr)> = vec![
            (
                "Dvc",
                vec!["DvcFQDN", "DvcHostname", "DvcIpAddr", "DvcId", "EventType"],
                when(
                    c("EventType").eq(lit("L2NetworkSession")),
                    first(vec![
                        c("DvcFQDN"),
                        c("DvcHostname"),
                        c("DvcId"),
                        vendor_product.clone(),
                    ]),
                    first(vec![
                        c("DvcFQDN"),
                        c("DvcHostname"),
                        c("DvcIpAddr"),
                        c("DvcId"),
                        vendor_product,
                    ]),
                ),
            ),
            (
                "Src",
                vec!["SrcFQDN", "SrcHostname", "SrcIpAddr", "SrcDvcId"],
                first(vec![
                    c("SrcFQDN"),
                    c("SrcHostname"),
                    c("SrcIpAddr"),
                    c("SrcDvcId"),
                ]),
            ),
            (
                "Dst",
                vec!["DstFQDN", "DstHostname", "DstIpAddr", "DstDvcId"],
                first(vec![
                    c("DstFQDN"),
                    c("DstHostname"),
                    c("DstIpAddr"),
                    c("DstDvcId"),
                ]),
            ),
            (
                "Hostname",
                vec![
                    "SrcHostname",
                    "DstHostname",
                    "EventType",
                    "NetworkDirection",
                ],
                when(inbound_endpoint.clone(), c("SrcHostname"), c("DstHostname")),
            ),
            (
                "IpAddr",
                vec!["SrcIpAddr", "DstIpAddr", "EventType", "NetworkDirection"],
                when(inbound_endpoint, c("DstIpAddr"), c("SrcIpAddr")),
            ),
            (
                "Rule",
                vec!["NetworkRuleName", "NetworkRuleNumber"],
                first(vec![c("NetworkRuleName"), c("NetworkRuleNumber")]),
            ),
            ("Duration", vec!["NetworkDuration"], c("NetworkDuration")),
            ("SessionId", vec!["NetworkSessionId"], c("NetworkSessionId")),
            ("User", vec!["DstUsername"], c("DstUsername")),
            ("EventSchema", vec![], lit("NetworkSession")),
            ("Type", vec![], lit(table.to_string())),
        ];
        // a column of the table by an alias's name wins where it has a value (KQL's coalesce)
        let mut computed = Vec::new();
        for (name, from, e) in aliases {
            if !from.iter().all(|f| present.contains(*f)) {
                continue;
            }
            let e = if !present.contains(name) {
                e
            } else if matches!(e, DfExpr::Literal(..)) {
                continue;
            } else if is_string(&self.type_of(&rel, &c(name), pos)?) {
                first(vec![c(name), e])
            } else {
                coalesce(vec![c(name), e])
            };
            computed.push((name.to_string(), e));
        }
        self.apply_extend(rel, computed)
    }

    fn datatable(
        &mut self,
        columns: &[(String, String)],
        values: &[ast::Expr],
        pos: Pos,
    ) -> R<Rel> {
        if columns.is_empty() {
            return Err(KqlError::plan(Some(pos), "datatable has no columns"));
        }
        if !values.len().is_multiple_of(columns.len()) {
            return Err(KqlError::plan(
                Some(pos),
                format!(
                    "datatable: {} values do not fill rows of {} columns",
                    values.len(),
                    columns.len()
                ),
            ));
        }
        let types: Vec<DataType> = columns
            .iter()
            .map(|(_, t)| kql_type(t, pos))
            .collect::<R<_>>()?;
        let mut rows = Vec::new();
        for chunk in values.chunks(columns.len()) {
            let mut row = Vec::new();
            for (v, t) in chunk.iter().zip(&types) {
                if is_dynamic(t) {
                    let j = ast_json(v).ok_or_else(|| {
                        KqlError::plan(
                            Some(v.pos()),
                            "datatable: a dynamic value must be a constant",
                        )
                    })?;
                    row.push(json_lit(&j));
                    continue;
                }
                let s = literal_value(v)?;
                let s = if s.is_null() {
                    ScalarValue::try_from(t).map_err(|e| df(Some(v.pos()), e))?
                } else {
                    s
                };
                let s = s.cast_to(t).map_err(|_| {
                    KqlError::plan(Some(v.pos()), format!("datatable: {v:?} is not a {t}"))
                })?;
                row.push(lit(s));
            }
            rows.push(row);
        }
        let plan = if rows.is_empty() {
            let fields: Vec<arrow::datatypes::Field> = columns
                .iter()
                .zip(&types)
                .map(|((n, _), t)| arrow::datatypes::Field::new(n, t.clone(), true))
                .collect();
            let schema = DFSchema::try_from(arrow::datatypes::Schema::new(fields))
                .map_err(|e| df(Some(pos), e))?;
            LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(schema),
            })
        } else {
            let b = LogicalPlanBuilder::values(rows).map_err(|e| df(Some(pos), e))?;
            let fields: Vec<String> = b
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            b.project(
                fields
                    .iter()
                    .zip(columns)
                    .zip(&types)
                    .map(|((f, (n, _)), t)| cast(ucol(f), t.clone()).alias(n.clone())),
            )
            .and_then(|b| b.build())
            .map_err(|e| df(Some(pos), e))?
        };
        let mut rel = Rel::new(plan);
        // Literal strings are never NULL but an explicit string(null) would read as ''.
        rel.raw = columns
            .iter()
            .zip(&types)
            .filter(|(_, t)| is_string(t))
            .map(|((n, _), _)| n.clone())
            .collect();
        Ok(rel)
    }

    fn union(&mut self, rels: Vec<Rel>, pos: Pos) -> R<Rel> {
        let mut it = rels.into_iter();
        let Some(first) = it.next() else {
            return Err(KqlError::plan(Some(pos), "union of no tables"));
        };
        let first = self.clean_all(first)?;
        let mut b = LogicalPlanBuilder::from(first.plan);
        for r in it {
            let r = self.clean_all(r)?;
            b = b.union_by_name(r.plan).map_err(|e| df(Some(pos), e))?;
        }
        Ok(Rel::new(b.build().map_err(|e| df(Some(pos), e))?))
    }

    /// A projection of `rel`; `keep_raw`: which output columns are still raw strings.
    fn project_rel(&self, rel: Rel, exprs: Vec<DfExpr>, raw: Option<HashSet<String>>) -> R<Rel> {
        // Window functions (row_number, prev, next) are computed below the projection; one
        // that reads another (row_number's restart reads prev()) a level below that.
        use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
        let is_window = |x: &DfExpr| Ok(matches!(x, DfExpr::WindowFunction(_)));
        let mut input = rel.plan;
        let mut exprs = exprs;
        loop {
            // the windows with no window inside them
            let mut leaves: Vec<DfExpr> = Vec::new();
            for e in &exprs {
                e.apply(|x| {
                    if matches!(x, DfExpr::WindowFunction(_)) {
                        let mut inner = false;
                        x.apply_children(|c| {
                            inner |= c.exists(is_window)?;
                            Ok(TreeNodeRecursion::Continue)
                        })?;
                        if !inner && !leaves.contains(x) {
                            leaves.push(x.clone());
                        }
                    }
                    Ok(TreeNodeRecursion::Continue)
                })
                .map_err(|e| df(None, e))?;
            }
            if leaves.is_empty() {
                break;
            }
            // named plainly: a window's own name spells its ORDER BY one way, a reference
            // to it another
            let before = input.schema().fields().len();
            let named: Vec<String> = (0..leaves.len())
                .map(|k| format!("__w{before}_{k}"))
                .collect();
            let windowed =
                LogicalPlanBuilder::window_plan(input, leaves.clone()).map_err(|e| df(None, e))?;
            // the window columns as the plan's schema names them, renamed
            let schema = windowed.schema().clone();
            let cols: Vec<DfExpr> = (0..schema.fields().len())
                .map(|i| {
                    let c = DfExpr::Column(Column::from(schema.qualified_field(i)));
                    if i >= before {
                        c.alias(named[i - before].clone())
                    } else {
                        c
                    }
                })
                .collect();
            input = LogicalPlanBuilder::from(windowed)
                .project(cols)
                .and_then(|b| b.build())
                .map_err(|e| df(None, e))?;
            exprs = exprs
                .into_iter()
                .map(|e| {
                    e.transform_up(|x| {
                        if let Some(k) = leaves.iter().position(|w| *w == x) {
                            Ok(Transformed::yes(ucol(&named[k])))
                        } else {
                            Ok(Transformed::no(x))
                        }
                    })
                    .map(|t| t.data)
                })
                .collect::<datafusion::error::Result<Vec<_>>>()
                .map_err(|e| df(None, e))?;
        }
        let plan = LogicalPlanBuilder::from(input)
            .project(exprs)
            .and_then(|b| b.build())
            .map_err(|e| df(None, e))?;
        Ok(Rel {
            raw: raw.unwrap_or_default(),
            order: rel.order,
            ..Rel::new(plan)
        })
    }

    /// Every raw string column as `coalesce(c, '')`.
    fn clean_all(&self, rel: Rel) -> R<Rel> {
        if rel.raw.is_empty() {
            return Ok(rel);
        }
        let exprs: Vec<DfExpr> = rel
            .names()
            .iter()
            .map(|n| {
                if rel.raw.contains(n) {
                    coalesce(vec![ucol(n), lit("")]).alias(n.clone())
                } else {
                    ucol(n)
                }
            })
            .collect();
        let unique = rel.unique_on.clone();
        let mut out = self.project_rel(rel, exprs, None)?;
        out.unique_on = unique;
        Ok(out)
    }

    fn col_value(&self, rel: &Rel, name: &str) -> DfExpr {
        if rel.raw.contains(name) {
            coalesce(vec![ucol(name), lit("")])
        } else {
            ucol(name)
        }
    }

    async fn operator(&mut self, rel: Rel, op: &Op, pos: Pos) -> R<Rel> {
        match op {
            Op::Where(e) => self.where_(rel, e, pos).await,
            Op::Extend(items) => self.extend(rel, items, pos).await,
            Op::Project(items) => {
                let mut exprs = Vec::new();
                let mut names = HashSet::new();
                let mut raw = HashSet::new();
                for ne in items {
                    if let (ast::Expr::Col(n, _), true) = (&ne.expr, ne.names.is_empty()) {
                        if !rel.has(n) {
                            return Err(self.unknown_column(&rel, n, ne.expr.pos()));
                        }
                        if rel.raw.contains(n) {
                            raw.insert(n.clone());
                        }
                        exprs.push(ucol(n).alias(n.clone()));
                        names.insert(n.clone());
                        continue;
                    }
                    let e = self.expr(&rel, &ne.expr, Ctx::Value).await?;
                    let name = self.name_of(ne, &names);
                    if !names.insert(name.clone()) {
                        return Err(KqlError::plan(
                            Some(ne.expr.pos()),
                            format!("column '{name}' is given twice"),
                        ));
                    }
                    exprs.push(e.alias(name));
                }
                self.project_rel(rel, exprs, Some(raw))
            }
            Op::ProjectAway(pats) | Op::ProjectKeep(pats) => {
                let keep = matches!(op, Op::ProjectKeep(_));
                for p in pats {
                    if !p.contains('*') && !rel.has(p) {
                        return Err(self.unknown_column(&rel, p, pos));
                    }
                }
                let names: Vec<String> = rel
                    .names()
                    .into_iter()
                    .filter(|n| pats.iter().any(|p| matches_pattern(p, n)) == keep)
                    .collect();
                let raw = rel
                    .raw
                    .iter()
                    .filter(|n| names.contains(n))
                    .cloned()
                    .collect();
                let exprs = names.iter().map(|n| ucol(n)).collect();
                self.project_rel(rel, exprs, Some(raw))
            }
            Op::ProjectRename(pairs) => {
                let mut map = HashMap::new();
                for (new, old) in pairs {
                    if !rel.has(old) {
                        return Err(self.unknown_column(&rel, old, pos));
                    }
                    map.insert(old.clone(), new.clone());
                }
                let mut raw = HashSet::new();
                let exprs = rel
                    .names()
                    .iter()
                    .map(|n| {
                        let out = map.get(n).cloned().unwrap_or_else(|| n.clone());
                        if rel.raw.contains(n) {
                            raw.insert(out.clone());
                        }
                        ucol(n).alias(out)
                    })
                    .collect();
                self.project_rel(rel, exprs, Some(raw))
            }
            Op::ProjectReorder(pats, by_name) => {
                let all = rel.names();
                let mut order: Vec<String> = Vec::new();
                for p in pats {
                    let mut hit: Vec<String> = all
                        .iter()
                        .filter(|n| matches_pattern(p, n) && !order.contains(n))
                        .cloned()
                        .collect();
                    if let Some(desc) = by_name {
                        hit.sort();
                        if *desc {
                            hit.reverse();
                        }
                    }
                    if hit.is_empty() && !p.contains('*') {
                        return Err(self.unknown_column(&rel, p, pos));
                    }
                    order.extend(hit);
                }
                order.extend(
                    all.iter()
                        .filter(|n| !order.contains(n))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                let raw = rel.raw.clone();
                let exprs = order.iter().map(|n| ucol(n)).collect();
                self.project_rel(rel, exprs, Some(raw))
            }
            Op::Summarize { aggs, by } => self.summarize(rel, aggs, by, pos).await,
            Op::Distinct(cols) => {
                let items: Vec<NamedExpr> = match cols {
                    None => rel
                        .names()
                        .into_iter()
                        .map(|n| NamedExpr {
                            names: vec![],
                            expr: ast::Expr::Col(n, pos),
                        })
                        .collect(),
                    Some(c) => c.clone(),
                };
                self.summarize(rel, &[], &items, pos).await
            }
            Op::Count => {
                let count = self.agg_fn("count", vec![lit(1i64)], false, pos)?;
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .aggregate(Vec::<DfExpr>::new(), vec![count.alias("Count")])
                    .and_then(|b| b.build())
                    .map_err(|e| df(Some(pos), e))?;
                Ok(Rel::new(plan))
            }
            Op::Take(n) => {
                let n = self.const_usize(&rel, n).await?;
                let plan = LogicalPlanBuilder::from(rel.plan.clone())
                    .limit(0, Some(n))
                    .and_then(|b| b.build())
                    .map_err(|e| df(Some(pos), e))?;
                Ok(Rel {
                    plan,
                    summary: None,
                    derived: HashMap::new(),
                    ..rel
                })
            }
            Op::Top { n, key } => {
                let n = self.const_usize(&rel, n).await?;
                let sorted = self.sort(rel, std::slice::from_ref(key), pos).await?;
                let plan = LogicalPlanBuilder::from(sorted.plan.clone())
                    .limit(0, Some(n))
                    .and_then(|b| b.build())
                    .map_err(|e| df(Some(pos), e))?;
                Ok(Rel {
                    plan,
                    summary: None,
                    derived: HashMap::new(),
                    ..sorted
                })
            }
            Op::Sort(keys) => self.sort(rel, keys, pos).await,
            Op::Join {
                kind,
                right,
                filter: Some(filter),
                ..
            } => {
                // every pair of rows, then the predicate over both sides' columns
                if kind != "inner" {
                    return Err(KqlError::unsupported(
                        Some(pos),
                        format!("join kind={kind} with where (only kind=inner)"),
                    ));
                }
                let right = Box::pin(self.tabular(right)).await?;
                let pairs = self.join(rel, right, "inner", &[], false, pos)?;
                self.where_(pairs, filter, pos).await
            }
            Op::Join {
                kind, right, on, ..
            } => {
                let right = Box::pin(self.tabular(right)).await?;
                // A summary joined back to its own input on its keys: one window, one scan.
                if let Some(s) = &rel.summary
                    && (kind == "innerunique" || kind == "inner")
                    && right.plan == s.input
                    && on.len() == s.keys.len()
                    && on
                        .iter()
                        .all(|o| matches!(o, JoinOn::Same(k) if s.keys.contains(k)))
                {
                    return self.summary_join(s, pos);
                }
                self.join(rel, right, kind, on, false, pos)
            }
            Op::Lookup { kind, right, on } => {
                let right = Box::pin(self.tabular(right)).await?;
                self.join(rel, right, kind, on, true, pos)
            }
            Op::Union { fuzzy, tables } => {
                let mut rels = vec![rel];
                rels.extend(Box::pin(self.union_operands(tables, *fuzzy)).await?);
                self.union(rels, pos)
            }
            Op::MvExpand {
                items,
                index,
                limit,
            } => {
                // the columns of one mv-expand expand side by side (the shorter padded with
                // NULL), as Kusto's do; an array's elements, a dynamic bag's members
                let mut names = Vec::new();
                let mut exprs = Vec::new();
                for ne in items {
                    let name = match (&ne.names.first(), &ne.expr) {
                        (Some(n), _) => (*n).clone(),
                        (None, ast::Expr::Col(n, _)) => n.clone(),
                        _ => {
                            return Err(KqlError::plan(
                                Some(ne.expr.pos()),
                                "mv-expand needs a column or name = expression",
                            ));
                        }
                    };
                    let e = self.expr(&rel, &ne.expr, Ctx::Value).await?;
                    let e = if is_dynamic(&self.type_of(&rel, &e, ne.expr.pos())?) {
                        self.call_fn("kql_dyn_expand", vec![e], ne.expr.pos())?
                    } else {
                        e
                    };
                    names.push(name);
                    exprs.push(e);
                }
                // the item's index (from 0), expanded beside the values: for with_itemindex and
                // for limit
                let idx = match (index, limit) {
                    (Some(i), _) => Some(i.clone()),
                    (None, Some(_)) => Some("__item".to_string()),
                    _ => None,
                };
                if let Some(i) = &idx {
                    let mut longest = None;
                    for e in &exprs {
                        let n = cast(
                            self.call_fn("array_length", vec![e.clone()], pos)?,
                            DataType::Int64,
                        );
                        let n = coalesce(vec![n, lit(0i64)]);
                        longest = Some(match longest {
                            None => n,
                            Some(m) => self.call_fn("greatest", vec![m, n], pos)?,
                        });
                    }
                    let n = longest.unwrap_or(lit(0i64));
                    exprs.push(self.call_fn("range", vec![lit(0i64), n], pos)?);
                    names.push(i.clone());
                }
                let mut others: Vec<DfExpr> = rel
                    .names()
                    .iter()
                    .filter(|n| !names.contains(n))
                    .map(|n| ucol(n))
                    .collect();
                let raw: HashSet<String> = rel
                    .raw
                    .iter()
                    .filter(|n| !names.contains(n))
                    .cloned()
                    .collect();
                for (n, e) in names.iter().zip(exprs) {
                    others.push(e.alias(n.clone()));
                }
                let r2 = self.project_rel(rel, others, Some(raw.clone()))?;
                let plan = LogicalPlanBuilder::from(r2.plan)
                    .unnest_columns_with_options(
                        names.iter().map(Column::new_unqualified).collect(),
                        Default::default(),
                    )
                    .and_then(|b| b.build())
                    .map_err(|e| df(Some(pos), e))?;
                let mut rel = Rel {
                    raw,
                    ..Rel::new(plan)
                };
                if let (Some(i), Some(n)) = (&idx, limit) {
                    rel.plan = filter_plan(rel.plan, ucol(i).lt(lit(*n)), pos)?;
                    if index.is_none() {
                        let keep: Vec<DfExpr> = rel
                            .names()
                            .iter()
                            .filter(|n| *n != i)
                            .map(|n| ucol(n))
                            .collect();
                        rel = self.project_rel(rel, keep, None)?;
                    }
                }
                Ok(rel)
            }
            Op::As(name) => {
                self.bind(name, Binding::Tab(Box::new(rel.clone())));
                Ok(rel)
            }
            Op::Serialize(items) => {
                if items.is_empty() {
                    Ok(rel)
                } else {
                    self.extend(rel, items, pos).await
                }
            }
            Op::Getschema => self.getschema(rel, pos),
            Op::Parse {
                kind,
                flags,
                source,
                items,
            } => self.parse_op(rel, kind, flags, source, items, pos).await,
            Op::Render => {
                self.notices.push(format!(
                    "{}:{}: render is ignored (nethunt prints tables)",
                    pos.line, pos.col
                ));
                Ok(rel)
            }
            Op::Unsupported(name) => Err(KqlError::unsupported(
                Some(pos),
                format!("the operator '{name}'"),
            )),
        }
    }

    fn unknown_column(&self, rel: &Rel, name: &str, pos: Pos) -> KqlError {
        let mut names = rel.names();
        names.truncate(12);
        KqlError::plan(
            Some(pos),
            format!(
                "unknown column or name '{name}' (columns: {})",
                names.join(", ")
            ),
        )
    }

    /// The name KQL gives an unnamed expression: a column's own name, else `Column1`, ...
    fn name_of(&self, ne: &NamedExpr, taken: &HashSet<String>) -> String {
        if let Some(n) = ne.names.first() {
            return n.clone();
        }
        match &ne.expr {
            ast::Expr::Col(n, _) => n.clone(),
            ast::Expr::Call { name, args, .. } if name == "bin" || name == "floor" => {
                match args.first() {
                    Some(ast::Expr::Col(n, _)) => n.clone(),
                    _ => fresh("Column", taken),
                }
            }
            _ => fresh("Column", taken),
        }
    }

    async fn const_usize(&mut self, rel: &Rel, e: &ast::Expr) -> R<usize> {
        match e {
            ast::Expr::Lit(Lit::Int(n), _) if *n >= 0 => Ok(*n as usize),
            ast::Expr::Col(n, p) => match self.lookup(n).cloned() {
                Some(Binding::Scalar(e2)) => Box::pin(self.const_usize(rel, &e2)).await,
                _ => Err(KqlError::plan(Some(*p), "take/top need a constant count")),
            },
            other => Err(KqlError::plan(
                Some(other.pos()),
                "take/top need a constant count",
            )),
        }
    }

    async fn where_(&mut self, rel: Rel, e: &ast::Expr, pos: Pos) -> R<Rel> {
        // Split top-level `and`s: `x in (T)` / `x !in (T)` become semi / anti joins.
        let mut conj = Vec::new();
        flatten_and(e, &mut conj);
        let mut rel = rel;
        let mut rest = Vec::new();
        for c in conj {
            if let ast::Expr::InTable {
                negated,
                expr,
                table,
                pos,
            } = c
            {
                rel = self.in_table(rel, expr, table, *negated, *pos).await?;
            } else if let ast::Expr::InList {
                op,
                expr,
                list,
                pos,
            } = c
                && (op == "in" || op == "!in")
                && let [ast::Expr::Col(n, npos)] = list.as_slice()
                && !rel.has(n)
                && matches!(self.lookup(n), Some(Binding::Tab(_)))
            {
                // `x !in (T)` where T is a let-bound table
                let table = Tabular {
                    source: Source::Name(n.clone(), *npos),
                    ops: Vec::new(),
                };
                rel = self.in_table(rel, expr, &table, op == "!in", *pos).await?;
            } else {
                rest.push(c);
            }
        }
        if rest.is_empty() {
            return Ok(rel);
        }
        // A string column this where requires isnotempty() of is never NULL in the rows it
        // keeps (and in the other tests of the same conjunction, which only matter where it
        // holds): read it as it is from here on, without coalesce.
        for c in &rest {
            if let ast::Expr::Call { name, args, .. } = c
                && name == "isnotempty"
                && let [ast::Expr::Col(n, _)] = args.as_slice()
            {
                rel.raw.remove(n);
            }
        }
        let mut pred: Option<DfExpr> = None;
        for c in rest {
            let p = self.expr(&rel, c, Ctx::Keep).await?;
            pred = Some(match pred {
                None => p,
                Some(a) => a.and(p),
            });
        }
        let plan = filter_plan(rel.plan.clone(), pred.expect("one conjunct"), pos)?;
        Ok(Rel {
            plan,
            summary: None,
            derived: rel.derived.clone(),
            ..rel
        })
    }

    async fn in_table(
        &mut self,
        rel: Rel,
        e: &ast::Expr,
        table: &Tabular,
        negated: bool,
        pos: Pos,
    ) -> R<Rel> {
        let right = Box::pin(self.tabular(table)).await?;
        let right = self.clean_all(right)?;
        let first = right
            .names()
            .into_iter()
            .next()
            .ok_or_else(|| KqlError::plan(Some(pos), "in (T): T has no columns"))?;
        let left_key = self.expr(&rel, e, Ctx::Value).await?;
        let lt = left_key
            .get_type(rel.schema())
            .map_err(|e| df(Some(pos), e))?;
        let rt = right.schema().field(0).data_type().clone();
        let r = LogicalPlanBuilder::from(right.plan)
            .project(vec![
                if is_string(&lt) && is_string(&rt) {
                    ucol(&first)
                } else {
                    cast(ucol(&first), lt.clone())
                }
                .alias("__in_key"),
            ])
            .and_then(|b| b.alias("__r"))
            .and_then(|b| b.build())
            .map_err(|e| df(Some(pos), e))?;
        let kind = if negated {
            JoinType::LeftAnti
        } else {
            JoinType::LeftSemi
        };
        let raw = rel.raw.clone();
        let order = rel.order.clone();
        let unique = rel.unique_on.clone();
        let derived = rel.derived.clone();
        let plan = LogicalPlanBuilder::from(rel.plan)
            .join_on(r, kind, vec![left_key.eq(qcol("__r", "__in_key"))])
            .and_then(|b| b.build())
            .map_err(|e| df(Some(pos), e))?;
        Ok(Rel {
            plan,
            raw,
            unique_on: unique,
            order,
            summary: None,
            derived,
        })
    }

    async fn extend(&mut self, rel: Rel, items: &[NamedExpr], _pos: Pos) -> R<Rel> {
        let mut rel = rel;
        // Each item sees the ones before it, so extend one at a time when they refer back.
        let mut batch: Vec<(String, DfExpr)> = Vec::new();
        for ne in items {
            let mut taken: HashSet<String> = rel.names().into_iter().collect();
            taken.extend(batch.iter().map(|(n, _)| n.clone()));
            let refers_back = batch.iter().any(|(n, _)| mentions(&ne.expr, n));
            if refers_back {
                rel = self.apply_extend(rel, std::mem::take(&mut batch))?;
            }
            let e = self.expr(&rel, &ne.expr, Ctx::Value).await?;
            let name = if ne.names.is_empty() {
                match &ne.expr {
                    ast::Expr::Col(n, _) => n.clone(),
                    _ => fresh("Column", &taken),
                }
            } else if ne.names.len() == 1 {
                ne.names[0].clone()
            } else {
                return Err(KqlError::unsupported(
                    Some(ne.expr.pos()),
                    "(a, b) = ... in extend",
                ));
            };
            batch.push((name, e));
        }
        self.apply_extend(rel, batch)
    }

    fn apply_extend(&self, rel: Rel, batch: Vec<(String, DfExpr)>) -> R<Rel> {
        if batch.is_empty() {
            return Ok(rel);
        }
        let mut exprs = Vec::new();
        let mut raw = HashSet::new();
        for n in rel.names() {
            if let Some((_, e)) = batch.iter().find(|(b, _)| *b == n) {
                exprs.push(e.clone().alias(n.clone()));
            } else {
                if rel.raw.contains(&n) {
                    raw.insert(n.clone());
                }
                exprs.push(ucol(&n));
            }
        }
        let names = rel.names();
        for (n, e) in &batch {
            if !names.contains(n) {
                exprs.push(e.clone().alias(n.clone()));
            }
        }
        let unique = rel.unique_on.clone();
        // What is computed from the row's other columns alone, for summarize (see derived_keys)
        let mut derived: HashMap<String, DfExpr> = rel
            .derived
            .iter()
            .filter(|(n, e)| {
                !batch
                    .iter()
                    .any(|(b, _)| b == *n || e.column_refs().iter().any(|c| c.name == *b))
            })
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect();
        for (n, e) in &batch {
            let refs = e.column_refs();
            let plain = !refs.is_empty()
                && refs.iter().all(|c| c.name != *n && names.contains(&c.name))
                && !e.is_volatile()
                && !e
                    .exists(|x| {
                        Ok(matches!(
                            x,
                            DfExpr::WindowFunction(_)
                                | DfExpr::AggregateFunction(_)
                                | DfExpr::ScalarSubquery(_)
                                | DfExpr::Placeholder(_)
                        ))
                    })
                    .unwrap_or(true);
            if plain {
                derived.insert(n.clone(), e.clone());
            }
        }
        let mut out = self.project_rel(rel, exprs, Some(raw))?;
        out.unique_on = unique;
        out.derived = derived;
        Ok(out)
    }

    async fn sort(&mut self, rel: Rel, keys: &[ast::SortKey], pos: Pos) -> R<Rel> {
        let mut sorts = Vec::new();
        for k in keys {
            let e = self.expr(&rel, &k.expr, Ctx::Value).await?;
            sorts.push(e.sort(!k.desc, k.nulls_first));
        }
        let plan = LogicalPlanBuilder::from(rel.plan.clone())
            .sort(sorts.clone())
            .and_then(|b| b.build())
            .map_err(|e| df(Some(pos), e))?;
        Ok(Rel {
            plan,
            order: Some(sorts),
            ..rel
        })
    }

    async fn summarize(
        &mut self,
        rel: Rel,
        aggs: &[NamedExpr],
        by: &[NamedExpr],
        pos: Pos,
    ) -> R<Rel> {
        let mut group = Vec::new();
        let mut out_names: Vec<String> = Vec::new();
        let mut taken = HashSet::new();
        // A key computed by an extend from other keys alone adds no groups: group by those and
        // compute it afterwards (one string key hashed instead of two, in the seed).
        let plain_keys: Vec<&str> = by
            .iter()
            .filter_map(|ne| match (&ne.expr, ne.names.is_empty()) {
                (ast::Expr::Col(c, _), true) if rel.has(c) => Some(c.as_str()),
                _ => None,
            })
            .collect();
        let mut after: Vec<(usize, DfExpr)> = Vec::new();
        for (i, ne) in by.iter().enumerate() {
            if let (ast::Expr::Col(c, _), true) = (&ne.expr, ne.names.is_empty())
                && let Some(d) = rel.derived.get(c)
                && d.column_refs().iter().all(|r| {
                    r.name != *c
                        && plain_keys.contains(&r.name.as_str())
                        && !rel.raw.contains(&r.name)
                })
            {
                taken.insert(c.clone());
                out_names.push(c.clone());
                after.push((i, d.clone()));
                continue;
            }
            let e = self.expr(&rel, &ne.expr, Ctx::Value).await?;
            let name = self.name_of(ne, &taken);
            if !taken.insert(name.clone()) {
                return Err(KqlError::plan(
                    Some(ne.expr.pos()),
                    format!("column '{name}' is given twice"),
                ));
            }
            group.push(e.alias(format!("__g{i}")));
            out_names.push(name);
        }
        let summary = self.summary_of(&rel, aggs, by, &out_names).await;
        let mut aggr = Vec::new();
        let mut post: Vec<DfExpr> = Vec::new();
        let mut agg_names = Vec::new();
        for (i, ne) in aggs.iter().enumerate() {
            let outs = self.aggregate(&rel, ne, i, &mut aggr, &taken).await?;
            for (name, e) in outs {
                if !taken.insert(name.clone()) {
                    return Err(KqlError::plan(
                        Some(ne.expr.pos()),
                        format!("column '{name}' is given twice"),
                    ));
                }
                post.push(e.alias(name.clone()));
                agg_names.push(name);
            }
        }
        let plan = LogicalPlanBuilder::from(rel.plan)
            .aggregate(group, aggr)
            .map_err(|e| df(Some(pos), e))?;
        let mut exprs: Vec<DfExpr> = out_names
            .iter()
            .enumerate()
            .filter(|(i, _)| !after.iter().any(|(k, _)| k == i))
            .map(|(i, n)| ucol(&format!("__g{i}")).alias(n.clone()))
            .collect();
        exprs.extend(post);
        let mut plan = plan.project(exprs).map_err(|e| df(Some(pos), e))?;
        if !after.is_empty() {
            // the derived keys, computed from the grouped ones, in their places
            let mut exprs = Vec::new();
            for (i, n) in out_names.iter().enumerate() {
                match after.iter().find(|(k, _)| *k == i) {
                    Some((_, d)) => exprs.push(d.clone().alias(n.clone())),
                    None => exprs.push(ucol(n)),
                }
            }
            exprs.extend(agg_names.iter().map(|n| ucol(n)));
            plan = plan.project(exprs).map_err(|e| df(Some(pos), e))?;
        }
        let plan = plan.build().map_err(|e| df(Some(pos), e))?;
        Ok(Rel {
            unique_on: Some(out_names),
            summary: summary.map(Box::new),
            ..Rel::new(plan)
        })
    }

    /// What a window over `rel` needs to stand for `rel | summarize aggs by by` joined back to
    /// `rel` on the keys: only for keys that are plain columns under their own names and
    /// aggregates `sum`, `count`, `min`, `max`, `avg` of a column.
    async fn summary_of(
        &mut self,
        rel: &Rel,
        aggs: &[NamedExpr],
        by: &[NamedExpr],
        out_names: &[String],
    ) -> Option<Summary> {
        if by.is_empty() {
            return None;
        }
        for (ne, n) in by.iter().zip(out_names) {
            match &ne.expr {
                ast::Expr::Col(c, _) if c == n && rel.has(c) => {}
                _ => return None,
            }
        }
        let mut out = Vec::new();
        for ne in aggs {
            let ast::Expr::Call { name, args, .. } = &ne.expr else {
                return None;
            };
            let col = match args.as_slice() {
                [] => None,
                [ast::Expr::Col(c, _)] if rel.has(c) => Some(c.clone()),
                _ => return None,
            };
            let out_name = ne.names.first().cloned().unwrap_or_else(|| match &col {
                Some(c) => format!("{name}_{c}"),
                None => format!("{name}_"),
            });
            let (f, a, zero) = match (name.as_str(), &col) {
                ("count", None) => ("count", vec![lit(1i64)], None),
                ("sum", Some(c)) => {
                    let x = self.col_value(rel, c);
                    let t = x.get_type(rel.schema()).ok()?;
                    let zero = ScalarValue::new_zero(&sum_type(&t)).ok()?;
                    ("sum", vec![x], Some(zero))
                }
                ("min" | "max" | "avg", Some(c)) => {
                    (name.as_str(), vec![self.col_value(rel, c)], None)
                }
                _ => return None,
            };
            out.push((out_name, f.to_string(), a, zero));
        }
        Some(Summary {
            input: rel.plan.clone(),
            raw: rel.raw.clone(),
            keys: out_names.to_vec(),
            aggs: out,
        })
    }

    /// `S | join kind=innerunique (P) on keys` where S summarizes P by those keys: every row of
    /// P with its group's aggregates, as a window over P (one scan of P instead of two). Rows
    /// whose key is NULL never meet in the join, so they are dropped here too.
    fn summary_join(&self, s: &Summary, pos: Pos) -> R<Rel> {
        let base = Rel {
            raw: s.raw.clone(),
            ..Rel::new(s.input.clone())
        };
        let keys: Vec<DfExpr> = s.keys.iter().map(|k| self.col_value(&base, k)).collect();
        let mut windows = Vec::new();
        for (i, (_, f, args, _)) in s.aggs.iter().enumerate() {
            let udaf = self
                .state
                .aggregate_functions()
                .get(f.as_str())
                .cloned()
                .ok_or_else(|| {
                    KqlError::plan(Some(pos), format!("the aggregate {f} is not registered"))
                })?;
            let w = DfExpr::from(WindowFunction::new(
                WindowFunctionDefinition::AggregateUDF(udaf),
                args.clone(),
            ))
            .partition_by(keys.clone())
            .build()
            .map_err(|e| df(Some(pos), e))?
            .alias(format!("__w{i}"));
            windows.push(w);
        }
        let mut b = LogicalPlanBuilder::from(base.plan.clone());
        for k in &keys {
            let t = k.get_type(base.schema()).map_err(|e| df(Some(pos), e))?;
            if !is_string(&t) {
                b = b
                    .filter(k.clone().is_not_null())
                    .map_err(|e| df(Some(pos), e))?;
            }
        }
        let b = b.window(windows).map_err(|e| df(Some(pos), e))?;
        let mut exprs = Vec::new();
        let mut taken = HashSet::new();
        for (k, e) in s.keys.iter().zip(&keys) {
            exprs.push(e.clone().alias(k.clone()));
            taken.insert(k.clone());
        }
        for (i, (n, _, _, zero)) in s.aggs.iter().enumerate() {
            let w = ucol(&format!("__w{i}"));
            let w = match zero {
                Some(z) => coalesce(vec![w, lit(z.clone())]),
                None => w,
            };
            exprs.push(w.alias(n.clone()));
            taken.insert(n.clone());
        }
        for n in base.names() {
            let out = if taken.contains(&n) {
                fresh(&n, &taken)
            } else {
                n.clone()
            };
            taken.insert(out.clone());
            exprs.push(self.col_value(&base, &n).alias(out));
        }
        let plan = b
            .project(exprs)
            .and_then(|b| b.build())
            .map_err(|e| df(Some(pos), e))?;
        Ok(Rel::new(plan))
    }

    /// One item of `summarize`: its aggregate expressions (added to `aggr` under fresh names)
    /// and the output columns computed from them.
    async fn aggregate(
        &mut self,
        rel: &Rel,
        ne: &NamedExpr,
        i: usize,
        aggr: &mut Vec<DfExpr>,
        taken: &HashSet<String>,
    ) -> R<Vec<(String, DfExpr)>> {
        let ast::Expr::Call { name, args, pos } = &ne.expr else {
            return Err(KqlError::plan(
                Some(ne.expr.pos()),
                "summarize expects aggregation functions (count(), sum(x), ...)",
            ));
        };
        let pos = *pos;
        let f = name.as_str();
        let arg_col = |k: usize| match args.get(k) {
            Some(ast::Expr::Col(c, _)) => c.clone(),
            _ => String::new(),
        };
        let default_name = |prefix: &str| {
            let base = if arg_col(0).is_empty() {
                format!("{prefix}_")
            } else {
                format!("{prefix}_{}", arg_col(0))
            };
            if taken.contains(&base) {
                fresh(&base, taken)
            } else {
                base
            }
        };
        let name_or = |d: String| ne.names.first().cloned().unwrap_or(d);
        let mut add = |e: DfExpr| -> DfExpr {
            let n = format!("__a{i}_{}", aggr.len());
            aggr.push(e.alias(n.clone()));
            ucol(&n)
        };
        let a = |k: usize| {
            args.get(k)
                .ok_or_else(|| KqlError::plan(Some(pos), format!("{f}() needs more arguments")))
        };
        Ok(match f {
            "count" => {
                // count(x) counts rows as count() does (Kusto's answer, a NULL x included)
                let e = add(self.agg_fn("count", vec![lit(1i64)], false, pos)?);
                vec![(name_or(default_name("count")), e)]
            }
            "countif" => {
                let p = self.expr(rel, a(0)?, Ctx::Keep).await?;
                let e = add(self
                    .agg_fn("count", vec![lit(1i64)], false, pos)?
                    .filter_expr(p, pos)?);
                vec![(name_or("countif_".into()), e)]
            }
            "dcount" | "dcountif" => {
                let x = self.expr(rel, a(0)?, Ctx::Value).await?;
                let x = if f == "dcountif" {
                    let p = self.expr(rel, a(1)?, Ctx::Keep).await?;
                    when(p, x)
                } else {
                    x
                };
                let e = add(self.agg_fn("count", vec![x], true, pos)?);
                vec![(name_or(default_name(f)), e)]
            }
            "sum" | "sumif" => {
                let x = self.expr(rel, a(0)?, Ctx::Value).await?;
                let x = if f == "sumif" {
                    when(self.expr(rel, a(1)?, Ctx::Keep).await?, x)
                } else {
                    x
                };
                let t = x.get_type(rel.schema()).map_err(|e| df(Some(pos), e))?;
                let zero =
                    ScalarValue::new_zero(&sum_type(&t)).unwrap_or(ScalarValue::Int64(Some(0)));
                let e = add(self.agg_fn("sum", vec![x], false, pos)?);
                vec![(name_or(default_name(f)), coalesce(vec![e, lit(zero)]))]
            }
            "avg" | "avgif" | "min" | "max" | "minif" | "maxif" | "stdev" | "variance"
            | "take_any" | "any" => {
                let x = self.expr(rel, a(0)?, Ctx::Value).await?;
                let base = f.trim_end_matches("if");
                let x = if f.ends_with("if") && f != "take_any" {
                    when(self.expr(rel, a(1)?, Ctx::Keep).await?, x)
                } else {
                    x
                };
                let df_name = match base {
                    "stdev" => "stddev",
                    "variance" => "var_samp",
                    "take_any" | "any" => "first_value",
                    b => b,
                };
                let e = add(self.agg_fn(df_name, vec![x], false, pos)?);
                let prefix = if f == "any" { "any" } else { f };
                vec![(name_or(default_name(prefix)), e)]
            }
            "make_set" | "make_set_if" | "make_list" | "make_list_if" => {
                let x = self.expr(rel, a(0)?, Ctx::Value).await?;
                let (x, cap) = if f.ends_with("_if") {
                    (
                        when(self.expr(rel, a(1)?, Ctx::Keep).await?, x),
                        args.get(2),
                    )
                } else {
                    (x, args.get(1))
                };
                let cap = match cap {
                    Some(e) => Some(self.expr(rel, e, Ctx::Value).await?),
                    None => None,
                };
                let prefix = if f.starts_with("make_set") {
                    "set"
                } else {
                    "list"
                };
                let dynamic = is_dynamic(&self.type_of(rel, &x, pos)?);
                let e = if f.starts_with("make_set") && dynamic {
                    // make_set of dynamic arrays: the set of their elements
                    let parts = self.call_fn("kql_dyn_expand", vec![x], pos)?;
                    let sets = add(self.agg_fn("make_set", vec![parts], false, pos)?);
                    let flat = self.call_fn("flatten", vec![sets], pos)?;
                    let all = self.call_fn("array_distinct", vec![flat], pos)?;
                    self.first_n(all, cap, pos)?
                } else if f.starts_with("make_set") {
                    let mut args = vec![x];
                    args.extend(cap);
                    add(self.agg_fn("make_set", args, false, pos)?)
                } else {
                    let agg = self
                        .agg_fn("array_agg", vec![x.clone()], false, pos)?
                        .filter_expr(x.is_not_null(), pos)?;
                    let all = add(agg);
                    let all = coalesce(vec![all, self.call_fn("make_array", vec![], pos)?]);
                    self.first_n(all, cap, pos)?
                };
                vec![(name_or(default_name(prefix)), e)]
            }
            "arg_max" | "arg_min" => {
                let by = self.expr(rel, a(0)?, Ctx::Value).await?;
                let by_name = match a(0)? {
                    ast::Expr::Col(c, _) => c.clone(),
                    _ => format!("{f}_"),
                };
                let mut outs = vec![];
                let extreme = add(self.agg_fn(
                    if f == "arg_max" { "max" } else { "min" },
                    vec![by.clone()],
                    false,
                    pos,
                )?);
                outs.push((
                    ne.names.first().cloned().unwrap_or(by_name.clone()),
                    extreme,
                ));
                let mut cols: Vec<(String, DfExpr)> = Vec::new();
                for x in &args[1..] {
                    match x {
                        ast::Expr::Star(_) => {
                            for n in rel.names() {
                                if n != by_name
                                    && !taken.contains(&n)
                                    && !cols.iter().any(|(c, _)| *c == n)
                                {
                                    cols.push((n.clone(), self.col_value(rel, &n)));
                                }
                            }
                        }
                        ast::Expr::Col(n, _) => {
                            cols.push((n.clone(), self.expr(rel, x, Ctx::Value).await?))
                        }
                        other => {
                            return Err(KqlError::unsupported(
                                Some(other.pos()),
                                format!("{f}() with an expression other than a column or *"),
                            ));
                        }
                    }
                }
                // (a, b, ..) = arg_max(x, y, ..): the names after the first rename y, ..
                for (k, (n, e)) in cols.into_iter().enumerate() {
                    let n = ne.names.get(k + 1).cloned().unwrap_or(n);
                    let sort = by.clone().sort(f == "arg_min", false);
                    let first = self.agg_fn_ordered("first_value", vec![e], vec![sort], pos)?;
                    outs.push((n, add(first)));
                }
                outs
            }
            "percentile" | "percentiles" => {
                // Kusto estimates the nearest-rank percentile; kql_percentile computes it exactly
                let x = self.expr(rel, a(0)?, Ctx::Value).await?;
                if args.len() < 2 || (f == "percentile" && args.len() != 2) {
                    return Err(KqlError::plan(
                        Some(pos),
                        format!("{f}() takes the values and then the percentile(s)"),
                    ));
                }
                let mut outs = vec![];
                for (k, pe) in args[1..].iter().enumerate() {
                    let pv = match self.expr(rel, pe, Ctx::Value).await? {
                        DfExpr::Literal(v, _) => v.cast_to(&DataType::Float64).ok(),
                        _ => None,
                    };
                    let Some(ScalarValue::Float64(Some(pv))) = pv.filter(|v| !v.is_null()) else {
                        return Err(KqlError::plan(
                            Some(pe.pos()),
                            format!("{f}(): a percentile must be a constant number"),
                        ));
                    };
                    if !(0.0..=100.0).contains(&pv) {
                        return Err(KqlError::plan(
                            Some(pe.pos()),
                            format!("{f}(): the percentile {pv} is not between 0 and 100"),
                        ));
                    }
                    let e =
                        add(self.agg_fn("kql_percentile", vec![x.clone(), lit(pv)], false, pos)?);
                    let label = format!("{pv}").replace('.', "_");
                    let n = match ne.names.get(k) {
                        Some(n) => n.clone(),
                        None => {
                            let base = format!("percentile_{}_{label}", arg_col(0));
                            if taken.contains(&base) {
                                fresh(&base, taken)
                            } else {
                                base
                            }
                        }
                    };
                    outs.push((n, e));
                }
                outs
            }
            "tdigest" | "hll" | "make_bag" => {
                return Err(KqlError::unsupported(
                    Some(pos),
                    format!("the aggregate {f}()"),
                ));
            }
            // another aggregate of KQL's (or a scalar where an aggregate belongs)
            other => {
                return Err(KqlError::unsupported(
                    Some(pos),
                    format!("the aggregate {other}() (or it is no aggregate)"),
                ));
            }
        })
    }

    fn join(
        &mut self,
        left: Rel,
        right: Rel,
        kind: &str,
        on: &[JoinOn],
        lookup: bool,
        pos: Pos,
    ) -> R<Rel> {
        let jt = match kind {
            "inner" | "innerunique" => JoinType::Inner,
            "leftouter" => JoinType::Left,
            "rightouter" => JoinType::Right,
            "fullouter" => JoinType::Full,
            "leftanti" | "anti" | "leftantisemi" => JoinType::LeftAnti,
            "rightanti" | "rightantisemi" => JoinType::RightAnti,
            "leftsemi" => JoinType::LeftSemi,
            "rightsemi" => JoinType::RightSemi,
            other => {
                return Err(KqlError::plan(
                    Some(pos),
                    format!("unknown join kind '{other}'"),
                ));
            }
        };
        if lookup && !matches!(jt, JoinType::Inner | JoinType::Left) {
            return Err(KqlError::plan(
                Some(pos),
                "lookup kind is leftouter or inner",
            ));
        }
        let pairs: Vec<(String, String)> = on
            .iter()
            .map(|o| match o {
                JoinOn::Same(c) => (c.clone(), c.clone()),
                JoinOn::Pair(a, b) => (a.clone(), b.clone()),
            })
            .collect();
        for (l, r) in &pairs {
            if !left.has(l) {
                return Err(self.unknown_column(&left, l, pos));
            }
            if !right.has(r) {
                return Err(self.unknown_column(&right, r, pos));
            }
        }
        let left = self.clean_all(left)?;
        let right = self.clean_all(right)?;
        // innerunique: one left row per key (Kusto keeps an arbitrary one).
        let left = if kind == "innerunique" && !lookup {
            let keys: Vec<String> = pairs.iter().map(|(l, _)| l.clone()).collect();
            let unique = left
                .unique_on
                .as_ref()
                .is_some_and(|u| u.iter().all(|c| keys.contains(c)));
            if unique {
                left
            } else {
                self.one_per_key(left, &keys, pos)?
            }
        } else {
            left
        };
        let lnames = left.names();
        let rnames = right.names();
        let l = LogicalPlanBuilder::from(left.plan)
            .alias("__l")
            .map_err(|e| df(Some(pos), e))?
            .build()
            .map_err(|e| df(Some(pos), e))?;
        let r = LogicalPlanBuilder::from(right.plan)
            .alias("__r")
            .map_err(|e| df(Some(pos), e))?
            .build()
            .map_err(|e| df(Some(pos), e))?;
        let cond: Vec<DfExpr> = pairs
            .iter()
            .map(|(a, b)| qcol("__l", a).eq(qcol("__r", b)))
            .collect();
        let joined = LogicalPlanBuilder::from(l)
            .join_on(r, jt, cond)
            .map_err(|e| df(Some(pos), e))?;
        let mut exprs = Vec::new();
        let mut taken: HashSet<String> = HashSet::new();
        let left_side = !matches!(jt, JoinType::RightAnti | JoinType::RightSemi);
        let right_side = !matches!(jt, JoinType::LeftAnti | JoinType::LeftSemi);
        let mut left_out = Vec::new();
        let mut right_out = Vec::new();
        if left_side {
            for n in &lnames {
                exprs.push(qcol("__l", n).alias(n.clone()));
                taken.insert(n.clone());
                left_out.push(n.clone());
            }
        }
        if right_side {
            for n in &rnames {
                if lookup && pairs.iter().any(|(_, r)| r == n) {
                    continue;
                }
                let out = if taken.contains(n) {
                    fresh(n, &taken)
                } else {
                    n.clone()
                };
                taken.insert(out.clone());
                right_out.push(out.clone());
                exprs.push(qcol("__r", n).alias(out));
            }
        }
        let plan = joined
            .project(exprs)
            .and_then(|b| b.build())
            .map_err(|e| df(Some(pos), e))?;
        // The side an outer join may not match reads NULL strings: '' in KQL.
        let mut rel = Rel::new(plan);
        let nullable: Vec<String> = match jt {
            JoinType::Left => right_out.clone(),
            JoinType::Right => left_out.clone(),
            JoinType::Full => left_out.iter().chain(&right_out).cloned().collect(),
            _ => Vec::new(),
        };
        rel.raw = rel
            .plan
            .schema()
            .fields()
            .iter()
            .filter(|f| is_string(f.data_type()) && nullable.contains(f.name()))
            .map(|f| f.name().clone())
            .collect();
        Ok(rel)
    }

    fn one_per_key(&self, rel: Rel, keys: &[String], pos: Pos) -> R<Rel> {
        let w = DfExpr::from(WindowFunction::new(
            self.window_udf("row_number", pos)?,
            vec![],
        ))
        .partition_by(keys.iter().map(|k| ucol(k)).collect())
        .build()
        .map_err(|e| df(Some(pos), e))?
        .alias("__rn");
        let names = rel.names();
        let plan = LogicalPlanBuilder::from(rel.plan)
            .window(vec![w])
            .and_then(|b| b.filter(ucol("__rn").eq(lit(1u64))))
            .and_then(|b| b.project(names.iter().map(|n| ucol(n))))
            .and_then(|b| b.build())
            .map_err(|e| df(Some(pos), e))?;
        Ok(Rel {
            unique_on: Some(keys.to_vec()),
            ..Rel::new(plan)
        })
    }

    /// `parse`: one regular expression made of the pattern (text escaped in kind=simple, as it
    /// is in kind=regex, with its own groups made non-capturing), one group per column; the
    /// columns are extended, NULL (`''` for strings) where the text does not match.
    async fn parse_op(
        &mut self,
        rel: Rel,
        kind: &str,
        flags: &str,
        source: &ast::Expr,
        items: &[ast::ParseItem],
        pos: Pos,
    ) -> R<Rel> {
        if !matches!(kind, "simple" | "regex" | "relaxed") {
            return Err(KqlError::plan(
                Some(pos),
                format!("parse kind={kind}: expected simple, regex or relaxed"),
            ));
        }
        let mut re = String::new();
        if !flags.is_empty() {
            if !flags.chars().all(|c| "imsUx".contains(c)) {
                return Err(KqlError::unsupported(
                    Some(pos),
                    format!("parse flags={flags}"),
                ));
            }
            re.push_str(&format!("(?{flags})"));
        }
        if kind != "regex" {
            re.push('^');
        }
        let mut cols = Vec::new();
        for item in items {
            match item {
                ast::ParseItem::Star => re.push_str(".*?"),
                ast::ParseItem::Text(t) if kind == "regex" => re.push_str(&noncapturing(t)),
                ast::ParseItem::Text(t) => re.push_str(&escape_regex(t)),
                ast::ParseItem::Column(n, ty) => {
                    let g = match ty.as_str() {
                        "long" | "int" => r"(-?\d+)",
                        "real" | "double" => r"(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)",
                        "bool" | "boolean" => "(true|false|True|False|TRUE|FALSE|1|0)",
                        // greedy, as Kusto's answers show (flags=U makes it lazy)
                        "string" | "date" | "datetime" | "timespan" | "guid" => "(.*)",
                        other => {
                            return Err(KqlError::unsupported(
                                Some(pos),
                                format!("parse into type {other}"),
                            ));
                        }
                    };
                    if kind == "relaxed" && !g.starts_with("(.") {
                        // relaxed: a value that is not of its type is taken as text up to what
                        // follows it (NULL once converted), and the other columns still parse
                        re.push_str(&format!("({}|.*?)", &g[1..g.len() - 1]));
                    } else {
                        re.push_str(g);
                    }
                    cols.push((n.clone(), ty.clone()));
                }
            }
        }
        let text = self.expr(&rel, source, Ctx::Value).await?;
        let text = self.as_text(&rel, text, source.pos())?;
        let m = self.call_fn("regexp_match", vec![text, lit(re)], pos)?;
        let mut batch = Vec::new();
        for (k, (n, ty)) in cols.iter().enumerate() {
            let v = self.call_fn("array_element", vec![m.clone(), lit(k as i64 + 1)], pos)?;
            let e = match ty.as_str() {
                "string" | "guid" => coalesce(vec![v, lit("")]),
                "date" | "datetime" => self.to_datetime(v, pos)?,
                other => DfExpr::TryCast(TryCast::new(Box::new(v), kql_type(other, pos)?)),
            };
            batch.push((n.clone(), e));
        }
        self.apply_extend(rel, batch)
    }

    /// The first `cap` items of the array `all` (all of them without a cap).
    fn first_n(&self, all: DfExpr, cap: Option<DfExpr>, pos: Pos) -> R<DfExpr> {
        match cap {
            Some(c) => self.call_fn(
                "array_slice",
                vec![all, lit(1i64), cast(c, DataType::Int64)],
                pos,
            ),
            None => Ok(all),
        }
    }

    /// `e` as a dynamic value: as it is if it is one, else its JSON (a list as an array).
    fn to_dynamic(&self, rel: &Rel, e: DfExpr, pos: Pos) -> R<DfExpr> {
        if is_dynamic(&self.type_of(rel, &e, pos)?) {
            Ok(e)
        } else {
            self.call_fn("kql_to_dynamic", vec![e], pos)
        }
    }

    /// The operands of a comparison with a dynamic value: the dynamic side as the other side's
    /// type (its text against a string, its number against a number); two dynamic values
    /// compare as JSON text.
    fn dynamic_operands(
        &self,
        a: DfExpr,
        ta: &DataType,
        b: DfExpr,
        tb: &DataType,
        pos: Pos,
    ) -> R<(DfExpr, DfExpr)> {
        if is_dynamic(ta) && is_dynamic(tb) {
            return Ok((a, b));
        }
        let (d, other, ot, swapped) = if is_dynamic(ta) {
            (a, b, tb, false)
        } else {
            (b, a, ta, true)
        };
        let text = self.call_fn("kql_dyn_tostring", vec![d], pos)?;
        let d = if ot.is_numeric() {
            DfExpr::TryCast(TryCast::new(Box::new(text), DataType::Float64))
        } else if matches!(ot, DataType::Boolean | DataType::Timestamp(..)) {
            DfExpr::TryCast(TryCast::new(Box::new(text), ot.clone()))
        } else {
            text
        };
        Ok(if swapped { (other, d) } else { (d, other) })
    }

    /// KQL's timespan arithmetic, which DataFusion's intervals lack: timespan * number,
    /// number * timespan, timespan / number (a timespan), timespan / timespan (a real: `(t2 -
    /// t1) / 1m` is minutes), and datetime - datetime or timespan +- timespan as a timespan.
    /// Done on nanoseconds; `None` when neither side is a timespan (or the pair is another).
    fn timespan_arith(
        &self,
        rel: &Rel,
        op: &str,
        a: &DfExpr,
        b: &DfExpr,
        pos: Pos,
    ) -> R<Option<DfExpr>> {
        let ta = self.type_of(rel, a, pos)?;
        let tb = self.type_of(rel, b, pos)?;
        let span = |t: &DataType| matches!(t, DataType::Interval(_) | DataType::Duration(_));
        let time = |t: &DataType| matches!(t, DataType::Timestamp(..));
        let num = |t: &DataType| t.is_numeric();
        let nanos = |e: &DfExpr| {
            cast(
                cast(e.clone(), DataType::Duration(TimeUnit::Nanosecond)),
                DataType::Int64,
            )
        };
        let to_span = |n: DfExpr| {
            cast(
                cast(n, DataType::Duration(TimeUnit::Nanosecond)),
                DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
            )
        };
        // a number times / by the nanoseconds: integers exactly, reals rounded to the nanosecond
        let scale = |n: DfExpr, k: &DfExpr, tk: &DataType, div: bool| {
            if tk.is_integer() {
                let k = cast(k.clone(), DataType::Int64);
                if div { n / k } else { n * k }
            } else {
                let f = cast(n, DataType::Float64);
                let k = cast(k.clone(), DataType::Float64);
                let v = if div { f / k } else { f * k };
                cast(v, DataType::Int64)
            }
        };
        Ok(Some(match op {
            "*" if span(&ta) && num(&tb) => to_span(scale(nanos(a), b, &tb, false)),
            "*" if num(&ta) && span(&tb) => to_span(scale(nanos(b), a, &ta, false)),
            "/" if span(&ta) && span(&tb) => {
                cast(nanos(a), DataType::Float64) / cast(nanos(b), DataType::Float64)
            }
            "/" if span(&ta) && num(&tb) => to_span(scale(nanos(a), b, &tb, true)),
            "-" if time(&ta) && time(&tb) => to_span(nanos(&(a.clone() - b.clone()))),
            "+" | "-" if span(&ta) && span(&tb) && ta != tb => {
                let (x, y) = (nanos(a), nanos(b));
                to_span(if op == "+" { x + y } else { x - y })
            }
            _ => return Ok(None),
        }))
    }

    /// Text as a datetime as KQL reads it: ISO 8601 / RFC 3339, and the US form
    /// `MM/dd/yyyy HH:mm[:ss]`, around white space (a line break `parse flags=s` took along);
    /// anything else is NULL.
    fn to_datetime(&self, v: DfExpr, pos: Pos) -> R<DfExpr> {
        let ts = utc_datetime();
        let v = self.call_fn("btrim", vec![v, lit(" \t\r\n")], pos)?;
        let us = self.call_fn(
            "regexp_like",
            vec![
                v.clone(),
                lit(r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?$"),
            ],
            pos,
        )?;
        let parsed = self.call_fn(
            "to_timestamp",
            vec![v.clone(), lit("%m/%d/%Y %H:%M:%S"), lit("%m/%d/%Y %H:%M")],
            pos,
        )?;
        Ok(DfExpr::Case(datafusion::logical_expr::expr::Case::new(
            None,
            vec![(Box::new(us), Box::new(cast(parsed, ts.clone())))],
            Some(Box::new(DfExpr::TryCast(TryCast::new(Box::new(v), ts)))),
        )))
    }

    fn getschema(&self, rel: Rel, pos: Pos) -> R<Rel> {
        let mut rows = Vec::new();
        for (i, f) in rel.schema().fields().iter().enumerate() {
            let (net, kql) = kql_type_name(f.data_type());
            rows.push(vec![
                lit(f.name().clone()),
                lit(i as i32),
                lit(net),
                lit(kql),
            ]);
        }
        let b = LogicalPlanBuilder::values(rows).map_err(|e| df(Some(pos), e))?;
        let names: Vec<String> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let plan = b
            .project(
                names
                    .iter()
                    .zip(["ColumnName", "ColumnOrdinal", "DataType", "ColumnType"])
                    .map(|(n, a)| ucol(n).alias(a)),
            )
            .and_then(|b| b.build())
            .map_err(|e| df(Some(pos), e))?;
        Ok(Rel::new(plan))
    }

    // -------------------------------------------------------------------------------------
    // Functions

    fn call_fn(&self, name: &str, args: Vec<DfExpr>, pos: Pos) -> R<DfExpr> {
        let f = self
            .state
            .scalar_functions()
            .get(name)
            .cloned()
            .ok_or_else(|| {
                KqlError::plan(
                    Some(pos),
                    format!("the function {name} is not registered in this session"),
                )
            })?;
        Ok(DfExpr::ScalarFunction(ScalarFunction::new_udf(f, args)))
    }

    fn agg_fn(&self, name: &str, args: Vec<DfExpr>, distinct: bool, pos: Pos) -> R<DfExpr> {
        self.aggregate_call(name, args, distinct, vec![], pos)
    }

    fn agg_fn_ordered(
        &self,
        name: &str,
        args: Vec<DfExpr>,
        order: Vec<SortExpr>,
        pos: Pos,
    ) -> R<DfExpr> {
        self.aggregate_call(name, args, false, order, pos)
    }

    /// A call of the session's aggregate `name`.
    fn aggregate_call(
        &self,
        name: &str,
        args: Vec<DfExpr>,
        distinct: bool,
        order: Vec<SortExpr>,
        pos: Pos,
    ) -> R<DfExpr> {
        let f = self.aggregate_udf(name, pos)?;
        Ok(DfExpr::AggregateFunction(AggregateFunction::new_udf(
            f, args, distinct, None, order, None,
        )))
    }

    /// The session's aggregate `name`.
    fn aggregate_udf(
        &self,
        name: &str,
        pos: Pos,
    ) -> R<Arc<datafusion::logical_expr::AggregateUDF>> {
        self.state
            .aggregate_functions()
            .get(name)
            .cloned()
            .ok_or_else(|| {
                KqlError::plan(
                    Some(pos),
                    format!("the aggregate {name} is not registered in this session"),
                )
            })
    }

    /// The session's window function `name`.
    fn window_udf(&self, name: &str, pos: Pos) -> R<WindowFunctionDefinition> {
        self.state
            .window_functions()
            .get(name)
            .cloned()
            .map(WindowFunctionDefinition::WindowUDF)
            .ok_or_else(|| {
                KqlError::plan(
                    Some(pos),
                    format!("the window function {name} is not registered in this session"),
                )
            })
    }

    // -------------------------------------------------------------------------------------
    // Scalar expressions

    async fn expr(&mut self, rel: &Rel, e: &ast::Expr, ctx: Ctx) -> R<DfExpr> {
        Box::pin(self.expr_inner(rel, e, ctx)).await
    }

    fn type_of(&self, rel: &Rel, e: &DfExpr, pos: Pos) -> R<DataType> {
        e.get_type(rel.schema()).map_err(|err| df(Some(pos), err))
    }

    async fn expr_inner(&mut self, rel: &Rel, e: &ast::Expr, ctx: Ctx) -> R<DfExpr> {
        match e {
            ast::Expr::Lit(l, pos) => literal(l, *pos),
            ast::Expr::Col(name, pos) => {
                if rel.has(name) {
                    return Ok(self.col_value(rel, name));
                }
                match self.lookup(name).cloned() {
                    Some(Binding::Scalar(x)) => return self.expr(rel, &x, ctx).await,
                    Some(Binding::Planned(x)) => return Ok(x),
                    Some(Binding::Tab(_)) => {
                        return Err(KqlError::plan(
                            Some(*pos),
                            format!(
                                "'{name}' is a table, used as a value (toscalar({name}) gives its first value)"
                            ),
                        ));
                    }
                    _ => {}
                }
                if self.opts.params.iter().any(|p| p == name) {
                    return Ok(DfExpr::Placeholder(
                        datafusion::logical_expr::expr::Placeholder::new_with_field(
                            format!("${name}"),
                            None,
                        ),
                    ));
                }
                Err(self.unknown_column(rel, name, *pos))
            }
            ast::Expr::Neg(x, _) => {
                let v = self.expr(rel, x, Ctx::Value).await?;
                Ok(DfExpr::Negative(Box::new(v)))
            }
            ast::Expr::Bag(_, pos) => match ast_json(e) {
                Some(v) => Ok(json_lit(&v)),
                None => Err(KqlError::unsupported(
                    Some(*pos),
                    "a property bag of values that are not constants",
                )),
            },
            ast::Expr::Member(base, key, pos) => {
                let b = Box::pin(self.expr(rel, base, Ctx::Value)).await?;
                let k = Box::pin(self.expr(rel, key, Ctx::Value)).await?;
                let tb = self.type_of(rel, &b, *pos)?;
                let tk = self.type_of(rel, &k, *pos)?;
                match tb {
                    DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                        if tk.is_integer() =>
                    {
                        // 0-based, negative from the end (DataFusion: 1-based, -1 the last)
                        let k = cast(k, DataType::Int64);
                        let at = DfExpr::Case(datafusion::logical_expr::expr::Case::new(
                            None,
                            vec![(
                                Box::new(k.clone().gt_eq(lit(0i64))),
                                Box::new(k.clone() + lit(1i64)),
                            )],
                            Some(Box::new(k)),
                        ));
                        self.call_fn("array_element", vec![b, at], *pos)
                    }
                    t if is_dynamic(&t) => self.call_fn("kql_dyn_get", vec![b, k], *pos),
                    t => Err(KqlError::plan(
                        Some(*pos),
                        format!(
                            "{} has no members: it is a {} value (parse_json() makes text dynamic)",
                            kql_type_name(&t).1,
                            kql_type_name(&t).1
                        ),
                    )),
                }
            }
            ast::Expr::Array(items, pos) if needs_json(items) => match ast_json(e) {
                Some(v) => Ok(json_lit(&v)),
                None => Err(KqlError::unsupported(
                    Some(*pos),
                    "an array of mixed values that are not constants",
                )),
            },
            ast::Expr::Array(items, pos) => {
                let mut vals = Vec::new();
                for i in items {
                    vals.push(self.expr(rel, i, Ctx::Value).await?);
                }
                self.call_fn("make_array", vals, *pos)
            }
            ast::Expr::Star(pos) => Err(KqlError::plan(Some(*pos), "'*' is not a value here")),
            ast::Expr::NamedArg(n, _, pos) => Err(KqlError::plan(
                Some(*pos),
                format!("named argument {n}= is not expected here"),
            )),
            ast::Expr::Tabular(t, pos) => {
                // A table used as a value: its first column's first row (toscalar).
                let r = Box::pin(self.tabular(t)).await?;
                self.scalar_subquery(r, *pos)
            }
            ast::Expr::Between {
                negated,
                expr,
                lo,
                hi,
                pos,
            } => {
                let x = self.expr(rel, expr, Ctx::Value).await?;
                let a = self.expr(rel, lo, Ctx::Value).await?;
                let mut b = self.expr(rel, hi, Ctx::Value).await?;
                let ta = self.type_of(rel, &a, *pos)?;
                let tb = self.type_of(rel, &b, *pos)?;
                if matches!(ta, DataType::Timestamp(..)) && matches!(tb, DataType::Interval(_)) {
                    b = a.clone() + b;
                }
                let inside = x.clone().gt_eq(a).and(x.lt_eq(b));
                Ok(if *negated {
                    DfExpr::Not(Box::new(inside))
                } else {
                    inside
                })
            }
            ast::Expr::InTable { pos, .. } => Err(KqlError::unsupported(
                Some(*pos),
                "in (table) other than as a condition of where joined by 'and'",
            )),
            ast::Expr::InList {
                op,
                expr,
                list,
                pos,
            } => self.in_list(rel, op, expr, list, *pos, ctx).await,
            ast::Expr::Binary {
                op,
                left,
                right,
                pos,
            } => self.binary(rel, op, left, right, *pos, ctx).await,
            ast::Expr::Call { name, args, pos } => self.call(rel, name, args, *pos, ctx).await,
        }
    }

    fn scalar_subquery(&self, r: Rel, pos: Pos) -> R<DfExpr> {
        let r = self.clean_all(r)?;
        let first = r
            .names()
            .into_iter()
            .next()
            .ok_or_else(|| KqlError::plan(Some(pos), "toscalar of a table without columns"))?;
        let plan = LogicalPlanBuilder::from(r.plan)
            .project(vec![ucol(&first)])
            .and_then(|b| b.limit(0, Some(1)))
            .and_then(|b| b.build())
            .map_err(|e| df(Some(pos), e))?;
        Ok(DfExpr::ScalarSubquery(Subquery {
            subquery: Arc::new(plan),
            outer_ref_columns: vec![],
            spans: Default::default(),
        }))
    }

    /// A string value: strings as they are, anything else through `tostring`.
    fn as_text(&self, rel: &Rel, e: DfExpr, pos: Pos) -> R<DfExpr> {
        let t = self.type_of(rel, &e, pos)?;
        Ok(if is_string(&t) {
            e
        } else if is_dynamic(&t) {
            // a dynamic string's own text, anything else its JSON
            coalesce(vec![
                self.call_fn("kql_dyn_tostring", vec![e], pos)?,
                lit(""),
            ])
        } else if matches!(
            t,
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
        ) {
            // an array's text is its JSON, as Kusto writes it
            let d = self.call_fn("kql_to_dynamic", vec![e], pos)?;
            coalesce(vec![
                self.call_fn("kql_dyn_tostring", vec![d], pos)?,
                lit(""),
            ])
        } else {
            coalesce(vec![cast(e, DataType::Utf8), lit("")])
        })
    }

    /// The operands of a string comparison in a `Keep` context: a raw column compared with a
    /// non-empty literal stays raw (NULL and '' are both no match).
    async fn text_operands(
        &mut self,
        rel: &Rel,
        l: &ast::Expr,
        r: &ast::Expr,
        ctx: Ctx,
    ) -> R<(DfExpr, DfExpr)> {
        let nonempty_lit = matches!(r, ast::Expr::Lit(Lit::Str(s), _) if !s.is_empty());
        let a = match l {
            ast::Expr::Col(n, _) if ctx == Ctx::Keep && nonempty_lit && rel.raw.contains(n) => {
                ucol(n)
            }
            _ => self.expr(rel, l, Ctx::Value).await?,
        };
        let b = self.expr(rel, r, Ctx::Value).await?;
        let a = self.as_text(rel, a, l.pos())?;
        let b = self.as_text(rel, b, r.pos())?;
        Ok((a, b))
    }

    async fn binary(
        &mut self,
        rel: &Rel,
        op: &str,
        l: &ast::Expr,
        r: &ast::Expr,
        pos: Pos,
        ctx: Ctx,
    ) -> R<DfExpr> {
        let negated = op.starts_with('!') && op != "!=" && op != "!~";
        let bare = op.trim_start_matches('!');
        let not = |e: DfExpr| DfExpr::Not(Box::new(e));
        match op {
            "and" | "or" => {
                let a = self.expr(rel, l, ctx).await?;
                let b = self.expr(rel, r, ctx).await?;
                return Ok(if op == "and" { a.and(b) } else { a.or(b) });
            }
            "==" | "!=" | "<>" => {
                // Strings: compare (raw in a Keep context against a literal); others: two-valued
                // against a null.
                let a0 = self.expr(rel, l, Ctx::Value).await?;
                let ta = self.type_of(rel, &a0, pos)?;
                let b0 = self.expr(rel, r, Ctx::Value).await?;
                let tb = self.type_of(rel, &b0, pos)?;
                if is_dynamic(&ta) || is_dynamic(&tb) {
                    let (a, b) = self.dynamic_operands(a0, &ta, b0, &tb, pos)?;
                    let eq = op == "==";
                    let cmp = if eq { a.eq(b) } else { a.not_eq(b) };
                    return Ok(coalesce(vec![cmp, lit(!eq)]));
                }
                if is_string(&ta) && op == "==" {
                    let (a, b) = self.text_operands(rel, l, r, ctx).await?;
                    return Ok(a.eq(b));
                }
                let b = self.expr(rel, r, Ctx::Value).await?;
                let eq = op == "==";
                let cmp = if eq {
                    a0.clone().eq(b.clone())
                } else {
                    a0.clone().not_eq(b.clone())
                };
                let l_lit = matches!(l, ast::Expr::Lit(x, _) if *x != Lit::Null && !matches!(x, Lit::TypedNull(_)));
                let r_lit = matches!(r, ast::Expr::Lit(x, _) if *x != Lit::Null && !matches!(x, Lit::TypedNull(_)));
                if is_string(&ta) {
                    return Ok(cmp);
                }
                if eq && ctx == Ctx::Keep {
                    return Ok(cmp);
                }
                if l_lit || r_lit {
                    return Ok(coalesce(vec![cmp, lit(!eq)]));
                }
                // null op null is null; null op value is false (==) / true (!=)
                let both = a0.clone().is_null().and(b.clone().is_null());
                let one = a0.is_null().or(b.is_null());
                return Ok(DfExpr::Case(datafusion::logical_expr::expr::Case::new(
                    None,
                    vec![
                        (Box::new(both), Box::new(lit(ScalarValue::Boolean(None)))),
                        (Box::new(one), Box::new(lit(!eq))),
                    ],
                    Some(Box::new(cmp)),
                )));
            }
            "=~" | "!~" => {
                let (a, b) = self.text_operands(rel, l, r, ctx).await?;
                let e =
                    self.call_fn("lower", vec![a], pos)?
                        .eq(self.call_fn("lower", vec![b], pos)?);
                return Ok(if op == "!~" { not(e) } else { e });
            }
            "<" | "<=" | ">" | ">=" => {
                let a = self.expr(rel, l, Ctx::Value).await?;
                let b = self.expr(rel, r, Ctx::Value).await?;
                let ta = self.type_of(rel, &a, pos)?;
                let tb = self.type_of(rel, &b, pos)?;
                let (a, b) = if is_dynamic(&ta) || is_dynamic(&tb) {
                    self.dynamic_operands(a, &ta, b, &tb, pos)?
                } else {
                    (a, b)
                };
                return Ok(match op {
                    "<" => a.lt(b),
                    "<=" => a.lt_eq(b),
                    ">" => a.gt(b),
                    _ => a.gt_eq(b),
                });
            }
            "+" | "-" | "*" | "/" | "%" => {
                let a = self.expr(rel, l, Ctx::Value).await?;
                let b = self.expr(rel, r, Ctx::Value).await?;
                if let Some(e) = self.timespan_arith(rel, op, &a, &b, pos)? {
                    return Ok(e);
                }
                return Ok(match op {
                    "+" => a + b,
                    "-" => a - b,
                    "*" => a * b,
                    "/" => a / b,
                    _ => a % b,
                });
            }
            "matches regex" => {
                let (a, b) = self.text_operands(rel, l, r, ctx).await?;
                return self.call_fn("regexp_like", vec![a, b], pos);
            }
            _ => {}
        }
        let (a, b) = self
            .text_operands(rel, l, r, if negated { Ctx::Value } else { ctx })
            .await?;
        let lower = |s: &Self, e: DfExpr| s.call_fn("lower", vec![e], pos);
        let e = match bare {
            "has" => self.call_fn("kql_has", vec![a, b], pos)?,
            "has_cs" => self.call_fn("kql_has_cs", vec![a, b], pos)?,
            "contains" => self
                .call_fn("strpos", vec![lower(self, a)?, lower(self, b)?], pos)?
                .gt(lit(0i32)),
            "contains_cs" => self.call_fn("strpos", vec![a, b], pos)?.gt(lit(0i32)),
            "startswith" => {
                self.call_fn("starts_with", vec![lower(self, a)?, lower(self, b)?], pos)?
            }
            "startswith_cs" => self.call_fn("starts_with", vec![a, b], pos)?,
            "endswith" => self.call_fn("kql_endswith", vec![a, b], pos)?,
            "endswith_cs" => self.call_fn("ends_with", vec![a, b], pos)?,
            other => {
                return Err(KqlError::unsupported(
                    Some(pos),
                    format!("the operator {other}"),
                ));
            }
        };
        Ok(if negated { not(e) } else { e })
    }

    /// The items of an `in` list, with arrays (`dynamic([...])`, a `let` of one) spread out.
    fn spread<'e>(&'e self, list: &'e [ast::Expr], out: &mut Vec<ast::Expr>) {
        for i in list {
            match i {
                ast::Expr::Array(items, _) => self.spread(items, out),
                ast::Expr::Col(n, _) => match self.lookup(n) {
                    Some(Binding::Scalar(ast::Expr::Array(items, _))) => {
                        let items = items.clone();
                        let mut inner = Vec::new();
                        self.spread(&items, &mut inner);
                        out.extend(inner);
                    }
                    _ => out.push(i.clone()),
                },
                other => out.push(other.clone()),
            }
        }
    }

    async fn in_list(
        &mut self,
        rel: &Rel,
        op: &str,
        x: &ast::Expr,
        list: &[ast::Expr],
        pos: Pos,
        ctx: Ctx,
    ) -> R<DfExpr> {
        let mut items = Vec::new();
        self.spread(list, &mut items);
        let negated = op.starts_with('!');
        let bare = op.trim_start_matches('!');
        let mut vals = Vec::new();
        for i in &items {
            vals.push(self.expr(rel, i, Ctx::Value).await?);
        }
        match bare {
            "has_any" | "has_all" => {
                let xv = self.expr(rel, x, Ctx::Value).await?;
                let xv = self.as_text(rel, xv, pos)?;
                let mut args = vec![xv];
                for (v, i) in vals.into_iter().zip(&items) {
                    args.push(self.as_text(rel, v, i.pos())?);
                }
                let e = self.call_fn(
                    if bare == "has_any" {
                        "kql_has_any"
                    } else {
                        "kql_has_all"
                    },
                    args,
                    pos,
                )?;
                Ok(if negated { DfExpr::Not(Box::new(e)) } else { e })
            }
            "in" | "in~" => {
                let xv = self.expr(rel, x, Ctx::Value).await?;
                let tx = self.type_of(rel, &xv, pos)?;
                let ci = bare == "in~";
                let (xv, vals) = if ci {
                    let xv = self.call_fn("lower", vec![self.as_text(rel, xv, pos)?], pos)?;
                    let mut out = Vec::new();
                    for (v, i) in vals.into_iter().zip(&items) {
                        out.push(self.call_fn(
                            "lower",
                            vec![self.as_text(rel, v, i.pos())?],
                            pos,
                        )?);
                    }
                    (xv, out)
                } else {
                    (xv, vals)
                };
                if vals.is_empty() {
                    return Ok(lit(negated));
                }
                // integer literals in the column's own integer type: no cast of every row
                let vals: Vec<DfExpr> = vals
                    .into_iter()
                    .map(|v| match &v {
                        DfExpr::Literal(sv @ ScalarValue::Int64(Some(_)), _)
                            if tx.is_integer() && !ci =>
                        {
                            sv.cast_to(&tx).map(lit).unwrap_or(v)
                        }
                        _ => v,
                    })
                    .collect();
                let e = xv.in_list(vals, negated);
                // in is an OR of ==, !in an AND of !=: a null value is not in, and is !in.
                Ok(if is_string(&tx) || (ctx == Ctx::Keep && !negated) {
                    e
                } else {
                    coalesce(vec![e, lit(negated)])
                })
            }
            other => Err(KqlError::unsupported(
                Some(pos),
                format!("the operator {other}"),
            )),
        }
    }

    async fn call(
        &mut self,
        rel: &Rel,
        name: &str,
        args: &[ast::Expr],
        pos: Pos,
        ctx: Ctx,
    ) -> R<DfExpr> {
        // A let-bound lambda: its body with the arguments in place of the parameters.
        if let Some(Binding::Function(params, body)) = self.lookup(name).cloned() {
            if body.body.is_some() {
                return Err(KqlError::plan(
                    Some(pos),
                    format!("{name}() returns a table, used as a value"),
                ));
            }
            let Some(scalar) = body.scalar.clone() else {
                return Err(KqlError::plan(Some(pos), format!("{name}() has no body")));
            };
            let mut scope = HashMap::new();
            for (i, p) in params.iter().enumerate() {
                let arg = args.get(i).or(p.default.as_ref()).ok_or_else(|| {
                    KqlError::plan(Some(pos), format!("{name}() needs a value for {}", p.name))
                })?;
                scope.insert(
                    p.name.clone(),
                    Binding::Planned(self.expr(rel, arg, Ctx::Value).await?),
                );
            }
            // The parameters shadow the row's columns inside the body.
            let names: Vec<String> = scope.keys().cloned().collect();
            self.scopes.push(scope);
            for l in &body.lets {
                if let Err(e) = Box::pin(self.bind_let(l)).await {
                    self.scopes.pop();
                    return Err(e);
                }
            }
            let shadowed = Rel {
                raw: rel.raw.clone(),
                order: rel.order.clone(),
                ..Rel::new(rel.plan.clone())
            };
            let r = if names.iter().any(|n| shadowed.has(n)) {
                // a parameter named like a column: plan the body against a schema without it
                Err(KqlError::unsupported(
                    Some(pos),
                    format!("a parameter of {name}() named like a column"),
                ))
            } else {
                self.expr(&shadowed, &scalar, ctx).await
            };
            self.scopes.pop();
            return r;
        }
        let mut v = Vec::new();
        let arg = |k: usize| {
            args.get(k)
                .ok_or_else(|| KqlError::plan(Some(pos), format!("{name}() needs more arguments")))
        };
        macro_rules! val {
            ($k:expr) => {
                self.expr(rel, arg($k)?, Ctx::Value).await?
            };
        }
        macro_rules! text {
            ($k:expr) => {{
                let e = val!($k);
                self.as_text(rel, e, arg($k)?.pos())?
            }};
        }
        let e = match name {
            "not" => DfExpr::Not(Box::new(val!(0))),
            "isempty" | "isnotempty" => {
                let x = match arg(0)? {
                    ast::Expr::Col(n, _) if rel.raw.contains(n) => ucol(n),
                    _ => val!(0),
                };
                let t = self.type_of(rel, &x, pos)?;
                let empty = if is_string(&t) {
                    x.clone().is_null().or(x.eq(lit("")))
                } else {
                    x.is_null()
                };
                if name == "isempty" {
                    empty
                } else {
                    DfExpr::Not(Box::new(empty))
                }
            }
            "isnull" | "isnotnull" => {
                let x = val!(0);
                let t = self.type_of(rel, &x, pos)?;
                if is_string(&t) {
                    lit(name == "isnotnull")
                } else if name == "isnull" {
                    x.is_null()
                } else {
                    x.is_not_null()
                }
            }
            "iff" | "iif" => {
                let c = self.expr(rel, arg(0)?, Ctx::Keep).await?;
                DfExpr::Case(datafusion::logical_expr::expr::Case::new(
                    None,
                    vec![(Box::new(c), Box::new(val!(1)))],
                    Some(Box::new(val!(2))),
                ))
            }
            "case" => {
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return Err(KqlError::plan(
                        Some(pos),
                        "case() takes pairs of condition, value and an else value",
                    ));
                }
                let mut whens = Vec::new();
                for k in (0..args.len() - 1).step_by(2) {
                    let c = self.expr(rel, &args[k], Ctx::Keep).await?;
                    whens.push((Box::new(c), Box::new(val!(k + 1))));
                }
                DfExpr::Case(datafusion::logical_expr::expr::Case::new(
                    None,
                    whens,
                    Some(Box::new(val!(args.len() - 1))),
                ))
            }
            "coalesce" => {
                for k in 0..args.len() {
                    let x = val!(k);
                    let t = self.type_of(rel, &x, pos)?;
                    // KQL's coalesce skips empty strings too
                    v.push(if is_string(&t) {
                        self.call_fn("nullif", vec![x, lit("")], pos)?
                    } else {
                        x
                    });
                }
                let t = self.type_of(rel, &v[0], pos)?;
                if is_string(&t) {
                    v.push(lit(""));
                }
                coalesce(v)
            }
            "tostring" => {
                let x = val!(0);
                self.as_text(rel, x, pos)?
            }
            "bag_keys" => {
                let x = val!(0);
                let d = self.to_dynamic(rel, x, pos)?;
                self.call_fn("kql_bag_keys", vec![d], pos)?
            }
            "bag_has_key" => {
                let x = val!(0);
                let d = self.to_dynamic(rel, x, pos)?;
                let k = text!(1);
                self.call_fn("kql_bag_has_key", vec![d, k], pos)?
            }
            "bag_remove_keys" => {
                let x = val!(0);
                let d = self.to_dynamic(rel, x, pos)?;
                let y = val!(1);
                let k = self.to_dynamic(rel, y, pos)?;
                self.call_fn("kql_bag_remove_keys", vec![d, k], pos)?
            }
            "bag_merge" => {
                let mut bags = Vec::new();
                for k in 0..args.len() {
                    let x = val!(k);
                    bags.push(self.to_dynamic(rel, x, pos)?);
                }
                self.call_fn("kql_bag_merge", bags, pos)?
            }
            "bag_pack" | "pack" => {
                let members: Option<Vec<(String, ast::Expr)>> = args
                    .chunks(2)
                    .map(|kv| match kv {
                        [ast::Expr::Lit(Lit::Str(k), _), v] => Some((k.clone(), v.clone())),
                        _ => None,
                    })
                    .collect();
                let bag = members
                    .filter(|_| args.len().is_multiple_of(2))
                    .map(|m| ast::Expr::Bag(m, pos))
                    .and_then(|b| ast_json(&b));
                match bag {
                    // constants: the bag itself
                    Some(v) => json_lit(&v),
                    None => {
                        let mut a = Vec::new();
                        for k in 0..args.len() {
                            a.push(val!(k));
                        }
                        self.call_fn("kql_bag_pack", a, pos)?
                    }
                }
            }
            "pack_array" => {
                let arr = ast::Expr::Array(args.to_vec(), pos);
                Box::pin(self.expr(rel, &arr, Ctx::Value)).await?
            }
            "parse_json" | "todynamic" => {
                let x = val!(0);
                if is_dynamic(&self.type_of(rel, &x, pos)?) {
                    x
                } else {
                    let t = self.as_text(rel, x, pos)?;
                    self.call_fn("kql_parse_json", vec![t], pos)?
                }
            }
            "toint" | "tolong" | "toreal" | "todouble" | "todatetime" | "tobool" | "toboolean"
            | "int" | "long" | "real" | "double" | "bool" | "boolean" | "todecimal" => {
                let t = match name {
                    "toint" | "int" => DataType::Int32,
                    "tolong" | "long" => DataType::Int64,
                    "toreal" | "todouble" | "real" | "double" | "todecimal" => DataType::Float64,
                    "todatetime" => utc_datetime(),
                    _ => DataType::Boolean,
                };
                let x = val!(0);
                let tx = self.type_of(rel, &x, pos)?;
                // a dynamic value converts as its text does (a JSON number's digits)
                let (x, tx) = if is_dynamic(&tx) {
                    (
                        self.call_fn("kql_dyn_tostring", vec![x], pos)?,
                        DataType::Utf8,
                    )
                } else {
                    (x, tx)
                };
                if name == "todatetime" && is_string(&tx) {
                    return self.to_datetime(x, pos);
                }
                // a string that is not a number is null, as in KQL; a real truncates toward 0
                let x = if is_string(&tx) && matches!(t, DataType::Int32 | DataType::Int64) {
                    DfExpr::TryCast(TryCast::new(
                        Box::new(DfExpr::TryCast(TryCast::new(
                            Box::new(x),
                            DataType::Float64,
                        ))),
                        t.clone(),
                    ))
                } else {
                    x
                };
                DfExpr::TryCast(TryCast::new(Box::new(x), t))
            }
            "tolower" => {
                let __a0 = text!(0);
                self.call_fn("lower", vec![__a0], pos)
            }?,
            "toupper" => {
                let __a0 = text!(0);
                self.call_fn("upper", vec![__a0], pos)
            }?,
            "strlen" => cast(
                {
                    let __a0 = text!(0);
                    self.call_fn("character_length", vec![__a0], pos)
                }?,
                DataType::Int64,
            ),
            "strcat" => {
                let mut parts = Vec::new();
                for k in 0..args.len() {
                    parts.push(text!(k));
                }
                self.call_fn("concat", parts, pos)?
            }
            "substring" => {
                let s = text!(0);
                let start = val!(1) + lit(1i64);
                let mut a = vec![s, start];
                if args.len() > 2 {
                    a.push(val!(2));
                }
                coalesce(vec![self.call_fn("substr", a, pos)?, lit("")])
            }
            "split" => {
                if args.len() > 2 {
                    return Err(KqlError::unsupported(
                        Some(pos),
                        "split() with a part index",
                    ));
                }
                let s = text!(0);
                let d = text!(1);
                let parts = self.call_fn("string_to_array", vec![s.clone(), d], pos)?;
                // split("", ",") is [""] in KQL
                DfExpr::Case(datafusion::logical_expr::expr::Case::new(
                    None,
                    vec![(
                        Box::new(s.eq(lit(""))),
                        Box::new(self.call_fn("make_array", vec![lit("")], pos)?),
                    )],
                    Some(Box::new(parts)),
                ))
            }
            "replace_string" => {
                let __a0 = text!(0);
                let __a1 = text!(1);
                let __a2 = text!(2);
                self.call_fn("replace", vec![__a0, __a1, __a2], pos)
            }?,
            "extract" => {
                // nethunt-udfs' second_level_domain(h) is exactly this extract (the semantics
                // sheet, section 5), without a regular expression per row
                if args.len() == 3
                    && matches!(arg(0)?, ast::Expr::Lit(Lit::Str(r), _) if r == "([^.]*).{0,7}$")
                    && matches!(arg(1)?, ast::Expr::Lit(Lit::Int(1), _))
                {
                    let s = text!(2);
                    return self.call_fn("second_level_domain", vec![s], pos);
                }
                let re = text!(0);
                let n = match arg(1)? {
                    ast::Expr::Lit(Lit::Int(n), _) if *n >= 0 => *n,
                    other => {
                        return Err(KqlError::plan(
                            Some(other.pos()),
                            "extract(): the group must be a constant",
                        ));
                    }
                };
                if args.len() > 3 {
                    return Err(KqlError::unsupported(Some(pos), "extract() with a type"));
                }
                let s = text!(2);
                let re = if n == 0 {
                    self.call_fn("concat", vec![lit("("), re, lit(")")], pos)?
                } else {
                    re
                };
                let m = self.call_fn("regexp_match", vec![s, re], pos)?;
                let k = if n == 0 { 1 } else { n };
                let item = self.call_fn("array_element", vec![m, lit(k)], pos)?;
                coalesce(vec![item, lit("")])
            }
            "ipv4_is_private" => {
                // NULL and '' both give NULL: the column as it is, no coalesce
                let x = match arg(0)? {
                    ast::Expr::Col(n, _) if rel.raw.contains(n) => ucol(n),
                    _ => text!(0),
                };
                self.call_fn("ipv4_is_private", vec![x], pos)
            }?,
            "ipv4_is_in_range" => {
                let __a0 = text!(0);
                let __a1 = text!(1);
                self.call_fn("ipv4_is_in_range", vec![__a0, __a1], pos)
            }?,
            "has_ipv4" | "has_ipv4_prefix" | "has_any_ipv4" | "has_any_ipv4_prefix" => {
                if !name.contains("any") && args.len() != 2 {
                    return Err(KqlError::plan(
                        Some(pos),
                        format!("{name}() takes the text and one address or prefix"),
                    ));
                }
                let mut a = vec![text!(0)];
                let mut items = Vec::new();
                self.spread(&args[1..], &mut items);
                for i in &items {
                    let e = self.expr(rel, i, Ctx::Value).await?;
                    a.push(self.as_text(rel, e, i.pos())?);
                }
                if a.len() == 1 {
                    lit(false) // nothing to find
                } else if name.ends_with("prefix") {
                    self.call_fn("has_any_ipv4_prefix", a, pos)?
                } else {
                    self.call_fn("has_any_ipv4", a, pos)?
                }
            }
            "ipv4_is_in_any_range" => {
                let mut a = vec![text!(0)];
                let mut items = Vec::new();
                self.spread(&args[1..], &mut items);
                for i in &items {
                    let e = self.expr(rel, i, Ctx::Value).await?;
                    a.push(self.as_text(rel, e, i.pos())?);
                }
                self.call_fn("ipv4_is_in_any_range", a, pos)?
            }
            "now" => {
                let n = cast(self.call_fn("now", vec![], pos)?, utc_datetime());
                if args.is_empty() { n } else { n + val!(0) }
            }
            "ago" => cast(self.call_fn("now", vec![], pos)?, utc_datetime()) - val!(0),
            "bin" | "floor" => {
                let x = val!(0);
                let s = val!(1);
                let tx = self.type_of(rel, &x, pos)?;
                if matches!(tx, DataType::Timestamp(..)) {
                    self.call_fn("date_bin", vec![s, x, ts_lit(0)], pos)?
                } else {
                    let f = self.call_fn(
                        "floor",
                        vec![cast(x, DataType::Float64) / cast(s.clone(), DataType::Float64)],
                        pos,
                    )?;
                    let st = self.type_of(rel, &s, pos)?;
                    let out = if tx.is_integer() && st.is_integer() {
                        DataType::Int64
                    } else {
                        DataType::Float64
                    };
                    cast(f * cast(s, DataType::Float64), out)
                }
            }
            "datetime_diff" => {
                let __a0 = text!(0);
                let __a1 = val!(1);
                let __a2 = val!(2);
                self.call_fn("datetime_diff", vec![__a0, __a1, __a2], pos)
            }?,
            "array_length" => {
                let x = val!(0);
                let t = self.type_of(rel, &x, pos)?;
                if matches!(
                    t,
                    DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                ) {
                    cast(self.call_fn("array_length", vec![x], pos)?, DataType::Int64)
                } else if is_dynamic(&t) {
                    self.call_fn("kql_dyn_length", vec![x], pos)?
                } else {
                    lit(ScalarValue::Int64(None))
                }
            }
            "abs" => {
                let __a0 = val!(0);
                self.call_fn("abs", vec![__a0], pos)
            }?,
            "round" => {
                let x = val!(0);
                let mut a = vec![x];
                if args.len() > 1 {
                    a.push(cast(val!(1), DataType::Int64));
                }
                self.call_fn("round", a, pos)?
            }
            "sqrt" | "exp" | "log10" | "log2" => {
                let x = val!(0);
                self.call_fn(name, vec![cast(x, DataType::Float64)], pos)?
            }
            "log" => {
                let __a0 = cast(val!(0), DataType::Float64);
                self.call_fn("ln", vec![__a0], pos)
            }?,
            "pow" => {
                let __a0 = cast(val!(0), DataType::Float64);
                let __a1 = cast(val!(1), DataType::Float64);
                self.call_fn("power", vec![__a0, __a1], pos)
            }?,
            "startofday" => {
                let __a0 = lit("day");
                let __a1 = val!(0);
                self.call_fn("date_trunc", vec![__a0, __a1], pos)
            }?,
            "startofmonth" => {
                let __a0 = lit("month");
                let __a1 = val!(0);
                self.call_fn("date_trunc", vec![__a0, __a1], pos)
            }?,
            "startofyear" => {
                let __a0 = lit("year");
                let __a1 = val!(0);
                self.call_fn("date_trunc", vec![__a0, __a1], pos)
            }?,
            "toscalar" => match arg(0)? {
                ast::Expr::Tabular(t, p) => {
                    let r = Box::pin(self.tabular(t)).await?;
                    self.scalar_subquery(r, *p)?
                }
                ast::Expr::Col(n, p) if matches!(self.lookup(n), Some(Binding::Tab(_))) => {
                    let r = Box::pin(self.source(&Source::Name(n.clone(), *p))).await?;
                    self.scalar_subquery(r, *p)?
                }
                other => self.expr(rel, other, ctx).await?,
            },
            "row_number" | "prev" | "next" => {
                let order = rel.order.clone().unwrap_or_default();
                let (f, wargs) = match name {
                    "row_number" => ("row_number", vec![]),
                    _ => {
                        let mut a = vec![val!(0)];
                        if args.len() > 1 {
                            a.push(val!(1));
                        }
                        if args.len() > 2 {
                            a.push(val!(2));
                        }
                        (if name == "prev" { "lag" } else { "lead" }, a)
                    }
                };
                let w = self.window_udf(f, pos)?;
                // row_number(start, restart): numbering starts again where restart holds, so
                // rows are numbered within runs: a run is the count of restarts so far
                let partition = if name == "row_number" && args.len() > 1 {
                    let restart = self.expr(rel, &args[1], Ctx::Keep).await?;
                    let flag = when(coalesce(vec![restart, lit(false)]), lit(1i64));
                    let run = DfExpr::from(WindowFunction::new(
                        WindowFunctionDefinition::AggregateUDF(self.aggregate_udf("sum", pos)?),
                        vec![coalesce(vec![flag, lit(0i64)])],
                    ))
                    .order_by(order.clone())
                    .window_frame(datafusion::logical_expr::WindowFrame::new_bounds(
                        datafusion::logical_expr::WindowFrameUnits::Rows,
                        datafusion::logical_expr::WindowFrameBound::Preceding(ScalarValue::UInt64(
                            None,
                        )),
                        datafusion::logical_expr::WindowFrameBound::CurrentRow,
                    ))
                    .build()
                    .map_err(|e| df(Some(pos), e))?;
                    vec![run]
                } else {
                    vec![]
                };
                let e = DfExpr::from(WindowFunction::new(w, wargs))
                    .partition_by(partition)
                    .order_by(order)
                    .build()
                    .map_err(|e| df(Some(pos), e))?;
                if name == "row_number" {
                    // row_number(start): the first row is start (default 1)
                    let start = if args.is_empty() {
                        lit(0i64)
                    } else {
                        cast(val!(0), DataType::Int64) - lit(1i64)
                    };
                    cast(e, DataType::Int64) + start
                } else {
                    e
                }
            }
            "range" => {
                let a = val!(0);
                let b = val!(1);
                let step = if args.len() > 2 { val!(2) } else { lit(1i64) };
                self.call_fn("generate_series", vec![a, b, step], pos)?
            }
            "trim" | "trim_start" | "trim_end" => {
                let re = text!(0);
                let s = text!(1);
                let group = self.call_fn("concat", vec![lit("(?:"), re, lit(")+")], pos)?;
                let pattern = match name {
                    "trim" => self.call_fn(
                        "concat",
                        vec![lit("^"), group.clone(), lit("|"), group, lit("$")],
                        pos,
                    )?,
                    "trim_start" => self.call_fn("concat", vec![lit("^"), group], pos)?,
                    _ => self.call_fn("concat", vec![group, lit("$")], pos)?,
                };
                self.call_fn("regexp_replace", vec![s, pattern, lit(""), lit("g")], pos)?
            }
            "format_datetime" => {
                let x = val!(0);
                let parts = match arg(1)? {
                    ast::Expr::Lit(Lit::Str(f), _) => chrono_format(f).ok_or_else(|| {
                        KqlError::unsupported(
                            Some(pos),
                            format!("the format_datetime format '{f}'"),
                        )
                    })?,
                    other => {
                        return Err(KqlError::plan(
                            Some(other.pos()),
                            "format_datetime(): the format must be a constant",
                        ));
                    }
                };
                // chrono's widths of a fraction are 3, 6 and 9: another is the first digits of 9
                let mut pieces = Vec::new();
                for part in parts {
                    pieces.push(match part {
                        DatePart::Chrono(f) => {
                            self.call_fn("to_char", vec![x.clone(), lit(f)], pos)?
                        }
                        DatePart::Fraction(k) => self.call_fn(
                            "substr",
                            vec![
                                self.call_fn("to_char", vec![x.clone(), lit("%9f")], pos)?,
                                lit(1i64),
                                lit(k as i64),
                            ],
                            pos,
                        )?,
                    });
                }
                let text = match pieces.len() {
                    0 => lit(""),
                    1 => pieces.pop().expect("one"),
                    _ => self.call_fn("concat", pieces, pos)?,
                };
                // concat skips a NULL piece: a NULL datetime is '' (strings are never NULL)
                coalesce(vec![when(x.is_not_null(), text), lit("")])
            }
            other => {
                return Err(KqlError::unsupported(
                    Some(pos),
                    format!("the function {other}()"),
                ));
            }
        };
        Ok(e)
    }
}

/// A piece of a KQL datetime format: a chrono format, or the first `k` digits of the fraction.
enum DatePart {
    Chrono(String),
    Fraction(usize),
}

/// A KQL datetime format (`yyyy-MM-dd HH:mm:ss.fffff`, `M/d/yy h:mm tt`, ...) as chrono formats
/// and fraction digits; `None` for a specifier with no twin (`F`, more than 9 `f`).
fn chrono_format(f: &str) -> Option<Vec<DatePart>> {
    let chars: Vec<char> = f.chars().collect();
    let mut parts = Vec::new();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let spec = match (c, n) {
            ('y', 4) => "%Y",
            ('y', 2) => "%y",
            ('M', 2) => "%m",
            ('M', 1) => "%-m",
            ('d', 2) => "%d",
            ('d', 1) => "%-d",
            ('H', 2) => "%H",
            ('H', 1) => "%-H",
            ('h', 2) => "%I",
            ('h', 1) => "%-I",
            ('m', 2) => "%M",
            ('m', 1) => "%-M",
            ('s', 2) => "%S",
            ('s', 1) => "%-S",
            ('t', 2) => "%p",
            ('f', 1..=9) => {
                if !out.is_empty() {
                    parts.push(DatePart::Chrono(std::mem::take(&mut out)));
                }
                parts.push(DatePart::Fraction(n));
                i += n;
                continue;
            }
            ('y' | 'M' | 'd' | 'H' | 'h' | 'm' | 's' | 't' | 'f' | 'F', _) => return None,
            ('%', _) => {
                out.push_str(&"%%".repeat(n));
                i += n;
                continue;
            }
            _ => {
                out.extend(std::iter::repeat_n(c, n));
                i += n;
                continue;
            }
        };
        out.push_str(spec);
        i += n;
    }
    if !out.is_empty() {
        parts.push(DatePart::Chrono(out));
    }
    Some(parts)
}

/// `t` as a regular expression that matches it literally.
fn escape_regex(t: &str) -> String {
    let mut out = String::new();
    for c in t.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A user's regular expression with its capturing groups made non-capturing, so that the
/// groups of a `parse` pattern are the columns' alone.
fn noncapturing(re: &str) -> String {
    let mut out = String::new();
    let mut chars = re.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
                continue;
            }
            '[' => in_class = true,
            ']' => in_class = false,
            '(' if !in_class && chars.peek() != Some(&'?') => {
                out.push_str("(?:");
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

fn when(p: DfExpr, x: DfExpr) -> DfExpr {
    DfExpr::Case(datafusion::logical_expr::expr::Case::new(
        None,
        vec![(Box::new(p), Box::new(x))],
        None,
    ))
}

/// `plan` keeping the rows `pred` holds for.
fn filter_plan(plan: LogicalPlan, pred: DfExpr, pos: Pos) -> R<LogicalPlan> {
    LogicalPlanBuilder::from(plan)
        .filter(pred)
        .and_then(|b| b.build())
        .map_err(|e| df(Some(pos), e))
}

trait FilterExt {
    fn filter_expr(self, p: DfExpr, pos: Pos) -> R<DfExpr>;
}

impl FilterExt for DfExpr {
    fn filter_expr(self, p: DfExpr, pos: Pos) -> R<DfExpr> {
        self.filter(p).build().map_err(|e| df(Some(pos), e))
    }
}

fn sum_type(t: &DataType) -> DataType {
    if t.is_integer() {
        if t.is_unsigned_integer() {
            DataType::UInt64
        } else {
            DataType::Int64
        }
    } else {
        DataType::Float64
    }
}

fn flatten_and<'e>(e: &'e ast::Expr, out: &mut Vec<&'e ast::Expr>) {
    match e {
        ast::Expr::Binary {
            op, left, right, ..
        } if op == "and" => {
            flatten_and(left, out);
            flatten_and(right, out);
        }
        other => out.push(other),
    }
}

/// Whether `e` refers to the name `n`.
fn mentions(e: &ast::Expr, n: &str) -> bool {
    match e {
        ast::Expr::Col(c, _) => c == n,
        ast::Expr::Lit(..) | ast::Expr::Star(_) => false,
        ast::Expr::Neg(x, _) | ast::Expr::NamedArg(_, x, _) => mentions(x, n),
        ast::Expr::Binary { left, right, .. } => mentions(left, n) || mentions(right, n),
        ast::Expr::Call { args, .. } | ast::Expr::Array(args, _) => {
            args.iter().any(|a| mentions(a, n))
        }
        ast::Expr::InList { expr, list, .. } => {
            mentions(expr, n) || list.iter().any(|a| mentions(a, n))
        }
        ast::Expr::InTable { expr, .. } => mentions(expr, n),
        ast::Expr::Between { expr, lo, hi, .. } => {
            mentions(expr, n) || mentions(lo, n) || mentions(hi, n)
        }
        ast::Expr::Bag(members, _) => members.iter().any(|(_, v)| mentions(v, n)),
        ast::Expr::Member(base, key, _) => mentions(base, n) || mentions(key, n),
        ast::Expr::Tabular(..) => false,
    }
}

fn literal(l: &Lit, pos: Pos) -> R<DfExpr> {
    Ok(match l {
        Lit::Null => lit(ScalarValue::Null),
        Lit::Bool(b) => lit(*b),
        Lit::Int(i) => lit(*i),
        Lit::Real(r) => lit(*r),
        Lit::Str(s) => lit(s.clone()),
        Lit::DateTime(us) => ts_lit(*us),
        Lit::Span(n) => span_lit(*n),
        Lit::TypedNull(t) => {
            let dt = kql_type(t, pos)?;
            lit(ScalarValue::try_from(&dt).map_err(|e| df(Some(pos), e))?)
        }
    })
}

/// A literal's value, for `datatable` rows.
fn literal_value(e: &ast::Expr) -> R<ScalarValue> {
    Ok(match e {
        ast::Expr::Lit(l, pos) => match l {
            Lit::Null => ScalarValue::Null,
            Lit::Bool(b) => ScalarValue::Boolean(Some(*b)),
            Lit::Int(i) => ScalarValue::Int64(Some(*i)),
            Lit::Real(r) => ScalarValue::Float64(Some(*r)),
            Lit::Str(s) => ScalarValue::Utf8(Some(s.clone())),
            Lit::DateTime(us) => ScalarValue::TimestampMicrosecond(Some(*us), Some("UTC".into())),
            Lit::Span(n) => {
                ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(0, 0, *n)))
            }
            Lit::TypedNull(t) => {
                ScalarValue::try_from(&kql_type(t, *pos)?).map_err(|e| df(Some(*pos), e))?
            }
        },
        ast::Expr::Call { name, args, pos } if args.len() == 1 => {
            match (name.as_str(), literal_value(&args[0])?) {
                (
                    "int" | "long" | "real" | "double" | "bool" | "boolean" | "string" | "timespan"
                    | "time",
                    v,
                ) => v,
                _ => {
                    return Err(KqlError::unsupported(
                        Some(*pos),
                        format!("{name}(...) as a datatable value"),
                    ));
                }
            }
        }
        other => {
            return Err(KqlError::unsupported(
                Some(other.pos()),
                "an expression other than a literal as a datatable value",
            ));
        }
    })
}

/// The Arrow type of a KQL type name.
fn kql_type(t: &str, pos: Pos) -> R<DataType> {
    Ok(match t.to_ascii_lowercase().as_str() {
        "string" | "guid" | "uniqueid" => DataType::Utf8,
        "int" | "int32" => DataType::Int32,
        "long" | "int64" => DataType::Int64,
        "real" | "double" => DataType::Float64,
        "bool" | "boolean" => DataType::Boolean,
        "datetime" | "date" => utc_datetime(),
        "timespan" | "time" => DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
        "dynamic" => DataType::LargeUtf8,
        other => {
            return Err(KqlError::unsupported(
                Some(pos),
                format!("the type {other}"),
            ));
        }
    })
}

/// `getschema`'s names of an Arrow type: the .NET name and KQL's.
fn kql_type_name(t: &DataType) -> (&'static str, &'static str) {
    match t {
        DataType::Utf8 | DataType::Utf8View => ("System.String", "string"),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            ("System.Int32", "int")
        }
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => ("System.Int64", "long"),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => ("System.Double", "real"),
        DataType::Boolean => ("System.SByte", "bool"),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
            ("System.DateTime", "datetime")
        }
        DataType::Interval(_) | DataType::Duration(_) => ("System.TimeSpan", "timespan"),
        _ => ("System.Object", "dynamic"),
    }
}
