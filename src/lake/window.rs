//! The `--from/--to` window on `TimeGenerated`, and how it prunes: a filter the scan pushes
//! into row-group statistics, and filters on `date=`/`hour=` partition columns.
//! Uses: `schema`, `error`.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;

use super::Lake;
use crate::error::{Error, Result};
use crate::schema::{Family, SESSIONS};

/// A window on `TimeGenerated` (`--from` inclusive, `--to` exclusive), in microseconds since the
/// Unix epoch, UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl TimeWindow {
    pub fn is_unbounded(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

fn utc_date_hour(us: i64) -> (String, u32) {
    let t = chrono::DateTime::from_timestamp_micros(us).unwrap_or_default();
    (t.format("%Y-%m-%d").to_string(), chrono::Timelike::hour(&t))
}

/// Restrict `NetworkSessions` to `window`: the registered table is replaced by a view over the same
/// scan with a filter on `TimeGenerated` (which prunes row groups by their statistics) and, when
/// every file of the lake sits under `date=YYYY-MM-DD/` (and `hour=H/`) folders, on those
/// partition columns too, so that the scan reads nothing of whole folders outside the window
/// (over a lake of time folders, `listing::window_listing` has not even listed them). Partition folders are
/// taken to be the UTC date and hour of `TimeGenerated`.
pub async fn apply_window(ctx: &SessionContext, lake: &Lake, window: TimeWindow) -> Result<()> {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{LogicalPlanBuilder, cast, ident as col, lit};
    if window.is_unbounded() {
        return Ok(());
    }
    let fail = |m: String| Error::table(SESSIONS, &lake.source, m);
    let provider = ctx
        .table_provider(TableReference::bare(SESSIONS))
        .await
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let ts_type = provider
        .schema()
        .field_with_name("TimeGenerated")
        .map(|f| f.data_type().clone())
        .map_err(|_| {
            fail("--from/--to need a TimeGenerated column, and the lake has none".into())
        })?;
    if !Family::Timestamp.accepts(&ts_type) {
        return Err(fail(format!(
            "column TimeGenerated has type {ts_type}, expected a timestamp (needed by --from/--to)"
        )));
    }
    let ts = |us: i64| {
        cast(
            lit(ScalarValue::TimestampMicrosecond(
                Some(us),
                Some("UTC".into()),
            )),
            ts_type.clone(),
        )
    };
    let mut conds = Vec::new();
    if let Some(f) = window.from {
        conds.push(col("TimeGenerated").gt_eq(ts(f)));
    }
    if let Some(t) = window.to {
        conds.push(col("TimeGenerated").lt(ts(t)));
    }
    // Partition filters, only when every file's folder values have the expected shape (a lake
    // partitioned some other way is still filtered exactly, just without skipping folders).
    let values = |key: &str| -> Option<Vec<&str>> {
        if lake.parsed {
            // A parser's view has no partition columns.
            return None;
        }
        lake.files
            .iter()
            .map(|f| {
                f.partitions
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
            })
            .collect()
    };
    let dates_ok = values("date").is_some_and(|v| {
        v.iter()
            .all(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() && d.len() == 10)
    });
    let hours_ok = dates_ok
        && values("hour").is_some_and(|v| v.iter().all(|h| h.parse::<u32>().is_ok_and(|h| h < 24)));
    let hour = || cast(col("hour"), DataType::Int32);
    if dates_ok {
        if let Some(f) = window.from {
            let (d, h) = utc_date_hour(f);
            conds.push(col("date").gt_eq(lit(d.clone())));
            if hours_ok {
                conds.push(col("date").gt(lit(d)).or(hour().gt_eq(lit(h as i32))));
            }
        }
        if let Some(t) = window.to {
            let (d, h) = utc_date_hour(t - 1);
            conds.push(col("date").lt_eq(lit(d.clone())));
            if hours_ok {
                conds.push(col("date").lt(lit(d)).or(hour().lt_eq(lit(h as i32))));
            }
        }
    }
    let predicate = conds
        .into_iter()
        .reduce(|a, b| a.and(b))
        .expect("at least one bound");
    let plan = LogicalPlanBuilder::scan(
        SESSIONS,
        datafusion::datasource::provider_as_source(provider),
        None,
    )
    .and_then(|b| b.filter(predicate))
    .and_then(|b| b.build())
    .map_err(|e| fail(crate::error::one_line(&e)))?;
    let view = datafusion::datasource::ViewTable::new(plan, None);
    ctx.deregister_table(TableReference::bare(SESSIONS))
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    ctx.register_table(TableReference::bare(SESSIONS), Arc::new(view))
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    Ok(())
}
