//! The `nethunt` binary: parse arguments, run the command, map the outcome to an exit status
//! (0 success, 1 rows found with --fail-on-hit, 2 error).

use std::process::ExitCode;

use clap::Parser;
use nethunt::cli::{self, Cli, Outcome};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            eprintln!("nethunt: error: {}", nethunt::error::usage_line(&text));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nethunt: error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let stats = cli.stats;
    let started = std::time::Instant::now();
    let result = runtime.block_on(cli::dispatch(cli));
    // Do not wait for engine tasks still inside a long computation (a query ended by
    // --query-timeout): everything the command writes is complete or removed by now.
    runtime.shutdown_background();
    if stats {
        eprintln!("{}", cli::stats_line(started.elapsed()));
    }
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Hits) => ExitCode::from(1),
        Err(e) => {
            let text = anyhow::Error::new(e).to_string();
            let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("nethunt: error: {}", nethunt::error::redact(&line));
            ExitCode::from(2)
        }
    }
}
