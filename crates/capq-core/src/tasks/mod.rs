//! The built-in tasks, one module each: day processing and harmless demos for every worker,
//! plus tasks with side effects that only test suites switch on.

pub mod aggregate;
mod demo;
mod process_day;
mod test_only;

use std::sync::Arc;

use crate::task::Task;

/// Every task a worker runs: `capq.process_day`, `tasks.process_day_to_s3`, `capq.aggregate`,
/// and the demos `capq.noop`, `capq.sleep` and `capq.fail`.
pub fn all() -> Vec<Arc<dyn Task>> {
    vec![
        Arc::new(aggregate::Aggregate),
        Arc::new(process_day::ProcessDay),
        Arc::new(process_day::ProcessDayToS3),
        Arc::new(demo::Noop),
        Arc::new(demo::Sleep),
        Arc::new(demo::Fail),
    ]
}

/// The test-only tasks, `capq.flaky` and `capq.append_line`, which a worker adds to its
/// registry only when told to (`capq worker --test-tasks`): `capq.append_line` appends to any
/// file the worker can write.
pub fn test_only() -> Vec<Arc<dyn Task>> {
    vec![Arc::new(test_only::Flaky), Arc::new(test_only::AppendLine)]
}
