//! The dashboard in a real browser: Debian's chromium, headless, driven through chromedriver by
//! fantoccini, against a real `capq dashboard` process, a busy worker and a failed job whose
//! argument is markup; and logging in with `next` targets that try to lead off the site.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use capq_pickle::Value;
use capq_test_support::RedisServer;
use capq_test_support::net::free_port;
use fantoccini::{Client, ClientBuilder, Locator};

use super::{App, SCRIPT, drain};
use crate::queue::{eventually, spawn_capq, spawn_worker};

/// chromedriver, killed when the test ends.
pub(super) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it listens.
    pub(super) fn start() -> (Driver, u16) {
        let port = free_port();
        let driver = Driver(
            Command::new("/usr/bin/chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts (scripts/setup-test-env installs it)"),
        );
        eventually("chromedriver to listen", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        (driver, port)
    }
}

/// A headless chromium session through the chromedriver on `driver_port`, with its own profile.
pub(super) async fn chromium(driver_port: u16, profile: &std::path::Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,1100",
                // No name resolves but the dashboard's address: a page that tries to leave for
                // another site fails at once instead of waiting on DNS.
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::rustls()
        .expect("TLS roots")
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a chromium session")
}

/// A GET over a plain socket: the status code, or `None` while nothing listens.
pub(super) fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    reply.split_whitespace().nth(1)?.parse().ok()
}

pub(super) async fn wait_for_text(
    client: &Client,
    css: &str,
    wanted: &str,
    timeout: Duration,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(wanted) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never showed {wanted:?}; last seen: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn overview_failure_and_requeue_in_chromium() {
    let redis = RedisServer::start();
    let app = App::new(&redis, None);
    let failed = app.enqueue("default", "capq.fail", vec![Value::Str(SCRIPT.to_owned())]);
    drain(&redis, "default");
    assert_eq!(app.status(&failed), "failed");
    let sleeper = app.enqueue("slow", "capq.sleep", vec![Value::Int(120)]);
    let _worker = spawn_worker(&redis, None, &["--queues", "slow"]);
    eventually("the worker to be busy", Duration::from_secs(20), || {
        app.status(&sleeper) == "started"
    });

    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let dashboard = spawn_capq(&["dashboard", "--url", &redis.url(), "--bind", &bind], &[]);
    eventually("the dashboard to answer", Duration::from_secs(20), || {
        http_status(port, "/healthz") == Some(200)
    });

    let (driver, driver_port) = Driver::start();
    let profile = tempfile::tempdir().expect("temp dir");
    let screenshot =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-overview.png");
    let _ = std::fs::remove_file(&screenshot);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = chromium(driver_port, profile.path()).await;
        let base = format!("http://127.0.0.1:{port}");

        // The overview while the worker is busy.
        client.goto(&format!("{base}/")).await.expect("overview");
        wait_for_text(&client, ".tiles", "1 busy", Duration::from_secs(10)).await;
        let queues = wait_for_text(&client, "#queues", "slow", Duration::from_secs(5)).await;
        assert!(queues.contains("default"), "{queues}");

        // Live updates: a job enqueued now shows up without a reload.
        let before = client
            .find(Locator::Css("#queues"))
            .await
            .expect("queues")
            .text()
            .await
            .expect("text");
        assert!(!before.contains("idle-queue"), "{before}");
        // (From another thread: the helper blocks on a runtime of its own.)
        std::thread::scope(|scope| {
            scope.spawn(|| app.enqueue("idle-queue", "capq.noop", vec![]));
        });
        wait_for_text(&client, "#queues", "idle-queue", Duration::from_secs(10)).await;
        let png = client.screenshot().await.expect("screenshot");
        std::fs::write(&screenshot, &png).expect("write the screenshot");

        // The failure, its argument shown as text and never run.
        client
            .goto(&format!("{base}/failed"))
            .await
            .expect("failed page");
        let table = wait_for_text(&client, "table.jobs", SCRIPT, Duration::from_secs(5)).await;
        assert!(table.contains("capq.fail"), "{table}");
        assert!(client.get_alert_text().await.is_err(), "an alert opened");
        let scripts = client
            .execute("return document.querySelectorAll('script').length;", vec![])
            .await
            .expect("count scripts");
        assert_eq!(
            scripts,
            serde_json::json!(1),
            "only the dashboard's own script"
        );

        // Requeue it: the browser asks, we confirm, the page comes back saying so.
        let button = client
            .find(Locator::Css(&format!(
                "form[action=\"/jobs/{failed}/requeue\"] button"
            )))
            .await
            .expect("the requeue button");
        button.click().await.expect("click");
        let question = client.get_alert_text().await.expect("a confirmation");
        assert!(question.starts_with("Requeue job"), "{question}");
        client.accept_alert().await.expect("confirm");
        wait_for_text(&client, ".flash", "Requeued job", Duration::from_secs(10)).await;
        client
            .goto(&format!("{base}/jobs/{failed}"))
            .await
            .expect("job page");
        wait_for_text(&client, "h1 .badge", "queued", Duration::from_secs(5)).await;
        client.close().await.expect("close the session");
    });
    drop(driver);
    assert_eq!(app.status(&failed), "queued");
    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 10_000,
        "a {}-byte screenshot is blank",
        png.len()
    );
    drop(dashboard);
}

#[test]
fn logging_in_with_a_hostile_next_stays_on_the_dashboard() {
    let redis = RedisServer::start();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let dashboard = spawn_capq(
        &[
            "dashboard",
            "--url",
            &redis.url(),
            "--bind",
            &bind,
            "--token",
            "s3cret",
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
        // Each as an attacker's link would carry it; the last is a guarded path the 401 login
        // form is shown for.
        let links = [
            "/login?next=/%09/evil.example",
            "/login?next=//evil.example",
            "/login?next=/%5Cevil.example",
            "/login?next=%5C/evil.example",
            "/login?next=%2F%2Fevil.example",
            "/login?next=/%0D%0A/evil.example",
            "/login?next=/%0d%0aSet-Cookie:x",
            "/login?next=javascript:alert(1)",
            "/login?next=https://evil.example/",
            "//evil.example",
        ];
        for link in links {
            client.delete_all_cookies().await.expect("log out");
            client
                .goto(&format!("{base}{link}"))
                .await
                .expect("the login form");
            let token = client
                .wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css("#token"))
                .await
                .unwrap_or_else(|e| panic!("{link}: no login form: {e}"));
            token.send_keys("s3cret").await.expect("type the token");
            // On a loaded machine a keystroke can land before the field has focus; a token
            // typed short would be refused and the browser rightly stay on the login form.
            let typed = token.prop("value").await.expect("the token field's value");
            if typed.as_deref() != Some("s3cret") {
                token.clear().await.expect("clear the token field");
                token
                    .send_keys("s3cret")
                    .await
                    .expect("type the token again");
                let typed = token.prop("value").await.expect("the token field's value");
                assert_eq!(typed.as_deref(), Some("s3cret"), "{link}: the token field");
            }
            // The login form may be served at the guarded path itself (`//evil.example`): the
            // browser has left it only once its URL is another one.
            let form_url = client.current_url().await.expect("the form's URL");
            client
                .find(Locator::Css("form[action=\"/login\"] button[type=submit]"))
                .await
                .expect("the log-in button")
                .click()
                .await
                .expect("log in");
            // Wait for the overview (or wherever the browser went) to load.
            let deadline = Instant::now() + Duration::from_secs(30);
            let url = loop {
                let url = client.current_url().await.expect("the URL");
                let loaded = client
                    .execute("return document.readyState;", vec![])
                    .await
                    .ok();
                let left = url.host_str() != Some("127.0.0.1");
                if left
                    || (url != form_url
                        && url.path() != "/login"
                        && loaded == Some(serde_json::json!("complete")))
                {
                    break url;
                }
                // (Before the fix, chromium's CSP `form-action 'self'` blocked the redirect to
                // the other site, so the browser stayed here.)
                if Instant::now() >= deadline {
                    let page = client
                        .find(Locator::Css("body"))
                        .await
                        .expect("the page")
                        .text()
                        .await
                        .unwrap_or_default();
                    panic!("{link}: never reached the overview, still at {url}, showing: {page}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert_eq!(
                url.origin().ascii_serialization(),
                base,
                "{link} led the browser to {url}"
            );
            assert_eq!(url.path(), "/", "{link} led the browser to {url}");
        }
        client.close().await.expect("close the session");
    });
    drop(driver);
    drop(dashboard);
}
