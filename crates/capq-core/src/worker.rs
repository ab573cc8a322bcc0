//! The worker loop: claim jobs under a lease, run them, record how they ended.
//!
//! Its parts run side by side:
//! - the **dispatcher** claims jobs when a slot is free, in batches when jobs are short (so a
//!   burst of tiny jobs costs one round trip per batch, not per job) and one at a time when
//!   they are long (so work spreads over all workers). It alone starts jobs: a job claimed
//!   ahead (prefetched) waits in a queue of its own and gets the next free slot, so the jobs
//!   one worker takes from one queue start in queue order, as RQ's do;
//! - **executors**, one per running job, bind the arguments and run the task (on a blocking
//!   thread unless it is trivial), trying it again with backoff after a transient error, within
//!   the job's timeout;
//! - the **finisher** records starts and completions, batching whatever has piled up since its
//!   last write, so an idle worker answers at once and a busy one writes in bulk. It also
//!   writes what the worker runs now (busy with its longest-running job, or idle): one writer,
//!   in order, so the worker's record never shows a job that ended;
//! - the **heartbeat** renews the worker's record and every lease it holds, and the **fence**
//!   stops jobs whose lease may have run out unrenewed;
//! - **upkeep** recovers jobs whose worker vanished (their lease ran out) and prunes expired
//!   entries, and the **scheduler** moves due delayed retries and `enqueue_at` jobs onto their
//!   queues (the backend makes sure one worker at a time does each, per queue);
//! - the **listener** takes commands sent to the worker: stop a job, shut down.
//!
//! Timeouts and stop requests cancel a job's task cooperatively, through the run's
//! [`RunControl`]: every built-in task checks its cancellation flag at least every few
//! milliseconds of work, so a cancelled computation ends promptly instead of running on in the
//! background. The job is recorded as timed out or stopped at once. A task stores its output
//! through the control's commit gate, which a cancellation cannot interleave with: a timeout
//! that comes while the output is being stored waits for the store, and a timeout that comes
//! first makes the store refuse. So a job's ending and its output always agree.
//!
//! Calls to the backend that fail for a transient reason are tried again. A claim or a
//! completion that timed out may still run on the backend (a stalled Redis runs it when it
//! wakes), so it is sent again under the same call id, and the backend answers the second
//! with what the first did rather than doing it twice.
//!
//! A job that cannot run (garbage data, unknown function, wrong arguments) fails with a clear
//! message like any other failure: nothing a job contains can stop the worker.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;

use crate::broker::{
    Broker, BrokerError, Claim, ClaimCall, Claimed, Completion, Ending, Lease, Registration, Start,
    UpkeepPolicy, WorkerCommand,
};
use crate::env::TaskEnv;
use crate::job::{DEFAULT_TIMEOUT, Defaults, Job};
use crate::monitor::Monitor;
use crate::payload::encode_value;
use crate::task::{Args, Outcome, Registry, RunControl, Task, TaskContext, bind};

/// The first wait before a task that failed transiently runs again; it doubles each time.
pub const TRANSIENT_FIRST_DELAY: Duration = Duration::from_millis(200);
/// The longest wait between two runs of a task that fails transiently.
pub const TRANSIENT_MAX_DELAY: Duration = Duration::from_secs(10);

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
    /// The processor fingerprint of this build: a job pinned to another one is failed
    /// unrun (`Job::refuse_unless_pinned_to`).
    pub processor: String,
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
            processor: crate::runs::processor_fingerprint().to_owned(),
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

/// Why a job is being stopped from outside.
const NO_REQUEST: u8 = 0;
/// A stop request (`capq stop`, RQ's `stop-job`): recorded as stopped.
const STOP: u8 = 1;
/// Its lease is lost or may have run out, or the grace period is over: handed back untouched.
const HAND_BACK: u8 = 2;

/// How a held job is told to stop: the run's control, plus why and a wake-up for its executor.
#[derive(Debug, Default)]
struct Control {
    run: Arc<RunControl>,
    request: AtomicU8,
    wake: Notify,
}

impl Control {
    /// Asks the job to stop (the first request wins) and wakes its executor.
    fn request(&self, why: u8) {
        let _ = self
            .request
            .compare_exchange(NO_REQUEST, why, Ordering::AcqRel, Ordering::Acquire);
        self.wake.notify_one();
    }

    fn requested(&self) -> u8 {
        self.request.load(Ordering::Acquire)
    }
}

/// A job the worker holds a lease on, running or waiting for a slot.
#[derive(Debug)]
struct Held {
    lease: Lease,
    /// When the claim that took it was first sent: the backend counts its lease from then.
    claimed: Instant,
    /// When it started running here; `None` while it waits for a slot.
    started: Option<Instant>,
    control: Arc<Control>,
}

/// What the finisher records.
#[derive(Debug)]
enum Event {
    /// A prefetched job got a slot and started running.
    Started(Start),
    /// A claim started jobs: the worker's record must show it busy.
    Running,
    /// A job ended.
    Done(Completion),
}

/// State shared by the worker's parts.
#[derive(Debug, Default)]
struct Shared {
    held: Mutex<HashMap<String, Held>>,
    /// Claimed jobs waiting for a slot, in the order they were claimed (queue order).
    pending: Mutex<VecDeque<Job>>,
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
    /// How long a claim or a renewal leases a job for.
    lease: Duration,
}

impl Shared {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn held_count(&self) -> usize {
        self.held().len()
    }

    /// Every held lease.
    fn leases(&self) -> Vec<Lease> {
        self.held().values().map(|h| h.lease.clone()).collect()
    }

    /// The job the worker's record shows: the longest-running one, with its running time.
    fn current(&self) -> Option<(String, Duration)> {
        self.held()
            .values()
            .filter_map(|h| h.started.map(|started| (h, started)))
            .min_by_key(|(h, started)| (*started, h.lease.id.clone()))
            .map(|(h, started)| (h.lease.id.clone(), started.elapsed()))
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
///
/// A backend that cannot be reached yet (transient errors) is waited for, with backoff; a
/// shutdown meanwhile returns empty stats.
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
    if !register(&*broker, &registration, &config.monitor, &mut shutdown).await? {
        tracing::info!(worker = %config.name, "stopped before it could register");
        return Ok(WorkerStats::default());
    }
    config.monitor.beat(true);
    tracing::info!(worker = %config.name, queues = ?config.queues, "worker started");

    let shared = Arc::new(Shared {
        monitor: Arc::clone(&config.monitor),
        lease: config.lease,
        ..Shared::default()
    });
    let (stop_background, _) = watch::channel(false);
    // Stop taking work when told to from outside (signals) or by a `shutdown` command.
    let (stop_work, mut work_stopped) = watch::channel(false);
    let forward = {
        let stop_work = stop_work.clone();
        tokio::spawn(async move {
            stopped(&mut shutdown).await;
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

    let executor = Executor {
        registry,
        env,
        shared: Arc::clone(&shared),
        slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
        done: done_tx.clone(),
        defaults: config.defaults,
        processor: config.processor.clone(),
    };
    dispatch(
        &*broker,
        &registration,
        &config,
        &executor,
        &mut work_stopped,
    )
    .await;
    drop(executor);
    shared.stopping.store(true, Ordering::Relaxed);
    wind_down(&shared, &done_tx, &config).await;
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

/// Registers the worker, waiting (with backoff) while the backend cannot be reached. Returns
/// false if told to stop first.
async fn register<B: Broker>(
    broker: &B,
    registration: &Registration,
    monitor: &Monitor,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<bool, WorkerError> {
    let mut backoff = Backoff::default();
    loop {
        match broker.register(registration).await {
            Ok(()) => return Ok(true),
            Err(e) if e.is_transient() => {
                // Alive, not ready: the probes say so while the backend is away.
                monitor.beat(false);
                if !backoff.fail("register the worker", &e, shutdown).await {
                    return Ok(false);
                }
            }
            Err(e) => {
                return Err(WorkerError::Register {
                    name: registration.name.clone(),
                    source: Box::new(e),
                });
            }
        }
    }
}

/// After the dispatcher stopped: prefetched jobs go straight back, running ones get the grace
/// period, and whatever still runs then is handed back (a job storing its output is waited
/// for: its commit cannot be cut short).
async fn wind_down(shared: &Shared, done: &mpsc::UnboundedSender<Event>, config: &WorkerConfig) {
    let waiting: Vec<Job> = shared
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .collect();
    // Each goes back to the front of its queue, so the last goes first: they keep their order.
    for job in waiting.iter().rev() {
        finish(shared, done, unrun(job, Ending::Requeued));
    }
    let grace_over = Instant::now() + config.grace;
    wait_for_release(shared, grace_over).await;
    let left: Vec<Arc<Control>> = shared
        .held()
        .values()
        .map(|h| Arc::clone(&h.control))
        .collect();
    if left.is_empty() {
        return;
    }
    tracing::warn!(
        jobs = left.len(),
        "grace period over; putting the running jobs back on their queues"
    );
    for control in left {
        control.request(HAND_BACK);
    }
    // Handing back is immediate, except for a job in its commit step, which ends on its own.
    // Its lease is renewed meanwhile; if it takes longer than a lease, it is left to recovery.
    wait_for_release(shared, Instant::now() + config.lease).await;
    if shared.held_count() > 0 {
        tracing::warn!(
            jobs = shared.held_count(),
            "jobs still storing their output; leaving them to lease recovery"
        );
    }
}

async fn wait_for_release(shared: &Shared, until: Instant) {
    while shared.held_count() > 0 {
        let released = shared.released.notified();
        if shared.held_count() == 0 || tokio::time::timeout_at(until, released).await.is_err() {
            return;
        }
    }
}

/// Claims jobs while there is room and no shutdown, and starts them in claim order.
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
        let permit = tokio::select! {
            permit = Arc::clone(&executor.slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            () = stopped(shutdown) => return,
        };
        // Jobs claimed ahead (prefetched) go first, in the order they were claimed.
        let Some(permit) = executor.start_next_waiting(permit) else {
            continue;
        };
        // Take every free slot, so jobs are never claimed far ahead of capacity.
        let mut permits = vec![permit];
        while let Ok(permit) = Arc::clone(&executor.slots).try_acquire_owned() {
            permits.push(permit);
        }
        let (want, start_now) = (permits.len() + executor.shared.prefetch(), permits.len());
        let claimed = send_claim(&mut backoff, shutdown, "claim", false, |call| async move {
            broker
                .claim(registration, &call, want, start_now, config.lease)
                .await
        })
        .await;
        let (claim, sent) = match claimed {
            Ok(claimed) => claimed,
            Err(call) => {
                // Stopped while retrying: the call may have claimed jobs; take them, to hand
                // them back, and make sure a late run of it claims nothing more.
                let reclaim = broker.claim(registration, &call, 0, 0, config.lease);
                executor.adopt_for_hand_back(reclaim).await;
                return;
            }
        };
        match claim {
            Claim::Jobs(jobs) => executor.adopt(jobs, permits, sent),
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
                        () = released => {}
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                        () = stopped(shutdown) => return,
                    }
                    continue;
                }
                // Wait holding the free slots, so a job that arrives starts at once.
                let waited = send_claim(
                    &mut backoff,
                    shutdown,
                    "wait for jobs",
                    true,
                    |call| async move {
                        broker
                            .wait_and_claim(registration, &call, config.lease, config.wait)
                            .await
                    },
                )
                .await;
                match waited {
                    Ok((Claim::Jobs(jobs), sent)) => executor.adopt(jobs, permits, sent),
                    Ok(_) => {}
                    Err(call) => {
                        let reclaim = broker.wait_and_claim(
                            registration,
                            &call,
                            config.lease,
                            Duration::ZERO,
                        );
                        executor.adopt_for_hand_back(reclaim).await;
                        return;
                    }
                }
            }
        }
    }
}

/// Sends a claim until it gets an answer, sending it again under the same call id after an
/// error (the first may still run on the backend; the same id makes the two claim once).
/// Returns the answer and when the call was first sent, or the call if the worker was told to
/// stop before an answer came (between tries, or during the call when `interruptible`).
async fn send_claim<F, Fut, E>(
    backoff: &mut Backoff,
    shutdown: &mut watch::Receiver<bool>,
    what: &str,
    interruptible: bool,
    mut send: F,
) -> Result<(Claim, Instant), ClaimCall>
where
    F: FnMut(ClaimCall) -> Fut,
    Fut: Future<Output = Result<Claim, E>>,
    E: BrokerError,
{
    let mut call = ClaimCall::new();
    let sent = Instant::now();
    loop {
        let answer = if interruptible {
            tokio::select! {
                answer = send(call.clone()) => answer,
                () = stopped(shutdown) => {
                    call.retry = true;
                    return Err(call);
                }
            }
        } else {
            send(call.clone()).await
        };
        match answer {
            Ok(claim) => {
                backoff.reset();
                return Ok((claim, sent));
            }
            Err(e) => {
                call.retry = true;
                if !backoff.fail(what, &e, shutdown).await {
                    return Err(call);
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
    processor: String,
}

impl Executor {
    /// Takes claimed jobs under their leases: the first ones run at once on the slots already
    /// held (the claim marked them started); the rest wait for a slot, in claim order.
    fn adopt(&self, jobs: Vec<Claimed>, permits: Vec<OwnedSemaphorePermit>, sent: Instant) {
        let mut permits = permits.into_iter();
        let mut started = false;
        for claimed in jobs {
            let mut job = Job::from_claimed(claimed, self.defaults);
            job.refuse_unless_pinned_to(&self.processor);
            let control = self.hold(&job, sent);
            match permits.next() {
                Some(permit) => {
                    self.launch(job, control, permit, true);
                    started = true;
                }
                None => self
                    .shared
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_back(job),
            }
        }
        if started {
            let _ = self.done.send(Event::Running);
        }
    }

    /// Adopts what a claim answered at shutdown, as waiting jobs (which then go back), within a
    /// few seconds (the backend may be what made the worker stop retrying).
    async fn adopt_for_hand_back<E>(&self, answer: impl Future<Output = Result<Claim, E>>) {
        let sent = Instant::now();
        if let Ok(Ok(Claim::Jobs(jobs))) =
            tokio::time::timeout(Duration::from_secs(5), answer).await
        {
            self.adopt(jobs, Vec::new(), sent);
        }
    }

    fn hold(&self, job: &Job, claimed: Instant) -> Arc<Control> {
        let control = Arc::new(Control::default());
        // Counted as the fence counts it: a waited claim was sent long before it took the job.
        let renewed = *self
            .shared
            .renewed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let since = lease_counted_from(renewed, claimed);
        control.run.hold_until(held_until(since, self.shared.lease));
        self.shared.held().insert(
            job.id.clone(),
            Held {
                lease: lease_of(job),
                claimed,
                started: None,
                control: Arc::clone(&control),
            },
        );
        control
    }

    /// Starts the first waiting job on `permit`, or gives the permit back if none waits. A
    /// waiting job that was asked to stop meanwhile (its lease ran out, a stop request) ends
    /// without running.
    fn start_next_waiting(&self, permit: OwnedSemaphorePermit) -> Option<OwnedSemaphorePermit> {
        loop {
            let next = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front();
            let Some(job) = next else {
                return Some(permit);
            };
            let control = self
                .shared
                .held()
                .get(&job.id)
                .map(|h| Arc::clone(&h.control));
            let Some(control) = control else { continue };
            match control.requested() {
                NO_REQUEST => {
                    self.launch(job, control, permit, false);
                    return None;
                }
                STOP => {
                    let stopped = Ending::Stopped {
                        message: "stopped by request".into(),
                    };
                    finish(&self.shared, &self.done, unrun(&job, stopped));
                }
                _ => finish(&self.shared, &self.done, unrun(&job, Ending::Requeued)),
            }
        }
    }

    /// Runs a held job on its slot. A job the claim did not mark started reports its start.
    fn launch(
        &self,
        job: Job,
        control: Arc<Control>,
        permit: OwnedSemaphorePermit,
        claim_started: bool,
    ) {
        if let Some(held) = self.shared.held().get_mut(&job.id) {
            held.started = Some(Instant::now());
        }
        if !claim_started {
            let _ = self.done.send(Event::Started(Start {
                id: job.id.clone(),
                started_at: SystemTime::now(),
                attempt: job.attempts + 1,
            }));
        }
        let registry = Arc::clone(&self.registry);
        let env = Arc::clone(&self.env);
        let shared = Arc::clone(&self.shared);
        let done = self.done.clone();
        tokio::spawn(async move {
            let _permit = permit;
            shared.monitor.running.fetch_add(1, Ordering::Relaxed);
            let completion = execute(job, &registry, env, &control, &shared).await;
            shared.monitor.running.fetch_sub(1, Ordering::Relaxed);
            finish(&shared, &done, completion);
        });
    }
}

fn lease_of(job: &Job) -> Lease {
    Lease {
        id: job.id.clone(),
        queue: job.queue.clone(),
        execution_id: job.execution_id.clone(),
    }
}

/// Releases a job, then hands its completion to the finisher. Released first, so the state
/// the finisher reports along with the completion no longer counts the job as running.
fn finish(shared: &Shared, done: &mpsc::UnboundedSender<Event>, completion: Completion) {
    shared.held().remove(&completion.id);
    let _ = done.send(Event::Done(completion));
    shared.released.notify_waiters();
}

/// The completion of a job that ends without running: handed back to its queue (never
/// started, or the worker stops), or stopped before it started.
fn unrun(job: &Job, ending: Ending) -> Completion {
    let now = SystemTime::now();
    Completion {
        id: job.id.clone(),
        queue: job.queue.clone(),
        execution_id: job.execution_id.clone(),
        started_at: now,
        ended_at: now,
        ending,
        result_ttl: job.result_ttl,
        failure_ttl: job.failure_ttl,
        has_dependencies: job.has_dependencies,
        group: job.group.clone(),
    }
}

/// How a run ended, before retries are considered.
enum Ran {
    Outcome(Outcome),
    /// The job cannot run at all (its hash could not be read): it fails for good.
    Unreadable(String),
    TimedOut(Duration),
    Stopped,
    /// Its lease is lost or may have run out, or the grace period is over: back untouched.
    HandedBack,
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
        Ran::Unreadable(message) => Ending::Failed { message },
        Ran::TimedOut(limit) => failure(format!("timed out after {} s", limit.as_secs())),
        Ran::Stopped => Ending::Stopped {
            message: "stopped by request".into(),
        },
        Ran::HandedBack => Ending::Requeued,
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

/// Binds and runs the task. A transient failure (a storage server that refused, a network
/// error) runs it again after a backoff that doubles from [`TRANSIENT_FIRST_DELAY`] up to
/// [`TRANSIENT_MAX_DELAY`], as long as another run fits in the job's timeout (a job without one
/// gets RQ's default, 180 s, for this); only then does the failure count.
async fn run_call(job: &Job, registry: &Registry, env: Arc<TaskEnv>, control: &Control) -> Ran {
    let call = match &job.call {
        Ok(call) => call,
        Err(e) => return Ran::Unreadable(e.to_string()),
    };
    let task = match registry.get(&call.func) {
        Ok(task) => task,
        Err(message) => return Ran::Outcome(Outcome::fail(message)),
    };
    let args = match bind(&*task, call) {
        Ok(args) => args,
        Err(message) => return Ran::Outcome(Outcome::fail(message)),
    };
    let started = Instant::now();
    let deadline = job.timeout.map(|limit| started + limit);
    let window_end = started + job.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let mut delay = TRANSIENT_FIRST_DELAY;
    let mut runs = 0u32;
    loop {
        if let Some(ran) = preempted(control) {
            return ran;
        }
        let run_started = Instant::now();
        let ran = run_once(job, &task, &args, &env, control, deadline).await;
        runs += 1;
        let Ran::Outcome(Outcome::Failure {
            message,
            transient: true,
        }) = ran
        else {
            return ran;
        };
        // Another run only if it can end in time, judging by how long this one took.
        let wait = jittered(delay);
        if Instant::now() + wait + run_started.elapsed() > window_end {
            let message = if runs > 1 {
                format!(
                    "{message} (tried {runs} times over {:.0?})",
                    started.elapsed()
                )
            } else {
                message
            };
            return Ran::Outcome(Outcome::Failure {
                message,
                transient: true,
            });
        }
        tracing::warn!(job_id = %job.id, queue = %job.queue, error = %message, ?wait, run = runs, "transient failure; trying again");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = control.wake.notified() => {}
        }
        delay = (delay * 2).min(TRANSIENT_MAX_DELAY);
    }
}

/// A run that must not start (again) because the job was asked to stop.
fn preempted(control: &Control) -> Option<Ran> {
    match control.requested() {
        NO_REQUEST => None,
        why => {
            control.run.try_cancel();
            Some(if why == STOP {
                Ran::Stopped
            } else {
                Ran::HandedBack
            })
        }
    }
}

/// ±25 %, so that jobs that failed together do not all come back together.
fn jittered(delay: Duration) -> Duration {
    delay.mul_f64(0.75 + fastrand::f64() * 0.5)
}

/// One run of the task, ended early by the job's deadline or a stop request unless its commit
/// began first (then the run is waited for, and its own outcome counts).
async fn run_once(
    job: &Job,
    task: &Arc<dyn Task>,
    args: &Args,
    env: &Arc<TaskEnv>,
    control: &Control,
    mut deadline: Option<Instant>,
) -> Ran {
    let ctx = TaskContext::new(
        job.id.clone(),
        job.attempts + 1,
        Arc::clone(env),
        Arc::clone(&control.run),
    );
    if !task.blocking() {
        return ran_to_end(control, task.run(args, &ctx));
    }
    let (task, args) = (Arc::clone(task), args.clone());
    let mut handle = tokio::task::spawn_blocking(move || task.run(&args, &ctx));
    loop {
        let cut = tokio::select! {
            result = &mut handle => return match result {
                Ok(outcome) => ran_to_end(control, outcome),
                Err(e) => Ran::Outcome(Outcome::fail(format!("the task crashed: {e}"))),
            },
            () = sleep_until(deadline) => {
                deadline = None;
                Ran::TimedOut(job.timeout.unwrap_or_default())
            }
            () = control.wake.notified() => match control.requested() {
                NO_REQUEST => continue,
                STOP => Ran::Stopped,
                _ => Ran::HandedBack,
            },
        };
        if control.run.try_cancel() {
            // The thread stops at its next check; say when, as it may hold resources until then.
            let id = job.id.clone();
            tokio::spawn(async move {
                let _ = handle.await;
                tracing::info!(job_id = %id, "cancelled run ended");
            });
            return cut;
        }
        tracing::info!(job_id = %job.id, "the job is storing its output; waiting for it to end rather than cutting it short");
    }
}

/// How a run that returned by itself ended: handed back if its commit refused because the lease
/// may have run out (another worker may run the job now), else as the task says.
fn ran_to_end(control: &Control, outcome: Outcome) -> Ran {
    if control.run.lease_ran_out() {
        tracing::warn!(
            "lease not renewed in time to store the output; handing the job back, as another worker may run it now"
        );
        Ran::HandedBack
    } else {
        Ran::Outcome(outcome)
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Records starts and completions in batches: whatever piled up since the last write goes in
/// one call, so an idle worker writes at once and a busy one in bulk. Each call also says what
/// the worker runs now, so its record is busy exactly while it runs something.
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
                Event::Running => {}
                Event::Done(completion) => batch.push(completion),
            }
            if starts.len() + batch.len() < 256 {
                next = events.try_recv().ok();
            }
        }
        // Taken after the events: every job they report ended is released already.
        let current = shared.current().map(|(id, _)| id);
        let call = format!("{:016x}", fastrand::u64(..));
        let result = with_retries(
            "record job results",
            || broker.complete(&registration, &call, &starts, &batch, current.as_deref()),
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
            () = tokio::time::sleep(every) => {}
            () = stopped(&mut stop) => return,
        }
        // Taken before the held leases are read: every lease renewed below runs at least
        // until `sent + lease` (the expiry is computed when the call is made).
        let sent = Instant::now();
        let leases = shared.leases();
        let current = shared.current();
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
                for (held, still) in leases.iter().zip(pulse.held) {
                    let Some(h) = shared.held().get(&held.id).map(|h| Arc::clone(&h.control))
                    else {
                        continue;
                    };
                    if still {
                        h.run.hold_until(held_until(sent, lease));
                    } else {
                        tracing::warn!(job_id = %held.id, "lease lost; cancelling the job");
                        h.request(HAND_BACK);
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
/// The job's run is cancelled (its commit refuses) and the job is handed back, which the
/// backend refuses if it was recovered meanwhile. The heartbeat itself cannot do this: its
/// call to an unreachable Redis hangs until it times out.
async fn fence_loop(shared: Arc<Shared>, lease: Duration, mut stop: watch::Receiver<bool>) {
    let tick = fence_tick(lease);
    loop {
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            () = stopped(&mut stop) => return,
        }
        let renewed = *shared
            .renewed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for h in shared.held().values() {
            // Fence one tick early, so the check's period never lets a run outlive its lease.
            let since = lease_counted_from(renewed, h.claimed);
            if since.elapsed() + tick < lease || h.control.requested() == HAND_BACK {
                continue;
            }
            tracing::warn!(job_id = %h.lease.id, "lease not renewed for {lease:?} (Redis unreachable); cancelling the job and handing it back, as another worker may run it now");
            h.control.request(HAND_BACK);
        }
    }
}

/// When a held lease's count starts: its claim or the last renewal, whichever is later.
fn lease_counted_from(renewed: Option<Instant>, claimed: Instant) -> Instant {
    renewed.map_or(claimed, |renewed| renewed.max(claimed))
}

/// How often the fence checks, and how early it acts: one check period before a lease runs out.
fn fence_tick(lease: Duration) -> Duration {
    (lease / 8).max(Duration::from_millis(50))
}

/// Until when a lease taken or renewed by a call sent at `sent` surely holds, less the fence's
/// margin: past this, a run's commit refuses ([`RunControl::hold_until`]), whether or not the
/// fence has run yet.
fn held_until(sent: Instant, lease: Duration) -> Instant {
    sent + lease.saturating_sub(fence_tick(lease))
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
            () = tokio::time::sleep(every) => {}
            () = stopped(&mut stop) => return,
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
            () = tokio::time::sleep(pause) => {}
            () = stopped(&mut stop) => return,
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
        let held = shared.held();
        match command {
            WorkerCommand::StopJob(id) => match held.get(&id) {
                Some(job) => job.control.request(STOP),
                None => {
                    tracing::warn!(job_id = %id, "asked to stop a job this worker is not running")
                }
            },
            WorkerCommand::StopAll => held
                .values()
                .filter(|h| h.started.is_some())
                .for_each(|h| h.control.request(STOP)),
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
    Fut: Future<Output = Result<T, E>>,
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

/// Backoff for calls the worker keeps making while the backend is unreachable.
#[derive(Debug, Default)]
struct Backoff {
    delay: Option<Duration>,
}

impl Backoff {
    /// Logs the failure and waits before the next try; false if told to stop meanwhile.
    async fn fail(
        &mut self,
        what: &str,
        error: &dyn BrokerError,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let delay = self.delay.map_or(Duration::from_millis(50), |d| {
            (d * 2).min(Duration::from_secs(5))
        });
        self.delay = Some(delay);
        if error.is_transient() {
            tracing::warn!(%error, ?delay, "{what} failed; retrying");
        } else {
            tracing::error!(%error, ?delay, "{what} failed");
        }
        sleep_or_shutdown(delay, shutdown).await
    }

    fn reset(&mut self) {
        self.delay = None;
    }
}

/// Sleeps unless told to stop first; false if told to stop.
async fn sleep_or_shutdown(duration: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => !*shutdown.borrow(),
        () = stopped(shutdown) => false,
    }
}

/// Resolves once `flag` is true; never, if its sender is gone (it can never turn true).
async fn stopped(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
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
