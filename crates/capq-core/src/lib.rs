//! capq's processing core: the job model, the tasks, and the worker loop, independent of the
//! queue backend; plus the embedded runner behind `capq run`.

/// What the worker needs from a queue backend.
pub mod broker;
/// What tasks run against (data source, storage, runtime).
pub mod env;
/// A claimed job and its policies (timeout, retries, TTLs).
pub mod job;
/// Where outputs, versions and run records live in an output folder.
pub mod layout;
/// Running many days on this machine's threads, with no servers.
pub mod local;
/// A broker in this process's memory: the worker loop's test bed, and a one-machine broker.
pub mod memory;
/// A worker's vital signs for its health and metrics endpoints.
pub mod monitor;
/// A job's `data`: the call to make, decoded safely from pickle or JSON.
pub mod payload;
/// Version-pinned queues: routing a batch's jobs to workers of the build it was enqueued for.
pub mod pin;
/// The one day pipeline: process a day, store its output and partial.
pub mod pipeline;
/// Runs as records: manifests, day records, and what is up to date.
pub mod runs;
/// Aggregating processed days held in storage, and storing the aggregate folder.
pub mod stored_aggregate;
/// The task registry and argument binding.
pub mod task;
/// The built-in tasks.
pub mod tasks;
/// RQ's timestamp formats.
pub mod time;
/// The worker loop.
pub mod worker;

pub use local::{DayReport, LocalRun, Outcome as DayOutcome, RunReport};
pub use pipeline::{DayError, Pipeline, Target};
