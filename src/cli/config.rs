//! Command-line arguments → validated settings. Everything a user can get wrong on the command
//! line is caught here with a message naming the option; what comes out are the library's own
//! option structs. Uses: `engine`, `cluster`, `lake` (window, stores), `library` (value
//! parsers), `reference`, `generate`, `output`, `schema`, `error`.

use std::path::PathBuf;

#[cfg(feature = "cluster")]
use super::args::{ExecutorArgs, SchedulerArgs};
use super::args::{GenerateArgs, HttpArgs, OutputArgs, StoreArgs, TableArgs};
use crate::cluster::ClusterTarget;
#[cfg(feature = "cluster")]
use crate::cluster::{ExecutorOptions, SchedulerOptions};
use crate::engine::EngineOptions;
use crate::error::{Error, Result};
use crate::library::params;
use crate::output::Format;
use crate::schema::{DOMAINS, SESSIONS};

/// Validated output settings.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub format: Format,
    pub path: Option<PathBuf>,
    pub limit: Option<usize>,
    pub fail_on_hit: bool,
}

pub fn output_config(a: &OutputArgs) -> Result<OutputConfig> {
    let format = match (a.format, &a.output) {
        (Some(f), _) => f.into(),
        (None, Some(p)) => Format::from_extension(p).unwrap_or(Format::Table),
        (None, None) => Format::Table,
    };
    if format == Format::Parquet && a.output.is_none() {
        return Err(Error::Config("--format parquet needs --output FILE".into()));
    }
    if let Some(p) = &a.output
        && p.is_dir()
    {
        return Err(Error::Config(format!(
            "--output {}: is a folder, expected a file",
            p.display()
        )));
    }
    Ok(OutputConfig {
        format,
        path: a.output.clone(),
        limit: a.limit,
        fail_on_hit: a.fail_on_hit,
    })
}

/// The engine options of a run's table arguments; `quiet` keeps notes off stderr.
pub fn engine_options(a: &TableArgs, quiet: bool) -> Result<EngineOptions> {
    let mut tables: Vec<(String, String)> = Vec::new();
    for t in &a.tables {
        let (name, path) = t
            .split_once('=')
            .ok_or_else(|| Error::Config(format!("--table {t}: expected NAME=PATH")))?;
        let name = name.trim();
        if !params::is_identifier(name) {
            return Err(Error::Config(format!(
                "--table {t}: table name '{name}' must be an identifier ([A-Za-z_][A-Za-z0-9_]*)"
            )));
        }
        if name == SESSIONS || name == DOMAINS {
            return Err(Error::Config(format!(
                "--table {t}: {name} is set with --{}",
                if name == SESSIONS { "data" } else { "domains" }
            )));
        }
        if tables.iter().any(|(n, _)| n == name) {
            return Err(Error::Config(format!(
                "--table {t}: table '{name}' is given twice"
            )));
        }
        if path.is_empty() {
            return Err(Error::Config(format!("--table {t}: empty path")));
        }
        tables.push((name.to_string(), path.to_string()));
    }
    if a.threads == Some(0) {
        return Err(Error::Config("--threads must be at least 1".into()));
    }
    let memory_limit = match &a.memory_limit {
        None => None,
        Some(m) => Some(
            params::parse_size(m).map_err(|e| Error::Config(format!("--memory-limit {m}: {e}")))?,
        ),
    };
    if a.batch_size == Some(0) {
        return Err(Error::Config("--batch-size must be at least 1".into()));
    }
    let store = store_options(&a.store)?;
    let bound = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref()
            .map(|t| {
                params::parse_timestamp(t).map_err(|e| Error::Config(format!("--{flag} {t}: {e}")))
            })
            .transpose()
    };
    let now = bound("now", &a.now)?;
    let window = crate::lake::TimeWindow {
        from: bound("from", &a.from)?,
        to: bound("to", &a.to)?,
    };
    if let (Some(f), Some(t)) = (window.from, window.to)
        && f >= t
    {
        return Err(Error::Config(format!(
            "--from {} is not before --to {}: the window is empty",
            a.from.as_deref().unwrap_or_default(),
            a.to.as_deref().unwrap_or_default()
        )));
    }
    let cluster = match a.cluster.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            ClusterTarget::parse(c).map_err(|e| Error::Config(format!("--cluster {c}: {e}")))?,
        ),
    };
    if let Some(target) = &cluster
        && !target.is_local()
        && !a.shared_fs
    {
        refuse_local_paths(a, target)?;
    }
    let query_timeout = match a.query_timeout {
        None => None,
        Some(t) if t > 0.0 && t < 31_536_000.0 => Some(std::time::Duration::from_secs_f64(t)),
        Some(t) => {
            return Err(Error::Config(format!(
                "--query-timeout {t}: expected seconds above 0 and below a year"
            )));
        }
    };
    Ok(EngineOptions {
        query_timeout,
        now,
        cluster,
        shared_fs: a.shared_fs,
        window,
        store,
        memory_limit,
        mem_pool_type: a.mem_pool_type.into(),
        batch_size: a.batch_size,
        data: a.data.iter().filter(|s| !s.is_empty()).cloned().collect(),
        quiet,
        domains: a.domains.clone().filter(|s| !s.is_empty()),
        tables,
        typed: Vec::new(),
        target_partitions: a.threads,
    })
}

/// Executors of a cluster on other hosts cannot read this machine's files, and Ballista would not
/// say so clearly (a path an executor lacks fails deep inside a task, or scans nothing): refuse
/// every local source up front, naming the option.
fn refuse_local_paths(a: &TableArgs, target: &ClusterTarget) -> Result<()> {
    let refuse = |what: String| {
        Err(Error::Config(format!(
            "{what}: {}",
            target.cannot_read("an object-store URL (s3://bucket/prefix/)")
        )))
    };
    let is_url = |p: &str| crate::lake::store::is_url(p);
    let data: Vec<&String> = a.data.iter().filter(|d| !d.is_empty()).collect();
    if data.is_empty() {
        return refuse("--data (not given: the bundled sample lake)".into());
    }
    for d in data {
        let path = crate::engine::sources::DataSpec::parse(d)?.location;
        if !is_url(&path) {
            return refuse(format!("--data {d}"));
        }
    }
    // --domains is checked once it is resolved (a fetched list lands in the local cache).
    for t in &a.tables {
        if let Some((_, path)) = t.split_once('=')
            && !is_url(path)
        {
            return refuse(format!("--table {t}"));
        }
    }
    Ok(())
}

/// Object-store settings from their flags (shared by every command that reads or writes stores).
pub fn store_options(s: &StoreArgs) -> Result<crate::lake::store::StoreOptions> {
    if !(s.timeout > 0.0 && s.timeout < 86_400.0) {
        return Err(Error::Config(format!(
            "--store-timeout {}: expected seconds between 0 and 86400",
            s.timeout
        )));
    }
    if let Some(e) = &s.endpoint
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        return Err(Error::Config(format!(
            "--endpoint {e}: expected an http:// or https:// URL"
        )));
    }
    Ok(crate::lake::store::StoreOptions {
        profile: s.profile.clone(),
        region: s.region.clone(),
        endpoint: s.endpoint.clone(),
        allow_http: s.allow_http,
        anonymous: s.anonymous,
        access_key_id: s.access_key_id.clone(),
        secret_access_key: s.secret_access_key.clone(),
        session_token: None,
        retries: s.retries,
        timeout: std::time::Duration::from_secs_f64(s.timeout),
    })
}

/// `NAME=VALUE` assignments from repeated `--param`.
pub fn assignments(raw: &[String]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in raw {
        let (n, v) = params::split_assignment(r)?;
        if out.iter().any(|(m, _)| *m == n) {
            return Err(Error::param(&n, "given more than once"));
        }
        out.push((n, v));
    }
    Ok(out)
}

/// `batch --param QUERY.NAME=VALUE`, per query. The query must be one of the batch's.
pub fn batch_assignments(
    raw: &[String],
    queries: &[crate::library::Query],
) -> Result<std::collections::HashMap<String, Vec<(String, String)>>> {
    let mut out: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    for r in raw {
        let (target, value) = r.split_once('=').unwrap_or((r, ""));
        let bad = |msg: String| Error::param(target.trim(), msg);
        let Some((query, name)) = target.trim().split_once('.') else {
            return Err(bad(format!("expected QUERY.NAME=VALUE, got '{r}'")));
        };
        if !r.contains('=') || !params::is_identifier(name) {
            return Err(bad(format!("expected QUERY.NAME=VALUE, got '{r}'")));
        }
        if !queries.iter().any(|q| q.meta.name == query) {
            return Err(bad(format!(
                "no query {query} in this batch (it runs: {})",
                queries
                    .iter()
                    .map(|q| q.meta.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let list = out.entry(query.to_string()).or_default();
        if list.iter().any(|(n, _)| n == name) {
            return Err(bad("given more than once".into()));
        }
        list.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

/// Network settings for fetching reference data.
pub fn http_options(h: &HttpArgs, quiet: bool) -> Result<crate::reference::HttpOptions> {
    if !(h.timeout > 0.0 && h.timeout < 86_400.0) {
        return Err(Error::Config(format!(
            "--timeout {}: expected seconds between 0 and 86400",
            h.timeout
        )));
    }
    Ok(crate::reference::HttpOptions {
        read_timeout: std::time::Duration::from_secs_f64(h.timeout),
        connect_timeout: std::time::Duration::from_secs_f64(h.timeout.min(10.0)),
        retries: h.retries,
        progress: !quiet,
        ..Default::default()
    })
}

/// What `generate` writes.
pub fn generate_spec(a: &GenerateArgs) -> Result<crate::generate::Spec> {
    let start = chrono::NaiveDate::parse_from_str(&a.start, "%Y-%m-%d")
        .map_err(|_| Error::Config(format!("--start {}: expected YYYY-MM-DD", a.start)))?;
    if a.days == 0 || a.days > 3660 {
        return Err(Error::Config(format!(
            "--days {}: expected 1 to 3660",
            a.days
        )));
    }
    if a.rows == 0 {
        return Err(Error::Config("--rows must be at least 1".into()));
    }
    if a.row_group_rows == 0 {
        return Err(Error::Config("--row-group-rows must be at least 1".into()));
    }
    Ok(crate::generate::Spec {
        rows: a.rows,
        out: a.out.clone(),
        days: a.days,
        seed: a.seed,
        start,
        domains_out: a.domains_out.clone(),
        tables_out: a.tables_out.clone(),
        row_group_rows: a.row_group_rows,
    })
}

/// `HOST:PORT` into its parts, for the option `flag`.
pub fn host_port(flag: &str, text: &str) -> Result<(String, u16)> {
    let bad = |why: &str| Error::Config(format!("--{flag} {text}: {why}"));
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| bad("expected HOST:PORT"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("the host is missing"));
    }
    Ok((host.to_string(), port))
}

/// `nethunt cluster scheduler`.
#[cfg(feature = "cluster")]
pub fn scheduler_options(a: &SchedulerArgs) -> Result<SchedulerOptions> {
    let (host, port) = host_port("bind", &a.bind)?;
    if a.executor_timeout == 0 {
        return Err(Error::Config(
            "--executor-timeout must be at least 1".into(),
        ));
    }
    Ok(SchedulerOptions {
        bind: a.bind.clone(),
        host,
        port,
        external_host: a.external_host.clone(),
        min_executors: a.min_executors,
        executor_timeout: a.executor_timeout,
        task_max_failures: a.task_max_failures,
        with_functions: !a.without_nethunt_functions,
        store: store_options(&a.store)?,
    })
}

/// `nethunt cluster executor`.
#[cfg(feature = "cluster")]
pub fn executor_options(a: &ExecutorArgs) -> Result<ExecutorOptions> {
    let (scheduler_host, scheduler_port) = host_port("scheduler", &a.scheduler)?;
    let (bind_host, port) = host_port("bind", &a.bind)?;
    let grpc_port = match a.grpc_port {
        Some(p) => p,
        None => port.checked_add(1).ok_or_else(|| {
            Error::Config(format!(
                "--bind {}: no port above it for gRPC; give --grpc-port",
                a.bind
            ))
        })?,
    };
    if grpc_port == port {
        return Err(Error::Config(format!(
            "--grpc-port {grpc_port}: the same port as --bind"
        )));
    }
    if a.slots == Some(0) {
        return Err(Error::Config("--slots must be at least 1".into()));
    }
    if a.heartbeat == 0 {
        return Err(Error::Config("--heartbeat must be at least 1".into()));
    }
    if !(a.connect_timeout >= 0.0 && a.connect_timeout < 86_400.0) {
        return Err(Error::Config(format!(
            "--connect-timeout {}: expected seconds between 0 and 86400",
            a.connect_timeout
        )));
    }
    let memory_limit = match &a.memory_limit {
        None => None,
        Some(m) => Some(
            params::parse_size(m).map_err(|e| Error::Config(format!("--memory-limit {m}: {e}")))?
                as u64,
        ),
    };
    Ok(ExecutorOptions {
        scheduler: a.scheduler.clone(),
        scheduler_host,
        scheduler_port,
        bind_host,
        port,
        grpc_port,
        external_host: a.external_host.clone(),
        slots: a.slots,
        work_dir: a.work_dir.clone(),
        memory_limit,
        heartbeat: a.heartbeat,
        connect_timeout: std::time::Duration::from_secs_f64(a.connect_timeout),
        with_functions: !a.without_nethunt_functions,
        store: store_options(&a.store)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports() {
        assert_eq!(
            host_port("bind", "127.0.0.1:50050").unwrap(),
            ("127.0.0.1".to_string(), 50050)
        );
        assert_eq!(
            host_port("bind", "[::1]:7").unwrap(),
            ("::1".to_string(), 7)
        );
        for bad in ["127.0.0.1", ":80", "h:0", "h:x", "h:70000"] {
            let e = host_port("bind", bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--bind {bad}: ")), "{e}");
        }
    }
}
