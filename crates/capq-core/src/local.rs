//! The embedded runner: run a plan of days on N threads of this machine, through the one day
//! pipeline, into a run's output folder.
//!
//! Threads take the next day from a shared counter, so a slow day never holds up the others,
//! and all of them share one [`Catalog`](capmetrics::Catalog), so each metadata file is loaded
//! once. Every day ends in a report and a [`DayRecord`] for the run's manifest, success or not;
//! a failure never stops the rest of the batch.
//!
//! Worker threads stage each day's files; one committer thread syncs them, renames them into
//! place and syncs their folders before the day is reported (`docs/runs.md`, "Durability"), so
//! processing never waits for the disk. With an aggregate asked for, the committer also merges
//! the partial of each day it commits (built from the rows, so nothing is read back). Up-to-date days are merged afterwards, by [`RunReport::finish_aggregate`], and
//! only when the aggregate cannot be reused: its key ([`RunReport::aggregate_key`]) covers the
//! code, the window and every day's output hash, so a run whose days all came out as before
//! reuses the previous aggregate instead of reading a year of partials.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use capmetrics::{Cancel, Date, Diagnostics, Params};
use capq_aggregate::report::{self, ReportOptions};
use capq_aggregate::{Aggregate, Aggregator, DayLists, DayPartial, WindowChoice};
use capq_storage::{Location, Storage, StorageError};

use crate::layout::{OutputFolder, output_name};
use crate::pipeline::{DayError, ErrorKind, Pending as StagePending, Pipeline, Processed, Target};
use crate::runs::manifest::{DayRecord, DayStatus, InputsRecord, Reason};
use crate::runs::plan::{Decision, PlannedDay};

/// What to run.
#[derive(Debug, Clone)]
pub struct LocalRun {
    /// The run's id, recorded as `made_by` of the outputs it makes.
    pub run_id: String,
    pub days: Vec<PlannedDay>,
    pub folder: OutputFolder,
    pub params: Params,
    pub workers: usize,
    /// Merge the processed days' partials under this window, for the run's aggregate.
    pub aggregate: Option<WindowChoice>,
}

/// How one day ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Processed and stored (possibly header-only).
    Done(Diagnostics),
    /// Not processed: its output was up to date.
    UpToDate,
    /// The day has no positions file.
    Missing,
    /// The day could not be processed or stored; this run stored nothing for it.
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
    /// Why it was processed (processed and failed days).
    pub reason: Option<Reason>,
    /// Processed days: the output's bytes are the ones it had before.
    pub unchanged: bool,
    /// Time spent on this day, excluding waits for shared metadata.
    pub elapsed: Duration,
    /// Where the output is, for processed and up-to-date days.
    pub output: Option<Location>,
    /// The day's record for the run's manifest.
    pub record: DayRecord,
}

/// The whole batch, days in the order they were asked for.
#[derive(Debug)]
pub struct RunReport {
    pub days: Vec<DayReport>,
    pub wall: Duration,
    pub workers: usize,
    /// The aggregate of the processed days so far.
    pending: Option<Pending>,
}

/// A run's aggregate: its files, headline and `report.html` (or why it could not be drawn).
#[derive(Debug)]
pub struct FinishedAggregate {
    pub aggregate: Aggregate,
    pub report_html: Result<String, capq_aggregate::Error>,
}

/// A processed day on its way from a worker thread to the committer.
struct StagedDay {
    /// Its place in the plan.
    index: usize,
    report: DayReport,
    pending: StagePending,
    /// Its partial for the aggregate, merged once its files are in place.
    partial: Option<Result<DayPartial, capq_aggregate::Error>>,
}

#[derive(Debug)]
struct Pending {
    window: WindowChoice,
    parts: Vec<Aggregator>,
    /// Days whose partial could not be merged, with why.
    unmerged: Vec<(Date, String)>,
}

impl RunReport {
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }

    pub fn missing(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Missing))
    }

    /// Days processed by this run.
    pub fn done(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Done(_)))
    }

    pub fn up_to_date(&self) -> usize {
        self.count(|o| matches!(o, Outcome::UpToDate))
    }

    fn count(&self, what: impl Fn(&Outcome) -> bool) -> usize {
        self.days.iter().filter(|d| what(&d.outcome)).count()
    }

    /// The key of the run's aggregate: the aggregate code, the window, and each day with its
    /// output's hash (or its failure, or its absence). Equal keys, equal aggregates.
    pub fn aggregate_key(&self, window: WindowChoice) -> String {
        let mut text = format!(
            "capq run aggregate 1\n{}\n{}\n{}\n",
            crate::runs::AGGREGATE_FINGERPRINT,
            window.window(),
            window.profile().map_or("custom", |p| p.name())
        );
        let mut days: Vec<&DayReport> = self.days.iter().collect();
        days.sort_by_key(|d| d.day);
        for day in days {
            match (&day.outcome, day.record.output.as_ref()) {
                (Outcome::Done(_) | Outcome::UpToDate, Some(output)) => {
                    text.push_str(&format!("{} ok {}\n", day.day, output.hash));
                }
                (Outcome::Missing, _) => text.push_str(&format!("{} missing\n", day.day)),
                _ => text.push_str(&format!("{} failed\n", day.day)),
            }
        }
        capmetrics::fingerprint::fingerprint_text(&text)
    }

    /// Completes the run's aggregate: merges the up-to-date days' stored partials (reading a
    /// day's CSV instead when its partial is missing or stale, and storing a fresh partial),
    /// then writes the tables and the report. Days that cannot be merged are listed as failed,
    /// with a warning. `None` when the run was not asked for an aggregate.
    pub fn finish_aggregate(
        &mut self,
        pipeline: &Pipeline<'_>,
        folder: &OutputFolder,
        title: &str,
        threads: usize,
    ) -> Option<Result<FinishedAggregate, capq_aggregate::Error>> {
        let Pending {
            window,
            mut parts,
            mut unmerged,
        } = self.pending.take()?;
        let clock = Instant::now();
        let waiting: Vec<&DayReport> = self
            .days
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::UpToDate))
            .collect();
        let next = AtomicUsize::new(0);
        let loaded: Vec<(Aggregator, Vec<(Date, String)>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.clamp(1, waiting.len().max(1)))
                .map(|_| {
                    scope.spawn(|| {
                        let mut aggregator = Aggregator::new(window);
                        let mut failed = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(day) = waiting.get(i) else { break };
                            let merged = stored_partial(pipeline, folder, &day.record)
                                .and_then(|p| aggregator.add(&p).map_err(|e| e.to_string()));
                            if let Err(why) = merged {
                                tracing::warn!(day = %day.day, "left out of the aggregate: {why}");
                                failed.push((day.day, why));
                            }
                        }
                        (aggregator, failed)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        for (part, failed) in loaded {
            parts.push(part);
            unmerged.extend(failed);
        }
        tracing::debug!(
            days = waiting.len(),
            seconds = clock.elapsed().as_secs_f64(),
            "stored partials merged"
        );
        let mut all = Aggregator::new(window);
        for part in parts {
            if let Err(e) = all.absorb(part) {
                return Some(Err(e));
            }
        }
        let mut lists = DayLists::default();
        for day in &self.days {
            match day.outcome {
                Outcome::Missing => lists.missing.push(day.day),
                Outcome::Failed { .. } => lists.failed.push(day.day),
                Outcome::Done(_) | Outcome::UpToDate => {}
            }
        }
        lists.failed.extend(unmerged.iter().map(|(day, _)| *day));
        lists.missing.sort();
        lists.missing.dedup();
        lists.failed.sort();
        lists.failed.dedup();
        tracing::debug!(
            seconds = clock.elapsed().as_secs_f64(),
            "aggregators combined"
        );
        let aggregate = all.finish(&lists);
        tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "tables written");
        let html = report::render(
            &aggregate.files,
            &ReportOptions {
                title: title.to_owned(),
                partial: false,
                days_expected: None,
            },
        );
        tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "report drawn");
        Some(Ok(FinishedAggregate {
            aggregate,
            report_html: html,
        }))
    }
}

/// The partial of an up-to-date day: its stored version if current, else made from its CSV
/// (and stored, best effort, for next time).
fn stored_partial(
    pipeline: &Pipeline<'_>,
    folder: &OutputFolder,
    record: &DayRecord,
) -> Result<DayPartial, String> {
    let day = record.day;
    let (Some(output), Some(hash)) = (&record.output, record.output_hash()) else {
        return Err("no output recorded".to_owned());
    };
    let name = output_name(day);
    let fetch = |location: &Location| {
        pipeline
            .runtime
            .block_on(pipeline.storage.get(location))
            .map_err(|e| e.to_string())
    };
    // The day's partial beside its output (the latest), else the one kept with its version.
    let user_partial = folder.partial(day);
    let version_partial = folder.version_partial(day, hash);
    for location in [&user_partial, &version_partial] {
        let Some(bytes) = fetch(location)? else {
            continue;
        };
        match DayPartial::decode(&location.to_string(), &bytes) {
            Ok(partial)
                if partial.day() == day
                    && partial
                        .source()
                        .is_some_and(|s| s.hash == hash && s.len == output.size) =>
            {
                return Ok(partial);
            }
            Ok(_) => tracing::debug!(%day, "{location} describes another output"),
            Err(e) => tracing::info!(%day, "{location} unusable ({e})"),
        }
    }
    // No current partial: made from the CSV, and stored beside it for next time.
    let bytes = match fetch(&folder.output(day))? {
        Some(bytes) if xxhash_rust::xxh64::xxh64(&bytes, 0) == hash => bytes,
        _ => fetch(&folder.version(day, hash))?.ok_or_else(|| format!("{name} is gone"))?,
    };
    let partial = DayPartial::from_csv(day, &name, &bytes).map_err(|e| e.to_string())?;
    let target = if partial.source().is_some_and(|s| s.hash == hash) {
        Some(&user_partial)
    } else {
        None
    };
    if let Some(target) = target {
        let encoded = bytes::Bytes::from(partial.encode());
        if let Err(e) = pipeline
            .runtime
            .block_on(pipeline.storage.put(target, encoded))
        {
            tracing::warn!(%day, "could not store the day's new partial: {e}");
        }
    }
    Ok(partial)
}

impl LocalRun {
    /// Runs the plan, calling `progress` on this thread as each day finishes.
    ///
    /// Worker threads process and stage the days (their files written complete beside their
    /// places, see [`Pipeline::store_staged`]); one committer thread syncs each staged file and
    /// renames it into place, syncs the folders the renames happened in, and only then reports
    /// the day (and merges its partial into the aggregate). So processing never waits for the
    /// disk, and a day reported stored is on disk: its output survives a crash from then on.
    /// The committer takes every day staged while it was busy in one round, under one sync per
    /// folder. `docs/runs.md` ("Durability") says what a crash leaves.
    pub fn run(&self, pipeline: &Pipeline<'_>, mut progress: impl FnMut(&DayReport)) -> RunReport {
        let started = Instant::now();
        let workers = self.workers.clamp(1, self.days.len().max(1));
        let next = AtomicUsize::new(0);
        // Bounded: when the disk falls behind, the workers wait for it rather than holding
        // more days in memory.
        let (staged_sender, staged) = mpsc::sync_channel(2 * workers);
        let (done_sender, done) = mpsc::channel();
        let mut slots: Vec<Option<DayReport>> = vec![None; self.days.len()];
        let (aggregator, unmerged) = std::thread::scope(|scope| {
            for _ in 0..workers {
                let sender = staged_sender.clone();
                let next = &next;
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(planned) = self.days.get(i) else {
                            break;
                        };
                        if sender.send(self.run_day(pipeline, i, planned)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(staged_sender);
            let committer = scope.spawn(move || self.commit_days(&staged, &done_sender));
            for (i, report) in done {
                progress(&report);
                slots[i] = Some(report);
            }
            committer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        });
        RunReport {
            days: slots.into_iter().flatten().collect(),
            wall: started.elapsed(),
            workers,
            pending: self.aggregate.map(|window| Pending {
                window,
                parts: aggregator.into_iter().collect(),
                unmerged,
            }),
        }
    }

    /// The committer: commits the staged days in rounds and hands each one's report to `done`
    /// once its files are durable in place; merges the partials of the stored days. Returns
    /// the aggregate so far and the days left out of it.
    fn commit_days(
        &self,
        staged: &mpsc::Receiver<StagedDay>,
        done: &mpsc::Sender<(usize, DayReport)>,
    ) -> (Option<Aggregator>, Vec<(Date, String)>) {
        let mut aggregator = self.aggregate.map(Aggregator::new);
        let mut unmerged = Vec::new();
        while let Ok(first) = staged.recv() {
            let mut round: Vec<(StagedDay, Result<Vec<PathBuf>, DayError>)> =
                std::iter::once(first)
                    .chain(staged.try_iter())
                    .map(|mut day| {
                        let committed = std::mem::take(&mut day.pending)
                            .commit()
                            .map_err(|e| DayError::storage(day.report.day, &e));
                        (day, committed)
                    })
                    .collect();
            // One sync per folder for the whole round; a day counts as stored only when all
            // of its folders synced.
            let folders: BTreeSet<&PathBuf> = round
                .iter()
                .filter_map(|(_, committed)| committed.as_ref().ok())
                .flatten()
                .collect();
            let failed_folders: Vec<(PathBuf, StorageError)> = folders
                .into_iter()
                .filter_map(|folder| {
                    Storage::sync_folder(folder)
                        .err()
                        .map(|e| (folder.clone(), e))
                })
                .collect();
            for (day, committed) in &mut round {
                if let Ok(folders) = committed
                    && let Some((_, error)) =
                        failed_folders.iter().find(|(f, _)| folders.contains(f))
                {
                    *committed = Err(DayError::storage(day.report.day, error));
                }
            }
            for (day, committed) in round {
                let report = match committed {
                    Ok(_) => {
                        if let (Some(aggregator), Some(partial)) =
                            (aggregator.as_mut(), day.partial)
                            && let Err(e) = partial.and_then(|p| aggregator.add(&p))
                        {
                            tracing::warn!(day = %day.report.day, "left out of the aggregate: {e}");
                            unmerged.push((day.report.day, e.to_string()));
                        }
                        day.report
                    }
                    Err(error) => self.uncommitted_report(day.index, day.report, &error),
                };
                if done.send((day.index, report)).is_err() {
                    break;
                }
            }
        }
        (aggregator, unmerged)
    }

    /// The report of a day whose staged files could not be committed: failed, as a storage
    /// failure is.
    fn uncommitted_report(&self, index: usize, report: DayReport, error: &DayError) -> DayReport {
        match (self.days.get(index), report.reason) {
            (Some(planned), Some(reason)) => {
                self.failed_report(planned, reason, error, report.elapsed)
            }
            // Only processed days have files to commit.
            _ => report,
        }
    }

    /// One day, processed and staged: its report, its writes still to commit, and (with an
    /// aggregate asked for) its partial.
    fn run_day(&self, pipeline: &Pipeline<'_>, index: usize, planned: &PlannedDay) -> StagedDay {
        let (report, processed, pending) = self.stage_day(pipeline, planned);
        let partial =
            processed
                .filter(|_| self.aggregate.is_some())
                .map(|processed| match processed.partial {
                    Some(partial) => Ok(partial),
                    None => DayPartial::from_csv(
                        processed.day,
                        &output_name(processed.day),
                        &processed.csv,
                    ),
                });
        StagedDay {
            index,
            report,
            pending,
            partial,
        }
    }

    /// One day: its report, the processed day when it was stored, and its staged writes.
    fn stage_day(
        &self,
        pipeline: &Pipeline<'_>,
        planned: &PlannedDay,
    ) -> (DayReport, Option<Processed>, StagePending) {
        let day = planned.day;
        let reason = match planned.decision {
            Decision::Missing => {
                let report = DayReport {
                    day,
                    outcome: Outcome::Missing,
                    reason: None,
                    unchanged: false,
                    elapsed: Duration::ZERO,
                    output: None,
                    record: DayRecord::bare(day, DayStatus::Missing),
                };
                return (report, None, StagePending::default());
            }
            Decision::UpToDate => {
                let record = planned
                    .carried()
                    .unwrap_or_else(|| DayRecord::bare(day, DayStatus::UpToDate));
                let report = DayReport {
                    day,
                    outcome: Outcome::UpToDate,
                    reason: None,
                    unchanged: false,
                    elapsed: Duration::ZERO,
                    output: Some(self.folder.output(day)),
                    record,
                };
                return (report, None, StagePending::default());
            }
            Decision::Process(reason) => reason,
        };
        let started = Instant::now();
        let target = Target::Folder {
            folder: self.folder.clone(),
            previous: planned.previous(),
        };
        let result =
            pipeline
                .process(day, &self.params, Cancel::NEVER)
                .and_then(|mut processed| {
                    let (stored, pending) = pipeline.store_staged(&mut processed, &target)?;
                    Ok((processed, stored, pending))
                });
        match result {
            Ok((processed, stored, pending)) => {
                tracing::info!(%day, diagnostics = %processed.diagnostics, "day processed");
                // Charged with its own work and storing, not with waiting for shared metadata.
                let elapsed = started.elapsed().saturating_sub(processed.metadata_wait);
                let mut record = crate::runs::processed_record(
                    &processed,
                    &stored,
                    Some(reason),
                    &self.run_id,
                    elapsed,
                );
                if record.inputs.is_none() {
                    record.inputs = planned.inputs.as_ref().map(InputsRecord::of);
                }
                let report = DayReport {
                    day,
                    outcome: Outcome::Done(processed.diagnostics),
                    reason: Some(reason),
                    unchanged: stored.unchanged,
                    elapsed,
                    output: Some(stored.output),
                    record,
                };
                (report, Some(processed), pending)
            }
            Err(error) => {
                let report = self.failed_report(planned, reason, &error, started.elapsed());
                (report, None, StagePending::default())
            }
        }
    }

    fn failed_report(
        &self,
        planned: &PlannedDay,
        reason: Reason,
        error: &DayError,
        elapsed: Duration,
    ) -> DayReport {
        let day = planned.day;
        if error.kind == ErrorKind::Missing {
            return DayReport {
                day,
                outcome: Outcome::Missing,
                reason: None,
                unchanged: false,
                elapsed,
                output: None,
                record: DayRecord::bare(day, DayStatus::Missing),
            };
        }
        tracing::warn!(%day, error = %error, "day failed");
        let record = crate::runs::failed_record(
            day,
            error,
            Some(reason),
            &self.params,
            planned.inputs.as_ref(),
            elapsed,
        );
        DayReport {
            day,
            outcome: Outcome::Failed {
                error: error.message.clone(),
                input_error: error.is_input_error(),
            },
            reason: Some(reason),
            unchanged: false,
            elapsed,
            output: None,
            record,
        }
    }
}
