//! The command line: arguments (clap) and their validation into the library's option structs,
//! one function per subcommand, batch jobs, the REPL, and what is drawn on the terminal
//! (progress lines). The top layer: nothing imports it. Uses: every other module.

pub mod args;
pub mod batch;
pub mod commands;
pub mod config;
pub mod emit;
pub mod progress;
pub mod repl;

pub use args::Cli;
pub use commands::{Outcome, dispatch, stats_line};
