//! nethunt-kql: KQL (the Kusto Query Language) for Apache DataFusion.
//!
//! [`parse`] turns KQL text into a syntax tree with positions; [`plan`] turns the tree into a
//! DataFusion `LogicalPlan` against a `SessionState`'s tables and functions, with Kusto's
//! semantics (see `planner`). The functions KQL names that SQL lacks (`ipv4_is_private`, `has`,
//! `endswith`, `make_set`, `datetime_diff`, ...) are nethunt-udfs' and must be registered in the
//! session.
//!
//! ```no_run
//! # async fn f(ctx: datafusion::prelude::SessionContext) -> Result<(), Box<dyn std::error::Error>> {
//! let script = nethunt_kql::parse("T | where x > 1 | summarize count() by y")?;
//! let planned = nethunt_kql::plan(&script, &ctx.state(), &Default::default()).await?;
//! let rows = ctx.execute_logical_plan(planned.plan).await?.collect().await?;
//! # Ok(()) }
//! ```

pub mod ast;
pub mod error;
pub mod lexer;
pub mod parser;
pub mod planner;

pub use error::{Kind, KqlError, Pos};
pub use parser::parse;
pub use planner::{PlanOptions, Planned, plan};
