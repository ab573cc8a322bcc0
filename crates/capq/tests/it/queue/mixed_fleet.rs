//! A Python `rq worker` and a capq worker on the same queue share the work without corrupting
//! each other's state: every job ends exactly once, in the right registry, with counts that add
//! up, and both sides can read every result.

use std::process::{Command, Stdio};
use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::python::{run_python_ok, venv_bin};

use super::{eventually, python_prelude, spawn_worker, write_python_modules};

#[test]
fn python_and_capq_workers_share_a_queue() {
    let redis = RedisServer::start();
    let modules = tempfile::tempdir().unwrap();
    write_python_modules(modules.path());
    // 300 jobs: short sleeps, no-ops and failures.
    let enqueue = format!(
        "{}import capq\nids = {{'ok': [], 'fail': []}}\nfor i in range(300):\n    if i % 10 == 3:\n        ids['fail'].append(q.enqueue(capq.fail, f'boom {{i}}').id)\n    elif i % 2:\n        ids['ok'].append(q.enqueue(capq.sleep, 0.02).id)\n    else:\n        ids['ok'].append(q.enqueue(capq.noop).id)\nprint(json.dumps(ids))\n",
        python_prelude(&redis, modules.path()),
    );
    let ids: serde_json::Value = serde_json::from_str(run_python_ok(&enqueue, &[]).trim()).unwrap();

    let python_worker = Command::new(venv_bin("rq"))
        .args([
            "worker",
            "--burst",
            // It takes at most a third of the jobs, so capq gets the rest however slowly it
            // starts on a loaded machine.
            "--max-jobs",
            "100",
            "--url",
            &redis.url(),
            "--name",
            "python-worker",
            "--worker-class",
            "rq.worker.SimpleWorker",
        ])
        .current_dir(modules.path())
        .env("PYTHONPATH", modules.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let the Python worker get going before capq joins, so both take jobs.
    eventually(
        "the Python worker to take a job",
        Duration::from_secs(60),
        || {
            redis
                .command(&["HGET", "rq:worker:python-worker", "successful_job_count"])
                .int()
                .unwrap_or(0)
                > 0
        },
    );
    let mut capq = spawn_worker(
        &redis,
        None,
        &["--burst", "--name", "capq-worker", "--concurrency", "2"],
    );
    // Each record is read as soon as its worker exits: a dead worker's record lives a minute.
    // A count of 0 is written as a missing field; a missing record is a failure, named.
    let count = |key: &str, field: &str| {
        let exists = redis.command(&["EXISTS", key]).int();
        assert_eq!(
            exists,
            Some(1),
            "{key} is gone (TTL {:?}, workers {:?})",
            redis.command(&["TTL", key]).int(),
            redis.command(&["SMEMBERS", "rq:workers"]).strings()
        );
        redis.command(&["HGET", key, field]).int().unwrap_or(0)
    };
    let python = python_worker.wait_with_output().unwrap();
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let (py_ok, py_failed) = (
        count("rq:worker:python-worker", "successful_job_count"),
        count("rq:worker:python-worker", "failed_job_count"),
    );
    assert!(
        capq.wait(Duration::from_secs(120)).success(),
        "{}",
        capq.log()
    );
    let (capq_ok, capq_failed) = (
        count("rq:worker:capq-worker", "successful_job_count"),
        count("rq:worker:capq-worker", "failed_job_count"),
    );
    assert!(
        capq_ok + capq_failed > 0 && py_ok + py_failed > 0,
        "both workers took jobs: capq {capq_ok}+{capq_failed}, python {py_ok}+{py_failed}"
    );
    assert!(
        py_ok + py_failed <= 100,
        "--max-jobs 100: {py_ok}+{py_failed}"
    );
    assert_eq!(capq_ok + py_ok, 270, "every successful job counted once");
    assert_eq!(capq_failed + py_failed, 30, "every failure counted once");

    // Registries: everything ended once, in the right place; nothing queued or started.
    assert_eq!(redis.command(&["LLEN", "rq:queue:default"]).int(), Some(0));
    assert_eq!(redis.command(&["ZCARD", "rq:wip:default"]).int(), Some(0));
    assert_eq!(
        redis.command(&["ZCARD", "rq:finished:default"]).int(),
        Some(270)
    );
    assert_eq!(
        redis.command(&["ZCARD", "rq:failed:default"]).int(),
        Some(30)
    );
    assert_eq!(
        redis
            .command(&["LLEN", "rq:queue:default:intermediate"])
            .int(),
        Some(0)
    );

    // Python reads every job, whoever ran it: status, results and errors.
    let check = format!(
        "{}ids = json.loads({ids:?})\nworkers = {{}}\nfor job_id in ids['ok']:\n    job = Job.fetch(job_id, connection=r)\n    assert job.get_status() == 'finished', (job_id, job.get_status())\n    assert len(job.results()) == 1, job.results()\n    workers[job.worker_name] = workers.get(job.worker_name, 0) + 1\nfor job_id in ids['fail']:\n    job = Job.fetch(job_id, connection=r)\n    assert job.get_status() == 'failed'\n    assert 'boom' in job.latest_result().exc_string, job.latest_result().exc_string\nprint(json.dumps(workers, sort_keys=True))\n",
        python_prelude(&redis, modules.path()),
        ids = ids.to_string(),
    );
    let by_worker: serde_json::Value =
        serde_json::from_str(run_python_ok(&check, &[]).trim()).unwrap();
    assert_eq!(
        by_worker["capq-worker"].as_i64(),
        Some(capq_ok),
        "{by_worker}"
    );
    assert_eq!(
        by_worker["python-worker"].as_i64(),
        Some(py_ok),
        "{by_worker}"
    );
}
