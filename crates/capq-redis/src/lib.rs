//! capq's Redis broker: the only crate that speaks Redis. It keeps RQ 2.x's key layout, so
//! Python `rq` clients, `rq info` and rq-dashboard work with it, and makes every change to a
//! job one Lua script (`src/lua/`) or one `MULTI`, so no crash can leave a job half-moved.

/// Operator actions: requeue, delete, suspend, resume, empty.
mod admin;
/// The worker's side: claim, heartbeat, complete.
mod broker;
/// The connection.
mod client;
/// The dashboard's reads and actions: batches, throughput, statistics, pages, cancelling.
pub mod dashboard;
/// A job's dependencies as the task that runs it reads them.
mod dependencies;
/// Enqueueing jobs and batches.
pub mod enqueue;
/// The crate's error type.
mod error;
/// Every key name, in one table.
pub mod keys;
/// Reading queues, workers and jobs.
pub mod queries;
/// The Lua scripts.
mod scripts;
/// Pinned queues whose jobs no live worker can run.
pub mod stranded;

pub use admin::FailedJob;
pub use client::{Redis, redact};
pub use dashboard::{
    BatchDay, BatchInfo, CancelOutcome, DepthSample, FleetStats, JobPage, MinuteCounts, PageEntry,
};
pub use enqueue::{Batch, NewJob};
pub use error::{Error, Result};
pub use queries::{JobInfo, QueueCounts, Registry, ResultEntry, WorkerInfo};
pub use stranded::{StrandedQueue, stranded_queues};
