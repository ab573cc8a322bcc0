//! Deciding what a run must do: for each day, whether its stored output is up to date or why it
//! must be processed.
//!
//! A day's key is its input fingerprint (the content hashes of its positions file and of the
//! stops and schedule files chosen for it), the processor fingerprint and the parameters'
//! fingerprint. Its output is up to date when the day's latest record (see
//! [`super::records::latest_records`]) was made with the same key and the user-facing file
//! still holds the recorded bytes. Otherwise the reason is the first of:
//!
//! 1. `forced` (`--force`);
//! 2. `new`: no run of this output folder recorded the day;
//! 3. `last-failed`: the latest record is a failure;
//! 4. `processor-changed`, then 5. `params-changed`: what changed for the whole run comes before
//!    what changed for the day;
//! 6. `input-changed`;
//! 7. `output-missing`: the file is gone, or holds other bytes than recorded.
//!
//! Checking an output costs no read when its stamp (device, inode, length and time; or S3's
//! ETag) is the one recorded; only a file whose stamp changed is read and hashed. Inputs are
//! always hashed (the floor of a rerun): a content hash, unlike a time, cannot miss an edit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use capmetrics::{Date, Params};
use capq_storage::{DayInputs, HashingSource, Stat, Storage};
use tokio::runtime::Handle;

use super::RunsError;
use super::manifest::{DayRecord, DayStatus, InputsRecord, Reason};
use super::records::latest_records;
use crate::layout::{OutputFolder, output_name};
use crate::pipeline::Previous;

/// What to do with a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Its output is up to date; the run carries the latest record forward.
    UpToDate,
    /// Process it, for this reason.
    Process(Reason),
    /// It has no positions file.
    Missing,
}

/// A day of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedDay {
    pub day: Date,
    pub decision: Decision,
    /// The day's latest record and the run that wrote it, if any.
    pub latest: Option<(String, DayRecord)>,
    /// The inputs the day would be processed from, hashed (none when it has no positions file
    /// or no metadata covers it).
    pub inputs: Option<DayInputs>,
    /// Why its inputs could not be planned (no stops or schedule file for it): processing will
    /// fail with this error.
    pub problem: Option<String>,
    /// Up-to-date days whose output's stamp changed but whose bytes did not: the new stamp,
    /// for the record carried forward.
    pub fresh_stat: Option<Stat>,
}

impl PlannedDay {
    /// The record an up-to-date day carries into the new run.
    pub fn carried(&self) -> Option<DayRecord> {
        let (_, latest) = self.latest.as_ref()?;
        let mut record = latest.carried();
        if let (Some(stat), Some(output)) = (&self.fresh_stat, record.output.as_mut()) {
            output.stamp = Some(stat.stamp.clone());
        }
        Some(record)
    }

    /// What the day's latest record says its user-facing output is, for the store to know
    /// without reading it.
    pub fn previous(&self) -> Option<Previous> {
        let (_, record) = self.latest.as_ref()?;
        if !record.has_output() {
            return None;
        }
        let stamp = match &self.fresh_stat {
            Some(stat) => stat.stamp.clone(),
            None => record.output.as_ref()?.stamp.clone()?,
        };
        Some(Previous {
            hash: record.output_hash()?,
            stamp,
        })
    }

    pub fn reason(&self) -> Option<Reason> {
        match self.decision {
            Decision::Process(reason) => Some(reason),
            Decision::UpToDate | Decision::Missing => None,
        }
    }
}

/// Plans a run over an output folder.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    pub source: &'a HashingSource,
    pub storage: &'a Storage,
    /// Storage I/O waits on this; `plan` must run outside the runtime's own threads.
    pub runtime: &'a Handle,
    pub folder: &'a OutputFolder,
    pub params: &'a Params,
    /// The processor fingerprint outputs must have been made with.
    pub processor: &'a str,
    pub force: bool,
    /// Threads that read and hash inputs.
    pub threads: usize,
}

/// What is known of a day's output now.
enum OutputState {
    /// It holds the recorded bytes; the stamp, if it changed.
    Present(Option<Stat>),
    /// Gone, or other bytes.
    Gone,
}

impl Planner<'_> {
    /// Plans `days` (in their order; a day given twice is planned once).
    pub fn plan(&self, days: &[Date]) -> Result<Vec<PlannedDay>, RunsError> {
        let mut unique = days.to_vec();
        unique.sort();
        unique.dedup();
        let latest = self
            .runtime
            .block_on(latest_records(self.storage, self.folder, &unique))?;
        let (listed, _) = self
            .runtime
            .block_on(self.storage.list_stats(self.folder.root()))?;
        let listed: HashMap<String, Stat> = listed.into_iter().collect();
        let listing = self.source.listing().map_err(RunsError::Data)?;

        let next = AtomicUsize::new(0);
        let planned: Mutex<BTreeMap<Date, Result<PlannedDay, RunsError>>> = Mutex::default();
        std::thread::scope(|scope| {
            for _ in 0..self.threads.clamp(1, unique.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&day) = unique.get(i) else { break };
                        let result = self.plan_day(
                            day,
                            &listing,
                            latest.get(&day).cloned(),
                            listed.get(&output_name(day)),
                        );
                        planned
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert(day, result);
                    }
                });
            }
        });
        let mut planned = planned
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::with_capacity(unique.len());
        let mut seen = std::collections::HashSet::new();
        for day in days {
            if seen.insert(*day)
                && let Some(result) = planned.remove(day)
            {
                out.push(result?);
            }
        }
        Ok(out)
    }

    fn plan_day(
        &self,
        day: Date,
        listing: &capq_storage::Listing,
        latest: Option<(String, DayRecord)>,
        listed: Option<&Stat>,
    ) -> Result<PlannedDay, RunsError> {
        let mut planned = PlannedDay {
            day,
            decision: Decision::Missing,
            latest,
            inputs: None,
            problem: None,
            fresh_stat: None,
        };
        let record = planned.latest.as_ref().map(|(_, record)| record);
        match self.source.plan(listing, day) {
            Ok(None) => return Ok(planned),
            Ok(Some(inputs)) => planned.inputs = Some(inputs),
            // A fetch failure is the machine's, not the day's: the plan cannot be made.
            Err(e @ capmetrics::Error::Fetch { .. }) => return Err(RunsError::Data(e)),
            Err(e) => planned.problem = Some(e.to_string()),
        }
        planned.decision = Decision::Process(match record {
            _ if self.force => Reason::Forced,
            None => Reason::New,
            Some(record) if record.status == DayStatus::Failed => Reason::LastFailed,
            Some(record) if record.processor.as_deref() != Some(self.processor) => {
                Reason::ProcessorChanged
            }
            Some(record) if record.params.as_deref() != Some(&self.params.fingerprint()) => {
                Reason::ParamsChanged
            }
            Some(record)
                if planned.inputs.as_ref().map(|i| i.fingerprint())
                    != record.inputs.as_ref().map(|i| i.fingerprint.clone()) =>
            {
                Reason::InputChanged
            }
            Some(record) => match self.output_state(day, record, listed)? {
                OutputState::Gone => Reason::OutputMissing,
                OutputState::Present(fresh) => {
                    planned.fresh_stat = fresh;
                    planned.decision = Decision::UpToDate;
                    return Ok(planned);
                }
            },
        });
        Ok(planned)
    }

    fn output_state(
        &self,
        day: Date,
        record: &DayRecord,
        listed: Option<&Stat>,
    ) -> Result<OutputState, RunsError> {
        let (Some(output), Some(hash), Some(now)) = (&record.output, record.output_hash(), listed)
        else {
            return Ok(OutputState::Gone);
        };
        if output.stamp.as_deref() == Some(now.stamp.as_str()) {
            return Ok(OutputState::Present(None));
        }
        if now.size != output.size {
            return Ok(OutputState::Gone);
        }
        // Same length, another stamp (touched, copied, restored): read it to know.
        let bytes = self
            .runtime
            .block_on(self.storage.get(&self.folder.output(day)))?;
        Ok(match bytes {
            Some(bytes) if xxhash_rust::xxh64::xxh64(&bytes, 0) == hash => {
                OutputState::Present(Some(now.clone()))
            }
            _ => OutputState::Gone,
        })
    }
}

/// The inputs record of planned inputs, for manifests of days not processed yet.
pub fn inputs_record(inputs: Option<&DayInputs>) -> Option<InputsRecord> {
    inputs.map(InputsRecord::of)
}
