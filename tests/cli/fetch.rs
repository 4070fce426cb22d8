//! `nethunt domains fetch` and cached lists against a real HTTP server on 127.0.0.1, started
//! here: success, conditional GET (304), retries, and every failure the issue lists. Each failure
//! must exit 2 with a line naming the URL and the cause, and leave the previous cache byte for byte.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Out, ROOT, assert_error, nethunt};

/// What the server does for one request.
enum Reply {
    Ok {
        body: Vec<u8>,
        etag: Option<&'static str>,
        content_type: &'static str,
    },
    Status(u16),
    /// Send headers, then nothing: the client must time out.
    Stall,
    /// Announce the full length, send half, close.
    Cut(Vec<u8>),
}

type Handler = dyn Fn(&str, &BTreeMap<String, String>, usize) -> Reply + Send + Sync;

/// A tiny HTTP/1.1 server: one thread per connection, `Connection: close`.
struct Server {
    port: u16,
    hits: Arc<Mutex<BTreeMap<String, usize>>>,
    seen_conditional: Arc<AtomicUsize>,
}

impl Server {
    fn start(handler: Box<Handler>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
        let seen_conditional = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::from(handler);
        let (h2, c2) = (hits.clone(), seen_conditional.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (handler, hits, cond) = (handler.clone(), h2.clone(), c2.clone());
                std::thread::spawn(move || serve(stream, &*handler, &hits, &cond));
            }
        });
        Server {
            port,
            hits,
            seen_conditional,
        }
    }
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    fn hits(&self, path: &str) -> usize {
        *self.hits.lock().unwrap().get(path).unwrap_or(&0)
    }
}

fn serve(
    stream: TcpStream,
    handler: &Handler,
    hits: &Mutex<BTreeMap<String, usize>>,
    cond: &AtomicUsize,
) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    if headers.contains_key("if-none-match") {
        cond.fetch_add(1, Ordering::SeqCst);
    }
    let n = {
        let mut h = hits.lock().unwrap();
        let e = h.entry(path.clone()).or_default();
        *e += 1;
        *e
    };
    let mut out = stream;
    match handler(&path, &headers, n) {
        Reply::Ok {
            body,
            etag,
            content_type,
        } => {
            let etag = etag.map(|e| format!("ETag: {e}\r\n")).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: {content_type}\r\n{etag}Connection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(head.as_bytes());
            let _ = out.write_all(&body);
        }
        Reply::Status(code) => {
            let _ = out.write_all(
                format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
        Reply::Stall => {
            let _ = out
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n");
            std::thread::sleep(Duration::from_secs(8));
        }
        Reply::Cut(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(head.as_bytes());
            let _ = out.write_all(&body[..body.len() / 2]);
        }
    }
    let _ = out.flush();
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }
    buf.into_inner()
}

fn sample_csv() -> Vec<u8> {
    std::fs::read(Path::new(ROOT).join("data/top1m-sample.csv")).unwrap()
}

fn run_in(cache: &Path, args: &[&str]) -> Out {
    let o = nethunt()
        .env("NETHUNT_CACHE_DIR", cache)
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .args(args)
        .output()
        .unwrap();
    Out::from(o)
}

/// Every file of the cache with its bytes.
fn snapshot(cache: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let dir = cache.join("tables/top1m");
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        out.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path()).unwrap(),
        );
    }
    out
}

fn routes() -> Server {
    let good = zip_of(&[("top-1m.csv", &sample_csv())]);
    let bomb = zip_of(&[("top-1m.csv", &vec![b'0'; 8 << 20])]);
    let mut bad_utf8 = b"1,google.com\n2,caf".to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe]);
    bad_utf8.extend_from_slice(b".com\n");
    let bad_utf8 = zip_of(&[("top-1m.csv", &bad_utf8)]);
    let header = zip_of(&[(
        "majestic.csv",
        b"GlobalRank,TldRank,Domain,TLD\n1,1,google.com,com\n2,2,facebook.com,com\n",
    )]);
    let readme = zip_of(&[("readme.txt", b"nothing here")]);
    Server::start(Box::new(move |path, headers, n| match path {
        "/top-1m.csv.zip" => {
            if headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") {
                Reply::Status(304)
            } else {
                Reply::Ok {
                    body: good.clone(),
                    etag: Some("\"v1\""),
                    content_type: "application/zip",
                }
            }
        }
        "/flaky.zip" if n == 1 => Reply::Status(503),
        "/flaky.zip" => Reply::Ok {
            body: good.clone(),
            etag: None,
            content_type: "application/zip",
        },
        "/always500.zip" => Reply::Status(500),
        "/big.zip" => Reply::Ok {
            body: good.clone(),
            etag: None,
            content_type: "application/zip",
        },
        "/stall.zip" => Reply::Stall,
        "/cut.zip" => Reply::Cut(good.clone()),
        "/corrupt.zip" => Reply::Ok {
            body: b"PK\x03\x04 this is no zip".to_vec(),
            etag: None,
            content_type: "application/zip",
        },
        "/readme.zip" => Reply::Ok {
            body: readme.clone(),
            etag: None,
            content_type: "application/zip",
        },
        "/bomb.zip" => Reply::Ok {
            body: bomb.clone(),
            etag: None,
            content_type: "application/zip",
        },
        "/badutf8.zip" => Reply::Ok {
            body: bad_utf8.clone(),
            etag: None,
            content_type: "application/zip",
        },
        "/header.zip" => Reply::Ok {
            body: header.clone(),
            etag: None,
            content_type: "application/zip",
        },
        "/login.zip" => Reply::Ok {
            body: b"<!DOCTYPE html><html><body>Please sign in</body></html>".to_vec(),
            etag: None,
            content_type: "text/html; charset=utf-8",
        },
        _ => Reply::Status(404),
    }))
}

#[test]
fn fetch_cache_offline_and_faults() {
    let server = routes();
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path();
    let url = server.url("/top-1m.csv.zip");

    // nothing cached: --offline fails clearly for a query that needs the list
    let o = run_in(c, &["run", "uncommon_domains", "--offline"]);
    assert_error(&o, &["--offline", "no cached top1m list"]);

    // first fetch downloads
    let o = run_in(c, &["domains", "fetch", "--url", &url]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows = sample_csv().iter().filter(|b| **b == b'\n').count();
    assert!(o.stderr.contains(&format!("{rows} rows")), "{}", o.stderr);
    let status = run_in(c, &["domains", "status"]);
    assert!(
        status.stdout.contains(&url) && status.stdout.contains("\"v1\""),
        "{}",
        status.stdout
    );
    let before = snapshot(c);

    // second fetch is conditional and the server answers 304: the data file is untouched
    let o = run_in(c, &["domains", "fetch", "--url", &url]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("not modified"), "{}", o.stderr);
    assert_eq!(server.seen_conditional.load(Ordering::SeqCst), 1);
    assert_eq!(server.hits("/top-1m.csv.zip"), 2);
    let after = snapshot(c);
    let data = |s: &BTreeMap<String, Vec<u8>>| {
        s.iter()
            .filter(|(k, _)| k.starts_with("data-"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(data(&before), data(&after));

    // the query runs offline from the cache, and equals the same list read from a local file
    let offline = run_in(
        c,
        &["run", "uncommon_domains", "--offline", "--format", "csv"],
    );
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    let local = run_in(
        c,
        &[
            "run",
            "uncommon_domains",
            "--format",
            "csv",
            "--domains",
            "data/top1m-sample.csv",
        ],
    );
    assert_eq!(offline.stdout, local.stdout);
    // ... and through --domains URL (served from the fresh cache, no new request)
    let via_url = run_in(
        c,
        &[
            "run",
            "uncommon_domains",
            "--format",
            "csv",
            "--domains",
            &url,
        ],
    );
    assert_eq!(via_url.stdout, local.stdout, "{}", via_url.stderr);
    assert_eq!(server.hits("/top-1m.csv.zip"), 2);

    let good = snapshot(c);
    let fails: &[(&str, &[&str], &[&str])] = &[
        ("/missing.zip", &["--retries", "2"], &["HTTP 404"]),
        (
            "/always500.zip",
            &["--retries", "1"],
            &["HTTP 500", "after 2 attempts"],
        ),
        (
            "/stall.zip",
            &["--retries", "0", "--timeout", "1"],
            &["timed out"],
        ),
        (
            "/cut.zip",
            &["--retries", "0"],
            &["closed before the whole body arrived"],
        ),
        ("/corrupt.zip", &[], &["not a valid zip archive"]),
        (
            "/readme.zip",
            &[],
            &["no zip entry matches '*.csv'", "readme.txt"],
        ),
        ("/bomb.zip", &[], &["zip bomb"]),
        ("/badutf8.zip", &[], &["line 2 is not valid UTF-8"]),
        ("/login.zip", &[], &["HTML page"]),
        ("/big.zip", &["--max-bytes", "100"], &["byte limit"]),
    ];
    for (path, extra, needles) in fails {
        let u = server.url(path);
        let mut args = vec!["domains", "fetch", "--url", u.as_str()];
        args.extend_from_slice(extra);
        let o = run_in(c, &args);
        let mut all = vec![u.as_str()];
        all.extend_from_slice(needles);
        assert_error(&o, &all);
        assert_eq!(
            snapshot(c),
            good,
            "{path}: the previous cache must be intact"
        );
        // and still usable offline
        let again = run_in(
            c,
            &["run", "uncommon_domains", "--offline", "--format", "csv"],
        );
        assert_eq!(again.stdout, local.stdout, "{path}");
    }
    // 4xx is not retried, 5xx is (1 + 2 retries would have been 3 hits)
    assert_eq!(server.hits("/missing.zip"), 1);
    assert_eq!(server.hits("/always500.zip"), 2);

    // a 503 then 200: the retry succeeds
    let o = run_in(
        c,
        &[
            "domains",
            "fetch",
            "--url",
            &server.url("/flaky.zip"),
            "--retries",
            "2",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(server.hits("/flaky.zip"), 2);

    // a header row (Majestic layout) is recognised and skipped
    let o = run_in(
        c,
        &[
            "domains",
            "fetch",
            "--url",
            &server.url("/header.zip"),
            "--zip-pattern",
            "*.csv",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains(" 2 rows"), "{}", o.stderr);
    let o = run_in(
        c,
        &[
            "sql",
            "SELECT \"Position\", \"Domain\" FROM top1m ORDER BY 1",
            "--offline",
            "--format",
            "csv",
        ],
    );
    assert_eq!(
        o.stdout, "Position,Domain\n1,google.com\n2,facebook.com\n",
        "{}",
        o.stderr
    );
}

#[test]
fn declared_tables_and_notices() {
    let cache = tempfile::tempdir().unwrap();
    // no cache: the bundled sample is used with a one-line notice
    let o = run_in(
        cache.path(),
        &["run", "uncommon_domains", "--format", "csv"],
    );
    assert_eq!(o.code, 0);
    assert!(
        o.stderr.contains("bundled sample list") && o.stderr.contains("nethunt domains fetch"),
        "{}",
        o.stderr
    );
    // a query that does not read top1m needs no list, even offline
    let o = run_in(
        cache.path(),
        &["run", "non_standard_ports", "--offline", "--format", "csv"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("sample list"), "{}", o.stderr);
    // ... and says that its sessions were the sample lake
    assert!(
        o.stderr
            .contains("note: NetworkSessions is the bundled sample lake"),
        "{}",
        o.stderr
    );
    // the library query declares its external table
    let o = run_in(cache.path(), &["show", "uncommon_domains"]);
    assert!(o.stdout.contains("[tables.top1m]") && o.stdout.contains("zip_pattern = \"*.csv\""));
}

/// SHA-256 of `bytes`, by the system's sha256sum (not nethunt's code).
fn sha256sum(bytes: &[u8]) -> String {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    let o = std::process::Command::new("sha256sum")
        .arg(f.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()[..64].to_string()
}

/// Issue 14, defect 3: the suppression list came over plain HTTP and any refresh replaced it.
/// The default source is HTTPS; the cache records each list's SHA-256 and rows; a refresh from
/// the same source that loses more than half of the rows is held aside (a warning even with
/// --quiet) and the list in use stays, until `domains fetch --accept`.
#[test]
fn a_refresh_that_shrinks_the_list_is_held_aside() {
    let full = sample_csv();
    let lines: Vec<&[u8]> = full.split_inclusive(|b| *b == b'\n').collect();
    let rows = lines.len();
    let short: Vec<u8> = lines[..100].concat();
    let shorter: Vec<u8> = lines[..60].concat();
    let (f, s, t) = (full.clone(), short.clone(), shorter.clone());
    let server = Server::start(Box::new(move |path, _, n| match path {
        "/list.csv" => Reply::Ok {
            body: match n {
                1 => f.clone(),
                2 => s.clone(),
                _ => t.clone(),
            },
            etag: None,
            content_type: "text/csv",
        },
        _ => Reply::Status(404),
    }));
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path();
    let url = server.url("/list.csv");
    let count = || {
        let o = run_in(
            c,
            &[
                "sql",
                "SELECT count(*) FROM top1m",
                "--offline",
                "--format",
                "csv",
                "-q",
            ],
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout.lines().nth(1).unwrap().parse::<usize>().unwrap()
    };

    let o = run_in(c, &["domains", "fetch", "--url", &url]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let status = run_in(c, &["domains", "status"]).stdout;
    assert!(
        status.contains(&format!("sha256:        {}", sha256sum(&full))),
        "{status}"
    );
    assert!(
        status.contains(&format!("rows:          {rows}")),
        "{status}"
    );
    assert_eq!(count(), rows);

    // The refresh lost more than half: held aside, the list in use stays.
    let o = run_in(c, &["domains", "fetch", "--url", &url, "-q"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains(&format!("has 100 rows against {rows} in use"))
            && o.stderr.contains("held aside"),
        "{}",
        o.stderr
    );
    let status = run_in(c, &["domains", "status"]).stdout;
    assert!(
        status.contains(&format!("rows:          {rows}")),
        "{status}"
    );
    assert!(
        status.contains(&format!(
            "held aside:    100 rows, sha256 {}",
            sha256sum(&short)
        )),
        "{status}"
    );
    assert_eq!(count(), rows);

    // Taken explicitly.
    let o = run_in(c, &["domains", "fetch", "--accept"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let status = run_in(c, &["domains", "status"]).stdout;
    assert!(
        status.contains("rows:          100\n") && !status.contains("held aside"),
        "{status}"
    );
    assert_eq!(count(), 100);
    assert_error(
        &run_in(c, &["domains", "fetch", "--accept"]),
        &["no list is held aside"],
    );

    // Losing less than half is an ordinary refresh.
    let o = run_in(c, &["domains", "fetch", "--url", &url]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("held aside"), "{}", o.stderr);
    assert_eq!(count(), 60);

    // The default source is HTTPS, in the CLI and in the seed query's declaration.
    let help = run_in(c, &["domains", "fetch", "--help"]).stdout;
    assert!(
        help.contains("https://s3-us-west-1.amazonaws.com/umbrella-static/top-1m.csv.zip]")
            && !help.contains("http://s3"),
        "{help}"
    );
    let show = run_in(c, &["show", "uncommon_domains"]).stdout;
    assert!(show.contains("url = \"https://"), "{show}");
}

/// Issue 14, defect 4: a `[tables.X]` declaration in a --library file could make `run` fetch a
/// local path or any URL (cloud metadata at 169.254.169.254 included), whose rows `batch --out`
/// then writes out. Declared tables fetch only https://, or http:// at public addresses;
/// anything else needs --allow-local-tables or the table on the command line.
#[test]
fn query_files_cannot_make_nethunt_read_local_sources() {
    let server = Server::start(Box::new(|path, _, _| match path {
        "/ti.csv" => Reply::Ok {
            body: b"Ip,Score\n1.2.3.4,5\n5.6.7.8,9\n".to_vec(),
            etag: None,
            content_type: "text/csv",
        },
        _ => Reply::Status(404),
    }));
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    std::fs::create_dir_all(&library).unwrap();
    let query = |url: &str| {
        std::fs::write(
            library.join("ti_hits.sql"),
            format!(
                "-- ---\n-- id = \"ti\"\n-- title = \"TI\"\n-- description = \"Indicators\"\n-- mitre = [\"T1071\"]\n-- severity = \"low\"\n-- [tables.ti]\n-- url = \"{url}\"\n-- columns = [\"Ip:string\", \"Score:int\"]\n-- ---\nSELECT count(*) AS n FROM ti\n"
            ),
        )
        .unwrap();
    };
    let cache = tempfile::tempdir().unwrap();
    let lib = library.to_str().unwrap();
    let run_ti = |extra: &[&str]| {
        let mut args = vec!["run", "ti_hits", "--library", lib, "--format", "csv", "-q"];
        args.extend_from_slice(extra);
        run_in(cache.path(), &args)
    };
    let local = server.url("/ti.csv");
    for (url, why) in [
        (local.as_str(), "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/iam/", "link-local"),
        ("/etc/passwd", "a local path"),
        ("file:///etc/passwd", "a file: URL"),
    ] {
        query(url);
        let o = run_ti(&[]);
        assert_error(
            &o,
            &[
                "table ti declared by query ti_hits",
                why,
                "--allow-local-tables",
            ],
        );
        let o = run_ti(&["--offline"]);
        assert_eq!(o.code, 2, "{}", o.stderr);
    }
    assert_eq!(server.hits("/ti.csv"), 0, "nothing was fetched");
    // The user's explicit word: the flag, or the table on the command line.
    query(&local);
    let o = run_ti(&["--allow-local-tables"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "n\n2\n"), "{}", o.stderr);
    assert_eq!(server.hits("/ti.csv"), 1);
    let csv = dir.path().join("ti.csv");
    std::fs::write(&csv, "Ip,Score\n9.9.9.9,1\n").unwrap();
    let table = format!("ti={}", csv.display());
    let o = run_ti(&["--table", &table]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "n\n1\n"), "{}", o.stderr);
}
