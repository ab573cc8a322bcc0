//! What a job may make a worker do: the test-only tasks (`capq.append_line` writes to any file)
//! run only with `--test-tasks`, and outputs must fall under the worker's `--allow-output`
//! prefixes (by default every `s3://` location and no local path).

use std::path::Path;
use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::python::run_python_ok;

use crate::queue::{python_prelude, run_capq, spawn_capq, spawn_worker};
use crate::testdata;

/// Enqueues calls by function name through Python's `rq`; `calls` is a Python list of
/// `(name, args)` tuples. Returns the job ids in order.
fn enqueue(redis: &RedisServer, calls: &str) -> Vec<String> {
    let modules = tempfile::tempdir().unwrap();
    let script = format!(
        "{}ids = [q.enqueue(name, *args).id for name, args in {calls}]\nprint(json.dumps(ids))\n",
        python_prelude(redis, modules.path())
    );
    serde_json::from_str(run_python_ok(&script, &[]).trim()).unwrap()
}

fn status(redis: &RedisServer, id: &str) -> String {
    redis
        .command(&["HGET", &format!("rq:job:{id}"), "status"])
        .text()
        .unwrap_or_default()
}

/// The failure `capq failed show` prints for a job.
fn error_of(redis: &RedisServer, id: &str) -> String {
    let shown = run_capq(&["failed", "show", id, "--url", &redis.url()], &[]);
    String::from_utf8_lossy(&shown.stdout).into_owned()
}

/// Runs a burst worker with `extra` arguments until the queue is empty.
fn drain(redis: &RedisServer, extra: &[&str]) {
    let mut args = vec!["--burst"];
    args.extend_from_slice(extra);
    let mut worker = spawn_worker(redis, None, &args);
    let status = worker.wait(Duration::from_secs(60));
    assert!(status.success(), "{}", worker.log());
}

#[test]
fn test_only_tasks_run_only_with_the_switch() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    let calls = format!(
        "[('capq.append_line', ({:?}, 'appended')), ('capq.flaky', (0,))]",
        victim.display().to_string()
    );
    let ids = enqueue(&redis, &calls);
    drain(&redis, &[]);
    for id in &ids {
        assert_eq!(status(&redis, id), "failed");
    }
    let error = error_of(&redis, &ids[0]);
    assert!(
        error.contains("no task named `capq.append_line`"),
        "{error}"
    );
    assert!(
        !error.contains("capq.flaky,"),
        "not listed as available: {error}"
    );
    assert!(!victim.exists(), "the file was not touched");

    // With the switch, the same jobs run.
    let requeued = run_capq(&["failed", "requeue", "--all", "--url", &redis.url()], &[]);
    assert!(requeued.status.success());
    drain(&redis, &["--test-tasks"]);
    for id in &ids {
        assert_eq!(status(&redis, id), "finished");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "appended\n");

    // The switch is for test suites: not in the worker's help.
    let help = run_capq(&["worker", "--help"], &[]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--allow-output"), "{help}");
    assert!(!help.contains("test-tasks"), "{help}");
}

#[test]
fn outputs_must_fall_under_the_allowed_prefixes() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let allowed = root.join("data");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::create_dir_all(root.join("data-evil")).unwrap();
    std::os::unix::fs::symlink(root.join("data-evil"), allowed.join("link")).unwrap();
    let path = |p: &Path| p.display().to_string();
    let outputs = [
        path(&allowed.join("ok/2016-11-24.csv")),
        path(&root.join("data-evil/x.csv")),
        format!("{}/../data-evil/y.csv", allowed.display()),
        path(&allowed.join("link/z.csv")),
        "s3://bucket/x.csv".to_owned(),
    ];
    let calls = format!(
        "[('capq.process_day', ('2016-11-24', out)) for out in {:?}]",
        outputs
    );
    let ids = enqueue(&redis, &calls);
    drain(&redis, &["--allow-output", &path(&allowed)]);
    assert_eq!(status(&redis, &ids[0]), "finished");
    assert!(allowed.join("ok/2016-11-24.csv").exists());
    for (id, output) in ids.iter().zip(&outputs).skip(1) {
        assert_eq!(status(&redis, id), "failed", "{output}");
        let error = error_of(&redis, id);
        assert!(
            error.contains("is not allowed") && error.contains(&path(&allowed)),
            "{output}: {error}"
        );
    }
    assert!(error_of(&redis, &ids[2]).contains("'..'"));
    assert_eq!(
        std::fs::read_dir(root.join("data-evil")).unwrap().count(),
        0,
        "nothing written outside the allowed folder"
    );

    // By default only S3 is allowed: a local output fails, naming the default.
    let ids = enqueue(
        &redis,
        &format!(
            "[('capq.process_day', ('2016-11-24', {:?}))]",
            path(&allowed.join("default.csv"))
        ),
    );
    drain(&redis, &[]);
    assert_eq!(status(&redis, &ids[0]), "failed");
    let error = error_of(&redis, &ids[0]);
    assert!(error.contains("writes only under s3://"), "{error}");
    assert!(!allowed.join("default.csv").exists());

    // CAPQ_ALLOW_OUTPUT takes a comma-separated list.
    let ids = enqueue(
        &redis,
        &format!(
            "[('capq.process_day', ('2016-11-24', {:?}))]",
            path(&allowed.join("env.csv"))
        ),
    );
    let data = testdata().join("data");
    let mut worker = spawn_capq(
        &[
            "worker",
            "--burst",
            "--url",
            &redis.url(),
            "--data",
            data.to_str().unwrap(),
        ],
        &[(
            "CAPQ_ALLOW_OUTPUT".to_owned(),
            format!("s3://,{}", allowed.display()),
        )],
    );
    assert!(
        worker.wait(Duration::from_secs(60)).success(),
        "{}",
        worker.log()
    );
    assert_eq!(status(&redis, &ids[0]), "finished", "{}", worker.log());
    assert!(
        worker
            .log()
            .contains(&format!("outputs under s3://, {}", allowed.display())),
        "{}",
        worker.log()
    );

    // A prefix that cannot be one is a usage error.
    let bad = run_capq(
        &[
            "worker",
            "--burst",
            "--url",
            &redis.url(),
            "--allow-output",
            "/a/../b",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--allow-output"));
}
