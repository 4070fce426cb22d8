//! Where queries run when not in this process (`--cluster`), and the settings of nethunt's own
//! Ballista scheduler and executor processes. The Ballista code itself is in `ballista` (feature
//! `cluster`). Uses: `lake` (object stores), `error`.

#[cfg(feature = "cluster")]
mod ballista;

use std::path::PathBuf;
use std::time::Duration;

use crate::lake::store::StoreOptions;
#[cfg(feature = "cluster")]
pub use ballista::{connect, executor, scheduler};

/// Where queries run when not in this process: `--cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterTarget {
    /// An in-process Ballista scheduler and executor (testing the distributed plan on one machine).
    Standalone,
    /// A `nethunt cluster scheduler` at HOST:PORT.
    Remote { host: String, port: u16 },
}

impl ClusterTarget {
    /// Ballista's default scheduler port.
    pub const DEFAULT_PORT: u16 = 50050;

    /// `standalone`, or `df://HOST[:PORT]` (the port defaults to 50050).
    pub fn parse(text: &str) -> std::result::Result<ClusterTarget, String> {
        if text == "standalone" {
            return Ok(ClusterTarget::Standalone);
        }
        let rest = text
            .strip_prefix("df://")
            .ok_or("expected df://HOST:PORT or standalone")?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("port '{p}' is not a number from 1 to 65535"))?,
            ),
            _ => (rest, Self::DEFAULT_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
            return Err(format!("'{host}' is not a host name"));
        }
        Ok(ClusterTarget::Remote {
            host: host.to_string(),
            port,
        })
    }

    /// Why a local path cannot be used on this (remote) cluster, and what to give `instead`.
    pub fn cannot_read(&self, instead: &str) -> String {
        format!(
            "the executors of the cluster at {self} cannot read this machine's files; give \
             {instead}, or --shared-fs when every executor mounts the path at the same place"
        )
    }

    /// Whether the executors share this machine's file system: standalone, or a scheduler on a
    /// loopback address.
    pub fn is_local(&self) -> bool {
        match self {
            ClusterTarget::Standalone => true,
            ClusterTarget::Remote { host, .. } => {
                host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        }
    }
}

impl std::fmt::Display for ClusterTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterTarget::Standalone => write!(f, "standalone"),
            ClusterTarget::Remote { host, port } if host.contains(':') => {
                write!(f, "df://[{host}]:{port}")
            }
            ClusterTarget::Remote { host, port } => write!(f, "df://{host}:{port}"),
        }
    }
}

/// A `nethunt cluster scheduler`, validated.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// `--bind` as given (for messages), and its parts.
    pub bind: String,
    pub host: String,
    pub port: u16,
    pub external_host: Option<String>,
    pub min_executors: usize,
    /// Seconds without a heartbeat before an executor counts as lost (at least 1).
    pub executor_timeout: u64,
    pub task_max_failures: usize,
    /// Register nethunt's functions (off only to test how clients fail against stock Ballista).
    pub with_functions: bool,
    pub store: StoreOptions,
}

/// A `nethunt cluster executor`, validated.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// `--scheduler` as given (for messages), and its parts.
    pub scheduler: String,
    pub scheduler_host: String,
    pub scheduler_port: u16,
    pub bind_host: String,
    /// Arrow Flight port.
    pub port: u16,
    pub grpc_port: u16,
    pub external_host: Option<String>,
    /// Tasks at once; `None`: the number of cores.
    pub slots: Option<usize>,
    pub work_dir: Option<PathBuf>,
    /// Memory for all running tasks, in bytes.
    pub memory_limit: Option<u64>,
    /// Seconds between heartbeats (at least 1).
    pub heartbeat: u64,
    pub connect_timeout: Duration,
    pub with_functions: bool,
    pub store: StoreOptions,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_targets() {
        let remote = |h: &str, p: u16| ClusterTarget::Remote {
            host: h.to_string(),
            port: p,
        };
        assert_eq!(
            ClusterTarget::parse("standalone"),
            Ok(ClusterTarget::Standalone)
        );
        assert_eq!(
            ClusterTarget::parse("df://127.0.0.1:50050"),
            Ok(remote("127.0.0.1", 50050))
        );
        assert_eq!(
            ClusterTarget::parse("df://sched"),
            Ok(remote("sched", 50050))
        );
        assert_eq!(ClusterTarget::parse("df://[::1]:7/"), Ok(remote("::1", 7)));
        for bad in [
            "http://h:1",
            "df://",
            "df://h:0",
            "df://h:x",
            "df://u@h:1",
            "sched:1",
        ] {
            assert!(ClusterTarget::parse(bad).is_err(), "{bad}");
        }
        assert!(ClusterTarget::Standalone.is_local());
        for local in ["localhost", "127.0.0.1", "127.8.9.10", "::1"] {
            assert!(remote(local, 1).is_local(), "{local}");
        }
        for far in ["10.0.0.1", "sched.example", "192.0.2.1"] {
            assert!(!remote(far, 1).is_local(), "{far}");
        }
        assert_eq!(remote("::1", 7).to_string(), "df://[::1]:7");
        assert_eq!(remote("h", 9).to_string(), "df://h:9");
    }
}
