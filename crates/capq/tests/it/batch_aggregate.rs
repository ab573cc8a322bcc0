//! The batch's aggregate job end to end, with every part real: redis-server, several `capq
//! worker` processes, moto as S3, Python `rq` 2.12 and rq-dashboard reading the state. The
//! aggregate waits `deferred` while the days have not run, runs exactly once after the last
//! one ended (one of them failing), lists the failed day, and lands in S3 with the same bytes
//! `capq aggregate` writes. The README's Python snippet, which adds the same job after a
//! client's own days, runs as written.

use std::io::Read;
use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::python::{repo_root, run_python_ok, venv_bin};
use capq_test_support::s3::S3Server;
use serde_json::Value as Json;

use crate::queue::{Process, eventually, python_prelude, run_capq, spawn_capq, spawn_worker};
use crate::testdata;

const DAYS: &str = "2016-11-24..2016-11-28";
/// No positions file in the test data: its job fails.
const FAILING_DAY: &str = "2016-11-28";

fn text(redis: &RedisServer, args: &[&str]) -> String {
    redis.command(args).text().unwrap_or_default()
}

fn status(redis: &RedisServer, id: &str) -> String {
    text(redis, &["HGET", &format!("rq:job:{id}"), "status"])
}

/// A processed day, for the leftover of an earlier run.
fn processed_day() -> Vec<u8> {
    let file = std::fs::File::open(testdata().join("reference/2016-11-24.csv.gz")).unwrap();
    let mut csv = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut csv)
        .unwrap();
    csv
}

/// How many times the workers logged storing an aggregate.
fn aggregates_stored(workers: &[Process]) -> usize {
    workers
        .iter()
        .map(|w| w.log().matches("aggregate stored").count())
        .sum()
}

fn s3_json(s3: &S3Server, key: &str) -> Json {
    let bytes = s3
        .get_object("capmetrics", key)
        .unwrap_or_else(|| panic!("s3://capmetrics/{key} is missing"));
    serde_json::from_slice(&bytes).unwrap()
}

/// What RQ's own tools say about the aggregate job, before any worker runs.
const RQ_VIEW: &str = r#"
import os
from rq.job import Job
job = Job.fetch(AGGREGATE, connection=r)
os.environ['RQ_DASHBOARD_REDIS_URL'] = URL
os.environ['RQ_DASHBOARD_URL_PREFIX'] = ''
from rq_dashboard.app import create_app
client = create_app().test_client()
# The batch's queue: `default` pinned to the enqueuing build's processor.
pq = Queue(QUEUE, connection=r)
listed = json.loads(client.get(f'/0/data/jobs/{QUEUE}/deferred/100/asc/1.json').get_data(as_text=True))['jobs']
print(json.dumps({
    'status': job.get_status(),
    'dependencies': sorted(job.dependency_ids),
    'allow_failures': job.allow_dependency_failures,
    'deferred': pq.deferred_job_registry.get_job_ids(),
    'queued': pq.count,
    'dashboard_deferred': [j['id'] for j in listed],
}))
"#;

#[test]
fn the_aggregate_waits_for_every_day_runs_once_and_lists_the_failed_day() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    s3.create_bucket("capmetrics");
    // A leftover of an earlier run, for the day that fails now: it must not be counted.
    s3.put_object(
        "capmetrics",
        &format!("processed/{FAILING_DAY}_processed.csv"),
        &processed_day(),
    );
    let url = redis.url();
    let enqueued = run_capq(
        &[
            "enqueue",
            "--url",
            &url,
            "--days",
            DAYS,
            "--output",
            "s3://capmetrics/processed/",
            "--aggregate",
            "--json",
        ],
        // The enqueue writes the batch's manifest into the output prefix.
        &s3.env(),
    );
    assert!(enqueued.status.success(), "{enqueued:?}");
    let printed: Json = serde_json::from_slice(&enqueued.stdout).unwrap();
    let aggregate = printed["aggregate"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        printed["aggregate"]["output"],
        "s3://capmetrics/processed/aggregate/"
    );
    let days: Vec<(String, String)> = printed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["day"].as_str().unwrap().to_owned(),
                j["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(days.len(), 5);
    let failing = days
        .iter()
        .find(|(d, _)| d == FAILING_DAY)
        .unwrap()
        .1
        .clone();

    // Before any worker: deferred, for Python `Job.fetch`, the deferred registry,
    // rq-dashboard, and `rq info` (which counts the five days as queued, not the aggregate).
    let modules = tempfile::tempdir().unwrap();
    let view = format!(
        "{}AGGREGATE = {aggregate:?}\nURL = {url:?}\nQUEUE = {:?}\n{RQ_VIEW}",
        python_prelude(&redis, modules.path()),
        printed["queue"].as_str().unwrap()
    );
    let seen: Json = serde_json::from_str(run_python_ok(&view, &[]).trim()).unwrap();
    let mut day_ids: Vec<&str> = days.iter().map(|(_, id)| id.as_str()).collect();
    day_ids.sort_unstable();
    assert_eq!(seen["status"], "deferred", "{seen}");
    assert_eq!(seen["dependencies"], serde_json::json!(day_ids), "{seen}");
    assert_eq!(seen["allow_failures"], true, "{seen}");
    assert_eq!(seen["deferred"], serde_json::json!([aggregate]), "{seen}");
    assert_eq!(
        seen["dashboard_deferred"],
        serde_json::json!([aggregate]),
        "{seen}"
    );
    assert_eq!(seen["queued"], 5, "{seen}");
    let info = std::process::Command::new(venv_bin("rq"))
        .args(["info", "--url", &url, "--raw", "--only-queues"])
        .output()
        .expect("rq info runs");
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(
        info.contains(&format!(
            "queue {} 5, 0 executing, 0 finished, 0 failed",
            crate::queue::pinned_default()
        )),
        "{info}"
    );

    // Three workers, two jobs at a time each, race for the jobs.
    let workers: Vec<Process> = (0..3)
        .map(|i| {
            spawn_worker(
                &redis,
                Some(&s3),
                &["--name", &format!("w{i}"), "--concurrency", "2"],
            )
        })
        .collect();
    eventually("the aggregate to finish", Duration::from_secs(240), || {
        let now = status(&redis, &aggregate);
        assert_ne!(
            now,
            "failed",
            "{}",
            workers.iter().map(Process::log).collect::<String>()
        );
        now == "finished"
    });
    assert_eq!(status(&redis, &failing), "failed");
    for (day, id) in &days {
        if day != FAILING_DAY {
            assert_eq!(status(&redis, id), "finished", "{day}");
        }
    }
    // It started only after every day had ended.
    let started = text(
        &redis,
        &["HGET", &format!("rq:job:{aggregate}"), "started_at"],
    );
    for (day, id) in &days {
        let ended = text(&redis, &["HGET", &format!("rq:job:{id}"), "ended_at"]);
        assert!(
            ended <= started,
            "{day} ended at {ended}, the aggregate started at {started}"
        );
    }

    // Exactly one run: one result, one worker logged storing it, one PUT of summary.json.
    let workers_log = || {
        workers
            .iter()
            .map(Process::log)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        redis
            .command(&["XLEN", &format!("rq:results:{aggregate}")])
            .int(),
        Some(1)
    );
    eventually("the worker's log line", Duration::from_secs(10), || {
        aggregates_stored(&workers) >= 1
    });
    assert_eq!(aggregates_stored(&workers), 1, "{}", workers_log());
    assert_eq!(
        s3.log()
            .matches("PUT /capmetrics/processed/aggregate/summary.json")
            .count(),
        1,
        "{}",
        s3.log()
    );

    // The output in S3: the failed day listed, not counted, though its old file is there.
    let summary = s3_json(&s3, "processed/aggregate/summary.json");
    assert_eq!(
        summary["failed_days"],
        serde_json::json!([FAILING_DAY]),
        "{summary}"
    );
    assert_eq!(summary["missing_days"], serde_json::json!([]), "{summary}");
    assert_eq!(summary["days"]["total"], 4, "{summary}");
    let daily = String::from_utf8(
        s3.get_object("capmetrics", "processed/aggregate/system_daily.csv")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(daily.lines().count(), 5, "{daily}");
    assert!(!daily.contains(FAILING_DAY), "{daily}");
    let report = s3
        .get_object("capmetrics", "processed/aggregate/report.html")
        .unwrap();
    assert!(String::from_utf8_lossy(&report).contains("<svg"));

    // The job's result says the same, to Python.
    let result = run_python_ok(
        &format!(
            "{}print(json.dumps(Job.fetch({aggregate:?}, connection=r).return_value()))\n",
            python_prelude(&redis, modules.path())
        ),
        &[],
    );
    let result: Json = serde_json::from_str(result.trim()).unwrap();
    assert_eq!(
        result["failed_days"],
        serde_json::json!([FAILING_DAY]),
        "{result}"
    );
    assert_eq!(result["days"], 4, "{result}");
    assert_eq!(result["output"], "s3://capmetrics/processed/aggregate/");

    // Byte for byte what `capq aggregate` writes for the same days.
    let local = tempfile::tempdir().unwrap();
    let by_hand = run_capq(
        &[
            "aggregate",
            "--input",
            "s3://capmetrics/processed/",
            "--output",
            local.path().to_str().unwrap(),
            "--days",
            DAYS,
            "--failed-days",
            FAILING_DAY,
        ],
        &s3.env(),
    );
    assert!(by_hand.status.success(), "{by_hand:?}");
    for name in capq_aggregate::FILE_NAMES {
        let ours = s3
            .get_object("capmetrics", &format!("processed/aggregate/{name}"))
            .unwrap();
        let theirs = std::fs::read(local.path().join(name)).unwrap();
        assert!(ours == theirs, "{name} differs from capq aggregate's");
    }
    for worker in &workers {
        worker.terminate();
    }
}

/// The README's Python block that enqueues `capq.aggregate`.
fn readme_snippet() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("```python\nfrom redis import Redis\nfrom rq import Queue\nfrom rq.job import Dependency")
        .expect("the README's aggregate snippet")
        + "```python\n".len();
    let end = readme[start..].find("```").unwrap() + start;
    readme[start..end].to_owned()
}

#[test]
fn the_readmes_python_snippet_adds_the_aggregate_after_its_own_days() {
    let redis = RedisServer::start();
    let snippet = readme_snippet();
    assert!(
        snippet.contains("depends_on=Dependency(jobs=jobs, allow_failure=True)"),
        "{snippet}"
    );
    let code = snippet.replace("redis://127.0.0.1:6379", &redis.url());
    assert_ne!(code, snippet);
    let printed = run_python_ok(&code, &[]);
    let (aggregate, shown) = printed.trim().split_once(' ').expect("id and status");
    assert_eq!(shown, "deferred");
    assert_eq!(status(&redis, aggregate), "deferred");

    let s3 = S3Server::start();
    s3.create_bucket("capmetrics");
    let sample = repo_root().join("data/sample");
    let workers: Vec<Process> = (0..2)
        .map(|i| {
            spawn_capq(
                &[
                    "worker",
                    "--url",
                    &redis.url(),
                    "--data",
                    sample.to_str().unwrap(),
                    "--name",
                    &format!("py{i}"),
                ],
                &s3.env(),
            )
        })
        .collect();
    eventually("the aggregate to finish", Duration::from_secs(240), || {
        let now = status(&redis, aggregate);
        assert_ne!(
            now,
            "failed",
            "{}",
            workers.iter().map(Process::log).collect::<String>()
        );
        now == "finished"
    });
    let summary = s3_json(&s3, "processed/aggregate/summary.json");
    assert_eq!(summary["days"]["total"], 3, "{summary}");
    assert_eq!(summary["failed_days"], serde_json::json!([]), "{summary}");
    assert_eq!(summary["missing_days"], serde_json::json!([]), "{summary}");
    assert_eq!(
        redis
            .command(&["XLEN", &format!("rq:results:{aggregate}")])
            .int(),
        Some(1)
    );
    for worker in &workers {
        worker.terminate();
    }
}

#[test]
fn aggregate_needs_a_folder_and_a_folder_the_worker_may_write() {
    let redis = RedisServer::start();
    let url = redis.url();
    // An output prefix that is not a folder: refused, and nothing enqueued.
    let refused = run_capq(
        &[
            "enqueue",
            "--url",
            &url,
            "--days",
            DAYS,
            "--output",
            "s3://b/run1-",
            "--aggregate",
        ],
        &[],
    );
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("--aggregate needs --output to be a folder ending with '/'"),
        "{refused:?}"
    );
    assert_eq!(redis.command(&["DBSIZE"]).int(), Some(0));

    // A local folder the worker may not write: every day fails, the aggregate still runs once
    // they have, and fails saying why, having read nothing.
    let out = tempfile::tempdir().unwrap();
    let output = format!("{}/", out.path().display());
    let enqueued = run_capq(
        &[
            "enqueue",
            "--url",
            &url,
            "--days",
            "2016-11-24..2016-11-25",
            "--output",
            &output,
            "--aggregate",
            "--json",
        ],
        &[],
    );
    assert!(enqueued.status.success(), "{enqueued:?}");
    let printed: Json = serde_json::from_slice(&enqueued.stdout).unwrap();
    let aggregate = printed["aggregate"]["id"].as_str().unwrap().to_owned();
    let mut worker = spawn_worker(&redis, None, &["--burst"]);
    assert!(
        worker.wait(Duration::from_secs(120)).success(),
        "{}",
        worker.log()
    );
    if status(&redis, &aggregate) == "queued" {
        // Released as the burst worker found its queue empty: one more pass runs it.
        let mut again = spawn_worker(&redis, None, &["--burst"]);
        assert!(
            again.wait(Duration::from_secs(120)).success(),
            "{}",
            again.log()
        );
    }
    assert_eq!(status(&redis, &aggregate), "failed");
    let shown = run_capq(&["failed", "show", &aggregate, "--url", &url], &[]);
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        shown.contains("capq.aggregate(): argument `input`") && shown.contains("is not allowed"),
        "{shown}"
    );
    assert!(!out.path().join("aggregate").exists());
}
