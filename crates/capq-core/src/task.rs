//! The task registry: RQ function names mapped to the Rust code that runs them.
//!
//! A Python client enqueues `tasks.process_day_to_s3("2016-11-24", bucket, key)`; the worker
//! looks up `tasks.process_day_to_s3` here, binds the arguments the way Python would (positional,
//! then by keyword, with Python-like messages when they do not fit), and runs it. A task returns
//! an [`Outcome`]; the worker alone decides what that means for the job (retry, fail, record).
//!
//! A run and the worker meet at one [`RunControl`]: the worker cancels a run through it (timeout,
//! stop request, lost lease, shutdown), and the run stores its output through its commit gate,
//! so that a job's recorded ending and its output always agree (see [`RunControl::commit`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use capq_pickle::Value;

use crate::env::TaskEnv;
use crate::payload::Call;

/// How a task run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done; the value becomes the job's result.
    Success(Option<Value>),
    /// Failed. `transient` failures (a network error) may succeed if run again.
    Failure { message: String, transient: bool },
}

impl Outcome {
    pub fn fail(message: impl Into<String>) -> Outcome {
        Outcome::Failure {
            message: message.into(),
            transient: false,
        }
    }
}

/// Where a run stands between the worker and the task: running, storing its output, done
/// storing it, or cancelled. One atomic, so a cancellation and a commit cannot both win.
const RUNNING: u8 = 0;
const COMMITTING: u8 = 1;
const COMMITTED: u8 = 2;
const CANCELLED: u8 = 3;

/// The meeting point of a job's run and the worker: cancellation, and the commit gate.
///
/// A run is cancellable until it commits. [`commit`](RunControl::commit) moves it from running
/// to committing and [`try_cancel`](RunControl::try_cancel) from running to cancelled, on one
/// compare-and-swap, so exactly one of them wins:
/// - the cancellation wins: the commit refuses, the task stores nothing, and the worker records
///   the job timed out, stopped or handed back at once;
/// - the commit wins: the cancellation is refused, the worker waits for the run to return and
///   records how it really ended. A timeout that loses the race to a commit that began before
///   the deadline counts the job finished (if the store succeeded): its output exists.
///
/// So a job recorded failed (or timed out) never has its output stored afterwards, and a job
/// whose output was stored is never recorded failed. A store that fails puts the run back to
/// running (nothing was stored, so it may still be cancelled, or retried).
#[derive(Debug, Default)]
pub struct RunControl {
    cancel: AtomicBool,
    phase: AtomicU8,
    /// Until when the worker knows its lease on the job holds; a commit later than this refuses.
    /// The worker's clock (tokio's, so paused-time tests see it move).
    held_until: Mutex<Option<tokio::time::Instant>>,
    /// Set when a commit refused because the lease may have run out.
    lease_ran_out: AtomicBool,
}

/// Why a [`RunControl::commit`] did not store anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitError<E> {
    /// The run had been cancelled first; the store step did not run.
    Cancelled,
    /// The store step ran and failed.
    Failed(E),
}

impl RunControl {
    /// Cancels the run unless it committed (or is committing) first; true if it is cancelled.
    pub fn try_cancel(&self) -> bool {
        match self
            .phase
            .compare_exchange(RUNNING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) | Err(CANCELLED) => {
                self.cancel.store(true, Ordering::Release);
                true
            }
            Err(_) => false,
        }
    }

    /// True once the run is cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Acquire)
    }

    /// True while the run's store step runs, or once it stored its output.
    pub fn has_committed(&self) -> bool {
        matches!(self.phase.load(Ordering::Acquire), COMMITTING | COMMITTED)
    }

    /// Says the run's lease is known to hold until `until` (a claim, a renewal); never moves
    /// it earlier.
    pub fn hold_until(&self, until: tokio::time::Instant) {
        let mut held = self
            .held_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if held.is_none_or(|held| held < until) {
            *held = Some(until);
        }
    }

    /// True once a commit refused because the lease may have run out: the run stored nothing,
    /// and another worker may run the job now.
    pub fn lease_ran_out(&self) -> bool {
        self.lease_ran_out.load(Ordering::Acquire)
    }

    /// Runs `store` (the step that makes a task's output visible) unless the run was cancelled
    /// first, or the lease may have run out (past [`hold_until`](Self::hold_until)); no
    /// cancellation can happen while it runs. A task calls this once, as its last step, with
    /// the whole store inside (an S3 put, a rename into place).
    ///
    /// The lease check does not wait for the worker's fence to notice an unrenewed lease: a
    /// worker too starved to run its fence on time still refuses to store.
    pub fn commit<T, E>(&self, store: impl FnOnce() -> Result<T, E>) -> Result<T, CommitError<E>> {
        let held = *self
            .held_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if held.is_some_and(|until| tokio::time::Instant::now() >= until) && self.try_cancel() {
            self.lease_ran_out.store(true, Ordering::Release);
            return Err(CommitError::Cancelled);
        }
        if self
            .phase
            .compare_exchange(RUNNING, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(CommitError::Cancelled);
        }
        let stored = store();
        let phase = if stored.is_ok() { COMMITTED } else { RUNNING };
        self.phase.store(phase, Ordering::Release);
        stored.map_err(CommitError::Failed)
    }

    /// The cancellation flag itself, for computations that poll it.
    pub fn flag(&self) -> &AtomicBool {
        &self.cancel
    }
}

/// What a running task can see: its job, its run's control, and the worker's environment.
#[derive(Debug, Clone)]
pub struct TaskContext {
    pub job_id: String,
    /// Which run of the job this is: 1 the first time, 2 on the first retry or recovery, …
    pub attempt: u32,
    pub env: Arc<TaskEnv>,
    control: Arc<RunControl>,
}

impl TaskContext {
    pub fn new(
        job_id: impl Into<String>,
        attempt: u32,
        env: Arc<TaskEnv>,
        control: Arc<RunControl>,
    ) -> TaskContext {
        TaskContext {
            job_id: job_id.into(),
            attempt,
            env,
            control,
        }
    }

    /// True once the job was cancelled (timeout, stop request, shutdown).
    pub fn is_cancelled(&self) -> bool {
        self.control.is_cancelled()
    }

    /// The cancellation flag, for long computations that check it themselves.
    pub fn cancel(&self) -> capmetrics::Cancel<'_> {
        capmetrics::Cancel::new(self.control.flag())
    }

    /// Stores the task's output through the run's commit gate ([`RunControl::commit`]): not at
    /// all if the job was cancelled first, and never cut short by a timeout once begun.
    pub fn commit<T, E>(&self, store: impl FnOnce() -> Result<T, E>) -> Result<T, CommitError<E>> {
        self.control.commit(store)
    }

    /// Sleeps for `duration` unless cancelled first; returns false if cancelled.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        loop {
            if self.is_cancelled() {
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }
}

/// A parameter of a task, for binding and for messages.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub required: bool,
}

/// A runnable task.
pub trait Task: Send + Sync {
    /// The RQ function name (`capq.process_day`).
    fn name(&self) -> &'static str;
    /// Its parameters, in positional order.
    fn params(&self) -> &'static [Param];
    /// True when the task computes or blocks for long, so it runs on a blocking thread rather
    /// than on the worker's async loop.
    fn blocking(&self) -> bool {
        true
    }
    /// Runs the task. Called with arguments already bound to [`params`](Self::params).
    fn run(&self, args: &Args, ctx: &TaskContext) -> Outcome;
}

/// Arguments bound to a task's parameters.
#[derive(Debug, Clone)]
pub struct Args {
    task: &'static str,
    values: Vec<(&'static str, Option<Value>)>,
}

impl Args {
    /// The value of a parameter, if given.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_ref())
    }

    /// A required string parameter; `example` shows the expected form in the error.
    pub fn str(&self, name: &str, example: &str) -> Result<&str, String> {
        match self.get(name) {
            Some(Value::Str(s)) => Ok(s),
            Some(other) => Err(format!(
                "{}(): argument `{name}` must be a str such as {example:?}, not {} {other}",
                self.task,
                other.type_name()
            )),
            None => Err(format!("{}(): missing argument `{name}`", self.task)),
        }
    }

    /// A required number parameter (int or float).
    pub fn number(&self, name: &str) -> Result<f64, String> {
        match self.get(name) {
            Some(Value::Int(i)) => Ok(*i as f64),
            Some(Value::Float(f)) if f.is_finite() => Ok(*f),
            Some(other) => Err(format!(
                "{}(): argument `{name}` must be a number, not {} {other}",
                self.task,
                other.type_name()
            )),
            None => Err(format!("{}(): missing argument `{name}`", self.task)),
        }
    }
}

/// Binds a call's arguments to a task's parameters, as Python would.
pub fn bind(task: &dyn Task, call: &Call) -> Result<Args, String> {
    let params = task.params();
    let name = task.name();
    if call.args.len() > params.len() {
        return Err(format!(
            "{name}() takes {} positional argument{} ({}) but {} were given",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            signature(params),
            call.args.len()
        ));
    }
    let mut values: Vec<(&'static str, Option<Value>)> =
        params.iter().map(|p| (p.name, None)).collect();
    for (slot, value) in values.iter_mut().zip(&call.args) {
        slot.1 = Some(value.clone());
    }
    for (key, value) in &call.kwargs {
        let Some(slot) = values.iter_mut().find(|(n, _)| n == key) else {
            return Err(format!(
                "{name}() got an unexpected keyword argument `{key}` (parameters: {})",
                signature(params)
            ));
        };
        if slot.1.is_some() {
            return Err(format!("{name}() got multiple values for argument `{key}`"));
        }
        slot.1 = Some(value.clone());
    }
    let missing: Vec<&str> = params
        .iter()
        .zip(&values)
        .filter(|(p, (_, v))| p.required && v.is_none())
        .map(|(p, _)| p.name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{name}() missing {} required argument{}: {} (parameters: {})",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            signature(params)
        ));
    }
    Ok(Args { task: name, values })
}

fn signature(params: &[Param]) -> String {
    params
        .iter()
        .map(|p| {
            if p.required {
                p.name.to_owned()
            } else {
                format!("{}=…", p.name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Tasks by RQ function name.
#[derive(Clone, Default)]
pub struct Registry {
    tasks: HashMap<&'static str, Arc<dyn Task>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.tasks.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("tasks", &names).finish()
    }
}

impl Registry {
    /// The built-in tasks: `tasks.process_day_to_s3`, `capq.process_day`, `capq.noop`,
    /// `capq.sleep` and `capq.fail`.
    pub fn builtin() -> Registry {
        let mut registry = Registry::default();
        for task in crate::tasks::all() {
            registry.add(task);
        }
        registry
    }

    pub fn add(&mut self, task: Arc<dyn Task>) {
        self.tasks.insert(task.name(), task);
    }

    /// The task for a function name, or the message to fail the job with.
    pub fn get(&self, func: &str) -> Result<Arc<dyn Task>, String> {
        self.tasks.get(func).cloned().ok_or_else(|| {
            let mut names: Vec<_> = self.tasks.keys().copied().collect();
            names.sort_unstable();
            format!(
                "no task named `{func}` (this worker runs: {})",
                names.join(", ")
            )
        })
    }

    /// Every registered function name, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.tasks.keys().copied().collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancellation_first_makes_the_commit_refuse() {
        let control = RunControl::default();
        assert!(control.try_cancel());
        assert!(control.is_cancelled());
        let mut ran = false;
        let stored = control.commit(|| {
            ran = true;
            Ok::<(), ()>(())
        });
        assert_eq!(stored, Err(CommitError::Cancelled));
        assert!(!ran, "the store step never runs");
    }

    #[test]
    fn a_commit_past_the_lease_refuses_and_says_why() {
        let now = tokio::time::Instant::now();
        let late = RunControl::default();
        late.hold_until(now - Duration::from_millis(1));
        let mut ran = false;
        let stored = late.commit(|| {
            ran = true;
            Ok::<(), ()>(())
        });
        assert_eq!(stored, Err(CommitError::Cancelled));
        assert!(!ran, "the store step never runs");
        assert!(late.lease_ran_out() && late.is_cancelled());

        // A renewal moves the limit later, never earlier.
        let renewed = RunControl::default();
        renewed.hold_until(now + Duration::from_secs(60));
        renewed.hold_until(now - Duration::from_secs(1));
        assert_eq!(renewed.commit(|| Ok::<u8, ()>(1)), Ok(1));
        assert!(!renewed.lease_ran_out());
    }

    #[test]
    fn a_commit_first_makes_the_cancellation_refuse() {
        let control = RunControl::default();
        let stored = control.commit(|| {
            assert!(!control.try_cancel(), "no cancellation while storing");
            Ok::<u8, ()>(7)
        });
        assert_eq!(stored, Ok(7));
        assert!(!control.try_cancel(), "nor once stored");
        assert!(!control.is_cancelled() && control.has_committed());
    }

    #[test]
    fn a_failed_store_can_still_be_cancelled() {
        let control = RunControl::default();
        assert_eq!(
            control.commit(|| Err::<(), _>("refused")),
            Err(CommitError::Failed("refused"))
        );
        assert!(!control.has_committed());
        assert!(control.try_cancel());
    }

    #[test]
    fn racing_threads_never_both_win() {
        for _ in 0..200 {
            let control = Arc::new(RunControl::default());
            let stored = Arc::new(AtomicBool::new(false));
            let committer = {
                let (control, stored) = (Arc::clone(&control), Arc::clone(&stored));
                std::thread::spawn(move || {
                    control.commit(|| {
                        stored.store(true, Ordering::SeqCst);
                        Ok::<(), ()>(())
                    })
                })
            };
            let cancelled = control.try_cancel();
            let committed = committer.join().unwrap().is_ok();
            assert_ne!(cancelled, committed, "exactly one wins");
            assert_eq!(stored.load(Ordering::SeqCst), committed);
        }
    }
}
