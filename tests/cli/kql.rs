//! Issue 17: KQL run verbatim. The seed's two KQL texts (queries/*_kql.kql, pasted from
//! ../shared/seeds) give the rows of the two SQL files on the bundled sample, on the real
//! capture and on 1M generated rows; `nethunt kql` with its errors, parameters, --explain and
//! --to-sql.

use super::*;

/// A CSV result as rows of column → value, and the column names.
fn table(text: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

fn run_ok(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
    o.stdout
}

/// Both seeds in KQL and in SQL over one lake: the same rows. non_standard_ports has no sort in
/// KQL, so rows compare as sets; uncommon_domains sorts by TotalBytes only, so the rows compare
/// as sets and the KQL order must not increase; KQL's join also returns the right key
/// (SndLevelDomain1), equal to SndLevelDomain on every row.
fn seeds_agree(extra: &[&str]) -> (usize, usize) {
    let with = |q: &str| {
        let mut a = vec!["run", q, "--format", "csv", "-q"];
        a.extend(extra);
        run_ok(&a)
    };
    let (kh, mut k) = table(&with("non_standard_ports_kql"));
    let (sh, mut s) = table(&with("non_standard_ports"));
    assert_eq!(kh, sh);
    k.sort();
    s.sort();
    assert_eq!(k, s, "non_standard_ports {extra:?}");
    let ports = k.len();

    let (kh, k) = table(&with("uncommon_domains_kql"));
    let (sh, s) = table(&with("uncommon_domains"));
    assert_eq!(
        kh,
        [
            "SndLevelDomain",
            "TotalBytes",
            "SndLevelDomain1",
            "UrlHostname",
            "BytesSent"
        ]
    );
    assert_eq!(
        sh,
        ["SndLevelDomain", "TotalBytes", "UrlHostname", "BytesSent"]
    );
    let totals: Vec<i64> = k.iter().map(|r| r["TotalBytes"].parse().unwrap()).collect();
    assert!(
        totals.windows(2).all(|w| w[0] >= w[1]),
        "sort by TotalBytes desc"
    );
    let mut k: Vec<BTreeMap<String, String>> = k
        .into_iter()
        .map(|mut r| {
            let right_key = r.remove("SndLevelDomain1").unwrap();
            assert_eq!(right_key, r["SndLevelDomain"]);
            r
        })
        .collect();
    let mut s = s;
    k.sort();
    s.sort();
    assert_eq!(k, s, "uncommon_domains {extra:?}");
    (ports, k.len())
}

#[test]
fn seed_kql_gives_the_sql_files_rows() {
    // the bundled sample (both fire there)
    let (p, d) = seeds_agree(&[]);
    assert!(p > 0 && d > 0, "{p} {d}");
    // the real capture and the real top-10k list
    let real = Path::new(ROOT).join("../shared/data/real");
    let lake = real.join("rita_proxy_rolling.parquet");
    let list = real.join("top-10k.csv.zip");
    assert!(
        lake.exists() && list.exists(),
        "{} is missing",
        real.display()
    );
    let (_, d) = seeds_agree(&[
        "--data",
        lake.to_str().unwrap(),
        "--domains",
        list.to_str().unwrap(),
    ]);
    assert_eq!(d, 328);
    // 1M generated rows
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let top = dir.path().join("top.csv");
    run_ok(&[
        "generate",
        "--rows",
        "1000000",
        "--out",
        lake.to_str().unwrap(),
        "--domains-out",
        top.to_str().unwrap(),
    ]);
    let (p, d) = seeds_agree(&[
        "--data",
        lake.to_str().unwrap(),
        "--domains",
        top.to_str().unwrap(),
    ]);
    assert!(p > 0 && d > 1000, "{p} {d}");
}

#[test]
fn kql_command() {
    // ad-hoc KQL against SQL's answer
    let k = run_ok(&[
        "kql",
        "NetworkSessions | where DstPortNumber == 3389 and EventResult == 'Failure' | count",
        "--format",
        "csv",
        "-q",
    ]);
    let s = run_ok(&[
        "sql",
        "SELECT count(*) AS \"Count\" FROM \"NetworkSessions\" WHERE \"DstPortNumber\" = 3389 AND \"EventResult\" = 'Failure'",
        "--format",
        "csv",
        "-q",
    ]);
    assert_eq!(k, s);
    // a parameter is a name in the KQL
    let k = run_ok(&[
        "kql",
        "NetworkSessions | where DstPortNumber > lowest | summarize n = dcount(DstPortNumber)",
        "-p",
        "lowest=60000",
        "--format",
        "csv",
        "-q",
    ]);
    let s = run_ok(&[
        "sql",
        "SELECT count(DISTINCT \"DstPortNumber\") AS n FROM \"NetworkSessions\" WHERE \"DstPortNumber\" > 60000",
        "--format",
        "csv",
        "-q",
    ]);
    assert_eq!(k, s);
    // from a file, and from stdin
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("q.kql");
    std::fs::write(
        &f,
        "// a comment\nNetworkSessions\n| take 3\n| project SrcIpAddr",
    )
    .unwrap();
    assert_eq!(
        run_ok(&["kql", "-f", f.to_str().unwrap(), "--format", "csv", "-q"])
            .lines()
            .count(),
        4
    );
    // --explain and --to-sql show what runs, and run nothing
    let e = run_ok(&[
        "kql",
        "--explain",
        "NetworkSessions | where EventResult == 'Failure' | count",
    ]);
    assert!(
        e.contains("TableScan: NetworkSessions") && e.contains("Aggregate"),
        "{e}"
    );
    let q = run_ok(&[
        "kql",
        "--to-sql",
        "NetworkSessions | where EventResult == 'Failure' | count",
    ]);
    assert!(
        q.starts_with("SELECT count(1) AS \"Count\" FROM \"NetworkSessions\" WHERE"),
        "{q}"
    );
    // render is ignored with a note
    let o = run(&["kql", "NetworkSessions | count | render table"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("render is ignored"), "{}", o.stderr);
}

#[test]
fn kql_errors_are_one_line_with_the_place() {
    for (text, needles) in [
        (
            "NetworkSessions\n| where DstPortNumber ==",
            &["KQL: 2:25: syntax error: expected an expression, found the end of the query"][..],
        ),
        (
            "NetworkSessions | evaluate bag_unpack(x)",
            &["1:19", "'evaluate' is not supported yet"],
        ),
        (
            "NetworkSessions | where Nope == 1",
            &["1:25", "unknown column or name 'Nope'"],
        ),
        (
            "NetworkSessions | summarize tdigest(SrcBytes)",
            &["tdigest", "not supported yet"],
        ),
        (
            "NetworkSessions | frob",
            &["1:19", "unknown tabular operator 'frob'"],
        ),
        (
            "Nowhere | count",
            &["1:1", "unknown table or name 'Nowhere'"],
        ),
        (
            "NetworkSessions | where x == \"open",
            &["1:30", "string is not closed"],
        ),
        (
            "externaldata (a:string) [@\"https://example.com/x.csv\"] | count",
            &[
                "1:1",
                "externaldata from https://example.com/x.csv",
                "not supported yet",
            ],
        ),
    ] {
        let o = run(&["kql", "-q", text]);
        assert_error(&o, needles);
    }
    // deep nesting is an error, not a stack overflow
    let deep = format!("print {}1{}", "(".repeat(5000), ")".repeat(5000));
    assert_error(&run(&["kql", &deep]), &["nests deeper"]);
}

/// The ASIM parser's filter parameters, as the native parser (vimNetworkSessionNative) applies
/// them, on three sessions written by hand (expected rows worked out from them):
///   10.0.0.1  -> 203.0.113.9   ws1.corp -> cdn.example.com   443 Success 00:00
///   10.0.0.2  -> 198.51.100.7  db.corp  -> mail.example.org   25 Failure 01:00
///   192.0.2.5 -> 10.0.0.1      scanner  -> ws1.corp           22 Failure 02:00
#[test]
fn asim_parser_parameters_filter_as_the_parser_does() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir(&lake).unwrap();
    run_ok(&[
        "sql",
        &format!(
            "COPY (SELECT * FROM (VALUES \
             (TIMESTAMP '2024-01-01 00:00:00', '10.0.0.1', '203.0.113.9', 'ws1.corp', 'cdn.example.com', 443, 'Success'), \
             (TIMESTAMP '2024-01-01 01:00:00', '10.0.0.2', '198.51.100.7', 'db.corp', 'mail.example.org', 25, 'Failure'), \
             (TIMESTAMP '2024-01-01 02:00:00', '192.0.2.5', '10.0.0.1', 'scanner', 'ws1.corp', 22, 'Failure')) \
             AS t(\"TimeGenerated\", \"SrcIpAddr\", \"DstIpAddr\", \"SrcHostname\", \"DstHostname\", \"DstPortNumber\", \"EventResult\")) \
             TO '{}'",
            lake.join("part.parquet").display()
        ),
        "-q",
    ]);
    let parser = |params: &str| {
        let out = run_ok(&[
            "kql",
            &format!(
                "_Im_NetworkSession({params}) | project SrcIpAddr, ASimMatchingIpAddr, ASimMatchingHostname | sort by SrcIpAddr asc"
            ),
            "--data",
            lake.to_str().unwrap(),
            "--format",
            "csv",
            "-q",
        ]);
        out.lines().skip(1).map(String::from).collect::<Vec<_>>()
    };
    let all = ["10.0.0.1,-,", "10.0.0.2,-,", "192.0.2.5,-,"];
    assert_eq!(parser(""), all);
    // address prefixes: whole octets or a whole address; which side matched is said
    assert_eq!(
        parser("srcipaddr_has_any_prefix=dynamic(['10.'])"),
        ["10.0.0.1,SrcIpAddr,", "10.0.0.2,SrcIpAddr,"]
    );
    assert_eq!(
        parser("dstipaddr_has_any_prefix=dynamic(['10.0.0.1'])"),
        ["192.0.2.5,DstIpAddr,"]
    );
    assert_eq!(
        parser("ipaddr_has_any_prefix=dynamic(['10.0.'])"),
        [
            "10.0.0.1,SrcIpAddr,",
            "10.0.0.2,SrcIpAddr,",
            "192.0.2.5,DstIpAddr,"
        ]
    );
    assert_eq!(
        parser(
            "srcipaddr_has_any_prefix=dynamic(['10.0.0.1']), dstipaddr_has_any_prefix=dynamic(['203.0.113.'])"
        ),
        ["10.0.0.1,Both,"]
    );
    // '10.0' is no prefix (no final dot): nothing matches, as Kusto's has_any_ipv4_prefix says
    assert!(parser("ipaddr_has_any_prefix=dynamic(['10.0'])").is_empty());
    // hostnames: whole terms of the source's, else the destination's
    assert_eq!(
        parser("hostname_has_any=dynamic(['example'])"),
        ["10.0.0.1,-,DstHostname", "10.0.0.2,-,DstHostname"]
    );
    assert_eq!(
        parser("hostname_has_any=dynamic(['ws1'])"),
        ["10.0.0.1,-,SrcHostname", "192.0.2.5,-,DstHostname"]
    );
    // defaults filter nothing: '*', a NULL time or port
    assert_eq!(parser("eventresult='*'"), all);
    assert_eq!(
        parser("eventresult='Failure'"),
        ["10.0.0.2,-,", "192.0.2.5,-,"]
    );
    assert_eq!(
        parser("starttime=datetime(null), endtime=datetime(2024-01-01 01:00)"),
        ["10.0.0.1,-,", "10.0.0.2,-,"]
    );
    assert_eq!(parser("dstportnumber=int(null)"), all);
    assert_eq!(parser("dstportnumber=22"), ["192.0.2.5,-,"]);
    assert!(parser("disabled=true").is_empty());

    // the schema the parser promises: columns the lake lacks are empty, the aliases computed
    // as the native parser computes them (Src: FQDN, else hostname, else address; Hostname: the
    // destination's unless an inbound endpoint session; Dvc: vendor/product when nothing else)
    let out = run_ok(&[
        "kql",
        "_Im_NetworkSession | sort by SrcIpAddr asc | take 1 | project Src, Dst, Hostname, IpAddr, Dvc, Type, EventSchema, SrcGeoCountry",
        "--data",
        lake.to_str().unwrap(),
        "--format",
        "csv",
        "-q",
    ]);
    assert_eq!(
        out.lines().nth(1),
        Some("ws1.corp,cdn.example.com,cdn.example.com,10.0.0.1,/,NetworkSessions,NetworkSession,")
    );
}

/// What Sentinel's published queries lean on beyond the core language: a frozen clock for
/// replaying ago() over an archive, watchlists, and union isfuzzy over tables a lake lacks.
#[test]
fn sentinel_constructs() {
    // --now fixes now() and ago(), in KQL and in SQL
    assert_eq!(
        run_ok(&[
            "kql",
            "print a = now(), b = ago(1h), c = bin(now(-10m), 20m)",
            "--now",
            "2024-07-30T08:05:00Z",
            "--format",
            "csv",
            "-q",
        ]),
        "a,b,c\n2024-07-30T08:05:00Z,2024-07-30T07:05:00Z,2024-07-30T07:40:00Z\n"
    );
    assert_eq!(
        run_ok(&[
            "sql",
            "SELECT now() - INTERVAL '1 day' AS d",
            "--now",
            "2024-07-30",
            "--format",
            "csv",
            "-q",
        ]),
        "d\n2024-07-29T00:00:00\n"
    );
    assert_error(
        &run(&["kql", "print now()", "--now", "yesterday"]),
        &["--now yesterday"],
    );
    // _GetWatchlist('name') reads the table given as --table name=FILE
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.csv");
    std::fs::write(&w, "SearchKey,Ports\na,\"22,3389\"\nb,80\n").unwrap();
    let table = format!("Monitor={}", w.display());
    assert_eq!(
        run_ok(&[
            "kql",
            "_GetWatchlist('Monitor') | where Ports has '3389' | project SearchKey",
            "--table",
            &table,
            "--format",
            "csv",
            "-q",
        ]),
        "SearchKey\na\n"
    );
    assert_error(
        &run(&["kql", "_GetWatchlist('Monitor')"]),
        &[
            "1:15",
            "watchlist 'Monitor' is not loaded",
            "--table Monitor=FILE",
        ],
    );
    // union isfuzzy=true leaves out what cannot be planned, and says so
    let o = run(&[
        "kql",
        "union isfuzzy=true NoSuchTable, (print x = 1)",
        "--format",
        "csv",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "x\n1\n");
    assert!(
        o.stderr.contains("an operand is left out") && o.stderr.contains("NoSuchTable"),
        "{}",
        o.stderr
    );
}
