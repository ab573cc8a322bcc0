//! The dashboard's request parsing: query strings of the list pages, posted action and login
//! forms, the `next`/`back` redirect targets, cookies and `Host`. Nothing panics, and every
//! redirect stays inside the dashboard: a browser reading the `Location` (which drops tabs and
//! line breaks and treats `\` as `/`) sees a path on the same origin.
//!
//! The first input byte picks the entry point; the rest is the request's text.

#![no_main]

use capq_dashboard::fuzz;
use libfuzzer_sys::fuzz_target;

/// What a browser makes of a `Location` value, reduced to the question that matters: does it
/// leave the dashboard's origin?
fn assert_same_origin(location: &str) {
    let seen: String = location
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    let seen = seen.trim_start_matches(|c: char| c <= ' ');
    assert!(
        seen.starts_with('/') && !seen.starts_with("//"),
        "redirect to {location:?} leaves the dashboard"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match selector % 5 {
        0 => {
            let (_, location) = fuzz::login_body(&text);
            assert_same_origin(&location.expect("a redirect has a Location"));
        }
        1 => {
            let mut parts = text.splitn(3, '\n');
            let (name, verb, body) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let (said, location) = fuzz::action_form(selector / 5, name, verb, body);
            assert!(!said.is_empty());
            assert_same_origin(&location.expect("a redirect has a Location"));
        }
        2 => {
            let total = u64::from(selector) << 12;
            let _ = fuzz::list_query(&format!("/failed?{text}"), total, 50);
            let _ = fuzz::list_query(&format!("/failed?{text}"), u64::MAX, 1);
        }
        3 => {
            let (cookie, host) = text.split_once('\n').unwrap_or((&text, "127.0.0.1"));
            let token = (selector & 0x80 != 0).then_some("s3cret");
            let _ = fuzz::request_headers(cookie.as_bytes(), host, token);
        }
        _ => {
            if let Some(location) = fuzz::redirect_location(Some(&text)) {
                assert_same_origin(&location);
            }
        }
    }
});
