//! `capq dashboard`: the web dashboard (crate `capq-dashboard`). Serves until SIGINT or
//! SIGTERM, then finishes the requests in flight.

use capq_dashboard::{AppState, Config};

use super::{connect, runtime};
use crate::cli::DashboardArgs;
use crate::exit::UserError;

pub fn run(args: DashboardArgs) -> anyhow::Result<u8> {
    let token = args.token.filter(|t| !t.is_empty());
    let runtime = runtime()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.bind)
            .await
            .map_err(|e| UserError(format!("--bind {}: {e}", args.bind)))?;
        let address = listener
            .local_addr()
            .map_err(|e| UserError(format!("--bind {}: {e}", args.bind)))?;
        let loopback = address.ip().is_loopback();
        if !loopback && token.is_none() {
            tracing::warn!(
                "the dashboard listens on {address}, beyond this machine, without --token: anyone who can reach it can requeue, delete and stop jobs"
            );
        }
        let redis = connect(&args.redis.url).await?;
        let url = redis.url().to_owned();
        let config = Config {
            token,
            loopback_only: loopback,
            ..Config::default()
        };
        let state = AppState::new(redis, config)?;
        eprintln!("capq dashboard: http://{address}/ (Redis {url})");
        capq_dashboard::serve(listener, state, shutdown_signal()).await?;
        eprintln!("capq dashboard: stopped");
        Ok(0)
    })
}

/// Completes on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        }
        _ => {
            tracing::error!("cannot listen for signals; stop the dashboard with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
}
