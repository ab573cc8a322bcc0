//! The broker's Lua scripts and transactions against a real redis-server: what each state
//! change writes, and what it refuses to write.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use capq_core::broker::{Broker, Claim, Claimed, Completion, Ending, Lease, Registration, Start};
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

fn noop() -> Call {
    Call {
        func: "capq.noop".into(),
        args: vec![],
        kwargs: vec![],
        serializer: Serializer::Pickle,
    }
}

async fn setup(jobs: usize) -> (RedisServer, Redis, Registration, Vec<String>) {
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
        .claim(worker, max, start_now, Duration::from_secs(60))
        .await
        .unwrap()
    {
        Claim::Jobs(jobs) => jobs,
        other => panic!("expected jobs, got {other:?}"),
    }
}

fn completion(job: &Claimed, ending: Ending) -> Completion {
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
    }
}

fn status(server: &RedisServer, id: &str) -> Option<String> {
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
    assert_eq!(
        server
            .command(&["HGET", "rq:worker:w1", "current_job"])
            .text(),
        Some(ids[0].clone())
    );
    // The prefetched job reports its start later, with the attempt number.
    let start = Start {
        id: ids[1].clone(),
        started_at: SystemTime::now(),
        attempt: 1,
    };
    redis.complete(&worker, &[start], &[], false).await.unwrap();
    assert_eq!(status(&server, &ids[1]).as_deref(), Some("started"));
    assert_eq!(
        server
            .command(&["HGET", &format!("rq:job:{}", ids[1]), "capq_attempts"])
            .int(),
        Some(1)
    );
    assert!(matches!(
        redis
            .claim(&worker, 5, 5, Duration::from_secs(60))
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
        redis.complete(&worker, &[], &done, true).await.unwrap(),
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
        (DEFAULT_FAILURE_TTL - 5..=DEFAULT_FAILURE_TTL).contains(&ttl),
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
        redis.complete(&worker, &[], &[late], true).await.unwrap(),
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
        vec![false]
    );
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
    redis
        .complete(
            &worker,
            &[],
            &[completion(&jobs[0], later), completion(&jobs[1], now)],
            true,
        )
        .await
        .unwrap();
    assert_eq!(status(&server, &ids[0]).as_deref(), Some("scheduled"));
    let score = server
        .command(&["ZSCORE", "rq:scheduled:default", &ids[0]])
        .int()
        .unwrap();
    let epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (epoch + 28..=epoch + 31).contains(&score),
        "{score} vs {epoch}"
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
            &[],
            &[completion(
                &jobs[0],
                Ending::Finished { return_value: None },
            )],
            true,
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
            .claim(&worker, 1, 1, Duration::from_secs(60))
            .await
            .unwrap(),
        Claim::Suspended
    ));
    redis.resume().await.unwrap();
    assert!(matches!(
        redis
            .claim(&worker, 1, 1, Duration::from_secs(60))
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
                .wait_and_claim(&worker, Duration::from_secs(60), Duration::from_secs(5))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
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
