//! Graceful shutdown: on SIGTERM a worker stops taking jobs, lets the running one finish
//! within the grace period (or hands it back), deregisters and exits 0. No job is lost.

use std::time::Duration;

use capq_test_support::RedisServer;

use super::enqueue_python;
use crate::queue::{eventually, spawn_worker};

fn status(redis: &RedisServer, id: &str) -> Option<String> {
    redis
        .command(&["HGET", &format!("rq:job:{id}"), "status"])
        .text()
}

#[test]
fn sigterm_during_a_job_lets_it_finish() {
    let redis = RedisServer::start();
    let ids = enqueue_python(&redis, "default", "[('capq.sleep', (3,))]", 2);
    let mut worker = spawn_worker(&redis, None, &["--concurrency", "1", "--name", "graceful"]);
    eventually("the first job to start", Duration::from_secs(60), || {
        status(&redis, &ids[0]).as_deref() == Some("started")
    });
    worker.terminate();
    let status_code = worker.wait(Duration::from_secs(30));
    assert!(status_code.success(), "{}", worker.log());
    assert_eq!(
        status(&redis, &ids[0]).as_deref(),
        Some("finished"),
        "the running job finished"
    );
    assert_eq!(
        status(&redis, &ids[1]).as_deref(),
        Some("queued"),
        "the next one was not taken"
    );
    assert_eq!(
        redis
            .command(&["LRANGE", "rq:queue:default", "0", "-1"])
            .strings(),
        vec![ids[1].clone()]
    );
    assert!(
        redis
            .command(&["SMEMBERS", "rq:workers"])
            .strings()
            .is_empty(),
        "deregistered"
    );
    assert!(
        redis
            .command(&["HGET", "rq:worker:graceful", "death"])
            .text()
            .is_some()
    );
}

#[test]
fn sigterm_past_the_grace_period_hands_the_job_back() {
    let redis = RedisServer::start();
    // 12 s of work against a 1 s grace period: handed back however slowly the signal arrives.
    let ids = enqueue_python(&redis, "default", "[('capq.sleep', (12,))]", 1);
    let mut worker = spawn_worker(
        &redis,
        None,
        &["--concurrency", "1", "--grace", "1", "--name", "impatient"],
    );
    eventually("the job to start", Duration::from_secs(60), || {
        status(&redis, &ids[0]).as_deref() == Some("started")
    });
    worker.terminate();
    assert!(
        worker.wait(Duration::from_secs(30)).success(),
        "{}",
        worker.log()
    );
    assert_eq!(
        status(&redis, &ids[0]).as_deref(),
        Some("queued"),
        "handed back, not lost"
    );
    assert_eq!(
        redis
            .command(&["LRANGE", "rq:queue:default", "0", "-1"])
            .strings(),
        ids
    );
    assert_eq!(redis.command(&["ZCARD", "rq:wip:default"]).int(), Some(0));
    // Another worker finishes it.
    let mut next = spawn_worker(&redis, None, &["--burst"]);
    assert!(
        next.wait(Duration::from_secs(120)).success(),
        "{}",
        next.log()
    );
    assert_eq!(status(&redis, &ids[0]).as_deref(), Some("finished"));
}

#[test]
fn a_second_signal_exits_at_once_and_the_lease_recovers_the_job() {
    let redis = RedisServer::start();
    let ids = enqueue_python(&redis, "default", "[('capq.sleep', (30,))]", 1);
    let mut worker = spawn_worker(
        &redis,
        None,
        &["--concurrency", "1", "--lease", "3", "--name", "hasty"],
    );
    eventually("the job to start", Duration::from_secs(60), || {
        status(&redis, &ids[0]).as_deref() == Some("started")
    });
    worker.terminate();
    // The second signal only counts once the first was taken (two at once are one).
    eventually(
        "the first signal to be taken",
        Duration::from_secs(60),
        || worker.log().contains("stopping: finishing running jobs"),
    );
    worker.terminate();
    let code = worker.wait(Duration::from_secs(30));
    assert!(
        !code.success(),
        "the second signal exits without the grace period"
    );
    // Another worker's upkeep recovers it once the lease runs out, and runs it.
    let mut rescuer = spawn_worker(
        &redis,
        None,
        &[
            "--lease",
            "3",
            "--upkeep-every",
            "1",
            "--grace",
            "1",
            "--name",
            "rescuer",
        ],
    );
    eventually(
        "the job to be recovered and run again",
        Duration::from_secs(60),
        || {
            redis
                .command(&["HGET", &format!("rq:job:{}", ids[0]), "worker_name"])
                .text()
                .as_deref()
                == Some("rescuer")
        },
    );
    assert_eq!(
        redis
            .command(&["HGET", &format!("rq:job:{}", ids[0]), "capq_recoveries"])
            .int(),
        Some(1)
    );
    assert_eq!(status(&redis, &ids[0]).as_deref(), Some("started"));
    rescuer.terminate();
    assert!(
        rescuer.wait(Duration::from_secs(30)).success(),
        "{}",
        rescuer.log()
    );
}
