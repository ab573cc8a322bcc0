//! `capq dashboard`: the web dashboard (crate `capq-dashboard`). Serves until SIGINT or
//! SIGTERM, then finishes the requests in flight. Batch pages read outputs and aggregates from
//! storage, under the prefixes of `--read-outputs` only.

use anyhow::Context;
use capq_dashboard::{AppState, Config, Outputs};
use capq_storage::{OutputAllowList, Storage};

use super::{connect, runtime};
use crate::cli::DashboardArgs;
use crate::exit::UserError;

pub fn run(args: DashboardArgs) -> anyhow::Result<u8> {
    let token = args.token.filter(|t| !t.is_empty());
    let prefixes: Vec<&str> = args
        .read_outputs
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    let outputs = if prefixes.len() == 1 && prefixes[0].eq_ignore_ascii_case("none") {
        None
    } else {
        let allowed = if prefixes.is_empty() {
            OutputAllowList::s3_only()
        } else {
            OutputAllowList::parse(&prefixes)
                .map_err(|e| UserError(format!("--read-outputs: {e}")))?
        };
        Some(Outputs {
            storage: Storage::from_env().context("configuring storage")?,
            allowed,
        })
    };
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
        let reads = outputs
            .as_ref()
            .map_or_else(|| "nothing".to_owned(), |o| o.allowed.to_string());
        let config = Config {
            token,
            loopback_only: loopback,
            outputs,
            ..Config::default()
        };
        let state = AppState::new(redis, config)?;
        eprintln!("capq dashboard: http://{address}/ (Redis {url}; batch pages read under {reads})");
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
