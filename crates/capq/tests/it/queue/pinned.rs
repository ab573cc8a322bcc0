//! Version-pinned batches (`capq_core::pin`): `capq enqueue` puts a batch on
//! `<queue>@<processor>`, so only workers of its build run it. Real `redis-server`, real
//! `capq worker` processes; "another build" is the same binary with its processor fingerprint
//! replaced (`CAPQ_TEST_PROCESSOR_FINGERPRINT`), as a rolling deploy would have it.

use std::time::{Duration, Instant};

use capq_test_support::RedisServer;
use capq_test_support::python::venv_bin;
use serde_json::Value;

use super::{eventually, own_processor, run_capq, spawn_worker, spawn_worker_at};
use crate::dashboard::App;

/// The processor the "other build" runs.
const OTHER: &str = "0123456789abcdef";

fn other_build() -> Vec<(String, String)> {
    vec![
        (
            "CAPQ_TEST_PROCESSOR_FINGERPRINT".to_owned(),
            OTHER.to_owned(),
        ),
        // The override is honoured only with the test switch on.
        ("CAPQ_TEST_TASKS".to_owned(), "1".to_owned()),
    ]
}

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn enqueue(redis: &RedisServer, output: &str, days: &str, extra: &[&str]) -> Value {
    let url = redis.url();
    let mut args = vec![
        "enqueue", "--url", &url, "--days", days, "--output", output, "--json",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&run_capq(&args, &[]))).unwrap()
}

fn ids(enqueued: &Value) -> Vec<String> {
    enqueued["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect()
}

fn field(redis: &RedisServer, id: &str, name: &str) -> String {
    redis
        .command(&["HGET", &format!("rq:job:{id}"), name])
        .text()
        .unwrap_or_default()
}

fn info(redis: &RedisServer) -> Value {
    serde_json::from_str(&ok(&run_capq(
        &["info", "--url", &redis.url(), "--json"],
        &[],
    )))
    .unwrap()
}

/// Calls of the commands a worker's loop sends (its scripts and blocking waits); the test's
/// own reads (HGET, INFO, …) are not among them.
fn worker_calls(redis: &RedisServer) -> u64 {
    let stats = redis
        .command(&["INFO", "commandstats"])
        .text()
        .unwrap_or_default();
    stats
        .lines()
        .filter(|line| {
            line.starts_with("cmdstat_evalsha:")
                || line.starts_with("cmdstat_eval:")
                || line.starts_with("cmdstat_blmove:")
        })
        .filter_map(|line| {
            line.split([':', ','])
                .find_map(|part| part.strip_prefix("calls="))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum()
}

#[test]
fn a_pinned_batch_runs_on_a_worker_of_its_build_and_records_its_processor() {
    let redis = RedisServer::start();
    let out = tempfile::tempdir().unwrap();
    let output = format!("{}/", out.path().display());
    let own = own_processor();
    let enqueued = enqueue(&redis, &output, "2016-11-24,2016-12-18", &["--aggregate"]);
    let pinned_queue = format!("default@{own}");
    assert_eq!(enqueued["queue"], pinned_queue.as_str());
    assert_eq!(enqueued["pinned"], own.as_str());
    let days = ids(&enqueued);
    let aggregate = enqueued["aggregate"]["id"].as_str().unwrap().to_owned();
    for id in days.iter().chain([&aggregate]) {
        assert_eq!(field(&redis, id, "capq_processor"), own, "{id}");
        assert_eq!(field(&redis, id, "origin"), pinned_queue, "{id}");
    }
    assert_eq!(
        redis
            .command(&["LLEN", &format!("rq:queue:{pinned_queue}")])
            .int(),
        Some(2)
    );
    assert_eq!(redis.command(&["LLEN", "rq:queue:default"]).int(), Some(0));
    // The batch's manifest says what it is pinned to.
    let batch = enqueued["batch"].as_str().unwrap();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(out.path().join(format!(".capq/runs/{batch}/run.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["batch"]["pinned"], own.as_str());
    assert_eq!(manifest["batch"]["queue"], pinned_queue.as_str());
    assert_eq!(manifest["processor"], own.as_str());

    // `rq info` reads the pinned queue as any other.
    let rq_info = std::process::Command::new(venv_bin("rq"))
        .args(["info", "--url", &redis.url(), "--raw", "--only-queues"])
        .output()
        .expect("rq info runs");
    let rq_info = String::from_utf8_lossy(&rq_info.stdout).into_owned();
    assert!(
        rq_info.contains(&format!(
            "queue {pinned_queue} 2, 0 executing, 0 finished, 0 failed"
        )),
        "{rq_info}"
    );

    let mut worker = spawn_worker(&redis, None, &["--burst", "--allow-output", &output]);
    assert!(
        worker.wait(Duration::from_secs(120)).success(),
        "{}",
        worker.log()
    );
    assert!(
        worker
            .log()
            .contains(&format!("queues default,default@{own}")),
        "{}",
        worker.log()
    );
    if field(&redis, &aggregate, "status") == "queued" {
        // Released as the burst worker found its queues empty: one more pass runs it.
        let mut again = spawn_worker(&redis, None, &["--burst", "--allow-output", &output]);
        assert!(
            again.wait(Duration::from_secs(120)).success(),
            "{}",
            again.log()
        );
    }
    for id in days.iter().chain([&aggregate]) {
        assert_eq!(field(&redis, id, "status"), "finished", "{id}");
    }
    for day in ["2016-11-24", "2016-12-18"] {
        let record: Value = serde_json::from_slice(
            &std::fs::read(
                out.path()
                    .join(format!(".capq/runs/{batch}/days/{day}.json")),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(record["processor"], own.as_str(), "{day}");
    }
    assert!(out.path().join("aggregate/summary.json").exists());
}

#[test]
fn a_worker_of_another_fingerprint_does_not_run_a_pinned_job() {
    let redis = RedisServer::start();
    let out = tempfile::tempdir().unwrap();
    let output = format!("{}/", out.path().display());
    let own = own_processor();
    let enqueued = enqueue(&redis, &output, "2016-11-24", &[]);
    let id = ids(&enqueued).remove(0);
    let pinned_queue = format!("default@{own}");

    // A worker of another build, as during a rolling deploy: heartbeats every second.
    let mut other = spawn_worker_at(
        &redis.url(),
        &other_build(),
        &[
            "--lease",
            "3",
            "--upkeep-every",
            "3",
            "--allow-output",
            &output,
        ],
    );
    let registered = |redis: &RedisServer| {
        info(redis)["workers"]
            .as_array()
            .is_some_and(|workers| workers.len() == 1)
    };
    eventually(
        "the other build's worker to register",
        Duration::from_secs(30),
        || registered(&redis),
    );
    let workers = info(&redis)["workers"].clone();
    assert_eq!(
        workers[0]["queues"],
        serde_json::json!(["default", format!("default@{OTHER}")]),
        "it listens on the plain queue and its own pinned one"
    );
    let worker_key = format!("rq:worker:{}", workers[0]["name"].as_str().unwrap());

    // While it beats three times, it leaves the job alone and barely talks to Redis.
    let before = worker_calls(&redis);
    let started = Instant::now();
    let mut beats = Vec::new();
    eventually("three heartbeats", Duration::from_secs(30), || {
        let beat = redis
            .command(&["HGET", &worker_key, "last_heartbeat"])
            .text()
            .unwrap_or_default();
        if beats.last() != Some(&beat) {
            beats.push(beat);
        }
        beats.len() > 3
    });
    let calls = worker_calls(&redis) - before;
    let seconds = started.elapsed().as_secs_f64();
    let per_second = calls as f64 / seconds;
    assert!(
        per_second < 100.0,
        "an idle worker sent {calls} commands in {seconds:.1} s: it spins"
    );
    eprintln!("the idle worker of another build sent {calls} commands in {seconds:.1} s");
    assert_eq!(field(&redis, &id, "status"), "queued");
    assert_eq!(
        redis
            .command(&["LRANGE", &format!("rq:queue:{pinned_queue}"), "0", "-1"])
            .strings(),
        std::slice::from_ref(&id)
    );
    assert_eq!(
        redis
            .command(&["HGET", &worker_key, "successful_job_count"])
            .int(),
        Some(0)
    );
    assert!(!out.path().join("2016-11-24_processed.csv").exists());

    // `capq info` and the dashboard say why the job does not move.
    let warning = format!(
        "{pinned_queue}: 1 job waiting for processor {own}, no live worker runs it (workers on \
         default run: {OTHER})"
    );
    let text = ok(&run_capq(&["info", "--url", &redis.url()], &[]));
    assert!(text.contains(&format!("warning: {warning}")), "{text}");
    let json = info(&redis);
    assert_eq!(json["stranded"][0]["queue"], pinned_queue.as_str());
    assert_eq!(json["stranded"][0]["waiting"], 1);
    assert_eq!(
        json["stranded"][0]["workers_run"],
        serde_json::json!([OTHER])
    );
    let app = App::new(&redis, None);
    let overview = app.get("/api/overview").json();
    assert_eq!(overview["stranded"][0]["message"], warning.as_str());
    assert_eq!(overview["stranded"][0]["processor"], own.as_str());
    let page = app.get("/").body;
    assert!(page.contains("No live worker runs these jobs."), "{page}");
    assert!(page.contains(&warning), "{page}");

    // A worker of the batch's build runs it; the warning goes.
    let mut matching = spawn_worker(&redis, None, &["--burst", "--allow-output", &output]);
    assert!(
        matching.wait(Duration::from_secs(120)).success(),
        "{}",
        matching.log()
    );
    assert_eq!(field(&redis, &id, "status"), "finished");
    assert!(out.path().join("2016-11-24_processed.csv").exists());
    assert_eq!(info(&redis)["stranded"], serde_json::json!([]));
    assert_eq!(
        redis
            .command(&["HGET", &worker_key, "successful_job_count"])
            .int(),
        Some(0),
        "the other build's worker ran nothing"
    );
    assert_eq!(
        redis
            .command(&["HGET", &worker_key, "failed_job_count"])
            .int(),
        Some(0)
    );
    other.stop_ok();
}

#[test]
fn a_job_pinned_elsewhere_on_a_plain_queue_fails_unrun_and_pinned_queues_are_checked() {
    let redis = RedisServer::start();
    let out = tempfile::tempdir().unwrap();
    let output = format!("{}/", out.path().display());
    let own = own_processor();
    // Unpinned: on the plain queue, with no pin.
    let enqueued = enqueue(&redis, &output, "2016-11-24", &["--any-processor"]);
    assert_eq!(enqueued["queue"], "default");
    assert_eq!(enqueued["pinned"], Value::Null);
    let id = ids(&enqueued).remove(0);
    assert_eq!(field(&redis, &id, "capq_processor"), "");
    // Pinned by hand to another processor, though on the queue every build listens on.
    redis.command(&["HSET", &format!("rq:job:{id}"), "capq_processor", OTHER]);

    // A burst worker exits once the queue is empty: the job is failed once, not run, not
    // handed back to come round again.
    let mut worker = spawn_worker(&redis, None, &["--burst", "--allow-output", &output]);
    assert!(
        worker.wait(Duration::from_secs(60)).success(),
        "{}",
        worker.log()
    );
    assert_eq!(field(&redis, &id, "status"), "failed");
    assert_eq!(redis.command(&["LLEN", "rq:queue:default"]).int(), Some(0));
    assert_eq!(
        redis.command(&["ZCARD", "rq:failed:default"]).int(),
        Some(1)
    );
    assert!(!out.path().join("2016-11-24_processed.csv").exists());
    let shown = ok(&run_capq(
        &["failed", "show", &id, "--url", &redis.url()],
        &[],
    ));
    assert!(
        shown.contains(&format!("pinned to processor {OTHER}"))
            && shown.contains(&format!("runs processor {own}"))
            && shown.contains(&format!("default@{OTHER}")),
        "{shown}"
    );

    // A worker told to listen on another build's pinned queue is refused at once.
    let refused = run_capq(
        &[
            "worker",
            "--url",
            &redis.url(),
            "--burst",
            "--queues",
            &format!("default@{OTHER}"),
        ],
        &[],
    );
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains(&format!("pinned to processor {OTHER}"))
            && message.contains(&format!("default@{own}")),
        "{message}"
    );
    // And enqueueing onto a pinned queue by name is refused: capq enqueue chooses it.
    let refused = run_capq(
        &[
            "enqueue",
            "--url",
            &redis.url(),
            "--days",
            "2016-11-24",
            "--output",
            &output,
            "--queue",
            &format!("default@{OTHER}"),
        ],
        &[],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("give the plain queue (default)"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
