//! Entry points for the coverage-guided fuzzer (`fuzz/fuzz_targets/dashboard.rs`): everything
//! the dashboard parses from a request before it asks Redis anything — query strings, posted
//! action and login forms, the `next`/`back` redirect targets, cookies and the `Host` check.
//!
//! The fuzzer cannot build an [`crate::AppState`] (that needs a live Redis), so these functions
//! call the same parsing code the handlers call, on the values the handlers would pass. They
//! are hidden from the documentation and are not an API.

use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderValue, Uri, header};

use crate::actions::{Action, Form};
use crate::auth::Keys;
use crate::extract::parse_query;
use crate::pages::failed::FailedQuery;
use crate::pages::queue::QueueQuery;
use crate::pages::{PageAt, Paging, pager};
use crate::redirect::{local_target, see_other};
use crate::{cookies, headers};

/// Where the browser goes after a form names `target` (`next` of the login form, `back` of an
/// action form): the `Location` header of the redirect the handlers answer with, exactly as
/// axum builds it.
pub fn redirect_location(target: Option<&str>) -> Option<String> {
    let target = local_target(target);
    let response = see_other(&target);
    response
        .headers()
        .get(header::LOCATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// What `POST /login` reads from its body, the way `auth::login_submit` reads it: the token
/// and the redirect target, then the `Location` a successful login answers with.
pub fn login_body(body: &str) -> (String, Option<String>) {
    let mut token = String::new();
    let mut next = String::new();
    for (key, value) in url::form_urlencoded::parse(body.as_bytes()) {
        match key.as_ref() {
            "token" => token = value.into_owned(),
            "next" => next = value.into_owned(),
            _ => {}
        }
    }
    (token, redirect_location(Some(&next)))
}

/// An action form posted to `/jobs/<name>/<verb>` (`scope` 0), `/failed/<verb>` (1) or
/// `/queues/<name>/<verb>` (2): the question the confirmation page asks (or the refusal), and
/// where the browser is sent back to.
pub fn action_form(scope: u8, name: &str, verb: &str, body: &str) -> (String, Option<String>) {
    let form = Form::parse(body.as_bytes());
    let action = match scope % 3 {
        0 => Action::for_job(name.to_owned(), verb),
        1 => Action::for_failed(verb, form.all("ids"), form.get("all").is_some()),
        _ => Action::for_queue(name.to_owned(), verb),
    };
    let said = match action {
        Ok(action) => action.question(),
        Err(error) => error.to_string(),
    };
    let _ = form.get("csrf");
    (said, redirect_location(form.get("back")))
}

/// A list page's query string (`/queues/<name>?state=&page=&per_page=` and `/failed?…`),
/// parsed as the pages' `QueryParams` parse it, resolved as the pages resolve it, and the pager
/// rendered for a registry of `total` jobs. Returns the pager's HTML, or the rejection.
pub fn list_query(path_and_query: &str, total: u64, default_size: usize) -> Result<String, String> {
    let uri: Uri = path_and_query.parse().map_err(|e| format!("{e}"))?;
    let queue: QueueQuery = parse_query(uri.query()).map_err(|e| e.to_string())?;
    if let Some(state) = queue.state.as_deref() {
        let _ = capq_redis::Registry::from_name(state);
    }
    let failed: FailedQuery = parse_query(uri.query()).map_err(|e| e.to_string())?;
    let mut html = String::new();
    for (page, per_page) in [(queue.page, queue.per_page), (failed.page, failed.per_page)] {
        let (page, per_page) = Paging { page, per_page }.resolve(default_size.max(1));
        let _ = PageAt::offset(page, per_page);
        let at = PageAt::new(page, per_page, total);
        html.push_str(&pager(&at, |n| format!("?page={n}")).into_string());
    }
    Ok(html)
}

/// The request headers the guard reads before any handler runs: the `Cookie` header (the
/// session, checked against keys made from `token`, and the flash message) and the `Host`
/// header of a loopback-only dashboard.
pub fn request_headers(cookie: &[u8], host: &str, token: Option<&str>) -> Option<String> {
    let _ = headers::is_loopback_host(host);
    let mut map = HeaderMap::new();
    map.insert(header::COOKIE, HeaderValue::from_bytes(cookie).ok()?);
    let _ = cookies::read_flash(&map);
    let keys = Keys::new(token).ok()?;
    let value = cookies::get(&map, cookies::SESSION)?;
    let session = keys.verify_session(value, SystemTime::now())?;
    let csrf = keys.csrf_token(&session);
    keys.csrf_matches(&session, &csrf).then_some(session)
}
