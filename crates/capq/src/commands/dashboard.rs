//! `capq dashboard`: the web dashboard (crate `capq-dashboard`). Serves until SIGINT or
//! SIGTERM, then finishes the requests in flight. Batch pages read outputs and aggregates from
//! storage, under the prefixes of `--read-outputs` only; the Runs page reads the runs of the
//! output folders of `--runs`.

use anyhow::Context;
use capq_dashboard::{AppState, Config, Outputs, RunFolders};
use capq_storage::{Location, OutputAllowList, Storage};

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
    let runs = run_folders(&args.runs)?;
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
        let runs_shown = runs.as_ref().map_or_else(
            || "no runs (--runs)".to_owned(),
            |r| {
                let folders: Vec<String> = r.folders().map(|(_, f)| f.root().to_string()).collect();
                format!("runs in {}", folders.join(", "))
            },
        );
        let config = Config {
            token,
            loopback_only: loopback,
            outputs,
            runs,
            ..Config::default()
        };
        let state = AppState::new(redis, config)?;
        eprintln!(
            "capq dashboard: http://{address}/ (Redis {url}; batch pages read under {reads}; {runs_shown})"
        );
        capq_dashboard::serve(listener, state, shutdown_signal()).await?;
        eprintln!("capq dashboard: stopped");
        Ok(0)
    })
}

/// The folders of `--runs`, parsed as `--output` is; `None` when there are none.
fn run_folders(texts: &[String]) -> anyhow::Result<Option<RunFolders>> {
    let locations = texts
        .iter()
        .map(|text| text.trim())
        .filter(|text| !text.is_empty())
        .map(|text| Location::parse(text).map_err(|e| UserError(format!("--runs {text}: {e}"))))
        .collect::<Result<Vec<Location>, UserError>>()?;
    if locations.is_empty() {
        return Ok(None);
    }
    let storage = Storage::from_env().context("configuring storage")?;
    Ok(Some(RunFolders::new(storage, locations)))
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
