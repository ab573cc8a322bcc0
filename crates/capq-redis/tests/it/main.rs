//! The broker's Lua scripts and transactions against a real redis-server: what each state
//! change writes, and what it refuses to write.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod calls;
mod dependents;
mod requeue;

use std::time::{Duration, SystemTime};

use capq_core::broker::{
    Broker, Claim, ClaimCall, Claimed, Completion, Ending, Lease, Pulse, Registration, Start,
    UpkeepPolicy,
};
use capq_core::job::DEFAULT_FAILURE_TTL;
use capq_core::payload::{Call, Serializer};
use capq_redis::{NewJob, Redis};
use capq_test_support::RedisServer;
use capq_test_support::redis_server::Reply;

fn registration(name: &str) -> Registration {
    Registration {
        name: name.into(),
        queues: vec!["default".into()],
        pid: 1,
        hostname: "test".into(),
        version: "test".into(),
        ttl: Duration::from_secs(120),
    }
}

/// Waits until Redis counts `n` clients blocked in a command (a `BLMOVE` waiting).
pub async fn blocked_clients(server: &RedisServer, n: usize, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let wanted = format!("blocked_clients:{n}\r");
    while !server
        .command(&["INFO", "clients"])
        .text()
        .is_some_and(|info| info.contains(&wanted))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A fresh completion call id.
pub fn call() -> String {
    ClaimCall::new().id
}

pub fn noop() -> Call {
    Call {
        func: "capq.noop".into(),
        args: vec![],
        kwargs: vec![],
        serializer: Serializer::Pickle,
    }
}

pub async fn setup(jobs: usize) -> (RedisServer, Redis, Registration, Vec<String>) {
    let server = RedisServer::start();
    let redis = Redis::connect(&server.url()).await.unwrap();
    let worker = registration("w1");
    redis.register(&worker).await.unwrap();
    let new: Vec<NewJob> = (0..jobs).map(|_| NewJob::new("default", noop())).collect();
    let ids = redis.enqueue(&new, None).await.unwrap();
    (server, redis, worker, ids)
}

async fn claim(redis: &Redis, worker: &Registration, max: usize, start_now: usize) -> Vec<Claimed> {
    match redis
        .claim(
            worker,
            &ClaimCall::new(),
            max,
            start_now,
            Duration::from_secs(60),
        )
        .await
        .unwrap()
    {
        Claim::Jobs(jobs) => jobs,
        other => panic!("expected jobs, got {other:?}"),
    }
}

pub fn completion(job: &Claimed, ending: Ending) -> Completion {
    let now = SystemTime::now();
    Completion {
        id: job.id.clone(),
        queue: job.queue.clone(),
        execution_id: job.execution_id.clone(),
        started_at: now,
        ended_at: now,
        ending,
        result_ttl: 500,
        failure_ttl: DEFAULT_FAILURE_TTL,
        has_dependencies: false,
        group: None,
    }
}

pub fn status(server: &RedisServer, id: &str) -> Option<String> {
    server
        .command(&["HGET", &format!("rq:job:{id}"), "status"])
        .text()
}

#[tokio::test]
async fn claims_mark_started_only_jobs_that_have_a_slot() {
    let (server, redis, worker, ids) = setup(3).await;
    let jobs = claim(&redis, &worker, 3, 1).await;
    assert_eq!(jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), ids);
    assert_eq!(status(&server, &ids[0]).as_deref(), Some("started"));
    assert_eq!(
        status(&server, &ids[1]).as_deref(),
        Some("queued"),
        "prefetched, not yet running"
    );
    assert_eq!(
        server.command(&["ZCARD", "rq:wip:default"]).int(),
        Some(3),
        "all three are leased"
    );
    // The worker's record is the completion call's to write, in the worker's order.
    assert_eq!(
        server
            .command(&["HGET", "rq:worker:w1", "current_job"])
            .text(),
        None
    );
    // The prefetched job reports its start later, with the attempt number.
    let start = Start {
        id: ids[1].clone(),
        started_at: SystemTime::now(),
        attempt: 1,
    };
    redis
        .complete(&worker, &call(), &[start], &[], Some(&ids[0]))
        .await
        .unwrap();
    assert_eq!(status(&server, &ids[1]).as_deref(), Some("started"));
    assert_eq!(
        server
            .command(&["HGET", &format!("rq:job:{}", ids[1]), "capq_attempts"])
            .int(),
        Some(1)
    );
    assert_eq!(
        server.command(&["HGET", "rq:worker:w1", "state"]).text(),
        Some("busy".into())
    );
    assert_eq!(
        server
            .command(&["HGET", "rq:worker:w1", "current_job"])
            .text(),
        Some(ids[0].clone())
    );
    assert!(matches!(
        redis
            .claim(&worker, &ClaimCall::new(), 5, 5, Duration::from_secs(60))
            .await
            .unwrap(),
        Claim::Empty
    ));
}

#[tokio::test]
async fn finishing_records_the_result_where_rq_looks() {
    let (server, redis, worker, ids) = setup(2).await;
    let jobs = claim(&redis, &worker, 2, 2).await;
    let value = capq_pickle::dumps(&capq_pickle::Value::Int(5));
    let done = [
        completion(
            &jobs[0],
            Ending::Finished {
                return_value: Some(value),
            },
        ),
        completion(
            &jobs[1],
            Ending::Failed {
                message: "it broke".into(),
            },
        ),
    ];
    assert_eq!(
        redis
            .complete(&worker, &call(), &[], &done, None)
            .await
            .unwrap(),
        vec![true, true]
    );
    assert_eq!(status(&server, &ids[0]).as_deref(), Some("finished"));
    assert_eq!(status(&server, &ids[1]).as_deref(), Some("failed"));
    assert_eq!(server.command(&["ZCARD", "rq:wip:default"]).int(), Some(0));
    let job = redis.job(&ids[0]).await.unwrap().unwrap();
    assert_eq!(job.latest.as_ref().map(|r| r.kind), Some(1));
    let failed = redis.job(&ids[1]).await.unwrap().unwrap();
    assert_eq!(
        failed.latest.and_then(|r| r.error).as_deref(),
        Some("it broke")
    );
    // A week, not RQ's year, for failed jobs.
    let ttl = server
        .command(&["TTL", &format!("rq:job:{}", ids[1])])
        .int()
        .unwrap();
    assert!(
        (DEFAULT_FAILURE_TTL - 60..=DEFAULT_FAILURE_TTL).contains(&ttl),
        "{ttl}"
    );
    assert_eq!(
        server
            .command(&["HGET", "rq:worker:w1", "successful_job_count"])
            .int(),
        Some(1)
    );
    assert_eq!(
        server
            .command(&["HGET", "rq:worker:w1", "failed_job_count"])
            .int(),
        Some(1)
    );
    // Fleet statistics for the dashboard and /metrics.
    assert_eq!(
        server
            .command(&["HGET", "capq:stats:totals", "finished"])
            .int(),
        Some(1)
    );
    assert_eq!(
        server
            .command(&["HGET", "capq:stats:totals", "failed"])
            .int(),
        Some(1)
    );
    let histogram = server.command(&["HVALS", "capq:stats:durations"]).strings();
    let counted: f64 = histogram.iter().filter_map(|v| v.parse::<f64>().ok()).sum();
    assert!(counted >= 2.0, "two jobs in the histogram: {histogram:?}");
    assert_eq!(
        server
            .command(&["HGET", "rq:worker:w1", "state"])
            .text()
            .as_deref(),
        Some("idle")
    );
}

#[tokio::test]
async fn a_completion_after_the_lease_was_lost_writes_nothing() {
    let (server, redis, worker, ids) = setup(1).await;
    let jobs = claim(&redis, &worker, 1, 1).await;
    // Someone recovered the job meanwhile: its lease is gone and it is queued again.
    let member = format!("{}:{}", ids[0], jobs[0].execution_id);
    server.command(&["ZREM", "rq:wip:default", &member]);
    server.command(&["RPUSH", "rq:queue:default", &ids[0]]);
    server.command(&["HSET", &format!("rq:job:{}", ids[0]), "status", "queued"]);
    let late = completion(&jobs[0], Ending::Finished { return_value: None });
    assert_eq!(
        redis
            .complete(&worker, &call(), &[], &[late], None)
            .await
            .unwrap(),
        vec![false]
    );
    assert_eq!(status(&server, &ids[0]).as_deref(), Some("queued"));
    assert_eq!(
        server.command(&["ZCARD", "rq:finished:default"]).int(),
        Some(0)
    );
    assert_eq!(
        server
            .command(&["EXISTS", &format!("rq:results:{}", ids[0])])
            .int(),
        Some(0)
    );
    // Heartbeats report the lost lease, too.
    let lease = Lease {
        id: ids[0].clone(),
        queue: "default".into(),
        execution_id: jobs[0].execution_id.clone(),
    };
    assert_eq!(
        redis
            .heartbeat(&worker, &[lease], Duration::from_secs(60), None)
            .await
            .unwrap(),
        Pulse {
            held: vec![false],
            registered: true
        }
    );
    // A worker whose record Redis lost is told to register again.
    server.command(&["DEL", "rq:worker:w1"]);
    let pulse = redis
        .heartbeat(&worker, &[], Duration::from_secs(60), None)
        .await
        .unwrap();
    assert!(!pulse.registered);
    assert_eq!(
        server.command(&["EXISTS", "rq:worker:w1"]).int(),
        Some(0),
        "no half record is created"
    );
}

fn policy(max_recoveries: u32) -> UpkeepPolicy {
    UpkeepPolicy {
        max_recoveries,
        failure_ttl: 600,
        stranded_after: Duration::from_secs(30),
    }
}

#[tokio::test]
async fn upkeep_recovers_expired_leases_then_fails_jobs_abandoned_too_often() {
    let (server, redis, worker, ids) = setup(1).await;
    for round in 1..=3u32 {
        let jobs = claim(&redis, &worker, 1, 1).await;
        assert_eq!(jobs[0].id, ids[0]);
        // The worker vanished: its lease is already past (score 0).
        server.command(&[
            "ZADD",
            "rq:wip:default",
            "0",
            &format!("{}:{}", ids[0], jobs[0].execution_id),
        ]);
        let upkeep = redis.maintain(&worker, &policy(2)).await.unwrap();
        if round <= 2 {
            assert_eq!(
                (upkeep.recovered, upkeep.abandoned),
                (1, 0),
                "round {round}"
            );
            assert_eq!(status(&server, &ids[0]).as_deref(), Some("queued"));
            assert_eq!(
                server
                    .command(&["LRANGE", "rq:queue:default", "0", "-1"])
                    .strings(),
                ids
            );
            assert_eq!(
                server
                    .command(&["HGET", &format!("rq:job:{}", ids[0]), "capq_recoveries"])
                    .int(),
                Some(i64::from(round))
            );
        } else {
            assert_eq!((upkeep.recovered, upkeep.abandoned), (0, 1));
            assert_eq!(status(&server, &ids[0]).as_deref(), Some("failed"));
            let job = redis.job(&ids[0]).await.unwrap().unwrap();
            assert_eq!(
                job.latest.and_then(|r| r.error).as_deref(),
                Some("abandoned by its worker 3 times")
            );
            assert!(
                server
                    .command(&["ZSCORE", "rq:failed:default", &ids[0]])
                    .text()
                    .is_some()
            );
        }
        assert_eq!(server.command(&["ZCARD", "rq:wip:default"]).int(), Some(0));
    }
}

#[tokio::test]
async fn upkeep_puts_back_stranded_jobs_and_forgets_dead_workers() {
    let (server, redis, worker, ids) = setup(2).await;
    // One job stranded in RQ's intermediate list, one in a dead capq worker's hand-off list.
    server.command(&["LPOP", "rq:queue:default"]);
    server.command(&["LPOP", "rq:queue:default"]);
    server.command(&["RPUSH", "rq:queue:default:intermediate", &ids[0]]);
    server.command(&["RPUSH", "capq:handoff:ghost", &ids[1]]);
    server.command(&["SADD", "capq:handoffs", "capq:handoff:ghost"]);
    server.command(&["SADD", "rq:workers:default", "rq:worker:ghost"]);
    server.command(&["SADD", "rq:workers", "rq:worker:ghost"]);
    let quick = UpkeepPolicy {
        stranded_after: Duration::ZERO,
        ..policy(3)
    };
    let first = redis.maintain(&worker, &quick).await.unwrap();
    assert_eq!(
        (first.stranded, first.dead_workers),
        (1, 1),
        "the hand-off list at once; the ghost is gone"
    );
    // The intermediate entry needs a second sighting.
    let second = redis.maintain(&worker, &quick).await.unwrap();
    assert_eq!(second.stranded, 1);
    let mut queued = server
        .command(&["LRANGE", "rq:queue:default", "0", "-1"])
        .strings();
    queued.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(queued, expected);
    assert_eq!(
        server
            .command(&["LLEN", "rq:queue:default:intermediate"])
            .int(),
        Some(0)
    );
    assert_eq!(
        server
            .command(&["SISMEMBER", "rq:workers", "rq:worker:ghost"])
            .int(),
        Some(0)
    );
    assert_eq!(
        server
            .command(&["SISMEMBER", "rq:workers", "rq:worker:w1"])
            .int(),
        Some(1),
        "live workers stay"
    );
}

#[tokio::test]
async fn due_scheduled_jobs_move_to_their_queue_under_the_scheduler_lock() {
    let (server, redis, worker, ids) = setup(2).await;
    server.command(&["DEL", "rq:queue:default"]);
    let epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    server.command(&[
        "ZADD",
        "rq:scheduled:default",
        &(epoch - 1).to_string(),
        &ids[0],
    ]);
    server.command(&[
        "ZADD",
        "rq:scheduled:default",
        &(epoch + 100).to_string(),
        &ids[1],
    ]);
    let (moved, next) = redis.move_scheduled(&worker).await.unwrap();
    assert_eq!(moved, 1);
    assert_eq!(next.map(|n| n as u64), Some(epoch + 100));
    assert_eq!(
        server
            .command(&["LRANGE", "rq:queue:default", "0", "-1"])
            .strings(),
        vec![ids[0].clone()]
    );
    assert_eq!(status(&server, &ids[0]).as_deref(), Some("queued"));
    // Another holder of the lock (a Python scheduler, another worker) keeps us out.
    server.command(&[
        "SET",
        "rq:scheduler-lock:default",
        "someone-else",
        "EX",
        "60",
    ]);
    server.command(&["ZADD", "rq:scheduled:default", "0", &ids[1]]);
    assert_eq!(redis.move_scheduled(&worker).await.unwrap().0, 0);
}

#[tokio::test]
async fn retries_are_scheduled_or_requeued() {
    let (server, redis, worker, ids) = setup(2).await;
    let jobs = claim(&redis, &worker, 2, 2).await;
    let later = Ending::Retry {
        message: "flaky".into(),
        delay: Duration::from_secs(30),
        retries_left: 2,
    };
    let now = Ending::Retry {
        message: "flaky".into(),
        delay: Duration::ZERO,
        retries_left: 0,
    };
    let epoch = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    let before = epoch(SystemTime::now());
    redis
        .complete(
            &worker,
            &call(),
            &[],
            &[completion(&jobs[0], later), completion(&jobs[1], now)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(status(&server, &ids[0]).as_deref(), Some("scheduled"));
    let score = server
        .command(&["ZSCORE", "rq:scheduled:default", &ids[0]])
        .text()
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap() as i64;
    let after = epoch(SystemTime::now());
    // 30 s after the call was made, whenever that was between `before` and `after`.
    assert!(
        (before + 30..=after + 31).contains(&score),
        "{score} vs {before}..{after}"
    );
    assert_eq!(
        server
            .command(&["HGET", &format!("rq:job:{}", ids[0]), "retries_left"])
            .int(),
        Some(2)
    );
    assert_eq!(status(&server, &ids[1]).as_deref(), Some("queued"));
    assert_eq!(
        server
            .command(&["LRANGE", "rq:queue:default", "0", "-1"])
            .strings(),
        vec![ids[1].clone()]
    );
    let retried = redis.job(&ids[0]).await.unwrap().unwrap();
    assert_eq!(
        retried.latest.map(|r| (r.kind, r.error)),
        Some((4, Some("flaky".into())))
    );
}

#[tokio::test]
async fn dependents_are_queued_when_their_parent_finishes() {
    let (server, redis, worker, ids) = setup(1).await;
    let parent = &ids[0];
    // A child deferred on the parent, as Python's `depends_on` writes it.
    server.command(&[
        "HSET",
        "rq:job:child",
        "status",
        "deferred",
        "origin",
        "default",
        "data",
        "x",
    ]);
    server.command(&["SADD", &format!("rq:job:{parent}:dependents"), "child"]);
    server.command(&["SADD", "rq:job::child:dependencies", parent]);
    server.command(&["ZADD", "rq:deferred:default", "1", "child"]);
    let jobs = claim(&redis, &worker, 1, 1).await;
    redis
        .complete(
            &worker,
            &call(),
            &[],
            &[completion(
                &jobs[0],
                Ending::Finished { return_value: None },
            )],
            None,
        )
        .await
        .unwrap();
    assert_eq!(status(&server, "child").as_deref(), Some("queued"));
    assert_eq!(
        server
            .command(&["LRANGE", "rq:queue:default", "0", "-1"])
            .strings(),
        vec!["child".to_owned()]
    );
    assert_eq!(
        server.command(&["ZCARD", "rq:deferred:default"]).int(),
        Some(0)
    );
}

#[tokio::test]
async fn a_live_worker_name_cannot_be_taken() {
    let (_server, redis, worker, _) = setup(0).await;
    let err = redis.register(&worker).await.unwrap_err();
    assert!(
        err.to_string().contains("already registered as `w1`"),
        "{err}"
    );
    redis.deregister(&worker).await.unwrap();
    redis.register(&worker).await.unwrap();
}

#[tokio::test]
async fn suspension_stops_claims() {
    let (server, redis, worker, _) = setup(1).await;
    redis.suspend().await.unwrap();
    assert!(matches!(
        redis
            .claim(&worker, &ClaimCall::new(), 1, 1, Duration::from_secs(60))
            .await
            .unwrap(),
        Claim::Suspended
    ));
    redis.resume().await.unwrap();
    assert!(matches!(
        redis
            .claim(&worker, &ClaimCall::new(), 1, 1, Duration::from_secs(60))
            .await
            .unwrap(),
        Claim::Jobs(_)
    ));
    assert_eq!(server.command(&["EXISTS", "rq:suspended"]), Reply::Int(0));
}

#[tokio::test]
async fn waiting_claims_a_job_as_soon_as_it_arrives() {
    let (server, redis, worker, _) = setup(0).await;
    let waiter = {
        let redis = redis.clone();
        let worker = worker.clone();
        tokio::spawn(async move {
            redis
                .wait_and_claim(
                    &worker,
                    &ClaimCall::new(),
                    Duration::from_secs(60),
                    Duration::from_secs(5),
                )
                .await
        })
    };
    // Enqueue once the wait blocks in Redis, so the job arrives during it.
    blocked_clients(&server, 1, "the wait to block").await;
    let id = redis
        .enqueue(&[NewJob::new("default", noop())], None)
        .await
        .unwrap()
        .remove(0);
    match waiter.await.unwrap().unwrap() {
        Claim::Jobs(jobs) => assert_eq!(jobs[0].id, id),
        other => panic!("{other:?}"),
    }
    assert_eq!(status(&server, &id).as_deref(), Some("started"));
    assert_eq!(
        server
            .command(&["LLEN", "rq:queue:default:intermediate"])
            .int(),
        Some(0)
    );
    assert_eq!(server.command(&["ZCARD", "rq:wip:default"]).int(), Some(1));
}

#[tokio::test]
async fn batches_count_their_ended_jobs() {
    let server = RedisServer::start();
    let redis = Redis::connect(&server.url()).await.unwrap();
    let worker = registration("w1");
    redis.register(&worker).await.unwrap();
    let batch = capq_redis::Batch::new("2016-11-24..2016-11-26", "default", "out/");
    let jobs: Vec<NewJob> = (0..3).map(|_| NewJob::new("default", noop())).collect();
    let ids = redis.enqueue(&jobs, Some(&batch)).await.unwrap();
    assert_eq!(
        server
            .command(&["SCARD", &format!("rq:group:{}", batch.id)])
            .int(),
        Some(3)
    );
    assert_eq!(
        server
            .command(&["HGET", &format!("capq:batch:{}", batch.id), "size"])
            .int(),
        Some(3)
    );
    let claimed = claim(&redis, &worker, 3, 3).await;
    let mut done: Vec<Completion> = claimed
        .iter()
        .map(|job| {
            let ending = if job.id == ids[2] {
                Ending::Failed {
                    message: "no".into(),
                }
            } else {
                Ending::Finished { return_value: None }
            };
            Completion {
                group: Some(batch.id.clone()),
                ..completion(job, ending)
            }
        })
        .collect();
    done.sort_by_key(|c| c.id.clone());
    redis
        .complete(&worker, &call(), &[], &done, None)
        .await
        .unwrap();
    assert_eq!(
        server
            .command(&["HGET", &format!("capq:batch:{}", batch.id), "finished"])
            .int(),
        Some(2)
    );
    assert_eq!(
        server
            .command(&["HGET", &format!("capq:batch:{}", batch.id), "failed"])
            .int(),
        Some(1)
    );
}

#[tokio::test]
async fn depth_samples_keep_one_per_slot_and_expire() {
    let server = RedisServer::start();
    let redis = Redis::connect(&server.url()).await.unwrap();
    let (every, keep) = (Duration::from_secs(5), Duration::from_secs(60));
    let sample = |at_ms: u64, queued: u64| capq_redis::DepthSample {
        at_ms,
        queued,
        started: 1,
        finished_total: 10,
        failed_total: 2,
    };
    let base = 1_800_000_000_000;
    // Two dashboards sampling in the same 5 s slot record one sample; the next slot adds one.
    assert!(
        redis
            .record_depth(&sample(base + 100, 7), every, keep)
            .await
            .unwrap()
    );
    assert!(
        !redis
            .record_depth(&sample(base + 900, 8), every, keep)
            .await
            .unwrap()
    );
    assert!(
        redis
            .record_depth(&sample(base + 5_200, 9), every, keep)
            .await
            .unwrap()
    );
    assert_eq!(
        redis.depth_history(0).await.unwrap(),
        [sample(base + 100, 7), sample(base + 5_200, 9)]
    );
    // Reading from a time on skips the older slots.
    assert_eq!(
        redis.depth_history(base + 5_000).await.unwrap(),
        [sample(base + 5_200, 9)]
    );
    // A sample a minute later drops the ones older than the minute kept; the key expires.
    assert!(
        redis
            .record_depth(&sample(base + 65_000, 3), every, keep)
            .await
            .unwrap()
    );
    assert_eq!(
        redis.depth_history(0).await.unwrap(),
        [sample(base + 5_200, 9), sample(base + 65_000, 3)]
    );
    let ttl = server.command(&["PTTL", "capq:depth"]).int().unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
    // Garbage in the set is skipped, not an error.
    server.command(&["ZADD", "capq:depth", "1800000070000", "not a sample"]);
    assert_eq!(redis.depth_history(0).await.unwrap().len(), 2);
}

/// The lease score of the one started entry.
fn lease_score(server: &RedisServer) -> f64 {
    let entries = server
        .command(&["ZRANGE", "rq:wip:default", "0", "0", "WITHSCORES"])
        .strings();
    entries[1].parse().expect("a numeric score")
}

fn epoch() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Upkeep recovers a lease once the whole-second clock reaches its score, so a lease's score
/// must be at least the exact time it was taken plus its length: never a second short, which
/// would let another worker recover a job before its own worker's fence gives it up.
#[tokio::test]
async fn leases_last_at_least_their_length_on_the_whole_second_clock() {
    let lease = Duration::from_secs(60);
    let (server, redis, worker, _) = setup(1).await;
    let sent = epoch();
    let jobs = claim(&redis, &worker, 1, 1).await;
    let score = lease_score(&server);
    assert!(
        score >= sent + 60.0 && score <= epoch() + 61.0,
        "claim: {score} for a call sent at {sent}"
    );

    let held = Lease {
        id: jobs[0].id.clone(),
        queue: "default".into(),
        execution_id: jobs[0].execution_id.clone(),
    };
    let sent = epoch();
    redis
        .heartbeat(&worker, &[held], lease, None)
        .await
        .unwrap();
    let score = lease_score(&server);
    assert!(
        score >= sent + 60.0 && score <= epoch() + 61.0,
        "heartbeat: {score} for a call sent at {sent}"
    );

    server.command(&["DEL", "rq:wip:default"]);
    let id = redis
        .enqueue(&[NewJob::new("default", noop())], None)
        .await
        .unwrap()
        .remove(0);
    let sent = epoch();
    match redis
        .wait_and_claim(&worker, &ClaimCall::new(), lease, Duration::from_secs(5))
        .await
        .unwrap()
    {
        Claim::Jobs(jobs) => assert_eq!(jobs[0].id, id),
        other => panic!("{other:?}"),
    }
    let score = lease_score(&server);
    assert!(
        score >= sent + 60.0 && score <= epoch() + 61.0,
        "waited claim: {score} for a call sent at {sent}"
    );
}
