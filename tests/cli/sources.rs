//! Issue 15: source parsers. The real fixtures of `../shared/data/real/` (Zeek JSON, VPC Flow Logs
//! text and Parquet, Security Lake OCSF, Suricata EVE) read in place; the expected figures are the
//! ones their READMEs state (counted upstream, not by nethunt), and the renderings of one real
//! capture in `derived/` must give the answers of its ASIM Parquet file. Then detection, unions,
//! windows, and every bad input the issue names.

use std::io::Write;

use super::*;

/// A fixture path; a missing fixture fails the test (never a silent skip).
fn real(rel: &str) -> String {
    let p = Path::new(ROOT).join("../shared/data/real").join(rel);
    assert!(
        p.exists(),
        "{} is missing: these tests need ../shared/data/real",
        p.display()
    );
    p.to_str().unwrap().to_string()
}

/// `(key, count)` rows of `SELECT key, count(*) ... GROUP BY 1 ORDER BY 1` over `data`.
fn counts(data: &[&str], key: &str) -> Vec<(String, String)> {
    let mut args = vec![
        "sql".to_string(),
        format!(
            "SELECT CAST({key} AS VARCHAR) AS k, count(*) AS n FROM NetworkSessions GROUP BY 1 ORDER BY 1"
        ),
        "--format".into(),
        "csv".into(),
        "-q".into(),
    ];
    for d in data {
        args.push("--data".into());
        args.push(d.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    csv_rows(&o.stdout)[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

fn pairs(p: &[(&str, usize)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, n)| (k.to_string(), n.to_string()))
        .collect()
}

#[test]
fn sources_lists_and_shows_the_parsers() {
    let o = run(&["sources"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for name in ["zeek", "vpcflow", "ocsf", "suricata", "asim"] {
        assert!(
            o.stdout.lines().any(|l| l == name),
            "{name} missing: {}",
            o.stdout
        );
    }
    let o = run(&["show-source", "vpcflow"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.starts_with("-- ---\n-- name = \"vpcflow\""));
    assert!(o.stdout.contains("FROM flows f"));
    assert_error(
        &run(&["show-source", "nope"]),
        &["unknown source 'nope'", "zeek"],
    );
}

/// Zeek JSON: the Slips capture's README counts 576 connections, tcp 319 / udp 251 / icmp 6,
/// and conn_state SF 287, RSTO 157, S1 85, S0 35, OTH 6, SHR 4, S3 2, so 378 Success
/// (SF+S1+OTH) and 198 Failure; 16 IPv6 rows. The vertical scan: 50 rows, REJ 43 + RSTO 3
/// failures, SF 4.
#[test]
fn zeek_json_fixtures() {
    let mixed = real("zeek-json/slips_test9_mixed");
    assert_eq!(
        counts(&[&mixed], "NetworkProtocol"),
        pairs(&[("ICMP", 6), ("TCP", 319), ("UDP", 251)])
    );
    assert_eq!(
        counts(&[&mixed], "EventResult"),
        pairs(&[("Failure", 198), ("Success", 378)])
    );
    assert_eq!(
        counts(&[&mixed], "NetworkProtocolVersion"),
        pairs(&[("IPv4", 560), ("IPv6", 16)])
    );
    let scan = real("zeek-json/slips_portscan_vertical");
    assert_eq!(
        counts(&[&scan], "EventResultDetails"),
        pairs(&[("REJ", 43), ("RSTO", 3), ("SF", 4)])
    );
    // 50 ports in 5 s from one source, 46 of them failed: the seed's port-scan hunt fires.
    let rows = csv_rows(
        &run(&[
            "run",
            "non_standard_ports",
            "--data",
            &scan,
            "--format",
            "csv",
            "-q",
        ])
        .stdout,
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][0], "192.168.1.9");
    // The zat capture: hostnames from its http/ssl logs (the files were cut at 50 lines, so
    // only some conn rows have one).
    let zat = real("zeek-json/zat_icemaiden_2019");
    let rows = sql_rows(
        &zat,
        "SELECT count(*), count(UrlHostname), min(TimeGenerated) FROM NetworkSessions",
    );
    assert_eq!(rows[1][0], "50");
    assert_eq!(rows[1][2], "2019-12-03T22:44:56.035613Z");
}

/// VPC Flow Logs: the fixture README's records. Text: AWS's two user-guide records (SSH
/// ACCEPT, RDP REJECT), a NODATA record (dropped) and a custom 24-field ECS format (bound by
/// header name); Parquet: input0 REJECT ingress, input1 ACCEPT egress, input3 NODATA (doubles).
#[test]
fn vpc_flow_fixtures() {
    let rows = sql_rows(
        &real("vpcflow"),
        "SELECT SrcIpAddr, SrcPortNumber, DstIpAddr, DstPortNumber, NetworkProtocol, EventResult, DvcAction, NetworkDirection, SrcBytes, CAST(TimeGenerated AS VARCHAR) AS t, NetworkDuration FROM NetworkSessions ORDER BY TimeGenerated, DstPortNumber, NetworkDirection",
    );
    let want = [
        "172.31.16.139,20641,172.31.16.21,22,TCP,Success,Allow,,4249,2014-12-14T04:06:50Z,60000",
        "172.31.9.69,49761,172.31.9.12,3389,TCP,Failure,Deny,,4249,2014-12-14T04:06:50Z,60000",
        "1.2.3.4,56858,172.31.2.52,39938,TCP,Failure,Deny,Inbound,40,2022-04-12T00:02:12Z,56000",
        "1.2.3.4,56858,172.31.2.52,39938,TCP,Success,Allow,Outbound,50,2022-04-12T00:02:12Z,56000",
        "10.0.1.100,49152,10.0.2.200,22,TCP,Success,Allow,,3500,2023-11-14T22:13:20Z,60000",
    ];
    let got: Vec<String> = rows[1..].iter().map(|r| r.join(",")).collect();
    assert_eq!(got, want);
}

/// Security Lake: both source versions of the VPC records (REJECT inbound, ACCEPT outbound;
/// NODATA dropped), and the Route 53 files in the same tree skipped (class 4003).
#[test]
fn ocsf_fixtures() {
    let rows = sql_rows(
        &real("ocsf"),
        "SELECT OcsfVersion, EventResult, DvcAction, NetworkDirection, SrcIpAddr, DstPortNumber, NetworkProtocol, NetworkBytes, CAST(TimeGenerated AS VARCHAR), CAST(EventEndTime AS VARCHAR) FROM NetworkSessions ORDER BY 1, 2",
    );
    let want = [
        "1.0.0-rc.2,Failure,Deny,Inbound,1.2.3.4,39938,TCP,40,2022-04-12T00:02:12Z,2022-04-12T00:03:08Z",
        "1.0.0-rc.2,Success,Allow,Outbound,1.2.3.4,39938,TCP,50,2022-04-12T00:02:12Z,2022-04-12T00:03:08Z",
        "1.1.0,Failure,Deny,Inbound,1.2.3.4,39938,TCP,40,2022-04-12T00:02:12Z,2022-04-12T00:03:08Z",
        "1.1.0,Success,Allow,Outbound,1.2.3.4,39938,TCP,50,2022-04-12T00:02:12Z,2022-04-12T00:03:08Z",
    ];
    let got: Vec<String> = rows[1..].iter().map(|r| r.join(",")).collect();
    assert_eq!(got, want);
}

/// Suricata: 3,512 flow events (TCP 2,336, UDP 1,176) of 5,000; hostnames from http events; times
/// from flow.start (the README: every event timestamp is earlier than its flow's start).
#[test]
fn suricata_fixture() {
    let eve = real("suricata");
    assert_eq!(
        counts(&[&eve], "NetworkProtocol"),
        pairs(&[("TCP", 2336), ("UDP", 1176)])
    );
    // Hostnames: each flow's first http hostname (by event time), else its tls SNI, computed
    // here from the JSON itself. (The one TLS event's flow is not in the file, which was cut
    // at 5,000 events: no flow gets an SNI.)
    let text =
        std::fs::read_to_string(format!("{eve}/slips_test6-malicious.suricata.json")).unwrap();
    let mut flows = std::collections::BTreeSet::new();
    let mut host: BTreeMap<String, (String, String)> = BTreeMap::new();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let id = v["flow_id"].to_string();
        let ts = v["timestamp"].as_str().unwrap().to_string();
        match v["event_type"].as_str().unwrap() {
            "flow" => {
                flows.insert(id);
            }
            "http" => {
                if let Some(h) = v["http"]["hostname"].as_str().filter(|h| !h.is_empty()) {
                    let e = host.entry(id).or_insert((ts.clone(), h.to_string()));
                    if ts < e.0 {
                        *e = (ts, h.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    let want: Vec<Vec<String>> = host
        .into_iter()
        .filter(|(id, _)| flows.contains(id))
        .map(|(id, (_, h))| vec![id, h])
        .collect();
    assert!(!want.is_empty());
    let rows = sql_rows(
        &eve,
        "SELECT EventOriginalUid, UrlHostname FROM NetworkSessions WHERE UrlHostname IS NOT NULL ORDER BY 1",
    );
    assert_eq!(rows[1..], want[..]);
    // The first flow of the file, by hand: timestamp 15:57:37.272281+0200, start
    // 16:38:55.855844+0200 → 14:38:55.855844Z; no packet to the client: Failure.
    let rows = sql_rows(
        &eve,
        "SELECT CAST(TimeGenerated AS VARCHAR), EventResult, SrcBytes, NetworkDuration FROM NetworkSessions WHERE EventOriginalUid = '445348883402532'",
    );
    assert_eq!(
        rows[1..],
        [vec![
            "2021-06-06T14:38:55.855844Z",
            "Failure",
            "4056",
            "1107"
        ]]
    );
}

/// The renderings of one real capture (`derived/`) answer the seed queries as its ASIM Parquet
/// file does: non_standard_ports has no row on any of them (the README: 0), uncommon_domains
/// gives the same 328 rows from the Zeek JSON logs (hostnames from http/ssl, ports stripped from
/// CONNECT hosts) and from the OCSF rendering.
#[test]
fn renderings_of_one_capture_agree() {
    let parquet = real("rita_proxy_rolling.parquet");
    let top = real("top-10k.csv.zip");
    let renderings = [
        real("derived/zeek-json"),
        real("derived/vpcflow"),
        real("derived/vpcflow-parquet"),
        real("derived/ocsf"),
    ];
    let hunt = |q: &str, data: &str| {
        let o = run(&[
            "run",
            q,
            "--data",
            data,
            "--domains",
            &top,
            "--format",
            "csv",
            "-q",
        ]);
        assert_eq!(o.code, 0, "{q} on {data}: {}", o.stderr);
        o.stdout
    };
    let want = hunt("non_standard_ports", &parquet);
    assert_eq!(csv_rows(&want).len(), 1, "{want}");
    for r in &renderings {
        assert_eq!(hunt("non_standard_ports", r), want, "{r}");
    }
    let want = hunt("uncommon_domains", &parquet);
    assert_eq!(csv_rows(&want).len(), 329);
    assert!(want.contains("\nnbc,385138,"), "{want}");
    for r in [&renderings[0], &renderings[3]] {
        assert_eq!(hunt("uncommon_domains", r), want, "{r}");
    }
    // VPC text and Parquet deliveries: the same 14,327 records (4 NODATA dropped), row for row.
    let q = "SELECT SrcIpAddr, SrcPortNumber, DstIpAddr, DstPortNumber, NetworkProtocol, EventResult, SrcBytes, CAST(TimeGenerated AS BIGINT) FROM NetworkSessions ORDER BY 8, 1, 2, 3, 4, 6, 7";
    let text = sql_rows(&renderings[1], q);
    assert_eq!(text.len(), 14_328);
    assert_eq!(text, sql_rows(&renderings[2], q));
}

/// Several --data: NetworkSessions is their union, EventProduct tells them apart; a window
/// applies to all; a note per detected source.
#[test]
fn sources_union_and_window() {
    let zeek = real("derived/zeek-json");
    let vpc = real("derived/vpcflow");
    let ocsf = format!("ocsf={}", real("derived/ocsf"));
    assert_eq!(
        counts(&[&zeek, &vpc, &ocsf], "EventProduct"),
        pairs(&[("VPC", 14_327), ("Zeek", 15_100)])
    );
    let o = run(&[
        "sql",
        "SELECT count(*) FROM NetworkSessions",
        "--data",
        &zeek,
        "--data",
        &vpc,
        "--format",
        "csv",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let notes: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.contains("note: --data"))
        .collect();
    assert_eq!(notes.len(), 2, "{}", o.stderr);
    assert!(notes[0].contains("read as zeek") && notes[1].contains("read as vpcflow"));
    // One hour of the VPC text lake (YYYY/MM/DD folders, one file per hour): the records whose
    // start is in it, counted here from the gzip text itself.
    let (from, to) = (1_714_417_200i64, 1_714_420_800i64); // 2024-04-29 19:00 to 20:00 UTC
    let mut want = 0;
    for f in std::fs::read_dir(format!(
        "{vpc}/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/04/29"
    ))
    .unwrap()
    {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
            &mut text,
        )
        .unwrap();
        for l in text.lines().skip(1) {
            let v: Vec<&str> = l.split(' ').collect();
            let start: i64 = v[10].parse().unwrap();
            if v[13] == "OK" && (from..to).contains(&start) {
                want += 1;
            }
        }
    }
    assert!(want > 0);
    let o = run(&[
        "sql",
        "SELECT count(*) FROM NetworkSessions",
        "--data",
        &vpc,
        "--from",
        "2024-04-29T19:00:00Z",
        "--to",
        "2024-04-29T20:00:00Z",
        "--format",
        "csv",
        "-q",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(csv_rows(&o.stdout)[1][0], want.to_string());
    // --stats says what it cannot count.
    let o = run(&[
        "--stats",
        "sql",
        "SELECT count(*) FROM NetworkSessions",
        "--data",
        &vpc,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "the 4 text logs of the lake are read whole when scanned and not counted here"
        ),
        "{}",
        o.stderr
    );
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// Every bad input of the issue: one line naming the file (and line, and column), exit 2,
/// nothing written.
#[test]
fn bad_source_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let folder = |name: &str, files: &[(&str, Vec<u8>)]| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for (f, bytes) in files {
            std::fs::write(d.join(f), bytes).unwrap();
        }
        d.to_str().unwrap().to_string()
    };
    let zeek_line = "{\"ts\":1714417137.3,\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":80,\"proto\":\"tcp\",\"conn_state\":\"SF\"}\n";
    let vpc_text = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n2 1 eni-1 10.0.0.1 10.0.0.2 1 22 6 1 40 1714417137 1714417140 ACCEPT OK\n";
    let q = ["sql", "SELECT * FROM NetworkSessions", "-q", "--data"];
    let with = |data: &str| {
        let mut a = q.to_vec();
        a.push(data);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let fails = |data: &str, needles: &[&str]| {
        let a = with(data);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        assert_fails_cleanly(&a, needles);
    };
    // A file no parser recognises: the columns each parser looks for.
    let unknown = folder("unknown", &[("x.json", b"{\"foo\":1}\n".to_vec())]);
    fails(
        &unknown,
        &[
            "no source parser recognises the file",
            "zeek: uid+id.orig_h+id.resp_h",
            "vpcflow: srcaddr",
        ],
    );
    // Two formats in one folder without SOURCE=.
    let mixed = folder(
        "mixed",
        &[
            ("conn.log", zeek_line.as_bytes().to_vec()),
            ("flows.log", vpc_text.as_bytes().to_vec()),
        ],
    );
    fails(
        &mixed,
        &[
            "mixed formats",
            "conn.log looks like zeek",
            "flows.log like vpcflow",
        ],
    );
    // A corrupt .log.gz: gzip's magic bytes, then garbage.
    let mut bad_gz = gz(zeek_line);
    let n = bad_gz.len();
    bad_gz[10..n - 8].iter_mut().for_each(|b| *b = 0xff);
    let corrupt = folder("corrupt", &[("conn.log.gz", bad_gz)]);
    fails(&format!("zeek={corrupt}"), &["conn.log.gz"]);
    // A JSON line that does not parse: file and line.
    let broken = folder(
        "broken",
        &[(
            "conn.log",
            format!("{zeek_line}{{\"ts\":17144171").into_bytes(),
        )],
    );
    fails(&broken, &["conn.log:2:", "not a JSON object"]);
    // A value of the wrong type: file, line and field.
    let typed = folder(
        "typed",
        &[(
            "conn.log",
            zeek_line
                .replace("\"id.resp_p\":80", "\"id.resp_p\":\"http\"")
                .into_bytes(),
        )],
    );
    fails(
        &typed,
        &[
            "conn.log:1:",
            "field id.resp_p",
            "expected a whole number, got 'http'",
        ],
    );
    // A source lacking a column its parser needs: text (file, line) and Parquet (file).
    let nostart = folder(
        "nostart",
        &[(
            "flows.log",
            b"version srcaddr dstaddr log-status\n2 10.0.0.1 10.0.0.2 OK\n".to_vec(),
        )],
    );
    fails(
        &nostart,
        &[
            "flows.log:2:",
            "field start is missing (the vpcflow parser needs it)",
        ],
    );
    let pq = dir.path().join("vpcpq/flows.parquet");
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("srcaddr", DataType::Utf8, true),
            Field::new("dstaddr", DataType::Utf8, true),
            Field::new("log_status", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(StringArray::from(vec!["10.0.0.1"])),
            Arc::new(StringArray::from(vec!["10.0.0.2"])),
            Arc::new(StringArray::from(vec!["OK"])),
        ],
    )
    .unwrap();
    write_parquet(&pq, &batch);
    fails(
        pq.parent().unwrap().to_str().unwrap(),
        &[
            "flows.parquet",
            "column start is missing (the vpcflow parser needs it)",
        ],
    );
    // A file in the folder of one source that is not of that source.
    let stray = folder(
        "stray",
        &[
            ("a.log", vpc_text.as_bytes().to_vec()),
            ("b.json", b"{\"foo\":1}\n".to_vec()),
        ],
    );
    fails(
        &stray,
        &[
            "b.json",
            "does not look like the rest of the source (vpcflow)",
        ],
    );
    // An unknown SOURCE= is a path (it might be a folder named so), which does not exist.
    fails(
        "nosuchparser=/x",
        &["nosuchparser=/x", "no such file or directory"],
    );
}

/// The same sources on an S3 server (s3s-fs on 127.0.0.1) give the local answers: text logs are
/// fetched through the store, the VPC text layout's window walk works there too.
#[test]
fn sources_on_s3_read_as_locally() {
    let s3 = super::s3::S3::start();
    let ep = s3.endpoint();
    let top = real("top-10k.csv.zip");
    for (dir, prefix) in [
        ("derived/zeek-json", "zeek"),
        ("derived/vpcflow", "vpc"),
        ("derived/ocsf", "sl"),
    ] {
        s3.load(Path::new(&real(dir)), "logs", prefix);
    }
    let window = [
        "--from",
        "2024-04-29T19:00:00Z",
        "--to",
        "2024-04-29T20:00:00Z",
    ];
    for (local, remote, q) in [
        (
            real("derived/zeek-json"),
            "s3://logs/zeek/",
            "uncommon_domains",
        ),
        (real("derived/ocsf"), "s3://logs/sl", "uncommon_domains"),
        (
            real("derived/vpcflow"),
            "s3://logs/vpc/",
            "non_standard_ports",
        ),
    ] {
        let mut args = vec!["run", q, "--domains", &top, "--format", "csv", "-q"];
        args.extend(window);
        let mut l = args.clone();
        l.extend(["--data", &local]);
        let want = run(&l);
        assert_eq!(want.code, 0, "{}", want.stderr);
        let mut r = args.clone();
        r.extend(["--data", remote, "--endpoint", &ep]);
        let got = super::s3::run_s3(&r);
        assert_eq!(got.code, 0, "{}", got.stderr);
        assert_eq!(got.stdout, want.stdout, "{q} over {remote}");
    }
    let o = super::s3::run_s3(&[
        "sql",
        "SELECT EventProduct, count(*) AS n FROM NetworkSessions GROUP BY 1 ORDER BY 1",
        "--data",
        "s3://logs/vpc/",
        "--data",
        "zeek=s3://logs/zeek",
        "--endpoint",
        &ep,
        "--format",
        "csv",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "EventProduct,n\nVPC,14327\nZeek,7550\n");
    assert!(
        o.stderr.contains("--data s3://logs/vpc/: read as vpcflow"),
        "{}",
        o.stderr
    );
}
/// Zeek Parquet with Zeek's own field names: `id.orig_h` as a column in one file, an `id` struct
/// in another (and `ts` as epoch seconds in one, a timestamp in the other): one table.
#[test]
fn zeek_parquet_with_dotted_or_nested_names() {
    use arrow::array::{Float64Array, Int64Array, StructArray, TimestampMicrosecondArray};
    let dir = tempfile::tempdir().unwrap();
    let s = |v: &[&str]| Arc::new(StringArray::from(v.to_vec())) as Arc<dyn Array>;
    let flat = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Float64, true),
            Field::new("uid", DataType::Utf8, true),
            Field::new("id.orig_h", DataType::Utf8, true),
            Field::new("id.orig_p", DataType::Int64, true),
            Field::new("id.resp_h", DataType::Utf8, true),
            Field::new("id.resp_p", DataType::Int64, true),
            Field::new("proto", DataType::Utf8, true),
            Field::new("conn_state", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(Float64Array::from(vec![1714417137.5])),
            s(&["C1"]),
            s(&["10.0.0.1"]),
            Arc::new(Int64Array::from(vec![50000])),
            s(&["8.8.8.8"]),
            Arc::new(Int64Array::from(vec![53])),
            s(&["udp"]),
            s(&["SF"]),
        ],
    )
    .unwrap();
    let id = StructArray::from(vec![
        (
            Arc::new(Field::new("orig_h", DataType::Utf8, true)),
            s(&["10.0.0.2"]),
        ),
        (
            Arc::new(Field::new("orig_p", DataType::Int32, true)),
            Arc::new(Int32Array::from(vec![40000])) as Arc<dyn Array>,
        ),
        (
            Arc::new(Field::new("resp_h", DataType::Utf8, true)),
            s(&["1.1.1.1"]),
        ),
        (
            Arc::new(Field::new("resp_p", DataType::Int32, true)),
            Arc::new(Int32Array::from(vec![8443])) as Arc<dyn Array>,
        ),
    ]);
    let nested = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("uid", DataType::Utf8, true),
            Field::new("id", id.data_type().clone(), true),
            Field::new("proto", DataType::Utf8, true),
            Field::new("conn_state", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(TimestampMicrosecondArray::from(vec![1714417138000000]).with_timezone("UTC")),
            s(&["C2"]),
            Arc::new(id),
            s(&["tcp"]),
            s(&["REJ"]),
        ],
    )
    .unwrap();
    write_parquet(&dir.path().join("conn.a.parquet"), &flat);
    write_parquet(&dir.path().join("conn.b.parquet"), &nested);
    let rows = sql_rows(
        dir.path().to_str().unwrap(),
        "SELECT CAST(TimeGenerated AS VARCHAR) AS t, EventOriginalUid, SrcIpAddr, SrcPortNumber, DstIpAddr, DstPortNumber, NetworkProtocol, EventResult FROM NetworkSessions ORDER BY 1",
    );
    assert_eq!(
        rows[1..],
        [
            vec![
                "2024-04-29T18:58:57.500Z",
                "C1",
                "10.0.0.1",
                "50000",
                "8.8.8.8",
                "53",
                "UDP",
                "Success"
            ],
            vec![
                "2024-04-29T18:58:58Z",
                "C2",
                "10.0.0.2",
                "40000",
                "1.1.1.1",
                "8443",
                "TCP",
                "Failure"
            ],
        ]
    );
}

/// Security Lake tables are Iceberg tables: the `metadata/` folder beside the data (JSON and
/// Avro files) is never read as data.
#[test]
fn iceberg_metadata_beside_security_lake_data_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("VPC_FLOW");
    let data = lake.join("data/region=us-east-1/accountId=123456789012/eventDay=20240429");
    std::fs::create_dir_all(&data).unwrap();
    let src = real(
        "derived/ocsf/region=us-east-1/accountId=123456789012/eventDay=20240429/20240429-zeek-network-activity.zstd.parquet",
    );
    std::fs::copy(&src, data.join("a.zstd.parquet")).unwrap();
    std::fs::create_dir_all(lake.join("metadata")).unwrap();
    std::fs::write(
        lake.join("metadata/v1.metadata.json"),
        "{\"format-version\":2}",
    )
    .unwrap();
    std::fs::write(lake.join("metadata/snap-1.avro"), "Obj\u{1}").unwrap();
    let rows = sql_rows(
        lake.to_str().unwrap(),
        "SELECT count(*) FROM NetworkSessions",
    );
    assert_eq!(rows[1][0], "7550");
}

/// An ASIM lake is its Parquet files: a manifest or notes beside them are neither data nor an
/// error (as before source parsers existed).
#[test]
fn files_beside_an_asim_lake_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    for day in ["date=2024-07-30", "date=2024-07-31"] {
        std::fs::create_dir_all(lake.join(day)).unwrap();
        std::fs::copy(
            sample_lake().join(day).join("part-00000.parquet"),
            lake.join(day).join("part-00000.parquet"),
        )
        .unwrap();
    }
    std::fs::write(lake.join("manifest.json"), "{\"run\":\"x\"}").unwrap();
    std::fs::write(lake.join("notes.log"), "checked by hand\n").unwrap();
    let want = sql_rows(
        sample_lake().to_str().unwrap(),
        "SELECT count(*) FROM NetworkSessions",
    );
    let o = run(&[
        "sql",
        "SELECT count(*) FROM NetworkSessions",
        "--data",
        lake.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(csv_rows(&o.stdout), want);
    assert!(!o.stderr.contains("note:"), "{}", o.stderr);
}

/// On a Ballista cluster (standalone, in this process) sources run through their parsers as
/// they do locally: Parquet sources as they are, text logs staged as Parquet for the executors.
#[cfg(feature = "cluster")]
#[test]
fn sources_run_on_a_cluster_as_locally() {
    let top = real("top-10k.csv.zip");
    for (data, q) in [
        (real("derived/ocsf"), "uncommon_domains"),
        (real("derived/vpcflow-parquet"), "non_standard_ports"),
        (real("derived/zeek-json"), "uncommon_domains"),
        (real("derived/vpcflow"), "non_standard_ports"),
        (
            real("zeek-json/slips_portscan_vertical"),
            "non_standard_ports",
        ),
    ] {
        let args = [
            "run",
            q,
            "--data",
            &data,
            "--domains",
            &top,
            "--format",
            "csv",
            "-q",
        ];
        let local = run(&args);
        assert_eq!(local.code, 0, "{}", local.stderr);
        let mut c = args.to_vec();
        c.extend(["--cluster", "standalone"]);
        let remote = run(&c);
        assert_eq!(remote.code, 0, "{}", remote.stderr);
        assert_eq!(remote.stdout, local.stdout, "{q} on {data}");
    }
    // The port scan fires on the cluster too (the comparison above is not of empty results only).
    let scan = real("zeek-json/slips_portscan_vertical");
    let o = run(&[
        "run",
        "non_standard_ports",
        "--data",
        &scan,
        "--cluster",
        "standalone",
        "--format",
        "csv",
        "-q",
    ]);
    assert!(o.stdout.contains("192.168.1.9"), "{}", o.stdout);
}
