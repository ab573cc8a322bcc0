//! Aggregating processed days that sit in storage (a folder, `file://` or `s3://`), and storing
//! the aggregate folder: the one piece of code behind `capq aggregate`, the batch's
//! `capq.aggregate` job and the dashboard's partial aggregates.
//!
//! The folder is listed once (names, sizes and times: one request on S3); each day is read
//! from its partial when that is current and from its CSV otherwise, on several threads
//! (`capq_aggregate::aggregate_folder`); the files are then stored, `summary.json` last, so a
//! reader that finds it finds the whole aggregate.
//!
//! Everything here blocks: call it from a thread that may block (a blocking task, or outside
//! the runtime), never from async code.

use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use capq_aggregate::{
    DayEntry, FileInfo, FolderOptions, FolderOutput, aggregate_folder, folder_days,
};
use capq_storage::{Location, Storage, StorageError};
use tokio::runtime::Handle;

/// Why a folder could not be aggregated or its aggregate stored.
#[derive(Debug, thiserror::Error)]
pub enum AggregationError {
    /// Listing the input folder failed (the message names it).
    #[error(transparent)]
    List(StorageError),
    #[error("no <DAY>_processed.csv files in {location}")]
    NoDays { location: String },
    #[error(transparent)]
    Aggregate(#[from] capq_aggregate::Error),
    /// Storing a file of the aggregate failed (the message names it).
    #[error(transparent)]
    Store(StorageError),
    #[error("cancelled before the aggregate was stored")]
    Cancelled,
    #[error("a storage task ended abnormally: {0}")]
    Task(String),
}

impl AggregationError {
    /// True when the input or the request is at fault (exit code 1, a permanent job failure),
    /// rather than the storage or the machine.
    pub fn is_input_error(&self) -> bool {
        match self {
            AggregationError::NoDays { .. } => true,
            AggregationError::Aggregate(e) => e.is_input_error(),
            AggregationError::List(source) | AggregationError::Store(source) => {
                matches!(source, StorageError::OutputNotAllowed { .. })
            }
            AggregationError::Cancelled | AggregationError::Task(_) => false,
        }
    }

    /// True when running again may succeed (a network error).
    pub fn is_transient(&self) -> bool {
        match self {
            AggregationError::List(source) | AggregationError::Store(source) => {
                source.is_transient()
            }
            _ => false,
        }
    }
}

/// The days of a folder: each `<DAY>_processed.csv` with its partial, from one listing.
/// Warnings (a day with both a `.csv` and a `.csv.gz`) are logged.
pub fn list_days(
    handle: &Handle,
    storage: &Storage,
    input: &Location,
) -> Result<Vec<DayEntry>, AggregationError> {
    let listing = handle
        .block_on(storage.list_entries(input))
        .map_err(AggregationError::List)?;
    let files = listing
        .into_iter()
        .map(|e| FileInfo {
            name: e.name,
            size: e.size,
            modified: e.modified,
        })
        .collect();
    let (entries, warnings) = folder_days(files);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok(entries)
}

/// Reads the file `name` of the folder `input` (`Ok(None)` when it is not there), as
/// `capq_aggregate`'s fetch functions do. Local files are read straight from the calling
/// thread; others through the runtime.
pub fn fetch(
    handle: &Handle,
    storage: &Storage,
    input: &Location,
    name: &str,
) -> Result<Option<Vec<u8>>, capq_aggregate::Error> {
    let location = input.join(name);
    let fetched = match &location {
        Location::Path(path) => match std::fs::read(path) {
            Ok(bytes) => return Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => Err(e.to_string()),
        },
        _ => handle
            .block_on(storage.get(&location))
            .map(|b| b.map(|b| b.to_vec()))
            .map_err(|e| e.to_string()),
    };
    fetched.map_err(|detail| capq_aggregate::Error::Fetch {
        file: location.to_string(),
        detail,
        input_error: false,
    })
}

/// Aggregates the processed days under `input` and stores the aggregate folder under
/// `output` (and, when asked, the new partials under `input`). `cancelled` is polled before
/// each file is read; once it says so, nothing more is read or stored.
pub fn aggregate_stored(
    handle: &Handle,
    storage: &Storage,
    input: &Location,
    output: &Location,
    options: &FolderOptions,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<FolderOutput, AggregationError> {
    let entries = list_days(handle, storage, input)?;
    if entries.is_empty() && options.days.is_none() {
        return Err(AggregationError::NoDays {
            location: input.to_string(),
        });
    }
    let stop = AtomicBool::new(false);
    let read = |name: &str| {
        if stop.load(Ordering::Relaxed) || cancelled() {
            stop.store(true, Ordering::Relaxed);
            return Err(capq_aggregate::Error::Fetch {
                file: input.join(name).to_string(),
                detail: "cancelled".to_owned(),
                input_error: false,
            });
        }
        fetch(handle, storage, input, name)
    };
    let outcome = aggregate_folder(&entries, &read, options)?;
    if stop.load(Ordering::Relaxed) || cancelled() {
        return Err(AggregationError::Cancelled);
    }

    store_aggregate(
        handle,
        storage,
        output,
        &outcome.aggregate,
        outcome.report_html.as_deref().ok(),
    )?;
    if let Err(e) = &outcome.report_html {
        tracing::warn!("report.html not written: {e}");
    }
    if !outcome.new_partials.is_empty() {
        let partials = outcome
            .new_partials
            .iter()
            .map(|(name, bytes)| (input.join(name), bytes.clone()))
            .collect();
        handle.block_on(put_all(storage, partials))?;
    }
    Ok(outcome)
}

/// Stores an aggregate folder under `output`: the tables and `report.html` (when it could be
/// drawn), then `summary.json` last, so that a complete `summary.json` means a complete folder.
pub fn store_aggregate(
    handle: &Handle,
    storage: &Storage,
    output: &Location,
    aggregate: &capq_aggregate::Aggregate,
    report_html: Option<&str>,
) -> Result<(), AggregationError> {
    let files = &aggregate.files;
    let mut writes: Vec<(Location, Vec<u8>)> = [
        ("system_daily.csv", &files.system_daily),
        ("route.csv", &files.route),
        ("route_hour.csv", &files.route_hour),
        ("stop.csv", &files.stop),
        ("histogram.csv", &files.histogram),
        ("headway.csv", &files.headway),
    ]
    .into_iter()
    .map(|(name, bytes)| (output.join(name), bytes.clone()))
    .collect();
    if let Some(html) = report_html {
        writes.push((output.join("report.html"), html.as_bytes().to_vec()));
    }
    handle.block_on(put_all(storage, writes))?;
    let summary = output.join("summary.json");
    handle
        .block_on(storage.put(&summary, Bytes::from(files.summary_json.clone())))
        .map_err(AggregationError::Store)
}

/// Stores files, a few at a time.
async fn put_all(
    storage: &Storage,
    files: Vec<(Location, Vec<u8>)>,
) -> Result<(), AggregationError> {
    let mut running = tokio::task::JoinSet::new();
    let mut first_error = None;
    for (location, bytes) in files {
        if running.len() >= 16
            && let Some(done) = running.join_next().await
        {
            first_error = first_error.or(joined(done).err());
        }
        let storage = storage.clone();
        running.spawn(async move {
            storage
                .put(&location, Bytes::from(bytes))
                .await
                .map_err(AggregationError::Store)
        });
    }
    while let Some(done) = running.join_next().await {
        first_error = first_error.or(joined(done).err());
    }
    first_error.map_or(Ok(()), Err)
}

fn joined(
    done: Result<Result<(), AggregationError>, tokio::task::JoinError>,
) -> Result<(), AggregationError> {
    done.unwrap_or_else(|e| Err(AggregationError::Task(e.to_string())))
}
