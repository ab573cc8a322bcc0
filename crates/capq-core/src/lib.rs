//! capq's processing core: what runs a day, independent of where the work comes from.
//!
//! Today it holds the embedded runner behind `capq run`; the queue's job model, task registry
//! and worker loop join it as the distributed side grows.

/// Running many days on this machine's threads, with no servers.
pub mod local;

pub use local::{DayReport, LocalRun, Outcome, RunReport};
