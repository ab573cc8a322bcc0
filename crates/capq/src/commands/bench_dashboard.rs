//! `capq bench dashboard`: how fast the dashboard's pages answer at scale. Fills an empty Redis
//! database with `--finished` jobs that finished and `--failed` that failed, run for real by an
//! in-process worker, serves the dashboard on a loopback port, and times each page over HTTP:
//! the median and slowest of `--repeat` requests, with the size of the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use capmetrics::Catalog;
use capq_core::env::TaskEnv;
use capq_core::job::Defaults;
use capq_core::payload::{Call, Serializer};
use capq_core::task::Registry;
use capq_core::worker::{self, WorkerConfig};
use capq_pickle::Value;
use capq_redis::{NewJob, Redis};
use capq_storage::Storage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{connect, data_dir, runtime};
use crate::cli::DashboardBenchArgs;
use crate::exit::{self, UserError};

pub fn run(args: DashboardBenchArgs) -> anyhow::Result<u8> {
    runtime()?.block_on(async move {
        let redis = connect(&args.redis.url).await?;
        if !redis.queue_names().await?.is_empty() {
            anyhow::bail!(UserError(format!(
                "Redis at {} already holds RQ queues; the benchmark fills a database of its own (use an empty one, such as redis://…/15)",
                redis.url()
            )));
        }
        let started = Instant::now();
        fill(&redis, args.finished, args.failed).await?;
        let jobs = args.finished + args.failed;
        eprintln!(
            "filled: {jobs} jobs enqueued and run by an in-process worker in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let some_failure = redis
            .failed_page(0, 1)
            .await?
            .entries
            .first()
            .map(|e| e.id.clone())
            .unwrap_or_default();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let state = capq_dashboard::AppState::new(redis, capq_dashboard::Config::default())?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(capq_dashboard::serve(listener, state, async {
            let _ = stopped.await;
        }));

        let last_failed = args.failed.div_ceil(50).max(1);
        let last_finished = args.finished.div_ceil(50).max(1);
        let paths = [
            "/".to_owned(),
            "/api/overview".to_owned(),
            "/failed".to_owned(),
            format!("/failed?page={}", last_failed.div_ceil(2)),
            format!("/failed?page={last_failed}"),
            "/queues/default?state=finished".to_owned(),
            format!("/queues/default?state=finished&page={last_finished}"),
            "/queues/default?state=failed".to_owned(),
            format!("/jobs/{some_failure}"),
            "/workers".to_owned(),
            "/metrics".to_owned(),
        ];
        println!(
            "dashboard over {} finished and {} failed jobs; {} requests per page",
            args.finished, args.failed, args.repeat
        );
        println!("{:<48} {:>10} {:>10} {:>10}", "page", "median ms", "max ms", "bytes");
        for path in &paths {
            let mut times = Vec::with_capacity(args.repeat);
            let mut size = 0;
            for _ in 0..args.repeat.max(1) {
                let begun = Instant::now();
                let (status, bytes) = get(port, path).await?;
                times.push(begun.elapsed());
                if status != 200 {
                    anyhow::bail!("{path} answered {status}");
                }
                size = bytes;
            }
            times.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{path:<48} {:>10.1} {:>10.1} {size:>10}",
                ms(times[times.len() / 2]),
                ms(times[times.len() - 1])
            );
        }
        let _ = stop.send(());
        let _ = server.await;
        Ok(exit::SUCCESS)
    })
}

/// Enqueues the jobs and runs them with a burst worker, as a real fleet would have.
async fn fill(redis: &Redis, finished: usize, failed: usize) -> anyhow::Result<()> {
    let job = |func: &str, args: Vec<Value>| NewJob {
        result_ttl: Some(86_400),
        failure_ttl: Some(86_400),
        ..NewJob::new(
            "default",
            Call {
                func: func.to_owned(),
                args,
                kwargs: vec![],
                serializer: Serializer::Pickle,
            },
        )
    };
    let mut jobs: Vec<NewJob> = (0..finished).map(|_| job("capq.noop", vec![])).collect();
    jobs.extend((0..failed).map(|i| {
        job(
            "capq.fail",
            vec![Value::Str(format!("benchmark failure {i}"))],
        )
    }));
    for chunk in jobs.chunks(10_000) {
        redis.enqueue(chunk, None).await?;
    }
    let storage = Storage::from_env()?;
    let data = data_dir(None)?.display().to_string();
    let source = capq_storage::data_source(&data, &storage, tokio::runtime::Handle::current())?;
    let env = Arc::new(TaskEnv {
        data: Catalog::new(source),
        storage,
        runtime: tokio::runtime::Handle::current(),
        jobs: None,
    });
    let config = WorkerConfig {
        burst: true,
        concurrency: 16,
        defaults: Defaults {
            result_ttl: 86_400,
            failure_ttl: 86_400,
        },
        ..WorkerConfig::new("capq-bench".to_owned(), vec!["default".to_owned()])
    };
    let (_keep, shutdown) = tokio::sync::watch::channel(false);
    worker::run(
        Arc::new(redis.clone()),
        Arc::new(Registry::builtin()),
        env,
        config,
        shutdown,
    )
    .await?;
    Ok(())
}

/// One GET over HTTP/1.1: the status and the size of the whole answer.
async fn get(port: u16, path: &str) -> anyhow::Result<(u16, usize)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await?;
    let status = String::from_utf8_lossy(&reply[..reply.len().min(16)])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, reply.len()))
}
