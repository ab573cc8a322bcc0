//! Queue order: the jobs one worker takes from one queue start in queue order, as RQ's do,
//! also when it claims short jobs ahead (prefetch) and long ones come between them.

use std::time::Duration;

use capq_test_support::RedisServer;

use super::enqueue_python;
use crate::queue::spawn_worker;

#[test]
fn one_worker_starts_a_queues_jobs_in_queue_order() {
    let redis = RedisServer::start();
    let effects_dir = tempfile::tempdir().unwrap();
    let effects = effects_dir.path().join("effects.log");
    let jobs = 600;
    // Quick jobs (which the worker claims in batches) and, every 40th, one that takes 50 ms.
    let calls = format!(
        "[('capq.append_line', ({:?}, f'job-{{i}}', 0.05 if i % 40 == 39 else 0)) for i in range({jobs})]",
        effects.display().to_string()
    );
    enqueue_python(&redis, "default", &calls, jobs);
    let mut worker = spawn_worker(
        &redis,
        None,
        &["--burst", "--concurrency", "1", "--test-tasks"],
    );
    assert!(
        worker.wait(Duration::from_secs(300)).success(),
        "{}",
        worker.log()
    );
    let log = std::fs::read_to_string(&effects).unwrap();
    let ran: Vec<&str> = log.lines().collect();
    let expected: Vec<String> = (0..jobs).map(|i| format!("job-{i}")).collect();
    let first_out_of_order = ran
        .iter()
        .zip(&expected)
        .position(|(ran, expected)| ran != expected);
    assert_eq!(
        first_out_of_order,
        None,
        "jobs ran out of queue order from position {first_out_of_order:?}: {:?}",
        &ran[first_out_of_order.unwrap_or(0)
            ..(first_out_of_order.unwrap_or(0) + 10).min(ran.len())]
    );
    assert_eq!(ran.len(), jobs);
}
