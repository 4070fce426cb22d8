//! Every parser of outside input, fed arbitrary bytes and structure-aware mutations of real
//! fixtures: Zeek TSV and JSON lines, the query header (TOML in comments), `--param` values of
//! every declared type, `--from/--to`, sizes and durations, domain lists (CSV and zip), AWS
//! profile files, URLs (cluster targets, store URLs, redaction, HOST:PORT, globs), and the text
//! logs of the source parsers (VPC Flow Logs text, Suricata EVE, Zeek JSON) through every
//! parser's raw tables, and KQL text through the lexer, the parser and the planner. None may panic: a parser answers with a value or an error, whatever it
//! is given.
//!
//! `NETHUNT_FUZZ_CASES` sets the cases per property (default 2,000 here);
//! `bench/fuzz.sh` runs 1,000,000 per property and reports the counts.

use std::path::Path;

use nethunt::library::params::{self, ParamType};
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::ROOT;

fn config() -> Config {
    let cases = std::env::var("NETHUNT_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2_000);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the byte at (position mod length).
    Set(usize, u8),
    /// Insert a token (index mod the token list) at a position.
    Insert(usize, usize),
    /// Remove a run of bytes.
    Remove(usize, usize),
    /// Copy a run of bytes to another place.
    Repeat(usize, usize, usize),
    /// Keep only the first (position mod length) bytes.
    Cut(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Set(p, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(p, t)| Edit::Insert(p, t)),
        (any::<usize>(), 0usize..64).prop_map(|(p, n)| Edit::Remove(p, n)),
        (any::<usize>(), 0usize..256, any::<usize>()).prop_map(|(a, n, b)| Edit::Repeat(a, n, b)),
        any::<usize>().prop_map(Edit::Cut),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit], tokens: &[&str]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len().max(1);
        match *e {
            Edit::Set(p, b) if !bytes.is_empty() => bytes[p % len] = b,
            Edit::Set(..) => bytes.push(0),
            Edit::Insert(p, t) if !tokens.is_empty() => {
                let at = p % (bytes.len() + 1);
                let tok = tokens[t % tokens.len()].as_bytes();
                bytes.splice(at..at, tok.iter().copied());
            }
            Edit::Insert(..) => {}
            Edit::Remove(p, n) => {
                let at = p % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Edit::Repeat(a, n, b) => {
                let at = a % len;
                let end = (at + n).min(bytes.len());
                let run: Vec<u8> = bytes.get(at..end).unwrap_or_default().to_vec();
                let to = b % (bytes.len() + 1);
                bytes.splice(to..to, run);
            }
            Edit::Cut(p) => bytes.truncate(p % (bytes.len() + 1)),
        }
    }
    bytes
}

/// Arbitrary bytes half of the time, else a seed (one of `seeds`) under up to 8 edits.
fn input(seeds: Vec<Vec<u8>>, tokens: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        (0..n, prop::collection::vec(edit(), 0..8)).prop_map(move |(i, edits)| apply(
            seeds[i].clone(),
            &edits,
            tokens
        )),
    ]
    .boxed()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn real(rel: &str) -> Vec<u8> {
    let p = Path::new(ROOT).join("../shared/data/real").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (the fuzz seeds need it)", p.display()))
}

/// The first `n` lines of `bytes`.
fn head(bytes: &[u8], n: usize) -> Vec<u8> {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .take(n)
        .flatten()
        .copied()
        .collect()
}

const ZEEK_TOKENS: &[&str] = &[
    "\t",
    "\n",
    "\\x",
    "\\xé",
    "\\x0",
    "\\\\",
    "-",
    "(empty)",
    "#fields\t",
    "#separator \\x09\n",
    "#separator \n",
    "#unset_field\t",
    "{",
    "}",
    "\"ts\":",
    "\"id.orig_p\":",
    "\"duration\":",
    "99999999999999999999",
    "-1",
    "1e309",
    "NaN",
    "é",
    "\u{feff}",
    "\"",
    ",",
    ":",
    "[]",
    "null",
];

fn zeek_seeds() -> Vec<Vec<u8>> {
    let tsv = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\n1722297600.123456\tCx1\t10.0.0.1\t50000\t93.184.216.34\t443\ttcp\tssl\t0.5\t100\t200\tSF\tT\tF\n1722297601.5\tCx2\tfe80::1\t53\t10.0.0.2\t-\tudp\tdn\\xaés\t-\t(empty)\t-\tS0\t-\tT\n";
    vec![
        tsv.as_bytes().to_vec(),
        head(&real("zeek-json/slips_test9_mixed/conn.log"), 20),
        head(&real("zeek-json/zat_icemaiden_2019/conn.log"), 20),
        head(&real("zeek-json/zat_icemaiden_2019/http.log"), 10),
    ]
}

const HEADER_TOKENS: &[&str] = &[
    "-- ---\n",
    "-- [params.x]\n",
    "-- type = \"interval\"\n",
    "-- type = \"int[]\"\n",
    "-- type = \"timestamp\"\n",
    "-- default = ",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "=",
    "\n",
    "-- [tables.t]\n",
    "-- url = \"https://x/y.zip\"\n",
    "-- columns = [\"a:int\"]\n",
    "-- refresh = \"1d\"\n",
    "-- [settings]\n",
    "-- datafusion.x = 1\n",
    "é",
    "$x",
    "--",
];

fn query_seeds() -> Vec<Vec<u8>> {
    ["non_standard_ports.sql", "uncommon_domains.sql"]
        .iter()
        .map(|f| std::fs::read(Path::new(ROOT).join("queries").join(f)).unwrap())
        .collect()
}

const VALUE_TOKENS: &[&str] = &[
    "2m",
    "90s",
    "1.5h",
    "1d",
    "500ms",
    " minutes",
    "e400",
    "-",
    "+",
    ".",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "2024-07-30",
    "T08:00:00Z",
    " 08:00",
    "+02:00",
    "9999999999999999999",
    "NaN",
    "inf",
    "G",
    "M",
    "K",
    "é",
    "0x",
];

fn value_seeds() -> Vec<Vec<u8>> {
    [
        "5",
        "2.5",
        "true",
        "2m",
        "1 day",
        "2024-07-30T08:00:00Z",
        "2024-07-30 08:00",
        "[443,53,80]",
        "['a','b']",
        "[\"x\", \"y\"]",
        "512M",
        "2G",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

const LIST_TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    ",",
    "\"",
    "1,",
    "GlobalRank,TldRank,Domain,TLD\n",
    "rank,domain\n",
    "é",
    "\u{0}",
    "PK\u{3}\u{4}",
    "PK\u{5}\u{6}",
    "99999999999999999999,",
    "-1,",
    ",,",
];

fn list_seeds() -> Vec<Vec<u8>> {
    let csv = head(
        &std::fs::read(Path::new(ROOT).join("data/top1m-sample.csv")).unwrap(),
        40,
    );
    let mut zipped = std::io::Cursor::new(Vec::new());
    {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(&mut zipped);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("top-1m.csv", opts).unwrap();
        w.write_all(&csv).unwrap();
        w.finish().unwrap();
    }
    vec![csv, zipped.into_inner(), real("top-10k.csv.zip")]
}

const INI_TOKENS: &[&str] = &[
    "[",
    "]",
    "=",
    "\n",
    "#",
    ";",
    "[default]\n",
    "[profile x]\n",
    "aws_access_key_id",
    "aws_secret_access_key = ",
    "region=",
    " ",
    "é",
    "\r",
];

const URL_TOKENS: &[&str] = &[
    "df://",
    "s3://",
    "://",
    "?",
    "#",
    "&",
    "=",
    "[",
    "]",
    ":",
    "::1",
    "@",
    "/",
    "%",
    "%ff",
    "*",
    "**",
    "é",
    " ",
    "65536",
    "0",
    "standalone",
];

/// Heads of the real text logs the source parsers read, plain and gzipped.
fn source_log_seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        head(&real("suricata/slips_test6-malicious.suricata.json"), 6),
        head(&real("zeek-json/slips_test9_mixed/conn.log"), 4),
        real("vpcflow/otel_valid_vpc_flow_log_multi.log"),
        real("vpcflow/otel_valid_vpc_flow_log_ecs.log"),
    ];
    seeds.push(gzip(&seeds[2]));
    seeds
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

const SOURCE_TOKENS: &[&str] = &[
    " ",
    "\n",
    "-",
    "{",
    "}",
    "\"flow\":{",
    "\"timestamp\":\"2021-06-06T15:57:37.2+0200\"",
    "+0200",
    "1e309",
    "99999999999999999999",
    "\u{1f}\u{8b}",
    "\"",
    ":",
    "null",
    "[]",
    "é",
    "NODATA",
    "log-status",
];

fn url_seeds() -> Vec<Vec<u8>> {
    [
        "df://127.0.0.1:50050",
        "df://[::1]:7/",
        "standalone",
        "s3://bucket/lake/date=*/*.parquet?X-Amz-Signature=abc",
        "https://a.blob.core.windows.net/c?sv=1&sig=x",
        "127.0.0.1:50051",
        "lake/**/*.parquet",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

const KQL_TOKENS: &[&str] = &[
    "|",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ";",
    ",",
    "..",
    "==",
    "!=",
    "=~",
    "!~",
    "!",
    "~",
    "$left.",
    "$right.",
    "'",
    "\"",
    "@\"",
    "//",
    "let ",
    "where ",
    "project-away ",
    "summarize ",
    " by ",
    "join kind=innerunique ",
    " on ",
    "extend ",
    "mv-expand ",
    "datatable(a:string)[",
    "print ",
    "range x from 1 to 3 step 1",
    "dynamic([",
    "datetime(",
    "2m",
    "1.5h",
    "bin(",
    "has_any",
    "!in",
    "in~",
    "between (",
    "toscalar(",
    "materialize(",
    "externaldata ",
    "count()",
    "*",
    "sort by ",
    " desc",
    " nulls first",
    "é",
    "0x",
    "9999999999999999999999",
];

/// The seed's KQL files and the KQL of the docs cases (their first 120).
fn kql_seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = ["non_standard_ports_kql.kql", "uncommon_domains_kql.kql"]
        .iter()
        .map(|f| std::fs::read(Path::new(ROOT).join("queries").join(f)).unwrap())
        .collect();
    let cases = Path::new(ROOT).join("../shared/kql/docs-cases.json");
    let doc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&cases).unwrap_or_else(|e| panic!("{}: {e}", cases.display())),
    )
    .unwrap();
    for c in doc["cases"].as_array().unwrap().iter().take(120) {
        out.push(c["kql"].as_str().unwrap().as_bytes().to_vec());
    }
    // what the Sentinel texts lean on: the parser's parameters, join ... where, dynamic
    // members, mv-expand options, windows inside windows, timespan arithmetic
    for extra in [
        "_Im_NetworkSession(starttime=ago(1h), srcipaddr_has_any_prefix=dynamic(['10.']), eventresult='*') | where ipv4_is_private(SrcIpAddr) == False | summarize n = count() by Dvc",
        "let m = datatable(Ports:string, T:long)['22,3389', 5]; NetworkSessions | summarize s = count() by DstPortNumber | join kind=inner (m) where Ports has tostring(DstPortNumber) and s > T",
        "print d = dynamic({'a': [1, 'x', {'b': true}]}) | extend x = d.a[-1].b, y = d['a'][0] + 1 | mv-expand with_itemindex=i e = d.a limit 2",
        "NetworkSessions | sort by SrcIpAddr asc, TimeGenerated asc | extend r = row_number(1, prev(SrcIpAddr) != SrcIpAddr), m = (TimeGenerated - prev(TimeGenerated)) / 1m, h = 1h * 2",
    ] {
        out.push(extra.as_bytes().to_vec());
    }
    out
}

/// A session with a small NetworkSessions and nethunt's functions, for planning fuzzed KQL.
fn kql_session() -> datafusion::prelude::SessionContext {
    let ctx = datafusion::prelude::SessionContext::new();
    nethunt_udfs::register_all(&ctx);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(ctx.sql(
        "CREATE VIEW \"NetworkSessions\" AS SELECT CAST('2024-07-30T00:00:00Z' AS TIMESTAMP) AS \"TimeGenerated\", \
         '10.0.0.1' AS \"SrcIpAddr\", '8.8.8.8' AS \"DstIpAddr\", 53 AS \"DstPortNumber\", \
         'Success' AS \"EventResult\", 'a.example.com' AS \"UrlHostname\", 100 AS \"SrcBytes\"",
    ))
    .unwrap();
    ctx
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn kql(bytes in input(kql_seeds(), KQL_TOKENS)) {
        let text = text(&bytes);
        let _ = nethunt_kql::lexer::lex(&text);
        if let Ok(script) = nethunt_kql::parse(&text) {
            // what parses is planned too (and planning never panics either)
            let ctx = kql_session();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let _ = rt.block_on(nethunt_kql::plan(&script, &ctx.state(), &Default::default()));
        }
    }

    #[test]
    fn zeek_logs(bytes in input(zeek_seeds(), ZEEK_TOKENS)) {
        // Through the zeek parser's raw conn table, as `import zeek` and `--data` read it.
        let zeek = nethunt::library::sources::parser("zeek").unwrap();
        let conn = zeek.raw.iter().find(|t| t.name == "conn").unwrap();
        let _ = nethunt::lake::raw::decode_text(&bytes, "conn.log", "zeek", conn);
    }

    #[test]
    fn source_logs(bytes in input(source_log_seeds(), SOURCE_TOKENS)) {
        let _ = nethunt::import::records::first_keys(&bytes);
        for p in nethunt::library::sources::parsers().unwrap() {
            for t in &p.raw {
                let _ = nethunt::lake::raw::decode_text(&bytes, "f.log", &p.name, t);
            }
        }
    }

    #[test]
    fn query_headers(bytes in input(query_seeds(), HEADER_TOKENS)) {
        if let Ok(q) = nethunt::library::Query::parse(&text(&bytes), Path::new("f.sql"), "f") {
            let _ = q.bind(&[]);
            let _ = q.describe();
        }
    }

    #[test]
    fn param_values(bytes in input(value_seeds(), VALUE_TOKENS)) {
        let t = text(&bytes);
        for (_, ty) in ParamType::ALL {
            if let Ok(v) = params::parse_value(ty, &t) {
                let _ = params::display_value(&v);
            }
        }
        let _ = params::infer_value(&t);
        let _ = params::split_assignment(&t);
    }

    #[test]
    fn times_sizes_durations(bytes in input(value_seeds(), VALUE_TOKENS)) {
        let t = text(&bytes);
        let _ = params::parse_timestamp(&t);
        let _ = params::parse_size(&t);
        let _ = params::parse_interval(&t);
    }

    #[test]
    fn domain_lists(bytes in input(list_seeds(), LIST_TOKENS)) {
        let table = nethunt::reference::ExternalTable::top1m("fuzz");
        let limits = nethunt::reference::Limits {
            max_unzipped: 4 << 20,
            ..Default::default()
        };
        let _ = nethunt::reference::decode::decode(bytes, &table, &limits);
    }

    #[test]
    fn aws_profile_files(bytes in input(vec![
        b"[default]\naws_access_key_id = A\naws_secret_access_key=B\n[profile x]\nregion = eu-west-1\n".to_vec(),
    ], INI_TOKENS)) {
        let _ = nethunt::lake::store::parse_ini(&text(&bytes));
    }

    #[test]
    fn urls_and_addresses(bytes in input(url_seeds(), URL_TOKENS)) {
        let t = text(&bytes);
        let _ = nethunt::cluster::ClusterTarget::parse(&t);
        let _ = nethunt::lake::store::is_url(&t);
        let _ = nethunt::error::redact(&t);
        let _ = nethunt::cli::config::host_port("bind", &t);
        let _ = nethunt::lake::listing::glob_match(&t, "top-1m.csv");
        let _ = nethunt::lake::listing::glob_match("*.csv", &t);
    }
}
