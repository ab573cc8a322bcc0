//! `capq.aggregate(input, output=None, days=None, profile=None, window=None)`: the on-time
//! statistics of a folder of processed days, written as the aggregate folder (tables,
//! `summary.json`, `report.html`), exactly as `capq aggregate` writes it.
//!
//! It is the last job of a batch (`capq enqueue --aggregate`, or a Python client's
//! `depends_on=Dependency(jobs=…, allow_failure=True)`): it runs once every day job it depends
//! on has ended, and reads their records to tell which days failed. A failed, stopped or
//! canceled day (or one whose job has somehow not ended) is listed under `failed_days` and never
//! counted, even when an older output of it is still in the folder; a day asked for in `days`
//! without a file is listed under `missing_days`. A day job whose record has expired finished
//! (failed jobs are kept far longer), so it counts.
//!
//! Both the folder read and the folder written must be places this worker's jobs may write
//! (`--allow-output`): the input is where the day jobs wrote, and the check keeps a job from
//! turning the worker into a reader of other local folders.

use std::time::Instant;

use capmetrics::{Date, parse_day_spec};
use capq_aggregate::report::ReportOptions;
use capq_aggregate::{DayOutcome, FolderOptions, PartialUse, Profile, Window, WindowChoice};
use capq_pickle::Value;
use capq_storage::Location;

use crate::env::JobRecord;
use crate::payload::Call;
use crate::stored_aggregate::aggregate_stored;
use crate::task::{Args, Outcome, Param, Task, TaskContext};

/// `capq.aggregate(input, output=None, days=None, profile=None, window=None)`.
#[derive(Debug)]
pub struct Aggregate;

/// The task's name, as jobs carry it.
pub const NAME: &str = "capq.aggregate";

impl Task for Aggregate {
    fn name(&self) -> &'static str {
        NAME
    }

    fn params(&self) -> &'static [Param] {
        &[
            Param {
                name: "input",
                required: true,
            },
            Param {
                name: "output",
                required: false,
            },
            Param {
                name: "days",
                required: false,
            },
            Param {
                name: "profile",
                required: false,
            },
            Param {
                name: "window",
                required: false,
            },
        ]
    }

    fn run(&self, args: &Args, ctx: &TaskContext) -> Outcome {
        let request = match Request::from_args(args) {
            Ok(request) => request,
            Err(message) => return Outcome::fail(message),
        };
        let storage = &ctx.env.storage;
        // Refused before any work: the worker's --allow-output decides where jobs may write,
        // and the input is where this batch's day jobs wrote.
        for (name, location) in [("input", &request.input), ("output", &request.output)] {
            if let Err(e) = storage.check_output(location) {
                return Outcome::fail(format!("{NAME}(): argument `{name}`: {e}"));
            }
        }
        let started = Instant::now();
        let mut failed_days = Vec::new();
        if let Some(jobs) = &ctx.env.jobs {
            match ctx.env.runtime.block_on(jobs.dependencies(&ctx.job_id)) {
                Ok(records) => failed_days = failed_days_of(&ctx.job_id, &records),
                Err(message) => {
                    return Outcome::Failure {
                        message: format!("{NAME}(): cannot read the jobs it depends on: {message}"),
                        transient: true,
                    };
                }
            }
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let options = FolderOptions {
            window: request.window,
            days: request.days.clone(),
            failed_days,
            use_partials: true,
            write_partials: false,
            threads: if request.input.is_remote() {
                cores.max(8)
            } else {
                cores
            },
            report: ReportOptions {
                title: format!("On-time performance: {}", request.input),
                partial: false,
                days_expected: None,
            },
        };
        let stored = aggregate_stored(
            &ctx.env.runtime,
            storage,
            &request.input,
            &request.output,
            &options,
            &|| ctx.is_cancelled(),
        );
        let outcome = match stored {
            Ok(outcome) => outcome,
            Err(e) => {
                return Outcome::Failure {
                    transient: e.is_transient(),
                    message: format!("{NAME}(): {e}"),
                };
            }
        };
        let mut from_partials = 0;
        let mut unreadable = Vec::new();
        for day in &outcome.days {
            match day {
                DayOutcome::Counted { source, .. } => {
                    if *source == PartialUse::Used {
                        from_partials += 1;
                    }
                }
                DayOutcome::Failed { day, error } => {
                    tracing::warn!(job_id = %ctx.job_id, %day, "day not counted: {error}");
                    unreadable.push(Value::Dict(vec![
                        (str_value("day"), str_value(&day.to_string())),
                        (str_value("error"), str_value(&error.to_string())),
                    ]));
                }
            }
        }
        let headline = &outcome.aggregate.headline;
        tracing::info!(
            job_id = %ctx.job_id,
            output = %request.output,
            days = headline.days.total,
            failed = headline.failed_days.len(),
            missing = headline.missing_days.len(),
            "aggregate stored"
        );
        let days =
            |list: &[Date]| Value::List(list.iter().map(|d| str_value(&d.to_string())).collect());
        let optional = |x: Option<f64>| x.map_or(Value::None, Value::Float);
        Outcome::Success(Some(Value::Dict(vec![
            (str_value("output"), str_value(&request.output.to_string())),
            (str_value("days"), Value::Int(headline.days.total as i64)),
            (str_value("ok_days"), Value::Int(headline.days.ok as i64)),
            (str_value("from_partials"), Value::Int(from_partials)),
            (str_value("failed_days"), days(&headline.failed_days)),
            (str_value("missing_days"), days(&headline.missing_days)),
            (str_value("unreadable"), Value::List(unreadable)),
            (str_value("otp"), optional(headline.system.otp)),
            (str_value("otp_lo"), optional(headline.system.otp_lo)),
            (str_value("otp_hi"), optional(headline.system.otp_hi)),
            (
                str_value("seconds"),
                Value::Float((started.elapsed().as_secs_f64() * 1e4).round() / 1e4),
            ),
        ])))
    }
}

fn str_value(text: &str) -> Value {
    Value::Str(text.to_owned())
}

/// The arguments, checked.
#[derive(Debug)]
struct Request {
    input: Location,
    output: Location,
    days: Option<Vec<Date>>,
    window: WindowChoice,
}

impl Request {
    fn from_args(args: &Args) -> Result<Request, String> {
        let input_text = args.str("input", "s3://capmetrics/processed/")?;
        let input =
            Location::parse(input_text).map_err(|e| format!("{NAME}(): argument `input`: {e}"))?;
        let output = match optional_str(args, "output")? {
            Some(text) => {
                Location::parse(text).map_err(|e| format!("{NAME}(): argument `output`: {e}"))?
            }
            None => input.join("aggregate/"),
        };
        if matches!(output, Location::Http(_)) {
            return Err(format!(
                "{NAME}(): argument `output`: http(s) locations are read-only; use s3:// or a folder"
            ));
        }
        let days = optional_str(args, "days")?
            .map(|spec| parse_day_spec(spec).map_err(|e| format!("{NAME}(): argument `days`: {e}")))
            .transpose()?;
        Ok(Request {
            input,
            output,
            days,
            window: window_choice(args)?,
        })
    }
}

/// The on-time window an aggregate job asks for (`profile` or `window`), for readers of the
/// job such as the dashboard's partial aggregate of its batch.
pub fn window_of(call: &Call) -> Result<WindowChoice, String> {
    window_choice(&crate::task::bind(&Aggregate, call)?)
}

fn window_choice(args: &Args) -> Result<WindowChoice, String> {
    Ok(
        match (
            optional_str(args, "profile")?,
            optional_str(args, "window")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(format!("{NAME}(): give `profile` or `window`, not both"));
            }
            (Some(name), None) => WindowChoice::Profile(
                name.parse::<Profile>()
                    .map_err(|e| format!("{NAME}(): argument `profile`: {e}"))?,
            ),
            (None, Some(text)) => WindowChoice::Custom(
                text.parse::<Window>()
                    .map_err(|e| format!("{NAME}(): argument `window`: {e}"))?,
            ),
            (None, None) => WindowChoice::default(),
        },
    )
}

/// An optional string argument: absent or Python's `None` is `None`.
fn optional_str<'a>(args: &'a Args, name: &str) -> Result<Option<&'a str>, String> {
    match args.get(name) {
        None | Some(Value::None) => Ok(None),
        Some(Value::Str(text)) => Ok(Some(text)),
        Some(other) => Err(format!(
            "{NAME}(): argument `{name}` must be a str or None, not {} {other}",
            other.type_name()
        )),
    }
}

/// The days of the jobs `records` that did not finish: failed, stopped or canceled, or (had
/// the aggregate been run by hand before they ended) still waiting or running. A job whose
/// record is gone finished: RQ counts it done, and a failed one would still be there.
fn failed_days_of(job_id: &str, records: &[JobRecord]) -> Vec<Date> {
    let mut failed = Vec::new();
    for record in records {
        let status = match record.status.as_deref() {
            None | Some("finished") => continue,
            Some(status) => status,
        };
        match record.call.as_ref().and_then(day_of) {
            Some(day) => {
                if !matches!(status, "failed" | "stopped" | "canceled") {
                    tracing::warn!(
                        job_id,
                        dependency = %record.id,
                        %day,
                        status,
                        "a day's job has not ended; its day is listed as failed"
                    );
                }
                failed.push(day);
            }
            None => tracing::warn!(
                job_id,
                dependency = %record.id,
                status,
                "a job this aggregate depends on did not finish, and it processes no day"
            ),
        }
    }
    failed.sort();
    failed.dedup();
    failed
}

/// The day a day job processes: the `day` argument of `capq.process_day(day, output)` or
/// `tasks.process_day_to_s3(day, bucket, key)`, given by position or by name.
fn day_of(call: &Call) -> Option<Date> {
    if !matches!(
        call.func.as_str(),
        "capq.process_day" | "tasks.process_day_to_s3"
    ) {
        return None;
    }
    let value = call.args.first().or_else(|| {
        call.kwargs
            .iter()
            .find(|(name, _)| name == "day")
            .map(|(_, value)| value)
    })?;
    match value {
        Value::Str(text) => text.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Serializer;

    fn call(func: &str, args: Vec<Value>, kwargs: Vec<(&str, Value)>) -> Call {
        Call {
            func: func.to_owned(),
            args,
            kwargs: kwargs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            serializer: Serializer::Pickle,
        }
    }

    fn record(id: &str, status: Option<&str>, call: Option<Call>) -> JobRecord {
        JobRecord {
            id: id.to_owned(),
            status: status.map(str::to_owned),
            call,
        }
    }

    fn day(text: &str) -> Date {
        text.parse().expect("a date")
    }

    fn request(args: Vec<Value>, kwargs: Vec<(&str, Value)>) -> Result<Request, String> {
        let args = crate::task::bind(&Aggregate, &call(NAME, args, kwargs))?;
        Request::from_args(&args)
    }

    #[test]
    fn arguments_are_checked_and_defaulted() {
        let s = |t: &str| Value::Str(t.to_owned());
        let ok = request(vec![s("s3://b/processed/")], vec![("output", Value::None)]).unwrap();
        assert_eq!(ok.output.to_string(), "s3://b/processed/aggregate");
        assert_eq!(ok.days, None);
        assert_eq!(ok.window, WindowChoice::default());
        let full = request(
            vec![s("out/"), s("elsewhere/"), s("2016-11-24..2016-11-25")],
            vec![("profile", s("wmata"))],
        )
        .unwrap();
        assert_eq!(full.days.map(|d| d.len()), Some(2));
        assert_eq!(full.window, WindowChoice::Profile(Profile::Wmata));
        let custom = request(vec![s("out/")], vec![("window", s("-120,420"))]).unwrap();
        assert!(matches!(custom.window, WindowChoice::Custom(_)));
        for (args, kwargs, wanted) in [
            (vec![], vec![], "missing 1 required argument: `input`"),
            (
                vec![Value::Int(3)],
                vec![],
                "argument `input` must be a str",
            ),
            (
                vec![s("out/"), s("https://h/x/")],
                vec![],
                "http(s) locations are read-only",
            ),
            (
                vec![s("out/")],
                vec![("days", s("yesterday"))],
                "argument `days`",
            ),
            (
                vec![s("out/")],
                vec![("profile", s("fast"))],
                "argument `profile`",
            ),
            (
                vec![s("out/")],
                vec![("window", s("300,-60"))],
                "argument `window`",
            ),
            (
                vec![s("out/")],
                vec![("profile", s("tcqsm")), ("window", s("-60,300"))],
                "not both",
            ),
            (
                vec![s("out/")],
                vec![("days", Value::Int(1))],
                "must be a str or None",
            ),
            (vec![s("ftp://h/x/")], vec![], "argument `input`"),
        ] {
            let error = request(args.clone(), kwargs.clone()).unwrap_err();
            assert!(error.contains(wanted), "{args:?} {kwargs:?}: {error}");
        }
    }

    #[test]
    fn days_of_both_day_tasks_by_position_and_by_name() {
        let s = |t: &str| Value::Str(t.to_owned());
        assert_eq!(
            day_of(&call(
                "capq.process_day",
                vec![s("2016-11-24"), s("out/")],
                vec![]
            )),
            Some(day("2016-11-24"))
        );
        assert_eq!(
            day_of(&call(
                "tasks.process_day_to_s3",
                vec![],
                vec![
                    ("bucket", s("b")),
                    ("day", s("2016-11-25")),
                    ("key", s("k"))
                ]
            )),
            Some(day("2016-11-25"))
        );
        assert_eq!(
            day_of(&call("capq.noop", vec![s("2016-11-24")], vec![])),
            None
        );
        assert_eq!(
            day_of(&call("capq.process_day", vec![Value::Int(3)], vec![])),
            None
        );
    }

    #[test]
    fn failed_stopped_canceled_and_unended_days_are_failed_expired_ones_finished() {
        let s = |t: &str| Value::Str(t.to_owned());
        let day_call = |d: &str| Some(call("capq.process_day", vec![s(d), s("out/")], vec![]));
        let records = [
            record("a", Some("finished"), day_call("2016-11-20")),
            record("b", None, None),
            record("c", Some("failed"), day_call("2016-11-23")),
            record("d", Some("stopped"), day_call("2016-11-21")),
            record("e", Some("canceled"), day_call("2016-11-22")),
            record("f", Some("queued"), day_call("2016-11-24")),
            record("g", Some("failed"), day_call("2016-11-23")),
            record("h", Some("failed"), Some(call("capq.fail", vec![], vec![]))),
        ];
        assert_eq!(
            failed_days_of("agg", &records),
            ["2016-11-21", "2016-11-22", "2016-11-23", "2016-11-24"].map(day)
        );
    }
}
