//! Requeueing every failed job works from a snapshot: a job that a worker fails again while the
//! requeue runs is not requeued a second time, whatever its failed-registry score.

use capq_core::broker::{Broker, Ending};
use capq_redis::Redis;

use super::{claim, completion, setup, status};

/// Fails every claimed job of `n` for good, with `failure_ttl` (-1: kept forever, the registry
/// score is then `inf` for every job, so only `ended_at` tells one failure from the next).
async fn fail_all(
    redis: &capq_redis::Redis,
    worker: &capq_core::broker::Registration,
    n: usize,
    failure_ttl: i64,
) {
    let jobs = claim(redis, worker, n, n).await;
    assert_eq!(jobs.len(), n);
    let done: Vec<_> = jobs
        .iter()
        .map(|job| {
            let mut c = completion(
                job,
                Ending::Failed {
                    message: "boom".into(),
                },
            );
            c.failure_ttl = failure_ttl;
            c
        })
        .collect();
    let recorded = redis
        .complete(worker, &super::call(), &[], &done, None)
        .await
        .unwrap();
    assert!(recorded.iter().all(|&r| r), "{recorded:?}");
}

#[tokio::test]
async fn a_job_failed_again_since_the_snapshot_is_not_requeued_twice() {
    // RESP3 clients read scores as doubles and write them back their own way.
    for (failure_ttl, resp3) in [(600, false), (-1, false), (600, true), (-1, true)] {
        let (server, worker_side, worker, ids) = setup(3).await;
        fail_all(&worker_side, &worker, 3, failure_ttl).await;
        let redis = if resp3 {
            Redis::connect(&format!("{}/?protocol=resp3", server.url()))
                .await
                .unwrap()
        } else {
            worker_side.clone()
        };
        let snapshot = redis.failed_snapshot(None).await.unwrap();
        let mut snapshot_ids: Vec<_> = snapshot.iter().map(|job| job.id.clone()).collect();
        snapshot_ids.sort();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(snapshot_ids, sorted);

        // The first chunk goes back, and a worker fails it again before the next chunk runs.
        let first = redis.requeue_snapshot(&snapshot[..1]).await.unwrap();
        assert_eq!(first, vec![snapshot[0].id.clone()]);
        assert_eq!(status(&server, &first[0]).as_deref(), Some("queued"));
        fail_all(&worker_side, &worker, 1, failure_ttl).await;
        assert_eq!(status(&server, &first[0]).as_deref(), Some("failed"));

        // The whole snapshot again (as a retried or overlapping chunk would be): only the two
        // jobs still in the failure the snapshot saw are requeued.
        let rest = redis.requeue_snapshot(&snapshot).await.unwrap();
        let mut expected: Vec<_> = snapshot[1..].iter().map(|job| job.id.clone()).collect();
        expected.sort();
        let mut rest_sorted = rest.clone();
        rest_sorted.sort();
        assert_eq!(
            rest_sorted, expected,
            "failure_ttl {failure_ttl}, RESP3 {resp3}"
        );
        assert_eq!(status(&server, &first[0]).as_deref(), Some("failed"));
        assert_eq!(server.command(&["LLEN", "rq:queue:default"]).int(), Some(2));
        assert_eq!(
            server.command(&["ZCARD", "rq:failed:default"]).int(),
            Some(1)
        );

        // And requeueing all of them now takes the one that is failed, once.
        let all = redis.requeue_all_failed(Some("default")).await.unwrap();
        assert_eq!(all, vec![first[0].clone()]);
        assert_eq!(
            redis.requeue_all_failed(None).await.unwrap(),
            Vec::<String>::new()
        );
    }
}

#[tokio::test]
async fn requeue_by_id_takes_failed_jobs_only_in_chunks() {
    // More ids than one script call takes.
    let (server, redis, worker, ids) = setup(1_200).await;
    fail_all(&redis, &worker, 1_000, 600).await;
    let requeued = redis.requeue_failed(&ids).await.unwrap();
    assert_eq!(requeued.len(), 1_000, "the 200 still queued are skipped");
    assert_eq!(
        server.command(&["LLEN", "rq:queue:default"]).int(),
        Some(1_200)
    );
    assert_eq!(
        server.command(&["ZCARD", "rq:failed:default"]).int(),
        Some(0)
    );
}
