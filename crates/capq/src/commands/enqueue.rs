//! `capq enqueue`: one `capq.process_day(day, output, params=…, run=…)` job per day, as one
//! batch, with the batch's run manifest written into the output folder first. Prints the ids of
//! the jobs it enqueued on stdout, one per line, in day order. With `--aggregate`, the batch
//! ends with one `capq.aggregate` job that depends on every day it enqueued (RQ's dependency
//! keys, failures allowed), enqueued in the same transactions; its id is printed last.
//!
//! With `--data`, the batch is planned as `capq run` plans (each day's inputs hashed and compared
//! with its latest record under the output folder): days whose outputs are up to date, and days
//! without a positions file, are recorded in the manifest but not enqueued. `--force` enqueues
//! every day.
//!
//! The batch is pinned to this build's processor fingerprint (`capq_core::pin`): its jobs, the
//! aggregate included, go on `<queue>@<fingerprint>` with the fingerprint in each job, so only
//! workers of this build run them and the batch never mixes two processor versions.
//! `--any-processor` puts them on the queue itself instead, for any build to run.

use anyhow::Context;
use capmetrics::{Date, parse_day_spec};
use capq_core::job::backoff_intervals;
use capq_core::layout::OutputFolder;
use capq_core::payload::{Call, Serializer};
use capq_core::pin;
use capq_core::runs::manifest::{BatchRecord, DayRecord, DayStatus, RunKind, RunManifest};
use capq_core::runs::plan::inputs_record;
use capq_core::runs::{self, Decision, ParamsRecord, PlannedDay, Planner};
use capq_pickle::Value;
use capq_redis::{Batch, NewJob};
use capq_storage::{Location, Storage};
use serde_json::json;

use super::run::{parse_params, runs_error};
use super::{connect, runtime};
use crate::cli::EnqueueArgs;
use crate::exit::{self, UserError};

pub fn run(args: EnqueueArgs) -> anyhow::Result<u8> {
    let days = parse_day_spec(&args.days).map_err(|e| UserError(format!("--days: {e}")))?;
    let output = match Location::parse(&args.output) {
        Ok(Location::Http(url)) => anyhow::bail!(UserError(format!(
            "--output: http(s) locations are read-only ({url}); use s3:// or a folder"
        ))),
        Ok(location) => location,
        Err(e) => anyhow::bail!(UserError(format!("--output: {e}"))),
    };
    let folder = OutputFolder::new(output);
    let params = parse_params(&args.params)?;
    if args.timeout == 0 || args.timeout < -1 {
        anyhow::bail!(UserError(
            "--timeout must be a positive number of seconds, or -1 for none".into()
        ));
    }
    if args.queue.is_empty() || args.queue.contains(char::is_whitespace) {
        anyhow::bail!(UserError(format!(
            "--queue {:?} is not a queue name",
            args.queue
        )));
    }
    if let Some((base, _)) = pin::split(&args.queue) {
        anyhow::bail!(UserError(format!(
            "--queue {}: a queue ending with @<fingerprint> is a pinned one, which capq enqueue \
             chooses itself; give the plain queue ({base})",
            args.queue
        )));
    }
    let processor = runs::processor_fingerprint();
    let pinned = (!args.any_processor).then(|| processor.to_owned());
    let queue = match &pinned {
        Some(processor) => pin::pinned_queue(&args.queue, processor),
        None => args.queue.clone(),
    };
    if args.aggregate && !args.output.ends_with('/') {
        anyhow::bail!(UserError(format!(
            "--aggregate needs --output to be a folder ending with '/' (the aggregate reads every \
             <DAY>_processed.csv in it), not {:?}",
            args.output
        )));
    }
    let runtime = runtime()?;
    let storage = Storage::from_env().context("configuring storage")?;
    let started = std::time::SystemTime::now();
    let planned = match &args.data {
        Some(data) => plan(
            &runtime, &storage, &folder, data, &days, &params, args.force,
        )?,
        None => unplanned(&days),
    };
    let mut batch = Batch::new(args.days.clone(), queue.clone(), args.output.clone());
    let retries = (args.retries > 0).then(|| {
        (
            args.retries,
            backoff_intervals(args.retries, args.retry_interval),
        )
    });
    let mut jobs: Vec<(Date, NewJob)> = Vec::new();
    let mut records = Vec::new();
    for day in &planned {
        match day.decision {
            Decision::Process(_) => {
                let call = Call {
                    func: "capq.process_day".into(),
                    args: vec![
                        Value::Str(day.day.to_string()),
                        Value::Str(folder.output(day.day).to_string()),
                    ],
                    kwargs: vec![
                        ("params".into(), Value::Str(params.canonical())),
                        ("run".into(), Value::Str(batch.id.clone())),
                    ],
                    serializer: Serializer::Pickle,
                };
                let job = NewJob {
                    timeout: args.timeout,
                    result_ttl: args.result_ttl,
                    failure_ttl: args.failure_ttl,
                    retries: retries.clone(),
                    meta: vec![
                        ("capq_batch".into(), Value::Str(batch.id.clone())),
                        ("day".into(), Value::Str(day.day.to_string())),
                    ],
                    day: Some(day.day.to_string()),
                    processor: pinned.clone(),
                    ..NewJob::new(queue.clone(), call)
                };
                let mut record = DayRecord::bare(day.day, DayStatus::Planned);
                record.reason = match &args.data {
                    Some(_) => day.reason(),
                    None => args.force.then_some(runs::Reason::Forced),
                };
                record.inputs = inputs_record(day.inputs.as_ref());
                record.job = Some(job.id.clone());
                records.push(record);
                jobs.push((day.day, job));
            }
            Decision::UpToDate => records.extend(day.carried()),
            Decision::Missing => records.push(DayRecord::bare(day.day, DayStatus::Missing)),
        }
    }
    let last = args.aggregate.then(|| {
        let aggregate = format!("{}aggregate/", args.output);
        batch.aggregate = Some(aggregate.clone());
        let call = Call {
            func: capq_core::tasks::aggregate::NAME.into(),
            args: vec![Value::Str(args.output.clone()), Value::Str(aggregate)],
            kwargs: vec![("days".into(), Value::Str(args.days.clone()))],
            serializer: Serializer::Pickle,
        };
        NewJob {
            // A year from CSVs takes seconds, but give it room: an hour at least.
            timeout: if args.timeout == -1 {
                -1
            } else {
                args.timeout.max(3600)
            },
            result_ttl: args.result_ttl,
            failure_ttl: args.failure_ttl,
            retries: retries.clone(),
            meta: vec![("capq_batch".into(), Value::Str(batch.id.clone()))],
            processor: pinned.clone(),
            ..NewJob::new(queue.clone(), call)
        }
    });
    let manifest = RunManifest {
        format: runs::manifest::FORMAT.to_owned(),
        version: runs::manifest::VERSION,
        id: batch.id.clone(),
        kind: RunKind::Batch,
        started: runs::timestamp(started),
        finished: None,
        capq_version: env!("CARGO_PKG_VERSION").to_owned(),
        processor: processor.to_owned(),
        aggregate_code: runs::AGGREGATE_FINGERPRINT.to_owned(),
        params: ParamsRecord::of(&params),
        data: args.data.clone(),
        output: args.output.clone(),
        days_spec: Some(args.days.clone()),
        batch: Some(BatchRecord {
            queue: queue.clone(),
            pinned: pinned.clone(),
            jobs: jobs
                .iter()
                .map(|(day, job)| (day.to_string(), job.id.clone()))
                .collect(),
        }),
        days: records,
        aggregate: None,
    };
    // The manifest first: a worker's day record never lands in a batch nobody recorded.
    runtime
        .block_on(runs::records::write_manifest(&storage, &folder, &manifest))
        .with_context(|| {
            format!(
                "recording batch {} in {} (the enqueue writes the batch's manifest there, so \
                 it needs write access to the output, with the AWS_* settings the workers use)",
                batch.id,
                folder.root()
            )
        })?;

    let new_jobs: Vec<NewJob> = jobs.iter().map(|(_, job)| job.clone()).collect();
    let enqueued = runtime.block_on(async {
        let redis = connect(&args.redis.url).await?;
        if new_jobs.is_empty() && last.is_none() {
            return Ok(Vec::new());
        }
        redis
            .enqueue_with_last(&new_jobs, Some(&batch), last.as_ref())
            .await
            .map_err(anyhow::Error::from)
    });
    let ids = match enqueued {
        Ok(ids) => ids,
        // One transaction is all or nothing: nothing was enqueued, and the manifest would
        // describe a batch that never ran.
        Err(e) if new_jobs.len() + usize::from(last.is_some()) <= capq_redis::enqueue::CHUNK => {
            let location = folder.manifest(&batch.id);
            if let Err(deleted) = runtime.block_on(storage.delete(&location)) {
                tracing::warn!("could not remove {location}: {deleted}");
            }
            return Err(e);
        }
        // Several transactions: the first ones may have committed, and their jobs will run
        // and record their days under the batch, so its manifest stays.
        Err(e) => {
            return Err(e.context(format!(
                "enqueueing batch {} ({} jobs in transactions of {}): jobs of the transactions \
                 that committed are queued and will run; the batch stays recorded in {}, its \
                 other days planned; once the queued jobs have run, `capq enqueue --data …` again \
                 enqueues the days still to do",
                batch.id,
                new_jobs.len(),
                capq_redis::enqueue::CHUNK,
                folder.root()
            )));
        }
    };
    let skipped = |what: fn(&Decision) -> bool| -> Vec<String> {
        planned
            .iter()
            .filter(|d| what(&d.decision))
            .map(|d| d.day.to_string())
            .collect()
    };
    let up_to_date = skipped(|d| matches!(d, Decision::UpToDate));
    let missing = skipped(|d| matches!(d, Decision::Missing));
    if args.json {
        let jobs: Vec<_> = jobs
            .iter()
            .zip(&ids)
            .map(|((day, _), id)| json!({"day": day.to_string(), "id": id}))
            .collect();
        println!(
            "{}",
            json!({
                "batch": batch.id,
                "queue": queue,
                "pinned": pinned,
                "jobs": jobs,
                "up_to_date": up_to_date,
                "missing": missing,
                "aggregate": last.as_ref().map(|last| json!({"id": last.id, "output": batch.aggregate})),
            })
        );
    } else {
        for id in &ids {
            println!("{id}");
        }
    }
    let mut note = String::new();
    if !up_to_date.is_empty() {
        note.push_str(&format!(
            "; {} up to date",
            crate::text::count(up_to_date.len() as u64, "day")
        ));
    }
    if !missing.is_empty() {
        note.push_str(&format!(
            "; {} without positions",
            crate::text::count(missing.len() as u64, "day")
        ));
    }
    let run_by = match &pinned {
        Some(processor) => format!(" (pinned: only workers of processor {processor} run it)"),
        None => " (unpinned: workers of any build may run it)".to_owned(),
    };
    eprintln!(
        "enqueued {} on queue {queue} as batch {}{note}{run_by}",
        crate::text::count(new_jobs.len() as u64, "job"),
        batch.id
    );
    if let (Some(last), Some(aggregate)) = (&last, &batch.aggregate) {
        eprintln!(
            "and its aggregate job {}, deferred until every day has ended; it writes {aggregate}",
            last.id
        );
    }
    Ok(exit::SUCCESS)
}

/// Without `--data`, every day is enqueued: nothing is known of its inputs, so no reason is
/// recorded (unless `--force` was given).
fn unplanned(days: &[Date]) -> Vec<PlannedDay> {
    let mut seen = std::collections::HashSet::new();
    days.iter()
        .filter(|day| seen.insert(**day))
        .map(|&day| PlannedDay {
            day,
            decision: Decision::Process(runs::Reason::Forced),
            latest: None,
            inputs: None,
            problem: None,
            fresh_stat: None,
        })
        .collect()
}

/// Plans the batch against the data the workers will read.
fn plan(
    runtime: &tokio::runtime::Runtime,
    storage: &Storage,
    folder: &OutputFolder,
    data: &str,
    days: &[Date],
    params: &capmetrics::Params,
    force: bool,
) -> anyhow::Result<Vec<PlannedDay>> {
    let source = capq_storage::data_source(data, storage, runtime.handle().clone())
        .map_err(|e| UserError(format!("--data: {e}")))?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let remote = Location::parse(data).is_ok_and(|l| l.is_remote());
    let planner = Planner {
        source: &source,
        storage,
        runtime: runtime.handle(),
        folder,
        params,
        processor: runs::processor_fingerprint(),
        force,
        threads: if remote { cores.max(8) } else { cores },
    };
    planner
        .plan(days)
        .map_err(|e| runs_error(e, "planning the batch"))
}
