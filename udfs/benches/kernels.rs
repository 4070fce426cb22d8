//! Micro-benchmarks of the UDF kernels on 1M values, each against the built-in DataFusion SQL a
//! user would otherwise write:
//! - `second_level_domain(host)` vs `regexp_match(host, '([^.]*).{0,7}$')[1]`
//! - `ipv4_is_private(ip)` vs the strict `regexp_like` + `split_part`/`try_cast` expression that the
//!   DataFusion peer query uses
//! - `registered_domain(host)` alone
//! - `kql_endswith(host, '.co.uk')` vs `ends_with(lower(host), '.co.uk')`, the rewrite it replaced
//!
//! over Utf8View (what Parquet strings arrive as) and dictionary-encoded input. Every variant
//! runs as `SELECT count(expr) FROM t` on one partition, so the scan cost is the same for all.
//! Run: `cargo bench -p nethunt-udfs` (criterion prints medians and confidence intervals).

use std::sync::Arc;

use arrow::array::{ArrayRef, DictionaryArray, RecordBatch, StringViewArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use criterion::{Criterion, criterion_group, criterion_main};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

const N: usize = 1_000_000;
const BATCH: usize = 8192;

/// Deterministic test values (a tiny LCG, so the data never changes).
fn values() -> (Vec<String>, Vec<String>) {
    let mut x: u64 = 42;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let tlds = [
        "com",
        "net",
        "org",
        "co.uk",
        "io",
        "com.au",
        "technology",
        "de",
    ];
    let subs = ["www.", "api.", "cdn.", "", "mail.", "a.b."];
    let mut hosts = Vec::with_capacity(N);
    let mut ips = Vec::with_capacity(N);
    for _ in 0..N {
        let r = next();
        hosts.push(format!(
            "{}site{}.{}",
            subs[(r % 6) as usize],
            r % 20_000, // 20k distinct registrable names: realistic repetition
            tlds[((r >> 8) % 8) as usize]
        ));
        let r = next();
        ips.push(match r % 10 {
            0..=2 => format!("10.{}.{}.{}", r % 256, (r >> 8) % 256, (r >> 16) % 256),
            3 => format!("192.168.{}.{}", r % 256, (r >> 8) % 256),
            4 => format!("2001:db8::{:x}", r % 65536),
            _ => format!(
                "{}.{}.{}.{}",
                1 + r % 223,
                (r >> 8) % 256,
                (r >> 16) % 256,
                (r >> 24) % 256
            ),
        });
    }
    (hosts, ips)
}

fn context() -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    nethunt_udfs::register_all(&ctx);
    let (hosts, ips) = values();
    let schema = Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8View, false),
        Field::new(
            "host_dict",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        Field::new("ip", DataType::Utf8View, false),
    ]));
    let mut batches = Vec::new();
    for start in (0..N).step_by(BATCH) {
        let end = (start + BATCH).min(N);
        let h: ArrayRef = Arc::new(StringViewArray::from_iter_values(&hosts[start..end]));
        let d: ArrayRef = Arc::new(
            hosts[start..end]
                .iter()
                .map(|s| s.as_str())
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let i: ArrayRef = Arc::new(StringViewArray::from_iter_values(&ips[start..end]));
        batches.push(RecordBatch::try_new(schema.clone(), vec![h, d, i]).unwrap());
    }
    ctx.register_table(
        "t",
        Arc::new(MemTable::try_new(schema, vec![batches]).unwrap()),
    )
    .unwrap();
    ctx
}

const IPV4_SQL: &str = "CASE WHEN regexp_like(ip, '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$') \
     THEN (TRY_CAST(split_part(ip, '.', 1) AS INT) = 10 \
        OR (TRY_CAST(split_part(ip, '.', 1) AS INT) = 172 AND TRY_CAST(split_part(ip, '.', 2) AS INT) BETWEEN 16 AND 31) \
        OR (TRY_CAST(split_part(ip, '.', 1) AS INT) = 192 AND TRY_CAST(split_part(ip, '.', 2) AS INT) = 168)) END";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ctx = context();
    // the same answers before timing anything
    let count = |expr: &str| -> i64 {
        rt.block_on(async {
            let b = ctx
                .sql(&format!("SELECT count(*) FROM t WHERE {expr}"))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b[0].column(0))
                .value(0)
        })
    };
    assert_eq!(
        count("second_level_domain(host) = regexp_match(host, '([^.]*).{0,7}$')[1]"),
        N as i64,
        "second_level_domain must equal the regex on every row"
    );
    assert_eq!(
        count(&format!(
            "ipv4_is_private(ip) IS NOT DISTINCT FROM ({IPV4_SQL})"
        )),
        N as i64,
        "ipv4_is_private must equal the SQL expression on every row"
    );

    assert_eq!(
        count("kql_endswith(host, '.CO.uk') = ends_with(lower(host), '.co.uk')"),
        N as i64,
        "kql_endswith must equal ends_with(lower(..)) on every row"
    );

    let mut g = c.benchmark_group("kernels_1M");
    g.sample_size(10);
    for (name, expr) in [
        (
            "second_level_domain/utf8view",
            "second_level_domain(host)".to_string(),
        ),
        (
            "second_level_domain/dictionary",
            "second_level_domain(host_dict)".to_string(),
        ),
        (
            "regexp_match/utf8view",
            "regexp_match(host, '([^.]*).{0,7}$')[1]".to_string(),
        ),
        (
            "ipv4_is_private/utf8view",
            "ipv4_is_private(ip)".to_string(),
        ),
        ("ipv4_sql_expression/utf8view", IPV4_SQL.to_string()),
        (
            "registered_domain/utf8view",
            "registered_domain(host)".to_string(),
        ),
        (
            "registered_domain/dictionary",
            "registered_domain(host_dict)".to_string(),
        ),
        (
            "kql_endswith/utf8view",
            "kql_endswith(host, '.co.uk')".to_string(),
        ),
        (
            "ends_with_lower/utf8view",
            "ends_with(lower(host), '.co.uk')".to_string(),
        ),
    ] {
        let sql = format!("SELECT count({expr}) FROM t");
        g.bench_function(name, |b| {
            b.iter(|| rt.block_on(async { ctx.sql(&sql).await.unwrap().collect().await.unwrap() }))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
