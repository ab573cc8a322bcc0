//! A run as one side of `capq diff`: each day the run holds (processed by it, or carried from
//! an earlier run as up to date) with the version of the output it recorded, its content hash
//! (so identical days compare without being read), its input fingerprint and drop counts, its
//! failures, and the run's provenance (processor, release, parameters).
//!
//! A day's version is normally kept under `.capq/versions/`; when it is gone but the
//! user-facing `<DAY>_processed.csv` still holds the recorded bytes, that file stands in
//! ([`output_location`]). A day whose output is gone altogether, or that the run only planned
//! (a batch still running), is left out of the side and counted in [`RunSide::missing`].

use capmetrics::{Diagnostics, DropReason};
use capq_aggregate::FileInfo;
use capq_diff::{DayStatus as SideStatus, OutputFile, Provenance, Side, SideDay};
use capq_storage::Storage;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::RunsError;
use super::manifest::{DayRecord, DayStatus};
use super::records::{Run, output_location};
use crate::layout::{OutputFolder, output_name};

/// Stats in flight while locating a run's outputs.
const PARALLEL: usize = 32;

/// A run's side, and what could not be put on it.
#[derive(Debug, Clone)]
pub struct RunSide {
    pub side: Side,
    /// Days the run recorded without an output that can still be read: planned and not yet
    /// recorded, or whose kept version and user-facing file are both gone or edited.
    pub missing: Vec<capmetrics::Date>,
}

/// The side of `run`, labelled `label` (how the user named it, say `latest~1`, with the id).
pub async fn run_side(
    storage: &Storage,
    folder: &OutputFolder,
    run: &Run,
    label: String,
) -> Result<RunSide, RunsError> {
    let located: Vec<(usize, Option<SideStatus>)> = stream::iter(run.days().iter().enumerate())
        .map(|(i, record)| async move { Ok::<_, RunsError>((i, status(storage, folder, record).await?)) })
        .buffer_unordered(PARALLEL)
        .try_collect()
        .await?;
    let mut statuses: Vec<Option<SideStatus>> = vec![None; run.days().len()];
    for (i, status) in located {
        statuses[i] = status;
    }
    let mut days = Vec::new();
    let mut missing = Vec::new();
    for (record, status) in run.days().iter().zip(statuses) {
        match status {
            Some(status) => days.push(SideDay {
                day: record.day,
                status,
                input_fingerprint: record.inputs.as_ref().map(|i| i.fingerprint.clone()),
                drops: drops(record),
            }),
            None => missing.push(record.day),
        }
    }
    let mut side = Side::new(label, folder.root().to_string(), days).map_err(|e| {
        RunsError::Malformed {
            location: folder.manifest(run.id()).to_string(),
            detail: e.to_string(),
        }
    })?;
    side.provenance = Some(provenance(run));
    Ok(RunSide { side, missing })
}

/// What the side holds for a day, or `None` when it holds nothing readable.
async fn status(
    storage: &Storage,
    folder: &OutputFolder,
    record: &DayRecord,
) -> Result<Option<SideStatus>, RunsError> {
    match record.status {
        DayStatus::Failed => Ok(Some(SideStatus::Failed {
            error: record
                .error
                .clone()
                .unwrap_or_else(|| "failed (no error recorded)".to_owned()),
        })),
        DayStatus::Ok | DayStatus::UpToDate => {
            let (Some(output), Some(hash)) = (&record.output, record.output_hash()) else {
                return Ok(None);
            };
            let Some(location) = output_location(storage, folder, record).await? else {
                return Ok(None);
            };
            let versioned = location != folder.output(record.day);
            let name = if versioned {
                output.version.clone()
            } else {
                output_name(record.day)
            };
            // A version's partial is trusted only beside its version; the user-facing partial
            // is found by the engine's own currency check if the side lists it.
            let partial = output.partial.as_ref().filter(|_| versioned).map(|p| FileInfo {
                name: p.clone(),
                size: None,
                modified: None,
            });
            Ok(Some(SideStatus::Output(OutputFile {
                csv: FileInfo {
                    name,
                    size: Some(output.size),
                    modified: None,
                },
                hash: Some(hash),
                partial,
            })))
        }
        _ => Ok(None),
    }
}

fn drops(record: &DayRecord) -> Option<Diagnostics> {
    let (rows_in, rows_out, dropped) = (record.rows_in?, record.rows_out?, record.dropped.as_ref()?);
    let mut diagnostics = Diagnostics::default();
    diagnostics.rows_in = rows_in;
    diagnostics.rows_out = rows_out;
    for (key, n) in dropped {
        // A reason this build does not know (a newer processor's) is not comparable.
        diagnostics.add_dropped(DropReason::from_key(key)?, *n);
    }
    Some(diagnostics)
}

fn provenance(run: &Run) -> Provenance {
    let m = &run.manifest;
    let params = match m.params.params() {
        Ok(params) => params
            .entries()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        // Parameters this build cannot parse are still shown as recorded.
        Err(_) => [("params".to_owned(), m.params.canonical.clone())].into(),
    };
    Provenance {
        run_id: Some(m.id.clone()),
        started: Some(m.started.clone()),
        processor_fingerprint: Some(m.processor.clone()),
        processor_version: Some(m.capq_version.clone()),
        params,
    }
}
