//! Tests of the web dashboard: its axum handlers called in-process against a real
//! `redis-server` filled by real `capq worker` processes (`handlers.rs`), hostile input
//! (`hostile.rs`), throttling of wrong tokens over real sockets (`throttle.rs`), jobs enqueued
//! and failed by Python `rq` and by capq side by side (`interop.rs`), Debian's chromium
//! driven through chromedriver by fantoccini (`browser.rs`), and batch pages with their
//! aggregate, in-process and in chromium (`batch.rs`), and the Runs and diff pages over runs
//! made by the real `capq run` (`runs.rs`).

mod batch;
mod browser;
mod handlers;
mod hostile;
mod interop;
mod runs;
mod throttle;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use capq_core::payload::{Call, Serializer};
use capq_pickle::Value;
use capq_redis::{NewJob, Redis};
use capq_test_support::RedisServer;
use tower::ServiceExt;

use crate::queue::spawn_worker;

/// The dashboard's router over a real Redis, called in-process.
pub struct App {
    runtime: tokio::runtime::Runtime,
    router: Router,
    redis: Redis,
    /// The dashboard's state, for its depth sampler.
    pub state: capq_dashboard::AppState,
    /// `Bearer <token>` when the dashboard requires one, for [`App::status`].
    bearer: Option<String>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The session cookie it sets (`name=value`), if any.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| pair.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The CSRF token a page carries in its `<meta name="csrf-token">`.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf-token\" content=\"";
        let start = self.body.find(marker).expect("the page has a CSRF token") + marker.len();
        let end = self.body[start..].find('"').expect("closing quote") + start;
        self.body[start..end].to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }
}

/// A browser session: its cookie and CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl App {
    pub fn new(redis: &RedisServer, token: Option<&str>) -> App {
        App::with_config(
            redis,
            capq_dashboard::Config {
                token: token.map(str::to_owned),
                ..capq_dashboard::Config::default()
            },
        )
    }

    pub fn with_config(redis: &RedisServer, config: capq_dashboard::Config) -> App {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let redis = runtime
            .block_on(Redis::connect(&redis.url()))
            .expect("connect");
        let bearer = config.token.as_ref().map(|t| format!("Bearer {t}"));
        let state = capq_dashboard::AppState::new(redis.clone(), config).expect("state");
        App {
            bearer,
            router: capq_dashboard::router(state.clone()),
            state,
            runtime,
            redis,
        }
    }

    /// Sends a request (addressed to a loopback `Host`, as a local browser's would be, from
    /// 127.0.0.1 unless it says otherwise).
    pub fn send(&self, request: Request<Body>) -> Reply {
        self.send_from(SocketAddr::from(([127, 0, 0, 1], 50_000)), request)
    }

    /// Sends a request as if from `peer`, the address the listener would have seen.
    pub fn send_from(&self, peer: SocketAddr, mut request: Request<Body>) -> Reply {
        request
            .headers_mut()
            .entry(header::HOST)
            .or_insert(header::HeaderValue::from_static("127.0.0.1:9181"));
        request.extensions_mut().insert(ConnectInfo(peer));
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("infallible");
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
                .await
                .expect("body");
            Reply {
                status,
                headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            }
        })
    }

    /// Runs a future on the dashboard's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[])
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::empty()).expect("request"))
    }

    /// Posts a form with extra headers (a cookie, say).
    pub fn post_form(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        fields: &[(&str, &str)],
    ) -> Reply {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(body)).expect("request"))
    }

    pub fn post_json(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(body.to_owned())).expect("request"))
    }

    /// Opens the overview as a new browser would: a session cookie and the page's CSRF token.
    pub fn session(&self) -> Session {
        let reply = self.get("/");
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        Session {
            cookie: reply.cookie("capq_session").expect("a session cookie"),
            csrf: reply.csrf(),
        }
    }

    /// Enqueues `func(*args)` on `queue` through capq's RQ-layout enqueue; returns the id.
    pub fn enqueue(&self, queue: &str, func: &str, args: Vec<Value>) -> String {
        let call = Call {
            func: func.to_owned(),
            args,
            kwargs: vec![],
            serializer: Serializer::Pickle,
        };
        let job = NewJob {
            result_ttl: Some(3600),
            failure_ttl: Some(3600),
            ..NewJob::new(queue, call)
        };
        let ids = self
            .runtime
            .block_on(self.redis.enqueue(&[job], None))
            .expect("enqueue");
        ids.into_iter().next().expect("one id")
    }

    /// The job's status, as the API reports it.
    pub fn status(&self, id: &str) -> String {
        let path = format!("/api/jobs/{id}");
        let reply = match &self.bearer {
            Some(bearer) => self.get_with(&path, &[("authorization", bearer)]),
            None => self.get(&path),
        };
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// Runs a burst worker on `queues` until they are empty. The tests' jobs write into temporary
/// folders, so those are the outputs it allows.
pub fn drain(redis: &RedisServer, queues: &str) {
    let temp = std::env::temp_dir();
    let temp = temp.to_str().expect("utf-8 temp dir");
    let mut worker = spawn_worker(
        redis,
        None,
        &["--burst", "--queues", queues, "--allow-output", temp],
    );
    let status = worker.wait(Duration::from_secs(60));
    assert!(status.success(), "the worker failed: {}", worker.log());
}

/// The text a browser shows for a string that must not become markup.
pub const SCRIPT: &str = "<script>alert(1)</script>";
