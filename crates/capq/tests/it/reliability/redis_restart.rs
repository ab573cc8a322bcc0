//! Redis outages: with AOF on, Redis is shut down and restarted in the middle of 200 jobs. All
//! of them finish, and both workers live through it.

use std::time::Duration;

use capq_test_support::redis_server::{RedisOptions, RedisServer};

use super::{enqueue_python, statuses};
use crate::queue::{eventually, spawn_worker};

#[test]
fn workers_survive_a_redis_restart_and_no_job_is_lost() {
    let mut redis = RedisServer::start_with(RedisOptions {
        aof: true,
        ..RedisOptions::default()
    });
    let ids = enqueue_python(&redis, "default", "[('capq.sleep', (0.02,))]", 200);
    let mut workers = [
        spawn_worker(
            &redis,
            None,
            &[
                "--name",
                "a",
                "--concurrency",
                "2",
                "--lease",
                "5",
                "--upkeep-every",
                "1",
            ],
        ),
        spawn_worker(
            &redis,
            None,
            &[
                "--name",
                "b",
                "--concurrency",
                "2",
                "--lease",
                "5",
                "--upkeep-every",
                "1",
            ],
        ),
    ];
    eventually("some jobs to finish", Duration::from_secs(60), || {
        redis
            .command(&["ZCARD", "rq:finished:default"])
            .int()
            .unwrap_or(0)
            >= 40
    });
    redis.shutdown();
    std::thread::sleep(Duration::from_secs(2));
    redis.restart();
    eventually("all 200 jobs to finish", Duration::from_secs(90), || {
        redis
            .command(&["ZCARD", "rq:finished:default"])
            .int()
            .unwrap_or(0)
            == 200
    });
    assert_eq!(statuses(&redis, &ids), vec![("finished".to_owned(), 200)]);
    assert_eq!(redis.command(&["LLEN", "rq:queue:default"]).int(), Some(0));
    assert_eq!(redis.command(&["ZCARD", "rq:wip:default"]).int(), Some(0));
    for worker in &mut workers {
        assert!(
            worker.child.try_wait().unwrap().is_none(),
            "worker died:\n{}",
            worker.log()
        );
    }
    // Both are still registered and working after the restart.
    let more = enqueue_python(&redis, "default", "[('capq.noop', ())]", 20);
    eventually("jobs after the restart", Duration::from_secs(60), || {
        statuses(&redis, &more) == vec![("finished".to_owned(), 20)]
    });
    let registered = redis.command(&["SMEMBERS", "rq:workers"]).strings();
    assert!(
        registered.contains(&"rq:worker:a".to_owned())
            && registered.contains(&"rq:worker:b".to_owned()),
        "{registered:?}"
    );
    for worker in &mut workers {
        worker.terminate();
        assert!(
            worker.wait(Duration::from_secs(30)).success(),
            "{}",
            worker.log()
        );
    }
}
