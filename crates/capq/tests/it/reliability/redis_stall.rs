//! Redis stalls longer than the client's command timeout (10 s): the server is frozen with
//! SIGSTOP for 15 s while a worker is busy, so commands it sent time out and are sent again
//! while the first ones still wait in the server. The worker adopts what a timed-out claim
//! took and recognises an ending it had already recorded: no job waits out its lease (no
//! spurious recovery), no "lease lost" warning, and every job ends once.

use std::time::Duration;

use capq_test_support::RedisServer;

use super::{enqueue_python, statuses};
use crate::queue::{eventually, spawn_worker};

#[test]
fn a_stall_longer_than_the_command_timeout_recovers_nothing_and_loses_nothing() {
    let redis = RedisServer::start();
    let jobs = 300;
    let ids = enqueue_python(&redis, "default", "[('capq.sleep', (0.02,))]", jobs);
    let mut worker = spawn_worker(
        &redis,
        None,
        &[
            "--name",
            "stalled",
            "--concurrency",
            "2",
            "--lease",
            "30",
            "--upkeep-every",
            "1",
        ],
    );
    let finished = || {
        redis
            .command(&["ZCARD", "rq:finished:default"])
            .int()
            .unwrap_or(0)
    };
    eventually("some jobs to finish", Duration::from_secs(60), || {
        finished() >= 20
    });
    redis.pause();
    std::thread::sleep(Duration::from_secs(15));
    redis.resume();
    eventually("every job to finish", Duration::from_secs(180), || {
        finished() == jobs as i64
    });
    assert_eq!(statuses(&redis, &ids), vec![("finished".to_owned(), jobs)]);
    let log = worker.log();
    assert!(
        log.contains("retrying"),
        "the stall made commands time out:\n{log}"
    );
    assert!(
        !log.contains("lease lost"),
        "a false lease-lost warning:\n{log}"
    );
    for id in &ids {
        assert_eq!(
            redis
                .command(&["HGET", &format!("rq:job:{id}"), "capq_recoveries"])
                .text(),
            None,
            "job {id} was recovered:\n{log}"
        );
        assert_eq!(
            redis.command(&["XLEN", &format!("rq:results:{id}")]).int(),
            Some(1),
            "job {id} has one result entry"
        );
        assert_eq!(
            redis
                .command(&["HGET", &format!("rq:job:{id}"), "capq_attempts"])
                .int(),
            Some(1),
            "job {id} ran once"
        );
    }
    assert_eq!(redis.command(&["ZCARD", "rq:wip:default"]).int(), Some(0));
    worker.stop_ok();
}
