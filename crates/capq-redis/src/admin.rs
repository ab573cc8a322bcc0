//! Operator actions: requeue or delete failed jobs, suspend and resume processing, empty a
//! queue. Each is one atomic step.

use std::time::SystemTime;

use capq_core::time::rq_timestamp;
use redis::AsyncCommands;

use crate::client::Redis;
use crate::error::{Error, Result};
use crate::keys;
use crate::queries::Registry;
use crate::scripts::invoke;

impl Redis {
    /// Puts failed jobs back on their queues; returns the ids requeued (others are skipped).
    pub async fn requeue_failed(&self, ids: &[String]) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = invoke(&self.scripts.requeue);
        invocation.arg(rq_timestamp(SystemTime::now()));
        for id in ids {
            invocation.arg(id);
        }
        invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("requeue jobs"))
    }

    /// Puts every failed job of `queue` (or of every queue) back; returns the ids requeued.
    pub async fn requeue_all_failed(&self, queue: Option<&str>) -> Result<Vec<String>> {
        let queues = match queue {
            Some(q) => vec![q.to_owned()],
            None => self.queue_names().await?,
        };
        let mut requeued = Vec::new();
        for queue in queues {
            loop {
                let ids = self.registry_ids(&queue, Registry::Failed, 0, 1000).await?;
                if ids.is_empty() {
                    break;
                }
                let done = self.requeue_failed(&ids).await?;
                if done.is_empty() {
                    break;
                }
                requeued.extend(done);
            }
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
