//! The queue commands: `capq info`, `capq failed`, `capq suspend`/`resume`, `capq empty`, and
//! clear errors when Redis cannot be reached.

use std::time::Duration;

use capq_test_support::RedisServer;

use super::{run_capq, spawn_worker};

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn enqueue_info_failed_requeue_delete_suspend_resume_empty() {
    let redis = RedisServer::start();
    let url = redis.url();
    let out = tempfile::tempdir().unwrap();
    let prefix = format!("{}/", out.path().display());
    // Two real days and one without metadata.
    let enqueued = ok(&run_capq(
        &[
            "enqueue",
            "--url",
            &url,
            "--days",
            "2016-11-24,2017-03-16,2016-12-18",
            "--output",
            &prefix,
            "--json",
        ],
        &[],
    ));
    let enqueued: serde_json::Value = serde_json::from_str(&enqueued).unwrap();
    let batch = enqueued["batch"].as_str().unwrap().to_owned();
    assert_eq!(enqueued["jobs"].as_array().unwrap().len(), 3);
    assert_eq!(
        redis
            .command(&["SCARD", &format!("rq:group:{batch}")])
            .int(),
        Some(3),
        "the jobs form one batch"
    );

    let info: serde_json::Value =
        serde_json::from_str(&ok(&run_capq(&["info", "--url", &url, "--json"], &[]))).unwrap();
    // The batch is on `default` pinned to this build's processor.
    let queue = enqueued["queue"].as_str().unwrap().to_owned();
    assert_eq!(queue, super::pinned_default());
    assert_eq!(info["queues"][0]["name"], queue.as_str());
    assert_eq!(info["queues"][0]["queued"], 3);

    // Suspended: a burst worker takes nothing and exits.
    ok(&run_capq(&["suspend", "--url", &url], &[]));
    let mut worker = spawn_worker(&redis, None, &["--burst", "--allow-output", &prefix]);
    assert!(
        worker.wait(Duration::from_secs(30)).success(),
        "{}",
        worker.log()
    );
    assert_eq!(
        redis.command(&["LLEN", &format!("rq:queue:{queue}")]).int(),
        Some(3)
    );
    ok(&run_capq(&["resume", "--url", &url], &[]));

    let mut worker = spawn_worker(&redis, None, &["--burst", "--allow-output", &prefix]);
    assert!(
        worker.wait(Duration::from_secs(60)).success(),
        "{}",
        worker.log()
    );
    let info: serde_json::Value =
        serde_json::from_str(&ok(&run_capq(&["info", "--url", &url, "--json"], &[]))).unwrap();
    assert_eq!(
        (
            info["queues"][0]["finished"].as_u64(),
            info["queues"][0]["failed"].as_u64()
        ),
        (Some(2), Some(1)),
        "{info}"
    );
    assert_eq!(
        info["workers"].as_array().map(Vec::len),
        Some(0),
        "burst workers deregister"
    );

    // The failed day, with its reason; requeue brings it back to the queue.
    let listed = ok(&run_capq(&["failed", "list", "--url", &url], &[]));
    assert!(
        listed.contains("2017-03-16") && listed.contains("no stops file"),
        "{listed}"
    );
    let failed_id = enqueued["jobs"][1]["id"].as_str().unwrap().to_owned();
    let shown = ok(&run_capq(
        &["failed", "show", &failed_id, "--url", &url],
        &[],
    ));
    assert!(
        shown.contains("status:      failed") && shown.contains("capq.process_day('2017-03-16'"),
        "{shown}"
    );
    assert_eq!(
        ok(&run_capq(
            &["failed", "requeue", &failed_id, "--url", &url],
            &[]
        ))
        .trim(),
        failed_id
    );
    assert_eq!(
        redis
            .command(&["LRANGE", &format!("rq:queue:{queue}"), "0", "-1"])
            .strings(),
        std::slice::from_ref(&failed_id)
    );
    assert_eq!(
        redis
            .command(&["ZCARD", &format!("rq:failed:{queue}")])
            .int(),
        Some(0)
    );
    // Requeueing a job that is not failed is refused with exit 1.
    assert_eq!(
        run_capq(&["failed", "requeue", &failed_id, "--url", &url], &[])
            .status
            .code(),
        Some(1)
    );

    // Empty removes queued jobs and their hashes.
    assert_eq!(
        ok(&run_capq(&["empty", &queue, "--url", &url], &[])).trim(),
        "1"
    );
    assert_eq!(
        redis
            .command(&["EXISTS", &format!("rq:job:{failed_id}")])
            .int(),
        Some(0)
    );

    // Delete: gone from registries and storage.
    let finished_id = enqueued["jobs"][0]["id"].as_str().unwrap().to_owned();
    ok(&run_capq(
        &["failed", "delete", &finished_id, "--url", &url],
        &[],
    ));
    assert_eq!(
        redis
            .command(&["EXISTS", &format!("rq:job:{finished_id}")])
            .int(),
        Some(0)
    );
    assert_eq!(
        redis.command(&["ZSCORE", &format!("rq:finished:{queue}"), &finished_id]),
        capq_test_support::redis_server::Reply::Nil
    );
    assert_eq!(
        run_capq(&["failed", "show", "no-such-job", "--url", &url], &[])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn unreachable_redis_is_a_clear_error() {
    let port = capq_test_support::net::free_port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    for args in [
        vec!["info", "--url", url.as_str()],
        vec!["worker", "--burst", "--url", url.as_str()],
        vec![
            "enqueue",
            "--url",
            url.as_str(),
            "--days",
            "2016-11-24",
            "--output",
            "/tmp/x/",
        ],
    ] {
        let output = run_capq(&args, &[]);
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert!(
            message.contains(&format!(
                "cannot connect to Redis at redis://:***@127.0.0.1:{port}"
            )),
            "{message}"
        );
        assert!(
            !message.contains("hunter2"),
            "passwords never appear in messages: {message}"
        );
    }
    let output = run_capq(&["info", "--url", "http://localhost"], &[]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
