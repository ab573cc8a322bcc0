//! What tasks run against: the worker's data source (with its metadata cache), the storage that
//! outputs go to, a handle to the async runtime for blocking tasks that need I/O, and a read-only
//! view of other jobs' records for tasks that depend on other jobs.

use std::sync::Arc;

use capmetrics::DataSource;
use capq_storage::Storage;
use futures::future::BoxFuture;

use crate::payload::Call;

use crate::pipeline::{DataCatalog, Pipeline};

/// A worker's environment, shared by all of its tasks.
pub struct TaskEnv {
    /// Days are read from here (each file's content hash recorded); metadata files are loaded
    /// once and kept.
    pub data: DataCatalog,
    /// Outputs are written through this (local paths, `file://`, `s3://`).
    pub storage: Storage,
    /// For blocking tasks to run async I/O with `block_on`.
    pub runtime: tokio::runtime::Handle,
    /// Other jobs' records (the queue backend's), when the worker has a queue behind it.
    pub jobs: Option<Arc<dyn JobRecords>>,
}

impl TaskEnv {
    /// The day pipeline over this environment's data and storage.
    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            catalog: &self.data,
            storage: &self.storage,
            runtime: &self.runtime,
        }
    }
}

impl std::fmt::Debug for TaskEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskEnv")
            .field("data", &self.data.source().location())
            .field("jobs", &self.jobs.is_some())
            .finish_non_exhaustive()
    }
}

/// Another job as a task that depends on it sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: String,
    /// `None` when the record is gone: a finished job's record expires after its result TTL.
    pub status: Option<String>,
    /// The job's call, when the record is there and its data decodes.
    pub call: Option<Call>,
}

/// Reads other jobs' records, for a task that depends on them: the batch's aggregate job lists
/// the days whose jobs failed.
pub trait JobRecords: Send + Sync {
    /// The jobs `job_id` depends on (RQ's `rq:job::<id>:dependencies`), each as it stands now.
    fn dependencies<'a>(&'a self, job_id: &'a str)
    -> BoxFuture<'a, Result<Vec<JobRecord>, String>>;
}
