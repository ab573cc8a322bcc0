//! Processing one CapMetrics day and storing the CSV: `capq.process_day(day, output,
//! params=None, run=None)` writes to any storage URL, and `tasks.process_day_to_s3(day, bucket,
//! key)` keeps the exact signature of the Python job it replaces.
//!
//! `params` are processor parameters (`"group_max_distance=0.3"`, or a dict of them); `run` is
//! the id of the batch (`capq enqueue`) the job belongs to: the output then goes into the run's
//! output folder, keeping the day's earlier versions, and the worker records the day under the
//! batch (`.capq/runs/<run>/days/<DAY>.json`, see `docs/runs.md`).
//!
//! Both run the one day pipeline (`crate::pipeline`). The result is a dict of plain values
//! (output URL, rows in and out, rows dropped per reason, the output's hash, its partial, the
//! fingerprints it was made with) so that Python `rq` and rq-dashboard can show it.

use std::time::Instant;

use capmetrics::{Date, Params};
use capq_pickle::Value;
use capq_storage::Location;

use crate::layout::{OutputFolder, hash_hex, output_name};
use crate::pipeline::{DayError, Processed, Stored, Target};
use crate::runs;
use crate::task::{Args, CommitError, Outcome, Param, Task, TaskContext};

/// `capq.process_day(day, output)`.
#[derive(Debug)]
pub struct ProcessDay;

/// `tasks.process_day_to_s3(day, bucket, key)`.
#[derive(Debug)]
pub struct ProcessDayToS3;

const DAY_EXAMPLE: &str = "2016-11-24";

impl Task for ProcessDay {
    fn name(&self) -> &'static str {
        "capq.process_day"
    }

    fn params(&self) -> &'static [Param] {
        &[
            Param {
                name: "day",
                required: true,
            },
            Param {
                name: "output",
                required: true,
            },
            Param {
                name: "params",
                required: false,
            },
            Param {
                name: "run",
                required: false,
            },
        ]
    }

    fn run(&self, args: &Args, ctx: &TaskContext) -> Outcome {
        let (day, output) = match (
            args.str("day", DAY_EXAMPLE),
            args.str("output", "s3://bucket/2016-11-24_processed.csv"),
        ) {
            (Ok(day), Ok(output)) => (day, output),
            (Err(e), _) | (_, Err(e)) => return Outcome::fail(e),
        };
        let params = match job_params(self.name(), args.get("params")) {
            Ok(params) => params,
            Err(e) => return Outcome::fail(e),
        };
        let run = match args.get("run") {
            None | Some(Value::None) => None,
            Some(Value::Str(run)) if is_run_id(run) => Some(run.as_str()),
            Some(other) => {
                return Outcome::fail(format!(
                    "{}(): argument `run` must be a run id such as \"capq-1764757000-7f3a\", not {}",
                    self.name(),
                    capmetrics::excerpt(other.to_string().as_bytes())
                ));
            }
        };
        let request = Request {
            task: self.name(),
            day,
            output,
            params,
            run,
        };
        process_to(ctx, &request)
    }
}

impl Task for ProcessDayToS3 {
    fn name(&self) -> &'static str {
        "tasks.process_day_to_s3"
    }

    fn params(&self) -> &'static [Param] {
        &[
            Param {
                name: "day",
                required: true,
            },
            Param {
                name: "bucket",
                required: true,
            },
            Param {
                name: "key",
                required: true,
            },
        ]
    }

    fn run(&self, args: &Args, ctx: &TaskContext) -> Outcome {
        let fields = (
            args.str("day", DAY_EXAMPLE),
            args.str("bucket", "my-bucket"),
            args.str("key", "processed/2016-11-24.csv"),
        );
        let (day, bucket, key) = match fields {
            (Ok(day), Ok(bucket), Ok(key)) => (day, bucket, key),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Outcome::fail(e),
        };
        if bucket.is_empty() || bucket.contains('/') {
            return Outcome::fail(format!(
                "{}(): `bucket` must be a bucket name, not {bucket:?}",
                self.name()
            ));
        }
        let output = format!("s3://{bucket}/{}", key.trim_start_matches('/'));
        let request = Request {
            task: self.name(),
            day,
            output: &output,
            params: Params::DEFAULT,
            run: None,
        };
        process_to(ctx, &request)
    }
}

/// One day to process, as a job asked for it.
struct Request<'a> {
    task: &'static str,
    day: &'a str,
    output: &'a str,
    params: Params,
    /// The batch the job belongs to, if any.
    run: Option<&'a str>,
}

/// A run id as `capq enqueue` makes them: letters, digits, `-`, `_`, `.`, nothing that could
/// climb out of the runs folder.
fn is_run_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 100
        && !text.starts_with('.')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The `params` argument: none (the defaults), `"key=value,key=value"`, or a dict of values.
fn job_params(task: &str, value: Option<&Value>) -> Result<Params, String> {
    let bad = |e: capmetrics::ParamError| format!("{task}(): argument `params`: {e}");
    match value {
        None | Some(Value::None) => Ok(Params::DEFAULT),
        Some(Value::Str(text)) => Params::from_canonical(text).map_err(bad),
        Some(Value::Dict(entries)) => {
            let mut assignments = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let value = match value {
                    Value::Str(s) => s.clone(),
                    Value::Int(i) => i.to_string(),
                    Value::Float(f) => f.to_string(),
                    other => {
                        return Err(format!(
                            "{task}(): argument `params`: the value of {key} must be a number or a \
                             str, not {} {other}",
                            other.type_name()
                        ));
                    }
                };
                let Value::Str(key) = key else {
                    return Err(format!(
                        "{task}(): argument `params`: keys must be parameter names, not {key}"
                    ));
                };
                assignments.push(format!("{key}={value}"));
            }
            Params::from_assignments(assignments).map_err(bad)
        }
        Some(other) => Err(format!(
            "{task}(): argument `params` must be a str such as \"group_max_distance=0.3\" or a \
             dict, not {} {other}",
            other.type_name()
        )),
    }
}

fn process_to(ctx: &TaskContext, request: &Request<'_>) -> Outcome {
    let (task, day) = (request.task, request.day);
    // A day is ten characters; anything much longer is quoted as an excerpt, not in full.
    if day.len() > 40 {
        return Outcome::fail(format!(
            "{task}(): argument `day`: {} is not a date; expected YYYY-MM-DD",
            capmetrics::excerpt(day.as_bytes())
        ));
    }
    let date: Date = match day.parse() {
        Ok(date) => date,
        Err(e) => return Outcome::fail(format!("{task}(): argument `day`: {e}")),
    };
    let location = match Location::parse(request.output) {
        Ok(location) => location,
        Err(e) => return Outcome::fail(format!("{task}(): argument `output`: {e}")),
    };
    // Refused before any work: the worker's --allow-output decides where jobs may write.
    if let Err(e) = ctx.env.storage.check_output(&location) {
        return Outcome::fail(format!("{task}(): argument `output`: {e}"));
    }
    let target = match request.run {
        None => Target::File(location),
        Some(_) => match run_folder(&location, date) {
            Some(folder) => Target::Folder {
                folder,
                previous: None,
            },
            None => {
                return Outcome::fail(format!(
                    "{task}(): argument `output`: with `run`, the output must be \
                     <folder>/{}, not {location}",
                    output_name(date)
                ));
            }
        },
    };
    let started = Instant::now();
    let pipeline = ctx.env.pipeline();
    let mut processed = match pipeline.process(date, &request.params, ctx.cancel()) {
        Ok(processed) => processed,
        Err(e) => return failure(ctx, request, &target, date, e, started),
    };
    // The store is the commit: a timeout either comes first (nothing is stored) or waits for it.
    let stored = match ctx.commit(|| pipeline.store(&mut processed, &target)) {
        Ok(stored) => stored,
        Err(CommitError::Cancelled) => {
            return Outcome::fail(format!("day {day}: cancelled before its output was stored"));
        }
        Err(CommitError::Failed(e)) => return failure(ctx, request, &target, date, e, started),
    };
    if let (Some(run), Target::Folder { folder, .. }) = (request.run, &target) {
        let record = runs::processed_record(&processed, &stored, None, run, started.elapsed());
        if let Err(e) = record_day(ctx, folder, run, record) {
            return Outcome::Failure {
                message: format!("day {day}: stored, but its record was not: {e}"),
                transient: !e.is_input_error(),
            };
        }
    }
    tracing::info!(
        job_id = %ctx.job_id, %day, output = %stored.output, diagnostics = %processed.diagnostics,
        "day processed"
    );
    Outcome::Success(Some(result(
        &processed,
        &stored,
        request.run,
        started.elapsed(),
    )))
}

/// The folder of a run's output `<folder>/<DAY>_processed.csv`, or `None` for another name.
fn run_folder(location: &Location, day: Date) -> Option<OutputFolder> {
    let name = output_name(day);
    let parent = match location {
        Location::Path(path) if path.file_name()?.to_str()? == name => {
            Location::Path(path.parent()?.into())
        }
        Location::Path(_) => return None,
        Location::S3 { bucket, key } => {
            let prefix = key.strip_suffix(&name)?;
            if !(prefix.is_empty() || prefix.ends_with('/')) {
                return None;
            }
            Location::S3 {
                bucket: bucket.clone(),
                key: prefix.to_owned(),
            }
        }
        Location::Http(_) => return None,
    };
    Some(OutputFolder::new(parent))
}

/// The job's failure; for a batch's day (not cancelled: the job is still this worker's), the
/// failure is recorded under the batch too.
fn failure(
    ctx: &TaskContext,
    request: &Request<'_>,
    target: &Target,
    day: Date,
    error: DayError,
    started: Instant,
) -> Outcome {
    if let (Some(run), Target::Folder { folder, .. }) = (request.run, target)
        && !ctx.is_cancelled()
    {
        let mut record =
            runs::failed_record(day, &error, None, &request.params, None, started.elapsed());
        record.job = Some(ctx.job_id.clone());
        let written = ctx.env.runtime.block_on(runs::records::write_day_record(
            &ctx.env.storage,
            folder,
            run,
            &record,
        ));
        if let Err(e) = written {
            tracing::warn!(job_id = %ctx.job_id, %day, "the day's failure was not recorded: {e}");
        }
    }
    Outcome::Failure {
        transient: error.is_transient(),
        message: error.message,
    }
}

/// Stores a batch's day record, naming the job that wrote it.
fn record_day(
    ctx: &TaskContext,
    folder: &OutputFolder,
    run: &str,
    mut record: runs::DayRecord,
) -> Result<(), runs::RunsError> {
    record.job = Some(ctx.job_id.clone());
    ctx.env.runtime.block_on(runs::records::write_day_record(
        &ctx.env.storage,
        folder,
        run,
        &record,
    ))
}

/// The job's result: a dict of plain values that Python `rq` and rq-dashboard show.
fn result(
    processed: &Processed,
    stored: &Stored,
    run: Option<&str>,
    elapsed: std::time::Duration,
) -> Value {
    let text = |s: &str| Value::Str(s.to_owned());
    let diagnostics = &processed.diagnostics;
    let dropped = diagnostics
        .reasons()
        .map(|(reason, n)| (text(reason.key()), Value::Int(n as i64)))
        .collect();
    let mut entries = vec![
        (text("day"), Value::Str(processed.day.to_string())),
        (text("output"), Value::Str(stored.output.to_string())),
        (text("rows_in"), Value::Int(diagnostics.rows_in as i64)),
        (text("rows_out"), Value::Int(diagnostics.rows_out as i64)),
        (text("dropped"), Value::Dict(dropped)),
        (
            text("seconds"),
            Value::Float((elapsed.as_secs_f64() * 1e4).round() / 1e4),
        ),
        (text("output_hash"), Value::Str(hash_hex(processed.hash))),
        (
            text("partial"),
            stored
                .partial
                .as_ref()
                .map_or(Value::None, |p| Value::Str(p.to_string())),
        ),
        (
            text("inputs"),
            processed
                .inputs
                .as_ref()
                .map_or(Value::None, |i| Value::Str(i.fingerprint())),
        ),
        (text("processor"), text(runs::processor_fingerprint())),
        (text("params"), Value::Str(processed.params.canonical())),
    ];
    if let Some(run) = run {
        entries.push((text("run"), text(run)));
        entries.push((text("unchanged"), Value::Bool(stored.unchanged)));
    }
    Value::Dict(entries)
}
