//! `nethunt import zeek`: Zeek logs written here in Zeek's own TSV and JSON layouts (from a table
//! of sessions in this file, or from the real Zeek-derived sessions in `../shared/data/real/`),
//! imported, and read back.

use std::io::Write;

use super::*;

/// A session as the test writes it into conn.log (+ http.log / ssl.log).
#[derive(Clone)]
struct Conn {
    ts: &'static str,
    uid: &'static str,
    src: &'static str,
    sport: Option<u16>,
    dst: &'static str,
    dport: Option<u16>,
    proto: &'static str,
    service: Option<&'static str>,
    duration: Option<&'static str>,
    ob: Option<i64>,
    rb: Option<i64>,
    state: &'static str,
    local: (Option<bool>, Option<bool>),
    http_host: Option<&'static str>,
    sni: Option<&'static str>,
}

fn conns() -> Vec<Conn> {
    let c = |ts, uid, src, sport, dst, dport, proto, state| Conn {
        ts,
        uid,
        src,
        sport: Some(sport),
        dst,
        dport: Some(dport),
        proto,
        service: None,
        duration: Some("0.245310"),
        ob: Some(517),
        rb: Some(4321),
        state,
        local: (Some(true), Some(false)),
        http_host: None,
        sni: None,
    };
    vec![
        Conn {
            service: Some("ssl,http"),
            http_host: Some("www.example.com"),
            sni: Some("sni.example.com"),
            ..c(
                "1714417137.321305",
                "CLQMsB1fsfYFtmMlUf",
                "10.0.0.11",
                60570,
                "93.184.216.34",
                443,
                "tcp",
                "SF",
            )
        },
        Conn {
            service: Some("ssl"),
            sni: Some("api.rare-domain.io"),
            ..c(
                "1714417205.459272",
                "CgomWd4W1smXYZnVi3",
                "10.0.0.238",
                38239,
                "203.0.113.9",
                443,
                "tcp",
                "RSTR",
            )
        },
        Conn {
            ob: None,
            rb: None,
            duration: None,
            local: (None, None),
            ..c(
                "1714420800.000001",
                "C4J4Th3PJpwUYZZ6gc",
                "10.0.0.5",
                51515,
                "198.51.100.7",
                4444,
                "tcp",
                "S0",
            )
        },
        c(
            "1714424400.5",
            "CUM0KZ3MLUfNB0cl11",
            "fe80::1",
            5353,
            "ff02::fb",
            5353,
            "udp",
            "OTH",
        ),
        Conn {
            sport: Some(8),
            dport: Some(0),
            ..c(
                "1714428000.25",
                "CmES5u32sYpV7JYN",
                "10.0.0.9",
                8,
                "8.8.8.8",
                0,
                "icmp",
                "OTH",
            )
        },
        c(
            "1714431600.75",
            "CP5kG9x3b1fXq2zZ3",
            "10.0.0.12",
            40000,
            "192.0.2.1",
            22,
            "tcp",
            "REJ",
        ),
        // The next day (UTC), and a state outside the mapping.
        Conn {
            local: (Some(false), Some(true)),
            ..c(
                "1714521600.123",
                "CxT2Q0b1b2c3d4e5f",
                "198.51.100.20",
                55555,
                "10.0.0.2",
                3389,
                "tcp",
                "RSTOS0",
            )
        },
        c(
            "1714525200",
            "CzzzzzzzzzzzzzzzzZ",
            "10.0.0.13",
            1234,
            "192.0.2.2",
            80,
            "tcp",
            "XYZ",
        ),
    ]
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

fn tf(b: Option<bool>) -> String {
    b.map(|x| if x { "T" } else { "F" }.to_string())
        .unwrap_or_else(|| "-".into())
}

const HEADER: &str =
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n";

fn tsv_conn(rows: &[Conn]) -> String {
    let mut s = format!(
        "{HEADER}#path\tconn\n#open\t2024-04-29-18-58-57\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"
    );
    for r in rows {
        s += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t0\tShADadFf\t10\t1049\t9\t4693\t(empty)\n",
            r.ts,
            r.uid,
            r.src,
            opt(r.sport),
            r.dst,
            opt(r.dport),
            r.proto,
            opt(r.service),
            opt(r.duration),
            opt(r.ob),
            opt(r.rb),
            r.state,
            tf(r.local.0),
            tf(r.local.1),
        );
    }
    s + "#close\t2024-04-30-00-00-00\n"
}

fn tsv_http(rows: &[Conn]) -> String {
    let mut s = format!(
        "{HEADER}#path\thttp\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\ttrans_depth\tmethod\thost\turi\tstatus_code\n#types\ttime\tstring\taddr\tport\taddr\tport\tcount\tstring\tstring\tstring\tcount\n"
    );
    for r in rows.iter().filter(|r| r.http_host.is_some()) {
        s += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t1\tGET\t{}\t/index.html\t200\n",
            r.ts,
            r.uid,
            r.src,
            opt(r.sport),
            r.dst,
            opt(r.dport),
            r.http_host.unwrap()
        );
    }
    s
}

fn tsv_ssl(rows: &[Conn]) -> String {
    let mut s = format!(
        "{HEADER}#path\tssl\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\tcipher\tserver_name\testablished\n#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tstring\tstring\tbool\n"
    );
    for r in rows.iter().filter(|r| r.sni.is_some()) {
        s += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\tTLSv13\tTLS_AES_128_GCM_SHA256\t{}\tT\n",
            r.ts,
            r.uid,
            r.src,
            opt(r.sport),
            r.dst,
            opt(r.dport),
            r.sni.unwrap()
        );
    }
    s
}

/// The same records as Zeek's JSON writer (LogAscii::use_json) prints them: flat dotted keys,
/// unset fields left out, ISO 8601 times for every other record (both settings exist).
fn json_conn(rows: &[Conn]) -> String {
    let mut s = String::new();
    for (i, r) in rows.iter().enumerate() {
        let mut o = serde_json::Map::new();
        let us = {
            let (a, b) = r.ts.split_once('.').unwrap_or((r.ts, ""));
            let frac: String = format!("{b:0<6}").chars().take(6).collect();
            a.parse::<i64>().unwrap() * 1_000_000 + frac.parse::<i64>().unwrap()
        };
        if i % 2 == 0 {
            // Epoch seconds as a JSON number (its shortest form keeps all six decimals here).
            o.insert(
                "ts".into(),
                serde_json::Value::Number(r.ts.parse().unwrap()),
            );
        } else {
            let t = chrono::DateTime::from_timestamp_micros(us).unwrap();
            o.insert(
                "ts".into(),
                serde_json::json!(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            );
        }
        o.insert("uid".into(), serde_json::json!(r.uid));
        o.insert("id.orig_h".into(), serde_json::json!(r.src));
        if let Some(p) = r.sport {
            o.insert("id.orig_p".into(), serde_json::json!(p));
        }
        o.insert("id.resp_h".into(), serde_json::json!(r.dst));
        if let Some(p) = r.dport {
            o.insert("id.resp_p".into(), serde_json::json!(p));
        }
        o.insert("proto".into(), serde_json::json!(r.proto));
        if let Some(v) = r.service {
            o.insert("service".into(), serde_json::json!(v));
        }
        if let Some(v) = r.duration {
            o.insert(
                "duration".into(),
                serde_json::Value::Number(v.parse().unwrap()),
            );
        }
        if let Some(v) = r.ob {
            o.insert("orig_bytes".into(), serde_json::json!(v));
        }
        if let Some(v) = r.rb {
            o.insert("resp_bytes".into(), serde_json::json!(v));
        }
        o.insert("conn_state".into(), serde_json::json!(r.state));
        if let Some(v) = r.local.0 {
            o.insert("local_orig".into(), serde_json::json!(v));
        }
        if let Some(v) = r.local.1 {
            o.insert("local_resp".into(), serde_json::json!(v));
        }
        o.insert("orig_pkts".into(), serde_json::json!(10));
        o.insert("resp_pkts".into(), serde_json::json!(9));
        s += &serde_json::Value::Object(o).to_string();
        s.push('\n');
    }
    s
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// What the README's mapping says each session becomes, independent of the importer.
fn expected_result(state: &str) -> Option<&'static str> {
    const SUCCESS: [&str; 3] = ["SF", "S1", "OTH"];
    const FAILURE: [&str; 10] = [
        "S0", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR",
    ];
    if SUCCESS.contains(&state) {
        Some("Success")
    } else if FAILURE.contains(&state) {
        Some("Failure")
    } else {
        None
    }
}

/// Rows of the imported lake (or of `--data` as given) as CSV lines (ordered by time),
/// through `nethunt sql`.
fn imported_rows(lake: &Path) -> Vec<Vec<String>> {
    data_rows(lake.to_str().unwrap())
}

fn data_rows(data: &str) -> Vec<Vec<String>> {
    let o = run(&[
        "sql",
        "SELECT CAST(TimeGenerated AS BIGINT) AS t, EventOriginalUid, SrcIpAddr, SrcPortNumber, DstIpAddr, DstPortNumber, NetworkProtocol, NetworkApplicationProtocol, NetworkDuration, SrcBytes, DstBytes, EventResult, ZeekConnState, NetworkDirection, UrlHostname, NetworkProtocolVersion, to_char(TimeGenerated, '%Y-%m-%d') AS date FROM NetworkSessions ORDER BY t",
        "--data",
        data,
        "--format",
        "ndjson",
        "-q",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let order = [
        "t",
        "EventOriginalUid",
        "SrcIpAddr",
        "SrcPortNumber",
        "DstIpAddr",
        "DstPortNumber",
        "NetworkProtocol",
        "NetworkApplicationProtocol",
        "NetworkDuration",
        "SrcBytes",
        "DstBytes",
        "EventResult",
        "ZeekConnState",
        "NetworkDirection",
        "UrlHostname",
        "NetworkProtocolVersion",
        "date",
    ];
    o.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            order
                .iter()
                .map(|k| match &v[*k] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// The sessions as they read without http/ssl logs: no hostnames.
fn without_hosts(rows: &[Conn]) -> Vec<Conn> {
    rows.iter()
        .map(|r| Conn {
            http_host: None,
            sni: None,
            ..r.clone()
        })
        .collect()
}

fn micros(ts: &str) -> i64 {
    let (a, b) = ts.split_once('.').unwrap_or((ts, ""));
    let frac: String = format!("{b:0<6}").chars().take(6).collect();
    a.parse::<i64>().unwrap() * 1_000_000 + frac.parse::<i64>().unwrap()
}

fn check_lake(lake: &Path, rows: &[Conn]) {
    check_rows(imported_rows(lake), rows);
}

fn check_rows(got: Vec<Vec<String>>, rows: &[Conn]) {
    assert_eq!(got.len(), rows.len());
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| micros(r.ts));
    let s = |v: Option<String>| v.unwrap_or_default();
    for (g, r) in got.iter().zip(&rows) {
        let date = chrono::DateTime::from_timestamp_micros(micros(r.ts))
            .unwrap()
            .format("%Y-%m-%d")
            .to_string();
        let dir = match r.local {
            (Some(true), Some(false)) => "Outbound",
            (Some(false), Some(true)) => "Inbound",
            _ => "",
        };
        let want = vec![
            micros(r.ts).to_string(),
            r.uid.to_string(),
            r.src.to_string(),
            s(r.sport.map(|p| p.to_string())),
            r.dst.to_string(),
            s(r.dport.map(|p| p.to_string())),
            r.proto.to_uppercase(),
            s(r.service.map(str::to_string)),
            s(r.duration
                .map(|d| ((d.parse::<f64>().unwrap() * 1000.0).round() as i64).to_string())),
            s(r.ob.map(|b| b.to_string())),
            s(r.rb.map(|b| b.to_string())),
            s(expected_result(r.state).map(str::to_string)),
            r.state.to_string(),
            dir.to_string(),
            // HTTP Host wins over the TLS SNI of the same connection.
            s(r.http_host.or(r.sni).map(str::to_string)),
            if r.src.contains(':') { "IPv6" } else { "IPv4" }.to_string(),
            date,
        ];
        assert_eq!(g, &want, "{}", r.uid);
    }
}

/// Issue 14, defect 1: a `\x` escape before a multi-byte character (`dn\xaés` in `service`)
/// made the importer panic (exit 101). It is kept as written; a real escape is still decoded.
#[test]
fn escapes_before_multibyte_characters_are_kept() {
    let mut rows = conns()[..2].to_vec();
    rows[0].service = Some("dn\\xaés");
    rows[1].service = Some("ht\\x74p");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("conn.log"), tsv_conn(&rows)).unwrap();
    let lake = dir.path().join("lake");
    let o = run(&[
        "import",
        "zeek",
        dir.path().join("conn.log").to_str().unwrap(),
        "--out",
        lake.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows = sql_rows(
        lake.to_str().unwrap(),
        "SELECT NetworkApplicationProtocol FROM NetworkSessions",
    );
    let mut got: Vec<String> = rows[1..].iter().map(|r| r[0].clone()).collect();
    got.sort();
    assert_eq!(got, ["dn\\xaés", "http"]);
}

/// Issue 14, defect 7: importing the same logs twice doubled every row. The output is named by a
/// hash of the inputs, so the same logs again (in any order) write nothing and say so; other
/// logs still add to the lake.
#[test]
fn importing_the_same_logs_again_is_a_no_op() {
    let rows = conns();
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    std::fs::write(p("conn.log"), tsv_conn(&rows)).unwrap();
    std::fs::write(p("http.log"), tsv_http(&rows)).unwrap();
    std::fs::write(p("other.log"), tsv_conn(&rows[..1])).unwrap();
    let lake = p("lake");
    let count = || {
        sql_rows(&lake, "SELECT count(*) FROM NetworkSessions")[1][0]
            .parse::<usize>()
            .unwrap()
    };
    let first = run(&[
        "import",
        "zeek",
        &p("conn.log"),
        &p("http.log"),
        "--out",
        &lake,
    ]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let files = files_under(Path::new(&lake));
    assert_eq!(count(), rows.len());
    let again = run(&[
        "import",
        "zeek",
        &p("http.log"),
        &p("conn.log"),
        "--out",
        &lake,
    ]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("nothing written"), "{}", again.stderr);
    assert_eq!(files_under(Path::new(&lake)), files);
    assert_eq!(count(), rows.len());
    let other = run(&["import", "zeek", &p("other.log"), "--out", &lake]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    assert_eq!(count(), rows.len() + 1);
}

#[test]
fn tsv_json_and_gzip_logs_import_to_the_same_lake() {
    let rows = conns();
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("conn.log"), tsv_conn(&rows)).unwrap();
    std::fs::write(p("http.log"), tsv_http(&rows)).unwrap();
    std::fs::write(p("ssl.log.gz"), gzip(&tsv_ssl(&rows))).unwrap();
    std::fs::write(p("conn.json"), json_conn(&rows)).unwrap();

    let lake = dir.path().join("lake");
    let o = run(&[
        "import",
        "zeek",
        p("ssl.log.gz").to_str().unwrap(),
        p("conn.log").to_str().unwrap(),
        p("http.log").to_str().unwrap(),
        "--out",
        lake.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("imported 8 sessions (2 with a hostname) into 2 files"),
        "{}",
        o.stderr
    );
    check_lake(&lake, &rows);

    // JSON lines, gzipped, without http/ssl logs: the same rows but no hostnames.
    std::fs::write(p("conn.json.gz"), gzip(&json_conn(&rows))).unwrap();
    let lake2 = dir.path().join("lake2");
    let o = run(&[
        "import",
        "zeek",
        p("conn.json.gz").to_str().unwrap(),
        "--out",
        lake2.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    check_lake(&lake2, &without_hosts(&rows));

    // The imported lake is a NetworkSessions lake: the seed queries run on it.
    let o = run(&[
        "run",
        "non_standard_ports",
        "--data",
        lake.to_str().unwrap(),
        "--format",
        "csv",
        "-q",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// Issue 15: the same logs read in place by the zeek source parser give the rows the README's
/// mapping says (the oracle `import` is checked against), from TSV, JSON lines and gzip alike.
#[test]
fn zeek_logs_read_in_place_as_imported() {
    let rows = conns();
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("tsv");
    let json = dir.path().join("json");
    std::fs::create_dir_all(&tsv).unwrap();
    std::fs::create_dir_all(&json).unwrap();
    std::fs::write(tsv.join("conn.log"), tsv_conn(&rows)).unwrap();
    std::fs::write(tsv.join("http.log"), tsv_http(&rows)).unwrap();
    std::fs::write(tsv.join("ssl.log.gz"), gzip(&tsv_ssl(&rows))).unwrap();
    // Another Zeek log beside them is skipped, not an error.
    std::fs::write(tsv.join("dns.log"), "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.resp_h\tquery\n1.0\tCx\t10.0.0.1\t10.0.0.2\texample.com\n").unwrap();
    check_rows(data_rows(&format!("zeek={}", tsv.display())), &rows);
    let o = run(&[
        "sql",
        "SELECT count(*) FROM NetworkSessions",
        "--data",
        tsv.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("read as zeek") && o.stderr.contains("3 files, 1 other log skipped"),
        "{}",
        o.stderr
    );
    std::fs::write(json.join("conn.log.gz"), gzip(&json_conn(&rows))).unwrap();
    check_rows(data_rows(json.to_str().unwrap()), &without_hosts(&rows));
}

#[test]
fn bad_zeek_input_names_the_file_and_line() {
    let rows = conns();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let good = tsv_conn(&rows);
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "short.log",
            good.replacen("\tSF\t", "\t", 1),
            vec!["short.log:9:", "values for 21 #fields"],
        ),
        (
            "port.log",
            good.replacen("\t60570\t", "\t70000\t", 1),
            vec!["port.log:9:", "id.orig_p", "70000"],
        ),
        (
            "ts.log",
            good.replacen("1714417137.321305", "yesterday", 1),
            vec!["ts.log:9:", "field ts"],
        ),
        (
            "dns.log",
            good.replacen("#path\tconn", "#path\tdns", 1),
            vec!["dns.log:5:", "'dns' log"],
        ),
        (
            "nohdr.log",
            "1714417137.3\tC1\t10.0.0.1\n".to_string(),
            vec!["nohdr.log:1:", "not a Zeek log"],
        ),
        (
            "bad.json",
            "{\"ts\": 1714417137.3, \"conn_state\": \n".to_string(),
            vec!["bad.json:1:", "not a JSON object"],
        ),
        (
            "empty.log",
            String::new(),
            vec!["empty.log", "no Zeek records"],
        ),
    ];
    for (name, text, needles) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let o = run(&[
            "import",
            "zeek",
            path.to_str().unwrap(),
            "--out",
            lake.to_str().unwrap(),
        ]);
        assert_error(&o, &needles);
        // Nothing was written, not even a temporary file.
        assert!(
            files_under(&lake).is_empty(),
            "{name}: {:?}",
            files_under(&lake)
        );
    }
    // Binary input.
    let path = dir.path().join("bin.log");
    std::fs::write(&path, [0xffu8, 0xfe, 0x00, 0x12]).unwrap();
    let o = run(&[
        "import",
        "zeek",
        path.to_str().unwrap(),
        "--out",
        lake.to_str().unwrap(),
    ]);
    assert_error(&o, &["bin.log", "not UTF-8"]);
    let o = run(&[
        "import",
        "zeek",
        "/no/such/conn.log",
        "--out",
        lake.to_str().unwrap(),
    ]);
    assert_error(&o, &["/no/such/conn.log"]);
    // Only hostname logs.
    let path = dir.path().join("http.log");
    std::fs::write(&path, tsv_http(&rows)).unwrap();
    let o = run(&[
        "import",
        "zeek",
        path.to_str().unwrap(),
        "--out",
        lake.to_str().unwrap(),
    ]);
    assert_error(&o, &["no conn log"]);
}

/// The real Zeek-derived sessions, written back as Zeek conn/http/ssl logs, imported, and run:
/// the columns come back as they were and the seed queries give the reference answers.
#[test]
fn real_sessions_round_trip_through_zeek_logs() {
    let real = Path::new(ROOT).join("../shared/data/real");
    let sessions = real.join("rita_proxy_rolling.parquet");
    // Missing material fails the test: it never passes without having run.
    assert!(
        sessions.is_file(),
        "{} is missing: this test needs ../shared/data/real",
        sessions.display()
    );
    let batches: Vec<RecordBatch> =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&sessions).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut conn = format!(
        "{HEADER}#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\n"
    );
    let mut http =
        format!("{HEADER}#path\thttp\n#fields\tts\tuid\thost\n#types\ttime\tstring\tstring\n");
    let mut ssl = format!(
        "{HEADER}#path\tssl\n#fields\tts\tuid\tserver_name\n#types\ttime\tstring\tstring\n"
    );
    let mut n = 0;
    for b in &batches {
        let ts = b
            .column_by_name("TimeGenerated")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let s = |c: &str| col_str(b, c);
        let i = |c: &str| -> Vec<Option<i64>> {
            let a = arrow::compute::cast(b.column_by_name(c).unwrap(), &DataType::Int64).unwrap();
            let a = a.as_primitive::<Int64Type>();
            (0..a.len())
                .map(|k| (!a.is_null(k)).then(|| a.value(k)))
                .collect()
        };
        let (uid, src, dst, proto, app, state, host) = (
            s("EventOriginalUid"),
            s("SrcIpAddr"),
            s("DstIpAddr"),
            s("NetworkProtocol"),
            s("NetworkApplicationProtocol"),
            s("ZeekConnState"),
            s("UrlHostname"),
        );
        let (sp, dp, sb, db) = (
            i("SrcPortNumber"),
            i("DstPortNumber"),
            i("SrcBytes"),
            i("DstBytes"),
        );
        for k in 0..b.num_rows() {
            let t = ts.value(k);
            let tstr = format!("{}.{:06}", t.div_euclid(1_000_000), t.rem_euclid(1_000_000));
            let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            conn += &format!(
                "{tstr}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t-\t{}\t{}\t{}\n",
                o(&uid[k]),
                o(&src[k]),
                opt(sp[k]),
                o(&dst[k]),
                opt(dp[k]),
                proto[k].as_deref().unwrap_or("-").to_lowercase(),
                o(&app[k]),
                opt(sb[k]),
                opt(db[k]),
                o(&state[k]),
            );
            if let Some(h) = &host[k] {
                if app[k].as_deref().is_some_and(|a| a.contains("http")) {
                    http += &format!("{tstr}\t{}\t{h}\n", o(&uid[k]));
                } else {
                    ssl += &format!("{tstr}\t{}\t{h}\n", o(&uid[k]));
                }
            }
            n += 1;
        }
    }
    std::fs::write(dir.path().join("conn.log"), conn).unwrap();
    std::fs::write(dir.path().join("http.log"), http).unwrap();
    std::fs::write(dir.path().join("ssl.log"), ssl).unwrap();
    let lake = dir.path().join("lake");
    let o = run(&[
        "import",
        "zeek",
        dir.path().join("conn.log").to_str().unwrap(),
        dir.path().join("http.log").to_str().unwrap(),
        dir.path().join("ssl.log").to_str().unwrap(),
        "--out",
        lake.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!("imported {n} sessions")),
        "{}",
        o.stderr
    );

    // Column by column, the lake equals the source (EventResult included: the importer's
    // mapping reproduces the file's own).
    let cols = "EventOriginalUid, CAST(TimeGenerated AS BIGINT), SrcIpAddr, SrcPortNumber, DstIpAddr, DstPortNumber, NetworkProtocol, NetworkApplicationProtocol, SrcBytes, DstBytes, EventResult, ZeekConnState, UrlHostname";
    let q = |data: &str| {
        let o = run(&[
            "sql",
            &format!("SELECT {cols} FROM NetworkSessions ORDER BY 1, 2"),
            "--data",
            data,
            "--format",
            "csv",
            "-q",
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout
    };
    assert_eq!(q(lake.to_str().unwrap()), q(sessions.to_str().unwrap()));

    // The reference answers of the seed queries (see ../shared/data/real/README.md).
    let top = real.join("top-10k.csv.zip");
    let o = run(&[
        "run",
        "uncommon_domains",
        "--data",
        lake.to_str().unwrap(),
        "--domains",
        top.to_str().unwrap(),
        "--format",
        "csv",
        "-q",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows = csv_rows(&o.stdout);
    assert_eq!(rows.len() - 1, 328, "rows after the header");
    assert_eq!(rows[1][0], "nbc");
    assert_eq!(rows[1][1], "385138");
    let o = run(&[
        "run",
        "non_standard_ports",
        "--data",
        lake.to_str().unwrap(),
        "--format",
        "csv",
        "-q",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "only the header: {}", o.stdout);
}
