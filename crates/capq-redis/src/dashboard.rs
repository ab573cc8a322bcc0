//! The reads and actions behind the web dashboard and its `/metrics`: batches with their
//! progress, the per-minute throughput history, the fleet-wide totals and run-time histogram,
//! pages of jobs with their totals (one queue's registry, or the failures of every queue), a
//! job's whole result history, cancelling jobs no worker has taken yet, and the queue-depth
//! samples the dashboards share.
//!
//! Pages cost one round trip for the ids and the total plus one for the jobs, whatever the
//! registry's size: ranges are taken by rank (`ZRANGE`/`LRANGE` with offsets), never by
//! reading a whole registry.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use capq_core::time::epoch_seconds;
use redis::AsyncCommands;

pub use crate::broker::DURATION_BUCKETS;
use crate::client::Redis;
use crate::error::{Error, Result};
use crate::keys;
use crate::queries::{JobInfo, Registry, ResultEntry, result_entry};
use crate::scripts::invoke;

/// A batch enqueued by `capq enqueue`, with its progress counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchInfo {
    pub id: String,
    /// The day spec it was enqueued with, such as `2016-11-24..2016-11-27`.
    pub description: String,
    pub queue: String,
    pub output: String,
    /// Jobs in the batch.
    pub size: u64,
    /// Jobs that finished, and that failed for good (stopped ones count as failed), so far.
    pub finished: u64,
    pub failed: u64,
    /// RQ's timestamp format.
    pub created_at: String,
    /// Seconds since the epoch (the score in `capq:batches`).
    pub created_epoch: f64,
    /// The batch's aggregate job (`capq enqueue --aggregate`), and the folder it writes.
    pub aggregate_job: Option<String>,
    pub aggregate: Option<String>,
}

/// One day of a batch: the job that processes it, and how that job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchDay {
    pub day: String,
    pub job_id: String,
    /// `None` when the job's record is gone (a finished job's expires after its result TTL).
    pub status: Option<String>,
}

impl BatchInfo {
    fn of(id: String, created_epoch: f64, record: &HashMap<String, String>) -> BatchInfo {
        let get = |field: &str| record.get(field).cloned().unwrap_or_default();
        let count = |field: &str| get(field).parse().unwrap_or(0);
        let optional = |field: &str| record.get(field).filter(|v| !v.is_empty()).cloned();
        BatchInfo {
            description: get("description"),
            queue: get("queue"),
            output: get("output"),
            size: count("size"),
            finished: count("finished"),
            failed: count("failed"),
            created_at: get("created_at"),
            created_epoch,
            aggregate_job: optional("aggregate_job"),
            aggregate: optional("aggregate"),
            id,
        }
    }
}

/// Jobs that ended in one minute, fleet-wide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MinuteCounts {
    /// Whole minutes since the epoch.
    pub minute: u64,
    pub finished: u64,
    pub failed: u64,
}

/// Fleet-wide statistics kept by the workers since the statistics began.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetStats {
    /// Jobs that ended for good: finished, and failed or stopped.
    pub finished: u64,
    pub failed: u64,
    /// Jobs per run-time bucket, one count per entry of [`DURATION_BUCKETS`], not cumulative.
    pub durations: Vec<u64>,
    /// Total run time of those jobs, in seconds.
    pub duration_sum: f64,
}

/// One sample of the queues' depth, taken by a dashboard and shared through Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DepthSample {
    /// When it was taken, in milliseconds since the epoch.
    pub at_ms: u64,
    /// Jobs waiting in queues, and running, summed over the queues.
    pub queued: u64,
    pub started: u64,
    /// The fleet's totals of ended jobs at that time.
    pub finished_total: u64,
    pub failed_total: u64,
}

impl DepthSample {
    fn member(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.at_ms, self.queued, self.started, self.finished_total, self.failed_total
        )
    }

    fn parse(member: &str) -> Option<DepthSample> {
        let mut numbers = member.split(':').map(|n| n.parse::<u64>().ok());
        let mut next = || numbers.next().flatten();
        Some(DepthSample {
            at_ms: next()?,
            queued: next()?,
            started: next()?,
            finished_total: next()?,
            failed_total: next()?,
        })
    }
}

/// One row of a page of jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct PageEntry {
    pub id: String,
    /// The queue whose registry lists it.
    pub queue: String,
    /// The registry's score: expiry for finished and failed, lease expiry for started, when to
    /// run for scheduled, creation for deferred, cancel time for canceled; `None` when queued.
    pub score: Option<f64>,
    /// `None` when the registry still lists the job but its hash has expired or was deleted.
    pub job: Option<JobInfo>,
}

/// A page of jobs and how many there are in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobPage {
    pub total: u64,
    pub entries: Vec<PageEntry>,
}

/// What [`Redis::cancel_jobs`] did with one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    Canceled,
    /// No such job.
    Missing,
    /// Queued, but a worker has already taken it off the queue; it runs as soon as the worker
    /// has a free slot, so it can only be stopped once it does.
    Claimed,
    /// Not waiting (the job's status, such as `started` or `finished`).
    NotWaiting(String),
}

/// How a registry's page is ordered: the queue in running order, finished, failed and canceled
/// jobs newest first, the others by their score (soonest lease expiry or start first).
fn newest_first(registry: Registry) -> bool {
    matches!(
        registry,
        Registry::Finished | Registry::Failed | Registry::Canceled
    )
}

fn registry_key(registry: Registry, queue: &str) -> String {
    match registry {
        Registry::Queued => keys::queue(queue),
        Registry::Started => keys::started(queue),
        Registry::Finished => keys::finished(queue),
        Registry::Failed => keys::failed(queue),
        Registry::Deferred => keys::deferred(queue),
        Registry::Scheduled => keys::scheduled(queue),
        Registry::Canceled => keys::canceled(queue),
    }
}

impl Redis {
    /// The most recent `limit` batches, newest first, and how many batches there are.
    pub async fn batches(&self, limit: usize) -> Result<(u64, Vec<BatchInfo>)> {
        if limit == 0 {
            return Ok((0, Vec::new()));
        }
        let mut conn = self.conn.clone();
        let (total, ids): (u64, Vec<(String, f64)>) = redis::pipe()
            .zcard(keys::BATCHES)
            .zrevrange_withscores(keys::BATCHES, 0, limit as isize - 1)
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("list batches"))?;
        if ids.is_empty() {
            return Ok((total, Vec::new()));
        }
        let mut pipe = redis::pipe();
        for (id, _) in &ids {
            pipe.hgetall(keys::batch(id));
        }
        let records: Vec<HashMap<String, String>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("read batches"))?;
        let batches = ids
            .into_iter()
            .zip(records)
            .filter(|(_, record)| !record.is_empty())
            .map(|((id, created_epoch), record)| BatchInfo::of(id, created_epoch, &record))
            .collect();
        Ok((total, batches))
    }

    /// One batch, `None` when there is no such batch.
    pub async fn batch(&self, id: &str) -> Result<Option<BatchInfo>> {
        let (record, score): (HashMap<String, String>, Option<f64>) = redis::pipe()
            .hgetall(keys::batch(id))
            .zscore(keys::BATCHES, id)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("read a batch"))?;
        Ok((!record.is_empty())
            .then(|| BatchInfo::of(id.to_owned(), score.unwrap_or(0.0), &record)))
    }

    /// A batch's days in order, each with its job's status: one round trip for the days, one
    /// per thousand days for the statuses. Empty for batches enqueued before days were recorded.
    pub async fn batch_days(&self, id: &str) -> Result<Vec<BatchDay>> {
        let mut conn = self.conn.clone();
        let days: HashMap<String, String> = conn
            .hgetall(keys::batch_days(id))
            .await
            .map_err(Error::redis("read a batch's days"))?;
        let mut days: Vec<(String, String)> = days.into_iter().collect();
        days.sort();
        let mut out = Vec::with_capacity(days.len());
        for chunk in days.chunks(1_000) {
            let mut pipe = redis::pipe();
            for (_, job_id) in chunk {
                pipe.hget(keys::job(job_id), "status");
            }
            let statuses: Vec<Option<String>> = pipe
                .query_async(&mut conn)
                .await
                .map_err(Error::redis("read a batch's days"))?;
            out.extend(
                chunk
                    .iter()
                    .zip(statuses)
                    .map(|((day, job_id), status)| BatchDay {
                        day: day.clone(),
                        job_id: job_id.clone(),
                        status,
                    }),
            );
        }
        Ok(out)
    }

    /// Jobs that ended in each of the `minutes` minutes up to and including `last` (whole
    /// minutes since the epoch), oldest first. Minutes older than the counters' two hours read
    /// as zero.
    pub async fn minute_counts(&self, last: u64, minutes: u64) -> Result<Vec<MinuteCounts>> {
        let first = last.saturating_sub(minutes.saturating_sub(1));
        let mut pipe = redis::pipe();
        for minute in first..=last {
            pipe.cmd("HMGET")
                .arg(keys::stats_minute(minute))
                .arg("finished")
                .arg("failed");
        }
        let counts: Vec<(Option<u64>, Option<u64>)> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("read the throughput history"))?;
        Ok((first..=last)
            .zip(counts)
            .map(|(minute, (finished, failed))| MinuteCounts {
                minute,
                finished: finished.unwrap_or(0),
                failed: failed.unwrap_or(0),
            })
            .collect())
    }

    /// Records a depth sample in its time slot (`every` wide) unless another dashboard already
    /// did, and drops samples older than `keep`. Returns whether this sample was recorded.
    pub async fn record_depth(
        &self,
        sample: &DepthSample,
        every: Duration,
        keep: Duration,
    ) -> Result<bool> {
        let every_ms = (every.as_millis() as u64).max(1);
        let recorded: i64 = self
            .scripts
            .depth
            .key(keys::DEPTH)
            .arg(sample.at_ms / every_ms * every_ms)
            .arg(sample.member())
            .arg((keep.as_millis() as u64).max(1))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("record a queue-depth sample"))?;
        Ok(recorded == 1)
    }

    /// The depth samples of slots from `since_ms` on, oldest first. Entries that do not parse
    /// (written by something else) are skipped.
    pub async fn depth_history(&self, since_ms: u64) -> Result<Vec<DepthSample>> {
        let members: Vec<String> = self
            .conn
            .clone()
            .zrangebyscore(keys::DEPTH, since_ms, "+inf")
            .await
            .map_err(Error::redis("read the queue-depth history"))?;
        Ok(members
            .iter()
            .filter_map(|m| DepthSample::parse(m))
            .collect())
    }

    /// The fleet-wide totals and run-time histogram.
    pub async fn fleet_stats(&self) -> Result<FleetStats> {
        let (totals, durations): (HashMap<String, String>, HashMap<String, String>) = redis::pipe()
            .hgetall(keys::STATS_TOTALS)
            .hgetall(keys::STATS_DURATIONS)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("read the statistics"))?;
        let count = |map: &HashMap<String, String>, field: &str| {
            map.get(field).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        Ok(FleetStats {
            finished: count(&totals, "finished"),
            failed: count(&totals, "failed"),
            durations: DURATION_BUCKETS
                .iter()
                .map(|(_, label)| count(&durations, label))
                .collect(),
            duration_sum: durations
                .get("sum")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0),
        })
    }

    /// One page of a queue's registry (or of the queue itself), with the registry's size. The
    /// order is the queue's for queued jobs, newest first for finished, failed and canceled
    /// ones, and by score for the others.
    pub async fn job_page(
        &self,
        queue: &str,
        registry: Registry,
        offset: usize,
        limit: usize,
    ) -> Result<JobPage> {
        let key = registry_key(registry, queue);
        let start = offset as isize;
        let stop = (offset + limit.max(1)) as isize - 1;
        let mut conn = self.conn.clone();
        let (total, members): (u64, Vec<(String, Option<f64>)>) = match registry {
            Registry::Queued => {
                let (total, ids): (u64, Vec<String>) = redis::pipe()
                    .llen(&key)
                    .lrange(&key, start, stop)
                    .query_async(&mut conn)
                    .await
                    .map_err(Error::redis("list jobs"))?;
                (total, ids.into_iter().map(|id| (id, None)).collect())
            }
            _ => {
                let mut pipe = redis::pipe();
                pipe.zcard(&key);
                if newest_first(registry) {
                    pipe.zrevrange_withscores(&key, start, stop);
                } else {
                    pipe.zrange_withscores(&key, start, stop);
                }
                let (total, members): (u64, Vec<(String, f64)>) = pipe
                    .query_async(&mut conn)
                    .await
                    .map_err(Error::redis("list jobs"))?;
                let members = members
                    .into_iter()
                    .map(|(member, score)| (job_id_of(registry, member), Some(score)))
                    .collect();
                (total, members)
            }
        };
        if limit == 0 {
            return Ok(JobPage {
                total,
                entries: Vec::new(),
            });
        }
        let entries = members
            .into_iter()
            .map(|(id, score)| (queue.to_owned(), id, score))
            .collect();
        Ok(JobPage {
            total,
            entries: self.page_entries(entries).await?,
        })
    }

    /// One page of the failed jobs of every queue, newest first (by their registries' scores),
    /// with how many there are in all.
    pub async fn failed_page(&self, offset: usize, limit: usize) -> Result<JobPage> {
        let queues = self.queue_names().await?;
        if queues.is_empty() {
            return Ok(JobPage::default());
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for queue in &queues {
            pipe.zcard(keys::failed(queue));
        }
        let counts: Vec<u64> = pipe
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("count failed jobs"))?;
        let total = counts.iter().sum();
        let with_failures: Vec<&String> = queues
            .iter()
            .zip(&counts)
            .filter(|(_, n)| **n > 0)
            .map(|(q, _)| q)
            .collect();
        if let [queue] = with_failures[..] {
            // One queue (the usual case): its registry's page is the page.
            let page = self
                .job_page(queue, Registry::Failed, offset, limit)
                .await?;
            return Ok(JobPage { total, ..page });
        }
        if limit == 0 || offset as u64 >= total {
            return Ok(JobPage {
                total,
                entries: Vec::new(),
            });
        }
        // Several queues: the page's rows are among the first offset + limit of each queue, so
        // take those and merge them by score.
        let depth = (offset + limit) as isize - 1;
        let mut pipe = redis::pipe();
        for queue in &with_failures {
            pipe.zrevrange_withscores(keys::failed(queue), 0, depth);
        }
        let ranges: Vec<Vec<(String, f64)>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("list failed jobs"))?;
        let mut merged: Vec<(String, String, Option<f64>)> = with_failures
            .iter()
            .zip(ranges)
            .flat_map(|(queue, members)| {
                members
                    .into_iter()
                    .map(move |(id, score)| ((*queue).clone(), id, Some(score)))
            })
            .collect();
        merged.sort_by(|a, b| b.2.partial_cmp(&a.2).unwrap_or(std::cmp::Ordering::Equal));
        let entries = merged.into_iter().skip(offset).take(limit).collect();
        Ok(JobPage {
            total,
            entries: self.page_entries(entries).await?,
        })
    }

    /// The jobs of a page, in the page's order; ids whose hash is gone keep their row.
    async fn page_entries(
        &self,
        members: Vec<(String, String, Option<f64>)>,
    ) -> Result<Vec<PageEntry>> {
        let ids: Vec<String> = members.iter().map(|(_, id, _)| id.clone()).collect();
        let mut jobs: HashMap<String, JobInfo> = self
            .jobs(&ids)
            .await?
            .into_iter()
            .map(|job| (job.id.clone(), job))
            .collect();
        Ok(members
            .into_iter()
            .map(|(queue, id, score)| PageEntry {
                job: jobs.remove(&id),
                id,
                queue,
                score,
            })
            .collect())
    }

    /// A job's result history (RQ keeps about the last ten entries), newest first.
    pub async fn job_results(&self, id: &str, count: usize) -> Result<Vec<ResultEntry>> {
        let reply: redis::Value = redis::cmd("XREVRANGE")
            .arg(keys::results(id))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count.max(1))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("read the job's results"))?;
        let redis::Value::Array(entries) = reply else {
            return Ok(Vec::new());
        };
        Ok(entries.into_iter().filter_map(result_entry).collect())
    }

    /// Cancels jobs that no worker has taken yet (queued, deferred or scheduled), as RQ's
    /// `Job.cancel()` does: status `canceled`, out of the queue and its registries, into the
    /// canceled registry. Returns what happened to each id, in order.
    pub async fn cancel_jobs(&self, ids: &[String]) -> Result<Vec<CancelOutcome>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = invoke(&self.scripts.cancel);
        invocation.arg(epoch_seconds(SystemTime::now()));
        for id in ids {
            invocation.arg(id);
        }
        let codes: Vec<String> = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("cancel jobs"))?;
        Ok(codes
            .into_iter()
            .map(|code| match code.as_str() {
                "canceled" => CancelOutcome::Canceled,
                "missing" => CancelOutcome::Missing,
                "claimed" => CancelOutcome::Claimed,
                _ => CancelOutcome::NotWaiting(code),
            })
            .collect())
    }

    /// Which of `jobs` (id, queue) have an entry in their queue's started registry
    /// (`<id>:<execution>` as RQ 2.x and capq write it, or RQ 1.x's bare `<id>`). A worker whose
    /// `current_job` is not there is not running it: the job ended, or never started, and there
    /// is nothing to stop. Costs one round trip plus a `ZSCAN` per job, over a registry that
    /// holds only the jobs running or claimed now.
    pub async fn in_started_registry(&self, jobs: &[(String, String)]) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        if jobs.is_empty() {
            return Ok(found);
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for (id, queue) in jobs {
            pipe.zscore(keys::started(queue), id);
        }
        let bare: Vec<Option<f64>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("look up started jobs"))?;
        for ((id, queue), score) in jobs.iter().zip(bare) {
            if score.is_some() {
                found.insert(id.clone());
                continue;
            }
            let pattern = format!("{}:*", glob_escape(id));
            let mut cursor = 0u64;
            loop {
                let (next, page): (u64, Vec<String>) = redis::cmd("ZSCAN")
                    .arg(keys::started(queue))
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(500)
                    .query_async(&mut conn)
                    .await
                    .map_err(Error::redis("look up started jobs"))?;
                // Members and scores alternate; a member `<id>:<execution>` names this job only
                // if what precedes its last colon is the id (`a:*` also matches `a:b:<exec>`).
                let running = page
                    .iter()
                    .step_by(2)
                    .any(|member| member.rsplit_once(':').is_some_and(|(of, _)| of == id));
                if running {
                    found.insert(id.clone());
                }
                if running || next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(found)
    }

    /// Answers when the server does (the dashboard's readiness check).
    pub async fn ping(&self) -> Result<()> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("ping"))?;
        Ok(())
    }

    /// Whether RQ knows the queue (it is a member of `rq:queues`).
    pub async fn queue_exists(&self, queue: &str) -> Result<bool> {
        self.conn
            .clone()
            .sismember(keys::QUEUES, keys::queue(queue))
            .await
            .map_err(Error::redis("look up the queue"))
    }
}

/// `text` as a Redis glob pattern that matches only itself.
fn glob_escape(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// Started-registry members are `<job id>:<execution id>`.
fn job_id_of(registry: Registry, member: String) -> String {
    if registry == Registry::Started
        && let Some((id, _)) = member.rsplit_once(':')
    {
        return id.to_owned();
    }
    member
}
