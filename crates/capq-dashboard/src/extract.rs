//! The query-string and path parameters of pages and APIs, with one answer for bad ones.
//!
//! axum's own `Query` and `Path` extractors refuse bad input (`?page=-1`, `/jobs/%FF`) with a
//! plain-text 400 that is neither a page nor JSON. [`QueryParams`] and [`PathParams`] parse the
//! same way but refuse through [`Rejection`]: an HTML error page for browsers, the JSON error
//! body under `/api`, both naming the parameter and the problem. The router's
//! method-not-allowed fallback answers the same way.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, OriginalUri, Path, Query};
use axum::http::request::Parts;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::auth::is_machine_path;
use crate::error::{ApiError, Error};

/// A request refused before its handler ran, answered as a page or, under `/api`, as JSON.
#[derive(Debug)]
pub struct Rejection {
    pub error: Error,
    /// Whether the request was for a program (`/api`, `/metrics`).
    pub machine: bool,
}

impl Rejection {
    pub fn new(path: &str, error: Error) -> Rejection {
        Rejection {
            error,
            machine: is_machine_path(path),
        }
    }

    /// A rejection of the request `parts` belong to. Routers nested under `/api` see their
    /// path without the prefix, so the path is the original one.
    fn of(parts: &Parts, error: Error) -> Rejection {
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path(), |OriginalUri(uri)| uri.path());
        Rejection::new(path, error)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        if self.machine {
            ApiError(self.error).into_response()
        } else {
            self.error.into_response()
        }
    }
}

/// Why a query string cannot be read, for people: `page: invalid digit found in string`.
fn query_problem(rejection: &QueryRejection) -> String {
    match rejection {
        QueryRejection::FailedToDeserializeQueryString(inner) => {
            std::error::Error::source(inner).map_or_else(|| inner.body_text(), ToString::to_string)
        }
        other => other.body_text(),
    }
}

/// Parses a query string (`page=2&per_page=50`) into `T`; an absent one reads as empty.
pub fn parse_query<T: DeserializeOwned>(query: Option<&str>) -> Result<T, Error> {
    let uri: Uri = match query {
        Some(query) => format!("/?{query}")
            .parse()
            .map_err(|_| Error::BadRequest("the query string is not a valid URL part".into()))?,
        None => Uri::from_static("/"),
    };
    Query::<T>::try_from_uri(&uri)
        .map(|Query(value)| value)
        .map_err(|rejection| {
            Error::BadRequest(format!(
                "bad query string: {}; page and per_page are whole numbers from 1",
                query_problem(&rejection)
            ))
        })
}

/// The query string, deserialized; a bad one is a 400 page, or JSON under `/api`.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
        parse_query(parts.uri.query())
            .map(QueryParams)
            .map_err(|error| Rejection::of(parts, error))
    }
}

/// The path's parameters (a job id, a queue name), percent-decoded; a bad one (not UTF-8) is a
/// 400 page, or JSON under `/api`.
#[derive(Debug, Clone)]
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParams(value)),
            Err(rejection) => {
                let problem = match &rejection {
                    PathRejection::FailedToDeserializePathParams(inner) => inner.body_text(),
                    other => other.body_text(),
                };
                let error = if rejection.status().is_server_error() {
                    Error::Internal(problem)
                } else {
                    Error::BadRequest(format!("bad path: {problem}"))
                };
                Err(Rejection::of(parts, error))
            }
        }
    }
}

/// The router's answer to a method a path does not take (a GET of an action, say).
pub async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    let error = Error::MethodNotAllowed(format!(
        "{method} is not how {} is used: actions are POSTs from the dashboard's buttons",
        uri.path()
    ));
    Rejection::new(uri.path(), error).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Paging {
        page: Option<usize>,
        per_page: Option<usize>,
    }

    #[test]
    fn queries_parse_or_say_what_is_wrong() {
        let paging: Paging = parse_query(Some("page=2&per_page=5&other=x")).expect("parses");
        assert_eq!(
            paging,
            Paging {
                page: Some(2),
                per_page: Some(5)
            }
        );
        let empty: Paging = parse_query(None).expect("parses");
        assert_eq!(empty.page, None);
        for (query, named) in [
            ("page=-1", "page"),
            ("per_page=abc", "per_page"),
            ("page=99999999999999999999999999", "page"),
            ("page=1&page=2", "page"),
        ] {
            let error = parse_query::<Paging>(Some(query)).expect_err(query);
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{query}");
            let message = error.to_string();
            assert!(
                message.starts_with("bad query string: ") && message.contains(named),
                "{query}: {message}"
            );
        }
        // Bytes no URL may hold are refused too, never a panic.
        let error = parse_query::<Paging>(Some("page=1\r\n")).expect_err("CR LF");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }
}
