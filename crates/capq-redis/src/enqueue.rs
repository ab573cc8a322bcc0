//! Putting jobs on queues the way Python RQ's `Queue.enqueue` does, so that `rq`, `rq info`
//! and rq-dashboard see capq's jobs exactly as they see their own.
//!
//! Jobs of one `capq enqueue` form a batch: an RQ group (`rq:group:<id>`, listed in `rq:groups`,
//! each job's `group_id`), plus a small `capq:batch:<id>` hash describing it, so that tools can
//! show a batch's progress, and `capq:batch:<id>:days` naming each day's job.
//!
//! A batch may end with one more job that depends on all the others (the batch's aggregate):
//! it is written as RQ's `depends_on=Dependency(jobs=…, allow_failure=True)` writes a job, with
//! RQ's own dependency keys, so `rq info`, rq-dashboard and `Job.fetch` show it `deferred` until
//! the last of the others has ended, and the worker that records that ending queues it
//! (`lua/dependents.lua`).
//!
//! Jobs go in MULTI/EXEC transactions of [`CHUNK`] at a time. With a last job, the first
//! transaction also writes the last job (status `created`) and its whole dependency set, and
//! every transaction adds its own jobs' `rq:job:<id>:dependents` entries, so no job of the batch
//! can end before the dependency on it exists. The last transaction turns the last job
//! `deferred`: a job that ends earlier sees a dependent that is not deferred yet and leaves it
//! alone, while the jobs of the last transaction are still to run, so one of them releases it.

use std::collections::BTreeSet;
use std::time::SystemTime;

use capq_core::payload::Call;
use capq_core::time::{epoch_seconds, rq_timestamp};
use capq_pickle::Value;

use crate::client::Redis;
use crate::error::{Error, Result};
use crate::keys;

/// Jobs per MULTI/EXEC transaction when enqueueing many. A batch of at most this many jobs is
/// enqueued all or nothing; a larger one can fail with its first transactions committed.
pub const CHUNK: usize = 500;

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
    /// The day the job processes, recorded in its batch's `capq:batch:<id>:days`.
    pub day: Option<String>,
    /// The processor fingerprint the job is pinned to, written as its `capq_processor` field
    /// (`capq_core::pin`); the queue should then be the pinned one.
    pub processor: Option<String>,
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
            day: None,
            processor: None,
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
    /// Where the batch's aggregate job writes the aggregate folder, when it has one.
    pub aggregate: Option<String>,
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
            aggregate: None,
        }
    }
}

/// How a job starts out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start<'a> {
    /// On its queue, ready to run.
    Queued,
    /// Waiting for `parents`; `created` until the whole batch is written, then `deferred`.
    Waiting {
        deferred: bool,
        parents: &'a [&'a str],
    },
}

impl Redis {
    /// Enqueues jobs in order, in transactions of a few hundred. Returns their ids.
    pub async fn enqueue(&self, jobs: &[NewJob], batch: Option<&Batch>) -> Result<Vec<String>> {
        self.enqueue_with_last(jobs, batch, None).await
    }

    /// Enqueues jobs in order like [`Redis::enqueue`], and with `last`, one more job that runs
    /// once every one of them has ended, finished or failed (see the module documentation).
    /// Returns the ids of `jobs`, then `last`'s.
    pub async fn enqueue_with_last(
        &self,
        jobs: &[NewJob],
        batch: Option<&Batch>,
        last: Option<&NewJob>,
    ) -> Result<Vec<String>> {
        let mut conn = self.conn.clone();
        if let Some(batch) = batch {
            let now = SystemTime::now();
            let mut record = vec![
                ("description", batch.description.clone()),
                ("queue", batch.queue.clone()),
                ("output", batch.output.clone()),
                ("size", jobs.len().to_string()),
                ("created_at", rq_timestamp(now)),
            ];
            if let Some(last) = last {
                record.push(("aggregate_job", last.id.clone()));
            }
            if let Some(aggregate) = &batch.aggregate {
                record.push(("aggregate", aggregate.clone()));
            }
            redis::pipe()
                .atomic()
                .hset_multiple(keys::batch(&batch.id), &record)
                .zadd(keys::BATCHES, &batch.id, epoch_seconds(now))
                .sadd(keys::GROUPS, &batch.id)
                .query_async::<()>(&mut conn)
                .await
                .map_err(Error::redis("record the batch"))?;
        }
        let batch_id = batch.map(|b| b.id.as_str());
        if jobs.is_empty() {
            // Nothing to wait for: the last job is an ordinary one.
            if let Some(last) = last {
                let mut pipe = redis::pipe();
                pipe.atomic();
                pipe.sadd(keys::QUEUES, keys::queue(&last.queue));
                write_job(&mut pipe, last, batch_id, Start::Queued);
                pipe.query_async::<()>(&mut conn)
                    .await
                    .map_err(Error::redis("enqueue jobs"))?;
            }
            return Ok(last.map(|l| l.id.clone()).into_iter().collect());
        }
        let chunks = jobs.len().div_ceil(CHUNK);
        for (n, chunk) in jobs.chunks(CHUNK).enumerate() {
            let (first, final_chunk) = (n == 0, n + 1 == chunks);
            let mut pipe = redis::pipe();
            pipe.atomic();
            let queues: BTreeSet<&str> = chunk
                .iter()
                .chain(last.filter(|_| first))
                .map(|j| j.queue.as_str())
                .collect();
            for queue in queues {
                pipe.sadd(keys::QUEUES, keys::queue(queue));
            }
            if let Some(last) = last {
                if first {
                    let parents: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
                    let deferred = final_chunk;
                    write_job(
                        &mut pipe,
                        last,
                        None,
                        Start::Waiting {
                            deferred,
                            parents: &parents,
                        },
                    );
                    pipe.sadd(keys::dependencies(&last.id), &parents);
                } else if final_chunk {
                    pipe.hset(keys::job(&last.id), "status", "deferred");
                    defer(&mut pipe, last);
                }
            }
            for job in chunk {
                write_job(&mut pipe, job, batch_id, Start::Queued);
                if let Some(last) = last {
                    pipe.sadd(keys::dependents(&job.id), &last.id);
                }
            }
            if let Some(batch) = batch {
                pipe.sadd(
                    keys::group(&batch.id),
                    chunk.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
                );
                let days: Vec<(&str, &str)> = chunk
                    .iter()
                    .filter_map(|j| j.day.as_deref().map(|day| (day, j.id.as_str())))
                    .collect();
                if !days.is_empty() {
                    pipe.hset_multiple(keys::batch_days(&batch.id), &days);
                }
            }
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(Error::redis("enqueue jobs"))?;
        }
        let mut ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        ids.extend(last.map(|l| l.id.clone()));
        Ok(ids)
    }
}

/// Adds a job waiting for its dependencies to its queue's deferred registry, scored by the
/// time (whole seconds), as RQ's `DeferredJobRegistry.add` does.
fn defer(pipe: &mut redis::Pipeline, job: &NewJob) {
    let now = epoch_seconds(SystemTime::now()) as u64;
    pipe.zadd(keys::deferred(&job.queue), &job.id, now);
}

/// Writes a job's hash with the fields Python's client writes, and puts it on its queue (or,
/// waiting for dependencies, records it as RQ's `setup_dependencies` does; the caller adds the
/// dependency sets).
fn write_job(pipe: &mut redis::Pipeline, job: &NewJob, batch: Option<&str>, start: Start<'_>) {
    let now = rq_timestamp(SystemTime::now());
    let status: &[u8] = match start {
        Start::Queued => b"queued",
        Start::Waiting { deferred: true, .. } => b"deferred",
        Start::Waiting {
            deferred: false, ..
        } => b"created",
    };
    let mut fields: Vec<(&str, Vec<u8>)> = vec![
        ("status", status.to_vec()),
        ("created_at", now.clone().into_bytes()),
        ("data", job.call.encode()),
        ("success_callback_name", Vec::new()),
        ("failure_callback_name", Vec::new()),
        ("stopped_callback_name", Vec::new()),
        ("started_at", Vec::new()),
        ("ended_at", Vec::new()),
        ("last_heartbeat", Vec::new()),
        ("worker_name", Vec::new()),
        ("group_id", batch.unwrap_or_default().as_bytes().to_vec()),
        ("origin", job.queue.clone().into_bytes()),
        ("description", job.call.call_string().into_bytes()),
    ];
    // A waiting job has no `enqueued_at` until it is released, as in RQ.
    if start == Start::Queued {
        fields.push(("enqueued_at", now.into_bytes()));
    }
    fields.push(("timeout", job.timeout.to_string().into_bytes()));
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
    if let Some(processor) = &job.processor {
        fields.push((capq_core::pin::FIELD, processor.clone().into_bytes()));
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
    match start {
        Start::Queued => {
            pipe.hset_multiple(keys::job(&job.id), &fields);
            pipe.rpush(keys::queue(&job.queue), &job.id);
        }
        Start::Waiting { deferred, parents } => {
            // The fields of `depends_on=Dependency(jobs, allow_failure=True)`: the first parent
            // (RQ's older field), all of them as JSON (`json.dumps`'s spacing), and that
            // failures are allowed. The caller writes the dependency sets.
            if let Some(first) = parents.first() {
                fields.push(("dependency_id", first.as_bytes().to_vec()));
            }
            let quoted: Vec<String> = parents
                .iter()
                .map(|id| serde_json::Value::from(*id).to_string())
                .collect();
            fields.push((
                "dependency_ids",
                format!("[{}]", quoted.join(", ")).into_bytes(),
            ));
            fields.push(("allow_dependency_failures", b"1".to_vec()));
            fields.push(("enqueue_at_front", b"0".to_vec()));
            pipe.hset_multiple(keys::job(&job.id), &fields);
            if deferred {
                defer(pipe, job);
            }
        }
    }
}
