//! What the CLI says when something fails or is counted: each cause once, singular counts in
//! the singular.

use capq_test_support::RedisServer;

use crate::queue::{pinned_default, run_capq};
use crate::{capq, stderr, testdata};

#[test]
fn an_io_error_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the output's folder should be.
    std::fs::write(dir.path().join("plain"), b"x").unwrap();
    let output = dir.path().join("plain/day.csv");
    let result = capq(&[
        "process",
        "--data",
        testdata().join("fixture/data").to_str().unwrap(),
        "--day",
        "2016-11-25",
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(2));
    let message = stderr(&result);
    assert!(message.contains("plain/day.csv"), "{message}");
    assert_eq!(message.matches("ot a directory").count(), 1, "{message}");
}

#[test]
fn an_unreachable_redis_names_its_cause_once() {
    let result = run_capq(&["info", "--url", "redis://127.0.0.1:1"], &[]);
    assert_eq!(result.status.code(), Some(2));
    let message = String::from_utf8_lossy(&result.stderr);
    assert!(
        message.contains("cannot connect to Redis at redis://127.0.0.1:1"),
        "{message}"
    );
    assert_eq!(message.matches("onnection refused").count(), 1, "{message}");
}

#[test]
fn one_job_is_one_job() {
    let redis = RedisServer::start();
    let out = tempfile::tempdir().unwrap();
    let url = redis.url();
    let prefix = format!("{}/", out.path().display());
    let enqueue = |days: &str| {
        let result = run_capq(
            &[
                "enqueue", "--url", &url, "--days", days, "--output", &prefix,
            ],
            &[],
        );
        assert!(result.status.success());
        String::from_utf8_lossy(&result.stderr).into_owned()
    };
    let queue = pinned_default();
    let one = enqueue("2016-11-24");
    assert!(
        one.contains(&format!("enqueued 1 job on queue {queue} ")),
        "{one}"
    );
    let two = enqueue("2016-11-24..2016-11-25");
    assert!(
        two.contains(&format!("enqueued 2 jobs on queue {queue} ")),
        "{two}"
    );
    let emptied = run_capq(&["empty", &queue, "--url", &url], &[]);
    assert!(
        String::from_utf8_lossy(&emptied.stderr)
            .contains(&format!("removed 3 queued jobs from {queue}"))
    );
    let info = run_capq(&["info", "--url", &url], &[]);
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("\n1 queue, 0 workers"), "{info}");
}
