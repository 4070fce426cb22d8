//! Every UDF over every string representation DataFusion can hand it (Utf8, LargeUtf8, Utf8View,
//! dictionaries with Int32 and UInt8 keys), arrays with NULLs and scalars, through real SQL
//! planning (so `coerce_types` is exercised too). The expected value of each row comes from the
//! per-value Rust function, which is unit-tested against the semantics sheet separately; this test
//! checks the vectorised plumbing, not the rules.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, LargeStringArray, StringArray, StringViewArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, UInt8Type};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::FunctionRegistry;
use datafusion::prelude::SessionContext;

const INPUTS: &[Option<&str>] = &[
    Some("10.1.2.3"),
    None,
    Some("8.8.8.8"),
    Some(""),
    Some("2001:db8::1"),
    Some("192.168.1.1/24"),
    Some("www.google.com"),
    Some("WWW.BBC.CO.UK"),
    Some("例え.テスト"),
    Some("a.b.c.d.e"),
    Some("10.1.2.3"), // repeated: dictionaries share one value
    None,
    Some("user.github.io"),
    Some("x\n.com"),
];

fn columns() -> Vec<(&'static str, ArrayRef)> {
    let utf8 = StringArray::from(INPUTS.to_vec());
    vec![
        ("utf8", Arc::new(utf8.clone()) as ArrayRef),
        ("large", Arc::new(LargeStringArray::from(INPUTS.to_vec()))),
        ("view", Arc::new(StringViewArray::from(INPUTS.to_vec()))),
        (
            "dict32",
            Arc::new(
                INPUTS
                    .iter()
                    .copied()
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
        ),
        (
            "dict8",
            Arc::new(
                INPUTS
                    .iter()
                    .copied()
                    .collect::<DictionaryArray<UInt8Type>>(),
            ),
        ),
    ]
}

async fn context() -> SessionContext {
    let ctx = SessionContext::new();
    nethunt_udfs::register_all(&ctx);
    let cols = columns();
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
    ctx.register_table("t", Arc::new(table)).unwrap();
    ctx
}

async fn column_of(ctx: &SessionContext, sql: &str) -> ArrayRef {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let arrays: Vec<ArrayRef> = batches.iter().map(|b| b.column(0).clone()).collect();
    let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
    arrow::compute::concat(&refs).unwrap()
}

fn as_bools(a: &ArrayRef) -> Vec<Option<bool>> {
    assert_eq!(a.data_type(), &DataType::Boolean);
    a.as_boolean().iter().collect()
}

fn as_strings(a: &ArrayRef) -> Vec<Option<String>> {
    let a = arrow::compute::cast(a, &DataType::Utf8).unwrap();
    a.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

const COLS: [&str; 5] = ["utf8", "large", "view", "dict32", "dict8"];

#[tokio::test]
async fn ipv4_is_private_all_types() {
    let ctx = context().await;
    let want: Vec<Option<bool>> = INPUTS
        .iter()
        .map(|v| v.and_then(nethunt_udfs::ipv4_is_private))
        .collect();
    for c in COLS {
        let got = as_bools(&column_of(&ctx, &format!("SELECT ipv4_is_private({c}) FROM t")).await);
        assert_eq!(got, want, "column {c}");
    }
}

#[tokio::test]
async fn ipv4_is_in_range_all_types() {
    let ctx = context().await;
    let want: Vec<Option<bool>> = INPUTS
        .iter()
        .map(|v| v.and_then(|s| nethunt_udfs::ipv4_is_in_range(s, "10.0.0.0/8")))
        .collect();
    for c in COLS {
        // constant range (fast path) and per-row range (slow path) must agree
        let got = as_bools(
            &column_of(
                &ctx,
                &format!("SELECT ipv4_is_in_range({c}, '10.0.0.0/8') FROM t"),
            )
            .await,
        );
        assert_eq!(got, want, "column {c}, constant range");
        let got = as_bools(
            &column_of(
                &ctx,
                &format!(
                    "SELECT ipv4_is_in_range({c}, concat('10.0.0.0/', '8', left({c}, 0))) FROM t"
                ),
            )
            .await,
        );
        let want_rowwise: Vec<Option<bool>> = INPUTS
            .iter()
            .map(|v| v.and_then(|s| nethunt_udfs::ipv4_is_in_range(s, "10.0.0.0/8")))
            .collect();
        assert_eq!(got, want_rowwise, "column {c}, per-row range");
        let got = as_bools(
            &column_of(
                &ctx,
                &format!("SELECT ipv4_is_in_any_range({c}, '8.0.0.0/8', '10.0.0.0/8') FROM t"),
            )
            .await,
        );
        let want_any: Vec<Option<bool>> = INPUTS
            .iter()
            .map(|v| {
                v.and_then(|s| {
                    let a = nethunt_udfs::ipv4_is_in_range(s, "8.0.0.0/8")?;
                    let b = nethunt_udfs::ipv4_is_in_range(s, "10.0.0.0/8")?;
                    Some(a || b)
                })
            })
            .collect();
        assert_eq!(got, want_any, "column {c}, any range");
        let got = as_bools(
            &column_of(
                &ctx,
                &format!("SELECT ipv4_is_in_any_range({c}, ['8.0.0.0/8', '10.0.0.0/8']) FROM t"),
            )
            .await,
        );
        assert_eq!(got, want_any, "column {c}, array of ranges");
    }
}

#[tokio::test]
async fn domain_functions_all_types() {
    let ctx = context().await;
    let want_sld: Vec<Option<String>> = INPUTS
        .iter()
        .map(|v| v.map(|s| nethunt_udfs::second_level_domain(s).to_string()))
        .collect();
    let want_reg: Vec<Option<String>> = INPUTS
        .iter()
        .map(|v| v.and_then(nethunt_udfs::registered_domain))
        .collect();
    for c in COLS {
        let got =
            as_strings(&column_of(&ctx, &format!("SELECT second_level_domain({c}) FROM t")).await);
        assert_eq!(got, want_sld, "column {c}");
        let got =
            as_strings(&column_of(&ctx, &format!("SELECT registered_domain({c}) FROM t")).await);
        assert_eq!(got, want_reg, "column {c}");
    }
}

#[tokio::test]
async fn kql_endswith_all_types() {
    let ctx = context().await;
    for suffix in [".COM", ".uk", "", "\n.com"] {
        let want: Vec<Option<bool>> = INPUTS
            .iter()
            .map(|v| v.map(|s| nethunt_udfs::kql_endswith(s, suffix)))
            .collect();
        let lit = suffix.replace('\n', "' || chr(10) || '");
        for c in COLS {
            // constant suffix (fast path) and per-row suffix (slow path) must agree
            let got = as_bools(
                &column_of(&ctx, &format!("SELECT kql_endswith({c}, '{lit}') FROM t")).await,
            );
            assert_eq!(got, want, "column {c}, suffix {suffix:?}");
            let got = as_bools(
                &column_of(
                    &ctx,
                    &format!("SELECT kql_endswith({c}, concat('{lit}', left({c}, 0))) FROM t"),
                )
                .await,
            );
            assert_eq!(got, want, "column {c}, per-row suffix {suffix:?}");
        }
    }
    // The suffix may be a column and the text a constant; NULL on either side gives NULL.
    let got =
        as_bools(&column_of(&ctx, "SELECT kql_endswith('WWW.GOOGLE.COM', view) FROM t").await);
    let want: Vec<Option<bool>> = INPUTS
        .iter()
        .map(|v| v.map(|s| nethunt_udfs::kql_endswith("WWW.GOOGLE.COM", s)))
        .collect();
    assert_eq!(got, want);
    let got = as_bools(&column_of(&ctx, "SELECT kql_endswith(view, NULL) FROM t").await);
    assert!(got.iter().all(Option::is_none));
}

#[tokio::test]
async fn has_functions_all_types() {
    let ctx = context().await;
    for term in ["google", "CO", "", "10.1", "テスト", "2.3"] {
        for (f, rust) in [
            ("kql_has", nethunt_udfs::kql_has as fn(&str, &str) -> bool),
            ("kql_has_cs", nethunt_udfs::kql_has_cs),
        ] {
            let want: Vec<Option<bool>> = INPUTS.iter().map(|v| v.map(|s| rust(s, term))).collect();
            for c in COLS {
                // constant term (fast path) and per-row term (slow path) must agree
                let got =
                    as_bools(&column_of(&ctx, &format!("SELECT {f}({c}, '{term}') FROM t")).await);
                assert_eq!(got, want, "{f}, column {c}, term {term:?}");
                let got = as_bools(
                    &column_of(
                        &ctx,
                        &format!("SELECT {f}({c}, concat('{term}', left({c}, 0))) FROM t"),
                    )
                    .await,
                );
                assert_eq!(got, want, "{f}, column {c}, per-row term {term:?}");
            }
        }
    }
    let set = ["www".to_string(), "UK".to_string()];
    for (f, rust) in [
        (
            "kql_has_any",
            nethunt_udfs::kql_has_any as fn(&str, &[String]) -> bool,
        ),
        ("kql_has_all", nethunt_udfs::kql_has_all),
    ] {
        let want: Vec<Option<bool>> = INPUTS.iter().map(|v| v.map(|s| rust(s, &set))).collect();
        for c in COLS {
            for args in [
                "'www', 'UK'".to_string(),
                "['www', 'UK']".to_string(),
                format!("concat('www', left({c}, 0)), 'UK'"),
            ] {
                let got =
                    as_bools(&column_of(&ctx, &format!("SELECT {f}({c}, {args}) FROM t")).await);
                assert_eq!(got, want, "{f}, column {c}, terms {args}");
            }
        }
        // A NULL term, or a NULL array, makes the answer NULL.
        let got =
            as_bools(&column_of(&ctx, &format!("SELECT {f}(view, 'www', NULL) FROM t")).await);
        assert!(got.iter().all(Option::is_none), "{f}");
    }
}

#[tokio::test]
async fn scalar_arguments_of_every_type() {
    let ctx = context().await;
    for ty in ["Utf8", "LargeUtf8", "Utf8View", "Dictionary(Int32, Utf8)"] {
        let sql = format!(
            "SELECT ipv4_is_private(arrow_cast('172.16.5.4', '{ty}')), \
                    second_level_domain(arrow_cast('www.google.com', '{ty}')), \
                    registered_domain(arrow_cast('A.B.Example.CO.UK', '{ty}')), \
                    ipv4_is_private(arrow_cast(NULL, '{ty}'))"
        );
        let b = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let b = &b[0];
        assert!(b.column(0).as_boolean().value(0), "{ty}");
        assert_eq!(
            as_strings(b.column(1))[0].as_deref(),
            Some("google"),
            "{ty}"
        );
        assert_eq!(
            as_strings(b.column(2))[0].as_deref(),
            Some("example.co.uk"),
            "{ty}"
        );
        assert!(b.column(3).is_null(0), "{ty}");
    }
    // untyped NULL literal
    let b = ctx
        .sql("SELECT ipv4_is_private(NULL), second_level_domain(NULL)")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!(b[0].column(0).is_null(0));
    assert!(b[0].column(1).is_null(0));
}

#[tokio::test]
async fn wrong_argument_types_are_plan_errors() {
    let ctx = context().await;
    for sql in [
        "SELECT ipv4_is_private(42)",
        "SELECT ipv4_is_private()",
        "SELECT second_level_domain('a', 'b')",
        "SELECT kql_endswith('a')",
        "SELECT kql_endswith('a', 1)",
        "SELECT ipv4_is_in_any_range('1.2.3.4')",
        "SELECT ipv4_is_in_any_range('1.2.3.4', [1, 2])",
        "SELECT kql_has('a')",
        "SELECT kql_has_cs('a', 1)",
        "SELECT kql_has_any('a')",
        "SELECT kql_has_all('a', [1])",
        "SELECT datetime_diff('day', 1, 2)",
        "SELECT datetime_diff('day', now())",
        "SELECT datetime_diff('fortnight', now(), now())",
    ] {
        let err = match ctx.sql(sql).await {
            Err(e) => e.to_string(),
            Ok(df) => df.collect().await.expect_err(sql).to_string(),
        };
        let fname = sql.split('(').next().unwrap().trim_start_matches("SELECT ");
        assert!(err.contains(fname), "{sql}: {err}");
    }
}

/// datetime_diff over every timestamp unit and zone, dates, ISO strings and NULLs: the answer is
/// the same instant arithmetic whatever the input's type.
#[tokio::test]
async fn datetime_diff_all_types() {
    let ctx = context().await;
    let a = "2017-10-31T01:00:00Z";
    let b = "2017-10-30T23:59:00Z";
    let mut exprs = Vec::new();
    for unit in ["Second", "Millisecond", "Microsecond", "Nanosecond"] {
        for tz in [", None)", ", Some(\"UTC\"))", ", Some(\"+02:00\"))"] {
            let ty = format!("Timestamp({unit}{tz}");
            exprs.push(format!(
                "datetime_diff('hour', arrow_cast(arrow_cast('{a}', 'Timestamp(Nanosecond, Some(\"UTC\"))'), '{ty}'), \
                 arrow_cast(arrow_cast('{b}', 'Timestamp(Nanosecond, Some(\"UTC\"))'), '{ty}'))"
            ));
        }
    }
    exprs.push(format!("datetime_diff('HOUR', '{a}', '{b}')"));
    exprs.push(format!(
        "datetime_diff('hour', arrow_cast('{a}', 'Utf8View'), '{b}')"
    ));
    let sql = format!("SELECT {}", exprs.join(", "));
    let b = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    for (i, c) in b[0].columns().iter().enumerate() {
        assert_eq!(c.data_type(), &DataType::Int64, "{}", exprs[i]);
        assert_eq!(
            c.as_primitive::<arrow::datatypes::Int64Type>().value(0),
            2,
            "{}",
            exprs[i]
        );
    }
    // Dates, NULLs, and a column of periods.
    let b = ctx
        .sql(
            "SELECT datetime_diff('month', DATE '2017-01-01', DATE '2015-12-30'), \
                    datetime_diff('day', NULL, now()), datetime_diff(NULL, now(), now()), \
                    datetime_diff(p, TIMESTAMP '2017-10-29 00:00:00', TIMESTAMP '2017-09-30 23:59:00') \
             FROM (VALUES ('week'), ('day'), (NULL)) AS v(p)",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let ints = |i: usize| -> Vec<Option<i64>> {
        b.iter()
            .flat_map(|b| {
                b.column(i)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(ints(0), [Some(13); 3]);
    assert_eq!(ints(1), [None; 3]);
    assert_eq!(ints(2), [None; 3]);
    assert_eq!(ints(3), [Some(5), Some(29), None]);
}

#[tokio::test]
async fn functions_are_documented() {
    let ctx = context().await;
    for udf in nethunt_udfs::all_udfs() {
        let doc = udf.documentation().expect("documented");
        assert!(doc.description.len() > 40, "{}", udf.name());
        assert!(doc.syntax_example.starts_with(udf.name()), "{}", udf.name());
        assert!(ctx.udf(udf.name()).is_ok(), "{} registered", udf.name());
    }
    for udaf in nethunt_udfs::all_udafs() {
        let doc = udaf.documentation().expect("documented");
        assert!(doc.description.len() > 40, "{}", udaf.name());
        assert!(
            doc.syntax_example.starts_with(udaf.name()),
            "{}",
            udaf.name()
        );
        assert!(ctx.udaf(udaf.name()).is_ok(), "{} registered", udaf.name());
    }
}
