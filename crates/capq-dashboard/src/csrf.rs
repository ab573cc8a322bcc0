//! Cross-site request forgery checks, run by the guard on every request that is not a GET,
//! HEAD or OPTIONS.
//!
//! A state change needs the session's CSRF token, an HMAC of the session id under the
//! dashboard's key: in the `x-csrf-token` header (the page's script sends it) or in the
//! form's `csrf` field (every action form carries it). Another site can make a browser post a
//! form to the dashboard, but it cannot read a page of ours to learn the token, nor compute it.
//! Requests the browser marks as cross-site (`Sec-Fetch-Site`), or whose `Origin` is not the
//! dashboard's, are refused before the token is even looked at.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{Keys, is_machine_path};
use crate::error::{ApiError, Error};

/// The header scripts send the token in.
pub const HEADER: &str = "x-csrf-token";
/// The form field actions send it in.
pub const FIELD: &str = "csrf";
/// The largest form body read while looking for the token.
const MAX_FORM: usize = 1 << 20;

fn refuse(path: &str, message: &str) -> Response {
    let error = Error::Forbidden(message.to_owned());
    if is_machine_path(path) {
        ApiError(error).into_response()
    } else {
        error.into_response()
    }
}

/// Whether the browser says the request came from another site, or its `Origin` is not this
/// host.
fn cross_site(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Browsers that send Sec-Fetch-Site say exactly where a request came from; `Origin` is
    // only consulted for those that do not (a page with a strict referrer policy may make a
    // browser send `Origin: null` for its own forms).
    if let Some(site) = text("sec-fetch-site") {
        return site != "same-origin" && site != "none";
    }
    if let Some(origin) = text("origin") {
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        let host = text("host");
        return match (origin_host, host) {
            (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
            // `Origin: null` (sandboxed frames, odd redirects) is never ours.
            _ => true,
        };
    }
    false
}

/// Lets the request through if it carries the session's CSRF token; otherwise answers 403.
/// A form body is read to find the field and handed on intact.
pub async fn check(keys: &Keys, session: &str, request: Request) -> Result<Request, Response> {
    let path = request.uri().path().to_owned();
    if cross_site(request.headers()) {
        return Err(refuse(
            &path,
            "cross-site request refused: actions can only be taken from the dashboard's own pages",
        ));
    }
    let missing = "missing or expired CSRF token: reload the page and try again";
    if let Some(token) = request.headers().get(HEADER) {
        let token = token.to_str().unwrap_or_default();
        return if keys.csrf_matches(session, token) {
            Ok(request)
        } else {
            Err(refuse(&path, missing))
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refuse(&path, missing));
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
        return Err(refuse(&path, "the form is too large"));
    };
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == FIELD)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if keys.csrf_matches(session, &token) {
        Ok(Request::from_parts(parts, Body::from(bytes)))
    } else {
        Err(refuse(&path, missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        assert!(!cross_site(&headers(&[])));
        assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!cross_site(&headers(&[
            ("origin", "http://127.0.0.1:9181"),
            ("host", "127.0.0.1:9181")
        ])));
        assert!(cross_site(&headers(&[
            ("origin", "http://127.0.0.1:8000"),
            ("host", "127.0.0.1:9181")
        ])));
        assert!(cross_site(&headers(&[
            ("origin", "null"),
            ("host", "127.0.0.1:9181")
        ])));
    }
}
