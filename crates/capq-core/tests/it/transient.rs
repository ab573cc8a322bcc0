//! Transient failures (a storage server refusing connections): the worker runs the task
//! again, with a doubling backoff, within the job's timeout, before it counts a failure.

use std::time::Duration;

use capq_core::worker::TRANSIENT_FIRST_DELAY;
use capq_pickle::Value;

use super::{Bed, endings, last_error, until};

#[tokio::test(start_paused = true)]
async fn a_transient_failure_is_tried_again_with_backoff_and_the_job_finishes() {
    let mut bed = Bed::new();
    let id = bed.enqueue(
        "test.transient",
        vec![Value::Str("t".into()), Value::Int(4)],
        &[],
    );
    bed.start(|_| {});
    until("the job to finish", || bed.status(&id) == "finished").await;
    let runs = bed.probe.runs_of("t");
    assert_eq!(runs.len(), 5, "four failures, then the success");
    let gaps: Vec<Duration> = runs.windows(2).map(|w| w[1] - w[0]).collect();
    for (k, gap) in gaps.iter().enumerate() {
        let nominal = TRANSIENT_FIRST_DELAY * 2u32.pow(k as u32);
        assert!(
            *gap >= nominal.mul_f64(0.75) && *gap <= nominal.mul_f64(1.25),
            "wait {k} was {gap:?}, expected about {nominal:?}: {gaps:?}"
        );
    }
    // One attempt as the queue sees it: tried again inside it, recorded once.
    let job = bed.broker.job(&id).unwrap();
    assert_eq!((job.attempts, endings(&bed, &id)), (1, vec!["finished"]));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn transient_failures_stop_being_retried_within_the_timeout() {
    let mut bed = Bed::new();
    let id = bed.enqueue(
        "test.transient",
        vec![Value::Str("down".into()), Value::Int(1_000)],
        &[("timeout", "5")],
    );
    let next = bed.job("record", "next", &[]);
    bed.start(|_| {});
    until("the job to fail", || bed.status(&id) == "failed").await;
    let runs = bed.probe.runs_of("down");
    let span = *runs.last().unwrap() - runs[0];
    assert!(runs.len() >= 4, "{} runs", runs.len());
    assert!(span <= Duration::from_secs(5), "runs spread over {span:?}");
    let error = last_error(&bed, &id);
    assert!(
        error.contains("down: connection refused")
            && error.contains(&format!("tried {} times", runs.len())),
        "{error}"
    );
    assert_eq!(endings(&bed, &id), ["failed"]);
    until("the next job to finish", || bed.status(&next) == "finished").await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stop_request_ends_the_backoff() {
    let mut bed = Bed::new();
    let id = bed.enqueue(
        "test.transient",
        vec![Value::Str("s".into()), Value::Int(1_000)],
        &[],
    );
    bed.start(|_| {});
    until("a second run", || bed.probe.runs_of("s").len() >= 2).await;
    until("the worker to listen", || {
        bed.broker
            .send("w", capq_core::broker::WorkerCommand::StopJob(id.clone()))
    })
    .await;
    until("the job to be stopped", || bed.status(&id) == "stopped").await;
    bed.stop().await;
}
