//! Command-line syntax (clap derive). No logic beyond parsing: `config` validates, `commands` acts.
//! The only module that knows clap; library code takes the validated structs `config` makes.
//! Uses: `engine` (the memory-pool kind), `output` (formats), `reference` (the default list URL).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::engine::MemPoolType;
use crate::output::Format;

#[derive(Debug, Parser)]
#[command(
    name = "nethunt",
    version,
    about = "Run network-security hunting queries (SQL files) over Parquet lakes of ASIM NetworkSessions logs",
    long_about = None,
    after_help = "Exit status: 0 success, 1 rows found with --fail-on-hit, 2 error, 130/143 interrupted (SIGINT/SIGTERM)."
)]
pub struct Cli {
    /// Folder of extra query files (*.sql); they add to, or replace, the built-in library
    #[arg(long, global = true, env = "NETHUNT_LIBRARY", value_name = "DIR")]
    pub library: Option<PathBuf>,

    /// Print no row counts, timings, notices or progress bars on stderr
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Print resource figures on stderr at exit (peak resident memory, elapsed time)
    #[arg(long, global = true)]
    pub stats: bool,

    /// Cache folder for fetched reference tables [default: $XDG_CACHE_HOME/nethunt or ~/.cache/nethunt]
    #[arg(long, global = true, env = "NETHUNT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Without a command: the REPL when stdin is a terminal
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a hunting query from the library (by name) or a query file (by path)
    Run(RunArgs),
    /// Run ad-hoc SQL over the same tables (NetworkSessions, top1m, --table)
    Sql(SqlArgs),
    /// Run KQL (Kusto Query Language) over the same tables, with Kusto's semantics
    Kql(KqlArgs),
    /// List the hunting queries: name, title, MITRE techniques, parameters
    Queries(QueriesArgs),
    /// Show one query: metadata, parameters with defaults, and its SQL
    Show {
        /// Query name or path to a .sql file
        query: String,
    },
    /// List the source parsers --data can read: name, formats, the columns detection looks for
    Sources,
    /// Show one source parser: what it reads and fills, its raw tables and its SQL view
    ShowSource {
        /// Parser name (see `nethunt sources`)
        name: String,
    },
    /// Write a deterministic synthetic ASIM NetworkSessions lake (zstd Parquet, hive-partitioned by date)
    Generate(GenerateArgs),
    /// Run library queries over a lake and write each result plus manifest.json under OUT/run=<UTC time>/
    Batch(BatchArgs),
    /// Interactive SQL session (statements from stdin when it is not a terminal)
    Repl(ReplArgs),
    /// Convert sensor logs into a NetworkSessions lake
    #[command(subcommand)]
    Import(ImportCommand),
    /// Fetch and inspect the cached top-1M domain list (table top1m)
    #[command(subcommand)]
    Domains(DomainsCommand),
    /// Run an Apache DataFusion Ballista scheduler or executor with nethunt's functions
    #[cfg(feature = "cluster")]
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

#[cfg(feature = "cluster")]
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The scheduler: plans queries sent with --cluster df://HOST:PORT and hands tasks to executors
    Scheduler(SchedulerArgs),
    /// An executor: registers with a scheduler and runs its tasks
    Executor(ExecutorArgs),
}

#[cfg(feature = "cluster")]
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on (gRPC for clients and executors; /healthz and /readyz over HTTP)
    #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
    pub bind: String,

    /// Host name executors and clients use to reach this scheduler [default: the --bind host]
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,

    /// Executors that must be registered before /readyz answers 200
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min_executors: usize,

    /// Seconds without a heartbeat after which an executor counts as lost and its tasks are run again elsewhere
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub executor_timeout: u64,

    /// Times a task may fail before its query fails
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub task_max_failures: usize,

    /// Start without nethunt's functions, as the stock Ballista binaries do (to test how clients fail)
    #[arg(long, hide = true)]
    pub without_nethunt_functions: bool,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[cfg(feature = "cluster")]
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// Scheduler to register with
    #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
    pub scheduler: String,

    /// Address of this executor's Arrow Flight service (shuffle data and results)
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "HOST:PORT")]
    pub bind: String,

    /// Port of this executor's gRPC service [default: the --bind port + 1]
    #[arg(long, value_name = "PORT")]
    pub grpc_port: Option<u16>,

    /// Host name the scheduler and other executors use to reach this executor [default: the --bind host]
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,

    /// Tasks run at once [default: number of cores]
    #[arg(long, value_name = "N")]
    pub slots: Option<usize>,

    /// Folder for shuffle files and spills [default: a new temporary folder]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Memory for all running tasks, e.g. 2G; past it sorts and aggregations spill to --work-dir [default: Ballista's share of the host memory]
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,

    /// Seconds between heartbeats to the scheduler
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    pub heartbeat: u64,

    /// Seconds to wait for the scheduler to accept connections before giving up
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub connect_timeout: f64,

    /// Start without nethunt's functions, as the stock Ballista binaries do (to test how clients fail)
    #[arg(long, hide = true)]
    pub without_nethunt_functions: bool,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Zeek conn.log files (TSV or JSON lines, plain or .gz) into OUT/date=YYYY-MM-DD/*.parquet; http.log and ssl.log among the inputs give UrlHostname
    Zeek(ZeekArgs),
}

#[derive(Debug, Args)]
pub struct ZeekArgs {
    /// conn, http and ssl logs, in any order (told apart by their #path header or fields)
    #[arg(required = true, value_name = "LOG")]
    pub logs: Vec<PathBuf>,

    /// Lake folder; files are added next to any already there
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum DomainsCommand {
    /// Download the list (conditional GET when cached), unzip, parse and cache it as Parquet
    Fetch(FetchArgs),
    /// Show what is cached: source, rows, fetch time, ETag, file
    Status,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// http(s) URL or local path of the list (zip of CSVs, CSV or Parquet)
    #[arg(long, default_value = crate::reference::UMBRELLA_URL)]
    pub url: String,

    /// Which zip entries to read (glob on the entry name)
    #[arg(long, default_value = "*.csv")]
    pub zip_pattern: String,

    /// Download nothing: take the list a refresh held aside (it lost more than half of the rows
    /// of the list in use) as the list in use
    #[arg(long, conflicts_with_all = ["url", "zip_pattern"])]
    pub accept: bool,

    #[command(flatten)]
    pub http: HttpArgs,
}

/// Network settings for fetching reference data.
#[derive(Debug, Args, Clone)]
pub struct HttpArgs {
    /// Seconds without data before a download fails (and is retried)
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,

    /// Retries after a 5xx, 429, timeout or dropped connection (never after other 4xx)
    #[arg(long, default_value_t = 3)]
    pub retries: u32,

    /// Largest download accepted, in bytes
    #[arg(long, default_value_t = 512 << 20, value_name = "BYTES")]
    pub max_bytes: u64,
}

/// Tables and engine settings shared by `run`, `sql` and `repl`.
#[derive(Debug, Args, Clone, Default)]
pub struct TableArgs {
    /// NetworkSessions source: [SOURCE=]PATH, a file, folder or glob, local or an object-store URL (s3://bucket/prefix/, gs://, az://, https://). Repeatable: the table is the union of all. SOURCE is a parser (see `nethunt sources`: asim, zeek, vpcflow, ocsf, suricata); without it the format is detected [default: the bundled sample lake]
    #[arg(long, env = "NETHUNT_DATA", value_name = "[SOURCE=]PATH")]
    pub data: Vec<String>,

    /// top1m(Position, Domain) source: headerless rank,domain CSV, a zip of such CSVs (entries *.csv, like Umbrella's top-1m.csv.zip) or Parquet [default: the bundled sample list]
    #[arg(long, env = "NETHUNT_DOMAINS", value_name = "PATH")]
    pub domains: Option<String>,

    /// Register another table: NAME=PATH (Parquet file/folder/glob, or CSV with a header row); repeatable
    #[arg(long = "table", value_name = "NAME=PATH")]
    pub tables: Vec<String>,

    /// Number of partitions / worker threads [default: number of cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Memory budget for a query, e.g. 512M or 2G; past it sorts and aggregations spill to disk
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,

    /// How --memory-limit is shared (as datafusion-cli's option): greedy = first come, first
    /// served, best when spilling operators run one after another, as in the built-in queries;
    /// fair = every spilling operator gets an equal share, for queries where several spill at once
    #[arg(long, value_enum, default_value_t = MemPool::Greedy, value_name = "TYPE")]
    pub mem_pool_type: MemPool,

    /// Rows per batch inside the engine [default: 8192]
    #[arg(long, value_name = "ROWS")]
    pub batch_size: Option<usize>,

    /// Never use the network: reference tables come from the cache or the run fails
    #[arg(long)]
    pub offline: bool,

    /// Let query files' declared tables ([tables.NAME]) read local paths, file: URLs and
    /// loopback, link-local or (over http://) private addresses; otherwise they fetch only
    /// https:// URLs, or http:// ones at public addresses
    #[arg(long)]
    pub allow_local_tables: bool,

    /// Only sessions with TimeGenerated at or after TIME (2024-07-30, 2024-07-30T08:00:00Z, ...); only the time folders of the window (date=, hour=, eventDay=, year=/month=/day=, YYYY/MM/DD) are listed, and Parquet row groups outside it are skipped; also binds a query's $start
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,

    /// Only sessions with TimeGenerated before TIME (exclusive); also binds a query's $end
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,

    /// The instant now() and ago() mean, in KQL and SQL (default: the clock when the query is planned): replay a hunt written with ago(1h) over an archive as of TIME
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,

    /// Fail a query that has not finished after SECS (also a job a cluster has stalled); results and temp files are not left behind
    #[arg(long, value_name = "SECS")]
    pub query_timeout: Option<f64>,

    /// Run on an Apache DataFusion Ballista cluster: df://HOST:PORT (a `nethunt cluster scheduler`), or `standalone` for an in-process scheduler and executor
    #[arg(
        long,
        env = "NETHUNT_CLUSTER",
        value_name = "df://HOST:PORT|standalone"
    )]
    pub cluster: Option<String>,

    /// With a --cluster on another host: local paths are on a file system every executor mounts at the same place
    #[arg(long)]
    pub shared_fs: bool,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// How to reach object stores (s3://, gs://, az://, abfss://, http(s)://). Credentials otherwise
/// come from the environment (AWS_ACCESS_KEY_ID, ...), the AWS shared files (~/.aws/credentials,
/// ~/.aws/config), web identity, container or instance metadata, as the AWS CLI finds them.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Object stores")]
pub struct StoreArgs {
    /// AWS profile of the shared config/credentials files [env: AWS_PROFILE]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Object-store region (e.g. eu-west-1) [env: AWS_REGION]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// S3-compatible endpoint URL, e.g. http://127.0.0.1:9000 (an http:// endpoint allows plain HTTP) [env: AWS_ENDPOINT_URL]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Allow plain-HTTP connections to the object store
    #[arg(long)]
    pub allow_http: bool,

    /// Send unsigned requests (public buckets)
    #[arg(long)]
    pub anonymous: bool,

    /// Access key id (prefer the environment or --profile: command lines are visible to other users)
    #[arg(long, value_name = "ID", requires = "secret_access_key")]
    pub access_key_id: Option<String>,

    /// Secret access key (never printed; prefer the environment or --profile)
    #[arg(
        long,
        value_name = "SECRET",
        requires = "access_key_id",
        hide_env_values = true
    )]
    pub secret_access_key: Option<String>,

    /// Retries of a failed object-store request (5xx, timeouts, dropped connections)
    #[arg(long = "store-retries", default_value_t = 3, value_name = "N")]
    pub retries: usize,

    /// Seconds one object-store request may take, retries included
    #[arg(long = "store-timeout", default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,
}

/// Where and how results are written.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output format [default: from the --output extension, else table]
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,

    /// Write results to FILE (atomically: a temporary file renamed when complete)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Return at most N rows
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Exit with status 1 when the query returns rows (for cron and CI)
    #[arg(long)]
    pub fail_on_hit: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Query name (see `nethunt queries`) or path to a .sql query file
    pub query: String,

    /// Set a query parameter: NAME=VALUE (typed as the query declares); repeatable
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,

    #[command(flatten)]
    pub tables: TableArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL text (one or more statements separated by ';')
    #[arg(conflicts_with = "file", required_unless_present = "file")]
    pub sql: Option<String>,

    /// Read the SQL from FILE ('-' for stdin)
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Bind a $NAME placeholder: NAME=VALUE (integer, number, else string); repeatable
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,

    #[command(flatten)]
    pub tables: TableArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct KqlArgs {
    /// KQL text: let statements and one query, separated by ';'
    #[arg(conflicts_with = "file", required_unless_present = "file")]
    pub kql: Option<String>,

    /// Read the KQL from FILE ('-' for stdin)
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Give a parameter: NAME=VALUE (integer, number, else string); the KQL names it as NAME
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,

    /// Print the logical plan instead of running the query
    #[arg(long, conflicts_with = "to_sql")]
    pub explain: bool,

    /// Print SQL equivalent to the plan (DataFusion's unparser) instead of running the query
    #[arg(long)]
    pub to_sql: bool,

    #[command(flatten)]
    pub tables: TableArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Queries to run: all, or names separated by commas
    #[arg(long, default_value = "all", value_name = "all|NAME,NAME")]
    pub queries: String,

    /// Folder (path or object-store URL such as s3://bucket/hunts/) that receives run=<UTC time>/
    #[arg(long, value_name = "DIR_OR_URL")]
    pub out: String,

    /// Result file format
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: BatchFormat,

    /// Continue run RUN (its folder name, e.g. run=20261128T012345.123Z): queries its manifest shows as done are skipped
    #[arg(long, value_name = "RUN")]
    pub resume: Option<String>,

    /// Exit with status 1 when any query returned rows (2 still wins when a query failed)
    #[arg(long)]
    pub fail_on_hit: bool,

    /// Set a parameter of one query: QUERY.NAME=VALUE (typed as the query declares); repeatable
    #[arg(long = "param", short = 'p', value_name = "QUERY.NAME=VALUE")]
    pub params: Vec<String>,

    #[command(flatten)]
    pub tables: TableArgs,
}

/// `--mem-pool-type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MemPool {
    #[default]
    Greedy,
    Fair,
}

impl From<MemPool> for MemPoolType {
    fn from(p: MemPool) -> MemPoolType {
        match p {
            MemPool::Greedy => MemPoolType::Greedy,
            MemPool::Fair => MemPoolType::Fair,
        }
    }
}

/// `--format` of `run` and `sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// aligned text table (NULL shown as NULL)
    Table,
    /// comma-separated values with a header row
    Csv,
    /// one JSON array of objects
    Json,
    /// one JSON object per line
    Ndjson,
    /// Apache Parquet (zstd); needs --output
    Parquet,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Parquet => Format::Parquet,
        }
    }
}

/// `--format` of `batch` (no table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BatchFormat {
    Parquet,
    Ndjson,
    Csv,
    Json,
}

impl From<BatchFormat> for Format {
    fn from(f: BatchFormat) -> Format {
        match f {
            BatchFormat::Parquet => Format::Parquet,
            BatchFormat::Ndjson => Format::Ndjson,
            BatchFormat::Csv => Format::Csv,
            BatchFormat::Json => Format::Json,
        }
    }
}

#[derive(Debug, Args, Default)]
pub struct ReplArgs {
    #[command(flatten)]
    pub tables: TableArgs,
}

/// Filters of `queries`: a query is listed when it matches every one given.
#[derive(Debug, Args, Default)]
pub struct QueriesArgs {
    /// Only queries with this MITRE technique (T1046; T1021 also matches T1021.001)
    #[arg(long, value_name = "TECHNIQUE")]
    pub mitre: Option<String>,

    /// Only queries with this MITRE tactic (Discovery, LateralMovement, ...; any case)
    #[arg(long, value_name = "TACTIC")]
    pub tactic: Option<String>,

    /// Only queries of at least this severity (informational, low, medium, high, critical)
    #[arg(long, value_name = "LEVEL")]
    pub severity: Option<String>,

    /// Only queries whose name, title or description contains TEXT (any case)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of session rows (planted scans and exfiltration included)
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,

    /// Output folder (created; date=YYYY-MM-DD/ partitions are written inside)
    #[arg(long)]
    pub out: PathBuf,

    /// Number of days the sessions span
    #[arg(long, default_value_t = 1)]
    pub days: u32,

    /// Random seed: the same seed and options give byte-identical files
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// First day (UTC), YYYY-MM-DD
    #[arg(long, default_value = "2024-07-30")]
    pub start: String,

    /// Also write the matching popularity list (headerless rank,domain CSV) to FILE
    #[arg(long, value_name = "FILE")]
    pub domains_out: Option<PathBuf>,

    /// Also write the example tables the library's hunts read (ti_indicators.csv,
    /// port_monitor.csv), matching the planted patterns, into folder DIR
    #[arg(long, value_name = "DIR")]
    pub tables_out: Option<PathBuf>,

    /// Rows per Parquet row group
    #[arg(long, default_value_t = 128 * 1024)]
    pub row_group_rows: usize,
}
