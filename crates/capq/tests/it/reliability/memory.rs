//! Memory hygiene: a worker's RSS stays flat over 100,000 jobs, and finished and failed entries
//! expire with their TTLs.

use std::time::Duration;

use capq_test_support::RedisServer;

use super::enqueue_python;
use crate::queue::{eventually, run_capq, spawn_worker};

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn rss_stays_flat_over_100k_jobs() {
    let redis = RedisServer::start();
    let url = redis.url();
    let enqueued = run_capq(
        &[
            "bench", "enqueue", "--url", &url, "--queue", "default", "--jobs", "100000",
        ],
        &[],
    );
    assert!(
        enqueued.status.success(),
        "{}",
        String::from_utf8_lossy(&enqueued.stderr)
    );
    let mut worker = spawn_worker(
        &redis,
        None,
        &["--burst", "--concurrency", "1", "--result-ttl", "60"],
    );
    let pid = worker.child.id();
    let done = |redis: &RedisServer| {
        redis
            .command(&["ZCARD", "rq:finished:default"])
            .int()
            .unwrap_or(0)
    };
    eventually("20,000 jobs", Duration::from_secs(120), || {
        done(&redis) >= 20_000
    });
    let warm = rss_kib(pid).expect("worker running");
    let mut peak = warm;
    while worker.child.try_wait().unwrap().is_none() {
        if let Some(rss) = rss_kib(pid) {
            peak = peak.max(rss);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(done(&redis), 100_000, "{}", worker.log());
    eprintln!("worker RSS: {warm} KiB after 20,000 jobs, peak {peak} KiB over 100,000");
    assert!(
        peak <= warm + 8 * 1024,
        "RSS grew from {warm} KiB to {peak} KiB"
    );
}

#[test]
fn finished_and_failed_entries_expire() {
    let redis = RedisServer::start();
    let ids = enqueue_python(
        &redis,
        "default",
        "[('capq.noop', ()), ('capq.fail', ('x',))]",
        4,
    );
    let mut worker = spawn_worker(
        &redis,
        None,
        &[
            "--result-ttl",
            "2",
            "--failure-ttl",
            "3",
            "--upkeep-every",
            "1",
            "--name",
            "tidy",
        ],
    );
    eventually("the jobs to end", Duration::from_secs(60), || {
        redis.command(&["ZCARD", "rq:finished:default"]).int() == Some(2)
            && redis.command(&["ZCARD", "rq:failed:default"]).int() == Some(2)
    });
    let ttl = redis
        .command(&["TTL", &format!("rq:results:{}", ids[0])])
        .int()
        .unwrap();
    // At most the 2 s asked for (-2: already gone; -1 would mean no expiry).
    assert!(ttl <= 2 && ttl != -1, "result stream ttl {ttl}");
    eventually("everything to expire", Duration::from_secs(60), || {
        redis.command(&["ZCARD", "rq:finished:default"]).int() == Some(0)
            && redis.command(&["ZCARD", "rq:failed:default"]).int() == Some(0)
            && ids.iter().all(|id| {
                redis
                    .command(&[
                        "EXISTS",
                        &format!("rq:job:{id}"),
                        &format!("rq:results:{id}"),
                    ])
                    .int()
                    == Some(0)
            })
    });
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(30)).success());
}
