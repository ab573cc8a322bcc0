//! Where a browser may be sent after logging in or acting: only to a path of this dashboard.
//!
//! The target comes from the request (`next` of the login form, `back` of action forms), so an
//! attacker can craft it. Browsers are lenient with `Location`: they drop tabs, CR and LF
//! anywhere, read `\` as `/`, and take `//host` (or `/\host`) as "another site, same scheme".
//! So `/%09/evil.example` would leave the site as surely as `//evil.example`. A target is
//! therefore accepted only when it is plainly a path: one leading `/`, then neither `/` nor `\`,
//! and no backslash, control character or whitespace anywhere; anything else becomes `/`.
//! Characters beyond ASCII are percent-encoded, so the result is always a valid header value
//! and building the redirect can never fail (a `next` with CR LF used to answer 500).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The longest target kept; longer ones are not paths a page of ours produced.
const MAX_TARGET: usize = 4096;

/// `target` if it is a path inside the dashboard, else `/`.
pub fn local_target(target: Option<&str>) -> String {
    target
        .and_then(strict_path)
        .unwrap_or_else(|| "/".to_owned())
}

/// The path `target` names, percent-encoded to visible ASCII, if it names a path of ours.
fn strict_path(target: &str) -> Option<String> {
    let rest = target.strip_prefix('/')?;
    if rest.starts_with(['/', '\\']) || target.len() > MAX_TARGET {
        return None;
    }
    let mut path = String::with_capacity(target.len());
    for c in target.chars() {
        if c == '\\' || c.is_control() || c.is_whitespace() {
            return None;
        }
        if c.is_ascii() {
            path.push(c);
        } else {
            let mut utf8 = [0u8; 4];
            for byte in c.encode_utf8(&mut utf8).bytes() {
                path.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    Some(path)
}

/// A 303 to `target` once it has passed [`local_target`]; never panics, whatever `target` is.
pub fn see_other(target: &str) -> Response {
    let location = HeaderValue::from_str(&local_target(Some(target)))
        .unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_the_dashboard_are_kept() {
        for path in [
            "/",
            "/failed?page=2",
            "/queues/default?state=failed&page=3&per_page=20",
            "/jobs/abc-123",
            "/jobs/a%2Fb",
            "/jobs/javascript:alert(1)",
            "/%2F%2Fevil.example",
        ] {
            assert_eq!(local_target(Some(path)), path);
        }
        assert_eq!(local_target(Some("/queues/café")), "/queues/caf%C3%A9");
    }

    #[test]
    fn anything_that_could_leave_the_site_becomes_the_overview() {
        for hostile in [
            "",
            "//evil.example",
            "//evil.example/",
            "/\\evil.example",
            "\\/evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/\u{0}/evil.example",
            "/ /evil.example",
            "/\u{a0}/evil.example",
            "/\u{2028}/evil.example",
            "/\u{85}/evil.example",
            "/x\\..\\/evil.example",
            "/\r\nSet-Cookie: x=1",
            "/failed\r\nSet-Cookie:x",
            "https://evil.example/",
            "http:/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "./evil",
            "?next=//evil",
            "%2F%2Fevil.example",
        ] {
            assert_eq!(local_target(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(local_target(None), "/");
        let long = format!("/{}", "a".repeat(MAX_TARGET));
        assert_eq!(local_target(Some(&long)), "/");
    }

    #[test]
    fn redirects_never_fail() {
        for target in ["/failed", "/\r\nSet-Cookie:x", "/é", "//evil"] {
            let response = see_other(target);
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok());
            assert!(location.is_some_and(|l| l.starts_with('/') && !l.starts_with("//")));
        }
    }
}
