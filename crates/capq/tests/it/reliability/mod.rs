//! No job lost or stuck: workers killed with SIGKILL, timeouts, retries and scheduling,
//! graceful shutdown, Redis restarts and stalls, S3 outages, stop requests, commits against
//! timeouts, queue order, the worker's recorded state, and a chaos run mixing them.

mod chaos;
mod commit;
mod memory;
mod ordering;
mod redis_restart;
mod redis_stall;
mod retries;
pub mod s3_outage;
mod shutdown;
mod sigkill;
mod stop;
mod timeout;
mod worker_state;

use capq_test_support::RedisServer;

/// How many ids of `ids` have each status, as a sorted list of (status, count).
pub fn statuses(redis: &RedisServer, ids: &[String]) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for id in ids {
        let status = redis
            .command(&["HGET", &format!("rq:job:{id}"), "status"])
            .text()
            .unwrap_or_else(|| "(gone)".into());
        *counts.entry(status).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

/// Enqueues `n` jobs with `capq bench`-like speed through Python's client: `calls` is a Python
/// expression list of `(function name, args)` repeated to `n`. Returns the ids.
pub fn enqueue_python(redis: &RedisServer, queue: &str, calls: &str, n: usize) -> Vec<String> {
    let script = format!(
        "import json\nfrom redis import Redis\nfrom rq import Queue\nr = Redis.from_url({url:?})\nq = Queue({queue:?}, connection=r)\ncalls = {calls}\njobs = [Queue.prepare_data(calls[i % len(calls)][0], args=calls[i % len(calls)][1]) for i in range({n})]\nprint(json.dumps([j.id for j in q.enqueue_many(jobs)]))\n",
        url = redis.url(),
    );
    serde_json::from_str(capq_test_support::python::run_python_ok(&script, &[]).trim()).unwrap()
}
