//! Where capq reads its inputs and writes its outputs: local paths (plain or `file://`), S3
//! (`s3://bucket/prefix`, any S3-compatible endpoint) and read-only HTTP(S) folders.
//!
//! Everything above this crate names places with a [`Location`] and moves bytes with a
//! [`Storage`], so the same command line works against a laptop folder, a bucket or a web
//! server. Errors say which location failed and whether trying again could help
//! ([`StorageError::is_transient`]), which is what the worker needs to choose between a retry
//! and a permanent failure. [`RemoteDir`] adapts a remote folder to `capmetrics`' synchronous
//! [`capmetrics::DataSource`].

/// Which outputs a worker may write: an allow-list of location prefixes.
pub mod allow;
/// The one error type, with the transient/permanent split.
pub mod error;
/// HTTP(S) folders: reading files and directory listings.
mod http;
/// A day's inputs with their content hashes, and the data source that records them.
pub mod inputs;
/// Parsing directory listings served over HTTP (JSON arrays and HTML indexes).
mod listing;
/// Local files: atomic writes, reads and listings.
mod local;
/// Parsing, joining and printing locations.
pub mod location;
/// A `capmetrics::DataSource` over a remote folder, and choosing a source from a `--data` spec.
pub mod remote_dir;
/// S3 settings from `AWS_*` variables, clients per bucket, and error classification.
mod s3;
/// The `Storage` handle: one API over local, S3 and HTTP locations.
pub mod storage;

pub use allow::OutputAllowList;
pub use error::StorageError;
pub use inputs::{DayInputs, FileHash, HashingSource, Listing};
pub use location::Location;
pub use remote_dir::{RemoteDir, data_source};
pub use storage::{Entry, Staged, Stat, Storage};
