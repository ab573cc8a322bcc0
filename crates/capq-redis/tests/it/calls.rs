//! Calls sent again: a claim or a completion that the worker gave up on (a stalled Redis runs
//! it late) is sent again under the same call id, and whichever run comes second answers what
//! the first did, changing nothing. Also what the worker's record shows: only the completion
//! call writes its state, from what the worker says it runs.

use std::time::Duration;

use capq_core::broker::{Broker, Claim, ClaimCall, Ending, Lease};
use capq_redis::NewJob;

use super::{blocked_clients, call, completion, noop, setup, status};

fn jobs(claim: Claim) -> Vec<capq_core::broker::Claimed> {
    match claim {
        Claim::Jobs(jobs) => jobs,
        other => panic!("expected jobs, got {other:?}"),
    }
}

fn field(server: &capq_test_support::RedisServer, key: &str, field: &str) -> Option<String> {
    server.command(&["HGET", key, field]).text()
}

#[tokio::test]
async fn a_claim_sent_again_answers_what_it_took_and_takes_nothing_more() {
    let (server, redis, worker, ids) = setup(5).await;
    let lease = Duration::from_secs(60);
    let call = ClaimCall::new();
    let first = jobs(redis.claim(&worker, &call, 2, 1, lease).await.unwrap());
    assert_eq!(
        first.iter().map(|j| &j.id).collect::<Vec<_>>(),
        [&ids[0], &ids[1]]
    );
    let again = ClaimCall {
        retry: true,
        ..call.clone()
    };
    let second = jobs(redis.claim(&worker, &again, 2, 1, lease).await.unwrap());
    assert_eq!(
        second
            .iter()
            .map(|j| (&j.id, &j.execution_id, &j.queue))
            .collect::<Vec<_>>(),
        first
            .iter()
            .map(|j| (&j.id, &j.execution_id, &j.queue))
            .collect::<Vec<_>>(),
        "the same jobs under the same leases"
    );
    // The runs they had before the claim, as the first answer said (none).
    for job in &second {
        let attempts = job
            .fields
            .iter()
            .find(|(k, _)| k == "capq_attempts")
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
        assert!(
            matches!(attempts.as_deref(), None | Some("0")),
            "{attempts:?}"
        );
    }
    assert_eq!(server.command(&["LLEN", "rq:queue:default"]).int(), Some(3));
    assert_eq!(server.command(&["ZCARD", "rq:wip:default"]).int(), Some(2));
    // A job recovered meanwhile is no longer ours: not answered again.
    let member = format!("{}:{}", ids[1], first[1].execution_id);
    server.command(&["ZREM", "rq:wip:default", &member]);
    let third = jobs(redis.claim(&worker, &again, 2, 1, lease).await.unwrap());
    assert_eq!(third.len(), 1);
    // Another call claims afresh.
    let other = jobs(
        redis
            .claim(&worker, &ClaimCall::new(), 2, 2, lease)
            .await
            .unwrap(),
    );
    assert_eq!(
        other.iter().map(|j| &j.id).collect::<Vec<_>>(),
        [&ids[2], &ids[3]]
    );
}

#[tokio::test]
async fn a_late_first_run_of_a_claim_takes_nothing() {
    let (server, redis, worker, _ids) = setup(3).await;
    let lease = Duration::from_secs(60);
    let call = ClaimCall {
        retry: true,
        ..ClaimCall::new()
    };
    // The send the worker made when it gave up (nothing to take: max 0) runs first ...
    assert!(matches!(
        redis.claim(&worker, &call, 0, 0, lease).await.unwrap(),
        Claim::Empty
    ));
    // ... and the first send, stalled until now, runs after it: it finds the record.
    assert!(matches!(
        redis.claim(&worker, &call, 3, 3, lease).await.unwrap(),
        Claim::Empty
    ));
    assert_eq!(server.command(&["LLEN", "rq:queue:default"]).int(), Some(3));
    assert_eq!(server.command(&["ZCARD", "rq:wip:default"]).int(), Some(0));
}

#[tokio::test]
async fn a_completion_sent_again_answers_as_the_first_and_records_nothing_twice() {
    let (server, redis, worker, ids) = setup(1).await;
    let claimed = jobs(
        redis
            .claim(&worker, &ClaimCall::new(), 1, 1, Duration::from_secs(60))
            .await
            .unwrap(),
    );
    let done = [completion(
        &claimed[0],
        Ending::Finished { return_value: None },
    )];
    let id = call();
    assert_eq!(
        redis
            .complete(&worker, &id, &[], &done, None)
            .await
            .unwrap(),
        [true]
    );
    assert_eq!(
        redis
            .complete(&worker, &id, &[], &done, None)
            .await
            .unwrap(),
        [true],
        "not `lease lost`: it was this call that recorded it"
    );
    assert_eq!(
        server
            .command(&["XLEN", &format!("rq:results:{}", ids[0])])
            .int(),
        Some(1)
    );
    assert_eq!(
        field(&server, "rq:worker:w1", "successful_job_count").as_deref(),
        Some("1")
    );
    assert_eq!(
        field(&server, "capq:stats:totals", "finished").as_deref(),
        Some("1")
    );
    // A different call with the same completion is refused: the lease is gone.
    assert_eq!(
        redis
            .complete(&worker, &call(), &[], &done, None)
            .await
            .unwrap(),
        [false]
    );
}

#[tokio::test]
async fn the_worker_record_shows_what_the_last_completion_call_said() {
    let (server, redis, worker, ids) = setup(2).await;
    let key = "rq:worker:w1";
    assert_eq!(
        field(&server, key, "state").as_deref(),
        Some("idle"),
        "a new worker"
    );
    let claimed = jobs(
        redis
            .claim(&worker, &ClaimCall::new(), 2, 2, Duration::from_secs(60))
            .await
            .unwrap(),
    );
    redis
        .complete(&worker, &call(), &[], &[], Some(&ids[0]))
        .await
        .unwrap();
    assert_eq!(field(&server, key, "state").as_deref(), Some("busy"));
    assert_eq!(field(&server, key, "current_job"), Some(ids[0].clone()));
    // A heartbeat updates the current job's working time, and never the job shown.
    let leases: Vec<Lease> = claimed
        .iter()
        .map(|j| Lease {
            id: j.id.clone(),
            queue: j.queue.clone(),
            execution_id: j.execution_id.clone(),
        })
        .collect();
    redis
        .heartbeat(
            &worker,
            &leases,
            Duration::from_secs(60),
            Some((&ids[0], Duration::from_secs(2))),
        )
        .await
        .unwrap();
    assert_eq!(
        field(&server, key, "current_job_working_time").as_deref(),
        Some("2.000")
    );
    redis
        .heartbeat(
            &worker,
            &leases,
            Duration::from_secs(60),
            Some((&ids[1], Duration::from_secs(3))),
        )
        .await
        .unwrap();
    assert_eq!(field(&server, key, "current_job"), Some(ids[0].clone()));
    // The first job ends; the second still runs: the record shows it.
    let first = [completion(
        &claimed[0],
        Ending::Finished { return_value: None },
    )];
    redis
        .complete(&worker, &call(), &[], &first, Some(&ids[1]))
        .await
        .unwrap();
    assert_eq!(field(&server, key, "current_job"), Some(ids[1].clone()));
    assert_eq!(field(&server, key, "current_job_working_time"), None);
    let second = [completion(
        &claimed[1],
        Ending::Finished { return_value: None },
    )];
    redis
        .complete(&worker, &call(), &[], &second, None)
        .await
        .unwrap();
    assert_eq!(field(&server, key, "state").as_deref(), Some("idle"));
    assert_eq!(field(&server, key, "current_job"), None);
    // A worker whose record Redis lost gets no half record from a completion.
    server.command(&["DEL", key]);
    redis
        .complete(&worker, &call(), &[], &[], None)
        .await
        .unwrap();
    assert_eq!(server.command(&["EXISTS", key]).int(), Some(0));
}

#[tokio::test]
async fn a_wait_sent_again_answers_what_it_took() {
    let (server, redis, worker, _) = setup(0).await;
    let lease = Duration::from_secs(60);
    let id = redis
        .enqueue(&[NewJob::new("default", noop())], None)
        .await
        .unwrap()
        .remove(0);
    let call = ClaimCall::new();
    let first = jobs(
        redis
            .wait_and_claim(&worker, &call, lease, Duration::from_secs(5))
            .await
            .unwrap(),
    );
    assert_eq!(first[0].id, id);
    assert_eq!(status(&server, &id).as_deref(), Some("started"));
    let again = ClaimCall {
        retry: true,
        ..call
    };
    let second = jobs(
        redis
            .wait_and_claim(&worker, &again, lease, Duration::ZERO)
            .await
            .unwrap(),
    );
    assert_eq!(
        (&second[0].id, &second[0].execution_id),
        (&first[0].id, &first[0].execution_id)
    );
    assert_eq!(server.command(&["ZCARD", "rq:wip:default"]).int(), Some(1));
    // Sent again with nothing to answer and no time to wait: empty at once.
    let fresh = ClaimCall {
        retry: true,
        ..ClaimCall::new()
    };
    assert!(matches!(
        redis
            .wait_and_claim(&worker, &fresh, lease, Duration::ZERO)
            .await
            .unwrap(),
        Claim::Empty
    ));
}

#[tokio::test]
async fn an_abandoned_wait_moves_nothing() {
    let (server, redis, worker, _) = setup(0).await;
    let waiting = {
        let (redis, worker) = (redis.clone(), worker.clone());
        tokio::spawn(async move {
            redis
                .wait_and_claim(
                    &worker,
                    &ClaimCall::new(),
                    Duration::from_secs(60),
                    Duration::from_secs(30),
                )
                .await
        })
    };
    blocked_clients(&server, 1, "the wait to block").await;
    waiting.abort();
    blocked_clients(&server, 0, "the abandoned wait to leave Redis").await;
    let id = redis
        .enqueue(&[NewJob::new("default", noop())], None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        server
            .command(&["LRANGE", "rq:queue:default", "0", "-1"])
            .strings(),
        [id]
    );
    assert_eq!(server.command(&["LLEN", "capq:handoff:w1"]).int(), Some(0));
}
