//! The worker's own HTTP endpoints, for Kubernetes probes and Prometheus:
//! - `GET /healthz`: liveness, 200 while the worker's loops run (Redis being down is not a
//!   reason to restart a worker: it reconnects on its own);
//! - `GET /healthz/ready`: readiness, 200 while Redis answers;
//! - `GET /metrics`: the worker's counters, in Prometheus text format.
//!
//! A few lines of HTTP/1.1 over a TCP listener are all three need, so the worker carries no web
//! framework.

use std::sync::Arc;
use std::time::Duration;

use capq_core::monitor::Monitor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves the endpoints on `listener` until the process exits.
pub async fn serve(
    listener: TcpListener,
    monitor: Arc<Monitor>,
    worker: String,
    beat_every: Duration,
) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let (monitor, worker) = (Arc::clone(&monitor), worker.clone());
        tokio::spawn(async move {
            let mut request = [0u8; 2048];
            let read = match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut request))
                .await
            {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let line = String::from_utf8_lossy(&request[..read]);
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let (status, kind, body) = match (method, path) {
                ("GET", "/healthz") if monitor.alive(beat_every) => {
                    ("200 OK", "text/plain", "alive\n".to_owned())
                }
                ("GET", "/healthz") => (
                    "503 Service Unavailable",
                    "text/plain",
                    "the worker loop stalled\n".to_owned(),
                ),
                ("GET", "/healthz/ready") if monitor.ready() => {
                    ("200 OK", "text/plain", "ready\n".to_owned())
                }
                ("GET", "/healthz/ready") => (
                    "503 Service Unavailable",
                    "text/plain",
                    match monitor.redis_age() {
                        Some(age) => format!("Redis has not answered for {age:.0} s\n"),
                        None => "Redis has not answered yet\n".to_owned(),
                    },
                ),
                ("GET", "/metrics") => (
                    "200 OK",
                    "text/plain; version=0.0.4",
                    monitor.render(&worker),
                ),
                ("GET", _) => (
                    "404 Not Found",
                    "text/plain",
                    "try /healthz, /healthz/ready or /metrics\n".to_owned(),
                ),
                _ => (
                    "405 Method Not Allowed",
                    "text/plain",
                    "GET only\n".to_owned(),
                ),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
