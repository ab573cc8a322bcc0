//! Wrong tokens are throttled per client, over real sockets: the dashboard is served by
//! `capq_dashboard::serve` on a loopback port, as `capq dashboard` serves it, and clients
//! connect from different loopback addresses (127.0.0.1, .2, .3), which the listener sees as
//! different peers. The refill is an hour, so no refill can happen during the test however
//! loaded the machine is; the unit tests in `throttle.rs` drive the refill with their own clock.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use capq_dashboard::{AppState, Config, ThrottleConfig};
use capq_redis::Redis;
use capq_test_support::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};

/// What the server's log lines are written into.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An answer: status, headers (lowercase names) and body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then_some(value.trim())
        })
    }
}

/// One HTTP/1.1 request to `server` from the loopback address `from`.
async fn request(
    from: Ipv4Addr,
    server: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback source address");
    let mut stream = socket.connect(server).await.expect("connect");
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes()).await.expect("send");
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut reply))
        .await
        .expect("an answer within 30 s")
        .expect("read");
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {reply:?}"));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

#[test]
fn wrong_tokens_are_throttled_per_client_and_logged() {
    let redis = RedisServer::start();
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // The server runs on this thread's runtime, so its events reach this thread's subscriber.
    let _logging = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let connection = Redis::connect(&redis.url()).await.expect("connect");
        let burst = 5;
        let config = Config {
            token: Some("s3cret".to_owned()),
            throttle: ThrottleConfig {
                burst,
                refill: Duration::from_secs(3600),
                ..ThrottleConfig::default()
            },
            ..Config::default()
        };
        let state = AppState::new(connection, config).expect("state");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(capq_dashboard::serve(listener, state, async {
            let _ = stopped.await;
        }));
        let (one, two, three) = (
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(127, 0, 0, 2),
            Ipv4Addr::new(127, 0, 0, 3),
        );
        let bearer = |token: &'static str| [("Authorization", format!("Bearer {token}"))];
        let get = |from, token: &'static str| {
            let headers = bearer(token);
            async move {
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                request(from, server, "GET", "/api/overview", &headers, "").await
            }
        };

        // A few wrong tokens are answered 401, then the client is held back: 429, with
        // Retry-After, and JSON naming it.
        for n in 1..=burst {
            let answer = get(one, "guess").await;
            assert_eq!(answer.status, 401, "wrong token {n}: {}", answer.body);
        }
        let held = get(one, "guess").await;
        assert_eq!(held.status, 429, "{}", held.body);
        let wait: u64 = held
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .expect("a Retry-After in seconds");
        assert!(wait > 0 && wait <= 3600, "{wait}");
        let json: serde_json::Value = serde_json::from_str(&held.body).expect("JSON");
        assert_eq!(json["status"], 429);
        assert!(
            json["error"]
                .as_str()
                .is_some_and(|e| e.contains("127.0.0.1") && e.contains("try again")),
            "{json}"
        );
        // While held back even the right token is refused: the answer must not tell a guesser
        // that a guess was right.
        assert_eq!(get(one, "s3cret").await.status, 429);
        // So is the login form from the same client.
        let form = request(
            one,
            server,
            "POST",
            "/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            "token=s3cret&next=%2F",
        )
        .await;
        assert_eq!(form.status, 429, "{}", form.body);
        assert!(form.header("retry-after").is_some());
        assert!(form.body.contains("too many wrong tokens"), "{}", form.body);
        assert!(
            form.body.contains("name=\"token\""),
            "the form is still there"
        );

        // Another client is not slowed: the right token works at once, and its own wrong ones
        // are counted on its own.
        let other = get(two, "s3cret").await;
        assert_eq!(other.status, 200, "{}", other.body);
        assert_eq!(get(two, "guess").await.status, 401);
        assert_eq!(get(two, "s3cret").await.status, 200);

        // Wrong tokens in the login form count too.
        for n in 1..=burst {
            let answer = request(
                three,
                server,
                "POST",
                "/login",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                "token=guess&next=%2F",
            )
            .await;
            assert_eq!(answer.status, 401, "wrong token {n} in the form");
        }
        let form = request(
            three,
            server,
            "POST",
            "/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            "token=guess&next=%2F",
        )
        .await;
        assert_eq!(form.status, 429, "{}", form.body);

        let _ = stop.send(());
        serving.await.expect("the server task").expect("served");
    });

    // Each failing client is logged at warn with its address, once per minute (not once per
    // try), and never with the token it sent.
    let logs = logs.text();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("wrong dashboard token"))
        .collect();
    let of = |address: &str| {
        lines
            .iter()
            .filter(|l| l.contains(&format!("client={address} ")))
            .count()
    };
    assert_eq!(of("127.0.0.1"), 1, "{logs}");
    assert_eq!(of("127.0.0.2"), 1, "{logs}");
    assert_eq!(of("127.0.0.3"), 1, "{logs}");
    assert!(lines.iter().all(|l| l.contains("WARN")), "{logs}");
    assert!(
        lines.iter().any(|l| l.contains("via=\"bearer header\"")),
        "{logs}"
    );
    assert!(
        lines.iter().any(|l| l.contains("via=\"login form\"")),
        "{logs}"
    );
    assert!(!logs.contains("guess"), "a token reached the log: {logs}");
}
