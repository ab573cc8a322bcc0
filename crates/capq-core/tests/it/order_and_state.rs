//! Queue order and the worker's record: jobs start in queue order whatever the prefetching,
//! and the record reads `idle` with no current job whenever nothing runs.

use std::time::Duration;

use capq_core::broker::WorkerCommand;

use super::{Bed, all, endings, step, until, until_real, until_task};

/// Jobs claimed ahead (the worker prefetches short ones in batches) start in queue order, on
/// tokio's multi-threaded runtime, whose scheduler runs the task spawned last first (it is
/// what made prefetched jobs start out of order). One slot, so starting order is running order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_start_in_queue_order_with_prefetch() {
    let mut bed = Bed::new();
    bed.paused = false;
    let ids: Vec<String> = (0..500)
        .map(|i| bed.job("record", &i.to_string(), &[]))
        .collect();
    bed.start(|c| c.concurrency = 1);
    until_real("every job to finish", || all(&bed, &ids, "finished")).await;
    let expected: Vec<String> = (0..500).map(|i| i.to_string()).collect();
    assert_eq!(bed.probe.ran(), expected);
    assert!(
        bed.broker.claim_calls() < 100,
        "short jobs are claimed in batches: {} claims",
        bed.broker.claim_calls()
    );
    bed.stop().await;
}

/// With several slots, jobs are handed their slots in queue order too (tasks spawned on the
/// current-thread runtime run in the order they were spawned, so the order they ran in is the
/// order the worker started them), also when long jobs hold some slots. The long jobs note
/// their start on their blocking thread, which starts when it will, so only the quick jobs'
/// order is compared.
#[tokio::test(start_paused = true)]
async fn several_slots_are_handed_out_in_queue_order() {
    let mut bed = Bed::new();
    let mut ids = Vec::new();
    let mut expected = Vec::new();
    for i in 0..300 {
        let label = i.to_string();
        if i % 50 == 10 {
            ids.push(bed.job("gate", &label, &[]));
        } else {
            ids.push(bed.job("record", &label, &[]));
            expected.push(label);
        }
    }
    bed.start(|c| c.concurrency = 3);
    until("every job to finish", || {
        for i in (10..300).step_by(50) {
            if bed.probe.has(&format!("running:{i}")) {
                bed.probe.open(&i.to_string());
            }
        }
        all(&bed, &ids, "finished")
    })
    .await;
    let quick: Vec<String> = bed
        .probe
        .ran()
        .into_iter()
        .filter(|label| expected.contains(label))
        .collect();
    assert_eq!(quick, expected);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_worker_with_nothing_running_reads_idle() {
    let mut bed = Bed::new();
    bed.start(|c| c.concurrency = 2);
    until("the worker to register", || {
        bed.broker.worker("w").is_some()
    })
    .await;
    let record = bed.broker.worker("w").unwrap();
    assert_eq!((record.state.as_str(), record.current_job), ("idle", None));

    // A long job, then a short one claimed while it runs and ending first.
    let long = bed.job("gate", "long", &[]);
    until_task("the long job to run", || bed.probe.has("running:long")).await;
    let short = bed.job("record", "short", &[]);
    until("the short job to finish", || {
        bed.status(&short) == "finished"
    })
    .await;
    let record = bed.broker.worker("w").unwrap();
    assert_eq!(
        (record.state.as_str(), record.current_job.as_deref()),
        ("busy", Some(long.as_str())),
        "the job still running"
    );
    bed.probe.open("long");
    until("the long job to finish", || bed.status(&long) == "finished").await;
    // Recorded with the ending, in the same call: idle at once.
    let record = bed.broker.worker("w").unwrap();
    assert_eq!((record.state.as_str(), record.current_job), ("idle", None));
    // And heartbeats keep it so.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let record = bed.broker.worker("w").unwrap();
    assert_eq!((record.state.as_str(), record.current_job), ("idle", None));
    assert_eq!((record.finished, record.failed), (2, 0));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stop_request_stops_the_running_job_and_the_worker_goes_on() {
    let mut bed = Bed::new();
    let stopped = bed.job("gate", "stopped", &[]);
    let next = bed.job("record", "next", &[]);
    bed.start(|_| {});
    until_task("the job to run", || bed.probe.has("running:stopped")).await;
    until("the worker to listen", || {
        bed.broker
            .send("w", WorkerCommand::StopJob(stopped.clone()))
    })
    .await;
    until("the job to be stopped", || {
        bed.status(&stopped) == "stopped"
    })
    .await;
    until("the next job to finish", || bed.status(&next) == "finished").await;
    until_task("the cancelled task to return", || {
        bed.probe.has("cancelled:stopped")
    })
    .await;
    assert_eq!(endings(&bed, &stopped), ["stopped"]);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn at_shutdown_prefetched_jobs_go_back_in_order_and_the_running_one_finishes() {
    let mut bed = Bed::new();
    // Quick jobs first, so the worker learns to claim ahead; then a long one and more quick
    // ones, claimed with it and waiting for its slot.
    let warm: Vec<String> = (0..5)
        .map(|i| bed.job("record", &format!("w{i}"), &[]))
        .collect();
    let long = bed.job("gate", "long", &[]);
    let waiting: Vec<String> = (0..10)
        .map(|i| bed.job("record", &format!("q{i}"), &[]))
        .collect();
    bed.start(|c| c.concurrency = 1);
    until_task("the long job to run", || bed.probe.has("running:long")).await;
    assert!(all(&bed, &warm, "finished"));
    assert!(
        bed.broker.queued("default").is_empty() && bed.broker.leased() == 11,
        "the quick jobs were claimed ahead: {} leased",
        bed.broker.leased()
    );
    let _ = bed.stop.send(true);
    until("the prefetched jobs to go back", || {
        bed.broker.queued("default") == waiting
    })
    .await;
    assert!(all(&bed, &waiting, "queued"));
    bed.probe.open("long");
    let stats = bed.stop().await;
    assert_eq!(bed.status(&long), "finished");
    assert_eq!((stats.finished, stats.requeued), (6, 10));
    assert_eq!(bed.broker.leased(), 0);
}

#[tokio::test(start_paused = true)]
async fn past_the_grace_period_the_running_job_goes_back() {
    let mut bed = Bed::new();
    let long = bed.job("gate", "long", &[]);
    bed.start(|c| c.grace = Duration::from_secs(1));
    until_task("the job to run", || bed.probe.has("running:long")).await;
    let stats = bed.stop().await;
    assert_eq!(bed.status(&long), "queued");
    assert_eq!(bed.broker.queued("default"), std::slice::from_ref(&long));
    assert_eq!(endings(&bed, &long), ["requeued"]);
    assert_eq!(stats.requeued, 1);
    until_task("the cancelled task to return", || {
        bed.probe.has("cancelled:long")
    })
    .await;
    step().await;
}
