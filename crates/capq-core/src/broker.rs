//! What the worker loop needs from a queue backend, as one small trait.
//!
//! The worker never sees keys or commands: it claims jobs under a lease, renews leases, and
//! hands back completions. `capq-redis` implements this over RQ's Redis layout. Every method is
//! one atomic state change on the backend, so a worker that dies between two calls leaves
//! nothing half-done: at worst a claimed job whose lease runs out and is recovered.

use std::future::Future;
use std::time::{Duration, SystemTime};

/// A job taken from a queue under a lease: the id, where it came from, and its raw hash.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub queue: String,
    /// Identifies this attempt; the lease is held on `"<id>:<execution_id>"`.
    pub execution_id: String,
    /// The job hash as stored (field name, raw value).
    pub fields: Vec<(String, Vec<u8>)>,
}

/// The result of asking for work.
#[derive(Debug, Clone)]
pub enum Claim {
    Jobs(Vec<Claimed>),
    /// Nothing to do right now.
    Empty,
    /// `rq suspend` (or `capq suspend`) is in effect.
    Suspended,
}

/// How an attempt ended, as the backend must record it.
#[derive(Debug, Clone)]
pub enum Ending {
    /// Finished; `return_value` is already serialized in the client's format.
    Finished { return_value: Option<Vec<u8>> },
    /// Failed for good.
    Failed { message: String },
    /// Failed, and will run again after `delay` (zero: right away).
    Retry {
        message: String,
        delay: Duration,
        retries_left: u32,
    },
    /// Stopped on request (`capq stop`, RQ's `stop-job`); recorded as failed.
    Stopped { message: String },
    /// Not run to the end (graceful shutdown ran out of time): back on its queue, untouched.
    Requeued,
}

/// One call that claims jobs, named so that it can be sent again safely.
///
/// A call can time out on the worker's side while the backend still runs it (a Redis stalled
/// longer than the command timeout runs it when it wakes). Sending it again under the same
/// `id` never claims twice: whichever of the two runs second answers with what the first
/// claimed, so the worker adopts those jobs instead of leaving them leased to nobody. The id
/// is also the stem of the claimed jobs' execution ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCall {
    pub id: String,
    /// True when this call is being sent again after an error.
    pub retry: bool,
}

impl ClaimCall {
    /// A call with a fresh random id.
    pub fn new() -> ClaimCall {
        ClaimCall {
            id: format!("{:016x}", fastrand::u64(..)),
            retry: false,
        }
    }
}

impl Default for ClaimCall {
    fn default() -> ClaimCall {
        ClaimCall::new()
    }
}

/// A claimed job that started running after waiting for a free slot.
#[derive(Debug, Clone)]
pub struct Start {
    pub id: String,
    pub started_at: SystemTime,
    /// The attempt number this run is (1 for the first).
    pub attempt: u32,
}

/// One attempt's completion.
#[derive(Debug, Clone)]
pub struct Completion {
    pub id: String,
    pub queue: String,
    pub execution_id: String,
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
    pub ending: Ending,
    /// Seconds to keep a finished job and its result (-1: forever, 0: delete at once).
    pub result_ttl: i64,
    /// Seconds to keep a failed job and its error.
    pub failure_ttl: i64,
    /// The job waited on other jobs (`rq:job::<id>:dependencies` exists).
    pub has_dependencies: bool,
    /// The batch (RQ group) the job belongs to, whose progress counters to update.
    pub group: Option<String>,
}

/// A worker as the backend records it.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    pub queues: Vec<String>,
    pub pid: u32,
    pub hostname: String,
    pub version: String,
    /// How long the worker's record lives without a heartbeat.
    pub ttl: Duration,
}

/// A lease the worker holds: the job and its attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    pub id: String,
    pub queue: String,
    pub execution_id: String,
}

/// What a worker's maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upkeep {
    /// Jobs put back on their queue after their worker lost them.
    pub recovered: u64,
    /// Jobs failed after being abandoned more than `max_recoveries` times.
    pub abandoned: u64,
    /// Jobs found stranded between a queue and a worker, put back.
    pub stranded: u64,
    /// Dead workers removed from the worker sets.
    pub dead_workers: u64,
}

/// How maintenance treats lost jobs.
#[derive(Debug, Clone, Copy)]
pub struct UpkeepPolicy {
    /// Recoveries allowed before a job abandoned again fails for good.
    pub max_recoveries: u32,
    /// Failure TTL for jobs failed as abandoned, when they set none.
    pub failure_ttl: i64,
    /// How long a job may sit between a queue and a worker before it counts as stranded.
    pub stranded_after: Duration,
}

/// A command sent to a worker (RQ's `send_stop_job_command`, `send_shutdown_command`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerCommand {
    /// Stop this running job; it is recorded as stopped.
    StopJob(String),
    /// Stop running jobs (RQ's `kill-horse`).
    StopAll,
    /// Shut down gracefully.
    Shutdown,
}

/// What a heartbeat found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulse {
    /// Per lease: still held?
    pub held: Vec<bool>,
    /// False when the worker's own record was gone (Redis lost it, e.g. restarted without
    /// persistence): the worker must register again.
    pub registered: bool,
}

/// Backend errors the worker loop must handle: connection trouble is retried with backoff;
/// anything else is reported.
pub trait BrokerError: std::error::Error + Send + Sync + 'static {
    /// True when retrying later may succeed (connection refused or dropped, timeouts,
    /// `LOADING` while Redis restarts).
    fn is_transient(&self) -> bool;
}

/// A queue backend.
pub trait Broker: Send + Sync + 'static {
    type Error: BrokerError;

    /// Records a new worker; fails if a live worker already has this name.
    fn register(
        &self,
        worker: &Registration,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Records the worker's death and removes it from the worker sets.
    fn deregister(
        &self,
        worker: &Registration,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Claims up to `max` queued jobs from `queues` (earlier queues first) without waiting.
    /// The first `start_now` are marked started; the others stay `queued` (but leased) until
    /// [`complete`](Self::complete) reports them started, so no job looks started before it
    /// runs. The same `call` sent again answers with what it claimed the first time.
    fn claim(
        &self,
        worker: &Registration,
        call: &ClaimCall,
        max: usize,
        start_now: usize,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, Self::Error>> + Send;

    /// Waits up to `timeout` for a job to arrive, then claims it like [`claim`](Self::claim),
    /// and marks it started. The same `call` sent again (with `retry` set) first answers with
    /// what the first one claimed, if it did.
    fn wait_and_claim(
        &self,
        worker: &Registration,
        call: &ClaimCall,
        lease: Duration,
        timeout: Duration,
    ) -> impl Future<Output = Result<Claim, Self::Error>> + Send;

    /// Records jobs that started running since the last call, then completions, then what the
    /// worker runs now: `current` is the job its record shows (busy), or `None` (idle). The
    /// worker's record is written by this call alone, in the order of the calls, so it always
    /// shows the latest state the worker reported.
    ///
    /// Returns, per completion, whether it was recorded: `false` means the lease had already
    /// been lost (the job was recovered and may be running elsewhere), so nothing was written.
    /// Sending the same `call` id again (after a timeout) answers as the first did, without
    /// recording anything twice.
    fn complete(
        &self,
        worker: &Registration,
        call: &str,
        starts: &[Start],
        completions: &[Completion],
        current: Option<&str>,
    ) -> impl Future<Output = Result<Vec<bool>, Self::Error>> + Send;

    /// Renews the worker's record and the leases it holds. `current` is the longest-running
    /// job and how long it has run, for the record's `current_job_working_time` (only if the
    /// record shows that job; the state itself is [`complete`](Self::complete)'s to write).
    fn heartbeat(
        &self,
        worker: &Registration,
        leases: &[Lease],
        lease: Duration,
        current: Option<(&str, Duration)>,
    ) -> impl Future<Output = Result<Pulse, Self::Error>> + Send;

    /// One maintenance pass over the worker's queues: recover jobs whose lease ran out or that
    /// were stranded, drop expired registry entries and dead workers. Queues another process is
    /// maintaining right now are skipped.
    fn maintain(
        &self,
        worker: &Registration,
        policy: &UpkeepPolicy,
    ) -> impl Future<Output = Result<Upkeep, Self::Error>> + Send;

    /// Moves due scheduled jobs (delayed retries, `enqueue_at`) onto their queues, for the
    /// queues whose scheduler lock this worker holds or gets. Returns how many moved and when
    /// the next one is due (seconds since the epoch), if known.
    fn move_scheduled(
        &self,
        worker: &Registration,
    ) -> impl Future<Output = Result<(u64, Option<f64>), Self::Error>> + Send;

    /// Delivers commands sent to this worker until `stop` turns true, reconnecting as needed.
    fn listen(
        &self,
        worker: &Registration,
        commands: tokio::sync::mpsc::UnboundedSender<WorkerCommand>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send;
}
