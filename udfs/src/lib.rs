//! # nethunt-udfs
//!
//! Network-hunting scalar functions for Apache DataFusion with the exact semantics of the Kusto
//! (KQL) functions that Microsoft Sentinel / Azure Monitor hunting queries use:
//!
//! | function | meaning |
//! |---|---|
//! | `ipv4_is_private(ip)` | RFC 1918 test; NULL for anything that is not IPv4 |
//! | `ipv4_is_in_range(ip, range)` | address inside an IP-prefix range |
//! | `ipv4_is_in_any_range(ip, range, ...)` | inside any of several ranges (or an array of them) |
//! | `has_any_ipv4_prefix(text, prefix, ...)`, `has_any_ipv4` | an address in text starts with a prefix (`10.`, `192.168.1.`) / is one of the addresses |
//! | `second_level_domain(host)` | group 1 of `extract("([^.]*).{0,7}$", 1, host)`, without a regex |
//! | `registered_domain(host)` | eTLD+1 from the Public Suffix List (ICANN section) |
//! | `kql_endswith(text, suffix)` | KQL `endswith`: suffix test ignoring ASCII case only |
//! | `kql_has(text, term)`, `kql_has_cs` | KQL `has` / `has_cs`: whole-term match |
//! | `kql_has_any(text, term, ...)`, `kql_has_all` | KQL `has_any` / `has_all` (terms or one array) |
//! | `datetime_diff(period, a, b)` | KQL `datetime_diff`: calendar periods between two datetimes |
//! | `make_set(x [, max])` (aggregate) | KQL `make_set`: distinct non-NULL values, first met, `[]` for none |
//! | `kql_percentile(x, p)` (aggregate) | KQL `percentile`: the nearest-rank value, exact; NULL for none |
//!
//! Every function accepts Utf8, LargeUtf8, Utf8View and dictionary-encoded strings, scalar or
//! array; NULL in gives NULL out; no input makes it panic. Dictionary inputs are evaluated once per
//! distinct dictionary value.
//!
//! ```no_run
//! # async fn f() -> datafusion::error::Result<()> {
//! let ctx = datafusion::prelude::SessionContext::new();
//! nethunt_udfs::register_all(&ctx);
//! ctx.sql("SELECT ipv4_is_private('10.1.2.3')").await?.show().await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{AggregateUDF, DocSection, ScalarUDF};
use datafusion::prelude::SessionContext;

pub mod aggregate;
pub mod domain;
pub mod dynamic;
pub mod ip;
mod kernel;
pub mod text;
pub mod time;

pub use domain::{registered_domain, second_level_domain};
pub use ip::{ipv4_is_in_range, ipv4_is_private, parse_ipv4, parse_ipv4_net};
pub use text::{kql_endswith, kql_has, kql_has_all, kql_has_any, kql_has_cs};

/// The documentation section all nethunt functions appear under.
pub const DOC_SECTION: DocSection = DocSection {
    include: true,
    label: "Network hunting functions (nethunt)",
    description: Some("KQL-compatible IP and domain functions for network-session hunting."),
};

/// Every nethunt scalar function.
pub fn all_udfs() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ip::ipv4_is_private_udf()),
        Arc::new(ScalarUDF::new_from_impl(ip::Ipv4IsInRange::default())),
        Arc::new(ip::ipv4_is_in_any_range_udf()),
        Arc::new(ip::has_any_ipv4_prefix_udf()),
        Arc::new(ip::has_any_ipv4_udf()),
        Arc::new(domain::second_level_domain_udf()),
        Arc::new(domain::registered_domain_udf()),
        Arc::new(text::kql_endswith_udf()),
        Arc::new(text::kql_has_udf()),
        Arc::new(text::kql_has_cs_udf()),
        Arc::new(text::kql_has_any_udf()),
        Arc::new(text::kql_has_all_udf()),
        Arc::new(time::datetime_diff_udf()),
    ]
    .into_iter()
    .chain(dynamic::dynamic_udfs().into_iter().map(Arc::new))
    .collect()
}

/// Every nethunt aggregate function.
pub fn all_udafs() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(aggregate::make_set_udaf()),
        Arc::new(aggregate::percentile_udaf()),
    ]
}

/// Register every nethunt function on a `SessionContext`.
pub fn register_all(ctx: &SessionContext) {
    for udf in all_udfs() {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udaf in all_udafs() {
        ctx.register_udaf(udaf.as_ref().clone());
    }
}

/// Register every nethunt function on any [`FunctionRegistry`] (a `SessionState`, a Ballista
/// executor's registry, ...).
pub fn register_all_in(registry: &mut dyn FunctionRegistry) -> Result<()> {
    for udf in all_udfs() {
        registry.register_udf(udf)?;
    }
    for udaf in all_udafs() {
        registry.register_udaf(udaf)?;
    }
    Ok(())
}
