//! The one day pipeline: process a day and store its output. `capq run`, `capq process` and
//! the worker's `capq.process_day` and `tasks.process_day_to_s3` all go through here, so a
//! day is named, stored, and its failure classified the same way wherever it runs.
//!
//! Two steps, so a caller can put a gate between them (a worker stores only while the job is
//! still its own):
//! 1. [`Pipeline::process`] reads the day (recording the content hash of each input), runs the
//!    processor with the given parameters, and builds the day's aggregate partial from the rows
//!    as they are written, without parsing the CSV back;
//! 2. [`Pipeline::store`] writes the CSV and its partial to a [`Target`]: a single file (with its
//!    partial beside it), or the day's place in a run's output folder, where the user-facing
//!    file is always the newest output and each output it replaces is kept first, by content
//!    hash, under `.capq/versions/` (see [`crate::layout`] and `docs/runs.md`). Keeping a
//!    version is a hard link or a server-side copy taken just before the user-facing file is
//!    atomically replaced by a new one, so an old version never shares its bytes with a file
//!    anyone writes to, and the user-facing file never goes missing.
//!
//! Errors are one type, [`DayError`], whose [`ErrorKind`] says what the caller should do: a
//! missing day is reported, bad input fails for good (exit code 1), a transient failure may
//! succeed if retried, and anything else is an internal failure (exit code 2).

use std::time::{Duration, Instant};

use bytes::Bytes;
use capmetrics::{Cancel, Catalog, Date, DayFiles, Diagnostics, OutputRow, Params, RowSink};
use capq_aggregate::{DayPartial, PartialBuilder, SourceInfo, Visit};
use capq_storage::{DayInputs, HashingSource, Location, Staged, Stat, Storage, StorageError};
use tokio::runtime::Handle;

use crate::layout::{OutputFolder, hash_hex, output_name};

/// The data a pipeline processes from: a data folder whose reads are hashed.
pub type DataCatalog = Catalog<HashingSource>;

/// What a failed day calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The day has no positions file: reported as missing, not as a failure.
    Missing,
    /// The input (or the request) is wrong; running again cannot help.
    Input,
    /// A network or storage failure that may pass: worth a retry.
    Transient,
    /// Something else broke (an unwritable output, a bug).
    Internal,
}

/// Why a day has no output. The message names the day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DayError {
    pub kind: ErrorKind,
    pub message: String,
    /// The kind of the underlying I/O error, when there was one (a closed pipe behind
    /// `/dev/stdout` is a success for a command line tool).
    pub io: Option<std::io::ErrorKind>,
}

impl DayError {
    /// The error of processing `day`.
    pub fn processing(day: Date, error: &capmetrics::Error) -> DayError {
        let kind = if error.is_missing_day() {
            ErrorKind::Missing
        } else if matches!(error, capmetrics::Error::Fetch { .. }) {
            ErrorKind::Transient
        } else if error.is_input_error() {
            ErrorKind::Input
        } else {
            ErrorKind::Internal
        };
        let io = match error {
            capmetrics::Error::Read { cause, .. } | capmetrics::Error::Write { cause, .. } => {
                Some(cause.kind())
            }
            _ => None,
        };
        DayError::new(day, kind, error.to_string(), io)
    }

    /// The error of storing `day`'s output.
    pub fn storage(day: Date, error: &StorageError) -> DayError {
        let kind = if error.is_transient() {
            ErrorKind::Transient
        } else {
            ErrorKind::Internal
        };
        let io = match error {
            StorageError::Io { cause, .. } => Some(cause.kind()),
            _ => None,
        };
        DayError::new(day, kind, error.to_string(), io)
    }

    fn new(
        day: Date,
        kind: ErrorKind,
        message: String,
        io: Option<std::io::ErrorKind>,
    ) -> DayError {
        let day = day.to_string();
        let message = if message.contains(&day) {
            message
        } else {
            format!("day {day}: {message}")
        };
        DayError { kind, message, io }
    }

    /// True when running again may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    /// True when the input was at fault rather than the machine.
    pub fn is_input_error(&self) -> bool {
        matches!(self.kind, ErrorKind::Input | ErrorKind::Missing)
    }
}

/// A processed day, not stored yet.
#[derive(Debug)]
pub struct Processed {
    pub day: Date,
    pub params: Params,
    /// Shared, so storing it is a reference count rather than a copy.
    pub csv: Bytes,
    /// XXH64 of `csv`.
    pub hash: u64,
    pub diagnostics: Diagnostics,
    /// The files it was made from.
    pub files: DayFiles,
    /// Their content hashes, when the source recorded all three.
    pub inputs: Option<DayInputs>,
    /// The day's aggregate partial (its source is set when it is stored), or `None` when its
    /// rows do not fit the aggregate's types (an id beyond 2⁶³): the aggregate then reads the
    /// CSV, which reports the problem.
    pub partial: Option<DayPartial>,
    /// Time spent reading and processing, excluding waits for shared metadata.
    pub elapsed: Duration,
    /// Time spent loading shared metadata or waiting for another thread to load it.
    pub metadata_wait: Duration,
}

/// Where a day's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One file: a path (also a FIFO or a device such as `/dev/null`, written into), `file://`
    /// or `s3://`. When its name ends in `.csv` and it can hold a file, the partial is stored
    /// beside it under the same name ending in `.partial`.
    File(Location),
    /// The day's place in a run's output folder (`<folder>/<DAY>_processed.csv`); the output
    /// it replaces is kept as a version of the day (see [`crate::layout`]). `previous` is what
    /// the day's latest record says the file there is, which spares reading it to know.
    Folder {
        folder: OutputFolder,
        previous: Option<Previous>,
    },
}

/// What a record says a day's user-facing output is: its hash, and its stamp then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    pub hash: u64,
    pub stamp: String,
}

/// A stored day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The output users read.
    pub output: Location,
    /// The partial beside it, if one was stored.
    pub partial: Option<Location>,
    /// Folder targets: the output's stamp after the store, for cheap up-to-date checks.
    pub stat: Option<Stat>,
    /// Folder targets: the output held these very bytes already; nothing was rewritten and
    /// the partial there was reused.
    pub unchanged: bool,
    /// Folder targets: the hash of the output this one replaced (now kept as a version).
    pub replaced: Option<u64>,
}

/// The day pipeline over one data source and one storage.
#[derive(Debug, Clone, Copy)]
pub struct Pipeline<'a> {
    pub catalog: &'a DataCatalog,
    pub storage: &'a Storage,
    /// Storage I/O is async; the pipeline runs on a blocking thread and waits on this.
    pub runtime: &'a Handle,
}

impl Pipeline<'_> {
    /// Step 1: processes `day` with `params`, returning [`Error::Cancelled`] soon after
    /// `cancel` is set (as a `DayError` of kind `Internal`).
    ///
    /// [`Error::Cancelled`]: capmetrics::Error::Cancelled
    pub fn process(
        &self,
        day: Date,
        params: &Params,
        cancel: Cancel<'_>,
    ) -> Result<Processed, DayError> {
        let started = Instant::now();
        let mut rows = PartialRows::new(day);
        let out = self
            .catalog
            .process_with_rows(day, params, cancel, &mut rows)
            .map_err(|e| DayError::processing(day, &e))?;
        let inputs = self.catalog.source().inputs_of(&out.files);
        let hash = xxhash_rust::xxh64::xxh64(&out.csv, 0);
        let partial = rows.finish();
        Ok(Processed {
            day,
            params: *params,
            hash,
            diagnostics: out.diagnostics,
            files: out.files,
            inputs,
            partial,
            csv: Bytes::from(out.csv),
            // Charge the day only with its own work, not with waiting for a shared schedule.
            elapsed: started.elapsed().saturating_sub(out.metadata_wait),
            metadata_wait: out.metadata_wait,
        })
    }

    /// Step 2: stores a processed day at `target`. The partial is written after the CSV, so a
    /// reader that finds both finds a partial at least as new as its CSV. Each local file is
    /// synced before it is renamed into place.
    pub fn store(&self, processed: &mut Processed, target: &Target) -> Result<Stored, DayError> {
        let (stored, pending) = self.store_staged(processed, target)?;
        pending
            .commit()
            .map_err(|e| DayError::storage(processed.day, &e))?;
        Ok(stored)
    }

    /// Step 2 in two halves, for a runner that stores many days: everything [`store`] does,
    /// except that the local files of a folder target are left staged (complete, in temporary
    /// siblings, not synced, not in place) in the returned [`Pending`], to be committed later,
    /// on another thread, while the next days are processed. Until then the day's place in the
    /// folder holds what it held before (the replaced output is already kept as a version).
    ///
    /// [`store`]: Pipeline::store
    pub fn store_staged(
        &self,
        processed: &mut Processed,
        target: &Target,
    ) -> Result<(Stored, Pending), DayError> {
        let day = processed.day;
        let result = match target {
            Target::File(location) => self
                .store_file(processed, location)
                .map(|stored| (stored, Pending::default())),
            Target::Folder { folder, previous } => {
                self.store_in_folder(processed, folder, previous.as_ref())
            }
        };
        result.map_err(|e| DayError::storage(day, &e))
    }

    fn block_on<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        self.runtime.block_on(future)
    }

    fn store_file(
        &self,
        processed: &mut Processed,
        location: &Location,
    ) -> Result<Stored, StorageError> {
        self.block_on(self.storage.put(location, processed.csv.clone()))?;
        let mut stored_partial = None;
        if let Some((partial_location, name)) = partial_beside(location)
            && let Some(bytes) = processed.encoded_partial(&name)
        {
            self.block_on(self.storage.put(&partial_location, bytes))?;
            stored_partial = Some(partial_location);
        }
        Ok(Stored {
            output: location.clone(),
            partial: stored_partial,
            stat: None,
            unchanged: false,
            replaced: None,
        })
    }

    fn store_in_folder(
        &self,
        processed: &mut Processed,
        folder: &OutputFolder,
        previous: Option<&Previous>,
    ) -> Result<(Stored, Pending), StorageError> {
        let (day, hash) = (processed.day, processed.hash);
        let mut pending = Pending::default();
        let storage = self.storage;
        let output = folder.output(day);
        let partial = folder.partial(day);

        // Which bytes the user-facing file holds now: the recorded version when its stamp is
        // the recorded one, else whatever reading it says (another tool, an edit, no record).
        let current = self.block_on(storage.stat(&output))?;
        let recorded = matches!(
            (&current, previous),
            (Some(now), Some(previous)) if now.stamp == previous.stamp
        );
        let current_hash = match (&current, previous) {
            (None, _) => None,
            (Some(_), Some(previous)) if recorded => Some(previous.hash),
            (Some(_), _) => self
                .block_on(storage.get(&output))?
                .map(|bytes| xxhash_rust::xxh64::xxh64(&bytes, 0)),
        };
        let unchanged = current_hash == Some(hash);
        let mut stored_partial = None;
        let mut new_stat = None;
        if unchanged {
            // The same bytes: nothing is rewritten, and the partial there is reused.
            if self.block_on(storage.stat(&partial))?.is_none()
                && let Some(bytes) = processed.encoded_partial(&output_name(day))
            {
                pending.push(self.block_on(storage.put_staged(&partial, bytes))?);
            }
            stored_partial = Some(partial);
        } else {
            if let Some(old) = current_hash {
                // The partial beside it belongs to it only if the file is the recorded one.
                self.keep_version(folder, day, old, recorded)?;
                pending
                    .folders
                    .extend(local_folder(&folder.version(day, old)));
            }
            let csv = self.block_on(storage.put_staged(&output, processed.csv.clone()))?;
            new_stat = csv.stat()?;
            pending.push(csv);
            match processed.encoded_partial(&output_name(day)) {
                Some(bytes) => {
                    pending.push(self.block_on(storage.put_staged(&partial, bytes))?);
                    stored_partial = Some(partial);
                }
                // No partial describes the new output: a stale one must not stay beside it.
                None => self.block_on(storage.delete(&partial))?,
            }
        }
        // A staged output's stamp is the one it will have in place (a rename keeps it).
        let stat = match new_stat {
            Some(stat) => Some(stat),
            None => self.block_on(storage.stat(&output))?,
        };
        let stored = Stored {
            output,
            partial: stored_partial,
            stat,
            unchanged,
            replaced: current_hash.filter(|&old| old != hash),
        };
        Ok((stored, pending))
    }

    /// Keeps the user-facing output of `day`, whose bytes hash to `hash` (and, `with_partial`,
    /// the partial beside it) as a version (`.capq/versions/<DAY>/<HASH>.*`) before it is
    /// replaced: a hard link or a server-side copy, so nothing is read or sent. A version
    /// already kept is not copied again.
    fn keep_version(
        &self,
        folder: &OutputFolder,
        day: Date,
        hash: u64,
        with_partial: bool,
    ) -> Result<(), StorageError> {
        let storage = self.storage;
        let version = folder.version(day, hash);
        if self.block_on(storage.stat(&version))?.is_none() {
            tracing::debug!(%day, version = %hash_hex(hash), "keeping the replaced output");
            self.block_on(storage.copy(&folder.output(day), &version))?;
        }
        let partial = folder.partial(day);
        let version_partial = folder.version_partial(day, hash);
        if with_partial
            && self.block_on(storage.stat(&partial))?.is_some()
            && self.block_on(storage.stat(&version_partial))?.is_none()
        {
            self.block_on(storage.copy(&partial, &version_partial))?;
        }
        Ok(())
    }
}

/// The staged writes of a stored day, waiting to be committed in the order they were made
/// (the CSV before its partial), and the local folders whose entries they change.
#[derive(Debug, Default)]
#[must_use = "staged writes are removed, not stored, unless committed"]
pub struct Pending {
    writes: Vec<Staged>,
    /// Folders changed already (a version linked in), to sync with the others.
    folders: Vec<std::path::PathBuf>,
}

impl Pending {
    fn push(&mut self, write: Staged) {
        self.writes.push(write);
    }

    /// Syncs each write and renames it into place, in order, stopping at the first failure
    /// (the later writes are then removed, so the day keeps its old files). Returns the local
    /// folders to sync (see [`Storage::sync_folder`]) before the day counts as stored durably.
    pub fn commit(self) -> Result<Vec<std::path::PathBuf>, StorageError> {
        let mut folders = self.folders;
        for write in self.writes {
            folders.extend(write.commit()?);
        }
        folders.sort();
        folders.dedup();
        Ok(folders)
    }
}

/// The folder of a local location, for syncing.
fn local_folder(location: &Location) -> Option<std::path::PathBuf> {
    match location {
        Location::Path(path) => path.parent().map(std::path::Path::to_path_buf),
        _ => None,
    }
}

impl Processed {
    /// The partial's file bytes, recording `name` and the CSV as its source.
    fn encoded_partial(&mut self, name: &str) -> Option<Bytes> {
        let partial = self.partial.as_mut()?;
        partial.set_source(SourceInfo {
            name: name.to_owned(),
            len: self.csv.len() as u64,
            hash: self.hash,
        });
        Some(Bytes::from(partial.encode()))
    }
}

/// The partial of a single-file output, and the CSV name it records: beside a `*.csv` file or
/// object that can hold one (not a FIFO or a device, nor stdout), named `*.partial`.
fn partial_beside(location: &Location) -> Option<(Location, String)> {
    let with_partial =
        |name: &str| -> Option<String> { Some(format!("{}.partial", name.strip_suffix(".csv")?)) };
    match location {
        Location::Path(path) => {
            let name = path.file_name()?.to_str()?;
            let partial = with_partial(name)?;
            match std::fs::metadata(path) {
                Ok(meta) if !meta.is_file() => return None,
                _ => {}
            }
            Some((
                Location::Path(path.with_file_name(partial)),
                name.to_owned(),
            ))
        }
        Location::S3 { bucket, key } => {
            let name = key.rsplit('/').next()?;
            let partial = with_partial(name)?;
            let prefix = &key[..key.len() - name.len()];
            Some((
                Location::S3 {
                    bucket: bucket.clone(),
                    key: format!("{prefix}{partial}"),
                },
                name.to_owned(),
            ))
        }
        Location::Http(_) => None,
    }
}

/// The processor's rows into a [`PartialBuilder`], as [`Visit`]s.
struct PartialRows {
    builder: PartialBuilder,
    /// A row whose id does not fit an `i64`: the partial cannot represent the day.
    overflow: bool,
}

impl PartialRows {
    fn new(day: Date) -> PartialRows {
        PartialRows {
            builder: PartialBuilder::new(day),
            overflow: false,
        }
    }

    fn finish(self) -> Option<DayPartial> {
        (!self.overflow).then(|| self.builder.finish())
    }
}

impl RowSink for PartialRows {
    fn row(&mut self, row: &OutputRow<'_>) {
        let (Ok(route_id), Ok(trip_id), Ok(stop_id)) = (
            i64::try_from(row.route_id),
            i64::try_from(row.trip_id),
            i64::try_from(row.stop_id),
        ) else {
            self.overflow = true;
            return;
        };
        self.builder.push(&Visit {
            route_id,
            trip_id,
            trip_headsign: row.trip_headsign,
            stop_id,
            stop_lat: row.stop_lat,
            stop_lon: row.stop_lon,
            timestamp: row.timestamp,
            sched_time: row.sched_time,
            distance_to_stop: row.distance_to_stop,
            sched_dev: row.sched_dev,
            hourofday: row.hourofday,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipeline over the bundled sample, with local storage.
    struct Fixture {
        catalog: DataCatalog,
        storage: Storage,
        runtime: tokio::runtime::Runtime,
    }

    impl Fixture {
        fn new() -> Fixture {
            let root =
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
            Fixture {
                catalog: Catalog::new(HashingSource::local(capmetrics::LocalDir::new(root))),
                storage: Storage::from_env_vars(Vec::<(String, String)>::new()).unwrap(),
                runtime: tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .unwrap(),
            }
        }

        fn pipeline(&self) -> Pipeline<'_> {
            Pipeline {
                catalog: &self.catalog,
                storage: &self.storage,
                runtime: self.runtime.handle(),
            }
        }
    }

    #[test]
    fn the_partial_from_rows_is_the_partial_from_the_csv() {
        let fixture = Fixture::new();
        let pipeline = fixture.pipeline();
        for day in ["2016-11-24", "2016-11-25", "2016-11-26", "2016-11-27"] {
            let day: Date = day.parse().unwrap();
            let processed = pipeline
                .process(day, &Params::DEFAULT, Cancel::NEVER)
                .unwrap();
            let name = output_name(day);
            let mut from_rows = processed.partial.clone().unwrap();
            from_rows.set_source(SourceInfo::of(&name, &processed.csv));
            let from_csv = DayPartial::from_csv(day, &name, &processed.csv).unwrap();
            assert_eq!(from_rows, from_csv, "{day}");
            assert_eq!(from_rows.encode(), from_csv.encode(), "{day}");
            assert_eq!(processed.hash, capq_aggregate::content_hash(&processed.csv));
            let inputs = processed.inputs.as_ref().unwrap();
            assert_eq!(inputs.positions.name, format!("{day}.csv.gz"));
        }
    }

    #[test]
    fn errors_name_the_day_and_say_what_to_do() {
        let fixture = Fixture::new();
        let pipeline = fixture.pipeline();
        let day: Date = "2016-11-28".parse().unwrap();
        let error = pipeline
            .process(day, &Params::DEFAULT, Cancel::NEVER)
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Missing);
        assert!(error.message.contains("2016-11-28"), "{error}");
        let day: Date = "2017-03-16".parse().unwrap();
        let error = pipeline
            .process(day, &Params::DEFAULT, Cancel::NEVER)
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Missing, "no positions comes first");
        let fetch = capmetrics::Error::Fetch {
            file: "s3://b/k".into(),
            detail: "connection reset".into(),
        };
        let error = DayError::processing("2016-11-24".parse().unwrap(), &fetch);
        assert!(error.is_transient());
        assert_eq!(
            error.message,
            "day 2016-11-24: cannot fetch s3://b/k: connection reset"
        );
    }

    #[test]
    fn partials_go_beside_csv_files_only() {
        let beside = |text: &str| {
            partial_beside(&Location::parse(text).unwrap()).map(|(l, n)| (l.to_string(), n))
        };
        assert_eq!(
            beside("s3://b/p/2016-11-24_processed.csv"),
            Some((
                "s3://b/p/2016-11-24_processed.partial".into(),
                "2016-11-24_processed.csv".into()
            ))
        );
        assert_eq!(
            beside("/tmp/nowhere/day.csv"),
            Some(("/tmp/nowhere/day.partial".into(), "day.csv".into()))
        );
        assert_eq!(beside("s3://b/p/day.txt"), None);
        assert_eq!(beside("/dev/null"), None);
        assert_eq!(beside("/dev/stdout"), None);
    }

    #[test]
    fn a_folder_keeps_every_version_and_shows_the_newest() {
        let fixture = Fixture::new();
        let pipeline = fixture.pipeline();
        let dir = tempfile::tempdir().unwrap();
        let folder = OutputFolder::new(Location::Path(dir.path().to_path_buf()));
        let day: Date = "2016-11-24".parse().unwrap();
        let target = Target::Folder {
            folder: folder.clone(),
            previous: None,
        };

        // An output left by someone else is kept as a version, then replaced.
        std::fs::write(dir.path().join(output_name(day)), b"old,output\n").unwrap();
        let mut first = pipeline
            .process(day, &Params::DEFAULT, Cancel::NEVER)
            .unwrap();
        let stored = pipeline.store(&mut first, &target).unwrap();
        assert!(!stored.unchanged);
        let old = xxhash_rust::xxh64::xxh64(b"old,output\n", 0);
        assert_eq!(stored.replaced, Some(old));
        assert_eq!(
            std::fs::read(folder_path(&folder.version(day, old))).unwrap(),
            b"old,output\n"
        );
        assert_eq!(
            std::fs::read(dir.path().join(output_name(day))).unwrap(),
            first.csv
        );
        assert!(dir.path().join(capq_aggregate::partial_name(day)).is_file());

        // The same bytes again: unchanged, nothing rewritten.
        let mut again = pipeline
            .process(day, &Params::DEFAULT, Cancel::NEVER)
            .unwrap();
        let stamp = stored.stat.clone().unwrap();
        let stored = pipeline.store(&mut again, &target).unwrap();
        assert!(stored.unchanged);
        assert_eq!(stored.replaced, None);
        assert_eq!(stored.stat.unwrap(), stamp);

        // Other parameters, other bytes: a second version; both stay.
        let params = Params::from_assignments(["group_max_distance=0.1"]).unwrap();
        let mut other = pipeline.process(day, &params, Cancel::NEVER).unwrap();
        assert_ne!(other.hash, first.hash);
        let stored = pipeline.store(&mut other, &target).unwrap();
        assert_eq!(stored.replaced, Some(first.hash));
        assert_eq!(
            std::fs::read(dir.path().join(output_name(day))).unwrap(),
            other.csv
        );
        assert_eq!(
            std::fs::read(folder_path(&folder.version(day, first.hash))).unwrap(),
            first.csv
        );
        let partial = std::fs::read(dir.path().join(capq_aggregate::partial_name(day))).unwrap();
        let decoded = DayPartial::decode("p", &partial).unwrap();
        assert!(decoded.describes(&output_name(day), other.csv.len() as u64));
        assert_eq!(decoded.source().unwrap().hash, other.hash);
        // Only the two hidden versions, the output and its partial; no temporary files.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ".capq",
                "2016-11-24_processed.csv",
                "2016-11-24_processed.partial"
            ]
        );
    }

    #[test]
    fn a_staged_day_takes_its_place_only_when_committed() {
        let fixture = Fixture::new();
        let pipeline = fixture.pipeline();
        let dir = tempfile::tempdir().unwrap();
        let folder = OutputFolder::new(Location::Path(dir.path().to_path_buf()));
        let day: Date = "2016-11-25".parse().unwrap();
        let target = Target::Folder {
            folder: folder.clone(),
            previous: None,
        };
        std::fs::write(dir.path().join(output_name(day)), b"old,output\n").unwrap();
        let mut processed = pipeline
            .process(day, &Params::DEFAULT, Cancel::NEVER)
            .unwrap();
        let (stored, pending) = pipeline.store_staged(&mut processed, &target).unwrap();
        let old = xxhash_rust::xxh64::xxh64(b"old,output\n", 0);
        assert_eq!(stored.replaced, Some(old));
        // Staged: the old output is still in place (and already kept), no partial yet.
        let output = dir.path().join(output_name(day));
        assert_eq!(std::fs::read(&output).unwrap(), b"old,output\n");
        assert!(folder_path(&folder.version(day, old)).is_file());
        assert!(!dir.path().join(capq_aggregate::partial_name(day)).exists());

        let folders = pending.commit().unwrap();
        assert_eq!(std::fs::read(&output).unwrap(), processed.csv);
        assert!(dir.path().join(capq_aggregate::partial_name(day)).is_file());
        // The stamp recorded at staging is the one the output has in place.
        let stamp = pipeline
            .runtime
            .block_on(pipeline.storage.stat(&folder.output(day)))
            .unwrap();
        assert_eq!(stored.stat, stamp);
        // The output folder and the version's folder are the ones to sync.
        let version_folder = folder_path(&folder.version(day, old))
            .parent()
            .unwrap()
            .to_path_buf();
        assert!(folders.contains(&dir.path().to_path_buf()), "{folders:?}");
        assert!(folders.contains(&version_folder), "{folders:?}");
    }

    fn folder_path(location: &Location) -> std::path::PathBuf {
        match location {
            Location::Path(path) => path.clone(),
            other => panic!("{other}"),
        }
    }
}
