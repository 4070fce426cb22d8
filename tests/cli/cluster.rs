//! `--cluster`: a Ballista scheduler and two executors started by each test as separate
//! `nethunt cluster ...` processes on 127.0.0.1, and the same queries run in this process
//! (`run` without `--cluster`) as the reference.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::*;
use crate::s3::{KEY, S3, SECRET, free_port, wait_for_port};

/// A scheduler and its executors; every process is killed on drop.
struct Cluster {
    scheduler: Child,
    executors: Vec<Option<Child>>,
    port: u16,
    /// Logs (stderr of each process) and the executors' work folders.
    dir: tempfile::TempDir,
}

/// Extra arguments for the cluster's processes.
#[derive(Default, Clone)]
struct Setup {
    /// Given to the scheduler and to every executor (object-store settings, ...).
    common: Vec<String>,
    scheduler: Vec<String>,
    executor: Vec<String>,
    /// Environment of every process.
    env: Vec<(String, String)>,
}

impl Cluster {
    fn start(executors: usize, setup: &Setup) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let logs = dir.path().to_path_buf();
        let spawn = |name: &str, args: Vec<String>| -> Child {
            let log = std::fs::File::create(logs.join(format!("{name}.log"))).unwrap();
            let mut c = nethunt_process();
            c.env("RUST_LOG", "warn")
                .args(&args)
                .args(&setup.common)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            for (k, v) in &setup.env {
                c.env(k, v);
            }
            c.spawn().expect("start a cluster process")
        };
        let mut args: Vec<String> = vec![
            "cluster".into(),
            "scheduler".into(),
            "--bind".into(),
            format!("127.0.0.1:{port}"),
            "--min-executors".into(),
            executors.to_string(),
            "--executor-timeout".into(),
            "4".into(),
        ];
        args.extend(setup.scheduler.iter().cloned());
        let scheduler = spawn("scheduler", args);
        let mut cluster = Cluster {
            scheduler,
            executors: Vec::new(),
            port,
            dir,
        };
        wait_for_port(port);
        for i in 0..executors {
            let work = cluster.work_dir(i);
            let mut args: Vec<String> = vec![
                "cluster".into(),
                "executor".into(),
                "--scheduler".into(),
                format!("127.0.0.1:{port}"),
                "--bind".into(),
                format!("127.0.0.1:{}", free_port()),
                "--grpc-port".into(),
                free_port().to_string(),
                "--slots".into(),
                "1".into(),
                "--heartbeat".into(),
                "1".into(),
                "--work-dir".into(),
                work.display().to_string(),
            ];
            args.extend(setup.executor.iter().cloned());
            let child = spawn(&format!("executor{i}"), args);
            cluster.executors.push(Some(child));
        }
        cluster.wait_ready();
        cluster
    }

    fn work_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("work{i}"))
    }

    fn url(&self) -> String {
        format!("df://127.0.0.1:{}", self.port)
    }

    /// `GET /readyz` until the scheduler counts every executor.
    fn wait_ready(&self) {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(body) = http_get(self.port, "/readyz")
                && body.starts_with("HTTP/1.1 200")
            {
                return;
            }
            assert!(
                Instant::now() < until,
                "the cluster did not get ready; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "log") {
                out.push_str(&format!(
                    "--- {}\n{}\n",
                    e.file_name().to_string_lossy(),
                    std::fs::read_to_string(e.path()).unwrap_or_default()
                ));
            }
        }
        out
    }

    fn kill_executor(&mut self, i: usize) {
        if let Some(mut c) = self.executors[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.executors.len() {
            self.kill_executor(i);
        }
        let _ = self.scheduler.kill();
        let _ = self.scheduler.wait();
    }
}

/// A plain HTTP/1.1 GET on 127.0.0.1; the whole response, or None when nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Every file under an executor's work folder (shuffle output of the tasks it ran).
fn ran_tasks(dir: &Path) -> usize {
    files_under(dir).len()
}

#[test]
fn seed_queries_on_a_scheduler_and_two_executors_equal_local_mode() {
    let cluster = Cluster::start(2, &Setup::default());
    let url = cluster.url();
    for q in ["non_standard_ports", "uncommon_domains"] {
        let local = run(&["run", q, "--format", "csv", "-q"]);
        assert_eq!(local.code, 0, "{}", local.stderr);
        assert!(
            local.stdout.lines().count() > 1,
            "{q} finds rows on the sample"
        );
        // Four partitions, so that both single-slot executors get tasks.
        let remote = run(&[
            "run",
            q,
            "--cluster",
            &url,
            "--threads",
            "4",
            "--format",
            "csv",
            "-q",
        ]);
        assert_eq!(remote.code, 0, "{}\n{}", remote.stderr, cluster.logs());
        // Both queries fix their row order, so the text is the same, not only the rows.
        // make_set's order is undefined (in KQL too): sets compare as sets
        let (mut r, mut l) = (sets_sorted(&remote.stdout), sets_sorted(&local.stdout));
        if q.ends_with("_kql") {
            // the seed's KQL sorts by one column only (ties in any order) or not at all: rows
            // compare as a multiset (tests/cli/kql.rs checks the order)
            r[1..].sort();
            l[1..].sort();
        }
        assert_eq!(r, l, "{q}");
    }
    for i in 0..2 {
        assert!(
            ran_tasks(&cluster.work_dir(i)) > 0,
            "executor {i} ran no task; logs:\n{}",
            cluster.logs()
        );
    }

    // Ad-hoc SQL with every kind of nethunt function, and a query parameter.
    let sql = "SELECT count(*) AS n, \
               sum(CASE WHEN ipv4_is_private(SrcIpAddr) THEN 1 ELSE 0 END) AS private, \
               count(DISTINCT second_level_domain(UrlHostname)) AS slds, \
               count(DISTINCT registered_domain(UrlHostname)) AS regs \
               FROM NetworkSessions WHERE DstPortNumber > $port";
    let local = run(&["sql", sql, "-p", "port=1000", "--format", "csv"]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    let remote = run(&[
        "sql",
        sql,
        "-p",
        "port=1000",
        "--cluster",
        &url,
        "--format",
        "csv",
    ]);
    assert_eq!(remote.code, 0, "{}", remote.stderr);
    assert_eq!(remote.stdout, local.stdout);

    // Batch and the REPL (statements from stdin) send their work to the cluster too.
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "batch",
        "--queries",
        "non_standard_ports,uncommon_domains",
        "--cluster",
        &url,
        "--out",
        out.path().to_str().unwrap(),
        "--format",
        "csv",
        "-q",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let results: Vec<String> = files_under(out.path())
        .into_iter()
        .filter(|f| f.ends_with(".csv"))
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    for f in results {
        let q = Path::new(&f)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let local = run(&["run", &q, "--format", "csv", "-q"]);
        let got = std::fs::read_to_string(out.path().join(&f)).unwrap();
        assert_eq!(got, local.stdout, "batch result {f}");
    }
    // Every query of the library gives the local rows on the cluster (the executors need
    // DataFusion's array functions for some: array_length).
    let listing = run(&["queries"]).stdout;
    for q in listing.lines().filter(|l| !l.starts_with(' ')) {
        let local = run(&["run", q, "--format", "csv", "-q"]);
        assert_eq!(local.code, 0, "{q}: {}", local.stderr);
        let remote = run(&["run", q, "--cluster", &url, "--format", "csv", "-q"]);
        assert_eq!(remote.code, 0, "{q}: {}\n{}", remote.stderr, cluster.logs());
        // make_set's order is undefined (in KQL too): sets compare as sets
        let (mut r, mut l) = (sets_sorted(&remote.stdout), sets_sorted(&local.stdout));
        if q.ends_with("_kql") {
            // the seed's KQL sorts by one column only (ties in any order) or not at all: rows
            // compare as a multiset (tests/cli/kql.rs checks the order)
            r[1..].sort();
            l[1..].sort();
        }
        assert_eq!(r, l, "{q}");
    }
    let o = nethunt()
        .args(["repl", "--cluster", &url])
        .write_stdin(
            "SELECT count(*) AS n FROM NetworkSessions WHERE ipv4_is_private(DstIpAddr);\n",
        )
        .output()
        .unwrap();
    let local = run(&[
        "sql",
        "SELECT count(*) AS n FROM NetworkSessions WHERE ipv4_is_private(DstIpAddr)",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), local.stdout);
}

#[test]
fn standalone_cluster_equals_local_mode() {
    for q in ["non_standard_ports", "uncommon_domains"] {
        let local = run(&["run", q, "--format", "csv", "-q"]);
        let remote = run(&["run", q, "--cluster", "standalone", "--format", "csv", "-q"]);
        assert_eq!(remote.code, 0, "{}", remote.stderr);
        // make_set's order is undefined (in KQL too): sets compare as sets
        let (mut r, mut l) = (sets_sorted(&remote.stdout), sets_sorted(&local.stdout));
        if q.ends_with("_kql") {
            // the seed's KQL sorts by one column only (ties in any order) or not at all: rows
            // compare as a multiset (tests/cli/kql.rs checks the order)
            r[1..].sort();
            l[1..].sort();
        }
        assert_eq!(r, l, "{q}");
    }
}

#[test]
fn a_lake_on_s3_read_by_the_executors() {
    let s3 = S3::start();
    s3.load(&sample_lake(), "lake", "sessions");
    let ep = s3.endpoint();
    // The cluster's processes get the endpoint as flags and the keys from their environment.
    let setup = Setup {
        common: vec!["--endpoint".into(), ep.clone()],
        env: vec![
            ("AWS_ACCESS_KEY_ID".into(), KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SECRET.into()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                "/nonexistent/credentials".into(),
            ),
            ("AWS_CONFIG_FILE".into(), "/nonexistent/config".into()),
        ],
        ..Setup::default()
    };
    let cluster = Cluster::start(2, &setup);
    for q in ["non_standard_ports", "uncommon_domains"] {
        let local = run(&["run", q, "--format", "csv", "-q"]);
        let remote = crate::s3::run_s3(&[
            "run",
            q,
            "--data",
            "s3://lake/sessions/",
            "--endpoint",
            &ep,
            "--cluster",
            &cluster.url(),
            "--threads",
            "4",
            "--format",
            "csv",
            "-q",
        ]);
        assert_eq!(remote.code, 0, "{}\n{}", remote.stderr, cluster.logs());
        // make_set's order is undefined (in KQL too): sets compare as sets
        let (mut r, mut l) = (sets_sorted(&remote.stdout), sets_sorted(&local.stdout));
        if q.ends_with("_kql") {
            // the seed's KQL sorts by one column only (ties in any order) or not at all: rows
            // compare as a multiset (tests/cli/kql.rs checks the order)
            r[1..].sort();
            l[1..].sort();
        }
        assert_eq!(r, l, "{q}");
    }
    assert!(!cluster.logs().contains(SECRET));
}

#[test]
fn unreachable_scheduler_and_bad_cluster_options_fail_cleanly() {
    let port = free_port();
    let o = run(&[
        "run",
        "non_standard_ports",
        "--cluster",
        &format!("df://127.0.0.1:{port}"),
    ]);
    assert_error(
        &o,
        &[
            &format!("cluster df://127.0.0.1:{port}"),
            "cannot reach the scheduler",
        ],
    );
    assert_error(
        &run(&["run", "non_standard_ports", "--cluster", "http://x:1"]),
        &["--cluster http://x:1", "df://HOST:PORT"],
    );
    assert_error(
        &run(&["run", "non_standard_ports", "--cluster", "df://h:99999"]),
        &["--cluster df://h:99999", "port"],
    );
    // A cluster elsewhere cannot read local paths: refused before anything is sent.
    let o = run(&[
        "run",
        "non_standard_ports",
        "--cluster",
        "df://192.0.2.1:50050",
        "--data",
        "data/lake",
    ]);
    assert_error(
        &o,
        &["--data data/lake", "cannot read this machine's files"],
    );
    let o = run(&[
        "run",
        "non_standard_ports",
        "--cluster",
        "df://192.0.2.1:50050",
    ]);
    assert_error(&o, &["--data", "bundled sample lake"]);
    // Executor and scheduler settings.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let o = run(&[
        "cluster",
        "scheduler",
        "--bind",
        &format!("127.0.0.1:{busy_port}"),
    ]);
    assert_error(&o, &[&format!("127.0.0.1:{busy_port}"), "cannot listen"]);
    let o = run(&["cluster", "executor", "--bind", "127.0.0.1"]);
    assert_error(&o, &["--bind 127.0.0.1", "HOST:PORT"]);
    let o = run(&["cluster", "executor", "--slots", "0"]);
    assert_error(&o, &["--slots"]);
    let o = run(&[
        "cluster",
        "executor",
        "--scheduler",
        &format!("127.0.0.1:{port}"),
        "--bind",
        &format!("127.0.0.1:{}", free_port()),
        "--grpc-port",
        &free_port().to_string(),
        "--connect-timeout",
        "1",
    ]);
    assert_error(
        &o,
        &[
            &format!("cluster 127.0.0.1:{port}"),
            "cannot reach the scheduler",
            "waited 1s",
        ],
    );
}

#[test]
fn functions_missing_on_the_cluster_give_a_clear_error_not_an_empty_result() {
    // As with the stock Ballista binaries: first a scheduler without nethunt's functions, then
    // executors without them.
    for (sched, exec) in [(true, false), (false, true)] {
        let flag = |on: bool| {
            if on {
                vec!["--without-nethunt-functions".to_string()]
            } else {
                vec![]
            }
        };
        let setup = Setup {
            scheduler: flag(sched),
            executor: flag(exec),
            ..Setup::default()
        };
        let cluster = Cluster::start(1, &setup);
        let o = run(&[
            "run",
            "non_standard_ports",
            "--cluster",
            &cluster.url(),
            "--format",
            "csv",
        ]);
        assert!(o.stdout.is_empty(), "{}", o.stdout);
        if sched {
            // The scheduler plans the query, so it knows which function it lacks.
            assert_error(&o, &["ipv4_is_private", "not available on the cluster"]);
        } else {
            // An executor's refusal reaches the client without its cause; the log has it.
            assert_error(
                &o,
                &["could not prepare a task", "nethunt cluster executor"],
            );
            let logs = cluster.logs();
            assert!(logs.contains("ipv4_is_private"), "{logs}");
        }
    }
}

#[test]
fn an_executor_killed_mid_query() {
    // A lake big enough for the query to take a while in a debug build.
    let lake = tempfile::tempdir().unwrap();
    let o = run(&[
        "generate",
        "--rows",
        "1500000",
        "--days",
        "3",
        "--row-group-rows",
        "50000",
        "--out",
        lake.path().to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let data = lake.path().to_str().unwrap().to_string();
    let local = run(&[
        "run",
        "uncommon_domains",
        "--data",
        &data,
        "--format",
        "csv",
        "-q",
    ]);
    assert_eq!(local.code, 0, "{}", local.stderr);

    let mut cluster = Cluster::start(2, &Setup::default());
    let mut client = nethunt_process()
        .args([
            "run",
            "uncommon_domains",
            "--data",
            &data,
            "--cluster",
            &cluster.url(),
            "--threads",
            "8",
            "--query-timeout",
            "90",
            "--format",
            "csv",
            "-q",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill executor 0 once it has written shuffle output: it is mid-way through the job.
    let until = Instant::now() + Duration::from_secs(120);
    while ran_tasks(&cluster.work_dir(0)) == 0 {
        assert!(
            Instant::now() < until,
            "executor 0 never ran a task:\n{}",
            cluster.logs()
        );
        assert!(
            client.try_wait().unwrap().is_none(),
            "the query ended before executor 0 ran a task"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        client.try_wait().unwrap().is_none(),
        "the query ended before executor 0 could be killed"
    );
    let killed = Instant::now();
    cluster.kill_executor(0);
    let o = Out::from(client.wait_with_output().unwrap());
    eprintln!(
        "query finished {:.1}s after the kill; logs:\n{}",
        killed.elapsed().as_secs_f64(),
        cluster.logs()
    );
    // Ballista reruns the lost executor's tasks (and the stages that read its shuffle output) on
    // the executor left: the query completes with the same rows.
    let logs = cluster.logs();
    // The scheduler learns of the loss from a missed heartbeat or from a failed task launch,
    // whichever comes first, and resets the lost executor's tasks.
    assert!(
        logs.contains("on lost Executor"),
        "the scheduler did not reset the lost executor's tasks:\n{logs}"
    );
    // Then Ballista 55 either reruns them on the executor left, and the query completes with
    // the same rows (most runs here), or stalls the job (seen once in five runs: "Can't find
    // active stage to update stage outputs"), which --query-timeout turns into a clear error.
    if o.code == 0 {
        assert_eq!(o.stdout, local.stdout);
    } else {
        assert_error(
            &o,
            &[
                &format!("cluster {}", cluster.url()),
                "did not finish within --query-timeout 90s",
            ],
        );
        assert!(o.stdout.is_empty(), "{}", o.stdout);
    }
}

/// A CSV result with the elements of every list cell (`[a, b]`) sorted.
fn sets_sorted(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(
                    |cell| match cell.strip_prefix('[').and_then(|c| c.strip_suffix(']')) {
                        Some(items) => {
                            let mut v: Vec<&str> = items.split(", ").collect();
                            v.sort_unstable();
                            format!("[{}]", v.join(", "))
                        }
                        None => cell.to_string(),
                    },
                )
                .collect()
        })
        .collect()
}
