//! Batch pages: a batch enqueued with `--aggregate`, its days run by real `capq worker`
//! processes into a folder. While one day is held back, the page shows a partial aggregate of
//! the other three, with the very numbers `capq aggregate` gives for them; once the last day and
//! the aggregate job have run, it shows the stored aggregate, and offers its files. Through the
//! handlers in-process, and in chromium against a real `capq dashboard` (charts drawn, nothing
//! fetched from elsewhere, screenshots in `target/screenshots/batch-*.png`).

use std::path::PathBuf;
use std::time::Duration;

use axum::http::StatusCode;
use capq_dashboard::{Config, Outputs};
use capq_storage::{OutputAllowList, Storage};
use capq_test_support::RedisServer;
use capq_test_support::net::free_port;
use fantoccini::{Client, Locator};
use serde_json::{Value as Json, json};

use super::browser::{Driver, chromium, http_status, wait_for_text};
use super::{App, drain};
use crate::queue::{eventually, run_capq, spawn_capq};
use crate::report_browser::{CHARTS, save_png};

const DAYS: &str = "2016-11-24..2016-11-27";
const HELD_BACK: &str = "2016-11-27";

/// A batch of four days with its aggregate, three of the days run.
struct RunningBatch {
    dir: tempfile::TempDir,
    id: String,
    aggregate: String,
    held_back: String,
    /// The (pinned) queue the batch is on.
    queue: String,
}

impl RunningBatch {
    fn output(&self) -> String {
        format!("{}/", self.dir.path().display())
    }

    fn folder(&self) -> PathBuf {
        self.dir.path().join("aggregate")
    }
}

fn status(redis: &RedisServer, id: &str) -> String {
    redis
        .command(&["HGET", &format!("rq:job:{id}"), "status"])
        .text()
        .unwrap_or_default()
}

/// Enqueues the batch, takes one day off the queue, and runs the other three.
fn running_batch(redis: &RedisServer) -> RunningBatch {
    let dir = tempfile::tempdir().unwrap();
    let output = format!("{}/", dir.path().display());
    let enqueued = run_capq(
        &[
            "enqueue",
            "--url",
            &redis.url(),
            "--days",
            DAYS,
            "--output",
            &output,
            "--aggregate",
            "--json",
        ],
        &[],
    );
    assert!(enqueued.status.success(), "{enqueued:?}");
    let printed: Json = serde_json::from_slice(&enqueued.stdout).unwrap();
    let held_back = printed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["day"] == HELD_BACK)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let queue = printed["queue"].as_str().unwrap().to_owned();
    redis.command(&["LREM", &format!("rq:queue:{queue}"), "0", &held_back]);
    drain(redis, "default");
    let batch = RunningBatch {
        id: printed["batch"].as_str().unwrap().to_owned(),
        aggregate: printed["aggregate"]["id"].as_str().unwrap().to_owned(),
        held_back,
        queue,
        dir,
    };
    assert_eq!(status(redis, &batch.aggregate), "deferred");
    batch
}

/// Puts the held-back day back and runs it, and then the aggregate.
fn finish(redis: &RedisServer, batch: &RunningBatch) {
    redis.command(&[
        "RPUSH",
        &format!("rq:queue:{}", batch.queue),
        &batch.held_back,
    ]);
    eventually("the aggregate to finish", Duration::from_secs(120), || {
        drain(redis, "default");
        status(redis, &batch.aggregate) == "finished"
    });
}

fn outputs(prefix: &str) -> Outputs {
    Outputs {
        storage: Storage::from_env_vars(Vec::<(String, String)>::new()).unwrap(),
        allowed: OutputAllowList::parse(&[prefix]).unwrap(),
    }
}

fn app(redis: &RedisServer, readable: &str) -> App {
    App::with_config(
        redis,
        Config {
            outputs: Some(outputs(readable)),
            report_refresh: Duration::ZERO,
            report_wait: Duration::from_secs(120),
            ..Config::default()
        },
    )
}

/// `capq aggregate`'s summary.json for `days` of `input`.
fn summary_by_hand(input: &str, days: &str) -> Json {
    let out = tempfile::tempdir().unwrap();
    let output = run_capq(
        &[
            "aggregate",
            "--input",
            input,
            "--output",
            out.path().to_str().unwrap(),
            "--days",
            days,
        ],
        &[],
    );
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_batch_page_shows_a_partial_aggregate_then_the_stored_one() {
    let redis = RedisServer::start();
    let batch = running_batch(&redis);
    let app = app(&redis, &batch.output());
    let page_url = format!("/batches/{}", batch.id);

    // The overview's progress bar leads to the batch's page.
    let overview = app.get("/");
    assert!(
        overview
            .body
            .contains(&format!("class=\"progress-link\" href=\"{page_url}\"")),
        "{}",
        overview.body
    );
    assert_eq!(
        app.get("/api/overview").json()["batches"][0]["has_aggregate"],
        true
    );

    // Three of four days done: a partial aggregate of exactly those three.
    let api = app.get(&format!("/api{page_url}"));
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let api = api.json();
    let aggregate = &api["aggregate"];
    assert_eq!(aggregate["job_status"], "deferred", "{api}");
    assert_eq!(aggregate["days_done"], 3, "{api}");
    assert_eq!(aggregate["days_pending"], 1, "{api}");
    assert_eq!(aggregate["report"]["kind"], "partial", "{api}");
    assert_eq!(
        aggregate["report"]["summary"],
        summary_by_hand(&batch.output(), "2016-11-24..2016-11-26"),
        "the partial aggregate is capq aggregate's over the days done"
    );
    let page = app.get(&page_url);
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Partial: 3 of 4 days."), "{}", page.body);
    assert!(page.body.contains("Partial aggregate"), "{}", page.body);
    for key in CHARTS {
        assert!(
            page.body.contains(&format!("id=\"report-{key}-svg\"")),
            "{key}"
        );
    }
    assert!(
        !page.body.contains("/files/report.html"),
        "no files before the job ran"
    );
    let version = |body: &str| {
        let start = body.find("data-version=\"").unwrap() + "data-version=\"".len();
        body[start..start + 16].to_owned()
    };
    let partial_version = version(&page.body);
    assert_eq!(
        version(&app.get(&page_url).body),
        partial_version,
        "nothing changed"
    );
    assert!(!batch.folder().exists(), "the aggregate job has not run");

    // The last day, then the aggregate: the page shows what the job stored.
    finish(&redis, &batch);
    let api = app.get(&format!("/api{page_url}")).json();
    let aggregate = &api["aggregate"];
    assert_eq!(aggregate["job_status"], "finished", "{api}");
    assert_eq!(aggregate["report"]["kind"], "final", "{api}");
    let stored: Json =
        serde_json::from_slice(&std::fs::read(batch.folder().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(aggregate["report"]["summary"], stored);
    assert_eq!(stored["days"]["total"], 4);
    let page = app.get(&page_url);
    assert!(page.body.contains("as its job stored it"), "{}", page.body);
    assert!(!page.body.contains("Partial: "), "{}", page.body);
    assert_ne!(version(&page.body), partial_version);

    // Its files, as downloads; nothing else.
    let file = app.get(&format!("{page_url}/files/summary.json"));
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(
        file.headers["content-disposition"].to_str().unwrap(),
        "attachment; filename=\"summary.json\""
    );
    assert_eq!(
        file.body.as_bytes(),
        std::fs::read(batch.folder().join("summary.json")).unwrap()
    );
    let report = app.get(&format!("{page_url}/files/report.html"));
    assert_eq!(report.status, StatusCode::OK);
    assert!(report.body.starts_with("<!DOCTYPE html>"));
    for bad in ["notes.txt", "..%2F..%2Fetc%2Fpasswd", "%2E%2E"] {
        let refused = app.get(&format!("{page_url}/files/{bad}"));
        assert_eq!(
            refused.status,
            StatusCode::NOT_FOUND,
            "{bad}: {}",
            refused.body
        );
    }
    assert_eq!(
        app.get("/batches/no-such-batch").status,
        StatusCode::NOT_FOUND
    );

    // A dashboard that may not read the folder says so, and reads nothing.
    let elsewhere = self::app(&redis, "s3://");
    let api = elsewhere.get(&format!("/api{page_url}")).json();
    assert_eq!(api["aggregate"]["report"], Json::Null, "{api}");
    assert!(
        api["aggregate"]["report_error"]
            .as_str()
            .is_some_and(|e| e.contains("reads only under s3://")),
        "{api}"
    );
    assert_eq!(
        elsewhere
            .get(&format!("{page_url}/files/summary.json"))
            .status,
        StatusCode::FORBIDDEN
    );
}

/// Checks the report in the page: every chart drawn, with a size.
async fn charts_drawn(client: &Client, what: &str) {
    for key in CHARTS {
        let size = client
            .execute(
                "const svg = document.getElementById(arguments[0]);
                 if (!svg) return null;
                 const r = svg.getBoundingClientRect();
                 return [r.width, r.height, svg.querySelectorAll('rect, path, circle, polyline, line').length];",
                vec![json!(format!("report-{key}-svg"))],
            )
            .await
            .expect("measure the chart");
        let size: Vec<f64> = serde_json::from_value(size.clone())
            .unwrap_or_else(|_| panic!("{what}: no chart {key}: {size}"));
        assert!(
            size[0] > 300.0 && size[1] > 100.0,
            "{what}: {key} is {size:?}"
        );
        assert!(size[2] > 5.0, "{what}: {key} draws nothing: {size:?}");
    }
}

/// Every resource the page loaded, as URLs.
async fn resources(client: &Client) -> Vec<String> {
    let loaded = client
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name);",
            vec![],
        )
        .await
        .expect("the resources");
    serde_json::from_value(loaded).expect("a list of URLs")
}

async fn screenshot_of(client: &Client, css: &str, name: &str) -> PathBuf {
    let element = client.find(Locator::Css(css)).await.expect(css);
    save_png(name, &element.screenshot().await.expect("screenshot"))
}

#[test]
fn batch_pages_and_the_stored_report_in_chromium() {
    let redis = RedisServer::start();
    let batch = running_batch(&redis);
    let port = free_port();
    let dashboard = spawn_capq(
        &[
            "dashboard",
            "--url",
            &redis.url(),
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--read-outputs",
            &batch.output(),
        ],
        &[],
    );
    eventually("the dashboard to answer", Duration::from_secs(20), || {
        http_status(port, "/healthz") == Some(200)
    });
    let (driver, driver_port) = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let shots = runtime.block_on(async {
        let client = chromium(driver_port, profile.path()).await;
        let mut shots = Vec::new();

        // From the overview's progress bar to the batch's page.
        client.goto(&format!("{base}/")).await.expect("overview");
        let link = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("a.progress-link"))
            .await
            .expect("the progress bar's link");
        shots.push(screenshot_of(&client, "#batches", "batch-overview.png").await);
        link.click().await.expect("follow it");
        let banner = wait_for_text(
            &client,
            ".capq-report .banner.partial",
            "Partial: 3 of 4 days.",
            Duration::from_secs(60),
        )
        .await;
        assert!(banner.contains("still running"), "{banner}");
        assert_eq!(
            client.current_url().await.unwrap().path(),
            format!("/batches/{}", batch.id)
        );
        charts_drawn(&client, "the partial aggregate").await;
        shots.push(save_png(
            "batch-partial.png",
            &client.screenshot().await.unwrap(),
        ));
        shots.push(screenshot_of(&client, "#batch-status", "batch-status.png").await);

        // The last day and the aggregate run; the page updates itself to the stored aggregate.
        std::thread::scope(|scope| {
            scope.spawn(|| finish(&redis, &batch));
        });
        wait_for_text(
            &client,
            "#batch-report .report-head",
            "as its job stored it",
            Duration::from_secs(90),
        )
        .await;
        charts_drawn(&client, "the stored aggregate").await;
        let own: Vec<String> = resources(&client).await;
        assert!(!own.is_empty());
        for url in &own {
            assert!(
                url.starts_with(&format!("{base}/")),
                "the page fetched {url}"
            );
        }
        shots.push(save_png(
            "batch-final.png",
            &client.screenshot().await.unwrap(),
        ));
        for key in ["daily", "routes", "heatmap"] {
            shots.push(
                screenshot_of(
                    &client,
                    &format!("#report-{key}"),
                    &format!("batch-{key}.png"),
                )
                .await,
            );
        }
        assert!(client.get_alert_text().await.is_err(), "an alert opened");

        // The stored report.html, on its own: every chart, no script, nothing fetched.
        let report = batch.folder().join("report.html");
        client
            .goto(&format!("file://{}", report.display()))
            .await
            .expect("open report.html");
        charts_drawn(&client, "report.html").await;
        assert_eq!(resources(&client).await, Vec::<String>::new());
        let scripts = client
            .execute("return document.scripts.length;", vec![])
            .await
            .unwrap();
        assert_eq!(scripts, json!(0));
        shots.push(save_png(
            "batch-report-html.png",
            &client.screenshot().await.unwrap(),
        ));
        client.close().await.expect("close the session");
        shots
    });
    drop(driver);
    drop(dashboard);
    for shot in shots {
        let size = std::fs::metadata(&shot).unwrap().len();
        assert!(size > 5_000, "{} is blank ({size} bytes)", shot.display());
    }
}
