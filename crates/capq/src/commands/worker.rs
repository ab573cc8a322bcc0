//! `capq worker`: run jobs from Redis until stopped (or, with `--burst`, until the queues are
//! empty). The first SIGINT or SIGTERM stops it gracefully; a second one exits at once. A
//! worker started while Redis cannot be reached waits for it (a burst run fails instead).
//!
//! It listens on each queue it is given and on that queue's twin pinned to its own processor
//! fingerprint (`capq_core::pin::listen_order`), where `capq enqueue` puts batches.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use capmetrics::Catalog;
use capq_core::broker::UpkeepPolicy;
use capq_core::env::TaskEnv;
use capq_core::job::Defaults;
use capq_core::monitor::Monitor;
use capq_core::task::Registry;
use capq_core::worker::{self, WorkerConfig};
use capq_storage::{OutputAllowList, Storage};
use tokio::sync::watch;

use super::{connect, data_dir, runtime};
use crate::cli::WorkerArgs;
use crate::exit::{self, UserError};

pub fn run(args: WorkerArgs) -> anyhow::Result<u8> {
    let queues: Vec<String> = args
        .queues
        .iter()
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty())
        .collect();
    if queues.is_empty() {
        anyhow::bail!(UserError("--queues names no queue".into()));
    }
    let processor = capq_core::runs::processor_fingerprint();
    if processor != capmetrics::PROCESSOR_FINGERPRINT {
        tracing::warn!(
            "{} is set: this worker claims to run processor {processor}, not its own {}; for \
             tests only",
            capq_core::runs::FINGERPRINT_OVERRIDE,
            capmetrics::PROCESSOR_FINGERPRINT
        );
    }
    let queues = capq_core::pin::listen_order(&queues, processor)
        .map_err(|e| UserError(format!("--queues: {e}")))?;
    let concurrency = match args.concurrency {
        Some(0) => anyhow::bail!(UserError("--concurrency must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    if args.lease < 3 {
        anyhow::bail!(UserError("--lease must be at least 3 seconds".into()));
    }
    let data = match args.data {
        Some(data) if data.contains("://") => data,
        other => data_dir(other.map(Into::into))?.display().to_string(),
    };
    // Jobs name their own outputs; without a list, only S3 is writable (no local path).
    let allowed = if args.allow_output.is_empty() {
        OutputAllowList::s3_only()
    } else {
        OutputAllowList::parse(&args.allow_output)
            .map_err(|e| UserError(format!("--allow-output: {e}")))?
    };
    let mut registry = Registry::builtin();
    if args.test_tasks {
        tracing::warn!(
            "test tasks are on: capq.append_line can append to any file this worker can write"
        );
        for task in capq_core::tasks::test_only() {
            registry.add(task);
        }
    }
    let name = args.name.unwrap_or_else(default_name);
    let runtime = runtime()?;
    let result = runtime.block_on(async move {
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(watch_signals(stop));
        let storage = Storage::from_env()
            .context("configuring storage")?
            .with_allowed_outputs(allowed.clone());
        let source = capq_storage::data_source(&data, &storage, tokio::runtime::Handle::current())
            .map_err(|e| UserError(format!("--data: {e}")))?;
        let config = WorkerConfig {
            burst: args.burst,
            concurrency,
            lease: Duration::from_secs(args.lease),
            grace: Duration::from_secs(args.grace),
            defaults: Defaults { result_ttl: args.result_ttl, failure_ttl: args.failure_ttl },
            upkeep: UpkeepPolicy {
                max_recoveries: args.max_recoveries,
                failure_ttl: args.failure_ttl,
                stranded_after: Duration::from_secs(30),
            },
            upkeep_every: Duration::from_secs(args.upkeep_every.max(1)),
            processor: processor.to_owned(),
            ..WorkerConfig::new(name.clone(), queues.clone())
        };
        // The probes answer from the start: alive while the worker waits for Redis, ready
        // once Redis answers.
        if let Some(bind) = &args.metrics_bind {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|e| UserError(format!("--metrics-bind {bind}: {e}")))?;
            let every = config.lease / 3;
            tokio::spawn(crate::health::serve(listener, Arc::clone(&config.monitor), name.clone(), every));
        }
        eprintln!(
            "capq worker {name}: processor {processor}, queues {}, data {data}, outputs under {allowed}, {concurrency} at a time",
            queues.join(",")
        );
        // A burst run is a one-off command: an unreachable Redis is an error. A long-running
        // worker (a pod started before Redis, or during an outage) waits for it instead.
        let redis = if args.burst {
            connect(&args.redis.url).await?
        } else {
            match connect_waiting(&args.redis.url, &config.monitor, stopped.clone()).await? {
                Some(redis) => redis,
                None => {
                    eprintln!("capq worker {name}: stopped before Redis answered");
                    return Ok(exit::SUCCESS);
                }
            }
        };
        let env = Arc::new(TaskEnv {
            data: Catalog::new(source),
            storage,
            runtime: tokio::runtime::Handle::current(),
            jobs: Some(Arc::new(redis.clone())),
        });
        let stats = worker::run(
            Arc::new(redis),
            Arc::new(registry),
            env,
            config,
            stopped,
        )
        .await?;
        eprintln!(
            "capq worker {name}: {} finished, {} failed, {} retried, {} handed back, {} lost, {} recovered from other workers",
            stats.finished, stats.failed, stats.retried, stats.requeued, stats.lost, stats.recovered
        );
        Ok(exit::SUCCESS)
    });
    // A job handed back at the end of the grace period may still be computing on a blocking
    // thread; do not wait for it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Connects to Redis, waiting while it cannot be reached (connection refused or timed out,
/// Redis loading its data): says what it waits for, keeps the liveness probe answering (the
/// readiness probe says not ready), and tries again with a backoff from 200 ms doubling up to
/// 5 s. An error retrying cannot fix (a wrong password, a bad URL) ends the worker. `None` if
/// the worker was told to stop first.
async fn connect_waiting(
    url: &str,
    monitor: &Monitor,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<capq_redis::Redis>> {
    let mut delay = Duration::from_millis(200);
    loop {
        match capq_redis::Redis::connect(url).await {
            Ok(redis) => return Ok(Some(redis)),
            Err(e) if e.is_transient() => {
                monitor.beat(false);
                tracing::warn!(error = %e, retry_in = ?delay, "waiting for Redis at {}", capq_redis::redact(url));
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|stop| *stop) => return Ok(None),
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "cannot connect to Redis at {}",
                    capq_redis::redact(url)
                )));
            }
        }
    }
}

/// `host.pid.xxxx`: unique among live workers without coordination.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "capq".to_owned()
    } else {
        host
    };
    format!("{host}.{}.{:04x}", std::process::id(), fastrand::u16(..))
}

/// First SIGINT/SIGTERM: graceful stop. Second: exit now (leases expire and jobs are
/// recovered by other workers).
async fn watch_signals(stop: watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for signals");
        return;
    };
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    tracing::info!("stopping: finishing running jobs (signal again to exit at once)");
    let _ = stop.send(true);
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    eprintln!("capq worker: second signal, exiting now");
    std::process::exit(130);
}
