//! Building a `SessionContext`: nethunt's settings, memory pool, object-store registry and
//! functions. Uses: `lake` (the store registry), `error`.

use datafusion::prelude::{SessionConfig, SessionContext};

use super::EngineOptions;
use crate::error::{Error, Result};

/// Session settings every nethunt context uses (also the `.slt` harness).
pub fn session_config(target_partitions: Option<usize>) -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        // ASIM names are CamelCase: keep unquoted identifiers as written.
        .set_bool("datafusion.sql_parser.enable_ident_normalization", false);
    if let Some(n) = target_partitions {
        config = config.with_target_partitions(n.max(1));
    }
    config
}

/// How a `--memory-limit` budget is shared between the operators of a query.
///
/// The built-in queries are chains of blocking operators (aggregate, then sort, then window,
/// then sort) that hold memory one after another. DataFusion's fair pool gives each spilling
/// operator of the plan an equal share from the start, idle ones included, so at 100M rows the
/// per-hostname aggregation of uncommon_domains got a fraction of the budget and spilled; with
/// the greedy pool it ran 15% faster under the same 1 GiB (17.5 and 19.5 s against 21.4 and
/// 22.7 s). Both completed at 768M and both failed cleanly at 512M, so greedy is the default,
/// as in datafusion-cli.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MemPoolType {
    #[default]
    Greedy,
    Fair,
}

/// A context for `opts`: settings, memory budget (a spilling pool over the OS temp folder) and
/// nethunt's functions.
pub fn context_for(opts: &EngineOptions) -> Result<SessionContext> {
    let mut config = session_config(opts.target_partitions);
    if let Some(b) = opts.batch_size {
        config = config.with_batch_size(b);
    }
    let mut rt = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_object_store_registry(std::sync::Arc::new(crate::lake::store::StoreRegistry::new(
            opts.store.clone(),
        )));
    if let Some(limit) = opts.memory_limit {
        use datafusion::execution::memory_pool::{FairSpillPool, GreedyMemoryPool, MemoryPool};
        let pool: std::sync::Arc<dyn MemoryPool> = match opts.mem_pool_type {
            MemPoolType::Greedy => std::sync::Arc::new(GreedyMemoryPool::new(limit)),
            MemPoolType::Fair => std::sync::Arc::new(FairSpillPool::new(limit)),
        };
        rt = rt.with_memory_pool(pool);
    }
    let rt = rt
        .build_arc()
        .map_err(|e| Error::datafusion("runtime", e))?;
    let ctx = SessionContext::new_with_config_rt(config, rt);
    nethunt_udfs::register_all(&ctx);
    Ok(ctx)
}
