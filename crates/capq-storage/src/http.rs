//! HTTP(S) folders, read-only: a file is a GET of its URL, a folder listing is a GET of the
//! folder's URL with a trailing slash (see `listing`). 404 and 410 mean "not there".

use bytes::Bytes;
use reqwest::StatusCode;

use crate::error::StorageError;
use crate::listing::parse_listing;

/// Fetches a file; `None` when the server says it does not exist.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &url::Url,
) -> Result<Option<Bytes>, StorageError> {
    fetch(client, url, "read").await
}

/// Lists the files directly inside a folder; a missing folder lists as empty.
pub(crate) async fn list(
    client: &reqwest::Client,
    url: &url::Url,
) -> Result<Vec<String>, StorageError> {
    let folder = folder_url(url);
    Ok(match fetch(client, &folder, "list").await? {
        Some(body) => parse_listing(&folder, &body),
        None => Vec::new(),
    })
}

/// The URL with a trailing slash on its path (and no query or fragment).
fn folder_url(url: &url::Url) -> url::Url {
    let mut folder = url.clone();
    folder.set_query(None);
    folder.set_fragment(None);
    if !folder.path().ends_with('/') {
        let path = format!("{}/", folder.path());
        folder.set_path(&path);
    }
    folder
}

async fn fetch(
    client: &reqwest::Client,
    url: &url::Url,
    action: &'static str,
) -> Result<Option<Bytes>, StorageError> {
    let failed = |error: reqwest::Error| transport_error(action, url, &error);
    let response = client.get(url.clone()).send().await.map_err(failed)?;
    let status = response.status();
    if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(StorageError::Remote {
            action,
            location: url.to_string(),
            detail: format!("HTTP {status}"),
            status: Some(status.as_u16()),
            transient: is_transient_status(status.as_u16()),
        });
    }
    response.bytes().await.map(Some).map_err(failed)
}

/// Server errors, throttling and request timeouts may pass; other statuses will not.
pub(crate) fn is_transient_status(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

fn transport_error(action: &'static str, url: &url::Url, error: &reqwest::Error) -> StorageError {
    // Builder and redirect-loop errors are about the request itself; everything else happened
    // on the wire (connect, timeout, reset, truncated body) and may not happen again.
    let transient = !(error.is_builder() || error.is_redirect());
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    StorageError::Remote {
        action,
        location: url.to_string(),
        detail,
        status: error.status().map(|s| s.as_u16()),
        transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_urls_end_with_a_slash() {
        let url = |text: &str| url::Url::parse(text).unwrap();
        assert_eq!(folder_url(&url("http://h/data")).as_str(), "http://h/data/");
        assert_eq!(
            folder_url(&url("http://h/data/")).as_str(),
            "http://h/data/"
        );
        assert_eq!(folder_url(&url("http://h")).as_str(), "http://h/");
        assert_eq!(folder_url(&url("http://h/d?x=1#f")).as_str(), "http://h/d/");
    }

    #[test]
    fn classifies_statuses() {
        for status in [500, 502, 503, 504, 429, 408] {
            assert!(is_transient_status(status), "{status}");
        }
        for status in [400, 401, 403, 405, 416] {
            assert!(!is_transient_status(status), "{status}");
        }
    }
}
