//! The run manifest and the day record, as stored (JSON, format `capq-run`, version 1; every
//! field is described in `docs/runs.md`).
//!
//! A reader refuses a manifest of another format or of a newer version with a message saying
//! so, and ignores fields it does not know, so a later version that only adds fields can keep
//! version 1. Fields that a kind of record does not have are left out rather than written as
//! `null`.

use std::collections::BTreeMap;

use capmetrics::{Date, Diagnostics, Params};
use capq_storage::DayInputs;
use serde::{Deserialize, Serialize};

use super::RunsError;
use crate::layout::hash_hex;

/// The `format` of every manifest and day record.
pub const FORMAT: &str = "capq-run";
/// The newest `version` this build reads and the one it writes.
pub const VERSION: u32 = 1;

/// What made a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// `capq run`: one process wrote the outputs and then this manifest.
    Run,
    /// `capq enqueue`: the manifest lists the planned days; each worker adds a day record.
    Batch,
}

/// How a day of a run ended (or, for a batch, stands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DayStatus {
    /// Processed by this run; its output is stored.
    Ok,
    /// Not processed: its output, made by an earlier run, was up to date.
    UpToDate,
    /// Processing failed; no output was stored by this run.
    Failed,
    /// The day has no positions file.
    Missing,
    /// A batch's day that no worker has recorded yet.
    Planned,
}

impl DayStatus {
    pub fn name(self) -> &'static str {
        match self {
            DayStatus::Ok => "ok",
            DayStatus::UpToDate => "up-to-date",
            DayStatus::Failed => "failed",
            DayStatus::Missing => "missing",
            DayStatus::Planned => "planned",
        }
    }
}

/// Why a day was processed rather than found up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// No earlier run of this output recorded the day.
    New,
    /// Its positions file, or the stops or schedule file chosen for it, changed.
    InputChanged,
    /// The processor's fingerprint differs from the one that made the output.
    ProcessorChanged,
    /// The parameters differ from the ones the output was made with.
    ParamsChanged,
    /// The output recorded for the day is no longer there, or holds other bytes.
    OutputMissing,
    /// The last run that covered the day failed on it.
    LastFailed,
    /// `--force`.
    Forced,
}

impl Reason {
    pub const ALL: [Reason; 7] = [
        Reason::New,
        Reason::InputChanged,
        Reason::ProcessorChanged,
        Reason::ParamsChanged,
        Reason::OutputMissing,
        Reason::LastFailed,
        Reason::Forced,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reason::New => "new",
            Reason::InputChanged => "input-changed",
            Reason::ProcessorChanged => "processor-changed",
            Reason::ParamsChanged => "params-changed",
            Reason::OutputMissing => "output-missing",
            Reason::LastFailed => "last-failed",
            Reason::Forced => "forced",
        }
    }
}

/// The parameters of a run, in three forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamsRecord {
    /// `capmetrics::Params::canonical`: every parameter, sorted.
    pub canonical: String,
    /// `capmetrics::Params::fingerprint` of it.
    pub fingerprint: String,
    /// The ones that differ from the defaults, as `key=value`.
    pub changed: Vec<String>,
}

impl ParamsRecord {
    pub fn of(params: &Params) -> ParamsRecord {
        ParamsRecord {
            canonical: params.canonical(),
            fingerprint: params.fingerprint(),
            changed: params.changed(),
        }
    }

    /// The parameters themselves (defaults for keys a newer build no longer has are an error).
    pub fn params(&self) -> Result<Params, capmetrics::ParamError> {
        Params::from_canonical(&self.canonical)
    }
}

/// One input file of a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// `positions`, `stops` or `schedule`.
    pub role: String,
    /// The file's name in its folder of the data (`vehicle_positions/`, `stops/`, `schedule/`).
    pub name: String,
    pub size: u64,
    /// XXH64 of its bytes as stored, 16 hex digits.
    pub hash: String,
}

/// A day's inputs: the fingerprint over its three files, and the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputsRecord {
    pub fingerprint: String,
    pub files: Vec<FileRecord>,
}

impl InputsRecord {
    pub fn of(inputs: &DayInputs) -> InputsRecord {
        InputsRecord {
            fingerprint: inputs.fingerprint(),
            files: inputs
                .roles()
                .into_iter()
                .map(|(role, file)| FileRecord {
                    role: role.to_owned(),
                    name: file.name.clone(),
                    size: file.size,
                    hash: file.hex(),
                })
                .collect(),
        }
    }

    /// The chosen file of a role, if recorded.
    pub fn file(&self, role: &str) -> Option<&FileRecord> {
        self.files.iter().find(|f| f.role == role)
    }
}

/// A day's stored output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// The user-facing file, relative to the output folder (`2016-11-24_processed.csv`).
    pub name: String,
    /// XXH64 of its bytes, 16 hex digits.
    pub hash: String,
    pub size: u64,
    /// The version kept for good, relative to the output folder
    /// (`.capq/versions/2016-11-24/<hash>.csv`): what `capq diff` reads for this run.
    pub version: String,
    /// Its partial, relative to the output folder, when one was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
    /// The user-facing file's stamp when it was recorded (opaque: device, inode, length and
    /// time, or S3's ETag): equal stamps spare reading the file to check it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
}

/// One day of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRecord {
    #[serde(with = "date_text")]
    pub day: Date,
    pub status: DayStatus,
    /// Why the day was processed (`ok` and `failed` days of a run that decided it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The run that made the output this record describes (this run for `ok`, an earlier one
    /// for `up-to-date`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<String>,
    /// The processor fingerprint the output was made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor: Option<String>,
    /// The parameters' fingerprint it was made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<InputsRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_out: Option<u64>,
    /// Rows dropped per reason (`capmetrics::DropReason::key`), every reason listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<BTreeMap<String, u64>>,
    /// Milliseconds spent on the day by the run that made the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputRecord>,
    /// `ok` days: the output's bytes were the day's output already (same hash as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchanged: Option<bool>,
    /// `ok` days: the version the output replaced, when it differed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Day records of a batch, written by workers: the job that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

impl DayRecord {
    /// A record with only a day and a status.
    pub fn bare(day: Date, status: DayStatus) -> DayRecord {
        DayRecord {
            day,
            status,
            reason: None,
            made_by: None,
            processor: None,
            params: None,
            inputs: None,
            rows_in: None,
            rows_out: None,
            dropped: None,
            ms: None,
            output: None,
            unchanged: None,
            replaced: None,
            error: None,
            job: None,
        }
    }

    /// Records the rows of a processed day.
    pub fn set_rows(&mut self, diagnostics: &Diagnostics) {
        self.rows_in = Some(diagnostics.rows_in);
        self.rows_out = Some(diagnostics.rows_out);
        self.dropped = Some(
            diagnostics
                .reasons()
                .map(|(reason, n)| (reason.key().to_owned(), n))
                .collect(),
        );
    }

    /// The output's content hash, if an output is recorded.
    pub fn output_hash(&self) -> Option<u64> {
        crate::layout::parse_hash(&self.output.as_ref()?.hash)
    }

    /// The same output, carried into a later run that found it up to date.
    pub fn carried(&self) -> DayRecord {
        DayRecord {
            status: DayStatus::UpToDate,
            reason: None,
            unchanged: None,
            replaced: None,
            error: None,
            job: None,
            ..self.clone()
        }
    }

    /// True when the record describes a stored output (`ok` or `up-to-date`).
    pub fn has_output(&self) -> bool {
        matches!(self.status, DayStatus::Ok | DayStatus::UpToDate) && self.output.is_some()
    }
}

/// A day record on its own, as a worker stores it under its batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRecordFile {
    pub format: String,
    pub version: u32,
    pub run: String,
    #[serde(flatten)]
    pub record: DayRecord,
}

/// The aggregate a run wrote, and its headline figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregateRecord {
    /// The aggregate folder, relative to the output folder (`aggregate/`).
    pub location: String,
    /// The window, `E,L` in seconds (`none` for a missing bound), and its profile's name.
    pub window: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Fingerprint of what the aggregate was computed from (window, code, every day's output);
    /// a later run with the same key reuses the aggregate instead of computing it again.
    pub key: String,
    /// XXH64 of `summary.json` as written, 16 hex digits.
    pub summary_hash: String,
    pub days_ok: u64,
    pub days_suspect: u64,
    pub days_empty: u64,
    pub used: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_lo: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_hi: Option<f64>,
}

/// A batch's queue and jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// The queue its jobs went on: the pinned one (`<queue>@<processor>`) for a pinned batch.
    pub queue: String,
    /// The processor fingerprint its jobs are pinned to: only workers of that build run them,
    /// so every day of the batch is made by one processor. `None` for a batch enqueued with
    /// `--any-processor` (and in manifests written before pinning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
    /// Job ids by day, of the days that were enqueued.
    pub jobs: BTreeMap<String, String>,
}

/// A run's manifest (`.capq/runs/<RUN>/run.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub format: String,
    pub version: u32,
    pub id: String,
    pub kind: RunKind,
    /// When the run started, RFC 3339 in UTC (`2026-12-03T10:15:02.123Z`).
    pub started: String,
    /// `capq run`: when it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// The capq release (`capq --version`'s first part).
    pub capq_version: String,
    /// The processor fingerprint of the build that ran (`capq run`) or enqueued (a batch; each
    /// day record carries its worker's).
    pub processor: String,
    /// The fingerprint of the aggregate code the run's aggregate was computed with.
    pub aggregate_code: String,
    pub params: ParamsRecord,
    /// The data folder, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The output folder, as given.
    pub output: String,
    /// The `--days` spec, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_spec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchRecord>,
    /// Every day of the run, in date order.
    pub days: Vec<DayRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<AggregateRecord>,
}

impl RunManifest {
    /// Parses a manifest, refusing other formats and newer versions.
    pub fn parse(location: &str, bytes: &[u8]) -> Result<RunManifest, RunsError> {
        parse_record(location, bytes)
    }

    /// The manifest as stored: pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        stored_json(self)
    }
}

impl DayRecordFile {
    pub fn new(run: &str, record: DayRecord) -> DayRecordFile {
        DayRecordFile {
            format: FORMAT.to_owned(),
            version: VERSION,
            run: run.to_owned(),
            record,
        }
    }

    /// Parses a day record, refusing other formats and newer versions.
    pub fn parse(location: &str, bytes: &[u8]) -> Result<DayRecordFile, RunsError> {
        parse_record(location, bytes)
    }

    /// The record as stored: pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        stored_json(self)
    }
}

/// Pretty JSON with a final newline: how records are stored.
fn stored_json(value: &impl Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// A stored record of this format, checked for its format and version first.
fn parse_record<T: serde::de::DeserializeOwned>(
    location: &str,
    bytes: &[u8],
) -> Result<T, RunsError> {
    let malformed = |e: serde_json::Error| RunsError::Malformed {
        location: location.to_owned(),
        detail: e.to_string(),
    };
    check_format(location, bytes)?;
    serde_json::from_slice(bytes).map_err(malformed)
}

/// Checks `format` and `version` before the rest is read, so an unknown file says what it is.
fn check_format(location: &str, bytes: &[u8]) -> Result<(), RunsError> {
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
        version: Option<u32>,
    }
    let head: Head = serde_json::from_slice(bytes).map_err(|e| RunsError::Malformed {
        location: location.to_owned(),
        detail: e.to_string(),
    })?;
    match (head.format.as_deref(), head.version) {
        (Some(FORMAT), Some(version)) if version <= VERSION => Ok(()),
        (Some(FORMAT), Some(version)) => Err(RunsError::Malformed {
            location: location.to_owned(),
            detail: format!(
                "version {version} of the run format is newer than this capq reads ({VERSION}); \
                 upgrade capq"
            ),
        }),
        _ => Err(RunsError::Malformed {
            location: location.to_owned(),
            detail: format!("not a capq run record (no \"format\": \"{FORMAT}\" and version)"),
        }),
    }
}

/// The hash of an output as records write it.
pub fn hash_text(hash: u64) -> String {
    hash_hex(hash)
}

/// Dates as `YYYY-MM-DD` text.
mod date_text {
    use capmetrics::Date;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(day: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(day)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
