//! A job enqueued by Python `rq` and one enqueued by `capq enqueue`, run by the same worker,
//! read the same on the dashboard: function, decoded arguments, description, result. Errors
//! that RQ stores zlib-compressed read as text, whichever worker failed the job.

use std::path::Path;
use std::process::{Command, Stdio};

use axum::http::StatusCode;
use capq_test_support::RedisServer;
use capq_test_support::python::{run_python_ok, venv_bin};

use super::{App, drain};
use crate::queue::{python_prelude, run_capq, write_python_modules};

/// The `dt` labels of a job page, in order.
fn labels(html: &str) -> Vec<String> {
    html.split("<dt>")
        .skip(1)
        .filter_map(|rest| rest.split("</dt>").next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn python_rq_and_capq_enqueue_jobs_show_identically() {
    let redis = RedisServer::start();
    let modules = tempfile::tempdir().expect("temp dir");
    write_python_modules(modules.path());
    let out = tempfile::tempdir().expect("temp dir");
    let output = format!("{}/", out.path().display());
    let enqueued = run_capq(
        &[
            "enqueue",
            "--url",
            &redis.url(),
            "--days",
            "2016-11-24",
            "--output",
            &output,
            "--json",
        ],
        &[],
    );
    assert!(enqueued.status.success(), "{enqueued:?}");
    let batch: serde_json::Value = serde_json::from_slice(&enqueued.stdout).expect("JSON");
    let ours = batch["jobs"][0]["id"].as_str().expect("id").to_owned();
    // The batch is on `default` pinned to this build's processor; Python's client puts its job
    // there too, so the two sit side by side.
    let queue = batch["queue"].as_str().expect("queue").to_owned();
    let script = format!(
        "{}import capq\njob = Queue({queue:?}, connection=r).enqueue(capq.process_day, '2016-11-25', {:?}, params='group_arrived_min_dev=0,group_max_distance=0.25', run={:?})\nprint(job.id)\n",
        python_prelude(&redis, modules.path()),
        format!("{output}2016-11-25_processed.csv"),
        batch["batch"].as_str().expect("batch id"),
    );
    let theirs = run_python_ok(&script, &[]).trim().to_owned();

    let app = App::new(&redis, None);
    let queued = app.get(&format!("/api/queues/{queue}")).json();
    let rows = queued["jobs"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{queued}");
    let same_day = |text: &str| {
        text.replace("2016-11-25", "DAY")
            .replace("2016-11-24", "DAY")
    };
    assert_eq!(rows[0]["function"], rows[1]["function"]);
    assert_eq!(
        same_day(rows[0]["description"].as_str().unwrap_or("?")),
        same_day(rows[1]["description"].as_str().unwrap_or("!")),
    );

    drain(&redis, "default");
    let detail = |id: &str| {
        let reply = app.get(&format!("/api/jobs/{id}"));
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()
    };
    let (a, b) = (detail(&ours), detail(&theirs));
    for job in [&a, &b] {
        assert_eq!(job["status"], "finished", "{job}");
        assert_eq!(job["call"]["function"], "capq.process_day");
        assert!(job["call_error"].is_null(), "{job}");
        assert!(
            job["result"]["value"]["day"]["rows_out"]
                .as_u64()
                .is_some_and(|n| n > 0),
            "{job}"
        );
    }
    assert_eq!(
        same_day(&a["call"]["args"].to_string()),
        same_day(&b["call"]["args"].to_string())
    );
    assert_eq!(
        same_day(a["description"].as_str().unwrap_or("?")),
        same_day(b["description"].as_str().unwrap_or("!"))
    );
    assert_eq!(a["result"]["kind"], b["result"]["kind"]);
    let keys = |job: &serde_json::Value| {
        job["result"]["value"]["day"]
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(keys(&a), keys(&b));

    // The pages show the same fields, apart from the batch `capq enqueue` adds.
    let page_labels = |id: &str| {
        let mut labels = labels(&app.get(&format!("/jobs/{id}")).body);
        labels.retain(|l| l != "batch" && l != "meta");
        labels
    };
    let (ours_labels, theirs_labels) = (page_labels(&ours), page_labels(&theirs));
    assert!(
        ours_labels.iter().any(|l| l == "rows out"),
        "{ours_labels:?}"
    );
    assert_eq!(ours_labels, theirs_labels);
    let finished = app
        .get(&format!("/api/queues/{queue}?state=finished"))
        .json();
    let results: Vec<String> = finished["jobs"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| same_day(r["result"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(results.len(), 2);
    assert!(!results[0].is_empty());
}

/// Runs Python RQ's own worker over `queue` until it is empty.
fn drain_with_rq(redis: &RedisServer, modules: &Path, queue: &str) {
    let output = Command::new(venv_bin("rq"))
        .args(["worker", "--burst", "--url", &redis.url()])
        .args(["--worker-class", "rq.worker.SimpleWorker", queue])
        .current_dir(modules)
        .env("PYTHONPATH", modules)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("rq worker runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn errors_rq_stores_compressed_read_as_text() {
    let redis = RedisServer::start();
    let modules = tempfile::tempdir().expect("temp dir");
    write_python_modules(modules.path());
    // A failure callback that saves the job, as user code may: RQ then writes the traceback
    // into the hash's `exc_info`, zlib-compressed.
    std::fs::write(
        modules.path().join("hooks.py"),
        "def save(job, connection, *exc_info):\n    job.meta['noticed'] = True\n    job.save()\n",
    )
    .expect("write hooks.py");
    let prelude = python_prelude(&redis, modules.path());
    let enqueue = format!(
        "{prelude}import capq, hooks\nfrom rq import Callback\n\
         py = Queue('python', connection=r).enqueue(capq.fail, 'python says boom')\n\
         ours = Queue('capq', connection=r).enqueue(capq.fail, 'capq says boom')\n\
         saved = Queue('sync', connection=r, is_async=False).enqueue(capq.fail, 'saved after failing', on_failure=Callback(hooks.save))\n\
         print(json.dumps({{'py': py.id, 'ours': ours.id, 'saved': saved.id}}))\n"
    );
    let ids: serde_json::Value =
        serde_json::from_str(run_python_ok(&enqueue, &[]).trim()).expect("ids");
    let id = |name: &str| ids[name].as_str().expect("an id").to_owned();
    let (py, ours, saved) = (id("py"), id("ours"), id("saved"));

    // Each fails on its worker, is requeued through RQ's own API (which is what `rq requeue`
    // and rq-dashboard call, and which writes a zlib'd `exc_info`), and fails again.
    for round in 0..2 {
        drain_with_rq(&redis, modules.path(), "python");
        drain(&redis, "capq");
        if round == 0 {
            let requeue = format!(
                "{prelude}for id in {:?}:\n    job = Job.fetch(id, connection=r)\n    assert job.get_status() == 'failed', job.get_status()\n    job.requeue()\n",
                [&py, &ours]
            );
            run_python_ok(&requeue, &[]);
        }
    }
    for id in [&py, &ours, &saved] {
        assert_eq!(
            redis
                .command(&["HEXISTS", &format!("rq:job:{id}"), "exc_info"])
                .int(),
            Some(1),
            "RQ wrote no exc_info for {id}"
        );
    }

    let app = App::new(&redis, None);
    for (id, message) in [
        (&py, "python says boom"),
        (&ours, "capq says boom"),
        (&saved, "saved after failing"),
    ] {
        let detail = app.get(&format!("/api/jobs/{id}")).json();
        assert_eq!(detail["status"], "failed", "{detail}");
        let error = detail["result"]["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{id}: {detail}");
        let exc_info = detail["fields"]["exc_info"].as_str().expect("exc_info");
        assert!(
            !exc_info.contains(['\u{fffd}', '\0', '\u{1}', '\u{3}']),
            "{id}: exc_info shown as bytes: {exc_info:?}"
        );
        if id == &saved {
            assert!(
                exc_info.starts_with("Traceback (most recent call last):")
                    && exc_info.contains("RuntimeError: saved after failing"),
                "{exc_info:?}"
            );
            assert_eq!(detail["exc_info"].as_str(), Some(exc_info));
        } else {
            // RQ's requeue stores zlib of nothing.
            assert_eq!(exc_info, "", "{id}");
        }
        let page = app.get(&format!("/jobs/{id}")).body;
        assert!(page.contains(message), "{id}: {page}");
        assert!(!page.contains('\u{fffd}'), "{id}: the page shows raw bytes");
    }
}
