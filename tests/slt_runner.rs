//! sqllogictest harness for `tests/slt/*.slt`: SQL-visible behaviour of nethunt's functions and
//! hunting queries. Each file gets a fresh context with nethunt's settings and functions (the same
//! `engine::context_for` the CLI uses).
//!
//! Besides SQL, a record may say `RUN QUERY name [param=value ...]`: the library query `name` is
//! loaded from `queries/`, its parameters bound through the same code as `nethunt run --param`,
//! and its rows returned. Tables are made in the file with CREATE TABLE / INSERT, so every
//! expected row is worked out by hand from the data right above it.
//!
//! Values print as: NULL for null, (empty) for '', booleans true/false, timestamps ISO 8601.

use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use nethunt::engine::{Engine, EngineOptions, context_for};
use nethunt::library::Library;
use sqllogictest::{DBOutput, DefaultColumnType};

#[derive(Debug)]
struct SltError(String);
impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SltError {}

struct Nethunt {
    engine: Engine,
    library: Library,
}

fn column_type(t: &DataType) -> DefaultColumnType {
    match t {
        t if t.is_integer() => DefaultColumnType::Integer,
        t if t.is_floating() => DefaultColumnType::FloatingPoint,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

fn render(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, SltError> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for b in batches {
        let fmts = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SltError(e.to_string()))?;
        for r in 0..b.num_rows() {
            rows.push(
                fmts.iter()
                    .zip(b.columns())
                    .map(|(f, c)| {
                        let s = f.value(r).to_string();
                        if s.is_empty() && !c.is_null(r) {
                            "(empty)".to_string()
                        } else {
                            s
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

impl Nethunt {
    async fn run_library_query(&self, spec: &str) -> Result<Vec<RecordBatch>, SltError> {
        let mut words = spec.split_whitespace();
        let name = words
            .next()
            .ok_or_else(|| SltError("RUN QUERY needs a name".into()))?;
        let assignments = words
            .map(|w| {
                nethunt::library::params::split_assignment(w).map_err(|e| SltError(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let q = self
            .library
            .get(name)
            .map_err(|e| SltError(e.to_string()))?;
        let values = q.bind(&assignments).map_err(|e| SltError(e.to_string()))?;
        let df = self
            .engine
            .plan_query(&q, values)
            .await
            .map_err(|e| SltError(e.to_string()))?;
        df.collect()
            .await
            .map_err(|e| SltError(nethunt::error::one_line(&e)))
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for Nethunt {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let trimmed = sql.trim();
        let (batches, schema_types) = if let Some(spec) = trimmed.strip_prefix("RUN QUERY ") {
            let b = self.run_library_query(spec).await?;
            let types = b.first().map(|b| {
                b.schema()
                    .fields()
                    .iter()
                    .map(|f| column_type(f.data_type()))
                    .collect()
            });
            (b, types)
        } else {
            let frames = self
                .engine
                .plan_sql(sql, &[])
                .await
                .map_err(|e| SltError(e.to_string()))?;
            let df = frames.into_iter().last().expect("one statement");
            let types: Vec<_> = df
                .schema()
                .fields()
                .iter()
                .map(|f| column_type(f.data_type()))
                .collect();
            let b = df
                .collect()
                .await
                .map_err(|e| SltError(nethunt::error::one_line(&e)))?;
            (b, Some(types))
        };
        let first_word = trimmed
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if ["CREATE", "INSERT", "DROP", "SET"].contains(&first_word.as_str()) {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: schema_types.unwrap_or_default(),
            rows: render(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "nethunt"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    files
}

#[tokio::main]
async fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut passed = 0;
    let mut failed = 0;
    for file in slt_files() {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let mut runner = sqllogictest::Runner::new(|| async {
            Ok(Nethunt {
                engine: Engine::bare(
                    context_for(&EngineOptions {
                        target_partitions: Some(2),
                        ..Default::default()
                    })
                    .map_err(|e| SltError(e.to_string()))?,
                ),
                library: Library::load(None).map_err(|e| SltError(e.to_string()))?,
            })
        });
        match runner.run_file_async(&file).await {
            Ok(()) => {
                println!("slt {name} ... ok");
                passed += 1;
            }
            Err(e) => {
                println!("slt {name} ... FAILED\n{e}");
                failed += 1;
            }
        }
    }
    println!("\nslt: {passed} passed, {failed} failed");
    if failed > 0 || passed == 0 {
        std::process::exit(1);
    }
}
