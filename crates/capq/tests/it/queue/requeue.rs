//! `capq failed requeue --all` while live workers fail the requeued jobs again at once: every job
//! that was failed when the command started is requeued exactly once (it used to page through
//! the failed registry and meet the jobs that workers had failed again: 3,411 requeues of 3,000
//! jobs).

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::net::wait_until;

use super::{eventually, spawn_worker};
use crate::reliability::enqueue_python;

const JOBS: usize = 3_000;

/// Sums, over the failed registry, each job's entries in its result stream: one per ended attempt.
const COUNT_ATTEMPTS: &str = "local n, odd = 0, 0 \
    for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do \
      local entries = redis.call('XLEN', 'rq:results:' .. id) \
      n = n + entries \
      if entries ~= tonumber(ARGV[1]) then odd = odd + 1 end \
    end \
    return {n, odd}";

/// Runs `capq <args>` to completion, or panics if it takes longer than `timeout` (the old
/// requeue could chase workers for a long time).
fn run_within(args: &[&str], timeout: Duration) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_capq"))
        .args(args)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = None;
    let done = wait_until(timeout, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if !done {
        let _ = child.kill();
        let _ = child.wait();
    }
    let output = Output {
        status: status.unwrap_or_else(|| child.wait().unwrap()),
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    assert!(
        done,
        "capq {args:?} still running after {timeout:?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// (entries in the result streams of the failed jobs, jobs with other than `per_job` entries).
fn attempts(redis: &RedisServer, per_job: usize) -> (i64, i64) {
    let reply = redis.command(&[
        "EVAL",
        COUNT_ATTEMPTS,
        "1",
        "rq:failed:default",
        &per_job.to_string(),
    ]);
    let counts: Vec<i64> = match reply {
        capq_test_support::redis_server::Reply::Array(items) => {
            items.iter().map(|item| item.int().unwrap()).collect()
        }
        other => panic!("unexpected reply {other:?}"),
    };
    (counts[0], counts[1])
}

fn count(redis: &RedisServer, args: &[&str]) -> i64 {
    redis.command(args).int().unwrap()
}

#[test]
fn requeue_all_requeues_each_failed_job_once_while_workers_fail_them_again() {
    let redis = RedisServer::start();
    let url = redis.url();
    let ids = enqueue_python(&redis, "default", "[('capq.fail', ('boom',))]", JOBS);
    // Two live workers with several slots each, so requeued jobs fail again while the command
    // is still requeueing the rest.
    let workers: Vec<_> = (0..2)
        .map(|_| spawn_worker(&redis, None, &["--concurrency", "4"]))
        .collect();
    eventually("every job failed once", Duration::from_secs(180), || {
        count(&redis, &["ZCARD", "rq:failed:default"]) == JOBS as i64
    });
    assert_eq!(attempts(&redis, 1), (JOBS as i64, 0));

    let output = run_within(
        &["failed", "requeue", "--all", "--url", &url],
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let printed: Vec<&str> = stdout.lines().collect();
    let unique: BTreeSet<&str> = printed.iter().copied().collect();
    assert_eq!(printed.len(), unique.len(), "an id printed twice");
    let expected: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(unique, expected, "every failed job requeued");
    assert!(stderr.contains("requeued 3,000 jobs"), "{stderr}");

    // Once the workers have failed them all again, each job has ended exactly twice.
    eventually(
        "every requeued job failed again",
        Duration::from_secs(180),
        || {
            count(&redis, &["ZCARD", "rq:failed:default"]) == JOBS as i64
                && count(&redis, &["LLEN", "rq:queue:default"]) == 0
                && count(&redis, &["ZCARD", "rq:wip:default"]) == 0
        },
    );
    let (entries, odd) = attempts(&redis, 2);
    assert_eq!(
        (entries, odd),
        (2 * JOBS as i64, 0),
        "{} requeues of {JOBS} jobs",
        entries - JOBS as i64
    );
    drop(workers);
}

#[test]
fn requeue_says_what_it_requeued_in_words() {
    let redis = RedisServer::start();
    let url = redis.url();
    let ids = enqueue_python(&redis, "default", "[('capq.fail', ('boom',))]", 1);
    let mut worker = spawn_worker(&redis, None, &["--burst"]);
    assert!(
        worker.wait(Duration::from_secs(60)).success(),
        "{}",
        worker.log()
    );
    let output = run_within(
        &["failed", "requeue", "--all", "--url", &url],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), ids[0]);
    assert!(stderr.contains("requeued 1 job\n"), "{stderr}");
    let output = run_within(
        &["failed", "requeue", "--all", "--url", &url],
        Duration::from_secs(60),
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("requeued 0 jobs"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
