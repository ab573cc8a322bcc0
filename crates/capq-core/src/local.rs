//! The embedded runner: process a list of days on N threads of this machine.
//!
//! Threads take the next day from a shared counter, so a slow day never holds up the others,
//! and all of them share one [`Catalog`], so each metadata file is loaded once. Every day ends
//! in a report, success or not; a failure never stops the rest of the batch.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use capmetrics::output::write_atomically;
use capmetrics::{Catalog, DataSource, Date, Diagnostics};

/// What to run.
#[derive(Debug, Clone)]
pub struct LocalRun {
    pub days: Vec<Date>,
    pub output_dir: PathBuf,
    pub workers: usize,
}

/// How one day ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Processed and written (possibly header-only).
    Done(Diagnostics),
    /// The day has no positions file.
    Missing,
    /// The day could not be processed; nothing was written.
    Failed {
        error: String,
        /// True when the input was at fault rather than the machine.
        input_error: bool,
    },
}

/// One day's result.
#[derive(Debug, Clone)]
pub struct DayReport {
    pub day: Date,
    pub outcome: Outcome,
    /// Time spent on this day, excluding waits for shared metadata.
    pub elapsed: Duration,
    /// Where the output was written, on success.
    pub output: Option<PathBuf>,
}

/// The whole batch, days in the order they were asked for.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub days: Vec<DayReport>,
    pub wall: Duration,
    pub workers: usize,
}

impl RunReport {
    pub fn failed(&self) -> usize {
        self.days
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::Failed { .. }))
            .count()
    }

    pub fn missing(&self) -> usize {
        self.days
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::Missing))
            .count()
    }

    pub fn done(&self) -> usize {
        self.days
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::Done(_)))
            .count()
    }
}

/// The output file name of a day, as the old system named it.
pub fn output_name(day: Date) -> String {
    format!("{day}_processed.csv")
}

impl LocalRun {
    /// Runs every day, calling `progress` on this thread as each one finishes.
    pub fn run<S: DataSource>(
        &self,
        catalog: &Catalog<S>,
        mut progress: impl FnMut(&DayReport),
    ) -> RunReport {
        let started = Instant::now();
        let workers = self.workers.clamp(1, self.days.len().max(1));
        let next = AtomicUsize::new(0);
        let (sender, receiver) = mpsc::channel();
        let mut slots: Vec<Option<DayReport>> = vec![None; self.days.len()];
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let sender = sender.clone();
                let next = &next;
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&day) = self.days.get(i) else { break };
                        let report = run_day(catalog, day, &self.output_dir);
                        if sender.send((i, report)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(sender);
            for (i, report) in receiver {
                progress(&report);
                slots[i] = Some(report);
            }
        });
        RunReport {
            days: slots.into_iter().flatten().collect(),
            wall: started.elapsed(),
            workers,
        }
    }
}

fn run_day<S: DataSource>(catalog: &Catalog<S>, day: Date, output_dir: &Path) -> DayReport {
    let started = Instant::now();
    let result = catalog.process(day).and_then(|out| {
        let path = output_dir.join(output_name(day));
        write_atomically(&path, &out.csv)?;
        Ok((out, path))
    });
    let (outcome, output, elapsed) = match result {
        Ok((out, path)) => {
            // Charge the day only with its own work, not with waiting for a shared schedule.
            let elapsed = started.elapsed().saturating_sub(out.metadata_wait);
            tracing::info!(%day, diagnostics = %out.diagnostics, "day processed");
            (Outcome::Done(out.diagnostics), Some(path), elapsed)
        }
        Err(e) if e.is_missing_day() => (Outcome::Missing, None, started.elapsed()),
        Err(e) => {
            tracing::warn!(%day, error = %e, "day failed");
            let failed = Outcome::Failed {
                error: e.to_string(),
                input_error: e.is_input_error(),
            };
            (failed, None, started.elapsed())
        }
    };
    DayReport {
        day,
        outcome,
        elapsed,
        output,
    }
}
