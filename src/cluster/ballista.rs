//! Distributed execution on Apache DataFusion Ballista (feature `cluster`): the client side of
//! `--cluster`, and the `nethunt cluster scheduler` / `nethunt cluster executor` processes.
//!
//! The stock Ballista binaries cannot run nethunt's functions. They are registered at the three
//! places Ballista looks them up: the scheduler's session builder (it plans the physical query),
//! every executor's function registry (it decodes and runs tasks), and the client's context
//! *after* Ballista set it up (setting up replaces the context's scalar functions).
//!
//! Object stores: the scheduler lists files and the executors read them, each through nethunt's
//! own store registry, built from the process's own `--endpoint`/`--profile`/... flags and
//! environment. Credentials never travel with a query.
//! Uses: `lake` (the store registry), `error`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::RuntimeProducer;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use super::{ClusterTarget, ExecutorOptions, SchedulerOptions};
use crate::error::{Error, Result};
use crate::lake::store::StoreRegistry;

/// How long the client waits for a scheduler's TCP port before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Turn `ctx` (nethunt's settings, store registry and functions) into a context whose queries
/// run on `target`.
pub async fn connect(ctx: SessionContext, target: &ClusterTarget) -> Result<SessionContext> {
    let fail = |msg: String| Error::Cluster {
        address: target.to_string(),
        msg,
    };
    let state = ctx.state();
    let ctx = match target {
        ClusterTarget::Standalone => SessionContext::standalone_with_state(state).await,
        ClusterTarget::Remote { host, port } => {
            probe(host, *port).await.map_err(fail)?;
            SessionContext::remote_with_state(&target.to_string(), state).await
        }
    }
    .map_err(|e| fail(crate::error::one_line(&e)))?;
    // After Ballista's set-up, which replaced the scalar functions with its own list.
    nethunt_udfs::register_all(&ctx);
    Ok(ctx)
}

/// Retry [`probe`] until it succeeds or `patience` has passed (an executor started together
/// with its scheduler). Ballista's own wait never ends: its deadline is measured from an
/// `Instant` taken anew on every check.
async fn wait_for(host: &str, port: u16, patience: Duration) -> std::result::Result<(), String> {
    let until = tokio::time::Instant::now() + patience;
    loop {
        match probe(host, port).await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= until => {
                return Err(format!("{e} (waited {:.0}s)", patience.as_secs_f64()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Ballista connects lazily, at the first query, and then retries for a long time: find out now
/// whether anything listens at the scheduler's address.
async fn probe(host: &str, port: u16) -> std::result::Result<(), String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve the scheduler's host: {e}"))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
        }
    }
    Err(format!(
        "cannot reach the scheduler ({last}); is `nethunt cluster scheduler` running there?"
    ))
}

/// Ballista reports through the `log` crate: warnings and errors on stderr, more with RUST_LOG.
fn init_logging() {
    let env = env_logger::Env::default().default_filter_or("warn");
    let _ = env_logger::Builder::from_env(env)
        .format_target(true)
        .try_init();
}

/// A runtime whose object stores come from nethunt's registry (`store`), spilling to `temp`.
fn runtime(
    store: &Arc<StoreRegistry>,
    temp: Option<&str>,
) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let mut rt = RuntimeEnvBuilder::new().with_object_store_registry(store.clone());
    if let Some(t) = temp {
        rt = rt.with_temp_file_path(t);
    }
    rt.build_arc()
}

/// `nethunt cluster scheduler`: runs until the process is stopped.
pub async fn scheduler(args: SchedulerOptions, quiet: bool) -> Result<()> {
    init_logging();
    let (host, port) = (args.host.clone(), args.port);
    let store = Arc::new(StoreRegistry::new(args.store.clone()));
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| Error::Cluster {
            address: args.bind.clone(),
            msg: format!("cannot listen: {e}"),
        })?;
    let bound = listener.local_addr().map_err(|e| Error::Cluster {
        address: args.bind.clone(),
        msg: e.to_string(),
    })?;

    // Planning sessions: Ballista's defaults, nethunt's object stores and functions.
    let with_functions = args.with_functions;
    let session_builder = Arc::new(move |config: SessionConfig| {
        let base = default_session_builder(config)?;
        let mut state = SessionStateBuilder::new_from_existing(base)
            .with_runtime_env(runtime(&store, None)?)
            .build();
        if with_functions {
            nethunt_udfs::register_all_in(&mut state)?;
        }
        Ok(state)
    });
    let config = SchedulerConfig {
        bind_host: host.clone(),
        bind_port: bound.port(),
        external_host: args.external_host.clone().unwrap_or_else(|| host.clone()),
        min_ready_executors: args.min_executors,
        executor_timeout_seconds: args.executor_timeout,
        expire_dead_executor_interval_seconds: args.executor_timeout.div_ceil(4).clamp(1, 15),
        no_executors_grace_period_seconds: args.executor_timeout,
        task_max_failures: args.task_max_failures.max(1),
        override_session_builder: Some(session_builder),
        ..SchedulerConfig::default()
    };
    let ballista_err = |e: ballista_core::error::BallistaError| Error::Cluster {
        address: bound.to_string(),
        msg: e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    config.validate().map_err(ballista_err)?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista_err)?;
    let server = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config))
        .await
        .map_err(ballista_err)?;
    if !quiet {
        eprintln!(
            "nethunt cluster scheduler listening on {bound} (Ballista {}, DataFusion {}); readiness at http://{bound}/readyz",
            ballista_core::BALLISTA_VERSION,
            datafusion::DATAFUSION_VERSION
        );
    }
    start_grpc_service_with_listener(listener, server)
        .await
        .map_err(ballista_err)
}

/// `nethunt cluster executor`: runs until the process is stopped.
pub async fn executor(args: ExecutorOptions, quiet: bool) -> Result<()> {
    init_logging();
    let (bind_host, port, grpc_port) = (args.bind_host.clone(), args.port, args.grpc_port);
    let (scheduler_host, scheduler_port) = (args.scheduler_host.clone(), args.scheduler_port);
    // Both ports must be free: Ballista would fail later and less clearly.
    for p in [port, grpc_port] {
        std::net::TcpListener::bind((bind_host.as_str(), p)).map_err(|e| Error::Cluster {
            address: format!("{bind_host}:{p}"),
            msg: format!("cannot listen: {e}"),
        })?;
    }
    // Shuffle files and spills; a folder of our own removed at exit unless one was given.
    let (work_dir, _keep) = match &args.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| Error::Io {
                path: d.to_path_buf(),
                source: e,
            })?;
            (d.display().to_string(), None)
        }
        None => {
            let t = crate::output::TempFolder::new("nethunt-executor-", None)
                .map_err(|e| Error::Config(format!("executor work folder: {e}")))?;
            (t.path().display().to_string(), Some(t))
        }
    };

    let mut functions = BallistaFunctionRegistry::default();
    // Ballista's default registry has DataFusion's core functions but not the array ones
    // (array_length, make_array, ...), which the library's queries use.
    for f in datafusion::functions_nested::all_default_nested_functions() {
        functions.scalar_functions.insert(f.name().to_string(), f);
    }
    if args.with_functions {
        for f in nethunt_udfs::all_udfs() {
            functions.scalar_functions.insert(f.name().to_string(), f);
        }
        for f in nethunt_udfs::all_udafs() {
            functions
                .aggregate_functions
                .insert(f.name().to_string(), f);
        }
    }
    let store = Arc::new(StoreRegistry::new(args.store.clone()));
    let temp = work_dir.clone();
    let producer: RuntimeProducer = Arc::new(move |_: &SessionConfig| runtime(&store, Some(&temp)));
    let config = ExecutorProcessConfig {
        bind_host: bind_host.clone(),
        external_host: Some(args.external_host.clone().unwrap_or(bind_host.clone())),
        port,
        grpc_port,
        scheduler_host,
        scheduler_port,
        // One attempt: `wait_for` has seen the scheduler up.
        scheduler_connect_timeout_seconds: 0,
        vcores: args.slots.unwrap_or(0),
        work_dir: Some(work_dir.clone()),
        memory_pool_size: args.memory_limit,
        executor_heartbeat_interval_seconds: args.heartbeat,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(functions)),
        override_runtime_producer: Some(producer),
        ..ExecutorProcessConfig::default()
    };
    wait_for(
        &config.scheduler_host,
        config.scheduler_port,
        args.connect_timeout,
    )
    .await
    .map_err(|msg| Error::Cluster {
        address: args.scheduler.clone(),
        msg,
    })?;
    if !quiet {
        eprintln!(
            "nethunt cluster executor on {bind_host}:{port} (gRPC {grpc_port}), scheduler {}, work folder {work_dir}",
            args.scheduler
        );
    }
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| Error::Cluster {
            address: args.scheduler.clone(),
            msg: e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })
}
