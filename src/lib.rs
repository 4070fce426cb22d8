//! nethunt: network-security hunting queries (ASIM NetworkSessions) as SQL files over Parquet
//! lakes, on Apache DataFusion.
//!
//! The binary is a thin shell over this library. Modules are layers, and imports flow one way,
//! from the top down (README, "Architecture"):
//!
//! `cli` → `engine` → `cluster` → `library` → `reference` → `lake` → `import`/`generate` →
//! `output` → `schema` → `error`
//!
//! Each module's first lines say what it owns and what it uses. Tests drive the same modules
//! in-process.

pub mod cli;
pub mod cluster;
pub mod engine;
pub mod error;
pub mod generate;
pub mod import;
pub mod lake;
pub mod library;
pub mod output;
pub mod reference;
pub mod schema;

pub use error::{Error, Result};
