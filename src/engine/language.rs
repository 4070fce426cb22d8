//! The language seam: query text in a [`Language`] becomes statements, and each statement a
//! DataFusion `LogicalPlan`, through that language's own front-end. Everything after the plan
//! (parameters, settings, the time window, column checks, output) is the engine's and the same
//! for every language. SQL is DataFusion's own parser and planner. Uses: `library` (the
//! language of a query file).

use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::ast;

pub use crate::library::Language;

/// One parsed statement, not yet planned.
pub enum Statement {
    Sql(Box<datafusion::sql::parser::Statement>),
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
        }
    }

    /// The statement's logical plan, against the tables and functions of `state`.
    pub async fn plan(self, state: &SessionState) -> Result<LogicalPlan> {
        match self {
            Statement::Sql(s) => state.statement_to_plan(*s).await,
        }
    }
}

/// Split `text` into statements of `language`.
pub fn parse(language: Language, text: &str) -> Result<Vec<Statement>> {
    match language {
        Language::Sql => Ok(DFParser::parse_sql(text)?
            .into_iter()
            .map(|s| Statement::Sql(Box::new(s)))
            .collect()),
    }
}
