//! The aggregates behind batch pages, read from storage and cached per batch.
//!
//! A batch whose aggregate job has finished shows the aggregate that job stored: its six
//! tables and `summary.json` are read from the aggregate folder, and the report is drawn from
//! them (the same renderer as `report.html`, under the dashboard's own stylesheet and policy).
//! While the batch runs, the page shows a *partial* aggregate over the days done so far, labelled
//! as such: each day that has finished is read once, from its partial when current and from its
//! CSV otherwise, and kept in memory as an encoded partial (about 230 kB a day); the aggregate is
//! then merged from those, so a page view never re-reads a year. A day that failed is listed as
//! failed; one whose job has not ended is left out until it does.
//!
//! What a view was made from is its *key*: for a partial aggregate, which days were done and
//! which failed; for a finished one, when the job ended. A page asking for a batch whose key has
//! changed starts a new computation at most every `Config::report_refresh` (the live updates ask
//! every two seconds), on a blocking thread, and waits for it up to `Config::report_wait`; past
//! that it answers with what it has, and the computation goes on and fills the cache. One
//! computation per batch runs at a time. A few batches are kept, the least recently viewed
//! dropped first.
//!
//! The dashboard reads only under the prefixes it is given (`--read-outputs`): a batch names its
//! own output folder, and whoever can write Redis is not trusted with every file the dashboard's
//! user can read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use capmetrics::Date;
use capq_aggregate::report::{AggregateFiles, ReportOptions, render_fragment};
use capq_aggregate::{
    Aggregator, DayEntry, DayLists, DayPartial, FileInfo, WindowChoice, read_day,
};
use capq_redis::{BatchDay, BatchInfo};
use capq_storage::{Location, OutputAllowList, Storage};
use serde::Serialize;

use crate::format;

/// Batches whose aggregate is kept.
const KEEP: usize = 6;

/// Threads that read new days of a partial aggregate.
const READERS: usize = 8;

/// The files of an aggregate folder the page is drawn from (`report.html` is drawn again).
const DRAWN_FROM: [&str; 7] = [
    "system_daily.csv",
    "route.csv",
    "route_hour.csv",
    "stop.csv",
    "histogram.csv",
    "headway.csv",
    "summary.json",
];

/// Where the dashboard may read batch outputs and aggregates.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub storage: Storage,
    /// Only locations under these prefixes are read.
    pub allowed: OutputAllowList,
}

impl Outputs {
    /// The location `text` names, if the dashboard may read it.
    pub fn readable(&self, text: &str) -> Result<Location, String> {
        let location = Location::parse(text).map_err(|e| e.to_string())?;
        self.allowed.check(&location).map_err(|_| {
            format!(
                "the dashboard reads only under {} (its --read-outputs), not {text}",
                self.allowed
            )
        })?;
        Ok(location)
    }
}

/// Which aggregate a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// The aggregate the batch's job stored.
    Final,
    /// Merged by the dashboard from the days done so far.
    Partial,
}

/// A batch's aggregate, drawn.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    pub kind: ReportKind,
    /// `report.html`'s content, without its page (`render_fragment`).
    #[serde(skip)]
    pub fragment: String,
    /// `summary.json`, parsed.
    pub summary: serde_json::Value,
    /// Seconds since the epoch.
    pub computed_at: f64,
    /// Changes whenever the figures may have: the page's live updates swap the report only
    /// then.
    pub version: String,
    /// What could not be counted, and why.
    pub notes: Vec<String>,
}

/// What the page knows about a batch and its aggregate job, from Redis.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub batch: BatchInfo,
    /// Where the aggregate job writes.
    pub folder: String,
    pub days: Vec<BatchDay>,
    /// The aggregate job's status; `None` when its record is gone (it finished a while ago).
    pub job_status: Option<String>,
    pub job_ended_at: String,
    /// The window the aggregate job asks for.
    pub window: WindowChoice,
}

impl ReportRequest {
    fn kind(&self) -> ReportKind {
        match self.job_status.as_deref() {
            None | Some("finished") => ReportKind::Final,
            Some(_) => ReportKind::Partial,
        }
    }

    /// What a view of this request is made from.
    fn key(&self) -> String {
        match self.kind() {
            ReportKind::Final => format!("final {}", self.job_ended_at),
            ReportKind::Partial => {
                let (done, failed, _) = split_days(&self.days);
                let mut text = String::from("partial");
                for (day, _) in &done {
                    text.push_str(" +");
                    text.push_str(&day.to_string());
                }
                for day in &failed {
                    text.push_str(" -");
                    text.push_str(&day.to_string());
                }
                text
            }
        }
    }
}

/// A batch's days by how their jobs stand: done (finished, or finished long enough ago that
/// the record expired), failed (failed, stopped, canceled), and the rest. Days that do not
/// parse are left out.
pub fn split_days(days: &[BatchDay]) -> (Vec<(Date, String)>, Vec<Date>, Vec<Date>) {
    let (mut done, mut failed, mut pending) = (Vec::new(), Vec::new(), Vec::new());
    for day in days {
        let Ok(date) = day.day.parse::<Date>() else {
            continue;
        };
        match day.status.as_deref() {
            None | Some("finished") => done.push((date, day.job_id.clone())),
            Some("failed" | "stopped" | "canceled") => failed.push(date),
            Some(_) => pending.push(date),
        }
    }
    (done, failed, pending)
}

/// How a batch's view stands.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The latest view, which may be of an older key while a newer one is computed.
    pub view: Option<Arc<ReportView>>,
    /// Why the latest computation failed, if it did.
    pub error: Option<String>,
    /// A computation is running.
    pub computing: bool,
}

/// One day of a partial aggregate, as read.
#[derive(Debug, Clone)]
struct KeptDay {
    csv: FileInfo,
    partial: Vec<u8>,
}

#[derive(Debug, Default)]
struct Cached {
    view: Option<Arc<ReportView>>,
    error: Option<String>,
    key: Option<String>,
    computed_at: Option<Instant>,
    running: bool,
    days: BTreeMap<Date, KeptDay>,
    last_used: Option<Instant>,
}

/// Every cached batch.
#[derive(Debug, Default)]
pub struct Reports {
    batches: Mutex<Vec<(String, Arc<Mutex<Cached>>)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Reports {
    fn entry(&self, batch: &str) -> Arc<Mutex<Cached>> {
        let mut batches = lock(&self.batches);
        if let Some((_, entry)) = batches.iter().find(|(id, _)| id == batch) {
            return Arc::clone(entry);
        }
        if batches.len() >= KEEP {
            // Drop the least recently viewed batch that is not being computed.
            let oldest = batches
                .iter()
                .enumerate()
                .filter(|(_, (_, e))| !lock(e).running)
                .min_by_key(|(_, (_, e))| lock(e).last_used)
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                batches.remove(i);
            }
        }
        let entry = Arc::new(Mutex::new(Cached::default()));
        batches.push((batch.to_owned(), Arc::clone(&entry)));
        entry
    }

    /// The batch's view, brought up to date if it is stale and not refreshed too recently.
    pub async fn lookup(
        &self,
        outputs: &Outputs,
        request: ReportRequest,
        refresh: Duration,
        wait: Duration,
    ) -> Lookup {
        let entry = self.entry(&request.batch.id);
        let key = request.key();
        let task = {
            let mut cached = lock(&entry);
            cached.last_used = Some(Instant::now());
            let fresh = cached.key.as_deref() == Some(key.as_str());
            let recent = cached.computed_at.is_some_and(|at| at.elapsed() < refresh);
            let have_something = cached.view.is_some() || cached.error.is_some();
            if cached.running || fresh || (recent && have_something) {
                return Lookup {
                    view: cached.view.clone(),
                    error: cached.error.clone(),
                    computing: cached.running,
                };
            }
            cached.running = true;
            let days = std::mem::take(&mut cached.days);
            let outputs = outputs.clone();
            let entry = Arc::clone(&entry);
            tokio::spawn(async move {
                let computed = tokio::task::spawn_blocking({
                    let handle = tokio::runtime::Handle::current();
                    move || compute(&handle, &outputs, &request, days)
                })
                .await;
                let mut cached = lock(&entry);
                cached.running = false;
                cached.computed_at = Some(Instant::now());
                match computed {
                    Ok((Ok(view), days)) => {
                        cached.view = Some(Arc::new(view));
                        cached.error = None;
                        cached.key = Some(key);
                        cached.days = days;
                    }
                    // The last view stays (a partial one says so); the error is shown with it.
                    Ok((Err(error), days)) => {
                        tracing::warn!(%error, "cannot draw a batch's aggregate");
                        cached.error = Some(error);
                        cached.days = days;
                    }
                    Err(panic) => cached.error = Some(format!("the computation stopped: {panic}")),
                }
            })
        };
        let _ = tokio::time::timeout(wait, task).await;
        let cached = lock(&entry);
        Lookup {
            view: cached.view.clone(),
            error: cached.error.clone(),
            computing: cached.running,
        }
    }
}

/// Draws a batch's aggregate (blocking). Returns the days kept for the next partial view.
fn compute(
    handle: &tokio::runtime::Handle,
    outputs: &Outputs,
    request: &ReportRequest,
    days: BTreeMap<Date, KeptDay>,
) -> (Result<ReportView, String>, BTreeMap<Date, KeptDay>) {
    match request.kind() {
        ReportKind::Final => (stored(handle, outputs, request), days),
        ReportKind::Partial => partial(handle, outputs, request, days),
    }
}

fn title(batch: &BatchInfo) -> String {
    format!("On-time performance: {}", batch.output)
}

fn version(key: &str) -> String {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The aggregate the batch's job stored.
fn stored(
    handle: &tokio::runtime::Handle,
    outputs: &Outputs,
    request: &ReportRequest,
) -> Result<ReportView, String> {
    let folder = outputs.readable(&request.folder)?;
    let read = |name: &str| -> Result<Vec<u8>, String> {
        let location = folder.join(name);
        handle
            .block_on(outputs.storage.get(&location))
            .map_err(|e| e.to_string())?
            .map(|b| b.to_vec())
            .ok_or_else(|| format!("{location} is not there"))
    };
    let mut files = AggregateFiles::default();
    for name in DRAWN_FROM {
        let bytes = read(name).map_err(|e| {
            format!("the aggregate job finished, but its folder cannot be read: {e}")
        })?;
        let slot = match name {
            "system_daily.csv" => &mut files.system_daily,
            "route.csv" => &mut files.route,
            "route_hour.csv" => &mut files.route_hour,
            "stop.csv" => &mut files.stop,
            "histogram.csv" => &mut files.histogram,
            "headway.csv" => &mut files.headway,
            _ => &mut files.summary_json,
        };
        *slot = bytes;
    }
    let options = ReportOptions {
        title: title(&request.batch),
        partial: false,
        days_expected: None,
    };
    view(
        ReportKind::Final,
        &files,
        &options,
        &request.key(),
        Vec::new(),
    )
}

fn view(
    kind: ReportKind,
    files: &AggregateFiles,
    options: &ReportOptions,
    key: &str,
    notes: Vec<String>,
) -> Result<ReportView, String> {
    let fragment = render_fragment(files, options).map_err(|e| e.to_string())?;
    let summary = serde_json::from_slice(&files.summary_json).map_err(|e| e.to_string())?;
    Ok(ReportView {
        kind,
        fragment,
        summary,
        computed_at: format::seconds_since_epoch(SystemTime::now()),
        version: version(key),
        notes,
    })
}

/// The partial aggregate of the days done so far.
fn partial(
    handle: &tokio::runtime::Handle,
    outputs: &Outputs,
    request: &ReportRequest,
    mut kept: BTreeMap<Date, KeptDay>,
) -> (Result<ReportView, String>, BTreeMap<Date, KeptDay>) {
    let input = match outputs.readable(&request.batch.output) {
        Ok(input) => input,
        Err(e) => return (Err(e), kept),
    };
    let entries = match capq_core::stored_aggregate::list_days(handle, &outputs.storage, &input) {
        Ok(entries) => entries,
        Err(e) => return (Err(e.to_string()), kept),
    };
    let by_day: BTreeMap<Date, &DayEntry> = entries.iter().map(|e| (e.day, e)).collect();
    let (done, mut failed, _) = split_days(&request.days);
    let done: BTreeSet<Date> = done.into_iter().map(|(day, _)| day).collect();
    // Days no longer done (requeued), or whose file changed, are read again.
    kept.retain(|day, k| done.contains(day) && by_day.get(day).is_some_and(|e| e.csv == k.csv));
    let mut missing = Vec::new();
    let mut to_read = Vec::new();
    for day in &done {
        match by_day.get(day) {
            None => missing.push(*day),
            Some(entry) if !kept.contains_key(day) => to_read.push(*entry),
            Some(_) => {}
        }
    }
    let mut notes = Vec::new();
    for (entry, read) in read_days(handle, &outputs.storage, &input, &to_read) {
        match read {
            Ok(partial) => {
                kept.insert(
                    entry.day,
                    KeptDay {
                        csv: entry.csv.clone(),
                        partial: partial.encode(),
                    },
                );
            }
            Err(e) => {
                notes.push(format!("{}: not counted: {e}", entry.day));
                failed.push(entry.day);
            }
        }
    }
    let mut aggregator = Aggregator::new(request.window);
    for (day, k) in &kept {
        let added = DayPartial::decode(&capq_aggregate::partial_name(*day), &k.partial)
            .and_then(|partial| aggregator.add(&partial));
        if let Err(e) = added {
            return (Err(e.to_string()), kept);
        }
    }
    failed.sort();
    failed.dedup();
    missing.sort();
    let aggregate = aggregator.finish(&DayLists { missing, failed });
    let options = ReportOptions {
        title: title(&request.batch),
        partial: true,
        days_expected: Some(request.batch.size),
    };
    let drawn = view(
        ReportKind::Partial,
        &aggregate.files,
        &options,
        &request.key(),
        notes,
    );
    (drawn, kept)
}

/// Reads days on a few threads.
fn read_days<'a>(
    handle: &tokio::runtime::Handle,
    storage: &Storage,
    input: &Location,
    entries: &[&'a DayEntry],
) -> Vec<(&'a DayEntry, Result<DayPartial, String>)> {
    let fetch = |name: &str| capq_core::stored_aggregate::fetch(handle, storage, input, name);
    let next = AtomicUsize::new(0);
    let threads = READERS.min(entries.len());
    let mut results: Vec<(&DayEntry, Result<DayPartial, String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (next, fetch) = (&next, &fetch);
                scope.spawn(move || {
                    let mut out = Vec::new();
                    while let Some(entry) = entries.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let read = read_day(entry, fetch, true)
                            .map(|(partial, _)| partial)
                            .map_err(|e| e.to_string());
                        out.push((*entry, read));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(entry, _)| entry.day);
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: &str, status: Option<&str>) -> BatchDay {
        BatchDay {
            day: day.to_owned(),
            job_id: format!("job-{day}"),
            status: status.map(str::to_owned),
        }
    }

    #[test]
    fn days_split_by_how_their_jobs_stand() {
        let (done, failed, pending) = split_days(&[
            day("2016-11-24", Some("finished")),
            day("2016-11-25", None),
            day("2016-11-26", Some("failed")),
            day("2016-11-27", Some("stopped")),
            day("2016-11-28", Some("started")),
            day("2016-11-29", Some("queued")),
            day("not a day", Some("finished")),
        ]);
        let d = |t: &str| t.parse::<Date>().unwrap();
        assert_eq!(
            done,
            [
                (d("2016-11-24"), "job-2016-11-24".to_owned()),
                (d("2016-11-25"), "job-2016-11-25".to_owned())
            ]
        );
        assert_eq!(failed, [d("2016-11-26"), d("2016-11-27")]);
        assert_eq!(pending, [d("2016-11-28"), d("2016-11-29")]);
    }

    #[test]
    fn the_key_changes_with_the_days_done_and_failed_only() {
        let request = |days: Vec<BatchDay>, status: &str| ReportRequest {
            batch: BatchInfo::default(),
            folder: "out/aggregate/".into(),
            days,
            job_status: Some(status.to_owned()),
            job_ended_at: String::new(),
            window: WindowChoice::default(),
        };
        let a = request(vec![day("2016-11-24", Some("finished"))], "deferred");
        let b = request(
            vec![day("2016-11-24", None), day("2016-11-25", Some("started"))],
            "deferred",
        );
        let c = request(vec![day("2016-11-24", Some("failed"))], "deferred");
        assert_eq!(
            a.key(),
            b.key(),
            "a day running does not change the figures"
        );
        assert_ne!(a.key(), c.key());
        assert_eq!(a.kind(), ReportKind::Partial);
        let finished = request(vec![], "finished");
        assert_eq!(finished.kind(), ReportKind::Final);
        assert_ne!(finished.key(), a.key());
    }
}
