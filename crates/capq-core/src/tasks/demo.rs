//! Tasks for tests, benchmarks and demos: `capq.noop()`, `capq.sleep(seconds)`,
//! `capq.fail(message)`, `capq.flaky(failures)` (fails its first runs, to exercise retries) and
//! `capq.append_line(path, line)` (a visible effect, to count how often a job really ran).

use std::time::Duration;

use crate::task::{Args, Outcome, Param, Task, TaskContext};

/// `capq.noop()`: returns None at once.
#[derive(Debug)]
pub struct Noop;

/// `capq.sleep(seconds)`: sleeps (cancellably) and returns the seconds slept.
#[derive(Debug)]
pub struct Sleep;

/// `capq.fail(message)`: fails with the message.
#[derive(Debug)]
pub struct Fail;

impl Task for Noop {
    fn name(&self) -> &'static str {
        "capq.noop"
    }

    fn params(&self) -> &'static [Param] {
        &[]
    }

    fn blocking(&self) -> bool {
        false
    }

    fn run(&self, _: &Args, _: &TaskContext) -> Outcome {
        Outcome::Success(None)
    }
}

impl Task for Sleep {
    fn name(&self) -> &'static str {
        "capq.sleep"
    }

    fn params(&self) -> &'static [Param] {
        &[Param {
            name: "seconds",
            required: true,
        }]
    }

    fn run(&self, args: &Args, ctx: &TaskContext) -> Outcome {
        let seconds = match args.number("seconds") {
            Ok(s) if (0.0..=86_400.0 * 7.0).contains(&s) => s,
            Ok(s) => {
                return Outcome::fail(format!(
                    "capq.sleep(): `seconds` must be between 0 and a week, not {s}"
                ));
            }
            Err(e) => return Outcome::fail(e),
        };
        if ctx.sleep(Duration::from_secs_f64(seconds)) {
            Outcome::Success(Some(capq_pickle::Value::Float(seconds)))
        } else {
            Outcome::fail(format!(
                "capq.sleep(): cancelled before {seconds} s had passed"
            ))
        }
    }
}

impl Task for Fail {
    fn name(&self) -> &'static str {
        "capq.fail"
    }

    fn params(&self) -> &'static [Param] {
        &[Param {
            name: "message",
            required: false,
        }]
    }

    fn blocking(&self) -> bool {
        false
    }

    fn run(&self, args: &Args, _: &TaskContext) -> Outcome {
        let message = match args.get("message") {
            None => "capq.fail() was called".to_owned(),
            Some(capq_pickle::Value::Str(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        Outcome::fail(message)
    }
}

/// `capq.flaky(failures)`: fails on its first `failures` runs, then succeeds, returning the run
/// number. The run number is the job's own attempt count, kept in Redis with the job.
#[derive(Debug)]
pub struct Flaky;

/// `capq.append_line(path, line, seconds=0)`: waits `seconds` (cancellably), then appends
/// `line` and a newline to a file. One `O_APPEND` write, so concurrent workers never interleave
/// their lines.
#[derive(Debug)]
pub struct AppendLine;

impl Task for Flaky {
    fn name(&self) -> &'static str {
        "capq.flaky"
    }

    fn params(&self) -> &'static [Param] {
        &[Param {
            name: "failures",
            required: true,
        }]
    }

    fn blocking(&self) -> bool {
        false
    }

    fn run(&self, args: &Args, ctx: &TaskContext) -> Outcome {
        let failures = match args.number("failures") {
            Ok(n) if n >= 0.0 => n as u32,
            Ok(n) => {
                return Outcome::fail(format!(
                    "capq.flaky(): `failures` must not be negative, not {n}"
                ));
            }
            Err(e) => return Outcome::fail(e),
        };
        if ctx.attempt <= failures {
            Outcome::fail(format!(
                "capq.flaky(): run {} of the {failures} meant to fail",
                ctx.attempt
            ))
        } else {
            Outcome::Success(Some(capq_pickle::Value::Int(i64::from(ctx.attempt))))
        }
    }
}

impl Task for AppendLine {
    fn name(&self) -> &'static str {
        "capq.append_line"
    }

    fn params(&self) -> &'static [Param] {
        &[
            Param {
                name: "path",
                required: true,
            },
            Param {
                name: "line",
                required: true,
            },
            Param {
                name: "seconds",
                required: false,
            },
        ]
    }

    fn run(&self, args: &Args, ctx: &TaskContext) -> Outcome {
        use std::io::Write;
        let (path, line) = match (
            args.str("path", "/tmp/effects.log"),
            args.str("line", "job-1"),
        ) {
            (Ok(path), Ok(line)) => (path, line),
            (Err(e), _) | (_, Err(e)) => return Outcome::fail(e),
        };
        let seconds = if args.get("seconds").is_some() {
            args.number("seconds")
        } else {
            Ok(0.0)
        };
        match seconds {
            Ok(s) if (0.0..=3600.0).contains(&s) => {
                if !ctx.sleep(Duration::from_secs_f64(s)) {
                    return Outcome::fail("capq.append_line(): cancelled");
                }
            }
            Ok(s) => {
                return Outcome::fail(format!(
                    "capq.append_line(): `seconds` must be between 0 and 3600, not {s}"
                ));
            }
            Err(e) => return Outcome::fail(e),
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(format!("{line}\n").as_bytes()));
        match written {
            Ok(()) => Outcome::Success(None),
            Err(e) => Outcome::Failure {
                message: format!("capq.append_line(): {path}: {e}"),
                transient: true,
            },
        }
    }
}
