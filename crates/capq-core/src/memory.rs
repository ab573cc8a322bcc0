//! A [`Broker`] that keeps its queues in this process's memory: the worker loop's test bed, and a
//! broker for one machine when no Redis is wanted.
//!
//! It keeps the same rules as capq-redis's scripts, in one mutex instead of one Lua script per
//! state change: claims lease jobs (and a claim sent again under the same id answers with what
//! the first claimed), an ending is recorded only while its lease is held, maintenance puts back
//! jobs whose lease ran out, the worker's record shows what the last completion said it runs.
//! Time is tokio's clock, so tests drive leases, timeouts and backoff with paused time.
//!
//! Tests can also inject the faults the loop must survive: a broker that cannot be reached, and
//! calls that run but whose answer is lost (a stalled server the client gave up on).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use crate::broker::{
    Broker, BrokerError, Claim, ClaimCall, Claimed, Completion, Ending, Lease, Pulse, Registration,
    Start, Upkeep, UpkeepPolicy, WorkerCommand,
};
use crate::payload::Call;

/// Why a call to the in-memory broker failed.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// A fault a test injected: the broker behaves as a server that cannot be reached.
    #[error("the broker cannot be reached (injected fault)")]
    Unreachable,
    /// A fault a test injected: the call ran, but its answer was lost on the way back.
    #[error("the answer was lost (injected fault)")]
    AnswerLost,
    #[error("a live worker is already registered as `{0}`")]
    NameTaken(String),
}

impl BrokerError for MemoryError {
    fn is_transient(&self) -> bool {
        matches!(self, MemoryError::Unreachable | MemoryError::AnswerLost)
    }
}

/// A job as the broker keeps it.
#[derive(Debug, Clone)]
struct Stored {
    queue: String,
    /// The fields given at enqueue time (`data`, `timeout`, …).
    fields: Vec<(String, Vec<u8>)>,
    status: String,
    attempts: u32,
    recoveries: u32,
    retries_left: Option<u32>,
    endings: Vec<Recorded>,
}

impl Stored {
    /// The hash a claim answers with: the stored fields and the counters as they were.
    fn hash(&self) -> Vec<(String, Vec<u8>)> {
        let mut fields = self.fields.clone();
        fields.retain(|(name, _)| name != "retries_left");
        fields.push((
            "capq_attempts".into(),
            self.attempts.to_string().into_bytes(),
        ));
        fields.push((
            "capq_recoveries".into(),
            self.recoveries.to_string().into_bytes(),
        ));
        if let Some(left) = self.retries_left {
            fields.push(("retries_left".into(), left.to_string().into_bytes()));
        }
        fields
    }
}

/// One recorded ending of a job, oldest first in [`JobView::endings`].
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// `finished`, `failed`, `stopped`, `retried` (a retry was scheduled), `requeued` (handed
    /// back), or `recovered` (its lease ran out and maintenance put it back).
    pub kind: &'static str,
    /// The error, for failures and retries.
    pub message: Option<String>,
    /// The serialized return value, for `finished`.
    pub return_value: Option<Vec<u8>>,
    pub at: Instant,
}

/// What the broker knows about a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    pub queue: String,
    pub status: String,
    /// Runs marked started.
    pub attempts: u32,
    /// Times it was put back after its lease ran out.
    pub recoveries: u32,
    pub endings: Vec<Recorded>,
}

/// What the broker knows about a worker: its record as `capq info` would show it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerView {
    pub state: String,
    pub current_job: Option<String>,
    pub current_job_working_time: Option<Duration>,
    pub finished: u64,
    pub failed: u64,
}

/// One thing that happened, in order, for tests that check sequences.
#[derive(Debug, Clone, PartialEq)]
pub enum Happened {
    /// A job was marked started (by a claim, or by a completion call reporting its start).
    Started { id: String, at: Instant },
    /// A completion was recorded.
    Ended {
        id: String,
        kind: &'static str,
        at: Instant,
    },
    /// Maintenance put a job back, its lease having run out.
    Recovered { id: String, at: Instant },
}

/// A held lease.
#[derive(Debug, Clone)]
struct Held {
    queue: String,
    expires: Instant,
}

/// What a claim call took, so that the same call sent again answers the same.
#[derive(Debug, Clone)]
struct ClaimRecord {
    call: String,
    /// (queue, job id, execution id, runs before the claim)
    entries: Vec<(String, String, String, u32)>,
}

#[derive(Debug, Clone, Default)]
struct WorkerRecord {
    state: String,
    current_job: Option<String>,
    working_time: Option<Duration>,
    finished: u64,
    failed: u64,
}

/// Which calls' answers a test makes the broker lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// Claims and waits.
    Claims,
    /// Completion calls.
    Completions,
}

#[derive(Debug, Default)]
struct Faults {
    unreachable: bool,
    lost_claims: u32,
    lost_completions: u32,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    jobs: HashMap<String, Stored>,
    queues: HashMap<String, VecDeque<String>>,
    /// Leases by `<job id>:<execution id>`.
    leases: HashMap<String, Held>,
    scheduled: Vec<(Instant, String)>,
    workers: HashMap<String, WorkerRecord>,
    suspended: bool,
    claims: HashMap<String, ClaimRecord>,
    completions: HashMap<String, (String, Vec<bool>)>,
    faults: Faults,
    happened: Vec<Happened>,
    claim_calls: u64,
    listeners: HashMap<String, Vec<mpsc::UnboundedSender<WorkerCommand>>>,
}

impl State {
    /// Fails a call up front while the broker is unreachable.
    fn reachable(&self) -> Result<(), MemoryError> {
        if self.faults.unreachable {
            Err(MemoryError::Unreachable)
        } else {
            Ok(())
        }
    }

    /// After a call ran: its answer, or lost if a test asked for that.
    fn answer<T>(&mut self, kind: Answers, value: T) -> Result<T, MemoryError> {
        let lost = match kind {
            Answers::Claims => &mut self.faults.lost_claims,
            Answers::Completions => &mut self.faults.lost_completions,
        };
        if *lost > 0 {
            *lost -= 1;
            Err(MemoryError::AnswerLost)
        } else {
            Ok(value)
        }
    }

    fn replay(&self, worker: &str, call: &ClaimCall) -> Option<Vec<Claimed>> {
        let record = self.claims.get(worker).filter(|r| r.call == call.id)?;
        let mut claimed = Vec::new();
        for (queue, id, execution, before) in &record.entries {
            let member = format!("{id}:{execution}");
            let (true, Some(job)) = (self.leases.contains_key(&member), self.jobs.get(id)) else {
                continue;
            };
            let mut fields = job.hash();
            for (name, value) in &mut fields {
                if name == "capq_attempts" {
                    *value = before.to_string().into_bytes();
                }
            }
            claimed.push(Claimed {
                id: id.clone(),
                queue: queue.clone(),
                execution_id: execution.clone(),
                fields,
            });
        }
        Some(claimed)
    }

    fn take(
        &mut self,
        worker: &Registration,
        call: &ClaimCall,
        max: usize,
        start_now: usize,
        lease: Duration,
    ) -> Vec<Claimed> {
        let now = Instant::now();
        let mut claimed = Vec::new();
        let mut entries = Vec::new();
        for queue in &worker.queues {
            while claimed.len() < max {
                let Some(id) = self.queues.get_mut(queue).and_then(VecDeque::pop_front) else {
                    break;
                };
                let Some(job) = self.jobs.get_mut(&id) else {
                    continue;
                };
                let execution = format!("{}-{}", call.id, claimed.len() + 1);
                let fields = job.hash();
                let before = job.attempts;
                if claimed.len() < start_now {
                    job.status = "started".into();
                    job.attempts += 1;
                    self.happened.push(Happened::Started {
                        id: id.clone(),
                        at: now,
                    });
                }
                self.leases.insert(
                    format!("{id}:{execution}"),
                    Held {
                        queue: queue.clone(),
                        expires: now + lease,
                    },
                );
                entries.push((queue.clone(), id.clone(), execution.clone(), before));
                claimed.push(Claimed {
                    id,
                    queue: queue.clone(),
                    execution_id: execution,
                    fields,
                });
            }
        }
        self.claim_calls += 1;
        self.claims.insert(
            worker.name.clone(),
            ClaimRecord {
                call: call.id.clone(),
                entries,
            },
        );
        claimed
    }

    fn end(&mut self, completion: &Completion) -> bool {
        let member = format!("{}:{}", completion.id, completion.execution_id);
        if self.leases.remove(&member).is_none() {
            return false;
        }
        let now = Instant::now();
        let Some(job) = self.jobs.get_mut(&completion.id) else {
            return true;
        };
        let (kind, message, return_value) = match &completion.ending {
            Ending::Finished { return_value } => ("finished", None, return_value.clone()),
            Ending::Failed { message } => ("failed", Some(message.clone()), None),
            Ending::Stopped { message } => ("stopped", Some(message.clone()), None),
            Ending::Retry { message, .. } => ("retried", Some(message.clone()), None),
            Ending::Requeued => ("requeued", None, None),
        };
        job.endings.push(Recorded {
            kind,
            message,
            return_value,
            at: now,
        });
        match &completion.ending {
            Ending::Finished { .. } => job.status = "finished".into(),
            Ending::Failed { .. } => job.status = "failed".into(),
            Ending::Stopped { .. } => job.status = "stopped".into(),
            Ending::Retry {
                delay,
                retries_left,
                ..
            } => {
                job.retries_left = Some(*retries_left);
                if delay.is_zero() {
                    job.status = "queued".into();
                    let queue = job.queue.clone();
                    self.queues
                        .entry(queue)
                        .or_default()
                        .push_back(completion.id.clone());
                } else {
                    job.status = "scheduled".into();
                    self.scheduled.push((now + *delay, completion.id.clone()));
                }
            }
            Ending::Requeued => {
                job.status = "queued".into();
                let queue = job.queue.clone();
                self.queues
                    .entry(queue)
                    .or_default()
                    .push_front(completion.id.clone());
            }
        }
        self.happened.push(Happened::Ended {
            id: completion.id.clone(),
            kind,
            at: now,
        });
        true
    }
}

/// Queues, jobs, leases and worker records in this process.
#[derive(Debug, Default)]
pub struct MemoryBroker {
    state: Mutex<State>,
    /// Wakes workers waiting for a job.
    arrived: Notify,
}

impl MemoryBroker {
    pub fn new() -> MemoryBroker {
        MemoryBroker::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts a call on `queue` with the given job fields (RQ's names: `timeout`,
    /// `retries_left`, `retry_intervals`, `result_ttl`, …, as text) and returns its id.
    pub fn enqueue(&self, queue: &str, call: &Call, fields: &[(&str, &str)]) -> String {
        let mut state = self.state();
        state.next_id += 1;
        let id = format!("job-{}", state.next_id);
        let mut stored = vec![
            ("data".to_owned(), call.encode()),
            ("origin".to_owned(), queue.as_bytes().to_vec()),
        ];
        stored.extend(
            fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec())),
        );
        let retries_left = fields
            .iter()
            .find(|(name, _)| *name == "retries_left")
            .and_then(|(_, value)| value.parse().ok());
        state.jobs.insert(
            id.clone(),
            Stored {
                queue: queue.to_owned(),
                fields: stored,
                status: "queued".into(),
                attempts: 0,
                recoveries: 0,
                retries_left,
                endings: Vec::new(),
            },
        );
        state
            .queues
            .entry(queue.to_owned())
            .or_default()
            .push_back(id.clone());
        drop(state);
        self.arrived.notify_waiters();
        id
    }

    /// A job's status, counters and recorded endings.
    pub fn job(&self, id: &str) -> Option<JobView> {
        self.state().jobs.get(id).map(|job| JobView {
            queue: job.queue.clone(),
            status: job.status.clone(),
            attempts: job.attempts,
            recoveries: job.recoveries,
            endings: job.endings.clone(),
        })
    }

    /// A worker's record, if it is registered.
    pub fn worker(&self, name: &str) -> Option<WorkerView> {
        self.state().workers.get(name).map(|w| WorkerView {
            state: w.state.clone(),
            current_job: w.current_job.clone(),
            current_job_working_time: w.working_time,
            finished: w.finished,
            failed: w.failed,
        })
    }

    /// The ids queued on `queue`, first in line first.
    pub fn queued(&self, queue: &str) -> Vec<String> {
        self.state()
            .queues
            .get(queue)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many leases are held.
    pub fn leased(&self) -> usize {
        self.state().leases.len()
    }

    /// Everything that happened so far, in order.
    pub fn happened(&self) -> Vec<Happened> {
        self.state().happened.clone()
    }

    /// Suspends or resumes claiming (`rq suspend`).
    pub fn set_suspended(&self, suspended: bool) {
        self.state().suspended = suspended;
    }

    /// Makes every call fail as if the server could not be reached, or ends that.
    pub fn set_unreachable(&self, unreachable: bool) {
        self.state().faults.unreachable = unreachable;
        self.arrived.notify_waiters();
    }

    /// The next `n` calls of a kind run, but their callers get an error instead of the
    /// answer, as from a server that answered after the client had given up.
    pub fn lose_answers(&self, kind: Answers, n: u32) {
        let mut state = self.state();
        match kind {
            Answers::Claims => state.faults.lost_claims = n,
            Answers::Completions => state.faults.lost_completions = n,
        }
    }

    /// How many claim calls (claims and waits that took jobs) ran.
    pub fn claim_calls(&self) -> u64 {
        self.state().claim_calls
    }

    /// Sends a command to a listening worker; false if none listens.
    pub fn send(&self, worker: &str, command: WorkerCommand) -> bool {
        let state = self.state();
        let listeners = state
            .listeners
            .get(worker)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut sent = false;
        for listener in listeners {
            sent |= listener.send(command.clone()).is_ok();
        }
        sent
    }
}

impl Broker for MemoryBroker {
    type Error = MemoryError;

    async fn register(&self, worker: &Registration) -> Result<(), MemoryError> {
        let mut state = self.state();
        state.reachable()?;
        if state.workers.contains_key(&worker.name) {
            return Err(MemoryError::NameTaken(worker.name.clone()));
        }
        state.workers.insert(
            worker.name.clone(),
            WorkerRecord {
                state: "idle".into(),
                ..WorkerRecord::default()
            },
        );
        Ok(())
    }

    async fn deregister(&self, worker: &Registration) -> Result<(), MemoryError> {
        let mut state = self.state();
        state.reachable()?;
        state.workers.remove(&worker.name);
        Ok(())
    }

    async fn claim(
        &self,
        worker: &Registration,
        call: &ClaimCall,
        max: usize,
        start_now: usize,
        lease: Duration,
    ) -> Result<Claim, MemoryError> {
        let mut state = self.state();
        state.reachable()?;
        let claimed = match state.replay(&worker.name, call) {
            Some(claimed) => claimed,
            None if state.suspended => return Ok(Claim::Suspended),
            None => state.take(worker, call, max, start_now, lease),
        };
        let claim = if claimed.is_empty() {
            Claim::Empty
        } else {
            Claim::Jobs(claimed)
        };
        state.answer(Answers::Claims, claim)
    }

    async fn wait_and_claim(
        &self,
        worker: &Registration,
        call: &ClaimCall,
        lease: Duration,
        timeout: Duration,
    ) -> Result<Claim, MemoryError> {
        let deadline = Instant::now() + timeout;
        let mut first = true;
        loop {
            let arrived = self.arrived.notified();
            {
                let mut state = self.state();
                state.reachable()?;
                // The same call sent again: answer what it took the first time.
                if first && let Some(claimed) = state.replay(&worker.name, call) {
                    let claim = if claimed.is_empty() {
                        Claim::Empty
                    } else {
                        Claim::Jobs(claimed)
                    };
                    return state.answer(Answers::Claims, claim);
                }
                first = false;
                // No wait: only what an earlier send of this call took (there was none).
                if timeout.is_zero() {
                    return Ok(Claim::Empty);
                }
                if !state.suspended {
                    let claimed = state.take(worker, call, 1, 1, lease);
                    if !claimed.is_empty() {
                        return state.answer(Answers::Claims, Claim::Jobs(claimed));
                    }
                }
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return Ok(Claim::Empty);
            }
        }
    }

    async fn complete(
        &self,
        worker: &Registration,
        call: &str,
        starts: &[Start],
        completions: &[Completion],
        current: Option<&str>,
    ) -> Result<Vec<bool>, MemoryError> {
        let mut state = self.state();
        state.reachable()?;
        if let Some((previous, recorded)) = state.completions.get(&worker.name)
            && previous == call
        {
            let recorded = recorded.clone();
            return state.answer(Answers::Completions, recorded);
        }
        let now = Instant::now();
        for start in starts {
            if let Some(job) = state.jobs.get_mut(&start.id) {
                job.status = "started".into();
                job.attempts = start.attempt;
                state.happened.push(Happened::Started {
                    id: start.id.clone(),
                    at: now,
                });
            }
        }
        let recorded: Vec<bool> = completions.iter().map(|c| state.end(c)).collect();
        if let Some(record) = state.workers.get_mut(&worker.name) {
            for (completion, recorded) in completions.iter().zip(&recorded) {
                match (&completion.ending, recorded) {
                    (Ending::Finished { .. }, true) => record.finished += 1,
                    (Ending::Failed { .. } | Ending::Stopped { .. }, true) => record.failed += 1,
                    _ => {}
                }
            }
            match current {
                Some(id) => {
                    record.state = "busy".into();
                    if record.current_job.as_deref() != Some(id) {
                        record.working_time = None;
                    }
                    record.current_job = Some(id.to_owned());
                }
                None => {
                    record.state = "idle".into();
                    record.current_job = None;
                    record.working_time = None;
                }
            }
        }
        state
            .completions
            .insert(worker.name.clone(), (call.to_owned(), recorded.clone()));
        drop(state);
        self.arrived.notify_waiters();
        let mut state = self.state();
        state.answer(Answers::Completions, recorded)
    }

    async fn heartbeat(
        &self,
        worker: &Registration,
        leases: &[Lease],
        lease: Duration,
        current: Option<(&str, Duration)>,
    ) -> Result<Pulse, MemoryError> {
        let mut state = self.state();
        state.reachable()?;
        let expires = Instant::now() + lease;
        let held = leases
            .iter()
            .map(|l| {
                let member = format!("{}:{}", l.id, l.execution_id);
                match state.leases.get_mut(&member) {
                    Some(held) => {
                        held.expires = expires;
                        true
                    }
                    None => false,
                }
            })
            .collect();
        let record = state.workers.get_mut(&worker.name);
        let registered = record.is_some();
        if let (Some(record), Some((id, working))) = (record, current)
            && record.current_job.as_deref() == Some(id)
        {
            record.working_time = Some(working);
        }
        Ok(Pulse { held, registered })
    }

    async fn maintain(
        &self,
        _worker: &Registration,
        policy: &UpkeepPolicy,
    ) -> Result<Upkeep, MemoryError> {
        let mut state = self.state();
        state.reachable()?;
        let now = Instant::now();
        let expired: Vec<String> = state
            .leases
            .iter()
            .filter(|(_, held)| held.expires <= now)
            .map(|(member, _)| member.clone())
            .collect();
        let mut upkeep = Upkeep::default();
        for member in expired {
            let Some(held) = state.leases.remove(&member) else {
                continue;
            };
            let id = member
                .rsplit_once(':')
                .map_or(member.as_str(), |(id, _)| id)
                .to_owned();
            let Some(job) = state.jobs.get_mut(&id) else {
                continue;
            };
            job.recoveries += 1;
            if job.recoveries > policy.max_recoveries {
                job.status = "failed".into();
                job.endings.push(Recorded {
                    kind: "failed",
                    message: Some(format!(
                        "abandoned by its worker {} times",
                        policy.max_recoveries + 1
                    )),
                    return_value: None,
                    at: now,
                });
                upkeep.abandoned += 1;
            } else {
                job.status = "queued".into();
                job.endings.push(Recorded {
                    kind: "recovered",
                    message: None,
                    return_value: None,
                    at: now,
                });
                state
                    .queues
                    .entry(held.queue)
                    .or_default()
                    .push_front(id.clone());
                state.happened.push(Happened::Recovered { id, at: now });
                upkeep.recovered += 1;
            }
        }
        drop(state);
        if upkeep.recovered > 0 {
            self.arrived.notify_waiters();
        }
        Ok(upkeep)
    }

    async fn move_scheduled(
        &self,
        _worker: &Registration,
    ) -> Result<(u64, Option<f64>), MemoryError> {
        let mut state = self.state();
        state.reachable()?;
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut state.scheduled)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        state.scheduled = later;
        let moved = due.len() as u64;
        for (_, id) in due {
            if let Some(job) = state.jobs.get_mut(&id) {
                job.status = "queued".into();
                let queue = job.queue.clone();
                state.queues.entry(queue).or_default().push_back(id);
            }
        }
        // As epoch seconds, the form the trait speaks: the wall clock now plus the time left.
        let next = state.scheduled.iter().map(|(at, _)| *at).min().map(|at| {
            crate::time::epoch_seconds(SystemTime::now())
                + at.saturating_duration_since(now).as_secs_f64()
        });
        drop(state);
        if moved > 0 {
            self.arrived.notify_waiters();
        }
        Ok((moved, next))
    }

    async fn listen(
        &self,
        worker: &Registration,
        commands: mpsc::UnboundedSender<WorkerCommand>,
        mut stop: watch::Receiver<bool>,
    ) {
        self.state()
            .listeners
            .entry(worker.name.clone())
            .or_default()
            .push(commands);
        let _ = stop.wait_for(|stop| *stop).await;
        self.state().listeners.remove(&worker.name);
    }
}
