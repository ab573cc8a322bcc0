//! The worker's own endpoints: `/healthz` (alive), `/healthz/ready` (Redis answers) and
//! `/metrics` (Prometheus), on `--metrics-bind`.

use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::net::free_port;

use super::{eventually, http_get as get, spawn_worker};
use crate::reliability::enqueue_python;

#[test]
fn health_and_metrics_endpoints() {
    let mut redis = RedisServer::start_with(capq_test_support::redis_server::RedisOptions {
        aof: true,
        ..Default::default()
    });
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut worker = spawn_worker(
        &redis,
        None,
        &["--name", "probed", "--lease", "3", "--metrics-bind", &bind],
    );
    eventually("the endpoints", Duration::from_secs(60), || {
        get(port, "/healthz").is_some_and(|(s, _)| s == 200)
    });
    // Ready once Redis has answered a heartbeat, which may lag the listener under load.
    eventually("readiness", Duration::from_secs(60), || {
        get(port, "/healthz/ready").map(|r| r.0) == Some(200)
    });
    assert_eq!(get(port, "/nope").map(|r| r.0), Some(404));

    enqueue_python(
        &redis,
        "default",
        "[('capq.noop', ()), ('capq.fail', ('x',))]",
        6,
    );
    eventually("the jobs to be counted", Duration::from_secs(60), || {
        get(port, "/metrics").is_some_and(|(_, body)| {
            body.contains("capq_worker_jobs_finished_total{worker=\"probed\"} 3")
        })
    });
    let (_, metrics) = get(port, "/metrics").unwrap();
    assert!(
        metrics.contains("capq_worker_jobs_failed_total{worker=\"probed\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE capq_worker_job_duration_seconds histogram"),
        "{metrics}"
    );
    assert!(
        metrics.contains("capq_worker_job_duration_seconds_count{worker=\"probed\"} 6"),
        "{metrics}"
    );

    // Redis down: not ready, but alive (no restart loop during an outage); back up: ready again.
    redis.shutdown();
    eventually("readiness to drop", Duration::from_secs(60), || {
        get(port, "/healthz/ready").is_some_and(|(s, _)| s == 503)
    });
    assert_eq!(get(port, "/healthz").map(|r| r.0), Some(200));
    eventually(
        "the worker to log the refused connections",
        Duration::from_secs(60),
        || worker.log().to_lowercase().contains("connection refused"),
    );
    redis.restart();
    eventually("readiness to return", Duration::from_secs(60), || {
        get(port, "/healthz/ready").is_some_and(|(s, _)| s == 200)
    });
    // Each failure names its cause once, not once per layer of error that wraps it.
    crate::reliability::s3_outage::assert_cause_once(&worker.log(), "connection refused");
    worker.stop_ok();
}

#[test]
fn a_worker_started_before_redis_waits_for_it() {
    let mut redis = RedisServer::start_with(capq_test_support::redis_server::RedisOptions {
        aof: true,
        ..Default::default()
    });
    redis.kill();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut worker = spawn_worker(
        &redis,
        None,
        &["--name", "early", "--lease", "3", "--metrics-bind", &bind],
    );
    // It waits, saying for what; alive (no restart loop) but not ready.
    eventually(
        "the worker to say it waits",
        Duration::from_secs(60),
        || worker.log().contains("waiting for Redis"),
    );
    eventually("liveness", Duration::from_secs(60), || {
        get(port, "/healthz").is_some_and(|(s, _)| s == 200)
    });
    let (status, body) = get(port, "/healthz/ready").unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Redis"), "{body}");
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker exited:\n{}",
        worker.log()
    );
    let log = worker.log();
    assert!(
        log.contains(&format!("redis://127.0.0.1:{}", redis.port())),
        "the log names the server:\n{log}"
    );
    crate::reliability::s3_outage::assert_cause_once(&log, "connection refused");

    // Redis comes up: the worker registers, becomes ready and works.
    redis.restart();
    eventually("readiness", Duration::from_secs(60), || {
        get(port, "/healthz/ready").is_some_and(|(s, _)| s == 200)
    });
    let ids = enqueue_python(&redis, "default", "[('capq.noop', ())]", 3);
    eventually("the jobs to finish", Duration::from_secs(60), || {
        crate::reliability::statuses(&redis, &ids) == vec![("finished".to_owned(), 3)]
    });
    worker.stop_ok();
}

#[test]
fn sigterm_while_waiting_for_redis_exits_cleanly() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let mut worker = super::spawn_worker_at(&url, &[], &["--name", "never"]);
    eventually(
        "the worker to say it waits",
        Duration::from_secs(60),
        || worker.log().contains("waiting for Redis"),
    );
    worker.terminate();
    let status = worker.wait(Duration::from_secs(30));
    assert!(status.success(), "{status}:\n{}", worker.log());
}
