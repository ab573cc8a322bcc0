//! SIGKILL: a busy worker is killed three times and replaced each time; every job still
//! finishes, exactly once, and nothing is left started or queued. The workers listen on two
//! queues, so the multi-queue path has no loss window either.

use std::time::Duration;

use capq_test_support::RedisServer;

use super::{enqueue_python, statuses};
use crate::queue::{eventually, spawn_worker};

#[test]
fn killed_workers_lose_no_jobs() {
    let redis = RedisServer::start();
    let mut ids = enqueue_python(&redis, "high", "[('capq.sleep', (0.05,))]", 100);
    ids.extend(enqueue_python(
        &redis,
        "default",
        "[('capq.sleep', (0.05,))]",
        200,
    ));
    let worker = |name: &str| {
        spawn_worker(
            &redis,
            None,
            &[
                "--queues",
                "high,default",
                "--lease",
                "3",
                "--upkeep-every",
                "1",
                "--concurrency",
                "2",
                "--name",
                name,
            ],
        )
    };
    // The victim works alone while it is killed, so the queues cannot run dry before the last
    // kill however slowly workers start; the other two join afterwards.
    let mut victim = "w1".to_owned();
    let mut workers = vec![worker(&victim)];
    for round in 0..3 {
        // Busy means running a job (a worker with nothing running reads idle): kill it then.
        eventually("the victim to be busy", Duration::from_secs(120), || {
            redis
                .command(&["HGET", &format!("rq:worker:{victim}"), "state"])
                .text()
                .as_deref()
                == Some("busy")
        });
        let killed = &mut workers[0];
        let _ = killed.child.kill();
        let _ = killed.child.wait();
        victim = format!("w1-{round}");
        workers[0] = worker(&victim);
    }
    workers.push(worker("w2"));
    workers.push(worker("w3"));
    eventually("all 300 jobs to finish", Duration::from_secs(120), || {
        redis
            .command(&["ZCARD", "rq:finished:high"])
            .int()
            .unwrap_or(0)
            + redis
                .command(&["ZCARD", "rq:finished:default"])
                .int()
                .unwrap_or(0)
            == 300
    });
    assert_eq!(statuses(&redis, &ids), vec![("finished".to_owned(), 300)]);
    for queue in ["high", "default"] {
        assert_eq!(
            redis.command(&["LLEN", &format!("rq:queue:{queue}")]).int(),
            Some(0)
        );
        assert_eq!(
            redis.command(&["ZCARD", &format!("rq:wip:{queue}")]).int(),
            Some(0)
        );
        assert_eq!(
            redis
                .command(&["ZCARD", &format!("rq:failed:{queue}")])
                .int(),
            Some(0)
        );
    }
    let recovered: i64 = ids
        .iter()
        .map(|id| {
            redis
                .command(&["HGET", &format!("rq:job:{id}"), "capq_recoveries"])
                .int()
                .unwrap_or(0)
        })
        .sum();
    assert!(
        recovered >= 3,
        "each kill left at least one job to recover, got {recovered}"
    );
    for w in &mut workers {
        w.terminate();
        assert!(w.wait(Duration::from_secs(30)).success(), "{}", w.log());
    }
}
