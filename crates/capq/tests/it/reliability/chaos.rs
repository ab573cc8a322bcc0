//! Chaos: thousands of jobs, workers SIGKILLed at random and replaced, and one Redis restart.
//! Every job ends finished, exactly once in the finished registry, and every job's effect is
//! there; jobs that ran more than once (at-least-once delivery) are counted and reported.
//!
//! `CAPQ_CHAOS_JOBS` sets the size (2,000 by default, which CI runs).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use capq_test_support::redis_server::{RedisOptions, RedisServer};

use super::enqueue_python;
use crate::queue::{Process, eventually, spawn_worker_at};

#[test]
fn random_kills_and_a_redis_restart_lose_nothing() {
    let jobs: usize = std::env::var("CAPQ_CHAOS_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let mut redis = RedisServer::start_with(RedisOptions {
        aof: true,
        ..RedisOptions::default()
    });
    let effects_dir = tempfile::tempdir().unwrap();
    let effects = effects_dir.path().join("effects.log");
    let calls = format!(
        "[('capq.append_line', ({:?}, f'job-{{i}}', 0.01)) for i in range({jobs})]",
        effects.display().to_string()
    );
    // One call per job: the list has `jobs` entries, so job i writes `job-i`.
    let ids = enqueue_python(&redis, "default", &calls, jobs);
    assert_eq!(ids.len(), jobs);

    let url = redis.url();
    let start = |n: usize| -> Process {
        spawn_worker_at(
            &url,
            &[],
            &[
                "--name",
                &format!("chaos-{n}"),
                "--concurrency",
                "2",
                "--lease",
                "3",
                "--upkeep-every",
                "1",
                "--max-recoveries",
                "50",
                "--test-tasks",
            ],
        )
    };
    let mut spawned = 3;
    let mut workers: Vec<Process> = (0..3).map(start).collect();
    let finished = |redis: &RedisServer| {
        redis
            .command(&["ZCARD", "rq:finished:default"])
            .int()
            .unwrap_or(0) as usize
    };
    let (mut kills, mut restarted) = (0, false);
    let deadline = Instant::now() + Duration::from_secs(300);
    while finished(&redis) < jobs {
        assert!(
            Instant::now() < deadline,
            "only {} of {jobs} finished; a worker's log:\n{}",
            finished(&redis),
            workers[0].log()
        );
        std::thread::sleep(Duration::from_millis(300 + fastrand::u64(..400)));
        if !restarted && finished(&redis) > jobs / 3 {
            redis.shutdown();
            std::thread::sleep(Duration::from_millis(500));
            redis.restart();
            restarted = true;
            continue;
        }
        if finished(&redis) < jobs {
            let victim = fastrand::usize(..workers.len());
            let _ = workers[victim].child.kill();
            let _ = workers[victim].child.wait();
            workers[victim] = start(spawned);
            spawned += 1;
            kills += 1;
        }
    }
    eventually(
        "the finished registry to settle",
        Duration::from_secs(60),
        || finished(&redis) == jobs,
    );

    // Exactly once in the finished registry (a sorted set), every job finished, none failed or
    // still in flight.
    let in_registry = redis
        .command(&["ZRANGE", "rq:finished:default", "0", "-1"])
        .strings();
    assert_eq!(in_registry.len(), jobs);
    let mut expected = ids.clone();
    expected.sort();
    let mut got = in_registry.clone();
    got.sort();
    assert_eq!(
        got, expected,
        "the finished registry holds exactly the enqueued jobs"
    );
    assert_eq!(
        redis.command(&["ZCARD", "rq:failed:default"]).int(),
        Some(0)
    );
    assert_eq!(redis.command(&["LLEN", "rq:queue:default"]).int(), Some(0));
    assert_eq!(redis.command(&["ZCARD", "rq:wip:default"]).int(), Some(0));

    // Every job's effect is there; duplicates are the price of at-least-once delivery.
    let log = std::fs::read_to_string(&effects).unwrap();
    let mut runs: HashMap<&str, usize> = HashMap::new();
    for line in log.lines() {
        *runs.entry(line).or_default() += 1;
    }
    let missing: Vec<String> = (0..jobs)
        .map(|i| format!("job-{i}"))
        .filter(|l| !runs.contains_key(l.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "effects missing for {} jobs, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let duplicates: usize = runs.values().map(|n| n - 1).sum();
    eprintln!(
        "chaos: {jobs} jobs, {kills} workers killed, Redis restarted once; {duplicates} duplicate runs ({:.2} %)",
        duplicates as f64 * 100.0 / jobs as f64
    );
    assert!(
        kills >= 3,
        "the run was long enough for several kills ({kills})"
    );
    assert!(restarted);
    for worker in &mut workers {
        worker.terminate();
        let _ = worker.wait(Duration::from_secs(30));
    }
}
