//! A progress line on stderr for scans that take a while: label, files and bytes read so far,
//! elapsed time. It appears only after [`delay`], only on a terminal, and never with `--quiet`.
//! Uses: `lake` (scan figures).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::physical_plan::ExecutionPlan;

use crate::lake::scan::{ScanMetrics, human_bytes};

/// How long a scan runs before its progress line is shown; `NETHUNT_PROGRESS_DELAY` (seconds)
/// overrides it (the tests use 0).
pub fn delay() -> Duration {
    std::env::var("NETHUNT_PROGRESS_DELAY")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| (0.0..86_400.0).contains(s))
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(2))
}

/// Whether progress lines are wanted: stderr is a terminal and `--quiet` was not given.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A running progress line; dropping it clears the line and stops the ticker.
pub struct Ticker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Ticker {
    /// Show `label` with the scan figures of `plan`, refreshed every 200 ms once [`delay`] has
    /// passed since `started` (the batch's start, so a batch of quick queries shows one too).
    pub fn start(label: String, plan: Arc<dyn ExecutionPlan>, started: Instant) -> Ticker {
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let delay = delay();
        let task = tokio::spawn(async move {
            let mut bar: Option<indicatif::ProgressBar> = None;
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    _ = tick.tick() => {}
                }
                if started.elapsed() < delay {
                    continue;
                }
                let b = bar.get_or_insert_with(|| {
                    let b = indicatif::ProgressBar::with_draw_target(
                        None,
                        indicatif::ProgressDrawTarget::stderr(),
                    );
                    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}") {
                        b.set_style(style);
                    }
                    b
                });
                let m = ScanMetrics::of(&plan);
                b.set_message(format!(
                    "{label}: {} file{}, {} read, {:.1}s",
                    m.files.len(),
                    if m.files.len() == 1 { "" } else { "s" },
                    human_bytes(m.bytes()),
                    started.elapsed().as_secs_f64()
                ));
                b.tick();
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        Ticker {
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stop and clear the line (waits for the ticker so the next output starts on a clean line).
    pub async fn finish(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
