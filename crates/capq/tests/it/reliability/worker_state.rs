//! What a worker's record says (the hash `capq info`, `rq info`, rq-dashboard, the dashboard
//! and `/metrics` read): a worker with no job running reads `idle` with no current job, from
//! its start and after its last job ends, whatever order its jobs end in.

use std::time::Duration;

use capq_test_support::RedisServer;

use super::enqueue_python;
use crate::queue::{eventually, run_capq, spawn_worker};

fn field(redis: &RedisServer, key: &str, field: &str) -> Option<String> {
    redis.command(&["HGET", key, field]).text()
}

fn status(redis: &RedisServer, id: &str) -> Option<String> {
    field(redis, &format!("rq:job:{id}"), "status")
}

#[test]
fn a_worker_with_no_job_running_reads_idle() {
    let redis = RedisServer::start();
    let mut worker = spawn_worker(&redis, None, &["--name", "idler", "--concurrency", "2"]);
    let key = "rq:worker:idler";
    eventually("the worker to register", Duration::from_secs(60), || {
        field(&redis, key, "birth").is_some()
    });
    // A new worker waits for work: it is idle, not `started`.
    assert_eq!(field(&redis, key, "state").as_deref(), Some("idle"));
    assert_eq!(field(&redis, key, "current_job"), None);

    // A long job, then a short one claimed while it runs, which ends first: the last job to
    // end is not the last one claimed.
    let long = enqueue_python(&redis, "default", "[('capq.sleep', (10,))]", 1).remove(0);
    eventually("the long job to start", Duration::from_secs(60), || {
        status(&redis, &long).as_deref() == Some("started")
    });
    let short = enqueue_python(&redis, "default", "[('capq.noop', ())]", 1).remove(0);
    eventually("the short job to finish", Duration::from_secs(60), || {
        status(&redis, &short).as_deref() == Some("finished")
    });
    assert_eq!(
        status(&redis, &long).as_deref(),
        Some("started"),
        "the test needs the short job to end while the long one still runs"
    );
    assert_eq!(field(&redis, key, "state").as_deref(), Some("busy"));
    assert_eq!(
        field(&redis, key, "current_job").as_deref(),
        Some(long.as_str()),
        "the current job is the one still running"
    );
    eventually("the long job to finish", Duration::from_secs(60), || {
        status(&redis, &long).as_deref() == Some("finished")
    });
    eventually(
        "the worker to read idle with no current job",
        Duration::from_secs(60),
        || {
            field(&redis, key, "state").as_deref() == Some("idle")
                && field(&redis, key, "current_job").is_none()
        },
    );
    // Heartbeats (every 20 s with the default 60 s lease) keep it so.
    let beat = field(&redis, key, "last_heartbeat");
    eventually("a heartbeat", Duration::from_secs(90), || {
        field(&redis, key, "last_heartbeat") != beat
    });
    assert_eq!(field(&redis, key, "state").as_deref(), Some("idle"));
    assert_eq!(field(&redis, key, "current_job"), None);
    let info = run_capq(&["info", "--url", &redis.url(), "--json"], &[]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["workers"][0]["state"], "idle", "{info}");
    assert_eq!(
        info["workers"][0]["current_job"],
        serde_json::Value::Null,
        "{info}"
    );

    worker.stop_ok();
}
