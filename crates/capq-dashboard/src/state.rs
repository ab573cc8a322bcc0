//! What every request shares: the Redis handle, the configuration, the signing keys of
//! sessions, the throttle of wrong tokens, and the queue-depth history behind the overview's
//! chart.
//!
//! Redis keeps per-minute counts of ended jobs (the throughput chart), but nothing records how
//! deep the queues were a minute ago, so the dashboard samples the counts itself every few
//! seconds. Each sample goes into Redis (`capq:depth`, one per time slot however many
//! dashboards sample) and into a ring buffer of the last hour that pages read. A dashboard that
//! starts fills its buffer from Redis, so a restart or a second replica draws the same history.
//! The buffer sits behind a std mutex: it is held for a push or a copy, never across an await.
//!
//! Batch pages read the batch's outputs and aggregate from storage (`Config::outputs`), through
//! a cache of each batch's aggregate (`reports.rs`).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use capq_redis::{DepthSample, Redis};
use serde::Serialize;

use crate::auth::Keys;
use crate::error::{Error, Result};
use crate::format;
use crate::reports::{Outputs, Reports};
use crate::runs::RunFolders;
use crate::throttle::{Throttle, ThrottleConfig};

/// How the dashboard behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// When set, every page, API and `/metrics` needs this token (login cookie or
    /// `Authorization: Bearer`).
    pub token: Option<String>,
    /// Answer only requests whose `Host` is a loopback name or address. Set when the
    /// dashboard listens on loopback, so a web page cannot reach it through a DNS name that
    /// points at 127.0.0.1 (DNS rebinding).
    pub loopback_only: bool,
    /// How often queue depths are sampled for the depth chart.
    pub sample_every: Duration,
    /// How long the depth chart reaches back.
    pub history: Duration,
    /// Jobs per page in lists.
    pub page_size: usize,
    /// How long a page waits for Redis before answering 503.
    pub redis_timeout: Duration,
    /// Batches shown on the overview.
    pub batches_shown: usize,
    /// How wrong tokens are throttled per client (see `throttle.rs`).
    pub throttle: ThrottleConfig,
    /// Where batch outputs and aggregates are read from, for batch pages; `None`: nowhere.
    pub outputs: Option<Outputs>,
    /// How often a running batch's partial aggregate is brought up to date, at most.
    pub report_refresh: Duration,
    /// How long a batch page waits for its aggregate before answering without it (the
    /// computation goes on, and the page's live updates bring it in).
    pub report_wait: Duration,
    /// The output folders whose runs `/runs` lists and `/diff` compares (`--runs`); `None`:
    /// none.
    pub runs: Option<RunFolders>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            token: None,
            loopback_only: true,
            sample_every: Duration::from_secs(5),
            history: Duration::from_secs(3600),
            page_size: 50,
            redis_timeout: Duration::from_secs(5),
            batches_shown: 10,
            throttle: ThrottleConfig::default(),
            outputs: None,
            report_refresh: Duration::from_secs(10),
            report_wait: Duration::from_secs(3),
            runs: None,
        }
    }
}

/// One sample of the queues, taken by a dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds since the epoch.
    pub at: f64,
    /// Jobs waiting in queues, and running, summed over the queues.
    pub queued: u64,
    pub started: u64,
    /// The fleet's totals of ended jobs at that time (for the current rate).
    pub finished_total: u64,
    pub failed_total: u64,
}

impl Sample {
    /// The sample as stored in Redis.
    fn shared(&self) -> DepthSample {
        DepthSample {
            at_ms: (self.at * 1000.0) as u64,
            queued: self.queued,
            started: self.started,
            finished_total: self.finished_total,
            failed_total: self.failed_total,
        }
    }
}

impl From<&DepthSample> for Sample {
    fn from(s: &DepthSample) -> Sample {
        Sample {
            at: s.at_ms as f64 / 1000.0,
            queued: s.queued,
            started: s.started,
            finished_total: s.finished_total,
            failed_total: s.failed_total,
        }
    }
}

/// The shared state; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    redis: Redis,
    config: Config,
    keys: Keys,
    throttle: Throttle,
    history: Mutex<VecDeque<Sample>>,
    reports: Reports,
}

impl AppState {
    /// State for a dashboard on `redis`. Fails only when no random key can be made.
    pub fn new(redis: Redis, config: Config) -> Result<AppState> {
        let keys = Keys::new(config.token.as_deref())?;
        Ok(AppState {
            inner: Arc::new(Inner {
                redis,
                throttle: Throttle::new(config.throttle),
                config,
                keys,
                history: Mutex::new(VecDeque::new()),
                reports: Reports::default(),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    pub(crate) fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    /// The batches' aggregates, as batch pages show them.
    pub(crate) fn reports(&self) -> &Reports {
        &self.inner.reports
    }

    /// The Redis handle, for reads wrapped in [`AppState::read`].
    pub(crate) fn redis(&self) -> &Redis {
        &self.inner.redis
    }

    /// Runs one Redis operation under the configured time limit, naming the server if it
    /// fails or stays silent.
    pub(crate) async fn read<T>(
        &self,
        operation: impl Future<Output = capq_redis::Result<T>>,
    ) -> Result<T> {
        let limit = self.inner.config.redis_timeout;
        match tokio::time::timeout(limit, operation).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(Error::Redis {
                url: self.inner.redis.url().to_owned(),
                source,
            }),
            Err(_) => Err(Error::Timeout {
                url: self.inner.redis.url().to_owned(),
                seconds: limit.as_secs().max(1),
            }),
        }
    }

    /// Samples the queues once and keeps the sample.
    pub async fn sample(&self) -> Result<Sample> {
        let redis = self.redis();
        let (counts, stats) = self
            .read(async { tokio::try_join!(redis.queue_counts(), redis.fleet_stats()) })
            .await?;
        let sample = Sample {
            at: format::seconds_since_epoch(SystemTime::now()),
            queued: counts.iter().map(|q| q.queued).sum(),
            started: counts.iter().map(|q| q.started).sum(),
            finished_total: stats.finished,
            failed_total: stats.failed,
        };
        let config = &self.inner.config;
        let shared = sample.shared();
        if let Err(error) = self
            .read(redis.record_depth(&shared, config.sample_every, config.history))
            .await
        {
            tracing::debug!(%error, "cannot share the queue-depth sample");
        }
        self.keep(std::iter::once(sample));
        Ok(sample)
    }

    /// Fills the history with the samples in Redis (taken by this dashboard before a restart,
    /// or by others), older than any taken here. Returns how many there were.
    pub async fn restore(&self) -> Result<usize> {
        let since = SystemTime::now()
            .checked_sub(self.inner.config.history)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let since_ms = (format::seconds_since_epoch(since) * 1000.0) as u64;
        let redis = self.redis();
        let shared = self.read(redis.depth_history(since_ms)).await?;
        let first_here = self.history().first().map(|s| s.at);
        let restored: Vec<Sample> = shared
            .iter()
            .map(Sample::from)
            .filter(|s| first_here.is_none_or(|first| s.at < first))
            .collect();
        let count = restored.len();
        let mut history = self
            .inner
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for sample in restored.into_iter().rev() {
            history.push_front(sample);
        }
        drop(history);
        self.keep(std::iter::empty());
        Ok(count)
    }

    /// Appends samples and drops the oldest beyond the history's length.
    fn keep(&self, samples: impl IntoIterator<Item = Sample>) {
        let config = &self.inner.config;
        let keep = (config.history.as_secs_f64() / config.sample_every.as_secs_f64().max(0.001))
            .ceil() as usize
            + 1;
        let mut history = self
            .inner
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        history.extend(samples);
        while history.len() > keep {
            history.pop_front();
        }
    }

    /// The samples taken so far, oldest first.
    pub fn history(&self) -> Vec<Sample> {
        self.inner
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }

    /// Samples every `sample_every` until `shutdown` completes. A failed sample is logged and
    /// skipped: the chart shows a gap rather than stopping.
    pub async fn run_sampler(self, shutdown: impl Future<Output = ()>) {
        match self.restore().await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "queue-depth history restored from Redis"),
            Err(error) => tracing::debug!(%error, "cannot restore the queue-depth history"),
        }
        let mut ticks = tokio::time::interval(self.inner.config.sample_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticks.tick() => {
                    if let Err(error) = self.sample().await {
                        tracing::debug!(%error, "cannot sample the queues");
                    }
                }
            }
        }
    }
}
