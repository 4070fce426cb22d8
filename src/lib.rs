//! nethunt: network-security hunting queries (ASIM NetworkSessions) as SQL files over Parquet
//! lakes, on Apache DataFusion.
//!
//! The binary is a thin shell over this library: `cli` parses, `config` validates, `engine` plans
//! and runs, `output` writes. Tests drive the same modules in-process.

pub mod batch;
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error;
pub mod external;
pub mod generate;
pub mod output;
pub mod params;
pub mod progress;
pub mod queries;
pub mod repl;
pub mod scan;
pub mod store;
pub mod tables;
pub mod zeek;

pub use error::{Error, Result};
