//! Retries and scheduling: RQ's `retries_left` and `retry_intervals` are honoured with the
//! backoff observed, and capq workers move scheduled jobs (delayed retries, `enqueue_at`,
//! `enqueue_in`) onto their queues on time, with no Python scheduler.

use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::python::run_python_ok;

use crate::queue::{eventually, spawn_worker};

#[test]
fn a_job_failing_twice_finishes_on_its_third_attempt_after_the_backoff() {
    let redis = RedisServer::start();
    let script = format!(
        "from redis import Redis\nfrom rq import Queue, Retry\nq = Queue(connection=Redis.from_url({:?}))\nprint(q.enqueue('capq.flaky', 2, retry=Retry(max=2, interval=[1, 2])).id)\n",
        redis.url()
    );
    let id = run_python_ok(&script, &[]).trim().to_owned();
    let mut worker = spawn_worker(&redis, None, &["--name", "retrier", "--test-tasks"]);
    eventually("the flaky job to finish", Duration::from_secs(60), || {
        redis
            .command(&["HGET", &format!("rq:job:{id}"), "status"])
            .text()
            .as_deref()
            == Some("finished")
    });
    // Python reads the history: two retried attempts, then the success, with the backoff
    // between them (stream entry ids are milliseconds).
    let check = format!(
        "from redis import Redis\nfrom rq.job import Job\nfrom rq.results import Result\njob = Job.fetch({id:?}, connection=Redis.from_url({url:?}))\nresults = sorted(job.results(), key=lambda r: r.created_at)\nprint([r.type.value for r in results])\nprint([round((b.created_at - a.created_at).total_seconds(), 2) for a, b in zip(results, results[1:])])\nprint(job.return_value())\n",
        url = redis.url()
    );
    let out = run_python_ok(&check, &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "[4, 4, 1]", "{out}");
    let gaps: Vec<f64> = serde_json::from_str(lines[1]).unwrap();
    // At least the intervals asked for; a loaded machine may add to them, not take away.
    assert!(
        gaps[0] >= 0.9 && gaps[0] < 30.0,
        "first backoff 1 s: {gaps:?}"
    );
    assert!(
        gaps[1] >= 1.9 && gaps[1] < 30.0,
        "second backoff 2 s: {gaps:?}"
    );
    assert_eq!(lines[2], "3", "succeeded on its third attempt");
    assert_eq!(
        redis
            .command(&["HGET", &format!("rq:job:{id}"), "capq_attempts"])
            .int(),
        Some(3)
    );
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(30)).success());
}

#[test]
fn scheduled_jobs_run_on_time() {
    let redis = RedisServer::start();
    let mut worker = spawn_worker(&redis, None, &["--name", "scheduler"]);
    eventually("the worker to register", Duration::from_secs(60), || {
        redis.command(&["EXISTS", "rq:worker:scheduler"]).int() == Some(1)
    });
    let script = format!(
        "import json, time\nfrom datetime import datetime, timedelta, timezone\nfrom redis import Redis\nfrom rq import Queue\nq = Queue(connection=Redis.from_url({:?}))\nat = datetime.now(timezone.utc) + timedelta(seconds=3)\nprint(json.dumps({{'at': at.timestamp(), 'at_id': q.enqueue_at(at, 'capq.noop').id, 'in_at': time.time() + 2, 'in_id': q.enqueue_in(timedelta(seconds=2), 'capq.noop').id}}))\n",
        redis.url()
    );
    let plan: serde_json::Value = serde_json::from_str(run_python_ok(&script, &[]).trim()).unwrap();
    for (id_key, time_key) in [("at_id", "at"), ("in_id", "in_at")] {
        let id = plan[id_key].as_str().unwrap();
        eventually(
            "the scheduled job to finish",
            Duration::from_secs(60),
            || {
                redis
                    .command(&["HGET", &format!("rq:job:{id}"), "status"])
                    .text()
                    .as_deref()
                    == Some("finished")
            },
        );
        let started = redis
            .command(&["HGET", &format!("rq:job:{id}"), "started_at"])
            .text()
            .unwrap();
        let started = capq_core::time::parse_rq_timestamp(&started).unwrap();
        let started = capq_core::time::epoch_seconds(started);
        let due = plan[time_key].as_f64().unwrap();
        // Never early (RQ scores whole seconds, so up to 1 s before the exact time), and on
        // time give or take what a loaded machine adds.
        assert!(
            (-1.0..=30.0).contains(&(started - due)),
            "{id_key}: started {:.3} s from its time",
            started - due
        );
    }
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(30)).success());
}

#[test]
fn capq_enqueue_retries_with_exponential_backoff() {
    let redis = RedisServer::start();
    let url = redis.url();
    let out = tempfile::tempdir().unwrap();
    let prefix = format!("{}/", out.path().display());
    // 2017-03-16 has no metadata, so every attempt fails.
    let enqueued = crate::queue::run_capq(
        &[
            "enqueue",
            "--url",
            &url,
            "--days",
            "2017-03-16",
            "--output",
            &prefix,
            "--retries",
            "2",
            "--retry-interval",
            "1",
        ],
        &[],
    );
    assert!(
        enqueued.status.success(),
        "{}",
        String::from_utf8_lossy(&enqueued.stderr)
    );
    let id = String::from_utf8_lossy(&enqueued.stdout).trim().to_owned();
    let intervals: Vec<u64> = serde_json::from_str(
        &redis
            .command(&["HGET", &format!("rq:job:{id}"), "retry_intervals"])
            .text()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(intervals.len(), 2);
    assert!(
        intervals[0] == 1 && (2..=3).contains(&intervals[1]),
        "1 s then about 2 s, with jitter: {intervals:?}"
    );
    let mut worker = spawn_worker(
        &redis,
        None,
        &["--name", "backoff", "--allow-output", &prefix],
    );
    eventually("the job to fail for good", Duration::from_secs(60), || {
        redis
            .command(&["HGET", &format!("rq:job:{id}"), "status"])
            .text()
            .as_deref()
            == Some("failed")
    });
    let check = format!(
        "from redis import Redis\nfrom rq.job import Job\njob = Job.fetch({id:?}, connection=Redis.from_url({url:?}))\nresults = sorted(job.results(), key=lambda r: r.created_at)\nprint([r.type.value for r in results])\nprint('no stops file' in results[-1].exc_string)\n",
    );
    assert_eq!(run_python_ok(&check, &[]).trim(), "[4, 4, 2]\nTrue");
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(30)).success());
}
