//! The language seam: query text in a [`Language`] becomes statements, and each statement a
//! DataFusion `LogicalPlan`, through that language's own front-end. Everything after the plan
//! (parameters, settings, the time window, column checks, output) is the engine's and the same
//! for every language. SQL is DataFusion's own parser and planner; KQL is nethunt-kql's.
//! Uses: `library` (the language of a query file), `reference` (where externaldata resolves).

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::ast;

pub use crate::library::Language;

/// One parsed statement, not yet planned.
pub enum Statement {
    Sql(Box<datafusion::sql::parser::Statement>),
    Kql {
        script: Box<nethunt_kql::ast::Script>,
        options: nethunt_kql::PlanOptions,
    },
}

impl Statement {
    /// Whether the statement is a query (it returns rows and reads tables), as opposed to DDL or
    /// a setting.
    pub fn is_query(&self) -> bool {
        match self {
            Statement::Sql(s) => matches!(
                s.as_ref(),
                datafusion::sql::parser::Statement::Statement(st)
                    if matches!(**st, ast::Statement::Query(_))
            ),
            Statement::Kql { .. } => true,
        }
    }

    /// Name the parameters a KQL statement may use (as plain identifiers, bound like `$name`)
    /// and the declared tables its `externaldata` may read (URL, table).
    pub fn with_context(self, params: Vec<String>, tables: Vec<(String, String)>) -> Statement {
        match self {
            Statement::Kql {
                script,
                mut options,
            } => {
                options.params = params;
                options.external.extend(tables);
                Statement::Kql { script, options }
            }
            s => s,
        }
    }

    /// The statement's logical plan, against the tables and functions of `state`, and what the
    /// front-end has to say about it (KQL's ignored `render`).
    pub async fn plan(self, state: &SessionState) -> Result<(LogicalPlan, Vec<String>)> {
        match self {
            Statement::Sql(s) => Ok((state.statement_to_plan(*s).await?, Vec::new())),
            Statement::Kql { script, options } => {
                let planned = nethunt_kql::plan(&script, state, &options)
                    .await
                    .map_err(kql_error)?;
                Ok((planned.plan, planned.notices))
            }
        }
    }
}

/// A KQL error as DataFusion's, keeping its one line (`line:col: ...`).
fn kql_error(e: nethunt_kql::KqlError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Split `text` into statements of `language`. KQL text is one statement (its `let`s and
/// query); its `externaldata` of the seed's top-1M URL reads the declared `top1m`.
pub fn parse(language: Language, text: &str) -> Result<Vec<Statement>> {
    match language {
        Language::Sql => Ok(DFParser::parse_sql(text)?
            .into_iter()
            .map(|s| Statement::Sql(Box::new(s)))
            .collect()),
        Language::Kql => {
            let script = nethunt_kql::parse(text).map_err(kql_error)?;
            let options = nethunt_kql::PlanOptions {
                params: Vec::new(),
                external: vec![(
                    crate::reference::UMBRELLA_URL.to_string(),
                    crate::schema::DOMAINS.to_string(),
                )],
                sessions: crate::schema::SESSIONS.to_string(),
                sessions_columns: crate::schema::columns()
                    .map(|f| (f.name().clone(), crate::schema::read_type(f.data_type())))
                    .collect(),
            };
            Ok(vec![Statement::Kql {
                script: Box::new(script),
                options,
            }])
        }
    }
}
