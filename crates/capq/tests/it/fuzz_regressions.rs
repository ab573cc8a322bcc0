//! Inputs that crashed a fuzz target of `fuzz/` (see docs/reliability.md), kept as regression
//! tests in the normal suite: each input is the fuzzer's, as a byte literal, run through the
//! same entry point the target calls.

use capq_dashboard::fuzz;

/// The dashboard target, selector 0: `POST /login` with a `next` holding a line break made
/// axum's `Redirect::to` panic (a header cannot hold CR or LF), and one holding a tab
/// redirected browsers off the dashboard (`/<TAB>/evil.example` reads as `//evil.example`).
#[test]
fn login_next_with_control_characters_redirects_home() {
    for body in [
        "token=x&next=%2F%0D%0ASet-Cookie%3Ax",
        "token=x&next=/%0a",
        "next=%2F%09%2Fevil.example",
        "next=/%0D/evil.example",
        "next=/%7F",
        "next=/%C2%85/evil.example",
    ] {
        let (_, location) = fuzz::login_body(body);
        assert_eq!(location.as_deref(), Some("/"), "{body}");
    }
    let (_, location) = fuzz::login_body("next=%2Ffailed%3Fpage%3D2");
    assert_eq!(location.as_deref(), Some("/failed?page=2"));
}

/// Runs a dashboard-target input as the target does: the first byte picks the entry point.
fn dashboard_action_input(data: &[u8]) -> (String, Option<String>) {
    let (&selector, rest) = data.split_first().expect("a selector byte");
    assert_eq!(selector % 5, 1, "an action-form input");
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(3, '\n');
    let (name, verb, body) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    fuzz::action_form(selector / 5, name, verb, body)
}

/// The dashboard target's first crash (`crash-597aa23b…`, after 216 executions): an action
/// form whose `back` holds a DEL byte answered 500 with no `Location`.
#[test]
fn fuzzer_crash_action_back_with_a_delete_character() {
    let input =
        b"\x01job-1\nrequeue\ncsrf=0123abcd&back=%2Fjobs%2F\xff\xff\xff\x7fjob-1&confirmed=1";
    let (said, location) = dashboard_action_input(input);
    assert_eq!(said, "Requeue job job-1?");
    assert_eq!(location.as_deref(), Some("/"));
}

/// The dashboard target, selector 1: an action form's `back` field goes through the same
/// redirect.
#[test]
fn action_back_with_a_line_break_redirects_home() {
    let (said, location) = fuzz::action_form(1, "", "requeue", "ids=a&back=/%0D%0A");
    assert_eq!(said, "Requeue job a?");
    assert_eq!(location.as_deref(), Some("/"));
}

/// The dashboard target, selector 2: `?page=18446744073709551615` (usize::MAX) overflowed the
/// pager's arithmetic, a panic in builds with overflow checks (tests, debug).
#[test]
fn the_largest_page_number_renders_a_pager() {
    for query in [
        "/failed?page=18446744073709551615",
        "/failed?page=18446744073709551615&per_page=500",
        "/failed?page=18446744073709551614&per_page=1",
    ] {
        let html = fuzz::list_query(query, 120, 50).expect("a valid query");
        assert!(html.contains("past the last page"), "{query}: {html}");
    }
}
