//! Lakes on an object store: a real S3-compatible server (s3s-fs, installed by `.ci/run`) on
//! 127.0.0.1, started by each test with its own root folder, port and keys.
//!
//! Every folder under the server's root is a bucket, so a lake is loaded by copying it there; all
//! reads and writes by nethunt go through the S3 protocol with signed requests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

pub(crate) const KEY: &str = "AKIDNETHUNTTEST";
pub(crate) const SECRET: &str = "s3cr3t-Value-9f8e7d6c";

/// Where `.ci/run` installs the server; `NETHUNT_S3S_FS` overrides.
fn s3s_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NETHUNT_S3S_FS") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME");
    let p = PathBuf::from(home).join(".cache/nethunt/s3s/bin/s3s-fs");
    assert!(
        p.exists(),
        "the S3 test server is not installed at {} (run .ci/run, or: cargo install --locked s3s-fs --version 0.14.1 --features binary --root ~/.cache/nethunt/s3s)",
        p.display()
    );
    p
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn wait_for_port(port: u16) {
    let until = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < until,
            "server on port {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running s3s-fs; killed on drop.
pub(crate) struct S3 {
    child: Child,
    root: tempfile::TempDir,
    port: u16,
}

impl S3 {
    pub(crate) fn start() -> S3 {
        let root = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = std::process::Command::new(s3s_binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", KEY, "--secret-key", SECRET])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        wait_for_port(port);
        S3 { child, root, port }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn bucket(&self, name: &str) -> PathBuf {
        let p = self.root.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Copy a local lake into `bucket/prefix/`.
    pub(crate) fn load(&self, lake: &Path, bucket: &str, prefix: &str) {
        copy_dir(lake, &self.bucket(bucket).join(prefix));
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// nethunt with the test keys in the environment (as AWS users pass them).
pub(crate) fn run_s3(args: &[&str]) -> Out {
    let o = nethunt()
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env_remove("AWS_PROFILE")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .args(args)
        .output()
        .unwrap();
    let out = Out::from(o);
    assert!(
        !out.stdout.contains(SECRET) && !out.stderr.contains(SECRET),
        "the secret was printed: {} {}",
        out.stdout,
        out.stderr
    );
    out
}

/// `scanned: F of FT files, R of RT row groups, ... (B of BT bytes)` → (F, FT, R, RT, B, BT).
fn scanned(stderr: &str) -> (usize, usize, usize, usize, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("scanned: "))
        .unwrap_or_else(|| panic!("no scanned: line in {stderr}"));
    let t: Vec<&str> = line.split_whitespace().collect();
    let (_, bytes) = line.rsplit_once('(').unwrap();
    let b: Vec<&str> = bytes.split_whitespace().collect();
    let n = |s: &str| {
        s.trim_end_matches(',')
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{line}"))
    };
    (
        n(t[1]) as usize,
        n(t[3]) as usize,
        n(t[5]) as usize,
        n(t[7]) as usize,
        n(b[0]),
        n(b[2]),
    )
}

#[test]
fn seed_queries_give_the_same_rows_on_s3_as_on_the_local_copy() {
    let s3 = S3::start();
    s3.load(&sample_lake(), "lake", "sessions/v1");
    let ep = s3.endpoint();
    for q in ["non_standard_ports", "uncommon_domains"] {
        let local = run(&["run", q, "--format", "csv", "-q"]);
        assert_eq!(local.code, 0, "{}", local.stderr);
        // With and without the trailing slash; keys from the environment.
        for url in ["s3://lake/sessions/v1/", "s3://lake/sessions/v1"] {
            let remote = run_s3(&[
                "run",
                q,
                "--data",
                url,
                "--endpoint",
                &ep,
                "--format",
                "csv",
                "-q",
            ]);
            assert_eq!(remote.code, 0, "{}", remote.stderr);
            assert_eq!(remote.stdout, local.stdout, "{q} over {url}");
        }
    }
    // A glob over the bucket, and keys given on the command line instead of the environment.
    let o = nethunt()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .args([
            "sql",
            "SELECT count(*) AS n FROM NetworkSessions",
            "--data",
            "s3://lake/sessions/v1/date=2024-07-3*/*.parquet",
            "--endpoint",
            &ep,
            "--access-key-id",
            KEY,
            "--secret-access-key",
            SECRET,
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(stdout, format!("n\n{}\n", sample_rows()));
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
}

#[test]
fn aws_profile_from_the_shared_files() {
    let s3 = S3::start();
    s3.load(&sample_lake(), "lake", "l");
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::write(
        &creds,
        format!(
            "[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrongwrongwrong\n\n[hunt]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n"
        ),
    )
    .unwrap();
    let go = |extra: &[&str]| {
        let o = nethunt()
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
            .env("AWS_CONFIG_FILE", dir.path().join("config"))
            .args([
                "sql",
                "SELECT count(*) FROM NetworkSessions",
                "--data",
                "s3://lake/l/",
            ])
            .args(["--endpoint", &s3.endpoint(), "--format", "csv", "-q"])
            .args(extra)
            .output()
            .unwrap();
        Out::from(o)
    };
    let ok = go(&["--profile", "hunt"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.ends_with(&format!("{}\n", sample_rows())),
        "{}",
        ok.stdout
    );
    // The default profile holds wrong keys: access denied, and the secret is not printed.
    let denied = go(&[]);
    assert_error(&denied, &["s3://lake/l/", "access denied"]);
    assert!(!denied.stderr.contains("wrongwrongwrong"));
    let missing = go(&["--profile", "nosuch"]);
    assert_error(&missing, &["profile 'nosuch' not found"]);
}

/// A lake of 2 days with 6 row groups a day, time-ordered inside each file.
fn row_group_lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "generate",
        "--rows",
        "60000",
        "--days",
        "2",
        "--row-group-rows",
        "5000",
        "--out",
        dir.path().to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    dir
}

#[test]
fn from_to_prunes_partitions_and_row_groups_and_stats_show_it() {
    let s3 = S3::start();
    let lake = row_group_lake();
    s3.load(lake.path(), "lake", "rg");
    let ep = s3.endpoint();
    // A sum, so that the rows are read (a bare count(*) is answered from the footers).
    let count_sql = "SELECT count(*) AS n, sum(DstPortNumber) AS s, max(TimeGenerated) AS t FROM NetworkSessions";
    let full = run_s3(&[
        "--stats",
        "sql",
        count_sql,
        "--data",
        "s3://lake/rg/",
        "--endpoint",
        &ep,
        "--format",
        "csv",
    ]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    assert!(full.stdout.starts_with("n,s,t\n60000,"), "{}", full.stdout);
    let (f, ft, r, rt, b, bt) = scanned(&full.stderr);
    assert_eq!((f, ft), (2, 2));
    assert_eq!((r, rt), (12, 12));
    assert!(b > 0 && b <= bt);

    // Two hours of the second day: one folder, and 1 or 2 of its 6 row groups.
    let window = run_s3(&[
        "--stats",
        "sql",
        count_sql,
        "--data",
        "s3://lake/rg/",
        "--endpoint",
        &ep,
        "--from",
        "2024-07-31T02:00:00Z",
        "--to",
        "2024-07-31T04:00:00Z",
        "--format",
        "csv",
    ]);
    assert_eq!(window.code, 0, "{}", window.stderr);
    // Only the window's date= folder is listed (its totals are the window's), and in it 1 or 2
    // of the 6 row groups are read.
    let (wf, wft, wr, wrt, wb, wbt) = scanned(&window.stderr);
    assert_eq!((wf, wft, wrt), (1, 1, 6));
    assert!(wbt * 2 < bt + bt / 10, "{wbt} of {bt}");
    assert!(
        window.stderr.contains("in the window's folders"),
        "{}",
        window.stderr
    );
    assert!((1..=2).contains(&wr), "row groups read: {wr}");
    assert!(wb * 3 < b, "bytes: {wb} with the window vs {b} without");

    // The rows are exactly those an explicit filter finds on the local copy.
    let expect = run(&[
        "sql",
        "SELECT count(*) AS n, sum(DstPortNumber) AS s, max(TimeGenerated) AS t FROM NetworkSessions WHERE TimeGenerated >= TIMESTAMP '2024-07-31T02:00:00Z' AND TimeGenerated < TIMESTAMP '2024-07-31T04:00:00Z'",
        "--data",
        lake.path().to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(expect.code, 0, "{}", expect.stderr);
    assert_eq!(window.stdout, expect.stdout);
    let n: usize = expect
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 1000 && n < 10_000, "{n}");

    // A library query with $start/$end gets them from --from/--to.
    let lib = tempfile::tempdir().unwrap();
    std::fs::write(
        lib.path().join("window_count.sql"),
        "-- ---\n-- id = \"6d1c2b3a-0000-4000-8000-000000000001\"\n-- name = \"window_count\"\n-- title = \"sessions in a window\"\n-- description = \"test\"\n-- severity = \"low\"\n-- mitre = []\n-- [params.start]\n-- type = \"timestamp\"\n-- default = \"1970-01-01\"\n-- [params.end]\n-- type = \"timestamp\"\n-- default = \"2100-01-01\"\n-- ---\nSELECT count(*) AS n, sum(DstPortNumber) AS s, max(TimeGenerated) AS t FROM NetworkSessions WHERE TimeGenerated >= $start AND TimeGenerated < $end\n",
    )
    .unwrap();
    let q = run_s3(&[
        "--stats",
        "--library",
        lib.path().to_str().unwrap(),
        "run",
        "window_count",
        "--data",
        "s3://lake/rg/",
        "--endpoint",
        &ep,
        "--from",
        "2024-07-31T02:00:00Z",
        "--to",
        "2024-07-31T04:00:00Z",
        "--format",
        "csv",
    ]);
    assert_eq!(q.code, 0, "{}", q.stderr);
    assert_eq!(q.stdout, expect.stdout);
    // Given as parameters instead, they narrow the scan the same way.
    let p = run_s3(&[
        "--stats",
        "--library",
        lib.path().to_str().unwrap(),
        "run",
        "window_count",
        "--data",
        "s3://lake/rg/",
        "--endpoint",
        &ep,
        "-p",
        "start=2024-07-31T02:00:00Z",
        "-p",
        "end=2024-07-31T04:00:00Z",
        "--format",
        "csv",
    ]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(p.stdout, expect.stdout);
    assert_eq!(scanned(&p.stderr).0, 1);
}

fn manifest(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn batch_writes_results_and_a_manifest_to_a_bucket_and_to_a_folder() {
    let s3 = S3::start();
    s3.load(&sample_lake(), "lake", "l");
    s3.bucket("hunts");
    let ep = s3.endpoint();
    let local_out = tempfile::tempdir().unwrap();
    let expected: Vec<(String, usize)> = ["non_standard_ports", "uncommon_domains"]
        .iter()
        .map(|q| {
            let o = run(&["run", q, "--format", "csv", "-q"]);
            (q.to_string(), o.stdout.lines().count() - 1)
        })
        .collect();
    for (out, root) in [
        (
            "s3://hunts/daily/".to_string(),
            s3.root.path().join("hunts/daily"),
        ),
        (
            local_out.path().display().to_string(),
            local_out.path().to_path_buf(),
        ),
    ] {
        let o = run_s3(&[
            "batch",
            "--queries",
            "non_standard_ports,uncommon_domains",
            "--data",
            "s3://lake/l/",
            "--endpoint",
            &ep,
            "--out",
            &out,
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let run_name = o.stdout.trim().rsplit('/').next().unwrap().to_string();
        assert!(run_name.starts_with("run="), "{}", o.stdout);
        let files = files_under(&root);
        assert_eq!(
            files,
            vec![
                format!("{run_name}/manifest.json"),
                format!("{run_name}/non_standard_ports.parquet"),
                format!("{run_name}/uncommon_domains.parquet"),
            ],
            "{out}"
        );
        let m = manifest(&root.join(&run_name).join("manifest.json"));
        assert_eq!(m["status"], "ok");
        assert_eq!(m["run"], run_name.as_str());
        assert_eq!(m["data"], "s3://lake/l/");
        assert_eq!(m["lake_files"], 2);
        let qs = m["queries"].as_array().unwrap();
        assert_eq!(qs.len(), 2);
        for ((name, rows), q) in expected.iter().zip(qs) {
            assert_eq!(q["query"], name.as_str());
            assert_eq!(q["status"], "ok");
            assert_eq!(q["rows_out"], *rows as u64, "{name}");
            assert_eq!(q["fired"], *rows > 0);
            assert_eq!(q["files_scanned"], 2);
            assert!(q["bytes_scanned"].as_u64().unwrap() > 0);
            assert_eq!(q["input_files"].as_array().unwrap().len(), 2);
            assert!(q["error"].is_null());
            // The result file holds exactly rows_out rows.
            let file = root.join(&run_name).join(q["output"].as_str().unwrap());
            let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
                .unwrap()
                .build()
                .unwrap();
            let n: usize = r.map(|b| b.unwrap().num_rows()).sum();
            assert_eq!(n, *rows, "{}", file.display());
        }
        assert_eq!(qs[0]["parameters"]["threshold"], "5");
        assert_eq!(qs[0]["parameters"]["bin"], "2m");
    }
    // --fail-on-hit: both queries fire on the sample.
    let o = run_s3(&[
        "batch",
        "--data",
        "s3://lake/l/",
        "--endpoint",
        &ep,
        "--out",
        "s3://hunts/x/",
        "--queries",
        "non_standard_ports",
        "--format",
        "ndjson",
        "--fail-on-hit",
        "-q",
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let files = files_under(&s3.root.path().join("hunts/x"));
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[1].ends_with("/non_standard_ports.ndjson"),
        "{files:?}"
    );
}

#[test]
fn batch_records_a_failing_query_keeps_the_others_and_resumes() {
    let s3 = S3::start();
    s3.load(&sample_lake(), "lake", "l");
    s3.bucket("hunts");
    let ep = s3.endpoint();
    let lib = tempfile::tempdir().unwrap();
    let header = "-- ---\n-- id = \"6d1c2b3a-0000-4000-8000-000000000002\"\n-- name = \"flaky\"\n-- title = \"fails until fixed\"\n-- description = \"test\"\n-- severity = \"low\"\n-- mitre = []\n-- ---\n";
    // Fails while running (a cast of the address to an integer), not while planning.
    std::fs::write(
        lib.path().join("flaky.sql"),
        format!("{header}SELECT CAST(SrcIpAddr AS INT) AS n FROM NetworkSessions\n"),
    )
    .unwrap();
    let libdir = lib.path().to_str().unwrap();
    let batch = |extra: &[&str]| {
        let mut args = vec![
            "--library",
            libdir,
            "batch",
            "--data",
            "s3://lake/l/",
            "--endpoint",
            &ep,
            "--out",
            "s3://hunts/r/",
            "--queries",
            "non_standard_ports,flaky",
        ];
        args.extend_from_slice(extra);
        run_s3(&args)
    };
    let o = batch(&[]);
    assert_error(
        &{
            // The per-query lines go to stderr too; the last line is the error.
            let last = o.stderr.lines().last().unwrap_or_default().to_string();
            Out {
                code: o.code,
                stdout: o.stdout.clone(),
                stderr: format!("{last}\n"),
            }
        },
        &["1 of 2 queries failed", "flaky", "manifest.json"],
    );
    let run_name = o.stdout.trim().rsplit('/').next().unwrap().to_string();
    let root = s3.root.path().join("hunts/r").join(&run_name);
    assert_eq!(
        files_under(&root),
        vec!["manifest.json", "non_standard_ports.parquet"]
    );
    let m = manifest(&root.join("manifest.json"));
    assert_eq!(m["status"], "failed");
    assert_eq!(m["queries"][0]["status"], "ok");
    assert_eq!(m["queries"][1]["status"], "failed");
    assert!(m["queries"][1]["output"].is_null());
    assert!(
        m["queries"][1]["error"]
            .as_str()
            .unwrap()
            .contains("Cannot cast"),
        "{}",
        m["queries"][1]["error"]
    );
    let first_ok = m["queries"][0].clone();

    // Fixed, and resumed: the finished query is not run again.
    std::fs::write(
        lib.path().join("flaky.sql"),
        format!("{header}SELECT count(*) AS n FROM NetworkSessions\n"),
    )
    .unwrap();
    let o = batch(&["--resume", &run_name]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("non_standard_ports: done in an earlier attempt, skipped"),
        "{}",
        o.stderr
    );
    let m = manifest(&root.join("manifest.json"));
    assert_eq!(m["status"], "ok");
    assert_eq!(m["queries"][0], first_ok);
    assert_eq!(m["queries"][1]["rows_out"], 1);
    assert_eq!(
        files_under(&root),
        vec![
            "flaky.parquet",
            "manifest.json",
            "non_standard_ports.parquet"
        ]
    );
    // Resuming a run that does not exist.
    let o = run_s3(&[
        "batch",
        "--data",
        "s3://lake/l/",
        "--endpoint",
        &ep,
        "--out",
        "s3://hunts/r/",
        "--resume",
        "run=19700101T000000.000Z",
        "-q",
    ]);
    assert_error(
        &o,
        &[
            "run=19700101T000000.000Z/manifest.json",
            "nothing to resume",
        ],
    );
}

#[test]
fn wrong_credentials_missing_bucket_and_prefix_fail_cleanly() {
    let s3 = S3::start();
    s3.load(&sample_lake(), "lake", "l");
    s3.bucket("hunts");
    let ep = s3.endpoint();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec![
                "--data",
                "s3://lake/l/",
                "--access-key-id",
                KEY,
                "--secret-access-key",
                "not-the-secret-123",
            ],
            vec!["s3://lake/l/", "access denied"],
        ),
        (
            vec!["--data", "s3://nosuchbucket/l/"],
            vec!["s3://nosuchbucket/l/", "bucket does not exist"],
        ),
        (
            vec!["--data", "s3://lake/nosuchprefix/"],
            vec!["s3://lake/nosuchprefix/", "no .parquet files found"],
        ),
    ];
    for (extra, needles) in cases {
        for cmd in [
            &["run", "non_standard_ports"][..],
            &["batch", "--out", "s3://hunts/f/", "-q"][..],
        ] {
            let mut args: Vec<&str> = cmd.to_vec();
            args.extend(["--endpoint", ep.as_str()]);
            args.extend(extra.iter().copied());
            let o = run_s3(&args);
            assert_error(&o, &needles);
            assert!(!o.stderr.contains("not-the-secret-123"), "{}", o.stderr);
        }
    }
    assert!(files_under(&s3.root.path().join("hunts")).is_empty());
    // Nothing listens: a clear error naming the endpoint, after the given retries.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let o = run_s3(&[
        "run",
        "non_standard_ports",
        "--data",
        "s3://lake/l/",
        "--endpoint",
        &dead,
        "--store-retries",
        "1",
    ]);
    assert_error(&o, &["cannot reach the object store at", &dead]);
    // The secret never shows in EXPLAIN either.
    let o = run_s3(&[
        "sql",
        "EXPLAIN SELECT sum(SrcBytes) FROM NetworkSessions",
        "--data",
        "s3://lake/l/",
        "--endpoint",
        &ep,
        "--access-key-id",
        KEY,
        "--secret-access-key",
        SECRET,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("s3://lake") || o.stdout.contains("l/date="),
        "{}",
        o.stdout
    );
}

/// A TCP relay in front of the server that stops the server from the client's point of view
/// once `limit` bytes have crossed it (either way): open connections are cut and new ones refused.
struct Cutter {
    port: u16,
    cut: Arc<AtomicBool>,
}

impl Cutter {
    fn start(upstream: u16, limit: u64) -> Cutter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let moved = Arc::new(AtomicU64::new(0));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let c = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                if c.load(Ordering::SeqCst) {
                    break; // the listener is dropped: refused from now on
                }
                let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                conns.lock().unwrap().push(client.try_clone().unwrap());
                conns.lock().unwrap().push(server.try_clone().unwrap());
                let pipes = [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ];
                for (mut from, mut to) in pipes {
                    let (moved, cut, conns) = (moved.clone(), c.clone(), conns.clone());
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if moved.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > limit {
                                cut.store(true, Ordering::SeqCst);
                                for s in conns.lock().unwrap().iter() {
                                    let _ = s.shutdown(std::net::Shutdown::Both);
                                }
                                // Wake the accept loop so that it drops the listener.
                                let _ = TcpStream::connect(("127.0.0.1", port));
                                break;
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    });
                }
            }
        });
        Cutter { port, cut }
    }
}

/// A library with one query that returns every session (about 14 MB as NDJSON on the sample,
/// more than the 8 MiB that makes an upload multipart).
fn dump_library() -> tempfile::TempDir {
    let lib = tempfile::tempdir().unwrap();
    std::fs::write(
        lib.path().join("dump.sql"),
        "-- ---\n-- id = \"6d1c2b3a-0000-4000-8000-000000000003\"\n-- name = \"dump\"\n-- title = \"every session\"\n-- description = \"test\"\n-- severity = \"low\"\n-- mitre = []\n-- ---\nSELECT * FROM NetworkSessions ORDER BY TimeGenerated, EventCount, SrcIpAddr, SrcPortNumber\n",
    )
    .unwrap();
    lib
}

#[test]
fn large_results_go_up_as_multipart_uploads_completed_only_at_the_end() {
    let s3 = S3::start();
    s3.bucket("hunts");
    let lib = dump_library();
    let libdir = lib.path().to_str().unwrap();
    let local = run(&[
        "--library",
        libdir,
        "run",
        "dump",
        "--format",
        "ndjson",
        "-q",
    ]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    assert!(local.stdout.len() > 9 << 20, "{} bytes", local.stdout.len());

    let o = run_s3(&[
        "--library",
        libdir,
        "batch",
        "--queries",
        "dump",
        "--format",
        "ndjson",
        "--out",
        "s3://hunts/big/",
        "--endpoint",
        &s3.endpoint(),
        "-q",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let key = format!(
        "big/{}/dump.ndjson",
        o.stdout.trim().rsplit('/').next().unwrap()
    );
    // Read back through S3: the same bytes, and an ETag of the multipart form ("<md5>-<parts>").
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("hunts")
        .with_endpoint(s3.endpoint())
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id(KEY)
        .with_secret_access_key(SECRET)
        .build()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (etag, body) = rt.block_on(async {
        use object_store::ObjectStoreExt;
        let path = object_store::path::Path::from(key.as_str());
        let meta = store.head(&path).await.unwrap();
        let body = store.get(&path).await.unwrap().bytes().await.unwrap();
        (meta.e_tag.unwrap(), body)
    });
    let parts = etag
        .trim_matches('"')
        .rsplit_once('-')
        .map(|(_, n)| n.parse::<u32>());
    assert!(matches!(parts, Some(Ok(n)) if n >= 2), "etag {etag}");
    assert!(
        body.as_ref() == local.stdout.as_bytes(),
        "the uploaded result differs"
    );

    // The server goes away during the second part: the upload is never completed, so no object.
    let cutter = Cutter::start(s3.port, 10 << 20);
    let o = run_s3(&[
        "--library",
        libdir,
        "batch",
        "--queries",
        "dump",
        "--format",
        "ndjson",
        "--out",
        "s3://hunts/cut/",
        "--endpoint",
        &format!("http://127.0.0.1:{}", cutter.port),
        "--store-retries",
        "0",
        "-q",
    ]);
    assert!(
        cutter.cut.load(Ordering::SeqCst),
        "the relay never cut: {}",
        o.stderr
    );
    assert_error(
        &o,
        &["s3://hunts/cut/run=", "cannot reach the object store"],
    );
    assert!(
        files_under(&s3.root.path().join("hunts"))
            .iter()
            .all(|f| !f.starts_with("cut/")),
        "{:?}",
        files_under(&s3.root.path().join("hunts"))
    );
}

#[test]
fn server_gone_mid_run_fails_cleanly_and_leaves_no_partial_result() {
    let s3 = S3::start();
    let lake = row_group_lake();
    s3.load(lake.path(), "lake", "rg");
    let lake_bytes: u64 = files_under(lake.path())
        .iter()
        .map(|f| std::fs::metadata(lake.path().join(f)).unwrap().len())
        .sum();
    // Listing and footers are a few KiB; the cut comes while data pages are read.
    let cutter = Cutter::start(s3.port, lake_bytes / 3);
    let ep = format!("http://127.0.0.1:{}", cutter.port);
    let out = tempfile::tempdir().unwrap();
    let o = run_s3(&[
        "batch",
        "--queries",
        "non_standard_ports,uncommon_domains",
        "--data",
        "s3://lake/rg/",
        "--endpoint",
        &ep,
        "--out",
        out.path().to_str().unwrap(),
        "--store-retries",
        "1",
        "--threads",
        "1",
        "-q",
    ]);
    assert!(
        cutter.cut.load(Ordering::SeqCst),
        "the relay never cut: {}",
        o.stderr
    );
    assert_error(
        &o,
        &["2 of 2 queries failed", "cannot reach the object store"],
    );
    let run_name = o.stdout.trim().rsplit('/').next().unwrap().to_string();
    // Only the manifest: no result file, whole or partial, and no temporary file.
    assert_eq!(
        files_under(out.path()),
        vec![format!("{run_name}/manifest.json")]
    );
    let m = manifest(&out.path().join(&run_name).join("manifest.json"));
    assert_eq!(m["status"], "failed");
    for q in m["queries"].as_array().unwrap() {
        assert_eq!(q["status"], "failed");
        assert!(q["output"].is_null());
    }
    // `run` to a file: the same fault leaves no file.
    let cutter = Cutter::start(s3.port, lake_bytes / 3);
    let ep = format!("http://127.0.0.1:{}", cutter.port);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.parquet");
    let o = run_s3(&[
        "run",
        "uncommon_domains",
        "--data",
        "s3://lake/rg/",
        "--endpoint",
        &ep,
        "--output",
        file.to_str().unwrap(),
        "--store-retries",
        "1",
        "--threads",
        "1",
        "-q",
    ]);
    assert_error(&o, &["cannot reach the object store"]);
    no_files_left(dir.path());
}

/// A TCP relay in front of the S3 server that counts the HTTP requests passing through it:
/// `LIST` (a GET of a bucket with `list-type`), `GET` (object reads) and the other methods.
struct Relay {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Relay {
    fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = requests.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    let _ = c_write.shutdown(std::net::Shutdown::Both);
                });
                let seen = seen.clone();
                std::thread::spawn(move || {
                    // Requests, one after another on a kept-alive connection: a head up to a
                    // blank line, then Content-Length bytes of body.
                    let mut buf: Vec<u8> = Vec::new();
                    let mut chunk = [0u8; 64 * 1024];
                    let mut body_left = 0usize;
                    loop {
                        let n = match c_read.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if s_write.write_all(&chunk[..n]).is_err() {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        loop {
                            if body_left > 0 {
                                let k = body_left.min(buf.len());
                                buf.drain(..k);
                                body_left -= k;
                                if body_left > 0 {
                                    break;
                                }
                            }
                            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                                break;
                            };
                            let head = String::from_utf8_lossy(&buf[..end]).to_string();
                            buf.drain(..end + 4);
                            let line = head.lines().next().unwrap_or_default().to_string();
                            body_left = head
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("content-length")
                                        .then(|| v.trim().parse().ok())?
                                })
                                .unwrap_or(0);
                            seen.lock().unwrap().push(line);
                        }
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Relay { port, requests }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// (LIST, GET of objects, others) since the last call.
    fn take(&self) -> (usize, usize, usize) {
        let lines = std::mem::take(&mut *self.requests.lock().unwrap());
        let list = lines
            .iter()
            .filter(|l| l.starts_with("GET ") && l.contains("list-type"))
            .count();
        let get = lines
            .iter()
            .filter(|l| l.starts_with("GET ") && !l.contains("list-type"))
            .count();
        (list, get, lines.len() - list - get)
    }
}

/// Issue 15, item 4: a one-day window over a 365-day lake lists only that day's folder and reads
/// only its footers: O(1 day) of LIST and GET requests, counted by a relay in front of the S3
/// server (the whole year costs a GET per file for the footers alone).
#[test]
fn a_one_day_window_over_a_year_costs_one_day_of_requests() {
    let s3 = S3::start();
    let lake = s3.bucket("lake").join("year");
    let o = run(&[
        "generate",
        "--rows",
        "36500",
        "--days",
        "365",
        "--start",
        "2024-01-01",
        "--out",
        lake.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(std::fs::read_dir(&lake).unwrap().count(), 365);
    let relay = Relay::start(s3.port);
    let ep = relay.endpoint();
    let sql = "SELECT count(*) AS n, sum(DstPortNumber) AS s FROM NetworkSessions";
    let query = |extra: &[&str]| {
        let mut args = vec![
            "sql",
            sql,
            "--data",
            "s3://lake/year/",
            "--endpoint",
            &ep,
            "--format",
            "csv",
            "-q",
        ];
        args.extend_from_slice(extra);
        let o = run_s3(&args);
        assert_eq!(o.code, 0, "{}", o.stderr);
        (o.stdout, relay.take())
    };
    let (day, (list, get, other)) = query(&["--from", "2024-08-10", "--to", "2024-08-11"]);
    eprintln!("one day of 365: {list} LIST, {get} GET, {other} other requests");
    assert!(list <= 2, "LIST requests for one day: {list}");
    assert!(get <= 6, "GET requests for one day: {get}");
    assert_eq!(other, 0);
    // The same rows as the explicit filter over the local copy.
    let local = run(&[
        "sql",
        &format!(
            "{sql} WHERE TimeGenerated >= TIMESTAMP '2024-08-10T00:00:00Z' AND TimeGenerated < TIMESTAMP '2024-08-11T00:00:00Z'"
        ),
        "--data",
        lake.to_str().unwrap(),
        "--format",
        "csv",
        "-q",
    ]);
    assert_eq!(day, local.stdout);
    assert!(day.starts_with("n,s\n100,"), "{day}");
    // A window past the lake's end reads one day's footers for the schema, and finds nothing.
    let (none, (list, get, _)) = query(&["--from", "2026-01-01"]);
    assert!(none.starts_with("n,s\n0,"), "{none}");
    assert!(list <= 2 && get <= 4, "LIST {list}, GET {get}");
    // The whole year: a footer per file at least.
    let (_, (list, get, _)) = query(&[]);
    eprintln!("the whole year: {list} LIST, {get} GET requests");
    assert!(get >= 365, "GET requests for the year: {get}");
}

/// Issue 15, item 5: AWS credentials through the AWS SDK's providers. A `credential_process`
/// profile (a script printing the keys, as `aws configure export-credentials` does; the
/// hand-written profile reader ignored such profiles) reads the lake on the local S3 server.
/// The credential is fetched once per run, not once per request, and its secret never printed;
/// a process that fails is a clear error.
#[test]
fn credential_process_profile_through_the_sdk() {
    let s3 = S3::start();
    s3.load(&sample_lake(), "lake", "l");
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls");
    let script = dir.path().join("creds.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho call >> '{}'\necho '{{\"Version\": 1, \"AccessKeyId\": \"{KEY}\", \"SecretAccessKey\": \"{SECRET}\"}}'\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile proc]\ncredential_process = {}\nregion = us-east-1\n\n[profile broken]\ncredential_process = /bin/false\n",
            script.display()
        ),
    )
    .unwrap();
    let go = |profile: &str| -> Out {
        nethunt()
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
            .args([
                "sql",
                "SELECT count(*) AS n, sum(SrcBytes) AS b FROM NetworkSessions",
            ])
            .args(["--data", "s3://lake/l/", "--endpoint", &s3.endpoint()])
            .args(["--profile", profile, "--format", "csv", "-q"])
            .output()
            .unwrap()
            .into()
    };
    let ok = go("proc");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.starts_with(&format!("n,b\n{},", sample_rows())),
        "{}",
        ok.stdout
    );
    assert!(!ok.stdout.contains(SECRET) && !ok.stderr.contains(SECRET));
    let runs = std::fs::read_to_string(&calls).unwrap().lines().count();
    assert_eq!(
        runs, 1,
        "the credential process ran {runs} times in one run"
    );
    let broken = go("broken");
    assert_error(&broken, &["s3://lake/l/", "credential"]);
}
