//! Probes for Kubernetes, answered without a token:
//! - `GET /healthz`: liveness, 200 while the server answers at all;
//! - `GET /healthz/ready`: readiness, 200 while Redis answers, 503 naming the problem if not.

use axum::extract::State;
use axum::http::StatusCode;

use crate::state::AppState;

/// `GET /healthz`.
pub async fn live() -> &'static str {
    "ok\n"
}

/// `GET /healthz/ready`.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    match state.read(state.redis().ping()).await {
        Ok(()) => (StatusCode::OK, "ok\n".to_owned()),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")),
    }
}
