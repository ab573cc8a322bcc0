//! `/api/...`: the JSON behind every page, from the same loaders the pages render, and the
//! actions for programs. Errors are JSON too: `{"error": "...", "status": 503}`.
//!
//! | GET                        | what                                               |
//! |----------------------------|----------------------------------------------------|
//! | `/api/overview`            | queues, workers, rates, throughput, depth, batches |
//! | `/api/queues`              | every queue with its jobs per state                |
//! | `/api/queues/{name}`       | a page of one state (`?state=&page=&per_page=`)    |
//! | `/api/jobs/{id}`           | one job in full                                    |
//! | `/api/workers`             | every worker                                       |
//! | `/api/failed`              | a page of failures of every queue                  |
//! | `/api/batches/{id}`        | a batch, its aggregate job and aggregate summary   |
//!
//! Actions are POSTs: `/api/jobs/{id}/{requeue,delete,cancel,stop}`,
//! `/api/failed/{requeue,delete}` with a JSON body `{"ids": [...]}` (or `{"all": true}` to
//! requeue every failure), `/api/queues/{name}/{requeue-failed,empty}`, `/api/suspend` and
//! `/api/resume`. They answer the outcome, with 409 when nothing could be done. A bad query
//! string or path (`?page=-1`) is a JSON 400 too (`extract.rs`).

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::actions::{Action, outcome_response};
use crate::error::{ApiError, Error};
use crate::extract::{PathParams, QueryParams};
use crate::pages::overview::QueueSummary;
use crate::pages::{batch, failed, job, overview, queue, workers};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/overview", get(get_overview))
        .route("/queues", get(get_queues))
        .route("/queues/{name}", get(get_queue))
        .route("/jobs/{id}", get(get_job))
        .route("/workers", get(get_workers))
        .route("/failed", get(get_failed))
        .route("/batches/{id}", get(get_batch))
        .route("/jobs/{id}/{verb}", post(post_job))
        .route("/failed/{verb}", post(post_failed))
        .route("/queues/{name}/{verb}", post(post_queue))
        .route("/suspend", post(post_suspend))
        .route("/resume", post(post_resume))
}

async fn get_overview(State(state): State<AppState>) -> ApiResult<Json<overview::Overview>> {
    Ok(Json(overview::load(&state).await?))
}

async fn get_queues(State(state): State<AppState>) -> ApiResult<Json<Vec<QueueSummary>>> {
    let counts = state.read(state.redis().queue_counts()).await?;
    Ok(Json(counts.iter().map(QueueSummary::from).collect()))
}

async fn get_queue(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    QueryParams(query): QueryParams<queue::QueueQuery>,
) -> ApiResult<Json<queue::QueuePage>> {
    Ok(Json(queue::load(&state, &name, &query).await?))
}

async fn get_job(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<job::JobDetail>> {
    Ok(Json(job::load(&state, &id).await?))
}

async fn get_batch(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<batch::BatchPage>> {
    Ok(Json(batch::load(&state, &id).await?))
}

async fn get_workers(State(state): State<AppState>) -> ApiResult<Json<workers::Workers>> {
    Ok(Json(workers::load(&state).await?))
}

async fn get_failed(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<failed::FailedQuery>,
) -> ApiResult<Json<failed::FailedPage>> {
    Ok(Json(failed::load(&state, &query).await?))
}

/// The body of `POST /api/failed/{verb}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Selection {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    all: bool,
}

async fn act(state: &AppState, action: Result<Action, Error>) -> Response {
    let result = match action {
        Ok(action) => action.perform(state).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(outcome) => outcome_response(outcome),
        Err(error) => ApiError(error).into_response(),
    }
}

async fn post_job(
    State(state): State<AppState>,
    PathParams((id, verb)): PathParams<(String, String)>,
) -> Response {
    act(&state, Action::for_job(id, &verb)).await
}

async fn post_failed(
    State(state): State<AppState>,
    PathParams(verb): PathParams<String>,
    body: Bytes,
) -> Response {
    let selection = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Selection::default())
    } else {
        serde_json::from_slice::<Selection>(&body).map_err(|e| {
            Error::BadRequest(format!(
                "the body must be JSON like {{\"ids\": [\"…\"]}} or {{\"all\": true}}: {e}"
            ))
        })
    };
    let action = selection.and_then(|s| Action::for_failed(&verb, s.ids, s.all));
    act(&state, action).await
}

async fn post_queue(
    State(state): State<AppState>,
    PathParams((name, verb)): PathParams<(String, String)>,
) -> Response {
    act(&state, Action::for_queue(name, &verb)).await
}

async fn post_suspend(State(state): State<AppState>) -> Response {
    act(&state, Ok(Action::Suspend)).await
}

async fn post_resume(State(state): State<AppState>) -> Response {
    act(&state, Ok(Action::Resume)).await
}
