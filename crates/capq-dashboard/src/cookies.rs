//! The dashboard's two cookies: `capq_session` (who you are; also what CSRF tokens are bound
//! to) and `capq_flash` (a one-shot message shown by the page an action redirects to). Both
//! are `HttpOnly` and `SameSite=Strict`, so scripts cannot read them and other sites' pages
//! cannot send them.

use axum::http::{HeaderMap, HeaderValue, header};

pub const SESSION: &str = "capq_session";
pub const FLASH: &str = "capq_flash";

/// The value of cookie `name` in a request, if sent.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value; `max_age` `None` makes a cookie that ends with the browser session.
pub fn set(name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A `Set-Cookie` value that deletes cookie `name`.
pub fn clear(name: &str) -> HeaderValue {
    set(name, "", Some(0))
}

/// Whether a flash message reports success or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Done,
    Refused,
}

/// The flash cookie carrying `message`.
pub fn flash(kind: FlashKind, message: &str) -> HeaderValue {
    let tagged = match kind {
        FlashKind::Done => format!("ok:{message}"),
        FlashKind::Refused => format!("err:{message}"),
    };
    let encoded: String = url::form_urlencoded::byte_serialize(tagged.as_bytes()).collect();
    set(FLASH, &encoded, Some(60))
}

/// The flash message a request carries, if any.
pub fn read_flash(headers: &HeaderMap) -> Option<(FlashKind, String)> {
    let raw = get(headers, FLASH).filter(|v| !v.is_empty())?;
    let decoded: String = url::form_urlencoded::parse(format!("m={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    match decoded.split_once(':') {
        Some(("ok", text)) => Some((FlashKind::Done, text.to_owned())),
        Some(("err", text)) => Some((FlashKind::Refused, text.to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_round_trip() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; capq_session=abc.1.def"),
        );
        assert_eq!(get(&headers, SESSION), Some("abc.1.def"));
        assert_eq!(get(&headers, "b"), None);
        let cookie = flash(FlashKind::Refused, "job <x> is running; 100%");
        let value = cookie.to_str().unwrap_or_default();
        assert!(value.contains("HttpOnly; SameSite=Strict"), "{value}");
        let pair = value.split(';').next().unwrap_or_default().to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&pair).unwrap_or_else(|_| HeaderValue::from_static("")),
        );
        assert_eq!(
            read_flash(&headers),
            Some((FlashKind::Refused, "job <x> is running; 100%".to_owned()))
        );
    }
}
