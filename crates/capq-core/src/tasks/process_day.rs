//! Processing one CapMetrics day and storing the CSV: `capq.process_day(day, output)` writes to
//! any storage URL, and `tasks.process_day_to_s3(day, bucket, key)` keeps the exact signature of
//! the Python job it replaces.
//!
//! The result is a dict of plain values (output URL, rows in and out, rows dropped per reason)
//! so that Python `rq` and rq-dashboard can show it.

use std::time::Instant;

use bytes::Bytes;
use capmetrics::Date;
use capq_pickle::Value;
use capq_storage::Location;

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
        process_to(ctx, self.name(), day, output)
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
        process_to(ctx, self.name(), day, &output)
    }
}

fn process_to(ctx: &TaskContext, task: &str, day: &str, output: &str) -> Outcome {
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
    let location = match Location::parse(output) {
        Ok(location) => location,
        Err(e) => return Outcome::fail(format!("{task}(): argument `output`: {e}")),
    };
    // Refused before any work: the worker's --allow-output decides where jobs may write.
    if let Err(e) = ctx.env.storage.check_output(&location) {
        return Outcome::fail(format!("{task}(): argument `output`: {e}"));
    }
    let started = Instant::now();
    let env = &ctx.env;
    let day_output = match env.data.process_cancellable(date, ctx.cancel()) {
        Ok(out) => out,
        Err(e) => {
            let mut message = e.to_string();
            if !message.contains(day) {
                message = format!("day {day}: {message}");
            }
            let transient = matches!(e, capmetrics::Error::Fetch { .. });
            return Outcome::Failure { message, transient };
        }
    };
    let diagnostics = day_output.diagnostics;
    // The store is the commit: a timeout either comes first (nothing is stored) or waits for it.
    let stored = ctx.commit(|| {
        env.runtime
            .block_on(env.storage.put(&location, Bytes::from(day_output.csv)))
    });
    match stored {
        Ok(()) => {}
        Err(CommitError::Cancelled) => {
            return Outcome::fail(format!("day {day}: cancelled before its output was stored"));
        }
        Err(CommitError::Failed(e)) => {
            return Outcome::Failure {
                message: format!("day {day}: {e}"),
                transient: e.is_transient(),
            };
        }
    }
    tracing::info!(job_id = %ctx.job_id, %day, output = %location, %diagnostics, "day processed");
    let dropped = diagnostics
        .reasons()
        .map(|(reason, n)| (Value::Str(reason.key().to_owned()), Value::Int(n as i64)))
        .collect();
    Outcome::Success(Some(Value::Dict(vec![
        (Value::Str("day".into()), Value::Str(date.to_string())),
        (
            Value::Str("output".into()),
            Value::Str(location.to_string()),
        ),
        (
            Value::Str("rows_in".into()),
            Value::Int(diagnostics.rows_in as i64),
        ),
        (
            Value::Str("rows_out".into()),
            Value::Int(diagnostics.rows_out as i64),
        ),
        (Value::Str("dropped".into()), Value::Dict(dropped)),
        (
            Value::Str("seconds".into()),
            Value::Float((started.elapsed().as_secs_f64() * 1e4).round() / 1e4),
        ),
    ])))
}
