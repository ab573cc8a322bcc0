//! S3 outages: the storage server refuses connections for 6 s in the middle of a batch of
//! `tasks.process_day_to_s3` jobs. Storage errors of that kind are transient, so the worker
//! tries each job's task again, with backoff, within the job's timeout, and every job ends
//! finished with its output stored.

use std::time::{Duration, Instant};

use capq_test_support::S3Server;
use capq_test_support::proxy::{Mode, Proxy};
use capq_test_support::redis_server::RedisServer;

use super::{enqueue_python, statuses};
use crate::queue::{eventually, spawn_worker_at};

/// The environment that points a worker at `proxy` in front of `s3`.
pub fn env_through(s3: &S3Server, proxy: &Proxy) -> Vec<(String, String)> {
    s3.env()
        .into_iter()
        .map(|(name, value)| match name.as_str() {
            "AWS_ENDPOINT_URL" => (name, format!("http://127.0.0.1:{}", proxy.port())),
            _ => (name, value),
        })
        .collect()
}

fn count(redis: &RedisServer, key: &str) -> i64 {
    redis.command(&["ZCARD", key]).int().unwrap_or(0)
}

#[test]
fn jobs_ride_out_an_s3_outage() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    s3.create_bucket("capq-out");
    let proxy = Proxy::start(s3.port());
    let jobs = 40;
    let calls = format!(
        "[('tasks.process_day_to_s3', ('2016-11-24', 'capq-out', f'outage/{{i}}.csv')) for i in range({jobs})]"
    );
    let ids = enqueue_python(&redis, "default", &calls, jobs);
    let mut worker = spawn_worker_at(
        &redis.url(),
        &env_through(&s3, &proxy),
        &["--name", "outage", "--concurrency", "2"],
    );
    eventually("a few jobs to finish", Duration::from_secs(120), || {
        count(&redis, "rq:finished:default") >= 4
    });
    proxy.set(Mode::Down);
    let down = Instant::now();
    // Down for 6 s, and at least until the worker met the outage.
    eventually(
        "the worker to meet the outage",
        Duration::from_secs(120),
        || worker.log().contains("trying again") || count(&redis, "rq:failed:default") > 0,
    );
    if let Some(left) = Duration::from_secs(6).checked_sub(down.elapsed()) {
        std::thread::sleep(left);
    }
    proxy.set(Mode::Up);
    eventually("every job to end", Duration::from_secs(300), || {
        count(&redis, "rq:finished:default") + count(&redis, "rq:failed:default") == jobs as i64
    });
    assert_eq!(
        statuses(&redis, &ids),
        vec![("finished".to_owned(), jobs)],
        "{}",
        worker.log()
    );
    // Each output with its aggregate partial beside it.
    let keys = s3.list_keys("capq-out", "outage/");
    let csvs = keys.iter().filter(|k| k.ends_with(".csv")).count();
    assert_eq!((csvs, keys.len()), (jobs, 2 * jobs), "{keys:?}");
    assert!(
        worker.log().contains("trying again"),
        "the outage was met:\n{}",
        worker.log()
    );
    assert_cause_once(&worker.log(), "connection refused");
    worker.stop_ok();
}

/// Every log line that names `cause` names it once (an error's cause is not repeated by the
/// errors that wrap it), and at least one does.
pub fn assert_cause_once(log: &str, cause: &str) {
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| line.to_lowercase().contains(cause))
        .collect();
    assert!(!lines.is_empty(), "no line names {cause:?}:\n{log}");
    for line in lines {
        assert_eq!(
            line.to_lowercase().matches(cause).count(),
            1,
            "the cause is repeated: {line}"
        );
    }
}
