//! Who may use the dashboard, and the guard every request passes.
//!
//! Without `--token` the dashboard is open (it listens on loopback by default), and each
//! browser still gets a session cookie, because CSRF tokens are bound to it. With a token,
//! every page, API and `/metrics` needs either `Authorization: Bearer <token>` or the session
//! cookie that logging in at `/login` sets. Sessions are stateless: `<id>.<issued>.<tag>`,
//! the tag an HMAC-SHA256 under a key derived from the token (so sessions survive a restart and
//! die when the token changes) or, without a token, under a random key of this process.
//! Tokens are compared through HMAC tags, in constant time.
//!
//! The guard also checks CSRF on every state-changing request (see `csrf.rs`), except bearer
//! requests: a browser cannot attach that header to a cross-site request.

use std::time::{Duration, SystemTime};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::cookies;
use crate::csrf;
use crate::error::{Error, Result};
use crate::format;
use crate::pages::login;
use crate::state::AppState;

/// How long a login lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A client that sent the token as `Authorization: Bearer`.
    Bearer,
    /// A browser session (logged in, when a token is required).
    Session(String),
}

/// The keys behind sessions, CSRF tokens and token checks.
pub struct Keys {
    session: hmac::Key,
    /// A random key and the token's tag under it; `None` when no token is required.
    token: Option<(hmac::Key, hmac::Tag)>,
    random: SystemRandom,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("token_required", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Keys {
    pub fn new(token: Option<&str>) -> Result<Keys> {
        let random = SystemRandom::new();
        let session = match token {
            Some(token) => {
                let root = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
                let derived = hmac::sign(&root, b"capq dashboard sessions v1");
                hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref())
            }
            None => {
                hmac::Key::generate(hmac::HMAC_SHA256, &random).map_err(|_| Error::Randomness)?
            }
        };
        let token = match token {
            Some(token) => {
                let key = hmac::Key::generate(hmac::HMAC_SHA256, &random)
                    .map_err(|_| Error::Randomness)?;
                let tag = hmac::sign(&key, token.as_bytes());
                Some((key, tag))
            }
            None => None,
        };
        Ok(Keys {
            session,
            token,
            random,
        })
    }

    pub fn token_required(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `given` is the token, compared in constant time (through HMAC tags, so neither
    /// the content nor the length leaks through timing).
    pub fn token_matches(&self, given: &str) -> bool {
        match &self.token {
            Some((key, tag)) => hmac::verify(key, given.as_bytes(), tag.as_ref()).is_ok(),
            None => false,
        }
    }

    /// A new session: its id and the cookie value.
    pub fn new_session(&self, now: SystemTime) -> Result<(String, String)> {
        let mut id = [0u8; 16];
        self.random.fill(&mut id).map_err(|_| Error::Randomness)?;
        let id = hex(&id);
        let issued = format::seconds_since_epoch(now) as u64;
        let tag = hmac::sign(&self.session, format!("session|{id}|{issued}").as_bytes());
        let value = format!("{id}.{issued}.{}", hex(tag.as_ref()));
        Ok((id, value))
    }

    /// The session id of a cookie value, if the cookie is genuine and (with a token) not too
    /// old.
    pub fn verify_session(&self, value: &str, now: SystemTime) -> Option<String> {
        let mut parts = value.split('.');
        let (id, issued, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || id.len() != 32 {
            return None;
        }
        let tag = unhex(tag)?;
        hmac::verify(
            &self.session,
            format!("session|{id}|{issued}").as_bytes(),
            &tag,
        )
        .ok()?;
        let issued: u64 = issued.parse().ok()?;
        let age = format::seconds_since_epoch(now) as u64;
        if self.token_required() && age.saturating_sub(issued) > SESSION_LIFETIME.as_secs() {
            return None;
        }
        Some(id.to_owned())
    }

    /// The CSRF token of a session.
    pub fn csrf_token(&self, session: &str) -> String {
        hex(hmac::sign(&self.session, format!("csrf|{session}").as_bytes()).as_ref())
    }

    /// Whether `given` is the session's CSRF token (constant time).
    pub fn csrf_matches(&self, session: &str, given: &str) -> bool {
        match unhex(given) {
            Some(tag) => {
                hmac::verify(&self.session, format!("csrf|{session}").as_bytes(), &tag).is_ok()
            }
            None => false,
        }
    }
}

/// The bearer token of a request, if it sent one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Paths anyone may fetch: the login form and the stylesheet and script it needs.
fn is_public(path: &str) -> bool {
    path == "/login" || path.starts_with("/assets/")
}

/// Paths answered for programs rather than browsers.
pub fn is_machine_path(path: &str) -> bool {
    path.starts_with("/api/") || path == "/api" || path == "/metrics"
}

/// The answer to a request that needs the token and did not bring it.
fn unauthorized(path: &str, target: &str, message: &str) -> Response {
    let challenge = [(header::WWW_AUTHENTICATE, "Bearer realm=\"capq\"")];
    if is_machine_path(path) {
        let body = serde_json::json!({"error": message, "status": 401});
        (StatusCode::UNAUTHORIZED, challenge, axum::Json(body)).into_response()
    } else {
        let page = login::page(target, Some(message));
        (StatusCode::UNAUTHORIZED, challenge, page).into_response()
    }
}

/// The guard in front of every route: identifies the requester, refuses unauthenticated
/// requests when a token is required, checks CSRF on state changes, issues session cookies,
/// and retires flash messages once shown.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if is_public(&path) {
        return next.run(request).await;
    }
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    let keys = state.keys();
    let now = SystemTime::now();
    let mut new_cookie = None;
    let identity = match bearer(request.headers()) {
        Some(token) if keys.token_required() => {
            if !keys.token_matches(token) {
                return unauthorized(&path, &target, "the bearer token is wrong");
            }
            Identity::Bearer
        }
        // Without a token to check, a bearer header means nothing; the request is treated like
        // any other browser request, CSRF included.
        _ => match cookies::get(request.headers(), cookies::SESSION)
            .and_then(|value| keys.verify_session(value, now))
        {
            Some(id) => Identity::Session(id),
            None if keys.token_required() => {
                return unauthorized(&path, &target, "log in with the dashboard's token");
            }
            None => match keys.new_session(now) {
                Ok((id, value)) => {
                    new_cookie = Some(cookies::set(cookies::SESSION, &value, None));
                    Identity::Session(id)
                }
                Err(error) => return error.into_response(),
            },
        },
    };
    let method = request.method().clone();
    let mut request = request;
    if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        && let Identity::Session(id) = &identity
    {
        request = match csrf::check(keys, id, request).await {
            Ok(request) => request,
            Err(refusal) => return refusal,
        };
    }
    let had_flash = cookies::get(request.headers(), cookies::FLASH).is_some();
    request.extensions_mut().insert(identity);
    let mut response = next.run(request).await;
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    if had_flash && method == Method::GET && response.status().is_success() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookies::clear(cookies::FLASH));
    }
    response
}

/// A same-site path to return to after logging in or acting: never another site's URL.
/// Control characters and whitespace are refused too: browsers drop tabs and line breaks from
/// a URL (`/<TAB>/evil.example` is `//evil.example`), and a header cannot carry them at all.
pub fn local_target(target: Option<&str>) -> String {
    match target {
        Some(t)
            if t.starts_with('/')
                && !t.starts_with("//")
                && !t.starts_with("/\\")
                && !t.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            t.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// `GET /login`: the form (or, without a token, straight to the overview).
pub async fn login_form(State(state): State<AppState>, request: Request) -> Response {
    if !state.keys().token_required() {
        return Redirect::to("/").into_response();
    }
    let next = request
        .uri()
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "next")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    login::page(&local_target(Some(&next)), None).into_response()
}

/// `POST /login`: checks the token and sets the session cookie.
pub async fn login_submit(State(state): State<AppState>, body: String) -> Response {
    let keys = state.keys();
    if !keys.token_required() {
        return Redirect::to("/").into_response();
    }
    let mut token = String::new();
    let mut next = String::new();
    for (key, value) in url::form_urlencoded::parse(body.as_bytes()) {
        match key.as_ref() {
            "token" => token = value.into_owned(),
            "next" => next = value.into_owned(),
            _ => {}
        }
    }
    let next = local_target(Some(&next));
    if !keys.token_matches(&token) {
        // A pause makes guessing slow without costing a legitimate user much.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let page = login::page(&next, Some("That is not the dashboard's token."));
        return (StatusCode::UNAUTHORIZED, page).into_response();
    }
    match keys.new_session(SystemTime::now()) {
        Ok((_, value)) => {
            let cookie = cookies::set(cookies::SESSION, &value, Some(SESSION_LIFETIME.as_secs()));
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// `POST /logout`: forgets the session.
pub async fn logout(State(state): State<AppState>) -> Response {
    let to = if state.keys().token_required() {
        "/login"
    } else {
        "/"
    };
    (
        [(header::SET_COOKIE, cookies::clear(cookies::SESSION))],
        Redirect::to(to),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_signed_and_expire() {
        let keys = Keys::new(Some("s3cret")).expect("keys");
        let now = SystemTime::now();
        let (id, value) = keys.new_session(now).expect("session");
        assert_eq!(keys.verify_session(&value, now), Some(id.clone()));
        // Another token's keys do not accept it; neither does a tampered cookie.
        let other = Keys::new(Some("other")).expect("keys");
        assert_eq!(other.verify_session(&value, now), None);
        let tampered = value.replacen(&id[..1], if &id[..1] == "a" { "b" } else { "a" }, 1);
        assert_eq!(keys.verify_session(&tampered, now), None);
        let later = now + SESSION_LIFETIME + Duration::from_secs(5);
        assert_eq!(keys.verify_session(&value, later), None);
        // The same token after a restart accepts it.
        let restarted = Keys::new(Some("s3cret")).expect("keys");
        assert_eq!(restarted.verify_session(&value, now), Some(id));
    }

    #[test]
    fn tokens_and_csrf() {
        let keys = Keys::new(Some("s3cret")).expect("keys");
        assert!(keys.token_matches("s3cret"));
        assert!(!keys.token_matches("s3cre"));
        assert!(!keys.token_matches(""));
        let open = Keys::new(None).expect("keys");
        assert!(!open.token_required());
        assert!(!open.token_matches(""));
        let csrf = keys.csrf_token("abc");
        assert!(keys.csrf_matches("abc", &csrf));
        assert!(!keys.csrf_matches("abd", &csrf));
        assert!(!keys.csrf_matches("abc", "zz"));
        assert!(!keys.csrf_matches("abc", ""));
    }

    #[test]
    fn only_local_targets() {
        assert_eq!(local_target(Some("/failed?page=2")), "/failed?page=2");
        assert_eq!(local_target(Some("//evil.example/")), "/");
        assert_eq!(local_target(Some("/\\evil.example/")), "/");
        assert_eq!(local_target(Some("https://evil.example/")), "/");
        assert_eq!(local_target(None), "/");
    }
}
