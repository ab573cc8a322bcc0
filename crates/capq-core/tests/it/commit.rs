//! Timeouts against the commit gate: a job's ending and its output agree. A timeout while the
//! output is being stored waits for the store (the job finishes); a timeout before it makes the
//! store refuse (the job fails, nothing is stored).

use std::time::Duration;

use capq_core::memory::Happened;

use super::{Bed, endings, last_error, until, until_task};

#[tokio::test(start_paused = true)]
async fn a_timeout_during_the_store_waits_and_the_job_finishes() {
    let mut bed = Bed::new();
    let id = bed.job("store", "s", &[("timeout", "2")]);
    bed.start(|_| {});
    until_task("the job to run", || bed.probe.has("running:s")).await;
    let started = tokio::time::Instant::now();
    bed.probe.open("s");
    until_task("the store step to begin", || bed.probe.has("committing:s")).await;
    until("the deadline to pass", || {
        started.elapsed() > Duration::from_secs(4)
    })
    .await;
    assert_eq!(bed.status(&id), "started", "still storing: not timed out");
    bed.probe.open("s-store");
    until("the job to end", || bed.status(&id) != "started").await;
    assert_eq!(bed.status(&id), "finished");
    assert!(bed.probe.has("stored:s"));
    assert_eq!(endings(&bed, &id), ["finished"]);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_timeout_before_the_store_fails_the_job_and_nothing_is_stored() {
    let mut bed = Bed::new();
    let id = bed.job("store", "t", &[("timeout", "2")]);
    let next = bed.job("record", "next", &[]);
    bed.start(|c| c.concurrency = 1);
    until_task("the job to run", || bed.probe.has("running:t")).await;
    until("the job to time out", || bed.status(&id) == "failed").await;
    assert_eq!(last_error(&bed, &id), "timed out after 2 s");
    // Its slot is free at once, though its thread still computes.
    until("the next job to finish", || bed.status(&next) == "finished").await;
    // The computation ends and reaches its store step, which refuses.
    bed.probe.open("t");
    bed.probe.open("t-store");
    until_task("the commit to refuse", || bed.probe.has("refused:t")).await;
    assert!(!bed.probe.has("committing:t") && !bed.probe.has("stored:t"));
    assert_eq!(endings(&bed, &id), ["failed"]);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_timeout_cancels_a_running_job_and_frees_its_slot() {
    let mut bed = Bed::new();
    let id = bed.job("gate", "g", &[("timeout", "3")]);
    bed.start(|_| {});
    until_task("the job to run", || bed.probe.has("running:g")).await;
    until("the job to time out", || bed.status(&id) == "failed").await;
    let at = |wanted: &str| {
        bed.broker
            .happened()
            .into_iter()
            .find_map(|h| match h {
                Happened::Started { id: job, at } if wanted == "start" && job == id => Some(at),
                Happened::Ended { id: job, at, .. } if wanted == "end" && job == id => Some(at),
                _ => None,
            })
            .unwrap()
    };
    let took = at("end") - at("start");
    assert!(
        took >= Duration::from_secs(3) - Duration::from_millis(10) && took < Duration::from_secs(4),
        "timed out after {took:?}"
    );
    assert_eq!(last_error(&bed, &id), "timed out after 3 s");
    until_task("the task to see its cancellation", || {
        bed.probe.has("cancelled:g")
    })
    .await;
    bed.stop().await;
}
