//! Timeouts: a job with a 2 s timeout that would sleep 60 s fails as timed out after its 2 s, and the same worker goes on with the next jobs.

use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::python::run_python_ok;

use super::statuses;
use crate::queue::{eventually, run_capq, spawn_worker};

#[test]
fn a_job_past_its_timeout_fails_and_the_worker_goes_on() {
    let redis = RedisServer::start();
    let script = format!(
        "import json\nfrom redis import Redis\nfrom rq import Queue\nq = Queue(connection=Redis.from_url({:?}))\nslow = q.enqueue('capq.sleep', 60, job_timeout=2)\nrest = [q.enqueue('capq.noop').id for _ in range(3)]\nprint(json.dumps([slow.id] + rest))\n",
        redis.url()
    );
    let ids: Vec<String> = serde_json::from_str(run_python_ok(&script, &[]).trim()).unwrap();
    let mut worker = spawn_worker(&redis, None, &["--concurrency", "1", "--name", "timeouts"]);
    eventually("the slow job to fail", Duration::from_secs(60), || {
        redis
            .command(&["HGET", &format!("rq:job:{}", ids[0]), "status"])
            .text()
            .as_deref()
            == Some("failed")
    });
    // Its own record says how long it ran: its 2 s, not the 60 s it would have slept.
    let time = |field: &str| {
        let text = redis
            .command(&["HGET", &format!("rq:job:{}", ids[0]), field])
            .text()
            .unwrap();
        capq_core::time::parse_rq_timestamp(&text).unwrap()
    };
    let took = time("ended_at").duration_since(time("started_at")).unwrap();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(30),
        "timed out after {took:?}, expected about 2 s"
    );
    eventually("the next jobs to finish", Duration::from_secs(60), || {
        statuses(&redis, &ids[1..]) == vec![("finished".to_owned(), 3)]
    });
    let listed = run_capq(&["failed", "list", "--json", "--url", &redis.url()], &[]);
    let failed: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 2 s"),
        "{failed:?}"
    );
    // The same worker did all of it.
    for id in &ids {
        assert_eq!(
            redis
                .command(&["HGET", &format!("rq:job:{id}"), "worker_name"])
                .text()
                .as_deref(),
            Some("timeouts")
        );
    }
    assert_eq!(
        redis
            .command(&["HGET", "rq:worker:timeouts", "successful_job_count"])
            .int(),
        Some(3)
    );
    worker.terminate();
    assert!(
        worker.wait(Duration::from_secs(30)).success(),
        "{}",
        worker.log()
    );
}
