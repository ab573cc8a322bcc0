//! Stopping a running job: `capq stop <ID>` and RQ's own `send_stop_job_command` both stop it;
//! it is recorded as stopped, and the worker goes on.

use std::time::{Duration, Instant};

use capq_test_support::RedisServer;
use capq_test_support::python::run_python_ok;

use super::enqueue_python;
use crate::queue::{eventually, run_capq, spawn_worker};

fn status(redis: &RedisServer, id: &str) -> Option<String> {
    redis
        .command(&["HGET", &format!("rq:job:{id}"), "status"])
        .text()
}

#[test]
fn capq_stop_and_rq_stop_job_stop_a_running_job() {
    let redis = RedisServer::start();
    let ids = enqueue_python(&redis, "default", "[('capq.sleep', (60,))]", 2);
    let mut worker = spawn_worker(&redis, None, &["--concurrency", "1", "--name", "stoppable"]);
    let url = redis.url();

    eventually("the first job to start", Duration::from_secs(60), || {
        status(&redis, &ids[0]).as_deref() == Some("started")
    });
    // Wait for the worker to be subscribed (it answers PUBSUB NUMSUB).
    eventually("the worker to listen", Duration::from_secs(60), || {
        redis
            .command(&["PUBSUB", "NUMSUB", "rq:pubsub:stoppable"])
            .strings()
            .get(1)
            .map(String::as_str)
            == Some("1")
    });
    let asked = Instant::now();
    let stopped = run_capq(&["stop", &ids[0], "--url", &url], &[]);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    eventually("the job to be stopped", Duration::from_secs(60), || {
        status(&redis, &ids[0]).as_deref() == Some("stopped")
    });
    // Stopped, not run to its end (60 s).
    assert!(
        asked.elapsed() < Duration::from_secs(45),
        "stopped after {:?}",
        asked.elapsed()
    );
    assert!(
        redis
            .command(&["ZSCORE", "rq:failed:default", &ids[0]])
            .text()
            .is_some(),
        "stopped jobs go to the failed registry"
    );

    // RQ's own command, from Python.
    eventually("the second job to start", Duration::from_secs(60), || {
        status(&redis, &ids[1]).as_deref() == Some("started")
    });
    let script = format!(
        "from redis import Redis\nfrom rq.command import send_stop_job_command\nsend_stop_job_command(Redis.from_url({url:?}), {:?})\nprint('sent')\n",
        ids[1]
    );
    assert_eq!(run_python_ok(&script, &[]).trim(), "sent");
    eventually(
        "the second job to be stopped",
        Duration::from_secs(60),
        || status(&redis, &ids[1]).as_deref() == Some("stopped"),
    );
    let listed = run_capq(&["failed", "list", "--json", "--url", &url], &[]);
    let failed: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(
        failed
            .iter()
            .all(|j| j["error"].as_str().unwrap().contains("stopped by request")),
        "{failed:?}"
    );

    // Stopping a job that is not running is refused with exit 1.
    let again = run_capq(&["stop", &ids[0], "--url", &url], &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not running"));
    worker.terminate();
    assert!(
        worker.wait(Duration::from_secs(30)).success(),
        "{}",
        worker.log()
    );
}
