//! The worker's side of the queue: [`capq_core::broker::Broker`] over RQ's layout, one Lua
//! script per state change.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use capq_core::broker::{
    Broker, Claim, ClaimCall, Claimed, Completion, Ending, Lease, Pulse, Registration, Start,
    Upkeep, UpkeepPolicy, WorkerCommand,
};
use capq_core::payload::compress;
use capq_core::time::{epoch_seconds, rq_timestamp};
use redis::Value;

use crate::client::Redis;
use crate::error::{Error, Result};
use crate::keys;
use crate::scripts::invoke;

/// Seconds since the epoch, as Redis sorted-set scores are written.
fn epoch_now() -> u64 {
    epoch_seconds(SystemTime::now()) as u64
}

/// The started-registry score of a lease taken or renewed now: whole seconds, as RQ writes
/// them, rounded up. Upkeep recovers a lease once the whole-second clock reaches its score, so
/// a score of `now + lease` truncated would let a lease run out up to a second early, before
/// the worker's own count of it fences its job.
fn lease_expiry(lease: Duration) -> u64 {
    epoch_now() + lease.as_secs().max(1) + 1
}

/// The stem of the execution ids a claim call gives its jobs (numbered after it): its call id.
fn stem(call: &ClaimCall) -> String {
    format!("{}-", call.id)
}

/// How long Redis remembers a worker's last completion call, so that the call can be sent
/// again: as long as the worker keeps trying one (an hour).
const FINISH_RECORD_TTL: Duration = Duration::from_secs(3600);

impl Broker for Redis {
    type Error = Error;

    async fn register(&self, worker: &Registration) -> Result<()> {
        let mut invocation = invoke(&self.scripts.register);
        invocation
            .key(keys::worker(&worker.name))
            .key(keys::WORKERS);
        for queue in &worker.queues {
            invocation.key(keys::workers_of(queue));
        }
        invocation
            .arg(worker.ttl.as_secs().max(1))
            .arg(rq_timestamp(SystemTime::now()))
            .arg(worker.queues.join(","))
            .arg(worker.pid)
            .arg(&worker.hostname)
            .arg(&worker.version)
            .arg(keys::HANDOFFS)
            .arg(keys::handoff(&worker.name));
        let registered: i64 = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("register the worker"))?;
        if registered == 1 {
            Ok(())
        } else {
            Err(Error::NameTaken(worker.name.clone()))
        }
    }

    async fn deregister(&self, worker: &Registration) -> Result<()> {
        let mut invocation = invoke(&self.scripts.deregister);
        invocation
            .key(keys::worker(&worker.name))
            .key(keys::WORKERS);
        for queue in &worker.queues {
            invocation.key(keys::workers_of(queue));
        }
        invocation.arg(rq_timestamp(SystemTime::now()));
        let _: i64 = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("deregister the worker"))?;
        Ok(())
    }

    async fn claim(
        &self,
        worker: &Registration,
        call: &ClaimCall,
        max: usize,
        start_now: usize,
        lease: Duration,
    ) -> Result<Claim> {
        let mut invocation = invoke(&self.scripts.claim);
        invocation
            .key(keys::SUSPENDED)
            .key(keys::claim_record(&worker.name));
        for queue in &worker.queues {
            invocation.key(keys::queue(queue)).key(keys::started(queue));
        }
        invocation
            .arg(max)
            .arg(start_now)
            .arg(lease_expiry(lease))
            .arg(rq_timestamp(SystemTime::now()))
            .arg(&worker.name)
            .arg(stem(call))
            .arg(lease.as_secs().max(1));
        for queue in &worker.queues {
            invocation.arg(queue);
        }
        let reply: Value = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("claim jobs"))?;
        parse_claim(reply)
    }

    async fn wait_and_claim(
        &self,
        worker: &Registration,
        call: &ClaimCall,
        lease: Duration,
        timeout: Duration,
    ) -> Result<Claim> {
        let Some(queue) = worker.queues.first() else {
            return Ok(Claim::Empty);
        };
        let handoff = keys::handoff(&worker.name);
        let mut claim = invoke(&self.scripts.claim_waited);
        claim
            .key(&handoff)
            .key(keys::started(queue))
            .key(keys::claim_record(&worker.name))
            .arg(lease.as_secs().max(1))
            .arg(&worker.name)
            .arg(stem(call))
            .arg(queue)
            .arg(lease.as_secs().max(1));
        // The connection is taken for the call and given back after it: a wait that is
        // abandoned (the worker stops) drops it, so Redis drops the blocked BLMOVE with the
        // connection instead of moving a job for no one.
        let mut conn = self.take_blocking_connection().await?;
        // Sent again after an error: first what the first send took, or what its BLMOVE left in
        // the hand-off list, without waiting.
        if call.retry {
            let claimed: Value = claim
                .invoke_async(&mut conn)
                .await
                .map_err(Error::redis("claim a job"))?;
            let claimed = parse_claim(claimed)?;
            if matches!(claimed, Claim::Jobs(_)) || timeout.is_zero() {
                self.give_back_blocking_connection(conn).await;
                return Ok(claimed);
            }
        }
        // BLMOVE watches one list. A single-queue worker waits the whole time; a multi-queue
        // worker waits briefly on its first queue and then polls them all again.
        let wait = if worker.queues.len() == 1 {
            timeout
        } else {
            timeout.min(Duration::from_millis(250))
        };
        // BLMOVE and the claim travel together: Redis runs the claim as soon as the BLMOVE
        // returns, with no round trip in between.
        let mut pipe = redis::pipe();
        pipe.cmd("BLMOVE")
            .arg(keys::queue(queue))
            .arg(&handoff)
            .arg("LEFT")
            .arg("RIGHT")
            .arg(wait.as_secs_f64().max(0.01))
            .ignore()
            .invoke_script(&claim);
        let reply: Result<(Value,), _> = pipe.query_async(&mut conn).await;
        let claimed = match reply {
            Ok((claimed,)) => parse_claim(claimed),
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                // After a Redis restart the script cache is empty. Whatever the BLMOVE moved
                // waits in the hand-off list; load the script and claim it now.
                let claimed: Value = claim
                    .invoke_async(&mut conn)
                    .await
                    .map_err(Error::redis("claim a job"))?;
                parse_claim(claimed)
            }
            Err(e) => Err(Error::Redis {
                action: "wait for jobs",
                cause: e,
            }),
        };
        self.give_back_blocking_connection(conn).await;
        claimed
    }

    async fn complete(
        &self,
        worker: &Registration,
        call: &str,
        starts: &[Start],
        completions: &[Completion],
        current: Option<&str>,
    ) -> Result<Vec<bool>> {
        let working: f64 = completions
            .iter()
            .map(|c| {
                c.ended_at
                    .duration_since(c.started_at)
                    .unwrap_or_default()
                    .as_secs_f64()
            })
            .sum();
        let now = epoch_seconds(SystemTime::now());
        let mut invocation = invoke(&self.scripts.finish);
        invocation
            .key(keys::worker(&worker.name))
            .key(keys::STATS_TOTALS)
            .key(keys::stats_minute(now as u64 / 60))
            .key(keys::STATS_DURATIONS)
            .key(keys::finish_record(&worker.name))
            // Fractional, so a retry delay of N seconds is N seconds, not up to one less.
            .arg(format!("{:.6}", epoch_seconds(SystemTime::now())))
            .arg(rq_timestamp(SystemTime::now()))
            .arg(&worker.name)
            .arg(current.unwrap_or_default())
            .arg(format!("{working:.6}"))
            .arg(call)
            .arg(FINISH_RECORD_TTL.as_secs())
            .arg(starts.len());
        for start in starts {
            invocation
                .arg(&start.id)
                .arg(rq_timestamp(start.started_at))
                .arg(start.attempt);
        }
        invocation.arg(completions.len());
        for c in completions {
            let (kind, payload, delay, retries_left) = match &c.ending {
                Ending::Finished { return_value } => (
                    "finished",
                    return_value
                        .as_ref()
                        .map(|v| BASE64.encode(v))
                        .unwrap_or_default(),
                    0,
                    0,
                ),
                Ending::Failed { message } => ("failed", error_text(message), 0, 0),
                Ending::Stopped { message } => ("stopped", error_text(message), 0, 0),
                Ending::Retry {
                    message,
                    delay,
                    retries_left,
                } => ("retry", error_text(message), delay.as_secs(), *retries_left),
                Ending::Requeued => ("requeue", String::new(), 0, 0),
            };
            invocation
                .arg(kind)
                .arg(&c.id)
                .arg(&c.queue)
                .arg(&c.execution_id)
                .arg(c.result_ttl)
                .arg(c.failure_ttl)
                .arg(if c.has_dependencies { "1" } else { "0" })
                .arg(payload)
                .arg(delay)
                .arg(retries_left)
                .arg(format!("{:.6}", epoch_seconds(c.started_at)))
                .arg(format!("{:.6}", epoch_seconds(c.ended_at)))
                .arg(rq_timestamp(c.ended_at))
                .arg(c.group.as_deref().map(keys::batch).unwrap_or_default());
        }
        // The run-time histogram: counts per bucket of the jobs that ended for good.
        let mut buckets = [0u64; DURATION_BUCKETS.len()];
        let mut sum = 0.0;
        for c in completions.iter().filter(|c| {
            matches!(
                c.ending,
                Ending::Finished { .. } | Ending::Failed { .. } | Ending::Stopped { .. }
            )
        }) {
            let seconds = c
                .ended_at
                .duration_since(c.started_at)
                .unwrap_or_default()
                .as_secs_f64();
            sum += seconds;
            let bucket = DURATION_BUCKETS
                .iter()
                .position(|&(upper, _)| seconds <= upper)
                .unwrap_or(DURATION_BUCKETS.len() - 1);
            buckets[bucket] += 1;
        }
        invocation.arg(buckets.iter().filter(|&&n| n > 0).count());
        for (&(_, label), &n) in DURATION_BUCKETS
            .iter()
            .zip(&buckets)
            .filter(|(_, n)| **n > 0)
        {
            invocation.arg(label).arg(n);
        }
        invocation.arg(format!("{sum:.6}"));
        let recorded: Vec<i64> = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("record job results"))?;
        Ok(recorded.into_iter().map(|r| r == 1).collect())
    }

    async fn heartbeat(
        &self,
        worker: &Registration,
        leases: &[Lease],
        lease: Duration,
        current: Option<(&str, Duration)>,
    ) -> Result<Pulse> {
        let mut invocation = invoke(&self.scripts.heartbeat);
        let (current_id, working) = current.map_or(("", 0.0), |(id, t)| (id, t.as_secs_f64()));
        invocation
            .key(keys::worker(&worker.name))
            .arg(worker.ttl.as_secs().max(1))
            .arg(rq_timestamp(SystemTime::now()))
            .arg(lease_expiry(lease))
            .arg(current_id)
            .arg(format!("{working:.3}"));
        for held in leases {
            invocation
                .arg(&held.queue)
                .arg(format!("{}:{}", held.id, held.execution_id));
        }
        let reply: Vec<i64> = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("heartbeat"))?;
        let (registered, held) = reply
            .split_first()
            .map_or((false, &[][..]), |(r, h)| (*r == 1, h));
        Ok(Pulse {
            held: held.iter().map(|h| *h == 1).collect(),
            registered,
        })
    }

    async fn maintain(&self, worker: &Registration, policy: &UpkeepPolicy) -> Result<Upkeep> {
        let mut upkeep = Upkeep::default();
        let max = policy.max_recoveries;
        let messages: Vec<String> = (1..=max)
            .map(|k| format!("recovered after its worker stopped renewing its lease (recovery {k} of at most {max})"))
            .chain([format!("abandoned by its worker {} times", max + 1)])
            .map(|m| error_text(&m))
            .collect();
        for queue in &worker.queues {
            let mut invocation = invoke(&self.scripts.maintain);
            invocation
                .key(keys::clean_lock(queue))
                .key(keys::queue(queue))
                .key(keys::started(queue))
                .key(keys::finished(queue))
                .key(keys::failed(queue))
                .key(keys::intermediate(queue))
                .key(keys::workers_of(queue))
                .key(keys::WORKERS)
                .key(keys::HANDOFFS)
                .arg(&worker.name)
                .arg(epoch_now())
                .arg(rq_timestamp(SystemTime::now()))
                .arg(max)
                .arg(policy.failure_ttl)
                .arg(policy.stranded_after.as_secs())
                .arg(queue)
                .arg(keys::prefix::WORKER)
                .arg(keys::prefix::HANDOFF);
            for message in &messages {
                invocation.arg(message);
            }
            let counts: Vec<i64> = invocation
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(Error::redis("maintain the queues"))?;
            if let [recovered, abandoned, stranded, dead] = counts[..] {
                upkeep.recovered += recovered.max(0) as u64;
                upkeep.abandoned += abandoned.max(0) as u64;
                upkeep.stranded += stranded.max(0) as u64;
                upkeep.dead_workers += dead.max(0) as u64;
            }
        }
        Ok(upkeep)
    }

    async fn move_scheduled(&self, worker: &Registration) -> Result<(u64, Option<f64>)> {
        let (mut moved, mut next_due) = (0u64, None::<f64>);
        for queue in &worker.queues {
            let mut invocation = invoke(&self.scripts.schedule);
            invocation
                .key(keys::scheduler_lock(queue))
                .key(keys::scheduled(queue))
                .key(keys::queue(queue))
                .arg(&worker.name)
                .arg(SCHEDULER_LOCK_TTL.as_secs())
                .arg(format!("{:.6}", epoch_seconds(SystemTime::now())))
                .arg(rq_timestamp(SystemTime::now()));
            let reply: Vec<Value> = invocation
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(Error::redis("move scheduled jobs"))?;
            let number = |v: &Value| match v {
                Value::Int(i) => Some(*i as f64),
                other => text(other.clone()).parse::<f64>().ok(),
            };
            let (count, next) = (
                reply.first().and_then(number),
                reply.get(1).and_then(number),
            );
            moved += count.filter(|c| *c > 0.0).map_or(0, |c| c as u64);
            if let Some(next) = next.filter(|n| *n >= 0.0) {
                next_due = Some(next_due.map_or(next, |d: f64| d.min(next)));
            }
        }
        Ok((moved, next_due))
    }

    async fn listen(
        &self,
        worker: &Registration,
        commands: tokio::sync::mpsc::UnboundedSender<WorkerCommand>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        use futures::StreamExt;
        let channel = keys::pubsub(&worker.name);
        let mut delay = Duration::from_millis(100);
        while !*stop.borrow() {
            let subscribed = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let mut pubsub = tokio::select! {
                result = subscribed => match result {
                    Ok(pubsub) => pubsub,
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot subscribe to worker commands; retrying");
                        tokio::select! { _ = tokio::time::sleep(delay) => {}, _ = stop.changed() => return }
                        delay = (delay * 2).min(Duration::from_secs(5));
                        continue;
                    }
                },
                _ = stop.changed() => return,
            };
            delay = Duration::from_millis(100);
            let mut messages = pubsub.on_message();
            loop {
                let message = tokio::select! {
                    message = messages.next() => message,
                    _ = stop.changed() => return,
                };
                // The stream ends when the connection drops; subscribe again.
                let Some(message) = message else { break };
                let payload: String = message.get_payload().unwrap_or_default();
                match parse_command(&payload) {
                    Some(command) => {
                        let _ = commands.send(command);
                    }
                    None => tracing::warn!(%payload, "ignoring an unknown worker command"),
                }
            }
        }
    }
}

/// Upper bounds (seconds) and field names of the run-time histogram's buckets.
pub const DURATION_BUCKETS: [(f64, &str); 15] = [
    (0.005, "0.005"),
    (0.01, "0.01"),
    (0.025, "0.025"),
    (0.05, "0.05"),
    (0.1, "0.1"),
    (0.25, "0.25"),
    (0.5, "0.5"),
    (1.0, "1"),
    (2.5, "2.5"),
    (5.0, "5"),
    (10.0, "10"),
    (30.0, "30"),
    (60.0, "60"),
    (300.0, "300"),
    (f64::INFINITY, "+Inf"),
];

/// How long a worker holds a queue's scheduler lock without renewing it; another worker takes
/// over scheduling this long after the holder dies.
const SCHEDULER_LOCK_TTL: Duration = Duration::from_secs(5);

/// RQ's command messages: `{"command": "stop-job", "job_id": "…"}`, `{"command": "shutdown"}`,
/// `{"command": "kill-horse"}`.
fn parse_command(payload: &str) -> Option<WorkerCommand> {
    let message: serde_json::Value = serde_json::from_str(payload).ok()?;
    match message.get("command")?.as_str()? {
        "stop-job" => Some(WorkerCommand::StopJob(
            message.get("job_id")?.as_str()?.to_owned(),
        )),
        "kill-horse" => Some(WorkerCommand::StopAll),
        "shutdown" => Some(WorkerCommand::Shutdown),
        _ => None,
    }
}

/// RQ's `exc_string`: base64 of the zlib-compressed error text.
fn error_text(message: &str) -> String {
    BASE64.encode(compress(message.as_bytes()))
}

fn parse_claim(reply: Value) -> Result<Claim> {
    let bad = |detail: String| Error::Reply {
        action: "claim",
        detail,
    };
    let Value::Array(items) = reply else {
        return Err(bad(format!("{reply:?}")));
    };
    if let [Value::BulkString(word)] = items.as_slice()
        && word == b"suspended"
    {
        return Ok(Claim::Suspended);
    }
    if items.is_empty() {
        return Ok(Claim::Empty);
    }
    let mut jobs = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(parts) = item else {
            return Err(bad("a claimed job is not an array".into()));
        };
        let [queue, id, execution, fields]: [Value; 4] = parts
            .try_into()
            .map_err(|_| bad("a claimed job does not have 4 parts".into()))?;
        let Value::Array(flat) = fields else {
            return Err(bad("job fields are not an array".into()));
        };
        let mut pairs = Vec::with_capacity(flat.len() / 2);
        let mut flat = flat.into_iter();
        while let (Some(name), Some(value)) = (flat.next(), flat.next()) {
            pairs.push((text(name), bytes(value)));
        }
        jobs.push(Claimed {
            id: text(id),
            queue: text(queue),
            execution_id: text(execution),
            fields: pairs,
        });
    }
    Ok(Claim::Jobs(jobs))
}

/// A hash as (field, value) pairs, from a flat array (RESP2) or a map (RESP3).
pub(crate) fn hash_pairs(value: Value) -> Vec<(String, Vec<u8>)> {
    let flat: Vec<Value> = match value {
        Value::Array(items) => items,
        Value::Map(map) => map.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => return Vec::new(),
    };
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    let mut items = flat.into_iter();
    while let (Some(name), Some(value)) = (items.next(), items.next()) {
        pairs.push((text(name), bytes(value)));
    }
    pairs
}

pub(crate) fn bytes(value: Value) -> Vec<u8> {
    match value {
        Value::BulkString(b) => b,
        Value::SimpleString(s) => s.into_bytes(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Okay => b"OK".to_vec(),
        _ => Vec::new(),
    }
}

pub(crate) fn text(value: Value) -> String {
    String::from_utf8_lossy(&bytes(value)).into_owned()
}
