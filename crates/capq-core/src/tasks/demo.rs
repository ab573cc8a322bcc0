//! Tasks for benchmarks, demos and tests that every worker runs: `capq.noop()`,
//! `capq.sleep(seconds)` and `capq.fail(message)`. They are harmless: they touch no file and no
//! network, and a sleep is capped at a week and cut short by the job's timeout, so letting
//! anyone who can enqueue run them gives nothing away. The tasks that do have effects are in
//! `test_only.rs`, behind a switch.

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
