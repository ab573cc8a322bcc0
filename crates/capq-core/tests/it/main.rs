//! The worker loop as its own subject: a real `worker::run` against the in-memory broker, with
//! test tasks the test steers, on tokio's paused clock. Time only moves when the test moves it
//! (or, with nothing left to do, to the next timer), so leases, timeouts, heartbeats and backoff
//! are exact however loaded the machine is, and every wait is for a state, never a sleep.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod commit;
mod leases;
mod order_and_state;
mod transient;

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use capmetrics::{Catalog, LocalDir};
use capq_core::env::TaskEnv;
use capq_core::memory::MemoryBroker;
use capq_core::payload::{Call, Serializer};
use capq_core::task::{Args, CommitError, Outcome, Param, Registry, Task, TaskContext};
use capq_core::worker::{self, WorkerConfig, WorkerError, WorkerStats};
use capq_pickle::Value;
use capq_storage::HashingSource;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What the test tasks report, and the gates they wait at.
#[derive(Debug, Default)]
pub struct Probe {
    /// (label, when it ran), in the order runs began.
    ran: Mutex<Vec<(String, Instant)>>,
    /// Things that happened inside tasks: `running:x`, `committing:x`, `stored:x`, …
    flags: Mutex<HashSet<String>>,
    /// Open gates.
    open: Mutex<HashSet<String>>,
    changed: Condvar,
}

impl Probe {
    fn note(&self, label: &str) {
        self.ran
            .lock()
            .unwrap()
            .push((label.to_owned(), Instant::now()));
    }

    fn flag(&self, flag: String) {
        self.flags.lock().unwrap().insert(flag);
    }

    /// Whether something happened in a task.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.lock().unwrap().contains(flag)
    }

    /// The labels of the runs so far, in the order they began.
    pub fn ran(&self) -> Vec<String> {
        self.ran
            .lock()
            .unwrap()
            .iter()
            .map(|(l, _)| l.clone())
            .collect()
    }

    /// When each run of `label` began.
    pub fn runs_of(&self, label: &str) -> Vec<Instant> {
        self.ran
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, _)| l == label)
            .map(|(_, at)| *at)
            .collect()
    }

    /// Lets the tasks waiting at `gate` go on.
    pub fn open(&self, gate: &str) {
        self.open.lock().unwrap().insert(gate.to_owned());
        self.changed.notify_all();
    }

    /// Waits (on a blocking thread) until `gate` opens, cancelled or not.
    fn wait_regardless(&self, gate: &str) {
        let mut open = self.open.lock().unwrap();
        while !open.contains(gate) {
            open = self.changed.wait(open).unwrap();
        }
    }

    /// Waits (on a blocking thread) until `gate` opens; false if the run is cancelled first.
    fn wait(&self, gate: &str, ctx: &TaskContext) -> bool {
        let mut open = self.open.lock().unwrap();
        loop {
            if open.contains(gate) {
                return true;
            }
            if ctx.is_cancelled() {
                return false;
            }
            open = self
                .changed
                .wait_timeout(open, Duration::from_millis(1))
                .unwrap()
                .0;
        }
    }
}

fn label(args: &Args) -> String {
    args.str("label", "a").unwrap_or("?").to_owned()
}

const LABEL: &[Param] = &[Param {
    name: "label",
    required: true,
}];

/// `test.record(label)`: notes that it ran, at once (not on a blocking thread).
struct Record(Arc<Probe>);

impl Task for Record {
    fn name(&self) -> &'static str {
        "test.record"
    }
    fn params(&self) -> &'static [Param] {
        LABEL
    }
    fn blocking(&self) -> bool {
        false
    }
    fn run(&self, args: &Args, _: &TaskContext) -> Outcome {
        self.0.note(&label(args));
        Outcome::Success(None)
    }
}

/// `test.gate(label)`: notes that it runs, then waits on a blocking thread until the gate of
/// its label opens (success) or it is cancelled (failure, flag `cancelled:<label>`).
struct Gate(Arc<Probe>);

impl Task for Gate {
    fn name(&self) -> &'static str {
        "test.gate"
    }
    fn params(&self) -> &'static [Param] {
        LABEL
    }
    fn run(&self, args: &Args, ctx: &TaskContext) -> Outcome {
        let label = label(args);
        self.0.note(&label);
        self.0.flag(format!("running:{label}"));
        if self.0.wait(&label, ctx) {
            Outcome::Success(None)
        } else {
            self.0.flag(format!("cancelled:{label}"));
            Outcome::fail("cancelled")
        }
    }
}

/// `test.transient(label, failures)`: fails transiently on its first `failures` runs.
struct Transient(Arc<Probe>);

impl Task for Transient {
    fn name(&self) -> &'static str {
        "test.transient"
    }
    fn params(&self) -> &'static [Param] {
        &[
            Param {
                name: "label",
                required: true,
            },
            Param {
                name: "failures",
                required: true,
            },
        ]
    }
    fn blocking(&self) -> bool {
        false
    }
    fn run(&self, args: &Args, _: &TaskContext) -> Outcome {
        let label = label(args);
        self.0.note(&label);
        let failures = args.number("failures").unwrap_or(0.0) as usize;
        if self.0.runs_of(&label).len() <= failures {
            Outcome::Failure {
                message: format!("{label}: connection refused"),
                transient: true,
            }
        } else {
            Outcome::Success(None)
        }
    }
}

/// `test.store(label)`: waits at gate `<label>`, then stores through the commit gate, the
/// store itself waiting at gate `<label>-store`. Flags: `committing:x` once its store step
/// runs, `stored:x` once it stored, `refused:x` if the commit refused (cancelled first).
struct Store(Arc<Probe>);

impl Task for Store {
    fn name(&self) -> &'static str {
        "test.store"
    }
    fn params(&self) -> &'static [Param] {
        LABEL
    }
    fn run(&self, args: &Args, ctx: &TaskContext) -> Outcome {
        let label = label(args);
        self.0.note(&label);
        self.0.flag(format!("running:{label}"));
        // Like a day's computation: it does not stop at once when cancelled.
        self.0.wait_regardless(&label);
        let stored = ctx.commit(|| {
            self.0.flag(format!("committing:{label}"));
            self.0.wait_regardless(&format!("{label}-store"));
            self.0.flag(format!("stored:{label}"));
            Ok::<(), String>(())
        });
        match stored {
            Ok(()) => Outcome::Success(None),
            Err(CommitError::Cancelled) => {
                self.0.flag(format!("refused:{label}"));
                Outcome::fail("cancelled before storing")
            }
            Err(CommitError::Failed(e)) => Outcome::fail(e),
        }
    }
}

/// A worker running on the in-memory broker, with the test tasks.
#[allow(missing_debug_implementations)]
pub struct Bed {
    pub broker: Arc<MemoryBroker>,
    pub probe: Arc<Probe>,
    pub name: String,
    /// False for tests on the multi-threaded runtime, whose clock runs.
    pub paused: bool,
    stop: watch::Sender<bool>,
    worker: Option<JoinHandle<Result<WorkerStats, WorkerError>>>,
    _data: tempfile::TempDir,
}

impl Default for Bed {
    fn default() -> Bed {
        Bed::new()
    }
}

impl Bed {
    /// A bed whose broker the test may fill (or break) before [`start`](Bed::start).
    pub fn new() -> Bed {
        let (stop, _) = watch::channel(false);
        Bed {
            broker: Arc::new(MemoryBroker::new()),
            probe: Arc::new(Probe::default()),
            name: "w".into(),
            paused: true,
            stop,
            worker: None,
            _data: tempfile::tempdir().unwrap(),
        }
    }

    /// Starts the worker on queue `default`; `configure` adjusts its settings.
    pub fn start(&mut self, configure: impl FnOnce(&mut WorkerConfig)) {
        let mut config = WorkerConfig::new(self.name.clone(), vec!["default".into()]);
        configure(&mut config);
        let mut registry = Registry::default();
        registry.add(Arc::new(Record(Arc::clone(&self.probe))));
        registry.add(Arc::new(Gate(Arc::clone(&self.probe))));
        registry.add(Arc::new(Transient(Arc::clone(&self.probe))));
        registry.add(Arc::new(Store(Arc::clone(&self.probe))));
        let source = HashingSource::local(LocalDir::new(self._data.path()));
        let env = Arc::new(TaskEnv {
            data: Catalog::new(source),
            storage: capq_storage::Storage::from_env_vars(Vec::<(String, String)>::new()).unwrap(),
            runtime: tokio::runtime::Handle::current(),
            jobs: None,
        });
        let stop = self.stop.subscribe();
        self.worker = Some(tokio::spawn(worker::run(
            Arc::clone(&self.broker),
            Arc::new(registry),
            env,
            config,
            stop,
        )));
    }

    /// Enqueues `func(*args)` on `default` with job fields (`timeout`, …).
    pub fn enqueue(&self, func: &str, args: Vec<Value>, fields: &[(&str, &str)]) -> String {
        let call = Call {
            func: func.into(),
            args,
            kwargs: vec![],
            serializer: Serializer::Pickle,
        };
        self.broker.enqueue("default", &call, fields)
    }

    /// Enqueues `test.<task>(label)`.
    pub fn job(&self, task: &str, label: &str, fields: &[(&str, &str)]) -> String {
        self.enqueue(
            &format!("test.{task}"),
            vec![Value::Str(label.into())],
            fields,
        )
    }

    pub fn status(&self, id: &str) -> String {
        self.broker.job(id).map(|j| j.status).unwrap_or_default()
    }

    /// Tells the worker to stop and waits for it (moving the clock as needed).
    pub async fn stop(&mut self) -> WorkerStats {
        let _ = self.stop.send(true);
        let worker = self.worker.take().expect("started");
        for _ in 0..200_000 {
            if worker.is_finished() {
                return worker.await.unwrap().unwrap();
            }
            if self.paused {
                step().await;
            } else {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        worker.abort();
        panic!("the worker did not stop");
    }
}

/// Lets spawned tasks run, and moves the paused clock 5 ms.
pub async fn step() {
    tokio::task::yield_now().await;
    tokio::time::advance(Duration::from_millis(5)).await;
    tokio::task::yield_now().await;
}

/// Waits for `condition`, moving the paused clock in 5 ms steps (blocking tasks stop tokio
/// from moving it on its own); panics naming `what` after 1,000 virtual seconds.
pub async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..200_000 {
        if condition() {
            return;
        }
        step().await;
    }
    panic!("never happened: {what}");
}

/// Waits for something a task does on its blocking thread (a flag), in real time, without
/// moving the paused clock: threads start and run in real time, and moving the clock
/// meanwhile would let a job's deadline pass before its task even began.
pub async fn until_task(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        // A blocking sleep keeps tokio from moving the clock on its own meanwhile.
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)))
            .await
            .unwrap();
    }
}

/// Waits for `condition` in real time (for tests on the multi-threaded runtime, where the
/// clock is not paused); panics naming `what` after 60 s.
pub async fn until_real(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Whether every job in `ids` ended with `status`.
pub fn all(bed: &Bed, ids: &[String], status: &str) -> bool {
    ids.iter().all(|id| bed.status(id) == status)
}

/// Counts of things recorded, by kind, for a job.
pub fn endings(bed: &Bed, id: &str) -> Vec<&'static str> {
    bed.broker
        .job(id)
        .map(|j| j.endings.iter().map(|e| e.kind).collect())
        .unwrap_or_default()
}

/// The recorded error of a job's last ending.
pub fn last_error(bed: &Bed, id: &str) -> String {
    bed.broker
        .job(id)
        .and_then(|j| j.endings.last().and_then(|e| e.message.clone()))
        .unwrap_or_default()
}
