//! A job enqueued by Python `rq` and one enqueued by `capq enqueue`, run by the same worker,
//! read the same on the dashboard: function, decoded arguments, description, result.

use axum::http::StatusCode;
use capq_test_support::RedisServer;
use capq_test_support::python::run_python_ok;

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
    let script = format!(
        "{}import capq\njob = q.enqueue(capq.process_day, '2016-11-25', {:?})\nprint(job.id)\n",
        python_prelude(&redis, modules.path()),
        format!("{output}2016-11-25_processed.csv"),
    );
    let theirs = run_python_ok(&script, &[]).trim().to_owned();

    let app = App::new(&redis, None);
    let queued = app.get("/api/queues/default").json();
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
    let finished = app.get("/api/queues/default?state=finished").json();
    let results: Vec<String> = finished["jobs"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| same_day(r["result"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(results.len(), 2);
    assert!(!results[0].is_empty());
}
