//! The conformance cases of `../shared/kql/docs-cases.json`: examples from Microsoft's KQL
//! reference, each with the answer of the real Kusto engine. Every case is parsed, planned and
//! run on a session with nethunt's functions, and compared as that folder's README says is fair
//! (row order only after a final sort or top, take without sort by row count, reals within
//! 1e-9, types by family). Each case is reported as pass, fail (with the difference),
//! unsupported (the front-end said "not supported yet") or skipped (non-deterministic).
//!
//! The report goes to `$CARGO_TARGET_TMPDIR/kql-docs-cases.txt`. The test fails when a case
//! panics, when the file is missing, or when fewer cases pass than the floor below (raise it as
//! the front-end grows; never lower it without saying why).

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, IntervalMonthDayNanoType, TimeUnit};
use datafusion::prelude::SessionContext;
use serde_json::Value;

/// In-scope cases that must pass (measured when this runner was written; see the README).
const PASS_FLOOR: usize = 57;

/// Operators and functions of the front-end's scope (issue 17), plus the case inputs.
const SCOPE_OPERATORS: &[&str] = &[
    "where",
    "project",
    "project-away",
    "project-rename",
    "project-reorder",
    "project-keep",
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
    "parse",
    "as",
    "serialize",
    "getschema",
    "render",
];
const SCOPE_FUNCTIONS: &[&str] = &[
    "datatable",
    "dynamic",
    "datetime",
    "print",
    "range",
    "let",
    "materialize",
    "toscalar",
    "count",
    "countif",
    "dcount",
    "dcountif",
    "sum",
    "sumif",
    "avg",
    "min",
    "max",
    "make_set",
    "make_set_if",
    "make_list",
    "arg_max",
    "arg_min",
    "percentile",
    "ipv4_is_private",
    "ipv4_is_in_range",
    "ipv4_is_in_any_range",
    "extract",
    "tolower",
    "toupper",
    "strcat",
    "strlen",
    "substring",
    "split",
    "replace_string",
    "trim",
    "has",
    "has_any",
    "has_all",
    "contains",
    "startswith",
    "endswith",
    "isempty",
    "isnotempty",
    "isnull",
    "isnotnull",
    "iff",
    "iif",
    "case",
    "coalesce",
    "tostring",
    "toint",
    "tolong",
    "toreal",
    "todatetime",
    "ago",
    "now",
    "bin",
    "datetime_diff",
    "format_datetime",
    "array_length",
    "abs",
    "round",
    "int",
    "long",
    "real",
    "double",
    "bool",
    "string",
    "timespan",
    "between",
    "in",
    "on",
    "inner",
    "leftouter",
    "kind",
    "with",
    "not",
    "prev",
    "next",
    "row_number",
    "pack_array",
];
const NONDETERMINISTIC: &[&str] = &["now", "ago", "rand", "new_guid", "current_principal"];

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Outcome {
    Pass,
    Fail,
    Unsupported,
    Skipped,
}

fn shared() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/kql/docs-cases.json")
}

/// A value of our result as JSON in the cases' conventions.
fn to_json(a: &dyn Array, i: usize) -> Value {
    if a.is_null(i) {
        return Value::Null;
    }
    match a.data_type() {
        // a dynamic value: its JSON text
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>().value(i);
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
        }
        DataType::Utf8 | DataType::Utf8View => {
            let c = arrow::compute::cast(&a.slice(i, 1), &DataType::Utf8).unwrap();
            Value::String(c.as_string::<i32>().value(0).to_string())
        }
        DataType::Boolean => Value::Bool(a.as_boolean().value(i)),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => {
            let c = arrow::compute::cast(&a.slice(i, 1), &DataType::Int64).unwrap();
            Value::from(c.as_primitive::<arrow::datatypes::Int64Type>().value(0))
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let c = arrow::compute::cast(&a.slice(i, 1), &DataType::Float64).unwrap();
            let v = c.as_primitive::<arrow::datatypes::Float64Type>().value(0);
            serde_json::Number::from_f64(v)
                .map(Value::Number)
                .unwrap_or(Value::String(v.to_string()))
        }
        DataType::Timestamp(_, _) => {
            let c = arrow::compute::cast(
                &a.slice(i, 1),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )
            .unwrap();
            let us = c
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(0);
            Value::String(format!("@us:{us}"))
        }
        DataType::Interval(_) => {
            let v = a.as_primitive::<IntervalMonthDayNanoType>().value(i);
            Value::String(format!(
                "@ns:{}",
                v.days as i64 * 86_400_000_000_000 + v.nanoseconds
            ))
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>().value(i);
            Value::Array((0..l.len()).map(|k| to_json(l.as_ref(), k)).collect())
        }
        other => Value::String(format!("@unsupported:{other}")),
    }
}

/// An expected value in the same form as [`to_json`], given the engine's type name.
fn expected_json(v: &Value, ty: &str) -> Value {
    match (ty, v) {
        (_, Value::Null) => Value::Null,
        ("DateTime", Value::String(s)) => match nethunt_kql::parser::parse_datetime(s) {
            Some(us) => Value::String(format!("@us:{us}")),
            None => v.clone(),
        },
        ("TimeSpan", Value::String(s)) => match parse_timespan(s) {
            Some(ns) => Value::String(format!("@ns:{ns}")),
            None => v.clone(),
        },
        ("Object", Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        ("SByte", Value::Number(n)) => Value::Bool(n.as_i64() != Some(0)),
        _ => v.clone(),
    }
}

/// `[-][d.]hh:mm:ss[.fffffff]` in nanoseconds.
fn parse_timespan(s: &str) -> Option<i64> {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (days, rest) = match s.split_once('.') {
        Some((d, r)) if !d.contains(':') => (d.parse::<i64>().ok()?, r),
        _ => (0, s),
    };
    let (hms, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let p: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if p.len() != 3 {
        return None;
    }
    let mut ns = ((days * 24 + p[0]) * 60 + p[1]) * 60 + p[2];
    ns *= 1_000_000_000;
    for (k, b) in frac.bytes().take(9).enumerate() {
        ns += (b - b'0') as i64 * 10i64.pow(8 - k as u32);
    }
    Some(if neg { -ns } else { ns })
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::String(s), Value::Null) | (Value::Null, Value::String(s)) => s.is_empty(),
        _ => a == b,
    }
}

fn ordered(kql: &str) -> bool {
    // the last tabular operator decides
    let last = kql.rsplit('|').next().unwrap_or("").trim_start();
    ["sort ", "order ", "top "]
        .iter()
        .any(|k| last.starts_with(k))
}

fn takes_without_sort(kql: &str) -> bool {
    let last = kql.rsplit('|').next().unwrap_or("").trim_start();
    (last.starts_with("take ") || last.starts_with("limit ")) && !ordered(kql)
}

async fn run_case(ctx: &SessionContext, kql: &str) -> Result<Vec<RecordBatch>, (Outcome, String)> {
    let script = nethunt_kql::parse(kql).map_err(|e| match e.kind {
        nethunt_kql::Kind::Unsupported => (Outcome::Unsupported, e.to_string()),
        _ => (Outcome::Fail, e.to_string()),
    })?;
    let planned = nethunt_kql::plan(&script, &ctx.state(), &Default::default())
        .await
        .map_err(|e| match e.kind {
            nethunt_kql::Kind::Unsupported => (Outcome::Unsupported, e.to_string()),
            _ => (Outcome::Fail, e.to_string()),
        })?;
    let df = ctx
        .execute_logical_plan(planned.plan)
        .await
        .map_err(|e| (Outcome::Fail, e.to_string()))?;
    df.collect()
        .await
        .map_err(|e| (Outcome::Fail, e.to_string()))
}

fn compare(case: &Value, batches: &[RecordBatch]) -> Result<(), String> {
    let exp = &case["expected"];
    let cols: Vec<String> = exp["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let types: Vec<String> = exp["column_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let got_cols: Vec<String> = batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
        .unwrap_or_default();
    if !batches.is_empty() && got_cols != cols {
        return Err(format!("columns {got_cols:?}, expected {cols:?}"));
    }
    let mut got: Vec<Vec<Value>> = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            got.push(
                (0..b.num_columns())
                    .map(|c| to_json(b.column(c).as_ref(), r))
                    .collect(),
            );
        }
    }
    let want: Vec<Vec<Value>> = exp["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .zip(&types)
                .map(|(v, t)| expected_json(v, t))
                .collect()
        })
        .collect();
    let kql = case["kql"].as_str().unwrap();
    if takes_without_sort(kql) {
        return if got.len() == want.len() {
            Ok(())
        } else {
            Err(format!("{} rows, expected {}", got.len(), want.len()))
        };
    }
    if got.len() != want.len() {
        return Err(format!(
            "{} rows, expected {}: got {:?}",
            got.len(),
            want.len(),
            got.iter().take(3).collect::<Vec<_>>()
        ));
    }
    let row_eq = |a: &Vec<Value>, b: &Vec<Value>| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
    };
    if ordered(kql) {
        for (a, b) in got.iter().zip(&want) {
            if !row_eq(a, b) {
                return Err(format!("row {a:?}, expected {b:?}"));
            }
        }
        return Ok(());
    }
    let mut left: Vec<&Vec<Value>> = want.iter().collect();
    for g in &got {
        match left.iter().position(|w| row_eq(g, w)) {
            Some(k) => {
                left.remove(k);
            }
            None => return Err(format!("unexpected row {g:?}")),
        }
    }
    Ok(())
}

#[test]
fn docs_cases() {
    let path = shared();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 467, "the case file changed");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut report = String::new();
    let mut totals: BTreeMap<(bool, Outcome), usize> = BTreeMap::new();
    let mut panics = Vec::new();
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let kql = case["kql"].as_str().unwrap();
        let tags = &case["tags"];
        let list = |k: &str| -> Vec<String> {
            tags[k]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        let in_scope = list("operators")
            .iter()
            .all(|o| SCOPE_OPERATORS.contains(&o.as_str()))
            && list("functions")
                .iter()
                .all(|f| SCOPE_FUNCTIONS.contains(&f.as_str()));
        let (outcome, note) = if list("functions")
            .iter()
            .any(|f| NONDETERMINISTIC.contains(&f.as_str()))
        {
            (Outcome::Skipped, "non-deterministic".to_string())
        } else {
            let ctx = SessionContext::new();
            nethunt_udfs::register_all(&ctx);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                rt.block_on(run_case(&ctx, kql))
            }));
            match r {
                Err(_) => {
                    panics.push(id.to_string());
                    (Outcome::Fail, "PANIC".to_string())
                }
                Ok(Err((o, m))) => (o, m),
                Ok(Ok(batches)) => match compare(case, &batches) {
                    Ok(()) => (Outcome::Pass, String::new()),
                    Err(m) => (Outcome::Fail, m),
                },
            }
        };
        *totals.entry((in_scope, outcome)).or_default() += 1;
        let note: String = note.chars().take(300).collect();
        report.push_str(&format!(
            "{id}\t{}\t{outcome:?}\t{note}\n",
            if in_scope { "in-scope" } else { "out-of-scope" }
        ));
    }
    let mut summary = String::new();
    for scope in [true, false] {
        let n = |o| totals.get(&(scope, o)).copied().unwrap_or(0);
        summary.push_str(&format!(
            "{}: pass {}, fail {}, unsupported {}, skipped {}\n",
            if scope { "in scope" } else { "out of scope" },
            n(Outcome::Pass),
            n(Outcome::Fail),
            n(Outcome::Unsupported),
            n(Outcome::Skipped)
        ));
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kql-docs-cases.txt");
    std::fs::write(&out, format!("{summary}\n{report}")).unwrap();
    println!("{summary}report: {}", out.display());
    assert!(panics.is_empty(), "cases panicked: {panics:?}");
    let passed = totals.get(&(true, Outcome::Pass)).copied().unwrap_or(0);
    assert!(
        passed >= PASS_FLOOR,
        "{passed} in-scope cases pass, fewer than the floor {PASS_FLOOR}"
    );
}
