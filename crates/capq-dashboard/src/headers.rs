//! Defences every response carries, and the `Host` check.
//!
//! The content security policy allows only the dashboard's own script and stylesheet: no
//! inline script, no other origin, no framing. So even a job string that slipped past
//! escaping could not run. Dynamic responses are never cached.
//!
//! When the dashboard listens on loopback it answers only requests addressed to a loopback
//! name or address: a web page that points its own DNS name at 127.0.0.1 (DNS rebinding)
//! would otherwise be same-origin with the dashboard in the browser's eyes.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers, and `Cache-Control: no-store` unless the handler chose one.
pub async fn secure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Whether `host` (a `Host` header: name or address, maybe with a port) is loopback.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [::1]:9181
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        })
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses requests addressed to a non-loopback name when the dashboard is loopback-only.
pub async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.config().loopback_only {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
        if let Some(host) = host
            && !is_loopback_host(&host)
        {
            return (
                    StatusCode::MISDIRECTED_REQUEST,
                    format!(
                        "this dashboard listens on loopback and answers only requests for localhost or a loopback address, not {host:?}"
                    ),
                )
                    .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:9181",
            "127.0.0.1:9181",
            "127.1.2.3",
            "[::1]:9181",
            "app.localhost",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:9181",
            "10.0.0.1:9181",
            "localhost.evil.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
