//! The crate's one error type, and how it answers a request: an HTML page for browsers, JSON
//! for `/api/...` (through [`ApiError`]). An unreachable or silent Redis is a 503 that names
//! the server and the problem; nothing here panics.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, html};

use crate::assets;

/// Something a request could not get past.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Redis could not be reached, or failed the command.
    #[error("{}", redis_message(url, source))]
    Redis {
        url: String,
        #[source]
        source: capq_redis::Error,
    },
    #[error("Redis at {url} did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// The request was understood but the state does not allow it (stop a job that is not
    /// running).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Too many wrong tokens from one client (see `throttle.rs`); it may try again after
    /// `retry_after` seconds.
    #[error("{message}")]
    Throttled { message: String, retry_after: u64 },
    /// Storage (S3, a folder) could not be read.
    #[error("{0}")]
    Storage(String),
    /// A fault of the dashboard itself, not of the request.
    #[error("{0}")]
    Internal(String),
    #[error("cannot serve the dashboard: {0}")]
    Serve(#[source] std::io::Error),
    #[error("cannot make a random key: the system's random source failed")]
    Randomness,
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Redis { source, .. } => match source {
                capq_redis::Error::NoSuchJob(_) => StatusCode::NOT_FOUND,
                capq_redis::Error::NotRunning { .. } => StatusCode::CONFLICT,
                // Any other Redis failure means the data cannot be read now: the service is
                // unavailable, and retrying may help.
                _ => StatusCode::SERVICE_UNAVAILABLE,
            },
            Error::Timeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Storage(_) => StatusCode::BAD_GATEWAY,
            Error::Serve(_) | Error::Randomness | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The message for people: refusals of an action (no such job, not running) are told as
    /// they are, without the Redis URL in front.
    pub fn message(&self) -> String {
        match self {
            Error::Redis {
                source:
                    source @ (capq_redis::Error::NoSuchJob(_) | capq_redis::Error::NotRunning { .. }),
                ..
            } => source.to_string(),
            other => other.to_string(),
        }
    }

    /// The `Retry-After` an answer carries, in seconds: when Redis may be back, or when a
    /// throttled client may try again.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::Throttled { retry_after, .. } => Some(*retry_after),
            _ if self.status() == StatusCode::SERVICE_UNAVAILABLE => Some(5),
            _ => None,
        }
    }

    fn title(&self) -> &'static str {
        match self.status() {
            StatusCode::SERVICE_UNAVAILABLE => "Redis is unavailable",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::CONFLICT => "Not possible now",
            StatusCode::FORBIDDEN => "Refused",
            StatusCode::METHOD_NOT_ALLOWED => "Not an action link",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            StatusCode::BAD_GATEWAY => "Storage unavailable",
            _ => "Error",
        }
    }
}

fn redis_message(url: &str, source: &capq_redis::Error) -> String {
    if source.is_transient() {
        format!("Redis at {url} is unreachable ({source})")
    } else {
        format!("Redis at {url}: {source}")
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let hint = (status == StatusCode::SERVICE_UNAVAILABLE)
            .then_some("This page reloads by itself once Redis answers again.");
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title()) " · capq" }
                    link rel="stylesheet" href=(assets::url("app.css"));
                    script src=(assets::url("app.js")) defer {}
                }
                body data-retry=[hint.map(|_| "5")] {
                    main.narrow {
                        h1 { (self.title()) }
                        p.error-message #error-message { (self.message()) }
                        @if let Some(hint) = hint {
                            p.muted { (hint) }
                        }
                        p { a href="/" { "Back to the overview" } }
                    }
                }
            }
        };
        let retry_after = self.retry_after();
        with_retry_after((status, page).into_response(), retry_after)
    }
}

fn with_retry_after(mut response: Response, seconds: Option<u64>) -> Response {
    if let Some(seconds) = seconds {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// An [`Error`] answered as JSON: `{"error": "...", "status": 503}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status.is_server_error() {
            tracing::warn!(error = %self.0, "API request failed");
        }
        let body = Json(serde_json::json!({"error": self.0.message(), "status": status.as_u16()}));
        with_retry_after((status, body).into_response(), self.0.retry_after())
    }
}
