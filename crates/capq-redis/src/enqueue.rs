//! Putting jobs on queues the way Python RQ's `Queue.enqueue` does, so that `rq`, `rq info`
//! and rq-dashboard see capq's jobs exactly as they see their own.
//!
//! Jobs of one `capq enqueue` form a batch: an RQ group (`rq:group:<id>`, listed in `rq:groups`,
//! each job's `group_id`), plus a small `capq:batch:<id>` hash describing it, so that tools can
//! show a batch's progress.

use std::time::SystemTime;

use capq_core::payload::Call;
use capq_core::time::{epoch_seconds, rq_timestamp};
use capq_pickle::Value;

use crate::client::Redis;
use crate::error::{Error, Result};
use crate::keys;

/// Jobs per MULTI/EXEC transaction when enqueueing many.
const CHUNK: usize = 500;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub queue: String,
    pub call: Call,
    /// Seconds; RQ's default is 180, and -1 means none.
    pub timeout: i64,
    pub result_ttl: Option<i64>,
    pub failure_ttl: Option<i64>,
    /// Retries left and RQ's `retry_intervals` (seconds).
    pub retries: Option<(u32, Vec<u64>)>,
    /// Extra `meta` entries (written as a pickled dict, as RQ does).
    pub meta: Vec<(String, Value)>,
}

impl NewJob {
    /// A job with RQ's defaults and a fresh id.
    pub fn new(queue: impl Into<String>, call: Call) -> NewJob {
        NewJob {
            id: uuid::Uuid::new_v4().to_string(),
            queue: queue.into(),
            call,
            timeout: 180,
            result_ttl: None,
            failure_ttl: None,
            retries: None,
            meta: Vec::new(),
        }
    }
}

/// A batch: jobs enqueued together, for progress displays.
#[derive(Debug, Clone)]
pub struct Batch {
    pub id: String,
    /// A human description, such as the day spec.
    pub description: String,
    pub queue: String,
    /// Where outputs go.
    pub output: String,
}

impl Batch {
    /// A batch with a fresh, sortable id.
    pub fn new(
        description: impl Into<String>,
        queue: impl Into<String>,
        output: impl Into<String>,
    ) -> Batch {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Batch {
            id: format!("capq-{}-{:04x}", now.as_secs(), fastrand::u16(..)),
            description: description.into(),
            queue: queue.into(),
            output: output.into(),
        }
    }
}

impl Redis {
    /// Enqueues jobs in order, in transactions of a few hundred. Returns their ids.
    pub async fn enqueue(&self, jobs: &[NewJob], batch: Option<&Batch>) -> Result<Vec<String>> {
        let mut conn = self.conn.clone();
        if let Some(batch) = batch {
            let now = SystemTime::now();
            redis::pipe()
                .atomic()
                .hset_multiple(
                    keys::batch(&batch.id),
                    &[
                        ("description", batch.description.clone()),
                        ("queue", batch.queue.clone()),
                        ("output", batch.output.clone()),
                        ("size", jobs.len().to_string()),
                        ("created_at", rq_timestamp(now)),
                    ],
                )
                .zadd(keys::BATCHES, &batch.id, epoch_seconds(now))
                .sadd(keys::GROUPS, &batch.id)
                .query_async::<()>(&mut conn)
                .await
                .map_err(Error::redis("record the batch"))?;
        }
        for chunk in jobs.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for queue in chunk
                .iter()
                .map(|j| j.queue.as_str())
                .collect::<std::collections::BTreeSet<_>>()
            {
                pipe.sadd(keys::QUEUES, keys::queue(queue));
            }
            for job in chunk {
                let now = rq_timestamp(SystemTime::now());
                let mut fields: Vec<(&str, Vec<u8>)> = vec![
                    ("status", b"queued".to_vec()),
                    ("created_at", now.clone().into_bytes()),
                    ("data", job.call.encode()),
                    ("success_callback_name", Vec::new()),
                    ("failure_callback_name", Vec::new()),
                    ("stopped_callback_name", Vec::new()),
                    ("started_at", Vec::new()),
                    ("ended_at", Vec::new()),
                    ("last_heartbeat", Vec::new()),
                    ("worker_name", Vec::new()),
                    (
                        "group_id",
                        batch.map(|b| b.id.clone()).unwrap_or_default().into_bytes(),
                    ),
                    ("origin", job.queue.clone().into_bytes()),
                    ("description", job.call.call_string().into_bytes()),
                    ("enqueued_at", now.into_bytes()),
                    ("timeout", job.timeout.to_string().into_bytes()),
                ];
                if let Some(ttl) = job.result_ttl {
                    fields.push(("result_ttl", ttl.to_string().into_bytes()));
                }
                if let Some(ttl) = job.failure_ttl {
                    fields.push(("failure_ttl", ttl.to_string().into_bytes()));
                }
                if let Some((retries, intervals)) = &job.retries {
                    fields.push(("retries_left", retries.to_string().into_bytes()));
                    let list = serde_json::to_string(intervals).unwrap_or_else(|_| "[]".into());
                    fields.push(("retry_intervals", list.into_bytes()));
                }
                if !job.meta.is_empty() {
                    let meta = Value::Dict(
                        job.meta
                            .iter()
                            .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
                            .collect(),
                    );
                    fields.push((
                        "meta",
                        capq_core::payload::encode_value(&meta, job.call.serializer),
                    ));
                }
                pipe.hset_multiple(keys::job(&job.id), &fields);
                pipe.rpush(keys::queue(&job.queue), &job.id);
            }
            if let Some(batch) = batch {
                pipe.sadd(
                    keys::group(&batch.id),
                    chunk.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
                );
            }
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(Error::redis("enqueue jobs"))?;
        }
        Ok(jobs.iter().map(|j| j.id.clone()).collect())
    }
}
