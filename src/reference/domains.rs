//! The `top1m` table: a domain popularity list from CSV, a zip of CSVs or Parquet, registered in
//! memory, or as a Parquet scan that a cluster's executors read themselves.
//! Uses: `lake` (store URLs), `output` (staging), `schema`, `error`.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::DataType;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::error::{Error, Result};
use crate::schema::{self, DOMAINS, Family};

/// The columns of a Parquet domain list: `Domain` (a string, required) and `Position` or `rank`
/// (an integer, optional); names match case-insensitively.
fn domain_columns(
    schema: &arrow::datatypes::Schema,
    path: &str,
) -> Result<(
    arrow::datatypes::FieldRef,
    Option<arrow::datatypes::FieldRef>,
)> {
    let fail = |m: String| Error::table(DOMAINS, path, m);
    let find = |n: &str| {
        schema
            .fields()
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(n))
            .cloned()
    };
    let dom = find("Domain").ok_or_else(|| fail("column Domain is missing".into()))?;
    if !Family::String.accepts(dom.data_type()) {
        return Err(fail(format!(
            "column Domain has type {}, expected a string",
            dom.data_type()
        )));
    }
    let pos = find("Position").or_else(|| find("rank"));
    if let Some(p) = &pos
        && !p.data_type().is_integer()
    {
        return Err(fail(format!(
            "column {} has type {}, expected an integer",
            p.name(),
            p.data_type()
        )));
    }
    Ok((dom, pos))
}

/// Read a Parquet domain list: a string column `Domain` (required) and an integer `Position`
/// (optional, NULL when absent); names match case-insensitively.
async fn read_domains_parquet(ctx: &SessionContext, path: &str) -> Result<Vec<RecordBatch>> {
    let fail = |m: String| Error::table(DOMAINS, path, m);
    let df = crate::lake::read_parquet(ctx, path, "file")
        .await
        .map_err(fail)?;
    let (dom, pos) = domain_columns(df.schema().as_arrow(), path)?;
    let batches = df
        .collect()
        .await
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let target = schema::domains();
    let mut out = Vec::new();
    for b in batches {
        let d = arrow::compute::cast(
            b.column_by_name(dom.name()).expect("exists"),
            &DataType::Utf8,
        )
        .map_err(|e| fail(e.to_string()))?;
        let p: ArrayRef = match &pos {
            Some(p) => arrow::compute::cast(
                b.column_by_name(p.name()).expect("exists"),
                &DataType::Int32,
            )
            .map_err(|e| fail(e.to_string()))?,
            None => arrow::array::new_null_array(&DataType::Int32, b.num_rows()),
        };
        out.push(
            RecordBatch::try_new(target.clone(), vec![p, d]).map_err(|e| fail(e.to_string()))?,
        );
    }
    Ok(out)
}

/// Register `top1m(Position INT, Domain STRING)` from a CSV (`rank,domain`, header optional;
/// Majestic's layout works), a zip of CSVs (entries matching `*.csv`) or a Parquet file. Returns
/// the number of rows.
pub async fn register_domains(ctx: &SessionContext, path: &str) -> Result<usize> {
    let batches = load_domains(ctx, path).await?;
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    let table = MemTable::try_new(schema::domains(), vec![batches])
        .map_err(|e| Error::table(DOMAINS, path, crate::error::one_line(&e)))?;
    ctx.register_table(TableReference::bare(DOMAINS), Arc::new(table))
        .map_err(|e| Error::table(DOMAINS, path, crate::error::one_line(&e)))?;
    Ok(rows)
}

/// Register `top1m` for a Ballista cluster, whose executors read the list themselves (an
/// in-memory table cannot travel in a distributed plan). A Parquet list is read where it is; a
/// CSV or zip is decoded here and written as Parquet into `stage` (a folder the executors can
/// read, or `None` when they cannot see this machine's files). Returns the number of rows.
pub async fn register_domains_for_cluster(
    ctx: &SessionContext,
    path: &str,
    stage: Option<&Path>,
) -> Result<usize> {
    use datafusion::logical_expr::{cast, ident, lit};
    let fail = |m: String| Error::table(DOMAINS, path, m);
    let (source, rows) = if path.to_ascii_lowercase().ends_with(".parquet") {
        if !crate::lake::store::is_url(path) && !Path::new(path).exists() {
            return Err(fail("no such file".into()));
        }
        // Counted below from the Parquet statistics, not by reading every row here.
        (path.to_string(), None)
    } else {
        let Some(stage) = stage else {
            return Err(fail(
                "the cluster's executors read the domain list themselves: give it as Parquet \
                 (`nethunt domains fetch` caches one) at an object-store URL or on the shared \
                 file system"
                    .into(),
            ));
        };
        let batches = load_domains(ctx, path).await?;
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        let file = stage.join("top1m.parquet");
        crate::output::ParquetFile::write_all(
            &file,
            schema::domains(),
            Default::default(),
            &batches,
        )
        .map_err(|m| fail(format!("staging {} for the cluster: {m}", file.display())))?;
        (file.display().to_string(), Some(rows))
    };
    // A view that gives every source the same two typed columns, over a Parquet scan that the
    // executors run.
    let df = ctx
        .read_parquet(source.as_str(), ParquetReadOptions::default())
        .await
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let (dom, pos) = domain_columns(df.schema().as_arrow(), path)?;
    let position = match &pos {
        Some(p) => cast(ident(p.name()), DataType::Int32),
        None => lit(datafusion::common::ScalarValue::Int32(None)),
    };
    let df = df
        .select(vec![
            position.alias("Position"),
            cast(ident(dom.name()), DataType::Utf8).alias("Domain"),
        ])
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    let rows = match rows {
        Some(n) => n,
        // count(*) of a Parquet scan is answered from the footers' row counts.
        None => df
            .clone()
            .count()
            .await
            .map_err(|e| fail(crate::error::one_line(&e)))?,
    };
    ctx.register_table(TableReference::bare(DOMAINS), df.into_view())
        .map_err(|e| fail(crate::error::one_line(&e)))?;
    Ok(rows)
}

/// Decode a domain list (CSV, zip of CSVs, or Parquet, local or by URL for Parquet) into
/// `top1m`-shaped batches.
async fn load_domains(ctx: &SessionContext, path: &str) -> Result<Vec<RecordBatch>> {
    let p = Path::new(path);
    let is_parquet = path.to_ascii_lowercase().ends_with(".parquet");
    if crate::lake::store::is_url(path) {
        if !is_parquet {
            return Err(Error::table(
                DOMAINS,
                path,
                "a domain list at a URL must be Parquet (CSV and zip lists are fetched with `nethunt domains fetch`)",
            ));
        }
    } else if !p.exists() {
        return Err(Error::table(DOMAINS, path, "no such file"));
    }
    Ok(if is_parquet {
        read_domains_parquet(ctx, path).await?
    } else {
        let bytes = std::fs::read(p).map_err(|e| Error::table(DOMAINS, path, e.to_string()))?;
        let table = super::ExternalTable::top1m(path);
        vec![
            super::decode::decode(bytes, &table, &super::Limits::default())
                .map_err(|m| Error::table(DOMAINS, path, m))?,
        ]
    })
}
