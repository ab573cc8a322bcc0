//! report.html in a real browser: Debian's chromium, headless, driven through chromedriver by
//! fantoccini. The page is rendered from the committed aggregate fixture (its headsigns
//! include markup) and served by a tiny HTTP server on loopback that records every request,
//! so any fetch the page made (a stylesheet, a font, a favicon, a CDN script) would show up.
//! Screenshots go to `target/screenshots/report-*.png` for a person to look at.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use capq_aggregate::report::{AggregateFiles, ReportOptions, render};
use capq_test_support::net::free_port;
use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use crate::queue::eventually;

/// The charts, by the key of their section: each has an SVG `#report-{key}-svg`.
pub(crate) const CHARTS: [&str; 7] = [
    "daily",
    "hours",
    "histogram",
    "profiles",
    "routes",
    "heatmap",
    "stops",
];

/// chromedriver, killed when the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An HTTP server on 127.0.0.1 that serves fixed pages and records the path of every request.
struct PageServer {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PageServer {
    fn start(pages: Vec<(&'static str, String)>) -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        answer(stream, &pages, &requests);
                    }
                }
            })
        };
        PageServer {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("the request log").clone()
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request, records its path, and answers with the page or a 404.
fn answer(stream: TcpStream, pages: &[(&str, String)], requests: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() || request_line.is_empty() {
        return;
    }
    // Headers, up to the blank line.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    requests.lock().expect("the request log").push(path.clone());
    let mut stream = &stream;
    match pages.iter().find(|(p, _)| *p == path) {
        Some((_, body)) => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        None => {
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    }
}

fn fixture() -> AggregateFiles {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../capq-aggregate/tests/fixtures/aggregate");
    let read = |name: &str| std::fs::read(dir.join(name)).expect(name);
    AggregateFiles {
        system_daily: read("system_daily.csv"),
        route: read("route.csv"),
        route_hour: read("route_hour.csv"),
        stop: read("stop.csv"),
        histogram: read("histogram.csv"),
        headway: read("headway.csv"),
        summary_json: read("summary.json"),
    }
}

/// `target/screenshots`, next to the test binaries' temporary folder.
fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

pub(crate) fn save_png(name: &str, png: &[u8]) -> PathBuf {
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, png).expect("write the screenshot");
    path
}

#[test]
fn report_in_chromium_draws_every_chart_and_fetches_nothing() {
    let files = fixture();
    let full = render(
        &files,
        &ReportOptions {
            title: "Reference days".to_owned(),
            ..ReportOptions::default()
        },
    )
    .expect("the report renders");
    let partial = render(
        &files,
        &ReportOptions {
            title: "Batch in progress".to_owned(),
            partial: true,
            days_expected: Some(20),
        },
    )
    .expect("the partial report renders");
    let server = PageServer::start(vec![("/report.html", full), ("/partial.html", partial)]);

    let driver_port = free_port();
    let driver = Driver(
        Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts (scripts/setup-test-env installs it)"),
    );
    eventually("chromedriver to listen", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", driver_port)).is_ok()
    });
    let profile = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let shots = runtime.block_on(async {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--hide-scrollbars", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = ClientBuilder::rustls()
            .expect("TLS roots")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a chromium session");
        let mut shots = Vec::new();
        client
            .goto(&server.url("/report.html"))
            .await
            .expect("load the report");
        let title = client.title().await.expect("title");
        assert_eq!(title, "Reference days");

        // Every chart is drawn, with a size, inside the page's width (not cut off).
        for key in CHARTS {
            let size = client
                .execute(
                    "const svg = document.getElementById(arguments[0]);
                     if (!svg) return null;
                     const r = svg.getBoundingClientRect();
                     return [r.width, r.height, r.left, r.right,
                             document.documentElement.clientWidth,
                             svg.querySelectorAll('rect, path, circle, polyline, line').length];",
                    vec![json!(format!("report-{key}-svg"))],
                )
                .await
                .expect("measure the chart");
            let size: Vec<f64> = serde_json::from_value(size.clone())
                .unwrap_or_else(|_| panic!("no SVG for {key}: {size}"));
            assert!(size[0] > 300.0 && size[1] > 100.0, "{key} is {size:?}");
            assert!(size[2] >= 0.0 && size[3] <= size[4], "{key} is cut off: {size:?}");
            assert!(size[5] > 10.0, "{key} draws almost nothing: {size:?}");
        }

        // Row labels fit in their column with the browser's own font: none starts left of
        // the chart (cut off) or runs into the bars, and none overlaps the next.
        for key in ["routes", "stops"] {
            let boxes = client
                .execute(
                    "const svg = document.getElementById(arguments[0]);
                     return [...svg.querySelectorAll('text.row-label')].map(t => {
                         const b = t.getBBox();
                         return [b.x, b.y, b.width, b.height,
                                 parseFloat(t.getAttribute('x'))];
                     });",
                    vec![json!(format!("report-{key}-svg"))],
                )
                .await
                .expect("measure the labels");
            let mut boxes: Vec<[f64; 5]> =
                serde_json::from_value(boxes).expect("label boxes");
            assert!(boxes.len() > 10, "{key}: {} labels", boxes.len());
            boxes.sort_by(|a, b| a[1].total_cmp(&b[1]));
            for b in &boxes {
                assert!(b[0] >= 0.0, "{key}: a label is cut off on the left: {b:?}");
                assert!(b[0] + b[2] <= b[4] + 1.0, "{key}: a label runs past its anchor: {b:?}");
            }
            for pair in boxes.windows(2) {
                assert!(
                    pair[1][1] >= pair[0][1] + pair[0][3] - 1.0,
                    "{key}: labels overlap: {pair:?}"
                );
            }
        }

        // No script, nothing pointing outside the page, no resource fetched.
        let checks = client
            .execute(
                "return {
                    scripts: document.scripts.length,
                    outside: [...document.querySelectorAll('[src], [href]')]
                        .map(e => e.getAttribute('src') || e.getAttribute('href'))
                        .filter(v => !(v.startsWith('#') || v.startsWith('data:'))),
                    resources: performance.getEntriesByType('resource').map(e => e.name),
                    markup: document.body.textContent.includes('<script>alert(1)</script> & \"Downtown\"'),
                    tables: document.querySelectorAll('table').length,
                    noise: document.querySelector('#report-headway .noise').textContent,
                };",
                vec![],
            )
            .await
            .expect("inspect the page");
        assert_eq!(checks["scripts"], json!(0), "{checks}");
        assert_eq!(checks["outside"], json!([]), "{checks}");
        assert_eq!(checks["resources"], json!([]), "{checks}");
        assert_eq!(checks["markup"], json!(true), "the headsign is shown as text");
        assert!(checks["tables"].as_u64().unwrap_or(0) >= 10, "{checks}");
        assert!(
            checks["noise"]
                .as_str()
                .is_some_and(|t| t.contains("±2 minutes of noise")),
            "{checks}"
        );
        assert!(client.get_alert_text().await.is_err(), "an alert opened");

        // A folded table opens without a script.
        let summary = client
            .find(Locator::Css("#report-stops details:last-of-type summary"))
            .await
            .expect("the folded stop table");
        summary.click().await.expect("open it");
        let rows = client
            .execute(
                "const d = document.querySelector('#report-stops details:last-of-type');
                 return [d.open, d.querySelector('tbody tr').getBoundingClientRect().height];",
                vec![],
            )
            .await
            .expect("the opened table");
        assert_eq!(rows[0], json!(true), "{rows}");
        assert!(rows[1].as_f64().unwrap_or(0.0) > 0.0, "{rows}");

        shots.push(save_png(
            "report-top.png",
            &{
                client
                    .execute("window.scrollTo(0, 0); return 0;", vec![])
                    .await
                    .expect("scroll");
                client.screenshot().await.expect("screenshot")
            },
        ));
        for key in CHARTS {
            let element = client
                .find(Locator::Id(&format!("report-{key}")))
                .await
                .expect("the chart's section");
            let png = element.screenshot().await.expect("screenshot the chart");
            shots.push(save_png(&format!("report-{key}.png"), &png));
        }

        // The partial aggregate says so at the top.
        client
            .goto(&server.url("/partial.html"))
            .await
            .expect("load the partial report");
        let banner = client
            .find(Locator::Css(".capq-report .banner.partial"))
            .await
            .expect("the partial banner");
        let text = banner.text().await.expect("its text");
        assert!(text.starts_with("Partial: 10 of 20 days."), "{text}");
        let (_, _, width, height) = banner.rectangle().await.expect("its box");
        assert!(width > 300.0 && height > 20.0, "{width}×{height}");
        shots.push(save_png(
            "report-partial.png",
            &client.screenshot().await.expect("screenshot"),
        ));
        client.close().await.expect("close the session");
        shots
    });
    drop(driver);
    // Only the two pages were ever asked for: no favicon, stylesheet, font or script.
    let mut requests = server.requests();
    requests.sort();
    assert_eq!(requests, ["/partial.html", "/report.html"]);
    for shot in shots {
        let size = std::fs::metadata(&shot).expect("the screenshot").len();
        assert!(size > 10_000, "{} is blank ({size} bytes)", shot.display());
    }
}
