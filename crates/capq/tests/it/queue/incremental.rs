//! Incremental batches through the queue: real `redis-server`, real moto S3, real `capq worker`
//! processes and the real Python `rq`. `capq enqueue --data` enqueues only the days whose
//! outputs under the prefix are not up to date (none after a batch ran, one after one input
//! changed, all with `--force`), carries the parameters in each job, and each worker records its
//! day under the batch, so `capq runs` and `capq run` read the batch's records.

use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::python::run_python_ok;
use capq_test_support::s3::S3Server;
use serde_json::Value;

use super::{python_prelude, run_capq, spawn_capq};
use crate::incremental::{DAYS, data};

const OUTPUT: &str = "s3://batches/out/";

/// `capq enqueue --json` of every day, with more arguments: the batch and the enqueued ids.
fn enqueue(
    redis: &RedisServer,
    s3: &S3Server,
    data: &str,
    extra: &[&str],
) -> (String, Vec<String>, Value) {
    let url = redis.url();
    let mut args = vec![
        "enqueue",
        "--url",
        &url,
        "--days",
        "2016-11-24..2016-11-27",
        "--output",
        OUTPUT,
        "--data",
        data,
        "--json",
    ];
    args.extend_from_slice(extra);
    let result = run_capq(&args, &s3.env());
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let json: Value = serde_json::from_slice(&result.stdout).unwrap();
    let ids = json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    (json["batch"].as_str().unwrap().to_owned(), ids, json)
}

fn work(redis: &RedisServer, s3: &S3Server, data: &str) {
    let url = redis.url();
    let mut worker = spawn_capq(
        &[
            "worker",
            "--url",
            &url,
            "--data",
            data,
            "--burst",
            "--allow-output",
            "s3://",
        ],
        &s3.env(),
    );
    let status = worker.wait(Duration::from_secs(120));
    assert!(status.success(), "worker failed:\n{}", worker.log());
}

#[test]
fn re_enqueueing_an_up_to_date_range_enqueues_nothing_and_a_changed_input_one_job() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    s3.create_bucket("batches");
    let data = data();
    let data_text = data.path().to_str().unwrap().to_owned();
    let params = ["--param", "group_max_distance=0.2"];

    let (first, ids, _) = enqueue(&redis, &s3, &data_text, &params);
    assert_eq!(ids.len(), 4);
    // The batch's manifest is there before any worker runs.
    let manifest = s3
        .get_object("batches", &format!("out/.capq/runs/{first}/run.json"))
        .expect("the batch's manifest");
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest["kind"], "batch");
    assert!(
        manifest["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "planned" && d["reason"] == "new")
    );
    work(&redis, &s3, &data_text);

    // Each job carried the parameters and its batch, and says so in its result.
    let check = format!(
        "{}for job_id in {ids:?}:\n    job = Job.fetch(job_id, connection=r)\n    assert job.get_status() == 'finished', job.get_status()\n    assert job.kwargs['params'] == 'group_arrived_min_dev=0,group_max_distance=0.2', job.kwargs\n    assert job.kwargs['run'] == {first:?}, job.kwargs\n    result = job.return_value()\n    assert result['params'] == job.kwargs['params'], result\n    assert result['run'] == {first:?}, result\n    assert result['unchanged'] is False, result\nprint('ok')\n",
        python_prelude(&redis, data.path())
    );
    assert_eq!(run_python_ok(&check, &[]).trim(), "ok");
    let keys = s3.list_keys("batches", "out/");
    for day in DAYS {
        assert!(
            keys.contains(&format!("out/{day}_processed.csv")),
            "{keys:?}"
        );
        assert!(
            keys.contains(&format!("out/{day}_processed.partial")),
            "{keys:?}"
        );
        assert!(
            keys.contains(&format!("out/.capq/runs/{first}/days/{day}.json")),
            "each worker records its day: {keys:?}"
        );
    }
    // The parameter reached the output: it equals `capq process` with the same parameter.
    let local = tempfile::tempdir().unwrap();
    let path = local.path().join("day.csv");
    let processed = run_capq(
        &[
            "process",
            "--data",
            &data_text,
            "--day",
            "2016-11-25",
            "--output",
            path.to_str().unwrap(),
            "--param",
            "group_max_distance=0.2",
        ],
        &[],
    );
    assert!(processed.status.success());
    assert_eq!(
        s3.get_object("batches", "out/2016-11-25_processed.csv")
            .unwrap(),
        std::fs::read(&path).unwrap()
    );

    // Again: everything is up to date, so nothing is enqueued and nothing printed.
    let url = redis.url();
    let args = [
        "enqueue",
        "--url",
        &url,
        "--days",
        "2016-11-24..2016-11-27",
        "--output",
        OUTPUT,
        "--data",
        &data_text,
        "--param",
        "group_max_distance=0.2",
    ];
    let again = run_capq(&args, &s3.env());
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        again.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(
        message.contains("enqueued 0 jobs") && message.contains("4 days up to date"),
        "{message}"
    );
    let queue = super::pinned_default();
    assert_eq!(
        redis.command(&["LLEN", &format!("rq:queue:{queue}")]).int(),
        Some(0)
    );

    // One input changes: one job.
    crate::incremental::add_position(data.path(), "2016-11-26");
    let (changed, ids, json) = enqueue(&redis, &s3, &data_text, &params);
    assert_eq!(ids.len(), 1, "{json}");
    assert_eq!(json["jobs"][0]["day"], "2016-11-26");
    assert_eq!(json["up_to_date"].as_array().unwrap().len(), 3);
    work(&redis, &s3, &data_text);

    // A parameter change enqueues every day, and so does --force.
    let (_, ids, _) = enqueue(&redis, &s3, &data_text, &[]);
    assert_eq!(ids.len(), 4);
    run_capq(&["empty", &queue, "--url", &url], &[]);
    let (_, ids, _) = enqueue(
        &redis,
        &s3,
        &data_text,
        &["--param", "group_max_distance=0.2", "--force"],
    );
    assert_eq!(ids.len(), 4);

    // The runs, as recorded in the prefix: the workers' day records are combined with the plans.
    let listed = run_capq(&["runs", "--json", "--output", OUTPUT], &s3.env());
    let runs: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 5, "{runs:?}");
    let counts = |i: usize| {
        (
            runs[i]["days"]["ok"].as_u64().unwrap(),
            runs[i]["days"]["up_to_date"].as_u64().unwrap(),
            runs[i]["days"]["planned"].as_u64().unwrap(),
        )
    };
    assert_eq!(runs[0]["id"], first.as_str());
    assert_eq!(counts(0), (4, 0, 0));
    assert_eq!(counts(1), (0, 4, 0));
    assert_eq!(runs[2]["id"], changed.as_str());
    assert_eq!(counts(2), (1, 3, 0));
    assert_eq!(counts(3), (0, 0, 4), "enqueued, not run");

    // `capq run` on the same prefix reads the batches' records: the last run batch's outputs
    // are up to date for it (the two unrun batches recorded nothing for their days).
    let local_run = run_capq(
        &[
            "run",
            "--json",
            "--data",
            &data_text,
            "--output",
            OUTPUT,
            "--param",
            "group_max_distance=0.2",
            "--no-aggregate",
        ],
        &s3.env(),
    );
    assert!(
        local_run.status.success(),
        "{}",
        String::from_utf8_lossy(&local_run.stderr)
    );
    let local_run: Value = serde_json::from_slice(&local_run.stdout).unwrap();
    assert_eq!(local_run["processed"], 0, "{local_run}");
    assert_eq!(local_run["up_to_date"], 4);
}
