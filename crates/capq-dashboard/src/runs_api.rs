//! The JSON twins of the runs pages, under `/api` beside `api.rs`'s (and, like them, answering
//! errors as JSON: `{"error": "...", "status": 404}`):
//!
//! | GET                                | what                                                    |
//! |------------------------------------|---------------------------------------------------------|
//! | `/api/runs`                        | every `--runs` folder with its runs, newest first       |
//! | `/api/runs/{folder}/{id}`          | one run (`id`, `latest` or `latest~N`) and all its days |
//! | `/api/diff?folder=&a=&b=&profile=` | two runs' diff: `capq diff A B --output DIR --json`     |

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::ApiError;
use crate::extract::{PathParams, QueryParams};
use crate::pages::{diff, runs};
use crate::state::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/runs", get(get_runs))
        .route("/runs/{folder}/{id}", get(get_run))
        .route("/diff", get(get_diff))
}

async fn get_runs(State(state): State<AppState>) -> Json<runs::RunsPage> {
    Json(runs::load(&state).await)
}

async fn get_run(
    State(state): State<AppState>,
    PathParams((folder, id)): PathParams<(String, String)>,
) -> ApiResult<Json<runs::RunPage>> {
    Ok(Json(runs::load_run(&state, &folder, &id).await?))
}

/// The `Diff` itself, serialized as `capq diff --json` prints it.
async fn get_diff(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<diff::DiffQuery>,
) -> ApiResult<Json<capq_diff::Diff>> {
    Ok(Json(diff::load(&state, &query).await?.diff))
}
