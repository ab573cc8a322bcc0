//! A batch's last job (the aggregate) and RQ's dependency keys: what enqueueing writes, and
//! when ending a parent (finishing, failing, stopping, abandonment) releases a dependent.

use capq_core::broker::{Broker, Ending, Registration};
use capq_core::payload::{Call, Serializer};
use capq_redis::{Batch, NewJob, Redis};
use capq_test_support::RedisServer;

use super::{claim, completion, noop, policy, registration, status};

fn aggregate_call() -> Call {
    Call {
        func: "capq.aggregate".into(),
        args: vec![capq_pickle::Value::Str("out/".into())],
        kwargs: vec![],
        serializer: Serializer::Pickle,
    }
}

/// A server, a registered worker, and `n` jobs plus a last one depending on all of them, as
/// one batch. Returns the jobs' ids and the last one's.
async fn batch_with_last(
    n: usize,
) -> (RedisServer, Redis, Registration, Batch, Vec<String>, String) {
    let server = RedisServer::start();
    let redis = Redis::connect(&server.url()).await.unwrap();
    let worker = registration("w1");
    redis.register(&worker).await.unwrap();
    let mut batch = Batch::new("2016-11-24..2016-11-26", "default", "out/");
    batch.aggregate = Some("out/aggregate/".into());
    let jobs: Vec<NewJob> = (0..n)
        .map(|i| NewJob {
            day: Some(format!("day-{i:04}")),
            ..NewJob::new("default", noop())
        })
        .collect();
    let last = NewJob::new("default", aggregate_call());
    let mut ids = redis
        .enqueue_with_last(&jobs, Some(&batch), Some(&last))
        .await
        .unwrap();
    let last_id = ids.pop().unwrap();
    assert_eq!(last_id, last.id);
    (server, redis, worker, batch, ids, last_id)
}

fn field(server: &RedisServer, id: &str, name: &str) -> Option<String> {
    server
        .command(&["HGET", &format!("rq:job:{id}"), name])
        .text()
}

fn queue(server: &RedisServer) -> Vec<String> {
    server
        .command(&["LRANGE", "rq:queue:default", "0", "-1"])
        .strings()
}

#[tokio::test]
async fn the_last_job_of_a_batch_waits_with_rqs_own_dependency_keys() {
    let (server, _redis, _worker, batch, ids, last) = batch_with_last(3).await;
    assert_eq!(status(&server, &last).as_deref(), Some("deferred"));
    assert!(
        server
            .command(&["ZSCORE", "rq:deferred:default", &last])
            .text()
            .is_some()
    );
    assert_eq!(queue(&server), ids, "only the days are queued");
    let mut parents = server
        .command(&["SMEMBERS", &format!("rq:job::{last}:dependencies")])
        .strings();
    parents.sort();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(parents, sorted);
    for id in &ids {
        assert_eq!(
            server
                .command(&["SMEMBERS", &format!("rq:job:{id}:dependents")])
                .strings(),
            std::slice::from_ref(&last)
        );
    }
    // The fields of `depends_on=Dependency(jobs=…, allow_failure=True)`, as RQ writes them.
    let quoted: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    assert_eq!(
        field(&server, &last, "dependency_ids"),
        Some(format!("[{}]", quoted.join(", ")))
    );
    assert_eq!(field(&server, &last, "dependency_id"), Some(ids[0].clone()));
    assert_eq!(
        field(&server, &last, "allow_dependency_failures").as_deref(),
        Some("1")
    );
    assert_eq!(
        field(&server, &last, "enqueued_at"),
        None,
        "not enqueued yet"
    );
    assert_eq!(field(&server, &last, "group_id").as_deref(), Some(""));
    // The batch knows its aggregate, and which job processes which day.
    let key = format!("capq:batch:{}", batch.id);
    assert_eq!(
        server.command(&["HGET", &key, "aggregate_job"]).text(),
        Some(last.clone())
    );
    assert_eq!(
        server
            .command(&["HGET", &key, "aggregate"])
            .text()
            .as_deref(),
        Some("out/aggregate/")
    );
    assert_eq!(
        server.command(&["HGET", &key, "size"]).int(),
        Some(3),
        "the size counts the days"
    );
    assert_eq!(
        server
            .command(&["HGET", &format!("{key}:days"), "day-0001"])
            .text(),
        Some(ids[1].clone())
    );
}

#[tokio::test]
async fn over_many_transactions_every_job_carries_the_dependency() {
    let (server, _redis, _worker, _batch, ids, last) = batch_with_last(1_203).await;
    assert_eq!(ids.len(), 1_203);
    assert_eq!(status(&server, &last).as_deref(), Some("deferred"));
    assert_eq!(
        server
            .command(&["SCARD", &format!("rq:job::{last}:dependencies")])
            .int(),
        Some(1_203)
    );
    for id in [&ids[0], &ids[499], &ids[500], &ids[1_202]] {
        assert_eq!(
            server
                .command(&["SISMEMBER", &format!("rq:job:{id}:dependents"), &last])
                .int(),
            Some(1),
            "{id}"
        );
    }
    assert_eq!(
        server.command(&["LLEN", "rq:queue:default"]).int(),
        Some(1_203)
    );
}

/// Ends the first claimed job of the queue as `ending`; returns its id.
async fn end_next(redis: &Redis, worker: &Registration, ending: Ending) -> String {
    let jobs = claim(redis, worker, 1, 1).await;
    let done = completion(&jobs[0], ending);
    let recorded = redis
        .complete(worker, &super::call(), &[], &[done], None)
        .await
        .unwrap();
    assert_eq!(recorded, [true]);
    jobs[0].id.clone()
}

fn finished() -> Ending {
    Ending::Finished { return_value: None }
}

fn failed() -> Ending {
    Ending::Failed {
        message: "boom".into(),
    }
}

#[tokio::test]
async fn a_failed_day_releases_the_aggregate_once_the_last_day_ends() {
    let (server, redis, worker, _batch, ids, last) = batch_with_last(3).await;
    end_next(&redis, &worker, finished()).await;
    end_next(&redis, &worker, failed()).await;
    assert_eq!(status(&server, &last).as_deref(), Some("deferred"));
    let third = end_next(&redis, &worker, finished()).await;
    assert_eq!(third, ids[2]);
    assert_eq!(status(&server, &last).as_deref(), Some("queued"));
    assert_eq!(queue(&server), std::slice::from_ref(&last));
    assert!(field(&server, &last, "enqueued_at").is_some());
    assert_eq!(
        server.command(&["ZCARD", "rq:deferred:default"]).int(),
        Some(0)
    );
    // The failed day requeued and ending again does not queue the aggregate a second time.
    server.command(&["HSET", &format!("rq:job:{}", ids[1]), "status", "queued"]);
    server.command(&["LPUSH", "rq:queue:default", &ids[1]]);
    let again = end_next(&redis, &worker, finished()).await;
    assert_eq!(again, ids[1]);
    assert_eq!(queue(&server), std::slice::from_ref(&last), "queued once");
}

#[tokio::test]
async fn the_last_day_failing_releases_the_aggregate_too() {
    let (server, redis, worker, _batch, _ids, last) = batch_with_last(2).await;
    end_next(&redis, &worker, finished()).await;
    end_next(&redis, &worker, failed()).await;
    assert_eq!(status(&server, &last).as_deref(), Some("queued"));
    assert_eq!(queue(&server), [last]);
}

#[tokio::test]
async fn a_dependent_that_does_not_allow_failures_stays_deferred() {
    let (server, redis, worker, _batch, _ids, last) = batch_with_last(2).await;
    server.command(&[
        "HSET",
        &format!("rq:job:{last}"),
        "allow_dependency_failures",
        "0",
    ]);
    end_next(&redis, &worker, failed()).await;
    end_next(&redis, &worker, finished()).await;
    assert_eq!(status(&server, &last).as_deref(), Some("deferred"));
    assert!(queue(&server).is_empty());
}

#[tokio::test]
async fn a_stopped_day_holds_the_aggregate_as_rq_does() {
    let (server, redis, worker, _batch, _ids, last) = batch_with_last(2).await;
    let stopped = end_next(
        &redis,
        &worker,
        Ending::Stopped {
            message: "stopped by request".into(),
        },
    )
    .await;
    end_next(&redis, &worker, finished()).await;
    assert_eq!(status(&server, &last).as_deref(), Some("deferred"));
    // Requeued and finished, the stopped day releases it.
    server.command(&["HSET", &format!("rq:job:{stopped}"), "status", "queued"]);
    server.command(&["LPUSH", "rq:queue:default", &stopped]);
    end_next(&redis, &worker, finished()).await;
    assert_eq!(status(&server, &last).as_deref(), Some("queued"));
}

#[tokio::test]
async fn a_dependent_not_yet_deferred_is_left_alone() {
    // While a long batch is still being written, its last job is `created`: days that end
    // before the last transaction must not queue it.
    let (server, redis, worker, _batch, _ids, last) = batch_with_last(2).await;
    server.command(&["HSET", &format!("rq:job:{last}"), "status", "created"]);
    end_next(&redis, &worker, finished()).await;
    end_next(&redis, &worker, finished()).await;
    assert_eq!(status(&server, &last).as_deref(), Some("created"));
    assert!(queue(&server).is_empty());
}

#[tokio::test]
async fn a_parent_kept_for_no_time_still_releases_its_dependents() {
    let (server, redis, worker, _batch, ids, last) = batch_with_last(1).await;
    let jobs = claim(&redis, &worker, 1, 1).await;
    let mut done = completion(&jobs[0], finished());
    done.result_ttl = 0;
    redis
        .complete(&worker, &super::call(), &[], &[done], None)
        .await
        .unwrap();
    assert_eq!(
        status(&server, &ids[0]),
        None,
        "result_ttl=0 deletes the job"
    );
    assert_eq!(
        server
            .command(&["EXISTS", &format!("rq:job:{}:dependents", ids[0])])
            .int(),
        Some(0)
    );
    assert_eq!(status(&server, &last).as_deref(), Some("queued"));
}

#[tokio::test]
async fn a_day_abandoned_for_good_releases_the_aggregate() {
    let (server, redis, worker, _batch, ids, last) = batch_with_last(1).await;
    let jobs = claim(&redis, &worker, 1, 1).await;
    // Its worker vanished: the lease is already past, and no recovery is allowed.
    server.command(&[
        "ZADD",
        "rq:wip:default",
        "0",
        &format!("{}:{}", ids[0], jobs[0].execution_id),
    ]);
    let upkeep = redis.maintain(&worker, &policy(0)).await.unwrap();
    assert_eq!(upkeep.abandoned, 1);
    assert_eq!(status(&server, &ids[0]).as_deref(), Some("failed"));
    assert_eq!(status(&server, &last).as_deref(), Some("queued"));
    assert_eq!(queue(&server), [last]);
}

#[tokio::test]
async fn without_days_the_last_job_is_queued_at_once() {
    let server = RedisServer::start();
    let redis = Redis::connect(&server.url()).await.unwrap();
    let last = NewJob::new("default", aggregate_call());
    let ids = redis
        .enqueue_with_last(&[], None, Some(&last))
        .await
        .unwrap();
    assert_eq!(ids, std::slice::from_ref(&last.id));
    assert_eq!(status(&server, &last.id).as_deref(), Some("queued"));
    assert_eq!(queue(&server), [last.id]);
}
