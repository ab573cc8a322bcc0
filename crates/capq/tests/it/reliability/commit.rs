//! A job's output and its recorded ending agree: a failed job leaves no output, and a job whose
//! output was stored is not recorded as failed. Storing is a task's commit step, which a timeout
//! cannot cut in two: a timeout that comes while the upload is in flight waits for it, and the
//! job counts as finished (it committed before its deadline); a timeout that comes first makes
//! the commit refuse, so nothing is stored.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Command;
use std::time::{Duration, SystemTime};

use capq_test_support::proxy::{Mode, Proxy};
use capq_test_support::python::run_python_ok;
use capq_test_support::{RedisServer, S3Server};

use super::s3_outage::env_through;
use crate::queue::{eventually, spawn_worker_at};
use crate::testdata;

const DAY: &str = "2016-11-24";

fn field(redis: &RedisServer, id: &str, field: &str) -> Option<String> {
    redis
        .command(&["HGET", &format!("rq:job:{id}"), field])
        .text()
}

/// Enqueues `tasks.process_day_to_s3(DAY, bucket, key)` with a timeout, through Python's rq.
fn enqueue(redis: &RedisServer, bucket: &str, key: &str, timeout: u64) -> String {
    let script = format!(
        "from redis import Redis\nfrom rq import Queue\nq = Queue(connection=Redis.from_url({:?}))\nprint(q.enqueue('tasks.process_day_to_s3', args=({DAY:?}, {bucket:?}, {key:?}), job_timeout={timeout}).id)\n",
        redis.url()
    );
    run_python_ok(&script, &[]).trim().to_owned()
}

#[test]
fn a_timeout_during_the_upload_waits_for_it_and_the_job_finishes() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    s3.create_bucket("capq-out");
    let proxy = Proxy::start(s3.port());
    let mut worker = spawn_worker_at(
        &redis.url(),
        &env_through(&s3, &proxy),
        &["--name", "committer", "--concurrency", "1"],
    );
    // The upload is held by the proxy until well past the job's deadline.
    proxy.set(Mode::Hold);
    let timeout = 10;
    let id = enqueue(&redis, "capq-out", "held/day.csv", timeout);
    eventually(
        "the upload to start (the proxy holds it)",
        Duration::from_secs(60),
        || proxy.held_bytes() > 0 || field(&redis, &id, "status").as_deref() == Some("failed"),
    );
    assert!(
        proxy.held_bytes() > 0,
        "the test needs the day to reach its upload within its {timeout} s timeout:\n{}",
        worker.log()
    );
    let started = field(&redis, &id, "started_at").expect("started_at");
    let started = capq_core::time::parse_rq_timestamp(&started).expect("an RQ timestamp");
    let past_deadline = started + Duration::from_secs(timeout + 2);
    eventually(
        "the job's deadline to pass",
        Duration::from_secs(60),
        || SystemTime::now() > past_deadline,
    );
    let while_held = field(&redis, &id, "status");
    proxy.set(Mode::Up);
    eventually("the upload to land", Duration::from_secs(60), || {
        s3.get_object("capq-out", "held/day.csv").is_some()
    });
    eventually("the job to end", Duration::from_secs(60), || {
        matches!(
            field(&redis, &id, "status").as_deref(),
            Some("finished" | "failed")
        )
    });
    assert_eq!(
        field(&redis, &id, "status").as_deref(),
        Some("finished"),
        "its output was stored, so the job must not be failed (while the upload was held it \
         was {while_held:?}):\n{}",
        worker.log()
    );
    assert_eq!(while_held.as_deref(), Some("started"));
    assert_eq!(
        redis.command(&["XLEN", &format!("rq:results:{id}")]).int(),
        Some(1),
        "one ending"
    );
    worker.stop_ok();
}

#[test]
fn a_timeout_before_the_upload_stores_nothing() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    s3.create_bucket("capq-out");
    // The worker reads the day's positions from a FIFO, so the day cannot end before the test
    // writes them: its timeout comes first, mid-computation.
    let data = tempfile::tempdir().unwrap();
    let real = testdata().join("data");
    for folder in ["stops", "schedule"] {
        std::os::unix::fs::symlink(real.join(folder), data.path().join(folder)).unwrap();
    }
    std::fs::create_dir(data.path().join("vehicle_positions")).unwrap();
    let fifo = data.path().join(format!("vehicle_positions/{DAY}.csv"));
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut args = vec![
        "worker".to_owned(),
        "--url".to_owned(),
        redis.url(),
        "--data".to_owned(),
        data.path().display().to_string(),
    ];
    args.extend(["--name", "late", "--concurrency", "1"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut worker = crate::queue::spawn_capq(&args, &s3.env());
    let id = enqueue(&redis, "capq-out", "late/day.csv", 2);
    let mut writer = None;
    eventually(
        "the worker to open the day's positions",
        Duration::from_secs(60),
        || {
            writer = OpenOptions::new()
                .write(true)
                .custom_flags(0o4000) // O_NONBLOCK: fails with ENXIO until a reader opens it
                .open(&fifo)
                .ok();
            writer.is_some()
        },
    );
    eventually("the job to time out", Duration::from_secs(60), || {
        field(&redis, &id, "status").as_deref() == Some("failed")
    });
    // Now the cancelled run gets its input and goes on to its commit step, which refuses.
    let positions = capmetrics::Input::read(&real.join(format!("vehicle_positions/{DAY}.csv.gz")))
        .expect("read the day");
    let mut blocking = OpenOptions::new().write(true).open(&fifo).unwrap();
    drop(writer);
    // The reader may stop early once it sees the cancellation; that is fine.
    let _ = blocking.write_all(positions.bytes());
    drop(blocking);
    eventually("the cancelled run to end", Duration::from_secs(60), || {
        worker.log().contains("cancelled run ended")
    });
    assert_eq!(
        s3.get_object("capq-out", "late/day.csv"),
        None,
        "{}",
        worker.log()
    );
    assert_eq!(
        redis.command(&["XLEN", &format!("rq:results:{id}")]).int(),
        Some(1),
        "one ending"
    );
    worker.stop_ok();
}
