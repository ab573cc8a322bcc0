//! The README as a new user meets it. Its Python examples run as written, with only the Redis
//! URL pointed at the test's server, on the project's Python and real `rq`: they put capq's jobs
//! on the queue by name, with no `tasks` module, and a capq worker runs them. What it says about
//! mixed fleets holds too: each kind of worker fails the other's jobs, and separate queues work.

use std::process::{Command, Stdio};
use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::python::{repo_root, run_python_ok, venv_bin};
use capq_test_support::s3::S3Server;

use super::{python_prelude, run_capq, spawn_capq, spawn_worker};

/// The bodies of the README's ```python blocks, in order.
fn python_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match current.as_mut() {
            None if line.trim() == "```python" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "a ```python block is not closed");
    blocks
}

fn text(redis: &RedisServer, args: &[&str]) -> String {
    redis.command(args).text().unwrap_or_default()
}

#[test]
fn the_readmes_python_examples_run_as_written_and_a_capq_worker_runs_their_jobs() {
    let redis = RedisServer::start();
    let url = redis.url();
    let blocks = python_blocks();
    assert!(blocks.len() >= 2, "{blocks:#?}");
    assert!(
        blocks[0].contains(r#"q.enqueue("tasks.process_day_to_s3", args=("#),
        "the first example enqueues by name:\n{}",
        blocks[0]
    );
    let mut first_id = String::new();
    for block in &blocks {
        assert!(
            !block.contains("import tasks"),
            "an example needs a module the user does not have:\n{block}"
        );
        let code = block
            .replace("redis://:PASSWORD@127.0.0.1:6379", &url)
            .replace("redis://127.0.0.1:6379", &url);
        assert_ne!(&code, block, "an example without a Redis URL we know");
        let printed = run_python_ok(&code, &[]);
        if block == &blocks[0] {
            first_id = printed.trim().to_owned();
        }
    }

    // The jobs wait on the queue, by name, with the README's arguments.
    let ids = redis
        .command(&["LRANGE", "rq:queue:default", "0", "-1"])
        .strings();
    assert!(ids.len() >= blocks.len(), "{ids:?}");
    assert!(
        ids.contains(&first_id),
        "the first example printed {first_id:?}"
    );
    for id in &ids {
        let description = text(&redis, &["HGET", &format!("rq:job:{id}"), "description"]);
        assert!(
            description.starts_with("tasks.process_day_to_s3('2016-11-2"),
            "{description}"
        );
    }

    // A capq worker with S3 runs them, and the first example's day lands where it says.
    let s3 = S3Server::start();
    s3.create_bucket("capmetrics");
    let sample = repo_root().join("data/sample");
    let mut worker = spawn_capq(
        &[
            "worker",
            "--url",
            &url,
            "--data",
            sample.to_str().expect("utf-8 path"),
            "--burst",
        ],
        &s3.env(),
    );
    assert!(
        worker.wait(Duration::from_secs(180)).success(),
        "{}",
        worker.log()
    );
    for id in &ids {
        assert_eq!(
            text(&redis, &["HGET", &format!("rq:job:{id}"), "status"]),
            "finished",
            "job {id}: {}",
            worker.log()
        );
    }
    let output = s3
        .get_object("capmetrics", "processed/2016-11-24_processed.csv")
        .expect("the first example's output on S3");
    assert!(output.len() > 1_000, "{} bytes", output.len());
}

/// The error a failed job's latest result carries, as `capq failed show` prints it.
fn error_of(redis: &RedisServer, id: &str) -> String {
    let output = run_capq(&["failed", "show", id, "--url", &redis.url()], &[]);
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `rq worker --burst` on `queues`, with Python modules from `dir`; returns once it exits.
fn python_worker(redis: &RedisServer, dir: &std::path::Path, queues: &[&str]) {
    let mut command = Command::new(venv_bin("rq"));
    command
        .args(["worker", "--burst", "--url", &redis.url()])
        .args(["--worker-class", "rq.worker.SimpleWorker"])
        .args(queues)
        .current_dir(dir)
        .env("PYTHONPATH", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let output = command.output().expect("rq worker runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_readmes_word_on_mixed_fleets_holds() {
    let redis = RedisServer::start();
    let modules = tempfile::tempdir().unwrap();
    // The user's own Python task; no `capq` module anywhere.
    std::fs::write(
        modules.path().join("tasks.py"),
        "def clean_up():\n    return 'clean'\n",
    )
    .unwrap();
    let enqueue = |queue: &str, func: &str, args: &str| -> String {
        let script = format!(
            "{}print(Queue({queue:?}, connection=r).enqueue({func:?}, args={args}).id)\n",
            python_prelude(&redis, modules.path())
        );
        run_python_ok(&script, &[]).trim().to_owned()
    };
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("2016-11-24.csv");
    let day_args = format!("('2016-11-24', {:?})", output.to_str().expect("utf-8 path"));

    // A Python job taken by a capq worker fails, naming the function.
    let python_job = enqueue("default", "tasks.clean_up", "()");
    let mut worker = spawn_worker(&redis, None, &["--burst"]);
    assert!(worker.wait(Duration::from_secs(60)).success());
    let error = error_of(&redis, &python_job);
    assert!(
        error.contains("no task named `tasks.clean_up` (this worker runs: "),
        "{error}"
    );

    // A capq job taken by a Python worker fails: it cannot import `capq`.
    let capq_job = enqueue("default", "capq.process_day", &day_args);
    python_worker(&redis, modules.path(), &["default"]);
    let error = error_of(&redis, &capq_job);
    assert!(
        error.contains("ValueError: Invalid attribute name: capq.process_day"),
        "{error}"
    );

    // Separate queues: each worker runs its own kind of job.
    let python_job = enqueue("default", "tasks.clean_up", "()");
    let capq_job = enqueue("capmetrics", "capq.process_day", &day_args);
    let allowed = out.path().to_str().expect("utf-8 path");
    let mut worker = spawn_worker(
        &redis,
        None,
        &[
            "--burst",
            "--queues",
            "capmetrics",
            "--allow-output",
            allowed,
        ],
    );
    assert!(
        worker.wait(Duration::from_secs(60)).success(),
        "{}",
        worker.log()
    );
    python_worker(&redis, modules.path(), &["default"]);
    for id in [&python_job, &capq_job] {
        assert_eq!(
            text(&redis, &["HGET", &format!("rq:job:{id}"), "status"]),
            "finished",
            "{}",
            worker.log()
        );
    }
    assert!(output.is_file(), "capq.process_day wrote no output");
}
