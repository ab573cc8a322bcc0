//! The Runs pages and the diff page, in-process over a real Redis, of runs made by the real
//! `capq run` over the sample days: once with the defaults, once with
//! `--param group_max_distance=0.35`. What the pages and `/api/diff` show is checked against
//! `capq diff --json` of the same two runs, and against the run manifests on disk; hostile
//! ids, labels and error texts must show as text, and unknown runs and folders are 404s that
//! name them.

use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;
use capq_dashboard::{Config, RunFolders};
use capq_storage::{Location, Storage};
use capq_test_support::RedisServer;
use capq_test_support::net::free_port;
use fantoccini::Locator;
use serde_json::Value;

use super::browser::{Driver, chromium, http_status, wait_for_text};
use super::{App, Reply, SCRIPT};
use crate::queue::{eventually, spawn_capq};
use crate::report_browser::save_png;
use crate::{capq, stderr, stdout};

/// A run id no file system forbids, made of markup.
const HOSTILE_ID: &str = "\"><img src=x onerror=alert(1)>";

/// `capq run --json` over the sample into `out`, with `extra` arguments; returns its JSON.
use crate::diff::run_sample as capq_run;

/// `capq diff A B --output out --json`, with `extra` arguments.
fn capq_diff_json(out: &Path, a: &str, b: &str, extra: &[&str]) -> Value {
    let mut args = vec!["diff", a, b, "--output", out.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let output = capq(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)))
}

/// Two runs in a temporary output folder: the defaults, then `group_max_distance=0.35`.
fn two_runs() -> (tempfile::TempDir, String, String) {
    let out = tempfile::tempdir().unwrap();
    let first = capq_run(out.path(), &[]);
    let second = capq_run(out.path(), &["--param", "group_max_distance=0.35"]);
    let id = |run: &Value| run["run"].as_str().expect("a run id").to_owned();
    (out, id(&first), id(&second))
}

/// The dashboard over `redis`, listing the runs of `folders`.
fn app(redis: &RedisServer, folders: &[&Path]) -> App {
    let storage = Storage::from_env_vars(Vec::<(String, String)>::new()).expect("storage");
    let locations = folders
        .iter()
        .map(|p| Location::Path(p.to_path_buf()))
        .collect();
    App::with_config(
        redis,
        Config {
            runs: Some(RunFolders::new(storage, locations)),
            ..Config::default()
        },
    )
}

fn ok(reply: Reply, what: &str) -> Reply {
    assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
    reply
}

/// The text of the `value` of the tile with this id: `<div class="tile…" id="ID">…<div
/// class="value">TEXT</div>`.
fn tile(body: &str, id: &str) -> String {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no tile {id}"));
    let marker = "class=\"value\">";
    let start = body[at..].find(marker).expect("a value") + at + marker.len();
    let end = body[start..].find('<').expect("its end") + start;
    body[start..end].to_owned()
}

/// A change in percentage points as the diff views write it.
fn points(x: f64) -> String {
    let text = format!("{x:+.2} pp");
    if text == "-0.00 pp" {
        "+0.00 pp".to_owned()
    } else {
        text
    }
}

fn interval(figures: &Value) -> String {
    format!(
        "{:.2}–{:.2}",
        figures["otp_lo"].as_f64().unwrap() * 100.0,
        figures["otp_hi"].as_f64().unwrap() * 100.0
    )
}

/// A count as the pages write it: `12,345`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[test]
fn runs_pages_list_show_and_diff_two_runs_as_capq_diff_does() {
    let redis = RedisServer::start();
    let (out, first, second) = two_runs();
    let app = app(&redis, &[out.path()]);

    // The list: both runs, newest first, the changed parameter, every day ok.
    let runs = ok(app.get("/api/runs"), "/api/runs").json();
    let folder = &runs["folders"][0];
    assert_eq!(folder["key"], "1");
    let listed = folder["runs"].as_array().unwrap();
    let ids: Vec<&str> = listed.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()]);
    assert_eq!(
        listed[0]["params_changed"],
        serde_json::json!(["group_max_distance=0.35"])
    );
    assert_eq!(listed[1]["params_changed"], serde_json::json!([]));
    assert_eq!(listed[0]["previous"], first.as_str());
    assert!(listed[1]["previous"].is_null());
    for run in listed {
        assert_eq!(run["days"]["ok"], 4, "{run}");
        assert_eq!(run["kind"], "run");
        assert!(run["otp"].as_f64().is_some(), "{run}");
    }
    let page = ok(app.get("/runs"), "/runs").body;
    let first_at = page
        .find(&format!(">{first}<"))
        .expect("the first run listed");
    let second_at = page
        .find(&format!(">{second}<"))
        .expect("the second run listed");
    assert!(second_at < first_at, "the newest run comes first");
    assert!(page.contains("group_max_distance=0.35"));
    assert!(
        page.contains(&format!(
            "href=\"/diff?folder=1&amp;a={first}&amp;b={second}\""
        )),
        "a diff-with-previous link"
    );
    assert!(page.contains(&format!("href=\"/runs/1/{second}\"")));
    assert!(
        page.contains("href=\"/runs\">Runs</a>"),
        "the nav links the runs page"
    );

    // A run's page: every day, with the figures its manifest on disk holds.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(out.path().join(format!(".capq/runs/{second}/run.json"))).unwrap(),
    )
    .unwrap();
    let page = ok(app.get(&format!("/runs/1/{second}")), "run page").body;
    let api = ok(app.get(&format!("/api/runs/1/{second}")), "run api").json();
    assert_eq!(
        api["days"], manifest["days"],
        "the API gives the recorded days"
    );
    for day in manifest["days"].as_array().unwrap() {
        for text in [
            day["day"].as_str().unwrap().to_owned(),
            grouped(day["rows_in"].as_u64().unwrap()),
            grouped(day["rows_out"].as_u64().unwrap()),
            day["output"]["hash"].as_str().unwrap().to_owned(),
        ] {
            assert!(page.contains(&text), "the run page lacks {text:?}");
        }
        assert_eq!(day["reason"], "params-changed");
    }
    assert!(page.contains("params-changed"));
    // `latest` names the same run.
    let latest = ok(app.get("/api/runs/1/latest"), "latest").json();
    assert_eq!(latest["run"]["id"], second.as_str());

    // The diff: the same figures as `capq diff --json` of the same runs.
    let cli = capq_diff_json(out.path(), "latest~1", "latest", &[]);
    let api = ok(
        app.get("/api/diff?folder=1&a=latest~1&b=latest"),
        "api diff",
    )
    .json();
    assert_eq!(api, cli, "/api/diff is `capq diff --json`");
    let changed = cli["days"]["changed"].as_array().unwrap().len();
    assert!(changed > 0, "the parameter moves some days: {cli}");
    let page = ok(app.get("/diff?folder=1&a=latest~1&b=latest"), "diff page").body;
    assert_eq!(tile(&page, "days-changed"), changed.to_string());
    assert_eq!(
        tile(&page, "rows-changed"),
        grouped(cli["rows"]["changed"].as_u64().unwrap())
    );
    let system = &cli["otp"]["system"];
    let change = points(system["change_pp"].as_f64().unwrap());
    let row_at = page.find("id=\"otp-system\"").expect("the system OTP row");
    let row = &page[row_at..row_at + page[row_at..].find("</tr>").unwrap()];
    for text in [&change, &interval(&system["a"]), &interval(&system["b"])] {
        assert!(
            row.contains(text.as_str()),
            "the system row lacks {text}: {row}"
        );
    }
    for section in [
        "Provenance",
        "group_max_distance",
        "Row classes",
        "Where the",
        "Sample rows",
    ] {
        assert!(page.contains(section), "the diff page lacks {section:?}");
    }
    // Ids name the same runs as latest~1 and latest; the API then names them by id.
    let by_id = ok(
        app.get(&format!("/api/diff?folder=1&a={first}&b={second}")),
        "diff by id",
    )
    .json();
    assert_eq!(by_id["rows"], cli["rows"]);
    assert_eq!(by_id["otp"], cli["otp"]);
    assert_eq!(by_id["a"]["label"], first.as_str());
    // Another on-time window, as `--profile` gives it; a profile that does not exist is a 400.
    let capmetro = capq_diff_json(out.path(), "latest~1", "latest", &["--profile", "capmetro"]);
    let api = ok(
        app.get("/api/diff?folder=1&a=latest~1&b=latest&profile=capmetro"),
        "capmetro",
    )
    .json();
    assert_eq!(
        api, capmetro,
        "/api/diff with a profile is `capq diff --profile`"
    );
    assert_ne!(capmetro["otp"], cli["otp"], "the window moves the figures");
    let bad = app.get("/api/diff?folder=1&profile=nope");
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"].as_str().unwrap().contains("capmetro"));
    // The defaults are the latest two of the first folder.
    let page = ok(app.get("/diff"), "diff with defaults").body;
    assert_eq!(tile(&page, "days-changed"), changed.to_string());
    // A run with itself: nothing differs.
    let page = ok(app.get("/diff?folder=1&a=latest&b=latest"), "self diff").body;
    assert!(page.contains("No differences."), "{page}");

    // A live refresh gets the layout alone: the diff is not computed again.
    let live = ok(
        app.get_with(
            "/diff?folder=1&a=latest~1&b=latest",
            &[("x-capq-live", "1")],
        ),
        "live",
    );
    assert!(live.body.contains("id=\"suspension\""));
    assert!(!live.body.contains("days-changed"));
}

#[test]
fn hostile_ids_labels_and_errors_show_as_text_and_unknown_runs_are_404s() {
    let redis = RedisServer::start();
    let (out, first, _second) = two_runs();
    // A run whose id is markup, newest of all, whose first day failed with markup for an error.
    let mut manifest: Value = serde_json::from_slice(
        &std::fs::read(out.path().join(format!(".capq/runs/{first}/run.json"))).unwrap(),
    )
    .unwrap();
    manifest["id"] = HOSTILE_ID.into();
    manifest["started"] = "2099-01-01T00:00:00.000Z".into();
    manifest["params"]["changed"] = serde_json::json!([SCRIPT]);
    let day = &mut manifest["days"][0];
    day["status"] = "failed".into();
    day["error"] = SCRIPT.into();
    day.as_object_mut().unwrap().remove("output");
    let folder = out.path().join(".capq/runs").join(HOSTILE_ID);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("run.json"), manifest.to_string()).unwrap();
    let app = app(&redis, &[out.path()]);
    let escaped_id = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";
    let escaped_script = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let raw = |reply: &Reply| reply.body.contains("<img src=x") || reply.body.contains(SCRIPT);

    let list = ok(app.get("/runs"), "/runs");
    assert!(!raw(&list), "/runs carries raw markup");
    assert!(list.body.contains(escaped_id) && list.body.contains(escaped_script));

    let segment = "%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E";
    let run = ok(app.get(&format!("/runs/1/{segment}")), "the hostile run");
    assert!(!raw(&run), "the run page carries raw markup");
    assert!(run.body.contains(escaped_id) && run.body.contains(escaped_script));
    assert!(run.body.contains("failed"));

    // B is the hostile run: its failing day, with its error, is newly failing.
    let diff = ok(
        app.get("/diff?folder=1&a=latest~1&b=latest"),
        "hostile diff",
    );
    assert!(!raw(&diff), "the diff page carries raw markup");
    assert!(diff.body.contains(escaped_id), "the run id as text");
    assert_eq!(tile(&diff.body, "days-newly-failing"), "1");
    assert!(diff.body.contains(escaped_script), "the error as text");
    let api = ok(
        app.get("/api/diff?folder=1&a=latest~1&b=latest"),
        "hostile api",
    )
    .json();
    assert_eq!(api["b"]["run_id"], HOSTILE_ID);
    assert_eq!(api["days"]["newly_failing"][0]["error"], SCRIPT);

    // A label that is markup is no run: a 404 naming it as text, with the form to pick again.
    let query = "folder=1&a=%3Cscript%3Ealert(1)%3C%2Fscript%3E&b=latest";
    let missing = app.get(&format!("/diff?{query}"));
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    assert!(!raw(&missing), "the 404 carries raw markup");
    assert!(
        missing
            .body
            .contains(&format!("A: no run \"{escaped_script}\"").replace('"', "&quot;")),
        "{}",
        missing.body
    );
    assert!(missing.body.contains("action=\"/diff\""), "the form again");
    let missing = app.get(&format!("/api/diff?{query}"));
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let error = missing.json()["error"].as_str().unwrap().to_owned();
    assert!(error.contains(SCRIPT) && error.contains(&first), "{error}");

    // Unknown runs and folders, and ids that try to leave the folder, are 404s naming them.
    for (path, named) in [
        ("/runs/1/run-1-dead".to_owned(), "no run \"run-1-dead\""),
        ("/runs/1/latest~9".to_owned(), "no run \"latest~9\""),
        (
            "/runs/1/..%2F..%2F..%2Fetc".to_owned(),
            "no run \"../../../etc\"",
        ),
        ("/runs/7/latest".to_owned(), "no runs folder 7"),
        ("/diff?folder=x".to_owned(), "no runs folder x"),
    ] {
        let reply = app.get(&path);
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.body
        );
        let named = named.replace('"', "&quot;");
        assert!(
            reply.body.contains(&named),
            "{path} does not say {named:?}: {}",
            reply.body
        );
        let api = app.get(&format!("/api{path}"));
        assert_eq!(api.status, StatusCode::NOT_FOUND, "/api{path}");
        assert_eq!(api.json()["status"], 404);
    }

    // A dashboard without --runs says how to give it some.
    let bare = App::new(&redis, None);
    let page = ok(bare.get("/runs"), "no runs");
    assert!(page.body.contains("--runs DIR"));
    assert_eq!(
        bare.get("/api/runs").json()["folders"],
        serde_json::json!([])
    );
    let diff = bare.get("/diff");
    assert_eq!(diff.status, StatusCode::NOT_FOUND);
    assert!(diff.body.contains("reads no runs"));
}

#[test]
fn runs_and_a_diff_in_chromium() {
    let redis = RedisServer::start();
    let (out, first, second) = two_runs();
    let changed = capq_diff_json(out.path(), "latest~1", "latest", &[])["days"]["changed"]
        .as_array()
        .unwrap()
        .len();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let dashboard = spawn_capq(
        &[
            "dashboard",
            "--url",
            &redis.url(),
            "--bind",
            &bind,
            "--runs",
            out.path().to_str().unwrap(),
        ],
        &[],
    );
    eventually("the dashboard to answer", Duration::from_secs(20), || {
        http_status(port, "/healthz") == Some(200)
    });
    let (driver, driver_port) = Driver::start();
    let profile = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = chromium(driver_port, profile.path()).await;
        let base = format!("http://127.0.0.1:{port}");

        // From the nav to the runs, then to the newest run's diff with the one before.
        client.goto(&format!("{base}/")).await.expect("overview");
        client
            .find(Locator::Css("header.top nav a[href=\"/runs\"]"))
            .await
            .expect("the Runs link")
            .click()
            .await
            .expect("open Runs");
        let table = wait_for_text(&client, "table.runs", &second, Duration::from_secs(10)).await;
        assert!(table.contains(&first), "{table}");
        client
            .find(Locator::LinkText("diff with previous"))
            .await
            .expect("a diff link")
            .click()
            .await
            .expect("open the diff");
        let tile = wait_for_text(
            &client,
            "#days-changed .value",
            &changed.to_string(),
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(tile, changed.to_string());
        wait_for_text(&client, "#transitions", "on time", Duration::from_secs(5)).await;
        let png = client.screenshot().await.expect("screenshot");
        save_png("dashboard-diff.png", &png);
        assert!(
            png.len() > 10_000,
            "a {}-byte screenshot is blank",
            png.len()
        );

        // A live refresh (the script says `live · <time>` after one) keeps the diff on the
        // page: it gets the layout alone, and the diff is not a live region.
        wait_for_text(&client, "#live-status", "live ·", Duration::from_secs(10)).await;
        let still =
            wait_for_text(&client, "#days-changed .value", "", Duration::from_secs(1)).await;
        assert_eq!(
            still,
            changed.to_string(),
            "a live refresh emptied the diff"
        );

        // The form: an unknown run is a 404 page that names it, with the form again.
        let a = client.find(Locator::Css("input[name=a]")).await.expect("A");
        a.clear().await.expect("clear A");
        a.send_keys("run-1-nope").await.expect("type A");
        client
            .find(Locator::Css("form.diff-form button[type=submit]"))
            .await
            .expect("Compare")
            .click()
            .await
            .expect("submit");
        wait_for_text(
            &client,
            "#error-message",
            "no run \"run-1-nope\"",
            Duration::from_secs(10),
        )
        .await;
        assert!(client.get_alert_text().await.is_err(), "an alert opened");
        client.close().await.expect("close the session");
    });
    drop(driver);
    drop(dashboard);
}
