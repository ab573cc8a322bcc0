//! The built-in tasks, one module each.

mod demo;
mod process_day;

use std::sync::Arc;

use crate::task::Task;

/// Every built-in task.
pub fn all() -> Vec<Arc<dyn Task>> {
    vec![
        Arc::new(process_day::ProcessDay),
        Arc::new(process_day::ProcessDayToS3),
        Arc::new(demo::Noop),
        Arc::new(demo::Sleep),
        Arc::new(demo::Fail),
        Arc::new(demo::Flaky),
        Arc::new(demo::AppendLine),
    ]
}
