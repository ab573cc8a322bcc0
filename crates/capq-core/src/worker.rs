//! The worker loop: claim jobs under a lease, run them, record how they ended.
//!
//! Four parts run side by side:
//! - the **dispatcher** claims jobs when a slot is free, in batches when jobs are short (so a
//!   burst of tiny jobs costs one round trip per batch, not per job) and one at a time when
//!   they are long (so work spreads over all workers);
//! - **executors**, one per claimed job, wait for one of `concurrency` slots, bind the
//!   arguments, and run the task (on a blocking thread unless it is trivial);
//! - the **finisher** records completions, batching whatever has piled up since its last
//!   write, so an idle worker answers at once and a busy one writes in bulk;
//! - the **heartbeat** renews the worker's record and every lease it holds;
//! - **upkeep** recovers jobs whose worker vanished (their lease ran out) and prunes expired
//!   entries, and the **scheduler** moves due delayed retries and `enqueue_at` jobs onto their
//!   queues (the backend makes sure one worker at a time does each, per queue);
//! - the **listener** takes commands sent to the worker: stop a job, shut down.
//!
//! Timeouts and stop requests cancel a job's task cooperatively: every built-in task checks its
//! cancellation flag at least every few milliseconds of work (day processing every few thousand
//! rows and every few dozen trips), so a cancelled computation ends promptly instead of running
//! on in the background. The job is recorded as timed out or stopped at once; its thread stops
//! on its own moments later.
//!
//! A job that cannot run (garbage data, unknown function, wrong arguments) fails with a clear
//! message like any other failure: nothing a job contains can stop the worker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::broker::{
    Broker, BrokerError, Claim, Claimed, Completion, Ending, Lease, Registration, Start,
    UpkeepPolicy, WorkerCommand,
};
use crate::env::TaskEnv;
use crate::job::{Defaults, Job};
use crate::monitor::Monitor;
use crate::payload::encode_value;
use crate::task::{Outcome, Registry, TaskContext, bind};

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub name: String,
    pub queues: Vec<String>,
    /// Exit once the queues are empty and nothing is running.
    pub burst: bool,
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// How long a claimed job stays ours without a heartbeat.
    pub lease: Duration,
    /// How long to wait for running jobs on shutdown before handing them back.
    pub grace: Duration,
    /// Result and failure TTLs for jobs that set none.
    pub defaults: Defaults,
    /// Longest blocking wait for new jobs; bounds how late a shutdown is noticed.
    pub wait: Duration,
    /// How lost jobs are recovered.
    pub upkeep: UpkeepPolicy,
    /// How often upkeep runs.
    pub upkeep_every: Duration,
    /// Where the worker reports its vital signs (for `/healthz` and `/metrics`).
    pub monitor: Arc<Monitor>,
}

impl WorkerConfig {
    pub fn new(name: impl Into<String>, queues: Vec<String>) -> WorkerConfig {
        WorkerConfig {
            name: name.into(),
            queues,
            burst: false,
            concurrency: 1,
            lease: Duration::from_secs(60),
            grace: Duration::from_secs(30),
            defaults: Defaults::default(),
            wait: Duration::from_secs(5),
            upkeep: UpkeepPolicy {
                max_recoveries: 3,
                failure_ttl: crate::job::DEFAULT_FAILURE_TTL,
                stranded_after: Duration::from_secs(30),
            },
            upkeep_every: Duration::from_secs(3),
            monitor: Arc::new(Monitor::default()),
        }
    }
}

/// What a worker did, returned when it stops.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkerStats {
    pub finished: u64,
    pub failed: u64,
    pub retried: u64,
    /// Completions refused because the lease had been lost meanwhile.
    pub lost: u64,
    /// Jobs handed back unfinished at shutdown.
    pub requeued: u64,
    /// Jobs of vanished workers this worker's upkeep put back on their queues.
    pub recovered: u64,
}

/// A worker that could not start or stopped on an error it cannot get past.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    // The cause is `source()` (the binary finds a taken name there to pick its exit code), so
    // the message does not repeat it: anyhow's `{:#}` prints both.
    #[error("cannot register worker `{name}`")]
    Register {
        name: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A job the worker holds: its lease, whether it runs yet, and how to cancel it.
#[derive(Debug)]
struct Held {
    lease: Lease,
    claimed: Instant,
    running: Arc<AtomicBool>,
    control: Arc<Control>,
}

/// How a running job is told to stop.
#[derive(Debug, Default)]
struct Control {
    /// Read by the task: stop working.
    cancel: Arc<AtomicBool>,
    /// Set when a stop was requested, so the job is recorded as stopped.
    stopped: AtomicBool,
    /// Set when the lease may have run out unrenewed (Redis unreachable for a whole lease):
    /// another worker may run the job now, so this run must stop before it stores anything,
    /// and it hands the job back instead of recording an ending.
    lease_ran_out: AtomicBool,
    /// Wakes the executor waiting on the task.
    wake: Notify,
}

impl Control {
    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.cancel.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }
}

/// What the finisher records.
#[derive(Debug)]
enum Event {
    /// A prefetched job got a slot and started running.
    Started(Start),
    /// A job ended.
    Done(Completion),
}

/// State shared by the worker's parts.
#[derive(Debug, Default)]
struct Shared {
    held: Mutex<HashMap<String, Held>>,
    /// Set once the worker stops taking work: prefetched jobs go back instead of starting.
    stopping: AtomicBool,
    /// Signalled whenever a job is released.
    released: Notify,
    /// Moving average of job run time, in microseconds.
    average_us: AtomicU64,
    stats: Mutex<WorkerStats>,
    monitor: Arc<Monitor>,
    /// When the last heartbeat that renewed every held lease was sent.
    renewed: Mutex<Option<Instant>>,
}

impl Shared {
    fn held_count(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Held jobs still waiting for a slot.
    fn waiting_count(&self) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.values()
            .filter(|h| !h.running.load(Ordering::Relaxed))
            .count()
    }

    /// Every held lease, and the longest-running job with its running time.
    fn leases(&self) -> (Vec<Lease>, Option<(String, Duration)>) {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let leases = held.values().map(|h| h.lease.clone()).collect();
        let oldest = held
            .values()
            .filter(|h| h.running.load(Ordering::Relaxed))
            .min_by_key(|h| h.claimed)
            .map(|h| (h.lease.id.clone(), h.claimed.elapsed()));
        (leases, oldest)
    }

    fn record(&self, ending: &Ending, accepted: bool) {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        let m = &self.monitor;
        let (count, gauge) = match (accepted, ending) {
            (false, _) => (&mut stats.lost, &m.lost),
            (true, Ending::Finished { .. }) => (&mut stats.finished, &m.finished),
            (true, Ending::Failed { .. } | Ending::Stopped { .. }) => {
                (&mut stats.failed, &m.failed)
            }
            (true, Ending::Retry { .. }) => (&mut stats.retried, &m.retried),
            (true, Ending::Requeued) => (&mut stats.requeued, &m.requeued),
        };
        *count += 1;
        gauge.fetch_add(1, Ordering::Relaxed);
    }

    fn observe_run_time(&self, elapsed: Duration) {
        self.monitor.observe(elapsed);
        let sample = elapsed.as_micros().min(u128::from(u32::MAX)) as u64;
        let old = self.average_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 7 + sample) / 8
        };
        self.average_us.store(new.max(1), Ordering::Relaxed);
    }

    /// Extra jobs to claim beyond free slots: many when jobs are short, none when long.
    fn prefetch(&self) -> usize {
        match self.average_us.load(Ordering::Relaxed) {
            0 => 0,
            us if us < 5_000 => (5_000 / us).min(64) as usize,
            _ => 0,
        }
    }
}

/// Runs a worker until `shutdown` turns true (or, in burst mode, until there is no work left).
pub async fn run<B: Broker>(
    broker: Arc<B>,
    registry: Arc<Registry>,
    env: Arc<TaskEnv>,
    config: WorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<WorkerStats, WorkerError> {
    let registration = Registration {
        name: config.name.clone(),
        queues: config.queues.clone(),
        pid: std::process::id(),
        hostname: hostname(),
        version: format!("capq-{}", env!("CARGO_PKG_VERSION")),
        ttl: config.lease.max(Duration::from_secs(30)) + Duration::from_secs(60),
    };
    let registration = Arc::new(registration);
    broker
        .register(&registration)
        .await
        .map_err(|e| WorkerError::Register {
            name: config.name.clone(),
            source: Box::new(e),
        })?;
    config.monitor.beat(true);
    tracing::info!(worker = %config.name, queues = ?config.queues, "worker started");

    let shared = Arc::new(Shared {
        monitor: Arc::clone(&config.monitor),
        ..Shared::default()
    });
    let (stop_background, _) = watch::channel(false);
    // Stop taking work when told to from outside (signals) or by a `shutdown` command.
    let (stop_work, mut work_stopped) = watch::channel(false);
    let forward = {
        let stop_work = stop_work.clone();
        tokio::spawn(async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    return;
                }
            }
            let _ = stop_work.send(true);
        })
    };
    let heartbeat = tokio::spawn(heartbeat_loop(
        Arc::clone(&broker),
        Arc::clone(&registration),
        Arc::clone(&shared),
        config.lease,
        stop_background.subscribe(),
    ));
    let upkeep = tokio::spawn(upkeep_loop(
        Arc::clone(&broker),
        Arc::clone(&registration),
        Arc::clone(&shared),
        config.upkeep,
        config.upkeep_every,
        stop_background.subscribe(),
    ));
    let fence = tokio::spawn(fence_loop(
        Arc::clone(&shared),
        config.lease,
        stop_background.subscribe(),
    ));
    let scheduler = tokio::spawn(scheduler_loop(
        Arc::clone(&broker),
        Arc::clone(&registration),
        stop_background.subscribe(),
    ));
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let listener = {
        let (broker, registration, stop) = (
            Arc::clone(&broker),
            Arc::clone(&registration),
            stop_background.subscribe(),
        );
        tokio::spawn(async move { broker.listen(&registration, commands_tx, stop).await })
    };
    let commander = tokio::spawn(command_loop(
        commands_rx,
        Arc::clone(&shared),
        stop_work.clone(),
    ));
    let (done_tx, done_rx) = mpsc::unbounded_channel::<Event>();
    let finisher = tokio::spawn(finisher_loop(
        Arc::clone(&broker),
        Arc::clone(&registration),
        Arc::clone(&shared),
        done_rx,
    ));

    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let executor = Executor {
        registry,
        env,
        shared: Arc::clone(&shared),
        slots: Arc::clone(&slots),
        done: done_tx.clone(),
        defaults: config.defaults,
    };
    dispatch(
        &*broker,
        &registration,
        &config,
        &executor,
        &mut work_stopped,
    )
    .await;
    shared.stopping.store(true, Ordering::Relaxed);

    // Let running jobs finish within the grace period; hand back whatever is left.
    let deadline = tokio::time::Instant::now() + config.grace;
    while shared.held_count() > 0 {
        let released = shared.released.notified();
        if tokio::time::timeout_at(deadline, released).await.is_err() {
            break;
        }
    }
    let unfinished: Vec<Held> = shared
        .held
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain()
        .map(|(_, h)| h)
        .collect();
    for held in unfinished {
        held.control.cancel.store(true, Ordering::Relaxed);
        tracing::warn!(job_id = %held.lease.id, "grace period over; putting the job back on its queue");
        let _ = done_tx.send(Event::Done(requeued(held.lease, config.defaults)));
    }
    drop(executor);
    drop(done_tx);
    let _ = finisher.await;
    let _ = stop_background.send(true);
    for task in [heartbeat, fence, upkeep, scheduler, listener] {
        let _ = task.await;
    }
    forward.abort();
    commander.abort();
    if let Err(e) = with_retries(
        "deregister",
        || broker.deregister(&registration),
        Duration::from_secs(10),
    )
    .await
    {
        tracing::warn!(error = %e, "could not deregister the worker; its record expires on its own");
    }
    let stats = shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    tracing::info!(worker = %config.name, ?stats, "worker stopped");
    Ok(stats)
}

/// Claims jobs while there is room and no shutdown.
async fn dispatch<B: Broker>(
    broker: &B,
    registration: &Registration,
    config: &WorkerConfig,
    executor: &Executor,
    shutdown: &mut watch::Receiver<bool>,
) {
    let mut backoff = Backoff::default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        // Jobs claimed ahead (prefetched) go first: claim nothing more, and take no slot, while
        // any of them still waits for one.
        if executor.shared.waiting_count() > 0 {
            let released = executor.shared.released.notified();
            tokio::select! {
                _ = released => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        // Wait for a free slot and take every free one, so jobs are never claimed far ahead of
        // capacity.
        let first = tokio::select! {
            permit = Arc::clone(&executor.slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            _ = shutdown.changed() => return,
        };
        let mut permits = vec![first];
        while let Ok(permit) = Arc::clone(&executor.slots).try_acquire_owned() {
            permits.push(permit);
        }
        let want = permits.len() + executor.shared.prefetch();
        let claim = match broker
            .claim(registration, want, permits.len(), config.lease)
            .await
        {
            Ok(claim) => claim,
            Err(e) => {
                backoff.fail("claim", &e, shutdown).await;
                continue;
            }
        };
        backoff.reset();
        match claim {
            Claim::Jobs(jobs) => executor.start(jobs, permits),
            Claim::Suspended => {
                drop(permits);
                tracing::debug!("queues are suspended");
                if config.burst && executor.shared.held_count() == 0 {
                    return;
                }
                sleep_or_shutdown(Duration::from_secs(1), shutdown).await;
            }
            Claim::Empty => {
                if config.burst {
                    drop(permits);
                    if executor.shared.held_count() == 0 {
                        return;
                    }
                    // Running jobs may put work back (retries); wait for one to end.
                    let released = executor.shared.released.notified();
                    tokio::select! {
                        _ = released => {}
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        _ = shutdown.changed() => return,
                    }
                    continue;
                }
                // Wait holding the free slots, so a job that arrives starts at once.
                let waited = tokio::select! {
                    result = broker.wait_and_claim(registration, config.lease, config.wait) => result,
                    _ = shutdown.changed() => return,
                };
                match waited {
                    Ok(Claim::Jobs(jobs)) => executor.start(jobs, permits),
                    Ok(_) => {}
                    Err(e) => backoff.fail("wait for jobs", &e, shutdown).await,
                }
            }
        }
    }
}

/// Runs claimed jobs.
struct Executor {
    registry: Arc<Registry>,
    env: Arc<TaskEnv>,
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    done: mpsc::UnboundedSender<Event>,
    defaults: Defaults,
}

impl Executor {
    /// Starts claimed jobs; the first ones take the slots already held (the claim marked them
    /// started), the rest wait for a slot and report when they start.
    fn start(&self, jobs: Vec<Claimed>, permits: Vec<OwnedSemaphorePermit>) {
        let mut permits = permits.into_iter();
        for claimed in jobs {
            let permit = permits.next();
            let job = Job::from_claimed(claimed, self.defaults);
            let control = Arc::new(Control::default());
            let running = Arc::new(AtomicBool::new(permit.is_some()));
            let lease = Lease {
                id: job.id.clone(),
                queue: job.queue.clone(),
                execution_id: job.execution_id.clone(),
            };
            self.shared
                .held
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    job.id.clone(),
                    Held {
                        lease: lease.clone(),
                        claimed: Instant::now(),
                        running: Arc::clone(&running),
                        control: Arc::clone(&control),
                    },
                );
            let registry = Arc::clone(&self.registry);
            let env = Arc::clone(&self.env);
            let shared = Arc::clone(&self.shared);
            let slots = Arc::clone(&self.slots);
            let done = self.done.clone();
            let defaults = self.defaults;
            tokio::spawn(async move {
                let _permit = match permit {
                    Some(permit) => permit,
                    None => {
                        let Ok(permit) = slots.acquire_owned().await else {
                            return;
                        };
                        if shared.stopping.load(Ordering::Relaxed) {
                            // Never started: straight back to its queue.
                            finish(&shared, &done, requeued(lease, defaults));
                            return;
                        }
                        running.store(true, Ordering::Relaxed);
                        let start = Start {
                            id: job.id.clone(),
                            started_at: SystemTime::now(),
                            attempt: job.attempts + 1,
                        };
                        let _ = done.send(Event::Started(start));
                        permit
                    }
                };
                shared.monitor.running.fetch_add(1, Ordering::Relaxed);
                let completion = execute(job, &registry, env, &control, &shared).await;
                shared.monitor.running.fetch_sub(1, Ordering::Relaxed);
                finish(&shared, &done, completion);
            });
        }
    }
}

/// Hands a completion to the finisher, then releases the job. Released only once handed over,
/// so a graceful shutdown never mistakes a finished job for an abandoned one.
fn finish(shared: &Shared, done: &mpsc::UnboundedSender<Event>, completion: Completion) {
    let id = completion.id.clone();
    if done.send(Event::Done(completion)).is_ok() {
        shared
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
    shared.released.notify_waiters();
}

/// The completion that hands an unstarted or unfinished job back to its queue.
fn requeued(lease: Lease, defaults: Defaults) -> Completion {
    let now = SystemTime::now();
    Completion {
        id: lease.id,
        queue: lease.queue,
        execution_id: lease.execution_id,
        started_at: now,
        ended_at: now,
        ending: Ending::Requeued,
        result_ttl: defaults.result_ttl,
        failure_ttl: defaults.failure_ttl,
        has_dependencies: false,
        group: None,
    }
}

/// How a run ended, before retries are considered.
enum Ran {
    Outcome(Outcome),
    TimedOut(Duration),
    Stopped,
    /// Cancelled because the lease may have run out; the job goes back untouched.
    LeaseRanOut,
}

/// Runs one job and says how it ended.
async fn execute(
    job: Job,
    registry: &Registry,
    env: Arc<TaskEnv>,
    control: &Control,
    shared: &Shared,
) -> Completion {
    let started_at = SystemTime::now();
    let started = Instant::now();
    let ran = run_call(&job, registry, env, control).await;
    shared.observe_run_time(started.elapsed());
    let failure = |message: String| {
        if job.retries_left > 0 {
            Ending::Retry {
                message,
                delay: job.retry_delay(),
                retries_left: job.retries_left - 1,
            }
        } else {
            Ending::Failed { message }
        }
    };
    let ending = match ran {
        Ran::Outcome(Outcome::Success(value)) => {
            let serializer = job
                .call
                .as_ref()
                .map(|c| c.serializer)
                .unwrap_or(crate::payload::Serializer::Pickle);
            Ending::Finished {
                return_value: value.map(|v| encode_value(&v, serializer)),
            }
        }
        Ran::Outcome(Outcome::Failure { message, .. }) => failure(message),
        Ran::TimedOut(limit) => failure(format!("timed out after {} s", limit.as_secs())),
        Ran::Stopped => Ending::Stopped {
            message: "stopped by request".into(),
        },
        Ran::LeaseRanOut => Ending::Requeued,
    };
    match &ending {
        Ending::Finished { .. } => {
            tracing::debug!(job_id = %job.id, queue = %job.queue, "job finished")
        }
        Ending::Failed { message } | Ending::Stopped { message } => {
            tracing::warn!(job_id = %job.id, queue = %job.queue, error = %message, "job failed")
        }
        Ending::Retry {
            message,
            delay,
            retries_left,
        } => {
            tracing::warn!(job_id = %job.id, queue = %job.queue, error = %message, ?delay, retries_left, "job failed; will retry")
        }
        Ending::Requeued => {}
    }
    Completion {
        id: job.id,
        queue: job.queue,
        execution_id: job.execution_id,
        started_at,
        ended_at: SystemTime::now(),
        ending,
        result_ttl: job.result_ttl,
        failure_ttl: job.failure_ttl,
        has_dependencies: job.has_dependencies,
        group: job.group,
    }
}

/// Binds and runs the task, enforcing the job's timeout and honouring stop requests: either one
/// ends the run at once and cancels the task, whose thread stops at its next check.
async fn run_call(job: &Job, registry: &Registry, env: Arc<TaskEnv>, control: &Control) -> Ran {
    let call = match &job.call {
        Ok(call) => call,
        Err(e) => return Ran::Outcome(Outcome::fail(e.to_string())),
    };
    let task = match registry.get(&call.func) {
        Ok(task) => task,
        Err(message) => return Ran::Outcome(Outcome::fail(message)),
    };
    let args = match bind(&*task, call) {
        Ok(args) => args,
        Err(message) => return Ran::Outcome(Outcome::fail(message)),
    };
    if control.lease_ran_out.load(Ordering::Relaxed) {
        return Ran::LeaseRanOut;
    }
    if control.stopped.load(Ordering::Relaxed) {
        return Ran::Stopped;
    }
    let ctx = TaskContext::new(
        job.id.clone(),
        job.attempts + 1,
        env,
        Arc::clone(&control.cancel),
    );
    if !task.blocking() {
        return Ran::Outcome(task.run(&args, &ctx));
    }
    let handle = tokio::task::spawn_blocking(move || task.run(&args, &ctx));
    let deadline = async {
        match job.timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        result = handle => match result {
            Ok(_) if control.lease_ran_out.load(Ordering::Relaxed) => Ran::LeaseRanOut,
            Ok(_) if control.stopped.load(Ordering::Relaxed) => Ran::Stopped,
            Ok(outcome) => Ran::Outcome(outcome),
            Err(e) => Ran::Outcome(Outcome::fail(format!("the task crashed: {e}"))),
        },
        () = deadline => {
            control.cancel.store(true, Ordering::Relaxed);
            Ran::TimedOut(job.timeout.unwrap_or_default())
        }
        () = control.wake.notified() => {
            control.cancel.store(true, Ordering::Relaxed);
            if control.lease_ran_out.load(Ordering::Relaxed) {
                Ran::LeaseRanOut
            } else {
                Ran::Stopped
            }
        }
    }
}

/// Records starts and completions in batches: whatever piled up since the last write goes in
/// one call, so an idle worker writes at once and a busy one in bulk.
async fn finisher_loop<B: Broker>(
    broker: Arc<B>,
    registration: Arc<Registration>,
    shared: Arc<Shared>,
    mut events: mpsc::UnboundedReceiver<Event>,
) {
    let (mut starts, mut batch) = (Vec::new(), Vec::new());
    while let Some(first) = events.recv().await {
        let mut next = Some(first);
        while let Some(event) = next.take() {
            match event {
                Event::Started(start) => starts.push(start),
                Event::Done(completion) => batch.push(completion),
            }
            if starts.len() + batch.len() < 256 {
                next = events.try_recv().ok();
            }
        }
        // Idle once nothing else is held (these jobs were released just before being sent).
        let idle = shared.held_count() == 0;
        let result = with_retries(
            "record job results",
            || broker.complete(&registration, &starts, &batch, idle),
            Duration::from_secs(3600),
        )
        .await;
        match result {
            Ok(accepted) => {
                for (completion, accepted) in batch.iter().zip(accepted) {
                    if !accepted {
                        tracing::warn!(job_id = %completion.id, "lease lost before the result was recorded; the job was recovered, so this result is dropped");
                    }
                    shared.record(&completion.ending, accepted);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "could not record results; their leases will expire and the jobs will be recovered")
            }
        }
        starts.clear();
        batch.clear();
    }
}

/// Renews the worker record and all held leases every third of the lease.
async fn heartbeat_loop<B: Broker>(
    broker: Arc<B>,
    registration: Arc<Registration>,
    shared: Arc<Shared>,
    lease: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let every = (lease / 3).max(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        // Taken before the held leases are read: every lease renewed below runs at least
        // until `sent + lease` (the expiry is computed when the call is made).
        let sent = Instant::now();
        let (leases, current) = shared.leases();
        let current_ref = current.as_ref().map(|(id, t)| (id.as_str(), *t));
        match broker
            .heartbeat(&registration, &leases, lease, current_ref)
            .await
        {
            Ok(pulse) => {
                *shared
                    .renewed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(sent);
                shared.monitor.beat(true);
                if !pulse.registered {
                    tracing::warn!(
                        "the worker's record is gone (Redis lost it); registering again"
                    );
                    if let Err(e) = broker.register(&registration).await {
                        tracing::warn!(error = %e, "registering again failed");
                    }
                }
                for (lease, still) in leases.iter().zip(pulse.held) {
                    if !still {
                        tracing::warn!(job_id = %lease.id, "lease lost; cancelling the job");
                        if let Some(h) = shared
                            .held
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .get(&lease.id)
                        {
                            h.control.cancel.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
            Err(e) => {
                shared.monitor.beat(false);
                tracing::warn!(error = %e, "heartbeat failed");
            }
        }
    }
}

/// Fences off jobs whose lease may have run out: when no heartbeat has renewed a job's lease
/// for a whole lease (Redis unreachable, or the worker cut off from it), another worker may
/// already have recovered the job, so this worker must not store its output or record it.
/// The job's task is cancelled (tasks check before they store anything) and the job is handed
/// back, which the backend refuses if it was recovered meanwhile. The heartbeat itself cannot
/// do this: its call to an unreachable Redis hangs until it times out.
async fn fence_loop(shared: Arc<Shared>, lease: Duration, mut stop: watch::Receiver<bool>) {
    let tick = (lease / 8).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => return,
        }
        let renewed = *shared
            .renewed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let held = shared.held.lock().unwrap_or_else(PoisonError::into_inner);
        for h in held.values() {
            // A lease runs from its claim or its last renewal, whichever is later. Fence one
            // tick early, so the check's period never lets a run outlive its lease.
            let since = renewed.map_or(h.claimed, |renewed| renewed.max(h.claimed));
            if since.elapsed() + tick < lease || h.control.lease_ran_out.load(Ordering::Relaxed) {
                continue;
            }
            tracing::warn!(job_id = %h.lease.id, "lease not renewed for {lease:?} (Redis unreachable); cancelling the job and handing it back, as another worker may run it now");
            h.control.lease_ran_out.store(true, Ordering::Relaxed);
            h.control.cancel.store(true, Ordering::Relaxed);
            h.control.wake.notify_one();
        }
    }
}

/// Recovers jobs of vanished workers every `every`; the backend lets one worker per queue do it
/// at a time.
async fn upkeep_loop<B: Broker>(
    broker: Arc<B>,
    registration: Arc<Registration>,
    shared: Arc<Shared>,
    policy: UpkeepPolicy,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match broker.maintain(&registration, &policy).await {
            Ok(upkeep) => {
                if upkeep.recovered + upkeep.abandoned + upkeep.stranded + upkeep.dead_workers > 0 {
                    tracing::info!(?upkeep, "recovered lost work");
                }
                let recovered = upkeep.recovered + upkeep.stranded;
                shared
                    .stats
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .recovered += recovered;
                shared
                    .monitor
                    .recovered
                    .fetch_add(recovered, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "upkeep failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Moves due scheduled jobs onto their queues, waking when the next one is due (at least once a
/// second, since new ones may be scheduled at any time).
async fn scheduler_loop<B: Broker>(
    broker: Arc<B>,
    registration: Arc<Registration>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let mut pause = Duration::from_secs(1);
        match broker.move_scheduled(&registration).await {
            Ok((moved, next_due)) => {
                if moved > 0 {
                    tracing::debug!(moved, "scheduled jobs queued");
                }
                if let Some(next_due) = next_due {
                    let wait = next_due - crate::time::now_epoch();
                    pause = pause.min(Duration::from_secs_f64(wait.clamp(0.005, 1.0)));
                }
            }
            Err(e) => tracing::warn!(error = %e, "moving scheduled jobs failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Carries out commands sent to the worker.
async fn command_loop(
    mut commands: mpsc::UnboundedReceiver<WorkerCommand>,
    shared: Arc<Shared>,
    stop_work: watch::Sender<bool>,
) {
    while let Some(command) = commands.recv().await {
        tracing::info!(?command, "command received");
        let held = shared.held.lock().unwrap_or_else(PoisonError::into_inner);
        match command {
            WorkerCommand::StopJob(id) => match held.get(&id) {
                Some(job) => job.control.stop(),
                None => {
                    tracing::warn!(job_id = %id, "asked to stop a job this worker is not running")
                }
            },
            WorkerCommand::StopAll => held
                .values()
                .filter(|h| h.running.load(Ordering::Relaxed))
                .for_each(|h| h.control.stop()),
            WorkerCommand::Shutdown => {
                let _ = stop_work.send(true);
            }
        }
    }
}

/// Retries a backend call while its errors are transient, with capped exponential backoff.
async fn with_retries<T, E, F, Fut>(
    what: &str,
    mut call: F,
    give_up_after: Duration,
) -> Result<T, E>
where
    E: BrokerError,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_transient() && started.elapsed() < give_up_after => {
                tracing::warn!(error = %e, ?delay, "{what} failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Backoff for the dispatcher while the backend is unreachable.
#[derive(Debug, Default)]
struct Backoff {
    delay: Option<Duration>,
}

impl Backoff {
    async fn fail(
        &mut self,
        what: &str,
        error: &dyn BrokerError,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let delay = self.delay.map_or(Duration::from_millis(50), |d| {
            (d * 2).min(Duration::from_secs(5))
        });
        self.delay = Some(delay);
        if error.is_transient() {
            tracing::warn!(%error, ?delay, "{what} failed; retrying");
        } else {
            tracing::error!(%error, ?delay, "{what} failed");
        }
        sleep_or_shutdown(delay, shutdown).await;
    }

    fn reset(&mut self) {
        self.delay = None;
    }
}

async fn sleep_or_shutdown(duration: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = shutdown.changed() => {}
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}
