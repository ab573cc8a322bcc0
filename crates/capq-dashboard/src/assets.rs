//! The stylesheets (the dashboard's and the aggregate report's), script and icon, compiled into the binary: the dashboard needs no CDN and
//! no internet. URLs carry a hash of the content (`/assets/app.js?v=…`), so browsers may cache
//! them for good and still get a new version the moment it changes.

use std::sync::LazyLock;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::extract::PathParams;

/// Every asset: name, content type, content.
const FILES: [(&str, &str, &str); 4] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    // The report's own sheet, every rule scoped under `.capq-report`: batch pages embed the
    // report's content under this policy, which forbids inline styles.
    (
        "report.css",
        "text/css; charset=utf-8",
        capq_aggregate::report::REPORT_CSS,
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("assets/favicon.svg"),
    ),
];

/// FNV-1a: enough to tell versions of a file apart.
fn fingerprint(content: &str) -> String {
    let hash = content.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(_, _, content)| fingerprint(content))
        .collect()
});

/// The URL of an asset, with its version.
pub fn url(name: &str) -> String {
    let version = FILES
        .iter()
        .position(|(n, _, _)| *n == name)
        .and_then(|i| VERSIONS.get(i))
        .map_or("", String::as_str);
    format!("/assets/{name}?v={version}")
}

/// `GET /assets/{name}`.
pub async fn serve(PathParams(name): PathParams<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, content)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *content,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
