//! capq's web dashboard: every queue, batch, worker and failure of an RQ-layout Redis at a
//! glance, with the actions to steer them, live updates, a JSON API behind every page and
//! Prometheus `/metrics`.
//!
//! Server-rendered HTML (maud escapes every interpolated string) with one small script for
//! confirmations and live updates; the stylesheet, script and icon are compiled in, so the
//! dashboard needs no CDN and no internet. [`router`] builds the axum app, [`serve`] runs it.
//!
//! Requests pass, outermost first: the security headers (`headers.rs`), the `Host` check for
//! loopback listeners, then the guard (`auth.rs`: token, session cookie, CSRF, with wrong
//! tokens throttled per client by `throttle.rs`). The health endpoints sit outside the guard so
//! probes need no token. Bad query strings and paths are refused by `extract.rs`, as a page or
//! as JSON like every other error.
//!
//! Besides Redis, the dashboard reads storage: batch pages read a batch's outputs and aggregate
//! under `--read-outputs` (`reports.rs`), and the Runs and diff pages read the run records of
//! the output folders of `--runs` (`runs.rs`, `pages/runs.rs`, `pages/diff.rs`).

mod actions;
mod api;
mod assets;
mod auth;
mod chart;
mod cookies;
mod csrf;
mod error;
mod extract;
mod format;
#[doc(hidden)]
pub mod fuzz;
mod headers;
mod health;
mod metrics;
mod pages;
mod redirect;
mod reports;
mod runs;
mod runs_api;
mod state;
mod throttle;
mod values;

use std::future::Future;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use error::Error;
pub use reports::Outputs;
pub use runs::RunFolders;
pub use state::{AppState, Config};
pub use throttle::ThrottleConfig;

/// The whole dashboard as an axum router over `state`.
pub fn router(state: AppState) -> Router {
    let guarded = Router::new()
        .route("/", get(pages::overview::page))
        .route("/queues/{name}", get(pages::queue::page))
        .route("/jobs/{id}", get(pages::job::page))
        .route("/workers", get(pages::workers::page))
        .route("/failed", get(pages::failed::page))
        .route("/batches/{id}", get(pages::batch::page))
        .route("/batches/{id}/files/{name}", get(pages::batch::file))
        .route("/runs", get(pages::runs::page))
        .route("/runs/{folder}/{id}", get(pages::runs::run))
        .route("/diff", get(pages::diff::page))
        .route("/login", get(auth::login_form).post(auth::login_submit))
        .route("/logout", post(auth::logout))
        .route("/assets/{name}", get(assets::serve))
        .route("/jobs/{id}/{verb}", post(actions::job_form))
        .route("/failed/{verb}", post(actions::failed_form))
        .route("/queues/{name}/{verb}", post(actions::queue_form))
        .route("/suspend", post(actions::suspend_form))
        .route("/resume", post(actions::resume_form))
        .route("/metrics", get(metrics::serve))
        .nest("/api", api::router().merge(runs_api::router()))
        .fallback(fallback)
        .method_not_allowed_fallback(extract::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            headers::check_host,
        ));
    Router::new()
        .route("/healthz", get(health::live))
        .route("/healthz/ready", get(health::ready))
        .merge(guarded)
        .layer(middleware::from_fn(headers::secure))
        .with_state(state)
}

/// Answers paths no route knows, as a page (or JSON under `/api`).
async fn fallback(request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path().to_owned();
    let error = Error::NotFound(format!("nothing at {path}"));
    if auth::is_machine_path(&path) {
        error::ApiError(error).into_response()
    } else {
        error.into_response()
    }
}

/// Serves the dashboard on `listener` until `shutdown` completes, sampling queue depths in the
/// background for the overview's chart.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let (stop_sampler, sampler_stopped) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(state.clone().run_sampler(async {
        let _ = sampler_stopped.await;
    }));
    // The peer's address reaches the guard as `ConnectInfo`: wrong tokens are throttled per
    // client.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Serve);
    let _ = stop_sampler.send(());
    let _ = sampler.await;
    served
}
