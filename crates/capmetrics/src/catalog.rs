//! Processing days from a data source, with each metadata file loaded once and shared.
//!
//! A year of days uses a handful of stops and schedule files, and a schedule takes far longer to
//! load than a day takes to process. The catalog keeps the files it loaded last, keyed by name,
//! each behind its own lock: when several threads want the same file at once, one loads it and
//! the others wait for it instead of loading it again. Failures are not kept, so a file that
//! could not be fetched is tried again by the next day that needs it.
//!
//! At most [`KEPT`] files of each kind are kept, the least recently used dropped first (a day
//! still processing with a dropped file keeps it alive until it ends): days come in date
//! order, so a year's run needs the current service period and, where threads straddle a
//! boundary, the next, not every period of the year in memory at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::date::Date;
use crate::diagnostics::Diagnostics;
use crate::error::{Cancel, Error, Result};
use crate::input::Input;
use crate::metadata::{MetadataKind, choose};
use crate::params::Params;
use crate::positions::Positions;
use crate::process::process_positions;
use crate::rows::RowSink;
use crate::schedule::Schedule;
use crate::source::DataSource;
use crate::stops::Stops;

type Slot<T> = Arc<Mutex<Option<Arc<T>>>>;

/// Metadata files of each kind kept loaded.
pub const KEPT: usize = 4;

/// The files of one kind kept loaded, each with when it was last asked for.
struct Cache<T> {
    slots: HashMap<String, (Slot<T>, u64)>,
    clock: u64,
}

impl<T> Default for Cache<T> {
    fn default() -> Cache<T> {
        Cache {
            slots: HashMap::new(),
            clock: 0,
        }
    }
}

impl<T> Cache<T> {
    /// The slot of `name`, made if new; the least recently used slot goes when more than
    /// [`KEPT`] would be kept.
    fn slot(&mut self, name: &str) -> Slot<T> {
        self.clock += 1;
        let now = self.clock;
        if let Some((slot, used)) = self.slots.get_mut(name) {
            *used = now;
            return Arc::clone(slot);
        }
        if self.slots.len() >= KEPT
            && let Some(oldest) = self
                .slots
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(name, _)| name.clone())
        {
            self.slots.remove(&oldest);
        }
        let slot = Slot::default();
        self.slots.insert(name.to_owned(), (Arc::clone(&slot), now));
        slot
    }

    #[cfg(test)]
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.slots.keys().cloned().collect();
        names.sort();
        names
    }
}

/// A data source plus the metadata files loaded from it lately.
pub struct Catalog<S> {
    source: S,
    stops: Mutex<Cache<Stops>>,
    schedules: Mutex<Cache<Schedule>>,
}

impl<S> std::fmt::Debug for Catalog<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

/// The files a day was processed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayFiles {
    pub positions: String,
    pub stops: String,
    pub schedule: String,
}

/// A processed day: its CSV and what happened to its rows.
#[derive(Debug, Clone)]
pub struct DayOutput {
    pub day: Date,
    pub csv: Vec<u8>,
    pub diagnostics: Diagnostics,
    pub files: DayFiles,
    /// Time spent reading and processing the day, excluding metadata.
    pub elapsed: Duration,
    /// Time spent loading metadata files or waiting for another thread to load them.
    pub metadata_wait: Duration,
}

impl<S: DataSource> Catalog<S> {
    pub fn new(source: S) -> Catalog<S> {
        Catalog {
            source,
            stops: Mutex::default(),
            schedules: Mutex::default(),
        }
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    /// Processes one day with the default parameters. A day without a positions file fails
    /// with [`Error::NoPositions`]; nothing is written anywhere.
    pub fn process(&self, day: Date) -> Result<DayOutput> {
        self.process_with_params(day, &Params::DEFAULT, Cancel::NEVER)
    }

    /// Like [`process`](Self::process), returning [`Error::Cancelled`] soon after `cancel` is
    /// set (it is checked every few thousand rows and every few dozen trips).
    pub fn process_cancellable(&self, day: Date, cancel: Cancel<'_>) -> Result<DayOutput> {
        self.process_with_params(day, &Params::DEFAULT, cancel)
    }

    /// Like [`process_cancellable`](Self::process_cancellable), with the given parameters.
    pub fn process_with_params(
        &self,
        day: Date,
        params: &Params,
        cancel: Cancel<'_>,
    ) -> Result<DayOutput> {
        self.process_with_rows(day, params, cancel, &mut ())
    }

    /// Like [`process_with_params`](Self::process_with_params), handing every output row to
    /// `rows` as it is written (see [`crate::rows`]). On error, `rows` may have seen some rows
    /// of the day and must be discarded with the output.
    pub fn process_with_rows(
        &self,
        day: Date,
        params: &Params,
        cancel: Cancel<'_>,
        rows: &mut impl RowSink,
    ) -> Result<DayOutput> {
        let started = Instant::now();
        let input = self.positions(day)?;
        cancel.check()?;
        // Parse before asking for metadata: while another thread loads a shared schedule, this
        // one gets its own parsing done instead of waiting.
        let positions = Positions::parse(&input, cancel)?;
        let metadata_started = Instant::now();
        let (stops_name, stops) =
            self.metadata(day, MetadataKind::Stops, &self.stops, Stops::parse)?;
        let (schedule_name, schedule) = self.metadata(
            day,
            MetadataKind::Schedule,
            &self.schedules,
            Schedule::parse,
        )?;
        let metadata_wait = metadata_started.elapsed();
        let mut csv = Vec::new();
        cancel.check()?;
        let diagnostics = process_positions(
            &positions, &stops, &schedule, params, &mut csv, rows, cancel,
        )?;
        Ok(DayOutput {
            day,
            csv,
            diagnostics,
            files: DayFiles {
                positions: input.name().to_owned(),
                stops: stops_name,
                schedule: schedule_name,
            },
            elapsed: started.elapsed().saturating_sub(metadata_wait),
            metadata_wait,
        })
    }

    /// Reads the day's positions file (`YYYY-MM-DD.csv`, else `.csv.gz`).
    pub fn positions(&self, day: Date) -> Result<Input> {
        for suffix in [".csv", ".csv.gz"] {
            if let Some(input) = self
                .source
                .read("vehicle_positions", &format!("{day}{suffix}"))?
            {
                return Ok(input);
            }
        }
        Err(Error::NoPositions {
            day,
            dir: self.source.location(),
        })
    }

    /// Loads (or reuses) the stops file for `day`.
    pub fn stops_for(&self, day: Date) -> Result<Arc<Stops>> {
        Ok(self
            .metadata(day, MetadataKind::Stops, &self.stops, Stops::parse)?
            .1)
    }

    /// Loads (or reuses) the schedule file for `day`.
    pub fn schedule_for(&self, day: Date) -> Result<Arc<Schedule>> {
        Ok(self
            .metadata(
                day,
                MetadataKind::Schedule,
                &self.schedules,
                Schedule::parse,
            )?
            .1)
    }

    fn metadata<T>(
        &self,
        day: Date,
        kind: MetadataKind,
        cache: &Mutex<Cache<T>>,
        parse: fn(&Input) -> Result<T>,
    ) -> Result<(String, Arc<T>)> {
        let names = self.source.list(kind.folder())?;
        let Some(name) = choose(kind, day, names.iter().map(String::as_str)) else {
            return Err(Error::NoMetadata {
                day,
                kind: kind.folder(),
                dir: format!("{}/{}", self.source.location(), kind.folder()),
            });
        };
        let slot = cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .slot(name);
        // Holding the file's own lock while loading makes concurrent users wait for this load.
        let mut loaded = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(table) = loaded.as_ref() {
            return Ok((name.to_owned(), Arc::clone(table)));
        }
        let Some(input) = self.source.read(kind.folder(), name)? else {
            // Listed but gone by the time it was read.
            return Err(Error::NoMetadata {
                day,
                kind: kind.folder(),
                dir: format!("{}/{}", self.source.location(), kind.folder()),
            });
        };
        let table = Arc::new(parse(&input)?);
        *loaded = Some(Arc::clone(&table));
        Ok((name.to_owned(), table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_the_files_used_last() {
        let mut cache: Cache<u32> = Cache::default();
        let names: Vec<String> = (0..KEPT + 2).map(|i| format!("f{i}")).collect();
        let first = cache.slot(&names[0]);
        *first.lock().unwrap() = Some(Arc::new(7));
        for name in &names[1..KEPT] {
            cache.slot(name);
        }
        // f0 used again: f1 is now the least recently used, and goes first.
        assert_eq!(*cache.slot(&names[0]).lock().unwrap(), Some(Arc::new(7)));
        cache.slot(&names[KEPT]);
        assert_eq!(cache.names().len(), KEPT);
        assert!(!cache.names().contains(&names[1]), "{:?}", cache.names());
        assert!(cache.names().contains(&names[0]));
        cache.slot(&names[KEPT + 1]);
        assert!(!cache.names().contains(&names[2]), "{:?}", cache.names());
        // A dropped file is loaded again when asked for: its slot starts empty.
        assert_eq!(*cache.slot(&names[1]).lock().unwrap(), None);
    }
}
