//! Runs as records: every `capq run` and every batch of `capq enqueue` leaves a manifest in
//! its output folder (never only in Redis keys that expire), and each day of it a record of
//! what it was made from and what it made. Later runs read them to skip days that are up to
//! date; `capq runs` lists them; `capq diff` compares two of them.
//!
//! - [`manifest`]: the stored format (versioned, documented in `docs/runs.md`);
//! - [`records`]: reading and writing them in an output folder, listing runs, resolving
//!   `latest` and `latest~N`, finding each day's latest record;
//! - [`plan`]: deciding, for each day, whether it is up to date or why it must be processed.
//!
//! No two writers ever update the same object: `capq run` writes its manifest once, at the end;
//! `capq enqueue` writes its batch's manifest (the planned days) before it enqueues, and each
//! worker writes its day's record under the batch's folder. Readers combine them.

pub mod manifest;
pub mod plan;
pub mod records;
pub mod side;

use std::time::Duration as Elapsed;

use capmetrics::Params;
use capq_storage::DayInputs;

use crate::layout::{OutputFolder, hash_hex, output_name};
use crate::pipeline::{DayError, Processed, Stored};
use manifest::{InputsRecord, OutputRecord};

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use capmetrics::Date;
use capq_storage::StorageError;

pub use manifest::{
    AggregateRecord, DayRecord, DayStatus, ParamsRecord, Reason, RunKind, RunManifest,
};
pub use plan::{Decision, PlannedDay, Planner};
pub use records::{Run, load_run, resolve};

/// What can go wrong with run records.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{location}: {detail}")]
    Malformed { location: String, detail: String },
    #[error("no run {spec:?} in {folder}{}", known_runs(known))]
    NoSuchRun {
        spec: String,
        folder: String,
        known: Vec<String>,
    },
    #[error("no runs recorded in {folder} (a `capq run` or `capq enqueue` writes one)")]
    NoRuns { folder: String },
    /// The data folder could not be listed or read while planning.
    #[error("{0}")]
    Data(capmetrics::Error),
}

fn known_runs(known: &[String]) -> String {
    match known {
        [] => String::new(),
        ids => {
            let shown: Vec<&str> = ids.iter().rev().take(5).map(String::as_str).collect();
            format!(
                "; runs there: latest, latest~N, or an id such as {}",
                shown.join(", ")
            )
        }
    }
}

impl RunsError {
    /// True when the request (a run id, a folder) was wrong rather than the machine.
    pub fn is_input_error(&self) -> bool {
        match self {
            RunsError::NoSuchRun { .. }
            | RunsError::NoRuns { .. }
            | RunsError::Malformed { .. } => true,
            RunsError::Data(e) => e.is_input_error(),
            RunsError::Storage(_) => false,
        }
    }
}

/// The record of a day processed and stored in a run's folder by `run` (made with `params`).
pub fn processed_record(
    processed: &Processed,
    stored: &Stored,
    reason: Option<Reason>,
    run: &str,
    elapsed: Elapsed,
) -> DayRecord {
    let day = processed.day;
    let mut record = DayRecord::bare(day, DayStatus::Ok);
    record.reason = reason;
    record.made_by = Some(run.to_owned());
    record.processor = Some(processor_fingerprint().to_owned());
    record.params = Some(processed.params.fingerprint());
    record.inputs = processed.inputs.as_ref().map(InputsRecord::of);
    record.set_rows(&processed.diagnostics);
    record.ms = Some(elapsed.as_secs_f64() * 1e3);
    record.output = Some(OutputRecord {
        name: output_name(day),
        hash: hash_hex(processed.hash),
        size: processed.csv.len() as u64,
        version: OutputFolder::version_name(day, processed.hash),
        partial: stored
            .partial
            .as_ref()
            .map(|_| OutputFolder::version_partial_name(day, processed.hash)),
        stamp: stored.stat.as_ref().map(|s| s.stamp.clone()),
    });
    record.unchanged = Some(stored.unchanged);
    record.replaced = stored.replaced.map(hash_hex);
    record
}

/// The record of a day whose processing or storing failed.
pub fn failed_record(
    day: Date,
    error: &DayError,
    reason: Option<Reason>,
    params: &Params,
    inputs: Option<&DayInputs>,
    elapsed: Elapsed,
) -> DayRecord {
    let mut record = DayRecord::bare(day, DayStatus::Failed);
    record.reason = reason;
    record.processor = Some(processor_fingerprint().to_owned());
    record.params = Some(params.fingerprint());
    record.inputs = inputs.map(InputsRecord::of);
    record.ms = Some(elapsed.as_secs_f64() * 1e3);
    record.error = Some(error.message.clone());
    record
}

/// The environment variable that replaces the processor fingerprint, for tests only: a test
/// that needs "another processor" sets it (16 hex digits) instead of rebuilding capmetrics.
pub const FINGERPRINT_OVERRIDE: &str = "CAPQ_TEST_PROCESSOR_FINGERPRINT";

/// The switch that turns capq's test-only behaviour on (the worker's test tasks, too):
/// [`FINGERPRINT_OVERRIDE`] is honoured only when it is set as well. A build that claims
/// another fingerprint would run that build's pinned batches (`crate::pin`), so one stray
/// variable must not be enough.
pub const TEST_SWITCH: &str = "CAPQ_TEST_TASKS";

/// The processor fingerprint outputs are recorded with and compared against, and that pinned
/// batches are routed by: the build's (`capmetrics::PROCESSOR_FINGERPRINT`), unless
/// [`FINGERPRINT_OVERRIDE`] names another and [`TEST_SWITCH`] is on.
pub fn processor_fingerprint() -> &'static str {
    static FINGERPRINT: OnceLock<String> = OnceLock::new();
    FINGERPRINT.get_or_init(|| {
        let switch = std::env::var(TEST_SWITCH).unwrap_or_default();
        let override_text = std::env::var(FINGERPRINT_OVERRIDE).ok();
        chosen_fingerprint(&switch, override_text.as_deref())
    })
}

/// [`processor_fingerprint`]'s rule, given the two variables' values.
fn chosen_fingerprint(switch: &str, override_text: Option<&str>) -> String {
    let on = matches!(
        switch.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "y"
    );
    match override_text {
        Some(text) if on && text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()) => {
            text.to_ascii_lowercase()
        }
        _ => capmetrics::PROCESSOR_FINGERPRINT.to_owned(),
    }
}

/// The fingerprint of the aggregate code (`crates/capq-aggregate`), computed at build time as
/// the processor's is.
pub const AGGREGATE_FINGERPRINT: &str = env!("CAPQ_AGGREGATE_FINGERPRINT");

/// A fresh run id for `capq run`: `run-<epoch seconds>-<4 hex digits>`, sortable by time like
/// the batch ids of `capq enqueue` (`capq-<epoch seconds>-<4 hex digits>`).
pub fn new_run_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!("run-{secs}-{:04x}", fastrand::u16(..))
}

/// The epoch seconds in a run or batch id, for ordering runs without reading them.
pub fn id_seconds(id: &str) -> Option<u64> {
    id.split('-').nth(1)?.parse().ok()
}

/// A time as manifests write it: RFC 3339 in UTC with milliseconds.
pub fn timestamp(t: SystemTime) -> String {
    crate::time::utc_timestamp(t, 3)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ids_and_times_sort_as_time_does() {
        let id = new_run_id();
        assert!(id.starts_with("run-"), "{id}");
        let secs = id_seconds(&id).unwrap();
        assert!(secs > 1_700_000_000);
        assert_eq!(id_seconds("capq-1764757000-7f3a"), Some(1_764_757_000));
        assert_eq!(id_seconds("nonsense"), None);
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_millis(1_480_000_000_123)),
            "2016-11-24T15:06:40.123Z"
        );
        assert_eq!(processor_fingerprint().len(), 16);
        assert_eq!(AGGREGATE_FINGERPRINT.len(), 16);
    }

    #[test]
    fn the_fingerprint_is_replaced_only_with_the_test_switch_on() {
        let build = capmetrics::PROCESSOR_FINGERPRINT;
        let other = Some("0123456789ABCDEF");
        assert_eq!(chosen_fingerprint("1", other), "0123456789abcdef");
        assert_eq!(chosen_fingerprint("true", other), "0123456789abcdef");
        assert_eq!(
            chosen_fingerprint("", other),
            build,
            "one stray variable is not enough"
        );
        assert_eq!(chosen_fingerprint("0", other), build);
        assert_eq!(
            chosen_fingerprint("1", Some("0123")),
            build,
            "not a fingerprint"
        );
        assert_eq!(chosen_fingerprint("1", None), build);
    }
}
