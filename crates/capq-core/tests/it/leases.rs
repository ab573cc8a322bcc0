//! Leases, heartbeats and the backend's faults: a long job keeps its lease, a worker cut off
//! for a whole lease hands its job back, answers lost on the way back (a stalled server) are
//! adopted rather than left to expire, and a worker waits for a backend it cannot reach yet.

use std::time::Duration;

use capq_core::memory::{Answers, Happened};

use super::{Bed, all, endings, until, until_task};

fn recoveries(bed: &Bed) -> usize {
    bed.broker
        .happened()
        .iter()
        .filter(|h| matches!(h, Happened::Recovered { .. }))
        .count()
}

#[tokio::test(start_paused = true)]
async fn heartbeats_keep_a_long_jobs_lease() {
    let mut bed = Bed::new();
    let id = bed.job("gate", "long", &[("timeout", "-1")]);
    bed.start(|c| {
        c.lease = Duration::from_secs(3);
        c.upkeep_every = Duration::from_secs(1);
    });
    until_task("the job to run", || bed.probe.has("running:long")).await;
    let started = tokio::time::Instant::now();
    until("ten leases to pass", || {
        started.elapsed() > Duration::from_secs(30)
    })
    .await;
    assert_eq!(bed.status(&id), "started");
    let record = bed.broker.worker("w").unwrap();
    assert!(
        record
            .current_job_working_time
            .is_some_and(|t| t >= Duration::from_secs(25)),
        "{record:?}"
    );
    bed.probe.open("long");
    until("the job to finish", || bed.status(&id) == "finished").await;
    assert_eq!(recoveries(&bed), 0);
    assert_eq!(endings(&bed, &id), ["finished"]);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_worker_cut_off_for_a_lease_hands_its_job_back() {
    let mut bed = Bed::new();
    let id = bed.job("gate", "cut", &[("timeout", "-1")]);
    bed.start(|c| {
        c.lease = Duration::from_secs(4);
        c.upkeep_every = Duration::from_secs(1);
    });
    until_task("the job to run", || bed.probe.has("running:cut")).await;
    bed.broker.set_unreachable(true);
    until("the worker to give the job up", || {
        bed.probe.has("cancelled:cut")
    })
    .await;
    bed.broker.set_unreachable(false);
    // Handed back or recovered, whichever the broker saw first; then it runs again.
    until("the job to run again", || {
        bed.probe.runs_of("cut").len() == 2
    })
    .await;
    bed.probe.open("cut");
    until("the job to finish", || bed.status(&id) == "finished").await;
    let job = bed.broker.job(&id).unwrap();
    assert_eq!(job.attempts, 2);
    assert_eq!(endings(&bed, &id).last(), Some(&"finished"));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_claim_whose_answer_was_lost_is_adopted_not_left_to_expire() {
    let mut bed = Bed::new();
    let ids: Vec<String> = (0..3)
        .map(|i| bed.job("record", &i.to_string(), &[]))
        .collect();
    bed.broker.lose_answers(Answers::Claims, 2);
    bed.start(|c| c.lease = Duration::from_secs(5));
    until("every job to finish", || all(&bed, &ids, "finished")).await;
    // Long past a lease: nothing was left leased to no one.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(recoveries(&bed), 0);
    assert_eq!(bed.broker.leased(), 0);
    for id in &ids {
        assert_eq!(bed.broker.job(id).unwrap().attempts, 1);
        assert_eq!(endings(&bed, id), ["finished"]);
    }
    assert_eq!(bed.probe.ran(), ["0", "1", "2"]);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_completion_whose_answer_was_lost_is_not_a_lost_lease() {
    let mut bed = Bed::new();
    let ids: Vec<String> = (0..3)
        .map(|i| bed.job("record", &i.to_string(), &[]))
        .collect();
    bed.broker.lose_answers(Answers::Completions, 2);
    bed.start(|_| {});
    until("every job to finish", || all(&bed, &ids, "finished")).await;
    let stats = bed.stop().await;
    assert_eq!((stats.finished, stats.lost), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn a_worker_waits_for_a_backend_it_cannot_reach_yet() {
    let mut bed = Bed::new();
    let id = bed.job("record", "late", &[]);
    bed.broker.set_unreachable(true);
    bed.start(|_| {});
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(bed.broker.worker("w").is_none());
    bed.broker.set_unreachable(false);
    until("the job to finish", || bed.status(&id) == "finished").await;
    bed.stop().await;

    // Told to stop while it still waits: it stops, having done nothing.
    let mut bed = Bed::new();
    bed.broker.set_unreachable(true);
    bed.start(|_| {});
    tokio::time::sleep(Duration::from_secs(10)).await;
    let stats = bed.stop().await;
    assert_eq!(stats, Default::default());
}
