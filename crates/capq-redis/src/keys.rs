//! Every Redis key capq touches, in one table.
//!
//! The layout is RQ 2.x's (see `docs/rq-protocol.md`), so Python `rq`, `rq info` and
//! rq-dashboard read our state and we read theirs. Lua scripts get keys, or the prefixes below
//! for keys named after a job or queue, as arguments; the only key text they spell is the
//! `:dependencies` suffix after [`script_prefixes`]' dependencies prefix, and `maintain.lua`'s
//! `:first_seen:` markers after the intermediate list's key.

/// Every queue's list key, as members of one set.
pub const QUEUES: &str = "rq:queues";
/// All live workers' keys.
pub const WORKERS: &str = "rq:workers";
/// Present while processing is suspended (`rq suspend`).
pub const SUSPENDED: &str = "rq:suspended";
/// The names of all groups (capq batches are RQ groups).
pub const GROUPS: &str = "rq:groups";
/// capq's batches, by creation time (a sorted set of batch ids).
pub const BATCHES: &str = "capq:batches";
/// Every capq worker's hand-off list, so maintenance can empty those of dead workers.
pub const HANDOFFS: &str = "capq:handoffs";
/// Fleet-wide totals since the start: `finished`, `failed` (jobs that ended for good).
pub const STATS_TOTALS: &str = "capq:stats:totals";
/// The run-time histogram: one field per bucket upper bound in seconds (`0.005` … `+Inf`,
/// counts not cumulative), plus `sum` (seconds).
pub const STATS_DURATIONS: &str = "capq:stats:durations";
/// The dashboards' samples of queue depth, a sorted set scored by time slot (`lua/depth.lua`).
pub const DEPTH: &str = "capq:depth";

/// Key prefixes, for keys named after a job, queue, worker or batch.
pub mod prefix {
    pub const QUEUE: &str = "rq:queue:";
    pub const JOB: &str = "rq:job:";
    pub const RESULTS: &str = "rq:results:";
    pub const STARTED: &str = "rq:wip:";
    pub const FINISHED: &str = "rq:finished:";
    pub const FAILED: &str = "rq:failed:";
    pub const DEFERRED: &str = "rq:deferred:";
    pub const SCHEDULED: &str = "rq:scheduled:";
    pub const CANCELED: &str = "rq:canceled:";
    pub const WORKER: &str = "rq:worker:";
    pub const WORKERS_OF: &str = "rq:workers:";
    pub const EXECUTIONS: &str = "rq:executions:";
    pub const EXECUTION: &str = "rq:execution:";
    pub const PUBSUB: &str = "rq:pubsub:";
    pub const CLEAN_LOCK: &str = "rq:clean_registries:";
    pub const SCHEDULER_LOCK: &str = "rq:scheduler-lock:";
    pub const GROUP: &str = "rq:group:";
    pub const BATCH: &str = "capq:batch:";
    pub const HANDOFF: &str = "capq:handoff:";
    pub const CLAIM_RECORD: &str = "capq:claim:";
    pub const FINISH_RECORD: &str = "capq:finish:";
}

pub fn queue(name: &str) -> String {
    format!("{}{name}", prefix::QUEUE)
}

/// Where single-queue RQ workers park a job between popping and starting it.
pub fn intermediate(name: &str) -> String {
    format!("{}{name}:intermediate", prefix::QUEUE)
}

pub fn job(id: &str) -> String {
    format!("{}{id}", prefix::JOB)
}

/// Jobs waiting for this one.
pub fn dependents(id: &str) -> String {
    format!("{}{id}:dependents", prefix::JOB)
}

/// Jobs this one waits for. The double colon is RQ's.
pub fn dependencies(id: &str) -> String {
    format!("{}:{id}:dependencies", prefix::JOB)
}

pub fn results(id: &str) -> String {
    format!("{}{id}", prefix::RESULTS)
}

/// The started-job registry: members `<job id>:<execution id>`, score = lease expiry.
pub fn started(queue: &str) -> String {
    format!("{}{queue}", prefix::STARTED)
}

pub fn finished(queue: &str) -> String {
    format!("{}{queue}", prefix::FINISHED)
}

pub fn failed(queue: &str) -> String {
    format!("{}{queue}", prefix::FAILED)
}

pub fn deferred(queue: &str) -> String {
    format!("{}{queue}", prefix::DEFERRED)
}

pub fn scheduled(queue: &str) -> String {
    format!("{}{queue}", prefix::SCHEDULED)
}

pub fn canceled(queue: &str) -> String {
    format!("{}{queue}", prefix::CANCELED)
}

pub fn worker(name: &str) -> String {
    format!("{}{name}", prefix::WORKER)
}

pub fn workers_of(queue: &str) -> String {
    format!("{}{queue}", prefix::WORKERS_OF)
}

/// The channel RQ's `send_stop_job_command` and `send_shutdown_command` publish on.
pub fn pubsub(worker: &str) -> String {
    format!("{}{worker}", prefix::PUBSUB)
}

/// RQ's maintenance lock for a queue's registries.
pub fn clean_lock(queue: &str) -> String {
    format!("{}{queue}", prefix::CLEAN_LOCK)
}

/// RQ's scheduler lock for a queue: one mover of scheduled jobs at a time.
pub fn scheduler_lock(queue: &str) -> String {
    format!("{}{queue}", prefix::SCHEDULER_LOCK)
}

/// An RQ group: the ids of its jobs.
pub fn group(name: &str) -> String {
    format!("{}{name}", prefix::GROUP)
}

/// A waiting capq worker's own list, where `BLMOVE` puts the job it waited for until the
/// claim script that runs right behind it takes it.
pub fn handoff(worker: &str) -> String {
    format!("{}{worker}", prefix::HANDOFF)
}

/// What a worker's last claim took (its call id and the jobs), so that the same call sent again
/// after a timeout answers the same instead of claiming twice; it expires with the leases.
pub fn claim_record(worker: &str) -> String {
    format!("{}{worker}", prefix::CLAIM_RECORD)
}

/// A worker's last completion call (its id and what it recorded), so that the same call sent
/// again after a timeout answers the same instead of finding its own leases gone.
pub fn finish_record(worker: &str) -> String {
    format!("{}{worker}", prefix::FINISH_RECORD)
}

/// Jobs that ended in one minute (`finished`, `failed`), kept two hours: the throughput history
/// the dashboard charts. `minute` is whole minutes since the epoch.
pub fn stats_minute(minute: u64) -> String {
    format!("capq:stats:minute:{minute}")
}

/// A capq batch's description (days, output, size, creation time).
pub fn batch(id: &str) -> String {
    format!("{}{id}", prefix::BATCH)
}

/// A batch's jobs by the day each processes (field: day, value: job id), kept as long as the
/// batch's description: a finished job's own record expires, and this is how the batch still
/// knows which day it was.
pub fn batch_days(id: &str) -> String {
    format!("{}{id}:days", prefix::BATCH)
}

/// The queue name of a queue key, if it is one.
pub fn queue_name(key: &str) -> Option<&str> {
    key.strip_prefix(prefix::QUEUE)
        .filter(|name| !name.ends_with(":intermediate"))
}

/// The key prefixes every Lua script receives as `ARGV[1..12]`, before its own arguments:
/// job, results, started, finished, failed, deferred, scheduled, queue, the dependents suffix,
/// the dependencies prefix, the queues set, and canceled.
pub fn script_prefixes() -> [&'static str; 12] {
    [
        prefix::JOB,
        prefix::RESULTS,
        prefix::STARTED,
        prefix::FINISHED,
        prefix::FAILED,
        prefix::DEFERRED,
        prefix::SCHEDULED,
        prefix::QUEUE,
        ":dependents",
        "rq:job::",
        QUEUES,
        prefix::CANCELED,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rq_layout() {
        assert_eq!(queue("default"), "rq:queue:default");
        assert_eq!(intermediate("default"), "rq:queue:default:intermediate");
        assert_eq!(dependencies("D"), "rq:job::D:dependencies");
        assert_eq!(dependents("P"), "rq:job:P:dependents");
        assert_eq!(started("default"), "rq:wip:default");
        assert_eq!(batch_days("b"), "capq:batch:b:days");
        assert_eq!(queue_name("rq:queue:high"), Some("high"));
        assert_eq!(queue_name("rq:queue:high:intermediate"), None);
        assert_eq!(queue_name("rq:job:x"), None);
    }
}
