//! End-to-end tests of the `nethunt` binary: every subcommand and format, exit codes, and every
//! bad input (exit 2, one line on stderr naming the culprit, no output file left behind).
//!
//! Expected rows on the bundled sample come from an independent oracle written here with plain
//! loops over the Parquet rows (no SQL, no DataFusion), following the semantics sheet.

mod architecture;
#[cfg(feature = "cluster")]
mod cluster;
mod fetch;
mod fuzz;
mod kql;
mod library;
mod repl;
mod s3;
mod sources;
mod zeek;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{
    DataType, Field, Int32Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType,
};
use assert_cmd::Command;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn nethunt() -> Command {
    let mut c = Command::cargo_bin("nethunt").unwrap();
    c.current_dir(ROOT);
    c.env_remove("NETHUNT_DATA")
        .env_remove("NETHUNT_DOMAINS")
        .env_remove("NETHUNT_LIBRARY")
        .env_remove("NETHUNT_CLUSTER");
    // never a developer's real cache: an empty one
    c.env("NETHUNT_CACHE_DIR", empty_cache());
    c
}

/// The binary as a process this test controls (spawned, killed), set up like [`nethunt`].
fn nethunt_process() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_nethunt"));
    c.current_dir(ROOT)
        .env_remove("NETHUNT_DATA")
        .env_remove("NETHUNT_DOMAINS")
        .env_remove("NETHUNT_LIBRARY")
        .env_remove("NETHUNT_CLUSTER")
        .env("NETHUNT_CACHE_DIR", empty_cache());
    c
}

fn empty_cache() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap())
        .path()
        .to_path_buf()
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<std::process::Output> for Out {
    fn from(o: std::process::Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// The rows of `sql` over the lake `data` (CSV, header first); the run must succeed.
fn sql_rows(data: &str, sql: &str) -> Vec<Vec<String>> {
    let o = run(&["sql", sql, "--data", data, "--format", "csv", "-q"]);
    assert_eq!(o.code, 0, "{sql}: {}", o.stderr);
    csv_rows(&o.stdout)
}

fn run(args: &[&str]) -> Out {
    let o = nethunt().args(args).output().unwrap();
    Out::from(o)
}

/// Exit 2, exactly one stderr line that starts like our errors and contains every `needles`
/// entry, no panic or backtrace.
fn assert_error(o: &Out, needles: &[&str]) {
    assert_eq!(o.code, 2, "exit code; stderr: {}", o.stderr);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {:?}", o.stderr);
    assert!(lines[0].starts_with("nethunt: error: "), "{}", lines[0]);
    for n in needles {
        assert!(lines[0].contains(n), "stderr lacks {n:?}: {}", lines[0]);
    }
    assert!(!o.stderr.contains("panicked") && !o.stderr.contains("backtrace"));
}

fn no_files_left(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "files left behind in {}: {left:?}",
        dir.display()
    );
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(
                    e.path()
                        .strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

fn sample_lake() -> PathBuf {
    Path::new(ROOT).join("data/lake")
}

/// The number of sessions in the bundled sample, counted from its files.
fn sample_rows() -> usize {
    read_lake(&sample_lake()).iter().map(|b| b.num_rows()).sum()
}

fn read_lake(dir: &Path) -> Vec<RecordBatch> {
    let mut files: Vec<PathBuf> = Vec::new();
    for d in std::fs::read_dir(dir).unwrap() {
        let d = d.unwrap().path();
        for f in std::fs::read_dir(&d).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in r {
            out.push(b.unwrap());
        }
    }
    out
}

fn col_str(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let c = arrow::compute::cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
    let s = c.as_string::<i32>();
    (0..s.len())
        .map(|i| (!s.is_null(i)).then(|| s.value(i).to_string()))
        .collect()
}

/// Oracle for non_standard_ports with the default parameters: (src, bin start in µs, ports).
fn oracle_ports(batches: &[RecordBatch]) -> Vec<(String, i64, usize)> {
    let common: HashSet<i32> = [443, 53, 389, 80, 0, 880, 8888, 8080].into();
    let mut groups: HashMap<(String, i64), BTreeSet<i32>> = HashMap::new();
    for b in batches {
        let t = b
            .column_by_name("TimeGenerated")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let port = b
            .column_by_name("DstPortNumber")
            .unwrap()
            .as_primitive::<Int32Type>();
        let (src, dst, res) = (
            col_str(b, "SrcIpAddr"),
            col_str(b, "DstIpAddr"),
            col_str(b, "EventResult"),
        );
        for i in 0..b.num_rows() {
            if port.is_null(i) {
                continue;
            }
            let p = port.value(i);
            let public = dst[i].as_deref().and_then(nethunt_udfs::ipv4_is_private) == Some(false);
            if public
                && !(49512..=65535).contains(&p)
                && !common.contains(&p)
                && res[i].as_deref() == Some("Failure")
            {
                let bin = t.value(i).div_euclid(120_000_000) * 120_000_000;
                groups
                    .entry((src[i].clone().unwrap_or_default(), bin))
                    .or_default()
                    .insert(p);
            }
        }
    }
    let mut rows: Vec<(String, i64, usize)> = groups
        .into_iter()
        .filter(|(_, p)| p.len() > 5)
        .map(|((s, t), p)| (s, t, p.len()))
        .collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    rows
}

/// Oracle for uncommon_domains: (sld, total, host, bytes) in the query's order.
fn oracle_domains(batches: &[RecordBatch], list: &str) -> Vec<(String, i64, String, i64)> {
    let top: HashSet<String> = list
        .lines()
        .map(|l| l.split_once(',').map(|(_, d)| d).unwrap_or(""))
        .map(|d| nethunt_udfs::second_level_domain(d).to_lowercase())
        .collect();
    let mut per_host: BTreeMap<(String, String), i64> = BTreeMap::new();
    for b in batches {
        let host = col_str(b, "UrlHostname");
        let bytes = b
            .column_by_name("SrcBytes")
            .unwrap()
            .as_primitive::<Int64Type>();
        for (i, host) in host.iter().enumerate() {
            let Some(h) = host.as_deref().filter(|h| !h.is_empty()) else {
                continue;
            };
            let l = h.to_lowercase();
            if l.ends_with(".local") || l.ends_with(".lan") || l.ends_with(".home") {
                continue;
            }
            let sld = nethunt_udfs::second_level_domain(h).to_lowercase();
            if top.contains(&sld) {
                continue;
            }
            let add = if bytes.is_null(i) { 0 } else { bytes.value(i) };
            *per_host.entry((sld, h.to_string())).or_default() += add;
        }
    }
    let mut totals: HashMap<String, i64> = HashMap::new();
    for ((s, _), v) in &per_host {
        *totals.entry(s.clone()).or_default() += v;
    }
    let mut rows: Vec<_> = per_host
        .into_iter()
        .map(|((s, h), v)| (s.clone(), totals[&s], h, v))
        .collect();
    rows.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(a.0.cmp(&b.0))
            .then(b.3.cmp(&a.3))
            .then(a.2.cmp(&b.2))
    });
    rows
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn micros_of(ts: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(ts)
        .unwrap()
        .timestamp_micros()
}

// ------------------------------------------------------------------------------------------------
// The main job on the bundled sample

#[test]
fn default_run_finds_exactly_the_oracles_port_scans() {
    let o = run(&["run", "non_standard_ports", "--format", "csv"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows = csv_rows(&o.stdout);
    assert_eq!(rows[0], ["SrcIpAddr", "TimeGenerated", "PortCount"]);
    let got: Vec<(String, i64, usize)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), micros_of(&r[1]), r[2].parse().unwrap()))
        .collect();
    let want = oracle_ports(&read_lake(&sample_lake()));
    assert!(!want.is_empty(), "the sample lake must contain port scans");
    assert_eq!(got, want);
}

#[test]
fn default_uncommon_domains_equal_the_oracle() {
    let o = run(&["run", "uncommon_domains", "--format", "csv"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows = csv_rows(&o.stdout);
    assert_eq!(
        rows[0],
        ["SndLevelDomain", "TotalBytes", "UrlHostname", "BytesSent"]
    );
    let got: Vec<(String, i64, String, i64)> = rows[1..]
        .iter()
        .map(|r| {
            (
                r[0].clone(),
                r[1].parse().unwrap(),
                r[2].clone(),
                r[3].parse().unwrap(),
            )
        })
        .collect();
    let list = std::fs::read_to_string(Path::new(ROOT).join("data/top1m-sample.csv")).unwrap();
    let want = oracle_domains(&read_lake(&sample_lake()), &list);
    assert!(want.len() > 3);
    assert_eq!(got, want);
    // the planted exfiltration tops the list
    assert!(["dl-cdn-update", "syncvault-storage", "paste-bin"].contains(&got[0].0.as_str()));
}

/// An installed binary carries the sample. A copy of the binary, outside the checkout, run from
/// `/` with an empty environment and a home of its own, runs the main job on the sample (written
/// to that home's cache) and says that it did; `--quiet` hides the notice, `--data` needs none.
#[test]
fn installed_binary_runs_the_sample_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin").join("nethunt");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_nethunt"), &bin).unwrap();
    let home = dir.path().join("home");
    let installed = |args: &[&str]| -> Out {
        std::process::Command::new(&bin)
            .current_dir("/")
            .env_clear()
            .env("HOME", &home)
            .args(args)
            .output()
            .unwrap()
            .into()
    };
    let o = installed(&["run", "non_standard_ports", "--format", "csv"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let got: Vec<(String, i64, usize)> = csv_rows(&o.stdout)[1..]
        .iter()
        .map(|r| (r[0].clone(), micros_of(&r[1]), r[2].parse().unwrap()))
        .collect();
    assert_eq!(got, oracle_ports(&read_lake(&sample_lake())));
    let notice = "NetworkSessions is the bundled sample lake";
    assert!(o.stderr.contains(notice), "{}", o.stderr);
    let samples: Vec<_> = std::fs::read_dir(home.join(".cache/nethunt/sample"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert!(
        samples[0]
            .join("lake/date=2024-07-31/part-00000.parquet")
            .is_file()
    );

    let quiet = installed(&["run", "non_standard_ports", "--format", "csv", "--quiet"]);
    assert_eq!((quiet.code, quiet.stdout.as_str()), (0, o.stdout.as_str()));
    assert!(!quiet.stderr.contains(notice), "{}", quiet.stderr);
    let lake = sample_lake().display().to_string();
    let given = installed(&["run", "non_standard_ports", "--data", &lake]);
    assert_eq!(given.code, 0, "{}", given.stderr);
    assert!(!given.stderr.contains(notice), "{}", given.stderr);
}

/// Issue 14, defect 2: `--fail-on-hit | head -1` exited 0 although the query returned rows. A
/// reader that closes stdout early must not hide hits: the status follows the rows produced.
#[test]
fn fail_on_hit_holds_when_the_reader_closes_the_pipe() {
    use std::io::BufRead;
    for format in ["csv", "ndjson", "table"] {
        let mut child = nethunt_process()
            .args([
                "run",
                "uncommon_domains",
                "--fail-on-hit",
                "--format",
                format,
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is gone (as `head -1` is): the rest of the ~100 KB result meets a closed pipe.
        let o: Out = child.wait_with_output().unwrap().into();
        assert!(!first.is_empty());
        assert_eq!(o.code, 1, "{format}: {}", o.stderr);
        assert!(!o.stderr.contains("error"), "{format}: {}", o.stderr);
    }
}

#[test]
fn every_format_carries_the_same_rows() {
    let csv = run(&["run", "non_standard_ports", "--format", "csv"]);
    let n = csv_rows(&csv.stdout).len() - 1;
    assert!(n > 0);

    let json = run(&["run", "non_standard_ports", "--format", "json"]);
    assert_eq!(json.code, 0);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), n);
    assert!(arr[0]["SrcIpAddr"].is_string() && arr[0]["PortCount"].is_number());

    let nd = run(&["run", "non_standard_ports", "--format", "ndjson"]);
    let lines: Vec<serde_json::Value> = nd
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), n);
    assert_eq!(&lines[0], &arr[0]);

    let table = run(&["run", "non_standard_ports"]);
    assert_eq!(table.code, 0);
    assert!(table.stdout.contains("| SrcIpAddr"), "{}", table.stdout);
    assert_eq!(
        table.stdout.lines().filter(|l| l.starts_with("| ")).count(),
        n + 1
    );
    assert!(
        table.stderr.contains(&format!("{n} rows")),
        "{}",
        table.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hits.parquet");
    let pq = run(&[
        "run",
        "non_standard_ports",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(pq.code, 0, "{}", pq.stderr);
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows() as usize, n);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        1,
        "only the result, no temporary file: {names:?}"
    );
}

#[test]
fn empty_results_are_valid_in_every_format() {
    let json = run(&[
        "run",
        "non_standard_ports",
        "--param",
        "threshold=100000",
        "--format",
        "json",
    ]);
    assert_eq!(json.code, 0);
    assert_eq!(json.stdout.trim(), "[]");
    let csv = run(&[
        "run",
        "non_standard_ports",
        "-p",
        "threshold=100000",
        "--format",
        "csv",
    ]);
    assert_eq!(csv.stdout.trim(), "SrcIpAddr,TimeGenerated,PortCount");
    let table = run(&["run", "non_standard_ports", "-p", "threshold=100000"]);
    assert!(table.stdout.contains("SrcIpAddr"));
    assert!(table.stderr.contains("0 rows"));
}

#[test]
fn fail_on_hit_and_limit() {
    assert_eq!(
        run(&[
            "run",
            "non_standard_ports",
            "--fail-on-hit",
            "--format",
            "csv"
        ])
        .code,
        1
    );
    assert_eq!(
        run(&[
            "run",
            "non_standard_ports",
            "--fail-on-hit",
            "-p",
            "threshold=100000"
        ])
        .code,
        0
    );
    let o = run(&[
        "run",
        "non_standard_ports",
        "--limit",
        "2",
        "--format",
        "csv",
    ]);
    assert_eq!(csv_rows(&o.stdout).len(), 3);
}

#[test]
fn parameters_change_the_answer() {
    let base = csv_rows(&run(&["run", "non_standard_ports", "--format", "csv"]).stdout).len();
    let lower = csv_rows(
        &run(&[
            "run",
            "non_standard_ports",
            "--format",
            "csv",
            "-p",
            "threshold=2",
        ])
        .stdout,
    )
    .len();
    assert!(
        lower > base,
        "threshold=2 finds more than threshold=5 ({lower} vs {base})"
    );
    let o = run(&[
        "run",
        "non_standard_ports",
        "--format",
        "csv",
        "-p",
        "bin=1h",
    ]);
    assert_eq!(o.code, 0);
    for r in &csv_rows(&o.stdout)[1..] {
        assert_eq!(
            micros_of(&r[1]) % 3_600_000_000,
            0,
            "1h bins start on the hour: {r:?}"
        );
    }
}

#[test]
fn queries_and_show() {
    let o = run(&["queries"]);
    assert_eq!(o.code, 0);
    for s in [
        "non_standard_ports",
        "uncommon_domains",
        "T1046",
        "Traffic to non-standard ports",
        "--param threshold=<int> (default 5)",
    ] {
        assert!(o.stdout.contains(s), "{s}: {}", o.stdout);
    }
    let o = run(&["show", "non_standard_ports"]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("threshold (int) = 5"), "{}", o.stdout);
    assert!(o.stdout.contains("NOT BETWEEN 49512 AND 65535"));
}

#[test]
fn sql_subcommand() {
    // independent row count: the Parquet footers
    let total: i64 = std::fs::read_dir(sample_lake())
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| {
            ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(f.unwrap().path()).unwrap(),
            )
            .unwrap()
            .metadata()
            .file_metadata()
            .num_rows()
        })
        .sum();
    let o = run(&[
        "sql",
        "SELECT count(*) AS n FROM NetworkSessions",
        "--format",
        "csv",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, format!("n\n{total}\n"));
    // CamelCase unquoted, a UDF, hive partition column, and a bound parameter
    let o = run(&[
        "sql",
        "SELECT date, count(*) AS n FROM NetworkSessions WHERE ipv4_is_private(DstIpAddr) AND DstPortNumber = $p GROUP BY date ORDER BY date",
        "-p",
        "p=443",
        "--format",
        "csv",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows = csv_rows(&o.stdout);
    assert_eq!(rows[0], ["date", "n"]);
    assert_eq!(rows[1][0], "2024-07-30");
    // several statements from a file: the view is visible to the next statement
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.sql");
    std::fs::write(&f, "CREATE VIEW v AS SELECT * FROM top1m WHERE \"Position\" <= 3;\nSELECT count(*) AS n FROM v;\n").unwrap();
    let o = run(&["sql", "-f", f.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "n\n3\n");
    // an extra table from CSV
    let t = dir.path().join("watch.csv");
    std::fs::write(&t, "ip,label\n8.8.8.8,dns\n1.1.1.1,dns\n").unwrap();
    let o = run(&[
        "sql",
        "SELECT count(*) AS n FROM watch",
        "--table",
        &format!("watch={}", t.display()),
        "--format",
        "csv",
    ]);
    assert_eq!(o.stdout, "n\n2\n", "{}", o.stderr);
    // the functions carry their documentation into information_schema
    let o = run(&[
        "sql",
        "SELECT description FROM information_schema.routines WHERE routine_name = 'ipv4_is_private'",
        "--format",
        "csv",
    ]);
    assert!(o.stdout.contains("RFC 1918"), "{}", o.stdout);
}

#[test]
fn generate_is_deterministic_and_runnable() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    for (out, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        let o = run(&[
            "generate",
            "--rows",
            "5000",
            "--days",
            "2",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let f = "date=2024-07-31/part-00000.parquet";
    assert_eq!(
        std::fs::read(a.join(f)).unwrap(),
        std::fs::read(b.join(f)).unwrap()
    );
    assert_ne!(
        std::fs::read(a.join(f)).unwrap(),
        std::fs::read(c.join(f)).unwrap()
    );
    let o = run(&[
        "run",
        "non_standard_ports",
        "--data",
        a.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let got = csv_rows(&o.stdout).len() - 1;
    assert_eq!(got, oracle_ports(&read_lake(&a)).len());
    assert!(got >= 2, "planted scans fire");
    assert_error(
        &run(&["generate", "--rows", "0", "--out", "x"]),
        &["--rows"],
    );
    assert_error(
        &run(&["generate", "--start", "yesterday", "--out", "x"]),
        &["--start yesterday"],
    );
}

// ------------------------------------------------------------------------------------------------
// Bad inputs: exit 2, one line naming the culprit, no output file

fn write_parquet(path: &Path, batch: &RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// A one-row sessions file with the columns the seed queries read, with `port` as given.
fn sessions_batch(port: Arc<dyn Array>, drop: Option<&str>) -> RecordBatch {
    let mut fields = vec![
        Field::new(
            "TimeGenerated",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("SrcIpAddr", DataType::Utf8, true),
        Field::new("DstIpAddr", DataType::Utf8, true),
        Field::new("DstPortNumber", port.data_type().clone(), true),
        Field::new("EventResult", DataType::Utf8, true),
        Field::new("SrcBytes", DataType::Int64, true),
        Field::new("UrlHostname", DataType::Utf8, true),
    ];
    let mut cols: Vec<Arc<dyn Array>> = vec![
        Arc::new(arrow::array::TimestampMicrosecondArray::from(vec![0]).with_timezone("UTC")),
        Arc::new(StringArray::from(vec!["1.2.3.4"])),
        Arc::new(StringArray::from(vec!["8.8.8.8"])),
        port,
        Arc::new(StringArray::from(vec!["Failure"])),
        Arc::new(arrow::array::Int64Array::from(vec![1])),
        Arc::new(StringArray::from(vec!["a.example.com"])),
    ];
    if let Some(d) = drop {
        let i = fields.iter().position(|f| f.name() == d).unwrap();
        fields.remove(i);
        cols.remove(i);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

/// Run `args` + `--output OUT` in a fresh folder and check the error and that nothing was left.
fn assert_fails_cleanly(args: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("result.csv");
    let mut all: Vec<&str> = args.to_vec();
    let o = out.to_str().unwrap().to_string();
    all.extend(["--output", &o]);
    assert_error(&run(&all), needles);
    no_files_left(dir.path());
}

#[test]
fn usage_errors_are_one_line() {
    assert_error(
        &run(&["run", "--bogus"]),
        &["unexpected argument '--bogus'", "--help"],
    );
    assert_error(&run(&["run"]), &["required arguments", "<QUERY>"]);
    assert_error(&run(&["nosuch"]), &["unrecognized subcommand 'nosuch'"]);
    assert_error(
        &run(&["run", "non_standard_ports", "--format", "xml"]),
        &["invalid value 'xml'", "--format"],
    );
    // --help is not an error
    let help = run(&["run", "--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("--mem-pool-type"), "{}", help.stdout);
}

#[test]
fn missing_data_path() {
    assert_fails_cleanly(
        &["run", "non_standard_ports", "--data", "/nonexistent/lake"],
        &["table NetworkSessions", "/nonexistent/lake", "no such file"],
    );
    let empty = tempfile::tempdir().unwrap();
    assert_fails_cleanly(
        &[
            "run",
            "non_standard_ports",
            "--data",
            empty.path().to_str().unwrap(),
        ],
        &["no .parquet files found"],
    );
}

#[test]
fn corrupt_and_truncated_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.parquet");
    std::fs::write(&junk, b"this is not parquet at all, just text").unwrap();
    assert_fails_cleanly(
        &[
            "run",
            "non_standard_ports",
            "--data",
            junk.to_str().unwrap(),
        ],
        &[junk.to_str().unwrap(), "not a readable Parquet file"],
    );
    let good = sample_lake().join("date=2024-07-30/part-00000.parquet");
    let bytes = std::fs::read(good).unwrap();
    let cut = dir.path().join("lake/date=2024-07-30/cut.parquet");
    std::fs::create_dir_all(cut.parent().unwrap()).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_fails_cleanly(
        &[
            "run",
            "non_standard_ports",
            "--data",
            dir.path().join("lake").to_str().unwrap(),
        ],
        &["cut.parquet", "not a readable Parquet file"],
    );
}

#[test]
fn missing_column_names_column_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("noport.parquet");
    write_parquet(
        &f,
        &sessions_batch(Arc::new(Int32Array::from(vec![22])), Some("DstPortNumber")),
    );
    assert_fails_cleanly(
        &["run", "non_standard_ports", "--data", f.to_str().unwrap()],
        &["column DstPortNumber is missing", f.to_str().unwrap()],
    );
    // missing in one file of a lake only: that file is named
    let lake = dir.path().join("lake");
    write_parquet(
        &lake.join("date=2024-01-01/a.parquet"),
        &sessions_batch(Arc::new(Int32Array::from(vec![22])), None),
    );
    let bad = lake.join("date=2024-01-02/b.parquet");
    write_parquet(
        &bad,
        &sessions_batch(Arc::new(Int32Array::from(vec![22])), Some("DstPortNumber")),
    );
    assert_fails_cleanly(
        &[
            "run",
            "non_standard_ports",
            "--data",
            lake.to_str().unwrap(),
        ],
        &["column DstPortNumber is missing", bad.to_str().unwrap()],
    );
    // a query that does not read the column still runs on that lake
    let o = run(&[
        "run",
        "uncommon_domains",
        "--data",
        lake.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn wrong_column_type_names_column_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("strport.parquet");
    write_parquet(
        &f,
        &sessions_batch(Arc::new(StringArray::from(vec!["22"])), None),
    );
    assert_fails_cleanly(
        &["run", "non_standard_ports", "--data", f.to_str().unwrap()],
        &[
            "column DstPortNumber has type",
            "expected an integer",
            f.to_str().unwrap(),
        ],
    );
}

#[test]
fn bad_sql() {
    assert_fails_cleanly(&["sql", "SELEC 1"], &["SQL"]);
    assert_fails_cleanly(&["sql", "SELECT nope FROM NetworkSessions"], &["nope"]);
    assert_fails_cleanly(&["sql", "SELECT 1 FROM no_such_table"], &["no_such_table"]);
    assert_fails_cleanly(&["sql", "SELECT $x"], &["parameter 'x'"]);
    assert_fails_cleanly(
        &["sql", "SELECT 1", "-p", "x=1"],
        &["parameter 'x'", "no $x placeholder"],
    );
}

#[test]
fn bad_or_unknown_parameters() {
    assert_fails_cleanly(
        &["run", "non_standard_ports", "-p", "threshold=many"],
        &["parameter 'threshold'", "integer", "'many'"],
    );
    assert_fails_cleanly(
        &["run", "non_standard_ports", "-p", "thresold=3"],
        &["parameter 'thresold'", "unknown parameter"],
    );
    assert_fails_cleanly(
        &["run", "non_standard_ports", "-p", "common_ports=[80,x]"],
        &["parameter 'common_ports'"],
    );
    assert_fails_cleanly(
        &["run", "non_standard_ports", "-p", "bin=soon"],
        &["parameter 'bin'"],
    );
    assert_fails_cleanly(
        &["run", "non_standard_ports", "-p", "threshold"],
        &["NAME=VALUE"],
    );
    assert_fails_cleanly(
        &[
            "run",
            "non_standard_ports",
            "-p",
            "threshold=1",
            "-p",
            "threshold=2",
        ],
        &["given more than once"],
    );
}

#[test]
fn unknown_query() {
    assert_fails_cleanly(
        &["run", "nope"],
        &["unknown query 'nope'", "non_standard_ports"],
    );
    assert_error(&run(&["show", "nope"]), &["unknown query 'nope'"]);
}

#[test]
fn bad_domain_lists() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("top-1m.csv.zip");
    std::fs::write(&z, b"PK\x03\x04 definitely not a zip").unwrap();
    assert_fails_cleanly(
        &["run", "uncommon_domains", "--domains", z.to_str().unwrap()],
        &[
            "table top1m",
            z.to_str().unwrap(),
            "not a valid zip archive",
        ],
    );
    // a real zip without a matching entry
    let z2 = dir.path().join("other.zip");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&z2).unwrap());
        w.start_file("readme.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"hello").unwrap();
        w.finish().unwrap();
    }
    assert_fails_cleanly(
        &["run", "uncommon_domains", "--domains", z2.to_str().unwrap()],
        &["no zip entry matches '*.csv'", "readme.txt"],
    );
    assert_fails_cleanly(
        &["run", "uncommon_domains", "--domains", "/no/such/list.csv"],
        &["table top1m", "no such file"],
    );
    let three = dir.path().join("three.csv");
    std::fs::write(&three, "1,a.com\n2,b.com,extra\n").unwrap();
    assert_fails_cleanly(
        &[
            "run",
            "uncommon_domains",
            "--domains",
            three.to_str().unwrap(),
        ],
        &["table top1m", "three.csv"],
    );
}

#[test]
fn zipped_list_gives_the_same_answer_as_the_plain_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = std::fs::read(Path::new(ROOT).join("data/top1m-sample.csv")).unwrap();
    let z = dir.path().join("top-1m.csv.zip");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&z).unwrap());
        w.start_file(
            "top-1m.csv",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        std::io::Write::write_all(&mut w, &csv).unwrap();
        w.finish().unwrap();
    }
    let a = run(&["run", "uncommon_domains", "--format", "csv"]);
    let b = run(&[
        "run",
        "uncommon_domains",
        "--format",
        "csv",
        "--domains",
        z.to_str().unwrap(),
    ]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(a.stdout, b.stdout);
}

/// Issue 14, defect 8: the signature of a presigned URL (or an Azure SAS token) given to
/// --data reached the error line. Query strings of URLs are redacted everywhere.
#[test]
fn url_query_strings_never_reach_output() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!(
        "http://127.0.0.1:{port}/lake/x.parquet?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=5ec2e75167a7"
    );
    for args in [
        vec![
            "sql",
            "SELECT count(*) FROM NetworkSessions",
            "--data",
            &url,
        ],
        vec!["sql", "SELECT 1", "--domains", &url],
    ] {
        let o = run(&args);
        assert_error(&o, &["?***"]);
        assert!(
            !o.stderr.contains("5ec2e75167a7") && !o.stderr.contains("AKIAEXAMPLE"),
            "{}",
            o.stderr
        );
    }
}

/// Issue 14, defect 9: files of one lake that store a column in different widths or string
/// encodings (SrcBytes Int32 here, Int64 there; UrlHostname Utf8, dictionary, LargeUtf8) read
/// as one table, widened within the type family. A real conflict (a string where others have
/// integers) stays an error naming the file and the column.
#[test]
fn type_drift_across_files_is_widened() {
    use arrow::array::{ArrayRef, DictionaryArray, Int64Array, LargeStringArray};
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    let write = |name: &str, cols: Vec<(&str, ArrayRef)>| {
        let batch = RecordBatch::try_from_iter(cols).unwrap();
        let f = std::fs::File::create(lake.join(name)).unwrap();
        let mut w = ArrowWriter::try_new(f, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    };
    write(
        "a.parquet",
        vec![
            (
                "SrcBytes",
                Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef,
            ),
            (
                "UrlHostname",
                Arc::new(StringArray::from(vec!["a.com", "b.com"])),
            ),
        ],
    );
    let dict: DictionaryArray<Int32Type> = vec!["b.com", "c.com", "c.com"].into_iter().collect();
    write(
        "b.parquet",
        vec![
            (
                "SrcBytes",
                Arc::new(Int64Array::from(vec![10_000_000_000, 20, 30])) as ArrayRef,
            ),
            ("UrlHostname", Arc::new(dict)),
        ],
    );
    write(
        "c.parquet",
        vec![
            (
                "SrcBytes",
                Arc::new(Int32Array::from(vec![400])) as ArrayRef,
            ),
            (
                "UrlHostname",
                Arc::new(LargeStringArray::from(vec!["d.com"])),
            ),
        ],
    );
    let q = "SELECT sum(SrcBytes) AS s, count(DISTINCT UrlHostname) AS h, count(*) AS n FROM NetworkSessions";
    // 1 + 2 + 10000000000 + 20 + 30 + 400; a, b, c, d; 6 rows
    assert_eq!(
        sql_rows(lake.to_str().unwrap(), q)[1],
        ["10000000453", "4", "6"]
    );

    write(
        "d.parquet",
        vec![
            (
                "SrcBytes",
                Arc::new(StringArray::from(vec!["many"])) as ArrayRef,
            ),
            ("UrlHostname", Arc::new(StringArray::from(vec!["e.com"]))),
        ],
    );
    let o = run(&["sql", q, "--data", lake.to_str().unwrap()]);
    assert_error(&o, &["d.parquet", "SrcBytes", "Utf8"]);
}

/// Files anywhere under `dir`, with the folders that are left as `name/`.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = files_under(dir);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                out.push(format!(
                    "{}/",
                    e.path().strip_prefix(dir).unwrap().display()
                ));
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// Run `args` (with TMPDIR set to `tmp`), wait until `started` sees the output being written,
/// send `signal`, and return how the process ended.
fn interrupt(args: &[&str], tmp: &Path, signal: &str, started: impl Fn() -> bool) -> Out {
    let child = nethunt_process()
        .env("TMPDIR", tmp)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !started() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(60),
            "{args:?}: nothing was being written after 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-s", signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait_with_output().unwrap().into()
}

/// Issue 14, defect 5: Ctrl-C or SIGTERM during `sql --output`, `import zeek` or `batch` left
/// `.partial` files in output and `date=` folders and temporary folders in $TMPDIR. Now the
/// files being written and the folders made for them go, and the exit status is 130 (SIGINT)
/// or 143 (SIGTERM), with one line on stderr.
#[test]
fn interrupted_runs_leave_nothing_behind() {
    let work = tempfile::tempdir().unwrap();
    // A Zeek log large enough that its import is still running when the signal comes.
    let line = "1722297600.000000\tCxyz\t10.0.0.1\t50000\t93.184.216.34\t443\ttcp\tssl\t0.5\t100\t200\tSF\n";
    let header = "#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\n";
    let log = work.path().join("conn.log");
    std::fs::write(&log, format!("{header}{}", line.repeat(300_000))).unwrap();
    // A query whose result is too long to finish.
    let library = work.path().join("library");
    std::fs::create_dir_all(&library).unwrap();
    std::fs::write(
        library.join("endless.sql"),
        "-- ---\n-- id = \"endless\"\n-- title = \"Endless\"\n-- description = \"A result too long to finish\"\n-- mitre = [\"T1046\"]\n-- severity = \"low\"\n-- ---\nSELECT value FROM generate_series(1, 4000000000)\n",
    )
    .unwrap();
    let endless = "SELECT value FROM generate_series(1, 4000000000)";
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let run_dir = tempfile::tempdir().unwrap();
        let (tmp, out) = (run_dir.path().join("tmp"), run_dir.path().join("out"));
        std::fs::create_dir_all(&tmp).unwrap();
        let partial = |dir: &Path| files_under(dir).iter().any(|f| f.ends_with(".partial"));
        let file = out.join("result.csv");
        // Each command, and the folder where its partial file shows that it is writing.
        let cases: Vec<(Vec<String>, PathBuf)> = vec![
            (
                vec!["sql", endless, "--output", file.to_str().unwrap()]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                out.clone(),
            ),
            (
                vec![
                    "import",
                    "zeek",
                    log.to_str().unwrap(),
                    "--out",
                    out.join("lake").to_str().unwrap(),
                ]
                .into_iter()
                .map(String::from)
                .collect(),
                out.join("lake"),
            ),
            (
                vec![
                    "batch",
                    "--library",
                    library.to_str().unwrap(),
                    "--queries",
                    "endless",
                    "--format",
                    "csv",
                    "--out",
                    out.join("hunts").to_str().unwrap(),
                ]
                .into_iter()
                .map(String::from)
                .collect(),
                tmp.clone(),
            ),
        ];
        for (args, watched) in cases {
            std::fs::create_dir_all(&out).unwrap();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = interrupt(&args, &tmp, signal, || partial(&watched));
            assert_eq!(o.code, code, "{signal} {args:?}: {}", o.stderr);
            assert!(
                o.stderr
                    .lines()
                    .last()
                    .is_some_and(|l| l.contains(&format!("interrupted by SIG{signal}"))),
                "{}",
                o.stderr
            );
            assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
            // Nothing written is left: no result, no partial file, no date= or lake folder
            // made for them, no temporary folder (the batch's run folder is its own record).
            let left: Vec<String> = tree(&out)
                .into_iter()
                .filter(|f| !f.starts_with("hunts"))
                .collect();
            assert!(left.is_empty(), "{signal} {args:?} left {left:?}");
            assert!(!partial(&out), "{signal} {args:?}: {:?}", tree(&out));
            assert!(
                tree(&tmp).is_empty(),
                "{signal} {args:?} left {:?}",
                tree(&tmp)
            );
            std::fs::remove_dir_all(&out).unwrap();
        }
    }
}

/// The panic hook, the last safety net: an internal error still ends as one line and exit 2,
/// never a backtrace, and removes the file being written. (A debug build panics on purpose
/// while writing when NETHUNT_DEBUG_PANIC is set.)
#[test]
fn a_panic_is_one_line_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.csv");
    let o: Out = nethunt()
        .env("NETHUNT_DEBUG_PANIC", "1")
        .env("RUST_BACKTRACE", "1")
        .args(["sql", "SELECT 1", "--output", file.to_str().unwrap()])
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    assert!(
        o.stderr
            .starts_with("nethunt: error: internal error at src/output.rs:"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("backtrace"), "{}", o.stderr);
    no_files_left(dir.path());
}

/// Issue 14, defect 6: `batch --resume` never checked that it resumed the same run. It now
/// refuses another lake, window, format, query set or parameter, naming the difference; and
/// `batch --param QUERY.NAME=VALUE` tunes one query, recorded in the manifest.
#[test]
fn batch_params_and_resume_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hunts");
    let lake = sample_lake().display().to_string();
    let base = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "batch",
            "--queries",
            "non_standard_ports,uncommon_domains",
            "--out",
            out.to_str().unwrap(),
            "--data",
            &lake,
            "--domains",
            "data/top1m-sample.csv",
            "-q",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let batch = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    };
    let o = batch(base(&[
        "-p",
        "non_standard_ports.threshold=2",
        "--from",
        "2024-07-30",
    ]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let run_dir = PathBuf::from(o.stdout.trim());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("manifest.json")).unwrap()).unwrap();
    let nsp = manifest["queries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["query"] == "non_standard_ports")
        .unwrap();
    assert_eq!(nsp["parameters"]["threshold"], "2");
    // threshold 2 finds more sources than the default 5 on the sample
    let default_rows = csv_rows(
        &run(&[
            "run",
            "non_standard_ports",
            "--format",
            "csv",
            "-q",
            "--data",
            &lake,
        ])
        .stdout,
    )
    .len()
        - 1;
    assert!(nsp["rows_out"].as_u64().unwrap() as usize > default_rows);
    assert_eq!(
        manifest["planned"],
        serde_json::json!(["non_standard_ports", "uncommon_domains"])
    );

    let name = run_dir.file_name().unwrap().to_str().unwrap().to_string();
    // The same run resumed: everything done, nothing differs.
    let resumed = [
        "-p",
        "non_standard_ports.threshold=2",
        "--from",
        "2024-07-30",
        "--resume",
        &name,
    ];
    let same = batch(base(&resumed));
    assert_eq!(same.code, 0, "{}", same.stderr);
    // Each difference is refused and named.
    for (extra, needles) in [
        (
            vec![
                "-p",
                "non_standard_ports.threshold=3",
                "--from",
                "2024-07-30",
            ],
            vec![
                "parameter non_standard_ports.threshold differs",
                "with 2",
                "has 3",
            ],
        ),
        (
            vec![
                "-p",
                "non_standard_ports.threshold=2",
                "--from",
                "2024-07-31",
            ],
            vec![
                "--from differs",
                "2024-07-30T00:00:00Z",
                "2024-07-31T00:00:00Z",
            ],
        ),
        (
            vec!["-p", "non_standard_ports.threshold=2"],
            vec!["--from differs", "has none"],
        ),
        (
            vec![
                "-p",
                "non_standard_ports.threshold=2",
                "--from",
                "2024-07-30",
                "--format",
                "csv",
            ],
            vec!["--format differs", "parquet", "csv"],
        ),
        (
            vec![
                "-p",
                "non_standard_ports.threshold=2",
                "--from",
                "2024-07-30",
                "--now",
                "2024-07-31",
            ],
            vec!["--now differs", "with none", "has 2024-07-31T00:00:00Z"],
        ),
    ] {
        let mut e = extra.clone();
        e.extend(["--resume", name.as_str()]);
        assert_error(&batch(base(&e)), &needles);
    }
    let mut other = base(&["--from", "2024-07-30", "--resume", &name]);
    other[2] = "non_standard_ports".into();
    assert_error(&batch(other), &["query set (--queries) differs"]);
    let mut other_lake = base(&resumed);
    other_lake[6] = format!("{lake}/date=2024-07-30");
    assert_error(&batch(other_lake), &["the lake (--data) differs"]);

    // Bad --param values name the parameter.
    for (p, needles) in [
        ("threshold=3", vec!["expected QUERY.NAME=VALUE"]),
        ("nope.threshold=3", vec!["no query nope in this batch"]),
        (
            "non_standard_ports.nope=3",
            vec!["'nope'", "unknown parameter"],
        ),
        (
            "non_standard_ports.threshold=many",
            vec!["'threshold'", "integer"],
        ),
    ] {
        assert_error(&batch(base(&["-p", p])), &needles);
    }
}

#[test]
fn bad_options() {
    assert_error(
        &run(&["run", "non_standard_ports", "--format", "parquet"]),
        &["--output"],
    );
    assert_error(
        &run(&["run", "non_standard_ports", "--table", "x"]),
        &["--table x", "NAME=PATH"],
    );
    assert_error(
        &run(&["run", "non_standard_ports", "--table", "1x=a.csv"]),
        &["identifier"],
    );
    assert_error(
        &run(&["run", "non_standard_ports", "--table", "w=/no/such.csv"]),
        &["table w", "no such file"],
    );
    let o = run(&[
        "run",
        "non_standard_ports",
        "--output",
        "/no/such/dir/out.csv",
    ]);
    assert_error(&o, &["/no/such/dir/out.csv", "does not exist"]);
    // clap's own usage errors also exit 2
    assert_eq!(run(&["run"]).code, 2);
    assert_eq!(run(&["frobnicate"]).code, 2);
}

#[test]
fn broken_query_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let header = "-- ---\n-- id = \"x\"\n-- title = \"t\"\n-- description = \"d\"\n-- mitre = [\"T1046\"]\n-- severity = \"low\"\n";
    // (file, what follows the shared header lines, what the error must name)
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            "undeclared.sql",
            "-- ---\nSELECT * FROM NetworkSessions WHERE \"DstPortNumber\" = $port\n",
            &["undeclared.sql", "$port is not declared"],
        ),
        (
            "ddl.sql",
            "-- ---\nCREATE TABLE x AS SELECT 1\n",
            &["ddl.sql", "only queries"],
        ),
        (
            "bad.sql",
            "-- severity = \n-- ---\nSELECT 1\n",
            &["bad.sql:7", "header"],
        ),
        (
            "foreign.sql",
            "-- [settings]\n-- \"work_mem\" = \"1GB\"\n-- ---\nSELECT 1\n",
            &["foreign.sql", "only datafusion.* settings"],
        ),
        (
            "badvalue.sql",
            "-- [settings]\n-- \"datafusion.execution.parquet.pushdown_filters\" = \"maybe\"\n-- ---\nSELECT 1\n",
            &[
                "badvalue.sql",
                "setting datafusion.execution.parquet.pushdown_filters = maybe",
            ],
        ),
    ];
    for (name, rest, needles) in cases {
        let f = dir.path().join(name);
        std::fs::write(&f, format!("{header}{rest}")).unwrap();
        assert_fails_cleanly(&["run", f.to_str().unwrap()], needles);
    }
    // a library folder with a good query adds it to `queries`
    let lib = tempfile::tempdir().unwrap();
    std::fs::write(
        lib.path().join("ok_query.sql"),
        format!("{header}-- ---\nSELECT count(*) AS n FROM NetworkSessions\n"),
    )
    .unwrap();
    let o = run(&["--library", lib.path().to_str().unwrap(), "queries"]);
    assert!(o.stdout.contains("ok_query"), "{}", o.stdout);
    let o = run(&[
        "--library",
        lib.path().to_str().unwrap(),
        "run",
        "ok_query",
        "--format",
        "csv",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

// ------------------------------------------------------------------------------------------------
// The query files run in a stock DataFusion (default settings) given nethunt-udfs and the defaults

#[tokio::test]
async fn query_files_run_in_stock_datafusion() {
    use datafusion::common::{ParamValues, ScalarValue};
    use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};

    let ctx = SessionContext::new(); // stock settings: identifiers are normalised
    nethunt_udfs::register_all(&ctx);
    let lake = sample_lake();
    let sessions = ctx
        .read_parquet(lake.to_str().unwrap(), ParquetReadOptions::default())
        .await
        .unwrap();
    ctx.register_table(
        datafusion::common::TableReference::bare("NetworkSessions"),
        sessions.into_view(),
    )
    .unwrap();
    let top = ctx
        .read_csv(
            Path::new(ROOT)
                .join("data/top1m-sample.csv")
                .to_str()
                .unwrap(),
            CsvReadOptions::new()
                .has_header(false)
                .schema(&Schema::new(vec![
                    Field::new("Position", DataType::Int32, true),
                    Field::new("Domain", DataType::Utf8, true),
                ])),
        )
        .await
        .unwrap();
    ctx.register_table("top1m", top.into_view()).unwrap();

    // The seed's values, written here rather than read from the header.
    let ports = ScalarValue::List(Arc::new(
        datafusion::common::utils::SingleRowListArrayBuilder::new(Arc::new(
            arrow::array::Int64Array::from(vec![443, 53, 389, 80, 0, 880, 8888, 8080]),
        ))
        .build_list_array(),
    ));
    let q1 =
        std::fs::read_to_string(Path::new(ROOT).join("queries/non_standard_ports.sql")).unwrap();
    let df = ctx
        .sql(&q1)
        .await
        .unwrap()
        .with_param_values(ParamValues::from(vec![
            ("threshold", ScalarValue::Int64(Some(5))),
            ("bin", ScalarValue::new_interval_mdn(0, 0, 120_000_000_000)),
            ("common_ports", ports),
        ]))
        .unwrap();
    let batches = df.collect().await.unwrap();
    let mut got = Vec::new();
    for b in &batches {
        let src = col_str(b, "SrcIpAddr");
        let t = arrow::compute::cast(
            b.column(1),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )
        .unwrap();
        let t = t.as_primitive::<TimestampMicrosecondType>();
        let n = b.column(2).as_primitive::<arrow::datatypes::Int64Type>();
        for (i, s) in src.iter().enumerate() {
            got.push((s.clone().unwrap(), t.value(i), n.value(i) as usize));
        }
    }
    assert_eq!(got, oracle_ports(&read_lake(&lake)));

    let q2 = std::fs::read_to_string(Path::new(ROOT).join("queries/uncommon_domains.sql")).unwrap();
    let rows: usize = ctx
        .sql(&q2)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    let list = std::fs::read_to_string(Path::new(ROOT).join("data/top1m-sample.csv")).unwrap();
    assert_eq!(rows, oracle_domains(&read_lake(&lake), &list).len());
}

#[test]
fn globs_parquet_tables_and_parquet_domain_lists() {
    let count = |args: &[&str]| -> String {
        let o = run(args);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        o.stdout
    };
    let sql = "SELECT count(*) AS n FROM NetworkSessions";
    let all = count(&["sql", sql, "--format", "csv"]);
    assert_eq!(
        all,
        count(&[
            "sql",
            sql,
            "--format",
            "csv",
            "--data",
            "data/lake/*/*.parquet"
        ])
    );
    assert_eq!(
        all,
        count(&[
            "sql",
            sql,
            "--format",
            "csv",
            "--data",
            "data/lake/**/*.parquet"
        ])
    );
    let one_day = count(&[
        "sql",
        sql,
        "--format",
        "csv",
        "--data",
        "data/lake/date=2024-07-30/*.parquet",
    ]);
    assert_ne!(all, one_day);
    assert_error(
        &run(&["sql", sql, "--data", "data/lake/*.csv"]),
        &["data/lake/*.csv", "no files match"],
    );
    // a Parquet extra table
    assert_eq!(
        all,
        count(&[
            "sql",
            "SELECT count(*) AS n FROM lake2",
            "--format",
            "csv",
            "--table",
            "lake2=data/lake"
        ])
    );
    // a Parquet domain list (Domain only, like the peers' domains.parquet) answers like the CSV
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(ROOT).join("data/top1m-sample.csv")).unwrap();
    let domains: Vec<&str> = text.lines().map(|l| l.split_once(',').unwrap().1).collect();
    let f = dir.path().join("list.parquet");
    write_parquet(
        &f,
        &RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "Domain",
                DataType::Utf8,
                true,
            )])),
            vec![Arc::new(StringArray::from(domains))],
        )
        .unwrap(),
    );
    let a = count(&["run", "uncommon_domains", "--format", "csv"]);
    let b = count(&[
        "run",
        "uncommon_domains",
        "--format",
        "csv",
        "--domains",
        f.to_str().unwrap(),
    ]);
    assert_eq!(a, b);
    // a Parquet list without a Domain column names the column and the file
    let g = dir.path().join("nodomain.parquet");
    write_parquet(
        &g,
        &RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("host", DataType::Utf8, true)])),
            vec![Arc::new(StringArray::from(vec!["a.com"]))],
        )
        .unwrap(),
    );
    assert_error(
        &run(&["run", "uncommon_domains", "--domains", g.to_str().unwrap()]),
        &[
            "table top1m",
            "nodomain.parquet",
            "column Domain is missing",
        ],
    );
}

#[test]
fn memory_limit_and_batch_size() {
    let plain = run(&["run", "uncommon_domains", "--format", "csv"]);
    // under either way of sharing the budget
    for pool in ["greedy", "fair"] {
        let limited = run(&[
            "run",
            "uncommon_domains",
            "--format",
            "csv",
            "--memory-limit",
            "64M",
            "--mem-pool-type",
            pool,
            "--batch-size",
            "1000",
        ]);
        assert_eq!(limited.code, 0, "{pool}: {}", limited.stderr);
        assert_eq!(plain.stdout, limited.stdout, "{pool}");
    }
    assert_fails_cleanly(
        &["run", "uncommon_domains", "--mem-pool-type", "lavish"],
        &["--mem-pool-type", "lavish", "possible values: greedy, fair"],
    );
    // a budget too small for the operators: a clear error, not a crash
    assert_fails_cleanly(
        &[
            "run",
            "uncommon_domains",
            "--domains",
            "data/top1m-sample.csv",
            "--memory-limit",
            "10K",
        ],
        &["Resources exhausted"],
    );
    assert_error(
        &run(&["run", "non_standard_ports", "--memory-limit", "lots"]),
        &["--memory-limit lots"],
    );
    assert_error(
        &run(&["run", "non_standard_ports", "--batch-size", "0"]),
        &["--batch-size"],
    );
}

#[test]
fn query_timeout_ends_a_query_and_leaves_no_file() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("hits.csv");
    // A query that would run for hours, a batch at a time.
    let o = run(&[
        "sql",
        "SELECT count(*) AS n FROM range(100000000000)",
        "--query-timeout",
        "0.5",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_error(&o, &["did not finish within --query-timeout 0.5s"]);
    no_files_left(out.path());
    assert_error(
        &run(&["run", "non_standard_ports", "--query-timeout", "0"]),
        &["--query-timeout 0"],
    );
}
