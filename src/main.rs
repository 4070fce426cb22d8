//! The `nethunt` binary: parse arguments, run the command, map the outcome to an exit status
//! (0 success, 1 rows found with --fail-on-hit, 2 error, 130 / 143 interrupted by SIGINT /
//! SIGTERM). An interrupt or an internal error (a panic) removes the files being written and
//! ends with one line on stderr.

use std::process::ExitCode;

use clap::Parser;
use nethunt::cli::{self, Cli, Outcome};

/// A panic is a bug, but still ends as one line and exit 2, never a backtrace, and leaves no
/// partial file behind.
fn on_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string());
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    nethunt::output::remove_pending();
    let line = format!("internal error{at}: {what} (a bug: please report it)");
    eprintln!(
        "nethunt: error: {}",
        nethunt::error::redact(&line.split_whitespace().collect::<Vec<_>>().join(" "))
    );
    std::process::exit(2);
}

/// Wait for SIGTERM (and SIGINT, unless the REPL handles Ctrl-C itself), then remove what is
/// being written and end the process: 143 for SIGTERM, 130 for SIGINT, as shells report them.
#[cfg(unix)]
async fn interrupts(sigint: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return;
    };
    let mut int = if sigint {
        signal(SignalKind::interrupt()).ok()
    } else {
        None
    };
    let interrupt = async {
        match int.as_mut() {
            Some(s) => s.recv().await,
            None => std::future::pending().await,
        }
    };
    let (name, code) = tokio::select! {
        _ = term.recv() => ("SIGTERM", 143),
        _ = interrupt => ("SIGINT", 130),
    };
    nethunt::output::remove_pending();
    eprintln!("nethunt: interrupted by {name}; partial files removed");
    std::process::exit(code);
}

#[cfg(not(unix))]
async fn interrupts(sigint: bool) {
    if sigint && tokio::signal::ctrl_c().await.is_ok() {
        nethunt::output::remove_pending();
        eprintln!("nethunt: interrupted; partial files removed");
        std::process::exit(130);
    }
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(on_panic));
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
    // Workers get the main thread's 8 MiB stack rather than tokio's 2 MiB: encoding a source
    // parser's view for Ballista recurses past 2 MiB in a debug build.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nethunt: error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // The REPL cancels a query on Ctrl-C and goes on; everything else stops.
    let sigint = !matches!(cli.command, None | Some(cli::args::Command::Repl(_)));
    let watch = runtime.spawn(interrupts(sigint));
    let stats = cli.stats;
    let started = std::time::Instant::now();
    let result = runtime.block_on(cli::dispatch(cli));
    // Do not wait for engine tasks still inside a long computation (a query ended by
    // --query-timeout): everything the command writes is complete or removed by now.
    watch.abort();
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
