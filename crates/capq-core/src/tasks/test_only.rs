//! Tasks for test suites only, which a worker runs only with `--test-tasks`
//! (`CAPQ_TEST_TASKS=1`): `capq.flaky(failures)` fails its first runs, to exercise retries, and
//! `capq.append_line(path, line)` appends a line to a file, a visible effect to count how often
//! a job really ran. The latter writes wherever the worker's user can, so whoever can enqueue
//! could append to any such file: it must never be on in production.

use std::time::Duration;

use crate::task::{Args, Outcome, Param, Task, TaskContext};

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
