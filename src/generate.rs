//! `nethunt generate`: a deterministic, realistic ASIM NetworkSessions lake.
//!
//! Background traffic: internal clients talking to public services (HTTPS/HTTP/DNS/...), with
//! IPv4 and IPv6, private and public destinations, NULL ports and bytes, hostnames across a
//! long tail of domains, internal `.local/.lan/.home` names and mixed case. Planted on top:
//! - port scans that fire `non_standard_ports` (a failing source hitting many uncommon ports of a
//!   public IPv4 inside one 2-minute bin);
//! - near misses that must not fire: exactly `threshold` ports, private or IPv6 targets, ports in
//!   the excluded 49512-65535 range or the common list, successes, scans split over a bin edge;
//! - exfiltration: large uploads to a few rare domains absent from the popularity list.
//!
//! The random generator is a hand-written SplitMix64 so the same `--seed` gives byte-identical
//! files on every platform and crate version. Uses: `output` (atomic files), `schema`, `error`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};
use crate::output::{AtomicFile, ParquetFile};

/// SplitMix64: tiny, fast, and fixed forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A stateless hash for deriving stable values (IPs, names) from an index.
fn mix(seed: u64, k: u64) -> u64 {
    Rng::new(seed ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub rows: usize,
    pub out: PathBuf,
    pub days: u32,
    pub seed: u64,
    pub start: NaiveDate,
    pub domains_out: Option<PathBuf>,
    pub row_group_rows: usize,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub rows: usize,
    pub files: usize,
}

/// The columns `generate` writes: every nethunt lake's ASIM columns.
pub fn schema() -> SchemaRef {
    crate::schema::written_sessions([])
}

/// One session row.
#[derive(Debug, Clone)]
struct Row {
    t_us: i64,
    result: Option<&'static str>,
    action: Option<&'static str>,
    proto: &'static str,
    direction: &'static str,
    src: Option<String>,
    sport: Option<i32>,
    dst: Option<String>,
    dport: Option<i32>,
    sbytes: Option<i64>,
    dbytes: Option<i64>,
    host: Option<String>,
    duration_ms: i32,
}

/// Well-known domains: the head of the popularity list and of real traffic.
const POPULAR: &[&str] = &[
    "google.com",
    "microsoft.com",
    "windowsupdate.com",
    "apple.com",
    "amazonaws.com",
    "facebook.com",
    "youtube.com",
    "office.com",
    "live.com",
    "azure.com",
    "akamaiedge.net",
    "cloudflare.com",
    "github.com",
    "googleapis.com",
    "gstatic.com",
    "icloud.com",
    "linkedin.com",
    "twitter.com",
    "netflix.com",
    "bing.com",
    "yahoo.com",
    "wikipedia.org",
    "zoom.us",
    "slack.com",
    "dropbox.com",
    "salesforce.com",
    "adobe.com",
    "okta.com",
    "digicert.com",
    "mozilla.org",
    "ubuntu.com",
    "debian.org",
    "docker.io",
    "npmjs.org",
    "pypi.org",
    "crates.io",
    "bbc.co.uk",
    "amazon.co.uk",
    "spotify.com",
    "whatsapp.net",
    "instagram.com",
    "tiktokcdn.com",
    "doubleclick.net",
    "msn.com",
    "skype.com",
    "sharepoint.com",
    "outlook.com",
    "cloudfront.net",
    "fastly.net",
    "jsdelivr.net",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ru", "ta", "vo", "zen", "bit", "cor", "dat", "el", "fin", "gro",
    "hub", "ion", "jet", "kin", "lux", "mod", "nex", "opt", "pix", "qua", "rex", "sol", "tek",
    "uni", "vex", "web", "xor", "yal", "zip", "ar", "bo", "cu", "da", "fe", "gi", "ha",
];
const TLDS: &[&str] = &[
    "com", "net", "org", "io", "co", "de", "fr", "info", "biz", "co.uk", "com.au", "app", "dev",
];

/// The k-th long-tail domain: stable pronounceable name from the seed.
fn tail_domain(seed: u64, k: u64) -> String {
    let h = mix(seed ^ 0x7a11, k);
    let n = 2 + (h % 2) as usize;
    let mut s = String::new();
    for i in 0..n {
        s.push_str(SYLLABLES[((h >> (8 + 8 * i)) % SYLLABLES.len() as u64) as usize]);
    }
    // k keeps names unique even when syllables collide
    format!("{s}{k}.{}", TLDS[((h >> 48) % TLDS.len() as u64) as usize])
}

/// Rare domains the exfiltration goes to (never in the list).
const EXFIL_DOMAINS: &[&str] = &["syncvault-storage.xyz", "dl-cdn-update.top", "paste-bin.cc"];

fn public_ipv4(h: u64) -> String {
    let mut a = 1 + (h % 223) as u8; // 1..=223: no 0/8, no multicast
    let b = (h >> 8) as u8;
    if a == 10 || a == 127 || (a == 172 && (16..32).contains(&b)) || (a == 192 && b == 168) {
        a += 1; // step out of private and loopback space
    }
    format!(
        "{a}.{b}.{}.{}",
        (h >> 16) as u8,
        1 + ((h >> 24) % 254) as u8
    )
}

fn internal_ip(seed: u64, k: u64) -> String {
    let h = mix(seed ^ 0x1a7e, k);
    if h.is_multiple_of(4) {
        format!("192.168.{}.{}", (h >> 8) % 8, 2 + (h >> 16) % 250)
    } else {
        format!(
            "10.{}.{}.{}",
            (h >> 8) % 4,
            (h >> 16) % 256,
            2 + (h >> 24) % 250
        )
    }
}

fn ipv6(h: u64) -> String {
    format!(
        "2001:db8:{:x}:{:x}::{:x}",
        (h >> 16) & 0xffff,
        (h >> 32) & 0xffff,
        h & 0xfff
    )
}

struct World {
    seed: u64,
    clients: u64,
    public_ips: u64,
    tail: u64,
}

impl World {
    fn new(spec: &Spec) -> World {
        let rows = spec.rows as u64;
        World {
            seed: spec.seed,
            clients: (rows / 40).clamp(20, 200_000),
            public_ips: (rows / 8).max(200),
            tail: (rows / 50).max(60),
        }
    }
    /// Long-tail domain k is in the popularity list when k is even.
    fn listed_tail(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.tail)
            .filter(|k| k % 2 == 0)
            .map(|k| tail_domain(self.seed, k))
    }
}

fn background_row(w: &World, rng: &mut Rng, t_us: i64) -> Row {
    let src = internal_ip(w.seed, rng.below(w.clients));
    let roll = rng.unit();
    let (proto, dport): (&'static str, Option<i32>) = if roll < 0.45 {
        ("TCP", Some(443))
    } else if roll < 0.60 {
        ("TCP", Some(80))
    } else if roll < 0.75 {
        ("UDP", Some(53))
    } else if roll < 0.78 {
        ("UDP", Some(123))
    } else if roll < 0.80 {
        ("ICMP", None)
    } else if roll < 0.90 {
        (
            "TCP",
            Some(*rng.pick(&[
                22, 25, 389, 445, 587, 993, 3389, 8080, 8443, 8888, 5223, 1194,
            ])),
        )
    } else if roll < 0.97 {
        ("TCP", Some(49152 + rng.below(16384) as i32))
    } else {
        ("TCP", Some(1024 + rng.below(48000) as i32))
    };
    let dst_roll = rng.unit();
    let dst = if dst_roll < 0.70 {
        Some(public_ipv4(mix(w.seed ^ 0xd57, rng.below(w.public_ips))))
    } else if dst_roll < 0.90 {
        Some(internal_ip(w.seed, rng.below(w.clients)))
    } else if dst_roll < 0.985 {
        Some(ipv6(rng.next_u64()))
    } else if dst_roll < 0.995 {
        Some(String::new())
    } else {
        None
    };
    let result = match rng.unit() {
        x if x < 0.86 => Some("Success"),
        x if x < 0.97 => Some("Failure"),
        x if x < 0.985 => Some("Partial"),
        x if x < 0.995 => Some("NA"),
        _ => None,
    };
    let action = match result {
        Some("Failure") => Some(*rng.pick(&["Deny", "Drop", "Reset"])),
        None => None,
        _ => Some("Allow"),
    };
    let host = if matches!(dport, Some(443 | 80 | 8080 | 8443)) {
        let h = rng.unit();
        let domain = if h < 0.60 {
            rng.pick(POPULAR).to_string()
        } else if h < 0.95 {
            tail_domain(w.seed, rng.below(w.tail))
        } else if h < 0.98 {
            format!(
                "{}.{}",
                rng.pick(&["nas", "printer", "intranet", "wiki", "git"]),
                rng.pick(&["local", "lan", "home", "LAN", "Home"])
            )
        } else {
            return Row {
                host: Some(String::new()),
                ..bare(t_us, src, dst, dport, proto, result, action, rng)
            };
        };
        let prefix = *rng.pick(&["www.", "api.", "cdn.", "", "login.", "static.", "mail."]);
        let mut name = format!("{prefix}{domain}");
        if rng.chance(0.02) {
            name = name.to_uppercase();
        }
        Some(name)
    } else {
        None
    };
    Row {
        host,
        ..bare(t_us, src, dst, dport, proto, result, action, rng)
    }
}

#[allow(clippy::too_many_arguments)]
fn bare(
    t_us: i64,
    src: String,
    dst: Option<String>,
    dport: Option<i32>,
    proto: &'static str,
    result: Option<&'static str>,
    action: Option<&'static str>,
    rng: &mut Rng,
) -> Row {
    let failed = result == Some("Failure");
    let sbytes = if rng.chance(0.03) {
        None
    } else if failed {
        Some(rng.below(200) as i64)
    } else {
        Some((200.0 * (rng.unit() * 9.0).exp()) as i64)
    };
    let direction = if dst
        .as_deref()
        .is_some_and(|d| d.starts_with("10.") || d.starts_with("192.168."))
    {
        "Local"
    } else {
        "Outbound"
    };
    Row {
        t_us,
        result,
        action,
        proto,
        direction,
        src: Some(src),
        sport: Some(49152 + rng.below(16384) as i32),
        dst,
        dport,
        sbytes,
        dbytes: if failed {
            Some(0)
        } else {
            Some((500.0 * (rng.unit() * 10.0).exp()) as i64)
        },
        host: None,
        duration_ms: if failed {
            rng.below(3000) as i32
        } else {
            rng.below(600_000) as i32
        },
    }
}

fn scan_row(t_us: i64, src: &str, dst: &str, port: i32, result: &'static str) -> Row {
    Row {
        t_us,
        result: Some(result),
        action: Some(if result == "Failure" { "Deny" } else { "Allow" }),
        proto: "TCP",
        direction: "Inbound",
        src: Some(src.to_string()),
        sport: Some(40000 + port % 1000),
        dst: Some(dst.to_string()),
        dport: Some(port),
        sbytes: Some(60),
        dbytes: Some(0),
        host: None,
        duration_ms: 0,
    }
}

const SCAN_PORTS: &[i32] = &[
    21, 22, 23, 25, 110, 111, 135, 139, 445, 1433, 1521, 3306, 3389, 5432, 5900, 6379, 9200, 11211,
    27017, 2375, 5985, 49151,
];

/// Planted events for one day, sorted by time.
fn planted_rows(
    w: &World,
    rng: &mut Rng,
    day_start_us: i64,
    day_index: u32,
    rows_today: usize,
) -> Vec<Row> {
    let mut out = Vec::new();
    const BIN: i64 = 120_000_000;
    let day_us = 86_400_000_000i64;
    let scans = (rows_today / 10_000).clamp(7, 200);
    for s in 0..scans {
        // bin-aligned start somewhere in the day, leaving room for the bin
        let bin0 = day_start_us + (rng.below((day_us / BIN - 2) as u64) as i64) * BIN;
        let scanner = public_ipv4(mix(w.seed ^ 0x5ca1, (day_index as u64) << 20 | s as u64));
        let target = public_ipv4(mix(w.seed ^ 0x7a6e, (day_index as u64) << 20 | s as u64));
        match s % 7 {
            // real scans: 6..=22 distinct uncommon ports in one bin, some retries
            0..=2 => {
                let n = 6 + rng.below(17) as usize;
                for (i, p) in SCAN_PORTS.iter().take(n).enumerate() {
                    let t = bin0 + (i as i64) * (BIN / (n as i64 + 2));
                    out.push(scan_row(t, &scanner, &target, *p, "Failure"));
                    if rng.chance(0.3) {
                        out.push(scan_row(t + 1, &scanner, &target, *p, "Failure"));
                    }
                }
                // noise that must not count: common ports, excluded range, NULL port
                for p in [443, 53, 80, 8080, 49512, 65535] {
                    out.push(scan_row(bin0 + 5, &scanner, &target, p, "Failure"));
                }
            }
            // near miss: exactly 5 distinct ports (threshold is "> 5")
            3 => {
                for (i, p) in SCAN_PORTS.iter().take(5).enumerate() {
                    out.push(scan_row(
                        bin0 + i as i64 * 1_000_000,
                        &scanner,
                        &target,
                        *p,
                        "Failure",
                    ));
                }
            }
            // near miss: many ports but against a private target, or all succeeded
            4 => {
                let private = internal_ip(w.seed, s as u64);
                for (i, p) in SCAN_PORTS.iter().take(12).enumerate() {
                    out.push(scan_row(
                        bin0 + i as i64 * 1_000_000,
                        &scanner,
                        &private,
                        *p,
                        "Failure",
                    ));
                    out.push(scan_row(
                        bin0 + i as i64 * 1_000_000 + 7,
                        &scanner,
                        &target,
                        *p,
                        "Success",
                    ));
                }
            }
            // near miss: 10 ports split 5/5 over a bin edge
            5 => {
                for (i, p) in SCAN_PORTS.iter().take(10).enumerate() {
                    let t = if i < 5 {
                        bin0 + BIN - 1 - i as i64
                    } else {
                        bin0 + BIN + i as i64
                    };
                    out.push(scan_row(t, &scanner, &target, *p, "Failure"));
                }
            }
            // a scan of IPv6 targets and of ports in the excluded range: never fires
            _ => {
                let v6 = ipv6(mix(w.seed, s as u64));
                for (i, p) in SCAN_PORTS.iter().take(9).enumerate() {
                    out.push(scan_row(bin0 + i as i64, &scanner, &v6, *p, "Failure"));
                    out.push(scan_row(
                        bin0 + i as i64,
                        &scanner,
                        &target,
                        49512 + i as i32 * 100,
                        "Failure",
                    ));
                }
            }
        }
    }
    // exfiltration: a few internal hosts push large uploads to rare domains
    let uploads = (rows_today / 5_000).clamp(3, 500);
    for u in 0..uploads {
        let t = day_start_us + rng.below(day_us as u64) as i64;
        let domain = EXFIL_DOMAINS[u % EXFIL_DOMAINS.len()];
        let prefix = ["upload.", "api.", "files.", ""][(u / EXFIL_DOMAINS.len()) % 4];
        out.push(Row {
            t_us: t,
            result: Some("Success"),
            action: Some("Allow"),
            proto: "TCP",
            direction: "Outbound",
            src: Some(internal_ip(w.seed, 7 + (u % 3) as u64)),
            sport: Some(50000 + u as i32 % 10000),
            dst: Some(public_ipv4(mix(w.seed ^ 0xe4f1, u as u64 % 3))),
            dport: Some(443),
            sbytes: Some(20_000_000 + rng.below(400_000_000) as i64),
            dbytes: Some(rng.below(100_000) as i64),
            host: Some(format!("{prefix}{domain}")),
            duration_ms: 30_000 + rng.below(600_000) as i32,
        });
    }
    out.sort_by_key(|r| r.t_us);
    out
}

struct Builders {
    t: TimestampMicrosecondBuilder,
    count: Int32Builder,
    etype: StringBuilder,
    result: StringBuilder,
    product: StringBuilder,
    vendor: StringBuilder,
    action: StringBuilder,
    proto: StringBuilder,
    dir: StringBuilder,
    src: StringBuilder,
    sport: Int32Builder,
    dst: StringBuilder,
    dport: Int32Builder,
    sbytes: Int64Builder,
    dbytes: Int64Builder,
    spk: Int64Builder,
    dpk: Int64Builder,
    dur: Int32Builder,
    host: StringBuilder,
    len: usize,
}

impl Builders {
    fn new() -> Builders {
        Builders {
            t: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            count: Int32Builder::new(),
            etype: StringBuilder::new(),
            result: StringBuilder::new(),
            product: StringBuilder::new(),
            vendor: StringBuilder::new(),
            action: StringBuilder::new(),
            proto: StringBuilder::new(),
            dir: StringBuilder::new(),
            src: StringBuilder::new(),
            sport: Int32Builder::new(),
            dst: StringBuilder::new(),
            dport: Int32Builder::new(),
            sbytes: Int64Builder::new(),
            dbytes: Int64Builder::new(),
            spk: Int64Builder::new(),
            dpk: Int64Builder::new(),
            dur: Int32Builder::new(),
            host: StringBuilder::new(),
            len: 0,
        }
    }
    fn push(&mut self, r: &Row) {
        self.t.append_value(r.t_us);
        self.count.append_value(1);
        self.etype.append_value("NetworkSession");
        self.result.append_option(r.result);
        self.product.append_value("Zeek");
        self.vendor.append_value("Corelight");
        self.action.append_option(r.action);
        self.proto.append_value(r.proto);
        self.dir.append_value(r.direction);
        self.src.append_option(r.src.as_deref());
        self.sport.append_option(r.sport);
        self.dst.append_option(r.dst.as_deref());
        self.dport.append_option(r.dport);
        self.sbytes.append_option(r.sbytes);
        self.dbytes.append_option(r.dbytes);
        self.spk.append_option(r.sbytes.map(|b| 1 + b / 1400));
        self.dpk.append_option(r.dbytes.map(|b| 1 + b / 1400));
        self.dur.append_value(r.duration_ms);
        self.host.append_option(r.host.as_deref());
        self.len += 1;
    }
    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.t.finish()),
            Arc::new(self.count.finish()),
            Arc::new(self.etype.finish()),
            Arc::new(self.result.finish()),
            Arc::new(self.product.finish()),
            Arc::new(self.vendor.finish()),
            Arc::new(self.action.finish()),
            Arc::new(self.proto.finish()),
            Arc::new(self.dir.finish()),
            Arc::new(self.src.finish()),
            Arc::new(self.sport.finish()),
            Arc::new(self.dst.finish()),
            Arc::new(self.dport.finish()),
            Arc::new(self.sbytes.finish()),
            Arc::new(self.dbytes.finish()),
            Arc::new(self.spk.finish()),
            Arc::new(self.dpk.finish()),
            Arc::new(self.dur.finish()),
            Arc::new(self.host.finish()),
        ];
        self.len = 0;
        RecordBatch::try_new(schema.clone(), cols)
            .map_err(|e| Error::Config(format!("generate: {e}")))
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Write the lake (and, if asked, the matching domain list).
pub fn write_lake(spec: &Spec) -> Result<Summary> {
    let schema = schema();
    let world = World::new(spec);
    std::fs::create_dir_all(&spec.out).map_err(io_err(&spec.out))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(spec.row_group_rows))
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Page)
        .build();
    let mut summary = Summary::default();
    let base_rows = spec.rows / spec.days as usize;
    for day in 0..spec.days {
        let date = spec.start + chrono::Days::new(day as u64);
        let day_start_us = date
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_micros();
        let mut rng = Rng::new(spec.seed ^ ((day as u64 + 1) << 32));
        let rows_today = if day + 1 == spec.days {
            spec.rows - base_rows * (spec.days as usize - 1)
        } else {
            base_rows
        };
        let planted = planted_rows(&world, &mut rng, day_start_us, day, rows_today);
        let background = rows_today.saturating_sub(planted.len());
        let planted: Vec<Row> = planted.into_iter().take(rows_today).collect();

        let dir = spec.out.join(format!("date={}", date.format("%Y-%m-%d")));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = dir.join("part-00000.parquet");
        let fail = |e: String| Error::Config(format!("generate {}: {e}", path.display()));
        let mut writer = ParquetFile::create(&path, schema.clone(), props.clone()).map_err(fail)?;
        let mut b = Builders::new();
        let gap = 86_400_000_000f64 / background.max(1) as f64;
        let mut pi = 0;
        let chunk = spec.row_group_rows.clamp(1, 64 * 1024);
        for i in 0..background {
            let t = day_start_us + ((i as f64 + rng.unit()) * gap) as i64;
            while pi < planted.len() && planted[pi].t_us <= t {
                b.push(&planted[pi]);
                pi += 1;
            }
            let r = background_row(&world, &mut rng, t);
            b.push(&r);
            if b.len >= chunk {
                writer.write(&b.finish(&schema)?).map_err(fail)?;
            }
        }
        for r in &planted[pi..] {
            b.push(r);
        }
        if b.len > 0 {
            writer.write(&b.finish(&schema)?).map_err(fail)?;
        }
        writer.finish().and_then(AtomicFile::commit).map_err(fail)?;
        summary.rows += background + planted.len();
        summary.files += 1;
    }
    if let Some(dpath) = &spec.domains_out {
        let mut text = String::new();
        for (i, d) in POPULAR
            .iter()
            .map(|s| s.to_string())
            .chain(world.listed_tail())
            .enumerate()
        {
            text.push_str(&format!("{},{d}\n", i + 1));
        }
        AtomicFile::write(dpath, text.as_bytes())
            .map_err(|e| Error::Config(format!("generate {}: {e}", dpath.display())))?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_stable() {
        // Pinned literals, so a change of the generator (and so of the bundled sample) is
        // deliberate. Rng::new(x) starts SplitMix64 at x ^ 0x9E3779B97F4A7C15, so the seed below
        // starts it at 0, whose first output is the reference implementation's published
        // 0xe220a8397b1dcdaf; the seed-42 values were worked out with a Python transcription.
        assert_eq!(
            Rng::new(0x9E37_79B9_7F4A_7C15).next_u64(),
            0xe220_a839_7b1d_cdaf
        );
        let mut r = Rng::new(42);
        let raw: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            raw,
            [
                0x28ef_e333_b266_f103,
                0x4752_6757_130f_9f52,
                0x581c_e1ff_0e4a_e394
            ]
        );
        let mut r = Rng::new(42);
        assert_eq!(
            (0..3).map(|_| r.below(1000)).collect::<Vec<_>>(),
            [159, 278, 344]
        );
    }

    /// The bundled sample is exactly what the README's command makes: the schema and writer that
    /// `generate` shares with `import` and the cache change no byte of it.
    #[test]
    fn regenerates_the_bundled_sample_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec {
            rows: 30_000,
            out: dir.path().join("lake"),
            days: 2,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2024, 7, 30).unwrap(),
            domains_out: Some(dir.path().join("top1m-sample.csv")),
            row_group_rows: 128 * 1024,
        };
        let summary = write_lake(&spec).unwrap();
        assert_eq!((summary.rows, summary.files), (30_000, 2));
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        for f in [
            "lake/date=2024-07-30/part-00000.parquet",
            "lake/date=2024-07-31/part-00000.parquet",
            "top1m-sample.csv",
        ] {
            assert!(
                std::fs::read(dir.path().join(f)).unwrap() == std::fs::read(data.join(f)).unwrap(),
                "{f} differs from data/{f}"
            );
        }
    }

    #[test]
    fn public_ips_are_public() {
        for k in 0..10_000u64 {
            let ip = public_ipv4(mix(1, k));
            assert_eq!(nethunt_udfs::ipv4_is_private(&ip), Some(false), "{ip}");
            assert!(!ip.starts_with("127.") && !ip.starts_with("0."), "{ip}");
        }
    }
}
