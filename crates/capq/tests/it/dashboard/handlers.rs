//! The dashboard's axum handlers, in-process, over a real Redis filled by real workers.

use std::time::Duration;

use axum::http::StatusCode;
use capq_pickle::Value;
use capq_test_support::RedisServer;

use super::{App, SCRIPT, drain};
use crate::queue::{eventually, run_capq, spawn_worker};

fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

#[test]
fn pages_and_apis_show_queues_batches_workers_results_and_errors() {
    let redis = RedisServer::start();
    let out = tempfile::tempdir().expect("temp dir");
    let output = format!("{}/", out.path().display());
    let enqueued = run_capq(
        &[
            "enqueue",
            "--url",
            &redis.url(),
            "--days",
            "2016-11-24..2016-11-25",
            "--output",
            &output,
            "--json",
        ],
        &[],
    );
    assert!(enqueued.status.success(), "{enqueued:?}");
    let batch: serde_json::Value = serde_json::from_slice(&enqueued.stdout).expect("JSON");
    let day_job = batch["jobs"][0]["id"].as_str().expect("id").to_owned();
    let app = App::new(&redis, None);
    let failed = app.enqueue("default", "capq.fail", vec![s(SCRIPT)]);
    drain(&redis, "default");

    // The overview: the queue's counts, the batch complete, the totals.
    let overview = app.get("/api/overview").json();
    assert_eq!(overview["totals"]["finished"], 2, "{overview}");
    assert_eq!(overview["totals"]["failed"], 1, "{overview}");
    assert_eq!(overview["jobs_finished"], 2, "{overview}");
    let batch_view = &overview["batches"][0];
    assert_eq!(batch_view["description"], "2016-11-24..2016-11-25");
    assert_eq!(batch_view["finished"], 2);
    assert_eq!(batch_view["remaining"], 0);
    assert_eq!(batch_view["complete"], true);
    let page = app.get("/");
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("2016-11-24..2016-11-25"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("href=\"/queues/default?state=failed\">1</a>")
    );

    // A day's page: the call and the result, rows in, out and dropped.
    let job = app.get(&format!("/api/jobs/{day_job}")).json();
    assert_eq!(job["status"], "finished");
    assert_eq!(job["call"]["function"], "capq.process_day");
    assert_eq!(
        job["result"]["value"]["day"]["rows_in"]
            .as_u64()
            .map(|n| n > 0),
        Some(true)
    );
    let html = app.get(&format!("/jobs/{day_job}")).body;
    for label in ["rows in", "rows out", "rows dropped", "2016-11-24"] {
        assert!(html.contains(label), "the job page lacks {label:?}");
    }

    // The failure: its argument and error are escaped wherever they are shown.
    for path in [
        "/failed".to_owned(),
        format!("/jobs/{failed}"),
        "/queues/default?state=failed".to_owned(),
    ] {
        let reply = app.get(&path);
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(!reply.body.contains(SCRIPT), "{path} carries raw markup");
        assert!(
            reply.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path} does not show the argument as text"
        );
    }
    let detail = app.get(&format!("/api/jobs/{failed}")).json();
    assert_eq!(detail["status"], "failed");
    assert!(
        detail["result"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains(SCRIPT)
    );
    let failures = app.get("/api/failed").json();
    assert_eq!(failures["total"], 1);
    assert_eq!(failures["jobs"][0]["id"], failed.as_str());

    // Workers: the burst worker is gone; the page says how to start one.
    let workers = app.get("/workers");
    assert!(
        workers.body.contains("No worker is online"),
        "{}",
        workers.body
    );

    // Unknown things are 404s that say what is missing, as a page or as JSON.
    let missing = app.get("/jobs/no-such-job");
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("no job with id"));
    let missing = app.get("/api/queues/nope");
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["status"], 404);
    let bad = app.get("/api/queues/default?state=exploded");
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[test]
fn actions_need_post_csrf_and_confirmation() {
    let redis = RedisServer::start();
    let app = App::new(&redis, None);
    let failed = app.enqueue("default", "capq.fail", vec![s("boom")]);
    drain(&redis, "default");
    assert_eq!(app.status(&failed), "failed");
    let requeue = format!("/jobs/{failed}/requeue");

    // No action through GET.
    assert_eq!(app.get(&requeue).status, StatusCode::METHOD_NOT_ALLOWED);
    let session = app.session();
    let cookie = ("cookie", session.cookie.as_str());

    // No CSRF token, a wrong one, or a cross-site post: refused, nothing done.
    let refused = app.post_form(&requeue, &[cookie], &[("confirmed", "1")]);
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("CSRF"), "{}", refused.body);
    let wrong = app.post_form(&requeue, &[cookie], &[("csrf", "00ff"), ("confirmed", "1")]);
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let cross = app.post_form(
        &requeue,
        &[cookie, ("sec-fetch-site", "cross-site")],
        &[("csrf", &session.csrf), ("confirmed", "1")],
    );
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(app.status(&failed), "failed");

    // With the token but not yet confirmed: a page that asks, and nothing done.
    let ask = app.post_form(
        &requeue,
        &[cookie],
        &[("csrf", &session.csrf), ("back", "/failed")],
    );
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("Are you sure?"), "{}", ask.body);
    assert!(ask.body.contains("name=\"confirmed\" value=\"1\""));
    assert_eq!(app.status(&failed), "failed");

    // Confirmed: done, and back to the page with a message.
    let done = app.post_form(
        &requeue,
        &[cookie],
        &[
            ("csrf", &session.csrf),
            ("back", "/failed"),
            ("confirmed", "1"),
        ],
    );
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), Some("/failed"));
    let flash = done.cookie("capq_flash").expect("a flash message");
    assert!(flash.contains("Requeued"), "{flash}");
    assert_eq!(app.status(&failed), "queued");
    let shown = app.get_with("/failed", &[cookie, ("cookie", &flash)]);
    assert!(shown.body.contains("Requeued job"), "{}", shown.body);

    // `back` never leads off the site.
    let offsite = app.post_form(
        &format!("/jobs/{failed}/cancel"),
        &[cookie],
        &[
            ("csrf", &session.csrf),
            ("back", "https://evil.example/"),
            ("confirmed", "1"),
        ],
    );
    assert_eq!(offsite.location(), Some("/"));
    assert_eq!(app.status(&failed), "canceled");

    // A refusal is told, not an error page: the job is not running.
    let stop = app.post_form(
        &format!("/jobs/{failed}/stop"),
        &[cookie],
        &[("csrf", &session.csrf), ("confirmed", "1")],
    );
    assert_eq!(stop.status, StatusCode::SEE_OTHER);
    let flash = stop.cookie("capq_flash").expect("a flash message");
    assert!(flash.starts_with("capq_flash=err"), "{flash}");
}

#[test]
fn every_action_through_the_api() {
    let redis = RedisServer::start();
    let app = App::new(&redis, Some("s3cret"));
    let bearer = ("authorization", "Bearer s3cret");
    let f1 = app.enqueue("default", "capq.fail", vec![s("one")]);
    let f2 = app.enqueue("default", "capq.fail", vec![s("two")]);
    let f3 = app.enqueue("other", "capq.fail", vec![s("three")]);
    drain(&redis, "default,other");

    // Requeue some, then every failure of a queue, then of all queues.
    let reply = app.post_json(
        "/api/failed/requeue",
        &[bearer],
        &format!("{{\"ids\": [\"{f1}\"]}}"),
    );
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["ids"][0], f1.as_str());
    let again = app.post_json(
        "/api/failed/requeue",
        &[bearer],
        &format!("{{\"ids\": [\"{f1}\"]}}"),
    );
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "requeueing a queued job does nothing"
    );
    let reply = app.post_json("/api/queues/other/requeue-failed", &[bearer], "");
    assert_eq!(reply.json()["ids"][0], f3.as_str());
    let reply = app.post_json("/api/failed/requeue", &[bearer], "{\"all\": true}");
    assert_eq!(reply.json()["ids"][0], f2.as_str());
    for id in [&f1, &f2, &f3] {
        assert_eq!(app.status(id), "queued");
    }
    let bad = app.post_json("/api/failed/requeue", &[bearer], "{\"idz\": 1}");
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Cancel a queued job, delete another, empty a queue.
    assert_eq!(
        app.post_json(&format!("/api/jobs/{f1}/cancel"), &[bearer], "")
            .status,
        StatusCode::OK
    );
    assert_eq!(app.status(&f1), "canceled");
    assert_eq!(
        app.post_json(&format!("/api/jobs/{f1}/delete"), &[bearer], "")
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get_with(&format!("/api/jobs/{f1}"), &[bearer]).status,
        StatusCode::NOT_FOUND
    );
    let emptied = app.post_json("/api/queues/default/empty", &[bearer], "");
    assert!(
        emptied.json()["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1 queued job"),
        "{}",
        emptied.body
    );
    let queue = app.get_with("/api/queues/default", &[bearer]).json();
    assert_eq!(queue["counts"]["queued"], 0);

    // Suspend and resume: the worker hash flag RQ's `rq suspend` sets.
    app.post_json("/api/suspend", &[bearer], "");
    assert_eq!(redis.command(&["EXISTS", "rq:suspended"]).int(), Some(1));
    assert_eq!(
        app.get_with("/api/overview", &[bearer]).json()["suspended"],
        true
    );
    app.post_json("/api/resume", &[bearer], "");
    assert_eq!(redis.command(&["EXISTS", "rq:suspended"]).int(), Some(0));

    // Stop a running job.
    let sleeper = app.enqueue("slow", "capq.sleep", vec![Value::Int(30)]);
    let _worker = spawn_worker(&redis, None, &["--queues", "slow"]);
    eventually("the job to start", Duration::from_secs(20), || {
        app.get_with(&format!("/api/jobs/{sleeper}"), &[bearer])
            .json()["status"]
            == "started"
    });
    let workers = app.get_with("/api/workers", &[bearer]).json();
    assert_eq!(
        workers["workers"][0]["current_job"],
        sleeper.as_str(),
        "{workers}"
    );
    let stop = app.post_json(&format!("/api/jobs/{sleeper}/stop"), &[bearer], "");
    assert_eq!(stop.status, StatusCode::OK, "{}", stop.body);
    eventually("the job to stop", Duration::from_secs(20), || {
        app.get_with(&format!("/api/jobs/{sleeper}"), &[bearer])
            .json()["status"]
            == "stopped"
    });
}

#[test]
fn with_a_token_everything_but_the_probes_needs_it() {
    let redis = RedisServer::start();
    let app = App::new(&redis, Some("s3cret"));
    for path in ["/", "/workers", "/failed", "/queues/default", "/jobs/x"] {
        let reply = app.get(path);
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            reply.body.contains("name=\"token\""),
            "{path} shows no login form"
        );
    }
    for path in ["/api/overview", "/api/failed", "/metrics"] {
        let reply = app.get(path);
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(reply.json()["status"], 401, "{path}");
        let wrong = app.get_with(path, &[("authorization", "Bearer s3cre")]);
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{path}");
        let right = app.get_with(path, &[("authorization", "Bearer s3cret")]);
        assert_eq!(right.status, StatusCode::OK, "{path}: {}", right.body);
    }
    // Actions without the token are refused before anything else.
    let refused = app.post_form("/suspend", &[], &[("confirmed", "1")]);
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(redis.command(&["EXISTS", "rq:suspended"]).int(), Some(0));
    // Probes need no token.
    assert_eq!(app.get("/healthz").status, StatusCode::OK);
    assert_eq!(app.get("/healthz/ready").status, StatusCode::OK);

    // Logging in: a wrong token is refused; the right one sets a cookie that opens pages.
    let wrong = app.post_form("/login", &[], &[("token", "nope"), ("next", "/failed")]);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.cookie("capq_session").is_none());
    let login = app.post_form("/login", &[], &[("token", "s3cret"), ("next", "/failed")]);
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert_eq!(login.location(), Some("/failed"));
    let cookie = login.cookie("capq_session").expect("a session cookie");
    let page = app.get_with("/failed", &[("cookie", &cookie)]);
    assert_eq!(page.status, StatusCode::OK);
    // The logged-in browser still needs the CSRF token to act.
    let no_csrf = app.post_form("/suspend", &[("cookie", &cookie)], &[("confirmed", "1")]);
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    assert_eq!(redis.command(&["EXISTS", "rq:suspended"]).int(), Some(0));
    let csrf = page.csrf();
    let done = app.post_form(
        "/suspend",
        &[("cookie", &cookie)],
        &[("csrf", &csrf), ("confirmed", "1")],
    );
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(redis.command(&["EXISTS", "rq:suspended"]).int(), Some(1));
    // A session made under another token is worthless.
    let other = App::new(&redis, Some("other"));
    assert_eq!(
        other.get_with("/", &[("cookie", &cookie)]).status,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn loopback_dashboards_answer_only_loopback_hosts() {
    let redis = RedisServer::start();
    let app = App::new(&redis, None);
    let rebinding = app.get_with("/", &[("host", "evil.example:9181")]);
    assert_eq!(rebinding.status, StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(
        app.get_with("/", &[("host", "localhost:9181")]).status,
        StatusCode::OK
    );
    // Every answer carries the content security policy that forbids inline script.
    let page = app.get("/");
    let policy = page
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok());
    assert!(
        policy.is_some_and(|p| p.contains("script-src 'self'")),
        "{policy:?}"
    );
}

#[test]
fn lists_are_paginated_on_the_server() {
    let redis = RedisServer::start();
    let app = App::new(&redis, None);
    let jobs: Vec<String> = (0..120)
        .map(|_| app.enqueue("default", "capq.noop", vec![]))
        .collect();
    let first = app
        .get("/api/queues/default?state=queued&per_page=50")
        .json();
    assert_eq!(first["total"], 120);
    assert_eq!(first["pages"], 3);
    assert_eq!(first["jobs"].as_array().map(Vec::len), Some(50));
    assert_eq!(first["jobs"][0]["id"], jobs[0].as_str());
    let last = app
        .get("/api/queues/default?state=queued&per_page=50&page=3")
        .json();
    assert_eq!(last["jobs"].as_array().map(Vec::len), Some(20));
    assert_eq!(last["jobs"][19]["id"], jobs[119].as_str());
    let html = app.get("/queues/default?state=queued&page=3").body;
    assert!(html.contains("101–120 of 120"), "{html}");
    drain(&redis, "default");
    let finished = app
        .get("/api/queues/default?state=finished&per_page=100&page=2")
        .json();
    assert_eq!(finished["total"], 120);
    assert_eq!(finished["jobs"].as_array().map(Vec::len), Some(20));
}

#[test]
fn metrics_and_probes() {
    let mut redis = RedisServer::start();
    let app = App::new(&redis, None);
    let out = tempfile::tempdir().expect("temp dir");
    app.enqueue("default", "capq.noop", vec![]);
    app.enqueue("default", "capq.fail", vec![s("x")]);
    let day = app.enqueue(
        "default",
        "capq.process_day",
        vec![
            s("2016-11-24"),
            s(&format!("{}/a.csv", out.path().display())),
        ],
    );
    drain(&redis, "default");
    assert_eq!(app.status(&day), "finished");
    let metrics = app.get("/metrics");
    assert_eq!(metrics.status, StatusCode::OK);
    let text = &metrics.body;
    for line in [
        "capq_queue_jobs{queue=\"default\",state=\"finished\"} 2",
        "capq_queue_jobs{queue=\"default\",state=\"failed\"} 1",
        "capq_jobs_finished_total 2",
        "capq_jobs_failed_total 1",
        "capq_job_duration_seconds_bucket{le=\"+Inf\"} 3",
        "capq_job_duration_seconds_count 3",
        "capq_workers{state=\"busy\"} 0",
        "capq_suspended 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert!(text.contains("# TYPE capq_job_duration_seconds histogram"));

    assert_eq!(app.get("/healthz/ready").status, StatusCode::OK);
    redis.kill();
    let down = app.get("/healthz/ready");
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.body.contains("Redis at redis://"), "{}", down.body);
    assert_eq!(app.get("/healthz").status, StatusCode::OK);
    let page = app.get("/");
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.body.contains("Redis is unavailable"), "{}", page.body);
}

#[test]
fn the_depth_history_survives_a_restart_and_is_shared() {
    let redis = RedisServer::start();
    let config = || capq_dashboard::Config {
        sample_every: Duration::from_millis(50),
        ..capq_dashboard::Config::default()
    };
    let first = App::with_config(&redis, config());
    for queued in 0..3 {
        first.enqueue("default", "capq.noop", vec![]);
        let sample = first.block_on(first.state.sample()).expect("sample");
        assert_eq!(sample.queued, queued + 1);
        std::thread::sleep(Duration::from_millis(60));
    }
    // A restarted (or second) dashboard starts with the samples the first one took.
    let second = App::with_config(&redis, config());
    assert!(second.state.history().is_empty());
    let restored = second.block_on(second.state.restore()).expect("restore");
    assert_eq!(restored, 3);
    let queued: Vec<u64> = second.state.history().iter().map(|s| s.queued).collect();
    assert_eq!(queued, [1, 2, 3]);
    let overview = second.get("/api/overview").json();
    assert_eq!(
        overview["depth"].as_array().map(Vec::len),
        Some(3),
        "{overview}"
    );
    let page = second.get("/");
    assert!(
        page.body.contains("<polyline class=\"queued\""),
        "{}",
        page.body
    );
    // Samples the two take in one slot are stored once.
    let slot = capq_dashboard::Config {
        sample_every: Duration::from_secs(3600),
        ..capq_dashboard::Config::default()
    };
    let (a, b) = (
        App::with_config(&redis, slot.clone()),
        App::with_config(&redis, slot),
    );
    redis.command(&["DEL", "capq:depth"]);
    a.block_on(a.state.sample()).expect("sample");
    b.block_on(b.state.sample()).expect("sample");
    assert_eq!(redis.command(&["ZCARD", "capq:depth"]).int(), Some(1));
}

#[test]
fn stop_job_is_offered_only_for_a_job_being_run() {
    let redis = RedisServer::start();
    let app = App::new(&redis, None);
    let done = app.enqueue("default", "capq.noop", vec![]);
    drain(&redis, "default");
    assert_eq!(app.status(&done), "finished");
    // A running job on a real worker: busy, in the started registry, stoppable.
    let sleeper = app.enqueue("slow", "capq.sleep", vec![Value::Int(60)]);
    let _worker = spawn_worker(&redis, None, &["--queues", "slow", "--name", "runner"]);
    eventually("the job to start", Duration::from_secs(20), || {
        app.status(&sleeper) == "started"
    });
    eventually("the worker to show it", Duration::from_secs(20), || {
        app.get("/api/workers").json()["workers"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w["current_job"] == sleeper.as_str()))
    });
    // The states a worker that does not clear `current_job` leaves behind: busy with a
    // finished job, idle with one, and busy with a job that is gone.
    let ghosts = [
        ("ghost-busy", "busy", done.as_str()),
        ("ghost-idle", "idle", done.as_str()),
        ("ghost-gone", "busy", "no-such-job"),
    ];
    for (name, state, job) in ghosts {
        let key = format!("rq:worker:{name}");
        redis.command(&["SADD", "rq:workers", &key]);
        redis.command(&[
            "HSET",
            &key,
            "state",
            state,
            "current_job",
            job,
            "queues",
            "default",
            "last_heartbeat",
            "2030-01-01T00:00:00.000000Z",
        ]);
    }

    let workers = app.get("/api/workers").json();
    let running = |name: &str| {
        workers["workers"]
            .as_array()
            .and_then(|all| all.iter().find(|w| w["name"] == name))
            .map(|w| w["running"].clone())
    };
    assert_eq!(
        running("runner"),
        Some(serde_json::json!(true)),
        "{workers}"
    );
    for (name, _, _) in ghosts {
        assert_eq!(
            running(name),
            Some(serde_json::json!(false)),
            "{name}: {workers}"
        );
    }
    let page = app.get("/workers").body;
    let stop_forms = page.matches("/stop\"").count();
    assert_eq!(
        stop_forms, 1,
        "one Stop job button, for the running job:\n{page}"
    );
    assert!(
        page.contains(&format!("action=\"/jobs/{sleeper}/stop\"")),
        "{page}"
    );
    assert!(
        !page.contains(&format!("action=\"/jobs/{done}/stop\"")),
        "{page}"
    );
    assert!(page.contains("(not running)"), "{page}");
}
