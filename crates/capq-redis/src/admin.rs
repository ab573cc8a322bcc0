//! Operator actions: requeue or delete failed jobs, suspend and resume processing, empty a
//! queue. Each is one atomic step.

use std::time::SystemTime;

use capq_core::time::rq_timestamp;
use redis::AsyncCommands;

use crate::client::Redis;
use crate::error::{Error, Result};
use crate::keys;
use crate::scripts::invoke;

/// Jobs per requeue script: each call is atomic, and short enough not to hold up the workers'
/// commands queued behind it.
const REQUEUE_CHUNK: usize = 500;

/// A failed job as a snapshot saw it: its id, and which failure it was in (its score in the
/// failed registry and its `ended_at`), so that a requeue can tell that failure from a later one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedJob {
    pub id: String,
    score: String,
    ended_at: String,
}

impl Redis {
    /// Puts failed jobs back on their queues; returns the ids requeued (others are skipped).
    pub async fn requeue_failed(&self, ids: &[String]) -> Result<Vec<String>> {
        let mut requeued = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(REQUEUE_CHUNK) {
            let mut invocation = invoke(&self.scripts.requeue);
            invocation.arg(rq_timestamp(SystemTime::now())).arg("0");
            for id in chunk {
                invocation.arg(id);
            }
            let done: Vec<String> = invocation
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(Error::redis("requeue jobs"))?;
            requeued.extend(done);
        }
        Ok(requeued)
    }

    /// Puts every job that is failed now on `queue` (or on every queue) back, each exactly once;
    /// returns the ids requeued.
    ///
    /// Workers may fail requeued jobs again while this runs, so it does not page through the
    /// failed registry (it would meet those jobs again): it requeues a snapshot.
    pub async fn requeue_all_failed(&self, queue: Option<&str>) -> Result<Vec<String>> {
        let snapshot = self.failed_snapshot(queue).await?;
        self.requeue_snapshot(&snapshot).await
    }

    /// Every job failed now on `queue` (or on every queue), each with the failure it would be
    /// requeued for.
    pub async fn failed_snapshot(&self, queue: Option<&str>) -> Result<Vec<FailedJob>> {
        let queues = match queue {
            Some(q) => vec![q.to_owned()],
            None => self.queue_names().await?,
        };
        let mut conn = self.conn.clone();
        let mut snapshot = Vec::new();
        for queue in queues {
            // One command, so the registry is read at one instant.
            let entries: Vec<(String, String)> = redis::cmd("ZRANGE")
                .arg(keys::failed(&queue))
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await
                .map_err(Error::redis("list failed jobs"))?;
            for chunk in entries.chunks(REQUEUE_CHUNK) {
                let mut pipe = redis::pipe();
                for (id, _) in chunk {
                    pipe.hget(keys::job(id), "ended_at");
                }
                let ended: Vec<Option<String>> = pipe
                    .query_async(&mut conn)
                    .await
                    .map_err(Error::redis("read failed jobs"))?;
                snapshot.extend(
                    chunk
                        .iter()
                        .zip(ended)
                        .map(|((id, score), ended_at)| FailedJob {
                            id: id.clone(),
                            score: score.clone(),
                            ended_at: ended_at.unwrap_or_default(),
                        }),
                );
            }
        }
        Ok(snapshot)
    }

    /// Puts the jobs of a snapshot back on their queues, in atomic chunks; a job that is no longer
    /// failed, or failed again since the snapshot, is skipped. Returns the ids requeued.
    pub async fn requeue_snapshot(&self, snapshot: &[FailedJob]) -> Result<Vec<String>> {
        let mut requeued = Vec::with_capacity(snapshot.len());
        for chunk in snapshot.chunks(REQUEUE_CHUNK) {
            let mut invocation = invoke(&self.scripts.requeue);
            invocation.arg(rq_timestamp(SystemTime::now())).arg("1");
            for job in chunk {
                invocation.arg(&job.id).arg(&job.score).arg(&job.ended_at);
            }
            let done: Vec<String> = invocation
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(Error::redis("requeue jobs"))?;
            requeued.extend(done);
        }
        Ok(requeued)
    }

    /// Deletes jobs everywhere (hash, results, queue and registry entries); returns how many
    /// existed.
    pub async fn delete_jobs(&self, ids: &[String]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut invocation = invoke(&self.scripts.delete);
        for id in ids {
            invocation.arg(id);
        }
        invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("delete jobs"))
    }

    /// Asks the worker running a job to stop it (RQ's `send_stop_job_command`); the job is
    /// recorded as stopped. Returns the worker's name.
    pub async fn stop_job(&self, id: &str) -> Result<String> {
        let mut conn = self.conn.clone();
        let (status, worker): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(keys::job(id))
            .arg("status")
            .arg("worker_name")
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("read the job"))?;
        let Some(status) = status else {
            return Err(Error::NoSuchJob(id.to_owned()));
        };
        let worker = worker.filter(|w| !w.is_empty());
        match (status.as_str(), worker) {
            ("started", Some(worker)) => {
                let message = serde_json::json!({"command": "stop-job", "job_id": id}).to_string();
                let _: i64 = conn
                    .publish(keys::pubsub(&worker), message)
                    .await
                    .map_err(Error::redis("send the stop command"))?;
                Ok(worker)
            }
            (status, _) => Err(Error::NotRunning {
                id: id.to_owned(),
                status: status.to_owned(),
            }),
        }
    }

    /// Suspends processing on every queue (`rq suspend`); workers finish running jobs and take
    /// no new ones.
    pub async fn suspend(&self) -> Result<()> {
        self.conn
            .clone()
            .set(keys::SUSPENDED, 1)
            .await
            .map_err(Error::redis("suspend"))
    }

    /// Lifts a suspension (`rq resume`).
    pub async fn resume(&self) -> Result<()> {
        self.conn
            .clone()
            .del(keys::SUSPENDED)
            .await
            .map_err(Error::redis("resume"))
    }

    /// Deletes every queued job of a queue (`rq empty`); returns how many.
    pub async fn empty_queue(&self, queue: &str) -> Result<u64> {
        let mut invocation = invoke(&self.scripts.empty);
        invocation.key(keys::queue(queue));
        invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("empty the queue"))
    }
}
