//! Aggregating a folder of processed days: the library call behind `capq aggregate` (and, later,
//! the end of `capq run` and the batch's aggregate job).
//!
//! The caller lists the folder (names, sizes, modification times) and supplies a `fetch`
//! function; this module decides per day whether its partial is current, fetches the partial
//! or the CSV, parses CSVs on `threads` threads, and merges the days as they finish. It does no
//! I/O of its own, so the same code serves local folders, S3 and tests.
//!
//! A partial is used only when it is *current*: its recorded source has the CSV's name and
//! length, the CSV was not modified after the partial was written (when both times are
//! known), and it decodes cleanly. Anything else means reading the CSV, which is always
//! correct, only slower (see `docs/aggregate.md`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use capmetrics::Date;

use crate::Error;
use crate::aggregate::{Aggregator, DayFlag};
use crate::partial::{DayPartial, partial_name};
use crate::report::{self, ReportOptions};
use crate::tables::{Aggregate, DayLists};
use crate::window::WindowChoice;

/// Reads a file of the input folder by name: `Ok(None)` when it is not there. Called from
/// several threads at once.
pub type Fetch<'a> = dyn Fn(&str) -> Result<Option<Vec<u8>>, Error> + Sync + 'a;

/// A file of the input folder, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    /// Length in bytes, when the listing tells it.
    pub size: Option<u64>,
    /// Last modification, when the listing tells it.
    pub modified: Option<SystemTime>,
}

/// One day of the input folder: its processed CSV, and its partial if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayEntry {
    pub day: Date,
    pub csv: FileInfo,
    pub partial: Option<FileInfo>,
}

/// What the file name says a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Csv,
    CsvGz,
    Partial,
}

fn classify(name: &str) -> Option<(Date, Kind)> {
    let (day, rest) = name.split_once('_')?;
    let kind = match rest {
        "processed.csv" => Kind::Csv,
        "processed.csv.gz" => Kind::CsvGz,
        "processed.partial" => Kind::Partial,
        _ => return None,
    };
    Some((day.parse().ok()?, kind))
}

/// Groups a folder listing into days: `<DAY>_processed.csv` (or `.csv.gz`) with its
/// `<DAY>_processed.partial`. Other files are ignored; a partial without its CSV is ignored
/// (the CSV is the record, a partial only a cache of it). When a day has both a `.csv` and a
/// `.csv.gz`, the `.csv` is used and the second return value says so.
pub fn folder_days(files: Vec<FileInfo>) -> (Vec<DayEntry>, Vec<String>) {
    let mut csvs: std::collections::BTreeMap<Date, (Kind, FileInfo)> = Default::default();
    let mut partials: std::collections::BTreeMap<Date, FileInfo> = Default::default();
    let mut warnings = Vec::new();
    for file in files {
        let Some((day, kind)) = classify(&file.name) else {
            continue;
        };
        match kind {
            Kind::Partial => {
                partials.insert(day, file);
            }
            Kind::Csv | Kind::CsvGz => match csvs.get(&day) {
                Some((existing, other)) => {
                    let (keep, drop) = if *existing == Kind::Csv {
                        (other.clone(), file)
                    } else {
                        (file, other.clone())
                    };
                    warnings.push(format!(
                        "{day}: both {} and {}; using {}",
                        keep.name, drop.name, keep.name
                    ));
                    csvs.insert(day, (Kind::Csv, keep));
                }
                None => {
                    csvs.insert(day, (kind, file));
                }
            },
        }
    }
    let entries = csvs
        .into_iter()
        .map(|(day, (_, csv))| DayEntry {
            day,
            csv,
            partial: partials.remove(&day),
        })
        .collect();
    (entries, warnings)
}

/// How an aggregate of a folder is made.
#[derive(Debug, Clone)]
pub struct FolderOptions {
    pub window: WindowChoice,
    /// The days asked for (`--days`); `None` for every day of the folder. Days asked for
    /// without a processed file are listed as missing.
    pub days: Option<Vec<Date>>,
    /// Days whose processing failed (from a run or a batch): listed as failed and never
    /// counted, even when an older processed file of theirs is still there.
    pub failed_days: Vec<Date>,
    /// Use current partials (otherwise every CSV is parsed).
    pub use_partials: bool,
    /// Return the partials of days read from their CSVs, for the caller to store.
    pub write_partials: bool,
    /// Threads that fetch and parse days.
    pub threads: usize,
    /// The report's title and whether it covers a batch still running.
    pub report: ReportOptions,
}

impl Default for FolderOptions {
    fn default() -> FolderOptions {
        FolderOptions {
            window: WindowChoice::default(),
            days: None,
            failed_days: Vec::new(),
            use_partials: true,
            write_partials: false,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            report: ReportOptions::default(),
        }
    }
}

/// Why a day was read from its partial or from its CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartialUse {
    /// Read from its current partial.
    Used,
    /// No partial next to the CSV.
    Absent,
    /// Partials were not to be used.
    Disabled,
    /// The partial does not describe the CSV as it is now.
    Stale(String),
    /// The partial could not be read (damaged, or of another format version).
    Unusable(String),
}

/// What happened to one day of the folder.
#[derive(Debug)]
pub enum DayOutcome {
    /// Counted: its flag, and where its numbers came from.
    Counted {
        day: Date,
        flag: DayFlag,
        source: PartialUse,
    },
    /// Its files could not be read or parsed; the day is listed as failed.
    Failed { day: Date, error: Error },
}

impl DayOutcome {
    pub fn day(&self) -> Date {
        match self {
            DayOutcome::Counted { day, .. } | DayOutcome::Failed { day, .. } => *day,
        }
    }
}

/// The aggregate of a folder, with what happened to each day.
#[derive(Debug)]
pub struct FolderOutput {
    pub aggregate: Aggregate,
    /// `report.html`, or why it could not be drawn.
    pub report_html: Result<String, Error>,
    /// One per day of the folder that was considered, by day.
    pub days: Vec<DayOutcome>,
    /// `(file name, bytes)` of partials made from CSVs, when asked for.
    pub new_partials: Vec<(String, Vec<u8>)>,
}

impl FolderOutput {
    /// True when some day of the folder could not be read.
    pub fn has_failures(&self) -> bool {
        self.days
            .iter()
            .any(|d| matches!(d, DayOutcome::Failed { .. }))
    }
}

/// A worker's result for one day.
struct Done {
    day: Date,
    result: Result<(DayPartial, PartialUse), Error>,
    new_partial: Option<(String, Vec<u8>)>,
}

/// Aggregates the days of a folder (see the module documentation). `fetch` reads a file of
/// the folder by name (`Ok(None)` when it is not there); it is called from `options.threads`
/// threads at once.
///
/// A day whose files cannot be read or parsed does not stop the others: it is reported in
/// [`FolderOutput::days`] and listed under `failed_days`. Errors of the aggregate itself (a
/// day twice, too many rows) are returned.
pub fn aggregate_folder(
    entries: &[DayEntry],
    fetch: &Fetch<'_>,
    options: &FolderOptions,
) -> Result<FolderOutput, Error> {
    let failed: std::collections::BTreeSet<Date> = options.failed_days.iter().copied().collect();
    let selected: Vec<&DayEntry> = entries
        .iter()
        .filter(|e| {
            options
                .days
                .as_ref()
                .is_none_or(|days| days.contains(&e.day))
        })
        .filter(|e| !failed.contains(&e.day))
        .collect();
    let mut lists = DayLists::default();
    if let Some(days) = &options.days {
        let present: std::collections::BTreeSet<Date> = entries.iter().map(|e| e.day).collect();
        lists.missing = days
            .iter()
            .filter(|d| !present.contains(d) && !failed.contains(d))
            .copied()
            .collect();
        lists.missing.sort();
        lists.missing.dedup();
    }

    // Each thread reads days and merges them into its own aggregator, so merging runs on
    // every core too; the aggregators are combined at the end (a sum, like any merge).
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let threads = options.threads.clamp(1, selected.len().max(1));
    type Worked = Result<(Aggregator, Vec<DayOutcome>, Vec<(String, Vec<u8>)>), Error>;
    let results: Vec<Worked> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (next, stop, selected) = (&next, &stop, &selected);
                scope.spawn(move || -> Worked {
                    let mut aggregator = Aggregator::new(options.window);
                    let mut outcomes = Vec::new();
                    let mut new_partials = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(entry) = selected.get(i) else { break };
                        let done = one_day(entry, fetch, options);
                        outcomes.push(match done.result {
                            Ok((partial, source)) => match aggregator.add_owned(partial) {
                                Ok(flag) => DayOutcome::Counted {
                                    day: done.day,
                                    flag,
                                    source,
                                },
                                Err(error) => {
                                    stop.store(true, Ordering::Relaxed);
                                    return Err(error);
                                }
                            },
                            Err(error) => DayOutcome::Failed {
                                day: done.day,
                                error,
                            },
                        });
                        new_partials.extend(done.new_partial);
                    }
                    // On this thread, while the others still work: what is combined below
                    // and finished is then small.
                    aggregator.compact();
                    Ok((aggregator, outcomes, new_partials))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut aggregator: Option<Aggregator> = None;
    let mut outcomes = Vec::with_capacity(selected.len());
    let mut new_partials = Vec::new();
    for result in results {
        let (part, days, partials) = result?;
        match &mut aggregator {
            None => aggregator = Some(part),
            Some(aggregator) => aggregator.absorb(part)?,
        }
        outcomes.extend(days);
        new_partials.extend(partials);
    }
    let aggregator = aggregator.unwrap_or_else(|| Aggregator::new(options.window));

    outcomes.sort_by_key(DayOutcome::day);
    new_partials.sort();
    lists.failed = failed.iter().copied().collect();
    lists.failed.extend(outcomes.iter().filter_map(|o| match o {
        DayOutcome::Failed { day, .. } => Some(*day),
        DayOutcome::Counted { .. } => None,
    }));
    lists.failed.sort();
    lists.failed.dedup();
    let aggregate = aggregator.finish(&lists);
    let report_html = report::render(&aggregate.files, &options.report);
    Ok(FolderOutput {
        aggregate,
        report_html,
        days: outcomes,
        new_partials,
    })
}

/// Reads one day of a folder as [`aggregate_folder`] does: from its partial when that is
/// current (and `use_partials`), else from its CSV. For callers that keep days between
/// aggregates, such as the dashboard's partial aggregate of a running batch, which reads each
/// day once as it ends.
pub fn read_day(
    entry: &DayEntry,
    fetch: &Fetch<'_>,
    use_partials: bool,
) -> Result<(DayPartial, PartialUse), Error> {
    let options = FolderOptions {
        use_partials,
        write_partials: false,
        threads: 1,
        ..FolderOptions::default()
    };
    one_day(entry, fetch, &options).result
}

/// Reads one day: its partial when current, else its CSV.
fn one_day(entry: &DayEntry, fetch: &Fetch<'_>, options: &FolderOptions) -> Done {
    let source = if !options.use_partials {
        PartialUse::Disabled
    } else {
        match &entry.partial {
            None => PartialUse::Absent,
            Some(partial) => match staleness(&entry.csv, partial) {
                Some(reason) => PartialUse::Stale(reason),
                None => match read_partial(entry, partial, fetch) {
                    Ok(partial) => {
                        return Done {
                            day: entry.day,
                            result: Ok((partial, PartialUse::Used)),
                            new_partial: None,
                        };
                    }
                    Err(reason) => reason,
                },
            },
        }
    };
    let result = fetch(&entry.csv.name).and_then(|bytes| {
        let bytes = bytes.ok_or_else(|| Error::Fetch {
            file: entry.csv.name.clone(),
            detail: "the file disappeared after the folder was listed".to_owned(),
            input_error: true,
        })?;
        if options.write_partials {
            DayPartial::from_csv(entry.day, &entry.csv.name, &bytes)
        } else {
            DayPartial::from_csv_unrecorded(entry.day, &entry.csv.name, &bytes)
        }
    });
    let new_partial = match (&result, options.write_partials) {
        (Ok(partial), true) => Some((partial_name(entry.day), partial.encode())),
        _ => None,
    };
    Done {
        day: entry.day,
        result: result.map(|p| (p, source)),
        new_partial,
    }
}

/// Why the listing alone shows the partial is not current, if it does.
fn staleness(csv: &FileInfo, partial: &FileInfo) -> Option<String> {
    if csv.size.is_none() {
        return Some("the listing does not give the CSV's size".to_owned());
    }
    match (csv.modified, partial.modified) {
        (Some(csv_time), Some(partial_time)) if csv_time > partial_time => {
            Some("the CSV was modified after its partial was written".to_owned())
        }
        _ => None,
    }
}

/// Fetches and decodes a partial, and checks that it describes the CSV as listed.
fn read_partial(
    entry: &DayEntry,
    partial: &FileInfo,
    fetch: &Fetch<'_>,
) -> Result<DayPartial, PartialUse> {
    let bytes = match fetch(&partial.name) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err(PartialUse::Absent),
        Err(error) => return Err(PartialUse::Unusable(error.to_string())),
    };
    let decoded = DayPartial::decode(&partial.name, &bytes)
        .map_err(|e| PartialUse::Unusable(e.to_string()))?;
    if decoded.day != entry.day {
        return Err(PartialUse::Unusable(format!(
            "it holds day {}, not {}",
            decoded.day, entry.day
        )));
    }
    let size = entry.csv.size.unwrap_or(u64::MAX);
    if !decoded.describes(&entry.csv.name, size) {
        let was = decoded.source().map_or_else(
            || "no recorded source".to_owned(),
            |s| format!("{} of {} bytes", s.name, s.len),
        );
        return Err(PartialUse::Stale(format!(
            "it was computed from {was}; {} has {size} bytes",
            entry.csv.name
        )));
    }
    Ok(decoded)
}
