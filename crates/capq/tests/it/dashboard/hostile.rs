//! Hostile input through the real router: `next` and `back` targets that try to send the
//! browser to another site or to split the `Location` header, and query strings, paths and
//! bodies that do not parse. Every answer is a redirect inside the dashboard, an HTML page, or
//! JSON under `/api`: never plain text, never a 500.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use capq_test_support::RedisServer;

use super::{App, drain};

/// `next`/`back` values (as the form field decodes them) that must not lead off the site.
const HOSTILE_TARGETS: [&str; 17] = [
    "//evil.example",
    "//evil.example/",
    "/\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/\r\nSet-Cookie: x=1",
    "/failed\r\nSet-Cookie: x=1",
    "%2F%2Fevil.example",
    "/%09/evil.example\t",
    " //evil.example",
    "\t//evil.example",
    "javascript:alert(1)",
    "https://evil.example/",
    "http:evil.example",
    "evil.example",
];

/// Raw query strings for `GET /login`, percent-encoded as an attacker's link would be.
const HOSTILE_QUERIES: [&str; 10] = [
    "next=//evil.example",
    "next=/%09/evil.example",
    "next=/%5Cevil.example",
    "next=%5C/evil.example",
    "next=%2F%2Fevil.example",
    "next=/%0d%0aSet-Cookie:x",
    "next=/%0D%0A/evil.example",
    "next=javascript:alert(1)",
    "next=https://evil.example/",
    "next=/%E2%80%A8/evil.example",
];

/// Whether a `Location` stays on the dashboard: a path with one leading slash and nothing a
/// browser would drop or read as a slash.
fn stays_home(location: &str) -> bool {
    location.starts_with('/')
        && !location.starts_with("//")
        && !location.contains(['\\', '\t', '\r', '\n', ' '])
}

#[test]
fn logging_in_never_redirects_off_the_site() {
    let redis = RedisServer::start();
    let app = App::new(&redis, Some("s3cret"));
    for target in HOSTILE_TARGETS {
        let reply = app.post_form("/login", &[], &[("token", "s3cret"), ("next", target)]);
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "{target:?}: {}",
            reply.body
        );
        assert_eq!(reply.location(), Some("/"), "{target:?}");
        assert!(reply.cookie("capq_session").is_some(), "{target:?}");
        assert!(
            reply.headers.get_all(header::SET_COOKIE).iter().count() == 1,
            "{target:?}: a header was split into the answer"
        );
    }
    for query in HOSTILE_QUERIES {
        let form = app.get(&format!("/login?{query}"));
        assert_eq!(form.status, StatusCode::OK, "{query}: {}", form.body);
        assert!(
            form.body.contains("name=\"next\" value=\"/\""),
            "{query}: the form would go elsewhere: {}",
            form.body
        );
    }
    // A path of the dashboard is kept, with its query.
    let reply = app.post_form(
        "/login",
        &[],
        &[("token", "s3cret"), ("next", "/failed?page=2")],
    );
    assert_eq!(reply.location(), Some("/failed?page=2"));
    let reply = app.post_form(
        "/login",
        &[],
        &[("token", "s3cret"), ("next", "/queues/café")],
    );
    assert_eq!(reply.location(), Some("/queues/caf%C3%A9"));
    for reply in [
        app.post_form("/login", &[], &[("token", "s3cret")]),
        app.post_form(
            "/login",
            &[],
            &[("token", "s3cret"), ("next", "/queues/x?state=failed")],
        ),
    ] {
        assert!(
            reply.location().is_some_and(stays_home),
            "{:?}",
            reply.location()
        );
    }
}

#[test]
fn actions_never_go_back_off_the_site() {
    let redis = RedisServer::start();
    let app = App::new(&redis, None);
    let session = app.session();
    for target in HOSTILE_TARGETS {
        let reply = app.post_form(
            "/suspend",
            &[("cookie", &session.cookie)],
            &[
                ("csrf", &session.csrf),
                ("back", target),
                ("confirmed", "1"),
            ],
        );
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "{target:?}: {}",
            reply.body
        );
        assert_eq!(reply.location(), Some("/"), "{target:?}");
        // Unconfirmed: the confirmation page's "go back" link stays home too.
        let ask = app.post_form(
            "/resume",
            &[("cookie", &session.cookie)],
            &[("csrf", &session.csrf), ("back", target)],
        );
        assert_eq!(ask.status, StatusCode::OK, "{target:?}");
        assert!(
            ask.body.contains("href=\"/\">No, go back"),
            "{target:?}: {}",
            ask.body
        );
    }
    assert_eq!(redis.command(&["EXISTS", "rq:suspended"]).int(), Some(1));
}

#[test]
fn bad_queries_and_paths_answer_a_page_or_json() {
    let redis = RedisServer::start();
    let app = App::new(&redis, None);
    app.enqueue("default", "capq.noop", vec![]);
    drain(&redis, "default");
    for (path, named) in [
        ("/failed?page=-1", "page"),
        ("/failed?per_page=abc", "per_page"),
        ("/failed?page=99999999999999999999999", "page"),
        ("/queues/default?page=-1", "page"),
        ("/queues/default?state=failed&per_page=-5", "per_page"),
        ("/queues/default?page=1&page=2", "page"),
    ] {
        let page = app.get(path);
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            page.body
        );
        assert!(
            page.content_type().starts_with("text/html"),
            "{path}: {}",
            page.content_type()
        );
        assert!(
            page.body.contains("<h1>Bad request</h1>"),
            "{path}: {}",
            page.body
        );
        assert!(page.body.contains(named), "{path}: {}", page.body);
        let api = app.get(&format!("/api{path}"));
        assert_eq!(
            api.status,
            StatusCode::BAD_REQUEST,
            "/api{path}: {}",
            api.body
        );
        assert!(
            api.content_type().starts_with("application/json"),
            "/api{path}"
        );
        let json = api.json();
        assert_eq!(json["status"], 400, "/api{path}: {json}");
        assert!(
            json["error"].as_str().is_some_and(|e| e.contains(named)),
            "/api{path}: {json}"
        );
    }
    // Good ones still work, a page past the last included.
    assert_eq!(app.get("/failed?page=1&per_page=10").status, StatusCode::OK);
    assert_eq!(
        app.get("/api/queues/default?state=finished&page=7").status,
        StatusCode::OK
    );

    // A job id that is not UTF-8 once decoded.
    let page = app.get("/jobs/%FF%FE");
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.content_type().starts_with("text/html"));
    let api = app.get("/api/jobs/%FF%FE");
    assert_eq!(api.status, StatusCode::BAD_REQUEST, "{}", api.body);
    assert_eq!(api.json()["status"], 400);

    // An action fetched with GET: 405, as a page or as JSON.
    let page = app.get("/jobs/x/requeue");
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        page.content_type().starts_with("text/html"),
        "{}",
        page.body
    );
    assert!(page.body.contains("POST"), "{}", page.body);
    let api = app.get("/api/jobs/x/requeue");
    assert_eq!(api.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(api.json()["status"], 405);

    // A form body that is not UTF-8 is read, not refused as plain text.
    let session = app.session();
    let mut body = format!("csrf={}&back=%2Ffailed&ids=", session.csrf).into_bytes();
    body.extend_from_slice(b"\xff\xfe");
    let request = Request::post("/failed/delete")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &session.cookie)
        .body(Body::from(body))
        .expect("request");
    let reply = app.send(request);
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("Are you sure?"), "{}", reply.body);
}
