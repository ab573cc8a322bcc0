//! What tasks run against: the worker's data source (with its metadata cache), the storage that
//! outputs go to, and a handle to the async runtime for blocking tasks that need I/O.

use capmetrics::{Catalog, DataSource};
use capq_storage::Storage;

/// A worker's environment, shared by all of its tasks.
pub struct TaskEnv {
    /// Days are read from here; metadata files are loaded once and kept.
    pub data: Catalog<Box<dyn DataSource>>,
    /// Outputs are written through this (local paths, `file://`, `s3://`).
    pub storage: Storage,
    /// For blocking tasks to run async I/O with `block_on`.
    pub runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for TaskEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskEnv")
            .field("data", &self.data.source().location())
            .finish_non_exhaustive()
    }
}
