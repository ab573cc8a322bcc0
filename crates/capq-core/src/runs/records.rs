//! Reading and writing run records in an output folder: manifests, the day records workers add
//! to a batch, listing runs in time order, resolving `latest` / `latest~N` / an id, and finding
//! each day's latest record.
//!
//! This is the library behind `capq run`'s incremental decisions, `capq runs` and `capq diff`:
//! [`list_runs`] and [`load_run`] give a run with its days combined (a batch's planned days
//! overlaid with the records its workers wrote), [`resolve`] picks one by name. Runs are
//! ordered by the epoch seconds in their ids, then by their recorded start time, so finding
//! the latest records reads manifests newest first and stops as soon as every day is found.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use capmetrics::Date;
use capq_storage::Storage;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::RunsError;
use super::manifest::{DayRecord, DayRecordFile, DayStatus, RunKind, RunManifest};
use crate::layout::OutputFolder;

/// The file a batch's aggregate job writes beside the batch's manifest: an
/// [`AggregateRecord`](super::AggregateRecord) as JSON.
pub const AGGREGATE_RECORD: &str = "aggregate.json";

/// Requests in flight at once when reading many records.
const PARALLEL: usize = 16;

/// A run with its days as they stand: for a batch, each planned day replaced by the record its
/// worker wrote, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub manifest: RunManifest,
}

/// Days of a run by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub ok: usize,
    pub up_to_date: usize,
    pub failed: usize,
    pub missing: usize,
    pub planned: usize,
}

impl Run {
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// The run's days, in date order.
    pub fn days(&self) -> &[DayRecord] {
        &self.manifest.days
    }

    /// The record of one day, if the run covers it.
    pub fn day(&self, day: Date) -> Option<&DayRecord> {
        self.manifest.days.iter().find(|d| d.day == day)
    }

    pub fn counts(&self) -> DayCounts {
        let mut counts = DayCounts::default();
        for day in &self.manifest.days {
            match day.status {
                DayStatus::Ok => counts.ok += 1,
                DayStatus::UpToDate => counts.up_to_date += 1,
                DayStatus::Failed => counts.failed += 1,
                DayStatus::Missing => counts.missing += 1,
                DayStatus::Planned => counts.planned += 1,
            }
        }
        counts
    }
}

/// Stores a run's manifest (`.capq/runs/<RUN>/run.json`).
pub async fn write_manifest(
    storage: &Storage,
    folder: &OutputFolder,
    manifest: &RunManifest,
) -> Result<(), RunsError> {
    storage
        .put(
            &folder.manifest(&manifest.id),
            Bytes::from(manifest.to_bytes()),
        )
        .await?;
    Ok(())
}

/// Stores one day's record of a batch (`.capq/runs/<RUN>/days/<DAY>.json`): each day has its
/// own object, written only by the worker that ran it.
pub async fn write_day_record(
    storage: &Storage,
    folder: &OutputFolder,
    run: &str,
    record: &DayRecord,
) -> Result<(), RunsError> {
    let file = DayRecordFile::new(run, record.clone());
    storage
        .put(
            &folder.day_record(run, record.day),
            Bytes::from(file.to_bytes()),
        )
        .await?;
    Ok(())
}

/// The ids of every run recorded in the folder, oldest first by the time in their ids.
pub async fn run_ids(storage: &Storage, folder: &OutputFolder) -> Result<Vec<String>, RunsError> {
    let (_, mut ids) = storage.list_stats(&folder.runs()).await?;
    ids.sort_by_key(|id| (super::id_seconds(id).unwrap_or(0), id.clone()));
    Ok(ids)
}

/// Reads a run's manifest alone (for a batch: the planned days, without its workers' records).
pub async fn read_manifest(
    storage: &Storage,
    folder: &OutputFolder,
    id: &str,
) -> Result<Option<RunManifest>, RunsError> {
    let location = folder.manifest(id);
    match storage.get(&location).await? {
        Some(bytes) => RunManifest::parse(&location.to_string(), &bytes).map(Some),
        None => Ok(None),
    }
}

/// The aggregate record of the newest run that wrote one, with that run's id.
pub async fn latest_aggregate(
    storage: &Storage,
    folder: &OutputFolder,
) -> Result<Option<(String, super::AggregateRecord)>, RunsError> {
    let mut ids = run_ids(storage, folder).await?;
    ids.reverse();
    // Ids order runs by the second they started in; runs of the same second are told apart by
    // their start times (milliseconds), so every run of the newest second with an aggregate is
    // read before one is chosen.
    let mut best: Option<(String, String, super::AggregateRecord)> = None;
    for id in ids {
        let second = super::id_seconds(&id);
        if let Some((best_id, _, _)) = &best
            && second < super::id_seconds(best_id)
        {
            break;
        }
        match read_manifest(storage, folder, &id).await {
            Ok(Some(manifest)) => {
                if let Some(aggregate) = manifest.aggregate
                    && best
                        .as_ref()
                        .is_none_or(|(_, started, _)| manifest.started > *started)
                {
                    best = Some((id, manifest.started, aggregate));
                }
            }
            Ok(None) => {}
            Err(e @ RunsError::Malformed { .. }) => tracing::warn!("skipping a run: {e}"),
            Err(e) => return Err(e),
        }
    }
    Ok(best.map(|(id, _, aggregate)| (id, aggregate)))
}

/// Reads a run: its manifest, and for a batch the day records its workers wrote.
pub async fn load_run(
    storage: &Storage,
    folder: &OutputFolder,
    id: &str,
) -> Result<Run, RunsError> {
    let location = folder.manifest(id);
    let Some(bytes) = storage.get(&location).await? else {
        return Err(RunsError::NoSuchRun {
            spec: id.to_owned(),
            folder: folder.root().to_string(),
            known: Vec::new(),
        });
    };
    let mut manifest = RunManifest::parse(&location.to_string(), &bytes)?;
    if manifest.kind == RunKind::Batch {
        // The batch's aggregate job records its aggregate beside the manifest, once.
        let aggregate = folder.run(id).join(AGGREGATE_RECORD);
        if manifest.aggregate.is_none()
            && let Some(bytes) = storage.get(&aggregate).await?
        {
            match serde_json::from_slice(&bytes) {
                Ok(record) => manifest.aggregate = Some(record),
                Err(e) => tracing::warn!("skipping {aggregate}: {e}"),
            }
        }
        for record in day_records(storage, folder, id).await? {
            match manifest.days.iter_mut().find(|d| d.day == record.day) {
                // The worker does not know why the day was enqueued; the plan does.
                Some(slot) => {
                    let reason = slot.reason;
                    *slot = record;
                    slot.reason = slot.reason.or(reason);
                }
                None => manifest.days.push(record),
            }
        }
        manifest.days.sort_by_key(|d| d.day);
    }
    Ok(Run { manifest })
}

/// The day records a batch's workers wrote so far. A record that cannot be read is skipped
/// with a warning: the day then counts as not recorded.
async fn day_records(
    storage: &Storage,
    folder: &OutputFolder,
    id: &str,
) -> Result<Vec<DayRecord>, RunsError> {
    let (files, _) = storage.list_stats(&folder.day_records(id)).await?;
    let records: Vec<Option<DayRecord>> = stream::iter(files)
        .filter(|(name, _)| std::future::ready(name.ends_with(".json")))
        .map(|(name, _)| async move {
            let location = folder.day_records(id).join(&name);
            let Some(bytes) = storage.get(&location).await? else {
                return Ok::<_, RunsError>(None);
            };
            match DayRecordFile::parse(&location.to_string(), &bytes) {
                Ok(file) => Ok(Some(file.record)),
                Err(e) => {
                    tracing::warn!("skipping a day record: {e}");
                    Ok(None)
                }
            }
        })
        .buffer_unordered(PARALLEL)
        .try_collect()
        .await?;
    Ok(records.into_iter().flatten().collect())
}

/// Every run of the folder, oldest first (by start time). Runs whose manifest cannot be read
/// are skipped with a warning.
pub async fn list_runs(storage: &Storage, folder: &OutputFolder) -> Result<Vec<Run>, RunsError> {
    let ids = run_ids(storage, folder).await?;
    let loaded: Vec<Option<Run>> = stream::iter(ids)
        .map(|id| async move { readable(load_run(storage, folder, &id).await) })
        .buffered(PARALLEL)
        .try_collect()
        .await?;
    let mut runs: Vec<Run> = loaded.into_iter().flatten().collect();
    sort_runs(&mut runs);
    Ok(runs)
}

/// A run, or `None` (with a warning) when its records are unreadable or gone; storage
/// failures stay errors.
fn readable(loaded: Result<Run, RunsError>) -> Result<Option<Run>, RunsError> {
    match loaded {
        Ok(run) => Ok(Some(run)),
        Err(e @ (RunsError::Malformed { .. } | RunsError::NoSuchRun { .. })) => {
            tracing::warn!("skipping a run: {e}");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn sort_runs(runs: &mut [Run]) {
    runs.sort_by(|a, b| {
        (&a.manifest.started, &a.manifest.id).cmp(&(&b.manifest.started, &b.manifest.id))
    });
}

/// The run `spec` names among `runs` (oldest first): `latest`, `latest~N` (N runs before the
/// latest), or a run id.
pub fn resolve<'a>(runs: &'a [Run], spec: &str, folder: &str) -> Result<&'a Run, RunsError> {
    let no_such = || RunsError::NoSuchRun {
        spec: spec.to_owned(),
        folder: folder.to_owned(),
        known: runs.iter().map(|r| r.id().to_owned()).collect(),
    };
    if runs.is_empty() {
        return Err(RunsError::NoRuns {
            folder: folder.to_owned(),
        });
    }
    let back = match spec.strip_prefix("latest") {
        Some("") => Some(0),
        Some(rest) => Some(
            rest.strip_prefix('~')
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(no_such)?,
        ),
        None => None,
    };
    match back {
        Some(back) => runs
            .len()
            .checked_sub(back + 1)
            .and_then(|i| runs.get(i))
            .ok_or_else(no_such),
        None => runs.iter().find(|r| r.id() == spec).ok_or_else(no_such),
    }
}

/// The latest record of each of `days` (the newest run that recorded the day `ok`,
/// `up-to-date` or `failed`), with the id of that run. Manifests are read newest first, a few
/// at a time, until every day is found or the runs run out.
pub async fn latest_records(
    storage: &Storage,
    folder: &OutputFolder,
    days: &[Date],
) -> Result<BTreeMap<Date, (String, DayRecord)>, RunsError> {
    let mut wanted: BTreeSet<Date> = days.iter().copied().collect();
    let mut found = BTreeMap::new();
    let mut ids = run_ids(storage, folder).await?;
    ids.reverse();
    // Runs of the same second are ordered by their recorded start, so they are read together.
    let mut groups: Vec<Vec<String>> = Vec::new();
    for id in ids {
        match groups.last_mut() {
            Some(group)
                if group
                    .last()
                    .is_some_and(|last| super::id_seconds(last) == super::id_seconds(&id)) =>
            {
                group.push(id);
            }
            _ => groups.push(vec![id]),
        }
    }
    for batch in groups.chunks(PARALLEL.div_ceil(2)) {
        if wanted.is_empty() {
            break;
        }
        let loaded: Vec<Vec<Run>> = stream::iter(batch.iter().cloned())
            .map(|group| async move {
                let mut runs = Vec::new();
                for id in group {
                    runs.extend(readable(load_run(storage, folder, &id).await)?);
                }
                sort_runs(&mut runs);
                runs.reverse();
                Ok::<_, RunsError>(runs)
            })
            .buffered(PARALLEL)
            .try_collect()
            .await?;
        for run in loaded.into_iter().flatten() {
            for record in &run.manifest.days {
                let decisive = matches!(
                    record.status,
                    DayStatus::Ok | DayStatus::UpToDate | DayStatus::Failed
                );
                if decisive && wanted.remove(&record.day) {
                    found.insert(record.day, (run.id().to_owned(), record.clone()));
                }
            }
        }
    }
    Ok(found)
}

/// Where the output a record describes is now: its kept version, or the user-facing file
/// while that still holds the recorded bytes (checked by stamp, else by reading it). `None`
/// when the record has no output or its bytes are gone (removed, or the file was edited).
pub async fn output_location(
    storage: &Storage,
    folder: &OutputFolder,
    record: &DayRecord,
) -> Result<Option<capq_storage::Location>, RunsError> {
    let (Some(output), Some(hash)) = (&record.output, record.output_hash()) else {
        return Ok(None);
    };
    let version = folder.resolve(&output.version);
    if storage.stat(&version).await?.is_some() {
        return Ok(Some(version));
    }
    let user = folder.output(record.day);
    let Some(now) = storage.stat(&user).await? else {
        return Ok(None);
    };
    if output.stamp.as_deref() == Some(now.stamp.as_str()) {
        return Ok(Some(user));
    }
    if now.size != output.size {
        return Ok(None);
    }
    Ok(storage
        .get(&user)
        .await?
        .filter(|bytes| xxhash_rust::xxh64::xxh64(bytes, 0) == hash)
        .map(|_| user))
}

#[cfg(test)]
mod tests {
    use capq_storage::Location;

    use super::*;
    use crate::runs::manifest::{FORMAT, OutputRecord, ParamsRecord, VERSION};

    fn manifest(id: &str, started: &str, kind: RunKind, days: Vec<DayRecord>) -> RunManifest {
        RunManifest {
            format: FORMAT.to_owned(),
            version: VERSION,
            id: id.to_owned(),
            kind,
            started: started.to_owned(),
            finished: None,
            capq_version: "0".to_owned(),
            processor: "p".to_owned(),
            aggregate_code: "a".to_owned(),
            params: ParamsRecord::of(&capmetrics::Params::DEFAULT),
            data: None,
            output: "out".to_owned(),
            days_spec: None,
            batch: None,
            days,
            aggregate: None,
        }
    }

    fn ok(day: Date, bytes: &[u8], run: &str) -> DayRecord {
        let hash = xxhash_rust::xxh64::xxh64(bytes, 0);
        let mut record = DayRecord::bare(day, DayStatus::Ok);
        record.made_by = Some(run.to_owned());
        record.output = Some(OutputRecord {
            name: crate::layout::output_name(day),
            hash: crate::layout::hash_hex(hash),
            size: bytes.len() as u64,
            version: OutputFolder::version_name(day, hash),
            partial: None,
            stamp: None,
        });
        record
    }

    #[tokio::test]
    async fn runs_list_in_time_order_resolve_by_name_and_find_their_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let folder = OutputFolder::new(Location::Path(dir.path().to_path_buf()));
        let storage = Storage::from_env_vars(Vec::<(String, String)>::new()).unwrap();
        let day: Date = "2016-11-24".parse().unwrap();
        // Two runs in the same second: their start times order them.
        let first = manifest(
            "run-100-aaaa",
            "2026-01-01T00:00:00.100Z",
            RunKind::Run,
            vec![ok(day, b"one", "run-100-aaaa")],
        );
        let second = manifest(
            "run-100-0000",
            "2026-01-01T00:00:00.900Z",
            RunKind::Run,
            vec![ok(day, b"two", "run-100-0000")],
        );
        let mut batch = manifest(
            "capq-200-beef",
            "2026-01-01T00:03:20.000Z",
            RunKind::Batch,
            vec![DayRecord::bare(day, DayStatus::Planned)],
        );
        batch.days[0].reason = Some(crate::runs::Reason::InputChanged);
        for m in [&first, &second, &batch] {
            write_manifest(&storage, &folder, m).await.unwrap();
        }
        // Not yet run: the batch's day is planned, and the latest record is the second run's.
        let latest = latest_records(&storage, &folder, &[day]).await.unwrap();
        assert_eq!(latest[&day].0, "run-100-0000");
        // A worker records the day; readers combine it with the plan (keeping the reason).
        write_day_record(
            &storage,
            &folder,
            "capq-200-beef",
            &ok(day, b"three", "capq-200-beef"),
        )
        .await
        .unwrap();
        let runs = list_runs(&storage, &folder).await.unwrap();
        let ids: Vec<&str> = runs.iter().map(Run::id).collect();
        assert_eq!(ids, ["run-100-aaaa", "run-100-0000", "capq-200-beef"]);
        assert_eq!(runs[2].counts().ok, 1);
        assert_eq!(
            runs[2].days()[0].reason,
            Some(crate::runs::Reason::InputChanged)
        );
        let where_ = dir.path().display().to_string();
        assert_eq!(
            resolve(&runs, "latest", &where_).unwrap().id(),
            "capq-200-beef"
        );
        assert_eq!(
            resolve(&runs, "latest~2", &where_).unwrap().id(),
            "run-100-aaaa"
        );
        assert_eq!(
            resolve(&runs, "run-100-0000", &where_).unwrap().id(),
            "run-100-0000"
        );
        for bad in ["latest~3", "latest~x", "nope"] {
            let error = resolve(&runs, bad, &where_).unwrap_err();
            assert!(error.is_input_error());
            assert!(error.to_string().contains("capq-200-beef"), "{error}");
        }
        assert!(matches!(
            resolve(&[], "latest", &where_),
            Err(RunsError::NoRuns { .. })
        ));
        let latest = latest_records(&storage, &folder, &[day]).await.unwrap();
        assert_eq!(latest[&day].0, "capq-200-beef");

        // Outputs: the user-facing file while it holds the bytes, the kept version after.
        let record = runs[1].day(day).unwrap();
        assert_eq!(
            output_location(&storage, &folder, record).await.unwrap(),
            None
        );
        std::fs::write(dir.path().join("2016-11-24_processed.csv"), b"two").unwrap();
        assert_eq!(
            output_location(&storage, &folder, record).await.unwrap(),
            Some(folder.output(day))
        );
        std::fs::write(dir.path().join("2016-11-24_processed.csv"), b"owt").unwrap();
        assert_eq!(
            output_location(&storage, &folder, record).await.unwrap(),
            None
        );
        let version = dir
            .path()
            .join(record.output.as_ref().unwrap().version.clone());
        std::fs::create_dir_all(version.parent().unwrap()).unwrap();
        std::fs::write(&version, b"two").unwrap();
        assert_eq!(
            output_location(&storage, &folder, record).await.unwrap(),
            Some(Location::Path(version))
        );

        // A damaged manifest is skipped with a warning; a newer format is refused clearly.
        std::fs::create_dir_all(dir.path().join(".capq/runs/run-300-dead")).unwrap();
        std::fs::write(
            dir.path().join(".capq/runs/run-300-dead/run.json"),
            b"{\"format\": \"capq-run\", \"version\": 9}",
        )
        .unwrap();
        assert_eq!(list_runs(&storage, &folder).await.unwrap().len(), 3);
        let error = load_run(&storage, &folder, "run-300-dead")
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("newer than this capq reads"),
            "{error}"
        );
    }
}
